//! Every committed fuzz seed and every input that once crashed a fuzz target, replayed
//! through the same harness the target uses (`fuzz/harness.rs`). A crash found by
//! `cargo fuzz` is fixed in the library and its input saved under
//! `fuzz/regressions/<target>/`, where this test keeps it fixed.

use std::path::Path;

use crate::fuzz_harness as harness;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        let d = crate::util::root().join("fuzz").join(dir).join(target);
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        // README.md files say where seeds come from; they are not inputs.
        let mut files: Vec<_> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.file_name().is_some_and(|n| n != "README.md")).collect();
        files.sort();
        for f in files {
            out.push((
                format!("{dir}/{target}/{}", f.file_name().unwrap().to_string_lossy()),
                std::fs::read(&f).unwrap(),
            ));
        }
    }
    out
}

fn replay(target: &str, run: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(!inputs.is_empty(), "no seeds for {target}");
    for (name, data) in inputs {
        // A panic names the input that caused it.
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(result.is_ok(), "fuzz input {name} panics");
    }
}

#[test]
fn version_inputs() {
    replay("version", harness::version);
}

#[test]
fn snapshot_inputs() {
    replay("snapshot", harness::snapshot);
}

#[test]
fn data_file_inputs() {
    replay("data_file", harness::data_file);
}

#[test]
fn cel_inputs() {
    replay("cel", harness::cel);
}

#[test]
fn helm_inputs() {
    replay("helm", harness::helm);
}

#[test]
fn kubeconfig_inputs() {
    replay("kubeconfig", harness::kubeconfig);
}

#[test]
fn manifest_inputs() {
    replay("manifest", harness::manifest);
}

#[test]
fn metrics_inputs() {
    replay("metrics", harness::metrics);
}

#[test]
fn seeds_are_small() {
    for target in ["version", "snapshot", "data_file", "cel", "helm", "kubeconfig", "manifest", "metrics"] {
        let seeds: Vec<_> = std::fs::read_dir(crate::util::root().join("fuzz/corpus").join(target)).unwrap().collect();
        assert!(seeds.len() <= 10, "{target}: keep the committed corpus to a handful of seeds");
    }
    assert!(Path::new(&crate::util::root().join("fuzz/Cargo.toml")).exists());
}
