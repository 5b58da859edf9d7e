//! Draining nodes, which every Kubernetes, RKE2, K3s and Harvester upgrade does node by node:
//! PodDisruptionBudgets that refuse every eviction (`pdb-blocks-drain`, in [`pdb`]) and whether
//! the pods of the busiest node fit on the others (`drain-capacity`, in [`capacity`]). Built-in
//! evaluators, called from `eval::builtins`; what they read is declared in
//! `catalog::builtin_def`.
//!
//! Layer: eval. Imports the inventory, the ground layer and `eval`'s own helpers.

mod capacity;
mod pdb;

pub(super) use capacity::drain_capacity;
pub(super) use pdb::pdb_blocks_drain;

use serde_json::Value;

use crate::inventory::{Inventory, KindView, Object};
use crate::resource::GroupKind;

/// The Pods of the inventory, or why they are not known: not readable, or a capture that
/// holds none (which proves nothing about the cluster).
pub(super) fn pods(inv: &Inventory) -> Result<&[Object], String> {
    let gk = GroupKind::new("", "Pod");
    match inv.state(&gk) {
        KindView::Failed(r) => Err(format!("cannot read Pods: {r}")),
        KindView::Collected(p) if p.is_empty() && inv.unknown_if_empty(&gk) => {
            Err("the input holds no Pods: they were not captured".to_string())
        }
        KindView::Collected(p) => Ok(p),
        KindView::Absent => Err("the cluster serves no Pods".to_string()),
    }
}

/// True for a pod that has finished (Succeeded or Failed): it holds no resources.
pub(super) fn terminated(pod: &Value) -> bool {
    matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"))
}
