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
    // The streamed reader (JSON files over 32 MiB), values over a size the first byte picks
    // read element by element: no panic, and where both readers accept JSON they agree.
    let small = data.first().map_or(0, |b| usize::from(*b) * 4);
    let streamed = snapshot::parse_stream(data, "fuzz.json", &limits, small);
    let json = data.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| matches!(b, b'{' | b'['));
    if json && let (Ok(s), Ok(w)) = (&streamed, &snapshot::parse_bytes(data, "fuzz.json", &limits)) {
        assert_eq!(snapshot::write(s), snapshot::write(w), "the streamed reader reads otherwise");
    }
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
/// message, unless the line is made of what the message's own wording is made of (letters,
/// spaces, `:`, quotes, `…`).
pub fn kubeconfig(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Err(msg) = upgrade_preflight::inventory::connect::parse_kubeconfig(text, "kc") else { return };
    assert!(msg.starts_with("kc"), "{msg}");
    // The file name and `:LINE:COL` in front are the tool's own; what follows is what could
    // quote the input (libFuzzer copies the whole message into its inputs, location and all).
    let body = msg.strip_prefix("kc:").unwrap_or(&msg);
    let located = body.split_once(": ").filter(|(at, _)| {
        let parts: Vec<&str> = at.split(':').collect();
        parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let body = located.map_or(body, |(_, rest)| rest);
    for line in text.lines().map(str::trim).filter(|l| l.chars().count() >= 12) {
        // A line the message's own wording happens to contain proves nothing. That wording
        // includes the quotes and the `…` that stand for what was redacted
        // (`limits::without_quoted`): libFuzzer copies the message's text into its inputs.
        let wording = |c: char| c.is_ascii_alphabetic() || " :`'\"…".contains(c);
        if !line.chars().all(wording) {
            assert!(!body.contains(line), "the error quotes the input line {line:?}: {msg}");
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

// ---------- capture trees, archives and charts ----------
//
// These targets read what users hand `check --snapshot` and `check --chart`: a capture
// directory, an archive of one, a chart directory or `.tgz`. The readers take paths, so each
// input is written to a scratch directory (`$TMPDIR`; point it at a tmpfs when fuzzing) and
// removed afterwards.

/// Small limits, so that small inputs reach them.
const CAPTURE_LIMITS: Limits = Limits { max_snapshot_bytes: 1 << 20, max_objects: 10_000 };

/// A scratch directory of its own per input, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Relaxed);
        let p = std::env::temp_dir().join(format!("upgrade-preflight-fuzz-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("a scratch directory can be created");
        Self(p)
    }

    /// Writes `files` under `sub/` and returns its path.
    fn tree(&self, sub: &str, files: &std::collections::BTreeMap<&str, Vec<u8>>) -> std::path::PathBuf {
        let root = self.0.join(sub);
        std::fs::create_dir_all(&root).expect("scratch directory");
        for (rel, bytes) in files {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().expect("a file has a parent")).expect("scratch directory");
            std::fs::write(p, bytes).expect("scratch file");
        }
        root
    }

    fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).expect("scratch file");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Files from fuzz bytes: a line `@@ NAME` starts a file, whose content is every byte up to
/// the next such line. A NAME that is not one of `names` is replaced by one of them (chosen by
/// its bytes), so every file lands on a known path inside the scratch directory. At most 12
/// files; a later file of the same name replaces an earlier one.
pub fn records(data: &[u8], names: &[&'static str]) -> std::collections::BTreeMap<&'static str, Vec<u8>> {
    let starts: Vec<usize> =
        (0..data.len()).filter(|&i| data[i..].starts_with(b"@@ ") && (i == 0 || data[i - 1] == b'\n')).collect();
    let mut out = std::collections::BTreeMap::new();
    for (k, &s) in starts.iter().enumerate().take(12) {
        let end = starts.get(k + 1).copied().unwrap_or(data.len());
        let line_end = data[s..end].iter().position(|&b| b == b'\n').map_or(end, |p| s + p);
        let header = &data[s + 3..line_end];
        let wanted = std::str::from_utf8(header).map(str::trim).unwrap_or("");
        let name = names
            .iter()
            .find(|n| **n == wanted)
            .copied()
            .unwrap_or_else(|| names[header.iter().map(|&b| usize::from(b)).sum::<usize>() % names.len()]);
        out.insert(name, data[(line_end + 1).min(end)..end].to_vec());
    }
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("writing to a Vec");
    gz.finish().expect("writing to a Vec")
}

/// A ustar archive of `files` under `prefix`, as `tar czf` writes it before compression (a
/// GNU `././@LongLink` entry for names of 100 bytes or more); the writer of `tests/inputs.rs`.
fn tar(files: &std::collections::BTreeMap<&str, Vec<u8>>, prefix: &str) -> Vec<u8> {
    fn header(name: &str, size: usize, kind: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0001750");
        h[116..123].copy_from_slice(b"0001750");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"14737155510");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }
    let mut out = Vec::new();
    for (name, data) in files {
        let name = format!("{prefix}{name}");
        if name.len() >= 100 {
            let mut long = name.clone().into_bytes();
            long.push(0);
            out.extend(header("././@LongLink", long.len(), b'L'));
            out.extend_from_slice(&long);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.extend(header(&name[..name.len().min(99)], data.len(), b'0'));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Whether a Secret field holds no value, whatever its shape.
fn blank(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().all(|x| x == ""),
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// What every inventory read from a capture must satisfy: each object's stored text is the
/// object it claims to be (kind, name); Secrets and Helm storage hold no value; every skipped
/// file or object names a file of the capture (one of `names`).
fn check_capture(inv: &Inventory, names: &std::collections::BTreeSet<String>) {
    use upgrade_preflight::inventory::{KindState, UNNAMED, helm};
    assert!(inv.len() <= CAPTURE_LIMITS.max_objects);
    for s in &inv.input.skipped {
        assert!(names.contains(&s.path), "a skipped entry names no file of the capture: {s:?}\nfiles: {names:?}");
        assert!(!s.reason.is_empty(), "{s:?}");
    }
    for (_, state) in inv.kinds() {
        let KindState::Collected(objects) = state else { continue };
        for o in objects {
            let v = o.value();
            assert_eq!(v["kind"].as_str(), Some(o.kind.as_str()), "{v}");
            assert_eq!(v["apiVersion"].as_str(), Some(o.api_version.as_str()), "{v}");
            let name = v.pointer("/metadata/name").and_then(Value::as_str);
            assert!(name == Some(o.name.as_str()) || (name.is_none() && o.name == UNNAMED), "{v}");
            if o.kind == "Secret" || helm::driver_of(&v).is_some() {
                for field in ["data", "stringData", "binaryData"] {
                    assert!(
                        v.get(field).is_none_or(blank),
                        "{} {}/{} keeps a value in {field}",
                        o.kind,
                        o.namespace.as_deref().unwrap_or(""),
                        o.name
                    );
                }
            }
        }
    }
}

/// A snapshot archive (`check --snapshot FILE`): the first byte picks how the rest becomes
/// the file — odd: gzip(rest), so mutations reach the tar inside a `.tar.gz`; even: rest as
/// is (a `.tar`, `.zip` or `.tar.gz`). The archive reader stays within the limits (entries,
/// inflated bytes) and names nothing outside the archive; reading the file as a snapshot
/// never panics, and what it yields is a sound capture (see `check_capture`).
pub fn archive(data: &[u8]) {
    use upgrade_preflight::inventory::archive;
    let Some((&mode, rest)) = data.split_first() else { return };
    let file = if mode % 2 == 1 { gzip(rest) } else { rest.to_vec() };
    // Anything else is a text snapshot: the `snapshot` target's ground.
    let Some(kind) = archive::sniff(&file) else { return };
    let names = match archive::read(kind, &file, CAPTURE_LIMITS.max_snapshot_bytes) {
        Ok(entries) => {
            assert!(entries.len() <= archive::MAX_ENTRIES);
            // Bounded memory: what the entries hold (not only their length) stays within the
            // inflated limit, whatever sizes the archive declares.
            let held: usize = entries.iter().map(|(_, b)| b.capacity()).sum();
            assert!(held as u64 <= CAPTURE_LIMITS.max_snapshot_bytes, "the entries hold {held} bytes");
            for (name, _) in &entries {
                let clean = !name.starts_with('/') && name.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
                assert!(clean || name.is_empty(), "an entry name reaches outside the archive: {name:?}");
            }
            Some(entries.into_iter().map(|(n, _)| n).collect::<std::collections::BTreeSet<_>>())
        }
        Err(m) => {
            assert!(!m.is_empty());
            None
        }
    };
    let scratch = Scratch::new();
    let path = scratch.file("capture.tar.gz", &file);
    match snapshot::load_with(&path, &CAPTURE_LIMITS) {
        Ok(inv) => {
            let names = names.expect("an archive the reader refuses does not load");
            check_capture(&inv, &names);
        }
        Err(e) => {
            assert!(e.path.starts_with(&path.display().to_string()), "the error names another file: {e}");
            assert!(!e.message.is_empty());
        }
    }
}

/// Where files sit in the capture layouts `check --snapshot DIR` recognises (see
/// `src/inventory/bundle.rs` and `tests/fixtures/bundles/`), plus a plain dump and a macOS
/// metadata file. No path is a directory of another.
pub const BUNDLE_PATHS: &[&str] = &[
    // troubleshoot (`kubectl support-bundle`)
    "version.yaml",
    "cluster-info/cluster_version.json",
    "analysis.json",
    "collector-errors/etcd.json",
    "cluster-resources/deployments/default.json",
    "cluster-resources/custom-resource-definitions.json",
    "cluster-resources/pods/default.json",
    "cluster-resources/nodes.json",
    "cluster-resources/pods/logs/default/web-1/web.log",
    "support-bundle-2024-11-05T20_12_40/version.yaml",
    "support-bundle-2024-11-05T20_12_40/cluster-resources/pods/kube-system.json",
    // sonobuoy results
    "serverversion.json",
    "serverversion/serverversion.json",
    "meta/config.json",
    "config.json",
    "resources/cluster/core_v1_nodes.json",
    "resources/ns/default/core_v1_pods.json",
    "resources/ns/default/Pods.json",
    "podlogs/default/web-1/logs/web.txt",
    // support-bundle-kit (Rancher, Harvester)
    "supportbundle_0f1ba762-de89-4d47-a373-8b8e1a0fbd6f_2026-06-12T23-12-19Z/metadata.yaml",
    "supportbundle_0f1ba762-de89-4d47-a373-8b8e1a0fbd6f_2026-06-12T23-12-19Z/yamls/namespaced/default/v1/pods.yaml",
    "supportbundle_0f1ba762-de89-4d47-a373-8b8e1a0fbd6f_2026-06-12T23-12-19Z/yamls/cluster/v1/namespaces.yaml",
    "metadata.yaml",
    "yamls/cluster/storage.k8s.io/v1/storageclasses.yaml",
    "logs/harvester-system/helm.log",
    // OpenShift insights-operator archive
    "insights-operator/gathers.json",
    "config/id",
    "config/pod/openshift-ingress/router-default.json",
    "config/node/master-0.json",
    "config/clusteroperator/ingress.json",
    // any capture
    "._version.yaml",
    "snapshot.yaml",
];

/// A support-bundle directory (`check --snapshot DIR`), files as [`records`] makes them on
/// the layouts' real paths. Read as a directory and as a `.tar.gz` of the same files, it
/// gives the same result (objects, layout, server version, what was skipped) or an error
/// both times; what it yields is a sound capture, and evaluating it does not panic.
pub fn bundle(data: &[u8]) {
    let files = records(data, BUNDLE_PATHS);
    let names: std::collections::BTreeSet<String> = files.keys().map(ToString::to_string).collect();
    let scratch = Scratch::new();
    let dir = scratch.tree("bundle", &files);
    let tgz = scratch.file("bundle.tar.gz", &gzip(&tar(&files, "")));
    let from_dir = snapshot::load_with(&dir, &CAPTURE_LIMITS);
    let from_tgz = snapshot::load_with(&tgz, &CAPTURE_LIMITS);
    match (from_dir, from_tgz) {
        (Ok(d), Ok(t)) => {
            assert_eq!(d.len(), t.len(), "objects");
            assert_eq!(d.input.layout, t.input.layout);
            assert_eq!(d.server_version, t.server_version);
            assert_eq!(d.captured_at, t.captured_at);
            let skipped =
                |i: &Inventory| i.input.skipped.iter().map(|s| (s.path.clone(), s.object)).collect::<Vec<_>>();
            assert_eq!(skipped(&d), skipped(&t));
            check_capture(&d, &names);
            let _ = eval::evaluate(catalog(), &d, &Selection::default());
        }
        (Err(d), Err(t)) => {
            assert!(d.path.starts_with(&dir.display().to_string()), "the error names another file: {d}");
            assert!(t.path.starts_with(&tgz.display().to_string()), "the error names another file: {t}");
        }
        (d, t) => panic!(
            "the directory and its archive read differently:\n{:?}\n{:?}",
            d.map(|i| i.len()),
            t.map(|i| i.len())
        ),
    }
}

/// The files of a chart `--chart` reads (and some it must leave alone).
pub const CHART_PATHS: &[&str] = &[
    "Chart.yaml",
    "values.yaml",
    "values.schema.json",
    "crds/crd.yaml",
    "crds/more.json",
    "crds/sub/other.yml",
    "crds/README.md",
    "templates/deployment.yaml",
    "charts/dep/Chart.yaml",
];

/// Strings of a values tree that look like a token (12 or more letters and digits, both, and
/// `-`, `_`): values a message must not quote. Keys go to `keys` (messages name key paths).
fn token_like(v: &Value, out: &mut Vec<String>, keys: &mut String) {
    match v {
        Value::String(s)
            if s.len() >= 12
                && s.bytes().any(|b| b.is_ascii_digit())
                && s.bytes().any(|b| b.is_ascii_alphabetic())
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            out.push(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| token_like(x, out, keys)),
        Value::Object(m) => {
            for (k, x) in m {
                keys.push_str(k);
                keys.push('\n');
                token_like(x, out, keys);
            }
        }
        _ => {}
    }
}

/// A chart (`check --chart`), files as [`records`] makes them: read as a directory and as a
/// `.tgz` (below a top directory, as `helm package` writes it), with the same result or an
/// error naming the chart both times. A chart that reads is judged by the change checks
/// (`chart-kube-version` against a cluster and a target, `values-schema`), without panicking
/// and without quoting a token-like value from `values.yaml` that the chart's other files do not hold.
pub fn chart(data: &[u8]) {
    use upgrade_preflight::eval::change;
    use upgrade_preflight::inventory::manifest::{self, ChangeSet};
    let files = records(data, CHART_PATHS);
    let scratch = Scratch::new();
    let dir = scratch.tree("chart", &files);
    let tgz = scratch.file("chart-0.1.0.tgz", &gzip(&tar(&files, "chart/")));
    let (from_dir, from_tgz) =
        (manifest::read_chart(&dir, &CAPTURE_LIMITS), manifest::read_chart(&tgz, &CAPTURE_LIMITS));
    let chart = match (from_dir, from_tgz) {
        (Ok(d), Ok(t)) => {
            assert_eq!(
                (&d.name, &d.version, &d.app_version, &d.kube_version),
                (&t.name, &t.version, &t.app_version, &t.kube_version)
            );
            assert_eq!(d.values, t.values);
            assert_eq!(d.schema, t.schema);
            let crds =
                |c: &manifest::Chart| c.crds.iter().map(|x| (x.value.clone(), x.source.clone())).collect::<Vec<_>>();
            assert_eq!(crds(&d), crds(&t));
            for c in &d.crds {
                assert!(c.location.starts_with(&d.path), "{}", c.location);
                let source = c.source.as_deref().unwrap_or_default();
                assert!(source.starts_with(&format!("{}/crds/", d.name)), "{source}");
            }
            d
        }
        (Err(d), Err(t)) => {
            assert!(d.path.starts_with(&dir.display().to_string()), "the error names another file: {d}");
            assert!(t.path.starts_with(&tgz.display().to_string()), "the error names another file: {t}");
            return;
        }
        (d, t) => panic!("the chart directory and its .tgz read differently:\n{d:?}\n{t:?}"),
    };
    let _ = upgrade_preflight::inventory::helm::shape(&chart.values);
    // Whatever the chart's other files or the values' keys hold may be named.
    let (mut secrets, mut known) = (Vec::new(), String::new());
    token_like(&chart.values, &mut secrets, &mut known);
    known.extend(files.iter().filter(|(n, _)| **n != "values.yaml").map(|(_, b)| String::from_utf8_lossy(b)));
    known.push_str(&scratch.0.display().to_string());
    let mut inv = Inventory::new(Origin::Snapshot("fuzz".into()), false);
    inv.server_version = Some("v1.30.7+rke2r1".to_string());
    inv.finish();
    let target = version::parse_version("1.31.0").expect("a version");
    let set = ChangeSet { chart: Some(chart), cluster: true, ..ChangeSet::default() };
    for (id, verdict) in change::evaluate(catalog(), &inv, &set, Some(&target)) {
        let text = match verdict {
            change::Verdict::Ran(findings, what) => {
                findings.iter().map(|f| format!("{}\n{}\n", f.message, f.remediation)).collect::<String>() + &what
            }
            change::Verdict::NotApplicable(why) | change::Verdict::CouldNotEvaluate(why) => why,
        };
        for s in secrets.iter().filter(|s| !known.contains(s.as_str())) {
            assert!(!text.contains(s.as_str()), "{id} quotes a value of values.yaml: {text}");
        }
    }
}
