//! The promises of the backup objects, for bakery.toml and every fixture with `[backup]`, read
//! from the compiled base as data: every covered database, and only those, gets its pgBackRest
//! ConfigMap, its repository claim (a `volume` repository: ReadWriteOnce, the declared size and
//! class), its backup NetworkPolicy and three CronJobs. The two backup CronJobs run on the
//! declared schedules, never two at once (`Forbid`), still start after a long controller outage
//! (`startingDeadlineSeconds`: without it, 100 missed runs stop a CronJob for good), keep three
//! failed Jobs for their logs, and retry a failed backup at most twice. The restore CronJob never
//! runs by itself (suspended, on 31 February) and a restore Job is never retried. The backup
//! pods, and no other pod of the tree, may reach their own database (and no other server) on
//! 5432. The server and the restore Job read the same pgBackRest configuration, secrets fragment
//! and repository, and the restore writes the database's own data volume. The real backups and
//! restores are tests/backup.rs's; these are the shapes, in milliseconds.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bakeryc::compile::{Document, compile};
use bakeryc::model::{Platform, Repository};
use serde_json::{Value, json};

/// The base's objects of a source, as data.
fn base(platform: &Platform) -> Vec<Value> {
    let mut objects = Vec::new();
    for (path, document) in compile(platform) {
        if let (true, Document::Objects(found)) = (path.starts_with("base/"), document) {
            objects.extend(found.iter().map(|o| serde_json::to_value(o).unwrap()));
        }
    }
    objects
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

fn pod_of(object: &Value) -> &Value {
    match object["kind"].as_str() {
        Some("CronJob") => &object["spec"]["jobTemplate"]["spec"]["template"],
        _ => &object["spec"]["template"],
    }
}

/// Whether a matchLabels selector selects these labels.
fn selects(selector: &Value, labels: &Value) -> bool {
    assert!(
        selector.get("matchExpressions").is_none(),
        "matchLabels only"
    );
    selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(key, value)| labels[key] == *value)
}

/// Whether `policy` admits a pod labelled `client` to port 5432 of pods labelled `server`.
fn admits(policy: &Value, client: &Value, server: &Value) -> bool {
    let spec = &policy["spec"];
    let ingress = spec["policyTypes"]
        .as_array()
        .is_none_or(|types| types.iter().any(|t| t == "Ingress"));
    ingress
        && selects(&spec["podSelector"], server)
        && spec["ingress"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|rule| {
                let from = rule["from"].as_array().is_none_or(|peers| {
                    peers.is_empty()
                        || peers.iter().any(|peer| {
                            peer.get("namespaceSelector").is_none()
                                && peer.get("podSelector").is_some_and(|s| selects(s, client))
                        })
                });
                let port = rule["ports"].as_array().is_none_or(|ports| {
                    ports.iter().any(|p| {
                        p.get("protocol").is_none_or(|t| t == "TCP")
                            && p.get("port").is_none_or(|q| *q == json!(5432))
                    })
                });
                from && port
            })
}

fn env_of(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_owned(),
                e["value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// A container's mounts as (path, the volume's source): what it sees where.
fn mounts_of(pod: &Value, container: &Value) -> BTreeMap<String, Value> {
    container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let volume = pod["spec"]["volumes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == m["name"])
                .cloned()
                .map_or(Value::Null, |mut v| {
                    v.as_object_mut().unwrap().remove("name");
                    v
                });
            (m["mountPath"].as_str().unwrap().to_owned(), volume)
        })
        .collect()
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

/// Every broken promise of the platform's backup objects.
fn problems(platform: &Platform, objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(backup) = &platform.backup else {
        return problems;
    };
    let policy = &backup.policy;
    let pods: Vec<(String, &Value)> = objects
        .iter()
        .filter(|o| o["kind"] == "Deployment" || o["kind"] == "CronJob")
        .map(|o| {
            let kind = o["kind"].as_str().unwrap();
            let name = format!("{kind}/{}", o["metadata"]["name"].as_str().unwrap());
            (name, &pod_of(o)["metadata"]["labels"])
        })
        .collect();
    let mut claims = 0;
    for db in &platform.databases {
        let names = bakeryc::compile::backup::names(db);
        let workload = db.names().workload;
        let covered = backup.covers(db);
        let made = [
            ("ConfigMap", &names.config_map),
            ("NetworkPolicy", &names.network_policy),
            ("CronJob", &names.full),
            ("CronJob", &names.differential),
            ("CronJob", &names.restore),
        ];
        for (kind, name) in made {
            if find(objects, kind, name).is_some() != covered {
                problems.push(format!("{kind}/{name}: made {}", !covered));
            }
        }
        let claim = find(objects, "PersistentVolumeClaim", &names.volume_claim);
        match (&policy.repository, covered, claim) {
            (
                Repository::Volume {
                    storage,
                    storage_class,
                },
                true,
                Some(claim),
            ) => {
                claims += 1;
                let spec = &claim["spec"];
                let expected = json!({
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": storage.to_string()}},
                });
                let mut found = spec.clone();
                let class = found.as_object_mut().unwrap().remove("storageClassName");
                if found != expected
                    || class.as_ref().and_then(Value::as_str) != storage_class.as_deref()
                {
                    problems.push(format!("{}: claim {spec}", names.volume_claim));
                }
            }
            (Repository::Volume { .. }, true, None) => {
                problems.push(format!("{}: no repository claim", names.volume_claim));
            }
            (_, _, Some(_)) if !covered || matches!(policy.repository, Repository::S3(_)) => {
                problems.push(format!(
                    "{}: a claim no repository needs",
                    names.volume_claim
                ));
            }
            _ => {}
        }
        if !covered {
            continue;
        }
        let config = &find(objects, "ConfigMap", &names.config_map).unwrap()["data"];
        for key in ["backup.sh", "pgbackrest.conf", "restore.sh"] {
            if !config[key]
                .as_str()
                .is_some_and(|text| text.contains(db.names().declared.as_str()))
            {
                problems.push(format!(
                    "{}: {key} does not name the stanza",
                    names.config_map
                ));
            }
        }
        let jobs = [
            (&names.full, policy.full.as_str(), false),
            (&names.differential, policy.differential.as_str(), false),
            (&names.restore, "0 0 31 2 *", true),
        ];
        for (name, schedule, restore) in jobs {
            let job = find(objects, "CronJob", name).unwrap();
            let spec = &job["spec"];
            let expected = json!({
                "schedule": schedule,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 3600,
                "failedJobsHistoryLimit": 3,
                "suspend": restore,
                "backoffLimit": if restore { 0 } else { 2 },
            });
            let found = json!({
                "schedule": spec["schedule"],
                "concurrencyPolicy": spec["concurrencyPolicy"],
                "startingDeadlineSeconds": spec["startingDeadlineSeconds"],
                "failedJobsHistoryLimit": spec["failedJobsHistoryLimit"],
                "suspend": spec["suspend"].as_bool().unwrap_or(false),
                "backoffLimit": spec["jobTemplate"]["spec"]["backoffLimit"],
            });
            if found != expected {
                problems.push(format!("CronJob/{name}: {found}, expected {expected}"));
            }
        }
        // Who reaches the database: the backup pods through this policy, no one else.
        let server = &pod_of(find(objects, "Deployment", &workload).unwrap())["metadata"]["labels"];
        let policy_object = find(objects, "NetworkPolicy", &names.network_policy).unwrap();
        for (pod, labels) in &pods {
            let backup_pod = [&names.full, &names.differential, &names.restore]
                .iter()
                .any(|job| *pod == format!("CronJob/{job}"));
            if admits(policy_object, labels, server) != backup_pod {
                problems.push(format!(
                    "{}: admits {pod}: {}",
                    names.network_policy, !backup_pod
                ));
            }
        }
        for (other, labels) in &pods {
            if *other != format!("Deployment/{workload}")
                && selects(&policy_object["spec"]["podSelector"], labels)
            {
                problems.push(format!("{}: selects {other}", names.network_policy));
            }
        }
        // The server and the restore read the same configuration, secrets and repository.
        let server_pod = pod_of(find(objects, "Deployment", &workload).unwrap());
        let restore_pod = pod_of(find(objects, "CronJob", &names.restore).unwrap());
        let postgres = container(server_pod, "postgres");
        let restore = container(restore_pod, "restore");
        let expected_env = BTreeMap::from([
            (
                "PGBACKREST_CONFIG".to_owned(),
                "/etc/pgbackrest/pgbackrest.conf".to_owned(),
            ),
            (
                "PGBACKREST_CONFIG_INCLUDE_PATH".to_owned(),
                "/run/pgbackrest".to_owned(),
            ),
        ]);
        for (what, env) in [("postgres", env_of(postgres)), ("restore", env_of(restore))] {
            for (key, value) in &expected_env {
                if env.get(key) != Some(value) {
                    problems.push(format!("{workload} {what}: {key} is {:?}", env.get(key)));
                }
            }
        }
        let (server_mounts, restore_mounts) = (
            mounts_of(server_pod, postgres),
            mounts_of(restore_pod, restore),
        );
        for path in [
            "/etc/pgbackrest",
            "/run/pgbackrest",
            "/var/lib/pgbackrest",
            "/var/lib/postgresql/data",
        ] {
            let source = server_mounts.get(path);
            if source.is_none_or(Value::is_null) || source != restore_mounts.get(path) {
                problems.push(format!(
                    "{workload}: {path} is {source:?} in the server, {:?} in the restore",
                    restore_mounts.get(path)
                ));
            }
        }
        let init = server_pod["spec"]["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == "pgbackrest-secrets");
        let digest = &server_pod["metadata"]["annotations"]["bakeryc.dev/backup-digest"];
        if !init || !digest.is_string() {
            problems.push(format!(
                "{workload}: pgbackrest-secrets {init}, digest {digest}"
            ));
        }
    }
    if matches!(policy.repository, Repository::Volume { .. }) && claims == 0 {
        problems.push("no repository claim was checked".to_owned());
    }
    problems
}

#[test]
fn every_backed_up_database_gets_its_jobs_policy_and_repository() {
    let mut checked = BTreeSet::new();
    for (path, source) in common::sources() {
        let platform = common::platform(&source);
        if platform.backup.is_none() {
            continue;
        }
        let found = problems(&platform, &base(&platform));
        assert!(found.is_empty(), "{path}:\n{}", found.join("\n"));
        checked.insert(path);
    }
    assert!(checked.len() >= 3, "{checked:?}");
    // No fixture names a class for its repository volume: one with a class, too.
    let path = "tests/fixtures/backup-volume/bakery.toml";
    let mut document: toml::Table = std::fs::read_to_string(common::repo(path))
        .unwrap()
        .parse()
        .unwrap();
    document["backup"]["repository"]
        .as_table_mut()
        .unwrap()
        .insert("storage_class".to_owned(), "backup-hdd".into());
    let platform = common::platform(&toml::to_string(&document).unwrap());
    let found = problems(&platform, &base(&platform));
    assert!(
        found.is_empty(),
        "{path} with a class:\n{}",
        found.join("\n")
    );
}

/// `change`, applied to every object of `kind` (only the one named `name`, when given).
fn on(
    kind: &'static str,
    name: Option<&'static str>,
    change: impl Fn(&mut Value),
) -> impl Fn(&mut Value) {
    move |o| {
        if o["kind"] == kind && name.is_none_or(|name| o["metadata"]["name"] == name) {
            change(o);
        }
    }
}

#[test]
fn each_broken_backup_promise_is_caught() {
    let source =
        std::fs::read_to_string(common::repo("tests/fixtures/backup-volume/bakery.toml")).unwrap();
    let platform = common::platform(&source);
    let objects = base(&platform);
    assert_eq!(problems(&platform, &objects), Vec::<String>::new());
    let check = |change: &dyn Fn(&mut Value), expected: &str| {
        let mut changed = objects.clone();
        for object in &mut changed {
            change(object);
        }
        let found = problems(&platform, &changed);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected}: {found:?}"
        );
    };
    let cron = |name: &'static str, path: &'static [&'static str], value: Value| {
        move |o: &mut Value| {
            if o["kind"] == "CronJob" && o["metadata"]["name"].as_str().unwrap().ends_with(name) {
                let mut at = &mut o["spec"];
                for key in path {
                    at = &mut at[*key];
                }
                *at = value.clone();
            }
        }
    };
    check(
        &cron("backup-full", &["schedule"], json!("@daily")),
        "schedule",
    );
    check(
        &cron("backup-diff", &["concurrencyPolicy"], json!("Allow")),
        "Forbid",
    );
    check(
        &cron("backup-diff", &["startingDeadlineSeconds"], Value::Null),
        "starting",
    );
    check(
        &cron("backup-full", &["failedJobsHistoryLimit"], Value::Null),
        "failed",
    );
    check(&cron("restore", &["suspend"], Value::Null), "suspend");
    check(
        &cron(
            "restore",
            &["jobTemplate", "spec", "backoffLimit"],
            Value::Null,
        ),
        "backoff",
    );
    check(
        &cron(
            "backup-full",
            &["jobTemplate", "spec", "backoffLimit"],
            json!(6),
        ),
        "backoff",
    );
    check(
        &cron(
            "backup-full",
            &["jobTemplate", "spec", "template", "metadata", "labels"],
            json!({}),
        ),
        "admits",
    );
    check(
        &on("NetworkPolicy", Some("orders-db-backup"), |o| {
            o["spec"]["podSelector"] = json!({});
        }),
        "selects",
    );
    check(
        &on("NetworkPolicy", Some("orders-db-backup"), |o| {
            o["spec"]["ingress"][0]["ports"][0]["port"] = json!(6379);
        }),
        "admits",
    );
    check(
        &on("PersistentVolumeClaim", None, |o| {
            o["spec"]["resources"]["requests"]["storage"] = json!("1Gi");
        }),
        "claim",
    );
    check(
        &on("PersistentVolumeClaim", None, |o| {
            o["spec"]["storageClassName"] = json!("fast");
        }),
        "claim",
    );
    check(
        &on("PersistentVolumeClaim", None, |o| {
            o["metadata"]["name"] = json!("elsewhere");
        }),
        "no repository claim",
    );
    check(
        &on("CronJob", Some("orders-db-restore"), |o| {
            let volumes = &mut o["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"];
            for volume in volumes.as_array_mut().unwrap() {
                if volume["name"] == "backup-repository" {
                    volume["persistentVolumeClaim"]["claimName"] = json!("other-db-backup");
                }
            }
        }),
        "/var/lib/pgbackrest",
    );
    check(
        &on("Deployment", None, |o| {
            let containers = &mut o["spec"]["template"]["spec"]["containers"];
            for container in containers.as_array_mut().unwrap() {
                container["env"] = json!([]);
            }
        }),
        "PGBACKREST_CONFIG",
    );
    check(
        &on("ConfigMap", Some("orders-db-pgbackrest"), |o| {
            o["data"]["restore.sh"] = json!("");
        }),
        "restore.sh",
    );
    check(
        &on("NetworkPolicy", Some("scratch-db"), |o| {
            o["metadata"]["name"] = json!("scratch-db-backup");
        }),
        "made true",
    );
}
