//! One overlay per environment: a kustomization over `../../base` plus patches for exactly what
//! the environment changes (image, storage, storage class, resources). Deployments get
//! strategic-merge patches that name each container (kustomize merges containers by `name`, so a
//! patch never depends on their order, and a container added later cannot receive another's
//! settings); volume claims get RFC 6902 patches. Overlays are patches, never copies, so a
//! reviewer sees an environment's difference and nothing else.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::meta;
use super::pod;
use super::{Document, Object, cache, database, sync_wave};
use crate::model::{
    Cache, Database, Environment, Image, Placement, Platform, Quantity, Resources, WorkloadNames,
};

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

/// One file of an overlay with the reference its kustomization lists: the path under the output
/// folder (`overlays/prod/patches/x.yaml`), the document, and the patch reference.
pub type PatchFile = (String, Document, PatchRef);

/// The patch file `path` (relative to the overlay `dir`, `patches/x.yaml`) holding `document`,
/// applied to what `target` selects.
pub fn patch_file(dir: &str, path: String, document: Document, target: PatchTarget) -> PatchFile {
    (format!("{dir}/{path}"), document, PatchRef { path, target })
}

impl PatchTarget {
    /// The one object of this kind and name.
    pub fn named(kind: &'static str, name: String) -> Self {
        Self {
            kind,
            name: Some(name),
            label_selector: None,
        }
    }
}

/// An environment's overlay, prepared once for all its workloads. A change shared by most
/// databases is one patch selecting them by label; databases that differ from it get their own
/// patch, listed after it (kustomize applies patches in order), so a reviewer reads an
/// environment's intent, not a thousand files. Each workload's patches are made on their own,
/// from its base objects, so that a build never needs the whole base at once.
pub struct Overlay<'a> {
    pub environment: &'a Environment,
    /// `overlays/<env>`.
    pub dir: String,
    shared: Shared,
}

impl<'a> Overlay<'a> {
    pub fn new(platform: &Platform, environment: &'a Environment) -> Self {
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
        Self {
            environment,
            dir: format!("overlays/{}", environment.name),
            shared,
        }
    }

    /// The patches shared by the databases, first in the kustomization. `first` is the base
    /// objects of the first database: every database pod is built by one function, so its
    /// containers are everyone's.
    pub fn shared_patches(&self, platform: &Platform, first: &[Object]) -> Vec<PatchFile> {
        let database_containers = platform
            .databases
            .first()
            .map(|db| containers(first, &db.names().workload))
            .unwrap_or_default();
        let selector = format!(
            "app.kubernetes.io/component=database,app.kubernetes.io/part-of={}",
            platform.name
        );
        let mut files = Vec::new();
        for (kind, document) in [
            (
                "Deployment",
                self.shared.deployment_change().patch(
                    "databases",
                    &database_containers,
                    Server::POSTGRES,
                ),
            ),
            (
                "PersistentVolumeClaim",
                json_patch(self.shared.volume_claim_ops()),
            ),
        ] {
            let Some(document) = document else {
                continue;
            };
            let path = format!("patches/databases-{}.yaml", kind.to_ascii_lowercase());
            let target = PatchTarget {
                kind,
                name: None,
                label_selector: Some(selector.clone()),
            };
            files.push(patch_file(&self.dir, path, document, target));
        }
        files
    }

    /// A database's own patches (after the shared ones), from its base objects.
    pub fn database_patches(&self, db: &Database, base: &[Object]) -> Vec<PatchFile> {
        match self.environment.databases.get(&db.name) {
            Some(env) => self.workload_patches(
                db.names(),
                &self.shared.apply(&db.placement),
                env,
                Server::POSTGRES,
                base,
            ),
            None => Vec::new(),
        }
    }

    /// The cache's patches, from its base objects.
    pub fn cache_patches(&self, cache: &Cache, base: &[Object]) -> Vec<PatchFile> {
        match &self.environment.cache {
            Some(env) => {
                self.workload_patches(cache.names(), &cache.placement, env, Server::REDIS, base)
            }
            None => Vec::new(),
        }
    }

    fn workload_patches(
        &self,
        names: WorkloadNames,
        current: &Placement,
        env: &Placement,
        server: Server,
        base: &[Object],
    ) -> Vec<PatchFile> {
        let pod = containers(base, &names.workload);
        let targets = [
            (
                "Deployment",
                deployment_change(current, env, server).patch(&names.workload, &pod, server),
                names.workload,
            ),
            (
                "PersistentVolumeClaim",
                // An adopted claim is not in the tree: its size is its own.
                json_patch(if names.claim_adopted {
                    Vec::new()
                } else {
                    volume_claim_ops(current, env)
                }),
                names.volume_claim,
            ),
        ];
        let mut files = Vec::new();
        for (kind, document, name) in targets {
            let Some(document) = document else {
                continue;
            };
            let path = format!("patches/{}-{name}.yaml", kind.to_ascii_lowercase());
            let target = PatchTarget::named(kind, name);
            files.push(patch_file(&self.dir, path, document, target));
        }
        files
    }
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

    fn deployment_change(&self) -> DeploymentChange {
        let mut change = DeploymentChange::default();
        if let Some(image) = &self.image {
            change.image(None, image, Server::POSTGRES);
        }
        change.resources = self.resources.as_ref().map(pod::resources);
        change
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

/// The change that takes a workload's Deployment from `current` to `env`.
fn deployment_change(current: &Placement, env: &Placement, server: Server) -> DeploymentChange {
    let mut change = DeploymentChange::default();
    if current.image != env.image {
        change.image(Some(&current.image), &env.image, server);
    }
    if current.resources != env.resources {
        change.resources = Some(pod::resources(&env.resources));
    }
    change
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

/// The workload kind a Deployment patch is for: its server container (the one the placement's
/// resources are for) and whether its image runs as uid 70 (a checkov skip).
#[derive(Clone, Copy, Debug)]
struct Server {
    container: &'static str,
    uid_below_10000: bool,
}

impl Server {
    const POSTGRES: Self = Self {
        container: database::SERVER_CONTAINER,
        uid_below_10000: true,
    };
    const REDIS: Self = Self {
        container: cache::SERVER_CONTAINER,
        uid_below_10000: false,
    };
}

/// The names of a pod's containers in the base, init containers first.
#[derive(Clone, Debug, Default)]
struct Containers {
    init: Vec<String>,
    main: Vec<String>,
}

/// The containers of a workload's Deployment among its base objects, by name.
fn containers(objects: &[Object], workload: &str) -> Containers {
    let spec = objects.iter().find_map(|object| match object {
        Object::Deployment(deployment) if deployment.metadata.name.as_deref() == Some(workload) => {
            deployment.spec.as_ref()?.template.spec.as_ref()
        }
        _ => None,
    });
    let names = |list: &[k8s_openapi::api::core::v1::Container]| {
        list.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
    };
    spec.map(|spec| Containers {
        init: names(spec.init_containers.as_deref().unwrap_or_default()),
        main: names(&spec.containers),
    })
    .unwrap_or_default()
}

/// What an environment changes in a Deployment; `None` leaves the base's value.
#[derive(Debug, Default)]
struct DeploymentChange {
    /// The complete checkov skips (they follow the image); `Some(None)` removes them.
    #[allow(
        clippy::option_option,
        reason = "None: unchanged; Some(None): the skips are removed"
    )]
    annotations: Option<Option<BTreeMap<String, String>>>,
    /// The image of every container: they all run the workload's image.
    image: Option<String>,
    /// The server container's resources.
    resources: Option<ResourceRequirements>,
}

impl DeploymentChange {
    /// Sets the image, and the checkov skips that depend on it (a digest lifts CKV_K8S_43) when
    /// they differ from `previous`'s (or when `previous` is unknown, for the shared patch).
    fn image(&mut self, previous: Option<&Image>, image: &Image, server: Server) {
        let after = meta::checkov_skips(image, server.uid_below_10000);
        if previous.map(|p| meta::checkov_skips(p, server.uid_below_10000)) != Some(after.clone()) {
            self.annotations = Some(after);
        }
        self.image = Some(image.reference());
    }

    /// The strategic-merge patch for a Deployment named `name`, or `None` when nothing changes.
    /// Containers are named; the annotations map is replaced whole (`$patch: replace`) because
    /// a merge could not drop a skip that no longer applies.
    fn patch(&self, name: &str, pod: &Containers, server: Server) -> Option<Document> {
        if self.annotations.is_none() && self.image.is_none() && self.resources.is_none() {
            return None;
        }
        let mut metadata = Map::new();
        metadata.insert("name".into(), json!(name));
        if let Some(annotations) = &self.annotations {
            let mut map: Map<String, Value> = annotations
                .iter()
                .flatten()
                .map(|(key, value)| (key.clone(), json!(value)))
                .collect();
            // The replaced map must keep what the base sets besides the skips: the sync wave.
            map.insert(
                sync_wave::ANNOTATION.into(),
                json!(sync_wave::wave_of_kind("Deployment").to_string()),
            );
            map.insert("$patch".into(), json!("replace"));
            metadata.insert("annotations".into(), Value::Object(map));
        }
        let entries = |names: &[String]| -> Vec<Value> {
            names
                .iter()
                .filter_map(|container| {
                    let mut entry = Map::new();
                    if let Some(image) = &self.image {
                        entry.insert("image".into(), json!(image));
                    }
                    if let Some(resources) = &self.resources
                        && container == server.container
                    {
                        entry.insert("resources".into(), json!(resources));
                    }
                    (!entry.is_empty()).then(|| {
                        entry.insert("name".into(), json!(container));
                        Value::Object(entry)
                    })
                })
                .collect()
        };
        let mut spec = Map::new();
        for (key, names) in [("containers", &pod.main), ("initContainers", &pod.init)] {
            let list = entries(names);
            if !list.is_empty() {
                spec.insert(key.into(), Value::Array(list));
            }
        }
        let mut patch = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata,
        });
        if !spec.is_empty() {
            patch["spec"] = json!({"template": {"spec": spec}});
        }
        Some(Document::StrategicMergePatch(patch))
    }
}

fn json_patch(ops: Vec<PatchOperation>) -> Option<Document> {
    (!ops.is_empty()).then_some(Document::JsonPatch(ops))
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Container;

    use super::*;

    /// One shared patch plus its exceptions only where that makes fewer patches than one per
    /// changed database; the commonest new value is shared (the first seen on a tie).
    #[test]
    fn shared_value_is_the_commonest_change_when_it_saves_patches() {
        let platform = crate::check(include_str!(
            "../../tests/fixtures/one-database/bakery.toml"
        ))
        .platform
        .unwrap();
        let base = platform.databases[0].placement.clone();
        let envs: Vec<Placement> = ["", "a", "b", "c"]
            .iter()
            .map(|class| Placement {
                storage_class: (!class.is_empty()).then(|| (*class).to_owned()),
                ..base.clone()
            })
            .collect();
        let shared = |classes: &str| {
            let pairs: Vec<(&Placement, &Placement)> = classes
                .chars()
                .map(|c| (&base, &envs["-abc".find(c).unwrap()]))
                .collect();
            shared_value(&pairs, |p| &p.storage_class)
                .cloned()
                .flatten()
        };
        // `-` is a database the environment leaves alone.
        for (classes, expected) in [
            ("", None),
            ("--", None),
            ("a", None),
            ("aa", Some("a")),
            ("aaaa-", Some("a")),
            ("ab", None),
            ("aab", Some("a")),
            ("abb", Some("b")),
            ("aab--", None),
            ("abab", Some("a")),
            ("baba", Some("b")),
        ] {
            assert_eq!(shared(classes).as_deref(), expected, "{classes}");
        }
    }

    /// A sidecar put in front of each server container (the reloader of issue 10, say) takes the
    /// workload's image but never the server's resources: patches follow names, not positions.
    #[test]
    fn patches_follow_container_names_not_positions() {
        let platform = crate::check(include_str!(
            "../../tests/fixtures/three-environments/bakery.toml"
        ))
        .platform
        .expect("the fixture is valid");
        let mut base = crate::compile::compile(&platform);
        base.retain(|path, _| path.starts_with("base/"));
        for document in base.values_mut() {
            let Document::Objects(objects) = document else {
                continue;
            };
            for object in objects {
                if let Object::Deployment(deployment) = object {
                    let pod = deployment.spec.as_mut().unwrap().template.spec.as_mut();
                    pod.unwrap().containers.insert(
                        0,
                        Container {
                            name: "sidecar".into(),
                            ..Default::default()
                        },
                    );
                }
            }
        }
        let prod = platform
            .environments
            .iter()
            .find(|e| e.name.as_str() == "prod")
            .unwrap();
        let prepared = Overlay::new(&platform, prod);
        let objects_of = |workload: &str| match base.get(&format!("base/{workload}.yaml")) {
            Some(Document::Objects(objects)) => objects.as_slice(),
            _ => &[],
        };
        let first = objects_of(&platform.databases[0].names().workload);
        let mut overlay = prepared.shared_patches(&platform, first);
        for db in &platform.databases {
            overlay.extend(prepared.database_patches(db, objects_of(&db.names().workload)));
        }
        if let Some(cache) = &platform.cache {
            overlay.extend(prepared.cache_patches(cache, objects_of(&cache.names().workload)));
        }
        let overlay: BTreeMap<String, Document> = overlay
            .into_iter()
            .map(|(path, document, _)| (path, document))
            .collect();
        let (mut resources, mut sidecar_images) = (0, 0);
        for (path, document) in &overlay {
            let Document::StrategicMergePatch(patch) = document else {
                continue;
            };
            let containers = patch["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap();
            for container in containers {
                let name = container["name"].as_str().unwrap();
                let server = name == database::SERVER_CONTAINER || name == cache::SERVER_CONTAINER;
                assert!(
                    server || container.get("resources").is_none(),
                    "{path}: {name} got the server's resources"
                );
                resources += usize::from(container.get("resources").is_some());
                sidecar_images +=
                    usize::from(name == "sidecar" && container.get("image").is_some());
            }
        }
        assert!(
            resources >= 1 && sidecar_images >= 1,
            "the fixture's prod no longer changes resources and an image: {overlay:#?}"
        );
    }
}
