//! What the live source must collect for a catalog, a selection and a plan: the kinds the
//! selected checks, their dependencies, detection and planning read, each with the
//! narrowest scope (namespace, selectors) and the fields (projection) all consumers share.

use std::collections::BTreeMap;

use super::{Selection, builtins, checks_needed, workloads};
use crate::catalog::{Catalog, Rule};

/// `HelmRelease` objects are decoded from Helm's storage: a need for them is a need for
/// Secrets and ConfigMaps labelled `owner=helm` (decoded before projection, so nothing of
/// them needs keeping).
fn helm_storage(needs: Vec<crate::inventory::live::Need>) -> Vec<crate::inventory::live::Need> {
    use crate::inventory::live::Need;
    use crate::resource::GroupKind;
    let helm = crate::inventory::helm::group_kind();
    let mut out = Vec::with_capacity(needs.len() + 1);
    for n in needs {
        if n.gk != helm {
            out.push(n);
            continue;
        }
        for kind in ["Secret", "ConfigMap"] {
            out.push(Need {
                gk: GroupKind::new("", kind),
                version_hint: Some("v1".into()),
                namespace: None,
                label_selector: Some("owner=helm".into()),
                field_selector: None,
                keep: crate::inventory::projection::Keep::default(),
            });
        }
    }
    out
}

/// What the live source must collect for this catalog and selection: the kinds read by the
/// selected checks, by checks those rely on (known-bad `requires-check`), and by every
/// matrix's detection sources, each with the narrowest scope all its consumers share.
#[must_use]
pub fn needs(catalog: &Catalog, sel: &Selection) -> Vec<crate::inventory::live::Need> {
    needs_for(catalog, sel, &BTreeMap::new(), false)
}

/// [`needs`] for a run with upgrade targets: adds the targets' gates and what planning reads.
#[must_use]
pub fn needs_for(
    catalog: &Catalog,
    sel: &Selection,
    targets: &BTreeMap<String, semver::Version>,
    releases: bool,
) -> Vec<crate::inventory::live::Need> {
    use crate::catalog::DetectSource;
    use crate::inventory::live::{Need, merge_needs};
    use crate::inventory::projection::{self, Keep};
    use crate::resource::GroupKind;

    let unscoped = |gk: GroupKind, keep: Keep| Need {
        gk,
        version_hint: None,
        namespace: None,
        label_selector: None,
        field_selector: None,
        keep,
    };
    let mut out = Vec::new();
    // `chart-kube-version` judges every installed release's chart.
    if releases || sel.wants(crate::eval::chart_kube_version::ID) {
        out.push(unscoped(crate::inventory::helm::group_kind(), Keep::default()));
    }
    // What planning rules read only when one of them is selected (`--only nodes-not-ready`
    // needs no removed-API evidence).
    if crate::catalog::planning::finding_ids().any(|id| sel.wants(id)) {
        for (gk, version_hint) in crate::eval::plan::needs(catalog, targets) {
            // Removed-API detection reads the annotations that hold the object as last applied.
            let mut keep = Keep::default();
            for a in crate::eval::plan::APPLIED_ANNOTATIONS {
                keep.merge(&Keep::annotation(a));
            }
            out.push(Need { version_hint, ..unscoped(gk, keep) });
        }
    }
    for id in checks_needed(catalog, sel, targets) {
        let Some(check) = catalog.checks.get(id) else { continue };
        match &check.rule {
            Rule::Cel { program, message, .. } => {
                let mut keep = projection::cel_paths(program.expression());
                if let Some(m) = message {
                    keep.merge(&projection::cel_paths(m.expression()));
                }
                out.extend(check.resources.iter().map(|r| Need {
                    gk: r.gk.clone(),
                    version_hint: Some(crate::resource::split_api_version(&r.api_version).1.to_string()),
                    namespace: r.namespace.clone(),
                    label_selector: r.label_selector.as_ref().map(|s| s.as_str().to_string()),
                    field_selector: None,
                    keep: keep.clone(),
                }));
            }
            Rule::Builtin(b) => out.extend(builtins::keeps(b).into_iter().map(|(gk, keep)| unscoped(gk, keep))),
        }
    }
    for m in catalog.matrices.values() {
        for d in &m.detect {
            match d {
                DetectSource::Field(f) => out.push(Need {
                    gk: GroupKind::from_api_version(&f.api_version, &f.kind),
                    version_hint: Some(crate::resource::split_api_version(&f.api_version).1.to_string()),
                    namespace: f.namespace.clone(),
                    label_selector: None,
                    field_selector: Some(format!("metadata.name={}", f.name)),
                    keep: Keep::paths(&[f.path.as_str()]),
                }),
                DetectSource::Image(i) => match &i.kind {
                    Some(k) => out.push(unscoped(GroupKind::new("apps", k), Keep::paths(&["spec"]))),
                    None => out.extend(
                        // Of Pods only those without an owner keep their spec (a cluster may
                        // run 100,000 Pods; owned ones are judged through their controller).
                        workloads::DETECT_KINDS.iter().map(|(g, k)| {
                            let keep = if *k == "Pod" { Keep::unowned(&["spec"]) } else { Keep::paths(&["spec"]) };
                            unscoped(GroupKind::new(g, k), keep)
                        }),
                    ),
                },
                DetectSource::Kubelet(_) => {
                    out.push(unscoped(GroupKind::new("", "Node"), Keep::paths(&["status.nodeInfo.kubeletVersion"])));
                }
                DetectSource::ApiServer(_) => {}
                DetectSource::HelmRelease(_) => {
                    out.push(unscoped(crate::inventory::helm::group_kind(), Keep::default()))
                }
            }
        }
    }
    merge_needs(helm_storage(out))
}
