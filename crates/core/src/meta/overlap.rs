//! Overlap: the region of query space where both evaluations are present
//! often enough that the bias can be learned and averaged without extreme
//! inverse-propensity weights.
//!
//! # Model
//! With propensity `p(s) = P(t = 1 | s)` (GS query), every estimator of the
//! bias divides GS residuals by `p` or PB residuals by `1 − p`. Where `p` is
//! near 0 (PB queries that GS queries never resemble) or near 1, the
//! averages over the whole query law have a variance that the data cannot
//! pin down (the semiparametric bound grows with `E[1/(p(1 − p))]`, which
//! may be infinite), and clipping `p̂` to keep the weights finite biases
//! them. An *overlap region* `A = {s : α ≤ p(s) ≤ 1 − α}` names a population
//! the data can support: targets are averaged over `A`, and a truncated
//! Meta-Router learns `Δ` only there.
//!
//! # Algorithm
//! The region is defined by one propensity function of `s`, so that it is a
//! fixed population (the same for every row and for new queries):
//! - `propensity = "constant"`: `p̂ ≡ κ`; every query is inside unless `κ`
//!   itself lies outside `[α, 1 − α]`;
//! - `propensity = "model"`: the propensity learner fit once on every pooled
//!   row (not out of fold: the region is a population, not a nuisance), whose
//!   prediction `p̂(s)` decides membership.
//!
//! The threshold `α` ([`OverlapRule`]):
//! - `crump` — the rule of Crump, Hotz, Imbens & Mitnik (2009, Thm. 2):
//!   with `γ(s) = 1/(p(s)(1 − p(s)))`, `α = 0` (no trimming) when
//!   `sup γ ≤ 2 E[γ]`; otherwise `α` solves
//!   `1/(α(1 − α)) = 2 E[γ | γ ≤ 1/(α(1 − α))]`. It minimises the
//!   asymptotic variance of the trimmed average effect under homoskedastic
//!   errors, so it trims only where the weights cost more precision than the
//!   rows bring. On the sample ([`crump_threshold`]): sort `γ_(1) ≤ … ≤ γ_(N)`
//!   of the pooled rows, `m_j` the mean of the first `j`; the cut-off is
//!   `c* = 2 m_j` for the first `j` with `γ_(j+1) > 2 m_j`, and
//!   `α = 1/2 − √(1/4 − 1/c*)`, so exactly the first `j` rows are inside;
//! - a number `α ∈ (0, 0.5)` — the user's threshold;
//! - `none` — every query is inside (the untrimmed population).
//!
//! Membership uses only the features and the GS/PB indicator, never the
//! labels, so conditional on the design the outcomes inside the region are
//! untouched by the selection; for a region from a parametric (or otherwise
//! Donsker) propensity class, inference on the average over the *estimated*
//! region is first-order the same as over a fixed region (the centred
//! empirical process is equicontinuous over the class of indicator sets).
//!
//! # References
//! Crump, Hotz, Imbens & Mitnik (2009), Dealing with limited overlap in
//! estimation of average treatment effects, Biometrika 96(1), 187–199.
//! Zhang, Xie, Yang, Wu (2025), Meta-Router, arXiv 2509.25535 (Lemma 1: the
//! pooled-data propensity).
//!
//! # Example
//! ```
//! use ndarray::array;
//! use meta_router_core::meta::overlap::crump_threshold;
//! // Equal propensities: no trimming.
//! assert_eq!(crump_threshold(array![0.1, 0.1, 0.1].view(), None), 0.0);
//! // One row with p = 0.001 among rows at 0.5: it is trimmed.
//! let alpha = crump_threshold(array![0.5, 0.5, 0.5, 0.5, 0.001].view(), None);
//! assert!(alpha > 0.001 && alpha < 0.5);
//! ```

use ndarray::{Array1, ArrayView1, ArrayView2};

use serde::{Deserialize, Serialize};

pub use super::config::OverlapRule;
use super::config::{MetaRouterConfig, PropensityMode};
use super::diagnostics::Role;
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::learners::FittedModel;

/// The Crump–Hotz–Imbens–Mitnik threshold `α` of propensities `p` (optional
/// row weights), by the sample rule of the module docs; 0 when no trimming
/// pays. Values of `p` are clamped to `[1e-12, 1 − 1e-12]` first.
pub fn crump_threshold(propensity: ArrayView1<f64>, weights: Option<ArrayView1<f64>>) -> f64 {
    let n = propensity.len();
    if n == 0 {
        return 0.0;
    }
    let mut rows: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            let p = propensity[k].clamp(1e-12, 1.0 - 1e-12);
            (1.0 / (p * (1.0 - p)), weights.map_or(1.0, |w| w[k]))
        })
        .filter(|&(_, w)| w > 0.0)
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut sum, mut weight) = (0.0, 0.0);
    for j in 0..rows.len() {
        sum += rows[j].0 * rows[j].1;
        weight += rows[j].1;
        let cut = 2.0 * sum / weight;
        if let Some(next) = rows.get(j + 1) {
            if next.0 > cut {
                // c* = 2 m_j ≥ 4 since every γ ≥ 4.
                return 0.5 - (0.25 - 1.0 / cut).max(0.0).sqrt();
            }
        }
    }
    0.0
}

/// Where the region's propensity comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum RegionPropensity {
    /// `p̂ ≡ κ`.
    Constant(f64),
    /// A probability model fit on every pooled row.
    Model(Box<FittedModel>),
}

/// A fitted overlap region `{s : α ≤ p̂(s) ≤ 1 − α}` (module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlapRegion {
    /// The rule that chose `α`.
    pub rule: OverlapRule,
    /// `α` (0: every query is inside).
    pub alpha: f64,
    /// The propensity that decides membership.
    pub propensity: RegionPropensity,
}

/// An overlap region with the membership of the training rows it was fit on.
#[derive(Debug, Clone)]
pub struct FittedRegion {
    /// The region.
    pub region: OverlapRegion,
    /// Whether each pooled training row (GS rows first) is inside.
    pub inside: Vec<bool>,
    /// GS training rows inside.
    pub gold_inside: usize,
    /// PB training rows inside.
    pub pref_inside: usize,
    /// GS training rows (rows `0..n_gold` of `inside`).
    pub n_gold: usize,
}

impl FittedRegion {
    /// Whether the region holds every training row.
    pub fn is_everything(&self) -> bool {
        self.inside.iter().all(|&k| k)
    }

    /// Share of the pooled training rows inside.
    pub fn share(&self) -> f64 {
        (self.gold_inside + self.pref_inside) as f64 / self.inside.len().max(1) as f64
    }

    /// Non-fatal facts, named `overlap.*`: `alpha`, `gold_inside`,
    /// `pref_inside` (shares of the GS and PB rows inside).
    pub fn facts(&self) -> Vec<(&'static str, f64)> {
        let n_pref = self.inside.len() - self.n_gold;
        let share = |inside: usize, of: usize| inside as f64 / of.max(1) as f64;
        vec![
            ("overlap.alpha", self.region.alpha),
            ("overlap.gold_inside", share(self.gold_inside, self.n_gold)),
            ("overlap.pref_inside", share(self.pref_inside, n_pref)),
        ]
    }
}

impl OverlapRegion {
    /// `p̂(s)` for the rows of `x`.
    #[track_caller]
    pub fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64> {
        match &self.propensity {
            RegionPropensity::Constant(kappa) => Array1::from_elem(x.nrows(), *kappa),
            RegionPropensity::Model(model) => model.predict(x),
        }
    }

    /// The design `[1, b(s)]` of the region's propensity when it is a
    /// logistic model on a polynomial basis (linear or degree 2), for the
    /// rows of `x`: `p̂ = σ(b(s)ᵀβ̂)` in an affine reparametrisation, which
    /// the estimated-propensity correction of standard errors needs
    /// (`crate::inference::Nuisances::with_propensity_design`). `None` for a
    /// constant, a non-logistic model or random Fourier features.
    pub fn logistic_design(&self, x: ArrayView2<f64>) -> Option<ndarray::Array2<f64>> {
        let RegionPropensity::Model(boxed) = &self.propensity else {
            return None;
        };
        let FittedModel::Logistic(model) = boxed.as_ref() else {
            return None;
        };
        let expansion = model.expansion();
        if expansion.basis() == crate::learners::Basis::Rff {
            return None;
        }
        let features = expansion.transform(x);
        let mut design = ndarray::Array2::ones((x.nrows(), features.ncols() + 1));
        design.slice_mut(ndarray::s![.., 1..]).assign(&features);
        Some(design)
    }

    /// Whether each row of `x` lies in the region.
    #[track_caller]
    pub fn contains(&self, x: ArrayView2<f64>) -> Vec<bool> {
        self.propensity(x).iter().map(|&p| self.holds(p)).collect()
    }

    /// Whether a propensity `p` lies in `[α, 1 − α]` (always for `α = 0`).
    pub fn holds(&self, p: f64) -> bool {
        self.alpha == 0.0 || (p >= self.alpha && p <= 1.0 - self.alpha)
    }

    /// Checks a region read from a file: `α ∈ [0, 0.5)`, a constant in
    /// `(0, 1)` or a valid model predicting from `dim` columns.
    pub fn validate(&self, dim: usize) -> Result<()> {
        if !(self.alpha >= 0.0 && self.alpha < 0.5) {
            return Err(Error::param(
                "overlap.alpha",
                self.alpha,
                "must lie in [0, 0.5)",
            ));
        }
        self.rule.validate("overlap.rule")?;
        match &self.propensity {
            RegionPropensity::Constant(kappa) if !(*kappa > 0.0 && *kappa < 1.0) => {
                Err(Error::param(
                    "overlap.propensity",
                    *kappa,
                    "a constant must lie in (0, 1)",
                ))
            }
            RegionPropensity::Constant(_) => Ok(()),
            RegionPropensity::Model(model) => {
                model.validate()?;
                if model.input_dim() != dim {
                    return Err(Error::ShapeMismatch {
                        what: "feature columns of the overlap propensity model vs the router"
                            .into(),
                        expected: dim,
                        found: model.input_dim(),
                    });
                }
                Ok(())
            }
        }
    }

    /// Fits the region of `rule` on `data` with `config`'s propensity
    /// setting (module docs); `learner_seed` seeds the propensity model.
    /// Errors when the region keeps fewer than two GS or two PB rows.
    pub fn fit(
        config: &MetaRouterConfig,
        data: &TrainingData,
        rule: OverlapRule,
        learner_seed: u64,
    ) -> Result<FittedRegion> {
        rule.validate("overlap")?;
        let weights = data.pooled_weights();
        let (propensity, p) = match config.propensity {
            PropensityMode::Constant => {
                let kappa = data.kappa();
                (
                    RegionPropensity::Constant(kappa),
                    Array1::from_elem(data.n_total(), kappa),
                )
            }
            PropensityMode::Model => {
                let x = data.pooled_x();
                let model = config.propensity_learner.learner().fit_probability(
                    x.view(),
                    data.pooled_t().view(),
                    weights.as_ref().map(|w| w.view()),
                    Role::Overlap.single_seed(learner_seed),
                )?;
                let p = model.predict(x.view());
                (RegionPropensity::Model(Box::new(model)), p)
            }
        };
        let alpha = match rule {
            OverlapRule::None => 0.0,
            OverlapRule::Crump => crump_threshold(p.view(), weights.as_ref().map(|w| w.view())),
            OverlapRule::Threshold(a) => a,
        };
        let region = OverlapRegion {
            rule,
            alpha,
            propensity,
        };
        let inside: Vec<bool> = p.iter().map(|&v| region.holds(v)).collect();
        let n_gold = data.n_gold();
        let gold_inside = inside[..n_gold].iter().filter(|&&k| k).count();
        let pref_inside = inside[n_gold..].iter().filter(|&&k| k).count();
        if gold_inside < 2 || pref_inside < 2 {
            return Err(Error::param(
                "overlap",
                rule.label(),
                format!(
                    "the overlap region p̂ ∈ [{alpha:.4}, {:.4}] holds {gold_inside} of {n_gold} GS \
                     rows and {pref_inside} of {} PB rows; it needs at least two of each (GS and \
                     PB queries barely overlap: check the features, or use a smaller threshold)",
                    1.0 - alpha,
                    data.n_pref()
                ),
            ));
        }
        Ok(FittedRegion {
            region,
            inside,
            gold_inside,
            pref_inside,
            n_gold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// The sample rule by hand: γ = 1/(p(1−p)).
    #[test]
    fn crump_threshold_by_hand() {
        // Four rows at p = 0.5 (γ = 4) and one at p = 0.01 (γ = 101.01):
        // m_4 = 4, 2 m_4 = 8 < 101.01, so c* = 8, α = 1/2 − √(1/4 − 1/8).
        let alpha = crump_threshold(array![0.5, 0.5, 0.01, 0.5, 0.5].view(), None);
        assert!((alpha - (0.5 - (0.125f64).sqrt())).abs() < 1e-15, "{alpha}");
        // sup γ ≤ 2 mean γ: no trimming.
        assert_eq!(crump_threshold(array![0.3, 0.5, 0.4].view(), None), 0.0);
        // The weight of a row counts as that many copies.
        let weighted = crump_threshold(array![0.5, 0.01].view(), Some(array![4.0, 1.0].view()));
        assert!((weighted - alpha).abs() < 1e-15);
        // The threshold lies between the kept and the trimmed rows.
        let p = array![0.2, 0.3, 0.5, 0.02, 0.97, 0.4];
        let a = crump_threshold(p.view(), None);
        assert!(a > 0.03 && a < 0.2, "{a}");
    }

    #[test]
    fn rules_parse_and_refuse() {
        assert_eq!(OverlapRule::parse("crump").unwrap(), OverlapRule::Crump);
        assert_eq!(OverlapRule::parse("none").unwrap(), OverlapRule::None);
        assert_eq!(
            OverlapRule::parse("0.05").unwrap(),
            OverlapRule::Threshold(0.05)
        );
        assert!(OverlapRule::parse("0.5").is_err());
        assert!(OverlapRule::parse("trim").is_err());
        #[derive(Deserialize)]
        struct T {
            overlap: OverlapRule,
        }
        let t: T = toml::from_str("overlap = 0.1").unwrap();
        assert_eq!(t.overlap, OverlapRule::Threshold(0.1));
        let t: T = toml::from_str("overlap = \"crump\"").unwrap();
        assert_eq!(t.overlap, OverlapRule::Crump);
        assert!(toml::from_str::<T>("overlap = 0.7").is_err());
        assert!(toml::from_str::<T>("overlap = \"trim\"").is_err());
    }
}
