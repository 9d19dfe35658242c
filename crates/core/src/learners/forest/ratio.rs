//! Leaf values as sums of ratio estimators ([`LeafRatios`]).
//!
//! A forest grown on a target `y` predicts the (weighted) mean of `y` in each
//! leaf. Some targets are themselves sums of inverse-probability-weighted
//! terms whose mean over a leaf is better estimated as a *ratio*: the
//! DR-learner's pseudo-outcome `φ = μ̂₁ − μ̂₀ + t(o − μ̂₁)/p̂ − (1 − t)(o − μ̂₀)/(1 − p̂)`
//! averaged over a leaf is a Horvitz–Thompson estimate of the leaf's bias,
//! and scaling each inverse-weighted sum by the leaf's own total inverse
//! weight instead of its row count gives the Hájek (normalised) estimate:
//! with `g` GS rows in a leaf of `m`, the GS term enters as
//! `(Σ_GS (o − μ̂₁)/p̂) / (Σ_GS 1/p̂)` rather than as
//! `(Σ_GS (o − μ̂₁)/p̂) / m`, which is off by the factor `g/(m p̂)` whenever the
//! leaf's GS share differs from `p̂` — a binomial fluctuation of ±45% when a
//! leaf expects 5 GS rows. Both are consistent for the leaf's mean bias when
//! `p̂` is right (and the residual terms vanish when `μ̂` is right), so the
//! estimate stays doubly robust.
//!
//! The trees keep the splits found on `y`; only leaf values change. A term
//! whose denominator is zero in a leaf (no row of that kind in its bag)
//! contributes nothing there: for the DR-learner, a leaf without GS rows
//! keeps the plug-in for that arm, as the Horvitz–Thompson mean does. A leaf
//! where every term is empty keeps its mean of `y`.

use super::super::tree::{BinnedMatrix, Tree};

/// Terms `j` of a leaf value `Σ_j (Σ_leaf c·u_j) / (Σ_leaf c·v_j)` over the
/// training rows, `c` a row's bootstrap count in the tree (1 without
/// bootstrap; 0 for rows of zero sample weight, which the tree does not
/// see). Sample weights, where wanted, belong in `u` and `v`.
#[derive(Debug, Clone, Default)]
pub struct LeafRatios {
    terms: Vec<(Vec<f64>, Vec<f64>)>,
}

impl LeafRatios {
    /// No terms yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a term with per-row numerators `u` and non-negative
    /// denominators `v` (one per training row).
    pub fn term(mut self, u: Vec<f64>, v: Vec<f64>) -> Self {
        debug_assert_eq!(u.len(), v.len());
        self.terms.push((u, v));
        self
    }

    /// Rows the terms cover (0 without terms).
    pub fn rows(&self) -> usize {
        self.terms.first().map_or(0, |(u, _)| u.len())
    }

    /// Overwrites `tree`'s leaf values from its rows' counts `count`.
    pub(crate) fn apply(&self, tree: &mut Tree, binned: &BinnedMatrix, count: &[f64]) {
        let j = self.terms.len();
        if j == 0 {
            return;
        }
        let mut sums = vec![0.0; tree.n_nodes() * 2 * j];
        for (row, &c) in count.iter().enumerate() {
            if c <= 0.0 {
                continue;
            }
            let leaf = tree.leaf_of_binned(binned, row);
            let slot = &mut sums[leaf * 2 * j..(leaf + 1) * 2 * j];
            for (k, (u, v)) in self.terms.iter().enumerate() {
                slot[2 * k] += c * u[row];
                slot[2 * k + 1] += c * v[row];
            }
        }
        tree.set_leaf_values(|leaf| {
            let slot = &sums[leaf * 2 * j..(leaf + 1) * 2 * j];
            let mut value = None;
            for k in 0..j {
                let (num, den) = (slot[2 * k], slot[2 * k + 1]);
                if den > 0.0 {
                    value = Some(value.unwrap_or(0.0) + num / den);
                }
            }
            value
        });
    }
}
