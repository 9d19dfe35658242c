//! Routing among `K ≥ 2` models with per-query costs: the decision rule, the
//! cost–quality frontier, AIQ, regret against the oracle assignment and the
//! share of queries each model receives.
//!
//! # Model
//!
//! Model 0 is the reference. For test query `j` and model `k`, `s_jk` is a
//! router's score (its estimated GS gain `ψ̂_k(q_j)` over the reference, so
//! `s_j0 = 0`), `g_jk` the realised gain (the true `ψ_k(q_j)` in simulation,
//! `g_j0 = 0`) and `C_jk ≥ 0` the cost of answering `q_j` with model `k`
//! (a per-model constant or a per-query value such as expected tokens × price).
//!
//! # Algorithm
//!
//! `docs/method.md` §9 (many models):
//!
//! - **Decision rule** at cost weight `w ≥ 0`: `a_j(w) = argmax_k (s_jk − w C_jk)`,
//!   ties to the lowest model index (so the reference wins ties) ([`assign`]).
//!   It is computed as `argmax_k [s_jk − w (C_jk − C_j0)]` (the same argmax)
//!   by the one implementation of the rule that [`super::route`] also uses,
//!   so with `K = 2` it is the two-model rule `ψ̂_j > w c_j`, `c_j = C_j1 − C_j0`.
//! - **Quality and cost** of an assignment: `Q = (1/T) Σ_j g_{j,a_j}` and
//!   `C = (1/T) Σ_j C_{j,a_j}`; **shares** `n_k / T`, the fraction of queries
//!   sent to model `k` (they sum to 1).
//! - **Oracle assignment**: the same rule with the true gains as scores.
//! - **Regret** `Reg(w) = (1/T) Σ_j [max_k (g_jk − w C_jk) − (g_{j,a_j} − w C_{j,a_j})]`,
//!   computed with the relative costs `C_jk − C_j0` (the same value). Each
//!   term is the same floating-point expression at the oracle's and the
//!   router's choice, and the oracle's is the largest, so every term and the
//!   mean are `≥ 0` exactly. For `K = 2` it equals the two-model regret with
//!   `c_j = C_j1 − C_j0` bit for bit.
//! - **Frontier**: as `w` runs over `[0, ∞)` the assignment changes only where
//!   two of a query's lines `s_jk − w C_jk` cross; [`frontier_points`] walks
//!   every such breakpoint exactly (no `w` grid), giving each (cost, quality)
//!   point the router reaches, from its quality-maximizing assignment (`w → 0⁺`,
//!   ties in score to the cheaper model) to its cost-minimizing one (`w → ∞`).
//!   [`upper_frontier`] takes their non-decreasing concave majorant (the upper
//!   convex hull up to the best quality, flat after it): what the router and
//!   random mixtures of its settings can reach at each budget.
//! - **AIQ** (RouterBench's average improvement in quality, Hu et al. 2024):
//!   the area under the frontier over the cost range `[c_lo, c_hi]` divided by
//!   its width, with `c_lo = (1/T) Σ_j min_k C_jk` (always the cheapest model of
//!   each query) and `c_hi = (1/T) Σ_j max_k C_jk`; below the router's cheapest
//!   point the frontier is taken flat. When `c_hi = c_lo` AIQ is the frontier's
//!   value at `c_lo`.
//! - **Frontier gap** = AIQ(oracle) − AIQ(router): the area between the oracle's
//!   frontier and the router's, per unit of cost range. The oracle's frontier is
//!   the exact upper hull of every deterministic assignment's (cost, quality),
//!   so the gap is `≥ 0` up to rounding of the sums (the sweep's running sums
//!   are compensated, so this stays near `ε · max|g|` for any `T`).
//! - **Always one model**: `(mean_j C_jk, mean_j g_jk)` for each `k`.
//!
//! Quality is measured relative to the reference model (its quality is 0);
//! adding the reference's own mean quality shifts every quality and AIQ by the
//! same constant.
//!
//! # References
//!
//! Hu, Bieker, Li, Jiang, Xiao, Jiang, Xu, Wang, Wu, Dernoncourt, Zhang
//! (2024), *RouterBench: A Benchmark for Multi-LLM Routing System*,
//! arXiv:2403.12031 (non-decreasing convex hull, AIQ). Zhang, Xie, Yang, Wu
//! (2025), *Meta-Router*, arXiv:2509.25535 (discussion: many models).
//! Neumaier (1974), *Rundungsfehleranalyse einiger Verfahren zur Summation
//! endlicher Summen*, ZAMM 54 (compensated sums).
//!
//! # Example
//!
//! ```
//! use meta_router_core::routing::multi::{assign, evaluate};
//! use ndarray::array;
//!
//! // Three models (column 0 the reference), two queries.
//! let score = array![[0.0, 0.3, 0.5], [0.0, -0.1, 0.2]];
//! let costs = array![[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]];
//! assert_eq!(assign(score.view(), costs.view(), 0.0).unwrap(), vec![2, 2]);
//! assert_eq!(assign(score.view(), costs.view(), 0.25).unwrap(), vec![1, 0]);
//! let eval = evaluate(score.view(), score.view(), costs.view(), &[0.0, 0.25]).unwrap();
//! assert_eq!(eval.regret, vec![0.0, 0.0]); // scored by the truth: the oracle
//! assert!(eval.frontier_gap.abs() < 1e-15);
//! ```

use std::cmp::Ordering;

use ndarray::{ArrayView1, ArrayView2};

use super::{check_nonempty, check_weight, rule};
use crate::error::{Error, Result};

/// One (mean cost, mean quality) point of an assignment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrontierPoint {
    /// `(1/T) Σ_j C_{j,a_j}`.
    pub cost: f64,
    /// `(1/T) Σ_j g_{j,a_j}`.
    pub quality: f64,
}

/// Multi-model routing metrics of one router on one test set; the curves run
/// over the `w` grid passed to [`evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub struct MultiEvaluation {
    /// Mean realised gain of the router's assignment at each `w`.
    pub quality: Vec<f64>,
    /// Mean cost of the router's assignment at each `w`.
    pub cost: Vec<f64>,
    /// `shares[i][k]`: fraction of queries sent to model `k` at `w_i`.
    pub shares: Vec<Vec<f64>>,
    /// `Reg(w)` relative to the oracle assignment, `≥ 0`.
    pub regret: Vec<f64>,
    /// Mean gain of the oracle assignment at each `w`.
    pub oracle_quality: Vec<f64>,
    /// Mean cost of the oracle assignment at each `w`.
    pub oracle_cost: Vec<f64>,
    /// The router's AIQ over `cost_range`.
    pub aiq: f64,
    /// The oracle's AIQ over `cost_range`.
    pub oracle_aiq: f64,
    /// `oracle_aiq − aiq`.
    pub frontier_gap: f64,
    /// `(c_lo, c_hi)`.
    pub cost_range: (f64, f64),
    /// Always-model-`k` points, `k = 0..K`.
    pub single: Vec<FrontierPoint>,
}

/// Checks that `score`, `gain` (if given) and `costs` are `T × K` with
/// `T ≥ 1`, `K ≥ 2`, finite, and costs `≥ 0`; returns `(T, K)`.
fn check_matrices(
    score: ArrayView2<f64>,
    gain: Option<ArrayView2<f64>>,
    costs: ArrayView2<f64>,
) -> Result<(usize, usize)> {
    let (t, k) = score.dim();
    check_nonempty("score rows (test queries)", t)?;
    if k < 2 {
        return Err(Error::param(
            "models",
            k,
            "routing needs at least two models (the reference and one other)",
        ));
    }
    let mut named = vec![("score", score), ("costs", costs)];
    if let Some(gain) = gain {
        named.push(("gain", gain));
    }
    for (what, m) in named {
        if m.dim() != (t, k) {
            return Err(Error::ShapeMismatch {
                what: format!("{what} (rows × models)"),
                expected: t * k,
                found: m.len(),
            });
        }
        if let Some(((row, col), value)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::param(
                format!("{what}[{row}][{col}]"),
                value,
                "must be finite",
            ));
        }
    }
    if let Some(((row, col), value)) = costs.indexed_iter().find(|(_, v)| **v < 0.0) {
        return Err(Error::param(
            format!("costs[{row}][{col}]"),
            value,
            "costs must be >= 0",
        ));
    }
    Ok((t, k))
}

/// `C_k − C_0`: model `k`'s cost relative to the reference's (0 for the
/// reference itself). Decisions and regret use it, so that with `K = 2` they
/// are the two-model rule on `c = C_1 − C_0` in floating point too.
fn relative_cost(costs: ArrayView1<f64>, k: usize) -> f64 {
    if k == 0 {
        0.0
    } else {
        costs[k] - costs[0]
    }
}

/// The query's option values `k ↦ s_k − w (C_k − C_0)` ([`rule::objective`]).
fn values<'a>(
    score: ArrayView1<'a, f64>,
    costs: ArrayView1<'a, f64>,
    w: f64,
) -> impl Fn(usize) -> f64 + 'a {
    move |k| rule::objective(score[k], relative_cost(costs, k), w)
}

/// `argmax_k (s_k − w C_k)`, ties to the lowest index ([`rule::choose`]).
fn choose(score: ArrayView1<f64>, costs: ArrayView1<f64>, w: f64) -> usize {
    rule::choose(score.len(), values(score, costs, w))
}

/// The model each test query is sent to at cost weight `w`:
/// `argmax_k (score_jk − w C_jk)`, ties to the lowest index.
///
/// # Errors
/// Shapes that differ, fewer than two models, no rows, non-finite values,
/// negative costs, or `w` negative or not finite.
pub fn assign(score: ArrayView2<f64>, costs: ArrayView2<f64>, w: f64) -> Result<Vec<usize>> {
    check_matrices(score, None, costs)?;
    check_weight(w)?;
    Ok(score
        .outer_iter()
        .zip(costs.outer_iter())
        .map(|(s, c)| choose(s, c, w))
        .collect())
}

/// Mean gain and mean cost of an assignment (sums in query order).
fn point_of(assignment: &[usize], gain: ArrayView2<f64>, costs: ArrayView2<f64>) -> FrontierPoint {
    let t = assignment.len() as f64;
    let quality: f64 = assignment
        .iter()
        .enumerate()
        .map(|(j, &k)| gain[[j, k]])
        .sum();
    let cost: f64 = assignment
        .iter()
        .enumerate()
        .map(|(j, &k)| costs[[j, k]])
        .sum();
    FrontierPoint {
        cost: cost / t,
        quality: quality / t,
    }
}

/// `Reg(w)`: mean over queries of the oracle's `g − wC` minus the router's.
fn regret_at(
    assignment: &[usize],
    oracle: &[usize],
    gain: ArrayView2<f64>,
    costs: ArrayView2<f64>,
    w: f64,
) -> f64 {
    let total: f64 = assignment
        .iter()
        .zip(oracle)
        .enumerate()
        .map(|(j, (&a, &o))| rule::regret_term(values(gain.row(j), costs.row(j), w), a, o))
        .sum();
    total / assignment.len() as f64
}

/// One query's switches as `w` grows from `0⁺`: the starting model and the
/// `(w, new model)` breakpoints of the upper envelope of `s_k − w C_k`.
fn envelope(score: ArrayView1<f64>, costs: ArrayView1<f64>) -> (usize, Vec<(f64, usize)>) {
    // The lines `s_k − w r_k` with the relative costs of `choose`.
    let costs: Vec<f64> = (0..score.len()).map(|k| relative_cost(costs, k)).collect();
    // Start: the highest score, ties to the cheaper model, then lower index.
    let mut current = 0;
    for k in 1..score.len() {
        let better = match score[k].partial_cmp(&score[current]) {
            Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => costs[k] < costs[current],
            _ => false,
        };
        if better {
            current = k;
        }
    }
    let start = current;
    let mut switches = Vec::new();
    let mut w_now = 0.0f64;
    loop {
        // The next line to overtake `current`: among cheaper models, the one
        // whose crossing comes first; at a common crossing the cheapest.
        let mut next: Option<(f64, usize)> = None;
        for k in 0..score.len() {
            if costs[k] >= costs[current] {
                continue;
            }
            let crossing = ((score[current] - score[k]) / (costs[current] - costs[k])).max(w_now);
            let replace = match next {
                None => true,
                Some((w_best, best)) => {
                    crossing < w_best || (crossing == w_best && costs[k] < costs[best])
                }
            };
            if replace {
                next = Some((crossing, k));
            }
        }
        match next {
            Some((w, k)) => {
                switches.push((w, k));
                current = k;
                w_now = w;
            }
            None => return (start, switches),
        }
    }
}

/// Every (cost, quality) point the router scoring by `score` reaches as `w`
/// runs over `[0, ∞)`, in order of increasing `w` (the exact breakpoints, see
/// the module docs); realised gains `gain`.
///
/// # Errors
/// As [`assign`].
pub fn frontier_points(
    score: ArrayView2<f64>,
    gain: ArrayView2<f64>,
    costs: ArrayView2<f64>,
) -> Result<Vec<FrontierPoint>> {
    let (t, _) = check_matrices(score, Some(gain), costs)?;
    let mut assignment = Vec::with_capacity(t);
    let mut events: Vec<(f64, usize, usize)> = Vec::new();
    for (j, (s, c)) in score.outer_iter().zip(costs.outer_iter()).enumerate() {
        let (start, switches) = envelope(s, c);
        assignment.push(start);
        events.extend(switches.into_iter().map(|(w, k)| (w, j, k)));
    }
    // Events of one query are increasing in w; a stable sort by w keeps them
    // in order among equal w.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut points = vec![point_of(&assignment, gain, costs)];
    // Running sums with Neumaier compensation, so their rounding does not
    // grow with the number of switches.
    let mut quality = CompensatedSum::new(&assignment, |j, k| gain[[j, k]]);
    let mut cost = CompensatedSum::new(&assignment, |j, k| costs[[j, k]]);
    let mut i = 0;
    while i < events.len() {
        let w = events[i].0;
        while i < events.len() && events[i].0 == w {
            let (_, j, k) = events[i];
            let old = assignment[j];
            quality.add(gain[[j, k]]);
            quality.add(-gain[[j, old]]);
            cost.add(costs[[j, k]]);
            cost.add(-costs[[j, old]]);
            assignment[j] = k;
            i += 1;
        }
        points.push(FrontierPoint {
            cost: cost.value() / t as f64,
            quality: quality.value() / t as f64,
        });
    }
    Ok(points)
}

/// A sum with Neumaier's compensation (Neumaier 1974): the rounding error
/// of each addition is carried in `compensation`.
struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    /// The sum of `term(j, assignment[j])` over the queries.
    fn new(assignment: &[usize], term: impl Fn(usize, usize) -> f64) -> Self {
        let mut total = Self {
            sum: 0.0,
            compensation: 0.0,
        };
        for (j, &k) in assignment.iter().enumerate() {
            total.add(term(j, k));
        }
        total
    }

    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The non-decreasing concave majorant of `points`: its vertices by
/// increasing cost, from the cheapest point to the first point of highest
/// quality (beyond which the frontier is flat). Non-finite points are ignored;
/// empty input gives an empty frontier.
pub fn upper_frontier(points: &[FrontierPoint]) -> Vec<FrontierPoint> {
    let mut sorted: Vec<FrontierPoint> = points
        .iter()
        .copied()
        .filter(|p| p.cost.is_finite() && p.quality.is_finite())
        .collect();
    sorted.sort_by(|a, b| {
        a.cost
            .total_cmp(&b.cost)
            .then(b.quality.total_cmp(&a.quality))
    });
    sorted.dedup_by(|later, earlier| later.cost == earlier.cost);
    let Some(peak) = sorted
        .iter()
        .enumerate()
        .fold(None::<(usize, f64)>, |best, (i, p)| match best {
            Some((_, q)) if q >= p.quality => best,
            _ => Some((i, p.quality)),
        })
        .map(|(i, _)| i)
    else {
        return Vec::new();
    };
    let mut hull: Vec<FrontierPoint> = Vec::with_capacity(peak + 1);
    for &p in &sorted[..=peak] {
        while hull.len() >= 2 {
            let (o, a) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            // `a` on or below the chord from `o` to `p`: not a vertex.
            let cross = (a.cost - o.cost) * (p.quality - o.quality)
                - (a.quality - o.quality) * (p.cost - o.cost);
            if cross >= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(p);
    }
    hull
}

/// The frontier's value at cost `c`: linear between vertices, flat before
/// the first and after the last.
pub(crate) fn frontier_value(hull: &[FrontierPoint], c: f64) -> f64 {
    let (Some(first), Some(last)) = (hull.first(), hull.last()) else {
        return f64::NAN;
    };
    if c <= first.cost {
        return first.quality;
    }
    if c >= last.cost {
        return last.quality;
    }
    let i = hull.partition_point(|p| p.cost <= c);
    let (a, b) = (hull[i - 1], hull[i]);
    a.quality + (b.quality - a.quality) * (c - a.cost) / (b.cost - a.cost)
}

/// AIQ: the mean of the frontier over `[lo, hi]` (exact for a piecewise-linear
/// frontier); the value at `lo` when `hi ≤ lo`.
pub fn aiq(hull: &[FrontierPoint], lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return frontier_value(hull, lo);
    }
    let mut knots = vec![lo];
    knots.extend(hull.iter().map(|p| p.cost).filter(|&c| c > lo && c < hi));
    knots.push(hi);
    let area: f64 = knots
        .windows(2)
        .map(|x| 0.5 * (x[1] - x[0]) * (frontier_value(hull, x[0]) + frontier_value(hull, x[1])))
        .sum();
    area / (hi - lo)
}

/// `(c_lo, c_hi)`: the mean over queries of the cheapest and of the most
/// expensive model's cost.
fn cost_range(costs: ArrayView2<f64>) -> (f64, f64) {
    let t = costs.nrows() as f64;
    let (lo, hi) = costs.outer_iter().fold((0.0, 0.0), |(lo, hi), row| {
        let min = row.iter().copied().fold(f64::INFINITY, f64::min);
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + min, hi + max)
    });
    (lo / t, hi / t)
}

/// Every multi-model metric of the router scoring by `score` (see the module
/// docs), with realised gains `gain` and costs `costs` (all `T × K`, model 0
/// the reference), over the cost-weight grid `w_grid`.
///
/// # Errors
/// As [`assign`], and for any `w` of the grid that is negative or not finite.
pub fn evaluate(
    score: ArrayView2<f64>,
    gain: ArrayView2<f64>,
    costs: ArrayView2<f64>,
    w_grid: &[f64],
) -> Result<MultiEvaluation> {
    let (t, k) = check_matrices(score, Some(gain), costs)?;
    for &w in w_grid {
        check_weight(w)?;
    }
    let n = w_grid.len();
    let mut eval = MultiEvaluation {
        quality: Vec::with_capacity(n),
        cost: Vec::with_capacity(n),
        shares: Vec::with_capacity(n),
        regret: Vec::with_capacity(n),
        oracle_quality: Vec::with_capacity(n),
        oracle_cost: Vec::with_capacity(n),
        aiq: 0.0,
        oracle_aiq: 0.0,
        frontier_gap: 0.0,
        cost_range: cost_range(costs),
        single: (0..k).map(|m| point_of(&vec![m; t], gain, costs)).collect(),
    };
    for &w in w_grid {
        let chosen: Vec<usize> = score
            .outer_iter()
            .zip(costs.outer_iter())
            .map(|(s, c)| choose(s, c, w))
            .collect();
        let oracle: Vec<usize> = gain
            .outer_iter()
            .zip(costs.outer_iter())
            .map(|(g, c)| choose(g, c, w))
            .collect();
        let routed = point_of(&chosen, gain, costs);
        let best = point_of(&oracle, gain, costs);
        let mut counts = vec![0usize; k];
        for &m in &chosen {
            counts[m] += 1;
        }
        eval.quality.push(routed.quality);
        eval.cost.push(routed.cost);
        eval.shares
            .push(counts.iter().map(|&c| c as f64 / t as f64).collect());
        eval.regret
            .push(regret_at(&chosen, &oracle, gain, costs, w));
        eval.oracle_quality.push(best.quality);
        eval.oracle_cost.push(best.cost);
    }
    let (lo, hi) = eval.cost_range;
    eval.aiq = aiq(
        &upper_frontier(&frontier_points(score, gain, costs)?),
        lo,
        hi,
    );
    eval.oracle_aiq = aiq(
        &upper_frontier(&frontier_points(gain, gain, costs)?),
        lo,
        hi,
    );
    eval.frontier_gap = eval.oracle_aiq - eval.aiq;
    Ok(eval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng_from_seed;
    use ndarray::{Array1, Array2};
    use rand::RngExt;

    fn random_case(seed: u64, t: usize, k: usize) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
        let mut rng = rng_from_seed(seed);
        let mut u = |scale: f64| scale * (rng.random::<f64>() - 0.5);
        let mut gain = Array2::from_shape_fn((t, k), |_| 0.0);
        let mut score = gain.clone();
        let mut costs = gain.clone();
        for j in 0..t {
            for m in 1..k {
                gain[[j, m]] = u(1.0);
                score[[j, m]] = gain[[j, m]] + u(0.8);
            }
            for m in 0..k {
                costs[[j, m]] = (m as f64 + u(1.0)).max(0.0);
            }
        }
        (score, gain, costs)
    }

    /// K = 2 with costs (C_0, C_1) is the two-model rule and regret on
    /// c = C_1 − C_0, bit for bit (C_0 = 0 in even seeds, random in odd ones).
    #[test]
    fn two_models_reproduce_the_binary_router() {
        for seed in 0..40 {
            let (score, gain, costs) = random_case(seed, 41, 2);
            let costs2 = if seed % 2 == 0 {
                let mut zero = costs.clone();
                zero.column_mut(0).fill(0.0);
                zero
            } else {
                costs.clone()
            };
            let diff = &costs2.column(1) - &costs2.column(0);
            let w = [0.0, 0.05, 0.3, 0.7, 1.0];
            let multi = evaluate(score.view(), gain.view(), costs2.view(), &w).unwrap();
            let two = super::super::evaluate(
                score.column(1),
                gain.column(1),
                diff.view(),
                &[0.5],
                &w,
                super::super::Cutoff::None,
            )
            .unwrap();
            assert_eq!(multi.regret, two.regret, "seed {seed}");
            for (i, &wi) in w.iter().enumerate() {
                let routed = super::super::route(score.column(1), diff.view(), wi).unwrap();
                let chosen = assign(score.view(), costs2.view(), wi).unwrap();
                assert_eq!(
                    chosen,
                    routed.iter().map(|&r| usize::from(r)).collect::<Vec<_>>()
                );
                let share1 = routed.iter().filter(|&&r| r).count() as f64 / 41.0;
                assert_eq!(multi.shares[i][1], share1);
            }
        }
    }

    #[test]
    fn regret_is_nonnegative_shares_sum_to_one_and_the_oracle_bounds_the_frontier() {
        for seed in 0..40 {
            let k = 2 + (seed as usize % 4);
            let (score, gain, costs) = random_case(seed, 57, k);
            let w = [0.0, 0.02, 0.1, 0.25, 0.5, 1.0, 3.0];
            let e = evaluate(score.view(), gain.view(), costs.view(), &w).unwrap();
            for (i, &wi) in w.iter().enumerate() {
                assert!(e.regret[i] >= 0.0, "seed {seed}");
                let total: f64 = e.shares[i].iter().sum();
                assert!((total - 1.0).abs() < 1e-12);
                // the oracle's point is never below the router's in g − wC
                let router = e.quality[i] - wi * e.cost[i];
                let oracle = e.oracle_quality[i] - wi * e.oracle_cost[i];
                assert!((oracle - router - e.regret[i]).abs() < 1e-12);
            }
            assert!(e.frontier_gap >= -1e-12, "seed {seed}: {}", e.frontier_gap);
            // every grid point of the router lies under the oracle frontier
            let oracle_hull =
                upper_frontier(&frontier_points(gain.view(), gain.view(), costs.view()).unwrap());
            for (q, c) in e.quality.iter().zip(&e.cost) {
                assert!(*q <= frontier_value(&oracle_hull, *c) + 1e-12);
            }
            // the single models too
            for p in &e.single {
                assert!(p.quality <= frontier_value(&oracle_hull, p.cost) + 1e-12);
            }
        }
    }

    /// The exact sweep visits the assignment of every grid w: each grid
    /// point equals one of the sweep's points (or lies on a tie).
    #[test]
    fn the_sweep_passes_through_every_grid_assignment() {
        for seed in 0..20 {
            let (score, gain, costs) = random_case(100 + seed, 23, 4);
            let points = frontier_points(score.view(), gain.view(), costs.view()).unwrap();
            for w in [0.013, 0.11, 0.37, 0.9, 2.2] {
                let a = assign(score.view(), costs.view(), w).unwrap();
                let p = point_of(&a, gain.view(), costs.view());
                assert!(
                    points.iter().any(|q| (q.cost - p.cost).abs() < 1e-12
                        && (q.quality - p.quality).abs() < 1e-12),
                    "seed {seed}, w {w}"
                );
            }
            // the last point is the cheapest assignment
            let last = points.last().unwrap();
            let (lo, _) = cost_range(costs.view());
            assert!((last.cost - lo).abs() < 1e-12);
        }
    }

    #[test]
    fn hull_and_aiq_by_hand() {
        let p = |cost, quality| FrontierPoint { cost, quality };
        // (0,0), (1,0.2) under the chord, (2,1), (3,0.9) after the peak.
        let hull = upper_frontier(&[p(1.0, 0.2), p(0.0, 0.0), p(3.0, 0.9), p(2.0, 1.0)]);
        assert_eq!(hull, vec![p(0.0, 0.0), p(2.0, 1.0)]);
        assert_eq!(frontier_value(&hull, 1.0), 0.5);
        assert_eq!(frontier_value(&hull, 3.0), 1.0);
        // ∫_0^4 = 1 (triangle) + 2 (flat) = 3 → AIQ 0.75
        assert!((aiq(&hull, 0.0, 4.0) - 0.75).abs() < 1e-15);
        assert_eq!(aiq(&hull, 1.0, 1.0), 0.5);
        assert!(upper_frontier(&[]).is_empty());
    }

    #[test]
    fn three_models_by_hand() {
        // One query: gains 0, 0.3, 0.5 at costs 0, 1, 2. The envelope
        // switches 2 → 1 at w = 0.2 and 1 → 0 at w = 0.3.
        let s = Array1::from(vec![0.0, 0.3, 0.5]);
        let c = Array1::from(vec![0.0, 1.0, 2.0]);
        let (start, switches) = envelope(s.view(), c.view());
        assert_eq!(start, 2);
        assert_eq!(switches.len(), 2);
        assert!((switches[0].0 - 0.2).abs() < 1e-15 && switches[0].1 == 1);
        assert!((switches[1].0 - 0.3).abs() < 1e-15 && switches[1].1 == 0);
        // A dominated model (higher cost, lower gain) is never chosen.
        let s = Array1::from(vec![0.0, 0.5, 0.3]);
        let (start, switches) = envelope(s.view(), c.view());
        assert_eq!(start, 1);
        assert_eq!(switches, vec![(0.5, 0)]);
    }

    #[test]
    fn bad_input_is_refused_with_its_position() {
        let ok = Array2::<f64>::zeros((3, 3));
        let mut bad = ok.clone();
        bad[[1, 2]] = f64::NAN;
        let err = evaluate(bad.view(), ok.view(), ok.view(), &[0.0]).unwrap_err();
        assert!(err.to_string().contains("score[1][2]"), "{err}");
        let mut neg = ok.clone();
        neg[[2, 0]] = -1.0;
        let err = assign(ok.view(), neg.view(), 0.0).unwrap_err();
        assert!(err.to_string().contains("costs[2][0]"), "{err}");
        assert!(assign(ok.view(), ok.view(), -0.1).is_err());
        let one = Array2::<f64>::zeros((3, 1));
        assert!(assign(one.view(), one.view(), 0.0).is_err());
        let short = Array2::<f64>::zeros((2, 3));
        assert!(evaluate(ok.view(), short.view(), ok.view(), &[]).is_err());
    }
}
