//! cert-manager (`cert-manager.io/v1`): `Certificate`, `Issuer` and `ClusterIssuer`, with the
//! fields bakeryc sets (a self-signed or CA issuer, and server certificates with their SANs,
//! lifetimes, key and usages). Field names and enum spellings follow the v1.21 CRDs exactly; a
//! field not listed here is one bakeryc does not set, and must not be added without a test
//! against the CRD.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// `Certificate`: a Secret of type `kubernetes.io/tls` that cert-manager issues and renews.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// The Secret cert-manager writes (`tls.crt`, `tls.key`, `ca.crt`).
    pub secret_name: String,
    pub issuer_ref: IssuerRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub dns_names: Vec<String>,
    /// `isCA`, not the camelCase `isCa`: the CRD spells it so, and a structural schema would drop
    /// the misspelling in silence.
    #[serde(rename = "isCA", skip_serializing_if = "Option::is_none")]
    pub is_ca: Option<bool>,
    /// A Go duration (`2160h`); cert-manager does not read days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PrivateKey>,
    /// Setting usages replaces cert-manager's defaults, so the list is always complete.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub usages: Vec<KeyUsage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_template: Option<SecretTemplate>,
}

/// The issuer a Certificate is signed by. `kind` defaults to `Issuer` in cert-manager; bakeryc
/// always writes it so that the reference reads the same in every file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<IssuerKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub enum IssuerKind {
    Issuer,
    ClusterIssuer,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub organizations: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub organizational_units: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub countries: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub provinces: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub localities: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<KeyAlgorithm>,
    /// Bits for RSA (2048, 3072, 4096), curve size for ECDSA (256, 384, 521).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<KeyEncoding>,
    /// Written explicitly: cert-manager 1.18 changed the default from `Never` to `Always`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<RotationPolicy>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "ECDSA")]
    Ecdsa,
    Ed25519,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub enum KeyEncoding {
    #[serde(rename = "PKCS1")]
    Pkcs1,
    #[serde(rename = "PKCS8")]
    Pkcs8,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub enum RotationPolicy {
    Never,
    Always,
}

/// The key usages bakeryc asks for (the CRD's enum has more).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Serialize)]
pub enum KeyUsage {
    #[serde(rename = "digital signature")]
    DigitalSignature,
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
    #[serde(rename = "cert sign")]
    CertSign,
    #[serde(rename = "crl sign")]
    CrlSign,
    #[serde(rename = "server auth")]
    ServerAuth,
    #[serde(rename = "client auth")]
    ClientAuth,
}

/// Labels and annotations cert-manager copies onto the Secret it writes.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct SecretTemplate {
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

/// `Issuer`: signs Certificates of its own namespace.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct IssuerSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
}

/// `ClusterIssuer`: the same issuers, usable from every namespace.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIssuerSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_signed: Option<SelfSignedIssuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaIssuer>,
}

/// Signs each certificate with its own key: only used to bootstrap the CA.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct SelfSignedIssuer {}

/// Signs with the CA key pair in `secretName` (in the Issuer's namespace, or cert-manager's
/// cluster resource namespace for a ClusterIssuer).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    pub secret_name: String,
}
