//! Routing metrics of a many-model router on held-out queries that carry a
//! GS gain for every model, with bootstrap intervals.
//!
//! # Model
//! Test queries `q_j`, `j = 1..T`, models `k = 0..K−1` (model 0 the
//! reference): the router's scores `ψ̂_k(q_j)` (0 for the reference), the
//! realised gains `g_jk` over the reference (the GS gain columns of the test
//! file, or true gains when the file has them) and the costs `C_jk`. The
//! metrics are those of [`multi::evaluate`] (`docs/method.md` §9):
//! mean quality, mean cost, per-model shares and regret at each cost weight
//! `w`, the non-decreasing concave cost–quality frontier, AIQ over the cost
//! range, the oracle's AIQ and the frontier gap. With noisy GS gains the
//! oracle orders by the noise too, so its AIQ and the regret are measured
//! against an over-stated best (as for the two-model evaluation).
//!
//! # Algorithm
//! Point values on all `T` queries; for intervals, the resamples of the
//! two-model evaluation ([`super::evaluate`]: sample `b` draws `T` queries
//! with replacement from its own seed), each re-evaluated in full; a
//! metric's standard error is the standard deviation of its `B` values and
//! the interval the normal one. The same resamples as a two-model
//! evaluation with the same seed and `T`, so results do not depend on the
//! thread count.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use super::evaluate::{check_settings, resample, EvaluationOptions, Interval};
use crate::error::{Error, Result};
use crate::inference::normal_quantile;
use crate::routing::multi::{self, FrontierPoint, MultiEvaluation};

/// The metrics of one many-model router on one test table.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelsEvaluation {
    /// Test queries `T`.
    pub queries: usize,
    /// The models' names, the reference first.
    pub names: Vec<String>,
    /// The settings used (`w`, `bootstrap`, `level`, `seed`; `rho` and
    /// `costs` are the two-model evaluation's and unused).
    pub options: EvaluationOptions,
    /// The point evaluation on all queries.
    pub point: MultiEvaluation,
    /// AIQ of the router.
    pub aiq: Interval,
    /// AIQ of the oracle assignment (the best the gains allow).
    pub oracle_aiq: Interval,
    /// `oracle_aiq − aiq`.
    pub frontier_gap: Interval,
    /// Mean gain over the reference at each `w`.
    pub quality: Vec<Interval>,
    /// Mean cost at each `w`.
    pub cost: Vec<Interval>,
    /// Regret against the oracle assignment at each `w`.
    pub regret: Vec<Interval>,
    /// The router's frontier: the vertices of the non-decreasing concave
    /// hull of every (cost, quality) it reaches as `w` runs over `[0, ∞)`
    /// (what AIQ integrates).
    pub frontier: Vec<FrontierPoint>,
    /// The oracle's frontier.
    pub oracle_frontier: Vec<FrontierPoint>,
}

/// Evaluates the router's scores `score` against gains `gain` with costs
/// `costs` (all `T × K`, model 0 the reference, named by `names`) over
/// `options.w` (module docs).
///
/// # Errors
/// Fewer than [`MIN_QUERIES`](super::evaluate::MIN_QUERIES) queries, a level outside `(0, 1)`, names that
/// do not match the columns, and the errors of [`multi::evaluate`].
pub fn evaluate_models(
    names: Vec<String>,
    score: ArrayView2<f64>,
    gain: ArrayView2<f64>,
    costs: ArrayView2<f64>,
    options: &EvaluationOptions,
) -> Result<ModelsEvaluation> {
    let t = gain.nrows();
    check_settings(t, options)?;
    if names.len() != gain.ncols() {
        return Err(Error::param(
            "models",
            names.len(),
            format!(
                "{} gain columns for {} model names",
                gain.ncols(),
                names.len()
            ),
        ));
    }
    let point = multi::evaluate(score, gain, costs, &options.w)?;
    let samples: Vec<MultiEvaluation> = (0..options.bootstrap)
        .into_par_iter()
        .map(|b| {
            let rows = resample(options.seed, t, b);
            Ok(multi::evaluate(
                score.select(Axis(0), &rows).view(),
                gain.select(Axis(0), &rows).view(),
                costs.select(Axis(0), &rows).view(),
                &options.w,
            )?)
        })
        .collect::<Result<_>>()?;
    let z = normal_quantile(options.level)?;
    let scalar = |value: f64, pick: &dyn Fn(&MultiEvaluation) -> f64| {
        Interval::bootstrap(value, &samples.iter().map(pick).collect::<Vec<_>>(), z)
    };
    let curve = |values: &[f64], pick: &dyn Fn(&MultiEvaluation, usize) -> f64| {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                Interval::bootstrap(
                    v,
                    &samples.iter().map(|s| pick(s, i)).collect::<Vec<_>>(),
                    z,
                )
            })
            .collect::<Vec<_>>()
    };
    let hull = |s: ArrayView2<f64>| -> Result<Vec<FrontierPoint>> {
        Ok(multi::upper_frontier(&multi::frontier_points(
            s, gain, costs,
        )?))
    };
    Ok(ModelsEvaluation {
        frontier: hull(score)?,
        oracle_frontier: hull(gain)?,
        queries: t,
        names,
        options: options.clone(),
        aiq: scalar(point.aiq, &|s| s.aiq),
        oracle_aiq: scalar(point.oracle_aiq, &|s| s.oracle_aiq),
        frontier_gap: scalar(point.frontier_gap, &|s| s.frontier_gap),
        quality: curve(&point.quality, &|s, i| s.quality[i]),
        cost: curve(&point.cost, &|s, i| s.cost[i]),
        regret: curve(&point.regret, &|s, i| s.regret[i]),
        point,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng_from_seed;
    use ndarray::Array2;
    use rand::RngExt;

    /// Three models, 60 queries: gains and scores at random, costs 0, 0.5, 1.
    fn case() -> (Array2<f64>, Array2<f64>, Array2<f64>) {
        let mut rng = rng_from_seed(7);
        let gain = Array2::from_shape_fn((60, 3), |(_, k)| {
            if k == 0 {
                0.0
            } else {
                rng.random::<f64>() - 0.3
            }
        });
        let score = Array2::from_shape_fn((60, 3), |(j, k)| {
            if k == 0 {
                0.0
            } else {
                gain[[j, k]] + 0.3 * (rng.random::<f64>() - 0.5)
            }
        });
        let costs = Array2::from_shape_fn((60, 3), |(_, k)| 0.5 * k as f64);
        (score, gain, costs)
    }

    fn names() -> Vec<String> {
        ["ref", "small", "large"].map(String::from).to_vec()
    }

    #[test]
    fn point_values_are_the_core_evaluation_and_intervals_bracket_them() {
        let (score, gain, costs) = case();
        let options = EvaluationOptions {
            w: vec![0.0, 0.2, 0.5],
            bootstrap: 200,
            seed: 3,
            ..EvaluationOptions::default()
        };
        let eval =
            evaluate_models(names(), score.view(), gain.view(), costs.view(), &options).unwrap();
        let core = multi::evaluate(score.view(), gain.view(), costs.view(), &options.w).unwrap();
        assert_eq!(eval.point, core);
        assert_eq!(eval.aiq.value, core.aiq);
        assert_eq!(eval.frontier_gap.value, core.frontier_gap);
        for i in &[eval.aiq, eval.oracle_aiq, eval.frontier_gap] {
            let se = i.se.unwrap();
            assert!(se > 0.0 && i.lower < i.value && i.value < i.upper, "{i:?}");
        }
        // Scored by the truth, the router is the oracle: no gap, no regret.
        let oracle =
            evaluate_models(names(), gain.view(), gain.view(), costs.view(), &options).unwrap();
        assert!(oracle.frontier_gap.value.abs() < 1e-12);
        assert_eq!(oracle.frontier, oracle.oracle_frontier);
        let (lo, hi) = eval.point.cost_range;
        assert_eq!(multi::aiq(&eval.frontier, lo, hi), eval.aiq.value);
        assert!(oracle.regret.iter().all(|r| r.value == 0.0));
    }

    #[test]
    fn resamples_do_not_depend_on_the_thread_count() {
        let (score, gain, costs) = case();
        let options = EvaluationOptions {
            w: vec![0.0, 0.3],
            bootstrap: 50,
            ..EvaluationOptions::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    evaluate_models(names(), score.view(), gain.view(), costs.view(), &options)
                        .unwrap()
                })
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let (score, gain, costs) = case();
        let options = EvaluationOptions::default();
        let short = |m: &Array2<f64>| m.slice(ndarray::s![..10, ..]).to_owned();
        assert!(evaluate_models(
            names(),
            short(&score).view(),
            short(&gain).view(),
            short(&costs).view(),
            &options
        )
        .is_err());
        assert!(evaluate_models(
            names()[..2].to_vec(),
            score.view(),
            gain.view(),
            costs.view(),
            &options
        )
        .is_err());
        let level = EvaluationOptions {
            level: 1.0,
            ..EvaluationOptions::default()
        };
        assert!(evaluate_models(names(), score.view(), gain.view(), costs.view(), &level).is_err());
    }
}
