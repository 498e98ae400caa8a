//! The PersistentVolumeClaim that holds a workload's data. It is a separate object (not a
//! StatefulSet claim template) so that an overlay can resize it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::meta::{self, Kind};
use crate::model::{Placement, Platform, WorkloadNames};

pub fn volume_claim(
    platform: &Platform,
    kind: Kind,
    names: &WorkloadNames,
    placement: &Placement,
) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta::object_meta(platform, kind, &names.volume_claim, &names.workload),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: placement.storage_class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(placement.storage.to_string()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
