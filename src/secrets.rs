//! The certificates and passwords of one environment, as values: a per-environment CA, one server
//! certificate and one password per workload, and the kustomize root (`secrets/<env>/`) that turns
//! them into exactly the Secrets the compiled manifests reference. Pure: it takes the platform,
//! the files already in `secrets/<env>/` (as bytes) and the current time, and returns the files
//! to write and a report. It never touches disk and never prints (`output` writes, `cli`
//! prints); the only outside input it uses is the OS random generator, for keys and passwords.

mod import;
mod issue;
mod rotate;
mod status;
mod weak;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use jiff::Timestamp;
use serde::Serialize;

use crate::model::{Cache, Client, Database, Platform, WorkloadNames};

pub use import::{Imported, import, read as read_import};
pub use rotate::Rotation;
pub use status::{Entry, EntryKind, State, Status, status};

/// The kustomize root of the environment; the only file `kubectl apply -k` reads first.
pub const KUSTOMIZATION: &str = "kustomization.yaml";
/// The environment's CA certificate (public).
pub const CA_CERT: &str = "ca.crt";
/// The CA private key: kept for issuing, never referenced by the kustomization.
pub const CA_KEY: &str = "ca.key";
/// The CA certificate that `rotate --ca` replaced, still trusted by clients during the rollout.
pub const PREVIOUS_CA_CERT: &str = "ca-previous.crt";
/// What clients trust: the CA, then the previous CA while it has not expired.
pub const CA_BUNDLE: &str = "ca-bundle.crt";
pub use crate::model::{PASSWORD_KEY, REDIS_AUTH_CONF_KEY as AUTH_CONF_KEY};
/// The shortest password `status` accepts; generated ones are longer.
pub const MIN_PASSWORD_LEN: usize = 32;

/// `<workload>/tls/tls.crt`: the server certificate of one workload.
pub fn leaf_cert_path(workload: &str) -> String {
    format!("{workload}/tls/tls.crt")
}

/// `<workload>/tls/tls.key`: the server key of one workload.
pub fn leaf_key_path(workload: &str) -> String {
    format!("{workload}/tls/tls.key")
}

/// `<workload>/credentials/<key>`: one key of a credentials Secret.
pub fn credential_path(workload: &str, key: &str) -> String {
    format!("{workload}/credentials/{key}")
}

/// The files of one environment's secrets folder, keyed by path relative to `secrets/<env>/`.
/// Debug shows paths and sizes only, so the contents can never reach a log by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretFiles(BTreeMap<String, Vec<u8>>);

impl SecretFiles {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.0.get(path).map(Vec::as_slice)
    }

    /// The file as text, or `None` when it is absent or not UTF-8.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn contains(&self, path: &str) -> bool {
        self.0.contains_key(path)
    }

    pub fn insert(&mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.insert(path.into(), bytes.into());
    }

    pub fn remove(&mut self, path: &str) -> Option<Vec<u8>> {
        self.0.remove(path)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(p, b)| (p.as_str(), b.as_slice()))
    }
}

impl From<BTreeMap<String, Vec<u8>>> for SecretFiles {
    fn from(files: BTreeMap<String, Vec<u8>>) -> Self {
        Self(files)
    }
}

impl fmt::Debug for SecretFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(p, b)| (p, format!("<{} bytes>", b.len()))),
            )
            .finish()
    }
}

/// A workload that needs a server certificate and a password.
#[derive(Clone, Copy, Debug)]
pub enum Workload<'a> {
    Database(&'a Database),
    Cache(&'a Cache),
    /// A declared client: a password and a client certificate (CN = its role), no server.
    Client(&'a Client),
}

impl Workload<'_> {
    pub fn names(self) -> WorkloadNames {
        match self {
            Self::Database(db) => db.names(),
            Self::Cache(cache) => cache.names(),
            Self::Client(client) => client.names(),
        }
    }
}

/// Every workload of the platform, in the order of the base: databases, then the cache.
pub fn workloads(platform: &Platform) -> Vec<Workload<'_>> {
    platform
        .databases
        .iter()
        .map(Workload::Database)
        .chain(platform.cache.iter().map(Workload::Cache))
        .chain(platform.clients.iter().map(Workload::Client))
        .collect()
}

/// Every key of a workload's credentials Secret, derived from its password. This is the one
/// place that decides what the credentials Secret holds (the platform is passed for entries
/// such as connection URLs that need service names).
pub fn credentials_entries(
    platform: &Platform,
    workload: Workload<'_>,
    password: &str,
) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::from([(PASSWORD_KEY.to_owned(), password.to_owned())]);
    match workload {
        Workload::Database(db) => {
            // Connection profiles with the password; the rest of each profile (PGHOST, PGSSLMODE,
            // PGSSLROOTCERT, ...) is in the ConfigMap `<db>-db-client` in generated/.
            let profile = platform.database_profile(db);
            entries.insert("username".to_owned(), db.role_name());
            entries.insert("database".to_owned(), db.database_name());
            entries.insert("PGPASSWORD".to_owned(), password.to_owned());
            if let Some(url) = profile.libpq_url(Some(password)) {
                entries.insert("DATABASE_URL".to_owned(), url);
            }
            if let Some(url) = profile.sqlalchemy_asyncpg_url(Some(password)) {
                entries.insert("SQLALCHEMY_DATABASE_URL".to_owned(), url);
            }
        }
        Workload::Cache(cache) => {
            // Redis reads this file with `--include`. A generated password needs no escaping,
            // but a restored one may hold anything, a quote and a newline included.
            // With declared clients the default user keeps only what the probe and the reloader
            // need. Redis applies `user` lines after the rest of the file and a `user` line
            // resets the user, so it carries the password itself; `requirepass` stays first,
            // with the same password, for tools that read the password from there.
            let requirepass = format!("requirepass {}\n", redis_config_string(password));
            let line = if platform.clients.is_empty() {
                requirepass
            } else {
                format!(
                    "{requirepass}user default on {} {}\n",
                    redis_config_string(&format!(">{password}")),
                    crate::model::REDIS_DEFAULT_USER_RULES
                )
            };
            entries.insert(AUTH_CONF_KEY.to_owned(), line);
            let url = platform.cache_profile(cache).redis_url(Some(password));
            entries.insert("REDIS_URL".to_owned(), url);
        }
        Workload::Client(client) => client_entries(platform, client, password, &mut entries),
    }
    entries
}

/// A client's credentials: its role and password, per database its URLs (keys prefixed with the
/// database's name: `SALES_DATABASE_URL`), and for the cache its URL and the ACL user line Redis
/// includes (`user <role> on ><password> ~* &* +@all -@dangerous`).
fn client_entries(
    platform: &Platform,
    client: &Client,
    password: &str,
    entries: &mut BTreeMap<String, String>,
) {
    entries.insert("username".to_owned(), client.role_name());
    entries.insert("PGPASSWORD".to_owned(), password.to_owned());
    for db in platform.databases.iter().filter(|db| client.reaches(db)) {
        let profile = platform.client_database_profile(client, db);
        let prefix = db.name.as_str().replace('-', "_").to_uppercase();
        if let Some(url) = profile.libpq_url(Some(password)) {
            entries.insert(format!("{prefix}_DATABASE_URL"), url);
        }
        if let Some(url) = profile.sqlalchemy_asyncpg_url(Some(password)) {
            entries.insert(format!("{prefix}_SQLALCHEMY_DATABASE_URL"), url);
        }
    }
    if let Some(cache) = platform.cache.as_ref().filter(|_| client.cache) {
        let url = platform
            .client_cache_profile(client, cache)
            .redis_url(Some(password));
        entries.insert("REDIS_URL".to_owned(), url);
        entries.insert(
            crate::model::REDIS_USER_CONF_KEY.to_owned(),
            format!(
                "user {} on {} ~* &* +@all -@dangerous\n",
                client.role_name(),
                redis_config_string(&format!(">{password}"))
            ),
        );
    }
}

/// `text` as one double-quoted argument in Redis's config syntax (config.c splits the file into
/// lines, then each line with `sdssplitargs`): `"` and `\` escaped, and every byte outside
/// printable ASCII written `\xHH`, so the value stays on its line, cannot end its quotes early,
/// and Redis reads back exactly its bytes.
fn redis_config_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for byte in text.bytes() {
        match byte {
            b'"' => quoted.push_str("\\\""),
            b'\\' => quoted.push_str("\\\\"),
            b' '..=b'~' => quoted.push(char::from(byte)),
            _ => {
                let _ = write!(quoted, "\\x{byte:02x}");
            }
        }
    }
    quoted.push('"');
    quoted
}

/// Why secrets could not be produced.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretsError {
    /// `--env` names no environment of bakery.toml.
    UnknownEnvironment { env: String, known: Vec<String> },
    /// `--only` names no database or cache of bakery.toml.
    UnknownName { name: String, known: Vec<String> },
    /// The request contradicts itself or the material on disk.
    Refused(String),
    /// Key generation or signing failed.
    Crypto(String),
}

impl fmt::Display for SecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownEnvironment { env, known } => write!(
                f,
                "bakery.toml declares no environment `{env}`; declared: {}",
                known.join(", ")
            ),
            Self::UnknownName { name, known } => write!(
                f,
                "bakery.toml declares no database or cache `{name}`; declared: {}",
                known.join(", ")
            ),
            Self::Refused(message) => f.write_str(message),
            Self::Crypto(message) => write!(f, "cannot issue certificates: {message}"),
        }
    }
}

impl std::error::Error for SecretsError {}

/// Told about key generation, the only slow step (RSA-4096 takes about half a second a key).
/// Called from several threads at once.
pub trait Progress: Sync {
    fn keys_to_generate(&self, _total: usize) {}
    fn key_generated(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}

/// What happened to one certificate, key or password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// It did not exist and was created.
    Created,
    /// It existed and was replaced on request.
    Rotated,
    /// The certificate was missing and was issued again for the existing key.
    Reissued,
    /// It existed and was left alone.
    Kept,
}

/// One line of the report of `generate` or `rotate`; names only, never material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    pub kind: EntryKind,
    /// The Secret or ConfigMap it lands in (`auth-db-tls`, `bakery-ia-ca`).
    pub object: String,
    /// The Deployment that mounts it (`auth-db`); `None` for the CA, which every one mounts.
    pub workload: Option<String>,
    pub change: Change,
}

/// The result of `generate` or `rotate`: the files whose bytes change (empty when nothing does)
/// and what happened to each item.
#[derive(Debug)]
pub struct Outcome {
    pub changes: SecretFiles,
    pub actions: Vec<Action>,
}

impl Outcome {
    /// Count of actions with this change.
    pub fn count(&self, change: Change) -> usize {
        self.actions.iter().filter(|a| a.change == change).count()
    }
}

/// What must be created anew even though it exists (workload names).
#[derive(Debug, Default)]
struct Renewal {
    ca: bool,
    leaves: BTreeSet<String>,
    passwords: BTreeSet<String>,
}

/// Creates whatever is missing for `env` and leaves every existing key, certificate and
/// password alone.
pub fn generate(
    platform: &Platform,
    env: &str,
    existing: &SecretFiles,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Outcome, SecretsError> {
    plan(platform, env, existing, &Renewal::default(), now, progress)
}

/// Replaces what `rotation` names (see [`Rotation`]) and creates whatever is missing.
pub fn rotate(
    platform: &Platform,
    env: &str,
    existing: &SecretFiles,
    rotation: &Rotation,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Outcome, SecretsError> {
    let renewal = rotation.renewal(platform)?;
    if platform.tls.cert_manager() {
        if renewal.ca || !renewal.leaves.is_empty() {
            return Err(SecretsError::Refused(format!(
                "certificates are cert-manager's in this platform ([tls] provider = \"cert-manager\"): \
                 it renews them before expiry; to force one now run `cmctl renew -n {} <certificate>`; \
                 `bakeryc secrets rotate --passwords` replaces passwords",
                platform.namespace
            )));
        }
        return plan(platform, env, existing, &renewal, now, progress);
    }
    if !renewal.ca && !existing.contains(CA_CERT) {
        return Err(SecretsError::Refused(format!(
            "environment `{env}` has no CA yet: run `bakeryc secrets generate --env {env}` first"
        )));
    }
    plan(platform, env, existing, &renewal, now, progress)
}

/// Checks that bakery.toml declares `env`.
pub fn check_environment(platform: &Platform, env: &str) -> Result<(), SecretsError> {
    if platform.environments.iter().any(|e| e.name.as_str() == env) {
        Ok(())
    } else {
        Err(SecretsError::UnknownEnvironment {
            env: env.to_owned(),
            known: platform
                .environments
                .iter()
                .map(|e| e.name.to_string())
                .collect(),
        })
    }
}

/// Whether `bakeryc secrets` makes the passwords (`[secrets] provider = "bakeryc"`), rather
/// than External Secrets in the cluster.
pub fn bakeryc_makes_passwords(platform: &Platform) -> bool {
    platform.secrets == crate::model::SecretsProvider::Bakeryc
}

/// The shared engine of `generate` and `rotate`.
fn plan(
    platform: &Platform,
    env: &str,
    existing: &SecretFiles,
    renewal: &Renewal,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Outcome, SecretsError> {
    check_environment(platform, env)?;
    let damaged = status::damage(platform, env, existing, renewal);
    if !damaged.is_empty() {
        return Err(SecretsError::Refused(format!(
            "the material of environment `{env}` is damaged, and bakeryc neither builds on it \
             nor replaces it by itself:\n  {}",
            damaged.join("\n  ")
        )));
    }
    let workloads = workloads(platform);
    let mut files = existing.clone();
    let mut actions = Vec::new();
    // With cert-manager, the cluster issues every certificate: only passwords are made here.
    if !platform.tls.cert_manager() {
        let issued =
            issue::certificates(platform, env, &workloads, existing, renewal, now, progress)?;
        for (path, bytes) in issued.files {
            files.insert(path, bytes);
        }
        actions.extend(issued.actions);
    }
    if !bakeryc_makes_passwords(platform) && !renewal.passwords.is_empty() {
        return Err(SecretsError::Refused(
            "[secrets] provider = \"external-secrets\": External Secrets makes the passwords \
             in the cluster, bakeryc does not rotate them (see docs/secrets.md)"
                .into(),
        ));
    }
    // With External Secrets the passwords are made in the cluster: none is written here.
    for workload in workloads
        .iter()
        .filter(|_| bakeryc_makes_passwords(platform))
    {
        let path = credential_path(&workload.names().workload, PASSWORD_KEY);
        let (change, password) = password(env, *workload, &files, renewal)?;
        if let Some(password) = password {
            files.insert(path, password);
        }
        let names = workload.names();
        actions.push(Action {
            kind: EntryKind::Password,
            object: names.credentials_secret,
            workload: Some(names.workload),
            change,
        });
    }
    if let Some(action) = backup_cipher(platform, &mut files)? {
        actions.push(action);
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

/// `backup-cipher/passphrase`: the pgBackRest repository passphrase of `[backup]`.
pub const BACKUP_CIPHER_PATH: &str = "backup-cipher/passphrase";

/// With `[backup]` and passwords made here, the repository passphrase: made once and then kept,
/// never rotated (a new passphrase cannot read the backups the old one encrypted).
fn backup_cipher(
    platform: &Platform,
    files: &mut SecretFiles,
) -> Result<Option<Action>, SecretsError> {
    if platform.backup.is_none() || !bakeryc_makes_passwords(platform) {
        return Ok(None);
    }
    let change = match files.text(BACKUP_CIPHER_PATH) {
        Some(passphrase) if !passphrase.is_empty() => Change::Kept,
        None if !files.contains(BACKUP_CIPHER_PATH) => {
            files.insert(BACKUP_CIPHER_PATH, issue::password()?);
            Change::Created
        }
        _ => {
            return Err(SecretsError::Refused(format!(
                "{BACKUP_CIPHER_PATH} is empty or not text; it encrypts the backups, so bakeryc \
                 never replaces it: restore it from where you keep it (docs/restore.md)"
            )));
        }
    };
    Ok(Some(Action {
        kind: EntryKind::Password,
        object: platform.backup_cipher_secret(),
        workload: None,
        change,
    }))
}

/// What happens to a workload's password, and the new one if there is one. A password that is
/// there is kept unless the renewal names it; an unreadable one is refused, never replaced.
fn password(
    env: &str,
    workload: Workload<'_>,
    files: &SecretFiles,
    renewal: &Renewal,
) -> Result<(Change, Option<String>), SecretsError> {
    let names = workload.names();
    let path = credential_path(&names.workload, PASSWORD_KEY);
    let change = if renewal.passwords.contains(&names.workload) {
        if files.contains(&path) {
            Change::Rotated
        } else {
            Change::Created
        }
    } else {
        match files.text(&path) {
            Some(password) if !password.is_empty() => return Ok((Change::Kept, None)),
            None if !files.contains(&path) => Change::Created,
            _ => {
                return Err(SecretsError::Refused(format!(
                    "{path} is empty or not text: replace it with \
                     `bakeryc secrets rotate --env {env} --passwords --only {}`",
                    names.declared
                )));
            }
        }
    };
    Ok((change, Some(issue::password()?)))
}

/// The files that follow from the material (CA, certificates, passwords) and bakery.toml: the
/// kustomization, the client CA bundle and every credentials key but the password. `generate`
/// rewrites them; `status` reports them as stale when they differ.
fn derived_files(
    platform: &Platform,
    files: &SecretFiles,
    now: Timestamp,
) -> Vec<(String, Vec<u8>)> {
    let mut derived = Vec::new();
    if let Some(bundle) = ca_bundle(files, now) {
        derived.push((CA_BUNDLE.to_owned(), bundle.into_bytes()));
    }
    for workload in workloads(platform) {
        let names = workload.names();
        let Some(password) = files.text(&credential_path(&names.workload, PASSWORD_KEY)) else {
            continue;
        };
        for (key, value) in credentials_entries(platform, workload, password) {
            if key != PASSWORD_KEY {
                derived.push((credential_path(&names.workload, &key), value.into_bytes()));
            }
        }
    }
    derived.push((
        KUSTOMIZATION.to_owned(),
        kustomization(platform, files).into_bytes(),
    ));
    derived
}

/// The CA certificate, followed by the previous CA while it is still valid, so that clients
/// restarted during a CA rotation trust servers holding either.
fn ca_bundle(files: &SecretFiles, now: Timestamp) -> Option<String> {
    let mut bundle = files.text(CA_CERT)?.to_owned();
    if let Some(previous) = files.text(PREVIOUS_CA_CERT) {
        // RFC 5280: a certificate is valid through its notAfter, inclusive.
        if issue::not_after(previous).is_some_and(|end| end >= now) {
            if !bundle.ends_with('\n') {
                bundle.push('\n');
            }
            bundle.push_str(previous);
        }
    }
    Some(bundle)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    namespace: String,
    generator_options: GeneratorOptions,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    config_map_generator: Vec<Generator>,
    secret_generator: Vec<Generator>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeneratorOptions {
    disable_name_suffix_hash: bool,
    labels: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Generator {
    name: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<&'static str>,
    files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Options>,
}

/// A generator's own options: the labels that let `kubectl apply -l` pick it out.
#[derive(Serialize)]
struct Options {
    labels: BTreeMap<&'static str, &'static str>,
}

/// The label of each TLS Secret: `server` or `client`. After `rotate --ca`, the servers' Secrets
/// are applied first (`kubectl apply -k <dir> -l bakeryc.dev/tls=server`), so that every server
/// trusts the new CA before any client presents a certificate it signed.
pub const TLS_LABEL: &str = "bakeryc.dev/tls";

/// `kustomization.yaml`: a ConfigMap with the client CA bundle, and per workload its
/// `kubernetes.io/tls` Secret and credentials Secret, under the names the manifests use. The CA
/// key is deliberately absent. Names carry no hash suffix, as the manifests name them exactly.
fn kustomization(platform: &Platform, files: &SecretFiles) -> String {
    let file = |key: &str, path: &str| format!("{key}={path}");
    let mut secrets = Vec::new();
    // With cert-manager, its Certificates write the TLS Secrets and the CA bundle comes from the
    // cluster too: this folder then holds the credentials only.
    let cert_manager = platform.tls.cert_manager();
    for workload in workloads(platform) {
        let names = workload.names();
        if !cert_manager {
            let holder = match workload {
                Workload::Client(_) => "client",
                Workload::Database(_) | Workload::Cache(_) => "server",
            };
            // `ca.crt` is the bundle (the CA, then the one `rotate --ca` replaced while it is
            // valid): a server verifies client certificates with it, so during a CA rotation it
            // accepts a client's certificate from either CA, whichever reached the client first.
            secrets.push(Generator {
                name: names.tls_secret.clone(),
                type_: Some("kubernetes.io/tls"),
                files: vec![
                    file("ca.crt", CA_BUNDLE),
                    file("tls.crt", &leaf_cert_path(&names.workload)),
                    file("tls.key", &leaf_key_path(&names.workload)),
                ],
                options: Some(Options {
                    labels: BTreeMap::from([(TLS_LABEL, holder)]),
                }),
            });
        }
        if !bakeryc_makes_passwords(platform) {
            // An ExternalSecret owns the credentials Secret; applying one here would fight it.
            continue;
        }
        // The keys come from the one function that decides them, so the Secret holds exactly
        // what `credentials_entries` says, whatever else lies in the folder.
        let password = files
            .text(&credential_path(&names.workload, PASSWORD_KEY))
            .unwrap_or_default();
        let keys = credentials_entries(platform, workload, password)
            .into_keys()
            .map(|key| file(&key, &credential_path(&names.workload, &key)))
            .collect();
        secrets.push(Generator {
            name: names.credentials_secret,
            type_: Some("Opaque"),
            files: keys,
            options: None,
        });
    }
    if platform.backup.is_some() && bakeryc_makes_passwords(platform) {
        secrets.push(Generator {
            name: platform.backup_cipher_secret(),
            type_: Some("Opaque"),
            files: vec![file(crate::compile::backup::CIPHER_KEY, BACKUP_CIPHER_PATH)],
            options: None,
        });
    }
    let document = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        namespace: platform.namespace.to_string(),
        generator_options: GeneratorOptions {
            disable_name_suffix_hash: true,
            labels: BTreeMap::from([
                ("app.kubernetes.io/managed-by", "bakeryc".to_owned()),
                ("app.kubernetes.io/part-of", platform.name.to_string()),
            ]),
        },
        config_map_generator: if cert_manager {
            Vec::new()
        } else {
            vec![Generator {
                name: platform.ca_config_map(),
                type_: None,
                files: vec![file("ca.crt", CA_BUNDLE)],
                options: None,
            }]
        },
        secret_generator: secrets,
    };
    let yaml = crate::render::to_yaml(&document)
        .unwrap_or_else(|e| unreachable!("a kustomization always serialises: {e}"));
    format!(
        "# Written by `bakeryc secrets`; do not edit. `kubectl apply -k` on this folder creates the\n\
         # Secrets and the CA ConfigMap that the compiled manifests reference.\n{yaml}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{Document, Object};

    const ECDSA: &str = include_str!("../tests/fixtures/secrets/ecdsa.toml");

    fn platform() -> Platform {
        crate::check(ECDSA).platform.expect("the fixture is valid")
    }

    fn now() -> Timestamp {
        "2030-01-01T00:00:00Z".parse().unwrap()
    }

    fn merged(existing: &SecretFiles, changes: &SecretFiles) -> SecretFiles {
        let mut files = existing.clone();
        for (path, bytes) in changes.iter() {
            files.insert(path, bytes);
        }
        files
    }

    #[test]
    fn credentials_hold_what_the_manifests_read() {
        let platform = platform();
        let all = workloads(&platform);
        let db = credentials_entries(&platform, all[1], "pw");
        assert_eq!(
            db.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "DATABASE_URL",
                "PGPASSWORD",
                "SQLALCHEMY_DATABASE_URL",
                "database",
                "password",
                "username"
            ]
        );
        assert_eq!(db["username"], "alert_processor_user");
        assert_eq!(db["database"], "alert_processor_db");
        // The profiles verify the server: never `sslmode=require`, never `ssl_cert_reqs=none`.
        assert!(
            db["DATABASE_URL"].contains("sslmode=verify-full&sslrootcert="),
            "{}",
            db["DATABASE_URL"]
        );
        assert!(
            db["SQLALCHEMY_DATABASE_URL"]
                .starts_with("postgresql+asyncpg://alert_processor_user:pw@")
        );
        assert!(db["SQLALCHEMY_DATABASE_URL"].ends_with("?ssl=verify-full"));
        let cache = credentials_entries(&platform, all[2], "pw");
        assert_eq!(cache[AUTH_CONF_KEY], "requirepass \"pw\"\n");
        assert_eq!(cache[PASSWORD_KEY], "pw");
        assert!(cache["REDIS_URL"].starts_with("rediss://:pw@"));
        assert!(cache["REDIS_URL"].contains("ssl_cert_reqs=required&ssl_ca_certs="));
    }

    #[test]
    fn redis_config_strings_are_escaped() {
        assert_eq!(redis_config_string("pw-_9"), "\"pw-_9\"");
        assert_eq!(
            redis_config_string("a\"b\\c\nrename-command CONFIG \"\"\té"),
            "\"a\\\"b\\\\c\\x0arename-command CONFIG \\\"\\\"\\x09\\xc3\\xa9\""
        );
    }

    #[test]
    fn debug_never_shows_contents() {
        let mut files = SecretFiles::new();
        files.insert("a/tls/tls.key", "-----BEGIN PRIVATE KEY-----");
        let shown = format!("{files:?}");
        assert!(
            shown.contains("a/tls/tls.key") && !shown.contains("PRIVATE"),
            "{shown}"
        );
    }

    #[test]
    fn generate_creates_everything_once_then_nothing() {
        let platform = platform();
        let first = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress).unwrap();
        for path in [
            CA_CERT,
            CA_KEY,
            CA_BUNDLE,
            KUSTOMIZATION,
            "auth-db/tls/tls.crt",
            "auth-db/tls/tls.key",
            "auth-db/credentials/password",
            "alert-processor-db/credentials/username",
            "redis/credentials/auth.conf",
        ] {
            assert!(first.changes.contains(path), "{path} missing");
        }
        assert!(!first.changes.contains(PREVIOUS_CA_CERT));
        assert_eq!(first.count(Change::Created), 1 + 3 + 3);
        let files = first.changes;
        let second = generate(&platform, "prod", &files, now(), &NoProgress).unwrap();
        assert!(second.changes.is_empty(), "{:?}", second.changes);
        assert_eq!(second.count(Change::Kept), 7);
        let report = status(&platform, "prod", &files, now()).unwrap();
        assert_eq!(report.problems(), 0, "{report:#?}");
    }

    #[test]
    fn generate_reissues_a_missing_certificate_for_its_key() {
        let platform = platform();
        let mut files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let key = files.get("redis/tls/tls.key").unwrap().to_vec();
        files.remove("redis/tls/tls.crt");
        let outcome = generate(&platform, "prod", &files, now(), &NoProgress).unwrap();
        assert_eq!(outcome.count(Change::Reissued), 1);
        assert_eq!(
            outcome.changes.paths().collect::<Vec<_>>(),
            ["redis/tls/tls.crt"]
        );
        assert_eq!(
            merged(&files, &outcome.changes).get("redis/tls/tls.key"),
            Some(&key[..])
        );
    }

    #[test]
    fn generate_refuses_leaves_without_their_ca() {
        let platform = platform();
        let mut files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        files.remove(CA_CERT);
        files.remove(CA_KEY);
        let error = generate(&platform, "prod", &files, now(), &NoProgress).unwrap_err();
        assert!(
            matches!(&error, SecretsError::Refused(m) if m.contains("--ca")),
            "{error}"
        );
        let mut damaged = files.clone();
        damaged.insert("auth-db/tls/tls.key", "garbage");
        assert!(generate(&platform, "prod", &damaged, now(), &NoProgress).is_err());
    }

    #[test]
    fn a_damaged_password_is_refused_by_generate_and_replaced_by_rotate() {
        let platform = platform();
        let mut files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        // An empty password file is refused like one that is not text.
        let mut empty = files.clone();
        empty.insert("redis/credentials/password", Vec::new());
        let error = generate(&platform, "prod", &empty, now(), &NoProgress).unwrap_err();
        assert!(
            error.to_string().contains("--passwords --only redis"),
            "{error}"
        );
        files.insert("redis/credentials/password", vec![0xff, 0xfe]);
        let error = generate(&platform, "prod", &files, now(), &NoProgress).unwrap_err();
        assert!(
            error.to_string().contains("--passwords --only redis"),
            "{error}"
        );
        let rotation = Rotation {
            only: vec!["redis".into()],
            passwords: true,
            ..Rotation::default()
        };
        let outcome = rotate(&platform, "prod", &files, &rotation, now(), &NoProgress).unwrap();
        // The password and what `credentials_entries` derives from it; nothing else.
        assert!(outcome.changes.contains("redis/credentials/password"));
        assert!(outcome.changes.contains("redis/credentials/auth.conf"));
        assert!(
            outcome
                .changes
                .paths()
                .all(|p| p.starts_with("redis/credentials/")),
            "{:?}",
            outcome.changes
        );
        let after = merged(&files, &outcome.changes);
        assert_eq!(
            status(&platform, "prod", &after, now()).unwrap().problems(),
            0
        );
    }

    #[test]
    fn unknown_environment_is_refused() {
        let error = generate(
            &platform(),
            "staging",
            &SecretFiles::new(),
            now(),
            &NoProgress,
        )
        .unwrap_err();
        assert_eq!(
            error,
            SecretsError::UnknownEnvironment {
                env: "staging".into(),
                known: vec!["dev".into(), "prod".into()]
            }
        );
    }

    #[test]
    fn rotate_ca_keeps_the_previous_ca_in_the_client_bundle() {
        let platform = platform();
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let rotation = Rotation {
            ca: true,
            ..Rotation::default()
        };
        let outcome = rotate(&platform, "prod", &files, &rotation, now(), &NoProgress).unwrap();
        let after = merged(&files, &outcome.changes);
        let old_ca = files.text(CA_CERT).unwrap();
        assert_eq!(after.text(PREVIOUS_CA_CERT), Some(old_ca));
        let bundle = after.text(CA_BUNDLE).unwrap();
        assert!(bundle.starts_with(after.text(CA_CERT).unwrap()) && bundle.ends_with(old_ca));
        assert_eq!(outcome.count(Change::Rotated), 1 + 3);
        assert_eq!(outcome.count(Change::Kept), 3, "passwords stay");
        // Once the previous CA has expired, clients stop trusting it.
        let much_later: Timestamp = "2045-01-01T00:00:00Z".parse().unwrap();
        let bundle = ca_bundle(&after, much_later).unwrap();
        assert_eq!(bundle, after.text(CA_CERT).unwrap());
    }

    /// prod's material as `generate` makes it, and after `rotate --ca`.
    fn before_and_after_a_new_ca(platform: &Platform) -> (SecretFiles, SecretFiles) {
        let files = generate(platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let rotation = Rotation {
            ca: true,
            ..Rotation::default()
        };
        let outcome = rotate(platform, "prod", &files, &rotation, now(), &NoProgress).unwrap();
        let after = merged(&files, &outcome.changes);
        (files, after)
    }

    #[test]
    fn the_bundle_holds_the_previous_ca_through_its_last_second_one_pem_after_another() {
        let platform = platform();
        let (_, mut after) = before_and_after_a_new_ca(&platform);
        let (ca, previous) = (
            after.text(CA_CERT).unwrap().to_owned(),
            after.text(PREVIOUS_CA_CERT).unwrap().to_owned(),
        );
        let end = issue::not_after(&previous).unwrap();
        // Valid through notAfter inclusive (RFC 5280), gone a second later.
        assert_eq!(ca_bundle(&after, end).unwrap(), format!("{ca}{previous}"));
        let later = end.checked_add(jiff::SignedDuration::from_secs(1)).unwrap();
        assert_eq!(ca_bundle(&after, later).unwrap(), ca);
        // A CA file without its last newline (edited by hand) still gives two PEM blocks.
        after.insert(CA_CERT, ca.trim_end().to_owned());
        assert_eq!(
            ca_bundle(&after, now()).unwrap(),
            format!("{}\n{previous}", ca.trim_end())
        );
    }

    #[test]
    fn private_files_are_keys_passwords_and_the_backup_passphrase() {
        for path in [
            CA_KEY,
            "auth-db/tls/tls.key",
            "redis/credentials/password",
            "redis/credentials/REDIS_URL",
            BACKUP_CIPHER_PATH,
        ] {
            assert!(Status::is_private(path), "{path}");
        }
        for path in [
            CA_CERT,
            CA_BUNDLE,
            KUSTOMIZATION,
            "auth-db/tls/tls.crt",
            "auth-db/tls",
        ] {
            assert!(!Status::is_private(path), "{path}");
        }
    }

    #[test]
    fn an_exposed_private_file_is_flagged_on_its_own_row() {
        let platform = platform_with_backup();
        let mut files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        files.insert(
            "old-db/credentials/password",
            "a-password-of-a-removed-database",
        );
        let mut report = status(&platform, "prod", &files, now()).unwrap();
        assert_eq!(report.orphans, ["old-db"]);
        let before = report.problems();
        report.flag_exposed(
            &platform,
            &[
                (BACKUP_CIPHER_PATH.to_owned(), 0o644, None),
                ("auth-db/tls/tls.key".to_owned(), 0o600, Some(65534)),
                ("auth-db/tls/tls.crt".to_owned(), 0o644, None),
                ("redis/credentials/password".to_owned(), 0o600, None),
                (CA_KEY.to_owned(), 0o640, None),
                ("redis/credentials/REDIS_URL".to_owned(), 0o604, None),
                ("old-db/credentials/password".to_owned(), 0o660, None),
            ],
        );
        let flagged = |object: &str| {
            let entry = report.entries.iter().find(|e| e.object == object).unwrap();
            (entry.state, entry.problems.join("; "))
        };
        let (state, problems) = flagged("auth-db-tls");
        assert!(
            state == State::Mismatch && problems.contains("uid 65534"),
            "{problems}"
        );
        let (state, problems) = flagged(BACKUP_CIPHER_PATH);
        assert!(
            state == State::Mismatch && problems.contains("mode 0644"),
            "{problems}"
        );
        let (_, problems) = flagged("bakery-test-ca");
        assert!(problems.contains("ca.key is open to group or others (mode 0640)"));
        let (_, problems) = flagged("redis-credentials");
        assert!(problems.contains("REDIS_URL is open") && !problems.contains("password"));
        let (_, problems) = flagged("old-db/");
        assert!(
            problems.contains("old-db/credentials/password is open"),
            "{problems}"
        );
        // One new row (the passphrase's); the certificate's mode is not judged.
        assert_eq!(report.problems(), before + 4, "{report:#?}");
        assert_eq!(flagged("auth-db-tls").1.matches("auth-db/tls").count(), 1);
    }

    #[test]
    fn a_leaf_of_the_replaced_ca_is_flagged_though_the_names_match() {
        let platform = platform();
        let (files, mut after) = before_and_after_a_new_ca(&platform);
        // The old leaf and key of auth-db beside the new CA, whose name is the old one's.
        for path in [leaf_cert_path("auth-db"), leaf_key_path("auth-db")] {
            after.insert(path.clone(), files.get(&path).unwrap().to_vec());
        }
        let report = status(&platform, "prod", &after, now()).unwrap();
        let entry = report
            .entries
            .iter()
            .find(|e| e.object == "auth-db-tls")
            .unwrap();
        assert!(
            entry
                .problems
                .iter()
                .any(|p| p.contains("signed by another CA")),
            "{entry:#?}"
        );
    }

    #[test]
    fn sans_are_judged_both_ways() {
        let source =
            format!("{ECDSA}\n[[client]]\nname = \"auth-service\"\ndatabases = [\"auth\"]\n");
        let platform = crate::check(&source).platform.expect("valid with a client");
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let mut swapped = files.clone();
        for (from, to) in [("auth-db", "auth-service"), ("auth-service", "auth-db")] {
            for (source, target) in [
                (leaf_cert_path(from), leaf_cert_path(to)),
                (leaf_key_path(from), leaf_key_path(to)),
            ] {
                swapped.insert(target, files.get(&source).unwrap().to_vec());
            }
        }
        let report = status(&platform, "prod", &swapped, now()).unwrap();
        let sans = |object: &str| {
            let entry = report.entries.iter().find(|e| e.object == object).unwrap();
            entry
                .problems
                .iter()
                .find(|p| p.contains("SANs do not match"))
                .cloned()
                .unwrap_or_default()
        };
        // A server certificate as the client's: SANs it should not have, none missing.
        assert!(sans("auth-service-client-tls").contains("missing [], unexpected [auth-db"));
        // The client's certificate as the server's: every SAN missing, none unexpected.
        assert!(sans("auth-db-tls").contains("missing [auth-db"));
        assert!(sans("auth-db-tls").ends_with("unexpected []"));
    }

    #[test]
    fn a_trusted_file_of_another_environment_or_without_a_certificate_is_flagged() {
        let platform = platform();
        let prod = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let dev = generate(&platform, "dev", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let problems = |files: &SecretFiles| {
            let report = status(&platform, "prod", files, now()).unwrap();
            let trusted = report
                .entries
                .into_iter()
                .filter(|e| e.kind == EntryKind::Trusted);
            trusted
                .flat_map(|e| e.problems)
                .collect::<Vec<_>>()
                .join("\n")
        };
        // dev's CA: this platform's (O matches), another environment's (OU does not).
        let mut files = prod.clone();
        files.insert(PREVIOUS_CA_CERT, dev.get(CA_CERT).unwrap().to_vec());
        assert!(
            problems(&files).contains("environment `prod`"),
            "{}",
            problems(&files)
        );
        let mut files = prod.clone();
        files.insert(PREVIOUS_CA_CERT, "no certificate here\n");
        assert!(problems(&files).contains("ca-previous.crt holds no certificate"));
        // This platform's and environment's names on a self-signed certificate that is no CA.
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "bakery-test");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, "prod");
        let key = rcgen::KeyPair::generate().unwrap();
        let mut files = prod.clone();
        files.insert(PREVIOUS_CA_CERT, params.self_signed(&key).unwrap().pem());
        assert!(
            problems(&files).contains("not a self-signed CA"),
            "{}",
            problems(&files)
        );
    }

    #[test]
    fn status_judges_each_password_and_the_derived_files() {
        let platform = platform();
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let row = |files: &SecretFiles, object: &str| {
            let report = status(&platform, "prod", files, now()).unwrap();
            let entry = report
                .entries
                .into_iter()
                .find(|e| e.object == object)
                .unwrap();
            (entry.state, entry.problems.join("; "))
        };
        let mut changed = files.clone();
        // Long and of the right alphabet, but it holds the database's own name.
        changed.insert(
            credential_path("alert-processor-db", PASSWORD_KEY),
            "Xk9mQ2vL7pR4tW8zN3bY6cH1alert-processorJ5dF",
        );
        changed.insert(credential_path("auth-db", PASSWORD_KEY), vec![0xff, 0xfe]);
        changed.remove(&credential_path("redis", PASSWORD_KEY));
        let (state, problems) = row(&changed, "alert-processor-db-credentials");
        assert!(
            state == State::Mismatch && problems.contains("is weak"),
            "{problems}"
        );
        let (state, problems) = row(&changed, "auth-db-credentials");
        assert!(state == State::Mismatch && problems.contains("weaker than bakeryc's own"));
        assert_eq!(row(&changed, "redis-credentials").0, State::Missing);
        // The kustomization: stale when it differs, missing when it is gone.
        let mut edited = files.clone();
        edited.insert(KUSTOMIZATION, "# edited by hand\n");
        assert_eq!(row(&edited, KUSTOMIZATION).0, State::Mismatch);
        let mut gone = files.clone();
        gone.remove(KUSTOMIZATION);
        assert_eq!(row(&gone, KUSTOMIZATION).0, State::Missing);
    }

    #[test]
    fn the_rotation_a_refusal_names_cures_the_damage() {
        let platform = platform();
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        for (path, cure) in [
            (leaf_key_path("auth-db"), "--only auth"),
            (CA_KEY.to_owned(), "--ca"),
        ] {
            let mut damaged = files.clone();
            damaged.insert(path.clone(), "not a key\n");
            let error = generate(&platform, "prod", &damaged, now(), &NoProgress).unwrap_err();
            let said = error.to_string();
            assert!(
                said.contains(&format!("rotate --env prod {cure}")),
                "{path}: {said}"
            );
            let rotation = Rotation {
                ca: cure == "--ca",
                only: if cure == "--ca" {
                    Vec::new()
                } else {
                    vec!["auth".into()]
                },
                ..Rotation::default()
            };
            let outcome = rotate(&platform, "prod", &damaged, &rotation, now(), &NoProgress);
            let after = merged(
                &damaged,
                &outcome.expect("the named rotation succeeds").changes,
            );
            assert_ne!(after.text(&path), Some("not a key\n"), "{path}");
        }
    }

    fn platform_with_backup() -> Platform {
        let source = format!(
            "{ECDSA}\n[backup]\nimage = \"registry.example.com/postgres-pgbackrest:17.2-alpine\"\n\
             schedule = {{ full = \"0 2 * * 0\", differential = \"0 2 * * 1-6\" }}\n\n\
             [backup.repository]\ntype = \"volume\"\nstorage = \"1Gi\"\n"
        );
        crate::check(&source)
            .platform
            .expect("the fixture with [backup] is valid")
    }

    #[test]
    fn the_backup_passphrase_is_made_once_kept_and_never_replaced_when_damaged() {
        let platform = platform_with_backup();
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let passphrase = files.text(BACKUP_CIPHER_PATH).unwrap().to_owned();
        assert!(passphrase.len() >= MIN_PASSWORD_LEN, "{passphrase:?}");
        let again = generate(&platform, "prod", &files, now(), &NoProgress).unwrap();
        assert!(!again.changes.contains(BACKUP_CIPHER_PATH));
        let passwords = Rotation {
            passwords: true,
            ..Rotation::default()
        };
        let rotated = rotate(&platform, "prod", &files, &passwords, now(), &NoProgress).unwrap();
        assert!(
            !rotated.changes.contains(BACKUP_CIPHER_PATH),
            "never rotated"
        );
        // Empty or not text: the backups it encrypted are unreadable without the real one, so
        // it is refused, not replaced, by generate and by rotate alike.
        for damaged in [Vec::new(), vec![0xff, 0xfe]] {
            let mut files = files.clone();
            files.insert(BACKUP_CIPHER_PATH, damaged.clone());
            let error = generate(&platform, "prod", &files, now(), &NoProgress).unwrap_err();
            assert!(
                error.to_string().contains("never replaces it"),
                "{damaged:?}: {error}"
            );
            let error = rotate(&platform, "prod", &files, &passwords, now(), &NoProgress);
            assert!(error.is_err(), "{damaged:?}");
        }
    }

    #[test]
    fn status_sees_due_and_expired_at_later_moments() {
        let platform = platform();
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let at = |text: &str| status(&platform, "prod", &files, text.parse().unwrap()).unwrap();
        let state = |report: &Status, object: &str| {
            report
                .entries
                .iter()
                .find(|e| e.object == object)
                .unwrap()
                .state
        };
        // Issued 2030-01-01 for 3y; renew_before 90d.
        let before = at("2032-09-01T00:00:00Z");
        assert_eq!(before.problems(), 0, "{before:#?}");
        let due = at("2032-11-15T00:00:00Z");
        assert_eq!(state(&due, "auth-db-tls"), State::Due);
        assert_eq!(state(&due, "bakery-test-ca"), State::Ok);
        assert_eq!(state(&due, "auth-db-credentials"), State::Ok);
        let expired = at("2033-02-01T00:00:00Z");
        assert_eq!(state(&expired, "redis-tls"), State::Expired);
        assert!(
            expired
                .entries
                .iter()
                .find(|e| e.object == "redis-tls")
                .unwrap()
                .days_left
                < Some(0)
        );
        // The last second of validity is still valid (due); the next one is not.
        let end = issue::not_after(files.text(&leaf_cert_path("redis")).unwrap()).unwrap();
        let report = |moment| status(&platform, "prod", &files, moment).unwrap();
        assert_eq!(state(&report(end), "redis-tls"), State::Due);
        let after = end.checked_add(jiff::SignedDuration::from_secs(1)).unwrap();
        assert_eq!(state(&report(after), "redis-tls"), State::Expired);
    }

    /// Every Secret and key the compiled Deployments mount, by walking the compiled objects.
    #[test]
    fn kustomization_provides_every_secret_the_manifests_mount() {
        let platform = platform();
        let files = generate(&platform, "prod", &SecretFiles::new(), now(), &NoProgress)
            .unwrap()
            .changes;
        let kustomization = files.text(KUSTOMIZATION).unwrap();
        let mut mounted = Vec::new();
        for document in crate::compile::compile(&platform).values() {
            let Document::Objects(objects) = document else {
                continue;
            };
            for object in objects {
                let Object::Deployment(deployment) = object else {
                    continue;
                };
                let spec = deployment
                    .spec
                    .as_ref()
                    .unwrap()
                    .template
                    .spec
                    .as_ref()
                    .unwrap();
                for volume in spec.volumes.iter().flatten() {
                    if let Some(secret) = &volume.secret {
                        mounted.push(secret.secret_name.clone().unwrap());
                    }
                }
            }
        }
        assert_eq!(mounted.len(), 6, "{mounted:?}");
        for name in mounted {
            assert!(
                kustomization.contains(&format!("- name: {name}\n")),
                "{name} is not generated:\n{kustomization}"
            );
        }
        assert!(
            !kustomization.contains(CA_KEY),
            "the CA key must stay out of Kubernetes"
        );
    }
}
