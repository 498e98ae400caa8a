//! The one real-server harness of the suites that start servers (tests/e2e.rs,
//! tests/e2e_clients.rs, tests/adopt.rs): bounded process runs (`timeout`), PostgreSQL's tools as
//! the OS user `postgres` under root, free loopback ports; a platform compiled by bakeryc with its
//! secrets ([`Platform`]); each pod's volumes laid out as the kubelet would ([`Sandbox`]), an
//! adopted claim being the directory a previous deployment left ([`Sandbox::adopting`]); and real
//! PostgreSQL and Redis started on loopback from the compiled manifests ([`start_postgres`],
//! [`post_start`], [`start_redis`], or by a suite itself with [`pg_ctl`], [`Stop`], [`Kill`]). It
//! starts only what a test asks for, bounds every process in time, stops every server it
//! started, and asserts nothing about bakeryc's output: each suite says what must hold.

use super::{self as common, Test, kustomize};

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret};

// ---------------------------------------------------------------- processes ------------

/// Runs a command bounded to `seconds` (coreutils timeout), capturing its output.
pub fn run(seconds: u32, program: &str, args: &[&str]) -> Output {
    run_env(seconds, program, args, &[])
}

pub fn run_env(seconds: u32, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("timeout");
    command
        .arg("-k")
        .arg("5")
        .arg(seconds.to_string())
        .arg(program)
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
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
    run(5, "id", &["-u"]).stdout.starts_with(b"0\n")
}

/// PostgreSQL refuses to run as root: as root, commands run as the `postgres` OS user.
pub fn as_postgres(args: &[&str]) -> Vec<String> {
    let mut full: Vec<String> = Vec::new();
    if is_root() {
        if !run(5, "id", &["postgres"]).status.success() {
            ok(
                &run(
                    30,
                    "useradd",
                    &[
                        "--system",
                        "--no-create-home",
                        "--shell",
                        "/usr/sbin/nologin",
                        "postgres",
                    ],
                ),
                "useradd postgres",
            );
        }
        full.extend(["runuser", "-u", "postgres", "--"].map(str::to_owned));
    }
    full.extend(args.iter().map(|s| (*s).to_owned()));
    full
}

pub fn run_as_postgres(seconds: u32, args: &[&str], env: &[(&str, &str)]) -> Output {
    let full = as_postgres(args);
    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
    run_env(seconds, refs[0], &refs[1..], env)
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
    let version = ok(&run(10, &pg_bin("postgres"), &["-V"]), "postgres -V");
    version
        .split_whitespace()
        .nth(2)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `pg_ctl ACTION` (start, stop) on `data`, logging to `log`, with server `options`.
pub fn pg_ctl(data: &Path, log: &Path, options: &str, action: &str) -> Output {
    run_as_postgres(
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

/// initdb of `data` as the image's entrypoint runs it: superuser `user` with the password in
/// `password_file`, scram-sha-256 for local and host logins, no locale, UTF8.
pub fn initdb(data: &Path, user: &str, password_file: &Path) -> Output {
    run_as_postgres(
        90,
        &[
            &pg_bin("initdb"),
            "-D",
            &data.display().to_string(),
            "-U",
            user,
            &format!("--pwfile={}", password_file.display()),
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--no-locale",
            "-E",
            "UTF8",
        ],
        &[],
    )
}

/// A container's literal environment (`value`; empty for a `valueFrom`), by name.
pub fn env_of(container: &Container) -> BTreeMap<String, String> {
    container
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

/// Gives a directory tree to the user the servers run as (under root).
pub fn give(path: &Path) {
    if is_root() {
        ok(
            &run(
                10,
                "chown",
                &["-R", "postgres:postgres", &path.display().to_string()],
            ),
            "chown",
        );
    }
}

/// A PostgreSQL server started with [`pg_ctl`] (data directory, log), stopped when the test
/// ends, whatever happens.
pub struct Stop(pub PathBuf, pub PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = pg_ctl(&self.0, &self.1, "", "stop");
    }
}

/// A server process killed when the test ends.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (at most 20 s) until something listens on loopback `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- the platform ---------

/// A compiled platform plus its generated secrets, read back through kustomize.
pub struct Platform {
    pub dir: Test,
    pub objects: Vec<serde_json::Value>,
    pub secrets: Vec<serde_json::Value>,
}

impl Platform {
    /// Writes `config` as bakery.toml and compiles it with bakeryc, as a user changing the file
    /// would: `secrets generate` keeps the passwords and certificates that exist.
    pub fn rebuild(&mut self, config: &str) {
        fs::write(self.dir.join("bakery.toml"), config).unwrap();
        self.dir.run(&["build"]).success();
        self.dir
            .run(&["secrets", "generate", "--env", "e2e"])
            .success();
        self.objects = kustomize(&self.dir.join("generated/overlays/e2e"));
        self.secrets = kustomize(&self.dir.join("secrets/e2e"));
    }

    pub fn find<T: serde::de::DeserializeOwned>(
        docs: &[serde_json::Value],
        kind: &str,
        name: &str,
    ) -> T {
        let doc = docs
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} is not in the compiled output"));
        serde_json::from_value(doc.clone()).unwrap()
    }

    pub fn deployment(&self, name: &str) -> PodSpec {
        let deployment: Deployment = Self::find(&self.objects, "Deployment", name);
        deployment.spec.unwrap().template.spec.unwrap()
    }

    pub fn config_map(&self, name: &str) -> BTreeMap<String, String> {
        let from_objects = self
            .objects
            .iter()
            .any(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name);
        let docs = if from_objects {
            &self.objects
        } else {
            &self.secrets
        };
        Self::find::<ConfigMap>(docs, "ConfigMap", name)
            .data
            .unwrap_or_default()
    }

    pub fn secret(&self, name: &str) -> BTreeMap<String, Vec<u8>> {
        // kustomize wraps long base64 values over several lines, which the API server accepts.
        let mut doc: serde_json::Value = Self::find(&self.secrets, "Secret", name);
        if let Some(data) = doc["data"].as_object_mut() {
            for value in data.values_mut() {
                *value = serde_json::Value::String(
                    value
                        .as_str()
                        .unwrap_or_default()
                        .split_whitespace()
                        .collect(),
                );
            }
        }
        let secret: Secret = serde_json::from_value(doc).unwrap();
        let mut data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        for (key, value) in secret.string_data.unwrap_or_default() {
            data.insert(key, value.into_bytes());
        }
        data
    }

    pub fn work(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("work").join(name);
        fs::create_dir_all(&path).unwrap();
        path
    }

    /// The client's trust root: the public CA certificate from the `<platform>-ca` ConfigMap.
    pub fn ca_file(&self) -> PathBuf {
        let path = self.work("client").join("ca.crt");
        fs::write(&path, &self.config_map("e2e-ca")["ca.crt"]).unwrap();
        path
    }

    pub fn foreign_ca(&self) -> PathBuf {
        let dir = self.work("foreign");
        let (key, cert) = (dir.join("ca.key"), dir.join("ca.crt"));
        ok(
            &run(
                30,
                "openssl",
                &[
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
                    "/CN=Foreign CA",
                    "-keyout",
                    &key.display().to_string(),
                    "-out",
                    &cert.display().to_string(),
                ],
            ),
            "openssl req (foreign CA)",
        );
        cert
    }
}

// ---------------------------------------------------------------- pod sandbox ----------

/// A pod's volumes laid out on disk as the kubelet would (Secret and ConfigMap keys as files,
/// Secret files root-owned and group-readable by fsGroup, emptyDirs writable by fsGroup). A
/// Secret volume has the kubelet's atomic layout: the files in a generation directory, a `..data`
/// symlink to it, and one `key -> ..data/key` symlink per key, so that [`Sandbox::swap_secret`]
/// can replace them all at once as the kubelet does when the Secret changes.
#[derive(Clone)]
pub struct Sandbox {
    pub volumes: BTreeMap<String, PathBuf>,
    /// The fsGroup's OS group when the test runs as root (files are then root-owned).
    pub group: Option<String>,
    /// Mode of each Secret volume's files.
    pub modes: BTreeMap<String, u32>,
}

impl Sandbox {
    pub fn new(platform: &Platform, pod: &PodSpec, root: &Path, group: Option<&str>) -> Self {
        Self::adopting(platform, pod, root, group, &BTreeMap::new())
    }

    /// [`Sandbox::new`], with each volume claim named in `claims` mounted from the directory
    /// given there (what a previous deployment left on it, used as it is), never a new one.
    pub fn adopting(
        platform: &Platform,
        pod: &PodSpec,
        root: &Path,
        group: Option<&str>,
        claims: &BTreeMap<&str, &Path>,
    ) -> Self {
        let mut volumes = BTreeMap::new();
        let mut modes = BTreeMap::new();
        for volume in pod.volumes.iter().flatten() {
            if let Some(claim) = volume.persistent_volume_claim.as_ref() {
                if let Some(dir) = claims.get(claim.claim_name.as_str()) {
                    volumes.insert(volume.name.clone(), dir.to_path_buf());
                    continue;
                }
                // An adopting test lists every claim: any other would be a new, empty volume.
                assert!(
                    claims.is_empty(),
                    "the pod mounts claim {} which the test did not adopt",
                    claim.claim_name
                );
            }
            let dir = root.join(&volume.name);
            fs::create_dir_all(&dir).unwrap();
            let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            let mut mode = 0o770;
            if let Some(secret) = &volume.secret {
                let mut mode = u32::try_from(secret.default_mode.unwrap_or(0o644)).unwrap();
                if group.is_none() {
                    // Not root: the files belong to the user running the servers, and PostgreSQL
                    // accepts a key it owns only without group bits (root-owned, as in the pod,
                    // it accepts group read).
                    mode &= 0o700;
                }
                modes.insert(volume.name.clone(), mode);
                project(
                    &dir,
                    &platform.secret(secret.secret_name.as_deref().unwrap()),
                    mode,
                    group,
                );
            } else if let Some(source) = &volume.config_map {
                let data = platform.config_map(&source.name);
                files = match &source.items {
                    Some(items) => items
                        .iter()
                        .map(|i| (i.path.clone(), data[&i.key].clone().into_bytes()))
                        .collect(),
                    None => data.into_iter().map(|(k, v)| (k, v.into_bytes())).collect(),
                };
                mode = 0o644;
            }
            for (name, bytes) in &files {
                let path = dir.join(name);
                fs::write(&path, bytes).unwrap();
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            }
            let writable = volume.empty_dir.is_some() || volume.persistent_volume_claim.is_some();
            fs::set_permissions(
                &dir,
                fs::Permissions::from_mode(if writable { 0o770 } else { 0o750 }),
            )
            .unwrap();
            if let Some(group) = group {
                let owner = if writable {
                    format!("{group}:{group}")
                } else {
                    format!("root:{group}")
                };
                ok(
                    &run(10, "chown", &["-R", &owner, &dir.display().to_string()]),
                    "chown volume",
                );
            }
            volumes.insert(volume.name.clone(), dir);
        }
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            volumes,
            group: group.map(str::to_owned),
            modes,
        }
    }

    /// Replaces the files of Secret volume `volume` as the kubelet does: a new generation
    /// directory, then one atomic rename of the `..data` symlink.
    pub fn swap_secret(&self, volume: &str, files: &BTreeMap<String, Vec<u8>>) {
        project(
            &self.volumes[volume],
            files,
            self.modes[volume],
            self.group.as_deref(),
        );
    }

    /// Rewrites the container's mount paths in `text` to where this sandbox put the volumes.
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

    /// The container's command and args with mount paths translated.
    pub fn argv(&self, container: &Container) -> Vec<String> {
        container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .map(|arg| self.translate(container, arg))
            .collect()
    }
}

/// [`common::project`], with the staged files root-owned and in `group` when given.
pub fn project(dir: &Path, files: &BTreeMap<String, Vec<u8>>, mode: u32, group: Option<&str>) {
    common::project(dir, files, mode, |staged| {
        if let Some(group) = group {
            ok(
                &run(
                    10,
                    "chown",
                    &[
                        "-R",
                        &format!("root:{group}"),
                        &staged.display().to_string(),
                    ],
                ),
                "chown secret files",
            );
        }
    });
}

// ---------------------------------------------------------------- servers --------------

pub struct Postgres {
    pub data: PathBuf,
    pub port: u16,
    pub log: PathBuf,
    /// The unix socket's directory: the pod's `run` volume, shared by the server and its hook.
    pub socket: PathBuf,
    /// The pod's volumes the server was started from.
    pub sandbox: Sandbox,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = run_as_postgres(
            30,
            &[
                &pg_bin("pg_ctl"),
                "-D",
                &data,
                "-m",
                "immediate",
                "-w",
                "-t",
                "20",
                "stop",
            ],
            &[],
        );
    }
}

pub struct Redis {
    pub child: Child,
    pub port: u16,
    /// The pod's volumes the server was started from.
    pub sandbox: Sandbox,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the database `auth` from its compiled Deployment, ConfigMap and Secrets.
pub fn start_postgres(platform: &Platform, hba_override: Option<&str>) -> Postgres {
    let pod = platform.deployment("auth-db");
    let root = platform.work("auth-db");
    let group = is_root().then_some("postgres");
    if group.is_some() {
        as_postgres(&["true"]); // creates the OS user if needed
    }
    let sandbox = Sandbox::new(platform, &pod, &root, group);
    for init in pod.init_containers.iter().flatten() {
        let argv = sandbox.argv(init);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        ok(
            &run_as_postgres(30, &refs, &[]),
            &format!("init container {}", init.name),
        );
    }
    // The server reads the Secret as mounted: no copy, the key root-owned and group-readable.
    let key = fs::metadata(sandbox.volumes["tls"].join("tls.key")).unwrap();
    if group.is_some() {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(key.uid(), 0, "the key is root-owned, as in the pod");
        assert_eq!(key.permissions().mode() & 0o777, 0o440);
    }

    let container = &pod.containers[0];
    let config_dir = &sandbox.volumes["config"];
    for file in ["postgresql.conf", "pg_hba.conf"] {
        let path = config_dir.join(file);
        let text = fs::read_to_string(&path).unwrap();
        let text = match (file, hba_override) {
            ("pg_hba.conf", Some(hba)) => hba.to_owned(),
            _ => sandbox.translate(container, &text),
        };
        fs::set_permissions(config_dir, fs::Permissions::from_mode(0o777)).unwrap();
        fs::write(&path, text).unwrap();
    }
    let env = env_of(container);
    let password_file = sandbox.translate(container, &env["POSTGRES_PASSWORD_FILE"]);
    let password = fs::read_to_string(&password_file).unwrap();
    let data = root.join("pgdata");
    let socket = sandbox.volumes["run"].clone();
    let log = root.join("server.log");
    for dir in [&data, &socket] {
        fs::create_dir_all(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        if group.is_some() {
            ok(
                &run(
                    10,
                    "chown",
                    &["postgres:postgres", &dir.display().to_string()],
                ),
                "chown",
            );
        }
    }
    if group.is_some() {
        fs::write(&log, "").unwrap();
        ok(
            &run(
                10,
                "chown",
                &["postgres:postgres", &log.display().to_string()],
            ),
            "chown log",
        );
    }
    // What the image's entrypoint does at first start: initdb with POSTGRES_USER as superuser
    // and the password from POSTGRES_PASSWORD_FILE, then POSTGRES_DB; the real server then
    // starts and the container's postStart hook reconciles the declaration.
    let user = env["POSTGRES_USER"].as_str();
    let database = env["POSTGRES_DB"].as_str();
    ok(&initdb(&data, user, Path::new(&password_file)), "initdb");
    let port = free_port();
    let options = format!(
        "-c config_file={} -c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={}",
        sandbox
            .translate(container, &container.args.as_ref().unwrap()[1])
            .trim_start_matches("config_file="),
        socket.display()
    );
    let server = Postgres {
        data: data.clone(),
        port,
        log: log.clone(),
        socket: socket.clone(),
        sandbox: sandbox.clone(),
    };
    let started = pg_ctl(&data, &log, &options, "start");
    assert!(
        started.status.success(),
        "PostgreSQL did not start with the compiled settings:\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    let admin = |db: &str, args: &[&str]| {
        let mut full = vec![
            pg_bin("psql"),
            "-X".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-h".into(),
            socket.display().to_string(),
            "-p".into(),
            port.to_string(),
            "-U".into(),
            user.into(),
            "-d".into(),
            db.into(),
        ];
        full.extend(args.iter().map(|s| (*s).to_owned()));
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        run_as_postgres(30, &refs, &[("PGPASSWORD", password.trim())])
    };
    ok(
        &admin(
            "postgres",
            &["-c", &format!("CREATE DATABASE {database} OWNER {user}")],
        ),
        "CREATE DATABASE",
    );
    ok(
        &post_start(platform, &server, "first-start", |_| {}),
        "the postgres container's postStart hook",
    );
    server
}

/// Runs the postgres container's postStart hook, exactly as `platform`'s current manifests
/// compile it, against the running `server`: the hook's volumes are laid out afresh from those
/// manifests (as a restarted pod would see them), except the socket directory, which is the
/// running server's. `tamper` may alter the laid-out files first.
pub fn post_start(
    platform: &Platform,
    server: &Postgres,
    name: &str,
    tamper: impl FnOnce(&Sandbox),
) -> Output {
    let pod = platform.deployment("auth-db");
    let root = platform.work(&format!("auth-db-hook-{name}"));
    let mut sandbox = Sandbox::new(platform, &pod, &root, is_root().then_some("postgres"));
    sandbox.volumes.insert("run".into(), server.socket.clone());
    let container = &pod.containers[0];
    // The reconcile SQL names mounted files (the clients' passwords): where this sandbox put them.
    let sql = sandbox.volumes["config"].join("reconcile.sql");
    let text = fs::read_to_string(&sql).unwrap();
    fs::set_permissions(
        &sandbox.volumes["config"],
        fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    fs::write(&sql, sandbox.translate(container, &text)).unwrap();
    tamper(&sandbox);
    run_post_start(&sandbox, container, server.port)
}

/// Runs `container`'s postStart exec hook as compiled, its mount paths translated to `sandbox`,
/// against the server on loopback `port` (the image has psql and pg_isready on PATH, and the
/// server on libpq's default port).
pub fn run_post_start(sandbox: &Sandbox, container: &Container, port: u16) -> Output {
    let command = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.post_start.as_ref())
        .and_then(|h| h.exec.as_ref())
        .and_then(|e| e.command.as_ref())
        .expect("the postgres container has a postStart exec hook");
    let argv: Vec<String> = command
        .iter()
        .map(|arg| sandbox.translate(container, arg))
        .collect();
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let bin = Path::new(&pg_bin("psql"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    run_as_postgres(90, &refs, &[("PATH", &path), ("PGPORT", &port.to_string())])
}

/// Starts Redis with the compiled command line.
/// Starts redis-server with the compiled `argv` (mount paths already translated) on a free
/// loopback TLS port, logging to `log`, and waits (at most 20 s) until it listens.
pub fn spawn_redis(mut argv: Vec<String>, log: &Path) -> (Child, u16) {
    let port = free_port();
    let at = argv
        .iter()
        .position(|a| a == "--tls-port")
        .expect("--tls-port in the compiled args");
    argv[at + 1] = port.to_string();
    argv.extend([
        "--bind".into(),
        "127.0.0.1".into(),
        "--logfile".into(),
        log.display().to_string(),
    ]);
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis did not start: {}",
            fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, port)
}

pub fn start_redis(platform: &Platform) -> Redis {
    let pod = platform.deployment("redis");
    let root = platform.work("redis");
    let sandbox = Sandbox::new(platform, &pod, &root, None);
    for init in pod.init_containers.iter().flatten() {
        let argv = sandbox.argv(init);
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        ok(
            &run(30, refs[0], &refs[1..]),
            &format!("init container {}", init.name),
        );
    }
    let container = &pod.containers[0];
    let (child, port) = spawn_redis(sandbox.argv(container), &root.join("redis.log"));
    Redis {
        child,
        port,
        sandbox,
    }
}

// ---------------------------------------------------------------- checks ---------------

pub fn psql(server: &Postgres, conninfo: &str, sql: &str, password: &str) -> Output {
    let conninfo = format!(
        "{conninfo} port={} connect_timeout=10 sslcert=/nonexistent sslkey=/nonexistent",
        server.port
    );
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
        &[("PGPASSWORD", password)],
    )
}

/// A login that refuses TLS (`sslmode=disable`): pg_hba.conf must reject it.
pub fn plaintext_login(server: &Postgres, password: &str) -> Output {
    psql(
        server,
        "host=127.0.0.1 dbname=auth_db user=auth_user sslmode=disable",
        "SELECT 1",
        password,
    )
}

pub fn credentials(platform: &Platform, name: &str) -> BTreeMap<String, String> {
    platform
        .secret(name)
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
        .collect()
}

pub fn python() -> String {
    std::env::var("BAKERY_E2E_PYTHON").expect(
        "BAKERY_E2E_PYTHON: run the suite with scripts/test, which installs the client libraries",
    )
}
