//! One cluster fixture per incident the tool exists for, run through the built binary:
//! verdict, exit code, finding ids and the objects named.

use crate::util::{check_json, finding_ids};

fn objects_of(report: &serde_json::Value, id: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checkId"] == id)
        .map(|f| {
            let o = &f["objects"][0];
            match o["namespace"].as_str() {
                Some(ns) => format!("{} {ns}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()),
                None => format!("{} {}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()),
            }
        })
        .collect()
}

fn severity_of(report: &serde_json::Value, id: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checkId"] == id)
        .map(|f| f["severity"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn healthy_cluster_is_go_with_no_findings() {
    let (code, r) = check_json("tests/fixtures/clusters/healthy.yaml", &[]);
    assert_eq!(r["findings"], serde_json::json!([]), "no false positives on a healthy cluster");
    assert_eq!(r["couldNotEvaluate"], serde_json::json!([]));
    assert_eq!(r["verdict"], "GO");
    assert_eq!(code, 0);
    // Every check that reads built-in kinds or kinds present here was really evaluated.
    assert!(r["summary"]["evaluated"].as_u64().unwrap() >= 13, "{}", r["summary"]);
}

#[test]
fn haraka_floating_release_tag_is_no_go() {
    let (code, r) = check_json("tests/fixtures/clusters/incident-haraka.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(
        finding_ids(&r),
        ["floating-image-tags", "haraka-connection-ini", "unavailable-workloads", "unstable-pods"]
    );
    assert_eq!(objects_of(&r, "floating-image-tags"), ["Deployment oneuptime/oneuptime-haraka"]);
    assert_eq!(severity_of(&r, "floating-image-tags"), ["blocker"]);
    // The tag does not say which Haraka runs: the config check warns rather than blocks.
    assert_eq!(severity_of(&r, "haraka-connection-ini"), ["warning"]);
    assert_eq!(objects_of(&r, "unstable-pods"), ["Pod oneuptime/oneuptime-haraka-6d9f7c8b5-x2k4q"]);
    let haraka = r["components"].as_array().unwrap().iter().find(|c| c["id"] == "haraka").unwrap();
    assert_eq!(haraka["status"], "unknown");
    assert_eq!(haraka["raw"], "release");
}

#[test]
fn keep_missing_secret_reference_is_no_go() {
    let (code, r) = check_json("tests/fixtures/clusters/incident-keep.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(finding_ids(&r), ["keep-provider-rename-crash", "keep-provisioned-providers", "missing-references"]);
    assert_eq!(objects_of(&r, "missing-references"), ["Deployment keep/keep-backend"]);
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "missing-references").unwrap();
    assert_eq!(f["objects"][1]["name"], "keep-victoriametrics-796067b5aef445d899d65a685e49e3de");
    assert_eq!(severity_of(&r, "keep-provider-rename-crash"), ["warning"]);
    assert_eq!(objects_of(&r, "keep-provider-rename-crash"), ["Secret keep/keep-providers"]);

    // Without the missing reference, the Keep version risk alone is GO with warnings.
    let (code, r) = check_json("tests/fixtures/clusters/incident-keep.yaml", &["--skip", "missing-references"]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"));
}

#[test]
fn harvester_managed_chart_not_ready_is_no_go() {
    let (code, r) = check_json("tests/fixtures/clusters/incident-harvester-managedchart.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        finding_ids(&r),
        ["harvester-1-4-managed-chart-drift", "harvester-snapshot-webhook-drift", "managed-charts-not-ready"]
    );
    assert_eq!(
        objects_of(&r, "managed-charts-not-ready"),
        ["Bundle fleet-local/mcc-harvester", "ManagedChart fleet-local/harvester"]
    );
    let bundle = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["checkId"] == "managed-charts-not-ready" && f["objects"][0]["kind"] == "Bundle")
        .unwrap();
    let msg = bundle["message"].as_str().unwrap();
    assert!(msg.contains("Secret kube-system/snapshot-validation-webhook-tls"), "{msg}");
    assert!(msg.contains("ValidatingWebhookConfiguration harvester-snapshot-validation-webhook"), "{msg}");
}

#[test]
fn harvester_addon_stuck_enabling_is_no_go() {
    let (code, r) = check_json("tests/fixtures/clusters/incident-harvester-addons.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        finding_ids(&r),
        ["harvester-1-4-0-airgap-addons", "harvester-addons-mid-operation", "helm-install-jobs-unfinished"]
    );
    assert_eq!(objects_of(&r, "harvester-addons-mid-operation"), ["Addon cattle-logging-system/rancher-logging"]);
    assert_eq!(
        objects_of(&r, "helm-install-jobs-unfinished"),
        ["Job harvester-system/helm-install-harvester-vm-dhcp-controller"]
    );
    // The managed-chart kinds are not in this cluster: not applicable, never failed.
    let na: Vec<&str> = r["notApplicable"].as_array().unwrap().iter().map(|s| s["checkId"].as_str().unwrap()).collect();
    assert!(na.contains(&"managed-charts-not-ready"), "{na:?}");
    // The fixture holds no Pods: only drain-capacity, which weighs every pod, cannot say.
    assert_eq!(
        r["couldNotEvaluate"],
        serde_json::json!([{"checkId": "drain-capacity", "severity": "warning", "reason": "the input holds no Pods: they were not captured"}])
    );
}

#[test]
fn rancher_below_2_7_8_with_resource_backend_ingress_is_no_go() {
    let (code, r) = check_json("tests/fixtures/clusters/incident-rancher-higress.yaml", &[]);
    assert_eq!(code, 1);
    assert_eq!(finding_ids(&r), ["ingress-resource-backend", "rancher-2-7-5-skip", "rancher-agent-ingress-panic"]);
    assert_eq!(severity_of(&r, "rancher-agent-ingress-panic"), ["blocker"]);
    assert_eq!(severity_of(&r, "ingress-resource-backend"), ["info"]);
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "rancher-agent-ingress-panic").unwrap();
    assert_eq!(f["objects"][0]["name"], "httpbin");
    assert_eq!(f["objects"][1]["name"], "cattle-cluster-agent");
    let rancher = r["components"].as_array().unwrap().iter().find(|c| c["id"] == "rancher").unwrap();
    assert_eq!(rancher["version"], "2.7.5");
}

#[test]
fn resource_backend_ingress_alone_is_only_info() {
    // Same Ingress, Rancher 2.8.5: the info finding stays, the blocker does not appear.
    let text =
        std::fs::read_to_string(crate::util::root().join("tests/fixtures/clusters/incident-rancher-higress.yaml"))
            .unwrap()
            .replace("rancher-agent:v2.7.5", "rancher-agent:v2.8.5");
    let dir = crate::util::temp_tree(&[("c.yaml", &text)]);
    let path = dir.path().join("c.yaml");
    let (code, r) = check_json(path.to_str().unwrap(), &[]);
    assert_eq!(finding_ids(&r), ["ingress-resource-backend"]);
    // GO: the only reason it is not a clean GO is drain-capacity, which this Pod-less
    // fixture cannot feed.
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"));
    let unknown: Vec<&str> =
        r["couldNotEvaluate"].as_array().unwrap().iter().map(|s| s["checkId"].as_str().unwrap()).collect();
    assert_eq!(unknown, ["drain-capacity"]);
    assert_eq!(r["summary"]["warning"], 0);
}
