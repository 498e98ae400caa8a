//! `[[database]]`: one PostgreSQL database, named, taking any `[postgres]` key to override it.
//! Its keys and raw form.

use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table, postgres};

pub static TABLE: Table = Table {
    title: "[[database]]",
    doc: "overriding it for this database (also `[database.audit]`, `[database.settings]`)",
    keys: &[Key {
        name: "name",
        kind: Kind::Str(Format::Label),
        required: Required::Yes,
        default: Default::None,
        doc: "DNS-1123 label, at most 48 characters (`<name>-db-credentials` must fit 63)",
        example: "\"auth\"",
    }],
    inherits: Some(&postgres::TABLE),
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawDatabase {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub settings: postgres::RawPostgres,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawDatabase {
    RawDatabase {
        span: t.span.clone(),
        name: t.string("name"),
        settings: postgres::read(t),
    }
}
