//! Summaries of study records: mean and Monte Carlo standard error of every
//! metric per grid point and method.
//!
//! # Algorithm
//! Records are first put in canonical order (grid index, replicate, method
//! order of the spec), so every sum runs in the same order whatever the thread
//! count, resume history or sharding — `summary.json` is then identical to
//! the last bit. For a metric with per-replicate values `x_1..x_R` (failed fits
//! and undefined values excluded) the row holds `mean = x̄` and
//! `mcse = s/√R` with `s` the sample standard deviation (R − 1 divisor).
//! This is Morris, White & Crowther's (2019) Monte Carlo SE for every metric
//! recorded here: for a mean estimate it is `EmpSE/√R`; for an MSE (the values
//! are per-replicate squared errors) it equals `√(Σ[(θ̂−θ)² − MSE]²/(R(R−1)))`;
//! for a 0/1 coverage indicator it is `√(C(1−C)/(R−1))`, which differs from
//! their `√(C(1−C)/R)` by the factor `√(R/(R−1))` (at most 0.05% at R = 1000).
//!
//! # References
//! Morris, T. P., White, I. R. and Crowther, M. J. (2019), Using simulation
//! studies to evaluate statistical methods, Statistics in Medicine 38(11).

use std::collections::BTreeSet;

use super::record::{Record, Summary, SummaryRow};

/// Scalar metrics, in report order.
pub const SCALAR_METRICS: &[&str] = &["mse_psi", "mse_delta", "neg_area"];
/// Curve metrics over the ρ grid.
pub const RHO_METRICS: &[&str] = &["eg", "neg", "eg_paper"];
/// Curve metrics over the w grid.
pub const W_METRICS: &[&str] = &["regret"];

/// Puts records in canonical order: grid index, replicate, then method in the
/// order of `methods` (unknown labels last, by name).
pub fn sort_records(records: &mut [Record], methods: &[String]) {
    let position = |label: &str| {
        methods
            .iter()
            .position(|m| m == label)
            .unwrap_or(usize::MAX)
    };
    records.sort_by(|a, b| {
        (a.grid_index, a.replicate, position(&a.method), &a.method).cmp(&(
            b.grid_index,
            b.replicate,
            position(&b.method),
            &b.method,
        ))
    });
}

/// Mean and Monte Carlo SE of `values` (`None`s where undefined).
pub fn mean_and_mcse(values: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (None, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (Some(mean), None);
    }
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (Some(mean), Some((ss / (n as f64 - 1.0) / n as f64).sqrt()))
}

/// Builds the summary from records (any order).
pub fn summarize(
    study: &str,
    seed: u64,
    replicates: usize,
    rho: &[f64],
    w: &[f64],
    methods: &[String],
    records: &[Record],
) -> Summary {
    let mut sorted = records.to_vec();
    sort_records(&mut sorted, methods);
    let grid_indices: BTreeSet<usize> = sorted.iter().map(|r| r.grid_index).collect();
    let mut rows = Vec::new();
    for &g in &grid_indices {
        let at_point: Vec<&Record> = sorted.iter().filter(|r| r.grid_index == g).collect();
        let grid = at_point[0].grid.clone();
        let mut labels: Vec<String> = methods.to_vec();
        for r in &at_point {
            if !labels.contains(&r.method) {
                labels.push(r.method.clone());
            }
        }
        for label in labels {
            let of_method: Vec<&Record> = at_point
                .iter()
                .copied()
                .filter(|r| r.method == label)
                .collect();
            if of_method.is_empty() {
                continue;
            }
            let failures = of_method.iter().filter(|r| !r.ok).count();
            let ok: Vec<&Record> = of_method.iter().copied().filter(|r| r.ok).collect();
            let mut push = |metric: &str, index: Option<usize>, values: Vec<f64>| {
                let (mean, mcse) = mean_and_mcse(&values);
                rows.push(SummaryRow {
                    grid: grid.clone(),
                    method: label.clone(),
                    metric: metric.to_string(),
                    index,
                    mean,
                    mcse,
                    n: values.len(),
                    failures,
                });
            };
            for &metric in SCALAR_METRICS {
                let values: Vec<f64> = ok
                    .iter()
                    .filter_map(|r| match metric {
                        "mse_psi" => r.metrics.mse_psi,
                        "mse_delta" => r.metrics.mse_delta,
                        _ => r.metrics.neg_area,
                    })
                    .collect();
                if metric == "mse_delta" && values.is_empty() {
                    continue;
                }
                push(metric, None, values);
            }
            let extra: BTreeSet<&String> = ok.iter().flat_map(|r| r.metrics.extra.keys()).collect();
            for name in extra {
                let values = ok
                    .iter()
                    .filter_map(|r| r.metrics.extra.get(name).copied())
                    .collect();
                push(name, None, values);
            }
            for &metric in RHO_METRICS {
                for i in 0..rho.len() {
                    let values = ok
                        .iter()
                        .filter_map(|r| {
                            let curve = match metric {
                                "eg" => &r.metrics.eg,
                                "neg" => &r.metrics.neg,
                                _ => &r.metrics.eg_paper,
                            };
                            curve.get(i).copied().flatten()
                        })
                        .collect();
                    push(metric, Some(i), values);
                }
            }
            for &metric in W_METRICS {
                for i in 0..w.len() {
                    let values = ok
                        .iter()
                        .filter_map(|r| r.metrics.regret.get(i).copied())
                        .collect();
                    push(metric, Some(i), values);
                }
            }
        }
    }
    Summary {
        study: study.to_string(),
        seed,
        replicates,
        rho: rho.to_vec(),
        w: w.to_vec(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcse_matches_hand_computation() {
        // values 1, 2, 3, 6: mean 3, s² = (4+1+0+9)/3 = 14/3, mcse = √(14/3/4).
        let (mean, mcse) = mean_and_mcse(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(mean, Some(3.0));
        assert!((mcse.unwrap() - (14.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!(mean_and_mcse(&[]), (None, None));
        assert_eq!(mean_and_mcse(&[2.5]), (Some(2.5), None));
    }
}
