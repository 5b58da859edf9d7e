//! Fuzz harnesses, one per target. Shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`)
//! and the regression tests (`tests/fuzz_regressions.rs`), so an input that crashed a target
//! replays through exactly the same code in the normal test suite.
//!
//! Besides "does not panic", each harness asserts an invariant that must hold for every
//! input it accepts: what the tool writes it reads back, a range's own text means the
//! same range, a release object is always well formed.
// Each target uses one harness; the tests use them all.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{Value, json};
use upgrade_preflight::catalog::{Catalog, Sources, cel_env, compile_checked, validate_text};
use upgrade_preflight::eval::{self, Selection};
use upgrade_preflight::inventory::{Inventory, Object, Origin, projection, snapshot};
use upgrade_preflight::limits::Limits;
use upgrade_preflight::version::{self, Parsed, Range};

/// The built-in catalog, loaded once.
fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::load(&Sources::default()).expect("the built-in catalog is valid"))
}

/// `RANGE\nVERSION`: version parsing, ordering and range matching.
pub fn version(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let (range, raw) = s.split_once('\n').unwrap_or((s, s));
    let v = match version::parse(raw) {
        Parsed::Version(v) => {
            // What we print, we read back as the same version.
            assert_eq!(version::parse_version(&version::display(&v)).as_ref(), Some(&v), "{raw:?}");
            assert_eq!(version::cmp_precedence(&v, &v), Ordering::Equal);
            Some(v)
        }
        Parsed::Floating(why) | Parsed::Unknown(why) => {
            assert!(!why.is_empty());
            None
        }
    };
    if let Ok(r) = Range::parse(range) {
        let again = Range::parse(r.as_str()).expect("a range's own text parses");
        if let Some(v) = v {
            assert_eq!(r.matches(&v), again.matches(&v), "{range:?} on {raw:?}");
        }
    }
}

/// A snapshot file (YAML, JSON, `List`): parse, write back, read again, evaluate.
pub fn snapshot(data: &[u8]) {
    let limits = Limits { max_snapshot_bytes: 1 << 20, max_objects: 10_000 };
    let Ok(inv) = snapshot::parse_bytes(data, "fuzz.yaml", &limits) else { return };
    let written = snapshot::write(&inv);
    let unlimited = Limits { max_snapshot_bytes: u64::MAX, max_objects: usize::MAX };
    let again = match snapshot::parse_bytes(written.as_bytes(), "written.json", &unlimited) {
        Ok(i) => i,
        Err(e) => panic!("a snapshot we wrote does not read back: {e}\n{written}"),
    };
    assert_eq!(again.len(), inv.len(), "objects lost or gained in a round trip:\n{written}");
    let _ = eval::evaluate(catalog(), &inv, &Selection::default());
}

/// One matrix or check file: the first byte picks the schema (even: matrix), the rest is
/// the file. The file is named `fuzz.yaml`, so seeds use `id: fuzz`.
pub fn data_file(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let diags = validate_text(first % 2 == 0, "fuzz.yaml", text);
    for d in &diags {
        assert!(!d.message.is_empty());
        assert_eq!(d.file, "fuzz.yaml");
    }
}

/// The object CEL rules run on in [`cel`]: a bit of everything a rule may select.
fn cel_object() -> &'static Object {
    static OBJECT: OnceLock<Object> = OnceLock::new();
    OBJECT.get_or_init(|| {
        Object::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "d", "labels": {"app": "x"}, "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "x/y:1.2.3", "ports": [{"containerPort": 80}]}],
                     "nodeName": "n", "priority": -5, "overhead": null},
            "status": {"phase": "Running", "restartCount": 18446744073709551615u64, "ratio": 0.5,
                       "conditions": [{"type": "Ready", "status": "True"}], "empty": [], "obj": {}}
        }))
        .expect("the fixed object has an identity")
    })
}

/// A CEL rule, as a data file's rule is handled: compile within the limits, find the
/// fields it reads (projection), evaluate on an object on a thread with the evaluation
/// stack checks get.
pub fn cel(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let env = cel_env();
    let Ok(program) = compile_checked(&env, src) else { return };
    let _ = projection::cel_paths(program.expression());
    let _verdict = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(upgrade_preflight::limits::EVAL_STACK_BYTES)
            .spawn_scoped(s, || eval::eval_cel(&program, Some(&program), cel_object(), &env))
            .expect("an evaluation thread starts")
            .join()
            .expect("evaluation does not panic")
    });
}

/// A Helm release payload. The first byte picks how the rest becomes `data.release`:
/// 0 as is (Secret driver), 1 base64(base64(gzip(rest))) as Helm writes it, 2 base64(rest)
/// (ConfigMap driver, uncompressed), 3 base64(gzip(rest)) (ConfigMap driver).
pub fn helm(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let b64 = base64::engine::general_purpose::STANDARD;
    let gzip = |bytes: &[u8]| {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).expect("writing to a Vec");
        gz.finish().expect("writing to a Vec")
    };
    let (driver_secret, payload) = match mode % 4 {
        0 => (true, String::from_utf8_lossy(rest).into_owned()),
        1 => (true, b64.encode(b64.encode(gzip(rest)))),
        2 => (false, b64.encode(rest)),
        _ => (false, b64.encode(gzip(rest))),
    };
    let storage = if driver_secret {
        json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
               "metadata": {"name": "sh.helm.release.v1.app.v3", "namespace": "ns",
                            "labels": {"owner": "helm", "name": "app", "version": "3", "status": "deployed"}},
               "data": {"release": payload}})
    } else {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "sh.helm.release.v1.app.v3", "namespace": "ns", "labels": {"owner": "helm"}},
               "data": {"release": payload}})
    };
    let Some(rel) = upgrade_preflight::inventory::helm::release_object(&storage) else {
        assert!(payload.is_empty(), "a non-empty payload always gives a release object");
        return;
    };
    assert_eq!(rel["kind"], "HelmRelease");
    assert!(rel["spec"].is_object(), "{rel}");
    let undecodable = rel["spec"].get("undecodable").is_some();
    let has_name = rel["spec"]["release"].is_string() && rel["spec"]["revision"].is_u64();
    assert!(undecodable || has_name, "a decoded release names itself: {rel}");
    if undecodable {
        // The check's message names release and revision for every undecodable release.
        assert!(has_name, "{rel}");
    }
    // Into an inventory like any source does, pruned, and evaluated.
    let mut inv = Inventory::new(Origin::Snapshot("fuzz".into()), false);
    inv.ingest(storage).expect("a storage object has an identity");
    inv.finish();
    let _ = eval::evaluate(catalog(), &inv, &Selection::default());
}

/// `Value` helpers for the regression tests.
pub fn release_secret(release: &Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
           "metadata": {"name": "sh.helm.release.v1.app.v1", "namespace": "ns", "labels": {"owner": "helm"}},
           "data": {"release": upgrade_preflight::inventory::helm::encode_for_secret(release)}})
}

/// Kubeconfig text: parsed without panicking, and an error never quotes the input (a
/// kubeconfig holds tokens and keys): no line of it of 12 characters or more appears in the
/// message.
pub fn kubeconfig(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Err(msg) = upgrade_preflight::inventory::connect::parse_kubeconfig(text, "kc") else { return };
    assert!(msg.starts_with("kc"), "{msg}");
    for line in text.lines().map(str::trim).filter(|l| l.chars().count() >= 12) {
        // A line the message's own wording happens to contain proves nothing.
        if !line.chars().all(|c| c.is_ascii_alphabetic() || c == ' ' || c == ':') {
            assert!(!msg.contains(line), "the error quotes the input line {line:?}: {msg}");
        }
    }
}

/// A planned-change manifest (`check --manifest`): parsed without panicking; every document
/// it yields says where it starts; applying them to an empty cluster does not panic.
pub fn manifest(data: &[u8]) {
    use upgrade_preflight::inventory::manifest;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut docs = Vec::new();
    if manifest::parse_text(text, "m.yaml", &mut docs).is_err() {
        return;
    }
    for d in &docs {
        assert!(d.location.starts_with("m.yaml"), "{}", d.location);
    }
    let inv = Inventory::new(Origin::Snapshot("fuzz".into()), false);
    let _ = manifest::apply(inv, &docs, manifest::ChangeSet::default());
}

/// A `/metrics` body (`inventory::metrics`): read whole and in two chunks (cut where the first
/// byte says) gives the same answer; the series kept round-trip through the inventory object
/// and are judged by `deprecated-api-requests` without a panic.
pub fn metrics(data: &[u8]) {
    use upgrade_preflight::inventory::metrics::{self, Scanner};
    let whole = {
        let mut s = Scanner::new();
        let pushed = s.push(data);
        pushed.and_then(|()| s.finish())
    };
    let cut = data.first().map_or(0, |b| usize::from(*b) % (data.len() + 1));
    let split = {
        let mut s = Scanner::new();
        let pushed = s.push(&data[..cut]).and_then(|()| s.push(&data[cut..]));
        pushed.and_then(|()| s.finish())
    };
    // Debug text: NaN values are not equal to themselves.
    assert_eq!(format!("{whole:?}"), format!("{split:?}"), "cut at {cut}");
    let Ok(series) = whole else { return };
    let obj = metrics::object(&series);
    let back = metrics::read(&obj).expect("an object we wrote reads back");
    assert_eq!(format!("{back:?}"), format!("{series:?}"));
    let mut inv = Inventory::new(Origin::Live { context: "fuzz".into(), server: "https://fuzz".into() }, true);
    inv.server_version = Some("v1.24.0".into());
    inv.push(Object::from_value(obj).expect("the object has an identity"));
    inv.finish();
    let only = ["deprecated-api-requests".to_string()].into_iter().collect();
    let _ = eval::evaluate(catalog(), &inv, &Selection { only, ..Selection::default() });
}
