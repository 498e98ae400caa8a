//! The generated tree on disk: the files under the output folder's roots (`base/`, `overlays/`,
//! `argocd/`) that start with the generated-file header are bakeryc's; everything else is the
//! user's and is never read, moved or changed. Each root is replaced by one atomic exchange with
//! a copy assembled beside it, inside the output folder (so a mount point or a linked output
//! folder works, and the parent of the output folder is never written). Folders keep their mode,
//! owner and setgid bit, and empty folders survive; a folder is removed only when pruning
//! emptied it. A build's files come from a [`Source`], visited one file at a time: nothing here
//! holds the build's tree or the one on disk, except `read_tree`, whose caller asks for it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::PoisonError;

use rayon::prelude::*;

use super::safe::{self, Staging};
use crate::render::{Files, HEADER, Source};

/// The folders of the output folder that bakeryc writes. A root is listed here, and not only
/// derived from the files of one build, so that a root no longer produced (argocd/ after
/// `[gitops]` is removed) is still pruned; nothing outside these folders is ever walked.
const ROOTS: [&str; 3] = ["argocd", "base", "overlays"];

/// What `write_tree` did, with how many files the build makes.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The tree on disk already had these exact bytes; nothing was written.
    Unchanged { files: usize },
    /// The tree was replaced; counts of files added, changed and removed.
    Replaced {
        added: usize,
        changed: usize,
        removed: usize,
        files: usize,
    },
}

/// Where a file of a build stands against the tree on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// A generated file with exactly these bytes is there.
    Same,
    /// A generated file with other bytes is there.
    Changed,
    /// No generated file is there.
    New,
}

/// The generated files under the roots of `out` (those that start with the header), by path
/// relative to `out`; only their first bytes are read.
fn owned_paths(out: &Path) -> io::Result<BTreeMap<String, PathBuf>> {
    let entries = root_entries(out)?;
    let found: Vec<Option<(String, PathBuf)>> = entries
        .into_par_iter()
        .map(|(relative, path)| {
            if !fs::symlink_metadata(&path)?.is_file() {
                return Ok(None);
            }
            let mut start = vec![0; HEADER.len()];
            let mut file = fs::File::open(&path)?;
            let ours =
                io::Read::read_exact(&mut file, &mut start).is_ok() && start == HEADER.as_bytes();
            Ok(ours.then_some((relative, path)))
        })
        .collect::<io::Result<_>>()?;
    Ok(found.into_iter().flatten().collect())
}

/// Everything under the roots of `out` but folders: (path relative to `out`, path), sorted. A
/// missing `out` holds nothing; a linked root is refused.
fn root_entries(out: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    match fs::metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
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
    for root in ROOTS {
        let path = out.join(root);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => entries.extend(walk(&path, root)?.files),
            Ok(meta) if meta.file_type().is_symlink() => return Err(linked_root(&path)),
            Ok(_) => return Err(not_a_folder_root(&path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(entries)
}

/// The root a generated path belongs to; a path outside every root is an error (compile never
/// makes one, and writing it would escape the roots' atomic exchange).
fn root_of(path: &str) -> io::Result<&'static str> {
    let first = path.split_once('/').map_or("", |(root, _)| root);
    ROOTS
        .iter()
        .find(|root| **root == first)
        .copied()
        .ok_or_else(|| {
            io::Error::other(format!("{path}: a generated file lies outside every root"))
        })
}

/// Each file of `files` against the generated files on disk (`owned`), compared as it is made
/// and dropped at once, so that comparing never holds either tree.
fn statuses<S: Source>(
    owned: &BTreeMap<String, PathBuf>,
    files: &S,
) -> io::Result<BTreeMap<String, Status>> {
    files.visit(&|path, text| {
        root_of(path)?;
        Ok(match owned.get(path) {
            None => Status::New,
            Some(on_disk) if fs::read(on_disk)? == text.as_bytes() => Status::Same,
            Some(_) => Status::Changed,
        })
    })
}

/// Whether the generated files on disk are exactly the build's: each the same, and no other.
fn is_current(statuses: &BTreeMap<String, Status>, owned: &BTreeMap<String, PathBuf>) -> bool {
    statuses.len() == owned.len() && statuses.values().all(|s| *s == Status::Same)
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

/// A root that is a file (or a FIFO, socket or device): the user's, so never replaced, and no
/// tree can be read from it.
fn not_a_folder_root(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not a folder; bakeryc keeps its generated files in a folder of that name:              move it away, or choose another output folder (-o)",
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

/// The generated files of the tree at `out` (those starting with the header and valid UTF-8),
/// as `build` would compare them: the baseline of `plan` and of `build`'s refusals. A missing
/// folder is an empty tree (a first build).
pub fn read_tree(out: &Path) -> io::Result<Files> {
    let owned = owned_paths(out)?;
    let found: Vec<Option<(String, String)>> = owned
        .into_par_iter()
        .map(|(relative, path)| {
            Ok(String::from_utf8(fs::read(&path)?)
                .ok()
                .map(|t| (relative, t)))
        })
        .collect::<io::Result<_>>()?;
    Ok(found.into_iter().flatten().collect())
}

/// How the tree on disk compares with a build's.
#[derive(Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Every generated file is the build's (this many), and there is no other.
    Unchanged { files: usize },
    /// There is no generated file at all (a first build): nothing to compare with.
    Fresh,
    /// Some file differs, is missing or is no longer made.
    Changed,
}

/// Compares the generated files on disk with `files`, one file at a time (neither tree is held).
pub fn compare_tree<S: Source>(out: &Path, files: &S) -> io::Result<Comparison> {
    let owned = owned_paths(out)?;
    if owned.is_empty() {
        return Ok(Comparison::Fresh);
    }
    let statuses = statuses(&owned, files)?;
    Ok(if is_current(&statuses, &owned) {
        Comparison::Unchanged {
            files: statuses.len(),
        }
    } else {
        Comparison::Changed
    })
}

/// The tree on disk against a build's.
#[derive(Debug, PartialEq, Eq)]
pub struct TreeDiff {
    /// How many files the build makes.
    pub files: usize,
    /// A unified diff from the tree on disk to the build's, `None` when they are identical.
    pub diff: Option<String>,
}

/// A unified diff from the tree on disk to `files`. Each file's diff is made as the file is,
/// so only the diff text is held.
pub fn diff_tree<S: Source>(out: &Path, files: &S) -> io::Result<TreeDiff> {
    let owned = owned_paths(out)?;
    let name = |side: &str, path: &str| format!("{side}/{}", out.join(path).display());
    let diff = |old: &str, new: &str, old_name: String, new_name: String| {
        similar::TextDiff::from_lines(old, new)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &new_name)
            .to_string()
    };
    let mut diffs = files.visit(&|path, text| {
        root_of(path)?;
        let Some(on_disk) = owned.get(path) else {
            return Ok(Some(diff("", text, "/dev/null".into(), name("b", path))));
        };
        let bytes = fs::read(on_disk)?;
        if bytes == text.as_bytes() {
            return Ok(None);
        }
        let old = String::from_utf8_lossy(&bytes);
        Ok(Some(diff(&old, text, name("a", path), name("b", path))))
    })?;
    let made = diffs.len();
    for (path, on_disk) in &owned {
        if !diffs.contains_key(path) {
            let old = String::from_utf8_lossy(&fs::read(on_disk)?).into_owned();
            let removed = diff(&old, "", name("a", path), "/dev/null".into());
            diffs.insert(path.clone(), Some(removed));
        }
    }
    let text: String = diffs.into_values().flatten().collect();
    Ok(TreeDiff {
        files: made,
        diff: (!text.is_empty()).then_some(text),
    })
}

/// Removes the staging folders of killed runs, under the output folder's lock: what
/// [`write_tree`] does first, for a caller that found the tree unchanged and writes nothing.
pub fn tidy(out: &Path) -> io::Result<()> {
    let _lock = match fs::metadata(out) {
        Ok(meta) if meta.is_dir() => Some(safe::lock_folder(out)?),
        _ => None,
    };
    safe::remove_stale(out)?;
    safe::remove_stale(&parent_of(out))
}

/// Replaces the generated files under `out` with `files`. Each root (`base/`, `overlays/`) is
/// assembled beside itself in a locked staging folder inside `out` (the user's files, links
/// and empty folders carried over, every folder with its old mode and owner) and exchanged with
/// it by one rename, roots in order, so an error at any point leaves the previous tree; a crash
/// between two exchanges can leave `base/` new and `overlays/` old, which the next `build`
/// completes. Staging folders of killed runs are removed first; none is kept afterwards.
///
/// `files` is visited once when there is no generated file yet or nothing changed, twice
/// otherwise (compared, then written): a build's tree is never held.
pub fn write_tree<S: Source>(out: &Path, files: &S) -> io::Result<WriteOutcome> {
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
    let owned = owned_paths(out)?;
    // A first build has nothing to compare with: every file is new, written as it is made.
    let statuses = if owned.is_empty() {
        None
    } else {
        let statuses = statuses(&owned, files)?;
        if is_current(&statuses, &owned) {
            return Ok(WriteOutcome::Unchanged {
                files: statuses.len(),
            });
        }
        Some(statuses)
    };
    prepare_out(out)?;
    if lock.is_none() {
        lock = Some(safe::lock_folder(out)?);
    }
    // The roots to stage: every root on a first build; otherwise those with a changed, new or
    // pruned file.
    let changed: BTreeSet<&str> = match &statuses {
        None => ROOTS.into_iter().collect(),
        Some(statuses) => statuses
            .iter()
            .filter(|(_, status)| **status != Status::Same)
            .map(|(path, _)| path.as_str())
            .chain(
                owned
                    .keys()
                    .filter(|p| !statuses.contains_key(*p))
                    .map(String::as_str),
            )
            .map(root_of)
            .collect::<io::Result<_>>()?,
    };
    let mut staging = BTreeMap::new();
    for root in &changed {
        staging.insert(*root, prepare_root(out, root, &owned)?);
    }
    // Creating files is mostly waiting on the filesystem: every core writes the files it made.
    // Each folder is made once: a `mkdir` of an existing folder still takes its parent's lock,
    // which every file created beside it waits for.
    let folders = std::sync::Mutex::new(BTreeSet::new());
    let written = files.visit(&|path, text| {
        let root = root_of(path)?;
        if let Some(prepared) = staging.get(root) {
            let inside = path.split_once('/').map_or("", |(_, rest)| rest);
            let to = prepared.base.join(inside);
            if let Some(parent) = to.parent() {
                let mut made = folders.lock().unwrap_or_else(PoisonError::into_inner);
                if !made.contains(parent) {
                    fs::create_dir_all(parent)?;
                    made.insert(parent.to_path_buf());
                }
            }
            fs::write(to, text)?;
        }
        Ok(())
    })?;
    let mut staged = Vec::new();
    for (root, prepared) in staging {
        let pruned: Vec<&String> = owned
            .keys()
            .filter(|p| root_of(p).ok() == Some(root) && !written.contains_key(*p))
            .collect();
        staged.push(prepared.finish(&pruned)?);
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
    let added = written.keys().filter(|p| !owned.contains_key(*p)).count();
    let removed = owned.keys().filter(|p| !written.contains_key(*p)).count();
    let changed = statuses.map_or(0, |statuses| {
        statuses.values().filter(|s| **s == Status::Changed).count()
    });
    Ok(WriteOutcome::Replaced {
        added,
        changed,
        removed,
        files: written.len(),
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

/// A root being assembled in its staging folder: the user's files and every folder carried
/// over, the build's files to be written into `base`.
struct PreparedRoot {
    staging: Staging,
    /// The staging folder, which becomes `out/<root>`.
    base: PathBuf,
    /// `out/<root>`.
    target: PathBuf,
    /// Folders with the mode they must end with (applied last, as a read-only folder (0555)
    /// could not receive its files otherwise).
    modes: Vec<(PathBuf, u32)>,
}

/// Starts the new `out/<root>` in a staging folder inside `out`: its folders with their old mode
/// and owner, and everything in it that is not a generated file (`owned`).
fn prepare_root(
    out: &Path,
    root: &str,
    owned: &BTreeMap<String, PathBuf>,
) -> io::Result<PreparedRoot> {
    let target = out.join(root);
    if fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) && safe::is_mount_point(&target)? {
        return Err(mounted_root(&target));
    }
    let staging = Staging::new(out, root)?;
    let base = staging.path().to_path_buf();
    let mut modes: Vec<(PathBuf, u32)> = Vec::new();
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
                if owned.contains_key(&relative) {
                    continue;
                }
                let inside = relative.split_once('/').map_or("", |(_, rest)| rest);
                carry_over(&from, &base.join(inside))?;
            }
        }
        Ok(meta) if meta.file_type().is_symlink() => return Err(linked_root(&target)),
        Ok(_) => return Err(not_a_folder_root(&target)),
        Err(_) => modes.push((base.clone(), 0o755)),
    }
    Ok(PreparedRoot {
        staging,
        base,
        target,
        modes,
    })
}

impl PreparedRoot {
    /// Completes the root once the build's files are in: folders that held `pruned` files and
    /// hold nothing now go with them, and every folder gets its mode back.
    fn finish(self, pruned: &[&String]) -> io::Result<StagedRoot> {
        let base = &self.base;
        let mut emptied: BTreeSet<PathBuf> = BTreeSet::new();
        for path in pruned {
            let inside = path.split_once('/').map_or("", |(_, rest)| rest);
            let mut dir = base.join(inside);
            while dir.pop() && dir.starts_with(base) && dir != *base {
                emptied.insert(dir.clone());
            }
        }
        for dir in emptied.iter().rev() {
            if fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
                fs::remove_dir(dir)?;
            }
        }
        for (dir, mode) in self.modes.iter().rev() {
            if fs::symlink_metadata(dir).is_ok() {
                fs::set_permissions(dir, fs::Permissions::from_mode(*mode))?;
            }
        }
        let keep = fs::read_dir(base)?.next().is_some();
        let existed = fs::symlink_metadata(&self.target).is_ok();
        Ok(StagedRoot {
            staging: self.staging,
            target: self.target,
            keep,
            existed,
        })
    }
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
        assert_eq!(
            write_tree(&out, &first).unwrap(),
            WriteOutcome::Unchanged { files: 2 }
        );
        let second = files(&[("base/a.yaml", "a2")]);
        assert_eq!(
            write_tree(&out, &second).unwrap(),
            WriteOutcome::Replaced {
                added: 0,
                changed: 1,
                removed: 1,
                files: 1,
            }
        );
        assert!(!out.join("base/b.yaml").exists());
        assert_eq!(
            fs::read_to_string(out.join("base/NOTES.md")).unwrap(),
            "mine"
        );
        assert_eq!(diff_tree(&out, &second).unwrap().diff, None);
        let diff = diff_tree(&out, &first).unwrap().diff.unwrap();
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
    fn compare_tree_tells_a_first_build_an_unchanged_and_a_changed_tree_apart() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        let first = files(&[("base/a.yaml", "a"), ("base/b.yaml", "b")]);
        assert_eq!(compare_tree(&out, &first).unwrap(), Comparison::Fresh);
        write_tree(&out, &first).unwrap();
        // A file of the user's is not the tree's.
        fs::write(out.join("base/NOTES.md"), "mine").unwrap();
        assert_eq!(
            compare_tree(&out, &first).unwrap(),
            Comparison::Unchanged { files: 2 }
        );
        for changed in [
            files(&[("base/a.yaml", "a2"), ("base/b.yaml", "b")]),
            files(&[("base/a.yaml", "a")]),
            files(&[
                ("base/a.yaml", "a"),
                ("base/b.yaml", "b"),
                ("overlays/dev/k.yaml", "k"),
            ]),
        ] {
            assert_eq!(compare_tree(&out, &changed).unwrap(), Comparison::Changed);
        }
        assert!(
            compare_tree(&out, &files(&[("elsewhere/a.yaml", "a")])).is_err(),
            "a file outside every root"
        );
    }

    #[test]
    fn swap_back_restores_the_previous_root() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("generated");
        let first = files(&[("base/a.yaml", "a")]);
        write_tree(&out, &first).unwrap();
        let second = files(&[("base/a.yaml", "a2"), ("overlays/dev/k.yaml", "k")]);
        let owned = owned_paths(&out).unwrap();
        let stage = |root: &str| {
            let prepared = prepare_root(&out, root, &owned).unwrap();
            for (path, text) in second.iter().filter(|(p, _)| p.starts_with(root)) {
                let to = prepared.base.join(path.split_once('/').unwrap().1);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                fs::write(to, text).unwrap();
            }
            prepared.finish(&[]).unwrap()
        };
        let base = stage("base");
        let overlays = stage("overlays");
        base.swap_in().unwrap();
        overlays.swap_in().unwrap();
        assert_eq!(read_tree(&out).unwrap(), second);
        overlays.swap_back().unwrap();
        base.swap_back().unwrap();
        assert_eq!(read_tree(&out).unwrap(), first);
        assert!(!out.join("overlays").exists());
        drop((base, overlays));
        let inside: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(inside, ["base"]);
    }
}
