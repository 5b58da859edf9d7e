//! Helm 3 release storage, decoded into `HelmRelease` inventory objects.
//!
//! Helm keeps one object per release revision: a Secret of type `helm.sh/release.v1` (the
//! default driver) or a ConfigMap labelled `owner=helm` (the ConfigMap driver), named
//! `sh.helm.release.v1.<release>.v<revision>`. `data.release` holds `base64(gzip(JSON))`; the
//! Secret API base64-encodes it once more. Releases written before Helm compressed them are
//! plain JSON and are accepted too.
//!
//! Decoding is bounded: the stored text may be at most [`MAX_STORED_BYTES`] and the JSON it
//! inflates to at most [`MAX_DECODED_BYTES`]. A release that breaks a limit or does not
//! decode becomes a `HelmRelease` with `spec.undecodable` (a finding), never an error.
//!
//! Values are secrets too. A `HelmRelease` keeps the *shape* of the user-supplied values
//! (`spec.values`) and of the chart's defaults (`spec.chartValues`): every key and list
//! length, with every scalar replaced by an empty string. Only key paths can ever reach a
//! report or a snapshot.
//!
//! ```yaml
//! apiVersion: upgrade-preflight.io/v1alpha1
//! kind: HelmRelease
//! metadata: {name: rancher.v3, namespace: cattle-system}
//! spec:
//!   release: rancher
//!   revision: 3
//!   status: deployed          # deployed, failed, pending-upgrade, …
//!   latest: true              # the newest stored revision
//!   lastDeployed: true        # the newest revision with status deployed
//!   chart: {name: rancher, version: 2.7.5, appVersion: v2.7.5}
//!   values: {hostname: ""}    # shape only
//!   chartValues: {…}          # shape only
//!   resources: [{apiVersion: networking.k8s.io/v1, kind: Ingress, namespace: cattle-system, name: rancher}]
//!   storage: {kind: Secret, name: sh.helm.release.v1.rancher.v3}
//! ```
//! Only the newest revision of each release and its last deployed one are kept.
//!
//! Part of the inventory layer: imports the inventory's `Object`, the ground layer, nothing
//! else.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `apiVersion` of the objects this module makes.
pub const API_VERSION: &str = "upgrade-preflight.io/v1alpha1";
/// Their kind.
pub const KIND: &str = "HelmRelease";
/// Group of [`API_VERSION`].
pub const GROUP: &str = "upgrade-preflight.io";
/// Longest `data.release` text accepted (Kubernetes caps an object near 1.5 MiB anyway).
pub const MAX_STORED_BYTES: usize = 4 << 20;
/// Largest JSON a release may inflate to.
pub const MAX_DECODED_BYTES: usize = 64 << 20;
/// Most manifest documents read from one release.
pub const MAX_MANIFEST_DOCUMENTS: usize = 20_000;

const STORAGE_PREFIX: &str = "sh.helm.release.v1.";
/// `info.status` values under which Helm refuses another operation.
pub const IN_PROGRESS: [&str; 4] = ["pending-install", "pending-upgrade", "pending-rollback", "uninstalling"];

/// The group and kind of `HelmRelease`.
#[must_use]
pub fn group_kind() -> crate::resource::GroupKind {
    crate::resource::GroupKind::new(GROUP, KIND)
}

/// Which driver stored a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `Secret` of type `helm.sh/release.v1`: the value is base64 twice.
    Secret,
    /// `ConfigMap` labelled `owner=helm`: the value is base64 once.
    ConfigMap,
}

/// Release name and revision from a storage object's name
/// (`sh.helm.release.v1.<release>.v<revision>`; release names may contain dots).
#[must_use]
pub fn split_storage_name(name: &str) -> Option<(&str, u64)> {
    let rest = name.strip_prefix(STORAGE_PREFIX)?;
    let (release, rev) = rest.rsplit_once(".v")?;
    if release.is_empty() {
        return None;
    }
    Some((release, rev.parse().ok()?))
}

/// The storage driver, if `obj` is a Helm release storage object.
#[must_use]
pub fn driver_of(obj: &Value) -> Option<Driver> {
    let kind = obj.get("kind").and_then(Value::as_str)?;
    let name = obj.pointer("/metadata/name").and_then(Value::as_str)?;
    let owner = obj.pointer("/metadata/labels/owner").and_then(Value::as_str);
    match kind {
        "Secret" if obj.get("type").and_then(Value::as_str) == Some("helm.sh/release.v1") => Some(Driver::Secret),
        "ConfigMap" if owner == Some("helm") && name.starts_with(STORAGE_PREFIX) => Some(Driver::ConfigMap),
        _ => None,
    }
}

/// The `HelmRelease` object for a storage object, or `None` when `obj` is not one or its
/// payload was already removed (a snapshot written by this tool keeps the `HelmRelease`
/// objects and blanks the Secret).
#[must_use]
pub fn release_object(obj: &Value) -> Option<Value> {
    let driver = driver_of(obj)?;
    let payload = obj.pointer("/data/release").and_then(Value::as_str).unwrap_or_default();
    if payload.is_empty() {
        return None;
    }
    let storage_name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    let labels = obj.pointer("/metadata/labels");
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    let (name_release, name_rev) = split_storage_name(storage_name).unwrap_or((storage_name, 0));
    let storage = json!({
        "kind": if driver == Driver::Secret { "Secret" } else { "ConfigMap" },
        "name": storage_name,
    });
    let spec = match decode(payload, driver).and_then(|rel| summarise(rel, storage.clone())) {
        Ok(spec) => spec,
        Err(why) => {
            let release = label("name").unwrap_or(name_release);
            let revision = label("version").and_then(|v| v.parse().ok()).unwrap_or(name_rev);
            let mut spec = Map::new();
            spec.insert("release".into(), release.into());
            spec.insert("revision".into(), revision.into());
            if let Some(s) = label("status") {
                spec.insert("status".into(), s.into());
            }
            spec.insert("undecodable".into(), why.into());
            spec.insert("storage".into(), storage);
            Value::Object(spec)
        }
    };
    let release = spec.get("release").and_then(Value::as_str).unwrap_or(name_release).to_string();
    let revision = spec.get("revision").and_then(Value::as_u64).unwrap_or(name_rev);
    Some(json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": format!("{release}.v{revision}"), "namespace": namespace},
        "spec": spec,
    }))
}

/// Decodes a stored payload to release JSON, within the limits.
pub fn decode(payload: &str, driver: Driver) -> Result<Value, String> {
    let bytes = decode_bytes(payload, driver)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("release is not JSON: {e}"))
}

/// Decodes a stored payload to the release's JSON bytes, within the limits.
pub fn decode_bytes(payload: &str, driver: Driver) -> Result<Vec<u8>, String> {
    if payload.len() > MAX_STORED_BYTES {
        return Err(format!("stored release is {} bytes, over the {MAX_STORED_BYTES}-byte limit", payload.len()));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64
        .decode(payload.trim())
        .map_err(|e| format!("data.release is not base64: {}", crate::limits::base64_reason(&e)))?;
    if driver == Driver::Secret {
        bytes = b64.decode(bytes.trim_ascii()).map_err(|e| {
            format!("data.release is not base64-encoded twice, as Helm writes it: {}", crate::limits::base64_reason(&e))
        })?;
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let limit = u64::try_from(MAX_DECODED_BYTES).unwrap_or(u64::MAX).saturating_add(1);
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| format!("release is not valid gzip: {e}"))?;
        if out.len() > MAX_DECODED_BYTES {
            return Err(format!(
                "release inflates beyond the {MAX_DECODED_BYTES}-byte limit ({} bytes stored): refusing to decode it",
                bytes.len()
            ));
        }
        Ok(out)
    } else {
        Ok(bytes)
    }
}

#[derive(Deserialize)]
struct Release {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: u64,
    #[serde(default)]
    info: Info,
    #[serde(default)]
    chart: Chart,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    manifest: String,
}

#[derive(Deserialize, Default)]
struct Info {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    last_deployed: Option<String>,
}

#[derive(Deserialize, Default)]
struct Chart {
    #[serde(default)]
    metadata: ChartMeta,
    #[serde(default)]
    values: Option<Value>,
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

/// The spec of a decoded release; `Err` (why) when the JSON does not have a release's shape.
fn summarise(rel: Value, storage: Value) -> Result<Value, String> {
    let rel: Release = serde_json::from_value(rel)
        .map_err(|e| format!("release JSON has an unexpected shape: {}", redact_quoted(&e.to_string())))?;
    let mut spec = Map::new();
    spec.insert("release".into(), rel.name.into());
    spec.insert("revision".into(), rel.version.into());
    if let Some(s) = rel.info.status {
        spec.insert("status".into(), s.into());
    }
    if let Some(t) = rel.info.last_deployed {
        spec.insert("deployedAt".into(), t.into());
    }
    let mut chart = Map::new();
    for (k, v) in [
        ("name", rel.chart.metadata.name),
        ("version", rel.chart.metadata.version),
        ("appVersion", rel.chart.metadata.app_version),
        ("kubeVersion", rel.chart.metadata.kube_version),
    ] {
        if let Some(v) = v {
            chart.insert(k.into(), v.into());
        }
    }
    spec.insert("chart".into(), Value::Object(chart));
    spec.insert("values".into(), shape(rel.config.as_ref().unwrap_or(&Value::Null)));
    spec.insert("chartValues".into(), shape(rel.chart.values.as_ref().unwrap_or(&Value::Null)));
    let (resources, error) = manifest_resources(&rel.manifest);
    spec.insert("resources".into(), Value::Array(resources));
    if let Some(e) = error {
        spec.insert("manifestError".into(), e.into());
    }
    spec.insert("storage".into(), storage);
    Ok(Value::Object(spec))
}

/// A parser's error message without the input it quotes. serde quotes the offending value
/// (`invalid type: string "hunter2", expected u64`, ``invalid type: integer `1234` ``), and
/// in a release payload any value may be a secret.
#[must_use]
pub fn redact_quoted(msg: &str) -> String {
    let mut out = msg.to_string();
    // The value sits between the first quote and the last one before ", expected", which
    // serde's own wording (taken from our types) never contains.
    for q in ['"', '`'] {
        let end = out.rfind(&format!("{q}, expected")).or_else(|| out.rfind(q));
        if let (Some(a), Some(b)) = (out.find(q), end)
            && b > a
        {
            out = format!("{}{q}…{}", &out[..a], &out[b..]);
        }
    }
    out
}

/// The values' shape: maps and lists kept, every scalar replaced by `""`. `null` (which Helm
/// treats as "delete this key") stays `null`.
#[must_use]
pub fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Null => Value::Null,
        _ => Value::String(String::new()),
    }
}

/// `apiVersion`, `kind`, namespace and name of each object in a rendered manifest.
fn manifest_resources(manifest: &str) -> (Vec<Value>, Option<String>) {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        #[serde(default)]
        api_version: Option<String>,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        metadata: Option<HeadMeta>,
    }
    #[derive(Deserialize)]
    struct HeadMeta {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        namespace: Option<String>,
    }
    let mut out = Vec::new();
    // Helm joins documents with "---\n# Source: …"; parse each on its own so one odd
    // document does not hide the rest.
    let mut error = None;
    for (i, doc) in split_documents(manifest).enumerate() {
        if i >= MAX_MANIFEST_DOCUMENTS {
            error = Some(format!("manifest has more than {MAX_MANIFEST_DOCUMENTS} documents; the rest were not read"));
            break;
        }
        if doc.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            continue;
        }
        match serde_saphyr::from_str::<Option<Head>>(doc) {
            Ok(Some(Head { api_version: Some(a), kind: Some(k), metadata })) => {
                let mut r = Map::new();
                r.insert("apiVersion".into(), a.into());
                r.insert("kind".into(), k.into());
                if let Some(m) = metadata {
                    if let Some(ns) = m.namespace {
                        r.insert("namespace".into(), ns.into());
                    }
                    if let Some(n) = m.name {
                        r.insert("name".into(), n.into());
                    }
                }
                out.push(Value::Object(r));
            }
            Ok(_) => {}
            Err(e) => {
                if error.is_none() {
                    let msg = crate::limits::input_free_yaml_message(&e);
                    error = Some(format!("manifest document {}: {msg}", i + 1));
                }
            }
        }
    }
    (out, error)
}

fn split_documents(text: &str) -> impl Iterator<Item = &str> {
    let mut starts = vec![0];
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            starts.push(pos);
        }
        pos += line.len();
    }
    starts.push(text.len());
    starts.dedup();
    (0..starts.len().saturating_sub(1)).map(move |i| {
        let doc = &text[starts[i]..starts[i + 1]];
        doc.strip_prefix("---").unwrap_or(doc)
    })
}

/// Keeps, per release, the newest revision and the newest `deployed` one, marking them with
/// `spec.latest` and `spec.lastDeployed`. Objects of other kinds must not be passed.
#[must_use]
pub fn prune(objects: Vec<crate::inventory::Object>) -> Vec<crate::inventory::Object> {
    /// (revision, status, object) of one release's stored revisions.
    type Revisions = Vec<(u64, String, Value)>;
    let mut by_release: BTreeMap<(Option<String>, String), Revisions> = BTreeMap::new();
    for o in objects {
        let v = o.value();
        let release = v.pointer("/spec/release").and_then(Value::as_str).unwrap_or(&o.name).to_string();
        let rev = v.pointer("/spec/revision").and_then(Value::as_u64).unwrap_or(0);
        let status = v.pointer("/spec/status").and_then(Value::as_str).unwrap_or_default().to_string();
        by_release.entry((o.namespace.clone(), release)).or_default().push((rev, status, v));
    }
    let mut out = Vec::new();
    for (_, mut revs) in by_release {
        revs.sort_by_key(|r| std::cmp::Reverse(r.0));
        let deployed = revs.iter().position(|r| r.1 == "deployed");
        for (i, (_, _, mut v)) in revs.into_iter().enumerate() {
            let latest = i == 0;
            let last_deployed = Some(i) == deployed;
            if !latest && !last_deployed {
                continue;
            }
            if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("latest".into(), latest.into());
                spec.insert("lastDeployed".into(), last_deployed.into());
            }
            if let Ok(o) = crate::inventory::Object::from_value(v) {
                out.push(o);
            }
        }
    }
    out
}

/// The revision that stands for each release: its last deployed one, else its newest, among
/// the `HelmRelease` objects `keep` accepts. Keyed by (namespace, release name).
#[must_use]
pub fn current_revisions(
    objects: &[crate::inventory::Object],
    keep: impl Fn(&crate::inventory::Object, &Value) -> bool,
) -> BTreeMap<(Option<String>, String), (&crate::inventory::Object, Value)> {
    let deployed = |v: &Value| v.pointer("/spec/lastDeployed").and_then(Value::as_bool).unwrap_or(false);
    let mut best: BTreeMap<(Option<String>, String), (&crate::inventory::Object, Value)> = BTreeMap::new();
    for obj in objects {
        let v = obj.value();
        if !keep(obj, &v) {
            continue;
        }
        let release = v.pointer("/spec/release").and_then(Value::as_str).unwrap_or_default().to_string();
        let key = (obj.namespace.clone(), release);
        if best.get(&key).is_none_or(|(_, old)| deployed(&v) && !deployed(old)) {
            best.insert(key, (obj, v));
        }
    }
    best
}

/// Every dotted key path of a values tree (`a.b.c`; list items as `a[0].b`), leaves only.
#[must_use]
pub fn key_paths(v: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(v, &p, out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{prefix}[{i}]"), out);
                }
            }
            _ if !prefix.is_empty() => out.push(prefix.to_string()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

/// Test and fixture helper: the `data.release` value Helm's Secret driver stores for `release`.
#[must_use]
pub fn encode_for_secret(release: &Value) -> String {
    use std::io::Write;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(release.to_string().as_bytes());
    let zipped = gz.finish().unwrap_or_default();
    b64.encode(b64.encode(zipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(payload: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
               "metadata": {"name": "sh.helm.release.v1.my.app.v2", "namespace": "ns",
                            "labels": {"owner": "helm", "name": "my.app", "version": "2", "status": "failed"}},
               "data": {"release": payload}})
    }

    #[test]
    fn storage_names_split_from_the_right() {
        assert_eq!(split_storage_name("sh.helm.release.v1.my.app.v12"), Some(("my.app", 12)));
        assert_eq!(split_storage_name("sh.helm.release.v1.a.vb"), None);
        assert_eq!(split_storage_name("other"), None);
    }

    #[test]
    fn decodes_a_secret_release_and_keeps_only_the_shape_of_values() {
        let rel = json!({"name": "my.app", "version": 2, "info": {"status": "failed"},
                         "chart": {"metadata": {"name": "app", "version": "1.2.3", "appVersion": "v4.5.6"},
                                   "values": {"image": {"tag": "4.5.6"}}},
                         "config": {"password": "hunter2", "hosts": ["a", "b"]},
                         "manifest": "---\n# Source: x\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata:\n  name: web\n---\n# only a comment\n"});
        let obj = release_object(&secret(&encode_for_secret(&rel))).unwrap();
        let text = obj.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(obj["metadata"]["name"], "my.app.v2");
        assert_eq!(obj["spec"]["status"], "failed");
        assert_eq!(obj["spec"]["chart"]["appVersion"], "v4.5.6");
        assert_eq!(obj["spec"]["values"], json!({"password": "", "hosts": ["", ""]}));
        assert_eq!(
            obj["spec"]["resources"],
            json!([{"apiVersion": "extensions/v1beta1", "kind": "Ingress", "name": "web"}])
        );
        assert_eq!(key_paths(&obj["spec"]["values"]), vec!["hosts[0]", "hosts[1]", "password"]);
    }

    #[test]
    fn a_gzip_bomb_is_undecodable_not_a_crash() {
        use std::io::Write;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..(MAX_DECODED_BYTES >> 20) + 2 {
            gz.write_all(&zeros).unwrap();
        }
        let payload = b64.encode(b64.encode(gz.finish().unwrap()));
        assert!(payload.len() < 1 << 20, "the bomb is small when stored: {}", payload.len());
        let obj = release_object(&secret(&payload)).unwrap();
        let why = obj["spec"]["undecodable"].as_str().unwrap();
        assert!(why.contains("inflates beyond"), "{why}");
        assert_eq!(obj["spec"]["release"], "my.app");
        assert_eq!(obj["spec"]["status"], "failed");
    }

    #[test]
    fn garbage_and_blanked_payloads() {
        let obj = release_object(&secret("!!!")).unwrap();
        assert!(obj["spec"]["undecodable"].as_str().unwrap().contains("not base64"));
        assert!(release_object(&secret("")).is_none(), "a blanked Secret from our own snapshot is skipped");
        let huge = "A".repeat(MAX_STORED_BYTES + 4);
        let obj = release_object(&secret(&huge)).unwrap();
        assert!(obj["spec"]["undecodable"].as_str().unwrap().contains("limit"));
    }

    #[test]
    fn errors_do_not_quote_the_payload() {
        assert_eq!(
            redact_quoted("invalid type: string \"hunter2\", expected struct Info"),
            "invalid type: string \"…\", expected struct Info"
        );
        assert_eq!(
            redact_quoted("invalid type: integer `1234`, expected a string"),
            "invalid type: integer `…`, expected a string"
        );
        assert_eq!(redact_quoted("a \"x\", expected \" \", expected y"), "a \"…\", expected y");
        assert_eq!(redact_quoted("expected value at line 1 column 1"), "expected value at line 1 column 1");
        let rel = json!({"name": "my.app", "version": 2, "info": "hunter2"});
        let obj = release_object(&secret(&encode_for_secret(&rel))).unwrap();
        let why = obj["spec"]["undecodable"].as_str().unwrap();
        assert!(why.starts_with("release JSON has an unexpected shape") && !why.contains("hunter2"), "{why}");
        // Named from the storage labels, like any undecodable release, so the check's
        // message can say which release it is.
        assert_eq!((obj["spec"]["release"].as_str(), obj["spec"]["revision"].as_u64()), (Some("my.app"), Some(2)));
    }

    #[test]
    fn uncompressed_configmap_releases_decode() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "sh.helm.release.v1.web.v1", "namespace": "d", "labels": {"owner": "helm"}},
                        "data": {"release": b64.encode(r#"{"name":"web","version":1,"info":{"status":"deployed"}}"#)}});
        let obj = release_object(&cm).unwrap();
        assert_eq!(obj["spec"]["status"], "deployed");
        assert_eq!(obj["spec"]["storage"]["kind"], "ConfigMap");
    }
}
