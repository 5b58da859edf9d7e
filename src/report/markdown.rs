//! Markdown for a pull-request or issue comment: a verdict line with a plain-text marker
//! (`**[NO-GO]**`), the components and their versions, the planned upgrade steps (with
//! `--target`/`--values`), the findings, and collapsed
//! `<details>` for how to fix, checks that did not apply and checks that could not be
//! evaluated. Compact by design: at most [`MAX_FINDING_ROWS`] findings per cluster are
//! listed (GitHub caps a comment at 65,536 characters); the count says how many more.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Report, Section};
use crate::eval::Skipped;
use crate::eval::detect::VersionState;
use crate::version;

/// Findings listed per cluster before the rest are only counted.
pub const MAX_FINDING_ROWS: usize = 50;

/// Escapes text for a table cell or list item: Markdown punctuation that could start
/// emphasis, code, links or a cell break is backslash-escaped, HTML is neutralised, and
/// line breaks become spaces.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.split_whitespace().collect::<Vec<_>>().join(" ").chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `**[NO-GO]** 6 blocker(s), 3 warning(s)`.
fn marked(headline: &str) -> String {
    match headline.split_once(": ") {
        Some((label, rest)) => format!("**[{label}]** {rest}"),
        None => format!("**[{headline}]**"),
    }
}

/// Renders one or more clusters.
#[must_use]
pub fn render(sections: &[Section<'_>]) -> String {
    let mut out = String::new();
    match sections {
        [Section { context: None, outcome: Ok(r) }] => {
            let _ = writeln!(out, "### upgrade-preflight {}\n", marked(&r.headline()));
            body(&mut out, r);
        }
        _ => {
            let _ = writeln!(out, "### upgrade-preflight {}\n", marked(&super::overall_headline(sections)));
            for s in sections {
                let name = s.context.unwrap_or("cluster");
                match s.outcome {
                    Ok(r) => {
                        let _ = writeln!(out, "#### Cluster `{name}` {}\n", marked(&r.headline()));
                        body(&mut out, r);
                    }
                    Err(why) => {
                        let _ = writeln!(out, "#### Cluster `{name}` **[NO-GO (incomplete)]**\n");
                        let _ = writeln!(out, "Could not check this cluster: {}\n", escape(why));
                    }
                }
            }
        }
    }
    out
}

fn body(out: &mut String, r: &Report) {
    let server = r.server_version.as_deref().map(|v| format!(" · Kubernetes {}", escape(v))).unwrap_or_default();
    let url = r.server.as_deref().map(|u| format!(" at `{}`", u.replace('`', "'"))).unwrap_or_default();
    let _ = writeln!(
        out,
        "{} `{}`{url}{server} · {} objects · exit {}\n",
        if r.server.is_some() { "live context" } else { r.source_type },
        r.source_location.replace('`', "'"),
        r.objects,
        r.exit.code()
    );
    if let Some(line) = r.view_line() {
        let _ = writeln!(out, "{}\n", escape(&line));
    }

    let rows: Vec<String> = r
        .eval
        .components
        .iter()
        .filter_map(|d| {
            let (v, from) = match &d.state {
                VersionState::Known(v) => (version::display(v), d.source.clone().unwrap_or_default()),
                VersionState::Unknown(why) => ("unknown".to_string(), why.clone()),
                VersionState::NotDetected => return None,
            };
            Some(format!("| {} | {} | {} |", escape(&d.name), escape(&v), escape(&from)))
        })
        .collect();
    if rows.is_empty() {
        let _ = writeln!(out, "Components: none of the known components detected.\n");
    } else {
        let _ = writeln!(out, "| Component | Version | Detected from |\n|---|---|---|\n{}\n", rows.join("\n"));
    }

    for n in &r.data_notices {
        let _ = writeln!(out, "> Note: {}. This does not change the verdict.\n", escape(&n.message));
    }

    if !r.eval.plan.is_empty() {
        let _ = writeln!(out, "| Plan | Current | Target | Verdict | Why |\n|---|---|---|---|---|");
        for p in &r.eval.plan {
            let mut why: Vec<String> = p.findings.iter().map(|f| format!("`{f}`")).collect();
            why.extend(super::plan_order_notes(p).iter().map(|n| escape(n)));
            if !p.next_steps.is_empty() {
                why.push(format!("allowed next steps: {}", escape(&p.next_steps.join(" | "))));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(&p.name),
                escape(p.current.as_deref().unwrap_or("unknown")),
                escape(&super::plan_target(p)),
                p.verdict.as_str(),
                why.join(", ")
            );
        }
        let _ = writeln!(out);
    }

    if r.eval.findings.is_empty() {
        let _ = writeln!(out, "Findings: none.\n");
    } else {
        let _ = writeln!(out, "| Severity | Check | Object | Message |\n|---|---|---|---|");
        for f in r.eval.findings.iter().take(MAX_FINDING_ROWS) {
            let obj = f.objects.first().map(ToString::to_string).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                f.severity,
                f.check_id,
                escape(&obj),
                escape(super::short_message(&f.message, &obj))
            );
        }
        let more = r.eval.findings.len().saturating_sub(MAX_FINDING_ROWS);
        if more > 0 {
            let _ = writeln!(out, "\n… and {more} more finding(s); see the full report (`-o json` or `-o table`).");
        }
        let _ = writeln!(out);
        let mut fixes: BTreeMap<&str, (&str, &[String])> = BTreeMap::new();
        for f in &r.eval.findings {
            fixes.entry(&f.check_id).or_insert((&f.remediation, &f.references));
        }
        let _ = writeln!(out, "<details><summary>How to fix ({} check(s))</summary>\n", fixes.len());
        for (id, (fix, refs)) in fixes {
            let links: Vec<String> = refs.iter().map(|l| format!("<{}>", l.replace(['<', '>', ' '], ""))).collect();
            let see = if links.is_empty() { String::new() } else { format!(" See {}.", links.join(", ")) };
            let _ = writeln!(out, "- `{id}`: {}{see}", escape(fix.trim()));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    details(out, "Could not evaluate", &r.eval.could_not_evaluate);
    details(out, "Not applicable", &r.eval.not_applicable);
}

fn details(out: &mut String, title: &str, list: &[Skipped]) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(out, "<details><summary>{title} ({})</summary>\n", list.len());
    for s in list {
        let _ = writeln!(out, "- `{}` ({}): {}", s.check_id, s.severity, escape(&s.reason));
    }
    let _ = writeln!(out, "\n</details>\n");
}
