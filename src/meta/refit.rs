//! Steps 3–4 of the Meta-Router: the bias stage and the assembly of ψ̂.
//!
//! # Algorithm
//! **Bias stage.** The bias learner is fit to the pseudo-outcomes on the rows
//! kept after trimming, with the stage's weights.
//!
//! **Refit** (default, the paper's integrative step). PB labels are corrected
//! by the estimated bias and the final learner is fit on
//! `{(q_i, c·r_i)} ∪ {(q'_j, y_j + Δ̂₋ⱼ(q'_j))}` with weight 1 on GS rows and
//! `λ` on corrected PB rows ([`corrected_labels`]). The correction of row `j`
//! must not contain row `j`'s own pseudo-outcome: a flexible bias model
//! nearly interpolates its training targets, whose noise is inflated by
//! `1/κ` on PB rows, and an in-sample prediction would copy that noise into
//! the label. The [`Correction`] rule chooses how:
//! - `out-of-bag`: the bagged bias model's out-of-bag prediction of row `j`
//!   (rows never out of bag, or trimmed, fall back to the full prediction and
//!   are counted);
//! - `out-of-fold`: the bias stage refit `K` times, each without one fold,
//!   predicting that fold's PB rows;
//! - `auto` (default): out-of-bag when the bias model provides it, else
//!   out-of-fold;
//! - `in-sample`: the full bias model's prediction (the authors' script).
//!
//! **Plug-in.** `ψ̂ = η̂ + Δ̂` with `η̂` the final learner on the PB rows.

use ndarray::{Array1, ArrayView1, Axis};

use super::config::{Assemble, Correction, MetaRouterConfig};
use super::diagnostics::{Diagnostics, Role};
use super::nuisances::{fold_count, scatter, Pooled};
use super::{BiasTargets, PsiModel};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::learners::{Learner, Predict};

/// The bias stage's data: pooled rows, targets, weights and the kept rows.
pub(crate) struct BiasStage<'a> {
    learner: &'a dyn Learner,
    pooled: &'a Pooled,
    targets: &'a BiasTargets,
    /// Whether each pooled row enters the bias stage.
    kept: &'a [bool],
    /// The kept rows, ascending.
    kept_rows: Vec<usize>,
}

impl<'a> BiasStage<'a> {
    /// The stage on the kept rows; an error when trimming removed every GS or
    /// every PB row.
    pub fn new(
        config: &'a MetaRouterConfig,
        pooled: &'a Pooled,
        targets: &'a BiasTargets,
        kept: &'a [bool],
    ) -> Result<Self> {
        let kept_rows: Vec<usize> = (0..pooled.len()).filter(|&k| kept[k]).collect();
        let n_gold = pooled.n_gold;
        if kept_rows.iter().all(|&k| k >= n_gold) || kept_rows.iter().all(|&k| k < n_gold) {
            return Err(Error::param(
                "trim",
                config.trim,
                "trimming removed every GS row or every PB row from the bias stage",
            ));
        }
        Ok(Self {
            learner: config.bias().learner(),
            pooled,
            targets,
            kept,
            kept_rows,
        })
    }

    /// Fits the bias learner on `rows` (pooled indices) with `seed`.
    fn fit_rows(&self, rows: &[usize], seed: u64) -> Result<Box<dyn Predict>> {
        self.learner.fit(
            self.pooled.x.select(Axis(0), rows).view(),
            self.targets.pseudo_outcome.select(Axis(0), rows).view(),
            Some(self.targets.weights.select(Axis(0), rows).view()),
            seed,
        )
    }

    /// Step 3: `Δ̂` fit on every kept row.
    pub fn fit(&self, learner_seed: u64) -> Result<Box<dyn Predict>> {
        self.fit_rows(&self.kept_rows, Role::Bias.seed(learner_seed, 0))
    }
}

/// The labels and weights of the ψ refit: GS rows keep `c·r_i` with weight 1;
/// PB row `j` becomes `y_j + correction_j` with weight `λ`. Weights are
/// `None` when `λ = 1` (all rows weigh the same).
pub fn corrected_labels(
    outcome: ArrayView1<f64>,
    n_gold: usize,
    correction: ArrayView1<f64>,
    pref_weight: f64,
) -> (Array1<f64>, Option<Array1<f64>>) {
    let mut labels = outcome.to_owned();
    let mut weights = Array1::ones(outcome.len());
    for (j, c) in correction.iter().enumerate() {
        labels[n_gold + j] += c;
        weights[n_gold + j] = pref_weight;
    }
    (labels, (pref_weight != 1.0).then_some(weights))
}

/// Step 4: ψ̂ by refit on corrected labels, or by plug-in.
pub(crate) fn assemble(
    config: &MetaRouterConfig,
    data: &TrainingData,
    stage: &BiasStage<'_>,
    delta_model: &dyn Predict,
    assignment: &[usize],
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<PsiModel> {
    let final_learner = config.final_stage().learner();
    match config.assemble {
        Assemble::Plugin => {
            let eta = final_learner.fit(
                data.pref_x(),
                data.pref_y(),
                None,
                Role::Eta.seed(learner_seed, 0),
            )?;
            diagnostics.record(Role::Eta, eta.as_ref());
            Ok(PsiModel::Plugin(eta))
        }
        Assemble::Refit => {
            let (correction, used) = corrections(
                config,
                data,
                stage,
                delta_model,
                assignment,
                learner_seed,
                diagnostics,
            )?;
            diagnostics.correction = Some(used);
            let (labels, weights) = corrected_labels(
                stage.pooled.outcome.view(),
                stage.pooled.n_gold,
                correction.view(),
                config.pref_weight,
            );
            let model = final_learner.fit(
                stage.pooled.x.view(),
                labels.view(),
                weights.as_ref().map(|w| w.view()),
                Role::Final.seed(learner_seed, 0),
            )?;
            diagnostics.record(Role::Final, model.as_ref());
            Ok(PsiModel::Single(model))
        }
    }
}

/// PB-label corrections `Δ̂₋ⱼ(q'_j)`, one per PB row, by the configured rule;
/// returns them with the rule used.
fn corrections(
    config: &MetaRouterConfig,
    data: &TrainingData,
    stage: &BiasStage<'_>,
    delta_model: &dyn Predict,
    assignment: &[usize],
    learner_seed: u64,
    diagnostics: &mut Diagnostics,
) -> Result<(Array1<f64>, Correction)> {
    let n_gold = data.n_gold();
    let n_pref = data.n_pref();
    let pref_x = data.pref_x();
    let out_of_bag = delta_model.out_of_bag();
    let rule = match (config.correction, &out_of_bag) {
        (Correction::Auto, Some(_)) => Correction::OutOfBag,
        (Correction::Auto, None) => Correction::OutOfFold,
        (Correction::OutOfBag, None) => {
            return Err(Error::Unsupported {
                learner: stage.learner.name().into(),
                what: "give out-of-bag predictions (correction = \"out-of-bag\" needs a bagged bias learner)"
                    .into(),
            })
        }
        (rule, _) => rule,
    };
    let correction = match rule {
        Correction::InSample => delta_model.predict(pref_x),
        Correction::OutOfBag => {
            let oob = out_of_bag.expect("checked above");
            let full = delta_model.predict(pref_x);
            // Position of each pooled row among the bias stage's training rows.
            let mut position = vec![usize::MAX; stage.kept.len()];
            for (i, &k) in stage.kept_rows.iter().enumerate() {
                position[k] = i;
            }
            let mut fallback = 0;
            let values = Array1::from_shape_fn(n_pref, |j| {
                let k = n_gold + j;
                match (position[k], oob.get(position[k])) {
                    (pos, Some(&value)) if pos != usize::MAX && value.is_finite() => value,
                    _ => {
                        fallback += 1;
                        full[j]
                    }
                }
            });
            diagnostics.out_of_bag_fallback = fallback;
            values
        }
        Correction::OutOfFold | Correction::Auto => {
            let mut values = Array1::zeros(n_pref);
            let mut per_fold = Vec::new();
            for fold in 0..fold_count(assignment) {
                let rows: Vec<usize> = stage
                    .kept_rows
                    .iter()
                    .copied()
                    .filter(|&k| assignment[k] != fold)
                    .collect();
                let targets: Vec<usize> = (0..n_pref)
                    .filter(|&j| assignment[n_gold + j] == fold)
                    .collect();
                if targets.is_empty() {
                    continue;
                }
                let model = stage.fit_rows(&rows, Role::BiasFold.seed(learner_seed, fold))?;
                let predicted = model.predict(pref_x.select(Axis(0), &targets).view());
                scatter(&mut values, &targets, predicted);
                per_fold.push(model.diagnostics());
            }
            diagnostics.record_folds(Role::BiasFold, &per_fold);
            values
        }
    };
    Ok((correction, rule))
}
