//! The vendored `pg_settings.context` table against a real PostgreSQL (the newest one installed,
//! 15 in CI): every setting the server has that the catalogue knows has the same context; and
//! the restart/reload split the plan and the config digest rely on is what the server does.
//! A representative subset of settings (listed in `SAMPLE`: logging, memory, timeouts, archiving,
//! TLS, replication, connections; both classes) is changed in the running server's config file
//! and `SELECT pg_reload_conf()` run: each one the catalogue calls reload is applied with
//! `pending_restart` false, each one it calls restart keeps its value with `pending_restart` true.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

use bakeryc::config::catalogue::{self, Context};
use bakeryc::model::PgVersion;
use common::servers::{ok, pg_bin, run_as_postgres};

/// (setting, a value other than its default): changed together in one reload.
const SAMPLE: &[(&str, &str)] = &[
    // archive_command is sighup too, but the server shows it as (disabled) while archive_mode is
    // off (the restart-level half of this very test), so its applied value cannot be read.
    ("archive_timeout", "'2min'"),
    ("archive_mode", "on"),
    ("autovacuum_naptime", "'2min'"),
    ("huge_pages", "off"),
    ("log_connections", "on"),
    ("log_disconnections", "on"),
    ("log_line_prefix", "'%m bakeryc '"),
    ("log_min_duration_statement", "1234"),
    ("log_statement", "'ddl'"),
    ("max_connections", "50"),
    ("max_locks_per_transaction", "128"),
    ("max_prepared_transactions", "3"),
    ("max_wal_senders", "5"),
    ("shared_buffers", "'64MB'"),
    ("ssl_min_protocol_version", "'TLSv1.3'"),
    ("statement_timeout", "'5s'"),
    ("wal_level", "'logical'"),
    ("work_mem", "'8MB'"),
];

/// Runs `program args` (bounded to two minutes) as the `postgres` user when root: initdb
/// refuses root.
fn as_postgres(program: &str, args: &[&str]) -> Output {
    let full: Vec<&str> = [program].into_iter().chain(args.iter().copied()).collect();
    run_as_postgres(120, &full, &[])
}

/// A PostgreSQL on a unix socket only, in a temporary folder; stopped on drop.
struct Server {
    _dir: tempfile::TempDir,
    data: PathBuf,
    socket: PathBuf,
    conf: PathBuf,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if rustix::process::getuid().is_root() {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let data = dir.path().join("data");
        let socket = dir.path().to_path_buf();
        let data_arg = data.display().to_string();
        ok(
            &as_postgres(
                &pg_bin("initdb"),
                &[
                    "-D",
                    &data_arg,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-locale",
                ],
            ),
            "initdb",
        );
        // The settings under test go into a file the main config includes, as bakeryc's
        // ConfigMap is one file the server re-reads.
        let conf = data.join("bakeryc-test.conf");
        fs::write(&conf, "").unwrap();
        fs::write(
            data.join("postgresql.conf"),
            format!(
                "listen_addresses = ''\nunix_socket_directories = '{}'\ninclude = 'bakeryc-test.conf'\n",
                socket.display()
            ),
        )
        .unwrap();
        if rustix::process::getuid().is_root() {
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&conf)
                .status()
                .unwrap();
        }
        let log = dir.path().join("log").display().to_string();
        ok(
            &as_postgres(
                &pg_bin("pg_ctl"),
                &["-D", &data_arg, "-l", &log, "-w", "-t", "60", "start"],
            ),
            "pg_ctl start",
        );
        Self {
            _dir: dir,
            data,
            socket,
            conf,
        }
    }

    fn sql(&self, query: &str) -> String {
        let socket = self.socket.display().to_string();
        ok(
            &as_postgres(
                &pg_bin("psql"),
                &[
                    "--no-psqlrc",
                    "-h",
                    &socket,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-AtX",
                    "-F",
                    "\t",
                    "-c",
                    query,
                ],
            ),
            query,
        )
    }

    /// The value the running server uses (`pg_settings.setting`; SHOW hides some, such as an
    /// archive_command while archiving is off).
    fn setting(&self, name: &str) -> String {
        self.sql(&format!(
            "SELECT setting FROM pg_settings WHERE name = '{name}'"
        ))
        .trim()
        .to_owned()
    }

    fn pid(&self) -> String {
        fs::read_to_string(self.data.join("postmaster.pid"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    }

    fn version(&self) -> PgVersion {
        let number: i64 = self.sql("SHOW server_version_num").trim().parse().unwrap();
        PgVersion::new(number / 10000).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = as_postgres(&pg_bin("pg_ctl"), &["-D", &data, "-m", "immediate", "stop"]);
    }
}

#[test]
fn the_vendored_contexts_are_the_servers() {
    let server = Server::start();
    let version = server.version();
    let rows = server.sql("SELECT name, context FROM pg_settings ORDER BY name");
    let mut compared = 0;
    let mut wrong = Vec::new();
    for line in rows.lines() {
        let (name, context) = line.split_once('\t').unwrap();
        if let Some(vendored) = catalogue::pg_context(version, name) {
            compared += 1;
            if vendored != context {
                wrong.push(format!("{name}: vendored {vendored}, server {context}"));
            }
        }
    }
    assert!(wrong.is_empty(), "contexts differ: {wrong:#?}");
    // Every setting the catalogue has for this version is the server's (describe-config omits
    // only internal and developer settings, which a postgresql.conf never sets).
    let server_names: Vec<&str> = rows.lines().filter_map(|l| l.split('\t').next()).collect();
    let missing: Vec<&str> = catalogue::settings(version)
        .into_iter()
        .filter(|name| !server_names.iter().any(|s| s.eq_ignore_ascii_case(name)))
        .collect();
    assert!(missing.is_empty(), "not on the server: {missing:?}");
    assert!(compared > 250, "only {compared} settings compared");
}

#[test]
fn reload_level_settings_apply_on_reload_and_restart_level_ones_wait_for_a_restart() {
    let server = Server::start();
    let version = server.version();
    let pid = server.pid();
    let before: Vec<String> = SAMPLE
        .iter()
        .map(|(name, _)| server.setting(name))
        .collect();
    let text = SAMPLE
        .iter()
        .fold(String::new(), |mut text, (name, value)| {
            let _ = writeln!(text, "{name} = {value}");
            text
        });
    fs::write(&server.conf, text).unwrap();
    assert_eq!(server.sql("SELECT pg_reload_conf()").trim(), "t");
    // The postmaster re-reads the file asynchronously: wait until a reload-level one shows.
    let start = Instant::now();
    while server.setting("log_min_duration_statement") != "1234" {
        assert!(start.elapsed() < Duration::from_secs(10), "no reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut restart = 0;
    let mut reload = 0;
    for ((name, _), old) in SAMPLE.iter().zip(&before) {
        let row = server.sql(&format!(
            "SELECT pending_restart FROM pg_settings WHERE name = '{name}'"
        ));
        let now = server.setting(name);
        match catalogue::setting_context(version, name) {
            Context::Restart => {
                restart += 1;
                assert_eq!(row.trim(), "t", "{name}: classified restart");
                assert_eq!(&now, old, "{name}: a restart-level value is not applied");
            }
            Context::Reload => {
                reload += 1;
                assert_eq!(row.trim(), "f", "{name}: classified reload");
                assert_ne!(&now, old, "{name}: a reload-level value is applied");
            }
        }
    }
    assert!(
        restart >= 5 && reload >= 5,
        "{restart} restart, {reload} reload"
    );
    assert_eq!(server.pid(), pid, "the server was not restarted");
}
