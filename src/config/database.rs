//! `[[database]]`: one PostgreSQL database, named, taking any `[postgres]` key to override it.
//! Its keys and raw form, and the checks of `[postgres]` and every database layered over it
//! (required keys reported once, not once per database).

use std::collections::BTreeMap;

use super::adopt::{self, RawAdopt};
use super::postgres::RawPostgres;
use super::{Checker, RawConfig, Wanted};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table, postgres};
use crate::diagnostic::{self, Missing};
use crate::model::{
    Audit, Database, DnsLabel, LogStatement, PgVersion, Placement, Setting, WorkloadNames,
};

pub static TABLE: Table = Table {
    title: "[[database]]",
    doc: "overriding it for this database (also `[database.audit]`, `[database.settings]`)",
    keys: &[
        Key {
            name: "name",
            kind: Kind::Str(Format::ServiceLabel),
            required: Required::Yes,
            default: Default::None,
            doc: "DNS-1123 label starting with a letter (its Service is a DNS-1035 label), at most 48 characters (`<name>-db-credentials` must fit 63)",
            example: "\"auth\"",
        },
        Key {
            name: "adopt",
            kind: Kind::Table(&adopt::DATABASE),
            required: Required::No,
            default: Default::None,
            doc: "take over a running database: its claim, data directory and names",
            example: "",
        },
        Key {
            name: "retired",
            kind: Kind::Bool,
            required: Required::No,
            default: Default::Bool(false),
            doc: "compile nothing for this database any more, accepting that its volume claim leaves the tree (`build` refuses to drop a deployed database otherwise; see the README's plan section)",
            example: "true",
        },
        super::backup::DATABASE_KEY,
    ],
    inherits: Some(&postgres::TABLE),
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawDatabase {
    pub span: Span,
    pub name: Option<Sp<String>>,
    /// `retired = true`: declared only to acknowledge that its deployed objects go away.
    pub retired: Option<Sp<bool>>,
    pub settings: postgres::RawPostgres,
    pub adopt: Option<RawAdopt>,
    /// `backup = false` opts the database out of `[backup]`.
    pub backup: Option<Sp<bool>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawDatabase {
    RawDatabase {
        span: t.span.clone(),
        name: t.string("name"),
        retired: t.boolean("retired"),
        settings: postgres::read(t),
        adopt: t.table("adopt", adopt::read_database),
        backup: t.boolean("backup"),
    }
}

/// Keys every database needs, from `[postgres]` or its own `[[database]]`, with an example:
/// the `[postgres]` keys defined as [`Required::Layered`].
fn database_required() -> Vec<(&'static str, &'static str)> {
    postgres::TABLE
        .keys
        .iter()
        .filter(|key| key.required == Required::Layered)
        .map(|key| (key.name, key.example))
        .collect()
}

/// A database as declared: the model when valid, its `name` and the `version` it runs.
pub struct DeclaredDatabase {
    pub database: Option<Database>,
    pub name: Sp<String>,
    pub version: Option<Sp<i64>>,
}

/// The keys of [`database_required`] that no database has, neither in `[postgres]` nor in its
/// own table: reported once, not once per database.
fn missing_everywhere(
    raw: &RawConfig,
    postgres: &RawPostgres,
    check: &mut Checker,
) -> Vec<&'static str> {
    let present = |p: &RawPostgres, key: &str| match key {
        "version" => p.version.is_some(),
        "image" => p.image.is_some(),
        _ => p.storage.is_some(),
    };
    let missing: Vec<(&str, &str)> = database_required()
        .into_iter()
        .filter(|(key, _)| {
            !present(postgres, key)
                && !check.mistyped(&[&postgres.span], key)
                && raw.databases.iter().all(|db| !present(&db.settings, key))
        })
        .collect();
    let Some(first) = raw.databases.first() else {
        return Vec::new();
    };
    if missing.is_empty() {
        return Vec::new();
    }
    if raw.postgres.is_none() {
        let kind = diagnostic::Kind::MissingPostgres {
            missing: missing.clone(),
        };
        check.report(&first.span, &kind);
    } else if raw.databases.len() > 1 {
        for (key, example) in &missing {
            let kind = diagnostic::Kind::MissingEverywhere { key, example };
            check.report(&postgres.span, &kind);
        }
    } else {
        return Vec::new();
    }
    missing.into_iter().map(|(k, _)| k).collect()
}

/// Checks `[postgres]` and every `[[database]]` layered over it; each database as declared.
pub fn validate(raw: &RawConfig, check: &mut Checker) -> Vec<DeclaredDatabase> {
    let postgres = raw.postgres.clone().unwrap_or_default();
    check.postgres_section(&postgres);
    if raw.postgres.is_some() {
        // Every value of [postgres] is checked where it is written, even when no database
        // inherits it (or none could be read).
        let defaults = Layered {
            top: &postgres,
            base: &postgres,
            owner: postgres.span.clone(),
            what: "[postgres]".to_owned(),
            reported: &database_required()
                .into_iter()
                .map(|(key, _)| key)
                .collect::<Vec<_>>(),
        };
        defaults.database(None, check);
    }
    declared(raw, &postgres, check)
}

fn declared(raw: &RawConfig, postgres: &RawPostgres, check: &mut Checker) -> Vec<DeclaredDatabase> {
    if raw.databases.is_empty() && !check.mistyped(&[&raw.document], "database") {
        check.report(
            &(raw.document.start..raw.document.start),
            &diagnostic::Kind::NoDatabases,
        );
    }
    let reported = missing_everywhere(raw, postgres, check);
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut result = Vec::new();
    for db in &raw.databases {
        let Some(name) = check.required(
            db.name.as_ref(),
            &Wanted {
                table: &db.span,
                table_name: "this [[database]]",
                key: "name",
                also: None,
            },
            Missing::DatabaseName,
        ) else {
            continue;
        };
        if let Some(first) = seen.get(&name.value) {
            let kind = diagnostic::Kind::DuplicateDatabase {
                name: name.value.clone(),
                first: first.clone(),
            };
            check.report(&name.span, &kind);
        } else {
            seen.insert(name.value.clone(), name.span.clone());
        }
        let label = check.service_label(
            name,
            WorkloadNames::for_database(&name.value).longest_suffix(),
            "db-",
        );
        check.postgres_section(&db.settings);
        let layered = Layered {
            top: &db.settings,
            base: postgres,
            owner: db.span.clone(),
            what: format!("database `{}`", name.value),
            reported: &reported,
        };
        let mut database = layered.database(label, check);
        if db.retired.as_ref().is_some_and(|r| r.value) {
            // Checked like any database, compiled into nothing: `build` compares the tree on
            // disk and lets this database's workload and volume claim go.
            continue;
        }
        if let Some(raw) = &db.adopt {
            // Only the database's own sizing keys conflict: [postgres]'s apply to the others.
            let sizing = [
                ("storage", db.settings.storage.as_ref().map(|s| &s.span)),
                (
                    "storage_class",
                    db.settings.storage_class.as_ref().map(|s| &s.span),
                ),
            ];
            let adoption = adopt::validate(raw, &adopt::DATABASE, &sizing, check);
            database = database.zip(adoption).map(|(mut database, adoption)| {
                database.adopt = Some(adoption);
                database
            });
        }
        result.push(DeclaredDatabase {
            database,
            name: name.clone(),
            version: layered.pick(|p| p.version.as_ref()).cloned(),
        });
    }
    result
}

/// A database's keys with `[postgres]` underneath.
struct Layered<'a> {
    top: &'a RawPostgres,
    base: &'a RawPostgres,
    owner: Span,
    what: String,
    /// Required keys already reported as missing for every database.
    reported: &'a [&'static str],
}

impl<'a> Layered<'a> {
    fn pick<T>(&self, get: impl Fn(&RawPostgres) -> Option<&T>) -> Option<&T> {
        get(self.top).or_else(|| get(self.base))
    }

    /// A required key of this database, reported at its [[database]] unless already reported.
    fn required<T>(
        &self,
        check: &mut Checker,
        key: &'static str,
        get: impl Fn(&'a RawPostgres) -> Option<&'a Sp<T>>,
    ) -> Option<&'a Sp<T>> {
        let value = get(self.top).or_else(|| get(self.base));
        if self.reported.contains(&key) {
            return value;
        }
        let example = postgres::TABLE.example(key);
        check.required(
            value,
            &Wanted {
                table: &self.owner,
                table_name: "this [[database]]",
                key,
                also: Some(&self.base.span),
            },
            Missing::ForDatabase {
                what: self.what.clone(),
                example,
            },
        )
    }

    fn database(&self, name: Option<DnsLabel>, check: &mut Checker) -> Option<Database> {
        let version = self
            .required(check, "version", |p| p.version.as_ref())
            .and_then(|v| check.version(v));
        let image = self.required(check, "image", |p| p.image.as_ref());
        let storage = self.required(check, "storage", |p| p.storage.as_ref());
        let image = image.and_then(|image| {
            check.postgres_image(image, version.zip(self.pick(|p| p.version.as_ref())))
        });
        let storage = storage.and_then(|s| check.storage(s));
        let storage_class = self
            .pick(|p| p.storage_class.as_ref())
            .and_then(|s| check.storage_class(s));
        let resources = check.resources(
            &[self.top.resources.as_ref(), self.base.resources.as_ref()],
            &postgres::RESOURCES,
        );
        let extensions = self
            .pick(|p| p.extensions.as_ref())
            .map_or_else(|| Some(Vec::new()), |list| check.extensions(list, version));
        let audit = self.audit(check);
        let settings = self.settings(version, check);
        Some(Database {
            name: name?,
            version: version?,
            placement: Placement {
                image: image?,
                storage: storage?,
                storage_class,
                resources: resources?,
            },
            extensions: extensions?,
            audit: audit?,
            settings: settings?,
            adopt: None,
        })
    }

    fn audit(&self, check: &mut Checker) -> Option<Audit> {
        let top = self.top.audit.clone().unwrap_or_default();
        let base = self.base.audit.clone().unwrap_or_default();
        let defaults = Audit::default();
        let log_statement = match top.log_statement.as_ref().or(base.log_statement.as_ref()) {
            None => Some(defaults.log_statement),
            Some(written) => check.choice(
                written,
                "log_statement",
                LogStatement::NAMES,
                LogStatement::from_name,
            ),
        };
        if let (Some(LogStatement::All), Some(written)) = (
            log_statement,
            top.log_statement.as_ref().or(base.log_statement.as_ref()),
        ) {
            check.report(&written.span, &diagnostic::Kind::LogStatementAll);
        }
        let log_min_duration_ms = match top
            .log_min_duration
            .as_ref()
            .or(base.log_min_duration.as_ref())
        {
            None => Some(defaults.log_min_duration_ms),
            Some(written) => check.statement_duration(written),
        };
        Some(Audit {
            log_connections: top
                .log_connections
                .or(base.log_connections)
                .map_or(defaults.log_connections, |f| f.value),
            log_disconnections: top
                .log_disconnections
                .or(base.log_disconnections)
                .map_or(defaults.log_disconnections, |f| f.value),
            log_statement: log_statement?,
            log_min_duration_ms: log_min_duration_ms?,
        })
    }

    /// `[postgres.settings]` merged key by key with the database's own.
    fn settings(&self, version: Option<PgVersion>, check: &mut Checker) -> Option<Vec<Setting>> {
        let mut merged: BTreeMap<&str, &(Sp<String>, Sp<super::postgres::SettingValue>)> =
            BTreeMap::new();
        for layer in [&self.base.settings, &self.top.settings]
            .into_iter()
            .flatten()
        {
            for entry in &layer.value {
                merged.insert(entry.0.value.as_str(), entry);
            }
        }
        let version = version?;
        let mut ok = true;
        let mut settings = Vec::new();
        for (name, value) in merged.values() {
            match check.setting(name, value, version) {
                Some(setting) => settings.push(setting),
                None => ok = false,
            }
        }
        ok.then_some(settings)
    }
}
