//! The objects of one PostgreSQL database: its ConfigMap (postgresql.conf, pg_hba.conf, reconcile
//! SQL), volume claim, Service, NetworkPolicy and single-replica Deployment (strategy Recreate, so
//! two servers never share one data directory), whose postgres container applies the reconcile SQL
//! at every start and reads the TLS Secret and its configuration as mounted, re-read in place by
//! the pod's reloader container when they change (no restart for a renewed certificate, a
//! pg_hba.conf edit or a setting PostgreSQL applies on reload).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, ExecAction, KeyToPath,
    Lifecycle, LifecycleHandler, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::config_files::{self, CONFIG_DIR, RECONCILE_SCRIPT, TLS_DIR};
use super::meta::{self, POSTGRES};
use super::pod::{CLIENTS_DIR, Lifetime, Pod};
use super::{Object, adopt, client, network, pod, storage};
use crate::config::catalogue;
use crate::model::{Database, PASSWORD_KEY, PgVersion, Platform};

/// uid and gid of `postgres` in the official alpine images; it owns the data directory.
pub const POSTGRES_UID: i64 = 70;
/// The PostgreSQL server container; overlays patch it by this name.
pub const SERVER_CONTAINER: &str = "postgres";
pub const PASSWORD_DIR: &str = "/run/secrets/postgres";
/// Where the data claim is mounted; PGDATA is a directory inside it.
const DATA_DIR: &str = "/var/lib/postgresql/data";
/// Where the official image's server puts its unix socket (an emptyDir, the root being read-only).
pub const SOCKET_DIR: &str = "/var/run/postgresql";

/// The reloader's command: after [`pod::TLS_FILES_CHECK`] on the TLS directory `$1`, asks the
/// server to re-read its configuration and TLS files (`SELECT pg_reload_conf()`, a SIGHUP) as the
/// bootstrap superuser `$4` (password file `$2`) over the unix socket in `$3`, in database `$5`,
/// as the postStart hook logs in. PostgreSQL 10+ reloads the SSL files on SIGHUP without
/// touching open connections, and keeps its previous certificate when the new files fail to load
/// (its log then says "SSL configuration was not reloaded"): that failure is the server's to
/// report, since nothing in the image can read the certificate a TLS handshake presents.
pub const RELOAD_SCRIPT: &str = "\
result=$(PGPASSWORD=\"$(cat \"$2\")\" PGCONNECT_TIMEOUT=10 psql --no-psqlrc --no-align --tuples-only \\
  --set=ON_ERROR_STOP=1 --host=\"$3\" --username=\"$4\" --dbname=\"$5\" --command='SELECT pg_reload_conf()')
if [ \"$result\" != t ]; then
  echo \"bakeryc-reload: pg_reload_conf() returned '$result'\" >&2
  exit 1
fi
echo \"bakeryc-reload: PostgreSQL asked to re-read $1 (pg_reload_conf); if its log now says 'SSL configuration was not reloaded', it kept its previous certificate\"
";

pub fn objects(platform: &Platform, db: &Database) -> Vec<Object> {
    let names = db.names();
    let objects = vec![
        Object::ConfigMap(config_map(platform, db)),
        Object::ConfigMap(client::database_config_map(platform, POSTGRES, db)),
        Object::PersistentVolumeClaim(storage::volume_claim(
            platform,
            POSTGRES,
            &names,
            &db.placement,
        )),
        Object::Service(network::service(platform, POSTGRES, &names, 5432)),
        Object::NetworkPolicy(network::network_policy(
            platform,
            POSTGRES,
            &names,
            5432,
            (!platform.clients.is_empty()).then(|| platform.clients_of(db).collect()),
        )),
        Object::Deployment(Box::new(deployment(platform, db))),
    ];
    let record = db.adopt.as_ref().map(|adoption| {
        adopt::record(
            "database",
            &names,
            adoption,
            Some((db.database_name(), db.role_name())),
        )
    });
    adopt::objects(objects, record)
}

/// The database's objects with its backups (`[backup]`) under the base's policy.
pub fn objects_with_backup(platform: &Platform, db: &Database) -> Vec<Object> {
    let mut objects = objects(platform, db);
    add_backup(platform, db, &mut objects);
    objects
}

/// Wires the base's backup policy into the database's `objects` (from [`objects`]) and adds its
/// backup objects.
pub fn add_backup(platform: &Platform, db: &Database, objects: &mut Vec<Object>) {
    if let Some(backup) = platform.backup_of(db) {
        for object in objects.iter_mut() {
            if let Object::Deployment(deployment) = object {
                super::backup::wire(platform, db, &backup.policy, deployment);
            }
        }
        objects.extend(super::backup::objects(platform, db, &backup.policy));
    }
}

fn config_map(platform: &Platform, db: &Database) -> ConfigMap {
    let names = db.names();
    ConfigMap {
        metadata: meta::object_meta(platform, POSTGRES, &names.config_map, &names.workload),
        data: Some(BTreeMap::from([
            ("pg_hba.conf".to_owned(), pg_hba(platform, db)),
            (
                "postgresql.conf".to_owned(),
                config_files::postgresql_conf(platform, db),
            ),
            ("reconcile.sql".to_owned(), reconcile(platform, db)),
        ])),
        ..Default::default()
    }
}

/// The base's pg_hba.conf (an environment with other client certificates patches it).
fn pg_hba(platform: &Platform, db: &Database) -> String {
    config_files::pg_hba_conf(platform, db, platform.tls.client_certificates)
}

/// The reconcile SQL: the declaration's extensions, then its clients' roles.
fn reconcile(platform: &Platform, db: &Database) -> String {
    config_files::reconcile_sql(db)
        + &config_files::roles_sql(platform, db)
        + &super::backup::stanza_sql(platform, db)
}

/// The pod's config digest: the settings PostgreSQL reads only at start and the reconcile SQL the
/// postStart hook applies. pg_hba.conf and reload-level settings are left out: the reloader
/// applies them to the running server (`pg_reload_conf()`), so changing them restarts nothing.
pub fn config_digest(platform: &Platform, db: &Database) -> String {
    meta::config_digest(&[
        &restart_settings(&config_files::postgresql_conf(platform, db), db.version),
        &reconcile(platform, db),
    ])
}

fn deployment(platform: &Platform, db: &Database) -> Deployment {
    let names = db.names();
    let mut metadata = meta::object_meta(platform, POSTGRES, &names.workload, &names.workload);
    metadata.annotations = meta::checkov_skips(&db.placement.image, true);
    let digest = config_digest(platform, db);
    let template = pod::harden(Pod {
        uid: POSTGRES_UID,
        lifetime: Lifetime::Server,
        metadata: ObjectMeta {
            labels: Some(meta::pod_labels(platform, POSTGRES, &names.workload)),
            annotations: Some(BTreeMap::from([(
                "bakeryc.dev/config-digest".to_owned(),
                digest,
            )])),
            ..Default::default()
        },
        init_containers: vec![pod::secrets_present_container(
            platform,
            db.placement.image.reference(),
            ["tls.crt", "tls.key", "ca.crt"]
                .map(|f| format!("{TLS_DIR}/{f}"))
                .into_iter()
                .chain([format!("{PASSWORD_DIR}/{PASSWORD_KEY}")])
                .chain(
                    platform
                        .clients_of(db)
                        .map(|c| format!("{CLIENTS_DIR}/{}/{PASSWORD_KEY}", c.name)),
                ),
            vec![
                pod::mount("credentials", PASSWORD_DIR, true),
                pod::mount("tls", TLS_DIR, true),
            ]
            .into_iter()
            .chain(platform.clients_of(db).map(pod::client_mount))
            .collect(),
        )],
        containers: vec![postgres_container(platform, db), reloader_container(db)],
        volumes: volumes(db)
            .into_iter()
            .chain(
                platform
                    .clients_of(db)
                    .map(|c| pod::client_volume(c, PASSWORD_KEY)),
            )
            .collect(),
        termination_grace_period_seconds: Some(60),
    });
    pod::singleton_deployment(
        metadata,
        meta::selector(POSTGRES, &names.workload),
        template,
    )
}

/// The lines of `conf` that set a parameter only a restart applies (context `postmaster`, or
/// unknown: see [`catalogue::setting_context`]), sorted. Only they enter the pod template's
/// config digest: a change to any other setting, or to pg_hba.conf, reaches the running server
/// through the mounted ConfigMap and the reloader's `pg_reload_conf()`, without a restart. The
/// reconcile SQL is in the digest too, since the postStart hook applies it only at start.
pub fn restart_settings(conf: &str, version: PgVersion) -> String {
    let mut lines: Vec<&str> = conf
        .lines()
        .map(str::trim)
        .filter(|line| {
            catalogue::setting_name(line).is_some_and(|name| {
                catalogue::setting_context(version, name) == catalogue::Context::Restart
            })
        })
        .collect();
    lines.sort_unstable();
    lines.iter().fold(String::new(), |mut text, line| {
        text.push_str(line);
        text.push('\n');
        text
    })
}

fn volumes(db: &Database) -> Vec<Volume> {
    let names = db.names();
    vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: names.config_map.clone(),
                items: Some(vec![
                    key_to_path("pg_hba.conf"),
                    key_to_path("postgresql.conf"),
                    key_to_path("reconcile.sql"),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        },
        pod::secret_volume("credentials", &names.credentials_secret),
        pod::claim_volume("data", &names.volume_claim),
        pod::reloader_volume(),
        pod::empty_dir_volume("run", false),
        pod::secret_volume("tls", &names.tls_secret),
        pod::empty_dir_volume("tmp", false),
    ]
}

fn key_to_path(key: &str) -> KeyToPath {
    KeyToPath {
        key: key.to_owned(),
        path: key.to_owned(),
        ..Default::default()
    }
}

/// Makes the server re-read the TLS Secret and its configuration files in place when they change
/// ([`RELOAD_SCRIPT`]).
fn reloader_container(db: &Database) -> Container {
    let command = [
        "sh",
        "-euc",
        &format!("{}{RELOAD_SCRIPT}", pod::TLS_FILES_CHECK),
        "pg-reload",
        TLS_DIR,
        &format!("{PASSWORD_DIR}/{PASSWORD_KEY}"),
        SOCKET_DIR,
        &db.role_name(),
        &db.database_name(),
    ]
    .map(str::to_owned)
    .to_vec();
    pod::reloader_container(
        db.placement.image.reference(),
        &[("config", CONFIG_DIR), ("tls", TLS_DIR)],
        vec![
            pod::mount("credentials", PASSWORD_DIR, true),
            pod::mount("run", SOCKET_DIR, false),
        ],
        command,
    )
}

fn postgres_container(platform: &Platform, db: &Database) -> Container {
    let env = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    };
    let ready = [
        "pg_isready",
        &format!("--host={SOCKET_DIR}"),
        "--port=5432",
        &format!("--username={}", db.role_name()),
        &format!("--dbname={}", db.database_name()),
    ]
    .map(str::to_owned);
    let ready: Vec<&str> = ready.iter().map(String::as_str).collect();
    Container {
        name: SERVER_CONTAINER.into(),
        image: Some(db.placement.image.reference()),
        args: Some(vec![
            "-c".into(),
            format!("config_file={CONFIG_DIR}/postgresql.conf"),
        ]),
        env: Some(vec![
            env("PGDATA", &db.data_dir(DATA_DIR)),
            env("POSTGRES_DB", &db.database_name()),
            env(
                "POSTGRES_PASSWORD_FILE",
                &format!("{PASSWORD_DIR}/{PASSWORD_KEY}"),
            ),
            env("POSTGRES_USER", &db.role_name()),
        ]),
        lifecycle: Some(Lifecycle {
            post_start: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec![
                        "sh".into(),
                        "-euc".into(),
                        RECONCILE_SCRIPT.into(),
                        "reconcile".into(),
                        format!("{CONFIG_DIR}/reconcile.sql"),
                        format!("{PASSWORD_DIR}/{PASSWORD_KEY}"),
                        SOCKET_DIR.into(),
                        db.role_name(),
                        db.database_name(),
                    ]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ports: Some(vec![ContainerPort {
            name: Some("postgres".into()),
            container_port: 5432,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        readiness_probe: Some(pod::exec_probe(&ready, 5, 10)),
        liveness_probe: Some(pod::exec_probe(&ready, 60, 20)),
        resources: Some(pod::resources(&db.placement.resources)),
        volume_mounts: Some(
            vec![
                pod::mount("config", CONFIG_DIR, true),
                pod::mount("credentials", PASSWORD_DIR, true),
                pod::mount("data", DATA_DIR, false),
                pod::mount("run", SOCKET_DIR, false),
                pod::mount("tls", TLS_DIR, true),
                pod::mount("tmp", "/tmp", false),
            ]
            .into_iter()
            .chain(platform.clients_of(db).map(pod::client_mount))
            .collect(),
        ),
        ..Default::default()
    }
}
