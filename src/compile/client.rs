//! Client connection profiles: one ConfigMap per server with everything a service needs to
//! connect with full verification, except the password (which `bakeryc secrets generate` puts,
//! with complete URLs, in the credentials Secret). The host is the Service's fully qualified
//! name, which is always among the server certificate's SANs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use super::meta::{self, Kind};
use crate::model::{Cache, Client, ClientProfile, Database, Platform};

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

/// The objects bakeryc makes for a declared client (its profiles, its certificate): labelled as
/// a client's, never as its pods (which are the service's, not bakeryc's).
pub const CLIENT: Kind = Kind {
    app: "bakeryc-client",
    component: "client",
};

/// A declared client's profiles: one ConfigMap per database it reaches
/// (`<client>-<db>-db-client`: libpq's environment with its own role and its certificate, which
/// psycopg and asyncpg read) and one for the cache (`<client>-<cache>-client`, redis-py's
/// settings with its ACL user and certificate). The password and URLs are in `<client>-credentials`.
pub fn client_config_maps(platform: &Platform, client: &Client) -> Vec<ConfigMap> {
    let name = client.name.as_str();
    let mut maps = Vec::new();
    for db in platform.databases.iter().filter(|db| client.reaches(db)) {
        let profile = platform.client_database_profile(client, db);
        let (database, user) = profile.database.clone().unwrap_or_default();
        let dir = client.certificate_dir();
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
            ("PGSSLCERT".to_owned(), format!("{dir}/tls.crt")),
            ("PGSSLKEY".to_owned(), format!("{dir}/tls.key")),
            ("PGUSER".to_owned(), user),
        ]);
        let map_name = client.profile_config_map(&db.names().workload);
        maps.push(config_map(platform, CLIENT, name, &map_name, data));
    }
    if let Some(cache) = platform.cache.as_ref().filter(|_| client.cache) {
        let profile = platform.client_cache_profile(client, cache);
        let dir = client.certificate_dir();
        let data = BTreeMap::from([
            ("REDIS_HOST".to_owned(), profile.host.clone()),
            ("REDIS_PORT".to_owned(), profile.port.to_string()),
            ("REDIS_USERNAME".to_owned(), client.role_name()),
            ("REDIS_SSL_CA_CERTS".to_owned(), profile.ca_file.clone()),
            ("REDIS_SSL_CERT_REQS".to_owned(), "required".to_owned()),
            ("REDIS_SSL_CERTFILE".to_owned(), format!("{dir}/tls.crt")),
            ("REDIS_SSL_KEYFILE".to_owned(), format!("{dir}/tls.key")),
        ]);
        let map_name = client.profile_config_map(&cache.names().workload);
        maps.push(config_map(platform, CLIENT, name, &map_name, data));
    }
    maps
}
