//! What adoption changes in a workload's objects: the adopted claim is left out of the tree
//! (mounted by name only, so no apply, prune or resize can reach it), everything bakeryc writes
//! for the adopted workload carries Argo CD's `Prune=false,Delete=false`, so neither removing it
//! from Git nor deleting the Application deletes what the running service needs, and the
//! Deployment records what it adopted (`adopt.bakeryc.dev/*` annotations) so that a later build
//! can refuse to change it (plan reads them from the deployed tree). Names come from the model
//! (`Adoption::rename`); this file never invents one.

use std::collections::BTreeMap;

use super::Object;
use crate::model::{Adoption, WorkloadNames};

/// Argo CD's per-object sync options: `Prune=false` keeps the object when it leaves Git,
/// `Delete=false` keeps it when the Application is deleted.
pub const SYNC_OPTIONS: (&str, &str) = (
    "argocd.argoproj.io/sync-options",
    "Prune=false,Delete=false",
);

/// The prefix of the annotations an adopted Deployment carries: `declared` (`database auth`,
/// `cache redis`), `claim`, `data-path`, `service`, and for a database `database` and `role`.
/// On the Deployment's own metadata, not its pod template: writing them restarts nothing.
pub const ANNOTATION_PREFIX: &str = "adopt.bakeryc.dev/";

/// What an adopted workload took over, as the annotations of its Deployment. `section` is
/// `database` or `cache`; `pg` the database and role names (a database only).
pub fn record(
    section: &str,
    names: &WorkloadNames,
    adoption: &Adoption,
    pg: Option<(String, String)>,
) -> BTreeMap<String, String> {
    let mut record = BTreeMap::from([
        ("declared", format!("{section} {}", names.declared)),
        ("claim", adoption.claim.to_string()),
        ("data-path", adoption.data_path.to_string()),
        ("service", names.service.clone()),
    ]);
    if let Some((database, role)) = pg {
        record.insert("database", database);
        record.insert("role", role);
    }
    record
        .into_iter()
        .map(|(key, value)| (format!("{ANNOTATION_PREFIX}{key}"), value))
        .collect()
}

/// A workload's objects, adopted (`record` is [`record`]'s annotations) or not: without its
/// claim, and protected.
pub fn objects(objects: Vec<Object>, record: Option<BTreeMap<String, String>>) -> Vec<Object> {
    let Some(record) = record else {
        return objects;
    };
    objects
        .into_iter()
        .filter(|object| !matches!(object, Object::PersistentVolumeClaim(_)))
        .map(|mut object| {
            let is_workload = matches!(object, Object::Deployment(_));
            let annotations = object
                .metadata_mut()
                .annotations
                .get_or_insert_with(Default::default);
            annotations.insert(SYNC_OPTIONS.0.to_owned(), SYNC_OPTIONS.1.to_owned());
            if is_workload {
                annotations.extend(record.clone());
            }
            object
        })
        .collect()
}
