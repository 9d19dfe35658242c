//! The fitted forest: averaged tree predictions and out-of-bag bookkeeping.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand::RngExt;

use super::super::tree::{sum_over_trees, BinnedMatrix, Tree};
use super::super::{LearnerDiagnostics, Predict};
use crate::rng::{derive_seed, rng_from_seed};

/// Bootstrap multiplicities: `n` uniform draws with replacement. These are the
/// first draws of a tree's stream, so they can be replayed for OOB bookkeeping.
pub(super) fn bootstrap_counts(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Vec<u32> {
    let mut counts = vec![0u32; n];
    for _ in 0..n {
        counts[rng.random_range(0..n)] += 1;
    }
    counts
}

/// A fitted random forest. Its serialized form leaves out the out-of-bag
/// predictions of the training rows.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forest {
    pub(super) trees: Vec<Tree>,
    pub(super) n_features: usize,
    pub(super) unit_interval: bool,
    #[serde(skip)]
    pub(super) oob: Option<Array1<f64>>,
    pub(super) oob_fallback_rows: usize,
}

impl Forest {
    pub(super) fn compute_oob(&mut self, binned: &BinnedMatrix, seed: u64, n: usize) {
        let mut sum = vec![0.0; n];
        let mut votes = vec![0u32; n];
        for (index, tree) in self.trees.iter().enumerate() {
            let mut rng = rng_from_seed(derive_seed(seed, &[index as u64]));
            let counts = bootstrap_counts(&mut rng, n);
            for (row, _) in counts.iter().enumerate().filter(|(_, &c)| c == 0) {
                sum[row] += tree.predict_binned(binned, row);
                votes[row] += 1;
            }
        }
        let mut fallback = 0;
        let oob = Array1::from_shape_fn(n, |row| {
            if votes[row] > 0 {
                self.finish(sum[row] / votes[row] as f64)
            } else {
                fallback += 1;
                let total: f64 = self
                    .trees
                    .iter()
                    .map(|t| t.predict_binned(binned, row))
                    .sum();
                self.finish(total / self.trees.len() as f64)
            }
        });
        self.oob = Some(oob);
        self.oob_fallback_rows = fallback;
    }

    fn finish(&self, value: f64) -> f64 {
        if self.unit_interval {
            value.clamp(0.0, 1.0)
        } else {
            value
        }
    }

    /// Out-of-bag prediction for every training row, in training order (`None`
    /// when the forest was grown without bootstrap). Rows that were in every
    /// tree's bootstrap sample get the full forest prediction instead; see
    /// [`Forest::oob_fallback_rows`].
    pub fn oob_predictions(&self) -> Option<ArrayView1<'_, f64>> {
        self.oob.as_ref().map(|o| o.view())
    }

    /// Training rows that no tree left out of bag (their OOB prediction is the
    /// full prediction).
    pub fn oob_fallback_rows(&self) -> usize {
        self.oob_fallback_rows
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Mean number of leaves per tree.
    pub fn mean_leaves(&self) -> f64 {
        self.trees.iter().map(|t| t.n_leaves() as f64).sum::<f64>() / self.trees.len() as f64
    }

    /// Depth of the deepest tree.
    pub fn max_depth_reached(&self) -> usize {
        self.trees.iter().map(Tree::depth).max().unwrap_or(0)
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Consistency of a model read from a file.
    pub(crate) fn check_consistent(&self) -> std::result::Result<(), String> {
        if self.trees.is_empty() {
            return Err("a forest needs at least one tree".into());
        }
        for (index, tree) in self.trees.iter().enumerate() {
            tree.check_consistent(self.n_features)
                .map_err(|e| format!("tree {index}: {e}"))?;
        }
        Ok(())
    }

    /// The trees, in growing order (for the router file).
    pub(crate) fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// Whether predictions are clamped to `[0, 1]`.
    pub(crate) fn unit_interval(&self) -> bool {
        self.unit_interval
    }

    /// A forest read from a router file (no out-of-bag predictions); check
    /// it with [`Forest::check_consistent`].
    pub(crate) fn from_saved(
        trees: Vec<Tree>,
        n_features: usize,
        unit_interval: bool,
        oob_fallback_rows: usize,
    ) -> Self {
        Forest {
            trees,
            n_features,
            unit_interval,
            oob: None,
            oob_fallback_rows,
        }
    }

    /// Predictions of each tree for one row (for tests and diagnostics).
    #[doc(hidden)]
    pub fn tree_predictions(&self, row: &[f64]) -> Vec<f64> {
        self.trees.iter().map(|t| t.predict_row(row)).collect()
    }
}

impl Predict for Forest {
    #[track_caller]
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        assert_eq!(
            x.ncols(),
            self.n_features,
            "forest fitted on {} features, asked to predict with {}",
            self.n_features,
            x.ncols()
        );
        let scale = 1.0 / self.trees.len() as f64;
        sum_over_trees(&self.trees, x)
            .into_iter()
            .map(|sum| self.finish(sum * scale))
            .collect()
    }

    fn diagnostics(&self) -> LearnerDiagnostics {
        LearnerDiagnostics {
            trees: Some(self.n_trees()),
            mean_leaves: Some(self.mean_leaves()),
            max_depth_reached: Some(self.max_depth_reached()),
            oob_fallback_rows: Some(self.oob_fallback_rows),
            ..LearnerDiagnostics::default()
        }
    }

    fn out_of_bag(&self) -> Option<Array1<f64>> {
        self.oob.clone()
    }
}
