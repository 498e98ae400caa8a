//! Checks of single values (names, quantities, images, durations, choices) into model types,
//! each reporting its own diagnostic at the value's span.

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{
    CpuMemory, DnsLabel, DomainName, Extension, Image, KeyAlgorithm, Period, PgVersion, Placement,
    Quantity, Resources, Setting, TlsVersion,
};
use std::collections::BTreeSet;

use crate::parse::{RawPlacement, RawResources, SettingValue, Sp, Span};

use super::catalogue;

/// Resource defaults when bakery.toml declares none: (request cpu, request memory, limit cpu, limit memory).
pub const POSTGRES_RESOURCES: [&str; 4] = ["100m", "256Mi", "1", "512Mi"];
pub const CACHE_RESOURCES: [&str; 4] = ["50m", "64Mi", "500m", "256Mi"];
/// Settings bakeryc writes itself; `[postgres.settings]` may not override them.
const RESERVED_SETTINGS: &[&str] = &[
    "config_file",
    "data_directory",
    "hba_file",
    "ident_file",
    "listen_addresses",
    "log_connections",
    "log_disconnections",
    "log_line_prefix",
    "log_min_duration_statement",
    "log_statement",
    "password_encryption",
    "port",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_max_protocol_version",
    "ssl_min_protocol_version",
    "ssl_prefer_server_ciphers",
    "unix_socket_directories",
];

#[derive(Default)]
pub struct Checker {
    diagnostics: Vec<Diagnostic>,
    /// (table span, key) of values parse dropped for their type: not to be called missing.
    mistyped: BTreeSet<(usize, usize, String)>,
}

/// Where a required key was looked for: the table it is reported at, how messages call that
/// table, and another table that could have set it (`[postgres]` for a database).
pub struct Wanted<'a> {
    pub table: &'a Span,
    pub table_name: &'a str,
    pub key: &'a str,
    pub also: Option<&'a Span>,
}

impl Checker {
    pub fn new(mistyped: BTreeSet<(usize, usize, String)>) -> Self {
        Self {
            diagnostics: Vec::new(),
            mistyped,
        }
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn finish(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    /// Whether parse already reported `key` of one of `tables` for its type.
    pub fn mistyped(&self, tables: &[&Span], key: &str) -> bool {
        tables
            .iter()
            .any(|t| self.mistyped.contains(&(t.start, t.end, key.to_owned())))
    }

    /// A key that must be present; when it is not, reports at the table that should hold it
    /// (unless parse dropped it for its type, which it reported already).
    pub fn required<'a, T>(
        &mut self,
        value: Option<&'a Sp<T>>,
        wanted: &Wanted<'_>,
        message: &str,
        help: &str,
    ) -> Option<&'a Sp<T>> {
        let searched: Vec<&Span> = std::iter::once(wanted.table).chain(wanted.also).collect();
        if value.is_none() && !self.mistyped(&searched, wanted.key) {
            self.push(
                Diagnostic::error(Code::MissingKey, wanted.table.clone(), message)
                    .with_label(format!("{} has no `{}`", wanted.table_name, wanted.key))
                    .with_help(help),
            );
        }
        value
    }

    /// A DNS label that must still fit 63 characters once `suffix` is appended.
    pub fn label(&mut self, name: &Sp<String>, suffix: &str) -> Option<DnsLabel> {
        match DnsLabel::new(&name.value) {
            Err(problem) => {
                let suggestion = name.value.to_lowercase().replace(['_', '.', ' '], "-");
                let help = if DnsLabel::new(&suggestion).is_ok() {
                    format!("use lowercase letters, digits and '-', e.g. \"{suggestion}\"")
                } else {
                    Code::InvalidName.help().to_owned()
                };
                self.push(
                    Diagnostic::error(
                        Code::InvalidName,
                        name.span.clone(),
                        format!("{:?} is not a DNS-1123 label: it {problem}", name.value),
                    )
                    .with_label("not a valid Kubernetes name")
                    .with_help(help),
                );
                None
            }
            Ok(label) if label.as_str().len() + suffix.len() > DnsLabel::MAX_LEN => {
                let max = DnsLabel::MAX_LEN - suffix.len();
                self.push(
                    Diagnostic::error(
                        Code::NameTooLong,
                        name.span.clone(),
                        format!(
                            "{:?} is {} characters; derived names allow at most {max}",
                            name.value,
                            name.value.len()
                        ),
                    )
                    .with_label(format!(
                        "\"{}{suffix}\" would exceed 63 characters",
                        name.value
                    ))
                    .with_help(format!("shorten the name to {max} characters or fewer")),
                );
                None
            }
            Ok(label) => Some(label),
        }
    }

    pub fn domain(&mut self, domain: &Sp<String>) -> Option<DomainName> {
        DomainName::new(&domain.value)
            .map_err(|problem| {
                self.push(
                    Diagnostic::error(
                        Code::InvalidName,
                        domain.span.clone(),
                        format!("{:?} is not a DNS domain: {problem}", domain.value),
                    )
                    .with_label("not a DNS domain")
                    .with_help("use the cluster's DNS domain, usually \"cluster.local\""),
                );
            })
            .ok()
    }

    pub fn version(&mut self, version: &Sp<i64>) -> Option<PgVersion> {
        PgVersion::new(version.value)
            .map_err(|problem| {
                self.push(
                    Diagnostic::error(Code::UnsupportedVersion, version.span.clone(), problem)
                        .with_label("unsupported PostgreSQL major version")
                        .with_help(format!(
                            "use a major version from {} to {}",
                            PgVersion::SUPPORTED.start(),
                            PgVersion::SUPPORTED.end()
                        )),
                );
            })
            .ok()
    }

    pub fn image(&mut self, image: &Sp<String>) -> Option<Image> {
        match parse_image(&image.value) {
            Ok(parsed) => {
                if parsed.tag.as_deref() == Some("latest") && parsed.digest.is_none() {
                    self.push(
                        Diagnostic::error(
                            Code::ImageLatest,
                            image.span.clone(),
                            format!("image {:?} is tagged `latest`", image.value),
                        )
                        .with_label("`latest` is not a version")
                        .with_help(format!(
                            "pin a version, e.g. \"{}:<version>\", or a digest",
                            parsed.repository
                        )),
                    );
                    return None;
                }
                if parsed.tag.is_none() && parsed.digest.is_none() {
                    self.push(
                        Diagnostic::error(
                            Code::ImageLatest,
                            image.span.clone(),
                            format!("image {:?} has no tag or digest", image.value),
                        )
                        .with_label("means `latest`")
                        .with_help(format!(
                            "pin a version, e.g. \"{}:<version>\", or a digest",
                            parsed.repository
                        )),
                    );
                    return None;
                }
                Some(parsed)
            }
            Err(problem) => {
                let lower = image.value.trim().to_ascii_lowercase();
                let help = if image.value.contains('@') {
                    "a digest is sha256: followed by 64 lowercase hex digits, as `docker buildx imagetools inspect <image>` prints it, e.g. postgres:17.2-alpine@sha256:<64 hex digits>".to_owned()
                } else if lower != image.value && parse_image(&lower).is_ok() {
                    format!("did you mean \"{lower}\"?")
                } else {
                    Code::ImageInvalid.help().to_owned()
                };
                self.push(
                    Diagnostic::error(
                        Code::ImageInvalid,
                        image.span.clone(),
                        format!("{:?} is not an image reference: {problem}", image.value),
                    )
                    .with_label("malformed image reference")
                    .with_help(help),
                );
                None
            }
        }
    }

    /// A PostgreSQL image, which should run the declared major version.
    pub fn postgres_image(
        &mut self,
        image: &Sp<String>,
        version: Option<(PgVersion, &Sp<i64>)>,
    ) -> Option<Image> {
        let parsed = self.image(image)?;
        // Only official-style PostgreSQL images say the major version first in their tag;
        // a custom image (`myorg/db:2.3`) says nothing about it.
        let last = parsed.repository.rsplit('/').next().unwrap_or_default();
        let postgres_tag = last.starts_with("postgres") || last == "postgis";
        if let (Some(tag), Some((version, written)), true) = (&parsed.tag, version, postgres_tag) {
            let major: String = tag.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(major) = major.parse::<u8>() {
                if major != version.major() {
                    self.push(
                        Diagnostic::warning(
                            Code::ImageVersionMismatch,
                            image.span.clone(),
                            format!(
                                "image tag {tag:?} is PostgreSQL {major}, but `version` is {}",
                                version.major()
                            ),
                        )
                        .with_label(format!("runs PostgreSQL {major}"))
                        .with_secondary(
                            written.span.clone(),
                            format!("settings are written for PostgreSQL {}", version.major()),
                        )
                        .with_help(format!(
                            "use a postgres:{}.x image, or set version = {major}",
                            version.major()
                        )),
                    );
                }
            }
        }
        Some(parsed)
    }

    pub fn quantity(&mut self, written: &Sp<String>, what: &str) -> Option<Quantity> {
        let bytes = what.contains("memory") || what.contains("storage");
        match Quantity::new(&written.value) {
            Ok(quantity) => {
                if quantity.value() <= 0.0 || quantity.value().is_nan() {
                    let example = if bytes { "\"1Gi\"" } else { "\"100m\"" };
                    self.push(
                        Diagnostic::error(
                            Code::NonPositiveQuantity,
                            written.span.clone(),
                            format!("{what} {:?} is not greater than zero", written.value),
                        )
                        .with_label("must be greater than zero")
                        .with_help(format!("use a {what} greater than zero, e.g. {example}")),
                    );
                    return None;
                }
                let bare = written
                    .value
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.');
                if bytes && bare && quantity.value() < 1_048_576.0 {
                    // A bare number is bytes: `storage = "2"` is two bytes, not two gigabytes.
                    let unit = if what.contains("storage") { "Gi" } else { "Mi" };
                    let number = &written.value;
                    self.push(
                        Diagnostic::error(
                            Code::InvalidQuantity,
                            written.span.clone(),
                            format!("{what} {:?} is less than a mebibyte", written.value),
                        )
                        .with_label("a size without a binary unit is counted in bytes")
                        .with_help(format!(
                            "did you mean {number}{unit}? Sizes are written in Ki, Mi, Gi or Ti"
                        )),
                    );
                    return None;
                }
                if bytes && written.value.ends_with('m') {
                    // Valid for Kubernetes, but millibytes: "512m" of memory is half a byte.
                    let near = format!("{}Mi", written.value.trim_end_matches('m'));
                    self.push(
                        Diagnostic::error(
                            Code::InvalidQuantity,
                            written.span.clone(),
                            format!(
                                "{what} {:?} means {} thousandths of a byte",
                                written.value,
                                written.value.trim_end_matches('m')
                            ),
                        )
                        .with_label("`m` is milli, not mega")
                        .with_help(format!(
                            "did you mean {near}? Sizes are written in Ki, Mi, Gi or Ti"
                        )),
                    );
                    return None;
                }
                Some(quantity)
            }
            Err(problem) => {
                let help = match quantity_suggestion(&written.value) {
                    Some(near) if bytes || !near.ends_with('i') => format!(
                        "did you mean {near}? Kubernetes writes binary sizes as Ki, Mi, Gi, Ti"
                    ),
                    _ if bytes => "write a size such as \"512Mi\" or \"2Gi\"".to_owned(),
                    _ => "write CPU as cores (\"1\", \"0.5\") or millicores (\"500m\")".to_owned(),
                };
                self.push(
                    Diagnostic::error(
                        Code::InvalidQuantity,
                        written.span.clone(),
                        format!("{what}: {problem}"),
                    )
                    .with_label("not a Kubernetes quantity")
                    .with_help(help),
                );
                None
            }
        }
    }

    pub fn storage(&mut self, written: &Sp<String>) -> Option<Quantity> {
        self.quantity(written, "storage")
    }

    pub fn storage_class(&mut self, written: &Sp<String>) -> Option<String> {
        // Storage class names are DNS subdomains.
        match DomainName::new(&written.value) {
            Ok(_) => Some(written.value.clone()),
            Err(problem) => {
                self.push(
                    Diagnostic::error(
                        Code::InvalidName,
                        written.span.clone(),
                        format!(
                            "storage class {:?} is not a valid name: {problem}",
                            written.value
                        ),
                    )
                    .with_label("not a StorageClass name")
                    .with_help("use the name shown by `kubectl get storageclass`"),
                );
                None
            }
        }
    }

    /// Resources layered key by key (first written wins), then defaults; requests must not exceed limits.
    pub fn resources(
        &mut self,
        layers: &[Option<&RawResources>],
        defaults: &[&str; 4],
    ) -> Option<Resources> {
        let leaf = |pick: fn(&RawResources) -> Option<&Sp<String>>| {
            layers.iter().flatten().find_map(|r| pick(r))
        };
        let written = [
            leaf(|r| r.requests.as_ref().and_then(|c| c.cpu.as_ref())),
            leaf(|r| r.requests.as_ref().and_then(|c| c.memory.as_ref())),
            leaf(|r| r.limits.as_ref().and_then(|c| c.cpu.as_ref())),
            leaf(|r| r.limits.as_ref().and_then(|c| c.memory.as_ref())),
        ];
        let names = ["cpu request", "memory request", "cpu limit", "memory limit"];
        let mut values = Vec::new();
        for ((written, default), name) in written.iter().zip(defaults).zip(names) {
            values.push(match written {
                Some(written) => self.quantity(written, name),
                None => Quantity::new(default).ok(),
            });
        }
        for (request, limit, what) in [(0, 2, "cpu"), (1, 3, "memory")] {
            if let (Some(r), Some(l)) = (&values[request], &values[limit]) {
                if r.value() > l.value() {
                    let span = written[request]
                        .or(written[limit])
                        .map_or(0..0, |w| w.span.clone());
                    let mut diagnostic = Diagnostic::error(
                        Code::RequestAboveLimit,
                        span,
                        format!(
                            "{what} request {} is above the {what} limit {}",
                            r.as_str(),
                            l.as_str()
                        ),
                    )
                    .with_label("request above limit")
                    .with_help(format!(
                        "lower the {what} request to at most {}, or raise the limit",
                        l.as_str()
                    ));
                    if let (Some(_), Some(limit_written)) = (written[request], written[limit]) {
                        diagnostic =
                            diagnostic.with_secondary(limit_written.span.clone(), "limit set here");
                    } else if written[limit].is_none() {
                        diagnostic = diagnostic.with_help(format!(
                            "the {what} limit defaults to {}: lower the request or set a limit explicitly",
                            l.as_str()
                        ));
                    }
                    self.push(diagnostic);
                    return None;
                }
            }
        }
        let mut values = values.into_iter();
        let mut next = || values.next().flatten();
        let (rc, rm, lc, lm) = (next(), next(), next(), next());
        Some(Resources {
            requests: CpuMemory {
                cpu: rc?,
                memory: rm?,
            },
            limits: CpuMemory {
                cpu: lc?,
                memory: lm?,
            },
        })
    }

    pub fn extensions(
        &mut self,
        list: &Sp<Vec<Sp<String>>>,
        version: Option<PgVersion>,
    ) -> Option<Vec<Extension>> {
        let mut result: Vec<Extension> = Vec::new();
        // A set beside the list: `result.contains` made a long list quadratic.
        let mut seen = BTreeSet::new();
        let known = version.map(catalogue::contrib_extensions);
        let mut ok = true;
        for written in &list.value {
            match Extension::new(&written.value) {
                Ok(extension) => {
                    if let (Some(version), Some(known)) = (version, &known) {
                        if !known.contains(&extension.as_str()) {
                            let help = extension_help(&written.value, version, known);
                            self.push(
                                Diagnostic::warning(
                                    Code::UnknownExtension,
                                    written.span.clone(),
                                    format!(
                                        "extension {:?} is not in the PostgreSQL {} contrib set",
                                        written.value,
                                        version.major()
                                    ),
                                )
                                .with_label("CREATE EXTENSION may fail")
                                .with_help(help),
                            );
                        }
                    }
                    if seen.insert(extension.as_str().to_owned()) {
                        result.push(extension);
                    }
                }
                Err(problem) => {
                    ok = false;
                    let lower = written.value.to_ascii_lowercase();
                    let help = if lower != written.value && Extension::new(&lower).is_ok() {
                        format!("did you mean \"{lower}\"? Extension names are lowercase")
                    } else {
                        "extension names are lowercase letters, digits, '_' and '-'".to_owned()
                    };
                    self.push(
                        Diagnostic::error(Code::UnknownExtension, written.span.clone(), problem)
                            .with_label("not an extension name")
                            .with_help(help),
                    );
                }
            }
        }
        ok.then_some(result)
    }

    pub fn choice<T>(
        &mut self,
        written: &Sp<String>,
        key: &str,
        names: &[&str],
        from_name: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let found = from_name(&written.value);
        if found.is_none() {
            let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            let help = match crate::parse::suggest(&written.value, names) {
                Some(near) => format!(
                    "did you mean \"{near}\"? `{key}` is one of {}",
                    quoted.join(", ")
                ),
                None => format!("`{key}` is one of {}", quoted.join(", ")),
            };
            self.push(
                Diagnostic::error(
                    Code::InvalidChoice,
                    written.span.clone(),
                    format!("{:?} is not a valid `{key}`", written.value),
                )
                .with_label("unknown value")
                .with_help(help),
            );
        }
        found
    }

    /// `log_min_duration`: a duration, or "off" (`Some(None)`).
    #[allow(
        clippy::option_option,
        reason = "None is an error; Some(None) is the valid value off"
    )]
    pub fn statement_duration(&mut self, written: &Sp<String>) -> Option<Option<u64>> {
        if written.value == "off" {
            return Some(None);
        }
        match written.value.parse::<jiff::SignedDuration>() {
            Ok(duration) if !duration.is_negative() => Some(Some(
                u64::try_from(duration.as_millis())
                    .unwrap_or(u64::MAX)
                    .min(i32::MAX as u64),
            )),
            _ => {
                self.push(
                    Diagnostic::error(Code::InvalidDuration, written.span.clone(), format!("{:?} is not a duration", written.value))
                        .with_label("expected a duration such as 500ms or 2s, or \"off\"")
                        .with_help("write log_min_duration = \"500ms\" (statements at least this slow are logged) or \"off\""),
                );
                None
            }
        }
    }

    pub fn tls_version(&mut self, written: &Sp<String>) -> Option<TlsVersion> {
        let lower = written.value.trim().to_ascii_lowercase();
        let number = lower
            .trim_start_matches("tls")
            .trim_start_matches(['v', ' ', '_']);
        match number {
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            "1.0" | "1.1" | "1" | "1_0" | "1_1" => {
                self.push(
                    Diagnostic::error(
                        Code::TlsMinVersion,
                        written.span.clone(),
                        format!("TLS {number} is deprecated and insecure"),
                    )
                    .with_label("below TLS 1.2")
                    .with_help(
                        "use min_version = \"1.2\" (or \"1.3\" when every client supports it)",
                    ),
                );
                None
            }
            _ if lower.starts_with("ssl") => {
                self.push(
                    Diagnostic::error(
                        Code::TlsMinVersion,
                        written.span.clone(),
                        format!("{:?} is SSL, broken since 2014", written.value),
                    )
                    .with_label("below TLS 1.2")
                    .with_help("use min_version = \"1.2\" or \"1.3\""),
                );
                None
            }
            _ => {
                self.push(
                    Diagnostic::error(
                        Code::TlsMinVersion,
                        written.span.clone(),
                        format!("{:?} is not a TLS version", written.value),
                    )
                    .with_label("unknown TLS version")
                    .with_help("use min_version = \"1.2\" or \"1.3\""),
                );
                None
            }
        }
    }

    pub fn period(&mut self, written: Option<&Sp<String>>, default: &str) -> Option<Period> {
        let Some(written) = written else {
            return Period::new(default).ok();
        };
        Period::new(&written.value)
            .map_err(|problem| {
                let zero = problem.ends_with("must be longer than zero");
                let message = if zero {
                    problem
                } else {
                    format!("{:?} is not a duration", written.value)
                };
                self.push(
                    Diagnostic::error(Code::InvalidDuration, written.span.clone(), message)
                        .with_label(if zero { "not longer than zero" } else { "not a duration" })
                        .with_help(
                            "write a number and a unit: y (years), mo (months), w, d, h, e.g. \"10y\", \"3y\", \"90d\"",
                        ),
                );
            })
            .ok()
    }

    pub fn key(
        &mut self,
        written: Option<&Sp<String>>,
        default: KeyAlgorithm,
    ) -> Option<KeyAlgorithm> {
        let Some(written) = written else {
            return Some(default);
        };
        let found = KeyAlgorithm::from_name(&written.value);
        if found.is_none() {
            let lower = written.value.to_ascii_lowercase();
            let rsa_bits = lower
                .strip_prefix("rsa")
                .map(|bits| bits.trim_start_matches(['-', '_', ' ', ':']))
                .and_then(|bits| bits.parse::<u32>().ok());
            let weak_rsa = rsa_bits.filter(|bits| *bits < 2048);
            let spelled = KeyAlgorithm::NAMES
                .iter()
                .find(|name| {
                    name.replace('-', "") == lower.replace(['-', '_', ' ', ':'], "")
                        || rsa_bits.is_some_and(|bits| **name == format!("rsa-{bits}"))
                })
                .copied();
            let (message, help) = match weak_rsa {
                Some(bits) => (
                    format!("RSA {bits} is too weak"),
                    "RSA keys must have at least 2048 bits: use rsa-2048, rsa-3072 or rsa-4096 (or ecdsa-p256)".to_owned(),
                ),
                None if spelled.is_some() => (
                    format!("{:?} is not spelled as bakeryc expects", written.value),
                    format!(
                        "write key = \"{}\"",
                        spelled.unwrap_or_default()
                    ),
                ),
                None => (
                    format!("{:?} is not a key algorithm", written.value),
                    match crate::parse::suggest(&written.value, KeyAlgorithm::NAMES) {
                        Some(near) => format!("did you mean \"{near}\"? Key algorithms: {}", KeyAlgorithm::NAMES.join(", ")),
                        None => format!("key algorithms: {}", KeyAlgorithm::NAMES.join(", ")),
                    },
                ),
            };
            let label = if weak_rsa.is_some() {
                "fewer than 2048 bits"
            } else if spelled.is_some() {
                "spelt differently"
            } else {
                "unknown key algorithm"
            };
            self.push(
                Diagnostic::error(Code::KeyAlgorithm, written.span.clone(), message)
                    .with_label(label)
                    .with_help(help),
            );
        }
        found
    }

    /// One `[postgres.settings]` entry: it must exist in `version` and not be one bakeryc manages.
    pub fn setting(
        &mut self,
        name: &Sp<String>,
        value: &Sp<SettingValue>,
        version: PgVersion,
    ) -> Option<Setting> {
        if RESERVED_SETTINGS.contains(&name.value.as_str()) {
            self.push(
                Diagnostic::error(
                    Code::ReservedSetting,
                    name.span.clone(),
                    format!("`{}` is managed by bakeryc", name.value),
                )
                .with_label("cannot be overridden")
                .with_help(
                    "remove it: bakeryc sets it from [tls], [postgres.audit] and its own hardening",
                ),
            );
            return None;
        }
        let valid_name = !name.value.is_empty()
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_name || !catalogue::setting_exists(version, &name.value) {
            let major = version.major();
            let versions = catalogue::versions_with_setting(&name.value);
            let help = match (versions.first(), versions.last()) {
                (Some(first), _) if *first > major => format!(
                    "`{}` exists from PostgreSQL {first} on: remove it, or declare version = {first} with a matching image",
                    name.value
                ),
                (_, Some(last)) if *last < major => format!(
                    "`{}` was removed after PostgreSQL {last}: remove it",
                    name.value
                ),
                _ => {
                    let known = catalogue::settings(version);
                    match crate::parse::suggest(&name.value, &known) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => format!(
                            "remove it: it is not a PostgreSQL {major} setting (extension settings are written with a dot, e.g. pg_stat_statements.max)"
                        ),
                    }
                }
            };
            self.push(
                Diagnostic::error(
                    Code::UnknownSetting,
                    name.span.clone(),
                    format!("PostgreSQL {major} has no setting `{}`", name.value),
                )
                .with_label("the server would refuse to start")
                .with_help(help),
            );
            return None;
        }
        let rendered = match &value.value {
            SettingValue::String(text) => {
                if text.contains(['\n', '\r', '\0']) {
                    self.push(
                        Diagnostic::error(
                            Code::WrongType,
                            value.span.clone(),
                            "setting values must be on one line",
                        )
                        .with_label("contains a line break"),
                    );
                    return None;
                }
                format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
            }
            SettingValue::Integer(number) => number.to_string(),
            SettingValue::Float(number) if number.is_finite() => number.to_string(),
            SettingValue::Float(_) => {
                self.push(
                    Diagnostic::error(
                        Code::WrongType,
                        value.span.clone(),
                        "PostgreSQL settings cannot be inf or nan",
                    )
                    .with_label("not a finite number"),
                );
                return None;
            }
            SettingValue::Bool(flag) => if *flag { "on" } else { "off" }.to_owned(),
        };
        Some(Setting {
            name: name.value.clone(),
            value: rendered,
        })
    }

    /// An environment's placement of one workload: its layers first, then the base placement.
    pub fn env_placement(
        &mut self,
        layers: &[Option<&RawPlacement>],
        base: &Placement,
        version: Option<(PgVersion, &Sp<i64>)>,
    ) -> Option<Placement> {
        let layers: Vec<&RawPlacement> = layers.iter().flatten().copied().collect();
        let image = match layers.iter().find_map(|l| l.image.as_ref()) {
            None => Some(base.image.clone()),
            Some(written) => match version {
                Some(version) => self.postgres_image(written, Some(version)),
                None => self.image(written),
            },
        };
        let storage = match layers.iter().find_map(|l| l.storage.as_ref()) {
            None => Some(base.storage.clone()),
            Some(written) => self.storage(written),
        };
        let storage_class = match layers.iter().find_map(|l| l.storage_class.as_ref()) {
            None => base.storage_class.clone(),
            Some(written) => self.storage_class(written),
        };
        let raw_resources: Vec<Option<&RawResources>> =
            layers.iter().map(|l| l.resources.as_ref()).collect();
        let base_values = [
            base.resources.requests.cpu.as_str(),
            base.resources.requests.memory.as_str(),
            base.resources.limits.cpu.as_str(),
            base.resources.limits.memory.as_str(),
        ];
        let resources = self.resources(&raw_resources, &base_values);
        Some(Placement {
            image: image?,
            storage: storage?,
            storage_class,
            resources: resources?,
        })
    }
}

/// Well-known extensions that are not part of contrib, and where they come from.
const THIRD_PARTY_EXTENSIONS: &[(&str, &str)] = &[
    (
        "postgis",
        "an image that ships it, such as postgis/postgis:17-3.5-alpine",
    ),
    (
        "timescaledb",
        "an image that ships it, such as timescale/timescaledb:latest-pg17 pinned to a version",
    ),
    (
        "vector",
        "an image that ships pgvector, such as pgvector/pgvector:pg17",
    ),
    (
        "pgvector",
        "an image that ships it (the extension is called `vector`)",
    ),
    ("pg_cron", "a custom image that installs it and preloads it"),
    ("pg_partman", "a custom image that installs it"),
    ("pgaudit", "a custom image that installs it and preloads it"),
    ("citus", "an image that ships it, such as citusdata/citus"),
];

/// What to do about an extension outside the declared version's contrib set.
fn extension_help(name: &str, version: PgVersion, known: &[&str]) -> String {
    if let Some((_, source)) = THIRD_PARTY_EXTENSIONS.iter().find(|(n, _)| *n == name) {
        return format!(
            "`{name}` is not part of contrib: use {source}, and ignore this warning once the image has it"
        );
    }
    let versions: Vec<u8> = PgVersion::SUPPORTED
        .filter(|major| {
            PgVersion::new(i64::from(*major))
                .is_ok_and(|v| catalogue::contrib_extensions(v).contains(&name))
        })
        .collect();
    if let (Some(first), Some(last)) = (versions.first(), versions.last()) {
        return if *first > version.major() {
            format!(
                "`{name}` ships with PostgreSQL {first} and later: remove it, or declare a version that has it"
            )
        } else {
            format!("`{name}` ships with PostgreSQL {first} to {last} only: remove it")
        };
    }
    match crate::parse::suggest(name, known) {
        Some(near) => format!(
            "did you mean \"{near}\"? If the image adds `{name}` itself, ignore this warning"
        ),
        None => format!("check the name; if the image adds `{name}` itself, ignore this warning"),
    }
}

/// Splits `name[:tag][@algo:hex]` and checks each part's syntax.
fn parse_image(text: &str) -> Result<Image, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it is empty or contains whitespace".into());
    }
    let (name_tag, digest) = match text.split_once('@') {
        Some((name_tag, digest)) => {
            let hex_ok = |hex: &str, len: usize| {
                hex.len() == len
                    && hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            };
            let valid = match digest.split_once(':') {
                Some(("sha256", hex)) => hex_ok(hex, 64),
                Some(("sha512", hex)) => hex_ok(hex, 128),
                _ => false,
            };
            if !valid {
                let hex = digest.split_once(':').map_or("", |(_, hex)| hex);
                return Err(format!(
                    "digest {digest:?} is not sha256:<64 lowercase hex digits> (it has {} characters after the algorithm)",
                    hex.chars().count()
                ));
            }
            (name_tag, Some(digest.to_owned()))
        }
        None => (text, None),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    let repo_ok = !repository.is_empty()
        && !repository.starts_with(['/', '.', '-'])
        && !repository.ends_with(['/', '.', '-'])
        && repository.split('/').all(|part| !part.is_empty())
        && repository
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c))
        && repository.chars().filter(|c| *c == ':').count() <= 1;
    if !repo_ok {
        return Err(if repository.chars().any(|c| c.is_ascii_uppercase()) {
            format!("repository {repository:?} has uppercase letters; image names are lowercase")
        } else {
            format!("repository {repository:?} is not valid")
        });
    }
    if let Some(tag) = tag {
        let tag_ok = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !tag_ok {
            return Err(format!("tag {tag:?} is not valid"));
        }
    }
    Ok(Image {
        repository: repository.to_owned(),
        tag: tag.map(str::to_owned),
        digest,
    })
}

/// `2GB` -> `2Gi`, `512mb` -> `512Mi`: the quantity a user most likely meant.
fn quantity_suggestion(text: &str) -> Option<String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() {
        return None;
    }
    let binary = match suffix.trim().to_ascii_lowercase().as_str() {
        "kb" | "kib" | "ki" | "k" => "Ki",
        "mb" | "mib" | "mi" => "Mi",
        "gb" | "gib" | "gi" | "g" => "Gi",
        "tb" | "tib" | "ti" | "t" => "Ti",
        "pb" | "pib" | "pi" => "Pi",
        _ => return None,
    };
    let candidate = format!("{number}{binary}");
    (candidate != text).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        let image = parse_image("registry.example.com:5000/team/postgres:17.2-alpine").unwrap();
        assert_eq!(image.repository, "registry.example.com:5000/team/postgres");
        assert_eq!(image.tag.as_deref(), Some("17.2-alpine"));
        let digest = format!("postgres@sha256:{}", "a".repeat(64));
        assert!(parse_image(&digest).unwrap().digest.is_some());
        assert!(parse_image("postgres@sha256:abc").is_err());
        assert!(parse_image("Postgres:17").is_err());
        assert!(parse_image("postgres:").is_err());
    }

    #[test]
    fn quantity_suggestions() {
        assert_eq!(quantity_suggestion("2GB").as_deref(), Some("2Gi"));
        assert_eq!(quantity_suggestion("512mb").as_deref(), Some("512Mi"));
        assert_eq!(quantity_suggestion("lots"), None);
    }
}
