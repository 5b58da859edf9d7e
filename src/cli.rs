//! Command-line definition (clap derive). Declarations only: no logic, no I/O.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::Format;

/// GO / NO-GO preflight gate for Kubernetes, Rancher, Harvester and Helm upgrades.
///
/// Exit codes: 0 GO, 1 NO-GO, 2 invalid usage or data files, 3 could not evaluate.
#[derive(Debug, Parser)]
#[command(name = "upgrade-preflight", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate every check against a cluster snapshot and print the verdict.
    Check(CheckArgs),
    /// Lint matrix and check files (built-ins plus --matrices/--checks).
    Validate(DataArgs),
    /// List checks and components.
    List(ListArgs),
    /// Explain one check, known-bad rule or component.
    Explain(ExplainArgs),
}

/// Where extra data files come from.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory of extra matrix files; a file replaces the built-in with the same id. Repeatable.
    #[arg(long = "matrices", value_name = "DIR")]
    pub matrices: Vec<PathBuf>,
    /// Directory of extra check files; a file replaces the built-in with the same id. Repeatable.
    #[arg(long = "checks", value_name = "DIR")]
    pub checks: Vec<PathBuf>,
}

/// Severity threshold for NO-GO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Blockers make NO-GO (default).
    Blocker,
    /// Warnings make NO-GO too.
    Warning,
}

/// `check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Offline snapshot: a YAML/JSON file (multi-document or `kind: List`) or a directory of them.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
    /// Run only these checks (comma-separated or repeated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub only: Vec<String>,
    /// Skip these checks (comma-separated or repeated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub skip: Vec<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Write the report to this file instead of stdout (stdout then gets the verdict line).
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Lowest finding severity that makes the verdict NO-GO.
    #[arg(long, value_enum, default_value_t = FailOn::Blocker)]
    pub fail_on: FailOn,
    /// Checks that could not be evaluated make the verdict GO with warnings, not NO-GO (incomplete).
    #[arg(long)]
    pub allow_incomplete: bool,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// `explain` arguments.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A check id, known-bad id or component id.
    pub id: String,
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
}
