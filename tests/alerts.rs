//! The expiry alerts of `[monitoring] prometheus_rules`, checked by the real Prometheus: each
//! fixture's compiled PrometheusRule passes `promtool check rules`, and `promtool test rules`
//! with tests/promtool/<fixture>.test.yaml shows every alert silent a day before its threshold
//! and firing once past it (cert-manager mode and bakeryc mode). promtool comes from Debian's
//! `prometheus` package (scripts/test installs it).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// The rule groups of the fixture's PrometheusRule, as a Prometheus rules file.
fn rules_file(fixture: &str) -> String {
    let source = std::fs::read_to_string(format!("tests/fixtures/{fixture}/bakery.toml")).unwrap();
    let platform = bakeryc::check(&source)
        .platform
        .expect("the fixture is valid");
    let files = bakeryc::build(&platform).unwrap();
    let rules: Vec<Value> = files
        .values()
        .flat_map(|text| serde_saphyr::from_multiple::<Value>(text).unwrap())
        .filter(|d| d["kind"] == "PrometheusRule")
        .collect();
    assert_eq!(
        rules.len(),
        1,
        "{fixture}: one PrometheusRule per namespace"
    );
    serde_json::to_string_pretty(&json!({"groups": rules[0]["spec"]["groups"]})).unwrap()
}

fn promtool(dir: &Path, args: &[&str]) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool (Debian package prometheus) must be installed: scripts/test installs it");
    assert!(
        output.status.success(),
        "promtool {args:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn check(fixture: &str) {
    let dir = tempfile::tempdir().unwrap();
    // JSON is YAML: promtool reads it as a rules file.
    std::fs::write(dir.path().join("rules.yaml"), rules_file(fixture)).unwrap();
    let test = format!("{fixture}.test.yaml");
    std::fs::copy(format!("tests/promtool/{test}"), dir.path().join(&test)).unwrap();
    promtool(dir.path(), &["check", "rules", "rules.yaml"]);
    promtool(dir.path(), &["test", "rules", &test]);
}

#[test]
fn cert_manager_alerts_fire_past_renew_before_less_a_day_and_when_not_ready() {
    check("cert-manager-cluster-issuer");
}

#[test]
fn bakeryc_alerts_fire_at_renew_before() {
    check("bakeryc-alerts");
}

#[test]
fn no_rule_without_monitoring() {
    let source = std::fs::read_to_string("tests/fixtures/one-database/bakery.toml").unwrap();
    let platform = bakeryc::check(&source).platform.unwrap();
    let files = bakeryc::build(&platform).unwrap();
    assert!(files.values().all(|text| !text.contains("PrometheusRule")));
}

#[test]
fn backup_alerts_fire_when_the_last_success_is_older_than_the_schedule_allows() {
    check("backup-s3");
}
