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

use std::collections::BTreeMap;

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
use crate::model::{PasswordSource, Platform, SecretsProvider};
use crate::secrets::Workload;

pub use cache::CONFIG_KEY as REDIS_CONFIG_KEY;
pub use client::uncovered_profile_hosts;
pub use overlay::{Kustomization, PatchOperation, PatchRef, PatchTarget};
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

/// Compiles the platform into the base and one overlay per environment.
pub fn compile(platform: &Platform) -> Tree {
    // Databases compile independently; the BTreeMap puts them back in a fixed order.
    let mut tree: Tree = platform
        .databases
        .par_iter()
        .map(|db| {
            let file = format!("base/{}.yaml", db.names().workload);
            let mut objects = database::objects_with_backup(platform, db);
            objects.extend(generated_secrets(platform, Workload::Database(db)));
            (file, Document::Objects(objects))
        })
        .collect();
    if let Some(cache) = &platform.cache {
        let file = format!("base/{}.yaml", cache.names().workload);
        let mut objects = cache::objects(platform, cache);
        objects.extend(generated_secrets(platform, Workload::Cache(cache)));
        tree.insert(file, Document::Objects(objects));
    }
    if !platform.clients.is_empty() {
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
        tree.insert(CLIENTS_FILE.to_owned(), Document::Objects(objects));
    }
    if let SecretsProvider::ExternalSecrets(source @ PasswordSource::Generator) = &platform.secrets
    {
        let cipher = external_secrets::backup_cipher_objects(platform, source, "");
        if !cipher.is_empty() {
            tree.insert(
                "base/backup-cipher.yaml".to_owned(),
                Document::Objects(cipher),
            );
        }
    }
    let certificates = certificates::objects(platform);
    if !certificates.is_empty() {
        tree.insert(
            certificates::FILE.to_owned(),
            Document::Objects(certificates),
        );
    }
    if let Some(rule) = monitoring::prometheus_rule(platform) {
        tree.insert(
            monitoring::FILE.to_owned(),
            Document::Objects(vec![Object::PrometheusRule(Box::new(rule))]),
        );
    }
    let resources = tree
        .keys()
        .map(|path| path.trim_start_matches("base/").to_owned())
        .collect();
    tree.insert(
        "base/kustomization.yaml".into(),
        Document::Kustomization(Kustomization::new(resources, Vec::new())),
    );
    for environment in &platform.environments {
        let overlay = overlay::files(platform, environment, &tree);
        tree.extend(overlay);
        mtls::extend_overlay(platform, environment, &mut tree);
        let (files, resources, patches) = backup::overlay(platform, environment.name.as_str());
        tree.extend(files);
        if let Some(Document::Kustomization(kustomization)) =
            tree.get_mut(&format!("overlays/{}/kustomization.yaml", environment.name))
        {
            kustomization.resources.extend(resources);
            kustomization.patches.extend(patches);
        }
        if let SecretsProvider::ExternalSecrets(source @ PasswordSource::Store { .. }) =
            &platform.secrets
        {
            // A store's keys name the environment, so its ExternalSecrets live in each overlay.
            let dir = format!("overlays/{}", environment.name);
            let objects = crate::secrets::workloads(platform)
                .into_iter()
                .flat_map(|w| {
                    external_secrets::objects(platform, w, source, environment.name.as_str())
                })
                .chain(external_secrets::backup_cipher_objects(
                    platform,
                    source,
                    environment.name.as_str(),
                ))
                .collect();
            tree.insert(
                format!("{dir}/external-secrets.yaml"),
                Document::Objects(objects),
            );
            if let Some(Document::Kustomization(kustomization)) =
                tree.get_mut(&format!("{dir}/kustomization.yaml"))
            {
                kustomization.resources.push("external-secrets.yaml".into());
            }
        }
    }
    // Last, so that every object of every family and overlay is ordered by the one rule.
    sync_wave::annotate(tree.values_mut().flat_map(|document| match document {
        Document::Objects(objects) => objects.as_mut_slice(),
        _ => &mut [],
    }));
    if let Some(gitops) = &platform.gitops {
        tree.extend(argocd::files(platform, gitops));
    }
    tree
}
