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

/// The EXIT STATUS section of every man page (the contract the README's table states).
const EXIT_STATUS: &str = ".SH \"EXIT STATUS\"
.TP
\\fB0\\fR
GO: no blocker (warnings allowed unless \\-\\-fail\\-on warning). Other subcommands: success.
.TP
\\fB1\\fR
NO\\-GO: at least one finding at or above the fail\\-on severity (check only).
.TP
\\fB2\\fR
Invalid usage (a bad flag, duration, target, context or values file) or invalid matrix or check files.
.TP
\\fB3\\fR
Could not evaluate: the cluster is unreachable or refuses the credentials, the snapshot is unreadable, or a
blocker\\-severity check could not be evaluated (NO\\-GO incomplete). A pipeline may retry on 3 but must never proceed on it.
";

/// The `man` subcommand: the main page, or one subcommand's (not `help`, which has none).
pub(super) fn man(a: &ManArgs) -> ExitStatus {
    // The exit codes get a section of their own instead of clap's "EXTRA" (the after-help
    // text), and `help` is no page.
    let mut cmd = Cli::command().after_help(None::<&str>).disable_help_subcommand(true);
    // Building fills in subcommand display names (`upgrade-preflight-check`) for the titles.
    cmd.build();
    let page = match &a.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
                eprint(&format!("no man page for '{name}' (one of: {})", names.join(", ")));
                return ExitStatus::Invalid;
            }
        },
    };
    let mut buf = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut buf) {
        eprint(&format!("cannot render the man page: {e}"));
        return ExitStatus::Invalid;
    }
    let page = String::from_utf8_lossy(&buf);
    let page = match page.find("\n.SH VERSION\n") {
        Some(at) => format!("{}\n{EXIT_STATUS}{}", &page[..at], &page[at + 1..]),
        None => format!("{page}{EXIT_STATUS}"),
    };
    out(&page);
    ExitStatus::Go
}
