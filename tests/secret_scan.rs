//! Secret scan of the repository: every file git tracks (and every untracked file it would add,
//! so a key dropped into the tree is caught before the commit) is searched for a PEM private-key
//! block, a password-like value (a password-named key, a URL's user info, a Secret's data) and,
//! under generated/, any `kind: Secret` that carries data: generated/ is committed, so it must
//! hold no secret material at all. A file that must hold such text for a reason is allowed by
//! exact path and finding kind in `ALLOWED`, with the reason. This test reads files only; it never
//! writes or fixes anything. `.ci/run` adds detect-secrets with `.secrets.baseline` on top.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// What a finding is; the allowlist names one per path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PrivateKey,
    Password,
    SecretData,
}

/// (path, kind, reason): files that must hold matching text on purpose. Keep it short: every
/// entry is a place a real secret could hide unseen.
const ALLOWED: &[(&str, Kind, &str)] = &[];

#[derive(Debug)]
struct Finding {
    path: String,
    line: usize,
    kind: Kind,
    what: String,
}

/// Every file git tracks or would add (`--others --exclude-standard`), relative to the root.
fn repository_files(root: &Path) -> Vec<String> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .expect("git is needed to list the repository's files");
    assert!(out.status.success(), "git ls-files failed: {out:?}");
    let mut files: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    files
}

// The markers are assembled so that this file itself holds no marker line.
const DASHES: &str = "-----";
const PRIVATE_KEY: &str = "PRIVATE KEY";

/// A line of a PEM body, also when quoted in source (`"MIGH...",` or `"...\n"`).
fn is_base64_line(line: &str) -> bool {
    let line = line.trim().replace("\\n", "");
    let line = line.trim_matches(['"', '\'', ',', ';', ' ']);
    !line.is_empty()
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

/// PEM private-key blocks: a `-----BEGIN ... PRIVATE KEY-----` line (PKCS#8, RSA, EC, OpenSSH,
/// encrypted or not), at least one base64 line, then the matching END line. A bare marker (as in
/// a test that checks a file's mode) holds no key and is not reported.
fn private_keys(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let Some(start) = line.find(&format!("{DASHES}BEGIN ")) else {
            continue;
        };
        let marker = &line[start + DASHES.len() + "BEGIN ".len()..];
        let Some(label) = marker.find(DASHES).map(|end| &marker[..end]) else {
            continue;
        };
        if !label.ends_with(PRIVATE_KEY) {
            continue;
        }
        let end = format!("{DASHES}END {label}{DASHES}");
        // Headers of encrypted legacy keys (Proc-Type, DEK-Info) and a blank line may precede
        // the body. Anything else between the markers (a script that greps for them) is no key.
        let Some(length) = lines[at + 1..].iter().position(|l| l.contains(&end)) else {
            continue;
        };
        let between = &lines[at + 1..at + 1 + length];
        let only_pem = between
            .iter()
            .all(|l| l.trim().is_empty() || l.contains(':') || is_base64_line(l));
        // Key material comes in 64-character lines; a short word such as `fi` is not a body.
        let material = between
            .iter()
            .any(|l| is_base64_line(l) && l.trim().len() >= 40);
        if only_pem && material {
            found.push((at + 1, format!("PEM {label} block")));
        }
    }
    found
}

/// Looks like a generated credential: 16+ characters of a base64/URL-safe alphabet mixing upper
/// case, lower case and digits (bakeryc's own passwords are 32 such characters). Placeholders
/// (`PASSWORD`, `<pw>`, `${VAR}`, `$(cat file)`) and paths do not qualify.
fn password_like(value: &str) -> bool {
    value.len() >= 16
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-.~!%*".contains(&b))
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value.bytes().any(|b| b.is_ascii_digit())
        && !value.starts_with('/')
}

fn password_named(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "pwd",
        "auth",
    ]
    .iter()
    .any(|name| key.ends_with(name))
}

fn unquote(text: &str) -> &str {
    text.trim()
        .trim_start_matches(['"', '\''])
        .split(['"', '\'', ' ', ',', ';', '&', '#'])
        .next()
        .unwrap_or("")
}

/// Password-like values on one line: `KEY: value`, `KEY=value`, `"key": "value"` with a
/// password-named key, and `scheme://user:PASSWORD@host` user info.
fn passwords_on_line(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(split) = line.find([':', '=']) {
        let key = line[..split]
            .trim()
            .trim_matches(['"', '\''])
            .rsplit([' ', '.', '[', '('])
            .next()
            .unwrap_or("");
        let value = unquote(line[split + 1..].trim_start_matches(['=', ' ']));
        if password_named(key) && password_like(value) {
            found.push(format!("{key} holds a password-like value"));
        }
    }
    let mut rest = line;
    while let Some(scheme) = rest.find("://") {
        let after = &rest[scheme + 3..];
        let authority = after.split(['/', ' ', '"', '\'', '?']).next().unwrap_or("");
        if let Some((user_info, _host)) = authority.rsplit_once('@') {
            let password = user_info.split_once(':').map_or("", |(_, p)| p);
            if password_like(password) {
                found.push("a URL with a password-like password".to_owned());
            }
        }
        rest = after;
    }
    found
}

/// `kind: Secret` documents of a YAML text and where each starts (1-based line).
fn secret_documents(text: &str) -> Vec<(usize, Value)> {
    let mut starts = vec![1];
    starts.extend(
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.trim_end() == "---")
            .map(|(at, _)| at + 2),
    );
    let Ok(docs) = serde_saphyr::from_multiple::<Value>(text) else {
        return Vec::new();
    };
    // Documents and separators pair up when the first document has no leading `---`; when it
    // has one, the first start is that separator's, so shift by one.
    let offset = usize::from(text.trim_start().starts_with("---"));
    docs.into_iter()
        .enumerate()
        .filter(|(_, doc)| doc["kind"] == "Secret")
        .map(|(at, doc)| (starts.get(at + offset).copied().unwrap_or(1), doc))
        .collect()
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for b in text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
    {
        let value = ALPHABET.iter().position(|&a| a == b)?;
        bits = (bits << 6) | u32::try_from(value).ok()?;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// Secret data: any entry at all under generated/; elsewhere, a private key or a password-like
/// value in data (base64-decoded) or stringData.
fn secret_data(path: &str, text: &str) -> Vec<(usize, Kind, String)> {
    let mut found = Vec::new();
    for (line, doc) in secret_documents(text) {
        let name = doc["metadata"]["name"].as_str().unwrap_or("?").to_owned();
        for field in ["data", "stringData"] {
            let Some(entries) = doc[field].as_object().filter(|e| !e.is_empty()) else {
                continue;
            };
            if path.starts_with("generated/") {
                found.push((
                    line,
                    Kind::SecretData,
                    format!("Secret {name} carries {field} in the committed tree"),
                ));
                continue;
            }
            for (key, value) in entries {
                let raw = value.as_str().unwrap_or_default();
                let plain = if field == "data" {
                    decode_base64(raw)
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default()
                } else {
                    raw.to_owned()
                };
                if !private_keys(&plain).is_empty() {
                    found.push((
                        line,
                        Kind::PrivateKey,
                        format!("Secret {name} {field}.{key} holds a private key"),
                    ));
                } else if password_like(plain.trim()) {
                    found.push((
                        line,
                        Kind::Password,
                        format!("Secret {name} {field}.{key} holds a password-like value"),
                    ));
                }
            }
        }
    }
    found
}

/// Every finding in one file's text.
fn scan(path: &str, text: &str) -> Vec<Finding> {
    let mut found: Vec<Finding> = private_keys(text)
        .into_iter()
        .map(|(line, what)| Finding {
            path: path.to_owned(),
            line,
            kind: Kind::PrivateKey,
            what,
        })
        .collect();
    for (at, line) in text.lines().enumerate() {
        for what in passwords_on_line(line) {
            found.push(Finding {
                path: path.to_owned(),
                line: at + 1,
                kind: Kind::Password,
                what,
            });
        }
    }
    if Path::new(path)
        .extension()
        .is_some_and(|e| e == "yaml" || e == "yml")
    {
        for (line, kind, what) in secret_data(path, text) {
            found.push(Finding {
                path: path.to_owned(),
                line,
                kind,
                what,
            });
        }
    }
    found
}

#[test]
fn the_repository_holds_no_private_key_password_or_secret_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = repository_files(root);
    assert!(
        files.iter().any(|f| f == "Cargo.toml") && files.len() > 50,
        "git ls-files listed too little to be this repository: {files:?}"
    );
    let mut findings = Vec::new();
    let mut scanned = 0;
    for path in &files {
        // A tracked file deleted in the work tree has nothing left to scan.
        let Ok(bytes) = std::fs::read(root.join(path)) else {
            continue;
        };
        scanned += 1;
        findings.extend(scan(path, &String::from_utf8_lossy(&bytes)));
    }
    let (allowed, refused): (Vec<_>, Vec<_>) = findings.into_iter().partition(|f| {
        ALLOWED
            .iter()
            .any(|(path, kind, _)| *path == f.path && *kind == f.kind)
    });
    let report: Vec<String> = refused
        .iter()
        .map(|f| format!("{}:{}: {:?}: {}", f.path, f.line, f.kind, f.what))
        .collect();
    println!(
        "secret scan: {} files, {} findings, {} allowed by path",
        scanned,
        refused.len(),
        allowed.len()
    );
    assert!(
        report.is_empty(),
        "secret material in the repository (remove it, or allow the exact path in ALLOWED with \
         a reason if it must stay):\n{}",
        report.join("\n")
    );
}

// ------------------------------------------------------------ the scan can fail --------

/// A real key, made by bakeryc's own dependency, in the shapes it could land in the tree.
fn real_key_pem() -> String {
    rcgen::KeyPair::generate().unwrap().serialize_pem()
}

#[test]
fn a_dropped_pem_key_is_found() {
    let pem = real_key_pem();
    assert!(pem.contains(PRIVATE_KEY), "rcgen's PEM: {pem}");
    let kinds = |path: &str, text: &str| scan(path, text).into_iter().map(|f| f.kind).collect();
    let only_key: Vec<Kind> = kinds("stray/tls.key", &pem);
    assert_eq!(only_key, [Kind::PrivateKey]);
    // Indented in YAML or a Rust string, with other text around it.
    let indented = pem
        .lines()
        .map(|l| format!("    \"{l}\""))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        kinds("src/x.rs", &format!("fn f() {{\n{indented}\n}}\n")),
        [Kind::PrivateKey]
    );
    // An RSA and an OpenSSH label count too; a bare marker and a public key do not.
    let rsa = pem.replace(PRIVATE_KEY, &format!("RSA {PRIVATE_KEY}"));
    assert_eq!(kinds("id_rsa", &rsa), [Kind::PrivateKey]);
    let ssh = pem.replace(PRIVATE_KEY, &format!("OPENSSH {PRIVATE_KEY}"));
    assert_eq!(kinds("id_ed25519", &ssh), [Kind::PrivateKey]);
    let bare = format!("assert!(key.starts_with(\"{DASHES}BEGIN {PRIVATE_KEY}{DASHES}\"));");
    assert!(kinds("src/y.rs", &bare).is_empty());
    // A script that checks a key file for both markers (the reloader does), twice in one file,
    // with short shell words between: markers, but no key material.
    let check = format!(
        "if ! grep -q -e '^{DASHES}BEGIN [A-Z ]*{PRIVATE_KEY}{DASHES}' \"$1/tls.key\" || ! grep -q -e '^{DASHES}END [A-Z ]*{PRIVATE_KEY}{DASHES}' \"$1/tls.key\"; then"
    );
    let script = format!("{check}\n  exit 1\nfi\ndone\n{check}\nfi\n");
    assert!(kinds("generated/base/a-db.yaml", &script).is_empty());
    let public = pem.replace(PRIVATE_KEY, "PUBLIC KEY");
    assert!(kinds("key.pub", &public).is_empty());
}

#[test]
fn password_like_values_are_found() {
    let pw = "q3X_vT9mKz2LwN8aRb5YcE7dFg1HjUoP";
    let kinds = |path: &str, text: &str| -> Vec<Kind> {
        scan(path, text).into_iter().map(|f| f.kind).collect()
    };
    for line in [
        format!("password: {pw}"),
        format!("PGPASSWORD={pw}"),
        format!("  \"db_password\": \"{pw}\","),
        format!("export REDISCLI_AUTH='{pw}'"),
        format!("DATABASE_URL=postgresql://auth_user:{pw}@db:5432/auth_db"),
        format!("rediss://:{pw}@redis-service:6379/0"),
    ] {
        assert_eq!(kinds("notes.md", &line), [Kind::Password], "{line}");
    }
    // What the repository legitimately holds: names, placeholders, paths, code.
    for line in [
        "password_encryption = 'scram-sha-256'",
        "value: /run/secrets/postgres/password",
        "rediss://:PASSWORD@HOST:6379/0?ssl_cert_reqs=required",
        "let password = db[\"password\"].clone();",
        "PGPASSWORD=$(cat /run/secrets/postgres/password) psql",
        "password: ${DB_PASSWORD}",
        "postgresql://auth_user@db:5432/auth_db?sslmode=verify-full",
    ] {
        assert!(kinds("notes.md", line).is_empty(), "{line}");
    }
}

#[test]
fn secret_data_in_generated_and_passwords_in_any_secret_are_found() {
    let pw = "q3X_vT9mKz2LwN8aRb5YcE7dFg1HjUoP";
    let secret = |field: &str, value: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n{field}:\n  k: {value}\n"
        )
    };
    let found = |path: &str, text: &str| -> Vec<(usize, Kind)> {
        scan(path, text)
            .into_iter()
            .map(|f| (f.line, f.kind))
            .collect()
    };
    // Under generated/ any data at all is refused, even a harmless value; the line is the
    // Secret's document start.
    assert_eq!(
        found("generated/base/x.yaml", &secret("stringData", "hello")),
        [(8, Kind::SecretData)]
    );
    assert_eq!(
        found("generated/base/x.yaml", &secret("data", "aGVsbG8=")),
        [(8, Kind::SecretData)]
    );
    assert!(found("docs/x.yaml", &secret("stringData", "hello")).is_empty());
    // Elsewhere, a password (base64 in data) or a key is refused.
    let encoded = "cTNYX3ZUOW1LejJMd044YVJiNVljRTdkRmcxSGpVb1A=";
    assert_eq!(decode_base64(encoded).unwrap(), pw.as_bytes());
    assert_eq!(
        found("docs/x.yaml", &secret("data", encoded)),
        [(8, Kind::Password)]
    );
    // A Secret without data (an ExternalSecret's target, a type-only stub) is fine anywhere.
    let empty = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: Opaque\n";
    assert!(found("generated/base/x.yaml", empty).is_empty());
}
