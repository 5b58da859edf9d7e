//! Several clusters in one run: `--context` repeated and `--all-contexts`, against two
//! loopback fake API servers (one healthy, one with the Keep incident) reached through one
//! kubeconfig, plus a context whose server is gone.

use serde_json::Value;

use crate::fake_api::FakeApi;
use crate::live::start;
use crate::util::run;

const HEALTHY: &str = "tests/fixtures/clusters/healthy.yaml";
const INCIDENT: &str = "tests/fixtures/clusters/incident-keep.yaml";

struct Fleet {
    _fakes: Vec<FakeApi>,
    _dir: tempfile::TempDir,
    kubeconfig: String,
}

/// A kubeconfig with contexts `healthy` and `incident`, and `down` (a server that stopped
/// listening) when asked.
fn fleet(with_down: bool) -> Fleet {
    let healthy = start(HEALTHY);
    let incident = start(INCIDENT);
    let dir = tempfile::tempdir().unwrap();
    let mut contexts = vec![("healthy", &healthy), ("incident", &incident)];
    let down = with_down.then(|| start(HEALTHY));
    if let Some(d) = &down {
        contexts.push(("down", d));
    }
    let path = FakeApi::write_multi_kubeconfig(dir.path(), &contexts);
    if let Some(d) = down {
        // Point `down` at a port nothing listens on (as `unreachable_…` in live.rs does).
        let port = d.addr().port();
        drop(d);
        let text = std::fs::read_to_string(&path).unwrap().replace(&format!("127.0.0.1:{port}"), "127.0.0.1:1");
        std::fs::write(&path, text).unwrap();
    }
    Fleet { _fakes: vec![healthy, incident], _dir: dir, kubeconfig: path.to_str().unwrap().to_string() }
}

impl Fleet {
    fn check(&self, extra: &[&str]) -> crate::util::Out {
        let mut args = vec!["check", "--kubeconfig", &self.kubeconfig, "--timeout", "30"];
        args.extend_from_slice(extra);
        run(&args)
    }

    fn json(&self, extra: &[&str]) -> (i32, Value, String) {
        let out = self.check(&[extra, &["-o", "json"]].concat());
        let v = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
        (out.code, v, out.stderr)
    }
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn repeated_context_gives_one_section_per_cluster_and_the_worst_verdict() {
    let f = fleet(false);
    let (code, r, stderr) = f.json(&["--context", "incident", "--context", "healthy"]);
    assert_eq!(code, 1, "NO-GO anywhere is NO-GO: {stderr}");
    assert_eq!(keys(&r), ["clusters", "exitCode", "schemaVersion", "verdict"]);
    assert_eq!(
        (r["schemaVersion"].as_u64(), r["verdict"].as_str(), r["exitCode"].as_u64()),
        (Some(1), Some("NO-GO"), Some(1))
    );
    assert_eq!(keys(&r["clusters"]), ["healthy", "incident"]);
    assert_eq!(r["clusters"]["healthy"]["verdict"], "GO");
    assert_eq!(r["clusters"]["incident"]["verdict"], "NO-GO");
    assert!(crate::util::finding_ids(&r["clusters"]["incident"]).contains(&"missing-references".to_string()));
    // Each section is exactly the single-context report of that cluster.
    for ctx in ["healthy", "incident"] {
        let (single_code, single, _) = f.json(&["--context", ctx]);
        assert_eq!(r["clusters"][ctx], single, "{ctx}");
        assert_eq!(single["source"]["location"], ctx);
        assert_eq!(r["clusters"][ctx]["exitCode"], single_code);
    }
    let v = crate::schemas::validator("report.schema.json");
    assert!(v.is_valid(&r), "{}", crate::schemas::errors(&v, &r));

    let out = f.check(&["--context", "healthy", "--context", "incident"]);
    assert_eq!(out.code, 1);
    let text = &out.stdout;
    let (h, i) = (text.find("══ Cluster healthy ══").unwrap(), text.find("══ Cluster incident ══").unwrap());
    assert!(h < i, "sections in context order");
    assert_eq!(text.matches("\nVerdict: ").count(), 2, "{text}");
    assert!(text[h..i].contains("Verdict: GO: 0 blocker(s), 0 warning(s) (exit 0)"), "{text}");
    assert!(text[i..].contains("Verdict: NO-GO: "), "{text}");
    assert!(text.ends_with("Overall verdict: NO-GO: 2 cluster(s) — healthy: GO, incident: NO-GO (exit 1)\n"), "{text}");
    let out = f.check(&["--context", "healthy", "--context", "incident", "-q"]);
    assert_eq!(out.stdout, "NO-GO: 2 cluster(s) — healthy: GO, incident: NO-GO\n");
}

#[test]
fn all_contexts_checks_every_context_of_the_kubeconfig() {
    let f = fleet(false);
    let (code, all, _) = f.json(&["--all-contexts"]);
    let (_, repeated, _) = f.json(&["--context", "healthy", "--context", "incident"]);
    assert_eq!(code, 1);
    assert_eq!(all, repeated);
    // One collector at a time gives the same answer.
    let (_, serial, _) = f.json(&["--all-contexts", "--cluster-concurrency", "1"]);
    assert_eq!(serial, all);

    // Every format has a part per cluster.
    let out = f.check(&["--all-contexts", "-o", "junit"]);
    let doc = roxmltree::Document::parse(&out.stdout).unwrap();
    let suites: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("testsuite")).map(|n| n.attribute("name").unwrap()).collect();
    assert_eq!(suites, ["healthy", "incident"]);
    let out = f.check(&["--all-contexts", "-o", "sarif"]);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> =
        sarif["runs"].as_array().unwrap().iter().map(|r| r["automationDetails"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["upgrade-preflight/healthy/", "upgrade-preflight/incident/"]);
    let out = f.check(&["--all-contexts", "-o", "markdown"]);
    assert!(out.stdout.starts_with("### upgrade-preflight **[NO-GO]** 2 cluster(s) — healthy: GO, incident: NO-GO\n"));
    assert!(
        out.stdout.contains("#### Cluster `healthy` **[GO]**")
            && out.stdout.contains("#### Cluster `incident` **[NO-GO]**")
    );
}

#[test]
fn an_unreachable_cluster_is_reported_without_losing_the_others() {
    let f = fleet(true);
    let (code, r, stderr) = f.json(&["--context", "healthy", "--context", "down"]);
    assert_eq!(code, 3, "could not evaluate one cluster, the other GO: {stderr}");
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(r["exitCode"], 3);
    assert_eq!(r["clusters"]["healthy"]["verdict"], "GO");
    let down = &r["clusters"]["down"];
    assert_eq!(keys(down), ["error", "exitCode", "incomplete", "verdict"]);
    assert_eq!(
        (down["verdict"].as_str(), down["incomplete"].as_bool(), down["exitCode"].as_u64()),
        (Some("NO-GO"), Some(true), Some(3))
    );
    assert!(down["error"].as_str().unwrap().starts_with("cannot reach the cluster at https://127.0.0.1:1/"), "{down}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("upgrade-preflight: context down: cannot reach the cluster"), "{stderr}");
    let v = crate::schemas::validator("report.schema.json");
    assert!(v.is_valid(&r), "{}", crate::schemas::errors(&v, &r));

    // NO-GO outranks could-not-evaluate.
    let (code, r, _) = f.json(&["--all-contexts"]);
    assert_eq!((code, r["exitCode"].as_u64()), (1, Some(1)));
    assert_eq!(keys(&r["clusters"]), ["down", "healthy", "incident"]);

    let out = f.check(&["--all-contexts"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("══ Cluster down ══\nCould not check this cluster: cannot reach the cluster"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.ends_with(
        "Overall verdict: NO-GO: 3 cluster(s) — down: could not be checked, healthy: GO, incident: NO-GO (exit 1)\n"
    ));
    let out = f.check(&["--all-contexts", "-o", "junit"]);
    let doc = roxmltree::Document::parse(&out.stdout).unwrap();
    let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
    assert_eq!(error.parent().unwrap().attribute("name"), Some("cluster-reachable"));
}

#[test]
fn cluster_selection_errors() {
    let f = fleet(false);
    for (args, msg) in [
        (&["--all-contexts", "--context", "healthy"][..], "cannot be used with"),
        (&["--context", "healthy", "--context", "healthy"], "--context healthy is given more than once"),
    ] {
        let out = f.check(args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(msg), "{args:?}: {}", out.stderr);
    }
    for args in [&["--all-contexts"][..], &["--context", "healthy"], &["--context", "a", "--context", "b"]] {
        let out = run(&[&["check", "--snapshot", HEALTHY][..], args].concat());
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    }
    let out = run(&[
        "snapshot",
        "--output-file",
        "/dev/null",
        "--kubeconfig",
        &f.kubeconfig,
        "--context",
        "a",
        "--context",
        "b",
    ]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("snapshot captures one cluster"), "{}", out.stderr);
    let out = run(&["check", "--all-contexts", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.starts_with("upgrade-preflight: cannot load cluster configuration: /nonexistent/kubeconfig"));
}

#[test]
fn a_planned_upgrade_is_resolved_in_each_cluster() {
    let f = fleet(false);
    let (_, r, _) = f.json(&["--all-contexts", "--target", "kubernetes=1.30"]);
    let plan = r["clusters"]["healthy"]["plan"].as_array().unwrap();
    let step = plan.iter().find(|s| s["component"] == "kubernetes").unwrap();
    assert_eq!(step["target"].as_str(), Some("1.30"), "{r}");
    // Its Rancher agent (2.8.5, Kubernetes below 1.29) does not support 1.30: it comes first, as a step of its own.
    let first = &plan[0];
    assert_eq!((first["component"].as_str(), first["order"].as_u64()), (Some("rancher"), Some(1)), "{r}");
    assert_eq!(step["upgradeFirst"], serde_json::json!(["rancher"]), "{r}");
    assert!(r["clusters"]["incident"]["plan"].is_array(), "{r}");
    // A release neither cluster has: each says so, as a cluster that could not be checked.
    let (code, r, stderr) = f.json(&["--all-contexts", "--target", "release:shop/keep=0.42.0"]);
    assert_eq!(code, 3, "{stderr}");
    for ctx in ["healthy", "incident"] {
        let e = r["clusters"][ctx]["error"].as_str().unwrap();
        assert!(e.starts_with("no Helm release 'shop/keep' in the cluster"), "{ctx}: {e}");
    }
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}
