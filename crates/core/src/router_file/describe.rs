//! What a fit tells about itself, as stored in its router file: the AIPW
//! inference of a DR-learner router over the chosen overlap population, and
//! the fit's warnings (a bias stage dominated by extreme propensity weights;
//! a constant propensity although the GS and PB queries differ).
//!
//! [`describe_fit`] is the one path from an in-memory fit to the
//! [`RouterFile`] that `meta-router fit` writes and the Python package's
//! `MetaRouter.save` writes: both store the same inference and notes for the
//! same data, configuration and seed.

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::inference::{
    intercept_and_columns, mean_target, projection_within, Nuisances, Population, Quantity,
    Sandwich,
};
use crate::meta::overlap::{FittedRegion, OverlapRegion, OverlapRule};
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig, PropensityMode};

use super::{RouterFile, TrainingSummary};

/// Confidence level of the intervals stored in a router file.
pub const INFERENCE_LEVEL: f64 = 0.95;

/// Largest number of leading features the stored best linear projection of
/// Δ uses (with an intercept).
pub const PROJECTION_COLUMNS: usize = 3;

/// Tag of the inference overlap region's propensity seed (derived from the
/// fit's learner seed, apart from every stream of the fit itself).
const INFERENCE_REGION_SEED: u64 = 0x006f_7665_726c_6170;

/// The router file of `router`, fit by `config` on `data` with `seeds`
/// (`seed` is what the file records; `features` names the columns): the
/// models, diagnostics, the inference over the population `overlap` chooses
/// (DR-learner routers; otherwise a note says why none is stored) and the
/// fit's warnings.
#[allow(clippy::too_many_arguments)]
pub fn describe_fit(
    config: &MetaRouterConfig,
    router: &FittedRouter,
    data: &TrainingData,
    features: Vec<String>,
    (seed, seeds): (u64, FitSeeds),
    overlap: OverlapRule,
    training: TrainingSummary,
) -> Result<RouterFile> {
    if features.len() != data.dim() {
        return Err(Error::ShapeMismatch {
            what: "feature names and feature columns".into(),
            expected: data.dim(),
            found: features.len(),
        });
    }
    let mut notes = Vec::new();
    let inference = match inference_of(
        config,
        router,
        data,
        &features,
        (overlap, seeds.learner),
        &mut notes,
    ) {
        Ok(inference) => inference,
        Err(e) => {
            notes.push(format!("no inference stored: {e}"));
            None
        }
    };
    notes.extend(fit_warnings(config, router, data, &features)?);
    if let Some(jitter) = inference.as_ref().and_then(|i| i.projection_jitter) {
        notes.push(format!(
            "the projection's design was near-singular (jitter {jitter:e}): a constant or \
             collinear leading feature; its coefficients are not meaningful"
        ));
    }
    let mut file = RouterFile::new(features, config.clone(), seed, training, router);
    file.inference = inference;
    file.notes = notes;
    Ok(file)
}

/// Warnings about a fit: a bias stage dominated by clipped or extreme
/// propensity weights; a constant propensity although the GS and PB
/// features differ beyond chance ([`imbalanced_features`]).
fn fit_warnings(
    config: &MetaRouterConfig,
    router: &FittedRouter,
    data: &TrainingData,
    names: &[String],
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if let Some(stage) = router.diagnostics().bias_stage.as_ref() {
        if stage.dominated && !stage.constant_propensity {
            notes.push(format!(
                "the bias stage is dominated by extreme or clipped propensity weights ({:.0}% of \
                 rows clipped, carrying {:.0}% of the weight; effective size {:.0} of {} rows): \
                 Δ̂ rests on few rows; consider a smoother propensity model, `trim`, or a larger \
                 `clip`",
                100.0 * stage.clipped_fraction,
                100.0 * stage.clipped_weight_share,
                stage.effective_rows,
                stage.rows
            ));
        }
    }
    if config.method.is_meta() && config.propensity == PropensityMode::Constant {
        let differences = standardized_differences(data);
        let flagged = imbalanced_features(&differences, data.n_gold(), data.n_pref())?;
        if !flagged.is_empty() {
            let shown: Vec<String> = flagged
                .iter()
                .take(5)
                .map(|&j| format!("{} ({:+.2})", names[j], differences[j]))
                .collect();
            notes.push(format!(
                "propensity = \"constant\" assumes the GS and PB queries are one pool split at \
                 random, but {} of {} features differ between them by more than \
                 {BALANCE_WARNING} standardized units and more than sampling noise explains: \
                 {}{}; set propensity = \"model\" in the config",
                flagged.len(),
                differences.len(),
                shown.join(", "),
                if flagged.len() > 5 { ", …" } else { "" }
            ));
        }
    }
    Ok(notes)
}

/// AIPW means and the best linear projection of Δ for a DR-learner router
/// fit without scale normalization; `None` for other routers.
///
/// The targets are averaged over the overlap region of `overlap.0` (fit with
/// the learner seed `overlap.1`); with a logistic propensity the standard
/// errors include the estimation of the propensity.
fn inference_of(
    config: &MetaRouterConfig,
    router: &FittedRouter,
    data: &TrainingData,
    names: &[String],
    (rule, learner_seed): (OverlapRule, u64),
    notes: &mut Vec<String>,
) -> Result<Option<super::SavedInference>> {
    if crate::inference::unsupported(router).is_some() {
        return Ok(None);
    }
    let mut nuisances = Nuisances::from_router(router)?;
    let region = OverlapRegion::fit(
        config,
        data,
        rule,
        crate::rng::derive_seed(learner_seed, &[INFERENCE_REGION_SEED]),
    )?;
    if !region.is_everything() {
        nuisances = nuisances.within(&region.inside)?;
    }
    nuisances = nuisances.bounded_inside(region.region.alpha);
    if rule == OverlapRule::None {
        notes.extend(weak_overlap_note(&region, data));
    }
    if let Some(design) = region.region.logistic_design(data.pooled_x().view()) {
        nuisances = nuisances.with_propensity_design(design)?;
    }
    let trimmed = !region.is_everything();
    let population = if trimmed {
        " in the overlap region"
    } else {
        ""
    };
    let means = saved_means(&nuisances, population)?;
    let columns = PROJECTION_COLUMNS.min(data.dim());
    let x = intercept_and_columns(data.pooled_x().view(), columns)?;
    let projection = projection_within(&nuisances, x.view())?;
    let jitter = projection.jitter;
    let estimates = projection.estimates(Sandwich::Hc1, INFERENCE_LEVEL)?;
    let projection = estimates
        .into_iter()
        .enumerate()
        .map(|(j, e)| {
            let target = if j == 0 {
                "Δ projection: intercept".to_string()
            } else {
                format!("Δ projection: {}", names[j - 1])
            };
            saved(target, e)
        })
        .collect();
    let all_finite = means
        .iter()
        .chain(&projection)
        .all(|e: &super::SavedEstimate| e.estimate.is_finite() && e.se.is_finite());
    if !all_finite {
        return Err(Error::param(
            "inference",
            "non-finite",
            "an estimate or standard error is not finite",
        ));
    }
    let facts = region.facts();
    Ok(Some(super::SavedInference {
        level: INFERENCE_LEVEL,
        means,
        projection,
        projection_jitter: (jitter > 0.0).then_some(jitter),
        overlap: Some(super::SavedOverlap {
            rule: rule.label(),
            alpha: region.region.alpha,
            gold_inside: facts[1].1,
            pref_inside: facts[2].1,
        }),
    }))
}

/// The note of an inference over every query (`--overlap none`) at weak
/// overlap: where the Crump rule would cut and how large the propensity
/// weights get; `None` when the Crump rule would keep every query.
fn weak_overlap_note(region: &FittedRegion, data: &TrainingData) -> Option<String> {
    let p = region.region.propensity(data.pooled_x().view());
    let alpha = crate::meta::overlap::crump_threshold(p.view(), None);
    if alpha > 0.0 {
        let outside = p.iter().filter(|&&v| v < alpha || v > 1.0 - alpha).count();
        return Some(format!(
            "inference over every query (--overlap none) at weak overlap: the Crump rule \
             would keep only p̂ ∈ [{alpha:.4}, {:.4}] ({outside} of {} rows outside), and \
             the untrimmed intervals rest on propensity weights up to {:.0}; they may \
             under-cover (the default, --overlap crump, reports the supported population)",
            1.0 - alpha,
            p.len(),
            p.iter()
                .map(|&v| 1.0 / (v * (1.0 - v)).max(1e-300))
                .fold(0.0, f64::max)
                .min(
                    1.0 / (crate::inference::INFERENCE_CLIP
                        * (1.0 - crate::inference::INFERENCE_CLIP))
                )
        ));
    }
    None
}

/// A stored estimate of `target`.
fn saved(target: String, e: crate::inference::Estimate) -> super::SavedEstimate {
    super::SavedEstimate {
        target,
        estimate: e.estimate,
        se: e.se,
        lower: e.lower,
        upper: e.upper,
    }
}

/// The AIPW means: the average PB bias and mean GS gain over the PB queries
/// and over the pooled queries (`population` names the overlap region when
/// the targets are trimmed to it).
fn saved_means(
    nuisances: &crate::inference::Nuisances,
    population: &str,
) -> Result<Vec<super::SavedEstimate>> {
    let mut means = Vec::new();
    for (name, quantity, target) in [
        (
            format!("average PB bias E[Δ | PB query{population}]"),
            Quantity::Bias,
            Population::Pref,
        ),
        (
            format!("mean GS gain E[ψ | PB query{population}]"),
            Quantity::Gain,
            Population::Pref,
        ),
        (
            format!("average bias E[Δ], pooled queries{population}"),
            Quantity::Bias,
            Population::Pooled,
        ),
        (
            format!("mean GS gain E[ψ], pooled queries{population}"),
            Quantity::Gain,
            Population::Pooled,
        ),
    ] {
        let e = mean_target(nuisances, quantity, target, None, INFERENCE_LEVEL)?;
        means.push(saved(name, e));
    }
    Ok(means)
}

/// Standardized mean difference of every feature between the GS and the PB
/// rows, `(x̄_GS − x̄_PB) / √((s²_GS + s²_PB)/2)` (0 for a constant
/// feature), in feature order. A constant propensity (`propensity =
/// "constant"`) assumes both come from one pool split at random; absolute
/// differences above [`BALANCE_WARNING`] say they do not.
pub(crate) fn standardized_differences(data: &TrainingData) -> Vec<f64> {
    let moments = |x: ndarray::ArrayView2<f64>| {
        let mean = x.mean_axis(ndarray::Axis(0)).expect("rows checked");
        // Both sources hold at least 2 rows (`training_data`).
        let var = x.var_axis(ndarray::Axis(0), 1.0);
        (mean, var)
    };
    let (mg, vg) = moments(data.gold_x());
    let (mp, vp) = moments(data.pref_x());
    (0..data.dim())
        .map(|j| {
            let pooled = ((vg[j] + vp[j]) / 2.0).sqrt();
            if pooled > 0.0 {
                (mg[j] - mp[j]) / pooled
            } else {
                0.0
            }
        })
        .collect()
}

/// Smallest |standardized difference| [`imbalanced_features`] flags (the
/// usual rule of thumb of the matching literature).
pub(crate) const BALANCE_WARNING: f64 = 0.1;

/// Family-wise error rate of the balance screen of [`imbalanced_features`].
pub(crate) const BALANCE_ALPHA: f64 = 0.01;

/// Features whose GS and PB queries differ beyond chance and beyond
/// [`BALANCE_WARNING`]: `|SMD_j| > 0.1` and `|SMD_j| / SE > z`, where
/// `SE = √(1/n + 1/m)` is the standardized difference's standard error
/// under a random split and `z = Φ⁻¹(1 − α/(2d))` (Bonferroni over the `d`
/// features, `α` = [`BALANCE_ALPHA`]). Under a random split the screen flags
/// any feature with probability at most about `α`; by `|SMD| > 0.1` alone,
/// 50 features and 100 GS rows would flag some feature most of the time.
pub(crate) fn imbalanced_features(
    differences: &[f64],
    n_gold: usize,
    n_pref: usize,
) -> Result<Vec<usize>> {
    let d = differences.len().max(1) as f64;
    let z = crate::inference::normal_quantile(1.0 - BALANCE_ALPHA / d)?;
    let se = (1.0 / n_gold as f64 + 1.0 / n_pref as f64).sqrt();
    Ok(differences
        .iter()
        .enumerate()
        .filter(|(_, s)| s.abs() > BALANCE_WARNING && s.abs() > z * se)
        .map(|(j, _)| j)
        .collect())
}
