//! `multi-model`: routing among `K` models (2 ≤ K ≤ 6) with per-query costs
//! and a PB judge whose bias differs between models.
//!
//! # Model
//! Features `s ~ N(0, I_d)` (`d ≥ 5`, default 10), with roles: `s₁` drives the
//! PB judge's drift, `(s₂, s₃)` is a "topic" plane in which each model has its
//! own strong direction, `s₄` is difficulty, `s₅` open-endedness (longer
//! answers, hence more tokens). Model 0 is the reference (the cheap model);
//! for model `k = 1..K−1`, with the constants of the table below,
//!
//! - `ψ_k(s) = α_k + β_k tanh(cos θ_k s₂ + sin θ_k s₃) + γ_k max(s₄, 0)`: the
//!   expected GS gain of model `k` over the reference on query `s`;
//! - `Δ_k(s) = δ_k + ρ_k tanh(s₁) − λ·1{k = 2}·s₅` and `η_k = ψ_k − Δ_k`: the
//!   judge favours the long answers of model 2 (the verbose one), by
//!   `λ = length_bias` per unit of `s₅`;
//! - cost `C_k(s) = c_k exp(ω_k s₅ − ω_k²/2)` (`costs = "per-query"`, mean
//!   `c_k`; ω is the verbosity) or `C_k = c_k` (`costs = "constant"`), for
//!   `k = 0..K−1` including the reference;
//! - labels: GS `r_k = ψ_k + N(0, σ_g²)`, PB `y_k = η_k + N(0, σ_p²)`,
//!   independent across models and rows.
//!
//! | k | role | α | β | θ | γ | c | ω | δ | ρ |
//! |---|---|---|---|---|---|---|---|---|---|
//! | 0 | reference | — | — | — | — | 0.10 | 0.20 | — | — |
//! | 1 | balanced | 0.10 | 0.20 | 0 | 0.10 | 0.50 | 0.30 | 0.10 | 0.30 |
//! | 2 | verbose | 0.15 | 0.20 | 2π/3 | 0.15 | 1.00 | 0.80 | −0.05 | 0.20 |
//! | 3 | large | 0.25 | 0.15 | 4π/3 | 0.25 | 2.00 | 0.40 | 0.15 | −0.30 |
//! | 4 | small specialist | 0.05 | 0.25 | π/3 | 0.05 | 0.30 | 0.20 | 0.20 | 0.25 |
//! | 5 | frontier | 0.30 | 0.10 | π | 0.30 | 3.00 | 0.50 | 0.00 | 0.35 |
//!
//! A scenario with `models = K` uses rows 0..K−1.
//!
//! **Split and missing labels.** Each replicate draws a pool of `pool`
//! queries and splits it at random into `n_test` test queries, `n_gold` GS
//! queries and the rest PB queries (as `healthbench-like`). A GS query
//! carries model `k`'s GS label with probability `gold_coverage` and a PB
//! query its PB label with probability `pref_coverage`, independently across
//! models and queries (missing completely at random). Model `k`'s training
//! data are the rows that carry its label, so its propensity is the constant
//! `κ_k = n_gold·gold_coverage / (n_gold·gold_coverage + n_pref·pref_coverage)`.
//!
//! **Population constants (closed form, model 1: the two-model view).**
//! `tanh` is odd and the features symmetric, and `E max(s₄, 0) = 1/√(2π)`,
//! so `E ψ_k = α_k + γ_k/√(2π)` and `E Δ_k = δ_k`; the split is random, so
//! the GS, PB and pooled laws coincide. `accuracy = 0`.
//!
//! # Algorithm
//! [`MultiModel::draw_models`] uses its stream in this order: the pool's
//! features (`pool × d` standard normals, row by row); for `k = 1..K−1` the
//! `pool` GS noises, then the `pool` PB noises; a Fisher–Yates permutation of
//! the pool (first `n_test` test, next `n_gold` GS, rest PB); for
//! `k = 1..K−1` `n_gold` uniforms (GS label present iff `u < gold_coverage`)
//! then `n_pref` uniforms for the PB labels. Everything is drawn whatever the
//! coverage, so changing a coverage changes only which labels are present.
//! A model left with fewer than two GS or two PB rows makes the draw fail.
//! As a two-model [`Scenario`] the scenario is model 1 against the reference.
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), arXiv 2509.25535 (discussion: many models);
//! Hu et al. (2024), RouterBench, arXiv 2403.12031 (per-query costs).
//!
//! # Example
//! ```
//! use meta_router::dgp::{MultiModel, MultiModelParams, Scenario};
//! use meta_router::rng::{stream, Purpose};
//!
//! let scenario = MultiModel::new(MultiModelParams { models: 3, ..Default::default() }).unwrap();
//! let data = scenario.draw_models(&mut stream(1, 0, 0, Purpose::Data)).unwrap();
//! assert_eq!(data.per_model.len(), 2);
//! assert_eq!(data.test_costs.ncols(), 3);
//! assert!(data.test_gain.column(0).iter().all(|&g| g == 0.0));
//! ```

use std::f64::consts::PI;

use ndarray::{concatenate, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    check_count, check_finite, check_pool_sizes, check_scale, normal_vector, rowwise, split_pool,
    standard_normal_matrix, take, take_rows, uniform_vector, LabelTables, MultiSimulatedData,
    PopulationConstants, Scenario, ScenarioSizes, SimulatedData,
};
use crate::data::TrainingData;
use crate::error::{Error, Result};

pub(crate) const DESCRIPTION: &str =
    "K models (2..6), per-query costs, a PB judge biased towards the verbose model 2; labels may be missing per model";

/// Key and meaning of every parameter.
pub(crate) const PARAMETER_DOCS: &[(&str, &str)] = &[
    (
        "models",
        "number of models K including the reference (2..=6)",
    ),
    ("n_gold", "GS queries per replicate (>= 2)"),
    (
        "pool",
        "queries drawn per replicate, split into test / GS / PB",
    ),
    ("n_test", "test queries (>= 1); n_gold + n_test <= pool - 2"),
    ("d", "feature dimension (>= 5)"),
    ("sigma_gold", "GS label noise sd (>= 0)"),
    ("sigma_pref", "PB label noise sd (>= 0)"),
    (
        "length_bias",
        "λ: the judge's bias towards model 2's long answers per unit of s₅",
    ),
    (
        "costs",
        "per-query (c_k·exp(ω_k s₅ − ω_k²/2)) or constant (c_k)",
    ),
    (
        "gold_coverage",
        "probability that a GS query carries a model's GS label, in (0, 1]",
    ),
    (
        "pref_coverage",
        "probability that a PB query carries a model's PB label, in (0, 1]",
    ),
];

/// The largest number of models (rows of the constants table).
pub(crate) const MAX_MODELS: usize = 6;

/// Per-model constants (model 0, the reference, uses only `cost` and `omega`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelConstants {
    /// Name used in records and reports.
    pub name: &'static str,
    /// `α_k`.
    pub alpha: f64,
    /// `β_k`.
    pub beta: f64,
    /// `θ_k`.
    pub theta: f64,
    /// `γ_k`.
    pub gamma: f64,
    /// Mean cost `c_k`.
    pub cost: f64,
    /// Verbosity `ω_k`.
    pub omega: f64,
    /// `δ_k`.
    pub delta: f64,
    /// `ρ_k`.
    pub rho: f64,
}

const fn model(
    name: &'static str,
    [alpha, beta, theta, gamma, cost, omega, delta, rho]: [f64; 8],
) -> ModelConstants {
    ModelConstants {
        name,
        alpha,
        beta,
        theta,
        gamma,
        cost,
        omega,
        delta,
        rho,
    }
}

/// The constants table of the module docs.
pub(crate) const MODELS: [ModelConstants; MAX_MODELS] = [
    model("reference", [0.0, 0.0, 0.0, 0.0, 0.10, 0.20, 0.0, 0.0]),
    model("balanced", [0.10, 0.20, 0.0, 0.10, 0.50, 0.30, 0.10, 0.30]),
    model(
        "verbose",
        [0.15, 0.20, 2.0 * PI / 3.0, 0.15, 1.00, 0.80, -0.05, 0.20],
    ),
    model(
        "large",
        [0.25, 0.15, 4.0 * PI / 3.0, 0.25, 2.00, 0.40, 0.15, -0.30],
    ),
    model(
        "specialist",
        [0.05, 0.25, PI / 3.0, 0.05, 0.30, 0.20, 0.20, 0.25],
    ),
    model("frontier", [0.30, 0.10, PI, 0.30, 3.00, 0.50, 0.00, 0.35]),
];

/// Index of the model the judge favours on long answers.
pub(crate) const VERBOSE_MODEL: usize = 2;

/// How costs vary over queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CostKind {
    /// `C_k(s) = c_k exp(ω_k s₅ − ω_k²/2)`.
    #[default]
    PerQuery,
    /// `C_k = c_k`.
    Constant,
}

/// Parameters of `multi-model` (defaults in [`Default`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiModelParams {
    /// `K`, including the reference (default 3).
    pub models: usize,
    /// GS queries (default 200).
    pub n_gold: usize,
    /// Pool size (default 3000).
    pub pool: usize,
    /// Test queries (default 500).
    pub n_test: usize,
    /// Feature dimension (default 10).
    #[serde(rename = "d")]
    pub dim: usize,
    /// GS noise sd (default 0.5).
    pub sigma_gold: f64,
    /// PB noise sd (default 0.5).
    pub sigma_pref: f64,
    /// `λ` (default 0.25).
    pub length_bias: f64,
    /// Cost kind (default per-query).
    pub costs: CostKind,
    /// Probability a GS query carries a model's GS label (default 1).
    pub gold_coverage: f64,
    /// Probability a PB query carries a model's PB label (default 1).
    pub pref_coverage: f64,
}

impl Default for MultiModelParams {
    fn default() -> Self {
        Self {
            models: 3,
            n_gold: 200,
            pool: 3000,
            n_test: 500,
            dim: 10,
            sigma_gold: 0.5,
            sigma_pref: 0.5,
            length_bias: 0.25,
            costs: CostKind::PerQuery,
            gold_coverage: 1.0,
            pref_coverage: 1.0,
        }
    }
}

/// The `multi-model` scenario (see the module docs).
#[derive(Debug, Clone)]
pub struct MultiModel {
    params: MultiModelParams,
}

impl MultiModel {
    /// Validates the parameters (errors name the key).
    pub fn new(params: MultiModelParams) -> Result<Self> {
        if !(2..=MAX_MODELS).contains(&params.models) {
            return Err(Error::param(
                "models",
                params.models,
                format!(
                    "must lie between 2 and {MAX_MODELS} (the reference and up to five others)"
                ),
            ));
        }
        check_pool_sizes(params.n_gold, params.pool, params.n_test)?;
        check_count("d", params.dim, 5, "ψ, Δ and the costs use s₁..s₅")?;
        check_scale("sigma_gold", params.sigma_gold)?;
        check_scale("sigma_pref", params.sigma_pref)?;
        check_finite("length_bias", params.length_bias)?;
        for (key, value) in [
            ("gold_coverage", params.gold_coverage),
            ("pref_coverage", params.pref_coverage),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(Error::param(key, value, "must lie in (0, 1]"));
            }
        }
        Ok(Self { params })
    }

    /// The parameters.
    pub fn params(&self) -> &MultiModelParams {
        &self.params
    }

    /// `κ_k`, the expected share of GS rows among model k's labelled rows.
    pub fn kappa(&self) -> f64 {
        let p = &self.params;
        let gold = p.n_gold as f64 * p.gold_coverage;
        let pref = (p.pool - p.n_test - p.n_gold) as f64 * p.pref_coverage;
        gold / (gold + pref)
    }

    /// `ψ_k` on the rows of `x` (`k ≥ 1`; 0 for the reference).
    pub fn psi_k(&self, k: usize, x: ArrayView2<f64>) -> Array1<f64> {
        let m = MODELS[k];
        rowwise(x, self.params.dim, |s| {
            if k == 0 {
                0.0
            } else {
                m.alpha
                    + m.beta * (m.theta.cos() * s[1] + m.theta.sin() * s[2]).tanh()
                    + m.gamma * s[3].max(0.0)
            }
        })
    }

    /// `Δ_k` on the rows of `x` (0 for the reference).
    pub fn delta_k(&self, k: usize, x: ArrayView2<f64>) -> Array1<f64> {
        let m = MODELS[k];
        let lambda = if k == VERBOSE_MODEL {
            self.params.length_bias
        } else {
            0.0
        };
        rowwise(x, self.params.dim, |s| {
            if k == 0 {
                0.0
            } else {
                m.delta + m.rho * s[0].tanh() - lambda * s[4]
            }
        })
    }

    /// `C_k` on one feature row.
    fn cost_row(&self, k: usize, s: ArrayView1<f64>) -> f64 {
        let m = MODELS[k];
        match self.params.costs {
            CostKind::Constant => m.cost,
            CostKind::PerQuery => m.cost * (m.omega * s[4] - 0.5 * m.omega * m.omega).exp(),
        }
    }

    /// Model `k`'s two-model data from the drawn pieces.
    #[allow(clippy::too_many_arguments)]
    fn model_data(
        &self,
        k: usize,
        x: &Array2<f64>,
        gold_label: &Array1<f64>,
        pref_label: &Array1<f64>,
        (test, gold, pref): (&[usize], &[usize], &[usize]),
    ) -> Result<SimulatedData> {
        let gold_x = take_rows(x, gold);
        let pref_x = take_rows(x, pref);
        let train = TrainingData::new(
            gold_x,
            take(gold_label, gold),
            pref_x,
            take(pref_label, pref),
        )
        .map_err(|e| Error::param("models", k, format!("model {k}'s training data: {e}")))?;
        let pooled = train.pooled_x();
        let test_x = take_rows(x, test);
        let all_gold_y = concatenate(
            Axis(0),
            &[take(gold_label, gold).view(), take(gold_label, pref).view()],
        )
        .expect("vectors concatenate");
        Ok(SimulatedData {
            all_gold_y,
            train_propensity: Array1::from_elem(train.n_total(), self.kappa()),
            train_psi: self.psi_k(k, pooled.view()),
            train_delta: self.delta_k(k, pooled.view()),
            test_psi: self.psi_k(k, test_x.view()),
            test_delta: self.delta_k(k, test_x.view()),
            test_gold_y: take(gold_label, test),
            test_x,
            train,
        })
    }
}

/// Indices `rows[i]` whose uniform `u[i] < coverage`.
fn covered(rows: &[usize], u: &Array1<f64>, coverage: f64) -> Vec<usize> {
    rows.iter()
        .zip(u.iter())
        .filter(|(_, &v)| v < coverage)
        .map(|(&r, _)| r)
        .collect()
}

impl MultiModel {
    /// Draws one replicate of every model (the scenario's
    /// [`Scenario::draw_models`]).
    fn draw_all(&self, rng: &mut ChaCha8Rng) -> Result<MultiSimulatedData> {
        let p = &self.params;
        let k_models = p.models;
        let x = standard_normal_matrix(rng, p.pool, p.dim);
        let mut noises = Vec::with_capacity(k_models - 1);
        for _ in 1..k_models {
            let gold = normal_vector(rng, p.pool, p.sigma_gold);
            let pref = normal_vector(rng, p.pool, p.sigma_pref);
            noises.push((gold, pref));
        }
        let (test, gold, pref) = split_pool(rng, p.pool, p.n_test, p.n_gold);
        let mut per_model = Vec::with_capacity(k_models - 1);
        let mut gold_labels = Array2::from_elem((gold.len(), k_models - 1), f64::NAN);
        let mut pref_labels = Array2::from_elem((pref.len(), k_models - 1), f64::NAN);
        for (k, (gold_noise, pref_noise)) in (1..k_models).zip(noises) {
            let u_gold = uniform_vector(rng, gold.len());
            let u_pref = uniform_vector(rng, pref.len());
            let gold_k = covered(&gold, &u_gold, p.gold_coverage);
            let pref_k = covered(&pref, &u_pref, p.pref_coverage);
            check_coverage(k, &gold_k, &pref_k)?;
            let psi = self.psi_k(k, x.view());
            let eta = &psi - &self.delta_k(k, x.view());
            let gold_label = &psi + &gold_noise;
            let pref_label = &eta + &pref_noise;
            fill_labels(
                &mut gold_labels,
                k,
                &gold,
                &u_gold,
                p.gold_coverage,
                &gold_label,
            );
            fill_labels(
                &mut pref_labels,
                k,
                &pref,
                &u_pref,
                p.pref_coverage,
                &pref_label,
            );
            per_model.push(self.model_data(
                k,
                &x,
                &gold_label,
                &pref_label,
                (&test, &gold_k, &pref_k),
            )?);
        }
        let test_x = take_rows(&x, &test);
        let test_gain = Array2::from_shape_fn((test.len(), k_models), |(j, k)| {
            if k == 0 {
                0.0
            } else {
                per_model[k - 1].test_psi[j]
            }
        });
        let test_costs = Array2::from_shape_fn((test.len(), k_models), |(j, k)| {
            self.cost_row(k, test_x.row(j))
        });
        Ok(MultiSimulatedData {
            models: self.model_names(),
            per_model,
            test_gain,
            test_costs,
            tables: Some(LabelTables {
                gold_x: take_rows(&x, &gold),
                gold_labels,
                pref_x: take_rows(&x, &pref),
                pref_labels,
            }),
        })
    }
}

impl Scenario for MultiModel {
    fn name(&self) -> &'static str {
        "multi-model"
    }

    fn dim(&self) -> usize {
        self.params.dim
    }

    fn psi(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.psi_k(1, x)
    }

    fn delta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.delta_k(1, x)
    }

    fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let kappa = self.kappa();
        rowwise(x, self.params.dim, |_| kappa)
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<SimulatedData> {
        Ok(self.draw_models(rng)?.per_model.swap_remove(0))
    }

    fn constants(&self) -> PopulationConstants {
        let m = MODELS[1];
        let mean_psi = m.alpha + m.gamma / (2.0 * PI).sqrt();
        PopulationConstants {
            mean_psi,
            mean_delta_pref: m.delta,
            mean_psi_pref: mean_psi,
            mean_delta: m.delta,
            accuracy: 0.0,
        }
    }

    fn sizes(&self) -> ScenarioSizes {
        let p = &self.params;
        let mut sizes = ScenarioSizes::random_split(p.dim, p.pool, p.n_test, p.n_gold);
        sizes.n_gold *= p.gold_coverage;
        sizes.n_pref *= p.pref_coverage;
        sizes.random_counts = p.gold_coverage < 1.0 || p.pref_coverage < 1.0;
        sizes
    }

    fn model_names(&self) -> Vec<String> {
        MODELS[..self.params.models]
            .iter()
            .map(|m| m.name.to_string())
            .collect()
    }

    fn draw_models(&self, rng: &mut ChaCha8Rng) -> Result<MultiSimulatedData> {
        self.draw_all(rng)
    }
}

/// Refuses a draw where model `k` has fewer than two labelled GS or PB rows.
fn check_coverage(k: usize, gold_k: &[usize], pref_k: &[usize]) -> Result<()> {
    if gold_k.len() < 2 || pref_k.len() < 2 {
        return Err(Error::param(
            if gold_k.len() < 2 {
                "gold_coverage"
            } else {
                "pref_coverage"
            },
            format!("{} GS / {} PB rows", gold_k.len(), pref_k.len()),
            format!(
                "model {k} ({}) needs at least two labelled GS and two PB rows",
                MODELS[k].name
            ),
        ));
    }
    Ok(())
}

/// Writes model `k`'s label of pool row `rows[i]` into column `k − 1` of
/// `labels` where its uniform `u[i]` falls below `coverage` (the row carries
/// that model's label; the other cells stay NaN, no label).
fn fill_labels(
    labels: &mut Array2<f64>,
    k: usize,
    rows: &[usize],
    u: &Array1<f64>,
    coverage: f64,
    values: &Array1<f64>,
) {
    for (i, (&row, &v)) in rows.iter().zip(u.iter()).enumerate() {
        if v < coverage {
            labels[[i, k - 1]] = values[row];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Purpose};
    use ndarray::array;

    #[test]
    fn formulas_match_hand_values() {
        let scenario = MultiModel::new(MultiModelParams {
            models: 6,
            dim: 5,
            ..Default::default()
        })
        .unwrap();
        let x = array![[0.5, 1.0, -0.5, 0.7, 1.2]];
        let m = MODELS[2];
        let psi =
            m.alpha + m.beta * (m.theta.cos() * 1.0 + m.theta.sin() * -0.5).tanh() + m.gamma * 0.7;
        assert!((scenario.psi_k(2, x.view())[0] - psi).abs() < 1e-15);
        let delta = m.delta + m.rho * 0.5f64.tanh() - 0.25 * 1.2;
        assert!((scenario.delta_k(2, x.view())[0] - delta).abs() < 1e-15);
        // no length bias for the others; the reference is 0
        let m3 = MODELS[3];
        let delta3 = m3.delta + m3.rho * 0.5f64.tanh();
        assert!((scenario.delta_k(3, x.view())[0] - delta3).abs() < 1e-15);
        assert_eq!(scenario.psi_k(0, x.view())[0], 0.0);
        let c = scenario.cost_row(2, x.row(0));
        assert!((c - 1.0 * (0.8f64 * 1.2 - 0.32).exp()).abs() < 1e-15);
    }

    /// A large sample agrees with the closed-form constants and the cost means.
    #[test]
    fn sample_means_match_the_constants() {
        let scenario = MultiModel::new(MultiModelParams {
            models: 6,
            ..Default::default()
        })
        .unwrap();
        let n = 200_000;
        let x = standard_normal_matrix(&mut stream(9, 0, 0, Purpose::Truth), n, 10);
        for (k, m) in MODELS.iter().enumerate().skip(1) {
            let psi = scenario.psi_k(k, x.view());
            let expected = m.alpha + m.gamma / (2.0 * PI).sqrt();
            // sd(ψ_k) < 0.5, so 5 SE < 0.006
            assert!((psi.mean().unwrap() - expected).abs() < 0.006, "model {k}");
            let delta = scenario.delta_k(k, x.view());
            assert!((delta.mean().unwrap() - m.delta).abs() < 0.006, "model {k}");
        }
        for (k, m) in MODELS.iter().enumerate() {
            let mean: f64 = (0..n).map(|j| scenario.cost_row(k, x.row(j))).sum::<f64>() / n as f64;
            assert!((mean - m.cost).abs() < 0.01 * m.cost, "cost {k}");
        }
    }

    #[test]
    fn draws_are_reproducible_and_respect_coverage() {
        let params = MultiModelParams {
            models: 5,
            gold_coverage: 0.5,
            pref_coverage: 0.8,
            ..Default::default()
        };
        let scenario = MultiModel::new(params).unwrap();
        let a = scenario
            .draw_models(&mut stream(3, 1, 2, Purpose::Data))
            .unwrap();
        let b = scenario
            .draw_models(&mut stream(3, 1, 2, Purpose::Data))
            .unwrap();
        assert_eq!(a.test_costs, b.test_costs);
        assert_eq!(a.per_model.len(), 4);
        for (m, n) in a.per_model.iter().zip(&b.per_model) {
            assert_eq!(m.train.gold_y(), n.train.gold_y());
            // about half of the 200 GS queries and 80% of the 2300 PB ones
            assert!((60..140).contains(&m.train.n_gold()));
            assert!((1700..1980).contains(&m.train.n_pref()));
            assert_eq!(m.test_x, a.per_model[0].test_x);
        }
        // different models see different rows
        assert_ne!(a.per_model[0].train.gold_x(), a.per_model[1].train.gold_x());
        assert!(a.test_costs.iter().all(|&c| c > 0.0));
        // the label matrices hold exactly each model's rows, in order
        let tables = a.tables.as_ref().unwrap();
        for (k, m) in a.per_model.iter().enumerate() {
            let present: Vec<f64> = tables
                .gold_labels
                .column(k)
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            assert_eq!(present, m.train.gold_y().to_vec());
            let present = tables
                .pref_labels
                .column(k)
                .iter()
                .filter(|v| !v.is_nan())
                .count();
            assert_eq!(present, m.train.n_pref());
        }
        // the two-model view is model 1
        let one = scenario.draw(&mut stream(3, 1, 2, Purpose::Data)).unwrap();
        assert_eq!(one.train.pref_y(), a.per_model[0].train.pref_y());
    }

    #[test]
    fn bad_parameters_name_their_key() {
        for (params, key) in [
            (
                MultiModelParams {
                    models: 7,
                    ..Default::default()
                },
                "models",
            ),
            (
                MultiModelParams {
                    gold_coverage: 0.0,
                    ..Default::default()
                },
                "gold_coverage",
            ),
            (
                MultiModelParams {
                    dim: 4,
                    ..Default::default()
                },
                "d",
            ),
        ] {
            match MultiModel::new(params) {
                Err(Error::Core(meta_router_core::Error::InvalidParameter { name, .. })) => {
                    assert_eq!(name, key)
                }
                other => panic!("expected an error naming {key}, got {other:?}"),
            }
        }
        // a coverage so low that a model has no GS rows fails the draw
        let scenario = MultiModel::new(MultiModelParams {
            n_gold: 2,
            gold_coverage: 0.01,
            ..Default::default()
        })
        .unwrap();
        assert!(scenario
            .draw_models(&mut stream(1, 0, 0, Purpose::Data))
            .is_err());
    }
}
