//! Secrets never leak: a cluster whose Secrets and Helm releases hold a canary string, every
//! command in every output format, from a snapshot file, from the live fake API server and
//! from a snapshot the tool wrote itself; the canary must appear in no stdout, stderr or
//! file written.
//!
//! Commands and formats are derived from the CLI definition (`Cli::command()`,
//! `Format::value_variants()`), so a command or format added later fails this test until
//! it is covered here.

use std::collections::BTreeSet;
use std::path::Path;

use base64::Engine as _;
use clap::{CommandFactory, ValueEnum};
use serde_json::{Value, json};
use upgrade_preflight::commands::cli::Cli;
use upgrade_preflight::report::Format;

use crate::fake_api::FakeApi;
use crate::util::{Out, run};

/// The secret. Every Secret value below is this string or contains it.
const CANARY: &str = "CANARY-7f3a9c1e-do-not-print";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every spelling of the canary that would betray a leak: plain, base64 once and twice
/// (a Secret's `data` value, a Helm payload), and JSON-escaped.
fn needles() -> Vec<String> {
    let mut n = vec![CANARY.to_string(), b64(CANARY), b64(&b64(CANARY)), "7f3a9c1e".to_string()];
    // The stored release payloads themselves (the canary inside them is base64- and
    // gzip-encoded at an offset, so the spellings above would miss a payload written whole),
    // and the base64 of the JSON values tools copy into annotations.
    for o in objects() {
        if let Some(p) = o.pointer("/data/release").and_then(Value::as_str) {
            n.push(p[..p.len().min(64)].to_string());
        }
    }
    n.push(b64(&format!("{{\"password\":\"{CANARY}\"}}")));
    // A TLS Secret's key and an unreadable tls.crt, as the API holds them (base64 of PEM,
    // the canary inside at an offset), and the PEM body itself.
    n.push(tls_key()[..64].to_string());
    n
}

/// A TLS Secret's `tls.key` as the API holds it: base64 of a PEM private key whose body is
/// the canary. It must never be read, kept or printed.
fn tls_key() -> String {
    b64(&format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", b64(CANARY)))
}

/// A real public certificate (Let's Encrypt R12; tests/fixtures/certs/README.md).
fn r12() -> String {
    std::fs::read_to_string(crate::util::root().join("tests/fixtures/certs/r12.pem")).unwrap()
}

/// A Helm release as Helm stores it, with the canary in user values, chart defaults and a
/// rendered Secret in the manifest.
fn helm_release(name: &str, ns: &str, rev: u64, status: &str) -> Value {
    json!({
        "name": name, "namespace": ns, "version": rev,
        "info": {"status": status, "last_deployed": "2026-01-01T00:00:00Z", "description": format!("upgrade with {CANARY}")},
        "chart": {
            "metadata": {"name": name, "version": "1.2.3", "appVersion": "v1.2.3"},
            "values": {"auth": {"password": CANARY}, "tokens": [CANARY]},
            "templates": [{"name": "templates/secret.yaml", "data": b64(CANARY)}]
        },
        "config": {"auth": {"password": CANARY, "extra": [{"key": CANARY}]}},
        "manifest": format!(
            "---\n# Source: {name}/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}-auth\n  namespace: {ns}\nstringData:\n  password: {CANARY}\n---\n# Source: {name}/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\n"
        ),
    })
}

/// A deployed release of a chart that matrix `values` rules cover, with the canary in its
/// current values.
fn chart_release(name: &str, chart: &str, app_version: &str, config: Value) -> Value {
    json!({
        "name": name, "namespace": "d", "version": 4, "info": {"status": "deployed"},
        "chart": {"metadata": {"name": chart, "version": "0.5.0", "appVersion": app_version},
                  "values": {"image": {"tag": app_version}, "secret": CANARY}},
        "config": config, "manifest": "",
    })
}

fn helm_secret(release: &Value, status: &str) -> Value {
    let (name, ns, rev) = (
        release["name"].as_str().unwrap(),
        release["namespace"].as_str().unwrap(),
        release["version"].as_u64().unwrap(),
    );
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{rev}"), "namespace": ns,
                     "labels": {"name": name, "owner": "helm", "status": status, "version": rev.to_string()}},
        "data": {"release": upgrade_preflight::inventory::helm::encode_for_secret(release)}
    })
}

/// The canary cluster.
fn objects() -> Vec<Value> {
    let last_applied = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app", "namespace": "d"},
                              "data": {"KEEP_PROVIDERS": b64(CANARY)}, "stringData": {"plain": CANARY}})
    .to_string();
    let good = helm_release("web", "d", 2, "deployed");
    let failed = helm_release("web", "d", 3, "failed");
    // A payload of an unexpected shape: decoding errors must not quote it.
    let mut odd_info = helm_release("odd-info", "d", 1, "deployed");
    odd_info["info"] = json!(CANARY);
    let odd_version_secret = {
        let mut r = helm_release("odd-version", "d", 1, "deployed");
        let mut s = helm_secret(&r, "deployed");
        r["version"] = json!(CANARY);
        s["data"]["release"] = json!(upgrade_preflight::inventory::helm::encode_for_secret(&r));
        s
    };
    let mut odd_manifest = helm_release("odd-manifest", "d", 1, "deployed");
    odd_manifest["manifest"] = json!(format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {CANARY}\n---\napiVersion: v1\nkind: [{CANARY}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: x, namespace: [{CANARY}]}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: y, namespace: d}}\n{CANARY}: 1\n{CANARY}: 2\n"
    ));
    let cm_release = json!({"name": "cm-web", "namespace": "d", "version": 1, "info": {"status": "pending-upgrade"},
                            "chart": {"metadata": {"name": "cm-web", "version": "0.1.0"}}, "config": {"token": CANARY}});
    let keep = chart_release(
        "keep",
        "keep",
        "0.41.3",
        json!({"backend": {"provision": {"providers": {"vms": {"type": "victoriametrics", "authentication": {"token": CANARY}}}}}}),
    );
    let haraka =
        chart_release("mail", "haraka", "3.0.5", json!({"image": {"tag": "3.0.5"}, "auth": {"password": CANARY}}));
    vec![
        helm_secret(&keep, "deployed"),
        helm_secret(&haraka, "deployed"),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "app", "namespace": "d",
                            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied}},
               "data": {"KEEP_PROVIDERS": b64(CANARY), "password": b64(CANARY)},
               "stringData": {"plain": CANARY}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
               "metadata": {"name": "pull", "namespace": "d"},
               "data": {".dockerconfigjson": b64(&format!("{{\"auths\":{{\"r\":{{\"auth\":\"{CANARY}\"}}}}}}"))}}),
        helm_secret(&good, "deployed"),
        helm_secret(&failed, "failed"),
        helm_secret(&odd_info, "deployed"),
        odd_version_secret,
        helm_secret(&odd_manifest, "deployed"),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "sh.helm.release.v1.cm-web.v1", "namespace": "d",
                            "labels": {"owner": "helm", "name": "cm-web", "status": "pending-upgrade", "version": "1"}},
               "data": {"release": b64(&cm_release.to_string())}}),
        // Annotations that tools fill with the Secret's data (kapp, Rancher's objectset).
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": "annotated", "namespace": "d",
                            "annotations": {"kapp.k14s.io/original": last_applied,
                                            "objectset.rio.cattle.io/applied": b64(&format!("{{\"password\":\"{CANARY}\"}}")),
                                            "note": CANARY}},
               "data": {"password": b64(CANARY)}}),
        // Malformed Secrets: data as a string, stringData as a list, a field Secrets lack.
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad-data", "namespace": "d"},
               "data": b64(CANARY), "stringData": [CANARY, {"k": CANARY}], "spec": {"password": CANARY}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad-data2", "namespace": "d",
                                                                 "annotations": CANARY},
               "data": [b64(CANARY)], "stringData": CANARY}),
        // A workload that references the Secret (by a key that exists and one that does
        // not), so the relational checks read it and report on it.
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "keep-backend", "namespace": "d"},
               "spec": {"template": {"spec": {
                   "imagePullSecrets": [{"name": "pull"}],
                   "containers": [{"name": "keep", "image": "x/keep-api:0.41.3",
                       "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "app", "key": "missing-key"}}},
                               {"name": "B", "valueFrom": {"secretKeyRef": {"name": "app", "key": "password"}}}]}]}}},
               "status": {"availableReplicas": 1}}),
        // Namespace d was captured whole (its kube-root-ca.crt): references into it are judged.
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "d"}}),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
               "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.30.7"}}}),
        // TLS Secrets: a real certificate beside a key that is the canary; a tls.crt that is a
        // PEM block of the canary, one that is the canary itself, and one in stringData.
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "web-tls", "namespace": "d"},
               "data": {"tls.crt": b64(&r12()), "tls.key": tls_key()}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "odd-tls", "namespace": "d"},
               "data": {"tls.crt": b64(&format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", b64(CANARY))),
                        "tls.key": tls_key()}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "plain-tls", "namespace": "d"},
               "data": {"tls.crt": b64(CANARY), "tls.key": tls_key()},
               "stringData": {"tls.crt": CANARY, "tls.key": CANARY}}),
    ]
}

fn snapshot_yaml(objs: &[Value]) -> String {
    objs.iter().map(|o| format!("---\n{}\n", serde_json::to_string_pretty(o).unwrap())).collect()
}

/// Everything one run produced: stdout, stderr and the files it wrote.
struct Captured {
    what: String,
    out: Out,
    files: Vec<(String, String)>,
}

fn assert_no_canary(c: &Captured, texts: &mut Vec<String>) {
    assert!(!c.out.stderr.contains("panicked"), "{}: {}", c.what, c.out.stderr);
    let mut all = vec![("stdout".to_string(), c.out.stdout.clone()), ("stderr".to_string(), c.out.stderr.clone())];
    all.extend(c.files.iter().cloned());
    for (where_, text) in &all {
        for n in needles() {
            assert!(!text.contains(&n), "{}: the canary ({n}) leaked into {where_}:\n{text}", c.what);
        }
        texts.push(text.clone());
    }
}

fn formats() -> Vec<String> {
    Format::value_variants().iter().filter_map(|f| f.to_possible_value()).map(|p| p.get_name().to_string()).collect()
}

/// Runs `args`, plus every file named after `-o`/`--output`/`--output-file` that it wrote.
fn capture(what: String, args: &[&str]) -> Captured {
    let out = run(args);
    let mut files = Vec::new();
    for w in args.windows(2) {
        let names_file =
            w[0] == "--output-file" || (matches!(w[0], "-o" | "--output") && Path::new(w[1]).is_absolute());
        if names_file && let Ok(text) = std::fs::read_to_string(w[1]) {
            files.push((w[1].to_string(), text));
        }
    }
    Captured { what, out, files }
}

#[test]
fn the_canary_appears_in_no_output_of_any_command_or_format() {
    let objs = objects();
    let dir = tempfile::tempdir().unwrap();
    let snap_yaml = dir.path().join("canary.yaml");
    std::fs::write(&snap_yaml, snapshot_yaml(&objs)).unwrap();
    // The raw snapshot holds the canary; otherwise this test would prove nothing.
    assert!(std::fs::read_to_string(&snap_yaml).unwrap().contains(&b64(CANARY)));

    let fake = FakeApi::builder().objects(objs).strip_item_type_meta().start();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let kubeconfig = kubeconfig.to_str().unwrap();

    // Every subcommand must be covered below.
    let commands: BTreeSet<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    let covered: BTreeSet<String> = ["check", "snapshot", "list", "explain", "rbac", "validate", "completions", "man"]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(commands, covered, "a new command needs a canary run here");
    let formats = formats();
    assert!(formats.contains(&"table".to_string()) && formats.contains(&"json".to_string()), "{formats:?}");

    let mut runs: Vec<Captured> = Vec::new();
    // `snapshot` from the live cluster, in full and with one check; its file is a source too.
    let written = dir.path().join("written.json");
    let written_s = written.to_str().unwrap().to_string();
    runs.push(capture("snapshot".into(), &["snapshot", "--kubeconfig", kubeconfig, "--output-file", &written_s]));
    assert_eq!(runs[0].out.code, 0, "{}", runs[0].out.stderr);
    let partial = dir.path().join("partial.json");
    let partial_s = partial.to_str().unwrap().to_string();
    runs.push(capture(
        "snapshot --only".into(),
        &["snapshot", "--kubeconfig", kubeconfig, "--output-file", &partial_s, "--only", "missing-references"],
    ));

    let sources: Vec<(&str, Vec<String>)> = vec![
        ("yaml snapshot", vec!["--snapshot".into(), snap_yaml.to_str().unwrap().into()]),
        ("live", vec!["--kubeconfig".into(), kubeconfig.into()]),
        ("written snapshot", vec!["--snapshot".into(), written_s.clone()]),
    ];
    for (source, src_args) in &sources {
        for f in &formats {
            let report = dir.path().join(format!("report-{}.{f}", source.replace(' ', "-")));
            let report_s = report.to_str().unwrap().to_string();
            let mut base: Vec<&str> = vec!["check"];
            base.extend(src_args.iter().map(String::as_str));
            base.extend(["-o", f]);
            runs.push(capture(format!("check {source} -o {f}"), &base));
            let mut with_file = base.clone();
            with_file.extend(["--output-file", &report_s, "--stats"]);
            runs.push(capture(format!("check {source} -o {f} --output-file"), &with_file));
            let mut warn = base.clone();
            warn.extend(["--fail-on", "warning", "--allow-incomplete"]);
            runs.push(capture(format!("check {source} -o {f} --fail-on warning"), &warn));
        }
    }
    // A user check can read any field a rule names: it must still find no Secret value, no
    // annotation value of a Secret and no Helm payload (ConfigMap driver included).
    let peek = dir.path().join("peek-checks");
    std::fs::create_dir_all(&peek).unwrap();
    std::fs::write(
        peek.join("peek-configmaps.yaml"),
        "id: peek-configmaps\ntitle: peek\nseverity: info\nresources:\n  - {api-version: v1, kind: ConfigMap}\nrule:\n  cel: \"has(object.data) && has(object.data.release)\"\n  message-expression: \"'payload of ' + object.metadata.name + ': [' + object.data.release + ']'\"\nremediation: none\n",
    )
    .unwrap();
    std::fs::write(
        peek.join("peek-secrets.yaml"),
        "id: peek-secrets\ntitle: peek\nseverity: info\nresources:\n  - {api-version: v1, kind: Secret}\nrule:\n  cel: \"has(object.metadata.annotations) && type(object.metadata.annotations) == map\"\n  message-expression: \"'annotations of ' + object.metadata.name + ': ' + object.metadata.annotations.map(k, k + '=[' + object.metadata.annotations[k] + ']').join(',')\"\nremediation: none\n",
    )
    .unwrap();
    std::fs::write(
        peek.join("peek-tls.yaml"),
        "id: peek-tls\ntitle: peek\nseverity: info\nresources:\n  - {api-version: v1, kind: Secret}\nrule:\n  cel: \"has(object.data) && type(object.data) == map && 'tls.key' in object.data\"\n  message-expression: \"'key of ' + object.metadata.name + ': [' + object.data['tls.key'] + '] crt: [' + object.data['tls.crt'] + '] summary: ' + (has(object.tlsCertificates) ? object.tlsCertificates.map(c, has(c.error) ? c.error : c.subject + ' ' + c.notAfter).join(',') : 'none')\"\nremediation: none\n",
    )
    .unwrap();
    let peek_s = peek.to_str().unwrap().to_string();
    for (source, src_args) in &sources {
        let mut args: Vec<&str> = vec!["check"];
        args.extend(src_args.iter().map(String::as_str));
        args.extend(["-o", "json", "--checks", &peek_s, "--only", "peek-configmaps,peek-secrets,peek-tls"]);
        runs.push(capture(format!("check {source} with user checks that peek"), &args));
    }
    for f in &formats {
        runs.push(capture(format!("list -o {f}"), &["list", "-o", f]));
    }
    runs.push(capture("rbac".into(), &["rbac"]));
    runs.push(capture("completions bash".into(), &["completions", "bash"]));
    runs.push(capture("man".into(), &["man"]));
    // A planned upgrade reads the releases' manifests and values shapes too, and --values
    // files are secrets as well: values about to be applied, with the canary.
    let values = dir.path().join("values.yaml");
    std::fs::write(
        &values,
        format!(
            "auth:\n  password: {CANARY}\n  extra: [{{key: {CANARY}}}]\nnewKey: {CANARY}\nimage: {{tag: latest}}\n"
        ),
    )
    .unwrap();
    let bad_values = dir.path().join("bad-values.yaml");
    std::fs::write(&bad_values, format!("password: !!int {CANARY}\nother: \"{CANARY}\n")).unwrap();
    // Values that make the matrices' values rules fire: a renamed Keep provider, Haraka 3.1
    // without haproxy.hosts. Findings must name the key paths, never the values.
    let keep_values = dir.path().join("keep-values.yaml");
    std::fs::write(
        &keep_values,
        format!("backend:\n  provision:\n    providers:\n      victoriametrics:\n        type: victoriametrics\n        authentication: {{token: {CANARY}}}\n"),
    )
    .unwrap();
    let haraka_values = dir.path().join("haraka-values.yaml");
    std::fs::write(&haraka_values, format!("image: {{tag: 3.1.0}}\nauth: {{password: {CANARY}}}\n")).unwrap();
    let keep_arg = format!("d/keep={}", keep_values.display());
    let haraka_arg = format!("d/mail={}", haraka_values.display());
    let values_arg = format!("d/web={}", values.display());
    let bad_values_arg = format!("d/web={}", bad_values.display());
    // A duplicate key: YAML parsers quote the key in their message.
    let dup_values = dir.path().join("dup-values.yaml");
    std::fs::write(&dup_values, format!("a: 1\n{CANARY}: 1\n{CANARY}: 2\n")).unwrap();
    let dup_values_arg = format!("d/web={}", dup_values.display());
    let planned = dir.path().join("planned.json");
    let planned_s = planned.to_str().unwrap().to_string();
    runs.push(capture(
        "snapshot --target".into(),
        &["snapshot", "--kubeconfig", kubeconfig, "--output-file", &planned_s, "--target", "release:d/web=9.9.9"],
    ));
    let mut plan_sources = sources.clone();
    plan_sources.push(("planned snapshot", vec!["--snapshot".into(), planned_s.clone()]));
    plan_sources.push(("all contexts", vec!["--kubeconfig".into(), kubeconfig.into(), "--all-contexts".into()]));
    for (source, src_args) in &plan_sources {
        for f in &formats {
            let mut args: Vec<&str> = vec!["check"];
            args.extend(src_args.iter().map(String::as_str));
            args.extend(["-o", f, "-v", "--target", "kubernetes=1.32", "--target", "release:d/web=9.9.9"]);
            args.extend(["--values", &values_arg, "--values", &keep_arg, "--values", &haraka_arg]);
            runs.push(capture(format!("check {source} -o {f} --target --values"), &args));
        }
        let mut args: Vec<&str> = vec!["check"];
        args.extend(src_args.iter().map(String::as_str));
        args.extend(["-o", "json", "--target", "release:d/web=9.9.9", "--values", &values_arg, "--reuse-values"]);
        runs.push(capture(format!("check {source} --reuse-values"), &args));
        let mut args: Vec<&str> = vec!["check"];
        args.extend(src_args.iter().map(String::as_str));
        args.extend(["--target", "release:d/web=9.9.9", "--values", &bad_values_arg]);
        let bad = capture(format!("check {source} with a malformed values file"), &args);
        assert_eq!(bad.out.code, 2, "{}", bad.out.stderr);
        runs.push(bad);
        let mut args: Vec<&str> = vec!["check"];
        args.extend(src_args.iter().map(String::as_str));
        args.extend(["--target", "release:d/web=9.9.9", "--values", &dup_values_arg]);
        let dup = capture(format!("check {source} with a malformed values file (duplicate key)"), &args);
        assert_eq!(dup.out.code, 2, "{}", dup.out.stderr);
        assert!(dup.out.stderr.contains("dup-values.yaml:3:1: error: duplicate key"), "{}", dup.out.stderr);
        runs.push(dup);
    }
    runs.push(capture("validate".into(), &["validate"]));
    let listed: Value = serde_json::from_str(&run(&["list", "-o", "json"]).stdout).unwrap();
    for id in listed.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()) {
        runs.push(capture(format!("explain {id}"), &["explain", id]));
    }

    let mut texts = Vec::new();
    for c in &runs {
        assert_no_canary(c, &mut texts);
    }
    let all = texts.join("\n");

    // Not vacuous: the Secrets and releases were read and reported on.
    assert!(all.contains("key 'missing-key'"), "missing-references saw the Secret's keys");
    assert!(all.contains("keep-provisioned-providers"), "the Keep check read KEEP_PROVIDERS");
    assert!(all.contains("helm-release-failed") && all.contains("d/web revision 3 failed"), "the release decoded");
    assert!(all.contains("helm-release-in-progress"), "the ConfigMap-driver release decoded");
    assert!(all.contains("d/odd-info revision 1 (Secret sh.helm.release.v1.odd-info.v1) is undecodable"), "reported");
    assert!(all.contains("d/odd-version revision 1 (Secret sh.helm.release.v1.odd-version.v1) is undecodable"));
    // The peeking checks ran and saw the objects, with nothing in them.
    assert!(all.contains("payload of sh.helm.release.v1.cm-web.v1: []"), "the ConfigMap-driver payload is blanked");
    assert!(
        // (CEL maps iterate in no fixed order.)
        all.lines().any(|l| l.contains("annotations of annotated: ") && l.contains("kapp.k14s.io/original=[]")),
        "annotation keys kept, values not: {}",
        texts.iter().filter(|t| t.contains("peek")).cloned().collect::<Vec<_>>().join("\n")
    );
    // TLS Secrets: the certificate's summary is there, the key and certificate values are not.
    assert!(
        all.contains("key of web-tls: [] crt: [] summary: C=US, O=Let's Encrypt, CN=R12 2027-03-12T23:59:59Z"),
        "tls.crt summarised, both values blanked: {}",
        all.lines().filter(|l| l.contains("key of")).take(6).collect::<Vec<_>>().join("\n")
    );
    assert!(all.contains("key of odd-tls: [] crt: [] summary: tls.crt certificate 1 is not valid X.509"));
    assert!(all.contains("key of plain-tls: [] crt: [] summary: tls.crt holds neither PEM nor a DER certificate"));
    assert!(all.contains("Secret d/odd-tls tls.crt certificate 1 is not valid X.509; its expiry cannot be judged"));
    let written_text = std::fs::read_to_string(&written).unwrap();
    assert!(
        written_text.contains("\"tls.key\":\"\"") && written_text.contains("\"tlsCertificates\""),
        "{written_text}"
    );
    assert!(written_text.contains("\"KEEP_PROVIDERS\":\"\""), "keys kept, values blanked: {written_text}");
    assert!(written_text.contains("HelmRelease") && written_text.contains("\"password\":\"\""), "values as shape only");
    // The values files were read and used: their key paths (not values) are in findings.
    assert!(all.contains("backend.provision.providers.vms"), "values-renamed-key fired");
    assert!(all.contains("haproxy.hosts"), "values-required-key fired");
    // Every check run ended in a verdict (1: NO-GO from the blockers above), never a crash.
    for c in runs.iter().filter(|c| c.what.starts_with("check") && !c.what.contains("malformed")) {
        assert!(matches!(c.out.code, 0 | 1 | 3), "{}: exit {}: {}", c.what, c.out.code, c.out.stderr);
    }
    // Read-only, as everywhere.
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

/// Every way a run can show a connection problem: stderr, and the JSON, table and Markdown
/// of several clusters (where each cluster's error is part of the report).
fn connection_runs(kubeconfig: &str, dir: &Path) -> Vec<Captured> {
    let snap = dir.join("never-written.json");
    let snap = snap.to_str().unwrap();
    let mut runs = vec![
        capture("check".into(), &["check", "--kubeconfig", kubeconfig, "--timeout", "5"]),
        capture("snapshot".into(), &["snapshot", "--kubeconfig", kubeconfig, "-o", snap, "--timeout", "5"]),
    ];
    for f in formats() {
        runs.push(capture(
            format!("check --all-contexts -o {f}"),
            &["check", "--kubeconfig", kubeconfig, "--all-contexts", "-o", &f, "--timeout", "5"],
        ));
    }
    runs
}

#[test]
fn a_malformed_kubeconfig_is_named_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let key = b64(&format!("-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----\n"));
    // Three ways to be malformed: a syntax error, a type error and a duplicate key, each
    // after the credentials (and one in the token's own line).
    let cases = [
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: {CANARY}\n    client-key-data: {key}\ncontexts: [{{name: c\n"
        ),
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: [{CANARY}]\n    client-key-data: {key}\n"
        ),
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: {CANARY}\n    {CANARY}: 1\n    {CANARY}: 2\n"
        ),
    ];
    let mut texts = Vec::new();
    for (i, text) in cases.iter().enumerate() {
        let path = dir.path().join(format!("kubeconfig-{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        let path_s = path.to_str().unwrap();
        for c in connection_runs(path_s, dir.path()) {
            assert_eq!(c.out.code, 3, "{}: {}", c.what, c.out.stderr);
            // The error names the file and a line.
            assert!(c.out.stderr.contains(&format!("{path_s}:")), "{}: {}", c.what, c.out.stderr);
            assert_no_canary(&c, &mut texts);
        }
    }
}

#[test]
fn a_failing_exec_plugin_shows_its_name_and_status_only() {
    let fake = FakeApi::builder().objects(objects()).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let plugin = crate::connect::script(
        dir.path(),
        "leaky-plugin",
        &format!("echo '{{\"status\":{{\"token\":\"{CANARY}\"}}}}'\necho \"token {CANARY} expired\" >&2\nexit 7"),
    );
    let garbage = crate::connect::script(dir.path(), "garbage-plugin", &format!("echo 'not json {CANARY}'"));
    // 3 MB of the canary: more than any credential, so not held, and never shown.
    let flood = crate::connect::script(dir.path(), "flood-plugin", &format!("yes '{CANARY}' | head -c 3000000"));
    let cluster = format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), crate::connect::ca(&fake));
    let kc = crate::connect::kubeconfig(
        dir.path(),
        "kc.yaml",
        &[
            crate::connect::Ctx {
                name: "a".into(),
                cluster: cluster.clone(),
                user: crate::connect::exec_user(&plugin),
            },
            crate::connect::Ctx {
                name: "b".into(),
                cluster: cluster.clone(),
                user: crate::connect::exec_user(&garbage),
            },
            crate::connect::Ctx { name: "c".into(), cluster, user: crate::connect::exec_user(&flood) },
        ],
    );
    let mut texts = Vec::new();
    for c in connection_runs(kc.to_str().unwrap(), dir.path()) {
        assert_eq!(c.out.code, 3, "{}: {}", c.what, c.out.stderr);
        assert!(
            c.out.stderr.contains("exec credential plugin leaky-plugin: failed (exit status 7)"),
            "{}: {}",
            c.what,
            c.out.stderr
        );
        assert_no_canary(&c, &mut texts);
    }
    assert!(texts.join("\n").contains("exec credential plugin garbage-plugin: its output is not an ExecCredential"));
    assert!(
        texts
            .join("\n")
            .contains("exec credential plugin flood-plugin: printed more than 1024 KiB, which is not a credential"),
        "{}",
        texts.join("\n")
    );
}

#[test]
fn a_failing_gcp_auth_provider_command_shows_its_name_and_status_only() {
    let fake = FakeApi::builder().objects(objects()).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let leaky = crate::connect::script(
        dir.path(),
        "leaky-gcloud",
        &format!(
            "echo '{{\"credential\":{{\"access_token\":\"{CANARY}\"}}}}'\necho \"ERROR: token {CANARY} expired\" >&2\nexit 7"
        ),
    );
    // Succeeds, but the token is not where token-key points: the output is not quoted either.
    let misplaced = crate::connect::script(
        dir.path(),
        "misplaced-gcloud",
        &format!("echo '{{\"credential\":{{\"token\":\"{CANARY}\"}}}}'"),
    );
    let cluster = format!("server: {}\ncertificate-authority-data: {}", fake.server_url(), crate::connect::ca(&fake));
    let kc = crate::connect::kubeconfig(
        dir.path(),
        "kc.yaml",
        &[
            crate::connect::Ctx {
                name: "a".into(),
                cluster: cluster.clone(),
                user: crate::connect::gcp_user(&leaky, ""),
            },
            crate::connect::Ctx { name: "b".into(), cluster, user: crate::connect::gcp_user(&misplaced, "") },
        ],
    );
    let mut texts = Vec::new();
    for c in connection_runs(kc.to_str().unwrap(), dir.path()) {
        assert_eq!(c.out.code, 3, "{}: {}", c.what, c.out.stderr);
        assert!(
            c.out.stderr.contains("context a: gcp auth-provider command leaky-gcloud: failed (exit status 7)"),
            "{}: {}",
            c.what,
            c.out.stderr
        );
        assert_no_canary(&c, &mut texts);
    }
    assert!(
        texts.join("\n").contains(
            "gcp auth-provider command misplaced-gcloud: token-key {.credential.access_token}: not found in its output"
        ),
        "{}",
        texts.join("\n")
    );
}

#[test]
fn urls_with_credentials_are_shown_without_them() {
    let fake = FakeApi::builder().objects(objects()).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let ca = crate::connect::ca(&fake);
    let user = format!("token: {}", fake.token());
    let kc = crate::connect::kubeconfig(
        dir.path(),
        "kc.yaml",
        &[
            // A server URL with userinfo, nothing listening.
            crate::connect::Ctx {
                name: "server".into(),
                cluster: format!("server: https://admin:{CANARY}@127.0.0.1:1\ncertificate-authority-data: {ca}"),
                user: user.clone(),
            },
            // A proxy with userinfo, nothing listening.
            crate::connect::Ctx {
                name: "proxy".into(),
                cluster: format!(
                    "server: {}\ncertificate-authority-data: {ca}\nproxy-url: http://proxyuser:{CANARY}@127.0.0.1:1",
                    fake.server_url()
                ),
                user: user.clone(),
            },
            // A proxy scheme kube cannot use: its error names the URL.
            crate::connect::Ctx {
                name: "socks4".into(),
                cluster: format!(
                    "server: {}\ncertificate-authority-data: {ca}\nproxy-url: socks4://u:{CANARY}@127.0.0.1:1",
                    fake.server_url()
                ),
                user,
            },
        ],
    );
    let mut texts = Vec::new();
    for ctx in ["server", "proxy", "socks4"] {
        let out = run(&["check", "--kubeconfig", kc.to_str().unwrap(), "--context", ctx, "--timeout", "5"]);
        assert_eq!(out.code, 3, "{ctx}: {}", out.stderr);
        assert_no_canary(&Captured { what: ctx.into(), out, files: vec![] }, &mut texts);
    }
    for c in connection_runs(kc.to_str().unwrap(), dir.path()) {
        assert_no_canary(&c, &mut texts);
    }
    let all = texts.join("\n");
    assert!(all.contains("cannot reach the cluster at https://***@127.0.0.1:1/"), "{all}");
}

#[test]
fn snapshots_for_tickets_redact_env_args_and_unread_configmap_values() {
    const ENV: &str = "ENV-VALUE-4b1d";
    const ARG: &str = "--token=ARG-VALUE-77e0";
    const CM: &str = "CM-VALUE-9c2e";
    let objs = vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "d"},
               "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                   "command": ["/bin/app"], "args": [ARG],
                   "env": [{"name": "A", "value": ENV}, {"name": "B", "value": ENV},
                           {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "a"}}}]}]}}},
               "status": {"availableReplicas": 1}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "namespace": "d"},
               "data": {"a": CM, "b": CM, "c": "other"}}),
        // Mounted as files: a mounted-config-file check (haraka-connection-ini) reads these.
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mta", "namespace": "d"},
               "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "haraka/haraka:3.0.5"}],
                   "volumes": [{"name": "cfg", "configMap": {"name": "mta-config"}}]}}},
               "status": {"availableReplicas": 1}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mta-config", "namespace": "d"},
               "data": {"connection.ini": "[haproxy]\nhosts[]=10.0.0.0/8\n"}}),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
               "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.30.7"}}}),
    ];
    let fake = FakeApi::builder().objects(objs).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let kc = fake.write_kubeconfig(dir.path());
    let kc = kc.to_str().unwrap();
    let snap = |name: &str, extra: &[&str]| -> (Out, Value) {
        let path = dir.path().join(name);
        let mut args = vec!["snapshot", "--kubeconfig", kc, "--output-file", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let text = std::fs::read_to_string(&path).unwrap();
        let list: Value =
            serde_json::from_str(&text[text.find("{\"apiVersion\":\"v1\",\"kind\":\"List\"").unwrap()..]).unwrap();
        (out, list)
    };
    let find = |list: &Value, kind: &str| {
        list["items"].as_array().unwrap().iter().find(|o| o["kind"] == kind).cloned().unwrap()
    };

    // Default (and --redact): markers, equal values equal markers, references kept.
    for extra in [&[][..], &["--redact"][..]] {
        let (out, list) = snap("default.json", extra);
        assert!(out.stdout.contains("redacted"), "{}", out.stdout);
        let text = list.to_string();
        for v in [ENV, ARG, CM, "/bin/app"] {
            assert!(!text.contains(v), "{v} in a redacted snapshot: {text}");
        }
        let c = &find(&list, "Deployment")["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["env"][0]["value"], c["env"][1]["value"]);
        assert!(c["env"][0]["value"].as_str().unwrap().starts_with("redacted:"));
        assert_eq!(c["env"][2]["valueFrom"]["configMapKeyRef"]["key"], "a");
        assert_eq!(c["image"], "nginx:1.27");
        let data = &find(&list, "ConfigMap")["data"];
        assert_eq!(data["a"], data["b"]);
        assert_ne!(data["a"], data["c"]);
        // The redacted snapshot still gives the live verdict.
        let path = dir.path().join("default.json");
        let live = run(&["check", "--kubeconfig", kc, "-q"]);
        let offline = run(&["check", "--snapshot", path.to_str().unwrap(), "-q"]);
        assert_eq!((live.code, live.stdout), (offline.code, offline.stdout));
    }
    // A check that reads mounted config files keeps the mounted ConfigMap's values; the
    // others stay redacted. Without such a check, the mounted one is redacted too.
    let mounted = |list: &Value| {
        list["items"].as_array().unwrap().iter().find(|o| o["metadata"]["name"] == "mta-config").cloned().unwrap()
    };
    let (_, list) = snap("haraka.json", &["--only", "haraka-connection-ini"]);
    assert_eq!(mounted(&list)["data"]["connection.ini"], "[haproxy]\nhosts[]=10.0.0.0/8\n");
    let (_, list) = snap("no-haraka.json", &["--skip", "haraka-connection-ini,haraka-pinned-version"]);
    assert!(mounted(&list)["data"]["connection.ini"].as_str().unwrap().starts_with("redacted:"), "{list}");
    // --no-redact: full fidelity (Secrets are still blanked).
    let (out, list) = snap("full.json", &["--no-redact"]);
    assert!(!out.stdout.contains("redacted"), "{}", out.stdout);
    let text = list.to_string();
    for v in [ENV, ARG, CM, "/bin/app"] {
        assert!(text.contains(v), "{v} missing from a --no-redact snapshot");
    }
}
