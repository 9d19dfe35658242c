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
//! Layers, lowest first (a layer uses only those below it):
//! [`linalg`] → [`learners`] → [`meta`] → [`routing`] → [`inference`] → [`dgp`] → [`study`] →
//! [`report`]. The estimator core (`linalg` … `routing`) never imports the
//! simulation or reporting layers.
#![deny(missing_docs)]

pub mod data;
pub mod dgp;
pub mod error;
pub mod inference;
pub mod learners;
pub mod linalg;
pub mod meta;
pub mod report;
pub mod rng;
pub mod routing;
pub mod stats;
pub mod study;

pub use error::{Error, Result};
