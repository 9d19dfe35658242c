//! Typed diagnostics of a fitted learner.
//!
//! Each fact a learner reports has a named field; a field is `None` when the
//! learner has no such fact (a forest has no penalty). The struct serializes
//! by field name, skipping the absent ones, and [`LearnerDiagnostics::entries`]
//! flattens it to the `name → value` pairs that study records store (booleans
//! as 1/0, counts as floats).

use serde::Serialize;

/// Non-fatal facts of a fitted learner (chosen penalty, solver path,
/// iterations, …).
///
/// ```
/// use meta_router_core::learners::LearnerDiagnostics;
///
/// let d = LearnerDiagnostics { penalty: Some(0.5), svd: Some(false), ..Default::default() };
/// assert_eq!(d.entries(), vec![("penalty", 0.5), ("svd", 0.0)]);
/// assert_eq!(d.get("penalty"), Some(0.5));
/// assert_eq!(d.get("loo"), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LearnerDiagnostics {
    /// The penalty λ used (chosen by the penalty rule, or fixed): ridge,
    /// kernel ridge, logistic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f64>,
    /// Diagonal jitter a Cholesky fallback added (0 when none was needed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    /// Effective degrees of freedom `tr(H)` at the chosen penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub df: Option<f64>,
    /// Generalized cross-validation score at the chosen penalty (GCV rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcv: Option<f64>,
    /// Weighted leave-one-out error at the chosen penalty (LOO rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loo: Option<f64>,
    /// Estimated condition number of the penalized system that was solved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<f64>,
    /// Whether the ridge fit came from the SVD path (else the Gram path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svd: Option<bool>,
    /// Kernel or random-Fourier bandwidth used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<f64>,
    /// The bandwidth as a multiple of the median pairwise distance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth_multiple: Option<f64>,
    /// Newton iterations (logistic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iterations: Option<usize>,
    /// Final gradient norm, scaled by the data (logistic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gradient_norm: Option<f64>,
    /// Final penalized objective (logistic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    /// Trees in a forest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trees: Option<usize>,
    /// Deepest leaf of a forest's trees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth_reached: Option<usize>,
    /// Training rows never out of bag in a bootstrap forest (their out-of-bag
    /// prediction falls back to the full one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oob_fallback_rows: Option<usize>,
    /// Boosting rounds grown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Mean leaves per tree (forest or boosting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_leaves: Option<f64>,
}

impl LearnerDiagnostics {
    /// The present facts as `(name, value)` pairs, in field order; the names
    /// are the field names.
    pub fn entries(&self) -> Vec<(&'static str, f64)> {
        let count = |v: Option<usize>| v.map(|n| n as f64);
        let flag = |v: Option<bool>| v.map(|b| if b { 1.0 } else { 0.0 });
        [
            ("penalty", self.penalty),
            ("jitter", self.jitter),
            ("df", self.df),
            ("gcv", self.gcv),
            ("loo", self.loo),
            ("condition", self.condition),
            ("svd", flag(self.svd)),
            ("bandwidth", self.bandwidth),
            ("bandwidth_multiple", self.bandwidth_multiple),
            ("iterations", count(self.iterations)),
            ("gradient_norm", self.gradient_norm),
            ("objective", self.objective),
            ("trees", count(self.trees)),
            ("max_depth_reached", count(self.max_depth_reached)),
            ("oob_fallback_rows", count(self.oob_fallback_rows)),
            ("rounds", count(self.rounds)),
            ("mean_leaves", self.mean_leaves),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
    }

    /// The value of the fact `name` as it appears in [`entries`](Self::entries).
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }
}
