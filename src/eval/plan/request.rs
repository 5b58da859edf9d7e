//! The plan as the user states it (`--target`, `--values`), parsed from the command line,
//! and resolved against the inventory: Helm releases named by the user must exist.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;
use serde_json::Value;

use crate::catalog::{Catalog, ChartVersionField, DetectSource};
use crate::eval::workloads;
use crate::inventory::{Inventory, KindView, Object, str_at};
use crate::resource::ObjectRef;
use crate::version::{self, Parsed};

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
    /// `--additional-annotation`: more annotations that hold the object as last applied.
    pub applied_annotations: Vec<String>,
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
                .unwrap_or_else(|| crate::limits::input_free_yaml_message(&e));
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
    /// The planned object this target came from, when the change itself sets the version
    /// (no `--target` for the component): e.g. a planned image `rancher/rancher:v2.7.5`.
    pub via_change: Option<ObjectRef>,
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
    /// The new chart version's default values (`check --chart`), which `helm upgrade -f`
    /// merges onto instead of the current chart's.
    pub new_chart_values: Option<Value>,
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
    /// Annotations that hold the object as last applied, beyond the built-in ones.
    pub applied_annotations: Vec<String>,
    /// Components whose version a planned change sets: what runs now (detected before the
    /// change is applied), which upgrade paths and the plan's "current" start from.
    pub current: BTreeMap<String, crate::eval::detect::Detected>,
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
    let gk = crate::inventory::helm::group_kind();
    if let KindView::Failed(r) = inv.state(&gk) {
        return Err(format!("cannot read Helm releases: {r}"));
    }
    // Releases are stored in their namespace: outside a partial view their storage was not read.
    if let Some(why) = inv.outside_view(namespace) {
        return Err(format!(
            "Helm release '{}/{name}' cannot be looked up: {why}; add -n {}",
            namespace.unwrap_or_default(),
            namespace.unwrap_or_default()
        ));
    }
    let objects = inv.objects(&gk);
    let found = crate::inventory::helm::current_revisions(objects, |o, v| {
        str_at(v, &["spec", "release"]) == Some(name) && namespace.is_none_or(|n| o.namespace.as_deref() == Some(n))
    });
    let shown = || {
        let all: BTreeSet<String> = crate::inventory::helm::current_revisions(objects, |_, _| true)
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
            "no Helm release '{}{name}' in {} (releases: {})",
            namespace.map(|n| format!("{n}/")).unwrap_or_default(),
            if inv.is_partial() {
                format!("namespace(s) {} (the only ones read)", inv.view_label())
            } else {
                "the cluster".to_string()
            },
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
    let mut plan = Plan {
        reuse_values: req.reuse_values,
        applied_annotations: req.applied_annotations.clone(),
        ..Plan::default()
    };
    for t in &req.targets {
        match &t.key {
            TargetKey::Component(c) => {
                plan.targets.insert(
                    c.clone(),
                    Target {
                        component: c.clone(),
                        version: t.version.clone(),
                        raw: t.raw.clone(),
                        via_release: None,
                        via_change: None,
                    },
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
                                via_change: None,
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
            new_chart_values: None,
        });
    }
    Ok(plan)
}

/// Targets the change itself states. A component whose version, detected on the future
/// state, comes from a planned object and differs from what runs now (`before`, detected on
/// the cluster as it is) is being upgraded (or downgraded) by the change: it gets that
/// version as its target, as if `--target` had said so, and the plan starts from `before`.
/// An explicit `--target` for the component wins. A component the cluster does not run yet
/// (the change installs it) gets no target: there is no path to check.
pub fn add_change_targets(
    plan: &mut Plan,
    catalog: &Catalog,
    before: &BTreeMap<String, crate::eval::detect::Detected>,
    future: &Inventory,
) {
    use crate::eval::detect::{self, VersionState};
    use crate::resource::Change;
    for m in catalog.matrices.values() {
        if plan.targets.contains_key(&m.id) {
            continue;
        }
        let Some(now) = before.get(&m.id) else { continue };
        let (VersionState::Known(cur), after) = (&now.state, detect::detect(m, future)) else { continue };
        let VersionState::Known(planned) = &after.state else { continue };
        let from_planned = after.object.as_ref().is_some_and(|o| o.change == Some(Change::Planned));
        if !from_planned || version::cmp_precedence(cur, planned).is_eq() {
            continue;
        }
        plan.targets.insert(
            m.id.clone(),
            Target {
                component: m.id.clone(),
                version: planned.clone(),
                raw: after.raw.clone().unwrap_or_else(|| version::display(planned)),
                via_release: None,
                via_change: after.object.clone(),
            },
        );
        let mut now = now.clone();
        // The evidence is the object as it runs now, which the change replaces.
        if let Some(o) = now.object.as_mut() {
            o.change = Some(Change::Live);
        }
        plan.current.insert(m.id.clone(), now);
    }
}
