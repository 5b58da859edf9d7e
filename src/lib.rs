//! upgrade-preflight: answers GO or NO-GO before an upgrade on Kubernetes, with evidence.
//!
//! Layers, each importing only from the ones above it in this list (`tests/layers.rs`
//! fails on any cycle among these modules, and on an import that points up):
//!
//! 1. [`resource`], [`version`], [`limits`], [`civil`]: ground types, bounds on input, dates.
//! 2. [`catalog`]: matrices and checks as data — the names and parameter schemas of built-in
//!    evaluators and planning rules, never their code.
//! 3. [`inventory`]: what the cluster has, from its sources (live, snapshot), including
//!    Helm release decoding, and the future state a planned change (`--manifest`) makes.
//! 4. [`eval`]: checks, component detection and upgrade planning ([`eval::plan`]); pure, no I/O.
//! 5. [`report`]: verdict and rendering.
//! 6. [`commands`]: one module per subcommand, the only place (with `main.rs`) that prints.

pub mod catalog;
pub mod civil;
pub mod commands;
pub mod eval;
pub mod inventory;
pub mod limits;
pub mod report;
pub mod resource;
pub mod version;
