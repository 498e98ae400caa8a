//! No input makes bakeryc panic: property tests over `bakeryc::check` with arbitrary text and
//! with structured mutations of the platform's real bakery.toml (lines deleted, duplicated,
//! swapped, values replaced by hostile ones), asserting that every diagnostic points inside the
//! source on character boundaries and that rendering it (human and JSON) and building a config
//! that passed do not panic either. `PROPTEST_CASES` sets the number of cases per property
//! (default 2000). Inputs that once crashed bakeryc are kept in `tests/robustness/`.

use std::path::{Path, PathBuf};

use bakeryc::cli::{Findings, render_human, render_json};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const PLATFORM: &str = include_str!("../bakery.toml");

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(2000)
}

fn config() -> ProptestConfig {
    config_with(cases())
}

fn config_with(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/robustness/proptest-regressions.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Checks `source` and everything a user could do with the result (rendering the diagnostics,
/// and with `build` compiling a valid config); panics on any broken invariant.
fn exercise(source: &str, build: bool) {
    let checked = bakeryc::check(source);
    for d in &checked.diagnostics {
        for label in std::iter::once(&d.primary).chain(&d.secondary) {
            let span = &label.span;
            assert!(
                span.start <= span.end && span.end <= source.len(),
                "{d:?} is outside the {} bytes of source",
                source.len()
            );
            assert!(
                source.is_char_boundary(span.start) && source.is_char_boundary(span.end),
                "{d:?} splits a character"
            );
        }
        assert!(!d.help.is_empty(), "{d:?} has no help");
    }
    let starts: Vec<usize> = checked
        .diagnostics
        .iter()
        .map(|d| d.primary.span.start)
        .collect();
    assert!(starts.is_sorted(), "diagnostics are not sorted: {starts:?}");
    let failed = checked
        .diagnostics
        .iter()
        .any(bakeryc::diagnostic::Diagnostic::is_error);
    assert_eq!(
        checked.platform.is_some(),
        !failed,
        "a platform comes back exactly when there is no error"
    );
    if let (Some(platform), true) = (&checked.platform, build) {
        bakeryc::build(platform).expect("a valid platform renders");
    }
    let findings = Findings {
        path: PathBuf::from("bakery.toml"),
        source: source.to_owned(),
        diagnostics: checked.diagnostics,
    };
    let _ = render_human(&findings, false, 100);
    let json: serde_json::Value = serde_json::from_str(&render_json(&findings)).unwrap();
    assert_eq!(
        json.as_array().map(Vec::len),
        Some(findings.diagnostics.len())
    );
}

/// Values that have broken parsers and validators before, or might.
const HOSTILE_VALUES: &[&str] = &[
    "\"\"",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "nan",
    "-inf",
    "true",
    "[]",
    "{}",
    "[[]]",
    "{ a = { b = { c = 1 } } }",
    "1979-05-27T07:32:00Z",
    "\"2GB\"",
    "\"-0\"",
    "\"0.0001m\"",
    "\"1e18Ei\"",
    "\"99999999999999999999999Gi\"",
    "\"latest\"",
    "\"postgres\"",
    "\"postgres:\"",
    "\"postgres@sha256:\"",
    "\"@\"",
    "\":\"",
    "\"/\"",
    "\"a/b/c:d@sha256:0000000000000000000000000000000000000000000000000000000000000000\"",
    "\"1.1\"",
    "\"TLSv1.3\"",
    "\"rsa-\"",
    "\"rsa-0\"",
    "\"rsa-99999999999\"",
    "\"0d\"",
    "\"-1y\"",
    "\"19999y\"",
    "\"P1Y2M3DT4H5M6S\"",
    "\"9999999999999999999999ms\"",
    "\"all\"",
    "\"required\"",
    "\"ä€😀\"",
    "\"\\u0000\"",
    "\"a\\nb\"",
    "\"-\"",
    "\"a-\"",
    "\"redis\"",
    "\"auth\"",
    "\"auth-db\"",
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
    "[\"pgcrypto\", 1, \"postgis\", \"\"]",
];

/// Lines that may be inserted anywhere.
const HOSTILE_LINES: &[&str] = &[
    "[platform]",
    "[[database]]",
    "[database]",
    "[postgres.settings]",
    "shared_buffers = \"128MB\"",
    "transaction_timeout = 0",
    "ssl = false",
    "[cache]",
    "[tls.ca]",
    "[tls.server]",
    "[environments.dev.database.nope]",
    "[environments.x.cache]",
    "name = \"auth\"",
    "name = \"redis\"",
    "version = 12",
    "version = 18",
    "image = \"postgres:16-alpine\"",
    "resources = { requests = { cpu = \"4\", memory = \"4Gi\" } }",
    "resources = { limits = { cpu = \"0\" } }",
    "audit = { log_statement = \"all\", log_min_duration = \"x\" }",
    "extensions = [\"adminpack\"]",
    "client_auth = \"required\"",
    "validity = \"100y\"",
    "renew_before = \"20y\"",
    "key = \"rsa-1024\"",
    "min_version = \"1.0\"",
    "a = {",
    "b = [",
    "\"unterminated",
    "= 1",
    "x.y.z = 1",
    "[a.\"b\".c]",
    "# comment",
    "",
];

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    ReplaceValue(usize, usize),
    Insert(usize, usize),
    InsertChar(usize, char),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), 0..HOSTILE_VALUES.len()).prop_map(|(a, b)| Mutation::ReplaceValue(a, b)),
        (any::<usize>(), 0..HOSTILE_LINES.len()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), any::<char>()).prop_map(|(a, c)| Mutation::InsertChar(a, c)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(base: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = base.lines().map(str::to_owned).collect();
    for mutation in mutations {
        let len = lines.len().max(1);
        match *mutation {
            Mutation::Delete(i) if !lines.is_empty() => {
                lines.remove(i % len);
            }
            Mutation::Duplicate(i) if !lines.is_empty() => {
                let line = lines[i % len].clone();
                lines.insert(i % len, line);
            }
            Mutation::Swap(a, b) if !lines.is_empty() => lines.swap(a % len, b % len),
            Mutation::ReplaceValue(i, value) if !lines.is_empty() => {
                let line = &mut lines[i % len];
                if let Some((key, _)) = line.split_once('=') {
                    *line = format!("{key}= {}", HOSTILE_VALUES[value]);
                }
            }
            Mutation::Insert(i, line) => {
                lines.insert(i % (lines.len() + 1), HOSTILE_LINES[line].to_owned());
            }
            Mutation::InsertChar(i, c) if !lines.is_empty() => {
                let line = &mut lines[i % len];
                let at = line
                    .char_indices()
                    .map(|(at, _)| at)
                    .chain(std::iter::once(line.len()))
                    .nth(i % (line.chars().count() + 1))
                    .unwrap_or(0);
                line.insert(at, c);
            }
            Mutation::Truncate(i) => {
                let text = lines.join("\n");
                let mut at = i % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                lines = text[..at].lines().map(str::to_owned).collect();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>()) {
        exercise(&source, false);
    }

    #[test]
    fn toml_like_text_never_panics(source in "[\\[\\]{}=\"'#.,:@a-z0-9_ \n\t-]{0,300}") {
        exercise(&source, false);
    }

    #[test]
    fn mutated_platform_never_panics(mutations in prop::collection::vec(mutation(), 1..8)) {
        exercise(&mutate(PLATFORM, &mutations), false);
    }
}

proptest! {
    // Compiling and rendering a whole platform costs ten times a check: fewer cases.
    #![proptest_config(config_with(cases().div_ceil(10)))]

    #[test]
    fn mutated_platform_that_passes_builds(mutations in prop::collection::vec(mutation(), 1..4)) {
        exercise(&mutate(PLATFORM, &mutations), true);
    }
}

#[test]
fn the_platform_itself_is_valid() {
    let checked = bakeryc::check(PLATFORM);
    assert!(checked.platform.is_some(), "{:#?}", checked.diagnostics);
    exercise(PLATFORM, true);
}

/// Inputs that crashed bakeryc once (miette cannot draw a label past column 65535).
#[test]
fn kept_crashing_inputs_do_not_crash() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/robustness");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            exercise(&std::fs::read_to_string(&path).unwrap(), true);
            count += 1;
        }
    }
    assert!(count >= 2, "the regression fixtures are missing");
}

/// Every `.toml` under `dir`, in subfolders too (so regrouping the corpus keeps it exercised);
/// refuses to return an empty corpus, which would make the test pass without checking anything.
fn ui_cases(dir: &Path) -> Vec<PathBuf> {
    let mut cases = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next)
            .unwrap_or_else(|e| panic!("no ui cases: cannot read {}: {e}", next.display()))
        {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                cases.push(path);
            }
        }
    }
    cases.sort();
    assert!(!cases.is_empty(), "no ui cases under {}", dir.display());
    cases
}

/// The ui corpus doubles as hand-written hostile input.
#[test]
fn ui_cases_do_not_crash() {
    let cases = ui_cases(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui"));
    for path in &cases {
        exercise(&std::fs::read_to_string(path).unwrap(), true);
    }
    // The corpus covers every diagnostic code, so it is far larger than a handful of files.
    assert!(cases.len() >= 20, "only {} ui cases found", cases.len());
}

#[test]
#[should_panic(expected = "no ui cases")]
fn an_empty_ui_corpus_fails() {
    let empty = tempfile::tempdir().unwrap();
    ui_cases(empty.path());
}
