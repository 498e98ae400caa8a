//! What the definitions of `config` derive for people and editors: the JSON Schema of
//! bakery.toml (draft 2020-12, printed by `bakeryc schema`, committed as bakery.schema.json) and
//! the README's reference table. Both are text built from the definitions alone; neither lists a
//! key of its own.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::{Default, Format, Key, Kind, Required, TOP, Table};
use crate::model::MANAGED_LABELS;

/// A DNS-1123 label.
const LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1035 label: a DNS-1123 label that starts with a letter (Service names).
const SERVICE_LABEL: &str = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
/// Dot-separated DNS-1123 labels.
const DOMAIN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/// The Kubernetes quantity grammar.
const QUANTITY: &str =
    "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$";
/// A number and a unit, repeated (`10y`, `1y 6mo`, `500ms`).
const DURATION: &str = "([0-9]+(\\.[0-9]+)?\\s*[a-zA-Z]+\\s*)+";
/// `name[:tag][@sha256:<64 hex>]`, lowercase, with an optional registry and port.
const IMAGE: &str = "^[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?$";
/// A PostgreSQL extension name.
const EXTENSION: &str = "^[a-z_][a-z0-9_-]{0,62}$";
/// A SHA-256 fingerprint: 64 hex digits in any case, colons allowed, an optional `sha256:`.
const FINGERPRINT: &str = "^\\s*(sha256:)*(:*[0-9A-Fa-f]){64}:*\\s*$";
/// No control characters (C0, DEL, C1): they reach terminals through certificates.
const PRINTABLE: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";
/// A Kubernetes label key: an optional DNS-subdomain prefix, then a name of up to 63 characters.
const LABEL_KEY: &str = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
/// A Kubernetes label value: empty, or a name of up to 63 characters.
const LABEL_VALUE: &str = "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$";
/// A postgresql.conf setting name (extension settings have a dot).
const SETTING: &str = "^[A-Za-z0-9_.]+$";

/// The JSON Schema of bakery.toml.
pub fn schema() -> Value {
    let mut root = table(&TOP);
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["title"] = json!("bakery.toml");
    root
}

/// The schema as the committed bakery.schema.json holds it.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a JSON value serializes");
    text.push('\n');
    text
}

fn table(table: &Table) -> Value {
    let properties: Map<String, Value> = table
        .all_keys()
        .map(|k| (k.name.to_owned(), key(k)))
        .collect();
    let required: Vec<&str> = table
        .all_keys()
        .filter(|k| k.required == Required::Yes)
        .map(|k| k.name)
        .collect();
    let mut schema = json!({
        "type": "object",
        "description": table.doc,
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

fn key(key: &Key) -> Value {
    let mut schema = match &key.kind {
        Kind::Str(format) => string(format),
        Kind::Integer(range) => {
            json!({"type": "integer", "minimum": range.start(), "maximum": range.end()})
        }
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Quantity => json!({"type": ["string", "number"], "pattern": QUANTITY}),
        Kind::List(format) => json!({"type": "array", "items": string(format)}),
        Kind::Table(inner) => table(inner),
        Kind::Tables(inner) => json!({"type": "array", "minItems": 1, "items": table(inner)}),
        Kind::Named(inner) => json!({
            "type": "object",
            "propertyNames": {"pattern": LABEL, "maxLength": 63},
            "additionalProperties": table(inner),
        }),
        Kind::Map { names, values } => json!({
            "type": "object",
            "propertyNames": string(names),
            "additionalProperties": string(values),
        }),
        Kind::Settings => json!({
            "type": "object",
            "propertyNames": {"pattern": SETTING},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        }),
    };
    let mut description = key.doc.to_owned();
    match key.default {
        Default::None => {}
        Default::Str(text) => schema["default"] = json!(text),
        Default::Bool(flag) => schema["default"] = json!(flag),
        Default::EmptyList => schema["default"] = json!([]),
        Default::EmptyTable => schema["default"] = json!({}),
        Default::Resources([request_cpu, request_memory, limit_cpu, limit_memory]) => {
            schema["default"] = json!({
                "requests": {"cpu": request_cpu, "memory": request_memory},
                "limits": {"cpu": limit_cpu, "memory": limit_memory},
            });
        }
        Default::Described(text) => {
            let _ = write!(description, " (default: {text})");
        }
    }
    schema["description"] = json!(description);
    schema
}

fn string(format: &Format) -> Value {
    match format {
        Format::Text { max_len } => json!({
            "type": "string",
            "minLength": 1,
            "maxLength": max_len,
            "pattern": PRINTABLE,
        }),
        Format::Label => json!({"type": "string", "pattern": LABEL, "maxLength": 63}),
        Format::ServiceLabel => {
            json!({"type": "string", "pattern": SERVICE_LABEL, "maxLength": 63})
        }
        Format::Domain => json!({"type": "string", "pattern": DOMAIN, "maxLength": 253}),
        Format::Quantity => json!({"type": "string", "pattern": QUANTITY}),
        Format::Duration => json!({"type": "string", "pattern": format!("^\\s*{DURATION}$")}),
        Format::DurationOrOff => {
            json!({"type": "string", "pattern": format!("^(off|\\s*{DURATION})$")})
        }
        Format::Image => json!({"type": "string", "pattern": IMAGE}),
        Format::Extension => json!({"type": "string", "pattern": EXTENSION}),
        Format::Fingerprint => json!({"type": "string", "pattern": FINGERPRINT}),
        Format::LabelKey => json!({
            "type": "string",
            "pattern": LABEL_KEY,
            "not": {"enum": MANAGED_LABELS},
        }),
        Format::SelectorKey => json!({"type": "string", "pattern": LABEL_KEY}),
        Format::LabelValue => json!({"type": "string", "pattern": LABEL_VALUE}),
        Format::Choice(names) => json!({"type": "string", "enum": names}),
    }
}

/// The README's reference table (between its `config-reference` markers).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| key | required | default | meaning |\n| --- | --- | --- | --- |\n");
    for key in TOP.keys {
        match &key.kind {
            Kind::Table(inner) | Kind::Tables(inner) => rows(inner, &mut out),
            Kind::Named(inner) => named_rows(inner, &mut out),
            _ => row(&mut out, &format!("`{}`", key.name), key),
        }
    }
    out.push_str("\n\\* in `[postgres]` for every database, or in each `[[database]]`.\n");
    out
}

fn rows(table: &Table, out: &mut String) {
    for key in table.keys {
        match &key.kind {
            Kind::Table(inner) if !inner.inline => rows(inner, out),
            Kind::Named(inner) => named_rows(inner, out),
            Kind::Settings => {
                let header = format!("`[{}.{}]`", table.title.trim_matches(['[', ']']), key.name);
                row(out, &header, key);
            }
            _ => row(out, &format!("`{} {}`", table.title, key.name), key),
        }
    }
    if let Some(inherited) = table.inherits {
        let _ = writeln!(
            out,
            "| `{} ...` | | | any `{}` key, {} |",
            table.title, inherited.title, table.doc
        );
    }
}

/// A table of user-named tables: one row listing the keys that override a workload's value,
/// a row of its own for each other key (`trusted_cas`), then its inner tables.
fn named_rows(table: &Table, out: &mut String) {
    let (overrides, own): (Vec<&Key>, Vec<&Key>) = table
        .keys
        .iter()
        .filter(|k| {
            !matches!(
                k.kind,
                Kind::Named(_) | Kind::Table(Table { inline: false, .. })
            )
        })
        .partition(|k| matches!(k.default, Default::Described(_)));
    let overrides: Vec<String> = overrides.iter().map(|k| format!("`{}`", k.name)).collect();
    let _ = writeln!(
        out,
        "| `{}` | no | | {} {} |",
        table.title,
        overrides.join(", "),
        table.doc
    );
    for key in own {
        row(out, &format!("`{} {}`", table.title, key.name), key);
    }
    for key in table.keys {
        if let Kind::Named(inner) | Kind::Table(inner) = &key.kind {
            if !inner.inline {
                named_rows(inner, out);
            }
        }
    }
}

fn row(out: &mut String, name: &str, key: &Key) {
    let required = match key.required {
        Required::Yes => "yes",
        Required::Layered => "yes*",
        Required::No => "no",
    };
    let default = match key.default {
        Default::None => String::new(),
        Default::Str(text) => format!("`{text}`"),
        Default::Bool(flag) => format!("`{flag}`"),
        Default::EmptyList => "`[]`".to_owned(),
        Default::EmptyTable => "`{}`".to_owned(),
        Default::Resources([request_cpu, request_memory, limit_cpu, limit_memory]) => {
            format!("requests {request_cpu}/{request_memory}, limits {limit_cpu}/{limit_memory}")
        }
        Default::Described(text) => text.to_owned(),
    };
    let _ = writeln!(out, "| {name} | {required} | {default} | {} |", key.doc);
}
