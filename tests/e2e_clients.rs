//! Least privilege against real servers: declared clients (`[[client]]`) with and without client
//! certificates. bakeryc compiles the platform and issues every certificate and password; a real
//! PostgreSQL and a real Redis start on loopback from the compiled manifests (tests/common/servers.rs), and
//! psql, psycopg, SQLAlchemy + asyncpg and redis-py connect with the profiles bakeryc emitted for
//! each client. The refusals are the point: no certificate, another client's database, a foreign
//! CA, a certificate of another role, writes by a read-only client, Redis commands beyond the
//! client's ACL. Roles are also reconciled on a server started before the declaration changed.
//! Needs what tests/e2e.rs needs (PostgreSQL, Redis, openssl, kubectl, BAKERY_E2E_PYTHON).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use common::servers::{
    Platform, Postgres, credentials, ok, pg_bin, pg_major, post_start, python, run,
    run_as_postgres, run_env, start_postgres, start_redis,
};
use common::{Test, kustomize};

const PG_FQDN: &str = "auth-db-service.e2e.svc.cluster.local";
const REDIS_FQDN: &str = "redis-service.e2e.svc.cluster.local";
const CA_MOUNT: &str = "/etc/e2e-ca/ca.crt";

/// The platform: `auth` used by `auth-service` (owner, and the cache) and `reporting`
/// (read-only); `sales` used by `sales-service` only. `clients` replaces the `[[client]]` tables.
fn config(client_certificates: bool, clients: &str) -> String {
    let major = pg_major();
    format!(
        r#"[platform]
name = "e2e"
namespace = "e2e"

[postgres]
version = {major}
image = "postgres:{major}-alpine"
storage = "1Gi"

[postgres.audit]
log_connections = true
log_statement = "ddl"

[[database]]
name = "auth"

[[database]]
name = "sales"

[cache]
name = "redis"
image = "redis:7.4.1-alpine"
storage = "1Gi"

{clients}
[tls]
min_version = "1.3"
client_certificates = {client_certificates}

[tls.ca]
validity = "2y"
key = "ecdsa-p256"

[tls.server]
validity = "1y"
key = "ecdsa-p256"

[environments.e2e]
"#
    )
}

const CLIENTS: &str = r#"
[[client]]
name = "auth-service"
databases = ["auth"]
cache = true

[[client]]
name = "reporting"
databases = ["auth"]
access = "read-only"

[[client]]
name = "sales-service"
databases = ["sales"]
"#;

fn platform(client_certificates: bool, clients: &str) -> Platform {
    let mut platform = Platform {
        dir: Test::new(),
        objects: Vec::new(),
        secrets: Vec::new(),
    };
    platform.rebuild(&config(client_certificates, clients));
    platform
}

/// A client's files as its pod mounts them: `<dir>/tls.crt`, `<dir>/tls.key` (0600: libpq
/// refuses a key others can read) from `<client>-client-tls`.
fn client_files(platform: &Platform, client: &str) -> String {
    client_files_in(platform, client, &format!("client-{client}"))
}

/// [`client_files`] into the work folder `folder`, so that two generations can sit side by side.
fn client_files_in(platform: &Platform, client: &str, folder: &str) -> String {
    let dir = platform.work(folder);
    for (key, bytes) in platform.secret(&format!("{client}-client-tls")) {
        let path = dir.join(&key);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }
    dir.display().to_string()
}

/// A certificate with the CN `cn`, signed by a CA of its own (the foreign CA).
fn foreign_certificate(platform: &Platform, cn: &str) -> String {
    let dir = platform.work("foreign-client");
    let path = |name: &str| dir.join(name).display().to_string();
    let step = |args: &[&str], what: &str| ok(&run(30, "openssl", args), what);
    // The foreign CA (its key beside it), then a client certificate it signs.
    let ca_crt = platform.foreign_ca();
    let ca_key = ca_crt.with_file_name("ca.key");
    let (ca_crt, ca_key) = (ca_crt.display().to_string(), ca_key.display().to_string());
    step(
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &path("tls.key"),
            "-out",
            &path("tls.csr"),
        ],
        "foreign client key",
    );
    step(
        &[
            "x509",
            "-req",
            "-in",
            &path("tls.csr"),
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &path("tls.crt"),
        ],
        "foreign client certificate",
    );
    fs::set_permissions(dir.join("tls.key"), fs::Permissions::from_mode(0o600)).unwrap();
    dir.display().to_string()
}

/// psql as `role` into `database` with full verification, the certificate in `cert_dir` (none
/// when `None`) and `password`.
fn login(
    pg: &Postgres,
    ca: &str,
    database: &str,
    role: &str,
    cert_dir: Option<&str>,
    password: &str,
    sql: &str,
) -> Output {
    // Without a certificate, libpq must not find one in ~/.postgresql either.
    let mut env = vec![("PGPASSWORD", password.to_owned())];
    let dir = cert_dir.unwrap_or("/nonexistent");
    env.push(("PGSSLCERT", format!("{dir}/tls.crt")));
    env.push(("PGSSLKEY", format!("{dir}/tls.key")));
    let conninfo = format!(
        "host={PG_FQDN} hostaddr=127.0.0.1 port={} dbname={database} user={role} sslmode=verify-full sslrootcert={ca} connect_timeout=10",
        pg.port
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_env(
        30,
        &pg_bin("psql"),
        &[
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            &conninfo,
            "-c",
            sql,
        ],
        &env,
    )
}

fn refused(output: &Output, because: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(because),
        "{what}: expected a refusal naming {because:?}, got {output:?}"
    );
}

/// The superuser over the server's socket, as the hooks log in.
fn admin(pg: &Postgres, platform: &Platform, sql: &str) -> String {
    let password = credentials(platform, "auth-db-credentials")["password"].clone();
    ok(
        &run_as_postgres(
            30,
            &[
                &pg_bin("psql"),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &pg.socket.display().to_string(),
                "-p",
                &pg.port.to_string(),
                "-U",
                "auth_user",
                "-d",
                "auth_db",
                "-c",
                sql,
            ],
            &[("PGPASSWORD", password.trim())],
        ),
        sql,
    )
    .trim()
    .to_owned()
}

#[test]
fn declared_clients_need_their_certificate_and_password_and_reach_only_what_they_declared() {
    let platform = platform(true, CLIENTS);
    let ca = platform.ca_file().display().to_string();
    let pg = start_postgres(&platform, None);
    let password =
        |client: &str| credentials(&platform, &format!("{client}-credentials"))["password"].clone();
    let auth_service = client_files(&platform, "auth-service");
    let reporting = client_files(&platform, "reporting");
    let sales_service = client_files(&platform, "sales-service");

    // The declared client, with its certificate and its password, as its own role.
    let row = ok(
        &login(
            &pg,
            &ca,
            "auth_db",
            "auth_service",
            Some(&auth_service),
            &password("auth-service"),
            "CREATE TABLE owned_by_clients (id int); INSERT INTO owned_by_clients VALUES (1); SELECT current_user, ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ),
        "auth-service with certificate and password",
    );
    assert_eq!(
        row.lines().last().unwrap(),
        "auth_service|t|/CN=auth_service/O=e2e",
        "{row}"
    );
    // The same client without its certificate.
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "auth_service",
            None,
            &password("auth-service"),
            "SELECT 1",
        ),
        "connection requires a valid client certificate",
        "auth-service without its certificate",
    );
    // Its certificate with a wrong password.
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "auth_service",
            Some(&auth_service),
            "not-the-password",
            "SELECT 1",
        ),
        "password authentication failed",
        "auth-service with a wrong password",
    );
    // A client that did not declare this database, with its own valid certificate and password.
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "sales_service",
            Some(&sales_service),
            &password("sales-service"),
            "SELECT 1",
        ),
        "pg_hba.conf rejects connection",
        "sales-service into auth_db",
    );
    // The owner role's password no longer opens a network connection.
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "auth_user",
            Some(&auth_service),
            &credentials(&platform, "auth-db-credentials")["password"],
            "SELECT 1",
        ),
        "pg_hba.conf rejects connection",
        "the shared owner role over the network",
    );
    // Another client's certificate: its CN is not the role.
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "auth_service",
            Some(&reporting),
            &password("auth-service"),
            "SELECT 1",
        ),
        "authentication failed for user \"auth_service\"",
        "auth-service with reporting's certificate",
    );
    // The client only hears that authentication failed; the server log says why.
    let log = fs::read_to_string(&pg.log).unwrap();
    assert!(
        log.contains("clientcert=verify-full) failed for user \"auth_service\": CN mismatch"),
        "{log}"
    );
    // A certificate with the right CN from a foreign CA.
    let foreign = foreign_certificate(&platform, "auth_service");
    let foreign_login = login(
        &pg,
        &ca,
        "auth_db",
        "auth_service",
        Some(&foreign),
        &password("auth-service"),
        "SELECT 1",
    );
    assert!(
        !foreign_login.status.success(),
        "a foreign CA's certificate must be refused: {foreign_login:?}"
    );
    // The read-only client reads and cannot write.
    let read = ok(
        &login(
            &pg,
            &ca,
            "auth_db",
            "reporting",
            Some(&reporting),
            &password("reporting"),
            "SELECT count(*) FROM owned_by_clients",
        ),
        "reporting reads",
    );
    assert_eq!(read.trim(), "1");
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "reporting",
            Some(&reporting),
            &password("reporting"),
            "INSERT INTO owned_by_clients VALUES (2)",
        ),
        "permission denied",
        "reporting writes",
    );
    // The audit log names the service, not a shared role; the password never reaches it.
    let log = fs::read_to_string(&pg.log).unwrap();
    assert!(
        log.contains("connection authorized: user=auth_service database=auth_db"),
        "{log}"
    );
    assert!(log.contains("user=reporting db=auth_db"), "{log}");
    assert!(
        !log.contains(&password("auth-service")),
        "a client password reached the log"
    );

    // The client libraries, each with the profile bakeryc emitted for the client.
    let redis = start_redis(&platform);
    let secrets = credentials(&platform, "auth-service-credentials");
    let cert_mount = "/etc/auth-service-client-tls";
    let local = |text: &str| {
        text.replace(CA_MOUNT, &ca)
            .replace(cert_mount, &auth_service)
            .replace(":5432/", &format!(":{}/", pg.port))
    };
    let profile = platform.config_map("auth-service-auth-db-client");
    let env: BTreeMap<String, String> =
        profile.iter().map(|(k, v)| (k.clone(), local(v))).collect();
    let foreign_dir = foreign.clone();
    let plan = serde_json::json!({
        "routes": [[PG_FQDN, 5432, "127.0.0.1", pg.port], [REDIS_FQDN, 6379, "127.0.0.1", redis.port]],
        "database_url": local(&secrets["AUTH_DATABASE_URL"]) + "&hostaddr=127.0.0.1",
        // asyncpg resolves the name itself (the script routes it): the Service's port stays.
        "sqlalchemy_url": secrets["AUTH_SQLALCHEMY_DATABASE_URL"].replace(CA_MOUNT, &ca),
        "pg_env": env,
        "password": secrets["password"],
        "redis_url": local(&secrets["REDIS_URL"]),
        "certificate_dir": auth_service,
        "foreign_dir": foreign_dir,
    });
    // psql (libpq) with the emitted URL as it is, the Service's name resolved by `hostaddr`.
    let url = plan["database_url"].as_str().unwrap().to_owned();
    let via_url = run_env(
        30,
        &pg_bin("psql"),
        &["-X", "-A", "-t", &url, "-c", "SELECT current_user"],
        &[],
    );
    assert_eq!(
        ok(&via_url, "psql with AUTH_DATABASE_URL").trim(),
        "auth_service"
    );
    let plan_path = platform.work("python").join("plan.json");
    fs::write(&plan_path, plan.to_string()).unwrap();
    let script = common::repo("tests/e2e/mtls_clients.py");
    let output = run(
        120,
        &python(),
        &[
            &script.display().to_string(),
            &plan_path.display().to_string(),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "client libraries:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "PASS psycopg with AUTH_DATABASE_URL",
        "PASS SQLAlchemy + asyncpg",
        "PASS redis-py with REDIS_URL",
        "PASS redis-py without the client certificate: refused",
        "PASS psycopg without the client certificate: refused",
    ] {
        assert!(stdout.contains(expected), "{expected}:\n{stdout}");
    }
}

/// `rotate --ca` with client certificates, in the order its next steps give: the clients trust
/// the bundle, the servers' Secrets (selected by their label) are applied and reloaded, then the
/// clients' new certificates. A client that still holds its old certificate logs in after the
/// server took its new Secret, and so does the new certificate; only after the old CA is
/// retired is the old certificate refused. Before the server Secrets' `ca.crt` became the
/// bundle, the server trusted the new CA alone from its reload on, and every client not yet
/// holding its new certificate was locked out.
#[test]
fn a_new_ca_locks_no_client_out_when_applied_in_the_documented_order() {
    let mut platform = platform(true, CLIENTS);
    let pg = start_postgres(&platform, None);
    let password = credentials(&platform, "auth-service-credentials")["password"].clone();
    let old = client_files_in(&platform, "auth-service", "old-auth-service");
    let select = "SELECT current_user";
    let old_ca = platform.ca_file().display().to_string();
    ok(
        &login(
            &pg,
            &old_ca,
            "auth_db",
            "auth_service",
            Some(&old),
            &password,
            select,
        ),
        "auth-service before the rotation",
    );

    let reload_server = |platform: &Platform| {
        pg.sandbox
            .swap_secret("tls", &platform.secret("auth-db-tls"));
        assert_eq!(admin(&pg, platform, "SELECT pg_reload_conf()"), "t");
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let rotated = platform
        .dir
        .run(&["secrets", "rotate", "--env", "e2e", "--ca"])
        .success();
    let output = rotated.stdout() + &rotated.stderr();
    assert!(
        output.contains("kubectl apply -k secrets/e2e -l bakeryc.dev/tls=server"),
        "{output}"
    );
    platform.secrets = kustomize(&platform.dir.join("secrets/e2e"));
    let label = |name: &str| {
        let secret = platform
            .secrets
            .iter()
            .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("Secret {name}"));
        secret["metadata"]["labels"]["bakeryc.dev/tls"].clone()
    };
    assert_eq!(label("auth-db-tls"), "server");
    assert_eq!(label("redis-tls"), "server");
    assert_eq!(label("auth-service-client-tls"), "client");
    // The clients trust the bundle (steps 1 and 2), then the servers take their Secrets.
    let bundle = platform.ca_file().display().to_string();
    reload_server(&platform);
    ok(
        &login(
            &pg,
            &bundle,
            "auth_db",
            "auth_service",
            Some(&old),
            &password,
            select,
        ),
        "auth-service with its old certificate, the server on its new Secret",
    );
    let new = client_files_in(&platform, "auth-service", "new-auth-service");
    ok(
        &login(
            &pg,
            &bundle,
            "auth_db",
            "auth_service",
            Some(&new),
            &password,
            select,
        ),
        "auth-service with its new certificate",
    );

    // The old CA retired: its certificates no longer log in, the new ones still do.
    std::fs::remove_file(platform.dir.join("secrets/e2e/ca-previous.crt")).unwrap();
    platform
        .dir
        .run(&["secrets", "generate", "--env", "e2e"])
        .success();
    platform.secrets = kustomize(&platform.dir.join("secrets/e2e"));
    reload_server(&platform);
    let retired = login(
        &pg,
        &bundle,
        "auth_db",
        "auth_service",
        Some(&old),
        &password,
        select,
    );
    assert!(
        !retired.status.success(),
        "a certificate of the retired CA must be refused: {retired:?}"
    );
    ok(
        &login(
            &pg,
            &bundle,
            "auth_db",
            "auth_service",
            Some(&new),
            &password,
            select,
        ),
        "auth-service with its new certificate, the old CA retired",
    );
}

#[test]
fn without_client_certificates_the_password_of_a_declared_client_is_enough() {
    let platform = platform(false, CLIENTS);
    let ca = platform.ca_file().display().to_string();
    let pg = start_postgres(&platform, None);
    let password = credentials(&platform, "auth-service-credentials")["password"].clone();
    let row = ok(
        &login(
            &pg,
            &ca,
            "auth_db",
            "auth_service",
            None,
            &password,
            "SELECT current_user",
        ),
        "auth-service with its password only",
    );
    assert_eq!(row.trim(), "auth_service");
    let sales = credentials(&platform, "sales-service-credentials")["password"].clone();
    refused(
        &login(
            &pg,
            &ca,
            "auth_db",
            "sales_service",
            None,
            &sales,
            "SELECT 1",
        ),
        "pg_hba.conf rejects connection",
        "sales-service into auth_db",
    );
}

/// Roles follow the declaration on a server that was started before it changed: the postStart
/// hook of the new manifests gives an added client its role and takes the login of a removed one.
#[test]
fn roles_are_reconciled_on_a_running_server() {
    let mut platform = platform(false, CLIENTS);
    let pg = start_postgres(&platform, None);
    let roles = |platform: &Platform| {
        admin(
            &pg,
            platform,
            "SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) FROM pg_roles WHERE shobj_description(oid, 'pg_authid') = 'bakeryc client'",
        )
    };
    assert_eq!(roles(&platform), "auth_service:true,reporting:true");
    let changed = CLIENTS.replace("name = \"reporting\"", "name = \"billing\"");
    platform.rebuild(&config(false, &changed));
    for run in ["first", "second"] {
        ok(
            &post_start(&platform, &pg, run, |_| {}),
            "the new postStart hook",
        );
        assert_eq!(
            roles(&platform),
            "auth_service:true,billing:true,reporting:false",
            "after the {run} run"
        );
    }
    let access = admin(
        &pg,
        &platform,
        "SELECT pg_has_role('billing', 'pg_read_all_data', 'MEMBER'), pg_has_role('billing', 'auth_user', 'MEMBER'), pg_has_role('auth_service', 'auth_user', 'MEMBER')",
    );
    assert_eq!(access, "t|f|t");
    // An access level changed in place: the grants follow, both ways.
    let owner = changed.replace("access = \"read-only\"", "access = \"owner\"");
    platform.rebuild(&config(false, &owner));
    ok(
        &post_start(&platform, &pg, "owner", |_| {}),
        "the hook after an access change",
    );
    let access = admin(
        &pg,
        &platform,
        "SELECT pg_has_role('billing', 'pg_read_all_data', 'MEMBER'), pg_has_role('billing', 'auth_user', 'MEMBER')",
    );
    assert_eq!(access, "f|t");
}

/// Redis: each client is its own ACL user, with its password (and, under client certificates,
/// its certificate); the default user is left to the probe.
#[test]
fn redis_admits_declared_clients_as_their_own_users() {
    let platform = platform(true, CLIENTS);
    let ca = platform.ca_file().display().to_string();
    let redis = start_redis(&platform);
    let auth_service = client_files(&platform, "auth-service");
    let password = credentials(&platform, "auth-service-credentials")["password"].clone();
    let default = credentials(&platform, "redis-credentials")["password"].clone();
    let port = redis.port.to_string();
    let cli = |user: Option<&str>, password: &str, cert: Option<&str>, args: &[&str]| {
        let mut argv: Vec<String> = [
            "--tls",
            "--cacert",
            &ca,
            "--sni",
            REDIS_FQDN,
            "-h",
            "127.0.0.1",
            "-p",
            &port,
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(dir) = cert {
            argv.extend([
                "--cert".into(),
                format!("{dir}/tls.crt"),
                "--key".into(),
                format!("{dir}/tls.key"),
            ]);
        }
        if let Some(user) = user {
            argv.extend(["--user".into(), user.into()]);
        }
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        run_env(20, "redis-cli", &refs, &[("REDISCLI_AUTH", password)])
    };
    let text = |output: Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let set = text(cli(
        Some("auth_service"),
        &password,
        Some(&auth_service),
        &["SET", "k", "v"],
    ));
    assert_eq!(set.trim(), "OK", "{set}");
    let flush = text(cli(
        Some("auth_service"),
        &password,
        Some(&auth_service),
        &["FLUSHALL"],
    ));
    assert!(flush.contains("NOPERM"), "-@dangerous: {flush}");
    let without = cli(Some("auth_service"), &password, None, &["PING"]);
    assert!(
        !text(without).contains("PONG"),
        "no certificate, no connection"
    );
    let default_get = text(cli(None, &default, Some(&auth_service), &["GET", "k"]));
    assert!(
        default_get.contains("NOPERM"),
        "the default user only pings: {default_get}"
    );
    let default_ping = text(cli(None, &default, Some(&auth_service), &["PING"]));
    assert_eq!(default_ping.trim(), "PONG");
    let sales = credentials(&platform, "sales-service-credentials")["password"].clone();
    let sales_dir = client_files(&platform, "sales-service");
    let undeclared = text(cli(
        Some("sales_service"),
        &sales,
        Some(&sales_dir),
        &["PING"],
    ));
    assert!(
        undeclared.contains("WRONGPASS"),
        "a client that did not declare the cache: {undeclared}"
    );
}
