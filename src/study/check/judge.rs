//! The tests of `check`'s cells: the normal test of a metric's means, Fisher's
//! exact tests of coverages and failure counts, and Holm's (or the fixed-σ)
//! per-run rule over the tested cells.

use statrs::function::erf::erfc;
use statrs::function::factorial::ln_binomial;

use super::{Cell, CellValue, Judgement, Rule, Test, Verdict};
use crate::study::record::Direction;

/// Two-sided normal p-value `2Φ(−|z|)` (0 for infinite `z`).
pub fn normal_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// Holm's adjusted p-values, in the input order:
/// `p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j))` over the ascending order
/// (ties in input order). Rejecting every hypothesis with `p̃ ≤ α` is Holm's
/// step-down procedure at family-wise level `α`.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]).then(a.cmp(&b)));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// `(P(X ≤ x_run), P(X ≥ x_run))` for `X` hypergeometric: `x_run + x_base`
/// successes among `n_run + n_base` trials, `n_run` of them drawn — the null
/// distribution of Fisher's exact test of two proportions `x_run / n_run`
/// and `x_base / n_base`, conditional on the total.
pub(crate) fn fisher_tails(x_run: u64, n_run: u64, x_base: u64, n_base: u64) -> (f64, f64) {
    let population = n_run + n_base;
    let successes = x_run + x_base;
    let draws = n_run;
    let low = (draws + successes).saturating_sub(population);
    let high = draws.min(successes);
    let ln_total = ln_binomial(population, draws);
    let pmf = |i: u64| {
        (ln_binomial(successes, i) + ln_binomial(population - successes, draws - i) - ln_total)
            .exp()
    };
    let lower: f64 = (low..=x_run.min(high)).map(pmf).sum();
    let upper: f64 = (x_run.max(low)..=high).map(pmf).sum();
    (lower.min(1.0), upper.min(1.0))
}

/// The two-sided p-value of Fisher's exact test of two coverages (counts
/// `round(mean · n)` of `n`): twice the smaller tail, at most 1.
pub fn coverage_p(run: (f64, usize), baseline: (f64, usize)) -> f64 {
    let count = |(mean, n): (f64, usize)| ((mean * n as f64).round().clamp(0.0, n as f64)) as u64;
    let (lower, upper) = fisher_tails(count(run), run.1 as u64, count(baseline), baseline.1 as u64);
    (2.0 * lower.min(upper)).min(1.0)
}

/// The one-sided p-value of Fisher's exact test that the run's failure rate
/// `run / replicates` is not above the baseline's: `P(X ≥ run)`.
pub fn failure_p(run: usize, baseline: usize, replicates: usize) -> f64 {
    let n = replicates as u64;
    fisher_tails(run as u64, n, baseline as u64, n).1
}

/// What a flag would mean for a metric with this direction, given the run's
/// and the baseline's means (`r`, `b`).
fn flagged_verdict(direction: Direction, r: f64, b: f64) -> Verdict {
    let directed = |better: bool| {
        if better {
            Verdict::Better
        } else {
            Verdict::Worse
        }
    };
    match direction {
        Direction::Higher if r != b => directed(r > b),
        Direction::Lower if r != b => directed(r < b),
        Direction::TowardZero if r.abs() != b.abs() => directed(r.abs() < b.abs()),
        _ => Verdict::Changed,
    }
}

/// A mean on one side only: worse (the run lost it), better (gained it),
/// changed without a better side; `None` when both or neither have one.
fn presence(direction: Direction, run: Option<f64>, baseline: Option<f64>) -> Option<Verdict> {
    match (run, baseline) {
        (None, None) => Some(Verdict::Same),
        (None, Some(_)) if direction == Direction::Neither => Some(Verdict::Changed),
        (Some(_), None) if direction == Direction::Neither => Some(Verdict::Changed),
        (None, Some(_)) => Some(Verdict::Worse),
        (Some(_), None) => Some(Verdict::Better),
        (Some(_), Some(_)) => None,
    }
}

/// Tests one metric cell: run `(mean, mcse)` against baseline `(mean,
/// mcse)` by the normal test of the module docs. The returned verdict is
/// `same` for a tested cell (the per-run rule decides, [`apply_rule`]) or
/// the final one for a cell without a test.
pub fn judge(
    direction: Direction,
    run: (Option<f64>, Option<f64>),
    baseline: (Option<f64>, Option<f64>),
) -> Judgement {
    if let Some(verdict) = presence(direction, run.0, baseline.0) {
        return Judgement::fixed(verdict);
    }
    let (r, b) = (run.0.unwrap_or_default(), baseline.0.unwrap_or_default());
    let d = r - b;
    let mut judgement = Judgement {
        difference: Some(d),
        verdict_if_flagged: flagged_verdict(direction, r, b),
        ..Judgement::fixed(Verdict::Same)
    };
    let (Some(sr), Some(sb)) = (run.1, baseline.1) else {
        if r != b {
            judgement.verdict = Verdict::NotJudged;
        }
        return judgement;
    };
    let se = (sr * sr + sb * sb).sqrt();
    judgement.se = Some(se);
    judgement.test = Some(Test::Normal);
    judgement.p_value = Some(if d == 0.0 {
        1.0
    } else if se > 0.0 {
        normal_p(d / se)
    } else {
        0.0
    });
    judgement
}

/// Tests one coverage cell towards the nominal `level`: Fisher's exact test
/// of the covered counts; a flag is worse when the run's coverage is farther
/// from `level` than the baseline's.
pub(crate) fn judge_coverage(level: f64, run: &CellValue, baseline: &CellValue) -> Judgement {
    if let Some(verdict) = presence(Direction::TowardZero, run.mean, baseline.mean) {
        return Judgement::fixed(verdict);
    }
    let (r, b) = (
        run.mean.unwrap_or_default(),
        baseline.mean.unwrap_or_default(),
    );
    let mut judgement = Judgement {
        difference: Some(r - b),
        verdict_if_flagged: flagged_verdict(Direction::TowardZero, r - level, b - level),
        test: Some(Test::ExactCoverage),
        p_value: Some(coverage_p((r, run.n), (b, baseline.n))),
        ..Judgement::fixed(Verdict::Same)
    };
    if let (Some(sr), Some(sb)) = (run.mcse, baseline.mcse) {
        judgement.se = Some((sr * sr + sb * sb).sqrt());
    }
    judgement
}

/// Tests one failure cell: `run` and `baseline` failed fits of `replicates`
/// each (module docs: a baseline without failures tolerates none).
pub(crate) fn judge_failures(run: usize, baseline: usize, replicates: usize) -> Judgement {
    let difference = Some(run as f64 - baseline as f64);
    if baseline == 0 {
        let verdict = if run > 0 {
            Verdict::Worse
        } else {
            Verdict::Same
        };
        return Judgement {
            difference,
            ..Judgement::fixed(verdict)
        };
    }
    Judgement {
        verdict: Verdict::Same,
        verdict_if_flagged: Verdict::Worse,
        difference,
        se: None,
        test: Some(Test::ExactFailures),
        p_value: Some(failure_p(run, baseline, replicates.max(run).max(baseline))),
        adjusted_p: None,
    }
}

/// Applies the per-run rule to the tested cells: sets each tested cell's
/// adjusted p-value and, when flagged, its verdict. Returns the number of
/// tested cells.
pub fn apply_rule(cells: &mut [Cell], rule: Rule) -> usize {
    let tested: Vec<usize> = (0..cells.len())
        .filter(|&i| {
            cells[i].judgement.p_value.is_some() && cells[i].judgement.verdict == Verdict::Same
        })
        .collect();
    let p: Vec<f64> = tested
        .iter()
        .map(|&i| cells[i].judgement.p_value.unwrap_or(1.0))
        .collect();
    let adjusted = match rule {
        Rule::Holm { .. } => holm(&p),
        Rule::PerCell { .. } => p.clone(),
    };
    for (&i, adjusted) in tested.iter().zip(adjusted) {
        let judgement = &mut cells[i].judgement;
        judgement.adjusted_p = Some(adjusted);
        let flagged = match rule {
            Rule::Holm { alpha } => adjusted <= alpha,
            Rule::PerCell { sigma } => match (judgement.test, judgement.difference, judgement.se) {
                (Some(Test::Normal), Some(d), Some(se)) => d.abs() > sigma * se,
                _ => adjusted < erfc(sigma / std::f64::consts::SQRT_2),
            },
        };
        if flagged {
            judgement.verdict = judgement.verdict_if_flagged;
        }
    }
    tested.len()
}
