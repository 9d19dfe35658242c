//! Figures (PNG and SVG, plotters with the embedded DejaVu Sans font).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

mod draw;
mod evaluation;
mod layout;
pub mod paper;
mod rates;
mod sweep;

pub use evaluation::{
    comparison_figure_files, evaluation_figure_files, models_evaluation_figure_files,
};

use super::view::View;
use crate::error::{Error, Result};
use crate::study::record::Summary;
use draw::draw_figure;
use layout::{curve_figure, frontier_figure, scalar_figure};

/// The embedded font (DejaVu Sans, Bitstream Vera / DejaVu licence).
const FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
/// The only font family the figures use; registered with plotters' ab_glyph
/// font store before drawing.
const FAMILY: &str = "sans-serif";

const PANEL_WIDTH: u32 = 540;
const PANEL_HEIGHT: u32 = 400;
const TITLE_HEIGHT: u32 = 56;
const LEGEND_WIDTH: u32 = 260;
const LEGEND_ROW: i32 = 30;
const LEGEND_LABEL_CHARS: usize = 22;
/// Legend width and label length of figures whose labels carry numbers
/// (the rate figures' fitted slopes).
const WIDE_LEGEND_WIDTH: u32 = 520;
const WIDE_LEGEND_LABEL_CHARS: usize = 48;
const MAX_COLUMNS: usize = 3;
/// Half-width of bands and error bars in Monte Carlo SEs.
const SPREAD_SES: f64 = 2.0;

/// Tableau-10 without its grey, which is kept for the `random` reference.
const PALETTE: [RGBColor; 9] = [
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(44, 160, 44),
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
/// | `frontier` | many models: per method the non-decreasing concave hull of its mean (cost, quality) points over the w grid (the frontier AIQ integrates), ±2 MCSE band, and the always-one-model points; a cost axis per panel when the panels' cost ranges differ |
/// | `rate_mse_psi`, `rate_mse_delta` | rate studies (`[evaluation] rate`): log10 MSE against log10 of the rate key, fitted slopes in the legend, ±2 MCSE bars |
/// | `excess_mse_psi`, `excess_mse_delta` | the same for excess errors over a reference (paired differences) |
/// | `rate_delta_bias` | perturbed oracles: log10 mean error of Δ̂ against log10 of the rate key |
/// | `rate_propensity_mse` | `[evaluation] propensity_error`: log10 mean (p̂ − p)² against log10 of the rate key |
/// | `coverage_<target>` | inference studies: empirical coverage of each interval against the varying grid parameter, ±2 MCSE bars, the nominal level dashed |
/// | `error_product` | perturbed oracles: log10 mean error of Δ̂ against log10 of the nuisance-error product, with the theory's line |
/// | MSE figures | drawn on a log y axis (ticks labelled with the values, bars asymmetric, a lower end at or below 0 runs to the axis) when within some panel the largest mean exceeds 20 times the smallest and every mean is positive |
/// | `aiq`, `frontier_gap` | many models: AIQ and the gap to the oracle's AIQ against the varying grid parameter (the number of models on a discrete axis), ±2 MCSE error bars |
/// | `<metric>_vs_<key>` | studies with swept method settings: `mse_psi`, `mse_delta`, `neg_area` (or `aiq`) against each swept key, a line per method family, ±2 MCSE bars, the methods without a sweep as horizontal lines (module `sweep`) |
///
/// A figure whose metric has no finite mean in the summary is skipped. When
/// several grid parameters vary, the scalar figures (MSE, coverage, AIQ) put
/// the rate key of a rate study (on a log axis), or else the first numeric
/// parameter, on the x axis and draw one panel per combination of the others.
///
/// # Errors
/// [`Error::Io`] when the folder cannot be created or plotters fails to draw
/// or write a file (the message names the file); [`meta_router_core::Error::InvalidParameter`]
/// if the embedded font cannot be loaded.
pub fn figures(summary: &Summary, out_dir: &Path) -> Result<Vec<PathBuf>> {
    register_fonts()?;
    write_figures(&describe(summary), out_dir)
}

/// The figures of a GS-label budget plan (`meta-router plan`):
/// `plan_eg_area` and `plan_neg_area`, the EG area (±2 of its MCSE bound)
/// and the NEG area (±2 MCSE) of every method against the GS budget
/// `n_gold`.
pub fn plan_figures(summary: &Summary, out_dir: &Path) -> Result<Vec<PathBuf>> {
    register_fonts()?;
    let with_areas = super::plan::with_eg_areas(summary);
    let view = View::new(&with_areas);
    let eg = scalar_figure(
        &view,
        "plan_eg_area",
        "eg_area",
        "EG area against the GS-label budget n_gold".to_string(),
        "EG area (gain over random routing, integrated over ρ)",
    );
    let neg = scalar_figure(
        &view,
        "plan_neg_area",
        "neg_area",
        "NEG area against the GS-label budget n_gold".to_string(),
        "NEG area A",
    );
    let figures: Vec<layout::Figure> = eg.into_iter().chain(neg).collect();
    write_figures(&figures, out_dir)
}

/// The figures of [`figures`] as data (panels, series, looks), undrawn.
fn describe(summary: &Summary) -> Vec<layout::Figure> {
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
        "regret",
        &summary.w,
        format!("Routing regret vs cost weight (study {study})"),
        "cost weight w",
        "regret Reg(w)",
    ));
    // Many models: the cost–quality frontier, AIQ and the gap to the oracle.
    figures.extend(frontier_figure(
        &view,
        format!("Cost–quality frontier as the cost weight w varies (study {study})"),
    ));
    figures.extend(scalar_figure(
        &view,
        "aiq",
        "aiq",
        format!("AIQ: mean of the cost–quality frontier over the cost range (study {study})"),
        "AIQ",
    ));
    figures.extend(scalar_figure(
        &view,
        "frontier_gap",
        "frontier_gap",
        format!("Area between the oracle's frontier and the router's (study {study})"),
        "AIQ(oracle) − AIQ",
    ));
    figures.extend(coverage_figures(&view, summary));
    // Swept method settings: each scalar metric against the swept value.
    figures.extend(sweep::sweep_figures(&view, study));

    // Rate studies: log–log convergence and the nuisance-error product.
    figures.extend(rates::rate_figures(&view, summary));
    figures.extend(rates::error_product_figure(&view, summary));
    figures
        .into_iter()
        .map(layout::Figure::into_log_y)
        .collect()
}

/// Coverage of each inference target against the grid, ±2 MCSE bars and
/// the nominal level (the records' `<target>.level`) as a dashed line.
fn coverage_figures(view: &View, summary: &Summary) -> Vec<layout::Figure> {
    let study = &summary.study;
    let mut figures = Vec::new();
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
            view,
            &stem,
            &format!("{target}.coverage"),
            format!("Coverage of the {target} interval, ±2 MCSE (study {study})"),
            "empirical coverage",
        ) {
            figure.reference = nominal;
            figures.push(figure);
        }
    }
    figures
}

/// Draws each figure as PNG and SVG into `out_dir` (replacing the files
/// atomically, never through a symbolic link); returns the paths.
fn write_figures(figures: &[layout::Figure], out_dir: &Path) -> Result<Vec<PathBuf>> {
    let rendered = render_figures(figures)?;
    let created = crate::files::create_folder(out_dir)?;
    let files: Vec<(PathBuf, Vec<u8>)> = rendered
        .into_iter()
        .map(|(name, bytes)| (out_dir.join(name), bytes))
        .collect();
    if let Err(e) = crate::files::write_files(&files, crate::files::Existing::Replace) {
        created.undo();
        return Err(e);
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// Draws each figure as PNG and SVG in memory: `(file name, bytes)`, in the
/// order PNG, SVG of each figure.
fn render_figures(figures: &[layout::Figure]) -> Result<Vec<(String, Vec<u8>)>> {
    register_fonts()?;
    let mut rendered = Vec::with_capacity(2 * figures.len());
    for figure in figures {
        let (width, height) = figure.canvas_size();
        let png = format!("{}.png", figure.stem);
        let mut pixels = vec![0u8; 3 * width as usize * height as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
            draw_figure(&root, figure).map_err(|e| plot_error(Path::new(&png), e))?;
            root.present().map_err(|e| plot_error(Path::new(&png), e))?;
        }
        // The encoder (and its default settings) plotters uses when it
        // writes a PNG file itself: the bytes are the same.
        let mut encoded = Vec::new();
        {
            use image::ImageEncoder;
            image::codecs::png::PngEncoder::new(&mut encoded)
                .write_image(&pixels, width, height, image::ColorType::Rgb8)
                .map_err(|e| {
                    Error::io(
                        Path::new(&png),
                        std::io::Error::other(format!("encoding the figure failed: {e}")),
                    )
                })?;
        }
        rendered.push((png, encoded));
        let svg = format!("{}.svg", figure.stem);
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
            draw_figure(&root, figure).map_err(|e| plot_error(Path::new(&svg), e))?;
            root.present().map_err(|e| plot_error(Path::new(&svg), e))?;
        }
        rendered.push((svg, text.into_bytes()));
    }
    Ok(rendered)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed study's summary under `results/`.
    fn committed_summaries() -> Vec<(PathBuf, Summary)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.file_name().is_some_and(|n| n == "summary.json") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    found.push((path.clone(), serde_json::from_str(&text).unwrap()));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// The rules a figure of a committed study must keep: no two legend
    /// entries look alike (colour, line and marker); every point, with
    /// its ±2 MCSE spread (stopped at 0 for a metric that cannot be
    /// negative), lies inside its panel's y range and the x range; NEG
    /// leaves out ρ = 0 and 1, where it is 0/0.
    #[test]
    fn every_committed_figure_keeps_the_figure_rules() {
        let summaries = committed_summaries();
        assert!(summaries.len() >= 20, "found {} studies", summaries.len());
        let mut checked = 0;
        for (path, summary) in &summaries {
            for figure in describe(summary) {
                let at = format!("{} ({})", figure.stem, path.display());
                let legend = figure.legend();
                for (i, a) in legend.iter().enumerate() {
                    for b in &legend[i + 1..] {
                        assert!(
                            a.look != b.look,
                            "{at}: {} and {} look alike",
                            a.label,
                            b.label
                        );
                    }
                }
                for panel in &figure.panels {
                    let (x0, x1) = figure.panel_x_range(panel);
                    let (y0, y1) = figure.panel_y_range(panel);
                    for series in &panel.series {
                        for p in &series.points {
                            let (lo, hi) = figure.spread_of(p);
                            let lo = lo.max(y0);
                            assert!(
                                y0 <= lo && hi <= y1 && x0 <= p.x && p.x <= x1,
                                "{at}: {} at x = {} ({lo}, {hi}) outside [{y0}, {y1}] × [{x0}, {x1}]",
                                series.label,
                                p.x
                            );
                            if figure.stem == "neg_vs_rho" {
                                assert!(p.x > 0.0 && p.x < 1.0, "{at}: NEG drawn at ρ = {}", p.x);
                            }
                        }
                    }
                }
                if figure.stem.starts_with("mse_") && !figure.log_y {
                    // A linear MSE axis only where no panel's means differ
                    // 20-fold (or some mean is 0, which a log axis cannot show).
                    for panel in &figure.panels {
                        let means = || panel.series.iter().flat_map(|s| &s.points).map(|p| p.mean);
                        let (lo, hi) = layout::bounds(means());
                        assert!(
                            lo <= 0.0 || hi <= layout::LOG_Y_RATIO * lo,
                            "{at}: MSE means {lo} to {hi} on a linear axis"
                        );
                    }
                }
                if figure.x_desc == "models" {
                    assert!(
                        figure.categories.is_some(),
                        "{at}: a count on a continuous axis"
                    );
                }
                if figure.stem == "frontier" {
                    for series in figure.panels.iter().flat_map(|p| &p.series) {
                        if series.label == layout::ALWAYS_ONE_MODEL {
                            continue;
                        }
                        let slopes: Vec<f64> = series
                            .points
                            .windows(2)
                            .map(|w| (w[1].mean - w[0].mean) / (w[1].x - w[0].x))
                            .collect();
                        assert!(
                            slopes.iter().all(|&s| s >= 0.0)
                                && slopes.windows(2).all(|s| s[1] <= s[0]),
                            "{at}: {} is not a non-decreasing concave hull",
                            series.label
                        );
                    }
                }
                checked += 1;
            }
        }
        assert!(checked >= 100, "{checked} figures checked");
    }
}
