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
//! rows, its Monte Carlo SE in `policy_value.truth_mcse`). Mean targets and
//! the projection need a DR-learner without normalization; other methods get
//! only `policy_value`.

use std::collections::BTreeMap;

use super::spec::{InferenceTarget, PointTruth, StudySpec};
use crate::dgp::{SimulatedData, TruthSample};
use crate::error::{Error, Result};
use crate::inference::{
    best_linear_projection, intercept_and_columns, mean_target, policy_value, Estimate, Nuisances,
    PolicySeeds, Population, Quantity, Sandwich,
};
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig, Method};
use crate::rng::{derive_seed, seed_for, stream, Purpose};

/// Replicate index of the truth-sample stream (never a real replicate).
const TRUTH_REPLICATE: u64 = u64::MAX;

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

/// Inference metrics of one estimator record.
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
    let dr_usable = router.method() == Method::DrLearner && router.scale() == 1.0;
    let nuisances = if dr_usable {
        Some(Nuisances::from_router(router)?)
    } else {
        None
    };
    for &target in &eval.inference {
        let constants = &truth.constants;
        let mean = match target {
            InferenceTarget::ThetaDelta => {
                Some((Quantity::Bias, Population::Pref, constants.mean_delta_pref))
            }
            InferenceTarget::ThetaPsi => {
                Some((Quantity::Gain, Population::Pref, constants.mean_psi_pref))
            }
            InferenceTarget::MeanDelta => {
                Some((Quantity::Bias, Population::Pooled, constants.mean_delta))
            }
            InferenceTarget::MeanPsi => {
                Some((Quantity::Gain, Population::Pooled, constants.mean_psi))
            }
            _ => None,
        };
        match (target, &nuisances) {
            (_, Some(n)) if mean.is_some() => {
                let (quantity, population, value) = mean.expect("checked");
                let e = mean_target(n, quantity, population, None, level)?;
                push(&mut extra, target.name(), &e, value);
            }
            (InferenceTarget::Projection, Some(n)) => {
                let blp_truth = truth.sample.projection(eval.projection_columns)?;
                let features =
                    intercept_and_columns(data.train.pooled_x().view(), eval.projection_columns)?;
                let fit = best_linear_projection(features.view(), n.dr_pseudo_outcomes().view())?;
                for (label, sandwich) in [("blp_hc0", Sandwich::Hc0), ("blp_hc1", Sandwich::Hc1)] {
                    for (j, e) in fit.estimates(sandwich, level)?.iter().enumerate() {
                        push(
                            &mut extra,
                            &format!("{label}.{j}"),
                            e,
                            blp_truth.coefficients[j],
                        );
                    }
                }
                extra.insert("blp.approximation_mse".into(), blp_truth.approximation_mse);
            }
            (InferenceTarget::PolicyValue, _) => {
                let policy_seeds = PolicySeeds {
                    split: seed_for(spec.seed, g as u64, r as u64, Purpose::Split),
                    fit: FitSeeds {
                        folds: derive_seed(seeds.folds, &[InferenceTarget::PolicyValue as u64]),
                        learner: derive_seed(seeds.learner, &[InferenceTarget::PolicyValue as u64]),
                    },
                };
                let fit = policy_value(config, &data.train, eval.policy_cost, policy_seeds, level)?;
                let cost = eval.policy_cost;
                let (value, mcse) = truth.sample.policy_value(
                    |x| {
                        let psi_hat = fit.router.predict_psi(x);
                        let costs = crate::routing::default_costs(psi_hat.len());
                        crate::routing::routed_indicator(psi_hat.view(), costs.view(), cost)
                    },
                    cost,
                )?;
                push(&mut extra, "policy_value", &fit.estimate, value);
                extra.insert("policy_value.truth_mcse".into(), mcse);
                extra.insert("policy_value.routed".into(), fit.routed_fraction);
            }
            _ => {}
        }
    }
    Ok(extra)
}
