//! The promises of a server's Deployment, for bakery.toml and every fixture: each server owns a
//! ReadWriteOnce data volume, so it runs as exactly one pod (`replicas: 1` written out, so that
//! Argo CD's self-heal undoes a `kubectl scale`, which an absent field would leave alone),
//! selected by its own labels, the old pod is stopped before the new one starts (`Recreate`: two
//! servers must never share one data directory), its data volume is not re-chowned at every
//! start (`fsGroupChangePolicy: OnRootMismatch`), and PostgreSQL gets 60 s to stop (a fast
//! shutdown writes a checkpoint; the kubelet's default 30 s can cut it short, and the next start
//! then replays the WAL).

mod common;

use bakeryc::compile::{Document, Object, compile};
use k8s_openapi::api::apps::v1::Deployment;

/// bakery.toml and every fixture's bakery.toml, by path.
fn sources() -> Vec<(String, String)> {
    let mut sources = vec![(
        "bakery.toml".to_owned(),
        std::fs::read_to_string(common::repo("bakery.toml")).unwrap(),
    )];
    for entry in std::fs::read_dir(common::repo("tests/fixtures")).unwrap() {
        let path = entry.unwrap().path().join("bakery.toml");
        if path.is_file() {
            let text = std::fs::read_to_string(&path).unwrap();
            sources.push((path.display().to_string(), text));
        }
    }
    sources
}

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
    for (path, source) in sources() {
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
