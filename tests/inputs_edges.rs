//! Edge cases of reading real inputs (issue 12 audit): a namespace named like a kind, parser
//! texts in user words, a snapshot of only a `SnapshotInfo`, byte-order marks and gzipped
//! single files, `--strict-input` exit codes, archive entry limits, duplicates that must not be
//! reported, and old sonobuoy and troubleshoot custom-resource files.

use std::path::Path;

use crate::inputs::{BUNDLES, bundle, files, messages, skipped};
use crate::util::{check_json, root, run, temp_tree};

/// Copies the bundle `name` into a new temporary directory, renaming paths by `rename`.
fn copy_bundle(name: &str, rename: &dyn Fn(&str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, bytes) in files(&root().join(BUNDLES).join(name)) {
        let p = dir.path().join(rename(&rel));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}

fn path(dir: &Path) -> &str {
    dir.to_str().unwrap()
}

#[test]
fn a_namespace_named_like_a_kind_does_not_change_the_kind() {
    // Insights: the real unschedulable router Pod, its namespace folder renamed `ingress`.
    let (_, want) = check_json(&bundle("insights-operator"), &[]);
    let dir = copy_bundle("insights-operator", &|rel| rel.replace("/openshift-ingress/", "/ingress/"));
    let (code, r) = check_json(path(dir.path()), &[]);
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["source"]["objects"], 3, "{r:#}");
    assert_eq!(r["findings"], want["findings"], "the router Pod is still a Pod");
    assert!(!messages(&r, "unschedulable-pods").is_empty());
    // Troubleshoot: the file name is the namespace. The real crash-looping Pod's list, written
    // as older troubleshoot versions do (a typed list whose items lack kind and apiVersion),
    // into a file named after a namespace that is also a kind's name.
    let src = root().join(BUNDLES).join("troubleshoot/cluster-resources/pods/message-pod-init-crashloop-backoff.json");
    let mut list: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    list.as_object_mut().unwrap().remove("kind");
    list.as_object_mut().unwrap().remove("apiVersion");
    for item in list["items"].as_array_mut().unwrap() {
        item.as_object_mut().unwrap().remove("kind");
        item.as_object_mut().unwrap().remove("apiVersion");
    }
    for ns in ["ingress", "events", "jobs", "secrets"] {
        let dir = copy_bundle("troubleshoot", &|rel| {
            rel.replace("pods/message-pod-init-crashloop-backoff.json", &format!("pods/{ns}.json"))
        });
        let file = dir.path().join(format!("cluster-resources/pods/{ns}.json"));
        std::fs::write(&file, list.to_string()).unwrap();
        let (code, r) = check_json(path(dir.path()), &[]);
        assert_eq!(code, 1, "{ns}: {r:#}");
        assert_eq!(r["source"]["objects"], 3, "{ns}");
        assert_eq!(messages(&r, "unstable-pods").len(), 1, "{ns}: the crash-looping Pod is found");
    }
}

/// Parser texts written for the library's caller that must never reach a user.
const LIBRARY_WORDS: [&str; 4] = ["DuplicateKeyPolicy", "Options", "Option<", "policy"];

fn no_library_words(stderr: &str) {
    for w in LIBRARY_WORDS {
        assert!(!stderr.contains(w), "{w:?} reached the user: {stderr}");
    }
}

#[test]
fn a_duplicate_key_is_said_in_user_words_with_file_and_line() {
    let dup = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  name: n2\n";
    let dir =
        temp_tree(&[("d.yaml", dup), ("kubeconfig", "apiVersion: v1\nkind: Config\nclusters: []\nclusters: []\n")]);
    // A snapshot: the file, line and column of the second key, the key named.
    let out = run(&["check", "--snapshot", dir.path().join("d.yaml").to_str().unwrap()]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("d.yaml:5:3: invalid YAML: duplicate key \"name\""), "{}", out.stderr);
    no_library_words(&out.stderr);
    // A manifest.
    let out = run(&["check", "--no-cluster", "--manifest", dir.path().join("d.yaml").to_str().unwrap()]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("d.yaml:5: invalid YAML: duplicate key \"name\""), "{}", out.stderr);
    no_library_words(&out.stderr);
    // A kubeconfig (may hold secrets: the key is not quoted, the place is).
    let out = run(&["check", "--kubeconfig", dir.path().join("kubeconfig").to_str().unwrap()]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("kubeconfig:4:1: not a valid kubeconfig: duplicate key"), "{}", out.stderr);
    no_library_words(&out.stderr);
    // A check file of the catalog.
    let checks = tempfile::tempdir().unwrap();
    let first = std::fs::read_dir(root().join("checks")).unwrap().next().unwrap().unwrap().path();
    let text = std::fs::read_to_string(&first).unwrap();
    let id_line = text.lines().find(|l| l.starts_with("id:")).unwrap().to_string();
    std::fs::write(checks.path().join("c.yaml"), format!("{text}\n{id_line}\n")).unwrap();
    let out = run(&["list", "--checks", checks.path().to_str().unwrap()]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("duplicate key \"id\""), "{}", out.stderr);
    no_library_words(&out.stderr);
    // Must not: a key repeated in two objects is no error.
    let two =
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: n2\n";
    let dir = temp_tree(&[("two.yaml", two)]);
    let (_, r) = check_json(dir.path().join("two.yaml").to_str().unwrap(), &[]);
    assert_eq!(r["source"]["objects"], 2);
}

#[test]
fn a_snapshot_of_only_a_snapshot_info_is_empty_input() {
    let info = "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nserverVersion: v1.30.1\n";
    let dir = temp_tree(&[("i.yaml", info)]);
    let p = dir.path().join("i.yaml");
    for extra in [&[][..], &["--target", "kubernetes=1.31"][..]] {
        let mut args = vec!["check", "--snapshot", p.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.code, 3, "{extra:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("no Kubernetes objects in the snapshot (only a SnapshotInfo"),
            "{extra:?}: {}",
            out.stderr
        );
    }
    // Must not: with one object beside it, the snapshot is read and judged.
    let node = "---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {conditions: [{type: Ready, status: 'True'}]}\n";
    let dir = temp_tree(&[("i.yaml", &format!("{info}{node}"))]);
    let (code, r) = check_json(dir.path().join("i.yaml").to_str().unwrap(), &["--only", "nodes-not-ready"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["source"]["objects"], 1);
}

const NODE: &str = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady"}]}}"#;
const NODE_YAML: &str = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\nstatus:\n  conditions:\n  - {type: Ready, status: 'False', reason: KubeletNotReady}\n";

/// The Node's one finding is found: the file was read.
fn reads_the_node(target: &str) {
    let (code, r) = check_json(target, &["--only", "nodes-not-ready"]);
    assert_eq!(code, 1, "{target}: {r:#}");
    assert_eq!(r["source"]["objects"], 1, "{target}");
    assert_eq!(messages(&r, "nodes-not-ready"), ["Node n1 is not Ready (Ready=False, KubeletNotReady)"]);
}

#[test]
fn a_leading_byte_order_mark_is_skipped() {
    let json = format!("\u{feff}{NODE}\n");
    let yaml = format!("\u{feff}{NODE_YAML}");
    let dir = temp_tree(&[
        ("bom.json", &json),
        ("bom.yaml", &yaml),
        ("tree/a/bom.json", &json),
        ("tree/b/bom.yaml", &yaml.replace("n1", "n2")),
    ]);
    reads_the_node(path(&dir.path().join("bom.json")));
    reads_the_node(path(&dir.path().join("bom.yaml")));
    let (_, r) = check_json(path(&dir.path().join("tree")), &[]);
    assert_eq!(r["source"]["objects"], 2, "{r:#}");
    assert!(skipped(&r).is_empty(), "{:?}", skipped(&r));
    // Must not: a mark anywhere but at the start is still an error, with its line.
    let dir = temp_tree(&[("mid.yaml", &format!("{NODE_YAML}---\n\u{feff}\u{feff}kind: [\n"))]);
    let out = run(&["check", "--snapshot", path(&dir.path().join("mid.yaml"))]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("mid.yaml:9"), "{}", out.stderr);
}

#[test]
fn a_gzipped_dump_is_read_as_the_file_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("pods.json.gz", format!("{NODE}\n")), ("pods.yaml.gz", NODE_YAML.to_string())] {
        let p = dir.path().join(name);
        std::fs::write(&p, crate::inputs::gzip(text.as_bytes())).unwrap();
        reads_the_node(path(&p));
    }
    // Errors name the file it holds, with its line.
    let p = dir.path().join("broken.yaml.gz");
    std::fs::write(&p, crate::inputs::gzip(format!("{NODE_YAML}  - [\n").as_bytes())).unwrap();
    let out = run(&["check", "--snapshot", path(&p)]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("broken.yaml:8:"), "{}", out.stderr);
    // Bounded like an archive: a gzipped file that inflates over the limit is refused.
    let p = dir.path().join("zeros.json.gz");
    std::fs::write(&p, crate::inputs::gzip(&vec![b' '; 20 << 20])).unwrap();
    let out = run(&["check", "--snapshot", path(&p), "--max-snapshot-mib", "16"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("inflates to more than the 16 MiB snapshot file limit"), "{}", out.stderr);
    // Must not: a gzipped tar is still an archive (its layout is recognised).
    let entries = files(&root().join(BUNDLES).join("sonobuoy"));
    let p = dir.path().join("results.tar.gz");
    std::fs::write(&p, crate::inputs::gzip(&crate::inputs::tar(&entries, ""))).unwrap();
    let (_, r) = check_json(path(&p), &[]);
    assert_eq!(r["source"]["layout"], "sonobuoy results");
}

#[test]
fn strict_input_is_exit_2_even_when_every_file_is_skipped_and_names_each_file_once() {
    let dir = temp_tree(&[("a.log", "x\n"), ("b.json", "[]")]);
    let out = run(&["check", "--snapshot", path(dir.path()), "--strict-input"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let top = path(dir.path());
    assert!(
        out.stderr.contains(&format!("{top}: a.log: skipped: not a .json or .yaml file (--strict-input)")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{top}: b.json: skipped: not Kubernetes objects (--strict-input)")),
        "{}",
        out.stderr
    );
    // Must not: without --strict-input the same tree is empty input, exit 3.
    let out = run(&["check", "--snapshot", path(dir.path())]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("no Kubernetes objects"), "{}", out.stderr);
    // A single file is named once.
    let mut deep = String::from(
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","namespace":"d"},"data":{"x":"#,
    );
    deep.push_str(&"[".repeat(200));
    deep.push_str(&"]".repeat(200));
    deep.push_str("}}\n");
    let dir = temp_tree(&[("deep.json", &format!("{deep}{NODE}\n"))]);
    let file = dir.path().join("deep.json");
    let out = run(&["check", "--snapshot", path(&file), "--strict-input"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let once = format!("{}: skipped: object 1 (ConfigMap d/deep)", path(&file));
    assert!(out.stderr.contains(&once), "{}", out.stderr);
    assert_eq!(out.stderr.matches("deep.json").count(), 1, "{}", out.stderr);
}

#[test]
fn the_layout_line_reads_as_english() {
    let out = run(&["check", "--snapshot", &bundle("sonobuoy")]);
    assert!(out.stdout.contains("read as sonobuoy results\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("a sonobuoy results"), "{}", out.stdout);
    let out = run(&["check", "--snapshot", &bundle("insights-operator")]);
    assert!(out.stdout.contains("read as an insights-operator archive\n"), "{}", out.stdout);
}

/// `b` of the real sonobuoy fixture: the items of its list at `rel`, without kind and
/// apiVersion, as a bare array (what sonobuoy before v0.15 wrote).
fn bare_items(rel: &str) -> String {
    let src = root().join(BUNDLES).join("sonobuoy").join(rel);
    let list: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    let mut items = list["items"].as_array().unwrap().clone();
    for i in &mut items {
        i.as_object_mut().unwrap().remove("kind");
        i.as_object_mut().unwrap().remove("apiVersion");
    }
    serde_json::Value::Array(items).to_string()
}

#[test]
fn old_sonobuoy_results_give_kinds_from_file_names_and_version_from_their_folder() {
    // Old results (sonobuoy v0.8–v0.14, see tests/fixtures/bundles/README.md): the real objects
    // of the sonobuoy fixture, laid out as old results lay them out.
    let nodes = bare_items("resources/cluster/core_v1_nodes.json");
    let pods = bare_items("resources/ns/local-path-storage/core_v1_pods.json");
    let version = std::fs::read_to_string(root().join(BUNDLES).join("sonobuoy/serverversion.json")).unwrap();
    for nodes_dir in ["cluster", "non-ns"] {
        let dir = temp_tree(&[
            ("serverversion/serverversion.json", version.as_str()),
            (&format!("resources/{nodes_dir}/Nodes.json"), nodes.as_str()),
            // A namespace folder named like a kind: the kind is still the file's.
            ("resources/ns/events/Pods.json", pods.as_str()),
        ]);
        let (code, r) = check_json(path(dir.path()), &[]);
        assert_eq!(code, 1, "{nodes_dir}: {r:#}");
        assert_eq!(r["source"]["layout"], "sonobuoy results");
        assert_eq!(r["source"]["serverVersion"], "v1.20.0", "from serverversion/serverversion.json");
        assert_eq!(r["source"]["objects"], 4, "{nodes_dir}: three Nodes and a Pod, none with a kind");
        assert_eq!(messages(&r, "nodes-not-ready"), ["Node kind-worker is not Ready (Ready=False, KubeletNotReady)"]);
    }
    // Must not: a bare object in a file whose name is no kind is not guessed at.
    let dir = temp_tree(&[
        ("serverversion/serverversion.json", version.as_str()),
        ("resources/cluster/Nodes.json", nodes.as_str()),
        ("resources/ns/pods/Widgets.json", pods.as_str()),
    ]);
    let (_, r) = check_json(path(dir.path()), &[]);
    assert_eq!(r["source"]["objects"], 3, "{r:#}");
    assert!(skipped(&r).iter().any(|s| s.starts_with("resources/ns/pods/Widgets.json")), "{:?}", skipped(&r));
}

#[test]
fn troubleshoot_custom_resources_are_read_with_their_own_kind() {
    // Invented (edge case) in the shape troubleshoot's collector writes
    // (`cluster-resources/custom-resources/<crd>/<namespace>.yaml`, a `kubectl get -o yaml`
    // list, see tests/fixtures/bundles/README.md); the namespace file is named `jobs`.
    let backups = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: velero.io/v1\n  kind: Backup\n  metadata: {name: nightly-1, namespace: jobs}\n  status: {phase: Completed, completionTimestamp: '2024-11-04T02:00:00Z'}\n";
    let dir = copy_bundle("troubleshoot", &|rel| rel.to_string());
    let p = dir.path().join("cluster-resources/custom-resources/backups.velero.io/jobs.yaml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, backups).unwrap();
    let (_, r) = check_json(path(dir.path()), &[]);
    assert_eq!(r["source"]["objects"], 4, "the Backup is read: {r:#}");
    assert!(skipped(&r).iter().all(|s| !s.contains("custom-resources")), "{:?}", skipped(&r));
    // Must not: an item without a kind there is not taken for a Job (the file's name is the
    // namespace, the folder the resource): it is listed as skipped.
    std::fs::write(&p, backups.replace("  kind: Backup\n", "")).unwrap();
    let (_, r) = check_json(path(dir.path()), &[]);
    assert_eq!(r["source"]["objects"], 3, "{r:#}");
    let listed = skipped(&r);
    assert!(
        listed.iter().any(|s| s.starts_with("cluster-resources/custom-resources/backups.velero.io/jobs.yaml")),
        "{listed:?}"
    );
}

#[test]
fn an_archive_over_the_entry_limit_is_refused_and_one_at_the_limit_is_read() {
    // MAX_ENTRIES (200,000) directory entries and one file: read. One entry more: refused.
    // Directory entries are headers only (512 bytes each), so the archives stay small in
    // memory as files go (~100 MiB) and quick to read.
    const MAX_ENTRIES: usize = 200_000;
    let dir_header = crate::inputs::header("d/", 0, b'5');
    let build = |dirs: usize| {
        let node = NODE.as_bytes();
        let mut tar = Vec::with_capacity((dirs + 4) * 512);
        for _ in 0..dirs {
            tar.extend_from_slice(&dir_header);
        }
        tar.extend_from_slice(&crate::inputs::header("d/node.json", node.len(), b'0'));
        tar.extend_from_slice(node);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
        tar.extend_from_slice(&[0u8; 1024]);
        tar
    };
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().join("at-limit.tar");
    std::fs::write(&at, build(MAX_ENTRIES - 1)).unwrap();
    let over = dir.path().join("over-limit.tar");
    std::fs::write(&over, build(MAX_ENTRIES)).unwrap();
    let out = run(&["check", "--snapshot", path(&over)]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains("over-limit.tar: the archive has more than 200000 entries; a fixed limit"),
        "{}",
        out.stderr
    );
    reads_the_node(path(&at));
}

#[test]
fn identical_copies_are_no_conflict_and_one_name_in_two_namespaces_is_two_objects() {
    // The real sonobuoy Pod file written again, unchanged, into another namespace's file.
    let pods = "resources/ns/local-path-storage/core_v1_pods.json";
    let text = std::fs::read_to_string(root().join(BUNDLES).join("sonobuoy").join(pods)).unwrap();
    let dir = copy_bundle("sonobuoy", &|rel| rel.to_string());
    let copy = dir.path().join("resources/ns/kube-system/core_v1_pods.json");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&copy, &text).unwrap();
    let (_, r) = check_json(path(dir.path()), &[]);
    assert_eq!(r["source"]["objects"], 4, "one Pod: {r:#}");
    assert_eq!(r["source"]["duplicates"], 1);
    assert!(r["source"].get("conflicts").is_none_or(|c| c.as_array().is_some_and(Vec::is_empty)), "{r:#}");
    let out = run(&["check", "--snapshot", path(dir.path())]);
    assert!(!out.stdout.contains("differing copies"), "{}", out.stdout);
    // The same name in another namespace is another object.
    std::fs::write(&copy, text.replace("\"namespace\":\"local-path-storage\"", "\"namespace\":\"kube-system\""))
        .unwrap();
    let (_, r) = check_json(path(dir.path()), &[]);
    assert_eq!(r["source"]["objects"], 5, "two Pods: {r:#}");
    assert!(r["source"].get("duplicates").is_none_or(|d| d == 0), "{r:#}");
}

#[test]
fn files_joined_without_a_newline_before_a_dashes_line_are_pointed_out() {
    // `cat a.yaml b.yaml` where a.yaml lacks its final newline and b.yaml starts with `---`.
    let joined =
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1---\napiVersion: v1\nkind: Node\nmetadata:\n  name: n2\n";
    let dir = temp_tree(&[("ab.yaml", joined)]);
    let out = run(&["check", "--snapshot", path(&dir.path().join("ab.yaml"))]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "ab.yaml:5:1: invalid YAML: duplicate key \"apiVersion\"; line 4 ends in `---`: were two files joined without a newline between them?"
        ),
        "{}",
        out.stderr
    );
    // Must not: a value that ends in `---` in valid YAML is that value; an error with no such
    // line before it says nothing of joined files.
    let valid = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: d\ndata:\n  rule: a---\n---\napiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n";
    let broken = "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  name: n2\ndata:\n  rule: a---\n";
    let dir = temp_tree(&[("valid.yaml", valid), ("broken.yaml", broken)]);
    let (_, r) = check_json(path(&dir.path().join("valid.yaml")), &[]);
    assert_eq!(r["source"]["objects"], 2, "{r:#}");
    let out = run(&["check", "--snapshot", path(&dir.path().join("broken.yaml"))]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("broken.yaml:5:3: invalid YAML: duplicate key \"name\"\n"), "{}", out.stderr);
    assert!(!out.stderr.contains("joined"), "{}", out.stderr);
}
