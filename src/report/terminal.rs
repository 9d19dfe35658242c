//! The compact table printed on the terminal after a run.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::study::record::Summary;

/// Per grid point and method: MSE of ψ̂, MSE of Δ̂, area under NEG (each mean ±
/// Monte Carlo SE) and the peak of the mean paper-scale efficiency-gain curve;
/// for studies with several candidate models, AIQ and the frontier gap in
/// place of the two-model curves (MSEs then average over the models).
pub fn terminal_table(summary: &Summary) -> String {
    let mut out = String::new();
    let multi = summary.rows.iter().any(|r| r.metric == "aiq");
    let mut current_grid = None;
    let find = |grid: &_, method: &str, metric: &str| {
        summary
            .rows
            .iter()
            .filter(|r| {
                r.versus.is_none() && &r.grid == grid && r.method == method && r.metric == metric
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let fmt = |mean: Option<f64>, mcse: Option<f64>| match (mean, mcse) {
        (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
        (Some(m), None) => format!("{m:.4}"),
        _ => "—".to_string(),
    };
    for row in summary
        .rows
        .iter()
        .filter(|r| r.versus.is_none() && r.metric == "mse_psi")
    {
        if current_grid.as_ref() != Some(&row.grid) {
            write_point_header(&mut out, &row.grid, multi);
            current_grid = Some(row.grid.clone());
        }
        let delta = find(&row.grid, &row.method, "mse_delta");
        let cell = |rows: &[crate::study::record::SummaryRow]| {
            rows.first().map_or("—".into(), |r| fmt(r.mean, r.mcse))
        };
        let (third, fourth) = if multi {
            (
                cell(&find(&row.grid, &row.method, "aiq")),
                cell(&find(&row.grid, &row.method, "frontier_gap")),
            )
        } else {
            let peak = find(&row.grid, &row.method, "eg_paper")
                .iter()
                .filter_map(|r| r.mean)
                .fold(None, |acc: Option<f64>, v| {
                    Some(acc.map_or(v, |a| a.max(v)))
                });
            (
                cell(&find(&row.grid, &row.method, "neg_area")),
                peak.map_or("—".into(), |p| format!("{p:.3}")),
            )
        };
        let _ = writeln!(
            out,
            "{:<14} {:>20} {:>20} {:>20} {:>width$} {:>4}",
            row.method,
            fmt(row.mean, row.mcse),
            cell(&delta),
            third,
            fourth,
            row.failures,
            width = if multi { 20 } else { 12 }
        );
    }
    out
}

/// The heading of one grid point's block and its column header (AIQ
/// columns for a many-model study, NEG area and the peak of EG/m otherwise).
fn write_point_header(out: &mut String, grid: &BTreeMap<String, serde_json::Value>, multi: bool) {
    let point: Vec<String> = grid.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    let _ = writeln!(
        out,
        "\n## {}",
        if point.is_empty() {
            "study".into()
        } else {
            point.join(", ")
        }
    );
    let (third, fourth) = if multi {
        ("AIQ", "AIQ gap")
    } else {
        ("area NEG", "peak EG/m")
    };
    let _ = writeln!(
        out,
        "{:<14} {:>20} {:>20} {:>20} {:>width$} {:>4}",
        "method",
        "MSE(psi)",
        "MSE(delta)",
        third,
        fourth,
        "fail",
        width = if multi { 20 } else { 12 }
    );
}
