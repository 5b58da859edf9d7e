//! The report: verdict and exit status from an [`Evaluation`], and its renderings.
//!
//! Verdict rules (the contract pipelines gate on):
//! - any finding at or above the fail-on severity (blocker by default) → **NO-GO**, exit 1;
//! - else any check at or above that severity that could not be evaluated → **NO-GO
//!   (incomplete)**, exit 3 — or, with `--allow-incomplete`, GO with warnings;
//! - else any warning finding, or any check that could not be evaluated → **GO with
//!   warnings**, exit 0;
//! - else **GO**, exit 0.
//!
//! Layer: report. Imports `eval`, the inventory, the catalog and the ground layer; never
//! `commands`.

pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod table;

use crate::catalog::Severity;
use crate::eval::Evaluation;
use crate::inventory::{Inventory, Origin};

/// The process exit status: a documented contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: GO (warnings allowed unless `--fail-on warning`).
    Go,
    /// 1: NO-GO.
    NoGo,
    /// 2: invalid usage or data files.
    Invalid,
    /// 3: could not evaluate (source unreadable, or a blocker check without a verdict).
    Incomplete,
}

impl ExitStatus {
    /// The numeric code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Go => 0,
            ExitStatus::NoGo => 1,
            ExitStatus::Invalid => 2,
            ExitStatus::Incomplete => 3,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing stands in the way.
    Go,
    /// Nothing blocks, but there are warnings (or checks without a verdict).
    GoWithWarnings,
    /// Do not upgrade.
    NoGo,
}

impl Verdict {
    /// Wire and display form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Go => "GO",
            Verdict::GoWithWarnings => "GO-WITH-WARNINGS",
            Verdict::NoGo => "NO-GO",
        }
    }
}

/// Options that shape the verdict.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Lowest severity that makes NO-GO.
    pub fail_on: Severity,
    /// Checks without a verdict do not make NO-GO.
    pub allow_incomplete: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self { fail_on: Severity::Blocker, allow_incomplete: false }
    }
}

/// A finished report.
pub struct Report {
    /// Verdict.
    pub verdict: Verdict,
    /// True when a check at fail-on severity could not be evaluated.
    pub incomplete: bool,
    /// Exit status.
    pub exit: ExitStatus,
    /// Source type (`snapshot` or `live`).
    pub source_type: &'static str,
    /// Snapshot path or context name.
    pub source_location: String,
    /// A live cluster's API server URL (never userinfo).
    pub server: Option<String>,
    /// API server version, when known.
    pub server_version: Option<String>,
    /// Objects in the inventory.
    pub objects: usize,
    /// The namespaces namespaced kinds were read in (`-n`): a partial view. `None`: all.
    pub namespaces: Option<Vec<String>>,
    /// What reading the input noticed: layout, skipped files and objects, duplicates.
    pub input: crate::inventory::InputNotes,
    /// What evaluation produced.
    pub eval: Evaluation,
    /// The policy applied.
    pub policy: Policy,
    /// Matrices that matter in this run whose data may be stale (never part of the verdict).
    pub data_notices: Vec<DataNotice>,
}

/// Days after a matrix's `last-verified` date from which a report says its data may be stale.
pub const STALE_AFTER_DAYS: i64 = 180;

/// A matrix that matters in this run (its component is present or planned) and was last
/// checked against its source more than [`STALE_AFTER_DAYS`] before the run's date. It is
/// information for the reader: it never changes the verdict or the exit code, so that a
/// pipeline does not turn red because time passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataNotice {
    /// Component (matrix) id.
    pub component: String,
    /// The matrix's `last-verified` date as written (`YYYY-MM-DD`).
    pub last_verified: String,
    /// Days from that date to the run's date.
    pub age_days: i64,
    /// One line for people.
    pub message: String,
}

/// The data notices of a run on day `today` (days since 1970-01-01, UTC): one per matrix
/// whose component was detected (a version or not) or is a step of the plan, and whose
/// `last-verified` date is more than [`STALE_AFTER_DAYS`] days before `today`.
#[must_use]
pub fn data_notices(catalog: &crate::catalog::Catalog, eval: &Evaluation, today: i64) -> Vec<DataNotice> {
    use crate::eval::detect::VersionState;
    let present = eval.components.iter().filter(|d| d.state != VersionState::NotDetected).map(|d| d.component.as_str());
    let planned = eval.plan.iter().map(|p| p.component.as_str());
    let ids: std::collections::BTreeSet<&str> = present.chain(planned).collect();
    ids.into_iter()
        .filter_map(|id| catalog.matrices.get(id))
        .filter_map(|m| {
            let (days, date) = m.last_verified.as_ref()?;
            let age = today - days;
            (age > STALE_AFTER_DAYS).then(|| DataNotice {
                component: m.id.clone(),
                last_verified: date.clone(),
                age_days: age,
                message: format!(
                    "the {} data ({}) was last verified on {date}, {age} days ago, and may be stale: newer releases, support ranges and known-bad versions may be missing",
                    m.name, m.origin
                ),
            })
        })
        .collect()
}

impl Report {
    /// Applies the verdict rules.
    #[must_use]
    pub fn new(eval: Evaluation, inv: &Inventory, policy: Policy) -> Self {
        let failing = eval.findings.iter().any(|f| f.severity >= policy.fail_on);
        let warnings = eval.findings.iter().any(|f| f.severity >= Severity::Warning);
        // A run that evaluated nothing has no evidence either way: never GO.
        let nothing = eval.evaluated.is_empty();
        let incomplete = nothing || eval.could_not_evaluate.iter().any(|s| s.severity >= policy.fail_on);
        let (verdict, exit) = if failing {
            (Verdict::NoGo, ExitStatus::NoGo)
        } else if nothing || (incomplete && !policy.allow_incomplete) {
            (Verdict::NoGo, ExitStatus::Incomplete)
        } else if warnings || !eval.could_not_evaluate.is_empty() || inv.input.skipped.iter().any(|s| s.object) {
            // An object that could not be read was not judged: not a clean GO.
            (Verdict::GoWithWarnings, ExitStatus::Go)
        } else {
            (Verdict::Go, ExitStatus::Go)
        };
        let (source_type, source_location, server) = match &inv.origin {
            Origin::Snapshot(p) => ("snapshot", p.clone(), None),
            Origin::Live { context, server } => ("live", context.clone(), Some(server.clone())),
            Origin::Manifests(m) => ("manifests", m.clone(), None),
        };
        Self {
            verdict,
            incomplete,
            exit,
            source_type,
            source_location,
            server,
            server_version: inv.server_version.clone(),
            objects: inv.len(),
            namespaces: inv.namespaces().map(|n| n.iter().cloned().collect()),
            input: inv.input.clone(),
            eval,
            policy,
            data_notices: Vec::new(),
        }
    }

    /// Count of findings at a severity.
    #[must_use]
    pub fn count(&self, s: Severity) -> usize {
        self.eval.findings.iter().filter(|f| f.severity == s).count()
    }

    /// One line: `NO-GO: 3 blocker(s), 1 warning(s), 1 could not be evaluated`.
    #[must_use]
    pub fn headline(&self) -> String {
        let mut parts = vec![
            format!("{} blocker(s)", self.count(Severity::Blocker)),
            format!("{} warning(s)", self.count(Severity::Warning)),
        ];
        if !self.eval.could_not_evaluate.is_empty() {
            parts.push(format!("{} check(s) could not be evaluated", self.eval.could_not_evaluate.len()));
        }
        if self.eval.evaluated.is_empty() {
            parts.push("no check was evaluated".to_string());
        }
        let view = match &self.namespaces {
            Some(ns) => format!(" (namespaces {} only)", ns.join(", ")),
            None => String::new(),
        };
        format!("{}: {}{view}", verdict_label(self.verdict, self.exit), parts.join(", "))
    }

    /// For a partial view (`-n`), one line saying what was and was not read.
    #[must_use]
    pub fn view_line(&self) -> Option<String> {
        let ns = self.namespaces.as_ref()?;
        Some(format!(
            "Partial view: namespaced kinds were read only in namespace(s) {} (cluster-scoped kinds cluster-wide); what other namespaces hold was not judged",
            ns.join(", ")
        ))
    }
}

/// The TARGET cell of a plan step: its target; for a component that must move first, the
/// lowest version that supports the plan (`>=1.16.0 first`); `(values only)` for a release.
#[must_use]
pub fn plan_target(p: &crate::eval::plan::PlanStep) -> String {
    match (&p.target, &p.required_version) {
        (Some(t), _) => t.clone(),
        (None, Some(r)) => format!(">={r} first"),
        (None, None) if !p.required_by.is_empty() => "(check first)".to_string(),
        (None, None) => "(values only)".to_string(),
    }
}

/// The order notes of a plan step, for people: the stops on the way to the required
/// version, which targets it must precede, and which steps must come before it.
#[must_use]
pub fn plan_order_notes(p: &crate::eval::plan::PlanStep) -> Vec<String> {
    let mut out = Vec::new();
    if p.upgrade_path.len() > 1 {
        out.push(format!("via {}", p.upgrade_path[..p.upgrade_path.len() - 1].join(", ")));
    }
    if !p.required_by.is_empty() {
        out.push(format!("before {}", p.required_by.join(", ")));
    }
    if !p.upgrade_first.is_empty() {
        out.push(format!("upgrade first: {}", p.upgrade_first.join(", ")));
    }
    out
}

/// What reading the input noticed, in a few lines for people: the layout, skipped files
/// (grouped by reason, a few names each), duplicate objects.
#[must_use]
pub fn input_lines(n: &crate::inventory::InputNotes) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(l) = n.layout {
        out.push(format!("read as {}", crate::inventory::bundle::with_article(l)));
    }
    let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
    for s in &n.skipped {
        by_reason.entry(s.reason.as_str()).or_default().push(s.path.as_str());
    }
    // Object-level reasons are all different: group those by file instead.
    let (grouped, single): (Vec<_>, Vec<_>) = by_reason.into_iter().partition(|(_, v)| v.len() > 1);
    for (reason, paths) in grouped {
        let more = if paths.len() > 3 { format!(", … {} more", paths.len() - 3) } else { String::new() };
        out.push(format!("skipped {} files: {reason} ({}{more})", paths.len(), paths[..paths.len().min(3)].join(", ")));
    }
    for (reason, paths) in single.into_iter().take(10) {
        out.push(format!("skipped {}: {reason}", paths[0]));
    }
    if n.duplicates > 0 {
        out.push(format!(
            "{} object(s) found more than once: kept the copy with the highest resourceVersion{}",
            n.duplicates,
            if n.conflicts.is_empty() {
                String::new()
            } else {
                format!(" ({} with differing copies)", n.conflicts.len())
            }
        ));
    }
    out
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// The JSON wire format (schema/report.schema.json).
    Json,
    /// JUnit XML: one test case per evaluated check (Jenkins, GitLab, GitHub test reporters).
    Junit,
    /// A compact Markdown summary for a pull-request or issue comment.
    Markdown,
    /// SARIF 2.1.0 (code-scanning tools), one rule per check id.
    Sarif,
}

/// Output formats of `list` (what a catalog listing can sensibly be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// A table.
    Table,
    /// A JSON array.
    Json,
}

/// How a rendering looks, beyond its format.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// ANSI colour (table only).
    pub color: bool,
    /// List each check that passed and why, and every check not applicable (table only).
    pub verbose: bool,
    /// Columns the table may use ([`table::WIDTH`] unless the terminal or `COLUMNS` says).
    pub width: u16,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { color: false, verbose: false, width: table::WIDTH }
    }
}

/// One cluster's part of a report: its context (`None` for the single-cluster report) and
/// its report, or why it could not be checked.
#[derive(Clone, Copy)]
pub struct Section<'a> {
    /// Kubeconfig context; `None` when one cluster or snapshot is checked.
    pub context: Option<&'a str>,
    /// The report, or the one-line reason the cluster could not be checked.
    pub outcome: Result<&'a Report, &'a str>,
}

impl Section<'_> {
    /// Verdict and exit status; a cluster that could not be checked is NO-GO (incomplete).
    #[must_use]
    pub fn verdict(&self) -> (Verdict, ExitStatus) {
        match self.outcome {
            Ok(r) => (r.verdict, r.exit),
            Err(_) => (Verdict::NoGo, ExitStatus::Incomplete),
        }
    }
}

/// The overall verdict of several clusters: NO-GO if any is NO-GO; the exit status is the
/// worst one, ranked 1 (NO-GO) over 3 (could not evaluate) over 0 (GO).
#[must_use]
pub fn overall(sections: &[Section<'_>]) -> (Verdict, ExitStatus) {
    let rank = |e: ExitStatus| match e {
        ExitStatus::Go => 0,
        ExitStatus::Incomplete => 1,
        ExitStatus::Invalid => 2,
        ExitStatus::NoGo => 3,
    };
    let all: Vec<(Verdict, ExitStatus)> = sections.iter().map(Section::verdict).collect();
    let verdict = if all.iter().any(|(v, _)| *v == Verdict::NoGo) {
        Verdict::NoGo
    } else if all.iter().any(|(v, _)| *v == Verdict::GoWithWarnings) {
        Verdict::GoWithWarnings
    } else {
        Verdict::Go
    };
    let exit = all.iter().map(|(_, e)| *e).max_by_key(|e| rank(*e)).unwrap_or(ExitStatus::Go);
    (verdict, exit)
}

/// One line for several clusters: `NO-GO: 2 clusters — dev: GO, prod: NO-GO`.
#[must_use]
pub fn overall_headline(sections: &[Section<'_>]) -> String {
    let (verdict, exit) = overall(sections);
    let per: Vec<String> = sections
        .iter()
        .map(|s| {
            let name = s.context.unwrap_or("cluster");
            match s.outcome {
                Ok(r) => format!("{name}: {}", verdict_label(r.verdict, r.exit)),
                Err(_) => format!("{name}: could not be checked"),
            }
        })
        .collect();
    format!("{}: {} cluster(s) — {}", verdict_label(verdict, exit), sections.len(), per.join(", "))
}

/// `GO`, `GO (with warnings)`, `NO-GO`, `NO-GO (incomplete)`.
#[must_use]
pub fn verdict_label(verdict: Verdict, exit: ExitStatus) -> String {
    match (verdict, exit) {
        (Verdict::NoGo, ExitStatus::Incomplete) => "NO-GO (incomplete)".to_string(),
        (Verdict::GoWithWarnings, _) => "GO (with warnings)".to_string(),
        (v, _) => v.as_str().to_string(),
    }
}

/// A finding's message without the object name it starts with, for formats that show
/// the object in a column of its own.
#[must_use]
pub fn short_message<'a>(message: &'a str, object: &str) -> &'a str {
    message
        .strip_prefix(object)
        .map(|rest| rest.trim_start_matches([':', ' ']))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(message)
}

/// Renders the report of one cluster or snapshot.
#[must_use]
pub fn render(report: &Report, format: Format, opts: RenderOptions) -> String {
    let one = [Section { context: None, outcome: Ok(report) }];
    match format {
        Format::Table => table::render(report, opts),
        Format::Json => json::render(report),
        Format::Junit => junit::render(&one),
        Format::Markdown => markdown::render(&one),
        Format::Sarif => sarif::render(&one),
    }
}

/// Renders the reports of several clusters (`--context` repeated, `--all-contexts`).
#[must_use]
pub fn render_clusters(sections: &[Section<'_>], format: Format, opts: RenderOptions) -> String {
    match format {
        Format::Table => table::render_clusters(sections, opts),
        Format::Json => json::render_clusters(sections),
        Format::Junit => junit::render(sections),
        Format::Markdown => markdown::render(sections),
        Format::Sarif => sarif::render(sections),
    }
}
