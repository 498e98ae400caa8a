//! The only code that touches disk. It owns the generated files under the output directory
//! (recognised by their header line), replaces the whole tree atomically, prunes the files it no
//! longer produces, never touches other files, and diffs the tree on disk for `build --check`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
    for (relative, path) in walk(out)? {
        if !fs::symlink_metadata(&path)?.is_file() {
            continue;
        }
        let bytes = fs::read(&path)?;
        if let Ok(text) = String::from_utf8(bytes) {
            if text.starts_with(HEADER) {
                owned.insert(relative, text);
            }
        }
    }
    Ok(owned)
}

/// A unified diff from the tree on disk to `files`, or `None` when they are identical.
pub fn diff_tree(out: &Path, files: &Files) -> io::Result<Option<String>> {
    let current = owned_files(out)?;
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
    if current.len() == files.len() && current.iter().zip(files).all(|(a, b)| a == b) {
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
    for (relative, text) in files {
        let target = staging.path().join(relative);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&target, text)?;
    }
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
