//! Large JSON snapshots read from the file as a stream: never held whole in memory.
//!
//! A small scanner finds where each JSON value ends (brackets and strings only; it does not
//! judge the text between them) and hands its text to `serde_json`, which does: every byte of
//! the file is either checked here (whitespace, `,`, `:`, the keys of a large object, `---`
//! between documents) or parsed by `serde_json` as part of a value. Values up to
//! [`SMALL_DOC_BYTES`] (every object of JSON lines or of concatenated documents, a small
//! list) are parsed whole; a larger top-level array or object is read element by element, a
//! `List`'s `items` one item at a time. Values are parsed and made ready in batches on all
//! cores (see `batch`) and added in file order, so memory is what is kept of the objects plus
//! one batch.
//!
//! Errors name the document and the line and column in the file.
//!
//! Layer: inventory (a part of `snapshot`).

use std::io::Read;

use serde::de::IgnoredAny;
use serde_json::Value;

use super::batch::{BATCH_BYTES, par_map};
use super::json::{Parsed, parse_doc, parse_item, parse_object};
use super::{Hint, Sink, SnapshotError, fill_identity, list_defaults, load_doc, plain_err, ready};

/// A top-level value up to this size is parsed whole (and batched with its neighbours);
/// larger ones are read element by element.
const SMALL_DOC_BYTES: usize = 8 << 20;

/// Bytes asked of the reader at once.
const READ_BYTES: usize = 1 << 20;

/// Reads `reader` (a JSON file of `name`) into `sink`.
pub(super) fn load<R: Read>(reader: R, name: &str, hint: Hint, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    load_split(reader, name, hint, sink, SMALL_DOC_BYTES)
}

/// [`load`], parsing top-level values up to `small` bytes whole.
pub(super) fn load_split<R: Read>(
    reader: R,
    name: &str,
    hint: Hint,
    sink: &mut Sink<'_>,
    small: usize,
) -> Result<(), SnapshotError> {
    let mut input = Input::new(reader, name);
    let mut run = Run::default();
    let mut n = 0usize;
    loop {
        input.skip_separators().map_err(|e| input.error(n.max(1), e))?;
        let Some(first) = input.peek().map_err(|e| input.error(n + 1, e))? else { break };
        n += 1;
        match input.value_end(small).map_err(|e| input.error(n, e))? {
            // `]`, `}` or `,` where a document starts.
            Some(0) => return Err(input.error(n, Scan::Syntax(0, "expected a JSON value".to_string()))),
            Some(end) => {
                let span = input.take(end).map_err(|e| input.error(n, e))?;
                run.bytes += span.text.len();
                run.docs.push((n, span));
                if run.bytes >= BATCH_BYTES {
                    run.flush(&input, hint, sink)?;
                }
            }
            None => {
                run.flush(&input, hint, sink)?;
                match first {
                    b'[' => big_array(&mut input, n, hint, sink)?,
                    b'{' => big_object(&mut input, n, hint, sink)?,
                    // A scalar this large: read whole, it is then refused as not an object.
                    _ => {
                        let end = input.value_end(usize::MAX).map_err(|e| input.error(n, e))?.unwrap_or(0);
                        let span = input.take(end).map_err(|e| input.error(n, e))?;
                        let v = input.parse::<Value>(n, &span)?;
                        load_doc(v, &format!("document {n}"), hint, sink).map_err(|m| plain_err(name, m))?;
                    }
                }
            }
        }
    }
    run.flush(&input, hint, sink)
}

/// Whole top-level values waiting to be parsed together.
#[derive(Default)]
struct Run {
    docs: Vec<(usize, Span)>,
    bytes: usize,
}

impl Run {
    fn flush<R>(&mut self, input: &Input<'_, R>, hint: Hint, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
        if self.docs.is_empty() {
            return Ok(());
        }
        let docs = std::mem::take(&mut self.docs);
        self.bytes = 0;
        let done = {
            let projection = sink.inv.projection();
            par_map(&docs, &|(_, span): &(usize, Span)| parse_doc(&span.text, projection, hint))
        };
        let plain = |m: String| plain_err(input.name, m);
        for ((n, span), parsed) in docs.iter().zip(done) {
            let what = format!("document {n}");
            match parsed {
                Parsed::Ready(r) => sink.commit(*r, &what).map_err(plain)?,
                Parsed::Doc(v) => load_doc(v, &what, hint, sink).map_err(plain)?,
                Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, input.name),
                Parsed::Failed(e) => return Err(input.json_error(*n, span, &e)),
            }
        }
        Ok(())
    }
}

/// A top-level array too large to parse whole: each element is an object (with `hint`).
fn big_array<R: Read>(
    input: &mut Input<'_, R>,
    n: usize,
    hint: Hint,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    let mut j = 0usize;
    let mut batch = Batch::default();
    let name = input.name;
    let mut add = |sink: &mut Sink<'_>, batch: Vec<Span>, input: &Input<'_, R>| -> Result<(), SnapshotError> {
        let done = {
            let projection = sink.inv.projection();
            par_map(&batch, &|s: &Span| parse_item(&s.text, projection, hint))
        };
        for (span, parsed) in batch.iter().zip(done) {
            j += 1;
            let what = format!("document {n}, object {j}");
            match parsed {
                Parsed::Ready(r) => sink.commit(*r, &what).map_err(|m| plain_err(name, m))?,
                Parsed::Doc(v) => sink.ingest(v, &what).map_err(|m| plain_err(name, m))?,
                Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, name),
                Parsed::Failed(e) => return Err(input.json_error(n, span, &e)),
            }
        }
        Ok(())
    };
    input.elements(n, &mut |input, span| {
        if batch.push(span) {
            add(sink, batch.take(), input)?;
        }
        Ok(())
    })?;
    add(sink, batch.take(), input)
}

/// A top-level object too large to parse whole: a `List` (its `items` read one by one), or
/// one large object.
fn big_object<R: Read>(
    input: &mut Input<'_, R>,
    n: usize,
    hint: Hint,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    let name = input.name;
    let mut fields = serde_json::Map::new();
    let mut items_seen = false;
    // Items read before the list's `kind` (kubectl writes `items` before `kind`) that lack
    // their own wait for it.
    let mut pending: Vec<Value> = Vec::new();
    input.advance(1); // `{`
    let mut first = true;
    loop {
        input.skip_ws().map_err(|e| input.error(n, e))?;
        match input.peek().map_err(|e| input.error(n, e))? {
            Some(b'}') if first => {
                input.advance(1);
                break;
            }
            Some(b'"') => {}
            _ => return Err(input.error(n, Scan::Syntax(0, "expected a key (a string)".to_string()))),
        }
        first = false;
        let end = input.value_end(usize::MAX).map_err(|e| input.error(n, e))?.unwrap_or(0);
        let key_span = input.take(end).map_err(|e| input.error(n, e))?;
        let key: String = input.parse(n, &key_span)?;
        input.skip_ws().map_err(|e| input.error(n, e))?;
        if input.peek().map_err(|e| input.error(n, e))? != Some(b':') {
            return Err(input.error(n, Scan::Syntax(0, format!("expected ':' after the key \"{key}\""))));
        }
        input.advance(1);
        input.skip_ws().map_err(|e| input.error(n, e))?;
        let next = input.peek().map_err(|e| input.error(n, e))?;
        if key == "items" && !items_seen && next == Some(b'[') {
            items_seen = true;
            let defaults = list_defaults(&Value::Object(fields.clone()));
            items(input, n, defaults, &mut pending, sink)?;
        } else {
            let end = input.value_end(usize::MAX).map_err(|e| input.error(n, e))?.unwrap_or(0);
            let span = input.take(end).map_err(|e| input.error(n, e))?;
            if key == "items" && items_seen {
                input.parse::<IgnoredAny>(n, &span)?;
            } else if key == "items" {
                items_seen = true;
                if !input.parse::<Value>(n, &span)?.is_null() {
                    return Err(plain_err(name, format!("document {n}: items is not a list")));
                }
            } else {
                let v: Value = input.parse(n, &span)?;
                fields.insert(key, v);
            }
        }
        input.skip_ws().map_err(|e| input.error(n, e))?;
        match input.peek().map_err(|e| input.error(n, e))? {
            Some(b',') => input.advance(1),
            Some(b'}') => {
                input.advance(1);
                break;
            }
            _ => return Err(input.error(n, Scan::Syntax(0, "expected ',' or '}'".to_string()))),
        }
    }
    let doc = Value::Object(fields);
    let plain = |m: String| plain_err(name, m);
    if !items_seen {
        return load_doc(doc, &format!("document {n}"), hint, sink).map_err(plain);
    }
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    if !(kind.is_empty() || kind.ends_with("List")) {
        return Err(plain(format!("document {n}: a {kind} with a top-level items field is too large to read")));
    }
    let defaults = list_defaults(&doc);
    let defaults = defaults.as_ref().map(|(k, a)| (k.as_str(), a.as_str())).or(hint);
    sink.note_list(defaults);
    for (j, mut v) in pending.into_iter().enumerate() {
        fill_identity(&mut v, defaults);
        sink.ingest(v, &format!("document {n}, waiting object {}", j + 1)).map_err(plain)?;
    }
    Ok(())
}

/// The `items` array of a large list, at its `[`.
fn items<R: Read>(
    input: &mut Input<'_, R>,
    n: usize,
    defaults: Option<(String, String)>,
    pending: &mut Vec<Value>,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    let name = input.name;
    let defaults = defaults.as_ref().map(|(k, a)| (k.as_str(), a.as_str()));
    let mut j = 0usize;
    let mut add = |sink: &mut Sink<'_>, batch: Vec<Span>, input: &Input<'_, R>| -> Result<(), SnapshotError> {
        let done = {
            let projection = sink.inv.projection();
            par_map(&batch, &|s: &Span| match defaults {
                Some(_) => parse_item(&s.text, projection, defaults),
                // Without the list's kind (not read yet), an item without its own waits.
                None => match parse_object(&s.text) {
                    Ok(Ok(v)) if v.get("kind").is_none() => Parsed::Doc(v),
                    Ok(Ok(v)) => Parsed::Ready(Box::new(ready(projection, v))),
                    Ok(Err((id, reason))) => Parsed::Skip { id, reason },
                    Err(e) => Parsed::Failed(e),
                },
            })
        };
        for (span, parsed) in batch.iter().zip(done) {
            j += 1;
            let what = format!("object {j} of the list in document {n}");
            match parsed {
                Parsed::Ready(r) => sink.commit(*r, &what).map_err(|m| plain_err(name, m))?,
                Parsed::Doc(v) => pending.push(v),
                Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, name),
                Parsed::Failed(e) => return Err(input.json_error(n, span, &e)),
            }
        }
        Ok(())
    };
    let mut batch = Batch::default();
    input.elements(n, &mut |input, span| {
        if batch.push(span) {
            add(sink, batch.take(), input)?;
        }
        Ok(())
    })?;
    add(sink, batch.take(), input)
}

/// Values read from the stream, waiting to be parsed together.
#[derive(Default)]
struct Batch {
    items: Vec<Span>,
    bytes: usize,
}

impl Batch {
    /// Adds one; true when the batch is full.
    fn push(&mut self, span: Span) -> bool {
        self.bytes += span.text.len();
        self.items.push(span);
        self.bytes >= BATCH_BYTES
    }

    fn take(&mut self) -> Vec<Span> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}

/// The text of one JSON value and where it starts in the file.
struct Span {
    text: String,
    line: u64,
    column: u64,
}

/// Why scanning stopped: the reader failed, or the text is not JSON (at a byte offset from
/// the scanner's position).
enum Scan {
    Io(std::io::Error),
    Syntax(usize, String),
}

impl From<std::io::Error> for Scan {
    fn from(e: std::io::Error) -> Self {
        Scan::Io(e)
    }
}

/// The file, read in blocks, with the line and column of the next byte.
struct Input<'n, R> {
    reader: R,
    name: &'n str,
    buf: Vec<u8>,
    /// Next byte not yet consumed.
    pos: usize,
    eof: bool,
    /// Line (1-based) of `buf[pos]`, and `buf[pos]`'s column (1-based, in bytes).
    line: u64,
    column: u64,
}

impl<'n, R> Input<'n, R> {
    fn error(&self, n: usize, e: Scan) -> SnapshotError {
        match e {
            Scan::Io(e) => plain_err(self.name, format!("document {n}: cannot read: {e}")),
            Scan::Syntax(at, m) => {
                let (line, column) = self.position(at);
                SnapshotError {
                    path: self.name.to_string(),
                    line,
                    column,
                    message: format!("document {n}: invalid JSON: {m}"),
                }
            }
        }
    }

    /// The line and column of the byte `at` past the position.
    fn position(&self, at: usize) -> (u64, u64) {
        let end = (self.pos + at).min(self.buf.len());
        let seen = &self.buf[self.pos..end];
        let lines = bytecount(seen);
        match seen.iter().rposition(|b| *b == b'\n') {
            Some(last) => (self.line + lines, (seen.len() - last) as u64),
            None => (self.line, self.column + seen.len() as u64),
        }
    }

    /// A `serde_json` error in `span`, placed in the file.
    fn json_error(&self, n: usize, span: &Span, e: &serde_json::Error) -> SnapshotError {
        let (l, c) = (e.line() as u64, e.column() as u64);
        let (line, column) =
            if l <= 1 { (span.line, span.column + c.saturating_sub(1)) } else { (span.line + l - 1, c) };
        let text = e.to_string();
        let bare = text.strip_suffix(&format!(" at line {} column {}", e.line(), e.column())).unwrap_or(&text);
        SnapshotError {
            path: self.name.to_string(),
            line,
            column,
            message: format!("document {n}: invalid JSON: {bare}"),
        }
    }

    /// `span` parsed as `T`.
    fn parse<T: serde::de::DeserializeOwned>(&self, n: usize, span: &Span) -> Result<T, SnapshotError> {
        serde_json::from_str(&span.text).map_err(|e| self.json_error(n, span, &e))
    }

    /// Consumes `k` bytes (already read).
    fn advance(&mut self, k: usize) {
        let (line, column) = self.position(k);
        self.line = line;
        self.column = column;
        self.pos += k;
    }
}

/// Newlines in `bytes`.
fn bytecount(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

impl<'n, R: Read> Input<'n, R> {
    fn new(reader: R, name: &'n str) -> Self {
        Self { reader, name, buf: Vec::new(), pos: 0, eof: false, line: 1, column: 1 }
    }

    /// Reads more of the file, dropping what was consumed; false at its end.
    fn fill(&mut self) -> Result<bool, Scan> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        // Up to READ_BYTES (fewer only at the end), into the buffer's spare room.
        let got = (&mut self.reader).take(READ_BYTES as u64).read_to_end(&mut self.buf)?;
        self.eof = got == 0;
        Ok(got > 0)
    }

    /// The byte `k` past the position, reading more when needed; `None` at the end.
    fn byte(&mut self, k: usize) -> Result<Option<u8>, Scan> {
        while self.pos + k >= self.buf.len() {
            if !self.fill()? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf[self.pos + k]))
    }

    fn peek(&mut self) -> Result<Option<u8>, Scan> {
        self.byte(0)
    }

    /// Skips JSON whitespace.
    fn skip_ws(&mut self) -> Result<(), Scan> {
        loop {
            let rest = &self.buf[self.pos..];
            let ws = rest.iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')).count();
            let all = ws == rest.len();
            self.advance(ws);
            if !all || !self.fill()? {
                return Ok(());
            }
        }
    }

    /// Skips whitespace and `---` lines between documents (as YAML tools join them).
    fn skip_separators(&mut self) -> Result<(), Scan> {
        loop {
            self.skip_ws()?;
            if self.byte(0)? == Some(b'-') && self.byte(1)? == Some(b'-') && self.byte(2)? == Some(b'-') {
                self.advance(3);
            } else {
                return Ok(());
            }
        }
    }

    /// Where the value at the position ends (bytes past the position), or `None` when it is
    /// longer than `limit`. Judges only brackets and strings; `serde_json` judges the rest.
    fn value_end(&mut self, limit: usize) -> Result<Option<usize>, Scan> {
        let Some(first) = self.peek()? else {
            return Err(Scan::Syntax(0, "EOF while parsing a value".to_string()));
        };
        match first {
            b'"' => self.string_end(1).map(Some),
            b'{' | b'[' => self.container_end(limit),
            _ => {
                // A number, true, false or null: up to the next delimiter.
                let mut k = 0;
                while let Some(b) = self.byte(k)? {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    k += 1;
                    if k > limit {
                        return Ok(None);
                    }
                }
                Ok(Some(k))
            }
        }
    }

    /// The end of the string whose text starts `k` past the position (past its quote).
    fn string_end(&mut self, mut k: usize) -> Result<usize, Scan> {
        loop {
            let rest = &self.buf[(self.pos + k).min(self.buf.len())..];
            match rest.iter().position(|b| *b == b'"' || *b == b'\\') {
                Some(i) if rest[i] == b'"' => return Ok(k + i + 1),
                // An escape: skip it and the byte it escapes.
                Some(i) if i + 1 < rest.len() => k += i + 2,
                Some(i) => {
                    k += i;
                    if !self.fill()? {
                        return Err(Scan::Syntax(k, "EOF while parsing a string".to_string()));
                    }
                }
                None => {
                    k += rest.len();
                    if !self.fill()? {
                        return Err(Scan::Syntax(k, "EOF while parsing a string".to_string()));
                    }
                }
            }
        }
    }

    /// The end of the object or array at the position, or `None` past `limit` bytes.
    fn container_end(&mut self, limit: usize) -> Result<Option<usize>, Scan> {
        let mut depth = 0usize;
        let mut k = 0usize;
        loop {
            if k > limit {
                return Ok(None);
            }
            if self.pos + k >= self.buf.len() && !self.fill()? {
                return Err(Scan::Syntax(k, "EOF while parsing a value".to_string()));
            }
            let rest = &self.buf[self.pos + k..];
            let mut i = 0;
            let mut string_at = None;
            while i < rest.len() {
                match rest[i] {
                    b'"' => {
                        string_at = Some(i);
                        break;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Ok(Some(k + i + 1));
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            k += i;
            if let Some(s) = string_at {
                k = self.string_end(k + 1)?;
                debug_assert!(s <= i);
            }
        }
    }

    /// The value of `end` bytes at the position, consumed.
    fn take(&mut self, end: usize) -> Result<Span, Scan> {
        let bytes = &self.buf[self.pos..self.pos + end];
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.to_string(),
            Err(e) => return Err(Scan::Syntax(e.valid_up_to(), "not UTF-8 text".to_string())),
        };
        let span = Span { text, line: self.line, column: self.column };
        self.advance(end);
        Ok(span)
    }

    /// The elements of the array at the position, each handed to `each` as it is read.
    fn elements(
        &mut self,
        n: usize,
        each: &mut dyn FnMut(&Self, Span) -> Result<(), SnapshotError>,
    ) -> Result<(), SnapshotError> {
        self.advance(1); // `[`
        self.skip_ws().map_err(|e| self.error(n, e))?;
        if self.peek().map_err(|e| self.error(n, e))? == Some(b']') {
            self.advance(1);
            return Ok(());
        }
        loop {
            self.skip_ws().map_err(|e| self.error(n, e))?;
            let end = self.value_end(usize::MAX).map_err(|e| self.error(n, e))?.unwrap_or(0);
            if end == 0 {
                return Err(self.error(n, Scan::Syntax(0, "expected a value".to_string())));
            }
            let span = self.take(end).map_err(|e| self.error(n, e))?;
            each(self, span)?;
            self.skip_ws().map_err(|e| self.error(n, e))?;
            match self.peek().map_err(|e| self.error(n, e))? {
                Some(b',') => self.advance(1),
                Some(b']') => {
                    self.advance(1);
                    return Ok(());
                }
                _ => return Err(self.error(n, Scan::Syntax(0, "expected ',' or ']'".to_string()))),
            }
        }
    }
}

#[cfg(test)]
mod tests;
