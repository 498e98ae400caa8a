//! What adoption changes in a workload's objects: the adopted claim is left out of the tree
//! (mounted by name only, so no apply, prune or resize can reach it), and everything bakeryc
//! writes for the adopted workload carries Argo CD's `Prune=false,Delete=false`, so neither
//! removing it from Git nor deleting the Application deletes what the running service needs.
//! Names come from the model (`Adoption::rename`); this file never invents one.

use super::Object;

/// Argo CD's per-object sync options: `Prune=false` keeps the object when it leaves Git,
/// `Delete=false` keeps it when the Application is deleted.
pub const SYNC_OPTIONS: (&str, &str) = (
    "argocd.argoproj.io/sync-options",
    "Prune=false,Delete=false",
);

/// A workload's objects, adopted (`adopted`) or not: without its claim, and protected.
pub fn objects(objects: Vec<Object>, adopted: bool) -> Vec<Object> {
    if !adopted {
        return objects;
    }
    objects
        .into_iter()
        .filter(|object| !matches!(object, Object::PersistentVolumeClaim(_)))
        .map(|mut object| {
            object
                .metadata_mut()
                .annotations
                .get_or_insert_with(Default::default)
                .insert(SYNC_OPTIONS.0.to_owned(), SYNC_OPTIONS.1.to_owned());
            object
        })
        .collect()
}
