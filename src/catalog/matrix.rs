//! `matrices/<component>.yaml`: how to detect a component's version and what is known about
//! its versions — known-bad ranges, pinning, supported peers and upgrade paths.

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
    references: Vec<String>,
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
    ApiServer {},
    /// The oldest kubelet among the Nodes (`status.nodeInfo.kubeletVersion`).
    Kubelet {},
    /// A Helm release's chart: its last deployed revision (else its newest).
    HelmRelease(HelmReleaseSource),
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
    /// Links.
    pub references: Vec<String>,
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
    let before = sink.diags.len();
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
    if sink.diags.len() > before {
        return None;
    }
    Some(Matrix {
        id: f.id.value,
        name: f.name,
        description: f.description,
        detect: f.detect.into_iter().map(|d| d.value).collect(),
        known_bad,
        pinning,
        supported_peers,
        upgrade_paths,
        references: f.references,
        origin: sink.file.to_string(),
    })
}
