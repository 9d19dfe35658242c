//! Scalar functions shared by the learners: the logistic function and softplus.
//!
//! # Model
//! `σ(u) = 1 / (1 + e^{−u})` and `softplus(u) = log(1 + e^u)`, so that
//! `softplus′ = σ` and the logistic log-loss of a 0/1 target `t` at log-odds `u`
//! is `softplus(u) − t·u`.
//!
//! # Algorithm
//! `σ` is evaluated as written: `e^{−u}` overflows to `+∞` for `u < −709`, and
//! `1/(1 + ∞) = 0`, so there is no NaN anywhere; every operation has a relative
//! rounding error of at most one ulp, so `σ(u)` is accurate to a few ulps in
//! relative terms across the whole range (also in the lower tail, where the
//! alternative `e^u/(1 + e^u)` is not more accurate). It is bit-for-bit
//! statrs's `function::logistic::logistic`. statrs has no softplus; it is
//! computed as `max(u, 0) + log1p(e^{−|u|})`, which neither overflows nor loses
//! the small tail value to cancellation.
//!
//! These are the single definitions used by [`super::logistic`] and
//! [`super::boosting`]; other layers (e.g. the scenario generators) can use
//! them through `crate::learners::numerics`.
//!
//! # References
//! - Mächler (2012), "Accurately computing log(1 − exp(−|a|))", CRAN `Rmpfr`
//!   vignette (the `log1p(exp(·))` forms).
//!
//! # Example
//! (Crate-internal; see the unit tests.)

/// The logistic function `1 / (1 + e^{−u})`, in `[0, 1]` for every `u`
/// (NaN only for a NaN input).
#[inline]
pub(crate) fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

/// `log(1 + e^u)` without overflow or cancellation.
#[inline]
pub(crate) fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_statrs_logistic_and_stable() {
        for k in -2000..=2000 {
            let u = k as f64 * 0.4;
            assert_eq!(
                sigmoid(u).to_bits(),
                statrs::function::logistic::logistic(u).to_bits(),
                "u = {u}"
            );
        }
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(0.3) + sigmoid(-0.3) - 1.0).abs() < 1e-15);
        // Lower tail: relative accuracy, e^{-30} / (1 + e^{-30}).
        let tail = (-30f64).exp() / (1.0 + (-30f64).exp());
        assert!((sigmoid(-30.0) / tail - 1.0).abs() < 4.0 * f64::EPSILON);
    }

    #[test]
    fn softplus_is_stable() {
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0 && softplus(-1000.0) < 1e-300);
        // Small tail: softplus(u) ≈ e^u.
        assert!((softplus(-40.0) / (-40f64).exp() - 1.0).abs() < 1e-15);
        // softplus(u) − softplus(−u) = u.
        for u in [0.1, 1.0, 7.5, 33.0] {
            assert!((softplus(u) - softplus(-u) - u).abs() < 1e-14 * (1.0 + u));
        }
    }
}
