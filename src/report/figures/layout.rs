//! Figures as data: panels of series of points with their Monte Carlo SEs,
//! extracted from a summary's rows (no drawing here).

use plotters::style::RGBColor;
use serde_json::Value;

use super::{
    LEGEND_ROW, LEGEND_WIDTH, MAX_COLUMNS, PALETTE, PANEL_HEIGHT, PANEL_WIDTH, SPREAD_SES,
    TITLE_HEIGHT, WIDE_LEGEND_WIDTH,
};
use crate::report::view::{value_label, View};
use crate::study::record::SummaryRow;

/// How the ±2 MCSE spread is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Spread {
    /// A translucent band around a curve.
    Band,
    /// The same band, of bootstrap standard errors (real-data evaluation).
    BootstrapBand,
    /// Vertical error bars at each point.
    ErrorBars,
}

/// Panels whose y spans differ by more than this factor get their own
/// y ranges ([`Figure::free_y`]).
pub(super) const FREE_Y_RATIO: f64 = 20.0;

/// Panels whose x spans differ by more than this factor get their own x
/// ranges ([`Figure::free_x`]; e.g. cost axes of studies with 3 and 5
/// models).
pub(super) const FREE_X_RATIO: f64 = 1.5;

/// An MSE figure whose means differ by more than this factor within one
/// panel is drawn on a log y axis ([`Figure::into_log_y`]).
pub(super) const LOG_Y_RATIO: f64 = 20.0;

/// Grid keys that count things (the number of models): drawn on a discrete
/// axis with a tick per value, never between values.
const COUNT_KEYS: &[&str] = &["models"];

/// How a series' line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dash {
    /// No line: points only (points that are not a curve).
    Hidden,
    Solid,
    Dashed,
    Dotted,
    Long,
}

/// The marker at a series' points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

/// A series' look: colour, line and marker. Two series of one figure never
/// share all three ([`Figure::legend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Look {
    pub(super) color: RGBColor,
    pub(super) dash: Dash,
    pub(super) marker: Marker,
}

/// One legend entry: a label, its look, and whether any point has an MCSE.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) look: Look,
    pub(super) spread: bool,
}

/// The lines and markers of the methods with fixed colours
/// ([`NAMED_COLORS`]): methods whose curves often coincide (R and DR,
/// pooled and mean-shift, the oracle and all-gold) differ in line and
/// marker as well as colour, so the one drawn last never hides the other.
const NAMED_LOOKS: &[(&str, Dash, Marker)] = &[
    ("oracle", Dash::Solid, Marker::Circle),
    ("all-gold", Dash::Dashed, Marker::Square),
    ("random", Dash::Dotted, Marker::Cross),
    ("R", Dash::Solid, Marker::Circle),
    ("DR", Dash::Dashed, Marker::Triangle),
    ("pooled", Dash::Solid, Marker::Square),
    ("pb-only", Dash::Long, Marker::Triangle),
    ("gs-only", Dash::Solid, Marker::Diamond),
    ("mean-shift", Dash::Dotted, Marker::Diamond),
    // The frontier figure's always-one-model points are not a frontier.
    (ALWAYS_ONE_MODEL, Dash::Hidden, Marker::Square),
];

/// The label of the always-one-model points of the frontier figure.
pub(super) const ALWAYS_ONE_MODEL: &str = "always one model";

/// Line and marker of the `k`-th series (from 0) of a colour that is not a
/// named method's: palette colours repeat after nine methods, the look does
/// not (20 combinations before it repeats).
const CYCLE: [(Dash, Marker); 20] = [
    (Dash::Solid, Marker::Circle),
    (Dash::Dashed, Marker::Triangle),
    (Dash::Dotted, Marker::Square),
    (Dash::Long, Marker::Diamond),
    (Dash::Solid, Marker::Cross),
    (Dash::Dashed, Marker::Square),
    (Dash::Dotted, Marker::Diamond),
    (Dash::Long, Marker::Circle),
    (Dash::Solid, Marker::Triangle),
    (Dash::Dashed, Marker::Diamond),
    (Dash::Dotted, Marker::Circle),
    (Dash::Long, Marker::Cross),
    (Dash::Solid, Marker::Square),
    (Dash::Dashed, Marker::Cross),
    (Dash::Dotted, Marker::Triangle),
    (Dash::Long, Marker::Square),
    (Dash::Solid, Marker::Diamond),
    (Dash::Dashed, Marker::Circle),
    (Dash::Dotted, Marker::Cross),
    (Dash::Long, Marker::Triangle),
];

#[derive(Debug, Clone)]
pub(super) struct Point {
    pub(super) x: f64,
    pub(super) mean: f64,
    pub(super) se: f64,
}

#[derive(Debug, Clone)]
pub(super) struct Series {
    pub(super) label: String,
    pub(super) color: RGBColor,
    pub(super) points: Vec<Point>,
}

#[derive(Debug, Clone)]
pub(super) struct Panel {
    pub(super) title: String,
    pub(super) series: Vec<Series>,
}

/// A backend-independent description of one figure.
#[derive(Debug, Clone)]
pub(super) struct Figure {
    pub(super) stem: String,
    pub(super) title: String,
    pub(super) x_desc: String,
    pub(super) y_desc: String,
    pub(super) panels: Vec<Panel>,
    pub(super) spread: Spread,
    pub(super) zero_line: bool,
    /// A horizontal reference line (e.g. nominal coverage), drawn dashed.
    pub(super) reference: Option<f64>,
    /// Tick labels when x is categorical (x = 0, 1, … index them).
    pub(super) categories: Option<Vec<String>>,
    /// Whether x holds log10 of the values (ticks are labelled with the values).
    pub(super) log_x: bool,
    /// Whether the points' means hold log10 of the values ([`Figure::into_log_y`];
    /// their SEs stay on the linear scale).
    pub(super) log_y: bool,
    /// A wider legend for labels that carry numbers (rate figures).
    pub(super) wide_legend: bool,
}

impl Figure {
    pub(super) fn columns(&self) -> usize {
        self.panels.len().clamp(1, MAX_COLUMNS)
    }

    pub(super) fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns()).max(1)
    }

    /// Legend entries in order of first appearance: label, look, and
    /// whether any point has an MCSE. A named method keeps its look; the
    /// others take [`CYCLE`] in order among the series of their colour, so
    /// no two entries share colour, line and marker.
    pub(super) fn legend(&self) -> Vec<LegendEntry> {
        let mut entries: Vec<LegendEntry> = Vec::new();
        for series in self.panels.iter().flat_map(|p| &p.series) {
            let spread = series.points.iter().any(|p| p.se > 0.0);
            if let Some(entry) = entries.iter_mut().find(|e| e.label == series.label) {
                entry.spread |= spread;
                continue;
            }
            let named = NAMED_LOOKS.iter().find(|(name, _, _)| {
                *name == series.label && named_color(name).is_none_or(|color| color == series.color)
            });
            let (dash, marker) = match named {
                Some(&(_, dash, marker)) => (dash, marker),
                None => {
                    let used: Vec<(Dash, Marker)> = entries
                        .iter()
                        .filter(|e| e.look.color == series.color)
                        .map(|e| (e.look.dash, e.look.marker))
                        .collect();
                    CYCLE
                        .iter()
                        .cycle()
                        .skip(used.len())
                        .take(CYCLE.len())
                        .find(|look| !used.contains(look))
                        .copied()
                        .unwrap_or(CYCLE[used.len() % CYCLE.len()])
                }
            };
            entries.push(LegendEntry {
                label: series.label.clone(),
                look: Look {
                    color: series.color,
                    dash,
                    marker,
                },
                spread,
            });
        }
        entries
    }

    /// The look of the series labelled `label`.
    pub(super) fn look(&self, legend: &[LegendEntry], label: &str) -> Look {
        legend.iter().find(|e| e.label == label).map_or(
            Look {
                color: RGBColor(0, 0, 0),
                dash: Dash::Solid,
                marker: Marker::Circle,
            },
            |e| e.look,
        )
    }

    /// The width of the legend column.
    pub(super) fn legend_width(&self) -> u32 {
        if self.wide_legend {
            WIDE_LEGEND_WIDTH
        } else {
            LEGEND_WIDTH
        }
    }

    /// The canvas: wide enough for the panels and the legend, and for the
    /// title (about 13 px per character at size 24); width the title adds
    /// goes to the panels ([`Figure::plots_width`]), not the legend.
    pub(super) fn canvas_size(&self) -> (u32, u32) {
        let title = 13 * self.title.chars().count() as u32 + 60;
        let width = (self.columns() as u32 * PANEL_WIDTH + self.legend_width()).max(title);
        let panels = TITLE_HEIGHT + self.rows() as u32 * PANEL_HEIGHT;
        let legend = TITLE_HEIGHT + (self.legend().len() as u32 + 3) * LEGEND_ROW as u32;
        (width, panels.max(legend))
    }

    /// The width of the panels' area on a canvas `width` pixels wide:
    /// everything but the legend column.
    pub(super) fn plots_width(&self, width: u32) -> u32 {
        width.saturating_sub(self.legend_width())
    }

    pub(super) fn x_range(&self) -> (f64, f64) {
        if let Some(categories) = &self.categories {
            return (-0.5, categories.len() as f64 - 0.5);
        }
        self.x_range_of(self.points())
    }

    /// The x range of `points`: their bounds, padded unless a band runs
    /// from edge to edge.
    fn x_range_of<'a>(&self, points: impl Iterator<Item = &'a Point>) -> (f64, f64) {
        let (lo, hi) = bounds(points.map(|p| p.x));
        match self.spread {
            Spread::Band | Spread::BootstrapBand if hi > lo => (lo, hi),
            _ => pad(lo, hi, 0.08),
        }
    }

    /// Whether each panel gets its own x range: a numeric x axis whose
    /// panels' spans differ by more than a factor [`FREE_X_RATIO`] (a
    /// shared axis would leave the narrower panels' right part empty).
    pub(super) fn free_x(&self) -> bool {
        if self.categories.is_some() || self.panels.len() < 2 {
            return false;
        }
        let spans: Vec<f64> = self
            .panels
            .iter()
            .map(|p| bounds(p.series.iter().flat_map(|s| &s.points).map(|p| p.x)))
            .map(|(lo, hi)| hi - lo)
            .filter(|span| span.is_finite() && *span > 0.0)
            .collect();
        let (lo, hi) = bounds(spans.into_iter());
        lo.is_finite() && hi > FREE_X_RATIO * lo
    }

    /// The x range of one panel ([`Figure::free_x`]), or the shared one.
    pub(super) fn panel_x_range(&self, panel: &Panel) -> (f64, f64) {
        if self.free_x() {
            self.x_range_of(panel.series.iter().flat_map(|s| &s.points))
        } else {
            self.x_range()
        }
    }

    /// Whether the figure's metric cannot be negative (an MSE, a regret):
    /// its lower error bars and bands stop at 0.
    pub(super) fn nonnegative(&self) -> bool {
        self.stem.starts_with("mse_") || self.stem.starts_with("regret")
    }

    /// The ends of `p`'s ±2 MCSE spread in the figure's y coordinate: the
    /// lower end at 0 or above for a [`Figure::nonnegative`] metric; on a
    /// log y axis the log10 of the linear ends (−∞ where the lower end is
    /// not positive: the bar runs to the axis).
    pub(super) fn spread_of(&self, p: &Point) -> (f64, f64) {
        if self.log_y {
            let mean = 10f64.powf(p.mean);
            let lo = mean - SPREAD_SES * p.se;
            let lo = if lo > 0.0 {
                lo.log10()
            } else {
                f64::NEG_INFINITY
            };
            return (lo, (mean + SPREAD_SES * p.se).log10());
        }
        let lo = p.mean - SPREAD_SES * p.se;
        let lo = if self.nonnegative() { lo.max(0.0) } else { lo };
        (lo, p.mean + SPREAD_SES * p.se)
    }

    /// An MSE figure drawn on a log y axis when, within some panel, the
    /// largest mean exceeds [`LOG_Y_RATIO`] times the smallest (one method
    /// an order of magnitude off would flatten the others to a line) and
    /// every mean is positive; otherwise unchanged.
    pub(super) fn into_log_y(mut self) -> Self {
        let spread = |panel: &Panel| {
            let (lo, hi) = bounds(panel.series.iter().flat_map(|s| &s.points).map(|p| p.mean));
            hi / lo
        };
        let positive = self.points().all(|p| p.mean > 0.0 && p.mean.is_finite());
        if self.log_y
            || !self.stem.starts_with("mse_")
            || !positive
            || !self.panels.iter().any(|p| spread(p) > LOG_Y_RATIO)
        {
            return self;
        }
        for point in self
            .panels
            .iter_mut()
            .flat_map(|p| &mut p.series)
            .flat_map(|s| &mut s.points)
        {
            point.mean = point.mean.log10();
        }
        self.log_y = true;
        self.zero_line = false;
        self.y_desc = format!("{} (log scale)", self.y_desc);
        self
    }

    /// The y range of `points` with their ±2 MCSE spread
    /// ([`Figure::spread_of`]), the zero line and the reference level,
    /// padded.
    fn range_of<'a>(&self, points: impl Iterator<Item = &'a Point>) -> (f64, f64) {
        let values = points.flat_map(|p| {
            let (lo, hi) = self.spread_of(p);
            // On a log axis a lower end near 0 would stretch the range over
            // decades: at most one decade below the mean counts (a longer
            // bar runs to the axis).
            let lo = if self.log_y { lo.max(p.mean - 1.0) } else { lo };
            [lo, hi, p.mean]
        });
        let (lo, hi) = bounds(
            values
                .chain(self.zero_line.then_some(0.0))
                .chain(self.reference),
        );
        pad(lo, hi, 0.06)
    }

    pub(super) fn y_range(&self) -> (f64, f64) {
        self.range_of(self.points())
    }

    /// Whether each panel gets its own y range: several panels whose ranges
    /// differ by more than a factor [`FREE_Y_RATIO`] in span (one shared
    /// axis would flatten the smaller ones to a line).
    pub(super) fn free_y(&self) -> bool {
        if self.panels.len() < 2 {
            return false;
        }
        let spans: Vec<f64> = self
            .panels
            .iter()
            .filter(|p| !p.series.is_empty())
            .map(|p| {
                let (lo, hi) = self.range_of(p.series.iter().flat_map(|s| &s.points));
                hi - lo
            })
            .filter(|span| span.is_finite() && *span > 0.0)
            .collect();
        let (lo, hi) = bounds(spans.into_iter());
        lo.is_finite() && hi > FREE_Y_RATIO * lo
    }

    /// The y range of one panel ([`Figure::free_y`]), or the shared one.
    pub(super) fn panel_y_range(&self, panel: &Panel) -> (f64, f64) {
        if self.free_y() {
            self.range_of(panel.series.iter().flat_map(|s| &s.points))
        } else {
            self.y_range()
        }
    }

    pub(super) fn points(&self) -> impl Iterator<Item = &Point> {
        self.panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| &s.points)
    }
}

pub(super) fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Widens `[lo, hi]` by `fraction` of its span on each side (a fixed margin
/// for a degenerate or empty range).
pub(super) fn pad(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span > 1e-12 * (lo.abs() + hi.abs()) && span > 0.0 {
        (lo - fraction * span, hi + fraction * span)
    } else {
        let margin = (0.1 * lo.abs()).max(1e-3);
        (lo - margin, hi + margin)
    }
}

/// Colours fixed by method name, so a method looks the same in every figure
/// of every study; other labels take the palette in order of appearance.
const NAMED_COLORS: &[(&str, RGBColor)] = &[
    ("oracle", RGBColor(0, 0, 0)),
    ("all-gold", RGBColor(96, 96, 96)),
    ("random", RGBColor(127, 127, 127)),
    ("R", RGBColor(214, 39, 40)),
    ("DR", RGBColor(31, 119, 180)),
    ("pooled", RGBColor(44, 160, 44)),
    ("pb-only", RGBColor(255, 127, 14)),
    ("gs-only", RGBColor(148, 103, 189)),
    ("mean-shift", RGBColor(140, 86, 75)),
];

/// The fixed colour of a method name (`R`, `pooled`, …), if it has one.
pub(super) fn named_color(method: &str) -> Option<RGBColor> {
    NAMED_COLORS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, color)| *color)
}

pub(super) fn method_color(view: &View, method: &str) -> RGBColor {
    if let Some(color) = named_color(method) {
        return color;
    }
    let index = view
        .methods
        .iter()
        .filter(|m| !NAMED_COLORS.iter().any(|(name, _)| name == *m))
        .position(|m| *m == method)
        .unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

/// A finite-mean point from a summary row (MCSE 0 when missing).
pub(super) fn row_point(
    view: &View,
    point: usize,
    method: &str,
    metric: &str,
    index: Option<usize>,
    x: f64,
) -> Option<Point> {
    summary_point(view.row(point, method, metric, index)?, x)
}

/// A summary row as a plotted point at `x`: its mean (none when missing or
/// not finite) with its MCSE (0 when missing).
pub(super) fn summary_point(row: &SummaryRow, x: f64) -> Option<Point> {
    let mean = row.mean.filter(|m| m.is_finite())?;
    let se = row
        .mcse
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(0.0);
    Some(Point { x, mean, se })
}

/// Whether NEG is drawn at usage ratio `rho`: not at ρ = 0 and 1, where it
/// is 0/0 (no routing, or routing everything, gains nothing over random;
/// results store 0 there).
pub(super) fn neg_drawn_at(rho: f64) -> bool {
    rho > 0.0 && rho < 1.0
}

/// A curve figure: one panel per grid point, `metric` at each grid position.
pub(super) fn curve_figure(
    view: &View,
    stem: &str,
    metric: &str,
    grid: &[f64],
    title: String,
    x_desc: &str,
    y_desc: &str,
) -> Option<Figure> {
    let panels: Vec<Panel> = (0..view.points.len())
        .map(|point| Panel {
            title: view.point_label(point),
            series: view
                .methods
                .iter()
                .map(|method| Series {
                    label: method.to_string(),
                    color: method_color(view, method),
                    points: grid
                        .iter()
                        .enumerate()
                        .filter(|&(_, &x)| metric != "neg" || neg_drawn_at(x))
                        .filter_map(|(i, &x)| row_point(view, point, method, metric, Some(i), x))
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        })
        .collect();
    if panels.iter().all(|p| p.series.is_empty()) {
        return None;
    }
    Some(Figure {
        stem: stem.to_string(),
        title,
        x_desc: x_desc.to_string(),
        y_desc: y_desc.to_string(),
        panels,
        spread: Spread::Band,
        zero_line: true,
        reference: None,
        categories: None,
        log_x: false,
        log_y: false,
        wide_legend: false,
    })
}

/// Many models: the cost–quality frontier, one panel per grid point. Each
/// method is the non-decreasing concave hull
/// ([`upper_frontier`](meta_router_core::routing::multi::upper_frontier),
/// the frontier AIQ integrates) of its mean `(cost(w), quality(w))` points
/// over the `w` grid, drawn through the hull's vertices with the ±2 MCSE
/// band of their quality; the always-one-model points are one more series,
/// drawn as points. `None` without `cost` rows.
pub(super) fn frontier_figure(view: &View, title: String) -> Option<Figure> {
    let w_len = view.max_index("cost")? + 1;
    let panels: Vec<Panel> = (0..view.points.len())
        .map(|point| {
            let mut series: Vec<Series> = view
                .methods
                .iter()
                .map(|method| {
                    let means: Vec<Point> = (0..w_len)
                        .filter_map(|i| {
                            let cost = view.row(point, method, "cost", Some(i))?.mean?;
                            row_point(view, point, method, "quality", Some(i), cost)
                        })
                        .filter(|p| p.x.is_finite())
                        .collect();
                    let points = hull_vertices(&means);
                    Series {
                        label: method.to_string(),
                        color: method_color(view, method),
                        points,
                    }
                })
                .filter(|s| !s.points.is_empty())
                .collect();
            let mut always: Vec<Point> = view
                .always_points(point)
                .into_iter()
                .filter_map(|(_, cost, quality)| summary_point(quality, cost.mean?))
                .filter(|p| p.x.is_finite())
                .collect();
            always.sort_by(|a, b| a.x.total_cmp(&b.x));
            if !always.is_empty() {
                series.push(Series {
                    label: ALWAYS_ONE_MODEL.to_string(),
                    color: RGBColor(127, 127, 127),
                    points: always,
                });
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
    Some(Figure {
        stem: "frontier".to_string(),
        title,
        x_desc: "mean cost per test query".to_string(),
        y_desc: "mean GS gain over the reference".to_string(),
        panels,
        spread: Spread::Band,
        zero_line: true,
        reference: None,
        categories: None,
        log_x: false,
        log_y: false,
        wide_legend: false,
    })
}

/// The vertices of the non-decreasing concave hull of `points` (x = cost,
/// mean = quality), each with its MCSE, by increasing cost.
fn hull_vertices(points: &[Point]) -> Vec<Point> {
    use meta_router_core::routing::multi::{upper_frontier, FrontierPoint};
    let frontier: Vec<FrontierPoint> = points
        .iter()
        .map(|p| FrontierPoint {
            cost: p.x,
            quality: p.mean,
        })
        .collect();
    upper_frontier(&frontier)
        .into_iter()
        .filter_map(|v| {
            points
                .iter()
                .find(|p| p.x == v.cost && p.mean == v.quality)
                .cloned()
        })
        .collect()
}

/// A scalar metric against the grid parameter that varies.
pub(super) fn scalar_figure(
    view: &View,
    stem: &str,
    metric: &str,
    title: String,
    y_desc: &str,
) -> Option<Figure> {
    let varying = view.varying_parameters();
    let numeric = |name: &str| {
        view.points
            .iter()
            .all(|p| p.get(name).and_then(Value::as_f64).is_some())
    };
    // A rate study's rate key goes on x (on a log axis, below); otherwise
    // the first numeric parameter that varies.
    let rate_key = view.summary.slopes.first().map(|s| s.against.as_str());
    let x_param = varying
        .iter()
        .copied()
        .find(|name| Some(*name) == rate_key && numeric(name))
        .or_else(|| varying.iter().copied().find(|name| numeric(name)))
        .or_else(|| varying.first().copied());
    let others: Vec<&str> = varying
        .iter()
        .copied()
        .filter(|name| Some(*name) != x_param)
        .collect();

    let categorical = x_param.is_none_or(|name| !numeric(name) || COUNT_KEYS.contains(&name));
    // The rate key of a rate study (summary slopes) is drawn on a log10 axis.
    let log_x = !categorical
        && x_param.is_some()
        && x_param == rate_key
        && view.points.iter().all(|p| {
            x_param
                .and_then(|name| p.get(name))
                .and_then(Value::as_f64)
                .is_some_and(|x| x > 0.0)
        });
    let (xs, categories) = x_positions(view, x_param, categorical, log_x);
    let groups = panel_groups(view, x_param, &others);

    let methods = view.methods_with(metric);
    let (lo, hi) = bounds(xs.iter().copied());
    let span = if categorical || hi <= lo {
        1.0
    } else {
        hi - lo
    };
    let panels = scalar_panels(view, groups, &methods, metric, &xs, span);
    if panels.iter().all(|p| p.series.is_empty()) {
        return None;
    }
    Some(Figure {
        stem: stem.to_string(),
        title,
        x_desc: match x_param {
            Some(name) if log_x => format!("{name} (log scale)"),
            Some(name) => name.to_string(),
            None => "grid point".to_string(),
        },
        y_desc: y_desc.to_string(),
        panels,
        spread: Spread::ErrorBars,
        zero_line: false,
        reference: None,
        categories: categorical.then_some(categories),
        log_x,
        log_y: false,
        wide_legend: false,
    })
}

/// The panels of a scalar figure: per group of grid points, one series per
/// method (mean ± SE at each point's x), dodged sideways by 1.2% of the x
/// span per method so error bars do not overlap; empty series dropped.
fn scalar_panels(
    view: &View,
    groups: Vec<(String, Vec<usize>)>,
    methods: &[&str],
    metric: &str,
    xs: &[f64],
    span: f64,
) -> Vec<Panel> {
    groups
        .into_iter()
        .map(|(title, members)| Panel {
            title,
            series: methods
                .iter()
                .enumerate()
                .map(|(m, method)| {
                    // Dodge methods sideways so error bars do not overlap.
                    let dodge = (m as f64 - (methods.len() as f64 - 1.0) / 2.0) * 0.012 * span;
                    let mut points: Vec<Point> = members
                        .iter()
                        .filter_map(|&p| row_point(view, p, method, metric, None, xs[p] + dodge))
                        .collect();
                    points.sort_by(|a, b| a.x.total_cmp(&b.x));
                    Series {
                        label: method.to_string(),
                        color: method_color(view, method),
                        points,
                    }
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        })
        .collect()
}

/// The x position of each grid point: its value of `x_param` (log10 on a
/// log axis) or, on a categorical axis, the index of its label among the
/// returned categories (in first-seen order).
fn x_positions(
    view: &View,
    x_param: Option<&str>,
    categorical: bool,
    log_x: bool,
) -> (Vec<f64>, Vec<String>) {
    let mut categories: Vec<String> = Vec::new();
    let xs: Vec<f64> = view
        .points
        .iter()
        .map(|p| {
            let value = x_param.and_then(|name| p.get(name));
            if categorical {
                let label =
                    printable(&value.map_or_else(|| "all grid points".to_string(), value_label));
                let at = categories
                    .iter()
                    .position(|c| *c == label)
                    .unwrap_or_else(|| {
                        categories.push(label);
                        categories.len() - 1
                    });
                at as f64
            } else {
                let x = value.and_then(Value::as_f64).unwrap_or(0.0);
                if log_x {
                    x.log10()
                } else {
                    x
                }
            }
        })
        .collect();
    (xs, categories)
}

/// One panel per combination of the `others` varying parameters: its title
/// and the grid points in it, in first-seen order.
fn panel_groups(view: &View, x_param: Option<&str>, others: &[&str]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (point, grid) in view.points.iter().enumerate() {
        let label = if others.is_empty() {
            match x_param {
                Some(name) => format!("by {name}"),
                None => "all grid points".to_string(),
            }
        } else {
            others
                .iter()
                .map(|name| {
                    let value = grid.get(*name).map_or_else(|| "—".to_string(), value_label);
                    format!("{name} = {value}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, members)) => members.push(point),
            None => groups.push((label, vec![point])),
        }
    }
    groups
}

/// Text as drawn: control characters (which would make the SVG invalid XML
/// and draw nothing useful in a PNG) become U+FFFD.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}
