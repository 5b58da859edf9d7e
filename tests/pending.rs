//! `check --pending-release`: the revision Helm is upgrading a release to, read from the
//! release's storage in the live cluster (what the pre-upgrade hook sees) and judged like
//! `--manifest` with `--release`. Real rendered manifests (ingress-nginx v1.5.2 deployed,
//! v1.7.0 pending; `tests/fixtures/change/README.md`) over HTTPS against the fake API server.
//! The release envelopes (chart versions, values) are invented, encoded the way Helm's Secret
//! driver stores them.

use serde_json::{Value, json};

use crate::change::{NEW, OLD, SKIP_CVES, findings, json_of, live_old, validate_schema};
use crate::fake_api::FakeApi;
use crate::util::{root, run};

pub(crate) const RELEASE: &str = "ingress-nginx/ingress-nginx";

/// Helm's storage Secret for revision `rev` of release ingress-nginx; `extra` is merged into
/// the release JSON (hooks, chart files, values).
pub(crate) fn stored_revision(rev: u64, status: &str, chart: (&str, &str), manifest: &str, extra: &Value) -> Value {
    let mut rel = json!({"name": "ingress-nginx", "namespace": "ingress-nginx", "version": rev, "info": {"status": status},
                         "chart": {"metadata": {"name": "ingress-nginx", "version": chart.0, "appVersion": chart.1,
                                                "kubeVersion": ">=1.20.0-0"}},
                         "manifest": manifest});
    for (k, v) in extra.as_object().into_iter().flatten() {
        if k == "chart" {
            for (ck, cv) in v.as_object().into_iter().flatten() {
                rel["chart"][ck] = cv.clone();
            }
        } else {
            rel[k] = v.clone();
        }
    }
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
           "metadata": {"name": format!("sh.helm.release.v1.ingress-nginx.v{rev}"), "namespace": "ingress-nginx",
                        "labels": {"name": "ingress-nginx", "owner": "helm", "status": status, "version": rev.to_string()}},
           "data": {"release": upgrade_preflight::inventory::helm::encode_for_secret(&rel)}})
}

pub(crate) fn text(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// The cluster while `helm upgrade` runs its pre-upgrade hooks: v1.5.2 deployed as revision 3,
/// the upgrade to `pending_manifest` stored as revision 4, `pending-upgrade`.
pub(crate) fn upgrading(pending_manifest: &str, extra: &Value) -> Vec<Value> {
    let mut objects = live_old();
    objects.push(stored_revision(3, "deployed", ("4.4.2", "1.5.2"), &text(OLD), &json!({})));
    objects.push(stored_revision(4, "pending-upgrade", ("4.6.0", "1.7.0"), pending_manifest, extra));
    objects
}

pub(crate) fn start(objects: Vec<Value>) -> (FakeApi, tempfile::TempDir, String) {
    let fake = FakeApi::builder().objects(objects).strip_item_type_meta().git_version("v1.30.2").start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path()).to_str().unwrap().to_string();
    (fake, dir, kubeconfig)
}

fn check(kubeconfig: &str, extra: &[&str]) -> crate::util::Out {
    let skip = format!("helm-release-in-progress,{SKIP_CVES}");
    let base = ["check", "--kubeconfig", kubeconfig, "--timeout", "30", "-o", "json", "--skip", &skip];
    run(&[&base[..], extra].concat())
}

#[test]
fn a_pending_upgrade_that_edits_an_immutable_field_is_no_go_and_is_read_in_two_get_phases() {
    let (fake, _dir, kc) = start(upgrading(&text(NEW), &json!({})));
    let out = check(&kc, &["--pending-release", RELEASE]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = json_of(&out);
    validate_schema(&r);
    assert_eq!(r["source"]["type"], "live");
    // The v1.7.0 admission Jobs change their spec.template: the same verdict as --manifest.
    let imm = findings(&r, "immutable-field-change");
    assert_eq!(imm.len(), 2, "{:#?}", r["findings"]);
    for f in &imm {
        let planned = f["objects"].as_array().unwrap().iter().find(|o| o["state"] == "planned").unwrap();
        assert_eq!(planned["kind"], "Job", "{f}");
        assert!(f["message"].as_str().unwrap().contains("spec.template"), "{f}");
    }
    // --target release:NS/NAME=pending comes with it: the chart version Helm is upgrading to.
    let step = r["plan"].as_array().unwrap().iter().find(|p| p["component"] == "release:ingress-nginx/ingress-nginx");
    let step = step.unwrap_or_else(|| panic!("no plan step for the release: {:#?}", r["plan"]));
    assert_eq!((step["current"].as_str(), step["target"].as_str()), (Some("4.4.2"), Some("4.6.0")), "{step}");

    // Read-only, and in two phases: first the release's storage in its namespace, whole
    // (Secrets, then ConfigMaps, with the release's labels), then the collection, which lists
    // the planned kinds.
    let reqs = fake.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"), "{reqs:#?}");
    for (i, plural) in ["secrets", "configmaps"].iter().enumerate() {
        assert_eq!(reqs[i].path, format!("/api/v1/namespaces/ingress-nginx/{plural}"), "{:#?}", &reqs[..3]);
        assert_eq!(reqs[i].query_param("labelSelector"), Some("owner=helm,name=ingress-nginx"));
    }
    assert_eq!(reqs[2].path, "/version", "the collection starts after the change is known");
    let listed = |reqs: &[crate::fake_api::RecordedRequest], path: &str| reqs.iter().any(|q| q.path == path);
    // ServiceAccount is read by no check: only because the pending revision renders one.
    assert!(listed(&reqs[3..], "/api/v1/serviceaccounts"), "the planned kinds are listed");
    assert!(listed(&reqs[3..], "/apis/batch/v1/jobs"));
    fake.clear_requests();
    let out = check(&kc, &[]);
    assert!(!listed(&fake.requests(), "/api/v1/serviceaccounts"), "{}", out.stderr);
}

#[test]
fn a_clean_pending_revision_is_go() {
    // The upgrade re-renders what is deployed (a chart bump that changes no object), on a
    // healthy cluster: the controller serves its admission webhook (invented, like the rest of
    // the live state).
    let mut objects = upgrading(&text(OLD), &json!({}));
    objects.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "ingress-nginx-controller-admission-x7k2p", "namespace": "ingress-nginx",
                     "labels": {"kubernetes.io/service-name": "ingress-nginx-controller-admission"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.0.17"], "conditions": {"ready": true, "serving": true, "terminating": false},
                       "targetRef": {"kind": "Pod", "name": "ingress-nginx-controller-6b9d7c8f5-q2x4z", "namespace": "ingress-nginx"}}],
        "ports": [{"name": "https-webhook", "port": 8443, "protocol": "TCP"}]}));
    let (fake, _dir, kc) = start(objects);
    let out = check(&kc, &["--pending-release", RELEASE]);
    let r = json_of(&out);
    assert_eq!(out.code, 0, "{}\n{:#?}\n{:#?}", out.stderr, r["findings"], r["couldNotEvaluate"]);
    validate_schema(&r);
    assert_eq!(r["verdict"], "GO");
    assert_eq!(r["couldNotEvaluate"], json!([]));
    // The change checks judged the revision (with the chart's kubeVersion): none was skipped.
    let skipped: Vec<&str> =
        r["notApplicable"].as_array().unwrap().iter().filter_map(|p| p["checkId"].as_str()).collect();
    for id in [
        "immutable-field-change",
        "ownership-conflict",
        "kind-not-served",
        "chart-kube-version",
        "deleted-still-referenced",
    ] {
        assert!(!skipped.contains(&id), "{id} was not judged: {:#?}", r["notApplicable"]);
    }
    assert!(skipped.contains(&"values-schema"), "Helm validated the values before storing the revision");
    assert!(fake.requests().iter().all(|q| q.method == "GET"));
}

#[test]
fn outside_an_upgrade_or_without_a_cluster_it_is_refused() {
    // The newest revision is deployed: no upgrade in progress.
    let mut objects = live_old();
    objects.push(stored_revision(3, "deployed", ("4.4.2", "1.5.2"), &text(OLD), &json!({})));
    let (_fake, dir, kc) = start(objects);
    let out = check(&kc, &["--pending-release", RELEASE]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("its newest revision (3) is deployed, not pending-upgrade"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "no report: {}", out.stdout);
    let out = check(&kc, &["--pending-release", "ingress-nginx/other"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no Helm release other in namespace ingress-nginx"), "{}", out.stderr);

    // A snapshot holds no release payloads; --no-cluster has no storage at all.
    let snap = dir.path().join("snap.json");
    std::fs::write(&snap, json!({"apiVersion": "v1", "kind": "List", "items": live_old()}).to_string()).unwrap();
    let out = run(&["check", "--snapshot", snap.to_str().unwrap(), "--pending-release", RELEASE]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("snapshots drop release payloads"), "{}", out.stderr);
    let out = run(&["check", "--no-cluster", "--pending-release", RELEASE]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--no-cluster reads no cluster"), "{}", out.stderr);
    // It is the change: not together with another one.
    let out = run(&["check", "--kubeconfig", &kc, "--pending-release", RELEASE, "--manifest", NEW]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = run(&["check", "--kubeconfig", &kc, "--pending-release", "a/b/c"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("expected [NAMESPACE/]NAME"), "{}", out.stderr);
}

#[test]
fn storage_the_run_may_not_read_is_could_not_evaluate() {
    let (fake, _dir, kc) = start(upgrading(&text(NEW), &json!({})));
    fake.forbid(crate::fake_api::Target::resource("secrets"));
    let out = check(&kc, &["--pending-release", RELEASE]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("cannot read the release's Helm storage"), "{}", out.stderr);
    assert!(out.stderr.contains("forbidden"), "{}", out.stderr);
}

#[test]
fn planned_secrets_and_the_release_values_never_reach_a_report() {
    const CANARY: &str = "CANARY-pending-4c1e";
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    // An immutable Secret the upgrade changes; the values Helm stored with the revision.
    let secret = format!(
        "---\n# Source: ingress-nginx/templates/secret.yaml\napiVersion: v1\nkind: Secret\nimmutable: true\nmetadata: {{name: db, namespace: ingress-nginx}}\nstringData: {{password: {CANARY}}}\ndata: {{token: {}}}\n",
        b64(CANARY)
    );
    let mut objects = upgrading(
        &format!("{}{secret}", text(OLD)),
        &json!({"config": {"password": CANARY}, "chart": {"values": {"password": CANARY}}}),
    );
    objects.push(json!({"apiVersion": "v1", "kind": "Secret", "immutable": true,
                        "metadata": {"name": "db", "namespace": "ingress-nginx"}, "data": {"password": b64("old")}}));
    let (_fake, _dir, kc) = start(objects);
    for format in ["table", "json", "junit", "markdown", "sarif"] {
        let skip = format!("helm-release-in-progress,{SKIP_CVES}");
        let out = run(&[
            "check",
            "--kubeconfig",
            &kc,
            "--timeout",
            "30",
            "-o",
            format,
            "-v",
            "--skip",
            &skip,
            "--pending-release",
            RELEASE,
        ]);
        assert_eq!(out.code, 1, "{format}: {}", out.stderr);
        assert!(out.stdout.contains("immutable-field-change"), "{format}: {}", out.stdout);
        for t in [&out.stdout, &out.stderr] {
            assert!(!t.contains(CANARY) && !t.contains(&b64(CANARY)), "{format} leaks a value:\n{t}");
        }
    }
}

#[test]
fn the_role_grants_the_kinds_charts_render_when_a_change_is_judged() {
    let grants = |args: &[&str]| run(&[&["rbac"][..], args].concat()).stdout;
    let core = |role: &str| role.lines().find(|l| l.contains("resources: [configmaps")).unwrap_or_default().to_string();
    // The hook's own ServiceAccount and a chart's PVCs are planned objects to compare.
    for role in [grants(&[]), grants(&["--only", "immutable-field-change"]), grants(&["--only", "ownership-conflict"])]
    {
        let core = core(&role);
        assert!(core.contains("serviceaccounts") && core.contains("persistentvolumeclaims"), "{core}");
    }
    let without = core(&grants(&["--skip", "immutable-field-change,ownership-conflict"]));
    assert!(!without.contains("serviceaccounts"), "{without}");
    // Limited to namespaces: the namespaced ones in each namespace's Role, never a
    // cluster-wide list of Namespaces or PersistentVolumes.
    let limited = grants(&["-n", "apps"]);
    let role = &limited[limited.find("kind: Role\n").unwrap()..];
    assert!(role.contains("serviceaccounts") && role.contains("persistentvolumeclaims"), "{limited}");
    assert!(!limited.contains("persistentvolumes,") && !limited.contains("persistentvolumes]"), "{limited}");
    let ns_rules: Vec<&str> =
        limited.lines().filter(|l| l.trim_start().starts_with("resources:") && l.contains("namespaces")).collect();
    assert_eq!(ns_rules, ["  resources: [namespaces]"], "only the get by name of -n: {limited}");
}
