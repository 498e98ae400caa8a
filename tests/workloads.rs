//! The promises of a server's Deployment, for bakery.toml and every fixture: each server owns a
//! ReadWriteOnce data volume, so it runs as exactly one pod (`replicas: 1` written out, so that
//! Argo CD's self-heal undoes a `kubectl scale`, which an absent field would leave alone),
//! selected by its own labels, with at most 3 old ReplicaSets kept; the old pod is stopped
//! before the new one starts (`Recreate`: two servers must never share one data directory), its
//! data volume is not re-chowned at every start (`fsGroupChangePolicy: OnRootMismatch`), and
//! PostgreSQL gets 60 s to stop (a fast shutdown writes a checkpoint; the kubelet's default 30 s
//! can cut it short, and the next start then replays the WAL). Every pod template is also whole
//! as the API server checks it (names, mounts, Secret volumes), and an init container checks its
//! optional Secret volumes before the server starts.

mod common;

use bakeryc::compile::{Document, Object, compile};
use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Volume};

/// Every Deployment of the base, with the name of the claim it mounts, if any.
fn deployments(source: &str) -> Vec<(Deployment, Option<String>)> {
    let platform = common::platform(source);
    let mut found = Vec::new();
    for (path, document) in compile(&platform) {
        let Document::Objects(objects) = document else {
            continue;
        };
        if !path.starts_with("base/") {
            continue;
        }
        for object in objects {
            if let Object::Deployment(deployment) = object {
                let claim = deployment
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|pod| pod.volumes.as_ref())
                    .into_iter()
                    .flatten()
                    .find_map(|v| v.persistent_volume_claim.as_ref())
                    .map(|claim| claim.claim_name.clone());
                found.push((*deployment, claim));
            }
        }
    }
    found
}

/// Every pod template of the base (Deployments and CronJobs), by its object's name.
fn pod_templates(source: &str) -> Vec<(String, PodSpec, bool)> {
    let platform = common::platform(source);
    let mut found = Vec::new();
    for (path, document) in compile(&platform) {
        let Document::Objects(objects) = document else {
            continue;
        };
        if !path.starts_with("base/") {
            continue;
        }
        for object in objects {
            let (name, template, server) = match object {
                Object::Deployment(o) => (o.metadata.name, o.spec.map(|s| s.template), true),
                Object::CronJob(o) => (
                    o.metadata.name,
                    o.spec
                        .and_then(|s| s.job_template.spec)
                        .map(|job| job.template),
                    false,
                ),
                _ => continue,
            };
            let pod = template.and_then(|t| t.spec).unwrap_or_default();
            found.push((name.unwrap_or_default(), pod, server));
        }
    }
    found
}

/// What the API server would refuse in a pod, or what would leave a mount without its volume:
/// names present and unique, one source per volume, every mount naming a volume of the pod,
/// every claim and Secret volume naming its object, every item a key and a path. And the promise of optional Secret volumes: an init container
/// (`secrets-present`, `pgbackrest-secrets`) mounts each one and names its files in its
/// command, so the server never starts without its Secret and the operator reads which one is
/// missing.
fn pod_problems(pod: &PodSpec, server: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let init = pod.init_containers.iter().flatten();
    let containers: Vec<&Container> = init.chain(&pod.containers).collect();
    let mut names = BTreeSet::new();
    for container in &containers {
        if container.name.is_empty() || !names.insert(container.name.as_str()) {
            problems.push(format!(
                "container name {:?} is empty or repeated",
                container.name
            ));
        }
    }
    let volumes: Vec<&Volume> = pod.volumes.iter().flatten().collect();
    let mut volume_names = BTreeSet::new();
    for volume in &volumes {
        if volume.name.is_empty() || !volume_names.insert(volume.name.as_str()) {
            problems.push(format!(
                "volume name {:?} is empty or repeated",
                volume.name
            ));
        }
        let value = serde_json::to_value(volume).unwrap();
        let sources = value.as_object().map_or(0, |fields| fields.len() - 1);
        if sources != 1 {
            problems.push(format!(
                "volume {:?} has {sources} sources, not one",
                volume.name
            ));
        }
        let claim = volume.persistent_volume_claim.as_ref();
        if claim.is_some_and(|claim| claim.claim_name.is_empty()) {
            problems.push(format!("volume {:?} names no claim", volume.name));
        }
        if let Some(secret) = &volume.secret {
            if secret.secret_name.as_deref().is_none_or(str::is_empty) {
                problems.push(format!("volume {:?} names no Secret", volume.name));
            }
        }
        let items = volume.secret.iter().flat_map(|s| s.items.iter().flatten());
        let config_items = volume
            .config_map
            .iter()
            .flat_map(|c| c.items.iter().flatten());
        for item in items.chain(config_items) {
            if item.key.is_empty() || item.path.is_empty() {
                problems.push(format!("volume {:?} has an empty item", volume.name));
            }
        }
    }
    for container in &containers {
        for mount in container.volume_mounts.iter().flatten() {
            if !volume_names.contains(mount.name.as_str()) || mount.mount_path.is_empty() {
                problems.push(format!(
                    "{}: mount {:?} at {:?} has no volume",
                    container.name, mount.name, mount.mount_path
                ));
            }
        }
    }
    // A server must not start without them: an init container checks. A task's own command
    // fails without its file (its Job then fails and says so).
    let checkers: Vec<&Container> = if server {
        pod.init_containers.iter().flatten().collect()
    } else {
        containers.clone()
    };
    for volume in volumes {
        let optional = volume.secret.as_ref().and_then(|s| s.optional) == Some(true);
        if !optional {
            continue;
        }
        let checked = checkers.iter().any(|check| {
            let command = check.command.iter().flatten();
            let mounts = check.volume_mounts.iter().flatten();
            mounts.filter(|m| m.name == volume.name).any(|mount| {
                let under = format!("{}/", mount.mount_path);
                command
                    .clone()
                    .any(|arg| *arg == mount.mount_path || arg.starts_with(&under))
            })
        });
        if !checked {
            problems.push(format!(
                "optional Secret volume {:?} is not checked before it is used",
                volume.name
            ));
        }
    }
    problems
}

/// The problems of one server Deployment, as "name: what" lines.
fn problems(deployment: &Deployment, claim: Option<&str>) -> Vec<String> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let Some(spec) = &deployment.spec else {
        return vec![format!("{name}: no spec")];
    };
    if claim.is_none() {
        problems.push(format!("{name}: mounts no data volume claim"));
    }
    if spec.replicas != Some(1) {
        problems.push(format!(
            "{name}: replicas is {:?}, not 1 written out",
            spec.replicas
        ));
    }
    // Rollbacks go through git; Kubernetes' default keeps 10 old ReplicaSets per server, one
    // more at each config change, each with a full pod template.
    if spec.revision_history_limit.is_none_or(|kept| kept > 3) {
        problems.push(format!(
            "{name}: keeps {:?} old ReplicaSets (the default is 10), not at most 3",
            spec.revision_history_limit
        ));
    }
    let strategy = spec.strategy.as_ref().and_then(|s| s.type_.as_deref());
    if strategy != Some("Recreate") {
        problems.push(format!("{name}: strategy {strategy:?}, not Recreate"));
    }
    // The API refuses a Deployment whose selector is empty or does not match its own pods.
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let selector = spec.selector.match_labels.clone().unwrap_or_default();
    if selector.is_empty() || selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
        problems.push(format!(
            "{name}: selector {selector:?} does not select its pods {labels:?}"
        ));
    }
    let pod = spec.template.spec.as_ref();
    // Without it the kubelet changes the group of every file of the data volume at each start:
    // minutes for a large database, during which the server is down.
    let policy = pod
        .and_then(|pod| pod.security_context.as_ref())
        .and_then(|context| context.fs_group_change_policy.as_deref());
    if policy != Some("OnRootMismatch") {
        problems.push(format!(
            "{name}: fsGroupChangePolicy {policy:?}, not OnRootMismatch"
        ));
    }
    let postgres = pod.is_some_and(|pod| pod.containers.iter().any(|c| c.name == "postgres"));
    let grace = pod.and_then(|pod| pod.termination_grace_period_seconds);
    if postgres && grace.unwrap_or(30) < 60 {
        problems.push(format!(
            "{name}: PostgreSQL gets {grace:?} s to stop (the default is 30), not 60"
        ));
    }
    problems
}

#[test]
fn every_server_is_one_pod_stopped_before_its_replacement_starts() {
    let mut servers = 0;
    for (path, source) in common::sources() {
        for (deployment, claim) in deployments(&source) {
            let found = problems(&deployment, claim.as_deref());
            assert!(found.is_empty(), "{path}:\n{}", found.join("\n"));
            servers += 1;
        }
    }
    assert!(
        servers > 20,
        "only {servers} server Deployments were checked"
    );
}

#[test]
fn every_pod_is_whole_and_checks_its_optional_secrets() {
    let mut pods = 0;
    for (path, source) in common::sources() {
        for (name, pod, server) in pod_templates(&source) {
            let found = pod_problems(&pod, server);
            assert!(found.is_empty(), "{path}: {name}:\n{}", found.join("\n"));
            pods += 1;
        }
    }
    assert!(pods > 30, "only {pods} pod templates were checked");
}

#[test]
fn each_broken_pod_is_caught() {
    let source =
        std::fs::read_to_string(common::repo("tests/fixtures/clients/bakery.toml")).unwrap();
    let (_, clean, _) = pod_templates(&source)
        .into_iter()
        .find(|(_, pod, _)| pod.containers.iter().any(|c| c.name == "postgres"))
        .expect("a database pod");
    assert_eq!(pod_problems(&clean, true), Vec::<String>::new());
    let broken = |change: &dyn Fn(&mut PodSpec), expected: &str| {
        let mut pod = clean.clone();
        change(&mut pod);
        let found = pod_problems(&pod, true);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected}: {found:?}"
        );
    };
    let init = |pod: &mut PodSpec| pod.init_containers.as_mut().unwrap()[0].clone();
    broken(&|pod| pod.containers[1].name.clear(), "container name");
    broken(
        &|pod| pod.volumes.as_mut().unwrap()[0].name.clear(),
        "volume name",
    );
    broken(
        &|pod| pod.volumes.as_mut().unwrap().pop().map(drop).unwrap(),
        "has no volume",
    );
    broken(
        &|pod| {
            let volumes = pod.volumes.as_mut().unwrap();
            let secret = volumes.iter_mut().find_map(|v| v.secret.as_mut()).unwrap();
            secret.secret_name = None;
        },
        "names no Secret",
    );
    broken(
        &|pod| {
            let volumes = pod.volumes.as_mut().unwrap();
            let config = volumes.iter_mut().find_map(|v| v.config_map.as_mut());
            config.unwrap().items.as_mut().unwrap()[0].key.clear();
        },
        "has an empty item",
    );
    broken(
        &|pod| {
            let volumes = pod.volumes.as_mut().unwrap();
            let claim = volumes
                .iter_mut()
                .find_map(|v| v.persistent_volume_claim.as_mut());
            claim.unwrap().claim_name.clear();
        },
        "names no claim",
    );
    broken(
        &|pod| {
            let volumes = pod.volumes.as_mut().unwrap();
            let dir = volumes.iter_mut().find(|v| v.empty_dir.is_some()).unwrap();
            dir.empty_dir = None;
        },
        "0 sources",
    );
    broken(
        &|pod| {
            let first = init(pod);
            pod.init_containers.as_mut().unwrap()[0] = Container {
                command: None,
                ..first
            };
        },
        "is not checked before",
    );
    broken(
        &|pod| {
            let first = init(pod);
            pod.init_containers.as_mut().unwrap()[0] = Container {
                volume_mounts: None,
                ..first
            };
        },
        "is not checked before",
    );
}

#[test]
fn each_broken_promise_is_caught() {
    let source = std::fs::read_to_string(common::repo("bakery.toml")).unwrap();
    let (clean, claim) = deployments(&source)
        .into_iter()
        .find(|(d, _)| {
            d.spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref())
                .is_some_and(|pod| pod.containers.iter().any(|c| c.name == "postgres"))
        })
        .expect("a database Deployment");
    assert_eq!(problems(&clean, claim.as_deref()), Vec::<String>::new());
    let broken = |change: &dyn Fn(&mut Deployment), expected: &str| {
        let mut deployment = clean.clone();
        change(&mut deployment);
        let found = problems(&deployment, claim.as_deref());
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "{expected}: {found:?}"
        );
    };
    broken(&|d| d.spec.as_mut().unwrap().replicas = None, "replicas");
    broken(&|d| d.spec.as_mut().unwrap().replicas = Some(2), "replicas");
    broken(
        &|d| d.spec.as_mut().unwrap().revision_history_limit = None,
        "old ReplicaSets",
    );
    broken(
        &|d| d.spec.as_mut().unwrap().strategy = None,
        "not Recreate",
    );
    broken(
        &|d| d.spec.as_mut().unwrap().selector.match_labels = None,
        "does not select",
    );
    broken(
        &|d| {
            let spec = d.spec.as_mut().unwrap();
            let labels = spec.template.metadata.as_mut().unwrap().labels.as_mut();
            labels.unwrap().clear();
        },
        "does not select",
    );
    broken(
        &|d| {
            let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            pod.termination_grace_period_seconds = None;
        },
        "to stop",
    );
    broken(
        &|d| {
            let pod = d.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
            pod.security_context
                .as_mut()
                .unwrap()
                .fs_group_change_policy = None;
        },
        "not OnRootMismatch",
    );
    assert!(
        !problems(&clean, None).is_empty(),
        "a server without a claim"
    );
}
