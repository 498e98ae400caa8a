//! The `bakeryc` binary: runs the CLI and exits with its code.

fn main() -> std::process::ExitCode {
    bakeryc::cli::run(std::env::args_os())
}
