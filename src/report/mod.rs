//! Reports of a finished study: `summary.md` tables, `summary.csv` and
//! `replicates.csv` for pandas and R, and PNG/SVG figures, drawn only from a
//! stored [`Summary`](crate::study::record::Summary) and the stored records;
//! and the reports of `check` (terminal, markdown, JUnit XML).
//!
//! # Model
//!
//! A summary holds one row per grid point × method × metric (× position in
//! the ρ or w grid for curve metrics) with the mean over replicates, its Monte
//! Carlo standard error (MCSE), the number of contributing replicates and the
//! number of failed fits (`docs/method.md` §5). Reports only rearrange these
//! numbers; they never recompute a metric.
//!
//! # Algorithm
//!
//! - Grid points are the distinct `grid` maps in order of first appearance;
//!   methods likewise (the spec's order, as the study writes rows).
//! - Scalar metrics are the rows with `index = None` (`mse_psi`, `mse_delta`,
//!   `neg_area` first, then any others by name); curve metrics are `eg`, `neg`,
//!   `eg_paper` over `summary.rho` and `regret` over `summary.w`.
//! - [`markdown`] renders cells as `mean ± mcse (n, failures)` with 4
//!   significant digits for means and 2 for MCSEs; a missing or non-finite
//!   value prints as `—`, never `NaN`.
//! - [`figures`] draws (a) EG and NEG against the usage ratio ρ, one panel per
//!   grid point, with a translucent ±2 MCSE band; (b) `mse_psi` against the
//!   grid parameter that varies, with ±2 MCSE error bars (one panel per
//!   combination of the other varying parameters); (c) regret against the
//!   cost weight w, one panel per grid point. Each figure is written as PNG
//!   and SVG; text uses the embedded DejaVu Sans font, so no system font
//!   library is needed.
//! - [`summary_csv`] and [`replicates_csv`] flatten the summary and the
//!   records to long-format CSV (columns in [`SUMMARY_COLUMNS`] and
//!   [`REPLICATE_COLUMNS`]; the schemas of every output file are in
//!   `docs/outputs.md`).
//! - [`check_table`], [`check_markdown`] and [`junit`] render a
//!   [`CheckOutcome`](crate::study::check::CheckOutcome); [`claims_table`]
//!   the claims `simulate` evaluates.
//!
//! # References
//!
//! Morris, White & Crowther (2019), *Using simulation studies to evaluate
//! statistical methods*, Statistics in Medicine 38:2074–2102 (reporting
//! Monte Carlo SEs next to every performance measure).
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use meta_router::report::markdown;
//! use meta_router::study::record::{Summary, SummaryRow};
//!
//! let row = SummaryRow {
//!     grid: BTreeMap::from([("n_gold".to_string(), serde_json::json!(100))]),
//!     method: "r-learner".to_string(),
//!     versus: None,
//!     metric: "mse_psi".to_string(),
//!     index: None,
//!     rho: None,
//!     w: None,
//!     mean: Some(0.012345),
//!     mcse: Some(0.00051),
//!     n: 20,
//!     failures: 0,
//! };
//! let summary = Summary {
//!     format: meta_router::study::record::SUMMARY_FORMAT.to_string(),
//!     provenance: Default::default(),
//!     study: "demo".to_string(),
//!     seed: 1,
//!     replicates: 20,
//!     rho: vec![0.0, 0.5, 1.0],
//!     w: vec![0.0],
//!     rows: vec![row],
//!     warnings: vec![],
//!     slopes: vec![],
//! };
//! let md = markdown(&summary);
//! assert!(md.contains("0.01235 ± 0.00051 (20, 0)"));
//! ```

mod check;
mod comparison;
mod evaluation;
mod figures;
mod format;
pub mod html;
mod markdown;
mod models_evaluation;
pub mod pilot_check;
pub mod plan;
mod tabular;
mod terminal;
mod view;

use std::path::{Path, PathBuf};

pub use check::{check_markdown, check_table, claim_judgement, claims_table, junit, TERMINAL_ROWS};
pub use comparison::{comparison_csv, comparison_markdown, ComparisonSource};
pub use evaluation::{evaluation_csv, evaluation_markdown, target_population, EvaluationSource};
pub use figures::{
    comparison_figure_files, evaluation_figure_files, figures, models_evaluation_figure_files,
    paper, plan_figures,
};
pub use format::{format_number, format_significant};
pub use markdown::markdown;
pub use models_evaluation::{
    models_evaluation_csv, models_evaluation_markdown, ModelCost, ModelsSource,
};
pub use tabular::{csv_field, replicates_csv, summary_csv, REPLICATE_COLUMNS, SUMMARY_COLUMNS};
pub use terminal::terminal_table;

use crate::error::Result;

/// Name of the markdown summary.
pub(crate) const MARKDOWN_FILE: &str = "summary.md";
/// Name of the long-format summary table.
pub(crate) const SUMMARY_CSV_FILE: &str = "summary.csv";
/// Name of the long-format per-replicate table.
pub(crate) const REPLICATES_CSV_FILE: &str = "replicates.csv";

/// Writes every report of a study folder — `summary.md`, `summary.csv`, the
/// figures from its summary, and `replicates.csv` from the folder's
/// `replicates.jsonl` when it has one — and returns the files written.
pub fn publish(summary: &crate::study::record::Summary, dir: &Path) -> Result<Vec<PathBuf>> {
    use crate::study::{read_records, store::RECORDS_FILE};
    let write_atomic = |path: &Path, bytes: &[u8]| {
        crate::files::write_file(path, bytes, crate::files::Existing::Replace)
    };
    let markdown_path = dir.join(MARKDOWN_FILE);
    write_atomic(&markdown_path, markdown(summary).as_bytes())?;
    let csv_path = dir.join(SUMMARY_CSV_FILE);
    write_atomic(&csv_path, &summary_csv(summary))?;
    let mut files = vec![markdown_path, csv_path];
    let records_path = dir.join(RECORDS_FILE);
    if records_path.is_file() {
        let records = read_records(&records_path)?.records;
        let path = dir.join(REPLICATES_CSV_FILE);
        write_atomic(&path, &replicates_csv(&records, &summary.rho, &summary.w))?;
        files.push(path);
    }
    files.extend(figures(summary, dir)?);
    Ok(files)
}

#[cfg(test)]
mod tests;
