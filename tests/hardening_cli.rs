//! Issue 17, the CLI and secrets-content half: what a hostile or careless environment does to
//! the command line (closed or full stdout, machine-readable output piped into tools, huge
//! inputs) and to the secrets material (damaged or foreign keys and CAs, hostile passwords,
//! control characters). Each test here failed on the code before its fix.

mod common;

use common::{Run, Test};

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs bakeryc and checks its exit code (stderr in the message when it differs).
fn exits(test: &Test, args: &[&str], code: i32) -> Run {
    let output = test.run(args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "bakeryc {args:?}: {}",
        text(&output.stderr)
    );
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// stdout as exactly one JSON document (serde_json refuses anything after the first).
fn one_json_document(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr: {}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

// ------------------------------------------------------------- 16: writes to stdout -------

#[test]
fn a_closed_or_full_stdout_is_an_error() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    for args in [
        &["explain", "list"][..],
        &["check", "--format", "json"],
        &["--version"],
    ] {
        for redirection in [">&-", ">/dev/full"] {
            let output = dir.run_redirected(args, redirection);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{args:?} {redirection}: {}",
                text(&output.stderr)
            );
            assert!(
                text(&output.stderr).contains("cannot write to stdout"),
                "{args:?} {redirection}: {}",
                text(&output.stderr)
            );
        }
        // Discarding the output on purpose is fine.
        let discarded = dir.run_redirected(args, ">/dev/null");
        assert_eq!(discarded.status.code(), Some(0), "{args:?} >/dev/null");
    }
    // Nothing to write: a closed stdout is no error.
    let quiet = dir.run_redirected(&["check"], ">&-");
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet.stderr));
}

#[test]
fn a_pipe_closed_after_partial_output_stays_quiet() {
    let dir = Test::config(&invalid_names(2_000));
    let mut child = dir
        .command(&["check", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The reader is gone (as `| head` does); the output is far larger than a pipe holds.
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "the config's own verdict");
    assert!(
        !text(&output.stderr).contains("cannot write"),
        "{}",
        text(&output.stderr)
    );
}

// ------------------------------------------------------------- 7: one JSON document -------

#[test]
fn json_is_one_document_on_stdout_in_every_case() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    let json = |args: &[&str]| {
        let output = dir.run(args);
        let document = one_json_document(&output);
        (output, document)
    };
    let (built, document) = json(&["build", "--format", "json"]);
    assert_eq!(built.status.code(), Some(0), "{}", text(&built.stderr));
    assert_eq!(document, serde_json::json!([]));
    let (clean, document) = json(&["build", "--check", "--format", "json"]);
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(document, serde_json::json!([]));

    // Drift: the array on stdout, the diff on stderr.
    let edited = dir.path().join("generated/base/kustomization.yaml");
    let original = fs::read_to_string(&edited).unwrap();
    fs::write(&edited, format!("{original}# drift\n")).unwrap();
    let (drift, document) = json(&["build", "--check", "--format", "json"]);
    assert_eq!(drift.status.code(), Some(1));
    assert_eq!(document, serde_json::json!([]));
    assert!(
        text(&drift.stderr).contains("-# drift"),
        "{}",
        text(&drift.stderr)
    );
    // Without JSON the diff stays the output.
    let human = dir.run(&["build", "--check"]);
    assert!(text(&human.stdout).contains("-# drift"));

    // Failures before any diagnostic: still one (empty) array.
    let (missing, document) = json(&["check", "--format", "json", "-c", "absent.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(document, serde_json::json!([]));
    let (unknown_env, document) = json(&[
        "secrets", "generate", "--env", "nowhere", "--format", "json",
    ]);
    assert_eq!(unknown_env.status.code(), Some(2));
    assert_eq!(document, serde_json::json!([]));

    // A command line clap refuses.
    for format in [&["--format", "json"][..], &["--format=json"]] {
        let mut args = vec!["check", "--no-such-flag"];
        args.extend_from_slice(format);
        let (refused, document) = json(&args);
        assert_eq!(refused.status.code(), Some(2));
        assert_eq!(document, serde_json::json!([]));
    }

    // An invalid config: its diagnostics.
    fs::write(dir.path().join("bad.toml"), "[platform]\nname = 1\n").unwrap();
    let (invalid, document) = json(&["check", "--format", "json", "-c", "bad.toml"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(!document.as_array().unwrap().is_empty());
}

// ------------------------------------------------------------- 8: linear diagnostics ------

const PLATFORM: &str = "[platform]\nname = \"p\"\nnamespace = \"p\"\n\n[postgres]\nversion = 17\n\
image = \"postgres:17.2-alpine\"\nstorage = \"1Gi\"\n";

/// `count` databases whose names are not DNS labels: one error each.
fn invalid_names(count: usize) -> String {
    let mut text = format!("{PLATFORM}\n[environments.prod]\n");
    for i in 0..count {
        let _ = write!(text, "\n[[database]]\nname = \"Bad_{i}\"\n");
    }
    text
}

/// `count` unknown extensions on one line: one warning each.
fn unknown_extensions(count: usize) -> String {
    let list: Vec<String> = (0..count).map(|i| format!("\"nope{i}\"")).collect();
    format!(
        "{PLATFORM}extensions = [{}]\n\n[environments.prod]\n\n[[database]]\nname = \"a\"\n",
        list.join(", ")
    )
}

/// Runs `bakeryc check` on `config`, killed after `limit`; stdout and stderr go to files, so a
/// large report cannot block on a full pipe. Returns both.
fn check_within(config: &str, format: &str, limit: Duration) -> (String, String) {
    let dir = Test::config(config);
    let out = fs::File::create(dir.path().join("stdout")).unwrap();
    let err = fs::File::create(dir.path().join("stderr")).unwrap();
    let start = Instant::now();
    let mut child = dir
        .command(&["check", "--format", format])
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("check --format {format} took more than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        fs::read_to_string(dir.path().join("stdout")).unwrap(),
        fs::read_to_string(dir.path().join("stderr")).unwrap(),
    )
}

#[test]
fn twenty_thousand_diagnostics_are_reported_in_linear_time() {
    // A release build takes well under a second for each; this is a debug build on a shared
    // machine (a few seconds), and the quadratic code took minutes.
    let limit = Duration::from_secs(30);
    for (config, verdict) in [
        (invalid_names(20_000), "20000 error(s)"),
        (unknown_extensions(20_000), "is valid"),
    ] {
        let (_, stderr) = check_within(&config, "human", limit);
        assert_eq!(stderr.matches("bakery::").count(), 20_000);
        assert!(
            stderr.contains(verdict),
            "{}",
            &stderr[stderr.len() - 200..]
        );
        let (stdout, _) = check_within(&config, "json", limit);
        let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
        assert_eq!(entries.len(), 20_000);
    }
}

// ------------------------------------------------------------- secrets helpers -------------

/// A workspace with the ECDSA secrets fixture and both environments generated.
fn secrets_workspace() -> Test {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    for env in ["dev", "prod"] {
        exits(&dir, &["secrets", "generate", "--env", env], 0);
    }
    dir
}

fn status_json(test: &Test, env: &str) -> (Run, serde_json::Value) {
    let output = test.run(&["secrets", "status", "--env", env, "--format", "json"]);
    let report = one_json_document(&output);
    (output, report)
}

/// The entry of `object` in a status report.
fn entry<'a>(report: &'a serde_json::Value, object: &str) -> &'a serde_json::Value {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object"] == object)
        .unwrap_or_else(|| panic!("no row {object}: {report:#}"))
}

// ------------------------------------------------------------- 4: damaged material ---------

/// One way to damage the material.
type Damage<'a> = Box<dyn Fn() + 'a>;

#[test]
fn generate_refuses_damaged_material_with_exit_2_and_writes_nothing() {
    let dir = secrets_workspace();
    let prod = dir.path().join("secrets/prod");
    let dev = dir.path().join("secrets/dev");
    let key = |env: &Path, workload: &str| env.join(format!("{workload}/tls/tls.key"));
    let cert = |env: &Path, workload: &str| env.join(format!("{workload}/tls/tls.crt"));
    let damages: Vec<(&str, Damage<'_>)> = vec![
        (
            "auth-db/tls/tls.key is not a private key",
            Box::new(|| fs::write(key(&prod, "auth-db"), "garbage").unwrap()),
        ),
        (
            "auth-db/tls/tls.key does not belong to auth-db/tls/tls.crt",
            Box::new(|| {
                fs::copy(key(&prod, "redis"), key(&prod, "auth-db")).unwrap();
            }),
        ),
        (
            "signed by another CA",
            Box::new(|| {
                fs::copy(key(&dev, "redis"), key(&prod, "redis")).unwrap();
                fs::copy(cert(&dev, "redis"), cert(&prod, "redis")).unwrap();
            }),
        ),
        (
            "ca.key is not a private key",
            Box::new(|| fs::write(prod.join("ca.key"), "garbage").unwrap()),
        ),
        (
            "ca.key does not belong to ca.crt",
            Box::new(|| {
                fs::copy(dev.join("ca.key"), prod.join("ca.key")).unwrap();
            }),
        ),
    ];
    let pristine = common::files(&prod);
    for (problem, damage) in damages {
        damage();
        let before = common::files(&prod);
        let (status, _) = status_json(&dir, "prod");
        assert_eq!(status.status.code(), Some(1), "status sees: {problem}");
        let generate = dir.run(&["secrets", "generate", "--env", "prod"]);
        let stderr = text(&generate.stderr);
        assert_eq!(generate.status.code(), Some(2), "{problem}: {stderr}");
        assert!(stderr.contains(problem), "{problem}: {stderr}");
        assert!(stderr.contains("secrets rotate --env prod"), "{stderr}");
        assert_eq!(before, common::files(&prod), "{problem}: written");
        // Put everything back for the next case.
        fs::remove_dir_all(&prod).unwrap();
        fs::create_dir(&prod).unwrap();
        for (path, bytes) in &pristine {
            let path = prod.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        }
    }
    // rotate replaces what it is asked to, even when damaged.
    fs::write(key(&prod, "auth-db"), "garbage").unwrap();
    exits(
        &dir,
        &["secrets", "rotate", "--env", "prod", "--only", "auth"],
        0,
    );
    let (status, report) = status_json(&dir, "prod");
    assert_eq!(status.status.code(), Some(0), "{report:#}");
}

// ------------------------------------------------------------- 5: foreign trust ------------

#[test]
fn status_lists_every_trusted_certificate_and_fails_on_a_foreign_one() {
    let dir = secrets_workspace();
    let prod = dir.path().join("secrets/prod");
    let dev_ca = fs::read_to_string(dir.path().join("secrets/dev/ca.crt")).unwrap();

    // A real CA rotation: the previous CA and both bundle certificates are listed, all ok.
    exits(&dir, &["secrets", "rotate", "--env", "prod", "--ca"], 0);
    let (status, report) = status_json(&dir, "prod");
    assert_eq!(status.status.code(), Some(0), "{report:#}");
    for object in ["ca-previous.crt #1", "ca-bundle.crt #1", "ca-bundle.crt #2"] {
        let row = entry(&report, object);
        assert_eq!(row["state"], "ok", "{row:#}");
        assert_eq!(row["kind"], "trusted");
        assert!(
            row["subject"].as_str().unwrap().contains("OU=prod"),
            "{row:#}"
        );
    }

    // Another environment's CA as the previous one: it reaches the bundle, and status says so.
    fs::write(prod.join("ca-previous.crt"), &dev_ca).unwrap();
    exits(&dir, &["secrets", "generate", "--env", "prod"], 0);
    let (status, report) = status_json(&dir, "prod");
    assert_eq!(status.status.code(), Some(1), "{report:#}");
    for object in ["ca-previous.crt #1", "ca-bundle.crt #2"] {
        let row = entry(&report, object);
        assert_eq!(row["state"], "mismatch", "{row:#}");
        let problems = row["problems"].to_string();
        assert!(problems.contains("environment `prod`"), "{problems}");
        assert!(problems.contains("OU=\\\"dev\\\""), "{problems}");
    }
    let human = dir.run(&["secrets", "status", "--env", "prod"]);
    assert!(
        text(&human.stdout).contains("ca-previous.crt #1"),
        "{}",
        text(&human.stdout)
    );

    // Unless bakery.toml names it, by fingerprint (as openssl prints it, or plain hex).
    let der = x509_parser::pem::parse_x509_pem(dev_ca.as_bytes())
        .unwrap()
        .1
        .contents;
    let mut hex = String::new();
    for byte in <sha2::Sha256 as sha2::Digest>::digest(&der) {
        let _ = write!(hex, "{byte:02x}");
    }
    let problems = entry(&report, "ca-previous.crt #1")["problems"].to_string();
    let colons = hex
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    assert!(problems.contains(&colons), "{problems}");
    let config = fs::read_to_string(dir.path().join("bakery.toml")).unwrap();
    let trusting = config.replace(
        "[environments.prod]\n",
        &format!("[environments.prod]\ntrusted_cas = [\"{hex}\"]\n"),
    );
    assert_ne!(config, trusting);
    fs::write(dir.path().join("bakery.toml"), &trusting).unwrap();
    let (status, report) = status_json(&dir, "prod");
    assert_eq!(status.status.code(), Some(0), "{report:#}");
    assert_eq!(entry(&report, "ca-previous.crt #1")["state"], "ok");
    fs::write(dir.path().join("bakery.toml"), &config).unwrap();

    // A second certificate appended to ca.crt.
    fs::remove_file(prod.join("ca-previous.crt")).unwrap();
    let mut ca = fs::read_to_string(prod.join("ca.crt")).unwrap();
    ca.push_str(&dev_ca);
    fs::write(prod.join("ca.crt"), ca).unwrap();
    exits(&dir, &["secrets", "generate", "--env", "prod"], 0);
    let (status, report) = status_json(&dir, "prod");
    assert_eq!(status.status.code(), Some(1), "{report:#}");
    assert_eq!(entry(&report, "ca.crt #2")["state"], "mismatch");
    assert_eq!(entry(&report, "ca-bundle.crt #2")["state"], "mismatch");
    assert_eq!(entry(&report, "bakery-test-ca")["state"], "ok");
}

// ------------------------------------------------------------- 13: Redis auth.conf ---------

/// A redis-server on loopback, stopped when dropped.
struct RedisServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RedisServer {
    /// Starts redis-server with nothing but `include` as its configuration (plain TCP: only
    /// the password matters here).
    fn start(include: &Path, dir: &Path) -> Self {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .arg("--include")
            .arg(include)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/test installs it)");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

/// Sends one command (RESP, binary safe) and returns the first line of the reply.
fn resp(stream: &mut std::net::TcpStream, args: &[&[u8]]) -> String {
    use std::io::{BufRead as _, Write as _};
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend(format!("${}\r\n", arg.len()).into_bytes());
        request.extend_from_slice(arg);
        request.extend(b"\r\n");
    }
    stream.write_all(&request).unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stream.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim_end().to_owned()
}

#[test]
fn a_hostile_redis_password_neither_injects_a_directive_nor_breaks_auth() {
    let dir = secrets_workspace();
    let credentials = dir.path().join("secrets/prod/redis/credentials");
    // A restored password that closes its quotes, adds a directive and opens a new line.
    let password = "pw\"\nrename-command CONFIG \"\"\nrequirepass \"pw\\ \t\u{1b}é";
    fs::write(credentials.join("password"), password).unwrap();
    exits(&dir, &["secrets", "generate", "--env", "prod"], 0);

    let server = RedisServer::start(&credentials.join("auth.conf"), dir.path());
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ping = resp(&mut stream, &[b"PING"]);
    assert!(
        ping.starts_with("-NOAUTH"),
        "a password is required: {ping}"
    );
    let wrong = resp(&mut stream, &[b"AUTH", b"pw"]);
    assert!(wrong.starts_with("-WRONGPASS"), "{wrong}");
    let auth = resp(&mut stream, &[b"AUTH", password.as_bytes()]);
    assert_eq!(auth, "+OK");
    // CONFIG was not renamed away.
    let config = resp(&mut stream, &[b"CONFIG", b"GET", b"port"]);
    assert_eq!(config, "*2", "CONFIG GET answers");
    let auth_conf = fs::read_to_string(credentials.join("auth.conf")).unwrap();
    assert_eq!(auth_conf.lines().count(), 1, "{auth_conf}");
}

// ------------------------------------------------------------- 15: control characters -----

/// A self-signed CA whose subject carries terminal escapes and a forged report line.
fn hostile_ca() -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "Evil\u{1b}[2J\u{1b}]0;owned\u{7}\nauth-db-tls  ok \u{202e}",
    );
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "bakery-test");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert, rcgen::Issuer::new(params, key))
}

/// No raw control character or direction override, and the forged line is not a line.
fn assert_escaped(printed: &str) {
    assert!(
        !printed.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "raw control characters: {printed:?}"
    );
    assert!(
        !printed.lines().any(|l| l.starts_with("auth-db-tls  ok")),
        "a forged line: {printed}"
    );
    assert!(printed.contains("\\u{1b}"), "{printed}");
}

#[test]
fn names_from_certificates_are_escaped_where_they_are_printed() {
    let dir = secrets_workspace();
    let prod = dir.path().join("secrets/prod");
    let (ca, issuer) = hostile_ca();
    // In a trust file: the status table shows its subject.
    fs::write(prod.join("ca-previous.crt"), ca.pem()).unwrap();
    let status = dir.run(&["secrets", "status", "--env", "prod"]);
    assert_eq!(status.status.code(), Some(1));
    assert_escaped(&text(&status.stdout));
    fs::remove_file(prod.join("ca-previous.crt")).unwrap();

    // As the issuer of a server certificate: generate refuses and names it.
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["redis-service".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    fs::write(prod.join("redis/tls/tls.crt"), leaf.pem()).unwrap();
    fs::write(prod.join("redis/tls/tls.key"), key.serialize_pem()).unwrap();
    let generate = exits(&dir, &["secrets", "generate", "--env", "prod"], 2);
    assert_escaped(&text(&generate.stderr));
    let status = dir.run(&["secrets", "status", "--env", "prod"]);
    assert_escaped(&text(&status.stdout));
}

#[test]
fn diagnostics_never_send_control_characters_from_bakery_toml_to_the_terminal() {
    let dir = Test::new();
    // Escaped in quoted keys (valid TOML), and raw in a comment (a syntax error).
    let escaped = format!(
        "{PLATFORM}\n[[database]]\nname = \"a\"\n\n[environments.prod.database.\"x\\u001b[2J\\nforged\"]\n\
         storage = \"2Gi\"\n\n[postgres.settings]\n\"work\\u001b]0;t\\u0007_mem\" = \"4MB\"\n"
    );
    let raw = format!("{PLATFORM}# a comment with a raw \u{1b}[2J escape\n");
    for config in [escaped, raw] {
        fs::write(dir.path().join("bakery.toml"), &config).unwrap();
        let output = exits(&dir, &["check"], 1);
        let stderr = text(&output.stderr);
        assert!(
            !stderr.contains(['\u{1b}', '\u{7}']),
            "raw control characters: {stderr}"
        );
        assert!(
            stderr.contains("\\u{1b}") || stderr.contains("at bakery.toml:"),
            "{stderr}"
        );
        assert!(!stderr.lines().any(|l| l.starts_with("forged")), "{stderr}");
    }
}
