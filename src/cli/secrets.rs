//! `bakeryc secrets generate|rotate|status|prune`: reads bakery.toml and the environment's
//! secrets folder, asks the pure core (`crate::secrets`) what to write or report, writes through
//! `output`, and returns the summary to `cli`. It draws the key-generation progress bar and
//! asks prune's confirmation (on stderr, only on a terminal) and nothing else; no secret
//! material ever reaches its output.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::Timestamp;

use super::{ConfigArgs, Failure, Findings, Format, Success, printable};
use crate::model::Platform;
use crate::output::{self, Fault};
use crate::secrets::{self, Change, EntryKind, Outcome, Rotation, SecretsError, State, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create what is missing for an environment (CA, server certificates, passwords and the
    /// kustomize root secrets/<env>/); never replace anything that exists.
    Generate(Target),
    /// Replace keys and certificates (or passwords, or the CA) and print the rollout to follow.
    Rotate(RotateArgs),
    /// Report every certificate and password; exit 1 when anything is due, expired, missing or
    /// no longer matches bakery.toml.
    Status(StatusArgs),
    /// Store the passwords a running platform already uses (a `kubectl get secret -o yaml` dump
    /// or `name=password` lines) where `generate` keeps them, 0600; prints names only, and
    /// replaces a different password already there only with --force.
    Import(ImportArgs),
    /// Remove the folders of secrets/<env>/ that belong to no database or cache of bakery.toml
    /// (`status` lists them), after confirmation on a terminal or with --yes.
    Prune(PruneArgs),
}

/// Which environment, and where its secrets live.
#[derive(Debug, clap::Args)]
pub struct Target {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The environment, as declared under [environments] in bakery.toml.
    #[arg(long)]
    pub env: String,
    /// The secrets folder; the environment's kustomize root is <DIR>/<ENV>.
    #[arg(long, default_value = "secrets")]
    pub dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub target: Target,
    /// Only these databases or the cache, by their `name` in bakery.toml (default: all).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub only: Vec<String>,
    /// Issue a new CA and re-issue every server certificate with new keys.
    #[arg(long)]
    pub ca: bool,
    /// Replace passwords (instead of certificates, or as well with --ca).
    #[arg(long)]
    pub passwords: bool,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: Target,
    /// Evaluate at this moment instead of now (RFC 3339, e.g. 2027-01-01T00:00:00Z), to see
    /// what will be due by then.
    #[arg(long, value_name = "TIMESTAMP")]
    pub at: Option<Timestamp>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub target: Target,
    /// The file to import: `kubectl get secret NAME... -o yaml` output, or `name=password`
    /// lines (`auth=...`, `AUTH_DB_PASSWORD=...`, `redis=...`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace a password that the folder already holds with a different one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub target: Target,
    /// Remove without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
}

impl Args {
    /// How diagnostics (and the status report) are printed.
    pub fn format(&self) -> Format {
        match &self.command {
            SecretsCommand::Generate(target) => target.config.format,
            SecretsCommand::Rotate(args) => args.target.config.format,
            SecretsCommand::Status(args) => args.target.config.format,
            SecretsCommand::Prune(args) => args.target.config.format,
            SecretsCommand::Import(args) => args.target.config.format,
        }
    }
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    match &args.command {
        SecretsCommand::Generate(target) => write(target, |platform, existing, progress| {
            secrets::generate(platform, &target.env, existing, Timestamp::now(), progress)
        }),
        SecretsCommand::Rotate(args) => {
            let rotation = Rotation {
                only: args.only.clone(),
                ca: args.ca,
                passwords: args.passwords,
            };
            write(&args.target, |platform, existing, progress| {
                secrets::rotate(
                    platform,
                    &args.target.env,
                    existing,
                    &rotation,
                    Timestamp::now(),
                    progress,
                )
            })
        }
        SecretsCommand::Status(args) => status(args),
        SecretsCommand::Prune(args) => prune(args),
        SecretsCommand::Import(args) => import(args),
    }
}

/// Reads the file, then writes like `generate`: under the lock, 0600, names only in the summary.
fn import(args: &ImportArgs) -> Result<Success, Failure> {
    let text = output::read_text(&args.file)
        .map_err(|e| Failure::io(format!("cannot read {}", args.file.display()), e))?;
    let mut ignored = Vec::new();
    let mut success = write(&args.target, |platform, existing, _| {
        let imported = secrets::read_import(platform, &text)?;
        ignored.clone_from(&imported.ignored);
        secrets::import(
            platform,
            &args.target.env,
            existing,
            &imported,
            args.force,
            Timestamp::now(),
        )
    })?;
    if !ignored.is_empty() {
        if let Some(summary) = success.summary.as_mut() {
            let _ = write!(
                summary,
                "\n  not imported (no database or cache of bakery.toml): {}",
                ignored
                    .iter()
                    .map(|name| printable(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(success)
}

/// Reads the environment's folder (files, modes, owners).
fn inspect(target: &Target) -> Result<output::SecretsFolder, Failure> {
    output::inspect_secrets(&target.dir, &target.env).map_err(|e| {
        Failure::io(
            format!("cannot read {}/{}", target.dir.display(), target.env),
            e,
        )
    })
}

/// Per file (folders left out): its permission bits and, when another user owns it, that
/// user's id; what `Status::flag_exposed` judges.
fn file_modes(folder: &output::SecretsFolder) -> Vec<(String, u32, Option<u32>)> {
    folder
        .modes
        .iter()
        .filter(|(_, m)| !m.is_dir)
        .map(|(path, m)| (path.clone(), m.mode, (!m.mine).then_some(m.uid)))
        .collect()
}

/// Loads, runs `produce` on what is in the folder, and writes its changes under the lock.
fn write(
    target: &Target,
    produce: impl FnOnce(
        &Platform,
        &secrets::SecretFiles,
        &dyn secrets::Progress,
    ) -> Result<Outcome, SecretsError>,
) -> Result<Success, Failure> {
    let (platform, findings) = super::load(&target.config)?;
    secrets::check_environment(&platform, &target.env).map_err(refused)?;
    let dir = target.dir.display().to_string();
    let folder = inspect(target)?;
    // A private file of another user's cannot be made private again by this user, and that
    // user could swap it: refuse rather than issue beside it.
    let foreign: Vec<String> = file_modes(&folder)
        .into_iter()
        .filter(|(path, _, uid)| uid.is_some() && Status::is_private(path))
        .map(|(path, _, uid)| format!("{path} (uid {})", uid.unwrap_or_default()))
        .collect();
    if !foreign.is_empty() {
        return Err(Failure::Usage(format!(
            "{dir}/{}: owned by another user: {}; nothing written: chown them to the user that \
             runs bakeryc",
            target.env,
            foreign.join(", ")
        )));
    }
    let existing = folder.files;
    let bar = KeyProgress::new();
    let outcome = produce(&platform, &existing, &bar);
    bar.0.finish_and_clear();
    // Refusals come before anything touches disk; the lock then makes sure no other run
    // changed the folder while the keys were generated.
    let outcome = outcome.map_err(refused)?;
    let _lock = output::lock_secrets(&target.dir)
        .map_err(|e| Failure::io(format!("cannot lock {dir}"), e))?;
    if inspect(target)?.files != existing {
        return Err(Failure::Usage(format!(
            "{dir}/{} changed while bakeryc ran; nothing written: run the command again",
            target.env
        )));
    }
    let repaired = output::repair_modes(&target.dir, &target.env)
        .map_err(|e| Failure::io(format!("cannot repair modes in {dir}/{}", target.env), e))?;
    output::write_secrets(&target.dir, &target.env, &outcome.changes, Fault::None)
        .map_err(|e| Failure::io(format!("cannot write {dir}/{}", target.env), e))?;
    let mut text = String::new();
    if !repaired.is_empty() {
        let _ = writeln!(
            text,
            "  made private again (0600 files, 0700 folders): {}",
            repaired.join(", ")
        );
    }
    if !secrets::bakeryc_makes_passwords(&platform) {
        let _ = writeln!(
            text,
            "  passwords: none written; [secrets] provider = \"external-secrets\" makes them in the cluster"
        );
    }
    text.push_str(&summary(
        &platform,
        &dir,
        &target.env,
        &outcome,
        !repaired.is_empty(),
    ));
    Ok(Success {
        findings: warnings(findings),
        summary: Some(text),
        stdout: None,
    })
}

fn prune(args: &PruneArgs) -> Result<Success, Failure> {
    let target = &args.target;
    let (platform, findings) = super::load(&target.config)?;
    secrets::check_environment(&platform, &target.env).map_err(refused)?;
    let dir = target.dir.display().to_string();
    let existing = inspect(target)?.files;
    let report =
        secrets::status(&platform, &target.env, &existing, Timestamp::now()).map_err(refused)?;
    let orphans = report.orphans;
    let listed: Vec<String> = orphans
        .iter()
        .map(|o| format!("{dir}/{}/{o}/", target.env))
        .collect();
    if orphans.is_empty() {
        return Ok(Success {
            findings: warnings(findings),
            summary: Some(format!(
                "bakeryc: {dir}/{}: every folder belongs to bakery.toml; nothing removed",
                target.env
            )),
            stdout: None,
        });
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Usage(format!(
                "would remove {}; nothing removed: confirm with --yes (stdin is not a terminal)",
                listed.join(", ")
            )));
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "bakeryc: remove {} (their keys and passwords are gone for good)? [y/N] ",
            listed.join(", ")
        );
        let _ = stderr.flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Failure::Usage("nothing removed".to_owned()));
        }
    }
    let _lock = output::lock_secrets(&target.dir)
        .map_err(|e| Failure::io(format!("cannot lock {dir}"), e))?;
    if inspect(target)?.files != existing {
        return Err(Failure::Usage(format!(
            "{dir}/{} changed while bakeryc ran; nothing removed: run the command again",
            target.env
        )));
    }
    output::prune_secrets(&target.dir, &target.env, &orphans)
        .map_err(|e| Failure::io(format!("cannot write {dir}/{}", target.env), e))?;
    Ok(Success {
        findings: warnings(findings),
        summary: Some(format!("bakeryc: removed {}", listed.join(", "))),
        stdout: None,
    })
}

fn status(args: &StatusArgs) -> Result<Success, Failure> {
    let target = &args.target;
    let (platform, findings) = super::load(&target.config)?;
    secrets::check_environment(&platform, &target.env).map_err(refused)?;
    let dir = target.dir.display().to_string();
    let folder = inspect(target)?;
    let now = args.at.unwrap_or_else(Timestamp::now);
    let mut report =
        secrets::status(&platform, &target.env, &folder.files, now).map_err(refused)?;
    report.flag_exposed(&platform, &file_modes(&folder));
    let text = match target.config.format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::io("cannot render the report", e.into()))?;
            json.push('\n');
            json
        }
        Format::Human => table(&report),
    };
    let problems = report.problems();
    // With JSON the report is stdout's one document, and `cli` shows warnings on stderr.
    let findings = warnings(findings);
    if problems == 0 {
        return Ok(Success {
            findings,
            summary: Some(format!(
                "bakeryc: {dir}/{}: all {} entries are in order",
                target.env,
                report.entries.len()
            )),
            stdout: Some(text),
        });
    }
    Err(Failure::Problems {
        stdout: text,
        message: format!(
            "{dir}/{}: {problems} problem(s); `bakeryc secrets generate` creates what is missing, \
             `bakeryc secrets rotate` replaces what is due or mismatched",
            target.env
        ),
    })
}

fn warnings(findings: Findings) -> Option<Findings> {
    Some(findings).filter(|f| !f.diagnostics.is_empty())
}

fn refused(error: SecretsError) -> Failure {
    match error {
        SecretsError::Crypto(_) => Failure::io("cannot issue", std::io::Error::other(error)),
        _ => Failure::Usage(error.to_string()),
    }
}

/// What changed, by name only, and for a rotation the rollout that makes it take effect.
/// `repaired`: modes were made private again (listed by the caller), so something did change.
fn summary(platform: &Platform, dir: &str, env: &str, outcome: &Outcome, repaired: bool) -> String {
    let mut text = String::new();
    for (change, verb) in [
        (Change::Created, "created"),
        (Change::Rotated, "rotated"),
        (Change::Reissued, "re-issued for the existing key"),
    ] {
        let count = |kind: EntryKind| {
            outcome
                .actions
                .iter()
                .filter(|a| a.change == change && a.kind == kind)
                .count()
        };
        let parts: Vec<String> = [
            (EntryKind::Ca, "CA"),
            (EntryKind::Server, "server certificate(s)"),
            (EntryKind::Password, "password(s)"),
        ]
        .into_iter()
        .map(|(kind, noun)| (count(kind), noun))
        .filter(|(n, _)| *n > 0)
        .map(|(n, noun)| format!("{n} {noun}"))
        .collect();
        if !parts.is_empty() {
            let _ = writeln!(text, "  {verb}: {}", parts.join(", "));
        }
    }
    let kept = outcome.count(Change::Kept);
    if outcome.changes.is_empty() {
        let _ = write!(
            text,
            "bakeryc: {dir}/{env} is complete ({kept} kept); {}",
            if repaired {
                "no file written"
            } else {
                "nothing written"
            }
        );
        return text;
    }
    let _ = write!(
        text,
        "bakeryc: wrote {} file(s) to {dir}/{env} ({kept} kept)",
        outcome.changes.len()
    );
    text.push_str(&rollout(platform, dir, env, outcome));
    text
}

/// The steps after a rotation, for exactly the workloads whose Secrets changed (docs/secrets.md
/// explains them); empty when nothing was rotated.
fn rollout(platform: &Platform, dir: &str, env: &str, outcome: &Outcome) -> String {
    let rotated = |kind: EntryKind| {
        outcome
            .actions
            .iter()
            .filter(move |a| a.kind == kind && a.change == Change::Rotated)
    };
    let is_database = |workload: &str| {
        platform
            .databases
            .iter()
            .any(|db| db.names().workload == workload)
    };
    // Each pod's reloader container makes its server re-read a renewed certificate in place, so
    // certificates need no restart. Redis reads its password only at start; PostgreSQL keeps
    // its password in the database: a new one needs ALTER ROLE, not a restart.
    let client = |workload: &str| {
        platform
            .clients
            .iter()
            .find(|c| c.name.as_str() == workload)
    };
    // A client's certificate is read by libpq and redis-py at each connect: nothing restarts.
    let reloaded: BTreeSet<&str> = rotated(EntryKind::Server)
        .filter_map(|a| a.workload.as_deref())
        .filter(|w| client(w).is_none())
        .collect();
    // A client's new password reaches the servers it declared at their next start (the
    // postStart hook sets it, Redis reads its ACL user), then its own pods.
    let mut restart: BTreeSet<String> = BTreeSet::new();
    for workload in rotated(EntryKind::Password).filter_map(|a| a.workload.as_deref()) {
        if let Some(client) = client(workload) {
            restart.extend(
                platform
                    .databases
                    .iter()
                    .filter(|db| client.reaches(db))
                    .map(|db| db.names().workload),
            );
            restart.extend(
                platform
                    .cache
                    .iter()
                    .filter(|_| client.cache)
                    .map(|c| c.names().workload),
            );
        } else if !is_database(workload) {
            restart.insert(workload.to_owned());
        }
    }
    let restart: BTreeSet<&str> = restart.iter().map(String::as_str).collect();
    let database_passwords: Vec<&str> = rotated(EntryKind::Password)
        .filter_map(|a| a.workload.as_deref())
        .filter(|w| is_database(w))
        .collect();
    let client_passwords: Vec<&str> = rotated(EntryKind::Password)
        .filter_map(|a| a.workload.as_deref())
        .filter(|w| client(w).is_some())
        .collect();
    if reloaded.is_empty() && restart.is_empty() && database_passwords.is_empty() {
        return String::new();
    }
    let mut steps = Vec::new();
    if !client_passwords.is_empty() {
        steps.push(format!(
            "restart the servers below, which set the clients' new passwords at start, then the clients' own pods: {}",
            client_passwords.join(", ")
        ));
    }
    if !database_passwords.is_empty() {
        steps.push(format!(
            "set the new password in the running database first (ALTER ROLE, see docs/secrets.md): {}",
            database_passwords.join(", ")
        ));
    }
    // Servers take a new certificate as soon as its Secret is applied, so after a new CA the
    // clients must trust it (the bundle holds the old and the new CA) before the leaves land.
    if rotated(EntryKind::Ca).next().is_some() {
        let bundle = platform.ca_config_map();
        steps.push(format!(
            "the CA bundle first: kubectl -n {} create configmap {bundle} --from-file=ca.crt={dir}/{env}/ca-bundle.crt --dry-run=client -o yaml | kubectl apply -f -",
            platform.namespace
        ));
        steps.push(format!(
            "restart the clients that mount ConfigMap {bundle} (they then trust the old and the new CA)"
        ));
    }
    // A server verifies client certificates with its Secret's `ca.crt`, the old and the new CA:
    // applied before the clients' new certificates, it accepts both while they roll out.
    if rotated(EntryKind::Ca).next().is_some() && !platform.clients.is_empty() {
        steps.push(format!(
            "the servers' Secrets before the clients' certificates: kubectl apply -k {dir}/{env} -l {}=server, \
             then wait until each reloader logs the reload",
            crate::secrets::TLS_LABEL
        ));
    }
    steps.push(format!("kubectl apply -k {dir}/{env}"));
    if let Some(first) = reloaded.first() {
        steps.push(format!(
            "no restart for certificates: each server re-reads its new one in place within a minute or two \
             ({}); check with kubectl -n {} logs deployment/{first} -c reloader",
            reloaded.iter().copied().collect::<Vec<_>>().join(", "),
            platform.namespace,
        ));
    }
    if !restart.is_empty() {
        let deployments: Vec<String> = restart.iter().map(|w| format!("deployment/{w}")).collect();
        steps.push(format!(
            "kubectl -n {} rollout restart {}",
            platform.namespace,
            deployments.join(" ")
        ));
    }
    if rotated(EntryKind::Password).next().is_some() {
        steps.push("restart the clients of those workloads (new credentials)".to_owned());
    }
    let mut text = String::from("\nnext:");
    for (number, step) in steps.iter().enumerate() {
        let _ = write!(text, "\n  {}. {step}", number + 1);
    }
    text
}

/// The status report as a table: one row per item, its problems indented below it. Every
/// text is escaped with `printable`: subjects, SANs and problems quote certificates, which
/// anyone who can write to the folder controls.
fn table(report: &Status) -> String {
    let width = report
        .entries
        .iter()
        .map(|e| printable(&e.object).chars().count())
        .max()
        .unwrap_or(0)
        .max("OBJECT".len());
    let mut text = report
        .note
        .as_ref()
        .map_or_else(String::new, |note| format!("{note}\n"));
    let _ = writeln!(
        text,
        "{:<width$}  {:<8}  {:>5}  {:<20}  {:<10}  SUBJECT",
        "OBJECT", "STATE", "DAYS", "NOT AFTER", "KEY"
    );
    for entry in &report.entries {
        let days = entry.days_left.map(|d| d.to_string()).unwrap_or_default();
        let _ = writeln!(
            text,
            "{:<width$}  {:<8}  {:>5}  {:<20}  {:<10}  {}",
            printable(&entry.object),
            entry.state.as_str(),
            days,
            printable(entry.not_after.as_deref().unwrap_or("-")),
            printable(entry.key.as_deref().unwrap_or("-")),
            printable(entry.subject.as_deref().unwrap_or("-")),
        );
        if !entry.sans.is_empty() {
            let _ = writeln!(
                text,
                "{:width$}  SANs: {}",
                "",
                printable(&entry.sans.join(", "))
            );
        }
        for problem in &entry.problems {
            let marker = if entry.state == State::Ok { "" } else { "! " };
            let _ = writeln!(text, "{:width$}  {marker}{}", "", printable(problem));
        }
    }
    text
}

/// The key-generation progress bar: on stderr when it is a terminal, hidden otherwise.
struct KeyProgress(ProgressBar);

impl KeyProgress {
    fn new() -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} generating keys {pos}/{len} {wide_bar} {elapsed}",
        ) {
            bar.set_style(style);
        }
        Self(bar)
    }
}

impl secrets::Progress for KeyProgress {
    fn keys_to_generate(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn key_generated(&self) {
        self.0.inc(1);
    }
}
