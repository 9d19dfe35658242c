//! # meta-router-core
//!
//! The estimator core of meta-router: routers for large language models
//! trained from scarce gold-standard (GS) labels plus plentiful, biased
//! preference-based (PB) labels, by the Meta-Router method (Zhang, Xie, Yang,
//! Wu, arXiv 2509.25535). The PB bias `Δ(s) = ψ(s) − η(s)` is a conditional
//! average treatment effect of the evaluation mechanism, estimated by R- or
//! DR-learners; PB labels are corrected and a router `ψ̂(q)` decides per
//! query whether the costly primary model is worth its cost.
//!
//! Layers, lowest first (a layer uses only those below it): [`error`],
//! [`checks`], [`limits`], [`numerics`], [`rng`] → [`linalg`] → [`learners`] → [`data`] → [`meta`] →
//! [`routing`] → [`inference`]. This crate has no simulation, report, plotting
//! or command-line code; the `meta-router` crate builds the simulation suite
//! and the command line on it. The method, every metric and every inference
//! target are written out in the repository's `docs/method.md`.
#![deny(missing_docs)]

pub mod checks;
pub mod data;
pub mod error;
pub mod inference;
pub mod learners;
pub mod limits;
pub mod linalg;
pub mod meta;
pub mod numerics;
pub mod rng;
pub mod routing;

pub use error::{Error, Result};
