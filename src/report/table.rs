//! Human-readable report: verdict, components, findings, remediation, and what was not
//! evaluated. Colour only when asked (a TTY without `NO_COLOR`); fixed width otherwise, so
//! output is deterministic.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::{RenderOptions, Report, Section, Verdict};
use crate::catalog::Severity;
use crate::eval::detect::VersionState;
use crate::version;

/// Table width when not writing to a terminal.
pub const WIDTH: u16 = 120;

fn table(color: bool) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_width(WIDTH);
    if !color {
        t.force_no_tty();
    }
    t
}

fn severity_cell(s: Severity, color: bool) -> Cell {
    let c = Cell::new(s.to_string().to_uppercase());
    if !color {
        return c;
    }
    match s {
        Severity::Blocker => c.fg(Color::Red),
        Severity::Warning => c.fg(Color::Yellow),
        Severity::Info => c.fg(Color::Blue),
    }
}

/// Renders the report.
#[must_use]
pub fn render(r: &Report, opts: RenderOptions) -> String {
    let color = opts.color;
    let mut out = String::new();
    let version = r.server_version.as_deref().map(|v| format!(", Kubernetes {v}")).unwrap_or_default();
    let (what, server) = match &r.server {
        Some(url) => ("live context", format!(" at {url}")),
        None => (r.source_type, String::new()),
    };
    let _ = writeln!(
        out,
        "upgrade-preflight {} — {what} {}{server} ({} objects{version})",
        env!("CARGO_PKG_VERSION"),
        r.source_location,
        r.objects
    );
    let _ = writeln!(out);

    let mut comps = table(color);
    comps.set_header(vec!["COMPONENT", "VERSION", "DETECTED FROM"]);
    for d in &r.eval.components {
        let (v, from) = match &d.state {
            VersionState::Known(v) => (version::display(v), d.source.clone().unwrap_or_default()),
            VersionState::Unknown(why) => ("unknown".to_string(), why.clone()),
            VersionState::NotDetected => continue,
        };
        comps.add_row(vec![Cell::new(&d.name), Cell::new(v), Cell::new(from)]);
    }
    if comps.row_count() > 0 {
        let _ = writeln!(out, "Components\n{comps}\n");
    } else {
        let _ = writeln!(out, "Components: none of the known components detected\n");
    }

    if !r.eval.plan.is_empty() {
        let mut t = table(color);
        t.set_header(vec!["PLAN", "CURRENT", "TARGET", "VERDICT", "WHY"]);
        for p in &r.eval.plan {
            let mut why: Vec<String> = p.findings.clone();
            if !p.next_steps.is_empty() {
                why.push(format!("allowed next steps: {}", p.next_steps.join(" | ")));
            }
            if !p.gates.is_empty() {
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for (_, s) in &p.gates {
                    *counts.entry(s).or_default() += 1;
                }
                let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
                why.push(format!("gates: {}", counts.join(", ")));
            }
            let verdict = Cell::new(p.verdict.as_str().to_uppercase());
            let verdict = match (color, p.verdict) {
                (false, _) => verdict,
                (true, crate::eval::plan::StepVerdict::Blocked) => verdict.fg(Color::Red),
                (true, crate::eval::plan::StepVerdict::Warning | crate::eval::plan::StepVerdict::Unknown) => {
                    verdict.fg(Color::Yellow)
                }
                (true, _) => verdict.fg(Color::Green),
            };
            t.add_row(vec![
                Cell::new(&p.name),
                Cell::new(p.current.as_deref().unwrap_or("unknown")),
                Cell::new(p.target.as_deref().unwrap_or("(values only)")),
                verdict,
                Cell::new(why.join(", ")),
            ]);
        }
        let _ = writeln!(out, "Plan\n{t}\n");
    }

    if r.eval.findings.is_empty() {
        let _ = writeln!(out, "Findings: none\n");
    } else {
        let mut t = table(color);
        t.set_header(vec!["SEVERITY", "CHECK", "OBJECT", "MESSAGE"]);
        for f in &r.eval.findings {
            let obj = f.objects.first().map(ToString::to_string).unwrap_or_default();
            let msg = super::short_message(&f.message, &obj);
            t.add_row(vec![severity_cell(f.severity, color), Cell::new(&f.check_id), Cell::new(&obj), Cell::new(msg)]);
        }
        let _ = writeln!(out, "Findings\n{t}\n");
        let mut fixes: BTreeMap<&str, (&str, &[String])> = BTreeMap::new();
        for f in &r.eval.findings {
            fixes.entry(&f.check_id).or_insert((&f.remediation, &f.references));
        }
        let _ = writeln!(out, "How to fix");
        for (id, (fix, refs)) in fixes {
            let _ = writeln!(out, "  {id}: {}", fix.trim());
            for link in refs {
                let _ = writeln!(out, "    see {link}");
            }
        }
        let _ = writeln!(out);
    }

    if opts.verbose && !r.eval.passed.is_empty() {
        let _ = writeln!(out, "Passed");
        for p in &r.eval.passed {
            let _ = writeln!(out, "  {} ({}): {}", p.check_id, p.severity, p.why);
        }
        let _ = writeln!(out);
    }

    for (title, list) in
        [("Could not evaluate", &r.eval.could_not_evaluate), ("Not applicable", &r.eval.not_applicable)]
    {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}");
        for s in list {
            let _ = writeln!(out, "  {} ({}): {}", s.check_id, s.severity, s.reason);
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "Verdict: {} (exit {})", paint(&r.headline(), r.verdict, color), r.exit.code());
    out
}

fn paint(text: &str, verdict: Verdict, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match verdict {
        Verdict::Go => "32",
        Verdict::GoWithWarnings => "33",
        Verdict::NoGo => "31",
    };
    format!("\x1b[1;{code}m{text}\x1b[0m")
}

/// Renders several clusters: one section each (the single-cluster report), then the
/// overall verdict.
#[must_use]
pub fn render_clusters(sections: &[Section<'_>], opts: RenderOptions) -> String {
    let mut out = String::new();
    for s in sections {
        let _ = writeln!(out, "══ Cluster {} ══", s.context.unwrap_or("cluster"));
        match s.outcome {
            Ok(r) => out.push_str(&render(r, opts)),
            Err(why) => {
                let _ = writeln!(out, "Could not check this cluster: {why}");
                let _ = writeln!(out, "Verdict: {} (exit 3)", paint("NO-GO (incomplete)", Verdict::NoGo, opts.color));
            }
        }
        let _ = writeln!(out);
    }
    let (verdict, exit) = super::overall(sections);
    let _ = writeln!(
        out,
        "Overall verdict: {} (exit {})",
        paint(&super::overall_headline(sections), verdict, opts.color),
        exit.code()
    );
    out
}
