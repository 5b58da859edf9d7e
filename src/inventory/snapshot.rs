//! Offline snapshots: multi-document YAML or JSON files, `kind: List` documents (what
//! `kubectl get -A -o yaml` prints), or a directory of such files.
//!
//! A snapshot may carry one `SnapshotInfo` document (written by `upgrade-preflight
//! snapshot`) giving the server version and which kinds were collected, absent or failed:
//!
//! ```yaml
//! apiVersion: upgrade-preflight.io/v1alpha1
//! kind: SnapshotInfo
//! serverVersion: v1.30.7+rke2r1
//! resources:
//! - {apiVersion: harvesterhci.io/v1beta1, kind: Addon, state: absent}
//! - {apiVersion: networking.k8s.io/v1, kind: Ingress, state: failed, reason: "forbidden"}
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{Inventory, KindState, Origin};
use crate::limits::{Limits, snapshot_yaml_options, with_parser_stack, yaml_limit_message};
use crate::resource::GroupKind;
use serde_json::json;

/// `apiVersion` of the snapshot metadata document.
pub const INFO_API_VERSION: &str = "upgrade-preflight.io/v1alpha1";

/// A snapshot could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", location(*.line, *.column))]
pub struct SnapshotError {
    /// File.
    pub path: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What is wrong.
    pub message: String,
}

fn location(line: u64, column: u64) -> String {
    if line == 0 { String::new() } else { format!(":{line}:{column}") }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InfoDoc {
    #[serde(default)]
    server_version: Option<String>,
    #[serde(default)]
    resources: Vec<InfoResource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InfoResource {
    api_version: String,
    kind: String,
    state: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Loads a snapshot file or directory with the default [`Limits`].
pub fn load(path: &Path) -> Result<Inventory, SnapshotError> {
    load_with(path, &Limits::default())
}

/// Loads a snapshot file or directory; each file is at most `limits.max_snapshot_bytes`,
/// and all of them together hold at most `limits.max_objects` objects.
pub fn load_with(path: &Path, limits: &Limits) -> Result<Inventory, SnapshotError> {
    let err = |p: &Path, message: String| SnapshotError { path: p.display().to_string(), line: 0, column: 0, message };
    let meta = std::fs::metadata(path).map_err(|e| err(path, format!("cannot read snapshot: {e}")))?;
    let files: Vec<PathBuf> = if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files).map_err(|e| err(path, format!("cannot read snapshot directory: {e}")))?;
        if files.is_empty() {
            return Err(err(path, "no .yaml, .yml or .json files in snapshot directory".to_string()));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut sink = Sink { inv: Inventory::new(Origin::Snapshot(path.display().to_string()), false), limits, count: 0 };
    for f in files {
        load_file(&f, &mut sink)?;
    }
    let mut inv = sink.inv;
    inv.finish();
    Ok(inv)
}

/// Parses one snapshot file's contents (YAML or JSON, as `load` accepts); `name` is used in
/// errors. The size limit applies to `bytes`. For callers that already hold the bytes (and
/// for fuzzing).
pub fn parse_bytes(bytes: &[u8], name: &str, limits: &Limits) -> Result<Inventory, SnapshotError> {
    let mut sink = Sink { inv: Inventory::new(Origin::Snapshot(name.to_string()), false), limits, count: 0 };
    let too_big = u64::try_from(bytes.len()).map_or(true, |n| n > limits.max_snapshot_bytes);
    if too_big {
        return Err(plain_err(name, limits.snapshot_too_large()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| plain_err(name, format!("not UTF-8 text: {e}")))?;
    load_text(text, name, &mut sink)?;
    let mut inv = sink.inv;
    inv.finish();
    Ok(inv)
}

/// Where loaded objects go, and the object limit they count against.
struct Sink<'a> {
    inv: Inventory,
    limits: &'a Limits,
    count: usize,
}

impl Sink<'_> {
    /// Adds one object read from the file (see [`Inventory::ingest`]); objects derived from
    /// it, such as the release a Helm Secret stores, do not count.
    fn ingest(&mut self, value: Value) -> Result<(), String> {
        if self.count >= self.limits.max_objects {
            return Err(self.limits.too_many_objects());
        }
        self.count += 1;
        self.inv.ingest(value)
    }
}

fn plain_err(name: &str, message: String) -> SnapshotError {
    SnapshotError { path: name.to_string(), line: 0, column: 0, message }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Parses the documents of one snapshot text; `name` is used in errors.
pub fn parse_documents(text: &str, name: &str) -> Result<Vec<(u64, Value)>, SnapshotError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut docs = Vec::new();
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        for v in stream {
            match v {
                Ok(Value::Array(items)) => docs.extend(items.into_iter().map(|i| (0, i))),
                Ok(v) => docs.push((0, v)),
                Err(e) => {
                    return Err(SnapshotError {
                        path: name.to_string(),
                        line: e.line() as u64,
                        column: e.column() as u64,
                        message: format!("invalid JSON: {e}"),
                    });
                }
            }
        }
        return Ok(docs);
    }
    let parsed = with_parser_stack(|| {
        serde_saphyr::from_multiple_with_options::<Option<Spanned<Value>>>(text, snapshot_yaml_options(text.len()))
    })
    .map_err(|e| SnapshotError {
        path: name.to_string(),
        line: 0,
        column: 0,
        message: format!("cannot start the YAML parser: {e}"),
    })?;
    match parsed {
        Ok(docs) => Ok(docs.into_iter().flatten().map(|d| (d.referenced.line(), d.value)).collect()),
        Err(e) => {
            let loc = e.location();
            let message = match yaml_limit_message(&e, "snapshot files") {
                Some(m) => m,
                None => format!("invalid YAML: {}", crate::limits::plain_yaml_message(&e)),
            };
            Err(SnapshotError {
                path: name.to_string(),
                line: loc.map_or(0, |l| l.line()),
                column: loc.map_or(0, |l| l.column()),
                message,
            })
        }
    }
}

fn load_file(path: &Path, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    use std::io::Read as _;
    let name = path.display().to_string();
    let max = sink.limits.max_snapshot_bytes;
    let file = std::fs::File::open(path).map_err(|e| plain_err(&name, format!("cannot read: {e}")))?;
    // Read at most one byte past the limit: the size on disk may be unknown (a pipe, a
    // device such as /dev/zero) or change while reading.
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| plain_err(&name, format!("cannot read: {e}")))?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max) {
        return Err(plain_err(&name, sink.limits.snapshot_too_large()));
    }
    let text = String::from_utf8(bytes).map_err(|e| plain_err(&name, format!("not UTF-8 text: {}", e.utf8_error())))?;
    load_text(&text, &name, sink)
}

fn load_text(text: &str, name: &str, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    let err = |line: u64, message: String| SnapshotError {
        path: name.to_string(),
        line,
        column: if line == 0 { 0 } else { 1 },
        message,
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return load_json(text, name, sink);
    }
    for (i, (line, doc)) in parse_documents(text, name)?.into_iter().enumerate() {
        let what = format!("document {}", i + 1);
        load_doc(doc, &what, sink).map_err(|m| err(line, m))?;
    }
    Ok(())
}

/// JSON snapshots are read item by item from the text (a `List`'s items stay raw until each
/// is stored), so a large capture is never one big `Value` tree.
fn load_json(text: &str, name: &str, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(default)]
        kind: Option<String>,
        #[serde(default, borrow)]
        items: Option<Vec<&'a serde_json::value::RawValue>>,
    }
    let json_err = |e: serde_json::Error| SnapshotError {
        path: name.to_string(),
        line: e.line() as u64,
        column: e.column() as u64,
        message: format!("invalid JSON: {e}"),
    };
    let plain = |message: String| SnapshotError { path: name.to_string(), line: 0, column: 0, message };
    let mut docs: Vec<&serde_json::value::RawValue> = Vec::new();
    for raw in serde_json::Deserializer::from_str(text).into_iter::<&serde_json::value::RawValue>() {
        let raw = raw.map_err(json_err)?;
        if raw.get().trim_start().starts_with('[') {
            docs.extend(serde_json::from_str::<Vec<&serde_json::value::RawValue>>(raw.get()).map_err(json_err)?);
        } else {
            docs.push(raw);
        }
    }
    for (i, raw) in docs.into_iter().enumerate() {
        let what = format!("item {}", i + 1);
        if raw.get().trim_start().starts_with('{') {
            let peek: Peek<'_> = serde_json::from_str(raw.get()).map_err(json_err)?;
            if let (Some(kind), Some(items)) = (&peek.kind, peek.items)
                && kind.ends_with("List")
            {
                for (j, item) in items.into_iter().enumerate() {
                    let v: Value = serde_json::from_str(item.get()).map_err(json_err)?;
                    sink.ingest(v).map_err(|m| plain(format!("{what}, item {}: {m}", j + 1)))?;
                }
                continue;
            }
        }
        let doc: Value = serde_json::from_str(raw.get()).map_err(json_err)?;
        load_doc(doc, &what, sink).map_err(plain)?;
    }
    Ok(())
}

/// Adds one document: an object, a `…List`, or the `SnapshotInfo`.
fn load_doc(doc: Value, what: &str, sink: &mut Sink<'_>) -> Result<(), String> {
    if doc.is_null() {
        return Ok(());
    }
    if !doc.is_object() {
        return Err(format!("{what} is not a Kubernetes object"));
    }
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    if kind == "SnapshotInfo" && api_version == INFO_API_VERSION {
        let info: InfoDoc = serde_json::from_value(doc).map_err(|e| format!("SnapshotInfo: {e}"))?;
        return apply_info(info, &mut sink.inv);
    }
    if kind.ends_with("List") && doc.get("items").is_some() {
        let mut doc = doc;
        let Some(Value::Array(items)) = doc.as_object_mut().and_then(|m| m.remove("items")) else {
            return Err(format!("{what}: items of {kind} is not a list"));
        };
        for (j, item) in items.into_iter().enumerate() {
            sink.ingest(item).map_err(|m| format!("{what}, item {}: {m}", j + 1))?;
        }
        return Ok(());
    }
    sink.ingest(doc).map_err(|m| format!("{what}: {m}"))
}

fn apply_info(info: InfoDoc, inv: &mut Inventory) -> Result<(), String> {
    if info.server_version.is_some() {
        inv.server_version = info.server_version;
    }
    if !info.resources.is_empty() {
        inv.authoritative = true;
    }
    for r in info.resources {
        let gk = GroupKind::from_api_version(&r.api_version, &r.kind);
        let state = match r.state.as_str() {
            "collected" => KindState::Collected(Vec::new()),
            "absent" => KindState::Absent,
            "failed" => KindState::Failed(r.reason.unwrap_or_else(|| "failed".to_string())),
            other => return Err(format!("SnapshotInfo: resource state '{other}' is not collected, absent or failed")),
        };
        inv.set_state(gk, state);
    }
    Ok(())
}

/// Serialises an inventory as a snapshot `load` reads: a `SnapshotInfo` document (server
/// version, and the state of every kind, so absent and failed kinds stay so) followed by a
/// `List` of the objects, as a JSON stream. Objects are already normalised (Secret values
/// blanked), so nothing secret is written.
#[must_use]
pub fn write(inv: &Inventory) -> String {
    let mut resources = Vec::new();
    let mut items: Vec<&str> = Vec::new();
    for (gk, state) in inv.kinds() {
        let (state, reason, api_version) = match state {
            KindState::Collected(objs) => {
                items.extend(objs.iter().map(|o| o.raw()));
                ("collected", None, objs.first().map(|o| o.api_version.clone()))
            }
            KindState::Absent => ("absent", None, None),
            KindState::Failed(r) => ("failed", Some(r.clone()), None),
        };
        let api_version = api_version
            .unwrap_or_else(|| if gk.group.is_empty() { "v1".to_string() } else { format!("{}/v1", gk.group) });
        let mut r = json!({"apiVersion": api_version, "kind": gk.kind, "state": state});
        if let Some(reason) = reason {
            r["reason"] = Value::String(reason);
        }
        resources.push(r);
    }
    let mut info = json!({"apiVersion": INFO_API_VERSION, "kind": "SnapshotInfo", "resources": resources});
    if let Some(v) = &inv.server_version {
        info["serverVersion"] = Value::String(v.clone());
    }
    // Values built from JSON values always serialise; objects are already JSON text.
    let mut out = serde_json::to_string_pretty(&info).unwrap_or_default();
    out.push_str("\n{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[");
    for (i, raw) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(raw);
    }
    out.push_str("]}\n");
    out
}
