//! Meta-Router estimators: R- and DR-learners of the PB bias, the integrative ψ
//! refit, and the baselines (the method is written out in `docs/method.md`).
//!
//! # Model
//! GS rows `r_i = ψ(q_i) + ε_i`, PB rows `y_j = η(q'_j) + ε'_j`; the bias
//! `Δ = ψ − η` is the conditional average treatment effect of the evaluation
//! mechanism `t` (1 = GS, 0 = PB) in the pooled data, with propensity
//! `p(s) = P(t = 1 | s)`.
//!
//! # Algorithm (Meta-Router, paper Algorithm 1), one file per step
//! 0. scale normalization `c` ([`Normalize`], [`normalize`]); GS labels become `c·r`;
//! 1. stratified K-fold assignment ([`folds::stratified_folds`]);
//! 2. out-of-fold nuisances (`nuisances`): propensity (constant `κ = n/N` or a
//!    probability model) clipped to `[ε, 1 − ε]`; the R-learner's `μ̂ = E[o | s]`
//!    (`r_learner`), the DR-learner's `μ̂₁` (GS rows) and `μ̂₀` (PB rows)
//!    (`dr_learner`);
//! 3. bias stage on all rows (less trimmed ones) with the targets of
//!    [`pseudo::r_learner_targets`] or [`pseudo::dr_learner_targets`], giving `Δ̂`;
//! 4. refit ψ on `{(q_i, c·r_i)} ∪ {(q'_j, y_j + Δ̂₋ⱼ(q'_j))}` with PB weight λ
//!    ([`refit::corrected_labels`]), where `Δ̂₋ⱼ` does not contain row `j`'s own
//!    pseudo-outcome ([`Correction`]); or `plugin`: `ψ̂ = η̂ + Δ̂`; the result is
//!    divided by `c`.
//!
//! Baselines (`baselines`): `gs-only`, `pb-only`, `pooled` (GS ∪ raw PB) and
//! `mean-shift` (pooled after `y ← y + r̄ − ȳ`) fit the final learner once;
//! scale normalization does not apply to them.
//!
//! # References
//! Zhang, Xie, Yang, Wu (2025), Meta-Router, arXiv 2509.25535. Nie & Wager
//! (2021), Biometrika 108(2). Kennedy (2023), EJS 17(2). Chernozhukov et al.
//! (2018), Double/debiased machine learning, Econometrics Journal 21(1).
//!
//! # Example
//! ```
//! use ndarray::{Array1, Array2};
//! use meta_router_core::data::TrainingData;
//! use meta_router_core::meta::{FitSeeds, Method, MetaRouterConfig};
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

mod baselines;
mod config;
mod diagnostics;
mod dr_learner;
pub mod folds;
pub mod multi;
pub mod normalize;
mod nuisances;
mod oracle;
pub mod overlap;
pub mod pseudo;
mod r_learner;
pub mod refit;
pub mod size;

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::learners::FittedModel;

pub use baselines::fit_single;
pub use config::{
    Assemble, BiasLeaf, Correction, DrOutcome, FitSeeds, MetaRouterConfig, Method, Nuisances,
    PropensityMode, DEFAULT_CLIP_CONSTANT, DEFAULT_CLIP_MODEL,
};
pub use diagnostics::{
    BiasStageWeights, Diagnostics, DOMINATED_CLIPPED_SHARE, DOMINATED_EFFECTIVE_FRACTION,
    DOMINATED_KEY,
};
pub use multi::{fit_multi, model_seeds, FittedMultiRouter};
pub use normalize::Normalize;
use oracle::oracle_mean_outcome;
pub use oracle::{OracleError, OracleNuisances};

/// Bias-stage targets and the outcome nuisances behind them.
#[derive(Debug, Clone)]
pub(crate) struct BiasTargets {
    /// `z_k` (R) or `φ_k` (DR).
    pub pseudo_outcome: Array1<f64>,
    /// `(t_k − p̂_k)²` (R) or 1 (DR).
    pub weights: Array1<f64>,
    /// R: out-of-fold `μ̂`.
    pub mean_outcome: Option<Array1<f64>>,
    /// DR: out-of-fold `μ̂₁`.
    pub mean_gold: Option<Array1<f64>>,
    /// DR: out-of-fold `μ̂₀`.
    pub mean_pref: Option<Array1<f64>>,
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
    /// Clipped out-of-fold `p̂_k` (what the bias stage saw).
    pub propensity: Array1<f64>,
    /// Out-of-fold `p̂_k` before clipping (the true `p` for oracle
    /// nuisances); inference applies its own guard
    /// ([`crate::inference::INFERENCE_CLIP`]) and overlap rule.
    pub propensity_raw: Array1<f64>,
    /// R-learner: out-of-fold `μ̂(s_k)`.
    pub mean_outcome: Option<Array1<f64>>,
    /// DR-learner: out-of-fold `μ̂₁(s_k)`.
    pub mean_gold: Option<Array1<f64>>,
    /// DR-learner: out-of-fold `μ̂₀(s_k)`.
    pub mean_pref: Option<Array1<f64>>,
    /// Bias-stage targets (`z_k` or `φ_k`).
    pub pseudo_outcome: Array1<f64>,
    /// Bias-stage weights (`(t_k − p̂_k)²` or 1, times the sample weight).
    pub weights: Array1<f64>,
    /// Whether row k entered the bias stage (false when trimmed).
    pub kept: Vec<bool>,
    /// The fit's sample weights (`None`: unweighted); `weights` includes them.
    pub sample_weights: Option<Array1<f64>>,
    /// Whether the outcome models are out-of-bag predictions of one forest
    /// (`outcome_oob`) rather than fold fits.
    pub outcome_oob: bool,
    /// Whether the nuisances are out of fold (`cross_fit`); `false`: fit and
    /// predicted on all rows (the authors' script).
    pub cross_fit: bool,
}

/// How a router computes ψ̂: one fitted model, or the plug-in `η̂ + Δ̂`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum PsiModel {
    /// ψ̂ from one model (baselines; the refit assembly).
    Single(FittedModel),
    /// `ψ̂ = η̂ + Δ̂`: the PB-label model `η̂`; `Δ̂` is the router's bias model.
    Plugin(FittedModel),
}

/// The fitted models of a router without its training-time data: what a
/// model file stores ([`FittedRouter::models`], [`FittedRouter::from_models`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterModels {
    /// The estimator.
    pub method: Method,
    /// Number of feature columns.
    pub dim: usize,
    /// Scale constant `c` (ψ̂ is divided by it).
    pub scale: f64,
    /// The ψ̂ model.
    pub psi: PsiModel,
    /// The bias model `Δ̂` (meta-learners only).
    pub delta: Option<FittedModel>,
    /// The overlap region of a truncated Meta-Router (`truncate`), so that
    /// new queries can be told inside or outside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<overlap::OverlapRegion>,
}

/// A fitted router: predicts ψ̂ (GS units) and, for meta-learners, Δ̂.
#[derive(Debug)]
pub struct FittedRouter {
    method: Method,
    psi: PsiModel,
    delta: Option<FittedModel>,
    scale: f64,
    dim: usize,
    overlap: Option<overlap::OverlapRegion>,
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

    /// The overlap region of a truncated Meta-Router (`truncate`), `None`
    /// otherwise.
    pub fn overlap(&self) -> Option<&overlap::OverlapRegion> {
        self.overlap.as_ref()
    }

    /// Whether each row of `x` lies in the overlap region of a truncated
    /// router (every row for other routers).
    #[track_caller]
    pub fn in_overlap(&self, x: ArrayView2<f64>) -> Vec<bool> {
        match &self.overlap {
            Some(region) => region.contains(x),
            None => vec![true; x.nrows()],
        }
    }

    /// Out-of-fold nuisances and pseudo-outcomes (meta-learners only).
    pub fn cross_fitted(&self) -> Option<&CrossFitted> {
        self.cross_fitted.as_ref()
    }

    /// Non-fatal facts of the fit.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// A copy of the fitted models (for saving; the cross-fitted nuisances
    /// and diagnostics are left out).
    pub fn models(&self) -> RouterModels {
        RouterModels {
            method: self.method,
            dim: self.dim,
            scale: self.scale,
            psi: self.psi.clone(),
            delta: self.delta.clone(),
            overlap: self.overlap.clone(),
        }
    }

    /// A router from saved models, after checking them: a positive finite
    /// scale, at least one feature, every model valid
    /// ([`FittedModel::validate`]) and predicting from `dim` columns, a bias
    /// model exactly for meta-learners and for plug-in ψ̂. The router has no
    /// cross-fitted nuisances and default diagnostics. Predictions equal
    /// those of the router the models came from, bit for bit.
    pub fn from_models(models: RouterModels) -> Result<Self> {
        let RouterModels {
            method,
            dim,
            scale,
            psi,
            delta,
            overlap,
        } = models;
        let invalid = |name: &str, value: String, reason: &str| Error::InvalidParameter {
            name: name.into(),
            value,
            reason: reason.into(),
        };
        if !(scale.is_normal() && scale > 0.0) {
            return Err(invalid(
                "scale",
                format!("{scale:e}"),
                "must be a finite, positive normal number (not subnormal)",
            ));
        }
        if dim == 0 {
            return Err(invalid(
                "dim",
                "0".into(),
                "a router needs at least one feature",
            ));
        }
        let psi_model = match &psi {
            PsiModel::Single(m) | PsiModel::Plugin(m) => m,
        };
        let needs_delta = method.is_meta() || matches!(psi, PsiModel::Plugin(_));
        if needs_delta != delta.is_some() {
            return Err(invalid(
                "delta",
                if delta.is_some() { "present" } else { "absent" }.into(),
                "a bias model belongs to exactly the R-/DR-learners and plug-in routers",
            ));
        }
        if matches!(psi, PsiModel::Plugin(_)) && !method.is_meta() {
            return Err(invalid(
                "psi",
                "plugin".into(),
                "only meta-learners assemble ψ̂ by plug-in",
            ));
        }
        for model in std::iter::once(psi_model).chain(delta.as_ref()) {
            model.validate()?;
            if model.input_dim() != dim {
                return Err(Error::ShapeMismatch {
                    what: format!(
                        "feature columns of the {} model vs the router",
                        model.kind()
                    ),
                    expected: dim,
                    found: model.input_dim(),
                });
            }
        }
        if let Some(region) = &overlap {
            if !method.is_meta() {
                return Err(invalid(
                    "overlap",
                    "present".into(),
                    "an overlap region belongs to truncated R-/DR-learners only",
                ));
            }
            region.validate(dim)?;
        }
        Ok(Self {
            method,
            psi,
            delta,
            scale,
            dim,
            overlap,
            cross_fitted: None,
            diagnostics: Diagnostics::default(),
        })
    }

    /// Number of feature columns.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

impl MetaRouterConfig {
    /// Fits the estimator, drawing folds from `seeds.folds`.
    ///
    /// With `nuisances = "oracle"` this is an error naming `nuisances`: the
    /// true nuisances come with [`MetaRouterConfig::fit_with_oracle`].
    pub fn fit(&self, data: &TrainingData, seeds: FitSeeds) -> Result<FittedRouter> {
        self.validate()?;
        if !self.method.is_meta() {
            return baselines::fit_baseline(self, data, seeds.learner);
        }
        let assignment =
            folds::stratified_folds(data.n_gold(), data.n_pref(), self.folds, seeds.folds)?;
        self.fit_meta(data, assignment, seeds.learner, None)
    }

    /// Fits the estimator with the true nuisances `oracle` (pooled order, GS
    /// rows first) when `nuisances = "oracle"`, else exactly as
    /// [`MetaRouterConfig::fit`] (the truth unused). Simulation only.
    pub fn fit_with_oracle(
        &self,
        data: &TrainingData,
        seeds: FitSeeds,
        oracle: &OracleNuisances,
    ) -> Result<FittedRouter> {
        if self.nuisances == Nuisances::Estimated || !self.method.is_meta() {
            return self.fit(data, seeds);
        }
        self.validate()?;
        oracle.check(data.n_total())?;
        let assignment =
            folds::stratified_folds(data.n_gold(), data.n_pref(), self.folds, seeds.folds)?;
        self.fit_meta(data, assignment, seeds.learner, Some(oracle))
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
            return baselines::fit_baseline(self, data, learner_seed);
        }
        folds::check_assignment(assignment, data.n_gold(), data.n_pref())?;
        self.fit_meta(data, assignment.to_vec(), learner_seed, None)
    }

    /// The Meta-Router's steps 0 and 2–4 on a given fold assignment (step 1);
    /// step 2 takes the true nuisances when `oracle` is given.
    fn fit_meta(
        &self,
        data: &TrainingData,
        assignment: Vec<usize>,
        learner_seed: u64,
        oracle: Option<&OracleNuisances>,
    ) -> Result<FittedRouter> {
        self.check_meta_inputs(data, oracle.is_some())?;
        // Step 0: scale normalization; GS labels become c·r.
        let scale = self.normalize.constant(data.gold_y(), data.pref_y())?;
        let pooled = nuisances::Pooled::new(data, scale);
        let mut diagnostics = Diagnostics {
            kappa: data.kappa(),
            folds: nuisances::fold_count(&assignment),
            scale,
            ..Diagnostics::default()
        };
        // Step 2: out-of-fold propensity and outcome models, and the targets.
        let (mut propensity, mut targets) = match oracle {
            Some(truth) => self.oracle_targets(truth, &pooled, scale, &mut diagnostics),
            None => {
                self.estimated_targets(&pooled, data, &assignment, learner_seed, &mut diagnostics)?
            }
        };
        let overlap = self.bias_stage_rows(
            data,
            &pooled,
            (&mut propensity, &mut targets),
            learner_seed,
            oracle.is_none(),
            &mut diagnostics,
        )?;
        // Step 3: the bias stage on the kept rows.
        let (stage, delta_model) = self.fit_bias_stage(
            &pooled,
            &targets,
            &propensity,
            learner_seed,
            &mut diagnostics,
        )?;
        // Step 4: ψ̂ by refit on corrected labels, or by plug-in.
        let psi = refit::assemble(
            self,
            data,
            &stage,
            &delta_model,
            &assignment,
            learner_seed,
            &mut diagnostics,
        )?;
        let cross_fitted = CrossFitted {
            folds: assignment,
            treatment: pooled.treatment,
            outcome: pooled.outcome,
            propensity: propensity.clipped,
            propensity_raw: propensity.raw,
            mean_outcome: targets.mean_outcome,
            mean_gold: targets.mean_gold,
            mean_pref: targets.mean_pref,
            pseudo_outcome: targets.pseudo_outcome,
            weights: targets.weights,
            kept: propensity.kept,
            sample_weights: pooled.weights,
            outcome_oob: self.outcome_oob,
            cross_fit: self.cross_fit,
        };
        Ok(FittedRouter {
            method: self.method,
            psi,
            delta: Some(delta_model),
            scale,
            dim: data.dim(),
            overlap,
            cross_fitted: Some(cross_fitted),
            diagnostics,
        })
    }

    /// Step 3: the bias stage on the kept rows, its fitted `Δ̂` and their
    /// diagnostics.
    fn fit_bias_stage<'a>(
        &'a self,
        pooled: &'a nuisances::Pooled,
        targets: &'a BiasTargets,
        propensity: &'a nuisances::Propensity,
        learner_seed: u64,
        diagnostics: &mut Diagnostics,
    ) -> Result<(refit::BiasStage<'a>, FittedModel)> {
        let stage = refit::BiasStage::new(
            self,
            pooled,
            targets,
            propensity.clipped.view(),
            &propensity.kept,
        )?;
        let delta_model = stage.fit(learner_seed)?;
        diagnostics.record(diagnostics::Role::Bias, &delta_model);
        if let Some((name, value)) = stage.leaf_rule {
            diagnostics.learners.insert(name.into(), value);
        }
        Ok((stage, delta_model))
    }

    /// Refuses oracle nuisances without the truth (`has_oracle`) and scale
    /// normalization of sample-weighted data.
    fn check_meta_inputs(&self, data: &TrainingData, has_oracle: bool) -> Result<()> {
        if self.nuisances == Nuisances::Oracle && !has_oracle {
            return Err(Error::param(
                "nuisances",
                "oracle",
                "oracle nuisances need the scenario's truth: fit_with_oracle (studies pass it)",
            ));
        }
        if data.is_weighted() && self.normalize != Normalize::None {
            return Err(Error::param(
                "normalize",
                format!("{:?}", self.normalize).to_lowercase(),
                "scale normalization is not defined for sample-weighted data; use normalize = \"none\"",
            ));
        }
        Ok(())
    }

    /// The rows and weights of the bias stage: a truncated Meta-Router keeps
    /// only the overlap region's rows (the others are corrected by `Δ̂`
    /// extrapolated from it; the region is returned); sample weights multiply
    /// the regression weights; the stage's weight diagnostics are recorded
    /// (`estimated`: the nuisances are estimates, not the oracle's).
    fn bias_stage_rows(
        &self,
        data: &TrainingData,
        pooled: &nuisances::Pooled,
        (propensity, targets): (&mut nuisances::Propensity, &mut BiasTargets),
        learner_seed: u64,
        estimated: bool,
        diagnostics: &mut Diagnostics,
    ) -> Result<Option<overlap::OverlapRegion>> {
        // The truncated Meta-Router: the bias stage keeps only the overlap
        // region's rows (the others are corrected by Δ̂ extrapolated from it).
        let overlap = if self.truncate == overlap::OverlapRule::None {
            None
        } else {
            let region = overlap::OverlapRegion::fit(self, data, self.truncate, learner_seed)?;
            for (kept, &inside) in propensity.kept.iter_mut().zip(&region.inside) {
                *kept &= inside;
            }
            diagnostics.truncation = region.facts();
            Some(region.region)
        };
        // Sample weights multiply the bias stage's regression weights.
        if let Some(sample) = &pooled.weights {
            targets.weights = &targets.weights * sample;
        }
        diagnostics.bias_stage = Some(BiasStageWeights::new(
            self.method,
            pooled.treatment.view(),
            propensity.clipped.view(),
            targets.weights.view(),
            &propensity.kept,
            self.clip_level(),
            diagnostics.clipped,
            estimated && self.propensity == PropensityMode::Constant,
        ));
        Ok(overlap)
    }

    /// Step 2 with the scenario's true nuisances (`nuisances = "oracle"`),
    /// perturbed by [`OracleError`] when one is set: the propensity (clipped
    /// and trimmed as an estimate would be) and the bias-stage targets.
    fn oracle_targets(
        &self,
        truth: &OracleNuisances,
        pooled: &nuisances::Pooled,
        scale: f64,
        diagnostics: &mut Diagnostics,
    ) -> (nuisances::Propensity, BiasTargets) {
        // A controlled error (oracle::OracleError), or none.
        let error = self.oracle_error.unwrap_or(OracleError {
            outcome: 0.0,
            outcome_rate: 0.0,
            propensity: 0.0,
            propensity_rate: 0.0,
        });
        let (delta_mu, delta_p) = error.sizes(pooled.len());
        if self.oracle_error.is_some() {
            diagnostics
                .learners
                .insert("oracle_error.outcome".into(), delta_mu);
            diagnostics
                .learners
                .insert("oracle_error.propensity".into(), delta_p);
        }
        let propensity = nuisances::clip_and_trim(
            self,
            error.propensity_of(truth.propensity.view(), delta_p),
            diagnostics,
        );
        let targets = match self.method {
            // μ from the same (clipped) propensity as the residual
            // t − p̂: then E[(o − μ)(t − p̂) | s] = Δ·E[(t − p̂)² | s]
            // even where the clip binds, and the stage is unbiased.
            // A perturbed propensity leaves μ on the true (clipped) p.
            Method::RLearner => {
                let clip = self.clip_level();
                let true_p = if delta_p == 0.0 {
                    propensity.clipped.clone()
                } else {
                    truth.propensity.mapv(|p| p.clamp(clip, 1.0 - clip))
                };
                let mut mean =
                    oracle_mean_outcome(true_p.view(), truth.psi.view(), truth.eta.view(), scale);
                if delta_mu != 0.0 {
                    mean += delta_mu;
                }
                r_learner::targets_from(pooled, propensity.clipped.view(), mean)
            }
            _ => {
                let mut gold = truth.psi.mapv(|psi| scale * psi);
                let mut pref = truth.eta.clone();
                if delta_mu != 0.0 {
                    gold += delta_mu;
                    pref += delta_mu;
                }
                dr_learner::targets_from(pooled, propensity.clipped.view(), gold, pref)
            }
        };
        (propensity, targets)
    }

    /// Step 2 with estimated nuisances: the out-of-fold propensity and
    /// outcome models, and the bias-stage targets.
    fn estimated_targets(
        &self,
        pooled: &nuisances::Pooled,
        data: &TrainingData,
        assignment: &[usize],
        learner_seed: u64,
        diagnostics: &mut Diagnostics,
    ) -> Result<(nuisances::Propensity, BiasTargets)> {
        let propensity = nuisances::estimate_propensity(
            self,
            pooled,
            data.kappa(),
            assignment,
            learner_seed,
            diagnostics,
        )?;
        let targets = match self.method {
            Method::RLearner => r_learner::targets(
                self,
                pooled,
                propensity.clipped.view(),
                assignment,
                learner_seed,
                diagnostics,
            )?,
            Method::DrLearner => dr_learner::targets(
                self,
                pooled,
                propensity.clipped.view(),
                assignment,
                learner_seed,
                diagnostics,
            )?,
            _ => unreachable!("baselines are fitted by baselines::fit_baseline"),
        };
        Ok((propensity, targets))
    }
}
