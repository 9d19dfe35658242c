//! The paper's figures and tables, drawn from stored study summaries.
//!
//! # Model
//! Each figure of the paper's reproduction ([`PAPER_FIGURES`]) names the study
//! whose summary it draws, the methods in the paper's order (colours fixed by
//! method name) and the usage-ratio range `ρ ∈ [0.2, 0.8]` of the paper's
//! plots. The curve is the paper's normalized efficiency gain `EG(ρ)/m`
//! (`eg_paper`, `m` the test law's mean gain), one panel per grid point, with
//! a ±2 Monte Carlo SE band.
//!
//! # Algorithm
//! - **Peak** of a method: the largest value of its *mean* curve over the
//!   plotted ρ range (a ratio of means, never a mean of per-replicate peaks),
//!   reported with the MCSE at that ρ.
//! - **Paired differences** at the peak: the summary's `method − reference`
//!   row of `eg_paper` at the method's peak ρ, and of `neg_area`, each with its
//!   paired MCSE (every method of a replicate sees the same data).
//! - [`ablation_figure`]: every method's curve, for the ablation studies (a
//!   study with swept settings: the NEG area against the swept key).
//! - [`paired_figure`]: the paired difference of `neg_area` to each reference
//!   (a panel per reference), x = grid point, ±2 MCSE bars.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::layout::{method_color, row_point, summary_point, Figure, Panel, Series, Spread};
use super::write_figures;
use crate::error::Result;
use crate::report::format::format_significant;
use crate::report::view::View;
use crate::study::record::{Summary, SummaryRow};

/// One of the paper's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperFigure {
    /// File stem of the figure (`fig1`).
    pub name: &'static str,
    /// The study whose summary it draws (`simulations/paper/<study>.toml`).
    pub study: &'static str,
    /// Title.
    pub title: &'static str,
    /// Methods, in the order of the paper's legend.
    pub methods: &'static [&'static str],
}

/// The usage-ratio range of the paper's plots.
pub(crate) const RHO_RANGE: (f64, f64) = (0.2, 0.8);

const FIG1_METHODS: &[&str] = &["all-gold", "R", "DR", "pooled", "pb-only", "gs-only"];

/// The paper's figures, in order.
pub const PAPER_FIGURES: &[PaperFigure] = &[
    PaperFigure {
        name: "fig1",
        study: "fig1",
        title: "Fig. 1: normalized efficiency gain EG(ρ)/m, healthbench-like, random forests",
        methods: FIG1_METHODS,
    },
    PaperFigure {
        name: "fig2",
        study: "fig2",
        title: "Fig. 2: normalized efficiency gain EG(ρ)/m, healthbench-like, gradient boosting",
        methods: FIG1_METHODS,
    },
    PaperFigure {
        name: "fig3",
        study: "fig1",
        title: "Fig. 3: Fig. 1 with the linear-scaling (mean-shift) router",
        methods: &[
            "all-gold",
            "R",
            "DR",
            "pooled",
            "pb-only",
            "gs-only",
            "mean-shift",
        ],
    },
    PaperFigure {
        name: "fig4",
        study: "fig4",
        title: "Fig. 4: normalized efficiency gain EG(ρ)/m, PRBench-like sizes, random forests",
        methods: FIG1_METHODS,
    },
];

/// `eg_paper` curves of `methods` on the ρ range, a panel per grid point.
fn curves(view: &View, stem: &str, title: &str, methods: &[&str]) -> Option<Figure> {
    let rho = &view.summary.rho;
    let panels: Vec<Panel> = (0..view.points.len())
        .map(|point| Panel {
            title: view.point_label(point),
            series: methods
                .iter()
                .map(|method| Series {
                    label: method.to_string(),
                    color: method_color(view, method),
                    points: rho
                        .iter()
                        .enumerate()
                        .filter(|(_, &r)| r >= RHO_RANGE.0 - 1e-12 && r <= RHO_RANGE.1 + 1e-12)
                        .filter_map(|(i, &r)| {
                            row_point(view, point, method, "eg_paper", Some(i), r)
                        })
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
        title: title.to_string(),
        x_desc: "usage ratio ρ of the primary model".into(),
        y_desc: "normalized efficiency gain EG(ρ)/m".into(),
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

/// Draws one of the paper's figures from its study's summary into `out_dir`
/// (PNG and SVG); nothing when the summary lacks every method.
pub fn paper_figure(
    figure: &PaperFigure,
    summary: &Summary,
    out_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let view = View::new(summary);
    match curves(&view, figure.name, figure.title, figure.methods) {
        Some(f) => write_figures(&[f], out_dir),
        None => Ok(Vec::new()),
    }
}

/// The figure of an ablation study, as `<stem>.png/svg`: every method's
/// `eg_paper` curve; for a study with swept method settings, the NEG area
/// against its first swept key instead (a line per family, ±2 MCSE, the
/// methods without a sweep as horizontal lines), so the variants are
/// compared along the setting rather than as overlapping curves.
pub fn ablation_figure(
    summary: &Summary,
    stem: &str,
    title: &str,
    out_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let view = View::new(summary);
    let methods: Vec<&str> = view.methods.clone();
    let figure = if summary.provenance.sweeps.is_empty() {
        curves(&view, stem, title, &methods)
    } else {
        super::sweep::first_key_figure(&view, "neg_area", stem, title, "NEG area A")
    };
    match figure {
        Some(f) => write_figures(&[f], out_dir),
        None => Ok(Vec::new()),
    }
}

/// The paired difference of NEG area to each reference method, a panel per
/// reference, x = grid point (categorical), ±2 MCSE bars.
pub fn paired_figure(
    summary: &Summary,
    stem: &str,
    title: &str,
    out_dir: &Path,
) -> Result<Vec<PathBuf>> {
    let view = View::new(summary);
    let references = &summary.provenance.compare_to;
    let categories: Vec<String> = (0..view.points.len())
        .map(|p| view.point_label(p))
        .collect();
    let panels: Vec<Panel> = references
        .iter()
        .map(|reference| Panel {
            title: format!("method − {reference}"),
            series: view
                .methods
                .iter()
                .filter(|m| *m != reference)
                .map(|method| Series {
                    label: method.to_string(),
                    color: method_color(&view, method),
                    points: (0..view.points.len())
                        .filter_map(|point| {
                            let row = paired_row(
                                summary,
                                view.points[point],
                                method,
                                reference,
                                "neg_area",
                                None,
                            )?;
                            summary_point(row, point as f64)
                        })
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        })
        .filter(|p| !p.series.is_empty())
        .collect();
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let figure = Figure {
        stem: stem.to_string(),
        title: title.to_string(),
        x_desc: "grid point".into(),
        y_desc: "paired difference of NEG area".into(),
        panels,
        spread: Spread::ErrorBars,
        zero_line: true,
        reference: None,
        categories: Some(categories),
        log_x: false,
        log_y: false,
        wide_legend: false,
    };
    write_figures(&[figure], out_dir)
}

fn paired_row<'a>(
    summary: &'a Summary,
    grid: &std::collections::BTreeMap<String, serde_json::Value>,
    method: &str,
    reference: &str,
    metric: &str,
    index: Option<usize>,
) -> Option<&'a SummaryRow> {
    summary.rows.iter().find(|r| {
        &r.grid == grid
            && r.method == method
            && r.versus.as_deref() == Some(reference)
            && r.metric == metric
            && r.index == index
    })
}

/// A method's peak of the mean `eg_paper` curve on [`RHO_RANGE`]: (ρ index, row).
pub(crate) fn peak<'a>(
    view: &View<'a>,
    point: usize,
    method: &str,
) -> Option<(usize, &'a SummaryRow)> {
    let rho = &view.summary.rho;
    (0..rho.len())
        .filter(|&i| rho[i] >= RHO_RANGE.0 - 1e-12 && rho[i] <= RHO_RANGE.1 + 1e-12)
        .filter_map(|i| {
            let row = view.row(point, method, "eg_paper", Some(i))?;
            row.mean.filter(|m| m.is_finite()).map(|_| (i, row))
        })
        .max_by(|a, b| a.1.mean.unwrap().total_cmp(&b.1.mean.unwrap()))
}

fn cell(row: Option<&SummaryRow>) -> String {
    match row.and_then(|r| Some((r.mean?, r.mcse))) {
        Some((m, Some(se))) => format!(
            "{} ± {}",
            format_significant(m, 3),
            format_significant(se, 2)
        ),
        Some((m, None)) => format_significant(m, 3),
        None => "—".into(),
    }
}

/// A markdown table per grid point of a study: each method's peak `EG/m` (at
/// which ρ), its paired difference at that ρ to each reference, NEG area and
/// MSE of ψ̂, all ± MCSE.
pub fn tables(summary: &Summary, methods: &[&str]) -> String {
    let view = View::new(summary);
    let references = &summary.provenance.compare_to;
    let mut out = String::new();
    for point in 0..view.points.len() {
        let grid = view.points[point];
        let _ = writeln!(out, "#### {}: {}\n", summary.study, view.point_label(point));
        let mut header = String::from("| method | peak EG/m (ρ) |");
        let mut rule = String::from("|---|---:|");
        for reference in references {
            let _ = write!(header, " − {reference} at that ρ |");
            rule.push_str("---:|");
        }
        for reference in references {
            let _ = write!(header, " NEG area − {reference} |");
            rule.push_str("---:|");
        }
        header.push_str(" NEG area | MSE(ψ̂) | n |");
        rule.push_str("---:|---:|---:|");
        let _ = writeln!(out, "{header}\n{rule}");
        for method in methods.iter().filter(|m| view.methods.contains(m)) {
            let Some((i, row)) = peak(&view, point, method) else {
                continue;
            };
            let mut line = format!(
                "| {method} | {} ({}) |",
                cell(Some(row)),
                format_significant(summary.rho[i], 2)
            );
            for reference in references {
                let text = if reference == method {
                    "—".to_string()
                } else {
                    cell(paired_row(
                        summary,
                        grid,
                        method,
                        reference,
                        "eg_paper",
                        Some(i),
                    ))
                };
                let _ = write!(line, " {text} |");
            }
            for reference in references {
                let text = if reference == method {
                    "—".to_string()
                } else {
                    cell(paired_row(
                        summary, grid, method, reference, "neg_area", None,
                    ))
                };
                let _ = write!(line, " {text} |");
            }
            let _ = writeln!(
                line,
                " {} | {} | {} |",
                cell(view.row(point, method, "neg_area", None)),
                cell(view.row(point, method, "mse_psi", None)),
                row.n
            );
            out.push_str(&line);
        }
        out.push('\n');
    }
    out
}
