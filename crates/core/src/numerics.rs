//! Scalar functions shared by the learners and the scenario generators: the
//! logistic function, softplus, and the cosine of the random Fourier features.
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
//! These are the single definitions used by [`crate::learners::logistic`],
//! [`crate::learners::boosting`] and the simulation suite's scenario
//! generators.
//!
//! `cos` is the cosine of the random-Fourier-feature map. `f64::cos` calls
//! the C library for every element: about 30 ns each here, three quarters of
//! a ridge fit on 256 random features, and its last bit may differ between C
//! libraries. This one is the textbook scheme, written out so that it is the
//! same on every platform and cheap: `n = round(x/π)` (the 1.5·2⁵² rounding
//! trick), `r = x − nπ` with π split in two parts (exact product for
//! `|n| < 2²⁰`), `cos x = (−1)ⁿ (1 − 2 sin²(r/2))` with the minimax
//! polynomial for `sin` on `[−π/4, π/4]` (the Cephes coefficients), and the
//! sign from the parity of `n` without a branch, so that loops vectorize. The absolute error is below 4e-16 for `|x| ≤ 10⁵`
//! (tested against `f64::cos`); larger or non-finite arguments go to
//! `f64::cos`. No crate on the allowed list provides a portable vectorizable
//! cosine.
//!
//! # References
//! - Moshier, *Methods and Programs for Mathematical Functions* (1989), the
//!   Cephes library (`sin.c`: the polynomial coefficients); Cody & Waite,
//!   *Software Manual for the Elementary Functions* (1980) (the split-constant
//!   argument reduction).
//! - Mächler (2012), "Accurately computing log(1 − exp(−|a|))", CRAN `Rmpfr`
//!   vignette (the `log1p(exp(·))` forms).
//!
//! # Example
//! ```
//! use meta_router_core::numerics::{sigmoid, softplus};
//! assert_eq!(sigmoid(0.0), 0.5);
//! assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-15);
//! assert_eq!(softplus(1000.0), 1000.0);
//! ```

/// The logistic function `1 / (1 + e^{−u})`, in `[0, 1]` for every `u`
/// (NaN only for a NaN input).
#[inline]
pub fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

/// `log(1 + e^u)` without overflow or cancellation.
#[inline]
pub fn softplus(u: f64) -> f64 {
    u.max(0.0) + (-u.abs()).exp().ln_1p()
}

/// `π` in two parts: the leading 33 bits and the rest.
const PI_HI: f64 = 3.1415926534682512;
const PI_LO: f64 = 1.2154201013012384e-10;
/// `1.5 · 2⁵²`: adding and subtracting it rounds to the nearest integer.
const ROUNDER: f64 = 6_755_399_441_055_744.0;
/// Largest `|x|` reduced by the two-part constant.
pub(crate) const COS_REDUCTION_LIMIT: f64 = 1e5;

/// `cos x` for the random Fourier features (see the module docs): a
/// deterministic polynomial scheme for `|x| ≤ 10⁵`, `f64::cos` beyond.
#[inline]
pub(crate) fn cos(x: f64) -> f64 {
    if x.abs() <= COS_REDUCTION_LIMIT {
        cos_reduced(x)
    } else {
        x.cos()
    }
}

/// The polynomial part of [`cos`], valid for `|x| ≤ 10⁵`; branch-free, so a
/// loop over it vectorizes. `n = round(x/π)`, `r = x − nπ ∈ [−π/2, π/2]`,
/// `cos x = (−1)ⁿ cos r = (−1)ⁿ (1 − 2 sin²(r/2))` with `|r/2| ≤ π/4`.
#[inline(always)]
pub(crate) fn cos_reduced(x: f64) -> f64 {
    let n = (x * std::f64::consts::FRAC_1_PI + ROUNDER) - ROUNDER;
    let half = 0.5 * ((x - n * PI_HI) - n * PI_LO);
    let z = half * half;
    let sin_half = half
        + half
            * z
            * (-0.1666666666666663
                + z * (0.008333333333322118
                    + z * (-0.0001984126982958954
                        + z * (2.7557313621385722e-06
                            + z * (-2.5050747762857807e-08 + z * 1.5896230157654656e-10)))));
    let cos_r = 1.0 - 2.0 * sin_half * sin_half;
    // n is even exactly when n/2 is an integer (n/2 rounds to itself).
    let n_half = 0.5 * n;
    let even = (n_half + ROUNDER) - ROUNDER == n_half;
    if even {
        cos_r
    } else {
        -cos_r
    }
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

    #[test]
    fn cosine_matches_the_c_library() {
        let mut worst: f64 = 0.0;
        let mut check = |x: f64| {
            let error = (cos(x) - x.cos()).abs();
            worst = worst.max(error);
        };
        for i in -200_000..=200_000 {
            check(i as f64 * 0.5 + 0.123_456_789);
        }
        for k in -1000..=1000 {
            let x = k as f64 * std::f64::consts::FRAC_PI_2;
            check(x);
            check(x + 1e-9);
            check(x - 1e-9);
        }
        for x in [0.0, -0.0, 1e-300, 1.0, -1.0, 99_999.9, -99_999.9] {
            check(x);
        }
        assert!(worst < 4e-16, "largest error {worst:e}");
        // π's leading part has 33 significant bits: n·PI_HI is exact.
        assert_eq!(PI_HI.to_bits() & ((1 << 20) - 1), 0);
        assert!((PI_HI + PI_LO - std::f64::consts::PI).abs() <= f64::EPSILON);
        // Beyond the reduction range and for non-finite input: the C library.
        for x in [1e5 + 1.0, -3e7, 1e300] {
            assert_eq!(cos(x), x.cos());
        }
        assert!(cos(f64::NAN).is_nan() && cos(f64::INFINITY).is_nan());
    }
}
