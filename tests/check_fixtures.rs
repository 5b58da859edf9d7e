//! Walks `tests/fixtures/checks/<id>/{pass,fail,unknown}.<case>.yaml`: a `fail.*` snapshot
//! must make `<id>` produce findings, a `pass.*` one must evaluate `<id>` and produce none,
//! an `unknown.*` one must leave `<id>` *could not evaluate* (missing evidence is never a
//! pass nor a finding). Every finding id in the catalog needs a pass and a fail fixture.
//! `CHECK=<id>` narrows a run.
//!
//! A fixture whose first lines hold `# plan: --target C=V --values REL=FILE --reuse-values`
//! is evaluated with that upgrade plan; values files (`values.*.yaml`) sit beside it. A plan
//! may also name a planned change, `--manifest FILE --release NS/NAME --chart DIR` (paths
//! relative to the fixture): the snapshot is then the cluster before the change, and the
//! fixture is evaluated on the future state; manifests (`manifest.*.yaml`) sit beside it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use upgrade_preflight::catalog::{Catalog, Sources};
use upgrade_preflight::eval::plan::{self, PlanRequest};
use upgrade_preflight::eval::{self, Selection};
use upgrade_preflight::inventory::{Inventory, snapshot};

/// A planned change a fixture declares.
#[derive(Default)]
struct FixtureChange {
    manifests: Vec<PathBuf>,
    release: Option<String>,
    chart: Option<PathBuf>,
}

/// The inventory as the fixture's change leaves it (unchanged without one). `--values` for
/// the change's release feed `values-schema` only, as `check` does for a release not installed.
fn apply_change(inv: Inventory, ch: &FixtureChange, req: &mut PlanRequest) -> Inventory {
    use upgrade_preflight::inventory::manifest::{self, ChangeSet, ReleaseRef};
    if ch.manifests.is_empty() {
        return inv;
    }
    let limits = upgrade_preflight::limits::Limits::default();
    let docs = manifest::read(&ch.manifests, &mut std::io::empty(), &limits).unwrap_or_else(|e| panic!("{e}"));
    let release = ch.release.as_deref().map(|r| {
        let (ns, name) = r.split_once('/').unwrap();
        ReleaseRef { namespace: ns.to_string(), name: name.to_string() }
    });
    let mut values = None;
    if let Some(rel) = &release {
        let (mine, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut req.values).into_iter().partition(|v| v.release == rel.name);
        req.values = rest;
        values = mine.into_iter().next().map(|v| (v.file, v.values));
    }
    let set = ChangeSet {
        release,
        chart: ch.chart.as_deref().map(|c| manifest::read_chart(c, &limits).unwrap_or_else(|e| panic!("{e}"))),
        values,
        cluster: true,
        ..ChangeSet::default()
    };
    manifest::apply(inv, &docs, set).unwrap()
}

/// The plan a fixture declares in a `# plan:` comment line, if any.
fn fixture_plan(file: &std::path::Path, catalog: &Catalog) -> (PlanRequest, FixtureChange) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut req = PlanRequest::default();
    let mut change = FixtureChange::default();
    let Some(line) = text.lines().take_while(|l| l.starts_with('#')).find_map(|l| l.strip_prefix("# plan:")) else {
        return (req, change);
    };
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        match w {
            "--target" => req.targets.push(plan::parse_target(words.next().unwrap(), catalog).unwrap()),
            "--values" => {
                let (rel, f) = words.next().unwrap().split_once('=').unwrap();
                // Relative to the package root (the tests' working directory), so messages that
                // name the file are the same on every machine.
                let path = file.parent().unwrap().join(f);
                let path = path.strip_prefix(crate::util::root()).unwrap_or(&path).to_path_buf();
                req.values.push(plan::parse_values(&format!("{rel}={}", path.display())).unwrap());
            }
            "--reuse-values" => req.reuse_values = true,
            "--manifest" => change.manifests.push(file.parent().unwrap().join(words.next().unwrap())),
            "--release" => change.release = words.next().map(ToString::to_string),
            "--chart" => change.chart = Some(file.parent().unwrap().join(words.next().unwrap())),
            other => panic!("{}: unknown plan word {other}", file.display()),
        }
    }
    (req, change)
}

fn fixture_dirs() -> Vec<(String, PathBuf)> {
    let root = crate::util::root().join("tests/fixtures/checks");
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_finding_id_has_pass_and_fail_fixtures() {
    let catalog = Catalog::load(&Sources::default()).unwrap();
    let dirs: BTreeMap<String, PathBuf> = fixture_dirs().into_iter().collect();
    let mut missing = Vec::new();
    for id in catalog.finding_ids() {
        let Some(dir) = dirs.get(&id) else {
            missing.push(format!("{id}: no directory"));
            continue;
        };
        let names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        for prefix in ["pass.", "fail."] {
            if !names.iter().any(|n| n.starts_with(prefix)) {
                missing.push(format!("{id}: no {prefix}* fixture"));
            }
        }
    }
    for id in dirs.keys() {
        if !catalog.finding_ids().contains(id) {
            missing.push(format!("{id}: fixture directory for an id the catalog does not have"));
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn fixtures_pass_and_fail_as_named() {
    let catalog = Catalog::load(&Sources::default()).unwrap();
    let only = std::env::var("CHECK").ok();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (id, dir) in fixture_dirs() {
        if only.as_deref().is_some_and(|o| o != id) {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut snap: Vec<serde_json::Value> = Vec::new();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("values.") || name.starts_with("manifest.") {
                continue;
            }
            let inv = snapshot::load(&file).unwrap_or_else(|e| panic!("{e}"));
            let (mut req, change) = fixture_plan(&file, &catalog);
            let inv = apply_change(inv, &change, &mut req);
            let resolved = plan::resolve(&req, &catalog, &inv).unwrap_or_else(|e| panic!("{name}: {e}"));
            let result = eval::evaluate_plan(&catalog, &inv, &Selection::default(), &resolved);
            let found: Vec<_> = result.findings.iter().filter(|f| f.check_id == id).collect();
            let evaluated = result.evaluated.contains(&id);
            checked += 1;
            if name.starts_with("fail.") {
                if found.is_empty() {
                    failures.push(format!("{id}/{name}: expected findings, got none (evaluated: {evaluated})"));
                }
                snap.push(serde_json::json!({
                    "file": name,
                    "findings": found.iter().map(|f| serde_json::json!({
                        "severity": f.severity.to_string(),
                        "objects": f.objects.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "message": f.message,
                    })).collect::<Vec<_>>(),
                }));
            } else if name.starts_with("pass.") {
                if !found.is_empty() {
                    failures.push(format!(
                        "{id}/{name}: expected no findings, got {:?}",
                        found.iter().map(|f| &f.message).collect::<Vec<_>>()
                    ));
                }
                if !evaluated {
                    let why: Vec<_> = result
                        .not_applicable
                        .iter()
                        .chain(&result.could_not_evaluate)
                        .filter(|s| s.check_id == id)
                        .map(|s| s.reason.clone())
                        .collect();
                    failures.push(format!("{id}/{name}: a pass fixture must evaluate the check, but: {why:?}"));
                }
            } else if name.starts_with("unknown.") {
                let reason = result.could_not_evaluate.iter().find(|s| s.check_id == id).map(|s| s.reason.clone());
                if !found.is_empty() || evaluated || reason.is_none() {
                    failures.push(format!(
                        "{id}/{name}: expected could not evaluate, got findings {:?}, evaluated {evaluated}",
                        found.iter().map(|f| &f.message).collect::<Vec<_>>()
                    ));
                }
                snap.push(serde_json::json!({"file": name, "couldNotEvaluate": reason}));
            } else {
                failures.push(format!("{id}/{name}: fixture names start with pass., fail. or unknown."));
            }
        }
        if only.is_none() || only.as_deref() == Some(id.as_str()) {
            insta::with_settings!({snapshot_suffix => id.clone(), prepend_module_to_snapshot => false}, {
                insta::assert_json_snapshot!("fixture", snap);
            });
        }
    }
    assert!(checked > 0, "no fixtures found");
    assert!(failures.is_empty(), "{failures:#?}");
}
