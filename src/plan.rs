//! Upgrade planning: what the user is about to do (`--target`, `--values`) and the findings
//! about that plan — upgrade paths, compatibility at the target, known-bad targets, platform
//! gates, removed Kubernetes APIs and values pre-checks.
//!
//! A request is parsed from the command line ([`PlanRequest`]), resolved against the
//! inventory ([`Plan`]: Helm releases named by the user must exist) and evaluated together
//! with the checks by [`crate::eval::evaluate_plan`].

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;
use serde_json::Value;

use crate::catalog::{Catalog, ChartVersionField, DetectSource, Matrix, Severity};
use crate::eval::detect::{Detected, VersionState};
use crate::eval::{Finding, Skipped, workloads};
use crate::inventory::{Inventory, KindView, Object, str_at};
use crate::resource::{GroupKind, ObjectRef};
use crate::version::{self, Parsed};

/// Finding ids produced by planning (they share the namespace of check ids).
pub const FINDING_IDS: [(&str, Severity, &str); 9] = [
    ("upgrade-path", Severity::Blocker, "the target cannot be reached from the current version in one step"),
    ("upgrade-target-unverified", Severity::Warning, "no upgrade path in the matrix covers the target"),
    ("peer-compatibility", Severity::Blocker, "a component would run outside another's supported range"),
    ("kubelet-skew", Severity::Blocker, "kubelets outside the version-skew policy of the target API server"),
    ("removed-api", Severity::Blocker, "objects or releases still use an API version removed at the target"),
    ("deprecated-api", Severity::Warning, "objects or releases use an API version deprecated at the target"),
    ("values-required-key", Severity::Blocker, "a values file leaves out a key the component version needs"),
    ("values-floating-image-tag", Severity::Warning, "a values file sets a floating image tag"),
    ("values-renamed-key", Severity::Blocker, "a values file renames or drops a named entry the release has"),
];

/// What `--target` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKey {
    /// A component id from the matrices.
    Component(String),
    /// `release:[NAMESPACE/]NAME`: a Helm release, to its chart version.
    Release {
        /// Namespace, when given.
        namespace: Option<String>,
        /// Release name.
        name: String,
    },
}

/// One `--target`.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// What is upgraded.
    pub key: TargetKey,
    /// The version as written.
    pub raw: String,
    /// The version.
    pub version: Version,
}

/// One `--values RELEASE=FILE`, with the file read and parsed.
#[derive(Debug, Clone)]
pub struct ValuesSpec {
    /// Release namespace, when given.
    pub namespace: Option<String>,
    /// Release name.
    pub release: String,
    /// File path as given.
    pub file: String,
    /// Parsed values (never printed).
    pub values: Value,
}

/// The plan as the user stated it.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// `--target`s.
    pub targets: Vec<TargetSpec>,
    /// `--values`.
    pub values: Vec<ValuesSpec>,
    /// `--reuse-values`: merge onto the release's current values, as `helm upgrade --reuse-values`.
    pub reuse_values: bool,
}

impl PlanRequest {
    /// True when nothing is planned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.values.is_empty()
    }

    /// Component targets as given (release targets are resolved later).
    #[must_use]
    pub fn component_targets(&self) -> BTreeMap<String, Version> {
        self.targets
            .iter()
            .filter_map(|t| match &t.key {
                TargetKey::Component(c) => Some((c.clone(), t.version.clone())),
                TargetKey::Release { .. } => None,
            })
            .collect()
    }
}

/// Parses `COMPONENT=VERSION` or `release:[NS/]NAME=VERSION`.
pub fn parse_target(arg: &str, catalog: &Catalog) -> Result<TargetSpec, String> {
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| format!("--target '{arg}': expected COMPONENT=VERSION (e.g. rancher=2.8.5)"))?;
    let (key, raw) = (key.trim(), raw.trim());
    let key = match key.strip_prefix("release:") {
        Some(r) => {
            let (namespace, name) = split_release(r);
            if name.is_empty() {
                return Err(format!("--target '{arg}': release:[NAMESPACE/]NAME needs a name"));
            }
            TargetKey::Release { namespace, name }
        }
        None if catalog.matrices.contains_key(key) => TargetKey::Component(key.to_string()),
        None => {
            let known: Vec<&str> = catalog.matrices.keys().map(String::as_str).collect();
            return Err(format!(
                "--target '{arg}': unknown component '{key}' (known: {}; or release:[NAMESPACE/]NAME for a Helm release)",
                known.join(", ")
            ));
        }
    };
    let version = match version::parse(raw) {
        Parsed::Version(v) => v,
        Parsed::Floating(why) | Parsed::Unknown(why) => {
            return Err(format!("--target '{arg}': {why}; a target must be a release version such as 1.4.2"));
        }
    };
    Ok(TargetSpec { key, raw: raw.to_string(), version })
}

fn split_release(s: &str) -> (Option<String>, String) {
    match s.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, s.to_string()),
    }
}

/// Parses `[NS/]RELEASE=FILE` and reads the file. YAML errors name the file, line and column.
pub fn parse_values(arg: &str) -> Result<ValuesSpec, String> {
    let (rel, file) =
        arg.split_once('=').ok_or_else(|| format!("--values '{arg}': expected [NAMESPACE/]RELEASE=FILE"))?;
    let (namespace, release) = split_release(rel.trim());
    if release.is_empty() || file.is_empty() {
        return Err(format!("--values '{arg}': expected [NAMESPACE/]RELEASE=FILE"));
    }
    use crate::limits::{MAX_VALUES_FILE_BYTES, human_bytes, read_limited, values_yaml_options, with_parser_stack};
    // Read through a bound, not after a size check: /dev/stdin or a pipe reports 0 bytes.
    let text = match read_limited(std::path::Path::new(file), MAX_VALUES_FILE_BYTES) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(format!(
                "{file}: values file is larger than {}, the limit for --values files",
                human_bytes(MAX_VALUES_FILE_BYTES)
            ));
        }
        Err(e) => return Err(format!("{file}: cannot read values file: {e}")),
    };
    let parsed = with_parser_stack(|| {
        serde_saphyr::from_str_with_options::<Option<Value>>(&text, values_yaml_options(text.len()))
    })
    .map_err(|e| format!("{file}: cannot start the YAML parser: {e}"))?;
    let values: Value = match parsed {
        Ok(v) => v.unwrap_or(Value::Object(Default::default())),
        Err(e) => {
            let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            // Values are secrets: a parser message that quotes input has it replaced.
            let msg = crate::limits::yaml_limit_message(&e, "--values files")
                .unwrap_or_else(|| crate::helm::redact_quoted(&crate::catalog::plain_yaml_message(&e)));
            return Err(format!("{file}:{line}:{col}: error: {msg}"));
        }
    };
    if !values.is_object() {
        return Err(format!("{file}:1:1: error: a values file must be a map of keys"));
    }
    Ok(ValuesSpec { namespace, release, file: file.to_string(), values })
}

/// A target resolved to a component.
#[derive(Debug, Clone)]
pub struct Target {
    /// Component id.
    pub component: String,
    /// Target version.
    pub version: Version,
    /// As written.
    pub raw: String,
    /// The Helm release this target came from (`release:` targets).
    pub via_release: Option<String>,
}

/// A Helm release the plan touches.
#[derive(Debug, Clone)]
pub struct ReleaseStep {
    /// `namespace/name`.
    pub name: String,
    /// The `HelmRelease` object.
    pub object: ObjectRef,
    /// Chart name.
    pub chart: String,
    /// Current chart version.
    pub current: Option<String>,
    /// Target chart version (a `release:` target).
    pub target: Option<String>,
}

/// `--values` resolved to its release.
#[derive(Debug, Clone)]
pub struct ResolvedValues {
    /// The request.
    pub spec: ValuesSpec,
    /// The release's `HelmRelease` object.
    pub object: ObjectRef,
    /// Chart name.
    pub chart: String,
    /// Shape of the release's user-supplied values.
    pub current: Value,
    /// Shape of the chart's default values.
    pub chart_values: Value,
}

/// The plan resolved against the inventory.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Component targets.
    pub targets: BTreeMap<String, Target>,
    /// Releases named by targets or values.
    pub releases: Vec<ReleaseStep>,
    /// Values files.
    pub values: Vec<ResolvedValues>,
    /// `--reuse-values`.
    pub reuse_values: bool,
}

impl Plan {
    /// Target versions by component.
    #[must_use]
    pub fn versions(&self) -> BTreeMap<String, Version> {
        self.targets.iter().map(|(c, t)| (c.clone(), t.version.clone())).collect()
    }
}

/// Finds a release by name (and namespace): its last deployed revision, else its newest.
fn find_release<'a>(inv: &'a Inventory, namespace: Option<&str>, name: &str) -> Result<(&'a Object, Value), String> {
    let gk = crate::helm::group_kind();
    if let KindView::Failed(r) = inv.state(&gk) {
        return Err(format!("cannot read Helm releases: {r}"));
    }
    let objects = inv.objects(&gk);
    let found = crate::helm::current_revisions(objects, |o, v| {
        str_at(v, &["spec", "release"]) == Some(name) && namespace.is_none_or(|n| o.namespace.as_deref() == Some(n))
    });
    let shown = || {
        let all: BTreeSet<String> = crate::helm::current_revisions(objects, |_, _| true)
            .into_keys()
            .map(|(ns, rel)| format!("{}/{rel}", ns.unwrap_or_default()))
            .collect();
        if all.is_empty() {
            "none found".to_string()
        } else {
            all.iter().take(20).cloned().collect::<Vec<_>>().join(", ")
        }
    };
    match found.len() {
        0 => Err(format!(
            "no Helm release '{}{name}' in the cluster (releases: {})",
            namespace.map(|n| format!("{n}/")).unwrap_or_default(),
            shown()
        )),
        1 => Ok(found.into_values().next().unwrap_or_else(|| unreachable!("one entry"))),
        _ => Err(format!(
            "Helm release name '{name}' is used in several namespaces ({}); write NAMESPACE/{name}",
            found.keys().map(|(ns, _)| ns.clone().unwrap_or_default()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Resolves release targets and values files against the inventory.
pub fn resolve(req: &PlanRequest, catalog: &Catalog, inv: &Inventory) -> Result<Plan, String> {
    let mut plan = Plan { reuse_values: req.reuse_values, ..Plan::default() };
    for t in &req.targets {
        match &t.key {
            TargetKey::Component(c) => {
                plan.targets.insert(
                    c.clone(),
                    Target { component: c.clone(), version: t.version.clone(), raw: t.raw.clone(), via_release: None },
                );
            }
            TargetKey::Release { namespace, name } => {
                let (obj, v) = find_release(inv, namespace.as_deref(), name)?;
                let rel_name = format!("{}/{name}", obj.namespace.as_deref().unwrap_or_default());
                let chart = str_at(&v, &["spec", "chart", "name"]).unwrap_or_default().to_string();
                let chart_version = str_at(&v, &["spec", "chart", "version"]).map(ToString::to_string);
                let app_version = str_at(&v, &["spec", "chart", "appVersion"]).map(ToString::to_string);
                for m in catalog.matrices.values() {
                    for d in &m.detect {
                        let DetectSource::HelmRelease(h) = d else { continue };
                        let matches = h.release.as_deref().is_none_or(|r| r == name)
                            && h.namespace.as_deref().is_none_or(|n| Some(n) == obj.namespace.as_deref())
                            && h.chart.as_deref().is_none_or(|c| workloads::glob_match(c, &chart));
                        // A chart version is the component version when the matrix says so,
                        // or when this chart's version tracks its appVersion (Rancher).
                        let tracks = |a: &Option<String>, b: &Option<String>| match (a, b) {
                            (Some(a), Some(b)) => {
                                version::parse_version(a).is_some()
                                    && version::parse_version(a) == version::parse_version(b)
                            }
                            _ => false,
                        };
                        if matches
                            && (h.version_from == ChartVersionField::ChartVersion
                                || tracks(&chart_version, &app_version))
                        {
                            plan.targets.entry(m.id.clone()).or_insert_with(|| Target {
                                component: m.id.clone(),
                                version: t.version.clone(),
                                raw: t.raw.clone(),
                                via_release: Some(rel_name.clone()),
                            });
                        }
                    }
                }
                plan.releases.push(ReleaseStep {
                    name: rel_name,
                    object: obj.obj_ref(),
                    chart,
                    current: chart_version,
                    target: Some(t.raw.clone()),
                });
            }
        }
    }
    for vs in &req.values {
        let (obj, v) = find_release(inv, vs.namespace.as_deref(), &vs.release)?;
        let rel_name = format!("{}/{}", obj.namespace.as_deref().unwrap_or_default(), vs.release);
        let chart = str_at(&v, &["spec", "chart", "name"]).unwrap_or_default().to_string();
        if !plan.releases.iter().any(|r| r.name == rel_name) {
            plan.releases.push(ReleaseStep {
                name: rel_name,
                object: obj.obj_ref(),
                chart: chart.clone(),
                current: str_at(&v, &["spec", "chart", "version"]).map(ToString::to_string),
                target: None,
            });
        }
        plan.values.push(ResolvedValues {
            spec: vs.clone(),
            object: obj.obj_ref(),
            chart,
            current: v.pointer("/spec/values").cloned().unwrap_or(Value::Null),
            chart_values: v.pointer("/spec/chartValues").cloned().unwrap_or(Value::Null),
        });
    }
    Ok(plan)
}

/// Verdict of one plan step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepVerdict {
    /// Nothing stands in the way.
    Ok,
    /// Target equals the current version.
    NoChange,
    /// Warnings only.
    Warning,
    /// At least one blocker.
    Blocked,
    /// Something the step depends on could not be evaluated.
    Unknown,
}

impl StepVerdict {
    /// Wire and display form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StepVerdict::Ok => "ok",
            StepVerdict::NoChange => "no-change",
            StepVerdict::Warning => "warning",
            StepVerdict::Blocked => "blocked",
            StepVerdict::Unknown => "unknown",
        }
    }
}

/// One line of the plan: a component (or a Helm release) from current to target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    /// Component id, or `release:NS/NAME`.
    pub component: String,
    /// Display name.
    pub name: String,
    /// Current version, when known.
    pub current: Option<String>,
    /// Target version (none for a values-only release step).
    pub target: Option<String>,
    /// Verdict.
    pub verdict: StepVerdict,
    /// Ids of the findings (and gates without a verdict) that decided it.
    pub findings: Vec<String>,
    /// Allowed next steps, when the path is blocked.
    pub next_steps: Vec<String>,
    /// Platform gates evaluated for this step: (check id, "pass" | "fail" | "unknown").
    pub gates: Vec<(String, &'static str)>,
}

/// What a check found, for rules that depend on it: objects, or (not applicable?, reason).
pub type CheckResults<'a> = BTreeMap<&'a str, Result<Vec<ObjectRef>, (bool, String)>>;

/// Findings, checks without a verdict and steps produced by planning.
#[derive(Debug, Default)]
pub struct PlanOutcome {
    /// Findings.
    pub findings: Vec<Finding>,
    /// Rules that could not be evaluated.
    pub could_not_evaluate: Vec<Skipped>,
    /// Rules evaluated.
    pub evaluated: BTreeSet<String>,
    /// The plan, one step per target and per release.
    pub steps: Vec<PlanStep>,
}

struct Ctx<'a> {
    catalog: &'a Catalog,
    inv: &'a Inventory,
    detected: &'a BTreeMap<String, Detected>,
    plan: &'a Plan,
    wants: &'a dyn Fn(&str) -> bool,
    out: PlanOutcome,
    /// Per step key: finding ids attached.
    attached: BTreeMap<String, Vec<String>>,
}

impl Ctx<'_> {
    // Each argument is a distinct field of the finding; a builder would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn finding(
        &mut self,
        step: &str,
        id: &str,
        severity: Severity,
        component: &str,
        objects: Vec<ObjectRef>,
        message: String,
        remediation: String,
    ) {
        if !(self.wants)(id) {
            return;
        }
        self.out.evaluated.insert(id.to_string());
        self.attached.entry(step.to_string()).or_default().push(id.to_string());
        self.out.findings.push(Finding {
            check_id: id.to_string(),
            severity,
            component: Some(component.to_string()),
            objects,
            message,
            remediation,
            references: Vec::new(),
        });
    }

    fn unknown(&mut self, step: &str, id: &str, severity: Severity, reason: String) {
        if !(self.wants)(id) {
            return;
        }
        self.attached.entry(step.to_string()).or_default().push(id.to_string());
        self.out.could_not_evaluate.push(Skipped { check_id: id.to_string(), severity, reason });
    }

    fn passed(&mut self, id: &str) {
        if (self.wants)(id) {
            self.out.evaluated.insert(id.to_string());
        }
    }

    /// The version a component will run after the plan: its target, else its current version.
    fn planned(&self, component: &str) -> Option<(Version, bool)> {
        if let Some(t) = self.plan.targets.get(component) {
            return Some((t.version.clone(), true));
        }
        self.detected.get(component).and_then(|d| d.version().cloned()).map(|v| (v, false))
    }
}

fn base(v: &Version) -> Version {
    Version::new(v.major, v.minor, v.patch)
}

fn shown(v: &Version) -> String {
    version::display(v)
}

/// Evaluates the plan. `check_results` are the findings of the checks (for gates and
/// known-bad rules that require a check); `wants` is the check selection.
#[must_use]
pub fn evaluate(
    catalog: &Catalog,
    inv: &Inventory,
    detected: &BTreeMap<String, Detected>,
    check_results: &CheckResults<'_>,
    plan: &Plan,
    wants: &dyn Fn(&str) -> bool,
) -> PlanOutcome {
    let mut cx = Ctx { catalog, inv, detected, plan, wants, out: PlanOutcome::default(), attached: BTreeMap::new() };
    for t in plan.targets.values() {
        let Some(m) = catalog.matrices.get(&t.component) else { continue };
        path_rules(&mut cx, m, t);
        known_bad_at_target(&mut cx, m, t, check_results);
        kubelet_skew(&mut cx, m, t);
        removed_apis(&mut cx, m, t);
    }
    peers(&mut cx);
    for v in &plan.values {
        values_rules(&mut cx, v);
    }
    // Steps, in a stable order: components, then releases.
    let mut steps = Vec::new();
    for t in plan.targets.values() {
        let Some(m) = catalog.matrices.get(&t.component) else { continue };
        let det = &detected[&m.id];
        let mut gates = Vec::new();
        for g in &m.upgrade.gates {
            let state = match check_results.get(g.as_str()) {
                Some(Ok(objs)) if objs.is_empty() => "pass",
                Some(Ok(_)) => "fail",
                Some(Err((true, _))) => "n/a",
                Some(Err((false, _))) => "unknown",
                None => continue,
            };
            gates.push((g.clone(), state));
        }
        let mut ids = cx.attached.remove(&m.id).unwrap_or_default();
        ids.extend(gates.iter().filter(|(_, s)| *s == "fail" || *s == "unknown").map(|(g, _)| g.clone()));
        let no_change = det.version().is_some_and(|v| version::cmp_precedence(v, &t.version).is_eq());
        let next_steps = if ids.iter().any(|i| i == "upgrade-path") { next_steps(m, det) } else { Vec::new() };
        steps.push(step(
            &cx.out,
            m.id.clone(),
            m.name.clone(),
            det.raw.clone(),
            Some(t.raw.clone()),
            ids,
            no_change,
            next_steps,
            gates,
        ));
    }
    for r in &plan.releases {
        let key = format!("release:{}", r.name);
        let mut ids = cx.attached.remove(&key).unwrap_or_default();
        ids.extend(cx.out.findings.iter().filter(|f| f.objects.first() == Some(&r.object)).map(|f| f.check_id.clone()));
        // Findings of release checks (in progress, failed) name the same HelmRelease object.
        let name = format!("Helm release {} (chart {})", r.name, r.chart);
        steps.push(step(&cx.out, key, name, r.current.clone(), r.target.clone(), ids, false, Vec::new(), Vec::new()));
    }
    cx.out.steps = steps;
    cx.out
}

#[allow(clippy::too_many_arguments)]
fn step(
    out: &PlanOutcome,
    component: String,
    name: String,
    current: Option<String>,
    target: Option<String>,
    mut ids: Vec<String>,
    no_change: bool,
    next_steps: Vec<String>,
    gates: Vec<(String, &'static str)>,
) -> PlanStep {
    ids.sort();
    ids.dedup();
    let sev = |id: &str| out.findings.iter().filter(|f| f.check_id == id).map(|f| f.severity).max();
    let unknown = ids.iter().any(|i| out.could_not_evaluate.iter().any(|s| &s.check_id == i));
    let worst = ids.iter().filter_map(|i| sev(i)).max();
    let gate_failed = gates.iter().any(|(_, s)| *s == "fail");
    let verdict = match worst {
        Some(Severity::Blocker) => StepVerdict::Blocked,
        _ if gate_failed => StepVerdict::Blocked,
        _ if unknown => StepVerdict::Unknown,
        Some(Severity::Warning) => StepVerdict::Warning,
        _ if no_change => StepVerdict::NoChange,
        _ => StepVerdict::Ok,
    };
    PlanStep { component, name, current, target, verdict, findings: ids, next_steps, gates }
}

/// Upgrade paths whose `from` admits the current version: where it can go next.
fn next_steps(m: &Matrix, det: &Detected) -> Vec<String> {
    let Some(v) = det.version() else { return Vec::new() };
    let mut out: Vec<String> = m
        .upgrade_paths
        .iter()
        // Forward steps only: a bound of the target range above the current version is in it.
        .filter(|p| {
            p.from.matches(&base(v))
                && p.to.bounds().iter().any(|b| version::cmp_precedence(b, v).is_gt() && p.to.matches(b))
        })
        .map(|p| p.to.to_string())
        .collect();
    if let Some(step) = m.upgrade.max_minor_step {
        out.push(format!("{}.{}", v.major, v.minor + step));
    }
    out
}

fn path_rules(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
    const ID: &str = "upgrade-path";
    let det = &cx.detected[&m.id];
    let evidence: Vec<ObjectRef> = det.object.clone().into_iter().collect();
    let to = &t.version;
    let cur = match &det.state {
        VersionState::Known(v) => v.clone(),
        VersionState::Unknown(why) => {
            let dev = det.raw.as_deref().is_some_and(
                |r| matches!(version::parse(r), Parsed::Unknown(ref w) if w.contains("development build")),
            );
            if m.upgrade.refuse_from_dev_builds && dev {
                cx.finding(
                    &m.id,
                    ID,
                    Severity::Blocker,
                    &m.id,
                    evidence,
                    format!(
                        "{} runs development build '{}'; upgrading from a development build to {} is refused",
                        m.name,
                        det.raw.as_deref().unwrap_or_default(),
                        shown(to)
                    ),
                    format!("Reinstall {} from a release, or upgrade with the product's explicit override if you accept the risk.", m.name),
                );
            } else {
                cx.unknown(
                    &m.id,
                    ID,
                    Severity::Blocker,
                    format!("{} version unknown ({why}): cannot check the path to {}", m.name, shown(to)),
                );
            }
            return;
        }
        VersionState::NotDetected => {
            cx.unknown(
                &m.id,
                ID,
                Severity::Blocker,
                format!("{} is not detected in the cluster: cannot plan its upgrade to {}", m.name, shown(to)),
            );
            return;
        }
    };
    let mut blocked = false;
    let ord = version::cmp_precedence(to, &cur);
    if ord.is_eq() {
        cx.passed(ID);
        return;
    }
    if ord.is_lt() && !m.upgrade.allow_downgrade {
        blocked = true;
        cx.finding(
            &m.id,
            ID,
            Severity::Blocker,
            &m.id,
            evidence.clone(),
            format!("{} {} → {} is a downgrade, which is not supported", m.name, shown(&cur), shown(to)),
            format!("Pick a target at or above {}; to go back, restore from backup instead.", shown(&cur)),
        );
    }
    if m.upgrade.prerelease_same_version_only && (!cur.pre.is_empty() || !to.pre.is_empty()) && base(&cur) != base(to) {
        blocked = true;
        cx.finding(
            &m.id,
            ID,
            Severity::Blocker,
            &m.id,
            evidence.clone(),
            format!(
                "{} {} → {}: upgrades from or to a release candidate must stay within its version ({} refuses cross-version pre-release upgrades)",
                m.name,
                shown(&cur),
                shown(to),
                m.name
            ),
            "Upgrade to the final release of the current line first, or target a final release.".to_string(),
        );
    }
    if let Some(step) = m.upgrade.max_minor_step
        && ord.is_gt()
        && (to.major != cur.major || to.minor > cur.minor + step)
    {
        blocked = true;
        cx.finding(
            &m.id,
            ID,
            Severity::Blocker,
            &m.id,
            evidence.clone(),
            format!(
                "{} {} → {} skips minor versions; it moves at most {step} minor at a time",
                m.name,
                shown(&cur),
                shown(to)
            ),
            format!("Upgrade to {}.{} first, then on, one minor at a time.", cur.major, cur.minor + step),
        );
    }
    if !m.upgrade_paths.is_empty() && ord.is_gt() {
        let to_base = base(to);
        let reaching: Vec<_> = m.upgrade_paths.iter().filter(|p| p.to.matches(&to_base)).collect();
        if reaching.is_empty() {
            cx.finding(
                &m.id,
                "upgrade-target-unverified",
                Severity::Warning,
                &m.id,
                evidence.clone(),
                format!("no upgrade path in the {} matrix reaches {} (the data may predate it)", m.name, shown(to)),
                format!(
                    "Check the {} release notes for the minimum version that may upgrade to {}.",
                    m.name,
                    shown(to)
                ),
            );
        } else {
            cx.passed("upgrade-target-unverified");
            if !reaching.iter().any(|p| p.from.matches(&base(&cur))) {
                blocked = true;
                let need: Vec<String> = reaching.iter().map(|p| p.from.to_string()).collect();
                cx.finding(
                    &m.id,
                    ID,
                    Severity::Blocker,
                    &m.id,
                    evidence,
                    format!(
                        "{} {} cannot be upgraded to {} directly: {} needs a current version {}",
                        m.name,
                        shown(&cur),
                        shown(to),
                        shown(to),
                        need.join(" or ")
                    ),
                    format!("Upgrade in steps; allowed next steps from {} are listed in the plan.", shown(&cur)),
                );
            }
        }
    }
    if !blocked {
        cx.passed(ID);
    }
}

fn known_bad_at_target(cx: &mut Ctx<'_>, m: &Matrix, t: &Target, check_results: &CheckResults<'_>) {
    let det = &cx.detected[&m.id];
    for kb in &m.known_bad {
        if !kb.range.matches(&t.version) || det.version().is_some_and(|v| kb.range.matches(v)) {
            // Not affected at the target, or already reported for the current version.
            continue;
        }
        let message = format!("target {} {} is in {}: {}", m.name, shown(&t.version), kb.range, kb.message);
        let objects: Vec<ObjectRef> = det.object.clone().into_iter().collect();
        match &kb.requires_check {
            None => cx.finding(&m.id, &kb.id, kb.severity, &m.id, objects, message, kb.remediation.clone()),
            Some((check, _)) => match check_results.get(check.as_str()) {
                Some(Ok(objs)) => {
                    for o in objs.clone() {
                        let mut ev = vec![o.clone()];
                        ev.extend(objects.clone());
                        cx.finding(
                            &m.id,
                            &kb.id,
                            kb.severity,
                            &m.id,
                            ev,
                            format!("{o}: {message}"),
                            kb.remediation.clone(),
                        );
                    }
                }
                Some(Err((false, why))) => {
                    cx.unknown(
                        &m.id,
                        &kb.id,
                        kb.severity,
                        format!("target {}: check '{check}' could not be evaluated: {why}", shown(&t.version)),
                    );
                }
                _ => {}
            },
        }
    }
}

/// Every supported-peers rule that involves a targeted component, evaluated once with the
/// planned versions of both sides.
fn peers(cx: &mut Ctx<'_>) {
    const ID: &str = "peer-compatibility";
    if cx.plan.targets.is_empty() {
        return;
    }
    let mut any = false;
    for m in cx.catalog.matrices.values() {
        for p in &m.supported_peers {
            let involved = cx.plan.targets.contains_key(&m.id) || cx.plan.targets.contains_key(&p.component);
            if !involved {
                continue;
            }
            any = true;
            let (Some((ov, o_t)), Some((pv, p_t))) = (cx.planned(&m.id), cx.planned(&p.component)) else {
                continue;
            };
            if p.when.as_ref().is_some_and(|w| !w.matches(&base(&ov))) || p.range.matches(&base(&pv)) {
                continue;
            }
            let peer_name = cx.catalog.matrices.get(&p.component).map_or(p.component.clone(), |pm| pm.name.clone());
            let tag = |t: bool| if t { " (target)" } else { "" };
            let step = if o_t { m.id.clone() } else { p.component.clone() };
            let mut objects = Vec::new();
            for c in [&m.id, &p.component] {
                objects.extend(cx.detected.get(c.as_str()).and_then(|d| d.object.clone()));
            }
            let message = format!(
                "{} {}{} supports {peer_name} {}; {peer_name} would be {}{}{}",
                m.name,
                shown(&ov),
                tag(o_t),
                p.range,
                shown(&pv),
                tag(p_t),
                p.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
            );
            let remediation = if p_t && !o_t {
                format!("Upgrade {} to a version that supports {peer_name} {} first.", m.name, shown(&pv))
            } else {
                format!("Choose a {} target whose supported {peer_name} range includes {}.", m.name, shown(&pv))
            };
            cx.finding(&step, ID, Severity::Blocker, &step, objects, message, remediation);
            if o_t && p_t {
                cx.attached.entry(p.component.clone()).or_default().push(ID.to_string());
            }
        }
    }
    if any {
        cx.passed(ID);
    }
}

fn kubelet_skew(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
    const ID: &str = "kubelet-skew";
    let Some(skew) = m.upgrade.kubelet_max_skew else { return };
    let nodes = GroupKind::new("", "Node");
    if let KindView::Failed(r) = cx.inv.state(&nodes) {
        cx.unknown(&m.id, ID, Severity::Blocker, format!("cannot read Nodes: {r}"));
        return;
    }
    let to = &t.version;
    let mut hits = Vec::new();
    for n in cx.inv.objects(&nodes) {
        let v = n.value();
        let Some(raw) = v.pointer("/status/nodeInfo/kubeletVersion").and_then(Value::as_str) else { continue };
        let Some(kv) = version::parse_version(raw) else { continue };
        // Kubelets older than 1.25 may trail the API server by two minors only.
        let allowed = if kv.major == 1 && kv.minor < 25 { skew.min(2) } else { skew };
        let msg = if kv.major != to.major || kv.minor > to.minor {
            Some(format!("kubelet {raw} on Node {} is newer than the target API server {}", n.name, shown(to)))
        } else if to.minor - kv.minor > allowed {
            Some(format!(
                "kubelet {raw} on Node {} is {} minors behind the target API server {} (at most {allowed} allowed)",
                n.name,
                to.minor - kv.minor,
                shown(to)
            ))
        } else {
            None
        };
        if let Some(msg) = msg {
            hits.push((n.obj_ref(), msg));
        }
    }
    if hits.is_empty() {
        cx.passed(ID);
    }
    for (o, msg) in hits {
        cx.finding(
            &m.id,
            ID,
            Severity::Blocker,
            &m.id,
            vec![o],
            msg,
            format!(
                "Bring every kubelet to at least {}.{} (and never above the API server) before moving the control plane to {}.",
                to.major,
                to.minor.saturating_sub(skew),
                shown(to)
            ),
        );
    }
}

/// Kinds the removed-API rule reads for a target: every kind of every removal deprecated at
/// or before it, at its replacement group (where the API server still serves it).
#[must_use]
pub fn removal_kinds(m: &Matrix, target: Option<&Version>) -> Vec<(GroupKind, Option<String>)> {
    let mut out: Vec<(GroupKind, Option<String>)> = Vec::new();
    for r in &m.api_removals {
        if target.is_some_and(|t| r.deprecated_in.as_ref().unwrap_or(&r.removed_in) > &base(t)) {
            continue;
        }
        let gv = r.replacement.as_deref().unwrap_or(&r.api_version);
        let (group, version) = crate::resource::split_api_version(gv);
        for k in &r.kinds {
            let gk = GroupKind::new(group, k);
            if !out.iter().any(|(g, _)| g == &gk) {
                out.push((gk, Some(version.to_string())));
            }
        }
    }
    out
}

fn removed_apis(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
    if m.api_removals.is_empty() {
        return;
    }
    let to = base(&t.version);
    let mut any_rule = false;
    let helm = crate::helm::group_kind();
    let releases: Vec<(&Object, Value)> = cx
        .inv
        .objects(&helm)
        .iter()
        .map(|o| (o, o.value()))
        .filter(|(_, v)| v.pointer("/spec/lastDeployed").and_then(Value::as_bool).unwrap_or(false))
        .collect();
    let mut failed_kinds = BTreeSet::new();
    for r in &m.api_removals {
        let removed = r.removed_in <= to;
        let deprecated = r.deprecated_in.as_ref().is_some_and(|d| *d <= to);
        if !removed && !deprecated {
            continue;
        }
        any_rule = true;
        let (id, sev, verb, at) = if removed {
            ("removed-api", Severity::Blocker, "removed", &r.removed_in)
        } else {
            ("deprecated-api", Severity::Warning, "deprecated", r.deprecated_in.as_ref().unwrap_or(&r.removed_in))
        };
        let instead = match &r.replacement {
            Some(rep) => format!("use {rep}"),
            None => "it has no replacement".to_string(),
        };
        let when = format!("{verb} in Kubernetes {}.{} ({instead})", at.major, at.minor);
        // Evidence 1: the manifests Helm stored for deployed releases.
        for (obj, v) in &releases {
            let Some(res) = v.pointer("/spec/resources").and_then(Value::as_array) else { continue };
            for item in res {
                let (Some(av), Some(kind)) = (item["apiVersion"].as_str(), item["kind"].as_str()) else { continue };
                if av != r.api_version || !r.kinds.iter().any(|k| k == kind) {
                    continue;
                }
                let name = item["name"].as_str().unwrap_or("?");
                cx.finding(
                    &m.id,
                    id,
                    sev,
                    &m.id,
                    vec![obj.obj_ref()],
                    format!(
                        "Helm release {}/{} (revision {}) manifest has {kind} {name} as {av}: {when}; evidence: release manifest",
                        obj.namespace.as_deref().unwrap_or_default(),
                        str_at(v, &["spec", "release"]).unwrap_or_default(),
                        v.pointer("/spec/revision").and_then(Value::as_u64).unwrap_or(0),
                    ),
                    "Update the chart to the new API and upgrade the release before the cluster; a release whose stored manifest uses a removed API cannot be upgraded by Helm afterwards (fix it with helm-mapkubeapis).".to_string(),
                );
            }
        }
        // Evidence 2: live objects, through what their writers used.
        let gv = r.replacement.as_deref().unwrap_or(&r.api_version);
        let (group, _) = crate::resource::split_api_version(gv);
        for kind in &r.kinds {
            let gk = GroupKind::new(group, kind);
            match cx.inv.state(&gk) {
                KindView::Failed(why) => {
                    if failed_kinds.insert(gk.to_string()) {
                        cx.unknown(&m.id, id, sev, format!("cannot read {gk}: {why}"));
                    }
                    continue;
                }
                KindView::Absent => continue,
                KindView::Collected(_) => {}
            }
            for o in cx.inv.objects(&gk) {
                let v = o.value();
                let mut evidence = Vec::new();
                let mut strong = false;
                if o.api_version == r.api_version {
                    evidence.push("the object as captured".to_string());
                    strong = true;
                }
                if let Some(la) = v
                    .pointer("/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration")
                    .and_then(Value::as_str)
                    && serde_json::from_str::<Value>(la)
                        .ok()
                        .and_then(|l| l.get("apiVersion").and_then(Value::as_str).map(ToString::to_string))
                        .as_deref()
                        == Some(r.api_version.as_str())
                {
                    evidence.push("last-applied-configuration (kubectl apply used it)".to_string());
                    strong = true;
                }
                let managers: Vec<String> = v
                    .pointer("/metadata/managedFields")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter(|e| e.get("apiVersion").and_then(Value::as_str) == Some(r.api_version.as_str()))
                            .map(|e| e.get("manager").and_then(Value::as_str).unwrap_or("?").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if !managers.is_empty() {
                    evidence.push(format!("managedFields (last written through it by {})", managers.join(", ")));
                }
                if evidence.is_empty() {
                    continue;
                }
                // managedFields alone says a client once wrote through the old API; it may since
                // have been updated. That is worth a warning, not a blocker.
                let sev = if strong { sev } else { Severity::Warning };
                cx.finding(
                    &m.id,
                    id,
                    sev,
                    &m.id,
                    vec![o.obj_ref()],
                    format!("{} uses {}: {when}; evidence: {}", o.obj_ref(), r.api_version, evidence.join("; ")),
                    format!(
                        "Update the manifests, charts and clients that write {kind} to {}; the API server already stores it in a served version.",
                        r.replacement.as_deref().unwrap_or("a supported API (or remove the objects)")
                    ),
                );
            }
        }
    }
    if any_rule {
        cx.passed("removed-api");
        cx.passed("deprecated-api");
    }
}

/// Merges `over` onto `base` the way Helm coalesces values: maps merge key by key, a `null`
/// deletes the key, anything else replaces.
#[must_use]
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = match out.get(k) {
                        Some(old) => merge(old, v),
                        None => v.clone(),
                    };
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        (_, o) => o.clone(),
    }
}

fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, k| cur.get(k))
}

fn values_rules(cx: &mut Ctx<'_>, rv: &ResolvedValues) {
    let step = format!("release:{}/{}", rv.object.namespace.as_deref().unwrap_or_default(), rv.spec.release);
    let file = &rv.spec.file;
    let current = merge(&rv.chart_values, &rv.current);
    let base_values = if cx.plan.reuse_values { current.clone() } else { rv.chart_values.clone() };
    let effective = merge(&base_values, &rv.spec.values);
    let catalog = cx.catalog;
    for m in catalog.matrices.values() {
        for rules in &m.values {
            if !rules.charts.iter().any(|c| workloads::glob_match(c, &rv.chart)) {
                continue;
            }
            // The component version these values will run: a version the file sets, else the
            // target, else what runs now.
            let from_file = rules
                .version_path
                .as_deref()
                .and_then(|p| at(&rv.spec.values, p))
                .and_then(Value::as_str)
                .and_then(version::parse_version);
            let ver = from_file.or_else(|| cx.planned(&m.id).map(|(v, _)| v));
            for req in &rules.required {
                const ID: &str = "values-required-key";
                let applies = match (&req.when, &ver) {
                    (None, _) => true,
                    (Some(w), Some(v)) => w.matches(&base(v)),
                    (Some(w), None) => {
                        cx.unknown(
                            &step,
                            ID,
                            req.severity,
                            format!(
                                "{file}: {} version unknown, cannot tell whether {} ({w}) needs values key {}",
                                m.name, m.name, req.path
                            ),
                        );
                        continue;
                    }
                };
                let set = at(&effective, &req.path).is_some_and(|v| !v.is_null());
                if applies && !set {
                    cx.finding(
                        &step,
                        ID,
                        req.severity,
                        &m.id,
                        vec![rv.object.clone()],
                        format!(
                            "{file}: values key {} is not set for {}{}: {}",
                            req.path,
                            m.name,
                            ver.as_ref().map(|v| format!(" {}", shown(v))).unwrap_or_default(),
                            req.message
                        ),
                        format!("Set {} in {file} (or in the chart's defaults) before upgrading.", req.path),
                    );
                } else {
                    cx.passed(ID);
                }
            }
            for path in &rules.image_tags {
                const ID: &str = "values-floating-image-tag";
                let Some(tag) = at(&rv.spec.values, path) else { continue };
                let floating = match tag {
                    Value::String(s) => matches!(version::parse(s), Parsed::Floating(_)),
                    Value::Null => false,
                    _ => false,
                };
                if floating {
                    let sev = m.pinning.as_ref().map_or(Severity::Warning, |p| p.severity);
                    cx.finding(
                        &step,
                        ID,
                        sev,
                        &m.id,
                        vec![rv.object.clone()],
                        format!(
                            "{file}: values key {path} sets a floating image tag for {} (a moving name or a major-only tag): every restart may pull a different {}",
                            m.name, m.name
                        ),
                        format!("Set {path} to an exact version tag or a digest."),
                    );
                } else {
                    cx.passed(ID);
                }
            }
            for rk in &rules.renamed_keys {
                const ID: &str = "values-renamed-key";
                let keys = |v: &Value| -> BTreeSet<String> {
                    at(v, &rk.path).and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default()
                };
                let (old, new) = (keys(&current), keys(&effective));
                let gone: Vec<&String> = old.difference(&new).collect();
                let added: Vec<&String> = new.difference(&old).collect();
                if gone.is_empty() {
                    cx.passed(ID);
                    continue;
                }
                let sev = match (&rk.when, &ver) {
                    (None, _) => Severity::Blocker,
                    (Some(w), Some(v)) if w.matches(&base(v)) => Severity::Blocker,
                    (Some(_), None) => Severity::Blocker,
                    _ => Severity::Warning,
                };
                for g in gone {
                    let rename = if added.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (renamed to {}?)",
                            added.iter().map(|a| format!("{}.{a}", rk.path)).collect::<Vec<_>>().join(", ")
                        )
                    };
                    cx.finding(
                        &step,
                        ID,
                        sev,
                        &m.id,
                        vec![rv.object.clone()],
                        format!(
                            "{file}: values key {}.{g} is in the release but not in the new values{rename}{}: {}",
                            rk.path,
                            if cx.plan.reuse_values { "" } else { " (without --reuse-values the release's own values are not carried over)" },
                            rk.message
                        ),
                        format!("Keep {}.{g} in the new values, or make sure what it provisioned is cleaned up safely first.", rk.path),
                    );
                }
            }
        }
    }
}

/// Finding ids planning can produce, for `--only`/`--skip` and `list`.
pub fn finding_ids() -> impl Iterator<Item = &'static str> {
    FINDING_IDS.iter().map(|(id, _, _)| *id)
}

/// Objects a planned step needs beyond the checks' (for live collection).
#[must_use]
pub fn needs(catalog: &Catalog, targets: &BTreeMap<String, Version>) -> Vec<(GroupKind, Option<String>)> {
    let mut out = Vec::new();
    for (c, v) in targets {
        if let Some(m) = catalog.matrices.get(c) {
            out.extend(removal_kinds(m, Some(v)));
            if !m.api_removals.is_empty() {
                out.push((crate::helm::group_kind(), None));
            }
            if m.upgrade.kubelet_max_skew.is_some() {
                out.push((GroupKind::new("", "Node"), Some("v1".into())));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_helm_coalesce() {
        let base = json!({"a": {"b": 1, "c": 2}, "d": [1, 2]});
        let over = json!({"a": {"b": null, "e": 3}, "d": [3]});
        assert_eq!(merge(&base, &over), json!({"a": {"c": 2, "e": 3}, "d": [3]}));
    }
}
