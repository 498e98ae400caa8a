//! The one test builder every integration test goes through: a [`Test`] is a temporary workspace
//! made from config text (or a fixture); [`Test::run`] runs the built binary there and gives back
//! the exit code, stdout and stderr ([`Run`]); [`Test::tree`] and [`Test::diagnostics`] run the
//! library on the same text; [`files`] and [`kustomize`] read what ended up on disk, and
//! [`project`] lays files out as the kubelet projects a volume. This is the
//! only place that knows how to start `bakeryc`, walk a tree or call kubectl; a test says what goes
//! in and what must come out; a run that needs more than arguments (a shell redirection, another
//! user, a time limit, pipes of its own) goes through [`Test::command_via`] or [`Test::command`]
//! rather than a hand-made `Command`. Each test crate uses a subset, hence the allowance for
//! unused items.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bakeryc::diagnostic::Diagnostic;
use bakeryc::model::Platform;
use bakeryc::render::Files;

pub mod servers;

/// bakery.toml and every fixture's bakery.toml, as (path, text): the trees whole-tree tests
/// walk.
pub fn sources() -> Vec<(String, String)> {
    let mut sources = vec![(
        "bakery.toml".to_owned(),
        fs::read_to_string(repo("bakery.toml")).unwrap(),
    )];
    for entry in fs::read_dir(repo("tests/fixtures")).unwrap() {
        let path = entry.unwrap().path().join("bakery.toml");
        if path.is_file() {
            let text = fs::read_to_string(&path).unwrap();
            sources.push((path.display().to_string(), text));
        }
    }
    sources
}

/// A path in the repository (tests run with the crate root as working directory, but the
/// binary runs in the workspace).
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A temporary workspace where `bakeryc` runs, and the environment it runs with.
pub struct Test {
    dir: tempfile::TempDir,
    /// Variables set (`Some`) or removed (`None`) for every run; colors are off by default.
    env: Vec<(String, Option<String>)>,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// An empty workspace (no bakery.toml).
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            env: vec![("NO_COLOR".into(), Some("1".into()))],
        }
    }

    /// A workspace whose bakery.toml is `text`.
    pub fn config(text: &str) -> Self {
        Self::new().file("bakery.toml", text)
    }

    /// A workspace where `deployed` was built (its tree is generated/, the baseline), then
    /// `next` written as bakery.toml and not built: one before/after pair of `plan`.
    pub fn deployed_then(deployed: &str, next: &str) -> Self {
        let test = Self::config(deployed);
        test.run(&["build"]).success();
        test.file("bakery.toml", next)
    }

    /// A workspace whose bakery.toml is a copy of the repository file `path`
    /// (`tests/fixtures/one-database/bakery.toml`, or `bakery.toml` itself).
    pub fn fixture(path: &str) -> Self {
        let text = fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self::config(&text)
    }

    /// Writes `contents` to `path` in the workspace, creating its folders.
    pub fn file(self, path: &str, contents: &str) -> Self {
        let target = self.dir.path().join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(target, contents).unwrap();
        self
    }

    /// Sets a variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes a variable (say `NO_COLOR`, to see colors) from every run.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), None));
        self
    }

    /// The workspace folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the workspace.
    pub fn join(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// The workspace's bakery.toml as it is now.
    pub fn source(&self) -> String {
        fs::read_to_string(self.join("bakery.toml")).unwrap()
    }

    /// Runs `bakeryc ARGS` in the workspace.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Runs `bakeryc ARGS` in the workspace with `env` on top of the workspace's variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = self.env.clone();
        all.extend(
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned()))),
        );
        Run::new(
            args,
            command_in(self.dir.path(), &[], args, &all)
                .output()
                .unwrap(),
        )
    }

    /// Runs `bakeryc ARGS` through `sh` with `redirection` of its streams (`>&-`, `>/dev/full`).
    pub fn run_redirected(&self, args: &[&str], redirection: &str) -> Run {
        let script = format!("exec \"$0\" \"$@\" {redirection}");
        let output = self.command_via(&["sh", "-c", &script], args).output();
        Run::new(args, output.unwrap())
    }

    /// Runs `bakeryc ARGS` as user and group `id` (through `setpriv`, so the caller must be
    /// root); `Err` when setpriv cannot be started.
    pub fn run_as(&self, id: u32, args: &[&str]) -> std::io::Result<Run> {
        let user = format!("--reuid={id}");
        let group = format!("--regid={id}");
        let output = self
            .command_via(&["setpriv", &user, &group, "--clear-groups"], args)
            .output()?;
        Ok(Run::new(args, output))
    }

    /// Runs `bakeryc ARGS`, killed by `timeout` after `seconds` (a hang becomes a failure).
    pub fn run_within(&self, seconds: u32, args: &[&str]) -> Run {
        let limit = seconds.to_string();
        let output = self.command_via(&["timeout", &limit], args).output();
        Run::new(args, output.unwrap())
    }

    /// `bakeryc ARGS` in the workspace with its variables, not started yet: for a test that
    /// wires its own streams (a pipe it closes, files, several runs at once).
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// Like [`Test::command`], started through `launcher` (`["timeout", "20"]`, `["sh", "-c",
    /// SCRIPT]`): the launcher's words, then the binary, then `args`.
    pub fn command_via(&self, launcher: &[&str], args: &[&str]) -> Command {
        command_in(self.dir.path(), launcher, args, &self.env)
    }

    /// Every file of the workspace, or of a folder in it (`generated`), by relative path.
    pub fn files(&self, folder: &str) -> BTreeMap<String, Vec<u8>> {
        files(&self.join(folder))
    }

    /// What the library makes of the workspace's bakery.toml: every diagnostic, in order.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        bakeryc::check(&self.source()).diagnostics
    }

    /// The validated platform; panics with the diagnostics when the config is invalid.
    pub fn platform(&self) -> Platform {
        platform(&self.source())
    }

    /// The generated files the library compiles the workspace's bakery.toml to.
    pub fn tree(&self) -> Files {
        tree(&self.source())
    }
}

/// The validated platform of config text; panics with the diagnostics when it is invalid.
pub fn platform(source: &str) -> Platform {
    let checked = bakeryc::check(source);
    checked
        .platform
        .unwrap_or_else(|| panic!("the config is invalid: {:#?}", checked.diagnostics))
}

/// The generated files of config text, compiled and rendered by the library.
pub fn tree(source: &str) -> Files {
    bakeryc::build(&platform(source)).unwrap()
}

/// One finished run of the binary.
pub struct Run {
    pub args: Vec<String>,
    pub output: Output,
}

/// A run is read like the `Output` it holds (`run.status`, `&run.stderr`).
impl Deref for Run {
    type Target = Output;

    fn deref(&self) -> &Output {
        &self.output
    }
}

impl Run {
    fn new(args: &[&str], output: Output) -> Self {
        Self {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            output,
        }
    }

    /// The exit code (`-1` when a signal ended the process).
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts the exit code, showing the command and both streams when it differs.
    #[track_caller]
    pub fn status(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "bakeryc {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Self {
        self.status(0)
    }

    /// Asserts that stderr contains `text`.
    #[track_caller]
    pub fn stderr_has(self, text: &str) -> Self {
        assert!(
            self.stderr().contains(text),
            "bakeryc {:?}: {text:?} not in stderr:\n{}",
            self.args,
            self.stderr()
        );
        self
    }
}

/// Every file under `dir` with its bytes, by path relative to `dir` (sorted).
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.insert(
                    path.strip_prefix(dir).unwrap().display().to_string(),
                    fs::read(&path).unwrap(),
                );
            }
        }
    }
    found
}

/// Every YAML document `kubectl kustomize DIR` prints, as JSON values.
pub fn kustomize(dir: &Path) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(&kustomize_text(dir)).unwrap()
}

/// What `kubectl kustomize DIR` prints, as text.
pub fn kustomize_text(dir: &Path) -> String {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl (with kustomize) is installed");
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The one place that makes the command starting the binary: in `dir`, behind the `launcher`'s
/// words if any, with variables set (`Some`) or removed.
fn command_in(
    dir: &Path,
    launcher: &[&str],
    args: &[&str],
    env: &[(String, Option<String>)],
) -> Command {
    let binary = env!("CARGO_BIN_EXE_bakeryc");
    let mut command = match launcher.split_first() {
        Some((program, words)) => {
            let mut command = Command::new(program);
            command.args(words).arg(binary);
            command
        }
        None => Command::new(binary),
    };
    command.args(args).current_dir(dir);
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command
}

/// Writes `files` into `dir` with the kubelet's atomic writer layout: a fresh `..<generation>`
/// folder holding the files (mode `mode`, the folder 0755), handed to `prepare` (say, to chown
/// it) before it becomes visible, the symlink `..data` swapped to it by one rename, and
/// `key -> ..data/key` for each key. The previous generation is removed afterwards, as the
/// kubelet does.
pub fn project(
    dir: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    mode: u32,
    prepare: impl FnOnce(&Path),
) {
    use std::os::unix::fs::{PermissionsExt as _, symlink};
    use std::sync::atomic::{AtomicU32, Ordering};
    static GENERATION: AtomicU32 = AtomicU32::new(0);
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst);
    let name = format!("..2026_11_29_00_00_00.{generation:09}");
    let staged = dir.join(&name);
    fs::create_dir(&staged).unwrap();
    for (key, bytes) in files {
        let path = staged.join(key);
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    fs::set_permissions(&staged, fs::Permissions::from_mode(0o755)).unwrap();
    prepare(&staged);
    let previous = fs::read_link(dir.join("..data")).ok();
    let _ = fs::remove_file(dir.join("..data_tmp"));
    symlink(&name, dir.join("..data_tmp")).unwrap();
    fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    for key in files.keys() {
        if fs::symlink_metadata(dir.join(key)).is_err() {
            symlink(format!("..data/{key}"), dir.join(key)).unwrap();
        }
    }
    if let Some(previous) = previous {
        fs::remove_dir_all(dir.join(previous)).unwrap();
    }
}
