//! The inventory: what the cluster holds, as far as the checks need it, from whichever
//! source (an offline snapshot now, the live API later). The engine only ever sees this.
//!
//! Each kind is in one of three states: collected (possibly empty), absent (the cluster does
//! not serve it — its checks are *not applicable*), or failed (could not be read — its
//! checks *could not be evaluated*). Objects are normalised on the way in: Secret values are
//! blanked (keys kept; a TLS Secret's `tls.crt` is first summarised, see `certs`), `managedFields` entries keep only manager, apiVersion, time and
//! subresource, and `last-applied-configuration` is removed from Secrets, so no later stage
//! can leak them.
//!
//! A run limited to namespaces (`-n`) has a partial view (`view`): outside it, an object that
//! is not in the inventory is unknown, not missing ([`Lookup`]).
//!
//! Layer: inventory. Owns the sources (`live`, `snapshot`), field projection, partial views and
//! Helm release decoding (`helm`, part of ingestion; `pending`, the revision an upgrade in
//! progress applies). Imports the catalog and the ground layer.

pub mod archive;
mod auth_provider;
pub mod bundle;
pub mod certs;
pub mod connect;
pub mod documents;
pub mod helm;
mod images;
pub mod live;
pub mod manifest;
pub mod metrics;
mod notes;
pub mod pending;
mod prepare;
pub mod projection;
pub mod redact;
pub mod snapshot;
mod view;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::resource::{Change, GroupKind, ObjectRef};

use notes::dedupe;
pub use notes::{InputNotes, SkippedInput, epoch_seconds, now_rfc3339, rfc3339, rfc3339_signed};
pub use prepare::Prepared;
pub(crate) use snapshot::batch::par_map;
pub use view::Lookup;

/// The name given to an object without `metadata.name` (parentheses are never in a name).
pub const UNNAMED: &str = "(unnamed)";

/// One object, with its identity pulled out for quick access.
///
/// The body is kept as compact, normalised JSON text and parsed when a check reads it: a
/// parsed `serde_json::Value` tree costs about ten times the text it came from, and a large
/// cluster's inventory must stay below the bytes received.
#[derive(Debug, Clone)]
pub struct Object {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// With a planned change (`--manifest`): live, planned or deleted.
    pub change: Option<Change>,
    /// With a planned change: the template it was rendered from (Helm's `# Source:`).
    pub source: Option<String>,
    status: bool,
    /// The controlling (else first) owner: apiVersion, kind, name.
    owner: Option<Box<(String, String, String)>>,
    raw: Box<str>,
}

impl Object {
    /// Builds an object from JSON, normalising it; `Err` names the missing identity field.
    pub fn from_value(mut value: Value) -> Result<Self, String> {
        let api_version = str_at(&value, &["apiVersion"]).ok_or("object has no apiVersion")?.to_string();
        let kind = str_at(&value, &["kind"]).ok_or("object has no kind")?.to_string();
        // A manifest may hold objects without a name: review kinds (TokenReview,
        // SubjectAccessReview) are only ever created, and `generateName` leaves the name to the
        // server. They are kept, under a name no API object can have.
        let name = match str_at(&value, &["metadata", "name"]) {
            Some(n) => n.to_string(),
            None => UNNAMED.to_string(),
        };
        let namespace = str_at(&value, &["metadata", "namespace"]).map(ToString::to_string);
        let status = value.get("status").is_some();
        let owner = controller_ref(&value).map(|r| {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            Box::new((s("apiVersion"), s("kind"), s("name")))
        });
        normalise(&mut value, &kind);
        // Serialising a `Value` cannot fail (its map keys are strings).
        let raw = serde_json::to_string(&value).unwrap_or_default().into_boxed_str();
        Ok(Self { api_version, kind, namespace, name, change: None, source: None, status, owner, raw })
    }

    /// The object, parsed. The text was produced by `serde_json` from a `Value`, so it always
    /// parses; `Null` would only appear if that invariant broke.
    #[must_use]
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.raw).unwrap_or(Value::Null)
    }

    /// The normalised object as compact JSON.
    #[must_use]
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Group and kind.
    #[must_use]
    pub fn gk(&self) -> GroupKind {
        GroupKind::from_api_version(&self.api_version, &self.kind)
    }

    /// How reports name it.
    #[must_use]
    pub fn obj_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            api_version: self.api_version.clone(),
            change: self.change,
            source: self.source.clone(),
        }
    }

    /// `metadata.labels` as a map.
    #[must_use]
    pub fn labels(&self) -> Option<BTreeMap<String, String>> {
        labels_of(&self.value())
    }

    /// True when the object has a `status` (a planned object the cluster does not have yet has none).
    #[must_use]
    pub fn has_status(&self) -> bool {
        self.status
    }

    /// True when `metadata.ownerReferences` is non-empty.
    #[must_use]
    pub fn is_owned(&self) -> bool {
        self.owner.is_some()
    }

    /// The owner (controller, else first owner reference): its group and kind, and name.
    #[must_use]
    pub fn owner(&self) -> Option<(GroupKind, &str)> {
        self.owner.as_ref().map(|o| (GroupKind::from_api_version(&o.0, &o.1), o.2.as_str()))
    }

    /// `metadata.resourceVersion`, for choosing among copies of one object.
    fn resource_version(&self) -> Option<String> {
        str_at(&self.value(), &["metadata", "resourceVersion"]).map(ToString::to_string)
    }
}

/// Why node checks cannot run on a capture without Nodes.
pub const NO_NODES: &str =
    "the input holds no Nodes, and every cluster has some: Nodes were not collected (capture them too)";

/// `metadata.labels` of a parsed object.
#[must_use]
pub fn labels_of(v: &Value) -> Option<BTreeMap<String, String>> {
    let m = v.get("metadata")?.get("labels")?.as_object()?;
    Some(m.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string()))).collect())
}

/// An object's owner reference that matters: its controller, else its first owner.
#[must_use]
pub fn controller_ref(value: &Value) -> Option<&Value> {
    let refs = value.pointer("/metadata/ownerReferences").and_then(Value::as_array)?;
    refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)).or_else(|| refs.first())
}

/// Follows a path of object keys to a string.
#[must_use]
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn normalise(value: &mut Value, kind: &str) {
    // A Helm release stored by the ConfigMap driver holds the same payload (values, chart
    // defaults, rendered Secrets) as one stored in a Secret: treat it exactly like one.
    let secret_like = kind == "Secret" || crate::inventory::helm::driver_of(value).is_some();
    let Some(obj) = value.as_object_mut() else { return };
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(mf) = meta.get_mut("managedFields").and_then(Value::as_array_mut) {
            // Which writer used which apiVersion, and when, is what removed-API detection needs.
            for entry in mf {
                if let Some(e) = entry.as_object_mut() {
                    e.retain(|k, _| matches!(k.as_str(), "manager" | "apiVersion" | "time" | "subresource"));
                }
            }
        }
        if secret_like && let Some(ann) = meta.get_mut("annotations") {
            // Tools copy a Secret's data into annotations (`last-applied-configuration`,
            // `kapp.k14s.io/original`, `objectset.rio.cattle.io/applied`, …): keep the keys,
            // never a value. The last-applied copy is dropped outright, as before.
            match ann.as_object_mut() {
                Some(ann) => {
                    ann.remove("kubectl.kubernetes.io/last-applied-configuration");
                    for v in ann.values_mut() {
                        *v = Value::String(String::new());
                    }
                }
                None => *ann = blank(ann),
            }
        }
    }
    if secret_like {
        // Only the fields a Secret has; anything else a malformed one carries could be data.
        // A TLS Secret's certificate is summarised first (subject and validity, never
        // `tls.key`), into the one field of ours a Secret may carry.
        if kind == "Secret" {
            certs::summarise_secret(obj);
            obj.retain(|k, _| {
                matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "type" | "immutable" | "data" | "stringData")
                    || k == certs::TLS_FIELD
            });
        }
        for field in ["data", "stringData", "binaryData"] {
            if let Some(d) = obj.get_mut(field) {
                *d = blank(d);
            }
        }
    }
}

/// A Secret field with every value removed, whatever its shape: a map keeps its keys (values
/// `""`), `null` stays `null`, anything else (a string, a list, a number) becomes `""`.
fn blank(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.keys().map(|k| (k.clone(), Value::String(String::new()))).collect()),
        Value::Null => Value::Null,
        _ => Value::String(String::new()),
    }
}

/// What is known about one kind.
#[derive(Debug, Clone)]
pub enum KindState {
    /// Collected; the list may be empty.
    Collected(Vec<Object>),
    /// The cluster does not serve this kind.
    Absent,
    /// Could not be read; the reason says why.
    Failed(String),
}

/// Where the inventory came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An offline snapshot file or directory.
    Snapshot(String),
    /// A live cluster.
    Live {
        /// The kubeconfig context's name (`in-cluster` for a Pod's service account).
        context: String,
        /// The API server URL, without userinfo.
        server: String,
    },
    /// No cluster: the planned manifests alone (`check --no-cluster`).
    Manifests(String),
}

/// Everything collected.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// `gitVersion` from `/version`, when known.
    pub server_version: Option<String>,
    /// Where it came from.
    pub origin: Origin,
    kinds: BTreeMap<GroupKind, KindState>,
    /// Per kind: (namespace, name) → position in its list; built by `finish`.
    index: std::collections::HashMap<GroupKind, std::collections::HashMap<(Option<String>, String), usize>>,
    /// Every `image` string in the objects of kinds that carry a pod spec, built with
    /// `index`; `None` before, or when one could not be read plainly (see
    /// [`Inventory::any_image`]).
    images: Option<std::collections::HashSet<Box<str>>>,
    /// True when `kinds` is authoritative (a live collection, or a snapshot that says which
    /// kinds it collected). Otherwise a built-in kind the snapshot does not mention is taken
    /// as empty and a custom kind as absent.
    authoritative: bool,
    /// The planned change this inventory is the future state of (`check --manifest`).
    pub change: Option<Box<manifest::ChangeSet>>,
    /// True with `--no-cluster`: only the planned objects are known, so an object that is
    /// not among them may still exist and no relational check may conclude it does not.
    pub no_cluster: bool,
    /// From live discovery: the group versions serving each kind asked for (empty: none).
    pub served: BTreeMap<GroupKind, Vec<String>>,
    empty: Vec<Object>,
    /// What reading the input noticed (snapshots only).
    pub input: InputNotes,
    /// Fields to keep per kind as objects are ingested (kinds not named keep only
    /// `apiVersion`, `kind` and `metadata`); `None` keeps everything.
    projection: Option<BTreeMap<GroupKind, projection::Keep>>,
    /// When the data was captured (RFC 3339), when the source says.
    pub captured_at: Option<String>,
    /// The latest timestamp seen in Pods, Nodes and Events: a lower bound of the capture
    /// time when the source does not state it.
    latest_seen: Option<String>,
    /// True once an object read from the cluster (with `status` or server-set metadata) was
    /// ingested: a capture, not a folder of plain manifests.
    captured: bool,
    /// The namespaces namespaced kinds were read in (`-n`, or a snapshot captured so);
    /// `None` for the whole cluster. See the `view` module.
    namespaces: Option<BTreeSet<String>>,
}

impl Inventory {
    /// An empty inventory.
    #[must_use]
    pub fn new(origin: Origin, authoritative: bool) -> Self {
        Self {
            server_version: None,
            origin,
            kinds: BTreeMap::new(),
            index: std::collections::HashMap::new(),
            images: None,
            authoritative,
            change: None,
            no_cluster: false,
            served: BTreeMap::new(),
            empty: Vec::new(),
            input: InputNotes::default(),
            projection: None,
            captured_at: None,
            latest_seen: None,
            captured: false,
            namespaces: None,
        }
    }

    /// Adds an object under its kind.
    pub fn push(&mut self, obj: Object) {
        let entry = self.kinds.entry(obj.gk()).or_insert_with(|| KindState::Collected(Vec::new()));
        match entry {
            KindState::Collected(v) => v.push(obj),
            other => *other = KindState::Collected(vec![obj]),
        }
    }

    /// Adds an object read from a source, plus the `HelmRelease` it stores when it is a Helm
    /// release Secret or ConfigMap (decoded here, before normalisation blanks its data).
    pub fn ingest(&mut self, value: Value) -> Result<(), String> {
        let prepared = Self::prepare(self.projection.as_ref(), value);
        self.commit(prepared)
    }

    /// The projection set by [`Inventory::project`], for [`Inventory::prepare`].
    #[must_use]
    pub fn projection(&self) -> Option<&BTreeMap<GroupKind, projection::Keep>> {
        self.projection.as_ref()
    }

    /// Keeps only the fields `keeps` names of each object ingested from now on (as the live
    /// source does), so a large snapshot is held at the size of what the rules read.
    pub fn project(&mut self, keeps: BTreeMap<GroupKind, projection::Keep>) {
        self.projection = Some(keeps);
    }

    /// When the data was captured: as the source states it, else the latest timestamp seen
    /// in Pods, Nodes and Events (a Node's heartbeat is at most minutes old). `None` when
    /// neither is known.
    #[must_use]
    pub fn capture_time(&self) -> Option<String> {
        self.captured_at.clone().or_else(|| self.latest_seen.clone())
    }

    /// Records a kind's state (collected-empty, absent or failed).
    pub fn set_state(&mut self, gk: GroupKind, state: KindState) {
        match (self.kinds.get_mut(&gk), state) {
            // Objects already loaded win over a declared "collected, empty".
            (Some(KindState::Collected(existing)), KindState::Collected(new)) => existing.extend(new),
            (_, state) => {
                self.kinds.insert(gk, state);
            }
        }
    }

    /// Sorts objects by namespace and name so every report is deterministic, and indexes
    /// them for [`Inventory::get`].
    pub fn finish(&mut self) {
        let helm = crate::inventory::helm::group_kind();
        match self.kinds.remove(&helm) {
            Some(KindState::Collected(v)) => {
                self.kinds.insert(helm, KindState::Collected(crate::inventory::helm::prune(v)));
            }
            Some(other) => {
                self.kinds.insert(helm, other);
            }
            // Releases are read from Secrets and ConfigMaps: no releases there means none.
            None => {
                let secrets = GroupKind::new("", "Secret");
                let derived = match self.state(&secrets) {
                    KindView::Collected(_) => Some(KindState::Collected(Vec::new())),
                    KindView::Failed(r) => Some(KindState::Failed(format!("cannot read Secrets: {r}"))),
                    KindView::Absent => None,
                };
                if let Some(d) = derived {
                    self.kinds.insert(helm, d);
                }
            }
        }
        for state in self.kinds.values_mut() {
            if let KindState::Collected(v) = state {
                v.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
                dedupe(v, &mut self.input);
            }
        }
        self.reindex();
    }

    /// Rebuilds the (namespace, name) index of every collected kind.
    fn reindex(&mut self) {
        self.index.clear();
        let mut images: Option<std::collections::HashSet<&str>> = Some(std::collections::HashSet::new());
        for (gk, state) in &self.kinds {
            if let KindState::Collected(v) = state {
                let idx = v.iter().enumerate().map(|(i, o)| ((o.namespace.clone(), o.name.clone()), i)).collect();
                self.index.insert(gk.clone(), idx);
                if crate::resource::WORKLOAD_KINDS
                    .iter()
                    .chain([&("apps", "ReplicaSet")])
                    .any(|(g, k)| gk.group == *g && gk.kind == *k)
                {
                    for o in v {
                        images = images.and_then(|mut set| images::image_strings(o.raw(), &mut set).then_some(set));
                    }
                }
            }
        }
        self.images = images.map(|set| set.into_iter().map(Box::from).collect());
    }

    /// Whether any object of a kind that carries a pod spec has an `image` for which `pred`
    /// holds; `None` when not known (the inventory was not finished, or an image string holds
    /// an escape): then each object must be asked. A source of images that no image in the
    /// cluster can match looks at no object at all (a snapshot may hold 100,000 Pods).
    #[must_use]
    pub fn any_image(&self, pred: impl Fn(&str) -> bool) -> Option<bool> {
        self.images.as_ref().map(|set| set.iter().any(|i| pred(i)))
    }

    /// The state of a kind, applying the snapshot defaults described on [`Inventory`]. A
    /// capture without Nodes did not capture them (a cluster always has Nodes); a live
    /// collection or a snapshot that lists its kinds says so itself, and plain manifests
    /// (no object read from a cluster) are not a capture.
    #[must_use]
    pub fn state(&self, gk: &GroupKind) -> KindView<'_> {
        match self.kinds.get(gk) {
            Some(KindState::Collected(v)) if v.is_empty() && is_node(gk) && !self.authoritative && self.captured => {
                KindView::Failed(NO_NODES)
            }
            None if is_node(gk) && !self.authoritative && self.captured => KindView::Failed(NO_NODES),
            Some(KindState::Collected(v)) => KindView::Collected(v),
            Some(KindState::Absent) => KindView::Absent,
            Some(KindState::Failed(r)) => KindView::Failed(r),
            None if self.authoritative => KindView::Failed("not collected"),
            None if gk.is_builtin() => KindView::Collected(&self.empty),
            None => KindView::Absent,
        }
    }

    /// True when the kind has no objects only because a non-authoritative snapshot did not
    /// capture it: an empty list there proves nothing (a `kubectl get all` dump has no
    /// Secrets). Relational checks that would conclude "does not exist" must not.
    #[must_use]
    pub fn unknown_if_empty(&self, gk: &GroupKind) -> bool {
        self.no_cluster || (!self.authoritative && !self.kinds.contains_key(gk))
    }

    /// Takes every collected object out (for building the future state of a change).
    pub fn take_objects(&mut self) -> Vec<Object> {
        let mut out = Vec::new();
        for state in self.kinds.values_mut() {
            if let KindState::Collected(v) = state {
                out.append(v);
            }
        }
        self.index.clear();
        out
    }

    /// True when the source stated this kind's state (collected, absent or failed): a live
    /// collection states every kind it was asked for, a snapshot the kinds its `SnapshotInfo`
    /// lists and those it holds objects of.
    #[must_use]
    pub fn declares(&self, gk: &GroupKind) -> bool {
        self.kinds.contains_key(gk)
    }

    /// True when the kinds listed are authoritative (see [`Inventory::state`]).
    #[must_use]
    pub fn is_authoritative(&self) -> bool {
        self.authoritative
    }

    /// Objects of a kind (empty when absent or failed).
    #[must_use]
    pub fn objects(&self, gk: &GroupKind) -> &[Object] {
        match self.state(gk) {
            KindView::Collected(v) => v,
            _ => &[],
        }
    }

    /// Finds one object by kind, namespace and name.
    #[must_use]
    pub fn get(&self, gk: &GroupKind, namespace: Option<&str>, name: &str) -> Option<&Object> {
        match self.index.get(gk) {
            Some(idx) => {
                idx.get(&(namespace.map(ToString::to_string), name.to_string())).and_then(|&i| self.objects(gk).get(i))
            }
            None => self.objects(gk).iter().find(|o| o.name == name && o.namespace.as_deref() == namespace),
        }
    }

    /// Rewrites every object through `f` (identity fields stay as they were read).
    pub fn rewrite(&mut self, mut f: impl FnMut(&mut Value)) -> Result<(), String> {
        for state in self.kinds.values_mut() {
            if let KindState::Collected(objs) = state {
                for obj in objs.iter_mut() {
                    let mut v = obj.value();
                    f(&mut v);
                    *obj = Object::from_value(v)?;
                }
            }
        }
        Ok(())
    }

    /// Every kind with an explicit state, in order.
    pub fn kinds(&self) -> impl Iterator<Item = (&GroupKind, &KindState)> {
        self.kinds.iter()
    }

    /// Number of objects held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.kinds.values().map(|s| if let KindState::Collected(v) = s { v.len() } else { 0 }).sum()
    }

    /// Bytes of object text held (the inventory's main memory cost).
    #[must_use]
    pub fn text_bytes(&self) -> usize {
        self.kinds
            .values()
            .map(|s| if let KindState::Collected(v) = s { v.iter().map(|o| o.raw.len()).sum() } else { 0 })
            .sum()
    }

    /// True when no objects are held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn is_node(gk: &GroupKind) -> bool {
    gk.group.is_empty() && gk.kind == "Node"
}

/// A borrowed view of a kind's state.
#[derive(Debug, Clone, Copy)]
pub enum KindView<'a> {
    /// Collected objects.
    Collected(&'a [Object]),
    /// Not served.
    Absent,
    /// Not readable.
    Failed(&'a str),
}
