//! Tests of the block-YAML reader: it never reads a text differently from serde-saphyr.

use super::*;
use proptest::prelude::*;

/// What serde-saphyr reads, as the snapshot reader calls it.
fn reference(text: &str) -> Result<Vec<(u64, Value)>, String> {
    super::super::parse_yaml(text, "t", 0, text.len()).map_err(|e| e.message)
}

/// The property: whatever the fast reader accepts, serde-saphyr reads the same way.
fn agrees(text: &str) -> bool {
    let Ok(fast) = parse(text) else { return false };
    let fast: Vec<(u64, Value)> = fast.into_iter().collect();
    assert_eq!(Ok(fast), reference(text), "the two readers differ on {text:?}");
    true
}

#[test]
fn edge_cases_agree_or_are_left_to_serde_saphyr() {
    let accepted = [
        "- a: 1\n  b: 2\n",
        "\n# c\n- a: 1\n",
        "  - a\n  - b\n",
        "k: \"abc\n  def\"\n",
        "k: 'it''s\n\n  x'\n",
        "k: plain\n  more text\n\n  after blank\n",
        "\"80\": x\n",
        "80: x\n",
        "true: x\n",
        "k: 0123\n",
        "k: -0123\n",
        "k: 1_000\n",
        "k: 0x1F\n",
        "k: 1e3\n",
        "k: .5\n",
        "k: 10.0.0.1\n",
        "k: |\n  a\n\n  b\n\n\nz: 1\n",
        "k: |-\n  a\n   b\n",
        "k: |+\n  a\n\n\nz: 1\n",
        "k: \"a  \n  b\"\n",
        "k: inf\n",
        "k: +5\n",
        "k: -0\n",
        "k:\n- a\n- b\nz: 1\n",
        "k: v # comment\n",
        "k: 2024-03-26T10:43:59Z\n",
        "k: \"\"\n",
        "k:\n",
        "k: ~\n",
        "k: []\n",
        "k: {}\n",
        ".: {}\n",
        "k:{\"type\":\"Ready\"}: {}\n",
        "- - a\n  - b\n- c\n",
        "-\n  a: 1\n",
        "k: |\n  a\n # trailing\n",
        "k:  x  \n",
        "k: Yes\n",
        "k: NULL\n",
        "k: nULL\n",
        "k: 12345678901234567890123\n",
        "k: -9223372036854775809\n",
        "k: -9223372036854775808\n",
        "k: 18446744073709551615\n",
        "k: 18446744073709551616\n",
        "k: 0o17\n",
        "k: 0b101\n",
        "k: 1.\n",
        "k: 1__0\n",
        "k: _1\n",
        "k: nan\n",
        "k: \"\\u00e9\\x41\\N\\_\\L\\P\\e\\a\\0\\/\"\n",
        "k: 'a\n  \n  b'\n",
        "key : v\n",
        "a: b#c\n",
        "a: 'x' # c\n",
        "a:\n  b:\n    c: 1\n  d: [] # e\n",
        "a:\n  - b: 1\n    c:\n    - 2\n  - d\n",
        "",
        "# only a comment\n",
        "k: http://example.com/a?b=c#d\n",
    ];
    for t in accepted {
        assert!(agrees(t), "left to serde-saphyr: {t:?}");
    }
    // Errors there, or constructs read only there.
    let refused = [
        "null: x\n",
        "~: x\n",
        "k: .inf\n",
        "k: 1e999\n",
        "a: 1\na: 2\n",
        "k: a: b\n",
        "<<: {a: 1}\n",
        "k: &a 1\n",
        "k: *a\n",
        "k: !!str 1\n",
        "k: [1, 2]\n",
        "k: >\n  folded\n",
        "k: |2\n   x\n",
        "k:\tv\n",
        "k: v\r\n",
        "k: \"a\\\n   b\"\n",
        "k: \"unterminated\n",
        "a:\n  b: 1\n c: 2\n",
        "k: v\n  - x\n",
        "- a\nk: v\n",
    ];
    for t in refused {
        assert!(parse(t).is_err(), "should be left to serde-saphyr: {t:?}");
    }
}

/// A YAML-ish text built from pieces that are often misread: the fast reader may refuse
/// it, but must never read it differently.
fn piece() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b c",
        "true",
        "No",
        "null",
        "~",
        "0",
        "01",
        "0x1F",
        "1e3",
        "-5",
        "+5",
        ".5",
        "1_0",
        "10.0.0.1",
        "-",
        ":",
        ": ",
        "#",
        " #",
        "'",
        "''",
        "\"",
        "\\",
        "\\n",
        " ",
        "  ",
        "\n",
        "\n\n",
        "[]",
        "{}",
        "&a",
        "*a",
        "!t",
        "|",
        "|-",
        ">",
        "é",
        "k:v",
        "{\"a\":1}",
        "- ",
        "? ",
    ])
    .prop_map(str::to_string)
}

fn scalar() -> impl Strategy<Value = String> {
    (prop::collection::vec(piece(), 0..4), 0..6u8, 2..6usize).prop_map(|(parts, style, ind)| {
        let s: String = parts.concat();
        let pad = " ".repeat(ind);
        match style {
            0 => s.replace('\n', &format!("\n{pad}")),
            1 => format!("'{}'", s.replace('\'', "''").replace('\n', &format!("\n{pad}"))),
            2 => serde_json::to_string(&s).unwrap_or_default(),
            3 => format!("\"{}\"", s.replace(['\\', '"'], "").replace('\n', &format!("\n{pad}"))),
            4 => format!("|\n{pad}{}", s.replace('\n', &format!("\n{pad}"))),
            _ => format!("|-\n{pad}{}\n", s.trim_end().replace('\n', &format!("\n{pad}"))),
        }
    })
}

#[derive(Debug, Clone)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
}

fn node() -> impl Strategy<Value = Node> {
    scalar().prop_map(Node::Scalar).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((scalar(), inner.clone()), 1..4).prop_map(Node::Map),
            prop::collection::vec(inner, 1..4).prop_map(Node::Seq),
        ]
    })
}

fn emit(n: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match n {
        Node::Scalar(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Node::Map(entries) => {
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                let k = k.replace('\n', " ");
                match v {
                    Node::Scalar(_) => {
                        out.push_str(&format!("{k}: "));
                        emit(v, indent + 2, out);
                    }
                    Node::Seq(_) if i % 2 == 0 => {
                        out.push_str(&format!("{k}:\n{pad}"));
                        emit(v, indent, out);
                    }
                    _ => {
                        out.push_str(&format!("{k}:\n{pad}  "));
                        emit(v, indent + 2, out);
                    }
                }
            }
        }
        Node::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                emit(v, indent + 2, out);
            }
        }
    }
}

/// Generated documents (2,000, from a fixed seed): never read differently, and the fast
/// reader reads a good share of them (else this test would prove little).
#[test]
fn generated_documents_are_never_read_differently() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let config = Config { cases: 2000, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let accepted = std::cell::Cell::new(0usize);
    runner
        .run(&node(), |n| {
            let mut text = String::new();
            emit(&n, 0, &mut text);
            accepted.set(accepted.get() + usize::from(agrees(&text)));
            Ok(())
        })
        .unwrap();
    assert!(accepted.get() > 400, "only {} generated documents read by the fast reader", accepted.get());
}

/// A Pod as `kubectl get -o yaml` writes it (go-yaml: quoted timestamps and numbers-as-text,
/// long strings wrapped, literal blocks) is read by the fast reader.
#[test]
fn a_kubectl_pod_is_read_fast() {
    let pod = r#"- apiVersion: v1
  kind: Pod
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"web"}}
      prometheus.io/scrape: "true"
    creationTimestamp: "2024-03-26T10:43:59Z"
    labels:
      app: web
      pod-template-hash: 7d9f8c6b5
    name: web-7d9f8c6b5-x2k4q
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: ReplicaSet
      name: web-7d9f8c6b5
      uid: ca82db22-ef61-49db-ad84-35e502375121
    resourceVersion: "1000001"
    uid: 0ebe8b8b-5449-4a41-bea5-000000000001
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:labels:
            .: {}
            f:app: {}
        f:status:
          f:conditions:
            k:{"type":"Ready"}:
              .: {}
      manager: kube-controller-manager
      operation: Update
      time: "2024-03-26T10:43:59Z"
  spec:
    containers:
    - args:
      - --port=8080
      env:
      - name: DB_URL
        valueFrom:
          secretKeyRef:
            key: url
            name: db
      - name: RATIO
        value: "0.5"
      image: registry.example.com/shop/web:1.24.3
      ports:
      - containerPort: 8080
        protocol: TCP
      resources:
        limits:
          cpu: 500m
          memory: 256Mi
    nodeName: worker-1
    tolerations:
    - effect: NoExecute
      key: node.kubernetes.io/not-ready
      operator: Exists
      tolerationSeconds: 300
  status:
    conditions:
    - lastProbeTime: null
      lastTransitionTime: "2024-03-26T10:44:10Z"
      message: 'containers with unready status: [web]. The scheduler says: 0/3 nodes are
        available: 3 Insufficient cpu.'
      status: "False"
      type: Ready
    containerStatuses:
    - image: registry.example.com/shop/web:1.24.3
      lastState: {}
      ready: false
      restartCount: 7
      state:
        waiting:
          message: back-off 5m0s restarting failed container=web pod=web-7d9f8c6b5-x2k4q_shop(0ebe8b8b-5449-4a41-bea5-000000000001)
          reason: CrashLoopBackOff
    hostIP: 10.0.0.1
    phase: Running
    podIP: 10.244.0.3
    qosClass: Burstable
"#;
    assert!(agrees(pod), "a kubectl Pod was left to serde-saphyr");
}

/// Every YAML document and list item of the repository's fixtures (real captures,
/// clusters, check fixtures): read the same way by both, and the real captures all by the
/// fast reader.
#[test]
fn fixtures_are_read_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("tests/fixtures"), root.join("examples")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                files.push(p);
            }
        }
    }
    // Real captures (written by kubectl or go-yaml); the other fixtures are hand-written,
    // often in flow style, which is left to serde-saphyr.
    let real = root.join("tests/fixtures/bundles");
    let (mut pieces, mut real_pieces, mut real_fast) = (0usize, 0usize, 0usize);
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else { continue };
        let Some(chunks) = super::super::split_yaml_documents(&text) else { continue };
        for (_, chunk) in chunks {
            let mut texts = vec![chunk.to_string()];
            if let Some((head, items)) = super::super::split_list_items(chunk) {
                texts = vec![head];
                texts.extend(items.into_iter().map(|(_, t)| t.to_string()));
            }
            for t in texts {
                if reference(&t).is_err() && parse(&t).is_err() {
                    continue;
                }
                pieces += 1;
                let ok = agrees(&t);
                if f.starts_with(&real) {
                    real_pieces += 1;
                    real_fast += usize::from(ok);
                }
            }
        }
    }
    assert!(pieces > 300, "{pieces} pieces of YAML in the fixtures");
    assert!(real_pieces >= 10, "{real_pieces} pieces of real captures");
    assert_eq!(real_fast, real_pieces, "real captures left to serde-saphyr");
}
