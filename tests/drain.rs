//! Draining nodes: `pdb-blocks-drain` is a warning on its own and a blocker when the plan
//! drains nodes (an upgrade gate), from a snapshot and from a live cluster over HTTPS,
//! including when Pods or budgets cannot be read; `drain-capacity` and the RBAC they need.

use serde_json::Value;

use crate::fake_api::FakeApi;
use crate::util::{check_json, run, temp_tree};

/// Two Ready nodes and the coredns Deployment's two pods, one per node (the real Pods of
/// tests/fixtures/checks/pdb-blocks-drain/fail.coredns-min-available-all.yaml), under an
/// invented budget with minAvailable 2: healthy, and no eviction allowed.
const CLUSTER: &str = r#"apiVersion: upgrade-preflight.io/v1alpha1
kind: SnapshotInfo
serverVersion: v1.30.4
---
apiVersion: v1
kind: Node
metadata: {name: n1}
spec: {}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}, conditions: [{type: Ready, status: "True"}], nodeInfo: {kubeletVersion: v1.30.4}}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
spec: {}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}, conditions: [{type: Ready, status: "True"}], nodeInfo: {kubeletVersion: v1.30.4}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: coredns, namespace: kube-system, generation: 1}
spec:
  minAvailable: 2
  selector:
    matchLabels: {k8s-app: kube-dns}
status: {currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0, expectedPods: 2, observedGeneration: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: coredns-74ff55c5b-cpfqs
  namespace: kube-system
  labels: {k8s-app: kube-dns, pod-template-hash: 74ff55c5b}
  ownerReferences: [{apiVersion: apps/v1, controller: true, kind: ReplicaSet, name: coredns-74ff55c5b, uid: 5a535e84-bd6d-4b6d-8cda-7d18f8093023}]
spec:
  nodeName: n1
  containers: [{name: coredns, image: "k8s.gcr.io/coredns:1.7.0", resources: {requests: {cpu: 100m, memory: 70Mi}}}]
status: {phase: Running}
---
apiVersion: v1
kind: Pod
metadata:
  name: coredns-74ff55c5b-vk77h
  namespace: kube-system
  labels: {k8s-app: kube-dns, pod-template-hash: 74ff55c5b}
  ownerReferences: [{apiVersion: apps/v1, controller: true, kind: ReplicaSet, name: coredns-74ff55c5b, uid: 5a535e84-bd6d-4b6d-8cda-7d18f8093023}]
spec:
  nodeName: n2
  containers: [{name: coredns, image: "k8s.gcr.io/coredns:1.7.0", resources: {requests: {cpu: 100m, memory: 70Mi}}}]
status: {phase: Running}
"#;

fn findings<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["findings"].as_array().unwrap().iter().filter(|f| f["checkId"] == id).collect()
}

fn gate(r: &Value, id: &str) -> Option<String> {
    r["plan"]
        .as_array()?
        .iter()
        .flat_map(|s| s["gates"].as_array().into_iter().flatten())
        .find_map(|g| (g["checkId"] == id).then(|| g["result"].as_str().unwrap_or_default().to_string()))
}

#[test]
fn a_budget_that_allows_no_eviction_is_a_warning_alone_and_a_blocker_before_a_kubernetes_upgrade() {
    let dir = temp_tree(&[("cluster.yaml", CLUSTER)]);
    let snap = dir.path().join("cluster.yaml");
    let snap = snap.to_str().unwrap();

    let (code, r) = check_json(snap, &[]);
    let f = findings(&r, "pdb-blocks-drain");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert!(
        f[0]["message"].as_str().unwrap().starts_with(
            "PodDisruptionBudget kube-system/coredns covers Deployment kube-system/coredns and allows no eviction"
        ),
        "{}",
        f[0]["message"]
    );
    let objects: Vec<String> = f[0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {}/{}",
                o["kind"].as_str().unwrap(),
                o["namespace"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(objects, ["PodDisruptionBudget kube-system/coredns", "Deployment kube-system/coredns"]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"), "{r:#}");
    // The nodes have room for each other's pods.
    let unjudged = |r: &Value| {
        ["couldNotEvaluate", "notApplicable"]
            .iter()
            .flat_map(|k| r[*k].as_array().unwrap().iter())
            .any(|s| s["checkId"] == "drain-capacity")
    };
    assert!(!unjudged(&r) && findings(&r, "drain-capacity").is_empty(), "{r:#}");

    // A Kubernetes minor upgrade drains every node: the same budget blocks it.
    let (code, r) = check_json(snap, &["--target", "kubernetes=1.31.0"]);
    let f = findings(&r, "pdb-blocks-drain");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["severity"], "blocker");
    assert_eq!((code, r["verdict"].as_str().unwrap()), (1, "NO-GO"));
    assert_eq!(gate(&r, "pdb-blocks-drain").as_deref(), Some("fail"), "{:#}", r["plan"]);

    // Selected alone it is still gated by the target.
    let (code, r) = check_json(snap, &["--target", "kubernetes=1.31.0", "--only", "pdb-blocks-drain"]);
    assert_eq!((code, findings(&r, "pdb-blocks-drain")[0]["severity"].as_str().unwrap()), (1, "blocker"));

    // Fixed (minAvailable 1, one eviction allowed): the gate passes.
    let fixed = CLUSTER
        .replace("minAvailable: 2", "minAvailable: 1")
        .replace("desiredHealthy: 2, disruptionsAllowed: 0", "desiredHealthy: 1, disruptionsAllowed: 1");
    let dir = temp_tree(&[("cluster.yaml", &fixed)]);
    let (code, r) = check_json(dir.path().join("cluster.yaml").to_str().unwrap(), &["--target", "kubernetes=1.31.0"]);
    assert!(findings(&r, "pdb-blocks-drain").is_empty(), "{r:#}");
    assert_eq!(gate(&r, "pdb-blocks-drain").as_deref(), Some("pass"));
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn drain_capacity_names_the_node_and_what_does_not_fit() {
    // n2 cordoned: n1's pod has nowhere to go (n2's fits on n1).
    let cordoned =
        CLUSTER.replacen("metadata: {name: n2}\nspec: {}", "metadata: {name: n2}\nspec: {unschedulable: true}", 1);
    assert_ne!(cordoned, CLUSTER);
    let dir = temp_tree(&[("cluster.yaml", &cordoned)]);
    let (_, r) = check_json(dir.path().join("cluster.yaml").to_str().unwrap(), &["--only", "drain-capacity"]);
    let f = findings(&r, "drain-capacity");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(
        f[0]["message"],
        "Node n1: no other node can take pods, so draining it leaves its 1 evictable pod(s) (100m CPU, 70Mi memory) nowhere to run until it is back; not counted: n2 (cordoned)"
    );
}

#[test]
fn a_namespace_view_judges_budgets_inside_it_but_not_node_capacity() {
    let dir = temp_tree(&[("cluster.yaml", CLUSTER)]);
    let snap = dir.path().join("cluster.yaml");
    // Budgets select Pods of their own namespace: a view of it is enough.
    let (_, r) = check_json(snap.to_str().unwrap(), &["-n", "kube-system"]);
    assert_eq!(findings(&r, "pdb-blocks-drain").len(), 1, "{r:#}");
    // A node's free room depends on the Pods of every namespace.
    let why: Vec<&str> = r["couldNotEvaluate"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["checkId"] == "drain-capacity")
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        why,
        ["it weighs the Pods of every namespace, and this run reads only namespace(s) kube-system"],
        "{r:#}"
    );
    assert!(findings(&r, "drain-capacity").is_empty());
}

fn objects(yaml: &str) -> Vec<Value> {
    upgrade_preflight::inventory::snapshot::parse_documents(yaml, "cluster.yaml")
        .unwrap()
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| !d.is_null() && d["kind"] != "SnapshotInfo")
        .collect()
}

fn live_check(fake: &FakeApi, extra: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let mut args = vec!["check", "--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json", "--timeout", "30"];
    args.extend_from_slice(extra);
    let out = run(&args);
    let r =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out.code, r)
}

#[test]
fn live_budgets_are_read_over_https_and_unreadable_pods_or_budgets_are_said() {
    let fake = FakeApi::builder().objects(objects(CLUSTER)).strip_item_type_meta().git_version("v1.30.4").start();
    let target = ["--target", "kubernetes=1.31.0", "--only", "pdb-blocks-drain"];
    let (code, r) = live_check(&fake, &target);
    let f = findings(&r, "pdb-blocks-drain");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!((code, f[0]["severity"].as_str().unwrap()), (1, "blocker"));
    assert!(f[0]["message"].as_str().unwrap().contains("covers Deployment kube-system/coredns"), "{}", f[0]["message"]);
    let listed: Vec<String> =
        fake.requests().iter().filter(|q| q.query_param("limit").is_some()).map(|q| q.path.clone()).collect();
    assert!(listed.iter().any(|p| p == "/apis/policy/v1/poddisruptionbudgets"), "{listed:?}");
    assert!(fake.requests().iter().all(|q| q.method == "GET"));

    // Pods forbidden: the budget's status still decides and the budget is named; the workload
    // is said to be unknown, not guessed.
    fake.forbid("pods");
    let (code, r) = live_check(&fake, &target);
    let f = findings(&r, "pdb-blocks-drain");
    assert_eq!((code, f.len()), (1, 1), "{r:#}");
    let m = f[0]["message"].as_str().unwrap();
    assert!(m.starts_with("PodDisruptionBudget kube-system/coredns covers pods whose workload could not be resolved (cannot read Pods: forbidden"), "{m}");
    assert_eq!(f[0]["objects"].as_array().unwrap().len(), 1);

    // Budgets forbidden: could not evaluate, a blocker's worth before a drain (exit 3).
    fake.forbid("poddisruptionbudgets");
    let (code, r) = live_check(&fake, &target);
    assert_eq!(code, 3, "{r:#}");
    let why: Vec<&str> = r["couldNotEvaluate"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["checkId"] == "pdb-blocks-drain")
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert_eq!(why.len(), 1, "{r:#}");
    assert!(why[0].starts_with("cannot read PodDisruptionBudget.policy: forbidden"), "{why:?}");
}

#[test]
fn rbac_for_the_drain_checks_grants_budgets_pods_and_nodes() {
    let role = run(&["rbac", "--only", "pdb-blocks-drain,drain-capacity"]).stdout;
    assert!(
        role.contains("- apiGroups: [\"policy\"]\n  resources: [poddisruptionbudgets]\n  verbs: [get, list]"),
        "{role}"
    );
    let core = role.lines().skip_while(|l| *l != "- apiGroups: [\"\"]").nth(1).unwrap_or_default();
    assert!(core.contains("nodes") && core.contains("pods"), "{role}");
}
