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
//! namespaces: [shop, payments]   # optional: captured with `snapshot -n` (a partial view)
//! ```
//!
//! `namespaces` says namespaced kinds were read only there; without it the snapshot is of
//! the whole cluster (every snapshot written before the field existed). Readers that do not
//! know the field ignore it.
//!
//! One job: turn the files users have (a dump, a capture tree, an archive) into an
//! inventory, skipping and listing what is not objects (over 600 lines because the JSON and
//! YAML paths and the capture-tree walk share one sink).

pub(crate) mod batch;
mod json;
mod stream;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::documents::{fill_identity, list_defaults, split_json_separators, yaml_documents};
use super::{Inventory, KindState, Origin, SkippedInput, archive, bundle};
use crate::limits::Limits;
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
    captured_at: Option<String>,
    #[serde(default)]
    resources: Vec<InfoResource>,
    #[serde(default)]
    namespaces: Option<Vec<String>>,
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

/// Loads a snapshot: a file (YAML, JSON, JSON lines), an archive (`.tar.gz`, `.tgz`, `.tar`,
/// `.zip`, recognised by content) or a directory. Each file is at most
/// `limits.max_snapshot_bytes` (an archive's inflated contents too), and all of them together
/// hold at most `limits.max_objects` objects.
///
/// A directory or archive is a capture tree (a support bundle, sonobuoy results, a folder of
/// dumps): marker files give the layout and the server version, files that hold no
/// Kubernetes objects are skipped and listed in [`Inventory::input`], and so are single
/// objects that cannot be read. A single file must be entirely readable.
pub fn load_with(path: &Path, limits: &Limits) -> Result<Inventory, SnapshotError> {
    load_projected(path, limits, None)
}

/// [`load_with`], keeping of each object only the fields `keeps` names for its kind (other
/// kinds keep `apiVersion`, `kind` and `metadata`), as the live source does: what `check`
/// uses, so a large snapshot is held at the size of what the enabled rules read.
pub fn load_projected(
    path: &Path,
    limits: &Limits,
    keeps: Option<std::collections::BTreeMap<GroupKind, super::projection::Keep>>,
) -> Result<Inventory, SnapshotError> {
    load_from(path, limits, keeps, true)
}

/// [`load_with`] without the fast paths (the one-pass JSON scan, the block-YAML reader):
/// every text read as it was before they existed. For tests that compare the two.
#[doc(hidden)]
pub fn load_reference(path: &Path, limits: &Limits) -> Result<Inventory, SnapshotError> {
    load_from(path, limits, None, false)
}

fn load_from(
    path: &Path,
    limits: &Limits,
    keeps: Option<std::collections::BTreeMap<GroupKind, super::projection::Keep>>,
    fast: bool,
) -> Result<Inventory, SnapshotError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| plain_err(&name, format!("cannot read snapshot: {e}")))?;
    let mut sink = Sink::new(&name, limits);
    sink.fast = fast;
    if let Some(k) = keeps {
        sink.inv.project(k);
    }
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, "", &mut files)
            .map_err(|e| plain_err(&name, format!("cannot read snapshot directory: {e}")))?;
        if files.is_empty() {
            return Err(plain_err(&name, "the snapshot directory holds no files".to_string()));
        }
        load_tree(files.into_iter().map(|(rel, p)| (rel, Data::Disk(p))).collect(), &name, &mut sink)?;
    } else {
        if meta.len() > STREAM_JSON_BYTES && starts_like_json(path) {
            if meta.len() > limits.max_snapshot_bytes {
                return Err(plain_err(&name, limits.snapshot_too_large()));
            }
            use std::io::{Read as _, Seek as _};
            let open = || -> std::io::Result<std::fs::File> {
                let mut file = std::fs::File::open(path)?;
                // A leading byte-order mark is skipped.
                let mut head = [0u8; 3];
                let n = file.read(&mut head)?;
                if n < 3 || head != BOM {
                    file.rewind()?;
                }
                Ok(file)
            };
            let file = open().map_err(|e| plain_err(&name, format!("cannot read: {e}")))?;
            stream::load(file.take(limits.max_snapshot_bytes), &name, None, &mut sink)?;
            return Ok(sink.finish());
        }
        let mut bytes = read_file(path, limits)?;
        let mut shown = name.clone();
        let mut kind = archive::sniff(&bytes);
        if kind == Some("tar.gz") {
            // A gzipped tar, or one gzipped file (`pods.json.gz`): read as the file it holds,
            // named without `.gz`.
            bytes = archive::gunzip(&bytes, limits.max_snapshot_bytes).map_err(|m| plain_err(&name, m))?;
            kind = archive::is_tar(&bytes).then_some("tar");
            if kind.is_none() {
                shown = name.strip_suffix(".gz").unwrap_or(&name).to_string();
            }
        }
        if let Some(kind) = kind {
            let entries = archive::read(kind, &bytes, limits.max_snapshot_bytes).map_err(|m| plain_err(&name, m))?;
            drop(bytes);
            if entries.is_empty() {
                return Err(plain_err(&name, "the archive holds no files".to_string()));
            }
            load_tree(entries.into_iter().map(|(rel, b)| (rel, Data::Mem(b))).collect(), &name, &mut sink)?;
        } else {
            let text = String::from_utf8(bytes)
                .map_err(|e| plain_err(&shown, format!("not UTF-8 text: {}", e.utf8_error())))?;
            load_text(&text, &shown, None, &mut sink)?;
        }
    }
    Ok(sink.finish())
}

/// Parses one snapshot file's contents (YAML or JSON, as `load` accepts); `name` is used in
/// errors. The size limit applies to `bytes`. For callers that already hold the bytes (and
/// for fuzzing).
pub fn parse_bytes(bytes: &[u8], name: &str, limits: &Limits) -> Result<Inventory, SnapshotError> {
    let mut sink = Sink::new(name, limits);
    let too_big = u64::try_from(bytes.len()).map_or(true, |n| n > limits.max_snapshot_bytes);
    if too_big {
        return Err(plain_err(name, limits.snapshot_too_large()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| plain_err(name, format!("not UTF-8 text: {e}")))?;
    load_text(text, name, None, &mut sink)?;
    Ok(sink.finish())
}

/// Reads `bytes` the way a JSON file over the streaming size is read (see `stream`), with
/// top-level values over `small` bytes read element by element. For fuzzing: it puts small
/// inputs on the path only large files take.
#[doc(hidden)]
pub fn parse_stream(bytes: &[u8], name: &str, limits: &Limits, small: usize) -> Result<Inventory, SnapshotError> {
    let mut sink = Sink::new(name, limits);
    stream::load_split(bytes, name, None, &mut sink, small)?;
    Ok(sink.finish())
}

/// The kind and apiVersion that objects written without them are taken to have.
type Hint = Option<(&'static str, &'static str)>;

/// Where loaded objects go, and the object limit they count against.
struct Sink<'a> {
    inv: Inventory,
    limits: &'a Limits,
    count: usize,
    /// In a capture tree: objects that cannot be read are skipped and listed, not fatal.
    lenient: bool,
    /// Set when an error must stop the whole load (the object limit).
    fatal: bool,
    /// Lists read (an empty list is still evidence that its kind was captured).
    lists: usize,
    /// The file being read, relative to the tree (for skipped entries).
    file: String,
    /// Things read from the current file that are not Kubernetes objects.
    non_objects: usize,
    /// Read with the fast paths (one-pass JSON scan, the block-YAML reader); without, every
    /// text is read the way it was before they existed (to compare the two in tests).
    fast: bool,
}

impl<'a> Sink<'a> {
    fn new(name: &str, limits: &'a Limits) -> Self {
        Self {
            inv: Inventory::new(Origin::Snapshot(name.to_string()), false),
            limits,
            count: 0,
            lenient: false,
            fatal: false,
            lists: 0,
            file: String::new(),
            non_objects: 0,
            fast: true,
        }
    }

    fn finish(self) -> Inventory {
        let mut inv = self.inv;
        inv.finish();
        // A snapshot captured with `-n` holds nothing outside its namespaces; one edited to
        // hold more is read as what it says it is.
        if let Some(view) = inv.namespaces().cloned() {
            inv.restrict(&view);
        }
        inv
    }

    /// Adds one object read from the file (see [`Inventory::ingest`]); objects derived from
    /// it, such as the release a Helm Secret stores, do not count. `what` names it in errors.
    fn ingest(&mut self, value: Value, what: &str) -> Result<(), String> {
        let ready = ready(self.inv.projection(), value);
        self.commit(ready, what)
    }

    /// Adds one object [`ready`] made: exactly what [`Sink::ingest`] would have added.
    fn commit(&mut self, ready: Ready, what: &str) -> Result<(), String> {
        if self.lenient && !ready.looks_like_object {
            self.non_objects += 1;
            return Ok(());
        }
        if self.count >= self.limits.max_objects {
            self.fatal = true;
            return Err(self.limits.too_many_objects());
        }
        self.count += 1;
        let id = ready.id;
        match self.inv.commit(ready.prepared) {
            Ok(()) => Ok(()),
            Err(m) if self.lenient => {
                self.count -= 1;
                let path = self.file.clone();
                self.inv.input.skipped.push(SkippedInput { path, reason: format!("{what}{id}: {m}"), object: true });
                Ok(())
            }
            Err(m) => Err(format!("{what}{id}: {m}")),
        }
    }

    fn skip_file(&mut self, rel: &str, reason: String) {
        self.inv.input.skipped.push(SkippedInput { path: rel.to_string(), reason, object: false });
    }
}

/// One object read and made ready away from the sink (see [`Inventory::prepare`]), so that
/// many can be made ready at once on several threads; [`Sink::commit`] adds it.
struct Ready {
    looks_like_object: bool,
    /// How errors name it ([`identity`]).
    id: String,
    prepared: super::Prepared,
}

/// Makes one object ready for [`Sink::commit`] with the inventory's projection.
fn ready(projection: Option<&Projection>, value: Value) -> Ready {
    Ready {
        looks_like_object: looks_like_object(&value),
        id: identity(&value),
        prepared: Inventory::prepare(projection, value),
    }
}

/// What is kept of each kind (see [`Inventory::project`]).
type Projection = std::collections::BTreeMap<GroupKind, super::projection::Keep>;

/// True for a mapping that has a Kubernetes object's shape (`kind` or `metadata`).
fn looks_like_object(v: &Value) -> bool {
    v.get("kind").is_some_and(Value::is_string) || v.get("metadata").is_some_and(Value::is_object)
}

/// [`identity`] of an object that cannot be parsed whole: its `kind` and `metadata` are read
/// while the rest is skipped without recursion.
fn peek_identity(text: &str) -> String {
    #[derive(Deserialize)]
    struct Meta {
        name: Option<String>,
        namespace: Option<String>,
    }
    #[derive(Deserialize)]
    struct Peek {
        kind: Option<String>,
        metadata: Option<Meta>,
    }
    let Ok(p) = serde_json::from_str::<Peek>(text) else { return String::new() };
    let meta = p.metadata.map(|m| serde_json::json!({"name": m.name, "namespace": m.namespace}));
    identity(&serde_json::json!({"kind": p.kind, "metadata": meta}))
}

/// ` (Pod default/web-1)`: how an object is named in errors, as far as it names itself.
fn identity(v: &Value) -> String {
    let Some(kind) = v.get("kind").and_then(Value::as_str) else { return String::new() };
    let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
    match (v.pointer("/metadata/name").and_then(Value::as_str), ns) {
        (Some(n), Some(ns)) => format!(" ({kind} {ns}/{n})"),
        (Some(n), None) => format!(" ({kind} {n})"),
        _ => String::new(),
    }
}

fn plain_err(name: &str, message: String) -> SnapshotError {
    SnapshotError { path: name.to_string(), line: 0, column: 0, message }
}

/// JSON files larger than this are read as a stream (never held whole); smaller ones are
/// read at once (faster, and `---`-separated documents are accepted).
const STREAM_JSON_BYTES: u64 = 32 << 20;

/// The UTF-8 byte-order mark some Windows tools write at the start of a text file.
const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// True when the file's first non-blank byte (after a byte-order mark) opens a JSON object
/// or array.
fn starts_like_json(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 4096];
    let Ok(n) = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) else { return false };
    let head = head[..n].strip_prefix(&BOM).unwrap_or(&head[..n]);
    head.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b == b'{' || *b == b'[')
}

/// Reads a file of at most the snapshot file limit.
fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>, SnapshotError> {
    use std::io::Read as _;
    let name = path.display().to_string();
    let max = limits.max_snapshot_bytes;
    let file = std::fs::File::open(path).map_err(|e| plain_err(&name, format!("cannot read: {e}")))?;
    // Read at most one byte past the limit: the size on disk may be unknown (a pipe, a
    // device such as /dev/zero) or change while reading.
    // Sized from the file's length when known (`take` hides it from `read_to_end`, which
    // would otherwise grow the buffer by copying it).
    let size = file.metadata().map_or(0, |m| m.len()).min(max.saturating_add(1));
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| plain_err(&name, format!("cannot read: {e}")))?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max) {
        return Err(plain_err(&name, limits.snapshot_too_large()));
    }
    Ok(bytes)
}

/// Every regular file under `dir`, with its path relative to the tree's root. Symbolic
/// links are not followed (bundles link logs to each other; a link may point anywhere).
fn collect_files(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<(String, PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let t = e.file_type().ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), e.path(), t))
        })
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, path, t) in entries {
        let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        if t.is_dir() {
            collect_files(&path, &r, out)?;
        } else if t.is_file() {
            out.push((r, path));
        }
    }
    Ok(())
}

/// A file of a capture tree: on disk, or already read from an archive.
enum Data {
    Disk(PathBuf),
    Mem(Vec<u8>),
}

/// Reads a capture tree (a directory or an archive): markers first, then every file in name
/// order; what holds no object is listed, not fatal.
fn load_tree(mut entries: Vec<(String, Data)>, name: &str, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    sink.lenient = true;
    let is_yaml_or_json = |rel: &str| {
        let l = rel.to_ascii_lowercase();
        l.ends_with(".json") || l.ends_with(".yaml") || l.ends_with(".yml")
    };
    for (rel, data) in entries {
        let shown = format!("{name}/{rel}");
        let marker = bundle::marker(&rel);
        let file_name = rel.rsplit('/').next().unwrap_or(&rel);
        if marker.is_none() && !is_yaml_or_json(&rel) {
            sink.skip_file(&rel, "not a .json or .yaml file".to_string());
            continue;
        }
        if file_name.starts_with("._") {
            sink.skip_file(&rel, "macOS metadata file".to_string());
            continue;
        }
        let bytes = match data {
            Data::Mem(b) => b,
            Data::Disk(p) => read_file(&p, sink.limits)?,
        };
        let Ok(text) = String::from_utf8(bytes) else {
            sink.skip_file(&rel, "not UTF-8 text".to_string());
            continue;
        };
        if let Some(layout) = marker {
            sink.inv.input.layout.get_or_insert(layout.name());
            if let Some(v) = first_document(&text, &shown).as_ref().and_then(bundle::server_version) {
                sink.inv.server_version.get_or_insert(v);
            }
            continue;
        }
        if matches!(file_name, "version.yaml" | "metadata.yaml")
            && let Some(doc) = first_document(&text, &shown)
            && let Some(layout) = bundle::marker_by_content(&rel, &doc)
        {
            sink.inv.input.layout.get_or_insert(layout.name());
            if let Some(v) = bundle::server_version(&doc) {
                sink.inv.server_version.get_or_insert(v);
            }
            if let Some(t) = doc.get("bundlecreatedat").and_then(Value::as_str) {
                sink.inv.captured_at.get_or_insert(t.to_string());
            }
            continue;
        }
        let (count, lists, skipped) = (sink.count, sink.lists, sink.inv.input.skipped.len());
        sink.file.clone_from(&rel);
        sink.non_objects = 0;
        match load_text(&text, &shown, bundle::kind_hint(&rel), sink) {
            Err(e) if sink.fatal => return Err(e),
            Err(e) => {
                let at = if e.line == 0 { String::new() } else { format!("line {}: ", e.line) };
                sink.skip_file(&rel, format!("{at}{}", e.message));
            }
            Ok(()) if sink.count == count && sink.lists == lists && sink.inv.input.skipped.len() == skipped => {
                sink.skip_file(&rel, "not Kubernetes objects".to_string());
            }
            Ok(()) => {}
        }
    }
    Ok(())
}

/// The first document of a small marker file, if it parses.
fn first_document(text: &str, name: &str) -> Option<Value> {
    parse_documents(text, name).ok()?.into_iter().next().map(|(_, v)| v)
}

/// Parses the documents of one snapshot text; `name` is used in errors. JSON may be a
/// stream of documents, JSON lines, or documents separated by `---` lines; a top-level JSON
/// array gives its items. YAML documents are parsed one at a time.
pub fn parse_documents(text: &str, name: &str) -> Result<Vec<(u64, Value)>, SnapshotError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut docs = Vec::new();
    if looks_like_json(text) {
        for (offset, chunk) in split_json_separators(text) {
            for v in serde_json::Deserializer::from_str(chunk).into_iter::<Value>() {
                match v {
                    Ok(Value::Array(items)) => docs.extend(items.into_iter().map(|i| (0, i))),
                    Ok(v) => docs.push((0, v)),
                    Err(e) => return Err(json_error(name, offset, &e)),
                }
            }
        }
        return Ok(docs);
    }
    struct Collect(Vec<(u64, Value)>);
    impl super::documents::Docs for Collect {
        type Ready = Value;
        fn fast(&self) -> bool {
            true
        }
        fn prepare(&self, v: Value) -> Value {
            v
        }
        fn take(&mut self, line: u64, v: Value) -> Result<(), SnapshotError> {
            self.0.push((line, v));
            Ok(())
        }
    }
    let mut collect = Collect(docs);
    yaml_documents(text, name, &mut collect)?;
    Ok(collect.0)
}

fn looks_like_json(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{') || t.starts_with('[')
}

fn json_error(name: &str, line_offset: u64, e: &serde_json::Error) -> SnapshotError {
    SnapshotError {
        path: name.to_string(),
        line: e.line() as u64 + line_offset,
        column: e.column() as u64,
        message: format!("invalid JSON: {e}"),
    }
}

fn load_text(text: &str, name: &str, hint: Hint, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    // A leading byte-order mark is not part of the text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if looks_like_json(text) {
        for (offset, chunk) in split_json_separators(text) {
            json::load_json(chunk, name, offset, hint, sink)?;
        }
        return Ok(());
    }
    let mut docs = YamlDocs { sink, name, hint, i: 0 };
    yaml_documents(text, name, &mut docs)
}

/// Where the YAML documents of one text go: plain objects are made ready on the reading
/// threads, anything else is added by `load_doc` in order.
struct YamlDocs<'s, 'a> {
    sink: &'s mut Sink<'a>,
    name: &'s str,
    hint: Hint,
    /// Documents taken so far.
    i: usize,
}

/// A YAML document made ready.
enum YamlReady {
    Object(Box<Ready>),
    Doc(Value),
}

impl super::documents::Docs for YamlDocs<'_, '_> {
    type Ready = YamlReady;

    fn fast(&self) -> bool {
        self.sink.fast
    }

    fn prepare(&self, mut v: Value) -> YamlReady {
        if is_plain_object(&v) {
            fill_identity(&mut v, self.hint);
            YamlReady::Object(Box::new(ready(self.sink.inv.projection(), v)))
        } else {
            YamlReady::Doc(v)
        }
    }

    fn take(&mut self, line: u64, r: YamlReady) -> Result<(), SnapshotError> {
        self.i += 1;
        let what = format!("document {}", self.i);
        let result = match r {
            YamlReady::Object(r) => self.sink.commit(*r, &what),
            YamlReady::Doc(doc) => load_doc(doc, &what, self.hint, self.sink),
        };
        result.map_err(|m| SnapshotError {
            path: self.name.to_string(),
            line,
            column: u64::from(line != 0),
            message: m,
        })
    }
}

impl Sink<'_> {
    /// Lists an object of the file `name` (or of the tree's current file) as skipped.
    fn skip_object(&mut self, what: &str, id: &str, reason: &str, name: &str) {
        let path = if self.file.is_empty() { name.to_string() } else { self.file.clone() };
        self.inv.input.skipped.push(SkippedInput { path, reason: format!("{what}{id}: {reason}"), object: true });
    }

    /// A list was read: its kind (when known) was captured, even with no items.
    fn note_list(&mut self, defaults: Option<(&str, &str)>) {
        self.lists += 1;
        if let Some((kind, av)) = defaults {
            self.inv.set_state(GroupKind::from_api_version(av, kind), KindState::Collected(Vec::new()));
        }
    }
}

/// True for a document [`load_doc`] adds as one object (with its hint): an object that is
/// not a list and not the `SnapshotInfo`.
fn is_plain_object(v: &Value) -> bool {
    let Some(m) = v.as_object() else { return false };
    let kind = m.get("kind").and_then(Value::as_str).unwrap_or_default();
    !(kind.ends_with("List") || kind == "SnapshotInfo" || (kind.is_empty() && m.contains_key("items")))
}

/// Adds one document: an object, a `…List` (its `items` may be `null`), a bare sequence of
/// objects, or the `SnapshotInfo`. `hint` gives objects without `kind` theirs.
fn load_doc(doc: Value, what: &str, hint: Hint, sink: &mut Sink<'_>) -> Result<(), String> {
    let mut doc = match doc {
        Value::Null => return Ok(()),
        Value::Array(items) => {
            for (j, mut item) in items.into_iter().enumerate() {
                fill_identity(&mut item, hint);
                sink.ingest(item, &format!("{what}, object {}", j + 1))?;
            }
            return Ok(());
        }
        Value::Object(_) => doc,
        _ if sink.lenient => {
            sink.non_objects += 1;
            return Ok(());
        }
        _ => return Err(format!("{what} is not a Kubernetes object")),
    };
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    if kind == "SnapshotInfo" && api_version == INFO_API_VERSION {
        let info: InfoDoc = serde_json::from_value(doc).map_err(|e| format!("SnapshotInfo: {e}"))?;
        return apply_info(info, &mut sink.inv);
    }
    if (kind.ends_with("List") || kind.is_empty()) && doc.get("items").is_some_and(|i| i.is_array() || i.is_null()) {
        let defaults = list_defaults(&doc);
        let items = match doc.as_object_mut().and_then(|m| m.remove("items")) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let defaults = defaults.as_ref().map(|(k, a)| (k.as_str(), a.as_str())).or(hint);
        sink.note_list(defaults);
        let of = if kind.is_empty() { "list".to_string() } else { kind };
        for (j, mut item) in items.into_iter().enumerate() {
            fill_identity(&mut item, defaults);
            sink.ingest(item, &format!("object {} of the {of}", j + 1))?;
        }
        return Ok(());
    }
    if kind.ends_with("List") && doc.get("items").is_some() {
        return Err(format!("{what}: items of {kind} is not a list"));
    }
    fill_identity(&mut doc, hint);
    sink.ingest(doc, what)
}

fn apply_info(info: InfoDoc, inv: &mut Inventory) -> Result<(), String> {
    inv.input.declarations += 1;
    if info.server_version.is_some() {
        inv.server_version = info.server_version;
    }
    if info.captured_at.is_some() {
        inv.captured_at = info.captured_at;
    }
    inv.input.declared_resources += info.resources.len();
    if !info.resources.is_empty() {
        inv.authoritative = true;
    }
    if let Some(ns) = info.namespaces {
        for n in &ns {
            crate::resource::check_namespace_name(n).map_err(|e| format!("SnapshotInfo: namespaces: {e}"))?;
        }
        inv.set_view(ns.into_iter().collect());
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
    if let Some(t) = &inv.captured_at {
        info["capturedAt"] = Value::String(t.clone());
    }
    if let Some(ns) = inv.namespaces() {
        info["namespaces"] = json!(ns);
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
