//! `[tls] provider = "cert-manager"` end to end through the binary: `bakeryc secrets` makes
//! passwords only (no CA, no key, no certificate, no TLS Secret in its kustomization), `status`
//! says that certificates are cert-manager's and checks the passwords, and `rotate` refuses to
//! touch certificates but still replaces passwords.

mod common;

use common::{Test, files};

/// The cert-manager fixture, copied into each test's workspace.
const FIXTURE: &str = "tests/fixtures/cert-manager/bakery.toml";

#[test]
fn secrets_generate_makes_passwords_only() {
    let dir = Test::fixture(FIXTURE);
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
    let dir = Test::fixture(FIXTURE);
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
    let dir = Test::fixture(FIXTURE);
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

/// The Certificates ask cert-manager for what `bakeryc secrets` would issue for the same
/// bakery.toml in its own mode: the same SANs, subject, key type and size, key usages and
/// lifetime (read back from the certificate bakeryc issues), for every server and for the CA.
#[test]
fn certificates_ask_for_what_bakeryc_secrets_issues() {
    use bakeryc::secrets::{self, NoProgress, SecretFiles};
    use serde_json::Value;
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

    let source = std::fs::read_to_string("tests/fixtures/cert-manager/bakery.toml").unwrap();
    let cert_manager = common::platform(&source);
    let files = bakeryc::build(&cert_manager).unwrap();
    let certificates: Vec<Value> = files
        .values()
        .flat_map(|text| serde_saphyr::from_multiple::<Value>(text).unwrap())
        .filter(|d| d["kind"] == "Certificate" && d["spec"]["isCA"] != true)
        .collect();
    assert_eq!(certificates.len(), 3);

    let bakeryc_mode = common::platform(&source.replace("provider = \"cert-manager\"", ""));
    let now = jiff::Timestamp::now();
    let issued = secrets::generate(&bakeryc_mode, "prod", &SecretFiles::new(), now, &NoProgress)
        .unwrap()
        .changes;
    for certificate in &certificates {
        let spec = &certificate["spec"];
        let secret = spec["secretName"].as_str().unwrap();
        let workload = secret.strip_suffix("-tls").unwrap();
        let pem = issued.text(&secrets::leaf_cert_path(workload)).unwrap();
        let der = pem_der(pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|name| match name {
                GeneralName::DNSName(dns) => (*dns).to_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        let dns_names: Vec<String> = spec["dnsNames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(dns_names, sans, "{secret}");
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(spec["commonName"], common_name.as_str(), "{secret}");
        let organization = cert.subject().iter_organization().next().unwrap();
        assert_eq!(
            spec["subject"]["organizations"],
            serde_json::json!([organization.as_str().unwrap()]),
            "{secret}"
        );
        // `[tls.server] renew_before = "30d"`: cert-manager renews when bakeryc's `status` says
        // a certificate is due, not at its own default (two thirds of the lifetime).
        assert_eq!(spec["renewBefore"], "720h", "{secret}");
        // ECDSA P-256 in the fixture: the curve of the issued key is what cert-manager is asked.
        let key = cert.public_key().parsed().unwrap();
        assert_eq!(
            (
                spec["privateKey"]["algorithm"].as_str().unwrap(),
                key.key_size()
            ),
            ("ECDSA", 256),
            "{secret}"
        );
        assert_eq!(spec["privateKey"]["size"], 256);
        let usages: Vec<&str> = spec["usages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap())
            .collect();
        let key_usage = cert.key_usage().unwrap().unwrap().value;
        assert!(key_usage.digital_signature() && !key_usage.key_encipherment());
        assert_eq!(usages, ["digital signature", "server auth"], "{secret}");
        // 90 days: cert-manager's duration in hours equals the issued certificate's lifetime
        // (bakeryc backdates not_before a little, so compare whole days).
        let lifetime = cert.validity().not_after.timestamp() - now.as_second();
        let hours: i64 = spec["duration"]
            .as_str()
            .unwrap()
            .trim_end_matches('h')
            .parse()
            .unwrap();
        assert_eq!(lifetime / 86_400, hours / 24, "{secret}");
    }

    // The CA: what bakeryc issues as `ca.crt` for `[tls.ca]`, signed once by the self-signed
    // Issuer of the same tree, and never re-keyed (a new CA key at renewal would leave every
    // certificate it signed before untrusted by the bundle).
    let all: Vec<Value> = files
        .values()
        .flat_map(|text| serde_saphyr::from_multiple::<Value>(text).unwrap())
        .collect();
    let ca = all
        .iter()
        .find(|d| d["kind"] == "Certificate" && d["spec"]["isCA"] == true)
        .expect("the CA Certificate");
    let spec = &ca["spec"];
    let der = pem_der(issued.text("ca.crt").unwrap());
    let (_, issued_ca) = X509Certificate::from_der(&der).unwrap();
    let subject = issued_ca.subject();
    let common_name = subject.iter_common_name().next().unwrap().as_str().unwrap();
    let organization = subject
        .iter_organization()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert_eq!(spec["commonName"], common_name);
    assert_eq!(
        spec["subject"]["organizations"],
        serde_json::json!([organization])
    );
    let key = issued_ca.public_key().parsed().unwrap();
    assert_eq!(
        (
            spec["privateKey"]["algorithm"].as_str(),
            spec["privateKey"]["size"].as_u64()
        ),
        (Some("ECDSA"), Some(key.key_size() as u64)),
        "the CA's key: [tls.ca] key"
    );
    assert_eq!(spec["privateKey"]["rotationPolicy"], "Never");
    let key_usage = issued_ca.key_usage().unwrap().unwrap().value;
    assert!(key_usage.key_cert_sign() && key_usage.crl_sign());
    assert_eq!(spec["usages"], serde_json::json!(["cert sign", "crl sign"]));
    let lifetime = issued_ca.validity().not_after.timestamp() - now.as_second();
    let hours: i64 = spec["duration"]
        .as_str()
        .unwrap()
        .trim_end_matches('h')
        .parse()
        .unwrap();
    // Ten calendar years from today (bakeryc) and ten 365-day years (cert-manager's hours, see
    // `go_duration`) differ by the leap days between: at most a few, never a unit.
    let days = lifetime / 86_400 - hours / 24;
    assert!(
        (0..=3).contains(&days),
        "the CA's lifetime is [tls.ca] validity: {days} days apart"
    );
    let signer = &spec["issuerRef"];
    assert!(
        all.iter().any(|d| d["kind"] == "Issuer"
            && d["metadata"]["name"] == signer["name"]
            && d["spec"]["selfSigned"].is_object()),
        "the CA is signed by the tree's self-signed Issuer: {signer}"
    );
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let output = std::process::Command::new("openssl")
        .args(["base64", "-d", "-A"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(body.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    output.stdout
}

/// With External Secrets making the passwords too, `status` does not claim to check them.
#[test]
fn secrets_status_with_both_operators_checks_no_password() {
    let source = std::fs::read_to_string("tests/fixtures/external-secrets-generator/bakery.toml")
        .unwrap()
        + "\n[tls]\nprovider = \"cert-manager\"\n";
    let dir = Test::config(&source);
    let environment = "dev";
    dir.run(&["secrets", "generate", "--env", environment])
        .success();
    let status = dir
        .run(&["secrets", "status", "--env", environment])
        .success();
    let stdout = status.stdout();
    assert!(
        stdout.contains("External Secrets makes the passwords"),
        "{stdout}"
    );
    assert!(!stdout.contains("Only passwords are checked"), "{stdout}");
    assert!(!stdout.contains("-credentials"), "{stdout}");
}
