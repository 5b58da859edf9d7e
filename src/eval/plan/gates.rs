//! Platform gates: the conditions under which a product's own upgrade controller refuses
//! (Harvester's webhook checks, Rancher's RKE1 check). They are ordinary checks listed in
//! the matrix's `upgrade.gates`; when that component is targeted they run whatever the
//! selection, are raised to blockers, and decide the plan step.

use std::collections::BTreeSet;

use super::{CheckResults, Plan};
use crate::catalog::{Catalog, Matrix, Severity};
use crate::eval::{Finding, Skipped};

/// Each gate of `m` that ran, with its state: `pass`, `fail`, `n/a` or `unknown`.
pub(super) fn states(m: &Matrix, check_results: &CheckResults<'_>) -> Vec<(String, &'static str)> {
    let mut gates = Vec::new();
    for g in &m.upgrade.gates {
        let state = match check_results.get(g.as_str()) {
            Some(Ok(objs)) if objs.is_empty() => "pass",
            Some(Ok(_)) => "fail",
            Some(Err((true, _))) => "n/a",
            Some(Err((false, _))) => "unknown",
            None => continue,
        };
        gates.push((g.clone(), state));
    }
    gates
}

/// A targeted product's own upgrade gate refuses on any of its conditions: its findings,
/// and its checks that could not be evaluated, become blockers.
pub fn raise_to_blockers(catalog: &Catalog, plan: &Plan, findings: &mut [Finding], could_not_evaluate: &mut [Skipped]) {
    let gates: BTreeSet<&str> = plan
        .targets
        .keys()
        .filter_map(|c| catalog.matrices.get(c))
        .flat_map(|m| m.upgrade.gates.iter().map(String::as_str))
        .collect();
    for f in findings.iter_mut().filter(|f| gates.contains(f.check_id.as_str())) {
        f.severity = Severity::Blocker;
    }
    for s in could_not_evaluate.iter_mut().filter(|s| gates.contains(s.check_id.as_str())) {
        s.severity = Severity::Blocker;
    }
}
