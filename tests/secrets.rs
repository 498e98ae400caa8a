//! `bakeryc secrets` end to end: the binary and the library against real tools. openssl checks
//! every certificate (chain, hostnames, key types, validity), kubectl builds the secrets root and
//! the compiled overlay and the test cross-checks them, and an injected failure shows that an
//! interrupted write leaves nothing half-done. Certificates are random: properties are tested,
//! never bytes. Most tests use ECDSA keys (fast); one uses RSA.

mod common;

use common::{Test, files, kustomize};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use bakeryc::model::{KeyAlgorithm, Platform, TlsProvider};
use bakeryc::output::{self, Fault};
use bakeryc::secrets::{self, NoProgress, Progress, Rotation, SecretFiles};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use x509_parser::prelude::{FromDer, X509Certificate};

const WORKLOADS: [&str; 3] = ["auth-db", "alert-processor-db", "redis"];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn openssl(args: &[&str], cwd: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the openssl command is installed")
}

/// Paths whose bytes differ (or exist on one side only).
fn changed(
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> BTreeSet<String> {
    before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .cloned()
        .collect()
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

fn service(workload: &str) -> String {
    format!("{workload}-service")
}

fn sans(workload: &str, namespace: &str) -> Vec<String> {
    let svc = service(workload);
    vec![
        svc.clone(),
        format!("{svc}.{namespace}"),
        format!("{svc}.{namespace}.svc"),
        format!("{svc}.{namespace}.svc.cluster.local"),
    ]
}

/// `openssl verify` of a certificate against a CA file, with a hostname check.
fn verifies(env_dir: &Path, ca_file: &str, cert: &str, hostname: &str) -> bool {
    let output = openssl(
        &[
            "verify",
            "-CAfile",
            ca_file,
            "-purpose",
            "sslserver",
            "-verify_hostname",
            hostname,
            cert,
        ],
        env_dir,
    );
    output.status.success() && text(&output.stdout).trim_end().ends_with(": OK")
}

fn x509_text(env_dir: &Path, cert: &str) -> String {
    let output = openssl(&["x509", "-noout", "-text", "-in", cert], env_dir);
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

/// notBefore, notAfter and serial of a PEM certificate.
fn validity(pem: &[u8]) -> (i64, i64, Vec<u8>) {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).unwrap();
    let (_, cert) = X509Certificate::from_der(&block.contents).unwrap();
    (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
        cert.raw_serial().to_vec(),
    )
}

fn plus(now: Timestamp, span: &str) -> i64 {
    now.to_zoned_datetime(TimeZone::UTC)
        .checked_add(span.parse::<jiff::Span>().unwrap())
        .unwrap()
        .timestamp()
        .as_second()
}

fn assert_private(path: &Path) {
    let meta = fs::symlink_metadata(path).unwrap();
    let mode = meta.mode() & 0o777;
    let want = if meta.is_dir() { 0o700 } else { 0o600 };
    assert_eq!(mode, want, "{} has mode {mode:o}", path.display());
    if meta.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            assert_private(&entry.unwrap().path());
        }
    }
}

fn platform(name: &str) -> Platform {
    let source =
        fs::read_to_string(common::repo(&format!("tests/fixtures/secrets/{name}"))).unwrap();
    bakeryc::check(&source).platform.unwrap()
}

#[test]
fn generate_issues_certificates_that_openssl_verifies() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    let before = Timestamp::now().as_second();
    let output = dir.run(&["secrets", "generate", "--env", "prod"]).success();
    dir.run(&["secrets", "generate", "--env", "dev"]).success();
    let after = Timestamp::now().as_second();
    let prod = dir.path().join("secrets/prod");
    let material = files(&prod);

    // Nothing secret is printed; the summary counts what was written.
    let printed = format!("{}{}", output.stdout(), output.stderr());
    let wrote = format!("wrote {} file(s) to secrets/prod", material.len());
    assert!(printed.contains(&wrote), "{wrote}: {printed}");
    assert!(output.output.stdout.is_empty());
    assert!(!printed.contains("PRIVATE KEY"));
    for (path, bytes) in &material {
        if path.ends_with("password") {
            assert!(!printed.contains(&text(bytes)), "a password was printed");
            assert!(
                bytes.len() >= 32
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(b))
            );
        }
    }

    // The folder builds, and holds no backup passphrase without `[backup]` (a generator naming
    // a file that does not exist fails `kubectl apply -k`).
    let built = kustomize(&prod);
    assert!(built.iter().all(|d| {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        !name.ends_with("-backup-cipher")
    }));

    // Private from top to bottom, and kept out of git.
    assert_private(&dir.path().join("secrets"));
    let gitignore = fs::read_to_string(dir.path().join("secrets/.gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "*"), "{gitignore}");

    // The CA: self-signed, CA:TRUE with path length 0, keyCertSign and cRLSign, P-384.
    let ca = x509_text(&prod, "ca.crt");
    for expected in [
        "Issuer: CN = Bakery Test CA, O = bakery-test, OU = prod",
        "Subject: CN = Bakery Test CA, O = bakery-test, OU = prod",
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "ASN1 OID: secp384r1",
        "Public-Key: (384 bit)",
    ] {
        assert!(ca.contains(expected), "CA lacks {expected:?}:\n{ca}");
    }
    let (ca_from, ca_until, ca_serial) = validity(&material["ca.crt"]);
    assert!(ca_from <= before && ca_from >= before - 600);
    assert!(ca_until >= plus(Timestamp::from_second(before).unwrap(), "10y"));
    assert!(ca_until <= plus(Timestamp::from_second(after).unwrap(), "10y"));

    let mut serials = BTreeSet::from([ca_serial]);
    for workload in WORKLOADS {
        let cert = format!("{workload}/tls/tls.crt");
        for name in sans(workload, "bakery-test") {
            assert!(verifies(&prod, "ca.crt", &cert, &name), "{cert} for {name}");
        }
        // Wrong name, or another environment's CA: refused.
        assert!(!verifies(
            &prod,
            "ca.crt",
            &cert,
            "other-service.bakery-test.svc"
        ));
        assert!(!verifies(&prod, "../dev/ca.crt", &cert, &service(workload)));

        let leaf = x509_text(&prod, &cert);
        for expected in [
            "TLS Web Server Authentication",
            "CA:FALSE",
            "ASN1 OID: prime256v1",
            "Public-Key: (256 bit)",
            "Signature Algorithm: ecdsa-with-SHA384",
            "X509v3 Key Usage: critical\n                Digital Signature\n",
        ] {
            assert!(
                leaf.contains(expected),
                "{cert} lacks {expected:?}:\n{leaf}"
            );
        }
        // RFC 5480: an EC key is not for key encipherment (RSA key transport only).
        assert!(!leaf.contains("Key Encipherment"), "{cert}:\n{leaf}");
        let (from, until, serial) = validity(&material[&cert]);
        assert!(from <= before);
        assert!(until >= plus(Timestamp::from_second(before).unwrap(), "3y"));
        assert!(until <= plus(Timestamp::from_second(after).unwrap(), "3y"));
        assert!(until <= ca_until, "a certificate outlives its CA");
        assert!(serials.insert(serial), "serials repeat");

        // The key is the certificate's.
        let key_pub = openssl(
            &["pkey", "-pubout", "-in", &format!("{workload}/tls/tls.key")],
            &prod,
        );
        let cert_pub = openssl(&["x509", "-noout", "-pubkey", "-in", &cert], &prod);
        assert_eq!(key_pub.stdout, cert_pub.stdout);
    }
    let auth_conf = text(&material["redis/credentials/auth.conf"]);
    let password = text(&material["redis/credentials/password"]);
    assert_eq!(auth_conf, format!("requirepass \"{password}\"\n"));
    assert_eq!(text(&material["auth-db/credentials/username"]), "auth_user");
    assert_eq!(
        text(&material["alert-processor-db/credentials/database"]),
        "alert_processor_db"
    );
}

#[test]
fn generate_twice_changes_no_byte() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    let prod = dir.path().join("secrets/prod");
    let stamp = |dir: &Path| -> BTreeMap<String, (Vec<u8>, u64, i64, i64)> {
        files(dir)
            .into_iter()
            .map(|(p, bytes)| {
                let meta = fs::metadata(dir.join(&p)).unwrap();
                (p, (bytes, meta.ino(), meta.mtime(), meta.mtime_nsec()))
            })
            .collect()
    };
    let first = stamp(&prod);
    let output = dir.run(&["secrets", "generate", "--env", "prod"]).success();
    assert!(
        output.stderr().contains("nothing written"),
        "{}",
        output.stderr()
    );
    assert_eq!(first, stamp(&prod), "the second run rewrote files");
}

#[test]
fn rotate_changes_only_what_it_names_and_keeps_the_ca() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    let prod = dir.path().join("secrets/prod");
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    let original = files(&prod);

    let output = dir
        .run(&["secrets", "rotate", "--env", "prod", "--only", "auth"])
        .success();
    let stderr = output.stderr();
    // A renewed certificate is re-read in place by the pod's reloader: no restart (issue 10).
    assert!(
        stderr.contains("no restart for certificates")
            && stderr.contains("(auth-db)")
            && !stderr.contains("rollout restart"),
        "{stderr}"
    );
    assert!(!stderr.contains("deployment/redis"), "{stderr}");
    let leaves = files(&prod);
    assert_eq!(
        changed(&original, &leaves),
        set(&["auth-db/tls/tls.crt", "auth-db/tls/tls.key"])
    );
    assert_ne!(
        validity(&original["auth-db/tls/tls.crt"]).2,
        validity(&leaves["auth-db/tls/tls.crt"]).2
    );
    for name in sans("auth-db", "bakery-test") {
        assert!(verifies(&prod, "ca.crt", "auth-db/tls/tls.crt", &name));
    }

    dir.run(&[
        "secrets",
        "rotate",
        "--env",
        "prod",
        "--passwords",
        "--only",
        "redis",
        "alert-processor",
    ])
    .success();
    let passwords = files(&prod);
    assert_eq!(
        changed(&leaves, &passwords),
        set(&[
            "alert-processor-db/credentials/DATABASE_URL",
            "alert-processor-db/credentials/PGPASSWORD",
            "alert-processor-db/credentials/SQLALCHEMY_DATABASE_URL",
            "alert-processor-db/credentials/password",
            "redis/credentials/REDIS_URL",
            "redis/credentials/auth.conf",
            "redis/credentials/password",
        ])
    );

    let old_leaf = "old-redis.crt";
    fs::write(dir.path().join(old_leaf), &passwords["redis/tls/tls.crt"]).unwrap();
    let output = dir
        .run(&["secrets", "rotate", "--env", "prod", "--ca"])
        .success();
    // Servers take the new leaves as soon as they are applied: the bundle trusting both CAs
    // reaches the clients first.
    let stderr = output.stderr();
    let bundle = stderr.find("the CA bundle first").expect(&stderr);
    let apply = stderr.find("kubectl apply -k").expect(&stderr);
    assert!(
        bundle < apply && !stderr.contains("rollout restart"),
        "{stderr}"
    );
    let rolled = files(&prod);
    let mut expected = set(&["ca.crt", "ca.key", "ca-bundle.crt", "ca-previous.crt"]);
    for workload in WORKLOADS {
        expected.insert(format!("{workload}/tls/tls.crt"));
        expected.insert(format!("{workload}/tls/tls.key"));
    }
    assert_eq!(changed(&passwords, &rolled), expected);
    assert_eq!(rolled["ca-previous.crt"], passwords["ca.crt"]);
    for workload in WORKLOADS {
        let cert = format!("{workload}/tls/tls.crt");
        assert!(verifies(&prod, "ca.crt", &cert, &service(workload)));
        assert!(!verifies(
            &prod,
            "ca-previous.crt",
            &cert,
            &service(workload)
        ));
    }
    // Clients given the bundle trust servers not yet restarted as well as restarted ones.
    assert!(verifies(
        &prod,
        "ca-bundle.crt",
        &format!("../../{old_leaf}"),
        "redis-service"
    ));
    assert!(verifies(
        &prod,
        "ca-bundle.crt",
        "redis/tls/tls.crt",
        "redis-service"
    ));
    assert!(!verifies(
        &prod,
        "ca.crt",
        &format!("../../{old_leaf}"),
        "redis-service"
    ));
    assert_private(&dir.path().join("secrets"));
}

#[test]
fn rotate_and_generate_refuse_what_they_cannot_do() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    let refused = |args: &[&str], needle: &str| {
        let output = dir.run(args);
        assert_eq!(output.code(), 2, "{args:?}: {}", output.stderr());
        assert!(output.stderr().contains(needle), "{}", output.stderr());
    };
    refused(&["secrets", "rotate", "--env", "prod"], "no CA yet");
    refused(
        &["secrets", "generate", "--env", "staging"],
        "declares no environment `staging`",
    );
    assert!(
        !dir.path().join("secrets").exists(),
        "a refused run created the folder"
    );
    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    refused(
        &["secrets", "rotate", "--env", "prod", "--only", "auth-db"],
        "declared: auth, alert-processor, redis",
    );
    refused(
        &[
            "secrets", "rotate", "--env", "prod", "--ca", "--only", "auth",
        ],
        "--only",
    );
}

#[test]
fn status_exit_codes_fresh_due_expired_missing_mismatched() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    let status = |extra: &[&str]| {
        let mut args = vec!["secrets", "status", "--env", "prod"];
        args.extend_from_slice(extra);
        dir.run(&args)
    };
    let nothing = status(&[]);
    assert_eq!(nothing.code(), 1);
    assert!(nothing.stdout().contains("missing"));

    dir.run(&["secrets", "generate", "--env", "prod"]).success();
    dir.run(&["secrets", "generate", "--env", "dev"]).success();
    let fresh = status(&["--format", "json"]);
    assert_eq!(fresh.code(), 0, "{}", fresh.stdout());
    let report: serde_json::Value = serde_json::from_slice(&fresh.output.stdout).unwrap();
    let entries = report["entries"].as_array().unwrap();
    // The CA, the bundle's copy of it, three certificates, three passwords, the files.
    assert_eq!(entries.len(), 1 + 1 + 3 + 3 + 1);
    assert!(entries.iter().all(|e| e["state"] == "ok"), "{report:#}");
    let auth = entries
        .iter()
        .find(|e| e["object"] == "auth-db-tls")
        .unwrap();
    assert_eq!(auth["sans"].as_array().unwrap().len(), 4);
    assert!(auth["days_left"].as_i64().unwrap() >= 1094);
    assert_eq!(auth["key"], "ecdsa-p256");

    // Later moments, injected: within renew_before (90d) of the 3-year end, then past it.
    let at = |span: &str| {
        let moment = Timestamp::now()
            .to_zoned_datetime(TimeZone::UTC)
            .checked_add(span.parse::<jiff::Span>().unwrap())
            .unwrap();
        moment.timestamp().to_string()
    };
    let due = status(&["--at", &at("2y11mo")]);
    assert_eq!(due.code(), 1);
    let table = due.stdout();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("auth-db-tls") && l.contains(" due ")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("bakery-test-ca") && l.contains(" ok ")),
        "{table}"
    );
    let not_yet = status(&["--at", &at("2y8mo")]);
    assert_eq!(not_yet.code(), 0, "{}", not_yet.stdout());
    let expired = status(&["--at", &at("3y1mo"), "--format", "json"]);
    assert_eq!(expired.code(), 1);
    let report: serde_json::Value = serde_json::from_slice(&expired.output.stdout).unwrap();
    let redis = report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object"] == "redis-tls")
        .unwrap();
    assert_eq!(redis["state"], "expired");

    // Signed by another CA: dev's certificate and key in prod.
    let prod = dir.path().join("secrets/prod");
    let dev = dir.path().join("secrets/dev");
    let saved = files(&prod);
    for file in ["tls.crt", "tls.key"] {
        fs::copy(
            dev.join("redis/tls").join(file),
            prod.join("redis/tls").join(file),
        )
        .unwrap();
    }
    let foreign = status(&[]);
    assert_eq!(foreign.code(), 1);
    assert!(
        foreign.stdout().contains("signed by another CA"),
        "{}",
        foreign.stdout()
    );

    // Missing.
    fs::remove_file(prod.join("redis/tls/tls.crt")).unwrap();
    let missing = status(&[]);
    assert_eq!(missing.code(), 1);
    assert!(missing.stdout().contains("redis/tls/tls.crt is missing"));
    for (path, bytes) in &saved {
        fs::write(prod.join(path), bytes).unwrap();
    }
    assert_eq!(status(&[]).code(), 0);

    // Not a pair: another workload's key (same CA, same type) beside auth-db's certificate.
    fs::copy(
        prod.join("redis/tls/tls.key"),
        prod.join("auth-db/tls/tls.key"),
    )
    .unwrap();
    let unpaired = status(&[]);
    assert_eq!(unpaired.code(), 1);
    assert!(
        unpaired
            .stdout()
            .contains("auth-db/tls/tls.key does not belong to auth-db/tls/tls.crt"),
        "{}",
        unpaired.stdout()
    );
    for (path, bytes) in &saved {
        fs::write(prod.join(path), bytes).unwrap();
    }
    assert_eq!(status(&[]).code(), 0);

    // bakery.toml changed under the certificates: SANs (namespace) and key type.
    let config = dir.path().join("bakery.toml");
    let original = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        original.replace("namespace = \"bakery-test\"", "namespace = \"shop\""),
    )
    .unwrap();
    let moved = status(&[]);
    assert_eq!(moved.code(), 1);
    assert!(
        moved.stdout().contains("SANs do not match"),
        "{}",
        moved.stdout()
    );
    fs::write(
        &config,
        original.replace("key = \"ecdsa-p256\"", "key = \"ecdsa-p384\""),
    )
    .unwrap();
    let retyped = status(&[]);
    assert_eq!(retyped.code(), 1);
    assert!(
        retyped.stdout().contains("asks for ecdsa-p384"),
        "{}",
        retyped.stdout()
    );
    // `rotate` brings the certificates back in line with bakery.toml.
    dir.run(&["secrets", "rotate", "--env", "prod"]).success();
    assert_eq!(status(&[]).code(), 0);
}

/// Counts what the core reports, from several threads.
#[derive(Default)]
struct Counted {
    total: AtomicUsize,
    done: AtomicUsize,
}

impl Progress for Counted {
    fn keys_to_generate(&self, total: usize) {
        self.total.store(total, Ordering::SeqCst);
    }

    fn key_generated(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn injected_failure_leaves_no_partial_file() {
    let platform = platform("ecdsa.toml");
    let dir = Test::new();
    let secrets_dir = dir.path().join("secrets");
    let now = Timestamp::now();
    let fresh =
        secrets::generate(&platform, "prod", &SecretFiles::new(), now, &NoProgress).unwrap();
    let n = fresh.changes.len();
    let only_gitignore = |dir: &Path| {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    for after in [0, 1, n / 2, n - 1] {
        let error = output::write_secrets(
            &secrets_dir,
            "prod",
            &fresh.changes,
            Fault::AfterFiles(after),
        );
        assert!(error.is_err());
        assert_eq!(
            only_gitignore(&secrets_dir),
            [".gitignore"],
            "after {after} file(s)"
        );
    }
    output::write_secrets(&secrets_dir, "prod", &fresh.changes, Fault::None).unwrap();
    let written = output::read_secrets(&secrets_dir, "prod").unwrap();
    assert_eq!(written, fresh.changes);

    // A CA rotation replaces most files: interrupted anywhere, the old set stays whole.
    let rotation = Rotation {
        ca: true,
        ..Rotation::default()
    };
    let rolled = secrets::rotate(&platform, "prod", &written, &rotation, now, &NoProgress).unwrap();
    for after in 0..rolled.changes.len() {
        assert!(
            output::write_secrets(
                &secrets_dir,
                "prod",
                &rolled.changes,
                Fault::AfterFiles(after)
            )
            .is_err()
        );
        assert_eq!(
            output::read_secrets(&secrets_dir, "prod").unwrap(),
            written,
            "after {after} file(s)"
        );
        assert_eq!(only_gitignore(&secrets_dir), [".gitignore", "prod"]);
    }
    output::write_secrets(&secrets_dir, "prod", &rolled.changes, Fault::None).unwrap();
    let after = output::read_secrets(&secrets_dir, "prod").unwrap();
    assert_ne!(after, written);
    let report = secrets::status(&platform, "prod", &after, now).unwrap();
    assert_eq!(report.problems(), 0, "{report:#?}");
    assert_private(&secrets_dir);
}

fn named<'a>(
    objects: &'a [serde_json::Value],
    kind: &str,
) -> BTreeMap<String, &'a serde_json::Value> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| (o["metadata"]["name"].as_str().unwrap().to_owned(), o))
        .collect()
}

/// What the pod templates of `objects` need: Secrets (name -> keys read) and ConfigMaps.
fn references(
    objects: &[serde_json::Value],
) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
    let mut secrets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut config_maps = BTreeSet::new();
    for object in objects {
        let spec = &object["spec"]["template"]["spec"];
        if spec.is_null() {
            continue;
        }
        let containers: Vec<&serde_json::Value> = ["containers", "initContainers"]
            .iter()
            .filter_map(|k| spec[*k].as_array())
            .flatten()
            .collect();
        for volume in spec["volumes"].as_array().into_iter().flatten() {
            if let Some(name) = volume["secret"]["secretName"].as_str() {
                let keys = secrets.entry(name.to_owned()).or_default();
                for item in volume["secret"]["items"].as_array().into_iter().flatten() {
                    keys.insert(item["key"].as_str().unwrap().to_owned());
                }
                // Files the containers read from where this volume is mounted.
                for container in &containers {
                    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
                        if mount["name"] != volume["name"] {
                            continue;
                        }
                        let prefix = format!("{}/", mount["mountPath"].as_str().unwrap());
                        let env_values = container["env"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|e| &e["value"]);
                        let words = ["command", "args"]
                            .iter()
                            .filter_map(|k| container[*k].as_array())
                            .flatten()
                            .chain(env_values)
                            .filter_map(|w| w.as_str());
                        for word in words {
                            for part in word.split(|c: char| c.is_whitespace() || c == '"') {
                                if let Some(key) = part.strip_prefix(&prefix) {
                                    keys.insert(key.trim_end_matches([')', ';']).to_owned());
                                }
                            }
                        }
                    }
                }
            }
            if let Some(name) = volume["configMap"]["name"].as_str() {
                config_maps.insert(name.to_owned());
            }
            for source in volume["projected"]["sources"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(name) = source["secret"]["name"].as_str() {
                    secrets.entry(name.to_owned()).or_default();
                }
                if let Some(name) = source["configMap"]["name"].as_str() {
                    config_maps.insert(name.to_owned());
                }
            }
        }
        for container in &containers {
            for env in container["env"].as_array().into_iter().flatten() {
                let from = &env["valueFrom"];
                if let Some(name) = from["secretKeyRef"]["name"].as_str() {
                    let key = from["secretKeyRef"]["key"].as_str().unwrap().to_owned();
                    secrets.entry(name.to_owned()).or_default().insert(key);
                }
                if let Some(name) = from["configMapKeyRef"]["name"].as_str() {
                    config_maps.insert(name.to_owned());
                }
            }
            for source in container["envFrom"].as_array().into_iter().flatten() {
                if let Some(name) = source["secretRef"]["name"].as_str() {
                    secrets.entry(name.to_owned()).or_default();
                }
                if let Some(name) = source["configMapRef"]["name"].as_str() {
                    config_maps.insert(name.to_owned());
                }
            }
        }
    }
    (secrets, config_maps)
}

/// The repo's own bakery.toml with ECDSA keys, so that the cross-check stays fast: key types
/// change nothing in names.
fn repo_platform() -> Platform {
    let source = fs::read_to_string(common::repo("bakery.toml")).unwrap();
    let mut platform = bakeryc::check(&source).platform.unwrap();
    // bakeryc's own provider: these tests are about what `bakeryc secrets` issues.
    platform.tls.provider = TlsProvider::Bakeryc;
    platform.tls.ca.key = KeyAlgorithm::EcdsaP256;
    platform.tls.server.key = KeyAlgorithm::EcdsaP256;
    platform
}

#[test]
fn kustomize_of_secrets_provides_everything_the_prod_overlay_references() {
    let platform = repo_platform();
    let dir = Test::new();
    let outcome = secrets::generate(
        &platform,
        "prod",
        &SecretFiles::new(),
        Timestamp::now(),
        &NoProgress,
    )
    .unwrap();
    output::write_secrets(dir.path(), "prod", &outcome.changes, Fault::None).unwrap();
    let provided = kustomize(&dir.path().join("prod"));
    // The tree of this platform (bakeryc issuing the certificates), not the committed one, which
    // cert-manager serves: there the judges' cross-references count its Certificates instead.
    let tree = Test::new();
    output::write_tree(tree.path(), &bakeryc::build(&platform).unwrap()).unwrap();
    let compiled = kustomize(&tree.path().join("overlays/prod"));

    let (needed_secrets, needed_config_maps) = references(&compiled);
    assert!(needed_secrets.len() >= 2 * 15, "{needed_secrets:?}");
    let secrets = named(&provided, "Secret");
    let provided_config_maps = named(&provided, "ConfigMap");
    let namespace = platform.namespace.as_str();
    // The S3 keys of a backup repository are the user's own Secret (README "Backups").
    let user_made: Vec<String> = platform
        .backup
        .iter()
        .flat_map(|b| std::iter::once(&b.policy).chain(b.environments.values()))
        .filter_map(|p| match &p.repository {
            bakeryc::model::Repository::S3(s3) => Some(s3.credentials_secret.to_string()),
            bakeryc::model::Repository::Volume { .. } => None,
        })
        .collect();
    for (name, keys) in &needed_secrets {
        if user_made.contains(name) {
            continue;
        }
        let secret = secrets
            .get(name)
            .unwrap_or_else(|| panic!("secrets/prod does not create Secret {name}"));
        assert_eq!(secret["metadata"]["namespace"], namespace, "{name}");
        let data = secret["data"].as_object().unwrap();
        for key in keys {
            assert!(data.contains_key(key), "Secret {name} lacks key {key}");
        }
        if name.ends_with("-tls") {
            assert_eq!(secret["type"], "kubernetes.io/tls");
            for key in ["tls.crt", "tls.key", "ca.crt"] {
                assert!(data.contains_key(key), "{name} lacks {key}");
            }
        } else if name.ends_with("-backup-cipher") {
            assert!(data.contains_key("passphrase"), "{name} lacks passphrase");
        } else {
            assert!(data.contains_key("password"), "{name} lacks password");
        }
    }
    // The files the containers read were found, so their keys were checked above.
    let reads = |name: &str, key: &str| needed_secrets[name].contains(key);
    assert!(
        reads("redis-credentials", "auth.conf"),
        "{needed_secrets:?}"
    );
    assert!(reads("redis-credentials", "password"), "{needed_secrets:?}");
    assert!(reads("redis-tls", "tls.key"), "{needed_secrets:?}");
    assert!(
        reads("auth-db-credentials", "password"),
        "{needed_secrets:?}"
    );
    // Every ConfigMap the overlay references but does not define itself.
    let compiled_config_maps = named(&compiled, "ConfigMap");
    for name in needed_config_maps {
        if !compiled_config_maps.contains_key(&name) {
            assert!(
                provided_config_maps.contains_key(&name),
                "nobody creates ConfigMap {name}"
            );
        }
    }
    let ca = provided_config_maps
        .get(&platform.ca_config_map())
        .expect("the CA ConfigMap for clients");
    assert!(
        ca["data"]["ca.crt"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    // Besides the servers' two each, every declared client's credentials (which the servers
    // read) and client certificate (which only the service's own pods mount), and with [backup]
    // the backup passphrase.
    let cipher = usize::from(platform.backup.is_some());
    assert_eq!(
        secrets.len(),
        2 * 15 + 2 * platform.clients.len() + cipher,
        "exactly the referenced Secrets, the clients' certificates and the backup passphrase"
    );
    for client in &platform.clients {
        assert!(secrets.contains_key(&format!("{}-client-tls", client.name)));
    }

    // The CA key never reaches Kubernetes.
    let ca_key = fs::read_to_string(dir.path().join("prod/ca.key")).unwrap();
    let rendered = serde_json::to_string(&provided).unwrap();
    let body: String = ca_key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!rendered.contains(&body[..40]));
    for secret in secrets.values() {
        for value in secret["data"].as_object().unwrap().values() {
            let decoded = base64_decode(value.as_str().unwrap());
            assert_ne!(decoded, ca_key.as_bytes(), "the CA key is in a Secret");
        }
    }
}

/// Standard base64 (kubectl output), enough for the test.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            _ => 63,
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The one RSA test: an RSA-4096 CA and an RSA-3072 server key, generated in parallel.
#[test]
fn rsa_keys_have_the_configured_sizes() {
    let platform = platform("rsa.toml");
    let dir = Test::new();
    let progress = Counted::default();
    let now = Timestamp::now();
    let outcome =
        secrets::generate(&platform, "prod", &SecretFiles::new(), now, &progress).unwrap();
    assert_eq!(progress.total.load(Ordering::SeqCst), 2);
    assert_eq!(progress.done.load(Ordering::SeqCst), 2);
    output::write_secrets(dir.path(), "prod", &outcome.changes, Fault::None).unwrap();
    let prod = dir.path().join("prod");
    let ca = x509_text(&prod, "ca.crt");
    assert!(ca.contains("Public-Key: (4096 bit)"), "{ca}");
    assert!(ca.contains("Signature Algorithm: sha256WithRSAEncryption"));
    let leaf = x509_text(&prod, "orders-db/tls/tls.crt");
    assert!(leaf.contains("Public-Key: (3072 bit)"), "{leaf}");
    assert!(
        leaf.contains("Digital Signature, Key Encipherment"),
        "{leaf}"
    );
    for name in sans("orders-db", "rsa-test") {
        assert!(
            verifies(&prod, "ca.crt", "orders-db/tls/tls.crt", &name),
            "{name}"
        );
    }
    let key = openssl(
        &["pkey", "-noout", "-text", "-in", "orders-db/tls/tls.key"],
        &prod,
    );
    assert!(
        text(&key.stdout).contains("Private-Key: (3072 bit"),
        "key size"
    );
    let files = files(&prod);
    let (_, ca_until, _) = validity(&files["ca.crt"]);
    let (_, until, _) = validity(&files["orders-db/tls/tls.crt"]);
    assert_eq!(ca_until, plus(now, "5y"));
    assert_eq!(until, plus(now, "1y"));
    let report = secrets::status(
        &platform,
        "prod",
        &output::read_secrets(dir.path(), "prod").unwrap(),
        now,
    )
    .unwrap();
    assert_eq!(report.problems(), 0, "{report:#?}");
    let entry = report
        .entries
        .iter()
        .find(|e| e.object == "orders-db-tls")
        .unwrap();
    assert_eq!(entry.key.as_deref(), Some("rsa-3072"));
}

/// Every RSA size bakery.toml offers for `[tls.server] key` is recognised by `status` in the
/// certificate it issued: rsa-2048 here (3072 and 4096 above, the ECDSA curves in the other
/// tests), so a fresh environment reports no problem and the key by its configured name.
#[test]
fn an_rsa_2048_server_key_is_reported_as_configured() {
    let source = fs::read_to_string(common::repo("tests/fixtures/secrets/rsa.toml")).unwrap();
    let platform = common::platform(
        &source
            .replace("key = \"rsa-4096\"", "key = \"ecdsa-p256\"")
            .replace("key = \"rsa-3072\"", "key = \"rsa-2048\""),
    );
    let now = Timestamp::now();
    let outcome = secrets::generate(
        &platform,
        "prod",
        &SecretFiles::new(),
        now,
        &Counted::default(),
    )
    .unwrap();
    let dir = Test::new();
    output::write_secrets(dir.path(), "prod", &outcome.changes, Fault::None).unwrap();
    let files = output::read_secrets(dir.path(), "prod").unwrap();
    let report = secrets::status(&platform, "prod", &files, now).unwrap();
    assert_eq!(report.problems(), 0, "{report:#?}");
    let entry = report
        .entries
        .iter()
        .find(|e| e.object == "orders-db-tls")
        .unwrap();
    assert_eq!(entry.key.as_deref(), Some("rsa-2048"));
}

/// With `[backup]`, `secrets generate` makes the repository passphrase once, private, and keeps
/// it through every rotation (a new one could not read the backups), and `status` and `prune`
/// never take it for an orphan.
#[test]
fn the_backup_passphrase_is_made_once_and_never_replaced_or_pruned() {
    let test = Test::fixture("tests/fixtures/backup-volume/bakery.toml");
    test.run(&["secrets", "generate", "--env", "dev"]).success();
    let path = test.join("secrets/dev/backup-cipher/passphrase");
    let passphrase = fs::read(&path).unwrap();
    assert!(passphrase.len() >= 32, "{} bytes", passphrase.len());
    assert_private(&path);
    let kustomization = fs::read_to_string(test.join("secrets/dev/kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("shop-backup-cipher"),
        "{kustomization}"
    );
    assert!(kustomization.contains("passphrase=backup-cipher/passphrase"));
    for args in [
        &["secrets", "generate", "--env", "dev"][..],
        &["secrets", "rotate", "--env", "dev", "--passwords"],
        &["secrets", "rotate", "--env", "dev", "--ca", "--passwords"],
    ] {
        test.run(args).success();
        assert_eq!(fs::read(&path).unwrap(), passphrase, "{args:?} replaced it");
    }
    test.run(&["secrets", "status", "--env", "dev"]).success();
    test.run(&["secrets", "prune", "--env", "dev", "--yes"])
        .success();
    assert_eq!(fs::read(&path).unwrap(), passphrase, "prune removed it");
}
