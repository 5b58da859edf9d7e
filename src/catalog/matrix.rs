//! `matrices/<component>.yaml`: how to detect a component's version and what is known about
//! its versions — known-bad ranges, pinning, supported peers and upgrade paths.
//!
//! One job: the matrix file schema and its validation (over 600 lines because every
//! section's rules, with their diagnostics, sit beside its types).

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::check_def::is_kebab;
use super::{Severity, Sink, parse_yaml};
use crate::version::Range;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MatrixFile {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    detect: Vec<Spanned<DetectSource>>,
    #[serde(default)]
    known_bad: Vec<KnownBadFile>,
    #[serde(default)]
    pinning: Option<PinningFile>,
    #[serde(default)]
    supported_peers: Vec<PeerFile>,
    #[serde(default)]
    upgrade_paths: Vec<PathFile>,
    #[serde(default)]
    upgrade: Option<UpgradeFile>,
    #[serde(default)]
    values: Vec<Spanned<ValuesFile>>,
    #[serde(default)]
    api_removals: Vec<Spanned<RemovalFile>>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    last_verified: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct UpgradeFile {
    #[serde(default)]
    allow_downgrade: bool,
    #[serde(default)]
    prerelease_same_version_only: bool,
    #[serde(default)]
    refuse_from_dev_builds: bool,
    #[serde(default)]
    max_minor_step: Option<u64>,
    #[serde(default)]
    kubelet_max_skew: Option<u64>,
    #[serde(default)]
    gates: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ValuesFile {
    charts: Vec<String>,
    #[serde(default)]
    version_path: Option<String>,
    #[serde(default)]
    required: Vec<RequiredFile>,
    #[serde(default)]
    image_tags: Vec<String>,
    #[serde(default)]
    renamed_keys: Vec<RenamedFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RequiredFile {
    path: Spanned<String>,
    #[serde(default)]
    when: Option<Spanned<String>>,
    #[serde(default = "blocker")]
    severity: Severity,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RenamedFile {
    path: Spanned<String>,
    #[serde(default)]
    when: Option<Spanned<String>>,
    message: String,
}

fn blocker() -> Severity {
    Severity::Blocker
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RemovalFile {
    api_version: String,
    kinds: Vec<String>,
    #[serde(default)]
    deprecated_in: Option<Spanned<String>>,
    removed_in: Spanned<String>,
    #[serde(default)]
    replacement: Option<String>,
    #[serde(default)]
    replacements: Vec<ReplacementFile>,
    #[serde(default)]
    manifests_only: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ReplacementFile {
    api_version: String,
    served_from: Spanned<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// Where a component's running version comes from. Sources are tried in order; the first
/// that yields a concrete version wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub enum DetectSource {
    /// The tag of a container image in a workload (Deployment, StatefulSet, DaemonSet).
    Image(ImageSource),
    /// A string field of a named object, e.g. `settings.harvesterhci.io/server-version`.
    Field(FieldSource),
    /// The API server's `/version` (`gitVersion`).
    ApiServer(VersionSuffix),
    /// The oldest kubelet among the Nodes (`status.nodeInfo.kubeletVersion`).
    Kubelet(VersionSuffix),
    /// A Helm release's chart: its last deployed revision (else its newest).
    HelmRelease(HelmReleaseSource),
}

/// Options of the `api-server` and `kubelet` sources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersionSuffix {
    /// Only a version whose build metadata starts with this (`rke2` for `v1.30.7+rke2r1`,
    /// `k3s` for `v1.30.7+k3s1`): the distribution that built Kubernetes. The component's
    /// version is then the Kubernetes version; without a match it is not detected.
    #[serde(default)]
    pub suffix: Option<String>,
}

impl VersionSuffix {
    /// True when `raw` (a `gitVersion` or `kubeletVersion`) is one this source reads.
    #[must_use]
    pub fn admits(&self, raw: &str) -> bool {
        self.suffix.as_deref().is_none_or(|s| raw.split_once('+').is_some_and(|(_, build)| build.starts_with(s)))
    }
}

/// A Helm release source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HelmReleaseSource {
    /// Chart name (glob, `*` matches anything).
    #[serde(default)]
    pub chart: Option<String>,
    /// Release name.
    #[serde(default)]
    pub release: Option<String>,
    /// Release namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Where the version is: the chart's `version` or its `appVersion` (default).
    #[serde(default)]
    pub version_from: ChartVersionField,
}

/// Which chart field carries the component version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartVersionField {
    /// `chart.metadata.appVersion`.
    #[default]
    AppVersion,
    /// `chart.metadata.version`.
    ChartVersion,
}

/// An image-tag source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageSource {
    /// Workload kind (`Deployment`, `StatefulSet`, `DaemonSet`); any when absent.
    #[serde(default)]
    pub kind: Option<String>,
    /// Workload namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Workload name.
    #[serde(default)]
    pub name: Option<String>,
    /// Container name.
    #[serde(default)]
    pub container: Option<String>,
    /// Glob (`*` matches anything) over the image repository without registry host,
    /// e.g. `rancher/rancher`, `*/haraka`.
    #[serde(default)]
    pub repository: Option<String>,
    /// Globs of repositories this source must not match (another source owns them).
    #[serde(default)]
    pub exclude_repositories: Vec<String>,
    /// False when the tag is not the component's version (e.g. `oneuptime/haraka:7.0.123`
    /// carries OneUptime's build number, not Haraka's): the version is then unknown, though
    /// a floating tag is still recognised as one.
    #[serde(default = "yes")]
    pub tag_is_version: bool,
}

/// A field source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FieldSource {
    /// `apiVersion` of the object.
    pub api_version: String,
    /// Kind of the object.
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// Dot path to a string field, e.g. `value` or `spec.version`.
    pub path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KnownBadFile {
    id: Spanned<String>,
    range: Spanned<String>,
    severity: Severity,
    message: String,
    remediation: String,
    #[serde(default)]
    requires_check: Option<Spanned<String>>,
    #[serde(default)]
    references: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PinningFile {
    #[serde(default = "yes")]
    floating_tags_are_drift: bool,
    #[serde(default)]
    range: Option<Spanned<String>>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    remediation: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PeerFile {
    component: Spanned<String>,
    #[serde(default)]
    when: Option<Spanned<String>>,
    range: Spanned<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PathFile {
    to: Spanned<String>,
    from: Spanned<String>,
    #[serde(default)]
    note: Option<String>,
}

/// A known-bad version range and the finding it produces.
#[derive(Debug, Clone)]
pub struct KnownBad {
    /// Finding id (shares the namespace of check ids).
    pub id: String,
    /// Versions affected.
    pub range: Range,
    /// Severity of the finding.
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// How to fix it.
    pub remediation: String,
    /// Only a finding when this check also finds objects (which become the evidence).
    pub requires_check: Option<(String, Location)>,
    /// Links.
    pub references: Vec<String>,
    pub(super) location: Location,
}

/// Pinning policy.
#[derive(Debug, Clone)]
pub struct Pinning {
    /// A floating tag (`latest`, `release`, none, major-only) is drift.
    pub floating_tags_are_drift: bool,
    /// The version the component must run.
    pub range: Option<Range>,
    /// Severity of an out-of-pin version (default warning).
    pub severity: Severity,
    /// Remediation text.
    pub remediation: Option<String>,
}

/// A peer component's supported range, optionally only for some of our versions.
/// Parsed and validated now; evaluated by upgrade planning.
#[derive(Debug, Clone)]
pub struct SupportedPeer {
    /// Peer component id.
    pub component: String,
    /// Our versions this applies to.
    pub when: Option<Range>,
    /// Peer versions supported.
    pub range: Range,
    /// Free text.
    pub note: Option<String>,
    pub(super) location: Location,
}

/// An allowed upgrade step: targets in `to` may be reached from versions in `from`.
/// Parsed and validated now; evaluated by upgrade planning.
#[derive(Debug, Clone)]
pub struct UpgradePath {
    /// Target versions.
    pub to: Range,
    /// Allowed current versions.
    pub from: Range,
    /// Free text.
    pub note: Option<String>,
}

/// How the product lets itself be upgraded, beyond `upgrade-paths`.
#[derive(Debug, Clone, Default)]
pub struct UpgradePolicy {
    /// A target older than the current version is allowed.
    pub allow_downgrade: bool,
    /// A pre-release may only be upgraded to (or from) its own release line, e.g.
    /// `1.4.2-rc1 → 1.4.2` but not `1.4.1-rc1 → 1.4.2` or `1.4.1 → 1.4.2-rc1`... (Harvester).
    pub prerelease_same_version_only: bool,
    /// A current version that is not a release (a dev build) cannot be upgraded from.
    pub refuse_from_dev_builds: bool,
    /// Largest minor step at once (Kubernetes: 1).
    pub max_minor_step: Option<u64>,
    /// Kubelets may be at most this many minors older than the target API server, never newer.
    pub kubelet_max_skew: Option<u64>,
    /// Checks the product's own upgrade gate runs: with a target for this component they are
    /// evaluated as blockers and listed in the plan.
    pub gates: Vec<String>,
    pub(super) gate_locations: Vec<Location>,
}

/// Values rules for releases of some charts.
#[derive(Debug, Clone)]
pub struct ValuesRules {
    /// Chart name globs.
    pub charts: Vec<String>,
    /// Dot path of the values key carrying the component version (e.g. `image.tag`).
    pub version_path: Option<String>,
    /// Keys that must be set.
    pub required: Vec<RequiredKey>,
    /// Keys holding image tags that must be pinned.
    pub image_tags: Vec<String>,
    /// Maps whose keys are names: a key that disappears is a rename or removal.
    pub renamed_keys: Vec<RenamedKey>,
}

/// A values key that must be set, for some component versions.
#[derive(Debug, Clone)]
pub struct RequiredKey {
    /// Dot path.
    pub path: String,
    /// Component versions that need it (all when absent).
    pub when: Option<Range>,
    /// Severity when missing.
    pub severity: Severity,
    /// Why.
    pub message: String,
}

/// A map of named entries whose removal or rename matters.
#[derive(Debug, Clone)]
pub struct RenamedKey {
    /// Dot path of the map.
    pub path: String,
    /// Component versions on which a removal is a blocker (a warning otherwise).
    pub when: Option<Range>,
    /// Why.
    pub message: String,
}

/// A Kubernetes API version removed (and possibly deprecated before).
#[derive(Debug, Clone)]
pub struct ApiRemoval {
    /// `group/version` removed.
    pub api_version: String,
    /// Kinds served there.
    pub kinds: Vec<String>,
    /// Kubernetes version that deprecated it.
    pub deprecated_in: Option<semver::Version>,
    /// Kubernetes version that stopped serving it.
    pub removed_in: semver::Version,
    /// What to use instead, oldest first; empty when there is no replacement. A bare
    /// `replacement: group/version` in the file is one entry served since before any target.
    pub replacements: Vec<Replacement>,
    /// Never listed from a cluster: the kinds are create-only (TokenReview) or too many and
    /// short-lived to list (Event). Manifests, dumps and Helm releases are still checked.
    pub manifests_only: bool,
}

/// One API version that can stand in for a removed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// `group/version`.
    pub api_version: String,
    /// First version of the component that serves it (0.0.0 when not stated).
    pub served_from: semver::Version,
    /// The kind to use there, when it differs from the removed one (Istio `Policy` →
    /// `PeerAuthentication`).
    pub kind: Option<String>,
}

/// A validated matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// Component id, equal to the file stem.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Longer text.
    pub description: Option<String>,
    /// Detection sources, in order.
    pub detect: Vec<DetectSource>,
    /// Known-bad ranges.
    pub known_bad: Vec<KnownBad>,
    /// Pinning policy.
    pub pinning: Option<Pinning>,
    /// Supported peers.
    pub supported_peers: Vec<SupportedPeer>,
    /// Upgrade paths.
    pub upgrade_paths: Vec<UpgradePath>,
    /// Upgrade policy.
    pub upgrade: UpgradePolicy,
    /// Values rules.
    pub values: Vec<ValuesRules>,
    /// Kubernetes API removals (the `kubernetes` component).
    pub api_removals: Vec<ApiRemoval>,
    /// Links.
    pub references: Vec<String>,
    /// The primary source the data was checked against (a URL).
    pub source: Option<String>,
    /// When the data was last checked against its source: days since 1970-01-01 and the
    /// date as written (`YYYY-MM-DD`).
    pub last_verified: Option<(i64, String)>,
    /// File it came from.
    pub origin: String,
}

impl Matrix {
    /// Finding id of the pinning rule.
    #[must_use]
    pub fn pin_id(&self) -> String {
        format!("{}-pinned-version", self.id)
    }
}

fn range(s: &Spanned<String>, field: &str, sink: &mut Sink<'_>) -> Option<Range> {
    match Range::parse(&s.value) {
        Ok(r) => Some(r),
        Err(e) => {
            sink.spanned(s, format!("{field}: {e}"));
            None
        }
    }
}

pub(super) fn parse(text: &str, stem: &str, sink: &mut Sink<'_>) -> Option<Matrix> {
    let f: MatrixFile = parse_yaml(text, sink)?;
    if f.id.value != stem {
        sink.spanned(&f.id, format!("id '{}' must equal the file name '{stem}'", f.id.value));
    }
    if !is_kebab(&f.id.value) {
        sink.spanned(&f.id, format!("id '{}' must be kebab-case (a-z, 0-9, '-')", f.id.value));
    }
    if f.detect.is_empty() {
        sink.spanned(&f.id, "detect: at least one source is required");
    }
    for d in &f.detect {
        match &d.value {
            DetectSource::Image(i) if i.name.is_none() && i.repository.is_none() => {
                sink.spanned(d, "detect.image: set name or repository (or both)");
            }
            DetectSource::Image(i)
                if i.kind.as_deref().is_some_and(|k| !["Deployment", "StatefulSet", "DaemonSet"].contains(&k)) =>
            {
                sink.spanned(d, "detect.image.kind: must be Deployment, StatefulSet or DaemonSet");
            }
            DetectSource::HelmRelease(h) if h.chart.is_none() && h.release.is_none() => {
                sink.spanned(d, "detect.helm-release: set chart or release (or both)");
            }
            DetectSource::ApiServer(VersionSuffix { suffix: Some(x) })
            | DetectSource::Kubelet(VersionSuffix { suffix: Some(x) })
                if x.is_empty() || !x.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                sink.spanned(d, format!("detect: suffix '{x}' must be letters and digits (e.g. rke2, k3s)"));
            }
            DetectSource::Field(fs) if fs.path.is_empty() || fs.path.split('.').any(str::is_empty) => {
                sink.spanned(d, format!("detect.field.path: '{}' is not a dot path", fs.path));
            }
            _ => {}
        }
    }
    let mut known_bad = Vec::new();
    for k in &f.known_bad {
        if !is_kebab(&k.id.value) {
            sink.spanned(&k.id, format!("known-bad.id '{}' must be kebab-case", k.id.value));
        }
        if let Some(r) = range(&k.range, "known-bad.range", sink) {
            known_bad.push(KnownBad {
                id: k.id.value.clone(),
                range: r,
                severity: k.severity,
                message: k.message.clone(),
                remediation: k.remediation.clone(),
                requires_check: k.requires_check.as_ref().map(|c| (c.value.clone(), c.referenced)),
                references: k.references.clone(),
                location: k.id.referenced,
            });
        }
    }
    let pinning = f.pinning.as_ref().map(|p| Pinning {
        floating_tags_are_drift: p.floating_tags_are_drift,
        range: p.range.as_ref().and_then(|r| range(r, "pinning.range", sink)),
        severity: p.severity.unwrap_or(Severity::Warning),
        remediation: p.remediation.clone(),
    });
    let mut supported_peers = Vec::new();
    for p in &f.supported_peers {
        let when = p.when.as_ref().and_then(|w| range(w, "supported-peers.when", sink));
        if let Some(r) = range(&p.range, "supported-peers.range", sink) {
            supported_peers.push(SupportedPeer {
                component: p.component.value.clone(),
                when,
                range: r,
                note: p.note.clone(),
                location: p.component.referenced,
            });
        }
    }
    let mut upgrade_paths = Vec::new();
    for p in &f.upgrade_paths {
        if let (Some(to), Some(from)) =
            (range(&p.to, "upgrade-paths.to", sink), range(&p.from, "upgrade-paths.from", sink))
        {
            upgrade_paths.push(UpgradePath { to, from, note: p.note.clone() });
        }
    }
    let upgrade = f
        .upgrade
        .as_ref()
        .map(|u| UpgradePolicy {
            allow_downgrade: u.allow_downgrade,
            prerelease_same_version_only: u.prerelease_same_version_only,
            refuse_from_dev_builds: u.refuse_from_dev_builds,
            max_minor_step: u.max_minor_step,
            kubelet_max_skew: u.kubelet_max_skew,
            gates: u.gates.iter().map(|g| g.value.clone()).collect(),
            gate_locations: u.gates.iter().map(|g| g.referenced).collect(),
        })
        .unwrap_or_default();
    let mut values = Vec::new();
    for v in &f.values {
        let when = |w: &Option<Spanned<String>>, field: &str, sink: &mut Sink<'_>| match w {
            Some(w) => range(w, field, sink).map(Some),
            None => Some(None),
        };
        let dot = |p: &Spanned<String>, field: &str, sink: &mut Sink<'_>| {
            if p.value.is_empty() || p.value.split('.').any(str::is_empty) {
                sink.spanned(p, format!("{field}: '{}' is not a dot path", p.value));
            }
        };
        if v.value.charts.is_empty() {
            sink.spanned(v, "values.charts: name at least one chart");
        }
        let mut required = Vec::new();
        for r in &v.value.required {
            dot(&r.path, "values.required.path", sink);
            if let Some(w) = when(&r.when, "values.required.when", sink) {
                required.push(RequiredKey {
                    path: r.path.value.clone(),
                    when: w,
                    severity: r.severity,
                    message: r.message.clone(),
                });
            }
        }
        let mut renamed_keys = Vec::new();
        for r in &v.value.renamed_keys {
            dot(&r.path, "values.renamed-keys.path", sink);
            if let Some(w) = when(&r.when, "values.renamed-keys.when", sink) {
                renamed_keys.push(RenamedKey { path: r.path.value.clone(), when: w, message: r.message.clone() });
            }
        }
        values.push(ValuesRules {
            charts: v.value.charts.clone(),
            version_path: v.value.version_path.clone(),
            required,
            image_tags: v.value.image_tags.clone(),
            renamed_keys,
        });
    }
    let mut api_removals = Vec::new();
    for r in &f.api_removals {
        let k8s = |s: &Spanned<String>, field: &str, sink: &mut Sink<'_>| match crate::version::parse_version(&s.value)
        {
            Some(v) => Some(v),
            None => {
                sink.spanned(s, format!("{field}: '{}' is not a Kubernetes version", s.value));
                None
            }
        };
        let removed = k8s(&r.value.removed_in, "api-removals.removed-in", sink);
        let deprecated = r.value.deprecated_in.as_ref().map(|d| k8s(d, "api-removals.deprecated-in", sink));
        if r.value.kinds.is_empty() || !r.value.api_version.contains('/') {
            sink.spanned(r, "api-removals: needs api-version group/version and at least one kind");
        }
        if r.value.replacement.is_some() && !r.value.replacements.is_empty() {
            sink.spanned(r, "api-removals: give either replacement or replacements, not both");
        }
        let mut replacements: Vec<Replacement> = r
            .value
            .replacement
            .iter()
            .map(|a| Replacement { api_version: a.clone(), served_from: semver::Version::new(0, 0, 0), kind: None })
            .collect();
        for rep in &r.value.replacements {
            if let Some(served_from) = k8s(&rep.served_from, "api-removals.replacements.served-from", sink) {
                replacements.push(Replacement {
                    api_version: rep.api_version.clone(),
                    served_from,
                    kind: rep.kind.clone(),
                });
            }
        }
        if let (Some(removed_in), Some(deprecated_in)) =
            (removed, deprecated.unwrap_or(Some(semver::Version::new(0, 0, 0))))
        {
            api_removals.push(ApiRemoval {
                api_version: r.value.api_version.clone(),
                kinds: r.value.kinds.clone(),
                deprecated_in: r.value.deprecated_in.as_ref().map(|_| deprecated_in),
                removed_in,
                replacements,
                manifests_only: r.value.manifests_only,
            });
        }
    }
    let last_verified = f.last_verified.as_ref().and_then(|d| match crate::civil::parse_date(&d.value) {
        Some(days) => Some((days, d.value.clone())),
        None => {
            sink.spanned(d, format!("last-verified: '{}' is not a date (YYYY-MM-DD)", d.value));
            None
        }
    });
    // Built even when this file had errors (the load fails all the same), so that the
    // references between files are checked too and every problem shows in one run.
    Some(Matrix {
        id: f.id.value,
        name: f.name,
        description: f.description,
        detect: f.detect.into_iter().map(|d| d.value).collect(),
        known_bad,
        pinning,
        supported_peers,
        upgrade_paths,
        upgrade,
        values,
        api_removals,
        references: f.references,
        source: f.source,
        last_verified,
        origin: sink.file.to_string(),
    })
}
