//! Embeds every `matrices/*.yaml` and `checks/*.yaml` into the binary.
//!
//! Writes `OUT_DIR/builtin.rs`: a sorted slice of `(virtual path, contents)` pairs, so the
//! loader treats built-in files exactly like user files and names them in diagnostics as
//! `builtin://checks/<id>.yaml`.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

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
    let dest = Path::new(&env::var("OUT_DIR").unwrap_or_else(|_| ".".to_string())).join("builtin.rs");
    if let Err(e) = fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
        std::process::exit(1);
    }
}
