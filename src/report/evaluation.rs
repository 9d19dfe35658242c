//! The report of `meta-router evaluate`: markdown and a long-format CSV.

use std::fmt::Write as _;

use super::format::format_number;
use super::markdown::{code_span, literal};
use crate::realdata::evaluate::{Evaluation, Interval};
use crate::realdata::RouterFile;

/// Where the evaluated numbers came from, for the report's header.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationSource<'a> {
    /// The router file's name.
    pub model: &'a str,
    /// The test file's name.
    pub test: &'a str,
    /// Which column gave the gains (`label`, or a true-ψ column).
    pub gains: &'a str,
}

/// A value with its interval, `value [lower, upper]` (`—` when missing).
pub(super) fn cell(v: Option<Interval>) -> String {
    match v {
        None => "—".into(),
        Some(v) => match v.se {
            Some(_) => format!(
                "{} [{}, {}]",
                format_number(Some(v.value)),
                format_number(Some(v.lower)),
                format_number(Some(v.upper))
            ),
            None => format_number(Some(v.value)),
        },
    }
}

/// The markdown report: the router, the test data, the routing metrics with
/// intervals and, for DR-learner routers, the inference stored at fit time.
pub fn evaluation_markdown(
    eval: &Evaluation,
    file: &RouterFile,
    source: &EvaluationSource,
) -> String {
    let mut out = String::new();
    let o = &eval.options;
    write_header(&mut out, eval, file, source);
    let _ = writeln!(out, "\n## Summary\n");
    let _ = writeln!(out, "| metric | value [interval] |\n|---|---|");
    let _ = writeln!(out, "| area under NEG | {} |", cell(Some(eval.neg_area)));
    let _ = writeln!(
        out,
        "| MSE of ψ̂ against the gains | {} |",
        cell(Some(eval.mse))
    );
    if let Some((i, best)) = eval
        .eg
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .max_by(|a, b| a.1.value.total_cmp(&b.1.value))
    {
        let _ = writeln!(
            out,
            "| peak EG (at ρ = {}) | {} |",
            o.rho[i],
            cell(Some(best))
        );
    }
    let _ = writeln!(out, "\n## Against the usage ratio ρ\n");
    let _ = writeln!(out, "| ρ | EG | NEG | EG / mean gain |\n|---|---|---|---|");
    for (i, rho) in o.rho.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {rho} | {} | {} | {} |",
            cell(eval.eg[i]),
            cell(eval.neg[i]),
            cell(eval.eg_paper[i])
        );
    }
    let _ = writeln!(out, "\n## Against the cost weight w\n");
    let _ = writeln!(
        out,
        "| w | share sent to the primary model | regret |\n|---|---|---|"
    );
    for (i, w) in o.w.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {w} | {} | {} |",
            format_number(Some(eval.usage[i])),
            cell(Some(eval.regret[i]))
        );
    }
    write_inference(&mut out, file);
    out
}

/// The report's title and its router, test-data and cost lines.
fn write_header(out: &mut String, eval: &Evaluation, file: &RouterFile, source: &EvaluationSource) {
    let _ = writeln!(out, "# Router evaluation\n");
    // Names from the command line and the router file are input: code spans
    // (shown as is, never interpreted as Markdown or HTML).
    let _ = writeln!(
        out,
        "- router: {} ({}, {} features, fitted on {} GS rows of {} and {} PB rows of {}, seed {})",
        code_span(source.model),
        file.config.method.name(),
        file.features.len(),
        file.training.gold_rows,
        code_span(&file.training.gold_file),
        file.training.pref_rows,
        code_span(&file.training.pref_file),
        file.seed
    );
    write_test_lines(out, eval, source.test, source.gains, "");
}

/// The report's test-data line and its costs-and-intervals line (`note`
/// follows the bootstrap's description).
pub(super) fn write_test_lines(
    out: &mut String,
    eval: &Evaluation,
    test: &str,
    gains: &str,
    note: &str,
) {
    let o = &eval.options;
    let _ = writeln!(
        out,
        "- test: {}, {} queries; gains from column {} (mean gain {})",
        code_span(test),
        eval.queries,
        code_span(gains),
        format_number(Some(eval.mean_gain))
    );
    let _ = writeln!(
        out,
        "- costs: primary {}, alternative {}; intervals: {}",
        o.costs.0,
        o.costs.1,
        if o.bootstrap > 0 {
            format!(
                "{:.0}% normal bootstrap, B = {} (seed {}){note}",
                100.0 * o.level,
                o.bootstrap,
                o.seed
            )
        } else {
            "none (B = 0)".into()
        }
    );
}

/// The inference stored at fit time (AIPW estimates with intervals), or
/// why none is stored.
fn write_inference(out: &mut String, file: &RouterFile) {
    let _ = writeln!(out, "\n## Inference from the fit\n");
    match &file.inference {
        Some(inference) => {
            let _ = writeln!(
                out,
                "AIPW estimates from the DR-learner's cross-fitted nuisances on the training data, {:.0}% intervals:\n",
                100.0 * inference.level
            );
            if let Some(line) = target_population(inference) {
                let _ = writeln!(out, "{line}\n");
            }
            let _ = writeln!(
                out,
                "| target | estimate | SE | interval |\n|---|---|---|---|"
            );
            for e in inference.means.iter().chain(&inference.projection) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | [{}, {}] |",
                    literal(&e.target),
                    format_number(Some(e.estimate)),
                    format_number(Some(e.se)),
                    format_number(Some(e.lower)),
                    format_number(Some(e.upper))
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "None stored: inference needs a DR-learner router fitted without sample weights, with `normalize = \"none\"`, `cross_fit = true` and `outcome_oob = false` (the defaults)."
            );
        }
    }
}

/// Long-format CSV: `metric,x,value,se,lower,upper` (`eg`, `neg`,
/// `eg_paper` over ρ; `regret`, `usage` over w; `neg_area`, `mse` with x
/// empty). Undefined values are empty cells.
pub fn evaluation_csv(eval: &Evaluation) -> String {
    let mut out = String::from("metric,x,value,se,lower,upper\n");
    write_evaluation_rows(&mut out, "", eval);
    out
}

/// One CSV row `{prefix}{metric},x,value,se,lower,upper` (empty cells for
/// what is missing).
pub(super) fn csv_row(
    out: &mut String,
    prefix: &str,
    metric: &str,
    x: Option<f64>,
    v: Option<Interval>,
) {
    // Shortest round-trip text; a signed zero is written `0`; a value that is
    // not finite is an empty cell (results never hold NaN).
    let num = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map_or(String::new(), |v| (v + 0.0).to_string())
    };
    let _ = writeln!(
        out,
        "{prefix}{metric},{},{},{},{},{}",
        num(x),
        num(v.map(|v| v.value)),
        num(v.and_then(|v| v.se)),
        num(v.map(|v| v.lower)),
        num(v.map(|v| v.upper))
    );
}

/// The rows of [`evaluation_csv`], each after `prefix`.
pub(super) fn write_evaluation_rows(out: &mut String, prefix: &str, eval: &Evaluation) {
    let mut row = |metric: &str, x: Option<f64>, v: Option<Interval>| {
        csv_row(out, prefix, metric, x, v);
    };
    let o = &eval.options;
    for (name, curve) in [
        ("eg", &eval.eg),
        ("neg", &eval.neg),
        ("eg_paper", &eval.eg_paper),
    ] {
        for (rho, v) in o.rho.iter().zip(curve) {
            row(name, Some(*rho), *v);
        }
    }
    for (w, v) in o.w.iter().zip(&eval.regret) {
        row("regret", Some(*w), Some(*v));
    }
    for (w, u) in o.w.iter().zip(&eval.usage) {
        row(
            "usage",
            Some(*w),
            Some(Interval {
                value: *u,
                se: None,
                lower: *u,
                upper: *u,
            }),
        );
    }
    row("neg_area", None, Some(eval.neg_area));
    row("mse", None, Some(eval.mse));
}

/// One sentence naming the target population of a fit's intervals (the
/// overlap region, with its threshold and the shares of training rows
/// inside), or `None` for files written before it was recorded.
pub fn target_population(
    inference: &crate::realdata::model_file::SavedInference,
) -> Option<String> {
    let overlap = inference.overlap.as_ref()?;
    Some(if overlap.alpha == 0.0 {
        format!(
            "target population: every query (overlap rule `{}` trims nothing)",
            overlap.rule
        )
    } else {
        format!(
            "target population: the overlap region p̂ ∈ [{:.4}, {:.4}] (rule `{}`), {:.1}% of the \
             PB and {:.1}% of the GS training rows; outside it GS queries are too rare for \
             reliable intervals",
            overlap.alpha,
            1.0 - overlap.alpha,
            overlap.rule,
            100.0 * overlap.pref_inside,
            100.0 * overlap.gold_inside
        )
    })
}
