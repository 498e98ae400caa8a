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
            "bakeryc: {} is valid: {} database(s), {} environment(s){}",
            findings.path.display(),
            platform.databases.len(),
            platform.environments.len(),
            if platform.clients.is_empty() {
                "\nnote: no [[client]] is declared, so access is platform-wide: every pod labelled \
                 app.kubernetes.io/part-of reaches every database and the cache"
            } else {
                ""
            }
        )),
        findings: Some(findings),
        stdout: None,
    })
}
