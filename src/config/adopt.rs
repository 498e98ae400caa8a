//! `[database.adopt]` and `[cache.adopt]`: a running workload that bakeryc takes over with its
//! data and names (the existing volume claim, the data directory inside it, the database and
//! role, the Deployment and Service). Its keys and raw form, the check of one table, and the
//! checks across the platform (a claim or name used twice, `storage` beside an adopted claim).
//! It decides nothing about objects: compile reads the model's `Adoption`.

use std::collections::BTreeMap;

use super::{Checker, Default, Fields, Format, Key, Kind, RawConfig, Required, Sp, Span, Table};
use crate::diagnostic;
use crate::model::{Adoption, DataPath, DnsLabel, PgIdentifier, WorkloadNames};

const CLAIM: Key = Key {
    name: "claim",
    kind: Kind::Str(Format::Label),
    required: Required::Yes,
    default: Default::None,
    doc: "the existing PersistentVolumeClaim to mount; bakeryc references it and never defines, resizes or deletes it (`storage` and `storage_class` are then refused)",
    example: "\"auth-db-pvc\"",
};

const WORKLOAD: Key = Key {
    name: "workload",
    kind: Kind::Str(Format::Label),
    required: Required::No,
    default: Default::Described("bakeryc's name"),
    doc: "the existing Deployment's name, when it is not bakeryc's; its Secrets and ConfigMaps are named after it",
    example: "\"auth-db\"",
};

const SERVICE: Key = Key {
    name: "service",
    kind: Kind::Str(Format::ServiceLabel),
    required: Required::No,
    default: Default::Described("`<workload>-service`"),
    doc: "the existing Service's name that clients use, when it is not bakeryc's",
    example: "\"auth-db-service\"",
};

pub static DATABASE: Table = Table {
    title: "[database.adopt]",
    doc: "a running database taken over with its data and names (see docs/adopt.md)",
    keys: &[
        CLAIM,
        Key {
            name: "data_path",
            kind: Kind::Str(Format::Text { max_len: 255 }),
            required: Required::No,
            default: Default::Str(DATABASE_DATA_PATH),
            doc: "the data directory (where PG_VERSION is) relative to the claim's root; `.` for the root",
            example: "\"pgdata\"",
        },
        Key {
            name: "database",
            kind: Kind::Str(Format::Text { max_len: 63 }),
            required: Required::No,
            default: Default::Described("`<name>_db`"),
            doc: "the existing database, used by the client profiles, the credentials Secret and the reconcile step",
            example: "\"auth_db\"",
        },
        Key {
            name: "role",
            kind: Kind::Str(Format::Text { max_len: 63 }),
            required: Required::No,
            default: Default::Described("`<name>_user`"),
            doc: "the existing role that owns it; its password is imported with `bakeryc secrets import`",
            example: "\"auth_user\"",
        },
        WORKLOAD,
        SERVICE,
    ],
    inherits: None,
    inline: false,
};

pub static CACHE: Table = Table {
    title: "[cache.adopt]",
    doc: "a running Redis taken over with its append-only file and names (see docs/adopt.md)",
    keys: &[
        Key {
            example: "\"redis-pvc\"",
            ..CLAIM
        },
        Key {
            name: "data_path",
            kind: Kind::Str(Format::Text { max_len: 255 }),
            required: Required::No,
            default: Default::Str(CACHE_DATA_PATH),
            doc: "Redis's `dir` (where appendonly files are) relative to the claim's root",
            example: "\".\"",
        },
        Key {
            example: "\"redis\"",
            ..WORKLOAD
        },
        Key {
            example: "\"redis-service\"",
            ..SERVICE
        },
    ],
    inherits: None,
    inline: false,
};

/// bakeryc's own PGDATA inside the claim, also the default of an adopted one.
pub const DATABASE_DATA_PATH: &str = "pgdata";
/// Redis's `dir` is the claim's root.
pub const CACHE_DATA_PATH: &str = ".";

#[derive(Clone, Debug, Default)]
pub struct RawAdopt {
    pub span: Span,
    pub claim: Option<Sp<String>>,
    pub data_path: Option<Sp<String>>,
    pub database: Option<Sp<String>>,
    pub role: Option<Sp<String>>,
    pub workload: Option<Sp<String>>,
    pub service: Option<Sp<String>>,
}

pub fn read_database(t: &mut Fields<'_, '_, '_>) -> RawAdopt {
    RawAdopt {
        span: t.span.clone(),
        claim: t.string("claim"),
        data_path: t.string("data_path"),
        database: t.string("database"),
        role: t.string("role"),
        workload: t.string("workload"),
        service: t.string("service"),
    }
}

pub fn read_cache(t: &mut Fields<'_, '_, '_>) -> RawAdopt {
    RawAdopt {
        span: t.span.clone(),
        claim: t.string("claim"),
        data_path: t.string("data_path"),
        workload: t.string("workload"),
        service: t.string("service"),
        ..RawAdopt::default()
    }
}

/// Checks one adopt table; `storage` lists the sizing keys written beside it in the same
/// table (`storage`, `storage_class`), which the adopted claim makes meaningless.
pub fn validate(
    raw: &RawAdopt,
    table: &'static Table,
    storage: &[(&'static str, Option<&Span>)],
    check: &mut Checker,
) -> Option<Adoption> {
    for (key, span) in storage {
        if let Some(span) = span {
            let kind = diagnostic::Kind::AdoptStorage {
                key,
                adopt_at: raw.span.clone(),
            };
            check.report(span, &kind);
        }
    }
    let claim = check
        .required_in(raw.claim.as_ref(), &raw.span, table, "claim", "")
        .and_then(|claim| label(check, "claim", claim));
    // The default is the table's own definition, so the README and the model cannot differ.
    let default_path = match table.key("data_path").map(|key| &key.default) {
        Some(Default::Str(path)) => path,
        _ => CACHE_DATA_PATH,
    };
    let data_path = match &raw.data_path {
        None => DataPath::new(default_path).ok(),
        Some(written) => invalid(check, "data_path", written, DataPath::new(&written.value)),
    };
    // The workload names its Secrets and ConfigMaps (`<workload>-credentials`), which must fit a
    // label too; a Service name is a DNS-1035 label, starting with a letter.
    let workload = optional(check, raw.workload.as_ref(), |c, w| {
        c.label(w, WorkloadNames::for_cache(&w.value).longest_suffix())
    });
    let service = optional(check, raw.service.as_ref(), |c, w| {
        c.service_label(w, "", "svc-")
    });
    let database = optional(check, raw.database.as_ref(), |c, w| {
        invalid(c, "database", w, PgIdentifier::new(&w.value))
    });
    let role = optional(check, raw.role.as_ref(), |c, w| {
        invalid(c, "role", w, PgIdentifier::new(&w.value))
    });
    Some(Adoption {
        claim: claim?,
        data_path: data_path?,
        workload: workload.ok()?,
        service: service.ok()?,
        database: database.ok()?,
        role: role.ok()?,
    })
}

/// A value that was written and refused (its diagnostic is in the checker).
struct Reported;

/// `Ok(None)` when absent, `Ok(Some(v))` when valid.
fn optional<T>(
    check: &mut Checker,
    written: Option<&Sp<String>>,
    valid: impl FnOnce(&mut Checker, &Sp<String>) -> Option<T>,
) -> Result<Option<T>, Reported> {
    match written {
        None => Ok(None),
        Some(written) => valid(check, written).map(Some).ok_or(Reported),
    }
}

fn label(check: &mut Checker, key: &'static str, written: &Sp<String>) -> Option<DnsLabel> {
    invalid(check, key, written, DnsLabel::new(&written.value))
}

fn invalid<T>(
    check: &mut Checker,
    key: &'static str,
    written: &Sp<String>,
    result: Result<T, String>,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(problem) => {
            let kind = diagnostic::Kind::AdoptInvalid {
                key,
                written: written.value.clone(),
                problem,
            };
            check.report(&written.span, &kind);
            None
        }
    }
}

/// One name a workload takes, as written (adopted) or derived (bakeryc's).
struct Taken {
    owner: String,
    span: Span,
    written: bool,
}

/// The names every workload takes in the cluster or the server, per kind of name, checked
/// across the platform: two workloads on one claim would share a data directory, and two with
/// one Deployment, Service, database or role name would replace or log into each other.
pub fn cross_check(raw: &RawConfig, check: &mut Checker) {
    environment_sizes(raw, check);
    let mut taken: BTreeMap<(&'static str, String), Taken> = BTreeMap::new();
    let mut claim = |what: &'static str, name: String, owner: String, at: &Span, written: bool| {
        let key = (what, name);
        if let Some(first) = taken.get(&key) {
            // A clash of two derived names is the duplicate-name checks' to report; one with a
            // written (adopted) name is reported there, the other workload named beside it.
            if first.owner != owner && (written || first.written) {
                let (here, there, other) = if written {
                    (at.clone(), first.span.clone(), first.owner.clone())
                } else {
                    (first.span.clone(), at.clone(), owner)
                };
                let kind = diagnostic::Kind::AdoptCollision {
                    what,
                    name: key.1.clone(),
                    owner: other,
                    first: there,
                };
                check.report(&here, &kind);
            }
            return;
        }
        taken.insert(
            key,
            Taken {
                owner,
                span: at.clone(),
                written,
            },
        );
    };
    let mut workloads: Vec<(String, WorkloadNames, Span, Option<&RawAdopt>, bool)> = Vec::new();
    for db in &raw.databases {
        let Some(name) = &db.name else { continue };
        workloads.push((
            format!("database `{}`", name.value),
            WorkloadNames::for_database(&name.value),
            name.span.clone(),
            db.adopt.as_ref(),
            true,
        ));
    }
    if let Some(cache) = &raw.cache {
        let name = cache.name.as_ref().map_or(super::cache::NAME, |n| &n.value);
        let span = cache.name.as_ref().map_or(&cache.span, |n| &n.span);
        workloads.push((
            format!("the cache `{name}`"),
            WorkloadNames::for_cache(name),
            span.clone(),
            cache.adopt.as_ref(),
            false,
        ));
    }
    for (owner, names, at, adopt, database) in workloads {
        let pick = |written: Option<&Sp<String>>, derived: String| match written {
            Some(w) => (w.value.clone(), w.span.clone(), true),
            None => (derived, at.clone(), false),
        };
        let adopt_key = |get: fn(&RawAdopt) -> Option<&Sp<String>>| adopt.and_then(get);
        let (workload, workload_at, workload_written) =
            pick(adopt_key(|a| a.workload.as_ref()), names.workload.clone());
        let derived = WorkloadNames::for_cache(&workload);
        let mut entries = vec![
            ("Deployment", (workload, workload_at, workload_written)),
            (
                "Service",
                pick(adopt_key(|a| a.service.as_ref()), derived.service.clone()),
            ),
            (
                "PersistentVolumeClaim",
                pick(
                    adopt_key(|a| a.claim.as_ref()),
                    derived.volume_claim.clone(),
                ),
            ),
        ];
        if database {
            let base = names.declared.replace('-', "_");
            entries.push((
                "database",
                pick(adopt_key(|a| a.database.as_ref()), format!("{base}_db")),
            ));
            entries.push((
                "role",
                pick(adopt_key(|a| a.role.as_ref()), format!("{base}_user")),
            ));
        }
        for (what, (name, span, written)) in entries {
            claim(what, name, owner.clone(), &span, written);
        }
    }
}

/// An environment's `storage` or `storage_class` for one adopted database (its
/// `[environments.E.databases.NAME]` table) or for the adopted cache: the claim is not in the
/// tree, so the override could only be ignored. (`[environments.E] storage`, for every database,
/// still sizes the databases bakeryc creates.)
fn environment_sizes(raw: &RawConfig, check: &mut Checker) {
    let database_adopt = |name: &str| {
        raw.databases
            .iter()
            .find(|db| db.name.as_ref().is_some_and(|n| n.value == name))
            .and_then(|db| db.adopt.as_ref())
    };
    for env in &raw.environments {
        let databases = env
            .databases
            .iter()
            .filter_map(|(name, placement)| database_adopt(&name.value).map(|a| (a, placement)));
        let cache = env
            .cache
            .as_ref()
            .zip(raw.cache.as_ref().and_then(|c| c.adopt.as_ref()))
            .map(|(placement, adopt)| (adopt, placement));
        for (adopt, placement) in databases.chain(cache) {
            for (key, written) in [
                ("storage", placement.storage.as_ref()),
                ("storage_class", placement.storage_class.as_ref()),
            ] {
                if let Some(written) = written {
                    let kind = diagnostic::Kind::AdoptStorage {
                        key,
                        adopt_at: adopt.span.clone(),
                    };
                    check.report(&written.span, &kind);
                }
            }
        }
    }
}
