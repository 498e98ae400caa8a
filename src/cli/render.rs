//! `bakeryc render --env ENV`: the built overlay of one environment as one YAML stream on stdout,
//! exactly what `kubectl kustomize generated/overlays/ENV` prints, for Argo CD's plugin and
//! pipelines that apply without committing generated/. It must not reimplement kustomize nor
//! write generated/: the tree is built in memory, `output` copies it into a private temporary
//! folder, and kubectl (`KUBECTL` overrides the program) renders that copy.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{ConfigArgs, Failure, Format, Success};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment whose overlay is printed (a key of [environments]).
    #[arg(long, short = 'e')]
    pub env: String,
    /// The platform declaration to read.
    #[arg(long, short = 'c', default_value = "bakery.toml")]
    pub config: PathBuf,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    // No `--format json`: stdout is the YAML stream, so diagnostics always go to stderr.
    let config = ConfigArgs {
        config: args.config.clone(),
        deny_warnings: args.deny_warnings,
        format: Format::Human,
    };
    let (platform, findings) = super::load(&config)?;
    if !platform
        .environments
        .iter()
        .any(|e| e.name.as_str() == args.env)
    {
        let known: Vec<&str> = platform
            .environments
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        return Err(Failure::Usage(format!(
            "unknown environment {:?} in {}: the environments are {}",
            args.env,
            args.config.display(),
            if known.is_empty() {
                "none (add an [environments.<name>] table)".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
    let files = crate::build(&platform)
        .map_err(|e| Failure::io("cannot render the tree", std::io::Error::other(e)))?;
    let scratch = crate::output::write_scratch_tree(&files)
        .map_err(|e| Failure::io("cannot write a temporary copy of the tree", e))?;
    let overlay = scratch.path().join("overlays").join(&args.env);
    // Argo CD's sidecar and CI images name kubectl differently; an empty value means unset.
    let program = std::env::var_os("KUBECTL")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("kubectl"));
    let shown = program.to_string_lossy().into_owned();
    let output = std::process::Command::new(&program)
        .arg("kustomize")
        .arg(&overlay)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Failure::io(format!("cannot run `{shown} kustomize` (set KUBECTL)"), e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim_end();
        return Err(Failure::Usage(format!(
            "`{shown} kustomize` failed ({}){}{stderr}",
            output.status,
            if stderr.is_empty() { "" } else { ": " },
        )));
    }
    let stdout = String::from_utf8(output.stdout).map_err(|e| {
        Failure::io(
            format!("`{shown} kustomize` printed"),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    drop(scratch);
    Ok(Success {
        findings: Some(findings).filter(|f| !f.diagnostics.is_empty()),
        summary: None,
        stdout: Some(stdout),
    })
}
