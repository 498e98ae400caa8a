//! Pieces every pod bakeryc makes shares: the restricted security contexts, resources, and the
//! volume and probe building blocks. Keeping them here makes "every pod is restricted" true by
//! construction rather than by repetition.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, EmptyDirVolumeSource, ExecAction, PodSecurityContext, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::model::Resources;

/// Mode of mounted Secret files: readable by the owner (root) and the pod's fsGroup only.
/// Written in decimal: 0o440 is 288, and YAML readers disagree on octal.
pub const SECRET_MODE: i32 = 0o440;

/// The pod-level half of the restricted Pod Security Standard.
pub fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The container-level half: no privileges, no capabilities, nothing writable but mounts.
pub fn container_security(uid: i64) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..Default::default()
    }
}

pub fn resources(resources: &Resources) -> ResourceRequirements {
    let pair = |cpu: &crate::model::Quantity, memory: &crate::model::Quantity| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_string())),
            ("memory".to_owned(), Quantity(memory.to_string())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(&resources.requests.cpu, &resources.requests.memory)),
        limits: Some(pair(&resources.limits.cpu, &resources.limits.memory)),
        ..Default::default()
    }
}

/// Small fixed resources for helper containers (copying a few files).
pub fn helper_resources() -> ResourceRequirements {
    let pair = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair("10m", "16Mi")),
        limits: Some(pair("100m", "32Mi")),
        ..Default::default()
    }
}

/// A Secret created outside generated/ (by `bakeryc secrets generate`). It is mounted as optional
/// so that the manifests stand alone; the pod's first container then refuses to go on without it
/// (see [`REQUIRE_FILES_SCRIPT`]) and names what is missing, and the server could not start
/// without its certificate anyway.
pub fn secret_volume(name: &str, secret: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(SECRET_MODE),
            optional: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Fails with a message naming every missing file (arguments) and how to create it.
pub const REQUIRE_FILES_SCRIPT: &str = "\
missing=0
for file in \"$@\"; do
  if [ ! -s \"$file\" ]; then
    echo \"bakeryc: $file is missing: its Secret does not exist yet.\" >&2
    missing=1
  fi
done
if [ \"$missing\" = 1 ]; then
  echo \"Create the Secrets: bakeryc secrets generate --env ENV && kubectl apply -k secrets/ENV\" >&2
  exit 1
fi
";

/// A scratch directory; `memory` keeps it off the node's disk (for key material).
pub fn empty_dir_volume(name: &str, memory: bool) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: memory.then(|| "Memory".to_owned()),
            size_limit: Some(Quantity(if memory { "1Mi" } else { "64Mi" }.to_owned())),
        }),
        ..Default::default()
    }
}

pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

pub fn exec_probe(command: &[&str], initial_delay: i32, period: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(command.iter().map(|s| (*s).to_owned()).collect()),
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(6),
        ..Default::default()
    }
}
