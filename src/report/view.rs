//! An indexed view of a [`Summary`]: grid points, methods, metrics, and the
//! row for each (grid point, method, metric, index).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::study::record::{MetricAxis, Summary, SummaryRow, ALWAYS_COST, ALWAYS_QUALITY, METRICS};

/// Metrics of one kind (scalar, ρ curve, w curve), in report order.
pub(crate) fn metrics_on(axis: MetricAxis) -> Vec<&'static str> {
    METRICS
        .iter()
        .filter(|m| m.axis == axis)
        .map(|m| m.name)
        .collect()
}

type Key<'a> = (usize, &'a str, &'a str, Option<usize>);

pub(crate) struct View<'a> {
    pub(crate) summary: &'a Summary,
    /// Distinct grid maps, in order of first appearance.
    pub(crate) points: Vec<&'a BTreeMap<String, Value>>,
    /// Distinct methods, in order of first appearance.
    pub(crate) methods: Vec<&'a str>,
    rows: HashMap<Key<'a>, &'a SummaryRow>,
    /// The rows of single methods (not paired differences), in order.
    plain: Vec<&'a SummaryRow>,
}

impl<'a> View<'a> {
    pub(crate) fn new(summary: &'a Summary) -> Self {
        let mut points: Vec<&BTreeMap<String, Value>> = Vec::new();
        let mut methods: Vec<&str> = Vec::new();
        let mut rows = HashMap::new();
        for row in summary.rows.iter().filter(|r| r.versus.is_none()) {
            let point = match points.iter().position(|p| **p == row.grid) {
                Some(i) => i,
                None => {
                    points.push(&row.grid);
                    points.len() - 1
                }
            };
            if !methods.contains(&row.method.as_str()) {
                methods.push(&row.method);
            }
            rows.insert(
                (point, row.method.as_str(), row.metric.as_str(), row.index),
                row,
            );
        }
        View {
            summary,
            points,
            methods,
            rows,
            plain: summary.rows.iter().filter(|r| r.versus.is_none()).collect(),
        }
    }

    pub(crate) fn row(
        &self,
        point: usize,
        method: &str,
        metric: &str,
        index: Option<usize>,
    ) -> Option<&'a SummaryRow> {
        self.rows.get(&(point, method, metric, index)).copied()
    }

    /// Scalar metric names present anywhere, standard ones first.
    pub(crate) fn scalar_metrics(&self) -> Vec<&'a str> {
        let mut others: Vec<&str> = self
            .plain
            .iter()
            .copied()
            .filter(|r| {
                r.index.is_none()
                    && !metrics_on(MetricAxis::Scalar).contains(&r.metric.as_str())
                    // `target.measure` rows go to the inference table,
                    // always-one-model rows to their own table.
                    && !r.metric.contains('.')
                    && !r.metric.starts_with(ALWAYS_COST)
                    && !r.metric.starts_with(ALWAYS_QUALITY)
            })
            .map(|r| r.metric.as_str())
            .collect();
        others.sort_unstable();
        others.dedup();
        metrics_on(MetricAxis::Scalar)
            .into_iter()
            .filter(|m| self.has_metric(m, false))
            .chain(others)
            .collect()
    }

    /// Whether the summary is of a study with several candidate models.
    pub(crate) fn is_multi_model(&self) -> bool {
        self.has_metric("aiq", false)
    }

    /// Always-one-model points of grid point `point` (from the first method
    /// that has them): model name, mean cost row, mean gain row.
    pub(crate) fn always_points(
        &self,
        point: usize,
    ) -> Vec<(&'a str, &'a SummaryRow, &'a SummaryRow)> {
        let Some(method) = self.methods.iter().copied().find(|m| {
            self.plain
                .iter()
                .any(|r| r.method == *m && r.metric.starts_with(ALWAYS_COST))
        }) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for row in self
            .plain
            .iter()
            .copied()
            .filter(|r| r.method == method && self.points.get(point) == Some(&&r.grid))
        {
            if let Some(model) = row.metric.strip_prefix(ALWAYS_COST) {
                let quality = format!("{ALWAYS_QUALITY}{model}");
                if let Some(q) = self.row(point, method, &quality, None) {
                    out.push((model, row, q));
                }
            }
        }
        // In order of mean cost (the extra metrics come sorted by name).
        out.sort_by(|a, b| {
            let cost = |r: &SummaryRow| r.mean.unwrap_or(f64::INFINITY);
            cost(a.1).total_cmp(&cost(b.1))
        });
        out
    }

    /// Inference targets (prefixes of `<target>.coverage` rows), sorted.
    pub(crate) fn inference_targets(&self) -> Vec<&'a str> {
        let mut targets: Vec<&str> = self
            .plain
            .iter()
            .copied()
            .filter_map(|r| r.metric.strip_suffix(".coverage"))
            .collect();
        targets.sort_unstable();
        targets.dedup();
        targets
    }

    /// Whether any row has this metric (as a curve when `curve`).
    pub(crate) fn has_metric(&self, metric: &str, curve: bool) -> bool {
        self.plain
            .iter()
            .any(|r| r.metric == metric && r.index.is_some() == curve)
    }

    /// Indexed metrics other than the known curves (rendered by position).
    pub(crate) fn other_curve_metrics(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .plain
            .iter()
            .copied()
            .filter(|r| {
                r.index.is_some()
                    && !metrics_on(MetricAxis::Rho).contains(&r.metric.as_str())
                    && !metrics_on(MetricAxis::W).contains(&r.metric.as_str())
            })
            .map(|r| r.metric.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Largest index present for a metric (None when it has no curve rows).
    pub(crate) fn max_index(&self, metric: &str) -> Option<usize> {
        self.plain
            .iter()
            .filter(|r| r.metric == metric)
            .filter_map(|r| r.index)
            .max()
    }

    /// Methods with at least one row of `metric` (in method order).
    pub(crate) fn methods_with(&self, metric: &str) -> Vec<&'a str> {
        self.methods
            .iter()
            .copied()
            .filter(|m| {
                self.plain
                    .iter()
                    .any(|r| r.method == *m && r.metric == metric)
            })
            .collect()
    }

    /// `name = value, …` for a grid point (`all` for an empty grid).
    pub(crate) fn point_label(&self, point: usize) -> String {
        grid_label(self.points[point])
    }

    /// Parameters whose values differ between grid points, in name order.
    pub(crate) fn varying_parameters(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = self
            .points
            .iter()
            .flat_map(|p| p.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .filter(|name| {
                let first = self.points.first().and_then(|p| p.get(*name));
                self.points.iter().any(|p| p.get(*name) != first)
            })
            .collect()
    }
}

/// `name = value, …` (values without JSON quotes); `all` for an empty map.
pub(crate) fn grid_label(grid: &BTreeMap<String, Value>) -> String {
    if grid.is_empty() {
        return "all".to_string();
    }
    grid.iter()
        .map(|(k, v)| format!("{k} = {}", value_label(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A grid value as text: strings unquoted, everything else as JSON.
pub(crate) fn value_label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
