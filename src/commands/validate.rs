//! `validate`: lint matrix and check files, every problem reported with file:line:column.

use super::cli::DataArgs;
use super::{load_catalog, out};
use crate::report::ExitStatus;

/// The `validate` subcommand.
pub(super) fn validate(d: &DataArgs) -> ExitStatus {
    match load_catalog(d) {
        Ok(c) => {
            let known_bad: usize = c.matrices.values().map(|m| m.known_bad.len()).sum();
            out(&format!(
                "ok: {} matrices ({} known-bad rules), {} checks\n",
                c.matrices.len(),
                known_bad,
                c.checks.len()
            ));
            ExitStatus::Go
        }
        Err(s) => s,
    }
}
