//! Monte Carlo study engine: spec → grid → (grid point × replicate) units run
//! under rayon → records on disk → summary, report.
//!
//! # Algorithm
//! The engine owns looping, seeding, progress and persistence; estimators know
//! nothing of them. Unit `(g, r)` draws its data from
//! `rng::stream(seed, g, r, Data)`; every method of the unit sees the same data
//! (paired design) and the same fold and learner seeds
//! (`rng::seed_for(seed, g, r, Folds | Learner)`). A unit's records are appended
//! to `replicates.jsonl` in one write as soon as it finishes, so an interrupted
//! run loses at most the units in flight; `--resume` drops a torn last line and
//! incomplete units and runs only what is missing. When the run ends, records
//! are rewritten in canonical order and summarized ([`summary`]); the result
//! depends only on the spec and the seed, never on the thread count, the resume
//! history or sharding (`--shard i/N` runs units `u` with `u mod N = i − 1`,
//! where `u = g·R + r`; `merge` combines shards).
//!
//! Outputs in the study folder: `spec.toml` (resolved), `replicates.jsonl`,
//! `summary.json`, `summary.md`, figures, `manifest.json` (version, git
//! revision, seed, threads, timings). Summary files are written to a temporary
//! name and renamed, so no half-written result file is left behind.

mod inference;
pub mod record;
pub mod spec;
pub mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use ndarray::Array1;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dgp::SimulatedData;
use crate::error::{Error, Result};
use crate::meta::{fit_single, FitSeeds};
use crate::rng::{seed_for, stream, Purpose};
use crate::routing;
use record::{Metrics, Record, Summary};
use spec::{MethodKind, MethodSpec, StudySpec};

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Worker threads (`None`: rayon's default, one per core).
    pub threads: Option<usize>,
    /// Continue an interrupted run in `out`.
    pub resume: bool,
    /// Replace an existing `out`.
    pub force: bool,
    /// Run only shard `(i, N)`, `1 ≤ i ≤ N`.
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The study folder.
    pub dir: PathBuf,
    /// Units computed in this run.
    pub units_run: usize,
    /// Units already on disk (resume).
    pub units_resumed: usize,
    /// Wall time of this run, seconds.
    pub seconds: f64,
    /// The summary written.
    pub summary: Summary,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Crate version.
    pub crate_version: String,
    /// Git revision at build time, when known.
    pub git_revision: Option<String>,
    /// Study name.
    pub study: String,
    /// Master seed.
    pub seed: u64,
    /// Worker threads.
    pub threads: usize,
    /// Shard `i/N`, if any.
    pub shard: Option<String>,
    /// Units in the study (or shard).
    pub units_total: usize,
    /// Units computed by the last run.
    pub units_run: usize,
    /// Units taken from disk by the last run.
    pub units_resumed: usize,
    /// Wall time of the last run, seconds.
    pub seconds: f64,
    /// Sum of per-record fit seconds over all records.
    pub fit_seconds: f64,
}

const SPEC_FILE: &str = "spec.toml";
const RECORDS_FILE: &str = "replicates.jsonl";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `contents` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    fs::write(&tmp, contents).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

fn spec_text(spec: &StudySpec, shard: Option<(usize, usize)>) -> String {
    let mut text = spec.resolved_toml();
    if let Some((i, n)) = shard {
        text.insert_str(0, &format!("# shard {i}/{n}\n"));
    }
    text
}

/// Strips a `# shard i/N` first line (for merging).
fn strip_shard(text: &str) -> &str {
    if text.starts_with("# shard ") {
        text.split_once('\n').map(|(_, rest)| rest).unwrap_or("")
    } else {
        text
    }
}

/// The units (grid index, replicate) of a study or shard.
pub fn units(spec: &StudySpec, shard: Option<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut all = Vec::new();
    for g in 0..spec.points.len() {
        for r in 0..spec.replicates {
            let u = g * spec.replicates + r;
            if shard.is_none_or(|(i, n)| u % n == i - 1) {
                all.push((g, r));
            }
        }
    }
    all
}

/// Runs (or resumes) a study.
pub fn run(spec: &StudySpec, options: &RunOptions) -> Result<RunOutcome> {
    let started = Instant::now();
    if let Some((i, n)) = options.shard {
        if n == 0 || i == 0 || i > n {
            return Err(Error::param(
                "shard",
                format!("{i}/{n}"),
                "expected i/N with 1 <= i <= N",
            ));
        }
    }
    let dir = options.out.clone();
    let spec_path = dir.join(SPEC_FILE);
    let records_path = dir.join(RECORDS_FILE);
    let text = spec_text(spec, options.shard);
    let method_labels: Vec<String> = spec.methods.iter().map(|m| m.label.clone()).collect();

    let mut existing = Vec::new();
    if dir.exists() && fs::read_dir(&dir).map_err(io_err(&dir))?.next().is_some() {
        if options.resume {
            let stored = fs::read_to_string(&spec_path).map_err(io_err(&spec_path))?;
            if stored != text {
                return Err(Error::Spec {
                    file: spec_path.display().to_string(),
                    location: String::new(),
                    message: "the study spec (or shard) differs from the one this folder was started with; \
                              refusing to resume (use a new --out folder, or --force to start over)"
                        .into(),
                });
            }
            existing = load_complete_units(&records_path, spec)?;
        } else if options.force {
            fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        } else {
            return Err(Error::Io {
                path: dir.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the results folder exists and is not empty; use --resume to continue it or --force to replace it",
                ),
            });
        }
    }
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    write_atomic(&spec_path, text.as_bytes())?;
    // Rewrite the kept records (drops a torn line and incomplete units).
    let mut kept_text = String::new();
    for r in &existing {
        kept_text.push_str(&serde_json::to_string(r).expect("records serialize"));
        kept_text.push('\n');
    }
    write_atomic(&records_path, kept_text.as_bytes())?;

    let done: BTreeSet<(usize, usize)> = existing
        .iter()
        .map(|r| (r.grid_index, r.replicate))
        .collect();
    let pending: Vec<(usize, usize)> = units(spec, options.shard)
        .into_iter()
        .filter(|u| !done.contains(u))
        .collect();
    let units_resumed = done.len();

    let file = fs::OpenOptions::new()
        .append(true)
        .open(&records_path)
        .map_err(io_err(&records_path))?;
    let writer = Mutex::new(file);
    let progress = progress_bar(options.progress, pending.len());
    let threads = options.threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::param("threads", threads, e.to_string()))?;
    let write_result: Result<()> = pool.install(|| {
        pending.par_iter().try_for_each(|&(g, r)| {
            let records = run_unit(spec, g, r);
            let mut lines = String::new();
            for record in &records {
                lines.push_str(&serde_json::to_string(record).expect("records serialize"));
                lines.push('\n');
            }
            let mut file = writer.lock().expect("writer lock");
            file.write_all(lines.as_bytes())
                .and_then(|_| file.flush())
                .map_err(io_err(&records_path))?;
            progress.inc(1);
            Ok(())
        })
    });
    progress.finish_and_clear();
    write_result?;
    drop(writer);

    let records = read_records(&records_path)?.0;
    let summary = finish(spec, &dir, records, &method_labels)?;
    let seconds = started.elapsed().as_secs_f64();
    let manifest = Manifest {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        git_revision: option_env!("META_ROUTER_GIT_REVISION").map(str::to_string),
        study: spec.name.clone(),
        seed: spec.seed,
        threads,
        shard: options.shard.map(|(i, n)| format!("{i}/{n}")),
        units_total: units(spec, options.shard).len(),
        units_run: pending.len(),
        units_resumed,
        seconds,
        fit_seconds: read_records(&records_path)?
            .0
            .iter()
            .map(|r| r.seconds)
            .sum(),
    };
    write_atomic(
        &dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)
            .expect("manifest serializes")
            .as_bytes(),
    )?;
    Ok(RunOutcome {
        dir,
        units_run: pending.len(),
        units_resumed,
        seconds,
        summary,
    })
}

fn progress_bar(enabled: bool, len: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} units  elapsed {elapsed}  eta {eta}",
        )
        .expect("static template"),
    );
    bar
}

/// Sorts records, rewrites `replicates.jsonl` canonically, writes
/// `summary.json`, `summary.md` and the figures; returns the summary.
fn finish(
    spec: &StudySpec,
    dir: &Path,
    mut records: Vec<Record>,
    methods: &[String],
) -> Result<Summary> {
    summary::sort_records(&mut records, methods);
    let mut text = String::new();
    for r in &records {
        text.push_str(&serde_json::to_string(r).expect("records serialize"));
        text.push('\n');
    }
    write_atomic(&dir.join(RECORDS_FILE), text.as_bytes())?;
    write_reports(spec, dir, &records)
}

/// Writes `summary.json`, `summary.md` and the figures from records.
pub fn write_reports(spec: &StudySpec, dir: &Path, records: &[Record]) -> Result<Summary> {
    let methods: Vec<String> = spec.methods.iter().map(|m| m.label.clone()).collect();
    let summary = summary::summarize(
        &spec.name,
        spec.seed,
        spec.replicates,
        &spec.evaluation.rho,
        &spec.evaluation.w,
        &methods,
        records,
    );
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)
            .expect("summary serializes")
            .as_bytes(),
    )?;
    write_atomic(
        &dir.join("summary.md"),
        crate::report::markdown(&summary).as_bytes(),
    )?;
    crate::report::figures(&summary, dir)?;
    Ok(summary)
}

/// Reads `replicates.jsonl`. A torn (unparsable, unterminated) last line is
/// dropped and reported in the second value; any other bad line is an error
/// naming its line number.
pub fn read_records(path: &Path) -> Result<(Vec<Record>, bool)> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut records = Vec::new();
    let mut torn = false;
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(_) if i == lines.len() - 1 && !text.ends_with('\n') => torn = true,
            Err(e) => {
                return Err(Error::Parse {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok((records, torn))
}

/// Records of units that hold every method of the spec (and belong to it).
fn load_complete_units(path: &Path, spec: &StudySpec) -> Result<Vec<Record>> {
    let (records, _torn) = read_records(path)?;
    let n_methods = spec.methods.len();
    let mut per_unit: BTreeMap<(usize, usize), Vec<Record>> = BTreeMap::new();
    for r in records {
        per_unit
            .entry((r.grid_index, r.replicate))
            .or_default()
            .push(r);
    }
    Ok(per_unit
        .into_iter()
        .filter(|((g, r), recs)| {
            let labels: BTreeSet<&str> = recs.iter().map(|x| x.method.as_str()).collect();
            *g < spec.points.len()
                && *r < spec.replicates
                && recs.len() == n_methods
                && spec
                    .methods
                    .iter()
                    .all(|m| labels.contains(m.label.as_str()))
        })
        .flat_map(|(_, recs)| recs)
        .collect())
}

/// Computes every method's record for unit `(g, r)`.
pub fn run_unit(spec: &StudySpec, g: usize, r: usize) -> Vec<Record> {
    let point = &spec.points[g];
    let seeds = FitSeeds {
        folds: seed_for(spec.seed, g as u64, r as u64, Purpose::Folds),
        learner: seed_for(spec.seed, g as u64, r as u64, Purpose::Learner),
    };
    let data = point.scenario.build().and_then(|scenario| {
        scenario.draw(&mut stream(spec.seed, g as u64, r as u64, Purpose::Data))
    });
    spec.methods
        .iter()
        .map(|method| {
            let started = Instant::now();
            let outcome = match &data {
                Ok(data) => evaluate_method(spec, method, data, seeds, (g, r)),
                Err(e) => Err(Error::Unsupported {
                    learner: "scenario".into(),
                    what: format!("draw data: {e}"),
                }),
            };
            let seconds = started.elapsed().as_secs_f64();
            let (ok, error, metrics, diagnostics) = match outcome {
                Ok((metrics, diagnostics)) => (true, None, metrics, diagnostics),
                Err(e) => (
                    false,
                    Some(e.to_string()),
                    Metrics::default(),
                    BTreeMap::new(),
                ),
            };
            Record {
                grid: point.values.clone(),
                grid_index: g,
                replicate: r,
                method: method.label.clone(),
                ok,
                error,
                seconds,
                metrics,
                diagnostics,
            }
        })
        .collect()
}

type Evaluated = (Metrics, BTreeMap<String, f64>);

fn evaluate_method(
    spec: &StudySpec,
    method: &MethodSpec,
    data: &SimulatedData,
    seeds: FitSeeds,
    unit: (usize, usize),
) -> Result<Evaluated> {
    let test_x = data.test_x.view();
    let costs = Array1::ones(data.test_psi.len());
    let eval = &spec.evaluation;
    let mut extra = BTreeMap::new();
    let (psi_hat, delta_hat, diagnostics) = match &method.kind {
        MethodKind::Random => {
            let routing = routing::Reference::Random { fraction: 0.5 }.evaluate(
                data.test_psi.view(),
                costs.view(),
                &eval.rho,
                &eval.w,
                eval.cutoff,
            )?;
            return Ok((routing_metrics(routing, None, None), BTreeMap::new()));
        }
        MethodKind::Oracle => (data.test_psi.clone(), None, BTreeMap::new()),
        MethodKind::AllGold(learner) => {
            let x = data.train.pooled_x();
            let model = fit_single(learner, x.view(), data.all_gold_y.view(), seeds.learner)?;
            let diagnostics = model
                .diagnostics()
                .into_iter()
                .map(|(k, v)| (format!("final.{k}"), v))
                .collect();
            (model.predict(test_x), None, diagnostics)
        }
        MethodKind::Estimator(config) => {
            let router = config.fit(&data.train, seeds)?;
            if !eval.inference.is_empty() {
                extra = inference::metrics(spec, config, &router, data, seeds, unit)?;
            }
            let delta = router.predict_delta(test_x).map(|d| {
                // Δ̂ estimates c·ψ − η = (c − 1)ψ + Δ.
                let c = router.scale();
                let target = (c - 1.0) * &data.test_psi + &data.test_delta;
                (d, target)
            });
            (
                router.predict_psi(test_x),
                delta,
                router.diagnostics().to_map(),
            )
        }
    };
    if let Some(row) = psi_hat.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "predicted ψ̂ on test queries".into(),
            row,
        });
    }
    let routing = routing::evaluate(
        psi_hat.view(),
        data.test_psi.view(),
        costs.view(),
        &eval.rho,
        &eval.w,
        eval.cutoff,
    )?;
    let mse_psi = Some(routing::mse(psi_hat.view(), data.test_psi.view())?);
    let mse_delta = match delta_hat {
        Some((d, target)) => Some(routing::mse(d.view(), target.view())?),
        None => None,
    };
    let mut metrics = routing_metrics(routing, mse_psi, mse_delta);
    metrics.extra = extra;
    Ok((metrics, diagnostics))
}

fn routing_metrics(
    routing: routing::RoutingEvaluation,
    mse_psi: Option<f64>,
    mse_delta: Option<f64>,
) -> Metrics {
    Metrics {
        mse_psi,
        mse_delta,
        neg_area: Some(routing.neg_area),
        eg: routing.eg,
        neg: routing.neg,
        eg_paper: routing.eg_paper,
        regret: routing.regret,
        extra: BTreeMap::new(),
    }
}

/// Rebuilds `summary.json`, `summary.md` and the figures of a study folder
/// from its `spec.toml` and `replicates.jsonl` alone.
pub fn report(dir: &Path) -> Result<Summary> {
    let spec_path = dir.join(SPEC_FILE);
    let text = fs::read_to_string(&spec_path).map_err(io_err(&spec_path))?;
    let spec = StudySpec::parse(strip_shard(&text), &spec_path.display().to_string())?;
    let (mut records, torn) = read_records(&dir.join(RECORDS_FILE))?;
    if torn {
        return Err(Error::Parse {
            path: dir.join(RECORDS_FILE).display().to_string(),
            line: 0,
            message: "the last line is incomplete (an interrupted run?); finish it with `simulate --resume`".into(),
        });
    }
    let methods: Vec<String> = spec.methods.iter().map(|m| m.label.clone()).collect();
    summary::sort_records(&mut records, &methods);
    write_reports(&spec, dir, &records)
}

/// Merges shard folders into `out`: the specs must agree, no unit may appear
/// twice, and together they must hold every unit of the study.
pub fn merge(dirs: &[PathBuf], out: &Path, force: bool) -> Result<Summary> {
    let first = dirs.first().ok_or_else(|| Error::Empty {
        what: "list of folders to merge".into(),
    })?;
    let first_spec_path = first.join(SPEC_FILE);
    let first_text = fs::read_to_string(&first_spec_path).map_err(io_err(&first_spec_path))?;
    let base = strip_shard(&first_text).to_string();
    let spec = StudySpec::parse(&base, &first_spec_path.display().to_string())?;
    let mut records = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in dirs {
        let path = dir.join(SPEC_FILE);
        let text = fs::read_to_string(&path).map_err(io_err(&path))?;
        if strip_shard(&text) != base {
            return Err(Error::Spec {
                file: path.display().to_string(),
                location: String::new(),
                message: format!(
                    "differs from {}; only shards of one study can be merged",
                    first_spec_path.display()
                ),
            });
        }
        let records_path = dir.join(RECORDS_FILE);
        let (part, torn) = read_records(&records_path)?;
        if torn {
            return Err(Error::Parse {
                path: records_path.display().to_string(),
                line: 0,
                message:
                    "the last line is incomplete; finish the shard with `simulate --resume` first"
                        .into(),
            });
        }
        for r in part {
            if !seen.insert((r.grid_index, r.replicate, r.method.clone())) {
                return Err(Error::Parse {
                    path: records_path.display().to_string(),
                    line: 0,
                    message: format!(
                        "unit (grid {}, replicate {}, method {}) appears in more than one folder",
                        r.grid_index, r.replicate, r.method
                    ),
                });
            }
            records.push(r);
        }
    }
    let expected = spec.units() * spec.methods.len();
    if records.len() != expected {
        return Err(Error::Parse {
            path: out.display().to_string(),
            line: 0,
            message: format!(
                "the folders hold {} of the study's {expected} records; every shard must be complete",
                records.len()
            ),
        });
    }
    if out.exists() {
        if !force {
            return Err(Error::Io {
                path: out.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the output folder exists; use --force to replace it",
                ),
            });
        }
        fs::remove_dir_all(out).map_err(io_err(out))?;
    }
    fs::create_dir_all(out).map_err(io_err(out))?;
    write_atomic(&out.join(SPEC_FILE), base.as_bytes())?;
    let methods: Vec<String> = spec.methods.iter().map(|m| m.label.clone()).collect();
    finish(&spec, out, records, &methods)
}

/// Paired differences of a scalar metric between two methods over the
/// replicates where both succeeded: (mean difference a − b, its MCSE, count).
pub fn paired_difference(
    records: &[Record],
    grid_index: usize,
    a: &str,
    b: &str,
    metric: fn(&Metrics) -> Option<f64>,
) -> (Option<f64>, Option<f64>, usize) {
    let value = |label: &str, r: usize| {
        records
            .iter()
            .find(|x| x.grid_index == grid_index && x.replicate == r && x.method == label && x.ok)
            .and_then(|x| metric(&x.metrics))
    };
    let replicates: BTreeSet<usize> = records
        .iter()
        .filter(|x| x.grid_index == grid_index)
        .map(|x| x.replicate)
        .collect();
    let diffs: Vec<f64> = replicates
        .into_iter()
        .filter_map(|r| Some(value(a, r)? - value(b, r)?))
        .collect();
    let (mean, mcse) = summary::mean_and_mcse(&diffs);
    (mean, mcse, diffs.len())
}
