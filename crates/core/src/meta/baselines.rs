//! Baselines: the final learner fit once, on GS rows (`gs-only`), PB rows
//! (`pb-only`), GS ∪ raw PB rows (`pooled`, current practice), or GS ∪ PB rows
//! shifted by `r̄ − ȳ` (`mean-shift`, the paper's linear debiasing ablation).
//! Scale normalization does not apply to them.

use ndarray::{ArrayView1, ArrayView2};

use super::config::{MetaRouterConfig, Method};
use super::diagnostics::{Diagnostics, Role};
use super::{FittedRouter, PsiModel};
use crate::data::TrainingData;
use crate::error::Result;
use crate::learners::{FittedModel, LearnerConfig};

/// Fits a baseline method.
pub(crate) fn fit_baseline(
    config: &MetaRouterConfig,
    data: &TrainingData,
    learner_seed: u64,
) -> Result<FittedRouter> {
    let (x, y, weights) = match config.method {
        Method::GsOnly => (
            data.gold_x().to_owned(),
            data.gold_y().to_owned(),
            data.gold_weights().map(|w| w.to_owned()),
        ),
        Method::PbOnly => (
            data.pref_x().to_owned(),
            data.pref_y().to_owned(),
            data.pref_weights().map(|w| w.to_owned()),
        ),
        Method::Pooled => (data.pooled_x(), data.pooled_y(), data.pooled_weights()),
        Method::MeanShift => {
            let mean = |y: ArrayView1<f64>, w: Option<ArrayView1<f64>>| match w {
                None => y.mean().unwrap_or(0.0),
                Some(w) => y.dot(&w) / w.sum(),
            };
            let shift =
                mean(data.gold_y(), data.gold_weights()) - mean(data.pref_y(), data.pref_weights());
            let shifted = data.map_labels(|r| r, |y| y + shift);
            (
                shifted.pooled_x(),
                shifted.pooled_y(),
                data.pooled_weights(),
            )
        }
        Method::RLearner | Method::DrLearner => {
            unreachable!("meta-learners are not baselines")
        }
    };
    let model = config.final_stage().learner().fit(
        x.view(),
        y.view(),
        weights.as_ref().map(|w| w.view()),
        Role::Final.single_seed(learner_seed),
    )?;
    let mut diagnostics = Diagnostics {
        kappa: data.kappa(),
        scale: 1.0,
        propensity_range: (data.kappa(), data.kappa()),
        ..Diagnostics::default()
    };
    diagnostics.record(Role::Final, &model);
    Ok(FittedRouter {
        method: config.method,
        psi: PsiModel::Single(model),
        delta: None,
        scale: 1.0,
        dim: data.dim(),
        overlap: None,
        cross_fitted: None,
        diagnostics,
    })
}

/// Fits `learner` on `(x, y)` once (used for the simulation-only `all-gold`
/// reference and by callers that need one plain fit).
pub fn fit_single(
    learner: &LearnerConfig,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    seed: u64,
) -> Result<FittedModel> {
    learner.validate()?;
    learner
        .learner()
        .fit(x, y, None, Role::Final.single_seed(seed))
}
