//! Figures of rate studies (`[evaluation] rate`, `study::rates`), on log–log
//! axes drawn as `log10` coordinates:
//! - `rate_<metric>`: `log10 MSE` against `log10` of the rate key, one line
//!   per method labelled with its fitted slope and SE, ±2 MCSE bars by the
//!   delta method (`MCSE/(M·ln 10)`), one panel per combination of the other
//!   grid parameters;
//! - `excess_<metric>`: the same for the excess errors `method − versus`
//!   (points whose excess is not positive are left out);
//! - `error_product`: `log10` of the mean error of `Δ̂` (the `delta_bias`
//!   rows) against `log10(δ_μ·δ_p)`, the product of the perturbed oracle's
//!   nuisance errors (the `nuisance_error.product` rows), with the theory's
//!   line `bias = δ_μ·δ_p` (slope 1 through the origin, `meta::oracle`).

use std::collections::BTreeMap;
use std::f64::consts::LN_10;

use serde_json::Value;

use super::layout::{method_color, Figure, Panel, Point, Series, Spread};
use crate::report::format::format_significant;
use crate::report::view::{grid_label, View};
use crate::study::rates::RATE_METRICS;
use crate::study::record::{SlopeRow, Summary, SummaryRow};
use crate::study::DELTA_BIAS;

/// The metric of the perturbed oracle's error product (`study::evaluate`).
pub(crate) const PRODUCT_METRIC: &str = "nuisance_error.product";

/// A positive mean as a `log10` point with its delta-method SE.
fn log_point(x: f64, row: &SummaryRow) -> Option<Point> {
    let mean = row.mean.filter(|m| *m > 0.0 && m.is_finite())?;
    let se = row.mcse.filter(|s| s.is_finite()).unwrap_or(0.0) / (mean * LN_10);
    Some(Point {
        x,
        mean: mean.log10(),
        se,
    })
}

fn others(grid: &BTreeMap<String, Value>, key: &str) -> BTreeMap<String, Value> {
    let mut others = grid.clone();
    others.remove(key);
    others
}

/// Every rate and excess figure of the summary.
pub(super) fn rate_figures(view: &View, summary: &Summary) -> Vec<Figure> {
    let Some(key) = summary.slopes.first().map(|s| s.against.clone()) else {
        return Vec::new();
    };
    let mut figures = Vec::new();
    for metric in RATE_METRICS {
        for excess in [false, true] {
            let slopes: Vec<&SlopeRow> = summary
                .slopes
                .iter()
                .filter(|s| s.metric == *metric && s.versus.is_some() == excess)
                .collect();
            if slopes.is_empty() {
                continue;
            }
            let mut panels: Vec<Panel> = Vec::new();
            for slope in &slopes {
                let title = match &slope.versus {
                    Some(reference) => format!("over {reference}; {}", grid_label(&slope.grid)),
                    None => grid_label(&slope.grid),
                };
                let mut points: Vec<Point> = summary
                    .rows
                    .iter()
                    .filter(|r| {
                        r.metric == *metric
                            && r.index.is_none()
                            && r.method == slope.method
                            && r.versus == slope.versus
                            && others(&r.grid, &key) == slope.grid
                    })
                    .filter_map(|r| {
                        let x = r.grid.get(&key)?.as_f64().filter(|x| *x > 0.0)?;
                        log_point(x.log10(), r)
                    })
                    .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                let series = Series {
                    label: format!(
                        "{}: slope {} ± {}",
                        slope.method,
                        format_significant(slope.slope, 3),
                        format_significant(slope.se, 2)
                    ),
                    color: method_color(view, &slope.method),
                    points,
                };
                match panels.iter_mut().find(|p| p.title == title) {
                    Some(panel) => panel.series.push(series),
                    None => panels.push(Panel {
                        title,
                        series: vec![series],
                    }),
                }
            }
            let (stem, what) = if excess {
                (format!("excess_{metric}"), "excess ")
            } else {
                (format!("rate_{metric}"), "")
            };
            figures.push(log_log_figure(
                stem,
                format!(
                    "Convergence: log10 {what}{metric} against log10 {key} (study {})",
                    summary.study
                ),
                format!("{key} (log scale)"),
                format!("log10 {what}{metric}"),
                panels,
            ));
        }
    }
    figures
}

/// The error-product figure (module docs), when the summary has perturbed
/// oracles: `log10` of the mean error of `Δ̂` against `log10(δ_μ·δ_p)`,
/// one series per method across the grid, and the line `bias = δ_μ·δ_p`.
/// Points whose mean error is not positive are left out.
pub(super) fn error_product_figure(view: &View, summary: &Summary) -> Option<Figure> {
    let mut series: Vec<Series> = Vec::new();
    for bias in summary
        .rows
        .iter()
        .filter(|r| r.metric == DELTA_BIAS && r.versus.is_none())
    {
        let Some(product) = summary
            .rows
            .iter()
            .find(|p| p.metric == PRODUCT_METRIC && p.grid == bias.grid && p.method == bias.method)
            .and_then(|p| p.mean)
            .filter(|p| *p > 0.0)
        else {
            continue;
        };
        let Some(point) = log_point(product.log10(), bias) else {
            continue;
        };
        match series.iter_mut().find(|s| s.label == bias.method) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                label: bias.method.clone(),
                color: method_color(view, &bias.method),
                points: vec![point],
            }),
        }
    }
    if series.is_empty() {
        return None;
    }
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.x))
        .collect();
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    for s in &mut series {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    series.push(Series {
        label: "theory: δ_μ·δ_p".into(),
        color: plotters::style::RGBColor(0, 0, 0),
        points: [lo, hi]
            .iter()
            .map(|&x| Point {
                x,
                mean: x,
                se: 0.0,
            })
            .collect(),
    });
    Some(log_log_figure(
        "error_product".into(),
        format!(
            "Bias of Δ against the product of the nuisance errors (study {})",
            summary.study
        ),
        "δ_μ·δ_p (log scale)".into(),
        "log10 mean error of Δ estimate".into(),
        vec![Panel {
            title: "every perturbed method across the grid".into(),
            series,
        }],
    ))
}

/// A figure of `log10` coordinates on both axes (x ticks labelled with the
/// values), error bars, and a legend wide enough for the fitted slopes.
fn log_log_figure(
    stem: String,
    title: String,
    x_desc: String,
    y_desc: String,
    panels: Vec<Panel>,
) -> Figure {
    Figure {
        stem,
        title,
        x_desc,
        y_desc,
        panels,
        spread: Spread::ErrorBars,
        zero_line: false,
        reference: None,
        categories: None,
        log_x: true,
        log_y: false,
        wide_legend: true,
    }
}
