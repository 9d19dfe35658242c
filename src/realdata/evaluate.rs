//! Routing metrics of a router on held-out GS-labelled queries, with
//! bootstrap intervals.
//!
//! # Model
//! Test queries `q_j`, `j = 1..T`, with router scores `ψ̂_j` and gains `g_j`:
//! the GS labels `r_j = ψ(q_j) + ε_j`, or a column of true gains when the
//! test file has one (exported scenario data). The metrics are those of
//! [`crate::routing::evaluate`] (EG, NEG and paper-scale EG against the usage
//! ratio ρ, the NEG area, regret against the cost weight w). With noisy
//! labels, `V(ρ)` and `V_rand(ρ)` are unbiased for their values under ψ
//! (the scores do not depend on the test labels' noise), while the oracle
//! `V*(ρ)` orders by the noisy labels and over-states the achievable gain,
//! so NEG is conservative; regret is measured against the noisy labels'
//! best decisions likewise.
//!
//! # Algorithm
//! Point values are [`crate::routing::evaluate`] on all `T` queries. For an
//! interval, `B` bootstrap samples draw `T` queries with replacement
//! (sample `b` from the ChaCha stream seeded by
//! `derive_seed(seed_for(seed, 0, 0, Bootstrap), [b])`, so results do not
//! depend on the thread count) and re-evaluate; the standard error is the
//! standard deviation of the `B` values and the interval is the normal one,
//! `value ± z_{(1+level)/2}·SE`. A metric a bootstrap sample leaves undefined
//! (paper-scale EG when a sample's mean gain is zero) uses the samples that
//! define it. With `T ≥ 100` the normal bootstrap is adequate for these
//! smooth means of order statistics; it is not a small-sample method.
//!
//! [`compare`] scores several routers on one test table. Sample `b`'s rows
//! depend only on the seed, `b` and `T`, so every router sees the same
//! resamples, and the interval of a difference `a − b` ([`Difference`]) is
//! the normal interval of the `B` paired per-sample differences.

use ndarray::{Array1, ArrayView1, Axis};
use rand::RngExt;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::inference::normal_quantile;
use crate::limits::Estimate;
use crate::rng::{derive_seed, rng_from_seed, seed_for, Purpose};
use crate::routing::{self, Cutoff, RoutingEvaluation};

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationOptions {
    /// Usage ratios ρ (strictly increasing, within `[0, 1]`).
    pub rho: Vec<f64>,
    /// Cost weights w (`≥ 0`).
    pub w: Vec<f64>,
    /// Cost of the primary and the alternative model per query.
    pub costs: (f64, f64),
    /// Bootstrap samples (0: point values only).
    pub bootstrap: usize,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Master seed of the bootstrap.
    pub seed: u64,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        Self {
            rho: (0..=20).map(|i| i as f64 / 20.0).collect(),
            w: (0..=10).map(|i| i as f64 / 20.0).collect(),
            costs: (
                routing::DEFAULT_PRIMARY_COST,
                routing::DEFAULT_ALTERNATIVE_COST,
            ),
            bootstrap: 1000,
            level: 0.95,
            seed: 0,
        }
    }
}

/// A value with its bootstrap standard error and interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The value on all test queries.
    pub value: f64,
    /// Bootstrap standard error (`None` without bootstrap samples).
    pub se: Option<f64>,
    /// Lower end (`value` without bootstrap samples).
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
}

/// The metrics of one router on one test table.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Test queries `T`.
    pub queries: usize,
    /// The settings used.
    pub options: EvaluationOptions,
    /// The point evaluation ([`crate::routing::evaluate`]).
    pub point: RoutingEvaluation,
    /// EG over the ρ grid (`None` where undefined).
    pub eg: Vec<Option<Interval>>,
    /// NEG over the ρ grid.
    pub neg: Vec<Option<Interval>>,
    /// EG / mean gain over the ρ grid.
    pub eg_paper: Vec<Option<Interval>>,
    /// Area under NEG.
    pub neg_area: Interval,
    /// Regret over the w grid.
    pub regret: Vec<Interval>,
    /// Share of queries sent to the primary model at each w.
    pub usage: Vec<f64>,
    /// Mean squared error of ψ̂ against the gains (against the truth when
    /// the gains are true ψ; with noisy labels it includes their variance).
    pub mse: Interval,
    /// Mean gain of the test queries.
    pub mean_gain: f64,
}

/// Fewest test queries an evaluation accepts: with fewer, the usage-ratio
/// grid (steps of 0.05) is a staircase of ties and a bootstrap resamples a
/// handful of values, so neither the curves nor their intervals mean much.
pub const MIN_QUERIES: usize = 20;

/// The size estimate of an evaluation of `queries` test queries (the
/// bootstrap samples dominate: each resamples every query and evaluates
/// every curve, and its metrics are kept for the intervals).
pub fn estimate(queries: usize, options: &EvaluationOptions) -> Estimate {
    let t = queries as f64;
    let (rho, w) = (options.rho.len() as f64, options.w.len() as f64);
    let b = options.bootstrap as f64;
    let per_sample = 3.0 * 16.0 * rho + 2.0 * 8.0 * w + 256.0;
    let threads = rayon::current_num_threads() as f64;
    let bytes = (b + 1.0) * per_sample + (threads + 2.0) * 8.0 * 8.0 * t;
    let operations = (b + 1.0) * t * (t.max(2.0).log2() + 2.0 * rho + 2.0 * w + 8.0);
    let (what, key) = if options.bootstrap > 0 {
        (
            format!(
                "an evaluation with {} bootstrap samples of {queries} queries",
                options.bootstrap
            ),
            "the number of bootstrap samples (--bootstrap)".to_string(),
        )
    } else {
        (
            format!("an evaluation of {queries} queries"),
            "the number of test queries".to_string(),
        )
    };
    Estimate::new(bytes, operations, what, key)
}

/// Refuses an evaluation of `t` test queries that cannot mean much: a level
/// outside `(0, 1)`, fewer than [`MIN_QUERIES`] queries.
pub(crate) fn check_settings(t: usize, options: &EvaluationOptions) -> Result<()> {
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(Error::param("level", options.level, "must lie in (0, 1)"));
    }
    if t < MIN_QUERIES {
        return Err(Error::param(
            "queries",
            t,
            format!("an evaluation needs at least {MIN_QUERIES} test queries"),
        ));
    }
    Ok(())
}

/// Evaluates scores `psi_hat` against gains `gain` (module docs).
pub fn evaluate(
    psi_hat: ArrayView1<f64>,
    gain: ArrayView1<f64>,
    options: &EvaluationOptions,
) -> Result<Evaluation> {
    Ok(evaluate_sampled(psi_hat, gain, options)?.0)
}

/// [`evaluate`], with the bootstrap samples' metrics (for paired differences).
fn evaluate_sampled(
    psi_hat: ArrayView1<f64>,
    gain: ArrayView1<f64>,
    options: &EvaluationOptions,
) -> Result<(Evaluation, Samples)> {
    let t = gain.len();
    check_settings(t, options)?;
    estimate(t, options).check()?;
    let costs = routing::cost_differences(
        Array1::from_elem(t, options.costs.0).view(),
        Array1::from_elem(t, options.costs.1).view(),
    )?;
    let metrics = |psi: ArrayView1<f64>, g: ArrayView1<f64>| -> Result<(RoutingEvaluation, f64)> {
        let eval = routing::evaluate(psi, g, costs.view(), &options.rho, &options.w, Cutoff::None)?;
        let mse = routing::mse(psi, g)?;
        Ok((eval, mse))
    };
    let (point, mse) = metrics(psi_hat, gain)?;
    let usage = options
        .w
        .iter()
        .map(|&w| {
            let routed = routing::route(psi_hat, costs.view(), w)?;
            Ok(routed.iter().filter(|&&r| r).count() as f64 / t as f64)
        })
        .collect::<Result<Vec<f64>>>()?;

    let samples = bootstrap(psi_hat, gain, options, &metrics)?;
    let z = normal_quantile(options.level)?;
    let interval = |value: f64, draws: Vec<f64>| Interval::bootstrap(value, &draws, z);
    let curve = |pick: &dyn Fn(&RoutingEvaluation) -> &Vec<Option<f64>>| -> Vec<Option<Interval>> {
        pick(&point)
            .iter()
            .enumerate()
            .map(|(i, value)| {
                value.map(|v| interval(v, samples.iter().filter_map(|(s, _)| pick(s)[i]).collect()))
            })
            .collect()
    };
    let eg = curve(&|e| &e.eg);
    let neg = curve(&|e| &e.neg);
    let eg_paper = curve(&|e| &e.eg_paper);
    let neg_area = interval(
        point.neg_area,
        samples.iter().map(|(s, _)| s.neg_area).collect(),
    );
    let regret = point
        .regret
        .iter()
        .enumerate()
        .map(|(i, &v)| interval(v, samples.iter().map(|(s, _)| s.regret[i]).collect()))
        .collect();
    let mse = interval(mse, samples.iter().map(|(_, m)| *m).collect());
    let evaluation = Evaluation {
        queries: t,
        options: options.clone(),
        mean_gain: gain.sum() / t as f64,
        point,
        eg,
        neg,
        eg_paper,
        neg_area,
        regret,
        usage,
        mse,
    };
    Ok((evaluation, samples))
}

/// The bootstrap samples' routing metrics and MSE, in sample order.
type Samples = Vec<(RoutingEvaluation, f64)>;

/// Several routers scored on one test table, with the paired differences of
/// every pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The routers' names, in the order given.
    pub names: Vec<String>,
    /// Each router's evaluation ([`evaluate`]).
    pub evaluations: Vec<Evaluation>,
    /// Every pair `(i, j)`, `i < j`: router `i` minus router `j`.
    pub differences: Vec<Difference>,
}

/// Router `first` minus router `second` on one test table. Bootstrap sample
/// `b` resamples the same queries for every router (its rows depend only on
/// the seed, `b` and `T`), so each interval is that of the paired
/// difference: the standard deviation of the `B` per-sample differences.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Index of the first router.
    pub first: usize,
    /// Index of the second router.
    pub second: usize,
    /// Difference of the areas under NEG (larger is better).
    pub neg_area: Interval,
    /// Difference of the MSEs of ψ̂ against the gains (smaller is better).
    pub mse: Interval,
    /// Difference of EG / mean gain over the ρ grid (`None` where either is
    /// undefined).
    pub eg_paper: Vec<Option<Interval>>,
    /// Difference of EG / mean gain averaged over the ρ grid (where both are
    /// defined at every ρ; else `None`).
    pub mean_eg_paper: Option<Interval>,
    /// Difference of the regret over the w grid (smaller is better).
    pub regret: Vec<Interval>,
    /// Difference of the regret averaged over the w grid.
    pub mean_regret: Interval,
}

/// Scores several routers (`psi_hats`, named `names`) against the same
/// gains with one bootstrap: each router's [`Evaluation`] and the paired
/// difference of every pair ([`Difference`]).
pub fn compare(
    names: Vec<String>,
    psi_hats: &[ArrayView1<f64>],
    gain: ArrayView1<f64>,
    options: &EvaluationOptions,
) -> Result<Comparison> {
    if names.len() != psi_hats.len() || names.len() < 2 {
        return Err(Error::param(
            "routers",
            names.len(),
            "a comparison needs two or more routers, each with a name",
        ));
    }
    let z = normal_quantile(options.level)?;
    let mut evaluations = Vec::with_capacity(psi_hats.len());
    let mut samples = Vec::with_capacity(psi_hats.len());
    for psi_hat in psi_hats {
        let (evaluation, drawn) = evaluate_sampled(*psi_hat, gain, options)?;
        evaluations.push(evaluation);
        samples.push(drawn);
    }
    let mut differences = Vec::new();
    for first in 0..psi_hats.len() {
        for second in first + 1..psi_hats.len() {
            differences.push(difference(
                (first, &evaluations[first], &samples[first]),
                (second, &evaluations[second], &samples[second]),
                z,
            ));
        }
    }
    Ok(Comparison {
        names,
        evaluations,
        differences,
    })
}

/// The paired difference of two routers' metrics: point values and the
/// per-sample differences of the same bootstrap samples.
fn difference(
    (first, a, a_samples): (usize, &Evaluation, &Samples),
    (second, b, b_samples): (usize, &Evaluation, &Samples),
    z: f64,
) -> Difference {
    let pairs = || a_samples.iter().zip(b_samples);
    let interval = |value: f64, draws: Vec<f64>| Interval::bootstrap(value, &draws, z);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let eg_paper: Vec<Option<Interval>> = (0..a.point.eg_paper.len())
        .map(|i| {
            let value = a.point.eg_paper[i]? - b.point.eg_paper[i]?;
            let draws = pairs()
                .filter_map(|((x, _), (y, _))| Some(x.eg_paper[i]? - y.eg_paper[i]?))
                .collect();
            Some(interval(value, draws))
        })
        .collect();
    let curve_mean = |e: &RoutingEvaluation| -> Option<f64> {
        let values: Option<Vec<f64>> = e.eg_paper.iter().copied().collect();
        values.map(|v| mean(&v))
    };
    let mean_eg_paper = curve_mean(&a.point)
        .zip(curve_mean(&b.point))
        .map(|(x, y)| {
            let draws = pairs()
                .filter_map(|((x, _), (y, _))| Some(curve_mean(x)? - curve_mean(y)?))
                .collect();
            interval(x - y, draws)
        });
    let regret = (0..a.point.regret.len())
        .map(|i| {
            let draws = pairs()
                .map(|((x, _), (y, _))| x.regret[i] - y.regret[i])
                .collect();
            interval(a.point.regret[i] - b.point.regret[i], draws)
        })
        .collect();
    let mean_regret = interval(
        mean(&a.point.regret) - mean(&b.point.regret),
        pairs()
            .map(|((x, _), (y, _))| mean(&x.regret) - mean(&y.regret))
            .collect(),
    );
    Difference {
        first,
        second,
        neg_area: interval(
            a.point.neg_area - b.point.neg_area,
            pairs()
                .map(|((x, _), (y, _))| x.neg_area - y.neg_area)
                .collect(),
        ),
        mse: interval(
            a.mse.value - b.mse.value,
            pairs().map(|((_, x), (_, y))| x - y).collect(),
        ),
        eg_paper,
        mean_eg_paper,
        regret,
        mean_regret,
    }
}

impl Interval {
    /// The normal interval `value ± z·se` with `se` the standard deviation
    /// of the bootstrap `draws`; no `se` and a point interval with fewer than
    /// two draws.
    pub(crate) fn bootstrap(value: f64, draws: &[f64], z: f64) -> Self {
        if draws.len() < 2 {
            return Interval {
                value,
                se: None,
                lower: value,
                upper: value,
            };
        }
        let n = draws.len() as f64;
        let mean = draws.iter().sum::<f64>() / n;
        let se = (draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1.0)).sqrt();
        Interval {
            value,
            se: Some(se),
            lower: value - z * se,
            upper: value + z * se,
        }
    }
}

/// The routing metrics and MSE of scores against gains.
type Metrics<'a> =
    dyn Fn(ArrayView1<f64>, ArrayView1<f64>) -> Result<(RoutingEvaluation, f64)> + Sync + 'a;

/// The routing metrics and MSE of `options.bootstrap` resamples of the test
/// queries (with replacement; resample `b` from its own seed, so the draws
/// do not depend on the thread count, and every router scored on the same
/// test table sees the same resamples).
fn bootstrap(
    psi_hat: ArrayView1<f64>,
    gain: ArrayView1<f64>,
    options: &EvaluationOptions,
    metrics: &Metrics<'_>,
) -> Result<Samples> {
    let t = gain.len();
    (0..options.bootstrap)
        .into_par_iter()
        .map(|b| {
            let rows = resample(options.seed, t, b);
            metrics(
                psi_hat.select(Axis(0), &rows).view(),
                gain.select(Axis(0), &rows).view(),
            )
        })
        .collect()
}

/// The rows of bootstrap resample `b` of `t` test queries under `seed`:
/// `t` draws with replacement from the ChaCha stream seeded by
/// `derive_seed(seed_for(seed, 0, 0, Bootstrap), [b])` (module docs).
pub(crate) fn resample(seed: u64, t: usize, b: usize) -> Vec<usize> {
    let base = seed_for(seed, 0, 0, Purpose::Bootstrap);
    let mut rng = rng_from_seed(derive_seed(base, &[b as u64]));
    (0..t).map(|_| rng.random_range(0..t)).collect()
}
