//! Raw config to model: resolves the layering (`[postgres]` < `[[database]]` < `[environments.E]`
//! < `[environments.E.database.NAME]`) and checks every value, collecting every problem instead of
//! stopping at the first. Each value is checked once, where it is written, so one typo in
//! `[postgres]` is one diagnostic, not one per database. It never prints or touches disk.

mod catalogue;
mod values;

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::model::{
    Audit, CaPolicy, Cache, ClientAuth, Database, DnsLabel, DomainName, Environment, KeyAlgorithm,
    LogStatement, PgVersion, Placement, Platform, ServerCertPolicy, Setting, TlsPolicy, TlsVersion,
};
use crate::parse::{RawConfig, RawCpuMemory, RawPlacement, RawPostgres, RawResources, Sp, Span};

pub use catalogue::{contrib_extensions, setting_exists};
use values::Checker;

/// The longest suffix bakeryc appends to a database name (`<name>-db-credentials`).
pub const DATABASE_SUFFIX: &str = "-db-credentials";
/// The longest suffix bakeryc appends to the cache name (`<cache>-credentials`).
pub const CACHE_SUFFIX: &str = "-credentials";

/// Validates a parsed config. Returns the model only when there is no error; the diagnostics
/// (errors and warnings) are sorted by position and free of duplicates.
pub fn validate(raw: &RawConfig) -> (Option<Platform>, Vec<Diagnostic>) {
    let mut check = Checker::default();
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
    let failed = diagnostics.iter().any(Diagnostic::is_error);
    (if failed { None } else { platform }, diagnostics)
}

fn platform(raw: &RawConfig, check: &mut Checker) -> Option<Platform> {
    let platform_span = raw
        .platform
        .as_ref()
        .map_or(raw.document.start..raw.document.start, |p| p.span.clone());
    let section = raw.platform.clone().unwrap_or_default();
    let name = check
        .required(
            section.name.as_ref(),
            platform_span.clone(),
            "platform.name",
            "add `name = \"my-platform\"` under [platform]",
        )
        .and_then(|n| check.label(n, ""));
    let namespace = check
        .required(
            section.namespace.as_ref(),
            platform_span.clone(),
            "platform.namespace",
            "add `namespace = \"my-namespace\"` under [platform]",
        )
        .and_then(|n| check.label(n, ""));
    let cluster_domain = match &section.cluster_domain {
        None => DomainName::new("cluster.local").ok(),
        Some(domain) => check.domain(domain),
    };
    let postgres = raw.postgres.clone().unwrap_or_default();
    check.postgres_section(&postgres);

    let databases = databases(raw, &postgres, check);
    let cache = cache(raw, &databases, check);
    let tls = tls(raw, check);
    let environments = environments(raw, &databases, cache.as_ref(), check);

    Some(Platform {
        name: name?,
        namespace: namespace?,
        cluster_domain: cluster_domain?,
        databases: databases
            .into_iter()
            .map(|(db, _)| db)
            .collect::<Option<Vec<_>>>()?,
        cache: match cache {
            Some((cache, _)) => Some(cache?),
            None => None,
        },
        tls: tls?,
        environments: environments?,
    })
}

/// Each database with the span of its `name`, for later cross-references.
type Declared<T> = (Option<T>, Sp<String>);

fn databases(
    raw: &RawConfig,
    postgres: &RawPostgres,
    check: &mut Checker,
) -> Vec<Declared<Database>> {
    if raw.databases.is_empty() {
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
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut result = Vec::new();
    for db in &raw.databases {
        let Some(name) = check.required(
            db.name.as_ref(),
            db.span.clone(),
            "database.name",
            "add `name = \"...\"` to this [[database]]",
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
        let label = check.label(name, DATABASE_SUFFIX);
        check.postgres_section(&db.settings);
        let layered = Layered {
            top: &db.settings,
            base: postgres,
            owner: db.span.clone(),
            what: format!("database `{}`", name.value),
        };
        let database = layered.database(label, check);
        result.push((database, name.clone()));
    }
    result
}

/// A database's keys with `[postgres]` underneath.
struct Layered<'a> {
    top: &'a RawPostgres,
    base: &'a RawPostgres,
    owner: Span,
    what: String,
}

impl Layered<'_> {
    fn pick<T>(&self, get: impl Fn(&RawPostgres) -> Option<&T>) -> Option<&T> {
        get(self.top).or_else(|| get(self.base))
    }

    fn database(&self, name: Option<DnsLabel>, check: &mut Checker) -> Option<Database> {
        let missing = |key: &str| {
            format!("set `{key}` under [postgres] for every database, or in this [[database]]")
        };
        let version = check
            .required(
                self.pick(|p| p.version.as_ref()),
                self.owner.clone(),
                &format!("`version` for {}", self.what),
                &missing("version"),
            )
            .and_then(|v| check.version(v));
        let image = check.required(
            self.pick(|p| p.image.as_ref()),
            self.owner.clone(),
            &format!("`image` for {}", self.what),
            &missing("image"),
        );
        let storage = check.required(
            self.pick(|p| p.storage.as_ref()),
            self.owner.clone(),
            &format!("`storage` for {}", self.what),
            &missing("storage"),
        );
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
    databases: &[Declared<Database>],
    check: &mut Checker,
) -> Option<Declared<Cache>> {
    let section = raw.cache.as_ref()?;
    let name = section
        .name
        .clone()
        .unwrap_or_else(|| Sp::new("redis".to_owned(), section.span.clone()));
    let label = check.label(&name, CACHE_SUFFIX);
    for (_, db) in databases {
        if name.value == db.value || name.value == format!("{}-db", db.value) {
            check.push(
                Diagnostic::error(
                    Code::NameCollision,
                    name.span.clone(),
                    format!(
                        "the cache `{}` collides with database `{}`",
                        name.value, db.value
                    ),
                )
                .with_label("cache declared here")
                .with_secondary(db.span.clone(), "database declared here")
                .with_help(format!(
                    "rename the cache, e.g. name = \"{}-cache\"",
                    db.value
                )),
            );
        }
    }
    let image = check
        .required(
            section.image.as_ref(),
            section.span.clone(),
            "cache.image",
            "add `image = \"redis:7.4.1-alpine\"` under [cache]",
        )
        .and_then(|image| check.image(image));
    let storage = check
        .required(
            section.storage.as_ref(),
            section.span.clone(),
            "cache.storage",
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
    if let (Some(ca_period), Some(server_period)) = (&ca_validity, &server_validity) {
        if ca_period.days() > 30.0 * 365.25 {
            let span = ca
                .validity
                .as_ref()
                .map_or(ca.span.clone(), |v| v.span.clone());
            check.push(
                Diagnostic::warning(Code::LongValidity, span, format!("the CA is valid for {}, more than 30 years", ca_period.as_str()))
                    .with_label("longer than 30 years")
                    .with_help("a CA of 10 to 20 years is common; a leaked CA key stays useful for its whole validity"),
            );
        }
        if server_period.days() > 5.0 * 365.25 {
            let span = server
                .validity
                .as_ref()
                .map_or(server.span.clone(), |v| v.span.clone());
            check.push(
                Diagnostic::warning(
                    Code::LongValidity,
                    span,
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
            let span = server
                .validity
                .as_ref()
                .map_or(server.span.clone(), |v| v.span.clone());
            let mut diagnostic = Diagnostic::error(
                Code::ValidityOrder,
                span,
                format!("server certificates ({}) would outlive their CA ({})", server_period.as_str(), ca_period.as_str()),
            )
            .with_label("not shorter than the CA validity")
            .with_help("make [tls.server] validity shorter than [tls.ca] validity, e.g. validity = \"3y\" with a 10y CA");
            if let Some(ca_written) = &ca.validity {
                diagnostic = diagnostic.with_secondary(ca_written.span.clone(), "CA validity");
            }
            check.push(diagnostic);
        }
        if let Some(renew) = &renew_before {
            if renew.days() >= server_period.days() {
                let span = server
                    .renew_before
                    .as_ref()
                    .map_or(server.span.clone(), |v| v.span.clone());
                let mut diagnostic = Diagnostic::error(
                    Code::RenewBefore,
                    span,
                    format!(
                        "renew_before ({}) is not shorter than the server validity ({})",
                        renew.as_str(),
                        server_period.as_str()
                    ),
                )
                .with_label("every certificate would be due at issue");
                if let Some(validity) = &server.validity {
                    diagnostic =
                        diagnostic.with_secondary(validity.span.clone(), "server validity");
                }
                check.push(diagnostic);
            }
        }
    }
    let common_name = match &ca.common_name {
        Some(name) if name.value.trim().is_empty() || name.value.len() > 64 => {
            check.push(
                Diagnostic::error(
                    Code::InvalidChoice,
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

fn environments(
    raw: &RawConfig,
    databases: &[Declared<Database>],
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
            if databases
                .iter()
                .any(|(_, declared)| declared.value == db_name.value)
            {
                overrides.insert(&db_name.value, placement);
            } else {
                let known: Vec<&str> = databases.iter().map(|(_, n)| n.value.as_str()).collect();
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
        for (db, db_name) in databases {
            let Some(db) = db else {
                ok = false;
                continue;
            };
            let layers = [
                overrides.get(db_name.value.as_str()).copied(),
                Some(&env.defaults),
            ];
            let placement = check.env_placement(&layers, &db.placement, Some(db.version));
            match placement {
                Some(placement) => {
                    placements.insert(db.name.clone(), placement);
                }
                None => ok = false,
            }
        }
        let cache_placement = match (cache, &env.cache) {
            (Some((Some(cache), _)), written) => {
                if let Some(written) = written {
                    check.placement_section(written);
                }
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
        match name {
            Some(name) => result.push(Environment {
                name,
                databases: placements,
                cache: cache_placement,
            }),
            None => ok = false,
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

    fn resources_section(&mut self, resources: &RawResources) {
        for cpu_memory in [&resources.requests, &resources.limits]
            .into_iter()
            .flatten()
        {
            let RawCpuMemory { cpu, memory, .. } = cpu_memory;
            if let Some(cpu) = cpu {
                self.quantity(cpu, "cpu");
            }
            if let Some(memory) = memory {
                self.quantity(memory, "memory");
            }
        }
    }
}
