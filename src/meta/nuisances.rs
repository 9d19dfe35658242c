//! Step 2 of the Meta-Router: out-of-fold nuisance estimates.
//!
//! # Algorithm
//! For each fold `k = 0..K`, a model is fit on the rows outside fold `k` and
//! predicts the rows inside it ([`out_of_fold`]), so no row's nuisance
//! estimate has seen that row. The propensity ([`estimate_propensity`]) is
//! either the constant `κ = n/N` (valid when GS and PB queries are a random
//! split of one pool) or an out-of-fold probability model of `t` on `s`; it is
//! then clipped to `[ε, 1 − ε]`, and rows with `p̂ ∉ [τ, 1 − τ]` are marked
//! for trimming from the bias stage when `trim = τ > 0`. Clipped and trimmed
//! rows are counted in the diagnostics.

use ndarray::{Array1, Array2, Axis};

use super::config::{MetaRouterConfig, PropensityMode};
use super::diagnostics::{Diagnostics, Role};
use crate::data::TrainingData;
use crate::error::Result;
use crate::learners::Learner;

/// The pooled rows of a meta-learner fit: GS rows first, GS labels scaled by `c`.
#[derive(Debug, Clone)]
pub(crate) struct Pooled {
    /// Features `s_k`.
    pub x: Array2<f64>,
    /// `t_k` (1 for GS rows).
    pub treatment: Array1<f64>,
    /// `o_k` (`c·r` on GS rows, `y` on PB rows).
    pub outcome: Array1<f64>,
    /// GS rows `n` (rows `0..n`).
    pub n_gold: usize,
    /// Sample weights (`None`: unweighted).
    pub weights: Option<Array1<f64>>,
}

impl Pooled {
    /// Step 0 applied: GS labels multiplied by the scale constant `c`.
    pub fn new(data: &TrainingData, scale: f64) -> Self {
        let n_gold = data.n_gold();
        let mut outcome = data.pooled_y();
        outcome
            .slice_mut(ndarray::s![..n_gold])
            .mapv_inplace(|r| scale * r);
        Self {
            x: data.pooled_x(),
            treatment: data.pooled_t(),
            outcome,
            n_gold,
            weights: data.pooled_weights(),
        }
    }

    /// The sample weights of `rows`, `None` when unweighted.
    pub fn weights_of(&self, rows: &[usize]) -> Option<Array1<f64>> {
        self.weights.as_ref().map(|w| w.select(Axis(0), rows))
    }

    /// Rows `N`.
    pub fn len(&self) -> usize {
        self.outcome.len()
    }
}

/// Rows outside and inside `fold`.
pub(crate) fn split_rows(assignment: &[usize], fold: usize) -> (Vec<usize>, Vec<usize>) {
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..assignment.len()).partition(|&k| assignment[k] == fold);
    (train, test)
}

/// Writes `values` into `target` at `rows`.
pub(crate) fn scatter(target: &mut Array1<f64>, rows: &[usize], values: Array1<f64>) {
    for (&row, value) in rows.iter().zip(values) {
        target[row] = value;
    }
}

/// Number of folds of an assignment (values `0..K`).
pub(crate) fn fold_count(assignment: &[usize]) -> usize {
    assignment.iter().copied().max().unwrap_or(0) + 1
}

/// The (training rows, predicted rows) of each nuisance fit: one pair per
/// fold (rows outside it, rows inside it) when cross-fitting; otherwise one
/// fit on every row predicting every row (the authors' in-sample script).
pub(crate) fn nuisance_splits(
    assignment: &[usize],
    cross_fit: bool,
) -> Vec<(usize, Vec<usize>, Vec<usize>)> {
    if cross_fit {
        (0..fold_count(assignment))
            .map(|fold| {
                let (train, test) = split_rows(assignment, fold);
                (fold, train, test)
            })
            .collect()
    } else {
        let all: Vec<usize> = (0..assignment.len()).collect();
        vec![(0, all.clone(), all)]
    }
}

/// Out-of-fold predictions of `learner` fit on `(s, o)`: for every fold, the
/// model is trained on the rows outside it that `train_on` accepts and
/// predicts every row inside it ([`nuisance_splits`]; in sample when
/// `cross_fit` is off). Records the per-fold diagnostics under `role`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn out_of_fold(
    learner: &dyn Learner,
    pooled: &Pooled,
    assignment: &[usize],
    cross_fit: bool,
    train_on: impl Fn(usize) -> bool,
    role: Role,
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<Array1<f64>> {
    let mut predicted = Array1::zeros(pooled.len());
    let mut per_fold = Vec::new();
    for (fold, train, test) in nuisance_splits(assignment, cross_fit) {
        let train: Vec<usize> = train.into_iter().filter(|&k| train_on(k)).collect();
        let weights = pooled.weights_of(&train);
        let model = learner.fit(
            crate::linalg::select_rows(pooled.x.view(), &train).view(),
            pooled.outcome.select(Axis(0), &train).view(),
            weights.as_ref().map(|w| w.view()),
            role.seed(learner_seed, fold),
        )?;
        scatter(
            &mut predicted,
            &test,
            model.predict(crate::linalg::select_rows(pooled.x.view(), &test).view()),
        );
        per_fold.push(model.diagnostics());
    }
    diagnostics.record_folds(role, &per_fold);
    Ok(predicted)
}

/// The estimated propensity of a fit.
#[derive(Debug, Clone)]
pub(crate) struct Propensity {
    /// `p̂_k` clipped to `[ε, 1 − ε]`.
    pub clipped: Array1<f64>,
    /// Whether row `k` enters the bias stage (false when trimmed).
    pub kept: Vec<bool>,
}

/// Step 2, propensity: constant `κ` or out-of-fold model, then clipping and
/// trimming (both counted in `diagnostics`).
pub(crate) fn estimate_propensity(
    config: &MetaRouterConfig,
    pooled: &Pooled,
    kappa: f64,
    assignment: &[usize],
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<Propensity> {
    let raw = match config.propensity {
        PropensityMode::Constant => Array1::from_elem(pooled.len(), kappa),
        PropensityMode::Model => {
            let learner = config.propensity_learner.learner();
            let mut p = Array1::zeros(pooled.len());
            let mut per_fold = Vec::new();
            for (fold, train, test) in nuisance_splits(assignment, config.cross_fit) {
                let weights = pooled.weights_of(&train);
                let model = learner.fit_probability(
                    crate::linalg::select_rows(pooled.x.view(), &train).view(),
                    pooled.treatment.select(Axis(0), &train).view(),
                    weights.as_ref().map(|w| w.view()),
                    Role::Propensity.seed(learner_seed, fold),
                )?;
                scatter(
                    &mut p,
                    &test,
                    model.predict(crate::linalg::select_rows(pooled.x.view(), &test).view()),
                );
                per_fold.push(model.diagnostics());
            }
            diagnostics.record_folds(Role::Propensity, &per_fold);
            p
        }
    };
    Ok(clip_and_trim(config, raw, diagnostics))
}

/// Step 2, after the propensity: clipping of `p̂` to `[ε, 1 − ε]` (ε =
/// [`MetaRouterConfig::clip_level`]) and trimming of rows with
/// `p̂ ∉ [τ, 1 − τ]`; records the raw range and both counts.
pub(crate) fn clip_and_trim(
    config: &MetaRouterConfig,
    raw: Array1<f64>,
    diagnostics: &mut Diagnostics,
) -> Propensity {
    diagnostics.propensity_range = raw
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let trim = config.trim;
    let kept: Vec<bool> = raw
        .iter()
        .map(|&p| trim == 0.0 || (p >= trim && p <= 1.0 - trim))
        .collect();
    diagnostics.trimmed = kept.iter().filter(|&&k| !k).count();
    let clip = config.clip_level();
    let clipped = raw.mapv(|p| p.clamp(clip, 1.0 - clip));
    diagnostics.clipped = raw.iter().zip(&clipped).filter(|(a, b)| a != b).count();
    Propensity { clipped, kept }
}
