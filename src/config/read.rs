//! The reader the section modules fill their raw forms with: it reads one TOML table by its
//! definition ([`Table`]), reports values of the wrong type with the fix, and every key the
//! definition does not have as unknown, with the nearest known key or the table it belongs in.
//! Known keys and "belongs in" hints come from the definitions only. It judges no values.

use std::collections::BTreeSet;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{Key, Kind, RawMap, Sp, Span, Table, catalogue, tables};
use crate::diagnostic::{self, Diagnostic, KeyHint, TypeFix};

use super::postgres::{RawSetting, SettingValue};

/// What reading collects besides the raw config.
#[derive(Default)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub mistyped: BTreeSet<(usize, usize, String)>,
}

/// Reads the keys of one table by its definition; `finish` reports every key the definition
/// does not have as unknown, with the nearest known key as a suggestion.
pub struct Fields<'t, 'i, 'd> {
    table: &'t DeTable<'i>,
    definition: &'static Table,
    /// The span of the table, for problems of the table as a whole.
    pub span: Span,
    path: String,
    /// Keys the section's reader asked for: every defined key must be among them.
    read: BTreeSet<&'static str>,
    /// The keys are user-chosen names of tables of `definition` (`[environments.NAME]`).
    named: bool,
    report: &'d mut Report,
}

impl<'t, 'i, 'd> Fields<'t, 'i, 'd> {
    /// The document's top-level table.
    pub fn top(table: &'t DeTable<'i>, span: Span, report: &'d mut Report) -> Self {
        Self::new(table, &super::TOP, span, "", report)
    }

    fn new(
        table: &'t DeTable<'i>,
        definition: &'static Table,
        span: Span,
        path: &str,
        report: &'d mut Report,
    ) -> Self {
        Self {
            table,
            definition,
            span,
            path: path.to_owned(),
            read: BTreeSet::new(),
            named: false,
            report,
        }
    }

    /// The table a key of this table holds, by its definition.
    fn inner(&self, key: &str) -> (&'static Table, bool) {
        match self.definition.key(key).map(|k| &k.kind) {
            Some(Kind::Table(inner) | Kind::Tables(inner)) => (inner, false),
            Some(Kind::Named(inner)) => (inner, true),
            other => unreachable!(
                "{key} of {} is {other:?}, not a table",
                self.definition.title
            ),
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
        // A reader asking for a key its definition lacks is a bug, not a user error.
        debug_assert!(
            self.definition.key(key).is_some(),
            "{} does not define `{key}`",
            self.definition.title
        );
        self.read.insert(key);
        self.table.get(key)
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.report.diagnostics.push(diagnostic);
    }

    fn wrong_type(&mut self, key: &str, value: &Spanned<DeValue<'_>>, expected: &'static str) {
        let path = self.key_path(key);
        self.report
            .mistyped
            .insert((self.span.start, self.span.end, key.to_owned()));
        let found = value.get_ref();
        let kind = diagnostic::Kind::WrongType {
            fix: type_fix(self.definition.key(key), &path, key, found, expected),
            path,
            expected,
            found: found.type_str(),
        };
        self.push(Diagnostic::of(value.span(), &kind));
    }

    /// A key whose value must be a table: the value and the table, or a wrong-type report.
    fn table_value(
        &mut self,
        key: &'static str,
    ) -> Option<(&'t Spanned<DeValue<'i>>, &'t DeTable<'i>)> {
        let value = self.lookup(key)?;
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(key, value, "a table");
            return None;
        };
        Some((value, table))
    }

    pub fn string(&mut self, key: &'static str) -> Option<Sp<String>> {
        let value = self.lookup(key)?;
        if let Some(text) = value.get_ref().as_str() {
            return Some(Sp::new(text.to_owned(), value.span()));
        }
        self.wrong_type(key, value, "a string");
        None
    }

    /// A Kubernetes quantity; TOML numbers are accepted too (`cpu = 1`), as kubectl accepts them.
    pub fn quantity(&mut self, key: &'static str) -> Option<Sp<String>> {
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

    pub fn integer(&mut self, key: &'static str) -> Option<Sp<i64>> {
        let value = self.lookup(key)?;
        if let Some(number) = integer_value(value.get_ref()) {
            return Some(Sp::new(number, value.span()));
        }
        self.wrong_type(key, value, "an integer");
        None
    }

    pub fn boolean(&mut self, key: &'static str) -> Option<Sp<bool>> {
        let value = self.lookup(key)?;
        if let Some(flag) = value.get_ref().as_bool() {
            return Some(Sp::new(flag, value.span()));
        }
        self.wrong_type(key, value, "true or false");
        None
    }

    pub fn string_array(&mut self, key: &'static str) -> Option<Sp<Vec<Sp<String>>>> {
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

    /// A table whose keys are user-chosen names with string values (labels).
    pub fn string_map(&mut self, key: &'static str) -> Option<RawMap> {
        let (value, table) = self.table_value(key)?;
        let mut entries = Vec::new();
        for (name, item) in table {
            match item.get_ref().as_str() {
                Some(text) => entries.push((
                    Sp::new(name.get_ref().to_string(), name.span()),
                    Sp::new(text.to_owned(), item.span()),
                )),
                None => self.wrong_type(key, item, "a string"),
            }
        }
        entries.sort_by_key(|entry| entry.0.span.start);
        Some(Sp::new(entries, value.span()))
    }

    /// A table whose keys are user-chosen (postgresql.conf settings) with scalar values.
    pub fn free_table(&mut self, key: &'static str) -> Option<Sp<Vec<RawSetting>>> {
        let (value, table) = self.table_value(key)?;
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
                        let kind = diagnostic::Kind::SettingNotScalar {
                            path: self.key_path(key),
                            name: name.get_ref().to_string(),
                            found: other.type_str(),
                            array: other.is_array(),
                        };
                        self.push(Diagnostic::of(item.span(), &kind));
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

    pub fn table<T>(
        &mut self,
        key: &'static str,
        read: impl FnOnce(&mut Fields<'_, '_, '_>) -> T,
    ) -> Option<T> {
        let (value, table) = self.table_value(key)?;
        let path = self.key_path(key);
        let (definition, named) = self.inner(key);
        let mut fields = Fields::new(table, definition, value.span(), &path, self.report);
        fields.named = named;
        let result = read(&mut fields);
        fields.finish();
        Some(result)
    }

    pub fn array_of_tables<T>(
        &mut self,
        key: &'static str,
        mut read: impl FnMut(&mut Fields<'_, '_, '_>) -> T,
    ) -> Vec<T> {
        let Some(value) = self.lookup(key) else {
            return Vec::new();
        };
        let Some(array) = value.get_ref().as_array() else {
            let path = self.key_path(key);
            self.report
                .mistyped
                .insert((self.span.start, self.span.end, key.to_owned()));
            let kind = diagnostic::Kind::NotArrayOfTables {
                path,
                key: key.to_owned(),
                found: value.get_ref().type_str(),
                single: value.get_ref().is_table(),
            };
            self.push(Diagnostic::of(value.span(), &kind));
            return Vec::new();
        };
        let (definition, _) = self.inner(key);
        let mut result = Vec::new();
        for item in array {
            let Some(table) = item.get_ref().as_table() else {
                self.wrong_type(key, item, "a table");
                continue;
            };
            // Items are told apart by their span; messages call them all `database`.
            let path = self.key_path(key);
            let mut fields = Fields::new(table, definition, item.span(), &path, self.report);
            result.push(read(&mut fields));
            fields.finish();
        }
        result
    }

    /// Every key of this table is a user-chosen name whose value is a table.
    pub fn each_table<T>(
        &mut self,
        mut read: impl FnMut(Sp<String>, &mut Fields<'_, '_, '_>) -> T,
    ) -> Vec<T> {
        debug_assert!(self.named, "{} is not a table of names", self.path);
        let mut entries: Vec<_> = self.table.iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let mut result = Vec::new();
        for (name, value) in entries {
            let key_name = name.get_ref().to_string();
            let path = self.key_path(&key_name);
            let Some(table) = value.get_ref().as_table() else {
                let kind = diagnostic::Kind::NotNamedTable {
                    path,
                    parent: self.path.clone(),
                    found: value.get_ref().type_str(),
                };
                self.push(Diagnostic::of(value.span(), &kind));
                continue;
            };
            let mut fields = Fields::new(table, self.definition, value.span(), &path, self.report);
            result.push(read(Sp::new(key_name, name.span()), &mut fields));
            fields.finish();
        }
        result
    }

    pub fn finish(self) {
        if self.named {
            return;
        }
        let missed: Vec<&str> = self
            .definition
            .all_keys()
            .map(|k| k.name)
            .filter(|name| !self.read.contains(name))
            .collect();
        debug_assert!(
            missed.is_empty(),
            "the reader of {} never reads {missed:?}",
            self.definition.title
        );
        let mut unknown: Vec<_> = self
            .table
            .iter()
            .filter(|(key, _)| self.definition.key(key.get_ref()).is_none())
            .collect();
        unknown.sort_by_key(|(key, _)| key.span().start);
        let mut known: Vec<&'static str> = self.definition.all_keys().map(|k| k.name).collect();
        known.sort_unstable();
        let table = if self.path.is_empty() {
            "the top level".to_owned()
        } else if self.path == "database" {
            "[[database]]".to_owned()
        } else {
            format!("[{}]", self.path)
        };
        for (key, _) in unknown {
            let name = key.get_ref();
            let postgres_table = self.path == "postgres" || self.path == "database";
            let secret =
                ["password", "passwd", "secret", "tls_key", "private_key"].contains(&name.as_ref());
            let hint = if secret {
                KeyHint::Secret
            } else if let Some(near) = suggest(name, &known) {
                KeyHint::Near(near)
            } else if let Some(home) = home(name) {
                KeyHint::Home(home)
            } else if postgres_table && catalogue::is_postgres_setting(name) {
                KeyHint::PostgresSetting
            } else if let Some((near, home)) =
                suggest(name, &every_key()).and_then(|near| Some((near, home(near)?)))
            {
                KeyHint::NearElsewhere { near, home }
            } else {
                KeyHint::None
            };
            let kind = diagnostic::Kind::UnknownKey {
                path: self.key_path(name),
                name: name.to_string(),
                table: table.clone(),
                known: known.clone(),
                hint,
            };
            self.report
                .diagnostics
                .push(Diagnostic::of(key.span(), &kind));
        }
    }
}

/// Every key name of bakery.toml, in any table.
fn every_key() -> Vec<&'static str> {
    let mut names: Vec<&str> = tables()
        .into_iter()
        .flat_map(|t| t.keys.iter().map(|k| k.name))
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The tables a key belongs in (`[postgres], [[database]] or [cache]`), for a key written in the
/// wrong one.
fn home(name: &str) -> Option<String> {
    let titles: Vec<&str> = tables()
        .into_iter()
        .filter(|t| t.key(name).is_some())
        .map(|t| t.title)
        .collect();
    match titles.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        [rest @ .., last] => Some(format!("{} or {last}", rest.join(", "))),
    }
}

/// The fix for a value of the wrong type: quote it, unquote it, or an example of the key.
fn type_fix(
    definition: Option<&Key>,
    path: &str,
    key: &str,
    found: &DeValue<'_>,
    expected: &str,
) -> TypeFix {
    let written = match found {
        DeValue::Integer(number) => Some(number.as_str().to_owned()),
        DeValue::Float(number) => Some(number.as_str().to_owned()),
        DeValue::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    };
    let key = key.to_owned();
    if expected == "a string" {
        let number = !matches!(found, DeValue::Boolean(_));
        match (key.as_str(), written) {
            ("storage", Some(written)) if number => return TypeFix::SizeWithUnit { written },
            // Names and TLS versions are the same text in quotes; other keys take words.
            (_, Some(written)) if definition.is_some_and(Key::quotes_numbers) => {
                return TypeFix::Quote { key, written };
            }
            _ => {}
        }
    }
    if let (DeValue::Float(number), "version") = (found, key.as_str()) {
        let major = number.as_str().split('.').next().unwrap_or("17").to_owned();
        return TypeFix::MajorOnly { major };
    }
    if let Some(text) = found.as_str() {
        let unquoted = text.trim();
        let fits = match expected {
            "an integer" => unquoted.parse::<i64>().is_ok(),
            "true or false" => unquoted == "true" || unquoted == "false",
            _ => false,
        };
        if fits {
            let unquoted = unquoted.to_owned();
            return TypeFix::Unquote { key, unquoted };
        }
    }
    let example = definition.map_or("", |k| k.example);
    match (expected, example) {
        ("a table", "") => TypeFix::TableHeader {
            path: path.to_owned(),
        },
        ("a table", example) => TypeFix::TableExample { key, example },
        (_, "") => TypeFix::Generic,
        (_, example) => TypeFix::Example { key, example },
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
    let wrong = wrong.to_lowercase();
    // Similar, and a few edits away: `storge` -> `storage`, not `postgis` -> `postgres_fdw`.
    let length = wrong.chars().count();
    let edits = (length / 3).max(2);
    known
        .iter()
        // The distance is at least the difference in length: skip the costly measure then.
        .filter(|candidate| candidate.chars().count().abs_diff(length) <= edits)
        .filter(|candidate| strsim::damerau_levenshtein(&wrong, candidate) <= edits)
        .map(|candidate| (strsim::jaro_winkler(&wrong, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_belongs_where_its_definitions_are() {
        assert_eq!(home("client_auth").as_deref(), Some("[cache]"));
        assert_eq!(home("log_statement").as_deref(), Some("[postgres.audit]"));
        assert_eq!(
            home("version").as_deref(),
            Some("[postgres] or [[database]]")
        );
        assert_eq!(home("nonsense"), None);
        assert!(every_key().contains(&"renew_before"));
    }
}
