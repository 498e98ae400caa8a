//! Per-environment mutual TLS: when an environment's `client_certificates` differs from `[tls]`,
//! the patches of its overlay that make the servers demand (or stop demanding) client
//! certificates: each database's pg_hba.conf and Redis's `tls-auth-clients` in its runtime
//! settings file (`<cache>-config`), both applied in place by their pods' reloaders, so no pod
//! restarts and no pod template differs between environments for it. Everything else (certificates, profiles) is the same in
//! every environment, so the base carries it. It only adds files and patch references.

use serde_json::json;

use super::overlay::{PatchOperation, PatchRef, PatchTarget};
use super::{Document, Tree, cache, config_files};
use crate::model::{Environment, Platform};

/// Adds the environment's mTLS patches to `tree` (its overlay already in it).
pub fn extend_overlay(platform: &Platform, environment: &Environment, tree: &mut Tree) {
    let wanted = environment.client_certificates;
    if wanted == platform.tls.client_certificates {
        return;
    }
    let dir = format!("overlays/{}", environment.name);
    let mut patches = Vec::new();
    // Without `[[client]]`, pg_hba.conf does not depend on client certificates (the patch would
    // repeat the base), but Redis's `tls-auth-clients` does, as it does under `[tls]`.
    let databases = if platform.clients.is_empty() {
        &[][..]
    } else {
        &platform.databases[..]
    };
    for db in databases {
        let names = db.names();
        patches.push((
            "ConfigMap",
            names.config_map.clone(),
            vec![replace(
                "/data/pg_hba.conf",
                json!(config_files::pg_hba_conf(platform, db, wanted)),
            )],
        ));
    }
    if let Some(cache) = &platform.cache {
        patches.push((
            "ConfigMap",
            cache::config_map_name(cache),
            vec![replace(
                &format!("/data/{}", cache::CONFIG_KEY),
                json!(cache::redis_conf(platform, cache, wanted)),
            )],
        ));
    }
    let documents: Vec<(&str, String, Document)> = patches
        .into_iter()
        .map(|(kind, name, ops)| (kind, name, Document::JsonPatch(ops)))
        .collect();
    let mut references = Vec::new();
    for (kind, name, document) in documents {
        let path = format!("patches/mtls-{}-{name}.yaml", kind.to_ascii_lowercase());
        tree.insert(format!("{dir}/{path}"), document);
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
