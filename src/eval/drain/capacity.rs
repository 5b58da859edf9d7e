//! `drain-capacity`: whether the evictable pods of each node fit, by their requests, on the
//! other nodes that can take pods; the busiest node that does not is reported. See
//! `checks/drain-capacity.yaml` for what is counted.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{pods, terminated};
use crate::eval::builtins::{Hit, Judged};
use crate::eval::quantity::{self, Milli};
use crate::inventory::{Inventory, KindView, Object};
use crate::resource::{GroupKind, ObjectRef};

/// Requested or allocatable CPU, memory and pod slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Resources {
    cpu: Milli,
    memory: Milli,
    pods: Milli,
}

impl Resources {
    fn add(&mut self, o: Resources) {
        self.cpu += o.cpu;
        self.memory += o.memory;
        self.pods += o.pods;
    }

    fn minus(self, o: Resources) -> Resources {
        Resources {
            cpu: (self.cpu - o.cpu).max(0),
            memory: (self.memory - o.memory).max(0),
            pods: (self.pods - o.pods).max(0),
        }
    }

    /// `1.5 CPU, 2Gi memory`.
    fn show(self) -> String {
        format!("{} CPU, {} memory", quantity::cpu(self.cpu), quantity::memory(self.memory))
    }
}

/// One container's requests of `name`, or `Err` when the quantity does not parse.
fn request(c: &Value, name: &str) -> Result<Milli, String> {
    match c.pointer(&format!("/resources/requests/{name}")).and_then(Value::as_str) {
        None => Ok(0),
        Some(q) => quantity::parse(q).ok_or_else(|| format!("request {name}: '{q}' is not a quantity")),
    }
}

/// What a pod takes on its node, as the scheduler counts it: the larger of its containers
/// (plus restartable init containers, i.e. sidecars) and each init container in turn (plus the
/// sidecars started before it), plus the pod overhead (k8s.io/component-helpers
/// `resource.PodRequests`).
fn pod_requests(pod: &Value) -> Result<Resources, String> {
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let mut total = Resources { pods: 1000, ..Resources::default() };
    for name in ["cpu", "memory"] {
        let mut containers: Milli = 0;
        for c in spec.get("containers").and_then(Value::as_array).into_iter().flatten() {
            containers += request(c, name)?;
        }
        let mut sidecars: Milli = 0;
        let mut init_peak: Milli = 0;
        for c in spec.get("initContainers").and_then(Value::as_array).into_iter().flatten() {
            let r = request(c, name)?;
            if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
                sidecars += r;
                init_peak = init_peak.max(sidecars);
            } else {
                init_peak = init_peak.max(sidecars + r);
            }
        }
        let overhead = match spec.pointer(&format!("/overhead/{name}")).and_then(Value::as_str) {
            None => 0,
            Some(q) => quantity::parse(q).ok_or_else(|| format!("overhead {name}: '{q}' is not a quantity"))?,
        };
        let r = (containers + sidecars).max(init_peak) + overhead;
        match name {
            "cpu" => total.cpu = r,
            _ => total.memory = r,
        }
    }
    Ok(total)
}

/// A node a drained node's pods can go to: schedulable (not cordoned), Ready, and without a
/// `NoSchedule` or `NoExecute` taint (tolerations are not matched: a tainted node counts for
/// no pod). `Err` names what it is not.
fn destination(node: &Value) -> Result<(), &'static str> {
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        return Err("cordoned");
    }
    let ready = node.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten().any(|c| {
        c.get("type").and_then(Value::as_str) == Some("Ready")
            && c.get("status").and_then(Value::as_str) == Some("True")
    });
    if !ready {
        return Err("not Ready");
    }
    let tainted = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|t| matches!(t.get("effect").and_then(Value::as_str), Some("NoSchedule" | "NoExecute")));
    if tainted { Err("tainted NoSchedule/NoExecute") } else { Ok(()) }
}

/// A pod a drain evicts and that needs a place elsewhere: not a DaemonSet's (drain leaves
/// them) and not a static pod's mirror (owned by its Node; not evictable).
fn moves(pod: &Object, v: &Value) -> bool {
    let owner = pod.owner().map(|(gk, _)| gk.kind);
    let mirror = v.pointer("/metadata/annotations/kubernetes.io~1config.mirror").is_some();
    !mirror && !matches!(owner.as_deref(), Some("DaemonSet" | "Node"))
}

/// `drain-capacity`.
pub(crate) fn drain_capacity(inv: &Inventory) -> Result<Judged, String> {
    let node_gk = GroupKind::new("", "Node");
    let nodes = match inv.state(&node_gk) {
        KindView::Failed(r) => return Err(format!("cannot read Nodes: {r}")),
        KindView::Collected(n) if !n.is_empty() => n,
        // No Nodes in plain manifests (a capture without them is `Failed` above): nothing to
        // judge, as for every node check.
        KindView::Collected(_) | KindView::Absent => return Ok(Judged::default()),
    };
    // Every node's free room depends on every pod bound to it, whatever its namespace.
    if inv.is_partial() {
        return Err(format!(
            "it weighs the Pods of every namespace, and this run reads only namespace(s) {}",
            inv.view_label()
        ));
    }
    let pods = pods(inv)?;
    struct NodeUse {
        allocatable: Resources,
        used: Resources,
        movable: Resources,
        movable_pods: usize,
        destination: Result<(), &'static str>,
    }
    let mut by_node: BTreeMap<&str, NodeUse> = BTreeMap::new();
    for n in nodes {
        let v = n.value();
        let alloc = |k: &str| v.pointer(&format!("/status/allocatable/{k}")).and_then(Value::as_str);
        let (Some(cpu), Some(memory)) = (alloc("cpu"), alloc("memory")) else {
            return Err(format!("Node {} has no status.allocatable cpu and memory", n.name));
        };
        let parse =
            |q: &str| quantity::parse(q).ok_or_else(|| format!("Node {}: allocatable '{q}' is not a quantity", n.name));
        let allocatable = Resources {
            cpu: parse(cpu)?,
            memory: parse(memory)?,
            // Kubelet's default is 110 pods.
            pods: alloc("pods").map(parse).transpose()?.unwrap_or(110_000),
        };
        by_node.insert(
            n.name.as_str(),
            NodeUse {
                allocatable,
                used: Resources::default(),
                movable: Resources::default(),
                movable_pods: 0,
                destination: destination(&v),
            },
        );
    }
    for p in pods {
        let v = p.value();
        let Some(node) = v.pointer("/spec/nodeName").and_then(Value::as_str) else { continue };
        if terminated(&v) {
            continue;
        }
        let Some(u) = by_node.get_mut(node) else { continue };
        let r = pod_requests(&v).map_err(|e| format!("{}: {e}", p.obj_ref()))?;
        u.used.add(r);
        if moves(p, &v) {
            u.movable.add(r);
            u.movable_pods += 1;
        }
    }
    let total_alloc = by_node.values().fold(Resources::default(), |mut a, u| {
        a.add(u.allocatable);
        a
    });
    let share = |r: Resources| {
        let f = |x: Milli, of: Milli| if of > 0 { x as f64 / of as f64 } else { 0.0 };
        f(r.cpu, total_alloc.cpu) + f(r.memory, total_alloc.memory)
    };
    // Every node is drained in turn; the busiest that does not fit is reported.
    let mut stuck: Vec<(&str, Resources, usize, Resources, usize)> = Vec::new();
    for (name, u) in &by_node {
        if u.movable_pods == 0 {
            continue;
        }
        let others: Vec<&NodeUse> =
            by_node.iter().filter(|(n, o)| n != &name && o.destination.is_ok()).map(|(_, o)| o).collect();
        let free = others.iter().fold(Resources::default(), |mut a, o| {
            a.add(o.allocatable.minus(o.used));
            a
        });
        let need = u.movable;
        if others.is_empty() || need.cpu > free.cpu || need.memory > free.memory || need.pods > free.pods {
            stuck.push((name, need, u.movable_pods, free, others.len()));
        }
    }
    stuck.sort_by(|a, b| share(b.1).total_cmp(&share(a.1)).then_with(|| a.0.cmp(b.0)));
    let mut out = Judged::default();
    if let Some((name, need, n, free, destinations)) = stuck.first() {
        let excluded: Vec<String> = by_node
            .iter()
            .filter(|(other, _)| other != &name)
            .filter_map(|(other, o)| o.destination.err().map(|why| format!("{other} ({why})")))
            .collect();
        let not_counted =
            if excluded.is_empty() { String::new() } else { format!("; not counted: {}", excluded.join(", ")) };
        let more = match stuck.len() - 1 {
            0 => String::new(),
            k => format!(" ({k} other node(s) do not fit either)"),
        };
        let message = if *destinations == 0 {
            format!(
                "Node {name}: no other node can take pods, so draining it leaves its {n} evictable pod(s) ({}) nowhere to run until it is back{not_counted}{more}",
                need.show()
            )
        } else {
            format!(
                "Node {name}: its {n} evictable pod(s) request {}, more than the other {destinations} schedulable node(s) have free ({}, {} pod slots){not_counted}; a rolling node upgrade stalls there with pods Pending{more}",
                need.show(),
                free.show(),
                free.pods / 1000
            )
        };
        out.hits.push(Hit { objects: vec![ObjectRef::named("Node", None, name, "v1")], message, severity: None });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_requests_count_init_containers_sidecars_and_overhead() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"resources": {"requests": {"cpu": "0.25", "memory": "64Mi"}}}
            ],
            "initContainers": [
                {"resources": {"requests": {"cpu": "2", "memory": "16Mi"}}},
                {"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "32Mi"}}}
            ],
            "overhead": {"cpu": "10m", "memory": "1Mi"}
        }});
        let r = pod_requests(&pod).unwrap();
        // cpu: max(0.5 + 0.1 sidecar, 2 init) + 10m overhead; memory: max(128+32, 16) + 1.
        assert_eq!(r.cpu, 2010);
        assert_eq!(r.memory, 161 * 1024 * 1024 * 1000);
        assert_eq!(r.pods, 1000);
        assert!(
            pod_requests(&json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]}})).is_err()
        );
    }

    #[test]
    fn destinations() {
        let ready = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(destination(&json!({"status": {"conditions": ready}})), Ok(()));
        assert_eq!(
            destination(&json!({"spec": {"unschedulable": true}, "status": {"conditions": ready}})),
            Err("cordoned")
        );
        assert_eq!(
            destination(&json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})),
            Err("not Ready")
        );
        let tainted = json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/master", "effect": "NoSchedule"}]}, "status": {"conditions": ready}});
        assert_eq!(destination(&tainted), Err("tainted NoSchedule/NoExecute"));
        let soft =
            json!({"spec": {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}, "status": {"conditions": ready}});
        assert_eq!(destination(&soft), Ok(()));
    }
}
