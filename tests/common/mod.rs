//! Helpers shared by the integration tests that run the `bakeryc` binary. Each test crate uses
//! a subset, hence the allowance for unused items.
#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the built binary in `dir` without colors.
pub fn bakeryc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bakeryc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Every file under `dir` with its bytes, sorted by path relative to `dir`.
pub fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push((
                    path.strip_prefix(dir).unwrap().display().to_string(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}
