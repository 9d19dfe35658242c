//! `binary-preference`: healthbench-like queries with win/tie/loss preference labels.
//!
//! # Model
//! Features, pool and random split as in [`healthbench`](super::healthbench):
//! `s_k = z_k/√k`, `z ~ N(0, I_d)`, a fresh pool split into `n_test` test,
//! `n_gold` GS and the rest PB rows, so `p ≡ κ = n_gold / (pool − n_test)`.
//! With the default amplitudes
//!
//! - `ψ(s) = 0.035 + 0.30 sin(π z₂/2) + 0.20 tanh(2 z₃)`,
//! - `Δ(s) = 0.10 + 0.30 tanh(z₁)`, `η = ψ − Δ`,
//! - GS labels continuous: `r = ψ + N(0, σ_g²)`;
//! - PB labels `y ∈ {+1, 0, −1}` (win, tie, loss of `M_p` against `M_a`) with
//!   `P(y = 0) = π_tie`, `P(y = +1) = (1 − π_tie + η)/2`,
//!   `P(y = −1) = (1 − π_tie − η)/2`, so `E[y | s] = η(s)`.
//!
//! These are probabilities only if `|η| ≤ 1 − π_tie` everywhere. Because `sin`
//! and `tanh` range over `[−1, 1]` independently in `z₁, z₂, z₃`,
//! `sup |η| = |ψ₀ − δ₀| + |psi_sin| + |psi_tanh| + |delta_tanh|` (0.865 by
//! default), and the constructor rejects parameters with
//! `sup |η| > 1 − π_tie` (naming `pi_tie`).
//!
//! **Population constants (closed form).** As for healthbench-like, the odd
//! terms have mean 0 under the symmetric `z` and `t` is independent of `s`:
//! `E ψ = E[ψ | t = 0] = psi_intercept`, `E Δ = E[Δ | t = 0] = delta_intercept`.
//!
//! # Algorithm
//! [`Scenario::draw`] uses its stream in this order: the pool's `z` matrix
//! (`pool × d`, row by row), `pool` GS noises, `pool` uniforms `u` (PB label:
//! `+1` if `u < P(+1)`, else `0` if `u < P(+1) + π_tie`, else `−1`), then a
//! Fisher–Yates permutation (test, GS, PB rows as in healthbench-like).
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), arXiv 2509.25535 (preference-based evaluation
//! as win/tie/loss votes, e.g. Chatbot Arena).
//!
//! # Example
//! ```
//! use meta_router::dgp::{BinaryPreference, BinaryPreferenceParams, Scenario};
//! use meta_router::rng::{stream, Purpose};
//!
//! let scenario = BinaryPreference::new(BinaryPreferenceParams::default()).unwrap();
//! let data = scenario.draw(&mut stream(2, 0, 0, Purpose::Data)).unwrap();
//! assert!(data.train.pref_y().iter().all(|&y| y == 1.0 || y == 0.0 || y == -1.0));
//! // a tie share that leaves no room for η is rejected
//! let bad = BinaryPreferenceParams { pi_tie: 0.2, ..BinaryPreferenceParams::default() };
//! assert!(BinaryPreference::new(bad).is_err());
//! ```

use ndarray::{Array1, ArrayView1, ArrayView2};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

use super::healthbench::scale_pc_scores;
use super::{
    check_count, check_finite, check_pool_sizes, check_scale, normal_vector, rowwise, split_pool,
    standard_normal_matrix, uniform_vector, Drawn, PopulationConstants, Scenario, ScenarioSizes,
    SimulatedData,
};
use crate::error::{Error, Result};

pub(crate) const DESCRIPTION: &str =
    "healthbench-like queries with win/tie/loss PB labels in {+1, 0, −1}, E[y|s] = η(s), continuous GS labels";

/// Key and meaning of every parameter.
pub(crate) const PARAMETER_DOCS: &[(&str, &str)] = &[
    ("n_gold", "GS rows per replicate (>= 2)"),
    (
        "pool",
        "queries drawn per replicate, split into test / GS / PB",
    ),
    ("n_test", "test queries (>= 1); n_gold + n_test <= pool - 2"),
    ("d", "feature dimension (>= 3)"),
    ("sigma_gold", "GS label noise sd (>= 0)"),
    (
        "pi_tie",
        "probability of a tie (y = 0), in [0, 1); sup|η| <= 1 - pi_tie",
    ),
    ("psi_intercept", "constant term of ψ"),
    ("psi_sin", "amplitude of sin(π z₂/2) in ψ"),
    ("psi_tanh", "amplitude of tanh(2 z₃) in ψ"),
    ("delta_intercept", "constant term of Δ"),
    ("delta_tanh", "amplitude of tanh(z₁) in Δ"),
];

/// Parameters of `binary-preference`.
///
/// | key | default | meaning |
/// |---|---|---|
/// | `n_gold` | 100 | GS rows (≥ 2) |
/// | `pool` | 5000 | queries per replicate |
/// | `n_test` | 500 | test queries (≥ 1); `n_gold + n_test ≤ pool − 2` |
/// | `d` | 50 | feature dimension (≥ 3) |
/// | `sigma_gold` | 0.6 | GS label noise sd (≥ 0) |
/// | `pi_tie` | 0.05 | tie probability, `[0, 1)`, with `sup |η| ≤ 1 − pi_tie` |
/// | `psi_intercept`, `psi_sin`, `psi_tanh` | 0.035, 0.30, 0.20 | ψ terms |
/// | `delta_intercept`, `delta_tanh` | 0.10, 0.30 | Δ terms |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinaryPreferenceParams {
    /// GS rows per replicate.
    pub n_gold: usize,
    /// Queries drawn per replicate.
    pub pool: usize,
    /// Test queries per replicate.
    pub n_test: usize,
    /// Feature dimension (config key `d`).
    #[serde(rename = "d")]
    pub dim: usize,
    /// GS noise standard deviation.
    pub sigma_gold: f64,
    /// Tie probability `π_tie`.
    pub pi_tie: f64,
    /// Constant term of ψ.
    pub psi_intercept: f64,
    /// Amplitude of `sin(π z₂/2)` in ψ.
    pub psi_sin: f64,
    /// Amplitude of `tanh(2 z₃)` in ψ.
    pub psi_tanh: f64,
    /// Constant term of Δ.
    pub delta_intercept: f64,
    /// Amplitude of `tanh(z₁)` in Δ.
    pub delta_tanh: f64,
}

impl Default for BinaryPreferenceParams {
    fn default() -> Self {
        Self {
            n_gold: 100,
            pool: 5000,
            n_test: 500,
            dim: 50,
            sigma_gold: 0.6,
            pi_tie: 0.05,
            psi_intercept: 0.035,
            psi_sin: 0.30,
            psi_tanh: 0.20,
            delta_intercept: 0.10,
            delta_tanh: 0.30,
        }
    }
}

/// The `binary-preference` scenario, validated.
#[derive(Debug, Clone)]
pub struct BinaryPreference {
    params: BinaryPreferenceParams,
}

impl BinaryPreference {
    /// Validates `params` (including `sup |η| ≤ 1 − π_tie`) and builds the scenario.
    pub fn new(params: BinaryPreferenceParams) -> Result<Self> {
        check_pool_sizes(params.n_gold, params.pool, params.n_test)?;
        check_count("d", params.dim, 3, "ψ and Δ use z₁, z₂, z₃")?;
        check_scale("sigma_gold", params.sigma_gold)?;
        for (key, value) in [
            ("psi_intercept", params.psi_intercept),
            ("psi_sin", params.psi_sin),
            ("psi_tanh", params.psi_tanh),
            ("delta_intercept", params.delta_intercept),
            ("delta_tanh", params.delta_tanh),
        ] {
            check_finite(key, value)?;
        }
        if !(0.0..1.0).contains(&params.pi_tie) {
            return Err(Error::param("pi_tie", params.pi_tie, "must lie in [0, 1)"));
        }
        let scenario = Self { params };
        let bound = scenario.eta_bound();
        if bound > 1.0 - scenario.params.pi_tie {
            return Err(Error::param(
                "pi_tie",
                scenario.params.pi_tie,
                format!(
                    "sup|η| = {bound} (|psi_intercept − delta_intercept| + |psi_sin| + \
                     |psi_tanh| + |delta_tanh|) exceeds 1 − pi_tie, so win/loss \
                     probabilities would be negative"
                ),
            ));
        }
        Ok(scenario)
    }

    /// The validated parameters.
    pub fn params(&self) -> &BinaryPreferenceParams {
        &self.params
    }

    /// The constant propensity `κ = n_gold / (pool − n_test)`.
    pub fn kappa(&self) -> f64 {
        self.params.n_gold as f64 / (self.params.pool - self.params.n_test) as f64
    }

    /// `sup_s |η(s)| = |ψ₀ − δ₀| + |psi_sin| + |psi_tanh| + |delta_tanh|`.
    pub fn eta_bound(&self) -> f64 {
        let p = &self.params;
        (p.psi_intercept - p.delta_intercept).abs()
            + p.psi_sin.abs()
            + p.psi_tanh.abs()
            + p.delta_tanh.abs()
    }

    fn psi_row(&self, s: ArrayView1<f64>) -> f64 {
        let p = &self.params;
        let z2 = s[1] * 2f64.sqrt();
        let z3 = s[2] * 3f64.sqrt();
        p.psi_intercept + p.psi_sin * (PI * z2 / 2.0).sin() + p.psi_tanh * (2.0 * z3).tanh()
    }

    fn delta_row(&self, s: ArrayView1<f64>) -> f64 {
        self.params.delta_intercept + self.params.delta_tanh * s[0].tanh()
    }

    /// The win/tie/loss label for PB gain `eta` and uniform `u`.
    fn vote(&self, eta: f64, u: f64) -> f64 {
        let pi_tie = self.params.pi_tie;
        let win = (1.0 - pi_tie + eta) / 2.0;
        if u < win {
            1.0
        } else if u < win + pi_tie {
            0.0
        } else {
            -1.0
        }
    }
}

impl Scenario for BinaryPreference {
    fn name(&self) -> &'static str {
        "binary-preference"
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
        let uniforms = uniform_vector(rng, p.pool);
        let (test, gold, pref) = split_pool(rng, p.pool, p.n_test, p.n_gold);
        let psi = self.psi(x.view());
        let eta = self.eta(x.view());
        let gold_label = &psi + &gold_noise;
        let votes: Array1<f64> = eta
            .iter()
            .zip(uniforms.iter())
            .map(|(&e, &u)| self.vote(e, u))
            .collect();
        Drawn::from_split(&x, &gold_label, &votes, (&test, &gold, &pref)).into_simulated(self)
    }

    fn constants(&self) -> PopulationConstants {
        PopulationConstants {
            mean_psi: self.params.psi_intercept,
            mean_delta_pref: self.params.delta_intercept,
            mean_psi_pref: self.params.psi_intercept,
            mean_delta: self.params.delta_intercept,
            accuracy: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vote_probabilities_partition_the_unit_interval() {
        let scenario = BinaryPreference::new(BinaryPreferenceParams::default()).unwrap();
        // η = 0.2, π = 0.05: P(+1) = 0.575, P(0) = 0.05, P(−1) = 0.375
        assert_eq!(scenario.vote(0.2, 0.0), 1.0);
        assert_eq!(scenario.vote(0.2, 0.574), 1.0);
        assert_eq!(scenario.vote(0.2, 0.576), 0.0);
        assert_eq!(scenario.vote(0.2, 0.624), 0.0);
        assert_eq!(scenario.vote(0.2, 0.626), -1.0);
        assert_eq!(scenario.vote(0.2, 0.999_999), -1.0);
    }

    #[test]
    fn eta_bound_is_attained_in_the_limit() {
        let scenario = BinaryPreference::new(BinaryPreferenceParams {
            dim: 3,
            ..BinaryPreferenceParams::default()
        })
        .unwrap();
        assert!((scenario.eta_bound() - 0.865).abs() < 1e-12);
        // z₁ → +∞, z₂ = −1, z₃ → −∞ gives the infimum of η
        let x = ndarray::array![[30.0, -1.0 / 2f64.sqrt(), -30.0 / 3f64.sqrt()]];
        assert!((scenario.eta(x.view())[0] + 0.865).abs() < 1e-12);
    }
}
