//! Proof against real servers and real clients. For a config declaring the installed PostgreSQL
//! major version, bakeryc itself compiles the tree and generates the secrets; the test then lays
//! out each pod's volumes from the compiled manifests and the generated Secrets (as the kubelet
//! would), runs the init containers' own commands, starts a real PostgreSQL and a real Redis on
//! loopback with the compiled settings, and checks TLS from outside with libpq, openssl,
//! redis-cli and the Python client libraries (psycopg, asyncpg, SQLAlchemy + asyncpg, redis-py)
//! using every profile bakeryc emitted, each also against a foreign CA and an impostor name. Every server start and client call is bounded in time, and servers
//! are always stopped. Needs PostgreSQL, Redis, openssl, kubectl and the client venv that
//! `scripts/test` installs (its path in BAKERY_E2E_PYTHON).

mod common;

use common::servers::*;
use common::{Test, kustomize};

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;

const NAMESPACE: &str = "e2e";
const PG_FQDN: &str = "auth-db-service.e2e.svc.cluster.local";
const REDIS_FQDN: &str = "redis-service.e2e.svc.cluster.local";

fn platform(client_auth: &str) -> Platform {
    let mut platform = Platform {
        dir: Test::new(),
        objects: Vec::new(),
        secrets: Vec::new(),
    };
    platform.rebuild(&config(client_auth, &["pgcrypto"]));
    platform
}

/// The e2e platform's bakery.toml, for the installed PostgreSQL major version.
fn config(client_auth: &str, extensions: &[&str]) -> String {
    let major = pg_major();
    let extensions = serde_json::to_string(extensions).unwrap();
    format!(
        r#"[platform]
name = "e2e"
namespace = "{NAMESPACE}"

[postgres]
version = {major}
image = "postgres:{major}-alpine"
storage = "1Gi"
extensions = {extensions}

[postgres.audit]
log_connections = true
log_disconnections = true
log_statement = "ddl"
log_min_duration = "500ms"

[postgres.settings]
idle_in_transaction_session_timeout = "1min"

[[database]]
name = "auth"
[cache]
name = "redis"
image = "redis:7.4.1-alpine"
storage = "1Gi"
client_auth = "{client_auth}"

[tls]
min_version = "1.3"

[tls.ca]
validity = "2y"
key = "ecdsa-p256"

[tls.server]
validity = "1y"
key = "ecdsa-p256"
renew_before = "30d"

[environments.e2e]
"#
    )
}

/// The credentials Secret `name` as External Secrets would write it: the ExternalSecret that the
/// e2e platform compiles to with `[secrets] provider = "external-secrets"`, its template data
/// rendered with `password`. The engine (v2) is Go text/template with sprig; bakeryc's templates
/// use exactly one action, `{{ .password }}`, which Go writes verbatim (text/template escapes
/// nothing). That subset is implemented here, and any other action fails the test, so a template
/// change that needs the real engine cannot pass unnoticed.
fn external_secrets_credentials(name: &str, password: &str) -> BTreeMap<String, String> {
    let source = format!(
        "{}\n[secrets]\nprovider = \"external-secrets\"\n",
        config("none", &["pgcrypto"])
    );
    let tree = bakeryc::compile::compile(&common::platform(&source));
    let template = tree
        .into_values()
        .filter_map(|document| match document {
            bakeryc::compile::Document::Objects(objects) => Some(objects),
            _ => None,
        })
        .flatten()
        .find_map(|object| match object {
            bakeryc::compile::Object::ExternalSecret(es) if es.spec.target.name == name => {
                Some(es.spec.target.template.data)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ExternalSecret writes {name}"));
    template
        .into_iter()
        .map(|(key, text)| {
            let rendered = text.replace("{{ .password }}", password);
            assert!(
                !rendered.contains("{{") && !rendered.contains("}}"),
                "{name} {key}: an action beyond {{{{ .password }}}}: {text}"
            );
            (key, rendered)
        })
        .collect()
}

#[test]
fn postgres_and_redis_accept_only_verified_tls_and_real_clients_connect() {
    let platform = platform("none");
    let ca = platform.ca_file().display().to_string();
    let foreign = platform.foreign_ca().display().to_string();
    let db = credentials(&platform, "auth-db-credentials");
    let password = db["password"].clone();
    let pg = start_postgres(&platform, None);
    let verified = format!(
        "host={PG_FQDN} hostaddr=127.0.0.1 dbname=auth_db user=auth_user sslmode=verify-full sslrootcert={ca}"
    );

    // 1. verify-full with the Service's name, at least the configured TLS version.
    let row = ok(
        &psql(
            &pg,
            &verified,
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &password,
        ),
        "verify-full",
    );
    assert_eq!(
        row.trim(),
        "t|TLSv1.3",
        "TLS in use, version >= min_version 1.3"
    );
    // 2. a client offering only an older TLS version is refused by the server.
    let old = psql(
        &pg,
        &format!("{verified} ssl_max_protocol_version=TLSv1.2"),
        "SELECT 1",
        &password,
    );
    assert!(
        !old.status.success(),
        "a TLS 1.2-only client must be refused when min_version is 1.3"
    );
    // 3. plaintext is rejected by pg_hba.conf.
    let plain = plaintext_login(&pg, &password);
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("no encryption"),
        "plaintext must be rejected: {plain:?}"
    );
    // 4. a client trusting another CA, or expecting another name, is refused.
    let other_ca = psql(&pg, &verified.replace(&ca, &foreign), "SELECT 1", &password);
    assert!(
        String::from_utf8_lossy(&other_ca.stderr).contains("certificate verify failed"),
        "{other_ca:?}"
    );
    let other_name = psql(
        &pg,
        &verified.replace(PG_FQDN, "evil.example.com"),
        "SELECT 1",
        &password,
    );
    assert!(
        !other_name.status.success(),
        "a certificate for another name must be refused"
    );
    // 5. the declared extensions exist.
    let crypto = ok(
        &psql(
            &pg,
            &verified,
            "SELECT gen_random_uuid() IS NOT NULL, crypt('secret', gen_salt('bf')) LIKE '$2a$%'",
            &password,
        ),
        "pgcrypto",
    );
    assert_eq!(crypto.trim(), "t|t");
    // 5b. the declared [postgres.settings] are in effect on the server.
    let setting = ok(
        &psql(
            &pg,
            &verified,
            "SHOW idle_in_transaction_session_timeout",
            &password,
        ),
        "SHOW a declared setting",
    );
    assert_eq!(setting.trim(), "1min", "declared settings reach the server");
    // 6. connections, DDL and slow statements are audited. Separate queries: a slow query's
    // duration line quotes its whole text, which would hide a DDL statement that log_statement
    // failed to log.
    for sql in ["CREATE TABLE audit_probe (id int)", "SELECT pg_sleep(0.6)"] {
        ok(&psql(&pg, &verified, sql, &password), "audited statements");
    }
    let log = fs::read_to_string(&pg.log).unwrap();
    for expected in [
        "connection authorized: user=auth_user database=auth_db",
        "LOG:  statement: CREATE TABLE audit_probe",
        "statement: SELECT pg_sleep(0.6)",
        "duration:",
        "user=auth_user db=auth_db client=127.0.0.1",
        "disconnection:",
    ] {
        assert!(
            log.contains(expected),
            "server log lacks {expected:?}:\n{log}"
        );
    }

    // Redis from the compiled args.
    let cache = credentials(&platform, "redis-credentials");
    let redis = start_redis(&platform);
    let port = redis.port.to_string();
    let s_client = run(
        20,
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            REDIS_FQDN,
            "-verify_hostname",
            REDIS_FQDN,
            "-verify_return_error",
            "-CAfile",
            &ca,
            "-brief",
        ],
    );
    let handshake = String::from_utf8_lossy(&s_client.stderr).into_owned()
        + &String::from_utf8_lossy(&s_client.stdout);
    assert!(
        handshake.contains("Verification: OK") && handshake.contains("TLSv1.3"),
        "redis TLS with hostname verification: {handshake}"
    );
    let old_tls = run(
        20,
        "openssl",
        &[
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-tls1_2",
            "-CAfile",
            &ca,
            "-brief",
        ],
    );
    assert!(
        !old_tls.status.success(),
        "a TLS 1.2-only client must be refused by Redis"
    );
    let cli = |args: &[&str], auth: Option<&str>| {
        let mut full = vec!["-h", "127.0.0.1", "-p", &port];
        full.extend(args);
        let env: Vec<(&str, &str)> = auth.map(|a| vec![("REDISCLI_AUTH", a)]).unwrap_or_default();
        let out = run_env(20, "redis-cli", &full, &env);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(
        cli(
            &["--tls", "--cacert", &ca, "PING"],
            Some(&cache["password"])
        )
        .contains("PONG"),
        "TLS PING with the CA"
    );
    assert!(
        cli(&["--tls", "--cacert", &ca, "PING"], None).contains("NOAUTH"),
        "AUTH is required"
    );
    assert!(
        !cli(&["PING"], Some(&cache["password"])).contains("PONG"),
        "plaintext is refused"
    );
    assert!(
        !cli(
            &["--tls", "--cacert", &foreign, "PING"],
            Some(&cache["password"])
        )
        .contains("PONG"),
        "a foreign CA is refused"
    );

    // The real client libraries, with the profiles bakeryc emitted and the URLs as External
    // Secrets renders them from the ExternalSecret templates: the same bytes as bakeryc secrets
    // writes, so both providers' Secrets are what the clients below accept.
    let db = external_secrets_credentials("auth-db-credentials", &password);
    assert_eq!(db, credentials(&platform, "auth-db-credentials"));
    let cache = external_secrets_credentials("redis-credentials", &cache["password"]);
    assert_eq!(cache, credentials(&platform, "redis-credentials"));
    let client_env: BTreeMap<String, String> = platform
        .config_map("auth-db-client")
        .into_iter()
        .map(|(k, v)| (k, v.replace("/etc/e2e-ca/ca.crt", &ca)))
        .collect();
    let pg_ca_mount = platform.config_map("auth-db-client")["PGSSLROOTCERT"].clone();
    let redis_ca_mount = platform.config_map("redis-client")["REDIS_SSL_CA_CERTS"].clone();
    let redis_env: BTreeMap<String, String> = platform
        .config_map("redis-client")
        .into_iter()
        .map(|(k, v)| (k, v.replace(&redis_ca_mount, &ca)))
        .collect();
    let client_plan = serde_json::json!({
        "routes": [[PG_FQDN, 5432, "127.0.0.1", pg.port], [REDIS_FQDN, 6379, "127.0.0.1", redis.port]],
        "foreign_ca": foreign,
        "postgres": {
            "client_env": client_env,
            "port": pg.port,
            "host": PG_FQDN,
            "password": password,
            "ca_file": ca,
            "sqlalchemy_url": db["SQLALCHEMY_DATABASE_URL"],
            // libpq resolves names itself: the Service's address and port are given as hostaddr/port.
            "libpq_url": db["DATABASE_URL"].replace(&pg_ca_mount, &ca).replace(":5432/", &format!(":{}/", pg.port)) + "&hostaddr=127.0.0.1",
        },
        "redis": {
            "client_env": redis_env,
            "host": REDIS_FQDN,
            "port": redis.port,
            "password": cache["password"],
            "url": cache["REDIS_URL"].replace(&redis_ca_mount, &ca),
            "url_without_password": cache["REDIS_URL"].replace(&redis_ca_mount, &ca).replacen(&format!(":{}@", cache["password"]), "", 1),
            "ca_file": ca,
        },
    });
    let plan_file = platform.work("client").join("plan.json");
    fs::write(
        &plan_file,
        serde_json::to_string_pretty(&client_plan).unwrap(),
    )
    .unwrap();
    let clients = run(
        120,
        &python(),
        &[
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/clients.py"),
            &plan_file.display().to_string(),
        ],
    );
    let report = String::from_utf8_lossy(&clients.stdout).into_owned();
    println!("{report}{}", String::from_utf8_lossy(&clients.stderr));
    assert!(
        clients.status.success(),
        "real clients failed:\n{report}{}",
        String::from_utf8_lossy(&clients.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("PASS ")).count(),
        21,
        "every client check ran (6 profiles x connect, foreign CA, impostor name; 2 controls; no password):\n{report}"
    );

    // The password rotation of docs/secrets.md, run last because it changes the password: the
    // new password is stored as SCRAM (password_encryption), so it logs in under pg_hba's
    // scram-sha-256 over verify-full; the old one no longer does.
    let rotated = "rotatedPassw0rdFromTheE2eSuite2026xyz";
    ok(
        &psql(
            &pg,
            &verified,
            &format!("SET log_statement = none; ALTER ROLE CURRENT_USER PASSWORD '{rotated}'"),
            &password,
        ),
        "ALTER ROLE (rotation)",
    );
    ok(
        &psql(&pg, &verified, "SELECT 1", rotated),
        "the rotated password logs in over verify-full with SCRAM",
    );
    assert!(
        !psql(&pg, &verified, "SELECT 1", &password).status.success(),
        "the old password no longer logs in"
    );
    drop(redis);
    drop(pg);
}

/// The suite can fail: a hand-weakened pg_hba.conf that lets plaintext in is caught by the
/// same plaintext check the main test uses.
#[test]
fn a_weakened_pg_hba_is_caught() {
    let platform = platform("none");
    let password = credentials(&platform, "auth-db-credentials")["password"].clone();
    let weak = "local all all scram-sha-256\nhost all all 0.0.0.0/0 scram-sha-256\n";
    let pg = start_postgres(&platform, Some(weak));
    let plain = plaintext_login(&pg, &password);
    assert!(
        plain.status.success(),
        "with the weakened pg_hba.conf plaintext gets in, so the check in the main test would fail: {plain:?}"
    );
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("no encryption"));
}

/// Issue 17 item 18: an extension declared after the database was created reaches it. The server
/// starts from a config without pg_trgm; the config then gains it and is compiled again. The new
/// build changes the pod's config digest (so a sync restarts the pod) but by itself adds nothing;
/// the new manifest's own postStart hook, run against the server that is still running, creates
/// the extension; a second run changes nothing; and a hook that cannot log in fails loudly.
#[test]
fn an_extension_added_later_reaches_the_running_database() {
    let mut platform = platform("none");
    let ca = platform.ca_file().display().to_string();
    let password = credentials(&platform, "auth-db-credentials")["password"].clone();
    let digest = |platform: &Platform| {
        let deployment: Deployment = Platform::find(&platform.objects, "Deployment", "auth-db");
        deployment
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()["bakeryc.dev/config-digest"]
            .clone()
    };
    let before = digest(&platform);
    let pg = start_postgres(&platform, None);
    let extensions = || {
        let verified = format!(
            "host={PG_FQDN} hostaddr=127.0.0.1 dbname=auth_db user=auth_user sslmode=verify-full sslrootcert={ca}"
        );
        let sql = "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension";
        ok(&psql(&pg, &verified, sql, &password), "pg_extension")
            .trim()
            .to_owned()
    };
    assert_eq!(extensions(), "pgcrypto,plpgsql");

    platform.rebuild(&config("none", &["pgcrypto", "pg_trgm"]));
    assert_ne!(
        digest(&platform),
        before,
        "the changed ConfigMap changes the pod template, so a sync restarts the pod"
    );
    assert_eq!(
        extensions(),
        "pgcrypto,plpgsql",
        "the build alone reaches no running database"
    );
    for run in ["first", "second"] {
        ok(
            &post_start(&platform, &pg, run, |_| {}),
            &format!("the new postStart hook, {run} run"),
        );
        assert_eq!(
            extensions(),
            "pg_trgm,pgcrypto,plpgsql",
            "after the {run} run of the hook"
        );
    }

    let wrong = post_start(&platform, &pg, "wrong-password", |sandbox| {
        let file = sandbox.volumes["credentials"].join("password");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&file, "not-the-password").unwrap();
    });
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        !wrong.status.success()
            && stderr.contains("bakeryc: applying")
            && stderr.contains("auth_db"),
        "a hook that cannot apply the SQL exits non-zero and says so: {wrong:?}"
    );
}

/// `client_auth`: with "optional", Redis verifies a client certificate when one is presented
/// (one from a foreign CA is refused) and still accepts clients without one; with "none" it
/// never asks, so the same foreign certificate is ignored.
#[test]
fn redis_client_auth_follows_the_config() {
    for (mode, foreign_cert_accepted) in [("optional", false), ("none", true)] {
        let platform = platform(mode);
        let ca = platform.ca_file().display().to_string();
        let foreign_dir = platform.work("foreign");
        platform.foreign_ca();
        let (key, cert) = (
            foreign_dir.join("ca.key").display().to_string(),
            foreign_dir.join("ca.crt").display().to_string(),
        );
        let password = credentials(&platform, "redis-credentials")["password"].clone();
        let redis = start_redis(&platform);
        let port = redis.port.to_string();
        let ping = |extra: &[&str]| {
            let mut args = vec!["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert", &ca];
            args.extend(extra);
            args.push("PING");
            let out = run_env(20, "redis-cli", &args, &[("REDISCLI_AUTH", &password)]);
            String::from_utf8_lossy(&out.stdout).contains("PONG")
        };
        assert!(
            ping(&[]),
            "{mode}: a client without a certificate is accepted"
        );
        assert_eq!(
            ping(&["--cert", &cert, "--key", &key]),
            foreign_cert_accepted,
            "{mode}: client with a foreign certificate"
        );
    }
}

// ---------------------------------------------------------------- reload in place ------

/// A pod's reloader container, run with the exact command of the compiled manifest (mount paths
/// translated, the poll interval argument set to 1 s), in its own process group so that the
/// whole loop stops on drop. Its stdout and stderr go to `log`.
struct Reloader {
    child: Child,
    log: PathBuf,
}

impl Reloader {
    fn start(
        pod: &PodSpec,
        sandbox: &Sandbox,
        log: PathBuf,
        as_postgres_user: bool,
        env: &[(&str, &str)],
    ) -> Self {
        use std::os::unix::process::CommandExt;
        let container = pod
            .containers
            .iter()
            .find(|c| c.name == "reloader")
            .expect("the pod has a reloader container");
        let mut argv = sandbox.argv(container);
        assert_eq!(
            argv[..5],
            ["sh", "-euc", &argv[2], "reloader", "10"],
            "the compiled poll interval is the command's first argument"
        );
        argv[4] = "1".into();
        // Its probe reads the heartbeat the loop writes: the same command must pass once it runs.
        let probe = container
            .liveness_probe
            .as_ref()
            .and_then(|p| p.exec.as_ref())
            .and_then(|e| e.command.clone())
            .expect("the reloader has an exec liveness probe");
        let probe: Vec<String> = probe
            .iter()
            .map(|a| sandbox.translate(container, a))
            .collect();
        let argv = if as_postgres_user {
            as_postgres(&argv.iter().map(String::as_str).collect::<Vec<_>>())
        } else {
            argv
        };
        let out = fs::File::create(&log).unwrap();
        let child = Command::new("timeout")
            .args(["-k", "5", "300"])
            .args(&argv)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap();
        let reloader = Self { child, log };
        reloader.wait_for("watching", 20);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let refs: Vec<&str> = probe.iter().map(String::as_str).collect();
            if run(10, refs[0], &refs[1..]).status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the reloader's probe never passed"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        reloader
    }

    fn text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle` `count` times in all.
    fn wait_for_count(&self, needle: &str, count: usize, seconds: u64) -> Duration {
        let start = Instant::now();
        while self.text().matches(needle).count() < count {
            assert!(
                start.elapsed() < Duration::from_secs(seconds),
                "the reloader did not log {needle:?} {count} time(s) within {seconds} s:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        start.elapsed()
    }

    fn wait_for(&self, needle: &str, seconds: u64) -> Duration {
        self.wait_for_count(needle, 1, seconds)
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// Client connections opened once and asked again on demand (psycopg and redis-py): the answer
/// names the PostgreSQL backend and the Redis client id, so a reconnect would show.
struct OpenConnections {
    child: Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

const OPEN_CONNECTIONS_PY: &str = r#"
import os, sys
import psycopg, redis
pg = psycopg.connect(os.environ["PG_CONNINFO"], autocommit=True)
cache = redis.Redis(host="127.0.0.1", port=int(os.environ["REDIS_PORT"]),
                    password=os.environ["REDIS_PASSWORD"], ssl=True,
                    ssl_ca_certs=os.environ["CA"], ssl_cert_reqs="required",
                    ssl_check_hostname=False, single_connection_client=True)
def answer():
    backend, tls = pg.execute(
        "SELECT pid, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    print(backend, tls, cache.client_id(), cache.ping(), flush=True)
answer()
for _ in sys.stdin:
    answer()
"#;

impl OpenConnections {
    fn open(platform: &Platform, pg: &Postgres, redis: &Redis) -> Self {
        use std::io::BufRead;
        let ca = platform.ca_file().display().to_string();
        let script = platform.work("client").join("open_connections.py");
        fs::write(&script, OPEN_CONNECTIONS_PY).unwrap();
        let conninfo = format!(
            "host={PG_FQDN} hostaddr=127.0.0.1 port={} dbname=auth_db user=auth_user password={} sslmode=verify-full sslrootcert={ca}",
            pg.port,
            credentials(platform, "auth-db-credentials")["password"]
        );
        let mut child = Command::new("timeout")
            .args(["-k", "5", "300", &python(), &script.display().to_string()])
            .env("PG_CONNINFO", conninfo)
            .env("REDIS_PORT", redis.port.to_string())
            .env(
                "REDIS_PASSWORD",
                &credentials(platform, "redis-credentials")["password"],
            )
            .env("CA", &ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The first answer (given at connect), then one per call.
    fn answer(&mut self, ask: bool) -> String {
        use std::io::Write;
        if ask {
            let stdin = self.child.stdin.as_mut().unwrap();
            stdin.write_all(b"again\n").unwrap();
            stdin.flush().unwrap();
        }
        self.lines
            .next()
            .expect("the open connections answer")
            .unwrap()
    }
}

impl Drop for OpenConnections {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The serial of the certificate a server presents on `port` (`starttls`: `postgres` for
/// PostgreSQL's SSLRequest), read with openssl s_client.
fn presented_serial(port: u16, starttls: Option<&str>, scratch: &Path) -> String {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec!["s_client", "-connect", &address];
    if let Some(protocol) = starttls {
        args.extend(["-starttls", protocol]);
    }
    let out = run(20, "openssl", &args);
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("no certificate presented on {address}: {out:?}"));
    let end = text[start..].find("-----END CERTIFICATE-----").unwrap() + start + 25;
    certificate_serial(text[start..end].as_bytes(), scratch)
}

fn certificate_serial(pem: &[u8], scratch: &Path) -> String {
    let file = scratch.join("serial.pem");
    fs::write(&file, pem).unwrap();
    ok(
        &run(
            10,
            "openssl",
            &[
                "x509",
                "-noout",
                "-serial",
                "-in",
                &file.display().to_string(),
            ],
        ),
        "openssl x509 -serial",
    )
    .trim()
    .to_owned()
}

fn postmaster_pid(server: &Postgres) -> String {
    fs::read_to_string(server.data.join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

/// Waits until `port` presents the certificate with `serial`; returns how long that took.
fn wait_for_serial(port: u16, starttls: Option<&str>, serial: &str, scratch: &Path) -> Duration {
    let start = Instant::now();
    loop {
        let now = presented_serial(port, starttls, scratch);
        if now == serial {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "port {port} still presents {now}, not {serial}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 10: a renewed certificate reaches running PostgreSQL and Redis without a restart. The
/// Secrets are laid out as the kubelet does, the servers start from the compiled configuration
/// and each pod's reloader runs its compiled command (poll interval 1 s). `bakeryc secrets
/// rotate` issues new certificates, the test swaps them in as the kubelet would: within the poll
/// interval (plus margin) each server presents the new serial, with the same process id, and
/// connections opened before the swap still answer on the same backend and client id. Then
/// broken keys: a truncated key is refused by the reloader itself; a complete key that is not
/// the certificate's is refused by Redis (the reloader logs it) and by PostgreSQL (which logs
/// that its SSL configuration was not reloaded); both keep presenting the previous certificate.
#[test]
fn renewed_certificates_reach_the_running_servers_without_a_restart() {
    let mut platform = platform("none");
    let scratch = platform.work("reload");
    let pg = start_postgres(&platform, None);
    let redis = start_redis(&platform);
    let (pg_pid, redis_pid) = (postmaster_pid(&pg), redis.child.id());
    let bin = Path::new(&pg_bin("psql"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let pg_reloader = Reloader::start(
        &platform.deployment("auth-db"),
        &pg.sandbox,
        scratch.join("pg-reloader.log"),
        true,
        &[("PATH", &path), ("PGPORT", &pg.port.to_string())],
    );
    let redis_reloader = Reloader::start(
        &platform.deployment("redis"),
        &redis.sandbox,
        scratch.join("redis-reloader.log"),
        false,
        &[],
    );
    let serial = |platform: &Platform, secret: &str| {
        certificate_serial(&platform.secret(secret)["tls.crt"], &scratch)
    };
    let old = (
        serial(&platform, "auth-db-tls"),
        serial(&platform, "redis-tls"),
    );
    assert_eq!(presented_serial(pg.port, Some("postgres"), &scratch), old.0);
    assert_eq!(presented_serial(redis.port, None, &scratch), old.1);
    let mut connections = OpenConnections::open(&platform, &pg, &redis);
    let before = connections.answer(false);
    assert!(before.contains(" True "), "TLS connections: {before}");

    // 1. A renewed certificate, swapped in as the kubelet does.
    platform
        .dir
        .run(&[
            "secrets", "rotate", "--env", "e2e", "--only", "auth", "redis",
        ])
        .success();
    platform.secrets = kustomize(&platform.dir.join("secrets/e2e"));
    let new = (
        serial(&platform, "auth-db-tls"),
        serial(&platform, "redis-tls"),
    );
    assert!(
        new.0 != old.0 && new.1 != old.1,
        "rotate issued new serials"
    );
    let (pg_files, redis_files) = (platform.secret("auth-db-tls"), platform.secret("redis-tls"));
    pg.sandbox.swap_secret("tls", &pg_files);
    redis.sandbox.swap_secret("tls", &redis_files);
    let took = (
        wait_for_serial(pg.port, Some("postgres"), &new.0, &scratch),
        wait_for_serial(redis.port, None, &new.1, &scratch),
    );
    assert!(
        took.0 < Duration::from_secs(5) && took.1 < Duration::from_secs(5),
        "the new certificates are served within the 1 s poll interval plus margin: {took:?}"
    );
    pg_reloader.wait_for("reload command succeeded", 10);
    redis_reloader.wait_for("reload command succeeded", 10);
    assert_eq!(postmaster_pid(&pg), pg_pid, "PostgreSQL was not restarted");
    assert_eq!(redis.child.id(), redis_pid);
    assert!(
        run(5, "kill", &["-0", &redis_pid.to_string()])
            .status
            .success(),
        "Redis still runs"
    );
    assert_eq!(
        connections.answer(true),
        before,
        "the connections opened before the renewal still answer, on the same backend and client"
    );

    // 2. A truncated key (a half-written file): the reloader refuses it before the servers see it.
    let mut truncated = pg_files.clone();
    let key = truncated["tls.key"].clone();
    truncated.insert("tls.key".into(), key[..key.len() / 2].to_vec());
    pg.sandbox.swap_secret("tls", &truncated);
    let mut truncated = redis_files.clone();
    let key = truncated["tls.key"].clone();
    truncated.insert("tls.key".into(), key[..key.len() / 2].to_vec());
    redis.sandbox.swap_secret("tls", &truncated);
    for reloader in [&pg_reloader, &redis_reloader] {
        reloader.wait_for("tls.key holds no complete PEM private key", 10);
        reloader.wait_for("reload FAILED", 10);
    }

    // 3. A complete key that is not the certificate's: the servers refuse to load it and keep
    // the previous certificate; Redis's refusal is the reloader's failure.
    let other = scratch.join("other.key");
    ok(
        &run(
            10,
            "openssl",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &other.display().to_string(),
            ],
        ),
        "openssl genpkey",
    );
    let other = fs::read(&other).unwrap();
    let mut mismatched = pg_files.clone();
    mismatched.insert("tls.key".into(), other.clone());
    pg.sandbox.swap_secret("tls", &mismatched);
    let mut mismatched = redis_files.clone();
    mismatched.insert("tls.key".into(), other);
    redis.sandbox.swap_secret("tls", &mismatched);
    redis_reloader.wait_for("Redis refused the files", 10);
    redis_reloader.wait_for_count("reload FAILED", 2, 10);
    pg_reloader.wait_for_count("reload command succeeded", 2, 10);
    let start = Instant::now();
    while !fs::read_to_string(&pg.log)
        .unwrap_or_default()
        .contains("SSL configuration was not reloaded")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "PostgreSQL did not log the failed SSL reload:\n{}",
            fs::read_to_string(&pg.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(presented_serial(pg.port, Some("postgres"), &scratch), new.0);
    assert_eq!(presented_serial(redis.port, None, &scratch), new.1);
    assert_eq!(postmaster_pid(&pg), pg_pid);
    assert_eq!(connections.answer(true), before);
    println!(
        "postgres reloader:\n{}\nredis reloader:\n{}",
        pg_reloader.text(),
        redis_reloader.text()
    );
}

/// Issue 14: a setting PostgreSQL applies on reload reaches the running server in place. The
/// server and its reloader run from the compiled manifests; bakery.toml then raises
/// `log_min_duration` (context `superuser`, applied by `pg_reload_conf()`): the new build leaves
/// the pod template and its config digest as they were (a sync restarts nothing), the kubelet's
/// update of the mounted ConfigMap is a new postgresql.conf, and the reloader, which watches the
/// config directory, has the running server re-read it: it reports the new value with the same
/// postmaster process id.
#[test]
fn a_reload_level_setting_reaches_the_running_server_without_a_restart() {
    let mut platform = platform("none");
    let scratch = platform.work("reload-setting");
    let template = |platform: &Platform| {
        let deployment: Deployment = Platform::find(&platform.objects, "Deployment", "auth-db");
        serde_json::to_value(deployment.spec.unwrap().template).unwrap()
    };
    let before = template(&platform);
    let pg = start_postgres(&platform, None);
    let pid = postmaster_pid(&pg);
    let bin = Path::new(&pg_bin("psql"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let reloader = Reloader::start(
        &platform.deployment("auth-db"),
        &pg.sandbox,
        scratch.join("pg-reloader.log"),
        true,
        &[("PATH", &path), ("PGPORT", &pg.port.to_string())],
    );
    let ca = platform.ca_file().display().to_string();
    let password = credentials(&platform, "auth-db-credentials")["password"].clone();
    let show = || {
        let verified = format!(
            "host={PG_FQDN} hostaddr=127.0.0.1 dbname=auth_db user=auth_user sslmode=verify-full sslrootcert={ca}"
        );
        ok(
            &psql(&pg, &verified, "SHOW log_min_duration_statement", &password),
            "SHOW",
        )
        .trim()
        .to_owned()
    };
    assert_eq!(show(), "500ms");

    let raised = config("none", &["pgcrypto"])
        .replace("log_min_duration = \"500ms\"", "log_min_duration = \"2s\"");
    platform.rebuild(&raised);
    // Not assert_eq: the whole template would fill the screen.
    assert!(
        template(&platform) == before,
        "a reload-level setting leaves the pod template (and its config digest) as it was"
    );
    // The kubelet's update of the mounted ConfigMap: the new file replaces the old one at once.
    let container = &platform.deployment("auth-db").containers[0];
    let conf = platform.config_map("auth-db-config")["postgresql.conf"].clone();
    assert!(conf.contains("log_min_duration_statement = 2000"), "{conf}");
    let dir = &pg.sandbox.volumes["config"];
    let staged = dir.join(".postgresql.conf.new");
    fs::write(&staged, pg.sandbox.translate(container, &conf)).unwrap();
    fs::set_permissions(&staged, fs::Permissions::from_mode(0o644)).unwrap();
    fs::rename(&staged, dir.join("postgresql.conf")).unwrap();

    reloader.wait_for("reload command succeeded", 30);
    let start = Instant::now();
    while show() != "2s" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the running server still reports {}:\n{}",
            show(),
            reloader.text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(postmaster_pid(&pg), pid, "the server was not restarted");
}
