//! "Upgrade this first": with a target for one component (Kubernetes), the other components
//! whose running version does not support it — by their own `supported-peers` rows — must
//! move first. This module finds the lowest version of such a component that does support
//! the target, the stops on the way there under the component's own upgrade rule
//! (`max-minor-step`, `upgrade-paths`), and the order of the plan's steps.

use std::collections::BTreeSet;

use semver::Version;

use super::{PlanStep, base};
use crate::catalog::{Matrix, SupportedPeer};
use crate::version::{self, Range};

/// A component that must move before the targets that need it.
#[derive(Debug, Default)]
pub(super) struct Prereq {
    /// Components (targeted) that need it to move first.
    pub required_by: BTreeSet<String>,
    /// The lowest version that supports every target in `required_by`, when the data has one.
    pub required: Option<Version>,
    /// Its current version is unknown, or the data does not cover it: it may have to move.
    pub unknown: bool,
}

/// `m`'s rows about `peer` that apply to version `v` of `m` (a row without `when` applies to all).
pub(super) fn covering<'a>(m: &'a Matrix, peer: &str, v: &Version) -> Vec<&'a SupportedPeer> {
    m.supported_peers
        .iter()
        .filter(|p| p.component == peer && p.when.as_ref().is_none_or(|w| w.matches(&base(v))))
        .collect()
}

/// The lowest version a range contains that one of its comparators names (`>=1.16.0, <1.17.0`
/// → 1.16.0); none for a range open below (`<2.7.8`).
fn floor(r: &Range) -> Option<Version> {
    r.bounds().into_iter().filter(|b| r.matches(b)).min_by(|a, b| version::cmp_precedence(a, b)).cloned()
}

/// The lowest version of `m` above `cur` whose rows about `peer` all include `peer_version`:
/// the first version of the row that supports it, per the matrix.
pub(super) fn lowest_supporting(m: &Matrix, peer: &str, cur: &Version, peer_version: &Version) -> Option<Version> {
    let mut floors: Vec<Version> = m
        .supported_peers
        .iter()
        .filter(|p| p.component == peer)
        .filter_map(|p| p.when.as_ref().and_then(floor))
        .filter(|f| version::cmp_precedence(f, cur).is_gt())
        .collect();
    floors.sort_by(version::cmp_precedence);
    floors.dedup();
    floors.into_iter().find(|f| {
        let rows = covering(m, peer, f);
        !rows.is_empty() && rows.iter().all(|p| p.range.matches(&base(peer_version)))
    })
}

/// The stops from `cur` to `to` under `m`'s upgrade rule, ending with `to`: every
/// intermediate minor with `max-minor-step` (`1.15`, `1.16`, then `1.17.0`), the hops its
/// `upgrade-paths` require, or `to` alone.
pub(super) fn stops(m: &Matrix, cur: &Version, to: &Version) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(step) = m.upgrade.max_minor_step.filter(|s| *s > 0)
        && cur.major == to.major
    {
        let mut minor = cur.minor + step;
        while minor < to.minor {
            out.push(format!("{}.{minor}", cur.major));
            minor += step;
        }
    } else if !m.upgrade_paths.is_empty() {
        let target = base(to);
        let mut at = base(cur);
        // Each hop moves strictly up and stays below the target, so this ends; the bound
        // only guards against data that would make it long.
        for _ in 0..64 {
            let reaching: Vec<_> = m.upgrade_paths.iter().filter(|p| p.to.matches(&target)).collect();
            if reaching.is_empty() || reaching.iter().any(|p| p.from.matches(&at)) {
                break;
            }
            // The furthest hop the paths allow from here, short of the target: versions the
            // ranges name (a `from` floor such as 1.15.2 is a stop too).
            let next = m
                .upgrade_paths
                .iter()
                .flat_map(|p| p.to.bounds().into_iter().chain(p.from.bounds()))
                .filter(|b| version::cmp_precedence(b, &at).is_gt() && version::cmp_precedence(b, &target).is_lt())
                .filter(|b| m.upgrade_paths.iter().any(|p| p.to.matches(b) && p.from.matches(&at)))
                .max_by(|a, b| version::cmp_precedence(a, b))
                .cloned();
            let Some(next) = next else { break };
            out.push(version::display(&next));
            at = next;
        }
    }
    out.push(version::display(to));
    out
}

/// Numbers the steps — a step comes after every step it lists in `upgrade_first` — and sorts
/// them by that number (stable, so the order within a number is kept).
pub(super) fn order(steps: &mut [PlanStep]) {
    for s in steps.iter_mut() {
        s.order = 1;
    }
    // Longest chain of "first" steps; at most one pass per step unless the data has a cycle,
    // which the bound cuts.
    for _ in 0..steps.len() {
        let mut changed = false;
        for i in 0..steps.len() {
            let after = steps
                .iter()
                .filter(|o| steps[i].upgrade_first.contains(&o.component))
                .map(|o| o.order + 1)
                .max()
                .unwrap_or(1);
            if after > steps[i].order {
                steps[i].order = after;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    steps.sort_by_key(|s| s.order);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Sources};

    fn v(s: &str) -> Version {
        version::parse_version(s).unwrap()
    }

    fn matrix(yaml: &str) -> Matrix {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("addon.yaml"), yaml).unwrap();
        let c = Catalog::load(&Sources { matrices: vec![dir.path().to_path_buf()], checks: Vec::new() }).unwrap();
        c.matrices["addon"].clone()
    }

    const ROWS: &str = "id: addon\nname: Addon\ndetect: [{image: {repository: x/addon}}]\nsupported-peers:\n  - {component: kubernetes, when: \">=1.14.0, <1.15.0\", range: \">=1.25.0, <1.30.0\"}\n  - {component: kubernetes, when: \">=1.15.0, <1.16.0\", range: \">=1.25.0, <1.31.0\"}\n  - {component: kubernetes, when: \">=1.16.0, <1.17.0\", range: \">=1.26.0, <1.32.0\"}\n  - {component: kubernetes, when: \">=1.17.0, <1.18.0\", range: \">=1.27.0, <1.33.0\"}\n";

    #[test]
    fn the_lowest_row_floor_that_supports_the_target() {
        let m = matrix(ROWS);
        assert_eq!(lowest_supporting(&m, "kubernetes", &v("1.14.5"), &v("1.31.2")), Some(v("1.16.0")));
        assert_eq!(lowest_supporting(&m, "kubernetes", &v("1.14.5"), &v("1.30.0")), Some(v("1.15.0")));
        // Never a version at or below the current one, and none when no row supports it.
        assert_eq!(lowest_supporting(&m, "kubernetes", &v("1.16.3"), &v("1.25.0")), None);
        assert_eq!(lowest_supporting(&m, "kubernetes", &v("1.14.0"), &v("1.34.0")), None);
        assert_eq!(lowest_supporting(&m, "rancher", &v("1.14.0"), &v("1.31.0")), None);
    }

    #[test]
    fn stops_follow_the_upgrade_rule() {
        let plain = matrix(ROWS);
        assert_eq!(stops(&plain, &v("1.14.5"), &v("1.17.0")), vec!["1.17.0"]);
        let minor = matrix(&format!("{ROWS}upgrade: {{max-minor-step: 1}}\n"));
        assert_eq!(stops(&minor, &v("1.14.5"), &v("1.17.0")), vec!["1.15", "1.16", "1.17.0"]);
        assert_eq!(stops(&minor, &v("1.16.1"), &v("1.17.0")), vec!["1.17.0"]);
        let two = matrix(&format!("{ROWS}upgrade: {{max-minor-step: 2}}\n"));
        assert_eq!(stops(&two, &v("1.14.5"), &v("1.17.0")), vec!["1.16", "1.17.0"]);
        let paths = matrix(&format!(
            "{ROWS}upgrade-paths:\n  - {{to: \">=1.15.0, <1.16.0\", from: \">=1.14.0\"}}\n  - {{to: \">=1.16.0, <1.17.0\", from: \">=1.15.2\"}}\n  - {{to: \">=1.17.0, <1.18.0\", from: \">=1.16.0\"}}\n"
        ));
        // 1.16 needs 1.15.2 or later: the stop is that patch, not 1.15.0.
        assert_eq!(stops(&paths, &v("1.14.5"), &v("1.17.0")), vec!["1.15.2", "1.16.0", "1.17.0"]);
        assert_eq!(stops(&paths, &v("1.16.0"), &v("1.17.0")), vec!["1.17.0"]);
        // Harvester's own paths: v1.4.0 reaches v1.6.0 through v1.4.1, v1.4.2 and v1.5.0.
        let shipped = Catalog::load(&Sources::default()).unwrap();
        let harvester = &shipped.matrices["harvester"];
        assert_eq!(stops(harvester, &v("1.4.0"), &v("1.6.0")), vec!["1.4.1", "1.4.2", "1.5.0", "1.6.0"]);
    }

    fn step(c: &str, first: &[&str]) -> PlanStep {
        PlanStep {
            component: c.into(),
            name: c.into(),
            current: None,
            target: None,
            verdict: super::super::StepVerdict::Ok,
            findings: Vec::new(),
            next_steps: Vec::new(),
            gates: Vec::new(),
            order: 0,
            required_version: None,
            upgrade_path: Vec::new(),
            required_by: Vec::new(),
            upgrade_first: first.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn steps_come_after_what_they_need_first() {
        let mut steps = vec![
            step("kubernetes", &["rancher", "cert-manager"]),
            step("rancher", &["harvester"]),
            step("cert-manager", &[]),
            step("harvester", &[]),
            step("release:a/b", &[]),
        ];
        order(&mut steps);
        let got: Vec<(&str, u32)> = steps.iter().map(|s| (s.component.as_str(), s.order)).collect();
        assert_eq!(
            got,
            vec![("cert-manager", 1), ("harvester", 1), ("release:a/b", 1), ("rancher", 2), ("kubernetes", 3)]
        );
        // A cycle in user data ends.
        let mut cycle = vec![step("a", &["b"]), step("b", &["a"])];
        order(&mut cycle);
        assert!(cycle.iter().all(|s| s.order >= 1));
    }
}
