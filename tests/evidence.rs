//! Evaluation on real captures: objects of old API groups in their old shape, and the plan
//! deciding a check's severity. The must-not side of fixtures whose tripping side is in
//! `tests/fixtures/checks/` and `inputs::old_api_groups_are_evaluated_as_the_current_kinds`.

use serde_json::Value;

use crate::util::{check_json, temp_tree};

const NODE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;

fn findings_of<'a>(r: &'a Value, id: &str) -> Vec<&'a Value> {
    r["findings"].as_array().unwrap().iter().filter(|f| f["checkId"] == id).collect()
}

fn evaluated(r: &Value, id: &str) -> bool {
    let listed = |field: &str| r[field].as_array().is_some_and(|a| a.iter().any(|c| c["checkId"] == id));
    !listed("couldNotEvaluate") && !listed("notApplicable")
}

/// pluto's e2e assets (FairwindsOps/pluto `e2e/tests/assets/deployment-extensions-v1beta1.yaml`
/// and the `helm create` Ingress template of `e2e/tests/00_assets/helmchartest`) as a cluster
/// would hold them, healthy: old groups, old shapes, nothing wrong. With a Rancher below 2.7.8
/// planned, an Ingress that routes to Services in the v1beta1 shape is no resource backend.
#[test]
fn old_api_group_objects_in_their_old_shape_are_no_findings() {
    let deployment = r#"{"apiVersion":"apps/v1beta1","kind":"Deployment","metadata":{"name":"utilities","namespace":"tools","labels":{"app":"utilities"}},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"utilities"}},"template":{"metadata":{"labels":{"app":"utilities"}},"spec":{"containers":[{"name":"utilities","image":"quay.io/sudermanjr/utilities:1.0"}]}}},"status":{"replicas":1,"readyReplicas":1,"availableReplicas":1,"updatedReplicas":1}}"#;
    let daemonset = r#"{"apiVersion":"extensions/v1beta1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"tools"},"spec":{"template":{"spec":{"containers":[{"name":"a","image":"quay.io/x/agent:2.1"}]}}},"status":{"desiredNumberScheduled":1,"currentNumberScheduled":1,"numberReady":1,"numberAvailable":1,"updatedNumberScheduled":1}}"#;
    let ingress = r#"{"apiVersion":"networking.k8s.io/v1beta1","kind":"Ingress","metadata":{"name":"helmchartest","namespace":"tools"},"spec":{"rules":[{"host":"chart-example.local","http":{"paths":[{"path":"/","backend":{"serviceName":"helmchartest","servicePort":80}}]}}]},"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.9"}]}}}"#;
    let old_ext = r#"{"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"web","namespace":"tools"},"spec":{"backend":{"serviceName":"web-default","servicePort":"http"},"rules":[{"http":{"paths":[{"backend":{"serviceName":"web","servicePort":80}}]}}]},"status":{"loadBalancer":{"ingress":[{"hostname":"lb.example.com"}]}}}"#;
    let witness =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"tools"}}"#;
    let snap = format!("{NODE}\n{deployment}\n{daemonset}\n{ingress}\n{old_ext}\n{witness}\n");
    let dir = temp_tree(&[("old.json", &snap)]);
    let path = dir.path().join("old.json");
    let (_, r) = check_json(path.to_str().unwrap(), &["--target", "rancher=2.7.5"]);
    for id in ["unavailable-workloads", "ingress-resource-backend", "missing-references"] {
        assert!(findings_of(&r, id).is_empty(), "{id}: {:#?}", findings_of(&r, id));
        assert!(evaluated(&r, id), "{id} must be evaluated, not skipped: {r:#}");
    }
    assert!(findings_of(&r, "rancher-agent-ingress-panic").is_empty(), "{r:#}");
    // Not vacuous: the same Ingress with a v1beta1 resource backend is reported, and made a
    // blocker by the planned Rancher.
    let resource = ingress.replace(
        r#"{"serviceName":"helmchartest","servicePort":80}"#,
        r#"{"resource":{"apiGroup":"k8s.example.com","kind":"StorageBucket","name":"icon-assets"}}"#,
    );
    let dir = temp_tree(&[("old.json", &format!("{NODE}\n{deployment}\n{resource}\n{witness}\n"))]);
    let (code, r) = check_json(dir.path().join("old.json").to_str().unwrap(), &["--target", "rancher=2.7.5"]);
    assert_eq!(code, 1);
    assert_eq!(findings_of(&r, "ingress-resource-backend").len(), 1, "{r:#}");
    assert_eq!(findings_of(&r, "rancher-agent-ingress-panic")[0]["severity"], "blocker");
}

/// `unschedulable-pods` is a warning, and a blocker only when the planned upgrade drains nodes:
/// a Kubernetes upgrade does, a Rancher upgrade does not.
#[test]
fn unschedulable_pods_block_only_an_upgrade_that_drains_nodes() {
    let fixture = "tests/fixtures/checks/unschedulable-pods/fail.drain-planned.yaml";
    let severity = |target: &str| {
        let (_, r) = check_json(fixture, &["--target", target]);
        let f = findings_of(&r, "unschedulable-pods");
        assert_eq!(f.len(), 1, "{target}: {r:#}");
        f[0]["severity"].as_str().unwrap().to_string()
    };
    assert_eq!(severity("rancher=2.8.5"), "warning");
    assert_eq!(severity("kubernetes=1.28"), "blocker");
}
