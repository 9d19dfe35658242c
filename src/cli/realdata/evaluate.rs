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
    /// The GS label column (two-model routers; default `label`). A
    /// many-model router reads the GS gain of each non-reference model over
    /// the reference from the column named after the model, as in `fit`'s
    /// GS file.
    #[arg(long)]
    label: Option<String>,
    /// A column of true gains ψ(q) to evaluate against instead of the noisy
    /// labels (exported scenario data has `true_psi`). For a many-model
    /// router, the prefix of one column per non-reference model
    /// (`--truth true_psi_` reads `true_psi_<model>`, as exported).
    #[arg(long)]
    truth: Option<String>,
    /// Many-model routers: a constant cost per model, `name=value,…`.
    #[arg(long, value_delimiter = ',')]
    costs: Vec<String>,
    /// Many-model routers: per-query costs from columns of the test file,
    /// `name=column,…`. Every model needs a cost from `--costs` or here.
    #[arg(long, value_delimiter = ',')]
    cost_columns: Vec<String>,
    /// Output folder for evaluation.md, evaluation.csv and the figures.
    #[arg(long)]
    out: PathBuf,
    /// Cost weights w of the regret curve.
    #[arg(long, default_value = "0,0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5")]
    w: String,
    /// Per-query costs `C_p,C_a` (default 1,0; two-model routers).
    #[arg(long, value_parser = parse_pair)]
    cost: Option<(f64, f64)>,
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
            "{}: a many-model router is evaluated on its own (one --model); comparing it with \
             other routers in one call is not supported",
            path.display()
        );
    }
    Ok(model_file::parse(&text, &path.display().to_string())?)
}

/// `meta-router evaluate`: one router's report, or with several `--model`
/// files their comparison; a many-model router's report.
pub fn evaluate_command(args: EvaluateArgs) -> Result<()> {
    if let [path] = args.model.as_slice() {
        let text = model_file::read_text(path)?;
        if multi::is_multi(&text) {
            return evaluate_models_command(&args, &text);
        }
    }
    if !args.costs.is_empty() || !args.cost_columns.is_empty() {
        bail!("--costs and --cost-columns are for many-model routers; use --cost Cp,Ca");
    }
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
        costs: args.cost.unwrap_or((1.0, 0.0)),
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
        gains: args.truth.as_deref().unwrap_or(label_name(&args)),
    };
    publish(
        &args,
        "evaluation",
        report::evaluation_markdown(&eval, file, &source),
        report::evaluation_csv(&eval),
        report::evaluation_figure_files(&eval)?,
    )
}

/// Writes `<stem>.md`, `<stem>.csv`, the figures and with `--html`
/// `<stem>.html` into `--out` as one unit, and prints the markdown.
fn publish(
    args: &EvaluateArgs,
    stem: &str,
    markdown: String,
    csv: String,
    figures: Vec<(String, Vec<u8>)>,
) -> Result<()> {
    let mut outputs: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            args.out.join(format!("{stem}.md")),
            markdown.clone().into_bytes(),
        ),
        (args.out.join(format!("{stem}.csv")), csv.into_bytes()),
    ];
    outputs.extend(
        figures
            .into_iter()
            .map(|(name, bytes)| (args.out.join(name), bytes)),
    );
    add_html(args, stem, &markdown, &mut outputs);
    write_outputs(args, &outputs)?;
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
        gains: args.truth.as_deref().unwrap_or(label_name(args)),
    };
    publish(
        args,
        "comparison",
        report::comparison_markdown(&comparison, files, &source),
        report::comparison_csv(&comparison),
        report::comparison_figure_files(&comparison)?,
    )
}

/// The test table: the router's features, the GS label column and the
/// `--truth` column; at least [`MIN_QUERIES`] rows.
fn read_test(args: &EvaluateArgs, file: &RouterFile) -> Result<Table> {
    let label = LabelColumn {
        name: label_name(args).to_string(),
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

/// The two-model GS label column: `--label`, or `label`.
fn label_name(args: &EvaluateArgs) -> &str {
    args.label.as_deref().unwrap_or("label")
}

/// Files `evaluate` writes into its folder (a many-model router).
const MODELS_FILES: &[&str] = &["evaluation.md", "evaluation.csv"];

/// `evaluate` with a many-model router (`text`, the file's contents): the
/// test file's gain column per non-reference model (named after it, or
/// `--truth` followed by its name), every model's cost from `--costs` or
/// `--cost-columns`; writes `evaluation.md`, `evaluation.csv` and the
/// figures.
fn evaluate_models_command(args: &EvaluateArgs, text: &str) -> Result<()> {
    use meta_router::realdata::evaluate_models::evaluate_models;
    if args.cost.is_some() {
        bail!("--cost is for two-model routers; {} routes among several models: give --costs name=value,… or --cost-columns name=column,…", args.model[0].display());
    }
    if args.label.is_some() {
        bail!("--label is for two-model routers; {} reads each model's GS gain from the column named after the model (or `--truth PREFIX` for PREFIX<model>)", args.model[0].display());
    }
    if !args.force {
        for name in MODELS_FILES {
            refuse_existing(&args.out.join(name), false)?;
        }
    }
    let path = &args.model[0];
    let loaded = multi::parse_models(text, &path.display().to_string())?;
    let names = loaded.names();
    let constants = super::route::named_items(&args.costs, "costs")?;
    let columns = super::route::named_items(&args.cost_columns, "cost-columns")?;
    super::route::check_cost_names(&names, &constants, &columns, path)?;
    let gain_columns: Vec<String> = names[1..]
        .iter()
        .map(|n| format!("{}{n}", args.truth.as_deref().unwrap_or("")))
        .collect();
    let mut extra: Vec<String> = gain_columns.clone();
    for (_, column) in &columns {
        if !extra.iter().any(|c| c == column) {
            extra.push(column.to_string());
        }
    }
    let test = read_table(
        &args.test,
        &roles_for_router(&loaded.file.features, None, extra, None),
    )?;
    if test.rows() < MIN_QUERIES {
        bail!(
            "{}: {} data row(s); `evaluate` needs at least {MIN_QUERIES} test queries",
            args.test.display(),
            test.rows()
        );
    }
    let mut gains = ndarray::Array2::zeros((test.rows(), names.len()));
    for (k, column) in gain_columns.iter().enumerate() {
        gains.column_mut(k + 1).assign(&test.extra[column]);
    }
    let costs = super::route::cost_matrix(&names, &constants, &columns, &test)?;
    let options = EvaluationOptions {
        w: parse_list(&args.w).map_err(|e| anyhow::anyhow!("--w: {e}"))?,
        bootstrap: args.bootstrap,
        level: args.level,
        seed: args.seed,
        ..EvaluationOptions::default()
    };
    let k = names.len() as f64;
    let mut size = evaluation::estimate(test.rows(), &options);
    size.bytes *= k;
    size.operations *= k;
    size.check()?;
    let scores = loaded.fitted.predict_psi(test.x.view()).or_else(|e| {
        // Name the router and the query when a model's scores are not finite.
        for router in loaded.fitted.routers() {
            realdata::check_scores(
                &router.predict_psi(test.x.view()),
                &path.display().to_string(),
                &test,
            )?;
        }
        Err(anyhow::Error::from(e))
    })?;
    let eval = evaluate_models(
        names.clone(),
        scores.view(),
        gains.view(),
        costs.view(),
        &options,
    )?;
    let cost_text: Vec<report::ModelCost> = names
        .iter()
        .map(|n| match constants.iter().find(|(m, _)| m == n) {
            Some((_, v)) => report::ModelCost::Constant(v),
            None => report::ModelCost::Column(
                columns.iter().find(|(m, _)| m == n).map_or("", |(_, c)| c),
            ),
        })
        .collect();
    let (model_name, test_name) = (file_name(path), file_name(&args.test));
    let source = report::ModelsSource {
        model: &model_name,
        test: &test_name,
        gains: &gain_columns,
        costs: &cost_text,
    };
    publish(
        args,
        "evaluation",
        report::models_evaluation_markdown(&eval, &source),
        report::models_evaluation_csv(&eval),
        report::models_evaluation_figure_files(&eval)?,
    )
}
