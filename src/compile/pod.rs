//! The one pod hardening every pod-bearing kind goes through ([`harden`]: restricted security
//! contexts, seccomp, no service account token, resources, probes, pull policy), the single-replica
//! Deployment around it, and the volume and probe building blocks. Callers say what varies (uid,
//! containers, volumes); they never set a security field themselves, so "every pod is restricted"
//! is true by construction rather than by repetition.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, ExecAction, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::model::Resources;

/// How long a pod's containers run: what the hardening can require of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// A server (Deployment): restarted forever, so its containers need readiness and liveness
    /// probes.
    Server,
    /// A task (Job, CronJob): runs to completion, retried by its controller, never restarted in
    /// place; probes would only kill a long task.
    Task,
}

/// What varies between the pods bakeryc makes. Containers come without security contexts or pull
/// policy (the hardening sets them); a container without resources gets the helper's.
#[derive(Clone, Debug)]
pub struct Pod {
    pub uid: i64,
    pub lifetime: Lifetime,
    pub metadata: ObjectMeta,
    pub init_containers: Vec<Container>,
    pub containers: Vec<Container>,
    pub volumes: Vec<Volume>,
    pub termination_grace_period_seconds: Option<i64>,
}

/// The hardened pod template: restricted Pod Security Standard at pod and container level
/// (non-root `uid`, no privilege escalation, all capabilities dropped, read-only root, seccomp
/// `RuntimeDefault`), no service account token and no service links, images pulled every time,
/// resources on every container. Whatever security the caller wrote on a container is replaced.
pub fn harden(pod: Pod) -> PodTemplateSpec {
    let uid = pod.uid;
    let harden_container = |mut container: Container| {
        container.security_context = Some(container_security(uid));
        container.image_pull_policy = Some("Always".into());
        container.resources.get_or_insert_with(helper_resources);
        container
    };
    let containers: Vec<Container> = pod.containers.into_iter().map(harden_container).collect();
    if pod.lifetime == Lifetime::Server {
        for container in &containers {
            debug_assert!(
                container.readiness_probe.is_some() && container.liveness_probe.is_some(),
                "server container {} has no probes",
                container.name
            );
        }
    }
    let init_containers: Vec<Container> = pod
        .init_containers
        .into_iter()
        .map(harden_container)
        .collect();
    PodTemplateSpec {
        metadata: Some(pod.metadata),
        spec: Some(PodSpec {
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(pod_security(uid)),
            termination_grace_period_seconds: pod.termination_grace_period_seconds,
            restart_policy: (pod.lifetime == Lifetime::Task).then(|| "OnFailure".to_owned()),
            init_containers: (!init_containers.is_empty()).then_some(init_containers),
            containers,
            volumes: (!pod.volumes.is_empty()).then_some(pod.volumes),
            ..Default::default()
        }),
    }
}

/// A Deployment of exactly one pod that is stopped before its replacement starts (`Recreate`):
/// the workload owns a ReadWriteOnce volume, and two servers must never share its data.
pub fn singleton_deployment(
    metadata: ObjectMeta,
    selector: BTreeMap<String, String>,
    template: PodTemplateSpec,
) -> Deployment {
    Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            revision_history_limit: Some(3),
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..Default::default()
            }),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..Default::default()
            },
            template,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Mode of mounted Secret files: readable by the owner (root) and the pod's fsGroup only.
/// Written in decimal: 0o440 is 288, and YAML readers disagree on octal.
pub const SECRET_MODE: i32 = 0o440;

/// The pod-level half of the restricted Pod Security Standard.
fn pod_security(uid: i64) -> PodSecurityContext {
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
fn container_security(uid: i64) -> SecurityContext {
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
fn helper_resources() -> ResourceRequirements {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A container written as carelessly as possible: root, privileged, no resources.
    fn careless(name: &str) -> Container {
        Container {
            name: name.to_owned(),
            image: Some("postgres:17-alpine".into()),
            image_pull_policy: Some("IfNotPresent".into()),
            security_context: Some(SecurityContext {
                privileged: Some(true),
                run_as_user: Some(0),
                allow_privilege_escalation: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn task(uid: i64) -> Pod {
        Pod {
            uid,
            lifetime: Lifetime::Task,
            metadata: ObjectMeta::default(),
            init_containers: vec![careless("init")],
            containers: vec![careless("main")],
            volumes: Vec::new(),
            termination_grace_period_seconds: None,
        }
    }

    #[test]
    fn harden_makes_any_pod_restricted_whatever_the_caller_wrote() {
        let spec = harden(task(1234)).spec.unwrap();
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(spec.enable_service_links, Some(false));
        assert_eq!(spec.security_context, Some(pod_security(1234)));
        let pod_security = spec.security_context.unwrap();
        assert_eq!(pod_security.run_as_non_root, Some(true));
        assert_eq!(
            pod_security.seccomp_profile.unwrap().type_,
            "RuntimeDefault"
        );
        let containers: Vec<&Container> = spec
            .init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .collect();
        assert_eq!(containers.len(), 2);
        for container in containers {
            let security = container.security_context.clone().unwrap();
            assert_eq!(security, container_security(1234), "{}", container.name);
            assert_eq!(security.privileged, Some(false));
            assert_eq!(security.allow_privilege_escalation, Some(false));
            assert_eq!(security.read_only_root_filesystem, Some(true));
            assert_eq!(security.capabilities.unwrap().drop.unwrap(), ["ALL"]);
            assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
            assert_eq!(container.resources, Some(helper_resources()));
        }
    }

    #[test]
    fn tasks_restart_on_failure_and_servers_keep_the_default() {
        let task_spec = harden(task(1234)).spec.unwrap();
        assert_eq!(task_spec.restart_policy.as_deref(), Some("OnFailure"));
        let mut server = task(1234);
        server.lifetime = Lifetime::Server;
        server.containers[0].readiness_probe = Some(exec_probe(&["true"], 1, 1));
        server.containers[0].liveness_probe = Some(exec_probe(&["true"], 1, 1));
        let server_spec = harden(server).spec.unwrap();
        assert_eq!(server_spec.restart_policy, None);
    }

    #[test]
    #[should_panic(expected = "has no probes")]
    #[cfg(debug_assertions)]
    fn a_server_container_without_probes_is_a_bug() {
        let mut server = task(1234);
        server.lifetime = Lifetime::Server;
        harden(server);
    }
}
