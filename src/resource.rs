//! Names for Kubernetes kinds and objects, and the label-selector language checks use.
//!
//! Kinds are identified by group and kind, without version: the API server serves one
//! object under several versions, and a check that says `networking.k8s.io/v1` must still
//! see Ingresses a snapshot stored as `v1beta1`.
//!
//! Layer: ground. Imports nothing of this crate.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// A kind, without version: `("networking.k8s.io", "Ingress")`; the core group is `""`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct GroupKind {
    /// API group, `""` for the core group.
    pub group: String,
    /// Kind, e.g. `Ingress`.
    pub kind: String,
}

impl GroupKind {
    /// Builds a group/kind pair.
    #[must_use]
    pub fn new(group: &str, kind: &str) -> Self {
        Self { group: group.to_string(), kind: kind.to_string() }
    }

    /// From an `apiVersion` (`apps/v1`, `v1`) and a kind. Kinds that moved out of the old
    /// `extensions` group are filed under their current group (`extensions/v1beta1`
    /// Deployment is an `apps` Deployment, Ingress a `networking.k8s.io` one), so every check
    /// of the current kind reads them; the object keeps its own `apiVersion` for the
    /// removed-API rules.
    #[must_use]
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let group = split_api_version(api_version).0;
        let group = match (group, kind) {
            ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet" | "StatefulSet") => "apps",
            ("extensions", "Ingress" | "NetworkPolicy") => "networking.k8s.io",
            (g, _) => g,
        };
        Self::new(group, kind)
    }

    /// True for groups every conformant cluster serves; a custom resource group is not.
    /// An empty list of a built-in kind means "none exist", an absent custom kind means
    /// "this cluster does not have that product".
    #[must_use]
    pub fn is_builtin(&self) -> bool {
        let g = self.group.as_str();
        g.is_empty() || (!g.contains('.')) || g.ends_with(".k8s.io")
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() { write!(f, "{}", self.kind) } else { write!(f, "{}.{}", self.kind, self.group) }
    }
}

/// Kinds that are cluster-scoped in every Kubernetes release (discovery and CRDs add others).
pub const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Custom kinds known to be cluster-scoped, as `(group, kind)`: those the built-in catalog
/// reads. Each was checked in its project's API types:
/// - `harvesterhci.io` Setting: harvester/harvester `pkg/apis/harvesterhci.io/v1beta1/settings.go`
///   (`+genclient:nonNamespaced`, `+kubebuilder:resource:scope=Cluster`);
/// - `management.cattle.io` Setting: rancher/turtles `api/rancher/management/v3/setting.go`
///   (`+kubebuilder:resource:scope=Cluster`, Rancher's own type);
/// - `management.cattle.io` Cluster: rancher/rancher
///   `pkg/apis/management.cattle.io/v3/cluster_types.go` (`+genclient:nonNamespaced`);
/// - `cert-manager.io` ClusterIssuer: cert-manager/cert-manager
///   `pkg/apis/certmanager/v1/types_issuer.go` (`+kubebuilder:resource:path=clusterissuers,scope=Cluster`).
///
/// Istio's `MeshPolicy` and `ClusterRbacConfig` are left out: their scope could not be
/// confirmed from a primary source here. A custom kind not listed is taken as namespaced.
const CLUSTER_SCOPED_CUSTOM: &[(&str, &str)] = &[
    ("cert-manager.io", "ClusterIssuer"),
    ("harvesterhci.io", "Setting"),
    ("management.cattle.io", "Cluster"),
    ("management.cattle.io", "Setting"),
];

/// True for kinds known to be cluster-scoped without asking a cluster: the built-in table
/// and the custom kinds checked upstream (`CLUSTER_SCOPED_CUSTOM`). Discovery is the
/// authority where there is a cluster; this is for what has none (`rbac -n`, and saying
/// what a pass in a partial view covered). Anything else is taken as namespaced, the
/// narrower grant.
#[must_use]
pub fn known_cluster_scoped(gk: &GroupKind) -> bool {
    (gk.is_builtin() && CLUSTER_SCOPED.contains(&gk.kind.as_str()))
        || CLUSTER_SCOPED_CUSTOM.iter().any(|(g, k)| *g == gk.group && *k == gk.kind)
}

/// Checks a namespace name: a DNS-1123 label (lowercase letters, digits and `-`, starting
/// and ending with a letter or digit, at most 63 characters), as the API server requires.
pub fn check_namespace_name(ns: &str) -> Result<(), String> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{ns}' is not a namespace name (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
        ))
    }
}

/// Splits `group/version` into its parts; `v1` is the core group.
#[must_use]
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Where an object of a finding stands in a planned change (`check --manifest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// As it is in the cluster now, and stays.
    Live,
    /// As the change will apply it.
    Planned,
    /// In the release now; the change deletes it.
    Deleted,
}

impl Change {
    /// Wire and display form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Live => "live",
            Change::Planned => "planned",
            Change::Deleted => "deleted",
        }
    }
}

/// How a report names an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace; absent for cluster-scoped objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `apiVersion` as stored.
    pub api_version: String,
    /// With a planned change: whether this is the live, planned or deleted object.
    #[serde(rename = "state", skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// With a planned change: the template it was rendered from (Helm's `# Source:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl ObjectRef {
    /// A reference with no change state (an object named by a finding, not read).
    #[must_use]
    pub fn named(kind: &str, namespace: Option<&str>, name: &str, api_version: &str) -> Self {
        Self {
            kind: kind.to_string(),
            namespace: namespace.map(ToString::to_string),
            name: name.to_string(),
            api_version: api_version.to_string(),
            change: None,
            source: None,
        }
    }

    /// `Kind ns/name`, without the change state.
    #[must_use]
    pub fn identity(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.identity())?;
        match (self.change, &self.source) {
            (Some(c), Some(src)) => write!(f, " ({}, {src})", c.as_str()),
            (Some(c), None) if c != Change::Live => write!(f, " ({})", c.as_str()),
            _ => Ok(()),
        }
    }
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A Kubernetes label selector in its string form (`app=web,tier!=db,env in (a,b),!legacy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSelector {
    source: String,
    reqs: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses the string form used by `kubectl -l` and the API's `labelSelector` parameter.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty requirement in label selector '{s}'"));
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(valid_key(key.trim(), s)?)
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotEq(valid_key(k.trim(), s)?, v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement::Eq(valid_key(k.trim(), s)?, v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement::Eq(valid_key(k.trim(), s)?, v.trim().to_string())
            } else if let Some((k, set)) = split_set(part, " notin ") {
                Requirement::NotIn(valid_key(k, s)?, parse_set(set, s)?)
            } else if let Some((k, set)) = split_set(part, " in ") {
                Requirement::In(valid_key(k, s)?, parse_set(set, s)?)
            } else {
                Requirement::Exists(valid_key(part, s)?)
            };
            reqs.push(req);
        }
        Ok(Self { source: s.to_string(), reqs })
    }

    /// True when the labels satisfy every requirement.
    #[must_use]
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        self.reqs.iter().all(|r| match r {
            Requirement::Eq(k, v) => get(k) == Some(v),
            Requirement::NotEq(k, v) => get(k) != Some(v),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(x)),
        })
    }

    /// The selector as written, for the API's `labelSelector` parameter.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn split_set<'a>(part: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let (k, rest) = part.split_once(op)?;
    Some((k.trim(), rest.trim()))
}

fn parse_set(set: &str, whole: &str) -> Result<Vec<String>, String> {
    let inner = set
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(|| format!("set in label selector '{whole}' must be written (a,b)"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

fn valid_key(k: &str, whole: &str) -> Result<String, String> {
    let ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok { Ok(k.to_string()) } else { Err(format!("invalid label key '{k}' in label selector '{whole}'")) }
}

/// Kinds that carry a pod spec, as (group, kind).
pub const WORKLOAD_KINDS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "Pod"),
];

/// Kinds whose image tags identify a component's version (and whose floating tags and
/// mounted config files are judged): the controllers, and Pods no captured controller of
/// these kinds stands for (a `kubectl get pods` dump, a Pod of a custom resource or of a
/// ReplicaSet without its Deployment).
pub const DETECT_KINDS: &[(&str, &str)] =
    &[("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "DaemonSet"), ("", "Pod")];

/// The object that holds the API server's `apiserver_requested_deprecated_apis` gauge, as
/// (group, kind): not served by any API, read from `GET /metrics` (`inventory::metrics`).
pub const DEPRECATED_API_REQUESTS: (&str, &str) = ("upgrade-preflight.io", "DeprecatedAPIRequests");

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
    }

    #[test]
    fn selectors() {
        let l = labels(&[("owner", "helm"), ("status", "deployed")]);
        assert!(LabelSelector::parse("owner=helm").unwrap().matches(Some(&l)));
        assert!(!LabelSelector::parse("owner!=helm").unwrap().matches(Some(&l)));
        assert!(LabelSelector::parse("status in (deployed,failed),owner").unwrap().matches(Some(&l)));
        assert!(!LabelSelector::parse("status notin (deployed)").unwrap().matches(Some(&l)));
        assert!(LabelSelector::parse("!missing").unwrap().matches(Some(&l)));
        assert!(!LabelSelector::parse("owner").unwrap().matches(None));
        assert!(LabelSelector::parse("a=b,,c").is_err());
        assert!(LabelSelector::parse("bad key=x").is_err());
    }

    #[test]
    fn namespace_names() {
        for ok in ["a", "kube-system", "team-1", &"x".repeat(63)] {
            assert!(super::check_namespace_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a.b", "a/b", &"x".repeat(64)] {
            assert!(super::check_namespace_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builtin_groups() {
        assert!(GroupKind::new("", "Pod").is_builtin());
        assert!(GroupKind::new("apps", "Deployment").is_builtin());
        assert!(GroupKind::new("networking.k8s.io", "Ingress").is_builtin());
        assert!(!GroupKind::new("harvesterhci.io", "Addon").is_builtin());
        assert!(!GroupKind::new("management.cattle.io", "ManagedChart").is_builtin());
    }
}
