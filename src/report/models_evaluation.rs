//! The report of `meta-router evaluate` for a many-model router: markdown
//! and a long-format CSV (the metrics of [`crate::realdata::evaluate_models`]).

use std::fmt::Write as _;

use super::evaluation::{cell, csv_row};
use super::format::format_number;
use super::markdown::{code_span, literal};
use crate::realdata::evaluate::Interval;
use crate::realdata::evaluate_models::ModelsEvaluation;

/// Where the evaluated numbers came from, for the report's header.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelsSource<'a> {
    /// The router file's name.
    pub model: &'a str,
    /// The test file's name.
    pub test: &'a str,
    /// The gain column of each non-reference model.
    pub gains: &'a [String],
    /// Each model's cost, as given.
    pub costs: &'a [ModelCost<'a>],
}

/// Where a model's cost came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ModelCost<'a> {
    /// A constant (`--costs name=value`), as written.
    Constant(&'a str),
    /// A column of the test file (`--cost-columns name=column`).
    Column(&'a str),
}

/// The markdown report: router, test data and costs; AIQ, the oracle's AIQ
/// and the frontier gap with intervals; quality, cost, regret and the
/// share of each model at every cost weight; always-one-model points.
pub fn models_evaluation_markdown(eval: &ModelsEvaluation, source: &ModelsSource) -> String {
    let mut out = String::new();
    let o = &eval.options;
    let names = &eval.names;
    let _ = writeln!(out, "# Many-model router evaluation\n");
    let _ = writeln!(
        out,
        "- router: {} ({} models, reference {})",
        code_span(source.model),
        names.len(),
        code_span(&names[0])
    );
    let gains: Vec<String> = names[1..]
        .iter()
        .zip(source.gains)
        .map(|(n, c)| format!("{} from {}", code_span(n), code_span(c)))
        .collect();
    let _ = writeln!(
        out,
        "- test: {}, {} queries; gains over the reference: {}",
        code_span(source.test),
        eval.queries,
        gains.join(", ")
    );
    let costs: Vec<String> = names
        .iter()
        .zip(source.costs)
        .map(|(n, c)| match c {
            ModelCost::Constant(v) => format!("{} {}", code_span(n), code_span(v)),
            ModelCost::Column(col) => format!("{} column {}", code_span(n), code_span(col)),
        })
        .collect();
    let _ = writeln!(
        out,
        "- costs: {}; cost range [{}, {}] (always the cheapest, always the dearest model)",
        costs.join(", "),
        format_number(Some(eval.point.cost_range.0)),
        format_number(Some(eval.point.cost_range.1))
    );
    let _ = writeln!(
        out,
        "- intervals: {}",
        if o.bootstrap > 0 {
            format!(
                "{:.0}% normal bootstrap over queries, B = {} (seed {})",
                100.0 * o.level,
                o.bootstrap,
                o.seed
            )
        } else {
            "none (B = 0)".into()
        }
    );
    let _ = writeln!(out, "\n## Summary\n");
    let _ = writeln!(out, "| metric | value [interval] |\n|---|---|");
    let _ = writeln!(out, "| AIQ of the router | {} |", cell(Some(eval.aiq)));
    let _ = writeln!(
        out,
        "| AIQ of the oracle (best assignment by the gains) | {} |",
        cell(Some(eval.oracle_aiq))
    );
    let _ = writeln!(
        out,
        "| frontier gap (oracle − router) | {} |",
        cell(Some(eval.frontier_gap))
    );
    let _ = writeln!(
        out,
        "\nAIQ is the mean of the router's cost–quality frontier (the non-decreasing concave hull \
         of what it reaches as w varies) over the cost range; quality is the mean GS gain over \
         the reference model."
    );
    let _ = writeln!(out, "\n## Against the cost weight w\n");
    let share_heads: Vec<String> = names
        .iter()
        .map(|n| format!("share {}", code_span(n)))
        .collect();
    let _ = writeln!(
        out,
        "| w | quality | cost | regret | {} |\n|---|---|---|---|{}",
        share_heads.join(" | "),
        "---|".repeat(names.len())
    );
    for (i, w) in o.w.iter().enumerate() {
        let shares: Vec<String> = eval.point.shares[i]
            .iter()
            .map(|s| format_number(Some(*s)))
            .collect();
        let _ = writeln!(
            out,
            "| {w} | {} | {} | {} | {} |",
            cell(Some(eval.quality[i])),
            cell(Some(eval.cost[i])),
            cell(Some(eval.regret[i])),
            shares.join(" | ")
        );
    }
    let _ = writeln!(out, "\n## Always one model\n");
    let _ = writeln!(
        out,
        "| model | mean cost | mean gain over the reference |\n|---|---|---|"
    );
    for (name, p) in names.iter().zip(&eval.point.single) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            literal(name),
            format_number(Some(p.cost)),
            format_number(Some(p.quality))
        );
    }
    out
}

/// Long-format CSV `metric,x,value,se,lower,upper`: `aiq`, `oracle_aiq`,
/// `frontier_gap` (x empty); `quality`, `cost`, `regret` and
/// `share:<model>` over w; `frontier_quality` and `oracle_frontier_quality`
/// at their vertices' costs.
pub fn models_evaluation_csv(eval: &ModelsEvaluation) -> String {
    let mut out = String::from("metric,x,value,se,lower,upper\n");
    let point = |v: f64| Interval {
        value: v,
        se: None,
        lower: v,
        upper: v,
    };
    for (name, v) in [
        ("aiq", eval.aiq),
        ("oracle_aiq", eval.oracle_aiq),
        ("frontier_gap", eval.frontier_gap),
    ] {
        csv_row(&mut out, "", name, None, Some(v));
    }
    for (name, curve) in [
        ("quality", &eval.quality),
        ("cost", &eval.cost),
        ("regret", &eval.regret),
    ] {
        for (w, v) in eval.options.w.iter().zip(curve) {
            csv_row(&mut out, "", name, Some(*w), Some(*v));
        }
    }
    for (k, name) in eval.names.iter().enumerate() {
        for (w, shares) in eval.options.w.iter().zip(&eval.point.shares) {
            let metric = super::csv_field(&format!("share:{name}"));
            csv_row(&mut out, "", &metric, Some(*w), Some(point(shares[k])));
        }
    }
    for (name, frontier) in [
        ("frontier_quality", &eval.frontier),
        ("oracle_frontier_quality", &eval.oracle_frontier),
    ] {
        for p in frontier {
            csv_row(&mut out, "", name, Some(p.cost), Some(point(p.quality)));
        }
    }
    out
}
