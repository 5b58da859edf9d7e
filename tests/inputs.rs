//! Real inputs: support bundles (directory and archive), sonobuoy results, support-bundle-kit
//! and insights archives from `tests/fixtures/bundles/` (public data, see its README), kubectl
//! dumps in every shape, duplicates, skipped files, and the evidence rules (empty input,
//! captures without Nodes, namespaces whose ConfigMaps were not captured, owners not captured).

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::util::{check_json, finding_ids, root, run, temp_tree};

pub(crate) const BUNDLES: &str = "tests/fixtures/bundles";

pub(crate) fn bundle(name: &str) -> String {
    format!("{BUNDLES}/{name}")
}

pub(crate) fn skipped(r: &Value) -> Vec<String> {
    r["source"]["skipped"].as_array().map_or_else(Vec::new, |a| {
        a.iter().map(|s| format!("{}: {}", s["path"].as_str().unwrap(), s["reason"].as_str().unwrap())).collect()
    })
}

pub(crate) fn could_not(r: &Value) -> Vec<(String, String)> {
    r["couldNotEvaluate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["checkId"].as_str().unwrap().to_string(), s["reason"].as_str().unwrap().to_string()))
        .collect()
}

pub(crate) fn messages(r: &Value, id: &str) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checkId"] == id)
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect()
}

/// Every regular file under `dir`, relative, in name order.
pub(crate) fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// A ustar archive of `entries` (the format `tar czf` writes), under `prefix/`.
pub(crate) fn tar(entries: &[(String, Vec<u8>)], prefix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        let name = format!("{prefix}{name}");
        if name.len() >= 100 {
            // GNU tar: a `././@LongLink` entry of type L holds the name.
            let mut long = name.clone().into_bytes();
            long.push(0);
            out.extend(header("././@LongLink", long.len(), b'L'));
            out.extend_from_slice(&long);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend(header(&name[..name.len().min(99)], data.len(), b'0'));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

pub(crate) fn header(name: &str, size: usize, kind: u8) -> [u8; 512] {
    {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0001750");
        h[116..123].copy_from_slice(b"0001750");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"14737155510");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// A zip of `entries` under `prefix/`, deflated (what `zip -r` and Go's archive/zip write).
pub(crate) fn zip(entries: &[(String, Vec<u8>)], prefix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let name = format!("{prefix}{name}");
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(data).unwrap();
        let packed = deflate.finish().unwrap();
        let offset = u32::try_from(out.len()).unwrap();
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&8u16.to_le_bytes()); // deflate
            v.extend_from_slice(&[0, 0, 0x21, 0]); // time, date
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&u32::try_from(packed.len()).unwrap().to_le_bytes());
            v.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
            v.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let at = u32::try_from(out.len()).unwrap();
    let n = u16::try_from(entries.len()).unwrap();
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&u32::try_from(central.len()).unwrap().to_le_bytes());
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn a_troubleshoot_bundle_is_read_with_its_version_and_its_non_objects_listed() {
    let (code, r) = check_json(&bundle("troubleshoot"), &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["source"]["layout"], "troubleshoot support bundle");
    assert_eq!(r["source"]["serverVersion"], "v1.31.2+k3s1", "from cluster-info/cluster_version.json");
    // Two Pods and the CustomResourceDefinition of a typed list without kind; the
    // DeploymentList with items: null is read as "no Deployments".
    assert_eq!(r["source"]["objects"], 3);
    assert_eq!(
        skipped(&r),
        [
            "analysis.json: not Kubernetes objects",
            "cluster-resources/pods/logs/message-pod-init-crashloop-backoff/init-demo2/install.log: not a .json or .yaml file",
            "collector-errors/etcd.json: not Kubernetes objects",
        ]
    );
    assert_eq!(
        messages(&r, "unstable-pods"),
        ["Pod message-pod-init-crashloop-backoff/init-demo2: container install RunContainerError after 1 restart(s)"]
    );
    // The bundle has no Nodes: node checks could not evaluate, never "all Ready".
    let cne = could_not(&r);
    assert!(cne.iter().any(|(id, why)| id == "nodes-not-ready" && why.contains("no Nodes")), "{cne:?}");
    // The table says what was skipped.
    let out = run(&["check", "--snapshot", &bundle("troubleshoot")]);
    assert!(out.stdout.contains("read as a troubleshoot support bundle"), "{}", out.stdout);
    assert!(
        out.stdout.contains("skipped 2 files: not Kubernetes objects (analysis.json, collector-errors/etcd.json)"),
        "{}",
        out.stdout
    );
}

#[test]
fn strict_input_makes_a_skipped_file_an_error() {
    let out = run(&["check", "--snapshot", &bundle("troubleshoot"), "--strict-input"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("analysis.json: skipped: not Kubernetes objects (--strict-input)"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    // Nothing skipped: --strict-input changes nothing.
    let (code, r) = check_json(&bundle("insights-operator"), &["--strict-input"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(skipped(&r).is_empty());
}

#[test]
fn sonobuoy_results_are_read_with_their_version() {
    let (code, r) = check_json(&bundle("sonobuoy"), &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["source"]["layout"], "sonobuoy results");
    assert_eq!(r["source"]["serverVersion"], "v1.20.0", "from the bare version.Info in serverversion.json");
    assert_eq!(r["source"]["objects"], 4);
    assert_eq!(
        messages(&r, "nodes-not-ready"),
        ["Node kind-worker is not Ready (Ready=False, KubeletNotReady)"],
        "the real NotReady worker of sonobuoy's health-summary test data"
    );
}

#[test]
fn an_insights_archive_gives_kinds_from_its_folders() {
    let (code, r) = check_json(&bundle("insights-operator"), &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["source"]["layout"], "insights-operator archive");
    assert_eq!(r["source"]["objects"], 3, "two Pods and a Node, none with kind or apiVersion");
    assert_eq!(finding_ids(&r), ["unschedulable-pods", "unstable-pods"]);
    assert!(
        messages(&r, "unschedulable-pods")[0]
            .contains("router-default-7bbdcfcf9b-7xdln has been unschedulable since 2021-07-07T16:14:55Z")
    );
}

#[test]
fn a_support_bundle_kit_bundle_is_read_with_its_quirks() {
    let (code, r) = check_json(&bundle("support-bundle-kit"), &[]);
    assert_eq!(r["source"]["layout"], "support-bundle-kit bundle");
    assert_eq!(r["source"]["serverVersion"], "v1.35.5+rke2r1", "from metadata.yaml kubernetesversion");
    assert_eq!(r["source"]["objects"], 6);
    // The bundle holds no Nodes: a blocker check could not evaluate.
    assert_eq!(code, 3, "{r:#}");
    assert!(could_not(&r).iter().any(|(id, _)| id == "nodes-not-ready"));
}

#[test]
fn archives_read_like_the_directories_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    for (name, prefix) in
        [("troubleshoot", "support-bundle-2024-11-05T20_12_40/"), ("sonobuoy", ""), ("support-bundle-kit", "")]
    {
        let entries = files(&root().join(BUNDLES).join(name));
        let (_, want) = check_json(&bundle(name), &[]);
        for (ext, bytes) in [
            ("tar.gz", gzip(&tar(&entries, prefix))),
            ("tgz", gzip(&tar(&entries, prefix))),
            ("zip", zip(&entries, prefix)),
        ] {
            let path = dir.path().join(format!("{name}.{ext}"));
            std::fs::write(&path, bytes).unwrap();
            let (_, got) = check_json(path.to_str().unwrap(), &[]);
            for key in ["verdict", "exitCode", "findings", "couldNotEvaluate", "summary"] {
                assert_eq!(got[key], want[key], "{name}.{ext}: {key}");
            }
            for key in ["objects", "layout", "serverVersion"] {
                assert_eq!(got["source"][key], want["source"][key], "{name}.{ext}: source.{key}");
            }
            let n = skipped(&want).len();
            assert_eq!(skipped(&got).len(), n, "{name}.{ext}");
        }
    }
}

#[test]
fn archive_bombs_and_damage_are_bounded_errors() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB of zeros inflate from ~64 KiB: over a 16 MiB limit, refused while inflating.
    let bomb = gzip(&tar(&[("zeros.json".to_string(), vec![0u8; 64 << 20])], ""));
    assert!(bomb.len() < 1 << 20);
    let path = dir.path().join("bomb.tar.gz");
    std::fs::write(&path, &bomb).unwrap();
    let out = run(&["check", "--snapshot", path.to_str().unwrap(), "--max-snapshot-mib", "16"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("inflates to more than the 16 MiB snapshot file limit"), "{}", out.stderr);
    let zbomb = zip(&[("zeros.json".to_string(), vec![b' '; 64 << 20])], "");
    let path = dir.path().join("bomb.zip");
    std::fs::write(&path, &zbomb).unwrap();
    let out = run(&["check", "--snapshot", path.to_str().unwrap(), "--max-snapshot-mib", "16"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("inflates to more than"), "{}", out.stderr);
    // A truncated archive is a clear error naming the file, not a panic.
    let whole = gzip(&tar(&files(&root().join(BUNDLES).join("sonobuoy")), ""));
    let path = dir.path().join("cut.tar.gz");
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let out = run(&["check", "--snapshot", path.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("cut.tar.gz"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn the_same_object_in_several_files_is_one_object_the_latest_copy() {
    // Sonobuoy writes namespaced objects into every namespace file, taken at different
    // moments: the pod again, later (higher resourceVersion), and restarted.
    let src = root().join(BUNDLES).join("sonobuoy");
    let dir = tempfile::tempdir().unwrap();
    for (rel, bytes) in files(&src) {
        let p = dir.path().join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let pods = std::fs::read_to_string(src.join("resources/ns/local-path-storage/core_v1_pods.json")).unwrap();
    let later = pods
        .replace("\"resourceVersion\":\"604\"", "\"resourceVersion\":\"1700\"")
        .replace("\"restartCount\":0", "\"restartCount\":9")
        .replace("\"ready\":true", "\"ready\":false");
    assert_ne!(later, pods);
    let p = dir.path().join("resources/ns/kube-system/core_v1_pods.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, later).unwrap();
    let (_, r) = check_json(dir.path().to_str().unwrap(), &[]);
    assert_eq!(r["source"]["objects"], 4, "one pod, not two");
    assert_eq!(r["source"]["duplicates"], 1);
    assert_eq!(
        r["source"]["conflicts"],
        serde_json::json!([
            "Pod local-path-storage/local-path-provisioner-78776bfc44-66xwg: 2 differing copies, kept resourceVersion 1700"
        ])
    );
    // The kept copy is the later one: 9 restarts, not ready.
    assert!(messages(&r, "unstable-pods")[0].contains("not ready after 9 restart(s)"), "{r:#}");
}

const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"shop"},"status":{"phase":"Running","containerStatuses":[{"name":"web","ready":false,"restartCount":0,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}"#;
const NODE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;

#[test]
fn every_dump_shape_is_read() {
    let pod2 = POD.replace("web-1", "web-2");
    let yaml_seq = "- apiVersion: v1\n  kind: Node\n  metadata: {name: n1}\n  status: {conditions: [{type: Ready, status: 'True'}]}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: web-1, namespace: shop}\n  status: {phase: Running, containerStatuses: [{name: web, ready: false, restartCount: 0, state: {waiting: {reason: CrashLoopBackOff}}}]}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: web-2, namespace: shop}\n  status: {phase: Running, containerStatuses: [{name: web, ready: false, restartCount: 0, state: {waiting: {reason: CrashLoopBackOff}}}]}";
    let cases = [
        ("json-lines.json", format!("{NODE}\n{POD}\n{pod2}\n")),
        ("dash-separated.json", format!("{NODE}\n---\n{POD}\n---\n{pod2}\n")),
        ("concatenated.json", format!("{NODE}{POD}{pod2}")),
        ("bare-array.json", format!("[{NODE},{POD},{pod2}]")),
        ("bare-sequence.yaml", yaml_seq.to_string()),
        (
            "kubectl-list.yaml",
            format!("apiVersion: v1\nitems:\n{}\nkind: List\nmetadata:\n  resourceVersion: \"\"", yaml_seq),
        ),
        (
            "list-null-items.json",
            format!("{{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"items\":null}}\n{NODE}\n{POD}\n{pod2}"),
        ),
    ];
    for (name, text) in cases {
        let dir = temp_tree(&[(name, text.as_str())]);
        let (code, r) = check_json(dir.path().join(name).to_str().unwrap(), &[]);
        assert_eq!(code, 1, "{name}: {r:#}");
        assert_eq!(r["source"]["objects"], 3, "{name}");
        assert_eq!(messages(&r, "unstable-pods").len(), 2, "{name}");
    }
}

#[test]
fn a_big_kubectl_yaml_list_is_read_item_by_item_with_lines_right() {
    // Items are parsed one at a time; an error in one names its real line.
    let mut text = String::from("apiVersion: v1\nitems:\n");
    for i in 0..200 {
        text.push_str(&format!("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c{i}\n    namespace: d\n"));
    }
    text.push_str("- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: [broken\nkind: List\n");
    let dir = temp_tree(&[("big.yaml", &text)]);
    let out = run(&["check", "--snapshot", dir.path().join("big.yaml").to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let line = 2 + 200 * 5 + 3;
    assert!(out.stderr.contains(&format!("big.yaml:{line}:")), "line {line}: {}", out.stderr);
}

#[test]
fn a_top_level_items_field_of_another_kind_is_not_a_list() {
    let text =
        "apiVersion: example.com/v1\nkind: Menu\nmetadata: {name: lunch, namespace: d}\nitems:\n- soup\n- bread\n---\n"
            .to_string()
            + "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n";
    let dir = temp_tree(&[("m.yaml", &text)]);
    let (_, r) = check_json(dir.path().join("m.yaml").to_str().unwrap(), &[]);
    assert_eq!(r["source"]["objects"], 2, "{r:#}");
}

#[test]
fn empty_input_is_never_go() {
    for (name, text) in [("empty.yaml", ""), ("dashes.yaml", "---\n---\n"), ("nulls.json", "null\n")] {
        let dir = temp_tree(&[(name, text)]);
        let out = run(&["check", "--snapshot", dir.path().join(name).to_str().unwrap()]);
        assert_eq!(out.code, 3, "{name}: {}", out.stdout);
        assert!(out.stderr.contains("no Kubernetes objects in the snapshot"), "{name}: {}", out.stderr);
    }
    // A directory of logs and analysis output: every file listed, nothing evaluated.
    let dir = temp_tree(&[("analysis.json", "[]"), ("logs/a.log", "x\n")]);
    let out = run(&["check", "--snapshot", dir.path().to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stdout);
    assert!(out.stderr.contains("no Kubernetes objects"), "{}", out.stderr);
}

#[test]
fn old_api_groups_are_evaluated_as_the_current_kinds() {
    // pluto's e2e asset shape: Deployments and an Ingress captured through removed groups.
    let snap = format!(
        "{NODE}\n{}\n{}\n",
        r#"{"apiVersion":"extensions/v1beta1","kind":"Deployment","metadata":{"name":"utilities","namespace":"tools"},"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"u","image":"quay.io/x/utilities:1.0"}]}}},"status":{"replicas":2,"availableReplicas":0,"unavailableReplicas":2}}"#,
        r#"{"apiVersion":"extensions/v1beta1","kind":"Ingress","metadata":{"name":"httpbin","namespace":"tools"},"spec":{"rules":[{"http":{"paths":[{"path":"/","backend":{"resource":{"apiGroup":"networking.higress.io","kind":"McpBridge","name":"default"}}}]}}]},"status":{"loadBalancer":{"ingress":[{"ip":"10.0.0.9"}]}}}"#,
    );
    let dir = temp_tree(&[("old.json", &snap)]);
    let (_, r) = check_json(dir.path().join("old.json").to_str().unwrap(), &[]);
    let ids = finding_ids(&r);
    assert!(ids.contains(&"unavailable-workloads".to_string()), "{ids:?}");
    assert!(ids.contains(&"ingress-resource-backend".to_string()), "{ids:?}");
    let f = r["findings"].as_array().unwrap().iter().find(|f| f["checkId"] == "unavailable-workloads").unwrap();
    assert_eq!(f["objects"][0]["apiVersion"], "extensions/v1beta1", "the captured apiVersion is kept");
}

#[test]
fn references_into_a_namespace_whose_configmaps_were_not_captured_cannot_be_judged() {
    let deploy = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"template":{"spec":{"containers":[{"name":"api","image":"x/api:1.0","envFrom":[{"configMapRef":{"name":"api-env"}}]}]}}},"status":{"availableReplicas":1}}"#;
    let other_cm =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"kube-system"}}"#;
    let secret = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"kube-system"}}"#;
    let dir = temp_tree(&[("s.json", &format!("{NODE}\n{deploy}\n{other_cm}\n{secret}\n"))]);
    let (code, r) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    assert_eq!(code, 3, "{r:#}");
    assert!(messages(&r, "missing-references").is_empty(), "never 'does not exist'");
    let cne = could_not(&r);
    assert!(
        cne.iter()
            .any(|(id, why)| id == "missing-references"
                && why.contains("ConfigMaps of namespace(s) shop were not captured")),
        "{cne:?}"
    );
    // With the namespace's kube-root-ca.crt the capture is complete: the ConfigMap is missing.
    let witness = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"shop"}}"#;
    let dir = temp_tree(&[("s.json", &format!("{NODE}\n{deploy}\n{other_cm}\n{secret}\n{witness}\n"))]);
    let (code, r) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{r:#}");
    assert!(messages(&r, "missing-references")[0].contains("ConfigMap shop/api-env which does not exist"), "{r:#}");
    // Before Kubernetes 1.21 there is no such witness: references are judged as before.
    let info = r#"{"apiVersion":"upgrade-preflight.io/v1alpha1","kind":"SnapshotInfo","serverVersion":"v1.20.4"}"#;
    let dir = temp_tree(&[("s.json", &format!("{info}\n{NODE}\n{deploy}\n{other_cm}\n{secret}\n"))]);
    let (code, _) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    assert_eq!(code, 1);
}

#[test]
fn pods_whose_owner_was_not_captured_are_judged_themselves() {
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":"shop"}}"#;
    let pod = |owner: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"api-7d9f-x1","namespace":"shop","ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"{owner}","controller":true}}]}},"spec":{{"containers":[{{"name":"api","image":"x/api:1.0","env":[{{"name":"DB","valueFrom":{{"secretKeyRef":{{"name":"db","key":"url"}}}}}}]}}]}},"status":{{"phase":"Running"}}}}"#
        )
    };
    let secret = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"other","namespace":"shop"}}"#;
    // Only the Pod was captured (kubectl get pods,secrets,configmaps): the Pod is judged.
    let dir = temp_tree(&[("s.json", &format!("{NODE}\n{cm}\n{secret}\n{}\n", pod("api-7d9f")))]);
    let (_, r) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    let m = messages(&r, "missing-references");
    assert_eq!(m.len(), 1, "{r:#}");
    assert!(m[0].starts_with("Pod shop/api-7d9f-x1 references Secret shop/db which does not exist"), "{m:?}");
    // With its Deployment captured, the Deployment is judged instead, once.
    let deploy = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"shop"},"spec":{"template":{"spec":{"containers":[{"name":"api","image":"x/api:1.0","env":[{"name":"DB","valueFrom":{"secretKeyRef":{"name":"db","key":"url"}}}]}]}}},"status":{"availableReplicas":1}}"#;
    let dir = temp_tree(&[("s.json", &format!("{NODE}\n{cm}\n{secret}\n{deploy}\n{}\n", pod("api-7d9f")))]);
    let (_, r) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    let m = messages(&r, "missing-references");
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("Deployment shop/api references"), "{m:?}");
}

#[test]
fn verbose_never_says_found_nothing_about_nothing() {
    // Secrets and ConfigMaps but no workload: missing-references had nothing to judge.
    let snap =
        format!("{NODE}\n{}\n", r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"shop"}}"#);
    let dir = temp_tree(&[("s.json", &snap)]);
    let out = run(&["check", "--snapshot", dir.path().join("s.json").to_str().unwrap(), "-v"]);
    let line =
        out.stdout.lines().find(|l| l.contains("missing-references")).unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains("no Pods or DaemonSets or Deployments or StatefulSets or CronJobs or Jobs to evaluate"),
        "{line}"
    );
    assert!(!line.contains("found nothing"), "{line}");
}

#[test]
fn a_real_sample_of_each_bundle_format_documents_its_origin() {
    let readme = std::fs::read_to_string(root().join(BUNDLES).join("README.md")).unwrap();
    for dir in ["troubleshoot", "sonobuoy", "support-bundle-kit", "insights-operator"] {
        for (rel, _) in files(&root().join(BUNDLES).join(dir)) {
            let file = rel.rsplit('/').next().unwrap();
            assert!(readme.contains(file), "{dir}/{rel} is not described in {BUNDLES}/README.md");
        }
    }
}

#[test]
fn one_object_too_deep_or_too_big_is_skipped_alone_and_named() {
    let deep = format!(
        r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"deep","namespace":"shop"}},"spec":{{"x":{}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"huge","namespace":"shop"}},"data":{{"x":"{}"}}}}"#,
        "a".repeat(17 << 20)
    );
    let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{NODE},{deep},{POD},{big}]}}"#);
    let dir = temp_tree(&[("s.json", &list)]);
    let (code, r) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    assert_eq!(code, 1, "the other objects are still judged: {r:#}");
    assert_eq!(r["source"]["objects"], 2);
    assert_eq!(messages(&r, "unstable-pods").len(), 1);
    let s = skipped(&r);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s[0].ends_with(
            "object 2 of the List (Pod shop/deep): nested deeper than 128 levels (a fixed limit); not evaluated"
        ),
        "{s:?}"
    );
    assert!(s[1].contains("object 4 of the List (ConfigMap shop/huge): larger than 16 MiB"), "{s:?}");
    // With nothing else wrong, an object that was not judged still keeps the run from a clean GO.
    let list = format!(r#"{{"apiVersion":"v1","kind":"List","items":[{NODE},{deep}]}}"#);
    let dir = temp_tree(&[("s.json", &list)]);
    let (code, r) = check_json(dir.path().join("s.json").to_str().unwrap(), &[]);
    assert_eq!((code, r["verdict"].as_str().unwrap()), (0, "GO-WITH-WARNINGS"), "{r:#}");
}

#[test]
fn a_huge_yaml_document_that_cannot_be_split_is_refused_with_advice_not_an_abort() {
    // An anchor forces whole-document parsing (~8× its size as a tree): over 64 MiB that is
    // refused before parsing, with exit 3, instead of risking the out-of-memory killer.
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: d, labels: &l {a: b}}\ndata:\n",
    );
    let line = format!("  k{{}}: {}\n", "v".repeat(1000));
    let mut i = 0;
    while text.len() <= 65 << 20 {
        text.push_str(&line.replace("{}", &i.to_string()));
        i += 1;
    }
    let dir = temp_tree(&[("big.yaml", &text)]);
    let out = run(&["check", "--snapshot", dir.path().join("big.yaml").to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("over the 64 MiB limit for one YAML document: convert it to JSON"), "{}", out.stderr);
}

#[test]
fn a_large_json_dump_is_read_as_a_stream_in_every_shape() {
    // Over 32 MiB a JSON file is streamed: a typed list whose items come before its `kind`
    // and lack their own (kubectl's key order, troubleshoot's item shape), then `---`, then
    // JSON lines.
    let item = |i: usize, reason: &str| {
        format!(
            r#"{{"metadata":{{"name":"p{i}","namespace":"shop","annotations":{{"pad":"{}"}}}},"status":{{"phase":"Running","containerStatuses":[{{"name":"c","ready":false,"restartCount":0,"state":{{"waiting":{{"reason":"{reason}"}}}}}}]}}}}"#,
            "x".repeat(1000)
        )
    };
    let n = 34_000;
    let items: Vec<String> =
        (0..n).map(|i| item(i, if i == 7 { "CrashLoopBackOff" } else { "ContainerCreating" })).collect();
    let text = format!(
        "{{\"apiVersion\":\"v1\",\"items\":[{}],\"kind\":\"PodList\",\"metadata\":{{}}}}\n---\n{NODE}\n{}\n",
        items.join(","),
        POD.replace("web-1", "web-9")
    );
    assert!(text.len() > 33 << 20);
    let dir = temp_tree(&[("big.json", &text)]);
    drop(text);
    let (code, r) = check_json(dir.path().join("big.json").to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{}", r["source"]);
    assert_eq!(r["source"]["objects"], n + 2);
    assert_eq!(messages(&r, "unstable-pods").len(), 2, "p7 and web-9");
}
