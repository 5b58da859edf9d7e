//! Add-on fixtures: `tests/fixtures/addons/<component-id>/<case>.yaml`, each a snapshot (the
//! format of `tests/fixtures/checks/*/*.yaml`) whose leading comment lines say what a report
//! on it must show. The built binary runs `check --snapshot FILE -o json [--target …]`, so the
//! whole path — detection, planning, the JSON contract — is what is tested.
//!
//! Header lines (before the first non-comment line; `key: value`, one per line):
//!
//! | key | n | asserts |
//! |---|---|---|
//! | `target: C=V` | 0..n | nothing; each becomes a `--target C=V` argument |
//! | `expect-component: C=V` | 1..n | `components[]` has C `detected` at version V (a leading `v` is ignored); `C=unknown`: present, version unknown; `C=absent`: not detected |
//! | `expect-finding: ID` | 0..n | a finding with `checkId` ID and `component` the directory's component |
//! | `expect-no-finding: ID` | 0..n | no such finding; when the component's expected version is a version, also that its plan step (if any) does not leave ID *could not evaluate* |
//! | `expect-unknown: ID` | 0..n | ID is *could not evaluate* for the directory's component: its plan step has verdict `unknown` and lists ID, and `couldNotEvaluate` has ID |
//! | `expect-first: C=V` | 0..1 | "upgrade this first": the plan step of C has `requiredVersion` V, comes before (`order`) every step in its `requiredBy`, and those list C in `upgradeFirst`; without the key, the directory's component has no `requiredVersion` |
//!
//! Any other `# word:` line is an error (a typo must not silently assert nothing); other
//! comment lines are free text. Beyond the header: when the directory's component is
//! `unknown`, a `kubernetes` target is given and its matrix has `supported-peers` rows for
//! Kubernetes, its peer rule must be *could not evaluate* — a plan step with verdict
//! `unknown` listing `peer-compatibility`, and a `couldNotEvaluate` entry for it — never a
//! pass. The walk is safe on a missing or empty directory; `ADDON=<id>` narrows it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use upgrade_preflight::catalog::{Catalog, Sources};

use crate::util::{root, run};

/// What a fixture's header asks for.
#[derive(Debug, Default)]
struct Expect {
    targets: Vec<String>,
    components: Vec<(String, String)>,
    findings: Vec<String>,
    no_findings: Vec<String>,
    unknown: Vec<String>,
    first: Option<(String, String)>,
}

fn pair(key: &str, v: &str) -> Result<(String, String), String> {
    match v.split_once('=') {
        Some((c, ver)) if !c.trim().is_empty() && !ver.trim().is_empty() => {
            Ok((c.trim().to_string(), ver.trim().to_string()))
        }
        _ => Err(format!("{key}: '{v}' is not COMPONENT=VERSION")),
    }
}

/// Parses the header; an unknown key, a malformed value or a missing `expect-component` is
/// an error.
fn parse_header(text: &str) -> Result<Expect, String> {
    let mut e = Expect::default();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let body = line.trim_start_matches('#').trim();
        let Some((key, value)) = body.split_once(':') else { continue };
        // Only `word:` with a kebab-case word is a key; anything else is free text.
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            continue;
        }
        let value = value.trim();
        match key {
            "target" => e.targets.push(pair(key, value).map(|(c, v)| format!("{c}={v}"))?),
            "expect-component" => e.components.push(pair(key, value)?),
            "expect-finding" => e.findings.push(value.to_string()),
            "expect-no-finding" => e.no_findings.push(value.to_string()),
            "expect-unknown" => e.unknown.push(value.to_string()),
            "expect-first" if e.first.is_some() => return Err("expect-first: at most one".into()),
            "expect-first" => e.first = Some(pair(key, value)?),
            other => return Err(format!("unknown header key '{other}'")),
        }
    }
    if e.components.is_empty() {
        return Err("no expect-component line: the fixture would assert nothing about detection".into());
    }
    if e.findings.iter().chain(&e.no_findings).chain(&e.unknown).any(String::is_empty) {
        return Err("expect-finding / expect-no-finding / expect-unknown: empty id".into());
    }
    Ok(e)
}

fn bare(v: &str) -> &str {
    v.strip_prefix('v').unwrap_or(v)
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// Runs one fixture and returns what went wrong (empty when it holds).
fn judge(file: &Path, component: &str, catalog: &Catalog) -> Vec<String> {
    let name = file.strip_prefix(root()).unwrap_or(file).display().to_string();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let expect = match parse_header(&text) {
        Ok(e) => e,
        Err(e) => return vec![format!("{name}: header: {e}")],
    };
    let mut args =
        vec!["check".to_string(), "--snapshot".into(), file.display().to_string(), "-o".into(), "json".into()];
    for t in &expect.targets {
        args.extend(["--target".to_string(), t.clone()]);
    }
    let out = run(&args);
    let report: Value = match serde_json::from_str(&out.stdout) {
        Ok(v) if [0, 1, 3].contains(&out.code) => v,
        _ => return vec![format!("{name}: exit {} and no JSON report:\n{}", out.code, out.stderr)],
    };
    let mut bad = Vec::new();
    let mut fail = |m: String| bad.push(format!("{name}: {m}"));

    let comps = report["components"].as_array().cloned().unwrap_or_default();
    let comp = |id: &str| comps.iter().find(|c| c["id"] == id);
    for (id, want) in &expect.components {
        let got = comp(id);
        let status = got.and_then(|c| c["status"].as_str()).unwrap_or("not-detected");
        let ok = match want.as_str() {
            "absent" => status == "not-detected",
            "unknown" => status == "unknown",
            v => status == "detected" && got.and_then(|c| c["version"].as_str()).map(bare) == Some(bare(v)),
        };
        if !ok {
            fail(format!("expect-component {id}={want}, got {}", got.map_or("nothing".into(), ToString::to_string)));
        }
    }

    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    let mine = |id: &str| -> Vec<&Value> {
        findings.iter().filter(|f| f["checkId"] == id && f["component"] == component).collect()
    };
    let plan = report["plan"].as_array().cloned().unwrap_or_default();
    let step = |c: &str| plan.iter().find(|s| s["component"] == c);
    let unknown_in_step =
        |id: &str| step(component).is_some_and(|s| s["verdict"] == "unknown" && strs(&s["findings"]).contains(&id));
    for id in &expect.findings {
        if mine(id).is_empty() {
            let others: Vec<String> = findings
                .iter()
                .filter(|f| f["checkId"] == id.as_str())
                .map(|f| format!("{} (component {})", f["message"], f["component"]))
                .collect();
            fail(format!("expect-finding {id}: none for component {component}; with that id: {others:?}"));
        }
    }
    // With a known version, "no finding" must mean the rule was evaluated, not left unknown.
    let known = expect.components.iter().any(|(c, v)| c == component && v != "unknown" && v != "absent");
    for id in &expect.no_findings {
        for f in mine(id) {
            fail(format!("expect-no-finding {id}: found {}", f["message"]));
        }
        if known && unknown_in_step(id) {
            fail(format!("expect-no-finding {id}: it was not evaluated for {component} (plan step is unknown)"));
        }
    }

    let cne = |id: &str| report["couldNotEvaluate"].as_array().is_some_and(|a| a.iter().any(|s| s["checkId"] == id));
    for id in &expect.unknown {
        if !unknown_in_step(id) || !cne(id) {
            fail(format!(
                "expect-unknown {id}: not could-not-evaluate for {component} (plan step: {:?})",
                step(component)
            ));
        }
    }

    match &expect.first {
        Some((id, want)) => match step(id) {
            Some(s) if s["requiredVersion"].as_str().map(bare) == Some(bare(want)) => {
                let by = strs(&s["requiredBy"]);
                if by.is_empty() {
                    fail(format!("expect-first {id}: its plan step has no requiredBy: {s}"));
                }
                for b in by {
                    match step(b) {
                        Some(t)
                            if t["order"].as_u64() > s["order"].as_u64()
                                && strs(&t["upgradeFirst"]).contains(&id.as_str()) => {}
                        other => fail(format!(
                            "expect-first {id}: the step of {b} must come after it and list it in upgradeFirst: {other:?}"
                        )),
                    }
                }
            }
            other => fail(format!("expect-first {id}={want}: plan step {other:?}")),
        },
        None => {
            if let Some(s) = step(component).filter(|s| s.get("requiredVersion").is_some()) {
                fail(format!("no expect-first, but {component} must move first: {s}"));
            }
        }
    }

    // An unknown version is never a pass of the peer rule.
    let is_unknown = expect.components.iter().any(|(c, v)| c == component && v == "unknown");
    let k8s_target = expect.targets.iter().any(|t| t.starts_with("kubernetes="));
    let has_rows =
        catalog.matrices.get(component).is_some_and(|m| m.supported_peers.iter().any(|p| p.component == "kubernetes"));
    if is_unknown && k8s_target && has_rows && (!cne("peer-compatibility") || !unknown_in_step("peer-compatibility")) {
        fail(format!(
            "{component} is unknown: its peer rule must be could not evaluate (plan step: {:?})",
            step(component)
        ));
    }
    bad
}

/// `tests/fixtures/addons/<component>/<case>.yaml`, sorted; nothing when the directory is
/// missing or empty.
fn fixtures(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let Ok(components) = std::fs::read_dir(dir) else { return out };
    for c in components.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let id = c.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&c).into_iter().flatten().flatten().map(|e| e.path()) {
            if f.extension().is_some_and(|x| x == "yaml") {
                out.push((id.clone(), f));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn addon_fixtures_hold() {
    let catalog = Catalog::load(&Sources::default()).unwrap();
    let only = std::env::var("ADDON").ok();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (component, file) in fixtures(&root().join("tests/fixtures/addons")) {
        if only.as_deref().is_some_and(|o| o != component) {
            continue;
        }
        if !catalog.matrices.contains_key(&component) {
            failures.push(format!("{}: no matrix '{component}' (the directory names a component)", file.display()));
            continue;
        }
        checked += 1;
        failures.extend(judge(&file, &component, &catalog));
    }
    assert!(failures.is_empty(), "{checked} fixtures checked; failures:\n{}", failures.join("\n"));
}

#[test]
fn the_header_rejects_unknown_keys_and_empty_expectations() {
    let err =
        parse_header("# target: kubernetes=1.33.0\n# expect-findng: peer-compatibility\nkind: List\n").unwrap_err();
    assert!(err.contains("unknown header key 'expect-findng'"), "{err}");
    let err = parse_header("# target: kubernetes=1.33.0\nkind: List\n").unwrap_err();
    assert!(err.contains("no expect-component"), "{err}");
    let err = parse_header("# expect-component: cert-manager\n").unwrap_err();
    assert!(err.contains("COMPONENT=VERSION"), "{err}");
    let err = parse_header("# expect-component: a=1\n# expect-first: a=2\n# expect-first: a=3\n").unwrap_err();
    assert!(err.contains("at most one"), "{err}");
    // Free text, and comment lines after the header, are not keys.
    let e = parse_header("# Cert-manager 1.15 on Kubernetes 1.30 (see README: the chart)\n# expect-component: a=1\nkind: List\n# note: x\n")
        .unwrap();
    assert_eq!(e.components, vec![("a".to_string(), "1".to_string())]);
}

#[test]
fn the_walk_is_safe_on_a_missing_or_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    assert!(fixtures(&dir.path().join("missing")).is_empty());
    std::fs::create_dir(dir.path().join("cert-manager")).unwrap();
    assert!(fixtures(dir.path()).is_empty());
    std::fs::write(dir.path().join("cert-manager/README.md"), "not a fixture").unwrap();
    std::fs::write(dir.path().join("cert-manager/detected.yaml"), "kind: List\n").unwrap();
    let found = fixtures(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "cert-manager");
}

/// The harness can fail: wrong expectations on a real snapshot are reported, one per line.
#[test]
fn the_harness_reports_wrong_expectations() {
    let catalog = Catalog::load(&Sources::default()).unwrap();
    let snapshot = "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nserverVersion: v1.30.4\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {nodeInfo: {kubeletVersion: v1.30.4}, conditions: [{type: Ready, status: 'True'}]}\n";
    let dir = tempfile::tempdir().unwrap();
    let right = dir.path().join("right.yaml");
    std::fs::write(&right, format!("# target: kubernetes=1.31.0\n# expect-component: kubernetes=1.30.4\n# expect-no-finding: upgrade-path\n{snapshot}")).unwrap();
    let failures = judge(&right, "kubernetes", &catalog);
    assert!(failures.is_empty(), "{failures:#?}");

    let wrong = dir.path().join("wrong.yaml");
    let header = "# target: kubernetes=1.33.0\n# expect-component: kubernetes=1.29.0\n# expect-component: rancher=unknown\n# expect-no-finding: upgrade-path\n# expect-finding: kubelet-skew\n# expect-first: rancher=2.12.0\n# expect-unknown: peer-compatibility\n";
    std::fs::write(&wrong, format!("{header}{snapshot}")).unwrap();
    let failures = judge(&wrong, "kubernetes", &catalog);
    let text = failures.join("\n");
    for want in [
        "expect-component kubernetes=1.29.0",
        "expect-component rancher=unknown",
        "expect-no-finding upgrade-path: found",
        "expect-finding kubelet-skew: none",
        "expect-first rancher=2.12.0",
        "expect-unknown peer-compatibility",
    ] {
        assert!(text.contains(want), "missing '{want}' in:\n{text}");
    }
    assert_eq!(failures.len(), 6, "{text}");

    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, format!("# expect-componnent: kubernetes=1.30.4\n{snapshot}")).unwrap();
    let failures = judge(&typo, "kubernetes", &catalog);
    assert!(failures.len() == 1 && failures[0].contains("unknown header key"), "{failures:#?}");
}

/// A user matrix for an add-on the snapshot runs, verified on `date`.
fn stale_tree(date: &str) -> tempfile::TempDir {
    let matrix = format!(
        "id: stale-addon\nname: Stale add-on\nsource: https://example.com/compat\nlast-verified: \"{date}\"\ndetect: [{{image: {{repository: \"*/stale-addon\"}}}}]\nsupported-peers:\n  - {{component: kubernetes, when: \">=1.2.0, <1.3.0\", range: \"<1.31.0\"}}\n"
    );
    let idle = "id: idle-addon\nname: Idle add-on\nlast-verified: \"2001-01-01\"\ndetect: [{image: {repository: \"*/idle-addon\"}}]\n";
    let snapshot = "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nserverVersion: v1.30.2\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {nodeInfo: {kubeletVersion: v1.30.2}, conditions: [{type: Ready, status: 'True'}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: stale-addon, namespace: addons}\nspec: {replicas: 1, template: {spec: {containers: [{name: c, image: \"example.org/acme/stale-addon:v1.2.3\"}]}}}\nstatus: {replicas: 1, availableReplicas: 1, readyReplicas: 1}\n";
    crate::util::temp_tree(&[("m/stale-addon.yaml", &matrix), ("m/idle-addon.yaml", idle), ("s.yaml", snapshot)])
}

fn today_days() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    i64::try_from(secs / 86_400).unwrap()
}

fn date_of(days: i64) -> String {
    let (y, m, d) = upgrade_preflight::civil::from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn stale_run(date: &str, extra: &[&str], format: &str) -> (i32, String) {
    let dir = stale_tree(date);
    let (m, s) = (dir.path().join("m"), dir.path().join("s.yaml"));
    let mut args = vec!["check", "--snapshot", s.to_str().unwrap(), "--matrices", m.to_str().unwrap(), "-o", format];
    args.extend_from_slice(extra);
    let out = crate::util::run_system_clock(&args);
    (out.code, out.stdout)
}

/// Data last verified long ago says so, against the system clock; data verified today does
/// not; neither changes the verdict or the exit code.
#[test]
fn stale_data_is_a_notice_never_a_verdict() {
    let today = today_days();
    for extra in [&[][..], &["--target", "kubernetes=1.31.0"]] {
        let (old_code, old) = stale_run("2020-01-01", extra, "json");
        let (new_code, new) = stale_run(&date_of(today), extra, "json");
        let (old, new): (Value, Value) = (serde_json::from_str(&old).unwrap(), serde_json::from_str(&new).unwrap());
        let errs = crate::schemas::errors(&crate::schemas::validator("report.schema.json"), &old);
        assert!(errs.is_empty(), "{errs}");
        let notices = old["dataNotices"].as_array().unwrap();
        // Only the matrix that matters in this run: the idle one (2001) is not detected.
        assert_eq!(notices.len(), 1, "{notices:?}");
        let n = &notices[0];
        assert_eq!(n["component"], "stale-addon");
        assert_eq!(n["lastVerified"], "2020-01-01");
        assert_eq!(n["ageDays"].as_i64(), Some(today - upgrade_preflight::civil::parse_date("2020-01-01").unwrap()));
        assert!(n["message"].as_str().unwrap().contains("may be stale"), "{n}");
        assert!(new.get("dataNotices").is_none(), "{new}");
        assert_eq!(old_code, new_code, "{extra:?}");
        for key in ["verdict", "exitCode", "incomplete", "summary", "findings", "couldNotEvaluate"] {
            assert_eq!(old[key], new[key], "{key} with {extra:?}");
        }
        if !extra.is_empty() {
            // The add-on must move first either way: 1.2.x supports Kubernetes below 1.31.
            assert_eq!(old["plan"], new["plan"]);
            assert_eq!(old["plan"][0]["component"], "stale-addon", "{old}");
        }
    }
    // 180 days is not yet stale; 181 is.
    let (_, at_limit) = stale_run(&date_of(today - 180), &[], "json");
    assert!(!at_limit.contains("dataNotices"), "{at_limit}");
    let (_, past) = stale_run(&date_of(today - 181), &[], "json");
    assert!(past.contains("\"ageDays\": 181"), "{past}");
    // The table says it in a line of its own.
    let (code, table) = stale_run("2020-01-01", &[], "table");
    assert_eq!(code, 0, "{table}");
    let line =
        table.lines().find(|l| l.starts_with("Note: the Stale add-on data")).unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("2020-01-01"), "{line}");
    assert!(table.contains("This does not change the verdict."), "{table}");
}

/// A targeted component matters even when it is not detected; `UPGRADE_PREFLIGHT_TODAY`
/// fixes the date (and a bad one is a usage error).
#[test]
fn a_targeted_component_matters_and_the_date_can_be_fixed() {
    let dir = stale_tree("2026-01-01");
    let (m, s) = (dir.path().join("m"), dir.path().join("s.yaml"));
    let args = |extra: &[&str]| {
        let mut a = vec!["check", "--snapshot", s.to_str().unwrap(), "--matrices", m.to_str().unwrap(), "-o", "json"];
        a.extend_from_slice(extra);
        a.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    let out =
        crate::util::run_env(&args(&["--target", "idle-addon=1.0.0"]), &[("UPGRADE_PREFLIGHT_TODAY", "2026-07-01")]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> =
        r["dataNotices"].as_array().unwrap().iter().map(|n| n["component"].as_str().unwrap()).collect();
    // idle-addon: targeted, 2001 → stale; stale-addon: 181 days from 2026-01-01 to 2026-07-01.
    assert_eq!(ids, vec!["idle-addon", "stale-addon"], "{r}");
    assert_eq!(r["dataNotices"][1]["ageDays"], 181);
    let out = crate::util::run_env(&args(&[]), &[("UPGRADE_PREFLIGHT_TODAY", "2026-06-30")]);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(r.get("dataNotices").is_none(), "{r}");
    let out = crate::util::run_env(&args(&[]), &[("UPGRADE_PREFLIGHT_TODAY", "30/06/2026")]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("UPGRADE_PREFLIGHT_TODAY: '30/06/2026' is not a date (YYYY-MM-DD)"), "{}", out.stderr);
}
