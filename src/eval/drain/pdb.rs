//! `pdb-blocks-drain`: PodDisruptionBudgets that allow no eviction, and the workloads they
//! cover. See `checks/pdb-blocks-drain.yaml` for what is judged and what is left out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::pods;
use crate::eval::builtins::{Hit, Judged};
use crate::inventory::{Inventory, KindView, Object};
use crate::resource::{GroupKind, ObjectRef};

fn pdb_gk() -> GroupKind {
    GroupKind::new("policy", "PodDisruptionBudget")
}

/// Whether a label selector (`matchLabels`, `matchExpressions`) selects `labels`.
fn selects(sel: &Value, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (k, v) in sel.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
        if labels.get(k).map(String::as_str) != v.as_str() {
            return Ok(false);
        }
    }
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let have = labels.get(key).map(String::as_str);
        let ok = match e.get("operator").and_then(Value::as_str) {
            Some("In") => have.is_some_and(|h| values.contains(&h)),
            Some("NotIn") => have.is_none_or(|h| !values.contains(&h)),
            Some("Exists") => have.is_some(),
            Some("DoesNotExist") => have.is_none(),
            other => return Err(format!("selector operator {other:?} is not one of In, NotIn, Exists, DoesNotExist")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `minAvailable`/`maxUnavailable`: an integer or a percentage.
enum IntOrPercent {
    Int(i64),
    Percent(i64),
}

fn int_or_percent(v: &Value) -> Option<IntOrPercent> {
    match v {
        Value::Number(n) => n.as_i64().map(IntOrPercent::Int),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse().ok().map(IntOrPercent::Percent),
            // The API accepts an integer written as a string only as a percentage; a plain
            // number in quotes is what some manifests carry and the API rejects.
            None => s.trim().parse().ok().map(IntOrPercent::Int),
        },
        _ => None,
    }
}

/// What a budget allows.
enum Budget {
    /// No eviction is allowed, and why.
    Blocks(String),
    /// At least one eviction is allowed (or it covers no pods).
    Allows,
    /// Not known, and why.
    Unknown(String),
}

/// Judges one PodDisruptionBudget. `pods`: the number of pods its selector matches, when known.
/// The status is the disruption controller's own arithmetic
/// (kubernetes/kubernetes `pkg/controller/disruption/disruption.go`: `disruptionsAllowed =
/// currentHealthy − desiredHealthy`, 0 when no pods are expected); the spec is judged when it
/// refuses whatever the status says (`maxUnavailable: 0`, `minAvailable: 100%`) or against the
/// pod count (an integer `minAvailable` of at least the pods; a percentage rounded up, as the
/// controller does).
fn judge(pdb: &Value, pods: Option<i64>) -> Budget {
    let status = pdb.get("status").and_then(Value::as_object);
    let field = |k: &str| status.and_then(|s| s.get(k)).and_then(Value::as_i64);
    let has_status =
        ["disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"].iter().any(|k| field(k).is_some());
    let (allowed, current, desired, expected) = (
        field("disruptionsAllowed").unwrap_or(0),
        field("currentHealthy").unwrap_or(0),
        field("desiredHealthy").unwrap_or(0),
        field("expectedPods").unwrap_or(0),
    );
    let count = if has_status { Some(expected) } else { pods };
    let mut reasons = Vec::new();
    match (pdb.pointer("/spec/maxUnavailable"), pdb.pointer("/spec/minAvailable")) {
        (Some(mu), _) if !mu.is_null() => match int_or_percent(mu) {
            Some(IntOrPercent::Int(0) | IntOrPercent::Percent(0)) => {
                reasons.push(format!("maxUnavailable: {mu} never allows an eviction"));
            }
            Some(_) => {}
            None => return Budget::Unknown(format!("spec.maxUnavailable {mu} is neither an integer nor a percentage")),
        },
        (_, Some(ma)) if !ma.is_null() => match (int_or_percent(ma), count) {
            (Some(IntOrPercent::Percent(p)), _) if p >= 100 => {
                reasons.push(format!("minAvailable: {ma} never allows an eviction"));
            }
            (Some(IntOrPercent::Int(n)), Some(c)) if c > 0 && n >= c => {
                reasons.push(format!("minAvailable: {n} with {c} pod(s)"));
            }
            (Some(IntOrPercent::Percent(p)), Some(c)) if c > 0 && (p * c + 99) / 100 >= c => {
                reasons.push(format!("minAvailable: {ma} of {c} pod(s) rounds up to all of them"));
            }
            (Some(_), _) => {}
            (None, _) => {
                return Budget::Unknown(format!("spec.minAvailable {ma} is neither an integer nor a percentage"));
            }
        },
        _ => {}
    }
    if count == Some(0) {
        return Budget::Allows;
    }
    // Zero allowed with every required pod healthy is the budget; below that it is an outage
    // (`unavailable-workloads`), which the budget only makes visible.
    if reasons.is_empty() && has_status && allowed <= 0 && expected > 0 && current >= desired {
        reasons.push(format!(
            "status: {allowed} disruptions allowed, {current} of {expected} pod(s) healthy, {desired} required"
        ));
    }
    if !reasons.is_empty() {
        if count.is_none() {
            return Budget::Unknown("its spec refuses evictions, but whether it covers any pod is unknown".to_string());
        }
        return Budget::Blocks(reasons.join("; "));
    }
    if has_status || count.is_some() {
        Budget::Allows
    } else {
        Budget::Unknown("it has no status and its pods could not be counted".to_string())
    }
}

/// Budgets whose controller lifts them during a drain by design, and who.
fn managed_by(pdb: &Object, v: &Value) -> Option<&'static str> {
    // KubeVirt's disruption-budget controller owns one per VMI; evicting the VM's pod starts a
    // live migration (kubevirt/kubevirt pkg/virt-controller/watch/drain/disruptionbudget).
    if pdb.owner().is_some_and(|(gk, _)| gk.group == "kubevirt.io" && gk.kind == "VirtualMachineInstance") {
        return Some("KubeVirt (evicting a VM's pod live-migrates it)");
    }
    // Longhorn's instance-manager budgets are deleted once the node's volumes are safe
    // elsewhere, by its node drain policy (longhorn/longhorn-manager
    // controller/instance_manager_controller.go).
    if v.pointer("/spec/selector/matchLabels/longhorn.io~1component").and_then(Value::as_str)
        == Some("instance-manager")
    {
        return Some("Longhorn (lifted by its node drain policy)");
    }
    None
}

/// The workload a pod belongs to: its controller, a ReplicaSet's Deployment (from the
/// ReplicaSet when captured, else from the Deployment controller's naming,
/// `<deployment>-<pod-template-hash>`), or the pod itself.
fn workload_of(inv: &Inventory, pod: &Object, v: &Value) -> ObjectRef {
    let ns = pod.namespace.as_deref();
    let Some(owner) = crate::inventory::controller_ref(v) else { return pod.obj_ref() };
    let s = |k: &str| owner.get(k).and_then(Value::as_str).unwrap_or_default();
    let (api_version, kind, name) = (s("apiVersion"), s("kind"), s("name"));
    if kind == "ReplicaSet" {
        if let Some(rs) = inv.get(&GroupKind::new("apps", "ReplicaSet"), ns, name)
            && let Some((gk, parent)) = rs.owner()
        {
            return ObjectRef::named(&gk.kind, ns, parent, if gk.group.is_empty() { "v1" } else { "apps/v1" });
        }
        let hash = v.pointer("/metadata/labels/pod-template-hash").and_then(Value::as_str);
        if let Some(deployment) = hash.and_then(|h| name.strip_suffix(h)).and_then(|n| n.strip_suffix('-'))
            && !deployment.is_empty()
        {
            return ObjectRef::named("Deployment", ns, deployment, "apps/v1");
        }
    }
    ObjectRef::named(kind, ns, name, api_version)
}

/// A pod's `metadata.labels`.
type Labels = BTreeMap<String, String>;

/// `pdb-blocks-drain`.
pub(crate) fn pdb_blocks_drain(inv: &Inventory) -> Result<Judged, String> {
    let gk = pdb_gk();
    let budgets = match inv.state(&gk) {
        KindView::Failed(r) => return Err(format!("cannot read {gk}: {r}")),
        KindView::Collected(b) => b,
        KindView::Absent => return Ok(Judged::default()),
    };
    let pods = pods(inv);
    // Pods by namespace; their labels are read only for the namespaces a budget selects in,
    // once each, and only the labels are kept (a parsed pod costs about ten times its text:
    // holding every parsed pod took 2.4 GB on a 315 MB capture).
    let mut by_ns: BTreeMap<Option<&str>, Vec<&Object>> = BTreeMap::new();
    if let Ok(pods) = &pods {
        for p in *pods {
            by_ns.entry(p.namespace.as_deref()).or_default().push(p);
        }
    }
    let mut labelled: BTreeMap<Option<&str>, Vec<(&Object, Labels)>> = BTreeMap::new();
    let mut out = Judged::default();
    let mut managed: BTreeMap<&str, usize> = BTreeMap::new();
    for pdb in budgets {
        let v = pdb.value();
        if let Some(who) = managed_by(pdb, &v) {
            *managed.entry(who).or_default() += 1;
            continue;
        }
        // policy/v1: a null selector selects no pods, an empty one every pod of the namespace;
        // policy/v1beta1: an empty one selects none.
        let selector = v.pointer("/spec/selector").filter(|s| !s.is_null());
        let empty = selector.and_then(Value::as_object).is_some_and(serde_json::Map::is_empty);
        let covered: Result<Vec<&Object>, String> = match (&pods, selector) {
            (Err(why), _) => Err(why.clone()),
            (Ok(_), None) => Ok(Vec::new()),
            (Ok(_), Some(_)) if empty && pdb.api_version != "policy/v1" => Ok(Vec::new()),
            (Ok(_), Some(sel)) => {
                let ns = pdb.namespace.as_deref();
                let in_ns = labelled.entry(ns).or_insert_with(|| {
                    by_ns.get(&ns).into_iter().flatten().map(|p| (*p, p.labels().unwrap_or_default())).collect()
                });
                let mut hit = Vec::new();
                for (pod, labels) in in_ns.iter() {
                    match selects(sel, labels) {
                        Ok(true) => hit.push(*pod),
                        Ok(false) => {}
                        Err(e) => {
                            out.unknown.push(format!("{}: {e}", pdb.obj_ref()));
                            break;
                        }
                    }
                }
                Ok(hit)
            }
        };
        let count = covered.as_ref().ok().map(|c| i64::try_from(c.len()).unwrap_or(i64::MAX));
        match judge(&v, count) {
            Budget::Allows => {}
            Budget::Unknown(why) => out.unknown.push(format!("{}: {why}", pdb.obj_ref())),
            Budget::Blocks(why) => {
                let (workloads, covering) = match &covered {
                    Ok(c) => {
                        let set: BTreeSet<ObjectRef> = c.iter().map(|p| workload_of(inv, p, &p.value())).collect();
                        let names: Vec<String> = set.iter().map(ObjectRef::identity).collect();
                        let text = if names.is_empty() {
                            "its pods (not among the Pods read)".to_string()
                        } else {
                            names.join(", ")
                        };
                        (set.into_iter().collect::<Vec<_>>(), text)
                    }
                    Err(e) => (Vec::new(), format!("pods whose workload could not be resolved ({e})")),
                };
                let mut objects = vec![pdb.obj_ref()];
                objects.extend(workloads);
                out.hits.push(Hit {
                    objects,
                    message: format!(
                        "{} covers {covering} and allows no eviction ({why}): draining a node that runs one of its pods waits until the budget changes",
                        pdb.obj_ref()
                    ),
                    severity: None,
                });
            }
        }
    }
    out.notes = managed.into_iter().map(|(who, n)| format!("{n} budget(s) managed by {who} not judged")).collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn label_selectors() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(selects(&json!({"matchLabels": {"app": "web"}}), &l).unwrap());
        assert!(!selects(&json!({"matchLabels": {"app": "db"}}), &l).unwrap());
        assert!(selects(&json!({}), &l).unwrap());
        let expr = |op: &str, values: &[&str]| json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]});
        assert!(selects(&expr("In", &["front", "back"]), &l).unwrap());
        assert!(!selects(&expr("NotIn", &["front"]), &l).unwrap());
        assert!(selects(&expr("Exists", &[]), &l).unwrap());
        assert!(!selects(&expr("DoesNotExist", &[]), &l).unwrap());
        assert!(selects(&expr("Gt", &[]), &l).is_err());
    }

    fn verdict(pdb: &Value, pods: Option<i64>) -> String {
        match judge(pdb, pods) {
            Budget::Blocks(why) => format!("blocks: {why}"),
            Budget::Allows => "allows".to_string(),
            Budget::Unknown(why) => format!("unknown: {why}"),
        }
    }

    #[test]
    fn budgets() {
        // The real Longhorn csi-attacher budget (minAvailable 1 of 3 healthy): 2 allowed.
        let status = |a: i64, c: i64, d: i64, e: i64| json!({"disruptionsAllowed": a, "currentHealthy": c, "desiredHealthy": d, "expectedPods": e});
        assert_eq!(verdict(&json!({"spec": {"minAvailable": 1}, "status": status(2, 3, 1, 3)}), None), "allows");
        assert_eq!(
            verdict(&json!({"spec": {"minAvailable": 1}, "status": status(0, 1, 1, 1)}), None),
            "blocks: minAvailable: 1 with 1 pod(s)"
        );
        // The status alone: one pod of three is down and the budget allows no second one.
        assert_eq!(
            verdict(&json!({"spec": {"maxUnavailable": 1}, "status": status(0, 2, 2, 3)}), None),
            "blocks: status: 0 disruptions allowed, 2 of 3 pod(s) healthy, 2 required"
        );
        // An outage, not the budget: one of two pods is down.
        assert_eq!(verdict(&json!({"spec": {"minAvailable": 1}, "status": status(0, 0, 1, 2)}), None), "allows");
        assert_eq!(
            verdict(&json!({"spec": {"maxUnavailable": 0}}), Some(3)),
            "blocks: maxUnavailable: 0 never allows an eviction"
        );
        assert!(verdict(&json!({"spec": {"maxUnavailable": "0%"}}), Some(3)).starts_with("blocks"));
        assert_eq!(verdict(&json!({"spec": {"maxUnavailable": "10%"}}), Some(3)), "allows");
        assert!(verdict(&json!({"spec": {"minAvailable": "100%"}}), Some(2)).starts_with("blocks"));
        // 90% of 3 rounds up to 3, as the disruption controller computes it.
        assert_eq!(
            verdict(&json!({"spec": {"minAvailable": "90%"}}), Some(3)),
            "blocks: minAvailable: \"90%\" of 3 pod(s) rounds up to all of them"
        );
        assert_eq!(verdict(&json!({"spec": {"minAvailable": "50%"}}), Some(3)), "allows");
        assert_eq!(verdict(&json!({"spec": {"minAvailable": 2}}), Some(3)), "allows");
        assert!(verdict(&json!({"spec": {"minAvailable": 5}}), Some(3)).starts_with("blocks"));
        // Covering no pods, nothing to evict.
        assert_eq!(verdict(&json!({"spec": {"maxUnavailable": 0}}), Some(0)), "allows");
        assert_eq!(verdict(&json!({"spec": {"maxUnavailable": 0}, "status": status(0, 0, 0, 0)}), None), "allows");
        // No status and no pods: never a pass.
        assert!(verdict(&json!({"spec": {"minAvailable": 1}}), None).starts_with("unknown"));
        assert!(verdict(&json!({"spec": {"maxUnavailable": 0}}), None).starts_with("unknown"));
        assert!(verdict(&json!({"spec": {"minAvailable": "half"}}), Some(2)).starts_with("unknown"));
    }
}
