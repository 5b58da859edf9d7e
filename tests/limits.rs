//! Limits on hostile or oversized input: each fails fast with a message that names the file,
//! the limit and how to raise it, and with the documented exit code (3 for a snapshot, 2
//! for a data file). See README "Security".

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::{Out, run, run_env, temp_tree};
use upgrade_preflight::inventory::snapshot;
use upgrade_preflight::limits::{self, Limits};

const DEMO: &str = "examples/demo-cluster.yaml";

/// A billion-laughs document: nine levels of nine aliases, 9^9 (387 million) leaves.
fn billion_laughs(indent: &str) -> String {
    let mut s = format!("{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let refs = vec![format!("*l{}", i - 1); 9].join(", ");
        writeln!(s, "{indent}l{i}: &l{i} [{refs}]").unwrap();
    }
    s
}

/// A snapshot document nested `depth` mappings deep (including the top level).
fn deep_yaml(depth: usize) -> String {
    // The document is level 1; `spec`'s value and each `{x: …}` in it add one.
    let inner = "{x: ".repeat(depth - 1) + "1" + &"}".repeat(depth - 1);
    format!("apiVersion: example.com/v1\nkind: Thing\nmetadata: {{name: deep}}\nspec: {inner}\n")
}

fn assert_fails(out: &Out, code: i32, needles: &[&str]) {
    assert_eq!(out.code, code, "stdout: {}\nstderr: {}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}: {}", out.stderr);
    }
}

fn timed(f: impl FnOnce() -> Out) -> Out {
    let started = Instant::now();
    let out = f();
    // Generous for a debug build on a shared machine; an unbounded expansion takes minutes
    // and gigabytes.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    out
}

#[test]
fn snapshot_file_size_limit_names_the_flag_and_the_variable() {
    let dir = temp_tree(&[]);
    let big = dir.path().join("big.yaml");
    // A healthy cluster, then 1 MiB and a bit of valid YAML comments.
    let healthy = std::fs::read_to_string(crate::util::root().join("tests/fixtures/clusters/healthy.yaml")).unwrap();
    std::fs::write(&big, healthy + &"# padding\n".repeat(110_000)).unwrap();
    let p = big.to_str().unwrap();
    let out = run(&["check", "--snapshot", p, "--max-snapshot-mib", "1"]);
    assert_fails(
        &out,
        3,
        &[p, "larger than the 1 MiB snapshot file limit", "--max-snapshot-mib", "UPGRADE_PREFLIGHT_MAX_SNAPSHOT_MIB"],
    );
    let out = run_env(&["check", "--snapshot", p], &[("UPGRADE_PREFLIGHT_MAX_SNAPSHOT_MIB", "1")]);
    assert_fails(&out, 3, &["1 MiB snapshot file limit"]);
    // Raised: the same file is read, and the healthy cluster in it is a GO.
    let out = run(&["check", "--snapshot", p, "--max-snapshot-mib", "2", "-o", "json"]);
    assert!(!out.stderr.contains("limit"), "{}", out.stderr);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "GO", "{report}");
    // The default is documented as 512 MiB.
    assert_eq!(Limits::default().max_snapshot_bytes, 512 << 20);
    let help = run(&["check", "--help"]).stdout;
    assert!(help.contains("--max-snapshot-mib") && help.contains("[default: 512]"), "{help}");
}

#[test]
fn a_device_that_never_ends_is_cut_at_the_limit() {
    // /dev/zero reports size 0 and never ends: the limit must hold while reading.
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    let out = timed(|| run(&["check", "--snapshot", "/dev/zero", "--max-snapshot-mib", "1"]));
    assert_fails(&out, 3, &["/dev/zero", "1 MiB snapshot file limit"]);
}

#[test]
fn object_limit_counts_across_files_and_formats() {
    let out = run(&["check", "--snapshot", DEMO, "--max-objects", "10"]);
    assert_fails(
        &out,
        3,
        &[DEMO, "more than 10 objects, the object limit", "--max-objects", "UPGRADE_PREFLIGHT_MAX_OBJECTS"],
    );
    let out = run_env(&["check", "--snapshot", DEMO], &[("UPGRADE_PREFLIGHT_MAX_OBJECTS", "10")]);
    assert_fails(&out, 3, &["more than 10 objects"]);
    // Exactly at the limit is fine.
    let n = snapshot::load(std::path::Path::new(DEMO)).unwrap().len();
    let out = run(&["check", "--snapshot", DEMO, "--max-objects", &n.to_string()]);
    assert_eq!(out.code, 1, "the demo's verdict, not a limit: {}", out.stderr);

    // A directory: 3 + 3 objects, JSON List and YAML documents, counted together.
    let node = |i: usize| format!("{{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{{\"name\":\"n{i}\"}}}}");
    let list = format!("{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{},{},{}]}}", node(1), node(2), node(3));
    let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n";
    let dir = temp_tree(&[("s/a.json", &list), ("s/b.yaml", yaml)]);
    let s = dir.path().join("s");
    let out = run(&["check", "--snapshot", s.to_str().unwrap(), "--max-objects", "5"]);
    assert_fails(&out, 3, &["b.yaml", "more than 5 objects"]);
    let out = run(&["check", "--snapshot", s.to_str().unwrap(), "--max-objects", "6", "-o", "json"]);
    assert!(!out.stderr.contains("object limit"), "{}", out.stderr);
    let r: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(r["source"]["objects"], 6);
    let out = run(&["check", "--snapshot", dir.path().join("s/a.json").to_str().unwrap(), "--max-objects", "2"]);
    assert_fails(&out, 3, &["a.json", "more than 2 objects"]);
    assert_eq!(limits::DEFAULT_MAX_OBJECTS, 2_000_000);
}

#[test]
fn billion_laughs_in_a_snapshot_fails_fast() {
    let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: lol}}\ndata:\n{}", billion_laughs("  "));
    let dir = temp_tree(&[("lol.yaml", &text)]);
    let p = dir.path().join("lol.yaml");
    let out = timed(|| run(&["check", "--snapshot", p.to_str().unwrap()]));
    assert_fails(
        &out,
        3,
        &[p.to_str().unwrap(), "YAML aliases expand", "billion laughs", "a fixed limit for snapshot files"],
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn a_large_scalar_replayed_by_aliases_is_refused() {
    // 100 KiB once, then 2,000 aliases to it: 200 MB of text from a 110 KB file.
    let mut text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  a: &a {}\n  b: [",
        "x".repeat(100 << 10)
    );
    text.push_str(&vec!["*a"; 2000].join(", "));
    text.push_str("]\n");
    let r = snapshot::parse_bytes(text.as_bytes(), "big.yaml", &Limits::default());
    let e = r.expect_err("amplification refused").to_string();
    assert!(e.starts_with("big.yaml:") && e.contains("YAML expands to far more than the file holds"), "{e}");
}

#[test]
fn yaml_nesting_is_bounded_like_json() {
    let ok = snapshot::parse_bytes(deep_yaml(limits::MAX_YAML_DEPTH).as_bytes(), "ok.yaml", &Limits::default());
    assert_eq!(ok.expect("128 levels are accepted").len(), 1);
    let dir = temp_tree(&[("deep.yaml", &deep_yaml(limits::MAX_YAML_DEPTH + 1))]);
    let p = dir.path().join("deep.yaml");
    let out = timed(|| run(&["check", "--snapshot", p.to_str().unwrap()]));
    assert_fails(&out, 3, &["deep.yaml:", "YAML nested deeper than 128 levels"]);
    // JSON snapshots: serde_json's recursion limit, the same 128.
    let json =
        format!("{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{}1{}]}}", "[".repeat(200), "]".repeat(200));
    let dir = temp_tree(&[("deep.json", &json)]);
    let p = dir.path().join("deep.json");
    let out = timed(|| run(&["check", "--snapshot", p.to_str().unwrap()]));
    // One object too deep is skipped on its own and named (tests/inputs.rs shows the rest of
    // the file is still judged); here it was the only one: no objects, exit 3.
    assert_fails(&out, 3, &["deep.json", "object 1 of the List: nested deeper than 128 levels"]);
}

#[test]
fn large_yaml_snapshots_are_not_held_to_the_parser_defaults() {
    // serde-saphyr's default budget (1,024 documents, 250,000 nodes, 64 MiB of scalars)
    // would refuse a modest cluster's multi-document dump; ours grows with the file.
    let mut text = String::new();
    for i in 0..1100 {
        write!(text, "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{i}}}\n").unwrap();
    }
    let inv = snapshot::parse_bytes(text.as_bytes(), "many.yaml", &Limits::default()).expect("parses");
    assert_eq!(inv.len(), 1100);
    let budget = limits::snapshot_yaml_options(300 << 20).budget.unwrap();
    assert!(budget.max_nodes >= 300 << 20 && budget.max_events >= 300 << 20, "{budget:?}");
    assert!(budget.max_total_scalar_bytes >= 300 << 20, "{budget:?}");
    assert_eq!(budget.max_depth, limits::MAX_YAML_DEPTH);
}

#[test]
fn data_file_limits_exit_2_with_file_line_column() {
    let laughs = format!(
        "id: lol\ntitle: t\nseverity: info\nremediation: r\nrule:\n  builtin: missing-references\n  params:\n{}",
        billion_laughs("    ")
    );
    let deep = format!(
        "id: deep\ntitle: t\nseverity: info\nremediation: r\nrule:\n  builtin: missing-references\n  params: {}1{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let big = format!("id: big\ntitle: t\nseverity: info\nremediation: r\ndescription: {}\n", "x".repeat(1 << 20));
    let dir = temp_tree(&[("c/lol.yaml", &laughs), ("c/deep.yaml", &deep), ("c/big.yaml", &big)]);
    let c = dir.path().join("c");
    let out = timed(|| run(&["validate", "--checks", c.to_str().unwrap()]));
    let shown = c.display().to_string();
    assert_fails(
        &out,
        2,
        &[
            &format!("{shown}/lol.yaml:"),
            "YAML aliases expand",
            "a fixed limit for matrix and check files",
            &format!("{shown}/deep.yaml:7:"),
            "YAML nested deeper than 128 levels",
            &format!("{shown}/big.yaml:0:0: error: file is larger than 1 MiB, the limit for matrix and check files"),
        ],
    );
    // `check` refuses the same files with the same code before reading any cluster.
    let out = timed(|| run(&["check", "--snapshot", DEMO, "--checks", c.to_str().unwrap()]));
    assert_fails(&out, 2, &["YAML aliases expand"]);
}

#[test]
fn values_files_are_bounded_like_data_files() {
    let laughs = billion_laughs("");
    let dir =
        temp_tree(&[("lol.yaml", &laughs), ("deep.yaml", &format!("a: {}1{}\n", "[".repeat(200), "]".repeat(200)))]);
    let plan = |file: &str| {
        let arg = format!("d/web={file}");
        timed(|| run(&["check", "--snapshot", DEMO, "--target", "release:d/web=1.0.0", "--values", &arg]))
    };
    let lol = dir.path().join("lol.yaml");
    assert_fails(
        &plan(lol.to_str().unwrap()),
        2,
        &["lol.yaml:", "YAML aliases expand", "a fixed limit for --values files"],
    );
    let deep = dir.path().join("deep.yaml");
    assert_fails(&plan(deep.to_str().unwrap()), 2, &["deep.yaml:1:", "YAML nested deeper than 128 levels"]);
    // A device reports no size; the limit holds while reading.
    if Path::new("/dev/zero").exists() {
        assert_fails(
            &plan("/dev/zero"),
            2,
            &["/dev/zero: values file is larger than 16 MiB, the limit for --values files"],
        );
    }
}

/// A check file whose rule is `cel`.
fn cel_check(id: &str, cel: &str) -> String {
    format!(
        "id: {id}\ntitle: t\nseverity: blocker\nremediation: r\nresources: [{{api-version: v1, kind: Pod}}]\nrule:\n  cel: '{}'\n",
        cel.replace('\'', "''")
    )
}

#[test]
fn cel_rules_are_bounded_before_they_can_exhaust_a_stack() {
    // Each of these overflowed the stack (exit 134) before the limits: the CEL parser, the
    // projection walk and the interpreter all recurse once per level.
    let plus = |n: usize| format!("({}) > 0", vec!["1"; n].join(" + "));
    let dir = temp_tree(&[
        ("c/parens.yaml", &cel_check("parens", &format!("{}true{}", "(".repeat(100), ")".repeat(100)))),
        ("c/chain.yaml", &cel_check("chain", &plus(2000))),
        ("c/long.yaml", &cel_check("long", &plus(50_000))),
        ("c/select.yaml", &cel_check("select", &format!("object{} == 1", ".a".repeat(3000)))),
    ]);
    let c = dir.path().join("c");
    let out = timed(|| run(&["validate", "--checks", c.to_str().unwrap()]));
    assert_fails(
        &out,
        2,
        &[
            "parens.yaml:7:8: error: rule.cel: expression nested too deeply for the CEL parser",
            "chain.yaml:7:8: error: rule.cel: expression is 2001 levels deep, over the limit of 100 (split it up)",
            "long.yaml:7:8: error: rule.cel: expression is 200003 bytes, over the 16384-byte limit for CEL expressions",
            "select.yaml:7:8: error: rule.cel: expression is 3002 levels deep, over the limit of 100",
        ],
    );
    assert_eq!(out.stderr.lines().count(), 5, "one problem per file: {}", out.stderr);

    // Just under the depth limit, a rule compiles and evaluates (on the evaluation threads'
    // stack) in a debug build too.
    let deep = cel_check("deep", &plus(98));
    let snap = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: d}\n";
    let dir = temp_tree(&[("c/deep.yaml", &deep), ("s.yaml", snap)]);
    let (c, s) = (dir.path().join("c"), dir.path().join("s.yaml"));
    let out = timed(|| {
        run(&[
            "check",
            "--snapshot",
            s.to_str().unwrap(),
            "--checks",
            c.to_str().unwrap(),
            "--only",
            "deep",
            "-o",
            "json",
        ])
    });
    assert_eq!(out.code, 1, "the rule is true for the Pod: NO-GO\n{}", out.stderr);
    assert!(out.stdout.contains("\"checkId\": \"deep\""), "{}", out.stdout);
}
