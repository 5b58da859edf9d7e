//! Reading big snapshots: MB/s and peak RSS of `check --snapshot` on `kubectl get -A -o json`
//! and `-o yaml` style dumps (one `List` of Pods, ConfigMaps and Deployments), generated here.
//! Prints figures; asserts nothing. `BENCH_SIZES_MB=30,300` (default) picks the sizes.
//!
//! `BENCH_DIR=path` writes the dumps there and keeps them (for profiling the binary on them).
//!
//! Each run is a separate process (the built binary with `--stats`), so its peak RSS
//! (`VmHWM`) is its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

fn pod(i: usize) -> serde_json::Value {
    let ns = format!("team-{}", i % 200);
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("web-{i:07}-7d9f8c6b5-x2k4q"), "namespace": ns,
            "uid": format!("0ebe8b8b-5449-4a41-bea5-{i:012}"), "resourceVersion": (1_000_000 + i).to_string(),
            "creationTimestamp": "2024-03-26T10:43:59Z",
            "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5", "team": format!("t{}", i % 50)},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-03-26T10:40:00Z", "prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8c6b5", "uid": "ca82db22-ef61-49db-ad84-35e502375121", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2024-03-26T10:43:59Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
        },
        "spec": {
            "containers": [{
                "name": "web", "image": "registry.example.com/shop/web:1.24.3", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "DB_URL", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}, {"name": "LOG_LEVEL", "value": "info"}],
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}, {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]
            }],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}, {"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "nodeName": format!("worker-{}", i % 50), "restartPolicy": "Always", "serviceAccountName": "web",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-03-26T10:44:10Z"}, {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-03-26T10:43:59Z"}],
            "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "image": "registry.example.com/shop/web:1.24.3", "imageID": "registry.example.com/shop/web@sha256:5375cfa9c9a7f9e017b14b1668762885997fc15ef0a3ab87cc3f6639a0cd03aa", "state": {"running": {"startedAt": "2024-03-26T10:44:05Z"}}}],
            "hostIP": "10.0.0.1", "podIP": "10.244.0.3", "qosClass": "Burstable", "startTime": "2024-03-26T10:43:59Z"
        }
    })
}

/// Appends `v` as kubectl's YAML (block style, `- ` items at `indent`).
fn yaml(out: &mut String, v: &serde_json::Value, indent: usize) {
    use serde_json::Value as V;
    let pad = " ".repeat(indent);
    match v {
        V::Object(m) => {
            for (k, v) in m {
                match v {
                    V::Object(o) if !o.is_empty() => {
                        let _ = writeln!(out, "{pad}{k}:");
                        yaml(out, v, indent + 2);
                    }
                    V::Array(a) if !a.is_empty() => {
                        let _ = writeln!(out, "{pad}{k}:");
                        yaml(out, v, indent);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{k}: {}", scalar(v));
                    }
                }
            }
        }
        V::Array(a) => {
            for item in a {
                if matches!(item, V::Object(o) if !o.is_empty()) {
                    let mut inner = String::new();
                    yaml(&mut inner, item, indent + 2);
                    let _ = write!(out, "{pad}- {}", inner.trim_start());
                } else {
                    let _ = writeln!(out, "{pad}- {}", scalar(item));
                }
            }
        }
        _ => {
            let _ = writeln!(out, "{pad}{}", scalar(v));
        }
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => serde_json::to_string(s).unwrap(),
        serde_json::Value::Object(_) => "{}".to_string(),
        serde_json::Value::Array(_) => "[]".to_string(),
        other => other.to_string(),
    }
}

fn write_dumps(dir: &std::path::Path, mb: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let target = mb << 20;
    let json_path = dir.join(format!("dump-{mb}mb.json"));
    let yaml_path = dir.join(format!("dump-{mb}mb.yaml"));
    let mut json = std::io::BufWriter::new(std::fs::File::create(&json_path).unwrap());
    let mut yml = std::io::BufWriter::new(std::fs::File::create(&yaml_path).unwrap());
    json.write_all(b"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n").unwrap();
    yml.write_all(b"apiVersion: v1\nitems:\n").unwrap();
    let node = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-0"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    json.write_all(serde_json::to_string_pretty(&node).unwrap().as_bytes()).unwrap();
    let mut s = String::new();
    yaml(&mut s, &serde_json::Value::Array(vec![node]), 0);
    yml.write_all(s.as_bytes()).unwrap();
    let (mut jn, mut yn, mut i) = (0usize, 0usize, 0usize);
    while jn < target || yn < target {
        let p = pod(i);
        i += 1;
        if jn < target {
            let t = serde_json::to_string_pretty(&p).unwrap();
            json.write_all(b",\n").unwrap();
            json.write_all(t.as_bytes()).unwrap();
            jn += t.len() + 2;
        }
        if yn < target {
            let mut s = String::new();
            yaml(&mut s, &serde_json::Value::Array(vec![p]), 0);
            yml.write_all(s.as_bytes()).unwrap();
            yn += s.len();
        }
    }
    json.write_all(b"\n]}\n").unwrap();
    yml.write_all(b"kind: List\nmetadata:\n  resourceVersion: \"\"\n").unwrap();
    (json_path, yaml_path)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES_MB")
        .unwrap_or_else(|_| "30,300".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let bin = env!("CARGO_BIN_EXE_upgrade-preflight");
    let tmp = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
    if let Some(k) = &keep {
        std::fs::create_dir_all(k).unwrap();
    }
    let dir = keep.as_deref().unwrap_or(tmp.path());
    println!("| input | size | objects | wall | MB/s | peak RSS | RSS / file |");
    println!("|---|---|---|---|---|---|---|");
    for mb in sizes {
        let (json, yaml) = write_dumps(dir, mb);
        for path in [json, yaml] {
            let size = std::fs::metadata(&path).unwrap().len();
            let started = Instant::now();
            let out = std::process::Command::new(bin)
                .args(["check", "--snapshot", path.to_str().unwrap(), "-q", "--stats", "--max-snapshot-mib", "2048"])
                .output()
                .unwrap();
            let wall = started.elapsed().as_secs_f64();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let field = |k: &str| {
                stderr.split_whitespace().find_map(|w| w.strip_prefix(&format!("{k}="))).map(ToString::to_string)
            };
            let rss: f64 = field("peak_rss_bytes").and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
            let objects =
                field("objects").unwrap_or_else(|| format!("? (exit {:?}: {})", out.status.code(), stderr.trim()));
            #[allow(clippy::cast_precision_loss)]
            let size_f = size as f64;
            println!(
                "| {} | {:.0} MB | {objects} | {wall:.1} s | {:.0} | {:.0} MB | {:.2}× |",
                path.extension().unwrap().to_string_lossy(),
                size_f / 1e6,
                size_f / 1e6 / wall,
                rss / 1e6,
                rss / size_f
            );
        }
        if keep.is_none() {
            let _ = std::fs::remove_file(dir.join(format!("dump-{mb}mb.json")));
            let _ = std::fs::remove_file(dir.join(format!("dump-{mb}mb.yaml")));
        }
    }
}
