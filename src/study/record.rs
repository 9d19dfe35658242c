//! Study records: the contract between the study engine, reports and users.
//!
//! `replicates.jsonl` holds one [`Record`] per line (grid point × replicate ×
//! method); `summary.json` holds a [`Summary`]. Floats are written by serde_json
//! with `float_roundtrip`, so they read back exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metric values of one method on one replicate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// `mean_j (ψ̂(q_j) − ψ(q_j))²` over the test queries.
    pub mse_psi: Option<f64>,
    /// `mean_j (Δ̂(q_j) − Δ(q_j))²` (meta-learners only).
    pub mse_delta: Option<f64>,
    /// Area under the NEG curve over the ρ grid.
    pub neg_area: Option<f64>,
    /// Efficiency gain `EG(ρ)` over the ρ grid (`None` where the curve was not
    /// reached under `cutoff = "positive"`).
    pub eg: Vec<Option<f64>>,
    /// Normalized efficiency gain `NEG(ρ)` over the ρ grid.
    pub neg: Vec<Option<f64>>,
    /// Paper-scale efficiency gain `EG(ρ) / mean gain` over the ρ grid.
    pub eg_paper: Vec<Option<f64>>,
    /// Regret over the cost-weight grid `w`.
    pub regret: Vec<f64>,
    /// Further scalar metrics (inference targets, …) by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

/// One grid point × replicate × method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The grid point's parameter values (parameter name → value).
    pub grid: BTreeMap<String, serde_json::Value>,
    /// Position of the grid point in the expanded grid.
    pub grid_index: usize,
    /// Replicate number, from 0.
    pub replicate: usize,
    /// Method label (as in the spec).
    pub method: String,
    /// Whether the fit succeeded.
    pub ok: bool,
    /// The error text when `ok` is false.
    pub error: Option<String>,
    /// Wall time of the method's fit and evaluation, seconds (not part of the
    /// reproducibility contract).
    pub seconds: f64,
    /// Metric values (empty when the fit failed).
    pub metrics: Metrics,
    /// Non-fatal facts of the fit (κ, clipped rows, chosen penalties, …).
    pub diagnostics: BTreeMap<String, f64>,
}

/// One summary row: a metric (at one ρ or w index) of one method at one grid point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryRow {
    /// The grid point's parameter values.
    pub grid: BTreeMap<String, serde_json::Value>,
    /// Method label.
    pub method: String,
    /// Metric name (`mse_psi`, `eg`, `regret`, …).
    pub metric: String,
    /// Position in the ρ or w grid for curve metrics, else `None`.
    pub index: Option<usize>,
    /// Mean over successful replicates (`None` when there are none).
    pub mean: Option<f64>,
    /// Monte Carlo standard error of the mean (`None` when fewer than 2 values).
    pub mcse: Option<f64>,
    /// Number of replicates contributing.
    pub n: usize,
    /// Number of failed fits of this method at this grid point.
    pub failures: usize,
}

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Study name.
    pub study: String,
    /// Master seed.
    pub seed: u64,
    /// Replicates per grid point.
    pub replicates: usize,
    /// The usage-ratio grid.
    pub rho: Vec<f64>,
    /// The cost-weight grid.
    pub w: Vec<f64>,
    /// The summary rows, ordered by grid index, method order in the spec, metric.
    pub rows: Vec<SummaryRow>,
}
