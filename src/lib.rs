//! upgrade-preflight: answers GO or NO-GO before an upgrade on Kubernetes, with evidence.
//!
//! Stages: [`catalog`] loads matrices and checks (built-in and user), [`inventory`] holds
//! what the cluster has (from a snapshot), [`eval`] turns both into findings (pure, no
//! I/O), [`report`] decides the verdict and renders it, [`app`] wires it to the CLI.

pub mod app;
pub mod catalog;
pub mod cli;
pub mod eval;
pub mod helm;
pub mod inventory;
pub mod limits;
pub mod plan;
pub mod rbac;
pub mod report;
pub mod resource;
pub mod version;
