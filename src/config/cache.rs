//! `[cache]`: the Redis cache (optional). Its keys, their docs and defaults, and the raw form.

use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table, postgres, resources};

/// The cache's name when `[cache]` sets none.
pub const NAME: &str = "redis";
/// Resource defaults of the cache: (request cpu, request memory, limit cpu, limit memory).
pub const RESOURCES: [&str; 4] = ["50m", "64Mi", "500m", "256Mi"];
pub const CLIENT_AUTH: &str = "none";
/// The `client_auth` values a cache can run with: `required` is refused (see validate).
pub const CLIENT_AUTH_USABLE: &[&str] = &["none", "optional"];

pub const STORAGE: Key = Key {
    doc: "Kubernetes quantity of the data volume (`1Gi`)",
    required: Required::Yes,
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
            kind: Kind::Str(Format::Label),
            required: Required::No,
            default: Default::Str(NAME),
            doc: "DNS-1123 label, at most 51 characters",
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
            default: Default::Str(CLIENT_AUTH),
            doc: "`none` or `optional` (Redis `tls-auth-clients no/optional`); `required` is refused because bakeryc issues no client certificates",
            example: "\"none\"",
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
    }
}
