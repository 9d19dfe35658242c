//! Steps 3–4 of the Meta-Router: the bias stage and the assembly of ψ̂.
//!
//! # Algorithm
//! **Bias stage.** The bias learner is fit to the pseudo-outcomes on the rows
//! kept after trimming, with the stage's weights.
//!
//! *Leaf rule of tree learners* (`bias_leaf = "weight-aware"`, the default;
//! the DR-learner's version is below). A leaf's weighted mean `Σ w z / Σ w` of R-learner targets
//! `z = (o − μ̂)/(t − p̂)` with weights `w = (t − p̂)²` has variance
//! `Σ w² Var(z) / (Σw)² = σ²/Σw` (as `w·Var(z) = σ²`): a leaf is as noisy as
//! its *weight* says. With a few GS rows among many PB rows, `κ = n/N` small,
//! a PB row weighs `κ²` and a leaf of a few PB rows has variance
//! `σ²/(κ² · rows)`, hundreds of times a GS row's; a row-count rule allows such
//! leaves and `Δ̂` blows up there. The weight-aware rule asks every leaf to
//! weigh at least `min_samples_leaf` rows of the stage's effective sample
//! size: `min_weight_leaf ≥ min_samples_leaf / n_eff`, `n_eff = (Σw)²/Σw²`
//! (≈ `n` GS rows when `κ` is small; `N` for equal weights, where it is the
//! row rule itself), so a leaf is never noisier than `min_samples_leaf` GS
//! rows. A larger `min_weight_leaf` set on the forest is kept. The fraction
//! used is reported as the diagnostic `bias.min_weight_leaf`.
//!
//! The DR-learner's stage has unit weights, but its pseudo-outcomes carry
//! their residual times `a_k = |t_k − p̂_k|/(p̂_k(1 − p̂_k))` — `1/p̂ ≈ 1/κ`
//! on GS rows, `1/(1 − p̂)` on PB rows — so a leaf of `m` rows has variance
//! about `σ²·mean(a²)/m`, and a leaf of a few rows holding one GS row is as
//! wild as the R-learner's PB-only leaves. Its rule asks every leaf to hold
//! `min_samples_leaf / n_eff` of the rows, `n_eff = N/mean(a²)` (≈ `n` when
//! `κ` is small), so again no leaf is noisier than `min_samples_leaf` rows
//! of factor 1; a boosting bias learner gets `min_child_weight` multiplied
//! by `N/n_eff` (diagnostic `bias.min_child_weight`). Measured in the
//! paper's all-forest setting at `n_gold = 100`, the rule takes the
//! DR-learner's MSE of `Δ̂` from 0.283 to 0.064 and its NEG area from 0.417
//! to 0.517 (at `n_gold = 500` it costs 0.011 of NEG area;
//! `results/paper/ablation_dr_leaf/`).
//!
//! `delta_clip = a` clips every `Δ̂` prediction (corrections, plug-in, and
//! the router's `Δ̂`) to `[−a, a]` (the authors' script).
//!
//! **Refit** (default, the paper's integrative step). PB labels are corrected
//! by the estimated bias and the final learner is fit on
//! `{(q_i, c·r_i)} ∪ {(q'_j, y_j + Δ̂₋ⱼ(q'_j))}` with weight 1 on GS rows and
//! `λ` on corrected PB rows ([`corrected_labels`]). The correction of row `j`
//! must not contain row `j`'s own pseudo-outcome: a flexible bias model
//! nearly interpolates its training targets, whose noise is inflated by
//! the residual factors (R-learner: about `1/κ` on PB rows; DR-learner:
//! `1/p̂ ≈ 1/κ` on GS rows, `1/(1 − p̂)` on PB rows), and an in-sample
//! prediction would copy that noise (its own and its neighbours') into the
//! label. The [`Correction`] rule chooses how:
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

use super::config::{Assemble, BiasLeaf, Correction, MetaRouterConfig, Method};
use super::diagnostics::{Diagnostics, Role};
use super::nuisances::{fold_count, scatter, Pooled};
use super::{BiasTargets, PsiModel};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::learners::{FittedModel, LearnerConfig, Predict};

/// The bias stage's data: pooled rows, targets, weights and the kept rows.
pub(crate) struct BiasStage<'a> {
    /// The bias learner, with the weight-aware leaf rule applied.
    learner: LearnerConfig,
    pooled: &'a Pooled,
    targets: &'a BiasTargets,
    /// Whether each pooled row enters the bias stage.
    kept: &'a [bool],
    /// The kept rows, ascending.
    kept_rows: Vec<usize>,
    /// `delta_clip`.
    clip: Option<f64>,
    /// What the weight-aware leaf rule set, if anything: the diagnostic's
    /// name (`bias.min_weight_leaf` for forests, `bias.min_child_weight` for
    /// boosting) and its value.
    pub leaf_rule: Option<(&'static str, f64)>,
}

impl<'a> BiasStage<'a> {
    /// The stage on the kept rows; an error when trimming removed every GS or
    /// every PB row.
    pub fn new(
        config: &'a MetaRouterConfig,
        pooled: &'a Pooled,
        targets: &'a BiasTargets,
        propensity: ArrayView1<f64>,
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
        let mut learner = config.bias().clone();
        let mut leaf_rule = None;
        if config.bias_leaf == BiasLeaf::WeightAware {
            match (config.method, &mut learner) {
                (Method::RLearner, LearnerConfig::Forest(forest)) => {
                    let w = targets.weights.select(Axis(0), &kept_rows);
                    let fraction = weight_aware_leaf(w.view(), forest.min_samples_leaf);
                    forest.min_weight_leaf = forest.min_weight_leaf.max(fraction);
                    leaf_rule = Some(("bias.min_weight_leaf", forest.min_weight_leaf));
                }
                (Method::DrLearner, LearnerConfig::Forest(forest)) => {
                    let rows = dr_precision_rows(pooled, propensity, &kept_rows);
                    let fraction = (forest.min_samples_leaf.max(1) as f64 / rows).min(0.5);
                    forest.min_weight_leaf = forest.min_weight_leaf.max(fraction);
                    leaf_rule = Some(("bias.min_weight_leaf", forest.min_weight_leaf));
                }
                (Method::DrLearner, LearnerConfig::Boosting(boosting)) => {
                    // A child must carry min_child_weight rows of GS-row
                    // precision: min_child_weight × N/n_eff unit-weight rows.
                    let rows = dr_precision_rows(pooled, propensity, &kept_rows);
                    let scale = kept_rows.len() as f64 / rows;
                    boosting.min_child_weight =
                        (boosting.min_child_weight * scale).max(boosting.min_child_weight);
                    leaf_rule = Some(("bias.min_child_weight", boosting.min_child_weight));
                }
                _ => {}
            }
        }
        Ok(Self {
            learner,
            pooled,
            targets,
            kept,
            kept_rows,
            clip: config.delta_clip,
            leaf_rule,
        })
    }

    /// Fits the bias learner on `rows` (pooled indices) with `seed`.
    fn fit_rows(&self, rows: &[usize], seed: u64) -> Result<FittedModel> {
        let model = self.learner.learner().fit(
            crate::linalg::select_rows(self.pooled.x.view(), rows).view(),
            self.targets.pseudo_outcome.select(Axis(0), rows).view(),
            Some(self.targets.weights.select(Axis(0), rows).view()),
            seed,
        )?;
        Ok(match self.clip {
            Some(bound) => model.clamped(-bound, bound),
            None => model,
        })
    }

    /// Step 3: `Δ̂` fit on every kept row.
    pub fn fit(&self, learner_seed: u64) -> Result<FittedModel> {
        self.fit_rows(&self.kept_rows, Role::Bias.seed(learner_seed, 0))
    }
}

/// The DR-learner's effective rows `n_eff = N / mean(a_k²)` over the kept
/// rows, `a_k = |t_k − p̂_k|/(p̂_k(1 − p̂_k))` the factor on row `k`'s
/// residual in its pseudo-outcome (module docs): the number of rows of
/// residual factor 1 whose mean is as precise as the stage's.
fn dr_precision_rows(pooled: &Pooled, propensity: ArrayView1<f64>, kept_rows: &[usize]) -> f64 {
    let factors = super::pseudo::dr_residual_weights(
        pooled.treatment.select(Axis(0), kept_rows).view(),
        propensity.select(Axis(0), kept_rows).view(),
    );
    let mean_square = factors.iter().map(|a| a * a).sum::<f64>() / factors.len().max(1) as f64;
    if mean_square > 0.0 {
        factors.len() as f64 / mean_square
    } else {
        0.0
    }
}

/// The weight-aware leaf rule: the leaf-weight fraction
/// `min(0.5, min_samples_leaf / n_eff)`, `n_eff = (Σw)²/Σw²` (module docs).
pub(crate) fn weight_aware_leaf(weights: ArrayView1<f64>, min_samples_leaf: usize) -> f64 {
    let n_eff = super::pseudo::kish_effective_size(weights);
    if n_eff <= 0.0 {
        return 0.0;
    }
    (min_samples_leaf.max(1) as f64 / n_eff).min(0.5)
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
                data.pref_weights(),
                Role::Eta.seed(learner_seed, 0),
            )?;
            diagnostics.record(Role::Eta, &eta);
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
            let (labels, mut weights) = corrected_labels(
                stage.pooled.outcome.view(),
                stage.pooled.n_gold,
                correction.view(),
                config.pref_weight,
            );
            if let Some(sample) = &stage.pooled.weights {
                weights = Some(match weights {
                    Some(w) => w * sample,
                    None => sample.clone(),
                });
            }
            let model = final_learner.fit(
                stage.pooled.x.view(),
                labels.view(),
                weights.as_ref().map(|w| w.view()),
                Role::Final.seed(learner_seed, 0),
            )?;
            diagnostics.record(Role::Final, &model);
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
                learner: stage.learner.learner().name().into(),
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
                let predicted =
                    model.predict(crate::linalg::select_rows(pref_x.view(), &targets).view());
                scatter(&mut values, &targets, predicted);
                per_fold.push(model.diagnostics());
            }
            diagnostics.record_folds(Role::BiasFold, &per_fold);
            values
        }
    };
    Ok((correction, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// `n_eff = (Σw)²/Σw²`; the rule is `min_samples_leaf / n_eff`, capped at 0.5.
    #[test]
    fn weight_aware_leaf_by_hand() {
        // Equal weights: n_eff = N, the rule is the row rule itself.
        assert!((weight_aware_leaf(Array1::from_elem(200, 0.7).view(), 2) - 0.01).abs() < 1e-15);
        // Two heavy rows and 1000 light ones: Σw = 2 + 1 = 3, Σw² = 2 + 0.001,
        // n_eff = 9/2.001, so 1 row's worth is 2.001/9 of the total weight.
        let mut w = Array1::from_elem(1002, 0.001);
        w[0] = 1.0;
        w[1] = 1.0;
        assert!((weight_aware_leaf(w.view(), 1) - 2.001 / 9.0).abs() < 1e-12);
        assert_eq!(weight_aware_leaf(array![1.0, 0.0].view(), 3), 0.5);
        assert_eq!(weight_aware_leaf(array![0.0, 0.0].view(), 3), 0.0);
    }

    /// λ = 1 gives no weights; λ ≠ 1 weighs exactly the PB rows.
    #[test]
    fn corrected_labels_by_hand() {
        let outcome = array![1.0, 2.0, 3.0, 4.0];
        let (labels, weights) = corrected_labels(outcome.view(), 2, array![0.5, -1.0].view(), 1.0);
        assert_eq!(labels, array![1.0, 2.0, 3.5, 3.0]);
        assert!(weights.is_none());
        let (_, weights) = corrected_labels(outcome.view(), 2, array![0.5, -1.0].view(), 2.5);
        assert_eq!(weights.unwrap(), array![1.0, 1.0, 2.5, 2.5]);
    }
}
