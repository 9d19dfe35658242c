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
//! # References
//! Nie & Wager (2021), Quasi-oracle estimation of heterogeneous treatment
//! effects, Biometrika 108(2).

use ndarray::{Array1, ArrayView1, Zip};

use crate::error::{Error, Result};

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
pub fn oracle_mean_outcome(
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
