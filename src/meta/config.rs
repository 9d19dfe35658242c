//! Configuration of a Meta-Router estimator or baseline: the estimator, its
//! learners by stage, and the cross-fitting, propensity and refit options.
//!
//! Every option is documented in the table on [`MetaRouterConfig`]; study
//! files and the command line read the same struct (one parser, one set of
//! defaults).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::learners::{LearnerConfig, LogisticParams};

pub use super::normalize::Normalize;

/// Which estimator to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Meta-Router with the R-learner bias stage.
    #[serde(alias = "r")]
    RLearner,
    /// Meta-Router with the DR-learner bias stage.
    #[serde(alias = "dr")]
    DrLearner,
    /// Final learner on GS rows only.
    GsOnly,
    /// Final learner on PB rows only.
    PbOnly,
    /// Final learner on GS rows and raw PB rows (current practice).
    Pooled,
    /// Pooled after shifting PB labels by `r̄ − ȳ` (linear debiasing).
    MeanShift,
}

impl Method {
    /// Whether the method estimates the bias Δ.
    pub fn is_meta(self) -> bool {
        matches!(self, Method::RLearner | Method::DrLearner)
    }
}

/// How the propensity `p(s)` is estimated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PropensityMode {
    /// `p ≡ κ = n/N`: valid when GS and PB queries are a random split of one pool.
    #[default]
    Constant,
    /// Out-of-fold probability model `propensity_learner` fit on `(s, t)`.
    Model,
}

/// How the PB-label correction `Δ̂(q'_j)` avoids row `j`'s own pseudo-outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Correction {
    /// Out-of-bag predictions when the bias model provides them, else out-of-fold.
    #[default]
    Auto,
    /// Refit the bias stage K times, each without one fold, and predict that fold.
    OutOfFold,
    /// Out-of-bag predictions of a bagged bias model (an error for other models).
    OutOfBag,
    /// In-sample predictions of the bias model (the authors' script).
    InSample,
}

/// How ψ̂ is assembled from the bias stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assemble {
    /// Refit the final learner on GS rows and corrected PB rows.
    #[default]
    Refit,
    /// `ψ̂ = η̂ + Δ̂` with `η̂` the final learner on PB rows.
    Plugin,
}

/// Configuration of a Meta-Router estimator or baseline.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `method` | — | estimator | [`Method`] |
/// | `learner` | ridge (linear basis, leave-one-out penalty) | every role without its own learner | [`LearnerConfig`] |
/// | `outcome_learner` | `learner` | `μ̂`, `μ̂₁`, `μ̂₀` | |
/// | `bias_learner` | `learner` | bias stage `Δ̂` | |
/// | `final_learner` | `learner` | ψ refit, `η̂`, baselines | |
/// | `propensity` | `constant` | `p̂` | `constant`, `model` |
/// | `propensity_learner` | logistic | `p̂` when `model` | probability model |
/// | `folds` | 5 | cross-fitting folds K | ≥ 2 |
/// | `clip` | 1e-3 | clip `p̂` to `[ε, 1−ε]` | (0, 0.5) |
/// | `trim` | 0 (off) | drop rows with `p̂ ∉ [τ, 1−τ]` from the bias stage | [0, 0.5) |
/// | `normalize` | `none` | scale normalization | [`Normalize`] |
/// | `pref_weight` | 1 | weight λ of corrected PB rows in the refit | ≥ 0 |
/// | `assemble` | `refit` | refit or plug-in | [`Assemble`] |
/// | `correction` | `auto` | leave-own-row-out PB corrections | [`Correction`] |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaRouterConfig {
    /// The estimator.
    pub method: Method,
    /// Learner for every role that has no learner of its own.
    pub learner: LearnerConfig,
    /// Outcome-model learner (`μ̂`, `μ̂₁`, `μ̂₀`).
    pub outcome_learner: Option<LearnerConfig>,
    /// Bias-stage learner.
    pub bias_learner: Option<LearnerConfig>,
    /// Final (ψ) learner, also used by baselines and for `η̂`.
    pub final_learner: Option<LearnerConfig>,
    /// Propensity estimate.
    pub propensity: PropensityMode,
    /// Probability model used when `propensity = "model"`.
    pub propensity_learner: LearnerConfig,
    /// Number of cross-fitting folds.
    pub folds: usize,
    /// Clipping level ε for `p̂`.
    pub clip: f64,
    /// Trimming level τ (0 = off).
    pub trim: f64,
    /// Scale normalization.
    pub normalize: Normalize,
    /// Weight λ of corrected PB rows in the ψ refit.
    pub pref_weight: f64,
    /// Refit or plug-in.
    pub assemble: Assemble,
    /// How PB corrections avoid their own pseudo-outcome.
    pub correction: Correction,
}

impl Default for MetaRouterConfig {
    fn default() -> Self {
        Self::new(Method::RLearner)
    }
}

/// Seeds of one fit: the fold assignment and the learners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FitSeeds {
    /// Seed of the `folds` stream.
    pub folds: u64,
    /// Seed from which every learner's seed is derived.
    pub learner: u64,
}

impl MetaRouterConfig {
    /// Defaults (see the table on [`MetaRouterConfig`]) for `method`.
    pub fn new(method: Method) -> Self {
        Self {
            method,
            learner: LearnerConfig::default(),
            outcome_learner: None,
            bias_learner: None,
            final_learner: None,
            propensity: PropensityMode::Constant,
            propensity_learner: LearnerConfig::Logistic(LogisticParams::default()),
            folds: 5,
            clip: 1e-3,
            trim: 0.0,
            normalize: Normalize::None,
            pref_weight: 1.0,
            assemble: Assemble::Refit,
            correction: Correction::Auto,
        }
    }

    /// Sets one learner for every role.
    pub fn with_learner(mut self, learner: LearnerConfig) -> Self {
        self.learner = learner;
        self
    }

    /// The learner of the outcome models `μ̂`, `μ̂₁`, `μ̂₀`.
    pub fn outcome(&self) -> &LearnerConfig {
        self.outcome_learner.as_ref().unwrap_or(&self.learner)
    }
    /// The learner of the bias stage `Δ̂`.
    pub fn bias(&self) -> &LearnerConfig {
        self.bias_learner.as_ref().unwrap_or(&self.learner)
    }
    /// The learner of the ψ refit, of `η̂` and of the baselines.
    pub fn final_stage(&self) -> &LearnerConfig {
        self.final_learner.as_ref().unwrap_or(&self.learner)
    }

    /// Every learner configuration as written, with its key: `learner`, then
    /// `outcome_learner`, `bias_learner`, `final_learner` where set, and
    /// `propensity_learner` when `propensity = "model"`.
    pub fn learner_roles(&self) -> Vec<(&'static str, &LearnerConfig)> {
        let mut roles = vec![("learner", &self.learner)];
        for (key, learner) in [
            ("outcome_learner", &self.outcome_learner),
            ("bias_learner", &self.bias_learner),
            ("final_learner", &self.final_learner),
        ] {
            if let Some(learner) = learner {
                roles.push((key, learner));
            }
        }
        if self.propensity == PropensityMode::Model {
            roles.push(("propensity_learner", &self.propensity_learner));
        }
        roles
    }

    /// Checks every parameter range (no data needed).
    pub fn validate(&self) -> Result<()> {
        if self.folds < 2 {
            return Err(Error::param(
                "folds",
                self.folds,
                "cross-fitting needs at least 2 folds",
            ));
        }
        if !(self.clip > 0.0 && self.clip < 0.5) {
            return Err(Error::param(
                "clip",
                self.clip,
                "the clipping level ε must lie in (0, 0.5)",
            ));
        }
        if !(self.trim >= 0.0 && self.trim < 0.5) {
            return Err(Error::param(
                "trim",
                self.trim,
                "the trimming level must lie in [0, 0.5)",
            ));
        }
        if !(self.pref_weight >= 0.0 && self.pref_weight.is_finite()) {
            return Err(Error::param(
                "pref_weight",
                self.pref_weight,
                "the PB weight λ must be finite and >= 0",
            ));
        }
        for (_, learner) in self.learner_roles() {
            learner.validate()?;
        }
        Ok(())
    }
}
