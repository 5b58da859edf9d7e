//! Component version detection: walk each matrix's sources in order and report the
//! version found, or why none could be read.

use semver::Version;
use serde::Serialize;
use serde_json::Value;

use super::workloads::{self, ImageRef};
use crate::catalog::{
    ChartVersionField, DetectSource, FieldSource, HelmReleaseSource, ImageSource, Matrix, VersionSuffix,
};
use crate::inventory::{Inventory, KindView, Object, str_at};
use crate::resource::{GroupKind, ObjectRef};
use crate::version::{self, Parsed};

/// What detection concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionState {
    /// A concrete version.
    Known(Version),
    /// The component is there, but its version cannot be read.
    Unknown(String),
    /// No source found the component.
    NotDetected,
}

/// A component's detected version, with evidence.
#[derive(Debug, Clone)]
pub struct Detected {
    /// Component id.
    pub component: String,
    /// Display name.
    pub name: String,
    /// Outcome.
    pub state: VersionState,
    /// The raw string the version came from.
    pub raw: Option<String>,
    /// Which source, in words (e.g. "image of Deployment cattle-system/rancher").
    pub source: Option<String>,
    /// The object the version came from.
    pub object: Option<ObjectRef>,
}

/// Report status of a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectStatus {
    /// Version known.
    Detected,
    /// Present, version unknown.
    Unknown,
    /// Not found.
    NotDetected,
}

impl Detected {
    /// Status for reports.
    #[must_use]
    pub fn status(&self) -> DetectStatus {
        match self.state {
            VersionState::Known(_) => DetectStatus::Detected,
            VersionState::Unknown(_) => DetectStatus::Unknown,
            VersionState::NotDetected => DetectStatus::NotDetected,
        }
    }

    /// The version, if known.
    #[must_use]
    pub fn version(&self) -> Option<&Version> {
        match &self.state {
            VersionState::Known(v) => Some(v),
            _ => None,
        }
    }
}

struct Candidate {
    raw: String,
    parsed: Parsed,
    source: String,
    object: ObjectRef,
}

/// Detects one component.
#[must_use]
pub fn detect(m: &Matrix, inv: &Inventory) -> Detected {
    let mut first_unknown: Option<Candidate> = None;
    let mut failures: Vec<String> = Vec::new();
    for src in &m.detect {
        let candidates = match src {
            DetectSource::Image(i) => image_candidates(i, inv, &mut failures),
            DetectSource::Field(f) => field_candidate(f, inv, &mut failures).into_iter().collect(),
            DetectSource::ApiServer(x) => api_server(inv).filter(|c| x.admits(&c.raw)).into_iter().collect(),
            DetectSource::Kubelet(x) => kubelet(inv, x, &mut failures).into_iter().collect(),
            DetectSource::HelmRelease(h) => helm_candidates(h, inv, &mut failures),
        };
        // Lowest concrete version wins: a known-bad range most often has an upper bound.
        let best = candidates
            .iter()
            .filter_map(|c| match &c.parsed {
                Parsed::Version(v) => Some((v, c)),
                _ => None,
            })
            .min_by(|a, b| version::cmp_precedence(a.0, b.0));
        if let Some((v, c)) = best {
            return Detected {
                component: m.id.clone(),
                name: m.name.clone(),
                state: VersionState::Known(v.clone()),
                raw: Some(c.raw.clone()),
                source: Some(c.source.clone()),
                object: Some(c.object.clone()),
            };
        }
        if first_unknown.is_none() {
            first_unknown = candidates.into_iter().next();
        }
    }
    match first_unknown {
        Some(c) => {
            let why = match &c.parsed {
                Parsed::Floating(w) | Parsed::Unknown(w) => w.clone(),
                Parsed::Version(_) => String::new(),
            };
            Detected {
                component: m.id.clone(),
                name: m.name.clone(),
                state: VersionState::Unknown(format!("{why} ({})", c.source)),
                raw: Some(c.raw),
                source: Some(c.source),
                object: Some(c.object),
            }
        }
        None => Detected {
            component: m.id.clone(),
            name: m.name.clone(),
            state: if !failures.is_empty() {
                VersionState::Unknown(failures.join("; "))
            } else if m.detect.iter().any(|s| limited_by_view(s, inv)) {
                // Not found where it was looked for, but it may run where nothing was read.
                VersionState::Unknown(format!(
                    "not found in the namespaces read ({}); it may run in another namespace",
                    inv.view_label()
                ))
            } else {
                VersionState::NotDetected
            },
            raw: None,
            source: None,
            object: None,
        },
    }
}

/// True when a source looks at namespaced objects some of which a partial view (`-n`) did
/// not read: then not finding the component proves nothing.
fn limited_by_view(src: &DetectSource, inv: &Inventory) -> bool {
    let namespaced = |ns: Option<&str>| match ns {
        Some(ns) => inv.outside_view(Some(ns)).is_some(),
        None => inv.is_partial(),
    };
    match src {
        DetectSource::Image(i) => namespaced(i.namespace.as_deref()),
        DetectSource::HelmRelease(h) => namespaced(h.namespace.as_deref()),
        // A field source without a namespace names a cluster-scoped object.
        DetectSource::Field(f) => f.namespace.as_deref().is_some_and(|ns| inv.outside_view(Some(ns)).is_some()),
        DetectSource::ApiServer(_) | DetectSource::Kubelet(_) => false,
    }
}

/// A test of whether an object may match the image source, decided without parsing it:
/// false when its kind, namespace or name differ, or its text lacks the longest literal part
/// of the repository pattern, and for every object when no image in the inventory holds that
/// part (a snapshot may hold 100,000 Pods, and each image source looks at every one).
pub fn prefilter<'a>(src: &'a ImageSource, inv: &Inventory) -> impl Fn(&Object) -> bool + 'a {
    // The pattern is matched against the repository as parsed: an image written `nginx` is
    // `library/nginx`. Any part of the pattern between `*` and `/` is written in the image,
    // except one the added `library/` may supply.
    let literal = src
        .repository
        .as_deref()
        .and_then(|p| p.split(['*', '/']).filter(|part| !"library".contains(part)).max_by_key(|part| part.len()));
    let anywhere = literal.is_none_or(|l| inv.any_image(|i| i.contains(l)).unwrap_or(true));
    move |obj: &Object| {
        anywhere
            && src.kind.as_deref().is_none_or(|k| k == obj.kind)
            && src.namespace.as_deref().is_none_or(|n| Some(n) == obj.namespace.as_deref())
            && src.name.as_deref().is_none_or(|n| n == obj.name)
            && literal.is_none_or(|l| obj.raw().contains(l))
    }
}

/// True when a container of `obj` matches the image source; returns the image.
pub fn matching_images<'a>(src: &ImageSource, obj: &Object, spec: &'a Value) -> Vec<(&'a Value, ImageRef)> {
    if src.kind.as_deref().is_some_and(|k| k != obj.kind)
        || src.namespace.as_deref().is_some_and(|n| Some(n) != obj.namespace.as_deref())
        || src.name.as_deref().is_some_and(|n| n != obj.name)
    {
        return Vec::new();
    }
    workloads::containers(spec)
        .filter(|c| src.container.as_deref().is_none_or(|n| c.get("name").and_then(Value::as_str) == Some(n)))
        .filter_map(|c| {
            let image = ImageRef::parse(c.get("image").and_then(Value::as_str)?);
            let ok = src.repository.as_deref().is_none_or(|p| workloads::glob_match(p, &image.repository))
                && !src.exclude_repositories.iter().any(|p| workloads::glob_match(p, &image.repository));
            ok.then_some((c, image))
        })
        .collect()
}

fn image_candidates(src: &ImageSource, inv: &Inventory, failures: &mut Vec<String>) -> Vec<Candidate> {
    // Pods are a fallback for captures without their controllers: a run that may read the
    // controllers but not Pods still detects what they run.
    for (g, k) in workloads::DETECT_KINDS.iter().filter(|(_, k)| *k != "Pod") {
        if let KindView::Failed(r) = inv.state(&GroupKind::new(g, k)) {
            failures.push(format!("cannot read {k}s: {r}"));
        }
    }
    let mut out = Vec::new();
    for (obj, spec) in workloads::top_level_where(inv, workloads::DETECT_KINDS, prefilter(src, inv)) {
        let spec = &spec;
        for (_, image) in matching_images(src, obj, spec) {
            let raw = image.version_str().to_string();
            out.push(Candidate {
                parsed: image_version(src, &image),
                raw,
                source: format!("image {}{} of {}", image.repository, tag_suffix(&image), obj.obj_ref()),
                object: obj.obj_ref(),
            });
        }
    }
    out
}

/// The version an image of this source carries; see [`ImageSource::tag_is_version`].
#[must_use]
pub fn image_version(src: &ImageSource, image: &ImageRef) -> Parsed {
    match version::parse(image.version_str()) {
        Parsed::Version(_) if !src.tag_is_version => Parsed::Unknown(format!(
            "tag '{}' of {} is not the component's version",
            image.version_str(),
            image.repository
        )),
        other => other,
    }
}

fn tag_suffix(i: &ImageRef) -> String {
    match (&i.tag, &i.digest) {
        (Some(t), _) => format!(":{t}"),
        (None, Some(d)) => format!("@{d}"),
        (None, None) => String::new(),
    }
}

fn field_candidate(f: &FieldSource, inv: &Inventory, failures: &mut Vec<String>) -> Option<Candidate> {
    let gk = GroupKind::from_api_version(&f.api_version, &f.kind);
    if let KindView::Failed(r) = inv.state(&gk) {
        failures.push(format!("cannot read {gk}: {r}"));
        return None;
    }
    let obj = inv.get(&gk, f.namespace.as_deref(), &f.name)?;
    let path: Vec<&str> = f.path.split('.').collect();
    let raw = str_at(&obj.value(), &path)?.to_string();
    Some(Candidate {
        parsed: version::parse(&raw),
        raw,
        source: format!("{} of {}", f.path, obj.obj_ref()),
        object: obj.obj_ref(),
    })
}

/// Releases a Helm source matches: per release, its last deployed revision, else its newest.
#[must_use]
pub fn matching_releases<'a>(src: &HelmReleaseSource, inv: &'a Inventory) -> Vec<(&'a Object, Value)> {
    let objects = inv.objects(&crate::inventory::helm::group_kind());
    crate::inventory::helm::current_revisions(objects, |obj, v| {
        let release = str_at(v, &["spec", "release"]).unwrap_or_default();
        let chart = str_at(v, &["spec", "chart", "name"]).unwrap_or_default();
        src.release.as_deref().is_none_or(|r| r == release)
            && src.namespace.as_deref().is_none_or(|n| Some(n) == obj.namespace.as_deref())
            && src.chart.as_deref().is_none_or(|c| workloads::glob_match(c, chart))
            && v.pointer("/spec/undecodable").is_none()
    })
    .into_values()
    .collect()
}

fn helm_candidates(src: &HelmReleaseSource, inv: &Inventory, failures: &mut Vec<String>) -> Vec<Candidate> {
    if let KindView::Failed(r) = inv.state(&crate::inventory::helm::group_kind()) {
        failures.push(format!("cannot read Helm releases: {r}"));
        return Vec::new();
    }
    let field = match src.version_from {
        ChartVersionField::AppVersion => "appVersion",
        ChartVersionField::ChartVersion => "version",
    };
    matching_releases(src, inv)
        .into_iter()
        .filter_map(|(obj, v)| {
            let raw = str_at(&v, &["spec", "chart", field])?.to_string();
            let chart = str_at(&v, &["spec", "chart", "name"]).unwrap_or_default();
            let rev = v.pointer("/spec/revision").and_then(Value::as_u64).unwrap_or(0);
            Some(Candidate {
                parsed: version::parse(&raw),
                source: format!(
                    "chart {chart} {field} of Helm release {}/{} revision {rev}",
                    obj.namespace.as_deref().unwrap_or_default(),
                    str_at(&v, &["spec", "release"]).unwrap_or_default()
                ),
                raw,
                object: obj.obj_ref(),
            })
        })
        .collect()
}

fn api_server(inv: &Inventory) -> Option<Candidate> {
    let raw = inv.server_version.clone()?;
    Some(Candidate {
        parsed: version::parse(&raw),
        raw,
        source: "API server /version".to_string(),
        object: ObjectRef::named("APIServer", None, "/version", "v1"),
    })
}

fn kubelet(inv: &Inventory, x: &VersionSuffix, failures: &mut Vec<String>) -> Option<Candidate> {
    let gk = GroupKind::new("", "Node");
    if let KindView::Failed(r) = inv.state(&gk) {
        failures.push(format!("cannot read Nodes: {r}"));
        return None;
    }
    inv.objects(&gk)
        .iter()
        .filter_map(|n| {
            let raw = n.value().pointer("/status/nodeInfo/kubeletVersion")?.as_str()?.to_string();
            if !x.admits(&raw) {
                return None;
            }
            let v = version::parse_version(&raw)?;
            Some((v, raw, n))
        })
        .min_by(|a, b| version::cmp_precedence(&a.0, &b.0))
        .map(|(v, raw, n)| Candidate {
            parsed: Parsed::Version(v),
            raw,
            source: format!("oldest kubelet, {}", n.obj_ref()),
            object: n.obj_ref(),
        })
}

#[cfg(test)]
mod prefilter_tests {
    use super::*;
    use crate::inventory::Origin;

    fn inventory(objects: &[Value], finished: bool) -> Inventory {
        let mut inv = Inventory::new(Origin::Snapshot("t".into()), true);
        for o in objects {
            inv.ingest(o.clone()).unwrap();
        }
        if finished {
            inv.finish();
        }
        inv
    }

    fn pod(name: &str, image: &str) -> Value {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "n"},
            "spec": {"containers": [{"name": "c", "image": image}]}})
    }

    /// The pre-filter never drops an object a source matches: every pattern of the catalog's
    /// shapes against images written with and without registry, `library/` and tag, in a
    /// finished inventory (the images index) and in one that is not (each object asked).
    #[test]
    fn the_prefilter_keeps_whatever_matching_images_matches() {
        let patterns =
            ["*/traefik", "library/nginx", "*/haraka", "rancher/rancher", "*ingress-nginx/controller", "li*ry/nginx"];
        let images = [
            "traefik:v3",
            "docker.io/library/traefik:v3.1",
            "nginx",
            "docker.io/oneuptime/haraka:release",
            "rancher/rancher:v2.8.5",
            "registry.k8s.io/ingress-nginx/controller:v1.12.1@sha256:ab",
            "quay.io/x/other:1",
        ];
        for p in patterns {
            let src: ImageSource = serde_json::from_value(serde_json::json!({"repository": p})).unwrap();
            for image in images {
                let obj = Object::from_value(pod("p", image)).unwrap();
                let spec = workloads::pod_spec(&obj).unwrap();
                if !matching_images(&src, &obj, &spec).is_empty() {
                    for finished in [true, false] {
                        let inv = inventory(&[pod("p", image), pod("q", "quay.io/x/other:1")], finished);
                        assert!(prefilter(&src, &inv)(&obj), "{p} matches {image} but the pre-filter drops it");
                    }
                }
            }
        }
        // One that drops: by the object's text, and for every object by the index.
        let src: ImageSource = serde_json::from_value(serde_json::json!({"repository": "*/haraka"})).unwrap();
        let haraka = pod("h", "docker.io/oneuptime/haraka:release");
        let nginx = Object::from_value(pod("p", "nginx:1.27")).unwrap();
        let inv = inventory(&[haraka.clone(), pod("p", "nginx:1.27")], true);
        assert!(!prefilter(&src, &inv)(&nginx), "a pre-filter that drops nothing");
        assert!(prefilter(&src, &inv)(&Object::from_value(haraka).unwrap()));
        let no_haraka = inventory(&[pod("p", "nginx:1.27"), pod("x", "docker.io/oneuptime/haraka-like:1")], true);
        assert_eq!(no_haraka.any_image(|i| i.contains("haraka")), Some(true));
        assert_eq!(no_haraka.any_image(|i| i.contains("traefik")), Some(false));
        assert_eq!(inventory(&[pod("p", "nginx:1.27")], false).any_image(|_| true), None);
        // An image whose text holds an escape is not indexed: each object is asked.
        assert_eq!(inventory(&[pod("p", "a\\b:1")], true).any_image(|_| false), None);
    }
}
