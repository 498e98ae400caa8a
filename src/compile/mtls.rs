//! Per-environment mutual TLS: when an environment's `client_certificates` differs from `[tls]`,
//! the patches of its overlay that make the servers demand (or stop demanding) client
//! certificates: each database's pg_hba.conf and Redis's `tls-auth-clients` in its runtime
//! settings file (`<cache>-config`), both applied in place by their pods' reloaders, so no pod
//! restarts and no pod template differs between environments for it. Everything else (certificates, profiles) is the same in
//! every environment, so the base carries it. It only adds files and patch references.

use serde_json::json;

use super::overlay::{PatchFile, PatchOperation, PatchTarget, patch_file};
use super::{Document, cache, config_files};
use crate::model::{Cache, Database, Environment, Platform};

/// Whether `environment` demands client certificates where `[tls]` does not, or the reverse.
fn differs(platform: &Platform, environment: &Environment) -> bool {
    environment.client_certificates != platform.tls.client_certificates
}

/// A database's mTLS patch in the overlay `dir` of `environment` (its pg_hba.conf), if any.
pub fn database_patch(
    platform: &Platform,
    environment: &Environment,
    dir: &str,
    db: &Database,
) -> Option<PatchFile> {
    // Without `[[client]]`, pg_hba.conf does not depend on client certificates (the patch would
    // repeat the base), but Redis's `tls-auth-clients` does, as it does under `[tls]`.
    (!platform.clients.is_empty() && differs(platform, environment)).then(|| {
        let value = config_files::pg_hba_conf(platform, db, environment.client_certificates);
        patch(
            dir,
            db.names().config_map,
            replace("/data/pg_hba.conf", json!(value)),
        )
    })
}

/// The cache's mTLS patch in the overlay `dir` of `environment` (its runtime settings), if any.
pub fn cache_patch(
    platform: &Platform,
    environment: &Environment,
    dir: &str,
    cache: &Cache,
) -> Option<PatchFile> {
    differs(platform, environment).then(|| {
        let value = cache::redis_conf(platform, cache, environment.client_certificates);
        patch(
            dir,
            cache::config_map_name(cache),
            replace(&format!("/data/{}", cache::CONFIG_KEY), json!(value)),
        )
    })
}

/// The file of one ConfigMap's patch and its reference.
fn patch(dir: &str, name: String, operation: PatchOperation) -> PatchFile {
    let path = format!("patches/mtls-configmap-{name}.yaml");
    let document = Document::JsonPatch(vec![operation]);
    patch_file(dir, path, document, PatchTarget::named("ConfigMap", name))
}

fn replace(path: &str, value: serde_json::Value) -> PatchOperation {
    PatchOperation {
        op: "replace",
        path: path.to_owned(),
        value: Some(value),
    }
}
