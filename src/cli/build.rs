//! `bakeryc build`: compile bakery.toml and write the tree, or with `--check` compare it with the
//! tree on disk and write nothing.

use std::path::PathBuf;

use super::{ConfigArgs, Failure, Findings, Success};
use crate::output::{self, WriteOutcome};
use crate::plan;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The directory that receives base/ and overlays/.
    #[arg(long, short = 'o', default_value = "generated")]
    pub out: PathBuf,
    /// Write nothing; exit 1 with a unified diff when the tree on disk is out of date.
    #[arg(long)]
    pub check: bool,
    /// Accept a PostgreSQL major version upgrade: the procedure of docs/upgrade.md is under way.
    #[arg(long)]
    pub allow_major_upgrade: bool,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    let (platform, findings) = super::load(&args.config)?;
    let source = findings.source.clone();
    let files = crate::build(&platform)
        .map_err(|e| Failure::io("cannot render the tree", std::io::Error::other(e)))?;
    let out = args.out.display().to_string();
    let findings = Some(findings).filter(|f| !f.diagnostics.is_empty());
    if args.check {
        return match output::diff_tree(&args.out, &files)
            .map_err(|e| Failure::io(format!("cannot read {out}"), e))?
        {
            Some(diff) => Err(Failure::Drift { diff, findings }),
            None => Ok(Success {
                findings,
                summary: Some(format!(
                    "bakeryc: {out} is up to date ({} files)",
                    files.len()
                )),
                stdout: None,
            }),
        };
    }
    // What the cluster or PostgreSQL would refuse, compared with the tree on disk (what was
    // deployed), fails the build before anything is written. An unchanged tree can refuse
    // nothing: it is compared file by file without being held; a changed one is dropped before
    // the write reads it again under its lock.
    let baseline = output::changed_tree(&args.out, &files)
        .map_err(|e| Failure::io(format!("cannot read {out}"), e))?;
    // A first build can refuse nothing: skip parsing both trees.
    let refused = match baseline {
        Some(baseline) if !baseline.is_empty() => {
            plan::refuse::refusals(&source, &baseline, &files, args.allow_major_upgrade)
        }
        _ => Vec::new(),
    };
    if !refused.is_empty() {
        let mut findings = findings.unwrap_or_else(|| Findings {
            path: args.config.config.clone(),
            source,
            diagnostics: Vec::new(),
        });
        findings.diagnostics.extend(refused);
        return Err(Failure::Invalid(findings));
    }
    let outcome = output::write_tree(&args.out, &files)
        .map_err(|e| Failure::io(format!("cannot write {out}"), e))?;
    let summary = match outcome {
        WriteOutcome::Unchanged => format!("bakeryc: {out} is up to date ({} files)", files.len()),
        WriteOutcome::Replaced {
            added,
            changed,
            removed,
        } => {
            format!(
                "bakeryc: wrote {out}: {added} added, {changed} changed, {removed} removed ({} files)",
                files.len()
            )
        }
    };
    Ok(Success {
        findings,
        summary: Some(summary),
        stdout: None,
    })
}
