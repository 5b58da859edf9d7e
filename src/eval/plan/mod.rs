//! Upgrade planning: what the user is about to do (`--target`, `--values`) and the findings
//! about that plan — upgrade paths, compatibility at the target, known-bad targets, platform
//! gates, removed Kubernetes APIs and values pre-checks.
//!
//! A request is parsed from the command line ([`PlanRequest`]), resolved against the
//! inventory ([`Plan`]: Helm releases named by the user must exist) and evaluated together
//! with the checks by [`crate::eval::evaluate_plan`].
//!
//! One module per rule family: `request` (parsing and resolving the plan), `paths`
//! (upgrade paths, known-bad targets), `peers` (supported peers, kubelet skew), `first`
//! (what must be upgraded before a target, and the order of the steps), `removed_apis`,
//! `values` and `gates` (platform gates). This module owns the
//! evaluation context, the plan steps and their verdicts. Planning sits inside `eval`: it
//! imports `eval`'s detection and finding types, the inventory, the catalog and the
//! ground layer, and nothing above `eval`.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;

use crate::catalog::{Catalog, Matrix, Severity};
use crate::eval::detect::{Detected, VersionState};
use crate::eval::{Finding, Skipped};
use crate::inventory::Inventory;
use crate::resource::{GroupKind, ObjectRef};
use crate::version;

pub use crate::catalog::planning::{FINDING_IDS, finding_ids};

mod first;
mod gates;
mod paths;
mod peers;
mod removed_apis;
mod request;
mod values;

pub use gates::raise_to_blockers;
pub use removed_apis::{APPLIED_ANNOTATIONS, Advice, Evidence, advice, removal_kinds, severity};
pub use request::{
    Plan, PlanRequest, ReleaseStep, ResolvedValues, Target, TargetKey, TargetSpec, ValuesSpec, add_change_targets,
    parse_target, parse_values, resolve,
};
pub use values::merge;

/// Verdict of one plan step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepVerdict {
    /// Nothing stands in the way.
    Ok,
    /// Target equals the current version.
    NoChange,
    /// Warnings only.
    Warning,
    /// At least one blocker.
    Blocked,
    /// Something the step depends on could not be evaluated.
    Unknown,
}

impl StepVerdict {
    /// Wire and display form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StepVerdict::Ok => "ok",
            StepVerdict::NoChange => "no-change",
            StepVerdict::Warning => "warning",
            StepVerdict::Blocked => "blocked",
            StepVerdict::Unknown => "unknown",
        }
    }
}

/// One line of the plan: a component (or a Helm release) from current to target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    /// Component id, or `release:NS/NAME`.
    pub component: String,
    /// Display name.
    pub name: String,
    /// Current version, when known.
    pub current: Option<String>,
    /// Target version (none for a values-only release step).
    pub target: Option<String>,
    /// Verdict.
    pub verdict: StepVerdict,
    /// Ids of the findings (and gates without a verdict) that decided it.
    pub findings: Vec<String>,
    /// Allowed next steps, when the path is blocked.
    pub next_steps: Vec<String>,
    /// Platform gates evaluated for this step: (check id, "pass" | "fail" | "unknown").
    pub gates: Vec<(String, &'static str)>,
    /// Where the step comes in the plan: after every step in `upgrade_first` (1 = first).
    pub order: u32,
    /// The lowest version that supports the targets in `required_by` (when the step's current
    /// version does not and the matrix has one).
    pub required_version: Option<String>,
    /// The stops from the current version to `required_version`, ending with it, under the
    /// component's own upgrade rule (every minor with `max-minor-step: 1`).
    pub upgrade_path: Vec<String>,
    /// Targeted components that need this one to move first.
    pub required_by: Vec<String>,
    /// Components that must move before this step.
    pub upgrade_first: Vec<String>,
}

/// What a check found, for rules that depend on it: objects, or (not applicable?, reason).
pub type CheckResults<'a> = BTreeMap<&'a str, Result<Vec<ObjectRef>, (bool, String)>>;

/// Findings, checks without a verdict and steps produced by planning.
#[derive(Debug, Default)]
pub struct PlanOutcome {
    /// Findings.
    pub findings: Vec<Finding>,
    /// Rules that could not be evaluated.
    pub could_not_evaluate: Vec<Skipped>,
    /// Rules evaluated.
    pub evaluated: BTreeSet<String>,
    /// The plan, one step per target and per release.
    pub steps: Vec<PlanStep>,
}

struct Ctx<'a> {
    catalog: &'a Catalog,
    inv: &'a Inventory,
    detected: &'a BTreeMap<String, Detected>,
    plan: &'a Plan,
    wants: &'a dyn Fn(&str) -> bool,
    out: PlanOutcome,
    /// Per step key: finding ids attached.
    attached: BTreeMap<String, Vec<String>>,
    /// Components that must move before a target, by component id.
    prereqs: BTreeMap<String, first::Prereq>,
}

impl Ctx<'_> {
    // Each argument is a distinct field of the finding; a builder would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn finding(
        &mut self,
        step: &str,
        id: &str,
        severity: Severity,
        component: &str,
        objects: Vec<ObjectRef>,
        message: String,
        remediation: String,
    ) {
        if !(self.wants)(id) {
            return;
        }
        self.out.evaluated.insert(id.to_string());
        self.attached.entry(step.to_string()).or_default().push(id.to_string());
        self.out.findings.push(Finding {
            check_id: id.to_string(),
            severity,
            component: Some(component.to_string()),
            objects,
            message,
            remediation,
            references: Vec::new(),
        });
    }

    fn unknown(&mut self, step: &str, id: &str, severity: Severity, reason: String) {
        if !(self.wants)(id) {
            return;
        }
        self.attached.entry(step.to_string()).or_default().push(id.to_string());
        self.out.could_not_evaluate.push(Skipped { check_id: id.to_string(), severity, reason });
    }

    fn passed(&mut self, id: &str) {
        if (self.wants)(id) {
            self.out.evaluated.insert(id.to_string());
        }
    }

    /// The version a component will run after the plan: its target, else its current version.
    fn planned(&self, component: &str) -> Planned {
        if let Some(t) = self.plan.targets.get(component) {
            return Planned::Known(t.version.clone(), true);
        }
        match self.detected.get(component).map(|d| &d.state) {
            Some(VersionState::Known(v)) => Planned::Known(v.clone(), false),
            Some(VersionState::Unknown(why)) => Planned::Unknown(why.clone()),
            Some(VersionState::NotDetected) | None => Planned::Absent,
        }
    }
}

/// A component's version after the plan.
enum Planned {
    /// The version, and whether it is a target.
    Known(Version, bool),
    /// Present, version unknown (why).
    Unknown(String),
    /// Not in the cluster and not targeted.
    Absent,
}

impl Planned {
    fn version(self) -> Option<Version> {
        match self {
            Planned::Known(v, _) => Some(v),
            _ => None,
        }
    }
}

/// True when the inventory is a set of manifests rather than a capture of a cluster: an
/// offline input with no server version, no `SnapshotInfo` list of kinds and no Nodes.
fn plain_manifests(inv: &Inventory) -> bool {
    let nodes = GroupKind::new("", "Node");
    matches!(inv.origin, crate::inventory::Origin::Snapshot(_))
        && inv.server_version.is_none()
        && inv.unknown_if_empty(&nodes)
}

fn base(v: &Version) -> Version {
    Version::new(v.major, v.minor, v.patch)
}

fn shown(v: &Version) -> String {
    version::display(v)
}

/// Evaluates the plan. `check_results` are the findings of the checks (for gates and
/// known-bad rules that require a check); `wants` is the check selection.
#[must_use]
pub fn evaluate(
    catalog: &Catalog,
    inv: &Inventory,
    detected: &BTreeMap<String, Detected>,
    check_results: &CheckResults<'_>,
    plan: &Plan,
    wants: &dyn Fn(&str) -> bool,
) -> PlanOutcome {
    let mut cx = Ctx {
        catalog,
        inv,
        detected,
        plan,
        wants,
        out: PlanOutcome::default(),
        attached: BTreeMap::new(),
        prereqs: BTreeMap::new(),
    };
    for t in plan.targets.values() {
        let Some(m) = catalog.matrices.get(&t.component) else { continue };
        paths::path_rules(&mut cx, m, t);
        paths::known_bad_at_target(&mut cx, m, t, check_results);
        peers::kubelet_skew(&mut cx, m, t);
        removed_apis::removed_apis(&mut cx, m, t);
    }
    peers::peers(&mut cx);
    for v in &plan.values {
        values::values_rules(&mut cx, v);
    }
    // Steps, in a stable order: components, then releases.
    let mut steps = Vec::new();
    for t in plan.targets.values() {
        let Some(m) = catalog.matrices.get(&t.component) else { continue };
        let det = &detected[&m.id];
        let gates = gates::states(m, check_results);
        let mut ids = cx.attached.remove(&m.id).unwrap_or_default();
        ids.extend(gates.iter().filter(|(_, s)| *s == "fail" || *s == "unknown").map(|(g, _)| g.clone()));
        let no_change = det.version().is_some_and(|v| version::cmp_precedence(v, &t.version).is_eq());
        let next_steps = if ids.iter().any(|i| i == "upgrade-path") { next_steps(m, det) } else { Vec::new() };
        let mut s = step(
            &cx.out,
            m.id.clone(),
            m.name.clone(),
            det.raw.clone(),
            Some(t.raw.clone()),
            ids,
            no_change,
            next_steps,
            gates,
        );
        if let Some(p) = cx.prereqs.get(&m.id) {
            must_move(&mut s, p, m, det);
        }
        steps.push(s);
    }
    // Components not targeted that must move before a target (or may have to: unknown).
    for (id, p) in &cx.prereqs {
        let (Some(m), Some(det)) = (catalog.matrices.get(id), detected.get(id)) else { continue };
        if plan.targets.contains_key(id) {
            continue;
        }
        let ids = cx.attached.remove(id).unwrap_or_default();
        let mut s =
            step(&cx.out, id.clone(), m.name.clone(), det.raw.clone(), None, ids, false, Vec::new(), Vec::new());
        must_move(&mut s, p, m, det);
        steps.push(s);
    }
    for s in &mut steps {
        s.upgrade_first = cx
            .prereqs
            .iter()
            .filter(|(_, p)| !p.unknown && p.required_by.contains(&s.component))
            .map(|(c, _)| c.clone())
            .collect();
    }
    for r in &plan.releases {
        let key = format!("release:{}", r.name);
        let mut ids = cx.attached.remove(&key).unwrap_or_default();
        ids.extend(cx.out.findings.iter().filter(|f| f.objects.first() == Some(&r.object)).map(|f| f.check_id.clone()));
        // Findings of release checks (in progress, failed) name the same HelmRelease object.
        let name = format!("Helm release {} (chart {})", r.name, r.chart);
        steps.push(step(&cx.out, key, name, r.current.clone(), r.target.clone(), ids, false, Vec::new(), Vec::new()));
    }
    first::order(&mut steps);
    cx.out.steps = steps;
    cx.out
}

/// Fills in what a step that must move first needs: the version, and the stops to it.
fn must_move(s: &mut PlanStep, p: &first::Prereq, m: &Matrix, det: &Detected) {
    s.required_by = p.required_by.iter().cloned().collect();
    if let (Some(req), Some(cur)) = (&p.required, det.version()) {
        s.required_version = Some(shown(req));
        s.upgrade_path = first::stops(m, cur, req);
    }
}

#[allow(clippy::too_many_arguments)]
fn step(
    out: &PlanOutcome,
    component: String,
    name: String,
    current: Option<String>,
    target: Option<String>,
    mut ids: Vec<String>,
    no_change: bool,
    next_steps: Vec<String>,
    gates: Vec<(String, &'static str)>,
) -> PlanStep {
    ids.sort();
    ids.dedup();
    let sev = |id: &str| out.findings.iter().filter(|f| f.check_id == id).map(|f| f.severity).max();
    let unknown = ids.iter().any(|i| out.could_not_evaluate.iter().any(|s| &s.check_id == i));
    let worst = ids.iter().filter_map(|i| sev(i)).max();
    let gate_failed = gates.iter().any(|(_, s)| *s == "fail");
    let verdict = match worst {
        Some(Severity::Blocker) => StepVerdict::Blocked,
        _ if gate_failed => StepVerdict::Blocked,
        _ if unknown => StepVerdict::Unknown,
        Some(Severity::Warning) => StepVerdict::Warning,
        _ if no_change => StepVerdict::NoChange,
        _ => StepVerdict::Ok,
    };
    PlanStep {
        component,
        name,
        current,
        target,
        verdict,
        findings: ids,
        next_steps,
        gates,
        order: 1,
        required_version: None,
        upgrade_path: Vec::new(),
        required_by: Vec::new(),
        upgrade_first: Vec::new(),
    }
}

/// Upgrade paths whose `from` admits the current version: where it can go next.
fn next_steps(m: &Matrix, det: &Detected) -> Vec<String> {
    let Some(v) = det.version() else { return Vec::new() };
    let mut out: Vec<String> = m
        .upgrade_paths
        .iter()
        // Forward steps only: a bound of the target range above the current version is in it.
        .filter(|p| {
            p.from.matches(&base(v))
                && p.to.bounds().iter().any(|b| version::cmp_precedence(b, v).is_gt() && p.to.matches(b))
        })
        .map(|p| p.to.to_string())
        .collect();
    if let Some(step) = m.upgrade.max_minor_step {
        out.push(format!("{}.{}", v.major, v.minor + step));
    }
    out
}

/// Objects a planned step needs beyond the checks' (for live collection).
#[must_use]
pub fn needs(catalog: &Catalog, targets: &BTreeMap<String, Version>) -> Vec<(GroupKind, Option<String>)> {
    let mut out = Vec::new();
    for (c, v) in targets {
        if let Some(m) = catalog.matrices.get(c) {
            out.extend(removal_kinds(m, Some(v)));
            if !m.api_removals.is_empty() {
                out.push((crate::inventory::helm::group_kind(), None));
            }
            if m.upgrade.kubelet_max_skew.is_some() {
                out.push((GroupKind::new("", "Node"), Some("v1".into())));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_helm_coalesce() {
        let base = json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        let over = json!({"a": {"b": null, "e": 3}, "d": [3]});
        assert_eq!(merge(&base, &over), json!({"a": {"c": 2, "e": 3}, "d": [3]}));
    }
}
