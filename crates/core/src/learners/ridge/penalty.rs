//! Penalty rules for the ridge-type learners: the fixed/GCV/LOO choice, the
//! log-spaced grid, and the spectral criteria that pick a penalty from one
//! eigendecomposition (weighted GCV and exact weighted leave-one-out).

use std::fmt;

use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::learners::LearnerDiagnostics;
use crate::linalg;

/// A ridge penalty: chosen by generalized cross-validation, or fixed.
///
/// In configuration files: `"loo"` (default), `"gcv"` or a number `λ ≥ 0`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "PenaltyRepr", into = "PenaltyRepr")]
pub enum Penalty {
    /// Minimize weighted GCV over the penalty grid.
    Gcv,
    /// Minimize the exact weighted leave-one-out error over the penalty grid.
    #[default]
    Loo,
    /// A fixed `λ ≥ 0`.
    Fixed(f64),
}

impl fmt::Display for Penalty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Penalty::Gcv => write!(f, "gcv"),
            Penalty::Loo => write!(f, "loo"),
            Penalty::Fixed(v) => write!(f, "{v}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum PenaltyRepr {
    Value(f64),
    Name(String),
}

impl TryFrom<PenaltyRepr> for Penalty {
    type Error = String;
    fn try_from(repr: PenaltyRepr) -> std::result::Result<Self, String> {
        match repr {
            PenaltyRepr::Value(v) => Ok(Penalty::Fixed(v)),
            PenaltyRepr::Name(name) if name == "gcv" => Ok(Penalty::Gcv),
            PenaltyRepr::Name(name) if name == "loo" => Ok(Penalty::Loo),
            PenaltyRepr::Name(name) => Err(format!(
                "penalty must be \"gcv\", \"loo\" or a number, found \"{name}\""
            )),
        }
    }
}

impl From<Penalty> for PenaltyRepr {
    fn from(penalty: Penalty) -> Self {
        match penalty {
            Penalty::Gcv => PenaltyRepr::Name("gcv".into()),
            Penalty::Loo => PenaltyRepr::Name("loo".into()),
            Penalty::Fixed(v) => PenaltyRepr::Value(v),
        }
    }
}

impl Penalty {
    /// Checks a fixed penalty is finite and non-negative (`name` is the config key).
    pub fn validate(&self, name: &str) -> Result<()> {
        match *self {
            Penalty::Fixed(v) if !v.is_finite() => Err(Error::param(name, v, "must be finite")),
            Penalty::Fixed(v) if v < 0.0 => {
                Err(Error::param(name, v, "a ridge penalty must be >= 0"))
            }
            _ => Ok(()),
        }
    }
}

/// The log-spaced penalty grid searched by GCV: `points` values from `min` to
/// `max` inclusive, equally spaced in `log λ`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PenaltyGrid {
    /// Smallest penalty (> 0).
    pub min: f64,
    /// Largest penalty (≥ `min`).
    pub max: f64,
    /// Number of grid points (≥ 1; with 1 only `min` is used).
    pub points: usize,
}

impl Default for PenaltyGrid {
    fn default() -> Self {
        Self {
            min: 1e-8,
            max: 1e2,
            points: 41,
        }
    }
}

impl PenaltyGrid {
    /// Checks ranges (`name` prefixes the reported key).
    pub fn validate(&self, name: &str) -> Result<()> {
        if !(self.min.is_finite() && self.min > 0.0) {
            return Err(Error::param(
                format!("{name}.min"),
                self.min,
                "must be finite and > 0",
            ));
        }
        if !(self.max.is_finite() && self.max >= self.min) {
            return Err(Error::param(
                format!("{name}.max"),
                self.max,
                "must be finite and >= min",
            ));
        }
        if self.points == 0 {
            return Err(Error::param(format!("{name}.points"), 0, "must be >= 1"));
        }
        Ok(())
    }

    /// The grid values, ascending.
    pub fn values(&self) -> Vec<f64> {
        if self.points == 1 {
            return vec![self.min];
        }
        let (lo, hi) = (self.min.ln(), self.max.ln());
        (0..self.points)
            .map(|k| (lo + (hi - lo) * k as f64 / (self.points - 1) as f64).exp())
            .collect()
    }
}

/// The penalty a fit used, with its effective degrees of freedom and GCV score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltyChoice {
    /// λ used.
    pub penalty: f64,
    /// Effective degrees of freedom `1 + Σ e_j/(e_j + λS)` (intercept included).
    #[serde(with = "crate::learners::fitted::optional_float")]
    pub df: Option<f64>,
    /// Weighted GCV score at λ (`None` when `df` reaches the effective sample size).
    #[serde(with = "crate::learners::fitted::optional_float")]
    pub gcv: Option<f64>,
    /// Weighted leave-one-out error at λ (LOO only).
    #[serde(with = "crate::learners::fitted::optional_float")]
    pub loo: Option<f64>,
    /// Estimated condition number of the penalized system solved at λ
    /// (`G + λS I`, or its dual `K + λS I`): the 2-norm one
    /// `(e_max + λS)/(e_min + λS)` from a spectrum, the 1-norm one
    /// `‖M‖₁‖M⁻¹‖₁` after a Cholesky solve (∞ when the solve needed jitter).
    #[serde(with = "crate::learners::fitted::optional_float")]
    pub condition: Option<f64>,
    /// Diagonal jitter added by the Cholesky fallback (fixed penalty only; 0 otherwise).
    pub jitter: f64,
}

impl PenaltyChoice {
    /// The penalty facts as learner diagnostics.
    pub fn diagnostics(&self) -> LearnerDiagnostics {
        LearnerDiagnostics {
            penalty: Some(self.penalty),
            jitter: Some(self.jitter),
            df: self.df,
            gcv: self.gcv,
            loo: self.loo,
            condition: self.condition,
            ..LearnerDiagnostics::default()
        }
    }
}

/// Weight summaries shared by the ridge-type solvers.
#[derive(Debug, Clone)]
pub(crate) struct WeightedProblem {
    /// `S = Σ w`.
    pub total: f64,
    /// Kish effective sample size `S² / Σ w²`.
    pub n_eff: f64,
    /// Indices of rows with positive weight.
    pub positive: Vec<usize>,
    /// Weights of those rows.
    pub positive_weights: Vec<f64>,
}

impl WeightedProblem {
    pub(crate) fn new(w: &Array1<f64>) -> Self {
        let total = w.sum();
        let squares: f64 = w.iter().map(|v| v * v).sum();
        let positive: Vec<usize> = (0..w.len()).filter(|&i| w[i] > 0.0).collect();
        let positive_weights = positive.iter().map(|&i| w[i]).collect();
        Self {
            total,
            n_eff: total * total / squares,
            positive,
            positive_weights,
        }
    }

    pub(crate) fn sqrt_weights(&self) -> Vec<f64> {
        self.positive_weights.iter().map(|w| w.sqrt()).collect()
    }
}

/// Picks λ on the grid minimizing `GCV = (RSS/S)/(1 − df/n_eff)²`; ties go to
/// the larger λ. `rss(μ)` is the weighted RSS at `μ = λS`.
pub(crate) fn select_penalty(
    eigenvalues: &Array1<f64>,
    grid: &PenaltyGrid,
    problem: &WeightedProblem,
    rss: impl Fn(f64) -> f64,
) -> Result<PenaltyChoice> {
    let mut best: Option<(f64, f64, f64)> = None;
    for lambda in grid.values() {
        let mu = lambda * problem.total;
        let df = 1.0
            + eigenvalues
                .iter()
                .map(|&e| if e + mu > 0.0 { e / (e + mu) } else { 0.0 })
                .sum::<f64>();
        if df >= problem.n_eff {
            continue;
        }
        let score = (rss(mu).max(0.0) / problem.total) / (1.0 - df / problem.n_eff).powi(2);
        if !score.is_finite() {
            continue;
        }
        if best.is_none_or(|(_, _, s)| score <= s) {
            best = Some((lambda, df, score));
        }
    }
    best.map(|(penalty, df, score)| PenaltyChoice {
        penalty,
        df: Some(df),
        gcv: Some(score),
        loo: None,
        jitter: 0.0,
        condition: Some(spectral_condition(eigenvalues, penalty * problem.total)),
    })
    .ok_or_else(|| {
        Error::param(
            "penalty_grid",
            format!("[{:e}, {:e}]", grid.min, grid.max),
            format!(
                "every grid penalty leaves df >= effective sample size {:.3}; raise the grid maximum",
                problem.n_eff
            ),
        )
    })
}

/// Most rows of `m` per block of the leave-one-out scan; blocks are balanced
/// (`n` rows in `⌈n/4096⌉` blocks of equal size up to one row), so that no
/// block is a sliver that a matrix product would treat as a special case.
const LOO_BLOCK_ROWS: usize = 4096;

/// Row ranges of at most `limit` rows covering `0..rows`, balanced.
fn balanced_blocks(rows: usize, limit: usize) -> Vec<std::ops::Range<usize>> {
    let count = rows.div_ceil(limit.max(1)).max(1);
    (0..count)
        .map(|k| (k * rows / count)..((k + 1) * rows / count))
        .filter(|r| !r.is_empty())
        .collect()
}

/// Picks λ on the grid minimizing the weighted leave-one-out error
/// `CV(λ) = (1/S) Σ_i w_i (e_i / (1 − h_ii))²` (ties to the larger λ).
///
/// In eigen-coordinates the fit on the `√w`-scaled rows is
/// `f̃_i = Σ_j m_ij c_j / (e_j + μ)` and the leverage
/// `h_ii = w_i/S + Σ_j m_ij² / (e_j + μ)`, where `m` is `W^{1/2} Φ V` (primal)
/// or `U diag(√e)` (dual), produced block by block by `m(rows)`, and `w_i` the weight of `m`'s row `i` (zero-weight
/// rows contribute nothing); the scaled residual is `r̃_i = ỹ_i − f̃_i` and
/// `w_i (e_i/(1 − h_ii))² = (r̃_i/(1 − h_ii))²`. This is the exact
/// leave-one-out shortcut of weighted least squares with the standardization
/// held fixed; it costs `O(n₊ r)` per grid point. Returns the choice with its df and LOO score.
pub(crate) fn select_penalty_loo(
    m: impl Fn(std::ops::Range<usize>) -> Array2<f64>,
    eigenvalues: &Array1<f64>,
    coords: &Array1<f64>,
    scaled_target: ArrayView1<f64>,
    row_weights: ArrayView1<f64>,
    grid: &PenaltyGrid,
    problem: &WeightedProblem,
) -> Result<PenaltyChoice> {
    select_penalty_loo_blocked(
        m,
        eigenvalues,
        coords,
        scaled_target,
        row_weights,
        grid,
        problem,
        LOO_BLOCK_ROWS,
    )
}

/// [`select_penalty_loo`] with at most `block_rows` rows per block.
#[allow(clippy::too_many_arguments)]
fn select_penalty_loo_blocked(
    m: impl Fn(std::ops::Range<usize>) -> Array2<f64>,
    eigenvalues: &Array1<f64>,
    coords: &Array1<f64>,
    scaled_target: ArrayView1<f64>,
    row_weights: ArrayView1<f64>,
    grid: &PenaltyGrid,
    problem: &WeightedProblem,
    block_rows: usize,
) -> Result<PenaltyChoice> {
    let lambdas = grid.values();
    // inverse[j, g] = 1/(e_j + μ_g): fitted values and leverages for the whole
    // grid are then two matrix products.
    let inverse = Array2::from_shape_fn((eigenvalues.len(), lambdas.len()), |(j, g)| {
        let d = eigenvalues[j] + lambdas[g] * problem.total;
        if d > 0.0 {
            1.0 / d
        } else {
            0.0
        }
    });
    // Scores of every grid point, LOO_BLOCK_ROWS rows of m at a time (memory
    // O(block · (r + grid)) instead of O(n · (r + grid))); each score still
    // sums its rows in order.
    let points = lambdas.len();
    let mut scores = vec![0.0; points];
    let mut valid = vec![true; points];
    for range in balanced_blocks(scaled_target.len(), block_rows) {
        let (start, end) = (range.start, range.end);
        let block = m(start..end);
        let weighted = &block * &coords.view().insert_axis(Axis(0));
        let fitted = linalg::matmul(weighted.view(), inverse.view());
        let squares = block.mapv(|v| v * v);
        let leverage = linalg::matmul(squares.view(), inverse.view());
        for (k, i) in (start..end).enumerate() {
            let base = row_weights[i] / problem.total;
            let target = scaled_target[i];
            let (fitted_row, leverage_row) = (fitted.row(k), leverage.row(k));
            for g in 0..points {
                let h = base + leverage_row[g];
                if h >= 1.0 - 1e-12 {
                    valid[g] = false;
                }
                let r = (target - fitted_row[g]) / (1.0 - h);
                scores[g] += r * r;
            }
        }
    }
    let mut best: Option<(f64, f64, f64)> = None;
    for (g, &lambda) in lambdas.iter().enumerate() {
        if !valid[g] {
            continue;
        }
        let df = 1.0
            + eigenvalues
                .iter()
                .zip(inverse.column(g))
                .map(|(e, i)| e * i)
                .sum::<f64>();
        let score = scores[g] / problem.total;
        if score.is_finite() && best.is_none_or(|(_, _, s)| score <= s) {
            best = Some((lambda, df, score));
        }
    }
    best.map(|(penalty, df, score)| PenaltyChoice {
        penalty,
        df: Some(df),
        gcv: None,
        loo: Some(score),
        jitter: 0.0,
        condition: Some(spectral_condition(eigenvalues, penalty * problem.total)),
    })
    .ok_or_else(|| {
        Error::param(
            "penalty_grid",
            format!("[{:e}, {:e}]", grid.min, grid.max),
            "every grid penalty leaves some row with leverage 1; raise the grid maximum",
        )
    })
}

/// `(e_max + μ)/(e_min + μ)` over a PSD spectrum (∞ when `e_min + μ = 0`;
/// 1 for an empty spectrum): the 2-norm condition number of `V diag(e) Vᵀ + μI`.
pub(crate) fn spectral_condition(eigenvalues: &Array1<f64>, mu: f64) -> f64 {
    let (low, high) = eigenvalues
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &e| {
            (lo.min(e), hi.max(e))
        });
    if eigenvalues.is_empty() {
        1.0
    } else if low + mu > 0.0 {
        (high + mu) / (low + mu)
    } else {
        f64::INFINITY
    }
}

/// `V diag(1/(e + μ)) coords`: the solution of `(V diag(e) Vᵀ + μI) x = V coords`
/// (directions with `e + μ = 0` contribute nothing).
pub(crate) fn spectral_solution(
    vectors: &Array2<f64>,
    values: &Array1<f64>,
    coords: &Array1<f64>,
    mu: f64,
) -> Array1<f64> {
    let scaled: Array1<f64> = values
        .iter()
        .zip(coords)
        .map(|(&e, &c)| if e + mu > 0.0 { c / (e + mu) } else { 0.0 })
        .collect();
    linalg::matvec(vectors.view(), scaled.view())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn grid_is_log_spaced_and_inclusive() {
        let g = PenaltyGrid {
            min: 1e-2,
            max: 1e2,
            points: 5,
        };
        let v = g.values();
        for (a, b) in v.iter().zip([1e-2, 1e-1, 1.0, 1e1, 1e2]) {
            assert_relative_eq!(*a, b, max_relative = 1e-12);
        }
    }

    #[test]
    fn blocks_are_balanced_and_cover_the_rows() {
        assert_eq!(balanced_blocks(4097, 4096), vec![0..2048, 2048..4097]);
        assert_eq!(balanced_blocks(4096, 4096), vec![0..4096]);
        assert_eq!(
            balanced_blocks(0, 4096),
            Vec::<std::ops::Range<usize>>::new()
        );
        let blocks = balanced_blocks(10_001, 4096);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].start, 0);
        assert_eq!(blocks[2].end, 10_001);
        assert!(blocks.windows(2).all(|w| w[0].end == w[1].start));
    }

    /// The blocked scan gives exactly the one-block choice (same penalty,
    /// same bits of the score) at sizes just above a block boundary.
    #[test]
    fn blocked_scan_equals_one_block() {
        use rand::RngExt;
        for n in [4097usize, 8193] {
            let d = 7;
            let mut rng = crate::rng::rng_from_seed(n as u64);
            let m = Array2::from_shape_fn((n, d), |_| rng.random::<f64>() - 0.5);
            let target = Array1::from_shape_fn(n, |_| rng.random::<f64>() - 0.5);
            let weights = Array1::ones(n);
            let eigenvalues = Array1::from_shape_fn(d, |j| 1.0 + j as f64);
            let coords = Array1::from_shape_fn(d, |j| 0.1 * j as f64 - 0.2);
            let problem = WeightedProblem::new(&weights);
            let grid = PenaltyGrid::default();
            let rows = |r: std::ops::Range<usize>| m.slice(ndarray::s![r, ..]).to_owned();
            let choose = |block_rows| {
                select_penalty_loo_blocked(
                    rows,
                    &eigenvalues,
                    &coords,
                    target.view(),
                    weights.view(),
                    &grid,
                    &problem,
                    block_rows,
                )
                .unwrap()
            };
            let (blocked, whole) = (choose(LOO_BLOCK_ROWS), choose(n));
            assert_eq!(blocked.penalty, whole.penalty, "n = {n}");
            assert_eq!(
                blocked.loo.unwrap().to_bits(),
                whole.loo.unwrap().to_bits(),
                "n = {n}"
            );
        }
    }
}
