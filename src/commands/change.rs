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
        Some(r) => {
            let (ns, name) = r.split_once('/').unwrap_or(("default", r));
            if ns.is_empty() || name.is_empty() || name.contains('/') {
                eprint(&format!("--release {r}: expected [NAMESPACE/]NAME"));
                return Err(ExitStatus::Invalid);
            }
            Some(ReleaseRef { namespace: ns.to_string(), name: name.to_string() })
        }
    };
    let values = release.as_ref().and_then(|rel| {
        req.values
            .iter()
            .filter(|v| v.release == rel.name && v.namespace.as_deref().is_none_or(|n| n == rel.namespace))
            .fold(None, |acc: Option<(String, serde_json::Value)>, v| {
                Some(match acc {
                    None => (v.file.clone(), v.values.clone()),
                    Some((f, old)) => (format!("{f}, {}", v.file), manifest::overlay(&old, &v.values)),
                })
            })
    });
    let location = c.manifests.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    Ok(Some(ChangeInput { docs, release, chart, values, no_cluster: c.no_cluster, location }))
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
