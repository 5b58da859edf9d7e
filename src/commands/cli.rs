//! Command-line definition (clap derive). Declarations only: no logic, no I/O.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::{Format, ListFormat};

/// What `--version` prints after the name: the version, the git commit it was built from and
/// the date of the compiled-in matrices and checks (both set by `build.rs`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("UPGRADE_PREFLIGHT_COMMIT"),
    ", matrices ",
    env!("UPGRADE_PREFLIGHT_DATA_DATE"),
    ")"
);

/// GO / NO-GO preflight gate for Kubernetes, Rancher, Harvester and Helm upgrades.
///
/// Exit codes: 0 GO, 1 NO-GO, 2 invalid usage or data files, 3 could not evaluate.
#[derive(Debug, Parser)]
#[command(
    name = "upgrade-preflight",
    version = VERSION,
    about,
    long_about = None,
    after_help = "Exit codes: 0 GO, 1 NO-GO, 2 invalid usage or data files, 3 could not evaluate."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate every check against the cluster (or a snapshot) and print the verdict.
    Check(CheckArgs),
    /// Capture what the checks need from the live cluster into a file `check --snapshot` reads.
    Snapshot(SnapshotArgs),
    /// Print the least-privilege RBAC (get/list only) the enabled checks need.
    Rbac(RbacArgs),
    /// Lint matrix and check files (built-ins plus --matrices/--checks).
    Validate(DataArgs),
    /// List checks and components.
    List(ListArgs),
    /// Explain one check, known-bad rule or component.
    Explain(ExplainArgs),
    /// Print a shell completion script to stdout.
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout: the main page, or one subcommand's.
    Man(ManArgs),
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

/// How to reach a live cluster.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context). `check` takes it repeatedly to check several clusters.
    #[arg(long, value_name = "NAME")]
    pub context: Vec<String>,
    /// Give up on the cluster after this long in all (exit 3): a Go duration (30s, 2m, 1h30m) or seconds.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::duration::timeout)]
    pub timeout: Duration,
    /// Give up on one request after this long (then retry): a Go duration (20s, 1m) or seconds.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = super::duration::request_timeout)]
    pub request_timeout: Duration,
    /// Lists in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub concurrency: u64,
    /// Objects per page when listing.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub page_size: u32,
}

/// Which checks run.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Run only these checks (comma-separated or repeated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub only: Vec<String>,
    /// Skip these checks (comma-separated or repeated ids).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub skip: Vec<String>,
}

/// Which namespaces namespaced kinds are read in.
#[derive(Debug, Clone, Args)]
pub struct NamespaceArgs {
    /// Read namespaced kinds only in this namespace (comma-separated or repeated). A partial
    /// view: cluster-scoped kinds are still read cluster-wide, and what needs other
    /// namespaces could not be evaluated (see README, "Limiting to namespaces").
    #[arg(short = 'n', long = "namespace", value_delimiter = ',', value_name = "NS",
          value_parser = super::namespaces::parse)]
    pub namespaces: Vec<String>,
}

/// Limits on how much one run holds.
#[derive(Debug, Clone, Args)]
pub struct ObjectLimitArgs {
    /// Most objects held from a snapshot or a live cluster (exit 3 beyond it).
    #[arg(long, value_name = "N", env = crate::limits::ENV_MAX_OBJECTS, default_value_t = crate::limits::DEFAULT_MAX_OBJECTS)]
    pub max_objects: usize,
}

/// `snapshot` arguments.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// File to write (JSON, which `check --snapshot` reads whatever the extension).
    #[arg(long = "output-file", value_name = "FILE", required_unless_present = "output", conflicts_with = "output")]
    pub output_file: Option<PathBuf>,
    /// Deprecated spelling of --output-file (in `check`, -o is the format); kept for one release.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Cluster.
    #[command(flatten)]
    pub live: LiveArgs,
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
    /// Check selection (only their data is captured).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Namespaces (the snapshot records the view, so `check --snapshot` knows it is partial).
    #[command(flatten)]
    pub namespaces: NamespaceArgs,
    /// Also capture what planning these upgrades reads: COMPONENT=VERSION. Repeatable.
    #[arg(long = "target", value_name = "COMPONENT=VERSION")]
    pub targets: Vec<String>,
    /// Also capture what judging this change reads (`check --manifest`): its kinds, CRDs. Repeatable.
    #[arg(long = "manifest", value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// Also capture Helm release storage for `check --manifest … --release` ([NS/]NAME).
    #[arg(long, value_name = "[NS/]NAME", requires = "manifests")]
    pub release: Option<String>,
    /// Object limit.
    #[command(flatten)]
    pub limits: ObjectLimitArgs,
    /// Replace env values, container args/command and ConfigMap values no enabled check
    /// reads by `redacted:<hash>` markers (the default).
    #[arg(long, overrides_with = "no_redact")]
    pub redact: bool,
    /// Keep env values, container args/command and ConfigMap values (full fidelity).
    #[arg(long, overrides_with = "redact")]
    pub no_redact: bool,
}

/// `rbac` arguments.
#[derive(Debug, Args)]
pub struct RbacArgs {
    /// Namespace of the ServiceAccount (created by the manifests) [default: upgrade-preflight].
    #[arg(long, value_name = "NS", value_parser = super::namespaces::parse)]
    pub sa_namespace: Option<String>,
    /// Deprecated spelling of --sa-namespace, kept for one release: it names the
    /// ServiceAccount's namespace, not the checked ones (those are -n/--check-namespace).
    #[arg(long, value_name = "NS", conflicts_with = "sa_namespace", value_parser = super::namespaces::parse)]
    pub namespace: Option<String>,
    /// The namespaces `check -n` will read (comma-separated or repeated): a Role and
    /// RoleBinding per namespace for namespaced reads, a ClusterRole for cluster-scoped ones.
    #[arg(short = 'n', long = "check-namespace", value_delimiter = ',', value_name = "NS",
          value_parser = super::namespaces::parse)]
    pub check_namespaces: Vec<String>,
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
    /// Check selection.
    #[command(flatten)]
    pub select: SelectArgs,
}

/// `check` arguments.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Offline snapshot instead of a live cluster: a YAML/JSON file (multi-document or `kind: List`) or a directory of them.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["kubeconfig", "context", "all_contexts"])]
    pub snapshot: Option<PathBuf>,
    /// Check every context of the kubeconfig, one report section per cluster.
    #[arg(long, conflicts_with = "context")]
    pub all_contexts: bool,
    /// Clusters collected at once with several contexts.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub cluster_concurrency: u64,
    /// Cluster.
    #[command(flatten)]
    pub live: LiveArgs,
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
    /// Check selection.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Namespaces.
    #[command(flatten)]
    pub namespaces: NamespaceArgs,
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
    /// certificate-expiry: warn about certificates that expire within this many days of the
    /// capture time (a whole number, 0 or more; default: the check's warn-days, 30).
    #[arg(long, value_name = "DAYS", value_parser = super::duration::cert_days, allow_negative_numbers = true)]
    pub cert_days: Option<u32>,
    /// Print collection and evaluation figures on stderr (wall time, requests, bytes, peak RSS).
    #[arg(long)]
    pub stats: bool,
    /// Print only the verdict line.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Table output also lists every check that passed, with what it evaluated.
    #[arg(short, long)]
    pub verbose: bool,
    /// Planned upgrade.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Planned change (rendered manifests).
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Largest snapshot file read, in MiB (exit 3 beyond it).
    #[arg(long, value_name = "MIB", env = crate::limits::ENV_MAX_SNAPSHOT_MIB,
          default_value_t = crate::limits::DEFAULT_MAX_SNAPSHOT_MIB, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub max_snapshot_mib: u64,
    /// Any file of a snapshot directory or archive that is skipped (not Kubernetes objects,
    /// unreadable) is an error (exit 2), not a line in the report.
    #[arg(long)]
    pub strict_input: bool,
    /// Object limit.
    #[command(flatten)]
    pub limits: ObjectLimitArgs,
}

/// The upgrade being planned.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Planned upgrade: COMPONENT=VERSION (e.g. rancher=2.8.5, kubernetes=1.31), or
    /// release:[NAMESPACE/]NAME=CHART_VERSION for a Helm release. Repeatable.
    #[arg(long = "target", value_name = "COMPONENT=VERSION")]
    pub targets: Vec<String>,
    /// Values you are about to apply to a Helm release: [NAMESPACE/]RELEASE=FILE. Repeatable.
    /// Never printed; findings name key paths only.
    #[arg(long = "values", value_name = "RELEASE=FILE")]
    pub values: Vec<String>,
    /// Merge --values onto the release's current values (helm upgrade --reuse-values) instead of
    /// onto the chart's defaults only (plain helm upgrade -f).
    #[arg(long)]
    pub reuse_values: bool,
    /// Another annotation that holds an object as last applied (JSON with its apiVersion), read
    /// like kubectl's last-applied-configuration and kapp.k14s.io/original. Repeatable.
    #[arg(long = "additional-annotation", value_name = "NAME")]
    pub additional_annotations: Vec<String>,
}

/// The change being planned: the objects it will apply (`check --manifest`).
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Objects the change will apply (helm template, kustomize build, plain manifests): a file, a
    /// directory, or - for stdin. Repeatable. The cluster is judged as it will be after the change.
    #[arg(long = "manifest", value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// The manifests are the next revision of this Helm release ([NAMESPACE/]NAME): objects of its
    /// current manifest that they no longer hold are deleted, and ownership is judged against it.
    #[arg(long, value_name = "[NS/]NAME", requires = "manifests")]
    pub release: Option<String>,
    /// The chart being applied (a directory or .tgz): Chart.yaml kubeVersion, values.yaml,
    /// values.schema.json and crds/.
    #[arg(long, value_name = "PATH", requires = "manifests")]
    pub chart: Option<PathBuf>,
    /// Judge the manifests (and chart) alone, without a cluster or snapshot.
    #[arg(long, requires = "manifests", conflicts_with_all = ["snapshot", "kubeconfig", "context", "all_contexts", "namespaces"])]
    pub no_cluster: bool,
    /// The change is the revision Helm is upgrading this release ([NAMESPACE/]NAME) to right now,
    /// as a pre-upgrade hook sees it: its pending-upgrade revision in Helm's storage is judged
    /// like --manifest with --release (its chart's kubeVersion and crds/ like --chart) and
    /// --target release:NS/NAME=pending. Live cluster only.
    #[arg(long, value_name = "[NS/]NAME", conflicts_with_all = ["manifests", "release", "chart"])]
    pub pending_release: Option<String>,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Data files.
    #[command(flatten)]
    pub data: DataArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ListFormat::Table)]
    pub output: ListFormat,
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

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A subcommand whose page to print (default: the main page).
    pub subcommand: Option<String>,
}
