//! `meta-router evaluate`: routing metrics of a router file on held-out
//! GS-labelled queries.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use meta_router::files::{self, Existing};
use meta_router::meta::FittedRouter;
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
    /// The router file written by `fit`. Repeat it to compare several
    /// routers on the same test queries (paired bootstrap differences of
    /// every pair).
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
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
    /// Also write one self-contained page (`evaluation.html`, or
    /// `comparison.html` for several routers): the report with every figure
    /// inline.
    #[arg(long)]
    html: bool,
}

/// Files `evaluate` writes into its folder (one router).
const EVALUATION_FILES: &[&str] = &["evaluation.md", "evaluation.csv"];
/// Files `evaluate` writes into its folder (several routers).
const COMPARISON_FILES: &[&str] = &["comparison.md", "comparison.csv"];

/// A two-model router file, read and checked.
fn load_router(path: &Path) -> Result<(RouterFile, FittedRouter)> {
    let text = model_file::read_text(path)?;
    if multi::is_multi(&text) {
        bail!(
            "{}: `evaluate` takes two-model routers; a many-model router is evaluated in \
             simulation studies (scenario `multi-model`), and on real data by `route` at the \
             cost weights of interest",
            path.display()
        );
    }
    Ok(model_file::parse(&text, &path.display().to_string())?)
}

/// `meta-router evaluate`: one router's report, or with several `--model`
/// files their comparison.
pub fn evaluate_command(args: EvaluateArgs) -> Result<()> {
    let names = if args.model.len() > 1 {
        COMPARISON_FILES
    } else {
        EVALUATION_FILES
    };
    if !args.force {
        for name in names {
            refuse_existing(&args.out.join(name), false)?;
        }
    }
    let routers = args
        .model
        .iter()
        .map(|path| load_router(path))
        .collect::<Result<Vec<_>>>()?;
    let file = &routers[0].0;
    for (path, (other, _)) in args.model.iter().zip(&routers).skip(1) {
        if other.features != file.features {
            bail!(
                "{}: its feature columns differ from those of {} (routers compared on one test \
                 table must read the same features, in the same order)",
                path.display(),
                args.model[0].display()
            );
        }
    }
    let test = read_test(&args, file)?;
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
    let mut scores = Vec::with_capacity(routers.len());
    for (path, (_, router)) in args.model.iter().zip(&routers) {
        let psi_hat = router.predict_psi(test.x.view());
        realdata::check_scores(&psi_hat, &path.display().to_string(), &test)?;
        scores.push(psi_hat);
    }
    if routers.len() > 1 {
        let files: Vec<&RouterFile> = routers.iter().map(|(f, _)| f).collect();
        return write_comparison(&args, &files, &scores, gains.view(), &options);
    }
    let eval = evaluate(scores[0].view(), gains.view(), &options)?;
    let (model_name, test_name) = (file_name(&args.model[0]), file_name(&args.test));
    let source = report::EvaluationSource {
        model: &model_name,
        test: &test_name,
        gains: args.truth.as_deref().unwrap_or(&args.label),
    };
    let markdown = report::evaluation_markdown(&eval, file, &source);
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
    add_html(&args, "evaluation", &markdown, &mut outputs);
    write_outputs(&args, &outputs)?;
    print!("{markdown}");
    Ok(())
}

/// With `--html`, adds `<stem>.html` to `outputs`: the markdown report and
/// the SVG figures among `outputs`, on one page.
fn add_html(
    args: &EvaluateArgs,
    stem: &str,
    markdown: &str,
    outputs: &mut Vec<(PathBuf, Vec<u8>)>,
) {
    if !args.html {
        return;
    }
    let figures: Vec<report::html::Figure> = outputs
        .iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "svg"))
        .map(|(path, bytes)| report::html::Figure {
            name: file_name(path),
            svg: String::from_utf8_lossy(bytes).into_owned(),
        })
        .collect();
    let page = report::html::evaluation_html(&format!("meta-router {stem}"), markdown, &figures);
    outputs.push((args.out.join(format!("{stem}.html")), page.into_bytes()));
}

/// A path's file name (the whole path when it has none), for reports.
fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Writes `outputs` as one unit into `--out` (created if needed, removed
/// again when the write fails).
fn write_outputs(args: &EvaluateArgs, outputs: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let created = files::create_folder(&args.out)?;
    if let Err(e) = files::write_files(outputs, Existing::from_force(args.force)) {
        created.undo();
        return Err(e.into());
    }
    Ok(())
}

/// Several routers on one test table: `comparison.md`, `comparison.csv`
/// and the comparison figures; the markdown is printed.
fn write_comparison(
    args: &EvaluateArgs,
    files: &[&RouterFile],
    scores: &[ndarray::Array1<f64>],
    gains: ndarray::ArrayView1<f64>,
    options: &EvaluationOptions,
) -> Result<()> {
    // Routers are named by their file names, or by their paths where two
    // file names are equal.
    let short: Vec<String> = args.model.iter().map(|p| file_name(p)).collect();
    let names: Vec<String> = args
        .model
        .iter()
        .zip(&short)
        .map(|(path, name)| {
            let name = name.strip_suffix(".json").unwrap_or(name);
            if short
                .iter()
                .filter(|n| n.strip_suffix(".json").unwrap_or(n) == name)
                .count()
                > 1
            {
                path.display().to_string()
            } else {
                name.to_string()
            }
        })
        .collect();
    let views: Vec<_> = scores.iter().map(|s| s.view()).collect();
    let comparison = evaluation::compare(names, &views, gains, options)?;
    let test_name = file_name(&args.test);
    let source = report::ComparisonSource {
        test: &test_name,
        gains: args.truth.as_deref().unwrap_or(&args.label),
    };
    let markdown = report::comparison_markdown(&comparison, files, &source);
    let mut outputs: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            args.out.join("comparison.md"),
            markdown.clone().into_bytes(),
        ),
        (
            args.out.join("comparison.csv"),
            report::comparison_csv(&comparison).into_bytes(),
        ),
    ];
    for (name, bytes) in report::comparison_figure_files(&comparison)? {
        outputs.push((args.out.join(name), bytes));
    }
    add_html(args, "comparison", &markdown, &mut outputs);
    write_outputs(args, &outputs)?;
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
