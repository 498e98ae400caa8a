//! The compiled Services, resolved as Kubernetes resolves them (a Service's endpoints are the
//! pods of its namespace whose labels its non-empty `selector` matches; its `targetPort` names a
//! container port of those pods; a Service without `type` is a ClusterIP), for bakery.toml and
//! every fixture: the host and port of each client profile name a Service that reaches exactly
//! the server the profile is for (not a backup job, not another server) on its TLS port, and no
//! Service is reachable from outside the cluster.

mod common;

use std::collections::BTreeMap;

use bakeryc::compile::{Document, Object, compile};
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Every pod template of the base by its workload's name, the Services, and the client
/// profiles (host, port, and the port the server listens on) by ConfigMap name.
struct Compiled {
    namespace: String,
    cluster_domain: String,
    /// The workload each Service is declared for (from the model's names, adopted ones too).
    fronts: BTreeMap<String, String>,
    pods: BTreeMap<String, PodTemplateSpec>,
    services: BTreeMap<String, Service>,
    profiles: BTreeMap<String, (String, String, i32)>,
}

fn compiled(source: &str) -> Compiled {
    let platform = common::platform(source);
    let mut out = Compiled {
        namespace: platform.namespace.to_string(),
        cluster_domain: platform.cluster_domain.as_str().to_owned(),
        fronts: platform
            .databases
            .iter()
            .map(bakeryc::model::Database::names)
            .chain(platform.cache.iter().map(bakeryc::model::Cache::names))
            .map(|names| (names.service, names.workload))
            .collect(),
        pods: BTreeMap::new(),
        services: BTreeMap::new(),
        profiles: BTreeMap::new(),
    };
    for (path, document) in compile(&platform) {
        let Document::Objects(objects) = document else {
            continue;
        };
        if !path.starts_with("base/") {
            continue;
        }
        for object in objects {
            match object {
                Object::Deployment(o) => {
                    out.pods
                        .insert(o.metadata.name.unwrap(), o.spec.unwrap().template);
                }
                Object::CronJob(o) => {
                    let job = o.spec.unwrap().job_template.spec.unwrap();
                    out.pods.insert(o.metadata.name.unwrap(), job.template);
                }
                Object::Service(o) => {
                    assert_eq!(o.metadata.namespace.as_deref(), Some(&*out.namespace));
                    out.services.insert(o.metadata.name.clone().unwrap(), o);
                }
                Object::ConfigMap(o) => {
                    let data = o.data.unwrap_or_default();
                    // PostgreSQL listens on 5432, Redis (TLS only) on 6379.
                    for (host, port, listens) in [
                        ("PGHOST", "PGPORT", 5432),
                        ("REDIS_HOST", "REDIS_PORT", 6379),
                    ] {
                        if let (Some(h), Some(p)) = (data.get(host), data.get(port)) {
                            let profile = (h.clone(), p.clone(), listens);
                            out.profiles
                                .insert(o.metadata.name.clone().unwrap(), profile);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

impl Compiled {
    /// The workloads whose pods are the Service's endpoints (none without a selector).
    fn endpoints(&self, service: &Service) -> Vec<&str> {
        let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
            return Vec::new();
        };
        if selector.is_empty() {
            return Vec::new();
        }
        self.pods
            .iter()
            .filter(|(_, pod)| {
                let labels = pod.metadata.as_ref().and_then(|m| m.labels.as_ref());
                selector
                    .iter()
                    .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
            })
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Where a connection to `port` of the Service lands: the selected pods' container port
    /// number, if the Service has that port and its `targetPort` names a port of the pod.
    fn lands_on(&self, service: &Service, workload: &str, port: i32) -> Option<i32> {
        let spec = service.spec.as_ref()?;
        let service_port = spec.ports.iter().flatten().find(|p| p.port == port)?;
        assert_eq!(service_port.protocol.as_deref().unwrap_or("TCP"), "TCP");
        let pod = self.pods[workload].spec.as_ref()?;
        let container_ports = pod.containers.iter().flat_map(|c| c.ports.iter().flatten());
        match service_port.target_port.as_ref() {
            Some(IntOrString::String(name)) => container_ports
                .filter(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.container_port)
                .next(),
            Some(IntOrString::Int(number)) => Some(*number),
            None => Some(port),
        }
    }
}

#[test]
fn every_client_profile_reaches_its_own_server_through_its_service() {
    let mut profiles = 0;
    for (name, source) in common::sources() {
        let compiled = compiled(&source);
        for (config_map, (host, port, server_port)) in &compiled.profiles {
            let at = format!("{name}: {config_map}");
            let suffix = format!(".{}.svc.{}", compiled.namespace, compiled.cluster_domain);
            let service_name = host.strip_suffix(&suffix).unwrap_or_else(|| panic!("{at}"));
            let service = compiled
                .services
                .get(service_name)
                .unwrap_or_else(|| panic!("{at}: no Service {service_name}"));
            let workload = compiled.fronts[service_name].as_str();
            assert_eq!(compiled.endpoints(service), vec![workload], "{at}");
            let port: i32 = port.parse().unwrap();
            assert_eq!(
                compiled.lands_on(service, workload, port),
                Some(*server_port),
                "{at}: the Service does not carry the profile's port to the server's"
            );
            profiles += 1;
        }
    }
    assert!(profiles > 20, "only {profiles} profiles seen");
}

#[test]
fn every_service_fronts_one_server_inside_the_cluster_only() {
    for (name, source) in common::sources() {
        let compiled = compiled(&source);
        assert!(!compiled.services.is_empty(), "{name}");
        for (service_name, service) in &compiled.services {
            let at = format!("{name}: {service_name}");
            let spec = service.spec.as_ref().unwrap();
            assert!(
                matches!(spec.type_.as_deref(), None | Some("ClusterIP")),
                "{at}: exposed as {:?}",
                spec.type_
            );
            assert!(
                spec.external_ips.is_none() && spec.load_balancer_ip.is_none(),
                "{at}"
            );
            let endpoints = compiled.endpoints(service);
            assert_eq!(endpoints, [&compiled.fronts[service_name]], "{at}");
            assert!(!spec.ports.as_ref().unwrap().is_empty(), "{at}");
        }
    }
}
