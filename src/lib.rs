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
//! Layers, lowest first (a layer uses only those below it; `tests/layers.rs`
//! checks it): [`alloc`], [`error`], [`files`], [`limits`], [`rng`], [`stats`] → [`linalg`] → [`learners`] →
//! [`data`] → [`meta`] → [`routing`] → [`inference`] → [`realdata`] → [`dgp`] →
//! [`study`] → [`report`], and the `meta-router` binary on top. The estimator core
//! (`linalg` … `inference`) never imports the simulation or reporting layers.
//! The method, every metric and every inference target are written out in
//! `docs/method.md`.
#![deny(missing_docs)]

pub mod alloc;
pub mod data;
pub mod dgp;
pub mod error;
pub mod files;
pub mod inference;
pub mod learners;
pub mod limits;
pub mod linalg;
pub mod meta;
pub mod realdata;
pub mod report;
pub mod rng;
pub mod routing;
pub mod stats;
pub mod study;

pub use error::{Error, Result};
