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
//! [`routing`] → [`inference`] → [`config_file`], [`router_file`]. This crate has no simulation, report, plotting
//! or command-line code; the `meta-router` crate builds the simulation suite
//! and the command line on it. The method, every metric and every inference
//! target are written out in the repository's `docs/method.md`.
//!
//! # Example
//! Fit a DR-learner router on GS rows (labels `r = ψ + noise`) and biased PB
//! rows (`y = ψ − Δ + noise`), route new queries, and save and reload the
//! router as a versioned router file with bit-identical predictions. Every
//! random draw of the fit (folds, learners) comes from the one seed given to
//! [`FitSeeds::from_seed`].
//! ```
//! use meta_router_core::prelude::*;
//! use ndarray::{Array1, Array2};
//! # use rand::RngExt;
//! # let mut rng = meta_router_core::rng::rng_from_seed(7);
//! # let mut draw = |rows: usize, bias: f64| {
//! #     let x = Array2::from_shape_fn((rows, 3), |_| rng.random::<f64>() * 2.0 - 1.0);
//! #     let y = Array1::from_shape_fn(rows, |i| {
//! #         0.3 * x[[i, 0]] + 0.2 * x[[i, 1]] - bias * (0.1 + 0.2 * x[[i, 2]])
//! #             + 0.3 * (rng.random::<f64>() - 0.5)
//! #     });
//! #     (x, y)
//! # };
//! # let ((gold_x, gold_y), (pref_x, pref_y)) = (draw(200, 0.0), draw(2000, 1.0));
//! # let queries = draw(5, 0.0).0;
//! // gold_x, gold_y: GS queries and labels; pref_x, pref_y: PB queries and labels.
//! let data = TrainingData::new(gold_x, gold_y, pref_x, pref_y)?;
//! let config = MetaRouterConfig::new(Method::DrLearner);
//! let router = config.fit(&data, FitSeeds::from_seed(42))?;
//! let psi_hat = router.predict_psi(queries.view()); // GS gain of the primary model
//! let delta_hat = router.predict_delta(queries.view()).expect("a meta-learner estimates Δ");
//! // Send a query to the primary model iff ψ̂ > w · (C_p − C_a), here w = 0.05, unit costs.
//! let costs = routing::default_costs(queries.nrows());
//! let to_primary: Vec<bool> = routing::route(psi_hat.view(), costs.view(), 0.05)?;
//! // Save as a versioned router file (checked to reload bit for bit), read it back.
//! let features = vec!["x1".into(), "x2".into(), "x3".into()];
//! let training = TrainingSummary::of(&data, "gold.csv", "pref.csv");
//! let file = RouterFile::new(features, config, 42, training, &router);
//! let json = file.to_json_checked(&router, &[queries.view()])?;
//! let (_, restored) = router_file::parse(&json, "router.json")?;
//! assert_eq!(restored.predict_psi(queries.view()), psi_hat);
//! # assert_eq!(to_primary.len(), 5);
//! # assert!(delta_hat.iter().all(|d| d.is_finite()));
//! # Ok::<(), meta_router_core::Error>(())
//! ```
#![deny(missing_docs)]

pub mod checks;
pub mod config_file;
pub mod data;
pub mod error;
pub mod inference;
pub mod learners;
pub mod limits;
pub mod linalg;
pub mod meta;
pub mod numerics;
pub mod rng;
pub mod router_file;
pub mod routing;

pub use error::{Error, Result};
pub use meta::FitSeeds;

/// The names most programs need: data, configuration, fitting, the fitted
/// router and the learners' settings (`use meta_router_core::prelude::*`).
pub mod prelude {
    pub use crate::data::TrainingData;
    pub use crate::error::{Error, Result};
    pub use crate::learners::{
        Basis, BoostingParams, ForestParams, KernelRidgeParams, LearnerConfig, LogisticParams,
        Penalty, RidgeParams,
    };
    pub use crate::meta::{
        FitSeeds, FittedMultiRouter, FittedRouter, MetaRouterConfig, Method, Normalize,
        PropensityMode, RouterModels,
    };
    pub use crate::router_file::{self, RouterFile, TrainingSummary};
    pub use crate::routing;
}
