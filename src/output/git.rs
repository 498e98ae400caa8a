//! The generated tree as it is at a git revision, read with `git ls-tree` and `git cat-file`
//! (no checkout: the work tree, the index and HEAD are never touched). Like the tree on disk,
//! only the files under the output folder's roots that start with the generated-file header
//! are bakeryc's.

use std::io::{self, Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::render::{Files, HEADER};

/// Whether `rev` names a commit of the repository around the current folder.
pub fn is_revision(rev: &str) -> bool {
    !rev.starts_with('-')
        && Command::new("git")
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{rev}^{{commit}}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn git(args: &[&str], input: Option<&[u8]>) -> io::Result<Vec<u8>> {
    let mut child = Command::new("git")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(input) = input {
        // Written from a thread: git answers while it reads, and a full pipe would block both.
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let output = read_all(&mut child)?;
        writer
            .join()
            .map_err(|_| io::Error::other("git input writer panicked"))??;
        return output;
    }
    read_all(&mut child)?
}

fn read_all(child: &mut std::process::Child) -> io::Result<io::Result<Vec<u8>>> {
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.as_mut() {
        stdout.read_to_end(&mut out)?;
    }
    let mut err = String::new();
    if let Some(stderr) = child.stderr.as_mut() {
        stderr.read_to_string(&mut err)?;
    }
    let status = child.wait()?;
    Ok(if status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!("git: {}", err.trim())))
    })
}

/// The generated files under `out` (relative to the current folder) at revision `rev`.
pub fn read_tree_at(rev: &str, out: &Path) -> io::Result<Files> {
    if rev.starts_with('-') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rev:?} is not a revision"),
        ));
    }
    let out = out.display().to_string();
    let listing = git(
        &["ls-tree", "-r", "-z", "--name-only", rev, "--", &out],
        None,
    )?;
    let prefix = format!("{}/", out.trim_end_matches('/'));
    let paths: Vec<String> = listing
        .split(|b| *b == 0)
        .filter_map(|p| std::str::from_utf8(p).ok())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    // One `git cat-file --batch` for every file: `<rev>:./<path>` is relative to this folder.
    let requests = paths.iter().fold(String::new(), |mut text, path| {
        text.push_str(rev);
        text.push_str(":./");
        text.push_str(path);
        text.push('\n');
        text
    });
    let answer = git(&["cat-file", "--batch"], Some(requests.as_bytes()))?;
    let mut files = Files::new();
    let mut rest = answer.as_slice();
    for path in &paths {
        let newline = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| io::Error::other("git cat-file: truncated answer"))?;
        let header = String::from_utf8_lossy(&rest[..newline]).to_string();
        rest = &rest[newline + 1..];
        let Some(size) = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|_| !header.ends_with("missing"))
        else {
            continue;
        };
        let body = rest
            .get(..size)
            .ok_or_else(|| io::Error::other("git cat-file: truncated answer"))?;
        rest = rest.get(size + 1..).unwrap_or_default();
        let relative = path.strip_prefix(&prefix).unwrap_or(path);
        let root = relative.split('/').next().unwrap_or_default();
        if !["argocd", "base", "overlays"].contains(&root) {
            continue;
        }
        if let Ok(text) = String::from_utf8(body.to_vec())
            && text.starts_with(HEADER)
        {
            files.insert(relative.to_owned(), text);
        }
    }
    Ok(files)
}
