//! `meta-router evaluate`: routing metrics of a router file on held-out
//! GS-labelled queries.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use meta_router::files::{self, Existing};
use meta_router::realdata::evaluate::{
    self as evaluation, evaluate, EvaluationOptions, MIN_QUERIES,
};
use meta_router::realdata::{
    self, model_file, multi, read_table, roles_for_router, LabelColumn, LabelKind, RouterFile,
    Table,
};
use meta_router::report;

use super::{parse_list, parse_pair, refuse_existing};

/// Options of `meta-router evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The router file written by `fit`.
    #[arg(long)]
    model: PathBuf,
    /// Held-out GS-labelled queries (CSV) with the router's feature columns.
    #[arg(long)]
    test: PathBuf,
    /// The GS label column.
    #[arg(long, default_value = "label")]
    label: String,
    /// A column of true gains ψ(q) to evaluate against instead of the noisy
    /// labels (exported scenario data has `true_psi`).
    #[arg(long)]
    truth: Option<String>,
    /// Output folder for evaluation.md, evaluation.csv and the figures.
    #[arg(long)]
    out: PathBuf,
    /// Cost weights w of the regret curve.
    #[arg(long, default_value = "0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5")]
    w: String,
    /// Per-query costs `C_p,C_a`.
    #[arg(long, value_parser = parse_pair, default_value = "1,0")]
    cost: (f64, f64),
    /// Bootstrap samples for the intervals (0: none).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Replace the evaluation files in an existing output folder.
    #[arg(long)]
    force: bool,
}

/// Files `evaluate` writes into its folder.
const EVALUATION_FILES: &[&str] = &["evaluation.md", "evaluation.csv"];

/// `meta-router evaluate`.
pub fn evaluate_command(args: EvaluateArgs) -> Result<()> {
    if !args.force {
        for name in EVALUATION_FILES {
            refuse_existing(&args.out.join(name), false)?;
        }
    }
    let text = model_file::read_text(&args.model)?;
    if multi::is_multi(&text) {
        bail!(
            "{}: `evaluate` takes two-model routers; a many-model router is evaluated in \
             simulation studies (scenario `multi-model`), and on real data by `route` at the \
             cost weights of interest",
            args.model.display()
        );
    }
    let (file, router) = model_file::parse(&text, &args.model.display().to_string())?;
    let test = read_test(&args, &file)?;
    let gains = match &args.truth {
        Some(column) => test.extra[column].clone(),
        None => test.labels()?.clone(),
    };
    let options = EvaluationOptions {
        w: parse_list(&args.w).map_err(|e| anyhow::anyhow!("--w: {e}"))?,
        costs: args.cost,
        bootstrap: args.bootstrap,
        level: args.level,
        seed: args.seed,
        ..EvaluationOptions::default()
    };
    evaluation::estimate(test.rows(), &options).check()?;
    let psi_hat = router.predict_psi(test.x.view());
    realdata::check_scores(&psi_hat, &args.model.display().to_string(), &test)?;
    let eval = evaluate(psi_hat.view(), gains.view(), &options)?;
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let (model_name, test_name) = (name(&args.model), name(&args.test));
    let source = report::EvaluationSource {
        model: &model_name,
        test: &test_name,
        gains: args.truth.as_deref().unwrap_or(&args.label),
    };
    let markdown = report::evaluation_markdown(&eval, &file, &source);
    let csv = report::evaluation_csv(&eval);
    let mut outputs: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            args.out.join("evaluation.md"),
            markdown.clone().into_bytes(),
        ),
        (args.out.join("evaluation.csv"), csv.into_bytes()),
    ];
    for (name, bytes) in report::evaluation_figure_files(&eval)? {
        outputs.push((args.out.join(name), bytes));
    }
    let created = files::create_folder(&args.out)?;
    if let Err(e) = files::write_files(&outputs, Existing::from_force(args.force)) {
        created.undo();
        return Err(e.into());
    }
    print!("{markdown}");
    Ok(())
}

/// The test table: the router's features, the GS label column and the
/// `--truth` column; at least [`MIN_QUERIES`] rows.
fn read_test(args: &EvaluateArgs, file: &RouterFile) -> Result<Table> {
    let label = LabelColumn {
        name: args.label.clone(),
        kind: LabelKind::Numeric,
        range: None,
        constant_ok: true,
        missing_ok: false,
    };
    let extra = args.truth.iter().cloned().collect();
    let roles = roles_for_router(&file.features, Some(label), extra, None);
    let test = read_table(&args.test, &roles)?;
    if test.rows() < MIN_QUERIES {
        bail!(
            "{}: {} data row(s); `evaluate` needs at least {MIN_QUERIES} test queries (with \
             fewer, the usage-ratio curve is a staircase of ties and a bootstrap interval means \
             little)",
            args.test.display(),
            test.rows()
        );
    }
    Ok(test)
}
