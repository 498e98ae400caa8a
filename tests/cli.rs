//! The binary end to end: build writes the tree, `--check` detects drift with a diff, stale
//! generated files are pruned while foreign files stay, and exit codes follow the contract
//! (0 ok, 1 invalid config or drift, 2 usage or I/O).

mod common;

use common::Test;

use std::fs;

const THREE_ENVIRONMENTS: &str = "tests/fixtures/three-environments/bakery.toml";

#[test]
fn build_then_check_is_clean() {
    let test = Test::fixture(THREE_ENVIRONMENTS);
    test.run(&["build"]).success();
    assert!(test.join("generated/base/kustomization.yaml").is_file());
    assert!(
        test.join("generated/overlays/prod/kustomization.yaml")
            .is_file()
    );
    let check = test.run(&["build", "--check"]).success();
    assert!(check.output.stdout.is_empty());
    test.run(&["build"]).stderr_has("up to date");
}

#[test]
fn check_reports_drift_with_a_diff_and_writes_nothing() {
    let test = Test::fixture(THREE_ENVIRONMENTS);
    test.run(&["build"]).success();
    let edited = test.join("generated/base/auth-db.yaml");
    let drifted = fs::read_to_string(&edited)
        .unwrap()
        .replace("storage: 4Gi", "storage: 40Gi");
    fs::write(&edited, &drifted).unwrap();
    fs::remove_file(test.join("generated/overlays/dev/kustomization.yaml")).unwrap();
    let before = test.files("");
    let diff = test.run(&["build", "--check"]).status(1).stdout();
    assert!(
        diff.contains("-      storage: 40Gi") && diff.contains("+      storage: 4Gi"),
        "{diff}"
    );
    assert!(
        diff.contains("--- /dev/null"),
        "a missing file shows as added: {diff}"
    );
    assert_eq!(before, test.files(""), "--check wrote something");
}

#[test]
fn build_prunes_its_own_stale_files_and_keeps_foreign_ones() {
    let test = Test::fixture(THREE_ENVIRONMENTS);
    test.run(&["build"]).success();
    fs::write(
        test.join("generated/README.md"),
        "reviewers: see bakery.toml\n",
    )
    .unwrap();
    let config = test.source();
    let without_staging = config.replace(
        "[environments.staging]\nstorage_class = \"standard-rwo\"\n",
        "",
    );
    assert_ne!(config, without_staging);
    let test = test.file("bakery.toml", &without_staging);
    test.run(&["build"]).success();
    assert!(!test.join("generated/overlays/staging").exists());
    assert_eq!(
        fs::read_to_string(test.join("generated/README.md")).unwrap(),
        "reviewers: see bakery.toml\n"
    );
    let leftovers: Vec<String> = fs::read_dir(test.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        leftovers.iter().all(|name| !name.starts_with(".bakeryc")),
        "{leftovers:?}"
    );
}

#[test]
fn an_invalid_config_writes_nothing_and_exits_1() {
    let test = Test::fixture(THREE_ENVIRONMENTS);
    test.run(&["build"]).success();
    let before = test.files("");
    let broken = test
        .source()
        .replace("storage = \"8Gi\"", "storge = \"8GB\"");
    let test = test.file("bakery.toml", &broken);
    let after_edit = test.files("");
    let stderr = test
        .run(&["build"])
        .status(1)
        .stderr_has("bakery::toml::unknown-key")
        .stderr();
    assert!(stderr.contains("storage"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "NO_COLOR output has escapes");
    assert_ne!(before, after_edit);
    assert_eq!(after_edit, test.files(""));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let test = Test::new();
    test.run(&["build"])
        .status(2)
        .stderr_has("cannot read bakery.toml");
    test.run(&["build", "--no-such-flag"]).status(2);
    test.run(&["explain", "bakery::no-such-code"]).status(2);
    test.run(&["--version"]).success();
}

#[test]
fn check_validates_without_writing() {
    let test = Test::fixture("bakery.toml");
    test.run(&["check"]).success();
    assert!(!test.join("generated").exists());
}

/// The builder's assertions fail, and say why: the command and both streams.
#[test]
#[should_panic(expected = "cannot read bakery.toml")]
fn a_wrong_exit_code_fails_with_the_command_and_its_output() {
    Test::new().run(&["build"]).success();
}
