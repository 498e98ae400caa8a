//! bakeryc compiles one `bakery.toml` (every PostgreSQL database of a platform, its Redis cache and
//! its certificate policy) into a Kustomize tree, and issues the certificates and passwords that
//! tree references.
//!
//! ```text
//! bakery.toml --parse--> RawConfig --validate--> Platform --compile--> Tree --render--> Files --output--> disk
//!              (spans)              (diagnostics)  (model)   (k8s objects)   (YAML)
//! ```
//!
//! `bakeryc build` runs the same stages one part of the tree at a time (a database with its
//! patches in every overlay, the cache, one platform file): `compile::Compiler` makes a part,
//! `render::Stream` renders it and hands each file to `output`, which compares or writes it and
//! drops it, so memory stays that of a few parts whatever the number of databases.
//!
//! `config` is the contract under both `parse` and `validate`: one module per bakery.toml section
//! with its keys, reader and checks, from which the JSON Schema and the README table are derived.
//! Every stage but `output` is pure; only `cli` prints.

pub mod cli;
pub mod compile;
pub mod config;
pub mod crd;
pub mod diagnostic;
pub mod model;
pub mod output;
pub mod parse;
pub mod plan;
pub mod render;
pub mod secrets;
pub mod validate;

use diagnostic::{Code, Diagnostic};
use model::Platform;

/// The result of reading a bakery.toml: the platform when it is valid, and every diagnostic.
#[derive(Debug)]
pub struct Checked {
    pub platform: Option<Platform>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and validates a bakery.toml. Never panics, whatever the input.
pub fn check(source: &str) -> Checked {
    let (raw, mut diagnostics) = parse::parse(source);
    if diagnostics.iter().any(|d| d.code == Code::TomlSyntax) {
        // A file that is not TOML yields only partial tables; anything past the syntax errors
        // would be noise.
        return Checked {
            platform: None,
            diagnostics,
        };
    }
    // validate knows which keys parse dropped as mistyped and does not call them missing.
    let (platform, more) = validate::validate(&raw);
    diagnostics.extend(more);
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.code));
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        platform: if failed { None } else { platform },
        diagnostics,
    }
}

/// Compiles and renders a valid platform into the generated files, held whole.
pub fn build(platform: &Platform) -> Result<render::Files, render::RenderError> {
    covered_profile_hosts(platform)?;
    render::render(compile::compile(platform))
}

/// The same files as [`build`], made one part at a time as `output` visits them: what `bakeryc
/// build` writes and compares, so that its memory does not grow with the tree.
pub fn stream(platform: &Platform) -> Result<render::Stream<'_>, render::RenderError> {
    covered_profile_hosts(platform)?;
    Ok(render::Stream::new(platform))
}

/// A client profile must name a host its server's certificate covers (`verify-full`).
fn covered_profile_hosts(platform: &Platform) -> Result<(), render::RenderError> {
    match compile::uncovered_profile_hosts(platform)
        .into_iter()
        .next()
    {
        Some(host) => Err(render::RenderError {
            path: "client profiles".into(),
            message: format!("{host} is not among the SANs of its server certificate"),
        }),
        None => Ok(()),
    }
}
