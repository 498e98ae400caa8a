//! `bakeryc completions SHELL` and `bakeryc man`: each shell's script and each man page name every
//! command the binary really has (read from its own `--help`, so a new command cannot be
//! forgotten), the bash script completes in a real bash, and the pages render with `man -l`.

mod common;

use common::Test;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn stdout(output: &Output, what: &str) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The commands `bakeryc [PATH...] --help` lists, without clap's own `help`.
fn commands(path: &[&str]) -> Vec<String> {
    let dir = Test::new();
    let mut args = path.to_vec();
    args.push("--help");
    let help = stdout(&dir.run(&args), "--help");
    let commands: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(
        !commands.is_empty(),
        "no commands found in the help of {path:?}:\n{help}"
    );
    commands
}

/// Every command path: `["build"]`, ..., `["secrets", "rotate"]`, ...
fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for top in commands(&[]) {
        let help = stdout(&Test::new().run(&[&top, "--help"]), "--help");
        if help.contains("Commands:\n") {
            for sub in commands(&[&top]) {
                paths.push(vec![top.clone(), sub]);
            }
        }
        paths.push(vec![top]);
    }
    for expected in ["build", "completions", "man", "secrets"] {
        assert!(
            paths.iter().any(|p| p == &[expected]),
            "{expected} is missing from {paths:?}"
        );
    }
    assert!(paths.iter().any(|p| p == &["secrets", "rotate"]));
    paths
}

#[test]
fn every_shell_script_names_every_command() {
    let dir = Test::new();
    let paths = command_paths();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&dir.run(&["completions", shell]), shell);
        assert!(script.len() > 200, "{shell}: a script, not {script:?}");
        for path in &paths {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "{shell}: the script does not mention {}",
                path.join(" ")
            );
        }
        let option = if shell == "fish" {
            "-l config"
        } else {
            "--config"
        };
        assert!(
            script.contains(option),
            "{shell}: options are completed too"
        );
    }
    let unknown = dir.run(&["completions", "cmd.exe"]);
    assert_eq!(
        unknown.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// The bash script, sourced in a real bash, completes a command and a nested command.
#[test]
fn the_bash_script_completes_in_bash() {
    let dir = Test::new();
    let script = stdout(&dir.run(&["completions", "bash"]), "bash");
    let probe = format!(
        "{script}\n\
         COMP_WORDS=(bakeryc sec); COMP_CWORD=1; _bakeryc bakeryc sec bakeryc\n\
         echo \"top: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(bakeryc secrets ro); COMP_CWORD=2; _bakeryc bakeryc ro secrets\n\
         echo \"secrets: ${{COMPREPLY[*]}}\"\n"
    );
    let mut bash = Command::new("bash")
        .args(["--norc", "-s"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    bash.stdin
        .take()
        .unwrap()
        .write_all(probe.as_bytes())
        .unwrap();
    let out = bash.wait_with_output().unwrap();
    let text = stdout(&out, "bash sourcing the script");
    assert!(text.contains("top: secrets\n"), "{text}");
    assert!(text.contains("secrets: rotate\n"), "{text}");
}

#[test]
fn every_command_has_a_man_page_that_renders() {
    let dir = Test::new();
    let main = stdout(&dir.run(&["man"]), "bakeryc man");
    assert!(main.contains(".TH bakeryc 1"), "{main}");
    let paths = command_paths();
    for path in &paths {
        let page_name = format!("bakeryc-{}", path.join("-"));
        if path.len() == 1 {
            assert!(
                main.contains(&page_name.replace('-', "\\-")),
                "bakeryc(1) does not list {page_name}"
            );
        }
        let mut args = vec!["man"];
        args.extend(path.iter().map(String::as_str));
        let page = stdout(&dir.run(&args), &args.join(" "));
        assert!(
            page.contains(&format!(".TH {page_name} 1")),
            "{page_name}: {page}"
        );
    }
    // Rendered by man itself when the machine has it: a roff error would show up here.
    if Command::new("man").arg("--version").output().is_ok() {
        let file = dir.path().join("bakeryc.1");
        std::fs::write(&file, &main).unwrap();
        let rendered = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        // Off a terminal, man writes bold as "X\bX": keep the last character of each overstrike.
        let mut text = String::new();
        for ch in stdout(&rendered, "man -l").chars() {
            if ch == '\u{8}' {
                text.pop();
            } else {
                text.push(ch);
            }
        }
        assert!(text.contains("SUBCOMMANDS"), "{text}");
        for path in paths.iter().filter(|p| p.len() == 1) {
            assert!(
                text.contains(&format!("bakeryc-{}(1)", path[0])),
                "man -l shows no {}:\n{text}",
                path[0]
            );
        }
        assert!(
            !String::from_utf8_lossy(&rendered.stderr).contains("warning"),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
}

#[test]
fn man_refuses_a_command_that_does_not_exist() {
    let dir = Test::new();
    let out = dir.run(&["man", "secrets", "renew"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no man page for `secrets renew`")
            && stderr.contains("generate, rotate, status"),
        "{stderr}"
    );
}
