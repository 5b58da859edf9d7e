//! Orchestration: arguments → catalog → inventory → evaluation → report → exit status.
//! The only module (with `main.rs`) that prints.
//!
//! Layer: commands, the top. One module per subcommand (`check`, `snapshot`, `list` and
//! `explain`, `validate`, `rbac`, `docs` for completions and man pages); `cli` holds the
//! clap definitions. May import every other layer; nothing imports it but `main.rs`.

mod change;
mod check;
pub mod cli;
mod docs;
mod duration;
mod list;
mod namespaces;
mod output;
pub mod rbac;
mod snapshot;
mod validate;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;

use clap::{CommandFactory, FromArgMatches};

use crate::catalog::{Catalog, Sources};
use crate::commands::cli::{Cli, Command, DataArgs, SelectArgs};
use crate::eval::Selection;
use crate::eval::plan::{self, PlanRequest};
use crate::report::ExitStatus;

/// Runs one command and returns its exit status. Errors are printed to stderr here.
#[must_use]
pub fn run(cli: Cli) -> ExitStatus {
    match cli.command {
        Command::Check(a) => check::check(&a),
        Command::Snapshot(a) => snapshot::snapshot_cmd(&a),
        Command::Rbac(a) => rbac::command(&a),
        Command::Validate(d) => validate::validate(&d),
        Command::List(a) => list::list(&a),
        Command::Explain(a) => list::explain(&a),
        Command::Completions(a) => docs::completions(&a),
        Command::Man(a) => docs::man(&a),
    }
}

/// How help and usage name the program when it runs as a kubectl plugin: invoked as
/// `kubectl-upgrade_preflight` (kubectl maps `-` in a plugin command to `_` in its file
/// name), it is `kubectl upgrade-preflight`. `None` for any other name.
#[must_use]
pub fn plugin_name(argv0: &OsStr) -> Option<String> {
    let base = Path::new(argv0).file_name()?.to_str()?;
    let base = base.strip_suffix(".exe").unwrap_or(base);
    let rest = base.strip_prefix("kubectl-").filter(|r| !r.is_empty())?;
    Some(format!("kubectl {}", rest.replace('_', "-")))
}

/// The command-line definition, named after `argv0` (see [`plugin_name`]).
#[must_use]
pub fn command(argv0: Option<&OsStr>) -> clap::Command {
    let cmd = Cli::command();
    match argv0.and_then(plugin_name) {
        Some(name) => cmd.bin_name(name.clone()).display_name(name),
        None => cmd,
    }
}

/// Parses the process arguments, naming the program after `argv[0]`.
pub fn parse() -> Result<Cli, clap::Error> {
    let argv0 = std::env::args_os().next();
    let mut cmd = command(argv0.as_deref());
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

fn eprint(msg: &str) {
    let _ = writeln!(std::io::stderr(), "upgrade-preflight: {msg}");
}

/// How wide tables on stdout may be: `COLUMNS`, else the terminal's width, else 120.
fn table_width() -> u16 {
    crate::report::table::width(std::env::var("COLUMNS").ok().as_deref(), crate::report::table::terminal_width())
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

fn load_catalog(d: &DataArgs) -> Result<Catalog, ExitStatus> {
    Catalog::load(&Sources { matrices: d.matrices.clone(), checks: d.checks.clone() }).map_err(|e| {
        eprint(&e.to_string());
        ExitStatus::Invalid
    })
}

fn selection(a: &SelectArgs, catalog: &Catalog) -> Result<Selection, ExitStatus> {
    let known = catalog.finding_ids();
    let only: BTreeSet<String> = a.only.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let skip: BTreeSet<String> = a.skip.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    let unknown: Vec<&String> = only.iter().chain(&skip).filter(|id| !known.contains(*id)).collect();
    if !unknown.is_empty() {
        let known: Vec<String> = known.into_iter().collect();
        let names: Vec<String> = unknown.iter().map(|s| format!("{s}{}", did_you_mean(s, &known))).collect();
        eprint(&format!("unknown check id(s): {} (run `upgrade-preflight list` to see them all)", names.join(", ")));
        return Err(ExitStatus::Invalid);
    }
    Ok(Selection { only, skip })
}

/// The catalog and a validated check selection, or the exit status after printing why not.
fn catalog_and_selection(data: &DataArgs, select: &SelectArgs) -> Result<(Catalog, Selection), ExitStatus> {
    let catalog = load_catalog(data)?;
    let sel = selection(select, &catalog)?;
    Ok((catalog, sel))
}

/// Parses `--target`/`--values` (reading the values files); every error is printed, exit 2.
fn plan_request(
    targets: &[String],
    values: &[String],
    reuse_values: bool,
    catalog: &Catalog,
) -> Result<PlanRequest, ExitStatus> {
    let mut req = PlanRequest { reuse_values, ..PlanRequest::default() };
    let mut errors = Vec::new();
    for t in targets {
        // `release:NS/NAME=pending`: the chart version Helm is upgrading to right now, read
        // from the release's pending-upgrade revision once the cluster is read (see
        // [`resolve_pending`]); a placeholder version until then.
        let pending = t.strip_suffix("=pending").filter(|k| k.trim_start().starts_with("release:"));
        let parsed = match pending {
            Some(key) => plan::parse_target(&format!("{key}=0.0.0"), catalog).map(|mut t| {
                t.raw = PENDING.to_string();
                t
            }),
            None => plan::parse_target(t, catalog),
        };
        match parsed {
            Ok(t) => req.targets.push(t),
            Err(e) => errors.push(e),
        }
    }
    for v in values {
        match plan::parse_values(v) {
            Ok(v) => req.values.push(v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(req)
    } else {
        for e in errors {
            eprint(&e);
        }
        Err(ExitStatus::Invalid)
    }
}

/// `" (did you mean x?)"` when one of `known` is close to `word` (a typo, a missing or extra
/// part of a kebab-case id), else empty.
fn did_you_mean(word: &str, known: &[String]) -> String {
    let close: Vec<&str> = known
        .iter()
        .map(|k| (edit_distance(word, k), k.as_str()))
        .filter(|(d, k)| *d <= (word.len().max(k.len()) / 4).max(2) || (word.len() >= 4 && k.contains(word)))
        .min_by_key(|(d, k)| (*d, *k))
        .map(|(_, k)| k)
        .into_iter()
        .collect();
    match close.first() {
        Some(k) => format!(" (did you mean {k}?)"),
        None => String::new(),
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The version of a `release:NS/NAME=pending` target as written.
const PENDING: &str = "pending";

/// Fills in `release:NS/NAME=pending` targets: the chart version of the release's newest
/// revision when Helm has it as `pending-upgrade` (a pre-upgrade hook runs exactly then).
/// Anything else is an error naming the release and its state (exit 2).
fn resolve_pending(req: &mut PlanRequest, inv: &crate::inventory::Inventory) -> Result<(), String> {
    use crate::eval::plan::TargetKey;
    use serde_json::Value;
    for t in req.targets.iter_mut().filter(|t| t.raw == PENDING) {
        let TargetKey::Release { namespace, name } = &t.key else { continue };
        let shown = format!("{}{name}", namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default());
        if let Some(why) = inv.outside_view(namespace.as_deref()) {
            return Err(format!(
                "--target release:{shown}=pending: {why}; add -n {}",
                namespace.as_deref().unwrap_or_default()
            ));
        }
        let newest: Vec<Value> = inv
            .objects(&crate::inventory::helm::group_kind())
            .iter()
            .filter(|o| namespace.is_none() || o.namespace == *namespace)
            .map(crate::inventory::Object::value)
            .filter(|v| v.pointer("/spec/release").and_then(Value::as_str) == Some(name.as_str()))
            .filter(|v| v.pointer("/spec/latest").and_then(Value::as_bool) == Some(true))
            .collect();
        let [release] = newest.as_slice() else {
            return Err(if newest.is_empty() {
                let place = if inv.is_partial() {
                    format!("namespace(s) {} (the only ones read)", inv.view_label())
                } else {
                    "the cluster".to_string()
                };
                format!("--target release:{shown}=pending: no Helm release {shown} in {place}")
            } else {
                format!(
                    "--target release:{shown}=pending: release {name} is in several namespaces; give NAMESPACE/{name}"
                )
            });
        };
        let status = release.pointer("/spec/status").and_then(Value::as_str).unwrap_or("unknown");
        let chart = release.pointer("/spec/chart/version").and_then(Value::as_str).unwrap_or_default();
        if status != "pending-upgrade" {
            return Err(format!(
                "--target release:{shown}=pending: its newest revision is {status}, not pending-upgrade ('pending' is for a pre-upgrade hook; otherwise give the chart version)"
            ));
        }
        match crate::version::parse(chart) {
            crate::version::Parsed::Version(v) => {
                t.version = v;
                t.raw = chart.to_string();
            }
            _ => {
                return Err(format!(
                    "--target release:{shown}=pending: the pending chart version '{chart}' is not a release version"
                ));
            }
        }
    }
    Ok(())
}

/// The environment variable that sets the date matrices age against (`YYYY-MM-DD`), for a
/// reproducible report; without it, today's date by the system clock (UTC).
pub const ENV_TODAY: &str = "UPGRADE_PREFLIGHT_TODAY";

/// The run's date in days since 1970-01-01: [`ENV_TODAY`] when set, else the system clock.
/// The data ages against the world, never against the snapshot's capture time. A value that
/// is not a date is printed and is exit 2.
fn run_date() -> Result<i64, ExitStatus> {
    if let Some(v) = std::env::var_os(ENV_TODAY) {
        let v = v.to_string_lossy();
        return crate::civil::parse_date(&v).ok_or_else(|| {
            eprint(&format!("{ENV_TODAY}: '{v}' is not a date (YYYY-MM-DD)"));
            ExitStatus::Invalid
        });
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(i64::try_from(secs / 86_400).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::{did_you_mean, edit_distance, plugin_name};

    #[test]
    fn suggestions_for_unknown_ids() {
        let known: Vec<String> =
            ["nodes-not-ready", "nodes-cordoned", "haraka-pinned-version", "rancher"].map(String::from).to_vec();
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(did_you_mean("node-not-ready", &known), " (did you mean nodes-not-ready?)");
        assert_eq!(did_you_mean("haraka-pinned", &known), " (did you mean haraka-pinned-version?)");
        assert_eq!(did_you_mean("rancherr", &known), " (did you mean rancher?)");
        assert_eq!(did_you_mean("something-else-entirely", &known), "");
    }

    #[test]
    fn kubectl_plugin_names() {
        let name = |s: &str| plugin_name(OsStr::new(s));
        assert_eq!(name("/home/u/.krew/bin/kubectl-upgrade_preflight").as_deref(), Some("kubectl upgrade-preflight"));
        assert_eq!(name("kubectl-upgrade_preflight.exe").as_deref(), Some("kubectl upgrade-preflight"));
        assert_eq!(name("kubectl-preflight").as_deref(), Some("kubectl preflight"));
        assert_eq!(name("upgrade-preflight"), None);
        assert_eq!(name("/usr/bin/kubectl-"), None);
    }
}
