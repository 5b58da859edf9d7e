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
        (
            "examples/demo-cluster.yaml",
            &["--target", "harvester=1.5.0", "--target", "rancher=2.8.5", "--target", "kubernetes=1.26"],
            "NO-GO",
        ),
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
/// so the test above holds for fields not yet thought of.
fn assert_closed(schema: &Value, path: &str) {
    match schema {
        Value::Object(m) => {
            if m.contains_key("properties") {
                assert_eq!(m.get("additionalProperties"), Some(&json!(false)), "{path} is open");
            }
            for (k, v) in m {
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
