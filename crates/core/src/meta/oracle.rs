//! Oracle nuisances: the true propensity and outcome means of a simulated
//! scenario in place of the cross-fitted estimates, a benchmark of the bias
//! stage alone (`docs/method.md` §2.2).
//!
//! # Model
//! A simulation knows, on every pooled training row `s_k` (GS rows first),
//! the propensity `p(s_k)`, the GS mean `ψ(s_k)` and the PB mean `η(s_k)`.
//!
//! # Algorithm
//! With `nuisances = "oracle"` the fit replaces step 2's estimates by
//! - `p̂_k = p(s_k)`, then clipped at `MetaRouterConfig::clip_level` and
//!   trimmed exactly like an estimate;
//! - R-learner: `μ̂(s_k) = E[o | s_k] = p(s_k)·c·ψ(s_k) + (1 − p(s_k))·η(s_k)`
//!   ([`oracle_mean_outcome`], `c` the scale constant of step 0);
//! - DR-learner: `μ̂₁ = c·ψ`, `μ̂₀ = η`.
//!
//! Steps 3–4 run unchanged. The R-learner with oracle nuisances is the
//! "oracle" of Nie & Wager's quasi-oracle bound: an R-learner with estimated
//! nuisances converging fast enough matches its error rate.
//!
//! # Perturbed oracles (`oracle_error`)
//! To study how nuisance errors reach `Δ̂`, [`OracleError`] replaces the
//! truth by a nuisance "learner" whose error has a known size that decays
//! with the number `N` of pooled training rows:
//! `δ_μ = outcome · N^(−outcome_rate)`, `δ_p = propensity · N^(−propensity_rate)`,
//! - `p̃(s) = expit(logit p(s) + δ_p)` (then clipped and trimmed as above;
//!   `p ∈ {0, 1}` stays), so `p̃ − p ≈ δ_p·p(1 − p)`;
//! - R-learner: `μ̃(s) = μ(s) + δ_μ`, `μ` built from the *true* clipped `p`
//!   (an outcome model's error does not follow the propensity's);
//! - DR-learner: `μ̃₁ = c·ψ + δ_μ`, `μ̃₀ = η + δ_μ`.
//!
//! The perturbation is a fixed function (no random draw): replicates differ
//! only by their data. In population (Kennedy 2023, Thm. 2 and its proof)
//! the DR pseudo-outcome's conditional mean is
//! `Δ + (p̃ − p)·[e₁/p̃ + e₀/(1 − p̃)]` with `e_a = μ̃_a − μ_a`, here
//! `Δ + δ_μ·(p̃ − p)/(p̃(1 − p̃)) ≈ Δ + δ_μ·δ_p`: the excess error is the
//! *product* of the nuisance errors, and vanishes when either is exact. The
//! R-learner's weighted-regression target is
//! `[Δ·p(1 − p) + e_μ·e_p] / [p(1 − p) + e_p²]` with `e_p = p̃ − p`: the
//! same product term plus `−Δ·e_p²/(p(1 − p))`, a second-order term in the
//! propensity error alone (Nie & Wager 2021, §4, where it is absorbed into
//! the quasi-oracle rate conditions). `simulations/theory/` measures both.
//!
//! # References
//! Nie & Wager (2021), Quasi-oracle estimation of heterogeneous treatment
//! effects, Biometrika 108(2).
//! Kennedy (2023), Towards optimal doubly robust estimation of heterogeneous
//! causal effects, Electronic Journal of Statistics 17(2).

use ndarray::{Array1, ArrayView1, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A controlled error of the oracle nuisances (module docs): sizes
/// `outcome · N^(−outcome_rate)` added to the outcome means and
/// `propensity · N^(−propensity_rate)` added to the propensity's logit.
/// Only with `nuisances = "oracle"` (simulation studies of the error rates).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OracleError {
    /// Scale of the outcome error (outcome units at `N = 1`).
    #[serde(default)]
    pub outcome: f64,
    /// Decay exponent `a` of the outcome error: `δ_μ ∝ N^(−a)` (≥ 0).
    #[serde(default)]
    pub outcome_rate: f64,
    /// Scale of the propensity error (logit units at `N = 1`).
    #[serde(default)]
    pub propensity: f64,
    /// Decay exponent `b` of the propensity error: `δ_p ∝ N^(−b)` (≥ 0).
    #[serde(default)]
    pub propensity_rate: f64,
}

impl OracleError {
    /// `(δ_μ, δ_p)` at `rows` pooled training rows.
    pub fn sizes(&self, rows: usize) -> (f64, f64) {
        let n = rows as f64;
        (
            self.outcome * n.powf(-self.outcome_rate),
            self.propensity * n.powf(-self.propensity_rate),
        )
    }

    /// Checks the four numbers: finite scales, finite rates `≥ 0`; errors
    /// name `oracle_error.<key>`.
    pub fn validate(&self) -> Result<()> {
        for (key, value, rate) in [
            ("outcome", self.outcome, false),
            ("outcome_rate", self.outcome_rate, true),
            ("propensity", self.propensity, false),
            ("propensity_rate", self.propensity_rate, true),
        ] {
            if !value.is_finite() || (rate && value < 0.0) {
                return Err(Error::param(
                    format!("oracle_error.{key}"),
                    value,
                    if rate {
                        "a decay exponent must be finite and >= 0"
                    } else {
                        "an error scale must be finite"
                    },
                ));
            }
        }
        Ok(())
    }

    /// The perturbed propensity `expit(logit p + δ_p)`, elementwise
    /// (`p ∈ {0, 1}` unchanged; `δ_p = 0` returns `p` exactly).
    pub fn propensity_of(&self, truth: ArrayView1<f64>, delta_p: f64) -> Array1<f64> {
        if delta_p == 0.0 {
            return truth.to_owned();
        }
        truth.mapv(|p| {
            if p <= 0.0 || p >= 1.0 {
                p
            } else {
                let logit = (p / (1.0 - p)).ln() + delta_p;
                1.0 / (1.0 + (-logit).exp())
            }
        })
    }
}

/// The true nuisances on the pooled training rows (GS rows first).
#[derive(Debug, Clone, PartialEq)]
pub struct OracleNuisances {
    /// `p(s_k) = P(t = 1 | s_k)`.
    pub propensity: Array1<f64>,
    /// `ψ(s_k) = E[r | s_k]` (GS units).
    pub psi: Array1<f64>,
    /// `η(s_k) = E[y | s_k]`.
    pub eta: Array1<f64>,
}

impl OracleNuisances {
    /// Checks the three arrays against `rows` pooled rows: equal lengths,
    /// finite values, `p ∈ [0, 1]`. Errors name the parameter `nuisances`.
    pub(crate) fn check(&self, rows: usize) -> Result<()> {
        for (name, values) in [
            ("propensity", &self.propensity),
            ("psi", &self.psi),
            ("eta", &self.eta),
        ] {
            if values.len() != rows {
                return Err(Error::param(
                    "nuisances",
                    "oracle",
                    format!(
                        "the true {name} has {} rows, the training data {rows}",
                        values.len()
                    ),
                ));
            }
            if let Some(row) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::param(
                    "nuisances",
                    "oracle",
                    format!("the true {name} is not finite at pooled row {row}"),
                ));
            }
        }
        if let Some(row) = self
            .propensity
            .iter()
            .position(|p| !(0.0..=1.0).contains(p))
        {
            return Err(Error::param(
                "nuisances",
                "oracle",
                format!("the true propensity lies outside [0, 1] at pooled row {row}"),
            ));
        }
        Ok(())
    }
}

/// Oracle R-learner outcome mean `E[o | s] = p·c·ψ + (1 − p)·η` (module docs).
pub(crate) fn oracle_mean_outcome(
    propensity: ArrayView1<f64>,
    psi: ArrayView1<f64>,
    eta: ArrayView1<f64>,
    scale: f64,
) -> Array1<f64> {
    Zip::from(&propensity)
        .and(&psi)
        .and(&eta)
        .map_collect(|&p, &psi, &eta| p * scale * psi + (1.0 - p) * eta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn mean_outcome_mixes_the_arms_by_the_propensity() {
        // 0.25·2·1 + 0.75·(−1) = −0.25; 1·2·3 + 0 = 6; 0 + 1·4 = 4.
        let mean = oracle_mean_outcome(
            array![0.25, 1.0, 0.0].view(),
            array![1.0, 3.0, 5.0].view(),
            array![-1.0, 0.0, 4.0].view(),
            2.0,
        );
        assert_eq!(mean, array![-0.25, 6.0, 4.0]);
    }

    #[test]
    fn mismatched_or_invalid_truth_names_the_parameter() {
        let truth = OracleNuisances {
            propensity: array![0.5, 1.5],
            psi: array![0.0, 0.0],
            eta: array![0.0, 0.0],
        };
        for rows in [2, 3] {
            match truth.check(rows) {
                Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "nuisances"),
                other => panic!("{other:?}"),
            }
        }
    }
}
