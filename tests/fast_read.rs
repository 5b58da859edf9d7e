//! The fast snapshot readers (one scan of JSON text, the block-YAML reader, objects made
//! ready on all cores) give exactly the inventory, notes and errors the reference reader
//! gives (`snapshot::load_reference`: every text read as before they existed), on every
//! fixture of the repository and on generated dumps larger than one batch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use upgrade_preflight::inventory::snapshot;
use upgrade_preflight::limits::Limits;

use crate::util::root;

/// Everything a snapshot read yields, as text: the objects and kind states (as `write`
/// serialises them), what reading noticed, the server version and capture time, or the error.
fn read(path: &Path, fast: bool) -> String {
    let limits = Limits::default();
    let r = if fast { snapshot::load_with(path, &limits) } else { snapshot::load_reference(path, &limits) };
    match r {
        Ok(inv) => format!(
            "{}\n{:?}\n{:?} {:?} {}",
            snapshot::write(&inv),
            inv.input,
            inv.server_version,
            inv.capture_time(),
            inv.len()
        ),
        Err(e) => format!("error: {e}"),
    }
}

fn assert_same(path: &Path) -> String {
    let fast = read(path, true);
    let reference = read(path, false);
    assert!(
        fast == reference,
        "{}: the fast reader differs:\n{fast}\n---- reference ----\n{reference}",
        path.display()
    );
    fast
}

#[test]
fn every_fixture_reads_the_same_fast() {
    let r = root();
    let mut paths: Vec<PathBuf> = Vec::new();
    for d in std::fs::read_dir(r.join("tests/fixtures/bundles")).unwrap().flatten() {
        if d.path().is_dir() {
            paths.push(d.path());
        }
    }
    let mut dirs = vec![
        r.join("tests/fixtures/clusters"),
        r.join("tests/fixtures/checks"),
        r.join("tests/fixtures/change"),
        r.join("tests/fixtures/peers"),
        r.join("examples"),
    ];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml" || x == "json") {
                paths.push(p);
            }
        }
    }
    assert!(paths.len() > 200, "{} fixtures", paths.len());
    let read_ok = paths.iter().filter(|p| !assert_same(p).starts_with("error:")).count();
    assert!(read_ok > 150, "only {read_ok} fixtures read without error");
}

/// One Pod as kubectl writes it, in YAML (as a list item) or JSON, with its number woven
/// into names, some long wrapped messages, literal blocks and a Secret reference.
fn pod_yaml(i: usize, out: &mut String) {
    let _ = write!(
        out,
        r#"- apiVersion: v1
  kind: Pod
  metadata:
    annotations:
      note: |
        line one {i}
        line two
    creationTimestamp: "2024-03-26T10:43:59Z"
    labels:
      app: web
      team: t{team}
    name: web-{i:07}
    namespace: team-{ns}
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: ReplicaSet
      name: web-7d9f8c6b5
      uid: ca82db22-ef61-49db-ad84-35e502375121
    resourceVersion: "{rv}"
  spec:
    containers:
    - env:
      - name: DB_URL
        valueFrom:
          secretKeyRef:
            key: url
            name: db
      image: registry.example.com/shop/web:1.24.{patch}
      name: web
      ports:
      - containerPort: 8080
        protocol: TCP
    nodeName: worker-{node}
  status:
    conditions:
    - lastTransitionTime: "2024-03-26T10:44:10Z"
      message: 'containers with unready status: [web]. 0/3 nodes are available: 3 Insufficient
        cpu, item {i}.'
      status: "False"
      type: Ready
    containerStatuses:
    - name: web
      ready: false
      restartCount: {restarts}
      state:
        waiting:
          reason: CrashLoopBackOff
    phase: Running
"#,
        team = i % 50,
        ns = i % 20,
        rv = 1_000_000 + i,
        patch = i % 7,
        node = i % 5,
        restarts = i % 9,
    );
}

#[test]
fn generated_dumps_larger_than_a_batch_read_the_same_fast() {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("apiVersion: v1\nitems:\n");
    let mut i = 0;
    while yaml.len() < 5 << 20 {
        pod_yaml(i, &mut yaml);
        // Now and then an item only serde-saphyr reads (flow style), and a Secret.
        if i % 997 == 0 {
            let _ = writeln!(yaml, "- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: flow-{i}, namespace: a}}}}");
            let _ = write!(
                yaml,
                "- apiVersion: v1\n  data:\n    url: czNjcjN0LXZhbHVl\n  kind: Secret\n  metadata:\n    name: db-{i}\n    namespace: team-0\n  type: Opaque\n"
            );
        }
        i += 1;
    }
    yaml.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    let yaml_path = dir.path().join("dump.yaml");
    std::fs::write(&yaml_path, &yaml).unwrap();
    let read_yaml = assert_same(&yaml_path);
    assert!(read_yaml.contains("web-0000000") && read_yaml.contains("flow-997"), "objects read");
    assert!(!read_yaml.contains("czNjcjN0"), "a Secret's value was kept");

    // The same objects as a JSON List and as JSON lines (documents read in batches).
    // The list (first) and its items.
    let docs: Vec<serde_json::Value> =
        snapshot::parse_documents(&yaml, "dump.yaml").unwrap().into_iter().skip(1).map(|(_, v)| v).collect();
    let json = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    let json_path = dir.path().join("dump.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    let read_json = assert_same(&json_path);
    let lines: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let lines_path = dir.path().join("dump.jsonl");
    std::fs::write(&lines_path, lines).unwrap();
    let read_lines = assert_same(&lines_path);
    // The same objects whichever the format.
    let objects = |s: &str| s.split_once("\"items\":[").map(|(_, o)| o.to_string()).unwrap_or_default();
    assert_eq!(objects(&read_json), objects(&read_yaml));
    assert_eq!(objects(&read_lines), objects(&read_yaml));
}

#[test]
fn errors_and_what_comes_before_them_are_the_same_fast() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = String::from("apiVersion: v1\nitems:\n");
    let mut i = 0;
    while big.len() < 5 << 20 {
        pod_yaml(i, &mut big);
        i += 1;
    }
    let cases: Vec<(&str, String)> = vec![
        // An invalid item after more than a batch of good ones.
        ("late-error.yaml", format!("{big}- a: [unclosed\nkind: List\n")),
        ("dup-key.yaml", format!("{big}- apiVersion: v1\n  kind: Pod\n  kind: Pod\nkind: List\n")),
        ("bad-json.json", "{\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},{]}".to_string()),
        ("kind-number.json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n{\"kind\":5,\"items\":[]}".to_string()),
        ("items-not-list.json", "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":{\"a\":1}}".to_string()),
        ("null-items.json", "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":null}".to_string()),
        ("array.json", "[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}},{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[{\"metadata\":{\"name\":\"b\"}}]}, 5]".to_string()),
        ("no-kind.yaml", "apiVersion: v1\nkind: PodList\nitems:\n- metadata:\n    name: a\n- metadata:\n    name: b\n  spec: {}\n".to_string()),
        ("missing-identity.yaml", "metadata:\n  name: x\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: y\n".to_string()),
    ];
    for (name, text) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        assert_same(&p);
    }
    // A capture tree whose files fail in different ways: listed the same.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.yaml"), format!("{big}- a: [unclosed\nkind: List\n")).unwrap();
    std::fs::write(
        tree.join("b.json"),
        "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[{\"metadata\":{\"name\":\"b\"}}, 7]}",
    )
    .unwrap();
    std::fs::write(tree.join("c.yaml"), "just: text\n").unwrap();
    assert_same(&tree);
}
