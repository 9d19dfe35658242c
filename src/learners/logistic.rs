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
//! `β = 0`: gradient `g = (1/S) Xᵀ W (p − t) + 2λ(0, β)` and Hessian
//! `H = (1/S) Xᵀ diag(w p(1−p)) X + 2λ diag(0, I)` with `X = [1, Φ]`; the step
//! `H⁻¹g` is solved by Cholesky (with the jitter fallback of
//! [`crate::linalg::cholesky_solve`]) and halved until the objective decreases.
//! Converged when the largest step component is below `tol · (1 + max|θ|)`;
//! otherwise [`Error::NoConvergence`] after `max_iter` iterations (this happens
//! e.g. when every target is 1, so the intercept diverges). Each iteration
//! costs `O(N p²)`.
//!
//! Diagnostics: `penalty`, `iterations`, `jitter` (largest used), `objective`.
//!
//! # References
//! - McCullagh & Nelder (1989), *Generalized Linear Models*, 2nd ed., §4.4 (IRLS).
//! - Le Cessie & van Houwelingen (1992), "Ridge estimators in logistic regression",
//!   *Applied Statistics* 41(1).
//!
//! # Example
//! ```
//! use meta_router::learners::{Learner, LogisticParams};
//! use ndarray::{Array1, Array2};
//!
//! let x = Array2::from_shape_fn((200, 1), |(i, _)| (i as f64 - 100.0) / 25.0);
//! let t: Array1<f64> = (0..200).map(|i| if (i * 37) % 100 < i / 2 { 1.0 } else { 0.0 }).collect();
//! let fitted = LogisticParams::default().fit_probability(x.view(), t.view(), None, 0).unwrap();
//! let p = fitted.predict(x.view());
//! assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
//! assert!(p[199] > p[0]);
//! ```

use ndarray::{concatenate, Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::basis::{Basis, BasisExpansion};
use super::numerics::{sigmoid, softplus};
use super::{check_binary, check_training, Learner, Predict};
use crate::error::{Error, Result};
use crate::linalg;

/// Logistic regression configuration (`{ type = "logistic", ... }`).
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
    /// Relative step tolerance for convergence (> 0).
    pub tol: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            basis: Basis::Linear,
            features: 300,
            penalty: 1e-4,
            max_iter: 100,
            tol: 1e-10,
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
        let (expansion, phi) = BasisExpansion::fit(self.basis, self.features, x, w.view(), seed);
        let n = phi.nrows();
        let design = concatenate(Axis(1), &[Array2::ones((n, 1)).view(), phi.view()])
            .expect("same row count");
        let total = w.sum();
        let t_mean = t.dot(&w) / total;
        let mut theta = Array1::<f64>::zeros(design.ncols());
        theta[0] = (t_mean.clamp(1e-12, 1.0 - 1e-12) / (1.0 - t_mean).clamp(1e-12, 1.0)).ln();
        let objective = |theta: &Array1<f64>| -> f64 {
            let eta = linalg::matvec(design.view(), theta.view());
            let loss: f64 = eta
                .iter()
                .zip(t)
                .zip(&w)
                .map(|((&e, &ti), &wi)| wi * (softplus(e) - ti * e))
                .sum();
            let slopes = theta.slice(ndarray::s![1..]);
            loss / total + self.penalty * slopes.dot(&slopes)
        };
        let mut current = objective(&theta);
        let mut max_jitter = 0.0f64;
        for iteration in 1..=self.max_iter {
            let eta = linalg::matvec(design.view(), theta.view());
            let p = eta.mapv(sigmoid);
            let curvature: Array1<f64> = p
                .iter()
                .zip(&w)
                .map(|(pi, wi)| wi * pi * (1.0 - pi))
                .collect();
            let mut hessian = linalg::weighted_gram(design.view(), Some(curvature.view())) / total;
            let mut gradient =
                linalg::weighted_cross(design.view(), (&p - &t).view(), Some(w.view())) / total;
            for j in 1..theta.len() {
                hessian[[j, j]] += 2.0 * self.penalty;
                gradient[j] += 2.0 * self.penalty * theta[j];
            }
            let (step, info) = linalg::cholesky_solve_vec(hessian.view(), gradient.view())?;
            max_jitter = max_jitter.max(info.jitter);
            let decrease = gradient.dot(&step);
            let mut scale = 1.0;
            let mut accepted = None;
            for _ in 0..40 {
                let candidate = &theta - &(&step * scale);
                let value = objective(&candidate);
                if value.is_finite() && value <= current - 1e-4 * scale * decrease.max(0.0) {
                    accepted = Some((candidate, value));
                    break;
                }
                scale *= 0.5;
            }
            let largest_step = step.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let largest_theta = theta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let small = largest_step <= self.tol * (1.0 + largest_theta);
            match accepted {
                Some((candidate, value)) => {
                    theta = candidate;
                    current = value;
                }
                // No decrease possible: at the optimum up to rounding, or stuck.
                None if small || decrease.abs() <= 1e-14 * (1.0 + current.abs()) => {}
                None => break,
            }
            if small {
                return Ok(FittedLogistic {
                    expansion,
                    intercept: theta[0],
                    coefficients: theta.slice(ndarray::s![1..]).to_owned(),
                    penalty: self.penalty,
                    iterations: iteration,
                    jitter: max_jitter,
                    objective: current,
                });
            }
        }
        Err(Error::NoConvergence {
            what: "logistic regression (Newton/IRLS)".into(),
            iterations: self.max_iter,
        })
    }
}

/// A fitted logistic model; predictions are probabilities in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct FittedLogistic {
    expansion: BasisExpansion,
    intercept: f64,
    coefficients: Array1<f64>,
    penalty: f64,
    iterations: usize,
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

    fn diagnostics(&self) -> Vec<(String, f64)> {
        vec![
            ("penalty".into(), self.penalty),
            ("iterations".into(), self.iterations as f64),
            ("jitter".into(), self.jitter),
            ("objective".into(), self.objective),
        ]
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
    ) -> Result<Box<dyn Predict>> {
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
    ) -> Result<Box<dyn Predict>> {
        Ok(Box::new(self.fit_logistic(x, t, weights, seed)?))
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
        assert!(r.sum().abs() < 1e-10);
        for j in 0..2 {
            let g = phi.column(j).dot(&r) + 2.0 * 0.05 * fit.coefficients()[j];
            assert!(g.abs() < 1e-10, "gradient {j}: {g}");
        }
    }

    #[test]
    fn all_ones_target_does_not_converge() {
        let x = array![[0.0], [1.0], [2.0]];
        let t = array![1.0, 1.0, 1.0];
        let params = LogisticParams {
            max_iter: 20,
            ..LogisticParams::default()
        };
        let err = params
            .fit_logistic(x.view(), t.view(), None, 0)
            .unwrap_err();
        assert!(matches!(err, Error::NoConvergence { .. }), "{err}");
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
