//! Routing decisions and routing metrics: the decision rule, usage-ratio
//! curves (EG, NEG, paper-scale EG and the NEG area), regret over cost
//! weights, and the `oracle` and `random` references.
//!
//! # Model
//!
//! A router scores each test query `j = 1..T` with an estimated gold-standard
//! gain `ψ̂_j` of the primary model `M_p` over the alternative `M_a`. The
//! realised gain of sending query `j` to `M_p` is `g_j` (in simulation the true
//! `ψ(q_j)`, on real data the GS label), and sending it costs
//! `c_j = C_p(q_j) − C_a(q_j)` more (default `C_p = 1`, `C_a = 0`, so `c_j = 1`).
//!
//! # Algorithm
//!
//! `docs/method.md` §4 (the paper's routing evaluation):
//!
//! - **Decision rule**: send `q_j` to `M_p` iff `ψ̂_j > w · c_j` ([`route`]).
//! - **Usage ratio** `ρ ∈ [0, 1]`: route the top `k = round(ρT)` queries by `ψ̂`
//!   (ties broken by the lower index first; `round` is half away from zero).
//!   `V(ρ) = (1/T) Σ_{top k} g_j`; `V_rand(ρ) = ρ · mean(g)` (the exact
//!   expectation of routing a random fraction ρ); `V*(ρ)` = the same top-k sum
//!   ordered by the true gain `g`.
//! - `EG(ρ) = V(ρ) − V_rand(ρ)`; `NEG(ρ) = EG(ρ) / (V*(ρ) − V_rand(ρ))`;
//!   `EG_paper(ρ) = EG(ρ) / mean(g)`.
//! - `A = ∫ NEG dρ` by the trapezoid rule over the ρ grid.
//! - `Reg(w) = (1/T) Σ_j (g_j − w c_j)(1{g_j > w c_j} − 1{ψ̂_j > w c_j})`.
//!   Every term is `≥ 0` (also in floating point), so `Reg(w) ≥ 0`.
//! - `MSE = mean_j (ψ̂_j − ψ_j)²` ([`mse`]).
//!
//! Conventions that keep NaN out of results:
//!
//! - **Zero NEG denominator.** When `|V* − V_rand|` is within rounding of zero
//!   (always at `ρ = 0` and `ρ = 1`, and at every ρ when all gains are equal),
//!   no ordering can beat random routing and `NEG(ρ)` is defined as `0`. "Within
//!   rounding" means `≤ 16 ε Σ_j |g_j|`: a recursive sum of `T` terms errs by
//!   at most about `T ε Σ|g|`, so the `(1/T)`-scaled values `V`, `V*`,
//!   `V_rand` each err by at most about `ε Σ|g|`. Consequently even the oracle has `NEG(0) =
//!   NEG(1) = 0`, and its area on a grid with endpoints 0 and 1 is slightly
//!   below 1 (`1 − h` on a uniform grid of spacing `h`).
//! - **Zero mean gain.** `EG_paper` is `None` at every ρ when `|mean(g)|` is
//!   within the same rounding bound of zero (the paper's scale is undefined).
//! - **Cutoff.** With [`Cutoff::Positive`] (the authors' script)
//!   the curve stops at `#{ψ̂ > 0}` queries: grid points with
//!   `round(ρT) > #{ψ̂ > 0}` are not reached, their `EG`, `NEG`, `EG_paper` and `V`
//!   are `None`, and [`RoutingEvaluation::reached`] counts the reached ones.
//!   The area then runs over the reached part of the grid only.
//! - `V_rand` uses ρ itself while `V` and `V*` use `k/T`; when `ρT` is not an
//!   integer, `EG` therefore carries a rounding term of at most
//!   `|mean(g)| / (2T)`. Choose grids with integer `ρT` to avoid it.
//!
//! Sums over a routed set are taken in index order, so two orderings that
//! route the same set give bit-identical values (e.g. `V(1) = V*(1) =
//! V_rand(1)` exactly, and the oracle's `NEG` is exactly 1 where defined).
//!
//! # References
//!
//! Zhang, Xie, Yang, Wu (2025). *Meta-Router: Bridging Gold-standard and
//! Preference-based Evaluations in Large Language Model Routing.*
//! arXiv:2509.25535 (efficiency-gain curves, Fig. 1).
//!
//! # Example
//!
//! ```
//! use meta_router_core::routing::{default_costs, evaluate, route, Cutoff};
//! use ndarray::array;
//!
//! let psi_hat = array![0.3, -0.1, 0.2, 0.0];
//! let gain = array![0.4, -0.2, 0.1, 0.1];
//! let costs = default_costs(4);
//! assert_eq!(route(psi_hat.view(), costs.view(), 0.15).unwrap(), vec![true, false, true, false]);
//!
//! let eval = evaluate(
//!     psi_hat.view(),
//!     gain.view(),
//!     costs.view(),
//!     &[0.0, 0.25, 0.5, 0.75, 1.0],
//!     &[0.0, 0.15],
//!     Cutoff::None,
//! )
//! .unwrap();
//! assert_eq!(eval.reached, 5);
//! assert!(eval.regret.iter().all(|&r| r >= 0.0));
//! ```

pub mod multi;
pub mod router;
mod rule;

use std::cmp::Ordering;

use ndarray::{Array1, ArrayView1};
use serde::{Deserialize, Serialize};

use crate::checks::check_finite_vector as check_finite;
use crate::error::{Error, Result};

/// Default per-query cost of the primary model, `C_p`.
pub const DEFAULT_PRIMARY_COST: f64 = 1.0;
/// Default per-query cost of the alternative model, `C_a`.
pub const DEFAULT_ALTERNATIVE_COST: f64 = 0.0;
/// Multiple of `ε Σ|g|` below which a difference of routing values is
/// treated as zero (see the module docs).
pub(crate) const ROUNDING_FACTOR: f64 = 16.0;

/// Where the usage-ratio curve stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cutoff {
    /// The curve covers the whole ρ grid (default).
    #[default]
    None,
    /// The curve stops at `#{ψ̂ > 0}` routed queries (the authors' script).
    Positive,
}

/// Per-query cost differences `c_j = C_p − C_a` for the default costs
/// (`C_p = 1`, `C_a = 0`), i.e. a vector of `t` ones.
pub fn default_costs(t: usize) -> Array1<f64> {
    Array1::from_elem(t, DEFAULT_PRIMARY_COST - DEFAULT_ALTERNATIVE_COST)
}

/// Per-query cost differences `c_j = C_p(q_j) − C_a(q_j)` from per-query costs.
///
/// Costs must be finite and `≥ 0`; the difference may be negative (the primary
/// model is then the cheaper one for that query).
pub fn cost_differences(
    primary: ArrayView1<f64>,
    alternative: ArrayView1<f64>,
) -> Result<Array1<f64>> {
    check_same_len(
        "primary and alternative costs",
        primary.len(),
        alternative.len(),
    )?;
    for (what, costs) in [("primary cost", primary), ("alternative cost", alternative)] {
        check_finite(what, costs)?;
        if let Some((row, &value)) = costs.iter().enumerate().find(|(_, &c)| c < 0.0) {
            return Err(Error::param(
                format!("{what}[{row}]"),
                value,
                "costs must be >= 0",
            ));
        }
    }
    Ok(&primary - &alternative)
}

/// The routing decision: `true` (send to the primary model) iff `ψ̂_j > w · c_j`.
///
/// Errors on length mismatch, non-finite inputs or `w` negative / non-finite.
pub fn route(psi_hat: ArrayView1<f64>, costs: ArrayView1<f64>, w: f64) -> Result<Vec<bool>> {
    check_same_len("psi_hat and costs", psi_hat.len(), costs.len())?;
    check_finite("psi_hat", psi_hat)?;
    check_finite("costs", costs)?;
    check_weight(w)?;
    Ok(psi_hat
        .iter()
        .zip(costs.iter())
        .map(|(&p, &c)| rule::choose(2, rule::two_models(p, c, w)) == 1)
        .collect())
}

/// The routing policy as 0/1 indicators: `π_j = 1{ψ̂_j > w · c_j}` ([`route`]).
pub fn routed_indicator(
    psi_hat: ArrayView1<f64>,
    costs: ArrayView1<f64>,
    w: f64,
) -> Result<Array1<f64>> {
    Ok(route(psi_hat, costs, w)?
        .into_iter()
        .map(|routed| if routed { 1.0 } else { 0.0 })
        .collect())
}

/// Mean squared error `mean_j (estimate_j − truth_j)²`.
///
/// Errors on empty input, length mismatch or non-finite values.
pub fn mse(estimate: ArrayView1<f64>, truth: ArrayView1<f64>) -> Result<f64> {
    check_same_len("estimate and truth", estimate.len(), truth.len())?;
    check_nonempty("estimate", estimate.len())?;
    check_finite("estimate", estimate)?;
    check_finite("truth", truth)?;
    let sum: f64 = estimate
        .iter()
        .zip(truth.iter())
        .map(|(&e, &t)| (e - t) * (e - t))
        .sum();
    Ok(sum / estimate.len() as f64)
}

/// Routing metrics of one router on one test set.
///
/// Curve fields run over the ρ grid (`eg`, `neg`, `eg_paper`, `value`,
/// `random_value`, `oracle_value`) or the w grid (`regret`) passed to
/// [`evaluate`], in the same order.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingEvaluation {
    /// `EG(ρ) = V(ρ) − V_rand(ρ)`; `None` where the curve is not reached.
    pub eg: Vec<Option<f64>>,
    /// `NEG(ρ) = EG / (V* − V_rand)` (0 where the denominator is zero);
    /// `None` where not reached.
    pub neg: Vec<Option<f64>>,
    /// `EG(ρ) / mean(g)`; `None` where not reached or when `mean(g)` is zero.
    pub eg_paper: Vec<Option<f64>>,
    /// Trapezoid area under `NEG` over the reached part of the ρ grid.
    pub neg_area: f64,
    /// `Reg(w)` over the w grid, each `≥ 0`.
    pub regret: Vec<f64>,
    /// Number of ρ grid points reached (all of them unless [`Cutoff::Positive`]).
    pub reached: usize,
    /// `V(ρ)`, the mean routed gain; `None` where not reached.
    pub value: Vec<Option<f64>>,
    /// `V_rand(ρ) = ρ · mean(g)`.
    pub random_value: Vec<f64>,
    /// `V*(ρ)`, the oracle's mean routed gain.
    pub oracle_value: Vec<f64>,
}

/// Evaluation references that are not learners; the study records them as
/// methods named by [`Reference::name`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "type")]
pub enum Reference {
    /// Routes by the true gain: `ψ̂ = g` (so `NEG ≡ 1` where defined and
    /// `Reg ≡ 0`).
    Oracle,
    /// Routes at random, evaluated by exact expectation: `V = V_rand`, so
    /// `EG ≡ NEG ≡ EG_paper ≡ 0`; at cost weight `w` each query goes to the
    /// primary model with probability `fraction`, so
    /// `E Reg(w) = (1/T) Σ_j (g_j − w c_j)(1{g_j > w c_j} − fraction)`.
    Random {
        /// Probability of sending a query to the primary model in the regret
        /// evaluation (default 0.5, a fair coin).
        #[serde(default = "default_random_fraction")]
        fraction: f64,
    },
}

fn default_random_fraction() -> f64 {
    0.5
}

impl Reference {
    /// The method label used in study records: `"oracle"` or `"random"`.
    pub fn name(&self) -> &'static str {
        match self {
            Reference::Oracle => "oracle",
            Reference::Random { .. } => "random",
        }
    }

    /// Routing metrics of the reference on a test set with gains `gain`
    /// (same grids and validation as [`evaluate`]; `cutoff` applies to the
    /// oracle, which stops at `#{g > 0}`, and is ignored by `random`).
    pub fn evaluate(
        &self,
        gain: ArrayView1<f64>,
        costs: ArrayView1<f64>,
        rho_grid: &[f64],
        w_grid: &[f64],
        cutoff: Cutoff,
    ) -> Result<RoutingEvaluation> {
        match *self {
            Reference::Oracle => evaluate(gain, gain, costs, rho_grid, w_grid, cutoff),
            Reference::Random { fraction } => {
                if !(0.0..=1.0).contains(&fraction) {
                    return Err(Error::param(
                        "fraction",
                        fraction,
                        "must be a probability in [0, 1]",
                    ));
                }
                let t = checked_inputs(gain, gain, costs, rho_grid, w_grid)?;
                let tol = rounding_tolerance(gain);
                let mean_gain = gain.iter().sum::<f64>() / t as f64;
                let random_value: Vec<f64> = rho_grid.iter().map(|&r| r * mean_gain).collect();
                let oracle_order = order_by_score(gain);
                let oracle_value = rho_grid
                    .iter()
                    .map(|&r| routed_value(&oracle_order, gain, top_k(r, t)))
                    .collect();
                let zero_paper = if mean_gain.abs() <= tol {
                    None
                } else {
                    Some(0.0)
                };
                let regret = w_grid
                    .iter()
                    .map(|&w| {
                        gain.iter()
                            .zip(costs.iter())
                            .map(|(&g, &c)| {
                                let value = rule::two_models(g, c, w);
                                let best = rule::choose(2, &value) as f64;
                                value(1) * (best - fraction)
                            })
                            .sum::<f64>()
                            / t as f64
                    })
                    .collect();
                Ok(RoutingEvaluation {
                    eg: vec![Some(0.0); rho_grid.len()],
                    neg: vec![Some(0.0); rho_grid.len()],
                    eg_paper: vec![zero_paper; rho_grid.len()],
                    neg_area: 0.0,
                    regret,
                    reached: rho_grid.len(),
                    value: random_value.iter().map(|&v| Some(v)).collect(),
                    random_value,
                    oracle_value,
                })
            }
        }
    }
}

/// All routing metrics of scores `psi_hat` against gains `gain` with cost
/// differences `costs` (`docs/method.md` §4).
///
/// `rho_grid` must be finite, within `[0, 1]` and strictly increasing;
/// `w_grid` must be finite and `≥ 0` (any order). Either grid may be empty.
///
/// # Errors
/// [`Error::Empty`] when there are no test queries, [`Error::ShapeMismatch`]
/// when lengths differ, [`Error::NonFinite`] for NaN/∞ inputs and
/// [`Error::InvalidParameter`] for invalid grid values.
pub fn evaluate(
    psi_hat: ArrayView1<f64>,
    gain: ArrayView1<f64>,
    costs: ArrayView1<f64>,
    rho_grid: &[f64],
    w_grid: &[f64],
    cutoff: Cutoff,
) -> Result<RoutingEvaluation> {
    let t = checked_inputs(psi_hat, gain, costs, rho_grid, w_grid)?;
    let tol = rounding_tolerance(gain);
    let mean_gain = gain.iter().sum::<f64>() / t as f64;
    let paper_scale = (mean_gain.abs() > tol).then_some(mean_gain);

    let order = order_by_score(psi_hat);
    let oracle_order = order_by_score(gain);
    let k_max = match cutoff {
        Cutoff::None => t,
        Cutoff::Positive => psi_hat.iter().filter(|&&p| p > 0.0).count(),
    };

    let n = rho_grid.len();
    let mut eval = RoutingEvaluation {
        eg: Vec::with_capacity(n),
        neg: Vec::with_capacity(n),
        eg_paper: Vec::with_capacity(n),
        neg_area: 0.0,
        regret: Vec::with_capacity(w_grid.len()),
        reached: 0,
        value: Vec::with_capacity(n),
        random_value: Vec::with_capacity(n),
        oracle_value: Vec::with_capacity(n),
    };
    for &rho in rho_grid {
        let k = top_k(rho, t);
        let random = rho * mean_gain;
        let oracle = routed_value(&oracle_order, gain, k);
        eval.random_value.push(random);
        eval.oracle_value.push(oracle);
        if k > k_max {
            eval.value.push(None);
            eval.eg.push(None);
            eval.neg.push(None);
            continue;
        }
        eval.reached += 1;
        let value = routed_value(&order, gain, k);
        let eg = value - random;
        let denominator = oracle - random;
        let neg = if denominator.abs() <= tol {
            0.0
        } else {
            eg / denominator
        };
        eval.value.push(Some(value));
        eval.eg.push(Some(eg));
        eval.neg.push(Some(neg));
    }
    eval.eg_paper = match paper_scale {
        Some(m) => on_paper_scale(&eval.eg, m),
        None => vec![None; n],
    };
    eval.neg_area = trapezoid(rho_grid, &eval.neg);
    eval.regret = w_grid
        .iter()
        .map(|&w| regret_at(psi_hat, gain, costs, w))
        .collect();
    Ok(eval)
}

/// The paper's scale: `EG(ρ) / m` at every reached grid point, with `m` the
/// mean gain of the test law (`None` stays `None`). [`evaluate`] uses the test
/// set's own mean; a simulation passes the population constant instead, so
/// the denominator does not vary between replicates.
pub fn on_paper_scale(eg: &[Option<f64>], mean_gain: f64) -> Vec<Option<f64>> {
    eg.iter().map(|v| v.map(|eg| eg / mean_gain)).collect()
}

/// `Reg(w)` for one cost weight (inputs already validated): the rule and
/// regret of [`multi`] with `K = 2`.
fn regret_at(
    psi_hat: ArrayView1<f64>,
    gain: ArrayView1<f64>,
    costs: ArrayView1<f64>,
    w: f64,
) -> f64 {
    let t = gain.len() as f64;
    let total: f64 = psi_hat
        .iter()
        .zip(gain.iter())
        .zip(costs.iter())
        .map(|((&p, &g), &c)| {
            let value = rule::two_models(g, c, w);
            let best = rule::choose(2, &value);
            let chosen = rule::choose(2, rule::two_models(p, c, w));
            rule::regret_term(value, chosen, best)
        })
        .sum();
    total / t
}

/// Trapezoid area over the consecutive grid points where both ends are
/// reached (`None`: not reached), e.g. the NEG area `A` of a curve over the
/// ρ grid (`docs/method.md` §4).
pub fn trapezoid(grid: &[f64], values: &[Option<f64>]) -> f64 {
    grid.windows(2)
        .zip(values.windows(2))
        .filter_map(|(x, y)| match (y[0], y[1]) {
            (Some(a), Some(b)) => Some(0.5 * (x[1] - x[0]) * (a + b)),
            _ => None,
        })
        .sum()
}

/// Query indices ordered by decreasing score, ties by increasing index.
fn order_by_score(score: ArrayView1<f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..score.len()).collect();
    // Scores are validated finite, so partial_cmp never fails; stable sort
    // plus the explicit index tie-break makes the order unique.
    order.sort_by(|&a, &b| {
        score[b]
            .partial_cmp(&score[a])
            .unwrap_or(Ordering::Equal)
            .then(a.cmp(&b))
    });
    order
}

/// `k = round(ρT)`, clamped to `[0, T]`.
fn top_k(rho: f64, t: usize) -> usize {
    ((rho * t as f64).round() as usize).min(t)
}

/// `(1/T) Σ_{j in first k of order} g_j`, summed in index order.
fn routed_value(order: &[usize], gain: ArrayView1<f64>, k: usize) -> f64 {
    let mut routed = vec![false; gain.len()];
    for &j in &order[..k] {
        routed[j] = true;
    }
    let total: f64 = gain
        .iter()
        .zip(&routed)
        .filter(|(_, &r)| r)
        .map(|(&g, _)| g)
        .sum();
    total / gain.len() as f64
}

/// `ROUNDING_FACTOR · ε · Σ|g|`: bounds the summation error of the
/// `(1/T)`-scaled sums over the gains (see the module docs; 0 for all-zero
/// gains, hence `<=`).
fn rounding_tolerance(gain: ArrayView1<f64>) -> f64 {
    let sum_abs: f64 = gain.iter().map(|g| g.abs()).sum();
    ROUNDING_FACTOR * f64::EPSILON * sum_abs
}

/// Validates everything [`evaluate`] takes; returns `T`.
fn checked_inputs(
    psi_hat: ArrayView1<f64>,
    gain: ArrayView1<f64>,
    costs: ArrayView1<f64>,
    rho_grid: &[f64],
    w_grid: &[f64],
) -> Result<usize> {
    let t = gain.len();
    check_nonempty("gain", t)?;
    check_same_len("psi_hat and gain", t, psi_hat.len())?;
    check_same_len("costs and gain", t, costs.len())?;
    check_finite("psi_hat", psi_hat)?;
    check_finite("gain", gain)?;
    check_finite("costs", costs)?;
    for (i, &rho) in rho_grid.iter().enumerate() {
        if !(0.0..=1.0).contains(&rho) {
            return Err(Error::param(
                format!("rho[{i}]"),
                rho,
                "usage ratios must lie in [0, 1]",
            ));
        }
        if i > 0 && rho <= rho_grid[i - 1] {
            return Err(Error::param(
                format!("rho[{i}]"),
                rho,
                "the rho grid must be strictly increasing",
            ));
        }
    }
    for &w in w_grid {
        check_weight(w)?;
    }
    Ok(t)
}

fn check_weight(w: f64) -> Result<()> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            "w",
            w,
            "the cost weight must be finite and >= 0",
        ))
    }
}

fn check_same_len(what: &str, expected: usize, found: usize) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what: what.to_string(),
            expected,
            found,
        })
    }
}

fn check_nonempty(what: &str, len: usize) -> Result<()> {
    if len == 0 {
        Err(Error::Empty {
            what: what.to_string(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const TOL: f64 = 1e-12;

    fn some(v: &[Option<f64>]) -> Vec<f64> {
        v.iter().map(|x| x.expect("reached")).collect()
    }

    /// T = 4, g = [0.4, -0.2, 0.1, 0.3], ψ̂ = [0.3, 0.5, 0.0, 0.2].
    /// ψ̂ order: 1 (0.5), 0 (0.3), 3 (0.2), 2 (0.0). g order: 0, 3, 2, 1.
    /// mean(g) = 0.6 / 4 = 0.15.
    /// ρ = 0:    k=0, V=0, V_rand=0, V*=0 → EG=0, NEG=0 (zero denominator).
    /// ρ = 0.25: k=1, V = -0.2/4 = -0.05, V_rand = 0.0375, V* = 0.4/4 = 0.1
    ///           EG = -0.0875, NEG = -0.0875/0.0625 = -1.4.
    /// ρ = 0.5:  k=2, V = (0.4-0.2)/4 = 0.05, V_rand = 0.075, V* = 0.7/4 = 0.175
    ///           EG = -0.025, NEG = -0.025/0.1 = -0.25.
    /// ρ = 0.75: k=3, V = (0.4-0.2+0.3)/4 = 0.125, V_rand = 0.1125, V* = 0.8/4 = 0.2
    ///           EG = 0.0125, NEG = 0.0125/0.0875 = 1/7.
    /// ρ = 1:    V = V* = V_rand = 0.15 → EG = 0, NEG = 0.
    /// Area (h = 0.25): 0.25 * (0/2 - 1.4 - 0.25 + 1/7 + 0/2) = 0.25 * (-1.507142857…)
    /// EG_paper = EG / 0.15.
    /// Regret, c = 1: w = 0.15: best = {0, 3}, chosen = {0, 1, 3}; query 1 wrongly
    ///   routed: (0.15 - (-0.2)) = 0.35 → Reg = 0.35/4 = 0.0875.
    /// w = 0.35: best = {0}, chosen = {1}: query 0 missed (0.4-0.35 = 0.05),
    ///   query 1 wrongly routed (0.35+0.2 = 0.55) → Reg = 0.6/4 = 0.15.
    /// w = 0: best = {0,2,3}, chosen = {0,1,3}: query 2 missed (0.1), query 1
    ///   wrongly routed (0.2) → Reg = 0.3/4 = 0.075.
    #[test]
    fn hand_worked_example() {
        let psi = array![0.3, 0.5, 0.0, 0.2];
        let g = array![0.4, -0.2, 0.1, 0.3];
        let c = default_costs(4);
        let rho = [0.0, 0.25, 0.5, 0.75, 1.0];
        let w = [0.15, 0.35, 0.0];
        let e = evaluate(psi.view(), g.view(), c.view(), &rho, &w, Cutoff::None).unwrap();
        let eg = some(&e.eg);
        let neg = some(&e.neg);
        let expected_eg = [0.0, -0.0875, -0.025, 0.0125, 0.0];
        let expected_neg = [0.0, -1.4, -0.25, 1.0 / 7.0, 0.0];
        for i in 0..5 {
            assert_abs_diff_eq!(eg[i], expected_eg[i], epsilon = TOL);
            assert_abs_diff_eq!(neg[i], expected_neg[i], epsilon = TOL);
            assert_abs_diff_eq!(e.eg_paper[i].unwrap(), expected_eg[i] / 0.15, epsilon = TOL);
        }
        assert_eq!(e.eg[4], Some(0.0), "EG(1) is exactly zero");
        assert_abs_diff_eq!(e.neg_area, 0.25 * (-1.4 - 0.25 + 1.0 / 7.0), epsilon = TOL);
        assert_abs_diff_eq!(e.regret[0], 0.0875, epsilon = TOL);
        assert_abs_diff_eq!(e.regret[1], 0.15, epsilon = TOL);
        assert_abs_diff_eq!(e.regret[2], 0.075, epsilon = TOL);
        assert_eq!(e.reached, 5);
        assert_abs_diff_eq!(e.oracle_value[2], 0.175, epsilon = TOL);
        assert_abs_diff_eq!(e.random_value[3], 0.1125, epsilon = TOL);
        // The paper's scale with a population constant m = 0.035 instead of
        // the test set's mean 0.15: EG(0.75) = 0.0125 → 0.0125/0.035 = 5/14.
        let paper = on_paper_scale(&e.eg, 0.035);
        assert_abs_diff_eq!(paper[3].unwrap(), 5.0 / 14.0, epsilon = TOL);
        assert_abs_diff_eq!(paper[1].unwrap(), -2.5, epsilon = TOL);
        assert_eq!(
            on_paper_scale(&[None, Some(0.07)], 0.035),
            [None, Some(2.0)]
        );
    }

    #[test]
    fn route_follows_threshold() {
        let psi = array![0.5, 0.1, 0.2, -0.1];
        let c = array![1.0, 0.0, 0.5, 0.0];
        // thresholds at w = 0.2: [0.2, 0, 0.1, 0]; strict inequality.
        assert_eq!(
            route(psi.view(), c.view(), 0.2).unwrap(),
            vec![true, true, true, false]
        );
        // at w = 0.4 the third query's threshold is exactly 0.2: not routed.
        assert_eq!(
            route(psi.view(), c.view(), 0.4).unwrap(),
            vec![true, true, false, false]
        );
    }

    #[test]
    fn cost_differences_subtract_and_validate() {
        let d = cost_differences(array![1.0, 2.0].view(), array![0.5, 3.0].view()).unwrap();
        assert_eq!(d, array![0.5, -1.0]);
        assert!(matches!(
            cost_differences(array![1.0, -2.0].view(), array![0.5, 3.0].view()),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            cost_differences(array![1.0].view(), array![0.5, 3.0].view()),
            Err(Error::ShapeMismatch { .. })
        ));
        assert_eq!(default_costs(3), array![1.0, 1.0, 1.0]);
    }

    fn random_case(seed: u64, t: usize) -> (Array1<f64>, Array1<f64>, Array1<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g: Array1<f64> = (0..t).map(|_| rng.random_range(-1.0..1.5)).collect();
        let psi: Array1<f64> = g.iter().map(|&x| x + rng.random_range(-1.0..1.0)).collect();
        let c: Array1<f64> = (0..t).map(|_| rng.random_range(0.0..2.0)).collect();
        (psi, g, c)
    }

    fn uniform_grid(points: usize) -> Vec<f64> {
        (0..points)
            .map(|i| i as f64 / (points - 1) as f64)
            .collect()
    }

    #[test]
    fn oracle_has_unit_neg_and_zero_regret() {
        let (_, g, c) = random_case(7, 200);
        let rho = uniform_grid(21);
        let w = [0.0, 0.1, 0.5, 1.0, 3.0];
        for e in [
            evaluate(g.view(), g.view(), c.view(), &rho, &w, Cutoff::None).unwrap(),
            Reference::Oracle
                .evaluate(g.view(), c.view(), &rho, &w, Cutoff::None)
                .unwrap(),
        ] {
            let neg = some(&e.neg);
            assert_eq!(neg[0], 0.0);
            assert_eq!(neg[20], 0.0);
            for &x in &neg[1..20] {
                assert_eq!(x, 1.0, "oracle NEG must be exactly 1 inside the grid");
            }
            assert!(e.regret.iter().all(|&r| r == 0.0));
            assert_abs_diff_eq!(e.neg_area, 1.0 - 0.05, epsilon = TOL);
        }
    }

    #[test]
    fn reversed_ordering_has_negative_eg() {
        let (_, g, c) = random_case(11, 100);
        let reversed = g.mapv(|x| -x);
        let rho = uniform_grid(11);
        let e = evaluate(reversed.view(), g.view(), c.view(), &rho, &[], Cutoff::None).unwrap();
        let eg = some(&e.eg);
        let neg = some(&e.neg);
        for i in 1..10 {
            assert!(eg[i] < 0.0, "EG at rho = {} is {}", rho[i], eg[i]);
            assert!(neg[i] < 0.0);
        }
        assert!(e.neg_area < 0.0);
        assert!(e.regret.is_empty());
    }

    #[test]
    fn regret_nonnegative_and_bounded_on_random_inputs() {
        for seed in 0..50 {
            let (psi, g, c) = random_case(seed, 37);
            let w = [0.0, 0.05, 0.3, 0.7, 1.0, 2.5];
            let e = evaluate(psi.view(), g.view(), c.view(), &[0.5], &w, Cutoff::None).unwrap();
            for (i, &r) in e.regret.iter().enumerate() {
                assert!(r >= 0.0, "seed {seed}, w {}: regret {r}", w[i]);
                // Reg(w) <= (1/T) Σ |g - w c|
                let bound: f64 = g
                    .iter()
                    .zip(c.iter())
                    .map(|(&gj, &cj)| (gj - w[i] * cj).abs())
                    .sum::<f64>()
                    / 37.0;
                assert!(r <= bound + TOL);
            }
            // the NEG of any ordering is at most 1
            for x in some(&e.neg) {
                assert!(x <= 1.0 + 1e-9);
            }
        }
    }

    /// An independent formulation: query j is among the top k iff its rank
    /// (#queries with a larger score, plus #equal scores at a lower index) is
    /// below k; regret from the decisions of [`route`].
    #[test]
    fn agrees_with_rank_based_reference_on_random_tied_inputs() {
        let rank_value = |score: &Array1<f64>, g: &Array1<f64>, k: usize| -> f64 {
            let t = score.len();
            let mut total = 0.0;
            for j in 0..t {
                let rank = (0..t)
                    .filter(|&i| score[i] > score[j] || (score[i] == score[j] && i < j))
                    .count();
                if rank < k {
                    total += g[j];
                }
            }
            total / t as f64
        };
        let rho = uniform_grid(9);
        let w = [0.0, 0.2, 0.9];
        for seed in 100..120 {
            let (psi, g, c) = random_case(seed, 40);
            // Coarsen the scores to create many ties.
            let psi = psi.mapv(|x| (x * 2.0).round() / 2.0);
            let e = evaluate(psi.view(), g.view(), c.view(), &rho, &w, Cutoff::None).unwrap();
            let mean_g = g.sum() / 40.0;
            for (i, &r) in rho.iter().enumerate() {
                let k = (r * 40.0_f64).round() as usize;
                let v = rank_value(&psi, &g, k);
                let v_star = rank_value(&g, &g, k);
                let v_rand = r * mean_g;
                assert_abs_diff_eq!(e.value[i].unwrap(), v, epsilon = 1e-12);
                assert_abs_diff_eq!(e.oracle_value[i], v_star, epsilon = 1e-12);
                assert_abs_diff_eq!(e.eg[i].unwrap(), v - v_rand, epsilon = 1e-12);
                if (v_star - v_rand).abs() > 1e-9 {
                    assert_abs_diff_eq!(
                        e.neg[i].unwrap(),
                        (v - v_rand) / (v_star - v_rand),
                        epsilon = 1e-9
                    );
                }
            }
            for (i, &wi) in w.iter().enumerate() {
                let chosen = route(psi.view(), c.view(), wi).unwrap();
                let reg: f64 = (0..40)
                    .map(|j| {
                        let m = g[j] - wi * c[j];
                        let best = if m > 0.0 { 1.0 } else { 0.0 };
                        let pick = if chosen[j] { 1.0 } else { 0.0 };
                        m * (best - pick)
                    })
                    .sum::<f64>()
                    / 40.0;
                assert_abs_diff_eq!(e.regret[i], reg, epsilon = 1e-12);
            }
        }
    }

    #[test]
    fn ties_are_broken_by_lower_index() {
        // All scores equal: top-k are the first k queries.
        let psi = array![1.0, 1.0, 1.0, 1.0];
        let g = array![0.0, 4.0, 0.0, 8.0];
        let c = default_costs(4);
        let e = evaluate(
            psi.view(),
            g.view(),
            c.view(),
            &[0.25, 0.5, 0.75],
            &[],
            Cutoff::None,
        )
        .unwrap();
        // k = 1 → {0}: V = 0; k = 2 → {0, 1}: V = 1; k = 3 → {0,1,2}: V = 1.
        assert_eq!(e.value, vec![Some(0.0), Some(1.0), Some(1.0)]);
        // True-gain ties: g = [0, 4, 0, 8] → order 3, 1, 0, 2.
        assert_eq!(e.oracle_value, vec![2.0, 3.0, 3.0]);
        assert_eq!(
            order_by_score(array![0.5, 0.7, 0.5, 0.7].view()),
            vec![1, 3, 0, 2]
        );
    }

    #[test]
    fn positive_cutoff_stops_the_curve() {
        let psi = array![0.3, -0.5, 0.0, 0.2];
        let g = array![0.4, -0.2, 0.1, 0.3];
        let c = default_costs(4);
        let rho = [0.0, 0.25, 0.5, 0.75, 1.0];
        let e = evaluate(
            psi.view(),
            g.view(),
            c.view(),
            &rho,
            &[0.0],
            Cutoff::Positive,
        )
        .unwrap();
        // #{ψ̂ > 0} = 2, so k = 3 and 4 are not reached.
        assert_eq!(e.reached, 3);
        assert!(e.eg[2].is_some() && e.eg[3].is_none() && e.eg[4].is_none());
        assert!(e.neg[3].is_none() && e.eg_paper[4].is_none() && e.value[3].is_none());
        // ψ̂ order 0, 3 = the oracle's top 2, so NEG = 1 at ρ = .25, .5.
        assert_eq!(some(&e.neg[..3]), vec![0.0, 1.0, 1.0]);
        assert_abs_diff_eq!(
            e.neg_area,
            0.25 * (0.0 / 2.0 + 1.0 + 1.0 / 2.0),
            epsilon = TOL
        );
        let full = evaluate(psi.view(), g.view(), c.view(), &rho, &[0.0], Cutoff::None).unwrap();
        assert_eq!(full.reached, 5);
        assert_eq!(full.eg[..3], e.eg[..3]);
        assert_eq!(full.regret, e.regret, "the cutoff does not touch regret");
    }

    #[test]
    fn degenerate_gains_never_give_nan() {
        // Equal gains: V* = V_rand everywhere → NEG = 0; mean 0 → no paper scale.
        let psi = array![0.3, 0.1, 0.2];
        let zero = array![0.0, 0.0, 0.0];
        let c = default_costs(3);
        let rho = [0.0, 0.5, 1.0];
        let e = evaluate(
            psi.view(),
            zero.view(),
            c.view(),
            &rho,
            &[0.0, 1.0],
            Cutoff::None,
        )
        .unwrap();
        assert_eq!(some(&e.neg), vec![0.0, 0.0, 0.0]);
        assert!(e.eg_paper.iter().all(Option::is_none));
        assert_eq!(e.neg_area, 0.0);
        assert_eq!(e.regret, vec![0.0, 0.0]);

        // (grid with integer ρT, so that k/T = ρ and V* = V_rand up to rounding)
        let flat = array![0.2, 0.2, 0.2];
        let thirds = [0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0];
        let e = evaluate(
            psi.view(),
            flat.view(),
            c.view(),
            &thirds,
            &[],
            Cutoff::None,
        )
        .unwrap();
        assert!(some(&e.neg).iter().all(|&x| x == 0.0));
        assert!(e.eg_paper.iter().all(|x| x.is_some_and(f64::is_finite)));

        // mean gain exactly zero but gains not: EG defined, paper scale not.
        let g = array![0.5, -0.5, 0.25, -0.25];
        let e = evaluate(
            array![1.0, 0.0, 0.5, 0.2].view(),
            g.view(),
            default_costs(4).view(),
            &[0.25, 0.5],
            &[],
            Cutoff::None,
        )
        .unwrap();
        assert!(e.eg_paper.iter().all(Option::is_none));
        assert_eq!(some(&e.eg), vec![0.125, 0.1875]);
    }

    #[test]
    fn random_reference_is_exact_expectation() {
        let g = array![0.4, -0.2, 0.1, 0.3];
        let c = default_costs(4);
        let rho = [0.0, 0.5, 1.0];
        let random = Reference::Random { fraction: 0.5 };
        assert_eq!(random.name(), "random");
        assert_eq!(Reference::Oracle.name(), "oracle");
        let e = random
            .evaluate(g.view(), c.view(), &rho, &[0.0, 0.15], Cutoff::Positive)
            .unwrap();
        assert_eq!(some(&e.eg), vec![0.0; 3]);
        assert_eq!(some(&e.neg), vec![0.0; 3]);
        assert_eq!(e.neg_area, 0.0);
        assert_eq!(e.reached, 3);
        // fair coin: E Reg(w) = (1/2T) Σ |g - w|.
        assert_abs_diff_eq!(e.regret[0], (0.4 + 0.2 + 0.1 + 0.3) / 8.0, epsilon = TOL);
        assert_abs_diff_eq!(
            e.regret[1],
            (0.25 + 0.35 + 0.05 + 0.15) / 8.0,
            epsilon = TOL
        );
        assert!(matches!(
            Reference::Random { fraction: 1.5 }.evaluate(
                g.view(),
                c.view(),
                &rho,
                &[],
                Cutoff::None
            ),
            Err(Error::InvalidParameter { .. })
        ));
        let parsed: Reference = serde_json::from_str(r#"{"type":"random"}"#).unwrap();
        assert_eq!(parsed, Reference::Random { fraction: 0.5 });
    }

    #[test]
    fn mse_matches_hand_value_and_validates() {
        assert_abs_diff_eq!(
            mse(array![1.0, 2.0, 4.0].view(), array![1.0, 0.0, 1.0].view()).unwrap(),
            (0.0 + 4.0 + 9.0) / 3.0,
            epsilon = TOL
        );
        assert!(matches!(
            mse(array![1.0].view(), array![1.0, 2.0].view()),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            mse(
                Array1::<f64>::zeros(0).view(),
                Array1::<f64>::zeros(0).view()
            ),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            mse(array![1.0, f64::NAN].view(), array![1.0, 2.0].view()),
            Err(Error::NonFinite { row: 1, .. })
        ));
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let psi = array![0.3, 0.5];
        let g = array![0.4, -0.2];
        let c = default_costs(2);
        let run = |psi: ArrayView1<f64>,
                   g: ArrayView1<f64>,
                   c: ArrayView1<f64>,
                   rho: &[f64],
                   w: &[f64]| { evaluate(psi, g, c, rho, w, Cutoff::None) };
        assert!(matches!(
            run(psi.view(), array![0.4].view(), c.view(), &[0.5], &[0.0]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            run(
                psi.view(),
                g.view(),
                default_costs(3).view(),
                &[0.5],
                &[0.0]
            ),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            run(
                array![0.3, f64::INFINITY].view(),
                g.view(),
                c.view(),
                &[0.5],
                &[0.0]
            ),
            Err(Error::NonFinite { row: 1, .. })
        ));
        assert!(matches!(
            run(
                psi.view(),
                array![f64::NAN, 0.0].view(),
                c.view(),
                &[0.5],
                &[0.0]
            ),
            Err(Error::NonFinite { row: 0, .. })
        ));
        assert!(matches!(
            run(
                psi.view(),
                g.view(),
                array![1.0, f64::NAN].view(),
                &[0.5],
                &[0.0]
            ),
            Err(Error::NonFinite { .. })
        ));
        for bad_rho in [
            vec![-0.1],
            vec![1.5],
            vec![f64::NAN],
            vec![0.5, 0.5],
            vec![0.6, 0.2],
        ] {
            assert!(matches!(
                run(psi.view(), g.view(), c.view(), &bad_rho, &[0.0]),
                Err(Error::InvalidParameter { .. })
            ));
        }
        for bad_w in [-0.5, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                run(psi.view(), g.view(), c.view(), &[0.5], &[bad_w]),
                Err(Error::InvalidParameter { .. })
            ));
            assert!(matches!(
                route(psi.view(), c.view(), bad_w),
                Err(Error::InvalidParameter { .. })
            ));
        }
        let empty = Array1::<f64>::zeros(0);
        assert!(matches!(
            run(empty.view(), empty.view(), empty.view(), &[0.5], &[0.0]),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            route(psi.view(), default_costs(3).view(), 0.0),
            Err(Error::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn cutoff_deserializes_from_config_names() {
        let c: Cutoff = serde_json::from_str(r#""positive""#).unwrap();
        assert_eq!(c, Cutoff::Positive);
        let c: Cutoff = serde_json::from_str(r#""none""#).unwrap();
        assert_eq!(c, Cutoff::None);
        assert_eq!(Cutoff::default(), Cutoff::None);
    }
}
