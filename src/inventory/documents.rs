//! Splitting snapshot text into documents and list items, so that large YAML is parsed a
//! document (or a `kubectl -o yaml` list item) at a time and never held as one tree: JSON
//! documents separated by `---` lines, YAML document markers, block-sequence `items:`.
//! Text that may use YAML anchors is parsed whole, so the per-file alias budget holds.
//!
//! Layer: inventory. Imports the ground layer only.

use serde_json::Value;
use serde_saphyr::Spanned;

mod block_yaml;

use super::bundle;
use super::snapshot::SnapshotError;
use super::snapshot::batch::{BATCH_BYTES, par_map};
use crate::limits::{MAX_WHOLE_YAML_BYTES, snapshot_yaml_options, with_parser_stack, yaml_limit_message};

fn plain_err(name: &str, message: String) -> SnapshotError {
    SnapshotError { path: name.to_string(), line: 0, column: 0, message }
}

/// JSON documents separated by `---` lines (what `kubectl get -o json` output joined with
/// YAML separators looks like): the chunks between them, with the line each starts at.
pub(super) fn split_json_separators(text: &str) -> Vec<(u64, &str)> {
    // Most JSON has no `---` line: find that out without walking every line.
    if !text.match_indices("---").any(|(at, _)| at == 0 || text.as_bytes()[at - 1] == b'\n') {
        return vec![(0, text)];
    }
    let mut out = Vec::new();
    let (mut start, mut start_line, mut line) = (0usize, 0u64, 0u64);
    let mut pos = 0usize;
    for l in text.split_inclusive('\n') {
        if l.trim_end() == "---" {
            out.push((start_line, &text[start..pos]));
            start = pos + l.len();
            start_line = line + 1;
        }
        pos += l.len();
        line += 1;
    }
    out.push((start_line, &text[start..]));
    out
}

/// True when YAML text may use anchors or aliases (`&a`, `*a`): such text is parsed whole,
/// so the per-file alias budget holds; other text is split into documents and list items.
pub(super) fn may_use_aliases(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(2).any(|w| (w[0] == b'&' || w[0] == b'*') && (w[1].is_ascii_alphanumeric() || w[1] == b'_'))
        && b.windows(3)
            .any(|w| matches!(w[0], b' ' | b'[' | b'{' | b',' | b'\n') && matches!(w[1], b'&' | b'*') && w[2] != b' ')
}

/// Splits YAML text at document markers (`---` or `...` alone on a line). `None` when the
/// text uses directives or content on a marker line: then it is parsed whole.
pub(super) fn split_yaml_documents(text: &str) -> Option<Vec<(u64, &str)>> {
    let mut out = Vec::new();
    let (mut start, mut start_line, mut line, mut pos) = (0usize, 0u64, 0u64, 0usize);
    for l in text.split_inclusive('\n') {
        let t = l.trim_end();
        if t.starts_with('%') && line == start_line {
            return None;
        }
        if t == "---" || t == "..." {
            out.push((start_line, &text[start..pos]));
            start = pos + l.len();
            start_line = line + 1;
        } else if t.starts_with("--- ") || t.starts_with("---\t") || t.starts_with("... ") {
            return None;
        }
        pos += l.len();
        line += 1;
    }
    out.push((start_line, &text[start..]));
    Some(out)
}

/// A list document in `kubectl -o yaml` shape (`items:` followed by a block sequence): the
/// document with `items: []` instead, and each item's text with the line it starts at, so
/// items are parsed (and dropped) one at a time.
pub(super) fn split_list_items(doc: &str) -> Option<(String, Vec<(u64, &str)>)> {
    let lines: Vec<(usize, &str)> = {
        let mut pos = 0usize;
        doc.split_inclusive('\n')
            .map(|l| {
                let at = pos;
                pos += l.len();
                (at, l)
            })
            .collect()
    };
    let k = lines.iter().position(|(_, l)| l.trim_end() == "items:")?;
    let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let first = lines[k + 1..].iter().find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))?;
    let n = indent_of(first.1);
    let is_item_start = |l: &str| indent_of(l) == n && (l[n..].starts_with("- ") || l[n..].trim_end() == "-");
    if !is_item_start(first.1) {
        return None;
    }
    let mut items: Vec<(u64, usize, usize)> = Vec::new();
    let mut end = k + 1;
    for (i, (at, l)) in lines.iter().enumerate().skip(k + 1) {
        let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
        if is_item_start(l) {
            items.push((i as u64, *at, at + l.len()));
        } else if blank || indent_of(l) > n {
            if let Some(last) = items.last_mut() {
                last.2 = at + l.len();
            }
        } else {
            break;
        }
        end = i + 1;
    }
    let block_start = lines[k].0;
    let block_end = lines.get(end).map_or(doc.len(), |(at, _)| *at);
    let head = format!("{}items: []\n{}", &doc[..block_start], &doc[block_end..]);
    Some((head, items.into_iter().map(|(line, a, b)| (line, &doc[a..b])).collect()))
}

/// Where [`yaml_documents`] puts the documents it reads: each is made ready with
/// [`Docs::prepare`] (on any thread, many at once), then taken with [`Docs::take`] in the
/// order of the text.
pub(super) trait Docs: Send + Sync {
    /// A document made ready.
    type Ready: Send;
    /// Read with the block-YAML reader (else serde-saphyr alone, as before it existed).
    fn fast(&self) -> bool;
    /// Makes one document ready (no side effects).
    fn prepare(&self, v: Value) -> Self::Ready;
    /// Takes one document, found at `line`.
    fn take(&mut self, line: u64, ready: Self::Ready) -> Result<(), SnapshotError>;
}

/// A piece of YAML text read on its own.
enum Unit<'a> {
    /// Documents (a chunk between markers), lines shifted by the offset.
    Chunk(u64, &'a str),
    /// One item of a `kubectl -o yaml` list, with the list's defaults (an index into them).
    Item(u64, &'a str, usize),
    /// The list itself, already read (without its items).
    List(u64, Value),
}

/// Gives each document of `text` (and the line it starts at) to `docs`, parsing one
/// document — or one item of a `kubectl -o yaml` list — at a time, so a large dump is never
/// one parsed tree; the pieces of a batch are parsed and made ready on all cores, and taken
/// in order. List items are handed over as documents with the list's defaults (`PodList`
/// items without `kind` are Pods), after the list itself with no items.
pub(super) fn yaml_documents<'a, D: Docs>(text: &'a str, name: &str, docs: &mut D) -> Result<(), SnapshotError> {
    let run = || -> Result<(), SnapshotError> {
        let chunks = if may_use_aliases(text) { None } else { split_yaml_documents(text) };
        let Some(chunks) = chunks else {
            whole_ok(text, name, 0)?;
            for (line, v) in parse_yaml(text, name, 0, text.len())? {
                let ready = docs.prepare(v);
                docs.take(line, ready)?;
            }
            return Ok(());
        };
        let mut defaults: Vec<Option<(String, String)>> = Vec::new();
        let mut units: Vec<Unit<'a>> = Vec::new();
        let mut bytes = 0usize;
        let mut add = |units: &mut Vec<Unit<'a>>,
                       unit: Unit<'a>,
                       len: usize,
                       defaults: &[Option<(String, String)>],
                       docs: &mut D| {
            bytes += len;
            units.push(unit);
            if bytes < BATCH_BYTES {
                return Ok(());
            }
            bytes = 0;
            read_units(units, defaults, text.len(), name, docs)
        };
        for (offset, chunk) in chunks {
            // What can fail before a piece is queued fails after the queued ones are taken.
            let head =
                split_list_items(chunk).map(|(head, items)| (parse_yaml(&head, name, offset, text.len()), items));
            match head {
                Some((Err(e), _)) => {
                    read_units(&mut units, &defaults, text.len(), name, docs)?;
                    return Err(e);
                }
                Some((Ok(mut head_docs), items)) => {
                    let Some((line, list)) = head_docs.pop() else { continue };
                    // Only a list's `items` are objects; any other kind keeps its field.
                    if list.get("kind").and_then(Value::as_str).is_some_and(|k| !k.ends_with("List")) {
                        if let Err(e) = whole_ok(chunk, name, offset) {
                            read_units(&mut units, &defaults, text.len(), name, docs)?;
                            return Err(e);
                        }
                        add(&mut units, Unit::Chunk(offset, chunk), chunk.len(), &defaults, docs)?;
                        continue;
                    }
                    defaults.push(list_defaults(&list));
                    let d = defaults.len() - 1;
                    add(&mut units, Unit::List(line, list), 0, &defaults, docs)?;
                    for (item_line, item) in items {
                        add(&mut units, Unit::Item(offset + item_line, item, d), item.len(), &defaults, docs)?;
                    }
                }
                None => {
                    if let Err(e) = whole_ok(chunk, name, offset) {
                        read_units(&mut units, &defaults, text.len(), name, docs)?;
                        return Err(e);
                    }
                    add(&mut units, Unit::Chunk(offset, chunk), chunk.len(), &defaults, docs)?;
                }
            }
        }
        read_units(&mut units, &defaults, text.len(), name, docs)
    };
    with_parser_stack(run).map_err(|e| plain_err(name, format!("cannot start the YAML parser: {e}")))?
}

/// Parses the queued pieces on all cores, then hands their documents to `docs` in order
/// (up to the first error); the queue is left empty.
fn read_units<D: Docs>(
    units: &mut Vec<Unit<'_>>,
    defaults: &[Option<(String, String)>],
    file_len: usize,
    name: &str,
    docs: &mut D,
) -> Result<(), SnapshotError> {
    if units.is_empty() {
        return Ok(());
    }
    let done = {
        let docs = &*docs;
        let fast = docs.fast();
        par_map(units, &|unit: &Unit<'_>| -> Result<Vec<(u64, D::Ready)>, SnapshotError> {
            match unit {
                Unit::List(line, v) => Ok(vec![(*line, docs.prepare(v.clone()))]),
                Unit::Chunk(offset, chunk) => {
                    let parsed = read_yaml(chunk, name, *offset, file_len, fast)?;
                    Ok(parsed.into_iter().map(|(l, v)| (l, docs.prepare(v))).collect())
                }
                Unit::Item(offset, item, d) => {
                    let d = defaults.get(*d).and_then(Option::as_ref).map(|(k, a)| (k.as_str(), a.as_str()));
                    let mut out = Vec::new();
                    for (l, v) in read_yaml(item, name, *offset, file_len, fast)? {
                        let Value::Array(vs) = v else { continue };
                        for mut v in vs {
                            fill_identity(&mut v, d);
                            out.push((l, docs.prepare(v)));
                        }
                    }
                    Ok(out)
                }
            }
        })
    };
    units.clear();
    for result in done {
        for (line, ready) in result? {
            docs.take(line, ready)?;
        }
    }
    Ok(())
}

/// [`parse_yaml`], with the block-YAML reader first when `fast`.
fn read_yaml(
    text: &str,
    name: &str,
    line_offset: u64,
    file_len: usize,
    fast: bool,
) -> Result<Vec<(u64, Value)>, SnapshotError> {
    if fast && let Ok(doc) = block_yaml::parse(text) {
        return Ok(doc.into_iter().map(|(l, v)| (l + line_offset, v)).collect());
    }
    parse_yaml(text, name, line_offset, file_len)
}

/// Refuses to parse YAML text over [`MAX_WHOLE_YAML_BYTES`] as one tree (see there).
fn whole_ok(text: &str, name: &str, line: u64) -> Result<(), SnapshotError> {
    if text.len() <= MAX_WHOLE_YAML_BYTES {
        return Ok(());
    }
    Err(SnapshotError {
        path: name.to_string(),
        line: line + 1,
        column: u64::from(line + 1 != 0),
        message: format!(
            "a YAML document of {} MiB that cannot be read item by item (it uses anchors or aliases, or its items are not a block sequence under `items:`); over the {} MiB limit for one YAML document: convert it to JSON (`kubectl … -o json`) or split it",
            text.len() >> 20,
            MAX_WHOLE_YAML_BYTES >> 20
        ),
    })
}

/// Parses YAML text (a whole file or one piece of it) into its non-empty documents; lines
/// are shifted by `line_offset`, and the parser's budget is sized for a file of `file_len`.
pub(super) fn parse_yaml(
    text: &str,
    name: &str,
    line_offset: u64,
    file_len: usize,
) -> Result<Vec<(u64, Value)>, SnapshotError> {
    match serde_saphyr::from_multiple_with_options::<Option<Spanned<Value>>>(text, snapshot_yaml_options(file_len)) {
        Ok(docs) => Ok(docs.into_iter().flatten().map(|d| (d.referenced.line() + line_offset, d.value)).collect()),
        Err(e) => {
            let loc = e.location();
            let message = match yaml_limit_message(&e, "snapshot files") {
                Some(m) => m,
                None => {
                    let upto = loc.map_or(usize::MAX, |l| usize::try_from(l.line()).unwrap_or(usize::MAX));
                    let joined = joined_at(text, upto).map_or_else(String::new, |n| {
                        format!(
                            "; line {} ends in `---`: were two files joined without a newline between them?",
                            n + line_offset
                        )
                    });
                    format!("invalid YAML: {}{joined}", crate::limits::plain_yaml_message(&e))
                }
            };
            Err(SnapshotError {
                path: name.to_string(),
                line: loc.map_or(0, |l| l.line() + line_offset),
                column: loc.map_or(0, |l| l.column()),
                message,
            })
        }
    }
}

/// The last line, up to line `upto` (1-based), that ends in `---` after other text (`name:
/// n1---`): what `cat a.yaml b.yaml` writes when `a.yaml` has no final newline and `b.yaml`
/// starts with `---`. Only said beside an error: the text may mean that value.
fn joined_at(text: &str, upto: usize) -> Option<u64> {
    text.lines()
        .take(upto)
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            t.len() > 3 && t.ends_with("---") && !t.starts_with("---") && !t.starts_with('#')
        })
        .last()
        .map(|(i, _)| i as u64 + 1)
}

/// The `kind` and `apiVersion` a list gives items that lack them: `PodList` → `Pod`.
pub(super) fn list_defaults(list: &Value) -> Option<(String, String)> {
    let kind = list.get("kind").and_then(Value::as_str)?.strip_suffix("List").filter(|k| !k.is_empty())?;
    let av = list
        .get("apiVersion")
        .and_then(Value::as_str)
        .map(ToString::to_string)
        .or_else(|| bundle::kind_for_name(kind).filter(|(k, _)| *k == kind).map(|(_, av)| av.to_string()))?;
    Some((kind.to_string(), av))
}

/// Gives an object without `kind` (and `apiVersion`) the ones its list or file implies.
pub(super) fn fill_identity(v: &mut Value, defaults: Option<(&str, &str)>) {
    let (Some(m), Some((kind, av))) = (v.as_object_mut(), defaults) else { return };
    if !m.contains_key("kind") && m.get("metadata").is_some_and(|md| md.get("name").is_some()) {
        m.insert("kind".to_string(), Value::String(kind.to_string()));
    }
    if !m.contains_key("apiVersion") && m.get("kind").and_then(Value::as_str) == Some(kind) {
        m.insert("apiVersion".to_string(), Value::String(av.to_string()));
    }
}
