//! What Argo CD sees: every object of every overlay, as `kubectl kustomize` builds it, carries the
//! sync wave of its kind, and the waves put what an object needs before it (stores and issuers,
//! then the Secrets' makers, then configuration and Services, then workloads, then monitoring);
//! no overlay holds a Secret in any mode. With External Secrets, `bakeryc secrets` writes no
//! password; with `[gitops]`, the Applications point at overlays that exist and the plugin prints
//! them as `kubectl kustomize` does.

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
        // trust-manager copies the CA Secret into the clients' ConfigMap once the CA exists.
        "ExternalSecret" | "Certificate" | "Bundle" => 4,
        "ConfigMap" | "PersistentVolumeClaim" | "Service" | "NetworkPolicy" => 5,
        "Deployment" | "StatefulSet" | "CronJob" => 6,
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
            // Argo CD would fight the operators (or the hand-applied secrets/) over a Secret.
            assert_ne!(
                object["kind"], "Secret",
                "{name}: generated/ holds no Secret"
            );
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

#[test]
fn external_secrets_fixtures_have_the_sync_waves_of_their_kinds() {
    for fixture in ["external-secrets-generator", "external-secrets-store"] {
        check_waves(&common::Test::fixture(&format!(
            "tests/fixtures/{fixture}/bakery.toml"
        )));
    }
}

/// With External Secrets making the passwords, `bakeryc secrets generate` issues the TLS
/// material only: no password on disk, and no credentials Secret for `kubectl apply -k` to
/// fight the ExternalSecret over; `rotate --passwords` is refused.
#[test]
fn secrets_generate_writes_no_password_with_external_secrets() {
    let test = common::Test::fixture("tests/fixtures/external-secrets-generator/bakery.toml");
    let run = test
        .run(&["secrets", "generate", "--env", "prod"])
        .success();
    assert!(
        run.stderr().contains("passwords: none written"),
        "{}",
        run.stderr()
    );
    let files = test.files("secrets");
    assert!(
        files.keys().any(|p| p.ends_with("tls/tls.key")),
        "{files:?}"
    );
    assert!(
        !files.keys().any(|p| p.contains("credentials")),
        "{:?}",
        files.keys().collect::<Vec<_>>()
    );
    let kustomization = String::from_utf8(files["prod/kustomization.yaml"].clone()).unwrap();
    assert!(!kustomization.contains("-credentials"), "{kustomization}");
    test.run(&["secrets", "status", "--env", "prod"]).success();
    test.run(&["secrets", "rotate", "--env", "prod", "--passwords"])
        .status(2)
        .stderr_has("External Secrets makes the passwords");
}

/// Every Application's source path is an overlay that build wrote (the path in git is
/// `[gitops] path` + the folder in generated/), and the plugin's `generate` command, run the
/// way Argo CD's sidecar runs it (`sh -c` with `ARGOCD_ENV_BAKERY_ENV`), prints exactly
/// `kubectl kustomize` of that overlay and changes nothing in the checkout; without the variable
/// it fails and names the environments.
#[test]
fn applications_point_at_overlays_and_the_plugin_prints_them() {
    let test = common::Test::fixture("tests/fixtures/gitops/bakery.toml");
    let platform = test.platform();
    let gitops = platform.gitops.clone().unwrap();
    test.run(&["build"]).success();
    let out = test.join("generated");
    let files = test.files("generated");
    let plugin: Value =
        serde_saphyr::from_str(std::str::from_utf8(&files["argocd/plugin/plugin.yaml"]).unwrap())
            .unwrap();
    let script = plugin["spec"]["generate"]["args"][0].as_str().unwrap();
    let path = std::env::var("PATH").unwrap();
    let binary_dir = std::path::Path::new(env!("CARGO_BIN_EXE_bakeryc"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let checkout = test.files("");
    for environment in &platform.environments {
        let name = environment.name.as_str();
        let application: Value = serde_saphyr::from_multiple(
            std::str::from_utf8(&files[&format!("argocd/{name}.yaml")]).unwrap(),
        )
        .unwrap()
        .remove(0);
        let source = application["spec"]["source"]["path"].as_str().unwrap();
        let folder = source
            .strip_prefix(&format!("{}/", gitops.path))
            .unwrap_or_else(|| panic!("{source} is not under {}", gitops.path));
        assert!(
            out.join(folder).join("kustomization.yaml").is_file(),
            "{source}"
        );
        let printed = std::process::Command::new("sh")
            .args(["-c", script])
            .current_dir(test.path())
            .env("PATH", format!("{binary_dir}:{path}"))
            .env("ARGOCD_ENV_BAKERY_ENV", name)
            .output()
            .unwrap();
        assert!(printed.status.success(), "{printed:?}");
        assert_eq!(
            test.files(""),
            checkout,
            "{name}: the plugin wrote in the checkout"
        );
        let expected = std::process::Command::new("kubectl")
            .args(["kustomize", &out.join(folder).display().to_string()])
            .output()
            .unwrap();
        assert!(expected.status.success());
        assert_eq!(
            String::from_utf8(printed.stdout).unwrap(),
            String::from_utf8(expected.stdout).unwrap(),
            "{name}"
        );
    }
    let unset = std::process::Command::new("sh")
        .args(["-c", script])
        .current_dir(test.path())
        .env("PATH", format!("{binary_dir}:{path}"))
        .env_remove("ARGOCD_ENV_BAKERY_ENV")
        .output()
        .unwrap();
    assert_eq!(unset.status.code(), Some(2), "{unset:?}");
    assert!(unset.stdout.is_empty(), "{unset:?}");
    assert!(
        String::from_utf8_lossy(&unset.stderr).contains("the environments are dev, staging, prod"),
        "{unset:?}"
    );
}
