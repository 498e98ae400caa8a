//! The only code that touches disk. It owns the generated files under the output directory
//! (recognised by their header line), replaces the whole tree atomically, prunes the files it no
//! longer produces, never touches other files, and diffs the tree on disk for `build --check`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::render::{Files, HEADER};

/// What `write_tree` did.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The tree on disk already had these exact bytes; nothing was written.
    Unchanged,
    /// The tree was replaced; counts of files added, changed and removed.
    Replaced {
        added: usize,
        changed: usize,
        removed: usize,
    },
}

/// Reads a text file, such as bakery.toml.
pub fn read_text(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
}

/// The generated files currently under `out` (those starting with the generated-file header).
pub fn owned_files(out: &Path) -> io::Result<BTreeMap<String, String>> {
    let mut owned = BTreeMap::new();
    if !out.exists() {
        return Ok(owned);
    }
    let found: Vec<Option<(String, String)>> = walk(out)?
        .into_par_iter()
        .map(|(relative, path)| {
            if !fs::symlink_metadata(&path)?.is_file() {
                return Ok(None);
            }
            let text = String::from_utf8(fs::read(&path)?).ok();
            Ok(text
                .filter(|t| t.starts_with(HEADER))
                .map(|t| (relative, t)))
        })
        .collect::<io::Result<_>>()?;
    owned.extend(found.into_iter().flatten());
    Ok(owned)
}

/// Whether the generated files on disk are exactly `files`.
fn is_current(current: &BTreeMap<String, String>, files: &Files) -> bool {
    current.len() == files.len() && current.iter().zip(files).all(|(a, b)| a == b)
}

/// A unified diff from the tree on disk to `files`, or `None` when they are identical.
pub fn diff_tree(out: &Path, files: &Files) -> io::Result<Option<String>> {
    let current = owned_files(out)?;
    // The same test `write_tree` starts with, so that `--check` never costs more than `build`.
    if is_current(&current, files) {
        return Ok(None);
    }
    let mut paths: Vec<&String> = current.keys().chain(files.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut diff = String::new();
    for path in paths {
        let old = current.get(path).map_or("", String::as_str);
        let new = files.get(path).map_or("", String::as_str);
        if old == new {
            continue;
        }
        let display = out.join(path).display().to_string();
        let old_name = if current.contains_key(path) {
            format!("a/{display}")
        } else {
            "/dev/null".to_owned()
        };
        let new_name = if files.contains_key(path) {
            format!("b/{display}")
        } else {
            "/dev/null".to_owned()
        };
        let text = similar::TextDiff::from_lines(old, new);
        diff.push_str(
            &text
                .unified_diff()
                .context_radius(3)
                .header(&old_name, &new_name)
                .to_string(),
        );
    }
    Ok((!diff.is_empty()).then_some(diff))
}

/// Replaces the generated files under `out` with `files` in one atomic step: the new tree is
/// assembled beside `out` (other files carried over) and swapped in with a single rename, so
/// a crash or an error at any point leaves either the old tree or the new one, never a mix.
pub fn write_tree(out: &Path, files: &Files) -> io::Result<WriteOutcome> {
    let current = owned_files(out)?;
    if is_current(&current, files) {
        return Ok(WriteOutcome::Unchanged);
    }
    let parent = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".bakeryc-staging-")
        .tempdir_in(&parent)?;
    if out.exists() {
        fs::set_permissions(staging.path(), fs::metadata(out)?.permissions())?;
        for (relative, path) in walk(out)? {
            if current.contains_key(&relative) {
                continue;
            }
            carry_over(&path, &staging.path().join(&relative))?;
        }
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))?;
    }
    let dirs: std::collections::BTreeSet<PathBuf> = files
        .keys()
        .filter_map(|relative| {
            staging
                .path()
                .join(relative)
                .parent()
                .map(Path::to_path_buf)
        })
        .collect();
    for dir in dirs {
        fs::create_dir_all(dir)?;
    }
    // Creating files is mostly waiting on the filesystem; do it on every core.
    files
        .par_iter()
        .try_for_each(|(relative, text)| fs::write(staging.path().join(relative), text))?;
    swap_in(staging, out)?;
    let added = files.keys().filter(|p| !current.contains_key(*p)).count();
    let removed = current.keys().filter(|p| !files.contains_key(*p)).count();
    let changed = files
        .iter()
        .filter(|(p, t)| current.get(*p).is_some_and(|old| old != *t))
        .count();
    Ok(WriteOutcome::Replaced {
        added,
        changed,
        removed,
    })
}

/// Moves the assembled tree to `out`. With an existing `out` both are exchanged atomically
/// (renameat2 RENAME_EXCHANGE); the old tree then sits in the staging directory, which is removed.
fn swap_in(staging: tempfile::TempDir, out: &Path) -> io::Result<()> {
    if !out.exists() {
        let path = staging.keep();
        return fs::rename(path, out);
    }
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        staging.path(),
        rustix::fs::CWD,
        out,
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => Ok(()),
        // Filesystems without RENAME_EXCHANGE: two renames, with the old tree kept until the end.
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            let backup = tempfile::Builder::new()
                .prefix(".bakeryc-old-")
                .tempdir_in(staging.path().parent().unwrap_or(Path::new(".")))?;
            let old = backup.path().join("tree");
            fs::rename(out, &old)?;
            if let Err(error) = fs::rename(staging.path(), out) {
                fs::rename(&old, out)?;
                return Err(error);
            }
            Ok(())
        }
        Err(errno) => Err(io::Error::from(errno)),
    }
}

fn carry_over(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).map(|_| ())
    } else {
        Ok(())
    }
}

/// Every non-directory entry under `root`, as (path relative to root with '/', full path), sorted.
fn walk(root: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .map_err(io::Error::other)?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.push((relative, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

// The secrets folder (`bakeryc secrets`): every file and folder in it is private (0600/0700)
// from the moment it exists, and one environment is replaced as a whole, never file by file.

/// The `.gitignore` written into a new secrets folder: nothing in it belongs in git.
pub const SECRETS_GITIGNORE: &str = "\
# Written by bakeryc: this folder holds private keys and passwords. Never commit any of it.
*
";

const PRIVATE_DIR_MODE: u32 = 0o700;
const PRIVATE_FILE_MODE: u32 = 0o600;

/// Every regular file under `<dir>/<env>/`, keyed by path relative to it; empty when the
/// folder does not exist. Symbolic links and other special files are not read.
pub fn read_secrets(dir: &Path, env: &str) -> io::Result<crate::secrets::SecretFiles> {
    let root = dir.join(env);
    let mut files = BTreeMap::new();
    if !root.exists() {
        return Ok(files.into());
    }
    for (relative, path) in walk(&root)? {
        if fs::symlink_metadata(&path)?.is_file() {
            files.insert(relative, fs::read(&path)?);
        }
    }
    Ok(files.into())
}

/// An exclusive lock on a secrets folder, held until dropped, so that two runs of
/// `bakeryc secrets` never interleave their read and write of the same folder.
#[derive(Debug)]
pub struct SecretsLock {
    _file: fs::File,
}

/// Creates the secrets folder (0700) and its `.gitignore` if missing, and locks it. Fails at
/// once, without waiting, when another run holds the lock.
pub fn lock_secrets(dir: &Path) -> io::Result<SecretsLock> {
    create_private_dir(dir)?;
    write_gitignore(dir)?;
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(".lock"))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(SecretsLock { _file: file }),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "another `bakeryc secrets` run is using this folder",
        )),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// A failure injected into [`write_secrets`], for tests of what an interrupted run leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// Fail as a crash would, after writing this many files.
    AfterFiles(usize),
}

/// Writes `changes` into `<dir>/<env>/` in one atomic step: the new folder is assembled beside
/// the old one (unchanged files hard-linked, changed files created 0600 in 0700 folders) and
/// exchanged with it by one rename. An error or a kill at any point leaves the old folder
/// whole (at worst a `.bakeryc-staging-*` folder, private too, is left beside it); files are
/// never truncated and a key never sits beside a certificate that is not its own.
pub fn write_secrets(
    dir: &Path,
    env: &str,
    changes: &crate::secrets::SecretFiles,
    fault: Fault,
) -> io::Result<()> {
    create_private_dir(dir)?;
    write_gitignore(dir)?;
    if changes.is_empty() {
        return Ok(());
    }
    let target = dir.join(env);
    let staging = tempfile::Builder::new()
        .prefix(".bakeryc-staging-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(
            PRIVATE_DIR_MODE,
        ))
        .tempdir_in(dir)?;
    if target.exists() {
        for (relative, path) in walk(&target)? {
            if changes.contains(&relative) {
                continue;
            }
            let to = staging.path().join(&relative);
            if let Some(parent) = to.parent() {
                create_private_dir(parent)?;
            }
            carry_over(&path, &to)?;
        }
    }
    for (written, (relative, bytes)) in changes.iter().enumerate() {
        if fault == Fault::AfterFiles(written) {
            return Err(io::Error::other(format!(
                "injected failure after {written} file(s)"
            )));
        }
        write_private(staging.path(), relative, bytes)?;
    }
    swap_in(staging, &target)?;
    fs::File::open(dir)?.sync_all()
}

fn private_options() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.mode(PRIVATE_FILE_MODE);
    options
}

/// Creates a folder and its missing parents at 0700 (less with a stricter umask).
fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(path)
}

/// Creates `root/relative` as a new 0600 file with these bytes, flushed to disk.
fn write_private(root: &Path, relative: &str, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let inside = Path::new(relative)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{relative:?} is not a path inside the folder"),
        ));
    }
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    let mut file = private_options().write(true).create_new(true).open(&path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes the `.gitignore` of a secrets folder unless one exists (a user's own is kept).
fn write_gitignore(dir: &Path) -> io::Result<()> {
    use std::io::Write as _;
    let path = dir.join(".gitignore");
    if fs::symlink_metadata(&path).is_ok() {
        return Ok(());
    }
    let mut file = tempfile::Builder::new()
        .prefix(".bakeryc-gitignore-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(
            PRIVATE_FILE_MODE,
        ))
        .tempfile_in(dir)?;
    file.write_all(SECRETS_GITIGNORE.as_bytes())?;
    file.as_file().sync_all()?;
    match file.persist_noclobber(&path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(p, t)| ((*p).to_owned(), format!("{HEADER}\n{t}\n")))
            .collect()
    }

    #[test]
    fn replaces_prunes_and_keeps_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        let first = files(&[("base/a.yaml", "a"), ("base/b.yaml", "b")]);
        assert!(matches!(
            write_tree(&out, &first).unwrap(),
            WriteOutcome::Replaced { added: 2, .. }
        ));
        fs::write(out.join("base/NOTES.md"), "mine").unwrap();
        assert_eq!(write_tree(&out, &first).unwrap(), WriteOutcome::Unchanged);
        let second = files(&[("base/a.yaml", "a2")]);
        assert_eq!(
            write_tree(&out, &second).unwrap(),
            WriteOutcome::Replaced {
                added: 0,
                changed: 1,
                removed: 1
            }
        );
        assert!(!out.join("base/b.yaml").exists());
        assert_eq!(
            fs::read_to_string(out.join("base/NOTES.md")).unwrap(),
            "mine"
        );
        assert_eq!(diff_tree(&out, &second).unwrap(), None);
        let diff = diff_tree(&out, &first).unwrap().unwrap();
        assert!(
            diff.contains("-a2") && diff.contains("+a") && diff.contains("/dev/null"),
            "{diff}"
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["generated"]);
    }
}
