//! Figures (PNG and SVG, plotters with the embedded DejaVu Sans font).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
use serde_json::Value;

use super::format::format_coordinate;
use super::view::{value_label, View, W_METRIC};
use crate::error::{Error, Result};
use crate::study::record::Summary;

/// The embedded font (DejaVu Sans, Bitstream Vera / DejaVu licence).
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The only font family the figures use; registered with plotters' ab_glyph
/// font store before drawing.
const FAMILY: &str = "sans-serif";

const PANEL_WIDTH: u32 = 540;
const PANEL_HEIGHT: u32 = 400;
const TITLE_HEIGHT: u32 = 56;
const LEGEND_WIDTH: u32 = 260;
const LEGEND_ROW: i32 = 30;
const LEGEND_LABEL_CHARS: usize = 22;
const MAX_COLUMNS: usize = 3;
/// Half-width of bands and error bars in Monte Carlo SEs.
const SPREAD_SES: f64 = 2.0;

/// Tableau-10 without its grey, which is kept for the `random` reference.
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Writes the study's figures into `out_dir` (created if missing) and returns
/// the paths written, PNG then SVG for each figure:
///
/// | file stem | content |
/// |---|---|
/// | `eg_vs_rho` | EG against the usage ratio ρ, panel per grid point, ±2 MCSE band |
/// | `neg_vs_rho` | NEG against ρ, likewise |
/// | `mse_psi` | MSE of ψ̂ against the varying grid parameter, ±2 MCSE error bars |
/// | `mse_delta` | the same for Δ̂ (only when the summary has `mse_delta`) |
/// | `regret_vs_w` | regret against the cost weight w, panel per grid point, ±2 MCSE band |
///
/// A figure whose metric has no finite mean in the summary is skipped. When
/// several grid parameters vary, the MSE figures put the first numeric one
/// on the x axis and draw one panel per combination of the others.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be created or plotters fails to draw
/// or write a file (the message names the file); [`Error::InvalidParameter`]
/// if the embedded font cannot be loaded.
pub fn figures(summary: &Summary, out_dir: &Path) -> Result<Vec<PathBuf>> {
    register_fonts()?;
    std::fs::create_dir_all(out_dir).map_err(|cause| Error::io(out_dir, cause))?;
    let view = View::new(summary);
    let study = &summary.study;
    let mut figures = Vec::new();
    figures.extend(curve_figure(
        &view,
        "eg_vs_rho",
        "eg",
        &summary.rho,
        format!("Efficiency gain vs primary-model usage ratio (study {study})"),
        "primary-model usage ratio ρ",
        "efficiency gain EG(ρ)",
    ));
    figures.extend(curve_figure(
        &view,
        "neg_vs_rho",
        "neg",
        &summary.rho,
        format!("Normalized efficiency gain vs usage ratio (study {study})"),
        "primary-model usage ratio ρ",
        "normalized efficiency gain NEG(ρ)",
    ));
    figures.extend(scalar_figure(
        &view,
        "mse_psi",
        "mse_psi",
        format!("Mean squared error of the estimated gain ψ (study {study})"),
        "MSE of ψ estimate",
    ));
    figures.extend(scalar_figure(
        &view,
        "mse_delta",
        "mse_delta",
        format!("Mean squared error of the estimated bias Δ (study {study})"),
        "MSE of Δ estimate",
    ));
    figures.extend(curve_figure(
        &view,
        "regret_vs_w",
        W_METRIC,
        &summary.w,
        format!("Routing regret vs cost weight (study {study})"),
        "cost weight w",
        "regret Reg(w)",
    ));
    // Coverage of each inference target against the grid, ±2 MCSE bars and
    // the nominal level (the records' `<target>.level`) as a dashed line.
    let mut targets: Vec<&str> = summary
        .rows
        .iter()
        .filter_map(|r| r.metric.strip_suffix(".coverage"))
        .collect();
    targets.sort_unstable();
    targets.dedup();
    for target in targets {
        let nominal = summary
            .rows
            .iter()
            .find(|r| r.metric == format!("{target}.level"))
            .and_then(|r| r.mean);
        let stem = format!("coverage_{}", target.replace('.', "_"));
        if let Some(mut figure) = scalar_figure(
            &view,
            &stem,
            &format!("{target}.coverage"),
            format!("Coverage of the {target} interval, ±2 MCSE (study {study})"),
            "empirical coverage",
        ) {
            figure.reference = nominal;
            figures.push(figure);
        }
    }

    let mut written = Vec::with_capacity(2 * figures.len());
    for figure in &figures {
        let (width, height) = figure.canvas_size();
        let png = out_dir.join(format!("{}.png", figure.stem));
        {
            let root = BitMapBackend::new(&png, (width, height)).into_drawing_area();
            draw_figure(&root, figure).map_err(|e| plot_error(&png, e))?;
            root.present().map_err(|e| plot_error(&png, e))?;
        }
        written.push(png);
        let svg = out_dir.join(format!("{}.svg", figure.stem));
        {
            let root = SVGBackend::new(&svg, (width, height)).into_drawing_area();
            draw_figure(&root, figure).map_err(|e| plot_error(&svg, e))?;
            root.present().map_err(|e| plot_error(&svg, e))?;
        }
        written.push(svg);
    }
    Ok(written)
}

/// Registers the embedded font for [`FAMILY`] once per process.
fn register_fonts() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::param(
            "font",
            "assets/DejaVuSans.ttf",
            "the embedded font could not be loaded",
        ))
    }
}

fn plot_error<E: std::error::Error + Send + Sync>(
    path: &Path,
    error: DrawingAreaErrorKind<E>,
) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!("drawing the figure failed: {error}")),
    )
}

/// How the ±2 MCSE spread is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Spread {
    /// A translucent band around a curve.
    Band,
    /// Vertical error bars at each point.
    ErrorBars,
}

#[derive(Debug, Clone)]
struct Point {
    x: f64,
    mean: f64,
    se: f64,
}

#[derive(Debug, Clone)]
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<Point>,
}

#[derive(Debug, Clone)]
struct Panel {
    title: String,
    series: Vec<Series>,
}

/// A backend-independent description of one figure.
#[derive(Debug, Clone)]
struct Figure {
    stem: String,
    title: String,
    x_desc: String,
    y_desc: String,
    panels: Vec<Panel>,
    spread: Spread,
    zero_line: bool,
    /// A horizontal reference line (e.g. nominal coverage), drawn dashed.
    reference: Option<f64>,
    /// Tick labels when x is categorical (x = 0, 1, … index them).
    categories: Option<Vec<String>>,
}

impl Figure {
    fn columns(&self) -> usize {
        self.panels.len().clamp(1, MAX_COLUMNS)
    }

    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns()).max(1)
    }

    /// Legend entries: label, colour and whether any point has an MCSE.
    fn legend(&self) -> Vec<(String, RGBColor, bool)> {
        let mut entries: Vec<(String, RGBColor, bool)> = Vec::new();
        for series in self.panels.iter().flat_map(|p| &p.series) {
            let spread = series.points.iter().any(|p| p.se > 0.0);
            match entries
                .iter_mut()
                .find(|(label, _, _)| *label == series.label)
            {
                Some(entry) => entry.2 |= spread,
                None => entries.push((series.label.clone(), series.color, spread)),
            }
        }
        entries
    }

    fn canvas_size(&self) -> (u32, u32) {
        // Wide enough for the title (about 13 px per character at size 24).
        let title = 13 * self.title.chars().count() as u32 + 60;
        let width = (self.columns() as u32 * PANEL_WIDTH + LEGEND_WIDTH).max(title);
        let panels = TITLE_HEIGHT + self.rows() as u32 * PANEL_HEIGHT;
        let legend = TITLE_HEIGHT + (self.legend().len() as u32 + 3) * LEGEND_ROW as u32;
        (width, panels.max(legend))
    }

    fn x_range(&self) -> (f64, f64) {
        if let Some(categories) = &self.categories {
            return (-0.5, categories.len() as f64 - 0.5);
        }
        let (lo, hi) = bounds(self.points().map(|p| p.x));
        match self.spread {
            Spread::Band if hi > lo => (lo, hi),
            _ => pad(lo, hi, 0.08),
        }
    }

    fn y_range(&self) -> (f64, f64) {
        let values = self
            .points()
            .flat_map(|p| [p.mean - SPREAD_SES * p.se, p.mean + SPREAD_SES * p.se]);
        let (lo, hi) = bounds(
            values
                .chain(self.zero_line.then_some(0.0))
                .chain(self.reference),
        );
        pad(lo, hi, 0.06)
    }

    fn points(&self) -> impl Iterator<Item = &Point> {
        self.panels
            .iter()
            .flat_map(|p| &p.series)
            .flat_map(|s| &s.points)
    }
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// Widens `[lo, hi]` by `fraction` of its span on each side (a fixed margin
/// for a degenerate or empty range).
fn pad(lo: f64, hi: f64, fraction: f64) -> (f64, f64) {
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

fn method_color(view: &View, method: &str) -> RGBColor {
    match method {
        "oracle" => RGBColor(0, 0, 0),
        "random" => RGBColor(127, 127, 127),
        _ => {
            let index = view
                .methods
                .iter()
                .filter(|m| !matches!(**m, "oracle" | "random"))
                .position(|m| *m == method)
                .unwrap_or(0);
            PALETTE[index % PALETTE.len()]
        }
    }
}

/// A finite-mean point from a summary row (MCSE 0 when missing).
fn row_point(
    view: &View,
    point: usize,
    method: &str,
    metric: &str,
    index: Option<usize>,
    x: f64,
) -> Option<Point> {
    let row = view.row(point, method, metric, index)?;
    let mean = row.mean.filter(|m| m.is_finite())?;
    let se = row
        .mcse
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(0.0);
    Some(Point { x, mean, se })
}

/// A curve figure: one panel per grid point, `metric` at each grid position.
fn curve_figure(
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
    })
}

/// A scalar metric against the grid parameter that varies.
fn scalar_figure(
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
    let x_param = varying
        .iter()
        .copied()
        .find(|name| numeric(name))
        .or_else(|| varying.first().copied());
    let others: Vec<&str> = varying
        .iter()
        .copied()
        .filter(|name| Some(*name) != x_param)
        .collect();

    // x position of each grid point; categorical positions index `categories`.
    let mut categories: Vec<String> = Vec::new();
    let categorical = x_param.is_none_or(|name| !numeric(name));
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
                value.and_then(Value::as_f64).unwrap_or(0.0)
            }
        })
        .collect();

    // One panel per combination of the other varying parameters.
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

    let methods = view.methods_with(metric);
    let (lo, hi) = bounds(xs.iter().copied());
    let span = if categorical || hi <= lo {
        1.0
    } else {
        hi - lo
    };
    let panels: Vec<Panel> = groups
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
        .collect();
    if panels.iter().all(|p| p.series.is_empty()) {
        return None;
    }
    Some(Figure {
        stem: stem.to_string(),
        title,
        x_desc: x_param.unwrap_or("grid point").to_string(),
        y_desc: y_desc.to_string(),
        panels,
        spread: Spread::ErrorBars,
        zero_line: false,
        reference: None,
        categories: categorical.then_some(categories),
    })
}

/// Tick label: 3 significant digits without trailing zeros, exact zero for
/// round-off near zero.
fn tick_label(value: f64, span: f64) -> String {
    if value.abs() <= 1e-9 * span.abs() {
        return "0".to_string();
    }
    format_coordinate(value, 3)
}

/// Text as drawn: control characters (which would make the SVG invalid XML
/// and draw nothing useful in a PNG) become U+FFFD.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn truncate(label: &str) -> String {
    let label = printable(label);
    if label.chars().count() <= LEGEND_LABEL_CHARS {
        label
    } else {
        let mut short: String = label.chars().take(LEGEND_LABEL_CHARS - 1).collect();
        short.push('…');
        short
    }
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (width, _) = root.dim_in_pixel();
    let (title_area, body) = root.split_vertically(TITLE_HEIGHT);
    title_area.draw(&Text::new(
        printable(&figure.title),
        (width as i32 / 2, TITLE_HEIGHT as i32 / 2),
        TextStyle::from((FAMILY, 24).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    let plots_width = figure.columns() as u32 * PANEL_WIDTH;
    let (plots, legend) = body.split_horizontally(plots_width);
    let plots = plots.margin(0, 0, 0, 0);
    let (plots, _) = plots.split_vertically(figure.rows() as u32 * PANEL_HEIGHT);
    let cells = plots.split_evenly((figure.rows(), figure.columns()));

    let (x0, x1) = figure.x_range();
    let (y0, y1) = figure.y_range();
    let x_span = x1 - x0;
    let y_span = y1 - y0;
    let x_format = |x: &f64| match &figure.categories {
        Some(labels) => {
            let nearest = x.round();
            if (x - nearest).abs() < 1e-6 && nearest >= 0.0 {
                labels.get(nearest as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
        None => tick_label(*x, x_span),
    };
    let y_format = |y: &f64| tick_label(*y, y_span);
    let x_ticks = figure.categories.as_ref().map_or(8, |c| 2 * c.len() + 1);

    for (panel, cell) in figure.panels.iter().zip(cells.iter()) {
        let mut chart = ChartBuilder::on(cell)
            .caption(printable(&panel.title), (FAMILY, 19))
            .margin_top(6)
            .margin_left(10)
            .margin_right(22)
            .margin_bottom(8)
            .x_label_area_size(52)
            .y_label_area_size(74)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(figure.x_desc.clone())
            .y_desc(figure.y_desc.clone())
            .x_labels(x_ticks)
            .y_labels(7)
            .x_label_formatter(&x_format)
            .y_label_formatter(&y_format)
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(242, 242, 242))
            .max_light_lines(2)
            .draw()?;
        if figure.zero_line && y0 < 0.0 && y1 > 0.0 {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x0, 0.0), (x1, 0.0)],
                RGBColor(90, 90, 90).stroke_width(1),
            )))?;
        }
        if let Some(level) = figure.reference {
            let dash = (x1 - x0) / 60.0;
            let mut x = x0;
            while x < x1 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, level), ((x + dash * 0.6).min(x1), level)],
                    RGBColor(200, 30, 30).stroke_width(2),
                )))?;
                x += dash;
            }
        }
        for series in &panel.series {
            draw_series(&mut chart, series, figure.spread, x_span)?;
        }
    }
    draw_legend(&legend, &figure.legend(), figure.spread)
}

fn draw_series<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    series: &Series,
    spread: Spread,
    x_span: f64,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let color = series.color;
    let points = &series.points;
    match spread {
        Spread::Band => {
            if points.len() >= 2 && points.iter().any(|p| p.se > 0.0) {
                let upper = points.iter().map(|p| (p.x, p.mean + SPREAD_SES * p.se));
                let lower = points
                    .iter()
                    .rev()
                    .map(|p| (p.x, p.mean - SPREAD_SES * p.se));
                chart.draw_series(std::iter::once(Polygon::new(
                    upper.chain(lower).collect::<Vec<_>>(),
                    color.mix(0.18).filled(),
                )))?;
            }
        }
        Spread::ErrorBars => {
            let cap = 0.008 * x_span;
            for p in points.iter().filter(|p| p.se > 0.0) {
                let lo = p.mean - SPREAD_SES * p.se;
                let hi = p.mean + SPREAD_SES * p.se;
                chart.draw_series([
                    PathElement::new(vec![(p.x, lo), (p.x, hi)], color.stroke_width(2)),
                    PathElement::new(
                        vec![(p.x - cap, lo), (p.x + cap, lo)],
                        color.stroke_width(2),
                    ),
                    PathElement::new(
                        vec![(p.x - cap, hi), (p.x + cap, hi)],
                        color.stroke_width(2),
                    ),
                ])?;
            }
        }
    }
    chart.draw_series(LineSeries::new(
        points.iter().map(|p| (p.x, p.mean)),
        color.stroke_width(2),
    ))?;
    let radius = match spread {
        Spread::ErrorBars => 4,
        Spread::Band if points.len() <= 21 => 3,
        Spread::Band => 0,
    };
    if radius > 0 {
        chart.draw_series(
            points
                .iter()
                .map(|p| Circle::new((p.x, p.mean), radius, color.filled())),
        )?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor, bool)],
    spread: Spread,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let top = 40;
    area.draw(&Text::new(
        "method".to_string(),
        (14, top - 6),
        TextStyle::from((FAMILY, 17).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    for (i, (label, color, has_spread)) in entries.iter().enumerate() {
        let y = top + (i as i32 + 1) * LEGEND_ROW;
        match spread {
            _ if !has_spread => {}
            Spread::Band => {
                area.draw(&Rectangle::new(
                    [(14, y - 7), (50, y + 7)],
                    color.mix(0.18).filled(),
                ))?;
            }
            Spread::ErrorBars => {
                area.draw(&PathElement::new(
                    vec![(32, y - 9), (32, y + 9)],
                    color.stroke_width(2),
                ))?;
                area.draw(&Circle::new((32, y), 4, color.filled()))?;
            }
        }
        area.draw(&PathElement::new(
            vec![(14, y), (50, y)],
            color.stroke_width(3),
        ))?;
        area.draw(&Text::new(truncate(label), (60, y), text.clone()))?;
    }
    let note = match spread {
        Spread::Band => "shaded: ±2 Monte Carlo SE",
        Spread::ErrorBars => "bars: ±2 Monte Carlo SE",
    };
    let y = top + (entries.len() as i32 + 1) * LEGEND_ROW + 6;
    area.draw(&Text::new(
        note.to_string(),
        (14, y),
        TextStyle::from((FAMILY, 14).into_font())
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(())
}
