//! THE CONTRACT of bakery.toml: one module per section owns its keys (name, type, default,
//! one-line doc, allowed values) as data, its raw (spanned) form with the reader that fills it,
//! and its checks (`validate(raw, &mut Checker)`, pushing every problem into one collecting
//! context). Everything else is derived from the definitions: the known keys and "did you mean"
//! hints of the reader, the README reference table and the JSON Schema. No list of keys is
//! written anywhere else. It depends on no later stage (parse, validate) and never touches disk.

pub mod adopt;
pub mod backup;
pub mod cache;
pub mod catalogue;
pub mod check;
pub mod client;
pub mod database;
pub mod environments;
pub mod gitops;
pub mod monitoring;
pub mod platform;
pub mod postgres;
mod read;
pub mod resources;
mod schema;
pub mod secrets;
pub mod tls;

use std::ops::Range;

pub use check::{Checker, Wanted};
pub use read::{Fields, Report, suggest};
pub use schema::{markdown_table, schema, schema_text};

pub type Span = Range<usize>;

/// A value as written, with where it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// A table of user-chosen names to strings, as written, in the order written.
pub type RawMap = Sp<Vec<(Sp<String>, Sp<String>)>>;

/// One table of bakery.toml as the user writes it.
#[derive(Debug)]
pub struct Table {
    /// How the README and "belongs in" hints name it: `[platform]`, `[[database]]`.
    pub title: &'static str,
    /// What the table is for, one line.
    pub doc: &'static str,
    pub keys: &'static [Key],
    /// Tables whose keys this one accepts as well (a `[[database]]` takes every `[postgres]` key).
    pub inherits: Option<&'static Table>,
    /// Documented as one row (the key's own) rather than key by key.
    pub inline: bool,
}

impl Key {
    /// Whether a number written for this string key is the value meant, only unquoted
    /// (`name = 1`, `min_version = 1.2`), rather than a word of another type.
    pub fn quotes_numbers(&self) -> bool {
        match &self.kind {
            Kind::Str(Format::Label | Format::ServiceLabel | Format::Text { .. }) => true,
            Kind::Str(Format::Choice(names)) => names
                .iter()
                .all(|n| n.starts_with(|c: char| c.is_ascii_digit())),
            _ => false,
        }
    }
}

impl Table {
    /// Every key the table accepts, its own first, then inherited ones.
    pub fn all_keys(&self) -> impl Iterator<Item = &'static Key> + '_ {
        self.keys
            .iter()
            .chain(self.inherits.into_iter().flat_map(|t| t.keys.iter()))
    }

    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.all_keys().find(|key| key.name == name)
    }

    /// A key's example value, for help texts (`...` for a key the table lacks).
    pub fn example(&self, name: &str) -> &'static str {
        self.key(name).map_or("...", |key| key.example)
    }
}

/// One key: everything the reader, the README and the JSON Schema need to know about it.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    pub kind: Kind,
    pub required: Required,
    pub default: Default,
    /// One line for the README and the schema's description.
    pub doc: &'static str,
    /// A valid value as TOML text, shown when a value of the wrong type was written.
    pub example: &'static str,
}

/// The TOML shape of a key's value.
#[derive(Debug)]
pub enum Kind {
    Str(Format),
    Integer(std::ops::RangeInclusive<u8>),
    Bool,
    /// A Kubernetes quantity: a string, or a TOML number (`cpu = 1`), as kubectl accepts.
    Quantity,
    List(Format),
    Table(&'static Table),
    /// An array of tables (`[[database]]`).
    Tables(&'static Table),
    /// A table of tables with user-chosen names (`[environments.NAME]`).
    Named(&'static Table),
    /// A table of user-chosen names with scalar values (`[postgres.settings]`).
    Settings,
    /// A table of user-chosen names to strings (`labels = { team = "payments" }`).
    Map {
        names: Format,
        values: Format,
    },
}

/// What a string must look like.
#[derive(Debug)]
pub enum Format {
    Text {
        max_len: usize,
    },
    /// A DNS-1123 label.
    Label,
    /// A DNS-1123 label starting with a letter: it names a Service, a DNS-1035 label.
    ServiceLabel,
    /// Dot-separated DNS-1123 labels.
    Domain,
    /// A Kubernetes quantity with a unit (`2Gi`).
    Quantity,
    Duration,
    /// A duration or "off".
    DurationOrOff,
    Image,
    Extension,
    /// A certificate's SHA-256 fingerprint, as `openssl x509 -fingerprint -sha256` prints it.
    Fingerprint,
    /// A Kubernetes label key (`example.com/team`) and value.
    LabelKey,
    /// A label key of someone else's pods (`[[client]] selector`): `app.kubernetes.io/*` allowed.
    SelectorKey,
    LabelValue,
    Choice(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Required {
    No,
    Yes,
    /// In `[postgres]` for every database, or in each `[[database]]`.
    Layered,
}

/// A key's value when bakery.toml does not write it.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    None,
    Str(&'static str),
    Bool(bool),
    EmptyList,
    EmptyTable,
    /// Requests and limits: (request cpu, request memory, limit cpu, limit memory).
    Resources(&'static [&'static str; 4]),
    /// Computed from other keys; the text says how.
    Described(&'static str),
}

/// The whole file: each section is one key of the top level.
pub static TOP: Table = Table {
    title: "the top level of the file",
    doc: "One platform's PostgreSQL databases, Redis cache and certificate policy, compiled by bakeryc into a Kustomize tree. Generated by `bakeryc schema` from bakeryc's definitions of bakery.toml.",
    keys: &[
        Key {
            name: "platform",
            kind: Kind::Table(&platform::TABLE),
            required: Required::Yes,
            default: Default::None,
            doc: "the platform's name and namespace",
            example: "",
        },
        Key {
            name: "postgres",
            kind: Kind::Table(&postgres::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "defaults every database shares",
            example: "",
        },
        Key {
            name: "database",
            kind: Kind::Tables(&database::TABLE),
            required: Required::Yes,
            default: Default::None,
            doc: "one entry per PostgreSQL database",
            example: "",
        },
        Key {
            name: "cache",
            kind: Kind::Table(&cache::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "the Redis cache",
            example: "",
        },
        Key {
            name: "client",
            kind: Kind::Tables(&client::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "one entry per service that connects; without any, access is platform-wide",
            example: "",
        },
        Key {
            name: "tls",
            kind: Kind::Table(&tls::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "certificate policy",
            example: "",
        },
        Key {
            name: "monitoring",
            kind: Kind::Table(&monitoring::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "Prometheus alerts",
            example: "",
        },
        Key {
            name: "secrets",
            kind: Kind::Table(&secrets::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "who makes the passwords: bakeryc secrets, or External Secrets in the cluster",
            example: "",
        },
        Key {
            name: "gitops",
            kind: Kind::Table(&gitops::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "Argo CD: one Application per environment in generated/argocd/",
            example: "",
        },
        Key {
            name: "backup",
            kind: Kind::Table(&backup::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "pgBackRest: encrypted backups and WAL archiving of every database",
            example: "",
        },
        Key {
            name: "environments",
            kind: Kind::Named(&environments::TABLE),
            required: Required::No,
            default: Default::None,
            doc: "one table per environment (overlay), by name",
            example: "",
        },
    ],
    inherits: None,
    inline: false,
};

/// The raw file as written: every section with its spans.
#[derive(Clone, Debug, Default)]
pub struct RawConfig {
    /// The span of the whole document, for problems that have no better place.
    pub document: Span,
    pub platform: Option<platform::RawPlatform>,
    pub postgres: Option<postgres::RawPostgres>,
    pub databases: Vec<database::RawDatabase>,
    pub cache: Option<cache::RawCache>,
    pub clients: Vec<client::RawClient>,
    pub tls: Option<tls::RawTls>,
    pub monitoring: Option<monitoring::RawMonitoring>,
    pub secrets: Option<secrets::RawSecrets>,
    pub gitops: Option<gitops::RawGitops>,
    pub environments: Vec<environments::RawEnvironment>,
    pub backup: Option<backup::RawBackup>,
    /// Keys whose value had the wrong type, as (span of their table, key). Parse already
    /// reported them, so validate must not call them missing as well.
    pub mistyped: std::collections::BTreeSet<(usize, usize, String)>,
}

impl RawConfig {
    /// Whether `key` of the table at `table` was written with the wrong type (and so dropped).
    pub fn is_mistyped(&self, table: &Span, key: &str) -> bool {
        self.mistyped
            .contains(&(table.start, table.end, key.to_owned()))
    }
}

/// Reads every section of the document's top-level table.
pub fn read(top: &mut Fields<'_, '_, '_>) -> RawConfig {
    RawConfig {
        document: top.span.clone(),
        platform: top.table("platform", platform::read),
        postgres: top.table("postgres", postgres::read),
        databases: top.array_of_tables("database", database::read),
        cache: top.table("cache", cache::read),
        clients: top.array_of_tables("client", client::read),
        tls: top.table("tls", tls::read),
        monitoring: top.table("monitoring", monitoring::read),
        secrets: top.table("secrets", secrets::read),
        gitops: top.table("gitops", gitops::read),
        environments: top
            .table("environments", |envs| envs.each_table(environments::read))
            .unwrap_or_default(),
        backup: top.table("backup", backup::read),
        mistyped: std::collections::BTreeSet::new(),
    }
}

/// Every table reachable from the top level, each once, in document order.
pub fn tables() -> Vec<&'static Table> {
    fn walk(table: &'static Table, seen: &mut Vec<&'static Table>) {
        if seen.iter().any(|t| std::ptr::eq(*t, table)) {
            return;
        }
        seen.push(table);
        for key in table.all_keys() {
            if let Kind::Table(inner) | Kind::Tables(inner) | Kind::Named(inner) = key.kind {
                walk(inner, seen);
            }
        }
    }
    let mut seen = Vec::new();
    walk(&TOP, &mut seen);
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_documented_per_table() {
        for table in tables() {
            let mut names: Vec<&str> = table.all_keys().map(|k| k.name).collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "{} repeats a key", table.title);
            for key in table.all_keys() {
                assert!(
                    !key.doc.is_empty(),
                    "{} {} has no doc",
                    table.title,
                    key.name
                );
                let scalar = !matches!(
                    key.kind,
                    Kind::Table(_) | Kind::Tables(_) | Kind::Named(_) | Kind::Settings
                );
                assert!(
                    !scalar || !key.example.is_empty(),
                    "{} {} has no example",
                    table.title,
                    key.name
                );
            }
        }
    }

    #[test]
    fn examples_have_the_type_of_their_key() {
        for table in tables() {
            for key in table.all_keys().filter(|k| !k.example.is_empty()) {
                let value: toml::Value =
                    toml::from_str::<toml::Table>(&format!("v = {}", key.example))
                        .unwrap()
                        .remove("v")
                        .unwrap();
                let fits = match &key.kind {
                    Kind::Str(_) => value.is_str(),
                    Kind::Integer(_) => value.is_integer(),
                    Kind::Bool => value.is_bool(),
                    Kind::Quantity => value.is_str() || value.is_integer() || value.is_float(),
                    Kind::List(_) => value.is_array(),
                    _ => value.is_table(),
                };
                assert!(fits, "{} {}: {}", table.title, key.name, key.example);
            }
        }
    }
}
