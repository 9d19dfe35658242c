//! Scale normalization of GS labels against PB labels (paper Remark 1;
//! `docs/method.md` §2.0).
//!
//! # Model
//! GS and PB evaluations may live on different scales (a 0–10 rubric score vs a
//! win rate). With a constant `c`, GS labels are learned as `c·r`, so the bias
//! stage estimates `c·ψ − η`; the returned `ψ̂` is divided by `c` so routing
//! thresholds stay in GS units.
//!
//! # Algorithm
//! - `none`: `c = 1`;
//! - `variance`: `c = sd(y) / sd(r)` (sample standard deviations);
//! - `magnitude`: `c = mean|y| / mean|r|`;
//! - `wasserstein`: `c = Σ_u F_r⁻¹(u) F_y⁻¹(u) / Σ_u F_r⁻¹(u)²` on the grid
//!   `u_i = (i − ½)/G`, `i = 1..G`, `G = 200`, with empirical quantiles by linear
//!   interpolation between order statistics (Hyndman–Fan type 7). This is the
//!   least-squares slope through the origin of the quantile–quantile map, i.e.
//!   the `c` minimising the 2-Wasserstein distance between the laws of `c·r`
//!   and `y`.
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), Meta-Router, arXiv 2509.25535, Remark 1.

use ndarray::{Array1, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of quantile levels in the `wasserstein` constant.
pub(crate) const WASSERSTEIN_GRID: usize = 200;

/// Scale normalization option.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalize {
    /// `c = 1`.
    #[default]
    None,
    /// Ratio of standard deviations.
    Variance,
    /// Ratio of mean absolute values.
    Magnitude,
    /// Quantile-matching (2-Wasserstein) slope.
    Wasserstein,
}

impl Normalize {
    /// The scale constant `c` from GS labels `r` and PB labels `y`.
    pub fn constant(self, gold: ArrayView1<f64>, pref: ArrayView1<f64>) -> Result<f64> {
        let c = match self {
            Normalize::None => return Ok(1.0),
            Normalize::Variance => ratio(
                sample_sd(pref),
                sample_sd(gold),
                "sd of gold-standard labels",
            )?,
            Normalize::Magnitude => ratio(
                pref.mapv(f64::abs).mean().unwrap_or(0.0),
                gold.mapv(f64::abs).mean().unwrap_or(0.0),
                "mean |gold-standard label|",
            )?,
            Normalize::Wasserstein => {
                let mut r = gold.to_vec();
                let mut y = pref.to_vec();
                r.sort_by(f64::total_cmp);
                y.sort_by(f64::total_cmp);
                let (mut cross, mut square) = (0.0, 0.0);
                for i in 0..WASSERSTEIN_GRID {
                    let u = (i as f64 + 0.5) / WASSERSTEIN_GRID as f64;
                    let qr = quantile_sorted(&r, u);
                    cross += qr * quantile_sorted(&y, u);
                    square += qr * qr;
                }
                ratio(cross, square, "sum of squared gold-standard quantiles")?
            }
        };
        if c <= 0.0 || !c.is_finite() {
            return Err(Error::param(
                "normalize",
                format!("{self:?} (c = {c})"),
                "the scale constant must be positive; the GS and PB labels point in opposite directions",
            ));
        }
        Ok(c)
    }
}

fn ratio(numerator: f64, denominator: f64, what: &str) -> Result<f64> {
    if denominator <= 0.0 || !denominator.is_finite() {
        return Err(Error::param(
            "normalize",
            denominator,
            format!("cannot normalize: {what} is zero"),
        ));
    }
    Ok(numerator / denominator)
}

fn sample_sd(x: ArrayView1<f64>) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    x.std(1.0)
}

/// What a meta-learner's `Δ̂` estimates under scale constant `c`: the bias
/// between the scaled GS gain and the PB gain, `c·ψ − η = (c − 1)ψ + Δ`
/// (`Δ` itself when `c = 1`), from the true `ψ` and `Δ` at some queries.
pub fn bias_estimand(scale: f64, psi: ArrayView1<f64>, delta: ArrayView1<f64>) -> Array1<f64> {
    (scale - 1.0) * &psi + delta
}

/// Type-7 empirical quantile of sorted data at level `u ∈ [0, 1]`.
pub(crate) fn quantile_sorted(sorted: &[f64], u: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * u;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn constants_recover_a_pure_rescaling() {
        let r = array![-1.0, 0.5, 2.0, 3.0, -0.25];
        let y = r.mapv(|v| 2.5 * v);
        for n in [
            Normalize::Variance,
            Normalize::Magnitude,
            Normalize::Wasserstein,
        ] {
            let c = n.constant(r.view(), y.view()).unwrap();
            assert!((c - 2.5).abs() < 1e-12, "{n:?}: {c}");
        }
        assert_eq!(Normalize::None.constant(r.view(), y.view()).unwrap(), 1.0);
    }

    #[test]
    fn hand_computed_magnitude_and_variance() {
        let r = array![1.0, 3.0];
        let y = array![2.0, -6.0, 4.0];
        // mean|y| = 4, mean|r| = 2.
        assert!((Normalize::Magnitude.constant(r.view(), y.view()).unwrap() - 2.0).abs() < 1e-15);
        // sd(r) = √2; sd(y): mean 0, Σy² = 56, /2 = 28 → √28.
        let c = Normalize::Variance.constant(r.view(), y.view()).unwrap();
        assert!((c - (28.0f64).sqrt() / 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn degenerate_gold_labels_are_an_error() {
        let r = array![1.0, 1.0, 1.0];
        let y = array![0.0, 1.0, 2.0];
        assert!(Normalize::Variance.constant(r.view(), y.view()).is_err());
        let zero = array![0.0, 0.0];
        assert!(Normalize::Magnitude
            .constant(zero.view(), y.view())
            .is_err());
        assert!(Normalize::Wasserstein
            .constant(zero.view(), y.view())
            .is_err());
    }

    #[test]
    fn type7_quantiles() {
        let s = [1.0, 2.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
        assert_eq!(quantile_sorted(&s, 0.75), 3.0);
    }
}
