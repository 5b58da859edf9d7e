//! X.509 certificates read in place: of each, only its subject and validity are kept.
//!
//! Two sources use it. A `caBundle` (admission webhooks, APIServices, CRD conversion
//! webhooks) is a public CA bundle: it stays in the object as read, and the
//! `certificate-expiry` check parses it when it runs. The `tls.crt` of a TLS Secret is a
//! public certificate too, but it sits beside `tls.key`, and every Secret value is blanked as
//! the object is loaded (`normalise`). So the certificate (of any Secret with a `tls.crt`
//! value) is summarised at that moment, before
//! the blanking, into a field of our own, [`TLS_FIELD`] (`tlsCertificates`: subject,
//! notBefore, notAfter per certificate, or the reason it could not be read), and then its value
//! is blanked like every other one. Only that summary reaches a check, a report or a snapshot
//! file; `tls.key` is never decoded, parsed or kept (it is blanked with the rest). A summary
//! is derived again whenever a `tls.crt` value is present, so one a snapshot file carries is
//! only kept when the file's `tls.crt` is already blank (a snapshot this tool wrote), and
//! then only in the summary's shape.
//!
//! Messages never quote the input: a bundle that cannot be read is described by what is wrong
//! with it (not base64, no certificate, certificate 2 is not X.509), never by its bytes.
//!
//! Layer: inventory. Imports the ground layer (`civil`, through `notes`).

use base64::Engine;
use serde_json::{Map, Value};
use x509_parser::pem::Pem;

/// The field of a TLS Secret that holds the summary of its `tls.crt` (not an API field).
pub const TLS_FIELD: &str = "tlsCertificates";

/// Longest subject kept (a subject is public, but a report line should stay a line).
const MAX_SUBJECT: usize = 200;

/// What is kept of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subject's distinguished name (`C=US, O=Let's Encrypt, CN=R12`).
    pub subject: String,
    /// Not valid before, seconds since the Unix epoch.
    pub not_before: i64,
    /// Not valid after, seconds since the Unix epoch.
    pub not_after: i64,
}

/// Reads every certificate of PEM text (one or more `CERTIFICATE` blocks; other blocks, such
/// as a key, are skipped without being decoded further) or of DER (one or more certificates
/// back to back). `Err` says what is wrong without quoting the input.
pub fn read(bytes: &[u8]) -> Result<Vec<Summary>, String> {
    let mut out = Vec::new();
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        for (i, block) in Pem::iter_from_buffer(bytes).enumerate() {
            let pem = block.map_err(|_| format!("PEM block {} is malformed", i + 1))?;
            if pem.label != "CERTIFICATE" {
                continue;
            }
            out.push(der_one(&pem.contents, out.len() + 1)?);
        }
        if out.is_empty() {
            return Err("holds PEM but no CERTIFICATE block".to_string());
        }
        return Ok(out);
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = out.len() + 1;
        match x509_parser::parse_x509_certificate(rest) {
            Ok((tail, cert)) => {
                out.push(summary(&cert));
                rest = tail;
            }
            Err(_) if out.is_empty() => return Err("holds neither PEM nor a DER certificate".to_string()),
            Err(_) => return Err(format!("certificate {n} is not valid X.509 (DER)")),
        }
    }
    if out.is_empty() {
        return Err("is empty".to_string());
    }
    Ok(out)
}

/// [`read`] for a base64 value (a `caBundle`, a Secret's `data` value).
pub fn read_base64(text: &str) -> Result<Vec<Summary>, String> {
    // PEM inside base64 may have been wrapped; the API never wraps the outer base64, but a
    // hand-written manifest may.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "is not valid base64".to_string())?;
    read(&bytes)
}

fn der_one(der: &[u8], n: usize) -> Result<Summary, String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => Ok(summary(&cert)),
        Err(_) => Err(format!("certificate {n} is not valid X.509")),
    }
}

fn summary(cert: &x509_parser::certificate::X509Certificate<'_>) -> Summary {
    let mut subject = cert.subject().to_string();
    if subject.is_empty() {
        "(empty subject)".clone_into(&mut subject);
    }
    if subject.chars().count() > MAX_SUBJECT {
        subject = subject.chars().take(MAX_SUBJECT).chain(['…']).collect();
    }
    Summary {
        subject,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    }
}

/// The summary of a TLS Secret's `tls.crt` as JSON (the [`TLS_FIELD`] value): a list of
/// `{subject, notBefore, notAfter}`, or `[{error}]` when it cannot be read.
fn to_json(result: &Result<Vec<Summary>, String>) -> Value {
    match result {
        Ok(certs) => Value::Array(
            certs
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "subject": c.subject,
                        "notBefore": super::notes::rfc3339_signed(c.not_before),
                        "notAfter": super::notes::rfc3339_signed(c.not_after),
                    })
                })
                .collect(),
        ),
        Err(e) => serde_json::json!([{ "error": format!("tls.crt {e}") }]),
    }
}

/// The certificates a [`TLS_FIELD`] value describes, or why they could not be read.
pub fn from_json(v: &Value) -> Result<Vec<Summary>, String> {
    let list = v.as_array().ok_or("the summary is not a list")?;
    let mut out = Vec::new();
    for item in list {
        if let Some(e) = item.get("error").and_then(Value::as_str) {
            return Err(e.to_string());
        }
        let time = |k: &str| item.get(k).and_then(Value::as_str).and_then(super::notes::epoch_seconds);
        match (item.get("subject").and_then(Value::as_str), time("notBefore"), time("notAfter")) {
            (Some(s), Some(nb), Some(na)) => {
                out.push(Summary { subject: s.to_string(), not_before: nb, not_after: na })
            }
            _ => return Err("the summary is not of subject, notBefore, notAfter".to_string()),
        }
    }
    Ok(out)
}

/// The reasons [`read`] and [`read_base64`] give, with `N` for a number.
const REASONS: &[&str] = &[
    "is not valid base64",
    "holds neither PEM nor a DER certificate",
    "holds PEM but no CERTIFICATE block",
    "is empty",
    "PEM block N is malformed",
    "certificate N is not valid X.509",
    "certificate N is not valid X.509 (DER)",
];

/// `s` with every run of digits replaced by `N`.
fn shape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('N') {
            out.push('N');
        }
    }
    out
}

/// True for `tls.crt ` and one of [`REASONS`] (numbers aside).
fn is_our_reason(e: &str) -> bool {
    let Some(rest) = e.strip_prefix("tls.crt ") else { return false };
    rest.len() < 80 && REASONS.iter().any(|r| shape(r) == shape(rest))
}

/// Called by `normalise` on a Secret, before its values are blanked: a Secret with a
/// `tls.crt` value (from `data`, base64, or `stringData`, PEM text) gets its summary in
/// [`TLS_FIELD`]. Whatever the Secret's `type` (a projection that keeps only the fields a
/// rule reads may have dropped it; `certificate-expiry` judges `kubernetes.io/tls` ones).
/// Without a `tls.crt` value, a summary already there (a snapshot this tool wrote) is kept
/// only in the summary's shape; a Secret with neither has no such field.
pub(super) fn summarise_secret(obj: &mut Map<String, Value>) {
    let value = |field: &str| {
        obj.get(field).and_then(|d| d.get("tls.crt")).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    };
    let derived = if let Some(b64) = value("data") {
        Some(to_json(&read_base64(b64)))
    } else if let Some(pem) = value("stringData") {
        Some(to_json(&read(pem.as_bytes())))
    } else {
        obj.get(TLS_FIELD).map(|kept| match from_json(kept) {
            Ok(certs) => to_json(&Ok(certs)),
            // Only a reason this module gives (numbers aside) is carried over.
            Err(e) if kept.as_array().is_some_and(|a| a.len() == 1) && is_our_reason(&e) => {
                serde_json::json!([{ "error": e }])
            }
            Err(_) => serde_json::json!([{ "error": "tls.crt summary in the input is not of this tool's shape" }]),
        })
    };
    match derived {
        Some(d) => {
            obj.insert(TLS_FIELD.to_string(), d);
        }
        None => {
            obj.remove(TLS_FIELD);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Let's Encrypt R12 (letsencrypt/website static/certs/2024/r12.pem; see
    // tests/fixtures/checks/certificate-expiry/README.md): valid 2024-03-13 to 2027-03-12.
    const R12: &str = include_str!("../../tests/fixtures/certs/r12.pem");

    #[test]
    fn pem_der_and_base64() {
        let certs = read(R12.as_bytes()).unwrap();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].subject, "C=US, O=Let's Encrypt, CN=R12");
        assert_eq!(super::super::notes::rfc3339_signed(certs[0].not_after), "2027-03-12T23:59:59Z");
        assert_eq!(super::super::notes::rfc3339_signed(certs[0].not_before), "2024-03-13T00:00:00Z");
        let two = format!("{R12}{R12}");
        assert_eq!(read(two.as_bytes()).unwrap().len(), 2);
        let b64 = base64::engine::general_purpose::STANDARD.encode(two.as_bytes());
        assert_eq!(read_base64(&b64).unwrap().len(), 2);
        // DER, one certificate and two back to back.
        let der = Pem::iter_from_buffer(R12.as_bytes()).next().unwrap().unwrap().contents;
        assert_eq!(read(&der).unwrap(), certs);
        assert_eq!(read(&[der.clone(), der].concat()).unwrap().len(), 2);
    }

    #[test]
    fn unreadable_input_is_described_not_quoted() {
        assert_eq!(read_base64("not base64!").unwrap_err(), "is not valid base64");
        assert_eq!(read(b"hello").unwrap_err(), "holds neither PEM nor a DER certificate");
        let key = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n";
        assert_eq!(read(key.as_bytes()).unwrap_err(), "holds PEM but no CERTIFICATE block");
        let bad = "-----BEGIN CERTIFICATE-----\nc2VjcmV0\n-----END CERTIFICATE-----\n";
        assert_eq!(read(bad.as_bytes()).unwrap_err(), "certificate 1 is not valid X.509");
        let unterminated = "-----BEGIN CERTIFICATE-----\nc2VjcmV0\n";
        assert_eq!(read(unterminated.as_bytes()).unwrap_err(), "PEM block 1 is malformed");
    }

    #[test]
    fn a_tls_secret_keeps_only_the_summary() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(R12.as_bytes());
        let mut secret = serde_json::json!({
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": b64, "tls.key": "c2VjcmV0"},
            TLS_FIELD: [{"subject": "forged", "notBefore": "2000-01-01T00:00:00Z", "notAfter": "2100-01-01T00:00:00Z"}],
        });
        summarise_secret(secret.as_object_mut().unwrap());
        assert_eq!(
            secret[TLS_FIELD],
            serde_json::json!([{"subject": "C=US, O=Let's Encrypt, CN=R12", "notBefore": "2024-03-13T00:00:00Z", "notAfter": "2027-03-12T23:59:59Z"}])
        );
        // Blanked (as normalise does next): the summary survives a second pass.
        secret["data"] = serde_json::json!({"tls.crt": "", "tls.key": ""});
        let before = secret.clone();
        summarise_secret(secret.as_object_mut().unwrap());
        assert_eq!(secret, before);
        // A reason of ours is carried over; any other text is not.
        secret[TLS_FIELD] = serde_json::json!([{"error": "tls.crt certificate 12 is not valid X.509"}]);
        summarise_secret(secret.as_object_mut().unwrap());
        assert_eq!(secret[TLS_FIELD][0]["error"], "tls.crt certificate 12 is not valid X.509");
        secret[TLS_FIELD] = serde_json::json!([{"error": "tls.crt canary"}]);
        summarise_secret(secret.as_object_mut().unwrap());
        assert_eq!(secret[TLS_FIELD][0]["error"], "tls.crt summary in the input is not of this tool's shape");
        // Anything else in the field is replaced.
        secret[TLS_FIELD] = serde_json::json!("free text");
        summarise_secret(secret.as_object_mut().unwrap());
        assert_eq!(secret[TLS_FIELD][0]["error"], "tls.crt summary in the input is not of this tool's shape");
        // No tls.crt and no summary: nothing added.
        let mut opaque = serde_json::json!({"type": "Opaque", "data": {"password": "c2VjcmV0"}});
        summarise_secret(opaque.as_object_mut().unwrap());
        assert!(opaque.get(TLS_FIELD).is_none());
        // stringData holds PEM text.
        let mut manifest = serde_json::json!({"type": "kubernetes.io/tls", "stringData": {"tls.crt": R12}});
        summarise_secret(manifest.as_object_mut().unwrap());
        assert_eq!(manifest[TLS_FIELD][0]["subject"], "C=US, O=Let's Encrypt, CN=R12");
        // Unreadable: the reason, never the value.
        let mut bad = serde_json::json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "Y2FuYXJ5"}});
        summarise_secret(bad.as_object_mut().unwrap());
        assert_eq!(bad[TLS_FIELD], serde_json::json!([{"error": "tls.crt holds neither PEM nor a DER certificate"}]));
    }
}
