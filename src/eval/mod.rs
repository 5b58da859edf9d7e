//! Evaluation: a pure, synchronous function of the catalog and the inventory.
//!
//! Cluster problems are [`Finding`]s, never errors. A check whose data could not be read
//! is *could not evaluate* with the reason; a check about something the cluster does not
//! have (a custom resource kind it does not serve, a component it does not run) is *not
//! applicable*. Neither is ever a silent pass.
//!
//! Layer: eval. Owns checks, component detection, built-in evaluators, what to collect
//! (`needs`) and upgrade planning (`plan`). Imports the inventory, the catalog and the
//! ground layer; never `report` or `commands`.
//!
//! One job: run the selected checks and rules over one inventory (over 600 lines because
//! the CEL and built-in paths share the outcome bookkeeping that makes "-v" and the report
//! agree).

mod api_requests;
mod backups;
pub mod builtins;
mod cel_rule;
mod certs;
pub mod change;
pub mod chart_kube_version;
pub mod detect;
mod drain;
mod needs;
pub mod plan;
pub mod quantity;
mod webhooks;
pub mod workloads;

pub use cel_rule::{CelResult, eval_cel, eval_cel_full, eval_cel_with_old};
pub use needs::{needs, needs_for};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::catalog::{Catalog, Check, Rule, RuleInfo, Severity, When};
use crate::inventory::{Inventory, KindView, Object};
use crate::resource::{GroupKind, ObjectRef};
use crate::version;
use detect::{Detected, VersionState};

/// One problem found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Check id or matrix rule id.
    pub check_id: String,
    /// Severity.
    pub severity: Severity,
    /// Component it concerns.
    pub component: Option<String>,
    /// Evidence, the offending object first.
    pub objects: Vec<ObjectRef>,
    /// One line.
    pub message: String,
    /// How to fix it.
    pub remediation: String,
    /// Links.
    pub references: Vec<String>,
}

/// A check that produced no verdict, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Check id.
    pub check_id: String,
    /// Severity the check would have had.
    pub severity: Severity,
    /// Why.
    pub reason: String,
}

/// A check or rule that was evaluated and found nothing, and what it looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// Check id.
    pub check_id: String,
    /// Severity its findings would have had.
    pub severity: Severity,
    /// One line: what was evaluated (`evaluated 12 Pods, none matched`).
    pub why: String,
}

/// Which checks to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these ids (empty = all).
    pub only: BTreeSet<String>,
    /// Never these ids.
    pub skip: BTreeSet<String>,
}

impl Selection {
    /// True when check (or rule) `id` is enabled.
    #[must_use]
    pub fn wants(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.contains(id)) && !self.skip.contains(id)
    }
}

/// The outcome of evaluation.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Findings, sorted (severity desc, check id, objects).
    pub findings: Vec<Finding>,
    /// Checks that do not apply to this cluster.
    pub not_applicable: Vec<Skipped>,
    /// Checks that could not be evaluated.
    pub could_not_evaluate: Vec<Skipped>,
    /// Ids evaluated (whether or not they found anything).
    pub evaluated: Vec<String>,
    /// The evaluated ids that found nothing, with what they looked at (for `-v`).
    pub passed: Vec<Passed>,
    /// Metadata of every id in this evaluation (evaluated, not applicable, could not evaluate).
    pub rules: BTreeMap<String, RuleInfo>,
    /// Detected components.
    pub components: Vec<Detected>,
    /// The upgrade plan, one step per target and release (empty without `--target`/`--values`).
    pub plan: Vec<crate::eval::plan::PlanStep>,
}

enum Outcome {
    Ran(Vec<Finding>),
    /// Ran and found these, but could not judge everything, because of this.
    Partial(Vec<Finding>, String),
    /// Ran and found nothing, because of this (one line).
    Passed(String),
    NotApplicable(String),
    CouldNotEvaluate(String),
}

/// Every matrix's detection on an inventory.
#[must_use]
pub fn detect_all(catalog: &Catalog, inv: &Inventory) -> BTreeMap<String, Detected> {
    catalog.matrices.values().map(|m| (m.id.clone(), detect::detect(m, inv))).collect()
}

/// Evaluates every selected check and matrix rule against the inventory.
#[must_use]
pub fn evaluate(catalog: &Catalog, inv: &Inventory, sel: &Selection) -> Evaluation {
    evaluate_plan(catalog, inv, sel, &crate::eval::plan::Plan::default())
}

/// Evaluates every selected check and matrix rule, and the upgrade plan.
#[must_use]
pub fn evaluate_plan(
    catalog: &Catalog,
    inv: &Inventory,
    sel: &Selection,
    plan: &crate::eval::plan::Plan,
) -> Evaluation {
    let detected = detect_all(catalog, inv);
    let env = crate::catalog::cel_env();
    let mut out = Evaluation::default();
    let targets = plan.versions();
    // Per check: the objects it found, or why it gave no verdict (for known-bad rules).
    let mut check_results: crate::eval::plan::CheckResults<'_> = BTreeMap::new();

    let needed = checks_needed(catalog, sel, &targets);
    // Checks are independent reads of the inventory: run them on all cores, record them in
    // catalog order (the report is the same as one thread's).
    let to_run: Vec<&Check> = catalog.checks.values().filter(|c| needed.contains(c.id.as_str())).collect();
    let outcomes =
        crate::inventory::par_map(&to_run, &|check| run_check(check, catalog, inv, &detected, &targets, &env));
    for (check, outcome) in to_run.into_iter().zip(outcomes) {
        let objs = match &outcome {
            Outcome::Ran(f) | Outcome::Partial(f, _) => {
                Ok(f.iter().filter_map(|f| f.objects.first().cloned()).collect())
            }
            Outcome::Passed(_) => Ok(Vec::new()),
            Outcome::NotApplicable(r) => Err((true, r.clone())),
            Outcome::CouldNotEvaluate(r) => Err((false, r.clone())),
        };
        check_results.insert(&check.id, objs);
        if sel.wants(&check.id) {
            let severity = match &check.rule {
                Rule::Builtin(b) => builtins::severity(b, check.severity, &targets),
                Rule::Cel { .. } => check.severity,
            };
            record(&mut out, &check.id, severity, outcome);
        }
    }

    for m in catalog.matrices.values() {
        let det = &detected[&m.id];
        // A version the change sets is judged at the target by planning (as a `--target`
        // is); here, what runs now.
        let running = plan.current.get(&m.id).unwrap_or(det);
        for kb in &m.known_bad {
            if !sel.wants(&kb.id) {
                continue;
            }
            let det = running;
            let outcome = match &det.state {
                VersionState::NotDetected => Outcome::NotApplicable(format!("{} not detected", m.name)),
                VersionState::Unknown(why) => Outcome::CouldNotEvaluate(format!("{} version unknown: {why}", m.name)),
                // The version was checked and is not affected: an evaluated pass.
                VersionState::Known(v) if !kb.range.matches(v) => {
                    Outcome::Passed(format!("{} {} is not in {}", m.name, version::display(v), kb.range))
                }
                VersionState::Known(v) => {
                    let base = Finding {
                        check_id: kb.id.clone(),
                        severity: kb.severity,
                        component: Some(m.id.clone()),
                        objects: det.object.clone().into_iter().collect(),
                        message: format!("{} {} ({}): {}", m.name, version::display(v), kb.range, kb.message),
                        remediation: kb.remediation.clone(),
                        references: kb.references.clone(),
                    };
                    match &kb.requires_check {
                        None => Outcome::Ran(vec![base]),
                        Some((check, _)) => match check_results.get(check.as_str()) {
                            Some(Ok(objs)) if objs.is_empty() => Outcome::Passed(format!(
                                "{} {} is in {}, but check '{check}' found nothing",
                                m.name,
                                version::display(v),
                                kb.range
                            )),
                            Some(Ok(objs)) => Outcome::Ran(
                                objs.iter()
                                    .map(|o| Finding {
                                        objects: vec![o.clone()].into_iter().chain(det.object.clone()).collect(),
                                        message: format!("{o}: {}", base.message),
                                        ..base.clone()
                                    })
                                    .collect(),
                            ),
                            Some(Err((true, why))) => {
                                Outcome::NotApplicable(format!("check '{check}' does not apply: {why}"))
                            }
                            Some(Err((false, why))) => {
                                Outcome::CouldNotEvaluate(format!("check '{check}' could not be evaluated: {why}"))
                            }
                            // The catalog validates requires-check, so an unknown one cannot get here.
                            None => Outcome::CouldNotEvaluate(format!("unknown check '{check}'")),
                        },
                    }
                }
            };
            record(&mut out, &kb.id, kb.severity, outcome);
        }
        if let Some(pin) = &m.pinning
            && let Some(range) = &pin.range
        {
            let id = m.pin_id();
            if sel.wants(&id) {
                let outcome = match &det.state {
                    VersionState::NotDetected => Outcome::NotApplicable(format!("{} not detected", m.name)),
                    VersionState::Unknown(why) => {
                        Outcome::CouldNotEvaluate(format!("{} version unknown: {why}", m.name))
                    }
                    VersionState::Known(v) if range.matches(v) => {
                        Outcome::Passed(format!("{} {} is within its pin {range}", m.name, version::display(v)))
                    }
                    VersionState::Known(v) => Outcome::Ran(vec![Finding {
                        check_id: id.clone(),
                        severity: pin.severity,
                        component: Some(m.id.clone()),
                        objects: det.object.clone().into_iter().collect(),
                        message: format!("{} runs {}, outside its pin {range}", m.name, version::display(v)),
                        remediation: pin.remediation.clone().unwrap_or_else(|| format!("Pin {} to {range}.", m.name)),
                        references: m.references.clone(),
                    }]),
                };
                record(&mut out, &id, pin.severity, outcome);
            }
        }
    }

    if !plan.targets.is_empty() || !plan.values.is_empty() || !plan.releases.is_empty() {
        let wants = |id: &str| sel.wants(id);
        // Components the change upgrades start from what runs now, not the future state.
        let mut from = detected.clone();
        from.extend(plan.current.iter().map(|(k, d)| (k.clone(), d.clone())));
        let planned = crate::eval::plan::evaluate(catalog, inv, &from, &check_results, plan, &wants);
        out.findings.extend(planned.findings);
        out.could_not_evaluate.extend(planned.could_not_evaluate);
        for id in planned.evaluated {
            if !out.passed.iter().any(|p| p.check_id == id) {
                let severity = catalog.describe(&id).map_or(Severity::Blocker, |i| i.severity);
                let why = "checked against the planned upgrade, found nothing".to_string();
                out.passed.push(Passed { check_id: id.clone(), severity, why });
            }
            if !out.evaluated.contains(&id) {
                out.evaluated.push(id);
            }
        }
        plan::raise_to_blockers(catalog, plan, &mut out.findings, &mut out.could_not_evaluate);
        out.plan = planned.steps;
    }
    let planned_kube_version =
        inv.change.as_ref().and_then(|c| change::record_all(catalog, inv, c, plan, sel, &mut out));
    if sel.wants(chart_kube_version::ID) {
        chart_kube_version::record(inv, plan, planned_kube_version, &mut out);
    }
    if inv.no_cluster {
        // Without a cluster, what needs one is not applicable, never unknown (exit 3).
        for s in std::mem::take(&mut out.could_not_evaluate) {
            out.not_applicable
                .push(Skipped { reason: format!("no cluster was read (--no-cluster): {}", s.reason), ..s });
        }
    }
    // A rule that passed on the running version may still find something at the target.
    let decided: BTreeSet<&str> = out
        .findings
        .iter()
        .map(|f| f.check_id.as_str())
        .chain(out.could_not_evaluate.iter().map(|s| s.check_id.as_str()))
        .collect();
    out.passed.retain(|p| !decided.contains(p.check_id.as_str()));
    out.components = detected.into_values().collect();
    let ids = out.evaluated.iter().chain(out.not_applicable.iter().chain(&out.could_not_evaluate).map(|s| &s.check_id));
    out.rules = ids.filter_map(|id| Some((id.clone(), catalog.describe(id)?))).collect();
    out.findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.check_id.cmp(&b.check_id))
            .then_with(|| a.objects.cmp(&b.objects))
            .then_with(|| a.message.cmp(&b.message))
    });
    out.findings.dedup();
    out
}

fn record(out: &mut Evaluation, id: &str, severity: Severity, outcome: Outcome) {
    let skipped = |reason: String| Skipped { check_id: id.to_string(), severity, reason };
    match outcome {
        Outcome::Ran(f) => {
            out.evaluated.push(id.to_string());
            out.findings.extend(f);
        }
        Outcome::Partial(f, r) => {
            out.evaluated.push(id.to_string());
            out.findings.extend(f);
            out.could_not_evaluate.push(skipped(r));
        }
        Outcome::Passed(why) => {
            out.evaluated.push(id.to_string());
            out.passed.push(Passed { check_id: id.to_string(), severity, why });
        }
        Outcome::NotApplicable(r) => out.not_applicable.push(skipped(r)),
        Outcome::CouldNotEvaluate(r) => out.could_not_evaluate.push(skipped(r)),
    }
}

fn gate(
    when: &When,
    detected: &BTreeMap<String, Detected>,
    targets: &BTreeMap<String, semver::Version>,
) -> Option<Outcome> {
    if when.targeted {
        match (targets.get(&when.component), &when.target) {
            (None, _) => {
                return Some(Outcome::NotApplicable(format!(
                    "runs only when an upgrade of {} is planned (--target {}=VERSION)",
                    when.component, when.component
                )));
            }
            (Some(t), Some(r)) if !r.matches(t) => {
                return Some(Outcome::NotApplicable(format!(
                    "target {} {} is not in {r}",
                    when.component,
                    version::display(t)
                )));
            }
            _ => {}
        }
    }
    let det = detected.get(&when.component)?;
    match (&det.state, &when.range) {
        (VersionState::NotDetected, _) => Some(Outcome::NotApplicable(format!("{} not detected", det.name))),
        (VersionState::Unknown(_), None) | (VersionState::Known(_), None) => None,
        (VersionState::Unknown(why), Some(_)) => {
            Some(Outcome::CouldNotEvaluate(format!("{} version unknown: {why}", det.name)))
        }
        (VersionState::Known(v), Some(r)) if !r.matches(v) => {
            Some(Outcome::NotApplicable(format!("{} {} is not in {r}", det.name, version::display(v))))
        }
        (VersionState::Known(_), Some(_)) => None,
    }
}

fn run_check(
    check: &Check,
    catalog: &Catalog,
    inv: &Inventory,
    detected: &BTreeMap<String, Detected>,
    targets: &BTreeMap<String, semver::Version>,
    env: &Arc<cel::Env>,
) -> Outcome {
    if let Some(w) = &check.when
        && let Some(o) = gate(w, detected, targets)
    {
        return o;
    }
    if let Rule::Builtin(b) = &check.rule
        && let Some(outcome) = builtins::precheck(b, inv)
    {
        return outcome;
    }
    let reads = check.reads();
    let mut absent = Vec::new();
    let self_judged = match &check.rule {
        Rule::Builtin(b) if b.judges_kind_states() => {
            if let Some(why) = builtins::not_applicable(b, inv) {
                return Outcome::NotApplicable(why);
            }
            true
        }
        _ => false,
    };
    for gk in reads.iter().filter(|_| !self_judged) {
        match inv.state(gk) {
            KindView::Failed(r) => {
                // A built-in may judge from either of two sources (EndpointSlices or Endpoints).
                let other_read = match &check.rule {
                    Rule::Builtin(b) => {
                        b.optional_reads().contains(gk)
                            || b.either_of().iter().any(|group| {
                                group.contains(gk)
                                    && group.iter().any(|o| o != gk && matches!(inv.state(o), KindView::Collected(_)))
                            })
                    }
                    Rule::Cel { .. } => false,
                };
                if !other_read {
                    return Outcome::CouldNotEvaluate(format!("cannot read {gk}: {r}"));
                }
            }
            KindView::Absent => absent.push(gk.to_string()),
            KindView::Collected(_) => {}
        }
    }
    if !reads.is_empty() && absent.len() == reads.len() {
        return Outcome::NotApplicable(format!("cluster does not serve {}", absent.join(", ")));
    }
    let finding = |objects: Vec<ObjectRef>, message: String, severity: Option<Severity>| Finding {
        check_id: check.id.clone(),
        severity: severity.unwrap_or(check.severity),
        component: check.component.clone(),
        objects,
        message,
        remediation: check.remediation.clone(),
        references: check.references.clone(),
    };
    match &check.rule {
        Rule::Builtin(b) => match builtins::evaluate(b, inv, catalog, detected, targets) {
            Ok(j) if !j.unknown.is_empty() => {
                let why = if j.unknown.len() == 1 {
                    j.unknown[0].clone()
                } else {
                    format!("{} not judged, first: {}", j.unknown.len(), j.unknown[0])
                };
                if j.hits.is_empty() {
                    Outcome::CouldNotEvaluate(why)
                } else {
                    Outcome::Partial(
                        j.hits.into_iter().map(|h| finding(h.objects, h.message, h.severity)).collect(),
                        why,
                    )
                }
            }
            Ok(j) if j.hits.is_empty() => {
                let notes = if j.notes.is_empty() { String::new() } else { format!(" ({})", j.notes.join("; ")) };
                // What is judged, not what is looked up: Secrets read to resolve references
                // are not something the check "found nothing" in.
                let supporting = ["Secret", "ConfigMap", "Service", "Endpoints", "EndpointSlice"];
                let subjects: Vec<&GroupKind> = reads
                    .iter()
                    .filter(|gk| {
                        !(gk.group.is_empty() || gk.group == "discovery.k8s.io")
                            || !supporting.contains(&gk.kind.as_str())
                    })
                    .collect();
                let subjects = if subjects.is_empty() { reads.iter().collect() } else { subjects };
                let read: Vec<(String, usize)> = subjects
                    .iter()
                    .map(|gk| (gk.kind.clone(), inv.objects(gk).len()))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                let scope = view_note(inv, subjects.iter().copied());
                if read.is_empty() {
                    let kinds: Vec<String> = subjects.iter().map(|gk| plural(&gk.kind, 0)).collect();
                    Outcome::Passed(format!("no {}{scope} to evaluate{notes}", kinds.join(" or ")))
                } else {
                    Outcome::Passed(format!("read {}{scope}, found nothing{notes}", counted(&read)))
                }
            }
            Ok(j) => Outcome::Ran(j.hits.into_iter().map(|h| finding(h.objects, h.message, h.severity)).collect()),
            Err(e) => Outcome::CouldNotEvaluate(e),
        },
        Rule::Cel { program, message, source } => {
            // A selector of one namespace the run did not read (`-n`) has nothing to judge.
            if let Some((gk, why)) =
                check.resources.iter().find_map(|r| Some((&r.gk, inv.outside_view(r.namespace.as_deref())?)))
            {
                return Outcome::CouldNotEvaluate(format!("it reads {gk} in one namespace only: {why}"));
            }
            // A planned object the cluster does not have yet has no status: a rule that reads
            // status has nothing to judge on it (replaced objects keep the live status).
            let reads_status = {
                let keep = crate::inventory::projection::cel_paths(program.expression());
                keep.all
                    || keep.paths.iter().chain(&keep.unowned_paths).any(|p| p.first().is_some_and(|f| f == "status"))
            };
            // What the rule and its message read of `object`: the rest is not handed to CEL.
            let reads = cel_rule::reads(program, message.as_ref());
            let reads = &reads;
            let required: Vec<(cel_rule::Required, memchr::memmem::Finder<'static>)> =
                cel_rule::required_texts(program)
                    .into_iter()
                    .map(|r| {
                        let finder = memchr::memmem::Finder::new(&r.text).into_owned();
                        (r, finder)
                    })
                    .collect();
            let required = &required;
            let candidates: Vec<&Object> = check
                .resources
                .iter()
                .flat_map(|sel| {
                    inv.objects(&sel.gk).iter().filter(move |obj| {
                        sel.namespace.as_deref().is_none_or(|n| obj.namespace.as_deref() == Some(n))
                            && sel.label_selector.as_ref().is_none_or(|s| s.matches(obj.labels().as_ref()))
                    })
                })
                .filter(|obj| {
                    !(reads_status && obj.change == Some(crate::resource::Change::Planned) && !obj.has_status())
                })
                .collect();
            // `oldObject`: the live object each planned one replaces.
            let olds: std::collections::HashMap<(crate::resource::GroupKind, Option<&str>, &str), &Object> = inv
                .change
                .iter()
                .flat_map(|c| c.planned.iter())
                .filter_map(|p| p.live.as_ref().map(|l| ((l.gk(), l.namespace.as_deref(), l.name.as_str()), l)))
                .collect();
            let old_of = |obj: &Object| -> Option<&Object> {
                if obj.change != Some(crate::resource::Change::Planned) {
                    return None;
                }
                olds.get(&(obj.gk(), obj.namespace.as_deref(), obj.name.as_str())).copied()
            };
            let old_of = &old_of;
            let capture_time = inv.capture_time().unwrap_or_default();
            let capture_time = capture_time.as_str();
            // A snapshot that does not say when it was taken (`capturedAt`) was taken no earlier
            // than its latest timestamp and no later than now. A rule about how long a state has
            // lasted, true at the earliest possible capture time, stays true; one that is false
            // there but true now cannot be decided: that object is *could not evaluate*.
            let latest_possible = (inv.captured_at.is_none() && source.contains("captureTime"))
                .then(|| crate::inventory::now_rfc3339().unwrap_or_default());
            let latest_possible = latest_possible.as_deref();
            // Objects are independent: evaluate chunks on all cores, then merge in order.
            let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get).clamp(1, 8);
            let chunk = candidates.len().div_ceil(threads).max(256);
            // Each object's result, and whether it depends on the unknown capture time.
            let results: Vec<(CelResult, bool)> = std::thread::scope(|scope| {
                let handles: Vec<_> = candidates
                    .chunks(chunk)
                    .map(|part| {
                        // Captures only references, so it is `Copy`: if no thread can be
                        // started, it runs here instead.
                        let work = move || {
                            part.iter()
                                .map(|obj| {
                                    // False at any capture time without the text it compares.
                                    if required.iter().any(|(r, f)| r.rules_out(f, obj.raw())) {
                                        return (Ok(None), false);
                                    }
                                    cel_rule::eval_cel_between(
                                        program,
                                        message.as_ref(),
                                        reads,
                                        obj,
                                        old_of(obj),
                                        env,
                                        capture_time,
                                        latest_possible,
                                    )
                                })
                                .collect::<Vec<_>>()
                        };
                        // The interpreter recurses once per level of the expression:
                        // give it the stack `MAX_CEL_DEPTH` levels need in any build.
                        std::thread::Builder::new()
                            .stack_size(crate::limits::EVAL_STACK_BYTES)
                            .spawn_scoped(scope, work)
                            .map_err(|_| work())
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| match h {
                        Ok(h) => {
                            h.join().unwrap_or_else(|_| vec![(Err("evaluation thread panicked".to_string()), false)])
                        }
                        Err(done) => done,
                    })
                    .collect()
            });
            let mut findings = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            let mut undecided: Vec<String> = Vec::new();
            for (obj, (result, depends_on_time)) in candidates.iter().zip(results) {
                if depends_on_time {
                    undecided.push(obj.obj_ref().to_string());
                    continue;
                }
                match result {
                    Ok(None) => {}
                    Ok(Some(msg)) => {
                        let msg = msg.unwrap_or_else(|| default_message(check, obj));
                        findings.push(finding(vec![obj.obj_ref()], msg, None));
                    }
                    Err(e) => errors.push(format!("{}: {e}", obj.obj_ref())),
                }
            }
            if errors.is_empty() && !undecided.is_empty() {
                let when = if capture_time.is_empty() {
                    "the input says nowhere when it was captured (no capturedAt, no timestamps)".to_string()
                } else {
                    format!(
                        "the snapshot does not say when it was captured (no capturedAt): only that it was after {capture_time}, its latest timestamp"
                    )
                };
                let what = if undecided.len() == 1 {
                    undecided[0].clone()
                } else {
                    format!("{} objects, first {}", undecided.len(), undecided[0])
                };
                let why = format!("{what} could not be judged: {when}");
                return if findings.is_empty() {
                    Outcome::CouldNotEvaluate(why)
                } else {
                    Outcome::Partial(findings, why)
                };
            }
            if errors.is_empty() && findings.is_empty() {
                let mut per_kind: Vec<(String, usize)> = Vec::new();
                for obj in &candidates {
                    match per_kind.iter_mut().find(|(k, _)| *k == obj.kind) {
                        Some((_, n)) => *n += 1,
                        None => per_kind.push((obj.kind.clone(), 1)),
                    }
                }
                let scope = view_note(inv, check.resources.iter().map(|r| &r.gk));
                if per_kind.is_empty() {
                    let kinds: Vec<String> = check.resources.iter().map(|r| plural(&r.gk.kind, 0)).collect();
                    Outcome::Passed(format!("no {}{scope} to evaluate", kinds.join(" or ")))
                } else {
                    Outcome::Passed(format!("evaluated {}{scope}, none matched", counted(&per_kind)))
                }
            } else if errors.is_empty() {
                Outcome::Ran(findings)
            } else {
                Outcome::CouldNotEvaluate(format!("CEL failed on {} object(s), first: {}", errors.len(), errors[0]))
            }
        }
    }
}

/// ` in namespace(s) a, b` when the view is partial (`-n`) and one of `kinds` is namespaced
/// (or may be): a pass there says nothing of the other namespaces.
fn view_note<'a>(inv: &Inventory, mut kinds: impl Iterator<Item = &'a GroupKind>) -> String {
    if inv.is_partial() && kinds.any(|gk| !crate::resource::known_cluster_scoped(gk)) {
        format!(" in namespace(s) {}", inv.view_label())
    } else {
        String::new()
    }
}

/// `12 Pods, 1 Secret`.
fn counted(kinds: &[(String, usize)]) -> String {
    kinds.iter().map(|(k, n)| format!("{n} {}", plural(k, *n))).collect::<Vec<_>>().join(", ")
}

/// A kind's name for `n` objects: `Pod`, `Pods`, `Ingresses`, `NetworkPolicies`, `Endpoints`.
fn plural(kind: &str, n: usize) -> String {
    if n == 1 || kind.ends_with("Endpoints") {
        kind.to_string()
    } else if kind.ends_with('s') || kind.ends_with('x') || kind.ends_with("ch") || kind.ends_with("sh") {
        format!("{kind}es")
    } else if let Some(stem) = kind.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{kind}s")
    }
}

fn default_message(check: &Check, obj: &Object) -> String {
    let template = check.message.as_deref().unwrap_or("{object}: {title}");
    template
        .replace("{object}", &obj.obj_ref().to_string())
        .replace("{kind}", &obj.kind)
        .replace("{namespace}", obj.namespace.as_deref().unwrap_or(""))
        .replace("{name}", &obj.name)
        .replace("{title}", &check.title)
}

/// The selected checks plus those a selected known-bad rule depends on (`requires-check`)
/// and the upgrade gates of targeted components.
fn checks_needed<'a>(
    catalog: &'a Catalog,
    sel: &Selection,
    targets: &BTreeMap<String, semver::Version>,
) -> BTreeSet<&'a str> {
    let mut needed: BTreeSet<&str> = catalog.checks.keys().filter(|id| sel.wants(id)).map(String::as_str).collect();
    for m in catalog.matrices.values() {
        for kb in m.known_bad.iter().filter(|kb| sel.wants(&kb.id)) {
            if let Some((c, _)) = &kb.requires_check {
                needed.insert(c);
            }
        }
        if targets.contains_key(&m.id) {
            needed.extend(m.upgrade.gates.iter().map(String::as_str));
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::{counted, plural};

    #[test]
    fn kinds_are_counted_in_plain_english() {
        assert_eq!(plural("Pod", 1), "Pod");
        assert_eq!(plural("Pod", 0), "Pods");
        assert_eq!(plural("Ingress", 2), "Ingresses");
        assert_eq!(plural("NetworkPolicy", 2), "NetworkPolicies");
        assert_eq!(plural("Gateway", 2), "Gateways");
        assert_eq!(plural("Endpoints", 3), "Endpoints");
        assert_eq!(counted(&[("Node".into(), 12), ("Secret".into(), 1)]), "12 Nodes, 1 Secret");
    }
}
