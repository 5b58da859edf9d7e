//! The catalog: every matrix and check the run uses, parsed, validated and cross-checked.
//!
//! Built-in files (embedded at build time by `build.rs`) and user directories
//! (`--matrices DIR`, `--checks DIR`) go through the same loader. A user file replaces the
//! built-in with the same id. All problems across all files are collected before the load
//! fails, each as a [`Diagnostic`] naming `file:line:column`.
//!
//! Layer: catalog. Owns the data definitions — matrices, checks, the names and parameter
//! schemas of built-in evaluators (`builtin_def`) and of planning rules (`planning`), never
//! their code. Imports only the ground layer (`resource`, `version`, `limits`).

pub mod builtin_def;
mod check_def;
mod describe;
mod matrix;
pub mod planning;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_saphyr::{Location, Spanned};

pub use builtin_def::{BackupAge, Builtin, CertificateExpiry, MountedConfig};
pub use check_def::{Check, ResourceSel, Rule, When, cel_depth, cel_env, compile_checked};
pub use describe::{RuleInfo, RuleKind};
pub use matrix::{
    ApiRemoval, ChartVersionField, DetectSource, FieldSource, HelmReleaseSource, ImageSource, KnownBad, Matrix,
    Pinning, RenamedKey, Replacement, RequiredKey, SupportedPeer, UpgradePath, UpgradePolicy, ValuesRules,
    VersionSuffix,
};

mod builtin_files {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

pub use crate::limits::MAX_DATA_FILE_BYTES;
pub use crate::limits::plain_yaml_message;

/// How bad a finding is. Ordered: `Info < Warning < Blocker`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never changes the verdict.
    Info,
    /// GO with warnings (NO-GO with `--fail-on warning`).
    Warning,
    /// NO-GO.
    Blocker,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Blocker => "blocker",
        })
    }
}

/// One problem in a data file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// File path, or `builtin://…` for embedded files.
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
    /// What is wrong, naming the field.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: {}", self.file, self.line, self.column, self.message)
    }
}

/// The catalog failed to load; every diagnostic is listed.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in matrix/check files:\n{}", .0.len(), render(.0))]
pub struct CatalogError(pub Vec<Diagnostic>);

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// Collects diagnostics for one file.
pub(crate) struct Sink<'a> {
    file: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Sink<'_> {
    pub(crate) fn at(&mut self, loc: &Location, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
        });
    }

    pub(crate) fn spanned<T>(&mut self, s: &Spanned<T>, message: impl Into<String>) {
        self.at(&s.referenced, message);
    }
}

/// Everything the run evaluates.
#[derive(Default)]
pub struct Catalog {
    /// Components by id.
    pub matrices: BTreeMap<String, Matrix>,
    /// Checks by id.
    pub checks: BTreeMap<String, Check>,
}

/// Where to find data beyond the built-ins.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Extra matrix directories, in order; later ones override earlier ones.
    pub matrices: Vec<PathBuf>,
    /// Extra check directories, in order.
    pub checks: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Matrix,
    Check,
}

impl Catalog {
    /// Sets the warning window of every `certificate-expiry` rule (`check --cert-days`),
    /// replacing the `warn-days` of the check files.
    pub fn set_certificate_warn_days(&mut self, days: u32) {
        for check in self.checks.values_mut() {
            if let Rule::Builtin(Builtin::CertificateExpiry(p)) = &mut check.rule {
                p.warn_days = days;
            }
        }
    }

    /// Loads the built-ins, then the user directories, and validates the result.
    pub fn load(sources: &Sources) -> Result<Self, CatalogError> {
        // Every YAML file and CEL expression is parsed on one thread with the parser's stack
        // (else each parse starts its own); without it, each does.
        crate::limits::with_parser_stack(|| Self::load_here(sources)).unwrap_or_else(|_| Self::load_here(sources))
    }

    fn load_here(sources: &Sources) -> Result<Self, CatalogError> {
        let mut files: Vec<(FileKind, String, String, bool)> = Vec::new();
        let mut diags = Vec::new();
        for (path, text) in builtin_files::FILES {
            let kind = if path.starts_with("builtin://matrices/") { FileKind::Matrix } else { FileKind::Check };
            files.push((kind, (*path).to_string(), (*text).to_string(), true));
        }
        for (kind, dirs) in [(FileKind::Matrix, &sources.matrices), (FileKind::Check, &sources.checks)] {
            for dir in dirs {
                read_dir(dir, kind, &mut files, &mut diags);
            }
        }

        let mut catalog = Catalog::default();
        // id -> (origin, builtin)
        let mut seen: BTreeMap<(bool, String), (String, bool)> = BTreeMap::new();
        for (kind, path, text, builtin) in &files {
            let mut sink = Sink { file: path, diags: &mut diags };
            let stem = file_stem(path);
            let parsed = match kind {
                FileKind::Matrix => {
                    matrix::parse(text, &stem, &mut sink).map(|m| (m.id.clone(), Parsed::M(Box::new(m))))
                }
                FileKind::Check => {
                    check_def::parse(text, &stem, &mut sink).map(|c| (c.id.clone(), Parsed::C(Box::new(c))))
                }
            };
            let Some((id, item)) = parsed else { continue };
            let key = (*kind == FileKind::Matrix, id.clone());
            if let Some((prev, prev_builtin)) = seen.get(&key)
                && (!*prev_builtin || *builtin)
            {
                sink.at(&Location::UNKNOWN, format!("duplicate id '{id}', also defined in {prev}"));
                continue;
            }
            seen.insert(key, (path.clone(), *builtin));
            match item {
                Parsed::M(m) => {
                    catalog.matrices.insert(id, *m);
                }
                Parsed::C(c) => {
                    catalog.checks.insert(id, *c);
                }
            }
        }
        catalog.cross_check(&mut diags);
        if diags.is_empty() {
            Ok(catalog)
        } else {
            diags.sort();
            diags.dedup();
            Err(CatalogError(diags))
        }
    }

    /// References between files: components named by checks, checks named by matrices, and
    /// one namespace shared by check ids and known-bad ids (both appear as finding ids).
    fn cross_check(&self, diags: &mut Vec<Diagnostic>) {
        let components: BTreeSet<&str> = self.matrices.keys().map(String::as_str).collect();
        let mut push = |file: &str, loc: &Location, message: String| {
            diags.push(Diagnostic { file: file.to_string(), line: loc.line(), column: loc.column(), message });
        };
        for c in self.checks.values() {
            for (name, loc) in c.component_refs() {
                if !components.contains(name.as_str()) {
                    push(&c.origin, &loc, format!("unknown component '{name}' (known: {})", join(&components)));
                }
            }
        }
        let mut finding_ids: BTreeMap<&str, &str> =
            self.checks.iter().map(|(id, c)| (id.as_str(), c.origin.as_str())).collect();
        for c in self.checks.values() {
            if planning::finding_ids().any(|p| p == c.id) {
                push(&c.origin, &c.id_location(), format!("check id '{}' is reserved for upgrade planning", c.id));
            }
        }
        for m in self.matrices.values() {
            for kb in &m.known_bad {
                if let Some((check, loc)) = &kb.requires_check
                    && !self.checks.contains_key(check)
                {
                    push(&m.origin, loc, format!("known-bad '{}' requires unknown check '{check}'", kb.id));
                }
                if let Some(other) = finding_ids.insert(&kb.id, &m.origin) {
                    push(&m.origin, &kb.location, format!("known-bad id '{}' is already used in {other}", kb.id));
                }
            }
            for (g, loc) in m.upgrade.gates.iter().zip(&m.upgrade.gate_locations) {
                if !self.checks.contains_key(g) {
                    push(&m.origin, loc, format!("upgrade.gates names unknown check '{g}'"));
                }
            }
            for p in &m.supported_peers {
                if !components.contains(p.component.as_str()) {
                    push(&m.origin, &p.location, format!("supported-peers names unknown component '{}'", p.component));
                }
            }
        }
    }

    /// Ids of every check and known-bad entry; what `--only`/`--skip` accept.
    #[must_use]
    pub fn finding_ids(&self) -> BTreeSet<String> {
        let mut ids: BTreeSet<String> = self.checks.keys().cloned().collect();
        ids.extend(planning::finding_ids().map(ToString::to_string));
        for m in self.matrices.values() {
            ids.extend(m.known_bad.iter().map(|k| k.id.clone()));
            // A pin is a rule only with a range; floating-tag drift alone belongs to the
            // `floating-image-tags` check.
            if m.pinning.as_ref().is_some_and(|p| p.range.is_some()) {
                ids.insert(m.pin_id());
            }
        }
        ids
    }
}

enum Parsed {
    M(Box<Matrix>),
    C(Box<Check>),
}

fn join(set: &BTreeSet<&str>) -> String {
    set.iter().copied().collect::<Vec<_>>().join(", ")
}

fn file_stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml")).unwrap_or(name).to_string()
}

fn read_dir(
    dir: &Path,
    kind: FileKind,
    files: &mut Vec<(FileKind, String, String, bool)>,
    diags: &mut Vec<Diagnostic>,
) {
    let diag = |message: String| Diagnostic { file: dir.display().to_string(), line: 0, column: 0, message };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(diag(format!("cannot read directory: {e}")));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        diags.push(diag("no .yaml files in directory".to_string()));
    }
    for p in paths {
        let shown = p.display().to_string();
        match crate::limits::read_limited(&p, MAX_DATA_FILE_BYTES) {
            Ok(Some(text)) => files.push((kind, shown, text, false)),
            Ok(None) => diags.push(Diagnostic {
                file: shown,
                line: 0,
                column: 0,
                message: format!(
                    "file is larger than {}, the limit for matrix and check files (split it into several files)",
                    crate::limits::human_bytes(MAX_DATA_FILE_BYTES)
                ),
            }),
            Err(e) => {
                diags.push(Diagnostic { file: shown, line: 0, column: 0, message: format!("cannot read file: {e}") })
            }
        }
    }
}

/// Most problems reported for one file's structure before giving up on it.
const MAX_STRUCTURE_ERRORS: usize = 50;

/// Parser messages after which the rest of the file can still be read once the offending
/// entry is set aside. Syntax errors are not among them: what follows one is guesswork.
const RECOVERABLE: [&str; 6] =
    ["unknown field", "unknown variant", "invalid type", "invalid value", "invalid length", "duplicate field"];

/// Parses YAML into `T`, reporting each syntax or schema error at its location. The parser
/// stops at the first error; to report every error of a file in one run, the offending
/// entry (its line and the lines indented below it) is commented out, keeping every other
/// line and column where it was, and the file is parsed again. `None` when anything was
/// reported.
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned + Send>(text: &str, sink: &mut Sink<'_>) -> Option<T> {
    // The file with entries set aside, once there was an error, and the keys set aside.
    let mut masked: Option<Vec<String>> = None;
    let mut masked_keys: BTreeSet<String> = BTreeSet::new();
    for _ in 0..MAX_STRUCTURE_ERRORS {
        let joined = masked.as_ref().map(|lines| lines.join("\n"));
        let src = joined.as_deref().unwrap_or(text);
        let parsed = crate::limits::with_parser_stack(|| {
            serde_saphyr::from_str_with_options::<T>(src, crate::limits::data_yaml_options())
        });
        let e = match parsed {
            Err(e) => {
                sink.at(&Location::UNKNOWN, format!("cannot start the YAML parser: {e}"));
                return None;
            }
            Ok(Ok(v)) => return masked.is_none().then_some(v),
            Ok(Err(e)) => e,
        };
        let msg =
            crate::limits::yaml_limit_message(&e, "matrix and check files").unwrap_or_else(|| plain_yaml_message(&e));
        // A required key we set aside is missing now: not the user's error, and nothing
        // after it can be reached.
        if let Some(field) = msg.strip_prefix("missing field `").and_then(|m| m.split('`').next())
            && masked_keys.contains(field)
        {
            return None;
        }
        let loc = e.location();
        sink.at(&loc.unwrap_or(Location::UNKNOWN), msg.clone());
        let loc = loc.filter(|_| RECOVERABLE.iter().any(|p| msg.starts_with(p)))?;
        let lines = masked.get_or_insert_with(|| text.lines().map(ToString::to_string).collect());
        if !mask_entry(lines, loc.line(), &mut masked_keys) {
            return None;
        }
    }
    None
}

/// Comments out the entry on 1-based `line` and the lines indented below it; records the
/// keys set aside. `false` when there was nothing left to set aside there.
fn mask_entry(lines: &mut [String], line: u64, keys: &mut BTreeSet<String>) -> bool {
    let Some(first) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else { return false };
    let Some(start) = lines.get(first) else { return false };
    let trimmed = start.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return false;
    }
    let indent = start.len() - trimmed.len();
    let mut end = first + 1;
    while let Some(l) = lines.get(end) {
        let t = l.trim_start();
        if !t.is_empty() && !t.starts_with('#') && l.len() - t.len() <= indent {
            break;
        }
        end += 1;
    }
    for l in &mut lines[first..end] {
        let t = l.trim_start().trim_start_matches("- ");
        if let Some((key, _)) = t.split_once(':') {
            keys.insert(key.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
        }
        *l = "#".to_string();
    }
    true
}

/// Parses and validates one data file on its own — no built-ins, no references to other
/// files — and returns the diagnostics `validate` would print for it (none: the file is
/// valid by itself). `is_matrix` picks the schema; `path` names the file in diagnostics, and
/// its stem must equal the id, as on disk. For tools and fuzzing.
#[must_use]
pub fn validate_text(is_matrix: bool, path: &str, text: &str) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut sink = Sink { file: path, diags: &mut diags };
    let stem = file_stem(path);
    if is_matrix {
        let _ = matrix::parse(text, &stem, &mut sink);
    } else {
        let _ = check_def::parse(text, &stem, &mut sink);
    }
    diags
}
