//! `meta-router scenarios check`: a plan checked against the pilot's own GS
//! rows ([`meta_router::dgp::plasmode::pilot_check`],
//! [`meta_router::report::pilot_check`]): the learning curve of every
//! method of the plan, fitted on subsets of the pilot's GS rows and scored
//! out of fold, next to what the plan predicts at the same budgets.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::dgp::plasmode::load_checked;
use meta_router::dgp::plasmode::pilot_check::{
    default_budgets, largest_budget, pilot_check, PilotCheckOptions,
};
use meta_router::files::{self, Existing};
use meta_router::realdata::FeatureSelection;
use meta_router::report::pilot_check::PilotComparison;
use meta_router::study::spec::{MethodKind, StudySpec};

use super::fit::{check_range, TableArgs};
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
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Repetitions of the fold split (other training subsets each time;
    /// the metrics are their mean).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Bootstrap resamples of the GS rows.
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
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

/// `meta-router scenarios check`.
pub fn pilot_check_command(args: PilotCheckArgs) -> Result<()> {
    check_range(args.tables.gold_range, "gold-range")?;
    check_range(args.tables.pref_range, "pref-range")?;
    if args.folds < 2 {
        bail!("--folds {}: must be at least 2", args.folds);
    }
    if args.repeats < 1 {
        bail!("--repeats {}: must be at least 1", args.repeats);
    }
    if !(args.level > 0.0 && args.level < 1.0) {
        bail!("--level {}: must lie in (0, 1)", args.level);
    }
    let out = args.out.clone().unwrap_or_else(|| args.plan.clone());
    let targets = [out.join("pilot_check.md"), out.join("pilot_check.csv")];
    for target in &targets {
        refuse_existing(target, args.force)?;
    }
    let spec_path = args.plan.join("spec.toml");
    let spec_text = files::read_text(&spec_path, meta_router::study::spec::SPEC_FACTOR)
        .with_context(|| format!("--plan {}: not a plan's folder", args.plan.display()))?;
    let spec = StudySpec::parse(&spec_text, &spec_path.display().to_string())?;
    let methods: Vec<(String, meta_router::meta::MetaRouterConfig)> = spec
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
            spec_path.display()
        );
    }
    let (_, summary) = meta_router::study::check::load_summary(&args.plan)?;
    let truth = match &args.compare_with {
        Some(dir) => Some(meta_router::study::check::load_summary(dir)?.1),
        None => None,
    };
    let features = FeatureSelection::parse(&args.tables.features)?;
    let (gold, pref) = args
        .tables
        .read(&features, &args.tables.label, None, Vec::new(), false)?;
    warn_other_pilot(&spec, gold.x.nrows(), pref.x.nrows());
    let n_gold = gold.x.nrows();
    let largest = largest_budget(n_gold, args.folds);
    let budgets = if args.budgets.is_empty() {
        let mut reachable: Vec<usize> = summary
            .rows
            .iter()
            .filter_map(|r| r.grid.get("n_gold").and_then(serde_json::Value::as_u64))
            .map(|n| n as usize)
            .filter(|&n| n <= largest)
            .collect();
        reachable.sort_unstable();
        reachable.dedup();
        if reachable.is_empty() {
            eprintln!(
                "note: the plan has no budget the pilot can reach (at most {largest} GS rows per \
                 fit): the check runs at {:?} and has no planned values to compare",
                default_budgets(n_gold, args.folds)
            );
            default_budgets(n_gold, args.folds)
        } else {
            reachable
        }
    } else {
        args.budgets.clone()
    };
    let options = PilotCheckOptions {
        budgets,
        folds: args.folds,
        repeats: args.repeats,
        rho: summary.rho.clone(),
        bootstrap: args.bootstrap,
        level: args.level,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let check = pilot_check(&methods, &gold, &pref, &options)?;
    let comparison = PilotComparison::new(check, Some(&summary), truth.as_ref())?;
    let markdown = comparison.markdown();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    files::write_files(
        &[
            (targets[0].clone(), markdown.clone()),
            (targets[1].clone(), comparison.csv()),
        ],
        Existing::from_force(args.force),
    )?;
    let (agree, total) = comparison.tally();
    eprintln!(
        "pilot check: {} fits in {:.1} s; {agree} of {total} comparisons with the plan agree; \
         wrote pilot_check.md and pilot_check.csv into {}",
        args.repeats * args.folds * comparison.check.budgets.len() * methods.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    if args.compare_with.is_some() {
        let (agree, total) = comparison.tally_truth();
        eprintln!("  against the true scenario: {agree} of {total} agree");
    }
    print!("{markdown}");
    Ok(())
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
