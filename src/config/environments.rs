//! `[environments.E]`, `[environments.E.database.NAME]`, `[environments.E.cache]`: what an
//! environment (one overlay) may change, where and how big a workload runs, never what it is.
//! Its keys and raw form, and its checks (overrides of undeclared databases or cache included).

use std::collections::{BTreeMap, BTreeSet};

use super::cache::Declared;
use super::database::DeclaredDatabase;
use super::{Checker, RawConfig};
use super::{
    Default, Fields, Format, Key, Kind, Required, Sp, Span, Table, cache, postgres, resources,
};
use crate::diagnostic;
use crate::model::{CaFingerprint, Cache, Environment};

/// A workload key as an environment overrides it: optional, defaulting to the workload's value.
const fn placement(key: Key) -> Key {
    Key {
        required: Required::No,
        default: Default::Described("the workload's"),
        ..key
    }
}

pub static TABLE: Table = Table {
    title: "[environments.E]",
    doc: "for every database in E",
    keys: &[
        placement(postgres::IMAGE),
        placement(postgres::STORAGE),
        placement(postgres::STORAGE_CLASS),
        placement(resources::key(&postgres::RESOURCES)),
        Key {
            name: "trusted_cas",
            kind: Kind::List(Format::Fingerprint),
            required: Required::No,
            default: Default::EmptyList,
            doc: "SHA-256 fingerprints (as `openssl x509 -noout -fingerprint -sha256` prints them) of CA certificates `secrets status` accepts in E's trust files although bakeryc did not issue them for E",
            example: "[\"4F:2A:8C:11:0B:9E:77:D3:5A:60:C2:18:E4:93:AB:0F:6D:21:C8:5E:99:3B:07:F1:A4:62:DE:80:13:5C:B7:2E\"]",
        },
        Key {
            name: "client_certificates",
            kind: Kind::Bool,
            required: Required::No,
            default: Default::Described("`[tls] client_certificates`"),
            doc: "whether servers demand client certificates in E",
            example: "true",
        },
        Key {
            name: "database",
            kind: Kind::Named(&DATABASE),
            required: Required::No,
            default: Default::None,
            doc: "one table per database, by name",
            example: "",
        },
        Key {
            name: "cache",
            kind: Kind::Table(&CACHE),
            required: Required::No,
            default: Default::None,
            doc: "the cache in this environment",
            example: "",
        },
        Key {
            name: "backup",
            kind: Kind::Table(&super::backup::ENVIRONMENT),
            required: Required::No,
            default: Default::Described("`[backup]`"),
            doc: "with [backup]: the repository, schedule or retention of E",
            example: "",
        },
        Key {
            name: "destination",
            kind: Kind::Table(&super::gitops::DESTINATION),
            required: Required::No,
            default: Default::Described("the cluster Argo CD runs in, `[platform] namespace`"),
            doc: "with [gitops]: where Argo CD syncs this environment",
            example: "{ server = \"https://prod.k8s.example.com\" }",
        },
    ],
    inherits: None,
    inline: false,
};

pub static DATABASE: Table = Table {
    title: "[environments.E.database.NAME]",
    doc: "for one database",
    keys: &[
        placement(postgres::IMAGE),
        placement(postgres::STORAGE),
        placement(postgres::STORAGE_CLASS),
        placement(resources::key(&postgres::RESOURCES)),
    ],
    inherits: None,
    inline: false,
};

pub static CACHE: Table = Table {
    title: "[environments.E.cache]",
    doc: "for the cache",
    keys: &[
        placement(cache::IMAGE),
        placement(cache::STORAGE),
        placement(postgres::STORAGE_CLASS),
        placement(resources::key(&cache::RESOURCES)),
    ],
    inherits: None,
    inline: false,
};

/// `[environments.NAME]` with its per-database and cache overrides.
#[derive(Clone, Debug, Default)]
pub struct RawEnvironment {
    pub name: Sp<String>,
    pub defaults: RawPlacement,
    /// SHA-256 fingerprints of CAs trusted beyond bakeryc's own.
    pub trusted_cas: Option<Sp<Vec<Sp<String>>>>,
    pub client_certificates: Option<Sp<bool>>,
    pub databases: Vec<(Sp<String>, RawPlacement)>,
    pub cache: Option<RawPlacement>,
    pub destination: Option<super::gitops::RawDestination>,
    pub backup: Option<super::backup::RawBackup>,
}

/// What an environment may change: where and how big a workload runs, never what it is.
#[derive(Clone, Debug, Default)]
pub struct RawPlacement {
    pub span: Span,
    pub image: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub resources: Option<resources::RawResources>,
}

pub fn read(name: Sp<String>, env: &mut Fields<'_, '_, '_>) -> RawEnvironment {
    RawEnvironment {
        name,
        defaults: placement_keys(env),
        trusted_cas: env.string_array("trusted_cas"),
        client_certificates: env.boolean("client_certificates"),
        databases: env
            .table("database", |dbs| {
                dbs.each_table(|name, db| (name, placement_keys(db)))
            })
            .unwrap_or_default(),
        cache: env.table("cache", placement_keys),
        destination: env.table("destination", super::gitops::read_destination),
        backup: env.table("backup", super::backup::read_environment),
    }
}

fn placement_keys(t: &mut Fields<'_, '_, '_>) -> RawPlacement {
    RawPlacement {
        span: t.span.clone(),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        resources: t.table("resources", resources::read),
    }
}

pub fn validate(
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
                let kind = diagnostic::Kind::UnknownDatabase {
                    environment: env.name.value.clone(),
                    database: db_name.value.clone(),
                    near: super::suggest(&db_name.value, &known).map(str::to_owned),
                    declared: known.into_iter().map(str::to_owned).collect(),
                };
                check.report(&db_name.span, &kind);
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
                let kind = diagnostic::Kind::UnknownCache {
                    environment: env.name.value.clone(),
                };
                check.report(&written.span, &kind);
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
                client_certificates: env
                    .client_certificates
                    .as_ref()
                    .map(|c| c.value)
                    .or_else(|| {
                        raw.tls
                            .as_ref()
                            .and_then(|t| t.client_certificates.as_ref())
                            .map(|c| c.value)
                    })
                    .unwrap_or(false),
            }),
            _ => ok = false,
        }
    }
    ok.then_some(result)
}

/// `trusted_cas`: SHA-256 fingerprints of CA certificates `secrets status` accepts in the
/// environment's trust files although bakeryc did not issue them for it. A fingerprint, not a
/// name: anyone can issue a CA with any name.
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
        if let Ok(fingerprint) = CaFingerprint::new(&value.value) {
            fingerprints.insert(fingerprint);
        } else {
            ok = false;
            let kind = diagnostic::Kind::NotFingerprint {
                written: value.value.clone(),
            };
            check.report(&value.span, &kind);
        }
    }
    ok.then_some(fingerprints)
}
