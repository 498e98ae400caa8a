//! One overlay per environment: a kustomization over `../../base` plus RFC 6902 patches for
//! exactly what the environment changes (image, storage, storage class, resources). Overlays are
//! patches, never copies, so a reviewer sees an environment's difference and nothing else.

use serde::Serialize;
use serde_json::{Value, json};

use super::meta;
use super::pod;
use super::{Document, Tree};
use crate::model::{Environment, Placement, Platform};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<PatchRef>,
}

impl Kustomization {
    pub fn new(resources: Vec<String>, patches: Vec<PatchRef>) -> Self {
        Self {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            resources,
            patches,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatchRef {
    pub path: String,
    pub target: PatchTarget,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatchTarget {
    pub kind: &'static str,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatchOperation {
    pub op: &'static str,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

fn replace(path: &str, value: Value) -> PatchOperation {
    PatchOperation {
        op: "replace",
        path: path.to_owned(),
        value: Some(value),
    }
}

fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation {
        op: "add",
        path: path.to_owned(),
        value: Some(value),
    }
}

/// The files of `overlays/<env>/`.
pub fn files(platform: &Platform, environment: &Environment) -> Tree {
    let dir = format!("overlays/{}", environment.name);
    let mut workloads = Vec::new();
    for db in &platform.databases {
        if let Some(placement) = environment.databases.get(&db.name) {
            workloads.push((db.names(), &db.placement, placement, true));
        }
    }
    if let (Some(cache), Some(placement)) = (&platform.cache, &environment.cache) {
        workloads.push((cache.names(), &cache.placement, placement, false));
    }
    let mut tree = Tree::new();
    let mut patches = Vec::new();
    for (names, base, env, postgres) in workloads {
        let targets = [
            (
                "Deployment",
                names.workload.clone(),
                deployment_ops(base, env, postgres),
            ),
            (
                "PersistentVolumeClaim",
                names.volume_claim.clone(),
                volume_claim_ops(base, env),
            ),
        ];
        for (kind, name, ops) in targets {
            if ops.is_empty() {
                continue;
            }
            let path = format!("patches/{}-{name}.yaml", kind.to_ascii_lowercase());
            tree.insert(format!("{dir}/{path}"), Document::JsonPatch(ops));
            patches.push(PatchRef {
                path,
                target: PatchTarget { kind, name },
            });
        }
    }
    patches.sort_by(|a, b| a.path.cmp(&b.path));
    tree.insert(
        format!("{dir}/kustomization.yaml"),
        Document::Kustomization(Kustomization::new(vec!["../../base".into()], patches)),
    );
    tree
}

fn deployment_ops(base: &Placement, env: &Placement, postgres: bool) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    if env.image != base.image {
        let before = meta::checkov_skips(&base.image, postgres);
        let after = meta::checkov_skips(&env.image, postgres);
        if before != after {
            ops.push(match after {
                Some(annotations) => add("/metadata/annotations", json!(annotations)),
                None => PatchOperation {
                    op: "remove",
                    path: "/metadata/annotations".into(),
                    value: None,
                },
            });
        }
        let image = json!(env.image.reference());
        ops.push(replace(
            "/spec/template/spec/containers/0/image",
            image.clone(),
        ));
        if postgres {
            ops.push(replace("/spec/template/spec/initContainers/0/image", image));
        }
    }
    if env.resources != base.resources {
        let resources = serde_json::to_value(pod::resources(&env.resources)).unwrap_or(Value::Null);
        ops.push(replace(
            "/spec/template/spec/containers/0/resources",
            resources,
        ));
    }
    ops
}

fn volume_claim_ops(base: &Placement, env: &Placement) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    if env.storage != base.storage {
        ops.push(replace(
            "/spec/resources/requests/storage",
            json!(env.storage.as_str()),
        ));
    }
    if env.storage_class != base.storage_class {
        if let Some(class) = &env.storage_class {
            ops.push(add("/spec/storageClassName", json!(class)));
        }
    }
    ops
}
