//! The revision Helm is upgrading a release to, decoded whole from the release's storage
//! while the upgrade runs (`check --pending-release`; a pre-upgrade hook sees it as
//! `pending-upgrade`). Unlike [`super::helm::release_object`], which keeps a summary of every
//! revision in the inventory, this takes the newest revision's manifest, upgrade hooks and
//! chart for one run and keeps nothing; the release's values are never read.
//!
//! Part of the inventory layer: imports `helm`'s decoding, the ground layer, nothing else.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::helm::{decode_bytes, driver_of, redact_quoted, shape, split_storage_name};

/// The revision Helm is upgrading a release to, decoded whole from its storage object while
/// the upgrade runs (its pre-upgrade hooks see it as `pending-upgrade`): what `check
/// --pending-release` judges as the planned change. Held only for that run, like a
/// `--manifest` file: never put into an inventory or a snapshot. The release's values
/// (`config`) are not read at all.
#[derive(Debug, Clone)]
pub struct PendingRevision {
    /// Its revision number.
    pub revision: u64,
    /// What the upgrade applies, as `helm template` prints it: the release manifest, then the
    /// manifest of each hook that runs on upgrade (`pre-upgrade`, `post-upgrade`) under Helm's
    /// `# Source:` line.
    pub manifest: String,
    /// `Chart.yaml` `name` of its chart.
    pub chart_name: String,
    /// `Chart.yaml` `version`.
    pub chart_version: Option<String>,
    /// `Chart.yaml` `appVersion`.
    pub app_version: Option<String>,
    /// `Chart.yaml` `kubeVersion`.
    pub kube_version: Option<String>,
    /// The shape of the chart's defaults (see [`shape`]).
    pub chart_values: Value,
    /// The chart's `crds/` files (`.yaml`, `.yml`, `.json`), as (path in the chart, text).
    pub crds: Vec<(String, String)>,
}

/// Why a release has no pending revision to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingError {
    /// No storage object of the release.
    NoRelease,
    /// Its newest revision is not `pending-upgrade`.
    NotPending {
        /// The newest revision.
        revision: u64,
        /// Its status.
        status: String,
    },
    /// Its newest revision does not decode (over a limit, corrupt); the message quotes nothing
    /// of the payload.
    Undecodable {
        /// The newest revision.
        revision: u64,
        /// Why.
        why: String,
    },
}

#[derive(Deserialize)]
struct WholeRelease {
    #[serde(default)]
    version: u64,
    #[serde(default)]
    info: Option<PendingInfo>,
    #[serde(default)]
    chart: Option<WholeChart>,
    #[serde(default)]
    manifest: Option<String>,
    #[serde(default)]
    hooks: Option<Vec<Hook>>,
}

#[derive(Deserialize)]
struct PendingInfo {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ChartMeta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    app_version: Option<String>,
    #[serde(default)]
    kube_version: Option<String>,
}

#[derive(Deserialize, Default)]
struct WholeChart {
    #[serde(default)]
    metadata: Option<ChartMeta>,
    #[serde(default)]
    values: Option<Value>,
    #[serde(default)]
    files: Option<Vec<ChartFile>>,
}

/// A chart file as Helm serialises it: `data` is base64 (Go's `[]byte`).
#[derive(Deserialize)]
struct ChartFile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    data: Option<String>,
}

#[derive(Deserialize)]
struct Hook {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    manifest: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
}

/// The newest revision among `storage` (a release's Secrets or ConfigMaps as listed, payloads
/// included) of release `release`, decoded, when it is `pending-upgrade`. Revisions are ordered
/// by number (the storage label `version`, else the object's name), and only the newest is
/// decoded.
pub fn pending_revision(storage: &[Value], release: &str) -> Result<PendingRevision, PendingError> {
    let newest = storage
        .iter()
        .filter_map(|obj| {
            let driver = driver_of(obj)?;
            let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let label = |k: &str| obj.pointer(&format!("/metadata/labels/{k}")).and_then(Value::as_str);
            let from_name = split_storage_name(name);
            let rel = label("name").or(from_name.map(|(r, _)| r))?;
            let rev = label("version").and_then(|v| v.parse().ok()).or(from_name.map(|(_, v)| v))?;
            (rel == release).then_some((rev, driver, obj))
        })
        .max_by_key(|(rev, _, _)| *rev);
    let Some((revision, driver, obj)) = newest else { return Err(PendingError::NoRelease) };
    let undecodable = |why: String| PendingError::Undecodable { revision, why };
    let payload = obj.pointer("/data/release").and_then(Value::as_str).unwrap_or_default();
    if payload.is_empty() {
        return Err(undecodable("its storage object has no data.release".to_string()));
    }
    let bytes = decode_bytes(payload, driver).map_err(undecodable)?;
    let rel: WholeRelease = serde_json::from_slice(&bytes)
        .map_err(|e| undecodable(format!("release JSON has an unexpected shape: {}", redact_quoted(&e.to_string()))))?;
    drop(bytes);
    let status = rel.info.and_then(|i| i.status).unwrap_or_else(|| "unknown".to_string());
    if status != "pending-upgrade" {
        return Err(PendingError::NotPending { revision, status });
    }
    let mut manifest = rel.manifest.unwrap_or_default();
    for hook in rel.hooks.into_iter().flatten() {
        let on_upgrade = hook.events.iter().flatten().any(|e| e == "pre-upgrade" || e == "post-upgrade");
        if let (true, Some(text)) = (on_upgrade, hook.manifest) {
            let source = hook.path.map(|p| format!("# Source: {p}\n")).unwrap_or_default();
            manifest.push_str(&format!("\n---\n{source}{text}\n"));
        }
    }
    let chart = rel.chart.unwrap_or_default();
    let meta = chart.metadata.unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut crds = Vec::new();
    for f in chart.files.into_iter().flatten() {
        let is_manifest = [".yaml", ".yml", ".json"].iter().any(|x| f.name.ends_with(x));
        if !f.name.starts_with("crds/") || !is_manifest {
            continue;
        }
        let text = b64
            .decode(f.data.unwrap_or_default().trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| undecodable(format!("chart file {} is not base64-encoded UTF-8 text", f.name)))?;
        crds.push((f.name, text));
    }
    Ok(PendingRevision {
        revision: if rel.version == 0 { revision } else { rel.version },
        manifest,
        chart_name: meta.name.unwrap_or_default(),
        chart_version: meta.version,
        app_version: meta.app_version,
        kube_version: meta.kube_version,
        chart_values: shape(chart.values.as_ref().unwrap_or(&Value::Null)),
        crds,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::inventory::helm::encode_for_secret;

    /// A storage Secret of release `web` in `apps` at `revision` (invented: the shape Helm writes).
    fn stored(revision: u64, status: &str, rel: &Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
               "metadata": {"name": format!("sh.helm.release.v1.web.v{revision}"), "namespace": "apps",
                            "labels": {"owner": "helm", "name": "web", "version": revision.to_string(), "status": status}},
               "data": {"release": encode_for_secret(rel)}})
    }

    #[test]
    fn the_pending_revision_is_read_whole_with_upgrade_hooks_and_crds_but_no_values() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let crd =
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.example.io}\n";
        let pending = json!({"name": "web", "version": 10, "info": {"status": "pending-upgrade"},
            "config": {"password": "hunter2"},
            "chart": {"metadata": {"name": "web", "version": "1.3.0", "appVersion": "2.0", "kubeVersion": ">=1.25.0-0"},
                      "values": {"image": {"tag": "2.0"}},
                      "files": [{"name": "crds/a.yaml", "data": b64.encode(crd)},
                                {"name": "README.md", "data": b64.encode("# web")}]},
            "manifest": "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
            "hooks": [{"path": "web/templates/migrate.yaml", "events": ["pre-upgrade", "pre-install"],
                       "manifest": "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n"},
                      {"path": "web/templates/test.yaml", "events": ["test"],
                       "manifest": "apiVersion: v1\nkind: Pod\nmetadata: {name: web-test}\n"}]});
        let deployed = json!({"name": "web", "version": 9, "info": {"status": "deployed"}});
        // Revision 10 is newer than 9 (numbers, not text); only the newest is decoded.
        let storage = [stored(9, "deployed", &deployed), stored(10, "pending-upgrade", &pending)];
        let p = pending_revision(&storage, "web").unwrap();
        assert_eq!(p.revision, 10);
        assert_eq!((p.chart_name.as_str(), p.chart_version.as_deref()), ("web", Some("1.3.0")));
        assert_eq!(p.kube_version.as_deref(), Some(">=1.25.0-0"));
        assert_eq!(p.chart_values, json!({"image": {"tag": ""}}), "defaults as a shape only");
        assert_eq!(p.crds, vec![("crds/a.yaml".to_string(), crd.to_string())]);
        assert!(p.manifest.contains("kind: ConfigMap"), "{}", p.manifest);
        assert!(
            p.manifest.contains("---\n# Source: web/templates/migrate.yaml\napiVersion: batch/v1"),
            "{}",
            p.manifest
        );
        assert!(!p.manifest.contains("web-test"), "hooks that do not run on upgrade are left out");
        assert!(!format!("{p:?}").contains("hunter2"), "the release's values are not read");
        assert_eq!(pending_revision(&storage, "other").unwrap_err(), PendingError::NoRelease);
    }

    #[test]
    fn a_settled_or_undecodable_newest_revision_is_not_a_pending_change() {
        let deployed = json!({"name": "web", "version": 3, "info": {"status": "deployed"}});
        let older_pending = json!({"name": "web", "version": 2, "info": {"status": "pending-upgrade"}});
        let storage = [stored(2, "pending-upgrade", &older_pending), stored(3, "deployed", &deployed)];
        assert_eq!(
            pending_revision(&storage, "web").unwrap_err(),
            PendingError::NotPending { revision: 3, status: "deployed".into() }
        );
        let mut broken = stored(4, "pending-upgrade", &deployed);
        broken["data"]["release"] = json!("!!!");
        let Err(PendingError::Undecodable { revision: 4, why }) = pending_revision(&[broken], "web") else {
            panic!("not undecodable")
        };
        assert!(why.contains("not base64"), "{why}");
        let odd = json!({"name": "web", "version": 5, "info": {"status": "pending-upgrade"}, "manifest": "hunter2", "hooks": "hunter2"});
        let Err(PendingError::Undecodable { why, .. }) = pending_revision(&[stored(5, "pending-upgrade", &odd)], "web")
        else {
            panic!("not undecodable")
        };
        assert!(why.contains("unexpected shape") && !why.contains("hunter2"), "{why}");
    }
}
