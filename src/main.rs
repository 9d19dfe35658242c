//! The `meta-router` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod cli;

use meta_router::report;
use meta_router::study::{self, spec::StudySpec, RunOptions, RunOutcome};

/// Hidden, for tests only: a file path; a `simulate` run creates the file once
/// its first unit's records are on disk and waits until the file is removed
/// (`study::RunOptions::testing_hold`; `tests/concurrency.rs`).
const TESTING_HOLD_VAR: &str = "META_ROUTER_TESTING_HOLD";

/// The built-in quickstart study (compiled in from simulations/quickstart.toml).
const QUICKSTART: &str = include_str!("../simulations/quickstart.toml");

/// Meta-Router: train LLM routers from gold-standard plus biased preference labels,
/// and run seeded Monte Carlo studies of the estimators.
///
/// With no subcommand, runs the built-in quickstart study into results/quickstart/
/// and prints its summary.
#[derive(Debug, Parser)]
#[command(name = "meta-router", version, about, long_about = None)]
struct Cli {
    /// Memory limit of this command (e.g. 16G, 500M, unlimited). Default:
    /// the memory available to the process (the machine's, its cgroup's,
    /// `ulimit -v`). Commands estimate their peak memory from their inputs
    /// and refuse, before allocating, what exceeds it.
    #[arg(long, global = true, value_parser = meta_router::limits::parse_bytes)]
    max_memory: Option<f64>,
    /// Work limit of one fit, evaluation or study unit, in floating-point
    /// operations (e.g. 1e15, unlimited). Default: 1e14.
    #[arg(long, global = true, value_parser = meta_router::limits::parse_count)]
    max_work: Option<f64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a study spec (TOML) and write records, summary and figures.
    #[command(
        after_help = "Exit codes: 0 success; 3 the results and reports are written but an \
        [[expect]] claim does not hold; 1 any other error (bad spec, failed run, a report that \
        could not be written)."
    )]
    Simulate {
        /// The study file, e.g. simulations/quickstart.toml.
        spec: PathBuf,
        /// Output folder (default: results/<study name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the number of replicates per grid point.
        #[arg(long)]
        replicates: Option<usize>,
        /// Worker threads (default: one per core). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Continue an interrupted run in the output folder.
        #[arg(long, conflicts_with = "force")]
        resume: bool,
        /// Replace the study's files in an existing output folder (other files are kept).
        #[arg(long)]
        force: bool,
        /// Run only shard i of N (e.g. 2/4); combine shards with `merge`.
        /// `slurm/N` takes i from a Slurm array task (SLURM_ARRAY_TASK_ID,
        /// the array numbered 1-N; a resubmitted subset such as 3,7 keeps
        /// its shard numbers).
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Rebuild summary.json, summary.md and figures of a study folder from its records.
    Report {
        /// The study folder (holding spec.toml and replicates.jsonl).
        dir: PathBuf,
        /// Summarize incomplete records (an interrupted run) instead of refusing.
        #[arg(long)]
        allow_partial: bool,
    },
    /// Merge shard folders of one study into one folder.
    Merge {
        /// The shard folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Replace the study's files in an existing output folder.
        #[arg(long)]
        force: bool,
    },
    /// List every scenario with its parameters and defaults, or export one
    /// draw of a scenario as GS, PB and test CSV files.
    Scenarios {
        #[command(subcommand)]
        action: Option<ScenarioAction>,
    },
    /// Write (and with --submit, submit) a Slurm job array that runs a study
    /// in shards, and a merge job that depends on it.
    Slurm(cli::slurm::SlurmArgs),
    /// Show which shards of a `slurm` work folder (or which units of a study
    /// folder) are complete, running, partial or missing, and what to resubmit.
    Status {
        /// A work folder of `meta-router slurm`, or a study folder.
        dir: PathBuf,
    },
    /// Fit a router from a GS and a PB CSV file and save it (JSON).
    Fit(cli::realdata::FitArgs),
    /// Route queries (CSV) with a saved router: ψ̂, Δ̂ and the decision per query.
    Route(cli::realdata::RouteArgs),
    /// Evaluate a saved router on held-out GS-labelled queries: EG, NEG and
    /// regret curves with bootstrap intervals, a markdown report and figures.
    Evaluate(cli::realdata::EvaluateArgs),
    /// Regenerate the paper's figures: run the committed study files of
    /// simulations/paper/ (resuming finished ones) and draw the figures and
    /// tables into the output folder.
    Reproduce {
        /// What to reproduce (default: all).
        #[arg(value_enum)]
        targets: Vec<cli::reproduce::Target>,
        /// Override the study files' replicates per grid point.
        #[arg(long)]
        replicates: Option<usize>,
        /// A smoke run: 1 replicate per grid point (unless --replicates), into
        /// results/paper-quick by default; about 2 minutes on 2 cores. No MCSE,
        /// not for inference.
        #[arg(long)]
        quick: bool,
        /// Output folder (default: results/paper, or results/paper-quick;
        /// results/theory for `theory`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: one per core). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Replace a study folder whose spec differs (only the suite's files).
        #[arg(long)]
        force: bool,
    },
    /// Compare a run with a baseline cell by cell and evaluate the study's
    /// [[expect]] claims. Exit 0: no regression; 1: a cell is worse beyond
    /// chance, a cell of the baseline is missing, or a claim fails; 2: the
    /// inputs cannot be compared.
    Check {
        /// The run: a study folder or its summary.json. Its claims come from
        /// the spec.toml next to it (or --spec).
        run: PathBuf,
        /// The baseline: a study folder or summary.json of the same spec.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Per-run false-alarm level: cells are flagged by Holm's procedure
        /// over all tested cells at this family-wise level.
        #[arg(long, default_value_t = study::check::DEFAULT_ALPHA)]
        alpha: f64,
        /// Deprecated: flag each cell alone at |run − baseline| >
        /// k·√(mcse_run² + mcse_baseline²), without control of the per-run
        /// false-alarm rate (the rule before --alpha; its default was 4).
        #[arg(long, value_name = "K", conflicts_with = "alpha")]
        sigma: Option<f64>,
        /// Take the claims from this spec file instead (it must describe the run's study).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Write JUnit XML here: one testcase per cell and per claim.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Write a markdown report here.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ScenarioAction {
    /// Write one draw of a scenario as gold.csv, pref.csv and test.csv (the
    /// test file with the true ψ and Δ), input for `fit`, `route`, `evaluate`.
    Export(cli::realdata::ExportArgs),
}

/// Exit code of `check` when the inputs cannot be compared.
const EXIT_CANNOT_COMPARE: u8 = 2;
/// Exit code of `simulate` when the study ran and its reports were written
/// but an `[[expect]]` claim does not hold (every other failure is 1).
const EXIT_CLAIMS_FAILED: u8 = 3;

/// The error of a run whose claims do not hold (exit [`EXIT_CLAIMS_FAILED`]).
#[derive(Debug)]
struct ClaimsFailed(String);

impl std::fmt::Display for ClaimsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClaimsFailed {}

fn parse_shard(text: &str) -> std::result::Result<(usize, usize), String> {
    if let Some(n) = text.strip_prefix("slurm/") {
        let n: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("--shard slurm/N: bad shard count `{n}`"))?;
        let id: usize = std::env::var("SLURM_ARRAY_TASK_ID")
            .map_err(|_| {
                "--shard slurm/N: SLURM_ARRAY_TASK_ID is not set (not a Slurm array task?)"
                    .to_string()
            })?
            .trim()
            .parse()
            .map_err(|_| "--shard slurm/N: SLURM_ARRAY_TASK_ID is not a number".to_string())?;
        if n == 0 || id == 0 || id > n {
            return Err(format!(
                "--shard slurm/{n}: array task {id} is not a shard 1..={n} (number the array 1-{n})"
            ));
        }
        return Ok((id, n));
    }
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("expected i/N, found `{text}`"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("bad shard index `{i}`"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("bad shard count `{n}`"))?;
    if n == 0 || i == 0 || i > n {
        return Err(format!("shard {i}/{n}: need 1 <= i <= N"));
    }
    Ok((i, n))
}

fn main() -> ExitCode {
    meta_router::alloc::tune_malloc();
    let cli = Cli::parse();
    if let Some(bytes) = cli.max_memory {
        meta_router::limits::set_memory_limit(bytes);
    }
    if let Some(operations) = cli.max_work {
        meta_router::limits::set_work_limit(operations);
    }
    if let Some(Command::Check {
        run,
        baseline,
        alpha,
        sigma,
        spec,
        junit,
        markdown,
    }) = cli.command
    {
        let rule = match sigma {
            Some(sigma) => {
                eprintln!(
                    "warning: --sigma is deprecated: it judges each cell alone, so the chance of \
                     a false alarm grows with the number of cells; --alpha sets the per-run level"
                );
                study::check::Rule::PerCell { sigma }
            }
            None => study::check::Rule::Holm { alpha },
        };
        return match check(
            &run,
            baseline.as_deref(),
            spec.as_deref(),
            rule,
            junit,
            markdown,
        ) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("error: cannot check: {err:#}");
                ExitCode::from(EXIT_CANNOT_COMPARE)
            }
        };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<ClaimsFailed>().is_some() {
                ExitCode::from(EXIT_CLAIMS_FAILED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    meta_router::linalg::verify_backend()?;
    match cli.command {
        None => {
            let spec = StudySpec::parse(QUICKSTART, "simulations/quickstart.toml (built in)")?;
            let out = PathBuf::from("results").join(&spec.name);
            eprintln!(
                "meta-router: running the built-in quickstart study ({} units) into {}",
                spec.units(),
                out.display()
            );
            // Replaces only the files an earlier quickstart wrote there.
            let options = RunOptions {
                out,
                force: true,
                progress: true,
                ..RunOptions::default()
            };
            simulate(&spec, &options)
        }
        Some(Command::Simulate {
            spec,
            out,
            replicates,
            threads,
            resume,
            force,
            shard,
            quiet,
        }) => {
            let mut study = StudySpec::from_file(&spec)?;
            if let Some(r) = replicates {
                study.set_replicates(r, "--replicates")?;
            }
            let out = out.unwrap_or_else(|| PathBuf::from("results").join(&study.name));
            let spec_folder = spec
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        p.to_path_buf()
                    }
                })
                .into_iter()
                .collect();
            let options = RunOptions {
                out,
                threads,
                resume,
                force,
                shard,
                progress: !quiet,
                protected: spec_folder,
                testing_hold: std::env::var_os(TESTING_HOLD_VAR).map(PathBuf::from),
                ..RunOptions::default()
            };
            simulate(&study, &options)
        }
        Some(Command::Report { dir, allow_partial }) => {
            let mut outcome = study::summarize_folder(&dir, allow_partial)
                .with_context(|| format!("report of {}", dir.display()))?;
            if outcome.units_missing > 0 {
                eprintln!(
                    "warning: {} unit(s) of the study are missing; the summary covers what is there",
                    outcome.units_missing
                );
            }
            publish(&mut outcome)?;
            println!("{}", report::markdown(&outcome.summary));
            Ok(())
        }
        Some(Command::Merge { dirs, out, force }) => {
            let mut outcome = study::merge(&dirs, &out, force)?;
            publish(&mut outcome)?;
            eprintln!("merged {} folders into {}", dirs.len(), out.display());
            print!("{}", report::terminal_table(&outcome.summary));
            for warning in &outcome.summary.warnings {
                eprintln!("warning: {warning}");
            }
            Ok(())
        }
        Some(Command::Reproduce {
            targets,
            replicates,
            quick,
            out,
            threads,
            force,
        }) => {
            if replicates == Some(0) {
                anyhow::bail!("--replicates must be at least 1");
            }
            let targets = if targets.is_empty() {
                vec![cli::reproduce::Target::All]
            } else {
                targets
            };
            let theory = targets.contains(&cli::reproduce::Target::Theory);
            let default_out = match (theory, quick) {
                (true, true) => "results/theory-quick",
                (true, false) => "results/theory",
                (false, true) => "results/paper-quick",
                (false, false) => "results/paper",
            };
            let options = cli::reproduce::Options {
                out: out.unwrap_or_else(|| PathBuf::from(default_out)),
                replicates: replicates.or(quick.then_some(1)),
                threads,
                force,
            };
            cli::reproduce::run(&targets, &options)
        }
        Some(Command::Check { .. }) => unreachable!("handled in main"),
        Some(Command::Slurm(args)) => cli::slurm::slurm(args),
        Some(Command::Status { dir }) => cli::slurm::status(&dir),
        Some(Command::Fit(args)) => cli::realdata::fit(args),
        Some(Command::Route(args)) => cli::realdata::route(args),
        Some(Command::Evaluate(args)) => cli::realdata::evaluate_command(args),
        Some(Command::Scenarios {
            action: Some(ScenarioAction::Export(args)),
        }) => cli::realdata::export(args),
        Some(Command::Scenarios { action: None }) => {
            for info in meta_router::dgp::ScenarioConfig::catalog() {
                println!("{}\n  {}", info.name, info.description);
                for p in info.parameters {
                    println!("    {:<16} default {:<12} {}", p.key, p.default, p.meaning);
                }
                println!();
            }
            Ok(())
        }
    }
}

/// Draws the reports of a finished command into its folder (still locked).
/// A report that cannot be drawn is an error (exit 1), also when the drawing
/// code panics (a bug): the panic is reported as the error, so a CI script
/// that tolerates `simulate`'s exit 3 (failed claims) never mistakes it for
/// one.
fn publish(outcome: &mut RunOutcome) -> Result<()> {
    let (summary, dir) = (&outcome.summary, &outcome.dir);
    let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        report::publish(summary, dir)
    }));
    let files = match drawn {
        Ok(files) => files?,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            anyhow::bail!(
                "drawing the reports into {} panicked (a bug): {message}",
                dir.display()
            );
        }
    };
    outcome.publish(&files)?;
    Ok(())
}

fn simulate(spec: &StudySpec, options: &RunOptions) -> Result<()> {
    for warning in &spec.warnings {
        eprintln!("warning: {warning}");
    }
    let mut outcome = study::run(spec, options)?;
    publish(&mut outcome)?;
    eprintln!(
        "{}: {} units run, {} resumed, {:.1} s; results in {}",
        spec.name,
        outcome.units_run,
        outcome.units_resumed,
        outcome.seconds,
        outcome.dir.display()
    );
    print!("{}", report::terminal_table(&outcome.summary));
    for warning in &outcome.summary.warnings {
        eprintln!("warning: {warning}");
    }
    if options.shard.is_some() {
        if !spec.claims.is_empty() {
            eprintln!("a shard holds part of the study: its [[expect]] claims are evaluated after `merge` (`meta-router check MERGED`)");
        }
        return Ok(());
    }
    let claims = study::claims::evaluate(&spec.claims, &outcome.summary);
    if !claims.is_empty() {
        print!("\n{}", report::claims_table(&claims));
        let failed = claims.iter().filter(|c| !c.passed).count();
        if failed > 0 {
            return Err(ClaimsFailed(format!(
                "{failed} of {} claim outcome(s) of the spec's [[expect]] list do not hold \
                 (numbers above); the results are written to {}",
                claims.len(),
                outcome.dir.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// `check`: prints the report, writes the requested files; `Ok(passed)`.
fn check(
    run: &std::path::Path,
    baseline: Option<&std::path::Path>,
    spec: Option<&std::path::Path>,
    rule: study::check::Rule,
    junit: Option<PathBuf>,
    markdown: Option<PathBuf>,
) -> Result<bool> {
    let outcome = study::check::check(run, baseline, spec, rule)?;
    print!("{}", report::check_table(&outcome));
    if let Some(path) = junit {
        meta_router::files::write_file(
            &path,
            report::junit(&outcome).as_bytes(),
            meta_router::files::Existing::Replace,
        )
        .with_context(|| "writing the JUnit report")?;
    }
    if let Some(path) = markdown {
        meta_router::files::write_file(
            &path,
            report::check_markdown(&outcome).as_bytes(),
            meta_router::files::Existing::Replace,
        )
        .with_context(|| "writing the markdown report")?;
    }
    Ok(outcome.passed())
}
