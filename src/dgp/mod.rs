//! Seeded data-generating processes (scenarios) with known ψ, η, Δ and propensity.
//!
//! # Model
//! A scenario fixes a feature law, the GS gain `ψ(s)`, the PB bias `Δ(s)` (so
//! `η = ψ − Δ`), the noise of both evaluation mechanisms and how GS and PB
//! queries are chosen, hence the true propensity `p(s) = P(t = 1 | s)` of the
//! pooled training rows (the paper's Lemma 1). Every label is "truth plus
//! noise": a GS label is `r = ψ(s) + ε` and a PB label has conditional mean
//! `η(s)`. The scenarios:
//!
//! | name | file | features | split |
//! |---|---|---|---|
//! | `healthbench-like`, `prbench-like` | [`healthbench`] | `s_k = z_k/√k`, `z ~ N(0, I_d)` | random split of one pool, `p ≡ κ` |
//! | `covariate-shift` | [`covariate_shift`] | PB `N(0, I)`, GS `N(γe₁, I)` | fixed sizes, `p(s)` logistic in `s₁` |
//! | `nie-wager-a` … `nie-wager-d` | [`nie_wager`] | Nie & Wager setups A–D | `t ~ Bernoulli(e(X))` |
//! | `nie-wager` (`setup = "a"` … `"d"`) | [`nie_wager`] | the same, setup as a parameter | `t ~ Bernoulli(e(X))` |
//! | `binary-preference` | [`binary_preference`] | as healthbench-like | PB labels in `{+1, 0, −1}` |
//! | `multi-model` | [`multi_model`] | `N(0, I_d)`, K models with costs | random split, labels missing at random per model |
//!
//! Every scenario is a scenario of `K ≥ 2` models, the reference first:
//! [`Scenario::draw_models`] gives one two-model [`SimulatedData`] per
//! non-reference model plus the test queries' true gains and costs of every
//! model ([`MultiSimulatedData`]). A two-model scenario is the case `K = 2`
//! (models [`TWO_MODELS`]: the alternative `M_a` as the reference at relative
//! cost 0, the primary `M_p` at relative cost 1), drawn by [`Scenario::draw`];
//! the study engine draws every replicate through `draw_models`.
//!
//! # Algorithm
//! [`Scenario::draw`] takes one [`ChaCha8Rng`] (normally
//! `crate::rng::stream(seed, grid, replicate, Purpose::Data)`) and draws every
//! random quantity of a replicate from it in a fixed, documented order, so a
//! replicate is reproducible from its stream alone and independent of threads.
//! It returns a [`SimulatedData`]: the [`TrainingData`] (GS rows then PB rows),
//! the true ψ, Δ and p on the pooled training rows, a GS-mechanism label for
//! every training row (for the `all-gold` oracle method) and test queries with
//! their true ψ, Δ and noisy GS labels. A draw never retries: a draw that cannot
//! be used (fewer than two rows of one kind) is an error, counted by the study.
//!
//! [`Scenario::constants`] gives population constants (`E ψ`, `E[Δ | t = 0]`,
//! `E[ψ | t = 0]`, `E Δ`), in closed form where one exists, else from a large
//! fixed-seed sample drawn from the [`Purpose::Truth`](crate::rng::Purpose::Truth)
//! stream, whose Monte Carlo standard error is reported in
//! [`PopulationConstants::accuracy`].
//!
//! Scenarios are configured by [`ScenarioConfig`], a serde enum tagged by
//! `name` whose parameters are flat snake-case keys with defaults;
//! [`ScenarioConfig::build`] validates every parameter and names the offending
//! key in the error; [`ScenarioConfig::catalog`] lists scenarios and parameters.
//!
//! # References
//! - Zhang, Xie, Yang, Wu (2025), *Meta-Router: Bridging Gold-standard and
//!   Preference-based Evaluations in Large Language Model Routing*,
//!   arXiv 2509.25535 (Lemma 1; simulation of Fig. 1).
//! - Nie & Wager (2021), *Quasi-oracle estimation of heterogeneous treatment
//!   effects*, Biometrika 108(2), §6 (setups A–D).
//!
//! # Example
//! ```
//! use meta_router::dgp::ScenarioConfig;
//! use meta_router::rng::{stream, Purpose};
//!
//! let config: ScenarioConfig =
//!     toml::from_str("name = \"healthbench-like\"\nn_gold = 200\npool = 1000\nn_test = 100")
//!         .unwrap();
//! let scenario = config.build().unwrap();
//! let data = scenario.draw(&mut stream(1, 0, 0, Purpose::Data)).unwrap();
//! assert_eq!(data.train.n_gold(), 200);
//! assert_eq!(data.train.n_pref(), 700);
//! assert_eq!(data.test_x.nrows(), 100);
//! // the all-gold labels agree with the GS labels on the GS rows
//! assert_eq!(data.all_gold_y.slice(ndarray::s![..200]), data.train.gold_y());
//! assert!((scenario.constants().mean_psi - 0.035).abs() < 1e-15);
//! ```

use ndarray::{concatenate, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::data::TrainingData;
use crate::error::{Error, Result};

pub mod binary_preference;
pub mod covariate_shift;
pub mod export;
pub mod healthbench;
pub mod multi_model;
pub mod nie_wager;
pub mod plasmode;
pub mod truth;

pub use binary_preference::{BinaryPreference, BinaryPreferenceParams};
pub use covariate_shift::{CovariateShift, CovariateShiftParams, Shape, TestFrom};
pub use healthbench::{BiasShape, HealthbenchLike, HealthbenchParams, PrbenchParams};
pub use multi_model::{CostKind, MultiModel, MultiModelParams};
pub use nie_wager::{NieWager, NieWagerParams, NieWagerSetup, NieWagerSetupParams};
pub use plasmode::{NoiseKind, Plasmode, PlasmodeFile, PlasmodeParams};
pub use truth::{ProjectionTruth, TruthSample};

/// One replicate's simulated data with its ground truth.
#[derive(Debug, Clone)]
pub struct SimulatedData {
    /// Training rows: GS rows first, then PB rows.
    pub train: TrainingData,
    /// A GS-mechanism label (`ψ + GS noise`) for every training row, pooled
    /// order; equal to `train.gold_y()` on the GS rows. Used by the `all-gold`
    /// oracle method.
    pub all_gold_y: Array1<f64>,
    /// True propensity `p(s_k) = P(t = 1 | s_k)` on the pooled training rows.
    pub train_propensity: Array1<f64>,
    /// True `ψ` on the pooled training rows.
    pub train_psi: Array1<f64>,
    /// True `Δ` on the pooled training rows.
    pub train_delta: Array1<f64>,
    /// Test queries.
    pub test_x: Array2<f64>,
    /// True `ψ` on the test queries.
    pub test_psi: Array1<f64>,
    /// True `Δ` on the test queries.
    pub test_delta: Array1<f64>,
    /// Noisy GS labels for the test queries (`ψ + GS noise`).
    pub test_gold_y: Array1<f64>,
}

/// Population constants of a scenario (inference targets and references).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PopulationConstants {
    /// `E ψ(s)` over the pooled training law (the mixture of GS and PB query
    /// laws with weights κ and 1 − κ).
    pub mean_psi: f64,
    /// `θ_Δ = E[Δ(s) | t = 0]`: the average PB bias over the PB query law.
    pub mean_delta_pref: f64,
    /// `θ_ψ = E[ψ(s) | t = 0]`: the mean GS gain over the PB query law.
    pub mean_psi_pref: f64,
    /// `E Δ(s)` over the pooled training law.
    pub mean_delta: f64,
    /// 0 when every constant is exact (closed form, or a one-dimensional
    /// integral evaluated by quadrature to better than 1e-10); otherwise the
    /// largest Monte Carlo standard error of the four constants, computed
    /// from the fixed-seed truth sample.
    pub accuracy: f64,
}

/// A data-generating process with known truth.
pub trait Scenario: Send + Sync + std::fmt::Debug {
    /// The scenario's name as used in configs (e.g. `"healthbench-like"`).
    fn name(&self) -> &'static str;
    /// Feature dimension `d`.
    fn dim(&self) -> usize;
    /// True GS gain `ψ(s)` for each row of `x`. Panics if `x` has the wrong
    /// number of columns.
    fn psi(&self, x: ArrayView2<f64>) -> Array1<f64>;
    /// True PB bias `Δ(s) = ψ(s) − η(s)` for each row of `x`.
    fn delta(&self, x: ArrayView2<f64>) -> Array1<f64>;
    /// True PB gain `η(s) = ψ(s) − Δ(s)`.
    fn eta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        &self.psi(x) - &self.delta(x)
    }
    /// True propensity `p(s) = P(t = 1 | s)` of the pooled training law.
    fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64>;
    /// Draws one replicate; every random quantity comes from `rng`.
    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<SimulatedData>;
    /// Population constants (closed form, or from a fixed-seed truth sample).
    fn constants(&self) -> PopulationConstants;
    /// Row counts and dimension of one replicate (for validating a study
    /// before it runs).
    fn sizes(&self) -> ScenarioSizes;
    /// `m = E ψ(s)` over the law of the test queries: the population constant
    /// that puts efficiency gains on the paper's scale (`EG / m`). By default
    /// the pooled law's `E ψ` (test queries drawn like the training pool).
    fn test_mean_gain(&self) -> f64 {
        self.constants().mean_psi
    }
    /// The model names, the reference first (`K ≥ 2`; a scenario with more
    /// than two models describes model 1 against the reference in the
    /// two-model methods above).
    fn model_names(&self) -> Vec<String> {
        TWO_MODELS.iter().map(|m| m.to_string()).collect()
    }
    /// Draws one replicate of every model; every random quantity comes from
    /// `rng`. By default the `K = 2` case: [`Scenario::draw`] seen as
    /// [`MultiSimulatedData::two_models`] (the same draws from the same
    /// stream).
    fn draw_models(&self, rng: &mut ChaCha8Rng) -> Result<MultiSimulatedData> {
        Ok(MultiSimulatedData::two_models(self.draw(rng)?))
    }
}

/// The models of a two-model scenario: the alternative `M_a` (the reference,
/// relative cost 0) and the primary `M_p` (relative cost `C_p − C_a = 1`).
pub const TWO_MODELS: [&str; 2] = ["alternative", "primary"];

/// One replicate of a scenario with `K` candidate models (model 0 the reference).
#[derive(Debug, Clone)]
pub struct MultiSimulatedData {
    /// Model names, the reference first.
    pub models: Vec<String>,
    /// For each non-reference model `k = 1..K−1` (entry `k − 1`): its
    /// two-model data set (the rows that carry its labels, its true `ψ_k`,
    /// `Δ_k`, propensity, and the shared test queries with `ψ_k`, `Δ_k`).
    pub per_model: Vec<SimulatedData>,
    /// True gain of every model over the reference on the test queries
    /// (`T × K`, column 0 zero).
    pub test_gain: Array2<f64>,
    /// Cost of every model on the test queries (`T × K`).
    pub test_costs: Array2<f64>,
    /// The pooled label tables of a scenario whose queries carry labels for
    /// several models, some missing (what `scenarios export` writes); `None`
    /// for the `K = 2` view of a two-model draw, whose tables are
    /// `per_model[0].train`.
    pub tables: Option<LabelTables>,
}

/// The GS and PB queries of a many-model draw with one label column per
/// non-reference model.
#[derive(Debug, Clone)]
pub struct LabelTables {
    /// The GS queries' features (every GS query, labelled for any model).
    pub gold_x: Array2<f64>,
    /// GS labels, one column per non-reference model; NaN where the query
    /// has no label for the model.
    pub gold_labels: Array2<f64>,
    /// The PB queries' features.
    pub pref_x: Array2<f64>,
    /// PB labels, one column per non-reference model; NaN where missing.
    pub pref_labels: Array2<f64>,
}

impl MultiSimulatedData {
    /// A two-model replicate as the case `K = 2`: models [`TWO_MODELS`], the
    /// gain of the primary model `ψ` on the test queries, relative costs 0
    /// (alternative) and 1 (primary) on every query, as two-model routing
    /// assumes.
    pub fn two_models(data: SimulatedData) -> Self {
        let t = data.test_psi.len();
        let test_gain =
            Array2::from_shape_fn((t, 2), |(j, k)| if k == 0 { 0.0 } else { data.test_psi[j] });
        let test_costs = Array2::from_shape_fn((t, 2), |(_, k)| k as f64);
        MultiSimulatedData {
            models: TWO_MODELS.iter().map(|m| m.to_string()).collect(),
            per_model: vec![data],
            test_gain,
            test_costs,
            tables: None,
        }
    }
}

/// Row counts and dimension of a scenario's replicate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScenarioSizes {
    /// Feature dimension `d`.
    pub dim: usize,
    /// GS training rows (the expected count when the split is random).
    pub n_gold: f64,
    /// PB training rows (likewise).
    pub n_pref: f64,
    /// Test queries.
    pub n_test: usize,
    /// Whether the GS/PB counts vary between replicates
    /// (`t ~ Bernoulli(e(X))`): then they are binomial with the expectations above.
    pub random_counts: bool,
}

impl ScenarioSizes {
    /// Sizes of one pool of `pool` queries split at random into `n_test` test
    /// queries, `n_gold` GS rows and the rest PB rows.
    pub fn random_split(dim: usize, pool: usize, n_test: usize, n_gold: usize) -> Self {
        Self {
            dim,
            n_gold: n_gold as f64,
            n_pref: (pool - n_test - n_gold) as f64,
            n_test,
            random_counts: false,
        }
    }

    /// Training rows `N = n + m`.
    pub fn n_total(&self) -> f64 {
        self.n_gold + self.n_pref
    }

    /// Estimated bytes of one replicate's data while it is used: the
    /// features of every training and test row held about six times (the
    /// draw, the pooled and per-fold copies), and sixteen numbers per row
    /// (labels, truths, nuisances, predictions).
    pub fn replicate_bytes(&self) -> f64 {
        let rows = self.n_total() + self.n_test as f64;
        6.0 * rows * self.dim as f64 * 8.0 + 16.0 * rows * 8.0
    }

    /// A count that the GS (`gold = true`) or PB rows of a replicate fall
    /// below with probability about 3e-5 (four binomial standard deviations
    /// under the expectation; the exact count for fixed splits).
    pub fn low_count(&self, gold: bool) -> f64 {
        let count = if gold { self.n_gold } else { self.n_pref };
        if !self.random_counts {
            return count;
        }
        let n = self.n_total();
        let p = count / n;
        (count - 4.0 * (n * p * (1.0 - p)).sqrt()).max(0.0)
    }
}

/// A scenario and its parameters, as written in a study spec (TOML table with
/// `name = "…"` and flat parameter keys; every key has a default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ScenarioConfig {
    /// `healthbench-like`: see [`healthbench`].
    HealthbenchLike(HealthbenchParams),
    /// `prbench-like`: the healthbench family on PRBench's pool sizes.
    PrbenchLike(PrbenchParams),
    /// `covariate-shift`: see [`covariate_shift`].
    CovariateShift(CovariateShiftParams),
    /// `nie-wager-a`: see [`nie_wager`].
    NieWagerA(NieWagerParams),
    /// `nie-wager-b`: see [`nie_wager`].
    NieWagerB(NieWagerParams),
    /// `nie-wager-c`: see [`nie_wager`].
    NieWagerC(NieWagerParams),
    /// `nie-wager-d`: see [`nie_wager`].
    NieWagerD(NieWagerParams),
    /// `nie-wager`: any of the four setups, chosen by the `setup` key (a grid
    /// parameter); builds `nie-wager-<setup>`. See [`nie_wager`].
    NieWager(NieWagerSetupParams),
    /// `binary-preference`: see [`binary_preference`].
    BinaryPreference(BinaryPreferenceParams),
    /// `multi-model`: see [`multi_model`].
    MultiModel(MultiModelParams),
    /// `plasmode`: calibrated from pilot data, see [`plasmode`]. Not among
    /// [`ScenarioConfig::defaults`] (it needs a file).
    Plasmode(PlasmodeParams),
}

/// One parameter of a scenario, for the `scenarios` listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParameterInfo {
    /// The config key.
    pub key: &'static str,
    /// The default value, rendered.
    pub default: String,
    /// What the parameter means (and its valid range).
    pub meaning: &'static str,
}

/// A scenario's entry in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioInfo {
    /// The scenario name (the `name` key).
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// Every parameter with its default and meaning, in declaration order.
    pub parameters: Vec<ParameterInfo>,
}

impl ScenarioConfig {
    /// The scenario name (the value of the `name` key).
    pub fn name(&self) -> &'static str {
        match self {
            Self::HealthbenchLike(_) => "healthbench-like",
            Self::PrbenchLike(_) => "prbench-like",
            Self::CovariateShift(_) => "covariate-shift",
            Self::NieWagerA(_) => "nie-wager-a",
            Self::NieWagerB(_) => "nie-wager-b",
            Self::NieWagerC(_) => "nie-wager-c",
            Self::NieWagerD(_) => "nie-wager-d",
            Self::NieWager(_) => "nie-wager",
            Self::BinaryPreference(_) => "binary-preference",
            Self::MultiModel(_) => "multi-model",
            Self::Plasmode(_) => "plasmode",
        }
    }

    /// Validates every parameter and builds the scenario. An invalid value is
    /// reported as [`meta_router_core::Error::InvalidParameter`] naming its config key.
    pub fn build(&self) -> Result<Box<dyn Scenario>> {
        Ok(match self {
            Self::HealthbenchLike(p) => Box::new(HealthbenchLike::new(p.clone())?),
            Self::PrbenchLike(p) => Box::new(HealthbenchLike::prbench(p.clone())?),
            Self::CovariateShift(p) => Box::new(CovariateShift::new(p.clone())?),
            Self::NieWagerA(p) => Box::new(NieWager::new(NieWagerSetup::A, p.clone())?),
            Self::NieWagerB(p) => Box::new(NieWager::new(NieWagerSetup::B, p.clone())?),
            Self::NieWagerC(p) => Box::new(NieWager::new(NieWagerSetup::C, p.clone())?),
            Self::NieWagerD(p) => Box::new(NieWager::new(NieWagerSetup::D, p.clone())?),
            Self::NieWager(p) => {
                let (setup, params) = p.split();
                Box::new(NieWager::new(setup, params)?)
            }
            Self::BinaryPreference(p) => Box::new(BinaryPreference::new(p.clone())?),
            Self::MultiModel(p) => Box::new(MultiModel::new(p.clone())?),
            Self::Plasmode(p) => Box::new(Plasmode::new(p.clone())?),
        })
    }

    /// Every scenario name, in catalog order: those of [`ScenarioConfig::defaults`],
    /// then `plasmode`.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Self::defaults().iter().map(|c| c.name()).collect();
        names.push("plasmode");
        names
    }

    /// Every scenario that builds without a file, with its default
    /// configuration, in catalog order.
    pub fn defaults() -> Vec<ScenarioConfig> {
        vec![
            Self::HealthbenchLike(HealthbenchParams::default()),
            Self::PrbenchLike(PrbenchParams::default()),
            Self::CovariateShift(CovariateShiftParams::default()),
            Self::NieWagerA(NieWagerParams::default()),
            Self::NieWagerB(NieWagerParams::default()),
            Self::NieWagerC(NieWagerParams::default()),
            Self::NieWagerD(NieWagerParams::default()),
            Self::NieWager(NieWagerSetupParams::default()),
            Self::BinaryPreference(BinaryPreferenceParams::default()),
            Self::MultiModel(MultiModelParams::default()),
        ]
    }

    /// Name, one-line description and parameters (key, default, meaning) of
    /// every scenario, for the `scenarios` command.
    pub fn catalog() -> Vec<ScenarioInfo> {
        let mut configs = Self::defaults();
        configs.push(Self::Plasmode(PlasmodeParams::default()));
        configs
            .into_iter()
            .map(|config| {
                let (description, docs): (&'static str, &'static [(&'static str, &'static str)]) =
                    match &config {
                        Self::HealthbenchLike(_) => {
                            (healthbench::DESCRIPTION, healthbench::PARAMETER_DOCS)
                        }
                        Self::PrbenchLike(_) => (
                            healthbench::PRBENCH_DESCRIPTION,
                            healthbench::PARAMETER_DOCS,
                        ),
                        Self::CovariateShift(_) => (
                            covariate_shift::DESCRIPTION,
                            covariate_shift::PARAMETER_DOCS,
                        ),
                        Self::NieWagerA(_) => {
                            (NieWagerSetup::A.description(), nie_wager::PARAMETER_DOCS)
                        }
                        Self::NieWagerB(_) => {
                            (NieWagerSetup::B.description(), nie_wager::PARAMETER_DOCS)
                        }
                        Self::NieWagerC(_) => {
                            (NieWagerSetup::C.description(), nie_wager::PARAMETER_DOCS)
                        }
                        Self::NieWagerD(_) => {
                            (NieWagerSetup::D.description(), nie_wager::PARAMETER_DOCS)
                        }
                        Self::NieWager(_) => (
                            nie_wager::SETUP_DESCRIPTION,
                            nie_wager::SETUP_PARAMETER_DOCS,
                        ),
                        Self::BinaryPreference(_) => (
                            binary_preference::DESCRIPTION,
                            binary_preference::PARAMETER_DOCS,
                        ),
                        Self::MultiModel(_) => {
                            (multi_model::DESCRIPTION, multi_model::PARAMETER_DOCS)
                        }
                        Self::Plasmode(_) => (plasmode::DESCRIPTION, plasmode::PARAMETER_DOCS),
                    };
                let values = serde_json::to_value(&config).expect("parameters serialize");
                let parameters = docs
                    .iter()
                    .map(|&(key, meaning)| ParameterInfo {
                        key,
                        default: match values.get(key) {
                            Some(serde_json::Value::String(text)) => text.clone(),
                            Some(other) => other.to_string(),
                            // An optional key (unset by default).
                            None => String::from("(unset)"),
                        },
                        meaning,
                    })
                    .collect();
                ScenarioInfo {
                    name: config.name(),
                    description,
                    parameters,
                }
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Shared helpers for the scenario files.

/// Applies `f` to each row of `x` after checking the column count.
#[track_caller]
pub(crate) fn rowwise(
    x: ArrayView2<f64>,
    dim: usize,
    f: impl Fn(ArrayView1<f64>) -> f64,
) -> Array1<f64> {
    assert_eq!(
        x.ncols(),
        dim,
        "scenario expects {dim} feature columns, got {}",
        x.ncols()
    );
    x.outer_iter().map(f).collect()
}

/// A `rows × cols` matrix of independent standard normals, drawn row by row.
pub(crate) fn standard_normal_matrix(
    rng: &mut ChaCha8Rng,
    rows: usize,
    cols: usize,
) -> Array2<f64> {
    let values: Vec<f64> = (0..rows * cols)
        .map(|_| StandardNormal.sample(rng))
        .collect();
    Array2::from_shape_vec((rows, cols), values).expect("length matches shape")
}

/// `n` independent `N(0, sigma²)` draws.
pub(crate) fn normal_vector(rng: &mut ChaCha8Rng, n: usize, sigma: f64) -> Array1<f64> {
    (0..n)
        .map(|_| sigma * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng))
        .collect()
}

/// `n` independent uniforms on `[0, 1)`.
pub(crate) fn uniform_vector(rng: &mut ChaCha8Rng, n: usize) -> Array1<f64> {
    (0..n).map(|_| rng.random::<f64>()).collect()
}

/// A uniformly random permutation of `0..n` (Fisher–Yates, from the back).
pub(crate) fn permutation(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}

// The logistic function and softplus are the core's (one implementation of
// each).
pub(crate) use meta_router_core::numerics::{sigmoid as logistic, softplus};

/// Checks that a float parameter is finite.
pub(crate) fn check_finite(key: &str, value: f64) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(Error::param(key, value, "must be a finite number"))
    }
}

/// Checks that a float parameter is finite and non-negative (a noise scale).
pub(crate) fn check_scale(key: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::param(key, value, "must be finite and >= 0"))
    }
}

/// Checks that a count parameter is at least `min`.
pub(crate) fn check_count(key: &str, value: usize, min: usize, why: &str) -> Result<()> {
    if value >= min {
        Ok(())
    } else {
        Err(Error::param(
            key,
            value,
            format!("must be at least {min} ({why})"),
        ))
    }
}

/// The random parts of one replicate, before the truth is attached.
pub(crate) struct Drawn {
    /// GS features and their (observed) GS labels.
    pub gold_x: Array2<f64>,
    pub gold_y: Array1<f64>,
    /// PB features, their observed PB labels and counterfactual GS labels.
    pub pref_x: Array2<f64>,
    pub pref_y: Array1<f64>,
    pub pref_gold_y: Array1<f64>,
    /// Test features and their GS labels.
    pub test_x: Array2<f64>,
    pub test_gold_y: Array1<f64>,
}

impl Drawn {
    /// A randomly split pool: rows `test`, `gold` and `pref` of the pooled
    /// features `x`, GS labels `gold_label` and PB labels `pref_label`.
    pub fn from_split(
        x: &Array2<f64>,
        gold_label: &Array1<f64>,
        pref_label: &Array1<f64>,
        (test, gold, pref): (&[usize], &[usize], &[usize]),
    ) -> Self {
        Drawn {
            gold_x: take_rows(x, gold),
            gold_y: take(gold_label, gold),
            pref_x: take_rows(x, pref),
            pref_y: take(pref_label, pref),
            pref_gold_y: take(gold_label, pref),
            test_x: take_rows(x, test),
            test_gold_y: take(gold_label, test),
        }
    }

    /// Attaches the scenario's ψ, Δ and p and validates the training data.
    pub fn into_simulated(self, scenario: &dyn Scenario) -> Result<SimulatedData> {
        let all_gold_y = concatenate(Axis(0), &[self.gold_y.view(), self.pref_gold_y.view()])
            .expect("vectors concatenate");
        let train = TrainingData::new(self.gold_x, self.gold_y, self.pref_x, self.pref_y)?;
        let pooled = train.pooled_x();
        Ok(SimulatedData {
            all_gold_y,
            train_propensity: scenario.propensity(pooled.view()),
            train_psi: scenario.psi(pooled.view()),
            train_delta: scenario.delta(pooled.view()),
            test_psi: scenario.psi(self.test_x.view()),
            test_delta: scenario.delta(self.test_x.view()),
            test_x: self.test_x,
            test_gold_y: self.test_gold_y,
            train,
        })
    }
}

/// Splits a pool of rows at random into test, GS and PB index sets (the first
/// `n_test` entries of a uniform permutation are test rows, the next `n_gold`
/// GS rows, the rest PB rows).
pub(crate) fn split_pool(
    rng: &mut ChaCha8Rng,
    pool: usize,
    n_test: usize,
    n_gold: usize,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let order = permutation(rng, pool);
    let test = order[..n_test].to_vec();
    let gold = order[n_test..n_test + n_gold].to_vec();
    let pref = order[n_test + n_gold..].to_vec();
    (test, gold, pref)
}

/// Rows `index` of `x`.
pub(crate) fn take_rows(x: &Array2<f64>, index: &[usize]) -> Array2<f64> {
    x.select(Axis(0), index)
}

/// Entries `index` of `v`.
pub(crate) fn take(v: &Array1<f64>, index: &[usize]) -> Array1<f64> {
    v.select(Axis(0), index)
}

/// Validates the pool sizes shared by the pool-split scenarios.
pub(crate) fn check_pool_sizes(n_gold: usize, pool: usize, n_test: usize) -> Result<()> {
    check_count("n_gold", n_gold, 2, "cross-fitting needs two GS rows")?;
    check_count("n_test", n_test, 1, "routing is evaluated on test queries")?;
    let used = n_gold.saturating_add(n_test);
    if used.saturating_add(2) > pool {
        return Err(Error::param(
            "n_gold",
            n_gold,
            format!(
                "n_gold + n_test = {used} must leave at least 2 preference rows in pool = {pool}"
            ),
        ));
    }
    Ok(())
}

/// Simpson's rule for `∫ f(z) φ(z) dz` over the real line (standard normal
/// density φ), on `[−12, 12]` with 4800 intervals. For the smooth, bounded
/// integrands used here the error is below 1e-10.
pub(crate) fn normal_expectation(f: impl Fn(f64) -> f64) -> f64 {
    const HALF_WIDTH: f64 = 12.0;
    const INTERVALS: usize = 4800;
    let h = 2.0 * HALF_WIDTH / INTERVALS as f64;
    let density = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mut sum = 0.0;
    for i in 0..=INTERVALS {
        let z = -HALF_WIDTH + i as f64 * h;
        let weight = if i == 0 || i == INTERVALS {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        sum += weight * f(z) * density(z);
    }
    sum * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::rng_from_seed;

    #[test]
    fn permutation_is_a_permutation() {
        let mut rng = rng_from_seed(3);
        let mut order = permutation(&mut rng, 50);
        order.sort_unstable();
        assert_eq!(order, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn normal_quadrature_matches_known_moments() {
        assert!((normal_expectation(|_| 1.0) - 1.0).abs() < 1e-12);
        assert!((normal_expectation(|z| z * z) - 1.0).abs() < 1e-12);
        // E cos(Z) = e^{-1/2}
        assert!((normal_expectation(f64::cos) - (-0.5f64).exp()).abs() < 1e-12);
        // E max(Z, 0) = 1/√(2π)
        let expected = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        assert!((normal_expectation(|z| z.max(0.0)) - expected).abs() < 1e-6);
    }

    #[test]
    fn pool_sizes_are_checked() {
        assert!(check_pool_sizes(100, 5000, 500).is_ok());
        assert!(check_pool_sizes(4498, 5000, 500).is_ok());
        for (n_gold, pool, n_test, key) in [
            (4499, 5000, 500, "n_gold"),
            (1, 5000, 500, "n_gold"),
            (100, 5000, 0, "n_test"),
            (usize::MAX, 5000, 500, "n_gold"),
        ] {
            match check_pool_sizes(n_gold, pool, n_test) {
                Err(Error::Core(meta_router_core::Error::InvalidParameter { name, .. })) => {
                    assert_eq!(name, key)
                }
                other => panic!("expected an error naming {key}, got {other:?}"),
            }
        }
    }
}
