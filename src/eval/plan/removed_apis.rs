//! Removed and deprecated Kubernetes APIs at the target (`removed-api`, `deprecated-api`):
//! objects, Helm release manifests and last-applied annotations that still use them.

use std::collections::BTreeSet;

use semver::Version;
use serde_json::Value;

use super::{Ctx, Target, base};
use crate::catalog::{Matrix, Severity};
use crate::inventory::{KindView, Object, str_at};
use crate::resource::GroupKind;

/// Kinds the removed-API rule reads for a target: every kind of every removal deprecated at
/// or before it, at its replacement group (where the API server still serves it).
#[must_use]
pub fn removal_kinds(m: &Matrix, target: Option<&Version>) -> Vec<(GroupKind, Option<String>)> {
    let mut out: Vec<(GroupKind, Option<String>)> = Vec::new();
    for r in &m.api_removals {
        if target.is_some_and(|t| r.deprecated_in.as_ref().unwrap_or(&r.removed_in) > &base(t)) {
            continue;
        }
        let gv = r.replacement.as_deref().unwrap_or(&r.api_version);
        let (group, version) = crate::resource::split_api_version(gv);
        for k in &r.kinds {
            let gk = GroupKind::new(group, k);
            if !out.iter().any(|(g, _)| g == &gk) {
                out.push((gk, Some(version.to_string())));
            }
        }
    }
    out
}

pub(super) fn removed_apis(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
    if m.api_removals.is_empty() {
        return;
    }
    let to = base(&t.version);
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
    for r in &m.api_removals {
        let removed = r.removed_in <= to;
        let deprecated = r.deprecated_in.as_ref().is_some_and(|d| *d <= to);
        if !removed && !deprecated {
            continue;
        }
        any_rule = true;
        let (id, sev, verb, at) = if removed {
            ("removed-api", Severity::Blocker, "removed", &r.removed_in)
        } else {
            ("deprecated-api", Severity::Warning, "deprecated", r.deprecated_in.as_ref().unwrap_or(&r.removed_in))
        };
        let instead = match &r.replacement {
            Some(rep) => format!("use {rep}"),
            None => "it has no replacement".to_string(),
        };
        let when = format!("{verb} in Kubernetes {}.{} ({instead})", at.major, at.minor);
        // Evidence 1: the manifests Helm stored for deployed releases.
        for (obj, v) in &releases {
            let Some(res) = v.pointer("/spec/resources").and_then(Value::as_array) else { continue };
            for item in res {
                let (Some(av), Some(kind)) = (item["apiVersion"].as_str(), item["kind"].as_str()) else { continue };
                if av != r.api_version || !r.kinds.iter().any(|k| k == kind) {
                    continue;
                }
                let name = item["name"].as_str().unwrap_or("?");
                cx.finding(
                    &m.id,
                    id,
                    sev,
                    &m.id,
                    vec![obj.obj_ref()],
                    format!(
                        "Helm release {}/{} (revision {}) manifest has {kind} {name} as {av}: {when}; evidence: release manifest",
                        obj.namespace.as_deref().unwrap_or_default(),
                        str_at(v, &["spec", "release"]).unwrap_or_default(),
                        v.pointer("/spec/revision").and_then(Value::as_u64).unwrap_or(0),
                    ),
                    "Update the chart to the new API and upgrade the release before the cluster; a release whose stored manifest uses a removed API cannot be upgraded by Helm afterwards (fix it with helm-mapkubeapis).".to_string(),
                );
            }
        }
        // Evidence 2: live objects, through what their writers used.
        let gv = r.replacement.as_deref().unwrap_or(&r.api_version);
        let (group, _) = crate::resource::split_api_version(gv);
        for kind in &r.kinds {
            let gk = GroupKind::new(group, kind);
            match cx.inv.state(&gk) {
                KindView::Failed(why) => {
                    if failed_kinds.insert(gk.to_string()) {
                        cx.unknown(&m.id, id, sev, format!("cannot read {gk}: {why}"));
                    }
                    continue;
                }
                KindView::Absent => continue,
                KindView::Collected(_) => {}
            }
            for o in cx.inv.objects(&gk) {
                let v = o.value();
                let mut evidence = Vec::new();
                let mut strong = false;
                if o.api_version == r.api_version {
                    evidence.push("the object as captured".to_string());
                    strong = true;
                }
                if let Some(la) = v
                    .pointer("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration")
                    .and_then(Value::as_str)
                    && serde_json::from_str::<Value>(la)
                        .ok()
                        .and_then(|l| l.get("apiVersion").and_then(Value::as_str).map(ToString::to_string))
                        .as_deref()
                        == Some(r.api_version.as_str())
                {
                    evidence.push("last-applied-configuration (kubectl apply used it)".to_string());
                    strong = true;
                }
                let managers: Vec<String> = v
                    .pointer("/metadata/managedFields")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter(|e| e.get("apiVersion").and_then(Value::as_str) == Some(r.api_version.as_str()))
                            .map(|e| e.get("manager").and_then(Value::as_str).unwrap_or("?").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if !managers.is_empty() {
                    evidence.push(format!("managedFields (last written through it by {})", managers.join(", ")));
                }
                if evidence.is_empty() {
                    continue;
                }
                // managedFields alone says a client once wrote through the old API; it may since
                // have been updated. That is worth a warning, not a blocker.
                let sev = if strong { sev } else { Severity::Warning };
                cx.finding(
                    &m.id,
                    id,
                    sev,
                    &m.id,
                    vec![o.obj_ref()],
                    format!("{} uses {}: {when}; evidence: {}", o.obj_ref(), r.api_version, evidence.join("; ")),
                    format!(
                        "Update the manifests, charts and clients that write {kind} to {}; the API server already stores it in a served version.",
                        r.replacement.as_deref().unwrap_or("a supported API (or remove the objects)")
                    ),
                );
            }
        }
    }
    if any_rule {
        cx.passed("removed-api");
        cx.passed("deprecated-api");
    }
}
