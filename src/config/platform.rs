//! `[platform]`: the platform's name, the namespace every object is created in and the extra
//! labels every object carries. Its keys, their docs, the raw form and its checks.

use std::collections::BTreeMap;

use super::{Checker, RawConfig};
use super::{Default, Fields, Format, Key, Kind, RawMap, Required, Sp, Span, Table};
use crate::diagnostic;
use crate::model::{
    CA_CONFIG_MAP_SUFFIX, DnsLabel, DomainName, LabelKey, LabelValue, MANAGED_LABELS,
};

/// The cluster's DNS domain when `cluster_domain` is not written.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

pub static TABLE: Table = Table {
    title: "[platform]",
    doc: "the platform's name and namespace",
    keys: &[
        Key {
            name: "name",
            kind: Kind::Str(Format::Label),
            required: Required::Yes,
            default: Default::None,
            doc: "DNS-1123 label; `app.kubernetes.io/part-of`; without `[[client]]`, clients must carry this label to pass the NetworkPolicies",
            example: "\"bakery-ia\"",
        },
        Key {
            name: "namespace",
            kind: Kind::Str(Format::Label),
            required: Required::Yes,
            default: Default::None,
            doc: "DNS-1123 label; the namespace of every object",
            example: "\"bakery-ia\"",
        },
        Key {
            name: "cluster_domain",
            kind: Kind::Str(Format::Domain),
            required: Required::No,
            default: Default::Str(CLUSTER_DOMAIN),
            doc: "used for the certificates' fully qualified SANs",
            example: "\"cluster.local\"",
        },
        Key {
            name: "labels",
            kind: Kind::Map {
                names: Format::LabelKey,
                values: Format::LabelValue,
            },
            required: Required::No,
            default: Default::EmptyTable,
            doc: "extra labels on every object, not on pod templates (changing one restarts no server; Kubernetes label keys and values); the `app.kubernetes.io/*` labels bakeryc sets are refused",
            example: "{ team = \"payments\" }",
        },
    ],
    inherits: None,
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawPlatform {
    pub span: Span,
    pub name: Option<Sp<String>>,
    pub namespace: Option<Sp<String>>,
    pub cluster_domain: Option<Sp<String>>,
    /// Label key and value as written, in the order written.
    pub labels: Option<RawMap>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawPlatform {
    RawPlatform {
        span: t.span.clone(),
        name: t.string("name"),
        namespace: t.string("namespace"),
        cluster_domain: t.string("cluster_domain"),
        labels: t.string_map("labels"),
    }
}

/// `[platform] labels`: Kubernetes label keys and values, none of the labels bakeryc sets.
fn labels(written: &RawMap, check: &mut Checker) -> Option<BTreeMap<LabelKey, LabelValue>> {
    let mut labels = BTreeMap::new();
    let mut ok = true;
    for (key, value) in &written.value {
        if MANAGED_LABELS.contains(&key.value.as_str()) {
            ok = false;
            let kind = diagnostic::Kind::ReservedLabel {
                key: key.value.clone(),
            };
            check.report(&key.span, &kind);
            continue;
        }
        let key_ok = LabelKey::new(&key.value).map_err(|problem| {
            let kind = diagnostic::Kind::NotLabelKey {
                written: key.value.clone(),
                problem,
            };
            check.report(&key.span, &kind);
        });
        let value_ok = LabelValue::new(&value.value).map_err(|problem| {
            let kind = diagnostic::Kind::NotLabelValue {
                written: value.value.clone(),
                problem,
            };
            check.report(&value.span, &kind);
        });
        match (key_ok, value_ok) {
            (Ok(key), Ok(value)) => {
                labels.insert(key, value);
            }
            _ => ok = false,
        }
    }
    ok.then_some(labels)
}

/// `[platform]` as the model has it.
pub struct Valid {
    pub name: DnsLabel,
    pub namespace: DnsLabel,
    pub cluster_domain: DomainName,
    pub labels: BTreeMap<LabelKey, LabelValue>,
}

/// Checks every key of `[platform]`, reporting each problem; the section when all are valid.
pub fn validate(raw: &RawConfig, check: &mut Checker) -> Option<Valid> {
    let (name, namespace) = match &raw.platform {
        None => {
            if !check.mistyped(&[&raw.document], "platform") {
                check.report(
                    &(raw.document.start..raw.document.start),
                    &diagnostic::Kind::MissingPlatform,
                );
            }
            (None, None)
        }
        Some(section) => {
            let mut required =
                |value, key, why| check.required_in(value, &section.span, &TABLE, key, why);
            let name = required(
                section.name.as_ref(),
                "name",
                ": it names the platform in labels and the CA",
            );
            let namespace = required(
                section.namespace.as_ref(),
                "namespace",
                ": every object is created in it",
            );
            let name = name.and_then(|n| check.label(n, CA_CONFIG_MAP_SUFFIX));
            let namespace = namespace.and_then(|n| check.label(n, ""));
            (name, namespace)
        }
    };
    let cluster_domain = match raw
        .platform
        .as_ref()
        .and_then(|p| p.cluster_domain.as_ref())
    {
        None => DomainName::new(CLUSTER_DOMAIN).ok(),
        Some(domain) => check.domain(domain),
    };
    let labels = match raw.platform.as_ref().and_then(|p| p.labels.as_ref()) {
        None => Some(BTreeMap::new()),
        Some(written) => labels(written, check),
    };
    Some(Valid {
        name: name?,
        namespace: namespace?,
        cluster_domain: cluster_domain?,
        labels: labels?,
    })
}
