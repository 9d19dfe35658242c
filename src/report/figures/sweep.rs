//! Figures of swept method settings: a scalar metric against the swept
//! value, one line per method family.
//!
//! # Model
//! A study whose `[[methods]]` entries sweep a setting (the summary's
//! `provenance.sweeps`) gets, for each swept key and each scalar metric
//! present, `<metric>_vs_<key>`: x = the key's value, one panel per grid
//! point, one line per family that sweeps that key alone (its variants'
//! means, ±2 MCSE bars), and every method without a sweep as a horizontal
//! line at its mean. The x axis is logarithmic when every value is positive
//! and they span a factor of 10 or more, categorical when a value is not a
//! number (a leaf rule, a normalization, a basis). A family that sweeps
//! several keys at once has no such figure (its variants are still in every
//! other figure and table).

use std::collections::BTreeMap;

use serde_json::Value;

use super::layout::printable;
use super::layout::{
    bounds, method_color, named_color, row_point, Figure, Panel, Point, Series, Spread,
};
use super::PALETTE;
use crate::report::view::{value_label, View};
use crate::study::record::Variant;

/// Scalar metrics drawn against a swept setting, with their axis text.
const SWEEP_METRICS: &[(&str, &str)] = &[
    ("mse_psi", "MSE of ψ estimate"),
    ("mse_delta", "MSE of Δ estimate"),
    ("neg_area", "NEG area A"),
    ("aiq", "AIQ"),
];

/// How the x axis places a swept key's values.
enum Axis {
    /// Numbers, on a linear (`false`) or log10 (`true`) axis.
    Numeric(bool),
    /// Labels, in order of first appearance.
    Categories(Vec<String>),
}

impl Axis {
    fn of(values: &[&Value]) -> Axis {
        let numbers: Option<Vec<f64>> = values.iter().map(|v| v.as_f64()).collect();
        match numbers {
            Some(numbers) => {
                let (lo, hi) = bounds(numbers.iter().copied());
                Axis::Numeric(lo > 0.0 && hi >= 10.0 * lo)
            }
            None => {
                let mut labels: Vec<String> = Vec::new();
                for v in values {
                    let label = printable(&value_label(v));
                    if !labels.contains(&label) {
                        labels.push(label);
                    }
                }
                Axis::Categories(labels)
            }
        }
    }

    fn x(&self, value: &Value) -> Option<f64> {
        match self {
            Axis::Numeric(false) => value.as_f64(),
            Axis::Numeric(true) => value.as_f64().map(f64::log10),
            Axis::Categories(labels) => {
                let label = printable(&value_label(value));
                labels.iter().position(|l| *l == label).map(|i| i as f64)
            }
        }
    }
}

/// The swept keys with the families that sweep each alone, in order of
/// first appearance: key → [(family, [(variant label, value)])].
type Families<'a> = Vec<(&'a str, Vec<(&'a str, &'a Value)>)>;

fn families_by_key(sweeps: &[Variant]) -> Vec<(&str, Families<'_>)> {
    let mut keys: Vec<(&str, Families)> = Vec::new();
    for variant in sweeps.iter().filter(|v| v.setting.len() == 1) {
        let (key, value) = variant.setting.iter().next().expect("one setting");
        let families = match keys.iter_mut().find(|(k, _)| k == key) {
            Some((_, families)) => families,
            None => {
                keys.push((key, Vec::new()));
                &mut keys.last_mut().expect("just pushed").1
            }
        };
        match families.iter_mut().find(|(f, _)| *f == variant.family) {
            Some((_, members)) => members.push((&variant.method, value)),
            None => families.push((&variant.family, vec![(&variant.method, value)])),
        }
    }
    keys
}

/// A colour per family: the method's fixed colour when the family is named
/// like one (`R`, `DR`, …), else the palette in family order.
fn family_color(family: &str, position: usize) -> plotters::style::RGBColor {
    named_color(family).unwrap_or(PALETTE[position % PALETTE.len()])
}

/// The file stem of a swept key's figure: `<metric>_vs_<key>`, dots and
/// other non-alphanumeric characters of the key as `_`.
pub(super) fn stem(metric: &str, key: &str) -> String {
    let key: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{metric}_vs_{key}")
}

/// Every figure of the swept settings of the summary's study (none without
/// sweeps).
pub(super) fn sweep_figures(view: &View, study: &str) -> Vec<Figure> {
    let sweeps = &view.summary.provenance.sweeps;
    let mut figures = Vec::new();
    for (key, families) in families_by_key(sweeps) {
        for (metric, y_desc) in SWEEP_METRICS {
            let title = format!(
                "{} against the swept {key}, ±2 MCSE (study {study})",
                y_desc.split(" estimate").next().unwrap_or(y_desc)
            );
            figures.extend(sweep_figure(
                view,
                &families,
                key,
                metric,
                stem(metric, key),
                title,
                y_desc,
            ));
        }
    }
    figures
}

/// `metric` against swept `key`: a line per family, the methods without a
/// sweep as horizontal lines; `None` when no family has the metric.
pub(super) fn sweep_figure(
    view: &View,
    families: &Families,
    key: &str,
    metric: &str,
    stem: String,
    title: String,
    y_desc: &str,
) -> Option<Figure> {
    let values: Vec<&Value> = families
        .iter()
        .flat_map(|(_, members)| members.iter().map(|(_, v)| *v))
        .collect();
    let axis = Axis::of(&values);
    let xs: Vec<f64> = values.iter().filter_map(|v| axis.x(v)).collect();
    let (lo, hi) = bounds(xs.iter().copied());
    let span = if hi > lo { hi - lo } else { 1.0 };
    let references = unswept_methods(view);
    let count = families.len();
    let panels: Vec<Panel> = (0..view.points.len())
        .map(|point| {
            let mut series: Vec<Series> = families
                .iter()
                .enumerate()
                .map(|(f, (family, members))| {
                    // Dodge families sideways so error bars do not overlap.
                    let dodge = (f as f64 - (count as f64 - 1.0) / 2.0) * 0.012 * span;
                    let mut points: Vec<Point> = members
                        .iter()
                        .filter_map(|(label, value)| {
                            row_point(view, point, label, metric, None, axis.x(value)? + dodge)
                        })
                        .collect();
                    points.sort_by(|a, b| a.x.total_cmp(&b.x));
                    Series {
                        label: family.to_string(),
                        color: family_color(family, f),
                        points,
                    }
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            if !series.is_empty() {
                series.extend(reference_lines(view, point, &references, metric, (lo, hi)));
            }
            Panel {
                title: view.point_label(point),
                series,
            }
        })
        .collect();
    if panels.iter().all(|p| p.series.is_empty()) {
        return None;
    }
    let (x_desc, log_x, categories) = match axis {
        Axis::Numeric(true) => (format!("{key} (log scale)"), true, None),
        Axis::Numeric(false) => (key.to_string(), false, None),
        Axis::Categories(labels) => (key.to_string(), false, Some(labels)),
    };
    Some(Figure {
        stem,
        title,
        x_desc,
        y_desc: y_desc.to_string(),
        panels,
        spread: Spread::ErrorBars,
        zero_line: false,
        reference: None,
        categories,
        log_x,
        log_y: false,
        wide_legend: false,
    })
}

/// The methods without a sweep, in the view's method order.
fn unswept_methods<'a>(view: &View<'a>) -> Vec<&'a str> {
    let swept: BTreeMap<&str, ()> = view
        .summary
        .provenance
        .sweeps
        .iter()
        .map(|v| (v.method.as_str(), ()))
        .collect();
    view.methods
        .iter()
        .copied()
        .filter(|m| !swept.contains_key(m))
        .collect()
}

/// Each unswept method's mean at grid point `point` as a horizontal line
/// across the x range `(lo, hi)`.
fn reference_lines(
    view: &View,
    point: usize,
    references: &[&str],
    metric: &str,
    (lo, hi): (f64, f64),
) -> Vec<Series> {
    let mut series = Vec::new();
    for method in references {
        let Some(at) = row_point(view, point, method, metric, None, lo) else {
            continue;
        };
        let line = [lo, hi].map(|x| Point {
            x,
            mean: at.mean,
            se: 0.0,
        });
        series.push(Series {
            label: format!("{method} (not swept)"),
            color: method_color(view, method),
            points: line.to_vec(),
        });
    }
    series
}

/// `metric` against the summary's first swept key (in variant order), for
/// callers that draw one figure of their own (the paper's ablation figures);
/// `None` without a single-key sweep.
pub(super) fn first_key_figure(
    view: &View,
    metric: &str,
    stem: &str,
    title: &str,
    y_desc: &str,
) -> Option<Figure> {
    let keys = families_by_key(&view.summary.provenance.sweeps);
    let (key, families) = keys.first()?;
    sweep_figure(
        view,
        families,
        key,
        metric,
        stem.to_string(),
        title.to_string(),
        y_desc,
    )
}
