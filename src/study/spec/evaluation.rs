//! The `[evaluation]` table of a study: the ρ and w grids, the routing-curve
//! cutoff and the inference settings, with their defaults and checks.

use serde::{Deserialize, Serialize};

use super::locate::Source;
use crate::error::Result;
use crate::meta::overlap::OverlapRule;
use crate::routing::Cutoff;

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvaluationSpec {
    /// Usage-ratio grid ρ (values in [0, 1], increasing).
    pub rho: Vec<f64>,
    /// Cost-weight grid w (values ≥ 0).
    pub w: Vec<f64>,
    /// Routing-curve cutoff.
    pub cutoff: Cutoff,
    /// Inference targets to estimate with intervals (default: none). The mean
    /// targets and the projection apply to DR-learner methods without scale
    /// normalization; `policy_value` to every estimator method.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inference: Vec<InferenceTarget>,
    /// Nominal level of the intervals.
    #[serde(skip_serializing_if = "is_default_level")]
    pub level: f64,
    /// The projection's features: an intercept and the first `k` columns of `s`.
    #[serde(skip_serializing_if = "is_default_columns")]
    pub projection_columns: usize,
    /// Rows of the fixed-seed truth sample (projection and policy-value truth).
    #[serde(skip_serializing_if = "is_default_truth_rows")]
    pub truth_rows: usize,
    /// Cost weight `w` of the routing policy `π = 1{ψ̂ > w}` in `policy_value`.
    #[serde(skip_serializing_if = "is_zero")]
    pub policy_cost: f64,
    /// Target population of the inference intervals: `"crump"` (default:
    /// the Crump–Hotz–Imbens–Mitnik overlap region, every query when overlap
    /// is adequate), `"none"` (the untrimmed population) or a threshold
    /// `α ∈ (0, 0.5)` (`meta::overlap`).
    #[serde(skip_serializing_if = "is_default_overlap")]
    pub overlap: OverlapRule,
    /// Reference methods (labels) of the paired-difference rows of the
    /// summary; default: `pooled` and `gs-only`, those the study has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_to: Option<Vec<String>>,
    /// A numeric grid parameter (e.g. `n_total`) against which the summary
    /// fits log–log convergence slopes of the MSEs (`study::rates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    /// Record, for every R- and DR-learner, `propensity_mse`: the mean over
    /// the pooled training rows of `(p̂ − p)²`, the out-of-fold propensity
    /// (before clipping) against the scenario's true propensity (the paper's
    /// Lemma 1 propensity; `docs/method.md` §10).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub propensity_error: bool,
}

/// An inference target of a study (`[evaluation] inference = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InferenceTarget {
    /// `θ_Δ = E[Δ | t = 0]`.
    ThetaDelta,
    /// `θ_ψ = E[ψ | t = 0]`.
    ThetaPsi,
    /// `E Δ` over the pooled law.
    MeanDelta,
    /// `E ψ` over the pooled law.
    MeanPsi,
    /// Best linear projection of Δ on `[1, s₁..s_k]` (HC0 and HC1).
    Projection,
    /// `E[(ψ − w)π̂ | t = 0]` of the router learned on half the data.
    PolicyValue,
}

impl InferenceTarget {
    /// The metric-name prefix.
    pub fn name(self) -> &'static str {
        match self {
            Self::ThetaDelta => "theta_delta",
            Self::ThetaPsi => "theta_psi",
            Self::MeanDelta => "mean_delta",
            Self::MeanPsi => "mean_psi",
            Self::Projection => "blp",
            Self::PolicyValue => "policy_value",
        }
    }
}

const DEFAULT_LEVEL: f64 = 0.95;
const DEFAULT_COLUMNS: usize = 1;
const DEFAULT_TRUTH_ROWS: usize = 50_000;

fn is_default_level(v: &f64) -> bool {
    *v == DEFAULT_LEVEL
}
fn is_default_columns(v: &usize) -> bool {
    *v == DEFAULT_COLUMNS
}
fn is_default_truth_rows(v: &usize) -> bool {
    *v == DEFAULT_TRUTH_ROWS
}
fn is_default_overlap(v: &OverlapRule) -> bool {
    *v == OverlapRule::Crump
}
fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Default for EvaluationSpec {
    fn default() -> Self {
        Self {
            rho: (0..=20).map(|i| i as f64 / 20.0).collect(),
            w: vec![0.0, 0.05, 0.1, 0.15, 0.2, 0.3],
            cutoff: Cutoff::None,
            inference: Vec::new(),
            level: DEFAULT_LEVEL,
            projection_columns: DEFAULT_COLUMNS,
            truth_rows: DEFAULT_TRUTH_ROWS,
            policy_cost: 0.0,
            overlap: OverlapRule::Crump,
            compare_to: None,
            rate: None,
            propensity_error: false,
        }
    }
}

pub(super) fn check_evaluation(evaluation: &EvaluationSpec, source: &Source) -> Result<()> {
    if evaluation.rho.is_empty()
        || evaluation.rho.iter().any(|r| !(0.0..=1.0).contains(r))
        || evaluation.rho.windows(2).any(|p| p[1] <= p[0])
    {
        return Err(source
            .error(
                "evaluation.rho",
                "rho must be a non-empty increasing list of values in [0, 1]",
            )
            .into());
    }
    if evaluation.w.is_empty() || evaluation.w.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(source
            .error(
                "evaluation.w",
                "w must be a non-empty list of finite values >= 0",
            )
            .into());
    }
    if !(evaluation.level > 0.0 && evaluation.level < 1.0) {
        return Err(source
            .error("evaluation.level", "level must lie in (0, 1)")
            .into());
    }
    if evaluation.truth_rows < 1000 {
        return Err(source
            .error("evaluation.truth_rows", "truth_rows must be at least 1000")
            .into());
    }
    if !evaluation.policy_cost.is_finite() || evaluation.policy_cost < 0.0 {
        return Err(source
            .error(
                "evaluation.policy_cost",
                "policy_cost must be finite and >= 0",
            )
            .into());
    }
    if evaluation.projection_columns == 0 {
        return Err(source
            .error(
                "evaluation.projection_columns",
                "the projection needs at least one feature column",
            )
            .into());
    }
    Ok(())
}
