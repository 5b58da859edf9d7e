//! `deprecated-api-requests` over the live path: the fake API server serves `/metrics` in
//! the Prometheus text format (a real `apiserver_requested_deprecated_apis` exposition among
//! other API server metrics, `tests/fixtures/metrics/`), and the built binary reads it
//! through a real kubeconfig. Also: 403, 404 and a body that is not the format (could not
//! evaluate, with the reason), the snapshot round trip, and the RBAC it needs.

use serde_json::{Value, json};

use crate::fake_api::{FakeApi, Target, api_server_metrics};
use crate::util::run;

const ID: &str = "deprecated-api-requests";

/// The real exposition (EKS 1.24), see `tests/fixtures/metrics/README.md`.
fn real() -> String {
    std::fs::read_to_string(crate::util::root().join("tests/fixtures/metrics/eks-1.24-requested-deprecated-apis.prom"))
        .unwrap()
}

struct Cluster {
    fake: FakeApi,
    dir: tempfile::TempDir,
    kubeconfig: String,
}

/// A 1.24 cluster (one Ready Node) whose `/metrics` is `body`.
fn cluster(body: String) -> Cluster {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.24.17-eks-7f9249a"}}});
    let fake = FakeApi::builder().object(node).git_version("v1.24.17-eks-7f9249a").metrics(body).start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path()).to_str().unwrap().to_string();
    Cluster { fake, dir, kubeconfig }
}

impl Cluster {
    /// `check --only deprecated-api-requests EXTRA…` (`EXTRA` may give its own `--only`).
    fn check(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args = vec!["check", "--kubeconfig", &self.kubeconfig, "-o", "json", "--timeout", "30"];
        if !extra.contains(&"--only") {
            args.extend(["--only", ID]);
        }
        args.extend_from_slice(extra);
        let out = run(&args);
        let v = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", out.stdout, out.stderr));
        (out.code, v, out.stderr)
    }

    fn metrics_requests(&self) -> Vec<crate::fake_api::RecordedRequest> {
        self.fake.requests().into_iter().filter(|r| r.path == "/metrics").collect()
    }
}

/// (severity, object name, apiVersion) of each finding of the check.
fn found(r: &Value) -> Vec<(String, String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checkId"] == ID)
        .map(|f| {
            let o = &f["objects"][0];
            assert_eq!(o["kind"], "APIResource", "{f}");
            (
                f["severity"].as_str().unwrap().into(),
                o["name"].as_str().unwrap().into(),
                o["apiVersion"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn unknown(r: &Value) -> Option<(String, String)> {
    r["couldNotEvaluate"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["checkId"] == ID)
        .map(|s| (s["severity"].as_str().unwrap().into(), s["reason"].as_str().unwrap().into()))
}

fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[test]
fn live_requests_of_apis_removed_at_the_target_are_blockers() {
    let c = cluster(api_server_metrics(&real()));
    let (code, r, stderr) = c.check(&["--target", "kubernetes=1.25", "--stats"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(
        found(&r),
        [
            s("blocker", "poddisruptionbudgets", "policy/v1beta1"),
            s("blocker", "podsecuritypolicies", "policy/v1beta1"),
            s("info", "csistoragecapacities", "storage.k8s.io/v1beta1"),
        ]
    );
    let pdb = &r["findings"][0];
    assert_eq!(
        pdb["message"],
        "policy/v1beta1 poddisruptionbudgets is still requested (apiserver_requested_deprecated_apis = 1 since the API \
         server started) and is removed in Kubernetes 1.25 (at or before the target 1.25); use policy/v1 (served since 1.21)"
    );
    assert!(pdb["remediation"].as_str().unwrap().contains("k8s.io/deprecated"), "{pdb}");
    // One GET of /metrics, asking for the text format, counted with the rest.
    let m = c.metrics_requests();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].method, "GET");
    assert!(m[0].header("accept").unwrap().starts_with("text/plain;version=0.0.4"), "{:?}", m[0].header("accept"));
    let all = c.fake.requests();
    assert!(all.iter().all(|q| q.method == "GET"));
    let stats = stderr.lines().find(|l| l.starts_with("stats")).unwrap();
    assert!(stats.contains(&format!(" requests={} ", all.len())), "{stats} vs {} requests", all.len());

    // Without a Kubernetes target: the next minor's removals are warnings, GO with warnings.
    let (code, r, stderr) = c.check(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(r["verdict"], "GO-WITH-WARNINGS");
    let sev: Vec<String> = found(&r).into_iter().map(|f| f.0).collect();
    assert_eq!(sev, ["warning", "warning", "info"]);
}

#[test]
fn nothing_requested_is_an_evaluated_pass() {
    let c = cluster(api_server_metrics(""));
    let (code, r, stderr) = c.check(&["--target", "kubernetes=1.25", "-v"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(r["verdict"], "GO");
    assert!(found(&r).is_empty());
    assert_eq!(r["summary"]["evaluated"], 1, "{}", r["summary"]);
    assert_eq!(unknown(&r), None);
}

#[test]
fn the_snapshot_carries_the_gauge_and_nothing_else_of_metrics() {
    let c = cluster(api_server_metrics(&real()));
    let file = c.dir.path().join("snap.json");
    let out = run(&["snapshot", "--kubeconfig", &c.kubeconfig, "--output-file", file.to_str().unwrap(), "--only", ID]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"kind\":\"DeprecatedAPIRequests\""), "{text}");
    assert!(text.contains("csistoragecapacities") && text.contains("\"removedRelease\":\"1.27\""), "{text}");
    for other in ["apiserver_request_total", "apiserver_storage_objects", "process_start_time_seconds", "1842"] {
        assert!(!text.contains(other), "{other} leaked into the snapshot");
    }
    let (live_code, live, _) = c.check(&["--target", "kubernetes=1.25"]);
    let (snap_code, snap) =
        crate::util::check_json(file.to_str().unwrap(), &["--only", ID, "--target", "kubernetes=1.25"]);
    assert_eq!((live_code, &live["findings"]), (snap_code, &snap["findings"]));

    // A dump without the gauge: not applicable, with the reason (never a pass).
    let (code, r) =
        crate::util::check_json("examples/demo-cluster.yaml", &["--only", ID, "--target", "kubernetes=1.26"]);
    assert_eq!(code, 3, "nothing evaluated is never GO");
    let na = r["notApplicable"].as_array().unwrap().iter().find(|n| n["checkId"] == ID).unwrap();
    assert!(na["reason"].as_str().unwrap().starts_with("the input holds no API server metrics"), "{na}");
}

#[test]
fn forbidden_metrics_are_could_not_evaluate_naming_the_permission() {
    let c = cluster(api_server_metrics(&real()));
    c.fake.forbid(Target::path_prefix("/metrics"));
    let (code, r, stderr) = c.check(&["--target", "kubernetes=1.25"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(r["incomplete"], true);
    let (sev, reason) = unknown(&r).expect("could not evaluate");
    assert_eq!(sev, "blocker");
    assert!(
        reason.starts_with(
            "forbidden: get /metrics: the ClusterRole needs nonResourceURLs [\"/metrics\"] with verb get (`upgrade-preflight rbac` grants it): "
        ) && reason.contains("cannot get path \"/metrics\""),
        "{reason}"
    );
    // Not retried: a 403 does not change.
    assert_eq!(c.metrics_requests().len(), 1);
    // Without a Kubernetes target the check is at most a warning: GO with warnings, not exit 3
    // (with a check that could be evaluated beside it: nothing evaluated is exit 3).
    let (code, r, stderr) = c.check(&["--only", "deprecated-api-requests,nodes-not-ready"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(r["verdict"], "GO-WITH-WARNINGS");
    assert_eq!(unknown(&r).unwrap().0, "warning");
    // A snapshot of that run keeps the failure: judged offline as live.
    let file = c.dir.path().join("snap.json");
    let out = run(&["snapshot", "--kubeconfig", &c.kubeconfig, "--output-file", file.to_str().unwrap(), "--only", ID]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (snap_code, snap) =
        crate::util::check_json(file.to_str().unwrap(), &["--only", ID, "--target", "kubernetes=1.25"]);
    assert_eq!(snap_code, 3);
    assert_eq!(unknown(&snap).unwrap().1, reason);
}

#[test]
fn a_body_that_is_not_the_format_or_a_404_is_could_not_evaluate() {
    // An HTML page served as text/plain (a proxy's sign-in page): refused at its first line,
    // not retried, never "nothing requested".
    let c = cluster("<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>\n".to_string());
    let (code, r, stderr) = c.check(&["--target", "kubernetes=1.25"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(
        unknown(&r).unwrap().1,
        "get /metrics: the body is not in the Prometheus text format: line 1: expected a metric name; not retried"
    );
    assert_eq!(c.metrics_requests().len(), 1);

    // A line cut short (a truncated body) and an empty body.
    for (body, want) in [
        (
            api_server_metrics(&real()).replace(
                "} 1\napiserver_requested_deprecated_apis{group=\"storage",
                "} 1\napiserver_requested_deprecated_apis{group=\"storage\n",
            ),
            "unterminated label value",
        ),
        (String::new(), "the body holds no metrics (an API server always has some)"),
    ] {
        let c = cluster(body);
        let (code, r, _) = c.check(&["--target", "kubernetes=1.25"]);
        assert_eq!(code, 3);
        let reason = unknown(&r).unwrap().1;
        assert!(reason.contains(want), "{reason}");
    }

    let c = cluster(api_server_metrics(""));
    c.fake.not_found(Target::path_prefix("/metrics"));
    let (code, r, _) = c.check(&["--target", "kubernetes=1.25"]);
    assert_eq!(code, 3);
    let reason = unknown(&r).unwrap().1;
    assert!(reason.starts_with("get /metrics: HTTP 404: the API server does not serve its metrics there"), "{reason}");
}

#[test]
fn rbac_grants_metrics_only_when_the_check_is_selected() {
    let all = run(&["rbac"]);
    assert!(all.stdout.contains("- nonResourceURLs: [\"/metrics\"]\n  verbs: [get]\n"), "{}", all.stdout);
    let only = run(&["rbac", "--only", ID]);
    assert!(only.stdout.contains("nonResourceURLs"));
    let without = run(&["rbac", "--skip", ID]);
    assert!(!without.stdout.contains("nonResourceURLs"), "{}", without.stdout);
    // A live run that does not select the check never asks for /metrics.
    let c = cluster(api_server_metrics(&real()));
    let out = run(&["check", "--kubeconfig", &c.kubeconfig, "-q", "--only", "nodes-not-ready"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(c.metrics_requests().is_empty());
}
