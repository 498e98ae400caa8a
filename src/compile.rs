//! Model to Kubernetes objects: the base (every workload of the platform) and one overlay per
//! environment, as typed k8s-openapi objects and kustomize documents. Pure: no I/O, no YAML text
//! (that is `render`'s job), and the same platform always compiles to the same tree.

pub mod adopt;
mod argocd;
pub mod backup;
mod cache;
pub mod certificates;
mod client;
mod config_files;
mod database;
pub mod external_secrets;
mod meta;
pub mod monitoring;
mod mtls;
mod network;
mod overlay;
mod pod;
mod storage;
mod sync_wave;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rayon::prelude::*;
use serde::Serialize;

use crate::crd::argocd::Application;
use crate::crd::cert_manager::{Certificate, ClusterIssuer, Issuer};
use crate::crd::external_secrets::{ExternalSecret, Password};
use crate::crd::prometheus::PrometheusRule;
use crate::crd::trust_manager::Bundle;
use crate::model::{Cache, Database, Environment, PasswordSource, Platform, SecretsProvider};
use crate::secrets::Workload;

pub use cache::CONFIG_KEY as REDIS_CONFIG_KEY;
pub use client::uncovered_profile_hosts;
pub use overlay::{Kustomization, PatchOperation, PatchRef, PatchTarget};
use overlay::{Overlay, PatchFile};
pub use sync_wave::{ANNOTATION as SYNC_WAVE_ANNOTATION, wave as sync_wave};

/// One Kubernetes object, built-in (k8s-openapi) or custom resource (`crate::crd`); serialises to
/// exactly the object, with `apiVersion` and `kind`. Objects render in the order compile lists
/// them, so adding a variant never reorders existing output.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    ConfigMap(ConfigMap),
    CronJob(Box<CronJob>),
    Deployment(Box<Deployment>),
    NetworkPolicy(NetworkPolicy),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Service(Service),
    Certificate(Box<Certificate>),
    Issuer(Box<Issuer>),
    ClusterIssuer(Box<ClusterIssuer>),
    Bundle(Box<Bundle>),
    PrometheusRule(Box<PrometheusRule>),
    ExternalSecret(Box<ExternalSecret>),
    Password(Box<Password>),
    Application(Box<Application>),
}

impl Object {
    /// The workload an object with a pod template belongs to (its `app.kubernetes.io/instance`
    /// label, else its name), as `plan` groups objects; `None` for an object without pods.
    pub fn workload(&self) -> Option<String> {
        let metadata = match self {
            Object::Deployment(o) => &o.metadata,
            Object::CronJob(o) => &o.metadata,
            _ => return None,
        };
        metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get("app.kubernetes.io/instance"))
            .or(metadata.name.as_ref())
            .cloned()
    }

    /// The object's `kind`, as written in its YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::ConfigMap(_) => "ConfigMap",
            Object::CronJob(_) => "CronJob",
            Object::Deployment(_) => "Deployment",
            Object::NetworkPolicy(_) => "NetworkPolicy",
            Object::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Object::Service(_) => "Service",
            Object::Certificate(_) => "Certificate",
            Object::Issuer(_) => "Issuer",
            Object::ClusterIssuer(_) => "ClusterIssuer",
            Object::ExternalSecret(_) => "ExternalSecret",
            Object::Password(_) => "Password",
            Object::Application(_) => "Application",
            Object::Bundle(_) => "Bundle",
            Object::PrometheusRule(_) => "PrometheusRule",
        }
    }

    pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::ConfigMap(o) => &mut o.metadata,
            Object::CronJob(o) => &mut o.metadata,
            Object::Deployment(o) => &mut o.metadata,
            Object::NetworkPolicy(o) => &mut o.metadata,
            Object::PersistentVolumeClaim(o) => &mut o.metadata,
            Object::Service(o) => &mut o.metadata,
            Object::Certificate(o) => &mut o.metadata,
            Object::Issuer(o) => &mut o.metadata,
            Object::ClusterIssuer(o) => &mut o.metadata,
            Object::ExternalSecret(o) => &mut o.metadata,
            Object::Password(o) => &mut o.metadata,
            Object::Application(o) => &mut o.metadata,
            Object::Bundle(o) => &mut o.metadata,
            Object::PrometheusRule(o) => &mut o.metadata,
        }
    }
}

/// The content of one generated file.
#[derive(Clone, Debug, PartialEq)]
pub enum Document {
    /// Kubernetes objects, one YAML document each, in this order.
    Objects(Vec<Object>),
    Kustomization(Kustomization),
    /// An RFC 6902 JSON patch applied by an overlay (volume claims).
    JsonPatch(Vec<PatchOperation>),
    /// A strategic-merge patch applied by an overlay: a partial object whose list entries
    /// (containers) are matched by name.
    StrategicMergePatch(serde_json::Value),
    /// A configuration file that is no Kubernetes object (Argo CD's plugin.yaml).
    Config(serde_json::Value),
}

/// Every generated file, keyed by its path relative to the output directory (`base/auth-db.yaml`).
pub type Tree = BTreeMap<String, Document>;

/// The generator and ExternalSecret of a workload when External Secrets generates its password
/// (the same in every environment, so in the base).
fn generated_secrets(platform: &Platform, workload: Workload<'_>) -> Vec<Object> {
    match &platform.secrets {
        SecretsProvider::ExternalSecrets(source @ PasswordSource::Generator) => {
            external_secrets::objects(platform, workload, source, "")
        }
        _ => Vec::new(),
    }
}

/// The declared clients' profiles (and, with External Secrets, their credentials).
pub const CLIENTS_FILE: &str = "base/clients.yaml";

/// A part of the tree that compiles on its own: one database (its base file and its patches in
/// every overlay), the cache likewise, or one file of the platform. A build compiles, renders and
/// writes one part at a time on each core and keeps only what the kustomizations list (an
/// [`Index`]), so its memory is that of a few parts, not of the whole tree.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    Database(&'a Database),
    Cache(&'a Cache),
    Clients,
    BackupCipher,
    Certificates,
    Monitoring,
    /// With a secret store, one environment's ExternalSecrets (its keys name the environment).
    StoreSecrets(&'a Environment),
    ArgoCd,
}

/// What a part adds to the kustomizations: the base files it made, and per environment the
/// patches and resources its overlay lists. Merged in the parts' order, so the kustomizations
/// come out the same however the parts were scheduled.
#[derive(Debug, Default)]
pub struct Index {
    base: Vec<String>,
    /// The workloads of the base: see [`Object::workload`].
    workloads: BTreeSet<String>,
    overlays: BTreeMap<String, OverlayIndex>,
}

#[derive(Debug, Default)]
struct OverlayIndex {
    /// Each workload's own placement patches (listed sorted by path, after the shared ones).
    placement: Vec<PatchRef>,
    /// mTLS patches, in the parts' order (databases, then the cache).
    mtls: Vec<PatchRef>,
    /// Backup patches (listed sorted by path, last).
    backup: Vec<PatchRef>,
    /// Objects only this environment's backup policy has (`backup.yaml`), in the parts' order.
    backup_objects: Vec<Object>,
    /// Extra resources of the overlay (its ExternalSecrets file).
    resources: Vec<String>,
    /// The workloads of the objects only this overlay has.
    workloads: BTreeSet<String>,
}

impl Index {
    /// Adds `other`, a later part's index.
    pub fn merge(&mut self, other: Index) {
        self.base.extend(other.base);
        self.workloads.extend(other.workloads);
        for (env, overlay) in other.overlays {
            let mine = self.overlays.entry(env).or_default();
            mine.placement.extend(overlay.placement);
            mine.mtls.extend(overlay.mtls);
            mine.backup.extend(overlay.backup);
            mine.backup_objects.extend(overlay.backup_objects);
            mine.resources.extend(overlay.resources);
            mine.workloads.extend(overlay.workloads);
        }
    }

    fn overlay(&mut self, environment: &Environment) -> &mut OverlayIndex {
        self.overlays
            .entry(environment.name.as_str().to_owned())
            .or_default()
    }
}

/// How many workloads (objects with pods, grouped as [`Object::workload`] says) a tree runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workloads {
    /// In the base.
    pub base: usize,
    /// In each environment: the base's and those of the objects only its overlay has.
    pub environments: BTreeMap<String, usize>,
}

/// The compiler of one platform: its parts, and what every part shares (each environment's
/// overlay, prepared once).
pub struct Compiler<'a> {
    platform: &'a Platform,
    overlays: Vec<Overlay<'a>>,
    /// Whether some environment has a backup policy of its own.
    backup_overlays: bool,
}

impl<'a> Compiler<'a> {
    pub fn new(platform: &'a Platform) -> Self {
        Self {
            platform,
            overlays: platform
                .environments
                .iter()
                .map(|environment| Overlay::new(platform, environment))
                .collect(),
            backup_overlays: platform.environments.iter().any(|environment| {
                backup::environment_policy(platform, environment.name.as_str()).is_some()
            }),
        }
    }

    /// Every part of the tree, databases first (in their order), then the cache, then the
    /// platform's files; the kustomizations come last, from the parts' indexes.
    pub fn parts(&self) -> Vec<Part<'a>> {
        let platform = self.platform;
        let mut parts: Vec<Part<'a>> = platform.databases.iter().map(Part::Database).collect();
        parts.extend(platform.cache.as_ref().map(Part::Cache));
        parts.extend([
            Part::Clients,
            Part::BackupCipher,
            Part::Certificates,
            Part::Monitoring,
        ]);
        if let SecretsProvider::ExternalSecrets(PasswordSource::Store { .. }) = &platform.secrets {
            parts.extend(platform.environments.iter().map(Part::StoreSecrets));
        }
        parts.push(Part::ArgoCd);
        parts
    }

    /// One part's files and what it adds to the kustomizations.
    pub fn part(&self, part: Part<'_>) -> (Tree, Index) {
        let platform = self.platform;
        let mut tree = Tree::new();
        let mut index = Index::default();
        match part {
            Part::Database(db) => {
                let mut objects = database::objects(platform, db);
                // An environment with its own backup policy wires it into this Deployment.
                let unwired = objects.iter().find_map(|o| match o {
                    Object::Deployment(d) if self.backup_overlays => Some(d.clone()),
                    _ => None,
                });
                database::add_backup(platform, db, &mut objects);
                objects.extend(generated_secrets(platform, Workload::Database(db)));
                for overlay in &self.overlays {
                    let environment = overlay.environment;
                    let mine = index.overlay(environment);
                    let placement = overlay.database_patches(db, &objects);
                    add_patches(&mut tree, placement, &mut mine.placement);
                    let mtls = mtls::database_patch(platform, environment, &overlay.dir, db);
                    add_patches(&mut tree, mtls, &mut mine.mtls);
                    if let (Some(policy), Some(unwired)) = (
                        backup::environment_policy(platform, environment.name.as_str()),
                        &unwired,
                    ) {
                        let (files, mut added) =
                            backup::database_overlay(platform, db, policy, &overlay.dir, unwired);
                        add_patches(&mut tree, files, &mut mine.backup);
                        sync_wave::annotate(&mut added);
                        mine.workloads
                            .extend(added.iter().filter_map(Object::workload));
                        mine.backup_objects.extend(added);
                    }
                }
                add_base(
                    &mut tree,
                    &mut index,
                    format!("base/{}.yaml", db.names().workload),
                    objects,
                );
            }
            Part::Cache(cache) => {
                let mut objects = cache::objects(platform, cache);
                objects.extend(generated_secrets(platform, Workload::Cache(cache)));
                for overlay in &self.overlays {
                    let environment = overlay.environment;
                    let mine = index.overlay(environment);
                    let placement = overlay.cache_patches(cache, &objects);
                    add_patches(&mut tree, placement, &mut mine.placement);
                    let mtls = mtls::cache_patch(platform, environment, &overlay.dir, cache);
                    add_patches(&mut tree, mtls, &mut mine.mtls);
                }
                add_base(
                    &mut tree,
                    &mut index,
                    format!("base/{}.yaml", cache.names().workload),
                    objects,
                );
            }
            Part::Clients => {
                let objects = platform
                    .clients
                    .iter()
                    .flat_map(|c| {
                        client::client_config_maps(platform, c)
                            .into_iter()
                            .map(Object::ConfigMap)
                            .chain(generated_secrets(platform, Workload::Client(c)))
                    })
                    .collect();
                add_base(&mut tree, &mut index, CLIENTS_FILE.to_owned(), objects);
            }
            Part::BackupCipher => {
                if let SecretsProvider::ExternalSecrets(source @ PasswordSource::Generator) =
                    &platform.secrets
                {
                    let objects = external_secrets::backup_cipher_objects(platform, source, "");
                    add_base(
                        &mut tree,
                        &mut index,
                        "base/backup-cipher.yaml".to_owned(),
                        objects,
                    );
                }
            }
            Part::Certificates => {
                add_base(
                    &mut tree,
                    &mut index,
                    certificates::FILE.to_owned(),
                    certificates::objects(platform),
                );
            }
            Part::Monitoring => {
                let objects = monitoring::prometheus_rule(platform)
                    .map(|rule| Object::PrometheusRule(Box::new(rule)))
                    .into_iter()
                    .collect();
                add_base(&mut tree, &mut index, monitoring::FILE.to_owned(), objects);
            }
            Part::StoreSecrets(environment) => {
                if let SecretsProvider::ExternalSecrets(source @ PasswordSource::Store { .. }) =
                    &platform.secrets
                {
                    let name = environment.name.as_str();
                    let objects = crate::secrets::workloads(platform)
                        .into_iter()
                        .flat_map(|w| external_secrets::objects(platform, w, source, name))
                        .chain(external_secrets::backup_cipher_objects(
                            platform, source, name,
                        ))
                        .collect();
                    tree.insert(
                        format!("overlays/{name}/external-secrets.yaml"),
                        Document::Objects(objects),
                    );
                    index
                        .overlay(environment)
                        .resources
                        .push("external-secrets.yaml".into());
                }
            }
            Part::ArgoCd => {
                // Argo CD's own objects are outside the sync waves they order: returned as made.
                if let Some(gitops) = &platform.gitops {
                    tree.extend(argocd::files(platform, gitops));
                }
                return (tree, index);
            }
        }
        // Every object of every family and overlay is ordered by the one rule.
        sync_wave::annotate(tree.values_mut().flat_map(|document| match document {
            Document::Objects(objects) => objects.as_mut_slice(),
            _ => &mut [],
        }));
        for (path, document) in &tree {
            if let (true, Document::Objects(objects)) = (path.starts_with("base/"), document) {
                index
                    .workloads
                    .extend(objects.iter().filter_map(Object::workload));
            }
        }
        (tree, index)
    }

    /// How many workloads the base and each environment run, from the parts' merged index: what
    /// `plan` reports as unchanged when the tree on disk is already this one.
    pub fn workloads(&self, index: &Index) -> Workloads {
        Workloads {
            base: index.workloads.len(),
            environments: self
                .overlays
                .iter()
                .map(|overlay| {
                    let name = overlay.environment.name.as_str();
                    let own = index.overlays.get(name).map(|o| &o.workloads);
                    let count = index
                        .workloads
                        .union(&own.cloned().unwrap_or_default())
                        .count();
                    (name.to_owned(), count)
                })
                .collect(),
        }
    }

    /// The kustomizations (the base's and each overlay's) and the files made from every part
    /// together (an environment's shared database patches, its `backup.yaml`), from the parts'
    /// merged index.
    pub fn kustomizations(&self, mut index: Index) -> Tree {
        let platform = self.platform;
        let mut tree = Tree::new();
        index.base.sort();
        tree.insert(
            "base/kustomization.yaml".into(),
            Document::Kustomization(Kustomization::new(index.base, Vec::new())),
        );
        // The shared patches follow the first database's containers, as its base file has them.
        let first = platform
            .databases
            .first()
            .map(|db| database::objects_with_backup(platform, db))
            .unwrap_or_default();
        for overlay in &self.overlays {
            let mine = index
                .overlays
                .remove(overlay.environment.name.as_str())
                .unwrap_or_default();
            let mut resources = vec!["../../base".to_owned()];
            let mut patches = Vec::new();
            add_patches(
                &mut tree,
                overlay.shared_patches(platform, &first),
                &mut patches,
            );
            let mut placement = mine.placement;
            placement.sort_by(|a, b| a.path.cmp(&b.path));
            patches.extend(placement);
            patches.extend(mine.mtls);
            if !mine.backup_objects.is_empty() {
                tree.insert(
                    format!("{}/backup.yaml", overlay.dir),
                    Document::Objects(mine.backup_objects),
                );
                resources.push("backup.yaml".to_owned());
            }
            let mut backup = mine.backup;
            backup.sort_by(|a, b| a.path.cmp(&b.path));
            patches.extend(backup);
            resources.extend(mine.resources);
            tree.insert(
                format!("{}/kustomization.yaml", overlay.dir),
                Document::Kustomization(Kustomization::new(resources, patches)),
            );
        }
        tree
    }
}

/// Adds a base file of `objects` (none when there are none) and lists it in the base.
fn add_base(tree: &mut Tree, index: &mut Index, path: String, objects: Vec<Object>) {
    if !objects.is_empty() {
        index.base.push(path.trim_start_matches("base/").to_owned());
        tree.insert(path, Document::Objects(objects));
    }
}

/// Adds patch files to `tree` and their references to `references`.
fn add_patches(
    tree: &mut Tree,
    files: impl IntoIterator<Item = PatchFile>,
    references: &mut Vec<PatchRef>,
) {
    for (path, document, reference) in files {
        tree.insert(path, document);
        references.push(reference);
    }
}

/// Compiles the platform into the base and one overlay per environment, held whole (tests,
/// `plan`, `render`); `build` streams the same parts instead.
pub fn compile(platform: &Platform) -> Tree {
    let compiler = Compiler::new(platform);
    // Parts compile independently; merging in the parts' order keeps the output fixed.
    let parts: Vec<(Tree, Index)> = compiler
        .parts()
        .into_par_iter()
        .map(|part| compiler.part(part))
        .collect();
    let mut tree = Tree::new();
    let mut index = Index::default();
    for (files, part_index) in parts {
        tree.extend(files);
        index.merge(part_index);
    }
    tree.extend(compiler.kustomizations(index));
    tree
}
