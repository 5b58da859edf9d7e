//! Values pre-checks (`values-required-key`, `values-floating-image-tag`,
//! `values-renamed-key`): a `--values` file merged the way `helm upgrade -f` merges,
//! judged by the matrix's values rules. Findings name key paths and the file, never values.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Ctx, ResolvedValues, base, shown};
use crate::catalog::Severity;
use crate::eval::workloads;
use crate::version::{self, Parsed};

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

pub(super) fn values_rules(cx: &mut Ctx<'_>, rv: &ResolvedValues) {
    let step = format!("release:{}/{}", rv.object.namespace.as_deref().unwrap_or_default(), rv.spec.release);
    let file = &rv.spec.file;
    let current = merge(&rv.chart_values, &rv.current);
    let defaults = rv.new_chart_values.as_ref().unwrap_or(&rv.chart_values);
    let base_values = if cx.plan.reuse_values { merge(defaults, &rv.current) } else { defaults.clone() };
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
            let ver = from_file.or_else(|| cx.planned(&m.id).version());
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
