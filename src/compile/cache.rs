//! The objects of the Redis cache: volume claim, Service, NetworkPolicy and a single-replica
//! Deployment running Redis on TLS only (`port 0`), with the password read from a config file
//! in the credentials Secret, never from an argument or an environment variable; a reloader
//! container makes Redis re-read its TLS Secret in place when the Secret changes.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, ContainerPort, Probe, TCPSocketAction, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, REDIS};
use super::pod::{Lifetime, Pod};
use super::{Object, client, network, pod, storage};
use crate::model::{Cache, PASSWORD_KEY, Platform, REDIS_AUTH_CONF_KEY};

/// Any uid works for Redis; one above 10000 cannot collide with a host user.
pub const REDIS_UID: i64 = 10001;
/// The Redis server container; overlays patch it by this name.
pub const SERVER_CONTAINER: &str = "redis";
const TLS_DIR: &str = "/tls";
const CREDENTIALS_DIR: &str = "/run/secrets/redis";
const SOCKET: &str = "/run/redis/redis.sock";

/// The reloader's command: after [`pod::TLS_FILES_CHECK`] on the TLS directory `$1`, sets the
/// three TLS paths to the values they already have, over the unix socket `$3` with the password
/// in file `$2`. Redis 7.0.1+ re-reads the files on such a `CONFIG SET`, keeps open connections,
/// and refuses (keeping its previous certificate) when they do not load; that refusal is the
/// failure reported.
pub const RELOAD_SCRIPT: &str = "\
reply=$(REDISCLI_AUTH=\"$(cat \"$2\")\" redis-cli -s \"$3\" CONFIG SET \\
  tls-cert-file \"$1/tls.crt\" tls-key-file \"$1/tls.key\" tls-ca-cert-file \"$1/ca.crt\" 2>&1) || true
if [ \"$reply\" != OK ]; then
  echo \"bakeryc-reload: Redis refused the files in $1: $reply\" >&2
  exit 1
fi
echo \"bakeryc-reload: Redis re-read the files in $1\"
";

pub fn objects(platform: &Platform, cache: &Cache) -> Vec<Object> {
    let names = cache.names();
    vec![
        Object::ConfigMap(client::cache_config_map(platform, REDIS, cache)),
        Object::PersistentVolumeClaim(storage::volume_claim(
            platform,
            REDIS,
            &names,
            &cache.placement,
        )),
        Object::Service(network::service(platform, REDIS, &names, 6379)),
        Object::NetworkPolicy(network::network_policy(platform, REDIS, &names, 6379)),
        Object::Deployment(Box::new(deployment(platform, cache))),
    ]
}

/// `redis-server` arguments: TLS on 6379, no plaintext listener, a local socket for probes.
pub fn redis_args(platform: &Platform, cache: &Cache) -> Vec<String> {
    [
        ("--port", "0"),
        ("--tls-port", "6379"),
        ("--tls-cert-file", &format!("{TLS_DIR}/tls.crt")),
        ("--tls-key-file", &format!("{TLS_DIR}/tls.key")),
        ("--tls-ca-cert-file", &format!("{TLS_DIR}/ca.crt")),
        ("--tls-auth-clients", cache.client_auth.redis_value()),
        (
            "--tls-protocols",
            platform.tls.min_version.redis_protocols(),
        ),
        ("--tls-prefer-server-ciphers", "yes"),
        ("--unixsocket", SOCKET),
        ("--unixsocketperm", "700"),
        ("--dir", "/data"),
        ("--appendonly", "yes"),
        (
            "--include",
            &format!("{CREDENTIALS_DIR}/{REDIS_AUTH_CONF_KEY}"),
        ),
    ]
    .iter()
    .flat_map(|(key, value)| [(*key).to_owned(), (*value).to_owned()])
    .collect()
}

fn deployment(platform: &Platform, cache: &Cache) -> Deployment {
    let names = cache.names();
    let mut metadata = meta::object_meta(platform, REDIS, &names.workload, &names.workload);
    metadata.annotations = meta::checkov_skips(&cache.placement.image, false);
    let template = pod::harden(Pod {
        uid: REDIS_UID,
        lifetime: Lifetime::Server,
        metadata: ObjectMeta {
            labels: Some(meta::pod_labels(platform, REDIS, &names.workload)),
            ..Default::default()
        },
        init_containers: vec![pod::secrets_present_container(
            platform,
            cache.placement.image.reference(),
            ["tls.crt", "tls.key", "ca.crt"]
                .map(|f| format!("{TLS_DIR}/{f}"))
                .into_iter()
                .chain([
                    format!("{CREDENTIALS_DIR}/{REDIS_AUTH_CONF_KEY}"),
                    format!("{CREDENTIALS_DIR}/{PASSWORD_KEY}"),
                ]),
            vec![
                pod::mount("credentials", CREDENTIALS_DIR, true),
                pod::mount("tls", TLS_DIR, true),
            ],
        )],
        containers: vec![redis_container(platform, cache), reloader_container(cache)],
        volumes: volumes(cache),
        termination_grace_period_seconds: None,
    });
    pod::singleton_deployment(metadata, meta::selector(REDIS, &names.workload), template)
}

fn redis_container(platform: &Platform, cache: &Cache) -> Container {
    let ping = format!(
        "REDISCLI_AUTH=\"$(cat {CREDENTIALS_DIR}/{PASSWORD_KEY})\" redis-cli -s {SOCKET} ping | grep -qx PONG"
    );
    Container {
        name: SERVER_CONTAINER.into(),
        image: Some(cache.placement.image.reference()),
        command: Some(vec!["redis-server".into()]),
        args: Some(redis_args(platform, cache)),
        ports: Some(vec![ContainerPort {
            name: Some("redis".into()),
            container_port: 6379,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        readiness_probe: Some(pod::exec_probe(&["sh", "-c", &ping], 5, 10)),
        liveness_probe: Some(Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::String("redis".into()),
                ..Default::default()
            }),
            initial_delay_seconds: Some(15),
            period_seconds: Some(20),
            timeout_seconds: Some(5),
            failure_threshold: Some(6),
            ..Default::default()
        }),
        resources: Some(pod::resources(&cache.placement.resources)),
        volume_mounts: Some(vec![
            pod::mount("credentials", CREDENTIALS_DIR, true),
            pod::mount("data", "/data", false),
            pod::mount("run", "/run/redis", false),
            pod::mount("tls", TLS_DIR, true),
        ]),
        ..Default::default()
    }
}

/// Makes Redis re-read the TLS Secret in place when it changes ([`RELOAD_SCRIPT`]).
fn reloader_container(cache: &Cache) -> Container {
    let command = [
        "sh",
        "-euc",
        &format!("{}{RELOAD_SCRIPT}", pod::TLS_FILES_CHECK),
        "redis-reload",
        TLS_DIR,
        &format!("{CREDENTIALS_DIR}/{PASSWORD_KEY}"),
        SOCKET,
    ]
    .map(str::to_owned)
    .to_vec();
    pod::reloader_container(
        cache.placement.image.reference(),
        &[("tls", TLS_DIR)],
        vec![
            pod::mount("credentials", CREDENTIALS_DIR, true),
            pod::mount("run", "/run/redis", false),
        ],
        command,
    )
}

fn volumes(cache: &Cache) -> Vec<Volume> {
    let names = cache.names();
    vec![
        pod::secret_volume("credentials", &names.credentials_secret),
        pod::claim_volume("data", &names.volume_claim),
        pod::reloader_volume(),
        pod::empty_dir_volume("run", false),
        pod::secret_volume("tls", &names.tls_secret),
    ]
}
