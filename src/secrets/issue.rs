//! Issuing: decides per item whether to keep, re-issue or create it, generates the new keys in
//! parallel (the only slow step), and signs the CA and the server certificates with rcgen. It
//! returns new file contents; it never reads disk, never prints, and never replaces an existing
//! key unless the renewal asks for it.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rayon::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, RsaKeySize, SanType, SerialNumber,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{
    Action, CA_CERT, CA_KEY, Change, EntryKind, PREVIOUS_CA_CERT, Progress, Renewal, SecretFiles,
    SecretsError, Workload, leaf_cert_path, leaf_key_path,
};
use crate::model::{KeyAlgorithm, Period, Platform};

/// How far back `notBefore` is set, so that a clock a little behind ours still accepts a
/// certificate issued a moment ago.
const CLOCK_SKEW_SECONDS: i64 = 300;
/// Generated passwords: 40 characters of 6 bits each (240 bits).
const PASSWORD_LEN: usize = 40;
/// The URL-safe base64 alphabet: no quoting needed in URLs, shells, YAML or redis.conf.
const PASSWORD_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// New files and what happened to each certificate.
pub(super) struct Issued {
    pub files: Vec<(String, Vec<u8>)>,
    pub actions: Vec<Action>,
}

/// A usable CA: its certificate and key.
struct Ca {
    cert_pem: String,
    key: KeyPair,
    not_after: Timestamp,
}

enum CaPlan {
    Keep(Ca),
    /// A new CA; the certificate it replaces, if any.
    New {
        previous: Option<String>,
    },
}

enum LeafPlan {
    Keep,
    /// The certificate is missing or does not belong to the key: issue it for the same key.
    Reissue(KeyPair),
    New,
}

/// Plans, generates and signs every certificate of the environment.
pub(super) fn certificates(
    platform: &Platform,
    env: &str,
    workloads: &[Workload<'_>],
    existing: &SecretFiles,
    renewal: &Renewal,
    now: Timestamp,
    progress: &dyn Progress,
) -> Result<Issued, SecretsError> {
    let ca_plan = plan_ca(env, workloads, existing, renewal)?;
    let new_ca = matches!(ca_plan, CaPlan::New { .. });
    let leaf_plans = workloads
        .iter()
        .map(|w| plan_leaf(env, *w, existing, renewal, new_ca))
        .collect::<Result<Vec<_>, _>>()?;
    let new_leaves = leaf_plans
        .iter()
        .filter(|p| matches!(p, LeafPlan::New))
        .count();
    let algorithms: Vec<KeyAlgorithm> = new_ca
        .then_some(platform.tls.ca.key)
        .into_iter()
        .chain(std::iter::repeat_n(platform.tls.server.key, new_leaves))
        .collect();
    let mut keys = generate_keys(&algorithms, progress)?.into_iter();
    let mut next_key = || keys.next().ok_or_else(|| crypto("a key went missing"));

    let mut issued = Issued {
        files: Vec::new(),
        actions: Vec::new(),
    };
    let ca = match ca_plan {
        CaPlan::Keep(ca) => {
            issued.record(platform.ca_config_map(), None, Change::Kept);
            ca
        }
        CaPlan::New { previous } => {
            let ca = self_signed_ca(platform, env, next_key()?, now)?;
            issued.file(CA_KEY, ca.key.serialize_pem());
            issued.file(CA_CERT, ca.cert_pem.clone());
            let change = if previous.is_some() {
                Change::Rotated
            } else {
                Change::Created
            };
            if let Some(previous) = previous {
                issued.file(PREVIOUS_CA_CERT, previous);
            }
            issued.record(platform.ca_config_map(), None, change);
            ca
        }
    };
    let signer = Signer {
        platform,
        issuer: Issuer::from_ca_cert_pem(&ca.cert_pem, &ca.key).map_err(crypto)?,
        ca_not_after: ca.not_after,
        now,
    };
    for (workload, leaf_plan) in workloads.iter().zip(leaf_plans) {
        let names = workload.names();
        let (key, change) = match leaf_plan {
            LeafPlan::Keep => {
                issued.record(names.tls_secret, Some(&names.workload), Change::Kept);
                continue;
            }
            LeafPlan::Reissue(key) => (key, Change::Reissued),
            LeafPlan::New => {
                let key = next_key()?;
                issued.file(&leaf_key_path(&names.workload), key.serialize_pem());
                let had_cert = existing.contains(&leaf_cert_path(&names.workload));
                (
                    key,
                    if had_cert {
                        Change::Rotated
                    } else {
                        Change::Created
                    },
                )
            }
        };
        let cert = match workload {
            Workload::Client(client) => signer.client_certificate(&client.role_name(), &key)?,
            _ => signer.server_certificate(&names.service, &key)?,
        };
        issued.file(&leaf_cert_path(&names.workload), cert);
        issued.record(names.tls_secret, Some(&names.workload), change);
    }
    Ok(issued)
}

impl Issued {
    fn file(&mut self, path: &str, text: String) {
        self.files.push((path.to_owned(), text.into_bytes()));
    }

    fn record(&mut self, object: String, workload: Option<&str>, change: Change) {
        self.actions.push(Action {
            kind: if workload.is_some() {
                EntryKind::Server
            } else {
                EntryKind::Ca
            },
            object,
            workload: workload.map(str::to_owned),
            change,
        });
    }
}

fn crypto(error: impl std::fmt::Display) -> SecretsError {
    SecretsError::Crypto(error.to_string())
}

fn damaged(env: &str, what: &str, fix: &str) -> SecretsError {
    SecretsError::Refused(format!(
        "{what} of environment `{env}` is damaged; bakeryc never replaces an existing key by \
         itself: restore it from your backup, or replace it with `{fix}`"
    ))
}

fn plan_ca(
    env: &str,
    workloads: &[Workload<'_>],
    existing: &SecretFiles,
    renewal: &Renewal,
) -> Result<CaPlan, SecretsError> {
    let rotate_ca = format!("bakeryc secrets rotate --env {env} --ca");
    if renewal.ca {
        let previous = existing
            .text(CA_CERT)
            .filter(|pem| not_after(pem).is_some())
            .map(str::to_owned);
        return Ok(CaPlan::New { previous });
    }
    match (existing.contains(CA_CERT), existing.contains(CA_KEY)) {
        (false, false) => {
            let orphans = workloads
                .iter()
                .any(|w| existing.contains(&leaf_cert_path(&w.names().workload)));
            if orphans {
                return Err(SecretsError::Refused(format!(
                    "the secrets of `{env}` hold server certificates but no CA ({CA_CERT}, {CA_KEY}): \
                     restore the CA from your backup, or issue a new CA and every certificate \
                     with `{rotate_ca}`"
                )));
            }
            Ok(CaPlan::New { previous: None })
        }
        (true, true) => {
            let ca = existing
                .text(CA_CERT)
                .zip(existing.text(CA_KEY))
                .and_then(|(cert, key)| read_ca(cert, key))
                .ok_or_else(|| damaged(env, "the CA", &rotate_ca))?;
            Ok(CaPlan::Keep(ca))
        }
        _ => Err(damaged(
            env,
            "the CA (certificate or key missing)",
            &rotate_ca,
        )),
    }
}

/// The CA when its certificate parses and its key belongs to it.
fn read_ca(cert_pem: &str, key_pem: &str) -> Option<Ca> {
    let key = KeyPair::from_pem(key_pem).ok()?;
    let der = pem_der(cert_pem)?;
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    if !is_pair(&cert, &key) {
        return None;
    }
    Some(Ca {
        cert_pem: cert_pem.to_owned(),
        key,
        not_after: Timestamp::from_second(cert.validity().not_after.timestamp()).ok()?,
    })
}

fn plan_leaf(
    env: &str,
    workload: Workload<'_>,
    existing: &SecretFiles,
    renewal: &Renewal,
    new_ca: bool,
) -> Result<LeafPlan, SecretsError> {
    let names = workload.names();
    if new_ca || renewal.leaves.contains(&names.workload) {
        return Ok(LeafPlan::New);
    }
    let key_path = leaf_key_path(&names.workload);
    if !existing.contains(&key_path) {
        return Ok(LeafPlan::New);
    }
    // Both halves present: keep them. `plan` has already refused them if they are damaged
    // (unreadable, not a pair, not signed by the CA), with the checks `status` runs.
    if existing.contains(&leaf_cert_path(&names.workload)) {
        return Ok(LeafPlan::Keep);
    }
    let key = existing
        .text(&key_path)
        .and_then(|pem| KeyPair::from_pem(pem).ok())
        .ok_or_else(|| {
            damaged(
                env,
                &key_path,
                &format!(
                    "bakeryc secrets rotate --env {env} --only {}",
                    names.declared
                ),
            )
        })?;
    let matches = existing
        .text(&leaf_cert_path(&names.workload))
        .and_then(pem_der)
        .is_some_and(|der| {
            X509Certificate::from_der(&der).is_ok_and(|(_, cert)| is_pair(&cert, &key))
        });
    Ok(if matches {
        LeafPlan::Keep
    } else {
        LeafPlan::Reissue(key)
    })
}

/// Generates one key per algorithm, in parallel across cores, in the order given.
fn generate_keys(
    algorithms: &[KeyAlgorithm],
    progress: &dyn Progress,
) -> Result<Vec<KeyPair>, SecretsError> {
    progress.keys_to_generate(algorithms.len());
    algorithms
        .par_iter()
        .map(|algorithm| {
            let key = new_key(*algorithm).map_err(crypto);
            progress.key_generated();
            key
        })
        .collect()
}

/// A fresh key of this type. RSA needs `generate_rsa_for`: `generate_for` would silently give
/// 2048 bits whatever the configured size.
pub(super) fn new_key(algorithm: KeyAlgorithm) -> Result<KeyPair, rcgen::Error> {
    let rsa = |size| KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size);
    match algorithm {
        KeyAlgorithm::Rsa2048 => rsa(RsaKeySize::_2048),
        KeyAlgorithm::Rsa3072 => rsa(RsaKeySize::_3072),
        KeyAlgorithm::Rsa4096 => rsa(RsaKeySize::_4096),
        KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
    }
}

fn self_signed_ca(
    platform: &Platform,
    env: &str,
    key: KeyPair,
    now: Timestamp,
) -> Result<Ca, SecretsError> {
    let policy = &platform.tls.ca;
    let not_after = add_period(now, &policy.validity)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, policy.common_name.as_str());
    params
        .distinguished_name
        .push(DnType::OrganizationName, platform.name.as_str());
    // Tells the environments' CAs apart where only the subject is shown.
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, env);
    // Path length 0: this CA signs server certificates only, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(serial()?);
    params.not_before = offset(backdated(now))?;
    params.not_after = offset(not_after)?;
    let cert = params.self_signed(&key).map_err(crypto)?;
    Ok(Ca {
        cert_pem: cert.pem(),
        key,
        not_after,
    })
}

/// Signs server certificates with the environment's CA.
struct Signer<'a> {
    platform: &'a Platform,
    issuer: Issuer<'a, &'a KeyPair>,
    ca_not_after: Timestamp,
    now: Timestamp,
}

impl Signer<'_> {
    /// The certificate of a declared client, for `key`: CN = its role (PostgreSQL's
    /// `clientcert=verify-full` compares them), extended key usage clientAuth, the key type and
    /// lifetime of `[tls.server]`, no SANs.
    fn client_certificate(&self, role: &str, key: &KeyPair) -> Result<String, SecretsError> {
        let mut params = self.leaf(role)?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params, key)
    }

    /// The certificate of a Service, for `key`, per `[tls.server]`.
    fn server_certificate(&self, service: &str, key: &KeyPair) -> Result<String, SecretsError> {
        let mut params = self.leaf(service)?;
        params.subject_alt_names = self
            .platform
            .service_dns_names(service)
            .into_iter()
            .map(|name| name.try_into().map(SanType::DnsName).map_err(crypto))
            .collect::<Result<_, _>>()?;
        // keyEncipherment only means something for an RSA key (RSA key transport).
        params.key_usages = if is_rsa(key) {
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(&params, key)
    }

    /// What every certificate this CA signs for a server or a client shares: the subject (CN and
    /// the platform as O), not a CA, a fresh serial, and the lifetime of `[tls.server]`, which
    /// never outlives the CA that signs it.
    fn leaf(&self, common_name: &str) -> Result<CertificateParams, SecretsError> {
        let platform = self.platform;
        let not_after = add_period(self.now, &platform.tls.server.validity)?.min(self.ca_not_after);
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, platform.name.as_str());
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(serial()?);
        params.not_before = offset(backdated(self.now))?;
        params.not_after = offset(not_after)?;
        Ok(params)
    }

    fn sign(&self, params: &CertificateParams, key: &KeyPair) -> Result<String, SecretsError> {
        let cert = params.signed_by(key, &self.issuer).map_err(crypto)?;
        Ok(cert.pem())
    }
}

fn is_rsa(key: &KeyPair) -> bool {
    [
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_RSA_SHA384,
        &rcgen::PKCS_RSA_SHA512,
    ]
    .contains(&key.algorithm())
}

/// A random positive 128-bit serial number (RFC 5280 allows up to 20 octets).
fn serial() -> Result<SerialNumber, SecretsError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(crypto)?;
    // Positive and exactly 16 octets in DER: high bit clear, next bit set.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A new password from the OS CSPRNG, over the URL-safe alphabet.
pub(super) fn password() -> Result<String, SecretsError> {
    let mut bytes = [0u8; PASSWORD_LEN];
    getrandom::fill(&mut bytes).map_err(crypto)?;
    // 64 symbols: the low 6 bits of a uniform byte are uniform, so no symbol is favoured.
    Ok(bytes
        .iter()
        .map(|b| char::from(PASSWORD_ALPHABET[usize::from(b & 63)]))
        .collect())
}

/// Whether a password could have come from [`password`]'s alphabet and is long enough.
pub(super) fn password_is_strong(password: &str) -> bool {
    password.len() >= super::MIN_PASSWORD_LEN
        && password.bytes().all(|b| PASSWORD_ALPHABET.contains(&b))
}

/// `now` plus a calendar period, counted in UTC.
pub(super) fn add_period(now: Timestamp, period: &Period) -> Result<Timestamp, SecretsError> {
    now.to_zoned_datetime(TimeZone::UTC)
        .checked_add(period.span())
        .map(|z| z.timestamp())
        .map_err(|e| crypto(format!("{} after {now}: {e}", period.as_str())))
}

/// `end` minus a calendar period, counted in UTC.
pub(super) fn sub_period(end: Timestamp, period: &Period) -> Option<Timestamp> {
    end.to_zoned_datetime(TimeZone::UTC)
        .checked_sub(period.span())
        .ok()
        .map(|z| z.timestamp())
}

/// `notBefore`: a little before `now`, for clocks slightly behind ours.
fn backdated(now: Timestamp) -> Timestamp {
    now.checked_sub(jiff::SignedDuration::from_secs(CLOCK_SKEW_SECONDS))
        .unwrap_or(now)
}

fn offset(ts: Timestamp) -> Result<time::OffsetDateTime, SecretsError> {
    time::OffsetDateTime::from_unix_timestamp(ts.as_second()).map_err(crypto)
}

/// Whether `key` is the private half of the key `cert` certifies.
pub(super) fn is_pair(cert: &X509Certificate<'_>, key: &KeyPair) -> bool {
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

/// The DER of the first PEM block, if the text is PEM.
pub(super) fn pem_der(pem_text: &str) -> Option<Vec<u8>> {
    pem_blocks(pem_text).into_iter().next()
}

/// Every PEM block's DER, in order.
pub(super) fn pem_blocks(pem_text: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem_text.as_bytes())
        .map_while(Result::ok)
        .map(|p| p.contents)
        .collect()
}

/// The end of validity of the certificate in this PEM text.
pub(super) fn not_after(cert_pem: &str) -> Option<Timestamp> {
    let der = pem_der(cert_pem)?;
    let (_, cert) = X509Certificate::from_der(&der).ok()?;
    Timestamp::from_second(cert.validity().not_after.timestamp()).ok()
}

/// The configured key algorithm this certificate's key is, if any.
pub(super) fn key_algorithm(cert: &X509Certificate<'_>) -> Option<KeyAlgorithm> {
    use x509_parser::oid_registry::{OID_EC_P256, OID_NIST_EC_P384};
    use x509_parser::public_key::PublicKey;
    let spki = cert.public_key();
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => match rsa.key_size() {
            2048 => Some(KeyAlgorithm::Rsa2048),
            3072 => Some(KeyAlgorithm::Rsa3072),
            4096 => Some(KeyAlgorithm::Rsa4096),
            _ => None,
        },
        PublicKey::EC(_) => {
            let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
            if curve == OID_EC_P256 {
                Some(KeyAlgorithm::EcdsaP256)
            } else if curve == OID_NIST_EC_P384 {
                Some(KeyAlgorithm::EcdsaP384)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A short name for a key in reports (`rsa-2048`, or the size when it is no configured type).
pub(super) fn key_description(cert: &X509Certificate<'_>) -> String {
    key_algorithm(cert).map_or_else(
        || {
            let bits = cert.public_key().parsed().map_or(0, |k| k.key_size());
            format!("an unsupported {bits}-bit key")
        },
        |a| a.name().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn files(entries: &[(&str, &str)]) -> SecretFiles {
        entries
            .iter()
            .map(|(p, t)| ((*p).to_owned(), t.as_bytes().to_vec()))
            .collect::<BTreeMap<_, _>>()
            .into()
    }

    #[test]
    fn passwords_are_long_random_and_url_safe() {
        let a = password().unwrap();
        let b = password().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), PASSWORD_LEN);
        assert!(password_is_strong(&a));
        assert!(!password_is_strong("short"));
        assert!(!password_is_strong(&"é".repeat(40)));
    }

    /// RFC 5280: a positive serial of at most 20 octets; ours are exactly 16 octets in DER (a
    /// first octet of 0x01 to 0x7f: positive, and no leading zero to strip), all different.
    /// Many draws, since a serial built wrongly can still look right by chance (1 in 2, or 1
    /// in 128 for a zero first octet).
    #[test]
    fn serials_are_random_positive_16_octets() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..4096 {
            let bytes = serial().unwrap().to_bytes();
            assert_eq!(bytes.len(), 16);
            assert!((0x01..=0x7f).contains(&bytes[0]), "{bytes:02x?}");
            assert!(seen.insert(bytes), "a serial repeats");
        }
    }

    #[test]
    fn damaged_ca_is_refused_not_replaced() {
        let existing = files(&[(CA_CERT, "not pem"), (CA_KEY, "not pem")]);
        let result = plan_ca("prod", &[], &existing, &Renewal::default());
        assert!(matches!(result, Err(SecretsError::Refused(m)) if m.contains("damaged")));
        let half = files(&[(CA_CERT, "x")]);
        assert!(plan_ca("prod", &[], &half, &Renewal::default()).is_err());
    }
}
