//! Orchestration: arguments → catalog → inventory → evaluation → report → exit status.
//! The only module (with `main.rs`) that prints.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use serde::Serialize;

use crate::catalog::{Catalog, DetectSource, Rule, Severity, Sources};
use crate::cli::{
    CheckArgs, Cli, Command, CompletionsArgs, DataArgs, ExplainArgs, FailOn, ListArgs, LiveArgs, ManArgs, RbacArgs,
    SelectArgs, SnapshotArgs,
};
use crate::eval::{self, Selection};
use crate::inventory::live::{self, LiveOptions};
use crate::inventory::{Inventory, snapshot};
use crate::limits::Limits;
use crate::plan::{self, PlanRequest};
use crate::report::{self, ExitStatus, Format, ListFormat, Policy, RenderOptions, Report, Section};

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
        Command::Completions(a) => completions(&a),
        Command::Man(a) => man(&a),
    }
}

/// How help and usage name the program when it runs as a kubectl plugin: invoked as
/// `kubectl-upgrade_preflight` (kubectl maps `-` in a plugin command to `_` in its file
/// name), it is `kubectl upgrade-preflight`. `None` for any other name.
#[must_use]
pub fn plugin_name(argv0: &OsStr) -> Option<String> {
    let base = Path::new(argv0).file_name()?.to_str()?;
    let base = base.strip_suffix(".exe").unwrap_or(base);
    let rest = base.strip_prefix("kubectl-").filter(|r| !r.is_empty())?;
    Some(format!("kubectl {}", rest.replace('_', "-")))
}

/// The command-line definition, named after `argv0` (see [`plugin_name`]).
#[must_use]
pub fn command(argv0: Option<&OsStr>) -> clap::Command {
    let cmd = Cli::command();
    match argv0.and_then(plugin_name) {
        Some(name) => cmd.bin_name(name.clone()).display_name(name),
        None => cmd,
    }
}

/// Parses the process arguments, naming the program after `argv[0]`.
pub fn parse() -> Result<Cli, clap::Error> {
    let argv0 = std::env::args_os().next();
    let mut cmd = command(argv0.as_deref());
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

fn completions(a: &CompletionsArgs) -> ExitStatus {
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut Cli::command(), "upgrade-preflight", &mut buf);
    out(&String::from_utf8_lossy(&buf));
    ExitStatus::Go
}

fn man(a: &ManArgs) -> ExitStatus {
    let mut cmd = Cli::command();
    // Building fills in subcommand display names (`upgrade-preflight-check`) for the titles.
    cmd.build();
    let page = match &a.subcommand {
        None => cmd,
        Some(name) => match cmd.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
                eprint(&format!("no subcommand '{name}' (one of: {})", names.join(", ")));
                return ExitStatus::Invalid;
            }
        },
    };
    let mut buf = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut buf) {
        eprint(&format!("cannot render the man page: {e}"));
        return ExitStatus::Invalid;
    }
    out(&String::from_utf8_lossy(&buf));
    ExitStatus::Go
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

/// Parses `--target`/`--values` (reading the values files); every error is printed, exit 2.
fn plan_request(
    targets: &[String],
    values: &[String],
    reuse_values: bool,
    catalog: &Catalog,
) -> Result<PlanRequest, ExitStatus> {
    let mut req = PlanRequest { reuse_values, ..PlanRequest::default() };
    let mut errors = Vec::new();
    for t in targets {
        match plan::parse_target(t, catalog) {
            Ok(t) => req.targets.push(t),
            Err(e) => errors.push(e),
        }
    }
    for v in values {
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
    let req = match plan_request(&a.plan.targets, &a.plan.values, a.plan.reuse_values, &catalog) {
        Ok(r) => r,
        Err(s) => return s,
    };
    let policy = Policy {
        fail_on: match a.fail_on {
            FailOn::Blocker => Severity::Blocker,
            FailOn::Warning => Severity::Warning,
        },
        allow_incomplete: a.allow_incomplete,
    };
    match contexts(a) {
        Ok(None) => check_one(a, &catalog, &sel, &req, policy),
        Ok(Some(contexts)) => check_many(a, &catalog, &sel, &req, policy, &contexts),
        Err(s) => s,
    }
}

/// The contexts to check when several clusters are asked for (`--context` more than once,
/// or `--all-contexts`), sorted; `None` for the single-cluster (or snapshot) report.
fn contexts(a: &CheckArgs) -> Result<Option<Vec<String>>, ExitStatus> {
    if a.all_contexts {
        let read = match &a.live.kubeconfig {
            Some(path) => kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot load cluster configuration: {}: {e}", path.display())),
            None => kube::config::Kubeconfig::read().map_err(|e| format!("cannot load cluster configuration: {e}")),
        };
        let mut names: Vec<String> = match read {
            Ok(kc) => kc.contexts.into_iter().map(|c| c.name).collect(),
            Err(e) => {
                eprint(&e);
                return Err(ExitStatus::Incomplete);
            }
        };
        if names.is_empty() {
            eprint("cannot load cluster configuration: the kubeconfig has no contexts (--all-contexts)");
            return Err(ExitStatus::Incomplete);
        }
        names.sort();
        names.dedup();
        return Ok(Some(names));
    }
    if a.live.context.len() < 2 {
        return Ok(None);
    }
    let mut names = a.live.context.clone();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        eprint(&format!("--context {} is given more than once", w[0]));
        return Err(ExitStatus::Invalid);
    }
    Ok(Some(names))
}

/// One cluster or snapshot: exactly the report of earlier releases.
fn check_one(a: &CheckArgs, catalog: &Catalog, sel: &Selection, req: &PlanRequest, policy: Policy) -> ExitStatus {
    let started = std::time::Instant::now();
    let (inv, run_stats) = match &a.snapshot {
        Some(path) => match snapshot::load_with(path, &limits(a)) {
            Ok(i) => (i, RunStats::default()),
            Err(e) => {
                eprint(&e.to_string());
                return ExitStatus::Incomplete;
            }
        },
        None => match collect_live_stats(
            &live_options(&a.live, a.live.context.first(), a.limits.max_objects),
            catalog,
            sel,
            req,
        ) {
            Ok(r) => r,
            Err(s) => return s,
        },
    };
    let collected = started.elapsed();
    let plan = match plan::resolve(req, catalog, &inv) {
        Ok(p) => p,
        Err(e) => {
            eprint(&e);
            return ExitStatus::Invalid;
        }
    };
    let evaluation = eval::evaluate_plan(catalog, &inv, sel, &plan);
    if a.stats {
        print_stats(None, &inv, &run_stats, collected, started.elapsed().saturating_sub(collected));
    }
    let rep = Report::new(evaluation, &inv, policy);
    drop(inv);
    emit(a, &rep.headline(), |opts| report::render(&rep, a.output, opts), rep.exit)
}

/// Several clusters: collected concurrently (at most `--cluster-concurrency` at once), each
/// evaluated as soon as it arrives; a cluster that cannot be reached is reported as such
/// without losing the others. A planned upgrade (`--target`, `--values`) is resolved in each
/// cluster; where it cannot be (the release is not there), that cluster says why.
fn check_many(
    a: &CheckArgs,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
    policy: Policy,
    contexts: &[String],
) -> ExitStatus {
    let needs = live_needs(catalog, sel, req);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(s) => return s,
    };
    let mut results: BTreeMap<String, Result<Report, String>> = BTreeMap::new();
    runtime.block_on(async {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(usize::try_from(a.cluster_concurrency).unwrap_or(4)));
        let needs = std::sync::Arc::new(needs);
        let mut tasks = tokio::task::JoinSet::new();
        for ctx in contexts {
            let mut opts = live_options(&a.live, Some(ctx), a.limits.max_objects);
            // Progress lines of several clusters would overwrite each other.
            opts.progress = false;
            let (sem, needs, ctx) = (std::sync::Arc::clone(&sem), std::sync::Arc::clone(&needs), ctx.clone());
            tasks.spawn(async move {
                // The semaphore is never closed; without a permit the cluster still runs.
                let _permit = sem.acquire_owned().await.ok();
                let started = std::time::Instant::now();
                let res = live::collect(&opts, &needs).await;
                (ctx, res, started.elapsed())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((ctx, res, collected)) = joined else {
                eprint("internal error: a cluster task panicked");
                continue;
            };
            match res {
                Ok((inv, stats)) => {
                    let started = std::time::Instant::now();
                    let plan = match plan::resolve(req, catalog, &inv) {
                        Ok(p) => p,
                        Err(e) => {
                            eprint(&format!("context {ctx}: {e}"));
                            results.insert(ctx, Err(e));
                            continue;
                        }
                    };
                    let evaluation = eval::evaluate_plan(catalog, &inv, sel, &plan);
                    if a.stats {
                        print_stats(Some(&ctx), &inv, &RunStats::from(&*stats), collected, started.elapsed());
                    }
                    results.insert(ctx, Ok(Report::new(evaluation, &inv, policy)));
                }
                Err(e) => {
                    eprint(&format!("context {ctx}: {e}"));
                    results.insert(ctx, Err(e.to_string()));
                }
            }
        }
    });
    // A context whose task was lost still gets a section.
    for ctx in contexts {
        results.entry(ctx.clone()).or_insert_with(|| Err("internal error: the collection task failed".to_string()));
    }
    let sections: Vec<Section<'_>> = results
        .iter()
        .map(|(ctx, r)| Section { context: Some(ctx.as_str()), outcome: r.as_ref().map_err(String::as_str) })
        .collect();
    let (_, exit) = report::overall(&sections);
    emit(a, &report::overall_headline(&sections), |opts| report::render_clusters(&sections, a.output, opts), exit)
}

/// Prints or writes the report the way the flags ask, and returns `exit` (or 2 when the
/// output file cannot be written).
fn emit(a: &CheckArgs, headline: &str, render: impl Fn(RenderOptions) -> String, exit: ExitStatus) -> ExitStatus {
    match &a.output_file {
        Some(file) => {
            let text = render(RenderOptions { color: false, verbose: a.verbose });
            if let Err(e) = std::fs::write(file, text) {
                eprint(&format!("cannot write {}: {e}", file.display()));
                return ExitStatus::Invalid;
            }
            out(&format!("{headline} (report written to {})\n", file.display()));
        }
        None if a.quiet => out(&format!("{headline}\n")),
        None => {
            let color = a.output == Format::Table
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            out(&render(RenderOptions { color, verbose: a.verbose }));
        }
    }
    exit
}

fn print_stats(
    context: Option<&str>,
    inv: &Inventory,
    run_stats: &RunStats,
    collected: std::time::Duration,
    evaluated: std::time::Duration,
) {
    let _ = writeln!(
        std::io::stderr(),
        "stats{}: collection_ms={} evaluation_ms={} objects={} inventory_bytes={} requests={} retries={} bytes_received={} peak_rss_bytes={}",
        context.map(|c| format!("[{c}]")).unwrap_or_default(),
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
        ListFormat::Json => {
            let text = serde_json::to_string_pretty(&entries).unwrap_or_default();
            out(&format!("{text}\n"));
        }
        ListFormat::Table => {
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

fn live_options(a: &LiveArgs, context: Option<&String>, max_objects: usize) -> LiveOptions {
    LiveOptions {
        max_objects,
        kubeconfig: a.kubeconfig.clone(),
        context: context.cloned(),
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

impl From<&live::Stats> for RunStats {
    fn from(stats: &live::Stats) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        Self {
            requests: stats.requests.load(Relaxed),
            bytes: stats.bytes.load(Relaxed),
            retries: stats.retries.load(Relaxed),
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitStatus> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| {
        eprint(&format!("cannot start the async runtime: {e}"));
        ExitStatus::Incomplete
    })
}

fn collect_live(
    opts: &LiveOptions,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
) -> Result<Inventory, ExitStatus> {
    collect_live_stats(opts, catalog, sel, req).map(|(inv, _)| inv)
}

/// What to collect: checks gated on a target are always collected for; release targets add
/// only releases.
fn live_needs(catalog: &Catalog, sel: &Selection, req: &PlanRequest) -> Vec<live::Need> {
    eval::needs_for(catalog, sel, &req.component_targets(), !req.is_empty())
}

fn collect_live_stats(
    opts: &LiveOptions,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
) -> Result<(Inventory, RunStats), ExitStatus> {
    let needs = live_needs(catalog, sel, req);
    let runtime = runtime()?;
    match runtime.block_on(live::collect(opts, &needs)) {
        Ok((inv, stats)) => Ok((inv, RunStats::from(&*stats))),
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
    if a.live.context.len() > 1 {
        eprint("snapshot captures one cluster: give --context at most once");
        return ExitStatus::Invalid;
    }
    let req = match plan_request(&a.targets, &[], false, &catalog) {
        Ok(r) => r,
        Err(s) => return s,
    };
    let inv = match collect_live(
        &live_options(&a.live, a.live.context.first(), a.limits.max_objects),
        &catalog,
        &sel,
        &req,
    ) {
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

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::plugin_name;

    #[test]
    fn kubectl_plugin_names() {
        let name = |s: &str| plugin_name(OsStr::new(s));
        assert_eq!(name("/home/u/.krew/bin/kubectl-upgrade_preflight").as_deref(), Some("kubectl upgrade-preflight"));
        assert_eq!(name("kubectl-upgrade_preflight.exe").as_deref(), Some("kubectl upgrade-preflight"));
        assert_eq!(name("kubectl-preflight").as_deref(), Some("kubectl preflight"));
        assert_eq!(name("upgrade-preflight"), None);
        assert_eq!(name("/usr/bin/kubectl-"), None);
    }
}
