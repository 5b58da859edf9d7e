//! `chart-kube-version`: a chart's `kubeVersion` constraint against the Kubernetes version Helm
//! will see. Judged for the chart of a planned change (`--chart`, in `eval::change`) and for
//! every installed release (here): Helm checks the constraint each time it renders a chart
//! (`helm install`, `helm upgrade`, also `--reuse-values` with the same chart), failing with
//! "chart requires kubeVersion: … which is incompatible with Kubernetes …"
//! (helm/helm `pkg/action/action.go` `renderResources`). `helm rollback` re-applies the stored
//! manifest without rendering (`pkg/action/rollback.go`) and is not refused.
//!
//! Constraints follow Masterminds/semver v3, which Helm uses (helm/helm `go.mod`: v3.3.0):
//! `||` alternatives of space- or comma-separated comparators. A version with a pre-release
//! (`v1.29.4-eks-036c24b`, `v1.27.3-gke.100`: EKS and GKE versions are semver pre-releases)
//! satisfies an alternative only if one of its comparators names a pre-release itself, which
//! is why charts write `>=1.21.0-0` (Masterminds/semver `constraints.go`, `containsPre`;
//! helm/helm#3810). Build metadata (`+rke2r1`, `+k3s1`) is ignored.
//!
//! Layer: eval. Imports the inventory (Helm release objects), the catalog and `eval`'s types.

use serde_json::Value;

use crate::catalog::Severity;
use crate::eval::plan::Plan;
use crate::eval::{Evaluation, Finding, Outcome};
use crate::inventory::manifest::ChangeSet;
use crate::inventory::{Inventory, KindView};
use crate::version;

/// The finding id.
pub const ID: &str = "chart-kube-version";

/// A Kubernetes version as Helm sees it: the numbers, and whether it is a semver pre-release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmKubeVersion {
    /// Major, minor, patch.
    pub version: semver::Version,
    /// The pre-release part (`eks-036c24b`), which only a pre-release comparator admits.
    pub prerelease: Option<String>,
    /// True for a target that takes the running version's pre-release suffix (see [`Self::target`]).
    pub inherited: bool,
}

impl HelmKubeVersion {
    /// From a server `gitVersion` (`v1.29.4-eks-036c24b`, `v1.30.7+rke2r1`).
    #[must_use]
    pub fn from_git_version(raw: &str) -> Option<Self> {
        let version = version::parse_version(raw)?;
        let core = raw.trim().trim_start_matches('v').split('+').next().unwrap_or_default();
        let prerelease = core.split_once('-').map(|(_, p)| p.to_string()).filter(|p| !p.is_empty());
        Some(Self {
            version: semver::Version::new(version.major, version.minor, version.patch),
            prerelease,
            inherited: false,
        })
    }

    /// A `--target kubernetes=X` version. A managed provider's pre-release suffix (EKS
    /// `-eks-…`, GKE `-gke.N`) comes with every version it runs, so a target without one of
    /// its own is a pre-release when the running version is.
    #[must_use]
    pub fn target(t: &semver::Version, current: Option<&HelmKubeVersion>) -> Self {
        let version = semver::Version::new(t.major, t.minor, t.patch);
        match (t.pre.is_empty(), current.and_then(|c| c.prerelease.clone())) {
            (false, _) => Self { version, prerelease: Some(t.pre.to_string()), inherited: false },
            (true, Some(p)) => Self { version, prerelease: Some(p), inherited: true },
            (true, None) => Self { version, prerelease: None, inherited: false },
        }
    }

    /// `v1.29.4-eks-036c24b`; an inherited suffix is not shown (the target's is not known).
    pub(crate) fn display(&self) -> String {
        match &self.prerelease {
            Some(p) if !self.inherited => format!("v{}-{p}", self.version),
            _ => format!("v{}", self.version),
        }
    }
}

/// True when `v` satisfies the Helm `kubeVersion` constraint (see the module docs); `Err` says
/// what does not parse. Comparators: `>=`, `>`, `<=`, `<`, `=`, `!=`, `~`, `^`, `x` wildcards,
/// `a - b` ranges. Pre-releases compare by their numbers only (a `-0` floor is the common case).
pub fn matches(constraint: &str, v: &HelmKubeVersion) -> Result<bool, String> {
    let pre = v.prerelease.is_some();
    let v = &v.version;
    let parse = |s: &str| -> Result<(Vec<Option<u64>>, usize, bool), String> {
        let s = s.trim().trim_start_matches('v');
        let s = s.split('+').next().unwrap_or(s);
        let (s, has_pre) = match s.split_once('-') {
            Some((core, p)) => (core, !p.is_empty()),
            None => (s, false),
        };
        let parts: Vec<Option<u64>> = s
            .split('.')
            .map(|p| if matches!(p, "x" | "X" | "*") { Ok(None) } else { p.parse::<u64>().map(Some) })
            .collect::<Result<_, _>>()
            .map_err(|_| format!("'{s}' is not a version"))?;
        if parts.is_empty() || parts.len() > 3 {
            return Err(format!("'{s}' is not a version"));
        }
        let given = parts.iter().take_while(|p| p.is_some()).count();
        Ok((parts, given, has_pre))
    };
    let ver = |p: &[Option<u64>]| {
        semver::Version::new(
            p.first().copied().flatten().unwrap_or(0),
            p.get(1).copied().flatten().unwrap_or(0),
            p.get(2).copied().flatten().unwrap_or(0),
        )
    };
    let bump = |p: &[Option<u64>], given: usize| -> Option<semver::Version> {
        let b = ver(p);
        match given {
            0 => None,
            1 => Some(semver::Version::new(b.major.saturating_add(1), 0, 0)),
            2 => Some(semver::Version::new(b.major, b.minor.saturating_add(1), 0)),
            _ => Some(semver::Version::new(b.major, b.minor, b.patch.saturating_add(1))),
        }
    };
    let mut any = false;
    for alt in constraint.split("||") {
        let alt = alt.trim();
        if alt.is_empty() {
            return Err("empty alternative".to_string());
        }
        let mut ok = true;
        let mut group_pre = false;
        let tokens: Vec<&str> = alt.split([' ', ',']).filter(|t| !t.is_empty()).collect();
        let mut i = 0;
        while i < tokens.len() {
            let mut tok = tokens[i].to_string();
            // `>= 1.20` written with a space.
            if matches!(tok.as_str(), ">=" | "<=" | ">" | "<" | "=" | "!=" | "~" | "^") && i + 1 < tokens.len() {
                i += 1;
                tok.push_str(tokens[i]);
            }
            // `1.2 - 1.4`
            if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                let (lo, _, lo_pre) = parse(&tok)?;
                let (hi, hg, hi_pre) = parse(tokens[i + 2])?;
                group_pre |= lo_pre || hi_pre;
                ok &= *v >= ver(&lo) && (if hg < 3 { bump(&hi, hg).is_none_or(|b| *v < b) } else { *v <= ver(&hi) });
                i += 3;
                continue;
            }
            let (op, rest) = [">=", "<=", "!=", ">", "<", "=", "~", "^"]
                .iter()
                .find_map(|op| tok.strip_prefix(op).map(|r| (*op, r.to_string())))
                .unwrap_or(("=", tok.clone()));
            let (p, given, has_pre) = parse(&rest)?;
            group_pre |= has_pre;
            let b = ver(&p);
            ok &= match op {
                ">=" => *v >= b,
                ">" => {
                    if given < 3 {
                        bump(&p, given).is_none_or(|x| *v >= x)
                    } else {
                        *v > b
                    }
                }
                "<=" => {
                    if given < 3 {
                        bump(&p, given).is_none_or(|x| *v < x)
                    } else {
                        *v <= b
                    }
                }
                "<" => *v < b,
                "!=" => *v != b,
                "~" => {
                    *v >= b && *v < bump(&p, given.clamp(1, 2)).unwrap_or_else(|| semver::Version::new(u64::MAX, 0, 0))
                }
                "^" => {
                    *v >= b
                        && *v
                            < if b.major > 0 || given < 2 {
                                semver::Version::new(b.major.saturating_add(1), 0, 0)
                            } else {
                                semver::Version::new(0, b.minor.saturating_add(1), 0)
                            }
                }
                _ => bump(&p, given).is_none_or(|x| *v >= b && (given == 3 && *v == b || given < 3 && *v < x)),
            };
            i += 1;
        }
        // Parse every alternative before answering, so a bad one is an error, not luck.
        any |= ok && (!pre || group_pre);
    }
    Ok(any)
}

/// Why `v` is excluded, for a message: the pre-release rule when the numbers alone pass
/// (`named`: say which version, for a message that showed only its numbers).
pub(crate) fn exclusion(constraint: &str, v: &HelmKubeVersion, named: bool) -> String {
    let numbers = HelmKubeVersion { prerelease: None, ..v.clone() };
    if v.prerelease.is_none() || !matches(constraint, &numbers).unwrap_or(false) {
        return String::new();
    }
    let which = match (v.inherited, named) {
        (true, _) => "like the cluster's current version, it will be ".to_string(),
        (false, true) => format!("{} is ", v.display()),
        (false, false) => String::new(),
    };
    format!(
        " ({which}a pre-release in semver terms: only a constraint with a pre-release bound such as >=1.21.0-0 admits it)"
    )
}

/// The verdict on installed releases: findings, releases that could not be judged, and what
/// was judged; or why it does not apply.
enum Installed {
    Judged { findings: Vec<Finding>, unknown: Vec<String>, why: String },
    NotApplicable(String),
}

/// Judges every installed release's chart (the planned change's release is judged on its
/// planned chart instead) against the cluster's version (a warning: already refused) and
/// the `--target kubernetes` version (a blocker).
fn installed(inv: &Inventory, target: Option<&semver::Version>, change: Option<&ChangeSet>) -> Installed {
    let gk = crate::inventory::helm::group_kind();
    let releases = match inv.state(&gk) {
        KindView::Collected(objs) => objs,
        KindView::Absent => return Installed::NotApplicable("the input holds no Helm releases".to_string()),
        KindView::Failed(r) => {
            return Installed::Judged {
                findings: Vec::new(),
                unknown: vec![format!("cannot read Helm releases: {r}")],
                why: String::new(),
            };
        }
    };
    let current = inv.server_version.as_deref().and_then(HelmKubeVersion::from_git_version);
    let target = target.map(|t| HelmKubeVersion::target(t, current.as_ref()));
    let planned = change.and_then(|c| c.release.as_ref()).map(|r| (r.namespace.as_str(), r.name.as_str()));
    let revisions = crate::inventory::helm::current_revisions(releases, |o, v| {
        let name = v.pointer("/spec/release").and_then(Value::as_str).unwrap_or_default();
        planned.is_none_or(|(ns, n)| o.namespace.as_deref() != Some(ns) || name != n)
            && v.pointer("/spec/status").and_then(Value::as_str) != Some("uninstalled")
    });
    let mut findings = Vec::new();
    let mut unknown = Vec::new();
    let mut constrained = 0usize;
    for ((ns, name), (obj, v)) in &revisions {
        let rel = format!("{}{name}", ns.as_deref().map(|n| format!("{n}/")).unwrap_or_default());
        if v.pointer("/spec/undecodable").is_some() {
            unknown.push(format!("release {rel} could not be decoded (see helm-release-undecodable)"));
            continue;
        }
        let Some(constraint) = v.pointer("/spec/chart/kubeVersion").and_then(Value::as_str).filter(|c| !c.is_empty())
        else {
            continue;
        };
        constrained += 1;
        let chart = format!(
            "{} {}",
            v.pointer("/spec/chart/name").and_then(Value::as_str).unwrap_or("?"),
            v.pointer("/spec/chart/version").and_then(Value::as_str).unwrap_or("")
        );
        let chart = chart.trim_end();
        let judge = |k: &HelmKubeVersion| matches(constraint, k);
        let now = current.as_ref().map(|c| (c, judge(c)));
        let then = target.as_ref().map(|t| (t, judge(t)));
        if let Some(e) = now.iter().chain(then.iter()).find_map(|(_, r)| r.as_ref().err()) {
            unknown.push(format!("release {rel}: kubeVersion '{constraint}' of chart {chart}: {e}"));
            continue;
        }
        let excluded_now = now.as_ref().and_then(|(c, r)| (r == &Ok(false)).then_some(*c));
        let excluded_then = then.as_ref().and_then(|(t, r)| (r == &Ok(false)).then_some(*t));
        let (severity, message) = match (excluded_then, excluded_now) {
            (Some(t), now) => (
                Severity::Blocker,
                format!(
                    "Helm release {rel} (chart {chart}) requires kubeVersion '{constraint}': helm upgrade of it with this chart will be refused on Kubernetes {}{}{}",
                    t.display(),
                    exclusion(constraint, t, false),
                    now.map(|c| format!(", as it already is on the cluster's {}", c.display())).unwrap_or_default()
                ),
            ),
            (None, Some(c)) => (
                Severity::Warning,
                format!(
                    "Helm release {rel} (chart {chart}) requires kubeVersion '{constraint}', which excludes the cluster's Kubernetes {}{}: helm upgrade of it with this chart is refused already",
                    c.display(),
                    exclusion(constraint, c, false)
                ),
            ),
            (None, None) => continue,
        };
        findings.push(Finding {
            check_id: ID.to_string(),
            severity,
            component: None,
            objects: vec![obj.obj_ref()],
            message,
            remediation: "Move the release to a chart version whose kubeVersion includes the Kubernetes version (before upgrading Kubernetes); helm rollback re-applies stored manifests and is not checked, but every helm upgrade with this chart version is refused.".to_string(),
            references: vec!["https://helm.sh/docs/topics/charts/#the-kubeversion-field".to_string()],
        });
    }
    if current.is_none() && target.is_none() && constrained > 0 {
        unknown.push(format!(
            "{constrained} release(s) set a kubeVersion, but the cluster's Kubernetes version is unknown and no --target kubernetes=X was given"
        ));
    }
    let versions: Vec<String> = current.iter().chain(&target).map(HelmKubeVersion::display).collect();
    let scope = super::view_note(inv, std::iter::once(&gk));
    let why = if revisions.is_empty() {
        format!("no installed Helm releases{scope} to evaluate")
    } else if constrained == 0 {
        format!("{} installed release(s){scope}, none with a kubeVersion", revisions.len())
    } else {
        format!(
            "{} installed release(s){scope}, {constrained} with a kubeVersion, checked against {}",
            revisions.len(),
            if versions.is_empty() { "no version".to_string() } else { versions.join(" and ") }
        )
    };
    Installed::Judged { findings, unknown, why }
}

/// Records `chart-kube-version`: the planned chart's verdict (`planned`, from `eval::change`)
/// together with the installed releases'.
pub(super) fn record(inv: &Inventory, plan: &Plan, planned: Option<super::change::Verdict>, out: &mut Evaluation) {
    use super::change::Verdict;
    let target = plan.targets.get("kubernetes").map(|t| &t.version);
    let change = inv.change.as_deref();
    let mut findings = Vec::new();
    let mut unknown = Vec::new();
    let mut passed = Vec::new();
    let mut not_applicable = Vec::new();
    match planned {
        Some(Verdict::Ran(f, why)) => {
            findings.extend(f);
            passed.push(why);
        }
        Some(Verdict::NotApplicable(r)) => not_applicable.push(r),
        Some(Verdict::CouldNotEvaluate(r)) => unknown.push(r),
        None => {}
    }
    match installed(inv, target, change) {
        Installed::Judged { findings: f, unknown: u, why } => {
            findings.extend(f);
            unknown.extend(u);
            if !why.is_empty() {
                passed.push(why);
            }
        }
        Installed::NotApplicable(r) => not_applicable.push(r),
    }
    // Unknown is a blocker only when a blocker was possible: a planned chart or a target.
    let unknown_severity = if target.is_some() || change.is_some_and(|c| c.chart.is_some()) {
        Severity::Blocker
    } else {
        Severity::Warning
    };
    let found = !findings.is_empty();
    if found {
        super::record(out, ID, Severity::Blocker, Outcome::Ran(findings));
    }
    if !unknown.is_empty() {
        super::record(out, ID, unknown_severity, Outcome::CouldNotEvaluate(unknown.join("; ")));
    } else if !found {
        if passed.is_empty() {
            super::record(out, ID, Severity::Blocker, Outcome::NotApplicable(not_applicable.join("; ")));
        } else {
            super::record(out, ID, Severity::Blocker, Outcome::Passed(passed.join("; ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> HelmKubeVersion {
        HelmKubeVersion::from_git_version(s).unwrap()
    }

    #[test]
    fn helm_kube_version_constraints() {
        let m = |c: &str, x: &str| matches(c, &k(x)).unwrap();
        assert!(m(">=1.22.0-0", "1.30.2"));
        assert!(!m(">=1.22.0-0", "1.21.9"));
        assert!(m(">= 1.16.0-0 < 1.31.0-0", "1.30.9"));
        assert!(!m(">=1.16.0-0, <1.31.0-0", "1.31.0"));
        assert!(m("~1.29", "1.29.7"));
        assert!(!m("~1.29", "1.30.0"));
        assert!(m("^1.20", "1.33.1"));
        assert!(m("1.28.x || 1.30.x", "1.30.1"));
        assert!(!m("1.28.x || 1.30.x", "1.29.1"));
        assert!(m("1.25 - 1.28", "1.28.4"));
        assert!(!m("1.25 - 1.28", "1.29.0"));
        assert!(matches(">=banana", &k("1.0.0")).is_err());
        assert!(matches(">=1.20 || >=banana", &k("1.30.0")).is_err(), "every alternative parses");
    }

    #[test]
    fn huge_version_components_do_not_overflow() {
        // Found by the `chart` fuzz harness (fuzz/regressions/chart/kube-version-u64-max).
        let m = |c: &str| matches(c, &k("v1.30.0")).unwrap();
        assert!(!m("1.18446744073709551615"));
        assert!(!m("^0.18446744073709551615"));
        assert!(!m("~0.18446744073709551615"));
        assert!(!m(">1.18446744073709551615.0"));
        assert!(m("<=1.18446744073709551615"));
    }

    #[test]
    fn vendor_prereleases_need_a_prerelease_bound() {
        // The failures Helm users report on EKS and GKE (piraeusdatastore/helm-charts#52,
        // VictoriaMetrics/helm-charts#640): `>= 1.25` excludes v1.29.4-eks-036c24b.
        let m = |c: &str, x: &str| matches(c, &k(x)).unwrap();
        assert!(!m(">= 1.25", "v1.29.4-eks-036c24b"));
        assert!(m(">= 1.25.0-0", "v1.29.4-eks-036c24b"));
        assert!(!m(">= 1.23.0", "v1.27.3-gke.100"));
        // One pre-release comparator admits pre-releases for its whole alternative.
        assert!(m(">=1.21.0-0 <1.32.0", "v1.29.4-eks-036c24b"));
        assert!(m(">=1.30 || >=1.20.0-0", "v1.29.4-eks-036c24b"));
        // Build metadata is not a pre-release.
        assert!(m(">= 1.25", "v1.30.7+rke2r1"));
        assert_eq!(k("v1.30.7+rke2r1").prerelease, None);
        assert_eq!(k("v1.27.3-gke.100").prerelease.as_deref(), Some("gke.100"));
        assert_eq!(k("v1.29.4-eks-036c24b").display(), "v1.29.4-eks-036c24b");
        assert!(
            exclusion(">= 1.25", &k("v1.29.4-eks-036c24b"), true).starts_with(" (v1.29.4-eks-036c24b is a pre-release")
        );
        assert!(exclusion(">= 1.25", &k("v1.29.4-eks-036c24b"), false).starts_with(" (a pre-release"));
        assert!(exclusion(">= 1.30", &k("v1.29.4-eks-036c24b"), true).is_empty());
        // A target on EKS will be a pre-release too; its suffix is not known, so not shown.
        let t = HelmKubeVersion::target(&semver::Version::new(1, 30, 0), Some(&k("v1.29.4-eks-036c24b")));
        assert!(!matches(">= 1.25", &t).unwrap());
        assert_eq!(t.display(), "v1.30.0");
        assert!(exclusion(">= 1.25", &t, true).contains("like the cluster's current version"));
        let rke2 = HelmKubeVersion::target(&semver::Version::new(1, 31, 0), Some(&k("v1.30.7+rke2r1")));
        assert!(matches(">= 1.25", &rke2).unwrap());
    }
}
