//! `bakeryc secrets import`: the passwords a running platform already uses, taken into the
//! secrets folder exactly where `generate` would put them, so that adopting a database changes
//! no password at cut-over. Reads a `kubectl get secret -o yaml` dump (one Secret or a List,
//! base64 `data` or `stringData`) or `name=password` lines, maps each entry to a workload of
//! bakery.toml, and returns the files to write. Pure: the text comes in as a string, the files
//! go out as values; a password never appears in an error or a report, only names do.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Deserialize;

use super::{
    Action, Change, EntryKind, Outcome, PASSWORD_KEY, SecretFiles, SecretsError, Workload,
    bakeryc_makes_passwords, check_environment, credential_path, derived_files, workloads,
};
use crate::model::Platform;

/// One object of a `kubectl get -o yaml` dump: a Secret, or a List of them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Dumped {
    kind: Option<String>,
    metadata: Option<Metadata>,
    data: BTreeMap<String, String>,
    string_data: BTreeMap<String, String>,
    items: Vec<Dumped>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Metadata {
    name: Option<String>,
}

/// What a file held: passwords by workload, and the names of entries that matched none.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Workload name (`auth-db`) to password.
    pub passwords: BTreeMap<String, String>,
    /// Keys that name no database or cache (usernames, other settings), reported by name.
    pub ignored: Vec<String>,
}

/// Reads `text` (a Secret dump or `name=password` lines) against the platform's workloads.
pub fn read(platform: &Platform, text: &str) -> Result<Imported, SecretsError> {
    let entries = if looks_like_yaml(text) {
        yaml_entries(text)?
    } else {
        line_entries(text)?
    };
    let mut imported = Imported::default();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (origin, candidates, password) in entries {
        let Some(workload) = candidates.iter().find_map(|c| workload_named(platform, c)) else {
            imported.ignored.push(origin);
            continue;
        };
        check_password(&origin, &password)?;
        if let Some(first) = seen.get(&workload) {
            if imported.passwords.get(&workload) != Some(&password) {
                return Err(SecretsError::Refused(format!(
                    "{origin} and {first} both give a password for {workload}, and they differ: \
                     keep the one its clients use and remove the other; nothing written"
                )));
            }
            continue;
        }
        seen.insert(workload.clone(), origin);
        imported.passwords.insert(workload, password);
    }
    if imported.passwords.is_empty() {
        return Err(SecretsError::Refused(format!(
            "no entry names a database or cache of bakery.toml{}; write `name=password` lines \
             with the names of bakery.toml (`auth`, `auth-db` or AUTH_DB_PASSWORD); nothing written",
            if imported.ignored.is_empty() {
                String::new()
            } else {
                format!(" (found: {})", imported.ignored.join(", "))
            }
        )));
    }
    imported.ignored.sort();
    imported.ignored.dedup();
    Ok(imported)
}

/// Stores `imported` in the environment's files where `generate` keeps passwords, with every
/// file that follows from them (credentials keys, kustomization). A password already there is
/// replaced only with `force`; the same password again is kept.
pub fn import(
    platform: &Platform,
    env: &str,
    existing: &SecretFiles,
    imported: &Imported,
    force: bool,
    now: Timestamp,
) -> Result<Outcome, SecretsError> {
    check_environment(platform, env)?;
    if !bakeryc_makes_passwords(platform) {
        return Err(SecretsError::Refused(
            "[secrets] provider = \"external-secrets\": the passwords live in the external store; \
             put the existing ones there (see docs/adopt.md); nothing written"
                .into(),
        ));
    }
    let mut files = existing.clone();
    let mut actions = Vec::new();
    let mut refused = Vec::new();
    for workload in workloads(platform) {
        let names = workload.names();
        let Some(password) = imported.passwords.get(&names.workload) else {
            continue;
        };
        let path = credential_path(&names.workload, PASSWORD_KEY);
        let change = match existing.text(&path) {
            None if !existing.contains(&path) => Change::Created,
            Some(current) if current == password => Change::Kept,
            _ if force => Change::Rotated,
            _ => {
                refused.push(path);
                continue;
            }
        };
        files.insert(path, password.clone().into_bytes());
        actions.push(Action {
            kind: EntryKind::Password,
            object: names.credentials_secret,
            workload: Some(names.workload),
            change,
        });
    }
    if !refused.is_empty() {
        return Err(SecretsError::Refused(format!(
            "{} already hold(s) another password; nothing written: `--force` replaces it (the \
             running server must already have the imported one)",
            refused.join(", ")
        )));
    }
    for (path, bytes) in derived_files(platform, &files, now) {
        files.insert(path, bytes);
    }
    let changes: BTreeMap<String, Vec<u8>> = files
        .0
        .into_iter()
        .filter(|(path, bytes)| existing.get(path) != Some(bytes.as_slice()))
        .collect();
    Ok(Outcome {
        changes: changes.into(),
        actions,
    })
}

fn looks_like_yaml(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .any(|line| line.starts_with("apiVersion:") || line.starts_with("kind:"))
}

/// (where it came from, names it may mean, password) per entry.
type Entry = (String, Vec<String>, String);

fn yaml_entries(text: &str) -> Result<Vec<Entry>, SecretsError> {
    // The parser's message may quote the document, and so a password: never shown.
    let dumped: Dumped = serde_saphyr::from_str(text).map_err(|_| {
        SecretsError::Refused(
            "the file looks like YAML but is not one `kubectl get secret -o yaml` document \
             (a Secret or a List of Secrets); nothing written"
                .into(),
        )
    })?;
    let mut entries = Vec::new();
    let secrets = if dumped.kind.as_deref() == Some("List") || !dumped.items.is_empty() {
        dumped.items
    } else {
        vec![dumped]
    };
    for secret in secrets {
        let name = secret
            .metadata
            .and_then(|m| m.name)
            .unwrap_or_else(|| "secret".to_owned());
        let mut values: Vec<(String, String)> = Vec::new();
        for (key, encoded) in secret.data {
            let bytes = decode_base64(&encoded).ok_or_else(|| {
                SecretsError::Refused(format!("{name}: data.{key} is not base64; nothing written"))
            })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                SecretsError::Refused(format!("{name}: data.{key} is not text; nothing written"))
            })?;
            values.push((key, text));
        }
        values.extend(secret.string_data);
        for (key, password) in values {
            // A key that only says "password" takes its workload from the Secret's name.
            let mut candidates = vec![key.clone()];
            if is_bare_password_key(&key) {
                candidates.push(name.clone());
            }
            entries.push((format!("{name}: {key}"), candidates, password));
        }
    }
    Ok(entries)
}

fn line_entries(text: &str) -> Result<Vec<Entry>, SecretsError> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((name, password)) = line.split_once('=') else {
            return Err(SecretsError::Refused(format!(
                "line {}: not `name=password`; nothing written",
                number + 1
            )));
        };
        let name = name.trim().to_owned();
        if password.trim() != password {
            return Err(SecretsError::Refused(format!(
                "line {} ({name}): the password starts or ends with a space; write `name=password` \
                 without spaces around `=`; nothing written",
                number + 1
            )));
        }
        entries.push((
            format!("line {} ({name})", number + 1),
            vec![name],
            password.to_owned(),
        ));
    }
    Ok(entries)
}

fn is_bare_password_key(key: &str) -> bool {
    matches!(
        normalise(key).as_str(),
        "password" | "postgres-password" | "redis-password" | "db-password"
    )
}

/// `AUTH_DB_PASSWORD` -> `auth-db-password`.
fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '.'], "-")
}

/// The workload a key or Secret name means: a declared name, a workload name, or either with
/// a `-password`, `-credentials`, `-secret` suffix (`AUTH_DB_PASSWORD`, `auth-db-credentials`).
fn workload_named(platform: &Platform, name: &str) -> Option<String> {
    let name = normalise(name);
    let mut forms: BTreeSet<String> = BTreeSet::from([name.clone()]);
    for suffix in ["-password", "-credentials", "-secrets", "-secret", "-pass"] {
        if let Some(stem) = name.strip_suffix(suffix) {
            forms.insert(stem.to_owned());
        }
    }
    workloads(platform).into_iter().find_map(|w| {
        let names = w.names();
        let declared = match w {
            Workload::Database(db) => vec![db.name.to_string(), format!("{}-db", db.name)],
            Workload::Cache(cache) => vec![cache.name.to_string()],
            Workload::Client(client) => vec![client.name.to_string()],
        };
        declared
            .into_iter()
            .chain([names.workload.clone()])
            .any(|candidate| forms.contains(&candidate))
            .then_some(names.workload)
    })
}

/// A password a server and `$(cat file)` in a shell read back unchanged: not empty, no control
/// characters (a trailing newline from `echo | base64` would be cut by the hook's `cat`).
fn check_password(origin: &str, password: &str) -> Result<(), SecretsError> {
    if password.is_empty() {
        return Err(SecretsError::Refused(format!(
            "{origin}: the password is empty; nothing written"
        )));
    }
    if password.chars().any(char::is_control) {
        return Err(SecretsError::Refused(format!(
            "{origin}: the password holds a control character (often a newline from `echo ... | \
             base64`); remove it from the Secret or the file; nothing written"
        )));
    }
    Ok(())
}

/// Standard base64 with padding, as the API server writes `data` (whitespace ignored).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = serde_json::Value::String(text.split_whitespace().collect());
    serde_json::from_value::<k8s_openapi::ByteString>(value)
        .ok()
        .map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Platform {
        let source = "[platform]\nname = \"p\"\nnamespace = \"p\"\n[postgres]\nversion = 17\n\
            image = \"postgres:17.2-alpine\"\nstorage = \"1Gi\"\n[[database]]\nname = \"auth\"\n\
            [[database]]\nname = \"alert-processor\"\n[cache]\nimage = \"redis:7.4.1-alpine\"\n\
            storage = \"1Gi\"\n[environments.prod]\n";
        crate::check(source).platform.unwrap()
    }

    #[test]
    fn every_usual_spelling_names_its_workload() {
        let p = platform();
        for (key, workload) in [
            ("auth", "auth-db"),
            ("auth-db", "auth-db"),
            ("AUTH_DB_PASSWORD", "auth-db"),
            ("ALERT_PROCESSOR_DB_PASSWORD", "alert-processor-db"),
            ("alert-processor-db-credentials", "alert-processor-db"),
            ("REDIS_PASSWORD", "redis"),
        ] {
            assert_eq!(workload_named(&p, key).as_deref(), Some(workload), "{key}");
        }
        assert_eq!(workload_named(&p, "AUTH_DB_USER"), None);
    }

    #[test]
    fn a_secret_dump_and_lines_read_the_same() {
        let p = platform();
        let yaml = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  \
            metadata:\n    name: database-secrets\n  data:\n    AUTH_DB_PASSWORD: YXV0aF9wYXNzMTIz\n    \
            AUTH_DB_USER: YXV0aF91c2Vy\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    \
            name: redis-secret\n  data:\n    password: cmVkaXNfcGFzczEyMw==\n";
        let lines = "# seed\nauth=auth_pass123\nredis=redis_pass123\n";
        let from_yaml = read(&p, yaml).unwrap();
        assert_eq!(from_yaml.ignored, vec!["database-secrets: AUTH_DB_USER"]);
        assert_eq!(from_yaml.passwords, read(&p, lines).unwrap().passwords);
        assert_eq!(from_yaml.passwords["auth-db"], "auth_pass123");
        assert_eq!(from_yaml.passwords["redis"], "redis_pass123");
    }

    #[test]
    fn a_single_secret_gives_its_name_to_a_bare_password_key_only() {
        let p = platform();
        let yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: auth-db-credentials\n\
            data:\n  password: YXV0aF9wYXNzMTIz\n  username: YXV0aF91c2Vy\n";
        let single = read(&p, yaml).unwrap();
        assert_eq!(single.passwords.len(), 1, "{:?}", single.ignored);
        assert_eq!(single.passwords["auth-db"], "auth_pass123");
        assert_eq!(single.ignored, vec!["auth-db-credentials: username"]);
        // A list whose `kind: List` line was lost still reads its items.
        let list = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    \
            name: redis-secret\n  data:\n    password: cmVkaXNfcGFzczEyMw==\n";
        assert_eq!(read(&p, list).unwrap().passwords["redis"], "redis_pass123");
    }

    #[test]
    fn import_creates_keeps_the_same_and_replaces_another_only_when_forced() {
        let p = platform();
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let path = credential_path("auth-db", PASSWORD_KEY);
        let same = read(&p, "auth=auth_pass123\n").unwrap();
        let first = import(&p, "prod", &SecretFiles::new(), &same, false, now).unwrap();
        assert_eq!(first.changes.text(&path), Some("auth_pass123"));
        assert_eq!(first.count(Change::Created), 1);
        let mut existing = first.changes.clone();
        let again = import(&p, "prod", &existing, &same, false, now).unwrap();
        assert_eq!(
            (again.count(Change::Kept), again.changes.contains(&path)),
            (1, false)
        );
        let other = read(&p, "auth=another_pass456\n").unwrap();
        let refused = import(&p, "prod", &existing, &other, false, now);
        assert!(matches!(refused, Err(SecretsError::Refused(m)) if m.contains("--force")));
        let forced = import(&p, "prod", &existing, &other, true, now).unwrap();
        assert_eq!(forced.changes.text(&path), Some("another_pass456"));
        assert_eq!(forced.count(Change::Rotated), 1);
        // A password file that is not text is another password too: replaced only by --force.
        existing.insert(path.clone(), vec![0xff, 0xfe]);
        assert!(import(&p, "prod", &existing, &same, false, now).is_err());
        let forced = import(&p, "prod", &existing, &same, true, now).unwrap();
        assert_eq!(forced.count(Change::Rotated), 1);
    }

    #[test]
    fn nothing_secret_reaches_an_error() {
        let p = platform();
        for text in [
            "auth=with\u{7}bell",
            "auth=xq1\nauth-db=xq2",
            "auth= xq3",
            "kind: Secret\ndata: [not-a-map-s3cr3t",
        ] {
            let error = read(&p, text).unwrap_err().to_string();
            for secret in ["bell", "xq1", "xq2", "xq3", "s3cr3t"] {
                assert!(!error.contains(secret), "{error}");
            }
        }
    }
}
