//! Orchestration: arguments → catalog → inventory → evaluation → report → exit status.
//! The only module (with `main.rs`) that prints.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};

use serde::Serialize;

use crate::catalog::{Catalog, DetectSource, Rule, Severity, Sources};
use crate::cli::{
    CheckArgs, Cli, Command, DataArgs, ExplainArgs, FailOn, ListArgs, LiveArgs, PlanArgs, RbacArgs, SelectArgs,
    SnapshotArgs,
};
use crate::eval::{self, Selection};
use crate::inventory::live::{self, LiveOptions};
use crate::inventory::{Inventory, snapshot};
use crate::limits::Limits;
use crate::plan::{self, PlanRequest};
use crate::report::{self, ExitStatus, Format, Policy, Report};

/// Runs one command and returns its exit status. Errors are printed to stderr here.
#[must_use]
pub fn run(cli: Cli) -> ExitStatus {
    match cli.command {
        Command::Check(a) => check(&a),
        Command::Snapshot(a) => snapshot_cmd(&a),
        Command::Rbac(a) => rbac(&a),
        Command::Validate(d) => validate(&d),
        Command::List(a) => list(&a),
        Command::Explain(a) => explain(&a),
    }
}

fn eprint(msg: &str) {
    let _ = writeln!(std::io::stderr(), "upgrade-preflight: {msg}");
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

fn load_catalog(d: &DataArgs) -> Result<Catalog, ExitStatus> {
    Catalog::load(&Sources { matrices: d.matrices.clone(), checks: d.checks.clone() }).map_err(|e| {
        eprint(&e.to_string());
        ExitStatus::Invalid
    })
}

fn selection(a: &SelectArgs, catalog: &Catalog) -> Result<Selection, ExitStatus> {
    let known = catalog.finding_ids();
    let only: BTreeSet<String> = a.only.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let skip: BTreeSet<String> = a.skip.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let unknown: Vec<&String> = only.iter().chain(&skip).filter(|id| !known.contains(*id)).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        eprint(&format!("unknown check id(s): {} (run `upgrade-preflight list` to see them all)", names.join(", ")));
        return Err(ExitStatus::Invalid);
    }
    Ok(Selection { only, skip })
}

/// The catalog and a validated check selection, or the exit status after printing why not.
fn catalog_and_selection(data: &DataArgs, select: &SelectArgs) -> Result<(Catalog, Selection), ExitStatus> {
    let catalog = load_catalog(data)?;
    let sel = selection(select, &catalog)?;
    Ok((catalog, sel))
}

/// Parses `--target`/`--values` (reading the values files); errors are printed, exit 2.
fn plan_request(a: &PlanArgs, catalog: &Catalog) -> Result<PlanRequest, ExitStatus> {
    let mut req = PlanRequest { reuse_values: a.reuse_values, ..PlanRequest::default() };
    let mut errors = Vec::new();
    for t in &a.targets {
        match plan::parse_target(t, catalog) {
            Ok(t) => req.targets.push(t),
            Err(e) => errors.push(e),
        }
    }
    for v in &a.values {
        match plan::parse_values(v) {
            Ok(v) => req.values.push(v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(req)
    } else {
        for e in errors {
            eprint(&e);
        }
        Err(ExitStatus::Invalid)
    }
}

fn check(a: &CheckArgs) -> ExitStatus {
    let (catalog, sel) = match catalog_and_selection(&a.data, &a.select) {
        Ok(cs) => cs,
        Err(s) => return s,
    };
    let req = match plan_request(&a.plan, &catalog) {
        Ok(r) => r,
        Err(s) => return s,
    };
    let started = std::time::Instant::now();
    let (inv, run_stats) = match &a.snapshot {
        Some(path) => match snapshot::load_with(path, &limits(a)) {
            Ok(i) => (i, RunStats::default()),
            Err(e) => {
                eprint(&e.to_string());
                return ExitStatus::Incomplete;
            }
        },
        None => match collect_live_stats(&a.live, a.limits.max_objects, &catalog, &sel, &req) {
            Ok(r) => r,
            Err(s) => return s,
        },
    };
    let collected = started.elapsed();
    let plan = match plan::resolve(&req, &catalog, &inv) {
        Ok(p) => p,
        Err(e) => {
            eprint(&e);
            return ExitStatus::Invalid;
        }
    };
    let evaluation = eval::evaluate_plan(&catalog, &inv, &sel, &plan);
    if a.stats {
        let evaluated = started.elapsed().saturating_sub(collected);
        let _ = writeln!(
            std::io::stderr(),
            "stats: collection_ms={} evaluation_ms={} objects={} inventory_bytes={} requests={} retries={} bytes_received={} peak_rss_bytes={}",
            collected.as_millis(),
            evaluated.as_millis(),
            inv.len(),
            inv.text_bytes(),
            run_stats.requests,
            run_stats.retries,
            run_stats.bytes,
            peak_rss_bytes().map_or_else(|| "unknown".to_string(), |b| b.to_string())
        );
    }
    let policy = Policy {
        fail_on: match a.fail_on {
            FailOn::Blocker => Severity::Blocker,
            FailOn::Warning => Severity::Warning,
        },
        allow_incomplete: a.allow_incomplete,
    };
    let rep = Report::new(evaluation, &inv, policy);
    match &a.output_file {
        Some(file) => {
            let text = report::render(&rep, a.output, false);
            if let Err(e) = std::fs::write(file, text) {
                eprint(&format!("cannot write {}: {e}", file.display()));
                return ExitStatus::Invalid;
            }
            out(&format!("{} (report written to {})\n", rep.headline(), file.display()));
        }
        None => {
            let color = a.output == Format::Table
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            out(&report::render(&rep, a.output, color));
        }
    }
    rep.exit
}

fn limits(a: &CheckArgs) -> Limits {
    Limits { max_snapshot_bytes: a.max_snapshot_mib.saturating_mul(1 << 20), max_objects: a.limits.max_objects }
}

fn validate(d: &DataArgs) -> ExitStatus {
    match load_catalog(d) {
        Ok(c) => {
            let known_bad: usize = c.matrices.values().map(|m| m.known_bad.len()).sum();
            out(&format!(
                "ok: {} matrices ({} known-bad rules), {} checks\n",
                c.matrices.len(),
                known_bad,
                c.checks.len()
            ));
            ExitStatus::Go
        }
        Err(s) => s,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListEntry {
    id: String,
    kind: &'static str,
    severity: Option<Severity>,
    component: Option<String>,
    title: String,
    origin: String,
}

fn entries(c: &Catalog) -> Vec<ListEntry> {
    let mut v: Vec<ListEntry> = c
        .checks
        .values()
        .map(|ch| ListEntry {
            id: ch.id.clone(),
            kind: "check",
            severity: Some(ch.severity),
            component: ch.component.clone(),
            title: ch.title.clone(),
            origin: ch.origin.clone(),
        })
        .collect();
    for (id, severity, title) in crate::plan::FINDING_IDS {
        v.push(ListEntry {
            id: id.to_string(),
            kind: "plan",
            severity: Some(severity),
            component: None,
            title: format!("{title} (with --target/--values)"),
            origin: "built-in planning".to_string(),
        });
    }
    for m in c.matrices.values() {
        v.push(ListEntry {
            id: m.id.clone(),
            kind: "component",
            severity: None,
            component: None,
            title: m.name.clone(),
            origin: m.origin.clone(),
        });
        for kb in &m.known_bad {
            v.push(ListEntry {
                id: kb.id.clone(),
                kind: "known-bad",
                severity: Some(kb.severity),
                component: Some(m.id.clone()),
                title: format!("{} {}: {}", m.name, kb.range, kb.message),
                origin: m.origin.clone(),
            });
        }
        if let Some(p) = &m.pinning
            && let Some(r) = &p.range
        {
            v.push(ListEntry {
                id: m.pin_id(),
                kind: "pin",
                severity: Some(p.severity),
                component: Some(m.id.clone()),
                title: format!("{} must run {r}", m.name),
                origin: m.origin.clone(),
            });
        }
    }
    v
}

fn list(a: &ListArgs) -> ExitStatus {
    let catalog = match load_catalog(&a.data) {
        Ok(c) => c,
        Err(s) => return s,
    };
    let entries = entries(&catalog);
    match a.output {
        Format::Json => {
            let text = serde_json::to_string_pretty(&entries).unwrap_or_default();
            out(&format!("{text}\n"));
        }
        Format::Table => {
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_width(report::table::WIDTH)
                .set_header(vec!["ID", "KIND", "SEVERITY", "COMPONENT", "TITLE"]);
            for e in &entries {
                t.add_row(vec![
                    e.id.clone(),
                    e.kind.to_string(),
                    e.severity.map(|s| s.to_string()).unwrap_or_default(),
                    e.component.clone().unwrap_or_default(),
                    e.title.clone(),
                ]);
            }
            out(&format!("{t}\n"));
        }
    }
    ExitStatus::Go
}

fn explain(a: &ExplainArgs) -> ExitStatus {
    let catalog = match load_catalog(&a.data) {
        Ok(c) => c,
        Err(s) => return s,
    };
    let mut s = String::new();
    if let Some(c) = catalog.checks.get(&a.id) {
        s.push_str(&format!("{} — {}\n\nseverity:  {}\n", c.id, c.title, c.severity));
        if let Some(comp) = &c.component {
            s.push_str(&format!("component: {comp}\n"));
        }
        s.push_str(&format!("source:    {}\n", c.origin));
        let reads: Vec<String> = c.reads().iter().map(ToString::to_string).collect();
        s.push_str(&format!("reads:     {}\n", reads.join(", ")));
        if let Some(w) = &c.when {
            let range = w.range.as_ref().map_or("detected".to_string(), ToString::to_string);
            s.push_str(&format!("when:      {} {range}\n", w.component));
        }
        match &c.rule {
            Rule::Cel { source, .. } => s.push_str(&format!("rule (CEL): {}\n", source.trim())),
            Rule::Builtin(b) => s.push_str(&format!("rule:      built-in {b:?}\n")),
        }
        if let Some(d) = &c.description {
            s.push_str(&format!("\n{}\n", d.trim()));
        }
        s.push_str(&format!("\nremediation: {}\n", c.remediation.trim()));
        for r in &c.references {
            s.push_str(&format!("  see {r}\n"));
        }
        out(&s);
        return ExitStatus::Go;
    }
    for m in catalog.matrices.values() {
        if m.id == a.id {
            s.push_str(&format!("{} — component {}\n\nsource: {}\ndetected from, in order:\n", m.id, m.name, m.origin));
            for d in &m.detect {
                let line = match d {
                    DetectSource::Image(i) => format!(
                        "image tag of {}{}{}{}",
                        i.kind.as_deref().unwrap_or("any workload"),
                        i.namespace.as_deref().map(|n| format!(" {n}/")).unwrap_or_else(|| " ".to_string()),
                        i.name.as_deref().unwrap_or("*"),
                        i.repository.as_deref().map(|r| format!(" (image {r})")).unwrap_or_default()
                    ),
                    DetectSource::Field(f) => format!("{} of {}/{} {}", f.path, f.api_version, f.kind, f.name),
                    DetectSource::ApiServer {} => "API server /version".to_string(),
                    DetectSource::Kubelet {} => "oldest kubelet version among Nodes".to_string(),
                    DetectSource::HelmRelease(h) => format!(
                        "chart {} of Helm release {}{}",
                        if h.version_from == crate::catalog::ChartVersionField::ChartVersion {
                            "version"
                        } else {
                            "appVersion"
                        },
                        h.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default(),
                        match (&h.release, &h.chart) {
                            (Some(r), Some(c)) => format!("{r} (chart {c})"),
                            (Some(r), None) => r.clone(),
                            (None, c) => format!("* (chart {})", c.as_deref().unwrap_or("*")),
                        }
                    ),
                };
                s.push_str(&format!("  - {line}\n"));
            }
            for kb in &m.known_bad {
                s.push_str(&format!("known-bad {} ({}, {}): {}\n", kb.id, kb.range, kb.severity, kb.message));
            }
            if let Some(d) = &m.description {
                s.push_str(&format!("\n{}\n", d.trim()));
            }
            out(&s);
            return ExitStatus::Go;
        }
        for kb in &m.known_bad {
            if kb.id == a.id {
                s.push_str(&format!(
                    "{} — known-bad {} versions {}\n\nseverity: {}\nsource:   {}\n",
                    kb.id, m.name, kb.range, kb.severity, m.origin
                ));
                if let Some((c, _)) = &kb.requires_check {
                    s.push_str(&format!("only when check '{c}' finds objects (they become the evidence)\n"));
                }
                s.push_str(&format!("\n{}\n\nremediation: {}\n", kb.message.trim(), kb.remediation.trim()));
                for r in &kb.references {
                    s.push_str(&format!("  see {r}\n"));
                }
                out(&s);
                return ExitStatus::Go;
            }
        }
    }
    if let Some((id, severity, title)) = crate::plan::FINDING_IDS.iter().find(|(id, _, _)| *id == a.id) {
        out(&format!(
            "{id} — upgrade planning rule\n\nseverity: {severity}\nruns:     with --target COMPONENT=VERSION or --values RELEASE=FILE\n\n{title}.\nSee the README section \"Planning an upgrade\".\n"
        ));
        return ExitStatus::Go;
    }
    eprint(&format!("no check, known-bad rule or component with id '{}' (run `upgrade-preflight list`)", a.id));
    ExitStatus::Invalid
}

fn live_options(a: &LiveArgs, max_objects: usize) -> LiveOptions {
    LiveOptions {
        max_objects,
        kubeconfig: a.kubeconfig.clone(),
        context: a.context.clone(),
        timeout: std::time::Duration::from_secs(a.timeout),
        request_timeout: std::time::Duration::from_secs(a.request_timeout),
        concurrency: usize::try_from(a.concurrency).unwrap_or(8),
        page_size: a.page_size,
        progress: live::stderr_is_tty(),
        ..LiveOptions::default()
    }
}

/// Collects from the live cluster; connection problems are printed and exit 3.
/// Figures for `--stats`.
#[derive(Default)]
struct RunStats {
    requests: u64,
    bytes: u64,
    retries: u64,
}

fn collect_live(
    a: &LiveArgs,
    max_objects: usize,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
) -> Result<Inventory, ExitStatus> {
    collect_live_stats(a, max_objects, catalog, sel, req).map(|(inv, _)| inv)
}

fn collect_live_stats(
    a: &LiveArgs,
    max_objects: usize,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
) -> Result<(Inventory, RunStats), ExitStatus> {
    // Checks gated on a target are always collected for; release targets add only releases.
    let targets = req.component_targets();
    let needs = eval::needs_for(catalog, sel, &targets, !req.is_empty());
    let opts = live_options(a, max_objects);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| {
        eprint(&format!("cannot start the async runtime: {e}"));
        ExitStatus::Incomplete
    })?;
    match runtime.block_on(live::collect(&opts, &needs)) {
        Ok((inv, stats)) => {
            use std::sync::atomic::Ordering::Relaxed;
            let rs = RunStats {
                requests: stats.requests.load(Relaxed),
                bytes: stats.bytes.load(Relaxed),
                retries: stats.retries.load(Relaxed),
            };
            Ok((inv, rs))
        }
        Err(e) => {
            eprint(&e.to_string());
            Err(ExitStatus::Incomplete)
        }
    }
}

fn snapshot_cmd(a: &SnapshotArgs) -> ExitStatus {
    let (catalog, sel) = match catalog_and_selection(&a.data, &a.select) {
        Ok(cs) => cs,
        Err(s) => return s,
    };
    let mut req = PlanRequest::default();
    for t in &a.targets {
        match plan::parse_target(t, &catalog) {
            Ok(t) => req.targets.push(t),
            Err(e) => {
                eprint(&e);
                return ExitStatus::Invalid;
            }
        }
    }
    let inv = match collect_live(&a.live, a.limits.max_objects, &catalog, &sel, &req) {
        Ok(i) => i,
        Err(s) => return s,
    };
    let text = snapshot::write(&inv);
    if let Err(e) = std::fs::write(&a.output, text) {
        eprint(&format!("cannot write {}: {e}", a.output.display()));
        return ExitStatus::Invalid;
    }
    out(&format!("wrote {} objects to {} (Secret values removed)\n", inv.len(), a.output.display()));
    ExitStatus::Go
}

fn rbac(a: &RbacArgs) -> ExitStatus {
    let (catalog, sel) = match catalog_and_selection(&a.data, &a.select) {
        Ok(cs) => cs,
        Err(s) => return s,
    };
    // Everything a planned upgrade of any component may read, too.
    let all_targets = catalog.matrices.keys().map(|c| (c.clone(), semver::Version::new(u64::MAX, 0, 0))).collect();
    out(&crate::rbac::render(&eval::needs_for(&catalog, &sel, &all_targets, true), &a.namespace));
    ExitStatus::Go
}

/// Peak resident set size of this process (Linux `VmHWM`), if the platform tells.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
