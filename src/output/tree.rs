//! The generated tree on disk: the files under the output folder's roots (`base/`, `overlays/`,
//! `argocd/`) that start with the generated-file header are bakeryc's; everything else is the
//! user's and is never read, moved or changed. Each root is replaced by one atomic exchange with
//! a copy assembled beside it, inside the output folder (so a mount point or a linked output
//! folder works, and the parent of the output folder is never written). Folders keep their mode,
//! owner and setgid bit, and empty folders survive; a folder is removed only when pruning
//! emptied it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::safe::{self, Staging};
use crate::render::{Files, HEADER};

/// The folders of the output folder that bakeryc writes. A root is listed here, and not only
/// derived from the files of one build, so that a root no longer produced (argocd/ after
/// `[gitops]` is removed) is still pruned; nothing outside these folders is ever walked.
const ROOTS: [&str; 3] = ["argocd", "base", "overlays"];

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

/// The roots of `files` and every known root.
fn roots(files: &Files) -> BTreeSet<String> {
    ROOTS
        .iter()
        .map(|r| (*r).to_owned())
        .chain(
            files
                .keys()
                .filter_map(|p| p.split_once('/').map(|(r, _)| r.to_owned())),
        )
        .collect()
}

/// The generated files on disk compared with a build's: each path under the roots of `out`
/// whose file starts with the header, with `None` when its bytes are exactly the build's file
/// at that path and its text otherwise. Each file is compared as it is read and an identical
/// one is dropped at once, so an unchanged tree costs one file's text per thread, not a second
/// copy of the whole tree.
type Compared = BTreeMap<String, Option<String>>;

/// The generated files currently under the roots of `out` (those starting with the header).
fn owned_files(out: &Path, roots: &BTreeSet<String>) -> io::Result<BTreeMap<String, String>> {
    let empty = Files::new();
    Ok(compared_files(out, roots, &empty)?
        .into_iter()
        .filter_map(|(path, text)| text.map(|t| (path, t)))
        .collect())
}

/// The generated files under the roots of `out`, each compared with `files` as it is read.
fn compared_files(out: &Path, roots: &BTreeSet<String>, files: &Files) -> io::Result<Compared> {
    let mut owned = BTreeMap::new();
    match fs::metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(owned),
        Err(e) => return Err(e),
        Ok(meta) if !meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a folder", out.display()),
            ));
        }
        Ok(_) => {}
    }
    let mut entries = Vec::new();
    for root in roots {
        let path = out.join(root);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => entries.extend(walk(&path, root)?.files),
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked_root(&path)),
            _ => {}
        }
    }
    let found: Vec<Option<(String, Option<String>)>> = entries
        .into_par_iter()
        .map(|(relative, path)| {
            if !fs::symlink_metadata(&path)?.is_file() {
                return Ok(None);
            }
            let text = String::from_utf8(fs::read(&path)?).ok();
            Ok(text.filter(|t| t.starts_with(HEADER)).map(|t| {
                let same = files.get(&relative) == Some(&t);
                (relative, (!same).then_some(t))
            }))
        })
        .collect::<io::Result<_>>()?;
    owned.extend(found.into_iter().flatten());
    Ok(owned)
}

fn linked_root(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link; bakeryc replaces this folder as a whole and would replace \
             the link: link the output folder itself (-o) instead, or make it a real folder",
            path.display()
        ),
    )
}

fn mounted_root(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a mount point, which cannot be replaced by a rename: mount the volume at the \
             output folder (-o) instead, where bakeryc swaps the folders inside it",
            path.display()
        ),
    )
}

/// The generated files of the tree at `out` (those starting with the header), as `build` would
/// compare them: the baseline of `plan` and of `build`'s refusals. A missing folder is an empty
/// tree (a first build).
pub fn read_tree(out: &Path) -> io::Result<Files> {
    owned_files(out, &roots(&Files::new()))
}

/// Whether the generated files on disk are exactly `files`: as many, and each identical (an
/// identical file is one of `files`, so equal counts mean the same paths).
fn is_current(current: &Compared, files: &Files) -> bool {
    current.len() == files.len() && current.values().all(Option::is_none)
}

/// The generated files under `out` when they differ from `files` (the baseline of `build`'s
/// refusals, as `read_tree` reads it), `None` when they are exactly `files`. Read one file at a
/// time: an unchanged tree is never held, and a changed one is read once, its identical files
/// taken from `files`.
pub fn changed_tree(out: &Path, files: &Files) -> io::Result<Option<Files>> {
    let current = compared_files(out, &roots(&Files::new()), files)?;
    if is_current(&current, files) {
        return Ok(None);
    }
    Ok(Some(
        current
            .into_iter()
            .map(|(path, text)| {
                let text = text.unwrap_or_else(|| files[&path].clone());
                (path, text)
            })
            .collect(),
    ))
}

/// A unified diff from the tree on disk to `files`, or `None` when they are identical.
pub fn diff_tree(out: &Path, files: &Files) -> io::Result<Option<String>> {
    let current = compared_files(out, &roots(files), files)?;
    // The same test `write_tree` starts with, so that `--check` never costs more than `build`.
    if is_current(&current, files) {
        return Ok(None);
    }
    let mut paths: Vec<&String> = current.keys().chain(files.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut diff = String::new();
    for path in paths {
        let new = files.get(path).map_or("", String::as_str);
        let old = match current.get(path) {
            Some(None) => continue,
            Some(Some(text)) => text.as_str(),
            None => "",
        };
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

/// Replaces the generated files under `out` with `files`. Each root (`base/`, `overlays/`) is
/// assembled beside itself in a locked staging folder inside `out` (the user's files, links
/// and empty folders carried over, every folder with its old mode and owner) and exchanged with
/// it by one rename, roots in order, so an error at any point leaves the previous tree; a crash
/// between two exchanges can leave `base/` new and `overlays/` old, which the next `build`
/// completes. Staging folders of killed runs are removed first; none is kept afterwards.
pub fn write_tree(out: &Path, files: &Files) -> io::Result<WriteOutcome> {
    let roots = roots(files);
    if files.keys().any(|p| !p.contains('/')) {
        return Err(io::Error::other("a generated file lies outside every root"));
    }
    // Concurrent builds of one output folder take turns; everything below runs under the lock.
    let mut lock = match fs::metadata(out) {
        Ok(meta) if meta.is_dir() => Some(safe::lock_folder(out)?),
        _ => None,
    };
    // Even when nothing changes: a killed run's staging folder must not outlive the next run.
    // Earlier versions staged beside the output folder, so its parent is cleaned too (one
    // listing of names, nothing walked).
    safe::remove_stale(out)?;
    safe::remove_stale(&parent_of(out))?;
    let current = compared_files(out, &roots, files)?;
    if is_current(&current, files) {
        return Ok(WriteOutcome::Unchanged);
    }
    prepare_out(out)?;
    if lock.is_none() {
        lock = Some(safe::lock_folder(out)?);
    }
    let mut staged = Vec::new();
    for root in &roots {
        let mine = |path: &&String| path.split_once('/').is_some_and(|(r, _)| r == root);
        // Borrowed, not cloned: a copy of every text would double the peak of a fresh build.
        let new: Vec<(&String, &String)> = files.iter().filter(|(p, _)| mine(p)).collect();
        let pruned: BTreeSet<&String> = current
            .keys()
            .filter(|p| mine(p) && !files.contains_key(*p))
            .collect();
        let changes = new.iter().any(|(p, _)| current.get(*p) != Some(&None)) || !pruned.is_empty();
        if changes {
            staged.push(stage_root(out, root, &new, &current, &pruned)?);
        }
    }
    for (done, root) in staged.iter().enumerate() {
        if let Err(error) = root.swap_in() {
            // Put back the roots already exchanged, so that an error leaves the previous tree.
            for swapped in staged[..done].iter().rev() {
                swapped.swap_back()?;
            }
            return Err(error);
        }
    }
    drop(staged);
    drop(lock);
    let added = files.keys().filter(|p| !current.contains_key(*p)).count();
    let removed = current.keys().filter(|p| !files.contains_key(*p)).count();
    let changed = files
        .keys()
        .filter(|p| current.get(*p).is_some_and(Option::is_some))
        .count();
    Ok(WriteOutcome::Replaced {
        added,
        changed,
        removed,
    })
}

/// The folder that holds `out` (`.` for a bare name).
fn parent_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        Some(_) => PathBuf::from("."),
        None => out.to_path_buf(),
    }
}

/// Creates `out` (0755) if missing; a link to a missing folder is refused rather than replaced.
fn prepare_out(out: &Path) -> io::Result<()> {
    if let Ok(meta) = fs::symlink_metadata(out) {
        if meta.file_type().is_symlink() && fs::metadata(out).is_err() {
            let target = safe::resolve_root(out)?;
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is a symbolic link to {}, which does not exist: create that folder \
                     (bakeryc writes through the link and never replaces it)",
                    out.display(),
                    target.display()
                ),
            ));
        }
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).create(out)?;
    fs::set_permissions(out, fs::Permissions::from_mode(0o755))
}

/// One root assembled in its staging folder, ready to be exchanged with `out/<root>`.
struct StagedRoot {
    staging: Staging,
    /// `out/<root>`.
    target: PathBuf,
    /// Whether anything remains in the root (a root that pruning emptied is removed).
    keep: bool,
    /// Whether `target` existed when the root was staged.
    existed: bool,
}

impl StagedRoot {
    /// Exchanges the staged root with the one on disk; the old one lands in the staging folder
    /// and goes with it. Both sit in the output folder: a folder that changes parent needs
    /// write permission on itself (for `..`), which a read-only root does not give.
    fn swap_in(&self) -> io::Result<()> {
        let new = self.staging.path();
        let result = match (self.existed, self.keep) {
            (true, true) => safe::exchange(new, &self.target),
            (false, true) => fs::rename(new, &self.target),
            // Pruning emptied the root: the empty staged folder takes its place, then goes.
            (true, false) => {
                safe::exchange(new, &self.target).and_then(|()| fs::remove_dir(&self.target))
            }
            (false, false) => Ok(()),
        };
        result.map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) {
                mounted_root(&self.target)
            } else {
                e
            }
        })
    }

    /// Undoes a successful [`StagedRoot::swap_in`]: the previous root is back at its place.
    fn swap_back(&self) -> io::Result<()> {
        let staging = self.staging.path();
        match (self.existed, self.keep) {
            (true, true) => safe::exchange(staging, &self.target),
            (false, true) => fs::rename(&self.target, staging),
            (true, false) => fs::rename(staging, &self.target),
            (false, false) => Ok(()),
        }
    }
}

/// Assembles the new `out/<root>` in a staging folder inside `out`.
fn stage_root(
    out: &Path,
    root: &str,
    new: &[(&String, &String)],
    current: &Compared,
    pruned: &BTreeSet<&String>,
) -> io::Result<StagedRoot> {
    let target = out.join(root);
    if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) && safe::is_mount_point(&target)? {
        return Err(mounted_root(&target));
    }
    let staging = Staging::new(out, root)?;
    let base = staging.path().to_path_buf();
    // Folders keep the mode and owner they had; the modes are applied last, as a read-only
    // folder (0555) could not receive its files otherwise.
    let mut modes: Vec<(PathBuf, u32)> = Vec::new();
    let mut emptied: BTreeSet<PathBuf> = BTreeSet::new();
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_dir() => {
            let found = walk(&target, root)?;
            for (relative, meta) in std::iter::once((String::new(), meta)).chain(found.dirs) {
                let to = base.join(&relative);
                if !relative.is_empty() {
                    fs::create_dir(&to)?;
                }
                let original = if relative.is_empty() {
                    target.clone()
                } else {
                    target.join(&relative)
                };
                keep_owner(&to, &meta, &original)?;
                modes.push((to, meta.permissions().mode() & 0o7777));
            }
            for (relative, from) in found.files {
                if current.contains_key(&relative) {
                    continue;
                }
                let inside = relative.split_once('/').map_or("", |(_, rest)| rest);
                carry_over(&from, &base.join(inside))?;
            }
            // Folders that held pruned files and hold nothing now go with them.
            for path in pruned {
                let inside = path.split_once('/').map_or("", |(_, rest)| rest);
                let mut dir = base.join(inside);
                while dir.pop() && dir.starts_with(&base) && dir != base {
                    emptied.insert(dir.clone());
                }
            }
        }
        Ok(_) => return Err(linked_root(&target)),
        Err(_) => modes.push((base.clone(), 0o755)),
    }
    let dirs: BTreeSet<PathBuf> = new
        .iter()
        .filter_map(|(relative, _)| {
            let inside = relative.split_once('/').map_or("", |(_, rest)| rest);
            base.join(inside).parent().map(Path::to_path_buf)
        })
        .collect();
    for dir in dirs {
        fs::create_dir_all(dir)?;
    }
    // Creating files is mostly waiting on the filesystem; do it on every core.
    new.par_iter().try_for_each(|(relative, text)| {
        let inside = relative.split_once('/').map_or("", |(_, rest)| rest);
        fs::write(base.join(inside), text)
    })?;
    for dir in emptied.iter().rev() {
        if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
            fs::remove_dir(dir)?;
        }
    }
    for (dir, mode) in modes.iter().rev() {
        if fs::symlink_metadata(dir).is_ok() {
            fs::set_permissions(dir, fs::Permissions::from_mode(*mode))?;
        }
    }
    let keep = fs::read_dir(&base)?.next().is_some();
    let existed = fs::symlink_metadata(&target).is_ok();
    Ok(StagedRoot {
        staging,
        target,
        keep,
        existed,
    })
}

/// Gives `to` the owner and group of the folder it replaces; only root can give a folder to
/// another user, so anyone else gets a clear refusal instead of a silent change of owner.
fn keep_owner(to: &Path, old: &fs::Metadata, original: &Path) -> io::Result<()> {
    let new = fs::symlink_metadata(to)?;
    if new.uid() == old.uid() && new.gid() == old.gid() {
        return Ok(());
    }
    std::os::unix::fs::lchown(to, Some(old.uid()), Some(old.gid())).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "{} belongs to {}:{}; bakeryc replaces it by a copy and cannot give that copy \
                 the same owner ({e}): run bakeryc as that user",
                original.display(),
                old.uid(),
                old.gid()
            ),
        )
    })
}

fn carry_over(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(from)?, to)
    } else if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).map(|_| ())
    } else {
        Ok(())
    }
}

/// What lies under one root: its folders (with their metadata) and everything else, as paths
/// relative to the output folder (`base/x.yaml`), sorted; folders relative to the root.
struct Walk {
    dirs: Vec<(String, fs::Metadata)>,
    files: Vec<(String, PathBuf)>,
}

/// Walks `dir` (the root `root`), never following a link.
fn walk(dir: &Path, root: &str) -> io::Result<Walk> {
    let mut found = Walk {
        dirs: Vec::new(),
        files: Vec::new(),
    };
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, inside)) = pending.pop() {
        for entry in fs::read_dir(&path)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if inside.is_empty() {
                name
            } else {
                format!("{inside}/{name}")
            };
            if entry.file_type()?.is_dir() {
                found.dirs.push((relative.clone(), entry.metadata()?));
                pending.push((entry.path(), relative));
            } else {
                found
                    .files
                    .push((format!("{root}/{relative}"), entry.path()));
            }
        }
    }
    found.dirs.sort_by(|a, b| a.0.cmp(&b.0));
    found.files.sort();
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
        let inside: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["base"]);
    }

    #[test]
    fn a_root_that_pruning_empties_goes_and_an_emptied_folder_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        let first = files(&[
            ("base/a.yaml", "a"),
            ("overlays/dev/patches/p.yaml", "p"),
            ("overlays/prod/k.yaml", "k"),
        ]);
        write_tree(&out, &first).unwrap();
        fs::create_dir(out.join("overlays/mine")).unwrap();
        write_tree(&out, &files(&[("base/a.yaml", "a")])).unwrap();
        assert!(!out.join("overlays/dev").exists());
        assert!(!out.join("overlays/prod").exists());
        assert!(
            out.join("overlays/mine").is_dir(),
            "an empty folder of the user's stays"
        );
        fs::remove_dir(out.join("overlays/mine")).unwrap();
        write_tree(&out, &first).unwrap();
        write_tree(&out, &files(&[("base/a.yaml", "a")])).unwrap();
        assert!(!out.join("overlays").exists());
    }

    #[test]
    fn changed_tree_is_none_when_unchanged_and_the_disk_tree_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        assert_eq!(
            changed_tree(&out, &files(&[("base/a.yaml", "a")])).unwrap(),
            Some(Files::new())
        );
        let first = files(&[("base/a.yaml", "a"), ("base/b.yaml", "b")]);
        write_tree(&out, &first).unwrap();
        assert_eq!(changed_tree(&out, &first).unwrap(), None);
        // The identical file comes from the build, the changed one from disk, the extra one too.
        let second = files(&[("base/a.yaml", "a2"), ("overlays/dev/k.yaml", "k")]);
        assert_eq!(
            changed_tree(&out, &second).unwrap(),
            Some(read_tree(&out).unwrap())
        );
        let fewer = files(&[("base/a.yaml", "a")]);
        assert_eq!(
            changed_tree(&out, &fewer).unwrap(),
            Some(read_tree(&out).unwrap())
        );
    }

    #[test]
    fn swap_back_restores_the_previous_root() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        let first = files(&[("base/a.yaml", "a")]);
        write_tree(&out, &first).unwrap();
        let second = files(&[("base/a.yaml", "a2"), ("overlays/dev/k.yaml", "k")]);
        let current = compared_files(&out, &roots(&second), &second).unwrap();
        let none = BTreeSet::new();
        let keep = |root: &str| -> Vec<(&String, &String)> {
            second.iter().filter(|(p, _)| p.starts_with(root)).collect()
        };
        let base = stage_root(&out, "base", &keep("base/"), &current, &none).unwrap();
        let overlays = stage_root(&out, "overlays", &keep("overlays/"), &current, &none).unwrap();
        base.swap_in().unwrap();
        overlays.swap_in().unwrap();
        assert_eq!(owned_files(&out, &roots(&second)).unwrap().len(), 2);
        overlays.swap_back().unwrap();
        base.swap_back().unwrap();
        assert!(is_current(
            &compared_files(&out, &roots(&first), &first).unwrap(),
            &first
        ));
        assert!(!out.join("overlays").exists());
        drop((base, overlays));
        let inside: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["base"]);
    }
}
