//! The planned change of `check` and `snapshot`: `--manifest`, `--release`, `--chart` and
//! `--values` read into a [`ChangeInput`], applied to an inventory (the future state), and
//! what it adds to a plan and to a live collection.
//!
//! Layer: commands. Imports the catalog, planning, the inventory (manifests, live needs) and
//! the report's exit statuses.

use super::cli::ChangeArgs;
use super::eprint;
use crate::catalog::Catalog;
use crate::eval::plan::{self, PlanRequest};
use crate::inventory::Inventory;
use crate::inventory::live;
use crate::inventory::manifest::{self, ChangeSet, Chart, PlannedDoc, ReleaseRef};
use crate::limits::Limits;
use crate::report::ExitStatus;

/// A planned change as read from `--manifest`, `--release`, `--chart` and `--values`.
pub(super) struct ChangeInput {
    pub(super) docs: Vec<PlannedDoc>,
    pub(super) release: Option<ReleaseRef>,
    pub(super) chart: Option<Chart>,
    pub(super) values: Option<(String, serde_json::Value)>,
    pub(super) no_cluster: bool,
    pub(super) location: String,
}

/// Reads the planned change; a manifest or chart that cannot be read is exit 2.
pub(super) fn change_input(
    c: &ChangeArgs,
    req: &PlanRequest,
    limits: &Limits,
) -> Result<Option<ChangeInput>, ExitStatus> {
    if c.manifests.is_empty() {
        return Ok(None);
    }
    let fail = |e: manifest::ManifestError| {
        eprint(&e.to_string());
        ExitStatus::Invalid
    };
    let docs = manifest::read(&c.manifests, &mut std::io::stdin().lock(), limits).map_err(fail)?;
    let chart = c.chart.as_deref().map(|p| manifest::read_chart(p, limits)).transpose().map_err(fail)?;
    let release = match c.release.as_deref() {
        None => None,
        Some(r) => Some(release_ref("--release", r).map_err(|e| {
            eprint(&e);
            ExitStatus::Invalid
        })?),
    };
    let values = release.as_ref().and_then(|rel| release_values(req, rel));
    let location = c.manifests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Ok(Some(ChangeInput { docs, release, chart, values, no_cluster: c.no_cluster, location }))
}

/// `[NAMESPACE/]NAME` of `flag` (`--release`, `--pending-release`); the namespace defaults to
/// `default`.
pub(super) fn release_ref(flag: &str, r: &str) -> Result<ReleaseRef, String> {
    let (ns, name) = r.split_once('/').unwrap_or(("default", r));
    if ns.is_empty() || name.is_empty() || name.contains('/') {
        return Err(format!("{flag} {r}: expected [NAMESPACE/]NAME"));
    }
    Ok(ReleaseRef { namespace: ns.to_string(), name: name.to_string() })
}

/// The `--values` files for `rel`, merged in order, named by their files.
fn release_values(req: &PlanRequest, rel: &ReleaseRef) -> Option<(String, serde_json::Value)> {
    req.values
        .iter()
        .filter(|v| v.release == rel.name && v.namespace.as_deref().is_none_or(|n| n == rel.namespace))
        .fold(None, |acc: Option<(String, serde_json::Value)>, v| {
            Some(match acc {
                None => (v.file.clone(), v.values.clone()),
                Some((f, old)) => (format!("{f}, {}", v.file), manifest::overlay(&old, &v.values)),
            })
        })
}

/// `--pending-release`, the first phase of a live run: lists the release's storage (Secrets
/// and ConfigMaps labelled `owner=helm,name=NAME` in its namespace, whole), decodes its newest
/// revision, which must be `pending-upgrade`, and makes it the planned change: its manifest
/// (and upgrade hooks) as `--manifest` with `--release`, its chart as `--chart` would give it.
/// Nothing of the storage is kept. Errors carry the exit status: 2 when there is no such
/// upgrade in progress, 3 when it cannot be read.
pub(super) async fn read_pending(
    session: &live::Session,
    rel: &ReleaseRef,
    req: &PlanRequest,
    limits: &Limits,
) -> Result<ChangeInput, (ExitStatus, String)> {
    use crate::inventory::pending::{PendingError, pending_revision};
    let shown = format!("{}/{}", rel.namespace, rel.name);
    // A Helm release name is a DNS subdomain: nothing that could change the selector.
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if !rel.name.chars().all(valid) {
        return Err((
            ExitStatus::Invalid,
            format!("--pending-release {shown}: {} is not a Helm release name", rel.name),
        ));
    }
    let selector = format!("owner=helm,name={}", rel.name);
    let mut storage = Vec::new();
    for (kind, plural) in [("Secret", "secrets"), ("ConfigMap", "configmaps")] {
        let items = session.list_whole(kind, plural, &rel.namespace, &selector).await.map_err(|e| {
            (live_status(&e), format!("--pending-release {shown}: cannot read the release's Helm storage: {e}"))
        })?;
        storage.extend(items);
    }
    let pending = pending_revision(&storage, &rel.name).map_err(|e| match e {
        PendingError::NoRelease => (
            ExitStatus::Invalid,
            format!(
                "--pending-release {shown}: no Helm release {} in namespace {} (no Secret or ConfigMap labelled {selector} there)",
                rel.name, rel.namespace
            ),
        ),
        PendingError::NotPending { revision, status } => (
            ExitStatus::Invalid,
            format!(
                "--pending-release {shown}: its newest revision ({revision}) is {status}, not pending-upgrade \
                 (--pending-release is for a pre-upgrade hook, while Helm upgrades the release; otherwise give \
                 the change with --manifest FILE --release {shown})"
            ),
        ),
        PendingError::Undecodable { revision, why } => {
            (ExitStatus::Incomplete, format!("--pending-release {shown}: revision {revision} cannot be read: {why}"))
        }
    })?;
    drop(storage);
    let origin = format!("release {shown} revision {} (pending-upgrade)", pending.revision);
    // Quotes nothing of the text: a rendered manifest holds Secrets.
    let unreadable = |what: &str, e: manifest::ManifestError| {
        let at = if e.line == 0 { String::new() } else { format!(" at line {}", e.line) };
        let msg = crate::limits::without_quoted(&e.message);
        (
            ExitStatus::Incomplete,
            format!("--pending-release {shown}: {what} of revision {} does not parse{at}: {msg}", pending.revision),
        )
    };
    let mut docs = Vec::new();
    manifest::parse_text(&pending.manifest, &format!("{origin} manifest"), &mut docs)
        .map_err(|e| unreadable("the manifest", e))?;
    if docs.is_empty() {
        return Err((
            ExitStatus::Invalid,
            format!(
                "--pending-release {shown}: revision {} renders no objects; an empty change cannot be judged",
                pending.revision
            ),
        ));
    }
    if docs.len() > limits.max_objects {
        return Err((ExitStatus::Incomplete, format!("--pending-release {shown}: {}", limits.too_many_objects())));
    }
    let mut crds = Vec::new();
    for (path, text) in &pending.crds {
        let before = crds.len();
        manifest::parse_text(text, &format!("{origin} {path}"), &mut crds)
            .map_err(|e| unreadable(&format!("chart file {path}"), e))?;
        for d in &mut crds[before..] {
            d.source = Some(format!("{}/{path}", pending.chart_name));
        }
    }
    let chart = Chart {
        path: origin.clone(),
        name: pending.chart_name.clone(),
        version: pending.chart_version.clone(),
        app_version: pending.app_version.clone(),
        kube_version: pending.kube_version.clone(),
        values: pending.chart_values.clone(),
        schema: None,
        crds,
        from_release: Some(origin.clone()),
    };
    Ok(ChangeInput {
        docs,
        values: release_values(req, rel),
        release: Some(rel.clone()),
        chart: Some(chart),
        no_cluster: false,
        location: origin,
    })
}

/// The exit status of a live failure: a context or namespace that does not exist is a usage
/// error (2); anything else means the cluster could not be read (3).
pub(super) fn live_status(e: &live::LiveError) -> ExitStatus {
    if e.is_usage() { ExitStatus::Invalid } else { ExitStatus::Incomplete }
}

/// The plan request for one cluster: `--values` for a `--release` that is not installed
/// there yet only feed `values-schema` (the change installs the release), so planning does
/// not ask for the release.
pub(super) fn request_for(req: &PlanRequest, change: Option<&ChangeInput>, inv: &Inventory) -> PlanRequest {
    let mut req = req.clone();
    if let Some(ch) = inv.change.as_deref()
        && let (Some(rel), false) = (&ch.release, ch.release_exists)
        && change.is_some()
    {
        req.values.retain(|v| !(v.release == rel.name && v.namespace.as_deref().is_none_or(|n| n == rel.namespace)));
    }
    req
}

/// With `--chart` for the `--release`, `--values` for that release merge onto the new chart's
/// defaults (as `helm upgrade -f` does), not the current chart's.
pub(super) fn with_new_chart_values(mut plan: plan::Plan, change: Option<&ChangeInput>) -> plan::Plan {
    let Some((rel, chart)) = change.and_then(|c| c.release.as_ref().zip(c.chart.as_ref())) else { return plan };
    for v in &mut plan.values {
        if v.spec.release == rel.name && v.object.namespace.as_deref() == Some(rel.namespace.as_str()) {
            v.new_chart_values = Some(crate::inventory::helm::shape(&chart.values));
        }
    }
    plan
}

/// Components whose version the change sets become targets of the plan (see
/// [`plan::add_change_targets`]); `before` is detection on the cluster as it is.
pub(super) fn with_change_targets(
    mut plan: plan::Plan,
    catalog: &Catalog,
    before: &std::collections::BTreeMap<String, crate::eval::detect::Detected>,
    future: &Inventory,
) -> plan::Plan {
    plan::add_change_targets(&mut plan, catalog, before, future);
    plan
}

/// The future state: `inv` with the change applied; a change reaching outside a partial view
/// (`-n`) cannot be judged there.
pub(super) fn apply_change(inv: Inventory, c: &ChangeInput) -> Result<Inventory, String> {
    let set = ChangeSet {
        release: c.release.clone(),
        chart: c.chart.clone(),
        values: c.values.clone(),
        cluster: !c.no_cluster,
        ..ChangeSet::default()
    };
    let future = manifest::apply(inv, &c.docs, set)?;
    super::namespaces::change_outside_view(&future).map_or(Ok(future), Err)
}

/// What a change adds to a live collection: the planned kinds (whole objects, to compare),
/// CRDs (served versions, scope) and, with a release, Helm's storage.
pub(super) fn change_needs(c: &ChangeInput) -> Vec<live::Need> {
    use crate::inventory::projection::Keep;
    use crate::resource::GroupKind;
    let need = |gk: GroupKind, version_hint: Option<String>| live::Need {
        gk,
        version_hint,
        namespace: None,
        label_selector: None,
        field_selector: None,
        keep: Keep::all(),
    };
    let mut out: Vec<live::Need> = c
        .docs
        .iter()
        .filter_map(|d| {
            let av = d.value.get("apiVersion")?.as_str()?;
            let kind = d.value.get("kind")?.as_str()?;
            Some(need(
                GroupKind::from_api_version(av, kind),
                Some(crate::resource::split_api_version(av).1.to_string()),
            ))
        })
        .collect();
    out.push(need(GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition"), Some("v1".into())));
    out
}
