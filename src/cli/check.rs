//! `bakeryc check`: parse and validate bakery.toml, write nothing.

use super::{ConfigArgs, Failure, Success};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(args: &Args) -> Result<Success, Failure> {
    let (platform, findings) = super::load(&args.config)?;
    Ok(Success {
        summary: Some(format!(
            "bakeryc: {} is valid: {} database(s), {} environment(s)",
            findings.path.display(),
            platform.databases.len(),
            platform.environments.len()
        )),
        findings: Some(findings),
        stdout: None,
    })
}
