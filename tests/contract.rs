//! The contract of bakery.toml as others read it: the committed bakery.schema.json and the
//! README's reference table are exactly what the definitions in `config` derive, a real JSON
//! Schema validator (Python's jsonschema) accepts every valid file and refuses the ui cases of
//! unknown keys, wrong types and bad choices, and a taplo `#:schema` first line changes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use bakeryc::diagnostic::Code;

const START: &str = "<!-- config-reference:start (generated: BAKERY_UPDATE_README=1 cargo test --test contract) -->\n";
const END: &str = "<!-- config-reference:end -->";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_schema_is_what_bakeryc_schema_prints() {
    let committed = std::fs::read_to_string(root().join("bakery.schema.json")).unwrap();
    assert!(
        committed == bakeryc::config::schema_text(),
        "bakery.schema.json is stale: run `cargo run -- schema > bakery.schema.json`"
    );
}

#[test]
fn readme_table_is_the_definitions() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme.find(START).expect("README has the start marker") + START.len();
    let end = readme.find(END).expect("README has the end marker");
    let table = bakeryc::config::markdown_table();
    if readme[start..end] == table {
        return;
    }
    if std::env::var_os("BAKERY_UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "README's bakery.toml reference differs from the definitions in src/config/: \
         run BAKERY_UPDATE_README=1 cargo test --test contract"
    );
}

#[test]
fn a_schema_line_first_changes_no_diagnostic() {
    let line = "#:schema ./bakery.schema.json\n";
    for case in ui_cases() {
        let source = std::fs::read_to_string(&case).unwrap();
        let plain = bakeryc::check(&source).diagnostics;
        let marked = bakeryc::check(&format!("{line}{source}")).diagnostics;
        assert_eq!(plain.len(), marked.len(), "{}", case.display());
        for (a, b) in plain.iter().zip(&marked) {
            assert_eq!((a.code, &a.message), (b.code, &b.message));
            // Problems of the whole file stay at its start; every other one moves by the line.
            let moved = if a.primary.span.start == 0 {
                0
            } else {
                a.primary.span.start + line.len()
            };
            assert_eq!(
                moved,
                b.primary.span.start,
                "{}: {}",
                case.display(),
                a.message
            );
        }
    }
    let repo = std::fs::read_to_string(root().join("bakery.toml")).unwrap();
    assert!(repo.starts_with(line), "bakery.toml names its schema first");
    assert!(bakeryc::check(&repo).platform.is_some());
}

fn ui_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/ui"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    cases
}

/// Every valid bakery.toml the repo has: the real one, the fixtures, and the ui cases that
/// only warn.
fn valid_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("bakery.toml")];
    for fixture in std::fs::read_dir(root().join("tests/fixtures")).unwrap() {
        for file in std::fs::read_dir(fixture.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.extend(ui_cases().into_iter().filter(|case| {
        let source = std::fs::read_to_string(case).unwrap();
        !bakeryc::check(&source)
            .diagnostics
            .iter()
            .any(bakeryc::diagnostic::Diagnostic::is_error)
    }));
    files.sort();
    files
}

/// The ui cases whose mistake is the file's shape, which the schema can see: an unknown key,
/// a value of the wrong type, a value outside a fixed list, a label bakeryc sets.
fn shape_mistakes() -> Vec<PathBuf> {
    let shape = [
        Code::UnknownKey,
        Code::WrongType,
        Code::InvalidChoice,
        Code::KeyAlgorithm,
        Code::ReservedLabel,
    ];
    ui_cases()
        .into_iter()
        .filter(|case| {
            let source = std::fs::read_to_string(case).unwrap();
            let codes: BTreeSet<Code> = bakeryc::check(&source)
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect();
            !codes.contains(&Code::TomlSyntax) && shape.iter().any(|c| codes.contains(c))
        })
        .collect()
}

/// jsonschema's verdict on each file: path -> None when valid, or the first error.
fn verdicts(files: &[PathBuf]) -> Vec<(PathBuf, Option<String>)> {
    let python = std::env::var("BAKERY_E2E_PYTHON")
        .expect("BAKERY_E2E_PYTHON: run the suite with scripts/test, which installs jsonschema");
    let output = Command::new(python)
        .arg(root().join("tests/e2e/validate_schema.py"))
        .arg(root().join("bakery.schema.json"))
        .args(files)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), files.len(), "{stdout}");
    files
        .iter()
        .zip(lines)
        .map(|(file, line)| {
            let error = line.strip_prefix("invalid ").map(|rest| {
                rest.strip_prefix(&*file.to_string_lossy())
                    .unwrap_or(rest)
                    .to_owned()
            });
            (file.clone(), error)
        })
        .collect()
}

#[test]
fn jsonschema_accepts_every_valid_file() {
    let files = valid_files();
    assert!(files.len() >= 8, "{files:?}");
    let refused: Vec<String> = verdicts(&files)
        .into_iter()
        .filter_map(|(file, error)| Some(format!("{}{}", file.display(), error?)))
        .collect();
    assert!(
        refused.is_empty(),
        "the schema refuses valid files: {refused:#?}"
    );
}

#[test]
fn jsonschema_refuses_unknown_keys_wrong_types_and_bad_choices() {
    let files = shape_mistakes();
    assert!(files.len() >= 15, "{files:?}");
    let accepted: Vec<String> = verdicts(&files)
        .into_iter()
        .filter(|(_, error)| error.is_none())
        .map(|(file, _)| file.display().to_string())
        .collect();
    assert!(
        accepted.is_empty(),
        "the schema accepts broken files: {accepted:#?}"
    );
}

/// The patterns of names, common names and fingerprints refuse what `check` refuses for them:
/// a database or cache name starting with a digit (its Service is a DNS-1035 label), a control
/// character in the CA's common name, a `trusted_cas` entry that is not a fingerprint.
#[test]
fn jsonschema_refuses_what_the_value_patterns_forbid() {
    let files: Vec<PathBuf> = [
        "name-starts-with-digit.toml",
        "tls-common-name-control-character.toml",
        "environment-trusted-ca-not-a-fingerprint.toml",
    ]
    .iter()
    .map(|case| root().join("tests/ui").join(case))
    .collect();
    let accepted: Vec<String> = verdicts(&files)
        .into_iter()
        .filter(|(_, error)| error.is_none())
        .map(|(file, _)| file.display().to_string())
        .collect();
    assert!(
        accepted.is_empty(),
        "the schema accepts broken files: {accepted:#?}"
    );
}

/// `[platform] labels` lands on the metadata of every object, pod template and Secret template,
/// and on nothing else: without it, the labels are exactly bakeryc's own.
#[test]
fn platform_labels_are_on_every_object() {
    let repo = std::fs::read_to_string(root().join("bakery.toml")).unwrap();
    let labelled = repo.replacen(
        "[platform]\n",
        "[platform]\nlabels = { team = \"payments\", \"example.com/tier\" = \"data\" }\n",
        1,
    );
    let with = objects(&labelled);
    let without = objects(&repo);
    assert_eq!(with.len(), without.len());
    let mut seen = 0;
    for (labelled, plain) in with.iter().zip(&without) {
        let mut expected = plain.clone();
        strip_labels(&mut expected);
        for labels in label_maps(plain) {
            assert!(
                labels.keys().all(|k| k.starts_with("app.kubernetes.io/")),
                "{plain}"
            );
        }
        for labels in label_maps(labelled) {
            assert_eq!(
                labels.get("team").map(String::as_str),
                Some("payments"),
                "{labelled}"
            );
            assert_eq!(
                labels.get("example.com/tier").map(String::as_str),
                Some("data")
            );
            seen += 1;
        }
        let mut got = labelled.clone();
        strip_labels(&mut got);
        assert_eq!(got, expected, "labels changed more than the labels");
    }
    assert!(seen > without.len(), "every object: {seen}");
    for object in &with {
        if let Some(labels) = object.pointer("/spec/template/metadata/labels") {
            let labels: std::collections::BTreeMap<String, String> =
                serde_json::from_value(labels.clone()).unwrap();
            assert!(
                labels.keys().all(|k| k.starts_with("app.kubernetes.io/")),
                "a pod template carries a platform label: {object}"
            );
        }
    }
    let mut files =
        vec![std::env::temp_dir().join(format!("bakery-labels-{}.toml", std::process::id()))];
    std::fs::write(&files[0], &labelled).unwrap();
    let verdict = verdicts(&files);
    std::fs::remove_file(files.remove(0)).unwrap();
    assert_eq!(verdict[0].1, None, "the schema refuses labels");
}

fn objects(source: &str) -> Vec<serde_json::Value> {
    let platform = bakeryc::check(source).platform.expect("valid");
    bakeryc::compile::compile(&platform)
        .into_values()
        .filter_map(|document| match document {
            bakeryc::compile::Document::Objects(objects) => Some(objects),
            _ => None,
        })
        .flatten()
        .map(|object| serde_json::to_value(object).unwrap())
        .collect()
}

/// The labels maps of an object that carry `[platform] labels`: its own, not its pod
/// template's (a changed label there would restart the servers).
fn label_maps(object: &serde_json::Value) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut maps = Vec::new();
    for pointer in [
        "/metadata/labels",
        // The Secrets cert-manager writes from a Certificate are objects of the platform too.
        "/spec/secretTemplate/labels",
    ] {
        if let Some(labels) = object.pointer(pointer) {
            maps.push(serde_json::from_value(labels.clone()).unwrap());
        }
    }
    maps
}

/// Replaces each labels map by its bakeryc-set part only.
fn strip_labels(object: &mut serde_json::Value) {
    for pointer in [
        "/metadata/labels",
        "/spec/template/metadata/labels",
        // A CronJob's pods (backups, the restore template).
        "/spec/jobTemplate/spec/template/metadata/labels",
        // The Secrets cert-manager writes from a Certificate are objects of the platform too.
        "/spec/secretTemplate/labels",
    ] {
        if let Some(serde_json::Value::Object(labels)) = object.pointer_mut(pointer) {
            labels.retain(|key, _| key.starts_with("app.kubernetes.io/"));
        }
    }
}
