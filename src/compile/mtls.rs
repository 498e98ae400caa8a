//! Per-environment mutual TLS: when an environment's `client_certificates` differs from `[tls]`,
//! the patches of its overlay that make the servers demand (or stop demanding) client
//! certificates: each database's pg_hba.conf with its pod's config digest, and Redis's
//! `tls-auth-clients` in its arguments. Everything else (certificates, profiles) is the same in
//! every environment, so the base carries it. It only adds files and patch references.

use serde_json::json;

use super::overlay::{PatchOperation, PatchRef, PatchTarget};
use super::{Document, Tree, cache, config_files, database};
use crate::model::{Environment, Platform};

/// Adds the environment's mTLS patches to `tree` (its overlay already in it).
pub fn extend_overlay(platform: &Platform, environment: &Environment, tree: &mut Tree) {
    let wanted = environment.client_certificates;
    if platform.clients.is_empty() || wanted == platform.tls.client_certificates {
        return;
    }
    let dir = format!("overlays/{}", environment.name);
    let mut patches = Vec::new();
    for db in &platform.databases {
        let names = db.names();
        patches.push((
            "ConfigMap",
            names.config_map.clone(),
            vec![replace(
                "/data/pg_hba.conf",
                json!(config_files::pg_hba_conf(platform, db, wanted)),
            )],
        ));
        patches.push((
            "Deployment",
            names.workload.clone(),
            vec![replace(
                "/spec/template/metadata/annotations/bakeryc.dev~1config-digest",
                json!(database::config_digest(platform, db, wanted)),
            )],
        ));
    }
    if let Some(cache) = &platform.cache {
        patches.push((
            "Deployment",
            cache.names().workload,
            vec![replace(
                "/spec/template/spec/containers/0/args",
                json!(cache::redis_args_with(platform, cache, wanted)),
            )],
        ));
    }
    let mut references = Vec::new();
    for (kind, name, ops) in patches {
        let path = format!("patches/mtls-{}-{name}.yaml", kind.to_ascii_lowercase());
        tree.insert(format!("{dir}/{path}"), Document::JsonPatch(ops));
        references.push(PatchRef {
            path,
            target: PatchTarget {
                kind,
                name: Some(name),
                label_selector: None,
            },
        });
    }
    if let Some(Document::Kustomization(kustomization)) =
        tree.get_mut(&format!("{dir}/kustomization.yaml"))
    {
        kustomization.patches.extend(references);
    }
}

fn replace(path: &str, value: serde_json::Value) -> PatchOperation {
    PatchOperation {
        op: "replace",
        path: path.to_owned(),
        value: Some(value),
    }
}
