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

/// Workloads of `kinds` with their pod specs, skipping objects that an owner of one of
/// `kinds` in the inventory stands for (`covered`): that owner is judged instead, once.
/// Any other object is judged itself, otherwise nobody would judge it: a Pod whose owner was
/// not captured, or is a kind the caller does not judge (a ReplicaSet without its Deployment,
/// a custom resource). Parsed one at a time as the caller iterates: a snapshot may hold
/// 100,000 Pods.
pub fn top_level<'a>(
    inv: &'a Inventory,
    kinds: &'a [(&'a str, &'a str)],
) -> impl Iterator<Item = (&'a Object, Value)> + 'a {
    top_level_where(inv, kinds, |_| true)
}

/// [`top_level`] of the objects `wanted` accepts, asked before an object is parsed.
pub fn top_level_where<'a>(
    inv: &'a Inventory,
    kinds: &'a [(&'a str, &'a str)],
    wanted: impl Fn(&Object) -> bool + 'a,
) -> impl Iterator<Item = (&'a Object, Value)> + 'a {
    kinds
        .iter()
        .flat_map(move |(g, k)| inv.objects(&GroupKind::new(g, k)).iter())
        .filter(move |o| wanted(o) && !covered(inv, o, kinds))
        .filter_map(|o| pod_spec(o).map(|s| (o, s)))
}

/// How far an owner chain is followed (Pod → ReplicaSet → Deployment is 2; a cycle in broken
/// data ends here).
const MAX_OWNER_DEPTH: usize = 8;

/// True when an ancestor of `o` in the inventory is of one of `kinds`, and so is judged in
/// its place. The chain is followed through captured owners of other kinds (a ReplicaSet to
/// its Deployment). An owner that was not captured may still be stood for by name: a
/// ReplicaSet `<deployment>-<hash>` by its Deployment, a Job `<cronjob>-<n>` by its CronJob,
/// when that kind is judged and captured. An owner reference without a name (a live
/// inventory keeps no more) counts as covered.
fn covered(inv: &Inventory, o: &Object, kinds: &[(&str, &str)]) -> bool {
    let judged = |gk: &GroupKind| kinds.iter().any(|(g, k)| gk.group == *g && gk.kind == *k);
    let ns = o.namespace.as_deref();
    let mut cur = o;
    for _ in 0..MAX_OWNER_DEPTH {
        let Some((gk, name)) = cur.owner() else { return false };
        if name.is_empty() {
            return true;
        }
        if let Some(owner) = inv.get(&gk, ns, name) {
            if judged(&gk) {
                return true;
            }
            cur = owner;
            continue;
        }
        let parent = match gk.kind.as_str() {
            "ReplicaSet" => GroupKind::new("apps", "Deployment"),
            "Job" => GroupKind::new("batch", "CronJob"),
            _ => return false,
        };
        return judged(&parent) && name.rsplit_once('-').is_some_and(|(stem, _)| inv.get(&parent, ns, stem).is_some());
    }
    false
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

    fn inventory(objects: &[Value]) -> Inventory {
        use crate::inventory::Origin;
        let mut inv = Inventory::new(Origin::Snapshot("t".into()), true);
        for o in objects {
            inv.ingest(o.clone()).unwrap();
        }
        inv.finish();
        inv
    }

    fn owned(api: &str, kind: &str, name: &str, owner: Option<(&str, &str, &str)>) -> Value {
        let mut v = serde_json::json!({"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "ns"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}},
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}},
                     "containers": [{"name": "c", "image": "x:1"}]}});
        if let Some((a, k, n)) = owner {
            v["metadata"]["ownerReferences"] =
                serde_json::json!([{"apiVersion": a, "kind": k, "name": n, "controller": true}]);
        }
        v
    }

    fn judged(inv: &Inventory, kinds: &'static [(&'static str, &'static str)]) -> Vec<String> {
        top_level(inv, kinds).map(|(o, _)| format!("{} {}", o.kind, o.name)).collect()
    }

    #[test]
    fn an_owner_stands_for_what_it_owns_only_when_its_kind_is_judged() {
        let pod = owned("v1", "Pod", "web-1a2b-x", Some(("apps/v1", "ReplicaSet", "web-1a2b")));
        let rs = owned("apps/v1", "ReplicaSet", "web-1a2b", Some(("apps/v1", "Deployment", "web")));
        let deploy = owned("apps/v1", "Deployment", "web", None);
        // Pod → captured ReplicaSet → captured Deployment: the Deployment, once.
        let inv = inventory(&[pod.clone(), rs.clone(), deploy.clone()]);
        assert_eq!(judged(&inv, KINDS), ["Deployment web"]);
        // No ReplicaSet captured: `<deployment>-<hash>` stands for its Deployment.
        assert_eq!(judged(&inventory(&[pod.clone(), deploy]), KINDS), ["Deployment web"]);
        // A ReplicaSet without its Deployment is not judged: its Pod is.
        assert_eq!(judged(&inventory(&[pod.clone(), rs]), KINDS), ["Pod web-1a2b-x"]);
        // Job → CronJob by name; a Job pod's owner is judged by a check of Jobs, not by one of
        // controllers only (DETECT_KINDS), where the Pod is judged itself.
        let job_pod = owned("v1", "Pod", "backup-29000-q", Some(("batch/v1", "Job", "backup-29000")));
        let cron = owned("batch/v1", "CronJob", "backup", None);
        let inv = inventory(&[job_pod, cron]);
        assert_eq!(judged(&inv, KINDS), ["CronJob backup"]);
        assert_eq!(judged(&inv, DETECT_KINDS), ["Pod backup-29000-q"]);
    }

    #[test]
    fn an_owner_cycle_in_broken_data_ends() {
        let a = owned("apps/v1", "ReplicaSet", "a", Some(("apps/v1", "ReplicaSet", "b")));
        let b = owned("apps/v1", "ReplicaSet", "b", Some(("apps/v1", "ReplicaSet", "a")));
        let pod = owned("v1", "Pod", "p", Some(("apps/v1", "ReplicaSet", "a")));
        assert_eq!(judged(&inventory(&[a, b, pod]), KINDS), ["Pod p"]);
    }

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
