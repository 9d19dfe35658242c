//! # meta-router
//!
//! Routers for large language models trained from scarce gold-standard (GS)
//! labels plus plentiful, biased preference-based (PB) labels, by the
//! Meta-Router method (Zhang, Xie, Yang, Wu, arXiv 2509.25535): the PB bias
//! `Δ(s) = ψ(s) − η(s)` is a conditional average treatment effect of the
//! evaluation mechanism, estimated by R- or DR-learners; PB labels are
//! corrected and a router `ψ̂(q)` decides per query whether the costly primary
//! model is worth its cost.
//!
//! The estimator core — [`linalg`], [`learners`], [`data`], [`meta`],
//! [`routing`], [`inference`] with [`checks`], [`limits`], [`numerics`],
//! [`rng`] and a [`prelude`] — is the crate
//! `meta-router-core`, re-exported here under the same module names; Cargo
//! keeps it free of the simulation, report and command-line code. This crate
//! adds, lowest first (a layer uses only those below it; `tests/layers.rs`
//! checks it): [`alloc`], [`error`], [`files`], [`stats`] → [`realdata`] →
//! [`dgp`] → [`study`] → [`report`], and the `meta-router` binary on top.
//! The method, every metric and every inference target are written out in
//! `docs/method.md`.
#![deny(missing_docs)]

pub mod alloc;
pub mod dgp;
pub mod error;
pub mod files;
pub mod realdata;
pub mod report;
pub mod stats;
pub mod study;

pub use meta_router_core::{
    checks, config_file, data, inference, learners, limits, linalg, meta, numerics, prelude, rng,
    router_file, routing,
};

pub use error::{Error, Result};
