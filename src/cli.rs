//! The command line: clap definitions, and the one place that prints. Commands (in `cli/`) return
//! values; this module renders their diagnostics with miette (or as JSON) and maps every outcome
//! to an exit code: 0 success; 1 invalid config, drift, or secrets that are due, missing or
//! mismatched; 2 usage or I/O error.

mod build;
mod check;
mod completions;
mod explain;
mod schema;
mod secrets;

use std::ffi::OsString;
use std::fmt;
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};

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
    /// Print the man page (roff) of bakeryc or of one of its commands on stdout.
    Man(completions::ManArgs),
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
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
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
        Command::Man(args) => (Format::Human, completions::man(args)),
        Command::Secrets(args) => (args.format(), secrets::run(args)),
        Command::Schema(args) => (Format::Human, Ok(schema::run(args))),
    };
    let mut stderr = std::io::stderr().lock();
    let mut stdout = std::io::stdout().lock();
    let code = match result {
        Ok(success) => {
            if let Some(findings) = &success.findings {
                emit(&mut stdout, &mut stderr, findings, format, color);
            }
            if let Some(summary) = success.summary {
                let _ = writeln!(stderr, "{summary}");
            }
            if let Some(text) = success.stdout {
                let _ = write!(stdout, "{text}");
            }
            0
        }
        Err(Failure::Invalid(findings)) => {
            emit(&mut stdout, &mut stderr, &findings, format, color);
            let errors = findings.diagnostics.iter().filter(|d| d.is_error()).count();
            let warnings = findings.diagnostics.len() - errors;
            let _ = writeln!(
                stderr,
                "bakeryc: {} is invalid: {errors} error(s), {warnings} warning(s){}",
                findings.path.display(),
                if errors == 0 {
                    " (warnings denied)"
                } else {
                    ""
                }
            );
            1
        }
        Err(Failure::Drift { diff, findings }) => {
            if let Some(findings) = &findings {
                emit(&mut stdout, &mut stderr, findings, format, color);
            }
            let _ = write!(stdout, "{diff}");
            let _ = writeln!(
                stderr,
                "bakeryc: the generated tree is out of date: run `bakeryc build`"
            );
            1
        }
        Err(Failure::Io { context, error }) => {
            let _ = writeln!(stderr, "bakeryc: {context}: {error}");
            2
        }
        Err(Failure::Usage(message)) => {
            let _ = writeln!(stderr, "bakeryc: {message}");
            2
        }
        Err(Failure::Problems {
            stdout: text,
            message,
        }) => {
            let _ = write!(stdout, "{text}");
            let _ = writeln!(stderr, "bakeryc: {message}");
            1
        }
    };
    ExitCode::from(code)
}

fn emit(
    stdout: &mut impl std::io::Write,
    stderr: &mut impl std::io::Write,
    findings: &Findings,
    format: Format,
    color: bool,
) {
    match format {
        Format::Human => {
            let _ = write!(stderr, "{}", render_human(findings, color, 100));
        }
        Format::Json => {
            let _ = writeln!(stdout, "{}", render_json(findings));
        }
    }
}

/// The diagnostics as miette draws them; `color` false gives the plain text used in snapshots.
/// A diagnostic on a line longer than 1000 bytes is shown with its position instead of the
/// source: miette cannot place a label beyond column 65535, and such a line is unreadable anyway.
pub fn render_human(findings: &Findings, color: bool, width: usize) -> String {
    const LONGEST_DRAWN_LINE: usize = 1000;
    // Whether miette can draw `span`: inside the source, on character boundaries, on lines (and
    // the lines around them) of a readable length.
    let drawable = |span: &std::ops::Range<usize>| {
        let source = findings.source.as_str();
        if span.start > span.end
            || span.end > source.len()
            || !source.is_char_boundary(span.start)
            || !source.is_char_boundary(span.end)
        {
            return false;
        }
        let before = source[..span.start].rfind('\n').unwrap_or(0);
        let first = source[..before].rfind('\n').map_or(0, |i| i + 1);
        let after = source[span.end..]
            .find('\n')
            .map_or(source.len(), |i| span.end + i + 1);
        let last = source
            .get(after..)
            .and_then(|rest| rest.find('\n'))
            .map_or(source.len(), |i| after + i);
        source[first..last.max(first)]
            .split('\n')
            .all(|line| line.len() <= LONGEST_DRAWN_LINE)
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
    let source = NamedSource::new(path.clone(), findings.source.clone());
    let mut text = String::new();
    for diagnostic in &findings.diagnostics {
        let snippet = std::iter::once(&diagnostic.primary)
            .chain(&diagnostic.secondary)
            .all(|label| drawable(&label.span));
        let (line, column) = line_column(&findings.source, diagnostic.primary.span.start);
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
    let entries: Vec<JsonDiagnostic<'_>> = findings
        .diagnostics
        .iter()
        .map(|d| {
            let (line, column) = line_column(&findings.source, d.primary.span.start);
            let (end_line, end_column) = line_column(&findings.source, d.primary.span.end);
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

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Adapts a [`Diagnostic`] to miette's protocol. Without `snippet`, the source is not drawn and
/// the message ends with the position instead.
struct MietteReport<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a NamedSource<String>,
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
        f.write_str(&self.diagnostic.message)?;
        if !self.snippet {
            write!(f, "\nat {}", self.location)?;
            if !self.diagnostic.primary.message.is_empty() {
                write!(f, ": {}", self.diagnostic.primary.message)?;
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
        Some(Box::new(&self.diagnostic.help))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.snippet.then_some(self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if !self.snippet {
            return None;
        }
        let label = |message: &str| (!message.is_empty()).then(|| message.to_owned());
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
