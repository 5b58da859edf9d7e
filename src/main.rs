//! Thin binary: parse arguments, run, map the outcome to the documented exit code.

use std::process::ExitCode;

use upgrade_preflight::commands;

fn main() -> ExitCode {
    // Named after argv[0]: as `kubectl-upgrade_preflight`, help says `kubectl upgrade-preflight`.
    let cli = match commands::parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    commands::run(cli).into()
}
