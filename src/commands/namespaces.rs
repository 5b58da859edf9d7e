//! `-n/--namespace`: parsing the namespaces, and what each source does with them. A live
//! collection lists namespaced kinds there only (`inventory::live`); a snapshot is limited to
//! them after reading; a planned change must stay inside them.

use std::collections::BTreeSet;

use super::eprint;
use crate::inventory::Inventory;
use crate::report::ExitStatus;

/// clap value parser: one namespace name (a DNS-1123 label).
pub(super) fn parse(s: &str) -> Result<String, String> {
    crate::resource::check_namespace_name(s).map(|()| s.to_string())
}

/// The view the flags ask for; `None` (no `-n`) is the whole cluster.
pub(super) fn view(namespaces: &[String]) -> Option<BTreeSet<String>> {
    (!namespaces.is_empty()).then(|| namespaces.iter().cloned().collect())
}

/// Limits a snapshot to the namespaces of `-n` (`check --snapshot … -n`; none: unchanged).
/// A namespace the snapshot did not capture is printed as an error (exit 2), not taken as an
/// empty namespace.
pub(super) fn limit_snapshot(
    inv: &mut Inventory,
    namespaces: &[String],
    path: &std::path::Path,
) -> Result<(), ExitStatus> {
    let Some(view) = view(namespaces) else { return Ok(()) };
    limit(inv, &view, &path.display().to_string()).map_err(|e| {
        eprint(&e);
        ExitStatus::Invalid
    })
}

/// [`limit_snapshot`]'s rule: a snapshot captured with `-n` knows its namespaces; a
/// whole-cluster one must hold the Namespace or an object in it.
fn limit(inv: &mut Inventory, view: &BTreeSet<String>, path: &str) -> Result<(), String> {
    let missing: Vec<&str> = match inv.namespaces() {
        Some(captured) => view.iter().filter(|ns| !captured.contains(*ns)).map(String::as_str).collect(),
        None => {
            let namespace = crate::resource::GroupKind::new("", "Namespace");
            let mut known = inv.populated_namespaces();
            known.extend(inv.objects(&namespace).iter().map(|o| o.name.as_str()));
            view.iter().filter(|ns| !known.contains(ns.as_str())).map(String::as_str).collect()
        }
    };
    if !missing.is_empty() {
        let why = match inv.namespaces() {
            Some(_) => format!("it was captured with -n {}", inv.view_label().replace(", ", ",")),
            None => "it holds neither the Namespace nor any object in it".to_string(),
        };
        return Err(format!("{path}: -n {}: not in the snapshot ({why})", missing.join(",")));
    }
    inv.restrict(view);
    Ok(())
}

/// Why a planned change (`--manifest`, `--release`) cannot be judged in a partial view: an
/// object it applies, or its release, lies in a namespace the run does not read. `None`
/// when it stays inside (or the view is the whole cluster).
pub(super) fn change_outside_view(inv: &Inventory) -> Option<String> {
    let change = inv.change.as_deref()?;
    if let Some(rel) = &change.release
        && let Some(why) = inv.outside_view(Some(&rel.namespace))
    {
        return Some(format!("--release {}/{}: {why}; add -n {}", rel.namespace, rel.name, rel.namespace));
    }
    let p = change.planned.iter().find_map(|p| Some((p, inv.outside_view(p.object.namespace.as_deref())?)));
    p.map(|(p, why)| {
        format!(
            "{}: {} is planned in a namespace outside the view: {why}; add -n {}",
            p.location,
            p.object.obj_ref().identity(),
            p.object.namespace.as_deref().unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_views() {
        assert_eq!(parse("team-a").unwrap(), "team-a");
        assert!(parse("Team_A").unwrap_err().contains("is not a namespace name"));
        assert_eq!(view(&[]), None);
        let v = view(&["b".into(), "a".into(), "b".into()]).unwrap();
        assert_eq!(v.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }
}
