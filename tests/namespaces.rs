//! `-n/--namespace`: a partial view. Live (the fake API server through a real kubeconfig)
//! namespaced kinds are listed per namespace and cluster-scoped ones cluster-wide; offline a
//! snapshot is limited after reading, and `snapshot -n` records the view; whatever needs a
//! namespace outside the view could not be evaluated; `rbac -n` grants exactly what such a
//! run reads.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::fake_api::{FakeApi, RecordedRequest, Target};
use crate::util::{check_json, run};

const DEMO: &str = "examples/demo-cluster.yaml";
const WEBHOOK: &str = "tests/fixtures/namespaces/webhook-elsewhere.yaml";

/// Plurals of kinds that are namespaced (never to be listed cluster-wide under `-n`).
const NAMESPACED: &[&str] = &[
    "pods",
    "secrets",
    "configmaps",
    "services",
    "endpoints",
    "endpointslices",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
    "cronjobs",
    "ingresses",
];

struct Cluster {
    fake: FakeApi,
    dir: tempfile::TempDir,
    kubeconfig: String,
}

fn cluster(rel: &str) -> Cluster {
    let fake = crate::live::start(rel);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path()).to_str().unwrap().to_string();
    Cluster { fake, dir, kubeconfig }
}

impl Cluster {
    fn check(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args = vec!["check", "--kubeconfig", &self.kubeconfig, "-o", "json", "--timeout", "30s"];
        args.extend_from_slice(extra);
        let out = run(&args);
        let v = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", out.stdout, out.stderr));
        (out.code, v, out.stderr)
    }

    fn lists(&self) -> Vec<RecordedRequest> {
        self.fake.requests().into_iter().filter(|r| r.query_param("limit").is_some()).collect()
    }
}

/// `checkId: reason` of every check that could not be evaluated.
fn unknown(r: &Value) -> Vec<String> {
    r["couldNotEvaluate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}: {}", s["checkId"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect()
}

fn finding_ids(r: &Value) -> Vec<String> {
    crate::util::finding_ids(r)
}

/// `(namespace, resource plural)` of a list request; `None` namespace for a cluster-wide list.
fn list_target(path: &str) -> (Option<String>, String) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // /api/v1/… or /apis/GROUP/VERSION/…
    let rest = if parts[0] == "api" { &parts[2..] } else { &parts[3..] };
    match rest {
        ["namespaces", ns, plural] => (Some((*ns).to_string()), (*plural).to_string()),
        [plural] => (None, (*plural).to_string()),
        other => panic!("not a list path: {path} ({other:?})"),
    }
}

#[test]
fn lists_namespaced_kinds_per_namespace_and_the_rest_cluster_wide() {
    let c = cluster(DEMO);
    let (code, r, stderr) = c.check(&["-n", "keep,oneuptime"]);
    assert_eq!(r["source"]["type"], "live", "{stderr}");
    assert_eq!(r["source"]["namespaces"], serde_json::json!(["keep", "oneuptime"]));
    let requests = c.fake.requests();
    assert!(requests.iter().all(|q| q.method == "GET"), "read-only");
    // Each namespace is checked to exist, once.
    for ns in ["keep", "oneuptime"] {
        let path = format!("/api/v1/namespaces/{ns}");
        assert_eq!(requests.iter().filter(|q| q.path == path).count(), 1, "{path}");
    }
    let lists: Vec<(Option<String>, String)> = c.lists().iter().map(|q| list_target(&q.path)).collect();
    let mut per_ns: BTreeSet<(String, String)> = BTreeSet::new();
    for (ns, plural) in &lists {
        match ns {
            Some(ns) => {
                assert!(ns == "keep" || ns == "oneuptime", "listed in {ns}: {plural}");
                per_ns.insert((ns.clone(), plural.clone()));
            }
            None => assert!(!NAMESPACED.contains(&plural.as_str()), "{plural} listed cluster-wide: {lists:?}"),
        }
    }
    // Every namespaced kind is listed in both namespaces; cluster-scoped ones once, cluster-wide.
    for plural in ["pods", "secrets", "configmaps", "services", "deployments"] {
        for ns in ["keep", "oneuptime"] {
            assert!(per_ns.contains(&(ns.to_string(), plural.to_string())), "{plural} not listed in {ns}");
        }
    }
    for plural in ["nodes", "validatingwebhookconfigurations"] {
        assert_eq!(lists.iter().filter(|(ns, p)| ns.is_none() && p == plural).count(), 1, "{plural}: {lists:?}");
    }
    // The same evidence as the whole-cluster snapshot limited to those namespaces.
    let (snap_code, snap) = check_json(DEMO, &["-n", "keep,oneuptime"]);
    assert_eq!(code, snap_code, "{stderr}");
    assert_eq!(r["findings"], snap["findings"]);
    assert_eq!(r["couldNotEvaluate"], snap["couldNotEvaluate"]);
    assert_eq!(r["components"], snap["components"]);
    // Only objects of those namespaces were judged; Rancher, which runs elsewhere, is unknown
    // (not "not detected"), and what it gates could not be evaluated.
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| { f["objects"][0]["namespace"].as_str().is_none_or(|ns| ns == "keep" || ns == "oneuptime") })
    );
    let rancher = r["components"].as_array().unwrap().iter().find(|c| c["id"] == "rancher").unwrap();
    assert_eq!(rancher["status"], "unknown", "{rancher}");
    let reasons = unknown(&r);
    assert!(
        reasons.iter().any(|s| s.starts_with(
            "rancher-agent-ingress-panic: Rancher version unknown: not found in the namespaces read (keep, oneuptime)"
        )),
        "{reasons:?}"
    );
    // Never a clean GO: the blockers it could not judge make it incomplete.
    assert_ne!(r["verdict"], "GO");
}

#[test]
fn a_user_who_may_read_only_inside_the_namespaces_is_not_refused() {
    let c = cluster(DEMO);
    // RBAC of a namespace-scoped user: every cluster-wide list of a namespaced kind is refused.
    for prefix in [
        "/api/v1/pods",
        "/api/v1/secrets",
        "/api/v1/configmaps",
        "/api/v1/services",
        "/api/v1/endpoints",
        "/apis/apps/v1/deployments",
        "/apis/batch/v1/jobs",
        "/apis/discovery.k8s.io/v1/endpointslices",
    ] {
        c.fake.forbid(Target::path_prefix(prefix));
    }
    let (_, whole, _) = c.check(&[]);
    assert!(unknown(&whole).iter().any(|s| s.contains("forbidden: list pods at cluster scope")), "{whole}");
    c.fake.clear_requests();
    let (_, r, stderr) = c.check(&["-n", "keep"]);
    let refused: Vec<String> =
        c.fake.requests().iter().filter(|q| q.status == Some(403)).map(|q| q.path.clone()).collect();
    assert!(refused.is_empty(), "{refused:?}\n{stderr}");
    assert!(!unknown(&r).iter().any(|s| s.contains("forbidden")), "{:?}", unknown(&r));
    // Refused in one namespace of the view: the kind is not evidence of anything, so its
    // checks could not be evaluated, naming the namespace.
    c.fake.forbid(Target::path_prefix("/api/v1/namespaces/oneuptime/pods"));
    let (_, r, _) = c.check(&["-n", "keep,oneuptime"]);
    assert!(
        unknown(&r)
            .iter()
            .any(|s| s.starts_with("unstable-pods: cannot read Pod: forbidden: list pods in namespace oneuptime")),
        "{:?}",
        unknown(&r)
    );
}

#[test]
fn a_namespace_that_does_not_exist_is_a_usage_error() {
    let c = cluster(DEMO);
    let out = run(&["check", "--kubeconfig", &c.kubeconfig, "-n", "keep,nope", "--timeout", "30s"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let url = format!("https://127.0.0.1:{}/", c.fake.addr().port());
    assert_eq!(out.stderr, format!("upgrade-preflight: namespace nope not found in the cluster at {url}\n"));
    assert!(c.lists().is_empty(), "nothing is listed");
    // Not a namespace name at all: clap refuses it before anything is read.
    let out = run(&["check", "--kubeconfig", &c.kubeconfig, "-n", "Shop_1"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("'Shop_1' is not a namespace name"), "{}", out.stderr);
    // A user who may not get Namespaces: the question stays open and the run goes on.
    c.fake.clear_requests();
    c.fake.forbid(Target::resource("namespaces").in_group(""));
    let (code, r, stderr) = c.check(&["-n", "keep"]);
    assert_ne!(code, 2, "{stderr}");
    assert_eq!(r["source"]["namespaces"], serde_json::json!(["keep"]));
    assert!(!c.lists().is_empty());
    // Offline: a namespace the snapshot does not hold is refused the same way.
    let out = run(&["check", "--snapshot", DEMO, "-n", "nope"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "upgrade-preflight: examples/demo-cluster.yaml: -n nope: not in the snapshot (it holds neither the Namespace nor any object in it)\n"
    );
}

#[test]
fn a_webhook_service_outside_the_view_could_not_be_evaluated() {
    let id = "webhooks-without-endpoints";
    let only = ["--only", id];
    // The whole cluster, and a view holding the Service's namespace: the Service is missing.
    for extra in [&[][..], &["-n", "payments"][..], &["-n", "shop,payments"][..]] {
        let (code, r) = check_json(WEBHOOK, &[&only[..], extra].concat());
        assert_eq!(code, 1, "{extra:?}: {r}");
        assert_eq!(finding_ids(&r), [id], "{extra:?}");
        assert!(
            r["findings"][0]["message"]
                .as_str()
                .unwrap()
                .contains("calls Service payments/policy-webhook which does not exist")
        );
    }
    // A view without it: not a finding, not a pass, but could not evaluate, naming why.
    let expected = format!(
        "{id}: webhook Services in namespaces outside the view could not be checked: namespace payments was not read (this run reads only namespace(s) shop)"
    );
    let (code, r) = check_json(WEBHOOK, &[&only[..], &["-n", "shop"]].concat());
    assert_eq!((code, r["verdict"].as_str().unwrap(), &r["incomplete"]), (3, "NO-GO", &Value::Bool(true)), "{r}");
    assert_eq!(r["findings"], serde_json::json!([]));
    assert_eq!(r["summary"]["evaluated"], 0);
    assert_eq!(unknown(&r), std::slice::from_ref(&expected));
    let table = run(&["check", "--snapshot", WEBHOOK, "--only", id, "-n", "shop", "-v"]).stdout;
    let passed = table.split("Passed").nth(1).unwrap_or_default();
    assert!(!passed.split("Could not evaluate").next().unwrap_or_default().contains(id), "{table}");
    assert!(table.contains("Partial view: namespaced kinds were read only in namespace(s) shop"), "{table}");
    // Live, the same: Services are listed in shop only, the webhooks cluster-wide.
    let c = cluster(WEBHOOK);
    let (code, live, stderr) = c.check(&["--only", id, "-n", "shop"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(unknown(&live), [expected]);
    let lists: Vec<(Option<String>, String)> = c.lists().iter().map(|q| list_target(&q.path)).collect();
    assert!(lists.contains(&(Some("shop".into()), "services".into())), "{lists:?}");
    assert!(lists.contains(&(None, "validatingwebhookconfigurations".into())), "{lists:?}");
    assert!(!lists.iter().any(|(ns, _)| ns.as_deref() == Some("payments")), "{lists:?}");
}

#[test]
fn snapshot_records_its_namespaces_and_check_knows_the_view_is_partial() {
    let c = cluster(DEMO);
    let file = c.dir.path().join("keep.json");
    let out = run(&["snapshot", "--kubeconfig", &c.kubeconfig, "-n", "keep", "--output-file", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("; namespaces keep only)"), "{}", out.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    let docs = upgrade_preflight::inventory::snapshot::parse_documents(&text, "keep.json").unwrap();
    let info = docs.iter().map(|(_, d)| d).find(|d| d["kind"] == "SnapshotInfo").unwrap();
    assert_eq!(info["namespaces"], serde_json::json!(["keep"]));
    let items = docs.iter().find_map(|(_, d)| d.get("items").and_then(Value::as_array)).unwrap();
    assert!(items.iter().all(|o| o["metadata"]["namespace"].as_str().is_none_or(|ns| ns == "keep")));
    assert!(items.iter().any(|o| o["kind"] == "Node"), "cluster-scoped kinds are captured whole");
    // Read back: the same partial view as the live run, without saying -n again.
    let file = file.to_str().unwrap();
    let (live_code, live, _) = c.check(&["-n", "keep"]);
    let (code, offline) = check_json(file, &[]);
    assert_eq!(code, live_code);
    assert_eq!(offline["source"]["namespaces"], serde_json::json!(["keep"]));
    assert_eq!(offline["findings"], live["findings"]);
    assert_eq!(offline["couldNotEvaluate"], live["couldNotEvaluate"]);
    let (code, again) = check_json(file, &["-n", "keep"]);
    assert_eq!((code, &again["findings"]), (live_code, &live["findings"]));
    // A namespace it did not capture is a usage error, not an empty namespace.
    let out = run(&["check", "--snapshot", file, "-n", "keep,oneuptime"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!("upgrade-preflight: {file}: -n oneuptime: not in the snapshot (it was captured with -n keep)\n")
    );
    // A view that is not namespace names is an unreadable snapshot (exit 3), named.
    let bad = c.dir.path().join("bad.json");
    std::fs::write(&bad, text.replacen("\"keep\"", "\"Keep_1\"", 1)).unwrap();
    let out = run(&["check", "--snapshot", bad.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("SnapshotInfo: namespaces: 'Keep_1' is not a namespace name"), "{}", out.stderr);
}

#[test]
fn planning_and_changes_stay_inside_the_view() {
    let fixture = "tests/fixtures/checks/removed-api/fail.helm-manifest.yaml";
    let dir = tempfile::tempdir().unwrap();
    // The same cluster with a second, empty namespace.
    let text = std::fs::read_to_string(crate::util::root().join(fixture)).unwrap()
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ops}\n";
    let snap = dir.path().join("snap.yaml");
    std::fs::write(&snap, text).unwrap();
    let snap = snap.to_str().unwrap();
    let target = ["--target", "kubernetes=1.25"];
    // The release's namespace read: the Helm manifest is evidence, as for the whole cluster.
    let (whole_code, whole) = check_json(snap, &target);
    let (code, apps) = check_json(snap, &[&target[..], &["-n", "apps"]].concat());
    assert_eq!((code, finding_ids(&apps)), (whole_code, finding_ids(&whole)));
    assert!(finding_ids(&apps).contains(&"removed-api".to_string()));
    // Another namespace only: nothing found there proves nothing about the cluster's upgrade.
    let (code, ops) = check_json(snap, &[&target[..], &["-n", "ops"]].concat());
    assert_eq!(code, 3, "{ops}");
    assert!(!finding_ids(&ops).contains(&"removed-api".to_string()));
    assert!(
        unknown(&ops).contains(&"removed-api: only namespace(s) ops were read: objects and Helm releases in other namespaces may still use an API removed at Kubernetes 1.25".to_string()),
        "{:?}",
        unknown(&ops)
    );
    let step = ops["plan"].as_array().unwrap().iter().find(|s| s["component"] == "kubernetes").unwrap();
    assert_eq!(step["verdict"], "unknown", "{step}");
    // A release outside the view cannot be planned for.
    let out = run(&["check", "--snapshot", snap, "--target", "release:apps/web=2.0.0", "-n", "ops"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "Helm release 'apps/web' cannot be looked up: namespace apps was not read (this run reads only namespace(s) ops); add -n apps"
        ),
        "{}",
        out.stderr
    );
    // Nor can a change apply objects outside it.
    let manifest = dir.path().join("change.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: apps}\ndata: {a: b}\n")
        .unwrap();
    let out = run(&["check", "--snapshot", snap, "-n", "ops", "--manifest", manifest.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("ConfigMap apps/c is planned in a namespace outside the view: namespace apps was not read"),
        "{}",
        out.stderr
    );
    // `--no-cluster` reads no namespaces at all.
    let out = run(&["check", "--no-cluster", "--manifest", manifest.to_str().unwrap(), "-n", "ops"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

// ---------- rbac -n ----------

/// The rules of each Role (by namespace) and of the ClusterRole an `rbac` output holds, and
/// the subjects every binding names.
struct Rbac {
    cluster_rules: Vec<Value>,
    roles: std::collections::BTreeMap<String, Vec<Value>>,
    subjects: Vec<(String, String, String)>,
}

fn parse_rbac(text: &str) -> Rbac {
    let docs = upgrade_preflight::inventory::snapshot::parse_documents(text, "rbac.yaml").unwrap();
    let mut out = Rbac { cluster_rules: Vec::new(), roles: Default::default(), subjects: Vec::new() };
    for (_, d) in docs {
        let rules = || d["rules"].as_array().cloned().unwrap_or_default();
        match d["kind"].as_str().unwrap() {
            "ClusterRole" => out.cluster_rules = rules(),
            "Role" => {
                out.roles.insert(d["metadata"]["namespace"].as_str().unwrap().to_string(), rules());
            }
            "RoleBinding" | "ClusterRoleBinding" => {
                let ns = d["metadata"]["namespace"].as_str().unwrap_or("(cluster)").to_string();
                assert_eq!(d["roleRef"]["name"], "upgrade-preflight");
                assert_eq!(d["roleRef"]["kind"], if ns == "(cluster)" { "ClusterRole" } else { "Role" });
                let s = &d["subjects"][0];
                out.subjects.push((ns, s["namespace"].as_str().unwrap().into(), s["name"].as_str().unwrap().into()));
            }
            _ => {}
        }
    }
    out
}

fn allows(rules: &[Value], group: &str, resource: &str, verb: &str, name: Option<&str>) -> bool {
    let has = |r: &Value, key: &str, v: &str| r[key].as_array().is_some_and(|a| a.iter().any(|x| x == v));
    rules.iter().any(|r| {
        has(r, "apiGroups", group)
            && has(r, "resources", resource)
            && has(r, "verbs", verb)
            && r.get("resourceNames").is_none_or(|_| name.is_some_and(|n| has(r, "resourceNames", n)))
    })
}

#[test]
fn rbac_for_namespaces_grants_exactly_what_check_n_reads() {
    let views = "keep,oneuptime";
    let out = run(&["rbac", "-n", views, "--sa-namespace", "ops"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let rbac = parse_rbac(&out.stdout);
    assert_eq!(rbac.roles.keys().collect::<Vec<_>>(), ["keep", "oneuptime"]);
    for ns in ["(cluster)", "keep", "oneuptime"] {
        assert!(rbac.subjects.contains(&(ns.into(), "ops".into(), "upgrade-preflight".into())), "{:?}", rbac.subjects);
    }
    // Nothing namespaced is granted cluster-wide; the namespaces themselves only by name.
    for plural in NAMESPACED {
        assert!(
            !rbac
                .cluster_rules
                .iter()
                .any(|r| r["resources"].as_array().is_some_and(|a| a.iter().any(|x| x == plural)))
        );
    }
    assert!(allows(&rbac.cluster_rules, "", "namespaces", "get", Some("keep")));
    assert!(!allows(&rbac.cluster_rules, "", "namespaces", "get", Some("kube-system")));
    assert!(!allows(&rbac.cluster_rules, "", "namespaces", "list", None));
    assert!(!out.stdout.contains("watch") && !out.stdout.contains("create") && !out.stdout.contains("delete"));

    // Every request of a live `check -n` is allowed by those rules, the narrowest way.
    let c = cluster(DEMO);
    let (_, _, stderr) = c.check(&["-n", views, "--target", "kubernetes=1.26"]);
    let requests = c.fake.requests();
    assert!(requests.iter().any(|q| q.query_param("limit").is_some()), "{stderr}");
    for q in &requests {
        let parts: Vec<&str> = q.path.trim_start_matches('/').split('/').collect();
        if q.path == "/metrics" {
            // deprecated-api-requests: a non-resource URL, granted by the ClusterRole only.
            let granted = rbac.cluster_rules.iter().any(|r| {
                r["nonResourceURLs"].as_array().is_some_and(|a| a.iter().any(|x| x == "/metrics"))
                    && r["verbs"].as_array().is_some_and(|a| a.iter().any(|x| x == "get"))
            });
            assert!(granted, "/metrics is read but not granted: {:?}", rbac.cluster_rules);
            continue;
        }
        let (group, rest) = match parts.as_slice() {
            ["version"] | ["api"] | ["apis"] | ["api", "v1"] | ["apis", _, _] => continue, // discovery
            ["api", "v1", rest @ ..] => ("", rest),
            ["apis", g, _, rest @ ..] => (*g, rest),
            _ => panic!("unexpected request {}", q.path),
        };
        match rest {
            ["namespaces", ns] => assert!(allows(&rbac.cluster_rules, "", "namespaces", "get", Some(ns)), "{}", q.path),
            ["namespaces", ns, plural] => {
                let role = rbac.roles.get(*ns).unwrap_or_else(|| panic!("no Role in {ns} for {}", q.path));
                assert!(
                    allows(role, group, plural, "list", None),
                    "{group}/{plural} in {ns} is listed but not granted"
                );
            }
            [plural] => {
                assert!(
                    allows(&rbac.cluster_rules, group, plural, "list", None),
                    "{group}/{plural} listed but not granted"
                );
            }
            _ => panic!("unexpected request {}", q.path),
        }
    }

    // Cluster-scoped reads go to the ClusterRole, never to a Role (where they would not work).
    let nodes = parse_rbac(&run(&["rbac", "-n", "keep", "--only", "nodes-not-ready"]).stdout);
    assert!(allows(&nodes.cluster_rules, "", "nodes", "list", None));
    assert!(!nodes.roles.values().any(|r| allows(r, "", "nodes", "list", None)), "{:?}", nodes.roles);
    // A read the view leaves out is not granted, and the file says so.
    let out = run(&["rbac", "-n", "keep", "--only", "managed-charts-not-ready"]);
    let not_granted = out.stdout.split("# Not granted").nth(1).unwrap_or_default();
    assert!(not_granted.contains(" managedcharts.management.cattle.io (in fleet-local only)"), "{}", out.stdout);
    assert!(!out.stdout.contains("resources: [managedcharts]"), "{}", out.stdout);
}

#[test]
fn rbac_namespace_keeps_naming_the_service_account_namespace_for_one_release() {
    let new = run(&["rbac", "--sa-namespace", "ops"]);
    let old = run(&["rbac", "--namespace", "ops"]);
    assert_eq!((new.code, old.code), (0, 0));
    assert_eq!(old.stdout, new.stdout);
    assert!(new.stdout.contains("kind: ServiceAccount\nmetadata:\n  name: upgrade-preflight\n  namespace: ops\n"));
    assert_eq!(
        old.stderr,
        "upgrade-preflight: warning: `rbac --namespace NS` names the ServiceAccount's namespace; it is deprecated and goes away in the next release: use --sa-namespace NS (-n/--check-namespace names the namespaces checked)\n"
    );
    assert!(new.stderr.is_empty());
    let both = run(&["rbac", "--namespace", "a", "--sa-namespace", "b"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
}
