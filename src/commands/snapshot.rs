//! `snapshot`: capture what the checks need from a live cluster, Secret values removed.

use super::change::change_input;
use super::check::{collect_live, live_options};
use super::cli::{ChangeArgs, SnapshotArgs};
use super::output::{Destination, write_file};
use super::{catalog_and_selection, eprint, out, plan_request};
use crate::catalog::{Builtin, Rule};
use crate::inventory::redact::{Redactor, mounted_configmaps};
use crate::inventory::snapshot;
use crate::report::ExitStatus;
use crate::resource::GroupKind;

/// The `snapshot` subcommand.
pub(super) fn snapshot_cmd(a: &SnapshotArgs) -> ExitStatus {
    let (catalog, sel) = match catalog_and_selection(&a.data, &a.select) {
        Ok(cs) => cs,
        Err(s) => return s,
    };
    if a.live.context.len() > 1 {
        eprint("snapshot captures one cluster: give --context at most once");
        return ExitStatus::Invalid;
    }
    let file = match (&a.output_file, &a.output) {
        (Some(f), _) => f,
        (None, Some(f)) => {
            eprint(
                "warning: `snapshot -o FILE` is deprecated and goes away in the next release; use --output-file FILE",
            );
            f
        }
        // clap requires one of them; this is the message it would give.
        (None, None) => {
            eprint("snapshot needs --output-file FILE");
            return ExitStatus::Invalid;
        }
    };
    let req = match plan_request(&a.targets, &[], false, &catalog) {
        Ok(r) => r,
        Err(s) => return s,
    };
    let change_args = ChangeArgs {
        manifests: a.manifests.clone(),
        release: a.release.clone(),
        chart: None,
        no_cluster: false,
        pending_release: None,
    };
    let limits = crate::limits::Limits { max_objects: a.limits.max_objects, ..crate::limits::Limits::default() };
    let change = match change_input(&change_args, &req, &limits) {
        Ok(c) => c,
        Err(s) => return s,
    };
    // Checked before collecting: a run that cannot write its file fails fast. Snapshots are
    // created 0600 (they describe the cluster, and are attached to tickets).
    let dest = match Destination::prepare(file, true) {
        Ok(d) => d,
        Err(e) => {
            eprint(&e);
            return ExitStatus::Invalid;
        }
    };
    let inv = match collect_live(
        &live_options(&a.live, a.live.context.first(), a.limits.max_objects, &a.namespaces.namespaces),
        &catalog,
        &sel,
        &req,
        change.as_ref(),
    ) {
        Ok(i) => i,
        Err(s) => return s,
    };
    let mut inv = inv;
    if !a.no_redact {
        // ConfigMap values survive only where an enabled check reads them: the snapshot must
        // give the same findings as the live cluster. A CEL rule may read any ConfigMap; the
        // mounted-config-file built-in reads the ConfigMaps workloads mount.
        let configmap = GroupKind::new("", "ConfigMap");
        let enabled = || catalog.checks.values().filter(|c| sel.wants(&c.id));
        let keep = if enabled().any(|c| matches!(c.rule, Rule::Cel { .. }) && c.reads().contains(&configmap)) {
            None
        } else if enabled().any(|c| matches!(c.rule, Rule::Builtin(Builtin::MountedConfigFile(_)))) {
            Some(mounted_configmaps(&inv))
        } else {
            Some(Default::default())
        };
        let redacted = Redactor::new(keep).and_then(|r| inv.rewrite(|v| r.object(v)));
        if let Err(e) = redacted {
            eprint(&format!("cannot redact the snapshot: {e}"));
            return ExitStatus::Incomplete;
        }
    }
    let text = snapshot::write(&inv);
    if let Err(e) = write_file(dest, &text) {
        eprint(&e);
        return ExitStatus::Invalid;
    }
    let what = if a.no_redact {
        "Secret values removed"
    } else {
        "Secret values removed; env values, args, commands and unread ConfigMap values redacted"
    };
    let view = if inv.is_partial() { format!("; namespaces {} only", inv.view_label()) } else { String::new() };
    out(&format!("wrote {} objects to {} ({what}{view})\n", inv.len(), file.display()));
    ExitStatus::Go
}
