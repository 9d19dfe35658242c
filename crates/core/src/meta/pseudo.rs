//! Bias-stage targets of the R- and DR-learners (`docs/method.md` §2.3).
//!
//! # Model
//! Pooled rows `(s_k, t_k, o_k)` with `t = 1` for GS rows and `t = 0` for PB
//! rows; the PB bias `Δ(s) = E[o | s, t=1] − E[o | s, t=0]` is a conditional
//! average treatment effect of the evaluation mechanism.
//!
//! # Algorithm
//! - R-learner (Nie & Wager 2021): minimise `Σ_k [(o_k − μ̂(s_k)) − (t_k − p̂_k) Δ(s_k)]²`,
//!   i.e. a weighted regression of `z_k = (o_k − μ̂(s_k)) / (t_k − p̂_k)` on `s_k`
//!   with weights `(t_k − p̂_k)²` — [`r_learner_targets`].
//! - DR-learner (Kennedy 2023): regression of
//!   `φ_k = (t_k − p̂_k) / (p̂_k(1 − p̂_k)) · (o_k − μ̂_{t_k}(s_k)) + μ̂_1(s_k) − μ̂_0(s_k)`
//!   on `s_k` — [`dr_learner_targets`].
//!
//! `p̂` must already be clipped into `(0, 1)`.
//!
//! **Weights of the bias stage** (diagnostics, `docs/method.md` §2.3): the
//! factor multiplying a row's outcome residual in its target —
//! [`dr_residual_weights`] `|t − p̂|/(p̂(1 − p̂))` (`1/p̂` on GS rows,
//! `1/(1 − p̂)` on PB rows) and [`r_residual_factors`] `1/|t − p̂|` — and the
//! Kish effective sample size `(Σw)²/Σw²` of a stage's weights,
//! [`kish_effective_size`].
//!
//! # References
//! Nie, X. and Wager, S. (2021), Quasi-oracle estimation of heterogeneous
//! treatment effects, Biometrika 108(2). Kennedy, E. H. (2023), Towards optimal
//! doubly robust estimation of heterogeneous causal effects, EJS 17(2).
//! Zhang, Xie, Yang, Wu (2025), Meta-Router, arXiv 2509.25535, Algorithm 1.

use ndarray::{Array1, ArrayView1, Zip};

/// R-learner pseudo-outcomes `z_k` and weights `(t_k − p̂_k)²`.
pub fn r_learner_targets(
    outcome: ArrayView1<f64>,
    treatment: ArrayView1<f64>,
    mean_outcome: ArrayView1<f64>,
    propensity: ArrayView1<f64>,
) -> (Array1<f64>, Array1<f64>) {
    let residual_t = &treatment - &propensity;
    let pseudo = Zip::from(&outcome)
        .and(&mean_outcome)
        .and(&residual_t)
        .map_collect(|&o, &mu, &rt| (o - mu) / rt);
    let weights = residual_t.mapv(|v| v * v);
    (pseudo, weights)
}

/// DR-learner pseudo-outcomes `φ_k`.
pub fn dr_learner_targets(
    outcome: ArrayView1<f64>,
    treatment: ArrayView1<f64>,
    mean_gold: ArrayView1<f64>,
    mean_pref: ArrayView1<f64>,
    propensity: ArrayView1<f64>,
) -> Array1<f64> {
    let mut pseudo = Array1::zeros(outcome.len());
    Zip::from(&mut pseudo)
        .and(&outcome)
        .and(&treatment)
        .and(&mean_gold)
        .and(&mean_pref)
        .and(&propensity)
        .for_each(|phi, &o, &t, &mu1, &mu0, &p| {
            let mu_t = if t == 1.0 { mu1 } else { mu0 };
            *phi = (t - p) / (p * (1.0 - p)) * (o - mu_t) + mu1 - mu0;
        });
    pseudo
}

/// DR-learner residual weights `|t_k − p̂_k| / (p̂_k(1 − p̂_k))`: `1/p̂_k` on
/// GS rows and `1/(1 − p̂_k)` on PB rows, the inverse-propensity weights of
/// the pseudo-outcome `φ_k`.
pub fn dr_residual_weights(treatment: ArrayView1<f64>, propensity: ArrayView1<f64>) -> Array1<f64> {
    Zip::from(&treatment)
        .and(&propensity)
        .map_collect(|&t, &p| (t - p).abs() / (p * (1.0 - p)))
}

/// R-learner residual factors `1/|t_k − p̂_k|`: what multiplies the residual
/// `o_k − μ̂(s_k)` in the target `z_k` (its weight `(t_k − p̂_k)²` in the
/// stage cancels it to at most 1).
pub fn r_residual_factors(treatment: ArrayView1<f64>, propensity: ArrayView1<f64>) -> Array1<f64> {
    Zip::from(&treatment)
        .and(&propensity)
        .map_collect(|&t, &p| 1.0 / (t - p).abs())
}

/// Kish effective sample size `(Σw)²/Σw²` of non-negative weights (0 when
/// every weight is 0): the number of equally weighted rows that would give
/// a weighted mean the same variance.
pub fn kish_effective_size(weights: ArrayView1<f64>) -> f64 {
    let total: f64 = weights.sum();
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    if squares <= 0.0 {
        return 0.0;
    }
    total * total / squares
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Hand-worked rows (values chosen so the arithmetic is exact in binary):
    ///
    /// | k | t | o   | p̂    | μ̂   | μ̂₁  | μ̂₀   |
    /// |---|---|-----|------|------|------|-------|
    /// | 0 | 1 | 2.0 | 0.25 | 1.0  | 1.5  | 0.5   |
    /// | 1 | 0 | 0.5 | 0.25 | 1.0  | 1.5  | 0.5   |
    /// | 2 | 0 | -1  | 0.5  | 0.0  | 1.0  | -0.5  |
    /// | 3 | 1 | 3.0 | 0.5  | 2.0  | 2.5  | 1.0   |
    #[test]
    fn hand_worked_pseudo_outcomes() {
        let o = array![2.0, 0.5, -1.0, 3.0];
        let t = array![1.0, 0.0, 0.0, 1.0];
        let p = array![0.25, 0.25, 0.5, 0.5];
        let mu = array![1.0, 1.0, 0.0, 2.0];
        let mu1 = array![1.5, 1.5, 1.0, 2.5];
        let mu0 = array![0.5, 0.5, -0.5, 1.0];
        let (z, w) = r_learner_targets(o.view(), t.view(), mu.view(), p.view());
        // z0 = (2−1)/(0.75) = 4/3; z1 = (0.5−1)/(−0.25) = 2; z2 = (−1−0)/(−0.5) = 2;
        // z3 = (3−2)/0.5 = 2.
        let expected_z = array![4.0 / 3.0, 2.0, 2.0, 2.0];
        let expected_w = array![0.5625, 0.0625, 0.25, 0.25];
        for k in 0..4 {
            assert!((z[k] - expected_z[k]).abs() < 1e-15, "z[{k}] = {}", z[k]);
            assert_eq!(w[k], expected_w[k]);
        }
        let phi = dr_learner_targets(o.view(), t.view(), mu1.view(), mu0.view(), p.view());
        // φ0 = (0.75/0.1875)(2−1.5) + 1 = 4·0.5 + 1 = 3
        // φ1 = (−0.25/0.1875)(0.5−0.5) + 1 = 1
        // φ2 = (−0.5/0.25)(−1+0.5) + 1.5 = (−2)(−0.5) + 1.5 = 2.5
        // φ3 = (0.5/0.25)(3−2.5) + 1.5 = 1 + 1.5 = 2.5
        let expected_phi = array![3.0, 1.0, 2.5, 2.5];
        // |t − p̂|/(p̂(1 − p̂)): 1/0.25, 1/0.75, 1/0.5, 1/0.5.
        let a = dr_residual_weights(t.view(), p.view());
        assert_eq!(a, array![4.0, 4.0 / 3.0, 2.0, 2.0]);
        // 1/|t − p̂|: 1/0.75, 1/0.25, 1/0.5, 1/0.5.
        let f = r_residual_factors(t.view(), p.view());
        assert_eq!(f, array![4.0 / 3.0, 4.0, 2.0, 2.0]);
        // (Σw)²/Σw² of the R weights: 1.125² / (0.31640625 + 0.00390625 + 0.125).
        let n_eff = kish_effective_size(w.view());
        assert!((n_eff - 1.265625 / 0.4453125).abs() < 1e-14);
        assert_eq!(kish_effective_size(array![0.0, 0.0].view()), 0.0);
        assert_eq!(kish_effective_size(array![2.0, 2.0, 2.0].view()), 3.0);
        for k in 0..4 {
            assert!(
                (phi[k] - expected_phi[k]).abs() < 1e-14,
                "phi[{k}] = {}",
                phi[k]
            );
        }
    }
}
