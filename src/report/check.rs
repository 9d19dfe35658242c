//! Reports of `check`: the terminal table, a markdown report and JUnit XML,
//! all rendered from a [`CheckOutcome`].
//!
//! # Algorithm
//! - The terminal and markdown reports list every cell that is not `same`
//!   (worse and missing first), with run and baseline as `mean ± mcse` (a
//!   failure cell as `f of R`), the difference, `z = difference /
//!   √(mcse_run² + mcse_baseline²)` for normal tests, the p-value and the
//!   adjusted p-value the rule compared with its level; then every claim
//!   with its judgement. The terminal lists at most [`TERMINAL_ROWS`] cells.
//! - JUnit XML has one `<testcase>` per cell (a `<failure>` for a worse or
//!   missing cell, `<skipped>` for cells that are new or not judged) in the suite
//!   `<study>: run vs baseline`, and one per claim and grid point (a
//!   `<failure>` when it does not hold) in the suite `<study>: claims`, so CI
//!   systems show each as a test.

use std::fmt::Write;

use super::format::{format_significant, MISSING};
use super::view::grid_label;
use crate::study::check::{Cell, CellKind, CellValue, CheckOutcome, Comparison, Verdict};
use crate::study::claims::{distance, ClaimOutcome};
use crate::study::record::is_coverage;
use crate::study::spec::ClaimTest;

/// Most cells the terminal report lists (the markdown report lists all).
pub const TERMINAL_ROWS: usize = 60;

/// `R` or `R − pooled` for a paired-difference cell.
fn method_label(cell: &Cell) -> String {
    match &cell.versus {
        Some(v) => format!("{} − {v}", cell.method),
        None => cell.method.clone(),
    }
}

/// `mse_psi`, `eg(ρ=0.25)`, `regret(w=0.1)`, `name[3]`.
fn metric_label(cell: &Cell) -> String {
    match (cell.rho, cell.w, cell.index) {
        (Some(rho), _, _) => format!("{}(ρ={rho})", cell.metric),
        (None, Some(w), _) => format!("{}(w={w})", cell.metric),
        (None, None, Some(i)) => format!("{}[{i}]", cell.metric),
        (None, None, None) => cell.metric.clone(),
    }
}

/// `mean ± mcse`, `mean`, `f of R` (failure cells), or `—`.
fn value_label(kind: CellKind, value: Option<&CellValue>) -> String {
    match value {
        None => "(no row)".to_string(),
        Some(v) if kind == CellKind::Failures => format!("{} of {}", v.failures, v.n),
        Some(v) => match (v.mean.filter(|m| m.is_finite()), v.mcse) {
            (None, _) => MISSING.to_string(),
            (Some(m), Some(s)) if s.is_finite() => {
                format!(
                    "{} ± {}",
                    format_significant(m, 4),
                    format_significant(s, 2)
                )
            }
            (Some(m), _) => format_significant(m, 4),
        },
    }
}

/// A p-value: 3 significant digits, `< 1e-300` when it underflows.
fn p_label(p: Option<f64>) -> String {
    match p.filter(|p| p.is_finite()) {
        None => MISSING.to_string(),
        Some(0.0) => "< 1e-300".to_string(),
        Some(p) => format_significant(p, 3),
    }
}

fn signed(x: Option<f64>, digits: usize) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) if x > 0.0 => format!("+{}", format_significant(x, digits)),
        Some(x) => format_significant(x, digits),
        None => MISSING.to_string(),
    }
}

/// The cells to list, worse first, then missing, better, changed, not
/// judged, new (same cells are left out).
fn listed(comparison: &Comparison) -> Vec<&Cell> {
    let mut cells: Vec<&Cell> = comparison
        .cells
        .iter()
        .filter(|c| c.judgement.verdict != Verdict::Same)
        .collect();
    cells.sort_by_key(|c| c.judgement.verdict);
    cells
}

fn counts_line(comparison: &Comparison) -> String {
    let parts: Vec<String> = Verdict::ALL
        .iter()
        .map(|v| format!("{} {}", comparison.count(*v), v.name()))
        .collect();
    format!("{} cells: {}", comparison.cells.len(), parts.join(", "))
}

fn verdict_line(outcome: &CheckOutcome) -> String {
    let claims = if outcome.claims.is_empty() {
        String::new()
    } else {
        format!(
            "; {} of {} claim outcomes hold",
            outcome.claims.len() - outcome.failed_claims(),
            outcome.claims.len()
        )
    };
    let cells = match &outcome.comparison {
        Some(c) => format!(
            "{} cell(s) worse than the baseline, {} missing",
            c.count(Verdict::Worse),
            c.count(Verdict::Missing)
        ),
        None => "claims only (no baseline)".to_string(),
    };
    format!(
        "{}: {cells}{claims}",
        if outcome.passed() { "PASS" } else { "FAIL" }
    )
}

/// Pads `text` to `width` characters (not bytes).
fn pad(text: &str, width: usize) -> String {
    let len = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(len)))
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| pad(cell, w))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

/// The check on the terminal: counts, the cells that differ (at most
/// [`TERMINAL_ROWS`]), the claims, and the verdict.
pub fn check_table(outcome: &CheckOutcome) -> String {
    let mut out = String::new();
    match (&outcome.comparison, &outcome.baseline) {
        (Some(comparison), Some(baseline)) => {
            let _ = writeln!(
                out,
                "check of study `{}`: {} (crate {}) against {} (crate {})",
                outcome.study,
                outcome.run.display(),
                comparison.run_version,
                baseline.display(),
                comparison.baseline_version
            );
            let _ = writeln!(
                out,
                "{} ({} cells tested)",
                comparison.rule.describe(),
                comparison.tested
            );
            let _ = writeln!(out, "{}", counts_line(comparison));
            let cells = listed(comparison);
            if !cells.is_empty() {
                let mut rows = vec![[
                    "verdict", "grid", "method", "metric", "run", "baseline", "diff", "z", "p",
                    "adj. p",
                ]
                .map(String::from)
                .to_vec()];
                rows.extend(cells.iter().take(TERMINAL_ROWS).map(|c| cell_row(c)));
                out.push('\n');
                out.push_str(&table(&rows));
                if cells.len() > TERMINAL_ROWS {
                    let _ = writeln!(
                        out,
                        "  … and {} more (every cell is in the --markdown and --junit reports)",
                        cells.len() - TERMINAL_ROWS
                    );
                }
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "check of study `{}`: {} (claims only, no baseline)",
                outcome.study,
                outcome.run.display()
            );
        }
    }
    if !outcome.claims.is_empty() {
        out.push('\n');
        out.push_str(&claims_table(&outcome.claims));
    }
    let _ = writeln!(out, "\n{}", verdict_line(outcome));
    out
}

fn cell_row(cell: &Cell) -> Vec<String> {
    vec![
        cell.judgement.verdict.name().to_string(),
        grid_label(&cell.grid),
        method_label(cell),
        metric_label(cell),
        value_label(cell.kind, cell.run.as_ref()),
        value_label(cell.kind, cell.baseline.as_ref()),
        signed(cell.judgement.difference, 3),
        signed(cell.judgement.z(), 3),
        p_label(cell.judgement.p_value),
        p_label(cell.judgement.adjusted_p),
    ]
}

/// The numbers a claim was judged on, e.g. `improvement 0.04705 ± 0.0044
/// (n = 20): 0.04705 − 3 × 0.0044 = 0.03396 > margin 0`, or `mean 0.88 ±
/// 0.019 (n = 300): 0.05 below [0.93, 0.97] > 3 × 0.0147 (the MCSE at
/// 0.93)`.
pub fn claim_judgement(claim: &ClaimOutcome) -> String {
    if let Some(problem) = &claim.problem {
        return problem.clone();
    }
    let Some(value) = claim.value else {
        return "no value".to_string();
    };
    let f = |x: f64| format_significant(x, 4);
    let mcse = claim
        .mcse
        .map_or(MISSING.to_string(), |s| format_significant(s, 2));
    match &claim.test {
        ClaimTest::BetterThan { margin, .. } => format!(
            "improvement {} ± {mcse} (n = {}): {} − {} × {mcse} = {} {} margin {}",
            f(value),
            claim.n,
            f(value),
            claim.sigma,
            f(value - claim.sigma * claim.mcse.unwrap_or(0.0)),
            if claim.passed { ">" } else { "≤" },
            margin
        ),
        ClaimTest::Within { low, high } => {
            let (gap, edge) = distance(value, *low, *high);
            let head = format!("mean {} ± {mcse} (n = {})", f(value), claim.n);
            match claim.edge_mcse {
                None => format!("{head}: inside [{low}, {high}]"),
                Some(edge_mcse) => {
                    let side = if value < *low { "below" } else { "above" };
                    let which = if is_coverage(&claim.metric) {
                        format!("the binomial MCSE at {edge}")
                    } else {
                        "its MCSE".to_string()
                    };
                    format!(
                        "{head}: {} {side} [{low}, {high}] {} {} × {} ({which})",
                        format_significant(gap, 3),
                        if claim.passed { "≤" } else { ">" },
                        claim.sigma,
                        format_significant(edge_mcse, 3),
                    )
                }
            }
        }
    }
}

/// Claim outcomes on the terminal: one line each with the judgement below.
pub fn claims_table(claims: &[ClaimOutcome]) -> String {
    let mut out = String::new();
    let failed = claims.iter().filter(|c| !c.passed).count();
    let _ = writeln!(
        out,
        "claims: {} of {} hold",
        claims.len() - failed,
        claims.len()
    );
    for claim in claims {
        let _ = writeln!(
            out,
            "  {}  expect[{}] at {}: {}",
            if claim.passed { "pass" } else { "FAIL" },
            claim.index,
            grid_label(&claim.grid),
            claim.statement
        );
        let _ = writeln!(out, "        {}", claim_judgement(claim));
        if let Some(note) = &claim.note {
            let _ = writeln!(out, "        note: {note}");
        }
    }
    out
}

/// Escapes text for a markdown table cell.
fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The check as a markdown report.
pub fn check_markdown(outcome: &CheckOutcome) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Check of study `{}`\n", md(&outcome.study));
    let _ = writeln!(out, "**{}**\n", md(&verdict_line(outcome)));
    let _ = writeln!(out, "- run: `{}`", md(&outcome.run.display().to_string()));
    if let (Some(comparison), Some(baseline)) = (&outcome.comparison, &outcome.baseline) {
        let _ = writeln!(
            out,
            "- baseline: `{}`\n- crate versions: run {}, baseline {}\n- {} ({} cells tested: \
             metric cells by z = difference / √(mcse_run² + mcse_baseline²), coverage cells by \
             Fisher's exact test, failed fits by the one-sided exact test; a baseline without \
             failed fits tolerates none); worse or better by the metric's direction (coverage: \
             the distance from the nominal level), changed where it has none; cells without an \
             MCSE (n < 2) are compared exactly and, when different, counted as not judged; \
             missing cells fail the check\n",
            md(&baseline.display().to_string()),
            comparison.run_version,
            comparison.baseline_version,
            comparison.rule.describe(),
            comparison.tested
        );
        let _ = writeln!(out, "| verdict | cells |\n|---|---:|");
        for verdict in Verdict::ALL {
            let _ = writeln!(
                out,
                "| {} | {} |",
                verdict.name(),
                comparison.count(verdict)
            );
        }
        let cells = listed(comparison);
        let _ = writeln!(out, "\n## Cells that differ from the baseline\n");
        if cells.is_empty() {
            let _ = writeln!(out, "_None: no cell is flagged._");
        } else {
            let _ = writeln!(
                out,
                "| verdict | grid point | method | metric | run | baseline | difference | z | p | \
                 adj. p |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|"
            );
            for cell in cells {
                let row: Vec<String> = cell_row(cell).iter().map(|c| md(c)).collect();
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
        }
    } else {
        let _ = writeln!(out, "- no baseline: claims only");
    }
    write_claims_markdown(&mut out, outcome);
    out
}

/// The report's claims section: one row per claim and grid point with its
/// result, statement and judgement (or why there are none).
fn write_claims_markdown(out: &mut String, outcome: &CheckOutcome) {
    let _ = writeln!(out, "\n## Claims\n");
    match &outcome.claims_from {
        None => {
            let _ = writeln!(out, "_No spec with claims was found._");
        }
        Some(_) if outcome.claims.is_empty() => {
            let _ = writeln!(out, "_The spec has no `[[expect]]` claims._");
        }
        Some(path) => {
            let _ = writeln!(
                out,
                "From `{}`.\n\n| result | claim | grid point | statement | judgement |\n\
                 |---|---|---|---|---|",
                md(&path.display().to_string())
            );
            for claim in &outcome.claims {
                let _ = writeln!(
                    out,
                    "| {} | expect[{}] | {} | {}{} | {} |",
                    if claim.passed { "pass" } else { "**fail**" },
                    claim.index,
                    md(&grid_label(&claim.grid)),
                    md(&claim.statement),
                    claim
                        .note
                        .as_ref()
                        .map_or(String::new(), |n| format!(" ({})", md(n))),
                    md(&claim_judgement(claim))
                );
            }
        }
    }
}

/// Escapes text for XML (and HTML) attributes and text; drops characters
/// XML 1.0 does not allow.
pub(super) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The check as JUnit XML: one testcase per cell and per claim outcome.
pub fn junit(outcome: &CheckOutcome) -> String {
    let class = xml(&format!("meta_router.check.{}", outcome.study));
    let mut suites = Vec::new();
    if let Some(comparison) = &outcome.comparison {
        suites.push(cell_suite(outcome, comparison, &class));
    }
    if !outcome.claims.is_empty() {
        suites.push(claim_suite(outcome, &class));
    }
    let total: usize = suites.iter().map(|s| s.1).sum();
    let failures: usize = suites.iter().map(|s| s.2).sum();
    let skipped: usize = suites.iter().map(|s| s.3).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"meta-router check\" tests=\"{total}\" failures=\"{failures}\" \
         errors=\"0\" skipped=\"{skipped}\">"
    );
    for (name, tests, failures, skipped, cases) in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
             skipped=\"{skipped}\" time=\"0\">",
            xml(&name)
        );
        out.push_str(&cases);
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// One JUnit test suite: name, tests, failures, skipped, and its testcases
/// as XML lines.
type Suite = (String, usize, usize, usize, String);

/// The suite of the run-vs-baseline cells: worse and missing cells fail,
/// not-judged and new ones are skipped, the rest pass with their detail.
fn cell_suite(outcome: &CheckOutcome, comparison: &Comparison, class: &str) -> Suite {
    let mut cases = String::new();
    let (mut failures, mut skipped) = (0, 0);
    for cell in &comparison.cells {
        let name = format!(
            "{} · {} · {}",
            grid_label(&cell.grid),
            method_label(cell),
            metric_label(cell)
        );
        let detail = format!(
            "run {} vs baseline {}: difference {}, z {}, p {}, adjusted p {}",
            value_label(cell.kind, cell.run.as_ref()),
            value_label(cell.kind, cell.baseline.as_ref()),
            signed(cell.judgement.difference, 4),
            signed(cell.judgement.z(), 3),
            p_label(cell.judgement.p_value),
            p_label(cell.judgement.adjusted_p),
        );
        let verdict = cell.judgement.verdict;
        let body = match verdict {
            Verdict::Worse | Verdict::Missing => {
                failures += 1;
                let what = if verdict == Verdict::Worse {
                    "worse than the baseline"
                } else {
                    "missing from the run"
                };
                format!(
                    "<failure type=\"{}\" message=\"{}\">{}</failure>",
                    verdict.name(),
                    xml(&format!("{what}: {detail}")),
                    xml(&detail)
                )
            }
            Verdict::NotJudged | Verdict::New => {
                skipped += 1;
                format!(
                    "<skipped message=\"{}\"/>",
                    xml(&format!("{}: {detail}", verdict.name()))
                )
            }
            Verdict::Better | Verdict::Changed | Verdict::Same => {
                format!(
                    "<system-out>{}</system-out>",
                    xml(&format!("{}: {detail}", verdict.name()))
                )
            }
        };
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{class}\" name=\"{}\" time=\"0\">{body}</testcase>",
            xml(&name)
        );
    }
    (
        format!("{}: run vs baseline", outcome.study),
        comparison.cells.len(),
        failures,
        skipped,
        cases,
    )
}

/// The suite of the claims: a claim that does not hold fails.
fn claim_suite(outcome: &CheckOutcome, class: &str) -> Suite {
    let mut cases = String::new();
    for claim in &outcome.claims {
        let name = format!(
            "expect[{}] at {}: {}",
            claim.index,
            grid_label(&claim.grid),
            claim.statement
        );
        let body = if claim.passed {
            format!("<system-out>{}</system-out>", xml(&claim_judgement(claim)))
        } else {
            format!(
                "<failure type=\"claim\" message=\"{}\">{}</failure>",
                xml(&format!(
                    "the claim does not hold: {}",
                    claim_judgement(claim)
                )),
                xml(&claim_judgement(claim))
            )
        };
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{class}\" name=\"{}\" time=\"0\">{body}</testcase>",
            xml(&name)
        );
    }
    (
        format!("{}: claims", outcome.study),
        outcome.claims.len(),
        outcome.failed_claims(),
        0,
        cases,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_control_characters_dropped() {
        assert_eq!(
            xml("a<b & \"c\" 'd'>\u{1}e\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;e\n"
        );
    }

    #[test]
    fn missing_values_print_as_a_dash_never_nan() {
        let value = |mean, mcse| {
            value_label(
                CellKind::Metric,
                Some(&CellValue {
                    mean,
                    mcse,
                    n: 3,
                    failures: 0,
                }),
            )
        };
        assert_eq!(value(None, None), MISSING);
        assert_eq!(value(Some(f64::NAN), Some(0.1)), MISSING);
        assert_eq!(value(Some(0.5), None), "0.5000");
        assert_eq!(value(Some(0.5), Some(0.01)), "0.5000 ± 0.010");
        assert_eq!(value_label(CellKind::Metric, None), "(no row)");
        let failures = CellValue {
            mean: Some(0.01),
            mcse: None,
            n: 300,
            failures: 3,
        };
        assert_eq!(value_label(CellKind::Failures, Some(&failures)), "3 of 300");
        assert_eq!(p_label(Some(0.0)), "< 1e-300");
        assert_eq!(p_label(None), MISSING);
        assert_eq!(signed(Some(f64::NAN), 3), MISSING);
        assert_eq!(signed(Some(0.25), 2), "+0.25");
    }
}
