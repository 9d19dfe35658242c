//! `healthbench-like` and `prbench-like`: a random split of one query pool (the paper's main setting).
//!
//! # Model
//! Features are `d` (default 50) "principal-component scores" `s_k = z_k/√k`,
//! `z ~ N(0, I_d)`, so `z_k = √k · s_k`. With the default amplitudes
//!
//! - `ψ(s) = 0.035 + 0.20 sin(π z₂/2) + 0.15 tanh(2 z₃)`,
//! - `Δ(s) = 0.10 + 0.358 z₁` (`bias = "linear"`) or `Δ(s) = 0.10 + 0.57 tanh(z₁)`
//!   (`bias = "tanh"`: about the same variance, bimodal η),
//! - `η = ψ − Δ`, `r = ψ + N(0, σ_g²)`, `y = η + N(0, σ_p²)`, `σ_g = σ_p = 0.6`.
//!
//! The intercepts and amplitudes are the parameters `psi_intercept`,
//! `psi_sin`, `psi_tanh`, `delta_intercept`, `delta_linear`, `delta_tanh`.
//! Every replicate draws a fresh pool of `pool` queries, each carrying both a GS
//! and a PB label, and splits it at random into `n_test` test queries, `n_gold`
//! GS rows and the rest PB rows. GS and PB queries therefore follow one law and
//! the propensity is the constant `p ≡ κ = n_gold / (pool − n_test)`.
//! `prbench-like` is the same family with PRBench's sizes (pool 676, 176 test,
//! `n_gold` 100 by default).
//!
//! **Population constants (closed form).** `z₁, z₂, z₃` are symmetric about 0
//! and `sin(π z/2)`, `tanh(2z)`, `z` and `tanh(z)` are odd, so their means
//! vanish: `E ψ = psi_intercept` and `E Δ = delta_intercept`. Because `p` is
//! constant, `t` is independent of `s`, so `E[ψ | t = 0] = E ψ` and
//! `E[Δ | t = 0] = E Δ`. `accuracy = 0`.
//!
//! # Algorithm
//! [`Scenario::draw`] uses its stream in this order: the pool's `z` matrix
//! (`pool × d` standard normals, row by row), then `pool` GS noises, then
//! `pool` PB noises, then a Fisher–Yates permutation of the pool (first
//! `n_test` entries: test queries; next `n_gold`: GS rows; rest: PB rows).
//! `all_gold_y` on the PB rows and `test_gold_y` are the pool rows' GS labels.
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), arXiv 2509.25535, §5 and Fig. 1(a) (HealthBench
//! simulation: random split, 500 test queries, `n ∈ {100, 500, 1000}`).
//!
//! # Example
//! ```
//! use meta_router::dgp::{HealthbenchLike, HealthbenchParams, Scenario, BiasShape};
//! use meta_router::rng::{stream, Purpose};
//!
//! let params = HealthbenchParams { n_gold: 50, pool: 600, n_test: 100, bias: BiasShape::Tanh,
//!                                  ..HealthbenchParams::default() };
//! let scenario = HealthbenchLike::new(params).unwrap();
//! assert!((scenario.kappa() - 0.1).abs() < 1e-15);
//! let data = scenario.draw(&mut stream(5, 0, 0, Purpose::Data)).unwrap();
//! assert_eq!(data.train.n_pref(), 450);
//! assert!(data.train_propensity.iter().all(|&p| (p - 0.1).abs() < 1e-15));
//! ```

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

use super::{
    check_count, check_finite, check_pool_sizes, check_scale, normal_vector, rowwise, split_pool,
    standard_normal_matrix, Drawn, PopulationConstants, Scenario, ScenarioSizes, SimulatedData,
};
use crate::error::Result;

pub(crate) const DESCRIPTION: &str =
    "the paper's main setting: d PC-like scores, one pool split at random into test / GS / PB (p constant)";
pub(crate) const PRBENCH_DESCRIPTION: &str =
    "healthbench-like on PRBench's sizes: pool 676, 176 test queries, n_gold GS rows";

/// Key and meaning of every parameter (shared by both names).
pub(crate) const PARAMETER_DOCS: &[(&str, &str)] = &[
    ("n_gold", "GS rows per replicate (>= 2)"),
    (
        "pool",
        "queries drawn per replicate, split into test / GS / PB",
    ),
    ("n_test", "test queries (>= 1); n_gold + n_test <= pool - 2"),
    ("d", "feature dimension (>= 3)"),
    ("sigma_gold", "GS label noise sd (>= 0)"),
    ("sigma_pref", "PB label noise sd (>= 0)"),
    (
        "bias",
        "shape of Δ: linear (δ₀ + delta_linear·z₁) or tanh (δ₀ + delta_tanh·tanh z₁)",
    ),
    ("psi_intercept", "constant term of ψ"),
    ("psi_sin", "amplitude of sin(π z₂/2) in ψ"),
    ("psi_tanh", "amplitude of tanh(2 z₃) in ψ"),
    ("delta_intercept", "constant term δ₀ of Δ"),
    ("delta_linear", "slope of z₁ in Δ when bias = linear"),
    ("delta_tanh", "amplitude of tanh(z₁) in Δ when bias = tanh"),
    (
        "pref_scale",
        "scale a > 0 of PB labels: y = a·(ψ − Δ₀ + ε') with Δ₀ the bias above, so Δ = (1 − a)ψ + a·Δ₀ (1: same scale)",
    ),
];

/// Shape of the bias `Δ` in `z₁`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BiasShape {
    /// `Δ = δ₀ + delta_linear · z₁`.
    #[default]
    Linear,
    /// `Δ = δ₀ + delta_tanh · tanh(z₁)`.
    Tanh,
}

/// Default pool sizes of a scenario of the healthbench family.
pub trait PoolSizes:
    Default + Clone + Copy + std::fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// Default `n_gold`.
    const N_GOLD: usize;
    /// Default `pool`.
    const POOL: usize;
    /// Default `n_test`.
    const N_TEST: usize;
}

/// `healthbench-like` sizes: pool 5000, 500 test queries, 100 GS rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HealthbenchSizes;

impl PoolSizes for HealthbenchSizes {
    const N_GOLD: usize = 100;
    const POOL: usize = 5000;
    const N_TEST: usize = 500;
}

/// `prbench-like` sizes (PRBench's single-turn tasks): pool 676, 176 test
/// queries, 100 GS rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PrbenchSizes;

impl PoolSizes for PrbenchSizes {
    const N_GOLD: usize = 100;
    const POOL: usize = 676;
    const N_TEST: usize = 176;
}

/// Parameters of the healthbench family; `S` sets the default sizes
/// ([`HealthbenchParams`], [`PrbenchParams`]).
///
/// | key | default | meaning |
/// |---|---|---|
/// | `n_gold` | 100 | GS rows (≥ 2) |
/// | `pool` | 5000 (PRBench: 676) | queries per replicate |
/// | `n_test` | 500 (PRBench: 176) | test queries (≥ 1); `n_gold + n_test ≤ pool − 2` |
/// | `d` | 50 | feature dimension (≥ 3) |
/// | `sigma_gold`, `sigma_pref` | 0.6, 0.6 | label noise sds (≥ 0) |
/// | `bias` | `"linear"` | `"linear"` or `"tanh"` |
/// | `psi_intercept`, `psi_sin`, `psi_tanh` | 0.035, 0.20, 0.15 | ψ terms |
/// | `delta_intercept`, `delta_linear`, `delta_tanh` | 0.10, 0.358, 0.57 | Δ terms |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, bound = "S: PoolSizes")]
pub struct PoolParams<S: PoolSizes> {
    /// GS rows per replicate.
    pub n_gold: usize,
    /// Queries drawn per replicate.
    pub pool: usize,
    /// Test queries per replicate.
    pub n_test: usize,
    /// Feature dimension (config key `d`).
    #[serde(rename = "d")]
    pub dim: usize,
    /// GS noise standard deviation `σ_g`.
    pub sigma_gold: f64,
    /// PB noise standard deviation `σ_p`.
    pub sigma_pref: f64,
    /// Shape of Δ.
    pub bias: BiasShape,
    /// Constant term of ψ.
    pub psi_intercept: f64,
    /// Amplitude of `sin(π z₂/2)` in ψ.
    pub psi_sin: f64,
    /// Amplitude of `tanh(2 z₃)` in ψ.
    pub psi_tanh: f64,
    /// Constant term of Δ.
    pub delta_intercept: f64,
    /// Slope of `z₁` in Δ (`bias = "linear"`).
    pub delta_linear: f64,
    /// Amplitude of `tanh(z₁)` in Δ (`bias = "tanh"`).
    pub delta_tanh: f64,
    /// Scale `a` of PB labels: `y = a·(ψ − Δ₀ + ε')`, `Δ₀` the bias above
    /// (a PB rubric on another scale, the case of the paper's Remark 1).
    pub pref_scale: f64,
    /// The default sizes (no config key).
    #[serde(skip)]
    pub sizes: S,
}

/// Parameters of `healthbench-like`.
pub type HealthbenchParams = PoolParams<HealthbenchSizes>;
/// Parameters of `prbench-like`: the keys of [`HealthbenchParams`] with
/// PRBench's sizes as defaults (`pool = 676`, `n_test = 176`, `n_gold = 100`).
pub type PrbenchParams = PoolParams<PrbenchSizes>;

impl<S: PoolSizes> Default for PoolParams<S> {
    fn default() -> Self {
        Self {
            n_gold: S::N_GOLD,
            pool: S::POOL,
            n_test: S::N_TEST,
            dim: 50,
            sigma_gold: 0.6,
            sigma_pref: 0.6,
            bias: BiasShape::Linear,
            psi_intercept: 0.035,
            psi_sin: 0.20,
            psi_tanh: 0.15,
            delta_intercept: 0.10,
            delta_linear: 0.358,
            delta_tanh: 0.57,
            pref_scale: 1.0,
            sizes: S::default(),
        }
    }
}

impl PrbenchParams {
    /// The same values as healthbench-like parameters.
    pub fn into_healthbench(self) -> HealthbenchParams {
        let Self {
            n_gold,
            pool,
            n_test,
            dim,
            sigma_gold,
            sigma_pref,
            bias,
            psi_intercept,
            psi_sin,
            psi_tanh,
            delta_intercept,
            delta_linear,
            delta_tanh,
            pref_scale,
            sizes: _,
        } = self;
        HealthbenchParams {
            n_gold,
            pool,
            n_test,
            dim,
            sigma_gold,
            sigma_pref,
            bias,
            psi_intercept,
            psi_sin,
            psi_tanh,
            delta_intercept,
            delta_linear,
            delta_tanh,
            pref_scale,
            sizes: HealthbenchSizes,
        }
    }
}

/// The `healthbench-like` (or `prbench-like`) scenario, validated.
#[derive(Debug, Clone)]
pub struct HealthbenchLike {
    name: &'static str,
    params: HealthbenchParams,
}

impl HealthbenchLike {
    /// Validates `params` and builds `healthbench-like`.
    pub fn new(params: HealthbenchParams) -> Result<Self> {
        Self::named("healthbench-like", params)
    }

    /// Validates `params` and builds `prbench-like`.
    pub fn prbench(params: PrbenchParams) -> Result<Self> {
        Self::named("prbench-like", params.into_healthbench())
    }

    fn named(name: &'static str, params: HealthbenchParams) -> Result<Self> {
        check_pool_sizes(params.n_gold, params.pool, params.n_test)?;
        check_count("d", params.dim, 3, "ψ and Δ use z₁, z₂, z₃")?;
        check_scale("sigma_gold", params.sigma_gold)?;
        check_scale("sigma_pref", params.sigma_pref)?;
        if !(params.pref_scale.is_finite() && params.pref_scale > 0.0) {
            return Err(crate::error::Error::param(
                "pref_scale",
                params.pref_scale,
                "the PB label scale must be finite and > 0",
            ));
        }
        for (key, value) in [
            ("psi_intercept", params.psi_intercept),
            ("psi_sin", params.psi_sin),
            ("psi_tanh", params.psi_tanh),
            ("delta_intercept", params.delta_intercept),
            ("delta_linear", params.delta_linear),
            ("delta_tanh", params.delta_tanh),
        ] {
            check_finite(key, value)?;
        }
        Ok(Self { name, params })
    }

    /// The validated parameters.
    pub fn params(&self) -> &HealthbenchParams {
        &self.params
    }

    /// The constant propensity `κ = n_gold / (pool − n_test)`.
    pub fn kappa(&self) -> f64 {
        self.params.n_gold as f64 / (self.params.pool - self.params.n_test) as f64
    }

    fn psi_row(&self, s: ArrayView1<f64>) -> f64 {
        let p = &self.params;
        let z2 = s[1] * 2f64.sqrt();
        let z3 = s[2] * 3f64.sqrt();
        p.psi_intercept + p.psi_sin * (PI * z2 / 2.0).sin() + p.psi_tanh * (2.0 * z3).tanh()
    }

    /// `Δ₀`, the bias on the GS scale (`Δ` itself when `pref_scale = 1`).
    fn base_delta_row(&self, s: ArrayView1<f64>) -> f64 {
        let p = &self.params;
        let z1 = s[0];
        match p.bias {
            BiasShape::Linear => p.delta_intercept + p.delta_linear * z1,
            BiasShape::Tanh => p.delta_intercept + p.delta_tanh * z1.tanh(),
        }
    }

    /// `Δ = ψ − η` with `η = a(ψ − Δ₀)`: `(1 − a)ψ + a·Δ₀`.
    fn delta_row(&self, s: ArrayView1<f64>) -> f64 {
        let a = self.params.pref_scale;
        let base = self.base_delta_row(s);
        if a == 1.0 {
            base
        } else {
            (1.0 - a) * self.psi_row(s) + a * base
        }
    }
}

/// `s_k = z_k / √k` (k = 1..d) applied in place to a matrix of `z` rows.
pub(crate) fn scale_pc_scores(z: &mut ndarray::Array2<f64>) {
    for (k, mut column) in z.columns_mut().into_iter().enumerate() {
        column /= ((k + 1) as f64).sqrt();
    }
}

impl Scenario for HealthbenchLike {
    fn name(&self) -> &'static str {
        self.name
    }

    fn sizes(&self) -> ScenarioSizes {
        let p = &self.params;
        ScenarioSizes::random_split(p.dim, p.pool, p.n_test, p.n_gold)
    }

    fn dim(&self) -> usize {
        self.params.dim
    }

    fn psi(&self, x: ArrayView2<f64>) -> Array1<f64> {
        rowwise(x, self.dim(), |s| self.psi_row(s))
    }

    fn delta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        rowwise(x, self.dim(), |s| self.delta_row(s))
    }

    fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let kappa = self.kappa();
        rowwise(x, self.dim(), |_| kappa)
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<SimulatedData> {
        let p = &self.params;
        let mut x = standard_normal_matrix(rng, p.pool, p.dim);
        scale_pc_scores(&mut x);
        let gold_noise = normal_vector(rng, p.pool, p.sigma_gold);
        let pref_noise = normal_vector(rng, p.pool, p.sigma_pref);
        let (test, gold, pref) = split_pool(rng, p.pool, p.n_test, p.n_gold);
        let psi = self.psi(x.view());
        let eta = &psi - &self.delta(x.view());
        let gold_label = &psi + &gold_noise;
        // y = a(ψ − Δ₀ + ε') = η + a ε'.
        let pref_noise = if p.pref_scale == 1.0 {
            pref_noise
        } else {
            p.pref_scale * pref_noise
        };
        let pref_label = &eta + &pref_noise;
        Drawn::from_split(&x, &gold_label, &pref_label, (&test, &gold, &pref)).into_simulated(self)
    }

    fn constants(&self) -> PopulationConstants {
        // E ψ = psi_intercept and E Δ₀ = delta_intercept (the sin, tanh and
        // linear terms of standard normal scores have mean 0).
        let p = &self.params;
        let a = p.pref_scale;
        let mean_delta = if a == 1.0 {
            p.delta_intercept
        } else {
            (1.0 - a) * p.psi_intercept + a * p.delta_intercept
        };
        PopulationConstants {
            mean_psi: p.psi_intercept,
            mean_delta_pref: mean_delta,
            mean_psi_pref: p.psi_intercept,
            mean_delta,
            accuracy: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn formulas_match_hand_values() {
        let scenario = HealthbenchLike::new(HealthbenchParams {
            dim: 3,
            ..HealthbenchParams::default()
        })
        .unwrap();
        // s = (0.5, 1/√2, 1/√3) ⇒ z = (0.5, 1, 1)
        let x = array![[0.5, 1.0 / 2f64.sqrt(), 1.0 / 3f64.sqrt()]];
        let psi = 0.035 + 0.20 * (PI / 2.0).sin() + 0.15 * 2f64.tanh();
        let delta = 0.10 + 0.358 * 0.5;
        assert!((scenario.psi(x.view())[0] - psi).abs() < 1e-14);
        assert!((scenario.delta(x.view())[0] - delta).abs() < 1e-14);
        assert!((scenario.eta(x.view())[0] - (psi - delta)).abs() < 1e-14);
        let tanh = HealthbenchLike::new(HealthbenchParams {
            dim: 3,
            bias: BiasShape::Tanh,
            ..HealthbenchParams::default()
        })
        .unwrap();
        assert!((tanh.delta(x.view())[0] - (0.10 + 0.57 * 0.5f64.tanh())).abs() < 1e-14);
    }

    #[test]
    fn prbench_defaults_and_conversion_round_trip() {
        let p = PrbenchParams::default();
        assert_eq!((p.pool, p.n_test, p.n_gold, p.dim), (676, 176, 100, 50));
        assert_eq!(p.clone().into_healthbench().pool, 676);
        let scenario = HealthbenchLike::prbench(p).unwrap();
        assert_eq!(scenario.name(), "prbench-like");
        assert!((scenario.kappa() - 100.0 / 500.0).abs() < 1e-15);
    }

    #[test]
    #[should_panic(expected = "feature columns")]
    fn wrong_dimension_panics() {
        let scenario = HealthbenchLike::new(HealthbenchParams::default()).unwrap();
        scenario.psi(ndarray::Array2::zeros((1, 3)).view());
    }
}
