//! `[platform]`: the platform's name, the namespace every object is created in and the extra
//! labels every object carries. Its keys,
//! their docs and the raw form; the checks of the values are `validate`'s.

use super::{Default, Fields, Format, Key, Kind, RawMap, Required, Sp, Span, Table};

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
            doc: "DNS-1123 label; `app.kubernetes.io/part-of`; clients must carry this label to pass the NetworkPolicies",
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
            doc: "extra labels on every object (Kubernetes label keys and values); the `app.kubernetes.io/*` labels bakeryc sets are refused",
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
