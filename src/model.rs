//! The validated platform: only values that are known to be valid can exist here (each newtype
//! checks its invariant in its constructor). No spans and no I/O: everything downstream of
//! `validate` works on these types and never has to re-check them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

mod adopt;

pub use adopt::{Adoption, DataPath, PgIdentifier};

/// A DNS-1123 label: 1-63 of `[a-z0-9-]`, starting and ending alphanumeric.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsLabel(String);

impl DnsLabel {
    pub const MAX_LEN: usize = 63;

    pub fn new(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("is empty".into());
        }
        if text.len() > Self::MAX_LEN {
            return Err(format!(
                "is {} characters long; at most {} are allowed",
                text.len(),
                Self::MAX_LEN
            ));
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(format!(
                "contains {bad:?}; only lowercase letters, digits and '-' are allowed"
            ));
        }
        if text.starts_with('-') || text.ends_with('-') {
            return Err("must start and end with a letter or digit".into());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DnsLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS subdomain such as `cluster.local`: dot-separated DNS-1123 labels, at most 253 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainName(String);

impl DomainName {
    pub fn new(text: &str) -> Result<Self, String> {
        if text.len() > 253 {
            return Err("is longer than 253 characters".into());
        }
        for label in text.split('.') {
            DnsLabel::new(label).map_err(|e| format!("part {label:?} {e}"))?;
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Kubernetes quantity (`2Gi`, `500m`, `1`), kept as written (so output shows what the user
/// wrote) together with its value for comparisons.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    text: String,
    value: f64,
}

impl Quantity {
    const SUFFIXES: &'static [(&'static str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
        ("", 1.0),
    ];

    /// Parses the Kubernetes quantity grammar: a signed decimal number and an optional suffix.
    pub fn new(text: &str) -> Result<Self, String> {
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let digits = number.trim_start_matches(['+', '-']);
        let well_formed = !digits.is_empty()
            && digits.chars().filter(|c| *c == '.').count() <= 1
            && digits.chars().any(|c| c.is_ascii_digit())
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.len() - digits.len() <= 1;
        let factor = Self::SUFFIXES
            .iter()
            .find(|(s, _)| *s == suffix)
            .map(|(_, f)| *f);
        let exponent = suffix
            .strip_prefix(['e', 'E'])
            .and_then(|e| e.parse::<i32>().ok())
            .filter(|e| e.abs() <= 18)
            .map(|e| 10f64.powi(e));
        match (well_formed, factor.or(exponent), number.parse::<f64>()) {
            (true, Some(factor), Ok(number)) => Ok(Self {
                text: text.to_owned(),
                value: number * factor,
            }),
            _ => Err(format!("{text:?} is not a Kubernetes quantity")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value in base units (bytes, or cores), for comparisons only.
    pub fn value(&self) -> f64 {
        self.value
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A container image pinned by a tag other than `latest`, by a digest, or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Image {
    pub fn reference(&self) -> String {
        let mut text = self.repository.clone();
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(digest);
        }
        text
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference())
    }
}

/// A PostgreSQL major version bakeryc has a settings catalogue for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PgVersion(u8);

impl PgVersion {
    pub const SUPPORTED: std::ops::RangeInclusive<u8> = 13..=18;

    pub fn new(major: i64) -> Result<Self, String> {
        match u8::try_from(major) {
            Ok(major) if Self::SUPPORTED.contains(&major) => Ok(Self(major)),
            _ => Err(format!(
                "PostgreSQL {major} is not supported; supported major versions are {} to {}",
                Self::SUPPORTED.start(),
                Self::SUPPORTED.end()
            )),
        }
    }

    pub fn major(self) -> u8 {
        self.0
    }
}

/// A PostgreSQL identifier or extension name as written in `CREATE EXTENSION`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Extension(String);

impl Extension {
    pub fn new(name: &str) -> Result<Self, String> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(format!("{name:?} is not an extension name"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A minimum TLS protocol version; older versions cannot be represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

impl TlsVersion {
    /// The spelling PostgreSQL's `ssl_min_protocol_version` uses.
    pub fn postgres_name(self) -> &'static str {
        match self {
            Self::V1_2 => "TLSv1.2",
            Self::V1_3 => "TLSv1.3",
        }
    }

    /// Redis `tls-protocols`: every allowed version, as Redis has no minimum setting.
    pub fn redis_protocols(self) -> &'static str {
        match self {
            Self::V1_2 => "TLSv1.2 TLSv1.3",
            Self::V1_3 => "TLSv1.3",
        }
    }
}

/// A key type for certificates. RSA below 2048 bits cannot be represented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyAlgorithm {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
    EcdsaP384,
}

impl KeyAlgorithm {
    pub const NAMES: &'static [&'static str] = &[
        "rsa-2048",
        "rsa-3072",
        "rsa-4096",
        "ecdsa-p256",
        "ecdsa-p384",
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "rsa-2048" => Self::Rsa2048,
            "rsa-3072" => Self::Rsa3072,
            "rsa-4096" => Self::Rsa4096,
            "ecdsa-p256" => Self::EcdsaP256,
            "ecdsa-p384" => Self::EcdsaP384,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa-2048",
            Self::Rsa3072 => "rsa-3072",
            Self::Rsa4096 => "rsa-4096",
            Self::EcdsaP256 => "ecdsa-p256",
            Self::EcdsaP384 => "ecdsa-p384",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A calendar period such as `10y` or `90d`, as written, for certificate lifetimes.
#[derive(Clone, Debug)]
pub struct Period {
    text: String,
    span: jiff::Span,
}

impl Period {
    pub fn new(text: &str) -> Result<Self, String> {
        let span: jiff::Span = text
            .parse()
            .map_err(|e| format!("{text:?} is not a duration: {e}"))?;
        if span.is_negative() || span.is_zero() {
            return Err(format!("{text:?} must be longer than zero"));
        }
        Ok(Self {
            text: text.to_owned(),
            span,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn span(&self) -> jiff::Span {
        self.span
    }

    /// Length in days counted from a fixed date, so comparisons never depend on today.
    pub fn days(&self) -> f64 {
        let reference = jiff::civil::date(2000, 1, 1);
        self.span
            .total((jiff::Unit::Day, reference))
            .unwrap_or(f64::MAX)
    }
}

impl PartialEq for Period {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// What the audit log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStatement {
    None,
    Ddl,
    Mod,
    All,
}

impl LogStatement {
    pub const NAMES: &'static [&'static str] = &["none", "ddl", "mod", "all"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Self::None,
            "ddl" => Self::Ddl,
            "mod" => Self::Mod,
            "all" => Self::All,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    pub log_connections: bool,
    pub log_disconnections: bool,
    pub log_statement: LogStatement,
    /// `log_min_duration_statement` in milliseconds; `None` is off.
    pub log_min_duration_ms: Option<u64>,
}

impl Default for Audit {
    fn default() -> Self {
        Self {
            log_connections: true,
            log_disconnections: true,
            log_statement: LogStatement::Ddl,
            log_min_duration_ms: Some(500),
        }
    }
}

/// CPU and memory for one container.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuMemory {
    pub cpu: Quantity,
    pub memory: Quantity,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resources {
    pub requests: CpuMemory,
    pub limits: CpuMemory,
}

/// Where a workload runs and how big it is: the part of a workload an environment may change.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub image: Image,
    pub storage: Quantity,
    pub storage_class: Option<String>,
    pub resources: Resources,
}

/// An extra postgresql.conf line, checked against the declared version's catalogue.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: String,
    /// Already in postgresql.conf syntax (strings quoted).
    pub value: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Database {
    pub name: DnsLabel,
    pub version: PgVersion,
    pub placement: Placement,
    pub extensions: Vec<Extension>,
    pub audit: Audit,
    pub settings: Vec<Setting>,
    /// `[database.adopt]`: the running database's claim and names, taken over as they are.
    pub adopt: Option<Adoption>,
}

/// `tls-auth-clients`: whether Redis asks TLS clients for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Optional,
    Required,
}

impl ClientAuth {
    pub const NAMES: &'static [&'static str] = &["none", "optional", "required"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "none" => Self::None,
            "optional" => Self::Optional,
            "required" => Self::Required,
            _ => return None,
        })
    }

    pub fn redis_value(self) -> &'static str {
        match self {
            Self::None => "no",
            Self::Optional => "optional",
            Self::Required => "yes",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cache {
    pub name: DnsLabel,
    pub placement: Placement,
    /// As written; `None` follows client certificates ([`Cache::client_auth`]).
    pub client_auth: Option<ClientAuth>,
    /// `[cache.adopt]`: the running cache's claim and names, taken over as they are.
    pub adopt: Option<Adoption>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CaPolicy {
    pub common_name: String,
    pub validity: Period,
    pub key: KeyAlgorithm,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerCertPolicy {
    pub validity: Period,
    pub key: KeyAlgorithm,
    pub renew_before: Period,
}

/// Who issues the servers' certificates and writes their TLS Secrets.
#[derive(Clone, Debug, PartialEq)]
pub enum TlsProvider {
    /// `bakeryc secrets` issues them into the secrets folder (the default).
    Bakeryc,
    /// cert-manager Certificates in generated/ issue and renew them in the cluster: signed by
    /// `issuer`, or by a CA bootstrapped per namespace when none is named.
    CertManager { issuer: Option<ExistingIssuer> },
}

/// A cert-manager issuer that exists in the cluster already.
#[derive(Clone, Debug, PartialEq)]
pub struct ExistingIssuer {
    pub kind: IssuerKind,
    pub name: DomainName,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerKind {
    ClusterIssuer,
    Issuer,
}

/// What `[monitoring]` asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Monitoring {
    /// A PrometheusRule with certificate expiry alerts per namespace.
    pub prometheus_rules: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TlsPolicy {
    pub provider: TlsProvider,
    /// `[tls] client_certificates`: servers demand a client certificate of declared clients
    /// (environments may say otherwise, see [`Environment::client_certificates`]).
    pub client_certificates: bool,
    pub min_version: TlsVersion,
    pub ca: CaPolicy,
    pub server: ServerCertPolicy,
}

/// One overlay: the placement of every workload in this environment, fully resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub name: DnsLabel,
    pub databases: BTreeMap<DnsLabel, Placement>,
    pub cache: Option<Placement>,
    /// CA certificates that `secrets status` accepts in the environment's trust files although
    /// bakeryc did not issue them for it (`trusted_cas`).
    pub trusted_cas: BTreeSet<CaFingerprint>,
    /// Whether servers demand client certificates here (`[tls] client_certificates`, or the
    /// environment's own `client_certificates`).
    pub client_certificates: bool,
}

/// The SHA-256 fingerprint of a certificate's DER, as `openssl x509 -fingerprint -sha256`
/// prints it (64 hex digits, colons optional, any case); held as 64 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CaFingerprint(String);

impl CaFingerprint {
    pub fn new(text: &str) -> Result<Self, String> {
        let hex: String = text
            .trim()
            .trim_start_matches("sha256:")
            .chars()
            .filter(|c| *c != ':')
            .collect::<String>()
            .to_ascii_lowercase();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(hex))
        } else {
            Err(format!(
                "{text:?} is not a SHA-256 fingerprint: 64 hex digits, colons allowed"
            ))
        }
    }

    /// The fingerprint of a certificate in DER.
    pub fn of(der: &[u8]) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(der);
        let mut hex = String::with_capacity(64);
        for byte in digest {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    /// As openssl prints it: uppercase pairs joined by colons.
    pub fn to_openssl(&self) -> String {
        let upper = self.0.to_ascii_uppercase();
        let pairs: Vec<&str> = (0..upper.len())
            .step_by(2)
            .filter_map(|i| upper.get(i..i + 2))
            .collect();
        pairs.join(":")
    }
}

/// The labels bakeryc sets on every object itself; `[platform] labels` may not set them, since
/// selectors and NetworkPolicies depend on them.
pub const MANAGED_LABELS: &[&str] = &[
    "app.kubernetes.io/component",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/name",
    "app.kubernetes.io/part-of",
];

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters (alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelKey(String);

impl LabelKey {
    pub fn new(text: &str) -> Result<Self, String> {
        let (prefix, name) = match text.rsplit_once('/') {
            Some((prefix, name)) => (Some(prefix), name),
            None => (None, text),
        };
        if let Some(prefix) = prefix {
            DomainName::new(prefix).map_err(|e| format!("has the prefix {prefix:?}, which {e}"))?;
        }
        label_name(name).map_err(|e| format!("has the name {name:?}, which {e}"))?;
        if MANAGED_LABELS.contains(&text) {
            return Err("is set by bakeryc on every object".into());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Kubernetes label value: empty, or a name as in [`LabelKey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelValue(String);

impl LabelValue {
    pub fn new(text: &str) -> Result<Self, String> {
        if !text.is_empty() {
            label_name(text)?;
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name part of a label key, and a label value.
fn label_name(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.len() > 63 {
        return Err(format!(
            "is {} characters long; at most 63 are allowed",
            text.len()
        ));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "contains {bad:?}; only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    if !text.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !text.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// The whole data tier.
#[derive(Clone, Debug, PartialEq)]
pub struct Platform {
    pub name: DnsLabel,
    pub namespace: DnsLabel,
    pub cluster_domain: DomainName,
    /// Extra labels on every object, besides the ones bakeryc sets.
    pub labels: BTreeMap<LabelKey, LabelValue>,
    pub databases: Vec<Database>,
    pub cache: Option<Cache>,
    /// The services that connect (`[[client]]`), sorted by name; empty means platform-wide access.
    pub clients: Vec<Client>,
    pub tls: TlsPolicy,
    /// Who makes the passwords (`[secrets]`).
    pub secrets: SecretsProvider,
    /// Argo CD Applications (`[gitops]`), when wanted.
    pub gitops: Option<Gitops>,
    pub monitoring: Monitoring,
    pub environments: Vec<Environment>,
    /// pgBackRest (`[backup]`), when wanted.
    pub backup: Option<Backup>,
}

/// Where Argo CD reads generated/ and where it syncs each environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gitops {
    pub repo_url: String,
    pub revision: String,
    /// generated/'s path in the repository, without leading or trailing `/`.
    pub path: String,
    pub project: String,
    /// By environment name.
    pub destinations: BTreeMap<String, Destination>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub server: String,
    pub namespace: String,
}

/// Who makes the credentials Secrets the pods read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretsProvider {
    /// `bakeryc secrets generate` writes them to secrets/<env>, applied by hand.
    Bakeryc,
    /// External Secrets makes them in the cluster from ExternalSecrets in generated/.
    ExternalSecrets(PasswordSource),
}

/// Where External Secrets takes each password from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordSource {
    /// A `Password` generator per workload, run once (`refreshPolicy: CreatedOnce`).
    Generator,
    /// An existing store, at `remote_key` with `{environment}` and `{workload}` replaced.
    Store {
        kind: StoreKind,
        name: String,
        remote_key: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    ClusterSecretStore,
    SecretStore,
}

impl StoreKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ClusterSecretStore" => Some(Self::ClusterSecretStore),
            "SecretStore" => Some(Self::SecretStore),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::ClusterSecretStore => "ClusterSecretStore",
            Self::SecretStore => "SecretStore",
        }
    }
}

impl PasswordSource {
    /// The store key of a workload's password in an environment.
    pub fn remote_key(template: &str, environment: &str, workload: &str) -> String {
        template
            .replace("{environment}", environment)
            .replace("{workload}", workload)
    }
}

impl TlsPolicy {
    /// Whether cert-manager, not `bakeryc secrets`, issues the servers' certificates.
    pub fn cert_manager(&self) -> bool {
        matches!(self.provider, TlsProvider::CertManager { .. })
    }
}

impl Platform {
    /// The DNS names a client may use for a Service, shortest first; all are in the server
    /// certificate's SANs, whoever issues it (`bakeryc secrets` and the cert-manager
    /// Certificates both take them from here).
    pub fn service_dns_names(&self, service: &str) -> Vec<String> {
        let ns = self.namespace.as_str();
        vec![
            service.to_owned(),
            format!("{service}.{ns}"),
            format!("{service}.{ns}.svc"),
            format!("{service}.{ns}.svc.{}", self.cluster_domain.as_str()),
        ]
    }
}

/// The names of everything bakeryc creates or references for one workload. These are a public
/// contract: GitOps repos, Secrets and services depend on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadNames {
    /// What bakery.toml calls it (`auth`, `redis`).
    pub declared: String,
    /// Deployment, NetworkPolicy and `app.kubernetes.io/instance` (`auth-db`, `redis`).
    pub workload: String,
    pub service: String,
    pub tls_secret: String,
    pub credentials_secret: String,
    pub config_map: String,
    /// The client connection profile without the password (`<workload>-client`).
    pub client_config_map: String,
    pub volume_claim: String,
    /// The claim exists already (`adopt`): mounted, never defined or patched by bakeryc.
    pub claim_adopted: bool,
}

/// Appended to the platform name for the ConfigMap that carries the CA for clients.
pub const CA_CONFIG_MAP_SUFFIX: &str = "-ca";
/// The key of every credentials Secret that holds the password itself.
pub const PASSWORD_KEY: &str = "password";
/// The key of the cache's credentials Secret that Redis reads with `--include`.
pub const REDIS_AUTH_CONF_KEY: &str = "auth.conf";

impl WorkloadNames {
    fn new(declared: &str, workload: String) -> Self {
        Self {
            declared: declared.to_owned(),
            service: format!("{workload}-service"),
            tls_secret: format!("{workload}-tls"),
            credentials_secret: format!("{workload}-credentials"),
            config_map: format!("{workload}-config"),
            client_config_map: format!("{workload}-client"),
            volume_claim: format!("{workload}-data"),
            claim_adopted: false,
            workload,
        }
    }

    /// The names of the database declared as `declared` (`auth` -> `auth-db`, ...).
    pub fn for_database(declared: &str) -> Self {
        Self::new(declared, format!("{declared}-db"))
    }

    /// The Secrets of the client declared as `declared`: `<client>-credentials` and
    /// `<client>-client-tls` (the other names are unused: a client has no workload here).
    pub fn for_client(declared: &str) -> Self {
        Self {
            tls_secret: format!("{declared}-client-tls"),
            ..Self::new(declared, declared.to_owned())
        }
    }

    /// The names of the cache declared as `declared` (`redis` -> `redis`, ...).
    pub fn for_cache(declared: &str) -> Self {
        Self::new(declared, declared.to_owned())
    }

    /// What the longest derived name appends to the declared one (`-db-credentials`): the
    /// declared name plus this must fit a 63-character DNS label.
    pub fn longest_suffix(&self) -> &str {
        [
            &self.workload,
            &self.service,
            &self.tls_secret,
            &self.credentials_secret,
            &self.config_map,
            &self.client_config_map,
            &self.volume_claim,
        ]
        .into_iter()
        .max_by_key(|name| name.len())
        .and_then(|name| name.strip_prefix(self.declared.as_str()))
        .unwrap_or_default()
    }
}

impl Database {
    pub fn names(&self) -> WorkloadNames {
        let names = WorkloadNames::for_database(self.name.as_str());
        match &self.adopt {
            Some(adoption) => adoption.rename(names),
            None => names,
        }
    }

    /// The PostgreSQL database created at first start (`alert-processor` -> `alert_processor_db`),
    /// or the adopted one.
    pub fn database_name(&self) -> String {
        match self.adopt.as_ref().and_then(|a| a.database.as_ref()) {
            Some(adopted) => adopted.to_string(),
            None => format!("{}_db", self.name.as_str().replace('-', "_")),
        }
    }

    /// The PostgreSQL role that owns the database (`auth_user`), or the adopted one.
    pub fn role_name(&self) -> String {
        match self.adopt.as_ref().and_then(|a| a.role.as_ref()) {
            Some(adopted) => adopted.to_string(),
            None => format!("{}_user", self.name.as_str().replace('-', "_")),
        }
    }

    /// PGDATA: where the data directory is inside the claim mounted at `mount`.
    pub fn data_dir(&self, mount: &str) -> String {
        match &self.adopt {
            Some(adoption) => adoption.data_path.under(mount),
            None => format!("{mount}/pgdata"),
        }
    }
}

impl Cache {
    pub fn names(&self) -> WorkloadNames {
        let names = WorkloadNames::for_cache(self.name.as_str());
        match &self.adopt {
            Some(adoption) => adoption.rename(names),
            None => names,
        }
    }

    /// Redis's `dir`: the claim mounted at `mount`, or the adopted directory inside it.
    pub fn data_dir(&self, mount: &str) -> String {
        self.adopt
            .as_ref()
            .map_or_else(|| mount.to_owned(), |a| a.data_path.under(mount))
    }

    /// `tls-auth-clients` where client certificates are (not) demanded: as written, else
    /// `required` under client certificates and `none` without.
    pub fn client_auth(&self, client_certificates: bool) -> ClientAuth {
        self.client_auth.unwrap_or(if client_certificates {
            ClientAuth::Required
        } else {
            ClientAuth::None
        })
    }
}

/// What a client needs to reach one server with full verification: the service's fully
/// qualified name (always one of the certificate's SANs) and where the platform CA is mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientProfile {
    pub host: String,
    pub port: u16,
    /// Path of the platform CA certificate in client pods (the ConfigMap `<platform>-ca`).
    pub ca_file: String,
    pub min_tls: TlsVersion,
    /// PostgreSQL only: database and role.
    pub database: Option<(String, String)>,
    /// A declared client's: the directory of its mounted `<client>-client-tls` Secret.
    pub certificate: Option<String>,
    /// Redis only: a declared client's ACL user (the default user otherwise).
    pub user: Option<String>,
}

impl Platform {
    /// The ConfigMap that carries the CA certificate for clients, and where clients mount it.
    pub fn ca_config_map(&self) -> String {
        format!("{}{CA_CONFIG_MAP_SUFFIX}", self.name)
    }

    pub fn ca_mount_dir(&self) -> String {
        format!("/etc/{}-ca", self.name)
    }

    pub fn database_profile(&self, db: &Database) -> ClientProfile {
        ClientProfile {
            host: self.fqdn(&db.names().service),
            port: 5432,
            ca_file: format!("{}/ca.crt", self.ca_mount_dir()),
            min_tls: self.tls.min_version,
            database: Some((db.database_name(), db.role_name())),
            certificate: None,
            user: None,
        }
    }

    pub fn cache_profile(&self, cache: &Cache) -> ClientProfile {
        ClientProfile {
            host: self.fqdn(&cache.names().service),
            port: 6379,
            ca_file: format!("{}/ca.crt", self.ca_mount_dir()),
            min_tls: self.tls.min_version,
            database: None,
            certificate: None,
            user: None,
        }
    }

    /// The fully qualified name of a Service: the last (longest) of its SANs.
    fn fqdn(&self, service: &str) -> String {
        self.service_dns_names(service)
            .pop()
            .unwrap_or_else(|| service.to_owned())
    }
}

fn user_info(user: &str, password: Option<&str>) -> String {
    match password {
        Some(password) => format!("{}:{}@", percent_encode(user), percent_encode(password)),
        None => format!("{}@", percent_encode(user)),
    }
}

impl ClientProfile {
    /// libpq / psycopg: `postgresql://user[:password]@host:5432/db?sslmode=verify-full&sslrootcert=...`.
    pub fn libpq_url(&self, password: Option<&str>) -> Option<String> {
        let (database, user) = self.database.as_ref()?;
        let certificate = self.certificate.as_ref().map_or_else(String::new, |dir| {
            format!("&sslcert={dir}/tls.crt&sslkey={dir}/tls.key")
        });
        Some(format!(
            "postgresql://{}{}:{}/{}?sslmode=verify-full&sslrootcert={}&ssl_min_protocol_version={}{certificate}",
            user_info(user, password),
            self.host,
            self.port,
            database,
            self.ca_file,
            self.min_tls.postgres_name()
        ))
    }

    /// SQLAlchemy + asyncpg. asyncpg takes `ssl`, not libpq's `sslmode` (the seed report's first
    /// outage), and reads the CA from `PGSSLROOTCERT`, which the client ConfigMap sets. A client
    /// certificate cannot travel in this URL: SQLAlchemy passes every query parameter to
    /// `asyncpg.connect()` as a keyword, which has no `sslcert`; asyncpg reads `PGSSLCERT` and
    /// `PGSSLKEY` from the client ConfigMap instead (`ssl` as a mode string makes it do so).
    pub fn sqlalchemy_asyncpg_url(&self, password: Option<&str>) -> Option<String> {
        let (database, user) = self.database.as_ref()?;
        Some(format!(
            "postgresql+asyncpg://{}{}:{}/{}?ssl=verify-full",
            user_info(user, password),
            self.host,
            self.port,
            database
        ))
    }

    /// redis-py: `rediss://` with the CA and hostname verification (never `ssl_cert_reqs=none`).
    pub fn redis_url(&self, password: Option<&str>) -> String {
        let user = self
            .user
            .as_deref()
            .map_or_else(String::new, percent_encode);
        let auth = password.map_or_else(String::new, |p| format!("{user}:{}@", percent_encode(p)));
        let certificate = self.certificate.as_ref().map_or_else(String::new, |dir| {
            format!("&ssl_certfile={dir}/tls.crt&ssl_keyfile={dir}/tls.key")
        });
        format!(
            "rediss://{auth}{}:{}/0?ssl_cert_reqs=required&ssl_ca_certs={}&ssl_check_hostname=true{certificate}",
            self.host, self.port, self.ca_file
        )
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for URL user info.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_and_values_follow_kubernetes() {
        for good in ["team", "example.com/team", "a.b-c_d", "x/Y1"] {
            assert!(LabelKey::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-team",
            "team-",
            "a/b/c",
            "Example.com/team",
            "/team",
            "te am",
            &"t".repeat(64),
        ] {
            assert!(LabelKey::new(bad).is_err(), "{bad}");
        }
        assert!(LabelKey::new("app.kubernetes.io/part-of").is_err());
        assert!(LabelKey::new("app.kubernetes.io/version").is_ok());
        for good in ["", "payments", "v1.2_3"] {
            assert!(LabelValue::new(good).is_ok(), "{good}");
        }
        for bad in ["-x", "x y", "ü", &"v".repeat(64)] {
            assert!(LabelValue::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_labels() {
        assert!(DnsLabel::new("alert-processor").is_ok());
        for bad in ["", "-a", "a-", "A", "a_b", &"a".repeat(64)] {
            assert!(DnsLabel::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        assert!((Quantity::new("2Gi").unwrap().value() - 2.0 * 1_073_741_824.0).abs() < 1.0);
        assert!((Quantity::new("100m").unwrap().value() - 0.1).abs() < 1e-12);
        assert!((Quantity::new("1e3").unwrap().value() - 1000.0).abs() < 1e-9);
        for bad in ["2GB", "", "Gi", "1..2", "--1", "2 Gi", "1e99"] {
            assert!(Quantity::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_info_is_percent_encoded() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }

    #[test]
    fn fingerprints_read_as_openssl_prints_them() {
        let hex = "4f2a8c110b9e77d35a60c218e493ab0f6d21c85e993b07f1a462de80135cb72e";
        let openssl = CaFingerprint::new(hex).unwrap().to_openssl();
        assert!(
            openssl.starts_with("4F:2A:8C:") && openssl.len() == 95,
            "{openssl}"
        );
        assert_eq!(CaFingerprint::new(&openssl), CaFingerprint::new(hex));
        assert_eq!(
            CaFingerprint::new(&format!("sha256:{hex}")),
            CaFingerprint::new(hex)
        );
        assert!(CaFingerprint::new("Old Acme Root CA").is_err());
        assert!(CaFingerprint::new(&hex[2..]).is_err());
        assert_eq!(CaFingerprint::of(b"").to_openssl()[..5], *"E3:B0");
    }

    #[test]
    fn periods_compare_in_days() {
        assert!(Period::new("3y").unwrap().days() < Period::new("10y").unwrap().days());
        assert!(Period::new("90d").unwrap().days() < Period::new("3y").unwrap().days());
        assert!(Period::new("0d").is_err());
        assert!(Period::new("soon").is_err());
    }
}

/// What a client's role may do in each database it declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Member of `<db>_user`, the database's owner: DDL and data.
    Owner,
    /// `pg_read_all_data` and `pg_write_all_data` (PostgreSQL 14+): data, no DDL.
    ReadWrite,
    /// `pg_read_all_data` only.
    ReadOnly,
}

impl Access {
    pub const NAMES: &'static [&'static str] = &["owner", "read-write", "read-only"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "owner" => Self::Owner,
            "read-write" => Self::ReadWrite,
            "read-only" => Self::ReadOnly,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
        }
    }
}

/// A service that connects (`[[client]]`): the pods it selects, what they reach and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub name: DnsLabel,
    /// The labels its pods carry (`app.kubernetes.io/name = <name>` unless `selector` says).
    pub selector: BTreeMap<String, String>,
    /// The declared databases it reaches, sorted.
    pub databases: Vec<DnsLabel>,
    pub cache: bool,
    pub access: Access,
}

/// What Redis's default user keeps once clients have their own users: the probe's `PING` and
/// the reloader's `CONFIG SET`.
pub const REDIS_DEFAULT_USER_RULES: &str = "resetchannels -@all +ping +config|set";
/// The key of a client's credentials Secret that Redis includes: its ACL user line.
pub const REDIS_USER_CONF_KEY: &str = "redis-user.conf";

impl Client {
    /// Its PostgreSQL role and Redis user, and its certificate's CN (`orders-service` ->
    /// `orders_service`).
    pub fn role_name(&self) -> String {
        self.name.as_str().replace('-', "_")
    }

    /// Its Secrets: `<client>-credentials` and `<client>-client-tls`.
    pub fn names(&self) -> WorkloadNames {
        WorkloadNames::for_client(self.name.as_str())
    }

    pub fn reaches(&self, db: &Database) -> bool {
        // Sorted: a reporter of a thousand databases is asked about each of them.
        self.databases.binary_search(&db.name).is_ok()
    }

    /// Its connection profile ConfigMap for one server (`<client>-<db>-db-client`, `<client>-<cache>-client`).
    pub fn profile_config_map(&self, server_workload: &str) -> String {
        format!("{}-{server_workload}-client", self.name)
    }

    /// Where a client pod mounts its `<client>-client-tls` Secret (the documented snippet).
    pub fn certificate_dir(&self) -> String {
        format!("/etc/{}-client-tls", self.name)
    }
}

impl Platform {
    /// The declared clients of a database, in name order.
    pub fn clients_of<'a>(&'a self, db: &'a Database) -> impl Iterator<Item = &'a Client> + 'a {
        self.clients.iter().filter(move |c| c.reaches(db))
    }

    pub fn cache_clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.iter().filter(|c| c.cache)
    }

    /// Whether servers demand client certificates in `env` (the base when `None`).
    pub fn client_certificates(&self, env: Option<&str>) -> bool {
        env.and_then(|name| self.environments.iter().find(|e| e.name.as_str() == name))
            .map_or(self.tls.client_certificates, |e| e.client_certificates)
    }

    /// A client's profile for a database: its own role, and its certificate files.
    pub fn client_database_profile(&self, client: &Client, db: &Database) -> ClientProfile {
        ClientProfile {
            database: Some((db.database_name(), client.role_name())),
            certificate: Some(client.certificate_dir()),
            ..self.database_profile(db)
        }
    }

    pub fn client_cache_profile(&self, client: &Client, cache: &Cache) -> ClientProfile {
        ClientProfile {
            certificate: Some(client.certificate_dir()),
            user: Some(client.role_name()),
            ..self.cache_profile(cache)
        }
    }
}

/// `[backup]`: pgBackRest for every database that does not opt out, with the policy of the base
/// and the one each environment resolves to (its own keys over the base's).
#[derive(Clone, Debug, PartialEq)]
pub struct Backup {
    /// PostgreSQL of the declared major version plus pgbackrest: the database container's image.
    pub image: Image,
    /// The databases backed up (all but those with `backup = false`).
    pub databases: BTreeSet<DnsLabel>,
    pub policy: BackupPolicy,
    /// By environment name: the policy of its overlay.
    pub environments: BTreeMap<String, BackupPolicy>,
}

/// Where and how often one environment's backups go, and how long they stay.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupPolicy {
    pub repository: Repository,
    pub full: Cron,
    pub differential: Cron,
    /// Full backups kept (`repo1-retention-full`); at least 1.
    pub retention_full: u8,
    /// `archive_timeout` in seconds: the longest a quiet database leaves WAL unarchived.
    pub archive_timeout_seconds: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Repository {
    /// A volume per database in the cluster: no disaster recovery.
    Volume {
        storage: Quantity,
        storage_class: Option<String>,
    },
    S3(S3Repository),
}

impl Repository {
    pub fn type_name(&self) -> &'static str {
        match self {
            Repository::Volume { .. } => "volume",
            Repository::S3(_) => "s3",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Repository {
    pub bucket: String,
    pub endpoint: String,
    pub region: String,
    /// The repository's path in the bucket (`repo1-path`), starting with `/`.
    pub path: String,
    /// `host` (virtual-hosted) or `path` (`repo1-s3-uri-style`).
    pub uri_style: String,
    /// The Secret with `access_key_id` and `secret_access_key`.
    pub credentials_secret: DnsLabel,
}

/// A five-field cron expression (or `@daily`-style macro) as Kubernetes CronJobs accept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron(String);

impl Cron {
    /// Minute, hour, day of month, month, day of week: numbers, ranges, steps, lists, `*`, and
    /// month and weekday names; or one of the macros `@yearly` ... `@hourly`.
    pub fn new(text: &str) -> Result<Self, String> {
        const MACROS: [&str; 7] = [
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ];
        const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
            ("minute", 0, 59, &[]),
            ("hour", 0, 23, &[]),
            ("day of month", 1, 31, &[]),
            (
                "month",
                1,
                12,
                &[
                    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                    "dec",
                ],
            ),
            (
                "day of week",
                0,
                7,
                &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
            ),
        ];
        let text = text.trim();
        if text.starts_with('@') {
            return if MACROS.contains(&text) {
                Ok(Self(text.to_owned()))
            } else {
                Err(format!("{text} is not one of {}", MACROS.join(", ")))
            };
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "it has {} fields; a schedule has 5 (minute hour day-of-month month day-of-week)",
                fields.len()
            ));
        }
        for (field, (what, low, high, names)) in fields.iter().zip(FIELDS) {
            let number = |part: &str| -> Result<u32, String> {
                let lower = part.to_ascii_lowercase();
                let value = match names.iter().position(|n| *n == lower) {
                    Some(index) => u32::try_from(index).unwrap_or_default() + low,
                    None => part
                        .parse::<u32>()
                        .map_err(|_| format!("{what} {part:?} is not a number"))?,
                };
                if (low..=high).contains(&value) {
                    Ok(value)
                } else {
                    Err(format!("{what} {value} is outside {low}-{high}"))
                }
            };
            for item in field.split(',') {
                let (range, step) = match item.split_once('/') {
                    Some((range, step)) => (range, Some(step)),
                    None => (item, None),
                };
                if let Some(step) = step {
                    match step.parse::<u32>() {
                        Ok(step) if step > 0 => {}
                        _ => return Err(format!("{what} step {step:?} is not a positive number")),
                    }
                }
                if range == "*" {
                    continue;
                }
                match range.split_once('-') {
                    Some((from, to)) => {
                        if number(from)? > number(to)? {
                            return Err(format!("{what} range {range} runs backwards"));
                        }
                    }
                    None => {
                        number(range)?;
                    }
                }
            }
        }
        Ok(Self(fields.join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Backup {
    /// Whether `db` is backed up.
    pub fn covers(&self, db: &Database) -> bool {
        self.databases.contains(&db.name)
    }

    /// The policy of `environment`, or the base's.
    pub fn policy_for(&self, environment: Option<&str>) -> &BackupPolicy {
        environment
            .and_then(|env| self.environments.get(env))
            .unwrap_or(&self.policy)
    }
}

impl Platform {
    /// `<platform>-backup-cipher`: the repository passphrase (key `passphrase`).
    pub fn backup_cipher_secret(&self) -> String {
        format!("{}-backup-cipher", self.name)
    }

    /// The database's backup policy when it is backed up.
    pub fn backup_of(&self, db: &Database) -> Option<&Backup> {
        self.backup.as_ref().filter(|b| b.covers(db))
    }
}
