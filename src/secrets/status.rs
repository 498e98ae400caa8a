//! `status`: inspects one environment's material at a given moment and reports, per certificate
//! and password, whether it still matches bakery.toml (present, SANs, key type, signed by the
//! environment's CA) and how long it has left, which folders belong to no declared workload
//! (orphans), and, given their modes, which private files others can read. Pure and read-only:
//! the moment and the modes are parameters, so a test can look years ahead without waiting,
//! and the report carries no secret material.

use jiff::Timestamp;
use rayon::prelude::*;
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::issue::{
    is_pair, key_algorithm, key_description, password_is_strong, pem_blocks, pem_der, sub_period,
};
use super::{
    CA_BUNDLE, CA_CERT, CA_KEY, KUSTOMIZATION, MIN_PASSWORD_LEN, PASSWORD_KEY, PREVIOUS_CA_CERT,
    Renewal, SecretFiles, SecretsError, Workload, check_environment, credential_path,
    derived_files, leaf_cert_path, leaf_key_path, workloads,
};
use crate::model::{CaFingerprint, Platform};

/// How bad an entry is; the order is the severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ok,
    /// Expires within `renew_before`.
    Due,
    Expired,
    /// Present but no longer what bakery.toml asks for (SANs, key type, CA, ...).
    Mismatch,
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Due => "due",
            Self::Expired => "expired",
            Self::Mismatch => "mismatch",
            Self::Missing => "missing",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// The environment's CA (lands in the `<platform>-ca` ConfigMap and every `ca.crt`).
    Ca,
    /// A server certificate (a `kubernetes.io/tls` Secret).
    Server,
    /// A password (a credentials Secret).
    Password,
    /// Any other certificate in a file that clients or servers trust (`ca.crt`,
    /// `ca-previous.crt`, `ca-bundle.crt`).
    Trusted,
    /// Files derived from the rest (kustomization, CA bundle, credentials keys).
    Files,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// The Secret or ConfigMap it lands in.
    pub object: String,
    pub subject: Option<String>,
    pub sans: Vec<String>,
    pub key: Option<String>,
    /// RFC 3339, UTC.
    pub not_after: Option<String>,
    /// Whole days from the evaluation moment to `not_after` (negative once expired).
    pub days_left: Option<i64>,
    pub state: State,
    /// Why the state is not `ok`, one sentence each.
    pub problems: Vec<String>,
}

impl Entry {
    fn new(kind: EntryKind, object: String) -> Self {
        Self {
            kind,
            object,
            subject: None,
            sans: Vec::new(),
            key: None,
            not_after: None,
            days_left: None,
            state: State::Ok,
            problems: Vec::new(),
        }
    }

    fn flag(&mut self, state: State, problem: impl Into<String>) {
        self.state = self.state.max(state);
        self.problems.push(problem.into());
    }
}

/// The report of `bakeryc secrets status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub environment: String,
    /// The moment the report describes (RFC 3339, UTC).
    pub evaluated_at: String,
    pub entries: Vec<Entry>,
    /// Top-level folders of `secrets/<env>/` that belong to no database or cache of bakery.toml
    /// (each also has an entry); `bakeryc secrets prune` removes them.
    pub orphans: Vec<String>,
    /// Said once above the rows: with cert-manager, certificates are not in the folder at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Status {
    /// Entries that are not `ok`.
    pub fn problems(&self) -> usize {
        self.entries.iter().filter(|e| e.state != State::Ok).count()
    }

    /// Whether `path` (relative to `secrets/<env>/`) holds private material: the CA key, a
    /// server or client key, anything of a credentials folder, or the backup passphrase. Such a
    /// file must be readable by its owner only and owned by the user who runs bakeryc.
    pub fn is_private(path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        path == super::BACKUP_CIPHER_PATH
            || matches!(
                parts.as_slice(),
                [CA_KEY] | [_, "tls", "tls.key"] | [_, "credentials", _]
            )
    }

    /// Flags every private file (see [`Status::is_private`]) that group or others may read or
    /// write, or that another user owns, on the row it belongs to. `files` gives, per path, its
    /// permission bits and, when another user owns it, that user's id.
    pub fn flag_exposed(&mut self, platform: &Platform, files: &[(String, u32, Option<u32>)]) {
        for (path, mode, foreign) in files {
            if !Self::is_private(path) {
                continue;
            }
            let mut problems = Vec::new();
            if mode & 0o077 != 0 {
                problems.push(format!(
                    "{path} is open to group or others (mode {mode:04o}): \
                     `bakeryc secrets generate` sets it to 0600"
                ));
            }
            if let Some(uid) = foreign {
                problems.push(format!(
                    "{path} is owned by another user (uid {uid}), who can replace it: \
                     chown it to the user that runs bakeryc"
                ));
            }
            if problems.is_empty() {
                continue;
            }
            let object = self.row_of(platform, path);
            let found = self
                .entries
                .iter()
                .position(|e| Some(&e.object) == object.as_ref());
            let index = found.unwrap_or_else(|| {
                self.entries
                    .push(Entry::new(EntryKind::Files, path.clone()));
                self.entries.len() - 1
            });
            for problem in problems {
                self.entries[index].flag(State::Mismatch, problem);
            }
        }
    }

    /// The object of the row a file belongs to (the CA, a server certificate, a password, an
    /// orphaned folder).
    fn row_of(&self, platform: &Platform, path: &str) -> Option<String> {
        if path == CA_KEY {
            return Some(platform.ca_config_map());
        }
        let (folder, rest) = path.split_once('/')?;
        if self.orphans.iter().any(|o| o == folder) {
            return Some(format!("{folder}/"));
        }
        let names = workloads(platform)
            .into_iter()
            .map(Workload::names)
            .find(|names| names.workload == folder)?;
        Some(if rest.starts_with("tls/") {
            names.tls_secret
        } else {
            names.credentials_secret
        })
    }
}

/// The state of every certificate and password of `env` at `now`.
pub fn status(
    platform: &Platform,
    env: &str,
    existing: &SecretFiles,
    now: Timestamp,
) -> Result<Status, SecretsError> {
    check_environment(platform, env)?;
    let ca_der = existing.text(CA_CERT).and_then(pem_der);
    let ca = ca_der
        .as_deref()
        .and_then(|der| X509Certificate::from_der(der).ok())
        .map(|(_, cert)| cert);
    let cert_manager = platform.tls.cert_manager();
    let mut entries = Vec::new();
    if !cert_manager {
        entries.push(ca_entry(platform, existing, ca.as_ref(), now));
        entries.extend(trusted_entries(platform, env, existing, now));
        for workload in workloads(platform) {
            entries.push(server_entry(platform, workload, existing, ca.as_ref(), now));
        }
    }
    for workload in workloads(platform) {
        if super::bakeryc_makes_passwords(platform) {
            entries.push(password_entry(workload, existing));
        }
    }
    entries.push(files_entry(platform, env, existing, now));
    let orphans = orphans(platform, existing);
    for folder in &orphans {
        let mut entry = Entry::new(EntryKind::Files, format!("{folder}/"));
        entry.flag(
            State::Mismatch,
            format!(
                "{folder}/ belongs to no database or cache of bakery.toml (removed or renamed?): \
                 back it up if you may restore it, then `bakeryc secrets prune --env {env}` \
                 removes it"
            ),
        );
        entries.push(entry);
    }
    Ok(Status {
        environment: env.to_owned(),
        evaluated_at: now.to_string(),
        entries,
        orphans,
        note: cert_manager.then(|| {
            // What is left to check here depends on who makes the passwords.
            let rest = if crate::secrets::bakeryc_makes_passwords(platform) {
                "Only passwords are checked here."
            } else {
                "External Secrets makes the passwords in the cluster too (`kubectl get \
                 externalsecrets`): nothing here but the folder itself is checked."
            };
            format!(
                "certificates are cert-manager's ([tls] provider = \"cert-manager\"): it issues and \
                 renews them in the cluster; see `kubectl get certificates -n {}`. {rest}",
                platform.namespace
            )
        }),
    })
}

/// The top-level folders of the environment that no workload of bakery.toml owns, sorted.
fn orphans(platform: &Platform, files: &SecretFiles) -> Vec<String> {
    let declared: Vec<String> = workloads(platform)
        .into_iter()
        .map(|w| w.names().workload)
        .collect();
    let mut found: Vec<String> = files
        .paths()
        .filter_map(|path| path.split_once('/').map(|(folder, _)| folder))
        .filter(|folder| !declared.iter().any(|d| d == folder))
        // The backup passphrase is never an orphan: old backups need it even after [backup] is
        // removed, so prune must not delete it.
        .filter(|folder| format!("{folder}/passphrase") != crate::secrets::BACKUP_CIPHER_PATH)
        .map(str::to_owned)
        .collect();
    found.dedup();
    found
}

fn ca_entry(
    platform: &Platform,
    files: &SecretFiles,
    ca: Option<&X509Certificate<'_>>,
    now: Timestamp,
) -> Entry {
    let mut entry = Entry::new(EntryKind::Ca, platform.ca_config_map());
    let policy = &platform.tls.ca;
    let key_matches = check_pair(&mut entry, files, CA_CERT, CA_KEY, ca);
    let Some(cert) = ca else {
        return entry;
    };
    describe(&mut entry, cert, platform, now);
    if key_matches && !cert.is_ca() {
        entry.flag(
            State::Mismatch,
            "it is not a CA certificate (CA:TRUE missing)",
        );
    }
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok());
    if common_name != Some(policy.common_name.as_str()) {
        entry.flag(
            State::Mismatch,
            format!(
                "its common name is {:?}; bakery.toml [tls.ca] says {:?}",
                common_name.unwrap_or_default(),
                policy.common_name
            ),
        );
    }
    check_key_type(&mut entry, cert, policy.key, "[tls.ca]");
    if cert.verify_signature(None).is_err() {
        entry.flag(State::Mismatch, "it is not self-signed by its own key");
    }
    entry
}

fn server_entry(
    platform: &Platform,
    workload: Workload<'_>,
    files: &SecretFiles,
    ca: Option<&X509Certificate<'_>>,
    now: Timestamp,
) -> Entry {
    let names = workload.names();
    let mut entry = Entry::new(EntryKind::Server, names.tls_secret.clone());
    let cert_path = leaf_cert_path(&names.workload);
    let der = files.text(&cert_path).and_then(pem_der);
    let parsed = der
        .as_deref()
        .and_then(|der| X509Certificate::from_der(der).ok())
        .map(|(_, cert)| cert);
    check_pair(
        &mut entry,
        files,
        &cert_path,
        &leaf_key_path(&names.workload),
        parsed.as_ref(),
    );
    let Some(cert) = parsed else {
        return entry;
    };
    describe(&mut entry, &cert, platform, now);
    let client = match workload {
        Workload::Client(client) => Some(client),
        _ => None,
    };
    // A client certificate has no SANs: its CN is its role.
    let expected = if client.is_some() {
        Vec::new()
    } else {
        platform.service_dns_names(&names.service)
    };
    let missing: Vec<&str> = expected
        .iter()
        .filter(|name| !entry.sans.contains(name))
        .map(String::as_str)
        .collect();
    let unexpected: Vec<&str> = entry
        .sans
        .iter()
        .filter(|name| !expected.contains(name))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        entry.flag(
            State::Mismatch,
            format!(
                "its SANs do not match bakery.toml: missing [{}], unexpected [{}]",
                missing.join(", "),
                unexpected.join(", ")
            ),
        );
    }
    check_key_type(&mut entry, &cert, platform.tls.server.key, "[tls.server]");
    let usage = cert.extended_key_usage().ok().flatten();
    if let Some(client) = client {
        if !usage.is_some_and(|eku| eku.value.client_auth) {
            entry.flag(
                State::Mismatch,
                "it lacks the extended key usage clientAuth",
            );
        }
        let role = client.role_name();
        let cn_matches = cert
            .subject()
            .iter_common_name()
            .any(|cn| cn.as_str().ok() == Some(role.as_str()));
        if !cn_matches {
            entry.flag(
                State::Mismatch,
                format!("its CN is not the client's role {role}: PostgreSQL would refuse it"),
            );
        }
    } else if !usage.is_some_and(|eku| eku.value.server_auth) {
        entry.flag(
            State::Mismatch,
            "it lacks the extended key usage serverAuth",
        );
    }
    check_issuer(&mut entry, &cert, ca);
    entry
}

/// Flags a server certificate that the environment's CA did not sign.
fn check_issuer(entry: &mut Entry, cert: &X509Certificate<'_>, ca: Option<&X509Certificate<'_>>) {
    match ca {
        Some(ca) => {
            let same_name = cert.issuer().as_raw() == ca.subject().as_raw();
            if !same_name || cert.verify_signature(Some(ca.public_key())).is_err() {
                // Quoted: a sentence stays one line whatever the certificate's name holds.
                entry.flag(
                    State::Mismatch,
                    format!(
                        "it is signed by another CA than {CA_CERT} ({:?})",
                        cert.issuer().to_string()
                    ),
                );
            }
        }
        None => entry.flag(
            State::Mismatch,
            "its issuer cannot be checked: the CA is missing or unreadable",
        ),
    }
}

/// The damaged material among what `renewal` keeps, one sentence each with its fix: a
/// certificate or key that does not parse, a key that is not its certificate's, a server
/// certificate the CA did not sign. These are the checks `status` reports, run for `generate`
/// and `rotate`, which refuse to build on such material. What is missing is not damage: those
/// commands create it.
pub(super) fn damage(
    platform: &Platform,
    env: &str,
    files: &SecretFiles,
    renewal: &Renewal,
) -> Vec<String> {
    let mut found = Vec::new();
    let mut report = |entry: Entry, fix: String| {
        // Only the problems of material that is there: `Missing` is created, not refused.
        if entry.state == State::Mismatch {
            for problem in entry.problems {
                found.push(format!(
                    "{problem}: restore it from your backup, or run `{fix}`"
                ));
            }
        }
    };
    let new_ca = renewal.ca || !(files.contains(CA_CERT) || files.contains(CA_KEY));
    if new_ca {
        // A new CA re-issues every certificate: nothing old is kept.
        return found;
    }
    let ca_der = files.text(CA_CERT).and_then(pem_der);
    let ca = ca_der
        .as_deref()
        .and_then(|der| X509Certificate::from_der(der).ok())
        .map(|(_, cert)| cert);
    // Each check parses a private key, which for RSA-4096 is most of the work: every pair on its
    // own core (the CA's too), reported in the fixed order.
    let checked: Vec<(Entry, String)> = std::iter::once(None)
        .chain(workloads(platform).into_iter().map(Some))
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter_map(|workload| {
            let Some(workload) = workload else {
                let mut entry = Entry::new(EntryKind::Ca, platform.ca_config_map());
                check_pair(&mut entry, files, CA_CERT, CA_KEY, ca.as_ref());
                return Some((entry, format!("bakeryc secrets rotate --env {env} --ca")));
            };
            let names = workload.names();
            let (cert_path, key_path) = (
                leaf_cert_path(&names.workload),
                leaf_key_path(&names.workload),
            );
            // Only a pair that is kept whole: a lone key gets its certificate re-issued (and is
            // parsed then), a lone certificate gets a new key.
            if renewal.leaves.contains(&names.workload)
                || !files.contains(&cert_path)
                || !files.contains(&key_path)
            {
                return None;
            }
            let der = files.text(&cert_path).and_then(pem_der);
            let cert = der
                .as_deref()
                .and_then(|der| X509Certificate::from_der(der).ok())
                .map(|(_, cert)| cert);
            let mut entry = Entry::new(EntryKind::Server, names.tls_secret.clone());
            let pair = check_pair(&mut entry, files, &cert_path, &key_path, cert.as_ref());
            if let (true, Some(cert), Some(ca)) = (pair, cert.as_ref(), ca.as_ref()) {
                check_issuer(&mut entry, cert, Some(ca));
            }
            let fix = format!(
                "bakeryc secrets rotate --env {env} --only {}",
                names.declared
            );
            Some((entry, fix))
        })
        .collect();
    for (entry, fix) in checked {
        report(entry, fix);
    }
    found
}

/// One row per certificate that the trust files hold besides the CA itself (the first
/// certificate of `ca.crt`, which has its own row): the CA `rotate --ca` replaced, and what
/// the client bundle holds. Each must be a CA that bakeryc issued for this platform and
/// environment (subject `O=<platform>, OU=<env>`, self-signed), or one whose fingerprint the
/// environment's `trusted_cas` names, or clients would trust a stranger; a CA past its end is
/// fine here, as it drops out of the bundle by itself.
fn trusted_entries(
    platform: &Platform,
    env: &str,
    files: &SecretFiles,
    now: Timestamp,
) -> Vec<Entry> {
    let trusted = platform
        .environments
        .iter()
        .find(|e| e.name.as_str() == env)
        .map(|e| &e.trusted_cas);
    let mut entries = Vec::new();
    for file in [CA_CERT, PREVIOUS_CA_CERT, CA_BUNDLE] {
        let Some(bytes) = files.get(file) else {
            continue;
        };
        let blocks = pem_blocks(&String::from_utf8_lossy(bytes));
        let skip = usize::from(file == CA_CERT);
        if blocks.is_empty() && file != CA_CERT {
            let mut entry = Entry::new(EntryKind::Trusted, file.to_owned());
            entry.flag(State::Mismatch, format!("{file} holds no certificate"));
            entries.push(entry);
        }
        for (number, der) in blocks.iter().enumerate().skip(skip) {
            let mut entry = Entry::new(EntryKind::Trusted, format!("{file} #{}", number + 1));
            match X509Certificate::from_der(der) {
                Ok((_, cert)) => {
                    fill(&mut entry, &cert, now);
                    let fingerprint = CaFingerprint::of(der);
                    let named = trusted.is_some_and(|t| t.contains(&fingerprint));
                    match foreign(&cert, platform, env) {
                        Some(problem) if !named => entry.flag(
                            State::Mismatch,
                            format!(
                                "{problem}, yet clients trust it: remove it from {file} \
                                 (`bakeryc secrets generate --env {env}` rebuilds {CA_BUNDLE}), \
                                 or, if it is meant to be trusted, add \"{}\" to \
                                 [environments.{env}] trusted_cas in bakery.toml",
                                fingerprint.to_openssl()
                            ),
                        ),
                        Some(_) => entry
                            .problems
                            .push(format!("trusted by [environments.{env}] trusted_cas")),
                        None => {}
                    }
                }
                Err(_) => entry.flag(
                    State::Mismatch,
                    format!("block {} of {file} is not a certificate", number + 1),
                ),
            }
            entries.push(entry);
        }
    }
    entries
}

/// Why `cert` is not a CA bakeryc issued for this platform and environment, if it is not.
fn foreign(cert: &X509Certificate<'_>, platform: &Platform, env: &str) -> Option<String> {
    let attribute = |values: Vec<&str>| values.first().copied().unwrap_or_default().to_owned();
    let subject = cert.subject();
    let organization = attribute(
        subject
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    let unit = attribute(
        subject
            .iter_organizational_unit()
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    if organization != platform.name.as_str() || unit != env {
        return Some(format!(
            "it was not issued by bakeryc for platform `{}`, environment `{env}` \
             (O={organization:?}, OU={unit:?})",
            platform.name
        ));
    }
    if !cert.is_ca() || cert.verify_signature(None).is_err() {
        return Some("it is not a self-signed CA certificate".to_owned());
    }
    None
}

/// Flags a missing or unreadable certificate or key, or a key that is not the certificate's.
/// Returns whether both are present and belong together.
fn check_pair(
    entry: &mut Entry,
    files: &SecretFiles,
    cert_path: &str,
    key_path: &str,
    cert: Option<&X509Certificate<'_>>,
) -> bool {
    let key = files
        .text(key_path)
        .and_then(|pem| rcgen::KeyPair::from_pem(pem).ok());
    if !files.contains(cert_path) {
        entry.flag(State::Missing, format!("{cert_path} is missing"));
    } else if cert.is_none() {
        entry.flag(State::Mismatch, format!("{cert_path} is not a certificate"));
    }
    if !files.contains(key_path) {
        entry.flag(State::Missing, format!("{key_path} is missing"));
    } else if key.is_none() {
        entry.flag(State::Mismatch, format!("{key_path} is not a private key"));
    }
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let pair = is_pair(cert, &key);
            if !pair {
                entry.flag(
                    State::Mismatch,
                    format!("{key_path} does not belong to {cert_path}"),
                );
            }
            pair
        }
        _ => false,
    }
}

/// Fills subject, SANs, key and validity, and flags an expired or soon expiring certificate.
fn describe(entry: &mut Entry, cert: &X509Certificate<'_>, platform: &Platform, now: Timestamp) {
    let Some(not_after) = fill(entry, cert, now) else {
        return;
    };
    let renew_before = &platform.tls.server.renew_before;
    // RFC 5280: valid through notAfter inclusive, as the client bundle counts it too.
    if not_after < now {
        entry.flag(State::Expired, format!("it expired at {not_after}"));
    } else if sub_period(not_after, renew_before).is_none_or(|due| due <= now) {
        entry.flag(
            State::Due,
            format!(
                "it expires within renew_before ({}): rotate it",
                renew_before.as_str()
            ),
        );
    }
}

/// Fills subject, SANs, key and validity; returns the end of validity.
fn fill(entry: &mut Entry, cert: &X509Certificate<'_>, now: Timestamp) -> Option<Timestamp> {
    entry.subject = Some(cert.subject().to_string());
    entry.sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    entry.key = Some(key_description(cert));
    let Ok(not_after) = Timestamp::from_second(cert.validity().not_after.timestamp()) else {
        entry.flag(State::Mismatch, "its end of validity is out of range");
        return None;
    };
    entry.not_after = Some(not_after.to_string());
    entry.days_left = Some((not_after.as_second() - now.as_second()).div_euclid(86_400));
    Some(not_after)
}

fn check_key_type(
    entry: &mut Entry,
    cert: &X509Certificate<'_>,
    wanted: crate::model::KeyAlgorithm,
    table: &str,
) {
    if key_algorithm(cert) != Some(wanted) {
        entry.flag(
            State::Mismatch,
            format!(
                "its key is {}; bakery.toml {table} asks for {wanted}",
                key_description(cert)
            ),
        );
    }
}

/// Why an existing password is weak, judged against the workload's own names.
fn weak_reasons(workload: Workload<'_>, password: &str) -> Vec<String> {
    let names = workload.names();
    let mut own = vec![names.declared.clone(), names.workload.clone()];
    if let Workload::Database(db) = workload {
        own.push(db.role_name());
        own.push(db.database_name());
    }
    super::weak::weaknesses(password, &own)
}

fn password_entry(workload: Workload<'_>, files: &SecretFiles) -> Entry {
    let names = workload.names();
    let mut entry = Entry::new(EntryKind::Password, names.credentials_secret);
    let path = credential_path(&names.workload, PASSWORD_KEY);
    match files.text(&path) {
        None if !files.contains(&path) => entry.flag(State::Missing, format!("{path} is missing")),
        Some(password)
            if password_is_strong(password) && weak_reasons(workload, password).is_empty() => {}
        Some(password) => {
            let reasons = weak_reasons(workload, password);
            entry.flag(
                State::Mismatch,
                format!(
                    "{path} is weak (an imported password?): {}; replace it with `bakeryc secrets \
                     rotate --passwords --only {}` and the rollout in docs/secrets.md (ALTER ROLE first)",
                    reasons.join("; "),
                    names.declared
                ),
            );
        }
        None => entry.flag(
            State::Mismatch,
            format!(
                "{path} is weaker than bakeryc's own: fewer than {MIN_PASSWORD_LEN} characters, \
                 or characters outside A-Z a-z 0-9 - _"
            ),
        ),
    }
    entry
}

/// The kustomization, CA bundle and credentials keys, which follow from the rest.
fn files_entry(platform: &Platform, env: &str, files: &SecretFiles, now: Timestamp) -> Entry {
    let mut entry = Entry::new(EntryKind::Files, KUSTOMIZATION.to_owned());
    let stale: Vec<String> = derived_files(platform, files, now)
        .into_iter()
        .filter(|(path, bytes)| files.get(path) != Some(bytes.as_slice()))
        .map(|(path, _)| path)
        .collect();
    if stale.is_empty() {
        return entry;
    }
    let severity = if stale.iter().any(|p| !files.contains(p)) {
        State::Missing
    } else {
        State::Mismatch
    };
    entry.flag(
        severity,
        format!(
            "{} out of date with bakery.toml or the material: run `bakeryc secrets generate --env {env}`",
            stale.join(", ")
        ),
    );
    entry
}
