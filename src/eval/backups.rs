//! The `backup-age` built-in (check `etcd-backup-age`): is there a recent backup to go back
//! to if the upgrade goes wrong?
//!
//! - **RKE2 and K3s** (a `+rke2rN` / `+k3sN` server version, else such a kubelet version, else
//!   served ETCDSnapshotFiles): the newest *ready* `ETCDSnapshotFile` (k3s.cattle.io/v1,
//!   cluster-scoped) must be younger than `max-age-hours`; none, or only older ones, is a
//!   finding. The fields, from k3s `pkg/apis/k3s.cattle.io/v1/types.go` (read at the
//!   muicoder/k3s mirror @0434509f1dcbb0076964eae885d0bd04a843a27f; the index's copy of
//!   k3s-io/k3s predates the type): `spec.snapshotName`, `spec.nodeName`,
//!   `status.creationTime` ("the timestamp when the snapshot was taken by etcd"),
//!   `status.readyToUse` ("the snapshot is available to be restored"), `status.error.message`.
//!   K3s and RKE2 take scheduled snapshots at 00:00 and 12:00 by default (docs.k3s.io
//!   cli/etcd-snapshot), so a day without one means two missed. On RKE2/K3s an
//!   ETCDSnapshotFile kind that is not served or was not captured makes the check *could not
//!   evaluate*; elsewhere the etcd part does not apply.
//! - **Velero**, when installed (the velero.io `Backup` kind is served, or a Deployment named
//!   `velero` runs): the newest `Backup` with `status.phase == Completed` must have its
//!   `status.completionTimestamp` within `max-age-hours` (vmware-tanzu/velero
//!   `pkg/apis/velero/v1/backup_types.go` @086dbd344fbee7739822dd6e696d0b7aab305873:
//!   `BackupPhaseCompleted = "Completed"`, `CompletionTimestamp`).
//!
//! Neither RKE2/K3s nor Velero: not applicable (without any server or kubelet version, a
//! snapshot that holds no ETCDSnapshotFile kind is taken as not RKE2/K3s, as a custom kind a
//! snapshot does not mention is taken as not served). Ages are measured against the capture time.
//! The findings take the check's severity; `etcd-backup-age` is a gate of the Kubernetes
//! upgrade (`matrices/kubernetes.yaml`), so with `--target kubernetes=…` they are blockers.
//!
//! Layer: eval. Imports the inventory, the catalog and the ground layer.

use serde_json::Value;

use super::builtins::Hit;
use crate::catalog::BackupAge;
use crate::inventory::{Inventory, KindView, Object, epoch_seconds};
use crate::resource::GroupKind;

fn etcd_snapshots() -> GroupKind {
    GroupKind::new("k3s.cattle.io", "ETCDSnapshotFile")
}

fn velero_backups() -> GroupKind {
    GroupKind::new("velero.io", "Backup")
}

/// What the cluster's distribution is, and the evidence.
enum Distribution {
    /// RKE2 or K3s.
    K3sFamily(String),
    /// Something else.
    Other(String),
    /// Not known: no server version and no kubelet version.
    Unknown,
}

fn distribution(inv: &Inventory) -> Distribution {
    let family = |v: &str| v.contains("+rke2") || v.contains("+k3s");
    if let Some(v) = &inv.server_version {
        return if family(v) {
            Distribution::K3sFamily(format!("server version {v}"))
        } else {
            Distribution::Other(format!("server version {v}"))
        };
    }
    let kubelets: Vec<String> = inv
        .objects(&GroupKind::new("", "Node"))
        .iter()
        .filter_map(|n| n.value().pointer("/status/nodeInfo/kubeletVersion").and_then(Value::as_str).map(String::from))
        .collect();
    if let Some(v) = kubelets.iter().find(|v| family(v)) {
        return Distribution::K3sFamily(format!("kubelet version {v}"));
    }
    // Only K3s and RKE2 serve the kind.
    if let KindView::Collected(_) = inv.state(&etcd_snapshots()) {
        return Distribution::K3sFamily("it serves ETCDSnapshotFile".to_string());
    }
    match kubelets.first() {
        Some(v) => Distribution::Other(format!("kubelet version {v}")),
        None => Distribution::Unknown,
    }
}

/// A Deployment that runs Velero: named `velero` (as its Helm chart and `velero install` name it).
fn velero_deployment(inv: &Inventory) -> Option<&Object> {
    inv.objects(&GroupKind::new("apps", "Deployment")).iter().find(|d| d.name == "velero")
}

/// Whether Velero is installed, judged from what was read.
enum Velero<'a> {
    /// Its Backups were read.
    Backups(&'a [Object]),
    /// Not installed: the Backup kind is not served and no Deployment runs it.
    Absent,
}

fn velero(inv: &Inventory) -> Result<Velero<'_>, String> {
    match inv.state(&velero_backups()) {
        KindView::Collected(objs) => Ok(Velero::Backups(objs)),
        KindView::Failed(r) => Err(format!("cannot read {}: {r}", velero_backups())),
        KindView::Absent => match velero_deployment(inv) {
            Some(d) => Err(format!(
                "Velero runs ({}), but its Backups (velero.io) were not served or not captured",
                d.obj_ref()
            )),
            None => Ok(Velero::Absent),
        },
    }
}

/// Why the check does not apply, when it positively does not: the cluster is not RKE2/K3s
/// and Velero is not installed.
pub(super) fn not_applicable(inv: &Inventory) -> Option<String> {
    let not_k3s = match distribution(inv) {
        Distribution::Other(evidence) => format!("not RKE2 or K3s ({evidence})"),
        // As for every custom kind a snapshot does not mention: taken as not served.
        Distribution::Unknown => {
            "no sign of RKE2 or K3s (no server or kubelet version, no ETCDSnapshotFile kind)".to_string()
        }
        Distribution::K3sFamily(_) => return None,
    };
    if !matches!(inv.state(&etcd_snapshots()), KindView::Absent) {
        return None;
    }
    match velero(inv) {
        Ok(Velero::Absent) => Some(format!("{not_k3s}, and Velero is not installed (no velero.io Backup kind)")),
        _ => None,
    }
}

/// `26h`, `3d 2h`.
fn age(secs: i64) -> String {
    let hours = secs / 3600;
    if hours < 48 { format!("{hours}h") } else { format!("{}d {}h", hours / 24, hours % 24) }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The capture time in seconds; `Err` when there is something to date and it is unknown.
fn now(inv: &Inventory) -> Result<i64, String> {
    let t = inv.capture_time().ok_or(
        "the capture time is unknown (the snapshot has no capturedAt and no Pod, Node or Event timestamps), so backup age cannot be judged",
    )?;
    epoch_seconds(&t).ok_or_else(|| format!("the capture time '{t}' is not an RFC 3339 timestamp"))
}

fn etcd(p: BackupAge, inv: &Inventory, evidence: &str, hits: &mut Vec<Hit>) -> Result<(), String> {
    let objs = match inv.state(&etcd_snapshots()) {
        KindView::Collected(objs) => objs,
        KindView::Failed(r) => return Err(format!("cannot read {}: {r}", etcd_snapshots())),
        KindView::Absent => {
            return Err(format!(
                "this is RKE2/K3s ({evidence}), but ETCDSnapshotFile (k3s.cattle.io/v1) was not served or not captured, so the age of its etcd snapshots cannot be read"
            ));
        }
    };
    let now = now(inv)?;
    let max = i64::from(p.max_age_hours) * 3600;
    let mut ready: Vec<(i64, &Object)> = Vec::new();
    let mut undated = 0;
    for o in objs {
        let v = o.value();
        if v.pointer("/status/readyToUse").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        match str_at(&v, "/status/creationTime").and_then(epoch_seconds) {
            Some(t) => ready.push((t, o)),
            None => undated += 1,
        }
    }
    let newest = ready.iter().max_by_key(|(t, o)| (*t, o.name.clone()));
    let describe = |o: &Object| {
        let v = o.value();
        let name = str_at(&v, "/spec/snapshotName").unwrap_or(&o.name).to_string();
        match str_at(&v, "/spec/nodeName") {
            Some(node) => format!("{name} (node {node})"),
            None => name,
        }
    };
    let restore = "an upgrade that goes wrong has no recent etcd snapshot to restore";
    match newest {
        Some((t, o)) if now - t > max => hits.push(Hit {
            objects: vec![o.obj_ref()],
            message: format!(
                "the newest ready etcd snapshot, {}, was taken at {}, {} before the capture (more than {}h): {restore}",
                describe(o),
                str_at(&o.value(), "/status/creationTime").unwrap_or("?"),
                age(now - t),
                p.max_age_hours
            ),
            severity: None,
        }),
        Some(_) => {}
        None if undated > 0 => {
            return Err(format!(
                "{undated} ready ETCDSnapshotFile(s) carry no status.creationTime, so their age cannot be judged"
            ));
        }
        None if objs.is_empty() => hits.push(Hit {
            objects: Vec::new(),
            message: format!(
                "this is RKE2/K3s ({evidence}) and it has no etcd snapshot (no ETCDSnapshotFile): {restore} (a K3s server on SQLite or an external datastore takes none: back that datastore up instead)"
            ),
            severity: None,
        }),
        None => {
            let latest = objs.iter().max_by_key(|o| {
                str_at(&o.value(), "/status/creationTime").and_then(epoch_seconds).unwrap_or(i64::MIN)
            });
            let error = latest
                .and_then(|o| str_at(&o.value(), "/status/error/message").map(|m| m.chars().take(200).collect::<String>()))
                .map(|m| format!(" (the latest reports: {m})"))
                .unwrap_or_default();
            hits.push(Hit {
                objects: latest.map(Object::obj_ref).into_iter().collect(),
                message: format!(
                    "none of the {} etcd snapshots (ETCDSnapshotFile) is ready to use{error}: {restore}",
                    objs.len()
                ),
                severity: None,
            });
        }
    }
    Ok(())
}

fn velero_age(p: BackupAge, inv: &Inventory, backups: &[Object], hits: &mut Vec<Hit>) -> Result<(), String> {
    let now = now(inv)?;
    let max = i64::from(p.max_age_hours) * 3600;
    let newest = backups
        .iter()
        .filter(|b| str_at(&b.value(), "/status/phase") == Some("Completed"))
        .filter_map(|b| str_at(&b.value(), "/status/completionTimestamp").and_then(epoch_seconds).map(|t| (t, b)))
        .max_by_key(|(t, b)| (*t, b.name.clone()));
    let restore = "an upgrade that goes wrong has no recent Velero backup to restore";
    match newest {
        Some((t, b)) if now - t > max => hits.push(Hit {
            objects: vec![b.obj_ref()],
            message: format!(
                "the newest Completed Velero Backup, {}, completed at {}, {} before the capture (more than {}h): {restore}",
                b.obj_ref(),
                str_at(&b.value(), "/status/completionTimestamp").unwrap_or("?"),
                age(now - t),
                p.max_age_hours
            ),
            severity: None,
        }),
        Some(_) => {}
        None => hits.push(Hit {
            objects: velero_deployment(inv).map(Object::obj_ref).into_iter().collect(),
            message: if backups.is_empty() {
                format!("Velero is installed but has no Backup: {restore}")
            } else {
                format!("none of the {} Velero Backups has phase Completed: {restore}", backups.len())
            },
            severity: None,
        }),
    }
    Ok(())
}

/// Runs the check. `Err` means it could not be evaluated, with the reason.
pub(super) fn evaluate(p: BackupAge, inv: &Inventory) -> Result<Vec<Hit>, String> {
    let mut hits = Vec::new();
    let velero = velero(inv)?;
    match distribution(inv) {
        Distribution::K3sFamily(evidence) => etcd(p, inv, &evidence, &mut hits)?,
        Distribution::Other(_) => {}
        // No version says which distribution this is: only a served ETCDSnapshotFile kind
        // would (then it is K3s/RKE2, above); one that cannot be read leaves it open.
        Distribution::Unknown => {
            if let KindView::Failed(r) = inv.state(&etcd_snapshots()) {
                return Err(format!(
                    "cannot read {} ({r}), and no server or kubelet version says whether this is RKE2/K3s",
                    etcd_snapshots()
                ));
            }
        }
    }
    if let Velero::Backups(backups) = velero {
        velero_age(p, inv, backups, &mut hits)?;
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_read_as_hours_then_days() {
        assert_eq!(age(25 * 3600 + 59), "25h");
        assert_eq!(age(47 * 3600), "47h");
        assert_eq!(age(50 * 3600), "2d 2h");
    }
}
