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
//! - `within` (`[lo, hi]`): the claim holds iff the interval `x̄ ± k·s`
//!   overlaps `[lo, hi]` — at `k = 0` the mean itself must lie inside; with
//!   `k > 0` a claim fails only when the data place the value outside the
//!   range by more than `k` MCSEs. (Requiring the interval to lie *inside*
//!   would make e.g. a coverage claim `[0.93, 0.97]` fail at any practical
//!   number of replicates, since the MCSE of a coverage at R = 200 is 0.015.)
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
//! use meta_router::study::claims::{beats, overlaps};
//! // Improvement 0.02 ± 0.004: above a margin of 0.005 by more than 3 MCSE.
//! assert!(beats(0.02, 0.004, 3.0, 0.005));
//! assert!(!beats(0.02, 0.006, 3.0, 0.005));
//! // Coverage 0.91 ± 0.015 overlaps [0.93, 0.97] at 2 MCSE, not at 1.
//! assert!(overlaps(0.91, 0.015, 2.0, 0.93, 0.97));
//! assert!(!overlaps(0.91, 0.015, 1.0, 0.93, 0.97));
//! ```

use std::collections::BTreeMap;

use super::record::{metric_direction, Direction, Summary, SummaryRow};
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
    /// What the claim asserts.
    pub test: ClaimTest,
    /// `k`.
    pub sigma: f64,
    /// The judged value: the improvement `I` (`better_than`) or the mean
    /// (`within`); `None` when the summary has none.
    pub value: Option<f64>,
    /// Its Monte Carlo SE.
    pub mcse: Option<f64>,
    /// Replicates contributing.
    pub n: usize,
    /// Whether the claim holds.
    pub passed: bool,
    /// Why the claim could not be judged (no row, no value, no MCSE); `None`
    /// when it was judged on `value` and `mcse`.
    pub problem: Option<String>,
}

impl ClaimOutcome {
    /// The interval `value ± sigma·mcse` the claim was judged on.
    pub fn interval(&self) -> Option<(f64, f64)> {
        let value = self.value?;
        let spread = self.sigma * self.mcse.unwrap_or(0.0);
        Some((value - spread, value + spread))
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

/// `within`: the interval `mean ± sigma·mcse` overlaps `[low, high]`.
pub fn overlaps(mean: f64, mcse: f64, sigma: f64, low: f64, high: f64) -> bool {
    mean - sigma * mcse <= high && mean + sigma * mcse >= low
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

fn evaluate_at(
    claim: &Claim,
    grid: &BTreeMap<String, serde_json::Value>,
    summary: &Summary,
) -> ClaimOutcome {
    let versus = match &claim.test {
        ClaimTest::BetterThan { reference, .. } => Some(reference.as_str()),
        ClaimTest::Within { .. } => None,
    };
    let index = claim.position.map(|(i, _)| i);
    let row: Option<&SummaryRow> = summary.rows.iter().find(|r| {
        &r.grid == grid
            && r.method == claim.method
            && r.versus.as_deref() == versus
            && r.metric == claim.metric
            && r.index == index
    });
    let mut outcome = ClaimOutcome {
        index: claim.index,
        statement: claim.statement(),
        note: claim.note.clone(),
        grid: grid.clone(),
        test: claim.test.clone(),
        sigma: claim.sigma,
        value: None,
        mcse: row.and_then(|r| r.mcse),
        n: row.map_or(0, |r| r.n),
        passed: false,
        problem: None,
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
    let sigma = claim.sigma;
    let mcse = match row.mcse {
        Some(s) => s,
        None if sigma == 0.0 => 0.0,
        None => {
            outcome.problem = Some(format!(
                "the value has no Monte Carlo SE (n = {}), so it cannot be judged at {sigma} \
                 MCSE; run more replicates or set sigma = 0",
                row.n
            ));
            return outcome;
        }
    };
    outcome.passed = match &claim.test {
        ClaimTest::BetterThan { margin, .. } => beats(value, mcse, sigma, *margin),
        ClaimTest::Within { low, high } => overlaps(value, mcse, sigma, *low, *high),
    };
    outcome
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
    fn beats_is_strict_and_overlap_is_closed() {
        // Equal methods never beat each other, even with a zero margin.
        assert!(!beats(0.0, 0.0, 0.0, 0.0));
        assert!(beats(1e-9, 0.0, 3.0, 0.0));
        // The lower bound 0.1 − 2·0.02 = 0.06 against margins 0.05 and 0.07.
        assert!(beats(0.1, 0.02, 2.0, 0.05));
        assert!(!beats(0.1, 0.02, 2.0, 0.07));
        // Touching the range counts as overlap.
        assert!(overlaps(0.5, 0.125, 2.0, 0.75, 1.0));
        assert!(!overlaps(0.5, 0.125, 1.5, 0.75, 1.0));
        assert!(overlaps(1.5, 0.125, 4.0, 0.75, 1.0));
        assert!(overlaps(0.95, 0.0, 0.0, 0.93, 0.97));
        assert!(!overlaps(0.99, 0.0, 0.0, 0.93, 0.97));
    }
}
