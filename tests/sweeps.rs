//! Sweeps over method settings: a swept study runs the same numbers as the
//! hand-written methods it stands for, does not depend on the thread count,
//! and `check` compares it and evaluates a claim that selects a variant by
//! its setting.

use std::fs;
use std::path::Path;
use std::process::Command;

use meta_router::study::record::{Record, Summary};
use meta_router::study::spec::StudySpec;
use meta_router::study::{self, read_records, RunOptions};

const HEAD: &str = r#"
name = "swept"
seed = 11
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
"#;

const SWEPT_METHODS: &str = r#"
[[methods]]
label = "R"
method = "r-learner"
folds = 3
learner = { type = "ridge", basis = "linear" }
sweep = { pref_weight = [0.5, 2.0], "learner.penalty" = [0.1, 10.0] }

[[methods]]
label = "DR"
method = "dr-learner"
learner = { type = "ridge", basis = "linear" }
[methods.sweep]
normalize = ["none", "variance"]

[[methods]]
label = "pooled"
method = "pooled"
learner = { type = "ridge", basis = "linear" }

[[expect]]
method = "DR"
setting = { normalize = "none" }
better_than = "pooled"
metric = "mse_psi"
grid = { n_gold = 60 }

[[expect]]
method = "R"
setting = { pref_weight = 2.0, "learner.penalty" = 10.0 }
metric = "mse_psi"
within = [0.0, 100.0]
"#;

/// The same methods written out by hand, under the variants' labels.
fn hand_written() -> String {
    let mut text = HEAD.to_string();
    for penalty in ["0.1", "10.0"] {
        for weight in ["0.5", "2.0"] {
            text.push_str(&format!(
                "\n[[methods]]\nlabel = \"R learner.penalty={penalty} pref_weight={weight}\"\n\
                 method = \"r-learner\"\nfolds = 3\npref_weight = {weight}\n\
                 learner = {{ type = \"ridge\", basis = \"linear\", penalty = {penalty} }}\n"
            ));
        }
    }
    for normalize in ["none", "variance"] {
        text.push_str(&format!(
            "\n[[methods]]\nlabel = \"DR normalize={normalize}\"\nmethod = \"dr-learner\"\n\
             normalize = \"{normalize}\"\nlearner = {{ type = \"ridge\", basis = \"linear\" }}\n"
        ));
    }
    text.push_str(
        "\n[[methods]]\nlabel = \"pooled\"\nmethod = \"pooled\"\n\
         learner = { type = \"ridge\", basis = \"linear\" }\n",
    );
    text
}

fn swept() -> StudySpec {
    StudySpec::parse(&format!("{HEAD}{SWEPT_METHODS}"), "swept.toml").unwrap()
}

fn run(spec: &StudySpec, dir: &Path, threads: usize) {
    let options = RunOptions {
        out: dir.to_path_buf(),
        threads: Some(threads),
        ..RunOptions::default()
    };
    study::run(spec, &options).unwrap();
}

fn records(dir: &Path) -> Vec<Record> {
    read_records(&dir.join("replicates.jsonl")).unwrap().records
}

#[test]
fn a_swept_study_equals_its_hand_written_methods_and_ignores_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = swept();
    assert_eq!(spec.methods.len(), 7);
    let (one, two, hand) = (
        tmp.path().join("one"),
        tmp.path().join("two"),
        tmp.path().join("hand"),
    );
    run(&spec, &one, 1);
    run(&spec, &two, 2);
    let swept_records = records(&one);
    assert_eq!(swept_records.len(), 8 * 7);
    assert!(swept_records.iter().all(|r| r.ok));
    assert_eq!(swept_records, records(&two));
    assert_eq!(
        fs::read(one.join("summary.json")).unwrap(),
        fs::read(two.join("summary.json")).unwrap()
    );
    // Records carry the setting of their variant, and nothing for pooled.
    let r = swept_records
        .iter()
        .find(|r| r.method == "R learner.penalty=10.0 pref_weight=0.5")
        .unwrap();
    assert_eq!(
        serde_json::to_value(&r.setting).unwrap(),
        serde_json::json!({"learner.penalty": 10.0, "pref_weight": 0.5})
    );
    let pooled = swept_records.iter().find(|r| r.method == "pooled").unwrap();
    assert!(pooled.setting.is_empty());
    let line = fs::read_to_string(one.join("replicates.jsonl")).unwrap();
    assert!(line
        .lines()
        .filter(|l| l.contains("\"method\":\"pooled\""))
        .all(|l| !l.contains("setting")));
    // The summary lists the variants with their family and setting.
    let summary: Summary =
        serde_json::from_slice(&fs::read(one.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary.provenance.sweeps.len(), 6);
    assert_eq!(summary.provenance.sweeps[4].method, "DR normalize=none");
    assert_eq!(summary.provenance.sweeps[4].family, "DR");
    // The hand-written methods give the same numbers.
    let hand_spec = StudySpec::parse(&hand_written(), "hand.toml").unwrap();
    assert_eq!(hand_spec.method_labels(), spec.method_labels());
    run(&hand_spec, &hand, 2);
    let hand_records = records(&hand);
    assert_eq!(hand_records.len(), swept_records.len());
    for (a, b) in swept_records.iter().zip(&hand_records) {
        assert_eq!(
            (&a.method, a.grid_index, a.replicate),
            (&b.method, b.grid_index, b.replicate)
        );
        assert_eq!(a.metrics, b.metrics, "{}", a.method);
        assert_eq!(a.diagnostics, b.diagnostics, "{}", a.method);
    }
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meta-router"))
}

#[test]
fn check_compares_a_swept_study_and_judges_a_claim_by_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("swept.toml");
    fs::write(&file, format!("{HEAD}{SWEPT_METHODS}")).unwrap();
    let out = tmp.path().join("run");
    let status = binary()
        .args([
            "simulate",
            file.to_str().unwrap(),
            "--quiet",
            "--threads",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    // The swept-setting figures are drawn for the family that sweeps one
    // key (DR); R sweeps two keys at once and has none.
    for stem in [
        "neg_area_vs_normalize",
        "mse_psi_vs_normalize",
        "mse_delta_vs_normalize",
    ] {
        assert!(out.join(format!("{stem}.svg")).exists(), "{stem}");
    }
    assert!(!out.join("mse_psi_vs_pref_weight.svg").exists());
    let output = binary()
        .args([
            "check",
            out.to_str().unwrap(),
            "--baseline",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("DR normalize=none beats pooled"),
        "the claim by setting is evaluated: {stdout}"
    );
    assert!(
        stdout.contains("R learner.penalty=10.0 pref_weight=2.0"),
        "{stdout}"
    );
    // A claim on a value the sweep does not have is refused with its key.
    let bad = format!("{HEAD}{SWEPT_METHODS}")
        .replace("normalize = \"none\" }", "normalize = \"magnitude\" }");
    fs::write(&file, bad).unwrap();
    let output = binary()
        .args(["simulate", file.to_str().unwrap(), "--quiet"])
        .arg("--out")
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("key `expect[0].setting.normalize`"),
        "{stderr}"
    );
    assert!(stderr.contains("line 39"), "{stderr}");
    assert!(!tmp.path().join("bad").exists());
}
