//! JUnit XML, the test-report format Jenkins, GitLab and GitHub (test-reporter actions)
//! render. One `<testsuite>` per cluster, one `<testcase>` per evaluated check or rule id:
//! - findings → `<failure type="<severity>">`, listing every object, message, remediation;
//! - not applicable → `<skipped>` with the reason;
//! - could not evaluate → `<error type="could-not-evaluate">` with the reason;
//! - evaluated and found nothing → a passing test case.
//!
//! Every finding is a failure whatever its severity (the `type` attribute says which), so
//! a GO with warnings shows failed test cases; the verdict and exit code are suite
//! properties. No timestamps or durations: the output is deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Report, Section};
use crate::eval::Finding;

/// Escapes text for an XML attribute value (quotes, markup, and line breaks as character
/// references so parsers keep them); drops characters XML 1.0 forbids.
#[must_use]
pub fn escape(s: &str) -> String {
    escape_with(s, true)
}

/// Escapes text for XML element content: markup only, line breaks kept as they are.
#[must_use]
pub fn escape_text(s: &str) -> String {
    escape_with(s, false)
}

fn escape_with(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            // Other C0 controls and U+FFFE/U+FFFF are not allowed in XML 1.0, not even as
            // character references.
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Renders one or more cluster reports as one JUnit document.
#[must_use]
pub fn render(sections: &[Section<'_>]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for s in sections {
        let (t, f, e, k, xml) = match s.outcome {
            Ok(r) => suite(s.context, r),
            Err(why) => error_suite(s.context.unwrap_or("cluster"), why),
        };
        tests += t;
        failures += f;
        errors += e;
        skipped += k;
        suites.push_str(&xml);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"upgrade-preflight\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">\n{suites}</testsuites>\n"
    )
}

fn property(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "      <property name=\"{}\" value=\"{}\"/>", escape(name), escape(value));
}

/// `(tests, failures, errors, skipped, xml)` of one cluster.
fn suite(context: Option<&str>, r: &Report) -> (usize, usize, usize, usize, String) {
    let mut by_id: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &r.eval.findings {
        by_id.entry(&f.check_id).or_default().push(f);
    }
    let name = match context {
        Some(c) => c.to_string(),
        None => format!("{} {}", r.source_type, r.source_location),
    };
    let class = |id: &str| {
        let component = r.eval.rules.get(id).and_then(|i| i.component.as_deref()).unwrap_or("general");
        match context {
            Some(c) => format!("upgrade-preflight.{c}.{component}"),
            None => format!("upgrade-preflight.{component}"),
        }
    };
    let mut cases = String::new();
    let mut ids: Vec<&str> = r.eval.evaluated.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in &ids {
        let _ = write!(cases, "    <testcase name=\"{}\" classname=\"{}\"", escape(id), escape(&class(id)));
        match by_id.get(id) {
            None => cases.push_str("/>\n"),
            Some(fs) => {
                let worst = fs.iter().map(|f| f.severity).max().unwrap_or(r.policy.fail_on);
                let first = fs.first().map(|f| f.message.as_str()).unwrap_or_default();
                let message = format!("{} finding(s), {worst}: {first}", fs.len());
                let _ = writeln!(
                    cases,
                    ">\n      <failure type=\"{worst}\" message=\"{}\">{}</failure>\n    </testcase>",
                    escape(&message),
                    escape_text(&failure_text(r, id, fs))
                );
            }
        }
    }
    for s in &r.eval.not_applicable {
        let _ = writeln!(
            cases,
            "    <testcase name=\"{}\" classname=\"{}\">\n      <skipped message=\"{}\"/>\n    </testcase>",
            escape(&s.check_id),
            escape(&class(&s.check_id)),
            escape(&format!("not applicable: {}", s.reason))
        );
    }
    for s in &r.eval.could_not_evaluate {
        let _ = writeln!(
            cases,
            "    <testcase name=\"{}\" classname=\"{}\">\n      <error type=\"could-not-evaluate\" message=\"{}\">{}</error>\n    </testcase>",
            escape(&s.check_id),
            escape(&class(&s.check_id)),
            escape(&format!("could not evaluate ({}): {}", s.severity, s.reason)),
            escape_text(&s.reason)
        );
    }
    let tests = ids.len() + r.eval.not_applicable.len() + r.eval.could_not_evaluate.len();
    let (failures, errors, skipped) = (by_id.len(), r.eval.could_not_evaluate.len(), r.eval.not_applicable.len());
    let mut props = String::new();
    property(&mut props, "verdict", r.verdict.as_str());
    property(&mut props, "incomplete", if r.incomplete { "true" } else { "false" });
    property(&mut props, "exitCode", &r.exit.code().to_string());
    property(&mut props, "headline", &r.headline());
    property(&mut props, "source", &format!("{} {}", r.source_type, r.source_location));
    if let Some(url) = &r.server {
        property(&mut props, "server", url);
    }
    if let Some(v) = &r.server_version {
        property(&mut props, "serverVersion", v);
    }
    if let Some(ns) = &r.namespaces {
        property(&mut props, "namespaces", &ns.join(","));
    }
    let xml = format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">\n    <properties>\n{props}    </properties>\n{cases}  </testsuite>\n",
        escape(&name)
    );
    (tests, failures, errors, skipped, xml)
}

/// A cluster that could not be collected: one errored test case, so the suite is visible.
fn error_suite(context: &str, why: &str) -> (usize, usize, usize, usize, String) {
    let xml = format!(
        "  <testsuite name=\"{c}\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\">\n    <properties>\n      <property name=\"verdict\" value=\"NO-GO\"/>\n      <property name=\"incomplete\" value=\"true\"/>\n      <property name=\"exitCode\" value=\"3\"/>\n    </properties>\n    <testcase name=\"cluster-reachable\" classname=\"upgrade-preflight.{c}\">\n      <error type=\"could-not-evaluate\" message=\"{m}\">{t}</error>\n    </testcase>\n  </testsuite>\n",
        c = escape(context),
        m = escape(why),
        t = escape_text(why)
    );
    (1, 0, 1, 0, xml)
}

/// The body of a `<failure>`: every finding with its objects, then how to fix it.
fn failure_text(r: &Report, id: &str, fs: &[&Finding]) -> String {
    let mut t = String::new();
    for f in fs {
        let _ = writeln!(t, "[{}] {}", f.severity.to_string().to_uppercase(), f.message);
        for (i, o) in f.objects.iter().enumerate() {
            let role = if i == 0 { "object" } else { "evidence" };
            let _ = writeln!(t, "  {role}: {o} ({})", o.api_version);
        }
    }
    let fix = fs.first().map(|f| f.remediation.trim()).unwrap_or_default();
    let _ = writeln!(t, "fix: {fix}");
    let refs = fs.first().map(|f| f.references.as_slice()).unwrap_or_default();
    for link in refs {
        let _ = writeln!(t, "see: {link}");
    }
    if let Some(info) = r.eval.rules.get(id) {
        let _ = writeln!(t, "check: {id}: {}", info.title);
    }
    t
}
