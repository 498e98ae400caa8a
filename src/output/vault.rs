//! The secrets folder (`bakeryc secrets`) on disk: every file and folder in it is private
//! (0600/0700) from the moment it exists, one environment is replaced as a whole (never file by
//! file), and nothing below an environment's folder is reached except through [`SafeDir`], so no
//! symbolic link inside it is ever followed. The environment's folder itself may be a link (a
//! vault on tmpfs): it is written through, never replaced. It judges nothing; `secrets` does.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::safe::{self, Kind, Owner, SafeDir, Staging};
use crate::secrets::SecretFiles;

/// The `.gitignore` written into a new secrets folder: nothing in it belongs in git.
pub const SECRETS_GITIGNORE: &str = "\
# Written by bakeryc: this folder holds private keys and passwords. Never commit any of it.
*
";

const PRIVATE_DIR_MODE: u32 = 0o700;
const PRIVATE_FILE_MODE: u32 = 0o600;

/// What lies in `<dir>/<env>/`: the files' bytes, and the mode and owner of every file and
/// folder (keyed by path relative to it, folders too).
#[derive(Debug, Default)]
pub struct SecretsFolder {
    pub files: SecretFiles,
    /// Mode (`& 0o7777`) and owner of every file and folder.
    pub modes: BTreeMap<String, Mode>,
}

/// The mode of one entry and whether the user running bakeryc owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub mode: u32,
    pub uid: u32,
    pub is_dir: bool,
    /// Owned by the effective user of this process.
    pub mine: bool,
}

/// Every regular file under `<dir>/<env>/`, keyed by path relative to it; empty when the
/// folder does not exist. A symbolic link, FIFO or device anywhere inside is refused by name.
pub fn read_secrets(dir: &Path, env: &str) -> io::Result<SecretFiles> {
    Ok(inspect_secrets(dir, env)?.files)
}

/// `<dir>/<env>/` opened without following links, or `None` when it does not exist yet.
fn open_environment(dir: &Path, env: &str) -> io::Result<Option<SafeDir>> {
    match SafeDir::open(&dir.join(env)) {
        Ok(root) => Ok(Some(root)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`read_secrets`], with the mode and owner of every entry.
pub fn inspect_secrets(dir: &Path, env: &str) -> io::Result<SecretsFolder> {
    let mut folder = SecretsFolder::default();
    let mut files = BTreeMap::new();
    let Some(root) = open_environment(dir, env)? else {
        return Ok(folder);
    };
    let me = safe::current_uid();
    visit(&root, "", &mut |Visited {
                               dir,
                               relative,
                               name,
                               kind,
                               owner,
                           }| {
        folder.modes.insert(
            relative.to_owned(),
            Mode {
                mode: owner.mode,
                uid: owner.uid,
                is_dir: kind == Kind::Dir,
                mine: owner.uid == me,
            },
        );
        if kind == Kind::File {
            files.insert(relative.to_owned(), dir.read(name)?);
        }
        Ok(())
    })?;
    folder.files = files.into();
    Ok(folder)
}

/// One file or folder met by [`visit`].
struct Visited<'a> {
    /// The folder that holds it.
    dir: &'a SafeDir,
    /// Its path relative to the environment's folder.
    relative: &'a str,
    name: &'a str,
    kind: Kind,
    owner: Owner,
}

/// Calls `each` for every file and folder under `dir` (parents before children). Links and
/// special files are refused.
fn visit(
    dir: &SafeDir,
    prefix: &str,
    each: &mut dyn FnMut(Visited<'_>) -> io::Result<()>,
) -> io::Result<()> {
    for name in dir.names()? {
        let Some((kind, owner)) = dir.kind(&name)? else {
            continue;
        };
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let visited = Visited {
            dir,
            relative: &relative,
            name: &name,
            kind,
            owner,
        };
        match kind {
            Kind::File => each(visited)?,
            Kind::Dir => {
                each(visited)?;
                visit(&dir.dir(&name)?, &relative, each)?;
            }
            Kind::Link | Kind::Special => return Err(dir.refusal(&name)?),
        }
    }
    Ok(())
}

/// An exclusive lock on a secrets folder, held until dropped, so that two runs of
/// `bakeryc secrets` never interleave their read and write of the same folder.
#[derive(Debug)]
pub struct SecretsLock {
    _file: fs::File,
}

/// Creates the secrets folder (0700) and its `.gitignore` if missing, and locks it. Fails at
/// once, without waiting, when another run holds the lock. `.lock` is never a followed link.
pub fn lock_secrets(dir: &Path) -> io::Result<SecretsLock> {
    create_private_dir(dir)?;
    write_gitignore(dir)?;
    let file = SafeDir::open(dir)?.open_or_create(".lock", PRIVATE_FILE_MODE)?;
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
/// whole (a killed run's staging folder is removed by the next run); files are never
/// truncated and a key never sits beside a certificate that is not its own.
pub fn write_secrets(dir: &Path, env: &str, changes: &SecretFiles, fault: Fault) -> io::Result<()> {
    replace(dir, env, changes, &[], fault)
}

/// Removes the top-level folders `folders` of `<dir>/<env>/`, in the same one atomic step.
pub fn prune_secrets(dir: &Path, env: &str, folders: &[String]) -> io::Result<()> {
    replace(dir, env, &SecretFiles::new(), folders, Fault::None)
}

/// Sets every file of `<dir>/<env>/` that is readable or writable by group or others to 0600,
/// and every such folder to 0700, in place; returns their paths. Entries owned by another
/// user are left alone (the caller refuses them first).
pub fn repair_modes(dir: &Path, env: &str) -> io::Result<Vec<String>> {
    let mut repaired = Vec::new();
    let Some(root) = open_environment(dir, env)? else {
        return Ok(repaired);
    };
    let me = safe::current_uid();
    visit(&root, "", &mut |Visited {
                               dir,
                               relative,
                               name,
                               kind,
                               owner,
                           }| {
        if owner.mode & 0o077 != 0 && owner.uid == me {
            let mode = if kind == Kind::Dir {
                PRIVATE_DIR_MODE
            } else {
                PRIVATE_FILE_MODE
            };
            dir.set_mode(name, mode)?;
            repaired.push(relative.to_owned());
        }
        Ok(())
    })?;
    Ok(repaired)
}

/// The environment's real folder (the end of a link at `<dir>/<env>`), refused when it is a
/// mount point: an environment is replaced by one rename, which cannot move a mount point.
fn environment_folder(dir: &Path, env: &str) -> io::Result<PathBuf> {
    let target = safe::resolve_root(&dir.join(env))?;
    if fs::symlink_metadata(&target).is_ok() && safe::is_mount_point(&target)? {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a mount point: bakeryc replaces an environment's folder as a whole by \
                 one rename (so that a key never sits beside a certificate that is not its \
                 own), and a mount point cannot be renamed. Mount the volume one level up and \
                 point --dir at it, or make {} a symbolic link to a folder inside the mount",
                target.display(),
                dir.join(env).display()
            ),
        ));
    }
    Ok(target)
}

fn replace(
    dir: &Path,
    env: &str,
    changes: &SecretFiles,
    remove: &[String],
    fault: Fault,
) -> io::Result<()> {
    create_private_dir(dir)?;
    write_gitignore(dir)?;
    if changes.is_empty() && remove.is_empty() {
        return Ok(());
    }
    let target = environment_folder(dir, env)?;
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&parent)?;
    safe::remove_stale(&parent)?;
    let staging = Staging::new(&parent, env)?;
    let exists = fs::symlink_metadata(&target).is_ok();
    if exists {
        let old = SafeDir::open(&target)?;
        let mut dirs: BTreeMap<String, SafeDir> = BTreeMap::new();
        visit(&old, "", &mut |Visited {
                                  dir: from,
                                  relative,
                                  name,
                                  kind,
                                  ..
                              }| {
            let top = relative.split('/').next().unwrap_or(relative);
            if remove.iter().any(|r| r == top) || changes.contains(relative) {
                return Ok(());
            }
            let to = match relative.rsplit_once('/') {
                Some((parent, _)) => &dirs[parent],
                None => staging.dir(),
            };
            if kind == Kind::Dir {
                let made = to.create_dir(name, PRIVATE_DIR_MODE)?;
                dirs.insert(relative.to_owned(), made);
                Ok(())
            } else {
                from.link_into(name, to, name)
            }
        })?;
    }
    for (written, (relative, bytes)) in changes.iter().enumerate() {
        if fault == Fault::AfterFiles(written) {
            return Err(io::Error::other(format!(
                "injected failure after {written} file(s)"
            )));
        }
        write_private(staging.dir(), relative, bytes)?;
    }
    if exists {
        safe::exchange(staging.path(), &target)?;
    } else {
        fs::rename(staging.path(), &target)?;
    }
    SafeDir::open(&parent)?.sync()
}

/// Creates a folder and its missing parents at 0700 (less with a stricter umask).
fn create_private_dir(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR_MODE)
        .create(path)
}

/// Creates `root/relative` as a new 0600 file with these bytes, flushed to disk, through
/// [`SafeDir`] (its folders 0700), so that no link on the way is followed.
fn write_private(root: &SafeDir, relative: &str, bytes: &[u8]) -> io::Result<()> {
    let inside = Path::new(relative)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    let mut parts: Vec<&str> = relative.split('/').collect();
    let name = parts.pop().unwrap_or_default();
    if !inside || name.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{relative:?} is not a path inside the folder"),
        ));
    }
    let mut opened = Vec::new();
    for part in parts {
        let next = opened
            .last()
            .unwrap_or(root)
            .create_dir(part, PRIVATE_DIR_MODE)?;
        opened.push(next);
    }
    let mut file = opened
        .last()
        .unwrap_or(root)
        .create_file(name, PRIVATE_FILE_MODE)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes the `.gitignore` of a secrets folder unless one exists (a user's own is kept).
fn write_gitignore(dir: &Path) -> io::Result<()> {
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

    /// A secret file lands inside the folder or nowhere: no absolute path, no `..`, no empty
    /// name, whatever `secrets` hands over.
    #[test]
    fn write_private_writes_only_inside_the_folder() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("env")).unwrap();
        let root = SafeDir::open(&dir.path().join("env")).unwrap();
        for outside in [
            "../escaped",
            "a/../../escaped",
            "/tmp/escaped",
            "a/",
            "",
            "./a",
        ] {
            let error = write_private(&root, outside, b"x").unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{outside:?}");
        }
        assert!(!dir.path().join("escaped").exists());
        write_private(&root, "a/b/key", b"x").unwrap();
        let file = dir.path().join("env/a/b/key");
        assert_eq!(fs::read(&file).unwrap(), b"x");
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
