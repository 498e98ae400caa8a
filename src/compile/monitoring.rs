//! `[monitoring] prometheus_rules`: one PrometheusRule per namespace with certificate alerts per
//! database and cache. With cert-manager, from its own metrics: a certificate still inside
//! `renew_before` (less a margin) means renewal failed, and a certificate not ready for 10
//! minutes means issuing failed. With `bakeryc secrets`, from x509-certificate-exporter reading
//! the TLS Secrets: a certificate inside `renew_before` must be rotated by hand. Pure; the
//! thresholds come from `[tls.server]` and nothing else.

use std::collections::BTreeMap;

use super::certificates::period_seconds;
use super::meta;
use crate::crd::prometheus::{PrometheusRule, PrometheusRuleSpec, Rule, RuleGroup};
use crate::model::{Platform, WorkloadNames};

/// The generated file of the rule. A workload's file is named after a DNS label, which has no
/// dot, so this name can never collide with one.
pub const FILE: &str = "base/monitoring.prometheus-rule.yaml";

const KIND: meta::Kind = meta::Kind {
    app: "prometheus",
    component: "monitoring",
};
/// How long a certificate may stay not ready before anyone is woken up: issuing takes seconds
/// to a few minutes (ACME-free CA issuers are instant).
const NOT_READY_FOR: &str = "10m";
/// How long an expiry condition must hold: filters one scrape of a half-written Secret.
const EXPIRY_FOR: &str = "15m";
const DAY: i64 = 86_400;

/// The rule of the platform's namespace, or none when `[monitoring] prometheus_rules` is off.
pub fn prometheus_rule(platform: &Platform) -> Option<PrometheusRule> {
    if !platform.monitoring.prometheus_rules {
        return None;
    }
    let mut workloads: Vec<(WorkloadNames, &str)> = platform
        .databases
        .iter()
        .map(|db| (db.names(), "PostgreSQL"))
        .collect();
    if let Some(cache) = &platform.cache {
        workloads.push((cache.names(), "Redis"));
    }
    let rules = workloads
        .iter()
        .flat_map(|(names, server)| {
            if platform.tls.cert_manager() {
                cert_manager_rules(platform, names, server)
            } else {
                bakeryc_rules(platform, names, server)
            }
        })
        .chain(backup_rules(platform))
        .collect();
    let name = format!("{}-certificates", platform.name);
    Some(PrometheusRule {
        metadata: meta::object_meta(platform, KIND, &name, &name),
        spec: PrometheusRuleSpec {
            groups: vec![RuleGroup {
                name: format!("{}.certificates", platform.name),
                rules,
            }],
        },
    })
}

/// Seconds of `[tls.server] renew_before`.
fn renew_before_seconds(platform: &Platform) -> i64 {
    period_seconds(&platform.tls.server.renew_before)
}

/// When the cert-manager alert fires: `renew_before` less a margin for renewal to finish
/// (a day, or half of `renew_before` when that is shorter), so it means renewal failed.
pub fn renewal_failed_threshold(platform: &Platform) -> i64 {
    let renew = renew_before_seconds(platform);
    renew - DAY.min(renew / 2)
}

fn rule(
    alert: &str,
    expr: String,
    for_: &str,
    severity: &str,
    names: &WorkloadNames,
    summary: String,
    description: String,
) -> Rule {
    Rule {
        alert: alert.into(),
        expr,
        for_: Some(for_.into()),
        labels: BTreeMap::from([
            ("severity".into(), severity.into()),
            ("workload".into(), names.workload.clone()),
        ]),
        annotations: BTreeMap::from([
            ("summary".into(), summary),
            ("description".into(), description),
        ]),
    }
}

fn cert_manager_rules(platform: &Platform, names: &WorkloadNames, server: &str) -> Vec<Rule> {
    let ns = platform.namespace.as_str();
    let certificate = &names.tls_secret;
    let selector = format!("namespace=\"{ns}\", name=\"{certificate}\"");
    let threshold = renewal_failed_threshold(platform);
    let days = threshold / DAY;
    let look = format!(
        "`kubectl -n {ns} describe certificate {certificate}` and its CertificateRequests, and the cert-manager controller's logs"
    );
    vec![
        rule(
            "BakeryCertificateRenewalFailed",
            format!(
                "certmanager_certificate_expiration_timestamp_seconds{{{selector}}} - time() < {threshold}"
            ),
            EXPIRY_FOR,
            "warning",
            names,
            format!(
                "cert-manager has not renewed the certificate of {} ({server})",
                names.workload
            ),
            format!(
                "Certificate {ns}/{certificate} of {server} {} expires in less than {days} days: cert-manager should have renewed it {} before expiry ([tls.server] renew_before), so renewal is failing. Look at {look}.",
                names.workload,
                platform.tls.server.renew_before.as_str()
            ),
        ),
        rule(
            "BakeryCertificateNotReady",
            format!(
                "max by (namespace, name) (certmanager_certificate_ready_status{{{selector}, condition!=\"True\"}}) == 1"
            ),
            NOT_READY_FOR,
            "warning",
            names,
            format!(
                "the certificate of {} ({server}) is not ready",
                names.workload
            ),
            format!(
                "Certificate {ns}/{certificate} of {server} {} has not been Ready for {NOT_READY_FOR}: its Secret is missing or stale, and a new pod of {} cannot start. Look at {look}.",
                names.workload, names.workload
            ),
        ),
    ]
}

fn bakeryc_rules(platform: &Platform, names: &WorkloadNames, server: &str) -> Vec<Rule> {
    let ns = platform.namespace.as_str();
    let secret = &names.tls_secret;
    let threshold = renew_before_seconds(platform);
    let renew = platform.tls.server.renew_before.as_str();
    vec![rule(
        "BakeryCertificateExpiring",
        format!(
            "x509_cert_not_after{{secret_namespace=\"{ns}\", secret_name=\"{secret}\", secret_key=\"tls.crt\"}} - time() < {threshold}"
        ),
        EXPIRY_FOR,
        "warning",
        names,
        format!(
            "the certificate of {} ({server}) expires within {renew}",
            names.workload
        ),
        format!(
            "The certificate in Secret {ns}/{secret} of {server} {} expires within {renew} ([tls.server] renew_before). Run `bakeryc secrets rotate --env <env> --only {}` and follow the rollout it prints; `bakeryc secrets status --env <env>` shows every certificate's state.",
            names.workload, names.declared
        ),
    )]
}

/// With `[backup]`: a backup CronJob whose last success (kube-state-metrics) is older than its
/// schedule allows, or that never succeeded since it was created that long ago. A failed run
/// leaves a failed Job; this alert is what says that backups stopped.
fn backup_rules(platform: &Platform) -> Vec<Rule> {
    let ns = platform.namespace.as_str();
    super::backup::alert_thresholds(platform)
        .into_iter()
        .map(|(names, cron_job, threshold)| {
            let selector = format!("namespace=\"{ns}\", cronjob=\"{cron_job}\"");
            let hours = threshold / 3600;
            let workload = &names.workload;
            rule(
                "BakeryBackupTooOld",
                format!(
                    "(time() - kube_cronjob_status_last_successful_time{{{selector}}} > {threshold}) \
or (time() - kube_cronjob_created{{{selector}}} > {threshold} \
unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{{{selector}}})"
                ),
                "10m",
                "critical",
                &names,
                format!("No successful {cron_job} backup of {workload} for {hours}h"),
                format!(
                    "The CronJob {cron_job} has not completed a backup for longer than its schedule allows ({hours}h). Read the failed Jobs' logs (`kubectl -n {ns} logs job/<job>`: pgBackRest's own error) and docs/restore.md."
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(renew_before: &str) -> Platform {
        crate::check(&format!(
            "[platform]\nname = \"shop\"\nnamespace = \"shop\"\n\
             [postgres]\nversion = 17\nimage = \"postgres:17.2-alpine\"\nstorage = \"1Gi\"\n\
             [[database]]\nname = \"orders\"\n\
             [tls.server]\nrenew_before = \"{renew_before}\"\n"
        ))
        .platform
        .expect("the platform is valid")
    }

    /// The renewal-failed alert leaves renewal a day, or half of `renew_before` when that is
    /// shorter, so a short `renew_before` still alerts before the certificate expires.
    #[test]
    fn renewal_failed_leaves_a_day_or_half_of_renew_before() {
        for (renew_before, threshold) in [("30d", 29 * DAY), ("2d", DAY), ("1d", DAY / 2)] {
            assert_eq!(
                renewal_failed_threshold(&platform(renew_before)),
                threshold,
                "{renew_before}"
            );
        }
    }
}
