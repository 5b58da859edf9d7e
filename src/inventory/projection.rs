//! Field projection: per kind, the parts of an object the enabled rules read, so the live
//! inventory holds only those. `apiVersion`, `kind` and `metadata` are always kept.
//!
//! Paths come from what each consumer declares: CEL rules by their field selections on
//! `object` (read from the compiled expression: `object.status.containerStatuses.exists(…)`
//! keeps `status.containerStatuses`; a bare `object` keeps everything), built-in evaluators
//! and detection sources by the fields they read. Paths needed only for objects without an
//! owner (built-ins skip Pods and Jobs owned by a controller) are kept only for those.

use std::collections::BTreeSet;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use serde_json::{Map, Value};

/// A path below the object root, e.g. `["status", "containerStatuses"]`.
pub type Path = Vec<String>;

/// What to keep of one kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keep {
    /// Keep the whole object.
    pub all: bool,
    /// Paths kept for every object.
    pub paths: BTreeSet<Path>,
    /// Paths kept only for objects no pod controller owns (see [`stood_for`]): a live run
    /// leaves them out of the Pods a ReplicaSet, StatefulSet or DaemonSet owns, which are
    /// judged through their owner.
    pub unowned_paths: BTreeSet<Path>,
}

/// True when the object's controller (else its first owner) is a StatefulSet, a DaemonSet,
/// or a ReplicaSet of a Deployment (the Pod carries the `pod-template-hash` label the
/// Deployment controller sets): a controller whose pod template the checks judge in the
/// Pod's place, and which a live run lists whenever those checks run. Pods of anything else
/// (a Job, an Argo Rollouts or standalone ReplicaSet, a KubeVirt VirtualMachineInstance, any
/// custom resource) are judged themselves, as in a snapshot, so they keep their
/// [`Keep::unowned_paths`] in a live run too.
#[must_use]
pub fn stood_for(value: &Value) -> bool {
    let Some(owner) = super::controller_ref(value) else { return false };
    let group = owner.get("apiVersion").and_then(Value::as_str).and_then(|a| a.split_once('/')).map(|(g, _)| g);
    let kind = owner.get("kind").and_then(Value::as_str).unwrap_or_default();
    let of_deployment = || value.pointer("/metadata/labels/pod-template-hash").is_some();
    matches!(group, Some("apps" | "extensions"))
        && match kind {
            "StatefulSet" | "DaemonSet" => true,
            "ReplicaSet" => of_deployment(),
            _ => false,
        }
}

impl Keep {
    /// Everything.
    #[must_use]
    pub fn all() -> Self {
        Self { all: true, ..Self::default() }
    }

    /// These dot paths, for every object.
    #[must_use]
    pub fn paths(paths: &[&str]) -> Self {
        Self { paths: paths.iter().map(|p| split(p)).collect(), ..Self::default() }
    }

    /// This one annotation (its key may hold dots), for every object.
    #[must_use]
    pub fn annotation(key: &str) -> Self {
        let path = vec!["metadata".to_string(), "annotations".to_string(), key.to_string()];
        Self { paths: BTreeSet::from([path]), ..Self::default() }
    }

    /// These dot paths, only for objects without an owner.
    #[must_use]
    pub fn unowned(paths: &[&str]) -> Self {
        Self { unowned_paths: paths.iter().map(|p| split(p)).collect(), ..Self::default() }
    }

    /// Union of two requirements.
    pub fn merge(&mut self, other: &Keep) {
        self.all |= other.all;
        self.paths.extend(other.paths.iter().cloned());
        self.unowned_paths.extend(other.unowned_paths.iter().cloned());
    }

    /// Reduces `value` to what is kept; `owned`: a pod controller stands for it
    /// ([`stood_for`]), so its `unowned_paths` are not kept.
    pub fn apply(&self, value: &mut Value, owned: bool) {
        if self.all {
            return;
        }
        let Some(obj) = value.as_object_mut() else { return };
        let mut kept = Map::new();
        for k in ["apiVersion", "kind", "metadata"] {
            if let Some(v) = obj.remove(k) {
                kept.insert(k.to_string(), v);
            }
        }
        let extra = if owned { None } else { Some(&self.unowned_paths) };
        for path in self.paths.iter().chain(extra.into_iter().flatten()) {
            copy_path(obj, &mut kept, path);
        }
        // Annotations can be large (a full copy of the object, a bundle of certificates) and
        // most rules never look at them: keep only those a rule reads. Labels stay (selectors
        // match on them, and the API server bounds them to 63-character values).
        let paths: Vec<&Path> = self.paths.iter().chain(extra.into_iter().flatten()).collect();
        // `metadata` or `metadata.annotations` as a whole (a CEL rule reading them).
        let all_annotations = paths.iter().any(|p| {
            p.first().is_some_and(|f| f == "metadata") && p.len() <= 2 && p.get(1).is_none_or(|s| s == "annotations")
        });
        if !all_annotations && let Some(meta) = kept.get_mut("metadata").and_then(Value::as_object_mut) {
            let wanted: Vec<&String> = paths
                .iter()
                .filter(|p| p.len() >= 3 && p[0] == "metadata" && p[1] == "annotations")
                .map(|p| &p[2])
                .collect();
            if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                ann.retain(|k, _| wanted.contains(&k));
            }
            if meta.get("annotations").and_then(Value::as_object).is_none_or(Map::is_empty) {
                meta.remove("annotations");
            }
        }
        *value = Value::Object(kept);
    }
}

fn split(p: &str) -> Path {
    p.split('.').filter(|s| !s.is_empty()).map(ToString::to_string).collect()
}

/// Moves the subtree at `path` from `src` into `dst`, creating parents. A `[]` segment
/// after a list keeps, of each item, what the rest of the path names
/// (`spec.containers.[].resources` keeps every container's `resources` only); the list
/// stays in `src` for shorter paths that keep it whole.
fn copy_path(src: &mut Map<String, Value>, dst: &mut Map<String, Value>, path: &[String]) {
    let Some((head, rest)) = path.split_first() else { return };
    if let Some((each, item_path)) = rest.split_first()
        && each == "[]"
    {
        if let Some(Value::Array(items)) = src.get(head) {
            let projected: Vec<Value> = items
                .iter()
                .map(|item| match item {
                    Value::Object(m) if !item_path.is_empty() => {
                        let mut m = m.clone();
                        let mut kept = Map::new();
                        copy_path(&mut m, &mut kept, item_path);
                        Value::Object(kept)
                    }
                    other => other.clone(),
                })
                .collect();
            match dst.get_mut(head) {
                Some(existing) => merge_into(existing, Value::Array(projected)),
                None => {
                    dst.insert(head.clone(), Value::Array(projected));
                }
            }
        }
        return;
    }
    if rest.is_empty() {
        if let Some(v) = src.remove(head) {
            match dst.get_mut(head) {
                // Part of this subtree was moved by a longer path: put the rest beside it.
                Some(existing) => merge_into(existing, v),
                None => {
                    dst.insert(head.clone(), v);
                }
            }
        }
        return;
    }
    match src.get_mut(head) {
        Some(Value::Object(child)) => {
            let entry = dst.entry(head.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(dchild) = entry {
                copy_path(child, dchild, rest);
            }
        }
        // A list or scalar cannot be split further: keep it whole.
        Some(_) => {
            if let Some(v) = src.remove(head) {
                dst.entry(head.clone()).or_insert(v);
            }
        }
        None => {}
    }
}

/// Adds to `dst` what `src` has and `dst` lacks (both parts of the same original subtree;
/// lists item by item, as `[]` paths keep a part of every item).
fn merge_into(dst: &mut Value, src: Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                match d.get_mut(&k) {
                    Some(existing) => merge_into(existing, v),
                    None => {
                        d.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) if d.len() == s.len() => {
            for (x, y) in d.iter_mut().zip(s) {
                merge_into(x, y);
            }
        }
        _ => {}
    }
}

/// Field paths a CEL expression reads from `object`; `Keep::all()` when it uses `object`
/// as a whole.
#[must_use]
pub fn cel_paths(expr: &IdedExpr) -> Keep {
    let mut keep = Keep::default();
    walk(expr, &mut keep);
    keep
}

fn walk(e: &IdedExpr, keep: &mut Keep) {
    match &e.expr {
        Expr::Ident(name) if name == "object" => keep.all = true,
        Expr::Select(sel) => {
            let mut fields = vec![sel.field.clone()];
            let mut cur = &*sel.operand;
            loop {
                match &cur.expr {
                    Expr::Select(inner) => {
                        fields.push(inner.field.clone());
                        cur = &inner.operand;
                    }
                    Expr::Ident(name) if name == "object" => {
                        fields.reverse();
                        keep.paths.insert(fields);
                        return;
                    }
                    _ => {
                        walk(cur, keep);
                        return;
                    }
                }
            }
        }
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                walk(t, keep);
            }
            for a in &c.args {
                walk(a, keep);
            }
        }
        Expr::Comprehension(c) => {
            for x in [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                walk(x, keep);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(|x| walk(x, keep)),
        Expr::Map(m) => {
            for entry in &m.entries {
                match &entry.expr {
                    EntryExpr::MapEntry(me) => {
                        walk(&me.key, keep);
                        walk(&me.value, keep);
                    }
                    EntryExpr::StructField(sf) => walk(&sf.value, keep),
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(sf) = &entry.expr {
                    walk(&sf.value, keep);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths_of(src: &str) -> Keep {
        let env = cel::Env::stdlib();
        cel_paths(env.compile(src).unwrap().expression())
    }

    #[test]
    fn cel_paths_follow_selections_on_object() {
        let k =
            paths_of("has(object.status) && object.status.containerStatuses.exists(c, c.ready) && object.spec.x == 1");
        assert!(!k.all);
        let got: Vec<String> = k.paths.iter().map(|p| p.join(".")).collect();
        assert_eq!(got, ["spec.x", "status", "status.containerStatuses"]);
        assert!(paths_of("size(object) > 0").all);
        assert!(paths_of("object.kind == 'Pod' && object.status['phase'] == 'x'").paths.contains(&split("status")));
    }

    #[test]
    fn annotations_no_rule_reads_are_dropped() {
        let big = "x".repeat(1 << 20);
        let obj = json!({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "p", "labels": {"app": "a"},
                                      "annotations": {"huge": big, "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
                         "spec": {"nodeName": "n"}});
        let mut v = obj.clone();
        Keep::paths(&["spec"]).apply(&mut v, false);
        assert_eq!(v["metadata"], json!({"name": "p", "labels": {"app": "a"}}), "labels kept, annotations gone");
        let mut v = obj.clone();
        Keep::annotation("kubectl.kubernetes.io/last-applied-configuration").apply(&mut v, false);
        assert_eq!(v["metadata"]["annotations"], json!({"kubectl.kubernetes.io/last-applied-configuration": "{}"}));
        // A CEL rule reading `object.metadata.annotations` keeps them all.
        let mut v = obj.clone();
        Keep::paths(&["metadata.annotations"]).apply(&mut v, false);
        assert_eq!(v["metadata"]["annotations"]["huge"].as_str().map(str::len), Some(1 << 20));
        let mut v = obj.clone();
        Keep::all().apply(&mut v, false);
        assert_eq!(v, obj);
    }

    #[test]
    fn only_pods_of_deployments_statefulsets_and_daemonsets_are_stood_for() {
        let pod = |owners: Value, hash: bool| {
            let mut p =
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "ownerReferences": owners}});
            if hash {
                p["metadata"]["labels"] = json!({"pod-template-hash": "5d8f9c"});
            }
            p
        };
        let owner = |av: &str, kind: &str, controller: bool| json!({"apiVersion": av, "kind": kind, "name": "o", "controller": controller});
        for (av, kind, hash) in [
            ("apps/v1", "ReplicaSet", true),
            ("extensions/v1beta1", "ReplicaSet", true),
            ("apps/v1", "StatefulSet", false),
            ("apps/v1", "DaemonSet", false),
        ] {
            assert!(stood_for(&pod(json!([owner(av, kind, true)]), hash)), "{kind}");
        }
        for (av, kind, hash) in [
            // A ReplicaSet no Deployment made (standalone, Argo Rollouts).
            ("apps/v1", "ReplicaSet", false),
            ("batch/v1", "Job", false),
            ("kubevirt.io/v1", "VirtualMachineInstance", false),
            ("example.com/v1", "ReplicaSet", true),
        ] {
            assert!(!stood_for(&pod(json!([owner(av, kind, true)]), hash)), "{av} {kind}");
        }
        // The controller decides, not the first reference.
        let refs =
            json!([owner("apps/v1", "DaemonSet", false), owner("kubevirt.io/v1", "VirtualMachineInstance", true)]);
        assert!(!stood_for(&pod(refs, false)));
        assert!(!stood_for(&pod(json!([]), false)));
        assert!(!stood_for(&json!({"metadata": {"name": "p"}})));
    }

    #[test]
    fn apply_keeps_metadata_and_paths_only() {
        let mut v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [1], "volumes": [2]}, "status": {"phase": "Running", "conditions": [3], "hostIP": "x"}});
        let mut keep = Keep::paths(&["status.phase", "status.containerStatuses"]);
        keep.merge(&Keep::unowned(&["spec"]));
        let mut owned = v.clone();
        keep.apply(&mut owned, true);
        assert_eq!(
            owned,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"phase": "Running"}})
        );
        keep.apply(&mut v, false);
        assert_eq!(v["spec"], json!({"containers": [1], "volumes": [2]}));
        assert_eq!(v["status"], json!({"phase": "Running"}));
        let mut whole = json!({"a": {"b": 1, "c": 2}, "metadata": {}});
        let k = Keep::paths(&["a", "a.b"]);
        k.apply(&mut whole, true);
        assert_eq!(whole["a"], json!({"b": 1, "c": 2}), "a shorter path keeps the whole subtree");
        // A longer path for every object and a shorter one for unowned objects: nothing lost.
        let mut v = json!({"metadata": {}, "status": {"phase": "Running", "hostIP": "x"}});
        let mut k = Keep::paths(&["status.phase"]);
        k.merge(&Keep::unowned(&["status"]));
        k.apply(&mut v, false);
        assert_eq!(v["status"], json!({"phase": "Running", "hostIP": "x"}));
        Keep::all().apply(&mut whole, true);
    }

    #[test]
    fn list_items_keep_only_the_named_part() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "volumes": [{"name": "v"}], "containers": [
                {"name": "a", "env": [{"name": "X", "value": "1"}], "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}},
                {"name": "b", "image": "b:1"}]}});
        let keep = Keep::paths(&["spec.nodeName", "spec.containers.[].resources.requests"]);
        let mut owned = pod.clone();
        keep.apply(&mut owned, true);
        assert_eq!(
            owned["spec"],
            json!({"nodeName": "n1", "containers": [{"resources": {"requests": {"cpu": "1"}}}, {}]})
        );
        // A shorter path kept for unowned objects brings the whole list back, item by item.
        let mut k = keep.clone();
        k.merge(&Keep::unowned(&["spec"]));
        let mut bare = pod.clone();
        k.apply(&mut bare, false);
        assert_eq!(bare["spec"], pod["spec"]);
        // And one kept for every object wins outright.
        let mut k = keep.clone();
        k.merge(&Keep::paths(&["spec.containers"]));
        let mut v = pod.clone();
        k.apply(&mut v, true);
        assert_eq!(v["spec"]["containers"], pod["spec"]["containers"]);
        // A `[]` over what is not a list keeps nothing of it.
        let mut v = json!({"metadata": {}, "spec": {"containers": {"a": 1}}});
        keep.apply(&mut v, true);
        assert!(v["spec"].get("containers").is_none(), "{v}");
    }
}
