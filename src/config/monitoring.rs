//! `[monitoring]`: what bakeryc adds for Prometheus (today the certificate expiry alerts). Its
//! keys, their docs and defaults, the raw form and its (trivial) validation; the rules themselves
//! are compile's.

use super::{Default, Fields, Key, Kind, RawConfig, Required, Sp, Span, Table};
use crate::model::Monitoring;

pub static TABLE: Table = Table {
    title: "[monitoring]",
    doc: "Prometheus alerts",
    keys: &[Key {
        name: "prometheus_rules",
        kind: Kind::Bool,
        required: Required::No,
        default: Default::Bool(false),
        doc: "a `PrometheusRule` per namespace alerting before certificates expire (Prometheus Operator)",
        example: "true",
    }],
    inherits: None,
    inline: false,
};

#[derive(Clone, Debug, Default)]
pub struct RawMonitoring {
    pub span: Span,
    pub prometheus_rules: Option<Sp<bool>>,
}

pub fn read(t: &mut Fields<'_, '_, '_>) -> RawMonitoring {
    RawMonitoring {
        span: t.span.clone(),
        prometheus_rules: t.boolean("prometheus_rules"),
    }
}

/// Every value the reader accepts is valid: a boolean.
pub fn validate(raw: &RawConfig) -> Monitoring {
    let section = raw.monitoring.clone().unwrap_or_default();
    Monitoring {
        prometheus_rules: section.prometheus_rules.is_some_and(|flag| flag.value),
    }
}
