//! Weighted L2-penalized logistic regression (Newton / IRLS) on a basis expansion.
//!
//! # Model
//! For a 0/1 target `t` and features `φ_i` (a [`Basis`] expansion of the
//! weighted-standardized inputs, see [`crate::learners::basis`]),
//! `P(t = 1 | x) = σ(b + φᵀβ)` with `σ(u) = 1/(1 + e^{−u})`. With weights
//! `w_i ≥ 0`, `S = Σ w_i`, the fit minimizes
//!
//! `L(b, β) = (1/S) Σ_i w_i [log(1 + e^{η_i}) − t_i η_i] + λ‖β‖²`, `η_i = b + φ_iᵀβ`,
//!
//! with an unpenalized intercept. `L` is strictly convex in `β` for `λ > 0`.
//!
//! # Algorithm
//! Newton's method (iteratively reweighted least squares) from `b = logit(t̄_w)`,
//! `β = 0`, on `θ = (b, β)` and `X = [1, Φ]`. At each iterate, with
//! `p_i = σ(η_i)`:
//! - gradient `g = (1/S) Xᵀ W (p − t) + 2λ(0, β)`;
//! - **stopping rule** (gradient norm scaled by the data):
//!   `‖g‖_∞ ≤ max(tol, 4(n₊ + 8)ε) · s` with
//!   `s = (1/S) Σ_i w_i |p_i − t_i| max_j |X_ij| + 2λ‖β‖_∞`, the size of the
//!   terms `g` is a sum of (`n₊` rows with positive weight, `ε` the machine
//!   epsilon). So the gradient must be small relative to what it is made of,
//!   whatever the scale of the weights; the floor `4(n₊ + 8)ε` is the rounding
//!   level of a sum of `n₊` terms, so the rule can always be met in floating
//!   point;
//! - Hessian `H = (1/S) Xᵀ diag(w p(1−p)) X + 2λ diag(0, I)`; the step `H⁻¹g`
//!   is solved by Cholesky (with the jitter fallback of
//!   [`crate::linalg::cholesky_solve`]);
//! - line search: with the Newton decrement `d = gᵀH⁻¹g` (≈ twice the
//!   distance to the optimal objective), the full step is taken when
//!   `L(θ − H⁻¹g) ≤ L(θ) − 10⁻⁴ d`; otherwise the step is halved (Armijo).
//!   When `d` is below the rounding level of `L` itself,
//!   `r = 2(n₊ + 8)ε · (1/S) Σ w_i (softplus(η_i) + |t_i η_i|)`, the objective
//!   cannot tell a better iterate from a worse one; the full Newton step is
//!   then accepted unless it raises `L` by more than `r` (near the optimum
//!   Newton's step is what makes the gradient, and so `p̂`, accurate: stopping
//!   on the objective instead leaves `θ` off by `O(√ε)`). An earlier version
//!   rejected such steps and retried the same step until `max_iter`; with its
//!   defaults it failed on 16 of 200 cross-fitting folds of the study
//!   scenarios (now 0, see `tests/learners.rs`).
//!
//! Newton converges quadratically here: 4–8 iterations on well-posed data,
//! each costing `O(N p²)`. Against scikit-learn's Newton–Cholesky solver
//! (`tests/data/logistic_fixture.py`: unweighted, weighted, a 300 + 3000-row
//! propensity model, a weighted degree-2 basis, no penalty) the default
//! settings give `max |p̂ − p̂_ref| ≤ 1.5e-12`. Errors, each with what went wrong:
//! - the target takes one value on every positively weighted row
//!   ([`Error::InvalidParameter`] for `target`): the unpenalized intercept
//!   has no finite optimum;
//! - [`Error::NoConvergence`] after `max_iter` iterations, saying when the
//!   classes are separable with `penalty = 0` (every positively weighted row is
//!   on the right side of `η = 0`, so the slopes diverge; any `penalty > 0`
//!   gives a finite optimum), or when no step can decrease the objective.
//!
//! Diagnostics: `penalty`, `iterations` (Newton steps taken), `gradient_norm`
//! (`‖g‖_∞` at the returned fit), `jitter` (largest used), `objective`.
//!
//! # References
//! - McCullagh & Nelder (1989), *Generalized Linear Models*, 2nd ed., §4.4 (IRLS).
//! - Le Cessie & van Houwelingen (1992), "Ridge estimators in logistic regression",
//!   *Applied Statistics* 41(1).
//!
//! # Example
//! ```
//! use meta_router_core::learners::{Learner, LogisticParams};
//! use ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((200, 1), |(i, _)| (i as f64 - 100.0) / 25.0);
//! let t: Array1<f64> = (0..200).map(|i| if (i * 37) % 100 < i / 2 { 1.0 } else { 0.0 }).collect();
//! let fitted = LogisticParams::default().fit_probability(x.view(), t.view(), None, 0).unwrap();
//! let p = fitted.predict(x.view());
//! assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
//! assert!(p[199] > p[0]);
//! let diagnostics = fitted.diagnostics();
//! assert!(diagnostics.iterations.unwrap() <= 10);
//! assert!(diagnostics.gradient_norm.unwrap() < 1e-12);
//! ```

use ndarray::{concatenate, Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::basis::{Basis, BasisExpansion};
use super::{check_training, FittedModel, Learner, LearnerDiagnostics, Predict};
use crate::checks::check_binary;
use crate::error::{Error, Result};
use crate::linalg;
use crate::numerics::{sigmoid, softplus};

/// Logistic regression configuration (`{ type = "logistic", ... }`).
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `basis` | `"linear"` | expansion of the standardized inputs | `"linear"`, `"poly2"`, `"rff"` |
/// | `features` | 300 | random Fourier features (`rff` only) | ≥ 1 |
/// | `penalty` | 1e-4 | L2 penalty `λ` on the standardized slopes | ≥ 0 (0: plain maximum likelihood) |
/// | `max_iter` | 100 | Newton iterations allowed | ≥ 1 |
/// | `tol` | 1e-12 | relative gradient tolerance of the stopping rule (module docs) | > 0 |
///
/// `tol` bounds the gradient relative to the size of its terms; with the
/// default, fitted probabilities agree with an independent solver to about
/// 1e-12 (see `tests/learners_reference.rs`), and propensity models need no
/// other setting. (Before this rule, `tol` bounded the Newton step; values
/// written for that meaning, such as `1e-7`, still parse and merely stop a
/// little earlier.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticParams {
    /// Basis expansion of the standardized inputs.
    pub basis: Basis,
    /// Number of random Fourier features (basis `rff` only).
    pub features: usize,
    /// Fixed L2 penalty `λ ≥ 0` on the (standardized-feature) slopes.
    pub penalty: f64,
    /// Newton iterations allowed.
    pub max_iter: usize,
    /// Relative gradient tolerance of the stopping rule (> 0).
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            basis: Basis::Linear,
            features: 300,
            penalty: 1e-4,
            max_iter: 100,
            tol: 1e-12,
        }
    }
}

impl LogisticParams {
    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<()> {
        if !self.penalty.is_finite() {
            return Err(Error::param("penalty", self.penalty, "must be finite"));
        }
        if self.penalty < 0.0 {
            return Err(Error::param(
                "penalty",
                self.penalty,
                "an L2 penalty must be >= 0",
            ));
        }
        if self.max_iter == 0 {
            return Err(Error::param("max_iter", 0, "must be >= 1"));
        }
        if !(self.tol.is_finite() && self.tol > 0.0) {
            return Err(Error::param("tol", self.tol, "must be finite and > 0"));
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

    /// [`Learner::fit_probability`] returning the concrete fitted type.
    pub fn fit_logistic(
        &self,
        x: ArrayView2<f64>,
        t: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedLogistic> {
        self.validate()?;
        let w = check_training(x, t, weights)?;
        check_binary(t)?;
        check_both_classes(t, w.view())?;
        let (expansion, phi) = BasisExpansion::fit(self.basis, self.features, x, w.view(), seed);
        let n = phi.nrows();
        let design = concatenate(Axis(1), &[Array2::ones((n, 1)).view(), phi.view()])
            .expect("same row count");
        let problem = Problem::new(design.view(), t, w.view(), self.penalty);
        let mut theta = Array1::<f64>::zeros(design.ncols());
        let t_mean = t.dot(&w) / problem.total;
        theta[0] = (t_mean / (1.0 - t_mean)).ln();
        let mut state = problem.evaluate(&theta);
        let mut max_jitter = 0.0f64;
        let mut iterations = 0;
        loop {
            let (gradient, gradient_scale) = problem.gradient(&theta, &state);
            let gradient_norm = max_abs(gradient.view());
            if gradient_norm <= self.tol.max(4.0 * problem.rounding) * gradient_scale {
                return Ok(FittedLogistic {
                    expansion,
                    intercept: theta[0],
                    coefficients: theta.slice(ndarray::s![1..]).to_owned(),
                    penalty: self.penalty,
                    iterations,
                    gradient_norm,
                    jitter: max_jitter,
                    objective: state.objective,
                });
            }
            if iterations == self.max_iter {
                return Err(problem.no_convergence(&state, iterations, gradient_norm, None));
            }
            iterations += 1;
            let hessian = problem.hessian(&state);
            let (step, info) = linalg::cholesky_solve_vec(hessian.view(), gradient.view())?;
            max_jitter = max_jitter.max(info.jitter);
            let decrease = gradient.dot(&step).max(0.0);
            // The rounding level of L at θ: below it, L cannot rank iterates.
            let rounding = 2.0 * problem.rounding * state.magnitude;
            let mut accepted = None;
            let mut scale = 1.0;
            for _ in 0..60 {
                let candidate = &theta - &(&step * scale);
                let next = problem.evaluate(&candidate);
                let armijo = next.objective <= state.objective - 1e-4 * scale * decrease;
                let at_rounding_level = scale == 1.0
                    && decrease <= rounding
                    && next.objective <= state.objective + rounding;
                if next.objective.is_finite() && (armijo || at_rounding_level) {
                    accepted = Some((candidate, next));
                    break;
                }
                scale *= 0.5;
            }
            match accepted {
                Some((candidate, next)) => {
                    theta = candidate;
                    state = next;
                }
                None => {
                    return Err(problem.no_convergence(
                        &state,
                        iterations,
                        gradient_norm,
                        Some(decrease),
                    ))
                }
            }
        }
    }
}

/// Errors when the 0/1 target takes one value on every positively weighted
/// row: the unpenalized intercept then has no finite optimum.
fn check_both_classes(t: ArrayView1<f64>, w: ArrayView1<f64>) -> Result<()> {
    let mut seen = [false; 2];
    for (&ti, &wi) in t.iter().zip(w) {
        if wi > 0.0 {
            seen[usize::from(ti == 1.0)] = true;
        }
    }
    match seen {
        [true, true] => Ok(()),
        [_, one] => {
            let value = if one { 1 } else { 0 };
            Err(Error::param(
                "target",
                value,
                format!(
                    "every positively weighted row has t = {value}: the unpenalized intercept \
                     of a logistic model diverges (no finite fit); a propensity model needs rows \
                     of both classes in every training fold"
                ),
            ))
        }
    }
}

/// `max |v_j|` (0 for an empty vector).
fn max_abs(v: ArrayView1<f64>) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

/// The data of one fit: design `X = [1, Φ]`, target, weights and penalty.
struct Problem<'a> {
    design: ArrayView2<'a, f64>,
    target: ArrayView1<'a, f64>,
    weights: ArrayView1<'a, f64>,
    penalty: f64,
    /// `S = Σ w`.
    total: f64,
    /// `max_j |X_ij|` per row.
    row_max: Array1<f64>,
    /// `(n₊ + 8)ε`: the relative rounding level of a sum over the rows.
    rounding: f64,
}

/// The objective and what it is made of at one `θ`.
struct State {
    /// `η = Xθ`.
    eta: Array1<f64>,
    /// `L(θ)`.
    objective: f64,
    /// `(1/S) Σ w (softplus(η) + |tη|) + λ‖β‖²`: the size of the terms of `L`.
    magnitude: f64,
}

impl<'a> Problem<'a> {
    fn new(
        design: ArrayView2<'a, f64>,
        target: ArrayView1<'a, f64>,
        weights: ArrayView1<'a, f64>,
        penalty: f64,
    ) -> Self {
        let positive = weights.iter().filter(|&&w| w > 0.0).count();
        Self {
            design,
            target,
            weights,
            penalty,
            total: weights.sum(),
            row_max: design.rows().into_iter().map(|r| max_abs(r)).collect(),
            rounding: (positive as f64 + 8.0) * f64::EPSILON,
        }
    }

    fn slopes<'t>(&self, theta: &'t Array1<f64>) -> ArrayView1<'t, f64> {
        theta.slice(ndarray::s![1..])
    }

    fn evaluate(&self, theta: &Array1<f64>) -> State {
        let eta = linalg::matvec(self.design, theta.view());
        let (mut loss, mut magnitude) = (0.0, 0.0);
        for ((&e, &t), &w) in eta.iter().zip(self.target).zip(self.weights) {
            if w > 0.0 {
                let soft = softplus(e);
                loss += w * (soft - t * e);
                magnitude += w * (soft + (t * e).abs());
            }
        }
        let slopes = self.slopes(theta);
        let penalty = self.penalty * slopes.dot(&slopes);
        State {
            eta,
            objective: loss / self.total + penalty,
            magnitude: magnitude / self.total + penalty,
        }
    }

    /// The gradient and the size `s` of its terms (module docs).
    fn gradient(&self, theta: &Array1<f64>, state: &State) -> (Array1<f64>, f64) {
        let residual: Array1<f64> = state
            .eta
            .iter()
            .zip(self.target)
            .zip(self.weights)
            .map(|((&e, &t), &w)| w * (sigmoid(e) - t))
            .collect();
        let mut gradient = linalg::weighted_cross(self.design, residual.view(), None) / self.total;
        let mut scale = residual
            .iter()
            .zip(&self.row_max)
            .map(|(r, m)| r.abs() * m)
            .sum::<f64>()
            / self.total;
        for (g, b) in gradient.iter_mut().skip(1).zip(self.slopes(theta)) {
            *g += 2.0 * self.penalty * b;
        }
        scale += 2.0 * self.penalty * max_abs(self.slopes(theta));
        (gradient, scale)
    }

    fn hessian(&self, state: &State) -> Array2<f64> {
        let curvature: Array1<f64> = state
            .eta
            .iter()
            .zip(self.weights)
            .map(|(&e, &w)| {
                let p = sigmoid(e);
                w * p * (1.0 - p)
            })
            .collect();
        let mut hessian = linalg::weighted_gram(self.design, Some(curvature.view())) / self.total;
        for j in 1..hessian.nrows() {
            hessian[[j, j]] += 2.0 * self.penalty;
        }
        hessian
    }

    /// The error for a fit that stopped without meeting the rule, saying why.
    fn no_convergence(
        &self,
        state: &State,
        iterations: usize,
        gradient_norm: f64,
        stalled_decrease: Option<f64>,
    ) -> Error {
        let separated = self.penalty == 0.0
            && state
                .eta
                .iter()
                .zip(self.target)
                .zip(self.weights)
                .all(|((&e, &t), &w)| w == 0.0 || (t == 1.0) == (e > 0.0));
        let why = if separated {
            "the classes are separable on the positively weighted rows, so with penalty = 0 \
             the slopes diverge; use penalty > 0"
                .to_string()
        } else if let Some(decrease) = stalled_decrease {
            format!(
                "no step along the Newton direction decreases the objective (Newton decrement \
                 {decrease:.3e}, gradient norm {gradient_norm:.3e})"
            )
        } else {
            format!("gradient norm {gradient_norm:.3e}; raise max_iter or tol")
        };
        Error::NoConvergence {
            what: format!("logistic regression (Newton; {why})"),
            iterations,
        }
    }
}

/// A fitted logistic model; predictions are probabilities in `[0, 1]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedLogistic {
    expansion: BasisExpansion,
    intercept: f64,
    coefficients: Array1<f64>,
    penalty: f64,
    iterations: usize,
    gradient_norm: f64,
    jitter: f64,
    objective: f64,
}

impl FittedLogistic {
    /// Intercept on the standardized-feature scale.
    pub fn intercept(&self) -> f64 {
        self.intercept
    }
    /// Slopes of the standardized features.
    pub fn coefficients(&self) -> ArrayView1<'_, f64> {
        self.coefficients.view()
    }
    /// Consistency of a model read from a file.
    pub(crate) fn check_consistent(&self) -> std::result::Result<(), String> {
        super::fitted::check_linear(&self.expansion, &self.coefficients, self.intercept)
    }
    /// The fitted basis expansion (its standardizer maps raw to standardized inputs).
    pub fn expansion(&self) -> &BasisExpansion {
        &self.expansion
    }
    /// Linear predictor `b + φ(x)ᵀβ` (log-odds) for new rows.
    #[track_caller]
    pub fn log_odds(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let phi = self.expansion.transform(x);
        linalg::matvec(phi.view(), self.coefficients.view()) + self.intercept
    }
}

impl Predict for FittedLogistic {
    #[track_caller]
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        assert_eq!(
            x.ncols(),
            self.expansion.input_dim(),
            "logistic predict: expected {} columns, got {}",
            self.expansion.input_dim(),
            x.ncols()
        );
        self.log_odds(x).mapv(sigmoid)
    }

    fn diagnostics(&self) -> LearnerDiagnostics {
        LearnerDiagnostics {
            penalty: Some(self.penalty),
            iterations: Some(self.iterations),
            gradient_norm: Some(self.gradient_norm),
            jitter: Some(self.jitter),
            objective: Some(self.objective),
            ..LearnerDiagnostics::default()
        }
    }
}

impl Learner for LogisticParams {
    fn name(&self) -> &'static str {
        "logistic"
    }

    /// A 0/1 target is fitted as [`Learner::fit_probability`]; any other target
    /// is [`Error::Unsupported`] (logistic regression is not a regressor).
    fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel> {
        if check_binary(y).is_err() {
            return Err(Error::Unsupported {
                learner: "logistic".into(),
                what: "regress a continuous target (it models P(t = 1 | x) for a 0/1 target)"
                    .into(),
            });
        }
        self.fit_probability(x, y, weights, seed)
    }

    fn fit_probability(
        &self,
        x: ArrayView2<f64>,
        t: ArrayView1<f64>,
        weights: Option<ArrayView1<f64>>,
        seed: u64,
    ) -> Result<FittedModel> {
        Ok(FittedModel::Logistic(
            self.fit_logistic(x, t, weights, seed)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gradient_vanishes_at_the_optimum() {
        let x = array![
            [0.0, 1.0],
            [1.0, 0.5],
            [2.0, -1.0],
            [0.5, 0.0],
            [1.5, 2.0],
            [3.0, 1.0],
            [2.5, 0.2]
        ];
        let t = array![0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0];
        let w = array![1.0, 2.0, 0.5, 1.0, 1.5, 0.7, 1.2];
        let params = LogisticParams {
            penalty: 0.05,
            ..LogisticParams::default()
        };
        let fit = params
            .fit_logistic(x.view(), t.view(), Some(w.view()), 0)
            .unwrap();
        // Independent gradient on the standardized features.
        let (_, phi) = BasisExpansion::fit(Basis::Linear, 0, x.view(), w.view(), 0);
        let eta = phi.dot(&fit.coefficients()) + fit.intercept();
        let p = eta.mapv(sigmoid);
        let r = (&p - &t) * &w / w.sum();
        assert!(r.sum().abs() < 1e-13);
        for j in 0..2 {
            let g = phi.column(j).dot(&r) + 2.0 * 0.05 * fit.coefficients()[j];
            assert!(g.abs() < 1e-13, "gradient {j}: {g}");
        }
        let norm = fit.diagnostics().gradient_norm.unwrap();
        assert!(norm < 1e-13, "{norm}");
    }

    #[test]
    fn one_class_targets_are_refused_up_front() {
        let x = array![[0.0], [1.0], [2.0], [3.0]];
        let err = LogisticParams::default()
            .fit_logistic(x.view(), array![1.0, 1.0, 1.0, 1.0].view(), None, 0)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { ref name, .. } if name == "target"));
        // Rows of the other class with weight 0 do not count.
        let t = array![1.0, 1.0, 1.0, 0.0];
        let w = array![1.0, 2.0, 0.5, 0.0];
        let err = LogisticParams::default()
            .fit_logistic(x.view(), t.view(), Some(w.view()), 0)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidParameter { ref name, ref value, .. } if name == "target" && value == "1"),
            "{err}"
        );
    }

    #[test]
    fn separable_classes_fail_only_without_a_penalty() {
        let x = array![[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]];
        let t = array![0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let unpenalized = LogisticParams {
            penalty: 0.0,
            ..LogisticParams::default()
        };
        let err = unpenalized
            .fit_logistic(x.view(), t.view(), None, 0)
            .unwrap_err();
        match err {
            Error::NoConvergence { ref what, .. } => assert!(what.contains("separable"), "{what}"),
            other => panic!("{other}"),
        }
        // Any penalty gives a finite optimum, found to the tolerance.
        let fit = LogisticParams::default()
            .fit_logistic(x.view(), t.view(), None, 0)
            .unwrap();
        let p = fit.predict(x.view());
        assert!(p[0] < 0.05 && p[5] > 0.95, "{p}");
    }

    #[test]
    fn validation() {
        for bad in [
            LogisticParams {
                penalty: -1.0,
                ..LogisticParams::default()
            },
            LogisticParams {
                max_iter: 0,
                ..LogisticParams::default()
            },
            LogisticParams {
                tol: 0.0,
                ..LogisticParams::default()
            },
        ] {
            assert!(matches!(
                bad.validate(),
                Err(Error::InvalidParameter { .. })
            ));
        }
        let p: LogisticParams =
            toml::from_str("penalty = 0.01\nbasis = \"poly2\"\nmax_iter = 50").unwrap();
        assert_eq!(p.max_iter, 50);
        assert!(toml::from_str::<LogisticParams>("C = 1.0").is_err());
    }
}
