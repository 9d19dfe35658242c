//! Flat files for pandas and R: `summary.csv` and `replicates.csv`, in long
//! format (one value per row), written with the `csv` crate.
//!
//! # Model
//! Columns (in this order; `grid_<name>` is one column per grid parameter,
//! sorted by name, after `grid_index`):
//!
//! - `summary.csv`: [`SUMMARY_COLUMNS`] — one row per summary row (means of a
//!   method, and paired differences `method − versus`).
//! - `replicates.csv`: [`REPLICATE_COLUMNS`] — one row per grid point ×
//!   replicate × method × metric × position on the ρ or w grid; a failed fit
//!   is one row with `ok = FALSE`, its `error` and no metric.
//!
//! A curve value carries its usage ratio in `rho` (or cost weight in `w`)
//! next to its `index` in that grid. Numbers are written in Rust's shortest
//! round-trip form (they read back exactly); a missing value (no mean, a
//! curve point not reached, not applicable) is an empty cell, never `NaN`.
//! Booleans are `TRUE` / `FALSE`, which both pandas and R read as logical
//! (R reads lower-case `true` as text).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::study::record::{MetricAxis, Record, Summary, METRICS, SHARE_PREFIX};

/// Columns of `summary.csv` (grid parameters go after `grid_index`).
pub const SUMMARY_COLUMNS: &[&str] = &[
    "grid_index",
    "method",
    "versus",
    "metric",
    "rho",
    "w",
    "index",
    "mean",
    "mcse",
    "n",
    "failures",
];

/// Columns of `replicates.csv` (grid parameters go after `grid_index`).
pub const REPLICATE_COLUMNS: &[&str] = &[
    "grid_index",
    "replicate",
    "method",
    "ok",
    "error",
    "metric",
    "rho",
    "w",
    "index",
    "value",
];

/// A text field quoted for CSV when it needs it (a comma, quote or line
/// break: in quotes, quotes doubled).
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A number as text: shortest round-trip form; empty when missing or not finite.
pub(super) fn number(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) => format!("{x:?}"),
        None => String::new(),
    }
}

/// A grid value as text: strings bare, everything else as JSON.
fn grid_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The header: the fixed columns with `grid_<name>` after `grid_index`.
fn header(fixed: &[&str], parameters: &BTreeSet<String>) -> Vec<String> {
    let mut columns = vec![fixed[0].to_string()];
    columns.extend(parameters.iter().map(|p| format!("grid_{p}")));
    columns.extend(fixed[1..].iter().map(|c| c.to_string()));
    columns
}

// Writing CSV into memory has no I/O to fail, and every field is a string.
fn finish(writer: csv::Writer<Vec<u8>>) -> Vec<u8> {
    writer.into_inner().expect("CSV written to memory")
}

fn write_row(writer: &mut csv::Writer<Vec<u8>>, row: &[String]) {
    writer.write_record(row).expect("CSV written to memory");
}

/// `summary.csv` of a summary.
pub fn summary_csv(summary: &Summary) -> Vec<u8> {
    let parameters: BTreeSet<String> = summary
        .rows
        .iter()
        .flat_map(|r| r.grid.keys().cloned())
        .collect();
    // Grid index: the position among the scenario constants (one per grid
    // point, in grid order), else the order of first appearance.
    let mut seen: Vec<&BTreeMap<String, Value>> = Vec::new();
    let mut writer = csv::Writer::from_writer(Vec::new());
    write_row(&mut writer, &header(SUMMARY_COLUMNS, &parameters));
    for row in &summary.rows {
        let grid_index = match summary
            .provenance
            .constants
            .iter()
            .position(|c| c.grid == row.grid)
        {
            Some(i) => i,
            None => match seen.iter().position(|g| **g == row.grid) {
                Some(i) => i,
                None => {
                    seen.push(&row.grid);
                    seen.len() - 1
                }
            },
        };
        let mut cells = vec![grid_index.to_string()];
        cells.extend(parameters.iter().map(|p| grid_value(row.grid.get(p))));
        cells.extend([
            row.method.clone(),
            row.versus.clone().unwrap_or_default(),
            row.metric.clone(),
            number(row.rho),
            number(row.w),
            row.index.map_or(String::new(), |i| i.to_string()),
            number(row.mean),
            number(row.mcse),
            row.n.to_string(),
            row.failures.to_string(),
        ]);
        write_row(&mut writer, &cells);
    }
    finish(writer)
}

/// `replicates.csv` of a study's records; `rho` and `w` are the study's grids.
pub fn replicates_csv(records: &[Record], rho: &[f64], w: &[f64]) -> Vec<u8> {
    let parameters: BTreeSet<String> = records
        .iter()
        .flat_map(|r| r.grid.keys().cloned())
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    write_row(&mut writer, &header(REPLICATE_COLUMNS, &parameters));
    for record in records {
        let mut prefix = vec![record.grid_index.to_string()];
        prefix.extend(parameters.iter().map(|p| grid_value(record.grid.get(p))));
        prefix.extend([
            record.replicate.to_string(),
            record.method.clone(),
            if record.ok { "TRUE" } else { "FALSE" }.to_string(),
            record.error.clone().unwrap_or_default(),
        ]);
        let mut emit = |metric: &str,
                        (at_rho, at_w, index): (Option<f64>, Option<f64>, Option<usize>),
                        value: Option<f64>| {
            let mut cells = prefix.clone();
            cells.extend([
                metric.to_string(),
                number(at_rho),
                number(at_w),
                index.map_or(String::new(), |i| i.to_string()),
                number(value),
            ]);
            write_row(&mut writer, &cells);
        };
        if !record.ok {
            emit("", (None, None, None), None);
            continue;
        }
        let metrics = &record.metrics;
        // A record of a many-model study carries the frontier's AIQ.
        let multi = metrics.aiq.is_some();
        for info in METRICS.iter().filter(|m| m.scope.applies(multi)) {
            match info.axis {
                MetricAxis::Scalar => {
                    // Undefined for this method (e.g. mse_delta of a baseline): no row.
                    if let Some(value) = metrics.value(info.name, None) {
                        emit(info.name, (None, None, None), Some(value));
                    }
                }
                MetricAxis::Rho => {
                    for (i, &x) in rho.iter().enumerate() {
                        emit(
                            info.name,
                            (Some(x), None, Some(i)),
                            metrics.value(info.name, Some(i)),
                        );
                    }
                }
                MetricAxis::W => {
                    for (i, &x) in w.iter().enumerate() {
                        emit(
                            info.name,
                            (None, Some(x), Some(i)),
                            metrics.value(info.name, Some(i)),
                        );
                    }
                }
            }
        }
        for share in &metrics.shares {
            let name = format!("{SHARE_PREFIX}{}", share.model);
            for (i, &x) in w.iter().enumerate() {
                emit(&name, (None, Some(x), Some(i)), share.share.get(i).copied());
            }
        }
        for (name, &value) in &metrics.extra {
            emit(name, (None, None, None), Some(value));
        }
    }
    finish(writer)
}
