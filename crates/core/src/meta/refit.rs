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
//! *DR second-stage variants* (forest bias learner only). A leaf's mean of
//! `φ` is a Horvitz–Thompson estimate: its GS term `Σ_GS (o − μ̂₁)/p̂`
//! is divided by the leaf's row count `m`, so it is scaled by `g/(m p̂)`
//! when the leaf holds `g` GS rows — a binomial fluctuation of about ±45%
//! in a leaf that expects 5.
//! - `bias_leaf = "normalized"`: the same trees (split on `φ`, the
//!   weight-aware rule), each leaf predicting the normalised (Hájek)
//!   estimate `mean(μ̂₁ − μ̂₀) + Σ_GS (o − μ̂₁)/p̂ / Σ_GS 1/p̂ −
//!   Σ_PB (o − μ̂₀)/(1 − p̂) / Σ_PB 1/(1 − p̂)` over its in-bag rows
//!   (`learners::LeafRatios`). It is doubly robust in every leaf: with `p̂`
//!   right each weighted mean estimates its arm's mean residual over the
//!   leaf, with `μ̂` right the residual terms vanish.
//! - `bias_leaf = "r-split"`: the trees split on the R-learner's loss —
//!   targets `(o − m̂)/(t − p̂)`, weights `(t − p̂)²`, `m̂ = p̂μ̂₁ + (1 − p̂)μ̂₀`
//!   from the DR-learner's own outcome models, the R-learner's weight-aware
//!   rule — and the leaves predict the normalised estimate. The partition
//!   comes from the GS residuals, as the R-learner's does, while the leaf
//!   values stay doubly robust; the stage is no longer a regression of `φ`.
//!
//! In a leaf with no in-bag row of one arm, that arm's residual term
//! contributes nothing (the plug-in stands for it, as in the mean of `φ`),
//! so the leaf value keeps the DR form under both options; falling back to
//! the tree's own value instead (the R-learner's mean of `z` under
//! `r-split`) gave MSE(Δ̂) 0.86 against 0.20 with this rule when the outcome
//! model is off by a constant (the design of
//! `simulations/paper/ablation_dr_robustness.toml`, 50 replicates).
//! Sample weights multiply every term's numerator and denominator.
//!
//! Neither is the default; `results/paper/ablation_dr_second_stage/`
//! measures them.
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
use crate::learners::{FittedModel, LeafRatios, LearnerConfig, Predict};

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
    /// The leaf rule (`normalized` and `r-split` change what forest trees
    /// fit and their leaf values).
    bias_leaf: BiasLeaf,
    /// The clipped propensity of every pooled row.
    propensity: ArrayView1<'a, f64>,
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
        propensity: ArrayView1<'a, f64>,
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
        if config.bias_leaf != BiasLeaf::Rows {
            match (config.method, &mut learner) {
                // The R-learner's rule, also for DR trees grown on its loss.
                (Method::RLearner | Method::DrLearner, LearnerConfig::Forest(forest))
                    if config.method == Method::RLearner
                        || config.bias_leaf == BiasLeaf::RSplit =>
                {
                    let w = if config.bias_leaf == BiasLeaf::RSplit {
                        r_split_targets(pooled, targets, propensity, &kept_rows)?.1
                    } else {
                        targets.weights.select(Axis(0), &kept_rows)
                    };
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
            bias_leaf: config.bias_leaf,
            propensity,
            leaf_rule,
        })
    }

    /// Fits the bias learner on `rows` (pooled indices) with `seed`.
    fn fit_rows(&self, rows: &[usize], seed: u64) -> Result<FittedModel> {
        let x = crate::linalg::select_rows(self.pooled.x.view(), rows);
        let (y, w) = match self.bias_leaf {
            BiasLeaf::RSplit => r_split_targets(self.pooled, self.targets, self.propensity, rows)?,
            _ => (
                self.targets.pseudo_outcome.select(Axis(0), rows),
                self.targets.weights.select(Axis(0), rows),
            ),
        };
        let model = match (&self.learner, self.bias_leaf) {
            (LearnerConfig::Forest(forest), BiasLeaf::Normalized | BiasLeaf::RSplit) => {
                let ratios = dr_leaf_ratios(self.pooled, self.targets, self.propensity, rows)?;
                FittedModel::Forest(forest.fit_forest_ratio_leaves(
                    x.view(),
                    y.view(),
                    Some(w.view()),
                    seed,
                    &ratios,
                )?)
            }
            _ => self
                .learner
                .learner()
                .fit(x.view(), y.view(), Some(w.view()), seed)?,
        };
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

/// The DR-learner's normalised leaf terms on `rows` (pooled indices; term
/// `i` belongs to `rows[i]`): the plug-in `μ̂₁ − μ̂₀` averaged over the leaf,
/// plus the GS residuals `o − μ̂₁` averaged with weights `1/p̂`, minus the PB
/// residuals `o − μ̂₀` averaged with weights `1/(1 − p̂)` (module docs), every
/// weight times the row's sample weight.
fn dr_leaf_ratios(
    pooled: &Pooled,
    targets: &BiasTargets,
    propensity: ArrayView1<f64>,
    rows: &[usize],
) -> Result<LeafRatios> {
    let (Some(mu1), Some(mu0)) = (&targets.mean_gold, &targets.mean_pref) else {
        return Err(Error::param(
            "bias_leaf",
            "normalized",
            "normalised leaves need the DR-learner's outcome models",
        ));
    };
    let n = rows.len();
    let (mut plug, mut plug_v) = (vec![0.0; n], vec![0.0; n]);
    let (mut gold_u, mut gold_v) = (vec![0.0; n], vec![0.0; n]);
    let (mut pref_u, mut pref_v) = (vec![0.0; n], vec![0.0; n]);
    for (i, &k) in rows.iter().enumerate() {
        let (p, o) = (propensity[k], pooled.outcome[k]);
        let sample = pooled.weights.as_ref().map_or(1.0, |w| w[k]);
        plug[i] = sample * (mu1[k] - mu0[k]);
        plug_v[i] = sample;
        if pooled.treatment[k] == 1.0 {
            gold_u[i] = sample * (o - mu1[k]) / p;
            gold_v[i] = sample / p;
        } else {
            pref_u[i] = -sample * (o - mu0[k]) / (1.0 - p);
            pref_v[i] = sample / (1.0 - p);
        }
    }
    Ok(LeafRatios::new()
        .term(plug, plug_v)
        .term(gold_u, gold_v)
        .term(pref_u, pref_v))
}

/// `bias_leaf = "r-split"`: the R-learner's targets `(o − m̂)/(t − p̂)` and
/// weights `(t − p̂)²` times the sample weights on `rows`,
/// `m̂ = p̂μ̂₁ + (1 − p̂)μ̂₀` from the DR-learner's outcome models.
fn r_split_targets(
    pooled: &Pooled,
    targets: &BiasTargets,
    propensity: ArrayView1<f64>,
    rows: &[usize],
) -> Result<(Array1<f64>, Array1<f64>)> {
    let (Some(mu1), Some(mu0)) = (&targets.mean_gold, &targets.mean_pref) else {
        return Err(Error::param(
            "bias_leaf",
            "r-split",
            "R-loss splits need the DR-learner's outcome models",
        ));
    };
    let mut z = Array1::zeros(rows.len());
    let mut w = Array1::zeros(rows.len());
    for (i, &k) in rows.iter().enumerate() {
        let p = propensity[k];
        let m = p * mu1[k] + (1.0 - p) * mu0[k];
        let r = pooled.treatment[k] - p;
        z[i] = (pooled.outcome[k] - m) / r;
        w[i] = r * r * pooled.weights.as_ref().map_or(1.0, |w| w[k]);
    }
    Ok((z, w))
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
    use ndarray::{array, Array2};

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

    /// A one-leaf forest (no bootstrap, no split allowed) predicts the
    /// normalised estimate: the plug-in's mean plus the GS residuals'
    /// `1/p̂`-weighted mean minus the PB residuals' `1/(1 − p̂)`-weighted
    /// mean. When the leaf's GS share equals `p̂` this is the mean of `φ`
    /// (the default leaf); otherwise the two differ by the GS share.
    #[test]
    fn normalized_leaves_are_hajek_means_of_the_dr_terms() {
        use crate::learners::ForestParams;
        let stage_value = |n_gold: usize, p: &dyn Fn(usize) -> f64| -> (f64, f64) {
            let n = 8;
            let x = Array2::from_shape_fn((n, 1), |(i, _)| i as f64);
            let treatment = Array1::from_shape_fn(n, |i| if i < n_gold { 1.0 } else { 0.0 });
            let outcome = Array1::from_shape_fn(n, |i| (i * i) as f64 / 4.0);
            let mean_gold = Array1::from_shape_fn(n, |i| 0.5 * i as f64);
            let mean_pref = Array1::from_shape_fn(n, |i| 0.25 * i as f64 - 1.0);
            let propensity = Array1::from_shape_fn(n, p);
            let pooled = Pooled {
                x,
                treatment: treatment.clone(),
                outcome: outcome.clone(),
                n_gold,
                weights: None,
            };
            let targets = super::super::dr_learner::targets_from(
                &pooled,
                propensity.view(),
                mean_gold.clone(),
                mean_pref.clone(),
            );
            let mut config = MetaRouterConfig::new(Method::DrLearner);
            config.bias_learner = Some(LearnerConfig::Forest(ForestParams {
                trees: 1,
                bootstrap: false,
                min_samples_split: 100,
                ..ForestParams::paper()
            }));
            config.bias_leaf = BiasLeaf::Normalized;
            let kept = vec![true; n];
            let stage =
                BiasStage::new(&config, &pooled, &targets, propensity.view(), &kept).unwrap();
            let leaf = stage.fit(3).unwrap().predict(pooled.x.view())[0];
            let gold: Vec<usize> = (0..n_gold).collect();
            let pref: Vec<usize> = (n_gold..n).collect();
            // Weighted means with weights 1/p̂ (GS) and 1/(1 − p̂) (PB).
            let mean = |rows: &[usize], f: &dyn Fn(usize) -> f64, w: &dyn Fn(usize) -> f64| {
                rows.iter().map(|&k| w(k) * f(k)).sum::<f64>()
                    / rows.iter().map(|&k| w(k)).sum::<f64>()
            };
            let all: Vec<usize> = (0..n).collect();
            let hajek = mean(&all, &|k| mean_gold[k] - mean_pref[k], &|_| 1.0)
                + mean(&gold, &|k| outcome[k] - mean_gold[k], &|k| 1.0 / p(k))
                - mean(&pref, &|k| outcome[k] - mean_pref[k], &|k| {
                    1.0 / (1.0 - p(k))
                });
            assert!((leaf - hajek).abs() < 1e-12, "{leaf} vs {hajek}");
            (leaf, targets.pseudo_outcome.mean().unwrap())
        };
        let (leaf, phi) = stage_value(2, &|_| 0.25);
        assert!((leaf - phi).abs() < 1e-12, "{leaf} vs {phi}");
        let (leaf, phi) = stage_value(3, &|_| 0.25);
        assert!((leaf - phi).abs() > 0.1, "{leaf} vs {phi}");
        // A varying p̂: the arms' weights no longer cancel (a leaf built with
        // unit weights fails the Hájek check above).
        stage_value(3, &|k| 0.1 + 0.05 * k as f64);
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
