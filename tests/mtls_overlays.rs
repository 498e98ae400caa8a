//! Client certificates per environment, as kustomize renders the overlays: where an environment
//! demands them, every database's pg_hba.conf requires `clientcert=verify-full` for exactly its
//! declared pairs, its pod's config digest stays (the reloader applies pg_hba.conf in place), and Redis's
//! runtime settings file (`redis-config`, applied in place by its reloader) says
//! `tls-auth-clients yes` while its pod template stays the same; where it does not, none of that
//! is there.

mod common;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;

fn rendered(fixture: &str, env: &str) -> Vec<serde_json::Value> {
    let test = common::Test::fixture(fixture);
    let out = test.join("generated");
    bakeryc::output::write_tree(&out, &test.tree()).unwrap();
    common::kustomize(&out.join("overlays").join(env))
}

fn find<T: serde::de::DeserializeOwned>(docs: &[serde_json::Value], kind: &str, name: &str) -> T {
    let doc = docs
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind}/{name} missing"));
    serde_json::from_value(doc.clone()).unwrap()
}

struct Seen {
    hba: String,
    digest: String,
    redis_conf: String,
    redis_pod: serde_json::Value,
}

fn seen(fixture: &str, env: &str) -> Seen {
    let docs = rendered(fixture, env);
    let config: ConfigMap = find(&docs, "ConfigMap", "sales-db-config");
    let database: Deployment = find(&docs, "Deployment", "sales-db");
    let redis: Deployment = find(&docs, "Deployment", "redis");
    let redis_config: ConfigMap = find(&docs, "ConfigMap", "redis-config");
    Seen {
        hba: config.data.unwrap()["pg_hba.conf"].clone(),
        digest: database
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()["bakeryc.dev/config-digest"]
            .clone(),
        redis_conf: redis_config.data.unwrap()["redis.conf"].clone(),
        redis_pod: serde_json::to_value(redis.spec.unwrap().template).unwrap(),
    }
}

/// The value of `tls-auth-clients` in the runtime settings file, and that the arguments no longer
/// carry it (an argument would need a restart to change).
fn tls_auth_clients(seen: &Seen) -> &str {
    let args = seen.redis_pod["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(!args.iter().any(|a| a == "--tls-auth-clients"), "{args:?}");
    seen.redis_conf
        .lines()
        .find_map(|l| l.strip_prefix("tls-auth-clients "))
        .unwrap_or_else(|| panic!("{}", seen.redis_conf))
}

#[test]
fn an_environment_demands_client_certificates_on_its_own() {
    // [tls] client_certificates = false; prod = true.
    let fixture = "tests/fixtures/clients/bakery.toml";
    let (dev, prod) = (seen(fixture, "dev"), seen(fixture, "prod"));
    for line in ["forecasting_service", "sales_service"] {
        assert!(
            prod.hba.contains(&format!(
                "hostssl   sales_db  {line}  all  scram-sha-256 clientcert=verify-full"
            )),
            "{}",
            prod.hba
        );
    }
    assert_eq!(
        prod.hba.matches("clientcert=verify-full").count(),
        2,
        "{}",
        prod.hba
    );
    assert!(!dev.hba.contains("clientcert"), "{}", dev.hba);
    assert!(
        dev.hba
            .contains("hostssl   sales_db  sales_service  all  scram-sha-256\n")
    );
    assert_eq!(
        dev.digest, prod.digest,
        "pg_hba.conf is reloaded in place: the pods do not restart for it"
    );
    assert_eq!(tls_auth_clients(&prod), "yes");
    assert_eq!(tls_auth_clients(&dev), "no");
    // Redis's pod is the same in both: the reloader applies the file in place.
    assert_eq!(dev.redis_pod, prod.redis_pod);
    assert_eq!(
        dev.redis_conf
            .replace("tls-auth-clients no", "tls-auth-clients yes"),
        prod.redis_conf
    );
}

#[test]
fn an_environment_may_opt_out_of_client_certificates() {
    // [tls] client_certificates = true; dev = false.
    let fixture = "tests/fixtures/clients-cert-manager/bakery.toml";
    let (dev, prod) = (seen(fixture, "dev"), seen(fixture, "prod"));
    assert!(prod.hba.contains("clientcert=verify-full"), "{}", prod.hba);
    assert!(!dev.hba.contains("clientcert"), "{}", dev.hba);
    assert_eq!(tls_auth_clients(&prod), "yes");
    assert_eq!(tls_auth_clients(&dev), "no");
    assert_eq!(dev.redis_pod, prod.redis_pod);
}

/// Without `[[client]]`, `[tls] client_certificates = true` makes Redis demand a certificate
/// (`tls-auth-clients yes`, which `tests/reload.rs` shows a real redis-server enforce); an
/// environment that asks for the same gets the same, and one that opts out gets `no`.
/// pg_hba.conf has no client lines then, so it is the same in every environment.
#[test]
fn without_clients_an_environment_still_decides_for_redis() {
    let config = |tls: bool, prod: bool| {
        format!(
            "[platform]\nname = \"shop\"\nnamespace = \"shop\"\n\
             [postgres]\nversion = 17\nimage = \"postgres:17.2-alpine\"\nstorage = \"1Gi\"\n\
             [[database]]\nname = \"sales\"\n\
             [cache]\nimage = \"redis:7.4.1-alpine\"\nstorage = \"1Gi\"\n\
             [tls]\nclient_certificates = {tls}\n\
             [environments.dev]\n[environments.prod]\nclient_certificates = {prod}\n"
        )
    };
    let seen = |text: &str, env: &str| {
        let test = common::Test::config(text);
        let out = test.join("generated");
        bakeryc::output::write_tree(&out, &test.tree()).unwrap();
        let docs = common::kustomize(&out.join("overlays").join(env));
        let redis: ConfigMap = find(&docs, "ConfigMap", "redis-config");
        let database: ConfigMap = find(&docs, "ConfigMap", "sales-db-config");
        let line = redis.data.unwrap()["redis.conf"]
            .lines()
            .find_map(|l| l.strip_prefix("tls-auth-clients ").map(str::to_owned))
            .unwrap();
        (line, database.data.unwrap()["pg_hba.conf"].clone())
    };
    for tls in [false, true] {
        let text = config(tls, !tls);
        let (dev, prod) = (seen(&text, "dev"), seen(&text, "prod"));
        let (dev_wants, prod_wants) = if tls { ("yes", "no") } else { ("no", "yes") };
        assert_eq!(dev.0, dev_wants, "[tls] client_certificates = {tls}: dev");
        assert_eq!(
            prod.0, prod_wants,
            "[tls] client_certificates = {tls}: prod"
        );
        assert_eq!(dev.1, prod.1, "pg_hba.conf without [[client]]");
    }
}
