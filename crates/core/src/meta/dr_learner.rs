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
//!
//! With `dr_outcome = "joint"` (the authors' script) one model of `o` on
//! `[s, t]` is fit instead, and `μ̂₁(s) = f(s, 1)`, `μ̂₀(s) = f(s, 0)`.
//!
//! # References
//! Kennedy (2023), Towards optimal doubly robust estimation of heterogeneous
//! causal effects, Electronic Journal of Statistics 17(2).

use ndarray::{concatenate, Array1, ArrayView1, ArrayView2, Axis};

use super::config::{DrOutcome, MetaRouterConfig};
use super::diagnostics::{Diagnostics, Role};
use super::nuisances::{nuisance_splits, out_of_fold, scatter, OutcomeFit, Pooled};
use super::pseudo;
use super::BiasTargets;
use crate::error::Result;
use crate::learners::Learner;

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
            OutcomeFit::of(config),
            |k| (k < n_gold) == gold,
            role,
            learner_seed,
            diagnostics,
        )
    };
    let (mean_gold, mean_pref) = match config.dr_outcome {
        DrOutcome::Separate => (
            arm(true, Role::OutcomeGold, diagnostics)?,
            arm(false, Role::OutcomePref, diagnostics)?,
        ),
        DrOutcome::Joint => joint_outcome(
            learner,
            pooled,
            assignment,
            config.cross_fit,
            learner_seed,
            diagnostics,
        )?,
    };
    Ok(targets_from(pooled, propensity, mean_gold, mean_pref))
}

/// The DR-learner's targets `φ_k` (unit weights) from given `μ̂₁`, `μ̂₀`
/// (estimated, or the oracle's).
pub(crate) fn targets_from(
    pooled: &Pooled,
    propensity: ArrayView1<f64>,
    mean_gold: Array1<f64>,
    mean_pref: Array1<f64>,
) -> BiasTargets {
    let pseudo_outcome = pseudo::dr_learner_targets(
        pooled.outcome.view(),
        pooled.treatment.view(),
        mean_gold.view(),
        mean_pref.view(),
        propensity,
    );
    BiasTargets {
        pseudo_outcome,
        weights: Array1::ones(pooled.len()),
        mean_outcome: None,
        mean_gold: Some(mean_gold),
        mean_pref: Some(mean_pref),
    }
}

/// One outcome model of `o` on `[s, t]` per fold (or in sample); returns its
/// predictions at `t = 1` (`μ̂₁`) and `t = 0` (`μ̂₀`) for the fold's rows.
fn joint_outcome(
    learner: &dyn Learner,
    pooled: &Pooled,
    assignment: &[usize],
    cross_fit: bool,
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<(Array1<f64>, Array1<f64>)> {
    let with_t = |x: ArrayView2<f64>, t: ArrayView1<f64>| {
        concatenate(Axis(1), &[x, t.insert_axis(Axis(1))]).expect("rows agree")
    };
    let augmented = with_t(pooled.x.view(), pooled.treatment.view());
    let (mut mean_gold, mut mean_pref) = (Array1::zeros(pooled.len()), Array1::zeros(pooled.len()));
    let mut per_fold = Vec::new();
    for (fold, train, test) in nuisance_splits(assignment, cross_fit) {
        let weights = pooled.weights_of(&train);
        let model = learner.fit(
            crate::linalg::select_rows(augmented.view(), &train).view(),
            pooled.outcome.select(Axis(0), &train).view(),
            weights.as_ref().map(|w| w.view()),
            Role::Outcome.seed(learner_seed, fold),
        )?;
        let x_test = crate::linalg::select_rows(pooled.x.view(), &test);
        for (t, target) in [(1.0, &mut mean_gold), (0.0, &mut mean_pref)] {
            let column = Array1::from_elem(test.len(), t);
            let predicted = model.predict(with_t(x_test.view(), column.view()).view());
            scatter(target, &test, predicted);
        }
        per_fold.push(model.diagnostics());
    }
    diagnostics.record_folds(Role::Outcome, &per_fold);
    Ok((mean_gold, mean_pref))
}
