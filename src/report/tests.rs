//! Report tests on synthetic summaries.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use super::*;
use crate::error::Error;
use crate::study::record::{Summary, SummaryRow};

const RHO: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
const W: [f64; 4] = [0.0, 0.1, 0.2, 0.3];
const METHODS: [&str; 5] = ["r-learner", "dr-learner", "pooled", "oracle", "random"];

fn grid(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    grid: &BTreeMap<String, serde_json::Value>,
    method: &str,
    metric: &str,
    index: Option<usize>,
    mean: Option<f64>,
    mcse: Option<f64>,
    n: usize,
    failures: usize,
) -> SummaryRow {
    SummaryRow {
        grid: grid.clone(),
        method: method.to_string(),
        versus: None,
        metric: metric.to_string(),
        index,
        rho: None,
        w: None,
        mean,
        mcse,
        n,
        failures,
    }
}

/// Rows for one grid point; `scale` shrinks errors as n_gold grows.
fn point_rows(grid: &BTreeMap<String, serde_json::Value>, scale: f64) -> Vec<SummaryRow> {
    let mut rows = Vec::new();
    for (m, method) in METHODS.iter().enumerate() {
        let reference = matches!(*method, "oracle" | "random");
        // strength of the router: oracle 1, random 0, learners in between.
        let strength = match *method {
            "oracle" => 1.0,
            "random" => 0.0,
            _ => 0.8 - 0.2 * m as f64 * scale,
        };
        let failures = if *method == "pooled" { 1 } else { 0 };
        let n = 20 - failures;
        if !reference {
            rows.push(row(
                grid,
                method,
                "mse_psi",
                None,
                Some(0.012345 * (m + 1) as f64 * scale),
                Some(0.00051 * scale),
                n,
                failures,
            ));
        }
        if matches!(*method, "r-learner" | "dr-learner") {
            rows.push(row(
                grid,
                method,
                "mse_delta",
                None,
                Some(0.02 * scale),
                None,
                n,
                0,
            ));
        }
        if *method == "dr-learner" {
            rows.push(row(
                grid,
                method,
                "coverage_theta",
                None,
                Some(0.95),
                Some(0.0049),
                n,
                0,
            ));
        }
        rows.push(row(
            grid,
            method,
            "neg_area",
            None,
            Some(0.75 * strength),
            Some(0.01 * scale),
            n,
            failures,
        ));
        for (i, &rho) in RHO.iter().enumerate() {
            let shape = rho * (1.0 - rho);
            let se = if reference { None } else { Some(0.004 * scale) };
            // `pooled` has curves cut off at rho = 1 in 5 replicates.
            let n_curve = if *method == "pooled" && i == 4 { 14 } else { n };
            rows.push(row(
                grid,
                method,
                "eg",
                Some(i),
                Some(0.3 * strength * shape),
                se,
                n_curve,
                failures,
            ));
            let neg = if i == 0 || i == 4 {
                0.0
            } else {
                strength * (1.0 - 0.3 * rho)
            };
            rows.push(row(
                grid,
                method,
                "neg",
                Some(i),
                Some(neg),
                se,
                n_curve,
                failures,
            ));
        }
        for (i, &w) in W.iter().enumerate() {
            let regret = if *method == "oracle" {
                0.0
            } else {
                (1.0 - strength) * 0.05 * (1.0 + w)
            };
            let se = if reference { None } else { Some(0.002 * scale) };
            rows.push(row(
                grid,
                method,
                "regret",
                Some(i),
                Some(regret),
                se,
                n,
                failures,
            ));
        }
    }
    // A method whose fits all failed: no means at all.
    rows.push(row(grid, "broken", "mse_psi", None, None, None, 0, 20));
    rows
}

fn synthetic_summary() -> Summary {
    let mut rows = point_rows(&grid(&[("n_gold", json!(100))]), 1.0);
    rows.extend(point_rows(&grid(&[("n_gold", json!(500))]), 0.4));
    Summary {
        format: crate::study::record::SUMMARY_FORMAT.to_string(),
        provenance: Default::default(),
        study: "synthetic".to_string(),
        seed: 7,
        replicates: 20,
        rho: RHO.to_vec(),
        w: W.to_vec(),
        rows,
        warnings: vec![],
        slopes: vec![],
    }
}

#[test]
fn markdown_has_expected_cells_and_no_nan() {
    let md = markdown(&synthetic_summary());
    assert!(!md.contains("NaN") && !md.contains("nan") && !md.contains("inf"));
    assert!(md.contains("## Grid point 1 of 2: n_gold = 100"));
    assert!(md.contains("## Grid point 2 of 2: n_gold = 500"));
    // scalar header includes the extra metric after the standard ones.
    assert!(md.contains("| method | mse_psi | mse_delta | neg_area | coverage_theta |"));
    // r-learner mse_psi at n_gold = 100: 0.012345 ± 0.00051 (20, 0)
    assert!(md.contains("| r-learner | 0.01235 ± 0.00051 (20, 0) | 0.02000 (20, 0) |"));
    // pooled at n_gold = 500: mse 3 * 0.012345 * 0.4 = 0.014814, one failure.
    assert!(md.contains("| pooled | 0.01481 ± 0.00020 (19, 1) | — |"));
    // the all-failed method prints dashes, not NaN.
    assert!(md.contains("| broken | — (0, 20) | — | — | — |"));
    // EG table: oracle at rho = 0.5: 0.3 * 0.25 = 0.075, no MCSE.
    assert!(md.contains("### Efficiency gain EG(ρ)"));
    let eg_row = md
        .lines()
        .find(|l| l.starts_with("| 0.5 |"))
        .expect("rho = 0.5 row");
    assert!(eg_row.contains("| 0.07500 |"), "{eg_row}");
    // cut-off curves flag their smaller n.
    assert!(md.contains("(n = 14)"));
    assert!(md.contains("### Normalized efficiency gain NEG(ρ)"));
    assert!(md.contains("### Regret Reg(w)"));
    // no eg_paper rows in this summary, so no such table.
    assert!(!md.contains("Paper-scale"));
    assert!(md.contains("ρ grid: 0, 0.25, 0.5, 0.75, 1."));
    assert!(md.contains("| 1 | 0 ± 0.0040 | 0 ± 0.0040 | 0 ± 0.0040 (n = 14) | 0 | 0 |"));
}

#[test]
fn markdown_of_empty_summary_is_well_formed() {
    let summary = Summary {
        format: crate::study::record::SUMMARY_FORMAT.to_string(),
        provenance: Default::default(),
        study: "empty".to_string(),
        seed: 1,
        replicates: 0,
        rho: vec![],
        w: vec![],
        rows: vec![],
        warnings: vec![],
        slopes: vec![],
    };
    let md = markdown(&summary);
    assert!(md.contains("_The summary has no rows._"));
    assert!(md.contains("ρ grid: (empty)."));
}

fn check_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 1000, "{} is too small", path.display());
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
}

fn check_svg(path: &Path, must_contain: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.starts_with("<svg"), "{} is not an SVG", path.display());
    assert!(
        text.contains(must_contain),
        "{} lacks {must_contain}",
        path.display()
    );
}

/// Writes the figures into a temporary folder, or into the folder named by
/// `META_ROUTER_FIGURE_DIR` when set (to look at them).
fn out_dir() -> (Option<tempfile::TempDir>, std::path::PathBuf) {
    match std::env::var_os("META_ROUTER_FIGURE_DIR") {
        Some(dir) => (None, dir.into()),
        None => {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("figures");
            (Some(tmp), path)
        }
    }
}

#[test]
fn figures_are_written_as_png_and_svg() {
    let (_guard, dir) = out_dir();
    let paths = figures(&synthetic_summary(), &dir).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "eg_vs_rho.png",
            "eg_vs_rho.svg",
            "neg_vs_rho.png",
            "neg_vs_rho.svg",
            "mse_psi.png",
            "mse_psi.svg",
            "mse_delta.png",
            "mse_delta.svg",
            "regret_vs_w.png",
            "regret_vs_w.svg",
        ]
    );
    for path in &paths {
        assert!(path.starts_with(&dir));
        match path.extension().and_then(|e| e.to_str()) {
            Some("png") => check_png(path),
            _ => check_svg(path, "dr-learner"),
        }
    }
    check_svg(&dir.join("eg_vs_rho.svg"), "n_gold = 500");
    check_svg(&dir.join("mse_psi.svg"), "n_gold");
}

#[test]
fn figures_with_two_varying_parameters_and_categories() {
    // n_gold numeric, learner categorical: x = n_gold, a panel per learner.
    let mut rows = Vec::new();
    for (learner, n_gold, scale) in [
        ("ridge", 100, 1.0),
        ("ridge", 500, 0.5),
        ("forest", 100, 0.8),
        ("forest", 500, 0.3),
    ] {
        rows.extend(point_rows(
            &grid(&[("learner", json!(learner)), ("n_gold", json!(n_gold))]),
            scale,
        ));
    }
    let mut summary = synthetic_summary();
    summary.rows = rows;
    let (_guard, dir) = out_dir();
    let dir = dir.join("two_parameters");
    let paths = figures(&summary, &dir).unwrap();
    assert_eq!(paths.len(), 10);
    check_svg(&dir.join("mse_psi.svg"), "learner = forest");
    check_png(&dir.join("mse_psi.png"));

    // Only a categorical parameter varies: x is categorical.
    let mut rows = point_rows(&grid(&[("scenario", json!("healthbench-like"))]), 1.0);
    rows.extend(point_rows(
        &grid(&[("scenario", json!("prbench-like"))]),
        0.5,
    ));
    summary.rows = rows;
    let dir = dir.join("categorical");
    figures(&summary, &dir).unwrap();
    check_svg(&dir.join("mse_psi.svg"), "prbench-like");

    // A single grid point (nothing varies).
    summary.rows = point_rows(&BTreeMap::new(), 1.0);
    let dir = dir.join("single");
    let paths = figures(&summary, &dir).unwrap();
    assert_eq!(paths.len(), 10);
    check_svg(&dir.join("eg_vs_rho.svg"), "all");
}

#[test]
fn figures_skip_absent_metrics_and_report_io_errors() {
    let mut summary = synthetic_summary();
    summary.rows.retain(|r| r.metric == "mse_psi");
    let tmp = tempfile::tempdir().unwrap();
    let paths = figures(&summary, tmp.path()).unwrap();
    assert_eq!(paths.len(), 2, "only the MSE figure has data: {paths:?}");

    let file = tmp.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    match figures(&synthetic_summary(), &file) {
        Err(Error::Io { path, .. }) => assert!(path.contains("not-a-folder")),
        other => panic!("expected an Io error, got {other:?}"),
    }
}

#[test]
fn control_characters_never_reach_the_svg() {
    let mut summary = synthetic_summary();
    for row in &mut summary.rows {
        if row.method == "dr-learner" {
            row.method = "dr\u{7}learner".into();
        }
        row.grid.insert("tag".into(), json!("a\u{1b}[31mred"));
    }
    summary.study = "bell\u{7}".into();
    let tmp = tempfile::tempdir().unwrap();
    for path in figures(&summary, tmp.path()).unwrap() {
        if path.extension().is_some_and(|e| e == "svg") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r'),
                "{} holds a control character",
                path.display()
            );
        }
    }
}

#[test]
fn the_html_page_holds_every_figure_table_and_claim() {
    let (_guard, dir) = out_dir();
    let summary = synthetic_summary();
    figures(&summary, &dir).unwrap();
    std::fs::write(dir.join("spec.toml"), "name = \"demo <&>\"\n").unwrap();
    let claim = crate::study::claims::ClaimOutcome {
        index: 0,
        statement: "r-learner beats pooled on neg_area".into(),
        note: None,
        grid: grid(&[("n_gold", json!(100))]),
        metric: "neg_area".into(),
        test: crate::study::spec::expect::ClaimTest::Within {
            low: 0.0,
            high: 1.0,
        },
        sigma: 3.0,
        value: Some(0.5),
        mcse: Some(0.01),
        edge_mcse: None,
        n: 20,
        passed: false,
        problem: None,
    };
    let page = html::study_html(&dir, &summary, &[claim]).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Every SVG of the folder inline, declared for the browser test.
    assert_eq!(page.matches("<figure ").count(), 5);
    assert_eq!(page.matches("<svg").count(), 5);
    assert!(page.contains("data-figures=\"5\""));
    // The summary's tables rendered, the claim with its verdict, the spec escaped.
    assert!(page.contains("<table>") && page.contains("<th>method</th>"));
    assert!(page.contains("class=\"fail\">does not hold"));
    assert!(page.contains("name = &quot;demo &lt;&amp;&gt;&quot;"));
    assert!(!page.contains("NaN"));
    assert_eq!(
        html::escape("<a href='x'>&"),
        "&lt;a href=&apos;x&apos;&gt;&amp;"
    );
}
