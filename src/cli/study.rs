//! The study commands: the built-in quickstart, `simulate`, `report`,
//! `merge` and `check` (the paper's and the theory's studies: `reproduce`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use meta_router::report;
use meta_router::study::{self, spec::StudySpec, RunOptions, RunOutcome};

/// Hidden, for tests only: a file path; a `simulate` run creates the file once
/// its first unit's records are on disk and waits until the file is removed
/// (`study::RunOptions::testing_hold`; `tests/concurrency.rs`).
const TESTING_HOLD_VAR: &str = "META_ROUTER_TESTING_HOLD";

/// The built-in quickstart study (compiled in from simulations/quickstart.toml).
const QUICKSTART: &str = include_str!("../../simulations/quickstart.toml");

/// Options of `meta-router simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
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
    /// Print nothing but warnings and errors (no progress bar, no tables;
    /// failed claims still print their table).
    #[arg(long)]
    quiet: bool,
}

/// Options of `meta-router report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The study folder (holding spec.toml and replicates.jsonl).
    dir: PathBuf,
    /// Summarize incomplete records (an interrupted run) instead of refusing.
    #[arg(long)]
    allow_partial: bool,
    /// Also write `report.html`: one self-contained page with the claims
    /// and their verdicts, the summary tables, every figure (inline SVG),
    /// the specification and the provenance.
    #[arg(long)]
    html: bool,
}

/// Options of `meta-router merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard folders.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Replace the study's files in an existing output folder.
    #[arg(long)]
    force: bool,
}

/// Options of `meta-router check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
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
}

/// Exit code of `check` when the inputs cannot be compared.
const EXIT_CANNOT_COMPARE: u8 = 2;
/// Exit code of `simulate` when the study ran and its reports were written
/// but an `[[expect]]` claim does not hold (every other failure is 1).
const EXIT_CLAIMS_FAILED: u8 = 3;
/// Exit code of `status` when the folder was read but some shards or units
/// are not complete yet (missing, partial or running).
const EXIT_INCOMPLETE: u8 = 4;

/// An outcome that ends a command with its own exit code: a run whose
/// claims do not hold ([`EXIT_CLAIMS_FAILED`]) or work `status` found
/// incomplete ([`EXIT_INCOMPLETE`]). Printed as `{label}: {message}`.
#[derive(Debug)]
pub struct ExitWith {
    code: u8,
    label: &'static str,
    message: String,
}

impl ExitWith {
    /// Claims of a study's `[[expect]]` list that do not hold.
    fn claims_failed(message: String) -> Self {
        Self {
            code: EXIT_CLAIMS_FAILED,
            label: "error",
            message,
        }
    }

    /// Shards or units not complete yet.
    pub fn incomplete(message: String) -> Self {
        Self {
            code: EXIT_INCOMPLETE,
            label: "incomplete",
            message,
        }
    }
}

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitWith {}

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

/// The built-in quickstart study into `results/quickstart/` (no subcommand).
pub fn quickstart() -> Result<()> {
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
    simulate(&spec, &options, false)
}

/// `meta-router simulate`.
pub fn simulate_command(args: SimulateArgs) -> Result<()> {
    let SimulateArgs {
        spec,
        out,
        replicates,
        threads,
        resume,
        force,
        shard,
        quiet,
    } = args;
    let mut study = StudySpec::from_file(&spec)?;
    if let Some(r) = replicates {
        study.set_replicates(r, "--replicates")?;
    }
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&study.name));
    let spec_folder = vec![study::spec_folder(&spec)];
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
    simulate(&study, &options, quiet)
}

/// `meta-router report`.
pub fn report_command(args: ReportArgs) -> Result<()> {
    let ReportArgs {
        dir,
        allow_partial,
        html,
    } = args;
    let mut outcome = study::summarize_folder(&dir, allow_partial)
        .with_context(|| format!("report of {}", dir.display()))?;
    if outcome.units_missing > 0 {
        eprintln!(
            "warning: {} unit(s) of the study are missing; the summary covers what is there",
            outcome.units_missing
        );
    }
    let files = publish(&mut outcome)?;
    let figures = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "svg"))
        .count();
    let tables: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md" || e == "csv"))
        .filter_map(|f| Some(f.file_name()?.to_string_lossy().into_owned()))
        .collect();
    eprintln!(
        "report: wrote {} and {figures} figures (PNG and SVG) into {}",
        tables.join(", "),
        dir.display()
    );
    if html {
        let path = write_html(&outcome)?;
        eprintln!("report: wrote {}", path.display());
    }
    print!("{}", report::terminal_table(&outcome.summary));
    Ok(())
}

/// `meta-router merge`.
pub fn merge_command(args: MergeArgs) -> Result<()> {
    let MergeArgs { dirs, out, force } = args;
    let mut outcome = study::merge(&dirs, &out, force)?;
    publish(&mut outcome)?;
    eprintln!("merged {} folders into {}", dirs.len(), out.display());
    print!("{}", report::terminal_table(&outcome.summary));
    for warning in &outcome.summary.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

/// `meta-router check`: exit 0 when nothing regressed and every claim
/// holds, 1 otherwise, 2 when the inputs cannot be compared.
pub fn check_command(args: CheckArgs) -> ExitCode {
    let CheckArgs {
        run,
        baseline,
        alpha,
        sigma,
        spec,
        junit,
        markdown,
    } = args;
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
    match check(
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
    }
}

/// The exit code of a command's result: 3 when an `[[expect]]` claim does
/// not hold ([`EXIT_CLAIMS_FAILED`]), 4 when `status` finds work not yet
/// complete ([`EXIT_INCOMPLETE`]), 1 for every other error.
pub fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => match err.downcast_ref::<ExitWith>() {
            Some(exit) => {
                eprintln!("{}: {err:#}", exit.label);
                ExitCode::from(exit.code)
            }
            None => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Draws the reports of a finished command into its folder (still locked).
/// A report that cannot be drawn is an error (exit 1), also when the drawing
/// code panics (a bug): the panic is reported as the error, so a CI script
/// that tolerates `simulate`'s exit 3 (failed claims) never mistakes it for
/// one. Returns the files written.
/// Writes the study's `report.html` (the claims of its stored spec judged
/// on its summary) and returns its path. The page is a view of the folder's
/// other files, outside its manifest.
fn write_html(outcome: &RunOutcome) -> Result<PathBuf> {
    let dir = &outcome.dir;
    let spec_path = dir.join("spec.toml");
    let spec = StudySpec::from_file(&spec_path)?;
    let claims = study::claims::evaluate(&spec.claims, &outcome.summary);
    let page = report::html::study_html(dir, &outcome.summary, &claims)?;
    let path = dir.join(report::html::REPORT_HTML);
    meta_router::files::write_file(
        &path,
        page.as_bytes(),
        meta_router::files::Existing::Replace,
    )?;
    Ok(path)
}

pub(crate) fn publish(outcome: &mut RunOutcome) -> Result<Vec<PathBuf>> {
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
    Ok(files)
}

fn simulate(spec: &StudySpec, options: &RunOptions, quiet: bool) -> Result<()> {
    for warning in &spec.warnings {
        eprintln!("warning: {warning}");
    }
    let mut outcome = study::run(spec, options)?;
    publish(&mut outcome)?;
    if !quiet {
        eprintln!(
            "{}: {} units run, {} resumed, {:.1} s; results in {}",
            spec.name,
            outcome.units_run,
            outcome.units_resumed,
            outcome.seconds,
            outcome.dir.display()
        );
        print!("{}", report::terminal_table(&outcome.summary));
    }
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
        let failed = claims.iter().filter(|c| !c.passed).count();
        if !quiet || failed > 0 {
            print!("\n{}", report::claims_table(&claims));
        }
        if failed > 0 {
            return Err(ExitWith::claims_failed(format!(
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
    run: &Path,
    baseline: Option<&Path>,
    spec: Option<&Path>,
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
