//! The report of `meta-router evaluate` with several routers: each router's
//! metrics side by side and the paired difference of every pair, as
//! markdown and a long-format CSV.

use std::fmt::Write as _;

use super::evaluation::{cell, csv_row, write_evaluation_rows, write_test_lines};
use super::format::format_number;
use super::markdown::code_span;
use crate::realdata::evaluate::{Comparison, Difference, Interval};
use crate::realdata::RouterFile;

/// Where the compared numbers came from, for the report's header.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonSource<'a> {
    /// The test file's name.
    pub test: &'a str,
    /// Which column gave the gains (`label`, or a true-ψ column).
    pub gains: &'a str,
}

/// Whether an interval lies wholly on one side of 0.
fn excludes_zero(v: &Interval) -> bool {
    v.se.is_some() && (v.lower > 0.0 || v.upper < 0.0)
}

/// A difference with its interval, marked `*` when the interval excludes 0.
fn difference_cell(v: Option<Interval>) -> String {
    match v {
        Some(d) if excludes_zero(&d) => format!("{} *", cell(Some(d))),
        other => cell(other),
    }
}

/// The markdown report: the test data, one row per router (what it is and
/// its summary metrics), then the paired differences of every pair.
pub fn comparison_markdown(
    comparison: &Comparison,
    files: &[&RouterFile],
    source: &ComparisonSource,
) -> String {
    let mut out = String::new();
    let first = &comparison.evaluations[0];
    let _ = writeln!(out, "# Router comparison\n");
    write_test_lines(
        &mut out,
        first,
        source.test,
        source.gains,
        "; every router is scored on the same resamples, so a difference's interval is that \
         of the paired difference",
    );
    write_routers(&mut out, comparison, files);
    write_differences(&mut out, comparison);
    out
}

/// One row per router: its file, method, training rows and summary metrics.
fn write_routers(out: &mut String, comparison: &Comparison, files: &[&RouterFile]) {
    let _ = writeln!(out, "\n## Routers\n");
    let _ = writeln!(
        out,
        "| router | method | GS / PB rows | area under NEG ↑ | mean EG / m over ρ ↑ | mean regret over w ↓ | MSE of ψ̂ ↓ |\n|---|---|---|---|---|---|---|"
    );
    for ((name, eval), file) in comparison
        .names
        .iter()
        .zip(&comparison.evaluations)
        .zip(files)
    {
        let eg: Option<Vec<f64>> = eval.point.eg_paper.iter().copied().collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let _ = writeln!(
            out,
            "| {} | {} | {} / {} | {} | {} | {} | {} |",
            code_span(name),
            file.config.method.name(),
            file.training.gold_rows,
            file.training.pref_rows,
            cell(Some(eval.neg_area)),
            format_number(eg.map(|v| mean(&v))),
            format_number(Some(mean(&eval.point.regret))),
            cell(Some(eval.mse)),
        );
    }
}

/// Every pair's paired differences (first minus second), `*` where the
/// interval excludes 0.
fn write_differences(out: &mut String, comparison: &Comparison) {
    let _ = writeln!(
        out,
        "\n## Paired differences (row router minus column router)\n"
    );
    let _ = writeln!(
        out,
        "`*`: the interval excludes 0. Larger is better for NEG area and EG / m, smaller for \
         regret and MSE. EG / m is the efficiency gain over the random router at usage ratio ρ \
         divided by the test queries' mean gain m; the mean over the ρ and w grids summarises \
         each curve (`comparison.csv` has every ρ and w).\n"
    );
    let _ = writeln!(
        out,
        "| difference | area under NEG | mean EG / m over ρ | mean regret over w | MSE of ψ̂ |\n|---|---|---|---|---|"
    );
    for d in &comparison.differences {
        let _ = writeln!(
            out,
            "| {} − {} | {} | {} | {} | {} |",
            code_span(&comparison.names[d.first]),
            code_span(&comparison.names[d.second]),
            difference_cell(Some(d.neg_area)),
            difference_cell(d.mean_eg_paper),
            difference_cell(Some(d.mean_regret)),
            difference_cell(Some(d.mse)),
        );
    }
}

/// Long-format CSV `router,versus,metric,x,value,se,lower,upper`: each
/// router's rows as in `evaluation.csv` (`versus` empty), then each pair's
/// differences (`router` minus `versus`): `neg_area`, `mse`, `mean_eg_paper`,
/// `mean_regret`, `eg_paper` over ρ and `regret` over w.
pub fn comparison_csv(comparison: &Comparison) -> String {
    let mut out = String::from("router,versus,metric,x,value,se,lower,upper\n");
    let field = |name: &str| super::csv_field(name);
    for (name, eval) in comparison.names.iter().zip(&comparison.evaluations) {
        write_evaluation_rows(&mut out, &format!("{},,", field(name)), eval);
    }
    let o = &comparison.evaluations[0].options;
    for d in &comparison.differences {
        let prefix = format!(
            "{},{},",
            field(&comparison.names[d.first]),
            field(&comparison.names[d.second])
        );
        write_difference_rows(&mut out, &prefix, d, &o.rho, &o.w);
    }
    out
}

fn write_difference_rows(out: &mut String, prefix: &str, d: &Difference, rho: &[f64], w: &[f64]) {
    csv_row(out, prefix, "neg_area", None, Some(d.neg_area));
    csv_row(out, prefix, "mse", None, Some(d.mse));
    csv_row(out, prefix, "mean_eg_paper", None, d.mean_eg_paper);
    csv_row(out, prefix, "mean_regret", None, Some(d.mean_regret));
    for (x, v) in rho.iter().zip(&d.eg_paper) {
        csv_row(out, prefix, "eg_paper", Some(*x), *v);
    }
    for (x, v) in w.iter().zip(&d.regret) {
        csv_row(out, prefix, "regret", Some(*x), Some(*v));
    }
}
