//! The live path over real HTTPS: the built binary, a real kubeconfig, and the loopback
//! fake API server (`tests/support/fake_api.rs`) loaded from the same fixture YAML as the
//! snapshot tests. Faults are injected on the server; nothing of ours is stubbed.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fake_api::{FakeApi, Fault};
use crate::util::{finding_ids, root, run};

/// Objects of a fixture file (Lists expanded, SnapshotInfo dropped) and its server version.
/// A live run measures ages against now, a snapshot against its `capturedAt`: the times of
/// etcd snapshots (ETCDSnapshotFile `status.creationTime`) move by the time since then, so a
/// cluster whose snapshot was recent at capture still has a recent one served live.
fn fixture(rel: &str) -> (Vec<Value>, Option<String>) {
    use upgrade_preflight::inventory::{epoch_seconds, rfc3339_signed};
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    let docs = upgrade_preflight::inventory::snapshot::parse_documents(&text, rel).unwrap();
    let mut objects = Vec::new();
    let mut version = None;
    let mut captured = None;
    for (_, d) in docs {
        if d.is_null() {
            continue;
        }
        if d["kind"] == "SnapshotInfo" {
            version = d["serverVersion"].as_str().map(ToString::to_string);
            captured = d["capturedAt"].as_str().and_then(epoch_seconds);
        } else if let Some(items) = d.get("items").and_then(Value::as_array) {
            objects.extend(items.iter().cloned());
        } else {
            objects.push(d);
        }
    }
    if let Some(captured) = captured {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let shift = i64::try_from(now).unwrap() - captured;
        for o in objects.iter_mut().filter(|o| o["kind"] == "ETCDSnapshotFile") {
            if let Some(t) = o.pointer("/status/creationTime").and_then(Value::as_str).and_then(epoch_seconds) {
                o["status"]["creationTime"] = Value::String(rfc3339_signed(t + shift));
            }
        }
    }
    (objects, version)
}

pub fn start(rel: &str) -> FakeApi {
    let (objects, version) = fixture(rel);
    let mut b = FakeApi::builder().objects(objects).strip_item_type_meta();
    if let Some(v) = version {
        b = b.git_version(v);
    }
    b.start()
}

struct Live {
    fake: FakeApi,
    _dir: tempfile::TempDir,
    kubeconfig: String,
}

fn live(rel: &str) -> Live {
    let fake = start(rel);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path()).to_str().unwrap().to_string();
    Live { fake, _dir: dir, kubeconfig }
}

impl Live {
    fn check(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args = vec!["check", "--kubeconfig", &self.kubeconfig, "-o", "json", "--timeout", "30"];
        args.extend_from_slice(extra);
        let out = run(&args);
        let v = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", out.stdout, out.stderr));
        (out.code, v, out.stderr)
    }
}

fn reasons(r: &Value) -> Vec<String> {
    r["couldNotEvaluate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}: {}", s["checkId"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect()
}

/// Findings without the source-specific parts, for comparing live and snapshot runs.
fn comparable(r: &Value) -> Value {
    let mut r = r.clone();
    r["source"] = Value::Null;
    r
}

#[test]
fn live_demo_cluster_matches_the_snapshot_verdict() {
    let l = live("examples/demo-cluster.yaml");
    let (code, r, stderr) = l.check(&[]);
    assert!(stderr.is_empty(), "no progress output when stderr is not a terminal: {stderr}");
    let (snap_code, snap) = crate::util::check_json("examples/demo-cluster.yaml", &[]);
    assert_eq!(code, snap_code);
    assert_eq!(r["source"]["type"], "live");
    assert_eq!(r["source"]["serverVersion"], "v1.25.9+rke2r1");
    assert_eq!(comparable(&r)["findings"], comparable(&snap)["findings"]);
    assert_eq!(r["components"], snap["components"]);
    assert_eq!(finding_ids(&r), finding_ids(&snap));
}

#[test]
fn only_gets_and_only_lists_of_needed_kinds() {
    let l = live("examples/demo-cluster.yaml");
    let (_, _, _) = l.check(&[]);
    let reqs = l.fake.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(r.method, "GET", "{} {}", r.method, r.path);
        // No per-object GETs: discovery, /version, or a paginated list.
        let list = r.query_param("limit").is_some();
        // `/metrics`: the API server's deprecated-API gauge (deprecated-api-requests).
        let discovery = r.path == "/version"
            || r.path == "/metrics"
            || r.path == "/api/v1"
            || r.path == "/apis"
            || r.path.matches('/').count() == 3 && r.path.starts_with("/apis/");
        assert!(list || discovery, "unexpected request {} {:?}", r.path, r.query);
    }
    let listed: Vec<&str> = reqs.iter().filter(|r| r.query_param("limit").is_some()).map(|r| r.path.as_str()).collect();
    // Kinds nobody reads are never listed.
    assert!(!listed.iter().any(|p| p.ends_with("/replicasets")), "{listed:?}");
    // Scopes declared by checks and matrices reach the server.
    let setting =
        reqs.iter().find(|r| r.path == "/apis/harvesterhci.io/v1beta1/settings").expect("harvester setting listed");
    assert_eq!(setting.query_param("fieldSelector"), Some("metadata.name=server-version"));
    assert!(listed.contains(&"/apis/management.cattle.io/v3/namespaces/fleet-local/managedcharts"), "{listed:?}");
}

#[test]
fn pagination_and_expired_continue_tokens() {
    let l = live("examples/demo-cluster.yaml");
    l.fake.expire_continue("pods", 1);
    let (code, r, _) = l.check(&["--page-size", "1"]);
    let (_, snap) = crate::util::check_json("examples/demo-cluster.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(r["findings"], snap["findings"], "a 410 restarts the list and loses nothing");
    let pod_lists: Vec<_> = l.fake.requests().into_iter().filter(|r| r.path == "/api/v1/pods").collect();
    assert!(pod_lists.iter().filter(|r| r.query_param("continue").is_none()).count() >= 2, "list restarted");
    assert!(pod_lists.iter().any(|r| r.status == Some(410)));
}

#[test]
fn forbidden_kind_makes_its_checks_incomplete() {
    let l = live("tests/fixtures/clusters/healthy.yaml");
    let (code, r, _) = l.check(&[]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO"), "{r}");

    l.fake.forbid("nodes");
    let (code, r, _) = l.check(&[]);
    assert_eq!(code, 3, "a blocker check without a verdict is NO-GO (incomplete)");
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(r["incomplete"], true);
    let rs = reasons(&r);
    assert!(
        rs.iter().any(|s| s.starts_with("nodes-not-ready: cannot read Node: forbidden: list nodes at cluster scope")),
        "{rs:?}"
    );
    let (code, r, _) = l.check(&["--allow-incomplete"]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"));
}

#[test]
fn absent_custom_kinds_are_not_applicable() {
    let l = live("tests/fixtures/clusters/incident-keep.yaml");
    let (_, r, _) = l.check(&[]);
    let na: Vec<&str> = r["notApplicable"].as_array().unwrap().iter().map(|s| s["checkId"].as_str().unwrap()).collect();
    assert!(na.contains(&"harvester-addons-mid-operation") && na.contains(&"managed-charts-not-ready"), "{na:?}");
    assert_eq!(r["couldNotEvaluate"], serde_json::json!([]), "{r}");
}

#[test]
fn transient_faults_are_retried() {
    let l = live("tests/fixtures/clusters/healthy.yaml");
    l.fake.throttle_429("nodes", 1, 1);
    l.fake.fail_500("pods", 2);
    l.fake.drop_connection("deployments", 1);
    let (code, r, _) = l.check(&[]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO"), "{}", serde_json::to_string_pretty(&r).unwrap());
    let reqs = l.fake.requests();
    let statuses = |p: &str| reqs.iter().filter(|r| r.path == p).map(|r| r.status).collect::<Vec<_>>();
    assert_eq!(statuses("/api/v1/nodes"), [Some(429), Some(200)]);
    assert_eq!(statuses("/api/v1/pods"), [Some(500), Some(500), Some(200)]);
    assert_eq!(statuses("/apis/apps/v1/deployments"), [None, Some(200)]);
}

#[test]
fn persistent_and_malformed_responses_fail_the_kind_with_a_reason() {
    let l = live("tests/fixtures/clusters/healthy.yaml");
    l.fake.fail_500("pods", crate::fake_api::ALWAYS);
    l.fake.wrong_content_type("nodes", crate::fake_api::ALWAYS);
    l.fake.truncated_json("ingresses", crate::fake_api::ALWAYS);
    let (code, r, _) = l.check(&[]);
    assert_eq!(code, 3);
    let rs = reasons(&r).join("\n");
    assert!(rs.contains("unstable-pods: cannot read Pod: list pods at cluster scope: HTTP 500"), "{rs}");
    assert!(
        rs.contains(
            "nodes-not-ready: cannot read Node: list nodes at cluster scope: unexpected content type text/html"
        ),
        "{rs}"
    );
    assert!(rs.contains("ingress-resource-backend: cannot read Ingress.networking.k8s.io: list ingresses.networking.k8s.io at cluster scope: invalid JSON"), "{rs}");
}

#[test]
fn slow_server_is_bounded_by_the_timeouts() {
    let l = live("tests/fixtures/clusters/healthy.yaml");
    l.fake.inject("pods", Fault::Delay(Duration::from_secs(60)), crate::fake_api::ALWAYS);
    let started = Instant::now();
    // Go-style durations, as kubectl takes them.
    let out = run(&["check", "--kubeconfig", &l.kubeconfig, "--timeout", "4s", "--request-timeout=1000ms"]);
    let took = started.elapsed();
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn unreachable_and_unauthorised_clusters_exit_3_with_one_line() {
    let l = live("tests/fixtures/clusters/healthy.yaml");
    // Wrong token.
    let text = std::fs::read_to_string(&l.kubeconfig).unwrap().replace(l.fake.token(), "wrong-token");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-token.yaml");
    std::fs::write(&bad, text).unwrap();
    let out = run(&["check", "--kubeconfig", bad.to_str().unwrap()]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("refused the credentials"), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
    // Nothing listening.
    let port = l.fake.addr().port();
    drop(l);
    let text = std::fs::read_to_string(&bad).unwrap().replace(&format!(":{port}"), ":1");
    std::fs::write(&bad, text).unwrap();
    let out = run(&["check", "--kubeconfig", bad.to_str().unwrap(), "--timeout", "10"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("cannot reach the cluster at https://127.0.0.1:1/"), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
    // Unknown context: a usage error naming the file and the contexts it has.
    let bad = bad.to_str().unwrap();
    // A writable destination: an unwritable one is refused before the kubeconfig is read.
    let never = dir.path().join("never-written.json");
    let never = never.to_str().unwrap();
    for sub in ["check", "snapshot"] {
        let mut args = vec![sub, "--kubeconfig", bad, "--context", "nope"];
        if sub == "snapshot" {
            args.extend(["--output-file", never]);
        }
        let out = run(&args);
        assert_eq!(out.code, 2, "{sub}: {}", out.stderr);
        assert_eq!(
            out.stderr,
            format!("upgrade-preflight: context nope not found in {bad}; contexts: fake\n"),
            "{sub}"
        );
        assert!(!std::path::Path::new(never).exists());
    }
    // Named through $KUBECONFIG, and among several contexts.
    let out = crate::util::run_env(&["check", "--context", "fake", "--context", "nope", "-q"], &[("KUBECONFIG", bad)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stderr, format!("upgrade-preflight: context nope not found in {bad}; contexts: fake\n"));
}

#[test]
fn reports_name_the_context_and_the_server_never_userinfo() {
    let l = live("tests/fixtures/clusters/healthy.yaml");
    let url = format!("https://127.0.0.1:{}/", l.fake.addr().port());
    // The current context's own name, not `current-context`.
    let (code, r, stderr) = l.check(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(r["source"]["type"], "live");
    assert_eq!(r["source"]["location"], "fake");
    assert_eq!(r["source"]["server"], url.as_str());
    let out = run(&["check", "--kubeconfig", &l.kubeconfig, "--context", "fake"]);
    assert!(out.stdout.starts_with("upgrade-preflight "), "{}", out.stdout);
    assert!(out.stdout.lines().next().unwrap().contains(&format!("— live context fake at {url} (")), "{}", out.stdout);
    // Credentials written into the server URL never reach a report or a message.
    let text =
        std::fs::read_to_string(&l.kubeconfig).unwrap().replace("https://127.0.0.1", "https://admin:hunter2@127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    let userinfo = dir.path().join("userinfo.yaml");
    std::fs::write(&userinfo, text).unwrap();
    for format in ["json", "table", "junit", "markdown", "sarif"] {
        let out = run(&["check", "--kubeconfig", userinfo.to_str().unwrap(), "-o", format, "--timeout", "30s"]);
        assert!(out.stdout.contains(&format!("127.0.0.1:{}", l.fake.addr().port())), "{format}: {}", out.stdout);
        assert!(
            !out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"),
            "{format}: {}{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn snapshot_round_trip_gives_the_same_findings_and_no_secret_values() {
    let l = live("examples/demo-cluster.yaml");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snap.json");
    let out = run(&["snapshot", "--kubeconfig", &l.kubeconfig, "--output-file", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Secret values removed"));
    let text = std::fs::read_to_string(&file).unwrap();
    // Every Secret value in the demo is base64 of something; none may be written.
    let (objects, _) = fixture("examples/demo-cluster.yaml");
    for o in objects.iter().filter(|o| o["kind"] == "Secret") {
        for field in ["data", "stringData"] {
            for v in o.get(field).and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
                let v = v.as_str().unwrap();
                assert!(v.len() < 4 || !text.contains(v), "secret value {v} leaked into the snapshot");
            }
        }
    }
    // Only what the checks read is captured: a Pod its Deployment's ReplicaSet stands for
    // keeps metadata, the status fields unstable-pods reads, and of its spec only the node and
    // each container's requests (drain-capacity); the specs of Pods judged themselves (bare,
    // or a Job's) are kept whole.
    let docs = upgrade_preflight::inventory::snapshot::parse_documents(&text, "snap.json").unwrap();
    let items = docs.iter().find_map(|(_, d)| d.get("items").and_then(Value::as_array)).unwrap();
    let owned_pod = items
        .iter()
        .find(|o| o["kind"] == "Pod" && o["metadata"]["labels"]["pod-template-hash"].is_string())
        .expect("the demo has Pods of Deployments");
    let job_pod = items
        .iter()
        .find(|o| o["kind"] == "Pod" && o["metadata"]["ownerReferences"][0]["kind"] == "Job")
        .expect("the demo has a Job's Pod");
    assert!(job_pod["spec"]["containers"][0]["image"].is_string(), "{job_pod}");
    let spec = owned_pod["spec"].as_object().unwrap();
    assert!(
        spec.keys().all(|k| ["nodeName", "containers", "initContainers", "overhead"].contains(&k.as_str())),
        "{owned_pod}"
    );
    for c in spec["containers"].as_array().unwrap() {
        assert!(c.as_object().unwrap().keys().all(|k| k == "resources"), "{owned_pod}");
    }
    assert!(owned_pod["status"].get("containerStatuses").is_some(), "{owned_pod}");
    assert!(owned_pod["status"].get("conditions").is_none(), "{owned_pod}");
    let (live_code, live_r, _) = l.check(&[]);
    let (snap_code, snap_r) = crate::util::check_json(file.to_str().unwrap(), &[]);
    assert_eq!(live_code, snap_code);
    assert_eq!(live_r["findings"], snap_r["findings"]);
    assert_eq!(live_r["notApplicable"], snap_r["notApplicable"]);
    assert_eq!(live_r["couldNotEvaluate"], snap_r["couldNotEvaluate"]);
    assert_eq!(live_r["components"], snap_r["components"]);
}

#[test]
fn rbac_matches_the_shipped_manifest_and_the_reads() {
    let out = run(&["rbac"]);
    assert_eq!(out.code, 0);
    let shipped = std::fs::read_to_string(root().join("deploy/rbac.yaml")).unwrap();
    assert_eq!(out.stdout, shipped, "regenerate with: upgrade-preflight rbac > deploy/rbac.yaml");
    assert!(out.stdout.contains("verbs: [get, list]"));
    assert!(!out.stdout.contains("watch") && !out.stdout.contains("create") && !out.stdout.contains("delete"));

    // Every resource the live run listed is covered by the role.
    let l = live("examples/demo-cluster.yaml");
    let _ = l.check(&[]);
    for r in l.fake.requests().iter().filter(|r| r.query_param("limit").is_some()) {
        let plural = Path::new(&r.path).file_name().unwrap().to_str().unwrap();
        assert!(out.stdout.contains(plural), "{plural} missing from the ClusterRole");
    }
}

/// `(apiGroup, resource)` pairs a generated ClusterRole grants.
fn granted(role: &str) -> std::collections::BTreeSet<(String, String)> {
    let mut out = std::collections::BTreeSet::new();
    let mut group = String::new();
    for line in role.lines() {
        if let Some(g) = line.strip_prefix("- apiGroups: [\"") {
            group = g.trim_end_matches("\"]").to_string();
        } else if let Some(rs) = line.strip_prefix("  resources: [") {
            for r in rs.trim_end_matches(']').split(", ") {
                out.insert((group.clone(), r.to_string()));
            }
        }
    }
    out
}

#[test]
fn rbac_for_a_selection_grants_what_that_selection_reads_and_no_more() {
    let all = granted(&run(&["rbac"]).stdout);
    let only = run(&["rbac", "--only", "nodes-not-ready,missing-references"]);
    assert_eq!(only.code, 0, "{}", only.stderr);
    let narrow = granted(&only.stdout);
    assert!(narrow.is_subset(&all) && narrow.len() < all.len(), "{narrow:?}");
    assert!(narrow.contains(&(String::new(), "nodes".into())) && narrow.contains(&(String::new(), "secrets".into())));
    // Removed-API evidence is read only for the planning rules.
    let apiservices = ("apiregistration.k8s.io".to_string(), "apiservices".to_string());
    assert!(all.contains(&apiservices) && !narrow.contains(&apiservices), "{narrow:?}");
    assert!(granted(&run(&["rbac", "--only", "removed-api"]).stdout).contains(&apiservices));
    // Skipping checks drops what only they read.
    let skipped = granted(&run(&["rbac", "--skip", "webhooks-without-endpoints"]).stdout);
    assert!(skipped.len() < all.len(), "{skipped:?}");
    // A live run of the same selection lists nothing the narrow role does not grant.
    let l = live("examples/demo-cluster.yaml");
    let (code, _, stderr) = l.check(&["--only", "nodes-not-ready,missing-references", "--target", "kubernetes=1.26"]);
    assert_eq!(code, 1, "{stderr}");
    let lists: Vec<_> = l.fake.requests().into_iter().filter(|r| r.query_param("limit").is_some()).collect();
    assert!(!lists.is_empty());
    for r in lists {
        let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        let group = if parts[0] == "api" { String::new() } else { parts[1].to_string() };
        let plural = parts.last().unwrap().to_string();
        assert!(narrow.contains(&(group.clone(), plural.clone())), "{group}/{plural} is listed but not granted");
    }
}

#[test]
fn live_planning_reads_helm_releases_and_api_evidence_like_the_snapshot() {
    for (rel, target) in [
        ("tests/fixtures/checks/removed-api/fail.helm-manifest.yaml", "kubernetes=1.25"),
        ("tests/fixtures/checks/removed-api/fail.last-applied-and-managed-fields.yaml", "kubernetes=1.25"),
        ("tests/fixtures/checks/removed-api/fail.stale-last-applied.yaml", "kubernetes=1.26"),
        ("tests/fixtures/checks/kubelet-skew/fail.kubelet-too-old.yaml", "kubernetes=1.29"),
    ] {
        let l = live(rel);
        let (code, r, stderr) = l.check(&["--target", target]);
        let (snap_code, snap) = crate::util::check_json(rel, &["--target", target]);
        assert_eq!(code, snap_code, "{rel}: {stderr}");
        assert_eq!(r["findings"], snap["findings"], "{rel}");
        assert_eq!(r["plan"], snap["plan"], "{rel}");
        let requests = l.fake.requests();
        assert!(requests.iter().all(|q| q.method == "GET"), "{rel}: read-only");
        assert!(requests.iter().any(|q| q.path.ends_with("/secrets")), "{rel}: Helm storage is read");
        // The Helm payload never reaches the report.
        let text = r.to_string();
        assert!(!text.contains("H4sI") && !text.contains("SDRzSU"), "{rel}: no encoded release in output");
        // A snapshot captured for the plan holds the decoded releases (not their payload) and
        // gives the same plan offline.
        let file = l._dir.path().join("plan-snapshot.json");
        // `-o FILE` still works for one release, with a deprecation note on stderr.
        let out = run(&["snapshot", "--kubeconfig", &l.kubeconfig, "-o", file.to_str().unwrap(), "--target", target]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stderr,
            "upgrade-preflight: warning: `snapshot -o FILE` is deprecated and goes away in the next release; use --output-file FILE\n"
        );
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(!written.contains("H4sI") && !written.contains("SDRzSU"), "{rel}: snapshot holds no payload");
        let (offline_code, offline) = crate::util::check_json(file.to_str().unwrap(), &["--target", target]);
        assert_eq!(offline_code, code, "{rel}");
        assert_eq!(offline["findings"], r["findings"], "{rel}");
        assert_eq!(offline["plan"], r["plan"], "{rel}");
    }
}

#[test]
fn object_limit_stops_a_live_collection() {
    let l = live("examples/demo-cluster.yaml");
    for cmd in ["check", "snapshot"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.json");
        let mut args = vec![cmd, "--kubeconfig", &l.kubeconfig, "--max-objects", "5", "--page-size", "2"];
        if cmd == "snapshot" {
            args.extend(["--output-file", file.to_str().unwrap()]);
        }
        let out = run(&args);
        assert_eq!(out.code, 3, "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("the cluster has more than 5 objects, the object limit (raise it with --max-objects"),
            "{cmd}: {}",
            out.stderr
        );
        assert!(!file.exists(), "no partial snapshot is written");
    }
    // Enough room: the normal verdict.
    let (code, _, _) = l.check(&["--max-objects", "1000"]);
    assert_eq!(code, 1);
}

#[test]
fn annotations_no_rule_reads_are_not_held() {
    // Six Pods with 8 MiB of annotations each (the API server would refuse over 256 KiB; a
    // hostile or broken server need not).
    let big = "x".repeat(8 << 20);
    let pods: Vec<Value> = (0..6)
        .map(|i| {
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p{i}"), "namespace": "d", "labels": {"app": "a"},
                             "annotations": {"bulk": big}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
                "status": {"phase": "Running"}})
        })
        .collect();
    let fake = FakeApi::builder().objects(pods).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let kc = fake.write_kubeconfig(dir.path());
    let out = run(&["check", "--kubeconfig", kc.to_str().unwrap(), "--stats", "-q"]);
    assert!(matches!(out.code, 0 | 1), "{}", out.stderr);
    let held: u64 = out
        .stderr
        .split_whitespace()
        .find_map(|w| w.strip_prefix("inventory_bytes="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", out.stderr));
    let received: u64 =
        out.stderr.split_whitespace().find_map(|w| w.strip_prefix("bytes_received=")).unwrap().parse().unwrap();
    assert!(received > 48 << 20, "the annotations were sent: {received}");
    assert!(held < 1 << 20, "held {held} bytes of inventory: {}", out.stderr);
}

/// The projection drops annotations no rule reads, but keeps those removed-API detection reads
/// as evidence: kubectl's and kapp's, and any named by `--additional-annotation`.
#[test]
fn applied_annotations_survive_the_projection() {
    let obj = |name: &str, ann: &str| {
        serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop",
                         "annotations": {ann: "{\"apiVersion\": \"extensions/v1beta1\", \"kind\": \"Deployment\"}",
                                         "bulk": "x".repeat(1 << 20)}},
            "spec": {"replicas": 1}, "status": {"availableReplicas": 1}})
    };
    let fake = FakeApi::builder()
        .objects([obj("kapp", "kapp.k14s.io/original"), obj("custom", "example.com/applied")])
        .strip_item_type_meta()
        .start();
    let dir = tempfile::tempdir().unwrap();
    let kc = fake.write_kubeconfig(dir.path());
    let base = [
        "check",
        "--kubeconfig",
        kc.to_str().unwrap(),
        "-o",
        "json",
        "--only",
        "removed-api",
        "--target",
        "kubernetes=1.16",
    ];
    let names = |args: &[&str]| -> Vec<String> {
        let out = run(args);
        let r: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|_| panic!("{}", out.stderr));
        let mut n: Vec<String> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["objects"][0]["name"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&base), ["kapp"]);
    assert_eq!(names(&[&base[..], &["--additional-annotation", "example.com/applied"]].concat()), ["custom", "kapp"]);
}

/// Objects named in the findings of `check_id`, sorted.
fn finding_objects(r: &Value, check_id: &str) -> Vec<String> {
    let mut names: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checkId"] == check_id)
        .flat_map(|f| {
            f["objects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()))
        })
        .collect();
    names.sort();
    names
}

#[test]
fn pods_no_listed_controller_stands_for_are_judged_live_as_in_a_snapshot() {
    // A live run keeps the spec only of Pods a judged controller stands for; the Pods of a
    // Job, an Argo Rollouts ReplicaSet or a VirtualMachineInstance keep theirs.
    let rel = "tests/fixtures/clusters/pods-judged-themselves.yaml";
    let l = live(rel);
    let (code, r, stderr) = l.check(&[]);
    let (snap_code, snap) = crate::util::check_json(rel, &[]);
    assert_eq!(code, snap_code, "{stderr}");
    assert_eq!(code, 1, "{stderr}");
    for id in ["floating-image-tags", "missing-references", "haraka-connection-ini"] {
        assert_eq!(finding_objects(&r, id), finding_objects(&snap, id), "{id}");
    }
    assert_eq!(
        finding_objects(&r, "floating-image-tags"),
        ["Deployment api", "Pod migrate-8xq2z", "Pod web-rollout-7c9d8f6b5-x2k4p"]
    );
    assert!(
        finding_objects(&r, "missing-references").contains(&"Pod virt-launcher-vm1-abcde".to_string()),
        "{:?}",
        finding_objects(&r, "missing-references")
    );
}
