//! `[[client]]`: one service that connects to the data tier, with the databases and cache it
//! reaches and how. Its keys and raw form, and its checks (unknown targets with did-you-mean, a
//! client declared twice or reaching nothing, names that would collide, databases nobody uses).
//! The network policies, roles, certificates and profiles derived from it are compile's job.

use std::collections::BTreeMap;

use super::cache::Declared;
use super::database::DeclaredDatabase;
use super::{Checker, RawConfig, RawMap, Wanted, suggest};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table};
use crate::diagnostic::{self, Missing};
use crate::model::{
    Access, Cache, Client, DnsLabel, LabelKey, LabelValue, MANAGED_LABELS, WorkloadNames,
};

/// The label a service's pods carry unless `selector` says otherwise.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// Names a client cannot take: the image's superuser and Redis's built-in user.
const RESERVED: &[&str] = &["postgres", "default"];
/// `<client>-<workload>-client` must fit a DNS label for every server it reaches; this keeps the
/// name short enough for `<client>-credentials` and `<client>-client-tls` at least.
const SUFFIX: &str = "-client-tls";

pub static TABLE: Table = Table {
    title: "[[client]]",
    doc: "a service that connects: network policy, role, password, client certificate and profiles follow from it",
    keys: &[
        Key {
            name: "name",
            kind: Kind::Str(Format::Label),
            required: Required::Yes,
            default: Default::None,
            doc: "DNS-1123 label; its pods carry `app.kubernetes.io/name = <name>`, its role is the name with `-` as `_`",
            example: "\"orders-service\"",
        },
        Key {
            name: "databases",
            kind: Kind::List(Format::Label),
            required: Required::No,
            default: Default::EmptyList,
            doc: "names of the `[[database]]` entries it connects to",
            example: "[\"orders\"]",
        },
        Key {
            name: "cache",
            kind: Kind::Bool,
            required: Required::No,
            default: Default::Bool(false),
            doc: "whether it connects to the cache (its own Redis ACL user)",
            example: "true",
        },
        Key {
            name: "access",
            kind: Kind::Str(Format::Choice(Access::NAMES)),
            required: Required::No,
            default: Default::Str("owner"),
            doc: "in each of its databases: `owner` (member of `<db>_user`), `read-write` or `read-only` (`pg_write_all_data` / `pg_read_all_data`)",
            example: "\"read-only\"",
        },
        Key {
            name: "selector",
            kind: Kind::Map {
                names: Format::SelectorKey,
                values: Format::LabelValue,
            },
            required: Required::No,
            default: Default::Described("`{ \"app.kubernetes.io/name\" = \"<name>\" }`"),
            doc: "the labels of its pods, when they are not `app.kubernetes.io/name = <name>`",
            example: "{ app = \"orders\" }",
        },
    ],
    inherits: None,
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawClient {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub databases: Option<Sp<Vec<Sp<String>>>>,
    pub cache: Option<Sp<bool>>,
    pub access: Option<Sp<String>>,
    pub selector: Option<RawMap>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawClient {
    RawClient {
        span: t.span.clone(),
        name: t.string("name"),
        databases: t.string_array("databases"),
        cache: t.boolean("cache"),
        access: t.string("access"),
        selector: t.string_map("selector"),
    }
}

/// Checks every `[[client]]` against the declared databases and cache; the clients sorted by
/// name when all are valid.
pub fn validate(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    cache: Option<&Declared<Cache>>,
    check: &mut Checker,
) -> Option<Vec<Client>> {
    let declared: Vec<&str> = databases.iter().map(|d| d.name.value.as_str()).collect();
    // Each database's workload name, derived once (not once per client).
    let workloads: BTreeMap<String, &str> = declared
        .iter()
        .map(|db| (WorkloadNames::for_database(db).workload, *db))
        .collect();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    let mut used: BTreeMap<&str, bool> = declared.iter().map(|d| (*d, false)).collect();
    let mut clients = Vec::new();
    let mut ok = true;
    // Databases a typo probably meant: not also reported as unused.
    let mut meant: Vec<String> = Vec::new();
    for written in &raw.clients {
        let Some(name) = check.required(
            written.name.as_ref(),
            &Wanted {
                table: &written.span,
                table_name: "this [[client]]",
                key: "name",
                also: None,
            },
            Missing::InSection {
                path: "client",
                example: TABLE.example("name"),
                why: ": it names the service's role, Secrets and profiles",
            },
        ) else {
            ok = false;
            continue;
        };
        if let Some(first) = seen.get(&name.value) {
            let kind = diagnostic::Kind::DuplicateClient {
                name: name.value.clone(),
                first: first.clone(),
            };
            check.report(&name.span, &kind);
            ok = false;
        } else {
            seen.insert(name.value.clone(), name.span.clone());
        }
        let label = check.label(name, SUFFIX);
        let taken = taken_by(&name.value, &workloads, cache);
        if let Some(by) = taken {
            let kind = diagnostic::Kind::ClientNameTaken {
                name: name.value.clone(),
                by,
            };
            check.report(&name.span, &kind);
            ok = false;
        }
        let mut reached = Vec::new();
        for db in written.databases.iter().flat_map(|list| &list.value) {
            if let Some(flag) = used.get_mut(db.value.as_str()) {
                *flag = true;
                if let Ok(label) = DnsLabel::new(&db.value) {
                    reached.push(label);
                }
            } else {
                let near = suggest(&db.value, &declared).map(str::to_owned);
                meant.extend(near.clone());
                let kind = diagnostic::Kind::ClientUnknownDatabase {
                    client: name.value.clone(),
                    database: db.value.clone(),
                    near,
                    declared: declared.iter().map(|d| (*d).to_owned()).collect(),
                };
                check.report(&db.span, &kind);
                ok = false;
            }
        }
        reached.sort();
        reached.dedup();
        // Its profile ConfigMaps (`<client>-<db>-db-client`) must fit a DNS label too.
        let servers: Vec<String> = reached
            .iter()
            .map(|db| WorkloadNames::for_database(db.as_str()).workload)
            .chain(
                cache
                    .filter(|_| written.cache.as_ref().is_some_and(|c| c.value))
                    .map(|(_, cache_name)| cache_name.value.clone()),
            )
            .collect();
        if let Some(longest) = servers.iter().max_by_key(|s| s.len()) {
            let suffix = format!("-{longest}-client");
            if name.value.len() + suffix.len() > DnsLabel::MAX_LEN {
                let kind = diagnostic::Kind::NameTooLong {
                    written: name.value.clone(),
                    suffix,
                    max: DnsLabel::MAX_LEN.saturating_sub(longest.len() + "--client".len()),
                };
                check.report(&name.span, &kind);
                ok = false;
            }
        }
        let wants_cache = written.cache.as_ref().is_some_and(|c| c.value);
        if wants_cache && cache.is_none() {
            let span = written.cache.as_ref().map_or(&written.span, |c| &c.span);
            let kind = diagnostic::Kind::ClientWithoutCache {
                client: name.value.clone(),
            };
            check.report(span, &kind);
            ok = false;
        }
        let nothing = written
            .databases
            .as_ref()
            .is_none_or(|l| l.value.is_empty())
            && !wants_cache;
        if nothing {
            let kind = diagnostic::Kind::ClientReachesNothing {
                client: name.value.clone(),
                example: declared.first().copied().unwrap_or("orders").to_owned(),
            };
            check.report(&name.span, &kind);
            ok = false;
        }
        let access = match &written.access {
            None => Some(Access::Owner),
            Some(text) => check.choice(text, "access", Access::NAMES, Access::from_name),
        };
        let selector = match &written.selector {
            None => Some(BTreeMap::from([(
                NAME_LABEL.to_owned(),
                name.value.clone(),
            )])),
            Some(map) => selector(map, check),
        };
        match (label, access, selector) {
            (Some(name), Some(access), Some(selector)) => clients.push(Client {
                name,
                selector,
                databases: reached,
                cache: wants_cache,
                access,
            }),
            _ => ok = false,
        }
    }
    if !raw.clients.is_empty() {
        for db in databases {
            if used.get(db.name.value.as_str()) == Some(&false) && !meant.contains(&db.name.value) {
                let kind = diagnostic::Kind::DatabaseWithoutClient {
                    database: db.name.value.clone(),
                };
                check.report(&db.name.span, &kind);
            }
        }
    }
    clients.sort_by(|a, b| a.name.cmp(&b.name));
    ok.then_some(clients)
}

/// What already owns the Secret names or the role a client called `name` would get.
fn taken_by(
    name: &str,
    workloads: &BTreeMap<String, &str>,
    cache: Option<&Declared<Cache>>,
) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("the built-in user `{name}`"));
    }
    if let Some(db) = workloads.get(name) {
        return Some(format!("database `{db}`'s workload"));
    }
    if name.replace('-', "_").ends_with("_user") {
        return Some("the `<db>_user` owner roles".to_owned());
    }
    cache
        .filter(|(_, cache_name)| cache_name.value == name)
        .map(|_| "the cache".to_owned())
}

/// `selector`: label keys and values; bakeryc's own `app.kubernetes.io/*` keys are allowed here,
/// since they select the service's pods, not bakeryc's.
fn selector(written: &RawMap, check: &mut Checker) -> Option<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut ok = true;
    for (key, value) in &written.value {
        let key_ok = MANAGED_LABELS.contains(&key.value.as_str())
            || LabelKey::new(&key.value)
                .map_err(|problem| {
                    let kind = diagnostic::Kind::NotLabelKey {
                        written: key.value.clone(),
                        problem,
                    };
                    check.report(&key.span, &kind);
                })
                .is_ok();
        let value_ok = LabelValue::new(&value.value)
            .map_err(|problem| {
                let kind = diagnostic::Kind::NotLabelValue {
                    written: value.value.clone(),
                    problem,
                };
                check.report(&value.span, &kind);
            })
            .is_ok();
        if key_ok && value_ok {
            labels.insert(key.value.clone(), value.value.clone());
        } else {
            ok = false;
        }
    }
    if labels.is_empty() && ok {
        // An empty selector would select every pod of the namespace.
        check.report(&written.span, &diagnostic::Kind::EmptySelector);
        return None;
    }
    ok.then_some(labels)
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Code, Severity};

    const BASE: &str = "[platform]\nname = \"p\"\nnamespace = \"p\"\n[postgres]\nversion = 17\nimage = \"postgres:17.2-alpine\"\nstorage = \"1Gi\"\n[[database]]\nname = \"orders\"\n[[database]]\nname = \"a-database-with-a-rather-long-name\"\n";

    fn codes(clients: &str) -> Vec<(Code, Severity)> {
        crate::check(&format!("{BASE}{clients}"))
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.severity))
            .collect()
    }

    #[test]
    fn a_profile_name_that_would_not_fit_a_label_is_refused() {
        let long = "a-client-whose-name-is-long-enough";
        let found = codes(&format!(
            "[[client]]\nname = \"{long}\"\ndatabases = [\"orders\", \"a-database-with-a-rather-long-name\"]\n"
        ));
        assert_eq!(found, [(Code::NameTooLong, Severity::Error)]);
    }

    #[test]
    fn a_selector_may_name_the_services_own_app_kubernetes_io_labels() {
        let found = codes(
            "[[client]]\nname = \"reader\"\ndatabases = [\"orders\", \"a-database-with-a-rather-long-name\"]\nselector = { \"app.kubernetes.io/name\" = \"orders-service\" }\n",
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_typo_is_not_also_an_unused_database() {
        let found = codes(
            "[[client]]\nname = \"orders-service\"\ndatabases = [\"order\", \"a-database-with-a-rather-long-name\"]\n",
        );
        assert_eq!(found, [(Code::ClientUnknownTarget, Severity::Error)]);
    }

    #[test]
    fn client_auth_required_is_legal_under_client_certificates() {
        let cache = "[cache]\nimage = \"redis:7.4.1-alpine\"\nstorage = \"1Gi\"\nclient_auth = \"required\"\n[[client]]\nname = \"orders-service\"\ndatabases = [\"orders\", \"a-database-with-a-rather-long-name\"]\ncache = true\n";
        assert_eq!(
            codes(cache),
            [(Code::ClientAuthContradiction, Severity::Error)]
        );
        assert!(codes(&format!("{cache}[tls]\nclient_certificates = true\n")).is_empty());
        let per_env = format!("{cache}[environments.prod]\nclient_certificates = true\n");
        assert!(codes(&per_env).is_empty());
    }
}
