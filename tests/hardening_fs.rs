//! Issue 17, the filesystem half: what a hostile or careless filesystem does to `build` and
//! `secrets` (folders bakeryc does not own, symbolic links, mount points, FIFOs and devices,
//! staging folders of killed runs, open modes and foreign owners, orphaned secrets). Each test
//! runs the binary in a temp folder; those that need root (chown, mount, another user) skip
//! with a printed reason when they cannot.

mod common;

use common::Test;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NOBODY: u32 = 65534;

/// The secrets fixture (ECDSA, fast), with its secrets for `prod` generated.
fn secrets_workspace() -> Test {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    expect(&dir.run(&["secrets", "generate", "--env", "prod"]), 0);
    dir
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn expect(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Changes every database's storage in `dir/bakery.toml` to `gib` Gi, so that the next build
/// changes files.
fn restorage(dir: &Path, gib: u32) {
    let path = dir.join("bakery.toml");
    let config = fs::read_to_string(&path).unwrap();
    let mut changed = String::new();
    for line in config.lines() {
        if line.starts_with("storage = ") {
            let _ = writeln!(changed, "storage = \"{gib}Gi\"");
        } else {
            changed.push_str(line);
            changed.push('\n');
        }
    }
    assert_ne!(changed, config);
    fs::write(path, changed).unwrap();
}

/// Names in `dir` that start with `.bakeryc-`.
fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".bakeryc-"))
        .collect()
}

/// Item 1: folders bakeryc does not own keep mode, owner, setgid bit and existence.
#[test]
fn build_keeps_the_folders_it_does_not_own() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    let h = dir.path().join("h");
    fs::create_dir_all(h.join(".ssh")).unwrap();
    fs::set_permissions(h.join(".ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(h.join(".ssh/id"), "k\n").unwrap();
    fs::create_dir_all(h.join(".gnupg/p")).unwrap();
    fs::create_dir_all(h.join("base")).unwrap();
    fs::set_permissions(h.join("base"), fs::Permissions::from_mode(0o2750)).unwrap();
    fs::create_dir_all(h.join("overlays/mine/empty")).unwrap();
    fs::set_permissions(h.join("overlays/mine"), fs::Permissions::from_mode(0o711)).unwrap();
    // Owner and group are kept each on its own, too.
    fs::create_dir_all(h.join("base/user-only")).unwrap();
    fs::create_dir_all(h.join("base/group-only")).unwrap();
    if is_root() {
        std::os::unix::fs::chown(h.join("base"), Some(NOBODY), Some(NOBODY)).unwrap();
        std::os::unix::fs::chown(h.join("base/user-only"), Some(NOBODY), Some(0)).unwrap();
        std::os::unix::fs::chown(h.join("base/group-only"), Some(0), Some(NOBODY)).unwrap();
    }
    for round in 0..2 {
        expect(&dir.run(&["build", "-o", "h"]), 0);
        assert_eq!(mode(&h.join(".ssh")), 0o700);
        assert_eq!(fs::read_to_string(h.join(".ssh/id")).unwrap(), "k\n");
        assert!(h.join(".gnupg/p").is_dir(), "an empty folder survives");
        assert_eq!(mode(&h.join("base")), 0o2750, "setgid and mode kept");
        if is_root() {
            assert_eq!(fs::metadata(h.join("base")).unwrap().uid(), NOBODY);
            for (folder, owner) in [("user-only", (NOBODY, 0)), ("group-only", (0, NOBODY))] {
                let meta = fs::metadata(h.join("base").join(folder)).unwrap();
                assert_eq!((meta.uid(), meta.gid()), owner, "{folder}");
            }
        }
        assert_eq!(mode(&h.join("overlays/mine")), 0o711);
        assert!(h.join("overlays/mine/empty").is_dir());
        assert!(h.join("base/kustomization.yaml").is_file());
        assert_eq!(leftovers(&h), Vec::<String>::new());
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
        // Second round: the tree exists, so the roots are replaced rather than created.
        restorage(dir.path(), round + 6);
    }
}

/// An empty folder of the user's in one root survives a build that prunes another root's files
/// of the same relative path (`base/dev/` beside the generated `overlays/dev/`).
#[test]
fn pruning_one_root_never_empties_another() {
    let dir = Test::fixture("tests/fixtures/three-environments/bakery.toml");
    expect(&dir.run(&["build"]), 0);
    let generated = dir.path().join("generated");
    assert!(generated.join("overlays/dev").is_dir());
    fs::create_dir(generated.join("base/dev")).unwrap();
    restorage(dir.path(), 100);
    let build = dir.run(&["build"]);
    expect(&build, 0);
    // Sizes only: no file is new; five change, and the four environment patches that set a
    // size the base now has are gone.
    assert!(
        stderr(&build).contains("wrote generated: 0 added, 5 changed, 4 removed (13 files)"),
        "{}",
        stderr(&build)
    );
    assert!(
        generated.join("base/dev").is_dir(),
        "the user's empty folder was removed"
    );
}

/// Item 9 (the output half): only the roots bakeryc writes are read; a copy of a generated file
/// elsewhere in the output folder is the user's, not pruned, and no drift.
#[test]
fn build_reads_and_prunes_only_its_own_roots() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    expect(&dir.run(&["build"]), 0);
    let generated = dir.path().join("generated");
    fs::create_dir(generated.join("backup")).unwrap();
    fs::copy(
        generated.join("base/kustomization.yaml"),
        generated.join("backup/kustomization.yaml"),
    )
    .unwrap();
    // A file of the user's inside a root, longer than the header but without it: not bakeryc's.
    let notes = generated.join("base/NOTES.md");
    fs::write(
        &notes,
        "# Notes kept by hand beside the generated files of this tree
",
    )
    .unwrap();
    expect(&dir.run(&["build", "--check"]), 0);
    let build = dir.run(&["build"]);
    expect(&build, 0);
    assert!(stderr(&build).contains("up to date"), "{}", stderr(&build));
    assert!(generated.join("backup/kustomization.yaml").is_file());
    assert!(notes.is_file(), "the user's file in a root was pruned");
}

/// An output folder that cannot be read is an error, never taken for an empty tree (which
/// `build --check` would call drift and `plan` a creation of everything).
#[test]
fn an_unreadable_output_folder_is_an_error_not_an_empty_tree() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    for (out, error) in [
        ("bakery.toml/generated", "Not a directory"),
        ("bakery.toml", "bakery.toml is not a folder"),
    ] {
        for args in [
            &["build", "-o", out][..],
            &["build", "--check", "-o", out],
            &["plan", "-o", out],
        ] {
            let output = dir.run(args);
            expect(&output, 2);
            assert!(
                stderr(&output).contains(error),
                "{args:?}: {}",
                stderr(&output)
            );
        }
    }
}

/// A root (`base/`, `overlays/`, `argocd/`) that is a link or a file is the user's: `build`,
/// `build --check` and `plan` all refuse it by name, and nothing on disk changes.
#[test]
fn a_root_that_is_a_link_or_a_file_is_refused_by_every_command() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    expect(&dir.run(&["build"]), 0);
    let base = dir.path().join("generated/base");
    fs::rename(&base, dir.path().join("elsewhere")).unwrap();
    symlink("../elsewhere", &base).unwrap();
    let file = |path: &Path| {
        fs::remove_file(path).unwrap();
        fs::write(path, "the user's\n").unwrap();
    };
    for (what, error) in [
        ("link", "generated/base is a symbolic link"),
        ("file", "generated/base is not a folder"),
    ] {
        if what == "file" {
            file(&base);
        }
        let before = common::files(dir.path());
        for args in [&["build"][..], &["build", "--check"], &["plan"]] {
            let output = dir.run(args);
            expect(&output, 2);
            assert!(
                stderr(&output).contains(error),
                "{what} {args:?}: {}",
                stderr(&output)
            );
        }
        assert!(
            common::files(dir.path()) == before,
            "{what}: the disk changed"
        );
    }
}

/// A secrets environment that is a file is an error for every secrets command, never taken for
/// an empty environment (which `status` would report as all missing and `generate` fill).
#[test]
fn a_secrets_environment_that_is_a_file_is_an_error() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    fs::create_dir(dir.path().join("secrets")).unwrap();
    fs::write(dir.path().join("secrets/prod"), "the user's\n").unwrap();
    for command in ["status", "generate"] {
        let output = dir.run(&["secrets", command, "--env", "prod"]);
        expect(&output, 2);
        assert!(
            stderr(&output).contains("cannot read secrets/prod: Not a directory"),
            "{command}: {}",
            stderr(&output)
        );
    }
    assert_eq!(
        fs::read_to_string(dir.path().join("secrets/prod")).unwrap(),
        "the user's\n"
    );
}

/// Item 9: the config is a regular file of at most 10 MB; anything else is exit 2 at once.
#[test]
fn config_reads_refuse_devices_fifos_folders_and_huge_files() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    let fifo = dir.path().join("fifo.toml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let big = dir.path().join("big.toml");
    fs::write(&big, "\n".repeat(10 * 1024 * 1024 + 1)).unwrap();
    for (config, says) in [
        ("/dev/zero", "a device"),
        (fifo.to_str().unwrap(), "a FIFO"),
        (dir.path().to_str().unwrap(), "a folder"),
        (big.to_str().unwrap(), "larger than 10 MB"),
    ] {
        for command in ["check", "build"] {
            // `timeout` turns the old hang on a FIFO into a failure instead of a stuck test.
            let output = dir.run_within(20, &[command, "-c", config]);
            expect(&output, 2);
            assert!(
                stderr(&output).contains(says),
                "{config}: {}",
                stderr(&output)
            );
        }
    }
    assert!(!dir.path().join("generated").exists());
}

/// Item 9, the other side: "at most 10 MB" includes 10 MB. A valid config padded to exactly
/// the limit is read and checked; one byte more is refused as too large.
#[test]
fn a_config_of_exactly_ten_megabytes_is_read() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    let limit = 10 * 1024 * 1024;
    let mut text = dir.source();
    text.push_str(&"\n".repeat(limit - text.len()));
    let exact = dir.path().join("exact.toml");
    fs::write(&exact, &text).unwrap();
    expect(&dir.run(&["check", "-c", exact.to_str().unwrap()]), 0);
    text.push('\n');
    let over = dir.path().join("over.toml");
    fs::write(&over, &text).unwrap();
    let output = dir.run(&["check", "-c", over.to_str().unwrap()]);
    expect(&output, 2);
    assert!(
        stderr(&output).contains("larger than 10 MB"),
        "{}",
        stderr(&output)
    );
}

/// Item 3: a linked output folder is written through; the link stays.
#[test]
fn a_linked_output_folder_is_written_through() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    fs::create_dir_all(dir.path().join("gitops/generated")).unwrap();
    symlink("gitops/generated", dir.path().join("generated")).unwrap();
    expect(&dir.run(&["build"]), 0);
    let link = dir.path().join("generated");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        dir.path()
            .join("gitops/generated/base/kustomization.yaml")
            .is_file()
    );
    expect(&dir.run(&["build", "--check"]), 0);

    // A link to nothing is refused with the reason; nothing is left behind.
    symlink("nowhere/generated", dir.path().join("dangling")).unwrap();
    let output = dir.run(&["build", "-o", "dangling"]);
    expect(&output, 2);
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(
        fs::symlink_metadata(dir.path().join("dangling"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Item 3: a linked environment folder (a vault elsewhere) is written through; the link stays
/// and no key lands beside it.
#[test]
fn a_linked_secrets_environment_is_written_through() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    fs::create_dir_all(dir.path().join("vault")).unwrap();
    fs::create_dir_all(dir.path().join("secrets")).unwrap();
    symlink("../vault/prod", dir.path().join("secrets/prod")).unwrap();
    for args in [
        &["secrets", "generate", "--env", "prod"][..],
        &["secrets", "rotate", "--env", "prod", "--ca"][..],
    ] {
        expect(&dir.run(args), 0);
        assert!(
            fs::symlink_metadata(dir.path().join("secrets/prod"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(dir.path().join("vault/prod/ca.key").is_file());
        assert_eq!(leftovers(&dir.path().join("vault")), Vec::<String>::new());
        assert_eq!(leftovers(&dir.path().join("secrets")), Vec::<String>::new());
    }
    expect(&dir.run(&["secrets", "status", "--env", "prod"]), 0);
}

/// Item 2: a link inside an environment's folder (or `.lock`) is refused by name, and nothing
/// is written through it.
#[test]
fn a_link_inside_the_secrets_folder_is_refused() {
    let dir = secrets_workspace();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let tls = dir.path().join("secrets/prod/auth-db/tls");
    fs::remove_dir_all(&tls).unwrap();
    symlink(&elsewhere, &tls).unwrap();
    for args in [
        &["secrets", "generate", "--env", "prod"][..],
        &["secrets", "rotate", "--env", "prod"][..],
        &["secrets", "status", "--env", "prod"][..],
    ] {
        let output = dir.run(args);
        expect(&output, 2);
        assert!(
            stderr(&output).contains("secrets/prod/auth-db/tls is a symbolic link"),
            "{}",
            stderr(&output)
        );
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0, "{args:?}");
    }

    let dir = secrets_workspace();
    let lock = dir.path().join("secrets/.lock");
    fs::remove_file(&lock).unwrap();
    let target = dir.path().join("planted");
    symlink(&target, &lock).unwrap();
    let output = dir.run(&["secrets", "rotate", "--env", "prod"]);
    expect(&output, 2);
    assert!(
        stderr(&output).contains("symbolic link"),
        "{}",
        stderr(&output)
    );
    assert!(!target.exists(), "the lock link was followed");
}

/// Item 10: staging folders of killed runs are removed by the next run (only bakeryc's own),
/// and a run keeps none.
#[test]
fn stale_staging_folders_are_removed_and_none_is_kept() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    expect(&dir.run(&["build"]), 0);
    let generated = dir.path().join("generated");
    fs::create_dir_all(generated.join(".bakeryc-staging-base-killed/sub")).unwrap();
    fs::write(
        generated.join(".bakeryc-staging-base-killed/sub/x.yaml"),
        "x",
    )
    .unwrap();
    fs::create_dir(generated.join(".not-bakeryc-staging")).unwrap();
    // What earlier versions left beside the output folder, in the repository's root.
    fs::create_dir_all(dir.path().join(".bakeryc-staging-legacy/base")).unwrap();
    restorage(dir.path(), 13);
    expect(&dir.run(&["build"]), 0);
    assert_eq!(leftovers(&generated), Vec::<String>::new());
    assert!(generated.join(".not-bakeryc-staging").is_dir());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    // Beside an output folder deeper down, too (earlier versions staged next to it).
    fs::create_dir_all(dir.path().join("deploy/.bakeryc-staging-legacy/base")).unwrap();
    expect(&dir.run(&["build", "-o", "deploy/generated"]), 0);
    assert_eq!(leftovers(&dir.path().join("deploy")), Vec::<String>::new());
    // A build that finds the tree unchanged writes nothing, and still removes them.
    fs::create_dir_all(generated.join(".bakeryc-staging-overlays-killed/dev")).unwrap();
    fs::create_dir_all(dir.path().join(".bakeryc-staging-legacy/overlays")).unwrap();
    let unchanged = dir.run(&["build"]);
    expect(&unchanged, 0);
    assert!(
        stderr(&unchanged).contains("up to date"),
        "{}",
        stderr(&unchanged)
    );
    assert_eq!(leftovers(&generated), Vec::<String>::new());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());

    let dir = secrets_workspace();
    let secrets = dir.path().join("secrets");
    fs::create_dir_all(secrets.join(".bakeryc-staging-prod-killed/auth-db")).unwrap();
    expect(
        &dir.run(&["secrets", "rotate", "--env", "prod", "--only", "auth"]),
        0,
    );
    assert_eq!(leftovers(&secrets), Vec::<String>::new());
}

/// Item 10: a successful build by a user who is not root keeps no staging folder, even with a
/// read-only (0555) base/.
#[test]
fn a_read_only_root_leaves_nothing_behind_for_a_normal_user() {
    if !is_root() {
        eprintln!("skipped: needs root to run bakeryc as another user (setpriv)");
        return;
    }
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    let as_nobody = |args: &[&str]| dir.run_as(NOBODY, args);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let Ok(first) = as_nobody(&["build"]) else {
        eprintln!("skipped: setpriv is not available");
        return;
    };
    expect(&first, 0);
    let base = dir.path().join("generated/base");
    fs::set_permissions(&base, fs::Permissions::from_mode(0o555)).unwrap();
    restorage(dir.path(), 15);
    let second = as_nobody(&["build"]).unwrap();
    expect(&second, 0);
    assert_eq!(mode(&base), 0o555);
    assert!(fs::read_dir(&base).unwrap().any(|e| {
        fs::read_to_string(e.unwrap().path())
            .unwrap()
            .contains("15Gi")
    }));
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    assert_eq!(
        leftovers(&dir.path().join("generated")),
        Vec::<String>::new()
    );
    expect(&dir.run(&["build", "--check"]), 0);

    // A folder of another owner's cannot be given back to that owner: refused, nothing changes.
    std::os::unix::fs::chown(&base, Some(0), Some(0)).unwrap();
    fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
    restorage(dir.path(), 17);
    let refused = as_nobody(&["build"]).unwrap();
    expect(&refused, 2);
    assert!(
        stderr(&refused).contains("generated/base belongs to 0:0"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(fs::metadata(&base).unwrap().uid(), 0);
    assert_eq!(mode(&base), 0o777);
    assert_eq!(
        leftovers(&dir.path().join("generated")),
        Vec::<String>::new()
    );
}

/// A tmpfs mounted for the length of a test, unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path) -> Option<Self> {
        fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=0755", "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            Some(Self(at.to_path_buf()))
        } else {
            eprintln!("skipped: cannot mount a tmpfs here (needs root and mount permission)");
            None
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Item 11: `-o` on a mount point (a container volume) works: the roots inside it are swapped,
/// not the mount point.
#[test]
fn build_into_a_mount_point_swaps_its_contents() {
    let dir = Test::fixture("tests/fixtures/one-database/bakery.toml");
    let Some(_mount) = Mount::tmpfs(&dir.path().join("generated")) else {
        return;
    };
    expect(&dir.run(&["build"]), 0);
    restorage(dir.path(), 14);
    expect(&dir.run(&["build"]), 0);
    expect(&dir.run(&["build", "--check"]), 0);
    assert_eq!(
        leftovers(&dir.path().join("generated")),
        Vec::<String>::new()
    );

    // A root that is itself a mount point cannot be exchanged: refused, and it stays.
    let base = dir.path().join("generated/base");
    let Some(_inner) = Mount::tmpfs(&base) else {
        return;
    };
    restorage(dir.path(), 16);
    let output = dir.run(&["build"]);
    expect(&output, 2);
    assert!(
        stderr(&output).contains("generated/base is a mount point"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_dir(&base).unwrap().count(), 0);
    assert_eq!(
        leftovers(&dir.path().join("generated")),
        Vec::<String>::new()
    );
}

/// Item 11: an environment folder that is a mount point is refused with why and what to do,
/// and nothing is written.
#[test]
fn a_secrets_environment_on_a_mount_point_is_refused_with_the_way_out() {
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    let Some(_mount) = Mount::tmpfs(&dir.path().join("secrets/prod")) else {
        return;
    };
    let output = dir.run(&["secrets", "generate", "--env", "prod"]);
    expect(&output, 2);
    let text = stderr(&output);
    assert!(
        text.contains("is a mount point") && text.contains("--dir") && text.contains("link"),
        "{text}"
    );
    assert_eq!(
        fs::read_dir(dir.path().join("secrets/prod"))
            .unwrap()
            .count(),
        0
    );
}

/// Item 12: `status` fails on a private file open to group or others, or owned by another user;
/// `generate` repairs the mode and refuses the foreign owner.
#[test]
fn open_modes_are_reported_and_repaired_foreign_owners_refused() {
    let dir = secrets_workspace();
    let key = dir.path().join("secrets/prod/auth-db/tls/tls.key");
    let password = dir.path().join("secrets/prod/redis/credentials/password");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&password, fs::Permissions::from_mode(0o640)).unwrap();
    let status = dir.run(&["secrets", "status", "--env", "prod"]);
    expect(&status, 1);
    let report = stdout(&status);
    assert!(
        report.contains("auth-db/tls/tls.key is open to group or others (mode 0644)")
            && report.contains("redis/credentials/password is open to group or others"),
        "{report}"
    );
    let generate = dir.run(&["secrets", "generate", "--env", "prod"]);
    expect(&generate, 0);
    assert!(
        stderr(&generate).contains("made private again"),
        "{}",
        stderr(&generate)
    );
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&password), 0o600);
    expect(&dir.run(&["secrets", "status", "--env", "prod"]), 0);

    if !is_root() {
        eprintln!("skipped (foreign owner): needs root to chown");
        return;
    }
    std::os::unix::fs::chown(&key, Some(NOBODY), None).unwrap();
    let status = dir.run(&["secrets", "status", "--env", "prod"]);
    expect(&status, 1);
    assert!(
        stdout(&status).contains("owned by another user (uid 65534)"),
        "{}",
        stdout(&status)
    );
    for args in [
        &["secrets", "generate", "--env", "prod"][..],
        &["secrets", "rotate", "--env", "prod"][..],
    ] {
        let output = dir.run(args);
        expect(&output, 2);
        assert!(
            stderr(&output).contains("owned by another user"),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(fs::metadata(&key).unwrap().uid(), NOBODY);
}

/// The same, run by a normal user: the files it made are its own (not another user's), and an
/// open one is made private again by it.
#[test]
fn a_normal_users_own_secrets_are_its_own() {
    if !is_root() {
        eprintln!("skipped: needs root to run bakeryc as another user (setpriv)");
        return;
    }
    let dir = Test::fixture("tests/fixtures/secrets/ecdsa.toml");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let as_nobody = |args: &[&str]| dir.run_as(NOBODY, args);
    let Ok(generate) = as_nobody(&["secrets", "generate", "--env", "prod"]) else {
        eprintln!("skipped: setpriv is not available");
        return;
    };
    expect(&generate, 0);
    expect(
        &as_nobody(&["secrets", "status", "--env", "prod"]).unwrap(),
        0,
    );
    let key = dir.path().join("secrets/prod/ca.key");
    assert_eq!(fs::metadata(&key).unwrap().uid(), NOBODY);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let generate = as_nobody(&["secrets", "generate", "--env", "prod"]).unwrap();
    expect(&generate, 0);
    assert!(
        stderr(&generate).contains("made private again"),
        "{}",
        stderr(&generate)
    );
    assert_eq!(mode(&key), 0o600);
}

/// Item 17: a folder no workload owns is listed by `status` (which fails) and removed by
/// `prune` only with confirmation.
#[test]
fn orphaned_secrets_are_reported_and_pruned_on_confirmation() {
    let dir = secrets_workspace();
    let env = dir.path().join("secrets/prod");
    let copied = Command::new("cp")
        .args(["-a", "auth-db", "old-db"])
        .current_dir(&env)
        .status()
        .unwrap();
    assert!(copied.success());
    let status = dir.run(&["secrets", "status", "--env", "prod"]);
    expect(&status, 1);
    assert!(stdout(&status).contains("old-db/ "), "{}", stdout(&status));
    assert!(stdout(&status).contains("secrets prune --env prod"));
    let json = dir.run(&["secrets", "status", "--env", "prod", "--format", "json"]);
    expect(&json, 1);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["orphans"], serde_json::json!(["old-db"]));

    // No terminal and no --yes: refuse at once, never wait for an answer.
    let refused = dir.run(&["secrets", "prune", "--env", "prod"]);
    expect(&refused, 2);
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    assert!(env.join("old-db/tls/tls.key").is_file());

    let pruned = dir.run(&["secrets", "prune", "--env", "prod", "--yes"]);
    expect(&pruned, 0);
    assert!(
        stderr(&pruned).contains("removed secrets/prod/old-db/"),
        "{}",
        stderr(&pruned)
    );
    assert!(!env.join("old-db").exists());
    assert!(env.join("auth-db/tls/tls.key").is_file());
    assert_eq!(mode(&env), 0o700);
    expect(&dir.run(&["secrets", "status", "--env", "prod"]), 0);
    let again = dir.run(&["secrets", "prune", "--env", "prod"]);
    expect(&again, 0);
    assert!(stderr(&again).contains("nothing removed"));
}

/// Concurrent builds of one output folder (which held before this change) still all succeed
/// and leave one whole tree: they take turns on a lock of the output folder, and none removes
/// another's staging folder as stale.
#[test]
fn concurrent_builds_take_turns() {
    let dir = Test::fixture("tests/fixtures/three-environments/bakery.toml");
    let other = fs::read_to_string(dir.path().join("bakery.toml"))
        .unwrap()
        // Another setting, not another size: alternating sizes would shrink a claim, which
        // `build` refuses (issue 14) before it takes its turn.
        .replacen(
            "[[database]]",
            "[[database]]\nsettings = { work_mem = \"77MB\" }",
            1,
        );
    fs::write(dir.path().join("other.toml"), other).unwrap();
    for _ in 0..10 {
        let runs: Vec<_> = ["bakery.toml", "other.toml", "bakery.toml", "other.toml"]
            .iter()
            .map(|config| {
                dir.command(&["build", "-c", config])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for run in runs {
            expect(&run.wait_with_output().unwrap(), 0);
        }
        assert_eq!(
            leftovers(&dir.path().join("generated")),
            Vec::<String>::new()
        );
        let one = dir.run(&["build", "--check"]).status.code();
        let two = dir
            .run(&["build", "--check", "-c", "other.toml"])
            .status
            .code();
        assert!(one == Some(0) || two == Some(0), "a mix of two trees");
    }
}
