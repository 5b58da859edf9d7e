//! JSON snapshot text held in memory (a file up to the streaming size, a file of a capture
//! tree): read document by document and a `List` item by item (items stay raw text until
//! each is stored), so a large capture is never one big `Value` tree, with the items of a
//! batch parsed and prepared on all cores (see `batch`).
//!
//! The text is scanned once for its documents, a `List`'s `kind` and the bounds of its items;
//! text that this scan does not accept is read again the way it was before this scan existed
//! (document by document), so that errors, and what is read before one, stay the same.
//!
//! Layer: inventory (a part of `snapshot`).

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::batch::{batches, par_map};
use super::{
    Hint, Projection, Ready, Sink, SnapshotError, fill_identity, json_error, list_defaults, load_doc, plain_err, ready,
};

/// What the first look at a JSON object says: enough to tell a list from an object.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Peek<'a> {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default, borrow)]
    items: Option<&'a RawValue>,
}

/// A list's `items`: the bounds of each item, or not a list.
enum Items<'a> {
    List(Vec<&'a RawValue>),
    NotList,
}

/// One top-level document (or element of a top-level array), and what is known of it.
enum Doc<'a> {
    /// Not looked at yet.
    Raw(&'a str),
    /// An object, with its `kind`, `apiVersion` and `items` already read.
    Peeked { raw: &'a str, kind: Option<String>, api_version: Option<String>, items: Option<Items<'a>> },
}

/// Reads JSON `text` (lines shifted by `line_offset` in errors) into `sink`.
pub(super) fn load_json(
    text: &str,
    name: &str,
    line_offset: u64,
    hint: Hint,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    let docs = match sink.fast.then(|| scan(text)).flatten() {
        Some(docs) => docs,
        None => documents(text, name, line_offset)?,
    };
    read_docs(docs, name, line_offset, hint, sink)
}

/// The documents of `text` as they were always split: a stream of JSON values, a top-level
/// array giving its elements.
fn documents<'a>(text: &'a str, name: &str, line_offset: u64) -> Result<Vec<Doc<'a>>, SnapshotError> {
    let json_err = |e: serde_json::Error| json_error(name, line_offset, &e);
    let mut docs = Vec::new();
    for raw in serde_json::Deserializer::from_str(text).into_iter::<&RawValue>() {
        let raw = raw.map_err(json_err)?;
        if raw.get().trim_start().starts_with('[') {
            let items = serde_json::from_str::<Vec<&RawValue>>(raw.get()).map_err(json_err)?;
            docs.extend(items.into_iter().map(|r| Doc::Raw(r.get())));
        } else {
            docs.push(Doc::Raw(raw.get()));
        }
    }
    Ok(docs)
}

/// [`documents`] in one pass that also reads each object's `kind`, `apiVersion` and the
/// bounds of its `items`; `None` for anything it does not accept (invalid JSON, a `kind`
/// that is not a string, a repeated field), which [`documents`] then reports as before.
fn scan(text: &str) -> Option<Vec<Doc<'_>>> {
    let mut docs = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Top<'_>>();
    let mut start = 0usize;
    while let Some(top) = stream.next() {
        let top = top.ok()?;
        let end = stream.byte_offset();
        let raw = text.get(start..end)?.trim_start();
        start = end;
        match top {
            Top::Object { kind, api_version, items } => docs.push(Doc::Peeked { raw, kind, api_version, items }),
            Top::Array(elements) => docs.extend(elements.into_iter().map(|r| Doc::Raw(r.get()))),
            Top::Other => docs.push(Doc::Raw(raw)),
        }
    }
    Some(docs)
}

/// One top-level value as [`scan`] sees it.
enum Top<'a> {
    Object { kind: Option<String>, api_version: Option<String>, items: Option<Items<'a>> },
    Array(Vec<&'a RawValue>),
    Other,
}

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Top<'de>, E> {
        Ok(Top::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Top<'de>, E> {
        Ok(Top::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Top<'de>, E> {
        Ok(Top::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Top<'de>, E> {
        Ok(Top::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Top<'de>, E> {
        Ok(Top::Other)
    }
    fn visit_unit<E>(self) -> Result<Top<'de>, E> {
        Ok(Top::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Top<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            out.push(raw);
        }
        Ok(Top::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        use serde::de::Error as _;
        let (mut kind, mut api_version, mut items) = (None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "kind" if kind.is_none() => kind = Some(map.next_value::<Option<String>>()?),
                "apiVersion" if api_version.is_none() => api_version = Some(map.next_value::<Option<String>>()?),
                "items" if items.is_none() => items = Some(map.next_value::<Option<ItemsField<'de>>>()?),
                "kind" | "apiVersion" | "items" => return Err(A::Error::custom("repeated field")),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Top::Object {
            kind: kind.flatten(),
            api_version: api_version.flatten(),
            items: items.flatten().map(|f| f.0),
        })
    }
}

/// `items` of an object: the bounds of each element when it is an array.
struct ItemsField<'a>(Items<'a>);

impl<'de> Deserialize<'de> for ItemsField<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemsVisitor)
    }
}

struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = ItemsField<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(ItemsField(Items::NotList))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(ItemsField(Items::NotList))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(ItemsField(Items::NotList))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(ItemsField(Items::NotList))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(ItemsField(Items::NotList))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            out.push(raw);
        }
        Ok(ItemsField(Items::List(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ItemsField(Items::NotList))
    }
}

/// A top-level document and what it is: a list (its items read in batches), or one value.
fn read_docs(
    docs: Vec<Doc<'_>>,
    name: &str,
    line_offset: u64,
    hint: Hint,
    sink: &mut Sink<'_>,
) -> Result<(), SnapshotError> {
    let json_err = |e: serde_json::Error| json_error(name, line_offset, &e);
    let plain = |message: String| plain_err(name, message);
    let many = docs.len() > 1;
    let what_doc = |i: usize| if many { format!("object {}", i + 1) } else { "the document".to_string() };
    // Documents that are not lists, waiting to be read as one batch.
    let mut run: Vec<(usize, &str)> = Vec::new();
    let mut run_bytes = 0usize;
    for (i, doc) in docs.into_iter().enumerate() {
        let (raw, kind, api_version, items) = match doc {
            Doc::Peeked { raw, kind, api_version, items } => (raw, kind, api_version, items),
            Doc::Raw(raw) if raw.trim_start().starts_with('{') => match serde_json::from_str::<Peek<'_>>(raw) {
                Ok(p) => {
                    let items = p.items.map(|r| match serde_json::from_str::<Vec<&RawValue>>(r.get()) {
                        Ok(v) => Items::List(v),
                        Err(_) => Items::NotList,
                    });
                    (raw, p.kind, p.api_version, items)
                }
                Err(e) => {
                    read_run(&mut run, hint, name, &what_doc, sink).map_err(|e| e.into_error(name, line_offset))?;
                    return Err(json_err(e));
                }
            },
            Doc::Raw(raw) => (raw, None, None, None),
        };
        let list_kind = kind.as_deref().filter(|k| k.ends_with("List"));
        let Some(items) = items.filter(|_| list_kind.is_some() || kind.is_none()) else {
            run_bytes += raw.len();
            run.push((i, raw));
            if run_bytes >= super::batch::BATCH_BYTES {
                read_run(&mut run, hint, name, &what_doc, sink).map_err(|e| e.into_error(name, line_offset))?;
                run_bytes = 0;
            }
            continue;
        };
        read_run(&mut run, hint, name, &what_doc, sink).map_err(|e| e.into_error(name, line_offset))?;
        run_bytes = 0;
        let Items::List(items) = items else {
            return Err(plain(format!("{}: items of {} is not a list", what_doc(i), list_kind.unwrap_or("the list"))));
        };
        let list = serde_json::json!({"kind": kind, "apiVersion": api_version});
        let defaults = list_defaults(&list);
        let defaults = defaults.as_ref().map(|(k, a)| (k.as_str(), a.as_str())).or(hint);
        sink.note_list(defaults);
        let of = list_kind.unwrap_or("list");
        let mut j = 0usize;
        for batch in batches(&items, |r| r.get().len()) {
            let done = {
                let projection = sink.inv.projection();
                par_map(batch, &|raw: &&RawValue| parse_item(raw.get(), projection, defaults))
            };
            for parsed in done {
                j += 1;
                let what = format!("object {j} of the {of}");
                match parsed {
                    Parsed::Ready(r) => sink.commit(*r, &what).map_err(plain)?,
                    Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, name),
                    Parsed::Failed(e) => return Err(json_err(e)),
                    // `parse_item` makes every item ready; were one not, it is added as before.
                    Parsed::Doc(v) => sink.ingest(v, &what).map_err(plain)?,
                }
            }
        }
    }
    read_run(&mut run, hint, name, &what_doc, sink).map_err(|e| e.into_error(name, line_offset))
}

/// Why reading a run of documents stopped.
enum RunError {
    Json(serde_json::Error),
    Plain(String),
}

impl RunError {
    fn into_error(self, name: &str, line_offset: u64) -> SnapshotError {
        match self {
            RunError::Json(e) => json_error(name, line_offset, &e),
            RunError::Plain(m) => plain_err(name, m),
        }
    }
}

/// Reads the documents of `run` (numbered by their position), in parallel, then adds them
/// in order; `run` is left empty.
fn read_run(
    run: &mut Vec<(usize, &str)>,
    hint: Hint,
    name: &str,
    what_doc: &dyn Fn(usize) -> String,
    sink: &mut Sink<'_>,
) -> Result<(), RunError> {
    if run.is_empty() {
        return Ok(());
    }
    let done = {
        let projection = sink.inv.projection();
        par_map(run, &|(_, raw): &(usize, &str)| parse_doc(raw, projection, hint))
    };
    let numbers: Vec<usize> = run.drain(..).map(|(i, _)| i).collect();
    for (i, parsed) in numbers.into_iter().zip(done) {
        let what = what_doc(i);
        match parsed {
            Parsed::Ready(r) => sink.commit(*r, &what).map_err(RunError::Plain)?,
            Parsed::Doc(v) => load_doc(v, &what, hint, sink).map_err(RunError::Plain)?,
            Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, name),
            Parsed::Failed(e) => return Err(RunError::Json(e)),
        }
    }
    Ok(())
}

/// One object or document parsed (away from the sink).
pub(super) enum Parsed {
    /// An object, ready to add.
    Ready(Box<Ready>),
    /// A document that is not one plain object (a list, the `SnapshotInfo`, not an object):
    /// added by `load_doc`.
    Doc(Value),
    /// Not evaluated on its own (too large, too deep): listed as skipped.
    Skip { id: String, reason: String },
    /// Invalid JSON.
    Failed(serde_json::Error),
}

/// Parses a list item (giving it the list's `defaults` when it lacks its kind).
pub(super) fn parse_item(text: &str, projection: Option<&Projection>, defaults: Option<(&str, &str)>) -> Parsed {
    match parse_object(text) {
        Ok(Ok(mut v)) => {
            fill_identity(&mut v, defaults);
            Parsed::Ready(Box::new(ready(projection, v)))
        }
        Ok(Err((id, reason))) => Parsed::Skip { id, reason },
        Err(e) => Parsed::Failed(e),
    }
}

/// Parses a document: a plain object is made ready (with `hint`), anything else is left to
/// `load_doc`.
pub(super) fn parse_doc(text: &str, projection: Option<&Projection>, hint: Hint) -> Parsed {
    match parse_object(text) {
        Ok(Ok(mut v)) if super::is_plain_object(&v) => {
            fill_identity(&mut v, hint);
            Parsed::Ready(Box::new(ready(projection, v)))
        }
        Ok(Ok(v)) => Parsed::Doc(v),
        Ok(Err((id, reason))) => Parsed::Skip { id, reason },
        Err(e) => Parsed::Failed(e),
    }
}

/// Parses one object's JSON text. An object over [`MAX_OBJECT_BYTES`] or nested deeper than
/// the parser's limit is not evaluated on its own: `Ok(Err((identity, reason)))`, named by
/// what it says it is.
///
/// [`MAX_OBJECT_BYTES`]: crate::limits::MAX_OBJECT_BYTES
pub(super) fn parse_object(text: &str) -> Result<Result<Value, (String, String)>, serde_json::Error> {
    let reason = if text.len() > crate::limits::MAX_OBJECT_BYTES {
        format!(
            "larger than {}, far over any real object; not evaluated",
            crate::limits::human_bytes(crate::limits::MAX_OBJECT_BYTES as u64)
        )
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => return Ok(Ok(v)),
            Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
                format!("nested deeper than {} levels (a fixed limit); not evaluated", crate::limits::MAX_YAML_DEPTH)
            }
            Err(e) => return Err(e),
        }
    };
    Ok(Err((super::peek_identity(text), reason)))
}
