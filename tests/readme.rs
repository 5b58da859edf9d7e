//! The copy-paste pipeline jobs in the README stay valid: they parse as YAML and every
//! upgrade-preflight command line in them is one the binary accepts.

use clap::Parser as _;
use serde_json::Value;

use crate::util::root;

/// The fenced ```yaml blocks of the README section `title`.
fn yaml_blocks(title: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find(&format!("\n## {title}\n")).unwrap_or_else(|| panic!("no section {title}"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    section.split("```yaml\n").skip(1).map(|b| b[..b.find("```").unwrap()].to_string()).collect()
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(m) => m.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Every `upgrade-preflight snapshot|check …` command in a shell script, its variables filled in.
fn commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        for (i, _) in line.match_indices("upgrade-preflight ") {
            let rest = &line[i..];
            let sub = rest.split_whitespace().nth(1).unwrap_or_default();
            if sub != "check" && sub != "snapshot" {
                continue;
            }
            let cmd = rest.split("||").next().unwrap().trim_end_matches(';');
            let cmd = cmd
                .replace("$TARGET", "release:shop/keep=0.42.0")
                .replace("$VALUES", "shop/keep=values.yaml")
                .replace("\"$f\"", "junit")
                .replace("$f", "junit");
            found.push(cmd.split_whitespace().map(|w| w.trim_matches('"').to_string()).collect());
        }
    }
    found
}

#[test]
fn pipeline_jobs_parse_and_run_commands_the_binary_accepts() {
    let blocks = yaml_blocks("Use it in your pipeline");
    assert_eq!(blocks.len(), 2, "GitHub Actions and GitLab CI");
    let mut seen = 0;
    for (i, block) in blocks.iter().enumerate() {
        let doc: Value = serde_saphyr::from_str(block).unwrap_or_else(|e| panic!("block {i}: {e}\n{block}"));
        let mut texts = Vec::new();
        strings(&doc, &mut texts);
        for argv in texts.iter().flat_map(|t| commands(t)) {
            upgrade_preflight::commands::cli::Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
            seen += 1;
        }
    }
    assert!(seen >= 4, "{seen} commands");
    let gitlab: Value = serde_saphyr::from_str(&blocks[1]).unwrap();
    let job = &gitlab["upgrade-preflight"];
    assert_eq!(job["artifacts"]["reports"]["junit"], "report.junit");
    assert_eq!(job["retry"]["exit_codes"], serde_json::json!([3]), "3 may be retried, never passed");
    let github: Value = serde_saphyr::from_str(&blocks[0]).unwrap();
    let steps = github["jobs"]["preflight"]["steps"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["run"], "exit ${{ steps.check.outputs.code }}", "the exit code gates the job");
}

/// `shown` is an excerpt of `real`: objects have exactly the same keys, an array's items are
/// some of the real array's items in the same order, a string ending in `…` is a prefix,
/// anything else is equal.
fn excerpt_of(shown: &Value, real: &Value, at: &str) -> Result<(), String> {
    match (shown, real) {
        (Value::Object(s), Value::Object(r)) => {
            let (sk, rk): (Vec<_>, Vec<_>) = (s.keys().collect(), r.keys().collect());
            if sk != rk {
                return Err(format!("{at}: the README shows fields {sk:?}, the report has {rk:?}"));
            }
            s.iter().try_for_each(|(k, v)| excerpt_of(v, &r[k], &format!("{at}.{k}")))
        }
        (Value::Array(s), Value::Array(r)) => {
            if s.is_empty() {
                return Err(format!("{at}: an empty array shows nothing"));
            }
            let mut from = 0;
            for (i, sv) in s.iter().enumerate() {
                let found = r[from..].iter().position(|rv| excerpt_of(sv, rv, at).is_ok());
                match found {
                    Some(j) => from += j + 1,
                    None => {
                        let why = r.iter().map(|rv| excerpt_of(sv, rv, &format!("{at}[{i}]"))).find_map(Result::err);
                        return Err(format!(
                            "{at}[{i}] is no item of the report (in order): {}",
                            why.unwrap_or_default()
                        ));
                    }
                }
            }
            Ok(())
        }
        (Value::String(s), Value::String(r)) if s.ends_with('…') => {
            if r.starts_with(s.trim_end_matches('…')) {
                Ok(())
            } else {
                Err(format!("{at}: {r:?} does not start with {s:?}"))
            }
        }
        _ if shown == real => Ok(()),
        _ => Err(format!("{at}: the README shows {shown}, the report has {real}")),
    }
}

#[test]
fn readme_json_example_is_the_demo_report() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("### JSON report (`-o json`").unwrap();
    let block = &readme[start..];
    let block = &block[block.find("```json\n").unwrap() + 8..];
    let shown: Value = serde_json::from_str(&block[..block.find("```").unwrap()]).unwrap();
    let (code, real) = crate::util::check_json("examples/demo-cluster.yaml", &[]);
    assert_eq!(code, 1);
    // The summary and every scalar at the top are shown whole.
    assert_eq!(shown["summary"], real["summary"]);
    excerpt_of(&shown, &real, "report").unwrap_or_else(|e| panic!("{e}"));
}
