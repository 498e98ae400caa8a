//! cert-manager mode (`[tls] provider = "cert-manager"`): the bootstrap issuers and CA
//! Certificate of the namespace (unless `[tls.cert_manager] issuer` names an existing one) and
//! one Certificate per database and cache, writing the TLS Secrets the pods already mount. The
//! SANs, key types and lifetimes are the ones `bakeryc secrets` issues, taken from the same
//! model functions; nothing secret is ever written here, only requests for cert-manager.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Object;
use super::meta::{self, POSTGRES, REDIS};
use crate::crd::cert_manager::{
    CaIssuer, Certificate, CertificateSpec, Issuer, IssuerKind, IssuerRef, IssuerSpec,
    KeyAlgorithm as CmKey, KeyEncoding, KeyUsage, PrivateKey, RotationPolicy, SecretTemplate,
    SelfSignedIssuer, Subject,
};
use crate::crd::trust_manager::{
    Bundle, BundleSource, BundleSpec, BundleTarget, KeyTarget, NamespaceSelector,
    SourceObjectKeySelector,
};
use crate::model::{self, Client, KeyAlgorithm, Period, Platform, TlsProvider, WorkloadNames};

/// What the bootstrap objects are, in `app.kubernetes.io/name` and `component`.
const CA: meta::Kind = meta::Kind {
    app: "cert-manager",
    component: "certificate-authority",
};
const GROUP: &str = "cert-manager.io";

/// The generated file holding every cert-manager object. A workload's file is named after a DNS
/// label, which has no dot, so this name can never collide with one.
pub const FILE: &str = "base/certificates.cert-manager.yaml";

/// The self-signed Issuer that signs only the CA certificate.
pub fn self_signed_issuer(platform: &Platform) -> String {
    format!("{}-selfsigned", platform.name)
}

/// The CA Certificate, and the Issuer that signs the servers' certificates with it.
pub fn ca_issuer(platform: &Platform) -> String {
    format!("{}-ca", platform.name)
}

/// The Secret cert-manager writes the CA into (`tls.crt`, `tls.key`, `ca.crt`).
pub fn ca_secret(platform: &Platform) -> String {
    format!("{}-ca-tls", platform.name)
}

/// Every cert-manager object of the platform, or none in bakeryc mode.
pub fn objects(platform: &Platform) -> Vec<Object> {
    let TlsProvider::CertManager { issuer } = &platform.tls.provider else {
        return Vec::new();
    };
    let mut objects = Vec::new();
    let signer = if let Some(existing) = issuer {
        IssuerRef {
            name: existing.name.as_str().to_owned(),
            kind: Some(match existing.kind {
                model::IssuerKind::ClusterIssuer => IssuerKind::ClusterIssuer,
                model::IssuerKind::Issuer => IssuerKind::Issuer,
            }),
            group: Some(GROUP.into()),
        }
    } else {
        objects.extend(bootstrap(platform));
        issuer_ref(ca_issuer(platform))
    };
    for db in &platform.databases {
        objects.push(server_certificate(platform, POSTGRES, &db.names(), &signer));
    }
    if let Some(cache) = &platform.cache {
        objects.push(server_certificate(platform, REDIS, &cache.names(), &signer));
    }
    for client in &platform.clients {
        objects.push(client_certificate(platform, client, &signer));
    }
    objects
}

/// The client certificate of a declared client (`<client>-client-tls`): CN = its role, which
/// PostgreSQL's `clientcert=verify-full` compares with the login role; usage clientAuth; the key
/// and lifetimes of `[tls.server]`, as `bakeryc secrets` issues it.
fn client_certificate(platform: &Platform, client: &Client, signer: &IssuerRef) -> Object {
    let names = client.names();
    let Object::Certificate(mut certificate) =
        server_certificate(platform, super::client::CLIENT, &names, signer)
    else {
        unreachable!("server_certificate makes a Certificate")
    };
    certificate.spec.common_name = Some(client.role_name());
    certificate.spec.dns_names = Vec::new();
    certificate.spec.usages = vec![KeyUsage::DigitalSignature, KeyUsage::ClientAuth];
    Object::Certificate(certificate)
}

fn issuer_ref(name: String) -> IssuerRef {
    IssuerRef {
        name,
        kind: Some(IssuerKind::Issuer),
        group: Some(GROUP.into()),
    }
}

/// cert-manager's standard CA bootstrap: a self-signed Issuer signs the CA Certificate once, and
/// a CA Issuer signs the servers' certificates with the key in the CA's Secret.
fn bootstrap(platform: &Platform) -> Vec<Object> {
    let policy = &platform.tls.ca;
    let ca_meta = |name: String| meta::object_meta(platform, CA, &name, &ca_issuer(platform));
    let self_signed = Issuer {
        metadata: ca_meta(self_signed_issuer(platform)),
        spec: IssuerSpec {
            self_signed: Some(SelfSignedIssuer {}),
            ca: None,
        },
    };
    let ca = Certificate {
        metadata: ca_meta(ca_issuer(platform)),
        spec: CertificateSpec {
            secret_name: ca_secret(platform),
            issuer_ref: issuer_ref(self_signed_issuer(platform)),
            common_name: Some(policy.common_name.clone()),
            subject: Some(Subject {
                organizations: vec![platform.name.to_string()],
                ..Default::default()
            }),
            is_ca: Some(true),
            duration: Some(go_duration(&policy.validity)),
            private_key: Some(private_key(policy.key, RotationPolicy::Never)),
            usages: vec![KeyUsage::CertSign, KeyUsage::CrlSign],
            secret_template: Some(secret_template(meta::labels(
                platform,
                CA,
                &ca_issuer(platform),
            ))),
            ..Default::default()
        },
    };
    let ca_issuer_object = Issuer {
        metadata: ca_meta(ca_issuer(platform)),
        spec: IssuerSpec {
            self_signed: None,
            ca: Some(CaIssuer {
                secret_name: ca_secret(platform),
            }),
        },
    };
    vec![
        Object::Issuer(Box::new(self_signed)),
        Object::Certificate(Box::new(ca)),
        Object::Issuer(Box::new(ca_issuer_object)),
        Object::Bundle(Box::new(ca_bundle(platform))),
    ]
}

/// The CA bundle for clients, ConfigMap `<platform>-ca` (key `ca.crt`), without `bakeryc
/// secrets`: trust-manager copies `ca.crt` of the CA's Secret into it. Chosen over an
/// ExternalSecret with a Kubernetes provider store because it needs no store, service account
/// or RBAC in the tree and writes a ConfigMap, which is what clients mount; its one condition,
/// documented in docs/secrets.md, is that trust-manager's trust namespace is the platform's
/// namespace (trust-manager reads sources only there). The Bundle is cluster-scoped and names
/// the ConfigMap after itself.
fn ca_bundle(platform: &Platform) -> Bundle {
    let mut labels = meta::labels(platform, CA, &ca_issuer(platform));
    labels.insert("app.kubernetes.io/name".into(), "trust-manager".into());
    Bundle {
        metadata: ObjectMeta {
            name: Some(platform.ca_config_map()),
            labels: Some(labels),
            ..Default::default()
        },
        spec: BundleSpec {
            sources: vec![BundleSource {
                secret: Some(SourceObjectKeySelector {
                    name: ca_secret(platform),
                    key: "ca.crt".into(),
                }),
            }],
            target: BundleTarget {
                config_map: Some(KeyTarget {
                    key: "ca.crt".into(),
                }),
                namespace_selector: Some(NamespaceSelector {
                    match_labels: BTreeMap::from([(
                        "kubernetes.io/metadata.name".into(),
                        platform.namespace.to_string(),
                    )]),
                }),
            },
        },
    }
}

/// The Certificate of one workload: its Secret is the one the pods mount, its subject and SANs
/// are what `bakeryc secrets` puts in the certificate it issues.
fn server_certificate(
    platform: &Platform,
    kind: meta::Kind,
    names: &WorkloadNames,
    signer: &IssuerRef,
) -> Object {
    let policy = &platform.tls.server;
    let labels = meta::labels(platform, kind, &names.workload);
    let rsa = matches!(
        policy.key,
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096
    );
    // keyEncipherment only means something for an RSA key (RSA key transport); setting usages
    // replaces cert-manager's defaults, so the list is complete.
    let usages = if rsa {
        vec![
            KeyUsage::DigitalSignature,
            KeyUsage::KeyEncipherment,
            KeyUsage::ServerAuth,
        ]
    } else {
        vec![KeyUsage::DigitalSignature, KeyUsage::ServerAuth]
    };
    Object::Certificate(Box::new(Certificate {
        metadata: meta::object_meta(platform, kind, &names.tls_secret, &names.workload),
        spec: CertificateSpec {
            secret_name: names.tls_secret.clone(),
            issuer_ref: signer.clone(),
            common_name: Some(names.service.clone()),
            subject: Some(Subject {
                organizations: vec![platform.name.to_string()],
                ..Default::default()
            }),
            dns_names: platform.service_dns_names(&names.service),
            duration: Some(go_duration(&policy.validity)),
            renew_before: Some(go_duration(&policy.renew_before)),
            // Explicit: cert-manager 1.18 changed the default, and a renewal must not keep a key
            // that may have leaked.
            private_key: Some(private_key(policy.key, RotationPolicy::Always)),
            usages,
            secret_template: Some(secret_template(labels)),
            ..Default::default()
        },
    }))
}

fn secret_template(labels: BTreeMap<String, String>) -> SecretTemplate {
    SecretTemplate {
        labels,
        annotations: BTreeMap::new(),
    }
}

/// The key cert-manager generates: the algorithm and size of `[tls.*] key`, PKCS#8 like the keys
/// `bakeryc secrets` writes.
fn private_key(key: KeyAlgorithm, rotation: RotationPolicy) -> PrivateKey {
    let (algorithm, size) = match key {
        KeyAlgorithm::Rsa2048 => (CmKey::Rsa, 2048),
        KeyAlgorithm::Rsa3072 => (CmKey::Rsa, 3072),
        KeyAlgorithm::Rsa4096 => (CmKey::Rsa, 4096),
        KeyAlgorithm::EcdsaP256 => (CmKey::Ecdsa, 256),
        KeyAlgorithm::EcdsaP384 => (CmKey::Ecdsa, 384),
    };
    PrivateKey {
        algorithm: Some(algorithm),
        size: Some(size),
        encoding: Some(KeyEncoding::Pkcs8),
        rotation_policy: Some(rotation),
    }
}

/// A period as the Go duration cert-manager reads (`8760h`): it has no days or years. Calendar
/// units count from 2001-01-01, so a year is 365 days and the text never depends on today. Whole
/// hours are written in hours, anything finer in the largest exact unit.
pub fn go_duration(period: &Period) -> String {
    let seconds = period_seconds(period);
    if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Whole seconds of a period counted from 2001-01-01 (sub-second parts are dropped).
pub fn period_seconds(period: &Period) -> i64 {
    let seconds = period
        .span()
        .total((jiff::Unit::Second, jiff::civil::date(2001, 1, 1)))
        .unwrap_or(0.0);
    #[allow(
        clippy::cast_possible_truncation,
        reason = "a validated period is positive and far below i64::MAX seconds"
    )]
    let whole = seconds.floor() as i64;
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_become_go_durations_in_hours() {
        let hours = |text| go_duration(&Period::new(text).unwrap());
        assert_eq!(hours("1y"), "8760h");
        assert_eq!(hours("90d"), "2160h");
        assert_eq!(hours("12h"), "12h");
        assert_eq!(hours("10y"), "87648h");
        assert_eq!(hours("90m"), "90m");
        assert_eq!(hours("45s"), "45s");
    }
}
