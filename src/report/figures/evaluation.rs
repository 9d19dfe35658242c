//! Figures of a real-data evaluation (`meta-router evaluate`): EG and NEG
//! against the usage ratio and regret against the cost weight, each with a
//! ±2 bootstrap-SE band.

use super::layout::{Figure, Panel, Point, Series, Spread};
use super::{render_figures, PALETTE};
use crate::error::Result;
use crate::realdata::evaluate::{Comparison, Evaluation, Interval};
use crate::realdata::evaluate_models::ModelsEvaluation;

fn points(x: &[f64], values: &[Option<Interval>]) -> Vec<Point> {
    x.iter()
        .zip(values)
        .filter_map(|(&x, v)| {
            v.map(|v| Point {
                x,
                mean: v.value,
                se: v.se.unwrap_or(0.0),
            })
        })
        .collect()
}

fn figure(stem: &str, title: String, x_desc: &str, y_desc: &str, points: Vec<Point>) -> Figure {
    Figure {
        stem: stem.to_string(),
        title,
        x_desc: x_desc.to_string(),
        y_desc: y_desc.to_string(),
        panels: vec![Panel {
            title: String::new(),
            series: vec![Series {
                label: "router".into(),
                color: PALETTE[3],
                points,
            }],
        }],
        spread: Spread::BootstrapBand,
        zero_line: true,
        reference: None,
        categories: None,
        log_x: false,
        log_y: false,
        wide_legend: false,
    }
}

/// `eg_vs_rho`, `neg_vs_rho` and `regret_vs_w` (PNG and SVG) drawn in
/// memory: `(file name, bytes)`, for a caller that writes them with other
/// files as one unit.
pub fn evaluation_figure_files(eval: &Evaluation) -> Result<Vec<(String, Vec<u8>)>> {
    render_figures(&evaluation_figure_list(eval))
}

fn evaluation_figure_list(eval: &Evaluation) -> Vec<super::layout::Figure> {
    let band = if eval.options.bootstrap > 0 {
        format!(", ±2 bootstrap SE, B = {}", eval.options.bootstrap)
    } else {
        String::new()
    };
    let rho = &eval.options.rho;
    let regret: Vec<Option<Interval>> = eval.regret.iter().copied().map(Some).collect();
    vec![
        figure(
            "eg_vs_rho",
            format!(
                "Efficiency gain vs usage ratio ({} queries{band})",
                eval.queries
            ),
            "usage ratio ρ",
            "EG(ρ)",
            points(rho, &eval.eg),
        ),
        {
            // NEG is 0/0 at ρ = 0 and 1; the oracle's NEG is 1 (dashed).
            let drawn: Vec<Option<Interval>> = rho
                .iter()
                .zip(&eval.neg)
                .map(|(&r, v)| v.filter(|_| super::layout::neg_drawn_at(r)))
                .collect();
            let mut neg = figure(
                "neg_vs_rho",
                format!("Normalized efficiency gain vs usage ratio{band}; dashed: oracle"),
                "usage ratio ρ",
                "NEG(ρ)",
                points(rho, &drawn),
            );
            neg.reference = Some(1.0);
            neg
        },
        figure(
            "regret_vs_w",
            format!("Regret vs cost weight{band}"),
            "cost weight w",
            "Reg(w)",
            points(&eval.options.w, &regret),
        ),
    ]
}

/// A curve's x grid and its values with intervals.
type Curve = (Vec<f64>, Vec<Option<Interval>>);

/// `compare_eg_paper_vs_rho` and `compare_regret_vs_w` (PNG and SVG) of a
/// comparison, one curve per router with its ±2 bootstrap-SE band, drawn in
/// memory: `(file name, bytes)`.
pub fn comparison_figure_files(comparison: &Comparison) -> Result<Vec<(String, Vec<u8>)>> {
    let first = &comparison.evaluations[0];
    let band = if first.options.bootstrap > 0 {
        format!(", ±2 bootstrap SE, B = {}", first.options.bootstrap)
    } else {
        String::new()
    };
    let series = |pick: &dyn Fn(&Evaluation) -> Curve| {
        comparison
            .names
            .iter()
            .zip(&comparison.evaluations)
            .enumerate()
            .map(|(i, (name, eval))| {
                let (x, values) = pick(eval);
                Series {
                    label: name.clone(),
                    color: PALETTE[i % PALETTE.len()],
                    points: points(&x, &values),
                }
            })
            .collect::<Vec<Series>>()
    };
    let panel = |series: Vec<Series>| {
        vec![Panel {
            title: String::new(),
            series,
        }]
    };
    let eg = series(&|e| (e.options.rho.clone(), e.eg_paper.clone()));
    let regret = series(&|e| {
        let values = e.regret.iter().copied().map(Some).collect();
        (e.options.w.clone(), values)
    });
    let mut eg_figure = figure(
        "compare_eg_paper_vs_rho",
        format!(
            "Efficiency gain / mean gain vs usage ratio ({} queries{band})",
            first.queries
        ),
        "usage ratio ρ",
        "EG(ρ) / m",
        Vec::new(),
    );
    eg_figure.panels = panel(eg);
    let mut regret_figure = figure(
        "compare_regret_vs_w",
        format!("Regret vs cost weight{band}"),
        "cost weight w",
        "Reg(w)",
        Vec::new(),
    );
    regret_figure.panels = panel(regret);
    render_figures(&[eg_figure, regret_figure])
}

/// A many-model evaluation's figures, drawn in memory as `(file name,
/// bytes)`: `frontier` (the router's and the oracle's frontiers, the hulls
/// AIQ integrates, and the always-one-model points), `regret_vs_w` (±2
/// bootstrap SE band) and `shares_vs_w` (the share of queries each model
/// receives).
pub fn models_evaluation_figure_files(eval: &ModelsEvaluation) -> Result<Vec<(String, Vec<u8>)>> {
    use super::layout::named_color;
    let band = if eval.options.bootstrap > 0 {
        format!(", ±2 bootstrap SE, B = {}", eval.options.bootstrap)
    } else {
        String::new()
    };
    let hull = |label: &str, frontier: &[crate::routing::multi::FrontierPoint], color| Series {
        label: label.to_string(),
        color,
        points: frontier
            .iter()
            .map(|p| Point {
                x: p.cost,
                mean: p.quality,
                se: 0.0,
            })
            .collect(),
    };
    let mut single: Vec<Point> = eval
        .point
        .single
        .iter()
        .map(|p| Point {
            x: p.cost,
            mean: p.quality,
            se: 0.0,
        })
        .collect();
    single.sort_by(|a, b| a.x.total_cmp(&b.x));
    let mut frontier = figure(
        "frontier",
        format!("Cost–quality frontier ({} queries)", eval.queries),
        "mean cost per query",
        "mean GS gain over the reference",
        Vec::new(),
    );
    frontier.panels = vec![Panel {
        title: String::new(),
        series: vec![
            hull("router", &eval.frontier, PALETTE[3]),
            hull(
                "oracle",
                &eval.oracle_frontier,
                named_color("oracle").unwrap_or(PALETTE[0]),
            ),
            Series {
                label: super::layout::ALWAYS_ONE_MODEL.to_string(),
                color: plotters::style::RGBColor(127, 127, 127),
                points: single,
            },
        ],
    }];
    let regret = figure(
        "regret_vs_w",
        format!("Regret vs cost weight{band}"),
        "cost weight w",
        "Reg(w)",
        points(
            &eval.options.w,
            &eval.regret.iter().copied().map(Some).collect::<Vec<_>>(),
        ),
    );
    let mut shares = figure(
        "shares_vs_w",
        "Share of queries sent to each model vs cost weight".to_string(),
        "cost weight w",
        "share of queries",
        Vec::new(),
    );
    shares.panels = vec![Panel {
        title: String::new(),
        series: eval
            .names
            .iter()
            .enumerate()
            .map(|(k, name)| Series {
                label: name.clone(),
                color: PALETTE[k % PALETTE.len()],
                points: eval
                    .options
                    .w
                    .iter()
                    .zip(&eval.point.shares)
                    .map(|(&w, s)| Point {
                        x: w,
                        mean: s[k],
                        se: 0.0,
                    })
                    .collect(),
            })
            .collect(),
    }];
    render_figures(&[frontier, regret, shares])
}
