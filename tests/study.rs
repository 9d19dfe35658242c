//! The study engine's exactness guarantees (threads, resume, shards), spec
//! validation, the command line, and a statistical check of the meta-routers.

use std::fs;
use std::path::Path;
use std::process::Command;

use meta_router::error::Error;
use meta_router::study::record::Record;
use meta_router::study::spec::StudySpec;
use meta_router::study::{self, paired_difference, read_records, RunOptions};

const SMALL: &str = r#"
name = "small"
seed = 7
replicates = 4

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
learner = { type = "ridge", basis = "poly2", columns = 4 }

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
label = "all-gold"
method = "all-gold"

[[methods]]
method = "random"
"#;

fn spec() -> StudySpec {
    StudySpec::parse(SMALL, "small.toml").unwrap()
}

fn options(dir: &Path, threads: usize) -> RunOptions {
    RunOptions {
        out: dir.to_path_buf(),
        threads: Some(threads),
        ..RunOptions::default()
    }
}

/// The records (wall times live apart, in timings.jsonl).
fn timeless(dir: &Path) -> Vec<Record> {
    read_records(&dir.join("replicates.jsonl")).unwrap().records
}

fn summary_bytes(dir: &Path) -> Vec<u8> {
    fs::read(dir.join("summary.json")).unwrap()
}

#[test]
fn thread_count_does_not_change_results() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    let spec = spec();
    let a = study::run(&spec, &options(&one, 1)).unwrap();
    study::run(&spec, &options(&two, 2)).unwrap();
    assert_eq!(a.units_run, 8);
    let records = timeless(&one);
    assert_eq!(records.len(), 8 * 5);
    assert!(
        records.iter().all(|r| r.ok),
        "{:?}",
        records.iter().find(|r| !r.ok)
    );
    assert_eq!(records, timeless(&two));
    assert_eq!(summary_bytes(&one), summary_bytes(&two));
    for file in [
        "summary.json",
        "manifest.json",
        "spec.toml",
        "run.json",
        "timings.jsonl",
    ] {
        assert!(one.join(file).exists(), "{file} missing");
    }
    // The engine draws nothing: tables and figures are the report layer's.
    assert!(!one.join("summary.md").exists());
    assert!(!one.join("eg_vs_rho.png").exists());
    // The manifest depends only on the spec and the code.
    assert_eq!(
        fs::read(one.join("manifest.json")).unwrap(),
        fs::read(two.join("manifest.json")).unwrap()
    );
}

#[test]
fn resume_after_interruption_with_a_torn_line_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (full, cut) = (tmp.path().join("full"), tmp.path().join("cut"));
    let spec = spec();
    study::run(&spec, &options(&full, 2)).unwrap();
    study::run(&spec, &options(&cut, 2)).unwrap();
    // Simulate a crash: keep 3 complete units (15 lines) plus two lines of a
    // fourth unit and half of a further line; no summary yet.
    let text = fs::read_to_string(cut.join("replicates.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut torn = lines[..17].join("\n");
    torn.push('\n');
    torn.push_str(&lines[17][..lines[17].len() / 2]);
    fs::write(cut.join("replicates.jsonl"), torn).unwrap();
    fs::remove_file(cut.join("summary.json")).unwrap();

    let mut resume = options(&cut, 1);
    resume.resume = true;
    let outcome = study::run(&spec, &resume).unwrap();
    assert_eq!(outcome.units_resumed, 3);
    assert_eq!(outcome.units_run, 5);
    drop(outcome); // releases the folder's lock
    assert_eq!(summary_bytes(&full), summary_bytes(&cut));
    assert_eq!(timeless(&full), timeless(&cut));

    // A changed spec is refused, and nothing is touched.
    let changed = StudySpec::parse(&SMALL.replace("seed = 7", "seed = 8"), "small.toml").unwrap();
    let before = fs::read(cut.join("replicates.jsonl")).unwrap();
    match study::run(&changed, &resume) {
        Err(Error::Study { message, .. }) => {
            assert!(message.contains("refusing to resume"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(before, fs::read(cut.join("replicates.jsonl")).unwrap());
    // Without --resume or --force an existing folder is refused too.
    assert!(matches!(
        study::run(&spec, &options(&cut, 1)),
        Err(Error::Study { .. })
    ));
}

#[test]
fn shards_merge_into_the_unsharded_result() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec();
    let whole = tmp.path().join("whole");
    study::run(&spec, &options(&whole, 2)).unwrap();
    let mut shard_dirs = Vec::new();
    let mut units = 0;
    for i in 1..=3 {
        let dir = tmp.path().join(format!("shard{i}"));
        let mut o = options(&dir, 1);
        o.shard = Some((i, 3));
        units += study::run(&spec, &o).unwrap().units_run;
        shard_dirs.push(dir);
    }
    assert_eq!(units, 8, "shards must partition the units");
    let merged = tmp.path().join("merged");
    // Incomplete sets of shards are refused.
    assert!(study::merge(&shard_dirs[..2], &merged, false).is_err());
    assert!(!merged.exists());
    study::merge(&shard_dirs, &merged, false).unwrap();
    assert_eq!(summary_bytes(&whole), summary_bytes(&merged));
    assert_eq!(timeless(&whole), timeless(&merged));
    // The same shard twice is refused.
    let twice = vec![
        shard_dirs[0].clone(),
        shard_dirs[0].clone(),
        shard_dirs[1].clone(),
        shard_dirs[2].clone(),
    ];
    assert!(study::merge(&twice, &tmp.path().join("twice"), false).is_err());
    // `report` rebuilds the same summary from the records alone.
    fs::remove_file(merged.join("summary.json")).unwrap();
    study::summarize_folder(&merged, false).unwrap();
    assert_eq!(summary_bytes(&whole), summary_bytes(&merged));
}

fn spec_error(text: &str) -> String {
    match StudySpec::parse(text, "bad.toml") {
        Err(e @ Error::Core(meta_router_core::Error::Config { .. })) => e.to_string(),
        Err(other) => panic!("expected a spec error, got {other:?}"),
        Ok(_) => panic!("spec accepted:\n{text}"),
    }
}

#[test]
fn invalid_specs_name_the_file_key_and_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "replicates = 4",
            "replicates = 4\ncolour = 3",
            &["bad.toml", "colour", "line"],
        ),
        (
            "pool = 900",
            "pool = 900\nsigma_gol = 0.3",
            &["bad.toml", "sigma_gol", "line 9"],
        ),
        ("pool = 900", "pool = \"big\"", &["bad.toml", "pool"]),
        (
            "name = \"healthbench-like\"",
            "name = \"healthbench-unlike\"",
            &["bad.toml", "scenario", "healthbench-unlike"],
        ),
        (
            "method = \"pooled\"",
            "method = \"pooledd\"",
            &["bad.toml", "methods[2].method", "pooledd", "line"],
        ),
        (
            "{ type = \"ridge\", basis = \"linear\" }\n\n[[methods]]\nlabel = \"all-gold\"",
            "{ type = \"ridgge\" }\n\n[[methods]]\nlabel = \"all-gold\"",
            &["bad.toml", "ridgge"],
        ),
        (
            "n_gold = [60, 120]",
            "n_gold = []",
            &["bad.toml", "grid.n_gold", "line 12"],
        ),
        (
            "replicates = 4",
            "replicates = 0",
            &["bad.toml", "replicates", "line 4"],
        ),
        (
            "n_gold = [60, 120]",
            "n_gold = [60, 1200]",
            &["bad.toml", "n_gold", "line 12", "1200"],
        ),
        (
            "n_test = 200",
            "n_test = 200\nsigma_gold = -1.0",
            &["bad.toml", "sigma_gold", "line 10"],
        ),
        ("folds = 3", "folds = 1", &["bad.toml", "folds"]),
        (
            "w = [0.0, 0.1]",
            "w = [-0.1]",
            &["bad.toml", "evaluation.w"],
        ),
    ];
    for (from, to, needles) in cases {
        assert!(SMALL.contains(from), "test setup: {from}");
        let message = spec_error(&SMALL.replacen(from, to, 1));
        for needle in *needles {
            assert!(
                message.contains(needle),
                "`{needle}` missing from: {message}"
            );
        }
    }
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meta-router"))
}

#[test]
fn cli_rejects_a_bad_spec_with_exit_code_and_no_results_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_path = tmp.path().join("bad.toml");
    fs::write(
        &spec_path,
        SMALL.replace("replicates = 4", "replicates = 0"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let result = binary()
        .arg("simulate")
        .arg(&spec_path)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("replicates"),
        "{stderr}"
    );
    assert!(!out.exists(), "a results folder was left behind");

    let missing = binary()
        .args(["simulate", "no-such-file.toml", "--quiet"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such-file.toml"));
}

#[test]
fn cli_simulate_and_scenarios_run() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_path = tmp.path().join("small.toml");
    fs::write(
        &spec_path,
        SMALL.replace("replicates = 4", "replicates = 1"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let result = binary()
        .arg("simulate")
        .arg(&spec_path)
        .arg("--out")
        .arg(&out)
        .args(["--threads", "2"])
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(String::from_utf8_lossy(&result.stdout).contains("MSE(psi)"));
    // --quiet: nothing but warnings and errors (this study has none).
    let quiet = binary()
        .arg("simulate")
        .arg(&spec_path)
        .arg("--out")
        .arg(&out)
        .args(["--threads", "2", "--quiet", "--force"])
        .output()
        .unwrap();
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stdout), "");
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    // `report` says where it wrote and prints the compact table, not summary.md.
    let report = binary().arg("report").arg(&out).output().unwrap();
    assert!(report.status.success());
    let said = String::from_utf8_lossy(&report.stderr);
    assert!(
        said.contains("wrote summary.md") && said.contains(&out.display().to_string()),
        "{said}"
    );
    assert!(!String::from_utf8_lossy(&report.stdout).contains("# Study `"));
    // `status`: exit 0 for a complete study, 4 for one with units missing.
    let status = binary().arg("status").arg(&out).output().unwrap();
    assert_eq!(status.status.code(), Some(0));
    let pending = tmp.path().join("pending");
    fs::create_dir(&pending).unwrap();
    fs::copy(out.join("spec.toml"), pending.join("spec.toml")).unwrap();
    let status = binary().arg("status").arg(&pending).output().unwrap();
    assert_eq!(
        status.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    for file in [
        "summary.json",
        "summary.md",
        "replicates.jsonl",
        "manifest.json",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    let listing = binary().arg("scenarios").output().unwrap();
    let text = String::from_utf8_lossy(&listing.stdout);
    for name in [
        "healthbench-like",
        "prbench-like",
        "covariate-shift",
        "nie-wager-d",
        "binary-preference",
    ] {
        assert!(
            text.contains(name),
            "{name} missing from the scenario listing"
        );
    }
}

/// The method's headline claim: on healthbench-like at n_gold = 100, the
/// meta-routers' mean MSE of ψ̂ is below pooled's and pb-only's by more than 3
/// Monte Carlo SEs (paired differences over replicates).
#[test]
fn meta_routers_beat_pooled_and_pb_only_on_healthbench_like() {
    let text = r#"
name = "check"
seed = 424242
replicates = 30
[scenario]
name = "healthbench-like"
n_gold = 100
[evaluation]
rho = [0.0, 0.5, 1.0]
w = [0.0]
[[methods]]
label = "R"
method = "r-learner"
learner = { type = "ridge", basis = "poly2", columns = 5 }
[[methods]]
label = "DR"
method = "dr-learner"
learner = { type = "ridge", basis = "poly2", columns = 5 }
[[methods]]
label = "pooled"
method = "pooled"
learner = { type = "ridge", basis = "poly2", columns = 5 }
[[methods]]
label = "pb-only"
method = "pb-only"
learner = { type = "ridge", basis = "poly2", columns = 5 }
"#;
    let spec = StudySpec::parse(text, "check.toml").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    study::run(&spec, &options(tmp.path(), 2)).unwrap();
    let records = read_records(&tmp.path().join("replicates.jsonl"))
        .unwrap()
        .records;
    for meta in ["R", "DR"] {
        for naive in ["pooled", "pb-only"] {
            let (mean, mcse, n) = paired_difference(&records, 0, meta, naive, |m| m.mse_psi);
            let (mean, mcse) = (mean.unwrap(), mcse.unwrap());
            assert_eq!(n, 30);
            assert!(
                mean < -3.0 * mcse,
                "{meta} − {naive}: MSE difference {mean:.5} ± {mcse:.5}"
            );
        }
    }
}

#[test]
fn every_committed_study_file_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("simulations");
    let mut count = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            StudySpec::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(
        count >= 6,
        "expected the quickstart plus one study per scenario family, found {count}"
    );
}

const INFERENCE: &str = r#"
name = "inference"
seed = 11
replicates = 3

[scenario]
name = "healthbench-like"
pool = 900
n_test = 200
n_gold = 120

[evaluation]
rho = [0.0, 1.0]
w = [0.0]
inference = ["theta_delta", "theta_psi", "mean_delta", "mean_psi", "projection", "policy_value"]
truth_rows = 5000

[[methods]]
label = "DR"
method = "dr-learner"
folds = 3
learner = { type = "ridge", basis = "linear" }

[[methods]]
label = "R"
method = "r-learner"
folds = 3
learner = { type = "ridge", basis = "linear" }
"#;

/// Inference metrics: records carry estimate/SE/coverage per target (mean
/// targets and projection only for the DR-learner, the policy value for
/// both), the summary derives coverage rows, the truth is the scenario's, and
/// the thread count changes nothing.
#[test]
fn inference_metrics_are_recorded_and_thread_invariant() {
    let spec = StudySpec::parse(INFERENCE, "inference.toml").unwrap();
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let outcome = study::run(&spec, &options(one.path(), 1)).unwrap();
    meta_router::report::publish(&outcome.summary, one.path()).unwrap();
    study::run(&spec, &options(two.path(), 2)).unwrap();
    assert_eq!(timeless(one.path()), timeless(two.path()));
    assert_eq!(summary_bytes(one.path()), summary_bytes(two.path()));
    let records = timeless(one.path());
    for r in &records {
        assert!(r.ok, "{:?}", r.error);
        let extra = &r.metrics.extra;
        let has = |k: &str| extra.contains_key(k);
        assert!(has("policy_value.covered") && has("policy_value.se") && has("policy_value.df"));
        let dr = r.method == "DR";
        for target in [
            "theta_delta",
            "theta_psi",
            "mean_delta",
            "mean_psi",
            "blp_hc1.1",
        ] {
            assert_eq!(
                has(&format!("{target}.covered")),
                dr,
                "{target} for {}",
                r.method
            );
        }
        if dr {
            // healthbench-like: Δ = 0.10 + 0.358 s₁, random split ⇒ θ_Δ = 0.10.
            assert_eq!(extra["theta_delta.truth"], 0.10);
            assert!((extra["blp_hc0.1.truth"] - 0.358).abs() < 1e-8);
            assert!(extra["blp.approximation_mse"] < 1e-12);
            let e = extra["theta_delta.estimate"];
            assert!((extra["theta_delta.error"] - (e - 0.10)).abs() < 1e-15);
        }
    }
    let summary: meta_router::study::record::Summary =
        serde_json::from_slice(&summary_bytes(one.path())).unwrap();
    let row = summary
        .rows
        .iter()
        .find(|r| r.method == "DR" && r.metric == "theta_delta.coverage")
        .unwrap();
    assert_eq!(row.n, 3);
    let md = fs::read_to_string(one.path().join("summary.md")).unwrap();
    assert!(md.contains("### Inference"));
    assert!(one.path().join("coverage_theta_delta.png").exists());
}

/// Studies without `inference` keep their resolved spec free of the new keys.
#[test]
fn inference_keys_are_not_written_when_off() {
    let text = spec().resolved_toml();
    for key in [
        "inference",
        "level",
        "projection_columns",
        "truth_rows",
        "policy_cost",
    ] {
        assert!(!text.contains(key), "{key} in {text}");
    }
}

/// The paper's all-forest setting with the documented presets: the
/// R-learner (weight-aware leaves, the default) beats pooled on
/// healthbench-like at n_gold = 100 by more than 3 paired MCSEs in MSE of ψ̂
/// and in NEG area, while the same R-learner with row-count leaves
/// (`bias_leaf = "rows"`) is far worse than with the default.
#[test]
fn all_forest_r_learner_beats_pooled_and_needs_weight_aware_leaves() {
    let text = r#"
name = "forest-check"
seed = 8080
replicates = 8
[scenario]
name = "healthbench-like"
pool = 2500
n_test = 500
n_gold = 100
[evaluation]
rho = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
w = [0.0]
[[methods]]
label = "R"
method = "r-learner"
learner = { type = "forest", preset = "paper" }
bias_learner = { type = "forest", preset = "paper-bias-stage" }
[[methods]]
label = "R-rows"
method = "r-learner"
bias_leaf = "rows"
learner = { type = "forest", preset = "paper" }
bias_learner = { type = "forest", preset = "paper-bias-stage" }
[[methods]]
label = "pooled"
method = "pooled"
learner = { type = "forest", preset = "paper" }
"#;
    let spec = StudySpec::parse(text, "forest-check.toml").unwrap();
    assert!(
        spec.warnings
            .iter()
            .any(|w| w.contains("R-rows") && w.contains("bias_leaf")),
        "{:?}",
        spec.warnings
    );
    let tmp = tempfile::tempdir().unwrap();
    study::run(&spec, &options(tmp.path(), 2)).unwrap();
    let records = read_records(&tmp.path().join("replicates.jsonl"))
        .unwrap()
        .records;
    assert!(records.iter().all(|r| r.ok), "a fit failed");
    let (mean, mcse, _) = paired_difference(&records, 0, "R", "pooled", |m| m.mse_psi);
    let (mean, mcse) = (mean.unwrap(), mcse.unwrap());
    assert!(mean < -3.0 * mcse, "R − pooled, MSE: {mean:.5} ± {mcse:.5}");
    let (mean, mcse, _) = paired_difference(&records, 0, "R", "pooled", |m| m.neg_area);
    let (mean, mcse) = (mean.unwrap(), mcse.unwrap());
    assert!(
        mean > 3.0 * mcse,
        "R − pooled, NEG area: {mean:.5} ± {mcse:.5}"
    );
    let (mean, mcse, _) = paired_difference(&records, 0, "R", "R-rows", |m| m.mse_delta);
    let (mean, mcse) = (mean.unwrap(), mcse.unwrap());
    assert!(
        mean < -3.0 * mcse,
        "weight-aware − rows, MSE of Δ̂: {mean:.5} ± {mcse:.5}"
    );
    // The leaf fraction the rule chose is recorded.
    let leaf = records
        .iter()
        .find(|r| r.method == "R")
        .and_then(|r| r.diagnostics.get("bias.min_weight_leaf").copied())
        .unwrap();
    assert!(leaf > 0.005 && leaf < 0.05, "{leaf}");
}

const IN_SAMPLE: &str = r#"
name = "in-sample"
seed = 5
replicates = 1

[scenario]
name = "healthbench-like"
pool = 700
n_test = 100
n_gold = 100

[evaluation]
rho = [0.0, 1.0]
w = [0.0]
inference = ["theta_delta", "policy_value"]
truth_rows = 2000

[[methods]]
label = "DR in sample"
method = "dr-learner"
folds = 3
cross_fit = false
learner = { type = "ridge", basis = "linear" }
"#;

/// One eligibility rule (`inference::unsupported`): a DR-learner with
/// in-sample nuisances records no mean targets and a claim on them is
/// refused when the study is parsed; its policy value, which fits its own
/// cross-fitted nuisances on the evaluation half, is recorded.
#[test]
fn in_sample_nuisances_carry_only_the_policy_value() {
    let spec = StudySpec::parse(IN_SAMPLE, "in-sample.toml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    study::run(&spec, &options(dir.path(), 1)).unwrap();
    let records = timeless(dir.path());
    assert!(!records.is_empty());
    for r in &records {
        assert!(r.ok, "{:?}", r.error);
        assert!(r.metrics.extra.contains_key("policy_value.covered"));
        assert!(!r.metrics.extra.contains_key("theta_delta.covered"));
    }
    let claim = format!(
        "{IN_SAMPLE}\n[[expect]]\nmethod = \"DR in sample\"\nmetric = \"theta_delta.coverage\"\nwithin = [0.9, 1.0]\n"
    );
    let message = spec_error(&claim);
    assert!(message.contains("theta_delta.coverage"), "{message}");
    assert!(message.contains("expect[0]"), "{message}");
    assert!(message.contains("cross_fit = true"), "{message}");
}
