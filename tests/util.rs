//! Harness: run the built binary with a clean environment and capture everything.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The date tests run on, as far as the data's age goes (`UPGRADE_PREFLIGHT_TODAY`).
pub const TODAY: &str = "2026-11-30";

/// The ids of the shipped matrices (`matrices/*.yaml`), sorted, comma-separated: the list
/// messages name as the known components.
pub fn builtin_components() -> String {
    let mut ids: Vec<String> = std::fs::read_dir(root().join("matrices"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".yaml").map(ToString::to_string))
        .collect();
    ids.sort();
    assert!(ids.len() >= 7, "{ids:?}");
    ids.join(", ")
}

/// What a run produced.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary with `args` from the repository root. No test can reach a cluster.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    run_env(args, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Out {
    run_cmd(args, env, true)
}

/// [`run`] with the system clock as the run's date (no `UPGRADE_PREFLIGHT_TODAY`).
pub fn run_system_clock<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    run_cmd(args, &[], false)
}

fn run_cmd<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)], fixed_date: bool) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upgrade-preflight"));
    cmd.args(args).current_dir(root()).env("KUBECONFIG", "/nonexistent").env_remove("NO_COLOR");
    // Tables are 120 columns wide unless a test sets COLUMNS.
    cmd.env_remove("COLUMNS");
    // Limits come from flags in tests unless a test sets them.
    for var in ["UPGRADE_PREFLIGHT_MAX_SNAPSHOT_MIB", "UPGRADE_PREFLIGHT_MAX_OBJECTS"] {
        cmd.env_remove(var);
    }
    // Matrices age against the run's date: a fixed one, so that reports do not change as time
    // passes ([`run_system_clock`] where the clock is the point).
    if fixed_date {
        cmd.env("UPGRADE_PREFLIGHT_TODAY", TODAY);
    } else {
        cmd.env_remove("UPGRADE_PREFLIGHT_TODAY");
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("binary runs");
    Out {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// Runs `check --snapshot PATH -o json EXTRA…` and parses the report.
pub fn check_json(snapshot: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["check", "--snapshot", snapshot, "-o", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", out.stdout, out.stderr));
    (out.code, v)
}

/// Finding ids in a JSON report, sorted and deduplicated.
pub fn finding_ids(report: &serde_json::Value) -> Vec<String> {
    let mut ids: Vec<String> =
        report["findings"].as_array().unwrap().iter().map(|f| f["checkId"].as_str().unwrap().to_string()).collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Writes `files` (relative path → contents) under a new temporary directory.
pub fn temp_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p: &Path = rel.as_ref();
        let full = dir.path().join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    dir
}

/// Writes an executable file through a child process. A file written by this (threaded)
/// test process could be held open by a sibling test's fork while we exec it, and exec
/// would fail with ETXTBSY; a `cat` child owns the only writable descriptor.
pub fn write_executable(path: &Path, contents: &[u8]) {
    use std::io::Write as _;
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(contents).unwrap();
    assert!(child.wait().unwrap().success(), "cannot write {}", path.display());
}

/// Copies a file (the built binary) through `cp`, for the same reason as [`write_executable`].
pub fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new("cp").arg(from).arg(to).status().unwrap();
    assert!(status.success(), "cp {} {}", from.display(), to.display());
}
