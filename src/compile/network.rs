//! How a workload is reached: its Service and the NetworkPolicy on its one TLS port. With
//! `[[client]]` declared, the policy admits exactly the pods of the clients that declared the
//! workload (one peer per client, by its selector; none at all when no client did); without,
//! every pod of the platform (labelled `app.kubernetes.io/part-of: <platform>`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, Kind};
use crate::model::{Client, Platform, WorkloadNames};

pub fn service(platform: &Platform, kind: Kind, names: &WorkloadNames, port: i32) -> Service {
    Service {
        metadata: meta::object_meta(platform, kind, &names.service, &names.workload),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(meta::selector(kind, &names.workload)),
            ports: Some(vec![ServicePort {
                name: Some(kind.app.into()),
                port,
                target_port: Some(IntOrString::String(kind.app.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The workload's policy; `clients` are the declared clients that reach it, `None` when the
/// platform declares no `[[client]]`.
pub fn network_policy(
    platform: &Platform,
    kind: Kind,
    names: &WorkloadNames,
    port: i32,
    clients: Option<Vec<&Client>>,
) -> NetworkPolicy {
    let selectors: Vec<BTreeMap<String, String>> = match clients {
        None => vec![BTreeMap::from([(
            "app.kubernetes.io/part-of".to_owned(),
            platform.name.to_string(),
        )])],
        Some(clients) => clients.into_iter().map(|c| c.selector.clone()).collect(),
    };
    // No client: no rule at all, so the Ingress policy admits nothing.
    let ingress = if selectors.is_empty() {
        Vec::new()
    } else {
        vec![NetworkPolicyIngressRule {
            from: Some(
                selectors
                    .into_iter()
                    .map(|labels| NetworkPolicyPeer {
                        pod_selector: Some(LabelSelector {
                            match_labels: Some(labels),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ports: Some(vec![NetworkPolicyPort {
                port: Some(IntOrString::Int(port)),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
        }]
    };
    NetworkPolicy {
        metadata: meta::object_meta(platform, kind, &names.workload, &names.workload),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(meta::selector(kind, &names.workload)),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(ingress),
            ..Default::default()
        }),
    }
}
