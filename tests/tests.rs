//! One integration-test binary (faster to link than one per file), modules by area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod catalog_errors;
mod check_fixtures;
mod cli;
mod incidents;
mod util;
