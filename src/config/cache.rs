//! `[cache]`: the Redis cache (optional). Its keys, their docs and defaults, the raw form, and
//! its checks (including names that would collide with a database's objects).

use super::adopt::{self, RawAdopt};
use super::database::DeclaredDatabase;
use super::{Checker, RawConfig};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table, postgres, resources};
use crate::diagnostic;
use crate::model::{Cache, ClientAuth, Placement, WorkloadNames};

/// The cache's name when `[cache]` sets none.
pub const NAME: &str = "redis";
/// Resource defaults of the cache: (request cpu, request memory, limit cpu, limit memory).
pub const RESOURCES: [&str; 4] = ["50m", "64Mi", "500m", "256Mi"];
pub const CLIENT_AUTH: &str = "none";
/// What the model holds as the size of an adopted claim, which bakeryc never writes anywhere
/// (the claim is not in the tree): the claim's own size stays whatever it is.
const ADOPTED_STORAGE: &str = "1Gi";
/// The `client_auth` values: `required` only with client certificates (see validate).
pub const CLIENT_AUTH_USABLE: &[&str] = &["none", "optional", "required"];

pub const STORAGE: Key = Key {
    doc: "Kubernetes quantity of the data volume (`1Gi`); required unless `[cache.adopt]` names an existing claim, and refused beside it",
    example: "\"1Gi\"",
    required: Required::No,
    ..postgres::STORAGE
};

/// The cache's image, also the key of an environment's `[environments.E.cache]`.
pub const IMAGE: Key = Key {
    name: "image",
    kind: Kind::Str(Format::Image),
    required: Required::Yes,
    default: Default::None,
    doc: "`name:tag` (not `latest`) or `name@sha256:...`",
    example: "\"redis:7.4.1-alpine\"",
};

pub static TABLE: Table = Table {
    title: "[cache]",
    doc: "the Redis cache",
    keys: &[
        Key {
            name: "name",
            kind: Kind::Str(Format::ServiceLabel),
            required: Required::No,
            default: Default::Str(NAME),
            doc: "as for databases: starts with a letter, at most 51 characters",
            example: "\"redis\"",
        },
        IMAGE,
        STORAGE,
        postgres::STORAGE_CLASS,
        resources::key(&RESOURCES),
        Key {
            name: "client_auth",
            kind: Kind::Str(Format::Choice(CLIENT_AUTH_USABLE)),
            required: Required::No,
            default: Default::Described("`required` under client certificates, else `none`"),
            doc: "`none`, `optional` or `required` (Redis `tls-auth-clients no/optional/yes`); `required` only with client certificates, where it is the default",
            example: "\"none\"",
        },
        Key {
            name: "adopt",
            kind: Kind::Table(&adopt::CACHE),
            required: Required::No,
            default: Default::None,
            doc: "take over a running Redis: its claim, data directory and names",
            example: "",
        },
    ],
    inherits: None,
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawCache {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub image: Option<Sp<String>>,
    pub storage: Option<Sp<String>>,
    pub storage_class: Option<Sp<String>>,
    pub client_auth: Option<Sp<String>>,
    pub resources: Option<resources::RawResources>,
    pub adopt: Option<RawAdopt>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawCache {
    RawCache {
        span: t.span.clone(),
        name: t.string("name"),
        image: t.string("image"),
        storage: t.string("storage"),
        storage_class: t.string("storage_class"),
        client_auth: t.string("client_auth"),
        resources: t.table("resources", resources::read),
        adopt: t.table("adopt", adopt::read_cache),
    }
}

/// The cache with the span of its `name`, for later cross-references.
pub type Declared<T> = (Option<T>, Sp<String>);

pub fn validate(
    raw: &RawConfig,
    databases: &[DeclaredDatabase],
    check: &mut Checker,
) -> Option<Declared<Cache>> {
    let section = raw.cache.as_ref()?;
    let name = section
        .name
        .clone()
        .unwrap_or_else(|| Sp::new(NAME.to_owned(), section.span.clone()));
    let label = check.service_label(
        &name,
        WorkloadNames::for_cache(&name.value).longest_suffix(),
        "cache-",
    );
    for db in databases {
        let db = &db.name;
        let workload = WorkloadNames::for_database(&db.value).workload;
        let (cache_at, defaulted) = (name.span.clone(), section.name.is_none());
        let kind = if name.value == workload {
            diagnostic::Kind::CacheReplacesDatabase {
                cache: name.value.clone(),
                database: db.value.clone(),
                workload,
                cache_at,
                defaulted,
            }
        } else if name.value == db.value {
            diagnostic::Kind::DatabaseNamedLikeCache {
                name: db.value.clone(),
                cache_at,
                defaulted,
            }
        } else {
            continue;
        };
        check.report(&db.span, &kind);
    }
    let image = check
        .required_in(section.image.as_ref(), &section.span, &TABLE, "image", "")
        .and_then(|image| check.image(image));
    // An adopted claim's size is the claim's own: `storage` is then not needed, and refused.
    let storage = if section.adopt.is_some() {
        let placeholder = Sp::new(ADOPTED_STORAGE.to_owned(), section.span.clone());
        check.storage(section.storage.as_ref().unwrap_or(&placeholder))
    } else {
        check
            .required_in(
                section.storage.as_ref(),
                &section.span,
                &TABLE,
                "storage",
                "",
            )
            .and_then(|s| check.storage(s))
    };
    let adoption = section.adopt.as_ref().map(|raw| {
        let sizing = [
            ("storage", section.storage.as_ref().map(|s| &s.span)),
            (
                "storage_class",
                section.storage_class.as_ref().map(|s| &s.span),
            ),
        ];
        adopt::validate(raw, &adopt::CACHE, &sizing, check)
    });
    let storage_class = section
        .storage_class
        .as_ref()
        .and_then(|s| check.storage_class(s));
    let resources = check.resources(&[section.resources.as_ref()], &RESOURCES);
    let client_auth = match &section.client_auth {
        None => Some(None),
        Some(written) => {
            let mode = check.choice(
                written,
                "client_auth",
                ClientAuth::NAMES,
                ClientAuth::from_name,
            );
            // Under client certificates (anywhere), `required` is what the cache runs with.
            let certificates = raw
                .tls
                .as_ref()
                .and_then(|t| t.client_certificates.as_ref())
                .is_some_and(|c| c.value)
                || raw
                    .environments
                    .iter()
                    .any(|e| e.client_certificates.as_ref().is_some_and(|c| c.value));
            if mode == Some(ClientAuth::Required) && !certificates {
                check.report(&written.span, &diagnostic::Kind::ClientAuthRequired);
            }
            mode.map(Some)
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
            adopt: match adoption {
                Some(adoption) => Some(adoption?),
                None => None,
            },
        })
    })();
    Some((cache, name))
}
