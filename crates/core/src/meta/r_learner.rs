//! The R-learner's steps 2–3: the outcome model `μ̂ = E[o | s]` and the
//! weighted bias-stage targets.
//!
//! # Algorithm
//! `μ̂` is an out-of-fold regression of `o` on `s` over all pooled rows; the
//! bias stage then minimises `Σ_k [(o_k − μ̂(s_k)) − (t_k − p̂_k) Δ(s_k)]²`, a
//! regression of `z_k = (o_k − μ̂(s_k))/(t_k − p̂_k)` on `s_k` with weights
//! `(t_k − p̂_k)²` ([`pseudo::r_learner_targets`]).
//!
//! # References
//! Nie & Wager (2021), Quasi-oracle estimation of heterogeneous treatment
//! effects, Biometrika 108(2).

use ndarray::{Array1, ArrayView1};

use super::config::MetaRouterConfig;
use super::diagnostics::{Diagnostics, Role};
use super::nuisances::{out_of_fold, OutcomeFit, Pooled};
use super::pseudo;
use super::BiasTargets;
use crate::error::Result;

/// Out-of-fold `μ̂` and the R-learner's targets `z_k` with weights `(t_k − p̂_k)²`.
pub(crate) fn targets(
    config: &MetaRouterConfig,
    pooled: &Pooled,
    propensity: ArrayView1<f64>,
    assignment: &[usize],
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<BiasTargets> {
    let mean_outcome = out_of_fold(
        config.outcome().learner(),
        pooled,
        assignment,
        OutcomeFit::of(config),
        |_| true,
        Role::Outcome,
        learner_seed,
        diagnostics,
    )?;
    Ok(targets_from(pooled, propensity, mean_outcome))
}

/// The R-learner's targets `z_k` and weights `(t_k − p̂_k)²` from a given `μ̂`
/// (estimated, or the oracle's).
pub(crate) fn targets_from(
    pooled: &Pooled,
    propensity: ArrayView1<f64>,
    mean_outcome: Array1<f64>,
) -> BiasTargets {
    let (pseudo_outcome, weights) = pseudo::r_learner_targets(
        pooled.outcome.view(),
        pooled.treatment.view(),
        mean_outcome.view(),
        propensity,
    );
    BiasTargets {
        pseudo_outcome,
        weights,
        mean_outcome: Some(mean_outcome),
        mean_gold: None,
        mean_pref: None,
    }
}
