//! The `webhook-endpoints` built-in: admission webhooks with `failurePolicy: Fail` whose
//! Service has no ready endpoints (EndpointSlices, else Endpoints), so that matching API
//! requests, an upgrade's own included, are rejected. Layer: eval; imports the inventory and
//! the ground layer.

use std::collections::BTreeSet;

use super::builtins::{Hit, name_of, require, unjudged};
use crate::inventory::{Inventory, KindView, Lookup};
use serde_json::Value;

use crate::resource::{GroupKind, ObjectRef};

pub(super) fn webhook_endpoints(inv: &Inventory) -> Result<Vec<Hit>, String> {
    let svc_gk = GroupKind::new("", "Service");
    require(inv, &[("", "Service")])?;
    let slices_gk = GroupKind::new("discovery.k8s.io", "EndpointSlice");
    let eps_gk = GroupKind::new("", "Endpoints");
    let slices = match inv.state(&slices_gk) {
        KindView::Collected(v) => Some(v),
        _ => None,
    };
    let eps = match inv.state(&eps_gk) {
        KindView::Collected(v) => Some(v),
        _ => None,
    };
    if slices.is_none() && eps.is_none() {
        return Err("cannot read EndpointSlices or Endpoints".to_string());
    }
    // A snapshot without any endpoint objects cannot tell "no endpoints" from "not captured".
    let no_endpoint_data = inv.unknown_if_empty(&slices_gk) && inv.unknown_if_empty(&eps_gk);
    // EndpointSlices are the complete view (Services without a selector may have slices and no
    // Endpoints): when only Endpoints could be read, ready Endpoints prove a backend, but their
    // absence proves nothing.
    let slices_unread = match inv.state(&slices_gk) {
        KindView::Failed(r) => Some(r),
        _ => None,
    };
    let ready = |ns: &str, name: &str| -> bool {
        let from_slices = slices.into_iter().flatten().any(|s| {
            s.namespace.as_deref() == Some(ns)
                && s.labels().is_some_and(|l| l.get("kubernetes.io/service-name").map(String::as_str) == Some(name))
                && s.value().get("endpoints").and_then(Value::as_array).into_iter().flatten().any(|e| {
                    // API contract: a nil `ready` is interpreted as ready.
                    e.pointer("/conditions/ready").and_then(Value::as_bool).unwrap_or(true)
                })
        });
        let from_endpoints = eps.into_iter().flatten().any(|e| {
            e.namespace.as_deref() == Some(ns)
                && e.name == name
                && e.value()
                    .get("subsets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|s| s.get("addresses").and_then(Value::as_array).is_some_and(|a| !a.is_empty()))
        });
        from_slices || from_endpoints
    };
    let mut hits = Vec::new();
    let mut outside: BTreeSet<String> = BTreeSet::new();
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        let gk = GroupKind::new("admissionregistration.k8s.io", kind);
        if let KindView::Failed(r) = inv.state(&gk) {
            return Err(format!("cannot read {gk}: {r}"));
        }
        for cfg in inv.objects(&gk) {
            for wh in cfg.value().get("webhooks").and_then(Value::as_array).into_iter().flatten() {
                // admissionregistration.k8s.io/v1 defaults failurePolicy to Fail.
                let policy = wh.get("failurePolicy").and_then(Value::as_str).unwrap_or("Fail");
                if policy != "Fail" {
                    continue;
                }
                let Some(svc) = wh.pointer("/clientConfig/service") else { continue };
                let (Some(ns), Some(name)) = (name_of(svc, "namespace"), name_of(svc, "name")) else { continue };
                let whname = wh.get("name").and_then(Value::as_str).unwrap_or("?");
                let svc_ref = ObjectRef::named("Service", Some(ns), name, "v1");
                let problem = match inv.lookup(&svc_gk, Some(ns), name) {
                    Lookup::NotCaptured => {
                        return Err("the snapshot holds no Services, so webhook backends cannot be checked".to_string());
                    }
                    // Neither the Service nor its endpoints were read: this webhook is not judged.
                    Lookup::OutsideView(why) => {
                        outside.insert(why);
                        continue;
                    }
                    Lookup::Missing => "which does not exist",
                    Lookup::Found(s)
                        if s.value().pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") =>
                    {
                        continue;
                    }
                    Lookup::Found(_) if ready(ns, name) => continue,
                    Lookup::Found(_) if no_endpoint_data => {
                        return Err(
                            "the snapshot holds no EndpointSlices or Endpoints, so webhook backends cannot be checked"
                                .to_string(),
                        );
                    }
                    Lookup::Found(_) if let Some(r) = slices_unread => {
                        return Err(format!(
                            "Service {ns}/{name} has no ready Endpoints, and EndpointSlices, which alone show every backend, could not be read: {r}"
                        ));
                    }
                    Lookup::Found(_) => "which has no ready endpoints",
                };
                hits.push(Hit {
                    objects: vec![cfg.obj_ref(), svc_ref],
                    message: format!(
                        "{} webhook {whname} (failurePolicy Fail) calls Service {ns}/{name} {problem}: matching API requests, the upgrade's own included, will be rejected",
                        cfg.obj_ref()
                    ),
                    severity: None,
                });
            }
        }
    }
    if hits.is_empty() && !outside.is_empty() {
        return Err(unjudged("webhook Services in", &outside));
    }
    Ok(hits)
}
