//! The one pod hardening every pod-bearing kind goes through ([`harden`]: restricted security
//! contexts, seccomp, no service account token, resources, probes, pull policy), the single-replica
//! Deployment around it, and the volume and probe building blocks. Callers say what varies (uid,
//! containers, volumes); they never set a security field themselves, so "every pod is restricted"
//! is true by construction rather than by repetition.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, ExecAction, KeyToPath,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::model::{Client, Platform, Resources, SecretsProvider};

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

/// Where a server's containers find what a declared client gives it (`<dir>/<client>/<key>`):
/// its password for PostgreSQL, its ACL user line for Redis.
pub const CLIENTS_DIR: &str = "/run/secrets/clients";

/// The mount of a client's [`client_volume`], read-only, at `CLIENTS_DIR/<client>`.
pub fn client_mount(client: &Client) -> VolumeMount {
    mount(
        &format!("client-{}", client.name),
        &format!("{CLIENTS_DIR}/{}", client.name),
        true,
    )
}

/// The volume of one key of a client's `<client>-credentials` Secret: a server mounts only what
/// it reads, never the client's URLs.
pub fn client_volume(client: &Client, key: &str) -> Volume {
    let mut volume = secret_volume(
        &format!("client-{}", client.name),
        &client.names().credentials_secret,
    );
    if let Some(secret) = volume.secret.as_mut() {
        secret.items = Some(vec![KeyToPath {
            key: key.to_owned(),
            path: key.to_owned(),
            ..Default::default()
        }]);
    }
    volume
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

/// Fails with a message naming every missing file (arguments after the first) and, from the
/// first argument, who makes them and how to check on it.
pub const REQUIRE_FILES_SCRIPT: &str = "\
hint=$1
shift
missing=0
for file in \"$@\"; do
  if [ ! -s \"$file\" ]; then
    echo \"bakeryc: $file is missing: its Secret does not exist yet.\" >&2
    missing=1
  fi
done
if [ \"$missing\" = 1 ]; then
  echo \"$hint\" >&2
  exit 1
fi
";

/// Refuses to start the pod, naming what is missing, until its Secrets exist: the Secret volumes
/// are optional, and the server must never start without its certificate or its password.
pub fn secrets_present_container(
    platform: &Platform,
    image: String,
    files: impl IntoIterator<Item = String>,
    volume_mounts: Vec<VolumeMount>,
) -> Container {
    Container {
        name: "secrets-present".into(),
        image: Some(image),
        command: Some(
            ["sh", "-euc", REQUIRE_FILES_SCRIPT, "secrets-present"]
                .into_iter()
                .map(str::to_owned)
                .chain([missing_secrets_hint(platform)])
                .chain(files)
                .collect(),
        ),
        volume_mounts: Some(volume_mounts),
        ..Default::default()
    }
}

/// Who makes a pod's Secrets, and where to look when they are missing: the advice differs by
/// provider, and telling an operator-run cluster to apply files by hand would be wrong.
fn missing_secrets_hint(platform: &Platform) -> String {
    const BY_HAND: &str = "bakeryc secrets generate --env ENV && kubectl apply -k secrets/ENV";
    let namespace = platform.namespace.as_str();
    let cert_manager = platform.tls.cert_manager();
    let external_secrets = platform.secrets != SecretsProvider::Bakeryc;
    match (cert_manager, external_secrets) {
        (false, false) => format!("Create the Secrets: {BY_HAND}"),
        (true, false) => format!(
            "cert-manager makes the TLS Secret (kubectl -n {namespace} describe certificate); create the credentials: {BY_HAND}"
        ),
        (false, true) => format!(
            "External Secrets makes the credentials (kubectl -n {namespace} describe externalsecret); create the TLS Secret: {BY_HAND}"
        ),
        (true, true) => format!(
            "cert-manager and External Secrets make these Secrets in the cluster: kubectl -n {namespace} describe certificate,externalsecret"
        ),
    }
}

/// The reloader container's name; overlays patch its image by this name like the server's.
pub const RELOADER_CONTAINER: &str = "reloader";
/// Seconds between two looks at the watched files. The kubelet itself takes up to a minute or so
/// to project a changed Secret, so a short poll adds little; it is an argument of the compiled
/// command (see [`WATCH_SCRIPT`]), not a constant of the script.
pub const RELOAD_INTERVAL_SECONDS: u32 = 10;
/// The reloader's own scratch volume (its heartbeat file), in memory.
const RELOADER_VOLUME: &str = "reloader";
const RELOADER_DIR: &str = "/run/reloader";

/// Watches directories of mounted files and runs a command when their contents change, so a
/// server re-reads renewed files in place. Arguments: `$1` the poll interval in seconds, `$2` a
/// heartbeat file (touched every round; the probes read its age), then the directories, `--`,
/// and the command with its arguments. It knows nothing of TLS or of who wrote the files
/// (bakeryc secrets, cert-manager, a ConfigMap edit): it compares a checksum of the directories'
/// visible files, which the kubelet replaces all at once by swapping its `..data` symlink. Mounts
/// must not use `subPath` (the kubelet never updates those). Busybox sh and coreutils only: no
/// inotify tools in the images. A failed command is logged and not retried until the files
/// change again (a broken Secret must not make the server log a failure every round).
pub const WATCH_SCRIPT: &str = "\
interval=$1
heartbeat=$2
shift 2
dirs=
while [ \"$#\" -gt 0 ] && [ \"$1\" != -- ]; do
  dirs=\"$dirs $1\"
  shift
done
if [ \"$#\" -lt 2 ] || [ -z \"$dirs\" ]; then
  echo \"bakeryc-reload: usage: INTERVAL HEARTBEAT DIR... -- COMMAND [ARG...]\" >&2
  exit 2
fi
shift
fingerprint() {
  for dir in $dirs; do
    cat \"$dir\"/* 2>/dev/null || true
  done | cksum
}
seen=$(fingerprint)
echo \"bakeryc-reload: watching$dirs every ${interval}s\"
while :; do
  touch \"$heartbeat\"
  sleep \"$interval\"
  now=$(fingerprint)
  if [ \"$now\" = \"$seen\" ]; then
    continue
  fi
  seen=$now
  echo \"bakeryc-reload: the files in$dirs changed; reloading\"
  if \"$@\"; then
    echo \"bakeryc-reload: reload command succeeded\"
  else
    echo \"bakeryc-reload: reload FAILED (exit $?); the server keeps its previous files until they change again\" >&2
  fi
done
";

/// Refuses (exit 1, naming the file) a TLS directory `$1` whose `tls.crt`, `ca.crt` or `tls.key`
/// is not complete PEM of the right kind (a truncated or half-written file), before a server is
/// asked to load it. Reload commands start with
/// it; the server's own load is still the final check.
pub const TLS_FILES_CHECK: &str = "\
for file in \"$1/tls.crt\" \"$1/ca.crt\"; do
  if ! grep -q -e '^-----BEGIN CERTIFICATE-----' \"$file\" || ! grep -q -e '^-----END CERTIFICATE-----' \"$file\"; then
    echo \"bakeryc-reload: $file holds no complete PEM certificate; not reloading\" >&2
    exit 1
  fi
done
if ! grep -q -e '^-----BEGIN [A-Z ]*PRIVATE KEY-----' \"$1/tls.key\" || ! grep -q -e '^-----END [A-Z ]*PRIVATE KEY-----' \"$1/tls.key\"; then
  echo \"bakeryc-reload: $1/tls.key holds no complete PEM private key; not reloading\" >&2
  exit 1
fi
";

/// A reloader container for a server pod: runs [`WATCH_SCRIPT`] over the `watched` mounts
/// (volume, path) and runs `command` on change. `mounts` are what `command` needs besides the
/// watched ones (the server's socket, a password). Its probes read the heartbeat's age, so a
/// stuck loop is restarted; it is hardened with the rest of the pod by [`harden`].
pub fn reloader_container(
    image: String,
    watched: &[(&str, &str)],
    mounts: Vec<VolumeMount>,
    command: Vec<String>,
) -> Container {
    let heartbeat = format!("{RELOADER_DIR}/heartbeat");
    let argv: Vec<String> = ["sh", "-euc", WATCH_SCRIPT, "reloader"]
        .into_iter()
        .map(str::to_owned)
        .chain([RELOAD_INTERVAL_SECONDS.to_string(), heartbeat.clone()])
        .chain(watched.iter().map(|(_, path)| (*path).to_owned()))
        .chain(["--".to_owned()])
        .chain(command)
        .collect();
    // Alive while the loop came round recently: one interval plus a slow reload command.
    let fresh = format!(
        "test \"$(( $(date +%s) - $(stat -c %Y {heartbeat}) ))\" -lt {}",
        RELOAD_INTERVAL_SECONDS + 60
    );
    let probe = exec_probe(&["sh", "-c", &fresh], 5, 20);
    let mut volume_mounts: Vec<VolumeMount> = watched
        .iter()
        .map(|(volume, path)| mount(volume, path, true))
        .chain(mounts)
        .chain([mount(RELOADER_VOLUME, RELOADER_DIR, false)])
        .collect();
    volume_mounts.sort_by(|a, b| a.name.cmp(&b.name));
    Container {
        name: RELOADER_CONTAINER.into(),
        image: Some(image),
        command: Some(argv),
        readiness_probe: Some(probe.clone()),
        liveness_probe: Some(probe),
        volume_mounts: Some(volume_mounts),
        ..Default::default()
    }
}

/// The volume [`reloader_container`] keeps its heartbeat in.
pub fn reloader_volume() -> Volume {
    empty_dir_volume(RELOADER_VOLUME, true)
}

/// The server's data volume on its claim.
pub fn claim_volume(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

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

    #[test]
    fn a_missing_secret_names_who_makes_it_in_every_provider_mix() {
        let hint = |source: &str| {
            let platform = crate::check(source).platform.expect("the fixture is valid");
            missing_secrets_hint(&platform)
        };
        let by_hand = "bakeryc secrets generate --env ENV && kubectl apply -k secrets/ENV";
        let bakeryc = hint(include_str!(
            "../../tests/fixtures/one-database/bakery.toml"
        ));
        assert_eq!(bakeryc, format!("Create the Secrets: {by_hand}"));
        let cert_manager = hint(include_str!(
            "../../tests/fixtures/cert-manager/bakery.toml"
        ));
        assert!(cert_manager.contains("describe certificate") && cert_manager.contains(by_hand));
        let source = include_str!("../../tests/fixtures/external-secrets-generator/bakery.toml");
        let external = hint(source);
        assert!(external.contains("describe externalsecret") && external.contains(by_hand));
        let both = hint(&format!("{source}\n[tls]\nprovider = \"cert-manager\"\n"));
        assert!(
            both.contains("describe certificate,externalsecret"),
            "{both}"
        );
        assert!(!both.contains("kubectl apply -k"), "{both}");
    }
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
    fn the_reloader_watches_read_only_mounts_and_its_probes_read_its_heartbeat() {
        let reloader = reloader_container(
            "postgres:17-alpine".into(),
            &[("tls", "/tls")],
            vec![mount("run", "/run/server", false)],
            vec!["true".into()],
        );
        let command = reloader.command.clone().unwrap();
        assert_eq!(command[..4], ["sh", "-euc", WATCH_SCRIPT, "reloader"]);
        assert_eq!(command[4], RELOAD_INTERVAL_SECONDS.to_string());
        assert_eq!(
            command[5..],
            ["/run/reloader/heartbeat", "/tls", "--", "true"]
        );
        let mounts = reloader.volume_mounts.clone().unwrap();
        let tls = mounts.iter().find(|m| m.name == "tls").unwrap();
        assert_eq!(
            (tls.mount_path.as_str(), tls.read_only),
            ("/tls", Some(true))
        );
        assert!(tls.sub_path.is_none(), "a subPath mount is never updated");
        let probe = reloader.liveness_probe.clone().unwrap().exec.unwrap();
        assert!(probe.command.unwrap()[2].contains("/run/reloader/heartbeat"));
        assert_eq!(reloader.readiness_probe, reloader.liveness_probe);
        let mut pod = task(70);
        pod.lifetime = Lifetime::Server;
        pod.init_containers.clear();
        pod.containers = vec![reloader];
        let spec = harden(pod).spec.unwrap();
        assert_eq!(
            spec.containers[0].security_context,
            Some(container_security(70))
        );
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
