//! How a workload is reached: its Service and the NetworkPolicy that admits only the platform's
//! own pods (labelled `app.kubernetes.io/part-of: <platform>`) on its one TLS port.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta::{self, Kind};
use crate::model::{Platform, WorkloadNames};

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

pub fn network_policy(
    platform: &Platform,
    kind: Kind,
    names: &WorkloadNames,
    port: i32,
) -> NetworkPolicy {
    let clients = BTreeMap::from([(
        "app.kubernetes.io/part-of".to_owned(),
        platform.name.to_string(),
    )]);
    NetworkPolicy {
        metadata: meta::object_meta(platform, kind, &names.workload, &names.workload),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(meta::selector(kind, &names.workload)),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(LabelSelector {
                        match_labels: Some(clients),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(port)),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
            }]),
            ..Default::default()
        }),
    }
}
