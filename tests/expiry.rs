//! `certificate-expiry` and `etcd-backup-age` through the built binary: live over the fake
//! API server (caBundles of a webhook, an APIService and a CRD conversion webhook, a TLS
//! Secret; ETCDSnapshotFiles of an RKE2 server), `--cert-days` and its validation, the
//! snapshot round trip (the certificate's summary kept, `tls.key` not), and the RBAC they need.
//!
//! Live runs measure against the real clock, so their certificates are generated here with
//! rcgen (a dev-dependency already, for the fake server's TLS) with validity set relative to
//! now; the snapshot fixtures in `tests/fixtures/checks/` use real public certificates.

use serde_json::{Value, json};
use upgrade_preflight::inventory::rfc3339_signed;

use crate::fake_api::FakeApi;
use crate::util::run;

const DAY: i64 = 86_400;

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The calendar date `days` from today: (year, month, day), as `rcgen::date_time_ymd` takes it.
fn date(days: i64) -> (i32, u8, u8) {
    let t = rfc3339_signed(now() + days * DAY);
    (t[..4].parse().unwrap(), t[5..7].parse().unwrap(), t[8..10].parse().unwrap())
}

/// A self-signed certificate (PEM) for `cn`, valid from a year ago until `days` from today
/// (negative: expired).
fn cert(cn: &str, days: i64) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    let ((y0, m0, d0), (y1, m1, d1)) = (date(-365), date(days));
    params.not_before = rcgen::date_time_ymd(y0, m0, d0);
    params.not_after = rcgen::date_time_ymd(y1, m1, d1);
    params.self_signed(&key).unwrap().pem()
}

const KEY_MARK: &str = "TLS-KEY-0c41d9-never-read";

fn cert_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
               "metadata": {"name": "policy-webhook"},
               "webhooks": [{"name": "validate.policy.example", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                             "clientConfig": {"service": {"name": "policy", "namespace": "policy"},
                                              "caBundle": b64(&cert("policy-ca", -3))}}]}),
        json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
               "metadata": {"name": "v1beta1.metrics.k8s.io"},
               "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                        "service": {"name": "metrics-server", "namespace": "kube-system"},
                        "caBundle": b64(&cert("metrics-server-ca", 10))}}),
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.example.io"},
               "spec": {"group": "example.io", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
                        "versions": [{"name": "v1", "served": true, "storage": true}],
                        "conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
                            "clientConfig": {"service": {"name": "widgets", "namespace": "widgets"},
                                             "caBundle": b64(&cert("widgets-ca", 400))}}}}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "ingress-tls", "namespace": "web"},
               "data": {"tls.crt": b64(&cert("shop.example.com", 20)),
                        "tls.key": b64(&format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", b64(KEY_MARK)))}}),
    ]
}

struct Live {
    fake: FakeApi,
    dir: tempfile::TempDir,
    kubeconfig: String,
}

fn live(objects: Vec<Value>, version: &str) -> Live {
    let fake = FakeApi::builder().objects(objects).strip_item_type_meta().git_version(version).start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path()).to_str().unwrap().to_string();
    Live { fake, dir, kubeconfig }
}

fn json_of(out: &crate::util::Out) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", out.stdout, out.stderr))
}

/// (severity, first object, message) of the findings of `id`.
fn findings(r: &Value, id: &str) -> Vec<(String, String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checkId"] == id)
        .map(|f| {
            let o = &f["objects"][0];
            (
                f["severity"].as_str().unwrap().to_string(),
                format!("{} {}", o["kind"].as_str().unwrap_or(""), o["name"].as_str().unwrap_or("")),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn objects_of(found: &[(String, String, String)]) -> Vec<(&str, &str)> {
    found.iter().map(|(s, o, _)| (s.as_str(), o.as_str())).collect()
}

#[test]
fn certificate_expiry_live_and_cert_days() {
    let l = live(cert_objects(), "v1.30.7");
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--kubeconfig", &l.kubeconfig, "-o", "json", "--only", "certificate-expiry"];
        args.extend_from_slice(extra);
        let out = run(&args);
        (out.code, json_of(&out))
    };
    let (code, r) = check(&[]);
    assert_eq!(code, 1, "an expired webhook CA is a blocker: {r}");
    let found = findings(&r, "certificate-expiry");
    assert_eq!(
        objects_of(&found),
        [
            ("blocker", "ValidatingWebhookConfiguration policy-webhook"),
            ("warning", "APIService v1beta1.metrics.k8s.io"),
            ("warning", "Secret ingress-tls"),
        ],
        "{found:#?}"
    );
    assert!(
        found[0].2.contains("webhook validate.policy.example's caBundle: certificate CN=policy-ca expired "),
        "{}",
        found[0].2
    );
    assert!(found[0].2.ends_with("every call fails"), "{}", found[0].2);
    assert!(
        found[1].2.contains("certificate CN=metrics-server-ca expires ") && found[1].2.contains("(within 30 days)")
    );
    assert!(found[2].2.contains("tls.crt: certificate CN=shop.example.com expires "), "{}", found[2].2);
    // Only GETs, and the kinds it reads were listed.
    let reqs = l.fake.requests();
    assert!(reqs.iter().all(|q| q.method == "GET"));
    for plural in ["validatingwebhookconfigurations", "apiservices", "customresourcedefinitions", "secrets"] {
        assert!(
            reqs.iter().any(|q| q.path.ends_with(&format!("/{plural}")) && q.query_param("limit").is_some()),
            "{plural}"
        );
    }

    // The window moves with --cert-days: 0 keeps only what has expired, 500 adds the CRD's CA.
    let (code, r) = check(&["--cert-days", "0"]);
    assert_eq!(code, 1);
    assert_eq!(
        objects_of(&findings(&r, "certificate-expiry")),
        [("blocker", "ValidatingWebhookConfiguration policy-webhook")]
    );
    let (_, r) = check(&["--cert-days", "15"]);
    assert_eq!(findings(&r, "certificate-expiry").len(), 2, "10 days is within 15, 20 is not");
    let (_, r) = check(&["--cert-days=500"]);
    let found = findings(&r, "certificate-expiry");
    assert_eq!(found.len(), 4);
    assert!(found.iter().any(|(s, o, m)| s == "warning"
        && o == "CustomResourceDefinition widgets.example.io"
        && m.contains("conversion webhook's caBundle: certificate CN=widgets-ca expires")
        && m.contains("(within 500 days)")));

    // A snapshot keeps the certificate's summary and never the key; read back, it gives the
    // same findings (measured at its capture time, seconds earlier).
    let file = l.dir.path().join("snap.json");
    let file_s = file.to_str().unwrap();
    let out =
        run(&["snapshot", "--kubeconfig", &l.kubeconfig, "--output-file", file_s, "--only", "certificate-expiry"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"tls.key\":\"\"") && text.contains("\"tls.crt\":\"\""), "values blanked");
    assert!(text.contains("\"tlsCertificates\":[{") && text.contains("\"subject\":\"CN=shop.example.com\""), "{text}");
    assert!(!text.contains(&b64(KEY_MARK)[..20]) && !text.contains("BEGIN PRIVATE KEY"), "no key in the snapshot");
    let out = run(&["check", "--snapshot", file_s, "-o", "json", "--only", "certificate-expiry"]);
    let (code, r) = check(&[]);
    let again = json_of(&out);
    assert_eq!(out.code, code);
    assert_eq!(objects_of(&findings(&again, "certificate-expiry")), objects_of(&findings(&r, "certificate-expiry")));
}

#[test]
fn cert_days_must_be_a_whole_number_of_days() {
    for (value, why) in [
        ("-1", "is not a whole number of days (0 or more, e.g. 30)"),
        ("thirty", "is not a whole number of days (0 or more, e.g. 30)"),
        ("30d", "is not a whole number of days (0 or more, e.g. 30)"),
        ("1.5", "is not a whole number of days (0 or more, e.g. 30)"),
        ("40000", "days is more than 36500 (100 years)"),
    ] {
        let arg = format!("--cert-days={value}");
        let out = run(&["check", "--snapshot", "examples/demo-cluster.yaml", &arg]);
        assert_eq!(out.code, 2, "{value}: {}", out.stderr);
        assert!(out.stderr.contains("--cert-days") && out.stderr.contains(why), "{value}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{value}: nothing is checked");
    }
    // A negative number given as its own word reaches the same message (not "unexpected argument").
    let out = run(&["check", "--snapshot", "examples/demo-cluster.yaml", "--cert-days", "-1"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("invalid value '-1' for '--cert-days <DAYS>': '-1' is not a whole number of days"),
        "{}",
        out.stderr
    );
    let help = run(&["check", "--help"]).stdout;
    assert!(help.contains("--cert-days <DAYS>"), "{help}");
}

fn etcd_snapshot(hours_ago: i64) -> Value {
    let t = now() - hours_ago * 3600;
    json!({"apiVersion": "k3s.cattle.io/v1", "kind": "ETCDSnapshotFile",
           "metadata": {"name": format!("local-etcd-snapshot-server-1-{t}")},
           "spec": {"snapshotName": format!("etcd-snapshot-server-1-{t}"), "nodeName": "server-1",
                    "location": format!("file:///var/lib/rancher/rke2/server/db/snapshots/etcd-snapshot-server-1-{t}")},
           "status": {"creationTime": rfc3339_signed(t), "readyToUse": true, "size": "18743328"}})
}

#[test]
fn etcd_backup_age_live_on_rke2_and_not_elsewhere() {
    let verdict = |l: &Live, extra: &[&str]| {
        let mut args = vec!["check", "--kubeconfig", &l.kubeconfig, "-o", "json", "--only", "etcd-backup-age"];
        args.extend_from_slice(extra);
        json_of(&run(&args))
    };
    // A snapshot an hour old: evaluated, nothing found.
    let fresh = live(vec![etcd_snapshot(30), etcd_snapshot(1)], "v1.30.7+rke2r1");
    let r = verdict(&fresh, &[]);
    assert_eq!((r["summary"]["evaluated"].as_u64(), r["verdict"].as_str()), (Some(1), Some("GO")), "{r}");
    assert!(fresh.fake.requests().iter().any(|q| q.path == "/apis/k3s.cattle.io/v1/etcdsnapshotfiles"));
    // Thirty hours old: a warning, a blocker before a Kubernetes upgrade (a gate).
    let stale = live(vec![etcd_snapshot(30)], "v1.30.7+rke2r1");
    let found = findings(&verdict(&stale, &[]), "etcd-backup-age");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "warning");
    assert!(
        found[0].2.contains("the newest ready etcd snapshot, etcd-snapshot-server-1-")
            && found[0].2.contains(", 30h before the capture"),
        "{}",
        found[0].2
    );
    let found = findings(&verdict(&stale, &["--target", "kubernetes=1.31"]), "etcd-backup-age");
    assert_eq!(found[0].0, "blocker");
    // RKE2 without the kind: could not evaluate. A vanilla cluster without Velero: not applicable.
    let r = verdict(&live(Vec::new(), "v1.30.7+rke2r1"), &[]);
    assert_eq!(r["couldNotEvaluate"][0]["checkId"], "etcd-backup-age", "{r}");
    let r = verdict(&live(Vec::new(), "v1.30.7"), &[]);
    assert_eq!(r["notApplicable"][0]["checkId"], "etcd-backup-age", "{r}");
    assert_eq!(
        r["notApplicable"][0]["reason"],
        "not RKE2 or K3s (server version v1.30.7), and Velero is not installed (no velero.io Backup kind)"
    );
}

#[test]
fn rbac_grants_what_the_two_checks_read() {
    let role = run(&["rbac", "--only", "certificate-expiry,etcd-backup-age"]).stdout;
    for (group, resources) in [
        ("", &["secrets"][..]),
        ("admissionregistration.k8s.io", &["mutatingwebhookconfigurations", "validatingwebhookconfigurations"]),
        ("apiextensions.k8s.io", &["customresourcedefinitions"]),
        ("apiregistration.k8s.io", &["apiservices"]),
        ("k3s.cattle.io", &["etcdsnapshotfiles"]),
        ("velero.io", &["backups"]),
    ] {
        let head = format!("- apiGroups: [\"{group}\"]\n  resources: [");
        let at = role.find(&head).unwrap_or_else(|| panic!("no rule for '{group}' in\n{role}"));
        let rule = role[at + head.len()..].lines().next().unwrap();
        let listed: Vec<&str> = rule.trim_end_matches(']').split(", ").collect();
        for r in resources {
            assert!(listed.contains(r), "{group}: {r} not in {listed:?}");
        }
    }
}
