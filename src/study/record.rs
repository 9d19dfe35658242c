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
    /// Many models: mean true gain of the router's assignment over the `w` grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<f64>,
    /// Many models: mean cost of the router's assignment over the `w` grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cost: Vec<f64>,
    /// Many models: AIQ of the router's frontier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aiq: Option<f64>,
    /// Many models: AIQ(oracle) − AIQ(router).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_gap: Option<f64>,
    /// Many models: the share of test queries sent to each model over the
    /// `w` grid, in model order (reference first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<ModelShare>,
    /// Further scalar metrics (inference targets, …) by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, f64>,
}

/// The share of test queries one model receives over the `w` grid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelShare {
    /// Model name.
    pub model: String,
    /// Fraction of test queries routed to it at each `w`.
    pub share: Vec<f64>,
}

/// Prefix of the extra metrics holding the always-model-`k` mean cost
/// (`always_cost:<model>`, many-model studies; the same for every method).
pub(crate) const ALWAYS_COST: &str = "always_cost:";
/// Prefix of the extra metrics holding the always-model-`k` mean gain.
pub(crate) const ALWAYS_QUALITY: &str = "always_quality:";

/// Prefix of the summary metric names of [`Metrics::shares`] (`share:<model>`).
pub(crate) const SHARE_PREFIX: &str = "share:";

impl Metrics {
    /// The value of metric `name` at curve position `index` (`None` for
    /// scalar metrics); `None` when undefined (e.g. a curve point not reached).
    /// Unknown names are looked up among the extra metrics.
    pub fn value(&self, name: &str, index: Option<usize>) -> Option<f64> {
        let at = |curve: &Vec<Option<f64>>| index.and_then(|i| curve.get(i).copied().flatten());
        match name {
            "mse_psi" => self.mse_psi,
            "mse_delta" => self.mse_delta,
            "neg_area" => self.neg_area,
            "eg" => at(&self.eg),
            "neg" => at(&self.neg),
            "eg_paper" => at(&self.eg_paper),
            "regret" => index.and_then(|i| self.regret.get(i).copied()),
            "quality" => index.and_then(|i| self.quality.get(i).copied()),
            "cost" => index.and_then(|i| self.cost.get(i).copied()),
            "aiq" => self.aiq,
            "frontier_gap" => self.frontier_gap,
            other => match other.strip_prefix(SHARE_PREFIX) {
                Some(model) => self
                    .shares
                    .iter()
                    .find(|s| s.model == model)
                    .and_then(|s| index.and_then(|i| s.share.get(i).copied())),
                None => self.extra.get(other).copied(),
            },
        }
    }

    /// The first metric value that is NaN or infinite, with its name
    /// (`eg[3]` for position 3 of a curve).
    pub fn first_non_finite(&self) -> Option<(String, f64)> {
        let scalars = [
            ("mse_psi", self.mse_psi),
            ("mse_delta", self.mse_delta),
            ("neg_area", self.neg_area),
            ("aiq", self.aiq),
            ("frontier_gap", self.frontier_gap),
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
        let shares = self
            .shares
            .iter()
            .map(|s| (format!("{SHARE_PREFIX}{}", s.model), &s.share));
        let w_curves = [
            ("regret".to_string(), &self.regret),
            ("quality".to_string(), &self.quality),
            ("cost".to_string(), &self.cost),
        ];
        for (name, curve) in w_curves.into_iter().chain(shares) {
            if let Some((i, &v)) = curve.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Some((format!("{name}[{i}]"), v));
            }
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
    /// The swept settings of a method variant (key path → value, as in
    /// [`Variant::setting`]); absent for a method without a sweep.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub setting: BTreeMap<String, serde_json::Value>,
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

/// Which grid a metric runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricAxis {
    /// One value per replicate.
    Scalar,
    /// One value per usage ratio ρ of the `rho` grid.
    Rho,
    /// One value per cost weight of the `w` grid.
    W,
}

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Larger is better.
    Higher,
    /// Smaller is better.
    Lower,
    /// Closer to zero is better (a bias, a relative error).
    TowardZero,
    /// No better side (a truth, a nominal level; a coverage, which `check`
    /// judges by its distance from the nominal level).
    Neither,
}

/// A metric's definition: the one place that names, orders and defines the
/// metrics of study records and summaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricInfo {
    /// Name in records, summaries and claims.
    pub name: &'static str,
    /// Symbol used in tables and figures.
    pub symbol: &'static str,
    /// Grid it runs over.
    pub axis: MetricAxis,
    /// Which way it improves.
    pub direction: Direction,
    /// Units.
    pub units: &'static str,
    /// Definition, over which queries.
    pub definition: &'static str,
    /// Which studies record it.
    pub scope: Scope,
}

/// Which studies a metric belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every study.
    Any,
    /// Two-model studies only (usage-ratio curves).
    TwoModel,
    /// Studies of scenarios with several candidate models only.
    MultiModel,
}

impl Scope {
    /// Whether a study with (`multi = true`) or without several candidate
    /// models records the metric.
    pub fn applies(self, multi: bool) -> bool {
        match self {
            Scope::Any => true,
            Scope::TwoModel => !multi,
            Scope::MultiModel => multi,
        }
    }
}

/// Every routing and estimation metric of a record, in report order
/// (definitions in `docs/method.md` §4).
pub(crate) const METRICS: &[MetricInfo] = &[
    MetricInfo {
        name: "mse_psi",
        symbol: "MSE(ψ̂)",
        axis: MetricAxis::Scalar,
        direction: Direction::Lower,
        units: "squared GS units",
        definition: "mean over the test queries of (ψ̂(q) − ψ(q))², ψ the true gain",
        scope: Scope::Any,
    },
    MetricInfo {
        name: "mse_delta",
        symbol: "MSE(Δ̂)",
        axis: MetricAxis::Scalar,
        direction: Direction::Lower,
        units: "squared PB units",
        definition: "meta-learners only: mean over the test queries of (Δ̂(q) − Δ_c(q))², Δ_c = (c − 1)ψ + Δ the bias on the normalized scale (Δ when c = 1)",
        scope: Scope::Any,
    },
    MetricInfo {
        name: "neg_area",
        symbol: "A",
        axis: MetricAxis::Scalar,
        direction: Direction::Higher,
        units: "none (the oracle's is about 1)",
        definition: "area under NEG(ρ) over the ρ grid (trapezoid rule)",
        scope: Scope::TwoModel,
    },
    MetricInfo {
        name: "eg",
        symbol: "EG(ρ)",
        axis: MetricAxis::Rho,
        direction: Direction::Higher,
        units: "GS units per test query",
        definition: "V(ρ) − ρ·mean(g): the mean gain of routing the top round(ρT) test queries by ψ̂ to the primary model, minus random routing of the same share",
        scope: Scope::TwoModel,
    },
    MetricInfo {
        name: "neg",
        symbol: "NEG(ρ)",
        axis: MetricAxis::Rho,
        direction: Direction::Higher,
        units: "none (1 = the oracle)",
        definition: "EG(ρ) / (V*(ρ) − ρ·mean(g)), V* the oracle's value; 0 where the denominator is 0 (ρ = 0, 1)",
        scope: Scope::TwoModel,
    },
    MetricInfo {
        name: "eg_paper",
        symbol: "EG(ρ)/m",
        axis: MetricAxis::Rho,
        direction: Direction::Higher,
        units: "multiples of the mean gain",
        definition: "the paper's normalized efficiency gain: EG(ρ) divided by m, the mean gain of the test law (a scenario constant, the same in every replicate)",
        scope: Scope::TwoModel,
    },
    MetricInfo {
        name: "regret",
        symbol: "Reg(w)",
        axis: MetricAxis::W,
        direction: Direction::Lower,
        units: "GS units per test query",
        definition: "mean over the test queries of (g − w c)(1{g > w c} − 1{ψ̂ > w c}) ≥ 0: the gain lost to wrong decisions at cost weight w",
        scope: Scope::Any,
    },
    MetricInfo {
        name: "quality",
        symbol: "Q(w)",
        axis: MetricAxis::W,
        // At a fixed w a higher quality may just be overspending: the
        // objective is Q − wC (regret), the trade-off AIQ.
        direction: Direction::Neither,
        units: "GS units per test query (the reference model's quality is 0)",
        definition: "K models: mean over the test queries of the true gain g_a of the model a = argmax_k(ψ̂_k − w C_k) the router chooses",
        scope: Scope::MultiModel,
    },
    MetricInfo {
        name: "cost",
        symbol: "C(w)",
        axis: MetricAxis::W,
        direction: Direction::Neither,
        units: "cost units per test query",
        definition: "K models: mean over the test queries of the cost C_a of the chosen model; (C(w), Q(w)) is the router's frontier point at w",
        scope: Scope::MultiModel,
    },
    MetricInfo {
        name: "aiq",
        symbol: "AIQ",
        axis: MetricAxis::Scalar,
        direction: Direction::Higher,
        units: "GS units per test query",
        definition: "K models: area under the router's non-decreasing concave cost–quality frontier (every w ≥ 0, exact) over [mean min_k C_k, mean max_k C_k], divided by that range (RouterBench's AIQ)",
        scope: Scope::MultiModel,
    },
    MetricInfo {
        name: "frontier_gap",
        symbol: "AIQ* − AIQ",
        axis: MetricAxis::Scalar,
        direction: Direction::Lower,
        units: "GS units per test query",
        definition: "K models: the oracle assignment's AIQ minus the router's, the area between their frontiers per unit of cost range (≥ 0)",
        scope: Scope::MultiModel,
    },
];

/// The direction of metric `name`; per-model metrics (`<metric>:<model>`)
/// get their base metric's, inference measures (`<target>.<measure>`) the
/// measure's.
pub(crate) fn metric_direction(name: &str) -> Direction {
    // Per-model metrics (`mse_psi:<model>`) go the way of their base metric.
    let base = name.split_once(':').map_or(name, |(base, _)| base);
    if let Some(info) = METRICS.iter().find(|m| m.name == base) {
        return info.direction;
    }
    match name.rsplit_once('.').map(|(_, measure)| measure) {
        Some("bias" | "se_rel_error" | "error") => Direction::TowardZero,
        Some("emp_se" | "model_se" | "mean_length" | "length" | "se") => Direction::Lower,
        _ => Direction::Neither,
    }
}

/// Whether metric `name` is a coverage, a proportion of the replicates:
/// `<target>.coverage` or the per-replicate indicator's mean
/// `<target>.covered`. `check` judges it towards the nominal level and
/// `within` claims on it with the binomial MCSE at the range's edge.
pub fn is_coverage(name: &str) -> bool {
    name.ends_with(".coverage") || name.ends_with(".covered")
}

/// One summary row: a metric (at one ρ or w position) of one method at one
/// grid point, or the paired difference of two methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryRow {
    /// The grid point's parameter values.
    pub grid: BTreeMap<String, serde_json::Value>,
    /// Method label.
    pub method: String,
    /// For a paired difference: the reference method; the row then holds
    /// `method − versus` over the replicates where both succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versus: Option<String>,
    /// Metric name (`mse_psi`, `eg`, `regret`, …).
    pub metric: String,
    /// Position in the ρ or w grid for curve metrics, else `None`.
    pub index: Option<usize>,
    /// The usage ratio at `index` (ρ-curve metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// The cost weight at `index` (w-curve metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub w: Option<f64>,
    /// Mean over successful replicates (`None` when there are none).
    pub mean: Option<f64>,
    /// Monte Carlo standard error of the mean (`None` when fewer than 2 values).
    pub mcse: Option<f64>,
    /// Number of replicates contributing.
    pub n: usize,
    /// Number of failed fits of this method at this grid point (of either
    /// method, for a paired difference).
    pub failures: usize,
}

/// Population constants of one grid point's scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointConstants {
    /// The grid point's parameter values.
    pub grid: BTreeMap<String, serde_json::Value>,
    /// The scenario.
    pub scenario: String,
    /// `E ψ` over the pooled training law.
    pub mean_psi: f64,
    /// `θ_Δ = E[Δ | t = 0]`.
    pub mean_delta_pref: f64,
    /// `θ_ψ = E[ψ | t = 0]`.
    pub mean_psi_pref: f64,
    /// `E Δ` over the pooled training law.
    pub mean_delta: f64,
    /// `m`, the test law's mean gain (the denominator of `eg_paper`).
    pub test_mean_gain: f64,
    /// 0 when exact, else the Monte Carlo SE of the constants.
    pub accuracy: f64,
}

/// Where a summary came from. Everything here depends only on the spec and
/// the code's version (the git revision of a run is in `run.json`), so
/// re-running a study with the same code rewrites it byte for byte.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// Crate version that computed the records.
    pub crate_version: String,
    /// SHA-256 of the resolved spec.
    pub spec_hash: String,
    /// The scenario's name.
    pub scenario: String,
    /// Nominal level of the intervals of inference targets.
    pub level: f64,
    /// Reference methods of the paired-difference rows.
    pub compare_to: Vec<String>,
    /// Population constants per grid point.
    pub constants: Vec<PointConstants>,
    /// The variants of swept methods (`sweep = { … }` in a `[[methods]]`
    /// entry), in spec order; absent when no method is swept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweeps: Vec<Variant>,
}

/// One variant of a swept method: its label, its family (the `[[methods]]`
/// entry's label) and the values of the swept settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// The variant's method label (`R pref_weight=0.5`).
    pub method: String,
    /// The family: the label of the `[[methods]]` entry it comes from.
    pub family: String,
    /// Swept key path → value.
    pub setting: BTreeMap<String, serde_json::Value>,
}

/// Version tag of `summary.json`.
pub const SUMMARY_FORMAT: &str = "meta-router-summary/2";

/// `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// [`SUMMARY_FORMAT`].
    pub format: String,
    /// Study name.
    pub study: String,
    /// Master seed.
    pub seed: u64,
    /// Replicates per grid point.
    pub replicates: usize,
    /// Provenance.
    pub provenance: Provenance,
    /// The usage-ratio grid.
    pub rho: Vec<f64>,
    /// The cost-weight grid.
    pub w: Vec<f64>,
    /// The summary rows, ordered by grid index, then each method (spec order)
    /// with its metrics, then the paired differences.
    pub rows: Vec<SummaryRow>,
    /// Warnings drawn from the records' diagnostics (a weight-dominated bias
    /// stage, `study::summary::weight_warnings`); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Log–log convergence slopes against `[evaluation] rate`
    /// (`study::rates`); absent when the study declares no rate key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slopes: Vec<SlopeRow>,
}

/// The fitted slope of `log(metric)` against `log(rate key)` over the grid
/// points that differ only in the rate key (`study::rates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlopeRow {
    /// The other grid parameters' values (the rate key removed).
    pub grid: BTreeMap<String, serde_json::Value>,
    /// Method label.
    pub method: String,
    /// For an excess error: the reference method; the slope is then that of
    /// the paired difference `method − versus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versus: Option<String>,
    /// The metric (`mse_delta`, `mse_psi`).
    pub metric: String,
    /// The grid parameter on the horizontal axis (`[evaluation] rate`).
    pub against: String,
    /// The fitted slope.
    pub slope: f64,
    /// Its standard error (inflated by the lack of fit, `study::rates`).
    pub se: f64,
    /// Lower end of the interval at the study's level.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// The fitted intercept of `log(metric)` at `log(rate key) = 0`.
    pub intercept: f64,
    /// Grid points in the fit.
    pub points: usize,
    /// The weighted residual sum of squares (χ² with `points − 2` degrees of
    /// freedom when the log–log line holds).
    pub chi2: f64,
}

impl Summary {
    /// Checks what a summary read from disk must satisfy before its cells
    /// are judged: every Monte Carlo SE is finite and `≥ 0`, every mean
    /// finite, and a cell with a mean has at least one replicate. The error
    /// names the row (`rows[i]`, its method and metric).
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (i, row) in self.rows.iter().enumerate() {
            let at = || {
                format!(
                    "rows[{i}] (method `{}`, metric `{}`{})",
                    crate::error::excerpt(&row.method),
                    crate::error::excerpt(&row.metric),
                    row.index.map_or(String::new(), |k| format!(", index {k}"))
                )
            };
            if let Some(mcse) = row.mcse {
                if !(mcse.is_finite() && mcse >= 0.0) {
                    return Err(format!(
                        "{}: mcse {mcse} is not a standard error (finite and >= 0)",
                        at()
                    ));
                }
            }
            if let Some(mean) = row.mean {
                if !mean.is_finite() {
                    return Err(format!("{}: mean {mean} is not finite", at()));
                }
                if row.n == 0 {
                    return Err(format!("{}: a mean over n = 0 replicates", at()));
                }
            }
        }
        Ok(())
    }
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
