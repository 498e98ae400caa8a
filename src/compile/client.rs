//! Client connection profiles: one ConfigMap per server with everything a service needs to
//! connect with full verification, except the password (which `bakeryc secrets generate` puts,
//! with complete URLs, in the credentials Secret). The host is the Service's fully qualified
//! name, which is always among the server certificate's SANs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::meta::{self, Kind};
use crate::model::{Cache, ClientProfile, Database, Platform};

/// The client ConfigMap of a database: libpq's environment, which psycopg and asyncpg both read.
pub fn database_config_map(platform: &Platform, kind: Kind, db: &Database) -> ConfigMap {
    let names = db.names();
    let profile = platform.database_profile(db);
    let (database, user) = profile.database.clone().unwrap_or_default();
    let data = BTreeMap::from([
        ("PGDATABASE".to_owned(), database),
        ("PGHOST".to_owned(), profile.host.clone()),
        ("PGPORT".to_owned(), profile.port.to_string()),
        (
            "PGSSLMINPROTOCOLVERSION".to_owned(),
            profile.min_tls.postgres_name().to_owned(),
        ),
        ("PGSSLMODE".to_owned(), "verify-full".to_owned()),
        ("PGSSLROOTCERT".to_owned(), profile.ca_file.clone()),
        ("PGUSER".to_owned(), user),
    ]);
    config_map(
        platform,
        kind,
        &names.workload,
        &names.client_config_map,
        data,
    )
}

/// The client ConfigMap of the cache: host, port and CA file for redis-py's `rediss://`.
pub fn cache_config_map(platform: &Platform, kind: Kind, cache: &Cache) -> ConfigMap {
    let names = cache.names();
    let profile: ClientProfile = platform.cache_profile(cache);
    let data = BTreeMap::from([
        ("REDIS_HOST".to_owned(), profile.host.clone()),
        ("REDIS_PORT".to_owned(), profile.port.to_string()),
        ("REDIS_SSL_CA_CERTS".to_owned(), profile.ca_file.clone()),
        ("REDIS_SSL_CERT_REQS".to_owned(), "required".to_owned()),
    ]);
    config_map(
        platform,
        kind,
        &names.workload,
        &names.client_config_map,
        data,
    )
}

fn config_map(
    platform: &Platform,
    kind: Kind,
    workload: &str,
    name: &str,
    data: BTreeMap<String, String>,
) -> ConfigMap {
    ConfigMap {
        metadata: meta::object_meta(platform, kind, name, workload),
        data: Some(data),
        ..Default::default()
    }
}

/// Profile hosts that the workload's server certificate would not cover. Always empty unless
/// the naming code regresses; `build` refuses to write a tree where it is not, because such a
/// profile could only connect with verification turned off.
pub fn uncovered_profile_hosts(platform: &Platform) -> Vec<String> {
    let databases = platform
        .databases
        .iter()
        .map(|db| (db.names().service, platform.database_profile(db).host));
    let cache = platform
        .cache
        .iter()
        .map(|cache| (cache.names().service, platform.cache_profile(cache).host));
    databases
        .chain(cache)
        .filter(|(service, host)| !platform.service_dns_names(service).contains(host))
        .map(|(_, host)| host)
        .collect()
}
