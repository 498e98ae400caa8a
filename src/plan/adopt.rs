//! What a new tree does to the workloads the deployed tree adopted: each adopted Deployment
//! records its claim, data directory, database, role and Service (`adopt.bakeryc.dev/*`
//! annotations, written by compile/adopt.rs), and a build that changes any of them, renames the
//! Deployment, or drops adoption for a claim bakeryc would create empty, is refused: the running
//! server's data and its clients' names are the adopted ones. Pure: it reads the two trees.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Refusal, Tree};
use crate::compile::adopt::ANNOTATION_PREFIX;
use crate::model::WorkloadNames;

/// One adopted workload of a tree: its Deployment's name and what it recorded.
#[derive(Debug)]
struct Adopted {
    workload: String,
    record: BTreeMap<String, String>,
}

/// The adopted workloads of `tree`, by `declared` (`database auth`).
fn adopted(tree: &Tree<'_>) -> BTreeMap<String, Adopted> {
    let mut found = BTreeMap::new();
    for path in tree.base_files() {
        // Only files that carry the annotations are parsed: most workloads adopt nothing.
        if !tree
            .text(path)
            .is_some_and(|t| t.contains(ANNOTATION_PREFIX))
        {
            continue;
        }
        for object in tree.file(path) {
            if object["kind"] != "Deployment" {
                continue;
            }
            let record: BTreeMap<String, String> = object["metadata"]["annotations"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(key, value)| {
                    Some((
                        key.strip_prefix(ANNOTATION_PREFIX)?.to_owned(),
                        value.as_str()?.to_owned(),
                    ))
                })
                .collect();
            let (Some(declared), Some(workload)) = (
                record.get("declared").cloned(),
                object["metadata"]["name"].as_str(),
            ) else {
                continue;
            };
            found.insert(
                declared,
                Adopted {
                    workload: workload.to_owned(),
                    record,
                },
            );
        }
    }
    found
}

/// The bakery.toml key behind a recorded annotation.
fn key_of(annotation: &str) -> String {
    annotation.replace('-', "_")
}

/// The claim a Deployment of `tree` named `workload` mounts, when the tree has one.
fn claim_of(tree: &Tree<'_>, workload: &str) -> Option<String> {
    tree.file(&format!("base/{workload}.yaml"))
        .iter()
        .filter(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == workload)
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find_map(|v: Value| {
            v["persistentVolumeClaim"]["claimName"]
                .as_str()
                .map(str::to_owned)
        })
}

/// The refusals of adopted names `new` changes over `old`, each with the deployed workload it
/// happens to; and the deployed workloads whose adoption moved to another Deployment name (their
/// removal leaves the adopted claim to the new one, so it orphans nothing).
pub fn refusals(old: &Tree<'_>, new: &Tree<'_>) -> (Vec<(String, Refusal)>, Vec<String>) {
    let (before, after) = (adopted(old), adopted(new));
    let mut refused = Vec::new();
    let mut moved = Vec::new();
    for (declared, was) in &before {
        let (section, name) = declared.split_once(' ').unwrap_or(("database", declared));
        let change = |key: String, from: String, to: String| Refusal::AdoptedName {
            section: section.to_owned(),
            name: name.to_owned(),
            key,
            from,
            to,
        };
        if let Some(now) = after.get(declared) {
            if now.workload != was.workload {
                moved.push(was.workload.clone());
                refused.push((
                    was.workload.clone(),
                    change(
                        "workload".into(),
                        was.workload.clone(),
                        now.workload.clone(),
                    ),
                ));
            }
            for (annotation, from) in &was.record {
                let to = now.record.get(annotation).cloned().unwrap_or_default();
                if &to != from {
                    refused.push((
                        was.workload.clone(),
                        change(key_of(annotation), from.clone(), to),
                    ));
                }
            }
            continue;
        }
        // Not adopted any more: refused when the workload is still declared (under its adopted
        // name or bakeryc's), which would then start on a claim bakeryc creates empty.
        let default = if section == "cache" {
            WorkloadNames::for_cache(name).workload
        } else {
            WorkloadNames::for_database(name).workload
        };
        let Some(workload) = [was.workload.clone(), default]
            .into_iter()
            .find(|w| claim_of(new, w).is_some())
        else {
            continue;
        };
        if workload != was.workload {
            moved.push(was.workload.clone());
        }
        refused.push((
            was.workload.clone(),
            Refusal::AdoptionDropped {
                section: section.to_owned(),
                name: name.to_owned(),
                claim: was.record.get("claim").cloned().unwrap_or_default(),
                to: claim_of(new, &workload).unwrap_or_default(),
            },
        ));
    }
    (refused, moved)
}
