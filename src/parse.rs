//! TOML text to the raw config that keeps the source span of every value. It reports syntax
//! errors (all of them, one per line, without the cascade of an unclosed bracket), has the
//! sections of `config` read the tables (which report wrong types and unknown keys), and leaves
//! every judgement about values to `validate`. It never touches disk.

use std::collections::BTreeSet;

use toml::de::DeTable;

use crate::config::{self, Fields, Report};
use crate::diagnostic::{Code, Diagnostic, Kind, SyntaxMistake};

pub use crate::config::cache::RawCache;
pub use crate::config::database::RawDatabase;
pub use crate::config::environments::{RawEnvironment, RawPlacement};
pub use crate::config::platform::RawPlatform;
pub use crate::config::postgres::{RawAudit, RawPostgres, RawSetting, SettingValue};
pub use crate::config::resources::{RawCpuMemory, RawResources};
pub use crate::config::tls::{RawCa, RawServerCert, RawTls};
pub use crate::config::{RawConfig, Sp, Span, suggest};

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
    let mut fields = Fields::top(root.get_ref(), 0..source.len(), &mut report);
    let mut config = config::read(&mut fields);
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

/// A TOML syntax error, with the usual cause recognised from the parser's message.
fn syntax_error(source: &str, span: Span, message: &str) -> Diagnostic {
    let message = message.trim();
    let written = source.get(span.clone()).unwrap_or_default().to_owned();
    let line = source[line_start(source, span.start)..]
        .lines()
        .next()
        .unwrap_or_default();
    let key = line
        .split_once('=')
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty() && !key.starts_with('['));
    let has = |part: &str| message.contains(part);
    let mistake = if has("duplicate key") {
        SyntaxMistake::DuplicateKey {
            first: first_definition(source, &span),
            written,
        }
    } else if has("string values must be quoted") {
        SyntaxMistake::Unquoted {
            key: key.map(str::to_owned),
            written,
        }
    } else if has("invalid basic string") || has("invalid literal string") {
        SyntaxMistake::UnclosedString
    } else if has("unclosed array table") || has("array-table close") {
        SyntaxMistake::UnclosedArrayTable
    } else if has("unclosed table") || has("std-table close") {
        SyntaxMistake::UnclosedTable
    } else if has("unclosed inline table") {
        SyntaxMistake::UnclosedInlineTable
    } else if has("unclosed array") {
        SyntaxMistake::UnclosedArray
    } else if has("missing comma") {
        SyntaxMistake::MissingComma
    } else if has("extra comma") {
        SyntaxMistake::ExtraComma
    } else if has("extra `=`") || has("extra assignment") {
        SyntaxMistake::ExtraEquals
    } else if has("missing value") || has("key with no value") {
        SyntaxMistake::MissingValue
    } else if has("missing assignment") || has("expected `=`") {
        SyntaxMistake::MissingEquals
    } else if has("recurs") {
        SyntaxMistake::TooDeep
    } else if has("expected newline") {
        SyntaxMistake::ExpectedNewline
    } else if has("invalid key") {
        SyntaxMistake::InvalidKey
    } else {
        SyntaxMistake::Other
    };
    let kind = Kind::Syntax {
        message: message.to_owned(),
        mistake,
    };
    Diagnostic::of(span, &kind)
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
