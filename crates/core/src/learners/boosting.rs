//! Second-order gradient boosting (XGBoost-style) with sample weights.
//!
//! # Model
//! `F(s) = F₀ + η Σ_{r<R} T_r(s)`, a sum of shallow regression trees. `fit` uses the
//! squared loss `ℓ(y, F) = ½(y − F)²` and predicts `F`; `fit_probability` uses the
//! logistic loss `ℓ(t, F) = −t log σ(F) − (1 − t) log(1 − σ(F))` and predicts
//! `σ(F) ∈ [0, 1]`. The weighted objective is `Σ_i w_i ℓ(y_i, F(s_i))` plus
//! `½ λ Σ_leaves v²`.
//!
//! # Algorithm
//! 1. `F₀` = weighted mean of `y` (squared) or the logit of the weighted mean of
//!    `t`, clipped to `[1e-6, 1 − 1e-6]` (logistic).
//! 2. For round `r = 0..R`: gradients `g_i = F_i − y_i`, hessians `h_i = 1`
//!    (squared) or `g_i = σ(F_i) − t_i`, `h_i = max(σ(F_i)(1 − σ(F_i)), 1e-16)`
//!    (logistic); weights multiply both, `G_i = w_i g_i`, `H_i = w_i h_i`. With
//!    `subsample < 1`, each row joins the round with probability `subsample`,
//!    drawn from `rng_from_seed(derive_seed(seed, &[r]))`.
//! 3. Grow a tree on the features binned once per fit (≤ 256 bins, as the
//!    forest) to `max_depth`, splitting where the gain
//!    `G_L²/(H_L + λ) + G_R²/(H_R + λ) − G²/(H + λ)` is largest and both children
//!    keep `Σ H ≥ min_child_weight`; a leaf's value is `−G/(H + λ)`.
//! 4. `F ← F + η T_r`.
//!
//! Every node examines every feature, so a child's histograms are its parent's
//! minus its sibling's and only the smaller child is built from rows; this cut
//! the fit at `N = 50 000`, `d = 50` from 7.3 s to 2.4 s (criterion medians on
//! a loaded 2-core machine).
//!
//! `min_child_weight` and `λ` are on the scale of `Σ w h`, as in XGBoost: with
//! weights far below 1 (the R-learner's `(t − p̂)²`), rescale the weights or
//! lower both, or no split will pass.
//!
//! # References
//! - T. Chen, C. Guestrin (2016), "XGBoost: a scalable tree boosting system", KDD
//!   (second-order gain, `λ`, `min_child_weight`, the defaults used here).
//! - J. Friedman (2001), "Greedy function approximation: a gradient boosting machine",
//!   *Annals of Statistics* 29, 1189–1232.
//!
//! # Example
//! ```
//! use meta_router_core::learners::{BoostingParams, Learner};
//! use ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((300, 2), |(i, j)| ((i * (j + 5)) % 31) as f64 / 31.0);
//! let t: Array1<f64> = x.column(0).mapv(|v| if v > 0.5 { 1.0 } else { 0.0 });
//! let params = BoostingParams { rounds: 30, ..BoostingParams::default() };
//! let model = params.fit_probability(x.view(), t.view(), None, 3)?;
//! let p = model.predict(x.view());
//! assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
//! assert!(p[0] < 0.1); // x₀ = 0 → t = 0
//! # Ok::<(), meta_router_core::Error>(())
//! ```

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::tree::{grow_in, sum_over_trees, BinnedMatrix, GrowRules, RowStats, Tree, Workspace};
use super::{check_training, FittedModel, Learner, LearnerDiagnostics, Predict};
use crate::checks::check_binary;
use crate::error::{Error, Result};
use crate::numerics::sigmoid;
use crate::rng::{derive_seed, rng_from_seed};

/// Gradient boosting hyper-parameters (`{ type = "boosting", … }`), XGBoost's
/// defaults.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `rounds` | 100 | number of trees | ≥ 1 |
/// | `learning_rate` | 0.3 | shrinkage `η` of each tree | (0, 1] |
/// | `max_depth` | 6 | depth of each tree | ≥ 1 |
/// | `subsample` | 1 | fraction of rows drawn for each round | (0, 1] |
/// | `min_child_weight` | 1 | least `Σ w h` in each child | ≥ 0 |
/// | `lambda` | 1 | L2 penalty on leaf values | ≥ 0 |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BoostingParams {
    /// Boosting rounds (trees).
    pub rounds: usize,
    /// Shrinkage applied to each tree.
    pub learning_rate: f64,
    /// Depth of each tree.
    pub max_depth: usize,
    /// Probability that a row takes part in a round.
    pub subsample: f64,
    /// Minimum hessian mass `Σ w h` in each child.
    pub min_child_weight: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
}

impl Default for BoostingParams {
    fn default() -> Self {
        BoostingParams {
            rounds: 100,
            learning_rate: 0.3,
            max_depth: 6,
            subsample: 1.0,
            min_child_weight: 1.0,
            lambda: 1.0,
        }
    }
}

/// Which loss a boosted model was fitted with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Loss {
    Squared,
    Logistic,
}

impl BoostingParams {
    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<()> {
        if self.rounds == 0 {
            return Err(Error::param(
                "rounds",
                0,
                "boosting needs at least one round",
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(Error::param(
                "learning_rate",
                self.learning_rate,
                "the learning rate must lie in (0, 1]",
            ));
        }
        if self.max_depth == 0 {
            return Err(Error::param("max_depth", 0, "depth must be at least 1"));
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return Err(Error::param(
                "subsample",
                self.subsample,
                "the subsample fraction must lie in (0, 1]",
            ));
        }
        if !(self.min_child_weight >= 0.0 && self.min_child_weight.is_finite()) {
            return Err(Error::param(
                "min_child_weight",
                self.min_child_weight,
                "must be finite and >= 0",
            ));
        }
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return Err(Error::param(
                "lambda",
                self.lambda,
                "must be finite and >= 0",
            ));
        }
        Ok(())
    }

    /// Fits with the squared loss and returns the concrete model.
    pub fn fit_boosting(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<Boosting> {
        self.fit_inner(x, y, weights, seed, Loss::Squared)
    }

    /// Fits with the logistic loss to a 0/1 target; the model predicts probabilities.
    pub fn fit_probability_boosting(
        &self,
        x: ArrayView2<f64>,
        t: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<Boosting> {
        check_binary(t)?;
        self.fit_inner(x, t, weights, seed, Loss::Logistic)
    }

    fn fit_inner(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
        loss: Loss,
    ) -> Result<Boosting> {
        self.validate()?;
        let w = check_training(x, y, weights)?;
        let (n, d) = x.dim();
        if d == 0 {
            return Err(Error::Empty {
                what: "feature columns".into(),
            });
        }
        let binned = BinnedMatrix::new(x);
        let total_w = w.sum();
        let mean = w.iter().zip(y.iter()).map(|(w, y)| w * y).sum::<f64>() / total_w;
        let base = match loss {
            Loss::Squared => mean,
            Loss::Logistic => {
                let p = mean.clamp(1e-6, 1.0 - 1e-6);
                (p / (1.0 - p)).ln()
            }
        };
        let rules = GrowRules {
            max_depth: self.max_depth,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_child_b: self.min_child_weight,
            lambda: self.lambda,
            max_features: d,
        };
        let mut score = vec![base; n];
        let mut a = vec![0.0; n];
        let mut b = vec![0.0; n];
        let mut trees = Vec::with_capacity(self.rounds);
        let mut workspace = Workspace::new(d);
        for round in 0..self.rounds {
            for i in 0..n {
                let (g, h) = match loss {
                    Loss::Squared => (score[i] - y[i], 1.0),
                    Loss::Logistic => {
                        let p = sigmoid(score[i]);
                        (p - y[i], (p * (1.0 - p)).max(1e-16))
                    }
                };
                a[i] = -w[i] * g;
                b[i] = w[i] * h;
            }
            let rows: Vec<u32> = if self.subsample < 1.0 {
                let mut rng = rng_from_seed(derive_seed(seed, &[round as u64]));
                (0..n as u32)
                    .filter(|&i| rng.random::<f64>() < self.subsample && w[i as usize] > 0.0)
                    .collect()
            } else {
                (0..n as u32).filter(|&i| w[i as usize] > 0.0).collect()
            };
            // Feature sampling is off (max_features = d), so this stream is unused.
            let mut rng = rng_from_seed(derive_seed(seed, &[round as u64, 1]));
            let stats = RowStats { a: &a, b: &b };
            let mut tree = grow_in(&binned, &stats, rows, &rules, &mut rng, &mut workspace);
            tree.shift_scale_leaves(0.0, self.learning_rate);
            for (i, s) in score.iter_mut().enumerate() {
                *s += tree.predict_binned(&binned, i);
            }
            trees.push(tree);
        }
        Ok(Boosting {
            base,
            trees,
            loss,
            n_features: d,
        })
    }
}

/// A fitted boosted ensemble.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boosting {
    base: f64,
    trees: Vec<Tree>,
    loss: Loss,
    n_features: usize,
}

impl Boosting {
    /// The raw score `F(s)` (log-odds for a probability model).
    #[track_caller]
    pub fn raw_score(&self, x: ArrayView2<f64>) -> Array1<f64> {
        assert_eq!(
            x.ncols(),
            self.n_features,
            "boosting fitted on {} features, asked to predict with {}",
            self.n_features,
            x.ncols()
        );
        sum_over_trees(&self.trees, x)
            .into_iter()
            .map(|sum| self.base + sum)
            .collect()
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The base score, the trees, the loss and the feature count (for the
    /// router file).
    pub(crate) fn parts(&self) -> (f64, &[Tree], Loss, usize) {
        (self.base, &self.trees, self.loss, self.n_features)
    }

    /// A model read from a router file; check it with
    /// [`Boosting::check_consistent`].
    pub(crate) fn from_saved(base: f64, trees: Vec<Tree>, loss: Loss, n_features: usize) -> Self {
        Boosting {
            base,
            trees,
            loss,
            n_features,
        }
    }

    /// Consistency of a model read from a file.
    pub(crate) fn check_consistent(&self) -> std::result::Result<(), String> {
        crate::checks::all_finite("base score", [&self.base])?;
        for (index, tree) in self.trees.iter().enumerate() {
            tree.check_consistent(self.n_features)
                .map_err(|e| format!("tree {index}: {e}"))?;
        }
        Ok(())
    }
}

impl Predict for Boosting {
    #[track_caller]
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let raw = self.raw_score(x);
        match self.loss {
            Loss::Squared => raw,
            Loss::Logistic => raw.mapv(sigmoid),
        }
    }

    fn diagnostics(&self) -> LearnerDiagnostics {
        let leaves: usize = self.trees.iter().map(Tree::n_leaves).sum();
        LearnerDiagnostics {
            rounds: Some(self.trees.len()),
            mean_leaves: Some(leaves as f64 / self.trees.len() as f64),
            ..LearnerDiagnostics::default()
        }
    }
}

impl Learner for BoostingParams {
    fn name(&self) -> &'static str {
        "boosting"
    }

    fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel> {
        Ok(FittedModel::Boosting(
            self.fit_boosting(x, y, weights, seed)?,
        ))
    }

    fn fit_probability(
        &self,
        x: ArrayView2<f64>,
        t: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel> {
        Ok(FittedModel::Boosting(
            self.fit_probability_boosting(x, t, weights, seed)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn one_round_stump_matches_the_closed_form() {
        // Squared loss, base = mean 2.5; a stump at x = 1.5 gives leaves
        // −G/(H+λ) = Σ(y − base)/(n + λ) on each side, times η.
        let x = Array2::from_shape_vec((4, 1), vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let y = ndarray::array![1.0, 1.0, 4.0, 4.0];
        let params = BoostingParams {
            rounds: 1,
            learning_rate: 0.5,
            max_depth: 1,
            lambda: 1.0,
            min_child_weight: 0.0,
            subsample: 1.0,
        };
        let model = params.fit_boosting(x.view(), y.view(), None, 0).unwrap();
        let p = model.predict(x.view());
        let left = 2.5 + 0.5 * (2.0 * -1.5) / (2.0 + 1.0);
        let right = 2.5 + 0.5 * (2.0 * 1.5) / (2.0 + 1.0);
        for (got, want) in p.iter().zip([left, left, right, right]) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn weights_scale_gradients_and_hessians() {
        // Weight 3 on a row equals three copies of it (λ = 0, no row rules).
        let x = Array2::from_shape_vec((3, 1), vec![0.0, 1.0, 2.0]).unwrap();
        let y = ndarray::array![0.5, 2.0, 3.25];
        let w = ndarray::array![3.0, 1.0, 1.0];
        let x3 = Array2::from_shape_vec((5, 1), vec![0.0, 0.0, 0.0, 1.0, 2.0]).unwrap();
        let y3 = ndarray::array![0.5, 0.5, 0.5, 2.0, 3.25];
        let params = BoostingParams {
            rounds: 5,
            max_depth: 2,
            lambda: 0.0,
            min_child_weight: 0.0,
            ..BoostingParams::default()
        };
        let weighted = params
            .fit_boosting(x.view(), y.view(), Some(w.view()), 0)
            .unwrap();
        let copied = params.fit_boosting(x3.view(), y3.view(), None, 0).unwrap();
        let (a, b) = (weighted.predict(x.view()), copied.predict(x.view()));
        for (u, v) in a.iter().zip(b.iter()) {
            assert!((u - v).abs() < 1e-12, "{u} vs {v}");
        }
    }
}
