//! Compatibility at the target: supported peers (`peer-compatibility`) evaluated with the
//! planned versions of both sides, and the kubelet version-skew policy (`kubelet-skew`).

use std::collections::BTreeSet;

use super::{Ctx, Planned, Target, base, first, shown};
use crate::catalog::{Matrix, Severity};
use crate::inventory::KindView;
use serde_json::Value;

use crate::resource::GroupKind;
use crate::version;

/// Every supported-peers rule that involves a targeted component, evaluated once with the
/// planned versions of both sides. A side whose version is unknown, or a version no row of
/// the matrix covers, is *could not evaluate*, never a pass. With a target for the peer, a
/// component whose running version does not support it must move first ([`first`]).
pub(super) fn peers(cx: &mut Ctx<'_>) {
    const ID: &str = "peer-compatibility";
    if cx.plan.targets.is_empty() {
        return;
    }
    let mut any = false;
    for m in cx.catalog.matrices.values() {
        let peers: BTreeSet<&str> = m.supported_peers.iter().map(|p| p.component.as_str()).collect();
        for peer in peers {
            let (m_t, p_t) = (cx.plan.targets.contains_key(&m.id), cx.plan.targets.contains_key(peer));
            if !m_t && !p_t {
                continue;
            }
            let peer_name = cx.catalog.matrices.get(peer).map_or(peer.to_string(), |pm| pm.name.clone());
            // The steps this rule decides: the targeted sides, and a component that may have
            // to move before its targeted peer.
            let steps: Vec<String> =
                [(m_t || p_t).then(|| m.id.clone()), p_t.then(|| peer.to_string())].into_iter().flatten().collect();
            let (ov, o_t, pv, p_tv) = match (cx.planned(&m.id), cx.planned(peer)) {
                (Planned::Absent, _) | (_, Planned::Absent) => continue,
                (Planned::Known(a, at), Planned::Known(b, bt)) => (a, at, b, bt),
                (ours, theirs) => {
                    let (whose, why) = match (ours, theirs) {
                        (Planned::Unknown(why), _) => (m.name.clone(), why),
                        (_, Planned::Unknown(why)) => (peer_name.clone(), why),
                        _ => continue,
                    };
                    let reason = format!(
                        "{whose} version unknown ({why}): cannot tell whether {} supports {peer_name}{}",
                        m.name,
                        planned_text(cx, peer)
                    );
                    unknown_on(cx, &steps, ID, reason);
                    if p_t && !m_t {
                        let p = cx.prereqs.entry(m.id.clone()).or_default();
                        p.unknown = true;
                        p.required_by.insert(peer.to_string());
                    }
                    continue;
                }
            };
            let rows = first::covering(m, peer, &ov);
            if rows.is_empty() {
                let reason = format!(
                    "the {} matrix has no supported-peers row for {peer_name} that covers {} {}{}: the data does not cover it",
                    m.name,
                    m.name,
                    shown(&ov),
                    tag(o_t)
                );
                unknown_on(cx, &steps, ID, reason);
                if p_t && !m_t {
                    let p = cx.prereqs.entry(m.id.clone()).or_default();
                    p.unknown = true;
                    p.required_by.insert(peer.to_string());
                }
                continue;
            }
            any = true;
            // Must the component move before its targeted peer? Judged on what runs now.
            let mut need = None;
            if p_t && let Some(cur) = cx.detected.get(&m.id).and_then(|d| d.version()) {
                let now = first::covering(m, peer, cur);
                if !now.is_empty() && now.iter().any(|r| !r.range.matches(&base(&pv))) {
                    need = first::lowest_supporting(m, peer, cur, &pv);
                    let p = cx.prereqs.entry(m.id.clone()).or_default();
                    p.required_by.insert(peer.to_string());
                    if let Some(n) = &need
                        && p.required.as_ref().is_none_or(|r| version::cmp_precedence(n, r).is_gt())
                    {
                        p.required = Some(n.clone());
                    }
                }
            }
            for p in rows {
                if p.range.matches(&base(&pv)) {
                    continue;
                }
                let mut objects = Vec::new();
                for c in [m.id.as_str(), peer] {
                    objects.extend(cx.detected.get(c).and_then(|d| d.object.clone()));
                }
                let message = format!(
                    "{} {}{} supports {peer_name} {}; {peer_name} would be {}{}{}",
                    m.name,
                    shown(&ov),
                    tag(o_t),
                    p.range,
                    shown(&pv),
                    tag(p_tv),
                    p.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
                );
                let lowest = need.as_ref().map(|n| format!(" ({} {} is the lowest that does)", m.name, shown(n)));
                let remediation = match (o_t, &need) {
                    (false, Some(n)) => {
                        let cur = cx.detected.get(&m.id).and_then(|d| d.version()).unwrap_or(n);
                        let via = first::stops(m, cur, n);
                        let via = if via.len() > 1 {
                            format!(" (via {})", via[..via.len() - 1].join(", "))
                        } else {
                            String::new()
                        };
                        format!(
                            "Upgrade {} to {} or later{via} before moving {peer_name} to {}; the plan lists the order.",
                            m.name,
                            shown(n),
                            shown(&pv)
                        )
                    }
                    (false, None) => format!(
                        "No {} version in the matrix supports {peer_name} {}: check {}'s release notes before moving {peer_name}.",
                        m.name,
                        shown(&pv),
                        m.name
                    ),
                    (true, _) => format!(
                        "Choose a {} target whose supported {peer_name} range includes {}{}.",
                        m.name,
                        shown(&pv),
                        lowest.unwrap_or_default()
                    ),
                };
                let (first, rest) = steps.split_first().map_or((m.id.as_str(), &[][..]), |(f, r)| (f.as_str(), r));
                cx.finding(first, ID, Severity::Blocker, &m.id, objects, message, remediation);
                for s in rest {
                    cx.attached.entry(s.clone()).or_default().push(ID.to_string());
                }
            }
        }
    }
    if any {
        cx.passed(ID);
    }
}

fn tag(targeted: bool) -> &'static str {
    if targeted { " (target)" } else { "" }
}

/// " 1.33.0 (target)" when the component's planned version is known, else "".
fn planned_text(cx: &Ctx<'_>, component: &str) -> String {
    match cx.planned(component) {
        Planned::Known(v, t) => format!(" {}{}", shown(&v), tag(t)),
        _ => String::new(),
    }
}

/// One *could not evaluate* for the rule, attached to each step it decides.
fn unknown_on(cx: &mut Ctx<'_>, steps: &[String], id: &str, reason: String) {
    let Some((first, rest)) = steps.split_first() else { return };
    cx.unknown(first, id, Severity::Blocker, reason);
    if (cx.wants)(id) {
        for s in rest {
            cx.attached.entry(s.clone()).or_default().push(id.to_string());
        }
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
