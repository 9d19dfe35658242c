//! The DR-learner's steps 2–3: the arm-wise outcome models `μ̂₁ = E[o | s, t = 1]`
//! (`ψ`, scaled by `c`) and `μ̂₀ = E[o | s, t = 0]` (`η`), and the doubly
//! robust bias-stage targets.
//!
//! # Algorithm
//! `μ̂₁` is an out-of-fold regression on the GS rows outside each fold, `μ̂₀`
//! on the PB rows outside it; both predict every row of the fold. The bias
//! stage regresses
//! `φ_k = (t_k − p̂_k)/(p̂_k(1 − p̂_k)) · (o_k − μ̂_{t_k}(s_k)) + μ̂₁(s_k) − μ̂₀(s_k)`
//! on `s_k` with unit weights ([`pseudo::dr_learner_targets`]).
//!
//! # References
//! Kennedy (2023), Towards optimal doubly robust estimation of heterogeneous
//! causal effects, Electronic Journal of Statistics 17(2).

use ndarray::{Array1, ArrayView1};

use super::config::MetaRouterConfig;
use super::diagnostics::{Diagnostics, Role};
use super::nuisances::{out_of_fold, Pooled};
use super::pseudo;
use super::BiasTargets;
use crate::error::Result;

/// Out-of-fold `μ̂₁`, `μ̂₀` and the DR-learner's targets `φ_k` (unit weights).
pub(crate) fn targets(
    config: &MetaRouterConfig,
    pooled: &Pooled,
    propensity: ArrayView1<f64>,
    assignment: &[usize],
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<BiasTargets> {
    let learner = config.outcome().learner();
    let n_gold = pooled.n_gold;
    let arm = |gold: bool, role: Role, diagnostics: &mut Diagnostics| {
        out_of_fold(
            learner,
            pooled,
            assignment,
            |k| (k < n_gold) == gold,
            role,
            learner_seed,
            diagnostics,
        )
    };
    let mean_gold = arm(true, Role::OutcomeGold, diagnostics)?;
    let mean_pref = arm(false, Role::OutcomePref, diagnostics)?;
    let pseudo_outcome = pseudo::dr_learner_targets(
        pooled.outcome.view(),
        pooled.treatment.view(),
        mean_gold.view(),
        mean_pref.view(),
        propensity,
    );
    Ok(BiasTargets {
        pseudo_outcome,
        weights: Array1::ones(pooled.len()),
        mean_outcome: None,
        mean_gold: Some(mean_gold),
        mean_pref: Some(mean_pref),
    })
}
