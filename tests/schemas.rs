//! The published JSON Schemas (`schema/`) against what the tool really prints and reads.

use serde_json::{Value, json};

use crate::util::{check_json, root, temp_tree};

pub fn load_schema(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("schema").join(name)).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("schema/{name}: {e}"));
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("schema/{name} is not a valid schema: {e}"));
    schema
}

pub fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::draft202012::new(&load_schema(name)).unwrap()
}

/// Every validation error, one per line, or an empty string.
pub fn errors(v: &jsonschema::Validator, instance: &Value) -> String {
    v.iter_errors(instance).map(|e| format!("{}: {e}", e.instance_path())).collect::<Vec<_>>().join("\n")
}

#[test]
fn real_reports_match_the_report_schema() {
    let v = validator("report.schema.json");
    let snap_without_data = temp_tree(&[(
        "s.yaml",
        "apiVersion: upgrade-preflight.io/v1alpha1\nkind: SnapshotInfo\nresources:\n- {apiVersion: v1, kind: Node, state: failed, reason: forbidden}\n",
    )]);
    let incomplete = snap_without_data.path().join("s.yaml");
    for (snapshot, extra, verdict) in [
        ("examples/demo-cluster.yaml", &[][..], "NO-GO"),
        ("tests/fixtures/clusters/healthy.yaml", &[], "GO"),
        ("tests/fixtures/clusters/incident-keep.yaml", &["--fail-on", "warning"], "NO-GO"),
        (incomplete.to_str().unwrap(), &["--only", "nodes-not-ready"], "NO-GO"),
        // A partial view: source.namespaces.
        ("examples/demo-cluster.yaml", &["-n", "keep,oneuptime"], "NO-GO"),
        (
            "examples/demo-cluster.yaml",
            &["--target", "harvester=1.5.0", "--target", "rancher=2.8.5", "--target", "kubernetes=1.26"],
            "NO-GO",
        ),
        // Rancher 2.8.5 does not support 1.30: a step of its own (requiredVersion, requiredBy, order).
        ("tests/fixtures/clusters/healthy.yaml", &["--target", "kubernetes=1.30"], "NO-GO"),
    ] {
        let (_, r) = check_json(snapshot, extra);
        assert_eq!(r["verdict"], verdict, "{snapshot}");
        assert_eq!(r.get("plan").is_some(), extra.contains(&"--target"), "{snapshot} {extra:?}");
        let errs = errors(&v, &r);
        assert!(errs.is_empty(), "{snapshot}:\n{errs}");
    }
}

/// Adds `"undeclared": 1` at a JSON pointer.
fn with_extra_field(r: &Value, pointer: &str) -> Value {
    let mut r = r.clone();
    r.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}"))
        .as_object_mut()
        .unwrap()
        .insert("undeclared".into(), json!(1));
    r
}

#[test]
fn a_field_the_schema_does_not_declare_fails_validation() {
    let v = validator("report.schema.json");
    let (_, r) = check_json("examples/demo-cluster.yaml", &[]);
    assert!(v.is_valid(&r));
    for pointer in [
        "",
        "/tool",
        "/source",
        "/summary",
        "/components/0",
        "/findings/0",
        "/findings/0/objects/0",
        "/couldNotEvaluate/0",
    ] {
        let bad = with_extra_field(&r, pointer);
        assert!(!v.is_valid(&bad), "an undeclared field at '{pointer}' passed validation");
    }
    let (_, healthy) = check_json("tests/fixtures/clusters/healthy.yaml", &[]);
    assert!(v.is_valid(&healthy));
    assert!(
        !v.is_valid(&with_extra_field(&healthy, "/notApplicable/0")),
        "the healthy fixture has checks that do not apply"
    );
    let (_, planned) = check_json("examples/demo-cluster.yaml", &["--target", "harvester=1.5.0"]);
    assert!(v.is_valid(&planned));
    for pointer in ["/plan/0", "/plan/0/gates/0"] {
        assert!(!v.is_valid(&with_extra_field(&planned, pointer)), "{pointer}");
    }
    // Several clusters: the envelope and each entry are closed too.
    let multi = json!({"schemaVersion": 1, "verdict": "NO-GO", "exitCode": 1, "clusters": {"a": r.clone(),
        "b": {"verdict": "NO-GO", "incomplete": true, "exitCode": 3, "error": "cannot reach the cluster"}}});
    assert!(v.is_valid(&multi), "{}", errors(&v, &multi));
    for pointer in ["", "/clusters/a", "/clusters/b", "/clusters/a/findings/0"] {
        assert!(!v.is_valid(&with_extra_field(&multi, pointer)), "{pointer}");
    }
}

/// Every object schema with declared properties is closed (`additionalProperties: false`),
/// so the test above holds for fields not yet thought of. `if`/`then` subschemas are
/// conditions on an object declared elsewhere, not declarations.
fn assert_closed(schema: &Value, path: &str) {
    match schema {
        Value::Object(m) => {
            if m.contains_key("properties") {
                assert_eq!(m.get("additionalProperties"), Some(&json!(false)), "{path} is open");
            }
            for (k, v) in m.iter().filter(|(k, _)| *k != "if" && *k != "then") {
                assert_closed(v, &format!("{path}/{k}"));
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| assert_closed(v, &format!("{path}/{i}"))),
        _ => {}
    }
}

#[test]
fn every_object_in_the_report_schema_is_closed() {
    assert_closed(&load_schema("report.schema.json"), "");
}

// ---------------------------------------------------------------------------------------
// Matrix and check files (schema/matrix.schema.json, schema/check.schema.json)
// ---------------------------------------------------------------------------------------

/// `(path, parsed)` of every YAML file in a directory of the repository.
fn data_files(dir: &str) -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), v)
        })
        .collect()
}

#[test]
fn every_shipped_data_file_matches_its_schema_and_names_it() {
    for (dir, schema) in [("matrices", "matrix.schema.json"), ("checks", "check.schema.json")] {
        let v = validator(schema);
        let files = data_files(dir);
        assert!(files.len() >= 5, "{dir}: {}", files.len());
        for (path, doc) in &files {
            let errs = errors(&v, doc);
            assert!(errs.is_empty(), "{path}:\n{errs}");
            let first = std::fs::read_to_string(path).unwrap().lines().next().unwrap().to_string();
            assert_eq!(first, format!("# yaml-language-server: $schema=../schema/{schema}"), "{path}");
        }
    }
}

/// Each data file schema accepts every field the loader accepts: the kitchen-sink files
/// use all of them and `validate` takes them.
#[test]
fn the_data_schemas_accept_everything_the_loader_accepts() {
    let out = crate::util::run(&[
        "validate",
        "--matrices",
        "tests/fixtures/schema/matrices",
        "--checks",
        "tests/fixtures/schema/checks",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (dir, schema) in [
        ("tests/fixtures/schema/matrices", "matrix.schema.json"),
        ("tests/fixtures/schema/checks", "check.schema.json"),
    ] {
        let v = validator(schema);
        for (path, doc) in data_files(dir) {
            let errs = errors(&v, &doc);
            assert!(errs.is_empty(), "{path}:\n{errs}");
        }
    }
}

/// An unknown field anywhere fails the schema, and the loader rejects the same file.
#[test]
fn the_data_schemas_reject_unknown_fields_like_the_loader() {
    let cases = [
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", ""),
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", "/detect/0/image"),
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", "/detect/4/helm-release"),
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", "/known-bad/0"),
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", "/upgrade"),
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", "/values/0/required/0"),
        ("matrix.schema.json", "matrices", "tests/fixtures/schema/matrices", "sink", "/api-removals/0"),
        ("check.schema.json", "checks", "tests/fixtures/schema/checks", "sink-check", ""),
        ("check.schema.json", "checks", "tests/fixtures/schema/checks", "sink-check", "/rule"),
        ("check.schema.json", "checks", "tests/fixtures/schema/checks", "sink-check", "/resources/0"),
        ("check.schema.json", "checks", "tests/fixtures/schema/checks", "sink-check", "/when"),
        ("check.schema.json", "checks", "tests/fixtures/schema/checks", "sink-builtin", "/rule/params"),
    ];
    for (schema, flag_dir, dir, id, pointer) in cases {
        let v = validator(schema);
        let text = std::fs::read_to_string(root().join(dir).join(format!("{id}.yaml"))).unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        assert!(v.is_valid(&doc));
        let bad = with_extra_field(&doc, pointer);
        assert!(!v.is_valid(&bad), "{id}{pointer}: an unknown field passed the schema");
        // The same document (JSON is YAML) in a directory of its own: the loader says no.
        let tmp = temp_tree(&[(&format!("{id}.yaml"), &serde_json::to_string_pretty(&bad).unwrap())]);
        let other = if flag_dir == "matrices" { "checks" } else { "matrices" };
        let out = crate::util::run(&[
            "validate",
            &format!("--{flag_dir}"),
            tmp.path().to_str().unwrap(),
            &format!("--{other}"),
            root().join(format!("tests/fixtures/schema/{other}")).to_str().unwrap(),
        ]);
        assert_eq!(out.code, 2, "{id}{pointer}: the loader accepted an unknown field");
        assert!(out.stderr.contains("undeclared"), "{id}{pointer}: {}", out.stderr);
    }
    // Values the loader refuses by type are refused too.
    let v = validator("check.schema.json");
    let (_, nodes) = data_files("checks").into_iter().find(|(p, _)| p.ends_with("/nodes-not-ready.yaml")).unwrap();
    for (pointer, value) in [("/severity", json!("critical")), ("/id", json!("Nodes_Not_Ready"))] {
        let mut bad = nodes.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        assert!(!v.is_valid(&bad), "{pointer}");
    }
    let mut both = nodes.clone();
    both["rule"]["builtin"] = json!("missing-references");
    assert!(!v.is_valid(&both), "a rule is CEL or built-in, not both");
}

#[test]
fn every_object_in_the_data_schemas_is_closed() {
    assert_closed(&load_schema("matrix.schema.json"), "");
    assert_closed(&load_schema("check.schema.json"), "");
}
