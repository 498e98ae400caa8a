//! The only code that touches disk: reading bakery.toml (a regular file of at most
//! [`MAX_CONFIG_BYTES`]), the generated tree (`tree`: atomic replacement of the roots it owns,
//! pruning of the files it no longer produces, the diff for `build --check`, the baseline of
//! `plan`, also as it is at a git revision through git itself), and the secrets
//! folder (`vault`), both through the guards of `safe`, and a private scratch copy of the tree
//! for `render`. It decides no content and prints nothing.

mod git;
mod safe;
mod tree;
mod vault;

use std::fs;
use std::io::{self, Read as _};
use std::os::unix::fs::FileTypeExt as _;
use std::path::Path;

pub use git::{is_revision, read_tree_at};
pub use tree::{
    Comparison, TreeDiff, WriteOutcome, compare_tree, diff_tree, read_tree, tidy, write_tree,
};
pub use vault::{
    Fault, Mode, SECRETS_GITIGNORE, SecretsFolder, SecretsLock, inspect_secrets, lock_secrets,
    prune_secrets, read_secrets, repair_modes, write_secrets,
};

/// The largest bakery.toml read: a platform of a thousand databases is about 100 kB, so this
/// leaves room for any real one and stops endless input (`/dev/zero`) at once.
pub const MAX_CONFIG_BYTES: u64 = 10 * 1024 * 1024;

/// Writes `files` into a new private temporary folder (mode 0700, removed when the returned
/// value is dropped), for `bakeryc render` to hand to kustomize: the user's generated/ is
/// neither read nor written, so rendering never races a build or leaves anything behind.
pub fn write_scratch_tree(files: &crate::render::Files) -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("bakeryc-render-")
        .tempdir()?;
    for (path, text) in files {
        // Paths come from `render` and are relative, but a scratch copy must never write
        // outside its folder whatever they hold.
        let relative = Path::new(path);
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(io::Error::other(format!(
                "{path}: not a plain relative path"
            )));
        }
        let target = dir.path().join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(target, text)?;
    }
    Ok(dir)
}

/// Reads a text file, such as bakery.toml: only a regular file (a link to one is fine) of at
/// most [`MAX_CONFIG_BYTES`]. A FIFO, device or folder is refused without being read (the file
/// is opened non-blocking, so a FIFO with no writer cannot hang the run).
pub fn read_text(path: &Path) -> io::Result<String> {
    use rustix::fs::{Mode, OFlags};
    let file = fs::File::from(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?);
    let kind = file.metadata()?.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a folder")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else {
        Some("a socket")
    };
    if let Some(what) = what {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {what}, not a regular file; bakeryc reads its config only from a regular file"
            ),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is larger than {} MB, the most bakeryc reads (a platform of a thousand \
                 databases is about 0.1 MB)",
                MAX_CONFIG_BYTES / 1024 / 1024
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_tree_holds_the_files_and_disappears_when_dropped() {
        let files: crate::render::Files = [
            ("base/kustomization.yaml".to_owned(), "a\n".to_owned()),
            (
                "overlays/prod/kustomization.yaml".to_owned(),
                "b\n".to_owned(),
            ),
        ]
        .into();
        let scratch = write_scratch_tree(&files).unwrap();
        let root = scratch.path().to_path_buf();
        for (path, text) in &files {
            assert_eq!(&fs::read_to_string(root.join(path)).unwrap(), text);
        }
        drop(scratch);
        assert!(!root.exists());
    }

    #[test]
    fn a_scratch_tree_refuses_paths_that_leave_it() {
        for path in [
            "../escape.yaml",
            "/tmp/escape.yaml",
            "base/../../escape.yaml",
        ] {
            let files: crate::render::Files = [(path.to_owned(), "x\n".to_owned())].into();
            assert!(write_scratch_tree(&files).is_err(), "{path}");
        }
    }
}
