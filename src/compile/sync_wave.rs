//! Argo CD sync waves: the one function that orders every object bakeryc emits, by kind, so that a
//! first sync into an empty namespace converges without retries (what an object needs is always
//! applied, and healthy, in an earlier wave). Every object of base/ and overlays/ gets its wave
//! here, after the families are compiled: no family sets the annotation itself, and a new kind
//! gets its place in `wave` and nowhere else.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Object;

/// The annotation Argo CD reads; waves apply in ascending order, each waiting for the previous
/// one to be healthy.
pub const ANNOTATION: &str = "argocd.argoproj.io/sync-wave";

/// The wave of an object. Argo CD applies an unannotated object in wave 0, so bakeryc's waves
/// start at 1 and anything added by hand next to generated/ comes first.
///
/// 1. what makes secrets: secret stores, generators, self-signed issuers;
/// 2. the CA certificate (signed by the self-signed issuer);
/// 3. the CA issuers, which are healthy only once the CA's Secret exists;
/// 4. ExternalSecrets and leaf Certificates, which write the Secrets the pods mount;
/// 5. ConfigMaps, PersistentVolumeClaims, Services, NetworkPolicies;
/// 6. workloads, which mount all of the above;
/// 7. monitoring, which watches the workloads.
pub fn wave(object: &Object) -> i32 {
    match object {
        Object::Issuer(issuer) if issuer.spec.ca.is_some() => 3,
        Object::ClusterIssuer(issuer) if issuer.spec.ca.is_some() => 3,
        Object::Certificate(certificate) if certificate.spec.is_ca == Some(true) => 2,
        _ => wave_of_kind(object.kind()),
    }
}

/// The wave of a kind, for kinds whose place does not depend on their spec. Lists kinds bakeryc
/// emits or is about to, so that adding their objects needs no change here.
pub(super) fn wave_of_kind(kind: &str) -> i32 {
    match kind {
        "SecretStore" | "ClusterSecretStore" | "Password" | "ClusterGenerator" | "Issuer"
        | "ClusterIssuer" => 1,
        "ExternalSecret" | "Certificate" | "Bundle" => 4,
        "Deployment" | "StatefulSet" | "CronJob" | "Job" => 6,
        "PrometheusRule" | "ServiceMonitor" | "PodMonitor" => 7,
        // ConfigMap, PersistentVolumeClaim, Service, NetworkPolicy, and any other plain object
        // a workload may mount or be reached through.
        _ => 5,
    }
}

/// Sets the sync-wave annotation of every object.
pub fn annotate<'a>(objects: impl IntoIterator<Item = &'a mut Object>) {
    for object in objects {
        let wave = wave(object).to_string();
        let metadata: &mut ObjectMeta = object.metadata_mut();
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION.to_owned(), wave);
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;
    use crate::crd::cert_manager::{
        CaIssuer, Certificate, CertificateSpec, ClusterIssuer, ClusterIssuerSpec, Issuer,
        IssuerSpec, SelfSignedIssuer,
    };

    fn issuer(ca: bool) -> Object {
        let spec = IssuerSpec {
            self_signed: (!ca).then(SelfSignedIssuer::default),
            ca: ca.then(|| CaIssuer {
                secret_name: "p-ca-tls".into(),
            }),
        };
        Object::Issuer(Box::new(Issuer::new("i", spec)))
    }

    fn certificate(is_ca: bool) -> Object {
        let spec = CertificateSpec {
            is_ca: is_ca.then_some(true),
            ..Default::default()
        };
        Object::Certificate(Box::new(Certificate::new("c", spec)))
    }

    /// cert-manager's chain: the self-signed issuer signs the CA certificate, whose Secret the
    /// CA issuer needs to become Ready, which signs the leaf certificates the pods mount.
    #[test]
    fn each_object_comes_after_what_it_needs() {
        let chain = [
            issuer(false),
            certificate(true),
            issuer(true),
            certificate(false),
            Object::ConfigMap(ConfigMap::default()),
            Object::Deployment(Box::default()),
        ];
        let waves: Vec<i32> = chain.iter().map(wave).collect();
        assert!(waves.windows(2).all(|w| w[0] < w[1]), "{waves:?}");
        assert!(wave_of_kind("Password") < wave_of_kind("ExternalSecret"));
        assert!(wave_of_kind("SecretStore") < wave_of_kind("ExternalSecret"));
        assert!(wave_of_kind("Deployment") < wave_of_kind("PrometheusRule"));
    }

    /// A ClusterIssuer takes the wave of the Issuer it stands for: a CA one after the CA.
    #[test]
    fn a_cluster_issuer_waits_like_an_issuer() {
        let cluster = |ca: bool| {
            let Object::Issuer(issuer) = issuer(ca) else {
                unreachable!()
            };
            let spec = ClusterIssuerSpec {
                self_signed: issuer.spec.self_signed,
                ca: issuer.spec.ca,
            };
            Object::ClusterIssuer(Box::new(ClusterIssuer::new("i", spec)))
        };
        assert_eq!(wave(&cluster(false)), wave(&issuer(false)));
        assert_eq!(wave(&cluster(true)), wave(&issuer(true)));
        assert!(wave(&certificate(true)) < wave(&cluster(true)));
    }
}
