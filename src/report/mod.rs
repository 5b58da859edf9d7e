//! The report: verdict and exit status from an [`Evaluation`], and its renderings.
//!
//! Verdict rules (the contract pipelines gate on):
//! - any finding at or above the fail-on severity (blocker by default) → **NO-GO**, exit 1;
//! - else any check at or above that severity that could not be evaluated → **NO-GO
//!   (incomplete)**, exit 3 — or, with `--allow-incomplete`, GO with warnings;
//! - else any warning finding, or any check that could not be evaluated → **GO with
//!   warnings**, exit 0;
//! - else **GO**, exit 0.

pub mod json;
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
    /// API server version, when known.
    pub server_version: Option<String>,
    /// Objects in the inventory.
    pub objects: usize,
    /// What evaluation produced.
    pub eval: Evaluation,
    /// The policy applied.
    pub policy: Policy,
}

impl Report {
    /// Applies the verdict rules.
    #[must_use]
    pub fn new(eval: Evaluation, inv: &Inventory, policy: Policy) -> Self {
        let failing = eval.findings.iter().any(|f| f.severity >= policy.fail_on);
        let warnings = eval.findings.iter().any(|f| f.severity >= Severity::Warning);
        let incomplete = eval.could_not_evaluate.iter().any(|s| s.severity >= policy.fail_on);
        let (verdict, exit) = if failing {
            (Verdict::NoGo, ExitStatus::NoGo)
        } else if incomplete && !policy.allow_incomplete {
            (Verdict::NoGo, ExitStatus::Incomplete)
        } else if warnings || !eval.could_not_evaluate.is_empty() {
            (Verdict::GoWithWarnings, ExitStatus::Go)
        } else {
            (Verdict::Go, ExitStatus::Go)
        };
        let (source_type, source_location) = match &inv.origin {
            Origin::Snapshot(p) => ("snapshot", p.clone()),
            Origin::Live(c) => ("live", c.clone()),
        };
        Self {
            verdict,
            incomplete,
            exit,
            source_type,
            source_location,
            server_version: inv.server_version.clone(),
            objects: inv.len(),
            eval,
            policy,
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
        let verdict = match (self.verdict, self.exit) {
            (Verdict::NoGo, ExitStatus::Incomplete) => "NO-GO (incomplete)".to_string(),
            (Verdict::GoWithWarnings, _) => "GO (with warnings)".to_string(),
            (v, _) => v.as_str().to_string(),
        };
        format!("{verdict}: {}", parts.join(", "))
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// The JSON wire format (see `report::json`).
    Json,
}

/// Renders a report.
#[must_use]
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Table => table::render(report, color),
        Format::Json => json::render(report),
    }
}
