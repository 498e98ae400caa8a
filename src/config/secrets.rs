//! `[secrets]`: who makes the passwords the pods read. `bakeryc` (the default) is today's
//! `bakeryc secrets generate`; `external-secrets` puts External Secrets objects in generated/ that
//! make the credentials Secrets inside the cluster, from a `Password` generator or, with `store`,
//! from an existing secret store at `remote_key`. Keys, raw form and checks only: what the objects
//! look like is compile's job.

use super::{Checker, RawConfig};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table};
use crate::diagnostic;
use crate::model::{PasswordSource, SecretsProvider, StoreKind};

pub const PROVIDERS: &[&str] = &["bakeryc", "external-secrets"];
pub const STORE_KINDS: &[&str] = &["ClusterSecretStore", "SecretStore"];
/// Where a store keeps each password unless `remote_key` says otherwise.
pub const REMOTE_KEY: &str = "bakery/{environment}/{workload}";

pub static TABLE: Table = Table {
    title: "[secrets]",
    doc: "who makes the passwords: bakeryc secrets, or External Secrets in the cluster",
    keys: &[
        Key {
            name: "provider",
            kind: Kind::Str(Format::Choice(PROVIDERS)),
            required: Required::No,
            default: Default::Str("bakeryc"),
            doc: "`bakeryc` (`bakeryc secrets generate`) or `external-secrets` (ExternalSecrets in generated/)",
            example: "\"external-secrets\"",
        },
        Key {
            name: "store",
            kind: Kind::Table(&STORE),
            required: Required::No,
            default: Default::Described("none: a `Password` generator per workload"),
            doc: "with `external-secrets`: read each password from this existing store instead of generating it",
            example: "{ kind = \"ClusterSecretStore\", name = \"vault\" }",
        },
        Key {
            name: "remote_key",
            kind: Kind::Str(Format::Text { max_len: 253 }),
            required: Required::No,
            default: Default::Str(REMOTE_KEY),
            doc: "with `store`: the key of each password in the store; `{environment}` and `{workload}` are replaced, `{workload}` is required",
            example: "\"bakery/{environment}/{workload}\"",
        },
    ],
    inherits: None,
    inline: false,
};

pub static STORE: Table = Table {
    title: "[secrets.store]",
    doc: "an existing External Secrets store",
    keys: &[
        Key {
            name: "kind",
            kind: Kind::Str(Format::Choice(STORE_KINDS)),
            required: Required::Yes,
            default: Default::None,
            doc: "`ClusterSecretStore` or `SecretStore` (in the platform's namespace)",
            example: "\"ClusterSecretStore\"",
        },
        Key {
            name: "name",
            kind: Kind::Str(Format::Domain),
            required: Required::Yes,
            default: Default::None,
            doc: "the store's name",
            example: "\"vault\"",
        },
    ],
    inherits: None,
    inline: true,
};

#[derive(Clone, Debug, Default)]
pub struct RawSecrets {
    pub span: Span,
    pub provider: Option<Sp<String>>,
    pub store: Option<RawStore>,
    pub remote_key: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawStore {
    pub span: Span,
    pub kind: Option<Sp<String>>,
    pub name: Option<Sp<String>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawSecrets {
    RawSecrets {
        span: t.span.clone(),
        provider: t.string("provider"),
        store: t.table("store", |s| RawStore {
            span: s.span.clone(),
            kind: s.string("kind"),
            name: s.string("name"),
        }),
        remote_key: t.string("remote_key"),
    }
}

pub fn validate(raw: &RawConfig, check: &mut Checker) -> Option<SecretsProvider> {
    let section = raw.secrets.clone().unwrap_or_default();
    let external = match &section.provider {
        None => false,
        Some(written) => check.choice(written, "provider", PROVIDERS, |name| {
            PROVIDERS.iter().position(|p| *p == name).map(|i| i == 1)
        })?,
    };
    if !external {
        // A store or key that nothing reads would look like it worked.
        let unused = section
            .store
            .as_ref()
            .map(|s| (&s.span, "store"))
            .or(section.remote_key.as_ref().map(|k| (&k.span, "remote_key")));
        if let Some((span, key)) = unused {
            let kind = diagnostic::Kind::SecretsKeyWithoutProvider {
                key: key.to_owned(),
            };
            check.report(span, &kind);
            return None;
        }
        return Some(SecretsProvider::Bakeryc);
    }
    let Some(store) = &section.store else {
        if let Some(key) = &section.remote_key {
            let kind = diagnostic::Kind::SecretsKeyWithoutProvider {
                key: "remote_key".to_owned(),
            };
            check.report(&key.span, &kind);
            return None;
        }
        return Some(SecretsProvider::ExternalSecrets(PasswordSource::Generator));
    };
    let kind = check
        .required_in(
            store.kind.as_ref(),
            &store.span,
            &STORE,
            "kind",
            "it says which kind of store `name` is",
        )
        .and_then(|k| check.choice(k, "kind", STORE_KINDS, StoreKind::from_name));
    let name = check
        .required_in(
            store.name.as_ref(),
            &store.span,
            &STORE,
            "name",
            "it names the store the passwords are read from",
        )
        .and_then(|n| check.domain(n));
    let remote_key = match &section.remote_key {
        None => Some(REMOTE_KEY.to_owned()),
        Some(written) if !written.value.contains("{workload}") => {
            let kind = diagnostic::Kind::RemoteKeyWithoutWorkload {
                written: written.value.clone(),
            };
            check.report(&written.span, &kind);
            None
        }
        Some(written) => Some(written.value.clone()),
    };
    Some(SecretsProvider::ExternalSecrets(PasswordSource::Store {
        kind: kind?,
        name: name?.as_str().to_owned(),
        remote_key: remote_key?,
    }))
}
