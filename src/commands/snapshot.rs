//! `snapshot`: capture what the checks need from a live cluster, Secret values removed.

use super::check::{change_input, collect_live, live_options, write_file};
use super::cli::{ChangeArgs, SnapshotArgs};
use super::output::Destination;
use super::{catalog_and_selection, eprint, out, plan_request};
use crate::inventory::snapshot;
use crate::report::ExitStatus;

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
    let change_args =
        ChangeArgs { manifests: a.manifests.clone(), release: a.release.clone(), chart: None, no_cluster: false };
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
        &live_options(&a.live, a.live.context.first(), a.limits.max_objects),
        &catalog,
        &sel,
        &req,
        change.as_ref(),
    ) {
        Ok(i) => i,
        Err(s) => return s,
    };
    let text = snapshot::write(&inv);
    if let Err(e) = write_file(dest, &text) {
        eprint(&e);
        return ExitStatus::Invalid;
    }
    out(&format!("wrote {} objects to {} (Secret values removed)\n", inv.len(), file.display()));
    ExitStatus::Go
}
