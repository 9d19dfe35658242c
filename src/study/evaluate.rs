//! One unit of a study: draw the replicate's data, fit and evaluate every method.
//!
//! # Algorithm
//! Unit `(g, r)` draws its data from `rng::stream(seed, g, r, Data)`; every
//! method sees the same data (paired design) and the same fold and learner
//! seeds (`rng::seed_for(seed, g, r, Folds | Learner)`). A method's ψ̂ on the
//! test queries is evaluated against the true ψ by [`routing::evaluate`] and
//! [`routing::mse`]; meta-learners' Δ̂ against the bias they estimate. A fit
//! that fails, a draw that fails, and a metric that is not finite are recorded
//! as failed records with the reason, never dropped or redrawn.

use std::collections::BTreeMap;
use std::time::Instant;

use ndarray::{Array1, Array2};

use super::inference;
use super::record::{Metrics, ModelShare, Record, ALWAYS_COST, ALWAYS_QUALITY};
use super::spec::{MethodKind, MethodSpec, StudySpec};
use crate::dgp::{MultiSimulatedData, SimulatedData};
use crate::error::{Error, Result};
use crate::meta::multi::check_model_data;
use crate::meta::normalize::bias_estimand;
use crate::meta::{fit_single, model_seeds, FitSeeds, FittedRouter, Nuisances, OracleNuisances};
use crate::rng::{seed_for, stream, Purpose};
use crate::routing;
use meta_router_core::Error as CoreError;

/// A deliberate error in one method's estimates, for testing `check` only.
///
/// `check` must be shown to fail on exactly the cells a faulty estimator
/// changes, under the *same* spec: runs of different specs are refused
/// before any cell is compared. By design no spec key or command-line option
/// changes an estimator's output without changing the spec, so tests inject
/// the fault here: the named method's ψ̂ on the test queries is shifted by
/// `psi_shift` before it is evaluated (Δ̂ is untouched), and its fit fails
/// (a failed record with an error naming the injection) at the replicates
/// in `fail_replicates`, at every grid point. It is reachable only through
/// the hidden `RunOptions::testing_perturbation` field of the library (not
/// the command line), and a run that uses it says so in `run.json`.
#[doc(hidden)]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestingPerturbation {
    /// The method label whose estimates are perturbed.
    pub method: String,
    /// Added to every test-query prediction ψ̂(q).
    pub psi_shift: f64,
    /// Replicates at which the method's fit fails.
    pub fail_replicates: Vec<usize>,
}

/// The error text of a fit failure injected by [`TestingPerturbation`].
pub const INJECTED_FAILURE: &str = "testing: an injected fit failure (TestingPerturbation)";

/// Every method's record for unit `(g, r)`, with each method's wall time in
/// seconds (kept apart from the records: they vary between runs).
pub fn run_unit(spec: &StudySpec, g: usize, r: usize) -> Vec<(Record, f64)> {
    run_unit_perturbed(spec, g, r, None)
}

/// [`run_unit`], with a method's estimates perturbed for tests.
pub(crate) fn run_unit_perturbed(
    spec: &StudySpec,
    g: usize,
    r: usize,
    perturbation: Option<&TestingPerturbation>,
) -> Vec<(Record, f64)> {
    let point = &spec.points[g];
    let seeds = FitSeeds {
        folds: seed_for(spec.seed, g as u64, r as u64, Purpose::Folds),
        learner: seed_for(spec.seed, g as u64, r as u64, Purpose::Learner),
    };
    let scenario = point.scenario.build();
    // The paper's scale divides EG by the test law's mean gain, a population
    // constant (not the replicate's own test mean).
    let mean_gain = scenario.as_ref().map_or(f64::NAN, |s| s.test_mean_gain());
    let data = scenario.and_then(|scenario| {
        let mut rng = stream(spec.seed, g as u64, r as u64, Purpose::Data);
        match scenario.as_multi() {
            Some(multi) => multi.draw_models(&mut rng).map(Replicate::Many),
            None => scenario.draw(&mut rng).map(Replicate::Two),
        }
    });
    spec.methods
        .iter()
        .map(|method| {
            let started = Instant::now();
            let perturbed = perturbation.filter(|p| p.method == method.label);
            let shift = perturbed.map(|p| p.psi_shift).filter(|&s| s != 0.0);
            let inject = perturbed.is_some_and(|p| p.fail_replicates.contains(&r));
            let outcome = match &data {
                _ if inject => Err(INJECTED_FAILURE.to_string()),
                Ok(Replicate::Two(data)) => {
                    evaluate_method(spec, method, data, seeds, (g, r), mean_gain, shift)
                }
                Ok(Replicate::Many(data)) => {
                    evaluate_many(spec, method, data, seeds, shift).map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("drawing the replicate's data failed: {e}")),
            };
            let seconds = started.elapsed().as_secs_f64();
            let (ok, error, metrics, diagnostics) = match outcome {
                Ok((metrics, diagnostics)) => (true, None, metrics, diagnostics),
                Err(reason) => (false, Some(reason), Metrics::default(), BTreeMap::new()),
            };
            let record = Record {
                grid: point.values.clone(),
                grid_index: g,
                replicate: r,
                method: method.label.clone(),
                setting: method.setting.clone(),
                ok,
                error,
                metrics,
                diagnostics,
                legacy_seconds: None,
            };
            (record, seconds)
        })
        .collect()
}

type Evaluated = (Metrics, BTreeMap<String, f64>);

/// Extra metric of perturbed-oracle methods (`oracle_error`): the mean of
/// `Δ̂(q) − Δ(q)` over the test queries.
pub const DELTA_BIAS: &str = "delta_bias";

/// Extra metric of `[evaluation] propensity_error`: the mean over the pooled
/// training rows of `(p̂ − p)²`, the propensity the bias stage was given
/// (out-of-fold, before clipping) against the scenario's true propensity.
pub const PROPENSITY_MSE: &str = "propensity_mse";

/// One replicate's data: two models, or several.
// One value per unit, never in a collection: boxing a variant buys nothing.
#[allow(clippy::large_enum_variant)]
enum Replicate {
    Two(SimulatedData),
    Many(MultiSimulatedData),
}

/// Fits and evaluates one method; the error is the record's reason.
fn evaluate_method(
    spec: &StudySpec,
    method: &MethodSpec,
    data: &SimulatedData,
    seeds: FitSeeds,
    unit: (usize, usize),
    mean_gain: f64,
    shift: Option<f64>,
) -> std::result::Result<Evaluated, String> {
    let (mut metrics, diagnostics) =
        fit_and_score(spec, method, data, seeds, unit, shift).map_err(|e| e.to_string())?;
    metrics.eg_paper = if mean_gain.is_finite() && mean_gain != 0.0 {
        routing::on_paper_scale(&metrics.eg, mean_gain)
    } else {
        vec![None; metrics.eg.len()]
    };
    if let Some((name, value)) = metrics.first_non_finite() {
        return Err(format!(
            "metric `{name}` is not finite ({value}); the fit produced unusable predictions"
        ));
    }
    if let Some((name, value)) = diagnostics.iter().find(|(_, v)| !v.is_finite()) {
        return Err(format!("diagnostic `{name}` is not finite ({value})"));
    }
    Ok((metrics, diagnostics))
}

fn fit_and_score(
    spec: &StudySpec,
    method: &MethodSpec,
    data: &SimulatedData,
    seeds: FitSeeds,
    unit: (usize, usize),
    shift: Option<f64>,
) -> Result<Evaluated> {
    let costs = Array1::ones(data.test_psi.len());
    let eval = &spec.evaluation;
    let mut extra = BTreeMap::new();
    if method.kind == MethodKind::Random {
        let routing = routing::Reference::Random { fraction: 0.5 }.evaluate(
            data.test_psi.view(),
            costs.view(),
            &eval.rho,
            &eval.w,
            eval.cutoff,
        )?;
        return Ok((routing_metrics(routing, None, None), BTreeMap::new()));
    }
    let fitted = fit_method(method, data, seeds)?;
    if let (Some(router), MethodKind::Estimator(config)) = (&fitted.router, &method.kind) {
        if !eval.inference.is_empty() {
            extra = inference::metrics(spec, config, router, data, seeds, unit)?;
        }
    }
    // A perturbed oracle's error sizes (meta::oracle), for error-product studies.
    if let MethodKind::Estimator(config) = &method.kind {
        if let Some(error) = &config.oracle_error {
            let (outcome, propensity) = error.sizes(data.train.n_total());
            extra.insert("nuisance_error.outcome".into(), outcome);
            extra.insert("nuisance_error.propensity".into(), propensity);
            extra.insert("nuisance_error.product".into(), outcome * propensity);
            // The mean error of Δ̂ over the test queries: its replicate mean is
            // the bias the errors cause (first order: the product).
            if let Some((d, target)) = &fitted.delta {
                if !d.is_empty() {
                    extra.insert(DELTA_BIAS.into(), (d - target).sum() / d.len() as f64);
                }
            }
        }
    }
    // Lemma 1 check: the estimated propensity against the true one.
    if eval.propensity_error {
        if let Some(cross) = fitted.router.as_ref().and_then(|r| r.cross_fitted()) {
            let error = routing::mse(cross.propensity_raw.view(), data.train_propensity.view())?;
            extra.insert(PROPENSITY_MSE.into(), error);
        }
    }
    let (mut psi_hat, delta_hat, diagnostics) = (fitted.psi_hat, fitted.delta, fitted.diagnostics);
    if let Some(shift) = shift {
        psi_hat += shift;
    }
    if let Some(row) = psi_hat.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::NonFinite {
            what: "predicted ψ̂ on test queries".into(),
            row,
        }
        .into());
    }
    let routing = routing::evaluate(
        psi_hat.view(),
        data.test_psi.view(),
        costs.view(),
        &eval.rho,
        &eval.w,
        eval.cutoff,
    )?;
    let mse_psi = Some(routing::mse(psi_hat.view(), data.test_psi.view())?);
    let mse_delta = match delta_hat {
        Some((d, target)) => Some(routing::mse(d.view(), target.view())?),
        None => None,
    };
    let mut metrics = routing_metrics(routing, mse_psi, mse_delta);
    metrics.extra = extra;
    Ok((metrics, diagnostics))
}

/// A method fit on one two-model data set: ψ̂ on the test queries, Δ̂ with
/// its target (meta-learners), the fit's diagnostics and the router.
struct Fitted {
    psi_hat: Array1<f64>,
    delta: Option<(Array1<f64>, Array1<f64>)>,
    diagnostics: BTreeMap<String, f64>,
    router: Option<FittedRouter>,
}

/// Fits `method` (not `random`) on `data` with `seeds`.
fn fit_method(method: &MethodSpec, data: &SimulatedData, seeds: FitSeeds) -> Result<Fitted> {
    let test_x = data.test_x.view();
    Ok(match &method.kind {
        MethodKind::Random => {
            return Err(Error::param(
                "method",
                "random",
                "the random reference is not fit",
            ))
        }
        MethodKind::Oracle => Fitted {
            psi_hat: data.test_psi.clone(),
            delta: None,
            diagnostics: BTreeMap::new(),
            router: None,
        },
        MethodKind::AllGold(learner) => {
            let x = data.train.pooled_x();
            let model = fit_single(learner, x.view(), data.all_gold_y.view(), seeds.learner)?;
            let diagnostics = model
                .diagnostics()
                .entries()
                .into_iter()
                .map(|(k, v)| (format!("final.{k}"), v))
                .collect();
            Fitted {
                psi_hat: model.predict(test_x),
                delta: None,
                diagnostics,
                router: None,
            }
        }
        MethodKind::Estimator(config) => {
            let router = match config.nuisances {
                Nuisances::Estimated => config.fit(&data.train, seeds)?,
                Nuisances::Oracle => {
                    let truth = OracleNuisances {
                        propensity: data.train_propensity.clone(),
                        psi: data.train_psi.clone(),
                        eta: &data.train_psi - &data.train_delta,
                    };
                    config.fit_with_oracle(&data.train, seeds, &truth)?
                }
            };
            let delta = router.predict_delta(test_x).map(|d| {
                let target =
                    bias_estimand(router.scale(), data.test_psi.view(), data.test_delta.view());
                (d, target)
            });
            Fitted {
                psi_hat: router.predict_psi(test_x),
                delta,
                diagnostics: router.diagnostics().to_map(),
                router: Some(router),
            }
        }
    })
}

/// Fits and evaluates one method on a replicate with several models: the
/// method is fit once per non-reference model `k` on model `k`'s rows with
/// [`model_seeds`]`(seeds, k)` (the estimator layer's rule, so `K = 2` is the
/// two-model fit), and the scores `ψ̂_0 = 0, ψ̂_1, …` are evaluated by
/// [`routing::multi::evaluate`] against the true gains and costs.
fn evaluate_many(
    spec: &StudySpec,
    method: &MethodSpec,
    data: &MultiSimulatedData,
    seeds: FitSeeds,
    shift: Option<f64>,
) -> Result<Evaluated> {
    let (t, k_models) = data.test_gain.dim();
    let mut score = Array2::zeros((t, k_models));
    let mut diagnostics = BTreeMap::new();
    let mut extra = BTreeMap::new();
    let (mut mse_psi, mut mse_delta, mut with_delta) = (0.0, 0.0, 0usize);
    for (i, model_data) in data.per_model.iter().enumerate() {
        let k = i + 1;
        let name = &data.models[k];
        let fit = fit_model(method, model_data, seeds, k, name, shift)?;
        extra.insert(format!("mse_psi:{name}"), fit.mse_psi);
        mse_psi += fit.mse_psi;
        if let Some(mse) = fit.mse_delta {
            extra.insert(format!("mse_delta:{name}"), mse);
            mse_delta += mse;
            with_delta += 1;
        }
        score.column_mut(k).assign(&fit.psi_hat);
        diagnostics.extend(
            fit.diagnostics
                .into_iter()
                .map(|(key, v)| (format!("{name}/{key}"), v)),
        );
    }
    let models = (k_models - 1) as f64;
    let eval = routing::multi::evaluate(
        score.view(),
        data.test_gain.view(),
        data.test_costs.view(),
        &spec.evaluation.w,
    )?;
    for (name, point) in data.models.iter().zip(&eval.single) {
        extra.insert(format!("{ALWAYS_COST}{name}"), point.cost);
        extra.insert(format!("{ALWAYS_QUALITY}{name}"), point.quality);
    }
    let metrics = Metrics {
        mse_psi: Some(mse_psi / models),
        mse_delta: (with_delta > 0).then(|| mse_delta / with_delta as f64),
        regret: eval.regret,
        quality: eval.quality,
        cost: eval.cost,
        aiq: Some(eval.aiq),
        frontier_gap: Some(eval.frontier_gap),
        shares: data
            .models
            .iter()
            .enumerate()
            .map(|(k, model)| ModelShare {
                model: model.clone(),
                share: eval.shares.iter().map(|at_w| at_w[k]).collect(),
            })
            .collect(),
        extra,
        ..Metrics::default()
    };
    if let Some((name, value)) = metrics.first_non_finite() {
        return Err(Error::param(
            name,
            value,
            "metric is not finite; the fit produced unusable predictions",
        ));
    }
    Ok((metrics, diagnostics))
}

/// One non-reference model's fit in a many-model replicate.
struct ModelFit {
    /// ψ̂_k on the test queries (shifted by a testing perturbation).
    psi_hat: Array1<f64>,
    /// MSE of ψ̂_k against ψ_k on the test queries.
    mse_psi: f64,
    /// MSE of Δ̂_k against Δ_k, for a method that estimates Δ.
    mse_delta: Option<f64>,
    /// The fit's diagnostics.
    diagnostics: BTreeMap<String, f64>,
}

/// Fits `method` on model `k`'s rows (`name`) with [`model_seeds`]`(seeds,
/// k)` and scores the test queries; a non-finite ψ̂ is an error naming the
/// model.
fn fit_model(
    method: &MethodSpec,
    model_data: &SimulatedData,
    seeds: FitSeeds,
    k: usize,
    name: &str,
    shift: Option<f64>,
) -> Result<ModelFit> {
    if let MethodKind::Estimator(config) = &method.kind {
        check_model_data(config, k, &model_data.train)?;
    }
    let fitted = fit_method(method, model_data, model_seeds(seeds, k))
        .map_err(|e| Error::param(format!("models[{k}]"), name, e.to_string()))?;
    let mut psi_hat = fitted.psi_hat;
    if let Some(shift) = shift {
        psi_hat += shift;
    }
    if let Some(row) = psi_hat.iter().position(|v| !v.is_finite()) {
        return Err(CoreError::NonFinite {
            what: format!("predicted ψ̂ of model {name} on test queries"),
            row,
        }
        .into());
    }
    let mse_psi = routing::mse(psi_hat.view(), model_data.test_psi.view())?;
    let mse_delta = match fitted.delta {
        Some((d, target)) => Some(routing::mse(d.view(), target.view())?),
        None => None,
    };
    Ok(ModelFit {
        psi_hat,
        mse_psi,
        mse_delta,
        diagnostics: fitted.diagnostics,
    })
}

fn routing_metrics(
    routing: routing::RoutingEvaluation,
    mse_psi: Option<f64>,
    mse_delta: Option<f64>,
) -> Metrics {
    Metrics {
        mse_psi,
        mse_delta,
        neg_area: Some(routing.neg_area),
        eg: routing.eg,
        neg: routing.neg,
        eg_paper: routing.eg_paper,
        regret: routing.regret,
        ..Metrics::default()
    }
}
