//! Configuration of a Meta-Router estimator or baseline: the estimator, its
//! learners by stage, and the cross-fitting, propensity and refit options.
//!
//! Every option is documented in the table on [`MetaRouterConfig`]; study
//! files and the command line read the same struct (one parser, one set of
//! defaults).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::learners::{ForestParams, LearnerConfig, LogisticParams};

pub use super::normalize::Normalize;
use super::oracle::OracleError;

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
    /// The method's name in configuration files and reports
    /// ([`crate::config_file::ESTIMATOR_NAMES`]).
    pub fn name(self) -> &'static str {
        match self {
            Method::RLearner => "r-learner",
            Method::DrLearner => "dr-learner",
            Method::GsOnly => "gs-only",
            Method::PbOnly => "pb-only",
            Method::Pooled => "pooled",
            Method::MeanShift => "mean-shift",
        }
    }

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

/// How the DR-learner estimates `μ̂₁` and `μ̂₀`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DrOutcome {
    /// `μ̂₁` on the GS rows and `μ̂₀` on the PB rows (two models).
    #[default]
    Separate,
    /// One model of `o` on `[s, t]` over all rows; `μ̂₁(s) = f(s, 1)`,
    /// `μ̂₀(s) = f(s, 0)` (the authors' script).
    Joint,
}

/// The leaf rule of tree learners in the bias stage of the R- and
/// DR-learner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BiasLeaf {
    /// Every leaf must weigh at least `min_samples_leaf` rows of the stage's
    /// effective sample size: `min_weight_leaf ≥ min_samples_leaf / n_eff`.
    /// R-learner: `n_eff = (Σw)²/Σw²` over the stage's weights `(t − p̂)²`;
    /// DR-learner (unit weights, pseudo-outcomes whose residuals are scaled
    /// by `a = t/p̂ − (1−t)/(1−p̂)`): `n_eff = N / mean(a²)`, and boosting's
    /// `min_child_weight` is scaled by `N / n_eff` (see `meta::refit`). For
    /// equal weights this is the row rule itself.
    #[default]
    WeightAware,
    /// DR-learner with a forest bias learner: the weight-aware rule, and
    /// leaves that predict the normalised (Hájek) estimate of the leaf's
    /// bias — the plug-in's mean plus each arm's residuals averaged with
    /// their own inverse-propensity weights — instead of the mean of `φ`
    /// (see `learners::LeafRatios`).
    Normalized,
    /// DR-learner with a forest bias learner: trees split on the R-learner's
    /// loss (targets `(o − m̂)/(t − p̂)`, weights `(t − p̂)²`,
    /// `m̂ = p̂μ̂₁ + (1 − p̂)μ̂₀`, its weight-aware rule) and leaves predict
    /// the normalised estimate of `Normalized`.
    RSplit,
    /// The learner's own settings (row counts only, unless it sets
    /// `min_weight_leaf`): unstable when `κ` is small.
    Rows,
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
/// | `clip` | 1e-3 (`constant`), 0.05 (`model`, oracle) | clip `p̂` to `[ε, 1−ε]` | (0, 0.5) |
/// | `trim` | 0 (off) | drop rows with `p̂ ∉ [τ, 1−τ]` from the bias stage | [0, 0.5) |
/// | `normalize` | `none` | scale normalization | [`Normalize`] |
/// | `pref_weight` | 1 | weight λ of corrected PB rows in the refit | ≥ 0 |
/// | `assemble` | `refit` | refit or plug-in | [`Assemble`] |
/// | `correction` | `auto` | leave-own-row-out PB corrections | [`Correction`] |
/// | `cross_fit` | `true` | nuisances out of fold (`false`: fit and predicted on all rows, the authors' script) | |
/// | `outcome_oob` | `false` | outcome models `μ̂`, `μ̂₁`, `μ̂₀` from one bagged forest's out-of-bag predictions instead of K fold fits (needs a forest outcome learner with bootstrap, `cross_fit = true` and, for DR, `dr_outcome = "separate"`; no AIPW inference) | |
/// | `dr_outcome` | `separate` | DR outcome models | [`DrOutcome`] |
/// | `delta_clip` | none | clip `Δ̂` to `[−a, a]` (the authors' script: 1.2) | > 0 |
/// | `bias_leaf` | `weight-aware` | leaf rule of tree bias learners in the R- and DR-learner | [`BiasLeaf`] |
/// | `nuisances` | `estimated` | cross-fitted nuisances, or the true ones (simulation only) | [`Nuisances`] |
/// | `oracle_error` | none | with `nuisances = "oracle"`: the truth plus errors of size `outcome·N^(−outcome_rate)` (outcome means) and `propensity·N^(−propensity_rate)` (logit of `p`), a study of how nuisance errors reach `Δ̂` ([`OracleError`]) | scales finite, rates ≥ 0 |
/// | `truncate` | `none` | truncated Meta-Router: the bias stage only on the overlap region `{α ≤ p̂ ≤ 1 − α}` (`"crump"`, or a threshold α), PB rows outside corrected by `Δ̂` extrapolated from it ([`super::overlap`]) | `none`, `crump`, (0, 0.5) |
///
/// # The clipping level ε
///
/// Unset, `clip` depends on the propensity mode ([`MetaRouterConfig::clip_level`]):
/// [`DEFAULT_CLIP_CONSTANT`] = 1e-3 for `constant` (the clip only guards
/// against `κ` itself being extreme) and [`DEFAULT_CLIP_MODEL`] = 0.05 for an
/// estimated propensity. A value set in Rust or in a study file
/// (`clip = 0.001`) is used as written.
///
/// The trade-off of an estimated `p̂`: the DR-learner's pseudo-outcome weighs
/// the residual of a GS row by `1/p̂` and of a PB row by `1/(1 − p̂)`, so the
/// clip bounds every weight by `1/ε`. A small ε keeps the bias stage unbiased
/// where the true `p` is small but lets a model that extrapolates (a degree-2
/// logistic, a clamped kernel regression, both reach `p̂ ≈ 0` or 1 in the
/// tails) put weights of up to `1/ε = 1000` on a handful of rows. Measured on
/// Nie & Wager setups A and C (N = 1000, d = 6, σ = 1, ridge-poly2 outcome and
/// bias models, kernel-ridge propensity, 50 replicates; `simulations/clip_sweep.toml`,
/// `results/clip_sweep`), the mean MSE of `Δ̂` is 15 ± 4.6 (A) and 1.4 ± 0.4
/// (C) at ε = 1e-3, 0.19 and 0.046 at ε = 0.01, and 0.058 and 0.025 at
/// ε = 0.05; with a degree-2 logistic propensity ε = 0.1 lowers it by another
/// 0.008 ± 0.003 on A and not on C (the grid is in `docs/method.md` §2.2;
/// `tests/dr_safety.rs` checks the effect on setup A).
/// A larger ε biases `φ` only on rows
/// whose true `p` is below ε (or above `1 − ε`), where the weight is capped
/// at `1/ε` instead of `1/p`; with `ε = 0.05` the cap is 20. The R-learner's
/// weights `(t − p̂)²` are bounded by 1 whatever ε, and it shares the default
/// so that both learners see the same `p̂`.
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
    /// Clipping level ε for `p̂`; `None` (unset) means the default of the
    /// propensity mode ([`MetaRouterConfig::clip_level`]).
    pub clip: Option<f64>,
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
    /// Nuisances out of fold (default) or in sample.
    pub cross_fit: bool,
    /// Outcome nuisances from the out-of-bag predictions of one forest fit
    /// instead of one fit per fold (`docs/method.md` §2.2).
    pub outcome_oob: bool,
    /// DR outcome models: separate or joint.
    pub dr_outcome: DrOutcome,
    /// Clip `Δ̂` to `[−a, a]` (none by default).
    pub delta_clip: Option<f64>,
    /// Leaf rule of tree bias learners in the R-learner's bias stage.
    pub bias_leaf: BiasLeaf,
    /// Estimated nuisances (default) or the true ones (simulation only).
    pub nuisances: Nuisances,
    /// Truncation of the bias stage to an overlap region (`none`: off).
    #[serde(skip_serializing_if = "is_no_truncation")]
    pub truncate: OverlapRule,
    /// A controlled error of the oracle nuisances (`nuisances = "oracle"`
    /// only; a study of error rates, [`OracleError`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle_error: Option<OracleError>,
}

fn is_no_truncation(rule: &OverlapRule) -> bool {
    *rule == OverlapRule::None
}

/// Default clipping level ε of a constant propensity `p̂ ≡ κ`.
pub const DEFAULT_CLIP_CONSTANT: f64 = 1e-3;

/// Default clipping level ε of an estimated propensity (`propensity =
/// "model"`): caps the DR-learner's inverse-propensity weights at 20 (the
/// trade-off is on [`MetaRouterConfig`]).
pub const DEFAULT_CLIP_MODEL: f64 = 0.05;

/// Where the nuisances `p̂`, `μ̂`, `μ̂₁`, `μ̂₀` come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nuisances {
    /// Cross-fitted estimates (the method).
    #[default]
    Estimated,
    /// The true propensity and outcome means of a simulated scenario
    /// ([`OracleNuisances`](super::OracleNuisances), fitted by
    /// [`MetaRouterConfig::fit_with_oracle`]): a benchmark of the bias stage
    /// alone. `propensity`, `clip` and the outcome learner are not used.
    Oracle,
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

impl FitSeeds {
    /// The fold and learner seeds of a fit with master seed `seed`: the
    /// `folds` and `learner` streams of [`crate::rng::seed_for`] at grid
    /// point 0, replicate 0 (what `meta-router fit --seed` uses).
    pub fn from_seed(seed: u64) -> Self {
        use crate::rng::{seed_for, Purpose};
        Self {
            folds: seed_for(seed, 0, 0, Purpose::Folds),
            learner: seed_for(seed, 0, 0, Purpose::Learner),
        }
    }
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
            clip: None,
            trim: 0.0,
            normalize: Normalize::None,
            pref_weight: 1.0,
            assemble: Assemble::Refit,
            correction: Correction::Auto,
            cross_fit: true,
            outcome_oob: false,
            dr_outcome: DrOutcome::Separate,
            delta_clip: None,
            bias_leaf: BiasLeaf::WeightAware,
            nuisances: Nuisances::Estimated,
            truncate: OverlapRule::None,
            oracle_error: None,
        }
    }

    /// The authors' illustrative script behind the paper's Fig. 1(a), for
    /// replication (not a recommended setting): every learner the paper's
    /// forest, nuisances fit and predicted in sample, the propensity a forest
    /// *regressor* on `t` clipped to `[0.1, 0.9]` (R) or `[0.05, 0.95]` (DR), the
    /// DR outcome model one forest on `[s, t]`, DR rows with `p̂(1 − p̂) ≤ 0.05`
    /// dropped from the bias stage, `Δ̂` clipped to `[−1.2, 1.2]`, in-sample
    /// corrections and row-count leaves. (Its routing curves also stop at
    /// `#{ψ̂ > 0}`: the evaluation setting `cutoff = "positive"`.)
    pub fn paper_script(method: Method) -> Self {
        let forest = LearnerConfig::Forest(ForestParams::paper());
        let dr = method == Method::DrLearner;
        Self {
            learner: forest.clone(),
            bias_learner: Some(LearnerConfig::Forest(ForestParams::paper_bias_stage())),
            propensity: PropensityMode::Model,
            propensity_learner: forest,
            clip: Some(if dr { 0.05 } else { 0.1 }),
            // p̂(1 − p̂) ≤ 0.05  ⇔  p̂ ∉ (τ, 1 − τ), τ = (1 − √0.8)/2.
            trim: if dr { (1.0 - 0.8f64.sqrt()) / 2.0 } else { 0.0 },
            correction: Correction::InSample,
            cross_fit: false,
            dr_outcome: if dr {
                DrOutcome::Joint
            } else {
                DrOutcome::Separate
            },
            delta_clip: Some(1.2),
            bias_leaf: BiasLeaf::Rows,
            ..Self::new(method)
        }
    }

    /// Sets one learner for every role.
    pub fn with_learner(mut self, learner: LearnerConfig) -> Self {
        self.learner = learner;
        self
    }

    /// The clipping level ε in use: `clip` when set, else
    /// [`DEFAULT_CLIP_CONSTANT`] for a constant propensity and
    /// [`DEFAULT_CLIP_MODEL`] for an estimated one or the oracle's true `p`.
    pub fn clip_level(&self) -> f64 {
        self.clip
            .unwrap_or(match (self.nuisances, self.propensity) {
                (Nuisances::Estimated, PropensityMode::Constant) => DEFAULT_CLIP_CONSTANT,
                _ => DEFAULT_CLIP_MODEL,
            })
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
        let clip = self.clip_level();
        if !(clip > 0.0 && clip < 0.5) {
            return Err(Error::param(
                "clip",
                clip,
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
        if let Some(bound) = self.delta_clip {
            if !(bound.is_finite() && bound > 0.0) {
                return Err(Error::param(
                    "delta_clip",
                    bound,
                    "the clipping bound of Δ̂ must be finite and > 0",
                ));
            }
        }
        self.validate_options()?;
        for (_, learner) in self.learner_roles() {
            learner.validate()?;
        }
        Ok(())
    }

    /// The options that apply to some methods or nuisances only
    /// (`truncate`, `oracle_error`, `outcome_oob`): refused, naming the key,
    /// where they do not apply.
    fn validate_options(&self) -> Result<()> {
        self.truncate.validate("truncate")?;
        if matches!(self.bias_leaf, BiasLeaf::Normalized | BiasLeaf::RSplit)
            && !(self.method == Method::DrLearner
                && matches!(self.bias(), LearnerConfig::Forest(_)))
        {
            return Err(Error::param(
                "bias_leaf",
                if self.bias_leaf == BiasLeaf::RSplit {
                    "r-split"
                } else {
                    "normalized"
                },
                "normalised leaves apply to the DR-learner with a forest bias learner",
            ));
        }
        if self.truncate != OverlapRule::None {
            let why = if !self.method.is_meta() {
                Some("only the R- and DR-learners have a bias stage to truncate")
            } else if self.nuisances == Nuisances::Oracle {
                Some("the oracle nuisances fit no propensity model to define the region with")
            } else if self.propensity == PropensityMode::Constant {
                Some(
                    "a constant propensity p̂ ≡ κ puts every query in the overlap region; set \
                     propensity = \"model\"",
                )
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::param("truncate", self.truncate.label(), why));
            }
        }
        if let Some(error) = &self.oracle_error {
            if self.nuisances != Nuisances::Oracle || !self.method.is_meta() {
                return Err(Error::param(
                    "oracle_error",
                    "set",
                    "a controlled nuisance error perturbs the true nuisances: it needs an R- or \
                     DR-learner with nuisances = \"oracle\"",
                ));
            }
            error.validate()?;
        }
        if self.outcome_oob {
            let bagged = matches!(self.outcome(), LearnerConfig::Forest(f) if f.bootstrap);
            let why = if !self.method.is_meta() {
                Some("only the R- and DR-learners have outcome nuisances")
            } else if self.nuisances == Nuisances::Oracle {
                Some("the oracle nuisances fit no outcome model")
            } else if !bagged {
                Some("out-of-bag outcome predictions need a forest outcome learner with bootstrap = true")
            } else if !self.cross_fit {
                Some("cross_fit = false fits the nuisances in sample; out-of-bag predictions are its opposite: set one of the two")
            } else if self.method == Method::DrLearner && self.dr_outcome == DrOutcome::Joint {
                Some("dr_outcome = \"joint\" predicts both arms of every row; out-of-bag predictions exist only for the observed arm: use dr_outcome = \"separate\"")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::param("outcome_oob", true, why));
            }
        }
        Ok(())
    }

    /// Settings that are valid but known to behave badly, with the reason
    /// (the command line prints them before a study runs).
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let flexible = |l: &LearnerConfig| {
            matches!(
                l,
                LearnerConfig::Forest(_)
                    | LearnerConfig::Boosting(_)
                    | LearnerConfig::KernelRidge(_)
            )
        };
        if self.method == Method::RLearner && self.bias_leaf == BiasLeaf::Rows {
            if let LearnerConfig::Forest(forest) = self.bias() {
                if forest.min_weight_leaf == 0.0 {
                    out.push(
                        "bias_leaf = \"rows\" with a forest in the R-learner's bias stage: a leaf of a \
                         few PB rows (weight κ² each, targets ≈ 1/κ times their residual) has \
                         variance σ²/(κ²·rows), and Δ̂ blows up where such leaves form (measured: \
                         MSE of Δ̂ 14 at n_gold = 100); the default `weight-aware` prevents it"
                            .into(),
                    );
                }
            }
        }
        if self.method.is_meta() {
            if let LearnerConfig::Boosting(boosting) = self.bias() {
                if boosting.learning_rate >= 0.3 && boosting.max_depth >= 6 {
                    out.push(format!(
                        "boosting with learning_rate = {} and max_depth = {} (XGBoost's defaults) in \
                         the bias stage: the pseudo-outcomes are noisy and carry about n_gold rows' \
                         worth of weight, and such trees fit their noise (measured, healthbench-like \
                         n_gold = 100: R-learner NEG area 0.01 with the defaults, 0.51 with \
                         learning_rate = 0.1, max_depth = 3 in every stage); prefer \
                         learning_rate ≤ 0.1 and max_depth ≤ 3",
                        boosting.learning_rate, boosting.max_depth
                    ));
                }
            }
        }
        if self.method.is_meta() && self.correction == Correction::InSample && flexible(self.bias())
        {
            out.push(
                "correction = \"in-sample\" with a flexible bias learner: each PB label is corrected \
                 by a prediction that has seen its own pseudo-outcome (noise inflated by about \
                 1/κ), which leaks into the ψ refit; `auto` uses out-of-bag or out-of-fold \
                 predictions"
                    .into(),
            );
        }
        if self.method == Method::DrLearner
            && self.propensity == PropensityMode::Model
            && self.clip_level() < 0.01
        {
            out.push(format!(
                "a DR-learner with an estimated propensity clipped at ε = {}: the pseudo-outcomes \
                 weigh residuals by up to 1/ε = {:.0}, and where p̂ reaches the clip the bias stage \
                 is dominated by a few rows (measured on Nie & Wager setup A with a kernel-ridge \
                 propensity: mean MSE of Δ̂ 15 at ε = 0.001, 0.058 at ε = 0.05, results/clip_sweep); \
                 the default for an estimated propensity is {DEFAULT_CLIP_MODEL}",
                self.clip_level(),
                1.0 / self.clip_level()
            ));
        }
        out
    }
}

/// How the overlap threshold `α` is chosen ([`super::overlap`]). In TOML: `"none"`,
/// `"crump"` or a number `α ∈ (0, 0.5)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum OverlapRule {
    /// Every query is inside (the untrimmed population).
    #[default]
    None,
    /// Crump, Hotz, Imbens & Mitnik (2009): `α` from the data.
    Crump,
    /// A fixed `α ∈ (0, 0.5)`.
    Threshold(f64),
}

impl OverlapRule {
    /// The rule's name in messages and records: `none`, `crump` or the number.
    pub fn label(&self) -> String {
        match self {
            OverlapRule::None => "none".into(),
            OverlapRule::Crump => "crump".into(),
            OverlapRule::Threshold(a) => format!("{a}"),
        }
    }

    /// Checks a threshold's range; `key` names the setting in the error.
    pub fn validate(&self, key: &str) -> Result<()> {
        if let OverlapRule::Threshold(a) = *self {
            if !(a > 0.0 && a < 0.5) {
                return Err(Error::param(
                    key,
                    a,
                    "an overlap threshold α must lie in (0, 0.5) (or use \"crump\" or \"none\")",
                ));
            }
        }
        Ok(())
    }

    /// Parses `none`, `crump` or a number (the command line's form).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "none" => Ok(OverlapRule::None),
            "crump" => Ok(OverlapRule::Crump),
            other => other
                .parse::<f64>()
                .ok()
                .filter(|a| *a > 0.0 && *a < 0.5)
                .map(OverlapRule::Threshold)
                .ok_or_else(|| {
                    format!(
                        "`{}`: expected none, crump or a threshold in (0, 0.5)",
                        other.chars().take(40).collect::<String>()
                    )
                }),
        }
    }
}

impl Serialize for OverlapRule {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            OverlapRule::None => serializer.serialize_str("none"),
            OverlapRule::Crump => serializer.serialize_str("crump"),
            OverlapRule::Threshold(a) => serializer.serialize_f64(*a),
        }
    }
}

impl<'de> Deserialize<'de> for OverlapRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Name(String),
            Number(f64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Name(name) => match name.as_str() {
                "none" => Ok(OverlapRule::None),
                "crump" => Ok(OverlapRule::Crump),
                other => Err(serde::de::Error::custom(format!(
                    "unknown overlap rule `{}`: expected \"none\", \"crump\" or a threshold in (0, 0.5)",
                    other.chars().take(40).collect::<String>()
                ))),
            },
            Raw::Number(a) if a > 0.0 && a < 0.5 => Ok(OverlapRule::Threshold(a)),
            Raw::Number(a) => Err(serde::de::Error::custom(format!(
                "overlap threshold {a}: α must lie in (0, 0.5)"
            ))),
        }
    }
}
