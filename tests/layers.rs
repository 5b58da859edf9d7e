//! The layering rule of `src/` (README "Architecture"): top-level modules import only from
//! layers below them, so there is no cycle among them. This reads the `crate::` paths of
//! every file under `src/` (comments and string literals excluded) and fails on a cycle, on
//! an import that points up, and on a module missing from [`LAYERS`].
//!
//! It also keeps files small: a file over [`MAX_LINES`] lines must say in its header (the
//! `//!` lines) which one job it does, as `One job: …`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, lowest layer first; modules in one layer may not import each other.
const LAYERS: &[&[&str]] =
    &[&["resource", "version", "limits", "civil"], &["catalog"], &["inventory"], &["eval"], &["report"], &["commands"]];

/// Longest file that needs no `One job:` line in its header.
const MAX_LINES: usize = 600;

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments and the contents of string and char literals blanked (each
/// replaced by spaces), so that `crate::` in a doc comment or a message is not an import.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        match (b[i], b.get(i + 1).copied()) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        blank(&mut out, b[i]);
                        i += 1;
                    }
                }
            }
            // Raw strings: r"…", r#"…"#, br#"…"#.
            (b'r', Some(b'"' | b'#')) if i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {
                let mut j = i + 1;
                while b.get(j) == Some(&b'#') {
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push(b[i]);
                    i += 1;
                    continue;
                }
                let hashes = j - i - 1;
                let mut end = j + 1;
                while end < b.len()
                    && !(b[end] == b'"' && b[end + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes)
                {
                    end += 1;
                }
                let end = (end + 1 + hashes).min(b.len());
                for &c in &b[i..end] {
                    blank(&mut out, c);
                }
                i = end;
            }
            (b'"', _) => {
                blank(&mut out, b[i]);
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        blank(&mut out, b[i]);
                        i += 1;
                    }
                    blank(&mut out, b[i]);
                    i += 1;
                }
                if i < b.len() {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            // A char literal ('x', '\n', '\''), not a lifetime ('a).
            (b'\'', Some(c)) if c == b'\\' || b.get(i + 2) == Some(&b'\'') => {
                let end = if c == b'\\' {
                    b[i + 2..].iter().position(|&c| c == b'\'').map_or(b.len(), |p| i + 3 + p)
                } else {
                    i + 3
                };
                for &c in &b[i..end.min(b.len())] {
                    blank(&mut out, c);
                }
                i = end.min(b.len());
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level modules named by `crate::` paths in `code`, with the line of each use.
/// Handles `crate::a::b`, `crate::{a::b, c::{d, e}}` and `crate :: a`.
fn crate_imports(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(p) = code[from..].find("crate") {
        let start = from + p;
        from = start + 5;
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = code[start + 5..].trim_start();
        let Some(rest) = rest.strip_prefix("::") else { continue };
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // The first path segment of each item at depth 0 of the group.
            let mut depth = 0;
            let mut item_start = true;
            let mut word = String::new();
            for c in group.chars() {
                if item_start && depth == 0 && (c.is_alphanumeric() || c == '_') {
                    word.push(c);
                    continue;
                }
                if !word.is_empty() {
                    out.push((std::mem::take(&mut word), line));
                    item_start = false;
                }
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    _ => {}
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.push((name, line));
            }
        }
    }
    out
}

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

struct Graph {
    /// module → (imported module → first place it is imported, as `file:line`).
    edges: BTreeMap<String, BTreeMap<String, String>>,
}

fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    files.sort();
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in &files {
        let Some(from) = module_of(src, f) else { continue };
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        let entry = edges.entry(from.clone()).or_default();
        for (to, line) in crate_imports(&code) {
            if to != from && to != "self" {
                entry.entry(to).or_insert_with(|| format!("{}:{line}", f.display()));
            }
        }
    }
    Graph { edges }
}

/// Every cycle among the modules, as a path `a → b → … → a` (one per strongly connected
/// component of more than one module).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = g.edges.keys().chain(g.edges.values().flat_map(BTreeMap::keys)).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for next in g.edges.get(&n).into_iter().flat_map(BTreeMap::keys) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if done.contains(n) {
            continue;
        }
        let from_n = reach(n);
        if !from_n.contains(n) {
            continue;
        }
        // The component of n: modules that reach n and that n reaches.
        let comp: Vec<String> = from_n.iter().filter(|m| reach(m).contains(n)).cloned().collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn top_level_modules_form_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&src);
    let mut problems = Vec::new();
    for comp in cycles(&g) {
        problems.push(format!("cycle among top-level modules: {}", comp.join(" ↔ ")));
    }
    for (from, tos) in &g.edges {
        let Some(rf) = rank(from) else {
            problems.push(format!("module '{from}' is not in the LAYERS table of tests/layers.rs"));
            continue;
        };
        for (to, at) in tos {
            match rank(to) {
                None => problems.push(format!("{at}: '{from}' imports '{to}', which is not in the LAYERS table")),
                Some(rt) if rt >= rf => {
                    problems.push(format!("{at}: '{from}' imports '{to}', which is not in a lower layer"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
}

#[test]
fn long_files_say_their_one_job() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut long = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines = text.lines().count();
        let header_says = text.lines().take_while(|l| l.starts_with("//!")).any(|l| l.contains("One job:"));
        if lines > MAX_LINES && !header_says {
            long.push(format!("{} has {lines} lines and no `One job:` line in its header", f.display()));
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

// The checker itself must be able to fail.

#[test]
fn imports_are_read_from_code_only() {
    let code = code_only(
        "use crate::a::X;\n// crate::b::Y\n/* crate::c */\nlet s = \"crate::d\";\nlet r = r#\"crate::e\"#;\nlet c = '\"'; crate::f::g();\nfn t<'a>(x: &'a str) { crate :: h ::i }\nuse crate::{j::K, l, m::{n, o}};\n",
    );
    let names: Vec<String> = crate_imports(&code).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "f", "h", "j", "l", "m"]);
}

#[test]
fn a_cycle_and_an_upward_import_are_found() {
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, b) in [("catalog", "eval"), ("eval", "catalog"), ("eval", "inventory"), ("report", "eval")] {
        edges.entry(a.into()).or_default().insert(b.into(), String::new());
    }
    let found = cycles(&Graph { edges });
    assert_eq!(found, vec![vec!["catalog".to_string(), "eval".to_string()]]);
    assert!(rank("catalog") < rank("eval"), "catalog → eval points up");
}
