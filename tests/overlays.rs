//! Overlays are patches, so their meaning is what kustomize makes of them: for every fixture and
//! environment, `kubectl kustomize` of the overlay must give each workload exactly the placement
//! (image, storage, storage class, resources) that the model resolved for that environment. The
//! patches name containers; none addresses one by its position in the pod.

mod common;

use std::path::Path;

use bakeryc::model::Placement;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde_json::Value;

fn check_fixture(config: &str) {
    let test = common::Test::fixture(config);
    let platform = test.platform();
    let files = test.tree();
    for (path, text) in files
        .iter()
        .filter(|(path, _)| path.starts_with("overlays/"))
    {
        assert!(
            !text.contains("containers/") && !text.contains("Containers/"),
            "{config} {path} addresses a container by position:\n{text}"
        );
    }
    let out = test.join("generated");
    bakeryc::output::write_tree(&out, &files).unwrap();
    for environment in &platform.environments {
        let overlay = out.join("overlays").join(environment.name.as_str());
        let docs = common::kustomize(&overlay);
        let find = |kind: &str, name: &str| {
            docs.iter()
                .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("{kind}/{name} missing in {}", overlay.display()))
                .clone()
        };
        let mut expected: Vec<(bakeryc::model::WorkloadNames, &Placement)> = Vec::new();
        for db in &platform.databases {
            expected.push((db.names(), &environment.databases[&db.name]));
        }
        if let (Some(cache), Some(placement)) = (&platform.cache, &environment.cache) {
            expected.push((cache.names(), placement));
        }
        for (names, placement) in expected {
            let what = format!("{config} {} {}", environment.name, names.workload);
            let claim: PersistentVolumeClaim =
                serde_json::from_value(find("PersistentVolumeClaim", &names.volume_claim)).unwrap();
            let spec = claim.spec.unwrap();
            assert_eq!(
                spec.resources.unwrap().requests.unwrap()["storage"].0,
                placement.storage.as_str(),
                "{what}"
            );
            assert_eq!(spec.storage_class_name, placement.storage_class, "{what}");
            // One server pod owns its data volume.
            assert_eq!(
                spec.access_modes.as_deref(),
                Some(&["ReadWriteOnce".to_owned()][..]),
                "{what}"
            );
            let deployment: Deployment =
                serde_json::from_value(find("Deployment", &names.workload)).unwrap();
            let has_digest_skip = deployment
                .metadata
                .annotations
                .unwrap_or_default()
                .values()
                .any(|v| v.starts_with("CKV_K8S_43="));
            assert_eq!(
                has_digest_skip,
                placement.image.digest.is_none(),
                "{what}: checkov skip follows the image"
            );
            let pod = deployment.spec.unwrap().template.spec.unwrap();
            for container in pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
            {
                assert_eq!(
                    container.image.as_deref(),
                    Some(placement.image.reference().as_str()),
                    "{what} {}",
                    container.name
                );
            }
            let server = pod
                .containers
                .iter()
                .find(|c| c.name == "postgres" || c.name == "redis")
                .unwrap_or_else(|| panic!("{what}: no server container"));
            let resources = server.resources.clone().unwrap();
            assert_eq!(
                resources.limits.unwrap()["memory"].0,
                placement.resources.limits.memory.as_str(),
                "{what}"
            );
            assert_eq!(
                resources.requests.unwrap()["cpu"].0,
                placement.resources.requests.cpu.as_str(),
                "{what}"
            );
        }
    }
}

#[test]
fn overlays_give_every_workload_its_resolved_placement() {
    for config in [
        "bakery.toml",
        "tests/fixtures/many-databases/bakery.toml",
        "tests/fixtures/three-environments/bakery.toml",
        "tests/fixtures/one-database/bakery.toml",
    ] {
        assert!(Path::new(config).is_file());
        check_fixture(config);
    }
}

/// Each environment's objects as kustomize makes them, by kind and name.
fn kustomized(source: &str, environment: &str) -> std::collections::BTreeMap<String, Value> {
    let dir = tempfile::tempdir().unwrap();
    let files = common::tree(source);
    bakeryc::output::write_tree(dir.path(), &files).unwrap();
    common::kustomize(&dir.path().join("overlays").join(environment))
        .into_iter()
        .map(|o| (format!("{}/{}", o["kind"], o["metadata"]["name"]), o))
        .collect()
}

/// `source` with `[environments.E.backup]` merged into `[backup]` (its keys replace the base's)
/// and removed; and the keys of `[backup]` it replaced.
fn merged(source: &str, environment: &str) -> (String, toml::Table) {
    let mut document: toml::Table = source.parse().unwrap();
    let own = document["environments"][environment]
        .as_table_mut()
        .unwrap()
        .remove("backup")
        .expect("the environment has its own backup policy");
    let backup = document["backup"].as_table_mut().unwrap();
    let mut replaced = toml::Table::new();
    for (key, value) in own.as_table().unwrap() {
        if let Some(old) = backup.insert(key.clone(), value.clone()) {
            replaced.insert(key.clone(), old);
        }
    }
    (toml::to_string(&document).unwrap(), replaced)
}

/// An environment's backup policy is what a base of that policy makes: the overlay's patches,
/// deletions and additions (`backup.yaml`) give every object of the environment, kustomized,
/// exactly as a build that declares the environment's policy in `[backup]` itself; in both
/// directions (volume to S3, and S3 to volume), so that a repository removed and one added are
/// both shown.
#[test]
fn an_environments_backup_policy_is_what_a_base_of_that_policy_makes() {
    for config in ["bakery.toml", "tests/fixtures/backup-volume/bakery.toml"] {
        let source = std::fs::read_to_string(common::repo(config)).unwrap();
        let environment = "prod";
        let (as_base, replaced) = merged(&source, environment);
        // The same policies the other way round: the environment's as the base, the base's as
        // the environment's.
        let mut swapped: toml::Table = as_base.parse().unwrap();
        swapped["environments"][environment]
            .as_table_mut()
            .unwrap()
            .insert("backup".to_owned(), toml::Value::Table(replaced));
        let swapped = toml::to_string(&swapped).unwrap();
        let (swapped_as_base, _) = merged(&swapped, environment);
        for (what, with_overlay, with_base) in [
            ("as declared", &source, &as_base),
            ("swapped", &swapped, &swapped_as_base),
        ] {
            let (overlaid, based) = (
                kustomized(with_overlay, environment),
                kustomized(with_base, environment),
            );
            assert_eq!(
                overlaid.keys().collect::<Vec<_>>(),
                based.keys().collect::<Vec<_>>(),
                "{config} {what}: the objects differ"
            );
            for (id, object) in &overlaid {
                assert!(*object == based[id], "{config} {what}: {id} differs");
            }
        }
        assert_ne!(
            kustomized(&source, environment).keys().collect::<Vec<_>>(),
            kustomized(&swapped, environment).keys().collect::<Vec<_>>(),
            "{config}: the two policies make the same objects"
        );
    }
}
