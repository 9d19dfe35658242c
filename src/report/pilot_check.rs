//! The pilot check read against a plan (`meta-router scenarios check`):
//! each method's learning curve on the pilot's own GS rows
//! ([`crate::dgp::plasmode::pilot_check`]) next to what the plan's study
//! predicts at the same budgets.
//!
//! # Model
//! From the plan's summary, at budget `n` and method `j`:
//! - the planned **EG area** is the trapezoid area over the ρ grid of the
//!   mean `EG(ρ)` curve (the mean of the replicates' areas, by linearity);
//!   its MCSE is bounded by the area of the per-ρ MCSEs (the standard
//!   deviation of a sum is at most the sum of the standard deviations), so
//!   the bound is reported, not the MCSE itself;
//! - the planned **router − baseline** EG-area difference likewise from the
//!   paired `EG(ρ)` differences;
//! - the planned **MSE change** `MSE ψ̂(n) − MSE ψ̂(n_max)` (`n_max` the
//!   check's largest budget) with MCSE `√(s_n² + s_max²)` (the two budgets'
//!   replicates are independent draws).
//!
//! A pilot value **agrees** with the plan when
//! `|pilot − planned| ≤ 2 √(se² + s²)`, `se` the pilot's combined SE (bootstrap and repetitions) and
//! `s` the plan's MCSE (or its bound). Several comparisons are made, so a
//! few disagreements at the 5% level are expected by chance alone.

use std::fmt::Write as _;

use crate::dgp::plasmode::pilot_check::PilotCheck;
use crate::error::{Error, Result};
use crate::realdata::evaluate::Interval;
use crate::study::record::Summary;

use super::format_significant;
use super::plan::{eg_area, find};
use super::tabular::{csv_field, number};

/// Half-width, in combined standard errors, within which a pilot value
/// agrees with the plan.
pub const AGREEMENT_SES: f64 = 2.0;

/// A planned value: the plan's mean and its MCSE (or an upper bound on it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    /// Mean over the plan's replicates.
    pub mean: f64,
    /// Its MCSE, or an upper bound on it (EG areas).
    pub mcse: f64,
}

/// One comparison of the pilot check with the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `eg_area`, `eg_area_difference` or `mse_change`.
    pub quantity: &'static str,
    /// GS rows per fit.
    pub n_gold: usize,
    /// Method label (the router for a difference).
    pub method: String,
    /// The baseline of a difference.
    pub versus: Option<String>,
    /// The pilot's value with its bootstrap interval.
    pub pilot: Interval,
    /// The plan's value at the same budget (`None` without a plan, or when
    /// the plan lacks the budget).
    pub planned: Option<Planned>,
    /// The true scenario's value at the same budget (validation only).
    pub truth: Option<Planned>,
}

impl Line {
    /// Whether the pilot agrees with the plan (`None` without a planned value
    /// or a pilot SE).
    pub fn agrees(&self) -> Option<bool> {
        within(self.pilot, self.planned?)
    }

    /// Whether the pilot agrees with the true scenario's value.
    pub fn agrees_with_truth(&self) -> Option<bool> {
        within(self.pilot, self.truth?)
    }
}

/// `|pilot − expected| ≤ 2 √(se² + s²)` (module docs).
fn within(pilot: Interval, expected: Planned) -> Option<bool> {
    let se = pilot.se?;
    let combined = (se * se + expected.mcse * expected.mcse).sqrt();
    Some((pilot.value - expected.mean).abs() <= AGREEMENT_SES * combined)
}

/// A study's value of `quantity` at budget `n` (module docs): the EG area
/// (or the paired difference's, with `versus`) from the mean `EG(ρ)`
/// curve with the area of the per-ρ MCSEs as the bound, or the change of
/// the MSE of ψ̂ to the budget `largest`.
fn expected(
    summary: &Summary,
    rho: &[f64],
    quantity: &str,
    n: usize,
    method: &str,
    versus: Option<&str>,
    largest: usize,
) -> Option<Planned> {
    if quantity == "mse_change" {
        let mse = |n: usize| {
            let row = find(summary, n as u64, method, None, "mse_psi", None)?;
            Some((row.mean?, row.mcse?))
        };
        let ((a, sa), (c, sc)) = (mse(n)?, mse(largest)?);
        return Some(Planned {
            mean: a - c,
            mcse: (sa * sa + sc * sc).sqrt(),
        });
    }
    let (mean, mcse) = eg_area(summary, rho, n as u64, method, versus)?;
    Some(Planned { mean, mcse })
}

/// The pilot check with the plan's predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct PilotComparison {
    /// The check.
    pub check: PilotCheck,
    /// Every comparison, in table order.
    pub lines: Vec<Line>,
    /// Whether a plan was given.
    pub with_plan: bool,
    /// Whether a true scenario's study was given.
    pub with_truth: bool,
}

impl PilotComparison {
    /// Reads the plan's predictions (when `plan` is given) and, for
    /// validating the check on a scenario whose truth is known, the true
    /// scenario's study at the same budgets (`truth`) next to the check.
    /// Their ρ grids must be the check's.
    pub fn new(check: PilotCheck, plan: Option<&Summary>, truth: Option<&Summary>) -> Result<Self> {
        for (summary, what) in [(plan, "the plan's"), (truth, "the true scenario's study's")] {
            if summary.is_some_and(|s| s.rho != check.options.rho) {
                return Err(Error::param(
                    "rho",
                    format!("{:?}", check.options.rho),
                    format!("the pilot check's usage-ratio grid must be {what}"),
                ));
            }
        }
        let largest = *check.budgets.last().unwrap_or(&0);
        let rho = check.options.rho.clone();
        let mut lines = Vec::new();
        let mut push =
            |quantity: &'static str, n: usize, method: &str, versus: Option<&str>, pilot| {
                let value = |summary: Option<&Summary>| {
                    expected(summary?, &rho, quantity, n, method, versus, largest)
                };
                lines.push(Line {
                    quantity,
                    n_gold: n,
                    method: method.to_string(),
                    versus: versus.map(str::to_string),
                    pilot,
                    planned: value(plan),
                    truth: value(truth),
                });
            };
        for (b, &n) in check.budgets.iter().enumerate() {
            for (j, method) in check.methods.iter().enumerate() {
                push("eg_area", n, method, None, check.points[b][j].eg_area);
            }
        }
        let router = &check.methods[0];
        for (b, &n) in check.budgets.iter().enumerate() {
            for (j, baseline) in check.methods.iter().enumerate().skip(1) {
                push(
                    "eg_area_difference",
                    n,
                    router,
                    Some(baseline),
                    check.differences[b][j - 1],
                );
            }
        }
        for (b, &n) in check
            .budgets
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n != largest)
        {
            for (j, method) in check.methods.iter().enumerate() {
                push("mse_change", n, method, None, check.points[b][j].mse_change);
            }
        }
        Ok(Self {
            check,
            lines,
            with_plan: plan.is_some(),
            with_truth: truth.is_some(),
        })
    }

    /// `(agreeing, compared)`: comparisons with a planned value that agree.
    pub fn tally(&self) -> (usize, usize) {
        count(self.lines.iter().filter_map(Line::agrees))
    }

    /// `(agreeing, compared)` against the true scenario's values.
    pub fn tally_truth(&self) -> (usize, usize) {
        count(self.lines.iter().filter_map(Line::agrees_with_truth))
    }

    /// `pilot_check.md`.
    pub fn markdown(&self) -> String {
        let check = &self.check;
        let o = &check.options;
        let mut out = String::from("# Pilot check\n\n");
        let _ = writeln!(
            out,
            "Each method's learning curve on the pilot's own {} GS rows: for every budget, fits \
             on that many GS rows of {} of {} folds plus all {} PB rows, each held-out fold \
             scored on its own against its GS labels, averaged over {} repetitions of the fold \
             split. Intervals \
             ({}%) combine {} bootstrap resamples of the GS rows with the repetitions' spread; \
             they leave out the pilot's own sampling, so they are on the narrow side. **EG \
             area** is `∫ EG(ρ) dρ` with the labels as gains, unbiased for its value under ψ; \
             **MSE change** is the label MSE at the budget minus at {} GS rows, which \
             estimates the change of the MSE of ψ̂.",
            check.scored,
            o.folds - 1,
            o.folds,
            check.pref_rows,
            o.repeats,
            format_significant(100.0 * o.level, 3),
            o.bootstrap,
            check.budgets.last().copied().unwrap_or(0),
        );
        if self.with_plan {
            let (agree, total) = self.tally();
            let _ = writeln!(
                out,
                "\n**Planned** is the plan's mean over its replicates ± its MCSE (for EG areas, \
                 an upper bound on it). A pilot value **agrees** when it lies within {} combined \
                 standard errors of the planned one: **{agree} of {total} agree**. With a few \
                 hundred GS rows the pilot's intervals are wide; read the check for gross \
                 disagreements, such as gains the plan promises and the pilot does not show.",
                format_significant(AGREEMENT_SES, 2)
            );
        }
        if self.with_truth {
            let (agree, total) = self.tally_truth();
            let _ = writeln!(
                out,
                "\n**True** is the true scenario's study at the same budgets (validation on a \
                 scenario whose truth is known): **{agree} of {total}** pilot values agree with it."
            );
        }
        let sections = [
            ("eg_area", "EG area"),
            (
                "eg_area_difference",
                "The router minus each baseline (EG area)",
            ),
            ("mse_change", "MSE change to the largest budget"),
        ];
        for (quantity, title) in sections {
            let _ = writeln!(out, "\n## {title}\n");
            if !self.lines.iter().any(|l| l.quantity == quantity) {
                let _ = writeln!(out, "(One budget: no change to show.)");
                continue;
            }
            let truth_columns = if self.with_truth {
                " true ± MCSE | agrees with the truth? |"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| n_gold | method | pilot ± SE | {}% interval | planned ± MCSE | pilot − planned | agrees? |{truth_columns}",
                format_significant(100.0 * o.level, 3)
            );
            let _ = writeln!(
                out,
                "|---:|---|---:|---:|---:|---:|---|{}",
                if self.with_truth { "---:|---|" } else { "" }
            );
            for line in self.lines.iter().filter(|l| l.quantity == quantity) {
                let method = match &line.versus {
                    Some(v) => format!("{} − {v}", line.method),
                    None => line.method.clone(),
                };
                let p = line.pilot;
                let pilot = match p.se {
                    Some(se) => format!("{} ± {}", show(p.value), format_significant(se, 2)),
                    None => show(p.value),
                };
                let gap = line.planned.map_or("—".into(), |q| show(p.value - q.mean));
                let mut row = format!(
                    "| {} | {method} | {pilot} | [{}, {}] | {} | {gap} | {} |",
                    line.n_gold,
                    show(p.lower),
                    show(p.upper),
                    expected_cell(line.planned),
                    verdict(line.agrees()),
                );
                if self.with_truth {
                    let _ = write!(
                        row,
                        " {} | {} |",
                        expected_cell(line.truth),
                        verdict(line.agrees_with_truth())
                    );
                }
                let _ = writeln!(out, "{row}");
            }
        }
        out
    }

    /// `pilot_check.csv`: one row per comparison.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "quantity,n_gold,method,versus,pilot,pilot_se,pilot_lower,pilot_upper,planned,planned_mcse,agrees,true,true_mcse,agrees_with_truth\n",
        );
        for line in &self.lines {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                line.quantity,
                line.n_gold,
                csv_field(&line.method),
                line.versus.as_deref().map_or(String::new(), csv_field),
                number(Some(line.pilot.value)),
                number(line.pilot.se),
                number(Some(line.pilot.lower)),
                number(Some(line.pilot.upper)),
                number(line.planned.map(|p| p.mean)),
                number(line.planned.map(|p| p.mcse)),
                line.agrees().map_or(String::new(), |a| a.to_string()),
                number(line.truth.map(|p| p.mean)),
                number(line.truth.map(|p| p.mcse)),
                line.agrees_with_truth()
                    .map_or(String::new(), |a| a.to_string()),
            );
        }
        out
    }
}

/// `(true values, all values)`.
fn count(judged: impl Iterator<Item = bool>) -> (usize, usize) {
    judged.fold((0, 0), |(yes, all), a| (yes + usize::from(a), all + 1))
}

/// `mean ± MCSE`, or a dash.
fn expected_cell(value: Option<Planned>) -> String {
    value.map_or("—".into(), |q| {
        format!("{} ± {}", show(q.mean), format_significant(q.mcse, 2))
    })
}

/// `yes`, `no` or a dash.
fn verdict(agrees: Option<bool>) -> &'static str {
    match agrees {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

/// Four significant digits.
fn show(x: f64) -> String {
    format_significant(x, 4)
}
