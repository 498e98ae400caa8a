//! The compiled NetworkPolicies, evaluated as Kubernetes evaluates them (a pod selected by an
//! Ingress policy is isolated; a connection is admitted when a policy selecting the server has a
//! rule whose peer's `podSelector` matches the client pod's labels, in the policy's namespace
//! without a `namespaceSelector`, and whose ports include the server's), for every pair of a
//! client pod and a server: with `[[client]]` exactly the declared pairs are admitted; without,
//! every pod of the platform is.

mod common;

use std::collections::BTreeMap;

use bakeryc::compile::{Document, Object, compile};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

type Labels = BTreeMap<String, String>;

const BASE: &str = r#"
[platform]
name = "shop"
namespace = "shop"
[postgres]
version = 17
image = "postgres:17.2-alpine"
storage = "1Gi"
[[database]]
name = "orders"
[[database]]
name = "sales"
[[database]]
name = "auth"
[cache]
image = "redis:7.4.1-alpine"
storage = "1Gi"
"#;

const CLIENTS: &str = r#"
[[client]]
name = "orders-service"
databases = ["orders"]
cache = true
[[client]]
name = "forecasting-service"
databases = ["sales", "orders"]
access = "read-only"
[[client]]
name = "auth-service"
databases = ["auth"]
selector = { app = "auth", tier = "backend" }
"#;

/// A server pod (its template's labels) with its port, and every policy of the base.
struct Compiled {
    servers: BTreeMap<String, (Labels, i32)>,
    policies: Vec<NetworkPolicy>,
}

fn compiled(source: &str) -> Compiled {
    let tree = compile(&common::platform(source));
    let mut servers = BTreeMap::new();
    let mut policies = Vec::new();
    for (path, document) in tree {
        let Document::Objects(objects) = document else {
            continue;
        };
        if !path.starts_with("base/") {
            continue;
        }
        for object in objects {
            match object {
                Object::Deployment(deployment) => {
                    let name = deployment.metadata.name.clone().unwrap();
                    let template = deployment.spec.unwrap().template;
                    let labels = template.metadata.unwrap().labels.unwrap();
                    let port = template.spec.unwrap().containers[0].ports.as_ref().unwrap()[0]
                        .container_port;
                    servers.insert(name, (labels, port));
                }
                Object::NetworkPolicy(policy) => policies.push(policy),
                _ => {}
            }
        }
    }
    Compiled { servers, policies }
}

fn selects(selector: &LabelSelector, labels: &Labels) -> bool {
    assert!(
        selector.match_expressions.is_none(),
        "this evaluator knows matchLabels only"
    );
    selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value))
}

impl Compiled {
    /// Whether a pod labelled `client` in the namespace reaches the server's port.
    fn admits(&self, client: &Labels, server: &str) -> bool {
        let (labels, port) = &self.servers[server];
        let selecting: Vec<_> = self
            .policies
            .iter()
            .filter_map(|p| p.spec.as_ref())
            .filter(|spec| {
                // Without `policyTypes` a policy is an Ingress policy (the API's default).
                spec.policy_types
                    .as_ref()
                    .is_none_or(|t| t.iter().any(|t| t == "Ingress"))
                    && selects(spec.pod_selector.as_ref().unwrap(), labels)
            })
            .collect();
        if selecting.is_empty() {
            return true; // not isolated
        }
        selecting.iter().any(|spec| {
            spec.ingress.iter().flatten().any(|rule| {
                let from = rule.from.as_ref().is_none_or(|peers| {
                    peers.is_empty()
                        || peers.iter().any(|peer| {
                            assert!(peer.ip_block.is_none(), "no ipBlock expected");
                            peer.namespace_selector.is_none()
                                && peer
                                    .pod_selector
                                    .as_ref()
                                    .is_some_and(|s| selects(s, client))
                        })
                });
                let ports = rule.ports.as_ref().is_none_or(|ports| {
                    ports.is_empty()
                        || ports.iter().any(|p| {
                            p.protocol.as_deref().unwrap_or("TCP") == "TCP"
                                && p.port
                                    .as_ref()
                                    .is_none_or(|q| *q == IntOrString::Int(*port))
                        })
                });
                from && ports
            })
        })
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn declared_clients_reach_exactly_what_they_declared() {
    let compiled = compiled(&format!("{BASE}{CLIENTS}"));
    let part_of = ("app.kubernetes.io/part-of", "shop");
    let pods = [
        (
            "orders-service",
            labels(&[("app.kubernetes.io/name", "orders-service")]),
        ),
        (
            "forecasting-service",
            labels(&[("app.kubernetes.io/name", "forecasting-service"), part_of]),
        ),
        (
            "auth-service",
            labels(&[("app", "auth"), ("tier", "backend")]),
        ),
        // Named like a client but missing a label of its selector.
        ("auth-service (partial labels)", labels(&[("app", "auth")])),
        // What used to pass everywhere: the platform label.
        (
            "intruder",
            labels(&[("app.kubernetes.io/name", "intruder"), part_of]),
        ),
    ];
    let declared: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("orders-service", vec!["orders-db", "redis"]),
        ("forecasting-service", vec!["orders-db", "sales-db"]),
        ("auth-service", vec!["auth-db"]),
    ]);
    assert_eq!(compiled.servers.len(), 4);
    for (pod, pod_labels) in &pods {
        for server in compiled.servers.keys() {
            let expected = declared
                .get(pod)
                .is_some_and(|servers| servers.contains(&server.as_str()));
            assert_eq!(
                compiled.admits(pod_labels, server),
                expected,
                "{pod} -> {server}"
            );
        }
    }
}

#[test]
fn a_database_no_client_declares_admits_no_pod() {
    let source = format!(
        "{BASE}\n[[client]]\nname = \"orders-service\"\ndatabases = [\"orders\", \"sales\"]\ncache = true\n"
    );
    let compiled = compiled(&source);
    let everyone = [
        labels(&[("app.kubernetes.io/name", "orders-service")]),
        labels(&[("app.kubernetes.io/part-of", "shop")]),
        Labels::new(),
    ];
    for pod in &everyone {
        assert!(!compiled.admits(pod, "auth-db"), "{pod:?} -> auth-db");
    }
    assert!(compiled.admits(&everyone[0], "sales-db"));
}

#[test]
fn without_clients_every_pod_of_the_platform_is_admitted() {
    let compiled = compiled(BASE);
    let platform_pod = labels(&[("app.kubernetes.io/part-of", "shop")]);
    let outsider = labels(&[("app.kubernetes.io/name", "orders-service")]);
    for server in compiled.servers.keys() {
        assert!(compiled.admits(&platform_pod, server), "{server}");
        assert!(!compiled.admits(&outsider, server), "{server}");
    }
}
