//! One job: read a planned change (manifests, chart) and build the future state it makes.
//!
//! Planned changes (`check --manifest`, `--release`, `--chart`): the objects a change will
//! apply, read from rendered manifests, and the *future state* of the cluster they make.
//!
//! Manifests are what `helm template`, `kustomize build` or a GitOps repository hold:
//! multi-document YAML or JSON, `…List` documents, files or directories (recursively, in name
//! order) or `-` for stdin. Helm's `# Source: chart/templates/x.yaml` comment is kept as each
//! object's origin. Namespaced objects without `metadata.namespace` go to the release
//! namespace (Helm's rule), else `default`.
//!
//! The future state ([`apply`]) replaces each live object by the planned one with the same
//! identity, overlaid on the live object the way Helm's three-way merge keeps fields the
//! manifest leaves out (maps merge key by key; lists and scalars the manifest sets win; the
//! live `status` stays, so status-reading rules keep judging the live object). Objects of the
//! release's current manifest that the new manifests no longer contain are removed (unless
//! `helm.sh/resource-policy: keep`). Every object is tagged live, planned or deleted.
//!
//! Layer: inventory. Imports the inventory's objects and snapshot parser, the ground layer.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{Inventory, KindView, Object, snapshot};
use crate::limits::Limits;
use crate::resource::{Change, GroupKind};

/// A manifest or chart could not be read; names the file, and the line when known.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", if *.line == 0 { String::new() } else { format!(":{}", .line) })]
pub struct ManifestError {
    /// File (`-` for stdin).
    pub path: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

fn err(path: &str, line: u64, message: impl Into<String>) -> ManifestError {
    ManifestError { path: path.to_string(), line, message: message.into() }
}

/// One object of the planned manifests, as read.
#[derive(Debug, Clone)]
pub struct PlannedDoc {
    /// The object.
    pub value: Value,
    /// Helm's `# Source:` of its document, when there is one.
    pub source: Option<String>,
    /// `file:line` where it starts.
    pub location: String,
}

/// Reads every `--manifest` path (`-` is stdin, read once). Empty input is an error: a
/// change with no objects cannot be judged.
pub fn read(paths: &[PathBuf], stdin: &mut dyn Read, limits: &Limits) -> Result<Vec<PlannedDoc>, ManifestError> {
    let mut docs = Vec::new();
    let mut stdin_read = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if stdin_read {
                return Err(err("-", 0, "stdin is given more than once as --manifest"));
            }
            stdin_read = true;
            let text = read_bounded(stdin, "-", limits.max_snapshot_bytes)?;
            parse_text(&text, "-", &mut docs)?;
            continue;
        }
        let name = p.display().to_string();
        let meta = std::fs::metadata(p).map_err(|e| err(&name, 0, format!("cannot read manifest: {e}")))?;
        let files = if meta.is_dir() {
            let mut files = Vec::new();
            collect_files(p, &mut files).map_err(|e| err(&name, 0, format!("cannot read manifest directory: {e}")))?;
            if files.is_empty() {
                return Err(err(&name, 0, "no .yaml, .yml or .json files in manifest directory"));
            }
            files
        } else {
            vec![p.clone()]
        };
        for f in files {
            let fname = f.display().to_string();
            let file = std::fs::File::open(&f).map_err(|e| err(&fname, 0, format!("cannot read: {e}")))?;
            let text = read_bounded(&mut std::io::BufReader::new(file), &fname, limits.max_snapshot_bytes)?;
            parse_text(&text, &fname, &mut docs)?;
        }
        if docs.len() > limits.max_objects {
            return Err(err(&name, 0, limits.too_many_objects()));
        }
    }
    if docs.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(err(&names.join(", "), 0, "the manifests hold no objects; an empty change cannot be judged"));
    }
    Ok(docs)
}

fn read_bounded(r: &mut dyn Read, name: &str, max: u64) -> Result<String, ManifestError> {
    let mut bytes = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| err(name, 0, format!("cannot read: {e}")))?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max) {
        let limits = Limits { max_snapshot_bytes: max, ..Limits::default() };
        return Err(err(name, 0, limits.snapshot_too_large()));
    }
    String::from_utf8(bytes).map_err(|e| err(name, 0, format!("not UTF-8 text: {}", e.utf8_error())))
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

/// Parses one manifest text; each YAML document keeps its line and the `# Source:` comment
/// Helm writes after its `---`.
pub fn parse_text(text: &str, name: &str, out: &mut Vec<PlannedDoc>) -> Result<(), ManifestError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let docs = snapshot::parse_documents(text, name).map_err(|e| err(name, e.line, e.message))?;
        for (i, (_, v)) in docs.into_iter().enumerate() {
            push_doc(v, None, &format!("{name}: item {}", i + 1), name, 0, out)?;
        }
        return Ok(());
    }
    // Where each `---` document starts, and its `# Source:` comment; the text is then parsed
    // once (one parser for the whole file: a rendered chart has thousands of documents).
    let mut starts: Vec<(u64, Option<String>)> = vec![(1, None)];
    for (n, line) in (1u64..).zip(text.split_inclusive('\n')) {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            starts.push((n, None));
        } else if let Some(src) = line.trim().strip_prefix("# Source:")
            && let Some(last) = starts.last_mut()
            && last.1.is_none()
        {
            last.1 = Some(src.trim().to_string());
        }
    }
    let docs = snapshot::parse_documents(text, name).map_err(|e| err(name, e.line, e.message))?;
    for (line, v) in docs {
        let source = match starts.partition_point(|(s, _)| *s <= line) {
            0 => None,
            i => starts[i - 1].1.clone(),
        };
        push_doc(v, source, &format!("{name}:{line}"), name, line, out)?;
    }
    Ok(())
}

fn push_doc(
    v: Value,
    source: Option<String>,
    location: &str,
    name: &str,
    line: u64,
    out: &mut Vec<PlannedDoc>,
) -> Result<(), ManifestError> {
    match v {
        Value::Null => Ok(()),
        Value::Object(ref m)
            if m.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
                && m.get("items").is_some() =>
        {
            let Some(Value::Array(items)) = m.get("items").cloned() else {
                return Err(err(name, line, "items of a List is not a list"));
            };
            for (j, item) in items.into_iter().enumerate() {
                push_doc(item, source.clone(), &format!("{location}, item {}", j + 1), name, line, out)?;
            }
            Ok(())
        }
        Value::Object(ref m) => {
            for (field, path) in
                [("apiVersion", &["apiVersion"][..]), ("kind", &["kind"]), ("metadata.name", &["metadata", "name"])]
            {
                let mut cur = Some(&v);
                for p in path {
                    cur = cur.and_then(|c| c.get(p));
                }
                if cur.is_none_or(|c| c.as_str().is_none_or(str::is_empty)) {
                    let what = m.get("kind").and_then(Value::as_str).unwrap_or("object");
                    return Err(err(name, line, format!("{what} has no {field} (every planned object needs one)")));
                }
            }
            out.push(PlannedDoc { value: v, source, location: location.to_string() });
            Ok(())
        }
        _ => Err(err(name, line, "document is not a Kubernetes object")),
    }
}

/// A chart (`--chart`): what the tool reads of it.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Where it was read from.
    pub path: String,
    /// `Chart.yaml` `name`.
    pub name: String,
    /// `Chart.yaml` `version`.
    pub version: Option<String>,
    /// `Chart.yaml` `appVersion`.
    pub app_version: Option<String>,
    /// `Chart.yaml` `kubeVersion` (a Helm semver constraint).
    pub kube_version: Option<String>,
    /// `values.yaml` (defaults).
    pub values: Value,
    /// `values.schema.json`, parsed.
    pub schema: Option<Value>,
    /// Objects of `crds/`, each with its file as source.
    pub crds: Vec<PlannedDoc>,
    /// Read from the revision Helm stored (`--pending-release`), not from files: names that
    /// revision. `values` then holds only the shape of the defaults, and there is no
    /// `schema`: Helm validated the values against it before it stored the revision.
    pub from_release: Option<String>,
}

/// Reads a chart directory, or a `.tgz` as `helm package` and `helm pull` write it.
pub fn read_chart(path: &Path, limits: &Limits) -> Result<Chart, ManifestError> {
    let name = path.display().to_string();
    let files: BTreeMap<String, String> = if path.is_dir() {
        let mut out = BTreeMap::new();
        for rel in ["Chart.yaml", "values.yaml", "values.schema.json"] {
            let p = path.join(rel);
            if p.is_file() {
                let f = std::fs::File::open(&p)
                    .map_err(|e| err(&p.display().to_string(), 0, format!("cannot read: {e}")))?;
                out.insert(
                    rel.to_string(),
                    read_bounded(&mut std::io::BufReader::new(f), &p.display().to_string(), limits.max_snapshot_bytes)?,
                );
            }
        }
        let crds = path.join("crds");
        if crds.is_dir() {
            let mut fs = Vec::new();
            collect_files(&crds, &mut fs)
                .map_err(|e| err(&crds.display().to_string(), 0, format!("cannot read: {e}")))?;
            for f in fs {
                let rel = f.strip_prefix(path).unwrap_or(&f).display().to_string();
                // Errors name the file as the other chart files are named: below the chart.
                let shown = format!("{name}/{rel}");
                let file = std::fs::File::open(&f).map_err(|e| err(&shown, 0, format!("cannot read: {e}")))?;
                let text = read_bounded(&mut std::io::BufReader::new(file), &shown, limits.max_snapshot_bytes)?;
                out.insert(rel, text);
            }
        }
        out
    } else {
        read_tgz(path, limits)?
    };
    let chart_yaml = files.get("Chart.yaml").ok_or_else(|| err(&name, 0, "no Chart.yaml: not a chart"))?;
    let chart_file = format!("{name}/Chart.yaml");
    let meta = first_doc(chart_yaml, &chart_file)?;
    let s = |k: &str| {
        meta.get(k).and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let chart_name = s("name").ok_or_else(|| err(&chart_file, 0, "Chart.yaml has no name"))?;
    let values = match files.get("values.yaml") {
        Some(t) => first_doc(t, &format!("{name}/values.yaml"))?,
        None => Value::Object(Map::new()),
    };
    let schema =
        match files.get("values.schema.json") {
            Some(t) => Some(serde_json::from_str(t).map_err(|e| {
                err(&format!("{name}/values.schema.json"), e.line() as u64, format!("invalid JSON: {e}"))
            })?),
            None => None,
        };
    let mut crds = Vec::new();
    for (rel, text) in files.iter().filter(|(k, _)| k.starts_with("crds/")) {
        let before = crds.len();
        parse_text(text, &format!("{name}/{rel}"), &mut crds)?;
        for d in &mut crds[before..] {
            d.source = Some(format!("{chart_name}/{rel}"));
        }
    }
    Ok(Chart {
        path: name,
        name: chart_name,
        version: s("version"),
        app_version: s("appVersion"),
        kube_version: s("kubeVersion"),
        values,
        schema,
        crds,
        from_release: None,
    })
}

fn first_doc(text: &str, name: &str) -> Result<Value, ManifestError> {
    let docs = snapshot::parse_documents(text, name).map_err(|e| err(name, e.line, e.message))?;
    Ok(docs.into_iter().map(|(_, v)| v).find(|v| !v.is_null()).unwrap_or(Value::Object(Map::new())))
}

/// The chart files of a `.tgz` (`<chart>/Chart.yaml`, `<chart>/values.yaml`,
/// `<chart>/values.schema.json`, `<chart>/crds/…`), keyed without the top directory. The
/// archive is bounded like a snapshot file, inflated and in total.
fn read_tgz(path: &Path, limits: &Limits) -> Result<BTreeMap<String, String>, ManifestError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| err(&name, 0, format!("cannot read chart: {e}")))?;
    let mut bytes = Vec::new();
    file.take(limits.max_snapshot_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| err(&name, 0, format!("cannot read chart: {e}")))?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > limits.max_snapshot_bytes) {
        return Err(err(&name, 0, limits.snapshot_too_large()));
    }
    // The bounded tar reader snapshots use (entries and inflated size limited).
    let entries = super::archive::read("tar.gz", &bytes, limits.max_snapshot_bytes)
        .map_err(|e| err(&name, 0, format!("not a chart directory or .tgz archive: {e}")))?;
    let mut out = BTreeMap::new();
    // Entries sit below the chart's own directory (`traefik/Chart.yaml`).
    for (entry, data) in entries {
        let Some((_, rel)) = entry.split_once('/') else { continue };
        let wanted = matches!(rel, "Chart.yaml" | "values.yaml" | "values.schema.json")
            || (rel.starts_with("crds/")
                && (rel.ends_with(".yaml") || rel.ends_with(".yml") || rel.ends_with(".json")));
        if wanted {
            let text = String::from_utf8(data).map_err(|_| err(&format!("{name}/{rel}"), 0, "not UTF-8 text"))?;
            out.insert(rel.to_string(), text);
        }
    }
    Ok(out)
}

/// The Helm release a change is the next revision of (`--release`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRef {
    /// Namespace (objects without one go there).
    pub namespace: String,
    /// Release name.
    pub name: String,
}

/// Whether a kind is served, as far as the inventory tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// Served; the versions, when discovery told them.
    Yes(Vec<String>),
    /// The cluster does not serve the kind at all.
    No,
    /// Unknown (not read, failed, or no cluster), and why.
    Unknown(String),
}

/// A planned object with what it replaces.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The object as the manifest renders it (normalised: Secret values blanked), tagged planned.
    pub object: Object,
    /// The live object it replaces, tagged live.
    pub live: Option<Object>,
    /// With `--release`: true when the release's current manifest does not hold it (Helm
    /// then checks adoption); `None` without a release.
    pub new_to_release: Option<bool>,
    /// Whether the cluster serves its kind (before the change).
    pub served: Served,
    /// Why the live object could not be looked up (its kind could not be read), if so.
    pub live_unknown: Option<String>,
    /// `file:line` of the manifest.
    pub location: String,
}

/// Everything known about the planned change, kept beside the future state for the
/// change checks.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// Planned objects, in manifest order.
    pub planned: Vec<Planned>,
    /// Objects the change deletes (the live object when collected, else its identity).
    pub deleted: Vec<Object>,
    /// `--release`.
    pub release: Option<ReleaseRef>,
    /// With a release: why its current manifest could not be read (then nothing is
    /// known to be deleted and ownership cannot be judged).
    pub release_problem: Option<String>,
    /// With a release: false when it is not installed yet (the change installs it).
    pub release_exists: bool,
    /// `--chart`.
    pub chart: Option<Chart>,
    /// `--values` for the release, merged onto the chart's defaults (for `values-schema`).
    pub values: Option<(String, Value)>,
    /// Whether a cluster (or snapshot) was read.
    pub cluster: bool,
}

type Key = (GroupKind, Option<String>, String);

fn key_of(o: &Object) -> Key {
    (o.gk(), o.namespace.clone(), o.name.clone())
}

/// Scope of a kind: `Some(true)` namespaced, `Some(false)` cluster-scoped, from the built-in
/// table, then CRDs among `crds` (planned and live).
fn namespaced(gk: &GroupKind, crds: &[Value]) -> bool {
    if gk.is_builtin() && crate::resource::CLUSTER_SCOPED.contains(&gk.kind.as_str()) {
        return false;
    }
    for crd in crds {
        let group = crd.pointer("/spec/group").and_then(Value::as_str);
        let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str);
        if group == Some(gk.group.as_str()) && kind == Some(gk.kind.as_str()) {
            return crd.pointer("/spec/scope").and_then(Value::as_str) != Some("Cluster");
        }
    }
    true
}

/// Overlays `over` on `base`: maps merge key by key, anything else `over` sets wins.
#[must_use]
pub fn overlay(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match b.get(k) {
                    Some(bv) => overlay(bv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => over.clone(),
    }
}

/// The identities a release's current manifest holds, or why they are unknown.
fn release_resources(inv: &Inventory, rel: &ReleaseRef) -> Result<Option<Vec<Key>>, String> {
    let gk = super::helm::group_kind();
    if let KindView::Failed(r) = inv.state(&gk) {
        return Err(format!("cannot read Helm releases: {r}"));
    }
    let current = super::helm::current_revisions(inv.objects(&gk), |o, v| {
        o.namespace.as_deref() == Some(rel.namespace.as_str())
            && v.pointer("/spec/release").and_then(Value::as_str) == Some(rel.name.as_str())
    });
    let Some((_, v)) = current.into_values().next() else { return Ok(None) };
    if let Some(e) = v.pointer("/spec/manifestError").and_then(Value::as_str) {
        return Err(format!("the release's stored manifest is not fully readable: {e}"));
    }
    if v.pointer("/spec/undecodable").is_some() {
        return Err("the release's storage does not decode".to_string());
    }
    let mut out = Vec::new();
    for r in v.pointer("/spec/resources").and_then(Value::as_array).into_iter().flatten() {
        let s = |k: &str| r.get(k).and_then(Value::as_str);
        let (Some(av), Some(kind), Some(name)) = (s("apiVersion"), s("kind"), s("name")) else { continue };
        out.push((GroupKind::from_api_version(av, kind), s("namespace").map(ToString::to_string), name.to_string()));
    }
    Ok(Some(out))
}

fn served(inv: &Inventory, gk: &GroupKind, cluster: bool) -> Served {
    if !cluster {
        return Served::Unknown("no cluster was read (--no-cluster)".to_string());
    }
    if let Some(v) = inv.served.get(gk) {
        return if v.is_empty() { Served::No } else { Served::Yes(v.clone()) };
    }
    match inv.state(gk) {
        KindView::Absent => Served::No,
        // Every cluster serves the built-in groups; which versions, the removal table says.
        _ if gk.is_builtin() => Served::Yes(Vec::new()),
        KindView::Failed(r) => Served::Unknown(format!("cannot read {gk}: {r}")),
        KindView::Collected(objs) if !objs.is_empty() || inv.is_authoritative() || gk.is_builtin() => {
            Served::Yes(Vec::new())
        }
        KindView::Collected(_) => Served::Unknown(format!("the snapshot does not say whether {gk} is served")),
    }
}

/// Builds the future state: `inv` (the cluster now, or empty with `--no-cluster`) with the
/// planned objects applied and the release's dropped objects deleted. Objects are tagged
/// live, planned or deleted; the change is kept in [`Inventory::change`].
pub fn apply(mut inv: Inventory, docs: &[PlannedDoc], mut change: ChangeSet) -> Result<Inventory, String> {
    // Scope needs CRDs: the planned ones and the cluster's.
    let crd_gk = GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition");
    let mut crds: Vec<Value> = docs
        .iter()
        .filter(|d| d.value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition"))
        .map(|d| d.value.clone())
        .collect();
    crds.extend(inv.objects(&crd_gk).iter().map(Object::value));
    let default_ns = change.release.as_ref().map_or_else(|| "default".to_string(), |r| r.namespace.clone());

    let release_keys = match &change.release {
        None => None,
        Some(rel) => match release_resources(&inv, rel) {
            Ok(Some(keys)) => {
                change.release_exists = true;
                // Helm's stored manifest leaves the namespace out where the chart does.
                let keys = keys
                    .into_iter()
                    .map(|(gk, ns, name)| {
                        let ns = if ns.is_none() && namespaced(&gk, &crds) { Some(default_ns.clone()) } else { ns };
                        (gk, ns, name)
                    })
                    .collect::<Vec<_>>();
                Some(keys)
            }
            Ok(None) => {
                change.release_exists = false;
                Some(Vec::new())
            }
            Err(e) => {
                change.release_exists = true;
                change.release_problem = Some(e);
                None
            }
        },
    };

    // Served-ness is judged on the cluster before the change adds anything.
    let mut planned: Vec<(Object, String)> = Vec::with_capacity(docs.len());
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    for d in docs {
        let mut v = d.value.clone();
        let gk = GroupKind::from_api_version(
            v.get("apiVersion").and_then(Value::as_str).unwrap_or_default(),
            v.get("kind").and_then(Value::as_str).unwrap_or_default(),
        );
        let ns_missing = v.pointer("/metadata/namespace").and_then(Value::as_str).is_none_or(str::is_empty);
        if namespaced(&gk, &crds)
            && ns_missing
            && let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("namespace".into(), Value::String(default_ns.clone()));
        }
        let mut obj = Object::from_value(v).map_err(|e| format!("{}: {e}", d.location))?;
        obj.change = Some(Change::Planned);
        obj.source.clone_from(&d.source);
        if !seen.insert(key_of(&obj)) {
            return Err(format!("{}: {} is planned twice", d.location, obj.obj_ref().identity()));
        }
        planned.push((obj, d.location.clone()));
    }
    let planned_keys: BTreeSet<Key> = planned.iter().map(|(o, _)| key_of(o)).collect();
    let in_release: Option<BTreeSet<Key>> = release_keys.as_ref().map(|k| k.iter().cloned().collect());

    let served_now: Vec<Served> = planned.iter().map(|(o, _)| served(&inv, &o.gk(), change.cluster)).collect();
    let unknown_now: Vec<Option<String>> = planned
        .iter()
        .map(|(o, _)| match inv.state(&o.gk()) {
            KindView::Failed(r) if change.cluster => Some(format!("cannot read {}: {r}", o.gk())),
            _ => None,
        })
        .collect();
    let mut live: BTreeMap<Key, Object> = inv.take_objects().into_iter().map(|o| (key_of(&o), o)).collect();

    for (((obj, location), served), live_unknown) in planned.into_iter().zip(served_now).zip(unknown_now) {
        let key = key_of(&obj);
        let live_obj = live.remove(&key).map(|mut l| {
            l.change = Some(Change::Live);
            l
        });
        let future = match &live_obj {
            Some(l) => {
                let mut f = Object::from_value(overlay(&l.value(), &obj.value()))?;
                f.change = Some(Change::Planned);
                f.source.clone_from(&obj.source);
                f
            }
            None => obj.clone(),
        };
        inv.push(future);
        let new_to_release = in_release.as_ref().map(|r| !r.contains(&key));
        change.planned.push(Planned { object: obj, live: live_obj, new_to_release, served, live_unknown, location });
    }
    for key in release_keys.into_iter().flatten() {
        if planned_keys.contains(&key) {
            continue;
        }
        let (gk, ns, name) = key.clone();
        let mut gone = match live.remove(&key) {
            Some(o) => {
                let keep = o.value().pointer("/metadata/annotations/helm.sh~1resource-policy").and_then(Value::as_str)
                    == Some("keep");
                if keep {
                    live.insert(key, o);
                    continue;
                }
                o
            }
            None => {
                let api_version = if gk.group.is_empty() { "v1".to_string() } else { format!("{}/v1", gk.group) };
                let mut meta = Map::new();
                meta.insert("name".into(), Value::String(name));
                if let Some(ns) = ns {
                    meta.insert("namespace".into(), Value::String(ns));
                }
                let mut m = Map::new();
                m.insert("apiVersion".into(), Value::String(api_version));
                m.insert("kind".into(), Value::String(gk.kind.clone()));
                m.insert("metadata".into(), Value::Object(meta));
                Object::from_value(Value::Object(m))?
            }
        };
        gone.change = Some(Change::Deleted);
        change.deleted.push(gone);
    }
    for (_, mut o) in live {
        o.change = Some(Change::Live);
        inv.push(o);
    }
    inv.finish();
    inv.change = Some(Box::new(change));
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_lines_and_lists() {
        let text = "---\n# Source: web/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: web/templates/b.yaml\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n";
        let mut out = Vec::new();
        parse_text(text, "m.yaml", &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].source.as_deref(), Some("web/templates/a.yaml"));
        assert_eq!(out[0].location, "m.yaml:3");
        assert_eq!(out[1].source.as_deref(), Some("web/templates/b.yaml"));
        let bad = "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n";
        let e = parse_text(bad, "m.yaml", &mut Vec::new()).unwrap_err();
        assert_eq!(e.to_string(), "m.yaml:1: ConfigMap has no metadata.name (every planned object needs one)");
    }

    #[test]
    fn a_chart_directory_names_its_bad_crds_file_below_the_chart() {
        // Found by the `chart` fuzz target (fuzz/regressions/chart/crds-not-utf8): this error
        // alone named `crds/…` without the chart.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("crds/sub")).unwrap();
        std::fs::write(dir.path().join("Chart.yaml"), "apiVersion: v2\nname: c\nversion: 1.0.0\n").unwrap();
        std::fs::write(dir.path().join("crds/sub/other.yml"), b"\xff").unwrap();
        let e = read_chart(dir.path(), &Limits::default()).unwrap_err();
        assert_eq!(e.path, format!("{}/crds/sub/other.yml", dir.path().display()));
        assert!(e.message.starts_with("not UTF-8 text"), "{e}");
    }

    #[test]
    fn overlay_keeps_what_the_manifest_leaves_out() {
        let live = serde_json::json!({"spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}, "status": {"x": 1}});
        let planned = serde_json::json!({"spec": {"ports": [{"port": 8080}]}});
        let f = overlay(&live, &planned);
        assert_eq!(f["spec"]["clusterIP"], "10.0.0.1");
        assert_eq!(f["spec"]["ports"][0]["port"], 8080);
        assert_eq!(f["status"]["x"], 1);
    }
}
