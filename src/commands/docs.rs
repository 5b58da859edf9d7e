//! `completions` and `man`: shell completion scripts and roff man pages, from the clap definition.

use clap::CommandFactory;

use super::cli::Cli;
use super::cli::{CompletionsArgs, ManArgs};
use super::{eprint, out};
use crate::report::ExitStatus;

/// The `completions` subcommand.
pub(super) fn completions(a: &CompletionsArgs) -> ExitStatus {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "upgrade-preflight", &mut buf);
    out(&String::from_utf8_lossy(&buf));
    ExitStatus::Go
}

/// The `man` subcommand.
pub(super) fn man(a: &ManArgs) -> ExitStatus {
    let mut cmd = Cli::command();
    // Building fills in subcommand display names (`upgrade-preflight-check`) for the titles.
    cmd.build();
    let page = match &a.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
                eprint(&format!("no subcommand '{name}' (one of: {})", names.join(", ")));
                return ExitStatus::Invalid;
            }
        },
    };
    let mut buf = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut buf) {
        eprint(&format!("cannot render the man page: {e}"));
        return ExitStatus::Invalid;
    }
    out(&String::from_utf8_lossy(&buf));
    ExitStatus::Go
}
