//! Meta-Router estimators: R- and DR-learners of the PB bias, the integrative ψ
//! refit, and the baselines (DESIGN.md §2.1–2.2).
//!
//! # Model
//! GS rows `r_i = ψ(q_i) + ε_i`, PB rows `y_j = η(q'_j) + ε'_j`; the bias
//! `Δ = ψ − η` is the conditional average treatment effect of the evaluation
//! mechanism `t` (1 = GS, 0 = PB) in the pooled data, with propensity
//! `p(s) = P(t = 1 | s)`.
//!
//! # Algorithm (Meta-Router, paper Algorithm 1; steps as in DESIGN.md §2.1)
//! 0. scale normalization `c` ([`Normalize`]); GS labels become `c·r`;
//! 1. stratified K-fold assignment ([`folds::stratified_folds`]);
//! 2. out-of-fold nuisances: propensity (constant `κ = n/N` or a probability
//!    model) clipped to `[ε, 1 − ε]`; the R-learner's `μ̂ = E[o | s]`, the
//!    DR-learner's `μ̂₁` (GS rows) and `μ̂₀` (PB rows);
//! 3. bias stage on all rows (less trimmed ones): [`pseudo::r_learner_targets`]
//!    or [`pseudo::dr_learner_targets`], giving `Δ̂`;
//! 4. refit ψ on `{(q_i, c·r_i)} ∪ {(q'_j, y_j + Δ̂₋ⱼ(q'_j))}` with PB weight λ,
//!    where `Δ̂₋ⱼ` does not contain row `j`'s own pseudo-outcome ([`Correction`]);
//!    or `plugin`: `ψ̂ = η̂ + Δ̂`; the result is divided by `c`.
//!
//! Baselines: `gs-only`, `pb-only`, `pooled` (GS ∪ raw PB) and `mean-shift`
//! (pooled after `y ← y + r̄ − ȳ`) fit the final learner once; scale
//! normalization does not apply to them.
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), Meta-Router, arXiv 2509.25535. Nie & Wager
//! (2021), Biometrika 108(2). Kennedy (2023), EJS 17(2). Chernozhukov et al.
//! (2018), Double/debiased machine learning, Econometrics Journal 21(1).
//!
//! # Example
//! ```
//! use ndarray::{Array1, Array2};
//! use meta_router::data::TrainingData;
//! use meta_router::meta::{FitSeeds, Method, MetaRouterConfig};
//!
//! // ψ(s) = s, PB labels biased by +0.5 everywhere.
//! let gold_x = Array2::from_shape_fn((40, 1), |(i, _)| i as f64 / 40.0);
//! let gold_y = gold_x.column(0).to_owned();
//! let pref_x = Array2::from_shape_fn((200, 1), |(i, _)| i as f64 / 200.0);
//! let pref_y = pref_x.column(0).mapv(|s| s - 0.5);
//! let data = TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap();
//! let config = MetaRouterConfig::new(Method::RLearner);
//! let router = config.fit(&data, FitSeeds { folds: 1, learner: 2 }).unwrap();
//! let delta = router.predict_delta(Array2::from_elem((1, 1), 0.3).view()).unwrap();
//! assert!((delta[0] - 0.5).abs() < 0.02);
//! ```

pub mod folds;
pub mod normalize;
pub mod pseudo;

use std::collections::BTreeMap;

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::learners::{LearnerConfig, LogisticParams, Predict};
use crate::rng::derive_seed;

pub use normalize::Normalize;

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
/// | `learner` | ridge (GCV, linear) | every role without its own learner | [`LearnerConfig`] |
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

/// Learner roles, used to derive learner seeds and name diagnostics.
#[derive(Debug, Clone, Copy)]
enum Role {
    Propensity = 1,
    Outcome = 2,
    OutcomeGold = 3,
    OutcomePref = 4,
    Bias = 5,
    BiasFold = 6,
    Final = 7,
    Eta = 8,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::Propensity => "propensity",
            Role::Outcome => "outcome",
            Role::OutcomeGold => "outcome_gold",
            Role::OutcomePref => "outcome_pref",
            Role::Bias => "bias",
            Role::BiasFold => "bias_fold",
            Role::Final => "final",
            Role::Eta => "eta",
        }
    }
}

/// Non-fatal facts of a fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics {
    /// `κ = n/N`.
    pub kappa: f64,
    /// Number of folds used (0 for baselines).
    pub folds: usize,
    /// Rows whose `p̂` was clipped.
    pub clipped: usize,
    /// Rows dropped from the bias stage by trimming.
    pub trimmed: usize,
    /// Scale constant `c`.
    pub scale: f64,
    /// Smallest and largest `p̂` before clipping (NaN-free; `κ` for constant).
    pub propensity_range: (f64, f64),
    /// The correction actually used (meta-learners with `refit`).
    pub correction: Option<Correction>,
    /// PB rows whose out-of-bag correction fell back to the full prediction
    /// (never out of bag, or trimmed from the bias stage).
    pub out_of_bag_fallback: usize,
    /// Learner diagnostics, named `role.name` (for out-of-fold fits the last
    /// fold's value is kept under `role.name` and their mean under `role.name.mean`).
    pub learners: BTreeMap<String, f64>,
}

impl Diagnostics {
    /// Flat name → value map for study records.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut map = self.learners.clone();
        map.insert("kappa".into(), self.kappa);
        map.insert("folds".into(), self.folds as f64);
        map.insert("clipped".into(), self.clipped as f64);
        map.insert("trimmed".into(), self.trimmed as f64);
        map.insert("scale".into(), self.scale);
        map.insert("propensity_min".into(), self.propensity_range.0);
        map.insert("propensity_max".into(), self.propensity_range.1);
        if self.correction.is_some() {
            map.insert(
                "out_of_bag_fallback".into(),
                self.out_of_bag_fallback as f64,
            );
        }
        map
    }

    fn record(&mut self, role: Role, model: &dyn Predict) {
        for (name, value) in model.diagnostics() {
            self.learners
                .insert(format!("{}.{}", role.label(), name), value);
        }
    }

    fn record_folds(&mut self, role: Role, per_fold: &[Vec<(String, f64)>]) {
        let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
        for fold in per_fold {
            for (name, value) in fold {
                let entry = sums
                    .entry(format!("{}.{}.mean", role.label(), name))
                    .or_default();
                entry.0 += value;
                entry.1 += 1;
            }
        }
        for (name, (sum, count)) in sums {
            self.learners.insert(name, sum / count as f64);
        }
    }
}

/// Out-of-fold nuisances and bias-stage targets, pooled order (GS rows first).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossFitted {
    /// Fold of every pooled row.
    pub folds: Vec<usize>,
    /// `t_k`.
    pub treatment: Array1<f64>,
    /// `o_k` (GS labels scaled by `c`).
    pub outcome: Array1<f64>,
    /// Clipped out-of-fold `p̂_k`.
    pub propensity: Array1<f64>,
    /// R-learner: out-of-fold `μ̂(s_k)`.
    pub mean_outcome: Option<Array1<f64>>,
    /// DR-learner: out-of-fold `μ̂₁(s_k)`.
    pub mean_gold: Option<Array1<f64>>,
    /// DR-learner: out-of-fold `μ̂₀(s_k)`.
    pub mean_pref: Option<Array1<f64>>,
    /// Bias-stage targets (`z_k` or `φ_k`).
    pub pseudo_outcome: Array1<f64>,
    /// Bias-stage weights (`(t_k − p̂_k)²` or 1).
    pub weights: Array1<f64>,
    /// Whether row k entered the bias stage (false when trimmed).
    pub kept: Vec<bool>,
}

#[derive(Debug)]
enum PsiModel {
    Single(Box<dyn Predict>),
    Plugin(Box<dyn Predict>),
}

/// A fitted router: predicts ψ̂ (GS units) and, for meta-learners, Δ̂.
#[derive(Debug)]
pub struct FittedRouter {
    method: Method,
    psi: PsiModel,
    delta: Option<Box<dyn Predict>>,
    scale: f64,
    dim: usize,
    cross_fitted: Option<CrossFitted>,
    diagnostics: Diagnostics,
}

impl FittedRouter {
    /// The estimator that produced this router.
    pub fn method(&self) -> Method {
        self.method
    }

    /// `ψ̂(x)` in GS units.
    #[track_caller]
    pub fn predict_psi(&self, x: ArrayView2<f64>) -> Array1<f64> {
        assert_eq!(
            x.ncols(),
            self.dim,
            "predict_psi: wrong number of feature columns"
        );
        let raw = match &self.psi {
            PsiModel::Single(model) => model.predict(x),
            PsiModel::Plugin(eta) => {
                let delta = self
                    .delta
                    .as_ref()
                    .expect("plugin routers hold a bias model");
                eta.predict(x) + delta.predict(x)
            }
        };
        raw / self.scale
    }

    /// `Δ̂(x)` on the PB scale (an estimate of `c·ψ − η`; of `Δ` when `c = 1`),
    /// for meta-learners; `None` for baselines.
    #[track_caller]
    pub fn predict_delta(&self, x: ArrayView2<f64>) -> Option<Array1<f64>> {
        assert_eq!(
            x.ncols(),
            self.dim,
            "predict_delta: wrong number of feature columns"
        );
        self.delta.as_ref().map(|model| model.predict(x))
    }

    /// Scale constant `c`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Out-of-fold nuisances and pseudo-outcomes (meta-learners only).
    pub fn cross_fitted(&self) -> Option<&CrossFitted> {
        self.cross_fitted.as_ref()
    }

    /// Non-fatal facts of the fit.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
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

    /// Fits the estimator, drawing folds from `seeds.folds`.
    pub fn fit(&self, data: &TrainingData, seeds: FitSeeds) -> Result<FittedRouter> {
        self.validate()?;
        if !self.method.is_meta() {
            return self.fit_baseline(data, seeds.learner);
        }
        let assignment =
            folds::stratified_folds(data.n_gold(), data.n_pref(), self.folds, seeds.folds)?;
        self.fit_meta(data, assignment, seeds.learner)
    }

    /// Fits a meta-learner with a given fold assignment (pooled order; values
    /// `0..K`). The `folds` setting is ignored in favour of the assignment.
    pub fn fit_with_folds(
        &self,
        data: &TrainingData,
        assignment: &[usize],
        learner_seed: u64,
    ) -> Result<FittedRouter> {
        self.validate()?;
        if !self.method.is_meta() {
            return self.fit_baseline(data, learner_seed);
        }
        folds::check_assignment(assignment, data.n_gold(), data.n_pref())?;
        self.fit_meta(data, assignment.to_vec(), learner_seed)
    }

    fn fit_baseline(&self, data: &TrainingData, seed: u64) -> Result<FittedRouter> {
        let learner = self.final_stage().learner();
        let (x, y) = match self.method {
            Method::GsOnly => (data.gold_x().to_owned(), data.gold_y().to_owned()),
            Method::PbOnly => (data.pref_x().to_owned(), data.pref_y().to_owned()),
            Method::Pooled => (data.pooled_x(), data.pooled_y()),
            Method::MeanShift => {
                let shift =
                    data.gold_y().mean().unwrap_or(0.0) - data.pref_y().mean().unwrap_or(0.0);
                let shifted = data.map_labels(|r| r, |y| y + shift);
                (shifted.pooled_x(), shifted.pooled_y())
            }
            Method::RLearner | Method::DrLearner => {
                unreachable!("meta-learners are fitted by fit_meta")
            }
        };
        let model = learner.fit(
            x.view(),
            y.view(),
            None,
            derive_seed(seed, &[Role::Final as u64]),
        )?;
        let mut diagnostics = Diagnostics {
            kappa: data.kappa(),
            scale: 1.0,
            propensity_range: (data.kappa(), data.kappa()),
            ..Diagnostics::default()
        };
        diagnostics.record(Role::Final, model.as_ref());
        Ok(FittedRouter {
            method: self.method,
            psi: PsiModel::Single(model),
            delta: None,
            scale: 1.0,
            dim: data.dim(),
            cross_fitted: None,
            diagnostics,
        })
    }

    fn fit_meta(
        &self,
        data: &TrainingData,
        assignment: Vec<usize>,
        seed: u64,
    ) -> Result<FittedRouter> {
        let n_gold = data.n_gold();
        let n_total = data.n_total();
        let k_folds = assignment.iter().copied().max().unwrap_or(0) + 1;
        let scale = self.normalize.constant(data.gold_y(), data.pref_y())?;
        let x = data.pooled_x();
        let treatment = data.pooled_t();
        let mut outcome = data.pooled_y();
        outcome
            .slice_mut(ndarray::s![..n_gold])
            .mapv_inplace(|r| scale * r);
        let kappa = data.kappa();
        let mut diagnostics = Diagnostics {
            kappa,
            folds: k_folds,
            scale,
            ..Diagnostics::default()
        };
        let role_seed = |role: Role, fold: usize| derive_seed(seed, &[role as u64, fold as u64]);

        // Step 2: out-of-fold nuisances.
        let raw_propensity = match self.propensity {
            PropensityMode::Constant => Array1::from_elem(n_total, kappa),
            PropensityMode::Model => {
                let learner = self.propensity_learner.learner();
                let mut p = Array1::zeros(n_total);
                let mut per_fold = Vec::with_capacity(k_folds);
                for fold in 0..k_folds {
                    let (train, test) = split_rows(&assignment, fold);
                    let xs = x.select(Axis(0), &train);
                    let ts = treatment.select(Axis(0), &train);
                    let model = learner.fit_probability(
                        xs.view(),
                        ts.view(),
                        None,
                        role_seed(Role::Propensity, fold),
                    )?;
                    scatter(
                        &mut p,
                        &test,
                        model.predict(x.select(Axis(0), &test).view()),
                    );
                    per_fold.push(model.diagnostics());
                }
                diagnostics.record_folds(Role::Propensity, &per_fold);
                p
            }
        };
        let (p_min, p_max) = raw_propensity
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        diagnostics.propensity_range = (p_min, p_max);
        let kept: Vec<bool> = raw_propensity
            .iter()
            .map(|&p| self.trim == 0.0 || (p >= self.trim && p <= 1.0 - self.trim))
            .collect();
        diagnostics.trimmed = kept.iter().filter(|&&k| !k).count();
        let propensity = raw_propensity.mapv(|p| p.clamp(self.clip, 1.0 - self.clip));
        diagnostics.clipped = raw_propensity
            .iter()
            .zip(propensity.iter())
            .filter(|(a, b)| a != b)
            .count();

        let outcome_learner = self.outcome().learner();
        let (pseudo_outcome, weights, mean_outcome, mean_gold, mean_pref) = match self.method {
            Method::RLearner => {
                let mut mu = Array1::zeros(n_total);
                let mut per_fold = Vec::with_capacity(k_folds);
                for fold in 0..k_folds {
                    let (train, test) = split_rows(&assignment, fold);
                    let model = outcome_learner.fit(
                        x.select(Axis(0), &train).view(),
                        outcome.select(Axis(0), &train).view(),
                        None,
                        role_seed(Role::Outcome, fold),
                    )?;
                    scatter(
                        &mut mu,
                        &test,
                        model.predict(x.select(Axis(0), &test).view()),
                    );
                    per_fold.push(model.diagnostics());
                }
                diagnostics.record_folds(Role::Outcome, &per_fold);
                let (z, w) = pseudo::r_learner_targets(
                    outcome.view(),
                    treatment.view(),
                    mu.view(),
                    propensity.view(),
                );
                (z, w, Some(mu), None, None)
            }
            Method::DrLearner => {
                let mut mu1 = Array1::zeros(n_total);
                let mut mu0 = Array1::zeros(n_total);
                let mut per_fold_gold = Vec::with_capacity(k_folds);
                let mut per_fold_pref = Vec::with_capacity(k_folds);
                for fold in 0..k_folds {
                    let (train, test) = split_rows(&assignment, fold);
                    let gold_train: Vec<usize> =
                        train.iter().copied().filter(|&k| k < n_gold).collect();
                    let pref_train: Vec<usize> =
                        train.iter().copied().filter(|&k| k >= n_gold).collect();
                    let x_test = x.select(Axis(0), &test);
                    for (rows, target, role, per_fold) in [
                        (&gold_train, &mut mu1, Role::OutcomeGold, &mut per_fold_gold),
                        (&pref_train, &mut mu0, Role::OutcomePref, &mut per_fold_pref),
                    ] {
                        let model = outcome_learner.fit(
                            x.select(Axis(0), rows).view(),
                            outcome.select(Axis(0), rows).view(),
                            None,
                            role_seed(role, fold),
                        )?;
                        scatter(target, &test, model.predict(x_test.view()));
                        per_fold.push(model.diagnostics());
                    }
                }
                diagnostics.record_folds(Role::OutcomeGold, &per_fold_gold);
                diagnostics.record_folds(Role::OutcomePref, &per_fold_pref);
                let phi = pseudo::dr_learner_targets(
                    outcome.view(),
                    treatment.view(),
                    mu1.view(),
                    mu0.view(),
                    propensity.view(),
                );
                let w = Array1::ones(n_total);
                (phi, w, None, Some(mu1), Some(mu0))
            }
            _ => unreachable!("baselines are fitted by fit_baseline"),
        };

        // Step 3: bias stage on the kept rows.
        let bias_learner = self.bias().learner();
        let kept_rows: Vec<usize> = (0..n_total).filter(|&k| kept[k]).collect();
        if kept_rows.iter().all(|&k| k >= n_gold) || kept_rows.iter().all(|&k| k < n_gold) {
            return Err(Error::param(
                "trim",
                self.trim,
                "trimming removed every GS row or every PB row from the bias stage",
            ));
        }
        let fit_bias = |rows: &[usize], role_seed: u64| {
            bias_learner.fit(
                x.select(Axis(0), rows).view(),
                pseudo_outcome.select(Axis(0), rows).view(),
                Some(weights.select(Axis(0), rows).view()),
                role_seed,
            )
        };
        let delta_model = fit_bias(&kept_rows, role_seed(Role::Bias, 0))?;
        diagnostics.record(Role::Bias, delta_model.as_ref());

        // Step 4: assemble ψ̂.
        let final_learner = self.final_stage().learner();
        let pref_x = data.pref_x();
        let psi = match self.assemble {
            Assemble::Plugin => {
                let eta =
                    final_learner.fit(pref_x, data.pref_y(), None, role_seed(Role::Eta, 0))?;
                diagnostics.record(Role::Eta, eta.as_ref());
                PsiModel::Plugin(eta)
            }
            Assemble::Refit => {
                let (correction, used) = self.corrections(
                    data,
                    &assignment,
                    &kept,
                    &kept_rows,
                    delta_model.as_ref(),
                    &fit_bias,
                    &mut diagnostics,
                    |fold| role_seed(Role::BiasFold, fold),
                )?;
                diagnostics.correction = Some(used);
                let mut labels = outcome.clone();
                let mut refit_weights = Array1::ones(n_total);
                for j in 0..data.n_pref() {
                    labels[n_gold + j] += correction[j];
                    refit_weights[n_gold + j] = self.pref_weight;
                }
                let weights_arg = (self.pref_weight != 1.0).then(|| refit_weights.view());
                let model = final_learner.fit(
                    x.view(),
                    labels.view(),
                    weights_arg,
                    role_seed(Role::Final, 0),
                )?;
                diagnostics.record(Role::Final, model.as_ref());
                PsiModel::Single(model)
            }
        };

        Ok(FittedRouter {
            method: self.method,
            psi,
            delta: Some(delta_model),
            scale,
            dim: data.dim(),
            cross_fitted: Some(CrossFitted {
                folds: assignment,
                treatment,
                outcome,
                propensity,
                mean_outcome,
                mean_gold,
                mean_pref,
                pseudo_outcome,
                weights,
                kept,
            }),
            diagnostics,
        })
    }

    /// PB-label corrections `Δ̂₋ⱼ(q'_j)`, one per PB row, by the configured rule.
    #[allow(clippy::too_many_arguments)]
    fn corrections(
        &self,
        data: &TrainingData,
        assignment: &[usize],
        kept: &[bool],
        kept_rows: &[usize],
        delta_model: &dyn Predict,
        fit_bias: &BiasFitter<'_>,
        diagnostics: &mut Diagnostics,
        fold_seed: impl Fn(usize) -> u64,
    ) -> Result<(Array1<f64>, Correction)> {
        let n_gold = data.n_gold();
        let n_pref = data.n_pref();
        let pref_x = data.pref_x();
        let out_of_bag = delta_model.out_of_bag();
        let rule = match (self.correction, &out_of_bag) {
            (Correction::Auto, Some(_)) => Correction::OutOfBag,
            (Correction::Auto, None) => Correction::OutOfFold,
            (Correction::OutOfBag, None) => {
                return Err(Error::Unsupported {
                    learner: self.bias().learner().name().into(),
                    what: "give out-of-bag predictions (correction = \"out-of-bag\" needs a bagged bias learner)"
                        .into(),
                })
            }
            (rule, _) => rule,
        };
        let correction = match rule {
            Correction::InSample => delta_model.predict(pref_x),
            Correction::OutOfBag => {
                let oob = out_of_bag.expect("checked above");
                let full = delta_model.predict(pref_x);
                // Position of each pooled row among the bias stage's training rows.
                let mut position = vec![usize::MAX; kept.len()];
                for (i, &k) in kept_rows.iter().enumerate() {
                    position[k] = i;
                }
                let mut fallback = 0;
                let values = Array1::from_shape_fn(n_pref, |j| {
                    let k = n_gold + j;
                    match (position[k], oob.get(position[k])) {
                        (pos, Some(&value)) if pos != usize::MAX && value.is_finite() => value,
                        _ => {
                            fallback += 1;
                            full[j]
                        }
                    }
                });
                diagnostics.out_of_bag_fallback = fallback;
                values
            }
            Correction::OutOfFold | Correction::Auto => {
                let k_folds = assignment.iter().copied().max().unwrap_or(0) + 1;
                let mut values = Array1::zeros(n_pref);
                let mut per_fold = Vec::with_capacity(k_folds);
                for fold in 0..k_folds {
                    let rows: Vec<usize> = kept_rows
                        .iter()
                        .copied()
                        .filter(|&k| assignment[k] != fold)
                        .collect();
                    let targets: Vec<usize> = (0..n_pref)
                        .filter(|&j| assignment[n_gold + j] == fold)
                        .collect();
                    if targets.is_empty() {
                        continue;
                    }
                    let model = fit_bias(&rows, fold_seed(fold))?;
                    let predicted = model.predict(pref_x.select(Axis(0), &targets).view());
                    scatter(&mut values, &targets, predicted);
                    per_fold.push(model.diagnostics());
                }
                diagnostics.record_folds(Role::BiasFold, &per_fold);
                values
            }
        };
        Ok((correction, rule))
    }
}

/// Refits the bias stage on the given pooled rows with the given seed.
type BiasFitter<'a> = dyn Fn(&[usize], u64) -> Result<Box<dyn Predict>> + 'a;

/// Rows outside and inside `fold`.
fn split_rows(assignment: &[usize], fold: usize) -> (Vec<usize>, Vec<usize>) {
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..assignment.len()).partition(|&k| assignment[k] == fold);
    (train, test)
}

fn scatter(target: &mut Array1<f64>, rows: &[usize], values: Array1<f64>) {
    for (&row, value) in rows.iter().zip(values) {
        target[row] = value;
    }
}

/// Fits `learner` on `(x, y)` (used for the simulation-only `all-gold`
/// reference and by callers that need one plain fit).
pub fn fit_single(
    learner: &LearnerConfig,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    seed: u64,
) -> Result<Box<dyn Predict>> {
    learner.validate()?;
    learner
        .learner()
        .fit(x, y, None, derive_seed(seed, &[Role::Final as u64]))
}
