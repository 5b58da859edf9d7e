//! A fast reader for the block YAML that `kubectl get -o yaml` (go-yaml) writes: block
//! mappings and sequences (indentless ones too), plain scalars (folded over lines), single-
//! and double-quoted scalars, literal block scalars (`|`, `|-`, `|+`), `[]`, `{}` and
//! comments. It builds the same `serde_json::Value` serde-saphyr builds, about ten times
//! faster, and gives up (`None`) on anything else — anchors, aliases, tags, flow collections,
//! folded block scalars, tabs, carriage returns, complex or repeated keys, deep nesting,
//! plain scalars it is unsure of — for serde-saphyr to read (and report errors) as before.
//!
//! Plain scalars are typed as serde-saphyr types them for a `Value` (its defaults): null,
//! YAML 1.1 booleans, integers (decimal, `0x`, `0o`, `0b`, `_` separators), floats, else
//! strings. The tests compare both readers on generated and real documents.
//!
//! One job: read kubectl's block YAML into exactly the `Value` serde-saphyr builds, or give
//! up (over 600 lines because the scalar styles, their folding and typing, sit together).
//!
//! Layer: inventory (a part of `documents`).

use serde_json::{Map, Number, Value};

/// Deepest nesting read here; deeper text is left to serde-saphyr and its depth limit.
const MAX_DEPTH: usize = 100;

/// Gave up: the text is left to serde-saphyr.
#[derive(Debug)]
pub(super) struct GiveUp;

type R<T> = Result<T, GiveUp>;

/// Parses one YAML document (no `---` markers): `Ok(None)` when it holds no node, else its
/// root node and the (1-based) line it starts on.
pub(super) fn parse(text: &str) -> R<Option<(u64, Value)>> {
    if text.contains('\r') || text.starts_with('\u{feff}') {
        return Err(GiveUp);
    }
    let mut p = Parser { s: text, pos: 0, line: 0, cur: None, depth: 0 };
    let Some(c) = p.peek()? else { return Ok(None) };
    // A document that is one scalar is not an object; serde-saphyr places it differently.
    let t = p.text(c);
    if !is_seq_entry(t) && p.key(t)?.is_none() {
        return Err(GiveUp);
    }
    let v = p.node(c, None)?;
    if p.peek()?.is_some() {
        return Err(GiveUp);
    }
    Ok(Some((c.line + 1, v)))
}

/// A line with content, or the rest of one after `- `.
#[derive(Clone, Copy, Debug)]
struct Cur {
    /// Byte offset of the content.
    start: usize,
    /// Byte offset of the line's end (its `\n`, or the text's end).
    end: usize,
    /// Column of the content.
    col: usize,
    /// 0-based line number.
    line: u64,
}

struct Parser<'a> {
    s: &'a str,
    /// Start of the next line not yet read.
    pos: usize,
    /// Its 0-based number.
    line: u64,
    /// The current line, read but not consumed.
    cur: Option<Cur>,
    depth: usize,
}

/// True when `col` is inside a collection at `parent` (the root has none).
fn deeper(col: usize, parent: Option<usize>) -> bool {
    parent.is_none_or(|p| col > p)
}

fn is_seq_entry(t: &str) -> bool {
    t == "-" || t.starts_with("- ")
}

impl<'a> Parser<'a> {
    fn text(&self, c: Cur) -> &'a str {
        &self.s[c.start..c.end]
    }

    /// The next line with content (blank and comment lines skipped), not consumed.
    fn peek(&mut self) -> R<Option<Cur>> {
        if let Some(c) = self.cur {
            return Ok(Some(c));
        }
        let b = self.s.as_bytes();
        while self.pos < b.len() {
            let end = self.s[self.pos..].find('\n').map_or(b.len(), |i| self.pos + i);
            let indent = b[self.pos..end].iter().take_while(|&&c| c == b' ').count();
            let start = self.pos + indent;
            let line = self.line;
            self.pos = (end + 1).min(b.len().max(end + 1));
            self.line += 1;
            match b.get(start) {
                None | Some(b'\n' | b'#') => {}
                Some(b'\t') => return Err(GiveUp),
                Some(_) => {
                    let c = Cur { start, end, col: indent, line };
                    self.cur = Some(c);
                    return Ok(Some(c));
                }
            }
        }
        Ok(None)
    }

    fn consume(&mut self) {
        self.cur = None;
    }

    /// The node starting at `c` (peeked) in a collection at column `parent`.
    fn node(&mut self, c: Cur, parent: Option<usize>) -> R<Value> {
        let t = self.text(c);
        if t.contains('\t') {
            return Err(GiveUp);
        }
        if is_seq_entry(t) {
            return self.seq(c.col);
        }
        if self.key(t)?.is_some() {
            return self.map(c.col);
        }
        self.consume();
        self.scalar(c, c.start, parent)
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(GiveUp) } else { Ok(()) }
    }

    /// A block mapping whose keys are at column `n`.
    fn map(&mut self, n: usize) -> R<Value> {
        self.enter()?;
        let mut m = Map::new();
        while let Some(c) = self.peek()? {
            if c.col < n {
                break;
            }
            let t = self.text(c);
            if c.col > n || t.contains('\t') {
                return Err(GiveUp);
            }
            let Some((key, rest)) = self.key(t)? else { return Err(GiveUp) };
            self.consume();
            let v = self.after_key(c, c.start + rest, n)?;
            if m.insert(key, v).is_some() {
                return Err(GiveUp);
            }
        }
        self.depth -= 1;
        Ok(Value::Object(m))
    }

    /// A block sequence whose `- ` are at column `n`.
    fn seq(&mut self, n: usize) -> R<Value> {
        self.enter()?;
        let mut a = Vec::new();
        while let Some(c) = self.peek()? {
            let t = self.text(c);
            if c.col != n || !is_seq_entry(t) {
                if c.col > n {
                    return Err(GiveUp);
                }
                break;
            }
            let after = 1 + t[1..].bytes().take_while(|&b| b == b' ').count();
            if after == t.len() || t.as_bytes()[after] == b'#' {
                self.consume();
                a.push(match self.peek()? {
                    Some(d) if d.col > n => self.node(d, Some(n))?,
                    _ => Value::Null,
                });
            } else {
                // The entry's node starts on this line, at the column after `- `.
                let v = Cur { start: c.start + after, end: c.end, col: c.col + after, line: c.line };
                self.cur = Some(v);
                a.push(self.node(v, Some(n))?);
            }
        }
        self.depth -= 1;
        Ok(Value::Array(a))
    }

    /// A mapping key at the start of `t`, and the offset of what follows its `:`; `None` when
    /// `t` is not a `key: …` line.
    fn key(&self, t: &str) -> R<Option<(String, usize)>> {
        let b = t.as_bytes();
        match b.first() {
            Some(b'"' | b'\'') => {
                let Some((k, end)) = quoted_on_line(t) else { return Ok(None) };
                match b.get(end) {
                    Some(b':') if b.get(end + 1).is_none_or(|&c| c == b' ') => Ok(Some((k, end + 1))),
                    _ => Ok(None),
                }
            }
            Some(b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>')
            | Some(b'%' | b'@' | b'`') => Ok(None),
            None => Ok(None),
            Some(_) => {
                for (i, _) in t.match_indices(':') {
                    if b.get(i + 1).is_none_or(|&c| c == b' ') {
                        if t[..i].contains(" #") {
                            return Ok(None);
                        }
                        let k = t[..i].trim_end_matches(' ');
                        // Keys serde-saphyr reads as null (or merges) are left to it.
                        if matches!(k, "" | "~" | "null" | "Null" | "NULL" | "<<") {
                            return Err(GiveUp);
                        }
                        return Ok(Some((k.to_string(), i + 1)));
                    }
                }
                Ok(None)
            }
        }
    }

    /// The value after `key:` (its line `c` consumed; `at` is where the value text starts).
    fn after_key(&mut self, c: Cur, at: usize, n: usize) -> R<Value> {
        let rest = &self.s[at..c.end];
        let skip = rest.bytes().take_while(|&b| b == b' ').count();
        if skip == rest.len() || rest.as_bytes()[skip] == b'#' {
            if skip == 0 && !rest.is_empty() {
                return Err(GiveUp);
            }
            return match self.peek()? {
                Some(d) if d.col > n => self.node(d, Some(n)),
                Some(d) if d.col == n && is_seq_entry(self.text(d)) => self.seq(n),
                _ => Ok(Value::Null),
            };
        }
        self.scalar(c, at + skip, Some(n))
    }

    /// A scalar (or `[]`, `{}`) starting at byte `at` of line `c` (consumed), inside a
    /// collection at column `parent`.
    fn scalar(&mut self, c: Cur, at: usize, parent: Option<usize>) -> R<Value> {
        let t = &self.s[at..c.end];
        let b = t.as_bytes();
        match b.first() {
            Some(b'"') => {
                let (v, end) = self.double_quoted(at, parent)?;
                self.after_quoted(end)?;
                Ok(Value::String(v))
            }
            Some(b'\'') => {
                let (v, end) = self.single_quoted(at, parent)?;
                self.after_quoted(end)?;
                Ok(Value::String(v))
            }
            Some(b'|') => self.literal(t, parent).map(Value::String),
            Some(b'[' | b'{') => match strip_comment(t) {
                "[]" => Ok(Value::Array(Vec::new())),
                "{}" => Ok(Value::Object(Map::new())),
                _ => Err(GiveUp),
            },
            Some(b'>' | b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'?' | b',' | b']' | b'}' | b'#') => Err(GiveUp),
            Some(b'-' | b':') if b.get(1).is_none_or(|&c| c == b' ') => Err(GiveUp),
            _ => self.plain(t, parent),
        }
    }

    /// A plain scalar starting with `t` (the rest of its first line), continued on deeper
    /// lines.
    fn plain(&mut self, t: &str, parent: Option<usize>) -> R<Value> {
        let first = strip_comment(t);
        if first.contains(": ") || first.ends_with(':') || first.contains('\t') {
            return Err(GiveUp);
        }
        let b = self.s.as_bytes();
        let mut out: Option<String> = None;
        let mut blank = 0usize;
        let mut pos = self.pos;
        let mut line = self.line;
        while pos < b.len() {
            let end = self.s[pos..].find('\n').map_or(b.len(), |i| pos + i);
            let raw = &self.s[pos..end];
            let content = raw.trim_start_matches(' ');
            if content.is_empty() {
                blank += 1;
                pos = end + 1;
                line += 1;
                continue;
            }
            if !deeper(raw.len() - content.len(), parent) {
                break;
            }
            let content = content.trim_end_matches(' ');
            if content.contains('\t')
                || content.contains(": ")
                || content.contains(" #")
                || content.ends_with(':')
                || matches!(content.as_bytes()[0], b'#' | b'-' | b'?' | b':')
            {
                return Err(GiveUp);
            }
            let s = out.get_or_insert_with(|| first.to_string());
            if blank == 0 {
                s.push(' ');
            }
            for _ in 0..blank {
                s.push('\n');
            }
            s.push_str(content);
            blank = 0;
            pos = end + 1;
            line += 1;
            self.pos = pos.min(b.len());
            self.line = line;
        }
        match out {
            Some(s) => plain_value(&s),
            None => plain_value(first),
        }
    }

    /// What may follow a quoted scalar on its last line: spaces and a comment.
    fn after_quoted(&mut self, end: usize) -> R<()> {
        let line_end = self.s[end..].find('\n').map_or(self.s.len(), |i| end + i);
        let rest = self.s[end..line_end].trim_start_matches(' ');
        if rest.is_empty() || (rest.starts_with('#') && self.s.as_bytes()[end..line_end].first() == Some(&b' ')) {
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// Moves past a quoted scalar that ended at byte `close` (its closing quote), which may
    /// be several lines after where it started; checks those lines' indentation.
    fn skip_lines(&mut self, open: usize, close: usize, parent: Option<usize>) -> R<()> {
        let inner = &self.s[open..close];
        let breaks = inner.bytes().filter(|&b| b == b'\n').count() as u64;
        if breaks == 0 {
            return Ok(());
        }
        for l in inner.split('\n').skip(1) {
            let content = l.trim_start_matches(' ');
            if !content.is_empty() && !deeper(l.len() - content.len(), parent) {
                return Err(GiveUp);
            }
        }
        let line_end = self.s[close..].find('\n').map_or(self.s.len(), |i| close + i);
        self.pos = (line_end + 1).min(self.s.len());
        self.line += breaks;
        Ok(())
    }

    /// A double-quoted scalar whose opening quote is at `at`: its value and the offset after
    /// its closing quote.
    fn double_quoted(&mut self, at: usize, parent: Option<usize>) -> R<(String, usize)> {
        let b = self.s.as_bytes();
        let mut i = at + 1;
        let close = loop {
            match b.get(i) {
                None => return Err(GiveUp),
                Some(b'\\') => i += 2,
                Some(b'"') => break i,
                Some(b'\t') => return Err(GiveUp),
                Some(_) => i += 1,
            }
        };
        let raw = &self.s[at + 1..close];
        let v = if raw.contains('\n') { fold_double(raw)? } else { unescape(raw)? };
        self.skip_lines(at, close, parent)?;
        Ok((v, close + 1))
    }

    /// A single-quoted scalar whose opening quote is at `at`.
    fn single_quoted(&mut self, at: usize, parent: Option<usize>) -> R<(String, usize)> {
        let b = self.s.as_bytes();
        let mut i = at + 1;
        let close = loop {
            match b.get(i) {
                None => return Err(GiveUp),
                Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                Some(b'\'') => break i,
                Some(b'\t') => return Err(GiveUp),
                Some(_) => i += 1,
            }
        };
        let raw = &self.s[at + 1..close];
        let v = if raw.contains('\n') { fold(raw)?.replace("''", "'") } else { raw.replace("''", "'") };
        self.skip_lines(at, close, parent)?;
        Ok((v, close + 1))
    }

    /// A literal block scalar: `t` is its header (`|`, `|-`, `|+`, maybe a comment); its
    /// lines follow, deeper than `parent`.
    fn literal(&mut self, t: &str, parent: Option<usize>) -> R<String> {
        let header = strip_comment(t);
        let chomp = match header {
            "|" => b' ',
            "|-" => b'-',
            "|+" => b'+',
            _ => return Err(GiveUp),
        };
        let b = self.s.as_bytes();
        let mut lines: Vec<&str> = Vec::new();
        let mut indent: Option<usize> = None;
        let (mut pos, mut line) = (self.pos, self.line);
        // Whitespace-only lines before the first content line.
        let mut leading_max = 0usize;
        while pos < b.len() {
            let end = self.s[pos..].find('\n').map_or(b.len(), |i| pos + i);
            let raw = &self.s[pos..end];
            let spaces = raw.bytes().take_while(|&c| c == b' ').count();
            let only_spaces = spaces == raw.len();
            if raw.as_bytes().get(spaces) == Some(&b'\t') && raw[spaces..].trim_start_matches([' ', '\t']).is_empty() {
                return Err(GiveUp);
            }
            match indent {
                None if only_spaces => {
                    leading_max = leading_max.max(spaces);
                    lines.push("");
                }
                None => {
                    if !deeper(spaces, parent) || leading_max > spaces {
                        return Err(GiveUp);
                    }
                    indent = Some(spaces);
                    lines.push(&raw[spaces..]);
                }
                Some(m) if only_spaces => lines.push(raw.get(m..).unwrap_or("")),
                Some(m) if spaces >= m => lines.push(&raw[m..]),
                Some(_) => break,
            }
            pos = end + 1;
            line += 1;
            self.pos = pos.min(b.len());
            self.line = line;
        }
        if indent.is_none() {
            return Err(GiveUp);
        }
        let last = lines.iter().rposition(|l| !l.is_empty()).unwrap_or(0);
        let trailing = lines.len() - last - 1;
        let mut out = lines[..=last].join("\n");
        match chomp {
            b'-' => {}
            b'+' => {
                // Kept trailing lines run to where the next content starts; comment lines
                // between are not read here.
                out.push('\n');
                for _ in 0..trailing {
                    out.push('\n');
                }
            }
            _ => out.push('\n'),
        }
        Ok(out)
    }
}

/// `t` without a trailing comment (` #…`) and trailing spaces.
fn strip_comment(t: &str) -> &str {
    let t = match t.find(" #") {
        Some(i) => &t[..i],
        None => t,
    };
    t.trim_end_matches(' ')
}

/// A quoted scalar that opens and closes on line `t` (which starts with the quote): its
/// value and the offset after the closing quote.
fn quoted_on_line(t: &str) -> Option<(String, usize)> {
    let b = t.as_bytes();
    let q = b[0];
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' if q == b'"' => i += 2,
            b'\'' if q == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 2,
            c if c == q => {
                let raw = &t[1..i];
                let v = if q == b'"' { unescape(raw).ok()? } else { raw.replace("''", "'") };
                return Some((v, i + 1));
            }
            _ => i += 1,
        }
    }
    None
}

/// Folds the lines of a multi-line flow scalar: a line break between two lines is a space,
/// `k` empty lines are `k` line feeds; spaces around breaks go.
fn fold(raw: &str) -> R<String> {
    let mut out = String::with_capacity(raw.len());
    let mut lines = raw.split('\n');
    let first = lines.next().unwrap_or("");
    out.push_str(first.trim_end_matches(' '));
    let mut blank = 0usize;
    let rest: Vec<&str> = lines.collect();
    for (k, l) in rest.iter().enumerate() {
        let last = k + 1 == rest.len();
        let content = l.trim_start_matches(' ');
        let content = if last { content } else { content.trim_end_matches(' ') };
        if content.is_empty() && !last {
            blank += 1;
            continue;
        }
        if blank == 0 {
            out.push(' ');
        }
        for _ in 0..blank {
            out.push('\n');
        }
        blank = 0;
        out.push_str(content);
    }
    Ok(out)
}

/// [`fold`] for a double-quoted scalar: escapes apply, and an escaped line break (`\` at
/// the end of a line) joins the lines without a space.
fn fold_double(raw: &str) -> R<String> {
    // Escaped line breaks and escaped trailing spaces need care; only plain folding is read
    // here (what go-yaml writes when it wraps a long string), the rest is left to serde-saphyr.
    for l in raw.split('\n') {
        if l.ends_with('\\') || l.trim_end_matches(' ').ends_with('\\') {
            return Err(GiveUp);
        }
    }
    unescape(&fold(raw)?)
}

/// The value of a double-quoted scalar's text (one line, or already folded).
fn unescape(raw: &str) -> R<String> {
    if !raw.contains('\\') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or(GiveUp)?;
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> R<char> {
            let s: String = chars.take(n).collect();
            if s.len() != n {
                return Err(GiveUp);
            }
            u32::from_str_radix(&s, 16).ok().and_then(char::from_u32).ok_or(GiveUp)
        };
        out.push(match e {
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            ' ' => ' ',
            '"' => '"',
            '/' => '/',
            '\\' => '\\',
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            _ => return Err(GiveUp),
        });
    }
    Ok(out)
}

/// A plain scalar typed as serde-saphyr types it for a `Value` with its default options.
pub(super) fn plain_value(s: &str) -> R<Value> {
    let Some(&first) = s.as_bytes().first() else { return Ok(Value::Null) };
    if matches!(s, "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    // YAML 1.1 booleans, any case.
    if s.len() <= 5 && first.is_ascii_alphabetic() {
        let l = s.to_ascii_lowercase();
        match l.as_str() {
            "y" | "yes" | "true" | "on" => return Ok(Value::Bool(true)),
            "n" | "no" | "false" | "off" => return Ok(Value::Bool(false)),
            _ => {}
        }
    }
    // Only text that starts like a number can be one (`inf`, `nan` stay strings).
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Ok(Value::String(s.to_string()));
    }
    if let Some(rest) = s.strip_prefix('-') {
        let leading_zero = rest.len() > 1 && rest.starts_with('0') && rest.bytes().all(|b| b.is_ascii_digit());
        if !leading_zero && let Some(v) = int(rest).and_then(|m| i64::try_from(-i128::try_from(m).ok()?).ok()) {
            return Ok(Value::Number(Number::from(v)));
        }
    } else if let Some(v) = int(s.strip_prefix('+').unwrap_or(s)).and_then(|m| u64::try_from(m).ok()) {
        return Ok(Value::Number(Number::from(v)));
    }
    if let Some(rest) = s.strip_prefix(['-', '+']).or(Some(s))
        && matches!(rest, ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF")
    {
        // Non-finite floats are an error for serde-saphyr.
        return Err(GiveUp);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Number::from_f64(v).map_or(Value::Null, Value::Number)),
        // `1e999`: an error there too.
        Ok(_) if s.trim_start_matches(['-', '+']).starts_with(|c: char| c.is_ascii_digit()) => Err(GiveUp),
        _ => Ok(Value::String(s.to_string())),
    }
}

/// An unsigned integer as serde-saphyr reads one: decimal without a leading zero, or `0x`,
/// `0o`, `0b`; single `_` between digits allowed.
fn int(s: &str) -> Option<u128> {
    let (radix, digits) = if let Some(r) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (2, r)
    } else {
        if s.starts_with('0') && s != "0" {
            return None;
        }
        (10, s)
    };
    let b = digits.as_bytes();
    let mut val: u128 = 0;
    let mut saw = false;
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            if i == 0 || b[i - 1] == b'_' || i + 1 >= b.len() || b[i + 1] == b'_' {
                return None;
            }
            continue;
        }
        let d = char::from(c).to_digit(radix)?;
        val = val.checked_mul(u128::from(radix))?.checked_add(u128::from(d))?;
        saw = true;
    }
    saw.then_some(val)
}

#[cfg(test)]
#[path = "block_yaml_tests.rs"]
mod tests;
