//! `meta-router scenarios check`: a plan checked against the pilot's own GS
//! rows ([`meta_router::dgp::plasmode::pilot_check`],
//! [`meta_router::report::pilot_check`]): the learning curve of every
//! method of the plan, fitted on subsets of the pilot's GS rows and scored
//! out of fold, next to what the plan predicts at the same budgets.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::dgp::plasmode::load_checked;
use meta_router::dgp::plasmode::pilot_check::{
    default_budgets, largest_budget, pilot_check, PilotCheckOptions,
};
use meta_router::files::{self, Existing};
use meta_router::meta::MetaRouterConfig;
use meta_router::realdata::Table;
use meta_router::report::pilot_check::PilotComparison;
use meta_router::report::plan::budgets;
use meta_router::study::record::Summary;
use meta_router::study::spec::{MethodKind, StudySpec};

use super::fit::TableArgs;
use super::refuse_existing;

/// Options of `meta-router scenarios check`.
#[derive(Debug, Args)]
pub struct PilotCheckArgs {
    /// The pilot's tables (the ones the plan's scenario was calibrated from).
    #[command(flatten)]
    tables: TableArgs,
    /// The plan's folder (written by `meta-router plan`): its methods,
    /// learners, usage-ratio grid and summary.
    #[arg(long)]
    plan: PathBuf,
    /// GS rows per fit (default: the plan's budgets the pilot can reach;
    /// when it reaches none, a quarter, half, three quarters and all of the
    /// largest).
    #[arg(long, value_delimiter = ',')]
    budgets: Vec<usize>,
    /// Folds of the pilot's GS rows; each fit leaves one out.
    #[arg(long, default_value_t = DEFAULTS.folds)]
    folds: usize,
    /// Repetitions of the fold split (other training subsets each time;
    /// the metrics are their mean).
    #[arg(long, default_value_t = DEFAULTS.repeats)]
    repeats: usize,
    /// Bootstrap resamples of the GS rows.
    #[arg(long, default_value_t = DEFAULTS.bootstrap)]
    bootstrap: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = DEFAULTS.level)]
    level: f64,
    /// Master seed of the folds, fits and resamples.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A study folder of the true scenario with the plan's methods and
    /// budgets: add its values next to the plan's (for validating the check
    /// on a scenario whose truth is known).
    #[arg(long)]
    compare_with: Option<PathBuf>,
    /// Folder for `pilot_check.md` and `pilot_check.csv` (default: the plan's).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace existing `pilot_check.md` / `pilot_check.csv`.
    #[arg(long)]
    force: bool,
}

/// The settings of a pilot check (the command's, or `plan`'s defaults).
#[derive(Debug, Clone)]
pub(crate) struct CheckSettings {
    /// Budgets; empty: the plan's budgets the pilot reaches.
    pub budgets: Vec<usize>,
    pub folds: usize,
    pub repeats: usize,
    pub bootstrap: usize,
    pub level: f64,
    pub seed: u64,
}

/// The command's defaults (and `plan`'s, with the plan's seed).
const DEFAULTS: CheckSettings = CheckSettings {
    budgets: Vec::new(),
    folds: 5,
    repeats: 5,
    bootstrap: 1000,
    level: 0.95,
    seed: 0,
};

impl CheckSettings {
    /// `plan`'s pilot check: the command's defaults with the plan's seed.
    pub(crate) fn defaults(seed: u64) -> Self {
        CheckSettings { seed, ..DEFAULTS }
    }

    /// The budgets the check runs at for a pilot of `n_gold` GS rows and a
    /// plan with `planned` budgets: the given ones, else the planned ones
    /// the pilot reaches, else [`default_budgets`] (with a note that nothing
    /// will be compared). Empty when the pilot is too small for any.
    pub(crate) fn budgets_for(&self, n_gold: usize, planned: &[u64]) -> Vec<usize> {
        if !self.budgets.is_empty() {
            return self.budgets.clone();
        }
        let largest = largest_budget(n_gold, self.folds);
        let reachable: Vec<usize> = planned
            .iter()
            .map(|&n| n as usize)
            .filter(|&n| n <= largest)
            .collect();
        if !reachable.is_empty() {
            return reachable;
        }
        let fallback = default_budgets(n_gold, self.folds);
        if !fallback.is_empty() {
            eprintln!(
                "note: the plan has no budget the pilot can reach (at most {largest} GS rows per \
                 fit): the check runs at {fallback:?} and has no planned values to compare"
            );
        }
        fallback
    }
}

/// `meta-router scenarios check`.
pub fn pilot_check_command(args: PilotCheckArgs) -> Result<()> {
    let settings = CheckSettings {
        budgets: args.budgets.clone(),
        folds: args.folds,
        repeats: args.repeats,
        bootstrap: args.bootstrap,
        level: args.level,
        seed: args.seed,
    };
    let out = args.out.clone().unwrap_or_else(|| args.plan.clone());
    for target in targets(&out) {
        refuse_existing(&target, args.force)?;
    }
    let spec_path = args.plan.join("spec.toml");
    let spec_text = files::read_text(&spec_path, meta_router::study::spec::SPEC_FACTOR)
        .with_context(|| format!("--plan {}: not a plan's folder", args.plan.display()))?;
    let spec = StudySpec::parse(&spec_text, &spec_path.display().to_string())?;
    let (_, summary) = meta_router::study::check::load_summary(&args.plan)?;
    let truth = match &args.compare_with {
        Some(dir) => Some(meta_router::study::check::load_summary(dir)?.1),
        None => None,
    };
    let (gold, pref) = args.tables.read_pilot()?;
    let plan = PlanStudy {
        spec: &spec,
        summary: &summary,
        truth: truth.as_ref(),
        file: &spec_path.display().to_string(),
    };
    let comparison = check_plan(
        &plan,
        (&gold, &pref),
        &settings,
        (&out, Existing::from_force(args.force), false),
    )?;
    print!("{}", comparison.markdown());
    Ok(())
}

/// The plan a pilot check reads: its study's spec (methods, learners) and
/// summary, a true scenario's summary for validation, and the spec's file
/// name for errors.
pub(crate) struct PlanStudy<'a> {
    pub spec: &'a StudySpec,
    pub summary: &'a Summary,
    pub truth: Option<&'a Summary>,
    pub file: &'a str,
}

/// `pilot_check.md` and `pilot_check.csv` in `out`.
fn targets(out: &Path) -> [PathBuf; 2] {
    [out.join("pilot_check.md"), out.join("pilot_check.csv")]
}

/// Runs the pilot check of `plan` on the pilot's tables and writes
/// `pilot_check.md` / `.csv` into `out`; reports on stderr unless `quiet`.
pub(crate) fn check_plan(
    plan: &PlanStudy<'_>,
    (gold, pref): (&Table, &Table),
    settings: &CheckSettings,
    (out, existing, quiet): (&Path, Existing, bool),
) -> Result<PilotComparison> {
    let methods = estimators(plan)?;
    if let Some(truth) = plan.truth {
        if truth.rho != plan.summary.rho {
            bail!(
                "--compare-with: the true scenario's study has another usage-ratio grid than \
                 the plan's; run it with the plan's rho"
            );
        }
    }
    warn_other_pilot(plan.spec, gold.x.nrows(), pref.x.nrows());
    let budgets = settings.budgets_for(gold.x.nrows(), &budgets(plan.summary));
    let options = PilotCheckOptions {
        budgets,
        folds: settings.folds,
        repeats: settings.repeats,
        rho: plan.summary.rho.clone(),
        bootstrap: settings.bootstrap,
        level: settings.level,
        seed: settings.seed,
    };
    let started = std::time::Instant::now();
    let check = pilot_check(&methods, gold, pref, &options)?;
    let comparison = PilotComparison::new(check, Some(plan.summary), plan.truth)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let [md, csv] = targets(out);
    files::write_files(
        &[(md, comparison.markdown()), (csv, comparison.csv())],
        existing,
    )?;
    if quiet {
        return Ok(comparison);
    }
    let (agree, total) = comparison.tally();
    eprintln!(
        "pilot check: {} fits in {:.1} s; {agree} of {total} comparisons with the plan agree; \
         wrote pilot_check.md and pilot_check.csv into {}",
        settings.repeats * settings.folds * comparison.check.budgets.len() * methods.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    if plan.truth.is_some() {
        let (agree, total) = comparison.tally_truth();
        eprintln!("  against the true scenario: {agree} of {total} agree");
    }
    Ok(comparison)
}

/// The plan's estimators (label, configuration), the router (a
/// meta-learner) first.
fn estimators(plan: &PlanStudy<'_>) -> Result<Vec<(String, MetaRouterConfig)>> {
    let methods: Vec<(String, MetaRouterConfig)> = plan
        .spec
        .methods
        .iter()
        .filter_map(|m| match &m.kind {
            MethodKind::Estimator(config) => Some((m.label.clone(), (**config).clone())),
            _ => None,
        })
        .collect();
    if methods.len() < 2 || !methods[0].1.method.is_meta() {
        bail!(
            "{}: a plan's study lists its router (a meta-learner) first and at least one \
             baseline; this one does not",
            plan.file
        );
    }
    Ok(methods)
}

/// A warning when the plan's scenario was calibrated from tables of other
/// sizes than these.
fn warn_other_pilot(spec: &StudySpec, n_gold: usize, n_pref: usize) {
    let text = |key: &str| spec.scenario.get(key).and_then(toml::Value::as_str);
    let (Some(file), Some(sha256)) = (text("file"), text("sha256")) else {
        return;
    };
    if let Ok(loaded) = load_checked(file, sha256) {
        let pilot = &loaded.file.pilot;
        if (pilot.n_gold, pilot.n_pref) != (n_gold, n_pref) {
            eprintln!(
                "warning: the plan's scenario was calibrated from {} GS and {} PB rows, these \
                 tables have {n_gold} and {n_pref}: check a plan against its own pilot",
                pilot.n_gold, pilot.n_pref
            );
        }
    }
}
