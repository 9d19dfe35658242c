//! Weighted standardization and basis expansions (linear, degree-2 polynomial, random Fourier features).
//!
//! # Model
//! Raw inputs `x ∈ R^d` are first standardized with the *weighted* mean and
//! standard deviation of the training rows, `z_j = (x_j − m_j) / s_j` with
//! `m_j = Σ w_i x_ij / Σ w_i` and `s_j² = Σ w_i (x_ij − m_j)² / Σ w_i`; a column
//! whose sd is zero (below `1e-10 · (1 + |m_j|)`, i.e. constant up to rounding)
//! maps to 0. A [`Basis`] then expands `z` into features `φ(z)`:
//! - `linear`: `φ = z` (`d` columns);
//! - `poly2`: `z_1..z_d`, then the squares `z_1²..z_d²`, then the products
//!   `z_j z_k` for `j < k` in lexicographic order (`2d + d(d−1)/2` columns);
//! - `rff`: random Fourier features `φ_k = sqrt(2/D) cos(zᵀω_k + b_k)`,
//!   `k = 1..D`, with `ω_k ~ N(0, I/h²)`, `b_k ~ U[0, 2π)`, approximating the
//!   Gaussian kernel `exp(−‖z − z'‖² / (2h²))`. The bandwidth `h` is the median
//!   heuristic ([`median_heuristic`]) on the standardized training inputs.
//!
//! Finally every feature column is standardized again with the weighted mean
//! and sd of the training rows (same zero-sd rule), so penalties act on a
//! common scale and features are weighted-centred.
//!
//! # Algorithm
//! Random draws come from [`crate::rng::rng_from_seed`]`(seed)` in a fixed
//! order: for each feature `k = 1..D`, the `d` entries of `ω_k` (standard normal
//! divided by `h`); then the `D` offsets `b_k`. Standardization and expansion
//! cost `O(N·p)` for `p` output columns.
//!
//! # References
//! - Rahimi & Recht (2007), "Random features for large-scale kernel machines", NeurIPS.
//! - Garreau, Jitkrittum & Kanagawa (2017), "Large sample analysis of the median heuristic", arXiv:1707.07269.
//!
//! # Example
//! ```
//! use meta_router_core::learners::basis::{Basis, BasisExpansion};
//! use ndarray::{array, Array1};
//!
//! let x = array![[1.0, 10.0], [2.0, 20.0], [4.0, 15.0]];
//! let w = Array1::ones(3);
//! let (expansion, features) = BasisExpansion::fit(Basis::Poly2, 0, x.view(), w.view(), 7);
//! assert_eq!(features.ncols(), 5); // 2 linear, 2 squares, 1 product
//! // Transforming the training inputs reproduces the training features.
//! let again = expansion.transform(x.view());
//! assert!((&again - &features).iter().all(|v| v.abs() < 1e-12));
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::rng::rng_from_seed;

/// Rows used by the median heuristic at most (an evenly spaced, deterministic
/// subsample of the rows with positive weight).
pub const MEDIAN_HEURISTIC_ROWS: usize = 1000;

/// A basis expansion of standardized inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The standardized inputs themselves.
    #[default]
    Linear,
    /// Linear terms, squares and pairwise products.
    Poly2,
    /// Random Fourier features for the Gaussian kernel.
    Rff,
}

impl Basis {
    /// Name as written in configuration files.
    pub fn name(self) -> &'static str {
        match self {
            Basis::Linear => "linear",
            Basis::Poly2 => "poly2",
            Basis::Rff => "rff",
        }
    }
}

/// Weighted column standardization `(x − mean) / scale`; a column with zero
/// scale maps to 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standardizer {
    /// Weighted column means.
    pub mean: Array1<f64>,
    /// Weighted column standard deviations (divisor `Σw`); 0 marks a constant column.
    pub scale: Array1<f64>,
}

impl Standardizer {
    /// Weighted means and sds of the columns of `x`. `weights` must be
    /// non-negative with a positive sum (as checked by
    /// [`crate::learners::check_training`]).
    pub fn fit(x: ArrayView2<f64>, weights: ArrayView1<f64>) -> Self {
        let total: f64 = weights.sum();
        let cols = x.ncols();
        // Row-wise two-pass accumulation (cache-friendly for row-major input),
        // on plain slices so that the inner loops vectorize.
        let mut mean = vec![0.0; cols];
        for (row, &w) in x.rows().into_iter().zip(weights) {
            if w != 0.0 {
                with_slice(row, |row| {
                    for (acc, v) in mean.iter_mut().zip(row) {
                        *acc += w * v;
                    }
                });
            }
        }
        let mean = Array1::from(mean) / total;
        let mut variance = vec![0.0; cols];
        let centre = mean.as_slice().expect("owned vector");
        for (row, &w) in x.rows().into_iter().zip(weights) {
            if w != 0.0 {
                with_slice(row, |row| {
                    for ((acc, v), m) in variance.iter_mut().zip(row).zip(centre) {
                        *acc += w * (v - m) * (v - m);
                    }
                });
            }
        }
        let scale = Array1::from_iter(variance.iter().zip(&mean).map(|(var, m)| {
            let sd = (var / total).sqrt();
            if sd > 1e-10 * (1.0 + m.abs()) {
                sd
            } else {
                0.0
            }
        }));
        Self { mean, scale }
    }

    /// Standardizes `x` in place. Panics if the column count differs.
    #[track_caller]
    pub fn apply_inplace(&self, x: &mut Array2<f64>) {
        assert_eq!(
            x.ncols(),
            self.mean.len(),
            "standardizer: wrong column count"
        );
        let inverse = self.inverse_scale();
        let mean = self.mean.to_vec();
        let apply = |row: &mut [f64]| {
            for ((v, m), r) in row.iter_mut().zip(&mean).zip(&inverse) {
                *v = (*v - m) * r;
            }
        };
        match x.as_slice_mut() {
            Some(all) if !mean.is_empty() => all.chunks_exact_mut(mean.len()).for_each(apply),
            _ => {
                // Any other layout: column by column, the same operation per element.
                for ((mut column, m), r) in x.columns_mut().into_iter().zip(&mean).zip(&inverse) {
                    column.mapv_inplace(|v| (v - m) * r);
                }
            }
        }
    }

    /// Consistency of a standardizer read from a file: equal lengths,
    /// finite means, finite non-negative scales.
    pub(crate) fn check_consistent(&self, what: &str) -> std::result::Result<(), String> {
        crate::checks::same_len(&format!("{what} scale"), self.mean.len(), self.scale.len())?;
        crate::checks::all_finite(&format!("{what} mean"), &self.mean)?;
        if self.scale.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
            return Err(format!("{what} scale must be finite and >= 0"));
        }
        Ok(())
    }

    /// Standardized copy of `x`. Panics if the column count differs.
    #[track_caller]
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = x.to_owned();
        self.apply_inplace(&mut out);
        out
    }

    /// `1/scale`, with 0 for constant columns.
    fn inverse_scale(&self) -> Vec<f64> {
        self.scale
            .iter()
            .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
            .collect()
    }
}

/// Calls `f` with the row as a contiguous slice (copying it when it is strided).
fn with_slice(row: ArrayView1<f64>, f: impl FnOnce(&[f64])) {
    match row.as_slice() {
        Some(slice) => f(slice),
        None => f(&row.to_vec()),
    }
}

/// Median of the pairwise Euclidean distances between rows of `z` with positive
/// weight (at most [`MEDIAN_HEURISTIC_ROWS`] rows, evenly spaced, are used).
/// Returns 1 when fewer than two rows remain or every distance is zero.
pub fn median_heuristic(z: ArrayView2<f64>, weights: ArrayView1<f64>) -> f64 {
    let positive: Vec<usize> = (0..z.nrows()).filter(|&i| weights[i] > 0.0).collect();
    let rows: Vec<usize> = if positive.len() > MEDIAN_HEURISTIC_ROWS {
        (0..MEDIAN_HEURISTIC_ROWS)
            .map(|k| positive[k * positive.len() / MEDIAN_HEURISTIC_ROWS])
            .collect()
    } else {
        positive
    };
    // Each distance sums (p − q)² over the columns in order, exactly as a
    // row-by-row loop would; the loops run column-wise over all partners of
    // a row at once (contiguous, so they vectorize) instead of pair by pair.
    let m = rows.len();
    let d = z.ncols();
    let mut columns = vec![0.0; m * d];
    for (a, &i) in rows.iter().enumerate() {
        for (k, &v) in z.row(i).iter().enumerate() {
            columns[k * m + a] = v;
        }
    }
    let mut distances = Vec::with_capacity(m * m.saturating_sub(1) / 2);
    let mut sums = vec![0.0; m];
    for a in 0..m {
        let partners = &mut sums[..m - a - 1];
        partners.fill(0.0);
        for column in columns.chunks_exact(m) {
            let p = column[a];
            for (sum, &q) in partners.iter_mut().zip(&column[a + 1..]) {
                *sum += (p - q) * (p - q);
            }
        }
        distances.extend(partners.iter().map(|s| s.sqrt()));
    }
    if distances.is_empty() {
        return 1.0;
    }
    let k = distances.len();
    let (below, &mut upper, _) = distances.select_nth_unstable_by(k / 2, f64::total_cmp);
    let median = if k % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    };
    if median > 0.0 {
        median
    } else {
        1.0
    }
}

/// Weighted median heuristic: the median of `‖Z − Z'‖` for `Z, Z'` drawn
/// independently from the weighted empirical distribution of the rows of `z`
/// (row `i` with probability `w_i / Σw`). So a pair `i ≠ j` has mass
/// `2 w_i w_j` and distance 0 has mass `Σ w_i²` (a row drawn twice); the
/// result depends on the weights only through that distribution, so a weight
/// of 2 is the same as two copies of a row (the lower weighted median is
/// taken). At most [`MEDIAN_HEURISTIC_ROWS`] evenly spaced rows with positive
/// weight are used. Returns 1 when the median is 0 (fewer than two distinct
/// rows, or most of the mass on one point).
pub fn weighted_median_distance(z: ArrayView2<f64>, weights: ArrayView1<f64>) -> f64 {
    let positive: Vec<usize> = (0..z.nrows()).filter(|&i| weights[i] > 0.0).collect();
    let rows: Vec<usize> = if positive.len() > MEDIAN_HEURISTIC_ROWS {
        (0..MEDIAN_HEURISTIC_ROWS)
            .map(|k| positive[k * positive.len() / MEDIAN_HEURISTIC_ROWS])
            .collect()
    } else {
        positive
    };
    let mut pairs: Vec<(f64, f64)> = Vec::with_capacity(rows.len() * rows.len() / 2 + 1);
    pairs.push((0.0, rows.iter().map(|&i| weights[i] * weights[i]).sum()));
    for (a, &i) in rows.iter().enumerate() {
        for &j in &rows[a + 1..] {
            let d2: f64 = z
                .row(i)
                .iter()
                .zip(z.row(j))
                .map(|(p, q)| (p - q) * (p - q))
                .sum();
            pairs.push((d2.sqrt(), 2.0 * weights[i] * weights[j]));
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = 0.5 * pairs.iter().map(|p| p.1).sum::<f64>();
    let mut mass = 0.0;
    for &(distance, weight) in &pairs {
        mass += weight;
        if mass >= half {
            return if distance > 0.0 { distance } else { 1.0 };
        }
    }
    1.0
}

/// Random Fourier feature map: `sqrt(2/D) cos(zᵀ ω + b)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FourierMap {
    /// Frequencies, `d × D`.
    omega: Array2<f64>,
    /// Phases, length `D`.
    offset: Array1<f64>,
    /// Bandwidth `h` used to scale the frequencies.
    bandwidth: f64,
}

/// A fitted expansion: input standardizer, basis, and output standardizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasisExpansion {
    basis: Basis,
    input: Standardizer,
    fourier: Option<FourierMap>,
    output: Standardizer,
}

impl BasisExpansion {
    /// Fits the expansion on training rows and returns it with the training
    /// features (weighted-centred, unit weighted sd). `features` is the number
    /// of random Fourier features (used only by [`Basis::Rff`]; at least 1).
    /// Randomness comes only from `seed`.
    pub fn fit(
        basis: Basis,
        features: usize,
        x: ArrayView2<f64>,
        weights: ArrayView1<f64>,
        seed: u64,
    ) -> (Self, Array2<f64>) {
        let input = Standardizer::fit(x, weights);
        let z = input.transform(x);
        let fourier = match basis {
            Basis::Rff => {
                let bandwidth = median_heuristic(z.view(), weights);
                Some(draw_fourier(z.ncols(), features.max(1), bandwidth, seed))
            }
            _ => None,
        };
        let raw = expand(basis, fourier.as_ref(), z);
        let output = Standardizer::fit(raw.view(), weights);
        let mut phi = raw;
        output.apply_inplace(&mut phi);
        (
            Self {
                basis,
                input,
                fourier,
                output,
            },
            phi,
        )
    }

    /// Features of new rows. Panics if `x` has the wrong number of columns.
    #[track_caller]
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        assert_eq!(
            x.ncols(),
            self.input_dim(),
            "basis expansion: expected {} input columns, got {}",
            self.input_dim(),
            x.ncols()
        );
        let z = self.input.transform(x);
        let mut phi = expand(self.basis, self.fourier.as_ref(), z);
        self.output.apply_inplace(&mut phi);
        phi
    }

    /// Number of raw input columns.
    pub fn input_dim(&self) -> usize {
        self.input.mean.len()
    }

    /// Number of output features.
    pub fn output_dim(&self) -> usize {
        self.output.mean.len()
    }

    /// The basis.
    pub fn basis(&self) -> Basis {
        self.basis
    }

    /// Consistency of an expansion read from a file: the standardizers, the
    /// output width the basis implies, the random-feature map's shapes.
    pub(crate) fn check_consistent(&self) -> std::result::Result<(), String> {
        self.input.check_consistent("input standardizer")?;
        self.output.check_consistent("output standardizer")?;
        let d = self.input_dim();
        let expected = match (self.basis, &self.fourier) {
            (Basis::Linear, None) => d,
            (Basis::Poly2, None) => 2 * d + d * d.saturating_sub(1) / 2,
            (Basis::Rff, Some(map)) => {
                let count = map.offset.len();
                if map.omega.dim() != (d, count) || count == 0 {
                    return Err(format!(
                        "random-feature frequencies are {:?}, expected ({d}, {count}) with {count} > 0",
                        map.omega.dim()
                    ));
                }
                crate::checks::all_finite("random-feature frequencies", &map.omega)?;
                crate::checks::all_finite("random-feature phases", &map.offset)?;
                count
            }
            (basis, _) => {
                return Err(format!(
                    "basis {} {} random-feature map",
                    basis.name(),
                    if self.fourier.is_some() {
                        "must not carry a"
                    } else {
                        "needs its"
                    }
                ))
            }
        };
        crate::checks::same_len("output standardizer", expected, self.output_dim())
    }

    /// The random-feature bandwidth `h` (only for [`Basis::Rff`]).
    pub fn bandwidth(&self) -> Option<f64> {
        self.fourier.as_ref().map(|f| f.bandwidth)
    }
}

fn draw_fourier(dim: usize, count: usize, bandwidth: f64, seed: u64) -> FourierMap {
    let mut rng = rng_from_seed(seed);
    let mut omega = Array2::<f64>::zeros((dim, count));
    for k in 0..count {
        for j in 0..dim {
            let draw: f64 = StandardNormal.sample(&mut rng);
            omega[[j, k]] = draw / bandwidth;
        }
    }
    let offset: Array1<f64> = (0..count)
        .map(|_| rng.random_range(0.0..std::f64::consts::TAU))
        .collect();
    FourierMap {
        omega,
        offset,
        bandwidth,
    }
}

fn expand(basis: Basis, fourier: Option<&FourierMap>, z: Array2<f64>) -> Array2<f64> {
    match basis {
        Basis::Linear => z,
        Basis::Poly2 => {
            let (n, d) = z.dim();
            let p = 2 * d + d * d.saturating_sub(1) / 2;
            let mut out = Array2::<f64>::zeros((n, p));
            for (i, row) in z.rows().into_iter().enumerate() {
                let mut c = 0;
                for &v in row {
                    out[[i, c]] = v;
                    c += 1;
                }
                for &v in row {
                    out[[i, c]] = v * v;
                    c += 1;
                }
                for j in 0..d {
                    for k in j + 1..d {
                        out[[i, c]] = row[j] * row[k];
                        c += 1;
                    }
                }
            }
            out
        }
        Basis::Rff => {
            let map = fourier.expect("rff basis carries its frequencies");
            let count = map.offset.len();
            let amplitude = (2.0 / count as f64).sqrt();
            let mut projected = crate::linalg::matmul(z.view(), map.omega.view());
            let offset = map.offset.to_vec();
            let features = |row: &mut [f64]| {
                for (v, b) in row.iter_mut().zip(&offset) {
                    *v += b;
                }
                let largest = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                if largest <= crate::numerics::COS_REDUCTION_LIMIT {
                    // The common case, branch-free (vectorizes).
                    for v in row.iter_mut() {
                        *v = amplitude * crate::numerics::cos_reduced(*v);
                    }
                } else {
                    for v in row.iter_mut() {
                        *v = amplitude * crate::numerics::cos(*v);
                    }
                }
            };
            match projected.as_slice_mut() {
                Some(all) if count > 0 => all.chunks_exact_mut(count).for_each(features),
                _ => {
                    for mut row in projected.axis_iter_mut(Axis(0)) {
                        let mut owned = row.to_vec();
                        features(&mut owned);
                        row.assign(&ndarray::ArrayView1::from(&owned[..]));
                    }
                }
            }
            projected
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn weighted_standardization_uses_sum_of_weights() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [7.0, 5.0]];
        let w = array![1.0, 2.0, 1.0];
        let s = Standardizer::fit(x.view(), w.view());
        // mean = (1 + 6 + 7)/4 = 3.5; var = (6.25 + 2·0.25 + 12.25)/4 = 4.75
        assert_relative_eq!(s.mean[0], 3.5, epsilon = 1e-12);
        assert_relative_eq!(s.scale[0], 4.75f64.sqrt(), epsilon = 1e-12);
        assert_eq!(s.scale[1], 0.0);
        let z = s.transform(x.view());
        assert!(z.column(1).iter().all(|&v| v == 0.0));
        assert_relative_eq!(z[[0, 0]], -2.5 / 4.75f64.sqrt(), epsilon = 1e-12);
    }

    #[test]
    fn poly2_columns_are_in_documented_order() {
        let x = array![[1.0, 2.0, 3.0], [0.0, -1.0, 1.0], [2.0, 0.5, -2.0]];
        let z = Standardizer::fit(x.view(), Array1::ones(3).view()).transform(x.view());
        let raw = expand(Basis::Poly2, None, z.clone());
        assert_eq!(raw.ncols(), 9);
        for i in 0..3 {
            let r = z.row(i);
            let expected = [
                r[0],
                r[1],
                r[2],
                r[0] * r[0],
                r[1] * r[1],
                r[2] * r[2],
                r[0] * r[1],
                r[0] * r[2],
                r[1] * r[2],
            ];
            for (c, e) in expected.iter().enumerate() {
                assert_relative_eq!(raw[[i, c]], *e, epsilon = 1e-14);
            }
        }
    }

    #[test]
    fn output_features_are_weighted_standardized() {
        let x = array![[1.0, 2.0], [0.0, -1.0], [2.0, 0.5], [3.0, 3.0], [-1.0, 0.0]];
        let w = array![1.0, 0.5, 2.0, 1.0, 3.0];
        for basis in [Basis::Linear, Basis::Poly2, Basis::Rff] {
            let (_, phi) = BasisExpansion::fit(basis, 20, x.view(), w.view(), 3);
            for column in phi.columns() {
                let mean: f64 = column.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>() / w.sum();
                let var: f64 = column.iter().zip(&w).map(|(v, w)| w * v * v).sum::<f64>() / w.sum();
                assert_relative_eq!(mean, 0.0, epsilon = 1e-12);
                assert!(
                    (var - 1.0).abs() < 1e-10 || var == 0.0,
                    "{basis:?}: var {var}"
                );
            }
        }
    }

    #[test]
    fn median_heuristic_on_a_line() {
        let z = array![[0.0], [1.0], [3.0]];
        // distances 1, 3, 2 → median 2
        assert_relative_eq!(median_heuristic(z.view(), Array1::ones(3).view()), 2.0);
        // zero-weight rows are ignored: only rows 0 and 1 → distance 1
        let w = array![1.0, 1.0, 0.0];
        assert_relative_eq!(median_heuristic(z.view(), w.view()), 1.0);
        assert_eq!(
            median_heuristic(array![[2.0], [2.0]].view(), Array1::ones(2).view()),
            1.0
        );
    }

    #[test]
    fn rff_frequencies_follow_the_bandwidth() {
        let map = draw_fourier(2, 2000, 4.0, 11);
        let sd = (map.omega.iter().map(|v| v * v).sum::<f64>() / 4000.0).sqrt();
        assert!((sd - 0.25).abs() < 0.02, "frequency sd {sd}");
        assert!(map
            .offset
            .iter()
            .all(|&b| (0.0..std::f64::consts::TAU).contains(&b)));
        assert_eq!(map, draw_fourier(2, 2000, 4.0, 11));
        assert_ne!(map.omega, draw_fourier(2, 2000, 4.0, 12).omega);
    }
}
