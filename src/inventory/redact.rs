//! Redaction for snapshots attached to tickets (`snapshot`, default on; `--no-redact`):
//! container `env[].value`s, `args` and `command`, and ConfigMap `data`/`binaryData` values
//! are replaced by `redacted:<8 hex>`, except ConfigMap values an enabled check reads: those
//! of ConfigMaps a workload mounts when a `mounted-config-file` check is enabled, and all of
//! them when an enabled CEL check reads ConfigMaps. The
//! hex is an HMAC-SHA256 under a key drawn at random for each snapshot and never stored: two
//! equal values in one snapshot get the same marker, while a marker cannot be checked
//! against a guessed value. Secrets are blanked long before this (see `normalise`).
//!
//! Layer: inventory. Imports the ground layer only.

use std::collections::BTreeSet;

use serde_json::Value;

/// A ConfigMap's namespace and name.
pub type ConfigMapId = (Option<String>, String);

/// Replaces values by keyed-hash markers.
pub struct Redactor {
    key: ring::hmac::Key,
    /// ConfigMaps whose values are kept; `None`: all of them.
    keep_configmaps: Option<BTreeSet<ConfigMapId>>,
}

/// ConfigMaps mounted (as a volume or a projected source) by an object of `inv`.
#[must_use]
pub fn mounted_configmaps(inv: &super::Inventory) -> BTreeSet<ConfigMapId> {
    fn walk(v: &Value, ns: Option<&str>, out: &mut BTreeSet<ConfigMapId>) {
        match v {
            Value::Object(m) => {
                if let Some(name) = m.get("configMap").and_then(|c| c.get("name")).and_then(Value::as_str) {
                    out.insert((ns.map(ToString::to_string), name.to_string()));
                }
                m.values().for_each(|x| walk(x, ns, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, ns, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for (_, state) in inv.kinds() {
        if let super::KindState::Collected(objs) = state {
            for o in objs.iter().filter(|o| o.kind != "ConfigMap") {
                if let Some(spec) = o.value().get("spec") {
                    walk(spec, o.namespace.as_deref(), &mut out);
                }
            }
        }
    }
    out
}

impl Redactor {
    /// A redactor with a fresh random key. `keep_configmaps` keep their values (an enabled
    /// check reads them; they must survive for `check --snapshot` to agree with live); `None`
    /// keeps every ConfigMap's values.
    pub fn new(keep_configmaps: Option<BTreeSet<ConfigMapId>>) -> Result<Self, String> {
        let rng = ring::rand::SystemRandom::new();
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .map_err(|_| "cannot draw a random key for redaction".to_string())?;
        Ok(Self { key, keep_configmaps })
    }

    /// The marker for `value`.
    #[must_use]
    pub fn marker(&self, value: &str) -> String {
        let tag = ring::hmac::sign(&self.key, value.as_bytes());
        let hex: String = tag.as_ref().iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("redacted:{hex}")
    }

    fn mark(&self, v: &mut Value) {
        let text = match &*v {
            Value::String(s) => s.clone(),
            Value::Null => return,
            other => other.to_string(),
        };
        *v = Value::String(self.marker(&text));
    }

    /// Redacts one object in place.
    pub fn object(&self, v: &mut Value) {
        let is_configmap = v.get("kind").and_then(Value::as_str) == Some("ConfigMap")
            && v.get("apiVersion").and_then(Value::as_str) == Some("v1");
        let id = || {
            let meta = v.get("metadata");
            let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).map(ToString::to_string);
            (field("namespace"), field("name").unwrap_or_default())
        };
        if is_configmap && self.keep_configmaps.as_ref().is_some_and(|k| !k.contains(&id())) {
            for field in ["data", "binaryData"] {
                if let Some(m) = v.get_mut(field).and_then(Value::as_object_mut) {
                    m.values_mut().for_each(|x| self.mark(x));
                }
            }
        }
        self.containers(v);
    }

    /// Every container list anywhere in the object (Pods, workload templates, CronJobs,
    /// custom resources embedding pod specs).
    fn containers(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if matches!(k.as_str(), "containers" | "initContainers" | "ephemeralContainers")
                        && let Some(list) = child.as_array_mut()
                    {
                        list.iter_mut().for_each(|c| self.container(c));
                    } else {
                        self.containers(child);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.containers(x)),
            _ => {}
        }
    }

    fn container(&self, c: &mut Value) {
        let Some(c) = c.as_object_mut() else { return };
        for field in ["args", "command"] {
            if let Some(list) = c.get_mut(field).and_then(Value::as_array_mut) {
                list.iter_mut().for_each(|x| self.mark(x));
            }
        }
        if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
            for e in env.iter_mut().filter_map(Value::as_object_mut) {
                if let Some(value) = e.get_mut("value") {
                    self.mark(value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_become_markers_equal_values_equal_markers() {
        let r = Redactor::new(Some(BTreeSet::new())).unwrap();
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "spec": {
            "initContainers": [{"name": "i", "command": ["sh", "-c", "x"]}],
            "containers": [{"name": "c", "image": "nginx:1", "args": ["--password=hunter2"],
                            "env": [{"name": "A", "value": "hunter2"}, {"name": "B", "value": "hunter2"},
                                    {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}]}});
        r.object(&mut pod);
        let text = pod.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"sh\""), "{text}");
        let env = &pod["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], env[1]["value"], "equal values, equal markers");
        assert!(env[0]["value"].as_str().unwrap().starts_with("redacted:"));
        assert_eq!(env[2]["valueFrom"]["secretKeyRef"]["key"], "k", "references are kept");
        assert_eq!(pod["spec"]["containers"][0]["image"], "nginx:1");
        // Another snapshot, another key: markers cannot be compared across snapshots.
        assert_ne!(Redactor::new(Some(BTreeSet::new())).unwrap().marker("hunter2"), r.marker("hunter2"));

        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "d"},
                        "data": {"a.ini": "[x]\npassword=1"}});
        let (mut redacted, mut kept) = (cm.clone(), cm.clone());
        r.object(&mut redacted);
        let keep = BTreeSet::from([(Some("d".to_string()), "m".to_string())]);
        Redactor::new(Some(keep)).unwrap().object(&mut kept);
        assert!(redacted["data"]["a.ini"].as_str().unwrap().starts_with("redacted:"));
        assert_eq!(kept, cm);
    }
}
