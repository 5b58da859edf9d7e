//! The API server's `apiserver_requested_deprecated_apis` gauge, read from `GET /metrics`,
//! and the one inventory object that holds it (`DeprecatedAPIRequests`,
//! `upgrade-preflight.io/v1alpha1`), so a snapshot carries it and `check --snapshot` judges
//! it exactly as a live run does.
//!
//! The gauge (kube-apiserver, STABLE since 1.19; labels `group`, `version`, `resource`,
//! `subresource`, `removed_release`) is set to 1 for every deprecated API a client requested
//! since that API server instance started; `removed_release` is empty for a deprecated API
//! with no planned removal. Source: kubernetes/kubernetes
//! `test/instrumentation/testdata/stable-metrics-list.yaml` (commit c8b1e0c9c12e) and
//! `staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go` (`MonitorRequest`).
//!
//! The body is the Prometheus text exposition format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>). It is read line by line
//! as it arrives ([`Scanner`]), every line is checked against the format, and only the
//! series of the one metric are kept: an API server's `/metrics` is tens of MB, none of
//! which but these few lines is needed or kept. A body that is not in the format (an HTML
//! error page, a truncated line, an empty body) is an error, never "nothing requested".
//!
//! Why no parser crate: the candidates on crates.io were `prometheus-parse` 0.2.5 (last
//! release Dec 2023; label values are split on `,` and `=`, a fix open since 2024; lines
//! it cannot read are silently skipped, so garbage parses as "no metrics"),
//! `openmetrics-parser` (LGPL-3.0, not in `deny.toml`'s allow-list), `prometheus-client`
//! (an encoder, no parser) and `prom_text_format_parser` 0.1.0 (one release, syn 1 via
//! derive_more 0.99). The grammar needed here is one line long, so it is written out below
//! and tested on a real exposition.
//!
//! Layer: inventory. Imports the ground layer only.

use serde_json::{Value, json};

use crate::resource::GroupKind;

/// The gauge's name.
pub const METRIC: &str = "apiserver_requested_deprecated_apis";
/// `apiVersion` of the object holding it.
pub const API_VERSION: &str = "upgrade-preflight.io/v1alpha1";
/// Group of [`API_VERSION`].
pub const GROUP: &str = crate::resource::DEPRECATED_API_REQUESTS.0;
/// `kind` of the object holding it.
pub const KIND: &str = crate::resource::DEPRECATED_API_REQUESTS.1;
/// `metadata.name` of the object holding it.
pub const NAME: &str = "kube-apiserver";
/// The path read.
pub const PATH: &str = "/metrics";
/// `Accept` sent: the classic text format (kube-apiserver's default).
pub const ACCEPT: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
/// Longest line accepted (real lines are under 1 KiB); a longer one is not the format.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Most series of the gauge kept (a real API server has tens); more is not an API server.
pub const MAX_SERIES: usize = 10_000;

/// The group and kind of the object holding the gauge.
#[must_use]
pub fn group_kind() -> GroupKind {
    GroupKind::new(GROUP, KIND)
}

/// One series of the gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// API group (`""` for the core group).
    pub group: String,
    /// API version, e.g. `v1beta1`.
    pub version: String,
    /// Resource (plural), e.g. `cronjobs`.
    pub resource: String,
    /// Subresource, e.g. `status`; `""` for the resource itself.
    pub subresource: String,
    /// Release that removes it (`1.25`); `""` when none is planned.
    pub removed_release: String,
    /// The gauge's value: 1 once requested since the API server started.
    pub value: f64,
}

impl Series {
    /// `group/version`, or `version` for the core group.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `resource` or `resource/subresource`, as discovery names them.
    #[must_use]
    pub fn resource_path(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "group": self.group,
            "version": self.version,
            "resource": self.resource,
            "subresource": self.subresource,
            "removedRelease": self.removed_release,
            // JSON has no NaN or infinities: those are written as the format writes them.
            "value": if self.value.is_finite() { json!(self.value) } else { json!(go_float(self.value)) },
        })
    }
}

/// The inventory object holding `series` (the gauge as read; empty when nothing was requested).
#[must_use]
pub fn object(series: &[Series]) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": NAME},
        "metric": METRIC,
        "series": series.iter().map(Series::to_json).collect::<Vec<_>>(),
    })
}

/// The series an inventory object holds (as written by [`object`], maybe by hand in a
/// snapshot); `Err` names the bad field.
pub fn read(obj: &Value) -> Result<Vec<Series>, String> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
    let at = |i: usize, field: &str| format!("{KIND} {name}: series[{i}].{field}");
    let Some(items) = obj.get("series").and_then(Value::as_array) else {
        return Err(format!("{KIND} {name}: series is missing or not a list"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, s) in items.iter().enumerate() {
        let text = |field: &str| -> Result<String, String> {
            match s.get(field) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(v)) => Ok(v.clone()),
                Some(_) => Err(format!("{} is not a string", at(i, field))),
            }
        };
        let value = match s.get("value") {
            Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{} is not a number", at(i, "value")))?,
            Some(Value::String(v)) => parse_value(v).ok_or_else(|| format!("{} is not a number", at(i, "value")))?,
            _ => return Err(format!("{} is missing or not a number", at(i, "value"))),
        };
        let series = Series {
            group: text("group")?,
            version: text("version")?,
            resource: text("resource")?,
            subresource: text("subresource")?,
            removed_release: text("removedRelease")?,
            value,
        };
        if series.version.is_empty() || series.resource.is_empty() {
            return Err(format!("{KIND} {name}: series[{i}]: version and resource are required"));
        }
        out.push(series);
    }
    Ok(out)
}

/// Reads an exposition body as it arrives: [`Scanner::push`] each chunk, then
/// [`Scanner::finish`]. Holds one line at a time and the gauge's series.
#[derive(Debug, Default)]
pub struct Scanner {
    line: Vec<u8>,
    line_no: usize,
    samples: usize,
    series: Vec<Series>,
}

impl Scanner {
    /// A scanner at the start of a body.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the complete lines of `chunk`; `Err` at the first line not in the format.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), String> {
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (head, tail) = rest.split_at(nl);
            self.take(head)?;
            let line = std::mem::take(&mut self.line);
            self.line_no += 1;
            self.line(&line)?;
            rest = &tail[1..];
        }
        self.take(rest)
    }

    /// Reads the last line (a body need not end with a newline) and returns the series.
    pub fn finish(mut self) -> Result<Vec<Series>, String> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_no += 1;
            self.line(&line)?;
        }
        if self.samples == 0 {
            return Err("the body holds no metrics (an API server always has some)".to_string());
        }
        Ok(self.series)
    }

    fn take(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.line.len() + bytes.len() > MAX_LINE_BYTES {
            return Err(format!("line {}: longer than {} KiB", self.line_no + 1, MAX_LINE_BYTES >> 10));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), String> {
        let n = self.line_no;
        let text = std::str::from_utf8(raw).map_err(|_| format!("line {n}: not UTF-8"))?;
        let Some(sample) = parse_line(text).map_err(|e| format!("line {n}: {e}"))? else { return Ok(()) };
        self.samples += 1;
        if sample.name != METRIC {
            return Ok(());
        }
        if self.series.len() >= MAX_SERIES {
            return Err(format!("more than {MAX_SERIES} series of {METRIC}"));
        }
        let mut s = Series {
            group: String::new(),
            version: String::new(),
            resource: String::new(),
            subresource: String::new(),
            removed_release: String::new(),
            value: sample.value,
        };
        for (k, v) in sample.labels {
            // Other labels (added by a proxy or a newer server) are not needed; an absent
            // label is an empty one in Prometheus' data model.
            match k.as_str() {
                "group" => s.group = v,
                "version" => s.version = v,
                "resource" => s.resource = v,
                "subresource" => s.subresource = v,
                "removed_release" => s.removed_release = v,
                _ => {}
            }
        }
        if s.version.is_empty() || s.resource.is_empty() {
            return Err(format!("line {n}: {METRIC} without a version or resource label"));
        }
        self.series.push(s);
        Ok(())
    }
}

/// Parses a whole body (see [`Scanner`]).
pub fn parse(body: &str) -> Result<Vec<Series>, String> {
    let mut s = Scanner::new();
    s.push(body.as_bytes())?;
    s.finish()
}

/// A sample line: metric name, labels (unescaped), value.
#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// One line of the format: `None` for a blank line or a comment (`# HELP`, `# TYPE` and
/// free comments), else the sample. The grammar (exposition format 0.0.4):
/// `name [ "{" [ label "=" "\"" value "\"" { "," … } [ "," ] ] "}" ] value [ timestamp ]`,
/// tokens separated by blanks (spaces, tabs), label values escaping `\\`, `\"` and `\n`.
fn parse_line(line: &str) -> Result<Option<Sample>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let t = line.trim_start_matches([' ', '\t']);
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let (name, mut rest) = ident(t, true).ok_or("expected a metric name")?;
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start_matches([' ', '\t']);
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (label, r) = ident(rest, false).ok_or("expected a label name or '}'")?;
            let r = r.trim_start_matches([' ', '\t']).strip_prefix('=').ok_or("expected '=' after a label name")?;
            let r = r.trim_start_matches([' ', '\t']).strip_prefix('"').ok_or("expected '\"' to open a label value")?;
            let (value, r) = quoted(r)?;
            labels.push((label.to_string(), value));
            let r = r.trim_start_matches([' ', '\t']);
            rest = match r.strip_prefix(',') {
                Some(r) => r,
                None if r.starts_with('}') => r,
                None => return Err("expected ',' or '}' after a label value".to_string()),
            };
        }
    }
    if !rest.starts_with([' ', '\t']) {
        return Err("expected a blank before the value".to_string());
    }
    let mut words = rest.split([' ', '\t']).filter(|w| !w.is_empty());
    let value = words.next().ok_or("no value")?;
    let value = parse_value(value).ok_or_else(|| format!("'{}' is not a number", shorten(value)))?;
    if let Some(ts) = words.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("timestamp '{}' is not an integer", shorten(ts)));
    }
    if words.next().is_some() {
        return Err("unexpected text after the timestamp".to_string());
    }
    Ok(Some(Sample { name: name.to_string(), labels, value }))
}

/// A metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) or, with `colon` false, a label name
/// (`[a-zA-Z_][a-zA-Z0-9_]*`), and the rest of the text.
fn ident(s: &str, colon: bool) -> Option<(&str, &str)> {
    let ok = |c: char, first: bool| {
        c == '_' || (colon && c == ':') || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
    };
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if !ok(c, i == 0) {
            break;
        }
        end = i + c.len_utf8();
    }
    (end > 0).then(|| s.split_at(end))
}

/// A label value after its opening quote: the unescaped value and the text after the
/// closing quote.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, other)) => return Err(format!("invalid escape '\\{other}' in a label value")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated label value".to_string())
}

/// A sample value as Go's `strconv.ParseFloat` reads it (`1`, `1e+09`, `NaN`, `+Inf`, `-Inf`).
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Rust also takes `inf`, `infinity` and `nan` in any case; Go's format does not write them.
        _ if s.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) => None,
        _ => s.parse().ok(),
    }
}

/// A non-finite value as the exposition format writes it (`NaN`, `+Inf`, `-Inf`).
fn go_float(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// At most 40 characters of a token, for messages.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 40 { s.to_string() } else { format!("{}…", s.chars().take(40).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real output of `kubectl get --raw /metrics | grep apiserver_requested_deprecated_apis`
    /// on an EKS 1.24 cluster, from HariSekhon/Knowledge-Base `kubernetes-upgrades.md`
    /// (commit c1312c99866c, MIT), section "Deprecated APIs Metrics".
    const REAL: &str = include_str!("../../tests/fixtures/metrics/eks-1.24-requested-deprecated-apis.prom");

    #[test]
    fn reads_a_real_exposition() {
        let s = parse(REAL).unwrap();
        let got: Vec<(String, String, String)> =
            s.iter().map(|s| (s.api_version(), s.resource_path(), s.removed_release.clone())).collect();
        assert_eq!(
            got,
            [
                ("v1".to_string(), "componentstatuses".to_string(), String::new()),
                ("policy/v1beta1".into(), "poddisruptionbudgets".into(), "1.25".into()),
                ("policy/v1beta1".into(), "podsecuritypolicies".into(), "1.25".into()),
                ("storage.k8s.io/v1beta1".into(), "csistoragecapacities".into(), "1.27".into()),
            ]
        );
        assert!(s.iter().all(|s| s.value == 1.0));
        // What is held round-trips through the inventory object.
        assert_eq!(read(&object(&s)).unwrap(), s);
    }

    #[test]
    fn keeps_only_the_gauge_and_checks_every_line() {
        let body = "# HELP apiserver_request_total [STABLE] Counter of apiserver requests.\n\
                    # TYPE apiserver_request_total counter\n\
                    apiserver_request_total{code=\"200\",component=\"apiserver\",group=\"\",resource=\"pods\",verb=\"LIST\",version=\"v1\"} 42\n\
                    apiserver_requested_deprecated_apis{group=\"batch\",removed_release=\"1.25\",resource=\"cronjobs\",subresource=\"status\",version=\"v1beta1\",} 1 1700000000000\n\
                    \n\
                    process_start_time_seconds 1.72123456e+09";
        let s = parse(body).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].api_version().as_str(), s[0].resource_path().as_str()), ("batch/v1beta1", "cronjobs/status"));
        // Split anywhere, the stream reads the same.
        for cut in 0..body.len() {
            let mut sc = Scanner::new();
            sc.push(&body.as_bytes()[..cut]).unwrap();
            sc.push(&body.as_bytes()[cut..]).unwrap();
            assert_eq!(sc.finish().unwrap(), s, "cut at {cut}");
        }
    }

    #[test]
    fn label_values_are_unescaped_and_may_hold_separators() {
        let line = "m{a=\"x,y=z}\",b=\"q\\\"\\\\\\n\" , } -Inf";
        let s = parse_line(line).unwrap().unwrap();
        assert_eq!(s.labels, [("a".to_string(), "x,y=z}".to_string()), ("b".to_string(), "q\"\\\n".to_string())]);
        assert_eq!(s.value, f64::NEG_INFINITY);
        assert!(parse_line("m NaN").unwrap().unwrap().value.is_nan());
        assert_eq!(parse_line("  # free comment").unwrap(), None);
        // Values JSON cannot hold survive the inventory object as the format writes them.
        let odd = parse(&format!(
            "{METRIC}{{version=\"v1\",resource=\"a\"}} +Inf\n{METRIC}{{version=\"v1\",resource=\"b\"}} NaN\n"
        ))
        .unwrap();
        let back = read(&object(&odd)).unwrap();
        assert_eq!(back[0].value, f64::INFINITY);
        assert!(back[1].value.is_nan());
    }

    #[test]
    fn malformed_bodies_are_errors_with_the_line() {
        let cases: &[(&str, &str)] = &[
            ("<!DOCTYPE html><html><body>Sign in</body></html>\n", "line 1: expected a metric name"),
            ("ok 1\nm{a=\"x\" 1\n", "line 2: expected ',' or '}' after a label value"),
            ("m{a=\"x} 1\n", "line 1: unterminated label value"),
            ("m{a=\"\\t\"} 1\n", "line 1: invalid escape '\\t' in a label value"),
            ("m{=\"x\"} 1\n", "line 1: expected a label name or '}'"),
            ("m{a\"x\"} 1\n", "line 1: expected '=' after a label name"),
            ("m\n", "line 1: expected a blank before the value"),
            ("m 1 2 3\n", "line 1: unexpected text after the timestamp"),
            ("m one\n", "line 1: 'one' is not a number"),
            ("m infinity\n", "line 1: 'infinity' is not a number"),
            ("m 1 soon\n", "line 1: timestamp 'soon' is not an integer"),
            ("{\"kind\":\"Status\"}", "line 1: expected a metric name"),
            ("", "the body holds no metrics (an API server always has some)"),
            ("# only comments\n\n", "the body holds no metrics (an API server always has some)"),
            (
                "apiserver_requested_deprecated_apis{group=\"batch\"} 1\n",
                "line 1: apiserver_requested_deprecated_apis without a version or resource label",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(parse(body).unwrap_err(), *want, "{body:?}");
        }
        let mut sc = Scanner::new();
        assert_eq!(sc.push(b"m 1\n\xff\xfe 1\n").unwrap_err(), "line 2: not UTF-8");
    }

    #[test]
    fn bounds_hold() {
        // A line that never ends is refused once it passes the line limit, not held.
        let mut sc = Scanner::new();
        let chunk = vec![b'a'; 64 << 10];
        let mut err = None;
        for _ in 0..20 {
            if let Err(e) = sc.push(&chunk) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err.as_deref(), Some("line 1: longer than 1024 KiB"));
        assert!(sc.line.len() <= MAX_LINE_BYTES);
        // Too many series of the gauge.
        let mut body = String::new();
        for i in 0..=MAX_SERIES {
            body.push_str(&format!("{METRIC}{{group=\"g{i}\",version=\"v1\",resource=\"r\"}} 1\n"));
        }
        assert_eq!(parse(&body).unwrap_err(), format!("more than {MAX_SERIES} series of {METRIC}"));
    }

    #[test]
    fn objects_are_read_strictly() {
        let ok = json!({"metadata": {"name": "x"}, "series": [{"group": "", "version": "v1", "resource": "componentstatuses", "value": 1}]});
        assert_eq!(read(&ok).unwrap()[0].removed_release, "");
        let bad = |v: Value| read(&v).unwrap_err();
        assert_eq!(bad(json!({"metadata": {"name": "x"}})), "DeprecatedAPIRequests x: series is missing or not a list");
        assert_eq!(
            bad(json!({"metadata": {"name": "x"}, "series": [{"version": "v1", "resource": "r", "value": "high"}]})),
            "DeprecatedAPIRequests x: series[0].value is not a number"
        );
        assert_eq!(
            bad(json!({"metadata": {"name": "x"}, "series": [{"version": 1, "resource": "r", "value": 1}]})),
            "DeprecatedAPIRequests x: series[0].version is not a string"
        );
        assert_eq!(
            bad(json!({"metadata": {"name": "x"}, "series": [{"resource": "r", "value": 1}]})),
            "DeprecatedAPIRequests x: series[0]: version and resource are required"
        );
    }
}
