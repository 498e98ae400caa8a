//! `bakeryc graph`: who reaches what, from the `[[client]]` declarations (clients -> databases
//! and the cache, marked where the base demands client certificates), as Mermaid for the README
//! and code-hosting sites, or as Graphviz dot for review. It draws only; it writes nothing.

use std::fmt::Write as _;

use super::{ConfigArgs, Failure, Success};
use crate::model::Platform;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The platform declaration to read.
    #[arg(long, short = 'c', default_value = "bakery.toml")]
    pub config: std::path::PathBuf,
    /// The graph language.
    #[arg(long, value_enum, default_value_t = Language::Mermaid)]
    pub format: Language,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Mermaid,
    Dot,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    let config = ConfigArgs {
        config: args.config.clone(),
        deny_warnings: false,
        format: super::Format::Human,
    };
    let (platform, findings) = super::load(&config)?;
    Ok(Success {
        findings: Some(findings),
        summary: None,
        stdout: Some(graph(&platform, args.format)),
    })
}

/// The edges: (client, server node, server label, mutual TLS).
fn edges(platform: &Platform) -> Vec<(String, String, String)> {
    let mut edges = Vec::new();
    for client in &platform.clients {
        for db in platform.databases.iter().filter(|db| client.reaches(db)) {
            edges.push((
                client.name.to_string(),
                db.names().workload,
                format!("{} ({})", db.database_name(), client.access.name()),
            ));
        }
        if let Some(cache) = platform.cache.as_ref().filter(|_| client.cache) {
            edges.push((
                client.name.to_string(),
                cache.names().workload,
                "ACL user".to_owned(),
            ));
        }
    }
    edges
}

/// A client's node: its name, and the pods it stands for when its selector is not its own name
/// (a second identity on another service's pods).
fn node(client: &crate::model::Client) -> String {
    let own = client.selector.len() == 1
        && client.selector.get("app.kubernetes.io/name") == Some(&client.name.to_string());
    if own {
        return client.name.to_string();
    }
    let labels: Vec<String> = client
        .selector
        .iter()
        .map(|(key, value)| {
            let key = key.strip_prefix("app.kubernetes.io/").unwrap_or(key);
            format!("{key}={value}")
        })
        .collect();
    format!("{} (pods {})", client.name, labels.join(", "))
}

/// The graph text; node ids are the names with `-` as `_` (both languages accept them).
pub fn graph(platform: &Platform, language: Language) -> String {
    let id = |name: &str| name.replace('-', "_");
    // Where servers demand client certificates: the label says so on every edge.
    let demanding: Vec<&str> = platform
        .environments
        .iter()
        .filter(|e| e.client_certificates)
        .map(|e| e.name.as_str())
        .collect();
    let mtls = if platform.environments.is_empty() && platform.tls.client_certificates
        || !demanding.is_empty() && demanding.len() == platform.environments.len()
    {
        "mTLS + password".to_owned()
    } else if demanding.is_empty() {
        "TLS + password".to_owned()
    } else {
        format!("TLS + password, mTLS in {}", demanding.join(", "))
    };
    let servers: Vec<String> = platform
        .databases
        .iter()
        .map(|db| db.names().workload)
        .chain(platform.cache.iter().map(|c| c.names().workload))
        .collect();
    let mut out = String::new();
    match language {
        Language::Mermaid => {
            out.push_str("flowchart LR\n");
            for client in &platform.clients {
                let _ = writeln!(
                    out,
                    "  {}([\"{}\"])",
                    id(client.name.as_str()),
                    node(client)
                );
            }
            for server in &servers {
                let _ = writeln!(out, "  {}[({server})]", id(server));
            }
            for (client, server, label) in edges(platform) {
                let _ = writeln!(
                    out,
                    "  {} -->|\"{label}, {mtls}\"| {}",
                    id(&client),
                    id(&server)
                );
            }
        }
        Language::Dot => {
            out.push_str("digraph bakery {\n  rankdir=LR;\n");
            for client in &platform.clients {
                let _ = writeln!(
                    out,
                    "  {} [label=\"{}\", shape=box];",
                    id(client.name.as_str()),
                    node(client)
                );
            }
            for server in &servers {
                let _ = writeln!(
                    out,
                    "  {} [label=\"{server}\", shape=cylinder];",
                    id(server)
                );
            }
            for (client, server, label) in edges(platform) {
                let _ = writeln!(
                    out,
                    "  {} -> {} [label=\"{label}, {mtls}\"];",
                    id(&client),
                    id(&server)
                );
            }
            out.push_str("}\n");
        }
    }
    if platform.clients.is_empty() {
        let note = "no [[client]] is declared: every pod of the platform reaches every server";
        let _ = match language {
            Language::Mermaid => writeln!(out, "  %% {note}"),
            Language::Dot => writeln!(out, "// {note}"),
        };
    }
    out
}
