//! Raw config to model: resolves the layering (`[postgres]` < `[[database]]` < `[environments.E]`
//! < `[environments.E.database.NAME]`) and checks every value, collecting every problem instead of
//! stopping at the first. Each value is checked once, where it is written, so one typo in
//! `[postgres]` is one diagnostic, not one per database. It never prints or touches disk.

mod catalogue;
mod values;

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{
    Audit, CA_CONFIG_MAP_SUFFIX, CaFingerprint, CaPolicy, Cache, ClientAuth, Database, DnsLabel,
    DomainName, Environment, KeyAlgorithm, LogStatement, Period, PgVersion, Placement, Platform,
    ServerCertPolicy, Setting, TlsPolicy, TlsVersion, WorkloadNames,
};
use crate::parse::{RawConfig, RawCpuMemory, RawPlacement, RawPostgres, RawResources, Sp, Span};

pub use catalogue::{contrib_extensions, is_postgres_setting, setting_exists};
use values::{Checker, Wanted};

/// Keys every database needs, from `[postgres]` or its own `[[database]]`, with an example.
const DATABASE_REQUIRED: [(&str, &str); 3] = [
    ("version", "17"),
    ("image", "\"postgres:17.2-alpine\""),
    ("storage", "\"2Gi\""),
];

/// Validates a parsed config. Returns the model only when there is no error; the diagnostics
/// (errors and warnings) are sorted by position and free of duplicates.
pub fn validate(raw: &RawConfig) -> (Option<Platform>, Vec<Diagnostic>) {
    let mut check = Checker::new(raw.mistyped.clone());
    let platform = platform(raw, &mut check);
    let mut diagnostics = check.finish();
    diagnostics.sort_by(|a, b| {
        (a.primary.span.start, a.primary.span.end, a.code).cmp(&(
            b.primary.span.start,
            b.primary.span.end,
            b.code,
        ))
    });
    diagnostics.dedup();
    // A value in [postgres] is checked for every database that inherits it; when databases run
    // different versions, say it once, for the first.
    let mut said = std::collections::BTreeSet::new();
    diagnostics.retain(|d| {
        !matches!(
            d.code,
            Code::UnknownSetting | Code::UnknownExtension | Code::ImageVersionMismatch
        ) || said.insert((d.code, d.primary.span.start, d.primary.span.end))
    });
    let diagnostics: Vec<Diagnostic> = diagnostics
        .into_iter()
        .map(Diagnostic::with_long_words_shortened)
        .collect();
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    (if failed { None } else { platform }, diagnostics)
}

fn platform(raw: &RawConfig, check: &mut Checker) -> Option<Platform> {
    let (name, namespace) = match &raw.platform {
        None => {
            if !check.mistyped(&[&raw.document], "platform") {
                check.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        raw.document.start..raw.document.start,
                        "missing the [platform] table",
                    )
                    .with_label("expected [platform] with `name` and `namespace`")
                    .with_help(
                        "add at the top of the file:\n[platform]\nname = \"bakery-ia\"\nnamespace = \"bakery-ia\"",
                    ),
                );
            }
            (None, None)
        }
        Some(section) => {
            let wanted = |key| Wanted {
                table: &section.span,
                table_name: "[platform]",
                key,
                also: None,
            };
            let name = check
                .required(
                    section.name.as_ref(),
                    &wanted("name"),
                    "missing `platform.name`",
                    "add `name = \"bakery-ia\"` under [platform]: it names the platform in labels and the CA",
                )
                .and_then(|n| check.label(n, CA_CONFIG_MAP_SUFFIX));
            let namespace = check
                .required(
                    section.namespace.as_ref(),
                    &wanted("namespace"),
                    "missing `platform.namespace`",
                    "add `namespace = \"bakery-ia\"` under [platform]: every object is created in it",
                )
                .and_then(|n| check.label(n, ""));
            (name, namespace)
        }
    };
    let cluster_domain = match raw
        .platform
        .as_ref()
        .and_then(|p| p.cluster_domain.as_ref())
    {
        None => DomainName::new("cluster.local").ok(),
        Some(domain) => check.domain(domain),
    };
    let postgres = raw.postgres.clone().unwrap_or_default();
    check.postgres_section(&postgres);
    if raw.postgres.is_some() {
        // Every value of [postgres] is checked where it is written, even when no database
        // inherits it (or none could be read).
        let defaults = Layered {
            top: &postgres,
            base: &postgres,
            owner: postgres.span.clone(),
            what: "[postgres]".to_owned(),
            reported: &DATABASE_REQUIRED.map(|(key, _)| key),
        };
        defaults.database(None, check);
    }

    let databases = databases(raw, &postgres, check);
    let cache = cache(raw, &databases, check);
    let tls = tls(raw, check);
    let environments = environments(raw, &databases, cache.as_ref(), check);
    fqdn_fits(raw, &databases, cache.as_ref(), check);

    Some(Platform {
        name: name?,
        namespace: namespace?,
        cluster_domain: cluster_domain?,
        databases: databases
            .into_iter()
            .map(|db| db.database)
            .collect::<Option<Vec<_>>>()?,
        cache: match cache {
            Some((cache, _)) => Some(cache?),
            None => None,
        },
        tls: tls?,
        environments: environments?,
    })
}

/// Every Service's fully qualified name (`<svc>.<namespace>.svc.<cluster_domain>`) is a SAN of
/// its certificate and the host of its client profile, so it must fit DNS's 253 characters.
fn fqdn_fits(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    cache: Option<&Declared<Cache>>,
    check: &mut Checker,
) {
    let Some(platform) = raw.platform.as_ref() else {
        return;
    };
    let (Some(domain), Some(namespace)) = (
        platform.cluster_domain.as_ref(),
        platform.namespace.as_ref(),
    ) else {
        return;
    };
    let services = databases
        .iter()
        .map(|db| WorkloadNames::for_database(&db.name.value).service)
        .chain(cache.map(|(_, name)| WorkloadNames::for_cache(&name.value).service));
    let Some(longest) = services.max_by_key(String::len) else {
        return;
    };
    let fqdn = format!("{longest}.{}.svc.{}", namespace.value, domain.value);
    if fqdn.len() > 253 {
        check.push(
            Diagnostic::error(
                Code::InvalidName,
                domain.span.clone(),
                format!("the Service name {longest}.{}.svc.<cluster_domain> would be {} characters; DNS allows 253", namespace.value, fqdn.len()),
            )
            .with_label("too long for the certificates' DNS names")
            .with_help("use the cluster's real DNS domain, usually \"cluster.local\""),
        );
    }
}

/// The cache with the span of its `name`, for later cross-references.
type Declared<T> = (Option<T>, Sp<String>);

/// A database as declared: the model when valid, its `name` and the `version` it runs.
struct DeclaredDatabase {
    database: Option<Database>,
    name: Sp<String>,
    version: Option<Sp<i64>>,
}

/// The keys of [`DATABASE_REQUIRED`] that no database has, neither in `[postgres]` nor in its
/// own table: reported once, not once per database.
fn missing_everywhere(
    raw: &RawConfig,
    postgres: &RawPostgres,
    check: &mut Checker,
) -> Vec<&'static str> {
    let present = |p: &RawPostgres, key: &str| match key {
        "version" => p.version.is_some(),
        "image" => p.image.is_some(),
        _ => p.storage.is_some(),
    };
    let missing: Vec<(&str, &str)> = DATABASE_REQUIRED
        .into_iter()
        .filter(|(key, _)| {
            !present(postgres, key)
                && !check.mistyped(&[&postgres.span], key)
                && raw.databases.iter().all(|db| !present(&db.settings, key))
        })
        .collect();
    let Some(first) = raw.databases.first() else {
        return Vec::new();
    };
    if missing.is_empty() {
        return Vec::new();
    }
    let lines: Vec<String> = missing.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let keys: Vec<String> = missing.iter().map(|(k, _)| format!("`{k}`")).collect();
    if raw.postgres.is_none() {
        check.push(
            Diagnostic::error(
                Code::MissingKey,
                first.span.clone(),
                format!(
                    "missing the [postgres] table: no database sets {}",
                    keys.join(", ")
                ),
            )
            .with_label("no [postgres] defaults, and this database does not set them")
            .with_help(format!(
                "add the defaults every database shares:\n[postgres]\n{}",
                lines.join("\n")
            )),
        );
    } else if raw.databases.len() > 1 {
        for (key, example) in &missing {
            check.push(
                Diagnostic::error(
                    Code::MissingKey,
                    postgres.span.clone(),
                    format!("missing `postgres.{key}`: no database sets `{key}`"),
                )
                .with_label(format!("[postgres] has no `{key}`"))
                .with_help(format!(
                    "add `{key} = {example}` under [postgres] to give every database a default, or set it in each [[database]]"
                )),
            );
        }
    } else {
        return Vec::new();
    }
    missing.into_iter().map(|(k, _)| k).collect()
}

fn databases(
    raw: &RawConfig,
    postgres: &RawPostgres,
    check: &mut Checker,
) -> Vec<DeclaredDatabase> {
    if raw.databases.is_empty() && !check.mistyped(&[&raw.document], "database") {
        check.push(
            Diagnostic::error(
                Code::NoDatabases,
                raw.document.start..raw.document.start,
                "no database is declared",
            )
            .with_label("expected at least one [[database]]")
            .with_help("add a database:\n[[database]]\nname = \"auth\""),
        );
    }
    let reported = missing_everywhere(raw, postgres, check);
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut result = Vec::new();
    for db in &raw.databases {
        let Some(name) = check.required(
            db.name.as_ref(),
            &Wanted {
                table: &db.span,
                table_name: "this [[database]]",
                key: "name",
                also: None,
            },
            "missing `database.name`",
            "add `name = \"...\"` to this [[database]]: it names the workload, Service, database and role",
        ) else {
            continue;
        };
        if let Some(first) = seen.get(&name.value) {
            check.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    name.span.clone(),
                    format!("database `{}` is declared twice", name.value),
                )
                .with_label("declared again here")
                .with_secondary(first.clone(), "first declared here")
                .with_help("rename or remove one of the two [[database]] entries"),
            );
        } else {
            seen.insert(name.value.clone(), name.span.clone());
        }
        let label = check.label(
            name,
            WorkloadNames::for_database(&name.value).longest_suffix(),
        );
        service_name_starts_with_letter(name, label.as_ref(), "db-", check);
        check.postgres_section(&db.settings);
        let layered = Layered {
            top: &db.settings,
            base: postgres,
            owner: db.span.clone(),
            what: format!("database `{}`", name.value),
            reported: &reported,
        };
        let database = layered.database(label, check);
        result.push(DeclaredDatabase {
            database,
            name: name.clone(),
            version: layered.pick(|p| p.version.as_ref()).cloned(),
        });
    }
    result
}

/// A database's keys with `[postgres]` underneath.
struct Layered<'a> {
    top: &'a RawPostgres,
    base: &'a RawPostgres,
    owner: Span,
    what: String,
    /// Required keys already reported as missing for every database.
    reported: &'a [&'static str],
}

impl<'a> Layered<'a> {
    fn pick<T>(&self, get: impl Fn(&RawPostgres) -> Option<&T>) -> Option<&T> {
        get(self.top).or_else(|| get(self.base))
    }

    /// A required key of this database, reported at its [[database]] unless already reported.
    fn required<T>(
        &self,
        check: &mut Checker,
        key: &'static str,
        get: impl Fn(&'a RawPostgres) -> Option<&'a Sp<T>>,
    ) -> Option<&'a Sp<T>> {
        let value = get(self.top).or_else(|| get(self.base));
        if self.reported.contains(&key) {
            return value;
        }
        let example = DATABASE_REQUIRED
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("...", |(_, v)| v);
        check.required(
            value,
            &Wanted {
                table: &self.owner,
                table_name: "this [[database]]",
                key,
                also: Some(&self.base.span),
            },
            &format!("missing `{key}` for {}", self.what),
            &format!(
                "add `{key} = {example}` to this [[database]], or under [postgres] for every database"
            ),
        )
    }

    fn database(&self, name: Option<DnsLabel>, check: &mut Checker) -> Option<Database> {
        let version = self
            .required(check, "version", |p| p.version.as_ref())
            .and_then(|v| check.version(v));
        let image = self.required(check, "image", |p| p.image.as_ref());
        let storage = self.required(check, "storage", |p| p.storage.as_ref());
        let image = image.and_then(|image| {
            check.postgres_image(image, version.zip(self.pick(|p| p.version.as_ref())))
        });
        let storage = storage.and_then(|s| check.storage(s));
        let storage_class = self
            .pick(|p| p.storage_class.as_ref())
            .and_then(|s| check.storage_class(s));
        let resources = check.resources(
            &[self.top.resources.as_ref(), self.base.resources.as_ref()],
            &values::POSTGRES_RESOURCES,
        );
        let extensions = self
            .pick(|p| p.extensions.as_ref())
            .map_or_else(|| Some(Vec::new()), |list| check.extensions(list, version));
        let audit = self.audit(check);
        let settings = self.settings(version, check);
        Some(Database {
            name: name?,
            version: version?,
            placement: Placement {
                image: image?,
                storage: storage?,
                storage_class,
                resources: resources?,
            },
            extensions: extensions?,
            audit: audit?,
            settings: settings?,
        })
    }

    fn audit(&self, check: &mut Checker) -> Option<Audit> {
        let top = self.top.audit.clone().unwrap_or_default();
        let base = self.base.audit.clone().unwrap_or_default();
        let defaults = Audit::default();
        let log_statement = match top.log_statement.as_ref().or(base.log_statement.as_ref()) {
            None => Some(defaults.log_statement),
            Some(written) => check.choice(
                written,
                "log_statement",
                LogStatement::NAMES,
                LogStatement::from_name,
            ),
        };
        if let (Some(LogStatement::All), Some(written)) = (
            log_statement,
            top.log_statement.as_ref().or(base.log_statement.as_ref()),
        ) {
            check.push(
                Diagnostic::warning(Code::LogStatementAll, written.span.clone(), "log_statement = \"all\" writes passwords to the server log")
                    .with_label("every statement is logged, including ALTER ROLE ... PASSWORD")
                    .with_help("use log_statement = \"ddl\" or \"mod\"; use log_min_duration to find slow statements"),
            );
        }
        let log_min_duration_ms = match top
            .log_min_duration
            .as_ref()
            .or(base.log_min_duration.as_ref())
        {
            None => Some(defaults.log_min_duration_ms),
            Some(written) => check.statement_duration(written),
        };
        Some(Audit {
            log_connections: top
                .log_connections
                .or(base.log_connections)
                .map_or(defaults.log_connections, |f| f.value),
            log_disconnections: top
                .log_disconnections
                .or(base.log_disconnections)
                .map_or(defaults.log_disconnections, |f| f.value),
            log_statement: log_statement?,
            log_min_duration_ms: log_min_duration_ms?,
        })
    }

    /// `[postgres.settings]` merged key by key with the database's own.
    fn settings(&self, version: Option<PgVersion>, check: &mut Checker) -> Option<Vec<Setting>> {
        let mut merged: BTreeMap<&str, &(Sp<String>, Sp<crate::parse::SettingValue>)> =
            BTreeMap::new();
        for layer in [&self.base.settings, &self.top.settings]
            .into_iter()
            .flatten()
        {
            for entry in &layer.value {
                merged.insert(entry.0.value.as_str(), entry);
            }
        }
        let version = version?;
        let mut ok = true;
        let mut settings = Vec::new();
        for (name, value) in merged.values() {
            match check.setting(name, value, version) {
                Some(setting) => settings.push(setting),
                None => ok = false,
            }
        }
        ok.then_some(settings)
    }
}

fn cache(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    check: &mut Checker,
) -> Option<Declared<Cache>> {
    let section = raw.cache.as_ref()?;
    let name = section
        .name
        .clone()
        .unwrap_or_else(|| Sp::new("redis".to_owned(), section.span.clone()));
    let label = check.label(
        &name,
        WorkloadNames::for_cache(&name.value).longest_suffix(),
    );
    service_name_starts_with_letter(&name, label.as_ref(), "cache-", check);
    for db in databases {
        let db = &db.name;
        let workload = WorkloadNames::for_database(&db.value).workload;
        let defaulted = if section.name.is_some() {
            ""
        } else {
            " (its name when [cache] sets none)"
        };
        let diagnostic = if name.value == workload {
            Diagnostic::error(
                Code::NameCollision,
                db.span.clone(),
                format!(
                    "the cache `{}` would replace the objects of database `{}`",
                    name.value, db.value
                ),
            )
            .with_label(format!(
                "deployed as `{workload}`, Service `{workload}-service`"
            ))
            .with_secondary(
                name.span.clone(),
                format!("the cache is also deployed as `{workload}`{defaulted}"),
            )
            .with_help(format!(
                "rename the cache, e.g. name = \"{}-cache\" under [cache]",
                db.value
            ))
        } else if name.value == db.value {
            Diagnostic::error(
                Code::NameCollision,
                db.span.clone(),
                format!("database `{}` has the same name as the cache", db.value),
            )
            .with_label(format!("database `{0}`: Service `{0}-db-service`", db.value))
            .with_secondary(
                name.span.clone(),
                format!("cache `{0}`: Service `{0}-service`{defaulted}", name.value),
            )
            .with_help(format!(
                "rename the database or the cache: a client told to use \"{}\" cannot know which server is meant",
                db.value
            ))
        } else {
            continue;
        };
        check.push(diagnostic);
    }
    let wanted = |key| Wanted {
        table: &section.span,
        table_name: "[cache]",
        key,
        also: None,
    };
    let image = check
        .required(
            section.image.as_ref(),
            &wanted("image"),
            "missing `cache.image`",
            "add `image = \"redis:7.4.1-alpine\"` under [cache]",
        )
        .and_then(|image| check.image(image));
    let storage = check
        .required(
            section.storage.as_ref(),
            &wanted("storage"),
            "missing `cache.storage`",
            "add `storage = \"1Gi\"` under [cache]",
        )
        .and_then(|s| check.storage(s));
    let storage_class = section
        .storage_class
        .as_ref()
        .and_then(|s| check.storage_class(s));
    let resources = check.resources(&[section.resources.as_ref()], &values::CACHE_RESOURCES);
    let client_auth = match &section.client_auth {
        None => Some(ClientAuth::None),
        Some(written) => {
            let mode = check.choice(
                written,
                "client_auth",
                ClientAuth::NAMES,
                ClientAuth::from_name,
            );
            if mode == Some(ClientAuth::Required) {
                check.push(
                    Diagnostic::error(Code::ClientAuthContradiction, written.span.clone(), "client_auth = \"required\" locks every client out")
                        .with_label("Redis would demand a client certificate")
                        .with_help("bakeryc issues no client certificates, so no service could connect: use client_auth = \"none\" (password + server-verified TLS) or \"optional\""),
                );
            }
            mode
        }
    };
    let cache = (|| {
        Some(Cache {
            name: label?,
            placement: Placement {
                image: image?,
                storage: storage?,
                storage_class,
                resources: resources?,
            },
            client_auth: client_auth?,
        })
    })();
    Some((cache, name))
}

fn tls(raw: &RawConfig, check: &mut Checker) -> Option<TlsPolicy> {
    let section = raw.tls.clone().unwrap_or_default();
    let min_version = match &section.min_version {
        None => Some(TlsVersion::V1_2),
        Some(written) => check.tls_version(written),
    };
    let ca = section.ca.clone().unwrap_or_default();
    let server = section.server.clone().unwrap_or_default();
    let ca_validity = check.period(ca.validity.as_ref(), "10y");
    let ca_key = check.key(ca.key.as_ref(), KeyAlgorithm::Rsa4096);
    let server_validity = check.period(server.validity.as_ref(), "1y");
    let server_key = check.key(server.key.as_ref(), KeyAlgorithm::Rsa4096);
    let renew_before = check.period(server.renew_before.as_ref(), "30d");
    validity_fits_x509(ca.validity.as_ref(), ca_validity.as_ref(), check);
    validity_fits_x509(server.validity.as_ref(), server_validity.as_ref(), check);
    if let (Some(ca_period), Some(server_period)) = (&ca_validity, &server_validity) {
        if let (true, Some(written)) = (ca_period.days() > 30.0 * 365.25, &ca.validity) {
            check.push(
                Diagnostic::warning(
                    Code::LongValidity,
                    written.span.clone(),
                    format!("the CA is valid for {}, more than 30 years", ca_period.as_str()),
                )
                .with_label("longer than 30 years")
                .with_help("a CA of 10 to 20 years is common; a leaked CA key stays useful for its whole validity"),
            );
        }
        if let (true, Some(written)) = (server_period.days() > 5.0 * 365.25, &server.validity) {
            check.push(
                Diagnostic::warning(
                    Code::LongValidity,
                    written.span.clone(),
                    format!(
                        "server certificates are valid for {}, more than 5 years",
                        server_period.as_str()
                    ),
                )
                .with_label("longer than 5 years")
                .with_help("use 1y to 3y and let `bakeryc secrets status` tell you when to rotate"),
            );
        }
        if server_period.days() >= ca_period.days() {
            check.push(validity_order(
                &ca,
                &server,
                ca_period,
                server_period,
                &section.span,
            ));
        }
        if let Some(renew) = &renew_before {
            if renew.days() >= server_period.days() {
                check.push(renew_order(&server, renew, server_period, &section.span));
            }
        }
    }
    no_control_characters(ca.common_name.as_ref(), Code::CommonName, check);
    let common_name = match &ca.common_name {
        Some(name) if name.value.trim().is_empty() || name.value.len() > 64 => {
            check.push(
                Diagnostic::error(
                    Code::CommonName,
                    name.span.clone(),
                    "the CA common name must be 1 to 64 characters",
                )
                .with_label("not a usable common name")
                .with_help("use a short descriptive name such as \"Bakery IA Internal CA\""),
            );
            None
        }
        Some(name) => Some(name.value.clone()),
        None => {
            let platform = raw
                .platform
                .as_ref()
                .and_then(|p| p.name.as_ref())
                .map_or("bakery", |n| n.value.as_str());
            Some(format!("{platform} internal CA"))
        }
    };
    Some(TlsPolicy {
        min_version: min_version?,
        ca: CaPolicy {
            common_name: common_name?,
            validity: ca_validity?,
            key: ca_key?,
        },
        server: ServerCertPolicy {
            validity: server_validity?,
            key: server_key?,
            renew_before: renew_before?,
        },
    })
}

/// The server certificate would outlive its CA; reported at whichever validity was written.
fn validity_order(
    ca: &crate::parse::RawCa,
    server: &crate::parse::RawServerCert,
    ca_period: &crate::model::Period,
    server_period: &crate::model::Period,
    tls: &Span,
) -> Diagnostic {
    let message = format!(
        "server certificates ({}) would outlive their CA ({})",
        server_period.as_str(),
        ca_period.as_str()
    );
    match (&server.validity, &ca.validity) {
        (Some(server_written), ca_written) => {
            let mut diagnostic = Diagnostic::error(Code::ValidityOrder, server_written.span.clone(), message)
                .with_label("not shorter than the CA validity")
                .with_help(format!(
                    "make [tls.server] validity shorter than the CA's {}, e.g. validity = \"1y\"",
                    ca_period.as_str()
                ));
            diagnostic = match ca_written {
                Some(ca_written) => diagnostic.with_secondary(ca_written.span.clone(), "CA validity"),
                None => diagnostic.with_help(format!(
                    "the CA validity defaults to {}: make [tls.server] validity shorter, or set a longer [tls.ca] validity",
                    ca_period.as_str()
                )),
            };
            diagnostic
        }
        (None, Some(ca_written)) => Diagnostic::error(Code::ValidityOrder, ca_written.span.clone(), message)
            .with_label(format!(
                "not longer than the server validity ({}, the default)",
                server_period.as_str()
            ))
            .with_help(format!(
                "make the CA validity longer than {}, e.g. validity = \"10y\", or set a shorter [tls.server] validity",
                server_period.as_str()
            )),
        (None, None) => Diagnostic::error(Code::ValidityOrder, tls.clone(), message)
            .with_label("default validities")
            .with_help("set [tls.ca] and [tls.server] validities explicitly"),
    }
}

/// renew_before is not shorter than the server validity; reported where it was written.
fn renew_order(
    server: &crate::parse::RawServerCert,
    renew: &crate::model::Period,
    server_period: &crate::model::Period,
    tls: &Span,
) -> Diagnostic {
    let message = format!(
        "renew_before ({}) is not shorter than the server validity ({})",
        renew.as_str(),
        server_period.as_str()
    );
    let help = format!(
        "make renew_before shorter than {}, e.g. a quarter of it, so that certificates are renewed well before they expire",
        server_period.as_str()
    );
    match (&server.renew_before, &server.validity) {
        (Some(written), validity) => {
            let diagnostic = Diagnostic::error(Code::RenewBefore, written.span.clone(), message)
                .with_label("every certificate would be due at issue")
                .with_help(help);
            match validity {
                Some(validity) => diagnostic.with_secondary(validity.span.clone(), "server validity"),
                None => diagnostic.with_help(format!(
                    "the server validity defaults to {}: make renew_before shorter, e.g. renew_before = \"30d\"",
                    server_period.as_str()
                )),
            }
        }
        (None, Some(validity)) => {
            Diagnostic::error(Code::RenewBefore, validity.span.clone(), message)
                .with_label(format!(
                    "not longer than renew_before ({}, the default)",
                    renew.as_str()
                ))
                .with_help(format!(
                    "make the server validity longer than {}, or set a shorter renew_before",
                    renew.as_str()
                ))
        }
        (None, None) => Diagnostic::error(Code::RenewBefore, tls.clone(), message)
            .with_label("default periods")
            .with_help(help),
    }
}

fn environments(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    cache: Option<&Declared<Cache>>,
    check: &mut Checker,
) -> Option<Vec<Environment>> {
    let mut result = Vec::new();
    let mut ok = true;
    for env in &raw.environments {
        let name = check.label(&env.name, "");
        check.placement_section(&env.defaults);
        let mut overrides: BTreeMap<&str, &RawPlacement> = BTreeMap::new();
        for (db_name, placement) in &env.databases {
            check.placement_section(placement);
            if databases.iter().any(|db| db.name.value == db_name.value) {
                overrides.insert(&db_name.value, placement);
            } else {
                let mut known: Vec<&str> =
                    databases.iter().map(|db| db.name.value.as_str()).collect();
                let mut seen = std::collections::BTreeSet::new();
                known.retain(|name| seen.insert(*name));
                let help = match crate::parse::suggest(&db_name.value, &known) {
                    Some(near) => format!(
                        "did you mean `{near}`? Declared databases: {}",
                        known.join(", ")
                    ),
                    None => format!("declared databases: {}", known.join(", ")),
                };
                check.push(
                    Diagnostic::error(
                        Code::UnknownDatabase,
                        db_name.span.clone(),
                        format!(
                            "environment `{}` overrides database `{}`, which is not declared",
                            env.name.value, db_name.value
                        ),
                    )
                    .with_label("no [[database]] has this name")
                    .with_help(help),
                );
            }
        }
        let mut placements = BTreeMap::new();
        for declared in databases {
            let (Some(db), Some(version)) = (&declared.database, &declared.version) else {
                ok = false;
                continue;
            };
            let layers = [
                overrides.get(declared.name.value.as_str()).copied(),
                Some(&env.defaults),
            ];
            let placement =
                check.env_placement(&layers, &db.placement, Some((db.version, version)));
            match placement {
                Some(placement) => {
                    placements.insert(db.name.clone(), placement);
                }
                None => ok = false,
            }
        }
        if let Some(written) = &env.cache {
            check.placement_section(written);
        }
        let cache_placement = match (cache, &env.cache) {
            (Some((Some(cache), _)), _) => {
                check.env_placement(&[env.cache.as_ref()], &cache.placement, None)
            }
            (None, Some(written)) => {
                check.push(
                    Diagnostic::error(
                        Code::UnknownKey,
                        written.span.clone(),
                        format!(
                            "environment `{}` overrides a cache, but no [cache] is declared",
                            env.name.value
                        ),
                    )
                    .with_label("there is no [cache]")
                    .with_help("remove this table or declare a [cache]"),
                );
                None
            }
            _ => None,
        };
        let trusted_cas = trusted_cas(env.trusted_cas.as_ref(), check);
        match (name, trusted_cas) {
            (Some(name), Some(trusted_cas)) => result.push(Environment {
                name,
                databases: placements,
                cache: cache_placement,
                trusted_cas,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(result)
}

/// Helpers shared by the layering code above: everything that reads one raw value.
impl Checker {
    fn postgres_section(&mut self, section: &RawPostgres) {
        if let Some(resources) = &section.resources {
            self.resources_section(resources);
        }
    }

    fn placement_section(&mut self, section: &RawPlacement) {
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

/// `[environments.E] trusted_cas`: SHA-256 fingerprints of CA certificates `secrets status`
/// accepts in E's trust files although bakeryc did not issue them for E.
fn trusted_cas(
    written: Option<&Sp<Vec<Sp<String>>>>,
    check: &mut Checker,
) -> Option<BTreeSet<CaFingerprint>> {
    let mut fingerprints = BTreeSet::new();
    let mut ok = true;
    for value in written
        .map(|list| list.value.as_slice())
        .unwrap_or_default()
    {
        match CaFingerprint::new(&value.value) {
            Ok(fingerprint) => {
                fingerprints.insert(fingerprint);
            }
            Err(problem) => {
                ok = false;
                check.push(
                    Diagnostic::error(Code::Fingerprint, value.span.clone(), problem)
                        .with_label("not a SHA-256 fingerprint")
                        .with_help(
                            "copy the fingerprint `bakeryc secrets status` or \
                             `openssl x509 -noout -fingerprint -sha256 -in <file>` prints",
                        ),
                );
            }
        }
    }
    ok.then_some(fingerprints)
}

/// A database or cache name starting with a digit: it is a valid DNS-1123 label, but its
/// Service (`<name>-db-service`, `<name>-service`) must be a DNS-1035 label, which starts with
/// a letter, so the API server would refuse it at deploy time.
fn service_name_starts_with_letter(
    name: &Sp<String>,
    label: Option<&DnsLabel>,
    example_prefix: &str,
    check: &mut Checker,
) {
    if label.is_some() && name.value.starts_with(|c: char| c.is_ascii_digit()) {
        check.push(
            Diagnostic::error(
                Code::InvalidName,
                name.span.clone(),
                format!(
                    "{:?} starts with a digit; the Service named after it would too",
                    name.value
                ),
            )
            .with_label("not a valid Service name")
            .with_help(format!(
                "Service names are DNS-1035 labels: they start with a lowercase letter, then \
                 lowercase letters, digits and '-'; e.g. \"{example_prefix}{}\"",
                name.value
            )),
        );
    }
}

/// A validity that cannot be issued: X.509 times end at 9999-12-31, so `generate` fails when
/// its moment plus the validity passes it. To stay independent of today, the check assumes
/// issuing up to 2100-01-01: anything that fits then fits earlier.
fn validity_fits_x509(written: Option<&Sp<String>>, period: Option<&Period>, check: &mut Checker) {
    const LAST_ISSUE: jiff::civil::Date = jiff::civil::date(2100, 1, 1);
    let (Some(written), Some(period)) = (written, period) else {
        return;
    };
    if LAST_ISSUE.checked_add(period.span()).is_err() {
        check.push(
            Diagnostic::error(
                Code::ValidityTooLong,
                written.span.clone(),
                format!(
                    "a validity of {} ends after 9999-12-31, the last date a certificate can hold",
                    period.as_str()
                ),
            )
            .with_label("cannot be issued")
            .with_help("use a validity of at most a few decades, such as \"10y\" for a CA"),
        );
    }
}

/// Control characters (newline, ESC, DEL, C1) in a value that ends up in certificates and on
/// terminals: they forge lines in `status` reports and drive terminals.
fn no_control_characters(value: Option<&Sp<String>>, code: Code, check: &mut Checker) {
    let Some(value) = value else {
        return;
    };
    if let Some(c) = value.value.chars().find(|c| c.is_control()) {
        check.push(
            Diagnostic::error(
                code,
                value.span.clone(),
                format!("{:?} holds the control character {c:?}", value.value),
            )
            .with_label("control character")
            .with_help(
                "use printable characters only: no newline, tab, escape or other control character",
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn codes(source: &str) -> Vec<(Code, String)> {
        let (raw, _) = parse(source);
        let (_, diagnostics) = validate(&raw);
        diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect()
    }

    #[test]
    fn a_mistyped_key_is_not_missing_but_another_missing_key_is() {
        let found = codes(
            "[platform]\nname = \"p\"\n[postgres]\nversion = \"17\"\nimage = \"postgres:17.2\"\nstorage = \"1Gi\"\n[[database]]\nname = \"a\"\n",
        );
        assert_eq!(
            found,
            [(Code::MissingKey, "missing `platform.namespace`".to_owned())]
        );
    }

    #[test]
    fn a_key_missing_from_every_database_is_reported_once() {
        let found = codes(
            "[platform]\nname = \"p\"\nnamespace = \"n\"\n[postgres]\nversion = 17\nimage = \"postgres:17.2\"\n[[database]]\nname = \"a\"\n[[database]]\nname = \"b\"\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Code::MissingKey);
    }

    #[test]
    fn postgres_values_are_checked_without_databases() {
        let found = codes(
            "[platform]\nname = \"p\"\nnamespace = \"n\"\n[postgres]\nversion = 17\nimage = \"postgres:latest\"\nstorage = \"2GB\"\n",
        );
        let found: Vec<Code> = found.into_iter().map(|(code, _)| code).collect();
        assert_eq!(
            found,
            [Code::NoDatabases, Code::ImageLatest, Code::InvalidQuantity]
        );
    }
}
