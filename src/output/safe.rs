//! The filesystem guards that every writer in `output` shares: [`SafeDir`], the one safe way to
//! open anything below a folder (each step is opened relative to its parent's descriptor with
//! `O_NOFOLLOW`, so no symbolic link is ever followed and a link is refused by name), the
//! locked staging folders that atomic replacements are assembled in (and the removal of stale
//! ones), and the checks for links and mount points at the root of what is replaced. It
//! decides nothing about what is written; the callers (`tree`, `vault`) do.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read as _};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

/// The name prefix of every staging folder; only folders with it are ever removed as stale.
pub const STAGING_PREFIX: &str = ".bakeryc-staging-";

/// How many links a root may go through before it is refused (as the kernel's own limit).
const MAX_LINKS: usize = 40;

/// What an entry below a [`SafeDir`] is, as `lstat` says (a link is never followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    /// A FIFO, socket or device: never opened.
    Special,
}

/// The mode and owner of an entry, as found on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Permission bits, with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// An open folder; everything below it is reached through its descriptor, never by path, so a
/// link planted anywhere below is refused instead of followed.
#[derive(Debug)]
pub struct SafeDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl SafeDir {
    /// Opens the root folder `path`. Links in `path` itself are followed: the root is where the
    /// user pointed bakeryc, and only what lies below it is guarded.
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Self {
            fd,
            path: path.to_path_buf(),
        })
    }

    fn child(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// What `name` is, without following it; `None` when it does not exist.
    pub fn kind(&self, name: &str) -> io::Result<Option<(Kind, Owner)>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => {
                let kind = match FileType::from_raw_mode(stat.st_mode) {
                    FileType::RegularFile => Kind::File,
                    FileType::Directory => Kind::Dir,
                    FileType::Symlink => Kind::Link,
                    _ => Kind::Special,
                };
                let owner = Owner {
                    mode: stat.st_mode & 0o7777,
                    uid: stat.st_uid,
                    gid: stat.st_gid,
                };
                Ok(Some((kind, owner)))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(io::Error::from(errno)),
        }
    }

    /// Opens the sub-folder `name`; a link or anything but a folder is refused by name.
    pub fn dir(&self, name: &str) -> io::Result<Self> {
        match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Self {
                fd,
                path: self.child(name),
            }),
            Err(Errno::LOOP | Errno::NOTDIR) => Err(self.refusal(name)?),
            Err(errno) => Err(io::Error::from(errno)),
        }
    }

    /// Creates the sub-folder `name` with `mode` (less with a stricter umask) unless it exists,
    /// and opens it.
    pub fn create_dir(&self, name: &str, mode: u32) -> io::Result<Self> {
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(Errno::EXIST) => self.dir(name),
            Err(errno) => Err(io::Error::from(errno)),
        }
    }

    /// Opens the regular file `name` for reading; a link, FIFO or device is refused by name
    /// (and never opened, so a FIFO cannot block).
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        match self.kind(name)? {
            Some((Kind::File, _)) => {}
            Some(_) => return Err(self.refusal(name)?),
            None => return Err(io::Error::from(Errno::NOENT)),
        }
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| match errno {
            Errno::LOOP => self.refusal(name).unwrap_or_else(|e| e),
            other => io::Error::from(other),
        })?;
        let mut bytes = Vec::new();
        fs::File::from(fd).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Creates `name` as a new file with `mode`; fails if anything (a link included) is there.
    pub fn create_file(&self, name: &str, mode: u32) -> io::Result<fs::File> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )?;
        Ok(fs::File::from(fd))
    }

    /// Opens (creating with `mode` if missing) `name` for reading and writing, without
    /// following a link; used for lock files.
    pub fn open_or_create(&self, name: &str, mode: u32) -> io::Result<fs::File> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(|errno| match errno {
            Errno::LOOP => self.refusal(name).unwrap_or_else(|e| e),
            other => io::Error::from(other),
        })?;
        Ok(fs::File::from(fd))
    }

    /// Hard-links `name` to `to/to_name` (a link is linked as itself, never followed).
    pub fn link_into(&self, name: &str, to: &SafeDir, to_name: &str) -> io::Result<()> {
        rustix::fs::linkat(&self.fd, name, &to.fd, to_name, AtFlags::empty())?;
        Ok(())
    }

    /// Sets the permission bits of the file or folder `name`, opened without following a link.
    pub fn set_mode(&self, name: &str, mode: u32) -> io::Result<()> {
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(())
    }

    /// The names in this folder, sorted (`.` and `..` left out).
    pub fn names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            names.push(OsStr::from_bytes(name).to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    pub fn sync(&self) -> io::Result<()> {
        rustix::fs::fsync(&self.fd)?;
        Ok(())
    }

    /// The error for an entry that is a link or a special file where a folder or file was
    /// expected; it names the path so that the user can find it.
    pub fn refusal(&self, name: &str) -> io::Result<io::Error> {
        let path = self.child(name);
        let what = match self.kind(name)? {
            Some((Kind::Link, _)) => format!(
                "{} is a symbolic link; bakeryc follows no link inside this folder: \
                 replace it with the real folder or file",
                path.display()
            ),
            Some((Kind::Special, _)) => format!(
                "{} is a FIFO, socket or device; bakeryc reads and writes only regular files and \
                 folders here: remove it",
                path.display()
            ),
            Some((Kind::File, _)) => format!("{} is a file where a folder belongs", path.display()),
            Some((Kind::Dir, _)) => format!("{} is a folder where a file belongs", path.display()),
            None => return Ok(io::Error::from(Errno::NOENT)),
        };
        Ok(io::Error::new(io::ErrorKind::InvalidInput, what))
    }
}

/// The folder a root path designates: `path` itself, or the end of the chain of links it is
/// (relative link targets are resolved against the link's folder). Writers stage beside this
/// real folder, so a link at the root is written through and never replaced.
pub fn resolve_root(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) => parent.join(target),
                    None => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is a loop of symbolic links", path.display()),
    ))
}

/// Whether `path` is the root of a mounted filesystem (a volume, a tmpfs, a bind mount), which
/// cannot be renamed. Uses statx's mount-root flag, or a device change against the parent on
/// kernels without it.
pub fn is_mount_point(path: &Path) -> io::Result<bool> {
    use rustix::fs::{StatxAttributes, StatxFlags};
    if let Ok(statx) = rustix::fs::statx(
        rustix::fs::CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::BASIC_STATS,
    ) {
        if statx
            .stx_attributes_mask
            .contains(StatxAttributes::MOUNT_ROOT)
        {
            return Ok(statx.stx_attributes.contains(StatxAttributes::MOUNT_ROOT));
        }
    }
    is_mount_point_by_device(path)
}

/// The older test: a mount point's device differs from its parent folder's.
fn is_mount_point_by_device(path: &Path) -> io::Result<bool> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        Some(_) => Path::new("."),
        None => return Ok(true),
    };
    Ok(fs::symlink_metadata(path)?.dev() != fs::metadata(parent)?.dev())
}

/// Exchanges two folders of one parent folder in one step (renameat2 RENAME_EXCHANGE), or, on
/// filesystems without it, with two renames (the old folder is kept until the end).
pub fn exchange(new: &Path, target: &Path) -> io::Result<()> {
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        new,
        rustix::fs::CWD,
        target,
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            let old = new.with_extension("old");
            fs::rename(target, &old)?;
            if let Err(error) = fs::rename(new, target) {
                fs::rename(&old, target)?;
                return Err(error);
            }
            fs::rename(&old, new)
        }
        Err(errno) => Err(io::Error::from(errno)),
    }
}

/// An exclusive lock on a folder itself (flock on its descriptor), held until dropped; it
/// adds no file to the folder. `build` holds one on the output folder, so that concurrent
/// builds take turns and a staging folder met while holding it can only be a killed run's.
#[derive(Debug)]
pub struct FolderLock {
    _dir: SafeDir,
}

/// Waits for and takes the lock on `path`.
pub fn lock_folder(path: &Path) -> io::Result<FolderLock> {
    let dir = SafeDir::open(path)?;
    rustix::fs::flock(&dir.fd, FlockOperation::LockExclusive)?;
    Ok(FolderLock { _dir: dir })
}

/// The effective user id, which owns everything bakeryc creates.
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A staging folder: created private in `parent` under [`STAGING_PREFIX`], locked (flock) for
/// as long as it lives so that [`remove_stale`] in a concurrent run leaves it alone, and removed
/// with everything in it when dropped (after a swap it holds the old tree).
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    dir: SafeDir,
}

impl Staging {
    pub fn new(parent: &Path, label: &str) -> io::Result<Self> {
        let path = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{label}-"))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?
            .keep();
        let dir = SafeDir::open(&path)?;
        rustix::fs::flock(&dir.fd, FlockOperation::NonBlockingLockExclusive)?;
        Ok(Self { path, dir })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &SafeDir {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = remove_tree(&self.path);
    }
}

/// Removes the staging folders in `parent` that no running bakeryc holds: a kill -9 leaves
/// them behind, and nothing else ever would. Only folders named [`STAGING_PREFIX`]`*` (not
/// links) whose lock can be taken are removed.
pub fn remove_stale(parent: &Path) -> io::Result<()> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(STAGING_PREFIX)
            || !entry.file_type()?.is_dir()
        {
            continue;
        }
        let Ok(dir) = SafeDir::open(&entry.path()) else {
            continue;
        };
        match rustix::fs::flock(&dir.fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => remove_tree(&entry.path())?,
            Err(Errno::WOULDBLOCK) => {}
            Err(errno) => return Err(io::Error::from(errno)),
        }
    }
    Ok(())
}

/// Removes a folder and everything in it, links included (never followed). Read-only folders
/// inside it (a `0555` tree of the user's) are made writable first, so that nothing is left.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    if fs::remove_dir_all(path).is_ok() {
        return Ok(());
    }
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let meta = fs::symlink_metadata(&dir)?;
        if !meta.is_dir() {
            continue;
        }
        let mode = meta.permissions().mode();
        if mode & 0o700 != 0o700 {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode | 0o700))?;
        }
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    fs::remove_dir_all(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_stale_spares_live_staging_and_foreign_folders() {
        let dir = tempfile::tempdir().unwrap();
        let live = Staging::new(dir.path(), "base").unwrap();
        fs::create_dir(dir.path().join(format!("{STAGING_PREFIX}dead"))).unwrap();
        fs::create_dir(dir.path().join("mine")).unwrap();
        std::os::unix::fs::symlink("mine", dir.path().join(format!("{STAGING_PREFIX}link")))
            .unwrap();
        remove_stale(dir.path()).unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let live_name = live
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut expected = vec![
            live_name,
            format!("{STAGING_PREFIX}link"),
            "mine".to_owned(),
        ];
        expected.sort();
        assert_eq!(names, expected);
        drop(live);
        assert!(dir.path().join("mine").is_dir());
    }

    #[test]
    fn safe_dir_refuses_links_by_name() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("real/x", dir.path().join("file-link")).unwrap();
        let root = SafeDir::open(dir.path()).unwrap();
        let error = root.dir("link").unwrap_err().to_string();
        assert!(error.contains("link is a symbolic link"), "{error}");
        let error = root.create_dir("link", 0o700).unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        assert!(root.create_file("file-link", 0o600).is_err());
        assert!(!dir.path().join("real/x").exists());
        let error = root.read("file-link").unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
    }

    /// A folder is opened as a folder only (a file where one belongs is refused by name, not
    /// opened as one), and no descriptor bakeryc hands out outlives an exec.
    #[test]
    fn folders_open_as_folders_only_and_no_descriptor_survives_an_exec() {
        use rustix::io::{FdFlags, fcntl_getfd};
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "x").unwrap();
        let error = SafeDir::open(&dir.path().join("file")).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(Errno::NOTDIR.raw_os_error()));
        let root = SafeDir::open(dir.path()).unwrap();
        let error = root.dir("file").unwrap_err().to_string();
        assert!(
            error.contains("file is a file where a folder belongs"),
            "{error}"
        );
        let sub = root.create_dir("sub", 0o700).unwrap();
        let created = sub.create_file("new", 0o600).unwrap();
        let lock = sub.open_or_create("lock", 0o600).unwrap();
        for (what, flags) in [
            ("open", fcntl_getfd(&root.fd)),
            ("create_dir", fcntl_getfd(&sub.fd)),
            ("create_file", fcntl_getfd(&created)),
            ("open_or_create", fcntl_getfd(&lock)),
        ] {
            assert!(flags.unwrap().contains(FdFlags::CLOEXEC), "{what}");
        }
    }

    /// The device test that kernels without statx's mount-root attribute get: `/proc` is a
    /// mount point, a folder inside it is not, nor is a relative path (its parent is `.`).
    #[test]
    fn mount_points_by_device() {
        assert!(is_mount_point_by_device(Path::new("/proc")).unwrap());
        assert!(!is_mount_point_by_device(Path::new("/proc/1")).unwrap());
        assert!(!is_mount_point_by_device(Path::new("src")).unwrap());
        assert!(is_mount_point_by_device(Path::new("/")).unwrap());
        assert!(is_mount_point(Path::new("/proc")).unwrap());
        assert!(!is_mount_point(Path::new("/proc/1")).unwrap());
    }

    /// `set_mode` changes the entry itself: a link is refused and its target keeps its mode,
    /// and a FIFO does not block it (opened without waiting for a writer).
    #[test]
    fn set_mode_follows_no_link_and_never_blocks() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("target"), "x").unwrap();
        fs::set_permissions(dir.path().join("target"), fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink("target", dir.path().join("link")).unwrap();
        let root = SafeDir::open(dir.path()).unwrap();
        assert!(root.set_mode("link", 0o600).is_err());
        let mode = fs::metadata(dir.path().join("target"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        rustix::fs::mknodat(
            &root.fd,
            "fifo",
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let path = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let root = SafeDir::open(&path).unwrap();
            done.send(root.set_mode("fifo", 0o600).is_ok()).unwrap();
        });
        let changed = finished
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("set_mode blocked on a FIFO");
        assert!(changed);
        let mode = fs::symlink_metadata(dir.path().join("fifo"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
