//! `[tls]`, `[tls.ca]`, `[tls.server]`: the certificate policy `bakeryc secrets` issues by. Its
//! keys, their docs and defaults, the raw form, and its checks (weak keys, old TLS versions,
//! periods in the wrong order).

use super::Wanted;
use super::{Checker, RawConfig};
use super::{Default, Fields, Format, Key, Kind, Required, Sp, Span, Table};
use crate::diagnostic::{self, Missing, Written};
use crate::model::{
    CaPolicy, ExistingIssuer, IssuerKind, KeyAlgorithm, Period, ServerCertPolicy, TlsPolicy,
    TlsProvider, TlsVersion,
};

pub const MIN_VERSION: &str = "1.2";
/// [`MIN_VERSION`] as the model has it (a test keeps the two equal).
pub const MIN_VERSION_DEFAULT: TlsVersion = TlsVersion::V1_2;
/// The TLS versions `min_version` accepts.
pub const VERSIONS: &[&str] = &["1.2", "1.3"];
pub const CA_VALIDITY: &str = "10y";
pub const SERVER_VALIDITY: &str = "1y";
pub const RENEW_BEFORE: &str = "30d";
pub const KEY: KeyAlgorithm = KeyAlgorithm::Rsa4096;
/// [`KEY`] as bakery.toml writes it (a test keeps the two equal).
pub const KEY_NAME: &str = "rsa-4096";
/// Who issues the servers' certificates (`TlsProvider`'s names, in the same order).
pub const PROVIDERS: &[&str] = &["bakeryc", "cert-manager"];
pub const ISSUER_KINDS: &[&str] = &["ClusterIssuer", "Issuer"];

const fn key_algorithm(doc: &'static str) -> Key {
    Key {
        name: "key",
        kind: Kind::Str(Format::Choice(KeyAlgorithm::NAMES)),
        required: Required::No,
        default: Default::Str(KEY_NAME),
        doc,
        example: "\"rsa-4096\"",
    }
}

pub static TABLE: Table = Table {
    title: "[tls]",
    doc: "certificate policy",
    keys: &[
        Key {
            name: "provider",
            kind: Kind::Str(Format::Choice(PROVIDERS)),
            required: Required::No,
            default: Default::Str("bakeryc"),
            doc: "who issues the servers' certificates: `bakeryc secrets`, or cert-manager Certificates in generated/",
            example: "\"cert-manager\"",
        },
        Key {
            name: "client_certificates",
            kind: Kind::Bool,
            required: Required::No,
            default: Default::Bool(false),
            doc: "mutual TLS: each `[[client]]` gets a certificate (CN = its role), and PostgreSQL and Redis demand it besides the password; per environment too",
            example: "true",
        },
        Key {
            name: "min_version",
            kind: Kind::Str(Format::Choice(VERSIONS)),
            required: Required::No,
            default: Default::Str(MIN_VERSION),
            doc: "`1.2` or `1.3`; PostgreSQL `ssl_min_protocol_version`, Redis `tls-protocols`",
            example: "\"1.2\"",
        },
        Key {
            name: "ca",
            kind: Kind::Table(&CA),
            required: Required::No,
            default: Default::None,
            doc: "the platform's certificate authority",
            example: "",
        },
        Key {
            name: "server",
            kind: Kind::Table(&SERVER),
            required: Required::No,
            default: Default::None,
            doc: "the servers' certificates",
            example: "",
        },
        Key {
            name: "cert_manager",
            kind: Kind::Table(&CERT_MANAGER),
            required: Required::No,
            default: Default::None,
            doc: "with `provider = \"cert-manager\"`",
            example: "",
        },
    ],
    inherits: None,
    inline: false,
};

pub static CERT_MANAGER: Table = Table {
    title: "[tls.cert_manager]",
    doc: "with `provider = \"cert-manager\"`",
    keys: &[Key {
        name: "issuer",
        kind: Kind::Table(&ISSUER),
        required: Required::No,
        default: Default::Described("a self-signed CA per namespace, bootstrapped in generated/"),
        doc: "an existing issuer that signs the servers' certificates instead of the bootstrapped CA",
        example: "{ kind = \"ClusterIssuer\", name = \"internal-ca\" }",
    }],
    inherits: None,
    inline: false,
};

pub static ISSUER: Table = Table {
    title: "[tls.cert_manager] issuer",
    doc: "an existing cert-manager issuer",
    keys: &[
        Key {
            name: "kind",
            kind: Kind::Str(Format::Choice(ISSUER_KINDS)),
            required: Required::Yes,
            default: Default::None,
            doc: "`ClusterIssuer`, or `Issuer` in the platform's namespace",
            example: "\"ClusterIssuer\"",
        },
        Key {
            name: "name",
            kind: Kind::Str(Format::Domain),
            required: Required::Yes,
            default: Default::None,
            doc: "the issuer's name",
            example: "\"internal-ca\"",
        },
    ],
    inherits: None,
    inline: true,
};

pub static CA: Table = Table {
    title: "[tls.ca]",
    doc: "the platform's certificate authority",
    keys: &[
        Key {
            name: "common_name",
            kind: Kind::Str(Format::Text { max_len: 64 }),
            required: Required::No,
            default: Default::Described("`<platform> internal CA`"),
            doc: "the CA's subject, 1 to 64 characters, no control characters",
            example: "\"Bakery IA Internal CA\"",
        },
        Key {
            name: "validity",
            kind: Kind::Str(Format::Duration),
            required: Required::No,
            default: Default::Str(CA_VALIDITY),
            doc: "a duration: `10y`, `90d`, `12h`; it must end by 9999-12-31 when issued on 2100-01-01 (X.509's last date)",
            example: "\"10y\"",
        },
        key_algorithm("`rsa-2048`, `rsa-3072`, `rsa-4096`, `ecdsa-p256`, `ecdsa-p384`"),
    ],
    inherits: None,
    inline: false,
};

pub static SERVER: Table = Table {
    title: "[tls.server]",
    doc: "the servers' certificates",
    keys: &[
        Key {
            name: "validity",
            kind: Kind::Str(Format::Duration),
            required: Required::No,
            default: Default::Str(SERVER_VALIDITY),
            doc: "must be shorter than the CA's, and end by 9999-12-31 like it",
            example: "\"3y\"",
        },
        key_algorithm("as for `[tls.ca] key`"),
        Key {
            name: "renew_before",
            kind: Kind::Str(Format::Duration),
            required: Required::No,
            default: Default::Str(RENEW_BEFORE),
            doc: "`secrets status` fails this long before expiry",
            example: "\"90d\"",
        },
    ],
    inherits: None,
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawTls {
    pub span: Span,
    pub provider: Option<Sp<String>>,
    pub client_certificates: Option<Sp<bool>>,
    pub cert_manager: Option<RawCertManager>,
    pub min_version: Option<Sp<String>>,
    pub ca: Option<RawCa>,
    pub server: Option<RawServerCert>,
}

#[derive(Clone, Debug, Default)]
pub struct RawCertManager {
    pub span: Span,
    pub issuer: Option<RawIssuer>,
}

#[derive(Clone, Debug, Default)]
pub struct RawIssuer {
    pub span: Span,
    pub kind: Option<Sp<String>>,
    pub name: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawCa {
    pub span: Span,
    pub common_name: Option<Sp<String>>,
    pub validity: Option<Sp<String>>,
    pub key: Option<Sp<String>>,
}

#[derive(Clone, Debug, Default)]
pub struct RawServerCert {
    pub span: Span,
    pub validity: Option<Sp<String>>,
    pub key: Option<Sp<String>>,
    pub renew_before: Option<Sp<String>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawTls {
    RawTls {
        span: t.span.clone(),
        provider: t.string("provider"),
        client_certificates: t.boolean("client_certificates"),
        cert_manager: t.table("cert_manager", |c| RawCertManager {
            span: c.span.clone(),
            issuer: c.table("issuer", |i| RawIssuer {
                span: i.span.clone(),
                kind: i.string("kind"),
                name: i.string("name"),
            }),
        }),
        min_version: t.string("min_version"),
        ca: t.table("ca", |ca| RawCa {
            span: ca.span.clone(),
            common_name: ca.string("common_name"),
            validity: ca.string("validity"),
            key: ca.string("key"),
        }),
        server: t.table("server", |s| RawServerCert {
            span: s.span.clone(),
            validity: s.string("validity"),
            key: s.string("key"),
            renew_before: s.string("renew_before"),
        }),
    }
}

pub fn validate(raw: &RawConfig, check: &mut Checker) -> Option<TlsPolicy> {
    let section = raw.tls.clone().unwrap_or_default();
    let min_version = match &section.min_version {
        None => Some(MIN_VERSION_DEFAULT),
        Some(written) => check.tls_version(written),
    };
    let ca = section.ca.clone().unwrap_or_default();
    let server = section.server.clone().unwrap_or_default();
    let ca_validity = check.period(ca.validity.as_ref(), CA_VALIDITY);
    let ca_key = check.key(ca.key.as_ref(), KEY);
    let server_validity = check.period(server.validity.as_ref(), SERVER_VALIDITY);
    let server_key = check.key(server.key.as_ref(), KEY);
    let renew_before = check.period(server.renew_before.as_ref(), RENEW_BEFORE);
    fits_x509(ca.validity.as_ref(), ca_validity.as_ref(), check);
    fits_x509(server.validity.as_ref(), server_validity.as_ref(), check);
    if let (Some(ca_period), Some(server_period)) = (&ca_validity, &server_validity) {
        if let (true, Some(written)) = (ca_period.days() > 30.0 * 365.25, &ca.validity) {
            let kind = diagnostic::Kind::LongCaValidity {
                period: ca_period.as_str().to_owned(),
            };
            check.report(&written.span, &kind);
        }
        if let (true, Some(written)) = (server_period.days() > 5.0 * 365.25, &server.validity) {
            let kind = diagnostic::Kind::LongServerValidity {
                period: server_period.as_str().to_owned(),
            };
            check.report(&written.span, &kind);
        }
        if server_period.days() >= ca_period.days() {
            let (at, written) = compared(
                server.validity.as_ref(),
                ca.validity.as_ref(),
                &section.span,
            );
            let kind = diagnostic::Kind::ValidityOrder {
                server: server_period.as_str().to_owned(),
                ca: ca_period.as_str().to_owned(),
                written,
            };
            check.report(&at, &kind);
        }
        if let Some(renew) = &renew_before {
            if renew.days() >= server_period.days() {
                let (at, written) = compared(
                    server.renew_before.as_ref(),
                    server.validity.as_ref(),
                    &section.span,
                );
                let kind = diagnostic::Kind::RenewOrder {
                    renew: renew.as_str().to_owned(),
                    validity: server_period.as_str().to_owned(),
                    written,
                };
                check.report(&at, &kind);
            }
        }
    }
    if let Some(name) = &ca.common_name {
        if let Some(character) = name.value.chars().find(|c| c.is_control()) {
            let kind = diagnostic::Kind::CommonNameControl {
                written: name.value.clone(),
                character,
            };
            check.report(&name.span, &kind);
        }
    }
    let common_name = match &ca.common_name {
        Some(name) if name.value.trim().is_empty() || name.value.len() > 64 => {
            check.report(&name.span, &diagnostic::Kind::CommonName);
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
    let provider = provider(&section, check);
    if matches!(provider, Some(TlsProvider::CertManager { .. })) {
        let floors = [
            (
                "[tls.ca] validity",
                ca.validity.as_ref(),
                &ca_validity,
                "1h",
            ),
            (
                "[tls.server] validity",
                server.validity.as_ref(),
                &server_validity,
                "1h",
            ),
            (
                "[tls.server] renew_before",
                server.renew_before.as_ref(),
                &renew_before,
                "5m",
            ),
        ];
        for (what, written, period, minimum) in floors {
            let floor = Period::new(minimum).map(|p| p.days()).unwrap_or_default();
            if let (Some(written), Some(period)) = (written, period) {
                if period.days() < floor {
                    let kind = diagnostic::Kind::CertManagerMinimum {
                        what,
                        written: written.value.clone(),
                        minimum,
                    };
                    check.report(&written.span, &kind);
                }
            }
        }
    }
    Some(TlsPolicy {
        provider: provider?,
        client_certificates: section.client_certificates.is_some_and(|c| c.value),
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

/// A written validity that cannot be issued: X.509 times end at 9999-12-31, so `generate` fails
/// when its moment plus the validity passes it. To stay independent of today, the check assumes
/// issuing up to 2100-01-01: anything that fits then fits earlier.
fn fits_x509(written: Option<&Sp<String>>, period: Option<&Period>, check: &mut Checker) {
    const LAST_ISSUE: jiff::civil::Date = jiff::civil::date(2100, 1, 1);
    let (Some(written), Some(period)) = (written, period) else {
        return;
    };
    if LAST_ISSUE.checked_add(period.span()).is_err() {
        let kind = diagnostic::Kind::ValidityTooLong {
            period: period.as_str().to_owned(),
        };
        check.report(&written.span, &kind);
    }
}

/// `provider` and, for cert-manager, the issuer named in `[tls.cert_manager]` (which bakeryc's
/// own provider would ignore, so naming one there is refused rather than dropped in silence).
fn provider(section: &RawTls, check: &mut Checker) -> Option<TlsProvider> {
    let cert_manager = match &section.provider {
        None => false,
        Some(written) => check.choice(written, "provider", PROVIDERS, |name| match name {
            "bakeryc" => Some(false),
            "cert-manager" => Some(true),
            _ => None,
        })?,
    };
    let written = section.cert_manager.as_ref();
    if !cert_manager {
        if let Some(table) = written {
            check.report(&table.span, &diagnostic::Kind::CertManagerUnused);
        }
        return Some(TlsProvider::Bakeryc);
    }
    let Some(raw) = written.and_then(|c| c.issuer.as_ref()) else {
        return Some(TlsProvider::CertManager { issuer: None });
    };
    let wanted = |key| Wanted {
        table: &raw.span,
        table_name: ISSUER.title,
        key,
        also: None,
    };
    let missing = |key| Missing::InSection {
        path: "tls.cert_manager.issuer",
        example: ISSUER.example(key),
        why: "to find the issuer in the cluster",
    };
    let kind = check.required(raw.kind.as_ref(), &wanted("kind"), missing("kind"));
    let name = check.required(raw.name.as_ref(), &wanted("name"), missing("name"));
    let kind = kind.and_then(|kind| {
        check.choice(kind, "kind", ISSUER_KINDS, |name| match name {
            "ClusterIssuer" => Some(IssuerKind::ClusterIssuer),
            "Issuer" => Some(IssuerKind::Issuer),
            _ => None,
        })
    });
    let name = name.and_then(|name| check.domain(name));
    Some(TlsProvider::CertManager {
        issuer: Some(ExistingIssuer {
            kind: kind?,
            name: name?,
        }),
    })
}

/// Two periods where the first must be shorter than the second: the diagnostic is at the first
/// one written (the shorter, else the longer, else the table), and says which were written.
fn compared(
    shorter: Option<&Sp<String>>,
    longer: Option<&Sp<String>>,
    table: &Span,
) -> (Span, Written) {
    match (shorter, longer) {
        (Some(shorter), longer) => (
            shorter.span.clone(),
            Written::Shorter {
                longer_at: longer.map(|l| l.span.clone()),
            },
        ),
        (None, Some(longer)) => (longer.span.clone(), Written::Longer),
        (None, None) => (table.clone(), Written::Neither),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_defaults_match_their_written_form() {
        assert_eq!(KEY.name(), KEY_NAME);
        assert_eq!(
            MIN_VERSION_DEFAULT.postgres_name(),
            format!("TLSv{MIN_VERSION}")
        );
    }
}
