//! Removed and deprecated APIs at the target (`removed-api`, `removed-api-no-replacement`,
//! `deprecated-api`): objects, Helm release manifests and applied-configuration annotations
//! that still use them, for Kubernetes and for add-ons whose matrix has `api-removals`
//! (cert-manager, Istio: their own `--target`).
//!
//! How sure a finding is depends on its [`Evidence`]; [`severity`] turns the evidence into
//! the finding's severity, and [`advice`] picks the replacement to suggest.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;
use serde_json::Value;

use super::{Ctx, Target, base};
use crate::catalog::{ApiRemoval, Matrix, Replacement, Severity};
use crate::inventory::{Inventory, KindView, Object, str_at};
use crate::resource::{GroupKind, split_api_version};

/// Annotations that record the object as it was last applied, read by default: kubectl's
/// client-side apply and kapp's. `--additional-annotation` adds more.
pub const APPLIED_ANNOTATIONS: [&str; 2] =
    ["kubectl.kubernetes.io/last-applied-configuration", "kapp.k14s.io/original"];

/// What shows that an object (or a release) uses an API version, strongest first.
///
/// The API server converts every object to whichever version a client asks for, so the
/// version an object is *stored* or *read* at never breaks an upgrade; what breaks is a
/// client that will send the old version again. The evidence says how likely that is:
///
/// | evidence | example | alone |
/// |---|---|---|
/// | [`Evidence::Planned`] | a manifest about to be applied (`--manifest`) says `batch/v1beta1` | blocker |
/// | [`Evidence::HelmManifest`] | the manifest Helm stored for release `apps/web` has a `policy/v1beta1` PodDisruptionBudget | blocker |
/// | [`Evidence::Applied`] | `kubectl.kubernetes.io/last-applied-configuration` says `batch/v1beta1` | blocker, unless a later write at a served version outranks it (then a warning) |
/// | [`Evidence::ManagedFields`] | `managedFields` show `old-operator` wrote through `autoscaling/v2beta1` | warning |
/// | [`Evidence::AsCaptured`] | a dump holds the object at `extensions/v1beta1` | warning |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The object comes from a manifest that is about to be applied: exactly what will be
    /// sent to the API server. Objects reach this only through `captured_evidence`, which
    /// is where the planned-change input (`--manifest`) marks its objects.
    Planned,
    /// The manifest Helm stored for the deployed release: Helm diffs against it, so an
    /// upgrade of the release fails once its API is gone.
    HelmManifest,
    /// An annotation holding the object as last applied (kubectl, kapp, or one named by
    /// `--additional-annotation`): the next apply from the same source sends it again.
    Applied {
        /// The annotation.
        annotation: String,
        /// A later `managedFields` write at a version served at the target, which shows the
        /// annotation is stale (e.g. `helm at batch/v1`).
        outranked_by: Option<String>,
    },
    /// `managedFields` entries at the old version: these clients once wrote through it.
    ManagedFields {
        /// Their managers.
        managers: Vec<String>,
    },
    /// The object's own `apiVersion` as captured: a live read is converted by the API
    /// server, a dump holds whatever version the dumper asked for.
    AsCaptured,
}

impl Evidence {
    /// True when this evidence alone shows the old API will be sent again.
    #[must_use]
    pub fn is_strong(&self) -> bool {
        match self {
            Evidence::Planned | Evidence::HelmManifest => true,
            Evidence::Applied { outranked_by, .. } => outranked_by.is_none(),
            Evidence::ManagedFields { .. } | Evidence::AsCaptured => false,
        }
    }

    /// How reports name it.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Evidence::Planned => "the planned manifest".to_string(),
            Evidence::HelmManifest => "release manifest".to_string(),
            Evidence::Applied { annotation, outranked_by: None } => format!("{annotation} (applied through it)"),
            Evidence::Applied { annotation, outranked_by: Some(w) } => {
                format!("{annotation} (stale: a later write by {w})")
            }
            Evidence::ManagedFields { managers } => {
                format!("managedFields (last written through it by {})", managers.join(", "))
            }
            Evidence::AsCaptured => "the object as captured".to_string(),
        }
    }
}

/// Severity of a finding resting on `evidence`: `rule` (the rule's own severity, blocker for
/// a removal) when some evidence is strong, a warning otherwise; `None` without evidence.
#[must_use]
pub fn severity(evidence: &[Evidence], rule: Severity) -> Option<Severity> {
    if evidence.is_empty() {
        None
    } else if evidence.iter().any(Evidence::is_strong) {
        Some(rule)
    } else {
        Some(rule.min(Severity::Warning))
    }
}

/// How an object of the inventory shows its own `apiVersion`.
///
/// This is where the planned-change input plugs in: once inventory objects carry a planned
/// origin (objects read with `--manifest`, about to be applied; the planned-change work tags
/// them with a planned change marker on `Object`), return [`Evidence::Planned`] for them —
/// one line here; every rule below already treats it as the strongest evidence. Everything
/// read from a cluster or a dump is only [`Evidence::AsCaptured`].
fn captured_evidence(_inv: &Inventory, o: &Object) -> Evidence {
    if o.change == Some(crate::resource::Change::Planned) { Evidence::Planned } else { Evidence::AsCaptured }
}

/// What to suggest instead of a removed or deprecated API at a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advice<'a> {
    /// The newest replacement served at the target; `now` is the newest one served both now
    /// and at the target, when that differs (migrate to it before the upgrade).
    Use {
        /// Newest replacement served at the target.
        at_target: &'a Replacement,
        /// Newest served by the current version and the target, when not `at_target`.
        now: Option<&'a Replacement>,
    },
    /// Replacements exist, but none is served at the target.
    NoneServed,
    /// The API has no replacement at all (PodSecurityPolicy).
    NoReplacement,
}

/// True when `matrix` serves `api_version` (for `kind`) at `v`, as far as its removals say.
fn served(m: &Matrix, rep: &Replacement, kind: &str, v: &Version) -> bool {
    let kind = rep.kind.as_deref().unwrap_or(kind);
    rep.served_from <= *v
        && !m
            .api_removals
            .iter()
            .any(|x| x.api_version == rep.api_version && x.kinds.iter().any(|k| k == kind) && x.removed_in <= *v)
}

/// The replacement to suggest for `r`'s `kind` at target `to`, given the current version.
#[must_use]
pub fn advice<'a>(m: &'a Matrix, r: &'a ApiRemoval, kind: &str, to: &Version, current: Option<&Version>) -> Advice<'a> {
    if r.replacements.is_empty() {
        return Advice::NoReplacement;
    }
    let Some(at_target) = r.replacements.iter().rev().find(|rep| served(m, rep, kind, to)) else {
        return Advice::NoneServed;
    };
    let now = current
        .filter(|c| !served(m, at_target, kind, c))
        .and_then(|c| r.replacements.iter().rev().find(|rep| served(m, rep, kind, c) && served(m, rep, kind, to)));
    Advice::Use { at_target, now }
}

fn rep_name(rep: &Replacement) -> String {
    match &rep.kind {
        Some(k) => format!("{k} at {}", rep.api_version),
        None => rep.api_version.clone(),
    }
}

fn minor(v: &Version) -> String {
    format!("{}.{}", v.major, v.minor)
}

/// Where the objects of a removal's kind are read: the group the API server converts them
/// to (the newest replacement's; built-in kinds are served there whatever they were written
/// as), plus the removed group itself for custom resources (a CRD is not converted across
/// groups). Each with the version to list. Nothing for `manifests-only` rows.
fn read_at(r: &ApiRemoval, kind: &str) -> Vec<(GroupKind, Option<String>)> {
    let (own_group, own_version) = split_api_version(&r.api_version);
    let mut out = Vec::new();
    if r.manifests_only {
        return out;
    }
    let newest = r.replacements.iter().rev().find(|rep| rep.kind.is_none());
    let (group, version) = newest.map_or((own_group, own_version), |rep| split_api_version(&rep.api_version));
    out.push((GroupKind::new(group, kind), Some(version.to_string())));
    let own = GroupKind::new(own_group, kind);
    if !own.is_builtin() && !out.iter().any(|(g, _)| *g == own) {
        out.push((own, Some(own_version.to_string())));
    }
    out
}

/// Kinds the removed-API rule reads for a target: every kind of every removal deprecated at
/// or before it (see `read_at`).
#[must_use]
pub fn removal_kinds(m: &Matrix, target: Option<&Version>) -> Vec<(GroupKind, Option<String>)> {
    let mut out: Vec<(GroupKind, Option<String>)> = Vec::new();
    for r in &m.api_removals {
        if target.is_some_and(|t| r.deprecated_in.as_ref().unwrap_or(&r.removed_in) > &base(t)) {
            continue;
        }
        for k in &r.kinds {
            for (gk, v) in read_at(r, k) {
                if !out.iter().any(|(g, _)| g == &gk) {
                    out.push((gk, v));
                }
            }
        }
    }
    out
}

/// The `apiVersion` an applied-configuration annotation records, when it parses as JSON.
fn applied_api_version(v: &Value, annotation: &str) -> Option<String> {
    let text = v.get("metadata")?.get("annotations")?.get(annotation)?.as_str()?;
    let parsed: Value = serde_json::from_str(text).ok()?;
    parsed.get("apiVersion")?.as_str().map(ToString::to_string)
}

/// Managers that keep writing an object's status or bookkeeping through whatever version
/// they were built with: their writes say nothing about how the object is applied.
const CONTROLLERS: [&str; 3] = ["kube-controller-manager", "kube-scheduler", "kubelet"];

/// `managedFields` entries: manager, apiVersion, time (RFC 3339, when recorded). With
/// `writes_only`, entries of subresources (`status`, `scale`) and of the control plane's
/// controllers are left out.
fn managed_fields(v: &Value, writes_only: bool) -> Vec<(String, String, Option<String>)> {
    v.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let av = e.get("apiVersion")?.as_str()?.to_string();
                    let manager = e.get("manager").and_then(Value::as_str).unwrap_or("?").to_string();
                    if writes_only
                        && (e.get("subresource").is_some_and(|s| s.as_str() != Some(""))
                            || CONTROLLERS.iter().any(|c| manager.starts_with(c)))
                    {
                        return None;
                    }
                    let time = e.get("time").and_then(Value::as_str).map(ToString::to_string);
                    Some((manager, av, time))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A `managedFields` write later than every write through `old`, at a version of `kind`
/// that the target still serves: proof that an applied-configuration annotation at `old` is
/// stale. `mf` holds object writes only (no subresources, no controllers: a controller
/// updating status through `batch/v1` proves nothing about the manifest). Without writes through `old`, any write at a served version is later (the
/// annotation predates field tracking); with them, only a write with a later `time` counts.
fn later_served_write(
    m: &Matrix,
    mf: &[(String, String, Option<String>)],
    old: &str,
    kind: &str,
    to: &Version,
) -> Option<String> {
    let old_times: Vec<Option<&String>> =
        mf.iter().filter(|(_, av, _)| av == old).map(|(_, _, t)| t.as_ref()).collect();
    let newest_old = old_times.iter().flatten().max();
    let untimed_old = old_times.iter().any(Option::is_none);
    mf.iter()
        .filter(|(_, av, _)| av != old)
        .filter(|(_, av, _)| {
            !m.api_removals
                .iter()
                .any(|x| &x.api_version == av && x.kinds.iter().any(|k| k == kind) && x.removed_in <= *to)
        })
        .filter(|(_, _, t)| {
            old_times.is_empty() || (!untimed_old && t.as_ref().is_some_and(|t| newest_old.is_none_or(|o| t > *o)))
        })
        .map(|(manager, av, _)| format!("{manager} at {av}"))
        .next()
}

pub(super) fn removed_apis(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
    if m.api_removals.is_empty() {
        return;
    }
    let to = base(&t.version);
    let current = cx.detected.get(&m.id).and_then(|d| d.version()).map(base);
    let mut annotations: Vec<String> = APPLIED_ANNOTATIONS.iter().map(ToString::to_string).collect();
    for a in &cx.plan.applied_annotations {
        if !annotations.contains(a) {
            annotations.push(a.clone());
        }
    }
    let mut any_rule = false;
    let helm = crate::inventory::helm::group_kind();
    let releases: Vec<(&Object, Value)> = cx
        .inv
        .objects(&helm)
        .iter()
        .map(|o| (o, o.value()))
        .filter(|(_, v)| v.pointer("/spec/lastDeployed").and_then(Value::as_bool).unwrap_or(false))
        .collect();
    let mut failed_kinds = BTreeSet::new();
    // Rule ids some removal applies to at this target, with their severity.
    let mut active: BTreeMap<&'static str, Severity> = BTreeMap::new();
    for r in &m.api_removals {
        let removed = r.removed_in <= to;
        let deprecated = r.deprecated_in.as_ref().is_some_and(|d| *d <= to);
        if !removed && !deprecated {
            continue;
        }
        any_rule = true;
        let (verb, at) = if removed {
            ("removed", &r.removed_in)
        } else {
            ("deprecated", r.deprecated_in.as_ref().unwrap_or(&r.removed_in))
        };
        for kind in &r.kinds {
            let advice = advice(m, r, kind, &to, current.as_ref());
            let (id, rule_sev) = match (&advice, removed) {
                (Advice::Use { .. }, true) => ("removed-api", Severity::Blocker),
                (_, true) => ("removed-api-no-replacement", Severity::Blocker),
                (_, false) => ("deprecated-api", Severity::Warning),
            };
            active.insert(id, rule_sev);
            let instead = match &advice {
                Advice::Use { at_target, now: None } => format!("use {}", rep_name(at_target)),
                Advice::Use { at_target, now: Some(now) } => format!(
                    "use {}, served from {} {}; {} is served both before and after the upgrade",
                    rep_name(at_target),
                    m.name,
                    minor(&at_target.served_from),
                    rep_name(now)
                ),
                Advice::NoneServed => format!(
                    "no replacement is served at {} {}: {} no longer is",
                    m.name,
                    minor(&to),
                    r.replacements.iter().map(rep_name).collect::<Vec<_>>().join(", ")
                ),
                Advice::NoReplacement => "it has no replacement API".to_string(),
            };
            let when = format!("{verb} in {} {} ({instead})", m.name, minor(at));
            let fix_target = match &advice {
                Advice::Use { at_target, .. } => rep_name(at_target),
                Advice::NoneServed | Advice::NoReplacement => "a supported API (or remove the objects)".to_string(),
            };
            // Evidence 1: the manifests Helm stored for deployed releases.
            for (obj, v) in &releases {
                let Some(res) = v.pointer("/spec/resources").and_then(Value::as_array) else { continue };
                for item in res {
                    let (Some(av), Some(k)) = (item["apiVersion"].as_str(), item["kind"].as_str()) else { continue };
                    if av != r.api_version || k != kind {
                        continue;
                    }
                    let name = item["name"].as_str().unwrap_or("?");
                    let evidence = [Evidence::HelmManifest];
                    let Some(sev) = severity(&evidence, rule_sev) else { continue };
                    cx.finding(
                        &m.id,
                        id,
                        sev,
                        &m.id,
                        vec![obj.obj_ref()],
                        format!(
                            "Helm release {}/{} (revision {}) manifest has {kind} {name} as {av}: {when}; evidence: {}",
                            obj.namespace.as_deref().unwrap_or_default(),
                            str_at(v, &["spec", "release"]).unwrap_or_default(),
                            v.pointer("/spec/revision").and_then(Value::as_u64).unwrap_or(0),
                            evidence[0].describe(),
                        ),
                        format!("Update the chart to {fix_target} and upgrade the release before {}; a release whose stored manifest uses a removed API cannot be upgraded by Helm afterwards (fix it with helm-mapkubeapis).", m.name),
                    );
                }
            }
            // Evidence 2: objects, through their own version and what their writers used.
            let places = read_at(r, kind);
            let mut groups: Vec<GroupKind> = places.iter().map(|(g, _)| g.clone()).collect();
            for g in std::iter::once(split_api_version(&r.api_version).0).chain(
                r.replacements.iter().filter(|rep| rep.kind.is_none()).map(|rep| split_api_version(&rep.api_version).0),
            ) {
                let gk = GroupKind::new(g, kind);
                if !groups.contains(&gk) {
                    groups.push(gk);
                }
            }
            for gk in groups {
                let read_here = places.iter().any(|(g, _)| *g == gk);
                let objects = match cx.inv.state(&gk) {
                    KindView::Collected(v) => v,
                    // Only where the rule asks the cluster for the kind does a failure matter;
                    // other groups are looked at in case a dump holds objects there.
                    KindView::Failed(why) if read_here => {
                        if failed_kinds.insert(gk.to_string()) {
                            cx.unknown(&m.id, id, rule_sev, format!("cannot read {gk}: {why}"));
                        }
                        continue;
                    }
                    KindView::Failed(_) | KindView::Absent => continue,
                };
                for o in objects {
                    // Every kind of evidence names the old version in the object's text (the
                    // annotations are JSON from Go's encoder, which leaves '/' unescaped); most
                    // objects do not, and need not be parsed.
                    if !o.raw().contains(r.api_version.as_str()) {
                        continue;
                    }
                    let v = o.value();
                    let mut evidence = Vec::new();
                    if o.api_version == r.api_version {
                        evidence.push(captured_evidence(cx.inv, o));
                    }
                    let mf = managed_fields(&v, false);
                    let writes = managed_fields(&v, true);
                    for a in &annotations {
                        if applied_api_version(&v, a).as_deref() == Some(r.api_version.as_str()) {
                            let outranked_by = later_served_write(m, &writes, &r.api_version, kind, &to);
                            evidence.push(Evidence::Applied { annotation: a.clone(), outranked_by });
                        }
                    }
                    let managers: Vec<String> =
                        mf.iter().filter(|(_, av, _)| *av == r.api_version).map(|(mgr, _, _)| mgr.clone()).collect();
                    if !managers.is_empty() {
                        evidence.push(Evidence::ManagedFields { managers });
                    }
                    let Some(sev) = severity(&evidence, rule_sev) else { continue };
                    evidence.sort_by_key(|e| !e.is_strong());
                    cx.finding(
                        &m.id,
                        id,
                        sev,
                        &m.id,
                        vec![o.obj_ref()],
                        format!(
                            "{} uses {}: {when}; evidence: {}",
                            o.obj_ref(),
                            r.api_version,
                            evidence.iter().map(Evidence::describe).collect::<Vec<_>>().join("; ")
                        ),
                        format!(
                            "Update the manifests, charts and clients that write {kind} to {fix_target}; the API server already stores it in a served version."
                        ),
                    );
                }
            }
        }
    }
    if any_rule {
        for id in ["removed-api", "removed-api-no-replacement", "deprecated-api"] {
            // In a partial view (`-n`) finding nothing proves nothing: objects and Helm
            // releases of other namespaces were not read, and the upgrade is the cluster's.
            let found = cx.out.findings.iter().any(|f| f.check_id == id && f.component.as_deref() == Some(&m.id));
            match active.get(id) {
                Some(sev) if cx.inv.is_partial() && !found => cx.unknown(
                    &m.id,
                    id,
                    *sev,
                    format!(
                        "only namespace(s) {} were read: objects and Helm releases in other namespaces may still use an API {} at {} {}",
                        cx.inv.view_label(),
                        if id == "deprecated-api" { "deprecated" } else { "removed" },
                        m.name,
                        minor(&to)
                    ),
                ),
                _ => cx.passed(id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_ranks_planned_helm_and_applied_above_the_rest() {
        let applied = Evidence::Applied { annotation: "a".into(), outranked_by: None };
        let stale = Evidence::Applied { annotation: "a".into(), outranked_by: Some("helm at batch/v1".into()) };
        let mf = Evidence::ManagedFields { managers: vec!["x".into()] };
        for strong in [Evidence::Planned, Evidence::HelmManifest, applied] {
            assert_eq!(
                severity(std::slice::from_ref(&strong), Severity::Blocker),
                Some(Severity::Blocker),
                "{strong:?}"
            );
            assert_eq!(
                severity(&[Evidence::AsCaptured, strong.clone()], Severity::Blocker),
                Some(Severity::Blocker),
                "{strong:?}"
            );
        }
        for weak in [stale, mf, Evidence::AsCaptured] {
            assert_eq!(severity(std::slice::from_ref(&weak), Severity::Blocker), Some(Severity::Warning), "{weak:?}");
        }
        assert_eq!(severity(&[], Severity::Blocker), None);
        // A deprecation is a warning whatever the evidence.
        assert_eq!(severity(&[Evidence::Planned], Severity::Warning), Some(Severity::Warning));
    }

    #[test]
    fn later_write_at_a_served_version_outranks_an_old_annotation() {
        let cat = crate::catalog::Catalog::load(&crate::catalog::Sources::default()).unwrap();
        let m = &cat.matrices["kubernetes"];
        let to = Version::new(1, 25, 0);
        let e = |m: &str, a: &str, t: Option<&str>| (m.to_string(), a.to_string(), t.map(ToString::to_string));
        let old = "batch/v1beta1";
        // helm wrote at batch/v1 after kubectl's client-side apply at batch/v1beta1.
        let mf = [
            e("kubectl-client-side-apply", old, Some("2021-01-01T00:00:00Z")),
            e("helm", "batch/v1", Some("2023-05-01T00:00:00Z")),
        ];
        assert_eq!(later_served_write(m, &mf, old, "CronJob", &to).as_deref(), Some("helm at batch/v1"));
        // The old write is the later one: the annotation stands.
        let mf = [
            e("kubectl-client-side-apply", old, Some("2024-01-01T00:00:00Z")),
            e("helm", "batch/v1", Some("2023-05-01T00:00:00Z")),
        ];
        assert_eq!(later_served_write(m, &mf, old, "CronJob", &to), None);
        // No time to compare: the annotation stands.
        let mf = [e("kubectl-client-side-apply", old, None), e("helm", "batch/v1", Some("2023-05-01T00:00:00Z"))];
        assert_eq!(later_served_write(m, &mf, old, "CronJob", &to), None);
        // No write through the old version at all: any served write is later.
        let mf = [e("helm", "batch/v1", None)];
        assert_eq!(later_served_write(m, &mf, old, "CronJob", &to).as_deref(), Some("helm at batch/v1"));
        // A later write at a version itself removed at the target does not count.
        let mf = [
            e("kubectl-client-side-apply", "autoscaling/v2beta1", Some("2021-01-01T00:00:00Z")),
            e("op", "autoscaling/v2beta2", Some("2022-01-01T00:00:00Z")),
        ];
        let to = Version::new(1, 26, 0);
        assert_eq!(later_served_write(m, &mf, "autoscaling/v2beta1", "HorizontalPodAutoscaler", &to), None);
    }

    #[test]
    fn status_and_controller_writes_do_not_outrank_an_annotation() {
        let obj = serde_json::json!({"metadata": {"managedFields": [
            {"manager": "kubectl-client-side-apply", "apiVersion": "batch/v1beta1", "time": "2021-01-01T00:00:00Z"},
            {"manager": "kube-controller-manager", "apiVersion": "batch/v1", "time": "2024-01-01T00:00:00Z"},
            {"manager": "some-operator", "apiVersion": "batch/v1", "time": "2024-01-01T00:00:00Z", "subresource": "status"},
        ]}});
        assert_eq!(managed_fields(&obj, false).len(), 3);
        let writes = managed_fields(&obj, true);
        assert_eq!(writes.len(), 1, "{writes:?}");
        let cat = crate::catalog::Catalog::load(&crate::catalog::Sources::default()).unwrap();
        let m = &cat.matrices["kubernetes"];
        assert_eq!(later_served_write(m, &writes, "batch/v1beta1", "CronJob", &Version::new(1, 25, 0)), None);
    }

    #[test]
    fn advice_is_the_newest_replacement_served_at_the_target() {
        let cat = crate::catalog::Catalog::load(&crate::catalog::Sources::default()).unwrap();
        let m = &cat.matrices["kubernetes"];
        let row = |av: &str, kind: &str| {
            m.api_removals.iter().find(|r| r.api_version == av && r.kinds.iter().any(|k| k == kind)).unwrap()
        };
        let v = |minor| Version::new(1, minor, 0);
        let fs = row("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema");
        let name = |a: Advice<'_>| match a {
            Advice::Use { at_target, now } => (Some(at_target.api_version.clone()), now.map(|n| n.api_version.clone())),
            _ => (None, None),
        };
        assert_eq!(
            name(advice(m, fs, "FlowSchema", &v(26), Some(&v(25)))),
            (Some("flowcontrol.apiserver.k8s.io/v1beta3".into()), Some("flowcontrol.apiserver.k8s.io/v1beta2".into()))
        );
        assert_eq!(
            name(advice(m, fs, "FlowSchema", &v(29), None)).0.as_deref(),
            Some("flowcontrol.apiserver.k8s.io/v1")
        );
        let psp = row("extensions/v1beta1", "PodSecurityPolicy");
        assert_eq!(advice(m, psp, "PodSecurityPolicy", &v(25), None), Advice::NoneServed);
        assert!(matches!(advice(m, psp, "PodSecurityPolicy", &v(16), None), Advice::Use { .. }));
        let psp = row("policy/v1beta1", "PodSecurityPolicy");
        assert_eq!(advice(m, psp, "PodSecurityPolicy", &v(25), None), Advice::NoReplacement);
        // Alpha versions (never announced as deprecated): a GA replacement served at the target
        // is suggested, so removed-api and not -no-replacement; DRA 1.33 -> 1.34 names v1beta2 too.
        for (av, kind, removed, from, to) in [
            (
                "admissionregistration.k8s.io/v1alpha1",
                "ValidatingAdmissionPolicy",
                33,
                None,
                "admissionregistration.k8s.io/v1",
            ),
            ("resource.k8s.io/v1alpha3", "ResourceClaim", 34, Some("resource.k8s.io/v1beta2"), "resource.k8s.io/v1"),
            ("storage.k8s.io/v1alpha1", "VolumeAttributesClass", 35, None, "storage.k8s.io/v1"),
            (
                "storagemigration.k8s.io/v1alpha1",
                "StorageVersionMigration",
                35,
                None,
                "storagemigration.k8s.io/v1beta1",
            ),
            ("scheduling.k8s.io/v1alpha1", "Workload", 36, None, "scheduling.k8s.io/v1alpha2"),
        ] {
            let r = row(av, kind);
            assert_eq!((r.deprecated_in.as_ref(), &r.removed_in), (None, &v(removed)), "{av}");
            let got = name(advice(m, r, kind, &v(removed), Some(&v(removed - 1))));
            assert_eq!(got, (Some(to.to_string()), from.map(ToString::to_string)), "{av}");
        }
        // DeviceTaintRule stayed in resource.k8s.io/v1alpha3: no row names it.
        assert!(!m.api_removals.iter().any(|r| r.kinds.iter().any(|k| k == "DeviceTaintRule")));
    }
}
