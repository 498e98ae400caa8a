//! `bakeryc plan [--env ENV] [--against DIR|GIT-REV] [--format text|markdown|json]`: what building
//! bakery.toml would do to the running tier, against the generated tree on disk (or another
//! folder, or the tree at a git revision, read without a checkout), in words a reviewer reads in
//! ten seconds; markdown for a pull request comment. It writes nothing: `build` writes, and
//! `build --check` stays the drift gate. The plan itself is `crate::plan`; this file only reads
//! the arguments and prints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::{ConfigArgs, Failure, Findings, Format, Success};
use crate::output::{self, Comparison};
use crate::plan::{self, Change, Effect, Plan};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Aligned lines for a terminal.
    #[default]
    Text,
    /// A table per environment, for a pull request comment.
    Markdown,
    /// The plan as one JSON document.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The platform declaration to read.
    #[arg(long, short = 'c', default_value = "bakery.toml")]
    pub config: PathBuf,
    /// The generated tree on disk: the baseline unless --against says otherwise.
    #[arg(long, short = 'o', default_value = "generated")]
    pub out: PathBuf,
    /// Only this environment (an overlay name).
    #[arg(long, short = 'e')]
    pub env: Option<String>,
    /// The baseline: a folder holding a generated tree, or a git revision whose tree at the
    /// --out path is read with git (no checkout), such as origin/main.
    #[arg(long)]
    pub against: Option<String>,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Plan as `build --allow-major-upgrade` would build.
    #[arg(long)]
    pub allow_major_upgrade: bool,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    // Diagnostics go to stderr whatever --format says: stdout is the plan.
    let config = ConfigArgs {
        config: args.config.clone(),
        deny_warnings: false,
        format: Format::Human,
    };
    let (platform, findings) = super::load(&config)?;
    let render_failed = |e| Failure::io("cannot render the tree", std::io::Error::other(e));
    // A tree on disk that is already the build's changes nothing: compared one file at a time,
    // as `build --check` does, without parsing either tree.
    let folder = match &args.against {
        None => Some(args.out.clone()),
        Some(dir) if Path::new(dir).is_dir() => Some(PathBuf::from(dir)),
        Some(_) => None,
    };
    if let Some(folder) = &folder {
        let stream = crate::stream(&platform).map_err(render_failed)?;
        let label = format!("{} on disk", folder.display());
        let compared = output::compare_tree(folder, &stream)
            .map_err(|e| Failure::io(format!("cannot read {label}"), e))?;
        if let (Comparison::Unchanged { .. }, Some(workloads)) = (compared, stream.workloads()) {
            return finish(args, findings, plan::unchanged(workloads), &label);
        }
    }
    let files = crate::build(&platform).map_err(render_failed)?;
    let (baseline, label) = match (&args.against, &folder) {
        (_, Some(folder)) => (
            output::read_tree(folder),
            format!("{} on disk", folder.display()),
        ),
        (Some(rev), None) if output::is_revision(rev) => (
            output::read_tree_at(rev, &args.out),
            format!("{} at {rev}", args.out.display()),
        ),
        (other, None) => {
            return Err(Failure::Usage(format!(
                "--against {:?} is neither a folder nor a git revision",
                other.as_deref().unwrap_or_default()
            )));
        }
    };
    let baseline = baseline.map_err(|e| Failure::io(format!("cannot read {label}"), e))?;
    finish(args, findings, plan::plan(&baseline, &files), &label)
}

/// Acknowledges, filters and prints a plan.
fn finish(
    args: &Args,
    findings: Findings,
    planned: plan::Plan,
    label: &str,
) -> Result<Success, Failure> {
    let ack = plan::refuse::Acknowledged::from_source(&findings.source, args.allow_major_upgrade);
    let mut planned = plan::refuse::acknowledge(planned, &ack);
    if let Some(env) = &args.env {
        if !planned.environments.iter().any(|e| &e.name == env) {
            let known: Vec<&str> = planned
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            return Err(Failure::Usage(format!(
                "unknown environment {env:?}: the environments are {}",
                known.join(", ")
            )));
        }
        planned.environments.retain(|e| &e.name == env);
        planned.refusals.retain(|r| &r.environment == env);
    }
    let stdout = match args.format {
        PlanFormat::Text => text(&planned, label),
        PlanFormat::Markdown => markdown(&planned, label),
        PlanFormat::Json => {
            let mut json = serde_json::to_string_pretty(&planned)
                .map_err(|e| Failure::io("cannot write the plan", std::io::Error::other(e)))?;
            json.push('\n');
            json
        }
    };
    let refused = planned.refusals.len();
    Ok(Success {
        findings: Some(findings).filter(|f| !f.diagnostics.is_empty()),
        summary: (refused > 0).then(|| {
            format!("bakeryc: {refused} refused change(s): `bakeryc build` will fail until bakery.toml is fixed")
        }),
        stdout: Some(stdout),
    })
}

/// Changes whose effect and reasons are the same, together (one row for the thirteen databases
/// that inherit one changed setting), in the plan's order.
fn grouped(changes: &[Change]) -> Vec<(String, &Change)> {
    let mut groups: Vec<(Vec<&str>, &Change)> = Vec::new();
    for change in changes {
        match groups
            .iter_mut()
            .find(|(_, c)| c.effect == change.effect && c.reasons == change.reasons)
        {
            Some((names, _)) => names.push(&change.workload),
            None => groups.push((vec![&change.workload], change)),
        }
    }
    groups
        .into_iter()
        .map(|(names, change)| (names.join(", "), change))
        .collect()
}

/// `2 restart, 1 reload, 11 unchanged`.
fn counts(changes: &[Change], unchanged: usize) -> String {
    let mut parts = Vec::new();
    for effect in [
        Effect::Refused,
        Effect::Restart,
        Effect::Reload,
        Effect::VolumeGrows,
        Effect::New,
        Effect::Removed,
        Effect::NoEffect,
    ] {
        let n = changes.iter().filter(|c| c.effect == effect).count();
        if n > 0 {
            parts.push(format!("{n} {effect}"));
        }
    }
    parts.push(format!("{unchanged} unchanged"));
    parts.join(", ")
}

pub fn text(plan: &Plan, against: &str) -> String {
    let mut out = format!("bakeryc plan: bakery.toml against {against}\n");
    if plan.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    for env in &plan.environments {
        let _ = writeln!(
            out,
            "\n{}: {}",
            env.name,
            counts(&env.changes, env.unchanged)
        );
        for (workloads, change) in grouped(&env.changes) {
            let _ = writeln!(out, "  {:<12} {workloads}", change.effect.as_str());
            for reason in &change.reasons {
                let _ = writeln!(
                    out,
                    "  {:<12}   {}{}",
                    "",
                    reason.text,
                    if reason.effect == change.effect {
                        String::new()
                    } else {
                        format!(" [{}]", reason.effect)
                    }
                );
            }
        }
    }
    out
}

pub fn markdown(plan: &Plan, against: &str) -> String {
    let mut out = format!("### bakeryc plan\n\nbakery.toml against {against}.\n");
    if plan.is_empty() {
        out.push_str("\nNo changes.\n");
        return out;
    }
    for env in &plan.environments {
        let _ = writeln!(
            out,
            "\n#### {}: {}\n",
            env.name,
            counts(&env.changes, env.unchanged)
        );
        if env.changes.is_empty() {
            continue;
        }
        out.push_str("| workload | effect | reason |\n| --- | --- | --- |\n");
        for (workloads, change) in grouped(&env.changes) {
            let reasons: Vec<String> = change
                .reasons
                .iter()
                .map(|r| {
                    let text = r.text.replace('|', "\\|");
                    if r.effect == change.effect {
                        text
                    } else {
                        format!("{text} ({})", r.effect)
                    }
                })
                .collect();
            let effect = if change.effect == Effect::Refused {
                "**refused**".to_owned()
            } else {
                change.effect.to_string()
            };
            let _ = writeln!(
                out,
                "| {} | {effect} | {} |",
                workloads
                    .split(", ")
                    .map(|w| format!("`{w}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                reasons.join("<br>")
            );
        }
    }
    if !plan.refusals.is_empty() {
        out.push_str(
            "\n`bakeryc build` refuses the changes marked **refused**: see its diagnostics.\n",
        );
    }
    out
}
