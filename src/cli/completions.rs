//! `bakeryc completions SHELL` and `bakeryc man`: the shell completion script and the roff man
//! page, both generated from the clap definitions in cli.rs at run time, so they always list the
//! real commands and flags. They return the text; cli.rs prints it and nothing here touches disk.

use clap::CommandFactory as _;
use clap_complete::Shell;

use super::{Cli, Failure, Success};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The command whose page to print, e.g. `secrets rotate` for bakeryc-secrets-rotate(1);
    /// without one, bakeryc(1), which lists the commands.
    pub command: Vec<String>,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    text(script)
}

pub fn man(args: &ManArgs) -> Result<Success, Failure> {
    let mut command = Cli::command();
    // Building gives every subcommand its page name (bakeryc-secrets-rotate) and its synopsis
    // name (bakeryc secrets rotate), which the pages use to refer to each other.
    command.build();
    let mut page_of = &command;
    for name in &args.command {
        page_of = page_of.find_subcommand(name).ok_or_else(|| {
            let known: Vec<&str> = page_of
                .get_subcommands()
                .map(clap::Command::get_name)
                .filter(|n| *n != "help")
                .collect();
            Failure::Usage(format!(
                "no man page for `{}`: the commands here are {}",
                args.command.join(" "),
                known.join(", ")
            ))
        })?;
    }
    let mut page = Vec::new();
    let source = format!("bakeryc {}", command.get_version().unwrap_or_default());
    clap_mangen::Man::new(page_of.clone())
        .source(source)
        .render(&mut page)
        .map_err(|e| Failure::io("cannot render the man page", e))?;
    text(page)
}

fn text(bytes: Vec<u8>) -> Result<Success, Failure> {
    let stdout = String::from_utf8(bytes).map_err(|e| {
        Failure::io(
            "the generated text is not UTF-8",
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    Ok(Success {
        stdout: Some(stdout),
        ..Success::default()
    })
}
