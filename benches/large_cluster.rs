//! Benchmark: a full `check` against a large generated cluster served by the loopback fake
//! API server. Prints figures; asserts nothing about time (that is not a test).
//!
//! Run: `cargo bench --bench large_cluster` (scale with `BENCH_SCALE=0.1` for a quick run).
//! Cluster at scale 1: 100,000 Pods in 2,000 namespaces, 10,000 Deployments, 10,000
//! Ingresses, 2,000 Helm release Secrets, 5,000 other Secrets, 2,000 ConfigMaps, 50 Nodes.
//! Where `kubectl` is on PATH, it also times `kubectl get <the same kinds> -A -o json`
//! against the same server, sequentially, and prints the ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/support/fake_api.rs"]
mod fake_api;

use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).round() as usize).max(1)
}

fn pod(ns: &str, i: usize) -> Value {
    let name = format!("web-{i:05}-7c9d8f6b5-x{i:04}");
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "uid": format!("00000000-0000-4000-8000-{i:012}"),
            "resourceVersion": format!("{}", 100000 + i), "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7c9d8f6b5", "app.kubernetes.io/part-of": "shop"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c9d8f6b5", "uid": "1", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"1\"}": {}}},
                             "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {}}}}}}]
        },
        "spec": {
            "containers": [{
                "name": "web", "image": "registry.example.com/shop/web:1.24.3", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "DB_HOST", "value": "db"}, {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]
            }],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
            "nodeName": format!("node-{:02}", i % 50), "restartPolicy": "Always", "serviceAccountName": "default"
        },
        "status": {
            "phase": "Running", "podIP": "10.42.0.1", "hostIP": "192.0.2.1", "qosClass": "Burstable", "startTime": "2026-01-01T00:00:00Z",
            "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "web", "ready": true, "started": true, "restartCount": 0, "image": "registry.example.com/shop/web:1.24.3",
                "imageID": "registry.example.com/shop/web@sha256:3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a10",
                "containerID": "containerd://4f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a10", "state": {"running": {"startedAt": "2026-01-01T00:00:05Z"}}}]
        }
    })
}

fn cluster(scale: f64) -> Vec<Value> {
    let namespaces = scaled(2_000, scale);
    let mut objs = Vec::new();
    for n in 0..50 {
        objs.push(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": format!("node-{n:02}")},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.30.7+rke2r1"}}}));
    }
    let per_ns = |total: usize| scaled(total, scale).div_ceil(namespaces);
    for ns_i in 0..namespaces {
        let ns = format!("team-{ns_i:04}");
        objs.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": ns}, "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}}));
        objs.push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret", "namespace": ns}, "type": "Opaque", "data": {"password": "c2VjcmV0", "user": "YXBw"}}));
        for i in 0..per_ns(100_000) {
            objs.push(pod(&ns, ns_i * 1000 + i));
        }
        for i in 0..per_ns(10_000) {
            objs.push(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("web-{i}"), "namespace": ns, "labels": {"app": "web"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "registry.example.com/shop/web:1.24.3",
                    "env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "password"}}}]}]}}},
                "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "updatedReplicas": 2}}));
        }
        for i in 0..per_ns(10_000) {
            objs.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": format!("web-{i}"), "namespace": ns},
                "spec": {"ingressClassName": "nginx", "rules": [{"host": format!("web-{i}.{ns}.example.com"), "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}}));
        }
        for i in 0..per_ns(2_000) {
            objs.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
                "metadata": {"name": format!("sh.helm.release.v1.app-{i}.v3"), "namespace": ns, "labels": {"owner": "helm", "name": format!("app-{i}"), "status": "deployed", "version": "3"}},
                "data": {"release": "H4sIAAAAAAAA".repeat(700)}}));
        }
        for i in 0..per_ns(5_000).saturating_sub(1) {
            objs.push(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": {"name": format!("tls-{i}"), "namespace": ns},
                "data": {"tls.crt": "LS0tLS1CRUdJTi".repeat(60), "tls.key": "LS0tLS1CRUdJTi".repeat(40)}}));
        }
    }
    objs
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let scale: f64 = std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let t = Instant::now();
    let objs = cluster(scale);
    let count = |k: &str| objs.iter().filter(|o| o["kind"] == k).count();
    println!(
        "cluster: {} objects ({} Pods, {} Deployments, {} Ingresses, {} Secrets, {} ConfigMaps, 50 Nodes), generated in {:.1}s",
        objs.len(),
        count("Pod"),
        count("Deployment"),
        count("Ingress"),
        count("Secret"),
        count("ConfigMap"),
        t.elapsed().as_secs_f64()
    );
    if let Ok(path) = std::env::var("BENCH_DUMP") {
        // For profiling the offline path on the same data.
        let list = json!({"apiVersion": "v1", "kind": "List", "items": objs});
        std::fs::write(&path, serde_json::to_vec(&list).unwrap()).unwrap();
        println!("wrote {path}");
        return;
    }
    let fake = fake_api::FakeApi::builder().objects(objs).strip_item_type_meta().start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let bin = env!("CARGO_BIN_EXE_upgrade-preflight");

    fake.clear_requests();
    let sent_before = fake.bytes_sent();
    let t = Instant::now();
    let out = Command::new(bin)
        .args(["check", "--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json", "--stats", "--timeout", "600"])
        .output()
        .unwrap();
    let ours = t.elapsed();
    let stats = String::from_utf8_lossy(&out.stderr);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let requests = fake.requests();
    println!(
        "upgrade-preflight check: exit {:?}, verdict {}, wall {:.2}s",
        out.status.code(),
        report["verdict"],
        ours.as_secs_f64()
    );
    println!("  {}", stats.trim());
    println!(
        "  server saw {} requests (all GET: {}), sent {} bytes",
        requests.len(),
        requests.iter().all(|r| r.method == "GET"),
        fake.bytes_sent() - sent_before
    );
    let stat = |key: &str| -> Option<f64> {
        stats.split_whitespace().find_map(|kv| kv.strip_prefix(&format!("{key}="))).and_then(|v| v.parse().ok())
    };
    if let (Some(rss), Some(bytes)) = (stat("peak_rss_bytes"), stat("bytes_received")) {
        println!("  peak RSS / bytes received = {:.2} (target < 1)", rss / bytes);
    }

    // kubectl, same server, same kinds, sequentially.
    let kinds: Vec<String> = {
        let mut v: Vec<String> = requests
            .iter()
            .filter(|r| r.query_param("limit").is_some() && r.query_param("continue").is_none())
            .map(|r| {
                let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
                let plural = *parts.last().unwrap();
                if parts[0] == "api" { plural.to_string() } else { format!("{plural}.{}", parts[1]) }
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success()) {
        let t = Instant::now();
        let mut bytes = 0usize;
        let mut ok = true;
        for k in &kinds {
            let o = Command::new("kubectl")
                .args([
                    "--kubeconfig",
                    kubeconfig.to_str().unwrap(),
                    "get",
                    k,
                    "-A",
                    "-o",
                    "json",
                    "--request-timeout",
                    "600s",
                ])
                .env("HOME", dir.path())
                .output()
                .unwrap();
            ok &= o.status.success();
            bytes += o.stdout.len();
        }
        let theirs = t.elapsed();
        println!(
            "kubectl get <{} kinds> -A -o json, sequentially: wall {:.2}s (all succeeded: {ok}, {bytes} bytes of output)",
            kinds.len(),
            theirs.as_secs_f64()
        );
        println!("  ratio ours/kubectl = {:.2} (target <= 0.5)", ours.as_secs_f64() / theirs.as_secs_f64());
    } else {
        println!("kubectl not on PATH: no comparison");
    }
}
