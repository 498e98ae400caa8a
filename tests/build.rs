//! The compiled tree as a contract: snapshots of every file for the repo's bakery.toml and each
//! fixture, byte-identical rebuilds, and YAML that reads back to exactly the objects compiled.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use bakeryc::render::Files;

fn build_file(path: &Path) -> Files {
    common::tree(&std::fs::read_to_string(path).unwrap())
}

fn tree_text(files: &Files) -> String {
    files
        .iter()
        .fold(String::new(), |mut text, (path, content)| {
            let _ = write!(text, "=== {path} ===\n{content}\n");
            text
        })
}

#[test]
fn fixtures_match_their_snapshots() {
    insta::glob!("fixtures/*/bakery.toml", |path| {
        let files = build_file(path);
        insta::assert_snapshot!(tree_text(&files));
    });
}

#[test]
fn the_platform_matches_its_snapshot() {
    let files = build_file(Path::new("bakery.toml"));
    insta::assert_snapshot!("bakery-ia", tree_text(&files));
}

#[test]
fn building_twice_gives_identical_bytes() {
    for path in ["bakery.toml", "tests/fixtures/many-databases/bakery.toml"] {
        let first = build_file(Path::new(path));
        let second = build_file(Path::new(path));
        assert_eq!(first, second, "{path}");
    }
}

#[test]
fn committed_generated_tree_is_current() {
    let files = build_file(Path::new("bakery.toml"));
    let diff = bakeryc::output::diff_tree(Path::new("generated"), &files).unwrap();
    assert_eq!(diff.files, files.len());
    assert!(
        diff.diff.is_none(),
        "generated/ is stale; run `cargo run -- build`:\n{}",
        diff.diff.unwrap_or_default()
    );
}

/// `bakeryc build` makes, compares and writes the tree one part at a time (a stream); tests,
/// `plan` and `render` hold it whole. Both must be the same files, byte for byte, on every
/// platform the tests know (each fixture exercises another feature's parts and overlays).
#[test]
fn the_streamed_tree_is_the_built_tree() {
    use bakeryc::render::Source as _;
    let mut paths = vec![std::path::PathBuf::from("bakery.toml")];
    for entry in std::fs::read_dir("tests/fixtures").unwrap() {
        let toml = entry.unwrap().path().join("bakery.toml");
        if toml.is_file() {
            paths.push(toml);
        }
    }
    assert!(paths.len() > 10, "the fixtures are missing: {paths:?}");
    for path in paths {
        let source = std::fs::read_to_string(&path).unwrap();
        let platform = bakeryc::check(&source).platform.unwrap();
        let built = bakeryc::build(&platform).unwrap();
        let stream = bakeryc::stream(&platform).unwrap();
        let streamed: bakeryc::render::Files = stream
            .visit(&|_, text| Ok(text.to_owned()))
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            streamed.keys().collect::<Vec<_>>(),
            built.keys().collect::<Vec<_>>(),
            "{}",
            path.display()
        );
        assert!(streamed == built, "{}: the texts differ", path.display());
    }
}

/// Every generated document reads back (as YAML 1.2 and as a strict YAML 1.1 reader would) to
/// the same data: nothing was folded, and no string turned into a boolean or number.
#[test]
fn yaml_reads_back_to_the_same_values() {
    let files = build_file(Path::new("tests/fixtures/many-databases/bakery.toml"));
    for (path, text) in &files {
        for document in text.split("\n---\n") {
            let body = document
                .lines()
                .filter(|l| !l.starts_with('#') && *l != "---")
                .fold(String::new(), |body, l| body + l + "\n");
            if body.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value =
                serde_saphyr::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}"));
            let again = bakeryc::render::to_yaml(&value).unwrap();
            let reread: serde_json::Value = serde_saphyr::from_str(&again).unwrap();
            assert_eq!(value, reread, "{path}");
            for line in body.lines() {
                let value = line.split_once(": ").map_or("", |(_, v)| v.trim());
                assert!(
                    !["on", "off", "yes", "no", "y", "n", "true", "false"]
                        .contains(&value.to_ascii_lowercase().as_str())
                        || value == "true"
                        || value == "false",
                    "{path}: YAML 1.1 boolean spelling left unquoted: {line}"
                );
            }
        }
    }
}
