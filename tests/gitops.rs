//! What Argo CD sees: every object of every overlay, as `kubectl kustomize` builds it, carries the
//! sync wave of its kind, and the waves put what an object needs before it (stores and issuers,
//! then the Secrets' makers, then configuration and Services, then workloads, then monitoring).

mod common;

use bakeryc::compile::SYNC_WAVE_ANNOTATION;
use serde_json::Value;

/// The wave each kind must be in; a kind missing here fails the test, so a new kind is placed
/// deliberately.
fn expected_wave(object: &Value) -> i64 {
    let is_ca_issuer = !object["spec"]["ca"].is_null();
    match object["kind"].as_str().unwrap() {
        "SecretStore" | "ClusterSecretStore" | "Password" => 1,
        "Issuer" | "ClusterIssuer" if !is_ca_issuer => 1,
        "Certificate" if object["spec"]["isCA"] == true => 2,
        "Issuer" | "ClusterIssuer" => 3,
        "ExternalSecret" | "Certificate" => 4,
        "ConfigMap" | "PersistentVolumeClaim" | "Service" | "NetworkPolicy" => 5,
        "Deployment" | "StatefulSet" => 6,
        "PrometheusRule" => 7,
        kind => panic!("no expected wave for {kind}"),
    }
}

fn check_waves(test: &common::Test) {
    let platform = test.platform();
    let out = test.join("generated");
    bakeryc::output::write_tree(&out, &test.tree()).unwrap();
    for environment in &platform.environments {
        let overlay = out.join("overlays").join(environment.name.as_str());
        for object in common::kustomize(&overlay) {
            let name = format!("{}/{}", object["kind"], object["metadata"]["name"]);
            let wave = object["metadata"]["annotations"][SYNC_WAVE_ANNOTATION]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("{name} in {} has no sync wave", environment.name.as_str())
                });
            assert_eq!(
                wave.parse::<i64>().unwrap(),
                expected_wave(&object),
                "{name}"
            );
        }
    }
}

#[test]
fn every_object_of_every_overlay_has_the_sync_wave_of_its_kind() {
    for fixture in [
        "tests/fixtures/one-database/bakery.toml",
        "tests/fixtures/many-databases/bakery.toml",
        "tests/fixtures/three-environments/bakery.toml",
        "bakery.toml",
    ] {
        check_waves(&common::Test::fixture(fixture));
    }
}
