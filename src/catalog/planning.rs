//! Planning rules as data: the ids, severities and titles of the findings that upgrade
//! planning (`eval::plan`) produces. They share the namespace of check ids, so the catalog
//! rejects a check that reuses one, and `--only`/`--skip`, `list` and `explain` know them.
//! Imports nothing of this crate but `catalog` itself.

use super::Severity;

/// Finding ids produced by planning (they share the namespace of check ids).
pub const FINDING_IDS: [(&str, Severity, &str); 17] = [
    ("upgrade-path", Severity::Blocker, "the target cannot be reached from the current version in one step"),
    ("upgrade-target-unverified", Severity::Warning, "no upgrade path in the matrix covers the target"),
    ("peer-compatibility", Severity::Blocker, "a component would run outside another's supported range"),
    ("kubelet-skew", Severity::Blocker, "kubelets outside the version-skew policy of the target API server"),
    ("removed-api", Severity::Blocker, "objects or releases still use an API version removed at the target"),
    (
        "removed-api-no-replacement",
        Severity::Blocker,
        "objects or releases use an API removed at the target that has no replacement served there",
    ),
    ("deprecated-api", Severity::Warning, "objects or releases use an API version deprecated at the target"),
    ("values-required-key", Severity::Blocker, "a values file leaves out a key the component version needs"),
    ("values-floating-image-tag", Severity::Warning, "a values file sets a floating image tag"),
    ("values-renamed-key", Severity::Blocker, "a values file renames or drops a named entry the release has"),
    // Checks of a planned change (`check --manifest`; `eval::change`).
    ("immutable-field-change", Severity::Blocker, "the change edits a field the API server refuses to change"),
    ("ownership-conflict", Severity::Blocker, "a planned object exists but belongs to no release or another one"),
    ("kind-not-served", Severity::Blocker, "a planned object's kind or version is not served by the cluster"),
    (
        "crds-not-upgraded",
        Severity::Warning,
        "the chart's crds/ is newer than the cluster's CRDs; Helm never upgrades it",
    ),
    (
        "chart-kube-version",
        Severity::Blocker,
        "a chart's kubeVersion (--chart, or an installed release's) excludes the target or cluster Kubernetes",
    ),
    ("values-schema", Severity::Blocker, "the merged values violate the chart's values.schema.json"),
    (
        "deleted-still-referenced",
        Severity::Warning,
        "the change deletes an object that a remaining one still references",
    ),
];

/// Finding ids planning can produce, for `--only`/`--skip` and `list`.
pub fn finding_ids() -> impl Iterator<Item = &'static str> {
    FINDING_IDS.iter().map(|(id, _, _)| *id)
}
