//! `[environments.E]`, `[environments.E.database.NAME]`, `[environments.E.cache]`: what an
//! environment (one overlay) may change, where and how big a workload runs, never what it is.
//! Its keys and raw form.

use super::{Default, Fields, Key, Kind, Required, Sp, Span, Table, cache, postgres, resources};

/// A workload key as an environment overrides it: optional, defaulting to the workload's value.
const fn placement(key: Key) -> Key {
    Key {
        required: Required::No,
        default: Default::Described("the workload's"),
        ..key
    }
}

pub static TABLE: Table = Table {
    title: "[environments.E]",
    doc: "for every database in E",
    keys: &[
        placement(postgres::IMAGE),
        placement(postgres::STORAGE),
        placement(postgres::STORAGE_CLASS),
        placement(resources::key(&postgres::RESOURCES)),
        Key {
            name: "database",
            kind: Kind::Named(&DATABASE),
            required: Required::No,
            default: Default::None,
            doc: "one table per database, by name",
            example: "",
        },
        Key {
            name: "cache",
            kind: Kind::Table(&CACHE),
            required: Required::No,
            default: Default::None,
            doc: "the cache in this environment",
            example: "",
        },
    ],
    inherits: None,
    inline: false,
};

pub static DATABASE: Table = Table {
    title: "[environments.E.database.NAME]",
    doc: "for one database",
    keys: &[
        placement(postgres::IMAGE),
        placement(postgres::STORAGE),
        placement(postgres::STORAGE_CLASS),
        placement(resources::key(&postgres::RESOURCES)),
    ],
    inherits: None,
    inline: false,
};

pub static CACHE: Table = Table {
    title: "[environments.E.cache]",
    doc: "for the cache",
    keys: &[
        placement(cache::IMAGE),
        placement(cache::STORAGE),
        placement(postgres::STORAGE_CLASS),
        placement(resources::key(&cache::RESOURCES)),
    ],
    inherits: None,
    inline: false,
};

/// `[environments.NAME]` with its per-database and cache overrides.
#[derive(Clone, Debug, Default)]
pub struct RawEnvironment {
    pub name: Sp<String>,
    pub defaults: RawPlacement,
    pub databases: Vec<(Sp<String>, RawPlacement)>,
    pub cache: Option<RawPlacement>,
}

/// What an environment may change: where and how big a workload runs, never what it is.
#[derive(Clone, Debug, Default)]
pub struct RawPlacement {
    pub span: Span,
    pub image: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub resources: Option<resources::RawResources>,
}

pub fn read(name: Sp<String>, env: &mut Fields<'_, '_, '_>) -> RawEnvironment {
    RawEnvironment {
        name,
        defaults: placement_keys(env),
        databases: env
            .table("database", |dbs| {
                dbs.each_table(|name, db| (name, placement_keys(db)))
            })
            .unwrap_or_default(),
        cache: env.table("cache", placement_keys),
    }
}

fn placement_keys(t: &mut Fields<'_, '_, '_>) -> RawPlacement {
    RawPlacement {
        span: t.span.clone(),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        resources: t.table("resources", resources::read),
    }
}
