//! Drawing a figure with plotters onto any backend (PNG and SVG).

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::layout::{printable, Dash, Figure, LegendEntry, Look, Marker, Point, Series, Spread};
use super::{
    FAMILY, LEGEND_LABEL_CHARS, LEGEND_ROW, PANEL_HEIGHT, TITLE_HEIGHT, WIDE_LEGEND_LABEL_CHARS,
};
use crate::report::format::format_coordinate;

/// Tick label: 3 significant digits without trailing zeros, exact zero for
/// round-off near zero.
pub(super) fn tick_label(value: f64, span: f64) -> String {
    if value.abs() <= 1e-9 * span.abs() {
        return "0".to_string();
    }
    format_coordinate(value, 3)
}

pub(super) fn truncate(label: &str, chars: usize) -> String {
    let label = printable(label);
    if label.chars().count() <= chars {
        label
    } else {
        let mut short: String = label.chars().take(chars - 1).collect();
        short.push('…');
        short
    }
}

/// Draws `figure` onto `root`: the title, one chart per panel (mesh, guide
/// lines, series) and the legend.
pub(super) fn draw_figure<DB: DrawingBackend>(
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
    let plots_width = figure.plots_width(width);
    let (plots, legend) = body.split_horizontally(plots_width);
    let plots = plots.margin(0, 0, 0, 0);
    let (plots, _) = plots.split_vertically(figure.rows() as u32 * PANEL_HEIGHT);
    let cells = plots.split_evenly((figure.rows(), figure.columns()));

    let x_format = |x: &f64, x_span: f64| match &figure.categories {
        Some(labels) => {
            let nearest = x.round();
            if (x - nearest).abs() < 1e-6 && nearest >= 0.0 {
                labels.get(nearest as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
        None if figure.log_x => format_coordinate(10f64.powf(*x), 3),
        None => tick_label(*x, x_span),
    };
    let free_x = figure.free_x();
    let x_ticks = figure.categories.as_ref().map_or(8, |c| 2 * c.len() + 1);
    let legend_entries = figure.legend();

    for (panel, cell) in figure.panels.iter().zip(cells.iter()) {
        let (x0, x1) = if free_x {
            figure.panel_x_range(panel)
        } else {
            figure.x_range()
        };
        let x_span = x1 - x0;
        let x_format = |x: &f64| x_format(x, x_span);
        let (y0, y1) = figure.panel_y_range(panel);
        let y_span = y1 - y0;
        let y_format = |y: &f64| {
            if figure.log_y {
                format_coordinate(10f64.powf(*y), 3)
            } else {
                tick_label(*y, y_span)
            }
        };
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
        draw_guides(&mut chart, figure, (x0, x1), (y0, y1))?;
        for series in &panel.series {
            let look = figure.look(&legend_entries, &series.label);
            draw_series(
                &mut chart,
                series,
                look,
                (figure.spread, &|p| {
                    let (lo, hi) = figure.spread_of(p);
                    (lo.max(y0), hi.min(y1))
                }),
                x_span,
            )?;
        }
    }
    let chars = if figure.wide_legend {
        WIDE_LEGEND_LABEL_CHARS
    } else {
        LEGEND_LABEL_CHARS
    };
    draw_legend(&legend, &legend_entries, figure.spread, chars)
}

/// The figure's guide lines on one panel: y = 0 (when asked for and inside
/// the y range) and the reference level as a red dashed line.
fn draw_guides<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    figure: &Figure,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
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
    Ok(())
}

/// Draws `$draw` (a closure taking one element) for the marker of `$look`
/// at `$at` with radius `$r` pixels: the same shapes on a chart (data
/// coordinates) and in the legend (pixels).
macro_rules! marker {
    ($draw:expr, $at:expr, $look:expr, $r:expr) => {{
        let (look, r): (Look, i32) = ($look, $r);
        let fill = look.color.filled();
        let stroke = look.color.stroke_width(2);
        match look.marker {
            Marker::Circle => $draw(EmptyElement::at($at) + Circle::new((0, 0), r, fill)),
            Marker::Triangle => $draw(
                EmptyElement::at($at)
                    + Polygon::new(vec![(0, -r - 1), (r + 1, r), (-r - 1, r)], fill),
            ),
            Marker::Square => $draw(
                EmptyElement::at($at) + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], fill),
            ),
            Marker::Diamond => $draw(
                EmptyElement::at($at)
                    + Polygon::new(vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)], fill),
            ),
            Marker::Cross => $draw(
                EmptyElement::at($at)
                    + PathElement::new(vec![(-r, -r), (r, r)], stroke)
                    + PathElement::new(vec![(-r, r), (r, -r)], stroke),
            ),
        }
    }};
}

/// The ends of a point's ±2 MCSE spread, clamped to the panel.
type SpreadEnds<'a> = dyn Fn(&Point) -> (f64, f64) + 'a;

fn draw_series<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    series: &Series,
    look: Look,
    (spread, ends): (Spread, &SpreadEnds),
    x_span: f64,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let color = look.color;
    let points = &series.points;
    match spread {
        Spread::Band | Spread::BootstrapBand => {
            if points.len() >= 2 && points.iter().any(|p| p.se > 0.0) {
                let upper = points.iter().map(|p| (p.x, ends(p).1));
                let low = points.iter().rev().map(|p| (p.x, ends(p).0));
                chart.draw_series(std::iter::once(Polygon::new(
                    upper.chain(low).collect::<Vec<_>>(),
                    color.mix(0.18).filled(),
                )))?;
            }
        }
        Spread::ErrorBars => {
            let cap = 0.008 * x_span;
            for p in points.iter().filter(|p| p.se > 0.0) {
                let (lo, hi) = ends(p);
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
    let line = points.iter().map(|p| (p.x, p.mean));
    let stroke = color.stroke_width(2);
    match dash_pattern(look.dash) {
        _ if look.dash == Dash::Hidden => {}
        None => {
            chart.draw_series(LineSeries::new(line, stroke))?;
        }
        Some((size, gap)) => {
            chart.draw_series(DashedLineSeries::new(line, size, gap, stroke))?;
        }
    }
    let radius = match spread {
        Spread::ErrorBars => 5,
        Spread::Band | Spread::BootstrapBand if points.len() <= 21 => 4,
        Spread::Band | Spread::BootstrapBand => 0,
    };
    if radius > 0 {
        for p in points {
            marker!(
                |element| chart.draw_series(std::iter::once(element)).map(|_| ()),
                (p.x, p.mean),
                look,
                radius
            )?;
        }
    }
    Ok(())
}

/// Dash and gap lengths in pixels (`None`: a solid line).
fn dash_pattern(dash: Dash) -> Option<(i32, i32)> {
    match dash {
        Dash::Solid | Dash::Hidden => None,
        Dash::Dashed => Some((9, 5)),
        Dash::Dotted => Some((2, 4)),
        Dash::Long => Some((18, 6)),
    }
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    spread: Spread,
    chars: usize,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let top = 40;
    area.draw(&Text::new(
        "method".to_string(),
        (14, top - 6),
        TextStyle::from((FAMILY, 17).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    for (i, entry) in entries.iter().enumerate() {
        let y = top + (i as i32 + 1) * LEGEND_ROW;
        let color = entry.look.color;
        match spread {
            _ if !entry.spread => {}
            Spread::Band | Spread::BootstrapBand => {
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
            }
        }
        let stroke = color.stroke_width(3);
        match dash_pattern(entry.look.dash) {
            _ if entry.look.dash == Dash::Hidden => {}
            None => area.draw(&PathElement::new(vec![(14, y), (50, y)], stroke))?,
            Some((size, gap)) => area.draw(&DashedPathElement::new(
                vec![(14, y), (50, y)],
                size,
                gap,
                stroke,
            ))?,
        }
        marker!(|element| area.draw(&element), (32, y), entry.look, 5)?;
        area.draw(&Text::new(
            truncate(&entry.label, chars),
            (60, y),
            text.clone(),
        ))?;
    }
    let note = match spread {
        Spread::Band => "shaded: ±2 Monte Carlo SE",
        Spread::BootstrapBand => "shaded: ±2 bootstrap SE",
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
