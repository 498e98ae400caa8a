//! `bakeryc explain CODE`: the long explanation of a diagnostic code, like `rustc --explain`.

use std::fmt::Write as _;

use super::{Failure, Success};
use crate::diagnostic::Code;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A code such as `bakery::toml::unknown-key` (the `bakery::` prefix is optional); `list` lists all.
    pub code: String,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    if args.code == "list" {
        let list: String = Code::ALL.iter().fold(String::new(), |mut list, c| {
            let _ = writeln!(list, "{:<42} {}", c.as_str(), c.help());
            list
        });
        return Ok(Success {
            stdout: Some(list),
            ..Success::default()
        });
    }
    let code = Code::from_name(&args.code).ok_or_else(|| {
        Failure::Usage(format!(
            "unknown code `{}`; `bakeryc explain list` lists every code",
            args.code
        ))
    })?;
    Ok(Success {
        stdout: Some(format!(
            "{code}\n\n{}\n\nFix: {}\n",
            code.explanation(),
            code.help()
        )),
        ..Success::default()
    })
}
