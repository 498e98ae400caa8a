//! The restricted Pod Security Standard on every pod template of every kind bakeryc renders: the
//! repo's bakery.toml and every fixture under tests/fixtures, each tree's files as written and
//! base/ and every overlay as `kubectl kustomize` renders them (so overlay patches are covered).
//! The rules are the published baseline and restricted controls
//! (https://kubernetes.io/docs/concepts/security/pod-security-standards/), plus bakeryc's own
//! stricter hardening and its probe policy (`check_probes`). Objects are read as plain data, so a kind added later is checked too; an
//! object with containers where no known kind keeps them, or a tree with no pod template at all,
//! fails the test instead of passing it unchecked.

mod common;

use common::{Test, kustomize};

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Volume sources the restricted profile allows.
const ALLOWED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The baseline profile's safe sysctls.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

const SELINUX_TYPES: &[&str] = &[
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Kinds whose pods run for good, so their containers need probes.
const LONG_RUNNING: &[&str] = &["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"];

/// Where each kind keeps its pod template (`metadata` + `spec`); `None` for kinds without one.
fn pod_template(doc: &Value) -> Option<&Value> {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let template = match kind {
        "Pod" => doc,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &doc["spec"]["template"],
        "CronJob" => &doc["spec"]["jobTemplate"]["spec"]["template"],
        "PodTemplate" => &doc["template"],
        _ => return None,
    };
    Some(template)
}

/// How many `containers` keys the document holds anywhere: each must belong to a pod template
/// this test found, or a kind it does not know carries pods and would go unchecked.
fn containers_keys(value: &Value) -> usize {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, v)| usize::from(key == "containers") + containers_keys(v))
            .sum(),
        Value::Array(items) => items.iter().map(containers_keys).sum(),
        _ => 0,
    }
}

fn is_true(value: &Value) -> bool {
    value.as_bool() == Some(true)
}

/// Every rule broken by the pod templates in `doc`, as "where: what" lines; the count of pod
/// templates found is added to `templates`.
fn violations(doc: &Value, templates: &mut usize) -> Vec<String> {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let name = format!("{kind}/{}", doc["metadata"]["name"].as_str().unwrap_or("?"));
    let mut found = Vec::new();
    let template = pod_template(doc).filter(|t| t["spec"]["containers"].is_array());
    let expected = usize::from(template.is_some());
    if containers_keys(doc) != expected {
        found.push(format!(
            "{name}: containers outside a known pod template: teach pod_template() this kind"
        ));
    }
    let Some(template) = template else {
        return found;
    };
    *templates += 1;
    let spec = &template["spec"];
    let pod_security = &spec["securityContext"];
    let mut bad = |rule: &str| found.push(format!("{name}: {rule}"));

    // Baseline: the pod.
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if is_true(&spec[host]) {
            bad(&format!("host namespaces: {host} is true"));
        }
    }
    if is_true(&pod_security["windowsOptions"]["hostProcess"]) {
        bad("HostProcess pod");
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        for source in volume.as_object().into_iter().flatten().map(|(k, _)| k) {
            if source != "name" && !ALLOWED_VOLUMES.contains(&source.as_str()) {
                bad(&format!(
                    "volume {} of type {source} (hostPath and other host volumes are forbidden)",
                    volume["name"]
                ));
            }
        }
    }
    for sysctl in pod_security["sysctls"].as_array().into_iter().flatten() {
        let sysctl = sysctl["name"].as_str().unwrap_or_default();
        if !SAFE_SYSCTLS.contains(&sysctl) {
            bad(&format!("unsafe sysctl {sysctl}"));
        }
    }
    for (key, value) in template["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let value = value.as_str().unwrap_or_default();
        if key.starts_with("container.apparmor.security.beta.kubernetes.io/")
            && value != "runtime/default"
            && !value.starts_with("localhost/")
        {
            bad(&format!("AppArmor annotation {key}: {value}"));
        }
    }
    check_common_context(pod_security, "the pod", &mut bad);
    // Restricted: the pod.
    if pod_security["runAsUser"].as_i64() == Some(0) {
        bad("the pod runs as uid 0");
    }
    // bakeryc's own: the pod level alone names a non-root user and group, since an ephemeral
    // container (`kubectl debug`) gets only the pod's context; and an fsGroup, through which
    // the 0440 Secret files below are readable by the server.
    for field in ["runAsUser", "runAsGroup", "fsGroup"] {
        if pod_security[field].as_i64().is_none_or(|id| id == 0) {
            bad(&format!(
                "the pod's {field} is {} (not a non-root id)",
                pod_security[field]
            ));
        }
    }
    let pod_seccomp = pod_security["seccompProfile"]["type"].as_str();
    // bakeryc's own: no API token in pods that never call the API.
    if spec["automountServiceAccountToken"].as_bool() != Some(false) {
        bad("automountServiceAccountToken is not false");
    }
    // bakeryc's own: keys and passwords mounted 0440 (root and the pod's fsGroup), never
    // world-readable; the init container then copies the server key to 0600.
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        let secret = &volume["secret"];
        if secret.is_null() {
            continue;
        }
        let modes = std::iter::once(&secret["defaultMode"]).chain(
            secret["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| &i["mode"]),
        );
        for (at, mode) in modes.enumerate() {
            let broader = mode.as_u64().is_none_or(|m| m & !0o440 != 0);
            if (at == 0 || !mode.is_null()) && broader {
                bad(&format!(
                    "Secret volume {} is mounted with mode {mode} (not within 0440 = 288)",
                    volume["name"]
                ));
            }
        }
    }

    let groups = ["containers", "initContainers", "ephemeralContainers"];
    for group in groups {
        for container in spec[group].as_array().into_iter().flatten() {
            let at = format!("{group} {}", container["name"].as_str().unwrap_or("?"));
            let context = &container["securityContext"];
            // Baseline.
            if is_true(&context["privileged"]) {
                bad(&format!("{at}: privileged"));
            }
            if is_true(&context["windowsOptions"]["hostProcess"]) {
                bad(&format!("{at}: HostProcess"));
            }
            for port in container["ports"].as_array().into_iter().flatten() {
                if port["hostPort"].as_i64().is_some_and(|p| p != 0) {
                    bad(&format!("{at}: hostPort {}", port["hostPort"]));
                }
            }
            if context["procMount"]
                .as_str()
                .is_some_and(|mount| mount != "Default")
            {
                bad(&format!("{at}: procMount {}", context["procMount"]));
            }
            check_common_context(context, &at, &mut bad);
            // Restricted.
            if context["allowPrivilegeEscalation"].as_bool() != Some(false) {
                bad(&format!("{at}: allowPrivilegeEscalation is not false"));
            }
            let non_root = context["runAsNonRoot"]
                .as_bool()
                .or(pod_security["runAsNonRoot"].as_bool());
            if non_root != Some(true) {
                bad(&format!(
                    "{at}: runAsNonRoot is not true (pod or container)"
                ));
            }
            if context["runAsUser"].as_i64() == Some(0) {
                bad(&format!("{at}: runs as uid 0"));
            }
            let seccomp = context["seccompProfile"]["type"].as_str().or(pod_seccomp);
            if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                bad(&format!(
                    "{at}: seccompProfile is {seccomp:?}, not RuntimeDefault or Localhost"
                ));
            }
            let capabilities = &context["capabilities"];
            let drops_all = capabilities["drop"]
                .as_array()
                .is_some_and(|drop| drop.iter().any(|c| c == "ALL"));
            if !drops_all {
                bad(&format!("{at}: capabilities do not drop ALL"));
            }
            for added in capabilities["add"].as_array().into_iter().flatten() {
                if added != "NET_BIND_SERVICE" {
                    bad(&format!("{at}: adds capability {added}"));
                }
            }
            // bakeryc's own hardening, beyond the standard.
            if context["readOnlyRootFilesystem"].as_bool() != Some(true) {
                bad(&format!("{at}: root filesystem is writable"));
            }
            let resources = &container["resources"];
            if !(resources["requests"].is_object() && resources["limits"].is_object()) {
                bad(&format!("{at}: no resource requests and limits"));
            }
            let image = container["image"].as_str().unwrap_or_default();
            if image.ends_with(":latest") || !(image.contains(':') || image.contains('@')) {
                bad(&format!("{at}: image {image:?} is not pinned"));
            }
            for env in container["env"].as_array().into_iter().flatten() {
                if env.get("valueFrom").is_some() {
                    bad(&format!(
                        "{at}: env {} comes from an object (secrets only through files)",
                        env["name"]
                    ));
                }
            }
            let serves = group == "containers" && LONG_RUNNING.contains(&kind);
            if serves && !(container["livenessProbe"].is_object()) {
                bad(&format!("{at}: no liveness probe"));
            }
            if serves && !(container["readinessProbe"].is_object()) {
                bad(&format!("{at}: no readiness probe"));
            }
            if serves {
                check_probes(container, &at, &mut bad);
            }
        }
    }
    found
}

/// The kubelet's value for a probe's timing field the object leaves out (the API's defaults).
fn probe_seconds(probe: &Value, field: &str) -> i64 {
    let default = match field {
        "initialDelaySeconds" => 0,
        "periodSeconds" => 10,
        "timeoutSeconds" => 1,
        "failureThreshold" => 3,
        _ => unreachable!("{field} is not a probe timing"),
    };
    probe[field].as_i64().unwrap_or(default)
}

/// bakeryc's probe policy for a serving container. Each probe has exactly one handler (the API
/// refuses none or two), and a port handler names a port the container declares (the kubelet
/// probes the pod's IP, so a port nothing listens on fails forever). Liveness is more patient
/// than readiness, so a busy server leaves its Service before it is killed: it starts no
/// earlier, allows a 5-second answer (a TLS handshake or an fsync on a loaded node), and restarts
/// the server only after two minutes of failures (a checkpoint, an AOF rewrite, a slow disk).
fn check_probes(container: &Value, at: &str, bad: &mut impl FnMut(&str)) {
    const HANDLERS: [&str; 4] = ["exec", "httpGet", "tcpSocket", "grpc"];
    let declared = container["ports"].as_array().cloned().unwrap_or_default();
    for which in ["livenessProbe", "readinessProbe"] {
        let probe = &container[which];
        if !probe.is_object() {
            continue;
        }
        let handlers: Vec<&str> = HANDLERS
            .into_iter()
            .filter(|handler| probe[*handler].is_object())
            .collect();
        if handlers.len() != 1 {
            bad(&format!("{at}: {which} has handlers {handlers:?}, not one"));
        }
        if probe["exec"].is_object()
            && probe["exec"]["command"]
                .as_array()
                .is_none_or(Vec::is_empty)
        {
            bad(&format!("{at}: {which} runs no command"));
        }
        for handler in ["httpGet", "tcpSocket", "grpc"] {
            let port = &probe[handler]["port"];
            if !probe[handler].is_object() {
                continue;
            }
            let known = declared.iter().any(|declared| match port {
                Value::String(name) => declared["name"].as_str() == Some(name.as_str()),
                number => declared["containerPort"] == *number,
            });
            if !known {
                bad(&format!(
                    "{at}: {which} probes port {port}, which the container does not declare"
                ));
            }
        }
    }
    let (live, ready) = (&container["livenessProbe"], &container["readinessProbe"]);
    if !(live.is_object() && ready.is_object()) {
        return;
    }
    let timeout = probe_seconds(live, "timeoutSeconds");
    if timeout < 5 {
        bad(&format!(
            "{at}: livenessProbe times out after {timeout} s (under 5 s)"
        ));
    }
    let (live_start, ready_start) = (
        probe_seconds(live, "initialDelaySeconds"),
        probe_seconds(ready, "initialDelaySeconds"),
    );
    if live_start < ready_start {
        bad(&format!(
            "{at}: livenessProbe starts after {live_start} s, before readinessProbe ({ready_start} s)"
        ));
    }
    let patience = probe_seconds(live, "periodSeconds") * probe_seconds(live, "failureThreshold");
    if patience < 120 {
        bad(&format!(
            "{at}: livenessProbe restarts the server after {patience} s of failures (under 120 s)"
        ));
    }
}

/// Rules the pod and each container share: SELinux, AppArmor, and never an unconfined seccomp.
fn check_common_context(context: &Value, at: &str, bad: &mut impl FnMut(&str)) {
    let selinux = &context["seLinuxOptions"];
    let selinux_type = selinux["type"].as_str().unwrap_or_default();
    if !selinux_type.is_empty() && !SELINUX_TYPES.contains(&selinux_type) {
        bad(&format!("{at}: SELinux type {selinux_type}"));
    }
    for field in ["user", "role"] {
        if selinux[field].as_str().is_some_and(|v| !v.is_empty()) {
            bad(&format!("{at}: SELinux {field} is set"));
        }
    }
    let apparmor = context["appArmorProfile"]["type"].as_str();
    if apparmor.is_some_and(|profile| !matches!(profile, "RuntimeDefault" | "Localhost")) {
        bad(&format!("{at}: AppArmor profile {apparmor:?}"));
    }
    if context["seccompProfile"]["type"] == "Unconfined" {
        bad(&format!("{at}: seccomp Unconfined"));
    }
}

/// Every document of a multi-document YAML text.
fn documents(text: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(text)
        .unwrap()
        .into_iter()
        .filter(Value::is_object)
        .collect()
}

/// The repo's bakery.toml and every .toml under tests/fixtures.
fn configs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut configs = vec![root.join("bakery.toml")];
    let mut pending = vec![root.join("tests/fixtures")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                configs.push(path);
            }
        }
    }
    configs.sort();
    assert!(configs.len() > 3, "the fixtures are missing: {configs:?}");
    configs
}

/// Checks `docs` (one rendering of one tree) and fails on any violation, or when it holds fewer
/// pod templates than `at_least`.
fn check_rendering(what: &str, docs: &[Value], at_least: usize) {
    let mut templates = 0;
    let problems: Vec<String> = docs
        .iter()
        .flat_map(|doc| violations(doc, &mut templates))
        .collect();
    assert!(
        problems.is_empty(),
        "{what} breaks the restricted Pod Security Standard or bakeryc's hardening:\n{}",
        problems.join("\n")
    );
    assert!(
        templates >= at_least.max(1),
        "{what}: {templates} pod template(s) found, expected at least {}: nothing was checked",
        at_least.max(1)
    );
}

#[test]
fn every_pod_template_of_every_kind_is_restricted() {
    for config in configs() {
        let source = std::fs::read_to_string(&config).unwrap();
        let platform = bakeryc::check(&source)
            .platform
            .unwrap_or_else(|| panic!("{} is invalid", config.display()));
        let workloads = platform.databases.len() + usize::from(platform.cache.is_some());
        let files = bakeryc::build(&platform).unwrap();
        let dir = Test::new();
        let out = dir.join("generated");
        bakeryc::output::write_tree(&out, &files).unwrap();
        let name = config.display().to_string();

        // Overlay patches are partial objects (a strategic-merge patch names a container and
        // the one field it changes); what they make is checked in the kustomize renderings below.
        let written: Vec<Value> = files
            .iter()
            .filter(|(path, _)| !path.contains("/patches/"))
            .flat_map(|(_, text)| documents(text))
            .collect();
        check_rendering(&format!("{name}: the files"), &written, workloads);
        check_rendering(
            &format!("{name}: kustomize base"),
            &kustomize(&out.join("base")),
            workloads,
        );
        for environment in &platform.environments {
            let overlay = out.join("overlays").join(environment.name.as_str());
            check_rendering(
                &format!("{name}: kustomize overlays/{}", environment.name.as_str()),
                &kustomize(&overlay),
                workloads,
            );
        }
    }
}

// ----------------------------------------------------------- the check can fail ---------

/// A compiled database Deployment of the repo's bakery.toml, as data.
fn real_deployment() -> Value {
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("bakery.toml")).unwrap();
    let platform = bakeryc::check(&source).platform.unwrap();
    bakeryc::build(&platform)
        .unwrap()
        .values()
        .flat_map(|text| documents(text))
        .find(|doc| doc["kind"] == "Deployment")
        .expect("a Deployment")
}

fn problems_of(doc: &Value) -> Vec<String> {
    let mut templates = 0;
    violations(doc, &mut templates)
}

#[test]
fn each_weakening_of_a_real_pod_is_caught() {
    let clean = real_deployment();
    assert_eq!(problems_of(&clean), Vec::<String>::new());
    let weakenings: &[(&str, &str, Value)] = &[
        (
            "/spec/template/spec/hostNetwork",
            "hostNetwork",
            true.into(),
        ),
        ("/spec/template/spec/hostPID", "hostPID", true.into()),
        (
            "/spec/template/spec/volumes/0",
            "hostPath",
            serde_json::json!({"name": "config", "hostPath": {"path": "/"}}),
        ),
        (
            "/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation",
            "allowPrivilegeEscalation",
            true.into(),
        ),
        (
            "/spec/template/spec/initContainers/0/securityContext/privileged",
            "privileged",
            true.into(),
        ),
        (
            "/spec/template/spec/containers/0/securityContext/capabilities/add",
            "adds capability",
            serde_json::json!(["SYS_ADMIN"]),
        ),
        (
            "/spec/template/spec/containers/0/securityContext/capabilities/drop",
            "drop ALL",
            serde_json::json!(["NET_RAW"]),
        ),
        (
            "/spec/template/spec/initContainers/0/securityContext/seccompProfile/type",
            "Unconfined",
            "Unconfined".into(),
        ),
        (
            "/spec/template/spec/containers/0/securityContext/runAsUser",
            "uid 0",
            0.into(),
        ),
        (
            "/spec/template/spec/containers/0/securityContext/runAsNonRoot",
            "runAsNonRoot",
            false.into(),
        ),
        (
            "/spec/template/spec/containers/0/ports/0/hostPort",
            "hostPort",
            5432.into(),
        ),
        (
            "/spec/template/spec/containers/0/livenessProbe/timeoutSeconds",
            "times out after 1 s",
            1.into(),
        ),
        (
            "/spec/template/spec/containers/0/livenessProbe/failureThreshold",
            "after 60 s of failures",
            3.into(),
        ),
        (
            "/spec/template/spec/containers/0/livenessProbe/initialDelaySeconds",
            "before readinessProbe",
            0.into(),
        ),
        (
            "/spec/template/spec/containers/0/livenessProbe/tcpSocket",
            "not one",
            serde_json::json!({"port": 5432}),
        ),
        (
            "/spec/template/spec/containers/0/readinessProbe/exec",
            "not one",
            Value::Null,
        ),
        (
            "/spec/template/spec/containers/0/livenessProbe/exec/command",
            "runs no command",
            serde_json::json!([]),
        ),
        (
            "/spec/template/spec/containers/0/livenessProbe",
            "probes port \"nope\"",
            serde_json::json!({
                "tcpSocket": {"port": "nope"},
                "initialDelaySeconds": 60,
                "periodSeconds": 20,
                "timeoutSeconds": 5,
                "failureThreshold": 6,
            }),
        ),
        (
            "/spec/template/spec/securityContext/runAsUser",
            "the pod's runAsUser is null",
            Value::Null,
        ),
        (
            "/spec/template/spec/securityContext/runAsGroup",
            "the pod's runAsGroup is 0",
            0.into(),
        ),
        (
            "/spec/template/spec/securityContext/fsGroup",
            "the pod's fsGroup is null",
            Value::Null,
        ),
        (
            "/spec/template/spec/securityContext/sysctls",
            "unsafe sysctl",
            serde_json::json!([{"name": "kernel.msgmax", "value": "1"}]),
        ),
    ];
    for (pointer, expected, value) in weakenings {
        let mut weak = clean.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let parent = weak
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("{parent} is not in the Deployment"));
        match parent {
            Value::Array(items) => items[key.parse::<usize>().unwrap()] = value.clone(),
            Value::Object(map) => {
                map.insert(key.to_owned(), value.clone());
            }
            _ => panic!("{parent} holds no {key}"),
        }
        let problems = problems_of(&weak);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{pointer} = {value} is not caught: {problems:?}"
        );
    }
    // A Secret volume left at the kubelet's default 0644 (world-readable keys).
    let mut weak = clean.clone();
    let volumes = weak["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap();
    let secret = volumes
        .iter_mut()
        .find(|v| v["secret"].is_object())
        .expect("a Secret volume");
    secret["secret"]
        .as_object_mut()
        .unwrap()
        .remove("defaultMode");
    assert!(
        problems_of(&weak)
            .iter()
            .any(|p| p.contains("mounted with mode null")),
        "{:?}",
        problems_of(&weak)
    );
    secret_mode_caught(&clean, 0o644);
    secret_mode_caught(&clean, 0o444);
    // A container without any seccomp profile, when the pod sets none either.
    let mut weak = clean.clone();
    weak["spec"]["template"]["spec"]["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("seccompProfile");
    weak["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("seccompProfile");
    assert!(
        problems_of(&weak)
            .iter()
            .any(|p| p.contains("seccompProfile is None"))
    );
}

fn secret_mode_caught(clean: &Value, mode: u32) {
    let mut weak = clean.clone();
    let volumes = weak["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap();
    for volume in volumes.iter_mut().filter(|v| v["secret"].is_object()) {
        volume["secret"]["defaultMode"] = mode.into();
    }
    assert!(
        problems_of(&weak)
            .iter()
            .any(|p| p.contains(&format!("mounted with mode {mode}"))),
        "mode {mode:o} is not caught"
    );
}

/// The same weakened pod is found in every kind that carries a pod template, and an unknown kind
/// with containers is refused rather than skipped.
#[test]
fn pod_templates_are_found_in_every_kind() {
    let clean = real_deployment();
    let mut weak_template = clean["spec"]["template"].clone();
    weak_template["spec"]["hostIPC"] = true.into();
    let wrap = |kind: &str| -> Value {
        let metadata = serde_json::json!({"name": "probe"});
        match kind {
            "Pod" => serde_json::json!({"kind": kind, "metadata": metadata,
                "spec": weak_template["spec"].clone()}),
            "CronJob" => serde_json::json!({"kind": kind, "metadata": metadata,
                "spec": {"jobTemplate": {"spec": {"template": weak_template.clone()}}}}),
            "PodTemplate" => {
                serde_json::json!({"kind": kind, "metadata": metadata, "template": weak_template.clone()})
            }
            _ => serde_json::json!({"kind": kind, "metadata": metadata,
                "spec": {"template": weak_template.clone()}}),
        }
    };
    for kind in [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
        "Job",
        "CronJob",
        "PodTemplate",
    ] {
        let problems = problems_of(&wrap(kind));
        assert!(
            problems.iter().any(|p| p.contains("hostIPC")),
            "{kind}: {problems:?}"
        );
    }
    let unknown = wrap("Rollout");
    assert!(
        problems_of(&unknown)
            .iter()
            .any(|p| p.contains("containers outside a known pod template")),
        "an unknown kind carrying containers must fail"
    );
}

#[test]
#[should_panic(expected = "0 pod template(s) found")]
fn a_rendering_without_pod_templates_fails() {
    let config_map = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "x"}});
    check_rendering("a tree without workloads", &[config_map], 0);
}
