//! `meta-router plan`: how many GS labels are needed. A study of a
//! calibrated plasmode scenario (`scenarios calibrate`) over GS budgets,
//! read as a plan ([`meta_router::report::plan`]).
//!
//! The command writes the study's spec (`spec.toml`, runnable again with
//! `simulate`), runs it into `--out` like `simulate` (resumable, the same
//! records, summary and figures), then adds `plan.md`, `plan.csv` and the
//! figures `plan_eg_area` and `plan_neg_area` (outside the study's
//! manifest, like `report.html`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::dgp::plasmode::{
    default_pref_rows, default_test_queries, load_checked, PLASMODE_PARSE_FACTOR,
};
use meta_router::dgp::NoiseKind;
use meta_router::files::{self, Existing};
use meta_router::meta::Method;
use meta_router::report::format_significant;
use meta_router::report::plan::{Plan, PlanMetric, PlanSettings};
use meta_router::study::{self, spec::StudySpec, RunOptions};

use super::realdata::PilotTableArgs;

/// The usage-ratio grid of a plan (step 0.05).
const RHO_STEPS: usize = 20;
/// Budgets above this multiple of the pilot's GS rows get a warning
/// (extrapolation; measured in `results/planning/`).
const EXTRAPOLATION: usize = 2;
/// The cost weights a plan evaluates besides the user's `--w`.
const W_GRID: [f64; 5] = [0.0, 0.05, 0.1, 0.2, 0.3];

/// Options of `meta-router plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The plasmode file written by `meta-router scenarios calibrate`. With
    /// the pilot's --gold and --pref instead: where the scenario calibrated
    /// from them is written (default: `<out>.plasmode.json` beside the
    /// output folder).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The pilot's tables: calibrate the scenario from them (as `scenarios
    /// calibrate` does, with the router's method and --config), plan, then
    /// check the plan against the pilot's own GS rows (`pilot_check.md`, as
    /// `scenarios check` does).
    #[command(flatten)]
    pilot: PilotTableArgs,
    /// Router configuration of the calibration from --gold/--pref, when it
    /// should differ from --config (a meta-learner; its own method is kept).
    #[arg(long, requires = "gold")]
    calibration_config: Option<PathBuf>,
    /// The recalibration rule of the calibration from --gold/--pref
    /// (`variance` or `slope`, as `scenarios calibrate --recalibration`).
    #[arg(long, requires = "gold", default_value = "variance", value_parser = super::realdata::parse_rule)]
    recalibration: meta_router::dgp::plasmode::RecalibrationRule,
    /// The GS budgets to compare (GS rows per replicate), e.g. 100,250,500,1000.
    #[arg(long, value_delimiter = ',', required = true)]
    budgets: Vec<usize>,
    /// PB rows per replicate (default: the pilot's).
    #[arg(long, conflicts_with = "pool")]
    n_pref: Option<usize>,
    /// Queries per replicate instead: each budget's PB rows are the rest,
    /// `pool − n_test − n_gold` (a fixed set of queries, some of them GS-labelled).
    #[arg(long)]
    pool: Option<usize>,
    /// Test queries per replicate (default: 500, or a fifth of the pilot's
    /// rows when that is smaller).
    #[arg(long)]
    n_test: Option<usize>,
    /// The router's method (a meta-learner) and the baselines it must beat.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "dr-learner,pooled,gs-only"
    )]
    methods: Vec<String>,
    /// Router configuration (TOML, as for `fit`) shared by every method
    /// (learners, folds, …); its `method` key is replaced by each of --methods.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Replicates per budget.
    #[arg(long, default_value_t = 100)]
    replicates: usize,
    /// The cost weight whose regret the plan reports.
    #[arg(long, default_value_t = 0.1)]
    w: f64,
    /// The metric whose paired router − baseline differences decide:
    /// `eg-area` (the gain over random routing integrated over ρ, in label
    /// units: what a plasmode plan forecasts best; the default) or `neg-area`.
    #[arg(long, value_parser = parse_metric)]
    metric: Option<PlanMetric>,
    /// The margin, in the units of --metric, by which the router must beat
    /// a baseline.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    margin: f64,
    /// One-sided confidence of "beats by the margin", in (0.5, 1).
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
    /// Noise of the simulated labels: `gaussian` or `empirical` (the
    /// pilot's residuals resampled).
    #[arg(long, default_value = "gaussian", value_parser = parse_noise)]
    noise: NoiseKind,
    /// Master seed of the plan's study.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Continue an interrupted plan in the output folder.
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace the plan's files in an existing output folder.
    #[arg(long)]
    force: bool,
    /// A study folder of the true scenario with the plan's methods (labels)
    /// and budgets (`n_gold`): compare the planned EG and NEG areas and
    /// paired differences with it (`comparison.md`; for validating the
    /// planner on a scenario whose truth is known).
    #[arg(long)]
    compare_with: Option<PathBuf>,
    /// The NEG-area tolerance of --compare-with.
    #[arg(long, default_value_t = 0.05, requires = "compare_with")]
    tolerance: f64,
    /// The relative EG-area tolerance of --compare-with: a planned EG area
    /// agrees when it is within this fraction of the true one (or within 2
    /// combined MCSE bounds of it).
    #[arg(long, default_value_t = 0.25, requires = "compare_with")]
    eg_tolerance: f64,
    /// Print nothing but warnings, errors and the plan.
    #[arg(long)]
    quiet: bool,
}

fn parse_metric(text: &str) -> std::result::Result<PlanMetric, String> {
    match text {
        "eg-area" => Ok(PlanMetric::EgArea),
        "neg-area" => Ok(PlanMetric::NegArea),
        other => Err(format!(
            "`{other}` is not a plan metric (eg-area, neg-area)"
        )),
    }
}

fn parse_noise(text: &str) -> std::result::Result<NoiseKind, String> {
    match text {
        "gaussian" => Ok(NoiseKind::Gaussian),
        "empirical" => Ok(NoiseKind::Empirical),
        other => Err(format!(
            "`{other}` is not a noise kind (gaussian, empirical)"
        )),
    }
}

/// `meta-router plan`.
pub fn plan(args: PlanArgs) -> Result<()> {
    let (router, baselines) = check_methods(&args.methods)?;
    check_budgets(&args.budgets)?;
    if !(args.w.is_finite() && args.w >= 0.0) {
        bail!("--w {}: the cost weight must be finite and >= 0", args.w);
    }
    if !args.margin.is_finite() {
        bail!("--margin {}: must be a finite number", args.margin);
    }
    if !(args.confidence > 0.5 && args.confidence < 1.0) {
        bail!("--confidence {}: must lie in (0.5, 1)", args.confidence);
    }
    if !(args.tolerance.is_finite() && args.tolerance >= 0.0) {
        bail!("--tolerance {}: must be finite and >= 0", args.tolerance);
    }
    if !(args.eg_tolerance.is_finite() && args.eg_tolerance >= 0.0) {
        bail!(
            "--eg-tolerance {}: must be finite and >= 0",
            args.eg_tolerance
        );
    }
    if args.margin != 0.0 && args.metric.is_none() {
        eprintln!(
            "warning: --margin {} is in the units of the decision metric, the EG area by \
             default (a gain in label units, integrated over ρ; typically a few hundredths); \
             name --metric eg-area or --metric neg-area to silence this",
            args.margin
        );
    }
    let truth = match &args.compare_with {
        Some(dir) => {
            let truth = study::check::load_summary(dir)?.1;
            check_truth(&truth, dir, &args.budgets, &args.methods)?;
            Some(truth)
        }
        None => None,
    };
    let tables = match &args.pilot.tables() {
        Some(tables) => {
            // The calibrated file is written before the study opens its
            // folder: refuse what the study would refuse first.
            if !args.resume && !args.force {
                study::store::check_fresh(&args.out)?;
            }
            Some(tables.read_pilot()?)
        }
        None => None,
    };
    let (scenario, created) = match &tables {
        Some(pilot) => calibrate_pilot(&args, &router, pilot)?,
        None => (
            args.scenario.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "--scenario: name the plasmode file (from `scenarios calibrate`), or give \
                     the pilot's tables with --gold and --pref"
                )
            })?,
            false,
        ),
    };
    let planned = plan_on(
        &args,
        &scenario,
        tables.as_ref(),
        truth.as_ref(),
        (router, baselines),
    );
    if planned.is_err() && created {
        // No partial output: the scenario calibrated for this plan goes too
        // (a --resume calibrates it again, byte for byte).
        let _ = std::fs::remove_file(&scenario);
    }
    planned
}

/// The plan on the plasmode file `scenario` (with the pilot's tables when
/// it was calibrated from them: then also the pilot check).
fn plan_on(
    args: &PlanArgs,
    scenario: &std::path::Path,
    tables: Option<&(meta_router::realdata::Table, meta_router::realdata::Table)>,
    truth: Option<&meta_router::study::record::Summary>,
    (router, baselines): (String, Vec<String>),
) -> Result<()> {
    let sha256 = files::sha256_hex(&files::read_bounded(scenario, PLASMODE_PARSE_FACTOR)?);
    // Parsed once: the study's scenario takes it from the same cache.
    let pilot = load_checked(&scenario.display().to_string(), &sha256)?;
    let shared = match &args.config {
        Some(path) => {
            let text = files::read_text(path, meta_router::config_file::PARSE_FACTOR)?;
            // Checked as a router configuration first (errors name its lines).
            meta_router::config_file::parse_router_config(&text, &path.display().to_string())?;
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("{}: not a TOML table", path.display()))?;
            table
        }
        None => toml::Table::new(),
    };
    let spec_text = spec_text(args, (scenario, &sha256), &router, &baselines, shared)?;
    let spec = StudySpec::parse(&spec_text, "the plan's study (generated)")?;
    let rows = pilot.rows();
    let largest = args.budgets.iter().max().copied().unwrap_or(0);
    let drawn = match args.pool {
        Some(pool) => pool,
        None => {
            let n_test = args.n_test.unwrap_or_else(|| default_test_queries(rows));
            let n_pref = args
                .n_pref
                .unwrap_or_else(|| default_pref_rows(pilot.file.pilot.n_pref, n_test));
            largest.saturating_add(n_pref).saturating_add(n_test)
        }
    };
    if drawn > rows {
        eprintln!(
            "note: a replicate needs up to {drawn} queries and the pilot has {rows} feature rows: \
             beyond them, training rows are drawn with replacement from the rows not used as \
             test queries, so some training rows repeat"
        );
    }
    let pilot_gold = pilot.file.pilot.n_gold;
    if largest > EXTRAPOLATION.saturating_mul(pilot_gold) {
        eprintln!(
            "warning: budgets up to {largest} GS rows extrapolate far beyond the pilot's \
             {pilot_gold}: the planted truth is one fit's estimate, and a truth fitted with the \
             methods' own learner family flatters them at large budgets (docs/planning.md)"
        );
    }
    for warning in &spec.warnings {
        eprintln!("warning: {warning}");
    }
    let options = RunOptions {
        out: args.out.clone(),
        threads: args.threads,
        resume: args.resume,
        force: args.force,
        progress: !args.quiet,
        ..RunOptions::default()
    };
    let mut outcome = study::run(&spec, &options)?;
    super::study::publish(&mut outcome)?;
    let settings = PlanSettings {
        router,
        baselines,
        w: args.w,
        metric: args.metric.unwrap_or_default(),
        margin: args.margin,
        confidence: args.confidence,
    };
    let plan = Plan::from_summary(&outcome.summary, settings)?;
    let markdown = plan.markdown();
    let mut outputs = vec![
        (args.out.join("plan.md"), markdown.clone()),
        (args.out.join("plan.csv"), plan.csv()),
    ];
    let validation = match truth {
        Some(truth) => {
            Some(plan.validate(&outcome.summary, truth, (args.tolerance, args.eg_tolerance))?)
        }
        None => None,
    };
    if let Some(validation) = &validation {
        outputs.push((args.out.join("comparison.md"), validation.markdown()));
    }
    files::write_files(&outputs, Existing::Replace)?;
    meta_router::report::plan_figures(&outcome.summary, &args.out)?;
    if args.force {
        // Files of an earlier plan in the folder that this run does not
        // write (outside the study's manifest, so --force kept them).
        let stale: &[&str] = match (truth.is_some(), tables.is_some()) {
            (false, false) => &["comparison.md", "pilot_check.md", "pilot_check.csv"],
            (false, true) => &["comparison.md"],
            (true, false) => &["pilot_check.md", "pilot_check.csv"],
            (true, true) => &[],
        };
        for name in stale {
            let _ = std::fs::remove_file(args.out.join(name));
        }
    }
    // The plan stands whatever its pilot check does: a failed check warns.
    let checked = tables.and_then(|(gold, pref)| {
        let checked = super::realdata::check_plan(
            &super::realdata::PlanStudy {
                spec: &spec,
                summary: &outcome.summary,
                truth,
                file: "the plan's study",
            },
            (gold, pref),
            &super::realdata::CheckSettings::defaults(args.seed),
            (&args.out, Existing::Replace, args.quiet),
        );
        checked
            .map_err(|e| eprintln!("warning: the pilot check could not run: {e:#}"))
            .ok()
    });
    for warning in &outcome.summary.warnings {
        eprintln!("warning: {warning}");
    }
    if !args.quiet {
        eprintln!(
            "plan: {} units run, {} resumed, {:.1} s; wrote plan.md, plan.csv, plan_eg_area.png/.svg and plan_neg_area.png/.svg into {}",
            outcome.units_run,
            outcome.units_resumed,
            outcome.seconds,
            args.out.display()
        );
    }
    print!("{markdown}");
    if let Some(comparison) = &checked {
        let (agree, total) = comparison.tally();
        println!(
            "\nPilot check (pilot_check.md): {agree} of {total} of the pilot's own learning-curve \
             values agree with the plan at the budgets the pilot reaches."
        );
    }
    if let Some(validation) = &validation {
        let (within, total) = validation.tally();
        let (eg_within, eg_total) = validation.eg_tally();
        eprintln!(
            "compared with {}: {eg_within} of {eg_total} EG areas and differences agree (within \
             {}%) and {within} of {total} NEG areas and differences within {} (comparison.md)",
            args.compare_with
                .as_ref()
                .map_or(String::new(), |d| d.display().to_string()),
            format_significant(100.0 * args.eg_tolerance, 3),
            format_significant(args.tolerance, 3)
        );
    }
    Ok(())
}

/// `--gold`/`--pref`: calibrates the scenario from the pilot's tables with
/// the router's method (and `--calibration-config`, or `--config`), writes
/// it to `--scenario` (default `<out>.plasmode.json`) and returns that path.
/// An existing file is kept under `--resume` when it is the same
/// calibration, else replaced only with `--force`.
fn calibrate_pilot(
    args: &PlanArgs,
    router: &str,
    (gold, pref): &(meta_router::realdata::Table, meta_router::realdata::Table),
) -> Result<(PathBuf, bool)> {
    let path = match &args.scenario {
        Some(path) => path.clone(),
        None => {
            let name = args.out.file_name().ok_or_else(|| {
                anyhow::anyhow!(
                    "--out {}: name the calibrated scenario's file with --scenario",
                    args.out.display()
                )
            })?;
            args.out
                .with_file_name(format!("{}.plasmode.json", name.to_string_lossy()))
        }
    };
    if !args.resume {
        super::realdata::refuse_existing(&path, args.force)?;
    }
    let (config, key_source) = match &args.calibration_config {
        Some(_) => (
            super::realdata::router_config(&args.calibration_config)?,
            &args.calibration_config,
        ),
        None => {
            let mut config = super::realdata::router_config(&args.config)?;
            config.method = toml::Value::String(router.to_string())
                .try_into()
                .map_err(|e| anyhow::anyhow!("--methods: {e}"))?;
            (config, &args.config)
        }
    };
    let key = super::realdata::config_key(key_source);
    let calibration = super::realdata::calibrate_tables(
        &config,
        &key,
        (gold, pref),
        (args.seed, Some(args.recalibration)),
        &path,
    )?;
    if args.resume && !args.force && path.exists() {
        let same = files::read_bounded(&path, PLASMODE_PARSE_FACTOR)
            .is_ok_and(|before| files::sha256_hex(&before) == calibration.sha256);
        if !same {
            bail!(
                "{} exists and differs from this pilot's calibration (other tables, \
                 configuration or seed than the plan being resumed); pass --force to plan afresh",
                path.display()
            );
        }
        if !args.quiet {
            eprintln!(
                "the pilot's calibration is the one in {}: resuming",
                path.display()
            );
        }
        return Ok((path, false));
    }
    calibration.write(
        &path,
        Existing::from_force(args.force || args.resume),
        (gold, args.quiet),
    )?;
    Ok((path, true))
}

/// The router (a meta-learner, first) and the baselines.
fn check_methods(methods: &[String]) -> Result<(String, Vec<String>)> {
    let mut parsed = Vec::with_capacity(methods.len());
    for (i, name) in methods.iter().enumerate() {
        let method: Method = toml::Value::String(name.clone()).try_into().map_err(|_| {
            anyhow::anyhow!(
                "--methods: `{}` is not a method (methods: {})",
                meta_router::error::excerpt(name),
                meta_router::config_file::ESTIMATOR_NAMES.join(", ")
            )
        })?;
        if methods[..i].contains(name) {
            bail!("--methods names `{name}` twice");
        }
        parsed.push(method);
    }
    match parsed.first() {
        Some(m) if m.is_meta() => {}
        Some(m) => bail!(
            "--methods: the first method is the router and must be a meta-learner \
             (dr-learner, r-learner); found `{}`",
            m.name()
        ),
        None => bail!("--methods: name the router and at least one baseline"),
    }
    if parsed.len() < 2 {
        bail!("--methods: name at least one baseline after the router");
    }
    Ok((methods[0].clone(), methods[1..].to_vec()))
}

/// `--compare-with`: the true scenario's summary must hold a NEG area for
/// every budget and method, checked before the plan runs.
fn check_truth(
    truth: &meta_router::study::record::Summary,
    dir: &std::path::Path,
    budgets: &[usize],
    methods: &[String],
) -> Result<()> {
    let has = |n: usize, method: &str, versus: Option<&str>| {
        truth.rows.iter().any(|r| {
            r.grid.get("n_gold").and_then(serde_json::Value::as_u64) == Some(n as u64)
                && r.method == method
                && r.versus.as_deref() == versus
                && r.metric == "neg_area"
        })
    };
    for &n in budgets {
        for method in methods {
            if !has(n, method, None) {
                bail!(
                    "--compare-with {}: no NEG area of `{method}` at n_gold = {n} (the study of \
                     the true scenario needs the plan's budgets and methods, labelled by method name)",
                    dir.display()
                );
            }
        }
        for baseline in &methods[1..] {
            if !has(n, &methods[0], Some(baseline)) {
                bail!(
                    "--compare-with {}: no paired NEG-area difference `{}` − `{baseline}` at \
                     n_gold = {n} (list the baselines in the study's [evaluation] compare_to)",
                    dir.display(),
                    methods[0]
                );
            }
        }
    }
    Ok(())
}

/// Budgets: at least one, each >= 2, no repeats.
fn check_budgets(budgets: &[usize]) -> Result<()> {
    if budgets.is_empty() {
        bail!("--budgets: name at least one GS budget");
    }
    for (i, &n) in budgets.iter().enumerate() {
        if n < 2 {
            bail!("--budgets: {n} GS rows cannot be cross-fitted (need >= 2)");
        }
        if budgets[..i].contains(&n) {
            bail!("--budgets names {n} twice");
        }
    }
    Ok(())
}

/// The plan's study file: the plasmode scenario, `n_gold` over the budgets,
/// every method with the shared configuration.
fn spec_text(
    args: &PlanArgs,
    (scenario_file, sha256): (&std::path::Path, &str),
    router: &str,
    baselines: &[String],
    shared: toml::Table,
) -> Result<String> {
    use toml::Value;
    let mut scenario = toml::Table::new();
    scenario.insert("name".into(), Value::String("plasmode".into()));
    scenario.insert(
        "file".into(),
        Value::String(scenario_file.display().to_string()),
    );
    scenario.insert("sha256".into(), Value::String(sha256.into()));
    if let Some(n) = args.n_pref {
        scenario.insert("n_pref".into(), Value::Integer(as_integer(n, "--n-pref")?));
    }
    if let Some(n) = args.pool {
        scenario.insert("pool".into(), Value::Integer(as_integer(n, "--pool")?));
    }
    if let Some(n) = args.n_test {
        scenario.insert("n_test".into(), Value::Integer(as_integer(n, "--n-test")?));
    }
    scenario.insert(
        "noise".into(),
        Value::String(
            match args.noise {
                NoiseKind::Gaussian => "gaussian",
                NoiseKind::Empirical => "empirical",
            }
            .into(),
        ),
    );
    let mut budgets = args.budgets.clone();
    budgets.sort_unstable();
    let mut grid = toml::Table::new();
    grid.insert(
        "n_gold".into(),
        Value::Array(
            budgets
                .iter()
                .map(|&n| as_integer(n, "--budgets").map(Value::Integer))
                .collect::<Result<_>>()?,
        ),
    );
    let mut w: Vec<f64> = W_GRID.to_vec();
    if !w.contains(&args.w) {
        w.push(args.w);
        w.sort_by(f64::total_cmp);
    }
    let mut evaluation = toml::Table::new();
    evaluation.insert(
        "rho".into(),
        Value::Array(
            (0..=RHO_STEPS)
                .map(|i| Value::Float(i as f64 / RHO_STEPS as f64))
                .collect(),
        ),
    );
    evaluation.insert(
        "w".into(),
        Value::Array(w.into_iter().map(Value::Float).collect()),
    );
    evaluation.insert(
        "compare_to".into(),
        Value::Array(baselines.iter().cloned().map(Value::String).collect()),
    );
    let methods: Vec<Value> = std::iter::once(router)
        .chain(baselines.iter().map(String::as_str))
        .map(|name| {
            let mut entry = shared.clone();
            entry.insert("label".into(), Value::String(name.into()));
            entry.insert("method".into(), Value::String(name.into()));
            Value::Table(entry)
        })
        .collect();
    let mut document = toml::Table::new();
    document.insert("name".into(), Value::String("plan".into()));
    document.insert(
        "description".into(),
        Value::String(format!(
            "GS-label budget plan on the plasmode scenario {}",
            scenario_file.display()
        )),
    );
    document.insert(
        "seed".into(),
        match i64::try_from(args.seed) {
            Ok(seed) => Value::Integer(seed),
            // Seeds above 2^63 − 1 are written as strings (as study files may).
            Err(_) => Value::String(args.seed.to_string()),
        },
    );
    document.insert(
        "replicates".into(),
        Value::Integer(as_integer(args.replicates, "--replicates")?),
    );
    document.insert("scenario".into(), Value::Table(scenario));
    document.insert("grid".into(), Value::Table(grid));
    document.insert("evaluation".into(), Value::Table(evaluation));
    document.insert("methods".into(), Value::Array(methods));
    Ok(toml::to_string(&document)?)
}

/// A count as a TOML integer.
fn as_integer(n: usize, flag: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| anyhow::anyhow!("{flag} {n}: too large"))
}
