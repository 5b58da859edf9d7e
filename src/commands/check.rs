//! `check`: one cluster, several clusters or a snapshot, evaluated and reported; with the
//! live source's collection (`live_options`, `collect_live`) that `snapshot` shares.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use super::{catalog_and_selection, eprint, out, plan_request};

use super::change::{
    ChangeInput, apply_change, change_input, change_needs, live_status, read_pending, release_ref, request_for,
    with_change_targets, with_new_chart_values,
};
use super::cli::{CheckArgs, FailOn, LiveArgs};
use super::output::{Destination, write_file};
use crate::catalog::{Catalog, Severity};
use crate::eval::plan::{self, PlanRequest};
use crate::eval::{self, Selection};
use crate::inventory::live::{self, LiveOptions};
use crate::inventory::manifest::ReleaseRef;
use crate::inventory::{Inventory, Origin, snapshot};
use crate::limits::Limits;
use crate::report::{self, ExitStatus, Format, Policy, RenderOptions, Report, Section};

/// The `check` subcommand.
pub(super) fn check(a: &CheckArgs) -> ExitStatus {
    let (mut catalog, sel) = match catalog_and_selection(&a.data, &a.select) {
        Ok(cs) => cs,
        Err(s) => return s,
    };
    if let Some(days) = a.cert_days {
        catalog.set_certificate_warn_days(days);
    }
    let pending = match pending_release(a) {
        Ok(p) => p,
        Err(s) => return s,
    };
    let mut targets = a.plan.targets.clone();
    if let Some(rel) = &pending {
        // The chart version Helm is upgrading to, unless a --target for the release says otherwise.
        let given = targets.iter().any(|t| {
            let key = t.trim().strip_prefix("release:").and_then(|t| t.split_once('=')).map(|(k, _)| k.trim());
            key.is_some_and(|k| k == rel.name || k == format!("{}/{}", rel.namespace, rel.name))
        });
        if !given {
            targets.push(format!("release:{}/{}=pending", rel.namespace, rel.name));
        }
    }
    let mut req = match plan_request(&targets, &a.plan.values, a.plan.reuse_values, &catalog) {
        Ok(r) => PlanRequest { applied_annotations: a.plan.additional_annotations.clone(), ..r },
        Err(s) => return s,
    };
    let change = match change_input(&a.change, &req, &limits(a)) {
        Ok(c) => c,
        Err(s) => return s,
    };
    if change.as_ref().is_some_and(|c| c.no_cluster) {
        // Without a cluster there is no release to merge values onto: they only feed
        // values-schema (through the change input).
        req.values.clear();
    }
    let policy = Policy {
        fail_on: match a.fail_on {
            FailOn::Blocker => Severity::Blocker,
            FailOn::Warning => Severity::Warning,
        },
        allow_incomplete: a.allow_incomplete,
    };
    let today = match super::run_date() {
        Ok(d) => d,
        Err(s) => return s,
    };
    let contexts = match contexts(a) {
        Ok(c) => c,
        Err(s) => return s,
    };
    // The report's file is checked before anything is collected.
    let dest = match a.output_file.as_deref().map(|f| Destination::prepare(f, false)).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprint(&e);
            return ExitStatus::Invalid;
        }
    };
    match contexts {
        None => check_one(a, dest, &catalog, &sel, &req, (policy, today), change.as_ref(), pending.as_ref()),
        Some(contexts) => check_many(a, dest, &catalog, &sel, &req, (policy, today), &contexts, change.as_ref()),
    }
}

/// `--pending-release`, checked before anything is read: it needs one live cluster (a
/// snapshot holds no release payloads: they are dropped, values and rendered Secrets being
/// secrets). Exit 2 otherwise.
fn pending_release(a: &CheckArgs) -> Result<Option<ReleaseRef>, ExitStatus> {
    let Some(r) = a.change.pending_release.as_deref() else { return Ok(None) };
    let refuse = |msg: String| {
        eprint(&msg);
        ExitStatus::Invalid
    };
    if a.snapshot.is_some() || a.change.no_cluster {
        let why = if a.snapshot.is_some() {
            "a snapshot has none (snapshots drop release payloads: values and rendered Secrets are secrets)"
        } else {
            "--no-cluster reads no cluster"
        };
        return Err(refuse(format!(
            "--pending-release {r}: the revision Helm is upgrading to is read from the live cluster's Helm \
             storage, and {why}; run it against the cluster, or give the change with --manifest FILE --release {r}"
        )));
    }
    if a.all_contexts || a.live.context.len() > 1 {
        return Err(refuse(format!(
            "--pending-release {r}: judges the upgrade in progress in one cluster; give --context at most once"
        )));
    }
    release_ref("--pending-release", r).map(Some).map_err(refuse)
}

/// The contexts to check when several clusters are asked for (`--context` more than once,
/// or `--all-contexts`), sorted; `None` for the single-cluster (or snapshot) report.
fn contexts(a: &CheckArgs) -> Result<Option<Vec<String>>, ExitStatus> {
    if a.all_contexts {
        // Parsed without ever quoting the file (it holds tokens and keys).
        let read = match crate::inventory::connect::load_kubeconfig(a.live.kubeconfig.as_deref()) {
            Ok(Some(kc)) => Ok(kc),
            Ok(None) => {
                Err("cannot load cluster configuration: no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config)"
                    .to_string())
            }
            Err(e) => Err(format!("cannot load cluster configuration: {e}")),
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

/// One cluster or snapshot: exactly the report of earlier releases. With `pending`
/// (`--pending-release`) the change is read from the cluster, before it is collected.
#[allow(clippy::too_many_arguments)] // the run's inputs, each used once, as in check_many
fn check_one(
    a: &CheckArgs,
    dest: Option<Destination>,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
    (policy, today): (Policy, i64),
    change: Option<&ChangeInput>,
    pending: Option<&ReleaseRef>,
) -> ExitStatus {
    let started = std::time::Instant::now();
    // With --pending-release, the change is read from the cluster in the collection's first phase.
    let mut pending_change = None;
    let (inv, run_stats) = match &a.snapshot {
        _ if change.is_some_and(|c| c.no_cluster) => {
            let mut inv =
                Inventory::new(Origin::Manifests(change.map(|c| c.location.clone()).unwrap_or_default()), false);
            inv.no_cluster = true;
            inv.finish();
            (inv, RunStats::default())
        }
        // Projected like a live collection, except with a planned change, whose rules may
        // compare planned objects with the whole live ones.
        Some(path) => match snapshot::load_projected(
            path,
            &limits(a),
            change.is_none().then(|| snapshot_keeps(catalog, sel, req)),
        ) {
            // Before the empty-input rule: a tree whose every file was skipped is, under
            // --strict-input, an input error (exit 2) like any skipped file.
            Ok(i) if a.strict_input && !i.input.skipped.is_empty() => {
                let top = path.display().to_string();
                for s in i.input.skipped.iter().take(20) {
                    // A single file is named once; a file of a tree after the tree.
                    let at = if s.path == top { top.clone() } else { format!("{top}: {}", s.path) };
                    eprint(&format!("{at}: skipped: {} (--strict-input)", s.reason));
                }
                if i.input.skipped.len() > 20 {
                    eprint(&format!("… and {} more skipped (--strict-input)", i.input.skipped.len() - 20));
                }
                return ExitStatus::Invalid;
            }
            // A SnapshotInfo that only states the version or the time is no evidence about the
            // cluster; one that declares which kinds were listed (and which failed) is.
            Ok(i) if i.is_empty() && i.input.declared_resources == 0 => {
                let why = match i.input.skipped.first() {
                    Some(s) => format!(
                        "{} file(s) or object(s) skipped, first {}: {}",
                        i.input.skipped.len(),
                        s.path,
                        s.reason
                    ),
                    None if i.input.declarations > 0 => {
                        "only a SnapshotInfo, which lists no collected resources".to_string()
                    }
                    None => "an empty file, only `---`, or no object files".to_string(),
                };
                eprint(&format!(
                    "{}: no Kubernetes objects in the snapshot ({why}); nothing to evaluate",
                    path.display()
                ));
                return ExitStatus::Incomplete;
            }
            Ok(mut i) => match super::namespaces::limit_snapshot(&mut i, &a.namespaces.namespaces, path) {
                Ok(()) => (i, RunStats::default()),
                Err(s) => return s,
            },
            Err(e) => {
                eprint(&e.to_string());
                return ExitStatus::Incomplete;
            }
        },
        None => match collect_live_stats(
            &live_options(&a.live, a.live.context.first(), a.limits.max_objects, &a.namespaces.namespaces),
            catalog,
            sel,
            req,
            change,
            pending.map(|rel| (rel, limits(a))),
        ) {
            Ok((inv, stats, read)) => {
                pending_change = read;
                (inv, stats)
            }
            Err(s) => return s,
        },
    };
    let change = change.or(pending_change.as_ref());
    let before = change.map(|_| eval::detect_all(catalog, &inv)).unwrap_or_default();
    let inv = match change {
        None => inv,
        Some(c) => match apply_change(inv, c) {
            Ok(future) => future,
            Err(e) => {
                eprint(&e);
                return ExitStatus::Invalid;
            }
        },
    };
    let collected = started.elapsed();
    let mut req = request_for(req, change, &inv);
    if let Err(e) = super::resolve_pending(&mut req, &inv) {
        eprint(&e);
        return ExitStatus::Invalid;
    }
    let plan = match plan::resolve(&req, catalog, &inv) {
        Ok(p) => with_change_targets(with_new_chart_values(p, change), catalog, &before, &inv),
        Err(e) => {
            eprint(&e);
            return ExitStatus::Invalid;
        }
    };
    let evaluation = eval::evaluate_plan(catalog, &inv, sel, &plan);
    if a.stats {
        print_stats(None, &inv, &run_stats, collected, started.elapsed().saturating_sub(collected));
    }
    let mut rep = Report::new(evaluation, &inv, policy);
    rep.data_notices = report::data_notices(catalog, &rep.eval, today);
    drop(inv);
    emit(a, dest, &rep.headline(), |opts| report::render(&rep, a.output, opts), rep.exit)
}

/// Several clusters: collected concurrently (at most `--cluster-concurrency` at once), each
/// evaluated as soon as it arrives; a cluster that cannot be reached is reported as such
/// without losing the others. A planned upgrade (`--target`, `--values`) is resolved in each
/// cluster; where it cannot be (the release is not there), that cluster says why.
#[allow(clippy::too_many_arguments)] // the run's inputs, each used once; a struct would only rename them
fn check_many(
    a: &CheckArgs,
    dest: Option<Destination>,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
    (policy, today): (Policy, i64),
    contexts: &[String],
    change: Option<&ChangeInput>,
) -> ExitStatus {
    if !a.all_contexts
        && let Err(e) = live::check_contexts(a.live.kubeconfig.as_deref(), contexts)
    {
        eprint(&e.to_string());
        return ExitStatus::Invalid;
    }
    let needs = live_needs(catalog, sel, req, change);
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
            let mut opts = live_options(&a.live, Some(ctx), a.limits.max_objects, &a.namespaces.namespaces);
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
                    let before = change.map(|_| eval::detect_all(catalog, &inv)).unwrap_or_default();
                    let inv = match change {
                        None => inv,
                        Some(c) => match apply_change(inv, c) {
                            Ok(future) => future,
                            Err(e) => {
                                eprint(&format!("context {ctx}: {e}"));
                                results.insert(ctx, Err(e));
                                continue;
                            }
                        },
                    };
                    let mut req = request_for(req, change, &inv);
                    let plan = match super::resolve_pending(&mut req, &inv)
                        .and_then(|()| plan::resolve(&req, catalog, &inv))
                    {
                        Ok(p) => with_change_targets(with_new_chart_values(p, change), catalog, &before, &inv),
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
                    let mut rep = Report::new(evaluation, &inv, policy);
                    rep.data_notices = report::data_notices(catalog, &rep.eval, today);
                    results.insert(ctx, Ok(rep));
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
    emit(a, dest, &report::overall_headline(&sections), |opts| report::render_clusters(&sections, a.output, opts), exit)
}

/// Prints or writes the report the way the flags ask, and returns `exit` (or 2 when the
/// output file cannot be written).
fn emit(
    a: &CheckArgs,
    dest: Option<Destination>,
    headline: &str,
    render: impl Fn(RenderOptions) -> String,
    exit: ExitStatus,
) -> ExitStatus {
    match dest {
        Some(dest) => {
            let text = render(RenderOptions { color: false, verbose: a.verbose, ..RenderOptions::default() });
            let shown = dest.path().display().to_string();
            if let Err(e) = write_file(dest, &text) {
                eprint(&e);
                return ExitStatus::Invalid;
            }
            out(&format!("{headline} (report written to {shown})\n"));
        }
        None if a.quiet => out(&format!("{headline}\n")),
        None => {
            let color = a.output == Format::Table
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            out(&render(RenderOptions { color, verbose: a.verbose, width: super::table_width() }));
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

/// What each kind must keep for the enabled rules: the live source's projection, applied to
/// snapshots as they are read.
fn snapshot_keeps(
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
) -> BTreeMap<crate::resource::GroupKind, crate::inventory::projection::Keep> {
    let mut keeps: BTreeMap<crate::resource::GroupKind, crate::inventory::projection::Keep> = BTreeMap::new();
    for n in live_needs(catalog, sel, req, None) {
        keeps.entry(n.gk).or_default().merge(&n.keep);
    }
    keeps
}

fn limits(a: &CheckArgs) -> Limits {
    Limits { max_snapshot_bytes: a.max_snapshot_mib.saturating_mul(1 << 20), max_objects: a.limits.max_objects }
}

pub(super) fn live_options(a: &LiveArgs, context: Option<&String>, max_objects: usize, ns: &[String]) -> LiveOptions {
    LiveOptions {
        max_objects,
        namespaces: super::namespaces::view(ns),
        kubeconfig: a.kubeconfig.clone(),
        context: context.cloned(),
        timeout: a.timeout,
        request_timeout: a.request_timeout,
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

pub(super) fn collect_live(
    opts: &LiveOptions,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
    change: Option<&ChangeInput>,
) -> Result<Inventory, ExitStatus> {
    collect_live_stats(opts, catalog, sel, req, change, None).map(|(inv, _, _)| inv)
}

/// What to collect: checks gated on a target are always collected for; release targets add
/// only releases.
fn live_needs(catalog: &Catalog, sel: &Selection, req: &PlanRequest, change: Option<&ChangeInput>) -> Vec<live::Need> {
    let releases = !req.is_empty() || change.is_some_and(|c| c.release.is_some());
    let mut needs = eval::needs_for(catalog, sel, &req.component_targets(), releases);
    if let Some(c) = change {
        needs.extend(change_needs(c));
        needs = live::merge_needs(needs);
    }
    // `--additional-annotation`: kinds whose last-applied annotations are read keep those too
    // (the live projection drops annotations no rule reads).
    for n in &mut needs {
        let reads_applied = n.keep.paths.iter().any(|p| p.len() == 3 && p[0] == "metadata" && p[1] == "annotations");
        if reads_applied {
            for a in &req.applied_annotations {
                n.keep.merge(&crate::inventory::projection::Keep::annotation(a));
            }
        }
    }
    needs
}

/// The live collection. With `pending` (`--pending-release`) it has two phases on one
/// connection, under one deadline: the release's pending revision is read first (see
/// [`read_pending`]), and becomes the change whose kinds the collection then lists; that
/// change is returned beside the inventory. Failures are printed; their exit status returned.
fn collect_live_stats(
    opts: &LiveOptions,
    catalog: &Catalog,
    sel: &Selection,
    req: &PlanRequest,
    change: Option<&ChangeInput>,
    pending: Option<(&ReleaseRef, Limits)>,
) -> Result<(Inventory, RunStats, Option<ChangeInput>), ExitStatus> {
    let runtime = runtime()?;
    let failed = |e: live::LiveError| (live_status(&e), e.to_string());
    let collected = runtime.block_on(async {
        let session = live::Session::open(opts).await.map_err(failed)?;
        let read = match pending {
            Some((rel, limits)) => Some(read_pending(&session, rel, req, &limits).await?),
            None => None,
        };
        let needs = live_needs(catalog, sel, req, change.or(read.as_ref()));
        let (inv, stats) = session.collect(&needs).await.map_err(failed)?;
        Ok((inv, RunStats::from(&*stats), read))
    });
    collected.map_err(|(status, msg): (ExitStatus, String)| {
        eprint(&msg);
        status
    })
}

/// Peak resident set size of this process (Linux `VmHWM`), if the platform tells.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
