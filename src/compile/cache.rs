//! The objects of the Redis cache: volume claim, Service, NetworkPolicy and a single-replica
//! Deployment running Redis on TLS only (`port 0`), with the password read from a config file
//! in the credentials Secret, never from an argument or an environment variable. The settings
//! bakeryc varies that Redis can change at runtime (`tls-auth-clients`, `tls-protocols`) live in
//! the ConfigMap `<cache>-config` (`redis.conf`), read at start with `--include`; a reloader
//! container applies that file with `CONFIG SET`, and makes Redis re-read its TLS Secret, in place
//! when either changes. Settings Redis cannot change at runtime stay arguments (a restart).

use k8s_openapi::api::apps::v1::Deployment;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, KeyToPath, Probe, TCPSocketAction,
    Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, REDIS};
use super::pod::{CLIENTS_DIR, Lifetime, Pod};
use super::{Object, adopt, client, network, pod, storage};
use crate::model::{Cache, PASSWORD_KEY, Platform, REDIS_AUTH_CONF_KEY, REDIS_USER_CONF_KEY};

/// Any uid works for Redis; one above 10000 cannot collide with a host user.
pub const REDIS_UID: i64 = 10001;
/// The Redis server container; overlays patch it by this name.
pub const SERVER_CONTAINER: &str = "redis";
const TLS_DIR: &str = "/tls";
/// Where the data claim is mounted; Redis's `dir` is it or a directory inside it.
const DATA_DIR: &str = "/data";
const CREDENTIALS_DIR: &str = "/run/secrets/redis";
const SOCKET: &str = "/run/redis/redis.sock";
/// Where the `<cache>-config` ConfigMap is mounted (a whole directory: the kubelet never updates
/// a `subPath` mount, and the reloader watches the directory).
const CONFIG_DIR: &str = "/etc/redis";
/// The key (and file) of the runtime settings in `<cache>-config`.
pub const CONFIG_KEY: &str = "redis.conf";

/// Applies the runtime settings file `$4` to the running Redis: one `CONFIG SET` per line
/// (`name value`, the value optionally in double quotes, as bakeryc writes it), over the unix
/// socket `$3` with the password in file `$2`. It runs before the TLS check so that a broken TLS
/// Secret never holds back a settings change; a refused setting is logged and makes the whole
/// command fail at its end (`config_failed`), after the TLS files were re-read.
pub const CONFIG_SCRIPT: &str = "\
config_failed=0
while read -r name value || [ -n \"$name\" ]; do
  case $name in ''|'#'*) continue ;; esac
  value=${value#\\\"}
  value=${value%\\\"}
  reply=$(REDISCLI_AUTH=\"$(cat \"$2\")\" redis-cli -s \"$3\" CONFIG SET \"$name\" \"$value\" 2>&1) || true
  if [ \"$reply\" = OK ]; then
    echo \"bakeryc-reload: Redis applied $name $value\"
  else
    echo \"bakeryc-reload: Redis refused $name $value from $4: $reply\" >&2
    config_failed=1
  fi
done < \"$4\"
";

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
exit \"$config_failed\"
";

pub fn objects(platform: &Platform, cache: &Cache) -> Vec<Object> {
    let names = cache.names();
    let objects = vec![
        Object::ConfigMap(client::cache_config_map(platform, REDIS, cache)),
        Object::ConfigMap(config_map(platform, cache)),
        Object::PersistentVolumeClaim(storage::volume_claim(
            platform,
            REDIS,
            &names,
            &cache.placement,
        )),
        Object::Service(network::service(platform, REDIS, &names, 6379)),
        Object::NetworkPolicy(network::network_policy(
            platform,
            REDIS,
            &names,
            6379,
            (!platform.clients.is_empty()).then(|| platform.cache_clients().collect()),
        )),
        Object::Deployment(Box::new(deployment(platform, cache))),
    ];
    let record =
        (cache.adopt.as_ref()).map(|adoption| adopt::record("cache", &names, adoption, None));
    adopt::objects(objects, record)
}

/// The `<cache>-config` ConfigMap: the runtime settings of the base (an environment with other
/// client certificates patches its `redis.conf`, see [`redis_conf`]).
pub fn config_map(platform: &Platform, cache: &Cache) -> ConfigMap {
    let names = cache.names();
    ConfigMap {
        metadata: meta::object_meta(platform, REDIS, &config_map_name(cache), &names.workload),
        data: Some(BTreeMap::from([(
            CONFIG_KEY.to_owned(),
            redis_conf(platform, cache, platform.tls.client_certificates),
        )])),
        ..Default::default()
    }
}

/// `<cache>-config`.
pub fn config_map_name(cache: &Cache) -> String {
    format!("{}-config", cache.names().workload)
}

/// The settings bakeryc varies that Redis changes at runtime (`CONFIG SET`), as `redis.conf`
/// lines: a change of them reaches the running server through the reloader, not a restart.
pub fn redis_conf(platform: &Platform, cache: &Cache, client_certificates: bool) -> String {
    format!(
        "tls-auth-clients {}\ntls-protocols \"{}\"\n",
        cache.client_auth(client_certificates).redis_value(),
        platform.tls.min_version.redis_protocols()
    )
}

/// `redis-server` arguments: TLS on 6379, no plaintext listener, a local socket for probes, and
/// the runtime settings file. With `[[client]]`, each client of the cache is an ACL user read
/// from its own Secret, and the default user keeps only what the probe and the reloader need.
/// Everything here needs a restart to change; it is the same in every environment.
pub fn redis_args(platform: &Platform, cache: &Cache) -> Vec<String> {
    let mut args: Vec<String> = [
        ("--port", "0"),
        ("--tls-port", "6379"),
        ("--tls-cert-file", &format!("{TLS_DIR}/tls.crt")),
        ("--tls-key-file", &format!("{TLS_DIR}/tls.key")),
        ("--tls-ca-cert-file", &format!("{TLS_DIR}/ca.crt")),
        ("--tls-prefer-server-ciphers", "yes"),
        ("--unixsocket", SOCKET),
        ("--unixsocketperm", "700"),
        ("--dir", &cache.data_dir(DATA_DIR)),
        ("--appendonly", "yes"),
        ("--include", &format!("{CONFIG_DIR}/{CONFIG_KEY}")),
        (
            "--include",
            &format!("{CREDENTIALS_DIR}/{REDIS_AUTH_CONF_KEY}"),
        ),
    ]
    .iter()
    .flat_map(|(key, value)| [(*key).to_owned(), (*value).to_owned()])
    .collect();
    if !platform.clients.is_empty() {
        for client in platform.cache_clients() {
            args.extend([
                "--include".to_owned(),
                format!("{CLIENTS_DIR}/{}/{REDIS_USER_CONF_KEY}", client.name),
            ]);
        }
    }
    args
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
                ])
                .chain(
                    platform
                        .cache_clients()
                        .map(|c| format!("{CLIENTS_DIR}/{}/{REDIS_USER_CONF_KEY}", c.name)),
                ),
            vec![
                pod::mount("credentials", CREDENTIALS_DIR, true),
                pod::mount("tls", TLS_DIR, true),
            ]
            .into_iter()
            .chain(platform.cache_clients().map(pod::client_mount))
            .collect(),
        )],
        containers: vec![redis_container(platform, cache), reloader_container(cache)],
        volumes: volumes(cache)
            .into_iter()
            .chain(
                platform
                    .cache_clients()
                    .map(|c| pod::client_volume(c, REDIS_USER_CONF_KEY)),
            )
            .collect(),
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
        volume_mounts: Some(
            vec![
                pod::mount("config", CONFIG_DIR, true),
                pod::mount("credentials", CREDENTIALS_DIR, true),
                pod::mount("data", DATA_DIR, false),
                pod::mount("run", "/run/redis", false),
                pod::mount("tls", TLS_DIR, true),
            ]
            .into_iter()
            .chain(platform.cache_clients().map(pod::client_mount))
            .collect(),
        ),
        ..Default::default()
    }
}

/// Applies the runtime settings ([`CONFIG_SCRIPT`]) and makes Redis re-read the TLS Secret
/// ([`RELOAD_SCRIPT`]) in place when either mounted directory changes.
fn reloader_container(cache: &Cache) -> Container {
    let command = [
        "sh",
        "-euc",
        &format!("{CONFIG_SCRIPT}{}{RELOAD_SCRIPT}", pod::TLS_FILES_CHECK),
        "redis-reload",
        TLS_DIR,
        &format!("{CREDENTIALS_DIR}/{PASSWORD_KEY}"),
        SOCKET,
        &format!("{CONFIG_DIR}/{CONFIG_KEY}"),
    ]
    .map(str::to_owned)
    .to_vec();
    pod::reloader_container(
        cache.placement.image.reference(),
        &[("config", CONFIG_DIR), ("tls", TLS_DIR)],
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
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name(cache),
                items: Some(vec![KeyToPath {
                    key: CONFIG_KEY.to_owned(),
                    path: CONFIG_KEY.to_owned(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        },
        pod::secret_volume("credentials", &names.credentials_secret),
        pod::claim_volume("data", &names.volume_claim),
        pod::reloader_volume(),
        pod::empty_dir_volume("run", false),
        pod::secret_volume("tls", &names.tls_secret),
    ]
}
