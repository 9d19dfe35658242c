//! Weighted ridge regression on a basis expansion, with the penalty chosen by
//! weighted leave-one-out, weighted GCV, or fixed, solved from the Gram matrix
//! or, when that is ill-conditioned, from the SVD of the weighted design.
//!
//! # Model
//! Inputs are weighted-standardized and expanded by a [`Basis`] into features
//! `φ_i ∈ R^p` that are themselves weighted-standardized (see
//! [`crate::learners::basis`]). With weights `w_i ≥ 0`, `S = Σ w_i`, the fit is
//!
//! `(b̂, β̂) = argmin (1/S) Σ_i w_i (y_i − b − φ_iᵀβ)² + λ‖β‖²`
//!
//! with an unpenalized intercept `b`. Because the features are weighted-centred,
//! `b̂ = ȳ_w` and `β̂ = (G + λS I)⁻¹ Φᵀ W (y − ȳ_w)` with `G = Φᵀ W Φ`.
//!
//! # Algorithm
//! - Fixed `λ ≥ 0`: one Cholesky factorization of `G + λS I` (with the jitter
//!   fallback of [`crate::linalg::cholesky_solve`], which makes `λ = 0` usable
//!   for rank-deficient `G`; the jitter δ is reported), applied to the
//!   cross-product and to the identity, so that `df = 1 + p − μ tr((G + μI)⁻¹)`
//!   and the GCV score below are reported too (`μ = λS + δ`).
//! - `penalty = "gcv"`: one eigendecomposition `G = V diag(e) Vᵀ` serves the
//!   whole log-spaced grid. With `c = Vᵀ Φᵀ W (y − ȳ_w)`, `T = Σ w_i (y_i − ȳ_w)²`
//!   and `μ = λS`, the weighted residual sum of squares is
//!   `RSS(λ) = T − Σ_j c_j² (e_j + 2μ) / (e_j + μ)²` (O(p) per grid point), the
//!   effective degrees of freedom `df(λ) = 1 + Σ_j e_j / (e_j + μ)` and the
//!   criterion `GCV(λ) = (RSS/S) / (1 − df/n_eff)²` with Kish's effective sample
//!   size `n_eff = S² / Σ w_i²` (grid points with `df ≥ n_eff` are skipped).
//!   Ties go to the larger penalty.
//! - When `p` exceeds the number of positively weighted rows `n₊`, the same
//!   estimator is computed in dual form from the `n₊ × n₊` matrix
//!   `K = W^{1/2} Φ Φᵀ W^{1/2}` (identical nonzero spectrum), where
//!   `RSS(λ) = Σ_j a_j² μ² / (e_j + μ)²`, `a = Uᵀ W^{1/2}(y − ȳ_w)`, and
//!   `β̂ = Φᵀ W^{1/2} (K + μI)⁻¹ W^{1/2}(y − ȳ_w)`.
//!
//! - `penalty = "loo"` (the default): the same eigendecomposition gives, for
//!   every grid point at once (two matrix products), the fitted values and
//!   leverages `h_ii = w_i/S + w_i φ_iᵀ(G + λS I)⁻¹φ_i`, and λ minimizes the
//!   exact weighted leave-one-out error `(1/S) Σ w_i (e_i/(1 − h_ii))²`
//!   (standardization held fixed). Why it is the default: GCV replaces every
//!   `h_ii` by their average and measures the sample size by Kish's `n_eff`,
//!   which is wrong when weights are very unequal — exactly the R-learner's
//!   bias stage, where GS rows weigh `(1−κ)² ≈ 0.96` and PB rows `κ² ≈ 5e-4`
//!   while every row's weighted residual is of the same size. Measured on the
//!   quickstart study (healthbench-like, ridge on a degree-2 basis of 5 PCs,
//!   20 replicates): R-learner MSE of ψ̂ 0.137 (GCV) vs 0.083 (LOO) at
//!   n_gold = 100 and 0.105 vs 0.027 at n_gold = 500; DR and the baselines
//!   are unchanged to three decimals.
//!
//! **Solver** (`solver = "auto"`, the default): everything above works on the
//! Gram matrix `G` (or `K`), whose condition number is the square of the
//! weighted design's, `κ(G + λS I) ≈ κ(W^{1/2}Φ)²` for small λ; so its
//! relative error grows like `ε κ(G + λS I)`. After the Gram path, the fit's
//! condition number `κ = κ(G + λS I)` at the penalty used is checked (the
//! 2-norm one `(e_max + λS)/(e_min + λS)` from the spectrum for LOO/GCV, the
//! 1-norm one `‖M‖₁‖M⁻¹‖₁` from the Cholesky solve's inverse for a fixed
//! penalty). If `κ >` [`AUTO_SVD_CONDITION`] `= 1e6`, or the Cholesky solve
//! needed jitter, or the Gram path failed with a linear-algebra error, the fit
//! (and the penalty search) is recomputed from the thin SVD of the weighted
//! design `W^{1/2}Φ = U diag(σ) Vᵀ` on the positively weighted rows, with the
//! same formulas in terms of `e = σ²` (`β̂ = V diag(σ/(σ² + μ)) Uᵀ W^{1/2}(y − ȳ_w)`,
//! leverages `w_i/S + Σ_j U_ij² σ_j²/(σ_j² + μ)`); singular values at or below
//! `max(n₊, p)·ε·σ_max` count as 0, so `λ = 0` on a rank-deficient design gives
//! the minimum-norm solution instead of a jittered one. Its error grows like
//! `ε κ(W^{1/2}Φ) = ε √κ`. Measured against a 50-digit solution
//! (`tests/data/ridge_exact_fixture.py`, weighted, fixed λ ≈ 1e-13):
//! at `κ(G + λS I) = 1.1e7` the fitted values are off by 7.4e-12 through the
//! Gram/Cholesky path and 1.6e-14 through the SVD path; at `6.5e9`, 1.1e-8
//! and 1.0e-12. The threshold 1e6 keeps the Gram path's error near 1e-12 on
//! values of order 1; the committed studies' ridge fits have `κ ≤ 10` (a
//! poly2 basis of standardized inputs is well conditioned), so they never
//! take the SVD path. `solver = "gram"` or `"svd"` forces one path.
//!
//! Cost: `O(N p²)` for the Gram matrix plus `O(p³)` for the factorization
//! (`O(n₊² p + n₊³)` in dual form); the SVD path costs `O(n₊ p min(n₊, p))`
//! more, with the same order of memory as the weighted design.
//!
//! Diagnostics: `penalty` (λ used), `jitter`, `df`, `gcv` (omitted when
//! `df ≥ n_eff`), `loo` (LOO only), `condition` (κ above, of the path that
//! produced the fit), `svd` (1 when the SVD path produced it, else 0); with
//! random features also `bandwidth`.
//!
//! # References
//! - Hoerl & Kennard (1970), "Ridge regression", *Technometrics* 12(1).
//! - Golub, Heath & Wahba (1979), "Generalized cross-validation as a method for
//!   choosing a good ridge parameter", *Technometrics* 21(2).
//! - Kish (1965), *Survey Sampling* (effective sample size).
//!
//! # Example
//! ```
//! use meta_router_core::learners::{Learner, RidgeParams, ridge::Penalty};
//! use ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((50, 2), |(i, j)| ((i * (j + 3)) % 7) as f64);
//! let y: Array1<f64> = x.rows().into_iter().map(|r| 1.0 + 2.0 * r[0] - r[1]).collect();
//! let params = RidgeParams { penalty: Penalty::Fixed(1e-10), ..RidgeParams::default() };
//! let fitted = params.fit(x.view(), y.view(), None, 0).unwrap();
//! let prediction = fitted.predict(x.view());
//! assert!((prediction[3] - y[3]).abs() < 1e-6);
//! assert_eq!(fitted.diagnostics().penalty, Some(1e-10));
//! ```

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::basis::{Basis, BasisExpansion};
use super::{check_training, FittedModel, Learner, LearnerDiagnostics, Predict};
use crate::error::{Error, Result};
use crate::linalg;

mod penalty;
mod solve;

pub(crate) use penalty::WeightedProblem;
pub use penalty::{Penalty, PenaltyChoice, PenaltyGrid};
use solve::solve_svd;
pub(crate) use solve::{solve_dual, solve_primal};

/// Condition number of the penalized system `G + λS I` above which
/// `solver = "auto"` recomputes a fit by the SVD of the weighted design (see
/// the module docs).
pub const AUTO_SVD_CONDITION: f64 = 1e6;

/// How a ridge fit is computed.
///
/// In configuration files: `"auto"` (default), `"gram"` or `"svd"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// The Gram path, then the SVD path when the Gram path's system has a
    /// condition number above [`AUTO_SVD_CONDITION`], needed jitter, or
    /// failed to factor.
    #[default]
    Auto,
    /// From the Gram matrix `G = ΦᵀWΦ` (or `K = W^{1/2}ΦΦᵀW^{1/2}` in dual
    /// form): Cholesky for a fixed penalty, one eigendecomposition for a grid.
    Gram,
    /// From the thin SVD of the weighted design `W^{1/2}Φ`.
    Svd,
}

/// Ridge regression configuration (`{ type = "ridge", ... }`).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `basis` | `"linear"` | expansion of the standardized inputs | `"linear"`, `"poly2"`, `"rff"` |
/// | `features` | 300 | random Fourier features (`rff` only) | ≥ 1 |
/// | `penalty` | `"loo"` | penalty rule | `"loo"`, `"gcv"`, a number ≥ 0 |
/// | `penalty_grid` | `{ min = 1e-8, max = 1e2, points = 41 }` | λ values searched by `"loo"`/`"gcv"` | `0 < min ≤ max`, `points ≥ 1` |
/// | `columns` | all | use only the leading input columns | 1 ..= d |
/// | `solver` | `"auto"` | Gram path, SVD path, or the Gram path with the SVD fallback | `"auto"`, `"gram"`, `"svd"` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RidgeParams {
    /// Basis expansion of the standardized inputs.
    pub basis: Basis,
    /// Number of random Fourier features (basis `rff` only).
    pub features: usize,
    /// `"loo"`, `"gcv"` or a fixed `λ ≥ 0`.
    pub penalty: Penalty,
    /// Grid searched when `penalty = "gcv"` or `"loo"`.
    pub penalty_grid: PenaltyGrid,
    /// Use only the first `columns` input columns (e.g. the leading principal
    /// components); all columns when absent.
    pub columns: Option<usize>,
    /// `"auto"`, `"gram"` or `"svd"` ([`Solver`]).
    pub solver: Solver,
}

impl Default for RidgeParams {
    fn default() -> Self {
        Self {
            basis: Basis::Linear,
            features: 300,
            penalty: Penalty::Loo,
            penalty_grid: PenaltyGrid::default(),
            columns: None,
            solver: Solver::Auto,
        }
    }
}

impl RidgeParams {
    /// A linear-basis ridge with a fixed penalty.
    pub fn fixed(penalty: f64) -> Self {
        Self {
            penalty: Penalty::Fixed(penalty),
            ..Self::default()
        }
    }

    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<()> {
        self.penalty.validate("penalty")?;
        self.penalty_grid.validate("penalty_grid")?;
        if self.columns == Some(0) {
            return Err(Error::param("columns", 0, "must be at least 1"));
        }
        if self.basis == Basis::Rff && self.features == 0 {
            return Err(Error::param(
                "features",
                0,
                "rff needs at least one feature",
            ));
        }
        Ok(())
    }
}

/// A fitted ridge model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedRidge {
    input_dim: usize,
    expansion: BasisExpansion,
    intercept: f64,
    coefficients: Array1<f64>,
    choice: PenaltyChoice,
    svd: bool,
}

impl FittedRidge {
    /// Intercept `b̂` (on the standardized-feature scale it equals `ȳ_w`).
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
    /// Coefficients `β̂` of the standardized features.
    pub fn coefficients(&self) -> ArrayView1<'_, f64> {
        self.coefficients.view()
    }
    /// The penalty used and, under GCV, its score and degrees of freedom.
    pub fn penalty(&self) -> PenaltyChoice {
        self.choice
    }
    /// Whether the fit was computed by the SVD path.
    pub fn used_svd(&self) -> bool {
        self.svd
    }
    /// Number of raw feature columns.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }
    /// Consistency of a model read from a file.
    pub(crate) fn check_consistent(&self) -> std::result::Result<(), String> {
        if self.expansion.input_dim() > self.input_dim || self.expansion.input_dim() == 0 {
            return Err(format!(
                "the expansion reads {} leading columns of {} inputs",
                self.expansion.input_dim(),
                self.input_dim
            ));
        }
        super::fitted::check_linear(&self.expansion, &self.coefficients, self.intercept)
    }
}

impl Predict for FittedRidge {
    #[track_caller]
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        assert_eq!(
            x.ncols(),
            self.input_dim,
            "ridge predict: expected {} columns, got {}",
            self.input_dim,
            x.ncols()
        );
        let used = x.slice(ndarray::s![.., ..self.expansion.input_dim()]);
        let phi = self.expansion.transform(used);
        linalg::matvec(phi.view(), self.coefficients.view()) + self.intercept
    }

    fn diagnostics(&self) -> LearnerDiagnostics {
        LearnerDiagnostics {
            svd: Some(self.svd),
            bandwidth: self.expansion.bandwidth(),
            ..self.choice.diagnostics()
        }
    }
}

impl Learner for RidgeParams {
    fn name(&self) -> &'static str {
        "ridge"
    }

    fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel> {
        Ok(FittedModel::Ridge(self.fit_ridge(x, y, weights, seed)?))
    }
}

impl RidgeParams {
    /// [`Learner::fit`] returning the concrete fitted type.
    pub fn fit_ridge(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedRidge> {
        self.validate()?;
        let w = check_training(x, y, weights)?;
        let input_dim = x.ncols();
        let used = match self.columns {
            Some(k) if k > input_dim => {
                return Err(Error::param(
                    "columns",
                    k,
                    format!("the data have only {input_dim} columns"),
                ))
            }
            Some(k) => x.slice(ndarray::s![.., ..k]),
            None => x,
        };
        let (expansion, phi) = BasisExpansion::fit(self.basis, self.features, used, w.view(), seed);
        let total = w.sum();
        let y_mean = y.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>() / total;
        let centred = y.mapv(|v| v - y_mean);
        let problem = WeightedProblem::new(&w);
        let (coefficients, choice, svd) = if phi.ncols() > problem.positive.len() {
            self.fit_dual(phi.view(), centred.view(), &problem)?
        } else {
            self.fit_primal(phi, &centred, &w, &problem)?
        };
        Ok(FittedRidge {
            input_dim,
            expansion,
            intercept: y_mean,
            coefficients,
            choice,
            svd,
        })
    }

    /// The dual form (more basis columns than positively weighted rows):
    /// `A = W^{1/2}Φ` on those rows, `γ` from `(AAᵀ + λI)γ = W^{1/2}(y − ȳ)`
    /// and `β = Aᵀγ`, or the SVD of `A` when the Gram path declines.
    /// Returns `β`, the penalty choice and whether the SVD path fitted.
    fn fit_dual(
        &self,
        phi: ArrayView2<f64>,
        centred: ArrayView1<f64>,
        problem: &WeightedProblem,
    ) -> Result<(Array1<f64>, PenaltyChoice, bool)> {
        // Dual form on the positively weighted rows.
        let sqrt_w = problem.sqrt_weights();
        let mut a = linalg::select_rows(phi, &problem.positive);
        for (mut row, s) in a.rows_mut().into_iter().zip(&sqrt_w) {
            row *= *s;
        }
        let target: Array1<f64> = problem
            .positive
            .iter()
            .zip(&sqrt_w)
            .map(|(&i, s)| s * centred[i])
            .collect();
        let gram = self.gram_path(|| {
            let kernel = linalg::matmul(a.view(), a.t());
            // K = AAᵀ is built without cancellation: keep every positive eigenvalue.
            let (gamma, choice) = solve_dual(
                kernel,
                target.view(),
                self.penalty,
                &self.penalty_grid,
                problem,
                0.0,
            )?;
            Ok((linalg::matvec(a.t(), gamma.view()), choice))
        })?;
        Ok(match gram {
            Some((beta, choice)) => (beta, choice, false),
            None => {
                let weights = Array1::from(problem.positive_weights.clone());
                let (beta, choice) = solve_svd(
                    a.view(),
                    target.view(),
                    weights.view(),
                    self.penalty,
                    &self.penalty_grid,
                    problem,
                )?;
                (beta, choice, true)
            }
        })
    }

    /// The primal form: `A = W^{1/2}Φ` in place, `β` from
    /// `(AᵀA + λS)β = Aᵀ W^{1/2}(y − ȳ)`, or the SVD of `A` (its positively
    /// weighted rows) when the Gram path declines. Returns `β`, the penalty
    /// choice and whether the SVD path fitted.
    fn fit_primal(
        &self,
        phi: ndarray::Array2<f64>,
        centred: &Array1<f64>,
        w: &Array1<f64>,
        problem: &WeightedProblem,
    ) -> Result<(Array1<f64>, PenaltyChoice, bool)> {
        // A = W^{1/2} Φ in place (Φ is not needed afterwards): G = AᵀA and
        // Φᵀ W (y − ȳ) = Aᵀ (W^{1/2}(y − ȳ)), without a weighted copy.
        let mut a = phi;
        let sqrt_w = w.mapv(f64::sqrt);
        for (mut row, s) in a.rows_mut().into_iter().zip(&sqrt_w) {
            if *s != 1.0 {
                row *= *s;
            }
        }
        let scaled_target = centred * &sqrt_w;
        let gram = self.gram_path(|| {
            let gram = linalg::weighted_gram(a.view(), None);
            let cross = linalg::weighted_cross(a.view(), scaled_target.view(), None);
            let total_ss = scaled_target.dot(&scaled_target);
            let loo_design =
                (self.penalty == Penalty::Loo).then(|| (a.view(), scaled_target.view(), w.view()));
            solve_primal(
                gram,
                cross.view(),
                total_ss,
                self.penalty,
                &self.penalty_grid,
                problem,
                loo_design,
            )
        })?;
        Ok(match gram {
            Some((beta, choice)) => (beta, choice, false),
            None => {
                // Zero-weight rows are zero rows of A: leave them out.
                let all = problem.positive.len() == a.nrows();
                let rows = |m: ArrayView2<f64>| m.select(Axis(0), &problem.positive);
                let design = if all { a } else { rows(a.view()) };
                let pick = |v: &Array1<f64>| problem.positive.iter().map(|&i| v[i]).collect();
                let (target, weights): (Array1<f64>, Array1<f64>) = (pick(&scaled_target), pick(w));
                let (beta, choice) = solve_svd(
                    design.view(),
                    target.view(),
                    weights.view(),
                    self.penalty,
                    &self.penalty_grid,
                    problem,
                )?;
                (beta, choice, true)
            }
        })
    }

    /// Runs the Gram path unless `solver = "svd"`; returns `None` when the SVD
    /// path must compute the fit instead (`"svd"`, or `"auto"` with a
    /// condition number above [`AUTO_SVD_CONDITION`], jitter, or a
    /// factorization failure).
    fn gram_path(
        &self,
        solve: impl FnOnce() -> Result<(Array1<f64>, PenaltyChoice)>,
    ) -> Result<Option<(Array1<f64>, PenaltyChoice)>> {
        if self.solver == Solver::Svd {
            return Ok(None);
        }
        let auto = self.solver == Solver::Auto;
        match solve() {
            // A NaN or missing condition number counts as ill-conditioned.
            Ok((_, choice))
                if auto && !choice.condition.is_some_and(|c| c <= AUTO_SVD_CONDITION) =>
            {
                Ok(None)
            }
            Ok(fit) => Ok(Some(fit)),
            Err(Error::Linalg { .. }) if auto => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::assert_close;
    use approx::assert_relative_eq;
    use ndarray::{array, Array2};

    /// The LOO score equals brute-force leave-one-out refits: row i's weight
    /// set to zero, intercept and centring refit, the standardized design and
    /// `λS` held at their full-data values (the shortcut's exact premise).
    #[test]
    fn loo_score_matches_brute_force_refits() {
        let n = 30;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| (((i * 7 + j * 5) % 11) as f64 - 5.0) / 3.0);
        let y = Array1::from_shape_fn(n, |i| (i as f64 * 0.37).sin() + x[[i, 0]]);
        let w = Array1::from_shape_fn(n, |i| 0.5 + (i % 4) as f64);
        let grid = PenaltyGrid {
            min: 0.02,
            max: 0.02,
            points: 1,
        };
        let fit = |solver| {
            RidgeParams {
                penalty: Penalty::Loo,
                penalty_grid: grid,
                solver,
                ..RidgeParams::default()
            }
            .fit_ridge(x.view(), y.view(), Some(w.view()), 0)
            .unwrap()
        };
        let fitted = fit(Solver::Gram);
        let score = fitted.penalty().loo.unwrap();
        let svd_score = fit(Solver::Svd).penalty().loo.unwrap();
        // Brute force on the fitted model's own standardized design Φ, with the
        // intercept refit and λ·S held at the full-data value.
        let phi = fitted.expansion.transform(x.view());
        let total = w.sum();
        let mut brute = 0.0;
        for i in 0..n {
            let mut wi = w.clone();
            wi[i] = 0.0;
            let s_i = wi.sum();
            let ybar = y.iter().zip(&wi).map(|(a, b)| a * b).sum::<f64>() / s_i;
            let xbar: Array1<f64> = (0..3)
                .map(|j| {
                    phi.column(j)
                        .iter()
                        .zip(&wi)
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                        / s_i
                })
                .collect();
            let xc = &phi - &xbar.view().insert_axis(Axis(0));
            let mut a = linalg::weighted_gram(xc.view(), Some(wi.view()));
            a.diag_mut().mapv_inplace(|v| v + 0.02 * total);
            let rhs =
                linalg::weighted_cross(xc.view(), y.mapv(|v| v - ybar).view(), Some(wi.view()));
            let (beta, _) = linalg::cholesky_solve_vec(a.view(), rhs.view()).unwrap();
            let pred = ybar + (&phi.row(i) - &xbar).dot(&beta);
            brute += w[i] * (y[i] - pred).powi(2);
        }
        brute /= total;
        assert_relative_eq!(score, brute, max_relative = 1e-10);
        assert_relative_eq!(svd_score, brute, max_relative = 1e-10);
    }

    /// On well-conditioned problems the SVD path reproduces the Gram path:
    /// same penalty choice, df, scores and predictions, primal and dual,
    /// weighted with zero-weight rows.
    #[test]
    fn svd_path_matches_gram_path_when_well_conditioned() {
        for (n, d) in [(40, 3), (12, 4)] {
            let x = Array2::from_shape_fn((n, d), |(i, j)| {
                ((i * 7 + j * 5) % 11) as f64 / 3.0 + (i * j) as f64 * 0.01
            });
            let y = Array1::from_shape_fn(n, |i| (i as f64 * 0.37).sin() + x[[i, 0]]);
            let w = Array1::from_shape_fn(n, |i| {
                if i % 5 == 2 {
                    0.0
                } else {
                    0.5 + (i % 4) as f64
                }
            });
            for basis in [Basis::Linear, Basis::Poly2] {
                for penalty in [Penalty::Loo, Penalty::Gcv, Penalty::Fixed(0.03)] {
                    let fit = |solver| {
                        RidgeParams {
                            basis,
                            penalty,
                            solver,
                            ..RidgeParams::default()
                        }
                        .fit_ridge(x.view(), y.view(), Some(w.view()), 0)
                        .unwrap()
                    };
                    let (gram, svd) = (fit(Solver::Gram), fit(Solver::Svd));
                    assert!(!gram.used_svd() && svd.used_svd());
                    let label = format!("{n}x{d} {basis:?} {penalty:?}");
                    let (a, b) = (gram.penalty(), svd.penalty());
                    assert_eq!(a.penalty, b.penalty, "{label}");
                    for (u, v) in [(a.df, b.df), (a.gcv, b.gcv), (a.loo, b.loo)] {
                        assert_eq!(u.is_some(), v.is_some(), "{label}");
                        if let (Some(u), Some(v)) = (u, v) {
                            assert_relative_eq!(u, v, max_relative = 1e-10);
                        }
                    }
                    assert_close!(
                        gram.predict(x.view()),
                        svd.predict(x.view()),
                        epsilon = 1e-10
                    );
                }
            }
        }
    }

    /// `solver = "auto"` keeps the Gram path on a well-conditioned design and
    /// switches to the SVD path on a rank-deficient one with λ = 0 (a
    /// duplicated column), where the Cholesky solve's condition number is at
    /// rounding level (or it needs jitter).
    #[test]
    fn auto_solver_switches_only_when_needed() {
        let n = 30;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| (((i * 7 + j * 5) % 11) as f64 - 5.0) / 3.0);
        let y = Array1::from_shape_fn(n, |i| (i as f64 * 0.37).sin() + x[[i, 0]]);
        let fitted = RidgeParams::fixed(1e-3)
            .fit_ridge(x.view(), y.view(), None, 0)
            .unwrap();
        assert!(!fitted.used_svd());
        assert!(fitted.penalty().condition.unwrap() < 1e3);
        let doubled = ndarray::concatenate![Axis(1), x, x.column(0).insert_axis(Axis(1))];
        for params in [
            RidgeParams::fixed(0.0),
            RidgeParams {
                solver: Solver::Svd,
                ..RidgeParams::fixed(0.0)
            },
        ] {
            let fitted = params.fit_ridge(doubled.view(), y.view(), None, 0).unwrap();
            assert!(fitted.used_svd());
            assert_eq!(fitted.penalty().jitter, 0.0);
            // Minimum-norm solution: the duplicated columns share the weight.
            let beta = fitted.coefficients();
            assert_relative_eq!(beta[0], beta[3], max_relative = 1e-10);
            assert_relative_eq!(fitted.penalty().df.unwrap(), 4.0, max_relative = 1e-12);
        }
        let forced = RidgeParams {
            solver: Solver::Gram,
            ..RidgeParams::fixed(0.0)
        }
        .fit_ridge(doubled.view(), y.view(), None, 0)
        .unwrap();
        assert!(!forced.used_svd());
        assert!(
            forced.penalty().condition.unwrap() > 1e12,
            "{:?}",
            forced.penalty()
        );
    }

    #[test]
    fn penalty_serde_accepts_gcv_and_numbers() {
        let p: RidgeParams = toml::from_str("penalty = 0.5\nbasis = \"poly2\"").unwrap();
        assert_eq!(p.penalty, Penalty::Fixed(0.5));
        assert_eq!(p.basis, Basis::Poly2);
        let p: RidgeParams = toml::from_str("penalty = \"gcv\"").unwrap();
        assert_eq!(p.penalty, Penalty::Gcv);
        assert_eq!(p.solver, Solver::Auto);
        let p: RidgeParams = toml::from_str("solver = \"svd\"").unwrap();
        assert_eq!(p.solver, Solver::Svd);
        assert!(toml::from_str::<RidgeParams>("solver = \"qr\"").is_err());
        assert!(toml::from_str::<RidgeParams>("penalty = \"loocv\"").is_err());
        assert!(toml::from_str::<RidgeParams>("lambda = 1.0").is_err());
        let json = serde_json::to_string(&RidgeParams::fixed(2.0)).unwrap();
        assert_eq!(
            serde_json::from_str::<RidgeParams>(&json).unwrap(),
            RidgeParams::fixed(2.0)
        );
    }

    #[test]
    fn dual_form_matches_primal_form() {
        // p > n+: ridge goes dual; compare with an explicit primal solve.
        let x = Array2::from_shape_fn((6, 8), |(i, j)| {
            ((i * 7 + j * 3) % 5) as f64 + 0.1 * j as f64
        });
        let y = array![1.0, 0.0, 2.0, -1.0, 0.5, 1.5];
        let w = array![1.0, 2.0, 0.5, 1.0, 0.0, 3.0];
        for penalty in [Penalty::Fixed(0.05), Penalty::Gcv] {
            let params = RidgeParams {
                penalty,
                ..RidgeParams::default()
            };
            let fit = params
                .fit_ridge(x.view(), y.view(), Some(w.view()), 0)
                .unwrap();
            let (_, phi) = BasisExpansion::fit(Basis::Linear, 0, x.view(), w.view(), 0);
            let lambda = fit.penalty().penalty;
            let gram = linalg::weighted_gram(phi.view(), Some(w.view()));
            let ybar = y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / w.sum();
            let cross =
                linalg::weighted_cross(phi.view(), y.mapv(|v| v - ybar).view(), Some(w.view()));
            let mut system = gram;
            system.diag_mut().mapv_inplace(|v| v + lambda * w.sum());
            let (beta, _) = linalg::cholesky_solve_vec(system.view(), cross.view()).unwrap();
            assert_close!(fit.coefficients().to_owned(), beta, epsilon = 1e-9);
        }
    }

    #[test]
    fn validation_rejects_bad_parameters() {
        assert!(matches!(
            RidgeParams::fixed(-1.0).validate(),
            Err(Error::InvalidParameter { ref name, .. }) if name == "penalty"
        ));
        assert!(RidgeParams::fixed(f64::NAN).validate().is_err());
        let p = RidgeParams {
            penalty_grid: PenaltyGrid {
                min: 0.0,
                ..PenaltyGrid::default()
            },
            ..RidgeParams::default()
        };
        assert!(p.validate().is_err());
        let p = RidgeParams {
            basis: Basis::Rff,
            features: 0,
            ..RidgeParams::default()
        };
        assert!(p.validate().is_err());
    }
}
