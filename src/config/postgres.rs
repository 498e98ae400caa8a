//! `[postgres]`: what every database shares unless its `[[database]]` says otherwise (version,
//! image, storage, extensions, resources, `[postgres.audit]`, `[postgres.settings]`). Its keys,
//! their docs and defaults, and the raw form. Its checks are `database`'s, which layers every
//! database over it.

use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table, resources};
use crate::model::{LogStatement, PgVersion};

/// Resource defaults of a database: (request cpu, request memory, limit cpu, limit memory).
pub const RESOURCES: [&str; 4] = ["100m", "256Mi", "1", "512Mi"];
pub const LOG_STATEMENT: &str = "ddl";
pub const LOG_MIN_DURATION: &str = "500ms";

pub const IMAGE: Key = Key {
    name: "image",
    kind: Kind::Str(Format::Image),
    required: Required::Layered,
    default: Default::None,
    doc: "`name:tag` (not `latest`) or `name@sha256:...`; a tag of another major version is a warning",
    example: "\"postgres:17.2-alpine\"",
};

pub const STORAGE: Key = Key {
    name: "storage",
    kind: Kind::Str(Format::Quantity),
    required: Required::Layered,
    default: Default::None,
    doc: "Kubernetes quantity of the data volume (`2Gi`)",
    example: "\"2Gi\"",
};

pub const STORAGE_CLASS: Key = Key {
    name: "storage_class",
    kind: Kind::Str(Format::Domain),
    required: Required::No,
    default: Default::Described("cluster default"),
    doc: "StorageClass of the data volume",
    example: "\"standard\"",
};

pub static TABLE: Table = Table {
    title: "[postgres]",
    doc: "defaults every database shares",
    keys: &[
        Key {
            name: "version",
            kind: Kind::Integer(PgVersion::SUPPORTED),
            required: Required::Layered,
            default: Default::None,
            doc: "PostgreSQL major version, 13 to 18; decides which settings are legal",
            example: "17",
        },
        IMAGE,
        STORAGE,
        STORAGE_CLASS,
        Key {
            name: "extensions",
            kind: Kind::List(Format::Extension),
            required: Required::No,
            default: Default::EmptyList,
            doc: "created at every start of the database (also in a running one, see Output layout); names outside the version's contrib set warn",
            example: "[\"pgcrypto\"]",
        },
        resources::key(&RESOURCES),
        Key {
            name: "audit",
            kind: Kind::Table(&AUDIT),
            required: Required::No,
            default: Default::None,
            doc: "what the server log records",
            example: "",
        },
        Key {
            name: "settings",
            kind: Kind::Settings,
            required: Required::No,
            default: Default::None,
            doc: "extra postgresql.conf settings, checked against the declared version; settings bakeryc manages (TLS, listen, auth, audit) are refused",
            example: "",
        },
    ],
    inherits: None,
    inline: false,
};

pub static AUDIT: Table = Table {
    title: "[postgres.audit]",
    doc: "what the server log records",
    keys: &[
        Key {
            name: "log_connections",
            kind: Kind::Bool,
            required: Required::No,
            default: Default::Bool(true),
            doc: "log every connection",
            example: "true",
        },
        Key {
            name: "log_disconnections",
            kind: Kind::Bool,
            required: Required::No,
            default: Default::Bool(true),
            doc: "log every disconnection with the session's duration",
            example: "true",
        },
        Key {
            name: "log_statement",
            kind: Kind::Str(Format::Choice(LogStatement::NAMES)),
            required: Required::No,
            default: Default::Str(LOG_STATEMENT),
            doc: "`none`, `ddl`, `mod`, `all` (`all` warns: it logs passwords)",
            example: "\"ddl\"",
        },
        Key {
            name: "log_min_duration",
            kind: Kind::Str(Format::DurationOrOff),
            required: Required::No,
            default: Default::Str(LOG_MIN_DURATION),
            doc: "statements at least this slow are logged with their duration; `off` disables",
            example: "\"500ms\"",
        },
    ],
    inherits: None,
    inline: false,
};

/// Keys shared by `[postgres]` and each `[[database]]`.
#[derive(Clone, Debug, Default)]
pub struct RawPostgres {
    pub span: Span,
    pub version: Option<Sp<i64>>,
    pub image: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub extensions: Option<Sp<Vec<Sp<String>>>>,
    pub resources: Option<resources::RawResources>,
    pub audit: Option<RawAudit>,
    pub settings: Option<Sp<Vec<RawSetting>>>,
}

/// One `[postgres.settings]` entry: name and value as written.
pub type RawSetting = (Sp<String>, Sp<SettingValue>);

/// A value in `[postgres.settings]`, as TOML typed it.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingValue {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Clone, Debug, Default)]
pub struct RawAudit {
    pub span: Span,
    pub log_connections: Option<Sp<bool>>,
    pub log_disconnections: Option<Sp<bool>>,
    pub log_statement: Option<Sp<String>>,
    pub log_min_duration: Option<Sp<String>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawPostgres {
    RawPostgres {
        span: t.span.clone(),
        version: t.integer("version"),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        extensions: t.string_array("extensions"),
        resources: t.table("resources", resources::read),
        audit: t.table("audit", |a| RawAudit {
            span: a.span.clone(),
            log_connections: a.boolean("log_connections"),
            log_disconnections: a.boolean("log_disconnections"),
            log_statement: a.string("log_statement"),
            log_min_duration: a.string("log_min_duration"),
        }),
        settings: t.free_table("settings"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Audit;

    #[test]
    fn audit_defaults_are_the_models() {
        let model = Audit::default();
        assert_eq!(
            LogStatement::from_name(LOG_STATEMENT),
            Some(model.log_statement)
        );
        assert_eq!(
            LOG_MIN_DURATION,
            format!("{}ms", model.log_min_duration_ms.unwrap())
        );
        for key in AUDIT.keys {
            if let Default::Bool(flag) = key.default {
                assert_eq!(
                    flag,
                    model.log_connections && model.log_disconnections,
                    "{}",
                    key.name
                );
            }
        }
    }
}
