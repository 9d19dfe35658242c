//! The decision rule and its regret, written once for any number of models.
//!
//! # Model
//! A query has `K ≥ 2` options, option 0 the reference. Option `k` carries a
//! score `s_k` (an estimated or, for the oracle, the true gain over the
//! reference; `s_0 = 0`) and a cost relative to the reference's, `r_k = C_k − C_0`
//! (`r_0 = 0`).
//!
//! # Algorithm
//! `docs/method.md` §4 (two models) and §9 (many):
//! - the value of option `k` at cost weight `w ≥ 0` is `s_k − w r_k` ([`objective`]);
//! - the rule takes the option of largest value, ties to the lowest index, so
//!   the reference wins ties ([`choose`]);
//! - a query's regret is the value, scored by the realised gains, of the
//!   option the rule picks on the gains minus that of the option it picked on
//!   the router's scores ([`regret_term`]); it is `≥ 0` exactly, because both
//!   values are the same floating-point expression and the first is the maximum.
//!
//! Two models are the case `K = 2` ([`two_models`]): option 1 is the primary
//! model with score `ψ̂` and relative cost `c = C_p − C_a`, and the rule sends
//! the query to it iff `ψ̂ − w c > 0`, which in floating point is exactly
//! `ψ̂ > w c` (a difference of finite numbers is zero only when they are equal).

/// `s − w r`: the value of an option with score `s` and relative cost `r` at
/// cost weight `w` (up to the constant `−w C_0`, which no decision depends on).
pub(crate) fn objective(score: f64, relative_cost: f64, w: f64) -> f64 {
    score - w * relative_cost
}

/// The option of largest `value(k)`, `k = 0..options`, ties to the lowest index.
pub(crate) fn choose(options: usize, value: impl Fn(usize) -> f64) -> usize {
    let mut best = 0;
    let mut best_value = value(0);
    for k in 1..options {
        let v = value(k);
        if v > best_value {
            best = k;
            best_value = v;
        }
    }
    best
}

/// One query's regret: `value(best) − value(chosen)` with `value` the realised
/// gains' objective, where `best` is the rule's choice on the gains (0 when
/// the choices agree).
pub(crate) fn regret_term(value: impl Fn(usize) -> f64, chosen: usize, best: usize) -> f64 {
    if chosen == best {
        0.0
    } else {
        value(best) - value(chosen)
    }
}

/// The two-model options of a query at cost weight `w`: option 0 the
/// alternative (value 0), option 1 the primary model with score `score` and
/// relative cost `c`.
pub(crate) fn two_models(score: f64, c: f64, w: f64) -> impl Fn(usize) -> f64 {
    move |k| {
        if k == 0 {
            objective(0.0, 0.0, w)
        } else {
            objective(score, c, w)
        }
    }
}
