//! `covariate-shift`: GS and PB queries from shifted normal laws, so the propensity is known and non-constant.
//!
//! # Model
//! Features `s ∈ R^d` (default `d = 10`). PB queries follow `Q' = N(0, I_d)`,
//! GS queries `Q = N(γ e₁, I_d)`; the training set holds exactly `n_gold` GS and
//! `n_pref` PB rows, `κ = n_gold / (n_gold + n_pref)`. A study that varies the
//! training size at a fixed GS share gives `n` (pooled rows `N`) and `kappa`
//! instead: `n_gold = round(κN)`, `n_pref = N − n_gold`.
//!
//! - `ψ(s) = 0.035 + 0.4 s₂ + 0.3 sin(π s₃/2) + 0.2 s₁`,
//! - `Δ(s) = 0.2 + 0.4 tanh(s₁)`, `η = ψ − Δ`,
//! - `r = ψ + N(0, σ_g²)`, `y = η + N(0, σ_p²)`.
//!
//! With `shape = "linear-bias"` the roles along the shift direction `s₁` are
//! swapped, so that the bias is the simpler function where overlap fails (the
//! Meta-Router's premise): `ψ(s) = 0.035 + 0.4 s₂ + 0.3 sin(π s₃/2) +
//! 0.3 sin(π s₁/2)` and `Δ(s) = 0.2 + 0.2 s₁`. The default `shape =
//! "tanh-bias"` is the model above (`ψ` linear in `s₁`, `Δ` saturating).
//!
//! **Propensity.** By the paper's Lemma 1 the pooled rows are a draw from the
//! mixture `κ Q + (1 − κ) Q'` with `p(s) = κ f_Q / (κ f_Q + (1 − κ) f_Q')`.
//! The density ratio is `f_Q(s)/f_Q'(s) = exp(γ s₁ − γ²/2)`, hence
//! `p(s) = logistic(γ s₁ − γ²/2 + logit κ)` exactly. `γ` sets the overlap;
//! `γ = 0` is a random split (`p ≡ κ`).
//!
//! **Population constants.** Under `Q'`, `s₁, s₂, s₃` are symmetric about 0,
//! so `E[ψ | t = 0] = 0.035` and `E[Δ | t = 0] = 0.2`. Under `Q`, `s₁ ~ N(γ, 1)`
//! and `s₂, s₃` are still symmetric, so `E[ψ | t = 1] = 0.035 + 0.2 γ` and
//! `E[Δ | t = 1] = 0.2 + 0.4 T(γ)` with `T(γ) = E tanh(γ + Z)`, `Z ~ N(0, 1)`,
//! a one-dimensional integral evaluated by Simpson's rule (error < 1e-10).
//! Over the pooled law: `E ψ = 0.035 + 0.2 κ γ`, `E Δ = 0.2 + 0.4 κ T(γ)`.
//! `linear-bias`: `E[ψ | t = 0] = 0.035`, `E[Δ | t = 0] = 0.2`, and with
//! `E sin(π(γ + Z)/2) = sin(πγ/2) e^{−π²/8}`, `E ψ = 0.035 + 0.3 κ sin(πγ/2)
//! e^{−π²/8}`, `E Δ = 0.2 + 0.2 κ γ`. `accuracy = 0`.
//!
//! # Algorithm
//! [`Scenario::draw`] uses its stream in this order: for `test_from = pooled`,
//! `n_test` uniforms choosing each test query's law (GS law iff `u < κ`); the
//! GS features (`n_gold × d` standard normals, row by row, then `+γ` on column
//! 1), the PB features (`n_pref × d`), the test features (`n_test × d`, shifted
//! when from the GS law); then GS noises (`n_gold`), PB noises (`n_pref`),
//! counterfactual GS noises of the PB rows (`n_pref`, for `all_gold_y`) and the
//! test queries' GS noises (`n_test`).
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), arXiv 2509.25535, Lemma 1 (propensity of the
//! pooled data as a density ratio).
//!
//! # Example
//! ```
//! use meta_router::dgp::{CovariateShift, CovariateShiftParams, Scenario};
//!
//! let scenario = CovariateShift::new(CovariateShiftParams {
//!     n_gold: Some(100), n_pref: Some(300), gamma: 1.0, ..CovariateShiftParams::default()
//! }).unwrap();
//! // at s₁ = γ/2 the two densities are equal, so p = κ = 0.25
//! let mut s = ndarray::Array2::<f64>::zeros((1, 10));
//! s[[0, 0]] = 0.5;
//! assert!((scenario.propensity(s.view())[0] - 0.25).abs() < 1e-12);
//! ```

use ndarray::{s, Array1, ArrayView1, ArrayView2};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

use super::{
    check_count, check_finite, check_scale, logistic, normal_expectation, normal_vector, rowwise,
    standard_normal_matrix, uniform_vector, Drawn, PopulationConstants, Scenario, ScenarioSizes,
    SimulatedData,
};
use crate::error::{Error, Result};

pub(crate) const DESCRIPTION: &str =
    "PB queries N(0, I), GS queries N(γe₁, I): known propensity logistic(γs₁ − γ²/2 + logit κ)";

/// Key and meaning of every parameter.
pub(crate) const PARAMETER_DOCS: &[(&str, &str)] = &[
    (
        "n_gold",
        "GS rows, drawn from N(γe₁, I) (>= 2; 500 unless n is given)",
    ),
    (
        "n_pref",
        "PB rows, drawn from N(0, I) (>= 2; 4500 unless n is given)",
    ),
    (
        "n",
        "pooled training rows N; replaces n_gold and n_pref: n_gold = round(kappa N), n_pref = N - n_gold",
    ),
    ("kappa", "GS share of the N rows when n is given (in (0, 1); default 0.1)"),
    ("n_test", "test queries (>= 1)"),
    ("d", "feature dimension (>= 3)"),
    (
        "gamma",
        "shift γ of the GS law along e₁ (finite; 0 = random split)",
    ),
    ("sigma_gold", "GS label noise sd (>= 0)"),
    ("sigma_pref", "PB label noise sd (>= 0)"),
    ("test_from", "law of the test queries: pref | gold | pooled"),
    (
        "shape",
        "tanh-bias (ψ linear, Δ = 0.2 + 0.4 tanh(s₁)) | linear-bias (ψ has 0.3 sin(πs₁/2), Δ = 0.2 + 0.2 s₁)",
    ),
];

/// Which functions ψ and Δ take along the shift direction `s₁`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// `ψ` linear in `s₁`, `Δ = 0.2 + 0.4 tanh(s₁)` (the default).
    #[default]
    TanhBias,
    /// `ψ` with `0.3 sin(π s₁/2)`, `Δ = 0.2 + 0.2 s₁`.
    LinearBias,
}

/// Which law the test queries come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestFrom {
    /// The PB query law `N(0, I)`.
    #[default]
    Pref,
    /// The GS query law `N(γ e₁, I)`.
    Gold,
    /// The pooled mixture `κ N(γ e₁, I) + (1 − κ) N(0, I)`.
    Pooled,
}

/// Parameters of `covariate-shift`.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `n_gold` | 500 | GS rows (≥ 2); not with `n` |
/// | `n_pref` | 4500 | PB rows (≥ 2); not with `n` |
/// | `n` | — | pooled rows `N`; replaces `n_gold`, `n_pref` (`n_gold = round(κN)`) |
/// | `kappa` | 0.1 | GS share `κ` of the `n` rows (only with `n`) |
/// | `n_test` | 500 | test queries (≥ 1) |
/// | `d` | 10 | feature dimension (≥ 3) |
/// | `gamma` | 1.0 | shift of the GS law (finite) |
/// | `sigma_gold`, `sigma_pref` | 0.6, 0.6 | label noise sds (≥ 0) |
/// | `test_from` | `"pref"` | `"pref"`, `"gold"` or `"pooled"` |
/// | `shape` | `"tanh-bias"` | `"tanh-bias"` or `"linear-bias"` (module docs) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CovariateShiftParams {
    /// GS rows (500 when neither this nor `n` is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_gold: Option<usize>,
    /// PB rows (4500 when neither this nor `n` is given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_pref: Option<usize>,
    /// Pooled training rows `N` at the GS share `kappa`, instead of
    /// `n_gold` and `n_pref` (a single size key for rate studies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<usize>,
    /// GS share `κ` of the `n` rows (default 0.1); only with `n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kappa: Option<f64>,
    /// Test queries.
    pub n_test: usize,
    /// Feature dimension (config key `d`).
    #[serde(rename = "d")]
    pub dim: usize,
    /// Shift `γ` of the GS query law along `e₁`.
    pub gamma: f64,
    /// GS noise standard deviation.
    pub sigma_gold: f64,
    /// PB noise standard deviation.
    pub sigma_pref: f64,
    /// Law of the test queries.
    pub test_from: TestFrom,
    /// The functions along the shift direction.
    pub shape: Shape,
}

impl Default for CovariateShiftParams {
    fn default() -> Self {
        Self {
            n_gold: None,
            n_pref: None,
            n: None,
            kappa: None,
            n_test: 500,
            dim: 10,
            gamma: 1.0,
            sigma_gold: 0.6,
            sigma_pref: 0.6,
            test_from: TestFrom::Pref,
            shape: Shape::TanhBias,
        }
    }
}

/// The `covariate-shift` scenario, validated.
#[derive(Debug, Clone)]
pub struct CovariateShift {
    params: CovariateShiftParams,
    /// GS rows (`n_gold`, or `round(κN)` when `n` is given).
    n_gold: usize,
    /// PB rows (`n_pref`, or `N − n_gold` when `n` is given).
    n_pref: usize,
}

/// GS share of the `n` rows when `kappa` is not given.
const DEFAULT_KAPPA: f64 = 0.1;
/// GS and PB rows when neither they nor `n` are given.
const DEFAULT_COUNTS: (usize, usize) = (500, 4500);

impl CovariateShift {
    /// Validates `params` and builds the scenario.
    pub fn new(params: CovariateShiftParams) -> Result<Self> {
        let (n_gold, n_pref) = Self::training_sizes(&params)?;
        check_count("n_gold", n_gold, 2, "cross-fitting needs two GS rows")?;
        check_count("n_pref", n_pref, 2, "cross-fitting needs two PB rows")?;
        check_count(
            "n_test",
            params.n_test,
            1,
            "routing is evaluated on test queries",
        )?;
        check_count("d", params.dim, 3, "ψ and Δ use s₁, s₂, s₃")?;
        check_finite("gamma", params.gamma)?;
        check_scale("sigma_gold", params.sigma_gold)?;
        check_scale("sigma_pref", params.sigma_pref)?;
        Ok(Self {
            params,
            n_gold,
            n_pref,
        })
    }

    /// The validated parameters (as given: `n_gold`, `n_pref` are `None`
    /// when `n` or the defaults set the counts; see [`Scenario::sizes`]).
    pub fn params(&self) -> &CovariateShiftParams {
        &self.params
    }

    /// `(n_gold, n_pref)`: as given (defaults 500 and 4500), or from `n` and
    /// `kappa` (`n_gold = round(κN)`, `n_pref = N − n_gold`, each at least
    /// 2). `n` with `n_gold` or `n_pref`, or `kappa` without `n`, is refused.
    fn training_sizes(params: &CovariateShiftParams) -> Result<(usize, usize)> {
        let Some(n) = params.n else {
            if let Some(kappa) = params.kappa {
                return Err(Error::param(
                    "kappa",
                    kappa,
                    "the GS share applies to `n`; give `n` (pooled rows) with it, or \
                     `n_gold` and `n_pref` without it",
                ));
            }
            return Ok((
                params.n_gold.unwrap_or(DEFAULT_COUNTS.0),
                params.n_pref.unwrap_or(DEFAULT_COUNTS.1),
            ));
        };
        for (key, value) in [("n_gold", params.n_gold), ("n_pref", params.n_pref)] {
            if let Some(value) = value {
                return Err(Error::param(
                    key,
                    value,
                    "`n` (with `kappa`) sets the GS and PB row counts; give either `n` or \
                     `n_gold` and `n_pref`",
                ));
            }
        }
        let kappa = params.kappa.unwrap_or(DEFAULT_KAPPA);
        if !(kappa.is_finite() && kappa > 0.0 && kappa < 1.0) {
            return Err(Error::param(
                "kappa",
                kappa,
                "the GS share must lie in (0, 1)",
            ));
        }
        let n_gold = (kappa * n as f64).round() as usize;
        let n_pref = n.saturating_sub(n_gold);
        if n_gold < 2 || n_pref < 2 {
            return Err(Error::param(
                "n",
                n,
                format!(
                    "at kappa = {kappa} it gives {n_gold} GS and {n_pref} PB rows \
                     (n_gold = round(kappa n)); cross-fitting needs at least 2 of each"
                ),
            ));
        }
        Ok((n_gold, n_pref))
    }

    /// `κ = n_gold / (n_gold + n_pref)` (with `n`, the realized share
    /// `round(κN)/N`).
    pub fn kappa(&self) -> f64 {
        self.n_gold as f64 / (self.n_gold + self.n_pref) as f64
    }

    fn psi_row(shape: Shape, s: ArrayView1<f64>) -> f64 {
        let common = 0.035 + 0.4 * s[1] + 0.3 * (PI * s[2] / 2.0).sin();
        match shape {
            Shape::TanhBias => common + 0.2 * s[0],
            Shape::LinearBias => common + 0.3 * (PI * s[0] / 2.0).sin(),
        }
    }

    fn delta_row(shape: Shape, s: ArrayView1<f64>) -> f64 {
        match shape {
            Shape::TanhBias => 0.2 + 0.4 * s[0].tanh(),
            Shape::LinearBias => 0.2 + 0.2 * s[0],
        }
    }

    /// `E[ψ(s) − E_{Q'}ψ]` for `s₁ ~ N(γ, 1)` (the other terms have mean 0):
    /// `0.2 γ` (`tanh-bias`) or `0.3 sin(πγ/2) e^{−π²/8}` (`linear-bias`).
    fn shifted_gain(&self) -> f64 {
        let gamma = self.params.gamma;
        match self.params.shape {
            Shape::TanhBias => 0.2 * gamma,
            Shape::LinearBias => 0.3 * (PI * gamma / 2.0).sin() * (-PI * PI / 8.0).exp(),
        }
    }
}

impl Scenario for CovariateShift {
    fn name(&self) -> &'static str {
        "covariate-shift"
    }

    fn sizes(&self) -> ScenarioSizes {
        let p = &self.params;
        ScenarioSizes {
            dim: p.dim,
            n_gold: self.n_gold as f64,
            n_pref: self.n_pref as f64,
            n_test: p.n_test,
            random_counts: false,
        }
    }

    fn dim(&self) -> usize {
        self.params.dim
    }

    fn psi(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let shape = self.params.shape;
        rowwise(x, self.dim(), |s| Self::psi_row(shape, s))
    }

    fn delta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let shape = self.params.shape;
        rowwise(x, self.dim(), |s| Self::delta_row(shape, s))
    }

    fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64> {
        let gamma = self.params.gamma;
        let kappa = self.kappa();
        let offset = -gamma * gamma / 2.0 + (kappa / (1.0 - kappa)).ln();
        rowwise(x, self.dim(), |s| logistic(gamma * s[0] + offset))
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<SimulatedData> {
        let p = &self.params;
        let test_shifted: Vec<bool> = match p.test_from {
            TestFrom::Pref => vec![false; p.n_test],
            TestFrom::Gold => vec![true; p.n_test],
            TestFrom::Pooled => {
                let kappa = self.kappa();
                uniform_vector(rng, p.n_test)
                    .iter()
                    .map(|&u| u < kappa)
                    .collect()
            }
        };
        let (n_gold, n_pref) = (self.n_gold, self.n_pref);
        let mut gold_x = standard_normal_matrix(rng, n_gold, p.dim);
        gold_x.slice_mut(s![.., 0]).mapv_inplace(|v| v + p.gamma);
        let pref_x = standard_normal_matrix(rng, n_pref, p.dim);
        let mut test_x = standard_normal_matrix(rng, p.n_test, p.dim);
        for (row, &shifted) in test_shifted.iter().enumerate() {
            if shifted {
                test_x[[row, 0]] += p.gamma;
            }
        }
        let gold_noise = normal_vector(rng, n_gold, p.sigma_gold);
        let pref_noise = normal_vector(rng, n_pref, p.sigma_pref);
        let pref_gold_noise = normal_vector(rng, n_pref, p.sigma_gold);
        let test_noise = normal_vector(rng, p.n_test, p.sigma_gold);
        let pref_psi = self.psi(pref_x.view());
        Drawn {
            gold_y: &self.psi(gold_x.view()) + &gold_noise,
            pref_y: &(&pref_psi - &self.delta(pref_x.view())) + &pref_noise,
            pref_gold_y: &pref_psi + &pref_gold_noise,
            test_gold_y: &self.psi(test_x.view()) + &test_noise,
            gold_x,
            pref_x,
            test_x,
        }
        .into_simulated(self)
    }

    fn test_mean_gain(&self) -> f64 {
        // E ψ = 0.035 under the PB law; the GS law adds `shifted_gain`.
        match self.params.test_from {
            TestFrom::Pref => 0.035,
            TestFrom::Gold => 0.035 + self.shifted_gain(),
            TestFrom::Pooled => 0.035 + self.kappa() * self.shifted_gain(),
        }
    }

    fn constants(&self) -> PopulationConstants {
        let gamma = self.params.gamma;
        let kappa = self.kappa();
        let shifted_bias = match self.params.shape {
            Shape::TanhBias => 0.4 * normal_expectation(|z| (gamma + z).tanh()),
            Shape::LinearBias => 0.2 * gamma,
        };
        PopulationConstants {
            mean_psi: 0.035 + kappa * self.shifted_gain(),
            mean_delta_pref: 0.2,
            mean_psi_pref: 0.035,
            mean_delta: 0.2 + kappa * shifted_bias,
            accuracy: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn propensity_is_the_density_ratio_formula() {
        let scenario = CovariateShift::new(CovariateShiftParams {
            n_gold: Some(200),
            n_pref: Some(600),
            dim: 3,
            gamma: 1.5,
            ..CovariateShiftParams::default()
        })
        .unwrap();
        let kappa = 0.25;
        let density = |s1: f64, mean: f64| (-0.5 * (s1 - mean) * (s1 - mean)).exp();
        for s1 in [-2.0, -0.3, 0.0, 0.75, 2.5] {
            let x = array![[s1, 0.4, -1.0]];
            let expected = kappa * density(s1, 1.5)
                / (kappa * density(s1, 1.5) + (1.0 - kappa) * density(s1, 0.0));
            assert!((scenario.propensity(x.view())[0] - expected).abs() < 1e-14);
        }
    }

    /// `n` and `kappa` set both counts; conflicting keys (also one written
    /// with its default value) and too few derived rows are refused by name.
    #[test]
    fn pooled_size_and_share_set_the_counts() {
        let with = |n: Option<usize>, kappa: Option<f64>, n_gold: Option<usize>| {
            CovariateShift::new(CovariateShiftParams {
                n,
                kappa,
                n_gold,
                ..CovariateShiftParams::default()
            })
        };
        let scenario = with(Some(2000), Some(0.25), None).unwrap();
        let sizes = scenario.sizes();
        assert_eq!((sizes.n_gold, sizes.n_pref), (500.0, 1500.0));
        assert!((scenario.kappa() - 0.25).abs() < 1e-15);
        // default share 0.1; default counts without `n`
        let scenario = with(Some(1000), None, None).unwrap();
        assert_eq!(scenario.sizes().n_gold, 100.0);
        let data = scenario.draw(&mut crate::rng::rng_from_seed(2)).unwrap();
        assert_eq!(data.train.n_total(), 1000);
        let sizes = with(None, None, None).unwrap().sizes();
        assert_eq!((sizes.n_gold, sizes.n_pref), (500.0, 4500.0));
        let name = |r: Result<CovariateShift>| match r {
            Err(Error::Core(meta_router_core::Error::InvalidParameter { name, .. })) => name,
            other => panic!("expected a parameter error, got {other:?}"),
        };
        assert_eq!(name(with(Some(1000), None, Some(200))), "n_gold");
        assert_eq!(name(with(Some(1000), None, Some(500))), "n_gold");
        assert_eq!(name(with(None, Some(0.2), None)), "kappa");
        assert_eq!(name(with(Some(1000), Some(1.0), None)), "kappa");
        assert_eq!(name(with(Some(10), Some(0.1), None)), "n");
        assert_eq!(name(with(Some(100), Some(0.99), None)), "n");
    }

    #[test]
    fn zero_shift_is_a_random_split() {
        let scenario = CovariateShift::new(CovariateShiftParams {
            gamma: 0.0,
            ..CovariateShiftParams::default()
        })
        .unwrap();
        let x = standard_normal_matrix(&mut crate::rng::rng_from_seed(1), 5, 10);
        assert!(scenario
            .propensity(x.view())
            .iter()
            .all(|&p| (p - 0.1).abs() < 1e-14));
        let c = scenario.constants();
        assert!((c.mean_delta - 0.2).abs() < 1e-12);
        assert!((c.mean_psi - 0.035).abs() < 1e-15);
    }

    #[test]
    fn hand_values_of_psi_and_delta() {
        let scenario = CovariateShift::new(CovariateShiftParams {
            dim: 3,
            ..CovariateShiftParams::default()
        })
        .unwrap();
        let x = array![[1.0, -0.5, 1.0]];
        let psi = 0.035 - 0.2 + 0.3 + 0.2;
        assert!((scenario.psi(x.view())[0] - psi).abs() < 1e-14);
        assert!((scenario.delta(x.view())[0] - (0.2 + 0.4 * 1f64.tanh())).abs() < 1e-14);
    }

    /// `linear-bias`: hand values, and the closed-form constants against
    /// the means of a 400 000-row draw of each law (MC SE about 0.001).
    #[test]
    fn linear_bias_shape_by_hand_and_by_sample() {
        let scenario = CovariateShift::new(CovariateShiftParams {
            dim: 3,
            n_gold: Some(1000),
            n_pref: Some(3000),
            gamma: 1.3,
            shape: Shape::LinearBias,
            ..CovariateShiftParams::default()
        })
        .unwrap();
        let x = array![[1.0, -0.5, 1.0]];
        let psi = 0.035 - 0.2 + 0.3 + 0.3;
        assert!((scenario.psi(x.view())[0] - psi).abs() < 1e-14);
        assert!((scenario.delta(x.view())[0] - 0.4).abs() < 1e-14);
        let mut rng = crate::rng::rng_from_seed(3);
        let pref = standard_normal_matrix(&mut rng, 400_000, 3);
        let mut gold = standard_normal_matrix(&mut rng, 400_000, 3);
        gold.slice_mut(s![.., 0]).mapv_inplace(|v| v + 1.3);
        let mean = |a: Array1<f64>| a.mean().unwrap();
        let c = scenario.constants();
        let kappa = 0.25;
        let pooled_psi = kappa * mean(scenario.psi(gold.view()))
            + (1.0 - kappa) * mean(scenario.psi(pref.view()));
        let pooled_delta = kappa * mean(scenario.delta(gold.view()))
            + (1.0 - kappa) * mean(scenario.delta(pref.view()));
        assert!((mean(scenario.psi(pref.view())) - c.mean_psi_pref).abs() < 0.004);
        assert!((mean(scenario.delta(pref.view())) - c.mean_delta_pref).abs() < 0.002);
        assert!(
            (pooled_psi - c.mean_psi).abs() < 0.004,
            "{pooled_psi} {}",
            c.mean_psi
        );
        assert!((pooled_delta - c.mean_delta).abs() < 0.002);
    }
}
