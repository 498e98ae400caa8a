//! The collecting context every section's checks report into ([`Checker`]), and the checks of
//! single values (names, quantities, images, durations, choices) into model types, each
//! reporting a typed diagnostic kind at the value's span.

use crate::diagnostic::{Diagnostic, ExtensionAdvice, Kind, Missing, SettingAdvice};
use crate::model::{
    CpuMemory, DnsLabel, DomainName, Extension, Image, KeyAlgorithm, Period, PgVersion, Placement,
    Quantity, Resources, Setting, TlsVersion,
};
use std::collections::BTreeSet;

use super::environments::RawPlacement;
use super::postgres::{RawPostgres, SettingValue};
use super::resources::{RawCpuMemory, RawResources};
use super::{Sp, Span, Table, suggest};

use super::catalogue;

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

    /// Reports a problem with a value at its span.
    pub fn report(&mut self, span: &Span, kind: &Kind) {
        self.push(Diagnostic::of(span.clone(), kind));
    }

    /// A key that must be present; when it is not, reports at the table that should hold it
    /// (unless parse dropped it for its type, which it reported already).
    pub fn required<'a, T>(
        &mut self,
        value: Option<&'a Sp<T>>,
        wanted: &Wanted<'_>,
        missing: Missing,
    ) -> Option<&'a Sp<T>> {
        let searched: Vec<&Span> = std::iter::once(wanted.table).chain(wanted.also).collect();
        if value.is_none() && !self.mistyped(&searched, wanted.key) {
            self.report(
                wanted.table,
                &Kind::MissingKey {
                    table: wanted.table_name.to_owned(),
                    key: wanted.key.to_owned(),
                    missing,
                },
            );
        }
        value
    }

    /// A required key of a section (`[platform] name`), reported at the section when missing,
    /// with the key's example from `table`'s definition and `why` the key is needed.
    pub fn required_in<'a, T>(
        &mut self,
        value: Option<&'a Sp<T>>,
        section: &Span,
        table: &'static Table,
        key: &'static str,
        why: &'static str,
    ) -> Option<&'a Sp<T>> {
        let wanted = Wanted {
            table: section,
            table_name: table.title,
            key,
            also: None,
        };
        let missing = Missing::InSection {
            path: table.title.trim_matches(['[', ']']),
            example: table.example(key),
            why,
        };
        self.required(value, &wanted, missing)
    }

    /// A DNS label that must still fit 63 characters once `suffix` is appended.
    pub fn label(&mut self, name: &Sp<String>, suffix: &str) -> Option<DnsLabel> {
        match DnsLabel::new(&name.value) {
            Err(problem) => {
                let suggestion = name.value.to_lowercase().replace(['_', '.', ' '], "-");
                let kind = Kind::NotDnsLabel {
                    written: name.value.clone(),
                    problem,
                    suggestion: DnsLabel::new(&suggestion).is_ok().then_some(suggestion),
                };
                self.report(&name.span, &kind);
                None
            }
            Ok(label) if label.as_str().len() + suffix.len() > DnsLabel::MAX_LEN => {
                let kind = Kind::NameTooLong {
                    written: name.value.clone(),
                    suffix: suffix.to_owned(),
                    max: DnsLabel::MAX_LEN - suffix.len(),
                };
                self.report(&name.span, &kind);
                None
            }
            Ok(label) => Some(label),
        }
    }

    /// A database's or cache's name: a label as [`Self::label`] checks it, whose Service
    /// (`<name>-db-service`, `<name>-service`) must also be a DNS-1035 label, which starts with
    /// a letter, or the API server refuses it at deploy time. `example_prefix` makes the help's
    /// valid example (`db-` gives `db-123`).
    pub fn service_label(
        &mut self,
        name: &Sp<String>,
        suffix: &str,
        example_prefix: &str,
    ) -> Option<DnsLabel> {
        let label = self.label(name, suffix)?;
        if label.as_str().starts_with(|c: char| c.is_ascii_digit()) {
            let kind = Kind::ServiceNameStartsWithDigit {
                written: name.value.clone(),
                example: format!("{example_prefix}{}", name.value),
            };
            self.report(&name.span, &kind);
        }
        // Still the label: the error above already stops the build, and the name's other
        // checks (environments, derived names) keep reporting as they would.
        Some(label)
    }

    pub fn domain(&mut self, domain: &Sp<String>) -> Option<DomainName> {
        DomainName::new(&domain.value)
            .map_err(|problem| {
                let kind = Kind::NotDomain {
                    written: domain.value.clone(),
                    problem,
                };
                self.report(&domain.span, &kind);
            })
            .ok()
    }

    pub fn version(&mut self, version: &Sp<i64>) -> Option<PgVersion> {
        PgVersion::new(version.value)
            .map_err(|problem| {
                let supported = (*PgVersion::SUPPORTED.start(), *PgVersion::SUPPORTED.end());
                self.report(
                    &version.span,
                    &Kind::UnsupportedVersion { problem, supported },
                );
            })
            .ok()
    }

    pub fn image(&mut self, image: &Sp<String>) -> Option<Image> {
        match parse_image(&image.value) {
            Ok(parsed) => {
                let written = image.value.clone();
                let repository = parsed.repository.clone();
                if parsed.tag.as_deref() == Some("latest") && parsed.digest.is_none() {
                    let kind = Kind::ImageLatest {
                        written,
                        repository,
                    };
                    self.report(&image.span, &kind);
                    return None;
                }
                if parsed.tag.is_none() && parsed.digest.is_none() {
                    let kind = Kind::ImageUntagged {
                        written,
                        repository,
                    };
                    self.report(&image.span, &kind);
                    return None;
                }
                Some(parsed)
            }
            Err(problem) => {
                let lower = image.value.trim().to_ascii_lowercase();
                let kind = Kind::ImageInvalid {
                    written: image.value.clone(),
                    problem,
                    has_digest: image.value.contains('@'),
                    lowercase: (lower != image.value && parse_image(&lower).is_ok())
                        .then_some(lower),
                };
                self.report(&image.span, &kind);
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
                    let kind = Kind::ImageVersionMismatch {
                        tag: tag.clone(),
                        image_major: major,
                        version: version.major(),
                        version_at: written.span.clone(),
                    };
                    self.report(&image.span, &kind);
                }
            }
        }
        Some(parsed)
    }

    pub fn quantity(&mut self, written: &Sp<String>, what: &str) -> Option<Quantity> {
        let bytes = what.contains("memory") || what.contains("storage");
        let (what, text) = (what.to_owned(), written.value.clone());
        match Quantity::new(&written.value) {
            Ok(quantity) => {
                if quantity.value() <= 0.0 || quantity.value().is_nan() {
                    let kind = Kind::NotPositive {
                        what,
                        written: text,
                        bytes,
                    };
                    self.report(&written.span, &kind);
                    return None;
                }
                let bare = written
                    .value
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.');
                if bytes && bare && quantity.value() < 1_048_576.0 {
                    // A bare number is bytes: `storage = "2"` is two bytes, not two gigabytes.
                    let unit = if what.contains("storage") { "Gi" } else { "Mi" };
                    let kind = Kind::BareBytes {
                        what,
                        written: text,
                        unit,
                    };
                    self.report(&written.span, &kind);
                    return None;
                }
                if bytes && written.value.ends_with('m') {
                    // Valid for Kubernetes, but millibytes: "512m" of memory is half a byte.
                    let kind = Kind::Millibytes {
                        what,
                        written: text,
                    };
                    self.report(&written.span, &kind);
                    return None;
                }
                Some(quantity)
            }
            Err(problem) => {
                let kind = Kind::NotQuantity {
                    what,
                    problem,
                    near: quantity_suggestion(&written.value),
                    bytes,
                };
                self.report(&written.span, &kind);
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
                let kind = Kind::NotStorageClass {
                    written: written.value.clone(),
                    problem,
                };
                self.report(&written.span, &kind);
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
                    let kind = Kind::RequestAboveLimit {
                        what,
                        request: r.as_str().to_owned(),
                        limit: l.as_str().to_owned(),
                        limit_at: written[request]
                            .and(written[limit])
                            .map(|limit| limit.span.clone()),
                        limit_defaulted: written[limit].is_none(),
                    };
                    self.report(&span, &kind);
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
                            let kind = Kind::ExtensionNotInContrib {
                                name: written.value.clone(),
                                major: version.major(),
                                advice: extension_advice(&written.value, version, known),
                            };
                            self.report(&written.span, &kind);
                        }
                    }
                    if seen.insert(extension.as_str().to_owned()) {
                        result.push(extension);
                    }
                }
                Err(problem) => {
                    ok = false;
                    let lower = written.value.to_ascii_lowercase();
                    let kind = Kind::NotExtension {
                        problem,
                        lowercase: (lower != written.value && Extension::new(&lower).is_ok())
                            .then_some(lower),
                    };
                    self.report(&written.span, &kind);
                }
            }
        }
        ok.then_some(result)
    }

    pub fn choice<T>(
        &mut self,
        written: &Sp<String>,
        key: &str,
        names: &'static [&'static str],
        from_name: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let found = from_name(&written.value);
        if found.is_none() {
            let kind = Kind::InvalidChoice {
                written: written.value.clone(),
                key: key.to_owned(),
                choices: names,
                near: suggest(&written.value, names),
            };
            self.report(&written.span, &kind);
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
                let kind = Kind::NotStatementDuration {
                    written: written.value.clone(),
                };
                self.report(&written.span, &kind);
                None
            }
        }
    }

    pub fn tls_version(&mut self, written: &Sp<String>) -> Option<TlsVersion> {
        let lower = written.value.trim().to_ascii_lowercase();
        let number = lower
            .trim_start_matches("tls")
            .trim_start_matches(['v', ' ', '_']);
        let kind = match number {
            "1.2" => return Some(TlsVersion::V1_2),
            "1.3" => return Some(TlsVersion::V1_3),
            "1.0" | "1.1" | "1" | "1_0" | "1_1" => Kind::TlsDeprecated {
                number: number.to_owned(),
            },
            _ if lower.starts_with("ssl") => Kind::TlsSsl {
                written: written.value.clone(),
            },
            _ => Kind::NotTlsVersion {
                written: written.value.clone(),
            },
        };
        self.report(&written.span, &kind);
        None
    }

    pub fn period(&mut self, written: Option<&Sp<String>>, default: &str) -> Option<Period> {
        let Some(written) = written else {
            return Period::new(default).ok();
        };
        Period::new(&written.value)
            .map_err(|problem| {
                let kind = Kind::NotPeriod {
                    written: written.value.clone(),
                    problem,
                };
                self.report(&written.span, &kind);
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
            let spelled = KeyAlgorithm::NAMES.iter().find(|name| {
                name.replace('-', "") == lower.replace(['-', '_', ' ', ':'], "")
                    || rsa_bits.is_some_and(|bits| **name == format!("rsa-{bits}"))
            });
            let kind = match (rsa_bits.filter(|bits| *bits < 2048), spelled) {
                (Some(bits), _) => Kind::WeakRsa { bits },
                (None, Some(spelled)) => Kind::KeyMisspelt {
                    written: written.value.clone(),
                    spelled,
                },
                (None, None) => Kind::NotKeyAlgorithm {
                    written: written.value.clone(),
                    near: suggest(&written.value, KeyAlgorithm::NAMES),
                },
            };
            self.report(&written.span, &kind);
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
            let kind = Kind::ReservedSetting {
                name: name.value.clone(),
            };
            self.report(&name.span, &kind);
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
            let advice = match (versions.first(), versions.last()) {
                (Some(first), _) if *first > major => SettingAdvice::From(*first),
                (_, Some(last)) if *last < major => SettingAdvice::RemovedAfter(*last),
                _ => {
                    let known = catalogue::settings(version);
                    match suggest(&name.value, &known) {
                        Some(near) => SettingAdvice::Near(near.to_owned()),
                        None => SettingAdvice::Remove,
                    }
                }
            };
            let kind = Kind::UnknownSetting {
                name: name.value.clone(),
                major,
                advice,
            };
            self.report(&name.span, &kind);
            return None;
        }
        let rendered = match &value.value {
            SettingValue::String(text) => {
                if text.contains(['\n', '\r', '\0']) {
                    self.report(&value.span, &Kind::SettingOnSeveralLines);
                    return None;
                }
                format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
            }
            SettingValue::Integer(number) => number.to_string(),
            SettingValue::Float(number) if number.is_finite() => number.to_string(),
            SettingValue::Float(_) => {
                self.report(&value.span, &Kind::SettingNotFinite);
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
fn extension_advice(name: &str, version: PgVersion, known: &[&str]) -> ExtensionAdvice {
    if let Some((_, source)) = THIRD_PARTY_EXTENSIONS.iter().find(|(n, _)| *n == name) {
        return ExtensionAdvice::ThirdParty(source);
    }
    let versions: Vec<u8> = PgVersion::SUPPORTED
        .filter(|major| {
            PgVersion::new(i64::from(*major))
                .is_ok_and(|v| catalogue::contrib_extensions(v).contains(&name))
        })
        .collect();
    if let (Some(first), Some(last)) = (versions.first(), versions.last()) {
        return if *first > version.major() {
            ExtensionAdvice::From(*first)
        } else {
            ExtensionAdvice::Only(*first, *last)
        };
    }
    match suggest(name, known) {
        Some(near) => ExtensionAdvice::Near(near.to_owned()),
        None => ExtensionAdvice::CheckName,
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

/// Helpers shared by the layering code above: everything that reads one raw value.
impl Checker {
    pub fn postgres_section(&mut self, section: &RawPostgres) {
        if let Some(resources) = &section.resources {
            self.resources_section(resources);
        }
    }

    pub fn placement_section(&mut self, section: &RawPlacement) {
        if let Some(image) = &section.image {
            self.image(image);
        }
        if let Some(storage) = &section.storage {
            self.storage(storage);
        }
        if let Some(class) = &section.storage_class {
            self.storage_class(class);
        }
        if let Some(resources) = &section.resources {
            self.resources_section(resources);
        }
    }

    /// Each quantity of a resources table, named as [`Checker::resources`] names it so that the
    /// two reports of one value are one.
    fn resources_section(&mut self, resources: &RawResources) {
        for (cpu_memory, kind) in [
            (&resources.requests, "request"),
            (&resources.limits, "limit"),
        ] {
            let Some(RawCpuMemory { cpu, memory, .. }) = cpu_memory else {
                continue;
            };
            if let Some(cpu) = cpu {
                self.quantity(cpu, &format!("cpu {kind}"));
            }
            if let Some(memory) = memory {
                self.quantity(memory, &format!("memory {kind}"));
            }
        }
    }
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
