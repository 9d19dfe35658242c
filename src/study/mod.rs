//! Monte Carlo study engine: spec → grid → (grid point × replicate) units run
//! under rayon → records on disk → summary.
//!
//! # Algorithm
//! The engine owns looping, seeding, progress and persistence; estimators know
//! nothing of them, and the engine draws nothing (tables and figures are the
//! report layer's, which callers run on the returned [`RunOutcome`] while the
//! folder is still locked, then register with [`RunOutcome::publish`]).
//! - [`spec`]: a TOML file → a validated [`StudySpec`] (every method checked
//!   against every grid point's data and the machine's memory).
//! - [`schedule`]: units `(g, r)`, shards, the parallel loop, progress.
//! - `evaluate`: one unit: draw, fit and evaluate every method (paired).
//! - [`store`]: the study folder: lock, manifest, records file.
//! - [`summary`]: means and Monte Carlo SEs of the records.
//! - [`claims`]: the spec's `[[expect]]` claims judged on a summary.
//! - [`check`]: a run's summary against a baseline's, cell by cell.
//!
//! A unit's records are appended to `replicates.jsonl` in one write as soon as
//! it finishes, so an interrupted run loses at most the units in flight;
//! `--resume` drops a torn tail and incomplete units and runs only what is
//! missing. When the run ends, records are rewritten in canonical order and
//! summarized; the result depends only on the spec and the seed, never on the
//! thread count, the resume history or sharding (`merge` combines shards).

pub mod check;
pub mod claims;
mod evaluate;
mod inference;
mod merge;
pub mod rates;
pub mod record;
pub mod schedule;
pub mod spec;
pub mod store;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

pub use evaluate::run_unit;
#[doc(hidden)]
pub use evaluate::{TestingPerturbation, INJECTED_FAILURE};
pub(crate) use evaluate::{DELTA_BIAS, PROPENSITY_MSE};
pub use merge::merge;
pub use schedule::units;
pub(crate) use store::write_atomic;
pub use store::{read_records, RecordsFile};
pub use summary::paired_difference;

use crate::error::{Error, Result};
use record::{Record, Summary};
use spec::StudySpec;
use store::{Manifest, OpenFolder, OpenMode, RunInfo, Timing};

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Worker threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Continue an interrupted run in `out`.
    pub resume: bool,
    /// Replace the suite's files in an existing `out`.
    pub force: bool,
    /// Run only shard `(i, N)`, `1 ≤ i ≤ N`.
    pub shard: Option<(usize, usize)>,
    /// Show progress on standard error.
    pub progress: bool,
    /// Folders `--force` must never replace (e.g. the spec's own folder).
    pub protected: Vec<PathBuf>,
    /// Testing only: a deliberate error in one method's estimates (see
    /// [`TestingPerturbation`]); recorded in `run.json`.
    #[doc(hidden)]
    pub testing_perturbation: Option<TestingPerturbation>,
    /// Testing only: once the first unit's records are on disk, the run
    /// creates this file and waits (holding the records file, so every
    /// worker stops at its next write) until the file is removed — a run
    /// held open at a known point, for tests of concurrent commands without
    /// a race against a clock. The binary sets it from the hidden
    /// environment variable `META_ROUTER_TESTING_HOLD`.
    #[doc(hidden)]
    pub testing_hold: Option<PathBuf>,
}

/// Creates `hold` and waits until it is removed (see
/// [`RunOptions::testing_hold`]).
fn hold_until_released(hold: &Path) -> Result<()> {
    fs::write(hold, b"remove this file to let the run continue\n")
        .map_err(|c| Error::io(hold, c))?;
    while hold.exists() {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(())
}

/// What a command did to a study folder. The folder stays locked until this
/// value is dropped, so a caller can add its reports first.
#[derive(Debug)]
pub struct RunOutcome {
    /// The study folder.
    pub dir: PathBuf,
    /// Units computed in this run.
    pub units_run: usize,
    /// Units already on disk (resume).
    pub units_resumed: usize,
    /// Wall time of this run, seconds.
    pub seconds: f64,
    /// The summary written to `summary.json`.
    pub summary: Summary,
    /// Units of the study (or shard) missing from the records (only with
    /// `report --allow-partial`).
    pub units_missing: usize,
    manifest: Manifest,
    folder: Option<OpenFolder>,
}

impl RunOutcome {
    /// Registers the report files written into the folder (tables, figures)
    /// in the manifest, and removes report files an earlier run listed that
    /// are not among them (stale figures).
    pub fn publish(&mut self, files: &[PathBuf]) -> Result<()> {
        let names: BTreeSet<String> = files
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect();
        let core = core_files();
        for old in &self.manifest.files {
            if !core.contains(old.as_str()) && !names.contains(old) && !old.contains('/') {
                let _ = fs::remove_file(self.dir.join(old));
            }
        }
        let mut listed: BTreeSet<String> = self
            .manifest
            .files
            .iter()
            .filter(|f| core.contains(f.as_str()))
            .cloned()
            .collect();
        listed.extend(names);
        self.manifest.files = listed.into_iter().collect();
        store::write_manifest(&self.dir, &self.manifest)
    }
}

/// Files of the engine's own (not the report layer's).
fn core_files() -> BTreeSet<&'static str> {
    [
        store::SPEC_FILE,
        store::RECORDS_FILE,
        store::SUMMARY_FILE,
        store::MANIFEST_FILE,
        store::RUN_FILE,
        store::TIMINGS_FILE,
    ]
    .into_iter()
    .collect()
}

fn spec_text(spec: &StudySpec, shard: Option<(usize, usize)>) -> String {
    let mut text = spec.resolved_toml();
    if let Some((i, n)) = shard {
        text.insert_str(0, &format!("# shard {i}/{n}\n"));
    }
    text
}

/// Whether a stored spec text describes the same computation as `spec` on
/// the same shard: equal up to the claims (`[[expect]]`), which may change
/// between an interrupted run and its resume.
pub fn same_computation(stored: &str, spec: &StudySpec, shard: Option<(usize, usize)>) -> bool {
    let (stored_shard, body) = split_shard(stored);
    stored_shard == shard
        && StudySpec::parse(body, "spec.toml").is_ok_and(|s| s.spec_hash() == spec.spec_hash())
}

/// Splits a stored spec into its `# shard i/N` line (if any) and the spec.
fn split_shard(text: &str) -> (Option<(usize, usize)>, &str) {
    if let Some(rest) = text.strip_prefix("# shard ") {
        let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
        let shard = line
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        return (shard, body);
    }
    (None, text)
}

fn manifest_for(spec: &StudySpec, shard: Option<(usize, usize)>, files: &[&str]) -> Manifest {
    let mut files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    files.sort();
    Manifest {
        format: store::MANIFEST_FORMAT.into(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        study: spec.name.clone(),
        spec_hash: spec.spec_hash(),
        seed: spec.seed,
        replicates: spec.replicates,
        shard: shard.map(|(i, n)| format!("{i}/{n}")),
        units: units(spec, shard).len(),
        status: "running".into(),
        files,
    }
}

/// Checks `--threads` and `--shard` and builds the worker pool.
fn prepare_pool(spec: &StudySpec, options: &RunOptions) -> Result<(rayon::ThreadPool, usize)> {
    if let Some((i, n)) = options.shard {
        if n == 0 || i == 0 || i > n {
            return Err(Error::param(
                "shard",
                format!("{i}/{n}"),
                "expected i/N with 1 <= i <= N",
            ));
        }
    }
    let threads = options.threads.unwrap_or_else(rayon::current_num_threads);
    if threads == 0 || threads > spec::MAX_THREADS {
        return Err(Error::param(
            "threads",
            threads,
            format!("must lie between 1 and {}", spec::MAX_THREADS),
        ));
    }
    if let Some(p) = &options.testing_perturbation {
        if !spec.methods.iter().any(|m| m.label == p.method) || !p.psi_shift.is_finite() {
            return Err(Error::param(
                "testing_perturbation",
                format!("{} + {}", p.method, p.psi_shift),
                "needs a method label of the study and a finite shift",
            ));
        }
    }
    spec::check::check_run_memory(spec, threads)?;
    crate::linalg::verify_backend()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::param("threads", threads, e.to_string()))?;
    Ok((pool, threads))
}

/// The folder holding the spec file `spec` (`.` for a bare file name):
/// what [`RunOptions::protected`] lists so that `--force` never replaces it.
pub fn spec_folder(spec: &Path) -> PathBuf {
    match spec.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Runs (or resumes) a study into `options.out`: checks, locks the folder,
/// computes the missing units, writes records, `summary.json`, the manifest
/// and `run.json`. On an error, a folder this call created is removed again.
pub fn run(spec: &StudySpec, options: &RunOptions) -> Result<RunOutcome> {
    let started = Instant::now();
    let (pool, threads) = prepare_pool(spec, options)?;
    let mode = match (options.resume, options.force) {
        (true, _) => OpenMode::Resume,
        (false, true) => OpenMode::Force,
        (false, false) => OpenMode::Fresh,
    };
    let folder = OpenFolder::open(&options.out, mode, "simulate", &options.protected)?;
    match run_in(&folder, spec, options, &pool, threads, started) {
        Ok(mut outcome) => {
            outcome.folder = Some(folder);
            Ok(outcome)
        }
        Err(e) => {
            folder.abandon();
            Err(e)
        }
    }
}

fn run_in(
    folder: &OpenFolder,
    spec: &StudySpec,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    threads: usize,
    started: Instant,
) -> Result<RunOutcome> {
    let dir = &folder.dir;
    let spec_path = dir.join(store::SPEC_FILE);
    let records_path = dir.join(store::RECORDS_FILE);
    let text = spec_text(spec, options.shard);
    let existing = kept_records(dir, spec, options, &text)?;
    write_atomic(&spec_path, text.as_bytes())?;
    let mut manifest = manifest_for(
        spec,
        options.shard,
        &[store::SPEC_FILE, store::RECORDS_FILE, store::MANIFEST_FILE],
    );
    store::write_manifest(dir, &manifest)?;
    // Rewrite the kept records (drops a torn tail and incomplete units).
    write_atomic(&records_path, store::records_text(&existing).as_bytes())?;

    let done: BTreeSet<(usize, usize)> = existing
        .iter()
        .map(|r| (r.grid_index, r.replicate))
        .collect();
    let pending: Vec<(usize, usize)> = units(spec, options.shard)
        .into_iter()
        .filter(|u| !done.contains(u))
        .collect();
    let fit_seconds = run_pending(dir, spec, options, pool, &pending)?;

    let records = store::read_records(&records_path)?.records;
    let summary = finish(spec, dir, records)?;
    manifest.status = "complete".into();
    manifest.files = core_files().into_iter().map(str::to_string).collect();
    store::write_manifest(dir, &manifest)?;
    let seconds = started.elapsed().as_secs_f64();
    let perturbation = options.testing_perturbation.as_ref();
    let info = RunInfo {
        crate_version: env!("CARGO_PKG_VERSION").into(),
        git_revision: option_env!("META_ROUTER_GIT_REVISION").map(str::to_string),
        backend: Some(crate::linalg::BACKEND.to_string()),
        threads,
        units_run: pending.len(),
        units_resumed: done.len(),
        seconds,
        fit_seconds,
        testing_perturbation: perturbation.map(|p| {
            format!(
                "method `{}`: ψ̂ + {}, fit failures injected at replicates {:?} (a test run)",
                p.method, p.psi_shift, p.fail_replicates
            )
        }),
    };
    write_atomic(
        &dir.join(store::RUN_FILE),
        serde_json::to_string_pretty(&info)
            .expect("run info serializes")
            .as_bytes(),
    )?;
    Ok(RunOutcome {
        dir: dir.clone(),
        units_run: pending.len(),
        units_resumed: done.len(),
        seconds,
        summary,
        units_missing: 0,
        manifest,
        folder: None,
    })
}

/// The complete units already in `dir` that a run keeps: none unless
/// resuming; when resuming, the folder's spec must match `text` (or describe
/// the same computation) and a folder with records but no spec is refused.
fn kept_records(
    dir: &Path,
    spec: &StudySpec,
    options: &RunOptions,
    text: &str,
) -> Result<Vec<Record>> {
    let spec_path = dir.join(store::SPEC_FILE);
    let records_path = dir.join(store::RECORDS_FILE);
    let mut existing = Vec::new();
    if options.resume
        && !spec_path.exists()
        && (records_path.exists() || store::read_manifest(dir)?.is_some())
    {
        return Err(Error::study(
            dir,
            "holds a study's files but no spec.toml, so its records cannot be checked against \
             this spec; refusing to resume (restore spec.toml, use a new --out folder, or \
             --force to start over)",
        ));
    }
    if options.resume && spec_path.exists() {
        let stored = crate::files::read_text(&spec_path, spec::SPEC_FACTOR)?;
        if stored != text && !same_computation(&stored, spec, options.shard) {
            return Err(Error::study(
                dir,
                "the study spec (or shard) differs from the one this folder was started with; \
                 refusing to resume (use a new --out folder, or --force to start over)",
            ));
        }
        if records_path.exists() {
            existing = complete_units(store::read_records(&records_path)?.records, spec);
        }
    }
    Ok(existing)
}

/// Runs the `pending` units on `pool`, appending each finished unit's records
/// to `replicates.jsonl` and its fit times to `timings.jsonl` (started afresh
/// unless resuming); returns the summed fit seconds.
fn run_pending(
    dir: &Path,
    spec: &StudySpec,
    options: &RunOptions,
    pool: &rayon::ThreadPool,
    pending: &[(usize, usize)],
) -> Result<f64> {
    let records_path = dir.join(store::RECORDS_FILE);
    let open_append = |path: &Path| crate::files::open_append(path);
    let timings_path = dir.join(store::TIMINGS_FILE);
    if !options.resume {
        let _ = fs::remove_file(&timings_path);
    }
    let files = Mutex::new((
        open_append(&records_path)?,
        open_append(&timings_path)?,
        options.testing_hold.clone(),
    ));
    let fit_seconds = Mutex::new(0.0);
    let perturbation = options.testing_perturbation.as_ref();
    schedule::execute(
        spec,
        pending,
        pool,
        options.progress,
        perturbation,
        |unit| {
            let (lines, times, unit_seconds) = unit_lines(&unit);
            let mut files = files.lock().expect("records lock");
            files
                .0
                .write_all(lines.as_bytes())
                .and_then(|_| files.0.flush())
                .map_err(|c| Error::io(&records_path, c))?;
            files
                .1
                .write_all(times.as_bytes())
                .map_err(|c| Error::io(&timings_path, c))?;
            *fit_seconds.lock().expect("time lock") += unit_seconds;
            if let Some(hold) = files.2.take() {
                hold_until_released(&hold)?;
            }
            Ok(())
        },
    )?;
    drop(files);
    Ok(fit_seconds.into_inner().expect("time lock"))
}

/// One unit's records as JSON lines, its timings as JSON lines, and its
/// summed fit seconds (in method order).
fn unit_lines(unit: &[(Record, f64)]) -> (String, String, f64) {
    let (mut lines, mut times) = (String::new(), String::new());
    let mut unit_seconds = 0.0;
    for (record, seconds) in unit {
        lines.push_str(&serde_json::to_string(record).expect("records serialize"));
        lines.push('\n');
        let timing = Timing {
            grid_index: record.grid_index,
            replicate: record.replicate,
            method: record.method.clone(),
            seconds: *seconds,
        };
        times.push_str(&serde_json::to_string(&timing).expect("timings serialize"));
        times.push('\n');
        unit_seconds += seconds;
    }
    (lines, times, unit_seconds)
}

/// Sorts records, rewrites `replicates.jsonl` canonically and writes
/// `summary.json`; returns the summary.
fn finish(spec: &StudySpec, dir: &Path, mut records: Vec<Record>) -> Result<Summary> {
    let methods = spec.method_labels();
    summary::sort_records(&mut records, &methods);
    write_atomic(
        &dir.join(store::RECORDS_FILE),
        store::records_text(&records).as_bytes(),
    )?;
    let summary = summary::summarize(spec, &records);
    let mut text = serde_json::to_string_pretty(&summary).expect("summary serializes");
    text.push('\n');
    write_atomic(&dir.join(store::SUMMARY_FILE), text.as_bytes())?;
    Ok(summary)
}

/// Records of the units that hold every method of the spec (and belong to it).
fn complete_units(records: Vec<Record>, spec: &StudySpec) -> Vec<Record> {
    let labels: BTreeSet<String> = spec.method_labels().into_iter().collect();
    let mut per_unit: BTreeMap<(usize, usize), Vec<Record>> = BTreeMap::new();
    for r in records {
        per_unit
            .entry((r.grid_index, r.replicate))
            .or_default()
            .push(r);
    }
    per_unit
        .into_iter()
        .filter(|((g, r), recs)| {
            let present: BTreeSet<&String> = recs.iter().map(|x| &x.method).collect();
            *g < spec.points.len()
                && *r < spec.replicates
                && recs.len() == labels.len()
                && labels.iter().all(|l| present.contains(l))
        })
        .flat_map(|(_, recs)| recs)
        .collect()
}

/// How far a study folder (a whole run or one shard) has come.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderProgress {
    /// The shard `(i, N)` the folder holds, if it is one.
    pub shard: Option<(usize, usize)>,
    /// Units the folder is meant to hold.
    pub expected: usize,
    /// Units whose records are all in.
    pub done: usize,
    /// The live process writing the folder, if any (its lock line).
    pub holder: Option<String>,
    /// The manifest says `complete` and every unit is in.
    pub complete: bool,
}

/// The progress of a study folder from its `spec.toml`, records, manifest
/// and lock; `None` when the folder or its `spec.toml` does not exist.
pub fn folder_progress(dir: &Path) -> Result<Option<FolderProgress>> {
    let spec_path = dir.join(store::SPEC_FILE);
    if !spec_path.exists() {
        return Ok(None);
    }
    let text = crate::files::read_text(&spec_path, spec::SPEC_FACTOR)?;
    let (shard, body) = split_shard(&text);
    let spec = StudySpec::parse(body, &spec_path.display().to_string())?;
    let expected = units(&spec, shard).len();
    let records_path = dir.join(store::RECORDS_FILE);
    let done = if records_path.exists() {
        let kept = complete_units(store::read_records(&records_path)?.records, &spec);
        kept.iter()
            .map(|r| (r.grid_index, r.replicate))
            .collect::<BTreeSet<_>>()
            .len()
    } else {
        0
    };
    let holder = store::lock_holder(dir)?;
    let complete =
        done == expected && store::read_manifest(dir)?.is_some_and(|m| m.status == "complete");
    Ok(Some(FolderProgress {
        shard,
        expected,
        done,
        holder,
        complete,
    }))
}

/// Rebuilds `summary.json` of a study folder from its `spec.toml` and
/// `replicates.jsonl` alone. Refuses (leaving the folder untouched) when there
/// are no records, or when units are missing or the file has a torn tail,
/// unless `allow_partial`; [`RunOutcome::units_missing`] then says how many.
pub fn summarize_folder(dir: &Path, allow_partial: bool) -> Result<RunOutcome> {
    let started = Instant::now();
    let spec_path = dir.join(store::SPEC_FILE);
    if !spec_path.is_file() {
        return Err(Error::study(
            dir,
            "not a study folder (no spec.toml); nothing to report",
        ));
    }
    let folder = OpenFolder::open(dir, OpenMode::Resume, "report", &[])?;
    let text = crate::files::read_text(&spec_path, spec::SPEC_FACTOR)?;
    let (shard, body) = split_shard(&text);
    let spec = StudySpec::parse(body, &spec_path.display().to_string())?;
    let records_path = dir.join(store::RECORDS_FILE);
    if !records_path.is_file() {
        return Err(Error::study(
            dir,
            "has no replicates.jsonl, so there is nothing to summarize; summary.json and the \
             figures were left as they are (re-run the study to regenerate them)",
        ));
    }
    let file = store::read_records(&records_path)?;
    let expected = units(&spec, shard);
    let complete = complete_units(file.records.clone(), &spec);
    let present: BTreeSet<(usize, usize)> = complete
        .iter()
        .map(|r| (r.grid_index, r.replicate))
        .collect();
    let missing = expected.iter().filter(|u| !present.contains(u)).count();
    if (missing > 0 || file.torn_bytes > 0) && !allow_partial {
        return Err(Error::study(
            dir,
            format!(
                "the records are incomplete: {missing} of {} units missing{}; finish the run with \
                 `simulate --resume`, or pass --allow-partial to summarize what is there",
                expected.len(),
                if file.torn_bytes > 0 {
                    format!(", and a torn tail of {} bytes", file.torn_bytes)
                } else {
                    String::new()
                }
            ),
        ));
    }
    let records = if allow_partial {
        file.records
    } else {
        complete
    };
    let summary = finish(&spec, dir, records)?;
    let mut manifest = store::read_manifest(dir)?
        .filter(|m| m.format == store::MANIFEST_FORMAT)
        .unwrap_or_else(|| manifest_for(&spec, shard, &[]));
    manifest.status = if missing == 0 { "complete" } else { "partial" }.into();
    let mut files: BTreeSet<String> = manifest.files.iter().cloned().collect();
    files.extend(
        [
            store::SPEC_FILE,
            store::RECORDS_FILE,
            store::SUMMARY_FILE,
            store::MANIFEST_FILE,
        ]
        .map(String::from),
    );
    manifest.files = files.into_iter().collect();
    store::write_manifest(dir, &manifest)?;
    Ok(RunOutcome {
        dir: dir.to_path_buf(),
        units_run: 0,
        units_resumed: 0,
        seconds: started.elapsed().as_secs_f64(),
        summary,
        units_missing: missing,
        manifest,
        folder: Some(folder),
    })
}
