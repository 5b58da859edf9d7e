//! Benchmark: `check --snapshot S --manifest M` on a large generated change (a chart bump
//! over N apps: a Deployment, a Service, a ConfigMap and a migration Job each, the Jobs'
//! templates changed) against the same cluster before it, next to `check --snapshot S` alone.
//! Prints wall time and peak RSS; asserts nothing about time (that is not a test).
//!
//! Run: `cargo bench --bench change` (`BENCH_APPS=5000` by default: 20,000 planned objects).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

fn app(i: usize, tag: &str, live: bool) -> Vec<Value> {
    let ns = format!("ns{}", i % 100);
    let mut dep = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("app{i}"), "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "big", "meta.helm.sh/release-namespace": "default"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": format!("app{i}")}},
                 "template": {"metadata": {"labels": {"app": format!("app{i}")}},
                              "spec": {"containers": [{"name": "app", "image": format!("ghcr.io/example/app:{tag}"),
                                                       "envFrom": [{"configMapRef": {"name": format!("app{i}")}}]}]}}}});
    let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("app{i}"), "namespace": ns},
                         "spec": {"selector": {"app": format!("app{i}")}, "ports": [{"port": 80}]}});
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("app{i}"), "namespace": ns}, "data": {"A": "1"}});
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": format!("migrate{i}"), "namespace": ns},
                     "spec": {"template": {"spec": {"restartPolicy": "Never",
                              "containers": [{"name": "m", "image": format!("ghcr.io/example/migrate:{tag}")}]}}}});
    if live {
        dep["status"] = json!({"replicas": 2, "availableReplicas": 2, "readyReplicas": 2, "updatedReplicas": 2});
        svc["spec"]["clusterIP"] = json!(format!("10.43.{}.{}", i / 250, i % 250));
    }
    vec![dep, svc, cm, job]
}

fn timed(bin: &str, args: &[&str]) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new(bin).args(args).arg("--stats").arg("-q").output().unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss = stderr
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peak_rss_bytes="))
        .and_then(|b| b.parse::<u64>().ok())
        .map_or_else(|| "unknown".to_string(), |b| format!("{:.0} MiB", b as f64 / 1048576.0));
    println!("  {}", String::from_utf8_lossy(&out.stdout).trim());
    (wall, rss)
}

fn main() {
    let apps: usize = std::env::var("BENCH_APPS").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let dir = tempfile::tempdir().unwrap();
    let live: Vec<Value> = (0..apps).flat_map(|i| app(i, "1.0.0", true)).collect();
    let snap = dir.path().join("snap.json");
    let info =
        json!({"apiVersion": "upgrade-preflight.io/v1alpha1", "kind": "SnapshotInfo", "serverVersion": "v1.30.2"});
    std::fs::write(&snap, format!("{info}\n{}", json!({"apiVersion": "v1", "kind": "List", "items": live}))).unwrap();
    let manifest: String = (0..apps)
        .flat_map(|i| app(i, "1.1.0", false))
        .map(|o| format!("---\n# Source: big/templates/{}.yaml\n{o}\n", o["kind"].as_str().unwrap().to_lowercase()))
        .collect();
    let m = dir.path().join("manifest.yaml");
    std::fs::write(&m, &manifest).unwrap();
    let bin = env!("CARGO_BIN_EXE_upgrade-preflight");
    let (s, m) = (snap.to_str().unwrap(), m.to_str().unwrap());
    println!("{apps} apps: {} live objects, {} planned objects ({} bytes of YAML)", apps * 4, apps * 4, manifest.len());
    let (w0, r0) = timed(bin, &["check", "--snapshot", s]);
    println!("check --snapshot:               wall {w0:.2} s, peak RSS {r0}");
    let (w1, r1) = timed(bin, &["check", "--snapshot", s, "--manifest", m]);
    println!("check --snapshot --manifest:    wall {w1:.2} s, peak RSS {r1}");
    let (w2, r2) = timed(bin, &["check", "--no-cluster", "--manifest", m]);
    println!("check --no-cluster --manifest:  wall {w2:.2} s, peak RSS {r2}");
}
