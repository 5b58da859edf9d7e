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
