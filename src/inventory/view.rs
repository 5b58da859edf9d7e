//! A partial view: the namespaces a run read namespaced kinds in (`check -n`, `snapshot -n`,
//! or a snapshot captured so). Cluster-scoped kinds are read cluster-wide whatever the view.
//!
//! The evidence rule it changes: in a partial view, an object of a namespaced kind that is
//! not in the inventory is *missing* only inside the view. In any other namespace nothing
//! was read, so whether it exists is unknown, and a check that needs to know *could not be
//! evaluated* ([`Lookup::OutsideView`]) — never "does not exist", never a pass.
//!
//! Layer: inventory (part of [`Inventory`]).

use std::collections::BTreeSet;

use super::{Inventory, KindState, Object};
use crate::resource::GroupKind;

/// What the inventory knows about one object.
#[derive(Debug, Clone)]
pub enum Lookup<'a> {
    /// It is there.
    Found(&'a Object),
    /// It is not there, and the inventory would hold it if it existed: it does not exist.
    Missing,
    /// The input holds no object of its kind and does not say it collected the kind (a
    /// snapshot that left it out): whether it exists is unknown.
    NotCaptured,
    /// It would be in a namespace outside the run's view: nothing there was read. The
    /// reason says so, naming the namespace and the view.
    OutsideView(String),
}

impl Inventory {
    /// The namespaces namespaced kinds were read in; `None` for the whole cluster.
    #[must_use]
    pub fn namespaces(&self) -> Option<&BTreeSet<String>> {
        self.namespaces.as_ref()
    }

    /// True when namespaced kinds were read in some namespaces only.
    #[must_use]
    pub fn is_partial(&self) -> bool {
        self.namespaces.is_some()
    }

    /// The view as people read it: `a, b`, or `(none)` for an empty one.
    #[must_use]
    pub fn view_label(&self) -> String {
        match &self.namespaces {
            None => "all namespaces".to_string(),
            Some(ns) if ns.is_empty() => "(none)".to_string(),
            Some(ns) => ns.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
        }
    }

    /// Why objects in namespace `ns` are unknown: `Some` when `ns` is a namespace outside the
    /// view, `None` for a cluster-scoped object (`ns` `None`) or one inside it.
    #[must_use]
    pub fn outside_view(&self, ns: Option<&str>) -> Option<String> {
        let (ns, view) = (ns?, self.namespaces.as_ref()?);
        (!view.contains(ns))
            .then(|| format!("namespace {ns} was not read (this run reads only namespace(s) {})", self.view_label()))
    }

    /// Looks one object up, saying when its absence proves nothing: outside the view, or a
    /// kind a non-authoritative snapshot did not capture (see [`Inventory::unknown_if_empty`]).
    #[must_use]
    pub fn lookup(&self, gk: &GroupKind, namespace: Option<&str>, name: &str) -> Lookup<'_> {
        if let Some(why) = self.outside_view(namespace) {
            return Lookup::OutsideView(why);
        }
        match self.get(gk, namespace, name) {
            Some(o) => Lookup::Found(o),
            None if self.unknown_if_empty(gk) => Lookup::NotCaptured,
            None => Lookup::Missing,
        }
    }

    /// Records that namespaced kinds were read only in `namespaces` (the live source and a
    /// snapshot's `SnapshotInfo` say so). An existing view is narrowed, never widened.
    pub fn set_view(&mut self, namespaces: BTreeSet<String>) {
        self.namespaces = Some(match self.namespaces.take() {
            Some(old) => old.intersection(&namespaces).cloned().collect(),
            None => namespaces,
        });
    }

    /// Limits the inventory to `namespaces`: namespaced objects elsewhere are dropped and the
    /// view is recorded, as if only those namespaces had been read (`check --snapshot -n`).
    /// Cluster-scoped objects stay.
    pub fn restrict(&mut self, namespaces: &BTreeSet<String>) {
        self.set_view(namespaces.clone());
        let Some(view) = self.namespaces.clone() else { return };
        for state in self.kinds.values_mut() {
            if let KindState::Collected(v) = state {
                v.retain(|o| o.namespace.as_ref().is_none_or(|ns| view.contains(ns)));
            }
        }
        self.reindex();
    }

    /// Namespaces that hold at least one object.
    #[must_use]
    pub fn populated_namespaces(&self) -> BTreeSet<&str> {
        self.kinds
            .values()
            .filter_map(|s| if let KindState::Collected(v) = s { Some(v) } else { None })
            .flatten()
            .filter_map(|o| o.namespace.as_deref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Origin;

    fn inv() -> Inventory {
        let mut inv = Inventory::new(Origin::Snapshot("t".into()), true);
        for (kind, ns, name) in
            [("Secret", Some("a"), "s"), ("Secret", Some("c"), "s"), ("Node", None, "n1"), ("Pod", Some("c"), "p")]
        {
            let mut v = serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
            if let Some(ns) = ns {
                v["metadata"]["namespace"] = ns.into();
            }
            inv.ingest(v).unwrap();
        }
        inv.set_state(GroupKind::new("", "ConfigMap"), KindState::Collected(Vec::new()));
        inv.finish();
        inv
    }

    fn view(ns: &[&str]) -> BTreeSet<String> {
        ns.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_whole_cluster_inventory_knows_what_is_missing() {
        let inv = inv();
        assert!(!inv.is_partial());
        let secret = GroupKind::new("", "Secret");
        assert!(matches!(inv.lookup(&secret, Some("c"), "s"), Lookup::Found(_)));
        assert!(matches!(inv.lookup(&secret, Some("c"), "other"), Lookup::Missing));
        assert_eq!(inv.outside_view(Some("zzz")), None);
    }

    #[test]
    fn outside_the_view_nothing_is_missing() {
        let mut inv = inv();
        inv.restrict(&view(&["a", "b"]));
        assert_eq!(inv.view_label(), "a, b");
        let secret = GroupKind::new("", "Secret");
        let cm = GroupKind::new("", "ConfigMap");
        // Inside the view: found, or positively missing.
        assert!(matches!(inv.lookup(&secret, Some("a"), "s"), Lookup::Found(_)));
        assert!(matches!(inv.lookup(&secret, Some("b"), "s"), Lookup::Missing));
        assert!(matches!(inv.lookup(&cm, Some("a"), "x"), Lookup::Missing));
        // Outside it: unknown, even for an object the source had (it was dropped) and for a
        // kind with no object at all.
        for (gk, name) in [(&secret, "s"), (&secret, "other"), (&cm, "x")] {
            match inv.lookup(gk, Some("c"), name) {
                Lookup::OutsideView(why) => {
                    assert_eq!(why, "namespace c was not read (this run reads only namespace(s) a, b)");
                }
                other => panic!("{gk} c/{name}: {other:?}"),
            }
        }
        // Cluster-scoped objects are read cluster-wide.
        let node = GroupKind::new("", "Node");
        assert!(matches!(inv.lookup(&node, None, "n1"), Lookup::Found(_)));
        assert!(matches!(inv.lookup(&node, None, "n2"), Lookup::Missing));
        // Namespaced objects outside the view are gone; cluster-scoped ones stay.
        assert_eq!(inv.objects(&secret).len(), 1);
        assert!(inv.objects(&GroupKind::new("", "Pod")).is_empty());
        assert_eq!(inv.objects(&node).len(), 1);
        assert_eq!(inv.populated_namespaces(), ["a"].into_iter().collect());
    }

    #[test]
    fn a_view_only_narrows() {
        let mut inv = inv();
        inv.set_view(view(&["a", "b"]));
        inv.restrict(&view(&["b", "c"]));
        assert_eq!(inv.view_label(), "b");
        assert!(inv.outside_view(Some("a")).is_some());
        inv.restrict(&view(&["x"]));
        assert_eq!(inv.view_label(), "(none)");
    }
}
