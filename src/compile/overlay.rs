//! One overlay per environment: a kustomization over `../../base` plus RFC 6902 patches for
//! exactly what the environment changes (image, storage, storage class, resources). Overlays are
//! patches, never copies, so a reviewer sees an environment's difference and nothing else.

use serde::Serialize;
use serde_json::{Value, json};

use super::meta;
use super::pod;
use super::{Document, Tree};
use crate::model::{Environment, Image, Placement, Platform, Quantity, Resources, WorkloadNames};

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
#[serde(rename_all = "camelCase")]
pub struct PatchTarget {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
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

fn remove(path: &str) -> PatchOperation {
    PatchOperation {
        op: "remove",
        path: path.to_owned(),
        value: None,
    }
}

fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation {
        op: "add",
        path: path.to_owned(),
        value: Some(value),
    }
}

/// The files of `overlays/<env>/`. A change shared by most databases is one patch selecting them
/// by label; databases that differ from it get their own patch, listed after it (kustomize
/// applies patches in order), so a reviewer reads an environment's intent, not a thousand files.
pub fn files(platform: &Platform, environment: &Environment) -> Tree {
    let dir = format!("overlays/{}", environment.name);
    let mut workloads: Vec<(WorkloadNames, Placement, &Placement, bool)> = Vec::new();
    let pairs: Vec<(&Placement, &Placement)> = platform
        .databases
        .iter()
        .filter_map(|db| {
            environment
                .databases
                .get(&db.name)
                .map(|env| (&db.placement, env))
        })
        .collect();
    let shared = Shared {
        image: shared_value(&pairs, |p| &p.image).cloned(),
        storage: shared_value(&pairs, |p| &p.storage).cloned(),
        storage_class: shared_value(&pairs, |p| &p.storage_class).cloned(),
        resources: shared_value(&pairs, |p| &p.resources).cloned(),
    };
    for db in &platform.databases {
        if let Some(env) = environment.databases.get(&db.name) {
            workloads.push((db.names(), shared.apply(&db.placement), env, true));
        }
    }
    if let (Some(cache), Some(env)) = (&platform.cache, &environment.cache) {
        workloads.push((cache.names(), cache.placement.clone(), env, false));
    }

    let mut tree = Tree::new();
    let mut patches = Vec::new();
    let selector = format!(
        "app.kubernetes.io/component=database,app.kubernetes.io/part-of={}",
        platform.name
    );
    for (kind, ops) in [
        ("Deployment", shared.deployment_ops()),
        ("PersistentVolumeClaim", shared.volume_claim_ops()),
    ] {
        if ops.is_empty() {
            continue;
        }
        let path = format!("patches/databases-{}.yaml", kind.to_ascii_lowercase());
        tree.insert(format!("{dir}/{path}"), Document::JsonPatch(ops));
        patches.push(PatchRef {
            path,
            target: PatchTarget {
                kind,
                name: None,
                label_selector: Some(selector.clone()),
            },
        });
    }
    let mut object_patches = Vec::new();
    for (names, current, env, postgres) in workloads {
        let targets = [
            (
                "Deployment",
                names.workload,
                deployment_ops(&current, env, postgres),
            ),
            (
                "PersistentVolumeClaim",
                names.volume_claim,
                volume_claim_ops(&current, env),
            ),
        ];
        for (kind, name, ops) in targets {
            if ops.is_empty() {
                continue;
            }
            let path = format!("patches/{}-{name}.yaml", kind.to_ascii_lowercase());
            tree.insert(format!("{dir}/{path}"), Document::JsonPatch(ops));
            object_patches.push(PatchRef {
                path,
                target: PatchTarget {
                    kind,
                    name: Some(name),
                    label_selector: None,
                },
            });
        }
    }
    object_patches.sort_by(|a, b| a.path.cmp(&b.path));
    patches.extend(object_patches);
    tree.insert(
        format!("{dir}/kustomization.yaml"),
        Document::Kustomization(Kustomization::new(vec!["../../base".into()], patches)),
    );
    tree
}

/// What the shared database patch sets; `None` fields are left to per-database patches.
struct Shared {
    image: Option<Image>,
    storage: Option<Quantity>,
    #[allow(
        clippy::option_option,
        reason = "None: not shared; Some(None): shared removal of the class"
    )]
    storage_class: Option<Option<String>>,
    resources: Option<Resources>,
}

impl Shared {
    /// A database's placement once the shared patch has applied.
    fn apply(&self, base: &Placement) -> Placement {
        Placement {
            image: self.image.clone().unwrap_or_else(|| base.image.clone()),
            storage: self.storage.clone().unwrap_or_else(|| base.storage.clone()),
            storage_class: self
                .storage_class
                .clone()
                .unwrap_or_else(|| base.storage_class.clone()),
            resources: self
                .resources
                .clone()
                .unwrap_or_else(|| base.resources.clone()),
        }
    }

    fn deployment_ops(&self) -> Vec<PatchOperation> {
        let mut ops = Vec::new();
        if let Some(image) = &self.image {
            ops.extend(image_ops(None, image, true));
        }
        if let Some(resources) = &self.resources {
            ops.push(resources_op(resources));
        }
        ops
    }

    fn volume_claim_ops(&self) -> Vec<PatchOperation> {
        let mut ops = Vec::new();
        if let Some(storage) = &self.storage {
            ops.push(storage_op(storage));
        }
        if let Some(class) = &self.storage_class {
            ops.push(storage_class_op(class.as_deref()));
        }
        ops
    }
}

/// The value most databases change to, when one shared patch plus its exceptions makes fewer
/// patches than one patch per changed database.
fn shared_value<'a, T: PartialEq>(
    pairs: &[(&'a Placement, &'a Placement)],
    field: impl Fn(&'a Placement) -> &'a T,
) -> Option<&'a T> {
    // Distinct values with their counts: environments use a handful of values, so this stays
    // linear in the number of databases.
    let mut counts: Vec<(&T, usize)> = Vec::new();
    let mut changed = 0;
    for (base, env) in pairs {
        if field(base) == field(env) {
            continue;
        }
        changed += 1;
        match counts.iter_mut().find(|(value, _)| *value == field(env)) {
            Some((_, count)) => *count += 1,
            None => counts.push((field(env), 1)),
        }
    }
    let (best, _) = counts.into_iter().rev().max_by_key(|(_, count)| *count)?;
    let exceptions = pairs.iter().filter(|(_, env)| field(env) != best).count();
    (exceptions + 1 < changed).then_some(best)
}

/// Operations that take a workload's Deployment from `current` to `env`.
fn deployment_ops(current: &Placement, env: &Placement, postgres: bool) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    if current.image != env.image {
        ops.extend(image_ops(Some(&current.image), &env.image, postgres));
    }
    if current.resources != env.resources {
        ops.push(resources_op(&env.resources));
    }
    ops
}

fn volume_claim_ops(current: &Placement, env: &Placement) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    if current.storage != env.storage {
        ops.push(storage_op(&env.storage));
    }
    if current.storage_class != env.storage_class {
        ops.push(storage_class_op(env.storage_class.as_deref()));
    }
    ops
}

/// The image of every container, and the checkov skips that depend on it (a digest lifts
/// CKV_K8S_43). PostgreSQL's init container runs the same image.
fn image_ops(previous: Option<&Image>, image: &Image, postgres: bool) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    let after = meta::checkov_skips(image, postgres);
    if previous.map(|p| meta::checkov_skips(p, postgres)) != Some(after.clone()) {
        ops.push(match after {
            Some(annotations) => add("/metadata/annotations", json!(annotations)),
            None => remove("/metadata/annotations"),
        });
    }
    let reference = json!(image.reference());
    ops.push(replace(
        "/spec/template/spec/containers/0/image",
        reference.clone(),
    ));
    ops.push(replace(
        "/spec/template/spec/initContainers/0/image",
        reference,
    ));
    ops
}

fn resources_op(resources: &Resources) -> PatchOperation {
    let value = serde_json::to_value(pod::resources(resources)).unwrap_or(Value::Null);
    replace("/spec/template/spec/containers/0/resources", value)
}

fn storage_op(storage: &Quantity) -> PatchOperation {
    replace("/spec/resources/requests/storage", json!(storage.as_str()))
}

fn storage_class_op(class: Option<&str>) -> PatchOperation {
    match class {
        Some(class) => add("/spec/storageClassName", json!(class)),
        None => remove("/spec/storageClassName"),
    }
}
