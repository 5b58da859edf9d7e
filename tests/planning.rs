//! Upgrade planning from the command line: `--target`, `--values`, `release:` targets, and
//! their error paths (exit 2 with the file, line and column, or the list of known names).

use serde_json::{Value, json};

use crate::util::{check_json, finding_ids, run, temp_tree};

fn secret_yaml(rel: &Value) -> String {
    let payload = upgrade_preflight::inventory::helm::encode_for_secret(rel);
    format!(
        "apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\nmetadata:\n  name: sh.helm.release.v1.{n}.v{v}\n  namespace: {ns}\n  labels: {{owner: helm, name: {n}, version: \"{v}\", status: {s}}}\ndata:\n  release: {payload}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: n1}}\nstatus: {{conditions: [{{type: Ready, status: 'True'}}]}}\n",
        n = rel["name"].as_str().unwrap(),
        v = rel["version"],
        ns = rel["namespace"].as_str().unwrap(),
        s = rel["info"]["status"].as_str().unwrap(),
    )
}

fn rancher_release(chart: &str, status: &str) -> Value {
    json!({"name": "rancher", "namespace": "cattle-system", "version": 5, "info": {"status": status},
           "chart": {"metadata": {"name": "rancher", "version": chart, "appVersion": format!("v{chart}")},
                     "values": {"hostname": "x", "replicas": 3}},
           "config": {"hostname": "rancher.example.com", "bootstrapPassword": "CANARY-do-not-print"},
           "manifest": "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: rancher\n  namespace: cattle-system\n"})
}

#[test]
fn an_unknown_component_lists_the_known_ones() {
    let out = run(&["check", "--snapshot", "examples/demo-cluster.yaml", "--target", "rancherr=2.8.5"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("unknown component 'rancherr'"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("known: {}", crate::util::builtin_components())), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn a_target_must_be_a_release_version() {
    for (arg, why) in [
        ("harvester=latest", "floating"),
        ("harvester=sha256:0123456789abcdef", "digest"),
        ("harvester=v1.5-head", "development build"),
        ("harvester", "COMPONENT=VERSION"),
    ] {
        let out = run(&["check", "--snapshot", "examples/demo-cluster.yaml", "--target", arg]);
        assert_eq!(out.code, 2, "{arg}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{arg}: {}", out.stderr);
    }
}

#[test]
fn a_values_file_with_a_yaml_error_names_line_and_column() {
    let dir = temp_tree(&[("values.yaml", "image:\n  tag: \"3.1.0\"\n  pull: [Always,\n")]);
    let file = dir.path().join("values.yaml");
    let arg = format!("smtp/mail={}", file.display());
    let out = run(&["check", "--snapshot", "examples/demo-cluster.yaml", "--values", &arg]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let prefix = format!("{}:4:", file.display());
    assert!(out.stderr.contains(&prefix) || out.stderr.contains(&format!("{}:3:", file.display())), "{}", out.stderr);
    assert!(out.stderr.contains("error:"), "{}", out.stderr);
}

#[test]
fn values_for_a_release_that_does_not_exist_is_a_usage_error() {
    let snap = secret_yaml(&rancher_release("2.8.2", "deployed"));
    let dir = temp_tree(&[("snap.yaml", &snap), ("v.yaml", "replicas: 1\n")]);
    let arg = format!("nosuch={}", dir.path().join("v.yaml").display());
    let out = run(&["check", "--snapshot", dir.path().join("snap.yaml").to_str().unwrap(), "--values", &arg]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no Helm release 'nosuch'"), "{}", out.stderr);
    assert!(out.stderr.contains("cattle-system/rancher"), "lists the releases there are: {}", out.stderr);
}

#[test]
fn harvester_gates_are_reported_together_with_the_path() {
    // The v1.4.1 → v1.4.2 incident: the path is fine, the managed chart gate is not.
    let (code, r) =
        check_json("tests/fixtures/clusters/incident-harvester-managedchart.yaml", &["--target", "harvester=v1.4.2"]);
    assert_eq!(code, 1);
    let step = &r["plan"][0];
    assert_eq!(step["component"], "harvester");
    assert_eq!(step["current"], "v1.4.1");
    assert_eq!(step["target"], "v1.4.2");
    assert_eq!(step["verdict"], "blocked");
    let gates: Vec<(String, String)> = step["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["checkId"].as_str().unwrap().to_string(), g["result"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(gates.len(), 12, "{gates:?}");
    assert!(gates.contains(&("pdb-blocks-drain".into(), "pass".into())), "{gates:?}");
    assert!(gates.contains(&("managed-charts-not-ready".into(), "fail".into())), "{gates:?}");
    assert!(gates.contains(&("unschedulable-pods".into(), "pass".into())), "an upgrade drains nodes: {gates:?}");
    assert!(gates.contains(&("nodes-not-ready".into(), "pass".into())), "{gates:?}");
    assert!(!finding_ids(&r).contains(&"upgrade-path".to_string()), "1.4.1 → 1.4.2 is an allowed step");

    // 1.5.0 from 1.4.1 is not: the step lists where it may go instead.
    let (code, r) =
        check_json("tests/fixtures/clusters/incident-harvester-managedchart.yaml", &["--target", "harvester=1.5.0"]);
    assert_eq!(code, 1);
    assert!(finding_ids(&r).contains(&"upgrade-path".to_string()));
    assert_eq!(r["plan"][0]["nextSteps"], json!([">=1.4.2, <1.5.0"]));
}

#[test]
fn a_gate_that_is_a_warning_alone_blocks_a_targeted_upgrade() {
    let snap = "apiVersion: harvesterhci.io/v1beta1\nkind: Setting\nmetadata: {name: server-version}\nvalue: v1.4.1\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {unschedulable: true}\nstatus: {conditions: [{type: Ready, status: 'True'}]}\n";
    let dir = temp_tree(&[("s.yaml", snap)]);
    let path = dir.path().join("s.yaml");
    let (code, plain) = check_json(path.to_str().unwrap(), &[]);
    let cordoned = |r: &Value| {
        r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "nodes-cordoned").unwrap()["severity"].clone()
    };
    assert_eq!((code, cordoned(&plain)), (0, json!("warning")));
    let (code, planned) = check_json(path.to_str().unwrap(), &["--target", "harvester=1.4.2"]);
    assert_eq!((code, cordoned(&planned)), (1, json!("blocker")), "Harvester's webhook refuses cordoned nodes");
}

#[test]
fn a_target_equal_to_current_is_no_change() {
    let snap = "apiVersion: harvesterhci.io/v1beta1\nkind: Setting\nmetadata: {name: server-version}\nvalue: v1.4.2\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {conditions: [{type: Ready, status: 'True'}]}\n";
    let dir = temp_tree(&[("s.yaml", snap)]);
    let (code, r) = check_json(dir.path().join("s.yaml").to_str().unwrap(), &["--target", "harvester=1.4.2"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["plan"][0]["verdict"], "no-change");
    assert!(r["findings"].as_array().unwrap().is_empty(), "{r:#}");
}

#[test]
fn an_unreadable_current_version_leaves_the_path_unevaluated() {
    // A digest-pinned Rancher: the version cannot be read, so the path cannot be judged.
    let snap = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: rancher, namespace: cattle-system}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: rancher, image: 'rancher/rancher@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'}]\nstatus: {replicas: 1, availableReplicas: 1}\n";
    let dir = temp_tree(&[("s.yaml", snap)]);
    let (code, r) = check_json(dir.path().join("s.yaml").to_str().unwrap(), &["--target", "rancher=2.8.5"]);
    assert_eq!(code, 3, "a blocker rule without a verdict is NO-GO (incomplete): {r:#}");
    assert_eq!(r["plan"][0]["verdict"], "unknown");
    let cne: Vec<&str> =
        r["couldNotEvaluate"].as_array().unwrap().iter().map(|s| s["checkId"].as_str().unwrap()).collect();
    assert!(cne.contains(&"upgrade-path"), "{cne:?}");
}

#[test]
fn upgrading_into_a_known_bad_version_is_a_finding() {
    let snap = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: rancher, namespace: cattle-system}\nspec:\n  template:\n    spec:\n      containers: [{name: rancher, image: 'rancher/rancher:v2.7.4'}]\n";
    let dir = temp_tree(&[("s.yaml", snap)]);
    let (_, r) = check_json(dir.path().join("s.yaml").to_str().unwrap(), &["--target", "rancher=2.7.5"]);
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "rancher-2-7-5-skip").unwrap();
    assert!(f["message"].as_str().unwrap().starts_with("target Rancher 2.7.5"), "{f}");
    assert_eq!(r["plan"][0]["verdict"], "warning");
}

#[test]
fn a_release_target_plans_its_component_and_never_prints_values() {
    let snap = secret_yaml(&rancher_release("2.8.2", "deployed"));
    let dir = temp_tree(&[
        (
            "snap.yaml",
            &format!(
                "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nserverVersion: v1.28.9\n---\n{snap}"
            ),
        ),
        ("v.yaml", "replicas: 2\n"),
    ]);
    let snap_path = dir.path().join("snap.yaml");
    let values = format!("cattle-system/rancher={}", dir.path().join("v.yaml").display());
    for format in ["json", "table"] {
        let out = run(&[
            "check",
            "--snapshot",
            snap_path.to_str().unwrap(),
            "-o",
            format,
            "--target",
            "release:cattle-system/rancher=2.9.2",
            "--values",
            &values,
        ]);
        assert!(!out.stdout.contains("CANARY") && !out.stderr.contains("CANARY"), "{}", out.stdout);
        if format == "json" {
            let r: Value = serde_json::from_str(&out.stdout).unwrap();
            let comps: Vec<&str> =
                r["plan"].as_array().unwrap().iter().map(|s| s["component"].as_str().unwrap()).collect();
            assert_eq!(comps, ["rancher", "release:cattle-system/rancher"], "{r:#}");
            assert_eq!(r["plan"][0]["current"], "v2.8.2", "detected from the release's appVersion");
            assert_eq!(r["plan"][0]["target"], "2.9.2");
            assert_eq!(r["plan"][1]["current"], "2.8.2");
        }
    }
}

#[test]
fn a_gzip_bomb_in_a_release_secret_is_a_finding_not_a_crash() {
    use base64::Engine;
    use std::io::Write;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b'{'; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&block).unwrap();
    }
    let payload = b64.encode(b64.encode(gz.finish().unwrap()));
    let snap = format!(
        "apiVersion: v1\nkind: Secret\ntype: helm.sh/release.v1\nmetadata:\n  name: sh.helm.release.v1.bomb.v1\n  namespace: x\n  labels: {{owner: helm, name: bomb, version: '1', status: deployed}}\ndata:\n  release: {payload}\n---\napiVersion: v1\nkind: Node\nmetadata: {{name: n1}}\nstatus: {{conditions: [{{type: Ready, status: 'True'}}]}}\n"
    );
    let dir = temp_tree(&[("s.yaml", &snap)]);
    let (code, r) = check_json(dir.path().join("s.yaml").to_str().unwrap(), &[]);
    assert_eq!(code, 0, "undecodable is a warning");
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "helm-release-undecodable").unwrap();
    assert!(f["message"].as_str().unwrap().contains("inflates beyond"), "{f}");
}
