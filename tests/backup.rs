//! The restore drill, with real software: bakeryc compiles a fixture; the test takes the database
//! ConfigMap's postgresql.conf and pg_hba.conf, the pgBackRest ConfigMap's pgbackrest.conf,
//! backup.sh and restore.sh, the database pod's `pgbackrest-secrets` init container command and
//! pgBackRest environment, and the backup CronJob's own command, from the kustomized overlay,
//! and runs them with the installed PostgreSQL and pgBackRest on loopback. Only what must differ
//! on a test machine is rewritten, each named where it happens: mount paths become directories
//! of the test, the server's port and the S3 endpoint become the ones the test started, and the
//! S3 server's CA is added (`repo1-storage-ca-file`). Backups are triggered exactly as the CronJob
//! does (its psql command, its SQL, the server running backup.sh); restores are restore.sh into
//! empty data directories, then a real server start and an exact row check. The repository is
//! checked for encryption from outside (info, a byte scan for a marker, a wrong passphrase). Every
//! command is bounded in time and servers are stopped on drop. Needs PostgreSQL, pgbackrest,
//! openssl, kubectl and, for S3, moto in the venv `scripts/test` installs (BAKERY_E2E_PYTHON).

mod common;

use common::servers::{free_port, is_root, ok, pg_bin, run_as_postgres as run_env};
use common::{Test, kustomize};

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const FQDN: &str = "orders-db-service.shop.svc.cluster.local";
const PASSPHRASE: &str = "test-passphrase-not-a-secret";
const ROWS: &str = "row-1,row-2,row-3,row-4,row-5,row-6";

fn chown(path: &Path) {
    if is_root() {
        if !Command::new("id")
            .arg("postgres")
            .output()
            .unwrap()
            .status
            .success()
        {
            let added = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "postgres",
                ])
                .status()
                .unwrap();
            assert!(added.success(), "useradd postgres");
        }
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// What the test takes from the compiled tree.
struct Compiled {
    postgresql_conf: String,
    pg_hba_conf: String,
    /// The part of reconcile.sql (applied by the postStart hook at every start) that [backup]
    /// adds: the stanza.
    stanza_sql: String,
    pgbackrest: BTreeMap<String, String>,
    /// The full backup CronJob's container command, and the differential one's.
    full_job: Vec<String>,
    diff_job: Vec<String>,
    /// The restore CronJob container's environment names, as compiled.
    restore_env: Vec<String>,
    /// The postgres container's pgBackRest environment (`PGBACKREST_*`), as compiled.
    server_env: Vec<(String, String)>,
    /// The database pod's `pgbackrest-secrets` init container command, as compiled.
    secrets_init: Vec<String>,
}

fn compiled(fixture: &str, overlay: &str) -> Compiled {
    let test = Test::fixture(fixture);
    test.run(&["build"]).success();
    let objects = kustomize(&test.join(&format!("generated/{overlay}")));
    let find = |kind: &str, name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} is not compiled"))
            .clone()
    };
    let data = |name: &str| -> BTreeMap<String, String> {
        serde_json::from_value(find("ConfigMap", name)["data"].clone()).unwrap()
    };
    let container = |name: &str| {
        find("CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
            .clone()
    };
    let command = |name: &str| -> Vec<String> {
        serde_json::from_value(container(name)["command"].clone()).unwrap()
    };
    let config = data("orders-db-config");
    let pod = &find("Deployment", "orders-db")["spec"]["template"]["spec"];
    let postgres = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "postgres")
        .unwrap();
    let init = pod["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "pgbackrest-secrets")
        .expect("the database pod writes pgBackRest's secrets file");
    Compiled {
        postgresql_conf: config["postgresql.conf"].clone(),
        pg_hba_conf: config["pg_hba.conf"].clone(),
        stanza_sql: config["reconcile.sql"]
            .split_once("-- pgBackRest ([backup])")
            .map(|(_, stanza)| stanza.to_owned())
            .expect("reconcile.sql creates the stanza"),
        pgbackrest: data("orders-db-pgbackrest"),
        full_job: command("orders-db-backup-full"),
        diff_job: command("orders-db-backup-diff"),
        restore_env: container("orders-db-restore")["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect(),
        server_env: postgres["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"].as_str().unwrap().starts_with("PGBACKREST_"))
            .map(|e| {
                let value = e["value"].as_str().expect("no secret in the environment");
                (e["name"].as_str().unwrap().to_owned(), value.to_owned())
            })
            .collect(),
        secrets_init: serde_json::from_value(init["command"].clone()).unwrap(),
    }
}

/// The test's stand-in for one pod: its mount paths mapped to directories of the test.
struct Pod {
    root: PathBuf,
    data: PathBuf,
    socket: PathBuf,
    port: u16,
    /// pgBackRest's configuration for this pod (rewritten paths), `PGBACKREST_CONFIG` as compiled.
    config: PathBuf,
    env: Vec<(String, String)>,
}

fn env<'a>(pod: &'a Pod, extra: &'a [(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    pod.env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().copied())
        .collect()
}

impl Pod {
    fn sql(&self, database: &str, sql: &str) -> String {
        let out = run_env(
            60,
            &[
                "psql",
                "-X",
                "-qAt",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &self.socket.display().to_string(),
                "-p",
                &self.port.to_string(),
                "-U",
                "orders_user",
                "-d",
                database,
                "-c",
                sql,
            ],
            &[("PGPASSWORD", "orders-password-for-the-drill")],
        );
        ok(&out, sql).trim().to_owned()
    }

    /// restore.sh as compiled, for `pod`'s empty data directory.
    fn restore(&self, target: Option<&str>) -> Output {
        let script = self
            .root
            .join("pgbackrest/restore.sh")
            .display()
            .to_string();
        let target = [("BAKERY_RESTORE_TARGET", target.unwrap_or_default())];
        let env = env(self, &target);
        run_env(600, &["sh", "-eu", &script], &env)
    }

    fn pgbackrest(&self, args: &[&str]) -> Output {
        let mut full = vec!["pgbackrest", "--stanza=orders"];
        full.extend(args);
        run_env(120, &full, &env(self, &[]))
    }

    /// Forces a WAL switch and waits until the server reports that segment archived.
    fn switch_and_archive(&self) {
        let segment = self.sql("orders_db", "SELECT pg_walfile_name(pg_switch_wal())");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let archived = self.sql(
                "orders_db",
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
            );
            if archived.as_str() >= segment.as_str() && !archived.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{segment} was not archived (last: {archived:?})"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn rows(&self) -> String {
        self.sql(
            "orders_db",
            "SELECT string_agg(note, ',' ORDER BY id) FROM drill",
        )
    }
}

struct Drill {
    _test: Test,
    root: PathBuf,
    compiled: Compiled,
    /// Extra `pgbackrest.conf` rewrites (the S3 endpoint) and additions (its CA).
    s3: Option<(u16, PathBuf)>,
    servers: Vec<PathBuf>,
}

impl Drop for Drill {
    fn drop(&mut self) {
        for data in &self.servers {
            let data = data.display().to_string();
            let _ = run_env(
                30,
                &[
                    &pg_bin("pg_ctl"),
                    "-D",
                    &data,
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                &[],
            );
        }
    }
}

impl Drill {
    fn new(fixture: &str, overlay: &str) -> Self {
        let test = Test::new();
        // The servers run as the postgres user, who must reach the workspace.
        fs::set_permissions(test.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let root = test.join("drill");
        for dir in ["config", "tls", "secrets", "repo", "ca"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        let compiled = compiled(fixture, overlay);
        // The server certificate for the Service's name, as bakeryc's PKI would issue it.
        let tls = root.join("tls");
        let openssl = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
            ])
            .args([
                "-subj",
                &format!("/CN={FQDN}"),
                "-addext",
                &format!("subjectAltName=DNS:{FQDN},DNS:localhost,IP:127.0.0.1"),
            ])
            .arg("-keyout")
            .arg(tls.join("tls.key"))
            .arg("-out")
            .arg(tls.join("tls.crt"))
            .output()
            .unwrap();
        ok(&openssl, "openssl req");
        fs::copy(tls.join("tls.crt"), tls.join("ca.crt")).unwrap();
        fs::copy(tls.join("tls.crt"), root.join("ca/ca.crt")).unwrap();
        fs::set_permissions(tls.join("tls.key"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(
            root.join("secrets/password"),
            "orders-password-for-the-drill",
        )
        .unwrap();
        // The server's own files, with their mount paths rewritten to the test's directories.
        let rewrite = |text: &str| {
            text.replace(
                "/etc/postgresql",
                &root.join("config").display().to_string(),
            )
            .replace("'/tls/", &format!("'{}/", tls.display()))
        };
        fs::write(
            root.join("config/postgresql.conf"),
            rewrite(&compiled.postgresql_conf),
        )
        .unwrap();
        fs::write(root.join("config/pg_hba.conf"), &compiled.pg_hba_conf).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        chown(&root);
        Self {
            _test: test,
            root,
            compiled,
            s3: None,
            servers: Vec::new(),
        }
    }

    /// Rewrites a pod's mount paths in compiled text to this pod's directories.
    fn translate(&self, pod: &Pod, text: &str) -> String {
        let pairs = [
            (
                "/var/lib/postgresql/data/pgdata",
                pod.data.display().to_string(),
            ),
            (
                "/var/lib/pgbackrest",
                self.root.join("repo").display().to_string(),
            ),
            ("/var/run/postgresql", pod.socket.display().to_string()),
            (
                "/etc/pgbackrest",
                pod.root.join("pgbackrest").display().to_string(),
            ),
            (
                "/run/secrets/postgres",
                self.root.join("secrets").display().to_string(),
            ),
            ("/etc/shop-ca", self.root.join("ca").display().to_string()),
            (
                "/tmp/pgbackrest",
                pod.root.join("tmp").display().to_string(),
            ),
            (
                "/run/secrets/pgbackrest-cipher",
                pod.root.join("cipher").display().to_string(),
            ),
            (
                "/run/secrets/pgbackrest-s3",
                self.root.join("s3-keys").display().to_string(),
            ),
            (
                "/run/pgbackrest",
                pod.root.join("secrets-conf").display().to_string(),
            ),
        ];
        let mut text = text.to_owned();
        for (from, to) in pairs {
            text = text.replace(from, &to);
        }
        text
    }

    /// A pod's directories and its pgBackRest files. Rewritten besides paths: `pg1-port` (the
    /// test's port); for S3, the endpoint (`localhost`, the port of the test's server) and the CA.
    fn pod(&self, name: &str, passphrase: &str) -> Pod {
        let root = self.root.join(name);
        let port = free_port();
        let mut pod = Pod {
            data: root.join("pgdata"),
            socket: root.join("run"),
            config: root.join("pgbackrest/pgbackrest.conf"),
            root: root.clone(),
            port,
            env: Vec::new(),
        };
        for dir in ["pgbackrest", "run", "tmp", "cipher", "secrets-conf"] {
            fs::create_dir_all(root.join(dir)).unwrap();
        }
        for (file, text) in &self.compiled.pgbackrest {
            let mut text = self.translate(&pod, text);
            if file == "pgbackrest.conf" {
                text = text.replace("pg1-port=5432", &format!("pg1-port={port}"));
                if let Some((s3_port, ca)) = &self.s3 {
                    text = text.replace("repo1-s3-endpoint=s3.example.com", "repo1-s3-endpoint=localhost").replace(
                        "repo1-type=s3\n",
                        &format!("repo1-type=s3\nrepo1-storage-port={s3_port}\nrepo1-storage-ca-file={}\n", ca.display()),
                    );
                }
            }
            fs::write(root.join("pgbackrest").join(file), text).unwrap();
        }
        // The Secret volumes as the kubelet mounts them, then the init container's own command.
        fs::write(root.join("cipher/passphrase"), passphrase).unwrap();
        if self.s3.is_some() {
            let keys = self.root.join("s3-keys");
            fs::create_dir_all(&keys).unwrap();
            fs::write(keys.join("access_key_id"), "test-key").unwrap();
            fs::write(keys.join("secret_access_key"), "test-key-secret").unwrap();
        }
        chown(&self.root);
        let init: Vec<String> = self
            .compiled
            .secrets_init
            .iter()
            .map(|arg| self.translate(&pod, arg))
            .collect();
        let refs: Vec<&str> = init.iter().map(String::as_str).collect();
        ok(
            &run_env(30, &refs, &[]),
            "the pgbackrest-secrets init container",
        );
        pod.env = self
            .compiled
            .server_env
            .iter()
            .map(|(name, value)| (name.clone(), self.translate(&pod, value)))
            .collect();
        pod
    }

    /// The image's first start: initdb with the owner role and its password, then the database.
    fn init(&mut self, pod: &Pod) {
        let password = self.root.join("secrets/password").display().to_string();
        ok(
            &run_env(
                90,
                &[
                    &pg_bin("initdb"),
                    "-D",
                    &pod.data.display().to_string(),
                    "-U",
                    "orders_user",
                    &format!("--pwfile={password}"),
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--no-locale",
                    "-E",
                    "UTF8",
                ],
                &[],
            ),
            "initdb",
        );
        self.start(pod);
        pod.sql("postgres", "CREATE DATABASE orders_db OWNER orders_user");
    }

    /// Starts the server on `pod`'s data directory with the compiled postgresql.conf (port,
    /// listen address and socket directory set on the command line for the test).
    fn start(&mut self, pod: &Pod) {
        fs::set_permissions(&pod.data, fs::Permissions::from_mode(0o700)).unwrap();
        let log = pod.root.join("server.log");
        let options = format!(
            "-c config_file={} -c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.root.join("config/postgresql.conf").display(),
            pod.port,
            pod.socket.display()
        );
        let started = run_env(
            90,
            &[
                &pg_bin("pg_ctl"),
                "-D",
                &pod.data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "80",
                "-o",
                &options,
                "start",
            ],
            &env(pod, &[]),
        );
        self.servers.push(pod.data.clone());
        assert!(
            started.status.success(),
            "PostgreSQL did not start:\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn stop(&mut self, pod: &Pod) {
        ok(
            &run_env(
                60,
                &[
                    &pg_bin("pg_ctl"),
                    "-D",
                    &pod.data.display().to_string(),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
                &[],
            ),
            "pg_ctl stop",
        );
        self.servers.retain(|d| d != &pod.data);
    }

    /// Runs a backup CronJob's container command as compiled. Rewritten: the mount paths, and the
    /// server's address (`hostaddr=127.0.0.1` and the test's port; the host name, verify-full and
    /// the CA stay, so TLS is checked as in the cluster).
    fn backup_job(&self, pod: &Pod, command: &[String]) -> Output {
        let argv: Vec<String> = command
            .iter()
            .map(|arg| {
                self.translate(pod, arg).replace(
                    &format!("host={FQDN} port=5432"),
                    &format!("host={FQDN} hostaddr=127.0.0.1 port={}", pod.port),
                )
            })
            .collect();
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        run_env(600, &refs, &[])
    }
}

/// The files under `dir` whose bytes contain `needle`, read as stored and, for gzip files
/// (pgBackRest compresses WAL and backup files by default), decompressed as well: without
/// encryption the marker shows in one or the other.
fn has_bytes(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let contains = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(has_bytes(&path, needle));
            continue;
        }
        let stored = fs::read(&path).unwrap();
        let inflated = Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        if contains(&stored) || contains(&inflated) {
            found.push(path);
        }
    }
    found
}

#[test]
fn volume_repository_restores_latest_and_to_a_time_and_stays_encrypted() {
    let mut drill = Drill::new("tests/fixtures/backup-volume/bakery.toml", "overlays/dev");
    assert!(
        drill
            .compiled
            .postgresql_conf
            .contains("archive_command = 'pgbackrest --stanza=orders archive-push %p'")
    );
    assert!(drill.compiled.pgbackrest["pgbackrest.conf"].contains("repo1-cipher-type=aes-256-cbc"));
    assert!(
        drill
            .compiled
            .restore_env
            .contains(&"PGBACKREST_CONFIG_INCLUDE_PATH".to_owned())
    );
    let primary = drill.pod("primary", PASSPHRASE);
    drill.init(&primary);
    // The start's reconcile step creates the stanza, so WAL is archived before any backup ran.
    let stanza = drill.translate(&primary, &drill.compiled.stanza_sql);
    primary.sql("orders_db", &format!("-- pgBackRest ([backup]){stanza}"));
    let info = ok(
        &primary.pgbackrest(&["info"]),
        "pgbackrest info after the start",
    );
    assert!(
        info.contains("stanza: orders") && !info.contains("missing stanza path"),
        "{info}"
    );
    primary.sql(
        "orders_db",
        "CREATE TABLE drill (id int PRIMARY KEY, note text NOT NULL)",
    );
    primary.switch_and_archive();
    primary.sql(
        "orders_db",
        "INSERT INTO drill SELECT i, 'row-' || i FROM generate_series(1, 3) i",
    );
    let full = drill.backup_job(&primary, &drill.compiled.full_job.clone());
    let log = ok(&full, "the full backup Job");
    assert!(log.contains("bakeryc-backup: exit status 0"), "{log}");
    primary.sql(
        "orders_db",
        "INSERT INTO drill SELECT i, 'row-' || i FROM generate_series(4, 6) i",
    );
    ok(
        &drill.backup_job(&primary, &drill.compiled.diff_job.clone()),
        "the differential backup Job",
    );
    let info = ok(&primary.pgbackrest(&["info"]), "pgbackrest info");
    assert!(info.contains("cipher: aes-256-cbc"), "{info}");
    assert!(
        info.contains("full backup") && info.contains("diff backup"),
        "{info}"
    );
    // The time to restore to: committed rows 1-6, not yet the marker.
    let before_marker = primary.sql("orders_db", "SELECT clock_timestamp()");
    std::thread::sleep(Duration::from_millis(1500));
    let marker = format!("bakery-marker-{}", std::process::id());
    primary.sql(
        "orders_db",
        &format!("INSERT INTO drill VALUES (7, '{marker}')"),
    );
    primary.switch_and_archive();
    // The marker is readable in the server's own WAL, so the scan below could find it...
    assert!(!has_bytes(&primary.data.join("pg_wal"), marker.as_bytes()).is_empty());
    // ...and no file of the repository holds it: WAL and backups are encrypted.
    let leaked = has_bytes(&drill.root.join("repo"), marker.as_bytes());
    assert!(leaked.is_empty(), "plaintext marker in {leaked:?}");
    drill.stop(&primary);

    // (a) The latest point: every row, the marker included.
    let latest = drill.pod("latest", PASSPHRASE);
    ok(&latest.restore(None), "restore.sh (latest)");
    drill.start(&latest);
    assert_eq!(latest.rows(), format!("{ROWS},{marker}"));
    drill.stop(&latest);

    // (b) A time before the marker: rows 1-6 only.
    let earlier = drill.pod("earlier", PASSPHRASE);
    ok(&earlier.restore(Some(&before_marker)), "restore.sh (time)");
    drill.start(&earlier);
    assert_eq!(earlier.rows(), ROWS);
    drill.stop(&earlier);

    // A wrong passphrase cannot read the repository.
    let wrong = drill.pod("wrong", "not-the-passphrase");
    let refused = wrong.restore(None);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !refused.status.success(),
        "restored with a wrong passphrase: {text}"
    );
    assert!(
        text.contains("ERROR")
            && (text.contains("cipher")
                || text.contains("decrypt")
                || text.contains("unable to load info file")),
        "{text}"
    );
    assert!(!wrong.data.join("PG_VERSION").exists());
}

/// moto's S3 server over TLS, killed on drop.
struct S3Server(Child);

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn s3_repository_backs_up_and_restores_through_a_local_s3_server() {
    let python = std::env::var("BAKERY_E2E_PYTHON")
        .expect("BAKERY_E2E_PYTHON: the venv scripts/test makes, with moto");
    let mut drill = Drill::new("tests/fixtures/backup-s3/bakery.toml", "base");
    // A certificate for localhost made with openssl, trusted through repo1-storage-ca-file.
    let s3 = drill.root.join("s3");
    fs::create_dir_all(&s3).unwrap();
    ok(
        &Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost",
            ])
            .arg("-keyout")
            .arg(s3.join("key.pem"))
            .arg("-out")
            .arg(s3.join("cert.pem"))
            .output()
            .unwrap(),
        "openssl req (S3)",
    );
    chown(&s3);
    let port = free_port();
    let server = S3Server(
        Command::new(&python)
            .arg(common::repo("tests/e2e/moto_server.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .arg("-c")
            .arg(s3.join("cert.pem"))
            .arg("-k")
            .arg(s3.join("key.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server"),
    );
    let bucket = format!("https://localhost:{port}/shop-backups");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let made = Command::new("curl")
            .args(["-sf", "-X", "PUT", "--cacert"])
            .arg(s3.join("cert.pem"))
            .arg(&bucket)
            .output()
            .unwrap();
        if made.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "moto did not answer over TLS");
        std::thread::sleep(Duration::from_millis(300));
    }
    drill.s3 = Some((port, s3.join("cert.pem")));
    let primary = drill.pod("primary", PASSPHRASE);
    assert!(
        fs::read_to_string(&primary.config)
            .unwrap()
            .contains("repo1-type=s3")
    );
    drill.init(&primary);
    primary.sql(
        "orders_db",
        "CREATE TABLE drill (id int PRIMARY KEY, note text NOT NULL)",
    );
    primary.sql(
        "orders_db",
        "INSERT INTO drill SELECT i, 'row-' || i FROM generate_series(1, 6) i",
    );
    ok(
        &drill.backup_job(&primary, &drill.compiled.full_job.clone()),
        "the full backup Job (S3)",
    );
    let marker = "bakery-s3-marker";
    primary.sql(
        "orders_db",
        &format!("INSERT INTO drill VALUES (7, '{marker}')"),
    );
    primary.switch_and_archive();
    let info = ok(&primary.pgbackrest(&["info"]), "pgbackrest info (S3)");
    assert!(
        info.contains("cipher: aes-256-cbc") && info.contains("full backup"),
        "{info}"
    );
    drill.stop(&primary);
    let latest = drill.pod("latest", PASSPHRASE);
    ok(&latest.restore(None), "restore.sh (S3)");
    drill.start(&latest);
    assert_eq!(latest.rows(), format!("{ROWS},{marker}"));
    drill.stop(&latest);
    drop(server);
}
