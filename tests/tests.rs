//! One integration-test binary (faster to link than one per file), modules by area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod addons;
mod api_requests;
mod catalog_errors;
mod change;
mod check_fixtures;
mod cli;
mod connect;
mod contexts;
mod deploy;
mod dist;
mod drain;
mod evidence;
mod expiry;
#[path = "support/fake_api.rs"]
mod fake_api;
mod fast_read;
mod faults;
mod files;
mod formats;
#[path = "../fuzz/harness.rs"]
mod fuzz_harness;
mod fuzz_regressions;
mod incidents;
mod inputs;
mod inputs_edges;
mod layers;
mod limits;
mod live;
mod namespaces;
mod peers;
mod pending;
mod people;
mod planning;
mod plugins;
#[path = "support/proxy.rs"]
mod proxy;
mod readme;
mod schemas;
mod secrets;
mod util;
mod version_props;
