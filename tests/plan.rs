//! `bakeryc plan` and `build`'s refusals, on before/after pairs: every case in tests/plan/ is a
//! bakery.toml applied after tests/plan/base.toml was built (its header says what changes). Each
//! case's plan is a snapshot, and the effects that matter are asserted by name: exactly the
//! databases inheriting shared_buffers restart, log_min_duration reloads, relabelling restarts
//! nothing, refusals fail `build` and leave generated/ as it was. Also `--against` a folder and
//! a git revision (a temporary repository with two commits, never checked out).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{Test, repo};
use serde_json::Value;

fn case(name: &str) -> String {
    std::fs::read_to_string(repo(&format!("tests/plan/{name}.toml"))).unwrap()
}

/// A workspace where base.toml was built, then `name`'s bakery.toml written (not built).
fn after(name: &str) -> Test {
    Test::deployed_then(&case("base"), &case(name))
}

/// `plan --format json` in the workspace.
fn json(test: &Test, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--format", "json"];
    args.extend(extra);
    let run = test.run(&args).success();
    serde_json::from_str(&run.stdout()).unwrap()
}

/// Workload -> effect, in environment `env`.
fn effects(plan: &Value, env: &str) -> BTreeMap<String, String> {
    plan["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == env)
        .unwrap_or_else(|| panic!("no environment {env} in {plan:#}"))["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["workload"].as_str().unwrap().to_owned(),
                c["effect"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_case_plans_as_its_snapshot() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("plan/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("plan/*.toml", |path| {
            let name = path.file_stem().unwrap().to_str().unwrap();
            let test = after(name);
            let run = test.run(&["plan"]).success();
            insta::assert_snapshot!(run.stdout());
        });
    });
}

#[test]
fn shared_buffers_restarts_exactly_the_databases_that_inherit_it() {
    let plan = json(&after("shared-buffers"), &[]);
    for env in ["dev", "prod"] {
        assert_eq!(
            effects(&plan, env),
            map(&[("orders-db", "restart"), ("payments-db", "restart")]),
            "reports overrides shared_buffers and keeps running"
        );
    }
    let text = plan.to_string();
    assert!(
        text.contains("shared_buffers '128MB' → '256MB' (needs a restart)"),
        "{text}"
    );
}

#[test]
fn log_min_duration_reloads_every_database_without_a_restart() {
    let plan = json(&after("log-min-duration"), &[]);
    let all = map(&[
        ("orders-db", "reload"),
        ("payments-db", "reload"),
        ("reports-db", "reload"),
    ]);
    assert_eq!(effects(&plan, "dev"), all);
    assert_eq!(effects(&plan, "prod"), all);
}

#[test]
fn relabelling_restarts_nothing() {
    let plan = json(&after("relabel"), &[]);
    for env in ["dev", "prod"] {
        let effects = effects(&plan, env);
        assert!(!effects.is_empty());
        assert!(
            effects.values().all(|e| e == "no-effect"),
            "{env}: {effects:?}"
        );
    }
}

#[test]
fn pod_changes_restart_where_they_apply_and_volumes_grow_where_they_grow() {
    let plan = json(&after("resources"), &[]);
    assert_eq!(effects(&plan, "dev"), map(&[]));
    assert_eq!(effects(&plan, "prod"), map(&[("payments-db", "restart")]));
    let plan = json(&after("image"), &[]);
    assert_eq!(
        effects(&plan, "dev"),
        map(&[
            ("orders-db", "restart"),
            ("payments-db", "restart"),
            ("reports-db", "restart"),
        ])
    );
    let plan = json(&after("grow"), &["--env", "prod"]);
    assert_eq!(plan["environments"].as_array().unwrap().len(), 1);
    assert_eq!(
        effects(&plan, "prod"),
        map(&[("payments-db", "volume-grows")])
    );
    assert!(plan.to_string().contains("allowVolumeExpansion"));
}

#[test]
fn a_new_database_is_new_and_a_retired_one_is_removed_without_refusal() {
    let test = after("new-and-retired");
    let plan = json(&test, &[]);
    assert_eq!(
        effects(&plan, "dev"),
        map(&[("audit-db", "new"), ("reports-db", "removed")])
    );
    assert_eq!(plan["refusals"], Value::Array(vec![]));
    test.run(&["build"]).success();
    assert!(!test.join("generated/base/reports-db.yaml").exists());
}

#[test]
fn refused_changes_fail_build_and_leave_generated_untouched() {
    for (name, code) in [
        ("shrink", "bakery::plan::volume-shrink"),
        ("storage-class", "bakery::plan::storage-class-change"),
        ("downgrade", "bakery::plan::version-downgrade"),
        ("upgrade", "bakery::plan::major-upgrade"),
        ("orphaned", "bakery::plan::orphaned-volume"),
    ] {
        let test = after(name);
        let before = test.files("generated");
        test.run(&["build"]).status(1).stderr_has(code);
        assert_eq!(
            before,
            test.files("generated"),
            "{name}: generated/ changed"
        );
        let plan = json(&test, &[]);
        assert!(
            effects(&plan, "dev").values().any(|e| e == "refused"),
            "{name}: {plan:#}"
        );
        assert!(!plan["refusals"].as_array().unwrap().is_empty());
    }
}

#[test]
fn a_major_upgrade_builds_once_acknowledged() {
    let test = after("upgrade");
    let plan = json(&test, &["--allow-major-upgrade"]);
    assert_eq!(plan["refusals"], Value::Array(vec![]));
    assert_eq!(effects(&plan, "dev")["orders-db"], "restart");
    test.run(&["build", "--allow-major-upgrade"]).success();
    test.run(&["build"]).success();
}

#[test]
fn a_changed_selector_is_refused() {
    let old = common::tree(&case("base"));
    let mut new = old.clone();
    let file = new.get_mut("base/orders-db.yaml").unwrap();
    let changed = file.replace(
        "  selector:\n    matchLabels:\n      app.kubernetes.io/instance: orders-db\n",
        "  selector:\n    matchLabels:\n      app.kubernetes.io/instance: orders-db-v2\n",
    );
    assert_ne!(
        &changed, file,
        "the fixture's selector is where the test expects it"
    );
    *file = changed;
    let plan = bakeryc::plan::plan(&old, &new);
    assert!(
        plan.refusals.iter().any(|r| matches!(
            &r.refusal,
            bakeryc::plan::Refusal::Selector { workload } if workload == "orders-db"
        )),
        "{plan:#?}"
    );
}

#[test]
fn nothing_changed_is_no_changes() {
    let test = after("base");
    let run = test.run(&["plan"]).success();
    assert!(run.stdout().contains("No changes."), "{}", run.stdout());
}

#[test]
fn markdown_is_a_table_per_environment() {
    let test = after("shared-buffers");
    let run = test
        .run(&["plan", "--format", "markdown", "--env", "dev"])
        .success();
    insta::assert_snapshot!(run.stdout());
}

#[test]
fn against_a_folder_reads_that_tree() {
    let test = after("log-min-duration");
    test.run(&["build"]).success();
    // generated/ now matches bakery.toml; the old tree, copied aside, is the baseline.
    let old = Test::config(&case("base"));
    old.run(&["build"]).success();
    let dir = old.join("generated").display().to_string();
    assert!(
        test.run(&["plan"])
            .success()
            .stdout()
            .contains("No changes.")
    );
    let plan = json(&test, &["--against", &dir]);
    assert_eq!(effects(&plan, "dev")["orders-db"], "reload");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn against_a_git_revision_reads_the_tree_at_that_commit_without_a_checkout() {
    let test = Test::config(&case("base"));
    test.run(&["build"]).success();
    git(test.path(), &["init", "-q"]);
    git(test.path(), &["add", "."]);
    git(test.path(), &["commit", "-qm", "base"]);
    let test = test.file("bakery.toml", &case("shared-buffers"));
    test.run(&["build"]).success();
    git(test.path(), &["commit", "-qam", "shared_buffers 256MB"]);
    let head = git(test.path(), &["rev-parse", "HEAD"]);

    // Against HEAD (what is committed) nothing changes; against the first commit, the restart.
    assert!(
        test.run(&["plan", "--against", "HEAD"])
            .success()
            .stdout()
            .contains("No changes.")
    );
    let plan = json(&test, &["--against", "HEAD~1"]);
    assert_eq!(
        effects(&plan, "dev"),
        map(&[("orders-db", "restart"), ("payments-db", "restart")])
    );
    let printed = test
        .run(&["plan", "--against", "HEAD~1"])
        .success()
        .stdout();
    assert!(printed.contains("against generated at HEAD~1"), "{printed}");
    // Read with git only: HEAD, the index and the work tree are as they were.
    assert_eq!(git(test.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(test.path(), &["status", "--porcelain"]), "");
    // Refused as a usage error that names both readings, before git is asked for a tree.
    test.run(&["plan", "--against", "no-such-rev"])
        .status(2)
        .stderr_has("is neither a folder nor a git revision");
    test.run(&["plan", "--against=-x"])
        .status(2)
        .stderr_has("is neither a folder nor a git revision");
}

/// Effects of one environment of an in-memory plan, with the reasons' texts.
fn in_memory(
    old: &bakeryc::render::Files,
    new: &bakeryc::render::Files,
) -> BTreeMap<String, (String, Vec<String>)> {
    let plan = bakeryc::plan::plan(old, new);
    let env = plan.environments.iter().find(|e| e.name == "dev").unwrap();
    env.changes
        .iter()
        .map(|c| {
            (
                c.workload.clone(),
                (
                    c.effect.as_str().to_owned(),
                    c.reasons.iter().map(|r| r.text.clone()).collect(),
                ),
            )
        })
        .collect()
}

/// Classification reads object kinds and file contents, not a list of today's objects: a
/// pg_hba.conf edit reloads; a task another feature adds to a workload (a backup CronJob with the
/// database's instance label) restarts nothing, and its template change applies at its next run;
/// an object no workload owns is new on its own.
#[test]
fn classification_is_by_kind_and_content() {
    let old = common::tree(&case("base"));

    let mut new = old.clone();
    let file = new.get_mut("base/orders-db.yaml").unwrap();
    let edited = file.replace(
        "hostssl   all       all   0.0.0.0/0  scram-sha-256",
        "hostssl   all       all   10.0.0.0/8 scram-sha-256",
    );
    assert_ne!(&edited, file, "pg_hba.conf is where the test expects it");
    *file = edited;
    let effects = in_memory(&old, &new);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(effects["orders-db"].0, "reload", "{effects:?}");
    assert_eq!(effects["orders-db"].1, ["pg_hba.conf: changed"]);

    let cron = |image: &str| {
        format!(
            "---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: orders-db-backup
  labels:
    app.kubernetes.io/instance: orders-db
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: backup
            image: {image}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: billing-client
spec:
  podSelector: {{}}
"
        )
    };
    let mut with_task = old.clone();
    with_task
        .get_mut("base/orders-db.yaml")
        .unwrap()
        .push_str(&cron("pgbackrest:2.45"));
    let effects = in_memory(&old, &with_task);
    assert_eq!(effects["orders-db"].0, "no restart", "{effects:?}");
    assert_eq!(effects["orders-db"].1, ["new CronJob orders-db-backup"]);
    assert_eq!(effects["NetworkPolicy/billing-client"].0, "new");

    let mut newer = with_task.clone();
    let file = newer.get_mut("base/orders-db.yaml").unwrap();
    *file = file.replace("pgbackrest:2.45", "pgbackrest:2.54");
    let effects = in_memory(&with_task, &newer);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert_eq!(effects["orders-db"].0, "no restart");
    assert_eq!(
        effects["orders-db"].1,
        [
            "CronJob orders-db-backup: image pgbackrest:2.45 → pgbackrest:2.54 (backup) (from its next run)"
        ]
    );
}

/// A refusal points at the line that causes it: the environment's override of one database when
/// that is where the value comes from, not `[postgres]`.
#[test]
fn a_refusal_points_at_the_most_specific_line() {
    let shrunk = case("base").replace(
        "[environments.prod.database.payments]\nstorage = \"20Gi\"",
        "[environments.prod.database.payments]\nstorage = \"15Gi\"",
    );
    let test = after("base").file("bakery.toml", &shrunk);
    let run = test.run(&["build", "--format", "json"]).status(1);
    let diagnostics: Value = serde_json::from_str(&run.stdout()).unwrap();
    let line = shrunk
        .lines()
        .position(|l| l == "storage = \"15Gi\"")
        .unwrap()
        + 1;
    assert_eq!(diagnostics.as_array().unwrap().len(), 1, "{diagnostics:#}");
    assert_eq!(diagnostics[0]["code"], "bakery::plan::volume-shrink");
    assert_eq!(diagnostics[0]["line"], line, "{diagnostics:#}");
    assert!(
        diagnostics[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("payments-db in prod:"),
        "{diagnostics:#}"
    );
}

/// With cert-manager, a changed Certificate request (here its names, after a new cluster domain)
/// is a reload: cert-manager issues into the TLS Secret and the reloader applies it in place.
#[test]
fn a_changed_certificate_request_is_a_reload() {
    let config = std::fs::read_to_string(repo("tests/fixtures/cert-manager/bakery.toml")).unwrap();
    let test = Test::config(&config);
    test.run(&["build"]).success();
    let moved = config.replacen(
        "[platform]\n",
        "[platform]\ncluster_domain = \"example.internal\"\n",
        1,
    );
    assert_ne!(moved, config);
    let test = test.file("bakery.toml", &moved);
    let plan = json(&test, &[]);
    let env = plan["environments"][0]["name"].as_str().unwrap().to_owned();
    let effects = effects(&plan, &env);
    assert!(!effects.is_empty());
    for (workload, effect) in &effects {
        if workload.contains('/') {
            continue; // the CA's own objects
        }
        assert_eq!(effect, "reload", "{workload}: {plan:#}");
    }
    assert!(
        plan.to_string()
            .contains("cert-manager issues a new certificate")
    );
}

/// `plan` on a tree that is already the build's answers from the build alone (one comparison
/// pass, as `build --check`), without parsing either tree: its answer must be the full plan's, on
/// every platform the tests know, whatever their workloads (backup jobs, adopted claims, caches,
/// overlays with objects of their own).
#[test]
fn an_unchanged_tree_plans_without_parsing_what_the_full_plan_says() {
    use bakeryc::render::Source as _;
    let mut paths = vec![repo("bakery.toml")];
    for entry in std::fs::read_dir(repo("tests/fixtures")).unwrap() {
        let toml = entry.unwrap().path().join("bakery.toml");
        if toml.is_file() {
            paths.push(toml);
        }
    }
    for path in paths {
        let platform = bakeryc::check(&std::fs::read_to_string(&path).unwrap())
            .platform
            .unwrap();
        let files = bakeryc::build(&platform).unwrap();
        let stream = bakeryc::stream(&platform).unwrap();
        assert!(stream.workloads().is_none(), "known before a visit");
        stream.visit(&|_, _| Ok(())).unwrap();
        let fast = bakeryc::plan::unchanged(stream.workloads().unwrap());
        let full = bakeryc::plan::plan(&files, &files);
        assert_eq!(fast, full, "{}", path.display());
        assert!(
            fast.environments.iter().all(|e| e.unchanged > 0) || fast.environments.is_empty(),
            "{}: {fast:?}",
            path.display()
        );
    }
}
