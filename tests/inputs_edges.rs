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
    let dir = temp_tree(&[
        ("d.yaml", dup),
        ("kubeconfig", &format!("apiVersion: v1\nkind: Config\nclusters: []\nclusters: []\n")),
    ]);
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
