//! The diagnostics corpus: every `tests/ui/<case>.toml` is a broken bakery.toml, and its snapshot
//! (`tests/ui/snapshots/`) is exactly what a user sees: the exit status and every diagnostic as
//! `bakeryc check` renders it without color at 100 columns (with a `<case>.baseline`, the
//! bakery.toml deployed before, also what `build` refuses over its tree). Also checks that codes are unique and
//! that every code is shown by at least one case.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bakeryc::cli::{Findings, render_human};
use bakeryc::diagnostic::Code;

/// Codes no ui case can show, with the reason.
const NOT_EXERCISED: &[(Code, &str)] = &[(
    Code::SelectorChange,
    "selectors derive from a workload's kind and name, which no bakery.toml edit changes in place (tests/plan.rs refuses a changed selector in a tree)",
)];

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    cases
}

/// What `bakeryc check` finds in this file; with a `<case>.baseline` beside it (the bakery.toml
/// deployed before), also what `bakeryc build` refuses over that baseline's tree.
fn diagnostics(path: &Path) -> (String, bakeryc::Checked) {
    let source = std::fs::read_to_string(path).unwrap();
    let mut checked = bakeryc::check(&source);
    let baseline = path.with_extension("baseline");
    if baseline.exists() {
        let old = common::tree(&std::fs::read_to_string(baseline).unwrap());
        let new = common::tree(&source);
        checked
            .diagnostics
            .extend(bakeryc::plan::refuse::refusals(&source, &old, &new, false));
    }
    (source, checked)
}

/// What `bakeryc check` (or `build`, over a baseline) prints for this file, preceded by its exit
/// status.
fn rendered(path: &Path) -> (String, BTreeSet<Code>) {
    let (source, checked) = diagnostics(path);
    let status = i32::from(
        checked
            .diagnostics
            .iter()
            .any(bakeryc::diagnostic::Diagnostic::is_error),
    );
    let codes = checked.diagnostics.iter().map(|d| d.code).collect();
    let findings = Findings {
        path: PathBuf::from(path.file_name().unwrap()),
        source,
        diagnostics: checked.diagnostics,
    };
    let text = format!(
        "exit status: {status}\n\n{}",
        render_human(&findings, false, 100)
    );
    (text, codes)
}

#[test]
fn ui() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("ui/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("ui/*.toml", |path| {
            let (text, _) = rendered(path);
            insta::assert_snapshot!(text);
        });
    });
}

#[test]
fn every_case_reports_something_with_a_help_line() {
    for path in cases() {
        let (source, checked) = diagnostics(&path);
        assert!(
            !checked.diagnostics.is_empty(),
            "{} reports nothing",
            path.display()
        );
        for d in &checked.diagnostics {
            assert!(!d.help.is_empty(), "{}: {d:?} has no help", path.display());
            assert!(
                !d.primary.message.is_empty(),
                "{}: {d:?} has no label",
                path.display()
            );
            let spans = std::iter::once(&d.primary).chain(&d.secondary);
            for label in spans {
                assert!(
                    label.span.end <= source.len(),
                    "{}: {d:?} points past the end",
                    path.display()
                );
            }
        }
        let starts: Vec<usize> = checked
            .diagnostics
            .iter()
            .map(|d| d.primary.span.start)
            .collect();
        assert!(
            starts.is_sorted(),
            "{}: diagnostics are not sorted by position",
            path.display()
        );
    }
}

#[test]
fn there_are_enough_cases() {
    let count = cases().len();
    assert!(count >= 40, "only {count} ui cases");
}

/// Every code name ever released, in the order added. CI annotations and `explain` depend on
/// them, so this list only grows: a renamed code keeps its old name here (and as an alias in
/// diagnostic.rs), and a new code is added here on purpose.
const RELEASED: &[&str] = &[
    "bakery::toml::syntax",
    "bakery::toml::wrong-type",
    "bakery::toml::unknown-key",
    "bakery::toml::missing-key",
    "bakery::name::invalid",
    "bakery::name::too-long",
    "bakery::name::duplicate",
    "bakery::name::collides-with-cache",
    "bakery::environment::unknown-database",
    "bakery::environment::unknown-cache",
    "bakery::platform::reserved-label",
    "bakery::quantity::invalid",
    "bakery::quantity::not-positive",
    "bakery::resources::request-above-limit",
    "bakery::image::unpinned",
    "bakery::image::invalid",
    "bakery::image::version-mismatch",
    "bakery::postgres::unsupported-version",
    "bakery::tls::min-version",
    "bakery::tls::key-algorithm",
    "bakery::tls::leaf-outlives-ca",
    "bakery::tls::renew-before",
    "bakery::tls::long-validity",
    "bakery::tls::common-name",
    "bakery::tls::validity-too-long",
    "bakery::tls::fingerprint",
    "bakery::tls::cert-manager-unused",
    "bakery::tls::cert-manager-minimum",
    "bakery::duration::invalid",
    "bakery::audit::log-statement-all",
    "bakery::value::invalid-choice",
    "bakery::postgres::unknown-extension",
    "bakery::postgres::unknown-setting",
    "bakery::postgres::reserved-setting",
    "bakery::postgres::invalid-setting-value",
    "bakery::cache::client-auth",
    "bakery::database::none",
    "bakery::secrets::unused-key",
    "bakery::secrets::remote-key",
    "bakery::adopt::invalid",
    "bakery::adopt::storage",
    "bakery::adopt::collision",
    "bakery::gitops::unused-destination",
    "bakery::gitops::destination-namespace",
    "bakery::client::duplicate",
    "bakery::client::name-taken",
    "bakery::client::unknown-target",
    "bakery::client::nothing-to-reach",
    "bakery::client::empty-selector",
    "bakery::client::unused-database",
    "bakery::plan::volume-shrink",
    "bakery::plan::storage-class-change",
    "bakery::plan::selector-change",
    "bakery::plan::version-downgrade",
    "bakery::plan::major-upgrade",
    "bakery::plan::orphaned-volume",
    "bakery::backup::invalid-cron",
    "bakery::backup::invalid-value",
    "bakery::backup::image-unchecked",
    "bakery::plan::adopted-name-change",
    "bakery::plan::adoption-dropped",
];

#[test]
fn codes_are_unique() {
    // Each released name still finds a code, as `bakeryc explain` looks it up.
    for name in RELEASED {
        assert!(Code::from_name(name).is_some(), "{name} no longer resolves");
    }
    let released: BTreeSet<&str> = RELEASED.iter().copied().collect();
    assert_eq!(released.len(), RELEASED.len(), "RELEASED repeats a name");
    // Every code has a released name of its own: none is unrecorded, no two share one.
    let mut owners: BTreeSet<&str> = BTreeSet::new();
    for code in Code::ALL {
        assert!(
            released.contains(code.as_str()),
            "{code} is not in RELEASED: add it there once its name is final"
        );
        assert!(owners.insert(code.as_str()), "two codes are named {code}");
        assert!(
            code.as_str()[8..]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == ':'),
            "{code} is not kebab-case"
        );
    }
    // What users see: every code a snapshot shows is a released name.
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/snapshots");
    for entry in std::fs::read_dir(snapshots).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines().filter(|l| l.starts_with("bakery::")) {
            assert!(released.contains(line.trim()), "a snapshot shows {line}");
        }
    }
}

#[test]
fn every_code_is_exercised_by_a_ui_case() {
    let mut seen = BTreeSet::new();
    for path in cases() {
        seen.extend(rendered(&path).1);
    }
    let excepted: BTreeSet<Code> = NOT_EXERCISED.iter().map(|(code, _)| *code).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|code| !seen.contains(code) && !excepted.contains(code))
        .map(|code| code.as_str())
        .collect();
    assert!(missing.is_empty(), "no ui case shows {missing:?}");
    let stale: Vec<&str> = excepted
        .iter()
        .filter(|code| seen.contains(code))
        .map(|code| code.as_str())
        .collect();
    assert!(stale.is_empty(), "{stale:?} are exercised after all");
}
