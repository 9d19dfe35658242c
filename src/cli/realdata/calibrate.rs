//! `meta-router scenarios calibrate`: a plasmode scenario from pilot data
//! ([`meta_router::dgp::plasmode`], [`meta_router::dgp::plasmode::calibrate`]): a
//! meta-learner fit on the pilot's GS and PB tables (the same reading,
//! validation and learners as `fit`), recalibrated on out-of-fold fits,
//! written with the pilot's feature rows and residuals as one file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use meta_router::dgp::plasmode::{sample_sd, LoadedPlasmode, PlasmodeFile, RecalibrationRule};
use meta_router::files::{self, Existing};
use meta_router::meta::MetaRouterConfig;
use meta_router::realdata;
use meta_router::report::format_significant;

use super::fit::{config_key, router_config, TableArgs};
use super::refuse_existing;

/// Fewer pilot GS rows than this: `calibrate` warns that the planted truth
/// rests on few labels.
const FEW_GOLD_ROWS: usize = 100;

/// Options of `meta-router scenarios calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    #[command(flatten)]
    tables: TableArgs,
    /// Router configuration of the pilot fit (TOML, as for `fit`); its
    /// method must be a meta-learner (dr-learner, r-learner). Default: the
    /// DR-learner with the library defaults (ridge). Calibrate with a
    /// smooth learner such as ridge whatever learner the plan's methods use:
    /// a forest's in-sample fit is mostly its own noise, and plans from it
    /// mislead (docs/planning.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Plant the fitted ψ̂ and η̂ as they are, without the out-of-fold
    /// recalibration of their slopes.
    #[arg(long, conflicts_with = "recalibration")]
    no_recalibration: bool,
    /// How the recalibration scales ψ̂ and η̂: `variance` (the default: the
    /// planted function's variance is the labels' covariance with the
    /// out-of-fold fits, the learnable heterogeneity the pilot shows,
    /// unshrunk) or `slope` (the least-squares calibration slope of the
    /// labels on the out-of-fold fits, which shrinks it by their estimation
    /// noise).
    #[arg(long, default_value = "variance", value_parser = parse_rule)]
    recalibration: RecalibrationRule,
    /// Master seed of the pilot fit.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to write the plasmode file (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// `meta-router scenarios calibrate`.
pub fn calibrate(args: CalibrateArgs) -> Result<()> {
    let config = router_config(&args.config)?;
    let key = config_key(&args.config);
    refuse_existing(&args.out, args.force)?;
    let (gold, pref) = args.tables.read_pilot()?;
    let calibration = calibrate_tables(
        &config,
        &key,
        (&gold, &pref),
        (
            args.seed,
            (!args.no_recalibration).then_some(args.recalibration),
        ),
        &args.out,
    )?;
    calibration.write(&args.out, Existing::from_force(args.force), (&gold, false))?;
    println!("[scenario]");
    println!("name = \"plasmode\"");
    println!(
        "file = {}",
        toml::Value::String(args.out.display().to_string())
    );
    println!("sha256 = \"{}\"", calibration.sha256);
    Ok(())
}

/// A calibrated plasmode file, not yet written.
pub(crate) struct Calibration {
    plasmode: PlasmodeFile,
    text: String,
    /// The text's SHA-256.
    pub sha256: String,
    seconds: f64,
}

/// Calibrates a plasmode scenario from the pilot's tables with `config`
/// (its keys named by `key` in errors) and master `seed` (recalibrated by
/// `rule`, or not at all with `None`), and checks that the file reads back as a
/// scenario (named `out` in errors).
pub(crate) fn calibrate_tables(
    config: &MetaRouterConfig,
    key: &dyn Fn(&str) -> String,
    (gold, pref): (&realdata::Table, &realdata::Table),
    (seed, rule): (u64, Option<RecalibrationRule>),
    out: &Path,
) -> Result<Calibration> {
    if !config.method.is_meta() {
        bail!(
            "{}: calibration fits a meta-learner (dr-learner or r-learner), whose Δ̂ is part \
             of the planted truth; found method `{}`",
            key("method"),
            config.method.name()
        );
    }
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    realdata::check_fit_size(config, gold, pref, key)?;
    let started = std::time::Instant::now();
    let calibrated =
        meta_router::dgp::plasmode::calibrate::calibrate(config, gold, pref, seed, rule)?;
    let (plasmode, text) = (calibrated.file, calibrated.text);
    // The file must read back as a scenario before it is written.
    LoadedPlasmode::parse(&text, &out.display().to_string())?;
    Ok(Calibration {
        sha256: files::sha256_hex(text.as_bytes()),
        plasmode,
        text,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Calibration {
    /// Writes the file to `out` and reports what was planted (unless
    /// `quiet`) and the warnings on stderr (`gold`: the pilot's GS table).
    pub(crate) fn write(
        &self,
        out: &Path,
        existing: Existing,
        (gold, quiet): (&realdata::Table, bool),
    ) -> Result<()> {
        files::write_file(out, self.text.as_bytes(), existing)?;
        report(out, &self.plasmode, gold, self.seconds, quiet);
        Ok(())
    }
}

/// `--recalibration`: `slope` or `variance`.
pub(crate) fn parse_rule(text: &str) -> std::result::Result<RecalibrationRule, String> {
    match text {
        "slope" => Ok(RecalibrationRule::Slope),
        "variance" => Ok(RecalibrationRule::Variance),
        other => Err(format!(
            "`{other}` is not a recalibration rule (slope, variance)"
        )),
    }
}

/// What was calibrated and the warnings.
fn report(out: &Path, plasmode: &PlasmodeFile, gold: &realdata::Table, seconds: f64, quiet: bool) {
    let warnings = calibration_warnings(plasmode, gold);
    if quiet {
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
        return;
    }
    let show = |x: f64| format_significant(x, 4);
    let (pilot, truth, noise) = (&plasmode.pilot, &plasmode.truth, &plasmode.noise);
    eprintln!(
        "calibrated a plasmode scenario from {} GS and {} PB rows, {} features, in {seconds:.2} s; wrote {}",
        pilot.n_gold,
        pilot.n_pref,
        plasmode.features.len(),
        out.display()
    );
    eprintln!(
        "  truth over the pilot rows: ψ mean {} sd {} (ψ > 0 on {:.1}% of rows); Δ mean {} sd {}",
        show(truth.mean_psi),
        show(truth.sd_psi),
        100.0 * truth.share_psi_positive,
        show(truth.mean_delta),
        show(truth.sd_delta)
    );
    match noise.pref_tie_share {
        Some(tie) => eprintln!(
            "  noise: GS residual sd {}; PB labels are votes (tie share {})",
            show(noise.gold_sd),
            show(tie)
        ),
        None => eprintln!(
            "  noise: GS residual sd {}, PB residual sd {}",
            show(noise.gold_sd),
            show(noise.pref_sd)
        ),
    }
    let recalibration = &plasmode.recalibration;
    if recalibration.folds > 0 {
        let (psi, eta) = (&recalibration.psi, &recalibration.eta);
        eprintln!(
            "  recalibration on {} out-of-fold fits: slope of the GS labels on ψ̂ {} (SE {}), \
             of the PB labels on η̂ {} (SE {})",
            recalibration.folds,
            show(psi.calibration_slope()),
            show(psi.slope_se),
            show(eta.calibration_slope()),
            show(eta.slope_se)
        );
        if recalibration.rule == RecalibrationRule::Variance {
            eprintln!(
                "  variance rule: ψ̂ scaled by {} and η̂ by {} about their means",
                show(psi.slope),
                show(eta.slope)
            );
        }
    }
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// When a plan from this calibration deserves suspicion: a truth fitted on
/// few GS rows, a ψ̂ whose out-of-fold fits predict the GS labels poorly (a
/// small or uncertain calibration slope), or a planted ψ that varies more
/// than the GS labels.
fn calibration_warnings(plasmode: &PlasmodeFile, gold: &realdata::Table) -> Vec<String> {
    let mut warnings = Vec::new();
    let n_gold = plasmode.pilot.n_gold;
    if n_gold < FEW_GOLD_ROWS {
        warnings.push(format!(
            "the pilot has {n_gold} GS rows (fewer than {FEW_GOLD_ROWS}): the planted ψ and Δ \
             rest on few labels, so a plan extrapolates from a rough guess of the truth"
        ));
    }
    let psi = &plasmode.recalibration.psi;
    let slope = psi.calibration_slope();
    if plasmode.recalibration.folds > 0 && (slope < 0.5 || psi.slope_se > 0.5 * slope) {
        warnings.push(format!(
            "out of fold, the GS labels follow ψ̂ with slope {} (SE {}): the pilot gives \
             little support to the heterogeneity this learner finds, so the planted ψ is {} \
             and its shape is the learner's more than the data's; compare a plan from a \
             smoother learner in --config, or collect more GS rows",
            format_significant(slope, 3),
            format_significant(psi.slope_se, 2),
            match (slope < 0.5, plasmode.recalibration.rule) {
                (true, RecalibrationRule::Slope) => "shrunk toward its mean",
                (true, RecalibrationRule::Variance) =>
                    "scaled to a covariance the pilot barely shows",
                (false, _) => "uncertain",
            }
        ));
    }
    if plasmode.recalibration.folds > 0
        && plasmode.recalibration.rule == RecalibrationRule::Variance
        && psi.slope < 0.5
    {
        warnings.push(format!(
            "the variance rule scaled ψ̂ by {}: the fit varies far more over the pilot rows \
             than its out-of-fold predictions follow the GS labels (an in-sample fit that \
             tracks its own labels, as forests do), so the part of the planted ψ a method can \
             learn is shrunk by about that factor and a plan understates the gains; calibrate \
             with a smoother learner in --config (the default ridge; with `plan --gold`, \
             --calibration-config) (docs/planning.md, \"Choosing the calibration\")",
            format_significant(psi.slope, 3)
        ));
    }
    if let Some(labels) = &gold.label {
        let sd = sample_sd(&labels.to_vec());
        if plasmode.truth.sd_psi > sd {
            warnings.push(format!(
                "the planted ψ varies more across the pilot rows (sd {}) than the GS labels \
                 themselves (sd {}): the truth is likely overfit, and a plan will be optimistic \
                 for flexible methods",
                format_significant(plasmode.truth.sd_psi, 3),
                format_significant(sd, 3)
            ));
        }
    }
    warnings
}
