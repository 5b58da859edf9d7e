//! The `certificate-expiry` built-in: certificates that have expired, or expire within
//! `warn-days` of the capture time, where an expired one breaks the cluster.
//!
//! What it reads, and why each matters:
//! - `webhooks[].clientConfig.caBundle` of Validating/MutatingWebhookConfigurations,
//!   `spec.caBundle` of APIServices (apiregistration.k8s.io/v1; not when
//!   `insecureSkipTLSVerify`) and `spec.conversion.webhook.clientConfig.caBundle` of CRDs
//!   (conversion strategy `Webhook`): the API server verifies the called server against
//!   that bundle. When every certificate of the bundle has expired, no serving certificate
//!   can verify and every call fails: a blocker. An expired certificate beside a valid one,
//!   or one that expires within the window, is a warning.
//! - the `tls.crt` of TLS Secrets (`kubernetes.io/tls`): summarised at ingestion (subject,
//!   notBefore, notAfter; see `inventory::certs`, which also says why `tls.key` is never
//!   read). Expired or expiring: a warning (whether it breaks anything depends on who serves
//!   it).
//!
//! A bundle is base64 of one or more PEM certificates (DER is accepted too), each judged on
//! its own. An empty or absent bundle is nothing to judge (a CA injected later, or the
//! system roots). One that cannot be read (not base64, no certificate, not X.509) is a
//! warning naming what is wrong, never its bytes: its expiry is unknown.
//!
//! "Now" is the capture time (`Inventory::capture_time`: a live run's start, a snapshot's
//! `capturedAt`, else its latest Pod, Node or Event timestamp); without one the check
//! cannot be evaluated when there is any certificate to judge.
//!
//! Layer: eval. Imports the inventory, the catalog and the ground layer.

use serde_json::Value;

use super::builtins::Hit;
use crate::catalog::{CertificateExpiry, Severity};
use crate::inventory::certs::{self, Summary};
use crate::inventory::{Inventory, KindView, Object, rfc3339_signed};
use crate::resource::GroupKind;

const DAY: i64 = 86_400;

/// Where a set of certificates sits, and what an expired one breaks.
struct Place<'a> {
    obj: &'a Object,
    /// `webhook NAME's caBundle`, `caBundle`, `tls.crt`.
    what: String,
    /// True for a bundle the API server verifies calls with (webhooks, APIServices, CRD
    /// conversion); false for a TLS Secret.
    call_path: bool,
    certs: Result<Vec<Summary>, String>,
}

fn bundle(v: Option<&Value>) -> Option<Result<Vec<Summary>, String>> {
    let text = v.and_then(Value::as_str).filter(|s| !s.trim().is_empty())?;
    Some(certs::read_base64(text))
}

fn places(inv: &Inventory) -> Result<Vec<Place<'_>>, String> {
    let mut out = Vec::new();
    let kind = |g: &str, k: &str| -> Result<&[Object], String> {
        let gk = GroupKind::new(g, k);
        match inv.state(&gk) {
            KindView::Failed(r) => Err(format!("cannot read {gk}: {r}")),
            _ => Ok(inv.objects(&gk)),
        }
    };
    for k in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        for cfg in kind("admissionregistration.k8s.io", k)? {
            for wh in cfg.value().get("webhooks").and_then(Value::as_array).into_iter().flatten() {
                if let Some(certs) = bundle(wh.pointer("/clientConfig/caBundle")) {
                    let name = wh.get("name").and_then(Value::as_str).unwrap_or("?");
                    out.push(Place { obj: cfg, what: format!("webhook {name}'s caBundle"), call_path: true, certs });
                }
            }
        }
    }
    for svc in kind("apiregistration.k8s.io", "APIService")? {
        let spec = svc.value().get("spec").cloned().unwrap_or(Value::Null);
        // With insecureSkipTLSVerify the bundle is not used.
        if spec.get("insecureSkipTLSVerify").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(certs) = bundle(spec.get("caBundle")) {
            out.push(Place { obj: svc, what: "caBundle".to_string(), call_path: true, certs });
        }
    }
    for crd in kind("apiextensions.k8s.io", "CustomResourceDefinition")? {
        let conv = crd.value().pointer("/spec/conversion").cloned().unwrap_or(Value::Null);
        if conv.get("strategy").and_then(Value::as_str) != Some("Webhook") {
            continue;
        }
        if let Some(certs) = bundle(conv.pointer("/webhook/clientConfig/caBundle")) {
            out.push(Place { obj: crd, what: "conversion webhook's caBundle".to_string(), call_path: true, certs });
        }
    }
    for secret in kind("", "Secret")? {
        let v = secret.value();
        if v.get("type").and_then(Value::as_str) != Some("kubernetes.io/tls") {
            continue;
        }
        if let Some(summary) = v.get(certs::TLS_FIELD) {
            out.push(Place {
                obj: secret,
                what: "tls.crt".to_string(),
                call_path: false,
                // The summary's reasons start with `tls.crt `, which `what` says already.
                certs: certs::from_json(summary)
                    .map_err(|e| e.strip_prefix("tls.crt ").map_or(e.clone(), String::from)),
            });
        }
    }
    Ok(out)
}

/// `3 days`, `1 day`.
fn days(n: i64) -> String {
    if n == 1 { "1 day".to_string() } else { format!("{n} days") }
}

/// Runs the check. `Err` means it could not be evaluated, with the reason.
pub(super) fn evaluate(p: CertificateExpiry, inv: &Inventory) -> Result<Vec<Hit>, String> {
    let places = places(inv)?;
    let any_certificate = places.iter().any(|pl| pl.certs.as_ref().is_ok_and(|c| !c.is_empty()));
    let now = match inv.capture_time() {
        Some(t) => Some(crate::inventory::epoch_seconds(&t).ok_or_else(|| {
            format!("the capture time '{t}' is not an RFC 3339 timestamp, so certificate expiry cannot be judged")
        })?),
        None if any_certificate => {
            return Err("the capture time is unknown (the snapshot has no capturedAt and no Pod, Node or Event timestamps), so certificate expiry cannot be judged".to_string());
        }
        None => None,
    };
    let window = i64::from(p.warn_days) * DAY;
    let mut hits = Vec::new();
    for pl in &places {
        let obj = pl.obj.obj_ref();
        let certs = match &pl.certs {
            Ok(c) => c,
            Err(reason) => {
                let consequence = if pl.call_path {
                    "its expiry cannot be judged, and the API server may not be able to use it either"
                } else {
                    "its expiry cannot be judged"
                };
                hits.push(Hit {
                    objects: vec![obj.clone()],
                    message: format!("{obj} {} {reason}; {consequence}", pl.what),
                    severity: Some(Severity::Warning),
                });
                continue;
            }
        };
        let Some(now) = now else { continue };
        let count = certs.len();
        let expired = certs.iter().filter(|c| c.not_after < now).count();
        for (i, c) in certs.iter().enumerate() {
            let which = if count == 1 {
                format!("certificate {}", c.subject)
            } else {
                format!("certificate {} of {count} ({})", i + 1, c.subject)
            };
            let head = format!("{obj} {}: {which}", pl.what);
            let until = c.not_after - now;
            let (severity, message) = if until < 0 {
                let when =
                    format!("expired {} ({} before the capture)", rfc3339_signed(c.not_after), days((-until) / DAY));
                if !pl.call_path {
                    (Severity::Warning, format!("{head} {when}: clients that verify it refuse the connection"))
                } else if expired == count {
                    let none = if count == 1 { "it is the bundle's only one" } else { "so have the bundle's others" };
                    (
                        Severity::Blocker,
                        format!(
                            "{head} {when}, and {none}: the API server cannot verify the server it calls, so every call fails"
                        ),
                    )
                } else {
                    let valid = count - expired;
                    let valid = if valid == 1 {
                        "1 valid certificate".to_string()
                    } else {
                        format!("{valid} valid certificates")
                    };
                    (
                        Severity::Warning,
                        format!(
                            "{head} {when}; the bundle still holds {valid}, so calls verify only if the served certificate chains to one of them"
                        ),
                    )
                }
            } else if until <= window {
                (
                    Severity::Warning,
                    format!(
                        "{head} expires {}, {} after the capture (within {})",
                        rfc3339_signed(c.not_after),
                        days(until / DAY),
                        days(window / DAY)
                    ),
                )
            } else {
                continue;
            };
            hits.push(Hit { objects: vec![obj.clone()], message, severity: Some(severity) });
        }
    }
    Ok(hits)
}
