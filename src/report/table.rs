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

/// Table width when not writing to a terminal (and `COLUMNS` is not set).
pub const WIDTH: u16 = 120;

/// Narrowest table width accepted from a terminal or `COLUMNS`.
pub const MIN_WIDTH: u16 = 40;

/// The width tables use: `COLUMNS` when it is a number, else the terminal's when stdout is
/// one (`terminal`), else [`WIDTH`]; at least [`MIN_WIDTH`].
#[must_use]
pub fn width(columns: Option<&str>, terminal: Option<u16>) -> u16 {
    columns.and_then(|c| c.trim().parse::<u16>().ok()).filter(|c| *c > 0).or(terminal).unwrap_or(WIDTH).max(MIN_WIDTH)
}

/// The terminal's width when stdout is a terminal.
#[must_use]
pub fn terminal_width() -> Option<u16> {
    // Without a fixed width, comfy-table asks the terminal (only when stdout is one).
    let t = Table::new();
    if t.is_tty() { t.width() } else { None }
}

/// One cell: text and an optional colour (used only when colouring).
pub type GridCell = (String, Option<Color>);

/// Lays out a table in `width` columns without ever breaking a word: an object name
/// (`cattle-logging-system/helm-install-rancher-logging`) or an image reference is one word.
/// Columns get their longest line when that fits, else at least their longest word and a
/// share of the rest; cells wrap at spaces. When even the longest words do not fit side by
/// side, each row is printed as a block instead (`HEADER  value` lines), which fits any width
/// a single word fits.
#[must_use]
pub fn grid(header: &[&str], rows: &[Vec<GridCell>], width: u16, color: bool) -> String {
    let n = header.len();
    let column = |i: usize| std::iter::once(header[i]).chain(rows.iter().map(move |r| r[i].0.as_str()));
    let longest_word = |t: &str| t.split_whitespace().map(|w| w.chars().count()).max().unwrap_or(0);
    let longest_line = |t: &str| t.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let min: Vec<usize> = (0..n).map(|i| column(i).map(longest_word).max().unwrap_or(0)).collect();
    let natural: Vec<usize> = (0..n).map(|i| column(i).map(longest_line).max().unwrap_or(0)).collect();
    // UTF8_FULL_CONDENSED: a border on each side, a separator between columns, one space of
    // padding either side of each cell.
    let overhead = 3 * n + 1;
    let avail = usize::from(width).saturating_sub(overhead);
    if min.iter().sum::<usize>() > avail {
        return blocks(header, rows, usize::from(width), color);
    }
    let widths = share_out(&min, &natural, avail);
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    if !color {
        t.force_no_tty();
    }
    t.set_header(header.iter().map(Cell::new).collect::<Vec<_>>());
    for row in rows {
        t.add_row(row.iter().zip(&widths).map(|((text, c), w)| {
            let cell = Cell::new(wrap(text, *w).join("\n"));
            match (color, c) {
                (true, Some(c)) => cell.fg(*c),
                _ => cell,
            }
        }));
    }
    t.to_string()
}

/// Column widths for `avail` characters: a column whose longest line fits in an even share
/// of what is left gets it (narrow columns never wrap needlessly); the others get at least
/// their longest word, and the rest goes to whichever lacks most of its longest line.
fn share_out(min: &[usize], natural: &[usize], avail: usize) -> Vec<usize> {
    let n = min.len();
    let mut widths: Vec<usize> = natural.iter().zip(min).map(|(a, b)| *a.max(b)).collect();
    if widths.iter().sum::<usize>() <= avail {
        return widths;
    }
    let mut fixed = vec![false; n];
    let mut remaining = avail;
    loop {
        let free: Vec<usize> = (0..n).filter(|&i| !fixed[i]).collect();
        if free.is_empty() {
            return widths;
        }
        let share = remaining / free.len();
        let fits: Vec<usize> = free.iter().copied().filter(|&i| widths[i] <= share).collect();
        if fits.is_empty() {
            for &i in &free {
                widths[i] = min[i];
            }
            let mut spare = remaining.saturating_sub(free.iter().map(|&i| min[i]).sum());
            while spare > 0 {
                let Some(i) = free
                    .iter()
                    .copied()
                    .filter(|&i| widths[i] < natural[i])
                    .max_by_key(|&i| (natural[i] - widths[i], n - i))
                else {
                    break;
                };
                widths[i] += 1;
                spare -= 1;
            }
            return widths;
        }
        for i in fits {
            fixed[i] = true;
            remaining -= widths[i];
        }
    }
}

/// Rows as blocks, for widths too narrow for columns: the first two columns head the block
/// (`BLOCKER  floating-image-tags`), every other column is an indented `HEADER  value`.
fn blocks(header: &[&str], rows: &[Vec<GridCell>], width: usize, color: bool) -> String {
    let heads = if header.len() > 2 { 2 } else { 1 };
    let label = header.iter().skip(heads).map(|h| h.chars().count()).max().unwrap_or(0);
    let indent = 2 + label + 2;
    // The first column padded to its widest, so the second lines up.
    let first = rows.iter().filter_map(|r| r.first()).map(|(t, _)| t.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for row in rows {
        let head: Vec<String> = row
            .iter()
            .take(heads)
            .enumerate()
            .filter(|(_, (t, _))| !t.is_empty())
            .map(|(k, (t, c))| {
                let pad =
                    if k + 1 < heads { " ".repeat(first.saturating_sub(t.chars().count())) } else { String::new() };
                match (color, c) {
                    (true, Some(c)) => format!("{}{pad}", paint_fg(t, *c)),
                    _ => format!("{t}{pad}"),
                }
            })
            .collect();
        let _ = writeln!(out, "{}", head.join("  "));
        for ((text, _), h) in row.iter().zip(header).skip(heads) {
            if text.is_empty() {
                continue;
            }
            for (k, line) in wrap(text, width.saturating_sub(indent).max(1)).iter().enumerate() {
                let h = if k == 0 { *h } else { "" };
                let _ = writeln!(out, "  {h:<label$}  {line}");
            }
        }
    }
    out.trim_end_matches('\n').to_string()
}

/// One item of a list section: indented by two, continuation lines by four, wrapped at
/// spaces to `width`.
fn item(out: &mut String, text: &str, width: u16) {
    indented(out, text, width, "  ", "    ");
}

fn indented(out: &mut String, text: &str, width: u16, first: &str, rest: &str) {
    for (k, line) in wrap(text, usize::from(width).saturating_sub(rest.len()).max(1)).iter().enumerate() {
        let _ = writeln!(out, "{}{line}", if k == 0 { first } else { rest });
    }
}

fn paint_fg(text: &str, c: Color) -> String {
    let code = match c {
        Color::Red => "31",
        Color::Yellow => "33",
        Color::Green => "32",
        Color::Blue => "34",
        _ => "0",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Greedy wrap at spaces into lines of at most `width` characters; a longer word stays whole
/// on a line of its own. Line breaks in the text are kept.
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let (lw, ww) = (line.chars().count(), word.chars().count());
            if lw > 0 && lw + 1 + ww > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

fn severity_cell(s: Severity, color: bool) -> GridCell {
    let c = match s {
        Severity::Blocker => Color::Red,
        Severity::Warning => Color::Yellow,
        Severity::Info => Color::Blue,
    };
    (s.to_string().to_uppercase(), color.then_some(c))
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
    for line in r.view_line().into_iter().chain(super::input_lines(&r.input)) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);

    let mut comps: Vec<Vec<GridCell>> = Vec::new();
    for d in &r.eval.components {
        let (v, from) = match &d.state {
            VersionState::Known(v) => (version::display(v), d.source.clone().unwrap_or_default()),
            VersionState::Unknown(why) => ("unknown".to_string(), why.clone()),
            VersionState::NotDetected => continue,
        };
        comps.push(vec![(d.name.clone(), None), (v, None), (from, None)]);
    }
    if comps.is_empty() {
        let _ = writeln!(out, "Components: none of the known components detected\n");
    } else {
        let _ = writeln!(
            out,
            "Components\n{}\n",
            grid(&["COMPONENT", "VERSION", "DETECTED FROM"], &comps, opts.width, color)
        );
    }

    for n in &r.data_notices {
        indented(&mut out, &format!("Note: {}. This does not change the verdict.", n.message), opts.width, "", "  ");
    }
    if !r.data_notices.is_empty() {
        let _ = writeln!(out);
    }

    if !r.eval.plan.is_empty() {
        let mut rows: Vec<Vec<GridCell>> = Vec::new();
        for p in &r.eval.plan {
            let mut why: Vec<String> = p.findings.clone();
            why.extend(super::plan_order_notes(p));
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
            let verdict_color = match p.verdict {
                crate::eval::plan::StepVerdict::Blocked => Color::Red,
                crate::eval::plan::StepVerdict::Warning | crate::eval::plan::StepVerdict::Unknown => Color::Yellow,
                _ => Color::Green,
            };
            rows.push(vec![
                (p.name.clone(), None),
                (p.current.clone().unwrap_or_else(|| "unknown".to_string()), None),
                (super::plan_target(p), None),
                (p.verdict.as_str().to_uppercase(), color.then_some(verdict_color)),
                (why.join(", "), None),
            ]);
        }
        let t = grid(&["PLAN", "CURRENT", "TARGET", "VERDICT", "WHY"], &rows, opts.width, color);
        let _ = writeln!(out, "Plan\n{t}\n");
    }

    if r.eval.findings.is_empty() {
        let _ = writeln!(out, "Findings: none\n");
    } else {
        let mut rows: Vec<Vec<GridCell>> = Vec::new();
        for f in &r.eval.findings {
            let obj = f.objects.first().map(ToString::to_string).unwrap_or_default();
            let msg = super::short_message(&f.message, &obj);
            rows.push(vec![
                severity_cell(f.severity, color),
                (f.check_id.clone(), None),
                (obj, None),
                (msg.to_string(), None),
            ]);
        }
        let t = grid(&["SEVERITY", "CHECK", "OBJECT", "MESSAGE"], &rows, opts.width, color);
        let _ = writeln!(out, "Findings\n{t}\n");
        let mut fixes: BTreeMap<&str, (&str, &[String])> = BTreeMap::new();
        for f in &r.eval.findings {
            fixes.entry(&f.check_id).or_insert((&f.remediation, &f.references));
        }
        let _ = writeln!(out, "How to fix");
        for (id, (fix, refs)) in fixes {
            item(&mut out, &format!("{id}: {}", fix.trim()), opts.width);
            for link in refs {
                indented(&mut out, &format!("see {link}"), opts.width, "    ", "      ");
            }
        }
        let _ = writeln!(out);
    }

    if opts.verbose && !r.eval.passed.is_empty() {
        let _ = writeln!(out, "Passed");
        for p in &r.eval.passed {
            item(&mut out, &format!("{} ({}): {}", p.check_id, p.severity, p.why), opts.width);
        }
        let _ = writeln!(out);
    }

    if !r.eval.could_not_evaluate.is_empty() {
        let _ = writeln!(out, "Could not evaluate");
        for s in &r.eval.could_not_evaluate {
            item(&mut out, &format!("{} ({}): {}", s.check_id, s.severity, s.reason), opts.width);
        }
        let _ = writeln!(out);
    }
    if !r.eval.not_applicable.is_empty() {
        let _ = writeln!(out, "Not applicable");
        if opts.verbose {
            for s in &r.eval.not_applicable {
                item(&mut out, &format!("{} ({}): {}", s.check_id, s.severity, s.reason), opts.width);
            }
        } else {
            not_applicable_grouped(&mut out, r, opts.width);
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "Verdict: {} (exit {})", paint(&r.headline(), r.verdict, color), r.exit.code());
    out
}

/// Not applicable, one line per reason: a reason several checks share is one line
/// (`6 Harvester checks: runs only when …`), the full list is in JSON and with `-v`.
fn not_applicable_grouped(out: &mut String, r: &Report, width: u16) {
    let mut by_reason: BTreeMap<&str, Vec<&crate::eval::Skipped>> = BTreeMap::new();
    for s in &r.eval.not_applicable {
        by_reason.entry(s.reason.as_str()).or_default().push(s);
    }
    let mut grouped = false;
    // In the order of the first check of each reason (the evaluation's order).
    let mut reasons: Vec<(&str, Vec<&crate::eval::Skipped>)> = by_reason.into_iter().collect();
    reasons.sort_by_key(|(_, v)| r.eval.not_applicable.iter().position(|s| std::ptr::eq(s, v[0])));
    for (reason, list) in reasons {
        if let [s] = list.as_slice() {
            item(out, &format!("{} ({}): {reason}", s.check_id, s.severity), width);
            continue;
        }
        grouped = true;
        let components: std::collections::BTreeSet<Option<&str>> =
            list.iter().map(|s| r.eval.rules.get(&s.check_id).and_then(|i| i.component.as_deref())).collect();
        let component = match components.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(c)] => r
                .eval
                .components
                .iter()
                .find(|d| d.component == *c)
                .map_or_else(|| format!("{c} "), |d| format!("{} ", d.name)),
            _ => String::new(),
        };
        item(out, &format!("{} {component}checks: {reason}", list.len()), width);
    }
    if grouped {
        let _ = writeln!(out, "  (-v or -o json lists each check)");
    }
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

#[cfg(test)]
mod tests {
    use super::{GridCell, grid, share_out, width, wrap};

    #[test]
    fn width_from_columns_then_terminal_then_default() {
        assert_eq!(width(Some("80"), Some(200)), 80);
        assert_eq!(width(Some("junk"), Some(200)), 200);
        assert_eq!(width(None, None), 120);
        assert_eq!(width(Some("10"), None), 40, "never narrower than MIN_WIDTH");
        assert_eq!(width(Some("0"), None), 120);
    }

    #[test]
    fn wrapping_keeps_words_whole() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("x averyveryverylongword y", 5), ["x", "averyveryverylongword", "y"]);
        assert_eq!(wrap("one\ntwo three", 20), ["one", "two three"]);
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn narrow_columns_get_their_width_and_wide_ones_the_rest() {
        // Fits: every column its longest line.
        assert_eq!(share_out(&[3, 5], &[3, 20], 30), [3, 20]);
        // Does not fit: the short column whole, the long one what is left.
        assert_eq!(share_out(&[10, 8], &[15, 100], 60), [15, 45]);
        // Two long columns share by need, each at least its longest word.
        let w = share_out(&[10, 30], &[50, 60], 60);
        assert_eq!(w.iter().sum::<usize>(), 60);
        assert!(w[0] >= 10 && w[1] >= 30, "{w:?}");
    }

    #[test]
    fn grid_is_a_table_when_it_fits_and_blocks_when_not() {
        let rows: Vec<Vec<GridCell>> = vec![vec![
            ("BLOCKER".into(), None),
            ("missing-references".into(), None),
            ("Deployment keep/keep-backend-with-a-long-name".into(), None),
        ]];
        let wide = grid(&["SEVERITY", "CHECK", "OBJECT"], &rows, 100, false);
        assert!(
            wide.contains("│ BLOCKER  ┆ missing-references ┆ Deployment keep/keep-backend-with-a-long-name │"),
            "{wide}"
        );
        let narrow = grid(&["SEVERITY", "CHECK", "OBJECT"], &rows, 50, false);
        assert_eq!(
            narrow,
            "BLOCKER  missing-references\n  OBJECT  Deployment\n          keep/keep-backend-with-a-long-name"
        );
    }
}
