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

mod metric;
mod select;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::evaluation::EvaluationSpec;
use super::locate::{deserialize_located, render, Source};
use super::{GridPoint, MethodSpec};
use crate::error::Result;
use crate::study::record::{metric_direction, Direction, MetricAxis};
use metric::{check_metric, check_slope};
use select::{check_position, select_points, select_variant};

/// The default `sigma` of a claim: 3 Monte Carlo SEs.
pub(crate) const DEFAULT_CLAIM_SIGMA: f64 = 3.0;

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

/// Parses and validates `[[expect]]` table `index`: the method (or swept
/// variant), the test, the metric and its position, `sigma` and the grid
/// points the claim covers.
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
        cx.methods
            .iter()
            .find(|m| m.label == label)
            .ok_or_else(|| -> crate::error::Error {
                source
                    .error(
                        &key(at),
                        format!(
                            "no method is labelled `{label}` (methods: {})",
                            labels.join(", ")
                        ),
                    )
                    .into()
            })
    };
    let mut raw = raw;
    if !raw.setting.is_empty() {
        raw.method = select_variant(&raw.method, &raw.setting, cx, source, index)?;
    }
    let method = find(&raw.method, "method")?;
    let test = parse_test(&raw, method, &find, source, index)?;
    let slope = raw.metric.strip_suffix(SLOPE_SUFFIX);
    let axis = match slope {
        Some(base) => check_slope(base, &raw, method, &test, cx, source, index)?,
        None => {
            if raw.versus.is_some() {
                return Err(source
                    .error(
                        &key("versus"),
                        format!(
                        "`versus` names the reference of an excess error's convergence slope; it \
                         applies to `<metric>{SLOPE_SUFFIX}` claims only"
                    ),
                    )
                    .into());
            }
            check_metric(&raw.metric, method, &test, cx, source, index)?
        }
    };
    let position = check_position(&raw, axis, cx.evaluation, source, index)?;
    let sigma = raw.sigma.unwrap_or(DEFAULT_CLAIM_SIGMA);
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(source
            .error(&key("sigma"), "sigma must be finite and >= 0")
            .into());
    }
    let mut points = select_points(&raw.grid, cx, source, index)?;
    if slope.is_some() {
        points = slope_points(points, &raw, cx, source, index)?;
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

/// The claim's test: `better_than` another method (by a margin ≥ 0) or
/// `within = [lo, hi]` (finite, lo ≤ hi) — exactly one of them; `find`
/// looks up a method label for the key it is given under.
fn parse_test<'m>(
    raw: &RawClaim,
    method: &MethodSpec,
    find: &dyn Fn(&str, &str) -> Result<&'m MethodSpec>,
    source: &Source,
    index: usize,
) -> Result<ClaimTest> {
    let key = |k: &str| format!("expect[{index}].{k}");
    Ok(match (&raw.better_than, &raw.within) {
        (Some(_), Some(_)) => {
            return Err(source
                .error(
                    &key("within"),
                    "a claim takes either `better_than` or `within`, not both",
                )
                .into())
        }
        (None, None) => {
            return Err(source
                .error(
                    &format!("expect[{index}]"),
                    "a claim needs `better_than = \"<method>\"` or `within = [lo, hi]`",
                )
                .into())
        }
        (Some(reference), None) => {
            let other = find(reference, "better_than")?;
            if other.label == method.label {
                return Err(source
                    .error(
                        &key("better_than"),
                        "a method cannot be compared with itself",
                    )
                    .into());
            }
            let margin = raw.margin.unwrap_or(0.0);
            if !(margin.is_finite() && margin >= 0.0) {
                return Err(source
                    .error(&key("margin"), "margin must be finite and >= 0")
                    .into());
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
                ).into());
            }
            match range.as_slice() {
                [low, high] if low.is_finite() && high.is_finite() && low <= high => {
                    ClaimTest::Within {
                        low: *low,
                        high: *high,
                    }
                }
                _ => {
                    return Err(source
                        .error(
                            &key("within"),
                            "within must be two finite values [lo, hi] with lo <= hi",
                        )
                        .into())
                }
            }
        }
    })
}

/// The points of a slope claim: a slope runs across the rate key, so one
/// claim per distinct combination of the other keys (in first-seen order);
/// selecting the rate key itself is refused.
fn slope_points(
    points: Vec<BTreeMap<String, serde_json::Value>>,
    raw: &RawClaim,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<Vec<BTreeMap<String, serde_json::Value>>> {
    let rate = cx.evaluation.rate.as_deref().unwrap_or_default();
    if raw.grid.contains_key(rate) {
        return Err(source
            .error(
                &format!("expect[{index}].grid.{rate}"),
                format!("a slope runs across `{rate}`; select the other grid parameters only"),
            )
            .into());
    }
    let mut distinct: Vec<BTreeMap<String, serde_json::Value>> = Vec::new();
    for mut point in points {
        point.remove(rate);
        if !distinct.contains(&point) {
            distinct.push(point);
        }
    }
    Ok(distinct)
}

/// Suffix of a convergence-slope metric (`mse_delta.slope`).
pub(crate) const SLOPE_SUFFIX: &str = ".slope";
