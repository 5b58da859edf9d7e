//! The layouts of the captures users already have, recognised by their marker files, and
//! what they tell beyond the objects: the server version, and the kind of objects that were
//! written without one (old sonobuoy results, OpenShift insights archives, troubleshoot's
//! typed lists without `kind`).
//!
//! | layout | markers | server version |
//! |---|---|---|
//! | troubleshoot support bundle | `version.yaml` (`kind: SupportBundle`), `cluster-info/cluster_version.json` | `cluster_version.json` `info.gitVersion` |
//! | sonobuoy results | `serverversion.json` (or `serverversion/serverversion.json`), `meta/config.json` | `serverversion.json` `gitVersion` |
//! | support-bundle-kit (Rancher, Harvester) | `metadata.yaml` with `bundlename` | `kubernetesversion` |
//! | OpenShift insights-operator archive | `insights-operator/gathers.json`, `config/id` | — (only the OpenShift version) |
//!
//! Layer: inventory. Imports the ground layer only.

use serde_json::Value;

/// A recognised layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `kubectl support-bundle` (replicatedhq/troubleshoot).
    Troubleshoot,
    /// sonobuoy results.
    Sonobuoy,
    /// Rancher / Harvester support-bundle-kit.
    SupportBundleKit,
    /// OpenShift insights-operator archive.
    Insights,
}

impl Layout {
    /// How reports name it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Troubleshoot => "troubleshoot support bundle",
            Self::Sonobuoy => "sonobuoy results",
            Self::SupportBundleKit => "support-bundle-kit bundle",
            Self::Insights => "insights-operator archive",
        }
    }
}

/// A layout's name as a noun phrase: `a troubleshoot support bundle`, `an insights-operator
/// archive`, `sonobuoy results` (a plural takes no article).
#[must_use]
pub fn with_article(name: &str) -> String {
    if name.ends_with('s') {
        name.to_string()
    } else if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

/// What a marker file is, judged by its path inside the capture (any leading directory,
/// such as a bundle's top-level folder, is ignored).
#[must_use]
pub fn marker(rel: &str) -> Option<Layout> {
    let tail = |suffix: &str| rel == suffix || rel.ends_with(&format!("/{suffix}"));
    if tail("cluster-info/cluster_version.json") {
        Some(Layout::Troubleshoot)
    } else if tail("serverversion.json") || tail("meta/config.json") || rel == "config.json" {
        Some(Layout::Sonobuoy)
    } else if tail("insights-operator/gathers.json") || tail("config/id") {
        Some(Layout::Insights)
    } else {
        None
    }
}

/// `version.yaml` of a troubleshoot bundle, or `metadata.yaml` of support-bundle-kit: the
/// layout, recognised by content since both names are common.
#[must_use]
pub fn marker_by_content(rel: &str, doc: &Value) -> Option<Layout> {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    match file {
        "version.yaml" if doc.get("kind").and_then(Value::as_str) == Some("SupportBundle") => {
            Some(Layout::Troubleshoot)
        }
        "metadata.yaml" if doc.get("bundlename").is_some() && doc.get("kind").is_none() => {
            Some(Layout::SupportBundleKit)
        }
        _ => None,
    }
}

/// The server version a marker document states, if it is one that does.
#[must_use]
pub fn server_version(doc: &Value) -> Option<String> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(ToString::to_string);
    s(doc.pointer("/info/gitVersion"))
        .or_else(|| s(doc.get("string")))
        .or_else(|| if doc.get("major").is_some() { s(doc.get("gitVersion")) } else { None })
        .or_else(|| s(doc.get("kubernetesversion")))
}

/// Kinds whose objects captures write without `kind`/`apiVersion`, with the names the
/// captures use for them (besides the kind itself and its plural).
const WELL_KNOWN: &[(&str, &str, &[&str])] = &[
    ("Pod", "v1", &[]),
    ("Node", "v1", &[]),
    ("Namespace", "v1", &[]),
    ("Service", "v1", &[]),
    ("Endpoints", "v1", &[]),
    ("ConfigMap", "v1", &[]),
    ("Secret", "v1", &[]),
    ("ServiceAccount", "v1", &[]),
    ("PersistentVolume", "v1", &["pvs"]),
    ("PersistentVolumeClaim", "v1", &["pvcs"]),
    ("Event", "v1", &[]),
    ("ReplicationController", "v1", &[]),
    ("ResourceQuota", "v1", &[]),
    ("LimitRange", "v1", &[]),
    ("Deployment", "apps/v1", &[]),
    ("StatefulSet", "apps/v1", &[]),
    ("DaemonSet", "apps/v1", &[]),
    ("ReplicaSet", "apps/v1", &[]),
    ("Job", "batch/v1", &[]),
    ("CronJob", "batch/v1", &[]),
    ("Ingress", "networking.k8s.io/v1", &[]),
    ("NetworkPolicy", "networking.k8s.io/v1", &[]),
    ("StorageClass", "storage.k8s.io/v1", &[]),
    ("VolumeAttachment", "storage.k8s.io/v1", &[]),
    ("CustomResourceDefinition", "apiextensions.k8s.io/v1", &[]),
    ("Role", "rbac.authorization.k8s.io/v1", &[]),
    ("RoleBinding", "rbac.authorization.k8s.io/v1", &[]),
    ("ClusterRole", "rbac.authorization.k8s.io/v1", &[]),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", &[]),
    ("PodDisruptionBudget", "policy/v1", &[]),
    ("Lease", "coordination.k8s.io/v1", &[]),
    ("PriorityClass", "scheduling.k8s.io/v1", &[]),
    ("EndpointSlice", "discovery.k8s.io/v1", &[]),
    ("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", &[]),
    ("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1", &[]),
    ("ClusterOperator", "config.openshift.io/v1", &[]),
];

fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with("endpoints") {
        k
    } else if k.ends_with('s') || k.ends_with("ch") {
        format!("{k}es")
    } else if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{k}s")
    }
}

/// The kind (and apiVersion) that a name used by a capture stands for: a file stem such as
/// `Pods` (old sonobuoy), `core_v1_pods` (new sonobuoy), or a folder such as `pod`
/// (insights) or `custom-resource-definitions` (troubleshoot).
#[must_use]
pub fn kind_for_name(name: &str) -> Option<(&'static str, &'static str)> {
    // New sonobuoy: `<group>_<version>_<resource>`.
    let resource = name.rsplit('_').next().unwrap_or(name);
    let n = squash(resource);
    WELL_KNOWN
        .iter()
        .find(|(kind, _, aliases)| {
            let k = squash(kind);
            n == k || n == squash(&plural(kind)) || aliases.iter().any(|a| squash(a) == n)
        })
        .map(|(kind, av, _)| (*kind, *av))
}

/// The kind that a file's place in the capture gives its objects when they carry none. Each
/// recognised layout names the kind at a fixed place, and a namespace (which may be called
/// `ingress`, `events` or `jobs`) at another, so the place is read by the layout:
///
/// | layout | path | kind from |
/// |---|---|---|
/// | troubleshoot | `cluster-resources/<kind>/<ns>.json`, `cluster-resources/<kind>.json` | the folder (or file) after `cluster-resources` |
/// | sonobuoy | `resources/ns/<ns>/<kind>.json`, `resources/cluster/<kind>.json` (`resources/non-ns/` in old results) | the file name |
/// | support-bundle-kit | `yamls/namespaced/<ns>/<group>/<version>/<kind>.yaml`, `yamls/cluster/...` | the file name |
/// | insights | `config/<kind>/<ns>/<name>.json`, `config/<kind>/<name>.json` | the folder (or file) after `config` |
///
/// Elsewhere the file name and its folder are asked; when both name a kind and they differ
/// the place is ambiguous and gives none.
#[must_use]
pub fn kind_hint(rel: &str) -> Option<(&'static str, &'static str)> {
    let mut parts: Vec<&str> = rel.split('/').collect();
    let file = parts.pop()?;
    let stem = file.split('.').next().unwrap_or(file);
    // The component after `at`: a folder, or the file's stem when the file is next.
    let after = |at: usize| parts.get(at + 1).copied().unwrap_or(stem);
    for (i, dir) in parts.iter().enumerate() {
        let next = parts.get(i + 1).copied();
        match *dir {
            "cluster-resources" | "config" => return kind_for_name(after(i)),
            "resources" if matches!(next, Some("ns" | "cluster" | "non-ns")) => return kind_for_name(stem),
            "yamls" if matches!(next, Some("namespaced" | "cluster")) => return kind_for_name(stem),
            _ => {}
        }
    }
    let by_file = kind_for_name(stem);
    let by_dir = parts.last().and_then(|d| kind_for_name(d));
    match (by_file, by_dir) {
        (Some(f), Some(d)) if f != d => None,
        (f, d) => f.or(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_names_give_kinds() {
        assert_eq!(kind_for_name("Pods"), Some(("Pod", "v1")));
        assert_eq!(kind_for_name("ClusterRoleBindings"), Some(("ClusterRoleBinding", "rbac.authorization.k8s.io/v1")));
        assert_eq!(kind_for_name("Endpoints"), Some(("Endpoints", "v1")));
        assert_eq!(kind_for_name("core_v1_pods"), Some(("Pod", "v1")));
        assert_eq!(kind_for_name("apps_v1_deployments"), Some(("Deployment", "apps/v1")));
        assert_eq!(kind_for_name("custom-resource-definitions").map(|k| k.0), Some("CustomResourceDefinition"));
        assert_eq!(kind_for_name("storage-classes").map(|k| k.0), Some("StorageClass"));
        assert_eq!(kind_for_name("network-policy").map(|k| k.0), Some("NetworkPolicy"));
        assert_eq!(kind_for_name("Ingresses").map(|k| k.0), Some("Ingress"));
        assert_eq!(kind_for_name("analysis"), None);
        assert_eq!(kind_hint("config/pod/openshift-ingress/router-x.json").map(|k| k.0), Some("Pod"));
        assert_eq!(kind_hint("results/resources/ns/default/Pods.json").map(|k| k.0), Some("Pod"));
        assert_eq!(kind_hint("bundle/run-example/run-example.json"), None);
    }

    #[test]
    fn a_namespace_named_like_a_kind_does_not_give_the_kind() {
        let k = |rel: &str| kind_hint(rel).map(|k| k.0);
        // troubleshoot: the file name is the namespace.
        assert_eq!(k("cluster-resources/pods/ingress.json"), Some("Pod"));
        assert_eq!(k("bundle-1/cluster-resources/deployments/jobs.json"), Some("Deployment"));
        assert_eq!(k("cluster-resources/nodes.json"), Some("Node"));
        assert_eq!(k("cluster-resources/custom-resources/ingresses.example.io/events.yaml"), None);
        // insights: the nearest folder is the namespace.
        assert_eq!(k("config/pod/ingress/router-x.json"), Some("Pod"));
        assert_eq!(k("config/pod/secrets/x.json"), Some("Pod"));
        assert_eq!(k("config/node/master-0.json"), Some("Node"));
        // sonobuoy: a namespace folder, the kind is the file name.
        assert_eq!(k("resources/ns/events/Pods.json"), Some("Pod"));
        assert_eq!(k("resources/ns/jobs/Example.json"), None);
        assert_eq!(k("resources/cluster/Nodes.json"), Some("Node"));
        assert_eq!(k("resources/non-ns/Nodes.json"), Some("Node"));
        // support-bundle-kit: a namespace folder, the kind is the file name.
        assert_eq!(k("sb/yamls/namespaced/ingress/v1/pods.yaml"), Some("Pod"));
        assert_eq!(k("sb/yamls/namespaced/ingress/example.io/v1/widgets.yaml"), None);
        // Elsewhere: ambiguous places give none.
        assert_eq!(k("dump/pods/ingress.json"), None);
        assert_eq!(k("dump/pods/all.json"), Some("Pod"));
        assert_eq!(k("dump/Pods.json"), Some("Pod"));
    }

    #[test]
    fn markers_are_recognised_anywhere_in_the_tree() {
        assert_eq!(marker("support-bundle/cluster-info/cluster_version.json"), Some(Layout::Troubleshoot));
        assert_eq!(marker("serverversion.json"), Some(Layout::Sonobuoy));
        assert_eq!(with_article(Layout::Sonobuoy.name()), "sonobuoy results");
        assert_eq!(with_article(Layout::Insights.name()), "an insights-operator archive");
        assert_eq!(with_article(Layout::Troubleshoot.name()), "a troubleshoot support bundle");
        assert_eq!(marker("insights-operator/gathers.json"), Some(Layout::Insights));
        assert_eq!(marker("cluster-resources/pods/default.json"), None);
        let v: Value = serde_json::json!({"info": {"gitVersion": "v1.31.2+k3s1"}, "string": "v1.31.2+k3s1"});
        assert_eq!(server_version(&v).as_deref(), Some("v1.31.2+k3s1"));
        let v: Value = serde_json::json!({"major": "1", "minor": "21", "gitVersion": "v1.21.1"});
        assert_eq!(server_version(&v).as_deref(), Some("v1.21.1"));
    }
}
