//! One writer per study folder: while a run writes a folder, a second
//! `simulate` (fresh, `--force` or `--resume`), `report` and `merge --force`
//! into it are refused, and the first run loses no record.
//!
//! Nothing here races a clock: the first run is held open at a known point
//! by the hidden test hook `META_ROUTER_TESTING_HOLD=FILE` (once its first
//! unit's records are on disk it creates FILE and waits until FILE is
//! removed), so the refused commands always land while it holds the folder,
//! and a kill always hits a run with some records and not all.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SPEC: &str = r#"
name = "busy"
seed = 3
replicates = 6

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

/// The hidden environment variable of the hold hook (`src/main.rs`).
const HOLD: &str = "META_ROUTER_TESTING_HOLD";

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meta-router"));
    command.env_remove(HOLD);
    command
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

/// Starts a run held open after its first unit (the file `hold` then
/// exists); fails if the run ends before it gets there.
fn start_held(spec: &Path, out: &Path, hold: &Path) -> Child {
    let mut child = simulate(spec, out, &[])
        .env(HOLD, hold)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while !hold.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            panic!("the run ended ({status}) before it was held: {stderr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child
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
    let hold = tmp.path().join("hold");
    let first = start_held(&spec, &out, &hold);
    // Held: the lock is taken and exactly one unit (two records) is written.
    assert!(out.join(".meta-router.lock").exists());
    let written = fs::read_to_string(out.join("replicates.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 2);
    refused(simulate(&spec, &out, &["--force"]));
    refused(simulate(&spec, &out, &["--resume"]));
    refused(simulate(&spec, &out, &[]));
    let mut report = binary();
    report.arg("report").arg(&out);
    refused(report);
    let mut merge = binary();
    merge
        .arg("merge")
        .arg(&out)
        .arg("--out")
        .arg(&out)
        .arg("--force");
    // Merging into a folder being merged is refused before any lock is
    // taken; the held run's records are untouched either way.
    let output = merge.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is one of the folders being merged"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(out.join("replicates.jsonl")).unwrap(),
        written
    );
    fs::remove_file(&hold).unwrap();
    let output = first.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the first run failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!out.join(".meta-router.lock").exists());
    // Every record is there, and the result is the one an undisturbed run gives.
    let records = fs::read_to_string(out.join("replicates.jsonl")).unwrap();
    assert_eq!(records.lines().count(), 6 * 2);
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

/// A run killed with SIGKILL (while held, so with one unit of six written)
/// leaves its lock file; the next writer takes it over and `--resume`
/// completes the study to the same bytes.
#[cfg(unix)]
#[test]
fn a_killed_run_leaves_no_lock_that_blocks_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("busy.toml");
    fs::write(&spec, SPEC).unwrap();
    let out = tmp.path().join("out");
    let hold = tmp.path().join("hold");
    let mut first = start_held(&spec, &out, &hold);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        out.join(".meta-router.lock").exists(),
        "kill -9 leaves the file"
    );
    let partial = fs::read_to_string(out.join("replicates.jsonl")).unwrap();
    assert_eq!(partial.lines().count(), 2, "one unit of six was written");
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
