//! Every problem a value check can find, as a typed kind with the facts its text is made of, and
//! the one place that turns a kind into words (code, severity, message, label, help, other
//! places). Checks construct kinds; they never write diagnostic text themselves.

use std::ops::Range;

use super::{Code, Diagnostic, Severity};
use crate::model::KeyAlgorithm;

/// What a check found wrong with a value, and the facts the text needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A required key is absent from the table that should hold it (`table` as the label says
    /// it: `[platform]`, `this [[database]]`).
    MissingKey {
        table: String,
        key: String,
        missing: Missing,
    },
    NotDnsLabel {
        written: String,
        problem: String,
        /// The written name made lowercase with `-`, when that is a valid label.
        suggestion: Option<String>,
    },
    /// A database or cache name that is a DNS-1123 label starting with a digit: the Service
    /// named after it must be a DNS-1035 label, which starts with a letter.
    ServiceNameStartsWithDigit {
        written: String,
        /// The name behind a letter prefix (`db-123`), as an example of a valid one.
        example: String,
    },
    NameTooLong {
        written: String,
        suffix: String,
        max: usize,
    },
    NotDomain {
        written: String,
        problem: String,
    },
    NotStorageClass {
        written: String,
        problem: String,
    },
    UnsupportedVersion {
        problem: String,
        supported: (u8, u8),
    },
    ImageLatest {
        written: String,
        repository: String,
    },
    ImageUntagged {
        written: String,
        repository: String,
    },
    ImageInvalid {
        written: String,
        problem: String,
        has_digest: bool,
        /// The reference in lowercase, when that one is valid.
        lowercase: Option<String>,
    },
    ImageVersionMismatch {
        tag: String,
        image_major: u8,
        version: u8,
        version_at: Range<usize>,
    },
    NotPositive {
        what: String,
        written: String,
        bytes: bool,
    },
    BareBytes {
        what: String,
        written: String,
        unit: &'static str,
    },
    Millibytes {
        what: String,
        written: String,
    },
    NotQuantity {
        what: String,
        problem: String,
        /// The quantity most likely meant (`2Gi` for `2GB`).
        near: Option<String>,
        bytes: bool,
    },
    RequestAboveLimit {
        what: &'static str,
        request: String,
        limit: String,
        /// Where the limit was written, when both request and limit were.
        limit_at: Option<Range<usize>>,
        /// The limit is bakeryc's default.
        limit_defaulted: bool,
    },
    ExtensionNotInContrib {
        name: String,
        major: u8,
        advice: ExtensionAdvice,
    },
    NotExtension {
        problem: String,
        lowercase: Option<String>,
    },
    InvalidChoice {
        written: String,
        key: String,
        choices: &'static [&'static str],
        near: Option<&'static str>,
    },
    NotStatementDuration {
        written: String,
    },
    NotPeriod {
        written: String,
        problem: String,
    },
    TlsDeprecated {
        number: String,
    },
    TlsSsl {
        written: String,
    },
    NotTlsVersion {
        written: String,
    },
    WeakRsa {
        bits: u32,
    },
    KeyMisspelt {
        written: String,
        spelled: &'static str,
    },
    NotKeyAlgorithm {
        written: String,
        near: Option<&'static str>,
    },
    ReservedSetting {
        name: String,
    },
    UnknownSetting {
        name: String,
        major: u8,
        advice: SettingAdvice,
    },
    SettingOnSeveralLines,
    SettingNotFinite,
    MissingPlatform,
    NoDatabases,
    /// A value of an adopt table that cannot name what it should.
    AdoptInvalid {
        key: &'static str,
        written: String,
        problem: String,
    },
    /// `storage` or `storage_class` beside an adopted claim.
    AdoptStorage {
        key: &'static str,
        adopt_at: Range<usize>,
    },
    /// An adopted name that another workload takes too.
    AdoptCollision {
        /// What kind of name: `PersistentVolumeClaim`, `Deployment`, `Service`, `database`, `role`.
        what: &'static str,
        name: String,
        /// The other workload (`database `auth``).
        owner: String,
        first: Range<usize>,
    },
    /// A change the deployed tree (generated/ on disk) cannot take: the cluster or PostgreSQL
    /// would refuse it ([`crate::plan`]).
    Refused {
        /// The workloads and environments it happens in, in words (`auth-db in dev, prod`).
        at: String,
        /// The first workload, for the help's example.
        workload: String,
        refusal: crate::plan::Refusal,
    },
    /// No [postgres] table, and the first database lacks these required keys (key, example).
    MissingPostgres {
        missing: Vec<(&'static str, &'static str)>,
    },
    /// No database sets a required key, and neither does [postgres].
    MissingEverywhere {
        key: &'static str,
        example: &'static str,
    },
    DuplicateDatabase {
        name: String,
        first: Range<usize>,
    },
    FqdnTooLong {
        service: String,
        namespace: String,
        length: usize,
    },
    ReservedLabel {
        key: String,
    },
    NotLabelKey {
        written: String,
        problem: String,
    },
    NotLabelValue {
        written: String,
        problem: String,
    },
    /// A `[[client]]` name declared twice.
    DuplicateClient {
        name: String,
        first: Range<usize>,
    },
    /// A client named like a workload, a role or a built-in user (`by` says which).
    ClientNameTaken {
        name: String,
        by: String,
    },
    ClientUnknownDatabase {
        client: String,
        database: String,
        declared: Vec<String>,
        near: Option<String>,
    },
    ClientWithoutCache {
        client: String,
    },
    /// No databases and no cache.
    ClientReachesNothing {
        client: String,
        example: String,
    },
    /// `selector = {}`: it would select every pod of the namespace.
    EmptySelector,
    /// With `[[client]]` declared, no client reaches this database.
    DatabaseWithoutClient {
        database: String,
    },
    /// The cache is named like a database's workload (`orders-db`).
    CacheReplacesDatabase {
        cache: String,
        database: String,
        workload: String,
        cache_at: Range<usize>,
        /// The cache's name is the default, not written.
        defaulted: bool,
    },
    DatabaseNamedLikeCache {
        name: String,
        cache_at: Range<usize>,
        defaulted: bool,
    },
    LogStatementAll,
    ClientAuthRequired,
    /// `store` or `remote_key` written where nothing reads it.
    SecretsKeyWithoutProvider {
        key: String,
    },
    /// `[environments.E] destination` without `[gitops]`.
    DestinationWithoutGitops {
        environment: String,
    },
    /// A destination namespace other than the one every object names.
    /// A backup schedule that is not a five-field cron expression.
    InvalidCron {
        written: String,
        problem: String,
    },
    /// A `[backup]` number out of its sensible range (`retention`, `archive_timeout`).
    BackupValue {
        key: &'static str,
        written: String,
        problem: &'static str,
        example: &'static str,
    },
    /// A backup image whose tag does not say its PostgreSQL major version.
    BackupImageUnchecked {
        written: String,
        version: u8,
    },
    DestinationNamespace {
        written: String,
        namespace: String,
    },
    /// A `remote_key` that would give every workload the same password.
    RemoteKeyWithoutWorkload {
        written: String,
    },
    LongCaValidity {
        period: String,
    },
    LongServerValidity {
        period: String,
    },
    CommonName,
    /// The CA common name holds a control character (newline, ESC, DEL, C1).
    CommonNameControl {
        written: String,
        character: char,
    },
    /// A validity that would end after 9999-12-31, the last date X.509 can hold.
    ValidityTooLong {
        period: String,
    },
    /// An `[environments.E] trusted_cas` entry that is not a SHA-256 fingerprint.
    NotFingerprint {
        written: String,
    },
    /// `[tls.cert_manager]` is written while `bakeryc secrets` issues the certificates.
    CertManagerUnused,
    /// A lifetime cert-manager refuses: a Certificate's `duration` below 1h or `renewBefore`
    /// below 5m (`what` names the key, `minimum` its floor).
    CertManagerMinimum {
        what: &'static str,
        written: String,
        minimum: &'static str,
    },
    /// The server certificate would outlive its CA.
    ValidityOrder {
        server: String,
        ca: String,
        written: Written,
    },
    /// renew_before is not shorter than the server validity.
    RenewOrder {
        renew: String,
        validity: String,
        written: Written,
    },
    UnknownDatabase {
        environment: String,
        database: String,
        declared: Vec<String>,
        near: Option<String>,
    },
    UnknownCache {
        environment: String,
    },
    /// A value of the wrong TOML type.
    WrongType {
        path: String,
        expected: &'static str,
        found: &'static str,
        fix: TypeFix,
    },
    NotArrayOfTables {
        path: String,
        key: String,
        found: &'static str,
        /// `[database]` was written: one table instead of an array of them.
        single: bool,
    },
    /// A value of a table of named tables (`[environments.NAME]`) that is not a table.
    NotNamedTable {
        path: String,
        parent: String,
        found: &'static str,
    },
    /// A `[postgres.settings]` value that is an array or a table.
    SettingNotScalar {
        path: String,
        name: String,
        found: &'static str,
        array: bool,
    },
    UnknownKey {
        path: String,
        name: String,
        /// `[platform]`, `[[database]]`, or `the top level`.
        table: String,
        known: Vec<&'static str>,
        hint: KeyHint,
    },
    /// TOML that does not parse; `message` is the parser's.
    Syntax {
        message: String,
        mistake: SyntaxMistake,
    },
}

/// The fix for a value of the wrong type.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeFix {
    /// `storage = 2`: a number meant as gibibytes.
    SizeWithUnit {
        written: String,
    },
    /// A name or version written as a number: the same text in quotes.
    Quote {
        key: String,
        written: String,
    },
    /// `version = 17.2`: the major version only.
    MajorOnly {
        major: String,
    },
    /// `version = "17"`: the value without its quotes.
    Unquote {
        key: String,
        unquoted: String,
    },
    /// A table key written as a value: an example inline table.
    TableExample {
        key: String,
        example: &'static str,
    },
    /// A table written as a value: its header.
    TableHeader {
        path: String,
    },
    Example {
        key: String,
        example: &'static str,
    },
    Generic,
}

/// What an unknown key most likely is.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyHint {
    /// A password or key: bakery.toml holds none.
    Secret,
    /// A misspelling of a key of this table.
    Near(&'static str),
    /// A key of another table.
    Home(String),
    /// A postgresql.conf setting written in [postgres] or [[database]].
    PostgresSetting,
    /// A misspelling of a key of another table.
    NearElsewhere {
        near: &'static str,
        home: String,
    },
    None,
}

/// The usual causes of a TOML syntax error, recognised from the parser's message.
#[derive(Clone, Debug, PartialEq)]
pub enum SyntaxMistake {
    DuplicateKey {
        written: String,
        first: Option<Range<usize>>,
    },
    Unquoted {
        key: Option<String>,
        written: String,
    },
    UnclosedString,
    UnclosedArrayTable,
    UnclosedTable,
    UnclosedInlineTable,
    UnclosedArray,
    MissingComma,
    ExtraComma,
    ExtraEquals,
    MissingValue,
    MissingEquals,
    TooDeep,
    ExpectedNewline,
    InvalidKey,
    Other,
}

/// Which of two compared periods bakery.toml wrote; the diagnostic is at the first one written.
#[derive(Clone, Debug, PartialEq)]
pub enum Written {
    /// The shorter one (reported at), and where the longer one is when written too.
    Shorter { longer_at: Option<Range<usize>> },
    /// Only the longer one; the shorter is the default.
    Longer,
    /// Neither: both are defaults.
    Neither,
}

/// Which required key is missing, and what to write.
#[derive(Clone, Debug, PartialEq)]
pub enum Missing {
    /// A key of a section (`platform.name`), with an example value and why it is needed.
    InSection {
        path: &'static str,
        example: &'static str,
        why: &'static str,
    },
    DatabaseName,
    /// A key every database needs, from its `[[database]]` or `[postgres]`.
    ForDatabase {
        what: String,
        example: &'static str,
    },
}

/// What to do about an extension outside the declared version's contrib set.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtensionAdvice {
    /// A well-known third-party extension, and where it comes from.
    ThirdParty(&'static str),
    /// Shipped from this later version on.
    From(u8),
    /// Shipped by these versions only.
    Only(u8, u8),
    Near(String),
    CheckName,
}

/// What to do about a setting the declared version does not have.
#[derive(Clone, Debug, PartialEq)]
pub enum SettingAdvice {
    From(u8),
    RemovedAfter(u8),
    Near(String),
    Remove,
}

/// The words of a refusal ([`Kind::Refused`]).
fn refused(at: &str, workload: &str, refusal: &crate::plan::Refusal) -> Text {
    use crate::plan::Refusal;
    let message = format!("{at}: {refusal}");
    match refusal {
        Refusal::Shrink { from, .. } => Text::error(
            Code::VolumeShrink,
            message,
            format!("smaller than the deployed {from}"),
        )
        .help(format!(
            "keep at least {from}: Kubernetes only grows claims (to use less, move the data to a new database and retire this one)"
        )),
        Refusal::StorageClass { from, .. } => Text::error(
            Code::StorageClassChange,
            message,
            format!("the deployed claim uses {from}"),
        )
        .help(format!(
            "keep storage_class = \"{from}\" for this volume; to move the data, restore it into a new database on the new class and retire this one"
        )),
        Refusal::Selector { .. } => Text::error(
            Code::SelectorChange,
            message,
            "the deployed selector differs",
        )
        .help("delete the deployed workload by hand before applying (its volume claim stays)"),
        Refusal::Downgrade { from, .. } => Text::error(
            Code::VersionDowngrade,
            message,
            format!("the deployed data directory is PostgreSQL {from}"),
        )
        .help(format!(
            "declare version = {from} (or later); to go back, restore a dump into a new database"
        )),
        Refusal::MajorUpgrade { from, to } => Text::error(
            Code::MajorUpgrade,
            message,
            format!("the deployed data directory is PostgreSQL {from}"),
        )
        .help(format!(
            "follow docs/upgrade.md ({from} to {to}: back up, dump, then `bakeryc build --allow-major-upgrade` and restore)"
        )),
        Refusal::Orphaned { .. } => Text::error(
            Code::OrphanedVolume,
            message,
            format!("no [[database]] deploys {workload} and its volume claim any more"),
        )
        .help(format!(
            "declare it again with `retired = true` to drop it deliberately (back it up first), e.g.\n[[database]]\nname = \"{}\"\nretired = true",
            workload.strip_suffix("-db").unwrap_or(workload)
        )),
        Refusal::Replaced { claim, .. } => Text::error(
            Code::OrphanedVolume,
            message,
            format!("{workload} runs on the claim {claim} that bakeryc made"),
        )
        .help(format!(
            "keep {workload} on {claim} (remove [database.adopt] / [cache.adopt]); to really move it, back up, build once with `retired = true` and declare it again with its adoption (docs/adopt.md)"
        )),
        Refusal::AdoptedName { key, from, .. } => Text::error(
            Code::AdoptedNameChange,
            message,
            format!("the deployed tree adopted {key} {from}"),
        )
        .help(format!(
            "keep {key} = \"{from}\": adopted names are fixed once deployed (docs/adopt.md, \"Changing adopted names\")"
        )),
        Refusal::AdoptionDropped { claim, .. } => Text::error(
            Code::AdoptionDropped,
            message,
            format!("the deployed tree adopted the claim {claim}"),
        )
        .help(format!(
            "keep the adopt table (claim = \"{claim}\"); to leave the adopted claim, follow docs/adopt.md (\"Changing adopted names\")"
        )),
    }
}

/// A kind's words.
struct Text {
    code: Code,
    severity: Severity,
    message: String,
    label: String,
    help: Option<String>,
    secondary: Vec<(Range<usize>, String)>,
}

impl Text {
    fn error(code: Code, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            label: label.into(),
            help: None,
            secondary: Vec::new(),
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl Diagnostic {
    /// The one constructor of a check's diagnostic: a kind at a span.
    pub fn of(span: Range<usize>, kind: &Kind) -> Self {
        let text = kind.text();
        let mut diagnostic =
            Self::new(text.code, text.severity, span, text.message).with_label(text.label);
        if let Some(help) = text.help {
            diagnostic = diagnostic.with_help(help);
        }
        for (span, label) in text.secondary {
            diagnostic = diagnostic.with_secondary(span, label);
        }
        diagnostic
    }
}

impl Kind {
    #[allow(
        clippy::match_same_arms,
        reason = "each kind says its own text, even where two read alike"
    )]
    fn text(&self) -> Text {
        match self {
            Self::MissingKey {
                table,
                key,
                missing,
            } => {
                let (message, help) = match missing {
                    Missing::InSection { path, example, why } => (
                        format!("missing `{path}.{key}`"),
                        format!("add `{key} = {example}` under [{path}]{why}"),
                    ),
                    Missing::DatabaseName => (
                        "missing `database.name`".to_owned(),
                        "add `name = \"...\"` to this [[database]]: it names the workload, Service, database and role".to_owned(),
                    ),
                    Missing::ForDatabase { what, example } => (
                        format!("missing `{key}` for {what}"),
                        format!(
                            "add `{key} = {example}` to this [[database]], or under [postgres] for every database"
                        ),
                    ),
                };
                Text::error(Code::MissingKey, message, format!("{table} has no `{key}`")).help(help)
            }
            Self::NotDnsLabel {
                written,
                problem,
                suggestion,
            } => {
                let text = Text::error(
                    Code::InvalidName,
                    format!("{written:?} is not a DNS-1123 label: it {problem}"),
                    "not a valid Kubernetes name",
                );
                match suggestion {
                    Some(suggestion) => text.help(format!(
                        "use lowercase letters, digits and '-', e.g. \"{suggestion}\""
                    )),
                    None => text,
                }
            }
            Self::ServiceNameStartsWithDigit { written, example } => Text::error(
                Code::InvalidName,
                format!("{written:?} starts with a digit; the Service named after it would too"),
                "not a valid Service name",
            )
            .help(format!(
                "Service names are DNS-1035 labels: they start with a lowercase letter, then lowercase letters, digits and '-'; e.g. \"{example}\""
            )),
            Self::NameTooLong {
                written,
                suffix,
                max,
            } => Text::error(
                Code::NameTooLong,
                format!(
                    "{written:?} is {} characters; derived names allow at most {max}",
                    written.len()
                ),
                format!("\"{written}{suffix}\" would exceed 63 characters"),
            )
            .help(format!("shorten the name to {max} characters or fewer")),
            Self::NotDomain { written, problem } => Text::error(
                Code::InvalidName,
                format!("{written:?} is not a DNS domain: {problem}"),
                "not a DNS domain",
            )
            .help("use the cluster's DNS domain, usually \"cluster.local\""),
            Self::NotStorageClass { written, problem } => Text::error(
                Code::InvalidName,
                format!("storage class {written:?} is not a valid name: {problem}"),
                "not a StorageClass name",
            )
            .help("use the name shown by `kubectl get storageclass`"),
            Self::UnsupportedVersion {
                problem,
                supported: (first, last),
            } => Text::error(
                Code::UnsupportedVersion,
                problem,
                "unsupported PostgreSQL major version",
            )
            .help(format!("use a major version from {first} to {last}")),
            Self::ImageLatest {
                written,
                repository,
            } => Text::error(
                Code::ImageLatest,
                format!("image {written:?} is tagged `latest`"),
                "`latest` is not a version",
            )
            .help(format!(
                "pin a version, e.g. \"{repository}:<version>\", or a digest"
            )),
            Self::ImageUntagged {
                written,
                repository,
            } => Text::error(
                Code::ImageLatest,
                format!("image {written:?} has no tag or digest"),
                "means `latest`",
            )
            .help(format!(
                "pin a version, e.g. \"{repository}:<version>\", or a digest"
            )),
            Self::ImageInvalid {
                written,
                problem,
                has_digest,
                lowercase,
            } => {
                let text = Text::error(
                    Code::ImageInvalid,
                    format!("{written:?} is not an image reference: {problem}"),
                    "malformed image reference",
                );
                match (has_digest, lowercase) {
                    (true, _) => text.help(
                        "a digest is sha256: followed by 64 lowercase hex digits, as `docker buildx imagetools inspect <image>` prints it, e.g. postgres:17.2-alpine@sha256:<64 hex digits>",
                    ),
                    (false, Some(lower)) => text.help(format!("did you mean \"{lower}\"?")),
                    (false, None) => text,
                }
            }
            Self::ImageVersionMismatch {
                tag,
                image_major,
                version,
                version_at,
            } => Text {
                severity: Severity::Warning,
                secondary: vec![(
                    version_at.clone(),
                    format!("settings are written for PostgreSQL {version}"),
                )],
                ..Text::error(
                    Code::ImageVersionMismatch,
                    format!(
                        "image tag {tag:?} is PostgreSQL {image_major}, but `version` is {version}"
                    ),
                    format!("runs PostgreSQL {image_major}"),
                )
                .help(format!(
                    "use a postgres:{version}.x image, or set version = {image_major}"
                ))
            },
            Self::NotPositive {
                what,
                written,
                bytes,
            } => {
                let example = if *bytes { "\"1Gi\"" } else { "\"100m\"" };
                Text::error(
                    Code::NonPositiveQuantity,
                    format!("{what} {written:?} is not greater than zero"),
                    "must be greater than zero",
                )
                .help(format!("use a {what} greater than zero, e.g. {example}"))
            }
            Self::BareBytes {
                what,
                written,
                unit,
            } => Text::error(
                Code::InvalidQuantity,
                format!("{what} {written:?} is less than a mebibyte"),
                "a size without a binary unit is counted in bytes",
            )
            .help(format!(
                "did you mean {written}{unit}? Sizes are written in Ki, Mi, Gi or Ti"
            )),
            Self::Millibytes { what, written } => {
                let number = written.trim_end_matches('m');
                Text::error(
                    Code::InvalidQuantity,
                    format!("{what} {written:?} means {number} thousandths of a byte"),
                    "`m` is milli, not mega",
                )
                .help(format!(
                    "did you mean {number}Mi? Sizes are written in Ki, Mi, Gi or Ti"
                ))
            }
            Self::NotQuantity {
                what,
                problem,
                near,
                bytes,
            } => {
                let help = match near {
                    Some(near) if *bytes || !near.ends_with('i') => format!(
                        "did you mean {near}? Kubernetes writes binary sizes as Ki, Mi, Gi, Ti"
                    ),
                    _ if *bytes => "write a size such as \"512Mi\" or \"2Gi\"".to_owned(),
                    _ => "write CPU as cores (\"1\", \"0.5\") or millicores (\"500m\")".to_owned(),
                };
                Text::error(
                    Code::InvalidQuantity,
                    format!("{what}: {problem}"),
                    "not a Kubernetes quantity",
                )
                .help(help)
            }
            Self::RequestAboveLimit {
                what,
                request,
                limit,
                limit_at,
                limit_defaulted,
            } => {
                let mut text = Text::error(
                    Code::RequestAboveLimit,
                    format!("{what} request {request} is above the {what} limit {limit}"),
                    "request above limit",
                )
                .help(format!(
                    "lower the {what} request to at most {limit}, or raise the limit"
                ));
                if let Some(at) = limit_at {
                    text.secondary.push((at.clone(), "limit set here".to_owned()));
                } else if *limit_defaulted {
                    text = text.help(format!(
                        "the {what} limit defaults to {limit}: lower the request or set a limit explicitly"
                    ));
                }
                text
            }
            Self::ExtensionNotInContrib {
                name,
                major,
                advice,
            } => {
                let help = match advice {
                    ExtensionAdvice::ThirdParty(source) => format!(
                        "`{name}` is not part of contrib: use {source}, and ignore this warning once the image has it"
                    ),
                    ExtensionAdvice::From(first) => format!(
                        "`{name}` ships with PostgreSQL {first} and later: remove it, or declare a version that has it"
                    ),
                    ExtensionAdvice::Only(first, last) => {
                        format!("`{name}` ships with PostgreSQL {first} to {last} only: remove it")
                    }
                    ExtensionAdvice::Near(near) => format!(
                        "did you mean \"{near}\"? If the image adds `{name}` itself, ignore this warning"
                    ),
                    ExtensionAdvice::CheckName => format!(
                        "check the name; if the image adds `{name}` itself, ignore this warning"
                    ),
                };
                Text {
                    severity: Severity::Warning,
                    ..Text::error(
                        Code::UnknownExtension,
                        format!("extension {name:?} is not in the PostgreSQL {major} contrib set"),
                        "CREATE EXTENSION may fail",
                    )
                    .help(help)
                }
            }
            Self::NotExtension { problem, lowercase } => {
                Text::error(Code::UnknownExtension, problem, "not an extension name").help(
                    match lowercase {
                        Some(lower) => {
                            format!("did you mean \"{lower}\"? Extension names are lowercase")
                        }
                        None => {
                            "extension names are lowercase letters, digits, '_' and '-'".to_owned()
                        }
                    },
                )
            }
            Self::InvalidChoice {
                written,
                key,
                choices,
                near,
            } => {
                let quoted: Vec<String> = choices.iter().map(|n| format!("\"{n}\"")).collect();
                let help = did_you_mean(
                    near.map(|n| format!("\"{n}\"")),
                    &format!("`{key}` is one of {}", quoted.join(", ")),
                );
                Text::error(
                    Code::InvalidChoice,
                    format!("{written:?} is not a valid `{key}`"),
                    "unknown value",
                )
                .help(help)
            }
            Self::NotStatementDuration { written } => Text::error(
                Code::InvalidDuration,
                format!("{written:?} is not a duration"),
                "expected a duration such as 500ms or 2s, or \"off\"",
            )
            .help("write log_min_duration = \"500ms\" (statements at least this slow are logged) or \"off\""),
            Self::NotPeriod { written, problem } => {
                let zero = problem.ends_with("must be longer than zero");
                let message = if zero {
                    problem.clone()
                } else {
                    format!("{written:?} is not a duration")
                };
                Text::error(
                    Code::InvalidDuration,
                    message,
                    if zero { "not longer than zero" } else { "not a duration" },
                )
                .help("write a number and a unit: y (years), mo (months), w, d, h, e.g. \"10y\", \"3y\", \"90d\"")
            }
            Self::TlsDeprecated { number } => Text::error(
                Code::TlsMinVersion,
                format!("TLS {number} is deprecated and insecure"),
                "below TLS 1.2",
            )
            .help("use min_version = \"1.2\" (or \"1.3\" when every client supports it)"),
            Self::TlsSsl { written } => Text::error(
                Code::TlsMinVersion,
                format!("{written:?} is SSL, broken since 2014"),
                "below TLS 1.2",
            )
            .help("use min_version = \"1.2\" or \"1.3\""),
            Self::NotTlsVersion { written } => Text::error(
                Code::TlsMinVersion,
                format!("{written:?} is not a TLS version"),
                "unknown TLS version",
            )
            .help("use min_version = \"1.2\" or \"1.3\""),
            Self::WeakRsa { bits } => Text::error(
                Code::KeyAlgorithm,
                format!("RSA {bits} is too weak"),
                "fewer than 2048 bits",
            )
            .help("RSA keys must have at least 2048 bits: use rsa-2048, rsa-3072 or rsa-4096 (or ecdsa-p256)"),
            Self::KeyMisspelt { written, spelled } => Text::error(
                Code::KeyAlgorithm,
                format!("{written:?} is not spelled as bakeryc expects"),
                "spelt differently",
            )
            .help(format!("write key = \"{spelled}\"")),
            Self::NotKeyAlgorithm { written, near } => Text::error(
                Code::KeyAlgorithm,
                format!("{written:?} is not a key algorithm"),
                "unknown key algorithm",
            )
            .help(did_you_mean(
                near.map(|n| format!("\"{n}\"")),
                &format!("key algorithms: {}", KeyAlgorithm::NAMES.join(", ")),
            )),
            Self::ReservedSetting { name } => Text::error(
                Code::ReservedSetting,
                format!("`{name}` is managed by bakeryc"),
                "cannot be overridden",
            )
            .help("remove it: bakeryc sets it from [tls], [postgres.audit] and its own hardening"),
            Self::UnknownSetting {
                name,
                major,
                advice,
            } => Text::error(
                Code::UnknownSetting,
                format!("PostgreSQL {major} has no setting `{name}`"),
                "the server would refuse to start",
            )
            .help(match advice {
                SettingAdvice::From(first) => format!(
                    "`{name}` exists from PostgreSQL {first} on: remove it, or declare version = {first} with a matching image"
                ),
                SettingAdvice::RemovedAfter(last) => {
                    format!("`{name}` was removed after PostgreSQL {last}: remove it")
                }
                SettingAdvice::Near(near) => format!("did you mean `{near}`?"),
                SettingAdvice::Remove => format!(
                    "remove it: it is not a PostgreSQL {major} setting (extension settings are written with a dot, e.g. pg_stat_statements.max)"
                ),
            }),
            Self::SettingOnSeveralLines => Text::error(
                Code::InvalidSettingValue,
                "setting values must be on one line",
                "contains a line break",
            ),
            Self::SettingNotFinite => Text::error(
                Code::InvalidSettingValue,
                "PostgreSQL settings cannot be inf or nan",
                "not a finite number",
            ),
            Self::MissingPlatform => Text::error(
                Code::MissingKey,
                "missing the [platform] table",
                "expected [platform] with `name` and `namespace`",
            )
            .help("add at the top of the file:\n[platform]\nname = \"bakery-ia\"\nnamespace = \"bakery-ia\""),
            Self::AdoptInvalid {
                key,
                written,
                problem,
            } => Text::error(
                Code::AdoptInvalid,
                format!("adopt {key} {written:?} {problem}"),
                format!("not a valid {key}"),
            )
            .help(match *key {
                "data_path" => "write the data directory relative to the claim's root, e.g. \"pgdata\" (PGDATA /var/lib/postgresql/data/pgdata with the claim at /var/lib/postgresql/data), or \".\" for the root",
                "database" | "role" => "write it as `\\l` / `\\du` in psql list it: lowercase letters, digits and '_'",
                _ => "write it as `kubectl get pvc,deploy,svc` lists it",
            }),
            Self::AdoptStorage { key, adopt_at } => Text {
                secondary: vec![(adopt_at.clone(), "the claim is adopted here".to_owned())],
                ..Text::error(
                    Code::AdoptStorage,
                    format!("`{key}` beside an adopted claim"),
                    "the adopted claim keeps its own size and class",
                )
                .help(format!("remove `{key}` from this table; resize the claim itself with `kubectl patch pvc` if it needs more room"))
            },
            Self::AdoptCollision {
                what,
                name,
                owner,
                first,
            } => Text {
                secondary: vec![(first.clone(), format!("{owner} uses {what} `{name}`"))],
                ..Text::error(
                    Code::AdoptCollision,
                    format!("{what} `{name}` belongs to two workloads"),
                    "named here as well",
                )
                .help(format!("each {what} belongs to one workload: check the names with `kubectl get pvc,deploy,svc` (or `\\l`, `\\du` in psql) and adopt each once"))
            },
            Self::Refused {
                at,
                workload,
                refusal,
            } => refused(at, workload, refusal),
            Self::NoDatabases => Text::error(
                Code::NoDatabases,
                "no database is declared",
                "expected at least one [[database]]",
            )
            .help("add a database:\n[[database]]\nname = \"auth\""),
            Self::MissingPostgres { missing } => {
                let lines: Vec<String> = missing.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                let keys: Vec<String> = missing.iter().map(|(k, _)| format!("`{k}`")).collect();
                Text::error(
                    Code::MissingKey,
                    format!(
                        "missing the [postgres] table: no database sets {}",
                        keys.join(", ")
                    ),
                    "no [postgres] defaults, and this database does not set them",
                )
                .help(format!(
                    "add the defaults every database shares:\n[postgres]\n{}",
                    lines.join("\n")
                ))
            }
            Self::MissingEverywhere { key, example } => Text::error(
                Code::MissingKey,
                format!("missing `postgres.{key}`: no database sets `{key}`"),
                format!("[postgres] has no `{key}`"),
            )
            .help(format!(
                "add `{key} = {example}` under [postgres] to give every database a default, or set it in each [[database]]"
            )),
            Self::DuplicateDatabase { name, first } => Text {
                secondary: vec![(first.clone(), "first declared here".to_owned())],
                ..Text::error(
                    Code::DuplicateName,
                    format!("database `{name}` is declared twice"),
                    "declared again here",
                )
                .help("rename or remove one of the two [[database]] entries")
            },
            Self::FqdnTooLong {
                service,
                namespace,
                length,
            } => Text::error(
                Code::InvalidName,
                format!("the Service name {service}.{namespace}.svc.<cluster_domain> would be {length} characters; DNS allows 253"),
                "too long for the certificates' DNS names",
            )
            .help("use the cluster's real DNS domain, usually \"cluster.local\""),
            Self::ReservedLabel { key } => Text::error(
                Code::ReservedLabel,
                format!("`{key}` is set by bakeryc on every object"),
                "managed by bakeryc",
            )
            .help("remove it: selectors and NetworkPolicies rely on bakeryc's value; use a label of your own, e.g. example.com/team"),
            Self::NotLabelKey { written, problem } => Text::error(
                Code::InvalidName,
                format!("{written:?} is not a Kubernetes label key: it {problem}"),
                "not a label key",
            )
            .help("write a name of letters, digits, '-', '_' and '.' (at most 63), optionally after a DNS prefix and '/', e.g. example.com/team"),
            Self::NotLabelValue { written, problem } => Text::error(
                Code::InvalidName,
                format!("{written:?} is not a Kubernetes label value: it {problem}"),
                "not a label value",
            )
            .help("write at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or \"\""),
            Self::DuplicateClient { name, first } => Text {
                secondary: vec![(first.clone(), "first declared here".to_owned())],
                ..Text::error(
                    Code::DuplicateClient,
                    format!("client `{name}` is declared twice"),
                    "declared again here",
                )
                .help("merge the two [[client]] entries: list every database in one `databases`")
            },
            Self::ClientNameTaken { name, by } => Text::error(
                Code::ClientNameTaken,
                format!("client `{name}` would take the name of {by}"),
                "name already in use",
            )
            .help("name the client after the service, e.g. \"orders-service\""),
            Self::ClientUnknownDatabase {
                client,
                database,
                declared,
                near,
            } => Text::error(
                Code::ClientUnknownTarget,
                format!("client `{client}` names database `{database}`, which is not declared"),
                "no [[database]] has this name",
            )
            .help(did_you_mean(
                near.as_ref().map(|n| format!("`{n}`")),
                &format!("declared databases: {}", declared.join(", ")),
            )),
            Self::ClientWithoutCache { client } => Text::error(
                Code::ClientUnknownTarget,
                format!("client `{client}` reaches the cache, but no [cache] is declared"),
                "there is no [cache]",
            )
            .help("declare a [cache], or remove `cache = true`"),
            Self::ClientReachesNothing { client, example } => Text::error(
                Code::ClientReachesNothing,
                format!("client `{client}` reaches no database and not the cache"),
                "nothing to reach",
            )
            .help(format!(
                "add what it connects to, e.g. `databases = [\"{example}\"]` or `cache = true`, or remove the [[client]]"
            )),
            Self::EmptySelector => Text::error(
                Code::EmptySelector,
                "an empty selector would admit every pod of the namespace",
                "selects every pod",
            )
            .help("name the labels of the service's pods, e.g. selector = { app = \"orders\" }, or remove `selector` to use app.kubernetes.io/name = <name>"),
            Self::DatabaseWithoutClient { database } => Text {
                severity: Severity::Warning,
                ..Text::error(
                    Code::DatabaseWithoutClient,
                    format!("no [[client]] reaches database `{database}`: its network policy admits no pod"),
                    "no client declares it",
                )
                .help(format!(
                    "add \"{database}\" to the `databases` of the service that uses it, or remove the database"
                ))
            },
            Self::CacheReplacesDatabase {
                cache,
                database,
                workload,
                cache_at,
                defaulted,
            } => Text {
                secondary: vec![(
                    cache_at.clone(),
                    format!(
                        "the cache is also deployed as `{workload}`{}",
                        defaulted_name(*defaulted)
                    ),
                )],
                ..Text::error(
                    Code::NameCollision,
                    format!("the cache `{cache}` would replace the objects of database `{database}`"),
                    format!("deployed as `{workload}`, Service `{workload}-service`"),
                )
                .help(format!(
                    "rename the cache, e.g. name = \"{database}-cache\" under [cache]"
                ))
            },
            Self::DatabaseNamedLikeCache {
                name,
                cache_at,
                defaulted,
            } => Text {
                secondary: vec![(
                    cache_at.clone(),
                    format!(
                        "cache `{name}`: Service `{name}-service`{}",
                        defaulted_name(*defaulted)
                    ),
                )],
                ..Text::error(
                    Code::NameCollision,
                    format!("database `{name}` has the same name as the cache"),
                    format!("database `{name}`: Service `{name}-db-service`"),
                )
                .help(format!(
                    "rename the database or the cache: a client told to use \"{name}\" cannot know which server is meant"
                ))
            },
            Self::LogStatementAll => Text {
                severity: Severity::Warning,
                ..Text::error(
                    Code::LogStatementAll,
                    "log_statement = \"all\" writes passwords to the server log",
                    "every statement is logged, including ALTER ROLE ... PASSWORD",
                )
                .help("use log_statement = \"ddl\" or \"mod\"; use log_min_duration to find slow statements")
            },
            Self::SecretsKeyWithoutProvider { key } => Text::error(
                Code::SecretsKeyWithoutProvider,
                format!("[secrets] {key} is read by nothing here"),
                if key == "store" { "needs provider = \"external-secrets\"" } else { "needs provider = \"external-secrets\" and a store" },
            )
            .help("set provider = \"external-secrets\" (and a store for remote_key), or remove the key"),
            Self::DestinationWithoutGitops { environment } => Text::error(
                Code::DestinationWithoutGitops,
                format!("environment {environment} has a destination, but there is no [gitops]"),
                "read by nothing without [gitops]",
            )
            .help("add [gitops] with repo_url = \"...\" to get Argo CD Applications, or remove the destination"),
            Self::InvalidCron { written, problem } => Text::error(
                Code::InvalidCron,
                format!("{written:?} is not a cron schedule: {problem}"),
                "not a CronJob schedule",
            )
            .help("write minute hour day-of-month month day-of-week, e.g. \"0 1 * * 0\" (Sundays at 01:00) or \"30 2 * * 1-6\""),
            Self::BackupValue {
                key,
                written,
                problem,
                example,
            } => Text::error(
                Code::BackupValue,
                format!("[backup] {key} = {written} {problem}"),
                "out of range",
            )
            .help(format!("write e.g. {example}")),
            Self::BackupImageUnchecked { written, version } => Text {
                severity: Severity::Warning,
                ..Text::error(
                    Code::BackupImageUnchecked,
                    format!("cannot tell which PostgreSQL version the backup image {written:?} runs"),
                    format!("its tag does not start with {version}"),
                )
                .help(format!(
                    "tag the image by version (e.g. \"{version}.2-pgbackrest\") so that bakeryc can check it runs PostgreSQL {version}"
                ))
            },
            Self::DestinationNamespace { written, namespace } => Text::error(
                Code::DestinationNamespace,
                format!("destination namespace {written} is not the platform's namespace {namespace}"),
                "every generated object names its namespace",
            )
            .help(format!("remove namespace, or write namespace = \"{namespace}\"; to move the platform, change [platform] namespace")),
            Self::RemoteKeyWithoutWorkload { written } => Text::error(
                Code::RemoteKeyWithoutWorkload,
                format!("remote_key \"{written}\" gives every workload the same password"),
                "no {workload} in the key",
            )
            .help("put {workload} in it, e.g. remote_key = \"bakery/{environment}/{workload}\""),
            Self::ClientAuthRequired => Text::error(
                Code::ClientAuthContradiction,
                "client_auth = \"required\" locks every client out",
                "Redis would demand a client certificate",
            )
            .help("without `[tls] client_certificates = true` bakeryc issues no client certificates, so no service could connect: use client_auth = \"none\" (password + server-verified TLS) or \"optional\", or declare client certificates"),
            Self::LongCaValidity { period } => Text {
                severity: Severity::Warning,
                ..Text::error(
                    Code::LongValidity,
                    format!("the CA is valid for {period}, more than 30 years"),
                    "longer than 30 years",
                )
                .help("a CA of 10 to 20 years is common; a leaked CA key stays useful for its whole validity")
            },
            Self::LongServerValidity { period } => Text {
                severity: Severity::Warning,
                ..Text::error(
                    Code::LongValidity,
                    format!("server certificates are valid for {period}, more than 5 years"),
                    "longer than 5 years",
                )
                .help("use 1y to 3y and let `bakeryc secrets status` tell you when to rotate")
            },
            Self::CommonName => Text::error(
                Code::CommonName,
                "the CA common name must be 1 to 64 characters",
                "not a usable common name",
            )
            .help("use a short descriptive name such as \"Bakery IA Internal CA\""),
            Self::CommonNameControl { written, character } => Text::error(
                Code::CommonName,
                format!("{written:?} holds the control character {character:?}"),
                "control character",
            )
            .help("use printable characters only: no newline, tab, escape or other control character"),
            Self::ValidityTooLong { period } => Text::error(
                Code::ValidityTooLong,
                format!(
                    "a validity of {period} ends after 9999-12-31, the last date a certificate can hold"
                ),
                "cannot be issued",
            )
            .help(Code::ValidityTooLong.help()),
            Self::NotFingerprint { written } => Text::error(
                Code::Fingerprint,
                format!("{written:?} is not a SHA-256 fingerprint: 64 hex digits, colons allowed"),
                "not a SHA-256 fingerprint",
            )
            .help("copy the fingerprint `bakeryc secrets status` or `openssl x509 -noout -fingerprint -sha256 -in <file>` prints"),
            Self::CertManagerUnused => Text::error(
                Code::CertManagerUnused,
                "[tls.cert_manager] is set, but `bakeryc secrets` issues the certificates",
                "only read with provider = \"cert-manager\"",
            )
            .help("add `provider = \"cert-manager\"` under [tls], or remove [tls.cert_manager]"),
            Self::CertManagerMinimum {
                what,
                written,
                minimum,
            } => Text::error(
                Code::CertManagerMinimum,
                format!("{what} = {written:?} is shorter than cert-manager accepts ({minimum})"),
                format!("at least {minimum} with cert-manager"),
            )
            .help(format!(
                "write {minimum} or more: cert-manager refuses a shorter {what} and would issue nothing"
            )),
            Self::ValidityOrder {
                server,
                ca,
                written,
            } => order(
                Code::ValidityOrder,
                format!("server certificates ({server}) would outlive their CA ({ca})"),
                written,
                OrderWords {
                    shorter: (
                        "not shorter than the CA validity".to_owned(),
                        format!("make [tls.server] validity shorter than the CA's {ca}, e.g. validity = \"1y\""),
                    ),
                    longer: "CA validity",
                    longer_default: format!(
                        "the CA validity defaults to {ca}: make [tls.server] validity shorter, or set a longer [tls.ca] validity"
                    ),
                    only_longer: (
                        format!("not longer than the server validity ({server}, the default)"),
                        format!(
                            "make the CA validity longer than {server}, e.g. validity = \"10y\", or set a shorter [tls.server] validity"
                        ),
                    ),
                    neither: (
                        "default validities".to_owned(),
                        "set [tls.ca] and [tls.server] validities explicitly".to_owned(),
                    ),
                },
            ),
            Self::RenewOrder {
                renew,
                validity,
                written,
            } => {
                let help = format!(
                    "make renew_before shorter than {validity}, e.g. a quarter of it, so that certificates are renewed well before they expire"
                );
                order(
                    Code::RenewBefore,
                    format!(
                        "renew_before ({renew}) is not shorter than the server validity ({validity})"
                    ),
                    written,
                    OrderWords {
                        shorter: ("every certificate would be due at issue".to_owned(), help.clone()),
                        longer: "server validity",
                        longer_default: format!(
                            "the server validity defaults to {validity}: make renew_before shorter, e.g. renew_before = \"30d\""
                        ),
                        only_longer: (
                            format!("not longer than renew_before ({renew}, the default)"),
                            format!(
                                "make the server validity longer than {renew}, or set a shorter renew_before"
                            ),
                        ),
                        neither: ("default periods".to_owned(), help),
                    },
                )
            }
            Self::UnknownDatabase {
                environment,
                database,
                declared,
                near,
            } => Text::error(
                Code::UnknownDatabase,
                format!(
                    "environment `{environment}` overrides database `{database}`, which is not declared"
                ),
                "no [[database]] has this name",
            )
            .help(did_you_mean(
                near.as_ref().map(|n| format!("`{n}`")),
                &format!("declared databases: {}", declared.join(", ")),
            )),
            Self::UnknownCache { environment } => Text::error(
                Code::UnknownCache,
                format!(
                    "environment `{environment}` overrides a cache, but no [cache] is declared"
                ),
                "there is no [cache]",
            )
            .help("remove this table or declare a [cache]"),
            Self::WrongType {
                path,
                expected,
                found,
                fix,
            } => Text::error(
                Code::WrongType,
                format!("`{path}` must be {expected}, found {found}"),
                format!("expected {expected}"),
            )
            .help(match fix {
                TypeFix::SizeWithUnit { written } => {
                    format!("write the size with its unit, in quotes: storage = \"{written}Gi\"")
                }
                TypeFix::Quote { key, written } => {
                    format!("put the value in quotes: {key} = \"{written}\"")
                }
                TypeFix::MajorOnly { major } => {
                    format!("write the major version only: version = {major}")
                }
                TypeFix::Unquote { key, unquoted } => {
                    format!("remove the quotes: {key} = {unquoted}")
                }
                TypeFix::TableExample { key, example } => format!("write {key} = {example}"),
                TypeFix::TableHeader { path } => {
                    format!("write [{path}] as a table header and put its keys below it")
                }
                TypeFix::Example { key, example } => {
                    format!("write it like this: {key} = {example}")
                }
                TypeFix::Generic => Code::WrongType.help().to_owned(),
            }),
            Self::NotArrayOfTables {
                path,
                key,
                found,
                single,
            } => Text::error(
                Code::WrongType,
                format!("`{path}` must be an array of tables, found {found}"),
                if *single {
                    "one pair of brackets declares a single table"
                } else {
                    "expected [[database]] tables"
                },
            )
            .help(format!(
                "declare each entry with double brackets: [[{key}]] followed by its keys"
            )),
            Self::NotNamedTable {
                path,
                parent,
                found,
            } => Text::error(
                Code::WrongType,
                format!("`{path}` must be a table, found {found}"),
                "expected a table",
            )
            .help(format!(
                "`{parent}` holds one table per name: write [{path}] and put its keys below it"
            )),
            Self::SettingNotScalar {
                path,
                name,
                found,
                array,
            } => Text::error(
                Code::WrongType,
                format!("`{path}.{name}` must be a string, number or boolean, found {found}"),
                "not a single value",
            )
            .help(if *array {
                format!(
                    "write a list as one comma-separated string, as postgresql.conf does: {name} = \"a,b\""
                )
            } else {
                "write the value as one string, number or boolean".to_owned()
            }),
            Self::UnknownKey {
                path,
                name,
                table,
                known,
                hint,
            } => unknown_key(path, name, table, known, hint),
            Self::Syntax { message, mistake } => syntax(message, mistake),
        }
    }
}

/// Said after the cache's name when [cache] sets none.
fn defaulted_name(defaulted: bool) -> &'static str {
    if defaulted {
        " (its name when [cache] sets none)"
    } else {
        ""
    }
}

fn unknown_key(path: &str, name: &str, table: &str, known: &[&str], hint: &KeyHint) -> Text {
    let known_in = if table == "the top level" {
        "known keys at the top level".to_owned()
    } else {
        format!("known keys in {table}")
    };
    let (known_here, known_sentence) = if known.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("; {known_in}: {}", known.join(", ")),
            format!(
                " {}{}: {}",
                known_in[..1].to_uppercase(),
                &known_in[1..],
                known.join(", ")
            ),
        )
    };
    let (label, help) = match hint {
        KeyHint::Secret => (
            "bakery.toml holds no secrets".to_owned(),
            "remove it: bakeryc issues every password and key itself (`bakeryc secrets generate --env <env>`), so none is ever committed with bakery.toml".to_owned(),
        ),
        KeyHint::Near(near) => (
            format!("did you mean `{near}`?"),
            format!("did you mean `{near}`?{known_sentence}"),
        ),
        KeyHint::Home(home) => (
            format!("`{name}` does not belong in {table}"),
            format!("move `{name}` to {home}{known_here}"),
        ),
        KeyHint::PostgresSetting => (
            "a PostgreSQL setting, not a bakery.toml key".to_owned(),
            format!(
                "PostgreSQL settings go in their own table: [postgres.settings] (or [database.settings] for one database), e.g. {name} = ..."
            ),
        ),
        KeyHint::NearElsewhere { near, home } => (
            format!("not a key of {table}"),
            format!("did you mean `{near}`? It belongs in {home}.{known_sentence}"),
        ),
        KeyHint::None => (
            "not a bakery.toml key".to_owned(),
            format!("remove the key{known_here}"),
        ),
    };
    Text::error(Code::UnknownKey, format!("unknown key `{path}`"), label).help(help)
}

fn syntax(message: &str, mistake: &SyntaxMistake) -> Text {
    let (label, help) = match mistake {
        SyntaxMistake::DuplicateKey { written, .. } => (
            "defined again here".to_owned(),
            format!(
                "`{written}` may be defined only once: merge the two definitions into one (a table header such as [platform] appears once, with all its keys below it)"
            ),
        ),
        SyntaxMistake::Unquoted { key, written } => (
            "not quoted".to_owned(),
            match key {
                Some(key) => format!("put the text in double quotes: {key} = \"{written}\""),
                None => format!("put the text in double quotes: \"{written}\""),
            },
        ),
        SyntaxMistake::UnclosedString => (
            "the string is not closed on this line".to_owned(),
            "close the string with the quote it was opened with, on the same line".to_owned(),
        ),
        SyntaxMistake::UnclosedArrayTable => (
            "header not closed".to_owned(),
            "close the header: [[database]]".to_owned(),
        ),
        SyntaxMistake::UnclosedTable => (
            "header not closed".to_owned(),
            "close the header with `]`, e.g. [postgres]".to_owned(),
        ),
        SyntaxMistake::UnclosedInlineTable => (
            "this `{` is never closed".to_owned(),
            "close the inline table with `}` on the same line, e.g. resources = { limits = { cpu = \"1\" } }"
                .to_owned(),
        ),
        SyntaxMistake::UnclosedArray => (
            "this `[` is never closed".to_owned(),
            "close the array with `]`, e.g. extensions = [\"pgcrypto\", \"citext\"]".to_owned(),
        ),
        SyntaxMistake::MissingComma => (
            "comma expected".to_owned(),
            "separate the elements with commas".to_owned(),
        ),
        SyntaxMistake::ExtraComma => ("extra comma".to_owned(), "remove the extra comma".to_owned()),
        SyntaxMistake::ExtraEquals => (
            "extra `=`".to_owned(),
            "write `key = value` with a single `=`".to_owned(),
        ),
        SyntaxMistake::MissingValue => (
            "value expected".to_owned(),
            "write a value after `=`, e.g. storage = \"2Gi\"".to_owned(),
        ),
        SyntaxMistake::MissingEquals => (
            "`=` expected".to_owned(),
            "write `key = value`, e.g. storage = \"2Gi\"".to_owned(),
        ),
        SyntaxMistake::TooDeep => (
            "nested too deeply".to_owned(),
            "bakery.toml never needs values nested this deeply: remove the extra brackets"
                .to_owned(),
        ),
        SyntaxMistake::ExpectedNewline => (
            "unexpected text".to_owned(),
            "put each `key = value` on its own line, with nothing after the value but a `# comment`"
                .to_owned(),
        ),
        SyntaxMistake::InvalidKey => (
            "not a key".to_owned(),
            "keys are bare words of letters, digits, `_` and `-`, or quoted strings".to_owned(),
        ),
        SyntaxMistake::Other => ("here".to_owned(), Code::TomlSyntax.help().to_owned()),
    };
    let mut text =
        Text::error(Code::TomlSyntax, format!("invalid TOML: {message}"), label).help(help);
    if let SyntaxMistake::DuplicateKey {
        first: Some(first), ..
    } = mistake
    {
        text.secondary
            .push((first.clone(), "first defined here".to_owned()));
    }
    text
}

/// `rest`, after "did you mean NEAR?" when there is a near one (then capitalised).
fn did_you_mean(near: Option<String>, rest: &str) -> String {
    match near {
        Some(near) => {
            let mut chars = rest.chars();
            let first = chars
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default();
            format!("did you mean {near}? {first}{}", chars.as_str())
        }
        None => rest.to_owned(),
    }
}

/// The words of a period-order problem, for each way of writing the two periods: (label, help).
struct OrderWords {
    shorter: (String, String),
    /// The secondary label at the longer period, when both are written.
    longer: &'static str,
    /// The help when only the shorter is written.
    longer_default: String,
    only_longer: (String, String),
    neither: (String, String),
}

fn order(code: Code, message: String, written: &Written, words: OrderWords) -> Text {
    match written {
        Written::Shorter { longer_at } => {
            let (label, help) = words.shorter;
            let mut text = Text::error(code, message, label).help(help);
            match longer_at {
                Some(at) => text.secondary.push((at.clone(), words.longer.to_owned())),
                None => text = text.help(words.longer_default),
            }
            text
        }
        Written::Longer => {
            let (label, help) = words.only_longer;
            Text::error(code, message, label).help(help)
        }
        Written::Neither => {
            let (label, help) = words.neither;
            Text::error(code, message, label).help(help)
        }
    }
}
