//! The peers' own test manifests — pluto, kube-no-trouble, kubepug, committed unchanged under
//! `tests/fixtures/peers/<tool>/` — each evaluated at several Kubernetes targets against an
//! expected table derived from the Kubernetes deprecation guide and the k8s.io/api lifecycle
//! tags (`tests/fixtures/peers/deprecation-guide.yaml`), never from our own matrices.
//!
//! The test reads the objects of each file itself (Lists flattened, Helm release Secrets
//! decoded), works out what each should produce from the table — which finding id, which
//! severity for the kind of evidence, which replacement to suggest — and compares that with
//! what `removed-api`, `removed-api-no-replacement` and `deprecated-api` report.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use semver::Version;
use serde_json::Value;
use upgrade_preflight::catalog::{Catalog, Sources};
use upgrade_preflight::eval::plan::{self, PlanRequest};
use upgrade_preflight::eval::{self, Selection};
use upgrade_preflight::inventory::{UNNAMED, snapshot};

const TARGETS: [&str; 6] = ["1.16", "1.22", "1.25", "1.26", "1.29", "1.32"];
const IDS: [&str; 3] = ["removed-api", "removed-api-no-replacement", "deprecated-api"];
/// Annotations our peers read the applied apiVersion from (kubent: last-applied and kapp).
const ANNOTATIONS: [&str; 2] = ["kubectl.kubernetes.io/last-applied-configuration", "kapp.k14s.io/original"];

fn peers() -> PathBuf {
    crate::util::root().join("tests/fixtures/peers")
}

fn minor(s: &str) -> Version {
    let (a, b) = s.split_once('.').unwrap();
    Version::new(a.parse().unwrap(), b.parse().unwrap(), 0)
}

/// One row of the expected table.
struct Row {
    deprecated_in: Option<Version>,
    removed_in: Option<Version>,
    /// (apiVersion, served from, removed in)
    replacements: Vec<(String, Version, Option<Version>)>,
}

fn table() -> BTreeMap<(String, String), Row> {
    let text = std::fs::read_to_string(peers().join("deprecation-guide.yaml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let v = |x: &Value| x.as_str().map(minor);
    doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = (r["apiVersion"].as_str().unwrap().to_string(), r["kind"].as_str().unwrap().to_string());
            let replacements = r["replacements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (p["apiVersion"].as_str().unwrap().to_string(), v(&p["servedFrom"]).unwrap(), v(&p["removedIn"]))
                })
                .collect();
            (key, Row { deprecated_in: v(&r["deprecatedIn"]), removed_in: v(&r["removedIn"]), replacements })
        })
        .collect()
}

/// What the table says a use of a row's API at `target` must produce: finding id and the
/// replacement to suggest (the newest one served at the target).
fn expect(row: &Row, target: &Version) -> Option<(&'static str, Option<String>)> {
    let served: Vec<&(String, Version, Option<Version>)> = row
        .replacements
        .iter()
        .filter(|(_, from, gone)| from <= target && gone.as_ref().is_none_or(|g| g > target))
        .collect();
    let newest = served.iter().max_by_key(|(_, from, _)| from.clone()).map(|(a, _, _)| a.clone());
    if row.removed_in.as_ref().is_some_and(|r| r <= target) {
        Some(if newest.is_some() { ("removed-api", newest) } else { ("removed-api-no-replacement", None) })
    } else if row.deprecated_in.as_ref().is_some_and(|d| d <= target) {
        Some(("deprecated-api", newest))
    } else {
        None
    }
}

/// One expected or reported finding: id, severity, object ("Kind ns/name"), and for Helm
/// findings the manifest entry ("Kind name as apiVersion").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    id: String,
    severity: String,
    object: String,
    entry: String,
    replacement: Option<String>,
}

fn object_name(kind: &str, v: &Value) -> String {
    let name = v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(UNNAMED);
    match v.pointer("/metadata/namespace").and_then(Value::as_str) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The documents of a fixture file, Lists flattened.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = if path.extension().is_some_and(|e| e == "json") {
        vec![serde_json::from_str(&text).unwrap()]
    } else {
        serde_saphyr::from_multiple::<Option<Value>>(&text).unwrap().into_iter().flatten().collect()
    };
    docs.into_iter()
        .flat_map(|d| match d.get("items").and_then(Value::as_array) {
            Some(items) if d["kind"].as_str().is_some_and(|k| k.ends_with("List")) => items.clone(),
            _ => vec![d],
        })
        .collect()
}

/// A Helm 3 release Secret's release: namespace, name, revision and manifest objects.
fn helm_release(secret: &Value) -> Option<(String, String, u64, Vec<Value>)> {
    if secret["type"] != "helm.sh/release.v1" {
        return None;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let once = b64.decode(secret["data"]["release"].as_str()?).ok()?;
    let twice = b64.decode(once).ok()?;
    let mut json = String::new();
    flate2::read::GzDecoder::new(&twice[..]).read_to_string(&mut json).ok()?;
    let rel: Value = serde_json::from_str(&json).ok()?;
    let objects =
        serde_saphyr::from_multiple::<Option<Value>>(rel["manifest"].as_str()?).ok()?.into_iter().flatten().collect();
    // The release lives where its Secret is (pluto's secret_duplicate_name.json copies a payload
    // that says `default` into a Secret in `demo2`: two releases named `test`).
    let ns = secret.pointer("/metadata/namespace").and_then(Value::as_str).or(rel["namespace"].as_str())?;
    Some((ns.to_string(), rel["name"].as_str()?.to_string(), rel["version"].as_u64()?, objects))
}

/// Every finding the table expects from one file at one target.
fn expected(path: &Path, table: &BTreeMap<(String, String), Row>, target: &Version) -> Vec<Seen> {
    let lookup = |av: &str, kind: &str| table.get(&(av.to_string(), kind.to_string())).and_then(|r| expect(r, target));
    let mut out = Vec::new();
    for doc in documents(path) {
        let (Some(av), Some(kind)) = (doc["apiVersion"].as_str(), doc["kind"].as_str()) else { continue };
        if let Some((ns, name, rev, objects)) = helm_release(&doc) {
            for o in objects {
                let (Some(oav), Some(okind)) = (o["apiVersion"].as_str(), o["kind"].as_str()) else { continue };
                if let Some((id, replacement)) = lookup(oav, okind) {
                    out.push(Seen {
                        id: id.into(),
                        // The stored release manifest is strong evidence: a blocker when removed.
                        severity: if id == "deprecated-api" { "warning" } else { "blocker" }.into(),
                        object: format!("HelmRelease {ns}/{name}.v{rev}"),
                        entry: format!("{okind} {} as {oav}", o["metadata"]["name"].as_str().unwrap_or("?")),
                        replacement,
                    });
                }
            }
        }
        // Evidence on the object: its own apiVersion (weak) and applied annotations (strong).
        let mut uses: Vec<(String, bool)> = vec![(av.to_string(), false)];
        for a in ANNOTATIONS {
            let applied = doc
                .pointer("/metadata/annotations")
                .and_then(|m| m.get(a))
                .and_then(Value::as_str)
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|l| l["apiVersion"].as_str().map(ToString::to_string));
            if let Some(applied) = applied {
                uses.push((applied, true));
            }
        }
        let mut by_version: BTreeMap<String, bool> = BTreeMap::new();
        for (u, strong) in uses {
            *by_version.entry(u).or_default() |= strong;
        }
        for (u, strong) in by_version {
            if let Some((id, replacement)) = lookup(&u, kind) {
                let severity = if strong && id != "deprecated-api" { "blocker" } else { "warning" };
                out.push(Seen {
                    id: id.into(),
                    severity: severity.into(),
                    object: object_name(kind, &doc),
                    entry: u.clone(),
                    replacement,
                });
            }
        }
    }
    out.sort();
    out
}

/// What the rules report for one file at one target, in the same shape.
fn reported(path: &Path, catalog: &Catalog, target: &str) -> Vec<Seen> {
    let inv = snapshot::load(path).unwrap_or_else(|e| panic!("{e}"));
    let mut req = PlanRequest::default();
    req.targets.push(plan::parse_target(&format!("kubernetes={target}"), catalog).unwrap());
    let resolved = plan::resolve(&req, catalog, &inv).unwrap();
    let result = eval::evaluate_plan(catalog, &inv, &Selection::default(), &resolved);
    let mut out: Vec<Seen> = result
        .findings
        .iter()
        .filter(|f| IDS.contains(&f.check_id.as_str()))
        .map(|f| {
            let object = f.objects[0].to_string();
            // "… manifest has Kind name as apiVersion: …" or "Kind ns/name uses apiVersion: …"
            let entry = match f.message.split_once(" manifest has ") {
                Some((_, rest)) => rest.split_once(':').unwrap().0.to_string(),
                None => f.message.split_once(" uses ").unwrap().1.split_once(':').unwrap().0.to_string(),
            };
            let replacement =
                f.message.split_once("(use ").map(|(_, r)| r.split([',', ')', ';']).next().unwrap().trim().to_string());
            Seen { id: f.check_id.clone(), severity: f.severity.to_string(), object, entry, replacement }
        })
        .collect();
    out.sort();
    out
}

fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "json") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for tool in ["pluto", "kubent", "kubepug"] {
        walk(&peers().join(tool), &mut out);
    }
    out.sort();
    out
}

#[test]
fn peer_manifests_match_the_deprecation_guide_at_every_target() {
    let catalog = Catalog::load(&Sources::default()).unwrap();
    let table = table();
    let files = fixture_files();
    assert!(files.len() >= 50, "peer fixtures missing: {}", files.len());
    let mut runs = 0;
    let mut findings = 0;
    let mut misses = Vec::new();
    for file in &files {
        for t in TARGETS {
            let want = expected(file, &table, &minor(t));
            let got = reported(file, &catalog, t);
            runs += 1;
            findings += want.len();
            if want != got {
                let rel = file.strip_prefix(peers()).unwrap().display();
                misses.push(format!("{rel} @ {t}:\n  expected {want:#?}\n  reported {got:#?}"));
            }
        }
    }
    eprintln!(
        "peer manifests: {} files × {} targets = {runs} runs, {findings} expected findings",
        files.len(),
        TARGETS.len()
    );
    assert!(findings > 100, "the table expects almost nothing: {findings}");
    assert!(misses.is_empty(), "{} of {runs} runs differ from the guide:\n{}", misses.len(), misses.join("\n"));
}

/// cert-manager's own removals, from the cert-manager docs quoted in the table's `notCovered`
/// entry: deprecated in 1.4, no longer served in 1.6, replacement cert-manager.io/v1. No
/// Kubernetes target touches them.
#[test]
fn cert_manager_issuer_is_judged_by_the_cert_manager_target() {
    let catalog = Catalog::load(&Sources::default()).unwrap();
    let file = peers().join("kubent/fixtures/issuer-v1alpha2.yaml");
    let inv = snapshot::load(&file).unwrap();
    let run = |target: &str| {
        let mut req = PlanRequest::default();
        req.targets.push(plan::parse_target(target, &catalog).unwrap());
        let resolved = plan::resolve(&req, &catalog, &inv).unwrap();
        let result = eval::evaluate_plan(&catalog, &inv, &Selection::default(), &resolved);
        result
            .findings
            .iter()
            .filter(|f| IDS.contains(&f.check_id.as_str()))
            .map(|f| (f.check_id.clone(), f.severity.to_string(), f.message.clone()))
            .collect::<Vec<_>>()
    };
    let at16 = run("cert-manager=1.6");
    assert_eq!(at16.len(), 1, "{at16:?}");
    assert_eq!((at16[0].0.as_str(), at16[0].1.as_str()), ("removed-api", "warning"));
    assert!(at16[0].2.contains("removed in cert-manager 1.6 (use cert-manager.io/v1)"), "{}", at16[0].2);
    assert!(!at16[0].2.contains("Kubernetes"), "{}", at16[0].2);
    let at15 = run("cert-manager=1.5");
    assert_eq!(at15.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["deprecated-api"], "{at15:?}");
    assert!(at15[0].2.contains("deprecated in cert-manager 1.4"), "{}", at15[0].2);
    assert!(run("cert-manager=1.3").is_empty());
    for t in TARGETS {
        assert!(run(&format!("kubernetes={t}")).is_empty(), "kubernetes={t}");
    }
}

/// Plain manifests through the binary: no `SnapshotInfo`, no Nodes. The current Kubernetes is
/// unknown, which is said (a warning), not a reason to exit 3; objects without a name or a
/// namespace are judged like the others.
#[test]
fn plain_manifests_are_judged_on_their_apis() {
    let file = peers().join("kubent/fixtures/flowschema-v1beta1.yaml");
    let (code, r) = crate::util::check_json(file.to_str().unwrap(), &["--target", "kubernetes=1.26"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["verdict"], "GO-WITH-WARNINGS");
    assert_eq!(crate::util::finding_ids(&r), ["removed-api"]);
    let unknown = r["couldNotEvaluate"].as_array().unwrap();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(
        (unknown[0]["checkId"].as_str(), unknown[0]["severity"].as_str()),
        (Some("upgrade-path"), Some("warning"))
    );
    assert!(unknown[0]["reason"].as_str().unwrap().contains("plain manifests"), "{unknown:?}");

    // A TokenReview has no name: it is reported, not a reason to stop.
    let file = peers().join("kubent/fixtures/tokenreview-v1beta1.yaml");
    let (code, r) = crate::util::check_json(file.to_str().unwrap(), &["--target", "kubernetes=1.22"]);
    assert_eq!(code, 0, "{r}");
    let f = &r["findings"][0];
    assert_eq!((f["checkId"].as_str(), f["objects"][0]["name"].as_str()), (Some("removed-api"), Some(UNNAMED)));
    assert!(!r.to_string().contains("014fbff9a07c"), "the review's token is not printed");

    // Deployments without a namespace: the workload checks evaluate them instead of failing.
    let dir = peers().join("pluto/e2e/tests/assets/non-deprecated");
    let (code, r) = crate::util::check_json(dir.to_str().unwrap(), &[]);
    let reasons = r["couldNotEvaluate"].to_string();
    assert!(!reasons.contains("No such key"), "{reasons}");
    assert_ne!(code, 2, "{r}");

    // With a SnapshotInfo saying the server version, the upgrade path is checked again.
    let tree = crate::util::temp_tree(&[(
        "m.yaml",
        "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nserverVersion: v1.24.3\n---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c, namespace: n}\n",
    )]);
    let p = tree.path().join("m.yaml");
    let (code, r) = crate::util::check_json(p.to_str().unwrap(), &["--target", "kubernetes=1.26"]);
    assert_eq!(code, 1, "{r}");
    assert!(crate::util::finding_ids(&r).contains(&"upgrade-path".to_string()), "{r}");
}

/// `--additional-annotation` names another annotation that holds the applied object, as
/// kubent's flag does; kapp's is read without it.
#[test]
fn additional_annotation_is_read_like_last_applied() {
    let obj = |ann: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  annotations:\n    {ann}: '{{\"apiVersion\": \"extensions/v1beta1\", \"kind\": \"Deployment\"}}'\n"
        )
    };
    let tree = crate::util::temp_tree(&[
        ("custom.yaml", &obj("example.com/applied")),
        ("kapp.yaml", &obj("kapp.k14s.io/original")),
    ]);
    let custom = tree.path().join("custom.yaml");
    let only = ["--only", "removed-api", "--target", "kubernetes=1.16"];
    let (code, r) = crate::util::check_json(custom.to_str().unwrap(), &only);
    assert_eq!((code, crate::util::finding_ids(&r).len()), (0, 0), "{r}");
    let (code, r) = crate::util::check_json(
        custom.to_str().unwrap(),
        &[&only[..], &["--additional-annotation", "example.com/applied"]].concat(),
    );
    assert_eq!(code, 1, "{r}");
    let f = &r["findings"][0];
    assert_eq!((f["checkId"].as_str(), f["severity"].as_str()), (Some("removed-api"), Some("blocker")));
    assert!(f["message"].as_str().unwrap().contains("evidence: example.com/applied (applied through it)"), "{f}");
    let kapp = tree.path().join("kapp.yaml");
    let (code, r) = crate::util::check_json(kapp.to_str().unwrap(), &only);
    assert_eq!(code, 1, "{r}");
    assert!(r["findings"][0]["message"].as_str().unwrap().contains("kapp.k14s.io/original"), "{r}");
}

/// Istio's v1alpha1 security APIs (Istio's docs, quoted in `matrices/istio.yaml`): removed in
/// 1.6, replaced by other kinds in `security.istio.io/v1beta1`. Invented objects (edge case:
/// none of the peers ships Istio manifests).
#[test]
fn istio_alpha_policies_are_judged_by_the_istio_target() {
    let tree = crate::util::temp_tree(&[(
        "istio.yaml",
        "apiVersion: authentication.istio.io/v1alpha1\nkind: Policy\nmetadata: {name: default, namespace: shop}\n\
         ---\napiVersion: rbac.istio.io/v1alpha1\nkind: ServiceRole\nmetadata: {name: viewer, namespace: shop}\n",
    )]);
    let file = tree.path().join("istio.yaml");
    let (code, r) = crate::util::check_json(
        file.to_str().unwrap(),
        &["--only", "removed-api,deprecated-api", "--target", "istio=1.6"],
    );
    assert_eq!(code, 0, "{r}");
    let messages: Vec<&str> =
        r["findings"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("removed in Istio 1.6 (use PeerAuthentication at security.istio.io/v1beta1)")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("removed in Istio 1.6 (use AuthorizationPolicy at security.istio.io/v1beta1)")),
        "{messages:?}"
    );
    let (_, r) = crate::util::check_json(
        file.to_str().unwrap(),
        &["--only", "removed-api,deprecated-api", "--target", "istio=1.5"],
    );
    assert_eq!(crate::util::finding_ids(&r), ["deprecated-api"], "{r}");
    let (_, r) = crate::util::check_json(
        file.to_str().unwrap(),
        &["--only", "removed-api,deprecated-api", "--target", "kubernetes=1.32"],
    );
    assert!(crate::util::finding_ids(&r).is_empty(), "{r}");
}
