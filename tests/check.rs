//! `check` and claims end to end: a baseline against itself, a run with one
//! estimator perturbed on purpose, a run with fit failures injected, a run
//! that lost cells, a coverage that left its claimed range, claims that hold
//! and fail, spec errors of bad claims, inputs that cannot be compared
//! (exit 2), JUnit XML, and the CSV files for pandas and R.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use meta_router::error::Error;
use meta_router::report;
use meta_router::study::check::{self, CellKind, Rule, Verdict};
use meta_router::study::claims;
use meta_router::study::record::{MetricAxis, Summary, SummaryRow};
use meta_router::study::spec::{Claim, ClaimTest, StudySpec};
use meta_router::study::{self, read_records, RunOptions, TestingPerturbation};

const SPEC: &str = r#"
name = "guard"
seed = 5
replicates = 8

[scenario]
name = "healthbench-like"
pool = 900
n_test = 200

[grid]
n_gold = [60, 120]

[evaluation]
rho = [0.0, 0.25, 0.5, 0.75, 1.0]
w = [0.0, 0.1]

[[methods]]
label = "R"
method = "r-learner"
folds = 3
learner = { type = "ridge", basis = "linear" }

[[methods]]
label = "DR"
method = "dr-learner"
folds = 3
learner = { type = "ridge", basis = "linear" }

[[methods]]
label = "pooled"
method = "pooled"
learner = { type = "ridge", basis = "linear" }

[[methods]]
label = "gs-only"
method = "gs-only"
learner = { type = "ridge", basis = "linear" }

[[expect]]
method = "R"
better_than = "pooled"
metric = "mse_psi"
"#;

/// Runs `spec` into `dir` (with an optional perturbation) and publishes its reports.
fn run_into(spec: &str, dir: &Path, perturbation: Option<TestingPerturbation>) -> Summary {
    let spec = StudySpec::parse(spec, "guard.toml").unwrap();
    let mut outcome = study::run(
        &spec,
        &RunOptions {
            out: dir.to_path_buf(),
            threads: Some(2),
            testing_perturbation: perturbation,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let files = report::publish(&outcome.summary, dir).unwrap();
    outcome.publish(&files).unwrap();
    outcome.summary.clone()
}

fn binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Testcases, failures and skips of a JUnit file (which must be well formed).
fn junit_counts(file: &Path) -> (usize, usize, usize) {
    let text = fs::read_to_string(file).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let count = |tag: &str| doc.descendants().filter(|n| n.has_tag_name(tag)).count();
    let (cases, failures, skipped) = (count("testcase"), count("failure"), count("skipped"));
    assert_eq!(root.attribute("tests"), Some(cases.to_string().as_str()));
    assert_eq!(
        root.attribute("failures"),
        Some(failures.to_string().as_str())
    );
    (cases, failures, skipped)
}

/// A baseline against itself: every cell is the same, the claim holds, exit 0;
/// then a run whose R-learner's ψ̂ is shifted by 0.5 fails on exactly R's
/// cells that the shift changes.
#[test]
fn a_baseline_passes_against_itself_and_a_perturbed_estimator_fails_on_its_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, bad) = (tmp.path().join("base"), tmp.path().join("bad"));
    let summary = run_into(SPEC, &base, None);

    let same = check::check(&base, Some(&base), None, Rule::default()).unwrap();
    let comparison = same.comparison.as_ref().unwrap();
    // One cell per summary row and one failure cell per grid point and method.
    let cells = summary.rows.len() + 2 * 4;
    assert_eq!(comparison.cells.len(), cells);
    assert_eq!(comparison.count(Verdict::Same), cells);
    assert_eq!(
        comparison
            .cells
            .iter()
            .filter(|c| c.kind == CellKind::Failures)
            .count(),
        8
    );
    assert_eq!(same.claims.len(), 2, "one claim at two grid points");
    assert!(same.passed());
    let junit = tmp.path().join("same.xml");
    let out = binary(&[
        "check",
        path(&base),
        "--baseline",
        path(&base.join("summary.json")),
        "--junit",
        path(&junit),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS"));
    assert_eq!(junit_counts(&junit), (cells + 2, 0, 0));

    let perturbed = run_into(
        SPEC,
        &bad,
        Some(TestingPerturbation {
            method: "R".into(),
            psi_shift: 0.5,
            ..TestingPerturbation::default()
        }),
    );
    assert_eq!(perturbed.provenance.spec_hash, summary.provenance.spec_hash);
    let run_info = fs::read_to_string(bad.join("run.json")).unwrap();
    assert!(run_info.contains("testing_perturbation"), "{run_info}");
    let outcome = check::check(&bad, Some(&base), None, Rule::default()).unwrap();
    let comparison = outcome.comparison.as_ref().unwrap();
    let flagged: Vec<_> = comparison
        .cells
        .iter()
        .filter(|c| c.judgement.verdict != Verdict::Same)
        .collect();
    // Only R's own rows and its paired differences may differ at all.
    for cell in &comparison.cells {
        let difference = cell.judgement.difference.unwrap_or(0.0);
        if cell.method != "R" {
            assert_eq!(
                difference, 0.0,
                "{} {:?} {}",
                cell.method, cell.versus, cell.metric
            );
            assert_eq!(cell.judgement.verdict, Verdict::Same);
        }
        // A constant shift leaves the ranking of queries (every routing
        // curve) and Δ̂ unchanged.
        if matches!(
            cell.metric.as_str(),
            "eg" | "neg" | "eg_paper" | "neg_area" | "mse_delta"
        ) {
            assert_eq!(difference, 0.0, "{} {}", cell.method, cell.metric);
        }
    }
    for cell in &flagged {
        assert_eq!(cell.method, "R");
        assert_eq!(cell.judgement.verdict, Verdict::Worse, "{}", cell.metric);
        assert!(matches!(cell.metric.as_str(), "mse_psi" | "regret"));
    }
    for versus in [None, Some("pooled"), Some("gs-only")] {
        assert!(
            flagged
                .iter()
                .any(|c| c.metric == "mse_psi" && c.versus.as_deref() == versus),
            "R mse_psi versus {versus:?} not flagged"
        );
    }
    // The claim "R beats pooled on mse_psi" no longer holds.
    assert!(outcome.claims.iter().all(|c| !c.passed));
    assert!(!outcome.passed());

    let (junit, markdown) = (tmp.path().join("bad.xml"), tmp.path().join("bad.md"));
    let out = binary(&[
        "check",
        path(&bad),
        "--baseline",
        path(&base),
        "--junit",
        path(&junit),
        "--markdown",
        path(&markdown),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("worse"),
        "{stdout}"
    );
    let worse = comparison.count(Verdict::Worse);
    assert_eq!(junit_counts(&junit), (cells + 2, worse + 2, 0));
    let md = fs::read_to_string(&markdown).unwrap();
    assert!(md.contains("| worse | n_gold = 60 | R | mse_psi |"), "{md}");
    assert!(!md.contains("NaN"));
}

fn summary_with(rows: Vec<SummaryRow>) -> Summary {
    Summary {
        format: meta_router::study::record::SUMMARY_FORMAT.into(),
        study: "s".into(),
        seed: 1,
        replicates: 10,
        provenance: Default::default(),
        rho: vec![0.0, 0.5, 1.0],
        w: vec![0.0],
        rows,
        warnings: vec![],
        slopes: vec![],
    }
}

fn row(
    method: &str,
    versus: Option<&str>,
    metric: &str,
    mean: f64,
    mcse: Option<f64>,
) -> SummaryRow {
    SummaryRow {
        grid: BTreeMap::new(),
        method: method.into(),
        versus: versus.map(String::from),
        metric: metric.into(),
        index: None,
        rho: None,
        w: None,
        mean: Some(mean),
        mcse,
        n: 10,
        failures: 0,
    }
}

fn claim(method: &str, metric: &str, test: ClaimTest, sigma: f64) -> Claim {
    Claim {
        index: 0,
        method: method.into(),
        metric: metric.into(),
        position: None,
        axis: MetricAxis::Scalar,
        points: vec![BTreeMap::new()],
        test,
        sigma,
        note: None,
        versus: None,
    }
}

fn better(reference: &str, margin: f64) -> ClaimTest {
    ClaimTest::BetterThan {
        reference: reference.into(),
        margin,
    }
}

/// Claims in both directions, with margins, and ranges, judged by hand.
#[test]
fn claims_hold_and_fail_as_stated() {
    let summary = summary_with(vec![
        // A − B: MSE 0.02 lower (lower is better), area 0.1 higher.
        row("A", Some("B"), "mse_psi", -0.02, Some(0.004)),
        row("A", Some("B"), "neg_area", 0.1, Some(0.02)),
        SummaryRow {
            n: 300,
            ..row("DR", None, "theta_delta.coverage", 0.91, Some(0.0165))
        },
        row("one", None, "mse_psi", 0.5, None),
    ]);
    let judge = |c: Claim| {
        let outcomes = claims::evaluate(&[c], &summary);
        assert_eq!(outcomes.len(), 1);
        outcomes[0].passed
    };
    // Lower is better: improvement 0.02, lower bound 0.02 − 3·0.004 = 0.008.
    assert!(judge(claim("A", "mse_psi", better("B", 0.0), 3.0)));
    assert!(judge(claim("A", "mse_psi", better("B", 0.0079), 3.0)));
    assert!(!judge(claim("A", "mse_psi", better("B", 0.0081), 3.0)));
    assert!(!judge(claim("A", "mse_psi", better("B", 0.0), 5.5)));
    // Higher is better: improvement 0.1, bound 0.1 − 2·0.02 = 0.06.
    assert!(judge(claim("A", "neg_area", better("B", 0.05), 2.0)));
    assert!(!judge(claim("A", "neg_area", better("B", 0.07), 2.0)));
    // The reverse claim (B beats A) has no paired row B − A: it fails.
    let reverse = claims::evaluate(&[claim("B", "mse_psi", better("A", 0.0), 3.0)], &summary);
    assert!(!reverse[0].passed);
    assert!(reverse[0]
        .problem
        .as_deref()
        .unwrap()
        .contains("no paired-difference row"));
    // Within: 0.91 over 300 replicates is 0.02 below [0.93, 0.97]; the
    // binomial MCSE at the edge 0.93 is 0.0147 (not the row's 0.0165).
    let within = ClaimTest::Within {
        low: 0.93,
        high: 0.97,
    };
    assert!(!judge(claim(
        "DR",
        "theta_delta.coverage",
        within.clone(),
        0.0
    )));
    assert!(!judge(claim(
        "DR",
        "theta_delta.coverage",
        within.clone(),
        1.0
    )));
    assert!(judge(claim(
        "DR",
        "theta_delta.coverage",
        within.clone(),
        2.0
    )));
    let inside = ClaimTest::Within {
        low: 0.9,
        high: 0.92,
    };
    assert!(judge(claim("DR", "theta_delta.coverage", inside, 0.0)));
    // No MCSE: a mean inside the range holds at any k; outside it, it is
    // judged on the mean alone at sigma = 0 and cannot be judged at k > 0.
    let range = ClaimTest::Within {
        low: 0.4,
        high: 0.6,
    };
    assert!(judge(claim("one", "mse_psi", range.clone(), 0.0)));
    assert!(judge(claim("one", "mse_psi", range, 3.0)));
    let outside = ClaimTest::Within {
        low: 0.6,
        high: 0.7,
    };
    assert!(!judge(claim("one", "mse_psi", outside.clone(), 0.0)));
    let unjudged = claims::evaluate(&[claim("one", "mse_psi", outside, 3.0)], &summary);
    assert!(!unjudged[0].passed);
    assert!(unjudged[0]
        .problem
        .as_deref()
        .unwrap()
        .contains("no Monte Carlo SE"));
}

fn spec_error(extra: &str) -> String {
    let text = format!("{SPEC}{extra}");
    match StudySpec::parse(&text, "bad.toml") {
        Err(e @ Error::Core(meta_router_core::Error::Config { .. })) => e.to_string(),
        Err(other) => panic!("expected a spec error, got {other:?}"),
        Ok(_) => panic!("accepted:\n{extra}"),
    }
}

/// Every bad claim is a spec error naming `expect[i].<key>` and its line.
#[test]
fn bad_claims_are_spec_errors_with_key_and_line() {
    // SPEC has 51 lines (with its leading newline) and one claim, expect[0];
    // the claim below is expect[1], its header on line 53.
    let lines = SPEC.lines().count();
    let cases: &[(&str, &str, usize)] = &[
        (
            "method = \"Q\"\nmetric = \"mse_psi\"\nwithin = [0, 1]",
            "expect[1].method",
            1,
        ),
        (
            "method = \"R\"\nbetter_than = \"nobody\"\nmetric = \"mse_psi\"",
            "expect[1].better_than",
            2,
        ),
        (
            "method = \"R\"\nbetter_than = \"R\"\nmetric = \"mse_psi\"",
            "expect[1].better_than",
            2,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"mse_phi\"",
            "expect[1].metric",
            3,
        ),
        (
            "method = \"pooled\"\nbetter_than = \"R\"\nmetric = \"mse_delta\"",
            "expect[1].metric",
            3,
        ),
        (
            "method = \"R\"\nmetric = \"theta_delta.coverage\"\nwithin = [0.9, 1]",
            "expect[1].metric",
            2,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"eg\"\nrho = 0.3",
            "expect[1].rho",
            4,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"eg\"",
            "expect[1]",
            0,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"regret\"\nrho = 0.5",
            "expect[1].rho",
            4,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"mse_psi\"\nw = 0.1",
            "expect[1].w",
            4,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"mse_psi\"\nmargin = -1",
            "expect[1].margin",
            4,
        ),
        (
            "method = \"R\"\nbetter_than = \"pooled\"\nmetric = \"mse_psi\"\nsigma = -2",
            "expect[1].sigma",
            4,
        ),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0.5, 0.1]",
            "expect[1].within",
            3,
        ),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0.1]",
            "expect[1].within",
            3,
        ),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0, 1]\nmargin = 0.1",
            "expect[1].margin",
            4,
        ),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0, 1]\nbetter_than = \"pooled\"",
            "expect[1].within",
            3,
        ),
        ("method = \"R\"\nmetric = \"mse_psi\"", "expect[1]", 0),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0, 1]\ngrid = { n_gold = 61 }",
            "expect[1].grid.n_gold",
            4,
        ),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0, 1]\ngrid = { pool = 900 }",
            "expect[1].grid.pool",
            4,
        ),
        (
            "method = \"R\"\nmetric = \"mse_psi\"\nwithin = [0, 1]\ncolour = 3",
            "expect[1].colour",
            4,
        ),
        (
            "method = \"R\"\nmetric = \"neg_area\"\nwithin = \"high\"",
            "expect[1].within",
            3,
        ),
    ];
    for (body, key, offset) in cases {
        let message = spec_error(&format!("\n[[expect]]\n{body}\n"));
        let line = lines + 2 + offset;
        assert!(
            message.contains(&format!("key `{key}`")) && message.contains(&format!("line {line}")),
            "{body}\n  expected key `{key}` on line {line}: {message}"
        );
    }
    // A claim on a coverage needs that inference target to be enabled.
    let message = spec_error(
        "\n[[expect]]\nmethod = \"DR\"\nmetric = \"theta_delta.coverage\"\nwithin = [0.9, 1]\n",
    );
    assert!(
        message.contains("no inference targets are enabled"),
        "{message}"
    );
}

/// Claims do not enter the spec hash: a baseline stays comparable when a
/// claim is added, and they extend the paired-difference references.
#[test]
fn claims_stay_out_of_the_spec_hash_and_add_their_references() {
    let with = StudySpec::parse(SPEC, "a.toml").unwrap();
    let cut = SPEC.find("[[expect]]").unwrap();
    let without = StudySpec::parse(&SPEC[..cut], "b.toml").unwrap();
    assert_eq!(with.spec_hash(), without.spec_hash());
    assert_ne!(with.resolved_toml(), without.resolved_toml());
    assert!(with.resolved_toml().contains("[[expect]]"));
    let extra = format!(
        "{SPEC}\n[[expect]]\nmethod = \"R\"\nbetter_than = \"DR\"\nmetric = \"eg\"\nrho = 0.5\n"
    );
    let spec = StudySpec::parse(&extra, "c.toml").unwrap();
    assert_eq!(spec.compare_to(), ["pooled", "gs-only", "DR"]);
    let again = StudySpec::parse(&spec.resolved_toml(), "spec.toml").unwrap();
    assert_eq!(again.claims, spec.claims);
}

/// Inputs that cannot be compared exit 2 with the reason.
#[test]
fn inputs_that_cannot_be_compared_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let small = SPEC.replace("replicates = 8", "replicates = 2");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_into(&small, &a, None);
    run_into(&small.replace("seed = 5", "seed = 6"), &b, None);
    let code = |args: &[&str], needles: &[&str]| {
        let out = binary(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "`{needle}` missing: {stderr}");
        }
        assert!(!stderr.contains("panicked"));
    };
    code(
        &["check", path(&a), "--baseline", path(&b)],
        &["different specs", "seed 5 vs 6"],
    );
    code(
        &[
            "check",
            path(&a),
            "--baseline",
            path(&tmp.path().join("nowhere")),
        ],
        &["nowhere"],
    );
    let garbage = tmp.path().join("garbage.json");
    fs::write(&garbage, "{ not json").unwrap();
    code(
        &["check", path(&a), "--baseline", path(&garbage)],
        &["garbage.json", "not JSON"],
    );
    let old = tmp.path().join("old.json");
    let text = fs::read_to_string(a.join("summary.json")).unwrap();
    fs::write(
        &old,
        text.replace("meta-router-summary/2", "meta-router-summary/1"),
    )
    .unwrap();
    code(
        &["check", path(&a), "--baseline", path(&old)],
        &["old.json", "format `meta-router-summary/1`"],
    );
    // Claims from a spec of another study.
    let other = tmp.path().join("other.toml");
    fs::write(&other, small.replace("seed = 5", "seed = 6")).unwrap();
    code(
        &["check", path(&a), "--spec", path(&other)],
        &["different study"],
    );
    // Nothing to check: no baseline and no claims.
    let cut = small.find("[[expect]]").unwrap();
    let c = tmp.path().join("c");
    run_into(&small[..cut], &c, None);
    code(&["check", path(&c)], &["nothing to check"]);
    // A negative --sigma (deprecated, still checked), a level outside (0, 1).
    code(
        &["check", path(&a), "--baseline", path(&a), "--sigma=-1"],
        &["sigma"],
    );
    code(
        &["check", path(&a), "--baseline", path(&a), "--alpha", "0"],
        &["alpha", "(0, 1)"],
    );
    code(
        &["check", path(&a), "--baseline", path(&a), "--alpha", "1.5"],
        &["alpha"],
    );
    // Claims alone (no baseline) are fine.
    let out = binary(&["check", path(&a)]);
    assert!(matches!(out.status.code(), Some(0 | 1)));
    assert!(String::from_utf8_lossy(&out.stdout).contains("claims: "));
}

/// `summary.csv` and `replicates.csv`: pinned columns, read back with the
/// `csv` crate, values exactly those of summary.json and replicates.jsonl.
#[test]
fn csv_files_have_pinned_columns_and_read_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let small = SPEC.replace("replicates = 8", "replicates = 3");
    let summary = run_into(&small, &dir, None);
    let manifest = fs::read_to_string(dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"summary.csv\"") && manifest.contains("\"replicates.csv\""));

    let mut reader = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "grid_index",
            "grid_n_gold",
            "method",
            "versus",
            "metric",
            "rho",
            "w",
            "index",
            "mean",
            "mcse",
            "n",
            "failures"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), summary.rows.len());
    let number = |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().unwrap());
    for (csv_row, row) in rows.iter().zip(&summary.rows) {
        assert_eq!(&csv_row[1], row.grid["n_gold"].to_string().as_str());
        assert_eq!(&csv_row[2], row.method);
        assert_eq!(&csv_row[3], row.versus.as_deref().unwrap_or(""));
        assert_eq!(&csv_row[4], row.metric);
        assert_eq!(number(&csv_row[5]), row.rho);
        assert_eq!(number(&csv_row[6]), row.w);
        assert_eq!(number(&csv_row[8]), row.mean);
        assert_eq!(number(&csv_row[9]), row.mcse);
        assert_eq!(csv_row[10].parse::<usize>().unwrap(), row.n);
    }

    let mut reader = csv::Reader::from_path(dir.join("replicates.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "grid_index",
            "grid_n_gold",
            "replicate",
            "method",
            "ok",
            "error",
            "metric",
            "rho",
            "w",
            "index",
            "value"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let records = read_records(&dir.join("replicates.jsonl")).unwrap().records;
    // Per record: mse_psi, neg_area, mse_delta for the meta-learners, three ρ
    // curves and the w curve.
    let per_record = |method: &str| {
        2 + usize::from(method == "R" || method == "DR") + 3 * summary.rho.len() + summary.w.len()
    };
    let expected: usize = records.iter().map(|r| per_record(&r.method)).sum();
    assert_eq!(rows.len(), expected);
    for row in &rows {
        let record = records
            .iter()
            .find(|r| {
                r.grid_index.to_string() == row[0]
                    && r.replicate.to_string() == row[2]
                    && r.method == row[3]
            })
            .unwrap();
        assert_eq!(&row[4], "TRUE");
        let index = number(&row[9]).map(|i| i as usize);
        assert_eq!(
            number(&row[10]),
            record.metrics.value(&row[6], index),
            "{row:?}"
        );
        if row[6] == *"eg" {
            assert_eq!(number(&row[7]), Some(summary.rho[index.unwrap()]));
        }
    }
    let text = fs::read_to_string(dir.join("replicates.csv")).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"));
}

/// A run whose DR fits fail at one replicate (injected) fails the check: the
/// baseline had no failed fit, so its failure cells tolerate none. Against
/// a baseline that already has a failure, one more is within chance (the
/// exact test) and the check passes.
#[test]
fn injected_fit_failures_fail_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (base, bad) = (tmp.path().join("base"), tmp.path().join("bad"));
    let inject = |replicates: Vec<usize>| {
        Some(TestingPerturbation {
            method: "DR".into(),
            fail_replicates: replicates,
            ..TestingPerturbation::default()
        })
    };
    run_into(SPEC, &base, None);
    let summary = run_into(SPEC, &bad, inject(vec![3]));
    let failed = summary
        .rows
        .iter()
        .find(|r| r.method == "DR" && r.metric == "mse_psi" && r.versus.is_none())
        .unwrap();
    assert_eq!((failed.n, failed.failures), (7, 1));
    let records = read_records(&bad.join("replicates.jsonl")).unwrap().records;
    let record = records
        .iter()
        .find(|r| r.method == "DR" && r.replicate == 3)
        .unwrap();
    assert!(!record.ok);
    assert_eq!(record.error.as_deref(), Some(study::INJECTED_FAILURE));

    let outcome = check::check(&bad, Some(&base), None, Rule::default()).unwrap();
    let comparison = outcome.comparison.as_ref().unwrap();
    let worse: Vec<_> = comparison
        .cells
        .iter()
        .filter(|c| c.judgement.verdict == Verdict::Worse)
        .collect();
    assert_eq!(worse.len(), 2, "one failure cell per grid point");
    for cell in &worse {
        assert_eq!(
            (cell.kind, cell.method.as_str()),
            (CellKind::Failures, "DR")
        );
        assert_eq!(cell.run.unwrap().failures, 1);
        assert_eq!(cell.baseline.unwrap().failures, 0);
    }
    assert!(!outcome.passed());
    let out = binary(&["check", path(&bad), "--baseline", path(&base)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("failed fits") && stdout.contains("1 of 8"),
        "{stdout}"
    );

    // A baseline with one failure at each grid point, a run with two: the
    // exact test's p = P(X ≥ 2 | 3 failures of 16, 8 drawn) = 0.5 is no alarm.
    let (base1, bad2) = (tmp.path().join("base1"), tmp.path().join("bad2"));
    run_into(SPEC, &base1, inject(vec![3]));
    run_into(SPEC, &bad2, inject(vec![3, 5]));
    let outcome = check::check(&bad2, Some(&base1), None, Rule::default()).unwrap();
    let comparison = outcome.comparison.as_ref().unwrap();
    for cell in comparison
        .cells
        .iter()
        .filter(|c| c.kind == CellKind::Failures && c.method == "DR")
    {
        assert_eq!(cell.judgement.verdict, Verdict::Same);
        let p = cell.judgement.p_value.unwrap();
        assert!((p - 0.5).abs() < 1e-12, "{p}");
    }
    assert_eq!(comparison.failing(), 0);
}

/// Cells of the baseline that the run lacks fail the check (`missing`).
#[test]
fn missing_cells_fail_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let summary = run_into(
        &SPEC.replace("replicates = 8", "replicates = 3"),
        &base,
        None,
    );
    let mut lost = summary.clone();
    lost.rows
        .retain(|r| !(r.method == "gs-only" && r.grid["n_gold"] == 120));
    let removed = summary.rows.len() - lost.rows.len();
    assert!(removed > 0);
    let run = tmp.path().join("lost");
    fs::create_dir(&run).unwrap();
    fs::write(
        run.join("summary.json"),
        serde_json::to_string_pretty(&lost).unwrap(),
    )
    .unwrap();
    let outcome = check::check(&run, Some(&base), None, Rule::default()).unwrap();
    // The rows and the failure cell of gs-only at n_gold = 120.
    assert_eq!(outcome.missing_cells(), removed + 1);
    assert_eq!(outcome.worse_cells(), 0);
    assert!(!outcome.passed());
    let out = binary(&["check", path(&run), "--baseline", path(&base)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("missing"), "{stdout}");
}

/// The committed regression baseline with DR's θ_Δ coverage at n_gold = 100
/// set to 0.88 (264 of 300) fails `check`: the claim `within = [0.93, 0.97]`
/// fails (0.05 below the range, more than 3 × √(0.93·0.07/300) = 0.0442).
/// At 0.89 (267 of 300) the claim holds, as it must at 3 MCSE.
#[test]
fn a_coverage_of_088_in_the_regression_study_fails_check() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("results/regression");
    let tmp = tempfile::tempdir().unwrap();
    let with_coverage = |covered: usize| {
        let dir = tmp.path().join(format!("covered-{covered}"));
        fs::create_dir(&dir).unwrap();
        fs::copy(committed.join("spec.toml"), dir.join("spec.toml")).unwrap();
        let (_, mut summary) = check::load_summary(&committed).unwrap();
        let mut changed = 0;
        for row in summary.rows.iter_mut().filter(|r| {
            r.method == "DR"
                && r.grid["n_gold"] == 100
                && (r.metric == "theta_delta.coverage" || r.metric == "theta_delta.covered")
        }) {
            let c = covered as f64 / row.n as f64;
            row.mean = Some(c);
            row.mcse = Some((c * (1.0 - c) / row.n as f64).sqrt());
            changed += 1;
        }
        assert_eq!(changed, 2);
        let mut text = serde_json::to_string_pretty(&summary).unwrap();
        text.push('\n');
        fs::write(dir.join("summary.json"), text).unwrap();
        dir
    };
    let low = with_coverage(264);
    let outcome = check::check(&low, Some(&committed), None, Rule::default()).unwrap();
    let failed: Vec<_> = outcome.claims.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1, "{:?}", outcome.claims);
    assert_eq!(failed[0].metric, "theta_delta.coverage");
    assert_eq!(failed[0].grid["n_gold"], 100);
    let edge = failed[0].edge_mcse.unwrap();
    assert!((edge - (0.93f64 * 0.07 / 300.0).sqrt()).abs() < 1e-15);
    let judgement = report::claim_judgement(failed[0]);
    assert!(
        judgement.contains("below [0.93, 0.97]") && judgement.contains("binomial MCSE at 0.93"),
        "{judgement}"
    );
    assert!(!outcome.passed());
    let out = binary(&["check", path(&low), "--baseline", path(&committed)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL"), "{stdout}");

    let fine = with_coverage(267);
    let outcome = check::check(&fine, Some(&committed), None, Rule::default()).unwrap();
    assert_eq!(outcome.failed_claims(), 0);
}

/// A report that cannot be drawn exits 1, not 3, even when a claim fails
/// too: here a directory stands where a figure must be written.
#[test]
fn a_report_that_cannot_be_drawn_exits_1_even_when_claims_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("failing.toml");
    // A claim that cannot hold (an NEG area of 5).
    let text = SPEC.replace("replicates = 8", "replicates = 2")
        + "\n[[expect]]\nmethod = \"R\"\nmetric = \"neg_area\"\nwithin = [5.0, 6.0]\nsigma = 0\n";
    fs::write(&spec, text).unwrap();
    let out = tmp.path().join("out");
    let simulate = |extra: &[&str]| {
        let mut args = vec!["simulate", path(&spec), "--out", path(&out), "--quiet"];
        args.extend_from_slice(extra);
        binary(&args)
    };
    let first = simulate(&[]);
    assert_eq!(
        first.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(out.join("summary.md").is_file() && out.join("neg_vs_rho.png").is_file());
    fs::remove_file(out.join("neg_vs_rho.png")).unwrap();
    fs::create_dir(out.join("neg_vs_rho.png")).unwrap();
    let second = simulate(&["--force"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("neg_vs_rho.png"), "{stderr}");
    assert!(
        !stderr.contains("claim outcome"),
        "the report error comes first: {stderr}"
    );
}
