//! External Secrets Operator: `ExternalSecret` (`external-secrets.io/v1`) and the `Password`
//! generator (`generators.external-secrets.io/v1alpha1`), with the fields bakeryc sets. Field
//! names and enum spellings follow the v2.9 CRDs exactly; a field not listed here is one bakeryc
//! does not set, and must not be added without a test against the CRD.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `ExternalSecret`: the operator writes the Secret `target.name` from a store or a generator.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "external-secrets.io",
    version = "v1",
    kind = "ExternalSecret",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ExternalSecretSpec {
    /// `CreatedOnce`: the Secret is written once and never changed under a running server.
    pub refresh_policy: RefreshPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_store_ref: Option<SecretStoreRef>,
    pub target: Target,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub data: Vec<Data>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub data_from: Vec<DataFrom>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Serialize)]
pub enum RefreshPolicy {
    #[default]
    CreatedOnce,
    Periodic,
    OnChange,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct SecretStoreRef {
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub name: String,
    /// `Owner` (the default) or `Merge`; `Merge` adopts a Secret that already exists.
    pub creation_policy: String,
    pub template: Template,
}

/// The Secret's keys as Go templates (text/template with sprig), over the fetched values.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub engine_version: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub data: BTreeMap<String, String>,
}

/// One value from the store: `remoteRef.key` into `secretKey`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Data {
    pub secret_key: String,
    pub remote_ref: RemoteRef,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct RemoteRef {
    pub key: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataFrom {
    pub source_ref: SourceRef,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRef {
    pub generator_ref: GeneratorRef,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// `Password`: a random password under the key `password`, made when an ExternalSecret asks.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "generators.external-secrets.io",
    version = "v1alpha1",
    kind = "Password",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct PasswordSpec {
    pub length: u32,
    pub digits: u32,
    /// 0: letters and digits only, so the password goes into URLs and Redis's quoted
    /// `requirepass` unescaped.
    pub symbols: u32,
    pub no_upper: bool,
    pub allow_repeat: bool,
}
