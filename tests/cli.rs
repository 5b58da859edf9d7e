//! The command line as a pipeline sees it: exit codes, formats, files, errors.

use crate::util::{check_json, run, temp_tree};

const DEMO: &str = "examples/demo-cluster.yaml";

#[test]
fn demo_cluster_table_report() {
    let out = run(&["check", "--snapshot", DEMO]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("Verdict: NO-GO"), "{}", out.stdout);
    assert!(!out.stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    insta::assert_snapshot!("demo_table", out.stdout);
}

#[test]
fn demo_cluster_json_report() {
    let (code, r) = check_json(DEMO, &[]);
    assert_eq!(code, 1);
    assert_eq!(r["schemaVersion"], 1);
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(r["exitCode"], 1);
    assert_eq!(r["source"]["type"], "snapshot");
    for f in r["findings"].as_array().unwrap() {
        for key in ["checkId", "severity", "objects", "message", "remediation", "references"] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
    }
    insta::assert_json_snapshot!("demo_json", r);
}

#[test]
fn output_file_gets_the_report_and_stdout_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    let out = run(&["check", "--snapshot", DEMO, "-o", "json", "--output-file", file.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.starts_with("NO-GO: "), "{}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["verdict"], "NO-GO");
}

#[test]
fn fail_on_warning_turns_warnings_into_no_go() {
    let snap = "tests/fixtures/clusters/incident-keep.yaml";
    let (code, r) = check_json(snap, &["--skip", "missing-references"]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"));
    let (code, r) = check_json(snap, &["--skip", "missing-references", "--fail-on", "warning"]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (1, "NO-GO"));
    assert_eq!(r["failOn"], "warning");
}

#[test]
fn only_selects_and_unknown_ids_are_rejected() {
    let (code, r) = check_json(DEMO, &["--only", "nodes-cordoned"]);
    assert_eq!(crate::util::finding_ids(&r), ["nodes-cordoned"]);
    assert_eq!(code, 0, "a warning alone is GO");
    assert_eq!(r["summary"]["evaluated"], 1);

    let out = run(&["check", "--snapshot", DEMO, "--only", "nodes-cordoned,no-such-check"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown check id(s): no-such-check"), "{}", out.stderr);
}

#[test]
fn unreadable_snapshot_exits_3() {
    let out = run(&["check", "--snapshot", "does/not/exist.yaml"]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("does/not/exist.yaml"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    let dir = temp_tree(&[("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: a\n")]);
    let p = dir.path().join("bad.yaml");
    let out = run(&["check", "--snapshot", p.to_str().unwrap()]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains(&format!("{}:3:", p.display())), "{}", out.stderr);

    // An object without a kind is no object; one without a name may be (TokenReview).
    let dir = temp_tree(&[("nokind.yaml", "apiVersion: v1\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Node\n")]);
    let p = dir.path().join("nokind.yaml");
    let out = run(&["check", "--snapshot", p.to_str().unwrap()]);
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("document 1: object has no kind"), "{}", out.stderr);
}

#[test]
fn no_cluster_configuration_exits_3_with_one_line() {
    // Without --snapshot the live source is used; KUBECONFIG points nowhere in tests.
    let out = run(&["check", "--timeout", "5"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.starts_with("upgrade-preflight: cannot load cluster configuration"), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
    let out = run(&["check", "--snapshot", DEMO, "-o", "xml"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid value 'xml'") && out.stderr.contains("json"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "no report on a usage error: {}", out.stdout);
    // Durations are Go-style (or bare seconds); a bad one is a usage error that says why.
    for (arg, why) in [
        ("--timeout=10x", "unknown unit 'x'"),
        ("--request-timeout=-2m", "negative"),
        ("--timeout=25h", "longer than 24h"),
    ] {
        let out = run(&["check", arg]);
        assert_eq!(out.code, 2, "{arg}: {}", out.stderr);
        assert!(out.stderr.contains(why), "{arg}: {}", out.stderr);
    }
}

#[test]
fn kubectl_list_json_and_directories_are_read() {
    let list = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}},
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        ]
    });
    let dir = temp_tree(&[
        ("a/nodes.json", &serde_json::to_string_pretty(&list).unwrap()),
        (
            "a/sub/pods.yml",
            "apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p, namespace: d}\n  status: {containerStatuses: [{name: c, ready: false, restartCount: 9, state: {waiting: {reason: CrashLoopBackOff}}}]}\n",
        ),
        ("a/ignored.txt", "not yaml"),
    ]);
    let (code, r) = check_json(dir.path().join("a").to_str().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(crate::util::finding_ids(&r), ["nodes-not-ready", "unstable-pods"]);
    assert_eq!(r["source"]["objects"], 3);
    let msg = r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "nodes-not-ready").unwrap()["message"]
        .clone();
    assert_eq!(msg, "Node n1 is not Ready (Ready=False, KubeletNotReady)");
}

#[test]
fn checks_without_data_are_incomplete_unless_allowed() {
    let snap = "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nresources:\n- {apiVersion: v1, kind: Node, state: failed, reason: 'forbidden: list nodes'}\n- {apiVersion: apps/v1, kind: Deployment, state: collected}\n- {apiVersion: apps/v1, kind: StatefulSet, state: collected}\n- {apiVersion: apps/v1, kind: DaemonSet, state: collected}\n";
    let dir = temp_tree(&[("s.yaml", snap)]);
    let p = dir.path().join("s.yaml");
    let (code, r) = check_json(p.to_str().unwrap(), &["--only", "nodes-not-ready,nodes-cordoned"]);
    assert_eq!(code, 3);
    assert_eq!(r["verdict"], "NO-GO");
    assert_eq!(r["incomplete"], true);
    let reasons: Vec<&str> =
        r["couldNotEvaluate"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["cannot read Node: forbidden: list nodes", "cannot read Node: forbidden: list nodes"]);
    let (code, r) =
        check_json(p.to_str().unwrap(), &["--only", "nodes-not-ready,unavailable-workloads", "--allow-incomplete"]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"));
    // With nothing evaluated at all there is no evidence either way: never GO.
    let (code, r) = check_json(p.to_str().unwrap(), &["--only", "nodes-not-ready", "--allow-incomplete"]);
    assert_eq!((code, r["verdict"].as_str().unwrap(), r["summary"]["evaluated"].as_u64()), (3, "NO-GO", Some(0)));
}

#[test]
fn secret_values_never_reach_any_output() {
    let canary = "Q0FOQVJZLXNlY3JldC12YWx1ZQ=="; // base64 of CANARY-secret-value
    let snap = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: d\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{{\"data\":{{\"KEEP_PROVIDERS\":\"{canary}\"}}}}'\ndata:\n  KEEP_PROVIDERS: {canary}\nstringData:\n  plain: CANARY-secret-value\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: keep-backend, namespace: d}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: keep\n        image: x/keep-api:0.41.3\n        env:\n        - {{name: A, valueFrom: {{secretKeyRef: {{name: app, key: missing-key}}}}}}\nstatus: {{availableReplicas: 1}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: kube-root-ca.crt, namespace: d}}\n"
    );
    let dir = temp_tree(&[("s.yaml", &snap)]);
    let p = dir.path().join("s.yaml");
    let report = dir.path().join("r.json");
    for args in [
        vec!["check", "--snapshot", p.to_str().unwrap()],
        vec!["check", "--snapshot", p.to_str().unwrap(), "-o", "json"],
        vec!["check", "--snapshot", p.to_str().unwrap(), "-o", "json", "--output-file", report.to_str().unwrap()],
    ] {
        let out = run(&args);
        assert_eq!(out.code, 1, "{}", out.stdout);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(canary) && !text.contains("CANARY"), "leak in {args:?}:\n{text}");
        }
    }
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(!written.contains(canary) && !written.contains("CANARY"));
    // The key is still visible to checks: the Keep rule fired on it.
    assert!(written.contains("keep-provisioned-providers"), "{written}");
    assert!(written.contains("key 'missing-key'"), "{written}");
}

#[test]
fn validate_list_and_explain() {
    let out = run(&["list", "-o", "json"]);
    assert_eq!(out.code, 0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    for id in ["missing-references", "rancher", "rancher-agent-ingress-panic", "haraka-pinned-version"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let out = run(&["list"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("webhooks-without-endpoints"));

    let out = run(&["explain", "ingress-resource-backend"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("rule (CEL): has(object.status)"), "{}", out.stdout);
    assert!(out.stdout.contains("reads:     Ingress.networking.k8s.io"), "{}", out.stdout);
    let out = run(&["explain", "rancher-agent-ingress-panic"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("only when check 'ingress-resource-backend' finds objects"), "{}", out.stdout);
    let out = run(&["explain", "rancher"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("cattle-system/cattle-cluster-agent"), "{}", out.stdout);
    let out = run(&["explain", "no-such-thing"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no-such-thing"));
    // A typo gets a suggestion, in `explain` and in `--only`/`--skip`.
    let out = run(&["explain", "node-not-ready"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("'node-not-ready' (did you mean nodes-not-ready?)"), "{}", out.stderr);
    let out = run(&["check", "--snapshot", DEMO, "--skip", "haraka-pinned"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("haraka-pinned (did you mean haraka-pinned-version?)"), "{}", out.stderr);
}

#[test]
fn every_id_list_shows_or_only_accepts_is_explained_and_json_has_no_nulls() {
    let out = run(&["list", "-o", "json"]);
    assert_eq!(out.code, 0);
    assert!(!out.stdout.contains("null"), "absent values are omitted: {}", out.stdout);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut ids: Vec<String> = v.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    // What `--only` accepts, from the same catalog the binary loads.
    let catalog = upgrade_preflight::catalog::Catalog::load(&upgrade_preflight::catalog::Sources::default()).unwrap();
    let accepted = catalog.finding_ids();
    for id in &accepted {
        assert!(ids.contains(id), "--only accepts {id} but list does not show it");
    }
    ids.extend(accepted);
    ids.sort();
    ids.dedup();
    assert!(ids.len() > 40, "{ids:?}");
    for id in &ids {
        let out = run(&["explain", id]);
        assert_eq!(out.code, 0, "explain {id}: {}", out.stderr);
        assert!(out.stdout.starts_with(&format!("{id} — ")), "explain {id}: {}", out.stdout);
    }
    for e in v.as_array().unwrap() {
        let kind = e["kind"].as_str().unwrap();
        assert_eq!(e.get("severity").is_some(), kind != "component", "{e}");
        if kind == "pin" || kind == "known-bad" {
            assert!(e["component"].is_string(), "{e}");
        }
    }
}

#[test]
fn relational_checks_do_not_conclude_from_what_a_snapshot_lacks() {
    // A `kubectl get all`-style dump: a fail-closed webhook and its Service, but no
    // EndpointSlices/Endpoints captured; a Deployment referencing a Secret, but no Secrets.
    let snap = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: w}\nwebhooks:\n- name: w.example.com\n  clientConfig: {service: {namespace: d, name: svc}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: d}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, namespace: d}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: c, image: x/y:1.0.0, envFrom: [{secretRef: {name: s}}]}\nstatus: {availableReplicas: 1}\n";
    let dir = temp_tree(&[("s.yaml", snap)]);
    let p = dir.path().join("s.yaml");
    let (code, r) = check_json(p.to_str().unwrap(), &["--only", "webhooks-without-endpoints,missing-references"]);
    assert_eq!(r["findings"], serde_json::json!([]), "no false blockers from missing data");
    let reasons: Vec<&str> =
        r["couldNotEvaluate"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        [
            "the snapshot holds no Secrets, so references to them cannot be checked",
            "the snapshot holds no EndpointSlices or Endpoints, so webhook backends cannot be checked"
        ]
    );
    assert_eq!(code, 3);
}
