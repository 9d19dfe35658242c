//! `nie-wager-a` … `nie-wager-d`: the four CATE benchmark setups of Nie & Wager (2021), read as GS/PB data.
//!
//! # Model
//! `X ∈ R^d` (default `d = 6`), `t ~ Bernoulli(e(X))` for each of `n` pooled
//! rows, `o = b(X) + (t − 0.5) τ(X) + σ ε`, `ε ~ N(0, 1)`. Reading `t = 1` as
//! the GS mechanism: `ψ = b + τ/2`, `η = b − τ/2`, `Δ = τ`, propensity
//! `p = e`. The setups, exactly as in the authors' simulation code:
//!
//! | setup | `X` | `b(X)` | `e(X)` | `τ(X)` |
//! |---|---|---|---|---|
//! | A | `U[0,1]^d` | `sin(π X₁X₂) + 2(X₃−0.5)² + X₄ + 0.5 X₅` | `min(max(sin(π X₁X₂), 0.1), 0.9)` | `(X₁+X₂)/2` |
//! | B | `N(0, I_d)` | `max(0, X₁+X₂, X₃) + max(0, X₄+X₅)` | `0.5` | `X₁ + log(1+e^{X₂})` |
//! | C | `N(0, I_d)` | `2 log(1+e^{X₁+X₂+X₃})` | `1/(1+e^{X₂+X₃})` | `1` |
//! | D | `N(0, I_d)` | `(max(X₁+X₂+X₃,0) + max(X₄+X₅,0))/2` | `1/(1+e^{−X₁}+e^{−X₂})` | `max(X₁+X₂+X₃,0) − max(X₄+X₅,0)` |
//!
//! GS labels have the same noise as PB labels (`σ`). Test queries are fresh
//! draws from the law of `X`.
//!
//! **Population constants (Monte Carlo).** The pooled training law is the law
//! of `X`, so `E ψ = E[b + τ/2]` and `E Δ = E τ`; the PB query law has density
//! proportional to `1 − e(X)`, so `E[Δ | t = 0] = E[(1 − e)τ] / E[1 − e]` and
//! `E[ψ | t = 0] = E[(1 − e)ψ] / E[1 − e]`. These are computed from a fixed
//! truth sample of [`TRUTH_SAMPLE_SIZE`] draws of `(X₁, …, X₅)` (the formulas
//! use no other coordinate, so the constants do not depend on `d`, `n` or `σ`)
//! from `crate::rng::stream(TRUTH_SEED, setup index, 0, Purpose::Truth)`, with
//! the conditional means weighted by `1 − e` rather than sampled `t`. The
//! `accuracy` field is the largest of the four Monte Carlo standard errors
//! (the ratio estimators' by the delta method). The sample is computed once
//! per setup per process and cached.
//!
//! # Algorithm
//! [`Scenario::draw`] uses its stream in this order: the training features
//! (`n × d`, row by row; uniforms for A, standard normals otherwise), `n`
//! uniforms `u` with `t = 1{u < e(X)}`, `n` label noises, one counterfactual GS
//! noise per PB row (for `all_gold_y`), the test features (`n_test × d`) and
//! `n_test` test GS noises. GS and PB rows keep their order of appearance. A
//! draw with fewer than two GS or two PB rows is an error
//! ([`meta_router_core::Error::TooFewRows`]); it is never redrawn.
//!
//! # References
//! - Nie & Wager (2021), *Quasi-oracle estimation of heterogeneous treatment
//!   effects*, Biometrika 108(2), 299–319, §6 and the `rlearner` R package's
//!   simulation code (setups A–D).
//! - Zhang, Xie, Yang, Wu (2025), arXiv 2509.25535 (Δ as the CATE of the
//!   evaluation mechanism).
//!
//! # Example
//! ```
//! use meta_router::dgp::{NieWager, NieWagerParams, NieWagerSetup, Scenario};
//! use meta_router::rng::{stream, Purpose};
//!
//! let scenario = NieWager::new(NieWagerSetup::C, NieWagerParams::default()).unwrap();
//! let data = scenario.draw(&mut stream(9, 0, 0, Purpose::Data)).unwrap();
//! assert_eq!(data.train.n_total(), 1000);
//! assert!(data.train_delta.iter().all(|&delta| delta == 1.0)); // τ ≡ 1 in setup C
//! assert_eq!(scenario.constants().mean_delta, 1.0);
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::sync::OnceLock;

use super::{
    check_count, check_scale, normal_vector, softplus, uniform_vector, Drawn, PopulationConstants,
    Scenario, ScenarioSizes, SimulatedData,
};
use crate::error::Result;
use crate::rng::{stream, Purpose};
use meta_router_core::Error as CoreError;

/// Size of the fixed-seed sample behind the population constants.
pub const TRUTH_SAMPLE_SIZE: usize = 1_000_000;
/// Master seed of the truth sample (the grid index is the setup: A = 0 … D = 3).
pub(crate) const TRUTH_SEED: u64 = 0x4E49_4557_4147_4552;

/// Key and meaning of every parameter.
pub(crate) const PARAMETER_DOCS: &[(&str, &str)] = &[
    (
        "n",
        "pooled training rows N (>= 4); t ~ Bernoulli(e(X)) per row",
    ),
    ("d", "feature dimension (>= 5; >= 3 for setup C)"),
    ("sigma", "noise sd σ of every label (>= 0)"),
    ("n_test", "test queries, fresh from the law of X (>= 1)"),
];

/// Key and meaning of every parameter of the `nie-wager` scenario (the setup
/// as a parameter, so a study grid can vary it).
pub(crate) const SETUP_PARAMETER_DOCS: &[(&str, &str)] = &[
    (
        "setup",
        "which setup: a, b, c or d (scenarios nie-wager-a … -d)",
    ),
    (
        "n",
        "pooled training rows N (>= 4); t ~ Bernoulli(e(X)) per row",
    ),
    ("d", "feature dimension (>= 5; >= 3 for setup C)"),
    ("sigma", "noise sd σ of every label (>= 0)"),
    ("n_test", "test queries, fresh from the law of X (>= 1)"),
];

/// Description of the `nie-wager` scenario.
pub(crate) const SETUP_DESCRIPTION: &str =
    "Nie & Wager setups A-D in one scenario: `setup` selects nie-wager-a … -d (a grid parameter)";

/// Which of Nie & Wager's setups (`"a"` … `"d"` as the `setup` key of the
/// `nie-wager` scenario).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NieWagerSetup {
    /// Setup A: uniform features, confounded propensity, simple τ.
    #[default]
    A,
    /// Setup B: randomized trial (`e = 0.5`), complex τ.
    B,
    /// Setup C: strong confounding, constant τ = 1.
    C,
    /// Setup D: unrelated treated and control arms.
    D,
}

impl NieWagerSetup {
    /// `E e(X)`, the expected share of GS (`t = 1`) rows: A ≈ 0.519 and D ≈
    /// 0.309 (Monte Carlo, 10⁶ draws, SE < 3e-4), B and C 0.5 exactly.
    pub fn mean_propensity(self) -> f64 {
        match self {
            NieWagerSetup::A => 0.519,
            NieWagerSetup::B | NieWagerSetup::C => 0.5,
            NieWagerSetup::D => 0.309,
        }
    }

    /// The scenario name (`nie-wager-a` …).
    pub fn name(self) -> &'static str {
        match self {
            Self::A => "nie-wager-a",
            Self::B => "nie-wager-b",
            Self::C => "nie-wager-c",
            Self::D => "nie-wager-d",
        }
    }

    /// One-line description for the catalog.
    pub fn description(self) -> &'static str {
        match self {
            Self::A => {
                "Nie & Wager setup A: X ~ U[0,1]^d, e = clip(sin πX₁X₂, 0.1, 0.9), Δ = (X₁+X₂)/2"
            }
            Self::B => "Nie & Wager setup B: X ~ N(0,I), randomized e = 0.5, Δ = X₁ + log(1+e^X₂)",
            Self::C => {
                "Nie & Wager setup C: X ~ N(0,I), strong confounding e = 1/(1+e^{X₂+X₃}), Δ ≡ 1"
            }
            Self::D => {
                "Nie & Wager setup D: X ~ N(0,I), e = 1/(1+e^-X₁+e^-X₂), Δ = (X₁+X₂+X₃)₊ − (X₄+X₅)₊"
            }
        }
    }

    /// The smallest feature dimension the formulas need.
    pub fn min_dim(self) -> usize {
        match self {
            Self::C => 3,
            _ => 5,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::A => 0,
            Self::B => 1,
            Self::C => 2,
            Self::D => 3,
        }
    }

    /// One coordinate of `X`.
    fn draw_coordinate(self, rng: &mut ChaCha8Rng) -> f64 {
        match self {
            Self::A => rng.random::<f64>(),
            _ => StandardNormal.sample(rng),
        }
    }

    /// `(b(x), e(x), τ(x))` for one row (only the first five coordinates are used).
    fn components(self, x: ArrayView1<f64>) -> (f64, f64, f64) {
        match self {
            Self::A => {
                let wave = (PI * x[0] * x[1]).sin();
                let b = wave + 2.0 * (x[2] - 0.5).powi(2) + x[3] + 0.5 * x[4];
                (b, wave.clamp(0.1, 0.9), (x[0] + x[1]) / 2.0)
            }
            Self::B => {
                let b = 0f64.max(x[0] + x[1]).max(x[2]) + 0f64.max(x[3] + x[4]);
                (b, 0.5, x[0] + softplus(x[1]))
            }
            Self::C => {
                let b = 2.0 * softplus(x[0] + x[1] + x[2]);
                (b, 1.0 / (1.0 + (x[1] + x[2]).exp()), 1.0)
            }
            Self::D => {
                let first = (x[0] + x[1] + x[2]).max(0.0);
                let second = (x[3] + x[4]).max(0.0);
                let e = 1.0 / (1.0 + (-x[0]).exp() + (-x[1]).exp());
                ((first + second) / 2.0, e, first - second)
            }
        }
    }
}

/// Parameters shared by the four `nie-wager-*` scenarios.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `n` | 1000 | pooled training rows `N` (≥ 4) |
/// | `d` | 6 | feature dimension (≥ 5; ≥ 3 for C) |
/// | `sigma` | 1.0 | label noise sd `σ` (≥ 0) |
/// | `n_test` | 1000 | test queries (≥ 1) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NieWagerParams {
    /// Pooled training rows `N` (config key `n`).
    #[serde(rename = "n")]
    pub n_total: usize,
    /// Feature dimension (config key `d`).
    #[serde(rename = "d")]
    pub dim: usize,
    /// Noise standard deviation `σ`.
    pub sigma: f64,
    /// Test queries.
    pub n_test: usize,
}

impl Default for NieWagerParams {
    fn default() -> Self {
        Self {
            n_total: 1000,
            dim: 6,
            sigma: 1.0,
            n_test: 1000,
        }
    }
}

/// Parameters of the `nie-wager` scenario: a setup and the parameters of
/// [`NieWagerParams`], so that a study can put the setup on its grid
/// (`setup = ["a", "b", "c", "d"]`). The scenario built is `nie-wager-<setup>`.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `setup` | `"a"` | `a`, `b`, `c` or `d` |
/// | `n`, `d`, `sigma`, `n_test` | as [`NieWagerParams`] | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NieWagerSetupParams {
    /// The setup.
    pub setup: NieWagerSetup,
    /// Pooled training rows `N` (config key `n`).
    #[serde(rename = "n")]
    pub n_total: usize,
    /// Feature dimension (config key `d`).
    #[serde(rename = "d")]
    pub dim: usize,
    /// Noise standard deviation `σ`.
    pub sigma: f64,
    /// Test queries.
    pub n_test: usize,
}

impl Default for NieWagerSetupParams {
    fn default() -> Self {
        let shared = NieWagerParams::default();
        Self {
            setup: NieWagerSetup::A,
            n_total: shared.n_total,
            dim: shared.dim,
            sigma: shared.sigma,
            n_test: shared.n_test,
        }
    }
}

impl NieWagerSetupParams {
    /// The setup and its shared parameters.
    pub fn split(&self) -> (NieWagerSetup, NieWagerParams) {
        (
            self.setup,
            NieWagerParams {
                n_total: self.n_total,
                dim: self.dim,
                sigma: self.sigma,
                n_test: self.n_test,
            },
        )
    }
}

/// A `nie-wager-*` scenario, validated.
#[derive(Debug, Clone)]
pub struct NieWager {
    setup: NieWagerSetup,
    params: NieWagerParams,
}

impl NieWager {
    /// Validates `params` for `setup` and builds the scenario.
    pub fn new(setup: NieWagerSetup, params: NieWagerParams) -> Result<Self> {
        check_count(
            "n",
            params.n_total,
            4,
            "a draw needs two GS and two PB rows",
        )?;
        check_count(
            "d",
            params.dim,
            setup.min_dim(),
            "used by the setup's formulas",
        )?;
        check_scale("sigma", params.sigma)?;
        check_count(
            "n_test",
            params.n_test,
            1,
            "routing is evaluated on test queries",
        )?;
        Ok(Self { setup, params })
    }

    /// The setup.
    pub fn setup(&self) -> NieWagerSetup {
        self.setup
    }

    /// The validated parameters.
    pub fn params(&self) -> &NieWagerParams {
        &self.params
    }

    fn features(&self, rng: &mut ChaCha8Rng, rows: usize) -> Array2<f64> {
        let dim = self.params.dim;
        let values: Vec<f64> = (0..rows * dim)
            .map(|_| self.setup.draw_coordinate(rng))
            .collect();
        Array2::from_shape_vec((rows, dim), values).expect("length matches shape")
    }

    #[track_caller]
    fn map_rows(&self, x: ArrayView2<f64>, f: impl Fn((f64, f64, f64)) -> f64) -> Array1<f64> {
        super::rowwise(x, self.params.dim, |row| f(self.setup.components(row)))
    }
}

/// Population constants of a setup from its fixed-seed truth sample.
fn truth_constants(setup: NieWagerSetup) -> PopulationConstants {
    let mut rng = stream(TRUTH_SEED, setup.index() as u64, 0, Purpose::Truth);
    let mut row = [0.0; 5];
    // Sums of ψ, ψ², τ, τ², w = 1 − e, w², w²τ, w²τ², w²ψ, w²ψ², wτ, wψ.
    let mut sums = [0.0f64; 12];
    for _ in 0..TRUTH_SAMPLE_SIZE {
        for value in row.iter_mut() {
            *value = setup.draw_coordinate(&mut rng);
        }
        let (b, e, tau) = setup.components(ArrayView1::from(&row[..]));
        let psi = b + tau / 2.0;
        let w = 1.0 - e;
        let terms = [
            psi,
            psi * psi,
            tau,
            tau * tau,
            w,
            w * w,
            w * w * tau,
            w * w * tau * tau,
            w * w * psi,
            w * w * psi * psi,
            w * tau,
            w * psi,
        ];
        for (sum, term) in sums.iter_mut().zip(terms) {
            *sum += term;
        }
    }
    let m = TRUTH_SAMPLE_SIZE as f64;
    let mean = sums.map(|s| s / m);
    let [psi, psi2, tau, tau2, w, w2, w2tau, w2tau2, w2psi, w2psi2, wtau, wpsi] = mean;
    let se_mean = |first: f64, second: f64| ((second - first * first).max(0.0) / m).sqrt();
    // Ratio θ = E[w v] / E[w]; delta-method SE from the residual w (v − θ):
    // E[w²(v − θ)²] = E[w² v²] − 2θ E[w² v] + θ² E[w²].
    let se_ratio = |theta: f64, w2v2: f64, w2v: f64| {
        ((w2v2 - 2.0 * theta * w2v + theta * theta * w2).max(0.0) / m).sqrt() / w
    };
    let mean_delta_pref = wtau / w;
    let mean_psi_pref = wpsi / w;
    let accuracy = [
        se_mean(psi, psi2),
        se_mean(tau, tau2),
        se_ratio(mean_delta_pref, w2tau2, w2tau),
        se_ratio(mean_psi_pref, w2psi2, w2psi),
    ]
    .into_iter()
    .fold(0.0, f64::max);
    PopulationConstants {
        mean_psi: psi,
        mean_delta_pref,
        mean_psi_pref,
        mean_delta: tau,
        accuracy,
    }
}

static TRUTH: [OnceLock<PopulationConstants>; 4] = [
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
    OnceLock::new(),
];

impl Scenario for NieWager {
    fn name(&self) -> &'static str {
        self.setup.name()
    }

    fn sizes(&self) -> ScenarioSizes {
        let p = &self.params;
        let gold = p.n_total as f64 * self.setup.mean_propensity();
        ScenarioSizes {
            dim: p.dim,
            n_gold: gold,
            n_pref: p.n_total as f64 - gold,
            n_test: p.n_test,
            random_counts: true,
        }
    }

    fn dim(&self) -> usize {
        self.params.dim
    }

    fn psi(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.map_rows(x, |(b, _, tau)| b + tau / 2.0)
    }

    fn delta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.map_rows(x, |(_, _, tau)| tau)
    }

    fn eta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.map_rows(x, |(b, _, tau)| b - tau / 2.0)
    }

    fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.map_rows(x, |(_, e, _)| e)
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<SimulatedData> {
        let p = &self.params;
        let x = self.features(rng, p.n_total);
        let propensity = self.propensity(x.view());
        let treated: Vec<bool> = uniform_vector(rng, p.n_total)
            .iter()
            .zip(propensity.iter())
            .map(|(&u, &e)| u < e)
            .collect();
        let noise = normal_vector(rng, p.n_total, p.sigma);
        let gold: Vec<usize> = (0..p.n_total).filter(|&k| treated[k]).collect();
        let pref: Vec<usize> = (0..p.n_total).filter(|&k| !treated[k]).collect();
        for (rows, what) in [
            (&gold, "gold-standard (t = 1)"),
            (&pref, "preference (t = 0)"),
        ] {
            if rows.len() < 2 {
                return Err(CoreError::TooFewRows {
                    what: format!("{} draw: {what} rows", self.name()),
                    rows: rows.len(),
                    folds: 2,
                }
                .into());
            }
        }
        let pref_gold_noise = normal_vector(rng, pref.len(), p.sigma);
        let test_x = self.features(rng, p.n_test);
        let test_noise = normal_vector(rng, p.n_test, p.sigma);
        let psi = self.psi(x.view());
        let eta = self.eta(x.view());
        let gold_x = super::take_rows(&x, &gold);
        let pref_x = super::take_rows(&x, &pref);
        Drawn {
            gold_y: &super::take(&psi, &gold) + &super::take(&noise, &gold),
            pref_y: &super::take(&eta, &pref) + &super::take(&noise, &pref),
            pref_gold_y: &super::take(&psi, &pref) + &pref_gold_noise,
            test_gold_y: &self.psi(test_x.view()) + &test_noise,
            gold_x,
            pref_x,
            test_x,
        }
        .into_simulated(self)
    }

    fn constants(&self) -> PopulationConstants {
        *TRUTH[self.setup.index()].get_or_init(|| truth_constants(self.setup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn components_match_hand_values() {
        let x = array![0.5, 0.5, 0.25, 0.1, 0.2, 0.0];
        let (b, e, tau) = NieWagerSetup::A.components(x.view());
        let wave = (PI * 0.25).sin();
        assert!((b - (wave + 2.0 * 0.0625 + 0.1 + 0.1)).abs() < 1e-14);
        assert!((e - wave).abs() < 1e-14);
        assert!((tau - 0.5).abs() < 1e-14);
        // clipping of the propensity in A
        let (_, e, _) = NieWagerSetup::A.components(array![0.01, 0.01, 0.0, 0.0, 0.0].view());
        assert_eq!(e, 0.1);

        let x = array![1.0, -2.0, 0.5, 1.5, -0.5];
        let (b, e, tau) = NieWagerSetup::B.components(x.view());
        assert!((b - (0.5 + 1.0)).abs() < 1e-14);
        assert_eq!(e, 0.5);
        assert!((tau - (1.0 + (1.0 + (-2f64).exp()).ln())).abs() < 1e-14);

        let (b, e, tau) = NieWagerSetup::C.components(x.view());
        assert!((b - 2.0 * (1.0 + (-0.5f64).exp()).ln()).abs() < 1e-14);
        assert!((e - 1.0 / (1.0 + (-1.5f64).exp())).abs() < 1e-14);
        assert_eq!(tau, 1.0);

        let (b, e, tau) = NieWagerSetup::D.components(x.view());
        assert!((b - (0.0 + 1.0) / 2.0).abs() < 1e-14);
        assert!((e - 1.0 / (1.0 + (-1f64).exp() + 2f64.exp())).abs() < 1e-14);
        assert!((tau - (0.0 - 1.0)).abs() < 1e-14);
    }

    #[test]
    fn psi_eta_delta_are_consistent() {
        let scenario = NieWager::new(NieWagerSetup::D, NieWagerParams::default()).unwrap();
        let x = super::super::standard_normal_matrix(&mut crate::rng::rng_from_seed(4), 20, 6);
        let gap = &scenario.psi(x.view()) - &scenario.eta(x.view());
        let delta = scenario.delta(x.view());
        for (g, d) in gap.iter().zip(delta.iter()) {
            assert!((g - d).abs() < 1e-14);
        }
    }

    #[test]
    fn known_constants_of_the_truth_sample() {
        // Setup B: e = 0.5, so the PB law is the X law; E τ = E X₁ + E softplus(X₂).
        let b = NieWager::new(NieWagerSetup::B, NieWagerParams::default())
            .unwrap()
            .constants();
        let softplus_mean = super::super::normal_expectation(softplus);
        assert!((b.mean_delta - softplus_mean).abs() < 4.0 * b.accuracy);
        assert!((b.mean_delta - b.mean_delta_pref).abs() < 1e-12);
        assert!(b.accuracy > 0.0 && b.accuracy < 0.005);
        // Setup A: E τ = E(X₁ + X₂)/2 = 1/2.
        let a = NieWager::new(NieWagerSetup::A, NieWagerParams::default())
            .unwrap()
            .constants();
        assert!((a.mean_delta - 0.5).abs() < 4.0 * a.accuracy);
        // Setup C: τ ≡ 1 exactly.
        let c = NieWager::new(NieWagerSetup::C, NieWagerParams::default())
            .unwrap()
            .constants();
        assert_eq!(c.mean_delta, 1.0);
        assert!((c.mean_delta_pref - 1.0).abs() < 1e-12);
    }
}
