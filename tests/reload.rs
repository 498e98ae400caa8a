//! The reloader's watch loop on its own, with the command that the compiled manifest runs (read
//! from the built tree, not retyped) but a recording command after `--` instead of a server's:
//! it is a generic "run this when these mounted files change" loop (issue 14 points it at
//! ConfigMaps). It checks that nothing runs while the files stay the same, one run per kubelet
//! swap, a failure logged once and not retried until the next change, the heartbeat its probes
//! read, and a usage error. The servers' own reload of renewed certificates is proved in
//! tests/e2e.rs; Redis's runtime settings (`<cache>-config`) are proved here against a real
//! redis-server and the cache's real reloader command.

mod common;

use common::{Test, kustomize};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The compiled reloader command up to and including the watched directories and `--`.
fn compiled_watch_command() -> Vec<String> {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    dir.run(&["build"]).success();
    let objects = kustomize(&dir.join("generated/base"));
    let container = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .flat_map(|o| {
            o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .clone()
        })
        .find(|c| c["name"] == "reloader")
        .expect("a reloader container");
    let command: Vec<String> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let end = command.iter().position(|a| a == "--").unwrap();
    command[..=end].to_vec()
}

/// Projects `files` (text, mode 0644) into `dir` as the kubelet does ([`common::project`]).
fn project(dir: &Path, files: &BTreeMap<&str, &str>) {
    let files = files
        .iter()
        .map(|(key, text)| ((*key).to_owned(), text.as_bytes().to_vec()))
        .collect();
    common::project(dir, &files, 0o644, |_| {});
}

struct Loop {
    child: Child,
    log: PathBuf,
}

impl Loop {
    fn text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_for(&self, needle: &str, count: usize) {
        let start = Instant::now();
        while self.text().matches(needle).count() < count {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {count} x {needle:?} in:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn the_watch_loop_runs_its_command_once_per_change_and_logs_failures() {
    use std::os::unix::process::CommandExt;
    let mut argv = compiled_watch_command();
    assert_eq!(argv[4], "10", "the poll interval is the first argument");
    argv[4] = "1".into();
    let work = Test::new();
    let config = work.path().join("config");
    let heartbeat = work.path().join("heartbeat");
    let runs = work.path().join("runs");
    let exit = work.path().join("exit");
    fs::create_dir(&config).unwrap();
    fs::write(&exit, "0").unwrap();
    project(&config, &BTreeMap::from([("app.conf", "a = 1\n")]));
    // The watched directories replace the compiled ones; the heartbeat goes to the scratch dir.
    argv.truncate(6);
    argv[5] = heartbeat.display().to_string();
    argv.extend([config.display().to_string(), "--".to_owned()]);
    argv.extend([
        "sh".to_owned(),
        "-c".to_owned(),
        format!(
            "echo run >> {}; exit \"$(cat {})\"",
            runs.display(),
            exit.display()
        ),
    ]);
    let log = work.path().join("log");
    let out = fs::File::create(&log).unwrap();
    let child = Command::new("timeout")
        .args(["-k", "5", "120"])
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap();
    let watch = Loop { child, log };
    watch.wait_for("watching", 1);
    let count = || {
        fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };

    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        count(),
        0,
        "nothing changed, nothing ran:\n{}",
        watch.text()
    );
    assert!(heartbeat.exists(), "the probes' heartbeat is written");

    project(&config, &BTreeMap::from([("app.conf", "a = 2\n")]));
    watch.wait_for("reload command succeeded", 1);
    assert_eq!(count(), 1);

    fs::write(&exit, "3").unwrap();
    project(&config, &BTreeMap::from([("app.conf", "a = 3\n")]));
    watch.wait_for("reload FAILED (exit 3)", 1);
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        count(),
        2,
        "a failure is not retried until the files change"
    );

    fs::write(&exit, "0").unwrap();
    project(&config, &BTreeMap::from([("app.conf", "a = 4\n")]));
    watch.wait_for("reload command succeeded", 2);
    assert_eq!(count(), 3, "{}", watch.text());
}

#[test]
fn the_watch_loop_refuses_a_command_line_without_directories_or_command() {
    let argv = compiled_watch_command();
    for tail in [&["--", "true"][..], &["/tmp"][..], &["/tmp", "--"][..]] {
        let output = Command::new("timeout")
            .args(["10"])
            .args(&argv[..6])
            .args(tail)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{tail:?}: {output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("usage"));
    }
}

/// Issue 14: the database's reloader watches its config directory as well as its TLS directory,
/// both mounted as whole volumes (no `subPath`, which the kubelet never updates), and the server
/// reads its configuration from that very directory. So an edited postgresql.conf or pg_hba.conf reaches the running server (proved
/// against a real server in tests/e2e.rs, `a_reload_level_setting_reaches_...`).
#[test]
fn the_database_reloader_watches_its_mounted_config_and_tls() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    dir.run(&["build"]).success();
    let objects = kustomize(&dir.join("generated/base"));
    let pod = |name: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == name)
            .unwrap()["spec"]["template"]["spec"]
            .clone()
    };
    let watched = |pod: &serde_json::Value| -> Vec<String> {
        let reloader = pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "reloader")
            .unwrap()
            .clone();
        let command: Vec<String> = reloader["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let end = command.iter().position(|a| a == "--").unwrap();
        for container in pod["containers"].as_array().unwrap() {
            for mount in container["volumeMounts"].as_array().unwrap() {
                assert!(mount.get("subPath").is_none(), "{mount}");
            }
        }
        command[6..end].to_vec()
    };
    let database = pod("orders-db");
    assert_eq!(watched(&database), ["/etc/postgresql", "/tls"]);
    let server = &database["containers"][0];
    assert_eq!(
        server["args"][1],
        "config_file=/etc/postgresql/postgresql.conf"
    );
    assert!(
        database["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "config" && v["configMap"]["name"] == "orders-db-config"),
        "{database}"
    );
}

/// The cache platform of the Redis reload test: `[tls] client_certificates` (the cache's default
/// `client_auth`) and `min_version` are settings bakeryc varies that Redis changes at runtime.
fn cache_config(client_certificates: bool, min_version: &str) -> String {
    format!(
        r#"[platform]
name = "e2e"
namespace = "e2e"

[postgres]
version = 17
image = "postgres:17.2-alpine"
storage = "1Gi"

[[database]]
name = "auth"

[cache]
name = "redis"
image = "redis:7.4.1-alpine"
storage = "1Gi"

[tls]
client_certificates = {client_certificates}
min_version = "{min_version}"

[environments.e2e]
"#
    )
}

/// Issue 14: a change of `[tls] client_certificates` (so `tls-auth-clients`) or `min_version`
/// changes, for the cache, only the
/// `redis-config` ConfigMap (never the pod template, so no restart), and the cache's reloader,
/// run with its compiled command against a real redis-server started from the compiled
/// arguments, applies the mounted file with `CONFIG SET`: `CONFIG GET` reports the new values
/// from the same process (`INFO server` process_id), a client without a certificate is then
/// refused, and so is a TLS 1.2 handshake. A value Redis refuses is reported and changes nothing.
#[test]
fn a_runtime_redis_setting_reaches_the_running_cache_in_place() {
    use common::servers::{Platform, ok, project, run, run_env, start_redis};
    use std::os::unix::process::CommandExt;
    let mut platform = Platform {
        dir: Test::new(),
        objects: Vec::new(),
        secrets: Vec::new(),
    };
    platform.rebuild(&cache_config(false, "1.2"));
    let before = platform.deployment("redis");
    let redis = start_redis(&platform);
    let port = redis.port.to_string();
    let ca = platform.ca_file().display().to_string();
    let password = common::servers::credentials(&platform, "redis-credentials")["password"].clone();
    // A client over TLS, without a certificate.
    let cli = |args: &[&str]| {
        let mut full = vec!["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert", &ca];
        full.extend(args);
        run_env(20, "redis-cli", &full, &[("REDISCLI_AUTH", &password)])
    };
    // The server's own view, over its unix socket (as the probe and the reloader reach it).
    let socket = redis.sandbox.volumes["run"]
        .join("redis.sock")
        .display()
        .to_string();
    let admin = |args: &[&str]| {
        let mut full = vec!["-s", &socket];
        full.extend(args);
        run_env(20, "redis-cli", &full, &[("REDISCLI_AUTH", &password)])
    };
    let get = |name: &str| {
        let out = ok(&admin(&["CONFIG", "GET", name]), "CONFIG GET");
        out.lines().nth(1).unwrap_or_default().to_owned()
    };
    let pid = || {
        let info = ok(&admin(&["INFO", "server"]), "INFO server");
        info.lines()
            .find_map(|l| l.trim().strip_prefix("process_id:"))
            .unwrap()
            .to_owned()
    };
    let tls12 = || {
        let address = format!("127.0.0.1:{port}");
        let out = run(
            20,
            "openssl",
            &["s_client", "-connect", &address, "-tls1_2", "-CAfile", &ca],
        );
        // (s_client prints a session block with the offered protocol even when refused.)
        String::from_utf8_lossy(&out.stdout).contains("New, TLSv1.2, Cipher is")
    };
    // The compiled settings are read at start from the mounted file.
    assert_eq!(get("tls-auth-clients"), "no");
    assert_eq!(get("tls-protocols"), "TLSv1.2 TLSv1.3");
    assert_eq!(ok(&cli(&["PING"]), "PING").trim(), "PONG");
    assert!(tls12(), "TLS 1.2 is accepted with min_version 1.2");
    let process = pid();
    assert_eq!(process, redis.child.id().to_string());

    // The cache's reloader with its compiled command (poll interval 1 s).
    let reloader = before
        .containers
        .iter()
        .find(|c| c.name == "reloader")
        .unwrap();
    let mut argv = redis.sandbox.argv(reloader);
    assert_eq!(argv[4], "10", "the poll interval is the first argument");
    argv[4] = "1".into();
    let end = argv.iter().position(|a| a == "--").unwrap();
    let config_dir = redis.sandbox.volumes["config"].display().to_string();
    assert!(argv[6..end].contains(&config_dir), "{argv:?}");
    // Whole-directory mounts: the kubelet never updates a `subPath` mount.
    for container in &before.containers {
        for mount in container.volume_mounts.iter().flatten() {
            assert!(mount.sub_path.is_none(), "{mount:?}");
        }
    }
    // The kubelet's layout of the ConfigMap volume, so that the change below is its atomic swap.
    let config = redis.sandbox.volumes["config"].clone();
    let file = |platform: &Platform| {
        BTreeMap::from([(
            "redis.conf".to_owned(),
            platform.config_map("redis-config")["redis.conf"]
                .clone()
                .into_bytes(),
        )])
    };
    fs::remove_file(config.join("redis.conf")).unwrap();
    common::project(&config, &file(&platform), 0o644, |_| {});
    let log = platform.work("reloader").join("log");
    let out = fs::File::create(&log).unwrap();
    let child = Command::new("timeout")
        .args(["-k", "5", "120"])
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap();
    let watch = Loop { child, log };
    watch.wait_for("watching", 1);

    // The user changes bakery.toml and rebuilds: only the ConfigMap differs, and the kubelet
    // swaps the mounted file. First `min_version`, then client certificates.
    let mut change = |client_certificates: bool, min_version: &str, runs: usize| {
        platform.rebuild(&cache_config(client_certificates, min_version));
        assert_eq!(
            serde_json::to_value(&before).unwrap(),
            serde_json::to_value(platform.deployment("redis")).unwrap(),
            "the pod template does not change: no restart"
        );
        project(&config, &file(&platform), 0o644, None);
        watch.wait_for("reload command succeeded", runs);
    };
    change(false, "1.3", 1);
    assert!(
        watch.text().contains("Redis applied tls-protocols TLSv1.3"),
        "{}",
        watch.text()
    );
    assert_eq!(get("tls-protocols"), "TLSv1.3", "{}", watch.text());
    assert!(!tls12(), "TLS 1.2 is refused once tls-protocols is TLSv1.3");
    assert_eq!(ok(&cli(&["PING"]), "PING over TLS 1.3").trim(), "PONG");
    assert_eq!(pid(), process, "the same Redis process");

    change(true, "1.3", 2);
    assert_eq!(get("tls-auth-clients"), "yes", "{}", watch.text());
    assert_eq!(pid(), process, "the same Redis process");
    let refused = cli(&["PING"]);
    assert!(
        !String::from_utf8_lossy(&refused.stdout).contains("PONG"),
        "a client without a certificate is refused once tls-auth-clients is yes: {refused:?}"
    );

    // A value Redis refuses: logged, the reload reported failed, the running value kept.
    let broken = BTreeMap::from([(
        "redis.conf".to_owned(),
        b"tls-auth-clients yes\ntls-protocols \"TLSv9\"\n".to_vec(),
    )]);
    project(&config, &broken, 0o644, None);
    watch.wait_for("reload FAILED", 1);
    assert!(
        watch.text().contains("Redis refused tls-protocols TLSv9"),
        "{}",
        watch.text()
    );
    assert_eq!(get("tls-protocols"), "TLSv1.3");
    assert_eq!(pid(), process, "the same Redis process");
    drop(watch);
    drop(redis);
}
