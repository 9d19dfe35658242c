//! One unit of a study: draw the replicate's data, fit and evaluate every method.
//!
//! # Algorithm
//! Unit `(g, r)` draws its data of `K` models ([`Scenario::draw_models`]; a
//! two-model scenario is `K = 2`) from `rng::stream(seed, g, r, Data)`; every
//! method sees the same data (paired design) and the same fold and learner
//! seeds (`rng::seed_for(seed, g, r, Folds | Learner)`). One path for any `K`:
//! a method is fit once per non-reference model `k` on model `k`'s rows with
//! [`model_seeds`]`(seeds, k)` (for `K = 2` the unit's seeds themselves),
//! its ψ̂_k on the test queries is checked and scored against the true ψ_k
//! by [`routing::mse`] (meta-learners' Δ̂_k against the bias they estimate),
//! and the scores are evaluated by the study's metrics: a two-model study's
//! routing curves by [`routing::evaluate`], a many-model study's regret, AIQ
//! and frontier by [`routing::multi::evaluate`] (both on the one decision
//! rule, `routing::rule`). A fit that fails, a draw that fails, and a metric
//! that is not finite are recorded as failed records with the reason, never
//! dropped or redrawn.
//!
//! [`Scenario::draw_models`]: crate::dgp::Scenario::draw_models

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
        scenario.draw_models(&mut stream(spec.seed, g as u64, r as u64, Purpose::Data))
    });
    let multi = spec.is_multi_model();
    spec.methods
        .iter()
        .map(|method| {
            let started = Instant::now();
            let perturbed = perturbation.filter(|p| p.method == method.label);
            let shift = perturbed.map(|p| p.psi_shift).filter(|&s| s != 0.0);
            let inject = perturbed.is_some_and(|p| p.fail_replicates.contains(&r));
            let context = Context {
                spec,
                method,
                seeds,
                unit: (g, r),
                shift,
            };
            let outcome = match &data {
                _ if inject => Err(INJECTED_FAILURE.to_string()),
                Ok(data) if multi => evaluate_many(&context, data).map_err(|e| e.to_string()),
                Ok(data) => evaluate_two(&context, data, mean_gain),
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
pub(crate) const DELTA_BIAS: &str = "delta_bias";

/// Extra metric of `[evaluation] propensity_error`: the mean over the pooled
/// training rows of `(p̂ − p)²`, the propensity the bias stage was given
/// (out-of-fold, before clipping) against the scenario's true propensity.
pub(crate) const PROPENSITY_MSE: &str = "propensity_mse";

/// What every model's fit of one method in one unit shares.
struct Context<'a> {
    spec: &'a StudySpec,
    method: &'a MethodSpec,
    seeds: FitSeeds,
    unit: (usize, usize),
    /// A testing perturbation's shift of ψ̂.
    shift: Option<f64>,
}

/// Fits and evaluates one method in a two-model study (`K = 2`); the error
/// is the record's reason.
fn evaluate_two(
    context: &Context,
    data: &MultiSimulatedData,
    mean_gain: f64,
) -> std::result::Result<Evaluated, String> {
    let (mut metrics, diagnostics) = score_two(context, data).map_err(|e| e.to_string())?;
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

/// A two-model study's metrics: the primary model's fit (model 1 of `K =
/// 2`) scored by the routing curves of [`routing::evaluate`] at unit
/// relative cost; the `random` reference is evaluated, not fit.
fn score_two(context: &Context, data: &MultiSimulatedData) -> Result<Evaluated> {
    let [primary] = data.per_model.as_slice() else {
        return Err(Error::param(
            "scenario",
            data.models.len(),
            "a two-model study needs a scenario of two models",
        ));
    };
    let costs = data.test_costs.column(1);
    let eval = &context.spec.evaluation;
    if context.method.kind == MethodKind::Random {
        let routing = routing::Reference::Random { fraction: 0.5 }.evaluate(
            primary.test_psi.view(),
            costs,
            &eval.rho,
            &eval.w,
            eval.cutoff,
        )?;
        return Ok((routing_metrics(routing, None, None), BTreeMap::new()));
    }
    let fit = fit_model(context, primary, 1, None)?;
    let routing = routing::evaluate(
        fit.psi_hat.view(),
        primary.test_psi.view(),
        costs,
        &eval.rho,
        &eval.w,
        eval.cutoff,
    )?;
    let mut metrics = routing_metrics(routing, Some(fit.mse_psi), fit.mse_delta);
    metrics.extra = fit.extra;
    Ok((metrics, fit.diagnostics))
}

/// The two-model extras of a method's fit on one model's data: inference
/// metrics, a perturbed oracle's error sizes and `delta_bias`, and the
/// propensity error of `[evaluation] propensity_error`.
fn fit_extras(
    context: &Context,
    data: &SimulatedData,
    fitted: &Fitted,
) -> Result<BTreeMap<String, f64>> {
    let eval = &context.spec.evaluation;
    let mut extra = BTreeMap::new();
    let MethodKind::Estimator(config) = &context.method.kind else {
        return Ok(extra);
    };
    if let Some(router) = &fitted.router {
        if !eval.inference.is_empty() {
            let (spec, seeds, unit) = (context.spec, context.seeds, context.unit);
            extra = inference::metrics(spec, config, router, data, seeds, unit)?;
        }
    }
    // A perturbed oracle's error sizes (meta::oracle), for error-product studies.
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
    // Lemma 1 check: the estimated propensity against the true one.
    if eval.propensity_error {
        if let Some(cross) = fitted.router.as_ref().and_then(|r| r.cross_fitted()) {
            let error = routing::mse(cross.propensity_raw.view(), data.train_propensity.view())?;
            extra.insert(PROPENSITY_MSE.into(), error);
        }
    }
    Ok(extra)
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

/// Fits and evaluates one method in a many-model study: the method is fit
/// once per non-reference model `k` ([`fit_model`]), and the scores `ψ̂_0 =
/// 0, ψ̂_1, …` are evaluated by [`routing::multi::evaluate`] against the true
/// gains and costs.
fn evaluate_many(context: &Context, data: &MultiSimulatedData) -> Result<Evaluated> {
    let (t, k_models) = data.test_gain.dim();
    let mut score = Array2::zeros((t, k_models));
    let mut diagnostics = BTreeMap::new();
    let mut extra = BTreeMap::new();
    let (mut mse_psi, mut mse_delta, mut with_delta) = (0.0, 0.0, 0usize);
    for (i, model_data) in data.per_model.iter().enumerate() {
        let k = i + 1;
        let name = &data.models[k];
        let fit = fit_model(context, model_data, k, Some(name))?;
        extra.insert(format!("mse_psi:{name}"), fit.mse_psi);
        mse_psi += fit.mse_psi;
        if let Some(mse) = fit.mse_delta {
            extra.insert(format!("mse_delta:{name}"), mse);
            mse_delta += mse;
            with_delta += 1;
        }
        extra.extend(
            fit.extra
                .into_iter()
                .map(|(key, v)| (format!("{key}:{name}"), v)),
        );
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
        &context.spec.evaluation.w,
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

/// One non-reference model's fit of a method.
struct ModelFit {
    /// ψ̂_k on the test queries (shifted by a testing perturbation).
    psi_hat: Array1<f64>,
    /// MSE of ψ̂_k against ψ_k on the test queries.
    mse_psi: f64,
    /// MSE of Δ̂_k against Δ_k, for a method that estimates Δ.
    mse_delta: Option<f64>,
    /// The fit's diagnostics.
    diagnostics: BTreeMap<String, f64>,
    /// The fit's extra metrics ([`fit_extras`]).
    extra: BTreeMap<String, f64>,
}

/// Fits the context's method (not `random`) on model `k`'s rows with
/// [`model_seeds`]`(seeds, k)` (model 1: the unit's seeds) and scores the
/// test queries. `name` names the model in many-model studies (its data is
/// checked first and errors name it); `None` in two-model studies.
fn fit_model(
    context: &Context,
    data: &SimulatedData,
    k: usize,
    name: Option<&str>,
) -> Result<ModelFit> {
    if let (Some(_), MethodKind::Estimator(config)) = (name, &context.method.kind) {
        check_model_data(config, k, &data.train)?;
    }
    let fitted = fit_method(context.method, data, model_seeds(context.seeds, k));
    let fitted = match name {
        Some(name) => {
            fitted.map_err(|e| Error::param(format!("models[{k}]"), name, e.to_string()))?
        }
        None => fitted?,
    };
    let extra = fit_extras(context, data, &fitted)?;
    let mut psi_hat = fitted.psi_hat;
    if let Some(shift) = context.shift {
        psi_hat += shift;
    }
    if let Some(row) = psi_hat.iter().position(|v| !v.is_finite()) {
        let what = match name {
            Some(name) => format!("predicted ψ̂ of model {name} on test queries"),
            None => "predicted ψ̂ on test queries".to_string(),
        };
        return Err(CoreError::NonFinite { what, row }.into());
    }
    let mse_psi = routing::mse(psi_hat.view(), data.test_psi.view())?;
    let mse_delta = match fitted.delta {
        Some((d, target)) => Some(routing::mse(d.view(), target.view())?),
        None => None,
    };
    Ok(ModelFit {
        psi_hat,
        mse_psi,
        mse_delta,
        diagnostics: fitted.diagnostics,
        extra,
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
