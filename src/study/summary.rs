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

use std::collections::{BTreeMap, BTreeSet};

use super::record::{
    MetricAxis, MetricInfo, PointConstants, Provenance, Record, Summary, SummaryRow, METRICS,
    SHARE_PREFIX, SUMMARY_FORMAT,
};
use super::spec::StudySpec;
use crate::meta::{DOMINATED_CLIPPED_SHARE, DOMINATED_EFFECTIVE_FRACTION, DOMINATED_KEY};

/// Puts records in canonical order: grid index, replicate, then method in the
/// order of `methods` (unknown labels last, by name).
pub(crate) fn sort_records(records: &mut [Record], methods: &[String]) {
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
pub(crate) fn mean_and_mcse(values: &[f64]) -> (Option<f64>, Option<f64>) {
    crate::stats::mean_and_se(values)
}

/// Builds the summary of `spec`'s study from records (any order): per grid
/// point and method every metric of [`METRICS`] (curves at every grid
/// position), the extra metrics and the inference measures; then, for every
/// reference method of `compare_to`, the paired differences of every other
/// method to it.
pub(crate) fn summarize(spec: &StudySpec, records: &[Record]) -> Summary {
    let methods = spec.method_labels();
    let compare_to = spec.compare_to();
    let (rho, w) = (&spec.evaluation.rho, &spec.evaluation.w);
    let mut sorted = records.to_vec();
    sort_records(&mut sorted, &methods);
    let grid_indices: BTreeSet<usize> = sorted.iter().map(|r| r.grid_index).collect();
    let multi = spec.is_multi_model();
    let metrics: Vec<&MetricInfo> = METRICS.iter().filter(|m| m.scope.applies(multi)).collect();
    let axes = Axes { rho, w };
    let mut rows = Vec::new();
    for &g in &grid_indices {
        let at_point: Vec<&Record> = sorted.iter().filter(|r| r.grid_index == g).collect();
        let grid = at_point[0].grid.clone();
        let mut labels: Vec<String> = methods.clone();
        for r in &at_point {
            if !labels.contains(&r.method) {
                labels.push(r.method.clone());
            }
        }
        let of_method = |label: &str| -> Vec<&Record> {
            at_point
                .iter()
                .copied()
                .filter(|r| r.method == label)
                .collect()
        };
        for label in &labels {
            let all = of_method(label);
            if all.is_empty() {
                continue;
            }
            method_rows(&mut rows, &grid, label, &all, &metrics, axes);
        }
        // Paired differences to each reference method.
        for reference in &compare_to {
            let base = of_method(reference);
            if base.is_empty() {
                continue;
            }
            for label in labels.iter().filter(|l| *l != reference) {
                let other = of_method(label);
                if other.is_empty() {
                    continue;
                }
                let pair = (label, reference);
                paired_rows(&mut rows, &grid, pair, (&other, &base), &metrics, axes);
            }
        }
    }
    let slopes = match &spec.evaluation.rate {
        Some(key) => super::rates::slope_rows(&rows, key, spec.evaluation.level),
        None => Vec::new(),
    };
    Summary {
        slopes,
        format: SUMMARY_FORMAT.to_string(),
        study: spec.name.clone(),
        seed: spec.seed,
        replicates: spec.replicates,
        provenance: provenance(spec, compare_to),
        rho: rho.clone(),
        w: w.clone(),
        rows,
        warnings: weight_warnings(&sorted, &methods),
    }
}

/// The evaluation grids a curve metric runs over: usage ratios ρ and cost
/// weights w.
#[derive(Clone, Copy)]
struct Axes<'a> {
    rho: &'a [f64],
    w: &'a [f64],
}

/// A row's position on its metric's axis: (index, ρ at it, w at it).
type Position = (Option<usize>, Option<f64>, Option<f64>);

impl Axes<'_> {
    /// Every position of `metric`: one for a scalar, one per ρ or w for a
    /// curve.
    fn positions(self, metric: &MetricInfo) -> Vec<Position> {
        match metric.axis {
            MetricAxis::Scalar => vec![(None, None, None)],
            MetricAxis::Rho => self
                .rho
                .iter()
                .enumerate()
                .map(|(i, &r)| (Some(i), Some(r), None))
                .collect(),
            MetricAxis::W => self
                .w
                .iter()
                .enumerate()
                .map(|(i, &v)| (Some(i), None, Some(v)))
                .collect(),
        }
    }
}

/// Appends the rows of one method at one grid point (`all` its records, failed
/// ones included): every metric at every position, the share of each model
/// per w, the extra metrics and the inference measures, each as mean and
/// MCSE over the successful replicates.
fn method_rows(
    rows: &mut Vec<SummaryRow>,
    grid: &BTreeMap<String, serde_json::Value>,
    label: &str,
    all: &[&Record],
    metrics: &[&MetricInfo],
    axes: Axes,
) {
    let failures = all.iter().filter(|r| !r.ok).count();
    let ok: Vec<&Record> = all.iter().copied().filter(|r| r.ok).collect();
    let row = |metric: &str, (index, at_rho, at_w): Position, values: &[f64]| {
        let (mean, mcse) = mean_and_mcse(values);
        SummaryRow {
            grid: grid.clone(),
            method: label.to_string(),
            versus: None,
            metric: metric.to_string(),
            index,
            rho: at_rho,
            w: at_w,
            mean,
            mcse,
            n: values.len(),
            failures,
        }
    };
    for &metric in metrics {
        for position in axes.positions(metric) {
            let values: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.metrics.value(metric.name, position.0))
                .collect();
            if metric.name == "mse_delta" && values.is_empty() {
                continue;
            }
            rows.push(row(metric.name, position, &values));
        }
    }
    // Shares of each model (many-model studies), in model order.
    let mut models: Vec<&str> = Vec::new();
    for share in ok.iter().flat_map(|r| &r.metrics.shares) {
        if !models.contains(&share.model.as_str()) {
            models.push(&share.model);
        }
    }
    for model in models {
        let name = format!("{SHARE_PREFIX}{model}");
        for (i, &at_w) in axes.w.iter().enumerate() {
            let values: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.metrics.value(&name, Some(i)))
                .collect();
            rows.push(row(&name, (Some(i), None, Some(at_w)), &values));
        }
    }
    let extra: BTreeSet<&String> = ok.iter().flat_map(|r| r.metrics.extra.keys()).collect();
    for name in extra {
        let values: Vec<f64> = ok
            .iter()
            .filter_map(|r| r.metrics.extra.get(name).copied())
            .collect();
        rows.push(row(name, (None, None, None), &values));
    }
    for (metric, mean, mcse, n) in inference_rows(&ok) {
        rows.push(SummaryRow {
            mean,
            mcse,
            n,
            ..row(&metric, (None, None, None), &[])
        });
    }
}

/// Appends the paired differences `method − reference` at one grid point
/// (`records` = (the method's, the reference's)): per metric and position the
/// mean and MCSE of `x_method,r − x_reference,r` over the replicates r where
/// both succeeded.
fn paired_rows(
    rows: &mut Vec<SummaryRow>,
    grid: &BTreeMap<String, serde_json::Value>,
    (label, reference): (&String, &String),
    (other, base): (&[&Record], &[&Record]),
    metrics: &[&MetricInfo],
    axes: Axes,
) {
    let pairs: Vec<(&Record, &Record)> = other
        .iter()
        .filter_map(|a| {
            base.iter()
                .find(|b| b.replicate == a.replicate)
                .map(|b| (*a, *b))
        })
        .collect();
    let failures = pairs.iter().filter(|(a, b)| !(a.ok && b.ok)).count();
    for &metric in metrics {
        for (index, at_rho, at_w) in axes.positions(metric) {
            let diffs: Vec<f64> = pairs
                .iter()
                .filter(|(a, b)| a.ok && b.ok)
                .filter_map(|(a, b)| {
                    Some(
                        a.metrics.value(metric.name, index)?
                            - b.metrics.value(metric.name, index)?,
                    )
                })
                .collect();
            if diffs.is_empty() && metric.name == "mse_delta" {
                continue;
            }
            let (mean, mcse) = mean_and_mcse(&diffs);
            rows.push(SummaryRow {
                grid: grid.clone(),
                method: label.clone(),
                versus: Some(reference.clone()),
                metric: metric.name.to_string(),
                index,
                rho: at_rho,
                w: at_w,
                mean,
                mcse,
                n: diffs.len(),
                failures,
            });
        }
    }
}

/// One warning per grid point and method whose bias stage was
/// weight-dominated (the diagnostic [`DOMINATED_KEY`] is 1) in at least one
/// successful replicate, with the count; the rule is in `meta::diagnostics`.
/// Records in canonical order give the warnings in grid, then method order.
pub(crate) fn weight_warnings(records: &[Record], methods: &[String]) -> Vec<String> {
    let mut counts: Vec<(usize, &str, usize, usize)> = Vec::new();
    for record in records.iter().filter(|r| r.ok) {
        let Some(&flag) = record.diagnostics.get(DOMINATED_KEY) else {
            continue;
        };
        let key = (record.grid_index, record.method.as_str());
        let position = match counts.iter().position(|c| (c.0, c.1) == key) {
            Some(i) => i,
            None => {
                counts.push((key.0, key.1, 0, 0));
                counts.len() - 1
            }
        };
        counts[position].2 += usize::from(flag == 1.0);
        counts[position].3 += 1;
    }
    let order = |label: &str| methods.iter().position(|m| m == label);
    counts.sort_by_key(|&(grid, method, _, _)| (grid, order(method), method.to_string()));
    counts
        .into_iter()
        .filter(|c| c.2 > 0)
        .map(|(grid, method, dominated, total)| {
            let point = records
                .iter()
                .find(|r| r.grid_index == grid)
                .map(|r| {
                    r.grid
                        .iter()
                        .map(|(k, v)| match v {
                            serde_json::Value::String(s) => format!("{k} = {s}"),
                            other => format!("{k} = {other}"),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "method `{method}` at grid point {} ({point}): the bias stage was dominated by \
                 clipped or extreme weights in {dominated} of {total} replicates (rows with p̂ at \
                 the clip carrying more than {}% of its weight, or a DR effective sample size \
                 below {}% of its rows; see the `bias_stage.*` diagnostics in replicates.jsonl)",
                grid + 1,
                DOMINATED_CLIPPED_SHARE * 100.0,
                DOMINATED_EFFECTIVE_FRACTION * 100.0,
            )
        })
        .collect()
}

/// The summary's provenance: code version, spec hash, constants per grid point.
fn provenance(spec: &StudySpec, compare_to: Vec<String>) -> Provenance {
    let constants = spec
        .points
        .iter()
        .filter_map(|point| {
            let scenario = point.scenario.build().ok()?;
            let c = scenario.constants();
            Some(PointConstants {
                grid: point.values.clone(),
                scenario: scenario.name().to_string(),
                mean_psi: c.mean_psi,
                mean_delta_pref: c.mean_delta_pref,
                mean_psi_pref: c.mean_psi_pref,
                mean_delta: c.mean_delta,
                test_mean_gain: scenario.test_mean_gain(),
                accuracy: c.accuracy,
            })
        })
        .collect();
    Provenance {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        spec_hash: spec.spec_hash(),
        scenario: spec
            .points
            .first()
            .map_or_else(String::new, |p| p.scenario.name().to_string()),
        level: spec.evaluation.level,
        compare_to,
        constants,
        sweeps: spec.variants(),
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
/// | `P.median_se` | median of the replicates' SEs | `√(π/2)·ModSE/√R`, the normal-theory SE of a median (a scale guide) |
/// | `P.coverage_low_se`, `_mid_se`, `_high_se` | coverage among the replicates whose SE lies in the lowest, middle, highest third | `√(C(1−C)/R_third)` |
///
/// `model_se` is a root mean square and so follows the largest SEs; the
/// median and the coverage by SE third show whether the intervals are right
/// for typical replicates or only on average (heavy-tailed SEs cover in
/// the wide replicates and miss in the narrow ones). Replicates are ranked by
/// SE (ties by record order) and cut into thirds of sizes `⌊R/3⌋`, `⌊R/3⌋`
/// and the rest.
pub(crate) const INFERENCE_MEASURES: &[&str] = &[
    "bias",
    "emp_se",
    "model_se",
    "se_rel_error",
    "coverage",
    "mean_length",
    "median_se",
    "coverage_low_se",
    "coverage_mid_se",
    "coverage_high_se",
];

/// Coverage (mean of `covered`) with its MCSE among the replicates of each
/// third of the SEs, lowest first (pairs `(se, covered)` in record order).
fn coverage_by_se_third(pairs: &[(f64, f64)]) -> [(Option<f64>, Option<f64>, usize); 3] {
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by(|&a, &b| pairs[a].0.total_cmp(&pairs[b].0).then(a.cmp(&b)));
    let third = pairs.len() / 3;
    let bounds = [(0, third), (third, 2 * third), (2 * third, pairs.len())];
    bounds.map(|(lo, hi)| {
        let covered: Vec<f64> = order[lo..hi].iter().map(|&k| pairs[k].1).collect();
        if covered.is_empty() {
            return (None, None, 0);
        }
        let c = covered.iter().sum::<f64>() / covered.len() as f64;
        (
            Some(c),
            Some((c * (1.0 - c) / covered.len() as f64).sqrt()),
            covered.len(),
        )
    })
}

/// The median of `values` (mean of the middle two for an even count).
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

type DerivedRow = (String, Option<f64>, Option<f64>, usize);

/// A measure's (value, MCSE).
type Estimate = (Option<f64>, Option<f64>);

/// The [`INFERENCE_MEASURES`] of every inference prefix `P` (a `P.covered`
/// extra key) among the successful records `ok`, as rows
/// `(P.measure, mean, mcse, n)`.
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
        let [(emp_se, emp_se_mcse), (model_se, model_se_mcse), (rel, rel_mcse)] =
            se_accuracy(&estimates, &ses);
        let coverage =
            (!covered.is_empty()).then(|| covered.iter().sum::<f64>() / covered.len() as f64);
        let coverage_mcse = coverage.map(|c| (c * (1.0 - c) / covered.len() as f64).sqrt());
        let (length, length_mcse) = mean_and_mcse(&lengths);
        let median_se = median(&ses);
        let median_se_mcse = model_se
            .filter(|_| r >= 2)
            .map(|m| (std::f64::consts::PI / 2.0).sqrt() * m / rf.sqrt());
        // Pairs (se, covered) of the records that carry both.
        let pairs: Vec<(f64, f64)> = ok
            .iter()
            .filter_map(|rec| {
                let m = &rec.metrics.extra;
                Some((
                    *m.get(&format!("{prefix}.se"))?,
                    *m.get(&format!("{prefix}.covered"))?,
                ))
            })
            .collect();
        let [low, mid, high] = coverage_by_se_third(&pairs);
        for (measure, mean, mcse, n) in [
            ("bias", bias, bias_mcse, errors.len()),
            ("emp_se", emp_se, emp_se_mcse, r),
            ("model_se", model_se, model_se_mcse, ses.len()),
            ("se_rel_error", rel, rel_mcse, r),
            ("coverage", coverage, coverage_mcse, covered.len()),
            ("mean_length", length, length_mcse, lengths.len()),
            ("median_se", median_se, median_se_mcse, ses.len()),
            ("coverage_low_se", low.0, low.1, low.2),
            ("coverage_mid_se", mid.0, mid.1, mid.2),
            ("coverage_high_se", high.0, high.1, high.2),
        ] {
            out.push((format!("{prefix}.{measure}"), mean, mcse, n));
        }
    }
    out
}

/// The SE accuracy measures of one inference prefix over R replicates, each
/// with its MCSE: EmpSE = sd of the estimates (MCSE `EmpSE/√(2(R−1))`),
/// ModSE = `√(mean se²)` (MCSE `√(Var(se²)/(4R·ModSE²))`) and the relative
/// error `100(ModSE/EmpSE − 1)` (Morris, White & Crowther 2019).
fn se_accuracy(estimates: &[f64], ses: &[f64]) -> [Estimate; 3] {
    let r = estimates.len();
    let rf = r as f64;
    let sample_sd = crate::stats::sample_sd;
    let emp_se = sample_sd(estimates);
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
            Some(100.0 * (m / e) * (v / (4.0 * rf * m.powi(4)) + 1.0 / (2.0 * (rf - 1.0))).sqrt()),
        ),
        _ => (None, None),
    };
    [
        (emp_se, emp_se_mcse),
        (model_se, model_se_mcse),
        (rel, rel_mcse),
    ]
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

    /// Weight warnings count the flagged replicates per grid point and method,
    /// in grid then spec order; records without the key (constant
    /// propensity, baselines) and failed fits are ignored.
    #[test]
    fn weight_warnings_count_flagged_replicates() {
        let record = |grid_index: usize, method: &str, flag: Option<f64>, ok: bool| Record {
            grid: [("n".to_string(), serde_json::json!(500 * (grid_index + 1)))].into(),
            grid_index,
            replicate: 0,
            method: method.into(),
            setting: Default::default(),
            ok,
            error: None,
            metrics: Default::default(),
            diagnostics: flag
                .map(|f| [(DOMINATED_KEY.to_string(), f)].into())
                .unwrap_or_default(),
            legacy_seconds: None,
        };
        let records = vec![
            record(1, "DR", Some(1.0), true),
            record(0, "DR", Some(1.0), true),
            record(0, "DR", Some(0.0), true),
            record(0, "DR", Some(1.0), false),
            record(0, "R", Some(1.0), true),
            record(0, "pooled", None, true),
            record(1, "R", Some(0.0), true),
        ];
        let methods = vec!["R".to_string(), "DR".to_string(), "pooled".to_string()];
        let warnings = weight_warnings(&records, &methods);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("method `R` at grid point 1 (n = 500)"));
        assert!(warnings[0].contains("in 1 of 1 replicates"));
        assert!(warnings[1].starts_with("method `DR` at grid point 1 (n = 500)"));
        assert!(warnings[1].contains("in 1 of 2 replicates"));
        assert!(warnings[2].starts_with("method `DR` at grid point 2 (n = 1000)"));
        assert!(weight_warnings(&records[5..], &methods).is_empty());
    }

    /// Paired differences by hand: three replicates of `A` and `pooled` with
    /// MSE (0.5, 0.4, 0.9) and (0.7, 0.5, 0.8); one failed fit of `A` at
    /// replicate 3 drops that pair.
    #[test]
    fn paired_differences_by_hand() {
        use super::super::record::Metrics;
        let spec = StudySpec::parse(
            "name = \"p\"\nseed = 1\nreplicates = 4\n[scenario]\nname = \"healthbench-like\"\n\
             pool = 300\nn_test = 50\nd = 3\n[evaluation]\nrho = [0.0, 1.0]\nw = [0.0]\n\
             [[methods]]\nlabel = \"A\"\nmethod = \"gs-only\"\n[[methods]]\nmethod = \"pooled\"\n",
            "p.toml",
        )
        .unwrap();
        let record = |method: &str, replicate: usize, mse: Option<f64>| Record {
            grid: Default::default(),
            grid_index: 0,
            replicate,
            method: method.into(),
            setting: Default::default(),
            ok: mse.is_some(),
            error: mse.is_none().then(|| "failed".to_string()),
            metrics: Metrics {
                mse_psi: mse,
                neg_area: mse.map(|_| 0.1),
                eg: vec![Some(0.0), Some(0.0)],
                neg: vec![Some(0.0), Some(0.0)],
                eg_paper: vec![Some(0.0), Some(0.0)],
                regret: vec![0.0],
                ..Metrics::default()
            },
            diagnostics: Default::default(),
            legacy_seconds: None,
        };
        let records = vec![
            record("A", 0, Some(0.5)),
            record("pooled", 0, Some(0.7)),
            record("A", 1, Some(0.4)),
            record("pooled", 1, Some(0.5)),
            record("A", 2, Some(0.9)),
            record("pooled", 2, Some(0.8)),
            record("A", 3, None),
            record("pooled", 3, Some(0.6)),
        ];
        let summary = summarize(&spec, &records);
        assert_eq!(summary.provenance.compare_to, ["pooled"]);
        let row = summary
            .rows
            .iter()
            .find(|r| {
                r.method == "A" && r.versus.as_deref() == Some("pooled") && r.metric == "mse_psi"
            })
            .unwrap();
        // Differences −0.2, −0.1, 0.1.
        let diffs = [0.5 - 0.7, 0.4 - 0.5, 0.9 - 0.8];
        let mean = diffs.iter().sum::<f64>() / 3.0;
        let ss: f64 = diffs.iter().map(|d| (d - mean) * (d - mean)).sum();
        assert_eq!(row.n, 3);
        assert_eq!(row.failures, 1);
        assert!((row.mean.unwrap() - mean).abs() < 1e-15);
        assert!((row.mcse.unwrap() - (ss / 2.0 / 3.0).sqrt()).abs() < 1e-15);
        // Curve rows carry their ρ value; the reference has no row against itself.
        assert!(summary
            .rows
            .iter()
            .any(|r| r.metric == "eg" && r.rho == Some(1.0)));
        assert!(!summary
            .rows
            .iter()
            .any(|r| r.method == "pooled" && r.versus.is_some()));
        // The population constants of the grid point are recorded.
        assert_eq!(summary.provenance.constants[0].test_mean_gain, 0.035);
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
                setting: Default::default(),
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
