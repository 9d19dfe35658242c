//! Base learners: weighted regressors and probability models.
//!
//! Every learner honours sample weights; one that cannot returns
//! [`Error::Unsupported`] rather than ignoring them. For a given tuning, a
//! weight of 2 gives the same fit as two copies of the row (forests: up to
//! the bootstrap draw). Data-driven tuning — the LOO and GCV penalty rules,
//! kernel ridge's bandwidth search — treats weights as precision weights:
//! leaving a row out removes its whole weight, so two copies of a row may be
//! tuned differently from one row of weight 2. Learners are configured by
//! the serde enum [`LearnerConfig`] (e.g. `{ type = "ridge", basis = "rff",
//! features = 500 }` in TOML), validated, then fitted with [`Learner::fit`]
//! (regression) or [`Learner::fit_probability`] (a 0/1 target, returning
//! probabilities in `[0, 1]`). Fitting borrows the configuration immutably, so
//! one configuration is shared by every worker thread; the fitted model is a
//! new object, a [`FittedModel`] (one serializable enum over every learner,
//! so fitted routers can be saved and loaded).
//!
//! Randomness (random Fourier features, forests) comes only from the `seed`
//! argument, so fits are reproducible and independent of thread count.

use ndarray::{Array1, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

// The input checks live in `crate::checks`; re-exported here, where they
// were first defined.
pub(crate) use crate::checks::{
    check_binary, check_finite_matrix, check_finite_vector, check_weights,
};
use crate::error::{Error, Result};

pub mod basis;
pub mod boosting;
mod diagnostics;
mod fitted;
pub mod forest;
pub mod kernel_ridge;
pub mod logistic;
pub mod ridge;
pub(crate) mod tree;

pub use basis::Basis;
pub use boosting::{Boosting, BoostingParams};
pub use diagnostics::LearnerDiagnostics;
pub use fitted::{Clamped, FittedModel};
pub use forest::{Forest, ForestParams, ForestPreset, LeafRatios, MaxFeatures};
pub use kernel_ridge::{Bandwidth, BandwidthScore, FittedKernelRidge, KernelRidgeParams};
pub use logistic::{FittedLogistic, LogisticParams};
pub use ridge::{FittedRidge, Penalty, PenaltyChoice, PenaltyGrid, RidgeParams};

/// A fitted model that predicts one value per row.
pub trait Predict: Send + Sync + std::fmt::Debug {
    /// Predictions for the rows of `x`. Panics if `x` has the wrong number of
    /// columns (a programming error; data-dependent checks happen in `fit`).
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64>;

    /// Non-fatal facts about the fit (chosen penalty, GCV score, …).
    fn diagnostics(&self) -> LearnerDiagnostics {
        LearnerDiagnostics::default()
    }

    /// Out-of-bag predictions for the training rows, in training order, for
    /// bagged models (a [`Forest`] grown with bootstrap); `None` otherwise. A
    /// row that was never out of bag may hold the full prediction or NaN;
    /// callers treat a non-finite value as "use the full prediction".
    fn out_of_bag(&self) -> Option<Array1<f64>> {
        None
    }
}

/// A learner configuration that can be fitted.
pub trait Learner: Send + Sync + std::fmt::Debug {
    /// Short name for messages and diagnostics.
    fn name(&self) -> &'static str;

    /// Weighted regression of `y` on `x`. `weights` must be finite and
    /// non-negative with a positive sum.
    fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel>;

    /// Weighted model of `P(t = 1 | x)` for a 0/1 target; predictions lie in
    /// `[0, 1]`. The default regresses `t` on `x` and clamps predictions to
    /// `[0, 1]` (a linear-probability model); classifiers override it.
    fn fit_probability(
        &self,
        x: ArrayView2<f64>,
        t: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel> {
        check_binary(t)?;
        Ok(self.fit(x, t, weights, seed)?.clamped(0.0, 1.0))
    }
}

/// Learner choice in configuration files, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LearnerConfig {
    /// Ridge regression on a basis expansion ([`RidgeParams`]).
    Ridge(RidgeParams),
    /// RBF kernel ridge regression ([`KernelRidgeParams`]).
    KernelRidge(KernelRidgeParams),
    /// L2-penalized logistic regression, a probability model ([`LogisticParams`]).
    Logistic(LogisticParams),
    /// Random forest regressor ([`ForestParams`]).
    Forest(ForestParams),
    /// Second-order gradient boosting ([`BoostingParams`]).
    Boosting(BoostingParams),
}

impl LearnerConfig {
    /// Checks parameter ranges without data.
    pub fn validate(&self) -> Result<()> {
        match self {
            LearnerConfig::Ridge(p) => p.validate(),
            LearnerConfig::KernelRidge(p) => p.validate(),
            LearnerConfig::Logistic(p) => p.validate(),
            LearnerConfig::Forest(p) => p.validate(),
            LearnerConfig::Boosting(p) => p.validate(),
        }
    }

    /// The learner behind this configuration.
    pub fn learner(&self) -> &dyn Learner {
        match self {
            LearnerConfig::Ridge(p) => p,
            LearnerConfig::KernelRidge(p) => p,
            LearnerConfig::Logistic(p) => p,
            LearnerConfig::Forest(p) => p,
            LearnerConfig::Boosting(p) => p,
        }
    }
}

impl Default for LearnerConfig {
    fn default() -> Self {
        LearnerConfig::Ridge(RidgeParams::default())
    }
}

/// Validates a training set: matching sizes, finite values, at least one row,
/// valid weights. Returns the weights (all ones when `None`).
pub fn check_training(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    weights: Option<ArrayView1<f64>>,
) -> Result<Array1<f64>> {
    let n = x.nrows();
    if n == 0 {
        return Err(Error::Empty {
            what: "training rows".into(),
        });
    }
    if y.len() != n {
        return Err(Error::ShapeMismatch {
            what: "labels vs feature rows".into(),
            expected: n,
            found: y.len(),
        });
    }
    check_finite_matrix("features", x)?;
    check_finite_vector("labels", y)?;
    match weights {
        None => Ok(Array1::ones(n)),
        Some(w) => {
            check_weights(w, n)?;
            Ok(w.to_owned())
        }
    }
}
