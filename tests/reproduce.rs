//! `meta-router reproduce all --quick` runs every paper study (one replicate
//! per grid point) and draws every figure and the tables.
//!
//! About 2 minutes of CPU; it exercises the command, not the linear-algebra
//! backend, so the `openblas` test runs of CI skip it.

use std::process::Command;

#[test]
#[cfg_attr(
    feature = "openblas",
    ignore = "backend-independent; run by the default test run"
)]
fn reproduce_all_quick_draws_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("paper");
    let result = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(["reproduce", "all", "--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    for name in [
        "fig1",
        "fig2",
        "fig3",
        "fig4",
        "ablation_script",
        "ablation_assembly",
        "ablation_leaf",
        "ablation_normalize",
        "ablation_lambda",
        "ablation_bias_learner",
        "ablation_dr_leaf",
        "ablation_dr_leaf_boosting",
        "ablation_dr_second_stage",
        "ablation_dr_robustness",
        "paired_fig1",
        "paired_ablation_leaf",
    ] {
        for ext in ["png", "svg"] {
            let path = out.join(format!("{name}.{ext}"));
            assert!(path.is_file(), "{} missing", path.display());
        }
    }
    let tables = std::fs::read_to_string(out.join("tables.md")).unwrap();
    for heading in ["Fig. 1", "Fig. 2", "Fig. 3", "Fig. 4", "ablation_script"] {
        assert!(tables.contains(heading), "{heading} missing from tables.md");
    }
    assert!(!tables.contains("NaN"));
    // Every study folder is complete and a second run resumes without work.
    let again = Command::new(env!("CARGO_BIN_EXE_meta-router"))
        .args(["reproduce", "fig4", "--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 units run"));
}
