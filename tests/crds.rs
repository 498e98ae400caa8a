//! Every custom resource type bakeryc can emit, rendered through the real render path, is valid
//! for the project's own CRD (tests/crds/), checked by a real JSON Schema validator (Python
//! `jsonschema` from the test venv) made strict the way `kubectl apply --validate=strict` is:
//! unknown fields fail instead of being pruned in silence. The rendered YAML also reads back into
//! the same typed value.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use bakeryc::compile::{Document, Object, Tree};
use bakeryc::crd::cert_manager::{
    CaIssuer, Certificate, CertificateSpec, ClusterIssuer, ClusterIssuerSpec, Issuer, IssuerKind,
    IssuerRef, IssuerSpec, KeyAlgorithm, KeyEncoding, KeyUsage, PrivateKey, RotationPolicy,
    SecretTemplate, SelfSignedIssuer, Subject,
};
use bakeryc::crd::prometheus::{PrometheusRule, PrometheusRuleSpec, Rule, RuleGroup};
use bakeryc::crd::trust_manager::{
    Bundle, BundleSource, BundleSpec, BundleTarget, KeyTarget, NamespaceSelector,
    SourceObjectKeySelector,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

/// Validates each `{schema, instance}` line read on stdin; prints the error messages of each as
/// one JSON list per line.
const VALIDATOR: &str = r"
import json, sys, jsonschema
for line in sys.stdin:
    case = json.loads(line)
    validator = jsonschema.Draft7Validator(case['schema'])
    errors = sorted(validator.iter_errors(case['instance']), key=lambda e: list(e.path))
    print(json.dumps(['/'.join(map(str, e.path)) + ': ' + e.message for e in errors]))
";

/// A CRD's schema for one served version, and whether the kind is namespaced.
struct Crd {
    namespaced: bool,
    schema: Value,
}

/// Every (apiVersion, kind) the CRDs in tests/crds/ serve.
fn crds() -> BTreeMap<(String, String), Crd> {
    let mut crds = BTreeMap::new();
    for entry in std::fs::read_dir("tests/crds").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
        for doc in docs
            .into_iter()
            .filter(|d| d["kind"] == "CustomResourceDefinition")
        {
            let spec = &doc["spec"];
            for version in spec["versions"].as_array().unwrap() {
                if version["served"] == false {
                    continue;
                }
                let mut schema = version["schema"]["openAPIV3Schema"].clone();
                let properties = schema["properties"].as_object_mut().unwrap();
                // The API server checks these itself; status is never written by bakeryc.
                properties.insert("metadata".into(), json!({"type": "object"}));
                properties.insert("apiVersion".into(), json!({"type": "string"}));
                properties.insert("kind".into(), json!({"type": "string"}));
                properties.remove("status");
                let api_version = format!(
                    "{}/{}",
                    spec["group"].as_str().unwrap(),
                    version["name"].as_str().unwrap()
                );
                let kind = spec["names"]["kind"].as_str().unwrap().to_owned();
                crds.insert(
                    (api_version, kind),
                    Crd {
                        namespaced: spec["scope"] == "Namespaced",
                        schema: strict(&schema),
                    },
                );
            }
        }
    }
    crds
}

/// A structural OpenAPI v3 schema as a JSON Schema that refuses unknown fields, with the
/// Kubernetes extensions it uses (int-or-string, nullable, preserve-unknown-fields) spelled out.
fn strict(schema: &Value) -> Value {
    let Some(object) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = serde_json::Map::new();
    for (key, value) in object {
        match key.as_str() {
            "properties" | "patternProperties" => {
                let map = value
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), strict(v)))
                    .collect();
                out.insert(key.clone(), Value::Object(map));
            }
            "items" | "additionalProperties" | "not" if value.is_object() => {
                out.insert(key.clone(), strict(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list = value.as_array().unwrap().iter().map(strict).collect();
                out.insert(key.clone(), Value::Array(list));
            }
            "nullable" | "format" | "example" | "externalDocs" => {}
            _ if key.starts_with("x-kubernetes-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if schema["x-kubernetes-int-or-string"] == true {
        out.remove("type");
        out.insert(
            "anyOf".into(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    if schema["nullable"] == true
        && let Some(kind) = out.get("type").and_then(Value::as_str)
    {
        let kind = kind.to_owned();
        out.insert("type".into(), json!([kind, "null"]));
    }
    if out.get("type") == Some(&json!("object"))
        && out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && schema["x-kubernetes-preserve-unknown-fields"] != true
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

/// The problems the CRDs find in each document, in order; a document of a kind no CRD serves is
/// a problem too.
fn validate(documents: &[Value]) -> Vec<Vec<String>> {
    let crds = crds();
    let mut problems = vec![Vec::new(); documents.len()];
    let mut cases = String::new();
    let mut checked = Vec::new();
    for (index, document) in documents.iter().enumerate() {
        let key = (
            document["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            document["kind"].as_str().unwrap_or_default().to_owned(),
        );
        let Some(crd) = crds.get(&key) else {
            problems[index].push(format!("no CRD in tests/crds/ serves {key:?}"));
            continue;
        };
        if document["metadata"]["name"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            problems[index].push("metadata.name is missing".into());
        }
        if crd.namespaced != document["metadata"]["namespace"].is_string() {
            problems[index].push(format!(
                "metadata.namespace must be set exactly for namespaced kinds ({} is {})",
                key.1,
                if crd.namespaced {
                    "namespaced"
                } else {
                    "cluster-scoped"
                }
            ));
        }
        cases.push_str(&json!({"schema": crd.schema, "instance": document}).to_string());
        cases.push('\n');
        checked.push(index);
    }
    let python = std::env::var("BAKERY_E2E_PYTHON").expect(
        "BAKERY_E2E_PYTHON: run the suite with scripts/test, which installs jsonschema into the test venv",
    );
    let mut child = Command::new(python)
        .args(["-c", VALIDATOR])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Vec<String>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), checked.len(), "one answer per document");
    for (index, answer) in checked.into_iter().zip(answers) {
        problems[index].extend(answer);
    }
    problems
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_owned(),
            "bakeryc".to_owned(),
        )])),
        ..Default::default()
    }
}

/// One object of every custom resource type, with every field bakeryc can set.
fn every_custom_resource() -> Vec<Object> {
    let namespace = Some("bakery");
    let ca = Certificate {
        metadata: meta("bakery-ia-ca", namespace),
        spec: CertificateSpec {
            secret_name: "bakery-ia-ca".into(),
            issuer_ref: IssuerRef {
                name: "bakery-ia-selfsigned".into(),
                kind: Some(IssuerKind::Issuer),
                group: Some("cert-manager.io".into()),
            },
            common_name: Some("bakery-ia CA".into()),
            subject: Some(Subject {
                organizations: vec!["Bakery".into()],
                organizational_units: vec!["Platform".into()],
                countries: vec!["ES".into()],
                provinces: vec!["Madrid".into()],
                localities: vec!["Madrid".into()],
            }),
            is_ca: Some(true),
            duration: Some("87600h".into()),
            private_key: Some(PrivateKey {
                algorithm: Some(KeyAlgorithm::Ecdsa),
                size: Some(384),
                encoding: Some(KeyEncoding::Pkcs8),
                rotation_policy: Some(RotationPolicy::Never),
            }),
            usages: vec![KeyUsage::CertSign, KeyUsage::CrlSign],
            ..Default::default()
        },
    };
    let server = Certificate {
        metadata: meta("auth-db-tls", namespace),
        spec: CertificateSpec {
            secret_name: "auth-db-tls".into(),
            issuer_ref: IssuerRef {
                name: "bakery-ia-ca".into(),
                kind: Some(IssuerKind::ClusterIssuer),
                group: None,
            },
            dns_names: vec![
                "auth-db-service".into(),
                "auth-db-service.bakery.svc.cluster.local".into(),
            ],
            duration: Some("2160h".into()),
            renew_before: Some("720h".into()),
            private_key: Some(PrivateKey {
                algorithm: Some(KeyAlgorithm::Rsa),
                size: Some(3072),
                encoding: None,
                rotation_policy: Some(RotationPolicy::Always),
            }),
            usages: vec![
                KeyUsage::DigitalSignature,
                KeyUsage::KeyEncipherment,
                KeyUsage::ServerAuth,
                KeyUsage::ClientAuth,
            ],
            secret_template: Some(SecretTemplate {
                labels: BTreeMap::from([("app.kubernetes.io/part-of".into(), "bakery-ia".into())]),
                annotations: BTreeMap::from([("bakeryc.dev/role".into(), "server".into())]),
            }),
            ..Default::default()
        },
    };
    let self_signed = Issuer::new(
        "bakery-ia-selfsigned",
        IssuerSpec {
            self_signed: Some(SelfSignedIssuer {}),
            ca: None,
        },
    );
    let ca_issuer = Issuer {
        metadata: meta("bakery-ia-ca", namespace),
        spec: IssuerSpec {
            self_signed: None,
            ca: Some(CaIssuer {
                secret_name: "bakery-ia-ca".into(),
            }),
        },
    };
    let mut self_signed = self_signed;
    self_signed.metadata.namespace = namespace.map(str::to_owned);
    let cluster = ClusterIssuer {
        metadata: meta("bakery-ia-ca", None),
        spec: ClusterIssuerSpec {
            self_signed: None,
            ca: Some(CaIssuer {
                secret_name: "bakery-ia-ca".into(),
            }),
        },
    };
    let bundle = Bundle {
        metadata: meta("bakery-ia-ca", None),
        spec: BundleSpec {
            sources: vec![BundleSource {
                secret: Some(SourceObjectKeySelector {
                    name: "bakery-ia-ca-tls".into(),
                    key: "ca.crt".into(),
                }),
            }],
            target: BundleTarget {
                config_map: Some(KeyTarget {
                    key: "ca.crt".into(),
                }),
                namespace_selector: Some(NamespaceSelector {
                    match_labels: BTreeMap::from([(
                        "kubernetes.io/metadata.name".into(),
                        "bakery".into(),
                    )]),
                }),
            },
        },
    };
    let rule = PrometheusRule {
        metadata: meta("bakery-ia-certificates", namespace),
        spec: PrometheusRuleSpec {
            groups: vec![RuleGroup {
                name: "bakery-ia.certificates".into(),
                rules: vec![Rule {
                    alert: "BakeryCertificateNotReady".into(),
                    expr: "certmanager_certificate_ready_status{condition=\"False\"} == 1".into(),
                    for_: Some("10m".into()),
                    labels: BTreeMap::from([("severity".into(), "warning".into())]),
                    annotations: BTreeMap::from([("summary".into(), "not ready".into())]),
                }],
            }],
        },
    };
    vec![
        Object::PrometheusRule(Box::new(rule)),
        Object::Bundle(Box::new(bundle)),
        Object::Issuer(Box::new(self_signed)),
        Object::Certificate(Box::new(ca)),
        Object::Issuer(Box::new(ca_issuer)),
        Object::Certificate(Box::new(server)),
        Object::ClusterIssuer(Box::new(cluster)),
    ]
}

/// Renders objects as one generated file and reads its documents back.
fn rendered(objects: Vec<Object>) -> Vec<Value> {
    let tree = Tree::from([("base/tls.yaml".to_owned(), Document::Objects(objects))]);
    let files = bakeryc::render::render(tree).unwrap();
    serde_saphyr::from_multiple(&files["base/tls.yaml"]).unwrap()
}

#[test]
fn every_custom_resource_type_validates_against_its_crd() {
    let objects = every_custom_resource();
    let documents = rendered(objects.clone());
    assert_eq!(documents.len(), objects.len());
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "PrometheusRule",
            "Bundle",
            "Issuer",
            "Certificate",
            "Issuer",
            "Certificate",
            "ClusterIssuer"
        ],
        "objects render in the order compile lists them"
    );
    for (document, problems) in documents.iter().zip(validate(&documents)) {
        assert!(
            problems.is_empty(),
            "{}/{}: {problems:#?}",
            document["kind"],
            document["metadata"]["name"]
        );
    }
    // The YAML is the typed value, nothing lost or added on the way.
    for (object, document) in objects.iter().zip(&documents) {
        let again = match object {
            Object::Certificate(_) => {
                Object::Certificate(serde_json::from_value(document.clone()).unwrap())
            }
            Object::Issuer(_) => Object::Issuer(serde_json::from_value(document.clone()).unwrap()),
            Object::ClusterIssuer(_) => {
                Object::ClusterIssuer(serde_json::from_value(document.clone()).unwrap())
            }
            Object::Bundle(_) => Object::Bundle(serde_json::from_value(document.clone()).unwrap()),
            Object::PrometheusRule(_) => {
                Object::PrometheusRule(serde_json::from_value(document.clone()).unwrap())
            }
            _ => unreachable!(),
        };
        assert_eq!(&again, object);
    }
}

/// The validation above can fail: a misspelt field, a bad enum value, a missing required field
/// and a namespace on a cluster-scoped kind are each refused.
#[test]
fn the_crd_validation_refuses_what_the_api_server_would() {
    let documents = rendered(every_custom_resource());
    let server = documents
        .iter()
        .find(|d| d["metadata"]["name"] == "auth-db-tls")
        .unwrap();
    let cluster = documents
        .iter()
        .find(|d| d["kind"] == "ClusterIssuer")
        .unwrap();
    let mut misspelt = server.clone();
    misspelt["spec"]["dnsName"] = json!(["x"]);
    let mut bad_enum = server.clone();
    bad_enum["spec"]["privateKey"]["rotationPolicy"] = json!("Sometimes");
    let mut nested_unknown = server.clone();
    nested_unknown["spec"]["issuerRef"]["namespace"] = json!("other");
    let mut missing = server.clone();
    missing["spec"]
        .as_object_mut()
        .unwrap()
        .remove("secretName");
    let mut namespaced_cluster = cluster.clone();
    namespaced_cluster["metadata"]["namespace"] = json!("bakery");
    let mut unknown_kind = server.clone();
    unknown_kind["apiVersion"] = json!("cert-manager.io/v2");
    let cases = [
        ("dnsName", misspelt),
        ("Sometimes", bad_enum),
        ("namespace", nested_unknown),
        ("secretName", missing),
        ("cluster-scoped", namespaced_cluster),
        ("no CRD", unknown_kind),
    ];
    let documents: Vec<Value> = cases.iter().map(|(_, d)| d.clone()).collect();
    for ((needle, _), problems) in cases.iter().zip(validate(&documents)) {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle}: {problems:#?}"
        );
    }
}

/// Every custom resource the cert-manager fixtures compile to (issuers, CA and server
/// Certificates, and whatever else they emit) is valid for its CRD, and no Secret is generated:
/// cert-manager writes them in the cluster.
#[test]
fn compiled_cert_manager_fixtures_validate_against_their_crds() {
    // The repo's bakery.toml too (it runs on cert-manager).
    let repo = std::fs::read_to_string("bakery.toml").unwrap();
    assert!(repo.contains("provider = \"cert-manager\""));
    let cases = ["cert-manager", "cert-manager-cluster-issuer"].map(|fixture| {
        let path = format!("tests/fixtures/{fixture}/bakery.toml");
        (fixture, std::fs::read_to_string(path).unwrap())
    });
    for (fixture, source) in cases.into_iter().chain([("bakery.toml", repo)]) {
        let checked = bakeryc::check(&source);
        let platform = checked.platform.expect("the fixture is valid");
        let files = bakeryc::build(&platform).unwrap();
        let documents: Vec<Value> = files
            .iter()
            .filter(|(path, _)| path.starts_with("base/"))
            .flat_map(|(_, text)| serde_saphyr::from_multiple::<Value>(text).unwrap())
            .filter(Value::is_object)
            .collect();
        assert!(
            documents.iter().all(|d| d["kind"] != "Secret"),
            "{fixture}: no Secret in generated/"
        );
        let custom: Vec<Value> = documents
            .into_iter()
            .filter(|d| {
                !d["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("v1")
                    && !d["apiVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(".k8s.io/")
                    && d["apiVersion"] != "apps/v1"
                    && d["apiVersion"] != "batch/v1"
                    && d["kind"] != "Kustomization"
            })
            .collect();
        // The CA bundle for clients (ConfigMap `<platform>-ca`, key ca.crt) is trust-manager's
        // copy of the CA Certificate's Secret, when bakeryc bootstraps the CA.
        let ca_secret = custom
            .iter()
            .find(|d| d["kind"] == "Certificate" && d["spec"]["isCA"] == true)
            .map(|ca| ca["spec"]["secretName"].clone());
        let bundle = custom.iter().find(|d| d["kind"] == "Bundle");
        match (ca_secret, bundle) {
            (Some(secret), Some(bundle)) => {
                let name = platform.ca_config_map();
                assert_eq!(bundle["metadata"]["name"], name.as_str());
                assert_eq!(bundle["spec"]["sources"][0]["secret"]["name"], secret);
                assert_eq!(bundle["spec"]["sources"][0]["secret"]["key"], "ca.crt");
                assert_eq!(bundle["spec"]["target"]["configMap"]["key"], "ca.crt");
            }
            (None, None) => {}
            (secret, bundle) => panic!("{fixture}: CA secret {secret:?} but Bundle {bundle:?}"),
        }
        let certificates = custom.iter().filter(|d| d["kind"] == "Certificate").count();
        assert!(certificates >= 2, "{fixture}: {certificates} Certificates");
        for (document, problems) in custom.iter().zip(validate(&custom)) {
            assert!(
                problems.is_empty(),
                "{fixture}: {}/{}: {problems:#?}",
                document["kind"],
                document["metadata"]["name"]
            );
        }
    }
}

/// The External Secrets objects that the fixtures compile to (a Password generator, or a store,
/// per workload) and the Argo CD Applications are valid for their CRDs (External Secrets v2.9,
/// Argo CD) and read back into the same typed values.
#[test]
fn external_secrets_objects_validate_against_their_crds() {
    for fixture in [
        "external-secrets-generator",
        "external-secrets-store",
        "gitops",
    ] {
        let source =
            std::fs::read_to_string(format!("tests/fixtures/{fixture}/bakery.toml")).unwrap();
        let platform = bakeryc::check(&source).platform.unwrap();
        let objects: Vec<Object> = bakeryc::compile::compile(&platform)
            .into_values()
            .filter_map(|document| match document {
                Document::Objects(objects) => Some(objects),
                _ => None,
            })
            .flatten()
            .filter(|o| {
                matches!(
                    o,
                    Object::ExternalSecret(_) | Object::Password(_) | Object::Application(_)
                )
            })
            .collect();
        assert!(objects.len() >= 3, "{fixture}: {} objects", objects.len());
        let documents = rendered(objects.clone());
        for (document, problems) in documents.iter().zip(validate(&documents)) {
            assert!(
                problems.is_empty(),
                "{fixture} {}/{}: {problems:#?}",
                document["kind"],
                document["metadata"]["name"]
            );
        }
        for (object, document) in objects.iter().zip(&documents) {
            let again = match object {
                Object::ExternalSecret(_) => {
                    Object::ExternalSecret(serde_json::from_value(document.clone()).unwrap())
                }
                Object::Password(_) => {
                    Object::Password(serde_json::from_value(document.clone()).unwrap())
                }
                Object::Application(_) => {
                    Object::Application(serde_json::from_value(document.clone()).unwrap())
                }
                _ => unreachable!(),
            };
            assert_eq!(&again, object);
        }
    }
}
