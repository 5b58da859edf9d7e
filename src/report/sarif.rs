//! SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), for code-scanning
//! dashboards. One `run` per cluster:
//! - `tool.driver.rules`: one rule per check, known-bad or pin id the run evaluated, tried
//!   or skipped (title, description, remediation as help, first reference as `helpUri`,
//!   default level from the severity);
//! - `results`: each finding with `level` `error` (blocker), `warning` or `note` (info) and
//!   `kind: fail`; the Kubernetes objects are *logical* locations (`kind: resource`,
//!   `fullyQualifiedName` `Kind/namespace/name`, apiVersion in the property bag): the
//!   offending object as the location, further evidence as related locations;
//! - checks that did not apply are results with `kind: notApplicable`, checks that could
//!   not be evaluated results with `kind: open` (the spec's "could not determine"), both
//!   with `level: none`;
//! - `properties.plan` lists the planned upgrade steps (`--target`, `--values`);
//! - `invocations[0]` carries the exit code; a cluster that could not be checked is a run
//!   with `executionSuccessful: false` and the reason as an error notification.
//!
//! Hand-written serde types (the format is small and stable) rather than a SARIF crate.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Report, Section};
use crate::catalog::{RuleKind, Severity};
use crate::resource::ObjectRef;

/// The schema URI written to `$schema`.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Value>,
}

/// SARIF `level` of a severity.
#[must_use]
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Blocker => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn text(s: &str) -> Value {
    json!({ "text": s })
}

fn logical(o: &ObjectRef) -> Value {
    let fqn = match &o.namespace {
        Some(ns) => format!("{}/{ns}/{}", o.kind, o.name),
        None => format!("{}/{}", o.kind, o.name),
    };
    let mut props = json!({ "apiVersion": o.api_version, "kind": o.kind, "name": o.name });
    if let Some(ns) = &o.namespace {
        props["namespace"] = json!(ns);
    }
    json!({ "name": o.name, "fullyQualifiedName": fqn, "kind": "resource", "properties": props })
}

fn driver(rules: Vec<Value>) -> Value {
    json!({
        "name": "upgrade-preflight",
        "version": env!("CARGO_PKG_VERSION"),
        "semanticVersion": env!("CARGO_PKG_VERSION"),
        "rules": rules,
    })
}

fn automation(context: Option<&str>, r: Option<&Report>) -> Value {
    let name = match (context, r) {
        (Some(c), _) => c.to_string(),
        (None, Some(r)) => r.source_location.clone(),
        (None, None) => "cluster".to_string(),
    };
    json!({ "id": format!("upgrade-preflight/{name}/") })
}

fn run(context: Option<&str>, r: &Report) -> Value {
    let ids: Vec<&String> = r.eval.rules.keys().collect();
    let index = |id: &str| ids.iter().position(|i| i.as_str() == id);
    let rules: Vec<Value> = r
        .eval
        .rules
        .values()
        .map(|info| {
            let mut rule = json!({
                "id": info.id,
                "shortDescription": text(&info.title),
                "defaultConfiguration": { "level": level(info.severity) },
                "properties": {
                    "severity": info.severity,
                    "kind": match info.kind {
                        RuleKind::Check => "check",
                        RuleKind::KnownBad => "known-bad",
                        RuleKind::Pin => "pin",
                        RuleKind::Plan => "plan",
                    },
                },
            });
            if !info.remediation.is_empty() {
                rule["help"] = text(&info.remediation);
            }
            if let Some(d) = &info.description {
                rule["fullDescription"] = text(d);
            }
            if let Some(link) = info.references.first() {
                rule["helpUri"] = json!(link);
            }
            if let Some(c) = &info.component {
                rule["properties"]["component"] = json!(c);
            }
            rule
        })
        .collect();
    let with_rule = |mut v: Value, id: &str| {
        v["ruleId"] = json!(id);
        if let Some(i) = index(id) {
            v["ruleIndex"] = json!(i);
        }
        v
    };
    let mut results = Vec::new();
    for f in &r.eval.findings {
        let mut res = json!({
            "kind": "fail",
            "level": level(f.severity),
            "message": text(&f.message),
            "properties": { "severity": f.severity, "remediation": f.remediation.trim() },
        });
        if let Some((first, evidence)) = f.objects.split_first() {
            res["locations"] = json!([{ "logicalLocations": [logical(first)] }]);
            if !evidence.is_empty() {
                res["relatedLocations"] = evidence
                    .iter()
                    .zip(1..)
                    .map(|(o, id)| json!({ "id": id, "logicalLocations": [logical(o)], "message": text("evidence") }))
                    .collect();
            }
        }
        if let Some(c) = &f.component {
            res["properties"]["component"] = json!(c);
        }
        results.push(with_rule(res, &f.check_id));
    }
    for (kind, list) in [("notApplicable", &r.eval.not_applicable), ("open", &r.eval.could_not_evaluate)] {
        for s in list {
            let res = json!({
                "kind": kind,
                "level": "none",
                "message": text(&s.reason),
                "properties": { "severity": s.severity },
            });
            results.push(with_rule(res, &s.check_id));
        }
    }
    let mut out = json!({
        "tool": { "driver": driver(rules) },
        "automationDetails": automation(context, Some(r)),
        "invocations": [{ "executionSuccessful": true, "exitCode": r.exit.code() }],
        "results": results,
        "properties": {
            "verdict": r.verdict.as_str(),
            "incomplete": r.incomplete,
            "headline": r.headline(),
            "source": { "type": r.source_type, "location": r.source_location },
        },
    });
    if let Some(url) = &r.server {
        out["properties"]["source"]["server"] = serde_json::Value::from(url.as_str());
    }
    if let Some(ns) = &r.namespaces {
        out["properties"]["source"]["namespaces"] = serde_json::json!(ns);
    }
    if !r.data_notices.is_empty() {
        out["properties"]["dataNotices"] = r
            .data_notices
            .iter()
            .map(|n| json!({ "component": n.component, "lastVerified": n.last_verified, "ageDays": n.age_days, "message": n.message }))
            .collect();
    }
    if !r.eval.plan.is_empty() {
        out["properties"]["plan"] = r
            .eval
            .plan
            .iter()
            .map(|p| {
                let mut step =
                    json!({ "component": p.component, "verdict": p.verdict.as_str(), "findings": p.findings });
                if let Some(c) = &p.current {
                    step["current"] = json!(c);
                }
                if let Some(t) = &p.target {
                    step["target"] = json!(t);
                }
                step["order"] = json!(p.order);
                if let Some(r) = &p.required_version {
                    step["requiredVersion"] = json!(r);
                }
                if !p.required_by.is_empty() {
                    step["requiredBy"] = json!(p.required_by);
                }
                step
            })
            .collect();
    }
    out
}

fn failed_run(context: Option<&str>, why: &str) -> Value {
    json!({
        "tool": { "driver": driver(Vec::new()) },
        "automationDetails": automation(context, None),
        "invocations": [{
            "executionSuccessful": false,
            "exitCode": super::ExitStatus::Incomplete.code(),
            "toolExecutionNotifications": [{ "level": "error", "message": text(why) }],
        }],
        "results": [],
        "properties": { "verdict": "NO-GO", "incomplete": true },
    })
}

/// Renders one or more clusters as one SARIF log (pretty JSON, trailing newline).
#[must_use]
pub fn render(sections: &[Section<'_>]) -> String {
    let runs = sections
        .iter()
        .map(|s| match s.outcome {
            Ok(r) => run(s.context, r),
            Err(why) => failed_run(s.context, why),
        })
        .collect();
    let log = Log { schema: SCHEMA_URI, version: "2.1.0", runs };
    // Serialising JSON values cannot fail.
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
