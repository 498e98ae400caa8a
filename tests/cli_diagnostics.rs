//! The diagnostics contract of the built binary: on any error nothing is written (the previous
//! generated/ stays byte-identical) and the exit status is 1; warnings alone exit 0 unless
//! `--deny-warnings`; `--format json` is machine-readable with correct positions; output is
//! free of ANSI escapes when NO_COLOR is set or stderr is not a terminal; `explain` knows every
//! code.

mod common;

use common::Test;

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

// Every workspace here keeps the caller's color settings (`env_remove("NO_COLOR")`): these tests
// are about when colors appear.

#[test]
fn an_error_leaves_the_generated_tree_byte_identical() {
    let test = Test::config(VALID).env_remove("NO_COLOR");
    test.run(&["build"]).success();
    let before = test.files("generated");
    assert!(!before.is_empty());

    let test = test.file("bakery.toml", BROKEN);
    let output = test.run(&["build"]).status(1);
    assert_eq!(
        test.files("generated"),
        before,
        "generated/ changed after an error"
    );
    let stderr = output.stderr();
    for code in [
        "bakery::toml::unknown-key",
        "bakery::quantity::invalid",
        "bakery::image::version-mismatch",
    ] {
        assert!(stderr.contains(code), "{code} missing from:\n{stderr}");
    }
    assert!(stderr.contains("2 error(s), 1 warning(s)"), "{stderr}");
    let leftovers: Vec<String> = std::fs::read_dir(test.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "bakery.toml" && name != "generated")
        .collect();
    assert!(leftovers.is_empty(), "stray files: {leftovers:?}");
}

#[test]
fn an_error_exits_1_from_check_too() {
    let test = Test::config(BROKEN).env_remove("NO_COLOR");
    test.run(&["check"]).status(1);
    assert!(!test.join("generated").exists());
}

#[test]
fn warnings_alone_exit_0_and_are_shown() {
    let test = Test::config(WARNING_ONLY).env_remove("NO_COLOR");
    for args in [&["check"][..], &["build"][..]] {
        test.run(args)
            .success()
            .stderr_has("bakery::audit::log-statement-all");
    }
    assert!(test.join("generated/base/kustomization.yaml").exists());
}

#[test]
fn deny_warnings_turns_warnings_into_failure_and_writes_nothing() {
    let test = Test::config(WARNING_ONLY).env_remove("NO_COLOR");
    test.run(&["check", "--deny-warnings"])
        .status(1)
        .stderr_has("warnings denied");
    test.run(&["build", "--deny-warnings"]).status(1);
    assert!(!test.join("generated").exists());
    Test::config(VALID)
        .env_remove("NO_COLOR")
        .run(&["check", "--deny-warnings"])
        .success();
}

#[test]
fn no_ansi_escapes_without_a_terminal_or_with_no_color() {
    let test = Test::config(BROKEN).env_remove("NO_COLOR");
    let piped = test.run(&["check"]);
    let no_color = test.run_env(&["check"], &[("NO_COLOR", "1")]);
    let forced_off = test.run(&["--color", "never", "check"]);
    for run in [piped, no_color, forced_off] {
        let run = run.status(1).stderr_has("bakery::toml::unknown-key");
        assert!(!run.output.stderr.contains(&0x1b), "{}", run.stderr());
        assert!(!run.output.stdout.contains(&0x1b));
    }
    // The check above would notice colors: forcing them on does produce escapes.
    let forced_on = test.run(&["--color", "always", "check"]);
    assert!(forced_on.output.stderr.contains(&0x1b));
}

#[test]
fn json_output_parses_with_positions_and_help() {
    let output = Test::config(BROKEN)
        .env_remove("NO_COLOR")
        .run(&["check", "--format", "json"])
        .status(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout())
        .unwrap_or_else(|e| panic!("{e}: {}", output.stdout()));
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
    let output = Test::config("[platform]\nname = \"ä\" \nnamespace = \"ns\"\nnamspace = 1\n")
        .env_remove("NO_COLOR")
        .run(&["check", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&output.stdout()).unwrap();
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
    let output = Test::config("[platform]\nname = \"bakery-ia\nnamespace = \"x\"\n")
        .env_remove("NO_COLOR")
        .run(&["check", "--format", "json"])
        .status(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout()).unwrap();
    let first = &json.as_array().unwrap()[0];
    assert_eq!(first["code"], "bakery::toml::syntax");
    assert_eq!(first["line"], 2);
}

#[test]
fn explain_knows_every_code() {
    let test = Test::new();
    for code in Code::ALL {
        let explained = test.run(&["explain", code.as_str()]).success().stdout();
        let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words(&explained).contains(&words(code.explanation())),
            "{code}: {explained}"
        );
        assert!(
            explained.lines().all(|line| line.chars().count() <= 100),
            "{explained}"
        );
    }
    test.run(&["explain", "toml::unknown-key"]).success();
    test.run(&["explain", "bakery::no-such-code"]).status(2);
}

/// The binary's JSON reports exactly the diagnostics the library finds, in the same order.
#[test]
fn the_binary_reports_what_the_library_finds() {
    let test = Test::config(BROKEN).env_remove("NO_COLOR");
    let library: Vec<&str> = test.diagnostics().iter().map(|d| d.code.as_str()).collect();
    let output = test.run(&["check", "--format", "json"]).status(1);
    let json: serde_json::Value = serde_json::from_str(&output.stdout()).unwrap();
    let binary: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(library.len(), 3);
    assert_eq!(binary, library);
}
