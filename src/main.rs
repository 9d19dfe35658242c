//! The `meta-router` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod cli;

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
    Simulate(cli::study::SimulateArgs),
    /// Rebuild summary.json, summary.md and figures of a study folder from its records.
    Report(cli::study::ReportArgs),
    /// Merge shard folders of one study into one folder.
    Merge(cli::study::MergeArgs),
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
    /// folder) are complete, running, partial or missing, and what to
    /// resubmit. Exit 0: everything is complete; 4: work is still missing,
    /// partial or running.
    Status {
        /// A work folder of `meta-router slurm`, or a study folder.
        dir: PathBuf,
    },
    /// Fit a router from a GS and a PB CSV file and save it (JSON).
    Fit(cli::realdata::FitArgs),
    /// Route queries (CSV) with a saved router: ψ̂, Δ̂ and the decision per query.
    Route(cli::realdata::RouteArgs),
    /// Evaluate a saved router on held-out GS-labelled queries: EG, NEG and
    /// regret curves (a many-model router: AIQ, the frontier gap, regret and
    /// shares) with bootstrap intervals, a markdown report and figures.
    Evaluate(cli::realdata::EvaluateArgs),
    /// Plan a GS-label budget: run a calibrated plasmode scenario (from
    /// `scenarios calibrate`) at each budget and report, per budget, the
    /// NEG area, peak EG and regret of the router and its baselines, and
    /// the smallest budget at which the router beats each baseline.
    Plan(cli::plan::PlanArgs),
    /// Regenerate the paper's figures: run the committed study files of
    /// simulations/paper/ (resuming finished ones) and draw the figures and
    /// tables into the output folder.
    Reproduce(cli::reproduce::ReproduceArgs),
    /// Compare a run with a baseline cell by cell and evaluate the study's
    /// [[expect]] claims. Exit 0: no regression; 1: a cell is worse beyond
    /// chance, a cell of the baseline is missing, or a claim fails; 2: the
    /// inputs cannot be compared.
    Check(cli::study::CheckArgs),
}

#[derive(Debug, Subcommand)]
enum ScenarioAction {
    /// Write one draw of a scenario as gold.csv, pref.csv and test.csv (the
    /// test file with the true ψ and Δ), input for `fit`, `route`, `evaluate`.
    Export(cli::realdata::ExportArgs),
    /// Calibrate a plasmode scenario from pilot GS and PB CSV files: the
    /// pilot's feature rows, a DR-learner fit's ψ̂ and Δ̂ as the known truth,
    /// its out-of-fold residuals as the noise (one JSON file a study's
    /// `[scenario] name = "plasmode"` reads).
    Calibrate(cli::realdata::CalibrateArgs),
    /// Check a plan against the pilot's own GS rows: every method of the
    /// plan fitted on subsets of the pilot's GS rows and scored out of fold
    /// (EG area, router minus baseline, MSE change) next to the plan's
    /// predictions at the same budgets (pilot_check.md, pilot_check.csv).
    Check(cli::realdata::PilotCheckArgs),
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
    if let Some(Command::Check(args)) = cli.command {
        return cli::study::check_command(args);
    }
    cli::study::exit_code(run(cli.command))
}

/// Runs a command (all but `check`) after checking the linear-algebra backend.
fn run(command: Option<Command>) -> Result<()> {
    meta_router::linalg::verify_backend()?;
    match command {
        None => cli::study::quickstart(),
        Some(Command::Simulate(args)) => cli::study::simulate_command(args),
        Some(Command::Report(args)) => cli::study::report_command(args),
        Some(Command::Merge(args)) => cli::study::merge_command(args),
        Some(Command::Reproduce(args)) => cli::reproduce::command(args),
        Some(Command::Check(_)) => unreachable!("handled in main"),
        Some(Command::Slurm(args)) => cli::slurm::slurm(args),
        Some(Command::Status { dir }) => cli::slurm::status(&dir),
        Some(Command::Fit(args)) => cli::realdata::fit(args),
        Some(Command::Route(args)) => cli::realdata::route(args),
        Some(Command::Evaluate(args)) => cli::realdata::evaluate_command(args),
        Some(Command::Plan(args)) => cli::plan::plan(args),
        Some(Command::Scenarios {
            action: Some(ScenarioAction::Export(args)),
        }) => cli::realdata::export(args),
        Some(Command::Scenarios {
            action: Some(ScenarioAction::Calibrate(args)),
        }) => cli::realdata::calibrate(args),
        Some(Command::Scenarios {
            action: Some(ScenarioAction::Check(args)),
        }) => cli::realdata::pilot_check_command(args),
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
