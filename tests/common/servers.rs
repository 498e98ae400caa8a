//! Real servers from compiled manifests, shared by the suites that start them: bounded process
//! runs (`timeout`), PostgreSQL's tools run as the OS user `postgres` when the tests run as
//! root, free loopback ports, and a pod's volumes laid out on disk from a compiled Deployment
//! ([`Pod`]) with its container's mount paths translated to where they landed. It starts no
//! server itself and asserts nothing about bakeryc's output: each suite says what must hold.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret};

pub fn run_env(seconds: u32, argv: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("timeout");
    command.args(["-k", "5", &seconds.to_string()]).args(argv);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0]))
}

pub fn ok(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn is_root() -> bool {
    run_env(5, &["id", "-u"], &[]).stdout.starts_with(b"0\n")
}

/// PostgreSQL refuses to run as root: as root, its commands run as the OS user `postgres`.
pub fn as_postgres(seconds: u32, argv: &[&str], env: &[(&str, &str)]) -> Output {
    if !is_root() {
        return run_env(seconds, argv, env);
    }
    if !run_env(5, &["id", "postgres"], &[]).status.success() {
        ok(
            &run_env(
                30,
                &["useradd", "--system", "--no-create-home", "postgres"],
                &[],
            ),
            "useradd postgres",
        );
    }
    let mut full = vec!["runuser", "-u", "postgres", "--"];
    full.extend(argv);
    run_env(seconds, &full, env)
}

/// Gives a directory tree to the user the servers run as.
pub fn give(path: &Path) {
    if is_root() {
        ok(
            &run_env(
                10,
                &[
                    "chown",
                    "-R",
                    "postgres:postgres",
                    &path.display().to_string(),
                ],
                &[],
            ),
            "chown",
        );
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn pg_bin(tool: &str) -> String {
    let mut dirs: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql (scripts/test installs them)")
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort_by_key(|d| {
        d.file_name()
            .unwrap()
            .to_string_lossy()
            .parse::<u32>()
            .unwrap_or(0)
    });
    dirs.last()
        .unwrap()
        .join("bin")
        .join(tool)
        .display()
        .to_string()
}

pub fn pg_major() -> u32 {
    let version = ok(
        &run_env(10, &[&pg_bin("postgres"), "-V"], &[]),
        "postgres -V",
    );
    let number = version.split_whitespace().nth(2).unwrap();
    number.split('.').next().unwrap().parse().unwrap()
}

pub fn pg_ctl(data: &Path, log: &Path, options: &str, action: &str) -> Output {
    as_postgres(
        60,
        &[
            &pg_bin("pg_ctl"),
            "-D",
            &data.display().to_string(),
            "-l",
            &log.display().to_string(),
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "-m",
            "fast",
            action,
        ],
        &[],
    )
}

/// A PostgreSQL server that is stopped when the test ends, whatever happens.
pub struct Stop(pub PathBuf, pub PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = pg_ctl(&self.0, &self.1, "", "stop");
    }
}

/// A redis-server that is killed when the test ends.
pub struct Kill(pub std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub struct Compiled {
    pub objects: Vec<serde_json::Value>,
    pub secrets: Vec<serde_json::Value>,
}

impl Compiled {
    pub fn find<T: serde::de::DeserializeOwned>(
        docs: &[serde_json::Value],
        kind: &str,
        name: &str,
    ) -> T {
        let doc = docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} is not in the compiled output"));
        let mut doc = doc.clone();
        // kustomize wraps long base64 values over several lines, which the API server accepts.
        if let Some(data) = doc["data"].as_object_mut() {
            if kind == "Secret" {
                for value in data.values_mut() {
                    let joined: String = value
                        .as_str()
                        .unwrap_or_default()
                        .split_whitespace()
                        .collect();
                    *value = serde_json::Value::String(joined);
                }
            }
        }
        serde_json::from_value(doc).unwrap()
    }

    pub fn pod(&self, name: &str) -> PodSpec {
        let deployment: Deployment = Self::find(&self.objects, "Deployment", name);
        deployment.spec.unwrap().template.spec.unwrap()
    }

    pub fn config_map(&self, name: &str) -> BTreeMap<String, String> {
        let docs = if self
            .objects
            .iter()
            .any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name)
        {
            &self.objects
        } else {
            &self.secrets
        };
        Self::find::<ConfigMap>(docs, "ConfigMap", name)
            .data
            .unwrap_or_default()
    }

    pub fn secret(&self, name: &str) -> BTreeMap<String, Vec<u8>> {
        let secret: Secret = Self::find(&self.secrets, "Secret", name);
        secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()
    }
}

/// A pod's volumes on disk: Secrets and ConfigMaps as files, emptyDirs, and each claim as the
/// directory that `claims` says holds it (the previous deployment's, never a new one).
pub struct Pod {
    pub volumes: BTreeMap<String, PathBuf>,
}

impl Pod {
    pub fn lay_out(
        compiled: &Compiled,
        spec: &PodSpec,
        root: &Path,
        claims: &BTreeMap<&str, &Path>,
    ) -> Self {
        let mut volumes = BTreeMap::new();
        for volume in spec.volumes.iter().flatten() {
            if let Some(claim) = &volume.persistent_volume_claim {
                let dir = claims.get(claim.claim_name.as_str()).unwrap_or_else(|| {
                    panic!(
                        "the pod mounts claim {} which the test did not adopt",
                        claim.claim_name
                    )
                });
                volumes.insert(volume.name.clone(), dir.to_path_buf());
                continue;
            }
            let dir = root.join(&volume.name);
            fs::create_dir_all(&dir).unwrap();
            let files: BTreeMap<String, Vec<u8>> = if let Some(secret) = &volume.secret {
                compiled.secret(secret.secret_name.as_deref().unwrap())
            } else if let Some(source) = &volume.config_map {
                let data = compiled.config_map(&source.name);
                match &source.items {
                    Some(items) => items
                        .iter()
                        .map(|i| (i.path.clone(), data[&i.key].clone().into_bytes()))
                        .collect(),
                    None => data.into_iter().map(|(k, v)| (k, v.into_bytes())).collect(),
                }
            } else {
                BTreeMap::new()
            };
            for (name, bytes) in files {
                let path = dir.join(name);
                fs::write(&path, bytes).unwrap();
                // Owner-only, as PostgreSQL wants a key it owns (tests/e2e.rs covers the
                // kubelet's root-owned 0440 projection).
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            }
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
            volumes.insert(volume.name.clone(), dir);
        }
        Self { volumes }
    }

    /// `text` with the container's mount paths replaced by where the volumes are here.
    pub fn translate(&self, container: &Container, text: &str) -> String {
        let mut mounts: Vec<(String, String)> = container
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| {
                (
                    m.mount_path.clone(),
                    self.volumes[&m.name].display().to_string(),
                )
            })
            .collect();
        mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        let mut out = String::new();
        let mut rest = text;
        'scan: while !rest.is_empty() {
            for (path, local) in &mounts {
                if let Some(after) = rest.strip_prefix(path.as_str()) {
                    let boundary =
                        after.is_empty() || after.starts_with(['/', '\'', '"', ' ', '\n']);
                    let start = out.is_empty() || out.ends_with([' ', '\'', '"', '=', '\n']);
                    if boundary && start {
                        out.push_str(local);
                        rest = after;
                        continue 'scan;
                    }
                }
            }
            let ch = rest.chars().next().unwrap();
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
        out
    }
}
