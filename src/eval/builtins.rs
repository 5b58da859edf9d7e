//! Built-in evaluators: rules that relate objects to each other or to the matrices, which a
//! per-object CEL expression cannot express. Their names, parameters and the kinds they
//! read are data, in `catalog::builtin_def` (the table of what each finds is there); this
//! module is their code. It imports the catalog, the inventory and the ground layer.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::detect::{Detected, image_version, matching_images, prefilter};
use super::workloads::{self, ImageRef};
use crate::catalog::{Builtin, Catalog, DetectSource, MountedConfig, Severity};
use crate::inventory::projection::Keep;
use crate::inventory::{Inventory, KindView, Lookup, Object};
use crate::resource::{GroupKind, ObjectRef};
use crate::version::{self, Parsed};

/// What a built-in concluded: its findings, what it could not judge, and notes on what it
/// left out by design (for the "found nothing" line).
#[derive(Default)]
pub struct Judged {
    /// Findings.
    pub hits: Vec<Hit>,
    /// Objects it could not judge, with why: the check is also *could not evaluate*.
    pub unknown: Vec<String>,
    /// What it did not judge on purpose.
    pub notes: Vec<String>,
}

impl From<Vec<Hit>> for Judged {
    fn from(hits: Vec<Hit>) -> Self {
        Self { hits, ..Self::default() }
    }
}

/// What a built-in found: objects, a message, and optionally a different severity.
pub struct Hit {
    /// Evidence objects, the offending one first.
    pub objects: Vec<ObjectRef>,
    /// One-line message.
    pub message: String,
    /// Overrides the check's severity (e.g. lower when the version is unknown).
    pub severity: Option<Severity>,
}

const SECRET: (&str, &str) = ("", "Secret");
const CONFIGMAP: (&str, &str) = ("", "ConfigMap");

/// What `b` reads, with the fields it reads of each kind (for the live inventory's projection).
#[must_use]
pub fn keeps(b: &Builtin) -> Vec<(GroupKind, Keep)> {
    b.reads_fields()
        .into_iter()
        .map(|r| (r.kind, if r.unowned_only { Keep::unowned(r.paths) } else { Keep::paths(r.paths) }))
        .collect()
}

/// Runs the evaluator. `Err` means it could not be evaluated at all, with the reason.
/// `targets` are the planned versions (`--target`), by component.
pub fn evaluate(
    b: &Builtin,
    inv: &Inventory,
    catalog: &Catalog,
    detected: &BTreeMap<String, Detected>,
    targets: &BTreeMap<String, semver::Version>,
) -> Result<Judged, String> {
    match b {
        Builtin::MissingReferences => missing_references(inv).map(Judged::from),
        Builtin::FloatingImageTags => Ok(floating_tags(inv, catalog).into()),
        Builtin::MountedConfigFile(p) => mounted_config(p, inv, catalog, detected).map(Judged::from),
        Builtin::WebhookEndpoints => super::webhooks::webhook_endpoints(inv).map(Judged::from),
        Builtin::DeprecatedApiRequests => super::api_requests::evaluate(inv, catalog, targets).map(Judged::from),
        Builtin::PdbBlocksDrain => super::drain::pdb_blocks_drain(inv),
        Builtin::DrainCapacity => super::drain::drain_capacity(inv),
        Builtin::CertificateExpiry(p) => super::certs::evaluate(*p, inv).map(Judged::from),
        Builtin::BackupAge(p) => super::backups::evaluate(*p, inv).map(Judged::from),
    }
}

/// What `b` decides before its kinds are read, if anything (the general rule is in
/// `run_check`: a failed kind is *could not evaluate*, kinds not served *not applicable*).
pub(super) fn precheck(b: &Builtin, inv: &Inventory) -> Option<super::Outcome> {
    match b {
        Builtin::DeprecatedApiRequests => super::api_requests::precheck(inv),
        _ => None,
    }
}

/// The severity `b`'s check has in this run (its findings set their own): the check's, except
/// where the plan decides it.
#[must_use]
pub fn severity(b: &Builtin, check: Severity, targets: &BTreeMap<String, semver::Version>) -> Severity {
    match b {
        Builtin::DeprecatedApiRequests => super::api_requests::severity(check, targets),
        _ => check,
    }
}

/// Why `b` does not apply to this cluster, for an evaluator that judges the state of the
/// kinds it reads itself ([`Builtin::judges_kind_states`]); `None` when it applies or
/// cannot tell (then `evaluate` says which).
#[must_use]
pub fn not_applicable(b: &Builtin, inv: &Inventory) -> Option<String> {
    match b {
        Builtin::BackupAge(_) => super::backups::not_applicable(inv),
        _ => None,
    }
}

/// Fails when a kind the evaluator cannot do without was not collected.
pub(super) fn require(inv: &Inventory, kinds: &[(&str, &str)]) -> Result<(), String> {
    for (g, k) in kinds {
        if let KindView::Failed(r) = inv.state(&GroupKind::new(g, k)) {
            return Err(format!("cannot read {}: {r}", GroupKind::new(g, k)));
        }
    }
    Ok(())
}

/// Why a check that found nothing still has no verdict: what it would look up (`what`,
/// e.g. "references into") lies in namespaces outside the run's view (`reasons` from
/// [`Inventory::outside_view`]).
pub(super) fn unjudged(what: &str, reasons: &BTreeSet<String>) -> String {
    let first = reasons.iter().next().map(String::as_str).unwrap_or_default();
    let more =
        if reasons.len() > 1 { format!(" (and {} more namespace(s))", reasons.len() - 1) } else { String::new() };
    format!("{what} namespaces outside the view could not be checked: {first}{more}")
}

// ---------- missing-references ----------

/// A pod spec's reference to a Secret or ConfigMap (not marked optional).
pub(crate) struct Reference {
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    key: Option<String>,
    pub(crate) via: String,
}

fn optional(v: &Value) -> bool {
    v.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

pub(super) fn name_of<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Every non-optional Secret and ConfigMap reference of a pod spec.
pub(crate) fn references(spec: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut push = |kind: &'static str, r: &Value, name_field: &str, key: Option<String>, via: String| {
        if !optional(r)
            && let Some(name) = name_of(r, name_field)
        {
            out.push(Reference { kind, name: name.to_string(), key, via });
        }
    };
    for c in workloads::containers(spec) {
        let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
        for e in c.get("env").and_then(Value::as_array).into_iter().flatten() {
            let var = e.get("name").and_then(Value::as_str).unwrap_or("?");
            if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
                let key = r.get("key").and_then(Value::as_str).map(ToString::to_string);
                push("Secret", r, "name", key, format!("env {var} of container {cname}"));
            }
            if let Some(r) = e.pointer("/valueFrom/configMapKeyRef") {
                let key = r.get("key").and_then(Value::as_str).map(ToString::to_string);
                push("ConfigMap", r, "name", key, format!("env {var} of container {cname}"));
            }
        }
        for e in c.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = e.get("secretRef") {
                push("Secret", r, "name", None, format!("envFrom of container {cname}"));
            }
            if let Some(r) = e.get("configMapRef") {
                push("ConfigMap", r, "name", None, format!("envFrom of container {cname}"));
            }
        }
    }
    for v in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        let vname = v.get("name").and_then(Value::as_str).unwrap_or("?");
        if let Some(r) = v.get("secret") {
            push("Secret", r, "secretName", None, format!("volume {vname}"));
        }
        if let Some(r) = v.get("configMap") {
            push("ConfigMap", r, "name", None, format!("volume {vname}"));
        }
        for s in v.pointer("/projected/sources").and_then(Value::as_array).into_iter().flatten() {
            if let Some(r) = s.get("secret") {
                push("Secret", r, "name", None, format!("projected volume {vname}"));
            }
            if let Some(r) = s.get("configMap") {
                push("ConfigMap", r, "name", None, format!("projected volume {vname}"));
            }
        }
    }
    for s in spec.get("imagePullSecrets").and_then(Value::as_array).into_iter().flatten() {
        push("Secret", s, "name", None, "imagePullSecrets".to_string());
    }
    out
}

fn has_key(obj: &Object, key: &str) -> bool {
    ["data", "stringData", "binaryData"]
        .iter()
        .any(|f| obj.value().get(f).and_then(Value::as_object).is_some_and(|m| m.contains_key(key)))
}

/// The ConfigMap every namespace has had since Kubernetes 1.21: a namespace without it in
/// the inventory had its ConfigMaps left out of the capture.
const WITNESS_CONFIGMAP: &str = "kube-root-ca.crt";

/// True when the witness ConfigMap is needed and can be expected: the input does not say which
/// kinds it collected whole (a live run, or a snapshot with a `resources` list, as `snapshot`
/// writes, lists each kind whole or knows it failed), and the server is 1.21 or later, or its
/// version is unknown.
fn witness_expected(inv: &Inventory) -> bool {
    if inv.is_authoritative() {
        return false;
    }
    match inv.server_version.as_deref().map(version::parse) {
        Some(Parsed::Version(v)) => (v.major, v.minor) >= (1, 21),
        _ => true,
    }
}

fn missing_references(inv: &Inventory) -> Result<Vec<Hit>, String> {
    require(inv, &[SECRET, CONFIGMAP])?;
    let mut hits = Vec::new();
    let configmaps = GroupKind::new(CONFIGMAP.0, CONFIGMAP.1);
    let witness = witness_expected(inv);
    let mut uncaptured: BTreeSet<String> = BTreeSet::new();
    // References into namespaces outside a partial view (`-n`): not judged.
    let mut outside: BTreeSet<String> = BTreeSet::new();
    for (obj, spec) in workloads::top_level(inv, workloads::KINDS) {
        let spec = &spec;
        let ns = obj.namespace.as_deref().unwrap_or("default");
        let mut seen = BTreeSet::new();
        for r in references(spec) {
            let gk = GroupKind::new("", r.kind);
            // Decided for the kind, found or not: without a cluster (`--no-cluster`) even a
            // planned object may lack what the live one has.
            if inv.unknown_if_empty(&gk) {
                return Err(format!("the snapshot holds no {}s, so references to them cannot be checked", r.kind));
            }
            let target = match inv.lookup(&gk, Some(ns), &r.name) {
                Lookup::NotCaptured => {
                    return Err(format!("the snapshot holds no {}s, so references to them cannot be checked", r.kind));
                }
                Lookup::OutsideView(why) => {
                    outside.insert(why);
                    continue;
                }
                Lookup::Found(t) => Some(t),
                Lookup::Missing => None,
            };
            // Without the witness the namespace's capture is partial: not only its ConfigMaps
            // but any object a reference names may have been left out.
            if witness && inv.get(&configmaps, Some(ns), WITNESS_CONFIGMAP).is_none() {
                uncaptured.insert(ns.to_string());
                continue;
            }
            let problem = match (target, &r.key) {
                (None, _) => format!("{} {ns}/{} which does not exist", r.kind, r.name),
                (Some(t), Some(k)) if !has_key(t, k) => {
                    format!("key '{k}' of {} {ns}/{}, which has no such key", r.kind, r.name)
                }
                _ => continue,
            };
            if !seen.insert(problem.clone()) {
                continue;
            }
            // A missing pull secret only fails pulls that need credentials: a warning.
            let (severity, consequence) = if r.via == "imagePullSecrets" {
                (Some(Severity::Warning), "private images will fail to pull")
            } else {
                (None, "its pods cannot start")
            };
            hits.push(Hit {
                objects: vec![obj.obj_ref(), ObjectRef::named(r.kind, Some(ns), &r.name, "v1")],
                message: format!("{} references {problem} ({}); {consequence}", obj.obj_ref(), r.via),
                severity,
            });
        }
    }
    if hits.is_empty() && !outside.is_empty() {
        return Err(unjudged("references into", &outside));
    }
    if hits.is_empty() && !uncaptured.is_empty() {
        let list: Vec<&str> = uncaptured.iter().map(String::as_str).take(5).collect();
        return Err(format!(
            "the ConfigMaps of namespace(s) {}{} were not captured (no {WITNESS_CONFIGMAP}, which every namespace has since Kubernetes 1.21), so references into them cannot be checked",
            list.join(", "),
            if uncaptured.len() > 5 { format!(" and {} more", uncaptured.len() - 5) } else { String::new() }
        ));
    }
    Ok(hits)
}

// ---------- floating-image-tags ----------

fn floating_tags(inv: &Inventory, catalog: &Catalog) -> Vec<Hit> {
    let mut hits = Vec::new();
    for m in catalog.matrices.values() {
        if !m.pinning.as_ref().is_some_and(|p| p.floating_tags_are_drift) {
            continue;
        }
        let mut seen = BTreeSet::new();
        for src in m.detect.iter().filter_map(|d| if let DetectSource::Image(i) = d { Some(i) } else { None }) {
            for (obj, spec) in workloads::top_level_where(inv, workloads::DETECT_KINDS, prefilter(src, inv)) {
                let spec = &spec;
                for (c, image) in matching_images(src, obj, spec) {
                    // A digest pins the image whatever its tag says.
                    if image.digest.is_some() {
                        continue;
                    }
                    let Parsed::Floating(why) = version::parse(image.version_str()) else { continue };
                    let cname = c.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
                    if !seen.insert((obj.obj_ref(), cname.clone())) {
                        continue;
                    }
                    let policy = workloads::effective_pull_policy(c, &image);
                    let image_str = c.get("image").and_then(Value::as_str).unwrap_or_default();
                    let (severity, consequence) = if policy == "Always" {
                        (None, "any restart, reschedule or upgrade may pull a different upstream version")
                    } else {
                        (
                            Some(Severity::Warning),
                            "a new node or an evicted image pulls whatever the tag points to then",
                        )
                    };
                    hits.push(Hit {
                        objects: vec![obj.obj_ref()],
                        message: format!(
                            "{} container {cname} runs {image_str}: {why} with imagePullPolicy {policy}; {consequence} ({} must be pinned)",
                            obj.obj_ref(),
                            m.name
                        ),
                        severity,
                    });
                }
            }
        }
    }
    hits
}

// ---------- mounted-config-file ----------

fn ini_has_section(text: &str, section: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        l.strip_prefix('[').and_then(|r| r.strip_suffix(']')).is_some_and(|s| s.trim().eq_ignore_ascii_case(section))
    })
}

/// A mounted ConfigMap: its name and, when `items` is set, the (key, path) pairs it projects.
type MountedConfigMap = (String, Option<Vec<(String, String)>>);

/// ConfigMaps mounted by a pod spec, with the file names each provides.
fn mounted_configmaps(spec: &Value) -> Vec<MountedConfigMap> {
    let mut out = Vec::new();
    let mut add = |cm: &Value| {
        if let Some(name) = name_of(cm, "name") {
            let items = cm.get("items").and_then(Value::as_array).map(|items| {
                items
                    .iter()
                    .filter_map(|i| Some((i.get("key")?.as_str()?.to_string(), i.get("path")?.as_str()?.to_string())))
                    .collect()
            });
            out.push((name.to_string(), items));
        }
    };
    for v in spec.get("volumes").and_then(Value::as_array).into_iter().flatten() {
        if let Some(cm) = v.get("configMap") {
            add(cm);
        }
        for s in v.pointer("/projected/sources").and_then(Value::as_array).into_iter().flatten() {
            if let Some(cm) = s.get("configMap") {
                add(cm);
            }
        }
    }
    out
}

fn mounted_config(
    p: &MountedConfig,
    inv: &Inventory,
    catalog: &Catalog,
    _detected: &BTreeMap<String, Detected>,
) -> Result<Vec<Hit>, String> {
    require(inv, &[CONFIGMAP])?;
    let Some(m) = catalog.matrices.get(&p.component) else {
        return Err(format!("unknown component '{}'", p.component));
    };
    let file_desc = match &p.ini_section {
        Some(s) => format!("{} with a [{s}] section", p.file),
        None => p.file.clone(),
    };
    let mut hits = Vec::new();
    let mut seen = BTreeSet::new();
    let mut outside: BTreeSet<String> = BTreeSet::new();
    for src in m.detect.iter().filter_map(|d| if let DetectSource::Image(i) = d { Some(i) } else { None }) {
        for (obj, spec) in workloads::top_level_where(inv, workloads::DETECT_KINDS, prefilter(src, inv)) {
            let spec = &spec;
            let images: Vec<ImageRef> = matching_images(src, obj, spec).into_iter().map(|(_, i)| i).collect();
            let Some(image) = images.first() else { continue };
            if !seen.insert(obj.obj_ref()) {
                continue;
            }
            let (severity, version_note) = match image_version(src, image) {
                Parsed::Version(v) if p.range.matches(&v) => (None, format!("{} {}", m.name, version::display(&v))),
                Parsed::Version(_) => continue,
                Parsed::Floating(why) | Parsed::Unknown(why) => (
                    Some(Severity::Warning),
                    format!("{} of unknown version ({why}; {} {} needs it)", m.name, m.name, p.range),
                ),
            };
            let ns = obj.namespace.as_deref().unwrap_or("default");
            if let Some(why) = inv.outside_view(Some(ns)) {
                outside.insert(why);
                continue;
            }
            let found = mounted_configmaps(spec).iter().any(|(name, items)| {
                let Some(cm) = inv.get(&GroupKind::new("", "ConfigMap"), Some(ns), name) else { return false };
                let key = match items {
                    Some(items) => items
                        .iter()
                        .find(|(_, path)| path.rsplit('/').next() == Some(p.file.as_str()))
                        .map(|(k, _)| k.clone()),
                    None => Some(p.file.clone()),
                };
                let Some(text) = key.and_then(|k| {
                    cm.value().get("data").and_then(|d| d.get(&k)).and_then(Value::as_str).map(ToString::to_string)
                }) else {
                    return false;
                };
                p.ini_section.as_deref().is_none_or(|s| ini_has_section(&text, s))
            });
            if !found {
                hits.push(Hit {
                    objects: vec![obj.obj_ref()],
                    message: format!(
                        "{} runs {version_note} but no mounted ConfigMap provides {file_desc}",
                        obj.obj_ref()
                    ),
                    severity,
                });
            }
        }
    }
    if hits.is_empty() && !outside.is_empty() {
        return Err(unjudged("ConfigMaps mounted by workloads in", &outside));
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workload whose namespace the view does not hold (here: the view was narrowed after
    /// reading; in a run, a planned object) references a Secret nobody read: that is not a
    /// missing Secret, and not a pass either.
    #[test]
    fn references_outside_the_view_are_not_judged() {
        use crate::inventory::{KindState, Origin};
        let deployment = |ns: &str| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                    "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]}]}}}})
        };
        let inventory = |view: Option<&[&str]>| {
            let mut inv = Inventory::new(Origin::Snapshot("t".into()), true);
            inv.ingest(deployment("other")).unwrap();
            // The namespace was captured whole (its kube-root-ca.crt).
            inv.ingest(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": WITNESS_CONFIGMAP, "namespace": "other"}}))
                .unwrap();
            inv.set_state(GroupKind::new("", "Secret"), KindState::Collected(Vec::new()));
            inv.finish();
            if let Some(v) = view {
                inv.set_view(v.iter().map(ToString::to_string).collect());
            }
            inv
        };
        // Whole cluster: the Secret does not exist.
        let hits = missing_references(&inventory(None)).unwrap();
        assert_eq!(hits.len(), 1);
        assert!(hits[0].message.contains("Secret other/db which does not exist"), "{}", hits[0].message);
        // Namespace "other" in the view: read there, still missing.
        assert_eq!(missing_references(&inventory(Some(&["other"]))).unwrap().len(), 1);
        // Outside the view: could not evaluate, naming the namespace.
        let Err(why) = missing_references(&inventory(Some(&["shop"]))) else { panic!("judged outside the view") };
        assert_eq!(
            why,
            "references into namespaces outside the view could not be checked: namespace other was not read (this run reads only namespace(s) shop)"
        );
    }

    /// A Secret reference into a snapshot namespace without kube-root-ca.crt could not be
    /// judged (the namespace was not captured whole); with it, the Secret is missing. A live
    /// run (or a snapshot with a `resources` list) lists each kind whole: there the witness is
    /// not asked.
    #[test]
    fn references_into_a_namespace_without_the_witness_are_not_judged_in_a_snapshot() {
        use crate::inventory::Origin;
        let inventory = |origin: Origin, witness: bool| {
            let authoritative = matches!(origin, Origin::Live { .. });
            let mut inv = Inventory::new(origin, authoritative);
            inv.ingest(serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "shop"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x/api:1.0",
                    "env": [{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}]}]}}}}))
                .unwrap();
            inv.ingest(serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "kube-system"}})).unwrap();
            let ns = if witness { "shop" } else { "kube-system" };
            inv.ingest(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": WITNESS_CONFIGMAP, "namespace": ns}}))
                .unwrap();
            inv.finish();
            inv
        };
        let snapshot = || Origin::Snapshot("t".into());
        let Err(why) = missing_references(&inventory(snapshot(), false)) else { panic!("judged a partial namespace") };
        assert!(why.contains("namespace(s) shop were not captured"), "{why}");
        let hits = missing_references(&inventory(snapshot(), true)).unwrap();
        assert!(hits[0].message.contains("Secret shop/db which does not exist"), "{}", hits[0].message);
        let live = Origin::Live { context: "c".into(), server: "https://k".into() };
        assert_eq!(missing_references(&inventory(live, false)).unwrap().len(), 1);
    }

    #[test]
    fn ini_sections() {
        assert!(ini_has_section("; x\n[haproxy]\nhosts[] =\n", "haproxy"));
        assert!(ini_has_section("[ HAProxy ]", "haproxy"));
        assert!(!ini_has_section("[main]\nhaproxy=1", "haproxy"));
    }
}
