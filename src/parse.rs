//! TOML text to raw types that keep the source span of every value. It reports syntax errors,
//! wrong types and unknown keys (all of them, not just the first) and leaves every judgement about
//! values to `validate`. It never touches disk.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Code, Diagnostic};

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

/// The whole file as written.
#[derive(Clone, Debug, Default)]
pub struct RawConfig {
    /// The span of the whole document, for problems that have no better place.
    pub document: Span,
    pub platform: Option<RawPlatform>,
    pub postgres: Option<RawPostgres>,
    pub databases: Vec<RawDatabase>,
    pub cache: Option<RawCache>,
    pub tls: Option<RawTls>,
    pub environments: Vec<RawEnvironment>,
}

#[derive(Clone, Debug, Default)]
pub struct RawPlatform {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub namespace: Option<Sp<String>>,
    pub cluster_domain: Option<Sp<String>>,
}

/// Keys shared by `[postgres]` and each `[[database]]`.
#[derive(Clone, Debug, Default)]
pub struct RawPostgres {
    pub span: Span,
    pub version: Option<Sp<i64>>,
    pub image: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub extensions: Option<Sp<Vec<Sp<String>>>>,
    pub resources: Option<RawResources>,
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
pub struct RawDatabase {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub settings: RawPostgres,
}

#[derive(Clone, Debug, Default)]
pub struct RawResources {
    pub span: Span,
    pub requests: Option<RawCpuMemory>,
    pub limits: Option<RawCpuMemory>,
}

#[derive(Clone, Debug, Default)]
pub struct RawCpuMemory {
    pub span: Span,
    pub cpu: Option<Sp<String>>,
    pub memory: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawAudit {
    pub span: Span,
    pub log_connections: Option<Sp<bool>>,
    pub log_disconnections: Option<Sp<bool>>,
    pub log_statement: Option<Sp<String>>,
    pub log_min_duration: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawCache {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub image: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub client_auth: Option<Sp<String>>,
    pub resources: Option<RawResources>,
}

#[derive(Clone, Debug, Default)]
pub struct RawTls {
    pub span: Span,
    pub min_version: Option<Sp<String>>,
    pub ca: Option<RawCa>,
    pub server: Option<RawServerCert>,
}

#[derive(Clone, Debug, Default)]
pub struct RawCa {
    pub span: Span,
    pub common_name: Option<Sp<String>>,
    pub validity: Option<Sp<String>>,
    pub key: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawServerCert {
    pub span: Span,
    pub validity: Option<Sp<String>>,
    pub key: Option<Sp<String>>,
    pub renew_before: Option<Sp<String>>,
}

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
    pub resources: Option<RawResources>,
}

/// Parses bakery.toml. Always returns what could be read, plus every problem found on the way.
pub fn parse(source: &str) -> (RawConfig, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let (root, errors) = DeTable::parse_recoverable(source);
    for error in errors {
        let span = error.span().unwrap_or(0..0);
        diagnostics.push(
            Diagnostic::error(
                Code::TomlSyntax,
                span,
                format!("invalid TOML: {}", error.message().trim()),
            )
            .with_label("here"),
        );
    }
    let document = 0..source.len();
    let mut config = RawConfig {
        document: document.clone(),
        ..RawConfig::default()
    };
    let mut fields = Fields::new(root.get_ref(), document, "", &mut diagnostics);
    config.platform = fields.table("platform", |t| RawPlatform {
        span: t.span.clone(),
        name: t.string("name"),
        namespace: t.string("namespace"),
        cluster_domain: t.string("cluster_domain"),
    });
    config.postgres = fields.table("postgres", |t| postgres_keys(t, t.span.clone()));
    config.databases = fields.array_of_tables("database", |t| RawDatabase {
        span: t.span.clone(),
        name: t.string("name"),
        settings: postgres_keys(t, t.span.clone()),
    });
    config.cache = fields.table("cache", |t| RawCache {
        span: t.span.clone(),
        name: t.string("name"),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        client_auth: t.string("client_auth"),
        resources: t.table("resources", resources),
    });
    config.tls = fields.table("tls", |t| RawTls {
        span: t.span.clone(),
        min_version: t.string("min_version"),
        ca: t.table("ca", |ca| RawCa {
            span: ca.span.clone(),
            common_name: ca.string("common_name"),
            validity: ca.string("validity"),
            key: ca.string("key"),
        }),
        server: t.table("server", |s| RawServerCert {
            span: s.span.clone(),
            validity: s.string("validity"),
            key: s.string("key"),
            renew_before: s.string("renew_before"),
        }),
    });
    config.environments = fields
        .table("environments", |envs| {
            envs.each_table(|name, env| RawEnvironment {
                name,
                defaults: placement_keys(env),
                databases: env
                    .table("database", |dbs| {
                        dbs.each_table(|name, db| (name, placement_keys(db)))
                    })
                    .unwrap_or_default(),
                cache: env.table("cache", placement_keys),
            })
        })
        .unwrap_or_default();
    fields.finish();
    (config, diagnostics)
}

fn postgres_keys(t: &mut Fields<'_, '_, '_>, span: Span) -> RawPostgres {
    RawPostgres {
        span,
        version: t.integer("version"),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        extensions: t.string_array("extensions"),
        resources: t.table("resources", resources),
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

fn placement_keys(t: &mut Fields<'_, '_, '_>) -> RawPlacement {
    RawPlacement {
        span: t.span.clone(),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        resources: t.table("resources", resources),
    }
}

fn resources(t: &mut Fields<'_, '_, '_>) -> RawResources {
    let cpu_memory = |c: &mut Fields<'_, '_, '_>| RawCpuMemory {
        span: c.span.clone(),
        cpu: c.quantity("cpu"),
        memory: c.quantity("memory"),
    };
    RawResources {
        span: t.span.clone(),
        requests: t.table("requests", cpu_memory),
        limits: t.table("limits", cpu_memory),
    }
}

/// Reads the keys of one table. Every key read is remembered; `finish` reports the others as
/// unknown, with the nearest known key as a suggestion.
struct Fields<'t, 'i, 'd> {
    table: &'t DeTable<'i>,
    span: Span,
    path: String,
    known: BTreeSet<&'static str>,
    dynamic: bool,
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl<'t, 'i, 'd> Fields<'t, 'i, 'd> {
    fn new(
        table: &'t DeTable<'i>,
        span: Span,
        path: &str,
        diagnostics: &'d mut Vec<Diagnostic>,
    ) -> Self {
        Self {
            table,
            span,
            path: path.to_owned(),
            known: BTreeSet::new(),
            dynamic: false,
            diagnostics,
        }
    }

    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn lookup(&mut self, key: &'static str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.known.insert(key);
        self.table.get(key)
    }

    fn wrong_type(&mut self, key: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let path = self.key_path(key);
        self.diagnostics.push(
            Diagnostic::error(
                Code::WrongType,
                value.span(),
                format!(
                    "`{path}` must be {expected}, found {}",
                    value.get_ref().type_str()
                ),
            )
            .with_label(format!("expected {expected}")),
        );
    }

    fn string(&mut self, key: &'static str) -> Option<Sp<String>> {
        let value = self.lookup(key)?;
        if let Some(text) = value.get_ref().as_str() {
            return Some(Sp::new(text.to_owned(), value.span()));
        }
        self.wrong_type(key, value, "a string");
        None
    }

    /// A Kubernetes quantity; TOML numbers are accepted too (`cpu = 1`), as kubectl accepts them.
    fn quantity(&mut self, key: &'static str) -> Option<Sp<String>> {
        let value = self.lookup(key)?;
        match value.get_ref() {
            DeValue::String(text) => Some(Sp::new(text.to_string(), value.span())),
            DeValue::Integer(number) if number.radix() == 10 => {
                Some(Sp::new(number.as_str().replace('_', ""), value.span()))
            }
            DeValue::Float(number) => Some(Sp::new(number.as_str().replace('_', ""), value.span())),
            _ => {
                self.wrong_type(key, value, "a quantity string such as \"500m\" or \"1Gi\"");
                None
            }
        }
    }

    fn integer(&mut self, key: &'static str) -> Option<Sp<i64>> {
        let value = self.lookup(key)?;
        if let Some(number) = integer_value(value.get_ref()) {
            return Some(Sp::new(number, value.span()));
        }
        self.wrong_type(key, value, "an integer");
        None
    }

    fn boolean(&mut self, key: &'static str) -> Option<Sp<bool>> {
        let value = self.lookup(key)?;
        if let Some(flag) = value.get_ref().as_bool() {
            return Some(Sp::new(flag, value.span()));
        }
        self.wrong_type(key, value, "true or false");
        None
    }

    fn string_array(&mut self, key: &'static str) -> Option<Sp<Vec<Sp<String>>>> {
        let value = self.lookup(key)?;
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(key, value, "an array of strings");
            return None;
        };
        let mut items = Vec::new();
        for item in array {
            match item.get_ref().as_str() {
                Some(text) => items.push(Sp::new(text.to_owned(), item.span())),
                None => self.wrong_type(key, item, "a string"),
            }
        }
        Some(Sp::new(items, value.span()))
    }

    /// A table whose keys are user-chosen (postgresql.conf settings) with scalar values.
    fn free_table(&mut self, key: &'static str) -> Option<Sp<Vec<RawSetting>>> {
        let value = self.lookup(key)?;
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(key, value, "a table");
            return None;
        };
        let mut entries = Vec::new();
        for (name, item) in table {
            let setting = match item.get_ref() {
                DeValue::String(text) => SettingValue::String(text.to_string()),
                DeValue::Boolean(flag) => SettingValue::Bool(*flag),
                DeValue::Float(number) => SettingValue::Float(
                    number.as_str().replace('_', "").parse().unwrap_or(f64::NAN),
                ),
                other => {
                    if let Some(number) = integer_value(other) {
                        SettingValue::Integer(number)
                    } else {
                        let path = self.key_path(key);
                        let message = format!(
                            "`{path}.{}` must be a string, number or boolean",
                            name.get_ref()
                        );
                        self.diagnostics.push(
                            Diagnostic::error(Code::WrongType, item.span(), message)
                                .with_label("not a scalar"),
                        );
                        continue;
                    }
                }
            };
            entries.push((
                Sp::new(name.get_ref().to_string(), name.span()),
                Sp::new(setting, item.span()),
            ));
        }
        entries.sort_by_key(|entry| entry.0.span.start);
        Some(Sp::new(entries, value.span()))
    }

    fn table<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(&mut Fields<'_, '_, '_>) -> T,
    ) -> Option<T> {
        let value = self.lookup(key)?;
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(key, value, "a table");
            return None;
        };
        let path = self.key_path(key);
        let mut fields = Fields::new(table, value.span(), &path, self.diagnostics);
        let result = read(&mut fields);
        fields.finish();
        Some(result)
    }

    fn array_of_tables<T>(
        &mut self,
        key: &'static str,
        mut read: impl FnMut(&mut Fields<'_, '_, '_>) -> T,
    ) -> Vec<T> {
        let Some(value) = self.lookup(key) else {
            return Vec::new();
        };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(key, value, "an array of tables ([[database]])");
            return Vec::new();
        };
        let mut result = Vec::new();
        for (index, item) in array.iter().enumerate() {
            let Some(table) = item.get_ref().as_table() else {
                self.wrong_type(key, item, "a table");
                continue;
            };
            let path = format!("{}[{index}]", self.key_path(key));
            let mut fields = Fields::new(table, item.span(), &path, self.diagnostics);
            result.push(read(&mut fields));
            fields.finish();
        }
        result
    }

    /// Every key of this table is a user-chosen name whose value is a table.
    fn each_table<T>(
        &mut self,
        mut read: impl FnMut(Sp<String>, &mut Fields<'_, '_, '_>) -> T,
    ) -> Vec<T> {
        self.dynamic = true;
        let mut entries: Vec<_> = self.table.iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let mut result = Vec::new();
        for (name, value) in entries {
            let key_name = name.get_ref().to_string();
            let Some(table) = value.get_ref().as_table() else {
                let path = self.key_path(&key_name);
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::WrongType,
                        value.span(),
                        format!(
                            "`{path}` must be a table, found {}",
                            value.get_ref().type_str()
                        ),
                    )
                    .with_label("expected a table"),
                );
                continue;
            };
            let path = self.key_path(&key_name);
            let mut fields = Fields::new(table, value.span(), &path, self.diagnostics);
            result.push(read(Sp::new(key_name, name.span()), &mut fields));
            fields.finish();
        }
        result
    }

    fn finish(self) {
        if self.dynamic {
            return;
        }
        let mut unknown: Vec<_> = self
            .table
            .iter()
            .filter(|(key, _)| !self.known.contains(key.get_ref().as_ref()))
            .collect();
        unknown.sort_by_key(|(key, _)| key.span().start);
        for (key, _) in unknown {
            let name = key.get_ref();
            let path = self.key_path(name);
            let mut diagnostic = Diagnostic::error(
                Code::UnknownKey,
                key.span(),
                format!("unknown key `{path}`"),
            )
            .with_label("not a bakery.toml key");
            let known: Vec<&str> = self.known.iter().copied().collect();
            diagnostic = match suggest(name, &known) {
                Some(near) => diagnostic
                    .with_label(format!("did you mean `{near}`?"))
                    .with_help(format!(
                        "did you mean `{near}`? Known keys here: {}",
                        known.join(", ")
                    )),
                None => diagnostic.with_help(if known.is_empty() {
                    "remove the key".to_owned()
                } else {
                    format!("remove the key; known keys here: {}", known.join(", "))
                }),
            };
            self.diagnostics.push(diagnostic);
        }
    }
}

fn integer_value(value: &DeValue<'_>) -> Option<i64> {
    let number = value.as_integer()?;
    i64::from_str_radix(
        &number.as_str().replace('_', "").replace(['+'], ""),
        number.radix(),
    )
    .ok()
}

/// The known name closest to a misspelt one, if it is close enough to be what was meant.
pub fn suggest<'a>(wrong: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|candidate| (strsim::jaro_winkler(wrong, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let (_, diagnostics) = parse("[postgres]\nstorge = \"2Gi\"\n");
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::UnknownKey);
        assert_eq!(diagnostics[0].primary.span, 11..17);
        assert!(
            diagnostics[0].help.contains("`storage`"),
            "{}",
            diagnostics[0].help
        );
    }

    #[test]
    fn all_problems_are_reported() {
        let (_, diagnostics) =
            parse("[platform]\nname = 1\nnamspace = \"x\"\n[postgres]\nversion = \"17\"\n");
        let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [Code::WrongType, Code::UnknownKey, Code::WrongType]);
    }

    #[test]
    fn integer_cpu_is_a_quantity() {
        let (raw, diagnostics) = parse("[postgres.resources.limits]\ncpu = 2\n");
        assert!(diagnostics.is_empty());
        let limits = raw.postgres.unwrap().resources.unwrap().limits.unwrap();
        assert_eq!(limits.cpu.unwrap().value, "2");
    }
}
