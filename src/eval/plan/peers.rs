//! Compatibility at the target: supported peers (`peer-compatibility`) evaluated with the
//! planned versions of both sides, and the kubelet version-skew policy (`kubelet-skew`).

use super::{Ctx, Target, base, shown};
use crate::catalog::{Matrix, Severity};
use crate::inventory::KindView;
use serde_json::Value;

use crate::resource::GroupKind;
use crate::version;

/// Every supported-peers rule that involves a targeted component, evaluated once with the
/// planned versions of both sides.
pub(super) fn peers(cx: &mut Ctx<'_>) {
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

pub(super) fn kubelet_skew(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
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
