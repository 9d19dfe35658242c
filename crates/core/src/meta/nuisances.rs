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
use crate::error::{Error, Result};
use crate::learners::{Learner, Predict};

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

/// How the outcome nuisances are predicted out of sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutcomeFit {
    /// One fit per fold ([`nuisance_splits`]; in sample when `cross_fit` is off).
    Folds {
        /// Whether to cross-fit.
        cross_fit: bool,
    },
    /// One fit on every accepted row; its out-of-bag predictions for those
    /// rows, its predictions for the others (`outcome_oob`).
    OutOfBag,
}

impl OutcomeFit {
    /// The mode a configuration asks for.
    pub(crate) fn of(config: &MetaRouterConfig) -> Self {
        if config.outcome_oob {
            OutcomeFit::OutOfBag
        } else {
            OutcomeFit::Folds {
                cross_fit: config.cross_fit,
            }
        }
    }
}

/// Out-of-sample predictions of `learner` fit on `(s, o)`. With
/// [`OutcomeFit::Folds`], for every fold the model is trained on the rows
/// outside it that `train_on` accepts and predicts every row inside it. With
/// [`OutcomeFit::OutOfBag`], one model is trained on every accepted row and
/// each of those rows gets the mean of the trees whose bootstrap sample
/// missed it; the other rows (never in the training set) get the model's
/// prediction. Records the per-fit diagnostics under `role`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn out_of_fold(
    learner: &dyn Learner,
    pooled: &Pooled,
    assignment: &[usize],
    fit: OutcomeFit,
    train_on: impl Fn(usize) -> bool,
    role: Role,
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<Array1<f64>> {
    let cross_fit = match fit {
        OutcomeFit::Folds { cross_fit } => cross_fit,
        OutcomeFit::OutOfBag => {
            return out_of_bag(learner, pooled, train_on, role, learner_seed, diagnostics)
        }
    };
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

/// [`out_of_fold`] with [`OutcomeFit::OutOfBag`].
fn out_of_bag(
    learner: &dyn Learner,
    pooled: &Pooled,
    train_on: impl Fn(usize) -> bool,
    role: Role,
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<Array1<f64>> {
    let (train, others): (Vec<usize>, Vec<usize>) = (0..pooled.len()).partition(|&k| train_on(k));
    let weights = pooled.weights_of(&train);
    let model = learner.fit(
        crate::linalg::select_rows(pooled.x.view(), &train).view(),
        pooled.outcome.select(Axis(0), &train).view(),
        weights.as_ref().map(|w| w.view()),
        role.seed(learner_seed, 0),
    )?;
    let oob = model.out_of_bag().ok_or_else(|| Error::Unsupported {
        learner: learner.name().into(),
        what: "out-of-bag predictions (outcome_oob needs a bagged forest)".into(),
    })?;
    // A row in every tree's bootstrap sample has no out-of-bag prediction;
    // the forest gives it its in-sample prediction, which an outcome
    // nuisance must not use.
    let diagnostics_of_fit = model.diagnostics();
    if let Some(rows) = diagnostics_of_fit.oob_fallback_rows.filter(|&r| r > 0) {
        return Err(Error::param(
            "outcome_oob",
            true,
            format!(
                "{rows} training row(s) of the {} model were in every tree's bootstrap \
                 sample and have no out-of-bag prediction; use more trees (or outcome_oob = false)",
                role.label()
            ),
        ));
    }
    let mut predicted = Array1::zeros(pooled.len());
    scatter(&mut predicted, &train, oob);
    if !others.is_empty() {
        scatter(
            &mut predicted,
            &others,
            model.predict(crate::linalg::select_rows(pooled.x.view(), &others).view()),
        );
    }
    diagnostics.record_folds(role, &[diagnostics_of_fit]);
    Ok(predicted)
}

/// The estimated propensity of a fit.
#[derive(Debug, Clone)]
pub(crate) struct Propensity {
    /// `p̂_k` as estimated (before clipping).
    pub raw: Array1<f64>,
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
    Propensity { raw, clipped, kept }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learners::{ForestParams, LearnerConfig};
    use ndarray::Array2;

    fn pooled(n_gold: usize, n: usize) -> Pooled {
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 29) as f64 / 29.0);
        let outcome = Array1::from_shape_fn(n, |i| x[[i, 0]] + 0.3 * ((i * 5) % 11) as f64);
        let treatment = Array1::from_shape_fn(n, |i| if i < n_gold { 1.0 } else { 0.0 });
        Pooled {
            x,
            treatment,
            outcome,
            n_gold,
            weights: None,
        }
    }

    #[test]
    fn out_of_bag_outcomes_are_the_forest_oob_on_its_rows_and_predictions_elsewhere() {
        let pooled = pooled(40, 200);
        let forest = ForestParams {
            trees: 25,
            ..ForestParams::paper()
        };
        let learner = LearnerConfig::Forest(forest.clone());
        let assignment: Vec<usize> = (0..200).map(|k| k % 5).collect();
        let mut diagnostics = Diagnostics::default();
        let gold_arm = |k: usize| k < 40;
        let predicted = out_of_fold(
            learner.learner(),
            &pooled,
            &assignment,
            OutcomeFit::OutOfBag,
            gold_arm,
            Role::OutcomeGold,
            9,
            &mut diagnostics,
        )
        .unwrap();
        // The same fit by hand.
        let rows: Vec<usize> = (0..40).collect();
        let others: Vec<usize> = (40..200).collect();
        let model = forest
            .fit_forest(
                crate::linalg::select_rows(pooled.x.view(), &rows).view(),
                pooled.outcome.select(Axis(0), &rows).view(),
                None,
                Role::OutcomeGold.seed(9, 0),
            )
            .unwrap();
        let oob = model.oob_predictions().unwrap();
        let rest = model.predict(crate::linalg::select_rows(pooled.x.view(), &others).view());
        for (k, &row) in rows.iter().enumerate() {
            assert_eq!(predicted[row], oob[k]);
        }
        for (k, &row) in others.iter().enumerate() {
            assert_eq!(predicted[row], rest[k]);
        }
        // Out of bag is not in sample: a deep forest nearly interpolates its
        // own rows, its out-of-bag predictions do not.
        let in_sample = model.predict(crate::linalg::select_rows(pooled.x.view(), &rows).view());
        let gap: f64 = rows
            .iter()
            .enumerate()
            .map(|(k, &row)| (predicted[row] - in_sample[k]).abs())
            .sum();
        assert!(
            gap > 1.0,
            "out-of-bag predictions equal in-sample ones: {gap}"
        );
    }

    #[test]
    fn outcome_oob_is_refused_where_it_cannot_hold() {
        use crate::meta::{DrOutcome, MetaRouterConfig, Method};
        let forest = LearnerConfig::Forest(ForestParams::paper());
        let ok = MetaRouterConfig {
            outcome_oob: true,
            ..MetaRouterConfig::new(Method::RLearner).with_learner(forest.clone())
        };
        ok.validate().unwrap();
        let refused = |config: MetaRouterConfig, needle: &str| {
            let message = config.validate().unwrap_err().to_string();
            assert!(
                message.contains("outcome_oob") && message.contains(needle),
                "{message}"
            );
        };
        refused(
            MetaRouterConfig {
                outcome_oob: true,
                ..MetaRouterConfig::new(Method::RLearner)
            },
            "bootstrap",
        );
        refused(
            MetaRouterConfig {
                learner: LearnerConfig::Forest(ForestParams {
                    bootstrap: false,
                    ..ForestParams::paper()
                }),
                ..ok.clone()
            },
            "bootstrap",
        );
        refused(
            MetaRouterConfig {
                cross_fit: false,
                ..ok.clone()
            },
            "cross_fit",
        );
        refused(
            MetaRouterConfig {
                method: Method::DrLearner,
                dr_outcome: DrOutcome::Joint,
                ..ok.clone()
            },
            "separate",
        );
        refused(
            MetaRouterConfig {
                method: Method::Pooled,
                ..ok
            },
            "R- and DR-learners",
        );
    }
}
