//! Resource limits on untrusted input: snapshot and data-file sizes, object counts, and
//! the YAML parser's budget (nesting depth, alias expansion — "billion laughs").
//!
//! Every limit here fails with a message that names the limit and, where one exists, the
//! flag or environment variable that raises it. This module only describes limits and
//! translates parser breaches into such messages; the loaders enforce them.
//!
//! Layer: ground. Imports nothing of this crate.

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, Error, Options};

/// Default largest snapshot file, in MiB (`--max-snapshot-mib`).
pub const DEFAULT_MAX_SNAPSHOT_MIB: u64 = 512;

/// Default most objects held from one snapshot or live collection (`--max-objects`).
pub const DEFAULT_MAX_OBJECTS: usize = 2_000_000;

/// Deepest nesting of mappings and sequences in any YAML input. The same bound as
/// `serde_json`'s recursion limit, so YAML and JSON snapshots accept the same objects.
pub const MAX_YAML_DEPTH: usize = 128;

/// Largest single object read from a snapshot, in bytes. The API server stores at most
/// about 1.5 MiB per object (etcd's request limit); anything far larger is not a real object
/// and is skipped on its own (named in the report) rather than failing its file or kind.
pub const MAX_OBJECT_BYTES: usize = 16 << 20;

/// Largest YAML text parsed as one tree: a document that cannot be split into list items
/// (it uses anchors, or a layout other than `kubectl -o yaml`'s) costs about eight times its
/// size as a tree, so beyond this it is refused with advice instead of exhausting memory.
pub const MAX_WHOLE_YAML_BYTES: usize = 64 << 20;

/// Most events alias references may replay in one snapshot file. `kubectl` never writes
/// aliases; hand-written YAML uses a few. A billion-laughs document stops here.
pub const MAX_SNAPSHOT_ALIAS_EVENTS: usize = 100_000;

/// Most events alias references may replay in one matrix or check file.
pub const MAX_DATA_ALIAS_EVENTS: usize = 10_000;

/// Stack for YAML parsing. The parser recurses once per nesting level, with large frames in
/// debug builds (about 25 KiB a level); parsing on a thread of its own with this stack keeps
/// [`MAX_YAML_DEPTH`] levels safe whatever stack the caller runs on (a 2 MiB test or tokio
/// thread). Only the pages actually touched are committed.
pub const PARSER_STACK_BYTES: usize = 64 << 20;

/// Longest CEL expression (`rule.cel`, `rule.message-expression`), in bytes. The built-in
/// rules are under 1 KiB; the CEL parser recurses per operator, so a 1 MiB chain of `+`
/// would exhaust any stack before its depth could be checked.
pub const MAX_CEL_SOURCE_BYTES: usize = 16 << 10;

/// Deepest CEL expression tree accepted (a chain `a + b + c` is as deep as it is long).
/// The built-in rules stay under 20.
pub const MAX_CEL_DEPTH: usize = 100;

/// Stack for CEL evaluation threads: the interpreter recurses once per level of the
/// expression, at up to 40 KiB a level in debug builds; [`MAX_CEL_DEPTH`] levels fit.
pub const EVAL_STACK_BYTES: usize = 16 << 20;

/// Largest data file (matrix or check) accepted, in bytes. Matrices and checks are small;
/// anything bigger is a mistake (or an attack) and is refused before parsing.
pub const MAX_DATA_FILE_BYTES: u64 = 1024 * 1024;

/// Largest `--values` file, in bytes.
pub const MAX_VALUES_FILE_BYTES: u64 = 16 << 20;

/// Most events alias references may replay in one `--values` file.
pub const MAX_VALUES_ALIAS_EVENTS: usize = 10_000;

/// Environment variable that sets `--max-snapshot-mib`.
pub const ENV_MAX_SNAPSHOT_MIB: &str = "UPGRADE_PREFLIGHT_MAX_SNAPSHOT_MIB";

/// Environment variable that sets `--max-objects`.
pub const ENV_MAX_OBJECTS: &str = "UPGRADE_PREFLIGHT_MAX_OBJECTS";

/// Limits on what one run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest snapshot file, in bytes.
    pub max_snapshot_bytes: u64,
    /// Most objects held (snapshot files together, or one live collection).
    pub max_objects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_snapshot_bytes: DEFAULT_MAX_SNAPSHOT_MIB << 20, max_objects: DEFAULT_MAX_OBJECTS }
    }
}

impl Limits {
    /// The error for a snapshot file over the size limit.
    #[must_use]
    pub fn snapshot_too_large(&self) -> String {
        format!(
            "file is larger than the {} snapshot file limit (raise it with --max-snapshot-mib or {ENV_MAX_SNAPSHOT_MIB})",
            human_bytes(self.max_snapshot_bytes)
        )
    }

    /// The error for more objects than the object limit.
    #[must_use]
    pub fn too_many_objects(&self) -> String {
        format!(
            "more than {} objects, the object limit (raise it with --max-objects or {ENV_MAX_OBJECTS})",
            self.max_objects
        )
    }
}

/// `512 MiB`, `1 MiB`, `300 KiB`, `17 bytes`.
#[must_use]
pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Reads a UTF-8 file of at most `max` bytes; `None` when it is larger. Reads at most one
/// byte past the limit, whatever the file claims to be (a device, a pipe, a growing file).
pub fn read_limited(path: &std::path::Path, max: u64) -> std::io::Result<Option<String>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > max) {
        return Ok(None);
    }
    String::from_utf8(bytes).map(Some).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Parser options for a snapshot file of `len` bytes. Counts that only grow with the input
/// (nodes, events, scalar bytes, documents) are bounded by the file size limit instead of
/// the parser's defaults (250,000 nodes, 1,024 documents would refuse a mid-sized cluster);
/// what amplifies input — nesting and alias expansion — keeps a fixed bound.
#[must_use]
pub fn snapshot_yaml_options(len: usize) -> Options {
    // Every node, event and document costs at least one input byte, and scalar text is
    // never longer than the input; only alias replays add more, so a breach of these means
    // amplification (a large anchored scalar replayed many times, say).
    let grows = len.saturating_add(MAX_SNAPSHOT_ALIAS_EVENTS).saturating_mul(2);
    let mut budget = Budget::default();
    budget.max_depth = MAX_YAML_DEPTH;
    budget.max_nodes = grows;
    budget.max_events = grows;
    budget.max_documents = grows;
    budget.max_total_scalar_bytes = len.saturating_add(1 << 20);
    options(budget, MAX_SNAPSHOT_ALIAS_EVENTS)
}

/// Parser options for a `--values` file of `len` bytes (at most [`MAX_VALUES_FILE_BYTES`]):
/// like a snapshot's, with the data files' alias bound, and one document.
#[must_use]
pub fn values_yaml_options(len: usize) -> Options {
    let mut o = snapshot_yaml_options(len);
    o.alias_limits.max_total_replayed_events = MAX_VALUES_ALIAS_EVENTS;
    if let Some(b) = o.budget.as_mut() {
        b.max_documents = 1;
    }
    o
}

/// Parser options for matrix and check files (at most [`MAX_DATA_FILE_BYTES`]).
#[must_use]
pub fn data_yaml_options() -> Options {
    let mut budget = Budget::default();
    budget.max_depth = MAX_YAML_DEPTH;
    budget.max_documents = 1;
    // Four times the largest file: room for a few aliases, not for amplification.
    budget.max_total_scalar_bytes = 4 << 20;
    options(budget, MAX_DATA_ALIAS_EVENTS)
}

fn options(budget: Budget, alias_events: usize) -> Options {
    let mut o = Options::default();
    o.budget = Some(budget);
    o.alias_limits.max_total_replayed_events = alias_events;
    o.alias_limits.max_replay_stack_depth = o.alias_limits.max_replay_stack_depth.min(MAX_YAML_DEPTH);
    o
}

std::thread_local! {
    /// True on a thread [`with_parser_stack`] started (it has the parser's stack).
    static ON_PARSER_STACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` (a YAML parse) on a scoped thread with a [`PARSER_STACK_BYTES`] stack, or right
/// here when this thread is already one (loading the catalog parses some 200 files and
/// expressions: one thread for all of them, not one each). `Err` only when the thread cannot
/// be started; a panic in `f` is resumed on the caller.
pub fn with_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> std::io::Result<T> {
    if ON_PARSER_STACK.with(std::cell::Cell::get) {
        return Ok(f());
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("yaml-parser".to_string())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, || {
                ON_PARSER_STACK.with(|on| on.set(true));
                f()
            })?;
        match handle.join() {
            Ok(v) => Ok(v),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A clear message for a parser error caused by a resource limit, else `None`. `what` names
/// the kind of file ("snapshot files", "matrix and check files").
#[must_use]
pub fn yaml_limit_message(e: &Error, what: &str) -> Option<String> {
    let mut e = e;
    while let Error::WithSnippet { error, .. } | Error::AliasError { error, .. } = e {
        e = error;
    }
    let fixed = format!("a fixed limit for {what}");
    let alias =
        |n: usize| format!("YAML aliases expand to more than {n} events (an alias bomb, \"billion laughs\"?); {fixed}");
    let msg = match e {
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => format!("YAML nested deeper than {MAX_YAML_DEPTH} levels; {fixed}"),
            BudgetBreach::Aliases { aliases } => format!("too many YAML aliases ({aliases}); {fixed}"),
            BudgetBreach::Anchors { anchors } => format!("too many YAML anchors ({anchors}); {fixed}"),
            BudgetBreach::AliasAnchorRatio { aliases, anchors } => format!(
                "{aliases} YAML aliases for {anchors} anchors looks like an alias bomb (\"billion laughs\"); {fixed}"
            ),
            BudgetBreach::RecordedAnchorEvents { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
                format!("YAML anchors retain too much to replay (an alias bomb?); {fixed}")
            }
            BudgetBreach::MergeKeys { merge_keys } => format!("too many YAML merge keys ({merge_keys}); {fixed}"),
            BudgetBreach::Documents { documents } => format!("too many YAML documents ({documents}); {fixed}"),
            BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } | BudgetBreach::ScalarBytes { .. } => {
                format!("YAML expands to far more than the file holds (an alias bomb, \"billion laughs\"?); {fixed}")
            }
            other => format!("YAML parser limit reached ({other:?}); {fixed}"),
        },
        Error::AliasReplayLimitExceeded { max_total_replayed_events, .. } => alias(*max_total_replayed_events),
        Error::AliasExpansionLimitExceeded { max_expansions_per_anchor, .. } => alias(*max_expansions_per_anchor),
        Error::AliasReplayStackDepthExceeded { max_depth, .. } => {
            format!("YAML aliases nest deeper than {max_depth} levels; {fixed}")
        }
        Error::AliasReplayCounterOverflow { .. } => alias(usize::MAX),
        _ => return None,
    };
    Some(msg)
}

/// serde-saphyr's message without its own " at line X, column Y" suffix and snippet: our
/// diagnostics carry the location in front, like a compiler. Texts that advise the
/// library's caller (`set DuplicateKeyPolicy in Options`, `use Option<String>`) are said in
/// the user's words instead.
#[must_use]
pub fn plain_yaml_message(e: &serde_saphyr::Error) -> String {
    if let Some(m) = user_words(e, true) {
        return m;
    }
    let msg = e.without_snippet().to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    msg.strip_prefix("error: ").unwrap_or(&msg).to_string()
}

/// The error itself, under the snippet and alias wrappers.
fn innermost(e: &Error) -> &Error {
    let mut inner = e;
    while let Error::WithSnippet { error, .. } | Error::AliasError { error, .. } = inner {
        inner = error;
    }
    inner
}

/// The user's words for the parser errors whose own text speaks to a programmer; `name_key`
/// says whether a duplicate key may be quoted (not for inputs that may hold secrets).
fn user_words(e: &Error, name_key: bool) -> Option<String> {
    let m = match innermost(e) {
        Error::DuplicateMappingKey { key: Some(k), .. } if name_key => format!("duplicate key \"{k}\""),
        Error::DuplicateMappingKey { .. } => "duplicate key".to_string(),
        Error::BinaryNotUtf8 { .. } => "a !!binary value is not UTF-8 text".to_string(),
        Error::NullIntoString { .. } => "null (empty) where text is expected".to_string(),
        Error::InvalidCharNull { .. } => "null (empty) where one character is expected".to_string(),
        Error::MergeKeyNotAllowed { .. } => "YAML merge keys (<<) are not accepted here".to_string(),
        Error::InvalidBooleanStrict { .. } => "not a boolean (expected true or false)".to_string(),
        Error::NonFiniteFloat { .. } => "a non-finite number (.nan, .inf) is not accepted here".to_string(),
        _ => return None,
    };
    Some(m)
}

/// A parser message with nothing of the input in it, for inputs that may hold secrets
/// (`--values` files, Helm release payloads, kubeconfigs): every quoted span (`"…"`, `` `…` ``,
/// `'…'`) is replaced by `…`, and a duplicate key is not named. The location, given beside
/// it, is what points the reader at the problem.
#[must_use]
pub fn input_free_yaml_message(e: &Error) -> String {
    if let Some(m) = user_words(e, false) {
        return m;
    }
    without_quoted(&plain_yaml_message(e))
}

/// `msg` with the text between each pair of quotes (`"`, `` ` ``, `'`) replaced by `…`; an
/// unpaired quote hides the rest of the message.
#[must_use]
pub fn without_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut open: Option<char> = None;
    for c in msg.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None if matches!(c, '"' | '`' | '\'') => {
                out.push(c);
                open = Some(c);
            }
            None => out.push(c),
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// Why base64 text does not decode, without the offending byte (it is part of the input).
#[must_use]
pub fn base64_reason(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, _) => format!("invalid character at offset {offset}"),
        base64::DecodeError::InvalidLength(_) => "invalid length".to_string(),
        base64::DecodeError::InvalidLastSymbol { offset, .. } => format!("invalid last character at offset {offset}"),
        base64::DecodeError::InvalidPadding => "invalid padding".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_quote_nothing() {
        assert_eq!(
            without_quoted("invalid type: string \"hunter2\", expected u64"),
            "invalid type: string \"…\", expected u64"
        );
        assert_eq!(without_quoted("a `x` b 'y' c \"z"), "a `…` b '…' c \"…");
        let dup = serde_saphyr::from_str::<serde_json::Value>("password: 1\npassword: hunter2\n").unwrap_err();
        assert!(dup.to_string().contains("password"), "the parser itself names the key: {dup}");
        assert_eq!(input_free_yaml_message(&dup), "duplicate key");
        assert_eq!(plain_yaml_message(&dup), "duplicate key \"password\"");
        let null = serde_saphyr::from_str::<Vec<String>>("- ~\n").unwrap_err();
        assert!(null.to_string().contains("Option<") && dup.to_string().contains("Options"), "{null} {dup}");
        for e in [&dup, &null] {
            for m in [plain_yaml_message(e), input_free_yaml_message(e)] {
                assert!(!m.contains("Options") && !m.contains("Option<") && !m.contains("Policy"), "{m}");
            }
        }
        let b64 = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, "aGk-").unwrap_err();
        assert!(b64.to_string().contains("45"), "{b64}");
        assert_eq!(base64_reason(&b64), "invalid character at offset 3");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(512 << 20), "512 MiB");
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(3 << 10), "3 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
