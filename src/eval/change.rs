//! One job: the checks of a planned change (`check --manifest`), one function per check id.
//!
//! Checks of a planned change: what Helm or the API server will refuse
//! when the rendered objects are applied to the cluster as it is, judged on the
//! [`ChangeSet`] the inventory keeps beside the future state.
//!
//! Each rule compares only what the planned manifest *sets* with the live value: Helm's
//! three-way merge keeps every field the manifest leaves out, and the API server fills in
//! defaults, so a field absent from the manifest (a Service's `clusterIP`, a defaulted
//! `volumeMode`) is never a change. Secret values are never read (the inventory blanks them):
//! findings about Secrets compare keys only and print no value.
//!
//! Layer: eval. Imports the inventory (objects and the change set), the catalog, the ground
//! layer and `eval`'s own finding types.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::catalog::{Catalog, Severity};
use crate::eval::Finding;
use crate::inventory::manifest::{ChangeSet, Planned, Served};
use crate::inventory::{Inventory, Object};
use crate::resource::{GroupKind, ObjectRef, split_api_version};

/// Finding ids of change checks, with severity and title (they share the namespace of
/// check ids; see `catalog::planning`).
pub const IDS: [&str; 7] = [
    "immutable-field-change",
    "ownership-conflict",
    "kind-not-served",
    "crds-not-upgraded",
    "chart-kube-version",
    "values-schema",
    "deleted-still-referenced",
];

/// The verdict of one change check.
#[derive(Debug)]
pub enum Verdict {
    /// Findings (possibly none, with what was evaluated).
    Ran(Vec<Finding>, String),
    /// Does not apply, and why.
    NotApplicable(String),
    /// Could not be evaluated, and why.
    CouldNotEvaluate(String),
}

/// Runs every change check; `target_k8s` is `--target kubernetes=X`.
#[must_use]
pub fn evaluate(
    catalog: &Catalog,
    inv: &Inventory,
    change: &ChangeSet,
    target_k8s: Option<&semver::Version>,
) -> Vec<(&'static str, Verdict)> {
    let f = |id: &'static str| FindingTemplate { id, severity: severity_of(id) };
    vec![
        ("immutable-field-change", immutable(change, &f("immutable-field-change"))),
        ("ownership-conflict", ownership(change, &f("ownership-conflict"))),
        ("kind-not-served", kind_not_served(catalog, inv, change, target_k8s, &f("kind-not-served"))),
        ("crds-not-upgraded", crds_not_upgraded(inv, change, &f("crds-not-upgraded"))),
        ("chart-kube-version", chart_kube_version(inv, change, target_k8s, &f("chart-kube-version"))),
        ("values-schema", values_schema(change, &f("values-schema"))),
        ("deleted-still-referenced", deleted_still_referenced(inv, change, &f("deleted-still-referenced"))),
    ]
}

/// Runs every selected change check and records its outcome in `out`.
pub(super) fn record_all(
    catalog: &Catalog,
    inv: &Inventory,
    change: &ChangeSet,
    plan: &crate::eval::plan::Plan,
    sel: &crate::eval::Selection,
    out: &mut crate::eval::Evaluation,
) {
    use crate::eval::Outcome;
    let k8s = plan.targets.get("kubernetes").map(|t| &t.version);
    for (id, verdict) in evaluate(catalog, inv, change, k8s) {
        if !sel.wants(id) {
            continue;
        }
        let outcome = match verdict {
            Verdict::Ran(f, why) if f.is_empty() => Outcome::Passed(why),
            Verdict::Ran(f, _) => Outcome::Ran(f),
            Verdict::NotApplicable(r) => Outcome::NotApplicable(r),
            Verdict::CouldNotEvaluate(r) => Outcome::CouldNotEvaluate(r),
        };
        crate::eval::record(out, id, severity_of(id), outcome);
    }
}

fn severity_of(id: &str) -> Severity {
    crate::catalog::planning::FINDING_IDS.iter().find(|(i, _, _)| *i == id).map_or(Severity::Blocker, |(_, s, _)| *s)
}

struct FindingTemplate {
    id: &'static str,
    severity: Severity,
}

impl FindingTemplate {
    fn make(&self, objects: Vec<ObjectRef>, message: String, remediation: String) -> Finding {
        Finding {
            check_id: self.id.to_string(),
            severity: self.severity,
            component: None,
            objects,
            message,
            remediation,
            references: Vec::new(),
        }
    }
}

fn annotation(v: &Value, key: &str) -> Option<String> {
    v.pointer("/metadata/annotations").and_then(|a| a.get(key)).and_then(Value::as_str).map(ToString::to_string)
}

/// True for a Helm hook that Helm deletes before creating it again (`before-hook-creation`,
/// which is also Helm's default when a hook names no delete policy).
fn recreated_hook(v: &Value) -> bool {
    annotation(v, "helm.sh/hook").is_some()
        && annotation(v, "helm.sh/hook-delete-policy")
            .is_none_or(|p| p.split(',').any(|x| x.trim() == "before-hook-creation"))
}

fn is_hook(v: &Value) -> bool {
    annotation(v, "helm.sh/hook").is_some()
}

// ---------- immutable-field-change ----------

/// How a field is compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmp {
    /// Exactly (selectors, names: the server adds nothing).
    Exact,
    /// Every value the manifest sets must equal the live one (the server adds defaults).
    Subset,
}

fn immutable_fields(gk: &GroupKind) -> Vec<(&'static str, Cmp)> {
    match (gk.group.as_str(), gk.kind.as_str()) {
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => vec![("/spec/selector", Cmp::Exact)],
        ("apps", "StatefulSet") => vec![
            ("/spec/selector", Cmp::Exact),
            ("/spec/volumeClaimTemplates", Cmp::Subset),
            ("/spec/serviceName", Cmp::Exact),
            ("/spec/podManagementPolicy", Cmp::Exact),
        ],
        ("batch", "Job") => vec![("/spec/template", Cmp::Subset), ("/spec/selector", Cmp::Exact)],
        ("", "Service") => {
            vec![("/spec/clusterIP", Cmp::Exact), ("/spec/clusterIPs", Cmp::Exact), ("/spec/ipFamilies", Cmp::Exact)]
        }
        ("storage.k8s.io", "StorageClass") => {
            vec![("/provisioner", Cmp::Exact), ("/parameters", Cmp::Exact), ("/reclaimPolicy", Cmp::Exact)]
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => vec![("/roleRef", Cmp::Exact)],
        ("apiextensions.k8s.io", "CustomResourceDefinition") => vec![("/spec/scope", Cmp::Exact)],
        ("", "Secret") => vec![("/type", Cmp::Exact)],
        _ => Vec::new(),
    }
}

/// The first place where `planned` (what the manifest sets) differs from `live`: its path and
/// both values (`None` when absent).
fn difference(planned: &Value, live: Option<&Value>, cmp: Cmp, path: &str) -> Option<(String, Option<Value>, Value)> {
    match (planned, live) {
        (Value::Object(p), Some(Value::Object(l))) => {
            for (k, pv) in p {
                if let Some(d) = difference(pv, l.get(k), cmp, &format!("{path}.{k}")) {
                    return Some(d);
                }
            }
            if cmp == Cmp::Exact
                && let Some(k) = l.keys().find(|k| !p.contains_key(*k))
            {
                return Some((format!("{path}.{k}"), l.get(k).cloned(), Value::Null));
            }
            None
        }
        (Value::Array(p), Some(Value::Array(l))) if p.len() == l.len() => {
            p.iter().zip(l).enumerate().find_map(|(i, (pv, lv))| difference(pv, Some(lv), cmp, &format!("{path}[{i}]")))
        }
        (p, Some(l)) if p == l => None,
        // A null or empty value in the manifest leaves the live one alone.
        (Value::Null, _) => None,
        (Value::String(s), _) if s.is_empty() => None,
        (p, l) => Some((path.to_string(), l.cloned(), p.clone())),
    }
}

fn short(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(unset)".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 120 { format!("{}…", s.chars().take(120).collect::<String>()) } else { s }
        }
    }
}

fn pointer_to_path(p: &str) -> String {
    p.trim_start_matches('/').replace('/', ".")
}

/// Parses a Kubernetes quantity (`10Gi`, `500M`, `1e3`) to bytes, roughly; `None` if odd.
fn quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let m = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    Some(n * m)
}

fn immutable(change: &ChangeSet, t: &FindingTemplate) -> Verdict {
    if !change.cluster {
        return Verdict::NotApplicable("no cluster was read (--no-cluster): nothing to compare with".to_string());
    }
    if let Some(why) = change.planned.iter().find_map(|p| p.live_unknown.as_ref()) {
        return Verdict::CouldNotEvaluate(format!("the live objects to compare with are unknown: {why}"));
    }
    let mut findings = Vec::new();
    let mut compared = 0usize;
    for p in &change.planned {
        let Some(live) = &p.live else { continue };
        let pv = p.object.value();
        if recreated_hook(&pv) {
            continue;
        }
        compared += 1;
        let lv = live.value();
        let gk = p.object.gk();
        let mut problems: Vec<String> = Vec::new();
        let secret = p.object.kind == "Secret";
        for (ptr, cmp) in immutable_fields(&gk) {
            let Some(planned_field) = pv.pointer(ptr) else { continue };
            if let Some((path, l, n)) = difference(planned_field, lv.pointer(ptr), cmp, &pointer_to_path(ptr)) {
                problems.push(format!("{path}: live {}, planned {}", short(l.as_ref()), short(Some(&n))));
            }
        }
        if gk == GroupKind::new("", "PersistentVolumeClaim")
            && let (Some(ps), Some(ls)) = (pv.get("spec"), lv.get("spec"))
        {
            let mut ps = ps.clone();
            let pst = ps.pointer("/resources/requests/storage").and_then(Value::as_str).map(ToString::to_string);
            let lst = ls.pointer("/resources/requests/storage").and_then(Value::as_str);
            if let Some(r) = ps.get_mut("resources").and_then(Value::as_object_mut) {
                r.remove("requests");
                r.remove("limits");
            }
            // `volumeName` is bound by the server; the manifest rarely sets it.
            if let Some((path, l, n)) = difference(&ps, Some(ls), Cmp::Subset, "spec")
                && !path.starts_with("spec.resources")
            {
                problems.push(format!("{path}: live {}, planned {}", short(l.as_ref()), short(Some(&n))));
            }
            if let (Some(p), Some(l)) = (pst, lst)
                && let (Some(pq), Some(lq)) = (quantity(&p), quantity(l))
                && pq < lq
            {
                problems.push(format!(
                    "spec.resources.requests.storage: live {l}, planned {p} (a claim can grow, never shrink)"
                ));
            }
        }
        if matches!(gk.kind.as_str(), "ConfigMap" | "Secret")
            && gk.group.is_empty()
            && lv.get("immutable").and_then(Value::as_bool) == Some(true)
        {
            if pv.get("immutable").and_then(Value::as_bool) == Some(false) {
                problems.push("immutable: live true, planned false".to_string());
            }
            let keys = |v: &Value| -> BTreeSet<String> {
                ["data", "stringData", "binaryData"]
                    .iter()
                    .filter_map(|f| v.get(f).and_then(Value::as_object))
                    .flat_map(|m| m.keys().cloned())
                    .collect()
            };
            let (pk, lk) = (keys(&pv), keys(&lv));
            if pk != lk {
                let added: Vec<&String> = pk.difference(&lk).collect();
                let removed: Vec<&String> = lk.difference(&pk).collect();
                problems.push(format!("data keys change (added: {added:?}, removed: {removed:?})"));
            } else if !secret {
                let changed: Vec<&String> = ["data", "binaryData"]
                    .iter()
                    .flat_map(|f| pv.get(f).and_then(Value::as_object).into_iter().flatten())
                    .filter(|(k, v)| {
                        ["data", "binaryData"]
                            .iter()
                            .any(|f| lv.get(f).and_then(|m| m.get(k.as_str())).is_some_and(|l| l != *v))
                    })
                    .map(|(k, _)| k)
                    .collect();
                if !changed.is_empty() {
                    problems.push(format!("values of keys {changed:?} change (values not shown)"));
                }
            }
        }
        if problems.is_empty() {
            continue;
        }
        let r = p.object.obj_ref();
        let ns = r.namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default();
        let orphan = if matches!(gk.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") {
            " --cascade=orphan (its pods keep running)"
        } else {
            ""
        };
        findings.push(t.make(
            vec![r.clone(), live.obj_ref()],
            format!("{r}: the API server refuses to change {} (\"field is immutable\")", problems.join("; ")),
            format!(
                "Delete the object before the upgrade so it is created anew: kubectl delete {}{ns} {}{orphan}; \
                 or run helm upgrade --force, which deletes and recreates every changed object (a short outage for \
                 what depends on it; a PersistentVolumeClaim recreated loses its binding).",
                gk.kind.to_lowercase(),
                r.name
            ),
        ));
    }
    Verdict::Ran(findings, format!("compared {compared} planned object(s) with their live versions"))
}

// ---------- ownership-conflict ----------

fn ownership(change: &ChangeSet, t: &FindingTemplate) -> Verdict {
    let Some(rel) = &change.release else {
        return Verdict::NotApplicable("needs --release: ownership is judged against a Helm release".to_string());
    };
    if !change.cluster {
        return Verdict::NotApplicable("no cluster was read (--no-cluster)".to_string());
    }
    if let Some(p) = &change.release_problem {
        return Verdict::CouldNotEvaluate(format!("release {}/{}: {p}", rel.namespace, rel.name));
    }
    if let Some(why) = change.planned.iter().find_map(|p| p.live_unknown.as_ref()) {
        return Verdict::CouldNotEvaluate(format!("whether planned objects exist is unknown: {why}"));
    }
    let mut findings = Vec::new();
    let mut judged = 0usize;
    for p in &change.planned {
        let (Some(true), Some(live)) = (p.new_to_release, &p.live) else { continue };
        if is_hook(&p.object.value()) {
            continue;
        }
        judged += 1;
        let lv = live.value();
        let label = lv.pointer("/metadata/labels/app.kubernetes.io~1managed-by").and_then(Value::as_str);
        let rname = annotation(&lv, "meta.helm.sh/release-name");
        let rns = annotation(&lv, "meta.helm.sh/release-namespace");
        let mut wrong = Vec::new();
        if label != Some("Helm") {
            wrong.push(format!(
                "label app.kubernetes.io/managed-by is {}, not \"Helm\"",
                label.map_or("missing".to_string(), |l| format!("\"{l}\""))
            ));
        }
        if rname.as_deref() != Some(rel.name.as_str()) {
            wrong.push(format!(
                "annotation meta.helm.sh/release-name is {}, not \"{}\"",
                rname.map_or("missing".to_string(), |l| format!("\"{l}\"")),
                rel.name
            ));
        }
        if rns.as_deref() != Some(rel.namespace.as_str()) {
            wrong.push(format!(
                "annotation meta.helm.sh/release-namespace is {}, not \"{}\"",
                rns.map_or("missing".to_string(), |l| format!("\"{l}\"")),
                rel.namespace
            ));
        }
        if wrong.is_empty() {
            continue;
        }
        let r = live.obj_ref();
        let ns = r.namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default();
        let kind = p.object.kind.to_lowercase();
        findings.push(t.make(
            vec![p.object.obj_ref(), r.clone()],
            format!(
                "{}: exists in the cluster but is not part of release {}/{}, and Helm refuses to adopt it \
                 (\"invalid ownership metadata\"): {}",
                r.identity(),
                rel.namespace,
                rel.name,
                wrong.join("; ")
            ),
            format!(
                "If the release should own it: kubectl label{ns} {kind} {name} app.kubernetes.io/managed-by=Helm --overwrite \
                 && kubectl annotate{ns} {kind} {name} meta.helm.sh/release-name={rel_name} \
                 meta.helm.sh/release-namespace={rel_ns} --overwrite. Otherwise rename it in the chart, or delete the \
                 existing object.",
                name = r.name,
                rel_name = rel.name,
                rel_ns = rel.namespace
            ),
        ));
    }
    let what = if change.release_exists { "" } else { " (the release is not installed: every object is new)" };
    Verdict::Ran(findings, format!("judged {judged} existing object(s) new to the release{what}"))
}

// ---------- kind-not-served ----------

/// Versions a CRD serves (`spec.versions[].served`), if `crd` defines `gk`.
fn crd_served(crd: &Value, gk: &GroupKind) -> Option<Vec<String>> {
    let group = crd.pointer("/spec/group").and_then(Value::as_str)?;
    let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str)?;
    if group != gk.group || kind != gk.kind {
        return None;
    }
    Some(
        crd.pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
            .filter_map(|v| v.get("name").and_then(Value::as_str).map(ToString::to_string))
            .collect(),
    )
}

fn kind_not_served(
    catalog: &Catalog,
    inv: &Inventory,
    change: &ChangeSet,
    target: Option<&semver::Version>,
    t: &FindingTemplate,
) -> Verdict {
    let crd_gk = GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition");
    // CRDs of the future state: the planned ones replace the live ones.
    let crds: Vec<Value> = inv.objects(&crd_gk).iter().map(Object::value).collect();
    let planned_crds: Vec<Value> =
        change.planned.iter().filter(|p| p.object.gk() == crd_gk).map(|p| p.object.value()).collect();
    let crds_read = change.cluster
        && !inv.unknown_if_empty(&crd_gk)
        && matches!(inv.state(&crd_gk), crate::inventory::KindView::Collected(_));
    let removals: Vec<&crate::catalog::ApiRemoval> =
        catalog.matrices.get("kubernetes").into_iter().flat_map(|m| m.api_removals.iter()).collect();
    let mut findings = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for p in &change.planned {
        let gk = p.object.gk();
        let version = split_api_version(&p.object.api_version).1.to_string();
        let r = p.object.obj_ref();
        let removal =
            removals.iter().find(|rm| rm.api_version == p.object.api_version && rm.kinds.contains(&p.object.kind));
        // At the target, else at the version the cluster runs.
        let at = target.cloned().or_else(|| inv.server_version.as_deref().and_then(crate::version::parse_version));
        if let (Some(rm), Some(t_ver)) = (removal, &at)
            && crate::version::cmp_precedence(t_ver, &rm.removed_in) != std::cmp::Ordering::Less
        {
            findings.push(t.make(
                vec![r.clone()],
                format!(
                    "{r}: Kubernetes {} does not serve {} {} (removed in {})",
                    crate::version::display(t_ver),
                    p.object.api_version,
                    p.object.kind,
                    crate::version::display(&rm.removed_in)
                ),
                format!(
                    "Render it as {} before upgrading Kubernetes.",
                    rm.replacements.last().map_or("a served version", |r| r.api_version.as_str())
                ),
            ));
            continue;
        }
        // A CRD in the future state decides for custom kinds.
        let by_crd = planned_crds.iter().chain(crds.iter()).find_map(|c| crd_served(c, &gk));
        if let Some(versions) = by_crd {
            if !versions.contains(&version) {
                findings.push(t.make(
                    vec![r.clone()],
                    format!("{r}: the CustomResourceDefinition for {gk} does not serve {version} (served: {})", versions.join(", ")),
                    "Render the object at a served version, or upgrade the CRD first (Helm never upgrades a chart's crds/).".to_string(),
                ));
            }
            continue;
        }
        match &p.served {
            Served::Yes(versions) => {
                let gv = p.object.api_version.clone();
                if !versions.is_empty() && !versions.contains(&gv) {
                    findings.push(t.make(
                        vec![r.clone()],
                        format!("{r}: the cluster serves {gk} only as {}, not {gv}", versions.join(", ")),
                        "Render the object at a served version.".to_string(),
                    ));
                }
            }
            Served::No => findings.push(t.make(
                vec![r.clone()],
                format!("{r}: the cluster does not serve {gk}, and the change does not create its CustomResourceDefinition"),
                "Install the CRD (or the operator that brings it) first, or drop the object from the change.".to_string(),
            )),
            // No CRD defines it among CRDs read in full: not served (an aggregated API
            // server could still serve it; discovery would have said so live).
            Served::Unknown(_) if crds_read && !gk.is_builtin() => findings.push(t.make(
                vec![r.clone()],
                format!("{r}: no CustomResourceDefinition in the cluster or the change defines {gk}"),
                "Install the CRD (or the operator that brings it) first, or drop the object from the change.".to_string(),
            )),
            Served::Unknown(why) => unknown.push(format!("{}: {why}", r.identity())),
        }
    }
    if !unknown.is_empty() && findings.is_empty() {
        if !change.cluster {
            return Verdict::NotApplicable(format!(
                "no cluster was read (--no-cluster){}",
                if target.is_some() { "; checked against --target kubernetes only" } else { "" }
            ));
        }
        return Verdict::CouldNotEvaluate(format!(
            "{} planned object(s) of unknown kinds, first: {}",
            unknown.len(),
            unknown[0]
        ));
    }
    Verdict::Ran(findings, format!("checked the kinds of {} planned object(s)", change.planned.len()))
}

// ---------- crds-not-upgraded ----------

fn crds_not_upgraded(inv: &Inventory, change: &ChangeSet, t: &FindingTemplate) -> Verdict {
    let Some(chart) = &change.chart else {
        return Verdict::NotApplicable("needs --chart".to_string());
    };
    if chart.crds.is_empty() {
        return Verdict::Ran(Vec::new(), format!("chart {} has no crds/", chart.name));
    }
    if change.release.is_some() && !change.release_exists && change.release_problem.is_none() && change.cluster {
        return Verdict::NotApplicable(
            "the release is not installed: helm installs crds/ on first install".to_string(),
        );
    }
    if !change.cluster {
        return Verdict::NotApplicable("no cluster was read (--no-cluster)".to_string());
    }
    let crd_gk = GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition");
    if inv.unknown_if_empty(&crd_gk) {
        return Verdict::CouldNotEvaluate("the cluster's CustomResourceDefinitions were not read".to_string());
    }
    if let crate::inventory::KindView::Failed(r) = inv.state(&crd_gk) {
        return Verdict::CouldNotEvaluate(format!("cannot read CustomResourceDefinitions: {r}"));
    }
    let mut findings = Vec::new();
    for d in &chart.crds {
        let v = &d.value;
        let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let (Some(group), Some(kind)) =
            (v.pointer("/spec/group").and_then(Value::as_str), v.pointer("/spec/names/kind").and_then(Value::as_str))
        else {
            continue;
        };
        let gk = GroupKind::new(group, kind);
        let chart_versions = crd_served(v, &gk).unwrap_or_default();
        let live = inv.objects(&crd_gk).iter().find(|o| o.name == name);
        let live_versions = live.and_then(|l| crd_served(&l.value(), &gk)).unwrap_or_default();
        let missing: Vec<&String> = chart_versions.iter().filter(|v| !live_versions.contains(v)).collect();
        if missing.is_empty() {
            continue;
        }
        let needed: Vec<&Planned> = change
            .planned
            .iter()
            .filter(|p| {
                p.object.gk() == gk && missing.iter().any(|m| split_api_version(&p.object.api_version).1 == m.as_str())
            })
            .collect();
        let crd_ref = ObjectRef {
            source: d.source.clone(),
            ..ObjectRef::named("CustomResourceDefinition", None, name, "apiextensions.k8s.io/v1")
        };
        let mut objects = vec![crd_ref];
        objects.extend(needed.iter().map(|p| p.object.obj_ref()));
        let cluster_side = if live.is_some() {
            format!(
                "the cluster's copy serves only {}",
                if live_versions.is_empty() { "no version".to_string() } else { live_versions.join(", ") }
            )
        } else {
            "the cluster does not have it".to_string()
        };
        let mut f = t.make(
            objects,
            format!(
                "CustomResourceDefinition {name}: the chart's crds/ serves {} but {cluster_side}; Helm never upgrades \
                 crds/{}",
                chart_versions.join(", "),
                if needed.is_empty() {
                    String::new()
                } else {
                    format!(", and {} planned object(s) need it", needed.len())
                }
            ),
            format!(
                "Before helm upgrade, apply the chart's CRDs yourself: kubectl apply --server-side -f {}/crds/ \
                 (from helm pull --untar).",
                chart.name
            ),
        );
        if !needed.is_empty() {
            f.severity = Severity::Blocker;
        }
        findings.push(f);
    }
    Verdict::Ran(findings, format!("compared {} CRD(s) of crds/ with the cluster's", chart.crds.len()))
}

// ---------- chart-kube-version ----------

/// A Helm `kubeVersion` constraint (Masterminds semver): `||` alternatives of comparators
/// (`>=`, `>`, `<=`, `<`, `=`, `!=`, `~`, `^`, `x` wildcards, `a - b` ranges). A `-0`
/// pre-release suffix (include pre-releases) is ignored: cluster versions are compared
/// without their vendor suffix. `Err` says what does not parse.
fn kube_version_matches(constraint: &str, v: &semver::Version) -> Result<bool, String> {
    let v = semver::Version::new(v.major, v.minor, v.patch);
    let parse = |s: &str| -> Result<(Vec<Option<u64>>, usize), String> {
        let s = s.trim().trim_start_matches('v');
        let s = s.split(['-', '+']).next().unwrap_or(s);
        let parts: Vec<Option<u64>> = s
            .split('.')
            .map(|p| if matches!(p, "x" | "X" | "*") { Ok(None) } else { p.parse::<u64>().map(Some) })
            .collect::<Result<_, _>>()
            .map_err(|_| format!("'{s}' is not a version"))?;
        if parts.is_empty() || parts.len() > 3 {
            return Err(format!("'{s}' is not a version"));
        }
        let given = parts.iter().take_while(|p| p.is_some()).count();
        Ok((parts, given))
    };
    let ver = |p: &[Option<u64>]| {
        semver::Version::new(
            p.first().copied().flatten().unwrap_or(0),
            p.get(1).copied().flatten().unwrap_or(0),
            p.get(2).copied().flatten().unwrap_or(0),
        )
    };
    let bump = |p: &[Option<u64>], given: usize| -> Option<semver::Version> {
        let b = ver(p);
        match given {
            0 => None,
            // Saturating: a component of u64::MAX (never a real version) bounds at itself
            // rather than overflowing.
            1 => Some(semver::Version::new(b.major.saturating_add(1), 0, 0)),
            2 => Some(semver::Version::new(b.major, b.minor.saturating_add(1), 0)),
            _ => Some(semver::Version::new(b.major, b.minor, b.patch.saturating_add(1))),
        }
    };
    for alt in constraint.split("||") {
        let alt = alt.trim();
        if alt.is_empty() {
            return Err("empty alternative".to_string());
        }
        let mut ok = true;
        let tokens: Vec<&str> = alt.split([' ', ',']).filter(|t| !t.is_empty()).collect();
        let mut i = 0;
        while i < tokens.len() {
            let mut tok = tokens[i].to_string();
            // `>= 1.20` written with a space.
            if matches!(tok.as_str(), ">=" | "<=" | ">" | "<" | "=" | "!=" | "~" | "^") && i + 1 < tokens.len() {
                i += 1;
                tok.push_str(tokens[i]);
            }
            // `1.2 - 1.4`
            if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                let (lo, _) = parse(&tok)?;
                let (hi, hg) = parse(tokens[i + 2])?;
                ok &= v >= ver(&lo) && (if hg < 3 { bump(&hi, hg).is_none_or(|b| v < b) } else { v <= ver(&hi) });
                i += 3;
                continue;
            }
            let (op, rest) = [">=", "<=", "!=", ">", "<", "=", "~", "^"]
                .iter()
                .find_map(|op| tok.strip_prefix(op).map(|r| (*op, r.to_string())))
                .unwrap_or(("=", tok.clone()));
            let (p, given) = parse(&rest)?;
            let b = ver(&p);
            ok &= match op {
                ">=" => v >= b,
                ">" => {
                    if given < 3 {
                        bump(&p, given).is_none_or(|x| v >= x)
                    } else {
                        v > b
                    }
                }
                "<=" => {
                    if given < 3 {
                        bump(&p, given).is_none_or(|x| v < x)
                    } else {
                        v <= b
                    }
                }
                "<" => v < b,
                "!=" => v != b,
                "~" => {
                    v >= b && v < bump(&p, given.clamp(1, 2)).unwrap_or_else(|| semver::Version::new(u64::MAX, 0, 0))
                }
                "^" => {
                    v >= b
                        && v < if b.major > 0 || given < 2 {
                            semver::Version::new(b.major.saturating_add(1), 0, 0)
                        } else {
                            semver::Version::new(0, b.minor.saturating_add(1), 0)
                        }
                }
                _ => bump(&p, given).is_none_or(|x| v >= b && (given == 3 && v == b || given < 3 && v < x)),
            };
            i += 1;
        }
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}

fn chart_kube_version(
    inv: &Inventory,
    change: &ChangeSet,
    target: Option<&semver::Version>,
    t: &FindingTemplate,
) -> Verdict {
    let Some(chart) = &change.chart else {
        return Verdict::NotApplicable("needs --chart".to_string());
    };
    let Some(constraint) = &chart.kube_version else {
        return Verdict::Ran(Vec::new(), format!("chart {} sets no kubeVersion", chart.name));
    };
    let mut versions: Vec<(String, semver::Version)> = Vec::new();
    if let Some(sv) = inv.server_version.as_deref()
        && let Some(v) = crate::version::parse_version(sv)
    {
        versions.push(("the cluster runs".to_string(), v));
    }
    if let Some(tv) = target {
        versions.push(("the --target is".to_string(), tv.clone()));
    }
    if versions.is_empty() {
        return if change.cluster {
            Verdict::CouldNotEvaluate("the cluster's Kubernetes version is unknown".to_string())
        } else {
            Verdict::NotApplicable("no cluster was read and no --target kubernetes=X given".to_string())
        };
    }
    let chart_ref = ObjectRef::named("Chart", None, &chart.name, "v2");
    let mut findings = Vec::new();
    for (what, v) in &versions {
        match kube_version_matches(constraint, v) {
            Ok(true) => {}
            Ok(false) => findings.push(t.make(
                vec![chart_ref.clone()],
                format!(
                    "chart {} {} requires Kubernetes {constraint}, but {what} {}; helm refuses (\"chart requires kubeVersion\")",
                    chart.name,
                    chart.version.as_deref().unwrap_or(""),
                    crate::version::display(v)
                ),
                "Use a chart version whose kubeVersion includes the cluster, or upgrade Kubernetes first.".to_string(),
            )),
            Err(e) => {
                return Verdict::CouldNotEvaluate(format!("{}/Chart.yaml kubeVersion '{constraint}': {e}", chart.path));
            }
        }
    }
    Verdict::Ran(findings, format!("kubeVersion {constraint} checked against {} version(s)", versions.len()))
}

// ---------- values-schema ----------

fn values_schema(change: &ChangeSet, t: &FindingTemplate) -> Verdict {
    let Some(chart) = &change.chart else {
        return Verdict::NotApplicable("needs --chart".to_string());
    };
    let Some(schema) = &chart.schema else {
        return Verdict::Ran(Vec::new(), format!("chart {} has no values.schema.json", chart.name));
    };
    let validator = match jsonschema::validator_for(schema) {
        Ok(v) => v,
        Err(e) => {
            return Verdict::CouldNotEvaluate(format!(
                "{}/values.schema.json is not a usable schema: {}",
                chart.path,
                e.kind().keyword()
            ));
        }
    };
    let (what, values) = match &change.values {
        Some((file, v)) => {
            (format!("values.yaml merged with {file}"), crate::inventory::manifest::overlay(&chart.values, v))
        }
        None => ("values.yaml".to_string(), chart.values.clone()),
    };
    let chart_ref = ObjectRef::named("Chart", None, &chart.name, "v2");
    let mut problems: Vec<String> = validator
        .iter_errors(&values)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() { "(top level)".to_string() } else { pointer_to_path(&path) };
            format!("{path}: fails '{}' (schema {})", e.kind().keyword(), e.schema_path())
        })
        .collect();
    problems.sort();
    problems.dedup();
    let findings = if problems.is_empty() {
        Vec::new()
    } else {
        vec![t.make(
            vec![chart_ref],
            format!(
                "the {what} violate {}/values.schema.json ({} problem(s)); helm refuses: {}",
                chart.name,
                problems.len(),
                problems.iter().take(10).cloned().collect::<Vec<_>>().join("; ")
            ),
            "Fix the values at these key paths (values are not shown).".to_string(),
        )]
    };
    Verdict::Ran(findings, format!("validated the {what} against values.schema.json"))
}

// ---------- deleted-still-referenced ----------

fn deleted_still_referenced(inv: &Inventory, change: &ChangeSet, t: &FindingTemplate) -> Verdict {
    if change.release.is_none() {
        return Verdict::NotApplicable(
            "needs --release: deleted objects come from the release's current manifest".to_string(),
        );
    }
    if let Some(p) = &change.release_problem {
        return Verdict::CouldNotEvaluate(p.clone());
    }
    if !change.cluster {
        return Verdict::NotApplicable("no cluster was read (--no-cluster)".to_string());
    }
    let deleted = |kind: &str, ns: Option<&str>, name: &str| {
        change
            .deleted
            .iter()
            .find(|d| d.kind == kind && d.gk().group.is_empty() && d.namespace.as_deref() == ns && d.name == name)
    };
    let mut findings = Vec::new();
    for (obj, spec) in crate::eval::workloads::top_level(inv, crate::eval::workloads::KINDS) {
        let ns = obj.namespace.as_deref();
        let mut refs: Vec<(&str, String, String)> =
            crate::eval::builtins::references(&spec).into_iter().map(|r| (r.kind, r.name, r.via)).collect();
        if let Some(sa) = spec.get("serviceAccountName").and_then(Value::as_str) {
            refs.push(("ServiceAccount", sa.to_string(), "serviceAccountName".to_string()));
        }
        for v in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
            if let Some(c) = v.pointer("/persistentVolumeClaim/claimName").and_then(Value::as_str) {
                let vname = v.get("name").and_then(Value::as_str).unwrap_or("?");
                refs.push(("PersistentVolumeClaim", c.to_string(), format!("volume {vname}")));
            }
        }
        for (kind, name, via) in refs {
            if let Some(d) = deleted(kind, ns, &name) {
                findings.push(t.make(
                    vec![obj.obj_ref(), d.obj_ref()],
                    format!("{}: the change deletes {} {}/{name}, which it still reads ({via})", obj.obj_ref(), kind, ns.unwrap_or("")),
                    "Keep the object in the chart (or annotate it helm.sh/resource-policy: keep), or change the workload to stop referencing it.".to_string(),
                ));
            }
        }
    }
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        for obj in inv.objects(&GroupKind::new("admissionregistration.k8s.io", kind)) {
            let v = obj.value();
            for w in v.get("webhooks").and_then(Value::as_array).into_iter().flatten() {
                let (Some(ns), Some(name)) = (
                    w.pointer("/clientConfig/service/namespace").and_then(Value::as_str),
                    w.pointer("/clientConfig/service/name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if let Some(d) = deleted("Service", Some(ns), name) {
                    findings.push(t.make(
                        vec![obj.obj_ref(), d.obj_ref()],
                        format!(
                            "{}: the change deletes Service {ns}/{name}, which webhook {} still calls",
                            obj.obj_ref(),
                            w.get("name").and_then(Value::as_str).unwrap_or("?")
                        ),
                        "Delete the webhook configuration in the same change, or keep the Service.".to_string(),
                    ));
                }
            }
        }
    }
    findings.sort_by(|a, b| a.objects.cmp(&b.objects));
    findings.dedup();
    Verdict::Ran(findings, format!("{} object(s) deleted by the change", change.deleted.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> semver::Version {
        semver::Version::parse(s).unwrap()
    }

    #[test]
    fn helm_kube_version_constraints() {
        let m = |c: &str, x: &str| kube_version_matches(c, &v(x)).unwrap();
        assert!(m(">=1.22.0-0", "1.30.2"));
        assert!(!m(">=1.22.0-0", "1.21.9"));
        assert!(m(">= 1.16.0-0 < 1.31.0-0", "1.30.9"));
        assert!(!m(">=1.16.0-0, <1.31.0-0", "1.31.0"));
        assert!(m("~1.29", "1.29.7"));
        assert!(!m("~1.29", "1.30.0"));
        assert!(m("^1.20", "1.33.1"));
        assert!(m("1.28.x || 1.30.x", "1.30.1"));
        assert!(!m("1.28.x || 1.30.x", "1.29.1"));
        assert!(m("1.25 - 1.28", "1.28.4"));
        assert!(!m("1.25 - 1.28", "1.29.0"));
        assert!(kube_version_matches(">=banana", &v("1.0.0")).is_err());
    }

    #[test]
    fn huge_version_components_do_not_overflow() {
        // Found by the `chart` fuzz harness (fuzz/regressions/chart/kube-version-u64-max):
        // bumping u64::MAX overflowed.
        let m = |c: &str| kube_version_matches(c, &v("1.30.0")).unwrap();
        assert!(!m("1.18446744073709551615"));
        assert!(!m("^0.18446744073709551615"));
        assert!(!m("~0.18446744073709551615"));
        assert!(!m(">1.18446744073709551615.0"));
        assert!(m("<=1.18446744073709551615"));
    }

    #[test]
    fn differences_ignore_server_defaults_only_in_subset_mode() {
        let live = serde_json::json!({"spec": {"containers": [{"image": "a:1", "terminationMessagePath": "/dev/x"}]}});
        let same = serde_json::json!({"spec": {"containers": [{"image": "a:1"}]}});
        let bumped = serde_json::json!({"spec": {"containers": [{"image": "a:2"}]}});
        assert!(difference(&same, Some(&live), Cmp::Subset, "t").is_none());
        let (path, l, p) = difference(&bumped, Some(&live), Cmp::Subset, "t").unwrap();
        assert_eq!(path, "t.spec.containers[0].image");
        assert_eq!((l.unwrap(), p), (serde_json::json!("a:1"), serde_json::json!("a:2")));
        let sel_live = serde_json::json!({"matchLabels": {"app": "x", "tier": "web"}});
        let sel_planned = serde_json::json!({"matchLabels": {"app": "x"}});
        assert!(difference(&sel_planned, Some(&sel_live), Cmp::Exact, "spec.selector").is_some());
        assert_eq!(quantity("10Gi"), Some(10.0 * 1024f64.powi(3)));
        assert!(quantity("5Gi").unwrap() < quantity("6G").unwrap());
    }
}
