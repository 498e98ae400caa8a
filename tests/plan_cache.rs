//! `bakeryc plan` for the cache's runtime settings (issue 14): a change of `[cache] client_auth`
//! or `[tls] min_version` reaches Redis through its `redis-config` ConfigMap and reloader
//! (`CONFIG SET`), so the plan says reload for the cache, never restart. The case is
//! tests/plan/cache-runtime.toml, applied after tests/plan/base.toml was built; its snapshot is
//! in tests/plan.rs's glob.

mod common;

use common::{Test, repo};
use serde_json::Value;

fn case(name: &str) -> String {
    std::fs::read_to_string(repo(&format!("tests/plan/{name}.toml"))).unwrap()
}

#[test]
fn a_runtime_redis_setting_reloads_the_cache() {
    let test = Test::config(&case("base"));
    test.run(&["build"]).success();
    let test = test.file("bakery.toml", &case("cache-runtime"));
    let run = test.run(&["plan", "--format", "json"]).success();
    let plan: Value = serde_json::from_str(&run.stdout()).unwrap();
    for env in plan["environments"].as_array().unwrap() {
        let changes = env["changes"].as_array().unwrap();
        let cache: Vec<&Value> = changes
            .iter()
            .filter(|c| c["workload"] == "redis")
            .collect();
        assert_eq!(cache.len(), 1, "{env:#}");
        assert_eq!(cache[0]["effect"], "reload", "{env:#}");
        let said = cache[0].to_string();
        assert!(
            said.contains(
                "redis.conf: tls-auth-clients 'no' → 'optional' (applied with CONFIG SET)"
            ),
            "{said}"
        );
        assert!(
            said.contains("tls-protocols 'TLSv1.2 TLSv1.3' → 'TLSv1.3'"),
            "{said}"
        );
        for change in changes {
            assert_ne!(change["effect"], "restart", "{change:#}");
        }
    }
}
