//! The binary end to end: build writes the tree, `--check` detects drift with a diff, stale
//! generated files are pruned while foreign files stay, and exit codes follow the contract
//! (0 ok, 1 invalid config or drift, 2 usage or I/O).

mod common;

use common::{bakeryc, files_under};

use std::fs;

fn workspace(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(config, dir.path().join("bakery.toml")).unwrap();
    dir
}

#[test]
fn build_then_check_is_clean() {
    let dir = workspace("tests/fixtures/three-environments/bakery.toml");
    let built = bakeryc(dir.path(), &["build"]);
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(
        dir.path()
            .join("generated/base/kustomization.yaml")
            .is_file()
    );
    assert!(
        dir.path()
            .join("generated/overlays/prod/kustomization.yaml")
            .is_file()
    );
    let check = bakeryc(dir.path(), &["build", "--check"]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(check.stdout.is_empty());
    let again = bakeryc(dir.path(), &["build"]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("up to date"));
}

#[test]
fn check_reports_drift_with_a_diff_and_writes_nothing() {
    let dir = workspace("tests/fixtures/three-environments/bakery.toml");
    assert_eq!(bakeryc(dir.path(), &["build"]).status.code(), Some(0));
    let edited = dir.path().join("generated/base/auth-db.yaml");
    let text = fs::read_to_string(&edited)
        .unwrap()
        .replace("storage: 4Gi", "storage: 40Gi");
    fs::write(&edited, &text).unwrap();
    fs::remove_file(dir.path().join("generated/overlays/dev/kustomization.yaml")).unwrap();
    let before = files_under(dir.path());
    let check = bakeryc(dir.path(), &["build", "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let diff = String::from_utf8(check.stdout).unwrap();
    assert!(
        diff.contains("-      storage: 40Gi") && diff.contains("+      storage: 4Gi"),
        "{diff}"
    );
    assert!(
        diff.contains("--- /dev/null"),
        "a missing file shows as added: {diff}"
    );
    assert_eq!(before, files_under(dir.path()), "--check wrote something");
}

#[test]
fn build_prunes_its_own_stale_files_and_keeps_foreign_ones() {
    let dir = workspace("tests/fixtures/three-environments/bakery.toml");
    assert_eq!(bakeryc(dir.path(), &["build"]).status.code(), Some(0));
    fs::write(
        dir.path().join("generated/README.md"),
        "reviewers: see bakery.toml\n",
    )
    .unwrap();
    let config = fs::read_to_string(dir.path().join("bakery.toml")).unwrap();
    let without_staging = config.replace(
        "[environments.staging]\nstorage_class = \"standard-rwo\"\n",
        "",
    );
    assert_ne!(config, without_staging);
    fs::write(dir.path().join("bakery.toml"), without_staging).unwrap();
    let built = bakeryc(dir.path(), &["build"]);
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert!(!dir.path().join("generated/overlays/staging").exists());
    assert_eq!(
        fs::read_to_string(dir.path().join("generated/README.md")).unwrap(),
        "reviewers: see bakery.toml\n"
    );
    let leftovers: Vec<String> = fs::read_dir(dir.path())
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
    let dir = workspace("tests/fixtures/three-environments/bakery.toml");
    assert_eq!(bakeryc(dir.path(), &["build"]).status.code(), Some(0));
    let before = files_under(dir.path());
    let config = fs::read_to_string(dir.path().join("bakery.toml")).unwrap();
    fs::write(
        dir.path().join("bakery.toml"),
        config.replace("storage = \"8Gi\"", "storge = \"8GB\""),
    )
    .unwrap();
    let after_edit = files_under(dir.path());
    let built = bakeryc(dir.path(), &["build"]);
    assert_eq!(built.status.code(), Some(1));
    let stderr = String::from_utf8(built.stderr).unwrap();
    assert!(
        stderr.contains("bakery::toml::unknown-key") && stderr.contains("storage"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "NO_COLOR output has escapes");
    assert_ne!(before, after_edit);
    assert_eq!(after_edit, files_under(dir.path()));
}

#[test]
fn usage_and_io_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = bakeryc(dir.path(), &["build"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read bakery.toml"));
    assert_eq!(
        bakeryc(dir.path(), &["build", "--no-such-flag"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        bakeryc(dir.path(), &["explain", "bakery::no-such-code"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(bakeryc(dir.path(), &["--version"]).status.code(), Some(0));
}

#[test]
fn check_validates_without_writing() {
    let dir = workspace("bakery.toml");
    let checked = bakeryc(dir.path(), &["check"]);
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(!dir.path().join("generated").exists());
}
