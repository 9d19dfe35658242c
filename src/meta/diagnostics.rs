//! Non-fatal facts of a fit, and the learner roles that name them.
//!
//! Learner seeds are derived from the fit's learner seed and the role's fixed
//! id (and the fold), so adding a role never changes another role's seed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::Correction;
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
    /// Learner diagnostics, named `role.name` (`final.penalty`); for
    /// out-of-fold fits the mean over folds, named `role.name.mean`.
    pub learners: BTreeMap<String, f64>,
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
