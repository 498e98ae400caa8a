//! The diagnostics contract of the built binary: on any error nothing is written (the previous
//! generated/ stays byte-identical) and the exit status is 1; warnings alone exit 0 unless
//! `--deny-warnings`; `--format json` is machine-readable with correct positions; output is
//! free of ANSI escapes when NO_COLOR is set or stderr is not a terminal; `explain` knows every
//! code.

mod common;

use common::files_under;

use std::path::Path;
use std::process::{Command, Output};

use bakeryc::diagnostic::Code;

const VALID: &str = r#"[platform]
name = "bakery-ia"
namespace = "bakery-ia"

[postgres]
version = 17
image = "postgres:17.2-alpine"
storage = "2Gi"

[[database]]
name = "auth"

[cache]
name = "redis"
image = "redis:7.4.1-alpine"
storage = "1Gi"
"#;

/// Valid, with one warning (log_statement = "all").
const WARNING_ONLY: &str = r#"[platform]
name = "bakery-ia"
namespace = "bakery-ia"

[postgres]
version = 17
image = "postgres:17.2-alpine"
storage = "2Gi"

[postgres.audit]
log_statement = "all"

[[database]]
name = "auth"
"#;

/// Two errors and a warning; `storge` is on line 8, column 1.
const BROKEN: &str = r#"[platform]
name = "bakery-ia"
namespace = "bakery-ia"

[postgres]
version = 17
image = "postgres:16-alpine"
storge = "2Gi"

[[database]]
name = "auth"
storage = "2GB"
"#;

fn bakeryc(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bakeryc"));
    command.args(args).current_dir(dir).env_remove("NO_COLOR");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn workspace(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bakery.toml"), config).unwrap();
    dir
}

/// Every file under `dir` with its bytes, sorted by path.
fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_error_leaves_the_generated_tree_byte_identical() {
    let dir = workspace(VALID);
    let first = bakeryc(dir.path(), &["build"], &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let generated = dir.path().join("generated");
    let before = files_under(&generated);
    assert!(!before.is_empty());

    std::fs::write(dir.path().join("bakery.toml"), BROKEN).unwrap();
    let output = bakeryc(dir.path(), &["build"], &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        files_under(&generated),
        before,
        "generated/ changed after an error"
    );
    let text = stderr(&output);
    for code in [
        "bakery::toml::unknown-key",
        "bakery::quantity::invalid",
        "bakery::image::version-mismatch",
    ] {
        assert!(text.contains(code), "{code} missing from:\n{text}");
    }
    assert!(text.contains("2 error(s), 1 warning(s)"), "{text}");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "bakery.toml" && name != "generated")
        .collect();
    assert!(leftovers.is_empty(), "stray files: {leftovers:?}");
}

#[test]
fn an_error_exits_1_from_check_too() {
    let dir = workspace(BROKEN);
    let output = bakeryc(dir.path(), &["check"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!dir.path().join("generated").exists());
}

#[test]
fn warnings_alone_exit_0_and_are_shown() {
    let dir = workspace(WARNING_ONLY);
    for args in [&["check"][..], &["build"][..]] {
        let output = bakeryc(dir.path(), args, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("bakery::audit::log-statement-all"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert!(
        dir.path()
            .join("generated/base/kustomization.yaml")
            .exists()
    );
}

#[test]
fn deny_warnings_turns_warnings_into_failure_and_writes_nothing() {
    let dir = workspace(WARNING_ONLY);
    let check = bakeryc(dir.path(), &["check", "--deny-warnings"], &[]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    assert!(
        stderr(&check).contains("warnings denied"),
        "{}",
        stderr(&check)
    );
    let build = bakeryc(dir.path(), &["build", "--deny-warnings"], &[]);
    assert_eq!(build.status.code(), Some(1), "{}", stderr(&build));
    assert!(!dir.path().join("generated").exists());
    let valid = workspace(VALID);
    let clean = bakeryc(valid.path(), &["check", "--deny-warnings"], &[]);
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
}

#[test]
fn no_ansi_escapes_without_a_terminal_or_with_no_color() {
    let dir = workspace(BROKEN);
    let piped = bakeryc(dir.path(), &["check"], &[]);
    let no_color = bakeryc(dir.path(), &["check"], &[("NO_COLOR", "1")]);
    let forced_off = bakeryc(dir.path(), &["--color", "never", "check"], &[]);
    for output in [&piped, &no_color, &forced_off] {
        assert_eq!(output.status.code(), Some(1));
        assert!(!output.stderr.contains(&0x1b), "{}", stderr(output));
        assert!(!output.stdout.contains(&0x1b));
        assert!(stderr(output).contains("bakery::toml::unknown-key"));
    }
    // The check above would notice colors: forcing them on does produce escapes.
    let forced_on = bakeryc(dir.path(), &["--color", "always", "check"], &[]);
    assert!(forced_on.stderr.contains(&0x1b));
}

#[test]
fn json_output_parses_with_positions_and_help() {
    let dir = workspace(BROKEN);
    let output = bakeryc(dir.path(), &["check", "--format", "json"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        for key in ["code", "severity", "message", "file", "help"] {
            assert!(
                entry[key].as_str().is_some_and(|v| !v.is_empty()),
                "{key} in {entry}"
            );
        }
        for key in ["line", "column"] {
            assert!(
                entry[key].as_u64().is_some_and(|v| v >= 1),
                "{key} in {entry}"
            );
        }
        assert_eq!(entry["file"], "bakery.toml");
        assert!(Code::from_name(entry["code"].as_str().unwrap()).is_some());
    }
    let unknown = entries
        .iter()
        .find(|e| e["code"] == "bakery::toml::unknown-key")
        .unwrap();
    assert_eq!(
        (&unknown["line"], &unknown["column"]),
        (&8.into(), &1.into())
    );
    assert_eq!(unknown["severity"], "error");
    assert!(unknown["help"].as_str().unwrap().contains("`storage`"));
    let quantity = entries
        .iter()
        .find(|e| e["code"] == "bakery::quantity::invalid")
        .unwrap();
    assert_eq!(
        (&quantity["line"], &quantity["column"]),
        (&12.into(), &11.into())
    );
    assert!(quantity["help"].as_str().unwrap().contains("2Gi"));
    let mismatch = entries
        .iter()
        .find(|e| e["code"] == "bakery::image::version-mismatch")
        .unwrap();
    assert_eq!(mismatch["severity"], "warning");
    assert_eq!(
        (&mismatch["line"], &mismatch["column"]),
        (&7.into(), &9.into())
    );
}

#[test]
fn json_columns_count_characters() {
    // The name holds two-byte characters before the error: the column is in characters.
    let dir = workspace("[platform]\nname = \"ä\" \nnamespace = \"ns\"\nnamspace = 1\n");
    let output = bakeryc(dir.path(), &["check", "--format", "json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let invalid = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "bakery::name::invalid")
        .unwrap();
    assert_eq!(
        (&invalid["line"], &invalid["column"]),
        (&2.into(), &8.into())
    );
    assert_eq!(
        (&invalid["end_line"], &invalid["end_column"]),
        (&2.into(), &11.into())
    );
}

#[test]
fn a_syntax_error_exits_1_with_its_position() {
    let dir = workspace("[platform]\nname = \"bakery-ia\nnamespace = \"x\"\n");
    let output = bakeryc(dir.path(), &["check", "--format", "json"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let first = &json.as_array().unwrap()[0];
    assert_eq!(first["code"], "bakery::toml::syntax");
    assert_eq!(first["line"], 2);
}

#[test]
fn explain_knows_every_code() {
    let dir = tempfile::tempdir().unwrap();
    for code in Code::ALL {
        let output = bakeryc(dir.path(), &["explain", code.as_str()], &[]);
        assert_eq!(output.status.code(), Some(0), "{code}");
        let text = String::from_utf8(output.stdout).unwrap();
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words(&text).contains(&words(code.explanation())),
            "{code}: {text}"
        );
        assert!(
            text.lines().all(|line| line.chars().count() <= 100),
            "{text}"
        );
    }
    let short = bakeryc(dir.path(), &["explain", "toml::unknown-key"], &[]);
    assert_eq!(short.status.code(), Some(0));
    let unknown = bakeryc(dir.path(), &["explain", "bakery::no-such-code"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
}
