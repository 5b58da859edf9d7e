//! Upgrade paths (`upgrade-path`, `upgrade-target-unverified`) and known-bad versions at
//! the target: can the component get from where it is to the target in one step, and is
//! the target itself known to break.

use super::{CheckResults, Ctx, Target, base, shown};
use crate::catalog::{Matrix, Severity};
use crate::eval::detect::VersionState;
use crate::resource::ObjectRef;
use crate::version::{self, Parsed};

pub(super) fn path_rules(cx: &mut Ctx<'_>, m: &Matrix, t: &Target) {
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
        VersionState::NotDetected if super::plain_manifests(cx.inv) => {
            // Manifests, not a cluster capture: nothing says what runs, and the target is all
            // the user stated. The path is not checked, and the report says so.
            cx.unknown(
                &m.id,
                ID,
                Severity::Warning,
                format!(
                    "the input holds no cluster version (no SnapshotInfo serverVersion, no Nodes): plain manifests, so the path from the current {} to {} is not checked",
                    m.name,
                    shown(to)
                ),
            );
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

pub(super) fn known_bad_at_target(cx: &mut Ctx<'_>, m: &Matrix, t: &Target, check_results: &CheckResults<'_>) {
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
