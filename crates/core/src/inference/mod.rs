//! Inference on average PB bias, mean GS gain, the best linear projection of
//! the bias and the value of a routing policy, from a DR-learner router's
//! cross-fitted nuisances (`docs/method.md` §6).
//!
//! # Model
//! Pooled rows `(s_k, t_k, o_k)`, `k = 1..N`, `t = 1` for GS rows (`o = r`),
//! `t = 0` for PB rows (`o = y`); `μ₁(s) = E[o | s, t = 1] = ψ(s)`,
//! `μ₀(s) = E[o | s, t = 0] = η(s)`, `p(s) = P(t = 1 | s)`, `Δ = μ₁ − μ₀`.
//! Targets, for a fixed weight function `h` (`h ≡ 1` unless stated):
//! - [`Population::Pref`]: `E[h(s) ψ(s) | t = 0]` (`θ_ψ`) and
//!   `E[h(s) Δ(s) | t = 0]` (`θ_Δ`, the average PB bias) over the PB query law;
//! - [`Population::Pooled`]: `E[h ψ]` and `E[h Δ]` over the pooled training law;
//! - [`best_linear_projection`]: `β = argmin_b E[(Δ(s) − x(s)ᵀb)²]` over the
//!   pooled law, `x(s)` chosen features (e.g. an intercept and the first k
//!   columns of `s`);
//! - [`policy_value`]: `E[(ψ(s) − w) π(s) | t = 0]`, the gain of a routing
//!   policy `π(s) ∈ {0, 1}` (send to `M_p`) over always-`M_a` at cost weight `w`.
//!
//! # Algorithm
//! Nuisances are those of a cross-fitted DR-learner ([`Nuisances::from_router`]):
//! out-of-fold `μ̂₁`, `μ̂₀` and clipped `p̂` (paper Algorithm 1, step 2). An
//! R-learner router does not fit `μ̂₁`, `μ̂₀` and is refused with
//! [`Error::Unsupported`]; refit it as a DR-learner (same learners) for inference.
//! GS labels enter the DR-learner scaled by `c` when scale normalization is on;
//! then `μ̂₁` estimates `c·ψ`, not `ψ`, and the targets change meaning, so
//! routers with `c ≠ 1` are refused too (use `normalize = "none"`).
//!
//! Every mean target is `θ = E[ξ(O)] / E[D]` with a per-row score `ξ_k` and a
//! population indicator `D_k` (`1` for pooled, `1 − t_k` for PB):
//! - PB gain `θ_ψ`: `ξ_k = h_k[(1−t_k) μ̂₁(s_k) + t_k (1−p̂_k)/p̂_k (o_k − μ̂₁(s_k))]`;
//! - PB bias `θ_Δ`: `ξ_k = h_k[(1−t_k)(μ̂₁(s_k) − o_k) + t_k (1−p̂_k)/p̂_k (o_k − μ̂₁(s_k))]`
//!   (`E[(1−t)(μ₁ − o) | s] = (1−p)Δ`; the second term corrects the
//!   plug-in `μ̂₁` on the GS rows, reweighted to the PB law by `(1−p)/p`);
//! - pooled gain: `ξ_k = h_k[μ̂₁ + t_k (o_k − μ̂₁)/p̂_k]` (AIPW);
//! - pooled bias: `ξ_k = h_k[μ̂₁ − μ̂₀ + t_k (o_k − μ̂₁)/p̂_k − (1−t_k)(o_k − μ̂₀)/(1−p̂_k)]`.
//!
//! The estimate is `θ̂ = Σ_k ξ_k / Σ_k D_k`. By the delta method on the ratio
//! of means its estimated influence function is
//! `φ_k = (ξ_k − D_k θ̂) / D̄`, `D̄ = Σ_k D_k / N` (for `θ_Δ`:
//! `φ_k = [(1−t_k)(μ̂₁ − o_k − θ̂) + t_k((1−p̂_k)/p̂_k)(o_k − μ̂₁)] / P̂(t = 0)`),
//! which sums to zero, and `SE = √(Σ_k φ_k² / N) / √N`. The interval is
//! `θ̂ ± z_{(1+level)/2} · SE` with the normal quantile from `statrs`. The
//! scores are Neyman-orthogonal, so with cross-fitted nuisances converging at
//! `o(N^{−1/4})` the first-order bias vanishes (Chernozhukov et al. 2018).
//!
//! Best linear projection: OLS of the DR pseudo-outcomes
//! `φ^{DR}_k = (t_k − p̂_k)/(p̂_k(1 − p̂_k)) (o_k − μ̂_{t_k}) + μ̂₁ − μ̂₀` on
//! `x_k`: `β̂ = (XᵀX)⁻¹ Xᵀ φ^{DR}`, residuals `e_k`, sandwich covariances
//! `V₀ = (XᵀX)⁻¹ (Σ_k e_k² x_k x_kᵀ) (XᵀX)⁻¹` (HC0) and `V₁ = N/(N − q) V₀`
//! (HC1, `q` columns) (Semenova & Chernozhukov 2021).
//!
//! Policy value: the pooled rows are split in two halves, stratified by `t`
//! ([`split_halves`]); the router is fit on the first half and fixes
//! `π(s) = 1{ψ̂(s) > w}`; a DR-learner fit on the second half alone supplies
//! cross-fitted nuisances there, and `E[(ψ − w)π | t = 0]` is the PB-population
//! AIPW mean with `ξ_k = π_k[(1−t_k)(μ̂₁ − w) + t_k (1−p̂_k)/p̂_k (o_k − μ̂₁)]`.
//! Since `π` does not depend on the second half, the estimate is a plain AIPW
//! mean conditional on `π`.
//!
//! # References
//! - Chernozhukov, Chetverikov, Demirer, Duflo, Hansen, Newey, Robins (2018),
//!   Double/debiased machine learning for treatment and structural parameters,
//!   Econometrics Journal 21(1).
//! - Kennedy (2023), Towards optimal doubly robust estimation of heterogeneous
//!   causal effects, Electronic Journal of Statistics 17(2).
//! - Semenova & Chernozhukov (2021), Debiased machine learning of conditional
//!   average treatment effects and other causal functions, Econometrics
//!   Journal 24(2).
//! - Zhang, Xie, Yang, Wu (2025), Meta-Router, arXiv 2509.25535.
//!
//! # Example
//! ```
//! use ndarray::{Array1, Array2};
//! use meta_router_core::data::TrainingData;
//! use meta_router_core::inference::{mean_target, Nuisances, Population, Quantity};
//! use meta_router_core::meta::{FitSeeds, Method, MetaRouterConfig};
//!
//! // ψ(s) = s, PB labels biased by +0.5 everywhere (so Δ ≡ 0.5).
//! let gold_x = Array2::from_shape_fn((40, 1), |(i, _)| i as f64 / 40.0);
//! let gold_y = gold_x.column(0).to_owned();
//! let pref_x = Array2::from_shape_fn((200, 1), |(i, _)| i as f64 / 200.0);
//! let pref_y = pref_x.column(0).mapv(|s| s - 0.5);
//! let data = TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap();
//! let router = MetaRouterConfig::new(Method::DrLearner)
//!     .fit(&data, FitSeeds { folds: 1, learner: 2 })
//!     .unwrap();
//! let nuisances = Nuisances::from_router(&router).unwrap();
//! let theta = mean_target(&nuisances, Quantity::Bias, Population::Pref, None, 0.95).unwrap();
//! assert!((theta.estimate - 0.5).abs() < 1e-3);
//! assert!(theta.lower <= theta.estimate && theta.estimate <= theta.upper);
//! ```

mod aipw;
mod projection;

pub use aipw::{mean_target, policy_value, split_halves, PolicySeeds, PolicyTarget, PolicyValue};
pub use projection::{
    best_linear_projection, intercept_and_columns, projection_within, Projection, Sandwich,
};

use ndarray::{Array1, Array2};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::checks::check_finite_vector as check_finite;
use crate::error::{Error, Result};
use crate::meta::pseudo::dr_learner_targets;
use crate::meta::{FittedRouter, Method};

/// A point estimate with its standard error and a two-sided normal interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The point estimate.
    pub estimate: f64,
    /// Its estimated standard error.
    pub se: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
    /// Nominal coverage of the interval (e.g. 0.95).
    pub level: f64,
}

impl Estimate {
    /// `estimate ± z_{(1+level)/2} · se`; errors when `level ∉ (0, 1)` or
    /// the estimate or SE is not finite.
    pub fn normal(estimate: f64, se: f64, level: f64) -> Result<Self> {
        let z = normal_quantile(level)?;
        if !estimate.is_finite() || !se.is_finite() || se < 0.0 {
            return Err(Error::NonFinite {
                what: "estimate or standard error".into(),
                row: 0,
            });
        }
        Ok(Self {
            estimate,
            se,
            lower: estimate - z * se,
            upper: estimate + z * se,
            level,
        })
    }

    /// `estimate ± t_{df, (1+level)/2} · se`, the Student-t interval with
    /// `df` degrees of freedom (an infinite `df` gives [`Self::normal`]);
    /// errors as [`Self::normal`] does, and when `df` is not positive.
    pub fn student(estimate: f64, se: f64, df: f64, level: f64) -> Result<Self> {
        let normal = Self::normal(estimate, se, level)?;
        let t = student_quantile(level, df)?;
        Ok(Self {
            lower: estimate - t * se,
            upper: estimate + t * se,
            ..normal
        })
    }

    /// Whether `value` lies in `[lower, upper]`.
    pub fn covers(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    /// `upper − lower`.
    pub fn length(&self) -> f64 {
        self.upper - self.lower
    }
}

/// `z` with `P(|Z| ≤ z) = level` for a standard normal `Z`.
pub fn normal_quantile(level: f64) -> Result<f64> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::param(
            "level",
            level,
            "the confidence level must lie in (0, 1)",
        ));
    }
    let normal = Normal::new(0.0, 1.0).expect("standard normal parameters are valid");
    Ok(normal.inverse_cdf(0.5 + level / 2.0))
}

/// Degrees of freedom above which the t quantile is the normal one (they
/// differ by less than 3e-7 there; `statrs`' inverse t does not converge for
/// huge or infinite `df`).
const NORMAL_DF: f64 = 1e7;

/// `t` with `P(|T| ≤ t) = level` for a Student-t `T` with `df > 0` degrees
/// of freedom (`statrs`); the normal quantile for `df` above 10⁷ or
/// infinite.
pub fn student_quantile(level: f64, df: f64) -> Result<f64> {
    let z = normal_quantile(level)?;
    if df.is_nan() || df <= 0.0 {
        return Err(Error::param(
            "df",
            df,
            "degrees of freedom must be positive",
        ));
    }
    if df > NORMAL_DF {
        return Ok(z);
    }
    let t = StudentsT::new(0.0, 1.0, df).expect("positive degrees of freedom are valid");
    Ok(t.inverse_cdf(0.5 + level / 2.0))
}

/// Satterthwaite's degrees of freedom of the variance estimate
/// `V̂ = Σ_k φ_k² / N²` of a mean of independent influence-function terms
/// `φ_k`: `ν̂ = 2 V̂² / Var̂(V̂) = 2 (Σ_k φ_k²)² / Σ_k (φ_k² − m)²`,
/// `m = Σ_k φ_k² / N` — the variance of each `φ_k²` estimated from the data,
/// so that heavy tails and terms that are mostly zero (scores supported on
/// few rows) count as the small sample they are. For `N` Gaussian terms of
/// equal variance `ν̂ ≈ N`. Infinite when every `φ_k²` is equal (no
/// variability to account for), above 2 otherwise.
pub fn satterthwaite_df(phi: ndarray::ArrayView1<f64>) -> f64 {
    let n = phi.len();
    if n == 0 {
        return f64::INFINITY;
    }
    let total: f64 = phi.iter().map(|v| v * v).sum();
    let m = total / n as f64;
    let spread: f64 = phi.iter().map(|v| (v * v - m).powi(2)).sum();
    if spread <= 0.0 || !spread.is_finite() {
        return f64::INFINITY;
    }
    2.0 * total * total / spread
}

/// Which quantity a mean target averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// The GS gain `ψ = μ₁`.
    Gain,
    /// The PB bias `Δ = μ₁ − μ₀`.
    Bias,
}

/// Over which query law a mean is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Population {
    /// The PB query law (`t = 0`).
    Pref,
    /// The pooled training law (mixture of GS and PB query laws).
    Pooled,
}

/// The guard on the out-of-fold `p̂` in the AIPW scores and projection:
/// `p̂` is clipped to `[INFERENCE_CLIP, 1 − INFERENCE_CLIP]`. It only keeps
/// the weights finite; where the propensity really is small, overlap is
/// handled by restricting the target population
/// ([`Nuisances::within`], [`crate::meta::overlap`]), not by the clip, which
/// would bias the estimate (the learner's own clip `ε` is not used here).
/// Inside a trimmed population the bound is the rule's `α`
/// ([`Nuisances::bounded_inside`]).
pub const INFERENCE_CLIP: f64 = 1e-3;

/// Cross-fitted nuisances of a DR-learner, pooled order (GS rows first),
/// and the rows of the target population.
#[derive(Debug, Clone, PartialEq)]
pub struct Nuisances {
    /// `t_k`.
    pub treatment: Array1<f64>,
    /// `o_k`.
    pub outcome: Array1<f64>,
    /// Clipped out-of-fold `p̂_k`, in `(0, 1)`.
    pub propensity: Array1<f64>,
    /// Out-of-fold `μ̂₁(s_k)`.
    pub mean_gold: Array1<f64>,
    /// Out-of-fold `μ̂₀(s_k)`.
    pub mean_pref: Array1<f64>,
    /// Whether row `k` belongs to the target population (an overlap
    /// region); every row unless restricted by [`Nuisances::within`].
    pub inside: Vec<bool>,
    /// The design `b(s_k)` (one row per pooled row, intercept included) of a
    /// parametric logistic propensity `p̂ = σ(b(s)ᵀβ̂)`; when set, standard
    /// errors account for the estimation of `β̂`
    /// ([`Nuisances::with_propensity_design`]).
    pub propensity_design: Option<Array2<f64>>,
}

impl Nuisances {
    /// Validates and stores nuisances: equal lengths, `t ∈ {0, 1}`, both kinds
    /// of row present, `p̂ ∈ (0, 1)`, everything finite.
    pub fn new(
        treatment: Array1<f64>,
        outcome: Array1<f64>,
        propensity: Array1<f64>,
        mean_gold: Array1<f64>,
        mean_pref: Array1<f64>,
    ) -> Result<Self> {
        let n = treatment.len();
        if n == 0 {
            return Err(Error::Empty {
                what: "nuisances".into(),
            });
        }
        for (what, v) in [
            ("outcome", &outcome),
            ("propensity", &propensity),
            ("mean_gold", &mean_gold),
            ("mean_pref", &mean_pref),
        ] {
            if v.len() != n {
                return Err(Error::ShapeMismatch {
                    what: format!("{what} vs treatment"),
                    expected: n,
                    found: v.len(),
                });
            }
            check_finite(what, v.view())?;
        }
        if let Some(row) = treatment.iter().position(|&t| t != 0.0 && t != 1.0) {
            return Err(Error::param(
                "treatment",
                treatment[row],
                format!("must be 0 or 1 (row {row})"),
            ));
        }
        let gold = treatment.sum();
        if gold == 0.0 || gold == n as f64 {
            return Err(Error::Empty {
                what: "GS rows or PB rows of the nuisances".into(),
            });
        }
        if let Some(row) = propensity.iter().position(|&p| !(p > 0.0 && p < 1.0)) {
            return Err(Error::param(
                "propensity",
                propensity[row],
                format!("must lie in (0, 1) (row {row})"),
            ));
        }
        let inside = vec![true; n];
        Ok(Self {
            treatment,
            outcome,
            propensity,
            mean_gold,
            mean_pref,
            inside,
            propensity_design: None,
        })
    }

    /// The same nuisances with the target population restricted to the rows
    /// where `inside` holds (an overlap region, pooled order). Errors when the
    /// lengths differ or fewer than two GS or two PB rows remain.
    pub fn within(mut self, inside: &[bool]) -> Result<Self> {
        if inside.len() != self.len() {
            return Err(Error::ShapeMismatch {
                what: "overlap region vs nuisances".into(),
                expected: self.len(),
                found: inside.len(),
            });
        }
        let count = |t: f64| {
            (0..inside.len())
                .filter(|&k| inside[k] && self.treatment[k] == t)
                .count()
        };
        if count(1.0) < 2 || count(0.0) < 2 {
            return Err(Error::Empty {
                what: "GS or PB rows of the target population (fewer than two inside the overlap \
                       region)"
                    .into(),
            });
        }
        self.inside = inside.to_vec();
        Ok(self)
    }

    /// The same nuisances with the out-of-fold `p̂` of the rows inside the
    /// target population bounded to `[α, 1 − α]`, `α` the overlap rule's
    /// threshold (Crump–Hotz–Imbens–Mitnik or the user's). The region is
    /// `{α ≤ p̂(s) ≤ 1 − α}` for the full-sample propensity, so on its rows
    /// the propensity is at least `α` by construction; an out-of-fold `p̂`
    /// beyond the bounds there is estimation noise of the fold fit (for a
    /// tree ensemble it can be 0 or 1), and bounding it keeps the AIPW
    /// weights at most `1/α` instead of `1/INFERENCE_CLIP`. Rows outside the
    /// population carry no weight either way. `α ≤ INFERENCE_CLIP` (no
    /// trimming, or a region of every query) changes nothing.
    pub fn bounded_inside(mut self, alpha: f64) -> Self {
        if alpha > INFERENCE_CLIP && alpha < 0.5 {
            for k in 0..self.len() {
                if self.inside[k] {
                    self.propensity[k] = self.propensity[k].clamp(alpha, 1.0 - alpha);
                }
            }
        }
        self
    }

    /// The same nuisances with the design `b(s_k)` of a logistic propensity
    /// model `p̂ = σ(b(s)ᵀβ)` fit by (nearly unpenalized) maximum likelihood
    /// on every pooled row: standard errors then include the first-order
    /// effect of estimating `β` (module docs, "Estimated propensity").
    /// Errors when the rows differ or a value is not finite.
    pub fn with_propensity_design(mut self, design: Array2<f64>) -> Result<Self> {
        if design.nrows() != self.len() || design.ncols() == 0 {
            return Err(Error::ShapeMismatch {
                what: "propensity design rows vs nuisances".into(),
                expected: self.len(),
                found: design.nrows(),
            });
        }
        if design.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "propensity design".into(),
                row: 0,
            });
        }
        self.propensity_design = Some(design);
        Ok(self)
    }

    /// `U_k = Î⁻¹ S_k` for every row, `S_k = (t_k − p̂_k) b_k` the logistic
    /// score and `Î = (1/N) Σ_k p̂_k(1 − p̂_k) b_k b_kᵀ` its information: the
    /// influence of row `k` on `β̂`. `None` without a propensity design.
    pub(crate) fn propensity_influence(&self) -> Result<Option<Array2<f64>>> {
        let Some(design) = &self.propensity_design else {
            return Ok(None);
        };
        let n = self.len() as f64;
        let variance = self.propensity.mapv(|p| p * (1.0 - p) / n);
        let information = crate::linalg::weighted_gram(design.view(), Some(variance.view()));
        let mut score = design.clone();
        for (mut row, (&t, &p)) in score
            .rows_mut()
            .into_iter()
            .zip(self.treatment.iter().zip(&self.propensity))
        {
            row *= t - p;
        }
        // U = S Î⁻¹ (Î symmetric), as Î⁻¹ Sᵀ transposed.
        let (solved, _) = crate::linalg::cholesky_solve(information.view(), score.t())?;
        Ok(Some(solved.reversed_axes()))
    }

    /// Rows of the target population, ascending.
    pub fn inside_rows(&self) -> Vec<usize> {
        (0..self.len()).filter(|&k| self.inside[k]).collect()
    }

    /// The cross-fitted nuisances of a DR-learner router. Errors with
    /// [`Error::Unsupported`] when [`unsupported`] gives a reason (the one
    /// rule of which routers carry inference).
    pub fn from_router(router: &FittedRouter) -> Result<Self> {
        if let Some(reason) = unsupported(router) {
            return Err(Error::Unsupported {
                learner: format!("{:?}", router.method()),
                what: reason.into(),
            });
        }
        let cf = router.cross_fitted().expect("checked by `unsupported`");
        let (Some(mean_gold), Some(mean_pref)) = (&cf.mean_gold, &cf.mean_pref) else {
            unreachable!("checked by `unsupported`")
        };
        Self::new(
            cf.treatment.clone(),
            cf.outcome.clone(),
            cf.propensity_raw
                .mapv(|p| p.clamp(INFERENCE_CLIP, 1.0 - INFERENCE_CLIP)),
            mean_gold.clone(),
            mean_pref.clone(),
        )
    }

    /// Number of pooled rows `N`.
    pub fn len(&self) -> usize {
        self.treatment.len()
    }

    /// Always false (construction rejects empty nuisances).
    pub fn is_empty(&self) -> bool {
        self.treatment.is_empty()
    }

    /// DR pseudo-outcomes
    /// `(t − p̂)/(p̂(1 − p̂)) (o − μ̂_t) + μ̂₁ − μ̂₀`, one per row (the
    /// DR-learner's bias-stage targets, [`dr_learner_targets`]).
    pub fn dr_pseudo_outcomes(&self) -> Array1<f64> {
        dr_learner_targets(
            self.outcome.view(),
            self.treatment.view(),
            self.mean_gold.view(),
            self.mean_pref.view(),
            self.propensity.view(),
        )
    }
}

/// Why AIPW inference cannot be drawn from `router`'s nuisances (completing
/// "… cannot …"), or `None` when it can: the one eligibility rule of the
/// inference targets (`docs/method.md` §6). Inference needs a DR-learner
/// (only it fits `μ̂₁`, `μ̂₀`), no scale normalization (`c = 1`), unweighted
/// rows, and out-of-fold outcome models fit on the folds (`cross_fit = true`,
/// `outcome_oob = false`), the setting whose coverage is checked.
pub fn unsupported(router: &FittedRouter) -> Option<&'static str> {
    if router.method() != Method::DrLearner {
        return Some(
            "supply the nuisances μ̂₁, μ̂₀ for inference (only the DR-learner fits them; \
             refit with method = \"dr-learner\")",
        );
    }
    if router.scale() != 1.0 {
        return Some(
            "be used for inference with scale normalization (c ≠ 1): set normalize = \"none\"",
        );
    }
    let Some(cf) = router.cross_fitted() else {
        return Some("supply cross-fitted nuisances");
    };
    if cf.sample_weights.is_some() {
        return Some(
            "be used for inference when fitted with sample weights (the AIPW scores here \
             are unweighted)",
        );
    }
    if cf.outcome_oob {
        return Some(
            "be used for inference with out-of-bag outcome models (outcome_oob = true): the \
             intervals' coverage is checked for cross-fitted nuisances only; refit with \
             outcome_oob = false",
        );
    }
    if !cf.cross_fit {
        return Some(
            "be used for inference with in-sample nuisances (cross_fit = false): refit with \
             cross_fit = true",
        );
    }
    if cf.mean_gold.is_none() || cf.mean_pref.is_none() {
        return Some("supply the nuisances μ̂₁, μ̂₀");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_reference() {
        // scipy.stats.norm.ppf(0.975) = 1.959963984540054
        assert!((normal_quantile(0.95).unwrap() - 1.959963984540054).abs() < 1e-9);
        // scipy.stats.norm.ppf(0.95) = 1.6448536269514722
        assert!((normal_quantile(0.90).unwrap() - 1.6448536269514722).abs() < 1e-9);
        assert!(normal_quantile(1.0).is_err());
        assert!(normal_quantile(0.0).is_err());
    }

    #[test]
    fn student_interval_and_satterthwaite_df_by_hand() {
        // scipy.stats.t.ppf(0.975, 10) = 2.228138851986274
        let e = Estimate::student(1.0, 0.5, 10.0, 0.95).unwrap();
        assert!((e.upper - 1.0 - 0.5 * 2.228138851986274).abs() < 1e-9);
        assert!((e.estimate - e.lower - (e.upper - e.estimate)).abs() < 1e-12);
        assert_eq!(
            Estimate::student(1.0, 0.5, f64::INFINITY, 0.95).unwrap(),
            Estimate::normal(1.0, 0.5, 0.95).unwrap()
        );
        assert!(Estimate::student(1.0, 0.5, 0.0, 0.95).is_err());
        assert!(Estimate::student(1.0, 0.5, f64::NAN, 0.95).is_err());
        // φ = (1, 0, 0, 0): Σφ² = 1, m = 1/4, Σ(φ² − m)² = 9/16 + 3/16 = 3/4,
        // ν̂ = 2·1/(3/4) = 8/3.
        let df = satterthwaite_df(ndarray::array![1.0, 0.0, 0.0, 0.0].view());
        assert!((df - 8.0 / 3.0).abs() < 1e-12);
        // Equal squares: no variability of the variance estimate.
        assert_eq!(
            satterthwaite_df(ndarray::array![1.0, -1.0, 1.0].view()),
            f64::INFINITY
        );
        // Equal up to rounding (φ = ±√0.1): a huge but finite df, whose
        // interval is the normal one (and is computed, not looped on).
        let r = 0.1f64.sqrt();
        let df = satterthwaite_df(ndarray::array![r, -r, r].view());
        assert!(df > 1e7, "{df}");
        assert_eq!(
            Estimate::student(1.0, 0.5, df, 0.95).unwrap(),
            Estimate::normal(1.0, 0.5, 0.95).unwrap()
        );
        // Many Gaussian-like terms of equal variance: ν̂ close to N.
        let phi = Array1::from_shape_fn(2000, |k| {
            crate::inference::normal_quantile((k as f64 + 0.5) / 2000.0).map_or(0.0, |z| z / 2.0)
        });
        let df = satterthwaite_df(phi.view());
        assert!((df / 2000.0 - 1.0).abs() < 0.1, "{df}");
    }

    #[test]
    fn estimate_interval_is_symmetric() {
        let e = Estimate::normal(1.0, 0.5, 0.95).unwrap();
        assert!((e.upper - 1.0 - 0.5 * 1.959963984540054).abs() < 1e-9);
        assert!((e.estimate - e.lower - (e.upper - e.estimate)).abs() < 1e-12);
        assert!(e.covers(1.9) && !e.covers(2.0));
        assert!(Estimate::normal(f64::NAN, 0.1, 0.95).is_err());
    }

    #[test]
    fn bounded_inside_clamps_only_rows_of_the_population() {
        let v = |x: &[f64]| Array1::from(x.to_vec());
        let n = Nuisances::new(
            v(&[1.0, 1.0, 0.0, 0.0, 1.0, 0.0]),
            v(&[1.0, 2.0, 0.5, 0.1, 0.3, 0.2]),
            v(&[0.001, 0.5, 0.999, 0.02, 0.97, 0.5]),
            v(&[0.0; 6]),
            v(&[0.0; 6]),
        )
        .unwrap()
        .within(&[true, true, true, false, true, true])
        .unwrap();
        let bounded = n.clone().bounded_inside(0.05);
        assert_eq!(
            bounded.propensity.to_vec(),
            vec![0.05, 0.5, 0.95, 0.02, 0.95, 0.5]
        );
        // No trimming (α at or below the guard) leaves every row alone.
        assert_eq!(n.clone().bounded_inside(0.0), n);
        assert_eq!(n.clone().bounded_inside(INFERENCE_CLIP), n);
    }

    /// The one eligibility rule: a cross-fitted DR-learner carries
    /// inference; an R-learner, scale normalization and in-sample or
    /// out-of-bag nuisances do not, and `from_router` refuses with the reason.
    #[test]
    fn only_cross_fitted_dr_routers_carry_inference() {
        use crate::data::TrainingData;
        use crate::learners::{ForestParams, LearnerConfig};
        use crate::meta::{FitSeeds, MetaRouterConfig, Normalize};
        let x =
            |n: usize| Array2::from_shape_fn((n, 2), |(i, j)| ((i * (j + 3)) as f64 * 0.37).sin());
        let (gx, px) = (x(60), x(240));
        let gy = gx.column(0).mapv(|s| s + 0.2 * (s * 7.0).cos());
        let py = px.column(0).mapv(|s| s - 0.3 + 0.1 * (s * 5.0).sin());
        let data = TrainingData::new(gx, gy, px, py).unwrap();
        let seeds = FitSeeds::from_seed(3);
        let reason = |config: MetaRouterConfig| {
            let router = config.fit(&data, seeds).unwrap();
            let reason = unsupported(&router);
            assert_eq!(reason.is_none(), Nuisances::from_router(&router).is_ok());
            reason
        };
        let dr = MetaRouterConfig::new(Method::DrLearner);
        assert_eq!(reason(dr.clone()), None);
        assert!(reason(MetaRouterConfig::new(Method::RLearner))
            .unwrap()
            .contains("only the DR-learner"));
        let mut in_sample = dr.clone();
        in_sample.cross_fit = false;
        assert!(reason(in_sample).unwrap().contains("cross_fit = false"));
        let mut scaled = dr.clone();
        scaled.normalize = Normalize::Variance;
        assert!(reason(scaled).unwrap().contains("normalize"));
        let mut oob = dr;
        oob.outcome_learner = Some(LearnerConfig::Forest(ForestParams {
            trees: 20,
            bootstrap: true,
            ..ForestParams::default()
        }));
        oob.outcome_oob = true;
        assert!(reason(oob).unwrap().contains("outcome_oob"));
    }

    #[test]
    fn nuisances_are_validated() {
        let v = |x: &[f64]| Array1::from(x.to_vec());
        let ok = Nuisances::new(
            v(&[1.0, 0.0]),
            v(&[1.0, 2.0]),
            v(&[0.5, 0.5]),
            v(&[0.0, 0.0]),
            v(&[0.0, 0.0]),
        );
        assert!(ok.is_ok());
        let bad_t = Nuisances::new(
            v(&[1.0, 0.5]),
            v(&[1.0, 2.0]),
            v(&[0.5, 0.5]),
            v(&[0.0, 0.0]),
            v(&[0.0, 0.0]),
        );
        assert!(bad_t.is_err());
        let bad_p = Nuisances::new(
            v(&[1.0, 0.0]),
            v(&[1.0, 2.0]),
            v(&[1.0, 0.5]),
            v(&[0.0, 0.0]),
            v(&[0.0, 0.0]),
        );
        assert!(bad_p.is_err());
        let all_gold = Nuisances::new(
            v(&[1.0, 1.0]),
            v(&[1.0, 2.0]),
            v(&[0.5, 0.5]),
            v(&[0.0, 0.0]),
            v(&[0.0, 0.0]),
        );
        assert!(all_gold.is_err());
    }
}
