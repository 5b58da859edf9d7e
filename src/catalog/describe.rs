//! What a report says about a finding id (a check, a known-bad rule or a pin) when the
//! format has room for rule metadata: JUnit test names, SARIF rule descriptions.

use super::{Catalog, Severity};

/// Which kind of data file entry an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// A `checks/<id>.yaml` check.
    Check,
    /// A `known-bad` entry of a matrix.
    KnownBad,
    /// A matrix `pinning` range (`<component>-pinned-version`).
    Pin,
    /// A finding of upgrade planning (`--target`, `--values`): `upgrade-path`, `removed-api`, …
    Plan,
}

/// Descriptive metadata of one finding id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The id (`--only`/`--skip` take it).
    pub id: String,
    /// Check, known-bad rule or pin.
    pub kind: RuleKind,
    /// One line.
    pub title: String,
    /// Default severity of its findings.
    pub severity: Severity,
    /// Component it concerns.
    pub component: Option<String>,
    /// Longer text, when the data file has one.
    pub description: Option<String>,
    /// How to fix what it finds (empty for planning ids: each finding says).
    pub remediation: String,
    /// Links.
    pub references: Vec<String>,
}

impl Catalog {
    /// Metadata of a check, known-bad or pin id; `None` for an unknown id.
    #[must_use]
    pub fn describe(&self, id: &str) -> Option<RuleInfo> {
        if let Some(c) = self.checks.get(id) {
            return Some(RuleInfo {
                id: c.id.clone(),
                kind: RuleKind::Check,
                title: c.title.clone(),
                severity: c.severity,
                component: c.component.clone(),
                description: c.description.as_ref().map(|d| d.trim().to_string()),
                remediation: c.remediation.trim().to_string(),
                references: c.references.clone(),
            });
        }
        for m in self.matrices.values() {
            if let Some(kb) = m.known_bad.iter().find(|kb| kb.id == id) {
                return Some(RuleInfo {
                    id: kb.id.clone(),
                    kind: RuleKind::KnownBad,
                    title: format!("{} {} is known-bad", m.name, kb.range),
                    severity: kb.severity,
                    component: Some(m.id.clone()),
                    description: Some(kb.message.trim().to_string()),
                    remediation: kb.remediation.trim().to_string(),
                    references: kb.references.clone(),
                });
            }
            if let Some(p) = &m.pinning
                && let Some(r) = &p.range
                && m.pin_id() == id
            {
                return Some(RuleInfo {
                    id: m.pin_id(),
                    kind: RuleKind::Pin,
                    title: format!("{} must run {r}", m.name),
                    severity: p.severity,
                    component: Some(m.id.clone()),
                    description: None,
                    remediation: p.remediation.clone().unwrap_or_else(|| format!("Pin {} to {r}.", m.name)),
                    references: m.references.clone(),
                });
            }
        }
        super::planning::FINDING_IDS.iter().find(|(pid, _, _)| *pid == id).map(|(pid, severity, what)| RuleInfo {
            id: (*pid).to_string(),
            kind: RuleKind::Plan,
            title: format!("Planned upgrade: {what}"),
            severity: *severity,
            component: None,
            description: None,
            remediation: String::new(),
            references: Vec::new(),
        })
    }
}
