//! Evaluating a study's claims (`[[expect]]`) on its summary.
//!
//! # Model
//! A claim covers one or more grid points; at each it reads one summary row
//! (mean `x̄`, Monte Carlo SE `s`, `n` replicates) and is judged with
//! `k = sigma`:
//!
//! - `better_than` (method A, reference B, margin m): the row is the paired
//!   difference `A − B` (every method of a replicate sees the same data, so its
//!   MCSE is the paired one). The improvement is `I = x̄` for a metric where
//!   higher is better and `I = −x̄` where lower is better; the claim holds iff
//!   `I − k·s > m` — the improvement exceeds the margin by more than `k` MCSEs.
//! - `within` (`[lo, hi]`): the claim holds iff the mean's distance from the
//!   range, `δ = max(lo − x̄, x̄ − hi, 0)`, is at most `k` MCSEs *at the
//!   nearer edge* `e`: `δ ≤ k·s_e`. For a coverage (a proportion of `n`
//!   replicates, [`is_coverage`]) `s_e = √(e(1 − e)/n)`, the binomial MCSE
//!   the estimate would have if the true value were on the edge — the
//!   one-sided test of "the true value lies in the range" at level `Φ(−k)`;
//!   the estimate's own MCSE `√(x̄(1 − x̄)/n)` would tie the tolerance to the
//!   very error being judged (a coverage far below the range has a larger
//!   MCSE and so a looser check). For other metrics `s_e` is the row's MCSE.
//!   At `k = 0` the mean itself must lie inside. Example: at `R = 300` a
//!   coverage claim `[0.93, 0.97]` at `k = 3` fails below
//!   `0.93 − 3·√(0.93·0.07/300) = 0.886` and above `0.97 + 3·√(0.97·0.03/300)
//!   = 0.9995`.
//!
//! A claim whose row is missing, has no mean, or (with `k > 0`) no MCSE
//! (fewer than two replicates) cannot hold and fails with that reason.
//!
//! # References
//! Morris, White & Crowther (2019), *Using simulation studies to evaluate
//! statistical methods*, Statistics in Medicine 38(11) (Monte Carlo SEs).
//!
//! # Example
//! ```
//! use meta_router::study::claims::{beats, proportion_mcse, within};
//! // Improvement 0.02 ± 0.004: above a margin of 0.005 by more than 3 MCSE.
//! assert!(beats(0.02, 0.004, 3.0, 0.005));
//! assert!(!beats(0.02, 0.006, 3.0, 0.005));
//! // A coverage of 0.88 over 300 replicates against [0.93, 0.97] at 3 MCSE:
//! // 0.05 below the edge, whose MCSE is √(0.93·0.07/300) = 0.0147.
//! let edge = proportion_mcse(0.93, 300);
//! assert!((edge - 0.014731).abs() < 1e-6);
//! assert!(!within(0.88, 0.93, 0.97, 3.0, edge));
//! assert!(within(0.89, 0.93, 0.97, 3.0, edge));
//! ```

use std::collections::BTreeMap;

use super::record::{is_coverage, metric_direction, Direction, Summary, SummaryRow};
use super::spec::expect::SLOPE_SUFFIX;
use super::spec::{Claim, ClaimTest};

/// The outcome of one claim at one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimOutcome {
    /// The claim (`expect[index]` of the spec).
    pub index: usize,
    /// The claim in words.
    pub statement: String,
    /// The claim's note, if any.
    pub note: Option<String>,
    /// The grid point.
    pub grid: BTreeMap<String, serde_json::Value>,
    /// The metric (as in summary rows).
    pub metric: String,
    /// What the claim asserts.
    pub test: ClaimTest,
    /// `k`.
    pub sigma: f64,
    /// The judged value: the improvement `I` (`better_than`) or the mean
    /// (`within`); `None` when the summary has none.
    pub value: Option<f64>,
    /// Its Monte Carlo SE.
    pub mcse: Option<f64>,
    /// `within`: the MCSE the distance from the range was compared with
    /// (at the nearer edge for a coverage, else `mcse`); `None` inside the
    /// range or for `better_than`.
    pub edge_mcse: Option<f64>,
    /// Replicates contributing.
    pub n: usize,
    /// Whether the claim holds.
    pub passed: bool,
    /// Why the claim could not be judged (no row, no value, no MCSE); `None`
    /// when it was judged on `value` and `mcse`.
    pub problem: Option<String>,
}

impl ClaimOutcome {
    /// The outcome of `claim` at `grid` before it is judged: no value, not passed.
    fn unjudged(claim: &Claim, grid: &BTreeMap<String, serde_json::Value>) -> Self {
        Self {
            index: claim.index,
            statement: claim.statement(),
            note: claim.note.clone(),
            grid: grid.clone(),
            metric: claim.metric.clone(),
            test: claim.test.clone(),
            sigma: claim.sigma,
            value: None,
            mcse: None,
            edge_mcse: None,
            n: 0,
            passed: false,
            problem: None,
        }
    }
}

/// The improvement of A over B from the paired difference `A − B`: the
/// difference itself where higher is better, its negative where lower is
/// better (other directions have no improvement).
pub fn improvement(direction: Direction, difference: f64) -> Option<f64> {
    match direction {
        Direction::Higher => Some(difference),
        Direction::Lower => Some(-difference),
        Direction::TowardZero | Direction::Neither => None,
    }
}

/// `better_than`: the improvement exceeds the margin by more than `sigma`
/// Monte Carlo SEs, `improvement − sigma·mcse > margin`.
pub fn beats(improvement: f64, mcse: f64, sigma: f64, margin: f64) -> bool {
    improvement - sigma * mcse > margin
}

/// The distance of `mean` from `[low, high]` (0 inside) and the nearer edge.
pub(crate) fn distance(mean: f64, low: f64, high: f64) -> (f64, f64) {
    if mean < low {
        (low - mean, low)
    } else if mean > high {
        (mean - high, high)
    } else {
        (0.0, if mean - low <= high - mean { low } else { high })
    }
}

/// `within`: the mean's distance from `[low, high]` is at most `sigma`
/// MCSEs at the nearer edge, `distance ≤ sigma·edge_mcse`.
pub fn within(mean: f64, low: f64, high: f64, sigma: f64, edge_mcse: f64) -> bool {
    distance(mean, low, high).0 <= sigma * edge_mcse
}

/// The binomial Monte Carlo SE `√(p(1 − p)/n)` of a proportion at `p`.
pub fn proportion_mcse(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n as f64).sqrt()
}

/// Evaluates every claim at every grid point it covers, in claim order.
pub fn evaluate(claims: &[Claim], summary: &Summary) -> Vec<ClaimOutcome> {
    claims
        .iter()
        .flat_map(|claim| {
            claim
                .points
                .iter()
                .map(move |grid| evaluate_at(claim, grid, summary))
        })
        .collect()
}

/// Judges `claim` at one grid point against the summary row it names (its
/// method, reference, metric and position); a missing row or value is a
/// problem of the outcome.
fn evaluate_at(
    claim: &Claim,
    grid: &BTreeMap<String, serde_json::Value>,
    summary: &Summary,
) -> ClaimOutcome {
    let versus = match &claim.test {
        ClaimTest::BetterThan { reference, .. } => Some(reference.as_str()),
        ClaimTest::Within { .. } => None,
    };
    if let Some(base) = claim.metric.strip_suffix(SLOPE_SUFFIX) {
        return evaluate_slope(claim, base, grid, summary);
    }
    let index = claim.position.map(|(i, _)| i);
    let row: Option<&SummaryRow> = summary.rows.iter().find(|r| {
        &r.grid == grid
            && r.method == claim.method
            && r.versus.as_deref() == versus
            && r.metric == claim.metric
            && r.index == index
    });
    let mut outcome = ClaimOutcome {
        mcse: row.and_then(|r| r.mcse),
        n: row.map_or(0, |r| r.n),
        ..ClaimOutcome::unjudged(claim, grid)
    };
    let Some(row) = row else {
        outcome.problem = Some(match versus {
            Some(reference) => format!(
                "the summary has no paired-difference row {} − {reference} for {}",
                claim.method,
                claim.metric_label()
            ),
            None => format!(
                "the summary has no row for {} of {}",
                claim.metric_label(),
                claim.method
            ),
        });
        return outcome;
    };
    let value = match (row.mean, &claim.test) {
        (Some(mean), ClaimTest::BetterThan { .. }) => {
            improvement(metric_direction(&claim.metric), mean)
        }
        (Some(mean), ClaimTest::Within { .. }) => Some(mean),
        (None, _) => None,
    };
    outcome.value = value;
    let Some(value) = value else {
        outcome.problem = Some(format!(
            "no value: no replicate produced one ({} failed fits)",
            row.failures
        ));
        return outcome;
    };
    judge_value(claim, row, value, &mut outcome);
    outcome
}

/// Judges a claim's `value` (the mean, or for `better_than` the
/// improvement) with the MCSE of its `row`: `within` passes at distance 0
/// from `[lo, hi]` or within `sigma` MCSEs of the nearer edge (a coverage's
/// binomial MCSE at that edge); `better_than` passes when
/// `value − sigma·MCSE > margin`. Without an MCSE (and `sigma > 0`) the
/// outcome gets a problem instead.
fn judge_value(claim: &Claim, row: &SummaryRow, value: f64, outcome: &mut ClaimOutcome) {
    let sigma = claim.sigma;
    if let ClaimTest::Within { low, high } = &claim.test {
        let (gap, edge) = distance(value, *low, *high);
        if gap == 0.0 {
            outcome.passed = true;
            return;
        }
        let edge_mcse = if is_coverage(&claim.metric) && row.n > 0 {
            Some(proportion_mcse(edge, row.n))
        } else {
            row.mcse.or((sigma == 0.0).then_some(0.0))
        };
        let Some(edge_mcse) = edge_mcse else {
            outcome.problem = Some(no_mcse(row.n, sigma));
            return;
        };
        outcome.edge_mcse = Some(edge_mcse);
        outcome.passed = within(value, *low, *high, sigma, edge_mcse);
        return;
    }
    let mcse = match row.mcse {
        Some(s) => s,
        None if sigma == 0.0 => 0.0,
        None => {
            outcome.problem = Some(no_mcse(row.n, sigma));
            return;
        }
    };
    if let ClaimTest::BetterThan { margin, .. } = &claim.test {
        outcome.passed = beats(value, mcse, sigma, *margin);
    }
}

/// A slope claim (`<metric>.slope`): the summary's slope row for the
/// claim's method, `versus` and other-key values, judged by `within` with
/// the slope's SE in place of an MCSE.
fn evaluate_slope(
    claim: &Claim,
    base: &str,
    grid: &BTreeMap<String, serde_json::Value>,
    summary: &Summary,
) -> ClaimOutcome {
    let row = summary.slopes.iter().find(|r| {
        &r.grid == grid && r.method == claim.method && r.versus == claim.versus && r.metric == base
    });
    let mut outcome = ClaimOutcome {
        value: row.map(|r| r.slope),
        mcse: row.map(|r| r.se),
        n: row.map_or(0, |r| r.points),
        ..ClaimOutcome::unjudged(claim, grid)
    };
    let Some(row) = row else {
        outcome.problem = Some(format!(
            "the summary has no slope of {} for {}: it needs at least {} grid points with a \
             positive mean and Monte Carlo SE",
            claim.metric_label(),
            claim.method,
            super::rates::MIN_RATE_POINTS
        ));
        return outcome;
    };
    if let ClaimTest::Within { low, high } = claim.test {
        let (gap, _) = distance(row.slope, low, high);
        if gap > 0.0 {
            outcome.edge_mcse = Some(row.se);
        }
        outcome.passed = within(row.slope, low, high, claim.sigma, row.se);
    }
    outcome
}

fn no_mcse(n: usize, sigma: f64) -> String {
    format!(
        "the value has no Monte Carlo SE (n = {n}), so it cannot be judged at {sigma} MCSE; run \
         more replicates or set sigma = 0"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn improvement_follows_the_direction() {
        assert_eq!(improvement(Direction::Higher, 0.5), Some(0.5));
        assert_eq!(improvement(Direction::Lower, 0.5), Some(-0.5));
        assert_eq!(improvement(Direction::Neither, 0.5), None);
    }

    #[test]
    fn beats_is_strict_and_within_is_closed() {
        // Equal methods never beat each other, even with a zero margin.
        assert!(!beats(0.0, 0.0, 0.0, 0.0));
        assert!(beats(1e-9, 0.0, 3.0, 0.0));
        // The lower bound 0.1 − 2·0.02 = 0.06 against margins 0.05 and 0.07.
        assert!(beats(0.1, 0.02, 2.0, 0.05));
        assert!(!beats(0.1, 0.02, 2.0, 0.07));
        // A distance of exactly k MCSEs still holds (0.25 = 2·0.125).
        assert!(within(0.5, 0.75, 1.0, 2.0, 0.125));
        assert!(!within(0.5, 0.75, 1.0, 1.5, 0.125));
        assert!(within(1.5, 0.75, 1.0, 4.0, 0.125));
        assert!(within(0.95, 0.93, 0.97, 0.0, 0.0));
        assert!(!within(0.99, 0.93, 0.97, 0.0, 0.0));
        let (gap, edge) = distance(0.9, 0.93, 0.97);
        assert!((gap - 0.03).abs() < 1e-15 && edge == 0.93);
        assert_eq!(distance(0.96, 0.93, 0.97).1, 0.97);
    }

    /// The issue's case: at R = 300 the coverage claim [0.93, 0.97] at
    /// 3 MCSE holds from 0.886 to 0.9995 (the binomial MCSE at each edge),
    /// where the estimate's own MCSE let 0.875 through.
    #[test]
    fn coverage_claims_use_the_mcse_at_the_edge() {
        let low_edge = proportion_mcse(0.93, 300);
        let high_edge = proportion_mcse(0.97, 300);
        assert!((0.93 - 3.0 * low_edge - 0.88581).abs() < 1e-5);
        assert!((0.97 + 3.0 * high_edge - 0.99955).abs() < 1e-5);
        assert!(!within(0.88, 0.93, 0.97, 3.0, low_edge));
        assert!(!within(0.875, 0.93, 0.97, 3.0, low_edge));
        assert!(within(0.8867, 0.93, 0.97, 3.0, low_edge));
        // The overlap rule this replaced: 0.875 + 3·√(0.875·0.125/300) ≥ 0.93.
        assert!(0.875 + 3.0 * proportion_mcse(0.875, 300) >= 0.93);
    }
}
