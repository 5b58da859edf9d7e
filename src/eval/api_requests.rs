//! `deprecated-api-requests`: APIs that clients still *request*, from the API server's own
//! `apiserver_requested_deprecated_apis` gauge (held as one `DeprecatedAPIRequests` object,
//! `inventory::metrics`). Stored objects, manifests and Helm releases (pluto, kubent, our
//! `removed-api`) miss a controller that calls `batch/v1beta1` from code; this sees it.
//!
//! How each series with a non-zero value is judged, by its `removed_release`:
//!
//! | plan | removed at or before | severity |
//! |---|---|---|
//! | `--target kubernetes=X` | X | blocker |
//! | `--target kubernetes=X` | after X | info (fix it before upgrading that far) |
//! | no Kubernetes target, server at 1.N | 1.N+1 (the next minor) | warning |
//! | no Kubernetes target | later | info |
//! | any | no removal planned (`""`) | nothing |
//!
//! The replacement suggested comes from the `kubernetes` matrix's `api-removals` (the row of
//! that group/version whose kind's plural is the resource), served at the target.
//!
//! Offline inputs that do not carry the gauge (dumps, support bundles, snapshots taken before
//! this check existed) make the check *not applicable*, with the reason: the gauge is state of
//! a running API server, which only a live run or `upgrade-preflight snapshot` reads. A
//! capture that tried and failed says so (*could not evaluate*), like a live run.
//!
//! Layer: eval. Imports the catalog, the inventory and the ground layer.

use std::collections::BTreeMap;

use semver::Version;

use super::Outcome;
use super::builtins::Hit;
use crate::catalog::{Catalog, Severity};
use crate::eval::plan::{Advice, advice};
use crate::inventory::metrics::{self, Series};
use crate::inventory::{Inventory, KindView, Origin};
use crate::resource::ObjectRef;
use crate::version;

/// The outcome decided before the gauge is read, if any: *not applicable* for an offline
/// input that does not carry it, *could not evaluate* (with the reason as the source gave
/// it) where reading it failed.
pub(super) fn precheck(inv: &Inventory) -> Option<Outcome> {
    let gk = metrics::group_kind();
    let live = matches!(inv.origin, Origin::Live { .. });
    if !live && !inv.declares(&gk) {
        return Some(Outcome::NotApplicable(format!(
            "the input holds no API server metrics ({}): only a live run or `upgrade-preflight snapshot` reads GET {}",
            metrics::METRIC,
            metrics::PATH
        )));
    }
    match inv.state(&gk) {
        KindView::Failed(r) => Some(Outcome::CouldNotEvaluate(r.to_string())),
        _ => None,
    }
}

/// The severity the check has in this run: its own (a blocker) with a Kubernetes target,
/// at most a warning without one (then nothing is removed by the plan).
pub(super) fn severity(check: Severity, targets: &BTreeMap<String, Version>) -> Severity {
    if targets.contains_key("kubernetes") { check } else { check.min(Severity::Warning) }
}

/// Judges the gauge. `Err` when the object holding it cannot be read.
pub(super) fn evaluate(
    inv: &Inventory,
    catalog: &Catalog,
    targets: &BTreeMap<String, Version>,
) -> Result<Vec<Hit>, String> {
    let gk = metrics::group_kind();
    let objects = match inv.state(&gk) {
        KindView::Collected(objs) => objs,
        KindView::Failed(r) => return Err(r.to_string()),
        KindView::Absent => return Ok(Vec::new()),
    };
    let mut series = Vec::new();
    for o in objects {
        series.extend(metrics::read(&o.value())?);
    }
    let target = targets.get("kubernetes").map(minor);
    let current = inv.server_version.as_deref().and_then(version::parse_version).map(|v| minor(&v));
    let mut seen = std::collections::BTreeSet::new();
    let mut hits = Vec::new();
    for s in &series {
        // Zero is "not requested" (the server only ever sets 1); a duplicate line says nothing new.
        if s.value == 0.0 || s.value.is_nan() || s.removed_release.is_empty() || !seen.insert(key(s)) {
            continue;
        }
        let Some(removed) = version::parse_version(&s.removed_release) else {
            return Err(format!(
                "{} {} {}: removed_release '{}' is not a Kubernetes release",
                metrics::METRIC,
                s.api_version(),
                s.resource_path(),
                s.removed_release
            ));
        };
        let removed = minor(&removed);
        let (severity, when) = match (&target, &current) {
            (Some(t), _) if removed <= *t => (Severity::Blocker, format!("at or before the target {}", shown(t))),
            (Some(t), _) => (
                Severity::Info,
                format!("later than the target {}: fix it before upgrading to {}", shown(t), shown(&removed)),
            ),
            (None, Some(c)) if removed <= Version::new(c.major, c.minor + 1, 0) => {
                (Severity::Warning, format!("the minor after this cluster's {}", shown(c)))
            }
            (None, Some(c)) => (Severity::Info, format!("later than the minor after this cluster's {}", shown(c))),
            (None, None) => (Severity::Warning, "this cluster's version is unknown".to_string()),
        };
        let to = target.clone().unwrap_or_else(|| removed.clone());
        let message = format!(
            "{} {} is still requested ({} = {} since the API server started) and is removed in Kubernetes {} ({when}){}",
            s.api_version(),
            s.resource_path(),
            metrics::METRIC,
            s.value,
            shown(&removed),
            replacement(catalog, s, &to, current.as_ref()),
        );
        hits.push(Hit { objects: vec![api_ref(s)], message, severity: Some(severity) });
    }
    Ok(hits)
}

/// The API a series names, as discovery names it: `APIResource cronjobs` of `batch/v1beta1`.
fn api_ref(s: &Series) -> ObjectRef {
    ObjectRef::named("APIResource", None, &s.resource_path(), &s.api_version())
}

fn key(s: &Series) -> (String, String, String) {
    (s.api_version(), s.resource_path(), s.removed_release.clone())
}

fn minor(v: &Version) -> Version {
    Version::new(v.major, v.minor, 0)
}

fn shown(v: &Version) -> String {
    format!("{}.{}", v.major, v.minor)
}

/// What to use instead, from the `kubernetes` matrix's `api-removals`, at `to`: `; use
/// policy/v1 (served since 1.21)`, or an empty string when the matrix has no row for it.
fn replacement(catalog: &Catalog, s: &Series, to: &Version, current: Option<&Version>) -> String {
    let Some(m) = catalog.matrices.get("kubernetes") else { return String::new() };
    let api = s.api_version();
    let found =
        m.api_removals.iter().filter(|r| r.api_version == api).find_map(|r| {
            r.kinds.iter().find(|k| super::plural(k, 2).to_ascii_lowercase() == s.resource).map(|k| (r, k))
        });
    let Some((r, kind)) = found else { return String::new() };
    match advice(m, r, kind, to, current) {
        Advice::Use { at_target, now } => {
            let name = at_target.kind.as_deref().map_or(String::new(), |k| format!("{k} at "));
            let mut out = format!("; use {name}{}", at_target.api_version);
            if at_target.served_from > Version::new(0, 0, 0) {
                out.push_str(&format!(" (served since {})", shown(&at_target.served_from)));
            }
            if let Some(n) = now {
                out.push_str(&format!(", or {} that this cluster serves already", n.api_version));
            }
            out
        }
        Advice::NoneServed => format!("; no replacement of {kind} is served at {}", shown(to)),
        Advice::NoReplacement => format!("; {kind} has no successor API"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Sources;
    use crate::inventory::Object;

    fn inventory(origin: Origin, server: &str, body: &str) -> Inventory {
        let mut inv = Inventory::new(origin, true);
        inv.server_version = Some(server.to_string());
        let series = metrics::parse(body).unwrap();
        inv.push(Object::from_value(metrics::object(&series)).unwrap());
        inv.finish();
        inv
    }

    fn live() -> Origin {
        Origin::Live { context: "c".into(), server: "https://x".into() }
    }

    fn catalog() -> Catalog {
        Catalog::load(&Sources::default()).unwrap()
    }

    const REAL: &str = include_str!("../../tests/fixtures/metrics/eks-1.24-requested-deprecated-apis.prom");

    fn judged(inv: &Inventory, target: Option<&str>) -> Vec<(Severity, String)> {
        let targets: BTreeMap<String, Version> =
            target.map(|t| ("kubernetes".to_string(), version::parse_version(t).unwrap())).into_iter().collect();
        evaluate(inv, &catalog(), &targets)
            .unwrap()
            .into_iter()
            .map(|h| (h.severity.unwrap(), format!("{} | {}", h.objects[0], h.message)))
            .collect()
    }

    #[test]
    fn a_target_makes_removed_apis_blockers_and_later_ones_info() {
        let inv = inventory(live(), "v1.24.17-eks-7f9249a", REAL);
        let got = judged(&inv, Some("1.25"));
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(got[0].0, Severity::Blocker);
        assert_eq!(
            got[0].1,
            "APIResource poddisruptionbudgets | policy/v1beta1 poddisruptionbudgets is still requested \
             (apiserver_requested_deprecated_apis = 1 since the API server started) and is removed in \
             Kubernetes 1.25 (at or before the target 1.25); use policy/v1 (served since 1.21)"
        );
        assert_eq!(got[1].0, Severity::Blocker);
        assert!(got[1].1.ends_with("; PodSecurityPolicy has no successor API"), "{}", got[1].1);
        assert_eq!(got[2].0, Severity::Info);
        assert!(
            got[2].1.contains("storage.k8s.io/v1beta1 csistoragecapacities")
                && got[2].1.contains(
                    "removed in Kubernetes 1.27 (later than the target 1.25: fix it before upgrading to 1.27)"
                )
                && got[2].1.ends_with("; use storage.k8s.io/v1 (served since 1.24)"),
            "{}",
            got[2].1
        );
        // componentstatuses is deprecated without a removal release: nothing to say.
        assert!(got.iter().all(|(_, m)| !m.contains("componentstatuses")));
        // At a target past every removal, all three are blockers.
        assert!(judged(&inv, Some("1.27.3")).iter().all(|(s, _)| *s == Severity::Blocker));
    }

    #[test]
    fn without_a_target_the_next_minor_is_a_warning() {
        let inv = inventory(live(), "v1.24.17-eks-7f9249a", REAL);
        let got = judged(&inv, None);
        let sev: Vec<Severity> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(sev, [Severity::Warning, Severity::Warning, Severity::Info], "{got:#?}");
        assert!(got[0].1.contains("(the minor after this cluster's 1.24)"), "{}", got[0].1);
        assert!(got[2].1.contains("(later than the minor after this cluster's 1.24)"), "{}", got[2].1);
        // The check's own severity follows: at most a warning without a Kubernetes target.
        assert_eq!(severity(Severity::Blocker, &BTreeMap::new()), Severity::Warning);
        let t = BTreeMap::from([("kubernetes".to_string(), Version::new(1, 25, 0))]);
        assert_eq!(severity(Severity::Blocker, &t), Severity::Blocker);
        let other = BTreeMap::from([("rancher".to_string(), Version::new(2, 9, 0))]);
        assert_eq!(severity(Severity::Blocker, &other), Severity::Warning);
    }

    #[test]
    fn zero_duplicates_and_unremoved_apis_say_nothing() {
        let body = "apiserver_requested_deprecated_apis{group=\"batch\",version=\"v1beta1\",resource=\"cronjobs\",removed_release=\"1.25\"} 0\n\
                    apiserver_requested_deprecated_apis{group=\"\",version=\"v1\",resource=\"componentstatuses\",removed_release=\"\"} 1\n\
                    apiserver_requested_deprecated_apis{group=\"policy\",version=\"v1beta1\",resource=\"poddisruptionbudgets\",removed_release=\"1.25\"} 1\n\
                    apiserver_requested_deprecated_apis{group=\"policy\",version=\"v1beta1\",resource=\"poddisruptionbudgets\",removed_release=\"1.25\"} 1\n";
        let inv = inventory(live(), "v1.24.3", body);
        let got = judged(&inv, Some("1.25"));
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0].1.starts_with("APIResource poddisruptionbudgets | policy/v1beta1"));
        // A removal release that is not a version is bad data, not a pass.
        let bad = inventory(
            live(),
            "v1.24.3",
            "apiserver_requested_deprecated_apis{group=\"x.io\",version=\"v1\",resource=\"things\",removed_release=\"soon\"} 1\n",
        );
        assert_eq!(
            evaluate(&bad, &catalog(), &BTreeMap::new()).err().unwrap(),
            "apiserver_requested_deprecated_apis x.io/v1 things: removed_release 'soon' is not a Kubernetes release"
        );
    }

    #[test]
    fn offline_inputs_without_the_gauge_do_not_apply() {
        let snap = Inventory::new(Origin::Snapshot("dump.yaml".into()), false);
        let Some(Outcome::NotApplicable(why)) = precheck(&snap) else { panic!("not applicable expected") };
        assert!(why.starts_with("the input holds no API server metrics"), "{why}");
        let captured = inventory(Origin::Snapshot("snap.json".into()), "v1.24.3", REAL);
        assert!(precheck(&captured).is_none());
        // A capture that tried and failed says why, verbatim.
        let failed = {
            let mut inv = Inventory::new(Origin::Snapshot("snap.json".into()), true);
            inv.set_state(metrics::group_kind(), crate::inventory::KindState::Failed("forbidden: get /metrics".into()));
            inv.finish();
            inv
        };
        let Some(Outcome::CouldNotEvaluate(why)) = precheck(&failed) else { panic!("could not evaluate expected") };
        assert_eq!(why, "forbidden: get /metrics");
        assert_eq!(evaluate(&failed, &catalog(), &BTreeMap::new()).err().unwrap(), "forbidden: get /metrics");
        // Live, the state is always stated: never "not applicable".
        let mut live_inv = Inventory::new(live(), true);
        live_inv.set_state(metrics::group_kind(), crate::inventory::KindState::Collected(Vec::new()));
        assert!(precheck(&live_inv).is_none());
    }
}
