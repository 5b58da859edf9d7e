//! Evaluating one compiled CEL rule on one object, as Kubernetes ValidatingAdmissionPolicy
//! does: `object` is the object and, with a planned change, `oldObject` the live object it
//! replaces (`null` otherwise). JSON is handed to the interpreter without copying strings.
//!
//! Layer: eval. Imports the inventory's objects.

use std::sync::Arc;

use crate::inventory::Object;
use crate::inventory::projection::{Keep, cel_paths};

/// What one CEL evaluation produced; see [`eval_cel`].
pub type CelResult = Result<Option<Option<String>>, String>;

/// Evaluates a compiled CEL rule (and its message expression) on one object, as checks do:
/// `Ok(None)`: not a finding; `Ok(Some(msg))`: a finding, with the message expression's
/// result when there is one; `Err`: the rule failed on this object. Public for fuzzing.
pub fn eval_cel(
    program: &cel::Program,
    message: Option<&cel::Program>,
    obj: &Object,
    env: &Arc<cel::Env>,
) -> CelResult {
    eval_cel_with_old(program, message, obj, None, env)
}

/// [`eval_cel`] with `oldObject`, as in ValidatingAdmissionPolicy: the live object a planned
/// one replaces (`null` for a new object and outside a planned change).
pub fn eval_cel_with_old(
    program: &cel::Program,
    message: Option<&cel::Program>,
    obj: &Object,
    old: Option<&Object>,
    env: &Arc<cel::Env>,
) -> CelResult {
    eval_cel_full(program, message, obj, old, env, "")
}

/// [`eval_cel_with_old`] with `captureTime` (RFC 3339, when the data was captured; empty
/// when unknown), for rules about how long a state has lasted.
pub fn eval_cel_full(
    program: &cel::Program,
    message: Option<&cel::Program>,
    obj: &Object,
    old: Option<&Object>,
    env: &Arc<cel::Env>,
    capture_time: &str,
) -> CelResult {
    eval_cel_between(program, message, &Keep::all(), obj, old, env, capture_time, None).0
}

/// What a rule and its message expression read of `object` (see [`cel_paths`]).
pub(crate) fn reads(program: &cel::Program, message: Option<&cel::Program>) -> Keep {
    let mut keep = cel_paths(program.expression());
    if let Some(m) = message {
        keep.merge(&cel_paths(m.expression()));
    }
    keep
}

/// [`eval_cel_full`] handing CEL only what `reads` keeps of `object` (as the live inventory
/// is projected: converting a whole Pod's spec for a rule that reads its status cost more
/// than the rule), at `capture_time`, and, when the rule is false there and `later` is
/// given, again at `later` on the same converted object: the second value is true when the
/// rule holds at `later` only (the result depends on a capture time known only to lie
/// between the two).
#[allow(clippy::too_many_arguments)] // Each is one of the rule's inputs; a struct would only rename them.
pub(crate) fn eval_cel_between(
    program: &cel::Program,
    message: Option<&cel::Program>,
    reads: &Keep,
    obj: &Object,
    old: Option<&Object>,
    env: &Arc<cel::Env>,
    capture_time: &str,
    later: Option<&str>,
) -> (CelResult, bool) {
    let mut value = read_top_level(obj.raw(), reads);
    reads.apply(&mut value, false);
    let old_value = old.map_or(serde_json::Value::Null, Object::value);
    let mut ctx = cel::Context::with_env(Arc::clone(env));
    ctx.add_variable_as_val("object", to_cel(&value));
    ctx.add_variable_as_val("oldObject", to_cel(&old_value));
    ctx.add_variable_as_val("captureTime", Box::new(cel::common::types::CelString::from(capture_time)));
    let result = match program.execute(&ctx) {
        Ok(cel::Value::Bool(false)) => Ok(None),
        Ok(cel::Value::Bool(true)) => {
            let msg = match message {
                None => None,
                Some(m) => match m.execute(&ctx) {
                    Ok(cel::Value::String(s)) => Some(s.to_string()),
                    Ok(other) => return (Err(format!("message-expression returned {other:?}, not a string")), false),
                    Err(e) => return (Err(format!("message-expression: {e}")), false),
                },
            };
            Ok(Some(msg))
        }
        Ok(other) => Err(format!("rule returned {other:?}, not a bool")),
        Err(e) => Err(e.to_string()),
    };
    let depends = match (&result, later) {
        (Ok(None), Some(later)) => {
            ctx.add_variable_as_val("captureTime", Box::new(cel::common::types::CelString::from(later)));
            matches!(program.execute(&ctx), Ok(cel::Value::Bool(true)))
        }
        _ => false,
    };
    (result, depends)
}

/// A text the object's compact JSON must hold for the rule to be true, and the field path it
/// comes from (see [`required_texts`]).
pub(crate) struct Required {
    /// The string literal as serde_json writes it (quotes included).
    pub text: String,
    /// The compared field below `object`.
    pub path: Vec<String>,
}

impl Required {
    /// True when the rule is certainly false on the object of compact JSON `raw`: the text
    /// is missing, and every field above the compared one is an object where present (then
    /// the `has()` guards make a missing field false, never an error).
    pub(crate) fn rules_out(&self, finder: &memchr::memmem::Finder<'_>, raw: &str) -> bool {
        finder.find(raw.as_bytes()).is_none() && parents_are_maps(raw, &self.path)
    }
}

/// Texts the object's compact JSON must hold for the rule to be true, found in its
/// top-level conjunction: `has(object.a) && has(object.a.b) && object.a.b == 'x'` needs `"x"`
/// (the field is a string equal to `x`, written by serde_json as the stored text was). Only
/// when every prefix of the path is `has()`-tested, in order, before the equality: on an
/// object without a field above the compared one the rule is then false, not an error, and an
/// error must stay one ([`Required::rules_out`] also asks that those fields be objects). An
/// object ruled out is false without being parsed (a rule on Pending Pods looks at 100,000
/// running ones).
pub(crate) fn required_texts(program: &cel::Program) -> Vec<Required> {
    use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
    fn conjuncts<'a>(e: &'a IdedExpr, out: &mut Vec<&'a IdedExpr>) {
        match &e.expr {
            Expr::Call(c) if c.func_name == operators::LOGICAL_AND && c.target.is_none() && c.args.len() == 2 => {
                conjuncts(&c.args[0], out);
                conjuncts(&c.args[1], out);
            }
            _ => out.push(e),
        }
    }
    /// The path of a field selection on `object` (`object.a.b` → `[a, b]`; `object` → `[]`).
    fn path(e: &IdedExpr) -> Option<Vec<&str>> {
        let mut fields = Vec::new();
        let mut cur = e;
        loop {
            match &cur.expr {
                Expr::Select(s) if !s.test => {
                    fields.push(s.field.as_str());
                    cur = &s.operand;
                }
                Expr::Ident(name) if name == "object" => {
                    fields.reverse();
                    return Some(fields);
                }
                _ => return None,
            }
        }
    }
    let mut all = Vec::new();
    conjuncts(program.expression(), &mut all);
    // The path each conjunct `has()`-tests, by position.
    let tested: Vec<Option<Vec<&str>>> = all
        .iter()
        .map(|e| match &e.expr {
            Expr::Select(s) if s.test => path(&s.operand).map(|mut p| {
                p.push(s.field.as_str());
                p
            }),
            _ => None,
        })
        .collect();
    // `has()` of each prefix of `p`, one after another, all before position `before`.
    let guarded = |p: &[&str], before: usize| {
        let mut from = 0;
        (1..=p.len()).all(|n| match tested[from..before].iter().position(|t| t.as_deref() == Some(&p[..n])) {
            Some(i) => {
                from += i + 1;
                true
            }
            None => false,
        })
    };
    all.iter()
        .enumerate()
        .filter_map(|(at, e)| match &e.expr {
            Expr::Call(c) if c.func_name == operators::EQUALS && c.target.is_none() && c.args.len() == 2 => {
                let (field, lit) = match (&c.args[0].expr, &c.args[1].expr) {
                    (_, Expr::Literal(LiteralValue::String(s))) => (&c.args[0], s),
                    (Expr::Literal(LiteralValue::String(s)), _) => (&c.args[1], s),
                    _ => return None,
                };
                let p = path(field).filter(|p| !p.is_empty())?;
                if !guarded(&p, at) {
                    return None;
                }
                let text = serde_json::to_string(&**lit).ok()?;
                Some(Required { text, path: p.iter().map(ToString::to_string).collect() })
            }
            _ => None,
        })
        .collect()
}

/// True when every field on `path` but the last is an object wherever it is present in the
/// compact JSON object `raw` (read without building it). Anything else (a `null`, a string,
/// a list, text that does not parse) is false.
fn parents_are_maps(raw: &str, path: &[String]) -> bool {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    struct Walk<'p>(&'p [String]);
    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                match self.0 {
                    [first, rest @ ..] if !rest.is_empty() && *first == k => map.next_value_seed(Walk(rest))?,
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            // Any value but an object is an error: the visitor accepts maps only.
            d.deserialize_map(self)
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    Walk(path).deserialize(&mut de).is_ok()
}

/// The object of `raw` with only the top-level fields `reads.apply` looks at (`apiVersion`,
/// `kind`, `metadata` and the first segment of each path), the others skipped unparsed: a
/// Pod's `spec` is most of its text, and a rule on its `status` never needs it parsed.
/// `apply` then gives what it would give on the whole object.
fn read_top_level(raw: &str, reads: &Keep) -> serde_json::Value {
    use serde::de::{DeserializeSeed as _, IgnoredAny, MapAccess, Visitor};
    struct Top<'a>(Vec<&'a str>);
    impl<'de> Visitor<'de> for Top<'_> {
        type Value = serde_json::Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if matches!(k.as_ref(), "apiVersion" | "kind" | "metadata") || self.0.contains(&k.as_ref()) {
                    out.insert(k.into_owned(), map.next_value()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(serde_json::Value::Object(out))
        }
    }
    impl<'de> serde::de::DeserializeSeed<'de> for Top<'_> {
        type Value = serde_json::Value;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_map(self)
        }
    }
    if reads.all {
        return serde_json::from_str(raw).unwrap_or(serde_json::Value::Null);
    }
    let heads = reads.paths.iter().chain(&reads.unowned_paths).filter_map(|p| p.first()).map(String::as_str).collect();
    // The text was written by serde_json from an object (see `Object::value`); `Null` only
    // if that broke.
    Top(heads).deserialize(&mut serde_json::Deserializer::from_str(raw)).unwrap_or(serde_json::Value::Null)
}

/// JSON to a CEL value that borrows its strings from the JSON (no copies, one pass).
/// Integers are CEL `int` as in Kubernetes (`uint` only beyond `i64`), other numbers `double`.
fn to_cel(v: &serde_json::Value) -> Box<dyn cel::common::value::Val + '_> {
    use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt};
    use serde_json::Value as J;
    match v {
        J::Null => Box::new(CelNull),
        J::Bool(b) => Box::new(CelBool::from(*b)),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        J::String(s) => Box::new(CelString::from(s.as_str())),
        J::Array(a) => Box::new(CelList::from(a.iter().map(to_cel).collect::<Vec<_>>())),
        J::Object(m) => Box::new(CelMap::from(
            m.iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), to_cel(v)))
                .collect::<std::collections::HashMap<_, _>>(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_texts_come_from_guarded_equalities_of_the_top_level_conjunction() {
        let texts = |src: &str| -> Vec<String> {
            required_texts(&cel::Program::compile(src).unwrap()).into_iter().map(|r| r.text).collect()
        };
        assert_eq!(
            texts("has(object.status) && has(object.status.phase) && object.status.phase == 'Pending' && object.x > 1"),
            ["\"Pending\""]
        );
        assert_eq!(texts("has(object.a) && 'Pending' == object.a"), ["\"Pending\""]);
        // Quotes and backslashes as serde_json writes them in the stored text.
        assert_eq!(texts("has(object.a) && object.a == 'say \\\"hi\\\"'"), ["\"say \\\"hi\\\"\""]);
        // Unguarded, a parent unguarded, guards out of order or after the equality (each an
        // error on some object), under || or !, or not a string.
        assert!(texts("object.status.phase == 'Pending'").is_empty());
        assert!(texts("has(object.status.phase) && object.status.phase == 'Pending'").is_empty());
        assert!(texts("has(object.status.phase) && has(object.status) && object.status.phase == 'Pending'").is_empty());
        assert!(texts("has(object.status) && object.status.phase == 'Pending' && has(object.status.phase)").is_empty());
        assert!(texts("has(object.s) && has(object.s.p) && (object.s.p == 'P' || object.x == 1)").is_empty());
        assert!(texts("has(object.p) && !(object.p == 'Running')").is_empty());
        assert!(texts("has(object.n) && object.n == 1").is_empty());
        assert!(texts("has(object.s) && has(object.s.p) && object.s.q == 'x'").is_empty());
    }

    #[test]
    fn an_object_is_ruled_out_only_when_the_rule_is_certainly_false() {
        let rule = "has(object.status) && has(object.status.phase) && object.status.phase == 'Pending'";
        let program = cel::Program::compile(rule).unwrap();
        let [req] = required_texts(&program).try_into().ok().unwrap();
        let finder = memchr::memmem::Finder::new(&req.text);
        let env = Arc::new(cel::Env::stdlib());
        for (raw, out) in [
            (r#"{"kind":"Pod","status":{"phase":"Running"}}"#, true),
            (r#"{"kind":"Pod"}"#, true),
            (r#"{"kind":"Pod","status":{}}"#, true),
            (r#"{"kind":"Pod","status":{"phase":"Pending"}}"#, false),
            // The rule would be an error here, not false: evaluate it.
            (r#"{"kind":"Pod","status":null}"#, false),
            (r#"{"kind":"Pod","status":"Running"}"#, false),
            (r#"{"kind":"Pod","status":[{"phase":"x"}]}"#, false),
        ] {
            assert_eq!(req.rules_out(&finder, raw), out, "{raw}");
            if out {
                // Ruled out means the rule itself says false.
                let v: serde_json::Value = serde_json::from_str(raw).unwrap();
                let mut ctx = cel::Context::with_env(Arc::clone(&env));
                ctx.add_variable_as_val("object", to_cel(&v));
                assert!(matches!(program.execute(&ctx), Ok(cel::Value::Bool(false))), "{raw}");
            }
        }
    }

    #[test]
    fn reading_top_level_fields_gives_what_the_whole_object_gives() {
        let pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "annotations": {"x": "1", "y": "2"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "r"}]},
            "spec": {"containers": [{"name": "c", "image": "i:1", "resources": {"requests": {"cpu": "1"}}}], "nodeName": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "hostIP": "10.0.0.1"}
        });
        let raw = pod.to_string();
        for keep in [
            Keep::paths(&["status.phase"]),
            Keep::paths(&["status.conditions", "spec.containers.[].resources"]),
            Keep::paths(&["metadata.annotations.x"]),
            Keep::unowned(&["spec.nodeName"]),
            Keep::default(),
            Keep::all(),
        ] {
            let mut whole = pod.clone();
            keep.apply(&mut whole, false);
            let mut read = read_top_level(&raw, &keep);
            keep.apply(&mut read, false);
            assert_eq!(read, whole, "{keep:?}");
        }
        // Skipped fields are not parsed at all: a rule on `status` does not read `spec`.
        assert!(read_top_level(&raw, &Keep::paths(&["status.phase"])).get("spec").is_none());
    }
}
