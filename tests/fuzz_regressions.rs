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
fn archive_inputs() {
    replay("archive", harness::archive);
}

#[test]
fn bundle_inputs() {
    replay("bundle", harness::bundle);
}

#[test]
fn chart_inputs() {
    replay("chart", harness::chart);
}

#[test]
fn seeds_are_small() {
    for target in [
        "version",
        "snapshot",
        "data_file",
        "cel",
        "helm",
        "kubeconfig",
        "manifest",
        "metrics",
        "archive",
        "bundle",
        "chart",
    ] {
        let seeds: Vec<_> = std::fs::read_dir(crate::util::root().join("fuzz/corpus").join(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(seeds.len() <= 10, "{target}: keep the committed corpus to a handful of seeds");
        for s in seeds {
            // libFuzzer's default largest input is the largest seed: big seeds slow every run.
            assert!(std::fs::metadata(&s).unwrap().len() <= 8 << 10, "{}: keep seeds under 8 KiB", s.display());
        }
    }
    assert!(Path::new(&crate::util::root().join("fuzz/Cargo.toml")).exists());
}

/// The capture and chart seeds reach what they stand for (a seed the reader refuses early
/// would leave the fuzzer far from the code it should exercise).
#[test]
fn capture_and_chart_seeds_read_as_what_they_are() {
    use upgrade_preflight::inventory::{manifest, snapshot};
    use upgrade_preflight::limits::Limits;
    let corpus = crate::util::root().join("fuzz/corpus");
    let dir = tempfile::tempdir().unwrap();
    for (seed, layout) in [
        ("sonobuoy.gnu.tar", "sonobuoy results"),
        ("sonobuoy.stored.zip", "sonobuoy results"),
        ("troubleshoot.zip", "troubleshoot support bundle"),
        ("insights.pax.tar", "insights-operator archive"),
        ("support-bundle-kit.tar.gz", "support-bundle-kit bundle"),
    ] {
        let data = std::fs::read(corpus.join("archive").join(seed)).unwrap();
        let (mode, rest) = data.split_first().unwrap();
        let bytes = if mode % 2 == 1 { harness::gzip(rest) } else { rest.to_vec() };
        let path = dir.path().join(seed);
        std::fs::write(&path, bytes).unwrap();
        let inv = snapshot::load_with(&path, &Limits::default()).unwrap();
        assert_eq!(inv.input.layout, Some(layout), "archive/{seed}");
        assert!(!inv.is_empty(), "archive/{seed}");
    }
    for (seed, layout) in [
        ("sonobuoy.txt", "sonobuoy results"),
        ("troubleshoot.txt", "troubleshoot support bundle"),
        ("insights.txt", "insights-operator archive"),
        ("support-bundle-kit.txt", "support-bundle-kit bundle"),
    ] {
        let files = harness::records(&std::fs::read(corpus.join("bundle").join(seed)).unwrap(), harness::BUNDLE_PATHS);
        let root = dir.path().join(seed.replace('.', "-"));
        for (rel, bytes) in &files {
            assert!(harness::BUNDLE_PATHS.contains(rel));
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), bytes).unwrap();
        }
        let inv = snapshot::load_with(&root, &Limits::default()).unwrap();
        assert_eq!(inv.input.layout, Some(layout), "bundle/{seed}");
        assert!(!inv.is_empty(), "bundle/{seed}");
    }
    for (seed, name) in [("traefik.txt", "traefik"), ("podtatoserver.txt", "podtatoserver")] {
        let files = harness::records(&std::fs::read(corpus.join("chart").join(seed)).unwrap(), harness::CHART_PATHS);
        let root = dir.path().join(seed.replace('.', "-"));
        for (rel, bytes) in &files {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), bytes).unwrap();
        }
        let chart = manifest::read_chart(&root, &Limits::default()).unwrap();
        assert_eq!(chart.name, name);
        assert!(chart.kube_version.is_some(), "chart/{seed}");
    }
}
