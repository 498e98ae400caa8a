//! What the README promises of labels, for bakery.toml and every fixture with a `[platform]
//! labels` entry added: every object bakeryc writes (not its patches) carries
//! `app.kubernetes.io/managed-by: bakeryc`, `app.kubernetes.io/part-of: <platform>` and the
//! declared platform labels (and, in the synced tree, its component and instance), so
//! `kubectl get -l` and Argo CD find all of it; and so does what an operator makes from it: the
//! Secret of each Certificate (its `secretTemplate`). A server's pod template carries bakeryc's
//! labels only (a platform label there would restart every server when it changes).

mod common;

use std::collections::BTreeMap;

use bakeryc::compile::{Document, compile};
use serde_json::Value;

const TEAM: (&str, &str) = ("example.com/team", "data");

/// bakery.toml and every fixture's bakery.toml, each with the platform label [`TEAM`].
fn sources() -> Vec<(String, String)> {
    common::sources()
        .into_iter()
        .map(|(path, text)| {
            assert!(text.contains("\n[platform]\n") || text.starts_with("[platform]\n"));
            let label = format!(
                "[platform]\nlabels = {{ \"{}\" = \"{}\" }}\n",
                TEAM.0, TEAM.1
            );
            (path, text.replacen("[platform]\n", &label, 1))
        })
        .collect()
}

/// The labels missing from `labels` (a JSON object or null) of those `wanted`.
fn missing(labels: &Value, wanted: &BTreeMap<&str, String>) -> Vec<String> {
    wanted
        .iter()
        .filter(|(key, value)| labels[**key].as_str() != Some(value.as_str()))
        .map(|(key, value)| format!("{key}={value}"))
        .collect()
}

/// Every object of the tree with a label it lacks, as "path kind/name: labels" lines.
fn problems(source: &str) -> Vec<String> {
    let platform = common::platform(source);
    let wanted = BTreeMap::from([
        ("app.kubernetes.io/managed-by", "bakeryc".to_owned()),
        ("app.kubernetes.io/part-of", platform.name.to_string()),
        (TEAM.0, TEAM.1.to_owned()),
    ]);
    let mut problems = Vec::new();
    for (path, document) in compile(&platform) {
        let Document::Objects(objects) = document else {
            continue;
        };
        if path.contains("/patches/") {
            continue;
        }
        for object in objects {
            let object = serde_json::to_value(&object).unwrap();
            let at = format!(
                "{path} {}/{}",
                object["kind"].as_str().unwrap_or("?"),
                object["metadata"]["name"].as_str().unwrap_or("?")
            );
            let labels = &object["metadata"]["labels"];
            let mut lacks = missing(labels, &wanted);
            // The Argo CD Applications (argocd/) belong to no component.
            let synced = !path.starts_with("argocd/");
            for own in ["app.kubernetes.io/component", "app.kubernetes.io/instance"] {
                if synced && labels[own].as_str().is_none_or(str::is_empty) {
                    lacks.push(own.to_owned());
                }
            }
            if !lacks.is_empty() {
                problems.push(format!("{at}: {}", lacks.join(", ")));
            }
            // A server's pod template: a label there is part of the template (tasks' pods are
            // made anew at each run anyway).
            let template = match object["kind"].as_str() {
                Some("Deployment") => &object["spec"]["template"],
                _ => &Value::Null,
            };
            if !template["metadata"]["labels"][TEAM.0].is_null() {
                problems.push(format!("{at}: its pod template carries {}", TEAM.0));
            }
            if object["kind"] == "Certificate" {
                let made = &object["spec"]["secretTemplate"]["labels"];
                let lacks = missing(made, &wanted);
                if !lacks.is_empty() {
                    problems.push(format!("{at}: its Secret lacks {}", lacks.join(", ")));
                }
            }
        }
    }
    problems
}

#[test]
fn every_object_and_every_secret_an_operator_makes_carries_the_platforms_labels() {
    for (path, source) in sources() {
        let found = problems(&source);
        assert!(found.is_empty(), "{path}:\n{}", found.join("\n"));
    }
}

#[test]
fn an_object_without_its_labels_is_caught() {
    let labels = serde_json::json!({"app.kubernetes.io/part-of": "shop"});
    let wanted = BTreeMap::from([
        ("app.kubernetes.io/part-of", "shop".to_owned()),
        (TEAM.0, TEAM.1.to_owned()),
    ]);
    assert_eq!(missing(&labels, &wanted), ["example.com/team=data"]);
    assert_eq!(missing(&Value::Null, &wanted).len(), 2);
}
