//! Embeds every `matrices/*.yaml` and `checks/*.yaml` into the binary.
//!
//! Writes `OUT_DIR/builtin.rs`: a sorted slice of `(virtual path, contents)` pairs, so the
//! loader treats built-in files exactly like user files and names them in diagnostics as
//! `builtin://checks/<id>.yaml`.
//!
//! Also sets what `--version` prints beyond the version: `UPGRADE_PREFLIGHT_COMMIT` (the git
//! commit; from `.cargo_vcs_info.json` in a crate package, `unknown` in a tarball without
//! either) and `UPGRADE_PREFLIGHT_DATA_DATE` (the date of the newest change to the compiled-in
//! matrices and checks: that variable when set, else its git commit date, else the newest
//! file's modification date, else `unknown`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use std::{env, fs};

// The calendar arithmetic the crate uses for capture times, shared by path.
// Only from_days is needed here; the rest serves the crate (matrix dates).
#[allow(dead_code)]
#[path = "src/civil.rs"]
mod civil;

fn main() {
    let root = env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_string());
    let mut out = String::from(
        "/// Built-in data files: (virtual path, contents), sorted by path.\npub static FILES: &[(&str, &str)] = &[\n",
    );
    for dir in ["matrices", "checks"] {
        println!("cargo:rerun-if-changed={dir}");
        let path = Path::new(&root).join(dir);
        let Ok(entries) = fs::read_dir(&path) else { continue };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let _ = writeln!(out, "    (\"builtin://{dir}/{name}\", include_str!({:?})),", f.display().to_string());
        }
    }
    out.push_str("];\n");
    let root = Path::new(&root);
    let commit = git(root, &["rev-parse", "--short=12", "HEAD"]).or_else(|| vcs_info_commit(root));
    println!("cargo:rustc-env=UPGRADE_PREFLIGHT_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
    // An explicit date wins (scripts/dist sets it from the checkout when it builds from the
    // source package, whose files cargo stamps with one fixed date).
    println!("cargo:rerun-if-env-changed=UPGRADE_PREFLIGHT_DATA_DATE");
    let date = env::var("UPGRADE_PREFLIGHT_DATA_DATE")
        .ok()
        .filter(|d| !d.is_empty())
        .or_else(|| git(root, &["log", "-1", "--format=%cs", "--", "matrices", "checks"]).filter(|d| !d.is_empty()))
        .or_else(|| newest_mtime(root))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=UPGRADE_PREFLIGHT_DATA_DATE={date}");
    rerun_on_commit(root);
    let dest = Path::new(&env::var("OUT_DIR").unwrap_or_else(|_| ".".to_string())).join("builtin.rs");
    if let Err(e) = fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
        std::process::exit(1);
    }
}

/// `git ARGS` in `root`, trimmed; `None` without git or outside a repository.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit `cargo package` recorded (`{"git": {"sha1": "…"}}`), shortened.
fn vcs_info_commit(root: &Path) -> Option<String> {
    let text = fs::read_to_string(root.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + 6..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..].chars().take_while(char::is_ascii_hexdigit).take(12).collect();
    (sha.len() == 12).then_some(sha)
}

/// The newest modification date (UTC, `YYYY-MM-DD`) among the data files.
fn newest_mtime(root: &Path) -> Option<String> {
    let mut newest: Option<SystemTime> = None;
    for dir in ["matrices", "checks"] {
        for e in fs::read_dir(root.join(dir)).ok()?.filter_map(Result::ok) {
            if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                newest = Some(newest.map_or(m, |n| n.max(m)));
            }
        }
    }
    let secs = newest?.duration_since(UNIX_EPOCH).ok()?.as_secs();
    // `cargo package` stamps every file with 2006-07-24T01:21:28Z: no date at all.
    if secs == 1_153_704_088 {
        return None;
    }
    let days = i64::try_from(secs / 86_400).ok()?;
    Some(civil(days))
}

/// Days since 1970-01-01 as `YYYY-MM-DD`.
fn civil(days: i64) -> String {
    let (y, m, d) = civil::from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Rebuild when HEAD moves: HEAD itself (a branch switch) and the branch's ref (a commit).
fn rerun_on_commit(root: &Path) {
    let (Some(git_dir), Some(common)) =
        (git(root, &["rev-parse", "--absolute-git-dir"]), git(root, &["rev-parse", "--git-common-dir"]))
    else {
        return;
    };
    let common = if Path::new(&common).is_absolute() { Path::new(&common).to_path_buf() } else { root.join(common) };
    println!("cargo:rerun-if-changed={git_dir}/HEAD");
    println!("cargo:rerun-if-changed={}", common.join("packed-refs").display());
    if let Some(r) = git(root, &["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={}", common.join(r).display());
    }
}
