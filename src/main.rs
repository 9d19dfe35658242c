//! The `meta-router` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use meta_router::study::{self, record::Summary, spec::StudySpec, RunOptions};

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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a study spec (TOML) and write records, summary and figures.
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
        /// Replace an existing output folder.
        #[arg(long)]
        force: bool,
        /// Run only shard i of N (e.g. 2/4); combine shards with `merge`.
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
    },
    /// Merge shard folders of one study into one folder.
    Merge {
        /// The shard folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing output folder.
        #[arg(long)]
        force: bool,
    },
    /// List every scenario with its parameters and defaults.
    Scenarios,
}

fn parse_shard(text: &str) -> std::result::Result<(usize, usize), String> {
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
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => {
            let spec = StudySpec::parse(QUICKSTART, "simulations/quickstart.toml (built in)")?;
            let out = PathBuf::from("results").join(&spec.name);
            eprintln!(
                "meta-router: running the built-in quickstart study ({} units) into {}",
                spec.units(),
                out.display()
            );
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
                anyhow::ensure!(r > 0, "--replicates must be at least 1");
                study.replicates = r;
            }
            if threads == Some(0) {
                anyhow::bail!("--threads must be at least 1");
            }
            let out = out.unwrap_or_else(|| PathBuf::from("results").join(&study.name));
            let options = RunOptions {
                out,
                threads,
                resume,
                force,
                shard,
                progress: !quiet,
            };
            simulate(&study, &options)
        }
        Some(Command::Report { dir }) => {
            let summary =
                study::report(&dir).with_context(|| format!("report of {}", dir.display()))?;
            println!("{}", meta_router::report::markdown(&summary));
            Ok(())
        }
        Some(Command::Merge { dirs, out, force }) => {
            let summary = study::merge(&dirs, &out, force)?;
            eprintln!("merged {} folders into {}", dirs.len(), out.display());
            print_table(&summary);
            Ok(())
        }
        Some(Command::Scenarios) => {
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

fn simulate(spec: &StudySpec, options: &RunOptions) -> Result<()> {
    let outcome = study::run(spec, options)?;
    eprintln!(
        "{}: {} units run, {} resumed, {:.1} s; results in {}",
        spec.name,
        outcome.units_run,
        outcome.units_resumed,
        outcome.seconds,
        outcome.dir.display()
    );
    print_table(&outcome.summary);
    Ok(())
}

/// A compact table: per grid point and method, MSE of ψ̂, MSE of Δ̂, area
/// under NEG and the peak paper-scale efficiency gain.
fn print_table(summary: &Summary) {
    let mut current_grid = None;
    let find = |grid: &_, method: &str, metric: &str| {
        summary
            .rows
            .iter()
            .filter(|r| &r.grid == grid && r.method == method && r.metric == metric)
            .cloned()
            .collect::<Vec<_>>()
    };
    let fmt = |mean: Option<f64>, mcse: Option<f64>| match (mean, mcse) {
        (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
        (Some(m), None) => format!("{m:.4}"),
        _ => "—".to_string(),
    };
    for row in summary.rows.iter().filter(|r| r.metric == "mse_psi") {
        if current_grid.as_ref() != Some(&row.grid) {
            let point: Vec<String> = row.grid.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            println!(
                "\n## {}",
                if point.is_empty() {
                    "study".into()
                } else {
                    point.join(", ")
                }
            );
            println!(
                "{:<14} {:>20} {:>20} {:>20} {:>12} {:>4}",
                "method", "MSE(psi)", "MSE(delta)", "area NEG", "peak EG", "fail"
            );
            current_grid = Some(row.grid.clone());
        }
        let delta = find(&row.grid, &row.method, "mse_delta");
        let area = find(&row.grid, &row.method, "neg_area");
        let peak = find(&row.grid, &row.method, "eg_paper")
            .iter()
            .filter_map(|r| r.mean)
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            });
        println!(
            "{:<14} {:>20} {:>20} {:>20} {:>12} {:>4}",
            row.method,
            fmt(row.mean, row.mcse),
            delta.first().map_or("—".into(), |r| fmt(r.mean, r.mcse)),
            area.first().map_or("—".into(), |r| fmt(r.mean, r.mcse)),
            peak.map_or("—".into(), |p| format!("{p:.3}")),
            row.failures
        );
    }
}
