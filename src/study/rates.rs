//! Convergence rates: the slope of `log MSE` against `log N` across the grid,
//! with an interval, for studies that declare `[evaluation] rate = "<key>"`.
//!
//! # Model
//! When an estimator's mean squared error behaves like `C·N^β`, the points
//! `(log N_i, log M̂_i)` of the grid's MSE means `M̂_i` lie on a line of slope
//! `β`: `−1` for a well-specified parametric learner, `−2s/(2s + d)` for a
//! nonparametric one on an `s`-smooth function of `d` variables (Stone 1982),
//! and for an excess error over an oracle the rate of its leading term
//! (`docs/method.md` §10).
//!
//! # Algorithm
//! For each method (and each paired difference `method − reference`), each
//! of `mse_delta`, `mse_psi`, (methods with `oracle_error`) `delta_bias` and
//! (with `[evaluation] propensity_error`) `propensity_mse`,
//! and each combination of the other grid parameters, take the grid points
//! that differ only in the rate key, in increasing order; a point without a
//! mean or an MCSE (every replicate failed, or only one succeeded) is left
//! out. A fit needs at least three points, every mean `> 0` and every Monte
//! Carlo SE `> 0` (an excess error that is not positive at some `N` has no
//! logarithm: no slope is reported for it). By the delta
//! method `Var(log M̂_i) ≈ (MCSE_i / M̂_i)²`; the slope is the weighted
//! least-squares fit of `y_i = log M̂_i` on `x_i = log N_i` with weights
//! `w_i = (M̂_i / MCSE_i)²`:
//! `β̂ = Σ w(x − x̄)(y − ȳ) / Σ w(x − x̄)²` (weighted means `x̄`, `ȳ`), with
//! standard error `1/√(Σ w(x − x̄)²)` when the line holds. The weighted
//! residual sum of squares `χ² = Σ w(y − α̂ − β̂x)²` has `k − 2` degrees of
//! freedom under the line; when `χ²/(k − 2) > 1` the points scatter more
//! than their Monte Carlo error allows (curvature: the pre-asymptotic
//! regime, or a rate that changes with `N`), and the SE is multiplied by
//! `√(χ²/(k − 2))` and the interval uses Student's `t` with `k − 2` degrees
//! of freedom (the usual scale-factor treatment of inconsistent weighted
//! data, e.g. Birge 1932; the Particle Data Group's `S` factor). Otherwise
//! the interval is normal. The interval's level is the study's `level`.
//!
//! Claims read a slope as the metric `<metric>.slope` (with `versus` for an
//! excess error), judged by `within` against its SE (`study::claims`).
//!
//! # References
//! - Stone, C. J. (1982), Optimal global rates of convergence for
//!   nonparametric regression, Annals of Statistics 10(4).
//! - Birge, R. T. (1932), The calculation of errors by the method of least
//!   squares, Physical Review 40.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::record::{SlopeRow, SummaryRow};

/// Metrics whose log–log slopes are fitted.
pub(crate) const RATE_METRICS: &[&str] = &[
    "mse_delta",
    "mse_psi",
    super::DELTA_BIAS,
    super::PROPENSITY_MSE,
];

/// Fewest grid points of a slope.
pub(crate) const MIN_RATE_POINTS: usize = 3;

/// A weighted log–log line fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogLogFit {
    /// Slope `β̂`.
    pub slope: f64,
    /// Intercept `α̂` (at `log x = 0`).
    pub intercept: f64,
    /// Standard error of the slope (inflated when `χ²/(k − 2) > 1`).
    pub se: f64,
    /// Weighted residual sum of squares.
    pub chi2: f64,
    /// Points in the fit.
    pub points: usize,
    /// Whether the SE was inflated by the lack of fit.
    pub inflated: bool,
}

impl LogLogFit {
    /// The two-sided interval at `level` (normal, or `t` with `k − 2`
    /// degrees of freedom when the SE was inflated).
    pub fn interval(&self, level: f64) -> (f64, f64) {
        let z = if self.inflated {
            StudentsT::new(0.0, 1.0, (self.points - 2) as f64)
                .map(|t| t.inverse_cdf(0.5 + level / 2.0))
                .unwrap_or(f64::NAN)
        } else {
            crate::inference::normal_quantile(level).unwrap_or(f64::NAN)
        };
        (self.slope - z * self.se, self.slope + z * self.se)
    }
}

/// The weighted least-squares slope of `log mean` on `log x` (module docs)
/// from `(x, mean, mcse)` triples; `None` with fewer than
/// [`MIN_RATE_POINTS`] points, a non-positive `x`, mean or MCSE, or a
/// non-finite result.
pub(crate) fn log_log_slope(points: &[(f64, f64, f64)]) -> Option<LogLogFit> {
    if points.len() < MIN_RATE_POINTS
        || points
            .iter()
            .any(|&(x, m, s)| !(x > 0.0 && m > 0.0 && s > 0.0 && (x * m * s).is_finite()))
    {
        return None;
    }
    let xs: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.1.ln()).collect();
    let ws: Vec<f64> = points.iter().map(|p| (p.1 / p.2).powi(2)).collect();
    let total: f64 = ws.iter().sum();
    let x_bar = ws.iter().zip(&xs).map(|(w, x)| w * x).sum::<f64>() / total;
    let y_bar = ws.iter().zip(&ys).map(|(w, y)| w * y).sum::<f64>() / total;
    let mut sxx = 0.0;
    let mut sxy = 0.0;
    for ((w, x), y) in ws.iter().zip(&xs).zip(&ys) {
        sxx += w * (x - x_bar) * (x - x_bar);
        sxy += w * (x - x_bar) * (y - y_bar);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = y_bar - slope * x_bar;
    let chi2: f64 = ws
        .iter()
        .zip(&xs)
        .zip(&ys)
        .map(|((w, x), y)| w * (y - intercept - slope * x).powi(2))
        .sum();
    let df = (points.len() - 2) as f64;
    let scale = (chi2 / df).sqrt();
    let inflated = scale > 1.0;
    let se = sxx.sqrt().recip() * if inflated { scale } else { 1.0 };
    let fit = LogLogFit {
        slope,
        intercept,
        se,
        chi2,
        points: points.len(),
        inflated,
    };
    [slope, intercept, se, chi2]
        .iter()
        .all(|v| v.is_finite())
        .then_some(fit)
}

/// A slope's rows: other grid values, method, reference, metric.
type Group = (
    BTreeMap<String, serde_json::Value>,
    String,
    Option<String>,
    String,
);

/// A group's `(x, mean, mcse)` points.
type Points = Vec<(f64, f64, f64)>;

/// The slope rows of a summary's rows against the grid key `key` (module
/// docs), in the order the (method, versus, metric, other-keys) groups first
/// appear in `rows`.
pub(crate) fn slope_rows(rows: &[SummaryRow], key: &str, level: f64) -> Vec<SlopeRow> {
    let mut groups: Vec<(Group, Points)> = Vec::new();
    for row in rows {
        if !RATE_METRICS.contains(&row.metric.as_str()) || row.index.is_some() {
            continue;
        }
        let Some(x) = row.grid.get(key).and_then(serde_json::Value::as_f64) else {
            continue;
        };
        let (Some(mean), Some(mcse)) = (row.mean, row.mcse) else {
            continue;
        };
        let mut others = row.grid.clone();
        others.remove(key);
        let group = (
            others,
            row.method.clone(),
            row.versus.clone(),
            row.metric.clone(),
        );
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, points)) => points.push((x, mean, mcse)),
            None => groups.push((group, vec![(x, mean, mcse)])),
        }
    }
    groups
        .into_iter()
        .filter_map(|((grid, method, versus, metric), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let fit = log_log_slope(&points)?;
            let (low, high) = fit.interval(level);
            (low.is_finite() && high.is_finite()).then(|| SlopeRow {
                grid,
                method,
                versus,
                metric,
                against: key.to_string(),
                slope: fit.slope,
                se: fit.se,
                low,
                high,
                intercept: fit.intercept,
                points: fit.points,
                chi2: fit.chi2,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_power_law_gives_its_exponent() {
        // M = 3·N^(−0.8) with 5% relative MCSEs: slope −0.8, χ² = 0.
        let points: Vec<(f64, f64, f64)> = [100.0, 200.0, 400.0, 800.0]
            .iter()
            .map(|&n: &f64| {
                let m = 3.0 * n.powf(-0.8);
                (n, m, 0.05 * m)
            })
            .collect();
        let fit = log_log_slope(&points).unwrap();
        assert!((fit.slope + 0.8).abs() < 1e-12);
        assert!((fit.intercept - 3f64.ln()).abs() < 1e-12);
        assert!(fit.chi2 < 1e-20 && !fit.inflated);
        // SE by hand: w = 400 each, x = log N spaced by log 2.
        let l2 = 2f64.ln();
        let sxx = 400.0 * l2 * l2 * (2.25 + 0.25 + 0.25 + 2.25);
        assert!((fit.se - sxx.sqrt().recip()).abs() < 1e-12);
        let (low, high) = fit.interval(0.95);
        assert!((high - low - 2.0 * 1.959963984540054 * fit.se).abs() < 1e-9);
    }

    #[test]
    fn scatter_beyond_the_mcse_inflates_the_se() {
        let points = [
            (100.0, 1.0, 0.01),
            (200.0, 0.4, 0.004),
            (400.0, 0.3, 0.003),
            (800.0, 0.1, 0.001),
        ];
        let fit = log_log_slope(&points).unwrap();
        assert!(fit.inflated && fit.chi2 > 2.0);
        let plain = 1.0 / {
            let xs: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
            let mean = xs.iter().sum::<f64>() / 4.0;
            xs.iter().map(|x| 1e4 * (x - mean).powi(2)).sum::<f64>()
        }
        .sqrt();
        assert!((fit.se - plain * (fit.chi2 / 2.0).sqrt()).abs() < 1e-12);
        // t with 2 degrees of freedom: 4.303 at 95%.
        let (low, high) = fit.interval(0.95);
        assert!(((high - low) / (2.0 * fit.se) - 4.302652729911275).abs() < 1e-6);
    }

    #[test]
    fn unusable_points_give_no_slope() {
        assert!(log_log_slope(&[(1.0, 1.0, 0.1), (2.0, 0.5, 0.1)]).is_none());
        assert!(log_log_slope(&[(1.0, 1.0, 0.1), (2.0, -0.5, 0.1), (4.0, 0.2, 0.1)]).is_none());
        assert!(log_log_slope(&[(1.0, 1.0, 0.1), (2.0, 0.5, 0.0), (4.0, 0.2, 0.1)]).is_none());
        assert!(log_log_slope(&[(2.0, 1.0, 0.1), (2.0, 0.5, 0.1), (2.0, 0.2, 0.1)]).is_none());
    }

    #[test]
    fn rows_are_grouped_by_method_reference_and_other_keys() {
        let row = |n: i64, sigma: f64, method: &str, versus: Option<&str>, mean: f64| SummaryRow {
            grid: [
                ("n".to_string(), serde_json::json!(n)),
                ("sigma".to_string(), serde_json::json!(sigma)),
            ]
            .into_iter()
            .collect(),
            method: method.into(),
            versus: versus.map(Into::into),
            metric: "mse_delta".into(),
            index: None,
            rho: None,
            w: None,
            mean: Some(mean),
            mcse: Some(0.1 * mean),
            n: 10,
            failures: 0,
        };
        let mut rows = Vec::new();
        for sigma in [0.5, 1.0] {
            for n in [100, 400, 1600] {
                let m = sigma / n as f64;
                rows.push(row(n, sigma, "R", None, m));
                rows.push(row(n, sigma, "DR", Some("R"), 0.5 * m.sqrt()));
            }
        }
        let slopes = slope_rows(&rows, "n", 0.95);
        assert_eq!(slopes.len(), 4);
        assert_eq!(slopes[0].method, "R");
        assert_eq!(slopes[0].grid["sigma"], serde_json::json!(0.5));
        assert!(!slopes[0].grid.contains_key("n"));
        assert!((slopes[0].slope + 1.0).abs() < 1e-12);
        assert_eq!(slopes[1].versus.as_deref(), Some("R"));
        assert!((slopes[1].slope + 0.5).abs() < 1e-12);
        assert_eq!(slopes[1].points, 3);
    }
}
