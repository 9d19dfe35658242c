//! Rate studies and perturbed oracles through the study engine: slopes in
//! the summary, slope and bias claims, their validation, thread invariance
//! and `check` of a rate study against itself.

use std::fs;
use std::path::Path;
use std::process::Command;

use meta_router::error::Error;
use meta_router::report;
use meta_router::study::claims::evaluate;
use meta_router::study::record::Summary;
use meta_router::study::spec::StudySpec;
use meta_router::study::{self, RunOptions};

/// The CI theory study at a smaller size: N from 1000 to 8000, 60 replicates.
fn small_spec() -> String {
    include_str!("../simulations/theory/ci.toml")
        .replace("replicates = 200", "replicates = 60")
        .replace(
            "n = [2000, 4000, 8000, 16000]",
            "n = [1000, 2000, 4000, 8000]",
        )
}

fn run(spec: &StudySpec, dir: &Path, threads: usize) -> Summary {
    let mut outcome = study::run(
        spec,
        &RunOptions {
            out: dir.to_path_buf(),
            threads: Some(threads),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let files = report::publish(&outcome.summary, dir).unwrap();
    outcome.publish(&files).unwrap();
    outcome.summary.clone()
}

/// The slopes of a small rate study: one per method and metric (and the
/// excess rows against `DR exact`), the least-squares R-learner's MSE slope
/// near −1, the perturbed DR's bias slope near −(a + b) = −1/2, both claims
/// judged and holding; the records and summary do not depend on the thread
/// count; the figures and the markdown section exist; `check` of the run
/// against itself passes.
#[test]
fn a_rate_study_fits_slopes_judges_its_claims_and_checks_against_itself() {
    let spec = StudySpec::parse(&small_spec(), "ci.toml").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let one = run(&spec, &tmp.path().join("one"), 1);
    let two = run(&spec, &tmp.path().join("two"), 2);
    assert_eq!(one, two, "the summary depends on the thread count");
    assert_eq!(
        fs::read(tmp.path().join("one/replicates.jsonl")).unwrap(),
        fs::read(tmp.path().join("two/replicates.jsonl")).unwrap()
    );
    let slope = |method: &str, versus: Option<&str>, metric: &str| {
        one.slopes
            .iter()
            .find(|s| s.method == method && s.versus.as_deref() == versus && s.metric == metric)
            .unwrap_or_else(|| panic!("no slope {method} {versus:?} {metric}"))
            .clone()
    };
    let r = slope("R exact", None, "mse_delta");
    assert_eq!((r.points, r.against.as_str()), (4, "n"));
    assert!(r.grid.is_empty());
    assert!(
        (r.slope + 1.0).abs() < 4.0 * r.se + 0.05,
        "{} ± {}",
        r.slope,
        r.se
    );
    assert!(r.low < r.slope && r.slope < r.high);
    let bias = slope("DR a=0.25 b=0.25", None, "delta_bias");
    assert!(
        (bias.slope + 0.5).abs() < 4.0 * bias.se + 0.05,
        "{} ± {}",
        bias.slope,
        bias.se
    );
    // The exact oracles have no bias metric; the perturbed DR has an excess row.
    assert!(!one
        .slopes
        .iter()
        .any(|s| s.metric == "delta_bias" && s.method != "DR a=0.25 b=0.25"));
    slope("DR a=0.25 b=0.25", Some("DR exact"), "mse_delta");
    // The perturbed method records its error sizes: 2·N^(−1/4) each.
    let product = one
        .rows
        .iter()
        .find(|r| r.metric == "nuisance_error.product" && r.grid["n"] == serde_json::json!(1000))
        .and_then(|r| r.mean)
        .unwrap();
    assert!((product - 4.0 / 1000f64.sqrt()).abs() < 1e-12, "{product}");
    let outcomes = evaluate(&spec.claims, &one);
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        assert!(outcome.problem.is_none(), "{outcome:?}");
        assert!(outcome.passed, "{outcome:?}");
    }
    // Reports: the rate figures, the error-product figure, the markdown section.
    let dir = tmp.path().join("one");
    for stem in [
        "rate_mse_delta",
        "rate_delta_bias",
        "excess_mse_delta",
        "error_product",
    ] {
        assert!(dir.join(format!("{stem}.svg")).is_file(), "{stem}");
    }
    let markdown = fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(markdown.contains("## Convergence rates"));
    assert!(!markdown.contains("NaN"));
    // `check` against itself: every cell equal, both claims hold.
    let status = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(["check"])
        .arg(&dir)
        .arg("--baseline")
        .arg(tmp.path().join("two"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(0), "{text}");
    assert!(text.contains("2 of 2"), "{text}");
}

/// A slope that contradicts the data fails its claim (so the claims above can fail).
#[test]
fn a_wrong_slope_claim_fails() {
    let text = small_spec().replace(
        "metric = \"mse_delta.slope\"\nwithin = [-1.1, -0.9]",
        "metric = \"mse_delta.slope\"\nwithin = [-0.6, -0.4]",
    );
    let spec = StudySpec::parse(&text, "ci.toml").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let summary = run(&spec, tmp.path(), 2);
    let outcomes = evaluate(&spec.claims, &summary);
    assert!(!outcomes[0].passed, "{:?}", outcomes[0]);
    assert!(outcomes[1].passed);
}

fn spec_error(text: &str) -> (Option<String>, Option<usize>, String) {
    match StudySpec::parse(text, "t.toml") {
        Err(e @ Error::Core(meta_router_core::Error::Config { .. })) => {
            let message = e.to_string();
            match e {
                Error::Core(meta_router_core::Error::Config { key, line, .. }) => {
                    (key, line, message)
                }
                _ => unreachable!(),
            }
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Bad rate keys, slope claims and perturbed oracles are refused with the key
/// and its line.
#[test]
fn bad_rate_settings_and_slope_claims_are_refused_with_key_and_line() {
    let base = small_spec();
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            base.replace("rate = \"n\"", "rate = \"sigma\""),
            "evaluation.rate",
            "rate = \"sigma\"",
            "not a grid parameter",
        ),
        (
            base.replace("n = [1000, 2000, 4000, 8000]", "n = [1000, 2000]"),
            "evaluation.rate",
            "rate = \"n\"",
            "at least 3",
        ),
        (
            base.replace("rate = \"n\"\n", ""),
            "expect[0].metric",
            "metric = \"mse_delta.slope\"",
            "[evaluation] rate",
        ),
        (
            base.replace(
                "metric = \"mse_delta.slope\"",
                "metric = \"mse_delta\"\nversus = \"DR exact\"",
            ),
            "expect[0].versus",
            "versus = \"DR exact\"",
            "slope",
        ),
        (
            base.replace(
                "metric = \"mse_delta.slope\"",
                "metric = \"neg_area.slope\"",
            ),
            "expect[0].metric",
            "neg_area.slope",
            "mse_delta.slope",
        ),
        (
            base.replace(
                "method = \"R exact\"\nmetric = \"mse_delta.slope\"",
                "method = \"R exact\"\nmetric = \"delta_bias.slope\"",
            ),
            "expect[0].metric",
            "delta_bias.slope",
            "oracle_error",
        ),
        (
            base.replace(
                "metric = \"mse_delta.slope\"\nwithin = [-1.1, -0.9]",
                "metric = \"mse_delta.slope\"\nwithin = [-1.1, -0.9]\ngrid = { n = 1000 }",
            ),
            "expect[0].grid.n",
            "grid = { n = 1000 }",
            "runs across `n`",
        ),
        (
            base.replace(
                "metric = \"delta_bias.slope\"",
                "metric = \"delta_bias.slope\"\nversus = \"DR exact\"",
            ),
            "expect[1].versus",
            "versus = \"DR exact\"",
            "no paired-difference rows",
        ),
        (
            base.replace(
                "propensity = 2.0, propensity_rate = 0.25 }",
                "propensity = 2.0, propensity_rate = -0.25 }",
            ),
            "methods[2].oracle_error.propensity_rate",
            "propensity_rate = -0.25",
            "decay exponent",
        ),
    ];
    for (text, key, needle, words) in cases {
        let (got_key, line, message) = spec_error(&text);
        assert_eq!(got_key.as_deref(), Some(key), "{message}");
        assert_eq!(line, Some(line_of(&text, needle)), "{message}");
        assert!(message.contains(words), "{message}");
    }
    // A perturbation without oracle nuisances.
    let text = base.replacen("nuisances = \"oracle\"\nclip = 0.01\nlearner = { type = \"ridge\", basis = \"linear\", penalty = 0.0 }\noracle_error", "clip = 0.01\nlearner = { type = \"ridge\", basis = \"linear\", penalty = 0.0 }\noracle_error", 1);
    assert_ne!(text, base);
    let (key, _, message) = spec_error(&text);
    assert_eq!(key.as_deref(), Some("methods[2].oracle_error"), "{message}");
}

/// The perturbation's decay exponents can be swept like any method setting:
/// the variants equal the hand-written perturbed methods, replicate by
/// replicate.
#[test]
fn the_perturbation_rates_can_be_swept() {
    let hand = small_spec().replace("replicates = 60", "replicates = 3");
    let swept = hand.replacen(
        "label = \"DR a=0.25 b=0.25\"",
        "label = \"DR\"\nsweep = { \"oracle_error.outcome_rate\" = [0.25, 0.5], \"oracle_error.propensity_rate\" = [0.25] }",
        1,
    );
    let i = swept.find("[[expect]]").unwrap();
    let swept = swept[..i].to_string();
    let spec = StudySpec::parse(&swept, "swept.toml").unwrap();
    let labels = spec.method_labels();
    assert_eq!(
        labels[2..],
        [
            "DR oracle_error.outcome_rate=0.25 oracle_error.propensity_rate=0.25",
            "DR oracle_error.outcome_rate=0.5 oracle_error.propensity_rate=0.25",
        ]
    );
    let tmp = tempfile::tempdir().unwrap();
    let swept_summary = run(&spec, &tmp.path().join("swept"), 2);
    let hand_spec =
        StudySpec::parse(&hand[..hand.find("[[expect]]").unwrap()], "hand.toml").unwrap();
    let hand_summary = run(&hand_spec, &tmp.path().join("hand"), 2);
    let value = |summary: &Summary, method: &str, metric: &str, n: i64| {
        summary
            .rows
            .iter()
            .find(|r| {
                r.method == method
                    && r.metric == metric
                    && r.versus.is_none()
                    && r.grid["n"] == serde_json::json!(n)
            })
            .and_then(|r| r.mean)
            .unwrap()
    };
    for n in [1000, 8000] {
        for metric in ["mse_delta", "delta_bias", "nuisance_error.product"] {
            assert_eq!(
                value(&swept_summary, &labels[2], metric, n),
                value(&hand_summary, "DR a=0.25 b=0.25", metric, n),
                "{metric} at n = {n}"
            );
        }
    }
    // The faster-decaying outcome error leaves a smaller bias at the same N.
    assert!(
        value(&swept_summary, &labels[3], "nuisance_error.product", 8000)
            < value(&swept_summary, &labels[2], "nuisance_error.product", 8000)
    );
}

/// `simulations/theory/lemma1.toml` at a small size without its claims and
/// its forest: γ = 1, N from 500 to 4000, 40 replicates.
fn small_lemma1(flag: bool) -> String {
    let text = include_str!("../simulations/theory/lemma1.toml");
    let text = &text[..text.find("[[expect]]").unwrap()];
    let text = &text[..text
        .find("[[methods]]\nlabel = \"forest propensity\"")
        .unwrap()];
    let mut text = text.to_string();
    for (from, to) in [
        ("replicates = 200", "replicates = 40"),
        ("gamma = [0.5, 1.0]", "gamma = [1.0]"),
        (
            "n = [250, 500, 1000, 2000, 4000, 8000, 16000]",
            "n = [500, 1000, 2000, 4000]",
        ),
    ] {
        assert!(text.contains(from), "lemma1.toml no longer has `{from}`");
        text = text.replace(from, to);
    }
    if flag {
        text
    } else {
        text.replace("propensity_error = true\n", "")
    }
}

/// Lemma 1 through the study engine: with `propensity_error` every R/DR
/// record carries `propensity_mse` (and nothing else changes); the
/// well-specified logistic propensity converges to the lemma's p at about
/// N^-1 while the constant κ stays at Var p(s) (0.009349 at γ = 1, κ = 0.1,
/// a one-dimensional integral); claims on it need the flag.
#[test]
fn the_propensity_error_follows_lemma_1() {
    let tmp = tempfile::tempdir().unwrap();
    let with = StudySpec::parse(&small_lemma1(true), "lemma1.toml").unwrap();
    let without = StudySpec::parse(&small_lemma1(false), "lemma1.toml").unwrap();
    let summary = run(&with, &tmp.path().join("with"), 2);
    run(&without, &tmp.path().join("without"), 2);
    let records = |dir: &str| -> Vec<serde_json::Value> {
        fs::read_to_string(tmp.path().join(dir).join("replicates.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (mut flagged, plain) = (records("with"), records("without"));
    assert_eq!(flagged.len(), plain.len());
    for record in &mut flagged {
        let extra = record["metrics"]["extra"].as_object_mut().unwrap();
        let error = extra
            .remove("propensity_mse")
            .expect("propensity_mse recorded");
        assert!(error.as_f64().unwrap() > 0.0);
        if extra.is_empty() {
            record["metrics"].as_object_mut().unwrap().remove("extra");
        }
    }
    assert_eq!(
        flagged, plain,
        "the flag changed more than the extra metric"
    );
    let slope = |method: &str| {
        summary
            .slopes
            .iter()
            .find(|s| s.method == method && s.metric == "propensity_mse")
            .unwrap_or_else(|| panic!("no slope for {method}"))
            .clone()
    };
    let logistic = slope("logistic propensity");
    assert!(
        (logistic.slope + 1.0).abs() < 0.2,
        "logistic slope {} ± {}",
        logistic.slope,
        logistic.se
    );
    let constant = slope("constant propensity");
    assert!(
        constant.slope.abs() < 0.1,
        "constant slope {}",
        constant.slope
    );
    for row in summary
        .rows
        .iter()
        .filter(|r| r.method == "constant propensity" && r.metric == "propensity_mse")
    {
        let (mean, mcse) = (row.mean.unwrap(), row.mcse.unwrap());
        assert!(
            (mean - 0.009349).abs() < 4.0 * mcse + 2e-4,
            "{mean} ± {mcse}"
        );
    }
    // A claim on it needs the flag; it has no paired rows.
    let claim = "\n[[expect]]\nmethod = \"logistic propensity\"\nmetric = \"propensity_mse.slope\"\nwithin = [-1.1, -0.9]\n";
    let text = small_lemma1(false) + claim;
    let (key, line, message) = spec_error(&text);
    assert_eq!(key.as_deref(), Some("expect[0].metric"), "{message}");
    assert_eq!(
        line,
        Some(line_of(&text, "metric = \"propensity_mse.slope\""))
    );
    assert!(message.contains("propensity_error"), "{message}");
    // The plain metric too, with the reason.
    let plain = claim.replace("propensity_mse.slope", "propensity_mse");
    let text = small_lemma1(false) + &plain;
    let (key, _, message) = spec_error(&text);
    assert_eq!(key.as_deref(), Some("expect[0].metric"), "{message}");
    assert!(message.contains("propensity_error"), "{message}");
    let text = small_lemma1(true) + claim + "versus = \"constant propensity\"\n";
    let (key, _, message) = spec_error(&text);
    assert_eq!(key.as_deref(), Some("expect[0].versus"), "{message}");
    StudySpec::parse(&(small_lemma1(true) + claim), "lemma1.toml").unwrap();
}
