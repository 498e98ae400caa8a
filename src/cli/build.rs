//! `bakeryc build`: compile bakery.toml and write the tree, or with `--check` compare it with the
//! tree on disk and write nothing.

use std::path::PathBuf;

use super::{ConfigArgs, Failure, Findings, Success};
use crate::output::{self, Comparison, WriteOutcome};
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
    let render_failed = |e| Failure::io("cannot render the tree", std::io::Error::other(e));
    // Made and compared or written one part at a time: a build never holds the whole tree.
    let stream = crate::stream(&platform).map_err(render_failed)?;
    let out = args.out.display().to_string();
    let findings = Some(findings).filter(|f| !f.diagnostics.is_empty());
    let read_failed = |e| Failure::io(format!("cannot read {out}"), e);
    if args.check {
        let compared = output::diff_tree(&args.out, &stream).map_err(read_failed)?;
        return match compared.diff {
            Some(diff) => Err(Failure::Drift { diff, findings }),
            None => Ok(Success {
                findings,
                summary: Some(format!(
                    "bakeryc: {out} is up to date ({} files)",
                    compared.files
                )),
                stdout: None,
            }),
        };
    }
    // What the cluster or PostgreSQL would refuse, compared with the tree on disk (what was
    // deployed), fails the build before anything is written. A first build or an unchanged
    // tree can refuse nothing; a changed one is held whole, both trees, to be compared.
    let outcome = match output::compare_tree(&args.out, &stream).map_err(read_failed)? {
        Comparison::Changed => {
            let files = crate::build(&platform).map_err(render_failed)?;
            let baseline = output::read_tree(&args.out).map_err(read_failed)?;
            let refused =
                plan::refuse::refusals(&source, &baseline, &files, args.allow_major_upgrade);
            drop(baseline);
            if !refused.is_empty() {
                let mut findings = findings.unwrap_or_else(|| Findings {
                    path: args.config.config.clone(),
                    source,
                    diagnostics: Vec::new(),
                });
                findings.diagnostics.extend(refused);
                return Err(Failure::Invalid(findings));
            }
            output::write_tree(&args.out, &files)
        }
        Comparison::Unchanged { files } => {
            output::tidy(&args.out).map(|()| WriteOutcome::Unchanged { files })
        }
        Comparison::Fresh => output::write_tree(&args.out, &stream),
    }
    .map_err(|e| Failure::io(format!("cannot write {out}"), e))?;
    let summary = match outcome {
        WriteOutcome::Unchanged { files } => {
            format!("bakeryc: {out} is up to date ({files} files)")
        }
        WriteOutcome::Replaced {
            added,
            changed,
            removed,
            files,
        } => {
            format!(
                "bakeryc: wrote {out}: {added} added, {changed} changed, {removed} removed ({files} files)"
            )
        }
    };
    Ok(Success {
        findings,
        summary: Some(summary),
        stdout: None,
    })
}
