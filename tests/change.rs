//! Preflighting a change (`check --manifest`, `--release`, `--chart`, `--no-cluster`): real
//! rendered manifests (ingress-nginx v1.5.2 → v1.7.0, `tests/fixtures/change/README.md`) judged
//! against the "before" state, from a snapshot, from the live fake API server and alone.

use serde_json::{Value, json};

use crate::fake_api::FakeApi;
use crate::util::{finding_ids, root, run, temp_tree};

pub(crate) const OLD: &str = "tests/fixtures/change/ingress-nginx/deploy-controller-v1.5.2.yaml";
pub(crate) const NEW: &str = "tests/fixtures/change/ingress-nginx/deploy-controller-v1.7.0.yaml";
/// Controller v1.7.0 is in the ranges of these known-bad rules of `matrices/ingress-nginx.yaml`
/// (IngressNightmare and CVE-2026-24512); tests about judging a change itself skip them.
pub(crate) const SKIP_CVES: &str = "ingress-nginx-cve-2025-1974,ingress-nginx-cve-2026-24512";

/// Objects of a manifest fixture.
pub(crate) fn docs(rel: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    upgrade_preflight::inventory::snapshot::parse_documents(&text, rel)
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| !v.is_null())
        .collect()
}

/// The v1.5.2 objects as the API server holds them after `kubectl apply`: what the server
/// sets (a Service's clusterIP, a Job's generated selector and template labels, defaults,
/// status) is added, so only a real change can be a finding. (Invented, from the API's
/// documented defaulting; the manifests themselves are real.)
pub(crate) fn live_old() -> Vec<Value> {
    let mut out = docs(OLD);
    for (i, o) in out.iter_mut().enumerate() {
        match o["kind"].as_str().unwrap() {
            "Service" => {
                o["spec"]["clusterIP"] = json!(format!("10.43.0.{}", 10 + i));
                o["spec"]["clusterIPs"] = json!([format!("10.43.0.{}", 10 + i)]);
                o["spec"]["sessionAffinity"] = json!("None");
            }
            "Job" => {
                let uid = format!("0f5c1d8e-0000-4000-8000-00000000000{i}");
                o["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                o["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] = json!(uid);
                o["spec"]["template"]["metadata"]["labels"]["job-name"] = o["metadata"]["name"].clone();
                o["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] =
                    json!("/dev/termination-log");
                o["spec"]["template"]["spec"]["dnsPolicy"] = json!("ClusterFirst");
                o["spec"]["backoffLimit"] = json!(6);
                o["status"] = json!({"succeeded": 1});
            }
            "Deployment" => {
                o["spec"]["replicas"] = json!(1);
                o["status"] = json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "updatedReplicas": 1});
            }
            _ => {}
        }
    }
    // The Secret the admission Job created at install time.
    out.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ingress-nginx-admission", "namespace": "ingress-nginx"},
                    "data": {"ca": "", "cert": "", "key": ""}}));
    out
}

fn snapshot_file(objects: &[Value], extra_info: Value) -> tempfile::TempDir {
    let mut info =
        json!({"apiVersion": "upgrade-preflight.io/v1alpha1", "kind": "SnapshotInfo", "serverVersion": "v1.30.2"});
    if let Some(m) = extra_info.as_object() {
        for (k, v) in m {
            info[k] = v.clone();
        }
    }
    // A capture holds each namespace's kube-root-ca.crt (Kubernetes 1.21+): without it, references
    // into the namespace could not be judged.
    let mut objects = objects.to_vec();
    let namespaces: std::collections::BTreeSet<String> =
        objects.iter().filter_map(|o| o["metadata"]["namespace"].as_str().map(ToString::to_string)).collect();
    for ns in namespaces {
        if !objects.iter().any(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"] == "kube-root-ca.crt"
                && o["metadata"]["namespace"] == ns.as_str()
        }) {
            objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": ns}}));
        }
    }
    let text = format!("{info}\n{}\n", json!({"apiVersion": "v1", "kind": "List", "items": objects}));
    temp_tree(&[("snap.json", &text)])
}

pub(crate) fn json_of(out: &crate::util::Out) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", out.stdout, out.stderr))
}

pub(crate) fn findings<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["checkId"] == id).collect()
}

pub(crate) fn validate_schema(report: &Value) {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("schema/report.schema.json")).unwrap()).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = v.iter_errors(report).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "report does not match its schema: {errors:#?}");
}

#[test]
fn ingress_nginx_static_upgrade_trips_the_immutable_job_templates() {
    let dir = snapshot_file(&live_old(), json!({}));
    let snap = dir.path().join("snap.json");
    let out = run(&["check", "--snapshot", snap.to_str().unwrap(), "--manifest", NEW, "-o", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    validate_schema(&r);
    let imm = findings(&r, "immutable-field-change");
    let names: Vec<&str> = imm.iter().map(|f| f["objects"][0]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ingress-nginx-admission-create", "ingress-nginx-admission-patch"], "{imm:#?}");
    for f in &imm {
        assert_eq!(f["severity"], "blocker");
        assert_eq!(f["objects"][0]["state"], "planned");
        assert_eq!(f["objects"][1]["state"], "live");
        let msg = f["message"].as_str().unwrap();
        assert!(
            msg.contains("spec.template.metadata.labels.app.kubernetes.io/version: live \"1.5.2\", planned \"1.7.0\"")
                || msg.contains("kube-webhook-certgen:v20230312"),
            "{msg}"
        );
        assert!(f["remediation"].as_str().unwrap().contains("kubectl delete job -n ingress-nginx"));
    }
    // Three-way merge: Services whose clusterIP the server set, the unchanged Deployment
    // selector and RoleBinding roleRefs are not changes.
    assert!(imm.iter().all(|f| f["objects"][0]["kind"] == "Job"));
    // Evaluated on the future state: the planned controller Deployment keeps its live status.
    assert!(findings(&r, "unavailable-workloads").is_empty(), "{:#?}", r["findings"]);
    assert!(r["couldNotEvaluate"].as_array().unwrap().iter().all(|s| s["checkId"] != "kind-not-served"));
}

#[test]
fn chart_rendered_hooks_with_before_hook_creation_make_the_same_bump_go() {
    // The ingress-nginx chart renders these Jobs as pre-upgrade hooks deleted before creation.
    let mut planned = docs(NEW);
    for o in planned.iter_mut().filter(|o| o["kind"] == "Job") {
        o["metadata"]["annotations"] = json!({"helm.sh/hook": "pre-install,pre-upgrade",
                                              "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"});
    }
    let manifest: String = planned.iter().map(|o| format!("---\n{o}\n")).collect();
    let dir = snapshot_file(&live_old(), json!({}));
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let out = run(&[
        "check",
        "--snapshot",
        dir.path().join("snap.json").to_str().unwrap(),
        "--manifest",
        dir.path().join("m.yaml").to_str().unwrap(),
        "-o",
        "json",
        "--only",
        "immutable-field-change,kind-not-served,missing-references,unavailable-workloads",
    ]);
    let r = json_of(&out);
    assert_eq!(out.code, 0, "{}\n{:#?}", out.stderr, r["findings"]);
    assert_eq!(r["verdict"], "GO");
    assert_eq!(r["summary"]["evaluated"], 4, "{r:#?}");
}

#[test]
fn a_hook_that_is_not_deleted_before_creation_is_still_immutable() {
    let mut planned = docs(NEW);
    for o in planned.iter_mut().filter(|o| o["kind"] == "Job") {
        o["metadata"]["annotations"] =
            json!({"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "hook-succeeded"});
    }
    let manifest: String = planned.iter().map(|o| format!("---\n{o}\n")).collect();
    let dir = snapshot_file(&live_old(), json!({}));
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let out = run(&[
        "check",
        "--snapshot",
        dir.path().join("snap.json").to_str().unwrap(),
        "--manifest",
        dir.path().join("m.yaml").to_str().unwrap(),
        "-o",
        "json",
        "--only",
        "immutable-field-change",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(findings(&json_of(&out), "immutable-field-change").len(), 2);
}

fn helm_release_secret(manifest: &str) -> Value {
    let rel = json!({"name": "ingress-nginx", "namespace": "ingress-nginx", "version": 3, "info": {"status": "deployed"},
                     "chart": {"metadata": {"name": "ingress-nginx", "version": "4.4.2", "appVersion": "1.5.2"}},
                     "manifest": manifest});
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
           "metadata": {"name": "sh.helm.release.v1.ingress-nginx.v3", "namespace": "ingress-nginx",
                        "labels": {"name": "ingress-nginx", "owner": "helm", "status": "deployed", "version": "3"}},
           "data": {"release": upgrade_preflight::inventory::helm::encode_for_secret(&rel)}})
}

#[test]
fn live_release_upgrade_judges_deletions_and_ownership_over_https() {
    let old_manifest = std::fs::read_to_string(root().join(OLD)).unwrap();
    let mut objects = live_old();
    objects.push(helm_release_secret(&old_manifest));
    // Made by hand with kubectl; the new chart version starts rendering it.
    objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ingress-nginx-tcp", "namespace": "ingress-nginx"},
                        "data": {"9000": "default/example-go:8080"}}));
    let fake = FakeApi::builder().objects(objects).strip_item_type_meta().git_version("v1.30.2").start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    // The new revision drops the controller ServiceAccount and the admission Service (both
    // still used) and adds the tcp ConfigMap.
    let mut planned: Vec<Value> = docs(NEW)
        .into_iter()
        .filter(|o| {
            let dropped = [("ServiceAccount", "ingress-nginx"), ("Service", "ingress-nginx-controller-admission")];
            !dropped.iter().any(|(k, n)| o["kind"] == *k && o["metadata"]["name"] == *n)
        })
        .collect();
    planned.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ingress-nginx-tcp"},
                        "data": {"9000": "default/example-go:8080"}}));
    let manifest: String = planned
        .iter()
        .map(|o| {
            format!("---\n# Source: ingress-nginx/templates/{}.yaml\n{o}\n", o["kind"].as_str().unwrap().to_lowercase())
        })
        .collect();
    std::fs::write(dir.path().join("m.yaml"), &manifest).unwrap();
    let out = run(&[
        "check",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--timeout",
        "30",
        "-o",
        "json",
        "--manifest",
        dir.path().join("m.yaml").to_str().unwrap(),
        "--release",
        "ingress-nginx/ingress-nginx",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    validate_schema(&r);
    assert_eq!(r["source"]["type"], "live");

    let own = findings(&r, "ownership-conflict");
    assert_eq!(own.len(), 1, "{own:#?}");
    assert_eq!(own[0]["objects"][0]["name"], "ingress-nginx-tcp");
    assert_eq!(own[0]["objects"][0]["source"], "ingress-nginx/templates/configmap.yaml");
    assert!(own[0]["message"].as_str().unwrap().contains("meta.helm.sh/release-name is missing"));

    let del = findings(&r, "deleted-still-referenced");
    let pairs: Vec<(String, String)> = del
        .iter()
        .map(|f| {
            (
                f["objects"][0]["name"].as_str().unwrap().to_string(),
                f["objects"][1]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(pairs.contains(&("ingress-nginx-controller".into(), "ingress-nginx".into())), "{pairs:?}");
    assert!(
        pairs.contains(&("ingress-nginx-admission".into(), "ingress-nginx-controller-admission".into())),
        "{pairs:?}"
    );
    for f in &del {
        assert_eq!(f["severity"], "warning");
        assert_eq!(f["objects"][1]["state"], "deleted");
    }
    // Objects already in the release are patched, not adopted: no other ownership finding.
    assert_eq!(finding_ids(&r).iter().filter(|i| *i == "ownership-conflict").count(), 1);
    assert!(!findings(&r, "immutable-field-change").is_empty());
    // Read-only.
    assert!(fake.requests().iter().all(|q| q.method == "GET"));
    assert!(fake.requests().iter().any(|q| q.path.contains("/jobs")), "the planned kinds are read");
}

#[test]
fn no_cluster_judges_the_manifests_alone_and_never_exits_3() {
    // The planned controller is a release with a critical CVE: a blocker on the planned object.
    let out = run(&["check", "--no-cluster", "--manifest", NEW, "-o", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let planned = json_of(&out);
    let f = findings(&planned, "ingress-nginx-cve-2025-1974");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["severity"], "blocker");
    assert!(f[0]["message"].as_str().unwrap().starts_with("ingress-nginx 1.7.0 "), "{}", f[0]["message"]);

    let out = run(&["check", "--no-cluster", "--manifest", NEW, "--skip", SKIP_CVES, "-o", "json"]);
    let r = json_of(&out);
    assert_eq!(out.code, 0, "{}\n{:#?}", out.stderr, r["findings"]);
    validate_schema(&r);
    assert_eq!(r["source"]["type"], "manifests");
    assert_eq!(r["couldNotEvaluate"], json!([]));
    assert!(r["summary"]["evaluated"].as_u64().unwrap() > 0);

    // A kind the target Kubernetes no longer serves.
    let pdb = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {minAvailable: 1}\n";
    let dir = temp_tree(&[("pdb.yaml", pdb)]);
    let p = dir.path().join("pdb.yaml");
    let out =
        run(&["check", "--no-cluster", "--manifest", p.to_str().unwrap(), "--target", "kubernetes=1.25", "-o", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "kind-not-served");
    assert_eq!(f.len(), 1, "{:#?}", r["findings"]);
    assert!(f[0]["message"].as_str().unwrap().contains("does not serve policy/v1beta1 PodDisruptionBudget"));
    // The same at 1.24 is served.
    let out = run(&["check", "--no-cluster", "--manifest", p.to_str().unwrap(), "--target", "kubernetes=1.24", "-q"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn chart_kube_version_and_values_schema() {
    let traefik = "tests/fixtures/change/charts/traefik";
    let out = run(&[
        "check",
        "--no-cluster",
        "--manifest",
        NEW,
        "--chart",
        traefik,
        "--target",
        "kubernetes=1.24",
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "chart-kube-version");
    assert_eq!(f.len(), 1);
    assert!(f[0]["message"].as_str().unwrap().contains(">=1.25.0-0"), "{}", f[0]["message"]);
    let out = run(&[
        "check",
        "--no-cluster",
        "--manifest",
        NEW,
        "--chart",
        traefik,
        "--target",
        "kubernetes=1.25",
        "--skip",
        SKIP_CVES,
        "-q",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    let pod = "tests/fixtures/change/charts/podtatoserver";
    let out = run(&[
        "check",
        "--no-cluster",
        "--manifest",
        NEW,
        "--chart",
        pod,
        "--release",
        "demo/podtato",
        "--skip",
        SKIP_CVES,
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(json_of(&out)["findings"].as_array().unwrap().is_empty());
    let dir = temp_tree(&[("v.yaml", "replicaCount: SECRET-VALUE-x\nservice: {port: http}\n")]);
    let values = format!("demo/podtato={}", dir.path().join("v.yaml").display());
    let out = run(&[
        "check",
        "--no-cluster",
        "--manifest",
        NEW,
        "--chart",
        pod,
        "--release",
        "demo/podtato",
        "--values",
        &values,
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "values-schema");
    assert_eq!(f.len(), 1);
    let msg = f[0]["message"].as_str().unwrap();
    assert!(msg.contains("replicaCount: fails 'type'") && msg.contains("service.port: fails 'type'"), "{msg}");
    assert!(!out.stdout.contains("SECRET-VALUE") && !out.stderr.contains("SECRET-VALUE"), "values are never printed");
}

#[test]
fn crds_not_upgraded_is_a_blocker_when_a_planned_object_needs_the_new_crd() {
    let traefik = "tests/fixtures/change/charts/traefik";
    let info = json!({"resources": [
        {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "state": "collected"},
        {"apiVersion": "v1", "kind": "Secret", "state": "collected"},
    ]});
    let dir = snapshot_file(&[], info);
    let snap = dir.path().join("snap.json");
    let tls = "apiVersion: traefik.io/v1alpha1\nkind: TLSOption\nmetadata: {name: default, namespace: traefik}\nspec: {minVersion: VersionTLS12}\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: traefik-config, namespace: traefik}\n";
    std::fs::write(dir.path().join("tls.yaml"), tls).unwrap();
    std::fs::write(dir.path().join("cm.yaml"), cm).unwrap();
    let run_with = |m: &str| {
        let out = run(&[
            "check",
            "--snapshot",
            snap.to_str().unwrap(),
            "--manifest",
            dir.path().join(m).to_str().unwrap(),
            "--chart",
            traefik,
            "-o",
            "json",
            "--only",
            "crds-not-upgraded,kind-not-served",
        ]);
        (out.code, json_of(&out))
    };
    let (code, r) = run_with("cm.yaml");
    assert_eq!(code, 0);
    let f = findings(&r, "crds-not-upgraded");
    assert_eq!((f.len(), f[0]["severity"].as_str()), (1, Some("warning")), "{r:#?}");
    assert_eq!(f[0]["objects"][0]["source"], "traefik/crds/traefik.io_tlsoptions.yaml");
    assert!(f[0]["remediation"].as_str().unwrap().contains("kubectl apply --server-side -f"));
    let (code, r) = run_with("tls.yaml");
    assert_eq!(code, 1);
    assert_eq!(findings(&r, "crds-not-upgraded")[0]["severity"], "blocker");
    assert_eq!(findings(&r, "kind-not-served").len(), 1, "{r:#?}");
}

#[test]
fn a_planned_workload_reading_a_secret_nobody_has_is_caught_before_the_upgrade() {
    // KeepHQ's seed: the new revision reads a Secret that neither the cluster nor the
    // manifests hold.
    let dir = snapshot_file(&live_old(), json!({}));
    let mut planned = docs(NEW);
    for o in planned.iter_mut().filter(|o| o["kind"] == "Deployment") {
        o["spec"]["template"]["spec"]["containers"][0]["envFrom"] =
            json!([{"secretRef": {"name": "keep-providers-renamed"}}]);
    }
    let manifest: String = planned.iter().map(|o| format!("---\n{o}\n")).collect();
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let out = run(&[
        "check",
        "--snapshot",
        dir.path().join("snap.json").to_str().unwrap(),
        "--manifest",
        dir.path().join("m.yaml").to_str().unwrap(),
        "-o",
        "json",
        "--only",
        "missing-references",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "missing-references");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["objects"][0]["state"], "planned");
    assert!(f[0]["message"].as_str().unwrap().contains("keep-providers-renamed"));
}

#[test]
fn a_planned_floating_tag_is_caught_before_the_upgrade() {
    // OneUptime's seed: the running Haraka is pinned; the new revision renders the floating
    // `release` tag with imagePullPolicy Always (oneuptime#1863).
    let haraka = |image: &str, policy: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "oneuptime-haraka", "namespace": "oneuptime"},
               "spec": {"selector": {"matchLabels": {"app": "haraka"}},
                        "template": {"metadata": {"labels": {"app": "haraka"}},
                                     "spec": {"containers": [{"name": "haraka", "image": image, "imagePullPolicy": policy}]}}}})
    };
    let dir = snapshot_file(&[haraka("oneuptime/haraka:7.0.3", "IfNotPresent")], json!({}));
    let snap = dir.path().join("snap.json");
    let judge = |planned: &Value| {
        std::fs::write(
            dir.path().join("m.yaml"),
            format!("---\n# Source: oneuptime/templates/haraka.yaml\n{planned}\n"),
        )
        .unwrap();
        let out = run(&[
            "check",
            "--snapshot",
            snap.to_str().unwrap(),
            "--manifest",
            dir.path().join("m.yaml").to_str().unwrap(),
            "-o",
            "json",
            "--only",
            "floating-image-tags",
        ]);
        (out.code, json_of(&out))
    };
    // The cluster as it is runs a pinned tag, and so does a clean bump: GO.
    let (code, r) = judge(&haraka("oneuptime/haraka:7.0.4", "IfNotPresent"));
    assert_eq!(code, 0, "{r:#?}");
    assert!(findings(&r, "floating-image-tags").is_empty(), "{r:#?}");
    // The change to `release` with Always is a blocker on the planned object.
    let (code, r) = judge(&haraka("oneuptime/haraka:release", "Always"));
    assert_eq!(code, 1, "{r:#?}");
    let f = findings(&r, "floating-image-tags");
    assert_eq!(f.len(), 1, "{r:#?}");
    assert_eq!(f[0]["severity"], "blocker");
    assert_eq!(f[0]["objects"][0]["name"], "oneuptime-haraka");
    assert_eq!(f[0]["objects"][0]["state"], "planned");
    assert!(f[0]["message"].as_str().unwrap().contains("release"), "{f:#?}");
}

#[test]
fn manifests_from_stdin_keep_their_source_and_bad_input_names_file_and_line() {
    let text = "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n---\n# Source: web/templates/pdb.yaml\napiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec: {minAvailable: 1}\n";
    let args = [
        "check",
        "--no-cluster",
        "--manifest",
        "-",
        "-o",
        "json",
        "--release",
        "shop/web",
        "--target",
        "kubernetes=1.25",
    ];
    let out = run_stdin(&args, text);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "kind-not-served");
    assert_eq!(f[0]["objects"][0]["source"], "web/templates/pdb.yaml");
    assert_eq!(f[0]["objects"][0]["namespace"], "shop", "namespaced objects default to the release namespace");
    let out = run_stdin(&["check", "--no-cluster", "--manifest", "-", "--target", "kubernetes=1.25"], text);
    assert!(out.stdout.contains("default/web (planned,"), "{}", out.stdout);
    assert!(out.stdout.contains("web/templates/pdb.yaml)"), "{}", out.stdout);

    let bad = temp_tree(&[(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  labels: {}\n",
    )]);
    let p = bad.path().join("bad.yaml");
    let out = run(&["check", "--no-cluster", "--manifest", p.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains(&format!("{}:5: Secret has no metadata.name", p.display())), "{}", out.stderr);

    let empty = temp_tree(&[("empty.yaml", "# nothing\n---\n")]);
    let p = empty.path().join("empty.yaml");
    let out = run(&["check", "--no-cluster", "--manifest", p.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("hold no objects"), "{}", out.stderr);

    let out = run(&["check", "--no-cluster", "--snapshot", OLD, "--manifest", NEW]);
    assert_eq!(out.code, 2, "--no-cluster with --snapshot is a usage error");
}

fn run_stdin(args: &[&str], stdin: &str) -> crate::util::Out {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_upgrade-preflight"))
        .args(args)
        .current_dir(root())
        .env("KUBECONFIG", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    crate::util::Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A fake `helm` on PATH: records each call's argv (one line, NUL-separated), answers
/// `pull` by unpacking the traefik fixture chart into `--untardir`, and `template` by
/// printing the real ingress-nginx v1.7.0 manifests (or failing like helm's schema check
/// when `$HELM_FAIL` is set).
fn fake_helm(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let script = format!(
        r#"#!/bin/sh
for a in "$@"; do printf '%s\0' "$a"; done >> "$HELM_RECORD"
printf '\n' >> "$HELM_RECORD"
case $1 in
pull)
    while [ $# -gt 0 ]; do [ "$1" = --untardir ] && dir=$2; shift; done
    mkdir -p "$dir" && cp -R "{chart}" "$dir/traefik" ;;
template)
    if [ -n "${{HELM_FAIL:-}}" ]; then
        echo "Error: values don't meet the specifications of the schema(s) in the following chart(s):" >&2
        echo "traefik: - (root): Additional property bogus is not allowed" >&2
        exit 1
    fi
    cat "{manifest}" ;;
*) exit 64 ;;
esac
"#,
        chart = root().join("tests/fixtures/change/charts/traefik").display(),
        manifest = root().join(NEW).display()
    );
    crate::util::write_executable(&dir.join("bin/helm"), script.as_bytes());
}

fn helm_calls(record: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|l| l.strip_suffix('\0').unwrap_or(l).split('\0').map(ToString::to_string).collect())
        .collect()
}

#[test]
fn helm_plugin_renders_the_upgrade_with_helm_and_judges_it() {
    let dir = snapshot_file(&live_old(), json!({}));
    fake_helm(dir.path());
    std::fs::write(dir.path().join("values.yaml"), "ports: {web: {port: 8000}}\n").unwrap();
    let record = dir.path().join("helm.argv");
    let plugin = |extra_env: &[(&str, &str)], args: &[&str]| {
        let _ = std::fs::remove_file(&record);
        let mut cmd = std::process::Command::new(root().join("helm-plugin/preflight.sh"));
        cmd.args(args)
            .current_dir(dir.path())
            .env("PATH", format!("{}:{}", dir.path().join("bin").display(), std::env::var("PATH").unwrap()))
            .env("UPGRADE_PREFLIGHT", env!("CARGO_BIN_EXE_upgrade-preflight"))
            .env("HELM_NAMESPACE", "ingress-nginx")
            .env("HELM_RECORD", &record)
            .env("KUBECONFIG", "/nonexistent")
            .env_remove("HELM_KUBECONTEXT")
            .env_remove("HELM_BIN");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };
    let args = [
        "ingress-nginx",
        "traefik/traefik",
        "--version",
        "41.3.0",
        "-f",
        "values.yaml",
        "--set",
        "replicas=2",
        "--",
        "--snapshot",
        "snap.json",
        "-o",
        "json",
        "--only",
        "immutable-field-change,chart-kube-version",
    ];
    let (code, stdout, stderr) = plugin(&[], &args);
    assert_eq!(code, 1, "{stderr}");
    let calls = helm_calls(&record);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0][..4], ["pull", "traefik/traefik", "--untar", "--untardir"]);
    assert!(calls[0].ends_with(&["--version".to_string(), "41.3.0".to_string()]), "{calls:?}");
    let t = &calls[1];
    assert_eq!(t[..2], ["template", "ingress-nginx"]);
    assert!(t[2].ends_with("/traefik"), "{t:?}");
    assert_eq!(
        t[3..],
        ["--namespace", "ingress-nginx", "--is-upgrade", "--values", "values.yaml", "--set", "replicas=2"]
    );
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(findings(&r, "immutable-field-change").len(), 2, "{r:#?}");
    // The chart's kubeVersion (>=1.25.0-0) was read from the pulled chart and holds at 1.30.2.
    assert!(r["summary"]["evaluated"].as_u64().unwrap() == 2 && findings(&r, "chart-kube-version").is_empty());

    // helm refuses (schema): its message as a blocker, exit 1, no check run.
    let (code, stdout, stderr) = plugin(&[("HELM_FAIL", "1")], &args);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("NO-GO") && stderr.contains("Additional property bogus is not allowed"), "{stderr}");
    assert!(stderr.contains("helm-render-failed"), "{stderr}");
}

#[test]
fn readme_preflight_a_change_job_parses_and_its_commands_are_accepted() {
    use clap::Parser as _;
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("\n## Preflight a change\n").expect("section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").unwrap() + 3];
    let yaml = section.split("```yaml\n").nth(1).unwrap();
    let yaml = &yaml[..yaml.find("```").unwrap()];
    let doc: Value = serde_saphyr::from_str(yaml).unwrap();
    let steps = doc["jobs"]["preflight"]["steps"].as_array().unwrap();
    let script = steps.last().unwrap()["run"].as_str().unwrap();
    let sh = section.split("```sh\n").nth(1).unwrap();
    let sh = &sh[..sh.find("```").unwrap()];
    let mut seen = 0;
    for line in script.lines().chain(sh.replace("\\\n", " ").lines().map(|l| l.split('#').next().unwrap())) {
        let Some(i) = line.find("upgrade-preflight check") else { continue };
        let argv: Vec<&str> = line[i..].split("||").next().unwrap().split_whitespace().collect();
        upgrade_preflight::commands::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        seen += 1;
    }
    assert!(seen >= 5, "{seen} commands");
}

#[test]
fn detection_and_known_bad_ranges_run_on_the_future_state() {
    let agent = |tag: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cattle-cluster-agent", "namespace": "cattle-system"},
               "spec": {"selector": {"matchLabels": {"app": "cattle-cluster-agent"}},
                        "template": {"metadata": {"labels": {"app": "cattle-cluster-agent"}},
                                     "spec": {"containers": [{"name": "cluster-register", "image": format!("rancher/rancher-agent:{tag}")}]}}}})
    };
    let ingress = |backend: Value| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "httpbin", "namespace": "higress-system"},
               "spec": {"rules": [{"host": "httpbin.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]}})
    };
    let mut live_ingress = ingress(json!({"service": {"name": "httpbin", "port": {"number": 80}}}));
    live_ingress["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}});
    let dir = snapshot_file(&[agent("v2.8.5"), live_ingress], json!({}));
    let planned = [
        agent("v2.7.5"),
        ingress(json!({"resource": {"apiGroup": "networking.higress.io", "kind": "McpBridge", "name": "default"}})),
    ];
    let manifest: String = planned.iter().map(|o| format!("---\n{o}\n")).collect();
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let snap = dir.path().join("snap.json");
    // The cluster as it is: Rancher 2.8.5, a service backend: nothing.
    let out =
        run(&["check", "--snapshot", snap.to_str().unwrap(), "-o", "json", "--only", "rancher-agent-ingress-panic"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let out = run(&[
        "check",
        "--snapshot",
        snap.to_str().unwrap(),
        "--manifest",
        dir.path().join("m.yaml").to_str().unwrap(),
        "-o",
        "json",
        "--only",
        "rancher-agent-ingress-panic",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let rancher = r["components"].as_array().unwrap().iter().find(|c| c["id"] == "rancher").unwrap();
    assert_eq!(rancher["version"], "2.7.5", "the planned image is the version: {rancher:#?}");
    let f = findings(&r, "rancher-agent-ingress-panic");
    assert_eq!(f.len(), 1, "{r:#?}");
    assert_eq!(f[0]["objects"][0]["name"], "httpbin");
    assert_eq!(f[0]["objects"][0]["state"], "planned");
}

#[test]
fn a_version_the_change_sets_is_planned_like_a_target() {
    // No --target: the rendered agent image is the version Rancher goes to, so the upgrade
    // path starts from what runs and peer compatibility is judged at the planned version.
    let agent = |tag: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "cattle-cluster-agent", "namespace": "cattle-system"},
               "spec": {"selector": {"matchLabels": {"app": "cattle-cluster-agent"}},
                        "template": {"metadata": {"labels": {"app": "cattle-cluster-agent"}},
                                     "spec": {"containers": [{"name": "cluster-register", "image": format!("rancher/rancher-agent:{tag}")}]}}}})
    };
    let dir = snapshot_file(&[agent("v2.8.5")], json!({"serverVersion": "v1.31.2"}));
    let snap = dir.path().join("snap.json");
    let judge = |tag: &str, only: &str| {
        std::fs::write(dir.path().join("m.yaml"), format!("---\n{}\n", agent(tag))).unwrap();
        let out = run(&[
            "check",
            "--snapshot",
            snap.to_str().unwrap(),
            "--manifest",
            dir.path().join("m.yaml").to_str().unwrap(),
            "-o",
            "json",
            "--only",
            only,
        ]);
        (out.code, json_of(&out))
    };
    // The report has no `plan` when nothing is planned.
    let rancher_step =
        |r: &Value| r["plan"].as_array().and_then(|p| p.iter().find(|s| s["component"] == "rancher").cloned());

    // Rancher 2.9 supports Kubernetes below 1.31 (its chart's kubeVersion); the cluster runs 1.31.2.
    let (code, r) = judge("v2.9.3", "peer-compatibility");
    assert_eq!(code, 1, "{r:#?}");
    let f = findings(&r, "peer-compatibility");
    assert_eq!(f.len(), 1, "{r:#?}");
    assert!(f[0]["message"].as_str().unwrap().contains("2.9.3 (target)"), "{f:#?}");
    let step = rancher_step(&r).expect("a plan step for the version the change sets");
    assert_eq!(step["current"], "v2.8.5", "{step:#?}");
    assert_eq!(step["target"], "v2.9.3", "{step:#?}");
    assert_eq!(step["verdict"], "blocked", "{step:#?}");

    // A downgrade the change makes is refused by the upgrade path, from what runs now.
    let (code, r) = judge("v2.8.2", "upgrade-path");
    assert_eq!(code, 1, "{r:#?}");
    let f = findings(&r, "upgrade-path");
    assert_eq!(f.len(), 1, "{r:#?}");
    assert!(f[0]["message"].as_str().unwrap().contains("2.8.5"), "{f:#?}");

    // The same version: no step, nothing planned.
    let (code, r) = judge("v2.8.5", "peer-compatibility");
    assert!(rancher_step(&r).is_none(), "{r:#?}");
    assert!(findings(&r, "peer-compatibility").is_empty());
    assert_ne!(code, 1, "{r:#?}");
}

#[test]
fn a_packaged_chart_tgz_is_read_like_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(dir.path().join("traefik-41.3.0.tgz"))
        .arg("-C")
        .arg(root().join("tests/fixtures/change/charts"))
        .arg("traefik")
        .status()
        .unwrap();
    assert!(status.success());
    let tgz = dir.path().join("traefik-41.3.0.tgz");
    let out = run(&[
        "check",
        "--no-cluster",
        "--manifest",
        NEW,
        "--chart",
        tgz.to_str().unwrap(),
        "--target",
        "kubernetes=1.24",
        "-o",
        "json",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(findings(&json_of(&out), "chart-kube-version").len(), 1);
    std::fs::write(dir.path().join("junk.tgz"), b"not a gzip").unwrap();
    let out =
        run(&["check", "--no-cluster", "--manifest", NEW, "--chart", dir.path().join("junk.tgz").to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("junk.tgz") && out.stderr.contains("not a chart directory or .tgz"), "{}", out.stderr);
}

#[test]
fn user_checks_see_the_live_object_as_old_object() {
    let check = "id: replicas-scaled-down\ntitle: The change scales a workload down\nseverity: warning\nresources:\n  - {api-version: apps/v1, kind: Deployment}\nrule:\n  cel: \"oldObject != null && has(object.spec.replicas) && has(oldObject.spec.replicas) && object.spec.replicas < oldObject.spec.replicas\"\n  message-expression: \"object.metadata.name + ' goes from ' + string(oldObject.spec.replicas) + ' to ' + string(object.spec.replicas) + ' replicas'\"\nremediation: Keep the replica count, or scale down on purpose.\n";
    let dir = snapshot_file(&live_old(), json!({}));
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::write(dir.path().join("checks/replicas-scaled-down.yaml"), check).unwrap();
    let mut planned = docs(NEW);
    for o in planned.iter_mut().filter(|o| o["kind"] == "Deployment") {
        o["spec"]["replicas"] = json!(0);
    }
    let manifest: String = planned.iter().map(|o| format!("---\n{o}\n")).collect();
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let snap = dir.path().join("snap.json");
    let checks = dir.path().join("checks");
    let base = [
        "check",
        "--snapshot",
        snap.to_str().unwrap(),
        "--checks",
        checks.to_str().unwrap(),
        "-o",
        "json",
        "--only",
        "replicas-scaled-down",
    ];
    let mut args = base.to_vec();
    let m = dir.path().join("m.yaml");
    args.extend(["--manifest", m.to_str().unwrap()]);
    let out = run(&args);
    assert_eq!(out.code, 0, "a warning: {}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "replicas-scaled-down");
    assert_eq!(f.len(), 1, "{r:#?}");
    assert_eq!(f[0]["message"], "ingress-nginx-controller goes from 1 to 0 replicas");
    // Without a change, oldObject is null and the rule finds nothing.
    let out = run(&base);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(findings(&json_of(&out), "replicas-scaled-down").is_empty());
}

#[test]
fn values_merge_onto_the_new_charts_defaults_with_chart() {
    // The release's current chart has no haproxy.hosts default; the new chart version does.
    let dir = temp_tree(&[
        ("chart/Chart.yaml", "apiVersion: v2\nname: haraka\nversion: 0.6.0\nappVersion: 3.1.0\n"),
        (
            "chart/values.yaml",
            "image: {repository: haraka/haraka, tag: 3.1.0}\nhaproxy: {enabled: true, hosts: [\"10.0.0.0/8\"]}\n",
        ),
        ("m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: haraka-config, namespace: smtp}\n"),
    ]);
    let fx = "tests/fixtures/checks/values-required-key";
    let snap = format!("{fx}/fail.haraka-3-1-without-haproxy-hosts.yaml");
    let values = format!("smtp/mail={fx}/values.haraka-3.1.yaml");
    let base = ["check", "--snapshot", &snap, "--values", &values, "-o", "json", "--only", "values-required-key"];
    let out = run(&base);
    assert_eq!(out.code, 1, "without the new chart, the old defaults lack haproxy.hosts: {}", out.stderr);
    let m = dir.path().join("m.yaml");
    let chart = dir.path().join("chart");
    let mut args = base.to_vec();
    args.extend(["--manifest", m.to_str().unwrap(), "--release", "smtp/mail", "--chart", chart.to_str().unwrap()]);
    let out = run(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(findings(&json_of(&out), "values-required-key").is_empty());
}

#[test]
fn the_same_change_is_judged_per_cluster() {
    // "old" still runs v1.5.2 (its Jobs' templates differ); "new" already runs v1.7.0.
    let mut upgraded = docs(NEW);
    upgraded.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ingress-nginx-admission", "namespace": "ingress-nginx"}, "data": {"ca": ""}}));
    let old = FakeApi::builder().objects(live_old()).strip_item_type_meta().git_version("v1.30.2").start();
    let new = FakeApi::builder().objects(upgraded).strip_item_type_meta().git_version("v1.30.2").start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = FakeApi::write_multi_kubeconfig(dir.path(), &[("old", &old), ("new", &new)]);
    let out = run(&[
        "check",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--context",
        "old",
        "--context",
        "new",
        "--timeout",
        "30",
        "--manifest",
        NEW,
        "-o",
        "json",
        "--only",
        "immutable-field-change,kind-not-served",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    assert_eq!(findings(&r["clusters"]["old"], "immutable-field-change").len(), 2, "{r:#?}");
    assert!(findings(&r["clusters"]["new"], "immutable-field-change").is_empty(), "{r:#?}");
    assert_eq!(r["clusters"]["new"]["verdict"], "GO");
    for fake in [&old, &new] {
        assert!(fake.requests().iter().all(|q| q.method == "GET"));
    }
}

#[test]
fn planned_secrets_never_reach_a_report() {
    const CANARY: &str = "CANARY-planned-7f3a";
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let live = json!({"apiVersion": "v1", "kind": "Secret", "immutable": true,
                      "metadata": {"name": "db", "namespace": "shop"}, "data": {"password": b64(CANARY)}});
    let dir = snapshot_file(&[live], json!({}));
    let manifest = format!(
        "---\n# Source: shop/templates/secret.yaml\napiVersion: v1\nkind: Secret\nimmutable: true\nmetadata: {{name: db, namespace: shop}}\nstringData: {{password: {CANARY}, user: {CANARY}}}\ndata: {{token: {}}}\n",
        b64(CANARY)
    );
    std::fs::write(dir.path().join("m.yaml"), manifest).unwrap();
    let snap = dir.path().join("snap.json");
    let m = dir.path().join("m.yaml");
    for format in ["table", "json", "junit", "markdown", "sarif"] {
        let out = run(&[
            "check",
            "--snapshot",
            snap.to_str().unwrap(),
            "--manifest",
            m.to_str().unwrap(),
            "-o",
            format,
            "-v",
        ]);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        assert!(out.stdout.contains("immutable-field-change"), "{format}");
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(CANARY) && !text.contains(&b64(CANARY)), "{format} leaks a Secret value:\n{text}");
        }
    }
}

#[test]
fn a_planned_kind_the_cluster_refuses_to_list_is_could_not_evaluate_not_go() {
    let fake = FakeApi::builder().objects(live_old()).strip_item_type_meta().git_version("v1.30.2").start();
    fake.forbid(crate::fake_api::Target::resource("jobs"));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let out = run(&[
        "check",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--timeout",
        "30",
        "--manifest",
        NEW,
        "-o",
        "json",
        "--only",
        "immutable-field-change",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let r = json_of(&out);
    let cne = &r["couldNotEvaluate"][0];
    assert_eq!(cne["checkId"], "immutable-field-change");
    assert!(cne["reason"].as_str().unwrap().contains("cannot read Job.batch"), "{cne}");
}

#[test]
fn snapshot_captures_what_judging_the_change_reads() {
    let fake = FakeApi::builder().objects(live_old()).strip_item_type_meta().git_version("v1.30.2").start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let kc = kubeconfig.to_str().unwrap();
    let plain = dir.path().join("plain.json");
    let with_change = dir.path().join("change.json");
    let out = run(&["snapshot", "--kubeconfig", kc, "-o", plain.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run(&["snapshot", "--kubeconfig", kc, "-o", with_change.to_str().unwrap(), "--manifest", NEW]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let judge = |snap: &std::path::Path| {
        let out = run(&[
            "check",
            "--snapshot",
            snap.to_str().unwrap(),
            "--manifest",
            NEW,
            "-o",
            "json",
            "--only",
            "immutable-field-change,ownership-conflict",
        ]);
        (out.code, json_of(&out))
    };
    // A capture without the planned kinds cannot say what the change replaces: exit 3, not GO.
    let (code, r) = judge(&plain);
    assert_eq!(code, 3, "{r:#?}");
    // With them, the same verdict as live.
    let (code, r) = judge(&with_change);
    assert_eq!(code, 1, "{r:#?}");
    assert_eq!(findings(&r, "immutable-field-change").len(), 2);
}

#[test]
fn a_stored_manifest_without_namespaces_is_in_the_release_namespace() {
    // Charts that do not template metadata.namespace are stored without one.
    let stored: String = std::fs::read_to_string(root().join(OLD))
        .unwrap()
        .lines()
        .filter(|l| *l != "  namespace: ingress-nginx")
        .map(|l| format!("{l}\n"))
        .collect();
    let mut objects = live_old();
    objects.push(helm_release_secret(&stored));
    let dir = snapshot_file(&objects, json!({}));
    let out = run(&[
        "check",
        "--snapshot",
        dir.path().join("snap.json").to_str().unwrap(),
        "--manifest",
        NEW,
        "--release",
        "ingress-nginx/ingress-nginx",
        "-o",
        "json",
        "--only",
        "deleted-still-referenced,ownership-conflict",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, out.stdout);
    let r = json_of(&out);
    assert!(r["findings"].as_array().unwrap().is_empty(), "{:#?}", r["findings"]);
    assert_eq!(r["summary"]["evaluated"], 2);
}

#[test]
fn a_planned_removed_api_is_the_strongest_evidence() {
    let pdb = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {minAvailable: 1}\n";
    let dir = temp_tree(&[("pdb.yaml", pdb)]);
    let p = dir.path().join("pdb.yaml");
    let out = run(&[
        "check",
        "--no-cluster",
        "--manifest",
        p.to_str().unwrap(),
        "--target",
        "kubernetes=1.25",
        "-o",
        "json",
        "--only",
        "removed-api",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    let f = findings(&r, "removed-api");
    assert_eq!(f.len(), 1, "{r:#?}");
    assert_eq!(f[0]["severity"], "blocker");
    assert!(f[0]["message"].as_str().unwrap().contains("the planned manifest"), "{}", f[0]["message"]);
}
