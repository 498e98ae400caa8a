//! The command line: clap definitions, and the one place that prints. Commands (in `cli/`) return
//! values; this module renders their diagnostics with miette (or as JSON) and maps every outcome
//! to an exit code: 0 success; 1 invalid config, drift, or secrets that are due, missing or
//! mismatched; 2 usage or I/O error (a failed write to stdout included). With `--format json`
//! stdout holds exactly one JSON document, whatever happens.

mod build;
mod check;
mod completions;
mod explain;
mod graph;
mod lines;
mod plan;
mod render;
mod schema;
mod secrets;

use std::ffi::OsString;
use std::fmt;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceCode};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use lines::{IndexedSource, LineIndex};

#[derive(Debug, Parser)]
#[command(
    name = "bakeryc",
    version,
    about = "Compile bakery.toml into a hardened Kustomize tree for PostgreSQL and Redis on TLS"
)]
struct Cli {
    /// When to use colors in diagnostics (auto: only on a terminal, and never with NO_COLOR set).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile bakery.toml and write the Kustomize tree (base/ and overlays/<env>/).
    Build(build::Args),
    /// Parse and validate bakery.toml; write nothing.
    Check(check::Args),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(completions::Args),
    /// Explain a diagnostic code: what goes wrong without the check, and how to fix it.
    Explain(explain::Args),
    /// Print who reaches what ([[client]] -> databases and cache) as Mermaid or Graphviz dot.
    Graph(graph::Args),
    /// Print the man page (roff) of bakeryc or of one of its commands on stdout.
    Man(completions::ManArgs),
    /// Say what building bakery.toml would do to the running tier: restarts, reloads, volume
    /// growth, new and removed workloads, and refused changes; write nothing.
    Plan(plan::Args),
    /// Print one environment's overlay as one YAML stream (`kubectl kustomize` of it); write nothing.
    Render(render::Args),
    /// Issue, rotate and check the certificates and passwords of an environment.
    Secrets(secrets::Args),
    /// Print the JSON Schema of bakery.toml (bakery.schema.json), or the README's key table.
    Schema(schema::Args),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// miette's graphical report on stderr.
    #[default]
    Human,
    /// One JSON array on stdout, for CI annotations.
    Json,
}

/// Options shared by commands that read bakery.toml.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The platform declaration to read.
    #[arg(long, short = 'c', default_value = "bakery.toml")]
    pub config: PathBuf,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// A bakery.toml and the diagnostics found in it.
#[derive(Debug)]
pub struct Findings {
    pub path: PathBuf,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// What a command produced when it succeeded.
#[derive(Debug, Default)]
pub struct Success {
    /// Diagnostics to show (warnings only) even though the command succeeded.
    pub findings: Option<Findings>,
    /// A short human summary for stderr.
    pub summary: Option<String>,
    /// Text for stdout.
    pub stdout: Option<String>,
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// bakery.toml has errors (or warnings with `--deny-warnings`).
    Invalid(Findings),
    /// `build --check`: the tree on disk differs from what would be built.
    Drift {
        diff: String,
        findings: Option<Findings>,
    },
    /// Reading or writing failed.
    Io {
        context: String,
        error: std::io::Error,
    },
    /// The command line was wrong in a way clap cannot see.
    Usage(String),
    /// `secrets status`: something is due, expired, missing or mismatched; `stdout` is the report.
    Problems { stdout: String, message: String },
}

impl Failure {
    pub fn io(context: impl fmt::Display, error: std::io::Error) -> Self {
        Self::Io {
            context: context.to_string(),
            error,
        }
    }
}

/// Reads and validates bakery.toml: the platform, or the failure to report.
pub fn load(args: &ConfigArgs) -> Result<(crate::model::Platform, Findings), Failure> {
    let source = crate::output::read_text(&args.config)
        .map_err(|e| Failure::io(format!("cannot read {}", args.config.display()), e))?;
    let checked = crate::check(&source);
    let findings = Findings {
        path: args.config.clone(),
        source,
        diagnostics: checked.diagnostics,
    };
    let denied = args.deny_warnings && !findings.diagnostics.is_empty();
    match checked.platform {
        Some(platform) if !denied => Ok((platform, findings)),
        _ => Err(Failure::Invalid(findings)),
    }
}

/// Runs bakeryc with these arguments and returns the process exit code.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            let _ = error.print();
            // Even a command line clap refuses keeps the promise of one JSON document.
            let json = args
                .windows(2)
                .any(|w| w[0] == "--format" && w[1] == "json")
                || args.iter().any(|a| a == "--format=json");
            let written = if json { write_stdout("[]\n") } else { Ok(()) };
            return ExitCode::from(stdout_written(2, written));
        }
        // --help and --version: their text is the output, so failing to write it is an error.
        Err(error) => {
            let written = if stdout_is_closed() {
                Err(closed_stdout())
            } else {
                error.print()
            };
            return ExitCode::from(stdout_written(0, written));
        }
    };
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    };
    let (format, result) = match &cli.command {
        Command::Build(args) => (args.config.format, build::run(args)),
        Command::Check(args) => (args.config.format, check::run(args)),
        Command::Completions(args) => (Format::Human, completions::run(args)),
        Command::Explain(args) => (Format::Human, explain::run(args)),
        Command::Graph(args) => (Format::Human, graph::run(args)),
        Command::Man(args) => (Format::Human, completions::man(args)),
        Command::Plan(args) => (Format::Human, plan::run(args)),
        Command::Render(args) => (Format::Human, render::run(args)),
        Command::Secrets(args) => (args.format(), secrets::run(args)),
        Command::Schema(args) => (Format::Human, Ok(schema::run(args))),
    };
    let printed = report(result, format, color);
    // stderr carries messages about the run; if it cannot be written there is no one to tell.
    let _ = std::io::stderr()
        .lock()
        .write_all(printed.stderr.as_bytes());
    ExitCode::from(stdout_written(printed.code, write_stdout(&printed.stdout)))
}

/// Writes `text` (nothing at all when it is empty) to stdout and flushes it.
fn write_stdout(text: &str) -> std::io::Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    if stdout_is_closed() {
        return Err(closed_stdout());
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
}

/// What a run prints, and its exit code.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Printed {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

impl Printed {
    fn stderr_line(&mut self, line: &str) {
        self.stderr.push_str(line);
        self.stderr.push('\n');
    }
}

/// Renders the outcome of a command. With `--format json`, stdout is always exactly one JSON
/// document: the command's own report when it has one (`secrets status`), otherwise the array
/// of diagnostics, empty when there are none or when the command failed before reading
/// bakery.toml. Everything else (summaries, errors, the diff of `build --check`) goes to stderr.
pub fn report(result: Result<Success, Failure>, format: Format, color: bool) -> Printed {
    let mut out = Printed::default();
    let (findings, document, code) = match result {
        Ok(success) => {
            if let Some(summary) = success.summary {
                out.stderr_line(&summary);
            }
            (success.findings, success.stdout, 0)
        }
        Err(Failure::Invalid(findings)) => {
            let errors = findings.diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = findings.diagnostics.len() - errors;
            out.stderr_line(&format!(
                "bakeryc: {} is invalid: {errors} error(s), {warnings} warning(s){}",
                findings.path.display(),
                if errors == 0 {
                    " (warnings denied)"
                } else {
                    ""
                }
            ));
            (Some(findings), None, 1)
        }
        Err(Failure::Drift { diff, findings }) => {
            // The diff is the output of `build --check`, unless stdout is reserved for JSON.
            match format {
                Format::Human => out.stdout.push_str(&diff),
                Format::Json => out.stderr.push_str(&diff),
            }
            out.stderr_line("bakeryc: the generated tree is out of date: run `bakeryc build`");
            (findings, None, 1)
        }
        Err(Failure::Io { context, error }) => {
            out.stderr_line(&format!("bakeryc: {context}: {error}"));
            (None, None, 2)
        }
        Err(Failure::Usage(message)) => {
            // Refusals may quote certificates (an issuer's name): their lines are escaped.
            out.stderr_line(&format!("bakeryc: {}", printable_lines(&message)));
            (None, None, 2)
        }
        Err(Failure::Problems { stdout, message }) => {
            out.stderr_line(&format!("bakeryc: {message}"));
            (None, Some(stdout), 1)
        }
    };
    match (format, document) {
        (Format::Json, None) => {
            let array = findings
                .as_ref()
                .map_or_else(|| "[]".to_owned(), render_json);
            out.stdout.insert_str(0, &format!("{array}\n"));
        }
        (_, document) => {
            // Diagnostics come before the summary on stderr; in JSON mode they go there too
            // when the command's report already fills stdout.
            if let Some(findings) = &findings {
                out.stderr
                    .insert_str(0, &render_human(findings, color, 100));
            }
            if let Some(document) = document {
                out.stdout.push_str(&document);
            }
        }
    }
    out.code = code;
    out
}

/// `text` with every control character (newline and escape included) and every invisible
/// direction override written as `\u{..}`, for text that comes from outside bakeryc (names in
/// certificates): printed raw, it could forge lines of a report or drive the terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            escaped.push_str(&c.escape_unicode().to_string());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// [`printable`] line by line: the line breaks stay, everything else hidden is escaped.
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The exit code once stdout has been written: a failed write is an I/O error (exit 2), except
/// a closed pipe, which means the reader has read enough (`bakeryc ... | head`) and stays quiet.
fn stdout_written(code: u8, written: std::io::Result<()>) -> u8 {
    match written {
        Ok(()) => code,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(error) => {
            let _ = writeln!(
                std::io::stderr(),
                "bakeryc: cannot write to stdout: {error}"
            );
            2
        }
    }
}

/// The error for a closed stdout, with the one case it cannot be told from.
fn closed_stdout() -> std::io::Error {
    std::io::Error::other(
        "it is closed (or is /dev/null opened read-write, which a closed stdout becomes, and which \
         Python's subprocess.DEVNULL also opens; to discard the output, redirect it write-only: \
         >/dev/null)",
    )
}

/// Whether the process started with stdout closed (`>&-`). Rust's runtime then opens /dev/null
/// read-write in its place before `main`, so every write "succeeds" and the output is lost
/// silently; a shell's `>/dev/null` opens it write-only, which stays a valid, quiet choice.
/// /dev/null opened read-write by the caller (Python's `subprocess.DEVNULL`) looks the same
/// and is refused too: the message says so and how to discard output instead.
fn stdout_is_closed() -> bool {
    let stdout = std::io::stdout();
    let Ok(stat) = rustix::fs::fstat(&stdout) else {
        return true;
    };
    let null_device = rustix::fs::FileType::from_raw_mode(stat.st_mode)
        == rustix::fs::FileType::CharacterDevice
        && rustix::fs::major(stat.st_rdev) == 1
        && rustix::fs::minor(stat.st_rdev) == 3;
    null_device
        && rustix::fs::fcntl_getfl(&stdout)
            .is_ok_and(|flags| flags.contains(rustix::fs::OFlags::RDWR))
}

/// The diagnostics as miette draws them; `color` false gives the plain text used in snapshots.
/// A diagnostic on a line longer than 1000 bytes is shown with its position instead of the
/// source: miette cannot place a label beyond column 65535, and such a line is unreadable anyway.
/// So is a line holding a control character, and texts quoting one show it escaped.
pub fn render_human(findings: &Findings, color: bool, width: usize) -> String {
    const LONGEST_DRAWN_LINE: usize = 1000;
    // Whether miette can draw `span`: inside the source, on character boundaries, on lines (and
    // the lines around them) of a readable length.
    let source = findings.source.as_str();
    let index = LineIndex::new(source);
    let drawable = |span: &std::ops::Range<usize>| {
        if span.start > span.end
            || span.end > source.len()
            || !source.is_char_boundary(span.start)
            || !source.is_char_boundary(span.end)
        {
            return false;
        }
        let first = index.line_at(span.start).saturating_sub(1);
        let last = index.line_at(span.end) + 1;
        // A line holding a control character (TOML refuses them, so it is a mistake) is not
        // drawn either: it would reach the terminal raw.
        (first..=last)
            .map_while(|line| index.line_range(line))
            .all(|line| {
                line.len() <= LONGEST_DRAWN_LINE
                    && !source[line]
                        .trim_end_matches('\r')
                        .contains(|c: char| c.is_control() && c != '\t')
            })
    };
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let path = findings.path.display().to_string();
    let source = IndexedSource {
        name: &path,
        index: &index,
    };
    let mut text = String::new();
    for diagnostic in &findings.diagnostics {
        let snippet = std::iter::once(&diagnostic.primary)
            .chain(&diagnostic.secondary)
            .all(|label| drawable(&label.span));
        let (line, column) = index.line_column(diagnostic.primary.span.start);
        let report = MietteReport {
            diagnostic,
            source: &source,
            snippet,
            location: format!("{path}:{line}:{column}"),
        };
        let _ = handler.render_report(&mut text, &report);
        text.push('\n');
    }
    text
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: &'a str,
    message: &'a str,
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    label: &'a str,
    help: &'a str,
}

/// The diagnostics as a JSON array (1-based lines and columns, columns in characters).
pub fn render_json(findings: &Findings) -> String {
    let index = LineIndex::new(&findings.source);
    let entries: Vec<JsonDiagnostic<'_>> = findings
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = index.line_column(d.primary.span.start);
            let (end_line, end_column) = index.line_column(d.primary.span.end);
            JsonDiagnostic {
                code: d.code.as_str(),
                severity: d.severity.as_str(),
                message: &d.message,
                file: findings.path.display().to_string(),
                line,
                column,
                end_line,
                end_column,
                label: &d.primary.message,
                help: &d.help,
            }
        })
        .collect();
    serde_json::to_string_pretty(&entries).unwrap_or_else(|_| "[]".to_owned())
}

/// Adapts a [`Diagnostic`] to miette's protocol. Without `snippet`, the source is not drawn and
/// the message ends with the position instead.
struct MietteReport<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a IndexedSource<'a>,
    snippet: bool,
    location: String,
}

impl fmt::Debug for MietteReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for MietteReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages and labels quote bakery.toml (a key, a name), which may hold escaped
        // control characters: they are shown escaped, a newline included, so they never reach
        // the terminal nor start a line of their own. (Only help texts span lines.)
        f.write_str(&printable(&self.diagnostic.message))?;
        if !self.snippet {
            write!(f, "\nat {}", printable(&self.location))?;
            if !self.diagnostic.primary.message.is_empty() {
                write!(f, ": {}", printable(&self.diagnostic.primary.message))?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for MietteReport<'_> {}

impl miette::Diagnostic for MietteReport<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(printable_lines(&self.diagnostic.help)))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.snippet.then_some(self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if !self.snippet {
            return None;
        }
        let label = |message: &str| (!message.is_empty()).then(|| printable(message).into_owned());
        let primary = &self.diagnostic.primary;
        let first =
            LabeledSpan::new_primary_with_span(label(&primary.message), primary.span.clone());
        let rest = self
            .diagnostic
            .secondary
            .iter()
            .map(move |l| LabeledSpan::new_with_span(label(&l.message), l.span.clone()));
        Some(Box::new(std::iter::once(first).chain(rest)))
    }
}
