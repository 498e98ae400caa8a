//! `bakeryc schema`: the JSON Schema of bakery.toml (what bakery.schema.json holds), or with
//! `--markdown` the README's reference table; both derived from the definitions in `config`.

use super::Success;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the README's bakery.toml reference table instead of the JSON Schema.
    #[arg(long)]
    pub markdown: bool,
}

pub fn run(args: &Args) -> Success {
    let text = if args.markdown {
        crate::config::markdown_table()
    } else {
        crate::config::schema_text()
    };
    Success {
        stdout: Some(text),
        ..Success::default()
    }
}
