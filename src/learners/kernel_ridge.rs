//! Weighted Gaussian-kernel ridge regression with an exactly unpenalized intercept.
//!
//! # Model
//! Inputs are weighted-standardized (see [`crate::learners::basis::Standardizer`])
//! and compared by the RBF kernel `k(z, z') = exp(−‖z − z'‖² / (2h²))`. With
//! weights `w_i ≥ 0`, `S = Σ w_i`, the fit is
//!
//! `(b̂, f̂) = argmin_{b ∈ R, f ∈ H} (1/S) Σ_i w_i (y_i − b − f(z_i))² + λ‖f‖²_H`.
//!
//! The intercept is outside the RKHS norm, so a constant shift of `y` shifts
//! only `b̂`. The bandwidth `h` is the median heuristic on the standardized
//! inputs ([`crate::learners::basis::median_heuristic`], deterministic
//! subsample) or a fixed number.
//!
//! # Algorithm
//! On the `n₊` rows with positive weight, let `s = W^{1/2} 1`, `Q = I − s sᵀ/S`
//! (the projection removing the intercept direction in the weighted metric)
//! and `K̃ = Q W^{1/2} K W^{1/2} Q`. With `ỹ = W^{1/2}(y − ȳ_w)`, the solution is
//! `f̂(z) = Σ_i α_i k(z, z_i)`, `α = W^{1/2} Q (K̃ + λS I)⁻¹ ỹ`, and
//! `b̂ = Σ w_i (y_i − f̂(z_i)) / S`. This is the dual of ridge regression on the
//! weighted-centred feature map, so the penalty is chosen exactly as in
//! [`crate::learners::ridge`]: one eigendecomposition of `K̃` gives, for every λ
//! on the grid, `RSS(λ) = Σ_j a_j² μ² / (e_j + μ)²` (`a = Uᵀỹ`, `μ = λS`),
//! `df = 1 + Σ e_j/(e_j + μ)` and `GCV = (RSS/S)/(1 − df/n_eff)²`,
//! `n_eff = S²/Σw²`. A fixed penalty uses one Cholesky factorization instead.
//!
//! Cost: `O(n₊²)` memory (a few `n₊ × n₊` matrices; 6000 rows ≈ 0.3 GB each) and
//! `O(n₊³)` time for the eigendecomposition — seconds at 2000 rows, on the
//! order of a minute at 6000 on one core. It suits the gold-standard side of a
//! study (hundreds to a few thousand rows); fits with more than `max_rows`
//! positively weighted rows are refused with [`Error::InvalidParameter`].
//!
//! Diagnostics: `penalty`, `jitter`, `bandwidth`, `df` and `gcv` (a fixed
//! penalty also inverts `K̃ + λS I` for them: another `O(n₊³)`).
//!
//! # References
//! - Schölkopf, Herbrich & Smola (2001), "A generalized representer theorem", COLT
//!   (semiparametric representer theorem: unpenalized offsets).
//! - Golub, Heath & Wahba (1979), generalized cross-validation.
//!
//! # Example
//! ```
//! use meta_router::learners::{KernelRidgeParams, Learner};
//! use ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((80, 1), |(i, _)| i as f64 / 10.0);
//! let y: Array1<f64> = x.column(0).mapv(f64::sin);
//! let fitted = KernelRidgeParams::default().fit(x.view(), y.view(), None, 0).unwrap();
//! let prediction = fitted.predict(x.view());
//! assert!((prediction[40] - y[40]).abs() < 0.05);
//! ```

use std::fmt;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::basis::{median_heuristic, Standardizer};
use super::ridge::{solve_dual, Penalty, PenaltyChoice, PenaltyGrid, WeightedProblem};
use super::{check_training, Learner, Predict};
use crate::error::{Error, Result};
use crate::linalg;

/// Kernel bandwidth: the median heuristic or a fixed positive number.
///
/// In configuration files: the string `"median"` or a number `h > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "BandwidthRepr", into = "BandwidthRepr")]
pub enum Bandwidth {
    /// Median pairwise distance of the standardized training inputs.
    #[default]
    Median,
    /// A fixed `h > 0` (on the standardized scale).
    Fixed(f64),
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bandwidth::Median => write!(f, "median"),
            Bandwidth::Fixed(v) => write!(f, "{v}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum BandwidthRepr {
    Value(f64),
    Name(String),
}

impl TryFrom<BandwidthRepr> for Bandwidth {
    type Error = String;
    fn try_from(repr: BandwidthRepr) -> std::result::Result<Self, String> {
        match repr {
            BandwidthRepr::Value(v) => Ok(Bandwidth::Fixed(v)),
            BandwidthRepr::Name(name) if name == "median" => Ok(Bandwidth::Median),
            BandwidthRepr::Name(name) => Err(format!(
                "bandwidth must be \"median\" or a number, found \"{name}\""
            )),
        }
    }
}

impl From<Bandwidth> for BandwidthRepr {
    fn from(bandwidth: Bandwidth) -> Self {
        match bandwidth {
            Bandwidth::Median => BandwidthRepr::Name("median".into()),
            Bandwidth::Fixed(v) => BandwidthRepr::Value(v),
        }
    }
}

/// Kernel ridge configuration (`{ type = "kernel-ridge", ... }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KernelRidgeParams {
    /// `"gcv"` or a fixed `λ ≥ 0`.
    pub penalty: Penalty,
    /// Grid searched when `penalty = "gcv"`.
    pub penalty_grid: PenaltyGrid,
    /// `"median"` or a fixed bandwidth `h > 0`.
    pub bandwidth: Bandwidth,
    /// Largest number of positively weighted training rows accepted.
    pub max_rows: usize,
}

impl Default for KernelRidgeParams {
    fn default() -> Self {
        Self {
            penalty: Penalty::Gcv,
            penalty_grid: PenaltyGrid::default(),
            bandwidth: Bandwidth::Median,
            max_rows: 6000,
        }
    }
}

impl KernelRidgeParams {
    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<()> {
        self.penalty.validate("penalty")?;
        self.penalty_grid.validate("penalty_grid")?;
        if let Bandwidth::Fixed(h) = self.bandwidth {
            if !(h.is_finite() && h > 0.0) {
                return Err(Error::param("bandwidth", h, "must be finite and > 0"));
            }
        }
        if self.max_rows < 2 {
            return Err(Error::param("max_rows", self.max_rows, "must be >= 2"));
        }
        Ok(())
    }

    /// [`Learner::fit`] returning the concrete fitted type.
    pub fn fit_kernel_ridge(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
    ) -> Result<FittedKernelRidge> {
        self.validate()?;
        let w = check_training(x, y, weights)?;
        let problem = WeightedProblem::new(&w);
        let rows = problem.positive.len();
        if rows > self.max_rows {
            return Err(Error::param(
                "max_rows",
                self.max_rows,
                format!(
                    "kernel ridge is an exact O(N^3) solve; {rows} weighted rows exceed the limit \
                     (raise max_rows, subsample, or use ridge with basis = \"rff\")"
                ),
            ));
        }
        let standardizer = Standardizer::fit(x, w.view());
        let z = standardizer.transform(x.select(Axis(0), &problem.positive).view());
        let bandwidth = match self.bandwidth {
            Bandwidth::Median => median_heuristic(
                z.view(),
                Array1::from(problem.positive_weights.clone()).view(),
            ),
            Bandwidth::Fixed(h) => h,
        };
        let total = problem.total;
        let y_pos: Array1<f64> = problem.positive.iter().map(|&i| y[i]).collect();
        let weights_pos = Array1::from(problem.positive_weights.clone());
        let y_mean = y_pos.dot(&weights_pos) / total;
        let s = Array1::from(problem.sqrt_weights());

        // K̃ = Q S K S Q, built in place.
        let mut kernel = rbf_kernel(z.view(), z.view(), bandwidth);
        for ((i, j), v) in kernel.indexed_iter_mut() {
            *v *= s[i] * s[j];
        }
        let u = linalg::matvec(kernel.view(), s.view()) / total;
        let c = s.dot(&u) / total;
        for ((i, j), v) in kernel.indexed_iter_mut() {
            *v += -u[i] * s[j] - s[i] * u[j] + c * s[i] * s[j];
        }
        let target = &s * &y_pos.mapv(|v| v - y_mean);
        // Numerical rank: K̃ is S K S (trace Σ w_i, as k(z, z) = 1) minus a
        // rank-one term, so eigenvalues below n₊ · ε · Σ w_i are rounding noise.
        let rank_floor = rows as f64 * f64::EPSILON * total;
        let (gamma, choice) = solve_dual(
            kernel,
            target.view(),
            self.penalty,
            &self.penalty_grid,
            &problem,
            rank_floor,
        )?;
        let projected = &gamma - &(&s * (s.dot(&gamma) / total));
        let alpha = &s * &projected;
        let fitted = linalg::matvec(
            rbf_kernel(z.view(), z.view(), bandwidth).view(),
            alpha.view(),
        );
        let intercept = y_mean - fitted.dot(&weights_pos) / total;
        Ok(FittedKernelRidge {
            standardizer,
            centres: z,
            alpha,
            intercept,
            bandwidth,
            choice,
        })
    }
}

/// RBF kernel matrix between the rows of `a` and of `b`.
fn rbf_kernel(a: ArrayView2<f64>, b: ArrayView2<f64>, bandwidth: f64) -> Array2<f64> {
    let norms_a: Array1<f64> = a.rows().into_iter().map(|r| r.dot(&r)).collect();
    let norms_b: Array1<f64> = b.rows().into_iter().map(|r| r.dot(&r)).collect();
    let mut k = linalg::matmul(a, b.t());
    let scale = 1.0 / (2.0 * bandwidth * bandwidth);
    for ((i, j), v) in k.indexed_iter_mut() {
        let d2 = (norms_a[i] + norms_b[j] - 2.0 * *v).max(0.0);
        *v = (-d2 * scale).exp();
    }
    k
}

/// A fitted kernel ridge model.
#[derive(Debug, Clone)]
pub struct FittedKernelRidge {
    standardizer: Standardizer,
    centres: Array2<f64>,
    alpha: Array1<f64>,
    intercept: f64,
    bandwidth: f64,
    choice: PenaltyChoice,
}

impl FittedKernelRidge {
    /// The intercept `b̂`.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
    /// The bandwidth `h` used (standardized scale).
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }
    /// The penalty used and, under GCV, its score and degrees of freedom.
    pub fn penalty(&self) -> PenaltyChoice {
        self.choice
    }
}

impl Predict for FittedKernelRidge {
    #[track_caller]
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        assert_eq!(
            x.ncols(),
            self.centres.ncols(),
            "kernel ridge predict: expected {} columns, got {}",
            self.centres.ncols(),
            x.ncols()
        );
        let z = self.standardizer.transform(x);
        let k = rbf_kernel(z.view(), self.centres.view(), self.bandwidth);
        linalg::matvec(k.view(), self.alpha.view()) + self.intercept
    }

    fn diagnostics(&self) -> Vec<(String, f64)> {
        let mut out = self.choice.diagnostics();
        out.push(("bandwidth".into(), self.bandwidth));
        out
    }
}

impl Learner for KernelRidgeParams {
    fn name(&self) -> &'static str {
        "kernel-ridge"
    }

    fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        _seed: u64,
    ) -> Result<Box<dyn Predict>> {
        Ok(Box::new(self.fit_kernel_ridge(x, y, weights)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::assert_close;
    use ndarray::array;

    /// Independent check: minimize the weighted objective over (b, α) by the
    /// normal equations of the full (N+1)-parameter problem.
    #[test]
    fn matches_explicit_semiparametric_solution() {
        let x = array![
            [0.0, 1.0],
            [1.0, 0.5],
            [2.0, -1.0],
            [0.5, 0.0],
            [1.5, 2.0],
            [3.0, 1.0]
        ];
        let y = array![0.3, 1.0, -0.5, 0.2, 1.7, 0.9];
        let w = array![1.0, 2.0, 0.5, 1.0, 1.5, 0.7];
        let lambda = 0.01;
        let params = KernelRidgeParams {
            penalty: Penalty::Fixed(lambda),
            bandwidth: Bandwidth::Fixed(1.3),
            ..KernelRidgeParams::default()
        };
        let fit = params
            .fit_kernel_ridge(x.view(), y.view(), Some(w.view()))
            .unwrap();

        let z = Standardizer::fit(x.view(), w.view()).transform(x.view());
        let k = rbf_kernel(z.view(), z.view(), 1.3);
        let n = 6;
        let total = w.sum();
        // Stationarity of (1/S)Σ w (y − b − Kα)² + λ αᵀKα in (b, α):
        //   Σ w (y − b − Kα) = 0 ;  K W (y − b − Kα) = λ S K α  ⇐  W(y − b − Kα) = λ S α.
        let mut system = Array2::<f64>::zeros((n + 1, n + 1));
        let mut rhs = Array1::<f64>::zeros(n + 1);
        for i in 0..n {
            system[[0, 0]] += w[i];
            rhs[0] += w[i] * y[i];
            for j in 0..n {
                system[[0, j + 1]] += w[i] * k[[i, j]];
            }
            system[[i + 1, 0]] = w[i];
            for j in 0..n {
                system[[i + 1, j + 1]] = w[i] * k[[i, j]];
            }
            system[[i + 1, i + 1]] += lambda * total;
            rhs[i + 1] = w[i] * y[i];
        }
        // Solve the small nonsymmetric system by Gaussian elimination.
        let solution = gauss_solve(system, rhs);
        let b = solution[0];
        let alpha = solution.slice(ndarray::s![1..]).to_owned();
        let expected = k.dot(&alpha) + b;
        assert_close!(fit.predict(x.view()), expected, epsilon = 1e-8);
        assert!((fit.intercept() - b).abs() < 1e-8);
    }

    fn gauss_solve(mut a: Array2<f64>, mut b: Array1<f64>) -> Array1<f64> {
        let n = b.len();
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))
                .unwrap();
            for j in 0..n {
                a.swap([col, j], [pivot, j]);
            }
            b.swap(col, pivot);
            for row in col + 1..n {
                let f = a[[row, col]] / a[[col, col]];
                for j in col..n {
                    a[[row, j]] -= f * a[[col, j]];
                }
                b[row] -= f * b[col];
            }
        }
        let mut x = Array1::<f64>::zeros(n);
        for row in (0..n).rev() {
            let s: f64 = (row + 1..n).map(|j| a[[row, j]] * x[j]).sum();
            x[row] = (b[row] - s) / a[[row, row]];
        }
        x
    }

    #[test]
    fn constant_shift_moves_only_the_intercept() {
        let x = Array2::from_shape_fn((30, 2), |(i, j)| ((i * (j + 2)) % 11) as f64 / 3.0);
        let y: Array1<f64> = x.rows().into_iter().map(|r| (r[0] - r[1]).sin()).collect();
        let params = KernelRidgeParams {
            penalty: Penalty::Fixed(0.1),
            ..KernelRidgeParams::default()
        };
        let a = params.fit_kernel_ridge(x.view(), y.view(), None).unwrap();
        let b = params
            .fit_kernel_ridge(x.view(), (&y + 5.0).view(), None)
            .unwrap();
        assert_close!(
            b.predict(x.view()),
            a.predict(x.view()) + 5.0,
            epsilon = 1e-9
        );
    }

    #[test]
    fn bandwidth_serde_and_validation() {
        let p: KernelRidgeParams = toml::from_str("bandwidth = 0.5\npenalty = 0.1").unwrap();
        assert_eq!(p.bandwidth, Bandwidth::Fixed(0.5));
        let p: KernelRidgeParams = toml::from_str("bandwidth = \"median\"").unwrap();
        assert_eq!(p.bandwidth, Bandwidth::Median);
        assert!(toml::from_str::<KernelRidgeParams>("bandwidth = \"silverman\"").is_err());
        let bad = KernelRidgeParams {
            bandwidth: Bandwidth::Fixed(0.0),
            ..KernelRidgeParams::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn too_many_rows_are_refused() {
        let x = Array2::<f64>::zeros((10, 1));
        let y = Array1::<f64>::zeros(10);
        let params = KernelRidgeParams {
            max_rows: 5,
            ..KernelRidgeParams::default()
        };
        let err = params
            .fit_kernel_ridge(x.view(), y.view(), None)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { ref name, .. } if name == "max_rows"));
        // Zero-weight rows do not count.
        let mut w = Array1::<f64>::zeros(10);
        w.slice_mut(ndarray::s![..5]).fill(1.0);
        assert!(params
            .fit_kernel_ridge(x.view(), y.view(), Some(w.view()))
            .is_ok());
    }

    /// A constant feature map (no columns, or one constant column) makes the
    /// centred kernel zero in exact arithmetic. Its rounding-level eigenvalues
    /// must not decide the penalty: every grid value then scores the same, the
    /// largest is taken, and the fit is the weighted mean to rounding.
    #[test]
    fn constant_feature_map_is_an_exact_tie() {
        let n = 12;
        let y = Array1::from_shape_fn(n, |i| ((i * 7) % 5) as f64 - 1.3);
        let w = Array1::from_shape_fn(n, |i| 0.3 + (i as f64) * 0.17);
        let mean = y.dot(&w) / w.sum();
        for x in [Array2::<f64>::zeros((n, 0)), Array2::from_elem((n, 1), 2.5)] {
            for penalty in [Penalty::Gcv, Penalty::Loo] {
                let params = KernelRidgeParams {
                    penalty,
                    ..KernelRidgeParams::default()
                };
                let fitted = params
                    .fit_kernel_ridge(x.view(), y.view(), Some(w.view()))
                    .unwrap();
                let chosen = fitted.penalty().penalty;
                assert!(
                    (chosen / params.penalty_grid.max - 1.0).abs() < 1e-12,
                    "{chosen}"
                );
                let p = fitted.predict(x.slice(ndarray::s![..2, ..]));
                assert!((p[0] - mean).abs() < 1e-14, "{penalty:?}: {}", p[0] - mean);
            }
        }
    }
}
