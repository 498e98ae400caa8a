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
    /// Keys whose value had the wrong type, as (span of their table, key). Parse already
    /// reported them, so validate must not call them missing as well.
    pub mistyped: BTreeSet<(usize, usize, String)>,
}

impl RawConfig {
    /// Whether `key` of the table at `table` was written with the wrong type (and so dropped).
    pub fn is_mistyped(&self, table: &Span, key: &str) -> bool {
        self.mistyped
            .contains(&(table.start, table.end, key.to_owned()))
    }
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
    /// SHA-256 fingerprints of CAs trusted beyond bakeryc's own (issue 17).
    pub trusted_cas: Option<Sp<Vec<Sp<String>>>>,
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

/// Parses bakery.toml. Always returns what could be read, plus every problem found on the way,
/// sorted by position.
pub fn parse(source: &str) -> (RawConfig, Vec<Diagnostic>) {
    let mut report = Report::default();
    let (root, errors) = DeTable::parse_recoverable(source);
    let errors: Vec<(Span, String)> = errors
        .iter()
        .map(|e| {
            (
                clamp(source, e.span().unwrap_or(0..0)),
                e.message().trim().to_owned(),
            )
        })
        .collect();
    let mut syntax_lines = BTreeSet::new();
    let (errors, garbled) = without_cascades(source, errors);
    for (span, message) in errors {
        // One error per line: the rest of a broken line is usually the same mistake again.
        if syntax_lines.insert(line_start(source, span.start)) {
            report
                .diagnostics
                .push(syntax_error(source, span, &message));
        }
    }
    let document = 0..source.len();
    let mut config = RawConfig {
        document: document.clone(),
        ..RawConfig::default()
    };
    let mut fields = Fields::new(root.get_ref(), document, "", &mut report);
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
                trusted_cas: env.string_array("trusted_cas"),
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
    let Report {
        mut diagnostics,
        mistyped,
    } = report;
    config.mistyped = mistyped;
    if !syntax_lines.is_empty() {
        // What toml recovered around a syntax error is a guess: keep only what is reported on
        // other lines, at a real position.
        diagnostics.retain(|d| {
            let at = d.primary.span.start;
            d.code == Code::TomlSyntax
                || (!d.primary.span.is_empty()
                    && !syntax_lines.contains(&line_start(source, at))
                    && !garbled.as_ref().is_some_and(|region| region.contains(&at)))
        });
    }
    diagnostics.sort_by(|a, b| {
        (a.primary.span.start, a.primary.span.end, a.code).cmp(&(
            b.primary.span.start,
            b.primary.span.end,
            b.code,
        ))
    });
    let diagnostics = diagnostics
        .into_iter()
        .map(Diagnostic::with_long_words_shortened)
        .collect();
    (config, diagnostics)
}

/// What parsing collects besides the raw config.
#[derive(Default)]
struct Report {
    diagnostics: Vec<Diagnostic>,
    mistyped: BTreeSet<(usize, usize, String)>,
}

/// A span that lies within `source` on character boundaries.
fn clamp(source: &str, span: Span) -> Span {
    let fix = |mut at: usize| {
        at = at.min(source.len());
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let start = fix(span.start);
    start..fix(span.end).max(start)
}

fn line_start(source: &str, offset: usize) -> usize {
    source
        .get(..offset)
        .and_then(|before| before.rfind('\n'))
        .map_or(0, |i| i + 1)
}

/// Syntax errors sorted by position, with the cascade an unclosed `{` or `[` causes replaced by
/// one error at the bracket that is never closed: toml reads every following line as part of
/// it and reports each one. Also returns that garbled region, where nothing toml recovered
/// means what it says.
fn without_cascades(
    source: &str,
    mut errors: Vec<(Span, String)>,
) -> (Vec<(Span, String)>, Option<Span>) {
    errors.sort_by_key(|(span, _)| (span.start, span.end));
    let unclosed = errors.iter().find_map(|(span, message)| {
        let bracket = if message.contains("unclosed inline table") {
            ('{', '}')
        } else if message.contains("unclosed array") && !message.contains("array table") {
            ('[', ']')
        } else {
            return None;
        };
        Some((span.clone(), bracket))
    });
    let Some((end, (open, close))) = unclosed else {
        return (errors, None);
    };
    let Some(opening) = unclosed_bracket(source, end.start, open, close) else {
        return (errors, None);
    };
    errors.retain(|(span, _)| span.start < opening || span.start > end.start);
    let what = if open == '{' { "inline table" } else { "array" };
    errors.push((
        opening..opening + 1,
        format!("unclosed {what}, expected `{close}`"),
    ));
    errors.sort_by_key(|(span, _)| (span.start, span.end));
    (errors, Some(opening..end.end.max(end.start + 1)))
}

/// The last `open` before `before` that its line does not close (outside strings and comments).
fn unclosed_bracket(source: &str, before: usize, open: char, close: char) -> Option<usize> {
    let mut line_end = before.min(source.len());
    while !source.is_char_boundary(line_end) {
        line_end -= 1;
    }
    loop {
        let start = line_start(source, line_end);
        let line = &source[start..line_end];
        let mut stack = Vec::new();
        let mut quote = None;
        for (i, c) in line.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, c) if c == open => stack.push(start + i),
                (None, c) if c == close => {
                    stack.pop();
                }
                _ => {}
            }
        }
        if let Some(position) = stack.last() {
            return Some(*position);
        }
        if start == 0 {
            return None;
        }
        line_end = start - 1;
    }
}

/// A TOML syntax error with a fix for the usual causes.
fn syntax_error(source: &str, span: Span, message: &str) -> Diagnostic {
    let message = message.trim();
    let written = source.get(span.clone()).unwrap_or_default();
    let line = source[line_start(source, span.start)..]
        .lines()
        .next()
        .unwrap_or_default();
    let key = line
        .split_once('=')
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty() && !key.starts_with('['));
    let (label, help) = if message.contains("duplicate key") {
        (
            "defined again here".to_owned(),
            format!(
                "`{written}` may be defined only once: merge the two definitions into one (a table header such as [platform] appears once, with all its keys below it)"
            ),
        )
    } else if message.contains("string values must be quoted") {
        (
            "not quoted".to_owned(),
            match key {
                Some(key) => format!("put the text in double quotes: {key} = \"{written}\""),
                None => format!("put the text in double quotes: \"{written}\""),
            },
        )
    } else if message.contains("invalid basic string") || message.contains("invalid literal string")
    {
        (
            "the string is not closed on this line".to_owned(),
            "close the string with the quote it was opened with, on the same line".to_owned(),
        )
    } else if message.contains("unclosed array table") || message.contains("array-table close") {
        (
            "header not closed".to_owned(),
            "close the header: [[database]]".to_owned(),
        )
    } else if message.contains("unclosed table") || message.contains("std-table close") {
        (
            "header not closed".to_owned(),
            "close the header with `]`, e.g. [postgres]".to_owned(),
        )
    } else if message.contains("unclosed inline table") {
        (
            "this `{` is never closed".to_owned(),
            "close the inline table with `}` on the same line, e.g. resources = { limits = { cpu = \"1\" } }"
                .to_owned(),
        )
    } else if message.contains("unclosed array") {
        (
            "this `[` is never closed".to_owned(),
            "close the array with `]`, e.g. extensions = [\"pgcrypto\", \"citext\"]".to_owned(),
        )
    } else if message.contains("missing comma") {
        (
            "comma expected".to_owned(),
            "separate the elements with commas".to_owned(),
        )
    } else if message.contains("extra comma") {
        (
            "extra comma".to_owned(),
            "remove the extra comma".to_owned(),
        )
    } else if message.contains("extra `=`") || message.contains("extra assignment") {
        (
            "extra `=`".to_owned(),
            "write `key = value` with a single `=`".to_owned(),
        )
    } else if message.contains("missing value") || message.contains("key with no value") {
        (
            "value expected".to_owned(),
            "write a value after `=`, e.g. storage = \"2Gi\"".to_owned(),
        )
    } else if message.contains("missing assignment") || message.contains("expected `=`") {
        (
            "`=` expected".to_owned(),
            "write `key = value`, e.g. storage = \"2Gi\"".to_owned(),
        )
    } else if message.contains("recurs") {
        (
            "nested too deeply".to_owned(),
            "bakery.toml never needs values nested this deeply: remove the extra brackets"
                .to_owned(),
        )
    } else if message.contains("expected newline") {
        (
            "unexpected text".to_owned(),
            "put each `key = value` on its own line, with nothing after the value but a `# comment`"
                .to_owned(),
        )
    } else if message.contains("invalid key") {
        (
            "not a key".to_owned(),
            "keys are bare words of letters, digits, `_` and `-`, or quoted strings".to_owned(),
        )
    } else {
        ("here".to_owned(), Code::TomlSyntax.help().to_owned())
    };
    let mut diagnostic = Diagnostic::error(
        Code::TomlSyntax,
        span.clone(),
        format!("invalid TOML: {message}"),
    )
    .with_label(label)
    .with_help(help);
    if message.contains("duplicate key") {
        if let Some(first) = first_definition(source, &span) {
            diagnostic = diagnostic.with_secondary(first, "first defined here");
        }
    }
    diagnostic
}

/// For a duplicate key or table header at `span`, where the same name was defined before.
fn first_definition(source: &str, span: &Span) -> Option<Span> {
    let start = line_start(source, span.start);
    let line = source[start..].lines().next().unwrap_or_default();
    let header = |line: &str| {
        let trimmed = line.trim();
        trimmed.starts_with('[').then(|| {
            trimmed
                .trim_matches(['[', ']', ' ', '\t'])
                .replace([' ', '\t'], "")
        })
    };
    let key = |line: &str| {
        let trimmed = line.trim_start();
        (!trimmed.starts_with(['[', '#']))
            .then(|| {
                trimmed
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            })
            .filter(|k| !k.is_empty())
    };
    let (wanted_header, wanted_key) = (header(line), key(line));
    let mut offset = 0;
    let mut found = None;
    for candidate in source[..start].split_inclusive('\n') {
        let same = match (&wanted_header, &wanted_key) {
            (Some(h), _) => header(candidate).as_ref() == Some(h),
            (None, Some(k)) => key(candidate).as_ref() == Some(k),
            _ => false,
        };
        if same {
            let text = candidate.trim_end();
            let indent = text.len() - text.trim_start().len();
            let len = match &wanted_key {
                Some(k) if wanted_header.is_none() => k.len(),
                _ => text.len() - indent,
            };
            found = Some(offset + indent..offset + indent + len);
        }
        offset += candidate.len();
    }
    found
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
    report: &'d mut Report,
}

impl<'t, 'i, 'd> Fields<'t, 'i, 'd> {
    fn new(table: &'t DeTable<'i>, span: Span, path: &str, report: &'d mut Report) -> Self {
        Self {
            table,
            span,
            path: path.to_owned(),
            known: BTreeSet::new(),
            dynamic: false,
            report,
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

    fn push(&mut self, diagnostic: Diagnostic) {
        self.report.diagnostics.push(diagnostic);
    }

    fn wrong_type(&mut self, key: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let path = self.key_path(key);
        self.report
            .mistyped
            .insert((self.span.start, self.span.end, key.to_owned()));
        let found = value.get_ref();
        let help = type_help(&path, key, found, expected);
        self.push(
            Diagnostic::error(
                Code::WrongType,
                value.span(),
                format!("`{path}` must be {expected}, found {}", found.type_str()),
            )
            .with_label(format!("expected {expected}"))
            .with_help(help),
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
                            "`{path}.{}` must be a string, number or boolean, found {}",
                            name.get_ref(),
                            other.type_str()
                        );
                        self.push(
                            Diagnostic::error(Code::WrongType, item.span(), message)
                                .with_label("not a single value")
                                .with_help(if other.is_array() {
                                    format!(
                                        "write a list as one comma-separated string, as postgresql.conf does: {} = \"a,b\"",
                                        name.get_ref()
                                    )
                                } else {
                                    "write the value as one string, number or boolean".to_owned()
                                }),
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
        let mut fields = Fields::new(table, value.span(), &path, self.report);
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
            let path = self.key_path(key);
            self.report
                .mistyped
                .insert((self.span.start, self.span.end, key.to_owned()));
            let single = value.get_ref().is_table();
            self.push(
                Diagnostic::error(
                    Code::WrongType,
                    value.span(),
                    format!(
                        "`{path}` must be an array of tables, found {}",
                        value.get_ref().type_str()
                    ),
                )
                .with_label(if single {
                    "one pair of brackets declares a single table"
                } else {
                    "expected [[database]] tables"
                })
                .with_help(format!(
                    "declare each entry with double brackets: [[{key}]] followed by its keys"
                )),
            );
            return Vec::new();
        };
        let mut result = Vec::new();
        for item in array {
            let Some(table) = item.get_ref().as_table() else {
                self.wrong_type(key, item, "a table");
                continue;
            };
            // Items are told apart by their span; messages call them all `database`.
            let path = self.key_path(key);
            let mut fields = Fields::new(table, item.span(), &path, self.report);
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
            let path = self.key_path(&key_name);
            let Some(table) = value.get_ref().as_table() else {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        value.span(),
                        format!(
                            "`{path}` must be a table, found {}",
                            value.get_ref().type_str()
                        ),
                    )
                    .with_label("expected a table")
                    .with_help(format!(
                        "`{}` holds one table per name: write [{path}] and put its keys below it",
                        self.path
                    )),
                );
                continue;
            };
            let mut fields = Fields::new(table, value.span(), &path, self.report);
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
        let known: Vec<&str> = self.known.iter().copied().collect();
        let table = if self.path.is_empty() {
            "the top level".to_owned()
        } else if self.path == "database" {
            "[[database]]".to_owned()
        } else {
            format!("[{}]", self.path)
        };
        let known_in = if self.path.is_empty() {
            "known keys at the top level".to_owned()
        } else {
            format!("known keys in {table}")
        };
        for (key, _) in unknown {
            let name = key.get_ref();
            let path = self.key_path(name);
            let (known_here, known_sentence) = if known.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    format!("; {known_in}: {}", known.join(", ")),
                    format!(
                        " {}{}: {}",
                        known_in[..1].to_uppercase(),
                        &known_in[1..],
                        known.join(", ")
                    ),
                )
            };
            let near_here = suggest(name, &known);
            let home = HOMES.iter().find(|(k, _)| *k == name.as_ref());
            let postgres_table = self.path == "postgres" || self.path == "database";
            let secret =
                ["password", "passwd", "secret", "tls_key", "private_key"].contains(&name.as_ref());
            let (label, help) = if secret {
                (
                    "bakery.toml holds no secrets".to_owned(),
                    "remove it: bakeryc issues every password and key itself (`bakeryc secrets generate --env <env>`), so none is ever committed with bakery.toml".to_owned(),
                )
            } else if let Some(near) = near_here {
                (
                    format!("did you mean `{near}`?"),
                    format!("did you mean `{near}`?{known_sentence}"),
                )
            } else if let Some((_, home)) = home {
                (
                    format!("`{name}` does not belong in {table}"),
                    format!("move `{name}` to {home}{known_here}"),
                )
            } else if postgres_table && crate::validate::is_postgres_setting(name) {
                (
                    "a PostgreSQL setting, not a bakery.toml key".to_owned(),
                    format!(
                        "PostgreSQL settings go in their own table: [postgres.settings] (or [database.settings] for one database), e.g. {name} = ..."
                    ),
                )
            } else if let Some((near, home)) =
                suggest(name, &HOMES.iter().map(|(k, _)| *k).collect::<Vec<_>>())
                    .and_then(|near| HOMES.iter().find(|(k, _)| *k == near))
            {
                (
                    format!("not a key of {table}"),
                    format!("did you mean `{near}`? It belongs in {home}.{known_sentence}"),
                )
            } else {
                (
                    "not a bakery.toml key".to_owned(),
                    format!("remove the key{known_here}"),
                )
            };
            let diagnostic = Diagnostic::error(
                Code::UnknownKey,
                key.span(),
                format!("unknown key `{path}`"),
            )
            .with_label(label)
            .with_help(help);
            self.report.diagnostics.push(diagnostic);
        }
    }
}

/// Where each bakery.toml key belongs, for keys written in the wrong table.
const HOMES: &[(&str, &str)] = &[
    ("namespace", "[platform]"),
    ("cluster_domain", "[platform]"),
    ("version", "[postgres] or a [[database]]"),
    ("extensions", "[postgres] or a [[database]]"),
    ("audit", "[postgres] or a [[database]]"),
    ("settings", "[postgres] or a [[database]]"),
    (
        "image",
        "[postgres], a [[database]], [cache] or [environments.<env>]",
    ),
    (
        "storage",
        "[postgres], a [[database]], [cache] or [environments.<env>]",
    ),
    (
        "storage_class",
        "[postgres], a [[database]], [cache] or [environments.<env>]",
    ),
    (
        "resources",
        "[postgres], a [[database]], [cache] or [environments.<env>]",
    ),
    ("requests", "a `resources` table"),
    ("limits", "a `resources` table"),
    ("cpu", "resources.requests or resources.limits"),
    ("memory", "resources.requests or resources.limits"),
    ("client_auth", "[cache]"),
    ("min_version", "[tls]"),
    ("ca", "[tls]"),
    ("server", "[tls]"),
    ("common_name", "[tls.ca]"),
    ("validity", "[tls.ca] or [tls.server]"),
    ("key", "[tls.ca] or [tls.server]"),
    ("renew_before", "[tls.server]"),
    ("log_connections", "[postgres.audit]"),
    ("log_disconnections", "[postgres.audit]"),
    ("log_statement", "[postgres.audit]"),
    ("log_min_duration", "[postgres.audit]"),
    ("platform", "the top level of the file"),
    ("postgres", "the top level of the file"),
    ("database", "the top level of the file ([[database]])"),
    ("cache", "the top level of the file"),
    ("tls", "the top level of the file"),
    ("environments", "the top level of the file"),
];

/// The fix for a value of the wrong type: quote it, unquote it, or an example of the key.
fn type_help(path: &str, key: &str, found: &DeValue<'_>, expected: &str) -> String {
    let written = match found {
        DeValue::Integer(number) => Some(number.as_str().to_owned()),
        DeValue::Float(number) => Some(number.as_str().to_owned()),
        DeValue::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    };
    if expected == "a string" {
        let number = !matches!(found, DeValue::Boolean(_));
        match (key, written) {
            ("storage", Some(written)) if number => {
                return format!(
                    "write the size with its unit, in quotes: storage = \"{written}Gi\""
                );
            }
            // Names and TLS versions are the same text in quotes; other keys take words.
            ("min_version" | "name" | "namespace" | "common_name", Some(written)) => {
                return format!("put the value in quotes: {key} = \"{written}\"");
            }
            _ => {}
        }
    }
    if let (DeValue::Float(number), "version") = (found, key) {
        let major = number.as_str().split('.').next().unwrap_or("17");
        return format!("write the major version only: version = {major}");
    }
    if let Some(text) = found.as_str() {
        let unquoted = text.trim();
        let fits = match expected {
            "an integer" => unquoted.parse::<i64>().is_ok(),
            "true or false" => unquoted == "true" || unquoted == "false",
            _ => false,
        };
        if fits {
            return format!("remove the quotes: {key} = {unquoted}");
        }
    }
    if expected == "a table" {
        return match key {
            "resources" => "write resources = { requests = { cpu = \"100m\", memory = \"256Mi\" }, limits = { cpu = \"1\", memory = \"512Mi\" } }".to_owned(),
            "requests" | "limits" => format!("write {key} = {{ cpu = \"500m\", memory = \"512Mi\" }}"),
            _ => format!("write [{path}] as a table header and put its keys below it"),
        };
    }
    match example(path, key) {
        Some(example) => format!("write it like this: {key} = {example}"),
        None => Code::WrongType.help().to_owned(),
    }
}

/// A valid value for a key, shown when a value of the wrong type was written.
fn example(path: &str, key: &str) -> Option<&'static str> {
    Some(match key {
        "name" if path.starts_with("platform") => "\"bakery-ia\"",
        "name" if path.starts_with("cache") => "\"redis\"",
        "name" => "\"auth\"",
        "namespace" => "\"bakery-ia\"",
        "cluster_domain" => "\"cluster.local\"",
        "version" => "17",
        "image" if path.contains("cache") => "\"redis:7.4.1-alpine\"",
        "image" => "\"postgres:17.2-alpine\"",
        "storage" => "\"2Gi\"",
        "storage_class" => "\"standard\"",
        "extensions" => "[\"pgcrypto\"]",
        "cpu" => "\"500m\"",
        "memory" => "\"512Mi\"",
        "log_connections" | "log_disconnections" => "true",
        "log_statement" => "\"ddl\"",
        "log_min_duration" => "\"500ms\"",
        "client_auth" => "\"none\"",
        "min_version" => "\"1.2\"",
        "common_name" => "\"Bakery IA Internal CA\"",
        "validity" if path.starts_with("tls.ca") => "\"10y\"",
        "validity" => "\"3y\"",
        "key" => "\"rsa-4096\"",
        "renew_before" => "\"90d\"",
        _ => return None,
    })
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
