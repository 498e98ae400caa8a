//! trust-manager (`trust.cert-manager.io/v1alpha1`): the cluster-scoped `Bundle` that copies
//! CA certificates from a Secret of trust-manager's trust namespace into a ConfigMap of every
//! selected namespace. Only the fields bakeryc sets, spelt as the v0.24 CRD spells them; a field
//! not listed here must not be added without a test against the CRD.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `Bundle`: trust-manager writes `target` (named after the Bundle) from `sources`.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "trust.cert-manager.io",
    version = "v1alpha1",
    kind = "Bundle",
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct BundleSpec {
    pub sources: Vec<BundleSource>,
    pub target: BundleTarget,
}

/// One source; bakeryc only reads a key of a Secret (in the trust namespace).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct BundleSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SourceObjectKeySelector>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct SourceObjectKeySelector {
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<KeyTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
}

/// The key of the written ConfigMap that holds the PEM bundle.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct KeyTarget {
    pub key: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub match_labels: BTreeMap<String, String>,
}
