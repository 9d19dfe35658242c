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

/// Mean and Monte Carlo SE of `values` (`None`s where undefined): the mean
/// and its standard error, [`crate::stats::mean_and_se`].
pub fn mean_and_mcse(values: &[f64]) -> (Option<f64>, Option<f64>) {
    crate::stats::mean_and_se(values)
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
            for (metric, mean, mcse, n) in inference_rows(&ok) {
                rows.push(SummaryRow {
                    grid: grid.clone(),
                    method: label.clone(),
                    metric,
                    index: None,
                    mean,
                    mcse,
                    n,
                    failures,
                });
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

/// Paired differences of a scalar metric between two methods over the
/// replicates where both succeeded: (mean difference a − b, its MCSE, count).
/// Every method of a replicate sees the same data, so the difference's
/// spread excludes the replicate-to-replicate variation both share.
pub fn paired_difference(
    records: &[Record],
    grid_index: usize,
    a: &str,
    b: &str,
    metric: fn(&super::record::Metrics) -> Option<f64>,
) -> (Option<f64>, Option<f64>, usize) {
    let value = |label: &str, r: usize| {
        records
            .iter()
            .find(|x| x.grid_index == grid_index && x.replicate == r && x.method == label && x.ok)
            .and_then(|x| metric(&x.metrics))
    };
    let replicates: BTreeSet<usize> = records
        .iter()
        .filter(|x| x.grid_index == grid_index)
        .map(|x| x.replicate)
        .collect();
    let diffs: Vec<f64> = replicates
        .into_iter()
        .filter_map(|r| Some(value(a, r)? - value(b, r)?))
        .collect();
    let (mean, mcse) = mean_and_mcse(&diffs);
    (mean, mcse, diffs.len())
}

/// Performance measures of inference targets, derived per target prefix `P`
/// from the records' `P.estimate`, `P.se`, `P.covered`, `P.length`, `P.error`
/// (Morris, White & Crowther 2019, Table 6, with R replicates):
///
/// | row | value | MCSE |
/// |---|---|---|
/// | `P.bias` | mean error | `EmpSE/√R` |
/// | `P.emp_se` | `EmpSE` = sd of estimates | `EmpSE/√(2(R−1))` |
/// | `P.model_se` | `ModSE = √(mean se²)` | `√(Var(se²)/(4R·ModSE²))` |
/// | `P.se_rel_error` | `100(ModSE/EmpSE − 1)` | `100(ModSE/EmpSE)√(Var(se²)/(4R·ModSE⁴) + 1/(2(R−1)))` |
/// | `P.coverage` | `C` = mean covered | `√(C(1−C)/R)` |
/// | `P.mean_length` | mean interval length | sd/√R |
pub const INFERENCE_MEASURES: &[&str] = &[
    "bias",
    "emp_se",
    "model_se",
    "se_rel_error",
    "coverage",
    "mean_length",
];

type DerivedRow = (String, Option<f64>, Option<f64>, usize);

fn inference_rows(ok: &[&Record]) -> Vec<DerivedRow> {
    let prefixes: BTreeSet<&str> = ok
        .iter()
        .flat_map(|r| r.metrics.extra.keys())
        .filter_map(|k| k.strip_suffix(".covered"))
        .collect();
    let mut out = Vec::new();
    for prefix in prefixes {
        let get = |field: &str| -> Vec<f64> {
            let key = format!("{prefix}.{field}");
            ok.iter()
                .filter_map(|r| r.metrics.extra.get(&key).copied())
                .collect()
        };
        let (estimates, ses, covered, lengths, errors) = (
            get("estimate"),
            get("se"),
            get("covered"),
            get("length"),
            get("error"),
        );
        let r = estimates.len();
        let rf = r as f64;
        let (bias, bias_mcse) = mean_and_mcse(&errors);
        let sample_sd = crate::stats::sample_sd;
        let emp_se = sample_sd(&estimates);
        let emp_se_mcse = emp_se
            .filter(|_| r >= 2)
            .map(|e| e / (2.0 * (rf - 1.0)).sqrt());
        let se_sq: Vec<f64> = ses.iter().map(|s| s * s).collect();
        let model_se = (!se_sq.is_empty()).then(|| (se_sq.iter().sum::<f64>() / rf).sqrt());
        let var_se_sq = sample_sd(&se_sq).map(|s| s * s);
        let model_se_mcse = match (model_se, var_se_sq) {
            (Some(m), Some(v)) if m > 0.0 => Some((v / (4.0 * rf * m * m)).sqrt()),
            _ => None,
        };
        let (rel, rel_mcse) = match (model_se, emp_se, var_se_sq) {
            (Some(m), Some(e), Some(v)) if m > 0.0 && e > 0.0 => (
                Some(100.0 * (m / e - 1.0)),
                Some(
                    100.0
                        * (m / e)
                        * (v / (4.0 * rf * m.powi(4)) + 1.0 / (2.0 * (rf - 1.0))).sqrt(),
                ),
            ),
            _ => (None, None),
        };
        let coverage =
            (!covered.is_empty()).then(|| covered.iter().sum::<f64>() / covered.len() as f64);
        let coverage_mcse = coverage.map(|c| (c * (1.0 - c) / covered.len() as f64).sqrt());
        let (length, length_mcse) = mean_and_mcse(&lengths);
        for (measure, mean, mcse, n) in [
            ("bias", bias, bias_mcse, errors.len()),
            ("emp_se", emp_se, emp_se_mcse, r),
            ("model_se", model_se, model_se_mcse, ses.len()),
            ("se_rel_error", rel, rel_mcse, r),
            ("coverage", coverage, coverage_mcse, covered.len()),
            ("mean_length", length, length_mcse, lengths.len()),
        ] {
            out.push((format!("{prefix}.{measure}"), mean, mcse, n));
        }
    }
    out
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

    #[test]
    fn inference_measures_by_hand() {
        use super::super::record::Metrics;
        // Four replicates: estimates (1, 2, 3, 6), truth 2 (errors −1, 0, 1, 4),
        // se (1, 1, 2, 2), covered (1, 1, 0, 1), length (4, 4, 8, 8).
        let records: Vec<Record> = [
            (1.0, 1.0, 1.0),
            (2.0, 1.0, 1.0),
            (3.0, 2.0, 0.0),
            (6.0, 2.0, 1.0),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(est, se, cov))| {
            let mut extra = std::collections::BTreeMap::new();
            extra.insert("t.estimate".to_string(), est);
            extra.insert("t.se".to_string(), se);
            extra.insert("t.covered".to_string(), cov);
            extra.insert("t.length".to_string(), 4.0 * se);
            extra.insert("t.error".to_string(), est - 2.0);
            Record {
                grid: Default::default(),
                grid_index: 0,
                replicate: i,
                method: "m".into(),
                ok: true,
                error: None,
                metrics: Metrics {
                    extra,
                    ..Metrics::default()
                },
                diagnostics: Default::default(),
                legacy_seconds: None,
            }
        })
        .collect();
        let refs: Vec<&Record> = records.iter().collect();
        let rows = inference_rows(&refs);
        let find = |name: &str| rows.iter().find(|r| r.0 == name).unwrap().clone();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        // bias: mean error 1, mcse √(14/3)/2.
        close(find("t.bias").1.unwrap(), 1.0);
        close(find("t.bias").2.unwrap(), (14.0f64 / 3.0).sqrt() / 2.0);
        // EmpSE = √(14/3), MCSE EmpSE/√6.
        let emp = (14.0f64 / 3.0).sqrt();
        close(find("t.emp_se").1.unwrap(), emp);
        close(find("t.emp_se").2.unwrap(), emp / 6f64.sqrt());
        // se² = (1, 1, 4, 4): ModSE = √2.5, Var(se²) = 4·2.25/3 = 3,
        // MCSE = √(3/(16·2.5)).
        close(find("t.model_se").1.unwrap(), 2.5f64.sqrt());
        close(find("t.model_se").2.unwrap(), (3.0f64 / 40.0).sqrt());
        let ratio = 2.5f64.sqrt() / emp;
        close(find("t.se_rel_error").1.unwrap(), 100.0 * (ratio - 1.0));
        close(
            find("t.se_rel_error").2.unwrap(),
            100.0 * ratio * (3.0 / (16.0 * 6.25) + 1.0 / 6.0f64).sqrt(),
        );
        // coverage 3/4, MCSE √(0.75·0.25/4).
        close(find("t.coverage").1.unwrap(), 0.75);
        close(find("t.coverage").2.unwrap(), (0.1875f64 / 4.0).sqrt());
        close(find("t.mean_length").1.unwrap(), 6.0);
    }
}
