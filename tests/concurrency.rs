//! One writer per study folder: while a run writes a folder, a second
//! `simulate` (fresh, `--force` or `--resume`), `report` and `merge --force`
//! into it are refused, and the first run loses no record.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = r#"
name = "busy"
seed = 3
replicates = 40

[scenario]
name = "healthbench-like"
pool = 2000
n_test = 300

[grid]
n_gold = [100]

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
"#;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_meta-router"))
}

fn simulate(spec: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = binary();
    command
        .arg("simulate")
        .arg(spec)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--threads", "1"])
        .stdout(Stdio::null())
        .args(extra);
    command
}

fn refused(mut command: Command) -> String {
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is in use by another meta-router process"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`simulate`"),
        "the holder is named: {stderr}"
    );
    stderr
}

#[test]
fn a_second_writer_is_refused_and_no_record_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("busy.toml");
    fs::write(&spec, SPEC).unwrap();
    let out = tmp.path().join("out");
    let mut first = simulate(&spec, &out, &[])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock and has written a record.
    let started = Instant::now();
    while !(out.join(".meta-router.lock").exists()
        && fs::metadata(out.join("replicates.jsonl")).is_ok_and(|m| m.len() > 0))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    refused(simulate(&spec, &out, &["--force"]));
    refused(simulate(&spec, &out, &["--resume"]));
    refused(simulate(&spec, &out, &[]));
    let mut report = binary();
    report.arg("report").arg(&out);
    refused(report);
    let status = first.wait().unwrap();
    assert!(status.success(), "the first run failed");
    assert!(!out.join(".meta-router.lock").exists());
    // Every record is there, and the result is the one an undisturbed run gives.
    let records = fs::read_to_string(out.join("replicates.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 40 * 2);
    let alone = tmp.path().join("alone");
    assert!(simulate(&spec, &alone, &[]).status().unwrap().success());
    assert_eq!(
        fs::read(out.join("summary.json")).unwrap(),
        fs::read(alone.join("summary.json")).unwrap()
    );
    assert_eq!(
        records,
        fs::read_to_string(alone.join("replicates.jsonl")).unwrap()
    );
}

/// A run killed with SIGKILL leaves its lock file; the next writer takes it
/// over and `--resume` completes the study to the same bytes.
#[cfg(unix)]
#[test]
fn a_killed_run_leaves_no_lock_that_blocks_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("busy.toml");
    fs::write(&spec, SPEC).unwrap();
    let out = tmp.path().join("out");
    let mut first = simulate(&spec, &out, &[]).spawn().unwrap();
    let started = Instant::now();
    while fs::metadata(out.join("replicates.jsonl")).map_or(0, |m| m.len()) < 2000 {
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        out.join(".meta-router.lock").exists(),
        "kill -9 leaves the file"
    );
    assert!(simulate(&spec, &out, &["--resume"])
        .status()
        .unwrap()
        .success());
    let alone = tmp.path().join("alone");
    assert!(simulate(&spec, &alone, &[]).status().unwrap().success());
    assert_eq!(
        fs::read(out.join("summary.json")).unwrap(),
        fs::read(alone.join("summary.json")).unwrap()
    );
}
