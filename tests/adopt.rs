//! Adoption against real servers (docs/adopt.md): a data directory and an append-only file that a
//! previous deployment made (real initdb, real redis-server, rows and keys written, passwords set
//! by hand, names other than bakeryc's) are started again by real PostgreSQL and Redis with
//! exactly what bakeryc compiled for `[database.adopt]` / `[cache.adopt]` and the passwords that
//! `bakeryc secrets import` stored: the pod's volumes are laid out from the compiled Deployment
//! by the one real-server harness (tests/common/servers.rs)
//! (the adopted claim is the old directory, never an empty one), the postStart hook runs, and a
//! client with the emitted profile logs in over verify-full TLS with the imported password. No
//! stub anywhere; every process is bounded in time and stopped. Needs PostgreSQL, Redis, openssl
//! and kubectl, as tests/e2e.rs does.

mod common;

use common::servers::{
    Kill, Platform, Sandbox, Stop, env_of, free_port, give, initdb, ok, pg_bin, pg_ctl, pg_major,
    run_as_postgres, run_env, run_post_start, spawn_redis, wait_for_port,
};
use common::{Test, kustomize};

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;

const NAMESPACE: &str = "e2e";
/// The hand-set passwords of the previous deployment: weak, as the seed's were.
const PG_PASSWORD: &str = "shop_pass123";
const REDIS_PASSWORD: &str = "cache_pass123";

// ---------------------------------------------------------------- what ran before ------

/// What a previous deployment left on the claim `claim`: a data directory at `data/pg` made by
/// initdb for role `shop_owner`, a database `shop` with 250 rows, and a password set by hand
/// with ALTER ROLE. The server is stopped again, as when its old pod is deleted.
fn previous_postgres(claim: &Path, scratch: &Path) {
    let data = claim.join("data/pg");
    fs::create_dir_all(data.parent().unwrap()).unwrap();
    let socket = scratch.join("old-socket");
    fs::create_dir_all(&socket).unwrap();
    let pwfile = scratch.join("initdb-password");
    fs::write(&pwfile, "initial-password-of-2019").unwrap();
    give(claim);
    give(scratch);
    ok(
        &initdb(&data, "shop_owner", &pwfile),
        "initdb of the previous deployment",
    );
    let log = scratch.join("old.log");
    let port = free_port();
    let options = format!(
        "-c listen_addresses='' -c port={port} -c unix_socket_directories={}",
        socket.display()
    );
    ok(
        &pg_ctl(&data, &log, &options, "start"),
        "the previous deployment's server",
    );
    let _stop = Stop(data.clone(), log);
    let sql = |db: &str, sql: &str, password: &str| {
        run_as_postgres(
            30,
            &[
                &pg_bin("psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &socket.display().to_string(),
                "-p",
                &port.to_string(),
                "-U",
                "shop_owner",
                "-d",
                db,
                "-c",
                sql,
            ],
            &[("PGPASSWORD", password)],
        )
    };
    ok(
        &sql(
            "postgres",
            "CREATE DATABASE shop",
            "initial-password-of-2019",
        ),
        "CREATE DATABASE shop",
    );
    ok(
        &sql(
            "shop",
            &format!(
                "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL); \
                 INSERT INTO orders SELECT n, 'bread ' || n FROM generate_series(1, 250) n; \
                 ALTER ROLE shop_owner PASSWORD '{PG_PASSWORD}'"
            ),
            "initial-password-of-2019",
        ),
        "rows and the hand-set password",
    );
}

/// What a previous Redis left on the claim `claim`: an append-only file in `redis-data` with
/// two keys, written under a hand-set password, then a clean shutdown.
fn previous_redis(claim: &Path, scratch: &Path) {
    let dir = claim.join("redis-data");
    fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let port_text = port.to_string();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port_text,
            "--bind",
            "127.0.0.1",
            "--dir",
            &dir.display().to_string(),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--requirepass",
            REDIS_PASSWORD,
            "--logfile",
            &scratch.join("old-redis.log").display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Kill(child);
    wait_for_port(port);
    let cli = |args: &[&str]| {
        let mut argv = vec!["redis-cli", "-h", "127.0.0.1", "-p", &port_text];
        argv.extend(args);
        run_env(
            10,
            argv[0],
            &argv[1..],
            &[("REDISCLI_AUTH", REDIS_PASSWORD)],
        )
    };
    ok(&cli(&["SET", "basket:42", "croissant"]), "SET");
    ok(&cli(&["RPUSH", "queue", "a", "b", "c"]), "RPUSH");
    let _ = cli(&["SHUTDOWN"]);
    let _ = server.0.wait();
    let aof = fs::read_dir(dir.join("appendonlydir"))
        .expect("the previous Redis wrote appendonlydir/")
        .count();
    assert!(aof >= 2, "an append-only manifest and file");
}

// ---------------------------------------------------------------- bakeryc --------------

fn config() -> String {
    let major = pg_major();
    format!(
        r#"[platform]
name = "e2e"
namespace = "{NAMESPACE}"

[postgres]
version = {major}
image = "postgres:{major}-alpine"
storage = "1Gi"
extensions = ["pgcrypto"]

[postgres.audit]
log_connections = true
log_statement = "ddl"

[[database]]
name = "shop"

[database.adopt]
claim = "shop-pvc"
data_path = "data/pg"
database = "shop"
role = "shop_owner"
workload = "shop-postgres"
service = "shop-postgres"

[cache]
name = "cache"
image = "redis:7.4.1-alpine"

[cache.adopt]
claim = "cache-pvc"
data_path = "redis-data"

[tls]
min_version = "1.3"

[tls.ca]
key = "ecdsa-p256"

[tls.server]
key = "ecdsa-p256"

[environments.e2e]
"#
    )
}

/// The passwords as the seed keeps them: a `kubectl get secret -o yaml` dump (base64) for the
/// database, `name=password` lines for the cache.
fn import_files(test: &Test) {
    let encode = |text: &str| {
        serde_json::to_value(k8s_openapi::ByteString(text.as_bytes().to_vec()))
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    let dump = format!(
        "apiVersion: v1\nitems:\n- apiVersion: v1\n  data:\n    SHOP_DB_PASSWORD: {}\n    \
         SHOP_DB_USER: {}\n  kind: Secret\n  metadata:\n    name: database-secrets\n    \
         namespace: {NAMESPACE}\n  type: Opaque\nkind: List\nmetadata:\n  resourceVersion: \"\"\n",
        encode(PG_PASSWORD),
        encode("shop_owner")
    );
    fs::write(test.join("seed-secrets.yaml"), dump).unwrap();
    fs::write(
        test.join("seed-cache.txt"),
        format!("# the cache's password\ncache={REDIS_PASSWORD}\n"),
    )
    .unwrap();
}

/// bakeryc builds the tree, imports the seed's passwords, then generates the rest.
fn compile(test: Test) -> Platform {
    test.run(&["build"]).success();
    import_files(&test);
    let imported = test
        .run(&["secrets", "import", "--env", "e2e", "seed-secrets.yaml"])
        .success();
    let cache = test
        .run(&["secrets", "import", "--env", "e2e", "seed-cache.txt"])
        .success();
    for run in [&imported, &cache] {
        let said = format!("{}{}", run.stdout(), run.stderr());
        for secret in [PG_PASSWORD, REDIS_PASSWORD] {
            assert!(!said.contains(secret), "import printed a password: {said}");
        }
    }
    assert!(
        imported.stderr().contains("SHOP_DB_USER") || imported.stdout().contains("SHOP_DB_USER"),
        "the key that names no workload is reported by name"
    );
    test.run(&["secrets", "generate", "--env", "e2e"]).success();
    Platform {
        objects: kustomize(&test.join("generated/overlays/e2e")),
        secrets: kustomize(&test.join("secrets/e2e")),
        dir: test,
    }
}

fn workspace() -> (Test, PathBuf) {
    let test = Test::config(&config());
    fs::set_permissions(test.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let scratch = test.join("work");
    fs::create_dir_all(&scratch).unwrap();
    (test, scratch)
}

/// SQLAlchemy + asyncpg as the seed's services connect, with `BAKERY_URL` as emitted and the
/// Service name (`ROUTE_HOST`:5432) routed to the test server on loopback (`ROUTE_PORT`).
const SQLALCHEMY_CLIENT: &str = r#"
import asyncio, os, socket
real = socket.getaddrinfo
def routed(host, port, *args, **kwargs):
    if host == os.environ["ROUTE_HOST"] and int(port or 0) == 5432:
        return real("127.0.0.1", int(os.environ["ROUTE_PORT"]), *args, **kwargs)
    return real(host, port, *args, **kwargs)
socket.getaddrinfo = routed
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
async def main():
    engine = create_async_engine(os.environ["BAKERY_URL"])
    async with engine.connect() as connection:
        row = (await connection.execute(text(
            "SELECT count(*), current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) FROM orders"
        ))).one()
    await engine.dispose()
    print(f"{row[0]}|{row[1]}|{row[2]}")
asyncio.run(main())
"#;

// ---------------------------------------------------------------- tests ----------------

#[test]
fn the_compiled_tree_mounts_the_adopted_claims_and_never_defines_them() {
    let (test, _) = workspace();
    test.run(&["build"]).success();
    let objects = kustomize(&test.join("generated/overlays/e2e"));
    assert!(
        !objects.iter().any(|o| o["kind"] == "PersistentVolumeClaim"),
        "an adopted claim is referenced, never defined (so no apply or prune can reach it)"
    );
    for (workload, claim) in [("shop-postgres", "shop-pvc"), ("cache", "cache-pvc")] {
        let deployment: Deployment = Platform::find(&objects, "Deployment", workload);
        let spec: PodSpec = deployment.spec.unwrap().template.spec.unwrap();
        let data = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "data")
            .unwrap();
        assert_eq!(
            data.persistent_volume_claim.as_ref().unwrap().claim_name,
            claim
        );
        let mine: Vec<&serde_json::Value> = objects
            .iter()
            .filter(|o| o["metadata"]["labels"]["app.kubernetes.io/instance"] == workload)
            .collect();
        assert!(mine.len() >= 4, "{workload}: {}", mine.len());
        for object in mine {
            assert_eq!(
                object["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
                "Prune=false,Delete=false",
                "{}/{}",
                object["kind"],
                object["metadata"]["name"]
            );
        }
    }
    let service = objects
        .iter()
        .find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "shop-postgres");
    assert!(service.is_some(), "the adopted Service name");
}

#[test]
fn an_adopted_postgres_keeps_its_rows_and_its_password_over_verify_full_tls() {
    let (test, scratch) = workspace();
    let claim = scratch.join("claim-shop");
    previous_postgres(&claim, &scratch);
    let platform = compile(test);

    let spec = platform.deployment("shop-postgres");
    let root = scratch.join("pod-shop");
    let claims = BTreeMap::from([("shop-pvc", claim.as_path())]);
    let pod = Sandbox::adopting(&platform, &spec, &root, None, &claims);
    give(&root);
    let container = spec
        .containers
        .iter()
        .find(|c| c.name == "postgres")
        .unwrap();
    let env = env_of(container);
    // The image's entrypoint runs initdb only when PGDATA has no PG_VERSION: with the adopted
    // claim and data_path it finds the previous one, so nothing is created.
    let pgdata = PathBuf::from(pod.translate(container, &env["PGDATA"]));
    assert!(
        pgdata.join("PG_VERSION").is_file(),
        "PGDATA {} is the previous data directory",
        env["PGDATA"]
    );
    assert_eq!(
        (env["POSTGRES_USER"].as_str(), env["POSTGRES_DB"].as_str()),
        ("shop_owner", "shop")
    );
    let config_dir = &pod.volumes["config"];
    for file in ["postgresql.conf", "pg_hba.conf"] {
        let path = config_dir.join(file);
        let compiled_text = fs::read_to_string(&path).unwrap();
        fs::write(&path, pod.translate(container, &compiled_text)).unwrap();
    }
    give(&root);
    let port = free_port();
    let socket = &pod.volumes["run"];
    let config_file = pod.translate(container, &container.args.as_ref().unwrap()[1]);
    let options = format!(
        "-c {config_file} -c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={}",
        socket.display()
    );
    let log = scratch.join("server.log");
    fs::write(&log, "").unwrap();
    give(&log);
    let started = pg_ctl(&pgdata, &log, &options, "start");
    let _stop = Stop(pgdata.clone(), log.clone());
    assert!(
        started.status.success(),
        "PostgreSQL did not start on the adopted directory with the compiled settings:\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );

    // The postStart hook, as compiled: logs in as the adopted role with the imported password.
    ok(
        &run_post_start(&pod, container, port),
        "the postStart hook (reconcile) on the adopted database",
    );

    // A client with the emitted profile: verify-full against the Service name, the imported
    // password from the credentials Secret.
    let profile = platform.config_map("shop-postgres-client");
    assert_eq!(profile["PGUSER"], "shop_owner");
    assert_eq!(profile["PGDATABASE"], "shop");
    assert_eq!(profile["PGSSLMODE"], "verify-full");
    assert_eq!(
        profile["PGHOST"],
        format!("shop-postgres.{NAMESPACE}.svc.cluster.local")
    );
    let credentials = platform.secret("shop-postgres-credentials");
    assert_eq!(
        credentials["password"],
        PG_PASSWORD.as_bytes(),
        "the imported password, unchanged"
    );
    assert_eq!(credentials["username"], b"shop_owner");
    let ca = scratch.join("ca.crt");
    fs::write(&ca, &platform.config_map("e2e-ca")["ca.crt"]).unwrap();
    let port_text = port.to_string();
    let ca_text = ca.display().to_string();
    let password = String::from_utf8(credentials["password"].clone()).unwrap();
    let mut client_env: Vec<(&str, &str)> = profile
        .iter()
        .filter(|(k, _)| {
            k.starts_with("PG") && k.as_str() != "PGSSLROOTCERT" && k.as_str() != "PGPORT"
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client_env.extend([
        ("PGHOSTADDR", "127.0.0.1"),
        ("PGPORT", port_text.as_str()),
        ("PGSSLROOTCERT", ca_text.as_str()),
        ("PGPASSWORD", password.as_str()),
        ("PGCONNECT_TIMEOUT", "10"),
        ("PGAPPNAME", "adopt-test"),
    ]);
    let query = |sql: &str, env: &[(&str, &str)]| {
        run_env(
            30,
            &pg_bin("psql"),
            &["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env,
        )
    };
    let rows = ok(
        &query(
            "SELECT count(*), min(item), (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) FROM orders",
            &client_env,
        ),
        "the client with the emitted profile",
    );
    assert_eq!(
        rows.trim(),
        "250|bread 1|t",
        "every row is still there, over TLS"
    );
    let mut wrong = client_env.clone();
    wrong.retain(|(k, _)| *k != "PGPASSWORD");
    wrong.push(("PGPASSWORD", "not-the-password"));
    assert!(
        !query("SELECT 1", &wrong).status.success(),
        "another password is refused"
    );

    // The seed's services: SQLAlchemy + asyncpg with the emitted URL (the imported password in
    // it), verifying the certificate against the Service name; the name routes to loopback as
    // a Service would.
    let python = std::env::var("BAKERY_E2E_PYTHON").expect(
        "BAKERY_E2E_PYTHON: run the suite with scripts/test, which installs the client libraries",
    );
    let url = String::from_utf8(credentials["SQLALCHEMY_DATABASE_URL"].clone()).unwrap();
    let sqlalchemy = ok(
        &run_env(
            120,
            &python,
            &["-c", SQLALCHEMY_CLIENT],
            &[
                ("BAKERY_URL", url.as_str()),
                ("PGSSLROOTCERT", ca_text.as_str()),
                ("ROUTE_HOST", profile["PGHOST"].as_str()),
                ("ROUTE_PORT", port_text.as_str()),
            ],
        ),
        "SQLAlchemy + asyncpg with SQLALCHEMY_DATABASE_URL",
    );
    assert_eq!(sqlalchemy.trim(), "250|shop_owner|True");

    // The audit settings name the adopted role.
    let server_log = fs::read_to_string(&log).unwrap();
    assert!(
        server_log.contains("connection authorized: user=shop_owner database=shop application_name=adopt-test SSL enabled"),
        "the audit log names the role:\n{server_log}"
    );
    assert!(
        server_log.contains("user=shop_owner db=shop"),
        "log_line_prefix:\n{server_log}"
    );

    // status reports the imported password as weak, without showing it.
    let status = platform.dir.run(&["secrets", "status", "--env", "e2e"]);
    assert_eq!(status.code(), 1);
    let report = status.stdout();
    assert!(
        report.contains("shop-postgres/credentials/password is weak"),
        "{report}"
    );
    assert!(
        report.contains("cache/credentials/password is weak"),
        "{report}"
    );
    assert!(!report.contains(PG_PASSWORD) && !report.contains(REDIS_PASSWORD));
}

#[test]
fn an_adopted_redis_keeps_its_append_only_file_and_password() {
    let (test, scratch) = workspace();
    let claim = scratch.join("claim-cache");
    previous_redis(&claim, &scratch);
    let platform = compile(test);
    let spec = platform.deployment("cache");
    let root = scratch.join("pod-cache");
    let claims = BTreeMap::from([("cache-pvc", claim.as_path())]);
    let pod = Sandbox::adopting(&platform, &spec, &root, None, &claims);
    let container = spec.containers.iter().find(|c| c.name == "redis").unwrap();
    let argv = pod.argv(container);
    let dir = argv.iter().position(|a| a == "--dir").unwrap();
    assert_eq!(
        Path::new(&argv[dir + 1]),
        claim.join("redis-data"),
        "Redis's dir is the adopted one"
    );
    let (child, port) = spawn_redis(argv, &scratch.join("redis.log"));
    let _server = Kill(child);
    let ca = scratch.join("ca.crt");
    fs::write(&ca, &platform.config_map("e2e-ca")["ca.crt"]).unwrap();
    let credentials = platform.secret("cache-credentials");
    assert_eq!(
        credentials["password"],
        REDIS_PASSWORD.as_bytes(),
        "the imported password, unchanged"
    );
    let password = String::from_utf8(credentials["password"].clone()).unwrap();
    let port_text = port.to_string();
    let ca_text = ca.display().to_string();
    let cli = |args: &[&str], password: &str| {
        let mut full = vec![
            "redis-cli",
            "--tls",
            "--cacert",
            &ca_text,
            "-h",
            "127.0.0.1",
            "-p",
            &port_text,
        ];
        full.extend(args);
        run_env(10, full[0], &full[1..], &[("REDISCLI_AUTH", password)])
    };
    assert_eq!(
        ok(&cli(&["GET", "basket:42"], &password), "GET").trim(),
        "croissant"
    );
    assert_eq!(
        ok(&cli(&["LRANGE", "queue", "0", "-1"], &password), "LRANGE").trim(),
        "a\nb\nc"
    );
    let refused = cli(&["GET", "basket:42"], "not-the-password");
    let said = String::from_utf8_lossy(&refused.stdout).into_owned()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("WRONGPASS") || said.contains("NOAUTH"),
        "{said}"
    );
}

#[test]
fn import_stores_where_generate_would_at_0600_and_never_overwrites_without_force() {
    let (test, _) = workspace();
    import_files(&test);
    test.run(&["secrets", "import", "--env", "e2e", "seed-secrets.yaml"])
        .success();
    let path = test.join("secrets/e2e/shop-postgres/credentials/password");
    assert_eq!(fs::read_to_string(&path).unwrap(), PG_PASSWORD);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // generate keeps it: the password lives exactly where generate looks.
    let generated = test.run(&["secrets", "generate", "--env", "e2e"]).success();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        PG_PASSWORD,
        "{}",
        generated.stderr()
    );
    // Another password for the same database is refused, and nothing changes on disk.
    fs::write(test.join("other.txt"), "shop=an-entirely-different-one\n").unwrap();
    let before = common::files(&test.join("secrets"));
    let refused = test
        .run(&["secrets", "import", "--env", "e2e", "other.txt"])
        .status(2);
    assert!(refused.stderr().contains("--force"), "{}", refused.stderr());
    assert!(!refused.stderr().contains("an-entirely-different-one"));
    assert_eq!(
        common::files(&test.join("secrets")),
        before,
        "nothing written"
    );
    test.run(&["secrets", "import", "--env", "e2e", "other.txt", "--force"])
        .success();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "an-entirely-different-one"
    );
}
