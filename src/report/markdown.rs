//! `summary.md`: scalar-metric and curve tables per grid point.

use std::fmt::Write;

use super::format::{format_coordinate, format_number, format_significant, MISSING};
use super::view::{metrics_on, View};
use crate::study::record::{Direction, MetricAxis, Summary, SummaryRow, METRICS, SHARE_PREFIX};

/// Renders `summary.md` from a summary.
///
/// For each grid point: a table of scalar metrics (rows = methods, cells
/// `mean ± mcse (n, failures)`), then for each curve metric present (`eg`,
/// `neg`, `eg_paper` over ρ; `regret` over w) a table with one row per grid
/// position and one column per method (cells `mean ± mcse`, followed by
/// `(n = …)` where fewer replicates contributed than at the method's best
/// covered position, e.g. curves cut off before that ρ). Missing values print
/// as `—`; the output never contains `NaN`.
pub fn markdown(summary: &Summary) -> String {
    let view = View::new(summary);
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_document(&mut out, &view);
    out
}

/// The summary's warnings as a bulleted section (nothing when there are none).
fn write_warnings(out: &mut String, warnings: &[String]) -> std::fmt::Result {
    if warnings.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Warnings\n")?;
    for warning in warnings {
        writeln!(out, "- {}", escape(warning))?;
    }
    writeln!(out)
}

fn write_document(out: &mut String, view: &View) -> std::fmt::Result {
    let summary = view.summary;
    writeln!(out, "# Study `{}`: summary\n", escape(&summary.study))?;
    writeln!(
        out,
        "Seed {} · {} replicates per grid point · {} grid point(s) · {} method(s).  ",
        summary.seed,
        summary.replicates,
        view.points.len(),
        view.methods.len()
    )?;
    if !view.is_multi_model() {
        writeln!(out, "ρ grid: {}.  ", grid_list(&summary.rho))?;
    }
    writeln!(out, "w grid: {}.\n", grid_list(&summary.w))?;
    writeln!(
        out,
        "Cells show mean ± Monte Carlo SE; scalar cells add (replicates contributing, failed fits). \
         `—` marks a value that is not available.\n"
    )?;
    write_definitions(out, view.is_multi_model())?;
    write_warnings(out, &summary.warnings)?;
    if view.points.is_empty() {
        writeln!(out, "_The summary has no rows._")?;
        return Ok(());
    }
    write_slopes(out, summary)?;
    let scalars = view.scalar_metrics();
    for point in 0..view.points.len() {
        writeln!(
            out,
            "## Grid point {} of {}: {}\n",
            point + 1,
            view.points.len(),
            escape(&view.point_label(point))
        )?;
        if !scalars.is_empty() {
            writeln!(out, "### Scalar metrics\n")?;
            write!(out, "| method |")?;
            for metric in &scalars {
                write!(out, " {} |", escape(metric))?;
            }
            write!(out, "\n|---|")?;
            for _ in &scalars {
                write!(out, "---:|")?;
            }
            writeln!(out)?;
            for method in &view.methods {
                write!(out, "| {} |", escape(method))?;
                for metric in &scalars {
                    let cell = match view.row(point, method, metric, None) {
                        Some(row) => scalar_cell(row),
                        None => MISSING.to_string(),
                    };
                    write!(out, " {cell} |")?;
                }
                writeln!(out)?;
            }
            writeln!(out)?;
        }
        write_paired(out, view, point)?;
        write_inference(out, view, point)?;
        for metric in metrics_on(MetricAxis::Rho) {
            write_curve(out, view, point, metric, &summary.rho, "ρ")?;
        }
        for metric in metrics_on(MetricAxis::W) {
            write_curve(out, view, point, metric, &summary.w, "w")?;
        }
        write_always(out, view, point)?;
        for metric in view.other_curve_metrics() {
            if metric.starts_with(SHARE_PREFIX) {
                write_curve(out, view, point, metric, &summary.w, "w")?;
            } else {
                write_curve(out, view, point, metric, &[], "index")?;
            }
        }
    }
    Ok(())
}

/// The regret's definition with K models (the two-model one is in `METRICS`).
const MULTI_REGRET: &str = "mean over the test queries of max_k(g_k − w C_k) − (g_a − w C_a) ≥ 0 for the chosen model a = argmax_k(ψ̂_k − w C_k): the gain net of cost lost against the oracle assignment at cost weight w";

/// What every metric of the study's kind (two or several models) means:
/// symbol, units, definition, direction.
fn write_definitions(out: &mut String, multi: bool) -> std::fmt::Result {
    writeln!(out, "### Metrics\n")?;
    writeln!(out, "| metric | symbol | units | better | definition |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    for m in METRICS.iter().filter(|m| m.scope.applies(multi)) {
        let better = match m.direction {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
            Direction::TowardZero => "closer to 0",
            Direction::Neither => "—",
        };
        let over = match m.axis {
            MetricAxis::Scalar => "",
            MetricAxis::Rho => " (at each usage ratio ρ)",
            MetricAxis::W => " (at each cost weight w)",
        };
        let definition = if multi && m.name == "regret" {
            MULTI_REGRET
        } else {
            m.definition
        };
        writeln!(
            out,
            "| `{}` | {} | {} | {better} | {definition}{over} |",
            m.name, m.symbol, m.units
        )?;
    }
    if multi {
        writeln!(
            out,
            "\nWith K models (model 0 the reference, ψ_0 = 0, C_k the cost of model k), the \
             router sends a query to a = argmax_k (ψ̂_k − w C_k); the oracle assignment uses the \
             true ψ_k. `mse_psi` and `mse_delta` average over the non-reference models \
             (`mse_psi:<model>` per model); `share:<model>` is the fraction of test queries \
             sent to a model."
        )?;
    }
    writeln!(
        out,
        "\nTest queries are the replicate's held-out queries; ψ, Δ are the scenario's true \
         functions. Paired differences (`method − reference`) average the difference over the \
         replicates where both methods succeeded, with its own Monte Carlo SE.\n"
    )
}

/// Paired differences of the scalar metrics and the peak of `eg_paper`, one
/// table per reference method.
fn write_paired(out: &mut String, view: &View, point: usize) -> std::fmt::Result {
    let grid = view.points[point];
    let references: Vec<&str> = {
        let mut seen: Vec<&str> = Vec::new();
        for row in &view.summary.rows {
            if let Some(v) = row.versus.as_deref() {
                if &row.grid == grid && !seen.contains(&v) {
                    seen.push(v);
                }
            }
        }
        seen
    };
    let multi = view.is_multi_model();
    let scalars: Vec<&str> = METRICS
        .iter()
        .filter(|m| m.axis == MetricAxis::Scalar && m.scope.applies(multi))
        .map(|m| m.name)
        .collect();
    for reference in references {
        writeln!(
            out,
            "### Paired differences: method − `{}`\n",
            escape(reference)
        )?;
        write!(out, "| method |")?;
        for metric in &scalars {
            write!(out, " Δ {} |", escape(metric))?;
        }
        writeln!(out)?;
        write!(out, "|---|")?;
        for _ in &scalars {
            write!(out, "---:|")?;
        }
        writeln!(out)?;
        for method in view.methods.iter().filter(|m| **m != reference) {
            let cells: Vec<String> = scalars
                .iter()
                .map(|metric| {
                    view.summary
                        .rows
                        .iter()
                        .find(|r| {
                            &r.grid == grid
                                && r.method == *method
                                && r.versus.as_deref() == Some(reference)
                                && r.metric == *metric
                        })
                        .map_or_else(|| MISSING.to_string(), scalar_cell)
                })
                .collect();
            if cells.iter().all(|c| c == MISSING) {
                continue;
            }
            write!(out, "| {} |", escape(method))?;
            for cell in cells {
                write!(out, " {cell} |")?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The inference table of a grid point: one row per (target, method) with
/// bias, empirical SE, model SE, its relative error (%), coverage and mean
/// interval length, each `value ± MCSE`; nothing when no target is present.
fn write_inference(out: &mut String, view: &View, point: usize) -> std::fmt::Result {
    let targets = view.inference_targets();
    if targets.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "### Inference (nominal level in `level`; coverage MCSE √(C(1−C)/R))
"
    )?;
    write_target_population(out, view, point)?;
    writeln!(
        out,
        "| target | method | truth | bias | emp. SE | model SE (RMS) | median SE | rel. error of model SE (%) | coverage | coverage by SE third (low / mid / high) | length | level | n |"
    )?;
    writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for target in targets {
        for method in &view.methods {
            let Some(coverage) = view.row(point, method, &format!("{target}.coverage"), None)
            else {
                continue;
            };
            write!(out, "| {} | {} |", escape(target), escape(method))?;
            for measure in [
                "truth",
                "bias",
                "emp_se",
                "model_se",
                "median_se",
                "se_rel_error",
                "coverage",
                "coverage_by_third",
                "mean_length",
                "level",
            ] {
                if measure == "coverage_by_third" {
                    let thirds: Vec<String> = ["low", "mid", "high"]
                        .iter()
                        .map(|third| {
                            view.row(
                                point,
                                method,
                                &format!("{target}.coverage_{third}_se"),
                                None,
                            )
                            .and_then(|row| row.mean)
                            .map_or(MISSING.to_string(), |c| format!("{c:.3}"))
                        })
                        .collect();
                    write!(out, " {} |", thirds.join(" / "))?;
                    continue;
                }
                let cell = match view.row(point, method, &format!("{target}.{measure}"), None) {
                    Some(row) => match (row.mean, row.mcse) {
                        (Some(m), Some(se)) if measure != "truth" && measure != "level" => {
                            format!(
                                "{} ± {}",
                                format_significant(m, 4),
                                format_significant(se, 2)
                            )
                        }
                        (Some(m), _) => format_significant(m, 4),
                        _ => MISSING.to_string(),
                    },
                    None => MISSING.to_string(),
                };
                write!(out, " {cell} |")?;
            }
            writeln!(out, " {} |", coverage.n)?;
        }
    }
    writeln!(out)
}

/// The target population of the intervals at a grid point, when an overlap
/// region trims it: per method, the mean threshold α and the mean shares
/// of GS and PB training rows inside the region (`overlap.*` metrics).
fn write_target_population(out: &mut String, view: &View, point: usize) -> std::fmt::Result {
    let mut lines = Vec::new();
    for method in &view.methods {
        let mean = |name: &str| {
            view.row(point, method, &format!("overlap.{name}"), None)
                .and_then(|r| r.mean)
        };
        let (Some(alpha), Some(gold), Some(pref)) =
            (mean("alpha"), mean("gold_inside"), mean("pref_inside"))
        else {
            continue;
        };
        if alpha == 0.0 {
            lines.push(format!(
                "- {}: every query (the overlap rule trims nothing)",
                escape(method)
            ));
        } else {
            lines.push(format!(
                "- {}: queries with p̂ ∈ [α, 1 − α], mean α = {}; {:.1}% of the PB and {:.1}% of \
                 the GS training rows inside (means over replicates)",
                escape(method),
                format_significant(alpha, 3),
                100.0 * pref,
                100.0 * gold
            ));
        }
    }
    if !lines.is_empty() {
        writeln!(
            out,
            "Target population of every interval (the overlap region; truths are averages over \
             it):\n"
        )?;
        for line in lines {
            writeln!(out, "{line}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The always-one-model points of a many-model study (nothing otherwise).
fn write_always(out: &mut String, view: &View, point: usize) -> std::fmt::Result {
    let points = view.always_points(point);
    if points.is_empty() {
        return Ok(());
    }
    writeln!(out, "### Always one model\n")?;
    writeln!(
        out,
        "Every test query sent to one model (the same for every method).\n"
    )?;
    writeln!(out, "| model | mean cost | mean gain over the reference |")?;
    writeln!(out, "|---|---:|---:|")?;
    for (model, cost, quality) in points {
        writeln!(
            out,
            "| {} | {} | {} |",
            escape(model),
            mean_mcse(cost),
            mean_mcse(quality)
        )?;
    }
    writeln!(out)
}

fn curve_title(metric: &str) -> String {
    if let Some(model) = metric.strip_prefix(SHARE_PREFIX) {
        return format!("Share of test queries sent to `{}`", escape(model));
    }
    match metric {
        "eg" => "Efficiency gain EG(ρ)".to_string(),
        "neg" => "Normalized efficiency gain NEG(ρ)".to_string(),
        "eg_paper" => "The paper's normalized efficiency gain EG(ρ)/m".to_string(),
        "regret" => "Regret Reg(w)".to_string(),
        "quality" => "Mean gain of the chosen models Q(w)".to_string(),
        "cost" => "Mean cost of the chosen models C(w)".to_string(),
        other => format!("`{}` by position", escape(other)),
    }
}

/// One curve table (rows = grid positions, columns = methods); nothing when
/// the metric has no rows.
fn write_curve(
    out: &mut String,
    view: &View,
    point: usize,
    metric: &str,
    grid: &[f64],
    axis: &str,
) -> std::fmt::Result {
    let Some(max_index) = view.max_index(metric) else {
        return Ok(());
    };
    let methods = view.methods_with(metric);
    let positions = grid.len().max(max_index + 1);
    writeln!(out, "### {}\n", curve_title(metric))?;
    write!(out, "| {axis} |")?;
    for method in &methods {
        write!(out, " {} |", escape(method))?;
    }
    write!(out, "\n|---:|")?;
    for _ in &methods {
        write!(out, "---:|")?;
    }
    writeln!(out)?;
    // Per method, the largest n over positions: positions with fewer
    // contributing replicates are flagged.
    let best_n: Vec<usize> = methods
        .iter()
        .map(|m| {
            (0..positions)
                .filter_map(|i| view.row(point, m, metric, Some(i)))
                .map(|r| r.n)
                .max()
                .unwrap_or(0)
        })
        .collect();
    for i in 0..positions {
        let label = match grid.get(i) {
            Some(&x) => format_coordinate(x, 4),
            None => format!("#{i}"),
        };
        write!(out, "| {label} |")?;
        for (method, &best) in methods.iter().zip(&best_n) {
            let cell = match view.row(point, method, metric, Some(i)) {
                Some(row) => {
                    let mut cell = mean_mcse(row);
                    if row.n < best {
                        cell.push_str(&format!(" (n = {})", row.n));
                    }
                    cell
                }
                None => MISSING.to_string(),
            };
            write!(out, " {cell} |")?;
        }
        writeln!(out)?;
    }
    writeln!(out)
}

/// The convergence slopes (`study::rates`) as one table, before the grid
/// points (nothing when the study fits none).
fn write_slopes(out: &mut String, summary: &Summary) -> std::fmt::Result {
    let Some(first) = summary.slopes.first() else {
        return Ok(());
    };
    writeln!(out, "## Convergence rates\n")?;
    writeln!(
        out,
        "Weighted least-squares slope of log(metric) against log({}) over the grid points, \
         weights (mean/MCSE)²; the SE is inflated by √(χ²/(k − 2)) when the points scatter more \
         than their Monte Carlo error (then the interval uses t with k − 2 degrees of freedom). \
         An excess error is the paired difference `method − versus`.\n",
        escape(&first.against)
    )?;
    writeln!(
        out,
        "| method | versus | other parameters | metric | slope ± SE | interval | points | χ²/(k − 2) |"
    )?;
    writeln!(out, "|---|---|---|---|---:|---:|---:|---:|")?;
    for row in &summary.slopes {
        let others = if row.grid.is_empty() {
            MISSING.to_string()
        } else {
            escape(&super::view::grid_label(&row.grid))
        };
        let df = row.points.saturating_sub(2);
        writeln!(
            out,
            "| {} | {} | {others} | {} | {} ± {} | [{}, {}] | {} | {} |",
            escape(&row.method),
            row.versus.as_deref().map_or(MISSING.to_string(), escape),
            escape(&row.metric),
            format_number(Some(row.slope)),
            format_significant(row.se, 2),
            format_number(Some(row.low)),
            format_number(Some(row.high)),
            row.points,
            if df > 0 {
                format_significant(row.chi2 / df as f64, 3)
            } else {
                MISSING.to_string()
            }
        )?;
    }
    writeln!(out)
}

/// `mean ± mcse` (just `mean` without an MCSE; `—` without a mean).
fn mean_mcse(row: &SummaryRow) -> String {
    match (row.mean.filter(|m| m.is_finite()), row.mcse) {
        (None, _) => MISSING.to_string(),
        (Some(mean), Some(se)) if se.is_finite() => {
            format!(
                "{} ± {}",
                format_number(Some(mean)),
                format_significant(se, 2)
            )
        }
        (Some(mean), _) => format_number(Some(mean)),
    }
}

/// `mean ± mcse (n, failures)`.
fn scalar_cell(row: &SummaryRow) -> String {
    format!("{} ({}, {})", mean_mcse(row), row.n, row.failures)
}

fn grid_list(values: &[f64]) -> String {
    if values.is_empty() {
        return "(empty)".to_string();
    }
    values
        .iter()
        .map(|&x| format_coordinate(x, 4))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text from an input file (a file name, a column or target name) as
/// literal Markdown text: every ASCII punctuation character is
/// backslash-escaped (so no emphasis, link, raw HTML, entity or table cell
/// boundary can come from it) and control characters are written as
/// escapes. Safe in running text and in table cells.
pub(crate) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Text from an input file as a Markdown code span: fenced with one more
/// backtick than its longest run of backticks (a span's content is shown
/// as is, raw HTML included), control characters written as escapes. Not
/// for table cells (a `|` would end the cell); use [`literal`] there.
pub(crate) fn code_span(text: &str) -> String {
    let text: String = text
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || longest > 0 {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Escapes characters that would break a Markdown table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_text_cannot_inject_markdown_or_html() {
        assert_eq!(literal("gold.csv"), "gold\\.csv");
        assert_eq!(literal("<script>|*x*"), "\\<script\\>\\|\\*x\\*");
        assert_eq!(code_span("gold.csv"), "`gold.csv`");
        assert_eq!(code_span("a`b"), "`` a`b ``");
        assert_eq!(code_span("x\n# title"), "`x\\n# title`");
        assert_eq!(code_span("``"), "``` `` ```");
    }
}
