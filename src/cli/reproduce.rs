//! `meta-router reproduce`: runs the paper's study files and draws the paper's
//! figures and tables from their stored summaries.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use meta_router::files;
use meta_router::report::{self, paper};
use meta_router::study::spec::SPEC_FACTOR;
use meta_router::study::{self, spec::StudySpec, RunOptions};

/// The paper's study files, compiled in (`simulations/paper/`).
pub const STUDIES: &[(&str, &str)] = &[
    ("fig1", include_str!("../../simulations/paper/fig1.toml")),
    ("fig2", include_str!("../../simulations/paper/fig2.toml")),
    ("fig4", include_str!("../../simulations/paper/fig4.toml")),
    (
        "ablation_script",
        include_str!("../../simulations/paper/ablation_script.toml"),
    ),
    (
        "ablation_assembly",
        include_str!("../../simulations/paper/ablation_assembly.toml"),
    ),
    (
        "ablation_leaf",
        include_str!("../../simulations/paper/ablation_leaf.toml"),
    ),
    (
        "ablation_normalize",
        include_str!("../../simulations/paper/ablation_normalize.toml"),
    ),
    (
        "ablation_lambda",
        include_str!("../../simulations/paper/ablation_lambda.toml"),
    ),
    (
        "ablation_bias_learner",
        include_str!("../../simulations/paper/ablation_bias_learner.toml"),
    ),
    (
        "ablation_dr_leaf",
        include_str!("../../simulations/paper/ablation_dr_leaf.toml"),
    ),
    (
        "ablation_dr_leaf_boosting",
        include_str!("../../simulations/paper/ablation_dr_leaf_boosting.toml"),
    ),
    (
        "ablation_dr_second_stage",
        include_str!("../../simulations/paper/ablation_dr_second_stage.toml"),
    ),
    (
        "ablation_dr_robustness",
        include_str!("../../simulations/paper/ablation_dr_robustness.toml"),
    ),
];

/// The theory studies (`simulations/theory/`, `reproduce theory`): rates and
/// double robustness, written to `results/theory` by default.
pub const THEORY_STUDIES: &[(&str, &str)] = &[
    (
        "error_product",
        include_str!("../../simulations/theory/error_product.toml"),
    ),
    ("rates", include_str!("../../simulations/theory/rates.toml")),
    (
        "rates_forest",
        include_str!("../../simulations/theory/rates_forest.toml"),
    ),
    (
        "rates_kernel",
        include_str!("../../simulations/theory/rates_kernel.toml"),
    ),
    (
        "lemma1",
        include_str!("../../simulations/theory/lemma1.toml"),
    ),
    (
        "coverage",
        include_str!("../../simulations/theory/coverage.toml"),
    ),
];

/// What `reproduce` can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Fig. 1: all-forest, healthbench-like.
    Fig1,
    /// Fig. 2: all gradient boosting.
    Fig2,
    /// Fig. 3: Fig. 1 with the mean-shift router.
    Fig3,
    /// Fig. 4: PRBench-like sizes.
    Fig4,
    /// The ablation studies.
    Ablations,
    /// Every paper figure and ablation (not the theory studies).
    All,
    /// The theory studies: convergence rates, the nuisance-error product, Lemma 1
    /// and coverage against N
    /// (`simulations/theory/`; default output `results/theory`). Not
    /// combined with the paper's targets.
    Theory,
}

impl Target {
    fn studies(self) -> Vec<&'static str> {
        match self {
            Target::Fig1 | Target::Fig3 => vec!["fig1"],
            Target::Fig2 => vec!["fig2"],
            Target::Fig4 => vec!["fig4"],
            Target::Ablations => STUDIES
                .iter()
                .map(|(name, _)| *name)
                .filter(|n| n.starts_with("ablation"))
                .collect(),
            Target::All => STUDIES.iter().map(|(name, _)| *name).collect(),
            Target::Theory => THEORY_STUDIES.iter().map(|(name, _)| *name).collect(),
        }
    }
}

/// The compiled-in text and file of a study named by a target.
fn study_text(name: &str) -> Option<(&'static str, &'static str)> {
    STUDIES
        .iter()
        .map(|s| (s, "paper"))
        .chain(THEORY_STUDIES.iter().map(|s| (s, "theory")))
        .find(|((n, _), _)| *n == name)
        .map(|((_, text), folder)| (*text, folder))
}

/// Options of a reproduction.
#[derive(Debug, Clone)]
pub struct Options {
    /// Output folder (one study folder per study inside, figures at the top).
    pub out: PathBuf,
    /// Replicates per grid point (default: the study files').
    pub replicates: Option<usize>,
    /// Worker threads.
    pub threads: Option<usize>,
    /// Replace study folders whose spec differs instead of refusing.
    pub force: bool,
}

/// Options of `meta-router reproduce`.
#[derive(Debug, clap::Args)]
pub struct ReproduceArgs {
    /// What to reproduce (default: all).
    #[arg(value_enum)]
    targets: Vec<Target>,
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
}

/// `meta-router reproduce`.
pub fn command(args: ReproduceArgs) -> Result<()> {
    let ReproduceArgs {
        targets,
        replicates,
        quick,
        out,
        threads,
        force,
    } = args;
    if replicates == Some(0) {
        anyhow::bail!("--replicates must be at least 1");
    }
    let targets = if targets.is_empty() {
        vec![Target::All]
    } else {
        targets
    };
    let theory = targets.contains(&Target::Theory);
    let default_out = match (theory, quick) {
        (true, true) => "results/theory-quick",
        (true, false) => "results/theory",
        (false, true) => "results/paper-quick",
        (false, false) => "results/paper",
    };
    let options = Options {
        out: out.unwrap_or_else(|| PathBuf::from(default_out)),
        replicates: replicates.or(quick.then_some(1)),
        threads,
        force,
    };
    run(&targets, &options)
}

/// Runs every study the targets need (resuming a folder that holds the same
/// spec, so a finished study is not recomputed), then draws the figures and
/// writes `tables.md` into `options.out`.
pub fn run(targets: &[Target], options: &Options) -> Result<()> {
    let mut names: Vec<&str> = Vec::new();
    for target in targets {
        for study in target.studies() {
            if !names.contains(&study) {
                names.push(study);
            }
        }
    }
    // Every study file and option is checked before anything is written.
    if let Some(threads) = options.threads {
        anyhow::ensure!(
            (1..=study::spec::MAX_THREADS).contains(&threads),
            "--threads {threads}: must lie between 1 and {}",
            study::spec::MAX_THREADS
        );
    }
    anyhow::ensure!(
        !targets.contains(&Target::Theory) || targets.iter().all(|t| *t == Target::Theory),
        "`reproduce theory` writes its own folder (results/theory); run it apart from the paper's targets"
    );
    let mut specs = Vec::with_capacity(names.len());
    for name in &names {
        let (text, folder) = study_text(name).expect("every target's studies are listed");
        let mut spec = StudySpec::parse(
            text,
            &format!("simulations/{folder}/{name}.toml (built in)"),
        )?;
        if let Some(r) = options.replicates {
            spec.set_replicates(r, "--replicates")?;
        }
        specs.push((*name, spec));
    }
    let created = files::create_folder(&options.out)?;
    let result = run_studies(&specs, targets, options);
    if result.is_err() {
        // Removes the folders only if the failed command left them empty.
        created.undo();
    }
    result
}

fn run_studies(specs: &[(&str, StudySpec)], targets: &[Target], options: &Options) -> Result<()> {
    let mut summaries = Vec::new();
    for (name, spec) in specs {
        for warning in &spec.warnings {
            eprintln!("note: {name}: {warning}");
        }
        let dir = options.out.join(name);
        let resume = same_spec(&dir, spec);
        eprintln!(
            "reproduce: {name} ({} units){}",
            spec.units(),
            if resume { ", resuming" } else { "" }
        );
        let run_options = RunOptions {
            out: dir.clone(),
            threads: options.threads,
            resume,
            force: !resume && options.force,
            progress: true,
            ..RunOptions::default()
        };
        let mut outcome = study::run(spec, &run_options)
            .with_context(|| format!("study {name} into {}", dir.display()))?;
        let files = report::publish(&outcome.summary, &outcome.dir)?;
        outcome.publish(&files)?;
        eprintln!(
            "reproduce: {name}: {} units run, {} resumed, {:.0} s",
            outcome.units_run, outcome.units_resumed, outcome.seconds
        );
        summaries.push((*name, outcome.summary.clone()));
    }
    if targets.contains(&Target::Theory) {
        // Each theory study's figures are in its folder (report::publish).
        return Ok(());
    }
    draw(&summaries, targets, &options.out)
}

/// Whether `dir` holds an unsharded study started with this spec, up to its
/// claims ([`study::same_computation`]: a study whose claims changed
/// resumes, and its `spec.toml` and claim outcomes are rewritten).
fn same_spec(dir: &Path, spec: &StudySpec) -> bool {
    files::read_text(&dir.join("spec.toml"), SPEC_FACTOR)
        .is_ok_and(|text| study::same_computation(&text, spec, None))
}

fn draw(
    summaries: &[(&str, meta_router::study::record::Summary)],
    targets: &[Target],
    out: &Path,
) -> Result<()> {
    let all = targets.contains(&Target::All);
    let wanted = |name: &str| {
        all || targets.iter().any(|t| match t {
            Target::Fig1 => name == "fig1",
            Target::Fig2 => name == "fig2",
            Target::Fig3 => name == "fig3",
            Target::Fig4 => name == "fig4",
            _ => false,
        })
    };
    let summary_of = |study: &str| summaries.iter().find(|(n, _)| *n == study).map(|(_, s)| s);
    let mut tables = String::from(
        "# Tables of the paper's reproduction\n\nGenerated by `meta-router reproduce` from the \
         studies' summary.json files; every cell is mean ± Monte Carlo SE. Peak: the largest \
         value of the mean curve of EG(ρ)/m over ρ ∈ [0.2, 0.8]; paired differences are taken \
         at the method's peak ρ, over the replicates where both methods succeeded.\n\n",
    );
    for figure in paper::PAPER_FIGURES.iter().filter(|f| wanted(f.name)) {
        let Some(summary) = summary_of(figure.study) else {
            continue;
        };
        for path in paper::paper_figure(figure, summary, out)? {
            eprintln!("reproduce: wrote {}", path.display());
        }
        tables.push_str(&format!("## {}\n\n", figure.title));
        tables.push_str(&paper::tables(summary, figure.methods));
    }
    for (name, summary) in summaries {
        let paired = paper::paired_figure(
            summary,
            &format!("paired_{name}"),
            &format!("Paired differences of NEG area, study {name} (±2 MCSE)"),
            out,
        )?;
        for path in paired {
            eprintln!("reproduce: wrote {}", path.display());
        }
        if name.starts_with("ablation") {
            let title = match summary.provenance.sweeps.first() {
                Some(variant) => format!(
                    "Ablation {name}: NEG area against {}, ±2 MCSE",
                    variant.setting.keys().next().map_or("", String::as_str)
                ),
                None => format!("Ablation {name}: normalized efficiency gain EG(ρ)/m"),
            };
            for path in paper::ablation_figure(summary, name, &title, out)? {
                eprintln!("reproduce: wrote {}", path.display());
            }
            let view_methods: Vec<String> = {
                let mut seen: Vec<String> = Vec::new();
                for row in &summary.rows {
                    if row.versus.is_none() && !seen.contains(&row.method) {
                        seen.push(row.method.clone());
                    }
                }
                seen
            };
            let methods: Vec<&str> = view_methods.iter().map(String::as_str).collect();
            tables.push_str(&format!("## Ablation `{name}`\n\n"));
            tables.push_str(&paper::tables(summary, &methods));
        }
    }
    let path = out.join("tables.md");
    meta_router::files::write_file(
        &path,
        tables.as_bytes(),
        meta_router::files::Existing::Replace,
    )?;
    eprintln!("reproduce: wrote {}", path.display());
    Ok(())
}
