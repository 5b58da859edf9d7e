//! `list` and `explain`: what the catalog holds, and what one check, rule or component does.

use serde::Serialize;

use super::cli::{ExplainArgs, ListArgs};
use super::{eprint, load_catalog, out};
use crate::catalog::{Catalog, DetectSource, Rule, RuleKind, Severity};
use crate::report::{self, ExitStatus, ListFormat};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListEntry {
    id: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<Severity>,
    /// Absent for ids that concern no single component (and for components themselves).
    #[serde(skip_serializing_if = "Option::is_none")]
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
    for (id, severity, title) in crate::eval::plan::FINDING_IDS {
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

/// The `list` subcommand.
pub(super) fn list(a: &ListArgs) -> ExitStatus {
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
            let rows: Vec<Vec<report::table::GridCell>> = entries
                .iter()
                .map(|e| {
                    vec![
                        (e.id.clone(), None),
                        (e.kind.to_string(), None),
                        (e.severity.map(|s| s.to_string()).unwrap_or_default(), None),
                        (e.component.clone().unwrap_or_default(), None),
                        (e.title.clone(), None),
                    ]
                })
                .collect();
            let t = report::table::grid(
                &["ID", "KIND", "SEVERITY", "COMPONENT", "TITLE"],
                &rows,
                super::table_width(),
                false,
            );
            out(&format!("{t}\n"));
        }
    }
    ExitStatus::Go
}

/// The `explain` subcommand.
pub(super) fn explain(a: &ExplainArgs) -> ExitStatus {
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
                    DetectSource::ApiServer(x) => format!("API server /version{}", suffix_note(x)),
                    DetectSource::Kubelet(x) => format!("oldest kubelet version among Nodes{}", suffix_note(x)),
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
    if let Some(info) = catalog.describe(&a.id).filter(|i| i.kind == RuleKind::Pin) {
        s.push_str(&format!(
            "{} — version pin\n\nseverity:  {}\ncomponent: {}\n\n{}: a detected version outside the pin is a finding; a floating\ntag or an unreadable version makes it could not evaluate.\n\nremediation: {}\n",
            info.id,
            info.severity,
            info.component.as_deref().unwrap_or("-"),
            info.title,
            info.remediation.trim()
        ));
        for r in &info.references {
            s.push_str(&format!("  see {r}\n"));
        }
        out(&s);
        return ExitStatus::Go;
    }
    if let Some((id, severity, title)) = crate::eval::plan::FINDING_IDS.iter().find(|(id, _, _)| *id == a.id) {
        out(&format!(
            "{id} — upgrade planning rule\n\nseverity: {severity}\nruns:     with --target COMPONENT=VERSION or --values RELEASE=FILE\n\n{title}.\nSee the README section \"Planning an upgrade\".\n"
        ));
        return ExitStatus::Go;
    }
    let mut ids: Vec<String> = catalog.finding_ids().into_iter().collect();
    ids.extend(catalog.matrices.keys().cloned());
    eprint(&format!(
        "no check, known-bad rule, pin or component with id '{}'{} (run `upgrade-preflight list`)",
        a.id,
        super::did_you_mean(&a.id, &ids)
    ));
    ExitStatus::Invalid
}

/// ` (a version with +rke2…)` for a source that reads only one distribution's versions.
fn suffix_note(x: &crate::catalog::VersionSuffix) -> String {
    x.suffix.as_deref().map(|s| format!(" (a version with +{s}…)")).unwrap_or_default()
}
