//! Inference metrics of one study record: estimate, SE, coverage indicator,
//! interval length and error against the scenario's truth, per target
//! (`[evaluation] inference = [...]`).
//!
//! Names: `<target>.estimate`, `.se`, `.covered` (0/1), `.length`, `.error`
//! (estimate − truth), `.truth`, `.level` (nominal); targets `theta_delta`, `theta_psi`,
//! `mean_delta`, `mean_psi` (truth: the population constants), `blp_hc0.<j>`
//! and `blp_hc1.<j>` for projection coefficient `j` (truth: the truth
//! sample's projection; `blp.approximation_mse` reports how far Δ is from
//! linear in the features) and `policy_value` (truth: the truth sample's PB
//! rows, its Monte Carlo SE in `policy_value.truth_mcse`; its interval is a
//! Student-t interval on Satterthwaite's degrees of freedom, recorded in
//! `policy_value.df`). Mean targets and
//! the projection need a DR-learner without normalization; other methods get
//! only `policy_value`.

use std::collections::BTreeMap;

use super::spec::{InferenceTarget, PointTruth, StudySpec};
use crate::dgp::{SimulatedData, TruthSample};
use crate::error::{Error, Result};
use crate::inference::{
    intercept_and_columns, mean_target, policy_value, projection_within, Estimate, Nuisances,
    PolicySeeds, PolicyTarget, Population, Quantity, Sandwich,
};
use crate::meta::overlap::{OverlapRegion, OverlapRule};
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig, PropensityMode};
use crate::rng::{derive_seed, seed_for, stream, Purpose};

/// Replicate index of the truth-sample stream (never a real replicate).
const TRUTH_REPLICATE: u64 = u64::MAX;
/// `policy_value.df` as recorded: Satterthwaite's df, at most this (an
/// infinite df, the normal interval, is recorded as the cap; records hold
/// finite numbers only).
const DF_CAP: f64 = 1e6;

fn point_truth(spec: &StudySpec, g: usize) -> Result<&PointTruth> {
    let point = &spec.points[g];
    let cached = point.truth.get_or_init(|| {
        let scenario = point.scenario.build().map_err(|e| e.to_string())?;
        let mut rng = stream(spec.seed, g as u64, TRUTH_REPLICATE, Purpose::Truth);
        let sample = TruthSample::draw(scenario.as_ref(), spec.evaluation.truth_rows, &mut rng)
            .map_err(|e| e.to_string())?;
        Ok(PointTruth {
            constants: scenario.constants(),
            sample,
        })
    });
    cached.as_ref().map_err(|e| Error::Draw {
        scenario: point.scenario.name().into(),
        what: "the truth sample".into(),
        reason: e.clone(),
    })
}

fn push(extra: &mut BTreeMap<String, f64>, name: &str, e: &Estimate, truth: f64) {
    extra.insert(format!("{name}.level"), e.level);
    extra.insert(format!("{name}.estimate"), e.estimate);
    extra.insert(format!("{name}.se"), e.se);
    extra.insert(
        format!("{name}.covered"),
        if e.covers(truth) { 1.0 } else { 0.0 },
    );
    extra.insert(format!("{name}.length"), e.length());
    extra.insert(format!("{name}.error"), e.estimate - truth);
    extra.insert(format!("{name}.truth"), truth);
}

/// The target population of a record's intervals: the overlap region of
/// `[evaluation] overlap` fit on the training data (`None` when it holds
/// every training row), and its membership on the truth sample.
struct Target {
    region: Option<crate::meta::overlap::FittedRegion>,
    truth_inside: Option<Vec<bool>>,
}

impl Target {
    fn new(
        spec: &StudySpec,
        config: &MetaRouterConfig,
        data: &SimulatedData,
        truth: &PointTruth,
        seeds: FitSeeds,
    ) -> Result<Self> {
        let rule = spec.evaluation.overlap;
        if rule == OverlapRule::None && config.propensity == PropensityMode::Constant {
            return Ok(Self {
                region: None,
                truth_inside: None,
            });
        }
        let region = OverlapRegion::fit(
            config,
            &data.train,
            rule,
            derive_seed(seeds.learner, &[OVERLAP_SEED]),
        )?;
        if region.is_everything() {
            return Ok(Self {
                region: Some(region),
                truth_inside: None,
            });
        }
        let truth_inside = region.region.contains(truth.sample.x.view());
        Ok(Self {
            region: Some(region),
            truth_inside: Some(truth_inside),
        })
    }

    /// The training rows inside, when the region trims any.
    fn inside(&self) -> Option<&[bool]> {
        self.truth_inside
            .as_ref()
            .and(self.region.as_ref().map(|r| r.inside.as_slice()))
    }
}

/// Tag of the overlap region's propensity seed (derived from the fit's
/// learner seed; never shifts the fit's own streams).
const OVERLAP_SEED: u64 = 0x006f_7665_726c_6170;

/// Inference metrics of one estimator record. With `[evaluation] overlap`
/// other than `none`, every target is averaged over the overlap region
/// (`overlap.*` metrics give its threshold and the shares of GS and PB
/// training rows inside) and its truth is the same average over the truth
/// sample's rows inside the region.
pub(crate) fn metrics(
    spec: &StudySpec,
    config: &MetaRouterConfig,
    router: &FittedRouter,
    data: &SimulatedData,
    seeds: FitSeeds,
    (g, r): (usize, usize),
) -> Result<BTreeMap<String, f64>> {
    let eval = &spec.evaluation;
    let level = eval.level;
    let truth = point_truth(spec, g)?;
    let mut extra = BTreeMap::new();
    // The one rule of which routers carry inference (the others record none).
    let dr_usable = crate::inference::unsupported(router).is_none();
    let target = Target::new(spec, config, data, truth, seeds)?;
    // With a constant propensity every query is inside: nothing to report.
    if let Some(region) = target
        .region
        .as_ref()
        .filter(|_| config.propensity == PropensityMode::Model)
    {
        for (name, value) in region.facts() {
            extra.insert(name.to_string(), value);
        }
    }
    let design = target
        .region
        .as_ref()
        .and_then(|r| r.region.logistic_design(data.train.pooled_x().view()));
    let nuisances = if dr_usable {
        Some(region_nuisances(router, &target, design.as_ref())?)
    } else {
        None
    };
    let context = Context {
        spec,
        config,
        data,
        seeds,
        unit: (g, r),
        target: &target,
        design: design.as_ref(),
        sample: &truth.sample,
    };
    for &t in &eval.inference {
        let mean = mean_truth(t, &target, truth)?;
        match (t, &nuisances) {
            (_, Some(n)) if mean.is_some() => {
                let (quantity, population, value) = mean.expect("checked");
                let e = mean_target(n, quantity, population, None, level)?;
                push(&mut extra, t.name(), &e, value);
            }
            (InferenceTarget::Projection, Some(n)) => {
                projection_metrics(&context, n, &mut extra)?;
            }
            (InferenceTarget::PolicyValue, _) => {
                policy_metrics(&context, &mut extra)?;
            }
            _ => {}
        }
    }
    Ok(extra)
}

/// What one record's inference metrics are computed from: the study, the
/// fit's configuration, data and seeds, the unit (grid point, replicate),
/// the target population, the overlap region's propensity design (when it
/// has one) and the truth sample.
struct Context<'a> {
    spec: &'a StudySpec,
    config: &'a MetaRouterConfig,
    data: &'a SimulatedData,
    seeds: FitSeeds,
    unit: (usize, usize),
    target: &'a Target,
    design: Option<&'a ndarray::Array2<f64>>,
    sample: &'a TruthSample,
}

/// The DR-learner's nuisances restricted to the target population: rows
/// inside the region, propensities bounded by its α, and its propensity
/// design for the estimated-propensity correction.
fn region_nuisances(
    router: &FittedRouter,
    target: &Target,
    design: Option<&ndarray::Array2<f64>>,
) -> Result<Nuisances> {
    let mut n = Nuisances::from_router(router)?;
    if let Some(mask) = target.inside() {
        n = n.within(mask)?;
    }
    if let Some(region) = &target.region {
        n = n.bounded_inside(region.region.alpha);
    }
    if let Some(design) = design {
        n = n.with_propensity_design(design.clone())?;
    }
    Ok(n)
}

/// For a mean target: the quantity (Δ or ψ), the population (PB or pooled)
/// and the truth — the truth sample's mean over the region when it trims,
/// else the population constant; `None` for other targets.
fn mean_truth(
    t: InferenceTarget,
    target: &Target,
    truth: &PointTruth,
) -> Result<Option<(Quantity, Population, f64)>> {
    let sample = &truth.sample;
    let within_truth = |values: &ndarray::Array1<f64>, pref_only: bool| -> Result<Option<f64>> {
        target
            .truth_inside
            .as_ref()
            .map(|mask| sample.mean_within(values, mask, pref_only))
            .transpose()
    };
    let constants = &truth.constants;
    Ok(match t {
        InferenceTarget::ThetaDelta => Some((
            Quantity::Bias,
            Population::Pref,
            within_truth(&sample.delta, true)?.unwrap_or(constants.mean_delta_pref),
        )),
        InferenceTarget::ThetaPsi => Some((
            Quantity::Gain,
            Population::Pref,
            within_truth(&sample.psi, true)?.unwrap_or(constants.mean_psi_pref),
        )),
        InferenceTarget::MeanDelta => Some((
            Quantity::Bias,
            Population::Pooled,
            within_truth(&sample.delta, false)?.unwrap_or(constants.mean_delta),
        )),
        InferenceTarget::MeanPsi => Some((
            Quantity::Gain,
            Population::Pooled,
            within_truth(&sample.psi, false)?.unwrap_or(constants.mean_psi),
        )),
        _ => None,
    })
}

/// The best linear projection of Δ on an intercept and the projection
/// columns: each coefficient's interval under HC0 and HC1 sandwiches against
/// the truth sample's projection, and that projection's approximation MSE.
fn projection_metrics(
    context: &Context,
    n: &Nuisances,
    extra: &mut BTreeMap<String, f64>,
) -> Result<()> {
    let eval = &context.spec.evaluation;
    let blp_truth = context.sample.projection_within(
        eval.projection_columns,
        context.target.truth_inside.as_deref(),
    )?;
    let features = intercept_and_columns(
        context.data.train.pooled_x().view(),
        eval.projection_columns,
    )?;
    let fit = projection_within(n, features.view())?;
    for (label, sandwich) in [("blp_hc0", Sandwich::Hc0), ("blp_hc1", Sandwich::Hc1)] {
        for (j, e) in fit.estimates(sandwich, eval.level)?.iter().enumerate() {
            push(extra, &format!("{label}.{j}"), e, blp_truth.coefficients[j]);
        }
    }
    extra.insert("blp.approximation_mse".into(), blp_truth.approximation_mse);
    Ok(())
}

/// The cross-fitted AIPW value of the router's policy (own split and fit
/// seeds, derived from the record's) against the truth sample's value of the
/// fitted policy, with that truth's Monte Carlo SE and the routed share.
fn policy_metrics(context: &Context, extra: &mut BTreeMap<String, f64>) -> Result<()> {
    let Context {
        spec,
        seeds,
        target,
        ..
    } = context;
    let (g, r) = context.unit;
    let eval = &spec.evaluation;
    let policy_seeds = PolicySeeds {
        split: seed_for(spec.seed, g as u64, r as u64, Purpose::Split),
        fit: FitSeeds {
            folds: derive_seed(seeds.folds, &[InferenceTarget::PolicyValue as u64]),
            learner: derive_seed(seeds.learner, &[InferenceTarget::PolicyValue as u64]),
        },
    };
    let fit = policy_value(
        context.config,
        &context.data.train,
        eval.policy_cost,
        policy_seeds,
        eval.level,
        PolicyTarget {
            inside: target.inside(),
            propensity_design: context.design.map(|d| d.view()),
            alpha: target.region.as_ref().map_or(0.0, |r| r.region.alpha),
        },
    )?;
    let cost = eval.policy_cost;
    let (value, mcse) = context.sample.policy_value(
        |x| {
            let psi_hat = fit.router.predict_psi(x);
            let costs = crate::routing::default_costs(psi_hat.len());
            Ok(crate::routing::routed_indicator(
                psi_hat.view(),
                costs.view(),
                cost,
            )?)
        },
        cost,
        target.truth_inside.as_deref(),
    )?;
    push(extra, "policy_value", &fit.estimate, value);
    extra.insert("policy_value.truth_mcse".into(), mcse);
    extra.insert("policy_value.routed".into(), fit.routed_fraction);
    extra.insert("policy_value.df".into(), fit.df.min(DF_CAP));
    Ok(())
}
