//! `meta-router fit`, `route`, `evaluate` and `scenarios export`: the
//! real-data commands. Every input is read and validated, and every result
//! computed, before the first output file is written.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::dgp::ScenarioConfig;
use meta_router::error::{excerpt, excerpt_to};
use meta_router::files::{self, Existing};
use meta_router::meta::overlap::OverlapRule;
use meta_router::meta::{MetaRouterConfig, Method};
use meta_router::realdata::evaluate::{
    self as evaluation, evaluate, EvaluationOptions, MIN_QUERIES,
};
use meta_router::realdata::table::table_text;
use meta_router::realdata::{
    self, model_file, multi, read_table, roles_for_router, ColumnRoles, FeatureSelection,
    LabelColumn, LabelKind,
};
use meta_router::report;
use meta_router::rng::{stream, Purpose};
use meta_router::study;
use meta_router::study::spec::SPEC_FACTOR;
use ndarray::Array2;

/// `lo,hi` as a pair of finite numbers with `lo <= hi`.
pub fn parse_pair(text: &str) -> std::result::Result<(f64, f64), String> {
    let (a, b) = text
        .split_once(',')
        .ok_or_else(|| format!("expected two numbers `a,b`, found `{text}`"))?;
    let number = |s: &str| -> std::result::Result<f64, String> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("`{}` is not a finite number", s.trim())),
        }
    };
    Ok((number(a)?, number(b)?))
}

/// A comma-separated list of finite numbers.
pub fn parse_list(text: &str) -> std::result::Result<Vec<f64>, String> {
    text.split(',')
        .map(|s| match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("`{}` is not a finite number", s.trim())),
        })
        .collect()
}

/// Options of `meta-router fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Gold-standard CSV: one row per query, feature columns and the label.
    #[arg(long)]
    gold: PathBuf,
    /// Preference-based CSV: the same feature columns and the PB label
    /// (numbers, or win / tie / loss read as +1 / 0 / −1).
    #[arg(long)]
    pref: PathBuf,
    /// Router configuration (TOML): the keys of a study file's [[methods]]
    /// entry (method, learners, folds, propensity, …). Default: DR-learner
    /// with the library defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the router file (JSON).
    #[arg(long)]
    out: PathBuf,
    /// Feature columns: `a,b,c`, a prefix `emb_*`, or empty (default) for
    /// every column but the label and id.
    #[arg(long, default_value = "")]
    features: String,
    /// Label column in both files.
    #[arg(long, default_value = "label")]
    label: String,
    /// A text column to ignore (e.g. a query id) when features are "every other column".
    #[arg(long)]
    id: Option<String>,
    /// A column of sample weights in both files (finite, >= 0; e.g. inverse
    /// sampling probabilities). Every learner fit uses them; no inference is
    /// stored for weighted fits.
    #[arg(long)]
    weight: Option<String>,
    /// Declared range `lo,hi` of the GS labels; a label outside it is an error.
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    gold_range: Option<(f64, f64)>,
    /// Declared range `lo,hi` of the PB labels.
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    pref_range: Option<(f64, f64)>,
    /// Master seed of the folds and learners.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Many models: the label columns `a,b,c`, one per non-reference model
    /// (its GS gain over the reference in the GS file, its PB gain in the PB
    /// file; an empty cell = no label for that model). Replaces `--label`.
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Many models: the reference model's name (it has no label column).
    #[arg(long, default_value = "reference")]
    reference: String,
    /// Target population of the inference intervals: `crump` (the
    /// Crump–Hotz–Imbens–Mitnik overlap region: every query when GS and PB
    /// queries overlap well), `none` (every query, whatever the overlap) or
    /// a threshold α in (0, 0.5) (queries with α ≤ p̂ ≤ 1 − α).
    #[arg(long, default_value = "crump", value_parser = OverlapRule::parse)]
    overlap: OverlapRule,
    /// Replace an existing router file.
    #[arg(long)]
    force: bool,
}

fn check_range(range: Option<(f64, f64)>, flag: &str) -> Result<()> {
    if let Some((lo, hi)) = range {
        if lo > hi {
            bail!("--{flag} {lo},{hi}: the lower end exceeds the upper end");
        }
    }
    Ok(())
}

/// How a key of the router configuration is named in messages: with its
/// `--config` file, or as a default to override in one.
fn config_key(config: &Option<PathBuf>) -> impl Fn(&str) -> String + '_ {
    move |key: &str| match config {
        Some(path) => {
            let file = path.display().to_string();
            let text = files::read_text(path, SPEC_FACTOR).unwrap_or_default();
            let source = study::spec::locate::Source::new(&file, &text);
            match source.line(key) {
                Some(line) => format!("{file}, line {line}, key `{key}`"),
                None => format!("{file}, key `{key}`"),
            }
        }
        None => format!("`{key}` (the default configuration; set it in a --config file)"),
    }
}

fn refuse_existing(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!("{} exists; pass --force to replace it", path.display());
    }
    Ok(())
}

/// `meta-router fit`.
pub fn fit(args: FitArgs) -> Result<()> {
    check_range(args.gold_range, "gold-range")?;
    check_range(args.pref_range, "pref-range")?;
    refuse_existing(&args.out, args.force)?;
    let config = match &args.config {
        Some(path) => {
            let text = files::read_text(path, SPEC_FACTOR)?;
            study::spec::parse_router_config(&text, &path.display().to_string())?
        }
        None => MetaRouterConfig::new(Method::DrLearner),
    };
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    let features = FeatureSelection::parse(&args.features)?;
    if !args.models.is_empty() {
        return fit_models(&args, &config, &features);
    }
    let roles = |range, kind| ColumnRoles {
        features: features.clone(),
        label: Some(LabelColumn {
            name: args.label.clone(),
            kind,
            range,
            constant_ok: false,
            missing_ok: false,
        }),
        extra: Vec::new(),
        optional: Vec::new(),
        id: args.id.clone(),
        weight: args.weight.clone(),
        ignore: Vec::new(),
    };
    let gold = read_table(&args.gold, &roles(args.gold_range, LabelKind::Numeric))?;
    let pref = read_table(&args.pref, &roles(args.pref_range, LabelKind::Preference))?;
    realdata::check_fit_size(&config, &gold, &pref, &config_key(&args.config))?;
    let started = std::time::Instant::now();
    let (file, router) =
        realdata::fit_tables_with_overlap(&config, &gold, &pref, args.seed, args.overlap)?;
    let seconds = started.elapsed().as_secs_f64();
    let text = file.to_json_checked(&router, &[gold.x.view(), pref.x.view()])?;
    files::write_file(&args.out, text.as_bytes(), Existing::from_force(args.force))?;

    eprintln!(
        "fitted {:?} on {} GS and {} PB rows, {} features, in {seconds:.2} s; wrote {} ({} bytes)",
        config.method,
        gold.rows(),
        pref.rows(),
        gold.feature_names.len(),
        args.out.display(),
        text.len()
    );
    for note in &file.notes {
        eprintln!("warning: {note}");
    }
    println!("diagnostics:");
    for (key, value) in &file.diagnostics {
        println!("  {key:<32} {value}");
    }
    if let Some(inference) = &file.inference {
        println!("inference ({:.0}% intervals):", 100.0 * inference.level);
        if let Some(line) = report::target_population(inference) {
            println!("  {line}");
        }
        let width = inference
            .means
            .iter()
            .chain(&inference.projection)
            .map(|e| e.target.chars().count())
            .max()
            .unwrap_or(0);
        for e in inference.means.iter().chain(&inference.projection) {
            println!(
                "  {:<width$} {:>10.4}  [{:.4}, {:.4}]",
                e.target, e.estimate, e.lower, e.upper
            );
        }
    }
    Ok(())
}

/// `meta-router fit --models a,b,…`: one router per non-reference model,
/// each on the rows that carry its label.
fn fit_models(
    args: &FitArgs,
    config: &MetaRouterConfig,
    features: &FeatureSelection,
) -> Result<()> {
    if args.label != "label" {
        bail!("--label and --models exclude each other: with --models each model's label column is named after the model");
    }
    multi::check_names(&args.reference, &args.models)?;
    let roles = |model: &str, range, kind| ColumnRoles {
        features: features.clone(),
        label: Some(LabelColumn {
            name: model.to_string(),
            kind,
            range,
            constant_ok: false,
            missing_ok: true,
        }),
        extra: Vec::new(),
        optional: Vec::new(),
        id: args.id.clone(),
        weight: args.weight.clone(),
        ignore: args
            .models
            .iter()
            .filter(|m| *m != model)
            .cloned()
            .collect(),
    };
    let mut tables = Vec::with_capacity(args.models.len());
    for model in &args.models {
        let gold = read_table(
            &args.gold,
            &roles(model, args.gold_range, LabelKind::Numeric),
        )?;
        let pref = read_table(
            &args.pref,
            &roles(model, args.pref_range, LabelKind::Preference),
        )?;
        realdata::check_fit_size(config, &gold, &pref, &config_key(&args.config))?;
        tables.push((gold, pref));
    }
    let started = std::time::Instant::now();
    let (text, loaded) =
        multi::fit_model_tables(config, &args.reference, &args.models, &tables, args.seed)?;
    let seconds = started.elapsed().as_secs_f64();
    files::write_file(&args.out, text.as_bytes(), Existing::from_force(args.force))?;
    eprintln!(
        "fitted {:?} for {} models against the reference `{}`, {} features, in {seconds:.2} s; \
         wrote {} ({} bytes)",
        config.method,
        args.models.len(),
        args.reference,
        loaded.file.features.len(),
        args.out.display(),
        text.len()
    );
    for ((model, (gold, pref)), file) in args.models.iter().zip(&tables).zip(&loaded.routers) {
        eprintln!(
            "  model `{model}`: {} GS and {} PB rows with labels",
            gold.rows(),
            pref.rows()
        );
        for note in &file.notes {
            eprintln!("warning: model `{model}`: {note}");
        }
    }
    println!("diagnostics:");
    for (model, file) in args.models.iter().zip(&loaded.routers) {
        for (key, value) in &file.diagnostics {
            println!("  {:<40} {value}", format!("{model}/{key}"));
        }
    }
    Ok(())
}

/// Options of `meta-router route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The router file written by `fit`.
    #[arg(long)]
    model: PathBuf,
    /// Queries (CSV) with the router's feature columns (found by name; other
    /// columns are ignored).
    #[arg(long)]
    queries: PathBuf,
    /// Cost weight w: a query goes to the primary model iff ψ̂ > w·(C_p − C_a).
    #[arg(long)]
    cost_weight: f64,
    /// Per-query costs `C_p,C_a` of the primary and alternative model
    /// (default 1,0; two-model routers).
    #[arg(long, value_parser = parse_pair)]
    cost: Option<(f64, f64)>,
    /// Many-model routers: a constant cost per model, `name=value,…`
    /// (the reference included).
    #[arg(long, value_delimiter = ',')]
    costs: Vec<String>,
    /// Many-model routers: per-query costs from columns of the queries file,
    /// `name=column,…`. Every model needs a cost from `--costs` or here.
    #[arg(long, value_delimiter = ',')]
    cost_columns: Vec<String>,
    /// A column copied to the output to identify queries (default: the data
    /// row number, 1 for the first row after the header).
    #[arg(long)]
    id: Option<String>,
    /// Output CSV (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Truncated routers (`truncate` in the fit's config): how queries
    /// outside the overlap region are routed: `router` (by ψ̂, the default),
    /// `primary` or `alternative` (always). The output then has an
    /// `in_overlap` column (1 inside, 0 outside).
    #[arg(long, default_value = "router", value_parser = realdata::OutsideRoute::parse)]
    outside: realdata::OutsideRoute,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
}

/// `meta-router route`.
pub fn route(args: RouteArgs) -> Result<()> {
    if let Some(out) = &args.out {
        refuse_existing(out, args.force)?;
    }
    let text = model_file::read_text(&args.model)?;
    if multi::is_multi(&text) {
        return route_models(&args, &text);
    }
    if !args.costs.is_empty() || !args.cost_columns.is_empty() {
        bail!("--costs and --cost-columns are for many-model routers; {} is a two-model router (use --cost Cp,Ca)", args.model.display());
    }
    let cost = args.cost.unwrap_or((1.0, 0.0));
    let (file, router) = model_file::parse(&text, &args.model.display().to_string())?;
    let queries = read_table(
        &args.queries,
        &roles_for_router(&file.features, None, Vec::new(), args.id.clone()),
    )?;
    if router.overlap().is_none() && args.outside != realdata::OutsideRoute::Router {
        bail!(
            "--outside is for truncated routers; {} has no overlap region (fit with truncate = \"crump\" or a threshold)",
            args.model.display()
        );
    }
    realdata::estimate_route(queries.rows(), 2, text.len() as u64).check()?;
    let routed =
        realdata::route_table_outside(&router, &queries, args.cost_weight, cost, args.outside)
            .or_else(|e| {
                // Name the router and the query when its scores are not finite.
                let model_name = args.model.display().to_string();
                realdata::check_scores(
                    &router.predict_psi(queries.x.view()),
                    &model_name,
                    &queries,
                )?;
                Err(e)
            })?;
    let mut text = String::new();
    text.push_str(&format!(
        "{},psi_hat,{}route{}\n",
        csv_field(args.id.as_deref().unwrap_or("row")),
        if routed.delta_hat.is_some() {
            "delta_hat,"
        } else {
            ""
        },
        if routed.in_overlap.is_some() {
            ",in_overlap"
        } else {
            ""
        }
    ));
    for (i, &primary) in routed.primary.iter().enumerate() {
        let id = match &queries.ids {
            Some(ids) => csv_field(&ids[i]),
            None => (i + 1).to_string(),
        };
        let delta = routed
            .delta_hat
            .as_ref()
            .map_or(String::new(), |d| format!("{},", d[i]));
        let overlap = routed
            .in_overlap
            .as_ref()
            .map_or(String::new(), |inside| format!(",{}", u8::from(inside[i])));
        text.push_str(&format!(
            "{id},{},{delta}{}{overlap}\n",
            routed.psi_hat[i],
            if primary { "primary" } else { "alternative" }
        ));
    }
    match &args.out {
        Some(path) => files::write_file(path, text.as_bytes(), Existing::from_force(args.force))?,
        None => print!("{text}"),
    }
    if let Some(inside) = &routed.in_overlap {
        let outside = inside.iter().filter(|&&k| !k).count();
        eprintln!(
            "{outside} of {} queries lie outside the router's overlap region (routed: {})",
            inside.len(),
            match args.outside {
                realdata::OutsideRoute::Router => "by ψ̂, Δ̂ extrapolated from the region",
                realdata::OutsideRoute::Primary => "to the primary model",
                realdata::OutsideRoute::Alternative => "to the alternative model",
            }
        );
    }
    eprintln!(
        "routed {} of {} queries to the primary model (usage ratio {:.4}) at w = {}, costs {},{}",
        routed.primary.iter().filter(|&&p| p).count(),
        routed.primary.len(),
        routed.usage_ratio(),
        args.cost_weight,
        cost.0,
        cost.1
    );
    Ok(())
}

/// Splits `name=value` items of `flag`.
fn named_items<'a>(items: &'a [String], flag: &str) -> Result<Vec<(&'a str, &'a str)>> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .filter(|(n, v)| !n.is_empty() && !v.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--{flag} {item}: expected name=value"))
        })
        .collect()
}

/// `route` with a many-model router: every ψ̂_k and the chosen model per query.
fn route_models(args: &RouteArgs, text: &str) -> Result<()> {
    if args.cost.is_some() {
        bail!("--cost is for two-model routers; {} routes among several models: give --costs name=value,… or --cost-columns name=column,…", args.model.display());
    }
    let loaded = multi::parse_models(text, &args.model.display().to_string())?;
    let names = loaded.names();
    let constants = named_items(&args.costs, "costs")?;
    let columns = named_items(&args.cost_columns, "cost-columns")?;
    for (i, (name, _)) in constants.iter().chain(&columns).enumerate() {
        if constants
            .iter()
            .chain(&columns)
            .take(i)
            .any(|(n, _)| n == name)
        {
            bail!("model `{name}` is given a cost twice (--costs and --cost-columns name each model once)");
        }
        if !names.iter().any(|n| n == name) {
            bail!(
                "no model `{name}` in {} (models: {})",
                args.model.display(),
                names.join(", ")
            );
        }
    }
    let queries = read_table(
        &args.queries,
        &roles_for_router(
            &loaded.file.features,
            None,
            columns.iter().map(|(_, c)| c.to_string()).collect(),
            args.id.clone(),
        ),
    )?;
    realdata::estimate_route(queries.rows(), names.len(), text.len() as u64).check()?;
    let mut costs = Array2::zeros((queries.rows(), names.len()));
    for (k, name) in names.iter().enumerate() {
        let constant = constants.iter().find(|(n, _)| n == name);
        let column = columns.iter().find(|(n, _)| n == name);
        match (constant, column) {
            (Some((_, value)), None) => {
                let value: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .with_context(|| format!("--costs {name}={value}: a cost must be a finite number >= 0"))?;
                costs.column_mut(k).fill(value);
            }
            (None, Some((_, col))) => {
                let values = &queries.extra[*col];
                if let Some((row, v)) = values.iter().enumerate().find(|(_, v)| **v < 0.0) {
                    bail!(
                        "{}: line {}, column `{}`: cost {v} is negative",
                        queries.file,
                        queries.lines[row],
                        excerpt(col)
                    );
                }
                costs.column_mut(k).assign(values);
            }
            (None, None) => bail!("model `{name}` has no cost: give it in --costs name=value or --cost-columns name=column"),
            (Some(_), Some(_)) => bail!("model `{name}` is given a cost twice"),
        }
    }
    let routed = multi::route_models(
        &loaded.fitted,
        queries.x.view(),
        costs.view(),
        args.cost_weight,
    )
    .or_else(|e| {
        // Name the router and the query when a model's scores are not finite.
        let model_name = args.model.display().to_string();
        for router in loaded.fitted.routers() {
            realdata::check_scores(&router.predict_psi(queries.x.view()), &model_name, &queries)?;
        }
        Err(e)
    })?;
    let mut text = csv_field(args.id.as_deref().unwrap_or("row"));
    for name in &names[1..] {
        text.push_str(&format!(",{}", csv_field(&format!("psi_hat_{name}"))));
    }
    text.push_str(",route\n");
    for (i, &k) in routed.chosen.iter().enumerate() {
        let id = match &queries.ids {
            Some(ids) => csv_field(&ids[i]),
            None => (i + 1).to_string(),
        };
        text.push_str(&id);
        for m in 1..names.len() {
            text.push_str(&format!(",{}", routed.psi_hat[[i, m]]));
        }
        text.push_str(&format!(",{}\n", csv_field(&names[k])));
    }
    match &args.out {
        Some(path) => files::write_file(path, text.as_bytes(), Existing::from_force(args.force))?,
        None => print!("{text}"),
    }
    let shares: Vec<String> = names
        .iter()
        .zip(routed.shares())
        .map(|(n, s)| format!("{n} {s:.4}"))
        .collect();
    eprintln!(
        "routed {} queries at w = {}: {}",
        routed.chosen.len(),
        args.cost_weight,
        shares.join(", ")
    );
    Ok(())
}

fn slices(columns: &[Vec<f64>]) -> Vec<&[f64]> {
    columns.iter().map(Vec::as_slice).collect()
}

/// A text field quoted for CSV when it needs it.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

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

/// Options of `meta-router scenarios export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The scenario (see `meta-router scenarios`).
    scenario: String,
    /// Scenario parameters `key=value` (TOML values), repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Shorthand for `--set n_gold=N`.
    #[arg(long)]
    n_gold: Option<usize>,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder for gold.csv, pref.csv and test.csv.
    #[arg(long)]
    out: PathBuf,
    /// Replace those files in an existing folder.
    #[arg(long)]
    force: bool,
}

/// Writes `gold.csv` and `pref.csv` (columns `names`) and `test.csv` into
/// `out` (created if missing).
fn write_export(
    out: &Path,
    existing: Existing,
    (names, gold, pref): (&[String], &[Vec<f64>], &[Vec<f64>]),
    (test_names, test): (&[String], &[Vec<f64>]),
) -> Result<()> {
    let outputs = [
        (out.join("gold.csv"), table_text(names, &slices(gold))),
        (out.join("pref.csv"), table_text(names, &slices(pref))),
        (out.join("test.csv"), table_text(test_names, &slices(test))),
    ];
    let created = files::create_folder(out)?;
    if let Err(e) = files::write_files(&outputs, existing) {
        created.undo();
        return Err(e.into());
    }
    Ok(())
}

/// Files `scenarios export` writes.
pub const EXPORT_FILES: &[&str] = &["gold.csv", "pref.csv", "test.csv"];

/// `meta-router scenarios export`.
pub fn export(args: ExportArgs) -> Result<()> {
    if !args.force {
        for name in EXPORT_FILES {
            refuse_existing(&args.out.join(name), false)?;
        }
    }
    let mut table = toml::Table::new();
    table.insert("name".into(), toml::Value::String(args.scenario.clone()));
    // (key, value, the flag that set it)
    let mut settings: Vec<(String, String, String)> = Vec::new();
    for item in &args.set {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--set {}: expected KEY=VALUE", excerpt(item)))?;
        let (key, value) = (key.trim().to_string(), value.trim().to_string());
        let flag = format!("--set {}={}", excerpt(&key), excerpt(&value));
        settings.push((key, value, flag));
    }
    if let Some(n) = args.n_gold {
        settings.push(("n_gold".into(), n.to_string(), format!("--n-gold {n}")));
    }
    // Where each key was set, for messages.
    let mut origin: std::collections::BTreeMap<String, String> = Default::default();
    for (key, value, flag) in &settings {
        if key == "name" {
            bail!(
                "{flag}: the scenario is named by the command's first argument \
                 (`scenarios export {}`), not by a parameter",
                excerpt(&args.scenario)
            );
        }
        if key.is_empty() {
            bail!("{flag}: the key is empty");
        }
        if let Some(previous) = origin.insert(key.clone(), flag.clone()) {
            bail!(
                "{flag}: the key `{}` is already set by {previous}",
                excerpt(key)
            );
        }
        // A TOML value (`100`, `0.5`, `"tanh"`), else the text as a string.
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        table.insert(key.clone(), parsed);
    }
    let flag_of = |key: &str| {
        origin
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("scenario `{}`", excerpt(&args.scenario)))
    };
    let config: ScenarioConfig = study::spec::locate::deserialize_located(&toml::Value::Table(
        table,
    ))
    .map_err(|(path, message)| {
        let key = match path.first() {
            Some(study::spec::locate::Segment::Key(k)) => k.clone(),
            _ => String::new(),
        };
        anyhow::anyhow!("{}: {}", flag_of(&key), excerpt_to(&message, 400))
    })?;
    let scenario = config.build().map_err(|e| match &e {
        meta_router::Error::Core(meta_router_core::Error::InvalidParameter { name, .. }) => {
            anyhow::anyhow!("{}: {e}", flag_of(name))
        }
        _ => anyhow::anyhow!("scenario `{}`: {e}", excerpt(&args.scenario)),
    })?;
    check_export_size(&*scenario, &origin)?;
    if let Some(multi) = scenario.as_multi() {
        return export_models(&args, config.name(), scenario.dim(), multi);
    }
    let data = scenario.draw(&mut stream(args.seed, 0, 0, Purpose::Data))?;
    let d = scenario.dim();
    let mut names: Vec<String> = (1..=d).map(|j| format!("x{j}")).collect();
    names.push("label".into());
    let columns = |x: ndarray::ArrayView2<f64>, extra: &[&[f64]]| -> Vec<Vec<f64>> {
        let mut out: Vec<Vec<f64>> = x.columns().into_iter().map(|c| c.to_vec()).collect();
        out.extend(extra.iter().map(|e| e.to_vec()));
        out
    };
    let train = &data.train;
    let gold = columns(
        train.gold_x(),
        &[train.gold_y().as_slice().expect("contiguous")],
    );
    let pref = columns(
        train.pref_x(),
        &[train.pref_y().as_slice().expect("contiguous")],
    );
    let test = columns(
        data.test_x.view(),
        &[
            data.test_gold_y.as_slice().expect("contiguous"),
            data.test_psi.as_slice().expect("contiguous"),
            data.test_delta.as_slice().expect("contiguous"),
        ],
    );
    let mut test_names = names.clone();
    test_names.extend(["true_psi".to_string(), "true_delta".to_string()]);
    write_export(
        &args.out,
        Existing::from_force(args.force),
        (&names, &gold, &pref),
        (&test_names, &test),
    )?;
    eprintln!(
        "{}: wrote gold.csv ({} rows), pref.csv ({} rows), test.csv ({} rows, with true_psi and \
         true_delta) into {}; features x1..x{d}, labels in `label`",
        config.name(),
        train.n_gold(),
        train.n_pref(),
        data.test_x.nrows(),
        args.out.display()
    );
    Ok(())
}

/// Refuses an export whose draw and CSV text would exceed the memory or
/// work limit, naming the `--set` keys that size it.
fn check_export_size(
    scenario: &dyn meta_router::dgp::Scenario,
    origin: &std::collections::BTreeMap<String, String>,
) -> Result<()> {
    let sizes = scenario.sizes();
    let models = scenario
        .as_multi()
        .map_or(1, |m| m.model_names().len().max(2) - 1) as f64;
    let rows = sizes.n_total() + sizes.n_test as f64;
    let columns = sizes.dim as f64 + 3.0 * models + 2.0;
    // The draw (per model), and the three files' text (about 24 bytes a number).
    let bytes = models * sizes.replicate_bytes() + 2.0 * rows * columns * 24.0;
    let operations = models * rows * (sizes.dim as f64 + 8.0) * 64.0;
    let set: Vec<&str> = ["pool", "n_gold", "n_pref", "n_test", "n", "d"]
        .into_iter()
        .filter_map(|k| origin.get(k).map(String::as_str))
        .collect();
    let key = if set.is_empty() {
        "the scenario's sizes".to_string()
    } else {
        set.join(", ")
    };
    meta_router::limits::Estimate::new(
        bytes,
        operations,
        format!("exporting {rows} rows × {} features", sizes.dim),
        key,
    )
    .check()?;
    Ok(())
}

/// `scenarios export` of a scenario with several models: one label column per
/// non-reference model (empty where a query has no label for it); the test
/// file adds `cost_<model>` for every model and `true_psi_<model>`.
fn export_models(
    args: &ExportArgs,
    name: &str,
    d: usize,
    scenario: &dyn meta_router::dgp::MultiModelScenario,
) -> Result<()> {
    let data = scenario.draw_models(&mut stream(args.seed, 0, 0, Purpose::Data))?;
    let models = &data.models;
    let features: Vec<String> = (1..=d).map(|j| format!("x{j}")).collect();
    let mut names = features.clone();
    names.extend(models[1..].iter().cloned());
    let columns = |x: ndarray::ArrayView2<f64>, extra: ndarray::ArrayView2<f64>| -> Vec<Vec<f64>> {
        x.columns()
            .into_iter()
            .chain(extra.columns())
            .map(|c| c.to_vec())
            .collect()
    };
    let gold = columns(data.gold_x.view(), data.gold_labels.view());
    let pref = columns(data.pref_x.view(), data.pref_labels.view());
    let test_x = data.per_model[0].test_x.view();
    let mut test = columns(test_x, data.test_costs.view());
    test.extend(
        data.test_gain
            .columns()
            .into_iter()
            .skip(1)
            .map(|c| c.to_vec()),
    );
    let mut test_names = features;
    test_names.extend(models.iter().map(|m| format!("cost_{m}")));
    test_names.extend(models[1..].iter().map(|m| format!("true_psi_{m}")));
    write_export(
        &args.out,
        Existing::from_force(args.force),
        (&names, &gold, &pref),
        (&test_names, &test),
    )?;
    eprintln!(
        "{name}: wrote gold.csv ({} rows), pref.csv ({} rows), test.csv ({} rows, with cost_<model> \
         and true_psi_<model>) into {}; features x1..x{d}; reference `{}`, label columns {}",
        data.gold_x.nrows(),
        data.pref_x.nrows(),
        test_x.nrows(),
        args.out.display(),
        models[0],
        models[1..].join(", ")
    );
    Ok(())
}
