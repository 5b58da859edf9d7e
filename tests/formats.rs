//! The pipeline formats: JUnit, Markdown and SARIF, each snapshot-tested on the demo
//! cluster and read back the way their consumers read them.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{check_json, run, temp_tree};

const DEMO: &str = "examples/demo-cluster.yaml";

fn demo(format: &str) -> String {
    let out = run(&["check", "--snapshot", DEMO, "-o", format]);
    assert_eq!(out.code, 1, "the exit code does not depend on the format: {}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.stdout
}

/// Ids by outcome in the JSON report of the same run, to compare other formats against.
struct Ids {
    evaluated: BTreeSet<String>,
    with_findings: BTreeSet<String>,
    not_applicable: BTreeSet<String>,
    could_not_evaluate: BTreeSet<String>,
}

fn ids(extra: &[&str], snapshot: &str) -> Ids {
    let (_, r) = check_json(snapshot, extra);
    let set = |key: &str| -> BTreeSet<String> {
        r[key].as_array().unwrap().iter().map(|s| s["checkId"].as_str().unwrap().to_string()).collect()
    };
    let not_applicable = set("notApplicable");
    let could_not_evaluate = set("couldNotEvaluate");
    let with_findings = set("findings");
    // The JSON report counts evaluated ids; the list is the catalog ids minus the others
    // (planning ids only run with --target, which these callers do not give, except
    // chart-kube-version, which judges installed releases on every run).
    let listed = run(&["list", "-o", "json"]);
    let all: Vec<Value> = serde_json::from_str(&listed.stdout).unwrap();
    let evaluated: BTreeSet<String> = all
        .iter()
        .filter(|e| e["kind"] != "component" && (e["kind"] != "plan" || e["id"] == "chart-kube-version"))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .filter(|id| !not_applicable.contains(id) && !could_not_evaluate.contains(id))
        .collect();
    assert_eq!(evaluated.len(), r["summary"]["evaluated"].as_u64().unwrap() as usize);
    Ids { evaluated, with_findings, not_applicable, could_not_evaluate }
}

#[test]
fn junit_has_one_test_case_per_check_and_reads_back() {
    let xml = demo("junit");
    insta::assert_snapshot!("demo_junit", xml);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), 1);
    let cases: Vec<_> = suites[0].children().filter(|n| n.has_tag_name("testcase")).collect();
    let ids = ids(&[], DEMO);
    let names: BTreeSet<String> = cases.iter().map(|c| c.attribute("name").unwrap().to_string()).collect();
    assert_eq!(names.len(), cases.len(), "one test case per id");
    let expected: BTreeSet<String> =
        ids.evaluated.iter().chain(&ids.not_applicable).chain(&ids.could_not_evaluate).cloned().collect();
    assert_eq!(names, expected);
    let with = |tag: &str| -> BTreeSet<String> {
        cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name(tag)))
            .map(|c| c.attribute("name").unwrap().to_string())
            .collect()
    };
    assert_eq!(with("failure"), ids.with_findings);
    assert_eq!(with("skipped"), ids.not_applicable);
    assert_eq!(with("error"), ids.could_not_evaluate);
    // Counts agree with the cases, at both levels.
    for (node, n) in [(root, cases.len()), (suites[0], cases.len())] {
        assert_eq!(node.attribute("tests").unwrap(), n.to_string());
        assert_eq!(node.attribute("failures").unwrap(), ids.with_findings.len().to_string());
        assert_eq!(node.attribute("errors").unwrap(), ids.could_not_evaluate.len().to_string());
        assert_eq!(node.attribute("skipped").unwrap(), ids.not_applicable.len().to_string());
    }
    // A failure lists every object, the message and the remediation.
    let panic = cases.iter().find(|c| c.attribute("name") == Some("rancher-agent-ingress-panic")).unwrap();
    let failure = panic.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("type"), Some("blocker"));
    let body = failure.text().unwrap();
    assert!(body.contains("object: Ingress higress-system/httpbin (networking.k8s.io/v1)"), "{body}");
    assert!(body.contains("evidence: Deployment cattle-system/cattle-cluster-agent"), "{body}");
    assert!(body.contains("fix: Upgrade Rancher"), "{body}");
    assert!(failure.attribute("message").unwrap().contains("Rancher 2.7.5 (<2.7.8)"));
    let props: Vec<(&str, &str)> = suites[0]
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|p| (p.attribute("name").unwrap(), p.attribute("value").unwrap()))
        .collect();
    assert!(props.contains(&("verdict", "NO-GO")) && props.contains(&("exitCode", "1")), "{props:?}");
}

/// A check whose message carries XML and Markdown metacharacters and a control character.
fn hostile() -> tempfile::TempDir {
    temp_tree(&[
        (
            "checks/hostile-text.yaml",
            "id: hostile-text\ntitle: Hostile <text> & \"quotes\"\nseverity: warning\nresources:\n  - {api-version: v1, kind: ConfigMap}\nrule:\n  cel: 'true'\n  message-expression: object.data.text\nremediation: Use ]]> and </failure> | *bold* `code` with care\n",
        ),
        (
            "snap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: d}\ndata:\n  text: \"a <b> & \\\"c\\\" 'd' ]]> </failure>\\x01 | *e* `f` [g](h) <!-- i\"\n",
        ),
    ])
}

#[test]
fn junit_escapes_everything_that_could_break_the_document() {
    let dir = hostile();
    let snap = dir.path().join("snap.yaml");
    let checks = dir.path().join("checks");
    let args = ["check", "--snapshot", snap.to_str().unwrap(), "--checks", checks.to_str().unwrap()];
    let out = run(&[&args[..], &["--only", "hostile-text", "-o", "junit"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc = roxmltree::Document::parse(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.stdout));
    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    let expected = "a <b> & \"c\" 'd' ]]> </failure>\u{FFFD} | *e* `f` [g](h) <!-- i";
    assert!(failure.attribute("message").unwrap().ends_with(expected), "{:?}", failure.attribute("message"));
    assert!(failure.text().unwrap().contains(expected));
    assert!(failure.text().unwrap().contains("fix: Use ]]> and </failure> | *bold*"));
    assert!(!out.stdout.contains('\u{1}'), "control characters are not allowed in XML 1.0");

    // Markdown: no raw HTML and no cell break survives.
    let out = run(&[&args[..], &["--only", "hostile-text", "-o", "markdown"]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let row = out.stdout.lines().find(|l| l.starts_with("| warning |")).unwrap();
    assert_eq!(row.matches(" | ").count() + 2, 5, "exactly four cells: {row}");
    assert!(!row.contains('<') && !row.contains('\u{1}'), "{row}");
    assert!(row.contains("&lt;b&gt; &amp;") && row.contains("\\*e\\* \\`f\\` \\[g\\](h) &lt;!-- i"), "{row}");
}

#[test]
fn markdown_is_a_compact_comment() {
    let md = demo("markdown");
    insta::assert_snapshot!("demo_markdown", md);
    let first = md.lines().next().unwrap();
    assert!(first.starts_with("### upgrade-preflight **[NO-GO]** 10 blocker(s), 4 warning(s)"), "{first}");
    assert!(
        md.chars().all(|c| (c as u32) < 0x2000 || "—…·".contains(c)),
        "no emoji or pictographs: the marker is plain text"
    );
    assert!(md.contains("| Rancher | 2.7.5 | image rancher/rancher-agent:v2.7.5 of Deployment"), "{md}");
    assert!(md.contains("| blocker | `rancher-agent-ingress-panic` | Ingress higress-system/httpbin |"), "{md}");
    assert!(md.contains("<details><summary>Could not evaluate (2)</summary>"), "{md}");
    let (_, r) = check_json(DEMO, &[]);
    let rows = md
        .lines()
        .filter(|l| l.starts_with("| blocker |") || l.starts_with("| warning |") || l.starts_with("| info |"));
    assert_eq!(rows.count(), r["findings"].as_array().unwrap().len());
    // Details open and close in pairs.
    assert_eq!(md.matches("<details>").count(), md.matches("</details>").count());

    let out = run(&["check", "--snapshot", "tests/fixtures/clusters/healthy.yaml", "-o", "markdown"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("### upgrade-preflight **[GO]** 0 blocker(s), 0 warning(s)\n"), "{}", out.stdout);
    assert!(out.stdout.contains("Findings: none."));
}

#[test]
fn sarif_has_one_rule_per_id_and_logical_locations() {
    let text = demo("sarif");
    let log: Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!("demo_sarif", log);
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run0 = &runs[0];
    assert_eq!(run0["tool"]["driver"]["name"], "upgrade-preflight");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let ids = ids(&[], DEMO);
    let expected: BTreeSet<String> =
        ids.evaluated.iter().chain(&ids.not_applicable).chain(&ids.could_not_evaluate).cloned().collect();
    assert_eq!(rule_ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>(), expected, "one rule per id");
    assert_eq!(rule_ids.len(), expected.len());
    for rule in rules {
        assert!(!rule["shortDescription"]["text"].as_str().unwrap().is_empty(), "{rule}");
        assert!(["error", "warning", "note"].contains(&rule["defaultConfiguration"]["level"].as_str().unwrap()));
    }
    let (_, r) = check_json(DEMO, &[]);
    let findings = r["findings"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    let fails: Vec<&Value> = results.iter().filter(|x| x["kind"] == "fail").collect();
    assert_eq!(fails.len(), findings.len());
    for (res, f) in fails.iter().zip(findings) {
        assert_eq!(res["ruleId"], f["checkId"]);
        let i = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], res["ruleId"], "ruleIndex points at the rule");
        let level = match f["severity"].as_str().unwrap() {
            "blocker" => "error",
            "warning" => "warning",
            _ => "note",
        };
        assert_eq!(res["level"], level);
        assert_eq!(res["message"]["text"], f["message"]);
        let loc = &res["locations"][0]["logicalLocations"][0];
        let obj = &f["objects"][0];
        assert_eq!(loc["kind"], "resource");
        assert_eq!(loc["name"], obj["name"]);
        assert_eq!(loc["properties"]["apiVersion"], obj["apiVersion"]);
        let fqn = loc["fullyQualifiedName"].as_str().unwrap();
        assert!(fqn.starts_with(obj["kind"].as_str().unwrap()) && fqn.ends_with(obj["name"].as_str().unwrap()));
        let evidence = f["objects"].as_array().unwrap().len() - 1;
        assert_eq!(res["relatedLocations"].as_array().map_or(0, Vec::len), evidence);
    }
    let open: Vec<&Value> = results.iter().filter(|x| x["kind"] == "open").collect();
    assert_eq!(open.len(), ids.could_not_evaluate.len());
    assert!(open.iter().all(|x| x["level"] == "none"));
    assert_eq!(run0["invocations"][0]["exitCode"], 1);
}

#[test]
fn list_accepts_only_table_and_json() {
    for format in ["junit", "markdown", "sarif"] {
        let out = run(&["list", "-o", format]);
        assert_eq!(out.code, 2, "{format}");
        assert!(
            out.stderr.contains(&format!("invalid value '{format}'"))
                && out.stderr.contains("[possible values: table, json]"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn every_format_honours_the_output_file_and_quiet() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["table", "json", "junit", "markdown", "sarif"] {
        let file = dir.path().join(format!("report.{format}"));
        let out = run(&["check", "--snapshot", DEMO, "-o", format, "--output-file", file.to_str().unwrap()]);
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), demo(format), "{format}");
        let out = run(&["check", "--snapshot", DEMO, "-o", format, "-q"]);
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "NO-GO: 10 blocker(s), 4 warning(s), 2 check(s) could not be evaluated\n", "{format}");
    }
}

#[test]
fn a_planned_upgrade_shows_in_every_format() {
    let snap = "tests/fixtures/checks/upgrade-path/fail.below-minimum.yaml";
    let args = ["check", "--snapshot", snap, "--target", "harvester=1.5.0", "-o"];
    let md = run(&[&args[..], &["markdown"]].concat());
    assert_eq!(md.code, 1);
    assert!(
        md.stdout.contains("| Harvester | v1.4.0 | 1.5.0 | blocked | `upgrade-path`, allowed next steps: =1.4.1 |"),
        "{}",
        md.stdout
    );
    let out = run(&[&args[..], &["sarif"]].concat());
    assert_eq!(out.code, 1, "the exit code does not depend on the format: {}", out.stderr);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["properties"]["plan"][0]["verdict"], "blocked");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let rule = rules.iter().find(|r| r["id"] == "upgrade-path").expect("planning ids are rules too");
    assert_eq!(rule["properties"]["kind"], "plan");
    for res in run0["results"].as_array().unwrap() {
        let i = res["ruleIndex"].as_u64().unwrap_or_else(|| panic!("no ruleIndex: {res}")) as usize;
        assert_eq!(rules[i]["id"], res["ruleId"]);
    }
    let out = run(&[&args[..], &["junit"]].concat());
    assert_eq!(out.code, 1, "the exit code does not depend on the format: {}", out.stderr);
    let xml = out.stdout;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = doc.descendants().find(|n| n.attribute("name") == Some("upgrade-path")).unwrap();
    assert!(case.children().any(|n| n.has_tag_name("failure")));
}
