//! The objects of the Redis cache: volume claim, Service, NetworkPolicy and a single-replica
//! Deployment running Redis on TLS only (`port 0`), with the password read from a config file
//! in the credentials Secret, never from an argument or an environment variable.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PersistentVolumeClaimVolumeSource, Probe, TCPSocketAction, Volume,
};
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
            labels: Some(meta::labels(platform, REDIS, &names.workload)),
            ..Default::default()
        },
        init_containers: vec![secrets_present_container(cache)],
        containers: vec![redis_container(platform, cache)],
        volumes: volumes(cache),
        termination_grace_period_seconds: None,
    });
    pod::singleton_deployment(metadata, meta::selector(REDIS, &names.workload), template)
}

/// Refuses to start the pod, naming what is missing, until `bakeryc secrets` made its Secrets.
fn secrets_present_container(cache: &Cache) -> Container {
    Container {
        name: "secrets-present".into(),
        image: Some(cache.placement.image.reference()),
        command: Some(
            ["sh", "-euc", pod::REQUIRE_FILES_SCRIPT, "secrets-present"]
                .into_iter()
                .map(str::to_owned)
                .chain(["tls.crt", "tls.key", "ca.crt"].map(|f| format!("{TLS_DIR}/{f}")))
                .chain([
                    format!("{CREDENTIALS_DIR}/{REDIS_AUTH_CONF_KEY}"),
                    format!("{CREDENTIALS_DIR}/{PASSWORD_KEY}"),
                ])
                .collect(),
        ),
        volume_mounts: Some(vec![
            pod::mount("credentials", CREDENTIALS_DIR, true),
            pod::mount("tls", TLS_DIR, true),
        ]),
        ..Default::default()
    }
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

fn volumes(cache: &Cache) -> Vec<Volume> {
    let names = cache.names();
    vec![
        pod::secret_volume("credentials", &names.credentials_secret),
        Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: names.volume_claim.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        pod::empty_dir_volume("run", false),
        pod::secret_volume("tls", &names.tls_secret),
    ]
}
