//! Large JSON snapshots read from the file as a stream: never held whole in memory. Each
//! top-level value (JSON lines, concatenated documents), each element of a top-level array
//! and each item of a `List` is parsed and stored as it is read, so memory is what is kept
//! of the objects plus one object at a time.
//!
//! Layer: inventory (a part of `snapshot`).

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::batch::{BATCH_BYTES, par_map};
use super::json::{Parsed, parse_item, parse_object};
use super::{Hint, Sink, SnapshotError, fill_identity, list_defaults, load_doc, plain_err, ready};

/// Reads `reader` (a JSON file of `name`) into `sink`.
pub(super) fn load<R: Read>(reader: R, name: &str, hint: Hint, sink: &mut Sink<'_>) -> Result<(), SnapshotError> {
    let mut r = BufReader::with_capacity(1 << 20, reader);
    let mut n = 0usize;
    loop {
        // Skip whitespace between top-level values; stop at the end of the file.
        let at_end = loop {
            let buf = r.fill_buf().map_err(|e| plain_err(name, format!("cannot read: {e}")))?;
            if buf.is_empty() {
                break true;
            }
            let ws = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let len = buf.len();
            // `---` between JSON documents, as YAML tools join them.
            let dashes = if ws < len && buf[ws..].starts_with(b"---") { 3 } else { 0 };
            r.consume(ws + dashes);
            if ws < len && dashes == 0 {
                break false;
            }
        };
        if at_end {
            return Ok(());
        }
        n += 1;
        let mut de = serde_json::Deserializer::from_reader(&mut r);
        let seed = Top { sink: &mut *sink, name, hint, n };
        if let Err(e) = seed.deserialize(&mut de) {
            let m = e.to_string();
            return Err(plain_err(name, format!("document {n}: invalid JSON or not readable: {m}")));
        }
    }
}

struct Top<'s, 'a> {
    sink: &'s mut Sink<'a>,
    name: &'s str,
    hint: Hint,
    n: usize,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn custom<E: serde::de::Error>(m: String) -> E {
    E::custom(m)
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object, a List or an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (n, name, hint) = (self.n, self.name, self.hint);
        let mut j = 0usize;
        let mut add = |sink: &mut Sink<'_>, batch: &[Box<RawValue>]| -> Result<(), A::Error> {
            let done = {
                let projection = sink.inv.projection();
                par_map(batch, &|raw| parse_item(raw.get(), projection, hint))
            };
            for parsed in done {
                j += 1;
                let what = format!("document {n}, object {j}");
                match parsed {
                    Parsed::Ready(r) => sink.commit(*r, &what).map_err(custom)?,
                    Parsed::Doc(v) => sink.ingest(v, &what).map_err(custom)?,
                    Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, name),
                    Parsed::Failed(e) => return Err(custom(e.to_string())),
                }
            }
            Ok(())
        };
        let mut batch = Batch::default();
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            if batch.push(raw) {
                add(self.sink, &batch.take())?;
            }
        }
        add(self.sink, &batch.take())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut fields = serde_json::Map::new();
        let mut items_seen = false;
        // Items read before the list's `kind` (kubectl writes `items` before `kind`) that
        // lack their own wait for it.
        let mut pending: Vec<Value> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && !items_seen {
                items_seen = true;
                let defaults = list_defaults(&Value::Object(fields.clone()));
                let seed = Items { top: &mut *self.sink, name: self.name, n: self.n, defaults, pending: &mut pending };
                map.next_value_seed(seed)?;
            } else if key == "items" {
                map.next_value::<IgnoredAny>()?;
            } else {
                let v: Value = map.next_value()?;
                fields.insert(key, v);
            }
        }
        let doc = Value::Object(fields);
        if !items_seen {
            let what = format!("document {}", self.n);
            return load_doc(doc, &what, self.hint, self.sink).map_err(custom);
        }
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !(kind.is_empty() || kind.ends_with("List")) {
            return Err(custom(format!(
                "document {}: a {kind} with a top-level items field is too large to read",
                self.n
            )));
        }
        let defaults = list_defaults(&doc);
        let defaults = defaults.as_ref().map(|(k, a)| (k.as_str(), a.as_str())).or(self.hint);
        self.sink.note_list(defaults);
        for (j, mut v) in pending.into_iter().enumerate() {
            fill_identity(&mut v, defaults);
            self.sink.ingest(v, &format!("document {}, waiting object {}", self.n, j + 1)).map_err(custom)?;
        }
        Ok(())
    }
}

struct Items<'s, 'a> {
    top: &'s mut Sink<'a>,
    name: &'s str,
    n: usize,
    defaults: Option<(String, String)>,
    pending: &'s mut Vec<Value>,
}

impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of objects (or null)")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (n, name) = (self.n, self.name);
        let defaults = self.defaults.as_ref().map(|(k, a)| (k.as_str(), a.as_str()));
        let pending = self.pending;
        let mut j = 0usize;
        let mut add = |sink: &mut Sink<'_>, batch: &[Box<RawValue>]| -> Result<(), A::Error> {
            let done = {
                let projection = sink.inv.projection();
                par_map(batch, &|raw| match defaults {
                    Some(_) => parse_item(raw.get(), projection, defaults),
                    // Without the list's kind (not read yet), an item without its own waits.
                    None => match parse_object(raw.get()) {
                        Ok(Ok(v)) if v.get("kind").is_none() => Parsed::Doc(v),
                        Ok(Ok(v)) => Parsed::Ready(Box::new(ready(projection, v))),
                        Ok(Err((id, reason))) => Parsed::Skip { id, reason },
                        Err(e) => Parsed::Failed(e),
                    },
                })
            };
            for parsed in done {
                j += 1;
                let what = format!("object {j} of the list in document {n}");
                match parsed {
                    Parsed::Ready(r) => sink.commit(*r, &what).map_err(custom)?,
                    Parsed::Doc(v) => pending.push(v),
                    Parsed::Skip { id, reason } => sink.skip_object(&what, &id, &reason, name),
                    Parsed::Failed(e) => return Err(custom(e.to_string())),
                }
            }
            Ok(())
        };
        let mut batch = Batch::default();
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            if batch.push(raw) {
                add(self.top, &batch.take())?;
            }
        }
        add(self.top, &batch.take())
    }
}

/// Items read from the stream, waiting to be parsed together.
#[derive(Default)]
struct Batch {
    items: Vec<Box<RawValue>>,
    bytes: usize,
}

impl Batch {
    /// Adds one; true when the batch is full.
    fn push(&mut self, raw: Box<RawValue>) -> bool {
        self.bytes += raw.get().len();
        self.items.push(raw);
        self.bytes >= BATCH_BYTES
    }

    fn take(&mut self) -> Vec<Box<RawValue>> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}
