//! `[gitops]`: generated/argocd/, one Argo CD `Application` per environment whose source is that
//! environment's overlay in git, and `plugin/plugin.yaml`, the `ConfigManagementPlugin` for teams
//! that let Argo CD run bakeryc itself. One Application per environment rather than one
//! ApplicationSet: each file is the whole, reviewable truth for its environment (no generator
//! templating to expand in one's head), environments sync and pause independently, and no
//! ApplicationSet controller is needed. These objects get no sync wave: they are what syncs.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use super::{Document, Object, Tree};
use crate::crd::argocd::{
    Application, ApplicationSpec, Automated, Destination, Source, SyncPolicy,
};
use crate::model::{Gitops, Platform};

/// The namespace Argo CD runs in, where Applications live.
pub const ARGOCD_NAMESPACE: &str = "argocd";
/// The plugin's file, under argocd/ but in its own folder, so that an app-of-apps pointed at
/// argocd/ (not recursive) finds the Applications only.
pub const PLUGIN_FILE: &str = "argocd/plugin/plugin.yaml";

/// The files of generated/argocd/.
pub fn files(platform: &Platform, gitops: &Gitops) -> Tree {
    let mut tree = Tree::new();
    for environment in &platform.environments {
        let name = environment.name.as_str();
        let destination = &gitops.destinations[name];
        let path = if gitops.path.is_empty() {
            format!("overlays/{name}")
        } else {
            format!("{}/overlays/{name}", gitops.path)
        };
        let mut labels = BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_owned(),
                "bakeryc".to_owned(),
            ),
            (
                "app.kubernetes.io/part-of".to_owned(),
                platform.name.to_string(),
            ),
        ]);
        labels.extend(
            platform
                .labels
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned())),
        );
        let application = Application {
            metadata: ObjectMeta {
                name: Some(format!("{}-{name}", platform.name)),
                namespace: Some(ARGOCD_NAMESPACE.to_owned()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: ApplicationSpec {
                project: gitops.project.clone(),
                source: Source {
                    repo_url: gitops.repo_url.clone(),
                    target_revision: gitops.revision.clone(),
                    path,
                },
                destination: Destination {
                    server: destination.server.clone(),
                    namespace: destination.namespace.clone(),
                },
                sync_policy: SyncPolicy {
                    automated: Automated {
                        prune: true,
                        self_heal: true,
                    },
                    // The namespace is the platform's; creating it lets the first sync start
                    // from an empty cluster.
                    sync_options: vec!["CreateNamespace=true".to_owned()],
                },
            },
        };
        tree.insert(
            format!("argocd/{name}.yaml"),
            Document::Objects(vec![Object::Application(Box::new(application))]),
        );
    }
    tree.insert(PLUGIN_FILE.to_owned(), Document::Config(plugin()));
    tree
}

/// Argo CD's sidecar plugin configuration (not a Kubernetes object): `discover` matches a
/// repository with bakery.toml at the source path; `generate` is `bakeryc render`, which prints
/// the environment's overlay (`ARGOCD_ENV_BAKERY_ENV`: Argo CD prefixes the `BAKERY_ENV` of the
/// Application's `source.plugin.env` with `ARGOCD_ENV_`) as one YAML stream, diagnostics on
/// stderr, and writes nothing in the checkout. A shell expands the variable (Argo CD runs the
/// command as given); `exec` leaves bakeryc's exit code as the plugin's.
fn plugin() -> serde_json::Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ConfigManagementPlugin",
        "metadata": {"name": "bakeryc"},
        "spec": {
            "version": "v1",
            "discover": {"fileName": "./bakery.toml"},
            "generate": {
                "command": ["sh", "-c"],
                "args": [
                    "exec bakeryc render --color never --env \"$ARGOCD_ENV_BAKERY_ENV\""
                ],
            },
        },
    })
}
