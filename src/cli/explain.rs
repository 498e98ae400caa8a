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
            "{code}\n\n{}\n\n{}\n",
            wrap(code.explanation(), 100),
            wrap(&format!("Fix: {}", code.help()), 100)
        )),
        ..Success::default()
    })
}

/// `text` with its words wrapped at `width` columns, like `rustc --explain` prints.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut column = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if column > 0 && column + 1 + len > width {
            out.push('\n');
            column = 0;
        } else if column > 0 {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_at_the_width() {
        assert_eq!(wrap("aa bb cc", 5), "aa bb\ncc");
        assert_eq!(wrap("  a   b ", 80), "a b");
        assert!(
            wrap(&"word ".repeat(100), 100)
                .lines()
                .all(|l| l.len() <= 100)
        );
    }
}
