//! Argo CD (`argoproj.io/v1alpha1`): the `Application`, with the fields bakeryc sets (a git
//! source path, a destination, automated sync). Field names follow the Argo CD CRDs exactly
//! (`repoURL`, not `repoUrl`); a field not listed here is one bakeryc does not set, and must not
//! be added without a test against the CRD.

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `Application`: Argo CD keeps the destination in sync with the source path in git.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "Application",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    pub source: Source,
    pub destination: Destination,
    pub sync_policy: SyncPolicy,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub target_revision: String,
    pub path: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct Destination {
    pub server: String,
    pub namespace: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    pub automated: Automated,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub sync_options: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    pub prune: bool,
    pub self_heal: bool,
}
