//! Plasmode scenarios and the GS-label budget plan end to end:
//! `scenarios export` → `scenarios calibrate` → the `plasmode` scenario
//! (draws, truth, noise, splits) → `plan` (deterministic across thread
//! counts), and the refusals of bad input.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use meta_router::dgp::plasmode::{LoadedPlasmode, PlasmodeParams};
use meta_router::dgp::{NoiseKind, Plasmode, Scenario};
use meta_router::rng::{stream, Purpose};
use meta_router::study::spec::StudySpec;

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run_on(dir, None, args)
}

/// [`run`] with `RAYON_NUM_THREADS = threads` when given.
fn run_on(dir: &Path, threads: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meta-router"));
    if let Some(threads) = threads {
        command.env("RAYON_NUM_THREADS", threads);
    }
    let out = command
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(dir, args);
    assert_eq!(code, 0, "{args:?} failed: {stderr}");
    stdout
}

/// A pilot exported from `scenario` (pool 1000, 200 test queries, d = 5)
/// and its calibrated plasmode file `pilot.json`; returns the file's
/// SHA-256 as `calibrate` prints it.
fn calibrated(dir: &Path, scenario: &str, n_gold: &str) -> String {
    ok(
        dir,
        &[
            "scenarios",
            "export",
            scenario,
            "--n-gold",
            n_gold,
            "--set",
            "pool=1000",
            "--set",
            "n_test=200",
            "--set",
            "d=5",
            "--seed",
            "4",
            "--out",
            "pilot",
        ],
    );
    let printed = ok(
        dir,
        &[
            "scenarios",
            "calibrate",
            "--gold",
            "pilot/gold.csv",
            "--pref",
            "pilot/pref.csv",
            "--out",
            "pilot.json",
        ],
    );
    let sha = printed
        .lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("calibrate prints the sha256")
        .to_string();
    assert!(printed.contains("name = \"plasmode\""), "{printed}");
    sha
}

fn params(dir: &Path, sha: &str) -> PlasmodeParams {
    PlasmodeParams {
        file: dir.join("pilot.json").display().to_string(),
        sha256: sha.to_string(),
        ..PlasmodeParams::default()
    }
}

fn row_bits(x: ndarray::ArrayView1<f64>) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn calibrated_scenario_plants_the_fitted_truth_and_draws_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sha = calibrated(dir, "healthbench-like", "150");
    let loaded = LoadedPlasmode::read(&dir.join("pilot.json")).unwrap();
    assert_eq!(loaded.rows(), 800, "GS and PB rows pooled");
    assert_eq!(loaded.file.pilot.n_gold, 150);
    assert_eq!(loaded.file.pilot.n_pref, 650);
    assert_eq!(loaded.file.features, ["x1", "x2", "x3", "x4", "x5"]);
    let noise = &loaded.file.noise;
    assert_eq!(noise.gold_residuals.len(), 150);
    assert_eq!(noise.pref_residuals.len(), 650);
    assert!(noise.pref_tie_share.is_none(), "numeric PB labels");
    // residuals are centred; their sd is the scenario's noise 0.6 up to the
    // nuisances' estimation error
    for (residuals, sd) in [
        (&noise.gold_residuals, noise.gold_sd),
        (&noise.pref_residuals, noise.pref_sd),
    ] {
        assert!(residuals.iter().sum::<f64>().abs() < 1e-9);
        assert!((0.5..0.8).contains(&sd), "sd {sd}");
    }

    let scenario = Plasmode::new(PlasmodeParams {
        n_gold: Some(100),
        n_pref: Some(400),
        n_test: Some(150),
        ..params(dir, &sha)
    })
    .unwrap();
    assert!((scenario.kappa() - 0.2).abs() < 1e-15);
    let data = scenario.draw(&mut stream(3, 0, 0, Purpose::Data)).unwrap();
    assert_eq!((data.train.n_gold(), data.train.n_pref()), (100, 400));
    assert_eq!(data.test_x.nrows(), 150);
    // the truth at the drawn rows is the router's ψ̂ and ψ̂ − η
    let pooled = data.train.pooled_x();
    let psi = scenario.psi(pooled.view());
    assert!(psi
        .iter()
        .zip(&data.train_psi)
        .all(|(a, b)| (a - b).abs() < 1e-12));
    let delta = scenario.delta(data.test_x.view());
    assert!(delta
        .iter()
        .zip(&data.test_delta)
        .all(|(a, b)| (a - b).abs() < 1e-12));
    assert!(data.train_propensity.iter().all(|&p| p == scenario.kappa()));
    // 650 of 800 rows: a random split, no row twice
    let mut seen = HashSet::new();
    for row in data.test_x.outer_iter().chain(pooled.outer_iter()) {
        assert!(seen.insert(row_bits(row)), "a pilot row drawn twice");
    }
    // reproducible from the stream; another replicate differs
    let again = scenario.draw(&mut stream(3, 0, 0, Purpose::Data)).unwrap();
    assert_eq!(again.train, data.train);
    assert_eq!(again.test_gold_y, data.test_gold_y);
    let other = scenario.draw(&mut stream(3, 0, 1, Purpose::Data)).unwrap();
    assert_ne!(other.train.gold_y(), data.train.gold_y());
    // exact population constants: means over the pilot rows
    let all = ndarray::Array2::from_shape_fn((800, 5), |(i, j)| loaded.file.rows[i][j]);
    let mean_psi = scenario.psi(all.view()).mean().unwrap();
    let constants = scenario.constants();
    assert!((constants.mean_psi - mean_psi).abs() < 1e-12);
    assert_eq!(constants.accuracy, 0.0);

    // the default sizes split the pilot once: 160 test queries (a fifth of
    // 800), its 150 GS rows and 650 − 160 PB rows, no row twice
    let default = Plasmode::new(params(dir, &sha)).unwrap();
    let data = default.draw(&mut stream(3, 0, 0, Purpose::Data)).unwrap();
    assert_eq!(
        (
            data.test_x.nrows(),
            data.train.n_gold(),
            data.train.n_pref()
        ),
        (160, 150, 490)
    );
    let mut seen = HashSet::new();
    for row in data
        .test_x
        .outer_iter()
        .chain(data.train.pooled_x().outer_iter())
    {
        assert!(seen.insert(row_bits(row)), "a pilot row drawn twice");
    }

    // more rows than the pilot holds: test queries never among the training rows
    let big = Plasmode::new(PlasmodeParams {
        n_gold: Some(300),
        pool: Some(1500),
        n_test: Some(200),
        noise: NoiseKind::Empirical,
        ..params(dir, &sha)
    })
    .unwrap();
    let data = big.draw(&mut stream(3, 0, 0, Purpose::Data)).unwrap();
    assert_eq!((data.train.n_gold(), data.train.n_pref()), (300, 1000));
    let test: HashSet<Vec<u64>> = data.test_x.outer_iter().map(row_bits).collect();
    assert_eq!(test.len(), 200);
    assert!(data
        .train
        .pooled_x()
        .outer_iter()
        .all(|row| !test.contains(&row_bits(row))));
    // empirical noise: every GS label is the truth plus a pilot residual
    let residuals: Vec<f64> = noise.gold_residuals.clone();
    for (y, psi) in data.train.gold_y().iter().zip(&data.train_psi) {
        let e = y - psi;
        assert!(
            residuals.iter().any(|r| (r - e).abs() < 1e-12),
            "noise {e} is not a residual"
        );
    }
}

#[test]
fn vote_labels_are_drawn_as_votes_with_the_pilots_tie_share() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sha = calibrated(dir, "binary-preference", "150");
    let loaded = LoadedPlasmode::read(&dir.join("pilot.json")).unwrap();
    let tie = loaded.file.noise.pref_tie_share.expect("votes detected");
    assert!((0.0..0.5).contains(&tie));
    let scenario = Plasmode::new(params(dir, &sha)).unwrap();
    let data = scenario.draw(&mut stream(5, 0, 0, Purpose::Data)).unwrap();
    assert!(data
        .train
        .pref_y()
        .iter()
        .all(|&y| y == 1.0 || y == 0.0 || y == -1.0));
    // η = ψ − Δ lies in the vote range, so the vote probabilities exist
    let eta = &data.train_psi - &data.train_delta;
    assert!(eta.iter().all(|e| e.abs() <= 1.0 - tie + 1e-12));
}

#[test]
fn study_files_name_the_bad_plasmode_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sha = calibrated(dir, "healthbench-like", "150");
    let file = dir.join("pilot.json").display().to_string();
    let spec = |scenario: &str| {
        format!(
            "name = \"p\"\nseed = 1\nreplicates = 2\n\n[scenario]\nname = \"plasmode\"\n{scenario}\n\n\
             [[methods]]\nlabel = \"DR\"\nmethod = \"dr-learner\"\n"
        )
    };
    let good = spec(&format!("file = {file:?}\nsha256 = \"{sha}\""));
    StudySpec::parse(&good, "good.toml").unwrap();
    for (scenario, needles) in [
        (
            format!("file = {file:?}\nsha256 = \"{}\"", "0".repeat(64)),
            vec!["sha256".to_string(), sha.clone()],
        ),
        (String::from("sha256 = \"00\""), vec!["file".to_string()]),
        (
            format!("file = \"missing.json\"\nsha256 = \"{sha}\""),
            vec!["missing.json".to_string()],
        ),
        (
            format!("file = {file:?}\nsha256 = \"{sha}\"\nn_pref = 100\npool = 900"),
            vec!["pool".to_string(), "not both".to_string()],
        ),
        (
            format!("file = {file:?}\nsha256 = \"{sha}\"\nn_test = 799"),
            vec!["n_test".to_string()],
        ),
    ] {
        let message = StudySpec::parse(&spec(&scenario), "bad.toml")
            .unwrap_err()
            .to_string();
        for needle in &needles {
            assert!(message.contains(needle.as_str()), "{needle}: {message}");
        }
    }
}

#[test]
fn a_plan_is_the_same_on_one_and_two_threads_and_reads_its_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    calibrated(dir, "healthbench-like", "150");
    let plan = |extra: &[&str], out: &str| {
        let mut args = vec![
            "plan",
            "--scenario",
            "pilot.json",
            "--budgets",
            "150,40,80",
            "--n-pref",
            "500",
            "--n-test",
            "150",
            "--methods",
            "dr-learner,pooled,gs-only",
            "--replicates",
            "6",
            "--out",
            out,
            "--quiet",
        ];
        args.extend(extra);
        ok(dir, &args)
    };
    let printed = plan(&["--threads", "1"], "one");
    plan(&["--threads", "2"], "two");
    for name in [
        "replicates.jsonl",
        "summary.json",
        "plan.md",
        "plan.csv",
        "spec.toml",
    ] {
        assert_eq!(
            fs::read(dir.join("one").join(name)).unwrap(),
            fs::read(dir.join("two").join(name)).unwrap(),
            "{name} differs between 1 and 2 threads"
        );
    }
    let md = fs::read_to_string(dir.join("one/plan.md")).unwrap();
    assert_eq!(printed, md, "the plan printed is the plan written");
    assert!(md.contains("| pooled |") && md.contains("| gs-only |"));
    assert!(
        dir.join("one/plan_neg_area.svg").is_file() && dir.join("one/plan_eg_area.svg").is_file()
    );
    // budgets in increasing order; the CSV's differences are the summary's
    let csv = fs::read_to_string(dir.join("one/plan.csv")).unwrap();
    let budgets: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let mut sorted = budgets.clone();
    sorted.sort_by_key(|b| b.parse::<u64>().unwrap());
    assert_eq!(budgets, sorted);
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("one/summary.json")).unwrap()).unwrap();
    // the decision's paired difference is the EG area (the trapezoid over
    // the ρ grid) of the summary's paired EG curve, its MCSE the area of the
    // per-ρ MCSEs
    let rho: Vec<f64> = summary["rho"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let curve: Vec<(f64, f64)> = (0..rho.len())
        .map(|i| {
            let row = summary["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| {
                    r["grid"]["n_gold"] == 80
                        && r["method"] == "dr-learner"
                        && r["versus"] == "pooled"
                        && r["metric"] == "eg"
                        && r["index"] == i
                })
                .expect("the paired EG curve is in the summary");
            (row["mean"].as_f64().unwrap(), row["mcse"].as_f64().unwrap())
        })
        .collect();
    let trapezoid = |f: &dyn Fn(&(f64, f64)) -> f64| -> f64 {
        (1..rho.len())
            .map(|i| 0.5 * (rho[i] - rho[i - 1]) * (f(&curve[i]) + f(&curve[i - 1])))
            .sum()
    };
    let line = csv
        .lines()
        .find(|l| l.starts_with("80,dr-learner,pooled,eg_area,"))
        .expect("the difference is in plan.csv");
    let field = |k: usize| line.split(',').nth(k).unwrap().parse::<f64>().unwrap();
    assert!((field(4) - trapezoid(&|p| p.0)).abs() <= 1e-12);
    assert!((field(5) - trapezoid(&|p| p.1)).abs() <= 1e-12);
    assert!(md.contains("paired EG-area advantage"), "{md}");
    // the figure's rows: one EG area per budget and method, none for a
    // paired difference, each the EG area of the method's mean curve
    let typed: meta_router::study::record::Summary =
        serde_json::from_str(&fs::read_to_string(dir.join("one/summary.json")).unwrap()).unwrap();
    let with_areas = meta_router::report::plan::with_eg_areas(&typed);
    let added: Vec<_> = with_areas
        .rows
        .iter()
        .filter(|r| r.metric == "eg_area")
        .collect();
    assert_eq!(added.len(), 3 * 3, "3 budgets × 3 methods");
    assert!(added.iter().all(|r| r.versus.is_none() && r.n == 6));
    for row in &added {
        let n = row.grid["n_gold"].as_u64().unwrap();
        let (mean, bound) =
            meta_router::report::plan::eg_area(&typed, &typed.rho, n, &row.method, None).unwrap();
        assert_eq!((row.mean, row.mcse), (Some(mean), Some(bound)));
    }
    assert_eq!(with_areas.rows.len(), typed.rows.len() + added.len());
    // with --metric neg-area the decision is the summary's paired NEG area
    let neg = plan(&["--metric", "neg-area"], "neg");
    assert!(neg.contains("paired NEG-area advantage"), "{neg}");
    let difference = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["grid"]["n_gold"] == 80
                && r["method"] == "dr-learner"
                && r["versus"] == "pooled"
                && r["metric"] == "neg_area"
        })
        .expect("the paired difference is in the summary");
    let mean = difference["mean"].as_f64().unwrap();
    let neg_csv = fs::read_to_string(dir.join("neg/plan.csv")).unwrap();
    let line = neg_csv
        .lines()
        .find(|l| l.starts_with("80,dr-learner,pooled,neg_area,"))
        .expect("the difference is in plan.csv");
    assert_eq!(
        line.split(',').nth(4).unwrap().parse::<f64>().unwrap(),
        mean
    );
    // the peak EG on the paper's scale is the peak divided by the mean gain m
    let m = summary["provenance"]["constants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["grid"]["n_gold"] == 80)
        .unwrap()["test_mean_gain"]
        .as_f64()
        .unwrap();
    let value = |metric: &str| -> Option<f64> {
        csv.lines()
            .find(|l| l.starts_with(&format!("80,dr-learner,,{metric},")))
            .map(|l| l.split(',').nth(4).unwrap().parse().unwrap())
    };
    let peak = value("peak_eg").expect("the peak EG is in plan.csv");
    match value("peak_eg_paper") {
        Some(scaled) => {
            assert!(m > 0.0);
            assert!((scaled - peak / m).abs() <= 1e-12 * scaled.abs().max(1.0));
        }
        None => assert!(m <= 0.0, "m = {m} > 0 but no peak_eg_paper"),
    }
    // the spec written is runnable as a study and names the plasmode file
    let spec = fs::read_to_string(dir.join("one/spec.toml")).unwrap();
    assert!(spec.contains("name = \"plasmode\"") && spec.contains("pilot.json"));
}

#[test]
fn bad_plans_and_calibrations_are_refused_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    calibrated(dir, "healthbench-like", "150");
    fs::write(dir.join("r.toml"), "method = \"pooled\"\n").unwrap();
    let out: PathBuf = dir.join("never.json");
    for (args, needles) in [
        (
            vec![
                "scenarios",
                "calibrate",
                "--gold",
                "pilot/gold.csv",
                "--pref",
                "pilot/pref.csv",
                "--config",
                "r.toml",
                "--out",
                "never.json",
            ],
            vec!["r.toml", "method", "meta-learner", "pooled"],
        ),
        (
            vec![
                "scenarios",
                "calibrate",
                "--gold",
                "pilot/gold.csv",
                "--pref",
                "pilot/pref.csv",
                "--out",
                "pilot.json",
            ],
            vec!["pilot.json exists", "--force"],
        ),
    ] {
        let (code, _, stderr) = run(dir, &args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{needle}: {stderr}");
        }
    }
    assert!(!out.exists());
    for (args, needle) in [
        (vec!["--budgets", "1,100"], "--budgets"),
        (vec!["--budgets", "100,100"], "twice"),
        (
            vec!["--budgets", "100", "--methods", "pooled,gs-only"],
            "meta-learner",
        ),
        (
            vec!["--budgets", "100", "--methods", "dr-learner"],
            "baseline",
        ),
        (
            vec!["--budgets", "100", "--confidence", "1.5"],
            "--confidence",
        ),
        (vec!["--budgets", "100", "--w=-1"], "--w"),
        (vec!["--budgets", "100", "--n-test", "799"], "n_test"),
        (
            vec![
                "--budgets",
                "100",
                "--compare-with",
                "nowhere",
                "--eg-tolerance=-0.1",
            ],
            "--eg-tolerance",
        ),
    ] {
        let mut all = vec![
            "plan",
            "--scenario",
            "pilot.json",
            "--out",
            "nothing",
            "--quiet",
        ];
        all.extend(args.iter().copied());
        let (code, _, stderr) = run(dir, &all);
        assert_eq!(code, 1, "{all:?}: {stderr}");
        assert!(stderr.contains(needle), "{needle}: {stderr}");
        assert!(!dir.join("nothing").exists(), "{all:?} left a folder");
    }
    // an unknown decision metric is a usage error
    let (code, _, stderr) = run(
        dir,
        &[
            "plan",
            "--scenario",
            "pilot.json",
            "--budgets",
            "100",
            "--metric",
            "median",
            "--out",
            "nothing",
            "--quiet",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a plan metric"), "{stderr}");
    assert!(!dir.join("nothing").exists());
    // a file that is not a plasmode file
    let all = [
        "plan",
        "--scenario",
        "pilot/gold.csv",
        "--budgets",
        "100",
        "--out",
        "nothing",
    ];
    let (code, _, stderr) = run(dir, &all);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("pilot/gold.csv"), "{stderr}");
    assert!(!dir.join("nothing").exists());
}

#[test]
fn compare_with_puts_the_plan_next_to_a_study_and_refuses_a_mismatched_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    calibrated(dir, "healthbench-like", "150");
    let base = [
        "plan",
        "--scenario",
        "pilot.json",
        "--budgets",
        "40,80",
        "--n-pref",
        "500",
        "--n-test",
        "150",
        "--methods",
        "dr-learner,pooled",
        "--replicates",
        "4",
        "--quiet",
    ];
    let mut first = base.to_vec();
    first.extend(["--out", "first"]);
    ok(dir, &first);
    // The same plan again, compared with the first: every difference is 0.
    let mut again = base.to_vec();
    again.extend([
        "--out",
        "again",
        "--compare-with",
        "first",
        "--tolerance",
        "0",
        "--eg-tolerance",
        "0",
    ]);
    let (code, _, stderr) = run(dir, &again);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("6 of 6 EG areas and differences agree")
            && stderr.contains("and 6 of 6 NEG"),
        "{stderr}"
    );
    let comparison = fs::read_to_string(dir.join("again/comparison.md")).unwrap();
    assert!(
        comparison.contains("| 80 | dr-learner − pooled |"),
        "{comparison}"
    );
    // the EG areas of a plan against itself (each method's and the paired
    // difference): planned / true is exactly 1, and they agree
    let eg = comparison
        .split("## EG areas")
        .nth(1)
        .expect("comparison.md lists the EG areas");
    let cells: Vec<(String, String, String)> = eg
        .lines()
        .filter(|l| l.starts_with("| 40 |") || l.starts_with("| 80 |"))
        .map(|l| {
            let fields: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                fields[2].to_string(),
                fields[5].to_string(),
                fields[6].to_string(),
            )
        })
        .collect();
    assert_eq!(cells.len(), 6, "{eg}");
    for (quantity, ratio, agrees) in &cells {
        assert_eq!(
            (ratio.as_str(), agrees.as_str()),
            ("1.00", "yes"),
            "{quantity}: {eg}"
        );
    }
    assert!(cells.iter().any(|c| c.0 == "dr-learner − pooled"), "{eg}");
    // A study without the plan's budget is refused before anything runs.
    let mut other = base.to_vec();
    other[4] = "40,120";
    other.extend(["--out", "other", "--compare-with", "first"]);
    let (code, _, stderr) = run(dir, &other);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("n_gold = 120"), "{stderr}");
    assert!(!dir.join("other").exists());
}

/// `scenarios check` on the pilot with `RAYON_NUM_THREADS = threads`.
fn check_on(dir: &Path, threads: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec![
        "scenarios",
        "check",
        "--gold",
        "pilot/gold.csv",
        "--pref",
        "pilot/pref.csv",
    ];
    all.extend(args);
    run_on(dir, Some(threads), &all)
}

#[test]
fn the_pilot_check_reads_the_plan_is_thread_invariant_and_refuses_bad_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    calibrated(dir, "healthbench-like", "150");
    ok(
        dir,
        &[
            "plan",
            "--scenario",
            "pilot.json",
            "--budgets",
            "40,80,150",
            "--n-pref",
            "500",
            "--n-test",
            "150",
            "--methods",
            "dr-learner,pooled,gs-only",
            "--replicates",
            "6",
            "--out",
            "plan",
            "--quiet",
        ],
    );
    let settings = ["--plan", "plan", "--bootstrap", "40", "--repeats", "2"];
    for (threads, out) in [("1", "one"), ("2", "two")] {
        let mut args = settings.to_vec();
        args.extend(["--out", out]);
        let (code, _, stderr) = check_on(dir, threads, &args);
        assert_eq!(code, 0, "{stderr}");
    }
    for name in ["pilot_check.md", "pilot_check.csv"] {
        assert_eq!(
            fs::read(dir.join("one").join(name)).unwrap(),
            fs::read(dir.join("two").join(name)).unwrap(),
            "{name} differs between 1 and 2 threads"
        );
    }
    // 150 GS rows in 5 folds: fits see at most 120, so the plan's 40 and 80
    let csv = fs::read_to_string(dir.join("one/pilot_check.csv")).unwrap();
    let field = |line: &str, k: usize| line.split(',').nth(k).unwrap().to_string();
    let budgets: HashSet<String> = csv.lines().skip(1).map(|l| field(l, 1)).collect();
    assert_eq!(budgets, HashSet::from(["40".to_string(), "80".to_string()]));
    let line = |quantity: &str, n: &str, method: &str, versus: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("{quantity},{n},{method},{versus},")))
            .unwrap_or_else(|| panic!("{quantity} {n} {method} {versus} missing:\n{csv}"))
            .to_string()
    };
    // the planned EG area is the trapezoid area of the summary's mean EG curve
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("plan/summary.json")).unwrap()).unwrap();
    let rows = summary["rows"].as_array().unwrap();
    let curve: Vec<(f64, f64)> = {
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| {
                r["grid"]["n_gold"] == 80
                    && r["method"] == "dr-learner"
                    && r.get("versus").is_none_or(serde_json::Value::is_null)
                    && r["metric"] == "eg"
            })
            .map(|r| (r["rho"].as_f64().unwrap(), r["mean"].as_f64().unwrap()))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    };
    assert_eq!(curve.len(), 21);
    let area: f64 = curve
        .windows(2)
        .map(|w| 0.5 * (w[1].0 - w[0].0) * (w[0].1 + w[1].1))
        .sum();
    let planned: f64 = field(&line("eg_area", "80", "dr-learner", ""), 8)
        .parse()
        .unwrap();
    assert!((planned - area).abs() <= 1e-12, "{planned} vs {area}");
    // a difference is the router's area minus the baseline's (paired, same rows)
    let pilot = |l: String| -> f64 { field(&l, 4).parse().unwrap() };
    let d = pilot(line("eg_area_difference", "40", "dr-learner", "pooled"));
    let (a, b) = (
        pilot(line("eg_area", "40", "dr-learner", "")),
        pilot(line("eg_area", "40", "pooled", "")),
    );
    assert!((d - (a - b)).abs() <= 1e-12, "{d} vs {a} − {b}");
    // the MSE change runs to the largest budget checked
    line("mse_change", "40", "gs-only", "");
    assert!(!csv.contains("mse_change,80,"));
    // the plan given as its own "truth": every verdict is the plan's
    let mut args = settings.to_vec();
    args.extend(["--out", "self", "--compare-with", "plan"]);
    let (code, _, stderr) = check_on(dir, "2", &args);
    assert_eq!(code, 0, "{stderr}");
    let csv = fs::read_to_string(dir.join("self/pilot_check.csv")).unwrap();
    for l in csv.lines().skip(1) {
        assert_eq!(field(l, 8), field(l, 11), "{l}");
        assert_eq!(field(l, 10), field(l, 13), "{l}");
    }
    // refusals: exit non-zero, say why, write nothing
    let refused = |extra: &[&str], says: &str| {
        let mut args = vec!["--plan", "plan", "--out", "refused"];
        args.extend(extra);
        let (code, _, stderr) = check_on(dir, "2", &args);
        assert_ne!(code, 0, "{extra:?} was accepted");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
        assert!(!dir.join("refused").exists(), "{extra:?} wrote output");
    };
    refused(&["--budgets", "121"], "2 to 120 GS rows");
    refused(&["--folds", "1"], "`folds` = 1");
    refused(&["--repeats", "0"], "`repeats` = 0");
    refused(&["--bootstrap", "1"], "`bootstrap` = 1");
    refused(&["--level", "1"], "`level` = 1");
    fs::create_dir(dir.join("not_a_plan")).unwrap();
    let (code, _, stderr) = check_on(dir, "2", &["--plan", "not_a_plan", "--out", "refused"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("not a plan's folder"), "{stderr}");
    // an existing check is replaced only with --force
    let mut args = settings.to_vec();
    args.extend(["--out", "one"]);
    let (code, _, stderr) = check_on(dir, "2", &args);
    assert_ne!(code, 0);
    assert!(stderr.contains("--force"), "{stderr}");
}

#[test]
fn the_variance_rule_plants_the_out_of_fold_covariance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    calibrated(dir, "healthbench-like", "150");
    let calibrate = |rule: &[&str], out: &str| {
        let mut args = vec![
            "scenarios",
            "calibrate",
            "--gold",
            "pilot/gold.csv",
            "--pref",
            "pilot/pref.csv",
            "--out",
            out,
        ];
        args.extend(rule);
        run(dir, &args)
    };
    let (code, _, stderr) = calibrate(&["--recalibration", "variance"], "variance.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("variance rule: ψ̂ scaled by"), "{stderr}");
    // the variance rule is the default
    assert_eq!(
        fs::read(dir.join("variance.json")).unwrap(),
        fs::read(dir.join("pilot.json")).unwrap()
    );
    let (code, _, stderr) = calibrate(&["--recalibration", "slope"], "slope.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("the variance rule scaled"), "{stderr}");
    // a forest's in-sample fit varies far more than its out-of-fold fits
    // support: the variance rule's scale is small, and calibrate says so
    fs::write(
        dir.join("forest.toml"),
        "learner = { type = \"forest\" }\nbias_learner = { type = \"forest\" }\n",
    )
    .unwrap();
    let (code, _, stderr) = calibrate(&["--config", "forest.toml"], "forest.json");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning: the variance rule scaled ψ̂ by 0.3"),
        "{stderr}"
    );
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let (variance, slope) = (read("variance.json"), read("slope.json"));
    let recal = &variance["recalibration"];
    assert_eq!(recal["rule"], "variance");
    // the least-squares slope is the slope rule's map, kept as a diagnostic
    assert_eq!(
        recal["psi"]["calibration_slope"],
        slope["recalibration"]["psi"]["slope"]
    );
    assert!(slope["recalibration"].get("rule").is_none());
    // the map's scale is √Cov/sd(ψ̂), not the least-squares slope
    assert_ne!(recal["psi"]["slope"], recal["psi"]["calibration_slope"]);
    // the file is a scenario
    LoadedPlasmode::read(&dir.join("variance.json")).unwrap();
    // --no-recalibration and a rule exclude each other; an unknown rule is refused
    let (code, _, stderr) = calibrate(
        &["--no-recalibration", "--recalibration", "variance"],
        "both.json",
    );
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = calibrate(&["--recalibration", "median"], "median.json");
    assert_eq!(code, 2);
    assert!(stderr.contains("not a recalibration rule"), "{stderr}");
    assert!(!dir.join("both.json").exists() && !dir.join("median.json").exists());
}

#[test]
fn a_plan_from_the_pilot_tables_is_calibrate_then_plan_then_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    calibrated(dir, "healthbench-like", "150");
    let common = [
        "--budgets",
        "40,80",
        "--n-pref",
        "500",
        "--n-test",
        "150",
        "--methods",
        "dr-learner,pooled,gs-only",
        "--replicates",
        "4",
        "--seed",
        "3",
        "--quiet",
    ];
    // the two steps by hand, the calibration on the plan's seed
    ok(
        dir,
        &[
            "scenarios",
            "calibrate",
            "--gold",
            "pilot/gold.csv",
            "--pref",
            "pilot/pref.csv",
            "--seed",
            "3",
            "--out",
            "by_hand.json",
        ],
    );
    let mut args = vec!["plan", "--scenario", "by_hand.json", "--out", "two_steps"];
    args.extend(common);
    ok(dir, &args);
    // one command from the tables
    let mut args = vec![
        "plan",
        "--gold",
        "pilot/gold.csv",
        "--pref",
        "pilot/pref.csv",
        "--out",
        "one_step",
    ];
    args.extend(common);
    let printed = ok(dir, &args);
    assert_eq!(
        fs::read(dir.join("one_step.plasmode.json")).unwrap(),
        fs::read(dir.join("by_hand.json")).unwrap(),
        "the plan calibrates as `scenarios calibrate` does"
    );
    assert_eq!(
        fs::read(dir.join("one_step/plan.csv")).unwrap(),
        fs::read(dir.join("two_steps/plan.csv")).unwrap()
    );
    let (code, _, stderr) = check_on(
        dir,
        "2",
        &["--plan", "two_steps", "--seed", "3", "--out", "checked"],
    );
    assert_eq!(code, 0, "{stderr}");
    for name in ["pilot_check.md", "pilot_check.csv"] {
        assert_eq!(
            fs::read(dir.join("one_step").join(name)).unwrap(),
            fs::read(dir.join("checked").join(name)).unwrap(),
            "{name}: the plan's check is `scenarios check`'s"
        );
    }
    assert!(
        printed.contains("Pilot check (pilot_check.md):"),
        "{printed}"
    );
    // resuming keeps the same calibration; another seed's is refused
    args.push("--resume");
    ok(dir, &args);
    let other: Vec<&str> = args
        .iter()
        .map(|&a| if a == "3" { "4" } else { a })
        .collect();
    let (code, _, stderr) = run(dir, &other);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("differs from this pilot's calibration"),
        "{stderr}"
    );
    // a fresh plan into the used folder is refused before anything is written
    fs::remove_file(dir.join("one_step.plasmode.json")).unwrap();
    let fresh: Vec<&str> = args.iter().copied().filter(|&a| a != "--resume").collect();
    let (code, _, stderr) = run(dir, &fresh);
    assert_ne!(code, 0);
    assert!(stderr.contains("not empty"), "{stderr}");
    assert!(!dir.join("one_step.plasmode.json").exists());
    // a rule given to plan is passed to the calibration: the slope rule
    // (not the default) through plan is scenarios calibrate's
    let mut slope: Vec<&str> = fresh.clone();
    for a in slope.iter_mut() {
        if *a == "one_step" {
            *a = "slope_plan";
        }
    }
    slope.extend(["--recalibration", "slope"]);
    ok(dir, &slope);
    ok(
        dir,
        &[
            "scenarios",
            "calibrate",
            "--gold",
            "pilot/gold.csv",
            "--pref",
            "pilot/pref.csv",
            "--seed",
            "3",
            "--recalibration",
            "slope",
            "--out",
            "slope_hand.json",
        ],
    );
    assert_eq!(
        fs::read(dir.join("slope_plan.plasmode.json")).unwrap(),
        fs::read(dir.join("slope_hand.json")).unwrap()
    );
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("slope_hand.json")).unwrap()).unwrap();
    assert!(
        written["recalibration"].get("rule").is_none(),
        "the slope rule"
    );
    // a recalibration rule belongs to a calibration from tables
    let (code, _, stderr) = run(
        dir,
        &[
            "plan",
            "--scenario",
            "by_hand.json",
            "--recalibration",
            "variance",
            "--budgets",
            "40",
            "--out",
            "rule",
            "--quiet",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--gold"), "{stderr}");
    assert!(!dir.join("rule").exists());
    // neither a scenario nor tables
    let (code, _, stderr) = run(
        dir,
        &["plan", "--budgets", "40", "--out", "none", "--quiet"],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("--gold and --pref"), "{stderr}");
}
