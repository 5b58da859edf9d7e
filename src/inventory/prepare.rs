//! Ingesting in two steps, so a reader can prepare many objects at once on several threads:
//! [`Inventory::prepare`] does the costly work that does not touch the inventory (decoding a
//! Helm release, projecting, normalising, serialising), [`Inventory::commit`] adds the result
//! in order. Together they are exactly [`Inventory::ingest`].
//!
//! Layer: inventory. Imports the inventory's objects and the ground layer.

use std::collections::BTreeMap;

use serde_json::Value;

use super::notes::latest_timestamp;
use super::{Inventory, Object, projection, str_at};
use crate::resource::GroupKind;

/// One object made ready by [`Inventory::prepare`], to be added by [`Inventory::commit`].
#[derive(Debug)]
pub struct Prepared {
    /// Read from a cluster (it has `status` or server-set metadata).
    captured: bool,
    /// Its latest timestamp, for a Pod, Node or Event.
    latest: Option<String>,
    /// The `HelmRelease` it stores, for a Helm release Secret or ConfigMap.
    release: Option<Result<Object, String>>,
    /// The object, projected and normalised; `Err` names the missing identity field.
    object: Result<Object, String>,
}

impl Inventory {
    /// The work of [`Inventory::ingest`] that does not touch the inventory (decoding a Helm
    /// release, projecting with `projection`, normalising, serialising), so that a reader can
    /// prepare many objects at once on several threads and [`Inventory::commit`] them in order.
    #[must_use]
    pub fn prepare(projection: Option<&BTreeMap<GroupKind, projection::Keep>>, value: Value) -> Prepared {
        let captured = value.get("status").is_some()
            || ["uid", "resourceVersion", "creationTimestamp"]
                .iter()
                .any(|k| value.get("metadata").and_then(|m| m.get(*k)).is_some());
        let latest = latest_timestamp(&value).map(ToString::to_string);
        let release = crate::inventory::helm::release_object(&value).map(Object::from_value);
        let mut value = value;
        if let Some(p) = projection {
            let gk = GroupKind::from_api_version(
                str_at(&value, &["apiVersion"]).unwrap_or_default(),
                str_at(&value, &["kind"]).unwrap_or_default(),
            );
            // Release objects a snapshot already holds are data, not a kind rules select on;
            // and an owned Pod keeps its spec, since its owner may not be in the snapshot
            // (then it is judged itself).
            if gk != crate::inventory::helm::group_kind() {
                match p.get(&gk) {
                    Some(keep) => keep.apply(&mut value, false),
                    None => projection::Keep::default().apply(&mut value, false),
                }
            }
        }
        Prepared { captured, latest, release, object: Object::from_value(value) }
    }

    /// Adds what [`Inventory::prepare`] made of one object: exactly what
    /// [`Inventory::ingest`] would have added.
    pub fn commit(&mut self, prepared: Prepared) -> Result<(), String> {
        let Prepared { captured, latest, release, object } = prepared;
        self.captured |= captured;
        if let Some(t) = latest
            && self.latest_seen.as_ref().is_none_or(|l| t > *l)
        {
            self.latest_seen = Some(t);
        }
        if let Some(rel) = release {
            self.push(rel?);
        }
        self.push(object?);
        Ok(())
    }
}
