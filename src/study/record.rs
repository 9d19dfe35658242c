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

impl Metrics {
    /// The first metric value that is NaN or infinite, with its name
    /// (`eg[3]` for position 3 of a curve).
    pub fn first_non_finite(&self) -> Option<(String, f64)> {
        let scalars = [
            ("mse_psi", self.mse_psi),
            ("mse_delta", self.mse_delta),
            ("neg_area", self.neg_area),
        ];
        for (name, value) in scalars {
            if let Some(v) = value.filter(|v| !v.is_finite()) {
                return Some((name.to_string(), v));
            }
        }
        for (name, curve) in [
            ("eg", &self.eg),
            ("neg", &self.neg),
            ("eg_paper", &self.eg_paper),
        ] {
            if let Some((i, v)) = curve
                .iter()
                .enumerate()
                .find_map(|(i, v)| v.filter(|v| !v.is_finite()).map(|v| (i, v)))
            {
                return Some((format!("{name}[{i}]"), v));
            }
        }
        if let Some((i, &v)) = self.regret.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Some((format!("regret[{i}]"), v));
        }
        self.extra
            .iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(k, &v)| (k.clone(), v))
    }
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
    /// Metric values (empty when the fit failed).
    pub metrics: Metrics,
    /// Non-fatal facts of the fit (κ, clipped rows, chosen penalties, …).
    pub diagnostics: BTreeMap<String, f64>,
    /// The fit time that records of suite versions before 0.2 carried; read
    /// and ignored (times now live in `timings.jsonl`), never written.
    #[serde(default, rename = "seconds", skip_serializing)]
    pub legacy_seconds: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_metrics_are_found_by_name() {
        let mut metrics = Metrics {
            mse_psi: Some(0.1),
            neg_area: Some(0.4),
            eg: vec![Some(0.0), None, Some(0.2)],
            regret: vec![0.0, 0.1],
            ..Metrics::default()
        };
        assert_eq!(metrics.first_non_finite(), None);
        metrics.eg[2] = Some(f64::INFINITY);
        assert_eq!(
            metrics.first_non_finite(),
            Some(("eg[2]".to_string(), f64::INFINITY))
        );
        metrics.eg[2] = Some(0.2);
        metrics.extra.insert("theta_delta.se".into(), f64::NAN);
        let (name, value) = metrics.first_non_finite().unwrap();
        assert_eq!(name, "theta_delta.se");
        assert!(value.is_nan());
        metrics.mse_psi = Some(f64::NEG_INFINITY);
        assert_eq!(metrics.first_non_finite().unwrap().0, "mse_psi");
    }

    /// A record written by an earlier version (with `seconds`) still loads,
    /// and the field is not written back.
    #[test]
    fn legacy_records_load_and_drop_their_fit_time() {
        let line = r#"{"grid":{},"grid_index":0,"replicate":1,"method":"m","ok":true,"error":null,"seconds":0.25,"metrics":{"mse_psi":0.1,"mse_delta":null,"neg_area":0.3,"eg":[],"neg":[],"eg_paper":[],"regret":[]},"diagnostics":{}}"#;
        let record: Record = serde_json::from_str(line).unwrap();
        assert_eq!(record.legacy_seconds, Some(0.25));
        assert!(!serde_json::to_string(&record).unwrap().contains("seconds"));
    }
}
