//! The JSON wire format, `schemaVersion: 1`. These types are the contract; they are kept
//! apart from the internal types so those can change without breaking consumers.
//!
//! ```json
//! {
//!   "schemaVersion": 1,
//!   "tool": {"name": "upgrade-preflight", "version": "0.1.0"},
//!   "source": {"type": "snapshot", "location": "examples/demo-cluster.yaml",
//!              "serverVersion": "v1.30.7+rke2r1", "objects": 42},
//!   "verdict": "NO-GO",              // GO | GO-WITH-WARNINGS | NO-GO
//!   "incomplete": false,             // a check at fail-on severity had no verdict
//!   "exitCode": 1,
//!   "failOn": "blocker",
//!   "summary": {"blocker": 5, "warning": 2, "info": 1,
//!               "evaluated": 14, "notApplicable": 2, "couldNotEvaluate": 0},
//!   "components": [{"id": "rancher", "name": "Rancher", "status": "detected",
//!                   "version": "2.7.5", "raw": "v2.7.5", "source": "image rancher/rancher:v2.7.5 of …"}],
//!   "findings": [{"checkId": "…", "severity": "blocker", "component": "rancher",
//!                 "objects": [{"kind": "Ingress", "namespace": "x", "name": "y", "apiVersion": "networking.k8s.io/v1"}],
//!                 "message": "…", "remediation": "…", "references": ["https://…"]}],
//!   "notApplicable": [{"checkId": "…", "severity": "blocker", "reason": "…"}],
//!   "couldNotEvaluate": [{"checkId": "…", "severity": "blocker", "reason": "…"}],
//!   // Only with --target/--values: one step per targeted component and Helm release.
//!   "plan": [{"component": "harvester", "name": "Harvester", "current": "v1.4.0", "target": "1.5.0",
//!             "verdict": "blocked",      // ok | no-change | warning | blocked | unknown
//!             "findings": ["upgrade-path"], "nextSteps": ["=1.4.1", ">=1.4.2, <1.5.0"],
//!             "gates": [{"checkId": "nodes-not-ready", "result": "pass"}],   // pass | fail | n/a | unknown
//!             "order": 2,                // carry steps out by ascending order
//!             "upgradeFirst": ["cert-manager"]},   // steps that must be done before this one
//!            // a component whose running version does not support a target, not itself targeted:
//!            {"component": "cert-manager", "name": "cert-manager", "current": "v1.14.5", "verdict": "blocked",
//!             "findings": ["peer-compatibility"], "order": 1, "requiredVersion": "1.16.0",
//!             "upgradePath": ["1.15", "1.16.0"], "requiredBy": ["kubernetes"]}],
//!   // Matrices of present or planned components last verified over 180 days before the run
//!   // (the system clock); information only, never part of the verdict or exit code.
//!   "dataNotices": [{"component": "rancher", "lastVerified": "2025-01-31", "ageDays": 668, "message": "…"}]
//! }
//! ```
//! Fields may be added in a minor release; none is removed or changes meaning without a
//! new `schemaVersion`. Absent optional values are omitted, never `null`.
//!
//! Several clusters (`--context` repeated, `--all-contexts`) give
//! `{"schemaVersion": 1, "verdict", "exitCode", "clusters": {"<context>": <report above>}}`;
//! a cluster that could not be checked is
//! `{"verdict": "NO-GO", "incomplete": true, "exitCode": 3, "error": "<why>"}`.
//! `schema/report.schema.json` describes both shapes.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Report, Section};
use crate::catalog::Severity;
use crate::eval::detect::DetectStatus;
use crate::resource::ObjectRef;
use crate::version;

/// Current schema version.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    schema_version: u32,
    tool: Tool,
    source: Source<'a>,
    verdict: &'static str,
    incomplete: bool,
    exit_code: u8,
    fail_on: Severity,
    summary: Summary,
    components: Vec<Component<'a>>,
    findings: Vec<Finding<'a>>,
    not_applicable: Vec<Skipped<'a>>,
    could_not_evaluate: Vec<Skipped<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    plan: Vec<Step<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    data_notices: Vec<Notice<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Notice<'a> {
    component: &'a str,
    last_verified: &'a str,
    age_days: i64,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Step<'a> {
    component: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    verdict: &'static str,
    findings: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    next_steps: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gates: Vec<Gate<'a>>,
    order: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_version: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    upgrade_path: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    required_by: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    upgrade_first: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Gate<'a> {
    check_id: &'a str,
    result: &'static str,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Source<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    location: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_version: Option<&'a str>,
    objects: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespaces: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<SkippedWire<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    duplicates: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    conflicts: Vec<&'a str>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Serialize)]
struct SkippedWire<'a> {
    path: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    blocker: usize,
    warning: usize,
    info: usize,
    evaluated: usize,
    not_applicable: usize,
    could_not_evaluate: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Component<'a> {
    id: &'a str,
    name: &'a str,
    status: DetectStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Finding<'a> {
    check_id: &'a str,
    severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
    objects: &'a [ObjectRef],
    message: &'a str,
    remediation: &'a str,
    references: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Skipped<'a> {
    check_id: &'a str,
    severity: Severity,
    reason: &'a str,
}

fn skipped(v: &[crate::eval::Skipped]) -> Vec<Skipped<'_>> {
    v.iter().map(|s| Skipped { check_id: &s.check_id, severity: s.severity, reason: &s.reason }).collect()
}

/// Renders the report as pretty JSON with a trailing newline.
#[must_use]
pub fn render(r: &Report) -> String {
    pretty(&wire(r))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Clusters<'a> {
    schema_version: u32,
    verdict: &'static str,
    exit_code: u8,
    clusters: BTreeMap<&'a str, Cluster<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Cluster<'a> {
    Report(Box<Wire<'a>>),
    Failed(Failed<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Failed<'a> {
    verdict: &'static str,
    incomplete: bool,
    exit_code: u8,
    error: &'a str,
}

/// Renders several clusters, keyed by context.
#[must_use]
pub fn render_clusters(sections: &[Section<'_>]) -> String {
    let (verdict, exit) = super::overall(sections);
    let clusters = sections
        .iter()
        .map(|s| {
            let c = match s.outcome {
                Ok(r) => Cluster::Report(Box::new(wire(r))),
                Err(why) => Cluster::Failed(Failed {
                    verdict: super::Verdict::NoGo.as_str(),
                    incomplete: true,
                    exit_code: super::ExitStatus::Incomplete.code(),
                    error: why,
                }),
            };
            (s.context.unwrap_or("cluster"), c)
        })
        .collect();
    pretty(&Clusters { schema_version: SCHEMA_VERSION, verdict: verdict.as_str(), exit_code: exit.code(), clusters })
}

fn pretty<T: Serialize>(v: &T) -> String {
    // Serialising plain structs of strings and numbers cannot fail.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

fn wire(r: &Report) -> Wire<'_> {
    Wire {
        schema_version: SCHEMA_VERSION,
        tool: Tool { name: "upgrade-preflight", version: env!("CARGO_PKG_VERSION") },
        source: Source {
            kind: r.source_type,
            location: &r.source_location,
            server: r.server.as_deref(),
            server_version: r.server_version.as_deref(),
            objects: r.objects,
            namespaces: r.namespaces.as_deref(),
            layout: r.input.layout,
            skipped: r.input.skipped.iter().map(|s| SkippedWire { path: &s.path, reason: &s.reason }).collect(),
            duplicates: r.input.duplicates,
            conflicts: r.input.conflicts.iter().map(String::as_str).collect(),
        },
        verdict: r.verdict.as_str(),
        incomplete: r.incomplete,
        exit_code: r.exit.code(),
        fail_on: r.policy.fail_on,
        summary: Summary {
            blocker: r.count(Severity::Blocker),
            warning: r.count(Severity::Warning),
            info: r.count(Severity::Info),
            evaluated: r.eval.evaluated.len(),
            not_applicable: r.eval.not_applicable.len(),
            could_not_evaluate: r.eval.could_not_evaluate.len(),
        },
        components: r
            .eval
            .components
            .iter()
            .map(|d| Component {
                id: &d.component,
                name: &d.name,
                status: d.status(),
                version: d.version().map(version::display),
                raw: d.raw.as_deref(),
                source: d.source.as_deref(),
                reason: match &d.state {
                    crate::eval::detect::VersionState::Unknown(w) => Some(w.as_str()),
                    _ => None,
                },
            })
            .collect(),
        findings: r
            .eval
            .findings
            .iter()
            .map(|f| Finding {
                check_id: &f.check_id,
                severity: f.severity,
                component: f.component.as_deref(),
                objects: &f.objects,
                message: &f.message,
                remediation: &f.remediation,
                references: &f.references,
            })
            .collect(),
        not_applicable: skipped(&r.eval.not_applicable),
        could_not_evaluate: skipped(&r.eval.could_not_evaluate),
        plan: r
            .eval
            .plan
            .iter()
            .map(|p| Step {
                component: &p.component,
                name: &p.name,
                current: p.current.as_deref(),
                target: p.target.as_deref(),
                verdict: p.verdict.as_str(),
                findings: &p.findings,
                next_steps: &p.next_steps,
                gates: p.gates.iter().map(|(g, s)| Gate { check_id: g, result: s }).collect(),
                order: p.order,
                required_version: p.required_version.as_deref(),
                upgrade_path: &p.upgrade_path,
                required_by: &p.required_by,
                upgrade_first: &p.upgrade_first,
            })
            .collect(),
        data_notices: r
            .data_notices
            .iter()
            .map(|n| Notice {
                component: &n.component,
                last_verified: &n.last_verified,
                age_days: n.age_days,
                message: &n.message,
            })
            .collect(),
    }
}
