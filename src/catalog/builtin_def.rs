//! Built-in evaluators as data: their names, their parameters (parsed and validated here,
//! when a check file is loaded) and what each reads. Their code is in `eval::builtins`;
//! this module may import only the ground layer (`resource`, `version`).
//!
//! | name | params | what it finds |
//! |---|---|---|
//! | `missing-references` | — | workloads referencing a Secret/ConfigMap (or a key of one) that does not exist and is not optional |
//! | `floating-image-tags` | — | containers of components whose matrix demands pinning that run a floating tag |
//! | `mounted-config-file` | `component`, `range`, `file`, `ini-section` | a component in `range` whose mounted ConfigMaps lack `file` (or its `[ini-section]`) |
//! | `webhook-endpoints` | — | admission webhooks with `failurePolicy: Fail` whose Service has no ready endpoints |
//! | `deprecated-api-requests` | — | APIs clients still request (the API server's `apiserver_requested_deprecated_apis`) that are removed at the Kubernetes target |
//! | `certificate-expiry` | `warn-days` | expired or soon-expiring certificates in `caBundle`s and TLS Secrets |
//! | `backup-age` | `max-age-hours` | RKE2/K3s etcd snapshots and Velero backups older than `max-age-hours`, or none |
//! | `pdb-blocks-drain` | — | PodDisruptionBudgets that allow no eviction, with the workloads they cover |
//! | `drain-capacity` | — | the busiest node whose evictable pods' requests exceed the free allocatable of the other schedulable nodes |

use serde::Deserialize;
use serde_json::Value;

use crate::resource::{DEPRECATED_API_REQUESTS, DETECT_KINDS, GroupKind, WORKLOAD_KINDS};
use crate::version::Range;

/// Names of the built-in evaluators.
pub const NAMES: &[&str] = &[
    "missing-references",
    "floating-image-tags",
    "mounted-config-file",
    "webhook-endpoints",
    "deprecated-api-requests",
    "certificate-expiry",
    "backup-age",
    "pdb-blocks-drain",
    "drain-capacity",
];

/// A configured built-in evaluator.
#[derive(Debug, Clone)]
pub enum Builtin {
    /// See module docs.
    MissingReferences,
    /// See module docs.
    FloatingImageTags,
    /// See module docs.
    MountedConfigFile(MountedConfig),
    /// See module docs.
    WebhookEndpoints,
    /// See module docs.
    DeprecatedApiRequests,
    /// See module docs.
    PdbBlocksDrain,
    /// See module docs.
    DrainCapacity,
    /// See module docs.
    CertificateExpiry(CertificateExpiry),
    /// See module docs.
    BackupAge(BackupAge),
}

/// Parameters of `certificate-expiry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateExpiry {
    /// A certificate that expires within this many days of the capture time is a warning
    /// (`check --cert-days` overrides it).
    pub warn_days: u32,
}

/// Parameters of `backup-age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupAge {
    /// The newest usable backup must be younger than this many hours at the capture time.
    pub max_age_hours: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CertificateExpiryParams {
    warn_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BackupAgeParams {
    max_age_hours: u32,
}

/// Parameters of `mounted-config-file`.
#[derive(Debug, Clone)]
pub struct MountedConfig {
    /// Component whose workloads are looked at.
    pub component: String,
    /// Versions of the component the rule applies to.
    pub range: Range,
    /// File the mounted ConfigMaps must provide.
    pub file: String,
    /// INI section the file must have, if any.
    pub ini_section: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MountedConfigParams {
    component: String,
    range: String,
    file: String,
    #[serde(default)]
    ini_section: Option<String>,
}

/// Parses a built-in rule with its parameters.
pub fn parse(name: &str, params: Option<&Value>) -> Result<Builtin, String> {
    let no_params = |b: Builtin| match params {
        None | Some(Value::Null) => Ok(b),
        Some(_) => Err(format!("'{name}' takes no params")),
    };
    match name {
        "missing-references" => no_params(Builtin::MissingReferences),
        "floating-image-tags" => no_params(Builtin::FloatingImageTags),
        "webhook-endpoints" => no_params(Builtin::WebhookEndpoints),
        "deprecated-api-requests" => no_params(Builtin::DeprecatedApiRequests),
        "pdb-blocks-drain" => no_params(Builtin::PdbBlocksDrain),
        "drain-capacity" => no_params(Builtin::DrainCapacity),
        "mounted-config-file" => {
            let p: MountedConfigParams = serde_json::from_value(params.cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("'{name}' params: {e}"))?;
            let range = Range::parse(&p.range).map_err(|e| format!("'{name}' params.range: {e}"))?;
            Ok(Builtin::MountedConfigFile(MountedConfig {
                component: p.component,
                range,
                file: p.file,
                ini_section: p.ini_section,
            }))
        }
        "certificate-expiry" => {
            let p: CertificateExpiryParams = serde_json::from_value(params.cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("'{name}' params: {e}"))?;
            Ok(Builtin::CertificateExpiry(CertificateExpiry { warn_days: p.warn_days }))
        }
        "backup-age" => {
            let p: BackupAgeParams = serde_json::from_value(params.cloned().unwrap_or(Value::Null))
                .map_err(|e| format!("'{name}' params: {e}"))?;
            if p.max_age_hours == 0 {
                return Err(format!("'{name}' params.max-age-hours: must be at least 1"));
            }
            Ok(Builtin::BackupAge(BackupAge { max_age_hours: p.max_age_hours }))
        }
        other => Err(format!("unknown built-in '{other}' (known: {})", NAMES.join(", "))),
    }
}

/// One kind a built-in reads, and the fields of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reads {
    /// The kind.
    pub kind: GroupKind,
    /// Dot paths below the object root it reads (`[]` after a list: each of its items).
    pub paths: &'static [&'static str],
    /// The paths are read only for objects without an owner (owned Pods and Jobs are
    /// judged through their owner).
    pub unowned_only: bool,
}

impl Builtin {
    /// Kinds it reads.
    #[must_use]
    pub fn reads(&self) -> Vec<GroupKind> {
        let mut k: Vec<GroupKind> = self.reads_fields().into_iter().map(|r| r.kind).collect();
        k.sort();
        k.dedup();
        k
    }

    /// Kinds it reads, with the fields it reads of each.
    #[must_use]
    pub fn reads_fields(&self) -> Vec<Reads> {
        let spec_of = |kinds: &[(&str, &str)]| -> Vec<Reads> {
            kinds
                .iter()
                .map(|(g, k)| Reads {
                    kind: GroupKind::new(g, k),
                    paths: &["spec"],
                    // Live, the spec of Pods and Jobs with an owner is not kept (a cluster may run
                    // 100,000 Pods): their owner is read and judged instead.
                    unowned_only: matches!(*k, "Pod" | "Job"),
                })
                .collect()
        };
        let data = |k: &str| Reads {
            kind: GroupKind::new("", k),
            paths: &["data", "stringData", "binaryData"],
            unowned_only: false,
        };
        let at = |g: &str, k: &str, paths: &'static [&'static str]| Reads {
            kind: GroupKind::new(g, k),
            paths,
            unowned_only: false,
        };
        match self {
            Builtin::MissingReferences => {
                let mut v = spec_of(WORKLOAD_KINDS);
                v.push(data("Secret"));
                v.push(data("ConfigMap"));
                v
            }
            Builtin::FloatingImageTags => spec_of(DETECT_KINDS),
            Builtin::MountedConfigFile(_) => {
                let mut v = spec_of(DETECT_KINDS);
                v.push(data("ConfigMap"));
                v
            }
            Builtin::WebhookEndpoints => vec![
                at("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", &["webhooks"]),
                at("admissionregistration.k8s.io", "MutatingWebhookConfiguration", &["webhooks"]),
                at("", "Service", &["spec"]),
                at("", "Endpoints", &["subsets"]),
                at("discovery.k8s.io", "EndpointSlice", &["endpoints"]),
            ],
            Builtin::DeprecatedApiRequests => {
                vec![at(DEPRECATED_API_REQUESTS.0, DEPRECATED_API_REQUESTS.1, &["metric", "series"])]
            }
            Builtin::CertificateExpiry(_) => vec![
                at("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", &["webhooks"]),
                at("admissionregistration.k8s.io", "MutatingWebhookConfiguration", &["webhooks"]),
                at("apiregistration.k8s.io", "APIService", &["spec.caBundle", "spec.insecureSkipTLSVerify"]),
                at("apiextensions.k8s.io", "CustomResourceDefinition", &["spec.conversion"]),
                // `data` reaches `normalise`, which summarises `tls.crt` and blanks every value;
                // the summary field is kept when a snapshot this tool wrote is read back.
                at("", "Secret", &["type", "data", "tlsCertificates"]),
            ],
            Builtin::BackupAge(_) => vec![
                at("k3s.cattle.io", "ETCDSnapshotFile", &["spec.snapshotName", "spec.nodeName", "status"]),
                at("velero.io", "Backup", &["status.phase", "status.completionTimestamp"]),
            ],
            // Labels and owners (in `metadata`, always kept) match budgets to pods and pods to
            // their workloads.
            Builtin::PdbBlocksDrain => {
                vec![at("policy", "PodDisruptionBudget", &["spec", "status"]), at("", "Pod", &["status.phase"])]
            }
            Builtin::DrainCapacity => vec![
                at("", "Node", &["spec.unschedulable", "spec.taints", "status.allocatable", "status.conditions"]),
                // Of each container only its requests (`[]`: every item of the list).
                at(
                    "",
                    "Pod",
                    &[
                        "spec.nodeName",
                        "spec.containers.[].resources.requests",
                        "spec.initContainers.[].resources.requests",
                        "spec.initContainers.[].restartPolicy",
                        "spec.overhead",
                        "status.phase",
                    ],
                ),
            ],
        }
    }

    /// True when the evaluator itself decides what a kind that is not served, or cannot be
    /// read, means (whether the check applies depends on the cluster's distribution, not on
    /// the kinds alone); the engine then runs it whatever their state.
    #[must_use]
    pub fn judges_kind_states(&self) -> bool {
        matches!(self, Builtin::BackupAge(_))
    }

    /// Groups of kinds of which one readable kind is enough: the evaluator judges from the
    /// one it has (and says "could not evaluate" itself where that one is not enough).
    /// Any other kind that cannot be read makes the check *could not evaluate*.
    #[must_use]
    pub fn either_of(&self) -> Vec<Vec<GroupKind>> {
        match self {
            Builtin::WebhookEndpoints => {
                vec![vec![GroupKind::new("discovery.k8s.io", "EndpointSlice"), GroupKind::new("", "Endpoints")]]
            }
            _ => Vec::new(),
        }
    }

    /// Kinds it reads that it can do without: when one cannot be read, the evaluator says
    /// what that leaves unknown itself.
    #[must_use]
    pub fn optional_reads(&self) -> Vec<GroupKind> {
        match self {
            // Budgets are judged from their status without Pods; the workload is then not named.
            Builtin::PdbBlocksDrain => vec![GroupKind::new("", "Pod")],
            _ => Vec::new(),
        }
    }

    /// Components it refers to (validated against the catalog).
    #[must_use]
    pub fn components(&self) -> Vec<String> {
        match self {
            Builtin::MountedConfigFile(p) => vec![p.component.clone()],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        assert!(matches!(parse("missing-references", None), Ok(Builtin::MissingReferences)));
        assert!(matches!(parse("webhook-endpoints", Some(&Value::Null)), Ok(Builtin::WebhookEndpoints)));
        let err = |name: &str, params: Option<Value>| parse(name, params.as_ref()).map(|_| ()).unwrap_err();
        assert_eq!(
            err("missing-references", Some(serde_json::json!({"x": 1}))),
            "'missing-references' takes no params"
        );
        assert_eq!(
            err("nope", None),
            "unknown built-in 'nope' (known: missing-references, floating-image-tags, mounted-config-file, webhook-endpoints, deprecated-api-requests, certificate-expiry, backup-age, pdb-blocks-drain, drain-capacity)"
        );
        assert!(matches!(
            parse("certificate-expiry", Some(&serde_json::json!({"warn-days": 30}))),
            Ok(Builtin::CertificateExpiry(CertificateExpiry { warn_days: 30 }))
        ));
        assert!(err("certificate-expiry", None).contains("'certificate-expiry' params: "));
        assert!(err("certificate-expiry", Some(serde_json::json!({"warn-days": -1}))).contains("invalid value"));
        assert!(matches!(
            parse("backup-age", Some(&serde_json::json!({"max-age-hours": 24}))),
            Ok(Builtin::BackupAge(BackupAge { max_age_hours: 24 }))
        ));
        assert_eq!(
            err("backup-age", Some(serde_json::json!({"max-age-hours": 0}))),
            "'backup-age' params.max-age-hours: must be at least 1"
        );
        let ok = parse(
            "mounted-config-file",
            Some(
                &serde_json::json!({"component": "haraka", "range": ">=3.1.0", "file": "connection.ini", "ini-section": "haproxy"}),
            ),
        );
        let Ok(Builtin::MountedConfigFile(p)) = ok else { panic!("{ok:?}") };
        assert_eq!(
            (p.component.as_str(), p.file.as_str(), p.ini_section.as_deref()),
            ("haraka", "connection.ini", Some("haproxy"))
        );
        assert_eq!(p.range.to_string(), ">=3.1.0");
        assert!(p.range.matches(&semver::Version::new(3, 1, 0)) && !p.range.matches(&semver::Version::new(3, 0, 9)));
        assert!(
            err("mounted-config-file", Some(serde_json::json!({"component": "haraka", "range": ">=3.x", "file": "c"})))
                .starts_with("'mounted-config-file' params.range: ")
        );
        assert!(
            err("mounted-config-file", Some(serde_json::json!({"component": "haraka"})))
                .contains("missing field `range`")
        );
        assert!(
            err("mounted-config-file", Some(serde_json::json!({"component": "h", "range": "*", "file": "f", "x": 1})))
                .contains("unknown field `x`")
        );
    }
}
