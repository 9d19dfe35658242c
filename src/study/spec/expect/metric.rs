//! Which metrics a claim may name: the summary's routing and estimation
//! metrics (within their scope, defined for the method and, for
//! `better_than`, with a better side), the inference measures of the
//! enabled targets, a method's extra metrics, and convergence slopes.

use std::collections::BTreeSet;

use super::super::evaluation::{EvaluationSpec, InferenceTarget};
use super::super::locate::Source;
use super::super::{MethodKind, MethodSpec};
use super::{ClaimTest, Context, RawClaim, INFERENCE_FIELDS, SLOPE_SUFFIX};
use crate::error::{Error, Result};
use crate::meta::normalize::Normalize;
use crate::meta::Method;
use crate::study::record::{Direction, MetricAxis, MetricInfo, METRICS};
use crate::study::summary::INFERENCE_MEASURES;

/// The methods whose slope a claim judges: its own, and with `versus` the
/// other method's (the slope of the excess error).
fn slope_methods<'a>(
    raw: &RawClaim,
    method: &'a MethodSpec,
    cx: &'a Context,
    source: &Source,
    index: usize,
) -> Result<Vec<&'a MethodSpec>> {
    let key = |k: &str| format!("expect[{index}].{k}");
    let mut judged = vec![method];
    if let Some(reference) = &raw.versus {
        match cx.methods.iter().find(|m| &m.label == reference) {
            Some(other) if other.label != method.label => judged.push(other),
            Some(_) => {
                return Err(source
                    .error(&key("versus"), "a method has no excess error over itself")
                    .into())
            }
            None => {
                return Err(source
                    .error(
                        &key("versus"),
                        format!("no method is labelled `{reference}`"),
                    )
                    .into())
            }
        }
    }
    Ok(judged)
}

/// Checks a slope claim (`<metric>.slope`, `study::rates`): the study
/// declares `[evaluation] rate`, the metric is one whose slope is fitted and
/// is defined for the method (and `versus`), and the test is `within`.
pub(super) fn check_slope(
    base: &str,
    raw: &RawClaim,
    method: &MethodSpec,
    test: &ClaimTest,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<MetricAxis> {
    let key = |k: &str| format!("expect[{index}].{k}");
    if cx.evaluation.rate.is_none() {
        return Err(source
            .error(
                &key("metric"),
                "a convergence slope needs `[evaluation] rate = \"<grid parameter>\"`",
            )
            .into());
    }
    if !crate::study::rates::RATE_METRICS.contains(&base) {
        return Err(source
            .error(
                &key("metric"),
                format!(
                    "slopes are fitted for {} only",
                    crate::study::rates::RATE_METRICS
                        .iter()
                        .map(|m| format!("{m}{SLOPE_SUFFIX}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .into());
    }
    if matches!(test, ClaimTest::BetterThan { .. }) {
        return Err(source
            .error(
                &key("better_than"),
                "a slope is judged against a range: use `within = [lo, hi]` (and `versus` for the \
             slope of an excess error over another method)",
            )
            .into());
    }
    if raw.versus.is_some()
        && [crate::study::DELTA_BIAS, crate::study::PROPENSITY_MSE].contains(&base)
    {
        return Err(source
            .error(
                &key("versus"),
                format!(
                    "`{base}` has no paired-difference rows, so it has no excess slope; claim the \
                 method's own `{base}{SLOPE_SUFFIX}`"
                ),
            )
            .into());
    }
    let judged = slope_methods(raw, method, cx, source, index)?;
    for m in judged {
        if let Some(why) = undefined_reason(base, m, cx.evaluation) {
            return Err(source
                .error(
                    &key("metric"),
                    format!("`{base}` is not defined for method `{}` ({why})", m.label),
                )
                .into());
        }
    }
    Ok(MetricAxis::Scalar)
}

/// Whether a method gets the mean targets and the projection: a DR-learner
/// without scale normalization, with cross-fitted outcome models fit on the
/// folds (`inference::unsupported` of its fitted routers is `None`).
fn dr_without_scale(method: &MethodSpec) -> bool {
    matches!(&method.kind, MethodKind::Estimator(c)
        if c.method == Method::DrLearner
            && c.normalize == Normalize::None
            && c.cross_fit
            && !c.outcome_oob)
}

/// Why a per-method metric (`mse_delta`, `mse_psi`, `delta_bias`,
/// `propensity_mse`) is not recorded for `method`; `None` when it is (or for
/// other metrics).
fn undefined_reason(
    metric: &str,
    method: &MethodSpec,
    evaluation: &EvaluationSpec,
) -> Option<&'static str> {
    match metric {
        "mse_delta" if !method.estimates_delta() => Some("only R- and DR-learners estimate Δ"),
        "mse_psi" if method.kind == MethodKind::Random => Some("the random reference has no ψ̂"),
        crate::study::DELTA_BIAS if !perturbed(method) => {
            Some("it is recorded for methods with `oracle_error`")
        }
        crate::study::PROPENSITY_MSE if !evaluation.propensity_error => {
            Some("it is recorded with `[evaluation] propensity_error = true`")
        }
        crate::study::PROPENSITY_MSE if !method.estimates_delta() => {
            Some("only R- and DR-learners estimate a propensity")
        }
        _ if is_mean_or_projection(metric)
            && matches!(method.kind, MethodKind::Estimator(_))
            && !dr_without_scale(method) =>
        {
            Some(
                "the mean targets and the projection need a DR-learner with normalize = \
                 \"none\", cross_fit = true and outcome_oob = false",
            )
        }
        _ => None,
    }
}

/// Whether `metric` is a measure of a mean target or of the projection
/// (`theta_delta.coverage`, `blp_hc1.1.se`, `blp.approximation_mse`, …).
fn is_mean_or_projection(metric: &str) -> bool {
    let target = metric.split('.').next().unwrap_or("");
    metric.contains('.')
        && [
            InferenceTarget::ThetaDelta,
            InferenceTarget::ThetaPsi,
            InferenceTarget::MeanDelta,
            InferenceTarget::MeanPsi,
        ]
        .iter()
        .map(|t| t.name())
        .chain(["blp", "blp_hc0", "blp_hc1"])
        .any(|name| name == target)
}

/// Whether a method fits with perturbed oracle nuisances (`oracle_error`).
fn perturbed(method: &MethodSpec) -> bool {
    matches!(&method.kind, MethodKind::Estimator(c) if c.oracle_error.is_some())
}

/// The extra metrics a method's records carry: a perturbed oracle's error
/// sizes and bias, and `propensity_mse` when the study records it.
fn extra_metrics(method: &MethodSpec, evaluation: &EvaluationSpec) -> Vec<String> {
    let mut names = Vec::new();
    if undefined_reason(crate::study::PROPENSITY_MSE, method, evaluation).is_none() {
        names.push(crate::study::PROPENSITY_MSE.to_string());
    }
    if perturbed(method) {
        names.push(crate::study::DELTA_BIAS.to_string());
        for size in ["outcome", "propensity", "product"] {
            names.push(format!("nuisance_error.{size}"));
        }
    }
    names
}

/// The inference metric names a method's records and summary rows carry.
fn inference_metrics(method: &MethodSpec, evaluation: &EvaluationSpec) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if !matches!(method.kind, MethodKind::Estimator(_)) {
        return names;
    }
    let add_target = |names: &mut BTreeSet<String>, prefix: &str| {
        for field in INFERENCE_FIELDS.iter().chain(INFERENCE_MEASURES) {
            names.insert(format!("{prefix}.{field}"));
        }
    };
    let dr = dr_without_scale(method);
    for target in &evaluation.inference {
        match target {
            InferenceTarget::PolicyValue => {
                add_target(&mut names, "policy_value");
                names.insert("policy_value.truth_mcse".into());
                names.insert("policy_value.routed".into());
                names.insert("policy_value.df".into());
            }
            InferenceTarget::Projection if dr => {
                for label in ["blp_hc0", "blp_hc1"] {
                    for j in 0..=evaluation.projection_columns {
                        add_target(&mut names, &format!("{label}.{j}"));
                    }
                }
                names.insert("blp.approximation_mse".into());
            }
            InferenceTarget::Projection => {}
            other if dr => add_target(&mut names, other.name()),
            _ => {}
        }
    }
    names
}

/// A metric of the summary's table ([`METRICS`]): refused in a study of the
/// other kind (two or many models), for a method that does not record it, or
/// with `better_than` when it has no better side.
fn check_recorded(
    info: &MetricInfo,
    metric: &str,
    method: &MethodSpec,
    reference: Option<&MethodSpec>,
    cx: &Context,
    source: &Source,
    at: &str,
) -> Result<MetricAxis> {
    let multi = super::super::points_are_multi(cx.points);
    if !info.scope.applies(multi) {
        return Err(source.error(
            at,
            if multi {
                format!("`{metric}` is a two-model metric; many-model studies record mse_psi, mse_delta, regret, quality, cost, aiq and frontier_gap")
            } else {
                format!("`{metric}` is recorded by studies of a scenario with several candidate models only")
            },
        ).into());
    }
    for m in std::iter::once(method).chain(reference) {
        if let Some(why) = undefined_reason(metric, m, cx.evaluation) {
            return Err(source
                .error(
                    at,
                    format!("`{metric}` is not defined for method `{}` ({why})", m.label),
                )
                .into());
        }
    }
    if reference.is_some() && !matches!(info.direction, Direction::Higher | Direction::Lower) {
        return Err(source
            .error(
                at,
                format!("`{metric}` has no better side; state a range with `within`"),
            )
            .into());
    }
    Ok(info.axis)
}

/// Checks that `metric` exists for the claim's method (and reference) and
/// suits the test; returns the grid it runs over.
pub(super) fn check_metric(
    metric: &str,
    method: &MethodSpec,
    test: &ClaimTest,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<MetricAxis> {
    let at = format!("expect[{index}].metric");
    let reference = match test {
        ClaimTest::BetterThan { reference, .. } => {
            cx.methods.iter().find(|m| &m.label == reference)
        }
        ClaimTest::Within { .. } => None,
    };
    if let Some(info) = METRICS.iter().find(|m| m.name == metric) {
        return check_recorded(info, metric, method, reference, cx, source, &at);
    }
    let recorded = inference_metrics(method, cx.evaluation);
    let extras = extra_metrics(method, cx.evaluation);
    if recorded.contains(metric) || extras.iter().any(|m| m == metric) {
        if reference.is_some() {
            return Err(source
                .error(
                    &at,
                    format!(
                    "`better_than` is judged by paired-difference rows, which the summary has for \
                     the routing and estimation metrics only ({}); state a range for `{metric}` \
                     with `within`",
                    metric_names()
                ),
                )
                .into());
        }
        return Ok(MetricAxis::Scalar);
    }
    if let Some(why) = undefined_reason(metric, method, cx.evaluation) {
        return Err(source
            .error(
                &at,
                format!(
                    "`{metric}` is not defined for method `{}` ({why})",
                    method.label
                ),
            )
            .into());
    }
    Err(unknown_metric(
        metric,
        method,
        &recorded,
        &extras,
        cx.evaluation,
        source,
        &at,
    ))
}

/// The error for a metric the method does not record: lists the summary
/// metrics, the method's inference metrics (or why it has none) and its
/// extra metrics.
fn unknown_metric(
    metric: &str,
    method: &MethodSpec,
    recorded: &BTreeSet<String>,
    extras: &[String],
    evaluation: &EvaluationSpec,
    source: &Source,
    at: &str,
) -> Error {
    let targets: Vec<&str> = evaluation.inference.iter().map(|t| t.name()).collect();
    let perturbation = if extras.is_empty() {
        String::new()
    } else {
        format!("; it also records {}", extras.join(", "))
    };
    let inference = if targets.is_empty() {
        "no inference targets are enabled (`[evaluation] inference`)".to_string()
    } else if recorded.is_empty() {
        format!("method `{}` records no inference metrics", method.label)
    } else {
        format!(
            "inference metrics of `{}`: <target>.<measure> with targets from {} and measures {}",
            method.label,
            targets.join(", "),
            INFERENCE_MEASURES.join(", ")
        )
    };
    Error::from(source.error(
        at,
        format!(
            "unknown metric `{metric}` for method `{}` (metrics: {}; {inference}{perturbation})",
            method.label,
            metric_names()
        ),
    ))
}

/// The summary metrics' names, comma-separated.
fn metric_names() -> String {
    METRICS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}
