//! `[tls] provider = "cert-manager"` end to end through the binary: `bakeryc secrets` makes
//! passwords only (no CA, no key, no certificate, no TLS Secret in its kustomization), `status`
//! says that certificates are cert-manager's and checks the passwords, and `rotate` refuses to
//! touch certificates but still replaces passwords.

mod common;

use common::{Test, files};

fn workspace() -> Test {
    Test::fixture("tests/fixtures/cert-manager/bakery.toml")
}

#[test]
fn secrets_generate_makes_passwords_only() {
    let dir = workspace();
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    let material = files(&dir.path().join("secrets/prod"));
    let paths: Vec<&String> = material.keys().collect();
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("/tls/") && !p.starts_with("ca.")),
        "no certificate or key: {paths:#?}"
    );
    for workload in ["auth-db", "orders-db", "redis"] {
        assert!(
            material.contains_key(&format!("{workload}/credentials/password")),
            "{workload}: {paths:#?}"
        );
    }
    assert!(
        material
            .values()
            .all(|bytes| !String::from_utf8_lossy(bytes).contains("PRIVATE KEY"))
    );
    let kustomization = String::from_utf8(material["kustomization.yaml"].clone()).unwrap();
    assert!(
        !kustomization.contains("-tls") && !kustomization.contains("configMapGenerator"),
        "the TLS Secrets and the CA bundle are the cluster's:\n{kustomization}"
    );
    assert!(
        kustomization.contains("auth-db-credentials"),
        "{kustomization}"
    );
    // And again: nothing to do.
    let before = files(&dir.path().join("secrets/prod"));
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    assert_eq!(before, files(&dir.path().join("secrets/prod")));
}

#[test]
fn secrets_status_says_certificates_are_cert_managers() {
    let dir = workspace();
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    let status = dir.run(&["secrets", "status", "--env", "prod"]).success();
    let stdout = status.stdout();
    assert!(
        stdout.contains("certificates are cert-manager's"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kubectl get certificates -n bakery"),
        "{stdout}"
    );
    assert!(!stdout.contains("auth-db-tls"), "{stdout}");
    assert!(stdout.contains("auth-db-credentials"), "{stdout}");
    // Passwords are still checked: a missing one fails.
    std::fs::remove_file(dir.path().join("secrets/prod/redis/credentials/password")).unwrap();
    let missing = dir.run(&["secrets", "status", "--env", "prod"]).status(1);
    assert!(missing.stdout().contains("missing"), "{}", missing.stdout());
    let json = dir
        .run(&["secrets", "status", "--env", "prod", "--format", "json"])
        .status(1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert!(report["note"].as_str().unwrap().contains("cert-manager"));
}

#[test]
fn secrets_rotate_leaves_certificates_to_cert_manager() {
    let dir = workspace();
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    for args in [&["--ca"][..], &[][..], &["--only", "auth"][..]] {
        let mut command = vec!["secrets", "rotate", "--env", "prod"];
        command.extend_from_slice(args);
        let refused = dir.run(&command);
        assert_ne!(refused.code(), 0, "{args:?}");
        assert!(
            refused.stderr().contains("cmctl renew"),
            "{}",
            refused.stderr()
        );
    }
    let password = dir.path().join("secrets/prod/auth-db/credentials/password");
    let before = std::fs::read(&password).unwrap();
    dir.run(&[
        "secrets",
        "rotate",
        "--env",
        "prod",
        "--passwords",
        "--only",
        "auth",
    ])
    .success();
    assert_ne!(before, std::fs::read(&password).unwrap());
    let material = files(&dir.path().join("secrets/prod"));
    assert!(material.keys().all(|p| !p.contains("/tls/")));
}
