//! Claims of a study: the optional `[[expect]]` list, checked against the
//! study's own methods, metrics, grid and evaluation grids when the spec is
//! parsed.
//!
//! # Model
//! A claim is a statement about one summary row per grid point it covers:
//!
//! ```toml
//! [[expect]]                    # A beats B: judged by the paired difference A − B
//! method = "R"                  # a method label of the study
//! better_than = "pooled"        # another method label
//! metric = "mse_psi"            # a routing or estimation metric with a better side
//! grid = { n_gold = 100 }       # optional: the grid points (default: every point)
//! setting = { clip = 0.05 }     # optional: with `method` a swept entry's label, the
//!                               # variant with these values (one per swept key)
//! margin = 0.0                  # optional: by more than this (metric units), default 0
//! sigma = 3                     # optional: k, default 3
//! note = "the paper's Fig. 1"   # optional free text, printed with the outcome
//!
//! [[expect]]                    # a value lies within [lo, hi]
//! method = "DR"
//! metric = "theta_delta.coverage"
//! within = [0.93, 0.97]
//!
//! [[expect]]                    # curve metrics name their position on the ρ or w grid
//! method = "R"
//! better_than = "gs-only"
//! metric = "eg"
//! rho = 0.2                     # `w = …` for `regret`
//! ```
//!
//! Judgement (`docs/method.md` §8, `study::claims`): `better_than` holds when
//! the improvement of A over B (the paired difference's mean, signed so that
//! positive is better) minus `sigma` paired MCSEs exceeds `margin`; `within`
//! holds when the mean's distance from `[lo, hi]` is at most `sigma` MCSEs
//! at the nearer edge (for a coverage the binomial MCSE at that edge;
//! `sigma = 0`: the mean itself must lie inside).
//!
//! # Algorithm
//! Every key is checked at parse time and an error names `expect[i].<key>`
//! and its line: the methods must be labels of the study (and differ); the
//! metric must exist for the method (`mse_delta` needs a meta-learner; the
//! inference measures `<target>.<measure>` need the target in `[evaluation]
//! inference` and, except `policy_value`, a DR-learner without scale
//! normalization); `better_than` needs a metric whose paired-difference rows
//! exist and that has a better side; curve metrics need `rho` (or `w`) equal
//! to a value of that grid; `grid` keys must be grid parameters and their
//! values must occur in the grid.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::evaluation::{EvaluationSpec, InferenceTarget};
use super::locate::{deserialize_located, render, Source};
use super::{toml_to_json, GridPoint, MethodKind, MethodSpec};
use crate::error::Result;
use crate::meta::normalize::Normalize;
use crate::meta::Method;
use crate::study::record::{metric_direction, Direction, MetricAxis, METRICS};
use crate::study::summary::INFERENCE_MEASURES;

/// The default `sigma` of a claim: 3 Monte Carlo SEs.
pub const DEFAULT_CLAIM_SIGMA: f64 = 3.0;

/// Fields every inference target records (besides the derived measures).
const INFERENCE_FIELDS: &[&str] = &[
    "estimate", "se", "covered", "length", "error", "truth", "level",
];

/// What a claim asserts.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimTest {
    /// The claim's method beats `reference` by more than `margin`, judged by
    /// the paired-difference row `method − reference`.
    BetterThan {
        /// The reference method's label.
        reference: String,
        /// The least improvement, in the metric's units (≥ 0).
        margin: f64,
    },
    /// The metric's value lies within `[low, high]`.
    Within {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
}

/// One validated `[[expect]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// Position in the spec's `[[expect]]` list, from 0 (the claim `expect[i]`).
    pub index: usize,
    /// The method label the claim is about.
    pub method: String,
    /// The metric name (as in summary rows).
    pub metric: String,
    /// For curve metrics: the position in the ρ or w grid and its value.
    pub position: Option<(usize, f64)>,
    /// The grid the metric runs over.
    pub axis: MetricAxis,
    /// The grid points the claim covers (their parameter values), in grid order.
    pub points: Vec<BTreeMap<String, serde_json::Value>>,
    /// What it asserts.
    pub test: ClaimTest,
    /// `k`: how many Monte Carlo SEs the judgement allows for (≥ 0).
    pub sigma: f64,
    /// Free text from the spec.
    pub note: Option<String>,
    /// A slope claim's reference: the slope is that of the excess error
    /// `method − versus` (`study::rates`).
    pub versus: Option<String>,
}

impl Claim {
    /// The metric with its position: `mse_psi`, `eg(ρ=0.2)`, `regret(w=0.1)`.
    pub fn metric_label(&self) -> String {
        if let Some(reference) = &self.versus {
            return format!("{} of the excess over {reference}", self.metric);
        }
        match (self.axis, self.position) {
            (MetricAxis::Rho, Some((_, x))) => format!("{}(ρ={x})", self.metric),
            (MetricAxis::W, Some((_, x))) => format!("{}(w={x})", self.metric),
            _ => self.metric.clone(),
        }
    }

    /// The claim in words, e.g. `R beats pooled on mse_psi (lower is better)
    /// by more than 0 at 3 MCSE`.
    pub fn statement(&self) -> String {
        match &self.test {
            ClaimTest::BetterThan { reference, margin } => {
                let side = match metric_direction(&self.metric) {
                    Direction::Lower => "lower is better",
                    _ => "higher is better",
                };
                format!(
                    "{} beats {reference} on {} ({side}) by more than {margin} at {} MCSE",
                    self.method,
                    self.metric_label(),
                    self.sigma
                )
            }
            ClaimTest::Within { low, high } => format!(
                "{} of {} lies within [{low}, {high}] at {} MCSE",
                self.metric_label(),
                self.method,
                self.sigma
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    method: String,
    metric: String,
    #[serde(default)]
    grid: toml::Table,
    #[serde(default)]
    setting: toml::Table,
    rho: Option<f64>,
    w: Option<f64>,
    better_than: Option<String>,
    margin: Option<f64>,
    within: Option<Vec<f64>>,
    sigma: Option<f64>,
    note: Option<String>,
    versus: Option<String>,
}

/// What a spec's claims are checked against.
pub(super) struct Context<'a> {
    pub methods: &'a [MethodSpec],
    pub points: &'a [GridPoint],
    pub grid: &'a BTreeMap<String, Vec<toml::Value>>,
    pub evaluation: &'a EvaluationSpec,
}

/// Parses and validates the `[[expect]]` tables.
pub(super) fn parse_claims(
    tables: &[toml::Table],
    context: &Context,
    source: &Source,
) -> Result<Vec<Claim>> {
    tables
        .iter()
        .enumerate()
        .map(|(i, table)| parse_claim(i, table, context, source))
        .collect()
}

fn parse_claim(index: usize, table: &toml::Table, cx: &Context, source: &Source) -> Result<Claim> {
    let key = |k: &str| format!("expect[{index}].{k}");
    let raw: RawClaim =
        deserialize_located(&toml::Value::Table(table.clone())).map_err(|(path, message)| {
            let inner = render(&path);
            let at = if inner.is_empty() {
                format!("expect[{index}]")
            } else {
                key(&inner)
            };
            source.error(&at, message)
        })?;
    let labels: Vec<&str> = cx.methods.iter().map(|m| m.label.as_str()).collect();
    let find = |label: &str, at: &str| {
        cx.methods.iter().find(|m| m.label == label).ok_or_else(|| {
            source.error(
                &key(at),
                format!(
                    "no method is labelled `{label}` (methods: {})",
                    labels.join(", ")
                ),
            )
        })
    };
    let mut raw = raw;
    if !raw.setting.is_empty() {
        raw.method = select_variant(&raw.method, &raw.setting, cx, source, index)?;
    }
    let method = find(&raw.method, "method")?;
    let test = match (&raw.better_than, &raw.within) {
        (Some(_), Some(_)) => {
            return Err(source.error(
                &key("within"),
                "a claim takes either `better_than` or `within`, not both",
            ))
        }
        (None, None) => {
            return Err(source.error(
                &format!("expect[{index}]"),
                "a claim needs `better_than = \"<method>\"` or `within = [lo, hi]`",
            ))
        }
        (Some(reference), None) => {
            let other = find(reference, "better_than")?;
            if other.label == method.label {
                return Err(source.error(
                    &key("better_than"),
                    "a method cannot be compared with itself",
                ));
            }
            let margin = raw.margin.unwrap_or(0.0);
            if !(margin.is_finite() && margin >= 0.0) {
                return Err(source.error(&key("margin"), "margin must be finite and >= 0"));
            }
            ClaimTest::BetterThan {
                reference: reference.clone(),
                margin,
            }
        }
        (None, Some(range)) => {
            if raw.margin.is_some() {
                return Err(source.error(
                    &key("margin"),
                    "`margin` belongs to `better_than` claims; a `within` claim states its range",
                ));
            }
            match range.as_slice() {
                [low, high] if low.is_finite() && high.is_finite() && low <= high => {
                    ClaimTest::Within {
                        low: *low,
                        high: *high,
                    }
                }
                _ => {
                    return Err(source.error(
                        &key("within"),
                        "within must be two finite values [lo, hi] with lo <= hi",
                    ))
                }
            }
        }
    };
    let slope = raw.metric.strip_suffix(SLOPE_SUFFIX);
    let axis = match slope {
        Some(base) => check_slope(base, &raw, method, &test, cx, source, index)?,
        None => {
            if raw.versus.is_some() {
                return Err(source.error(
                    &key("versus"),
                    format!(
                        "`versus` names the reference of an excess error's convergence slope; it \
                         applies to `<metric>{SLOPE_SUFFIX}` claims only"
                    ),
                ));
            }
            check_metric(&raw.metric, method, &test, cx, source, index)?
        }
    };
    let position = check_position(&raw, axis, cx.evaluation, source, index)?;
    let sigma = raw.sigma.unwrap_or(DEFAULT_CLAIM_SIGMA);
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(source.error(&key("sigma"), "sigma must be finite and >= 0"));
    }
    let mut points = select_points(&raw.grid, cx, source, index)?;
    if slope.is_some() {
        // A slope runs across the rate key: one claim per other-key combination.
        let rate = cx.evaluation.rate.as_deref().unwrap_or_default();
        if raw.grid.contains_key(rate) {
            return Err(source.error(
                &key(&format!("grid.{rate}")),
                format!("a slope runs across `{rate}`; select the other grid parameters only"),
            ));
        }
        let mut distinct: Vec<BTreeMap<String, serde_json::Value>> = Vec::new();
        for mut point in points {
            point.remove(rate);
            if !distinct.contains(&point) {
                distinct.push(point);
            }
        }
        points = distinct;
    }
    Ok(Claim {
        index,
        method: raw.method,
        metric: raw.metric,
        position,
        axis,
        points,
        test,
        sigma,
        note: raw.note,
        versus: raw.versus,
    })
}

/// Suffix of a convergence-slope metric (`mse_delta.slope`).
pub const SLOPE_SUFFIX: &str = ".slope";

/// Checks a slope claim (`<metric>.slope`, `study::rates`): the study
/// declares `[evaluation] rate`, the metric is one whose slope is fitted and
/// is defined for the method (and `versus`), and the test is `within`.
fn check_slope(
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
        return Err(source.error(
            &key("metric"),
            "a convergence slope needs `[evaluation] rate = \"<grid parameter>\"`",
        ));
    }
    if !crate::study::rates::RATE_METRICS.contains(&base) {
        return Err(source.error(
            &key("metric"),
            format!(
                "slopes are fitted for {} only",
                crate::study::rates::RATE_METRICS
                    .iter()
                    .map(|m| format!("{m}{SLOPE_SUFFIX}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if matches!(test, ClaimTest::BetterThan { .. }) {
        return Err(source.error(
            &key("better_than"),
            "a slope is judged against a range: use `within = [lo, hi]` (and `versus` for the \
             slope of an excess error over another method)",
        ));
    }
    if raw.versus.is_some()
        && [crate::study::DELTA_BIAS, crate::study::PROPENSITY_MSE].contains(&base)
    {
        return Err(source.error(
            &key("versus"),
            format!(
                "`{base}` has no paired-difference rows, so it has no excess slope; claim the \
                 method's own `{base}{SLOPE_SUFFIX}`"
            ),
        ));
    }
    let mut judged = vec![method];
    if let Some(reference) = &raw.versus {
        match cx.methods.iter().find(|m| &m.label == reference) {
            Some(other) if other.label != method.label => judged.push(other),
            Some(_) => {
                return Err(source.error(&key("versus"), "a method has no excess error over itself"))
            }
            None => {
                return Err(source.error(
                    &key("versus"),
                    format!("no method is labelled `{reference}`"),
                ))
            }
        }
    }
    for m in judged {
        if let Some(why) = undefined_reason(base, m, cx.evaluation) {
            return Err(source.error(
                &key("metric"),
                format!("`{base}` is not defined for method `{}` ({why})", m.label),
            ));
        }
    }
    Ok(MetricAxis::Scalar)
}

/// The label of the variant of swept family `family` whose setting is
/// `setting` (a value for every swept key of the family).
fn select_variant(
    family: &str,
    setting: &toml::Table,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<String> {
    let key = |k: &str| format!("expect[{index}].{k}");
    let variants: Vec<&MethodSpec> = cx
        .methods
        .iter()
        .filter(|m| m.family == family && !m.setting.is_empty())
        .collect();
    let Some(first) = variants.first() else {
        let families: BTreeSet<&str> = cx
            .methods
            .iter()
            .filter(|m| !m.setting.is_empty())
            .map(|m| m.family.as_str())
            .collect();
        return Err(source.error(
            &key("method"),
            format!(
                "`setting` selects a variant of a swept method, and no `[[methods]]` entry \
                 labelled `{family}` has a sweep (swept: {})",
                if families.is_empty() {
                    "none".to_string()
                } else {
                    families.into_iter().collect::<Vec<_>>().join(", ")
                }
            ),
        ));
    };
    let swept: Vec<&str> = first.setting.keys().map(String::as_str).collect();
    let mut wanted = BTreeMap::new();
    for (k, value) in setting {
        if !first.setting.contains_key(k) {
            return Err(source.error(
                &key(&format!("setting.{k}")),
                format!("`{family}` sweeps {}, not `{k}`", swept.join(", ")),
            ));
        }
        let value = toml_to_json(value);
        if !variants.iter().any(|m| m.setting.get(k) == Some(&value)) {
            let values: BTreeSet<String> = variants
                .iter()
                .filter_map(|m| m.setting.get(k).map(|v| v.to_string()))
                .collect();
            return Err(source.error(
                &key(&format!("setting.{k}")),
                format!(
                    "{k} = {value} is not a swept value of `{family}` (values: {})",
                    values.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        wanted.insert(k.clone(), value);
    }
    if let Some(missing) = swept.iter().find(|k| !wanted.contains_key(**k)) {
        return Err(source.error(
            &key("setting"),
            format!(
                "`{family}` sweeps {}; the setting needs a value for each (missing `{missing}`)",
                swept.join(", ")
            ),
        ));
    }
    variants
        .iter()
        .find(|m| m.setting == wanted)
        .map(|m| m.label.clone())
        .ok_or_else(|| source.error(&key("setting"), "no variant has this setting"))
}

/// Whether a method is a DR-learner without scale normalization (the methods
/// that get the mean targets and the projection).
fn dr_without_scale(method: &MethodSpec) -> bool {
    matches!(&method.kind, MethodKind::Estimator(c)
        if c.method == Method::DrLearner && c.normalize == Normalize::None)
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
        _ => None,
    }
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

/// Checks that `metric` exists for the claim's method (and reference) and
/// suits the test; returns the grid it runs over.
fn check_metric(
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
        let multi = super::points_are_multi(cx.points);
        if !info.scope.applies(multi) {
            return Err(source.error(
                &at,
                if multi {
                    format!("`{metric}` is a two-model metric; many-model studies record mse_psi, mse_delta, regret, quality, cost, aiq and frontier_gap")
                } else {
                    format!("`{metric}` is recorded by studies of a scenario with several candidate models only")
                },
            ));
        }
        for m in std::iter::once(method).chain(reference) {
            if let Some(why) = undefined_reason(metric, m, cx.evaluation) {
                return Err(source.error(
                    &at,
                    format!("`{metric}` is not defined for method `{}` ({why})", m.label),
                ));
            }
        }
        if reference.is_some() && !matches!(info.direction, Direction::Higher | Direction::Lower) {
            return Err(source.error(
                &at,
                format!("`{metric}` has no better side; state a range with `within`"),
            ));
        }
        return Ok(info.axis);
    }
    let recorded = inference_metrics(method, cx.evaluation);
    let extras = extra_metrics(method, cx.evaluation);
    if recorded.contains(metric) || extras.iter().any(|m| m == metric) {
        if reference.is_some() {
            return Err(source.error(
                &at,
                format!(
                    "`better_than` is judged by paired-difference rows, which the summary has for \
                     the routing and estimation metrics only ({}); state a range for `{metric}` \
                     with `within`",
                    metric_names()
                ),
            ));
        }
        return Ok(MetricAxis::Scalar);
    }
    if let Some(why) = undefined_reason(metric, method, cx.evaluation) {
        return Err(source.error(
            &at,
            format!(
                "`{metric}` is not defined for method `{}` ({why})",
                method.label
            ),
        ));
    }
    let targets: Vec<&str> = cx.evaluation.inference.iter().map(|t| t.name()).collect();
    let perturbation = match extras {
        names if names.is_empty() => String::new(),
        names => format!("; it also records {}", names.join(", ")),
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
    Err(source.error(
        &at,
        format!(
            "unknown metric `{metric}` for method `{}` (metrics: {}; {inference}{perturbation})",
            method.label,
            metric_names()
        ),
    ))
}

fn metric_names() -> String {
    METRICS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The position of a curve metric from `rho = …` or `w = …`.
fn check_position(
    raw: &RawClaim,
    axis: MetricAxis,
    evaluation: &EvaluationSpec,
    source: &Source,
    index: usize,
) -> Result<Option<(usize, f64)>> {
    let key = |k: &str| format!("expect[{index}].{k}");
    let (wanted, grid, name, other) = match axis {
        MetricAxis::Scalar => {
            for (given, name) in [(raw.rho, "rho"), (raw.w, "w")] {
                if given.is_some() {
                    return Err(source.error(
                        &key(name),
                        format!("`{}` is a scalar metric; remove `{name}`", raw.metric),
                    ));
                }
            }
            return Ok(None);
        }
        MetricAxis::Rho => (raw.rho, &evaluation.rho, "rho", ("w", raw.w)),
        MetricAxis::W => (raw.w, &evaluation.w, "w", ("rho", raw.rho)),
    };
    if other.1.is_some() {
        return Err(source.error(
            &key(other.0),
            format!(
                "`{}` runs over the {name} grid; use `{name} = …`",
                raw.metric
            ),
        ));
    }
    let grid_text = grid
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(x) = wanted else {
        return Err(source.error(
            &format!("expect[{index}]"),
            format!(
                "`{}` is a curve: name its position with `{name} = …` (one of {grid_text})",
                raw.metric
            ),
        ));
    };
    match grid
        .iter()
        .position(|&g| (g - x).abs() <= 1e-9 * g.abs().max(1.0))
    {
        Some(i) => Ok(Some((i, grid[i]))),
        None => Err(source.error(
            &key(name),
            format!("{x} is not on the {name} grid ({grid_text})"),
        )),
    }
}

/// Whether two grid values are equal (numbers by value: `100` = `100.0`).
fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The grid points a claim's `grid` selector matches (every point when empty).
fn select_points(
    selector: &toml::Table,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<Vec<BTreeMap<String, serde_json::Value>>> {
    let names: Vec<&str> = cx.grid.keys().map(String::as_str).collect();
    for (name, value) in selector {
        let at = format!("expect[{index}].grid.{name}");
        let Some(values) = cx.grid.get(name) else {
            return Err(source.error(
                &at,
                if names.is_empty() {
                    format!("`{name}` is not a grid parameter (the study has no [grid])")
                } else {
                    format!(
                        "`{name}` is not a grid parameter (grid parameters: {})",
                        names.join(", ")
                    )
                },
            ));
        };
        let wanted = toml_to_json(value);
        if !values.iter().any(|v| same_value(&toml_to_json(v), &wanted)) {
            let listed: Vec<String> = values.iter().map(|v| toml_to_json(v).to_string()).collect();
            return Err(source.error(
                &at,
                format!(
                    "no grid point has {name} = {wanted} (values: {})",
                    listed.join(", ")
                ),
            ));
        }
    }
    Ok(cx
        .points
        .iter()
        .filter(|p| {
            selector.iter().all(|(name, value)| {
                p.values
                    .get(name)
                    .is_some_and(|v| same_value(v, &toml_to_json(value)))
            })
        })
        .map(|p| p.values.clone())
        .collect())
}
