//! Non-fatal facts of a fit, and the learner roles that name them.
//!
//! # Bias-stage weights
//! [`BiasStageWeights`] describes how evenly the bias stage's rows carry it
//! (`docs/method.md` §2.3), over the rows kept after trimming:
//! - `clipped_fraction`: the share of all `N` rows whose `p̂` hit the clip;
//! - `max_weight`: the largest factor on a residual in a target — DR
//!   `1/p̂` (GS rows) or `1/(1 − p̂)` (PB rows), R `1/|t − p̂|`
//!   ([`pseudo::dr_residual_weights`](super::pseudo::dr_residual_weights),
//!   [`pseudo::r_residual_factors`](super::pseudo::r_residual_factors));
//! - `clipped_weight_share`: the share of the stage's weight on rows whose
//!   `p̂` sits at the clip;
//! - `effective_rows`: the Kish effective sample size `(Σw)²/Σw²`
//!   ([`pseudo::kish_effective_size`](super::pseudo::kish_effective_size)).
//!   R: of its regression weights `w = (t − p̂)²`. DR: its regression weights
//!   are 1, but a row's pseudo-outcome carries its residual times
//!   `a = |t − p̂|/(p̂(1 − p̂))`, so the DR learner reports the effective size
//!   of the inverse-propensity weights `a` (the usual IPW effective size);
//!   a single `1/p̂ = 1000` among a thousand rows of weight about 2 brings it
//!   to about 4.
//!
//! The stage is **weight-dominated** ([`BiasStageWeights::dominated`]) when
//! the rows whose `p̂` sits at the clip (`ε` or `1 − ε`) carry more than
//! [`DOMINATED_CLIPPED_SHARE`] = 50% of the stage's weight (DR: the residual
//! weights `a`; R: the regression weights), so that the clip rather than the
//! propensity model shapes `Δ̂`; or, for the DR learner, when the effective
//! size is below [`DOMINATED_EFFECTIVE_FRACTION`] = 10% of the stage's rows
//! (a few rows carry the fit). The share of clipped *rows* alone is not a
//! criterion: a degree-2 logistic on Nie & Wager setup A puts up to 16% of
//! the rows at ε = 0.05 with a good fit (weights capped at 20). The
//! R-learner's effective size is reported but not flagged: its weights are at
//! most 1, and a small effective size there reflects a small `κ` (the GS rows
//! carry the stage), not extreme weights.
//!
//! With a constant propensity `p̂ ≡ κ` these numbers are functions of `n`
//! and `N` alone; they are kept on the fitted object but left out of
//! [`Diagnostics::to_map`] (the study records).
//!
//! Learner seeds are derived from the fit's learner seed and the role's fixed
//! id (and the fold), so adding a role never changes another role's seed.

use std::collections::BTreeMap;

use ndarray::{ArrayView1, Axis};
use serde::Serialize;

use super::config::{Correction, Method};
use super::pseudo;
use crate::learners::{LearnerDiagnostics, Predict};
use crate::rng::derive_seed;

/// Learner roles, used to derive learner seeds and name diagnostics.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Role {
    Propensity = 1,
    Outcome = 2,
    OutcomeGold = 3,
    OutcomePref = 4,
    Bias = 5,
    BiasFold = 6,
    Final = 7,
    Eta = 8,
    Overlap = 9,
}

impl Role {
    /// The seed of this role's fit on `fold` (0 for fits on all rows),
    /// derived from the fit's learner seed.
    pub(crate) fn seed(self, learner_seed: u64, fold: usize) -> u64 {
        derive_seed(learner_seed, &[self as u64, fold as u64])
    }

    /// The seed of a single fit outside cross-fitting (baselines, `all-gold`).
    pub(crate) fn single_seed(self, learner_seed: u64) -> u64 {
        derive_seed(learner_seed, &[self as u64])
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Role::Propensity => "propensity",
            Role::Outcome => "outcome",
            Role::OutcomeGold => "outcome_gold",
            Role::OutcomePref => "outcome_pref",
            Role::Bias => "bias",
            Role::BiasFold => "bias_fold",
            Role::Final => "final",
            Role::Eta => "eta",
            Role::Overlap => "overlap",
        }
    }
}

/// Non-fatal facts of a fit.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnostics {
    /// `κ = n/N`.
    pub kappa: f64,
    /// Number of folds used (0 for baselines).
    pub folds: usize,
    /// Rows whose `p̂` was clipped.
    pub clipped: usize,
    /// Rows dropped from the bias stage by trimming.
    pub trimmed: usize,
    /// Scale constant `c`.
    pub scale: f64,
    /// Smallest and largest `p̂` before clipping (NaN-free; `κ` for constant).
    pub propensity_range: (f64, f64),
    /// The correction actually used (meta-learners with `refit`).
    pub correction: Option<Correction>,
    /// PB rows whose out-of-bag correction fell back to the full prediction
    /// (never out of bag, or trimmed from the bias stage).
    pub out_of_bag_fallback: usize,
    /// How evenly the bias stage's rows carry it (meta-learners).
    pub bias_stage: Option<BiasStageWeights>,
    /// A truncated Meta-Router's overlap region: `overlap.alpha` and the
    /// shares of GS and PB rows inside (`overlap.gold_inside`,
    /// `overlap.pref_inside`); empty otherwise.
    pub truncation: Vec<(&'static str, f64)>,
    /// Learner diagnostics, named `role.name` (`final.penalty`); for
    /// out-of-fold fits the mean over folds, named `role.name.mean`.
    pub learners: BTreeMap<String, f64>,
}

/// A bias stage is weight-dominated when the rows with `p̂` at the clip carry
/// more than this share of its weight (module docs).
pub const DOMINATED_CLIPPED_SHARE: f64 = 0.5;

/// A DR bias stage is weight-dominated when its effective sample size is
/// below this share of its rows (module docs).
pub const DOMINATED_EFFECTIVE_FRACTION: f64 = 0.1;

/// The record key of the weight-dominance flag (1 or 0), present when the
/// propensity is not constant.
pub const DOMINATED_KEY: &str = "bias_stage.dominated";

/// How evenly the rows carry a bias stage (module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiasStageWeights {
    /// Share of the `N` rows whose `p̂` hit the clip.
    pub clipped_fraction: f64,
    /// Largest residual factor of a kept row (DR `1/p̂` or `1/(1 − p̂)`, R
    /// `1/|t − p̂|`).
    pub max_weight: f64,
    /// Kish effective sample size of the stage (R: weights `(t − p̂)²`; DR:
    /// the residual weights).
    pub effective_rows: f64,
    /// Share of the stage's weight (DR: residual weights; R: regression
    /// weights) on kept rows whose `p̂` sits at the clip.
    pub clipped_weight_share: f64,
    /// Rows of the stage (kept after trimming).
    pub rows: usize,
    /// Whether clipped or extreme weights dominate the stage.
    pub dominated: bool,
    /// Whether `p̂` was the constant `κ` (then left out of the records).
    pub constant_propensity: bool,
}

impl BiasStageWeights {
    /// The weights of `method`'s bias stage over the kept rows, from `t`, the
    /// `p̂` clipped at `clip`, the stage's regression weights and the number
    /// of clipped rows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        method: Method,
        treatment: ArrayView1<f64>,
        propensity: ArrayView1<f64>,
        regression_weights: ArrayView1<f64>,
        kept: &[bool],
        clip: f64,
        clipped: usize,
        constant_propensity: bool,
    ) -> Self {
        let rows: Vec<usize> = (0..kept.len()).filter(|&k| kept[k]).collect();
        let t = treatment.select(Axis(0), &rows);
        let p = propensity.select(Axis(0), &rows);
        let (factors, stage_weights) = match method {
            Method::DrLearner => {
                let a = pseudo::dr_residual_weights(t.view(), p.view());
                (a.clone(), a)
            }
            _ => (
                pseudo::r_residual_factors(t.view(), p.view()),
                regression_weights.select(Axis(0), &rows),
            ),
        };
        let max_weight = factors.iter().fold(0.0, |m: f64, &v| m.max(v));
        let effective_rows = pseudo::kish_effective_size(stage_weights.view());
        let clipped_fraction = clipped as f64 / kept.len().max(1) as f64;
        let at_clip: f64 = p
            .iter()
            .zip(&stage_weights)
            .filter(|(&p, _)| p == clip || p == 1.0 - clip)
            .map(|(_, &w)| w)
            .sum();
        let total = stage_weights.sum();
        let clipped_weight_share = if total > 0.0 { at_clip / total } else { 0.0 };
        let dominated = clipped_weight_share > DOMINATED_CLIPPED_SHARE
            || (method == Method::DrLearner
                && effective_rows < DOMINATED_EFFECTIVE_FRACTION * rows.len() as f64);
        Self {
            clipped_fraction,
            max_weight,
            effective_rows,
            clipped_weight_share,
            rows: rows.len(),
            dominated,
            constant_propensity,
        }
    }
}

impl Diagnostics {
    /// Flat name → value map for study records.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut map = self.learners.clone();
        map.insert("kappa".into(), self.kappa);
        map.insert("folds".into(), self.folds as f64);
        map.insert("clipped".into(), self.clipped as f64);
        map.insert("trimmed".into(), self.trimmed as f64);
        map.insert("scale".into(), self.scale);
        map.insert("propensity_min".into(), self.propensity_range.0);
        map.insert("propensity_max".into(), self.propensity_range.1);
        if let Some(stage) = self.bias_stage.as_ref().filter(|s| !s.constant_propensity) {
            map.insert("bias_stage.clipped_fraction".into(), stage.clipped_fraction);
            map.insert("bias_stage.max_weight".into(), stage.max_weight);
            map.insert("bias_stage.effective_rows".into(), stage.effective_rows);
            map.insert(
                "bias_stage.clipped_weight_share".into(),
                stage.clipped_weight_share,
            );
            map.insert(
                "bias_stage.dominated".into(),
                if stage.dominated { 1.0 } else { 0.0 },
            );
        }
        for (name, value) in &self.truncation {
            // `overlap.alpha` → `truncate.alpha`: the learner's region, apart
            // from the inference targets' `overlap.*`.
            let key = name.replacen("overlap.", "truncate.", 1);
            map.insert(key, *value);
        }
        if self.correction.is_some() {
            map.insert(
                "out_of_bag_fallback".into(),
                self.out_of_bag_fallback as f64,
            );
        }
        map
    }

    pub(crate) fn record(&mut self, role: Role, model: &dyn Predict) {
        for (name, value) in model.diagnostics().entries() {
            self.learners
                .insert(format!("{}.{}", role.label(), name), value);
        }
    }

    pub(crate) fn record_folds(&mut self, role: Role, per_fold: &[LearnerDiagnostics]) {
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for fold in per_fold {
            for (name, value) in fold.entries() {
                let entry = sums
                    .entry(format!("{}.{}.mean", role.label(), name))
                    .or_default();
                entry.0 += value;
                entry.1 += 1;
            }
        }
        for (name, (sum, count)) in sums {
            self.learners.insert(name, sum / count as f64);
        }
    }
}
