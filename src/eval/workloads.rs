//! Pod templates inside workloads, and container image references.

use serde_json::Value;

use crate::inventory::{Inventory, Object};
use crate::resource::GroupKind;

pub use crate::resource::{DETECT_KINDS, WORKLOAD_KINDS as KINDS};

/// The pod spec of a workload object (parsed).
#[must_use]
pub fn pod_spec(obj: &Object) -> Option<Value> {
    let path = match obj.kind.as_str() {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        _ => "/spec/template/spec",
    };
    obj.value().pointer_mut(path).map(Value::take)
}

/// Workloads with their pod specs, skipping Pods and Jobs whose owner is in the inventory
/// (their owner is reported instead, once). A Pod or Job whose owner was not captured is
/// judged itself: otherwise nobody would be. Parsed one at a time as the caller iterates: a
/// snapshot may hold 100,000 Pods.
pub fn top_level<'a>(
    inv: &'a Inventory,
    kinds: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = (&'a Object, Value)> + 'a {
    kinds
        .iter()
        .flat_map(move |(g, k)| inv.objects(&GroupKind::new(g, k)).iter())
        .filter(move |o| !(matches!(o.kind.as_str(), "Pod" | "Job") && o.is_owned() && owner_captured(inv, o)))
        .filter_map(|o| pod_spec(o).map(|s| (o, s)))
}

/// True when the object's owner is in the inventory, or would be judged in its place: a
/// ReplicaSet `<deployment>-<hash>` stands for its Deployment, a Job `<cronjob>-<n>` for its
/// CronJob. An owner reference without a name (a live inventory keeps no more) counts as
/// captured.
fn owner_captured(inv: &Inventory, o: &Object) -> bool {
    let Some((gk, name)) = o.owner() else { return true };
    if name.is_empty() || inv.get(&gk, o.namespace.as_deref(), name).is_some() {
        return true;
    }
    let parent = |kind: &str, group: &str| {
        name.rsplit_once('-')
            .is_some_and(|(stem, _)| inv.get(&GroupKind::new(group, kind), o.namespace.as_deref(), stem).is_some())
    };
    match gk.kind.as_str() {
        "ReplicaSet" => parent("Deployment", "apps"),
        "Job" => parent("CronJob", "batch"),
        _ => false,
    }
}

/// Containers and init containers of a pod spec.
pub fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["containers", "initContainers"].into_iter().filter_map(|f| spec.get(f).and_then(Value::as_array)).flatten()
}

/// A parsed image reference: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, when the reference names one.
    pub registry: Option<String>,
    /// Repository path without registry, e.g. `rancher/rancher`.
    pub repository: String,
    /// Tag, if any.
    pub tag: Option<String>,
    /// Digest, if any.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses an image string the way container runtimes do.
    #[must_use]
    pub fn parse(image: &str) -> Self {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        // A ':' after the last '/' separates the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(rest[last_slash + i + 1..].to_string())),
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (Some(first.to_string()), path.to_string())
            }
            _ => (None, name.to_string()),
        };
        let repository = if repository.contains('/') { repository } else { format!("library/{repository}") };
        Self { registry, repository, tag, digest }
    }

    /// The version-bearing string: the tag, else the digest, else empty (no tag).
    #[must_use]
    pub fn version_str(&self) -> &str {
        self.tag.as_deref().or(self.digest.as_deref()).unwrap_or("")
    }
}

/// The pull policy Kubernetes applies: the explicit one, else `Always` for `latest` or an
/// untagged image, else `IfNotPresent`.
#[must_use]
pub fn effective_pull_policy(container: &Value, image: &ImageRef) -> String {
    if let Some(p) = container.get("imagePullPolicy").and_then(Value::as_str) {
        return p.to_string();
    }
    if image.digest.is_none() && matches!(image.tag.as_deref(), None | Some("latest")) {
        "Always".to_string()
    } else {
        "IfNotPresent".to_string()
    }
}

/// Glob match where `*` matches any run of characters (including `/`).
#[must_use]
pub fn glob_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_matches_runs_including_empty_and_slashes() {
        assert!(glob_match("rancher/*", "rancher/rancher"));
        // A trailing `*` once the text is used up matches the empty run (and terminates).
        assert!(glob_match("rancher/*", "rancher/"));
        assert!(glob_match("rancher/**", "rancher/"));
        assert!(!glob_match("rancher/*", "rancher"));
        assert!(glob_match("*/haraka", "docker.io/oneuptime/haraka"));
        assert!(!glob_match("*/haraka", "oneuptime/haraka-x"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c-y-b"));
        assert!(glob_match("", "") && !glob_match("", "x"));
    }

    #[test]
    fn pull_policy_defaults_like_the_api_server() {
        let img = |s: &str| ImageRef::parse(s);
        let none = serde_json::json!({});
        assert_eq!(effective_pull_policy(&none, &img("nginx")), "Always");
        assert_eq!(effective_pull_policy(&none, &img("nginx:latest")), "Always");
        assert_eq!(effective_pull_policy(&none, &img("oneuptime/haraka:release")), "IfNotPresent");
        assert_eq!(effective_pull_policy(&none, &img("nginx:latest@sha256:abc")), "IfNotPresent");
        let set = serde_json::json!({"imagePullPolicy": "Never"});
        assert_eq!(effective_pull_policy(&set, &img("nginx:latest")), "Never");
    }

    #[test]
    fn images() {
        let i = ImageRef::parse("docker.io/oneuptime/haraka:release");
        assert_eq!(i.registry.as_deref(), Some("docker.io"));
        assert_eq!(i.repository, "oneuptime/haraka");
        assert_eq!(i.tag.as_deref(), Some("release"));
        let i = ImageRef::parse("localhost:5000/nginx");
        assert_eq!(i.repository, "library/nginx");
        assert_eq!(i.tag, None);
        let i = ImageRef::parse("rancher/rancher:v2.7.5@sha256:abc");
        assert_eq!(i.tag.as_deref(), Some("v2.7.5"));
        assert_eq!(i.digest.as_deref(), Some("sha256:abc"));
        let i = ImageRef::parse("us-central1-docker.pkg.dev/keephq/keep/keep-api:0.41.3");
        assert_eq!(i.repository, "keephq/keep/keep-api");
        assert_eq!(ImageRef::parse("nginx@sha256:ff").version_str(), "sha256:ff");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*/haraka", "oneuptime/haraka"));
        assert!(glob_match("*/haraka", "instrumentisto/haraka"));
        assert!(!glob_match("*/haraka", "oneuptime/haraka-x"));
        assert!(glob_match("rancher/rancher", "rancher/rancher"));
        assert!(!glob_match("rancher/rancher", "rancher/rancher-agent"));
        assert!(glob_match("*keep-api", "keephq/keep/keep-api"));
    }
}
