//! The pilot check of a plan: the empirical learning curve of each method on
//! the pilot's own GS rows (what `meta-router scenarios check` runs).
//!
//! A plan extrapolates from a planted truth; the pilot check measures, on
//! the pilot itself, what the plan predicts at budgets the pilot can reach.
//! It needs no truth: the held-out GS labels are unbiased for ψ.
//!
//! # Algorithm
//! 1. The pilot's `n` GS rows are permuted (a Fisher–Yates shuffle from the
//!    `Folds` stream of seed `(s, 3, r)` for repetition `r`, where `s` is
//!    derived from the master seed and a tag of the check's own, so that a
//!    plan's study on the same master seed draws other numbers) and dealt
//!    into `K` folds (position `i` of the permutation goes to fold `i mod K`).
//! 2. For fold `k` and budget `m`, every method is fitted on the first `m`
//!    GS rows of the other folds (in permutation order, so the training sets
//!    of one fold are nested) and **all** the pilot's PB rows, and predicts
//!    ψ̂ on fold `k`. Every method of one `(r, k, m)` gets the same seeds
//!    (`(s, 4, (r·K + k)·B + b)`, `b` the budget's position): paired fits,
//!    as in a study's replicate. A budget is at most the smallest training
//!    part, `n − ⌈n/K⌉`.
//! 3. Each held-out fold is scored on its own, its rows ranked by its own
//!    fits, against the GS labels `r` as gains (ranking the folds' rows
//!    together would let a row's label move its rank through the other
//!    folds' fits, which trained on it, and bias the area down):
//!    - the **EG area** `∫ EG(ρ) dρ` (trapezoid over the ρ grid, `EG(ρ) =
//!      V(ρ) − V_rand(ρ)` as in [`crate::routing::evaluate`]). Given the fit,
//!      no routing decision looks at a held-out label, so `V` and `V_rand`
//!      are unbiased for their values under ψ, up to the rounding term of a
//!      grid point where `ρ·T_k` is not whole (`T_k` the fold's rows; at most
//!      `|mean ψ|/(2T_k)` per point). The NEG area is not reported: its oracle
//!      orders by the noisy labels;
//!    - the paired difference of EG areas between the router (the first
//!      method) and each other method;
//!    - the **label MSE** `mean (ψ̂ − r)²`, which is the MSE of ψ̂ plus the
//!      labels' noise variance in expectation, so its change between two
//!      budgets, `MSE(m) − MSE(m_max)`, estimates the change of the MSE of ψ̂.
//!
//!    The folds' values are averaged with weights `T_k / n`; steps 1–3 run
//!    `R` times (repetitions of the fold split, each with other training
//!    subsets) and every metric is the mean over them.
//! 4. Intervals: `B ≥ 2` bootstrap resamples, each drawing every held-out
//!    fold's rows with replacement within the fold (resample `b` of fold `k`
//!    of repetition `r` from its own seed, shared by every method and
//!    budget, so differences are paired), give the held-out rows' sampling
//!    variance `s²_boot` of the mean over repetitions; the repetitions'
//!    spread `s²_rep` (their sample variance; 0 with `R = 1`) adds the
//!    variability of the training subsets, `se = √(s²_boot + s²_rep / R)`,
//!    and the interval is `value ± z·se`. Neither part covers the pilot's
//!    own sampling (the same rows train and test), so the intervals are on
//!    the narrow side.
//!
//! The pilot's rows are one sample: with a few hundred GS rows the check has
//! standard errors of the size of the differences it tests, so read it for
//! gross disagreements (a plan that promises gains the pilot does not show
//! at all), not for fine calibration.
//!
//! Cost: `R × K × budgets × methods` router fits.

use ndarray::{Array1, Axis};
use rand::RngExt;
use rayon::prelude::*;

use super::sample_sd;
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::inference::normal_quantile;
use crate::meta::{FitSeeds, MetaRouterConfig};
use crate::realdata::evaluate::{resample, Interval};
use crate::realdata::{training_data, Table};
use crate::rng::{derive_seed, seed_for, stream, Purpose};
use crate::routing::{self, Cutoff};

/// The tag of the check's streams under the master seed (`"pilot"` in ASCII).
const PILOT_CHECK_TAG: u64 = 0x70_69_6c_6f_74;

/// Most repetitions of the fold split a check accepts.
pub const MAX_REPEATS: usize = 100;
/// Most bootstrap resamples a check accepts.
pub const MAX_BOOTSTRAP: usize = 100_000;

/// Settings of a pilot check.
#[derive(Debug, Clone, PartialEq)]
pub struct PilotCheckOptions {
    /// GS rows per fit, each at least 2 and at most [`largest_budget`].
    pub budgets: Vec<usize>,
    /// Folds `K` of the pilot's GS rows (at least 2).
    pub folds: usize,
    /// Repetitions `R` of the fold split (1 to [`MAX_REPEATS`]).
    pub repeats: usize,
    /// The usage-ratio grid of the EG area (strictly increasing in `[0, 1]`).
    pub rho: Vec<f64>,
    /// Bootstrap resamples of the held-out rows (2 to [`MAX_BOOTSTRAP`]).
    pub bootstrap: usize,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Master seed of the folds, fits and resamples.
    pub seed: u64,
}

/// One method at one budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PilotPoint {
    /// `∫ EG(ρ) dρ` of the out-of-fold ψ̂ against the GS labels.
    pub eg_area: Interval,
    /// `mean (ψ̂ − r)²` over the GS rows.
    pub label_mse: Interval,
    /// `MSE(m) − MSE(m_max)`, paired over the same rows (0 at the largest budget).
    pub mse_change: Interval,
}

/// The learning curves of the pilot check.
#[derive(Debug, Clone, PartialEq)]
pub struct PilotCheck {
    /// Method labels; the first is the router.
    pub methods: Vec<String>,
    /// GS rows per fit, ascending.
    pub budgets: Vec<usize>,
    /// GS rows scored (every pilot GS row, out of fold).
    pub scored: usize,
    /// PB rows in every fit.
    pub pref_rows: usize,
    /// The settings used.
    pub options: PilotCheckOptions,
    /// `points[b][j]`: method `j` at budget `b`.
    pub points: Vec<Vec<PilotPoint>>,
    /// `differences[b][j − 1]`: the router's EG area minus method `j`'s.
    pub differences: Vec<Vec<Interval>>,
}

/// The largest budget every fold can train on: `n − ⌈n/K⌉`.
pub fn largest_budget(n_gold: usize, folds: usize) -> usize {
    n_gold.saturating_sub(n_gold.div_ceil(folds.max(1)))
}

/// Default budgets: a quarter, half, three quarters and all of
/// [`largest_budget`] (those of at least 10 rows, without repeats).
pub fn default_budgets(n_gold: usize, folds: usize) -> Vec<usize> {
    let largest = largest_budget(n_gold, folds);
    let mut budgets: Vec<usize> = (1..=4)
        .map(|q| (largest * q) / 4)
        .filter(|&m| m >= 10)
        .collect();
    budgets.dedup();
    budgets
}

/// Runs the pilot check (module docs) for `methods` (label and router
/// configuration; the first is the router) on the pilot's tables.
pub fn pilot_check(
    methods: &[(String, MetaRouterConfig)],
    gold: &Table,
    pref: &Table,
    options: &PilotCheckOptions,
) -> Result<PilotCheck> {
    if methods.len() < 2 {
        return Err(Error::param(
            "methods",
            methods.len(),
            "a pilot check compares a router with at least one other method",
        ));
    }
    if options.folds < 2 {
        return Err(Error::param("folds", options.folds, "must be at least 2"));
    }
    if !(1..=MAX_REPEATS).contains(&options.repeats) {
        return Err(Error::param(
            "repeats",
            options.repeats,
            format!("must lie in 1..={MAX_REPEATS}"),
        ));
    }
    if !(2..=MAX_BOOTSTRAP).contains(&options.bootstrap) {
        return Err(Error::param(
            "bootstrap",
            options.bootstrap,
            format!("must lie in 2..={MAX_BOOTSTRAP} (the intervals need resamples)"),
        ));
    }
    if !(options.level > 0.0 && options.level < 1.0) {
        return Err(Error::param("level", options.level, "must lie in (0, 1)"));
    }
    let data = training_data(gold, pref, 1)?;
    let n = data.n_gold();
    if n < 2 * options.folds {
        return Err(Error::input(
            gold.file.clone(),
            None,
            None,
            format!(
                "{n} GS rows cannot be dealt into {} folds of at least 2 rows",
                options.folds
            ),
        ));
    }
    let largest = largest_budget(n, options.folds);
    let mut budgets = options.budgets.clone();
    budgets.sort_unstable();
    budgets.dedup();
    if budgets.is_empty() {
        return Err(Error::param(
            "budgets",
            "(none)",
            "name at least one budget",
        ));
    }
    for &m in &budgets {
        if m < 2 || m > largest {
            return Err(Error::param(
                "budgets",
                m,
                format!(
                    "a pilot check trains on 2 to {largest} GS rows ({n} GS rows in {} folds: \
                     each fit leaves one fold out)",
                    options.folds
                ),
            ));
        }
    }
    let (folds, repeats) = (options.folds, options.repeats);
    // The check's streams derive from the master seed and a tag of their
    // own, so a plan's study run on the same seed draws other numbers.
    let base = derive_seed(options.seed, &[PILOT_CHECK_TAG]);
    let permutations: Vec<Vec<usize>> = (0..repeats).map(|r| shuffled(n, base, r)).collect();
    let x = data.gold_x();
    let y = data.gold_y();
    // Every fit: (repetition, fold, budget position, method) → ψ̂ on the fold's rows.
    let jobs: Vec<(usize, usize, usize, usize)> = (0..repeats)
        .flat_map(|r| (0..folds).map(move |k| (r, k)))
        .flat_map(|(r, k)| {
            (0..budgets.len()).flat_map(move |b| (0..methods.len()).map(move |j| (r, k, b, j)))
        })
        .collect();
    let fits: Vec<HeldOut> = jobs
        .par_iter()
        .map(|&(r, k, b, j)| {
            let permutation = &permutations[r];
            let held: Vec<usize> = (k..n).step_by(folds).map(|i| permutation[i]).collect();
            let train: Vec<usize> = (0..n)
                .filter(|&i| i % folds != k)
                .map(|i| permutation[i])
                .take(budgets[b])
                .collect();
            let subset = TrainingData::new(
                x.select(Axis(0), &train),
                y.select(Axis(0), &train),
                data.pref_x().to_owned(),
                data.pref_y().to_owned(),
            )?;
            let unit = ((r * folds + k) * budgets.len() + b) as u64;
            let seeds = FitSeeds {
                folds: seed_for(base, 4, unit, Purpose::Folds),
                learner: seed_for(base, 4, unit, Purpose::Learner),
            };
            let (label, config) = &methods[j];
            let router = config.fit(&subset, seeds).map_err(|e| {
                Error::input(
                    gold.file.clone(),
                    None,
                    None,
                    format!(
                        "the pilot check's fit of `{label}` on {} of these GS rows (fold {} of \
                         {folds}) failed: {e}",
                        budgets[b],
                        k + 1,
                    ),
                )
            })?;
            let psi = router.predict_psi(x.select(Axis(0), &held).view());
            Ok(HeldOut { r, b, j, held, psi })
        })
        .collect::<Result<_>>()?;
    // oof[r][b][j]: out-of-fold ψ̂ of every GS row in repetition r.
    let mut oof = vec![vec![vec![Array1::<f64>::zeros(n); methods.len()]; budgets.len()]; repeats];
    for HeldOut { r, b, j, held, psi } in fits {
        for (&row, &value) in held.iter().zip(psi.iter()) {
            oof[r][b][j][row] = value;
        }
    }
    let gains = y.to_owned();
    // Each repetition's metrics: per held-out fold (ranked by that fold's
    // own fits), weighted by the fold's share of the GS rows.
    let held_out: Vec<Vec<Vec<usize>>> = permutations
        .iter()
        .map(|permutation| {
            (0..folds)
                .map(|k| (k..n).step_by(folds).map(|i| permutation[i]).collect())
                .collect()
        })
        .collect();
    let repetition = |r: usize, pick: &dyn Fn(usize, &[usize]) -> Vec<usize>| -> Result<Vec<f64>> {
        let mut total: Vec<f64> = Vec::new();
        for (k, rows) in held_out[r].iter().enumerate() {
            let fold = metrics(&oof[r], &gains, &pick(k, rows), &options.rho)?;
            let weight = rows.len() as f64 / n as f64;
            total.resize(fold.len(), 0.0);
            for (t, v) in total.iter_mut().zip(fold) {
                *t += weight * v;
            }
        }
        Ok(total)
    };
    let per_repeat: Vec<Vec<f64>> = (0..repeats)
        .map(|r| repetition(r, &|_, rows| rows.to_vec()))
        .collect::<Result<_>>()?;
    let point = mean_over(&per_repeat);
    let draws: Vec<Vec<f64>> = (0..options.bootstrap)
        .into_par_iter()
        .map(|b| {
            let each: Vec<Vec<f64>> = (0..repeats)
                .map(|r| {
                    // Resample b of fold k of repetition r: its rows drawn
                    // with replacement, the same for every method and budget.
                    repetition(r, &|k, rows| {
                        let seed = derive_seed(base, &[r as u64, k as u64]);
                        resample(seed, rows.len(), b)
                            .into_iter()
                            .map(|i| rows[i])
                            .collect()
                    })
                })
                .collect::<Result<_>>()?;
            Ok(mean_over(&each))
        })
        .collect::<Result<_>>()?;
    let z = normal_quantile(options.level)?;
    let interval = |index: usize| {
        let values: Vec<f64> = draws.iter().map(|d| d[index]).collect();
        let spread: Vec<f64> = per_repeat.iter().map(|d| d[index]).collect();
        combined_interval(point[index], &values, &spread, z)
    };
    let layout = Layout {
        methods: methods.len(),
        budgets: budgets.len(),
    };
    let points = (0..budgets.len())
        .map(|b| {
            (0..methods.len())
                .map(|j| PilotPoint {
                    eg_area: interval(layout.area(b, j)),
                    label_mse: interval(layout.mse(b, j)),
                    mse_change: interval(layout.mse_change(b, j)),
                })
                .collect()
        })
        .collect();
    let differences = (0..budgets.len())
        .map(|b| {
            (1..methods.len())
                .map(|j| interval(layout.difference(b, j)))
                .collect()
        })
        .collect();
    Ok(PilotCheck {
        methods: methods.iter().map(|(label, _)| label.clone()).collect(),
        budgets: budgets.clone(),
        scored: n,
        pref_rows: data.n_pref(),
        options: PilotCheckOptions {
            budgets,
            ..options.clone()
        },
        points,
        differences,
    })
}

/// One fit's predictions: repetition `r`, budget position `b`, method `j`,
/// the held-out GS rows and ψ̂ on them.
struct HeldOut {
    r: usize,
    b: usize,
    j: usize,
    held: Vec<usize>,
    psi: Array1<f64>,
}

/// Repetition `r`'s permutation of `0..n` (Fisher–Yates from the `Folds`
/// stream of seed `(seed, 3, r)`).
fn shuffled(n: usize, seed: u64, r: usize) -> Vec<usize> {
    let mut rng = stream(seed, 3, r as u64, Purpose::Folds);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

/// The element-wise mean of equally long vectors.
fn mean_over(vectors: &[Vec<f64>]) -> Vec<f64> {
    let count = vectors.len() as f64;
    let mut mean = vec![0.0; vectors.first().map_or(0, Vec::len)];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    mean.iter_mut().for_each(|m| *m /= count);
    mean
}

/// `value ± z·se` with `se = √(s²_boot + s²_rep/R)`: `s_boot` the standard
/// deviation of the bootstrap `draws`, `s²_rep` the sample variance of the
/// `R` repetitions' values `spread` (step 4 of the module docs). No SE with
/// fewer than two draws.
fn combined_interval(value: f64, draws: &[f64], spread: &[f64], z: f64) -> Interval {
    let boot = Interval::bootstrap(value, draws, z);
    let Some(se_boot) = boot.se else {
        return boot;
    };
    let between = if spread.len() >= 2 {
        sample_sd(spread).powi(2) / spread.len() as f64
    } else {
        0.0
    };
    let se = (se_boot * se_boot + between).sqrt();
    Interval {
        value,
        se: Some(se),
        lower: value - z * se,
        upper: value + z * se,
    }
}

/// Where each metric sits in the flat vector [`metrics`] returns: per
/// budget and method the EG area, the label MSE and its change to the
/// largest budget, then per budget the router's EG area minus each other
/// method's.
struct Layout {
    methods: usize,
    budgets: usize,
}

impl Layout {
    fn area(&self, b: usize, j: usize) -> usize {
        3 * (b * self.methods + j)
    }
    fn mse(&self, b: usize, j: usize) -> usize {
        self.area(b, j) + 1
    }
    fn mse_change(&self, b: usize, j: usize) -> usize {
        self.area(b, j) + 2
    }
    fn difference(&self, b: usize, j: usize) -> usize {
        3 * self.budgets * self.methods + b * (self.methods - 1) + (j - 1)
    }
}

/// The metrics of every budget and method on GS rows `rows` (with
/// repeats for a bootstrap resample), laid out as [`Layout`] says.
fn metrics(
    oof: &[Vec<Array1<f64>>],
    gains: &Array1<f64>,
    rows: &[usize],
    rho: &[f64],
) -> Result<Vec<f64>> {
    let (budgets, methods) = (oof.len(), oof[0].len());
    let layout = Layout { methods, budgets };
    let gain = gains.select(Axis(0), rows);
    let costs = routing::default_costs(rows.len());
    let mut out = vec![0.0; 3 * budgets * methods + budgets * (methods - 1)];
    let mut mse = vec![vec![0.0; methods]; budgets];
    for b in 0..budgets {
        for j in 0..methods {
            let psi = oof[b][j].select(Axis(0), rows);
            let eval = routing::evaluate(
                psi.view(),
                gain.view(),
                costs.view(),
                rho,
                &[],
                Cutoff::None,
            )?;
            out[layout.area(b, j)] = routing::trapezoid(rho, &eval.eg);
            mse[b][j] = routing::mse(psi.view(), gain.view())?;
            out[layout.mse(b, j)] = mse[b][j];
        }
    }
    for b in 0..budgets {
        for j in 0..methods {
            out[layout.mse_change(b, j)] = mse[b][j] - mse[budgets - 1][j];
        }
        for j in 1..methods {
            out[layout.difference(b, j)] = out[layout.area(b, 0)] - out[layout.area(b, j)];
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_stay_within_the_smallest_training_part() {
        // 250 rows in 5 folds of 50: every fit sees up to 200
        assert_eq!(largest_budget(250, 5), 200);
        assert_eq!(default_budgets(250, 5), vec![50, 100, 150, 200]);
        // 23 rows in 5 folds: the largest fold holds 5, so 18
        assert_eq!(largest_budget(23, 5), 18);
        assert_eq!(default_budgets(23, 5), vec![13, 18]);
    }

    #[test]
    fn the_permutation_is_one_of_the_seed() {
        let a = shuffled(50, 7, 0);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(a, shuffled(50, 7, 0));
        assert_ne!(a, shuffled(50, 8, 0));
        assert_ne!(a, shuffled(50, 7, 1));
    }

    /// A pilot whose labels are pure noise: `n` GS and `n` PB rows, two
    /// features, labels N(0, 1) independent of them.
    fn noise_pilot(n: usize, seed: u64) -> (Table, Table) {
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = stream(seed, 0, 0, Purpose::Data);
        let mut table = |file: &str| {
            let x = ndarray::Array2::from_shape_fn((n, 2), |_| StandardNormal.sample(&mut rng));
            let y: Array1<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
            Table {
                file: file.into(),
                feature_names: vec!["a".into(), "b".into()],
                x,
                label: Some(y),
                extra: Default::default(),
                ids: None,
                weights: None,
                lines: (2..n as u64 + 2).collect(),
            }
        };
        (table("gold.csv"), table("pref.csv"))
    }

    #[test]
    fn without_signal_the_eg_area_is_zero_within_monte_carlo_error() {
        // Out-of-fold scores ranked within their own fold cannot use a
        // row's label, so with pure-noise labels the EG area has mean 0
        // (ranking all folds together biases it down: the other folds'
        // fits trained on the row). 200 pilots; the tolerance is 3 MCSE.
        let methods = vec![
            (
                "gs-only".to_string(),
                MetaRouterConfig::new(crate::meta::Method::GsOnly),
            ),
            (
                "pooled".to_string(),
                MetaRouterConfig::new(crate::meta::Method::Pooled),
            ),
        ];
        let options = PilotCheckOptions {
            budgets: vec![80],
            folds: 5,
            repeats: 1,
            rho: (0..=20).map(|i| i as f64 / 20.0).collect(),
            bootstrap: 2,
            level: 0.95,
            seed: 1,
        };
        let areas: Vec<f64> = (0..200)
            .map(|seed| {
                let (gold, pref) = noise_pilot(100, seed);
                let check = pilot_check(
                    &methods,
                    &gold,
                    &pref,
                    &PilotCheckOptions {
                        seed,
                        ..options.clone()
                    },
                )
                .unwrap();
                check.points[0][0].eg_area.value
            })
            .collect();
        let mean = areas.iter().sum::<f64>() / areas.len() as f64;
        let mcse = sample_sd(&areas) / (areas.len() as f64).sqrt();
        assert!(
            mean.abs() <= 3.0 * mcse,
            "mean EG area {mean} (MCSE {mcse})"
        );
    }

    #[test]
    fn metrics_are_laid_out_per_budget_and_method() {
        // Two budgets, two methods; the router's ψ̂ equals the gains at the
        // larger budget, the other method's is constant.
        let gains = Array1::from(vec![0.5, -0.2, 0.3, 0.1, -0.4, 0.0]);
        let flat = Array1::from_elem(6, 0.05);
        let oof = vec![vec![flat.clone(), flat.clone()], vec![gains.clone(), flat]];
        let rho: Vec<f64> = (0..=6).map(|i| i as f64 / 6.0).collect();
        let rows: Vec<usize> = (0..6).collect();
        let out = metrics(&oof, &gains, &rows, &rho).unwrap();
        let layout = Layout {
            methods: 2,
            budgets: 2,
        };
        // a perfect score: MSE 0, and its EG area beats the flat one's
        assert_eq!(out[layout.mse(1, 0)], 0.0);
        assert!(out[layout.area(1, 0)] > out[layout.area(1, 1)] + 1e-3);
        assert_eq!(
            out[layout.difference(1, 1)],
            out[layout.area(1, 0)] - out[layout.area(1, 1)]
        );
        // the MSE change to the largest budget
        assert_eq!(out[layout.mse_change(1, 0)], 0.0);
        assert_eq!(out[layout.mse_change(0, 0)], out[layout.mse(0, 0)]);
        assert_eq!(out.len(), 3 * 4 + 2);
    }
}
