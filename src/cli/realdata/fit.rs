//! `meta-router fit`: a router file from a GS and a PB table.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use meta_router::config_file::{self, locate::Source, PARSE_FACTOR};
use meta_router::files::{self, Existing};
use meta_router::meta::overlap::OverlapRule;
use meta_router::meta::{MetaRouterConfig, Method};
use meta_router::realdata::model_file::SavedInference;
use meta_router::realdata::{
    self, multi, read_table, ColumnRoles, FeatureSelection, LabelColumn, LabelKind, RouterFile,
    Table,
};
use meta_router::report;
use meta_router::router_file::Diagnostic;

use super::{parse_pair, refuse_existing};

/// The GS and PB tables of a fit (shared by `fit`, `scenarios calibrate`
/// and `scenarios check`).
#[derive(Debug, Args)]
pub struct TableArgs {
    /// Gold-standard CSV: one row per query, feature columns and the label.
    #[arg(long)]
    pub(super) gold: PathBuf,
    /// Preference-based CSV: the same feature columns and the PB label
    /// (numbers, or win / tie / loss read as +1 / 0 / −1).
    #[arg(long)]
    pub(super) pref: PathBuf,
    #[command(flatten)]
    pub(super) columns: TableColumns,
}

/// The pilot's GS and PB tables of `plan`, optional (a plan reads a
/// calibrated scenario instead). Optional flattened argument groups do not
/// relax their required arguments in clap (clap-rs/clap#5092), hence this
/// second struct with the files optional and the columns shared.
#[derive(Debug, Args)]
pub struct PilotTableArgs {
    /// The pilot's gold-standard CSV (with --pref: plan from the pilot's tables).
    #[arg(long, requires = "pref")]
    pub(super) gold: Option<PathBuf>,
    /// The pilot's preference-based CSV.
    #[arg(long, requires = "gold")]
    pub(super) pref: Option<PathBuf>,
    #[command(flatten)]
    pub(super) columns: TableColumns,
}

impl PilotTableArgs {
    /// The tables' options when `--gold` and `--pref` are given.
    pub(crate) fn tables(&self) -> Option<TableArgs> {
        Some(TableArgs {
            gold: self.gold.clone()?,
            pref: self.pref.clone()?,
            columns: self.columns.clone(),
        })
    }
}

/// How the columns of the GS and PB tables are read.
#[derive(Debug, Clone, Args)]
pub struct TableColumns {
    /// Feature columns: `a,b,c`, a prefix `emb_*`, or empty (default) for
    /// every column but the label and id.
    #[arg(long, default_value = "")]
    pub(super) features: String,
    /// Label column in both files.
    #[arg(long, default_value = "label")]
    pub(super) label: String,
    /// A text column to ignore (e.g. a query id) when features are "every other column".
    #[arg(long)]
    pub(super) id: Option<String>,
    /// Declared range `lo,hi` of the GS labels; a label outside it is an error.
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    pub(super) gold_range: Option<(f64, f64)>,
    /// Declared range `lo,hi` of the PB labels.
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    pub(super) pref_range: Option<(f64, f64)>,
}

/// Options of `meta-router fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    #[command(flatten)]
    tables: TableArgs,
    /// Router configuration (TOML): the keys of a study file's [[methods]]
    /// entry (method, learners, folds, propensity, …). Default: DR-learner
    /// with the library defaults.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Where to write the router file (JSON); with --methods, a folder that
    /// receives one `<method>.json` per method.
    #[arg(long)]
    out: PathBuf,
    /// A column of sample weights in both files (finite, >= 0; e.g. inverse
    /// sampling probabilities). Every learner fit uses them; no inference is
    /// stored for weighted fits.
    #[arg(long)]
    weight: Option<String>,
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
    /// Fit one two-model router per method, e.g. `dr-learner,r-learner,pooled,gs-only`
    /// (the configuration's other keys shared), into `--out` as
    /// `<method>.json`, for `evaluate --model … --model …` to compare.
    #[arg(long, value_delimiter = ',')]
    methods: Vec<String>,
    /// Also print every diagnostic of the fit (always stored in the router
    /// file).
    #[arg(long)]
    verbose: bool,
}

/// Refuses a declared label range whose lower end exceeds its upper end.
pub(super) fn check_range(range: Option<(f64, f64)>, flag: &str) -> Result<()> {
    if let Some((lo, hi)) = range {
        if lo > hi {
            bail!("--{flag} {lo},{hi}: the lower end exceeds the upper end");
        }
    }
    Ok(())
}

/// How a key of the router configuration is named in messages: with its
/// `--config` file, or as a default to override in one.
pub(crate) fn config_key(config: &Option<PathBuf>) -> impl Fn(&str) -> String + '_ {
    move |key: &str| match config {
        Some(path) => {
            let file = path.display().to_string();
            let text = files::read_text(path, PARSE_FACTOR).unwrap_or_default();
            let source = Source::new(&file, &text);
            match source.line(key) {
                Some(line) => format!("{file}, line {line}, key `{key}`"),
                None => format!("{file}, key `{key}`"),
            }
        }
        None => format!("`{key}` (the default configuration; set it in a --config file)"),
    }
}

/// The router configuration of `--config`, or the DR-learner with the
/// library defaults.
pub(crate) fn router_config(config: &Option<PathBuf>) -> Result<MetaRouterConfig> {
    Ok(match config {
        Some(path) => {
            let text = files::read_text(path, PARSE_FACTOR)?;
            config_file::parse_router_config(&text, &path.display().to_string())?
        }
        None => MetaRouterConfig::new(Method::DrLearner),
    })
}

/// `meta-router fit`: one router per non-reference model (`--models`), or
/// the two-model router of `--label` (the case of one model), each fit on the
/// rows that carry its label.
pub fn fit(args: FitArgs) -> Result<()> {
    check_range(args.tables.columns.gold_range, "gold-range")?;
    check_range(args.tables.columns.pref_range, "pref-range")?;
    let config = router_config(&args.config)?;
    if !args.methods.is_empty() {
        return fit_methods(&args, &config);
    }
    refuse_existing(&args.out, args.force)?;
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    let many = !args.models.is_empty();
    let labels = if many {
        if args.tables.columns.label != "label" {
            bail!("--label and --models exclude each other: with --models each model's label column is named after the model");
        }
        multi::check_names(&args.reference, &args.models)?;
        args.models.clone()
    } else {
        vec![args.tables.columns.label.clone()]
    };
    let features = FeatureSelection::parse(&args.tables.columns.features)?;
    let mut tables = Vec::with_capacity(labels.len());
    for label in &labels {
        let (gold, pref) = read_tables(&args, &features, label, &labels)?;
        realdata::check_fit_size(&config, &gold, &pref, &config_key(&args.config))?;
        tables.push((gold, pref));
    }
    let started = std::time::Instant::now();
    let (text, routers) = if many {
        let (text, loaded) = multi::fit_model_tables(
            &config,
            &args.reference,
            &labels,
            &tables,
            args.seed,
            args.overlap,
        )?;
        (text, loaded.routers)
    } else {
        let (gold, pref) = &tables[0];
        let (file, router) =
            realdata::fit_tables_with_overlap(&config, gold, pref, args.seed, args.overlap)?;
        let text = file.to_json_checked(&router, &[gold.x.view(), pref.x.view()])?;
        (text, vec![file])
    };
    let seconds = started.elapsed().as_secs_f64();
    files::write_file(&args.out, text.as_bytes(), Existing::from_force(args.force))?;
    let fitted = Fitted {
        config: &config,
        labels: &labels,
        tables: &tables,
        routers: &routers,
    };
    if many {
        fitted.report_models(&args, seconds, text.len());
    } else {
        fitted.report_single(&args, &args.out, seconds, text.len());
    }
    Ok(())
}

/// `fit --methods`: one two-model router per method, the configuration's
/// other keys shared, written together into the folder `--out` (all files
/// or none).
fn fit_methods(args: &FitArgs, shared: &MetaRouterConfig) -> Result<()> {
    if !args.models.is_empty() {
        bail!("--methods and --models exclude each other: --methods fits two-model routers");
    }
    let mut configs = Vec::with_capacity(args.methods.len());
    for (i, name) in args.methods.iter().enumerate() {
        let method: Method = toml::Value::String(name.clone()).try_into().map_err(|_| {
            anyhow::anyhow!(
                "--methods: `{}` is not a method (methods: {})",
                meta_router::error::excerpt(name),
                config_file::ESTIMATOR_NAMES.join(", ")
            )
        })?;
        if args.methods[..i].iter().any(|m| m == name) {
            bail!("--methods names `{name}` twice");
        }
        let config = MetaRouterConfig {
            method,
            ..shared.clone()
        };
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("--methods {name}: {e}"))?;
        configs.push(config);
    }
    let outputs: Vec<PathBuf> = configs
        .iter()
        .map(|c| args.out.join(format!("{}.json", c.method.name())))
        .collect();
    for path in &outputs {
        refuse_existing(path, args.force)?;
    }
    let c = &args.tables.columns;
    let features = FeatureSelection::parse(&c.features)?;
    let labels = vec![c.label.clone()];
    let tables = vec![read_tables(args, &features, &c.label, &labels)?];
    let (gold, pref) = &tables[0];
    let mut written = Vec::with_capacity(configs.len());
    for config in &configs {
        for warning in config.warnings() {
            eprintln!("warning: {}: {warning}", config.method.name());
        }
        realdata::check_fit_size(config, gold, pref, &config_key(&args.config))?;
        let started = std::time::Instant::now();
        let (file, router) =
            realdata::fit_tables_with_overlap(config, gold, pref, args.seed, args.overlap)?;
        let text = file.to_json_checked(&router, &[gold.x.view(), pref.x.view()])?;
        written.push((file, text, started.elapsed().as_secs_f64()));
    }
    let created = files::create_folder(&args.out)?;
    let contents: Vec<(&PathBuf, &[u8])> = outputs
        .iter()
        .zip(&written)
        .map(|(path, (_, text, _))| (path, text.as_bytes()))
        .collect();
    if let Err(e) = files::write_files(&contents, Existing::from_force(args.force)) {
        created.undo();
        return Err(e.into());
    }
    for ((config, path), (file, text, seconds)) in configs.iter().zip(&outputs).zip(&written) {
        let fitted = Fitted {
            config,
            labels: &labels,
            tables: &tables,
            routers: std::slice::from_ref(file),
        };
        fitted.report_single(args, path, *seconds, text.len());
    }
    Ok(())
}

/// The GS and PB tables of the model whose label column is `label`: the
/// feature columns, that label, and (many models) the other models' label
/// columns ignored and empty cells allowed (a query without that label).
fn read_tables(
    args: &FitArgs,
    features: &FeatureSelection,
    label: &str,
    labels: &[String],
) -> Result<(Table, Table)> {
    let many = !args.models.is_empty();
    let ignore = if many {
        labels.iter().filter(|m| *m != label).cloned().collect()
    } else {
        Vec::new()
    };
    args.tables
        .read(features, label, args.weight.clone(), ignore, many)
}

impl TableArgs {
    /// Reads a pilot's GS and PB tables (`calibrate`, `plan`, `scenarios
    /// check`): the declared ranges checked, the feature selection and label
    /// column of the options, no weights.
    pub(crate) fn read_pilot(&self) -> Result<(Table, Table)> {
        check_range(self.columns.gold_range, "gold-range")?;
        check_range(self.columns.pref_range, "pref-range")?;
        let features = FeatureSelection::parse(&self.columns.features)?;
        self.read(&features, &self.columns.label, None, Vec::new(), false)
    }

    /// Reads the GS and PB tables: the feature columns, the label column
    /// `label`, the weight column if any; `ignore` names columns to skip and
    /// `missing_ok` allows empty label cells (many models).
    pub(super) fn read(
        &self,
        features: &FeatureSelection,
        label: &str,
        weight: Option<String>,
        ignore: Vec<String>,
        missing_ok: bool,
    ) -> Result<(Table, Table)> {
        let roles = |range, kind| ColumnRoles {
            features: features.clone(),
            label: Some(LabelColumn {
                name: label.to_string(),
                kind,
                range,
                constant_ok: false,
                missing_ok,
            }),
            extra: Vec::new(),
            optional: Vec::new(),
            id: self.columns.id.clone(),
            weight: weight.clone(),
            ignore: ignore.clone(),
        };
        let (c, numeric, votes) = (&self.columns, LabelKind::Numeric, LabelKind::Preference);
        let gold = read_table(&self.gold, &roles(c.gold_range, numeric))?;
        let pref = read_table(&self.pref, &roles(c.pref_range, votes))?;
        Ok((gold, pref))
    }
}

/// What a fit produced, for its report on the terminal.
struct Fitted<'a> {
    config: &'a MetaRouterConfig,
    labels: &'a [String],
    tables: &'a [(Table, Table)],
    routers: &'a [RouterFile],
}

impl Fitted<'_> {
    /// The two-model router: rows, features, time, warnings, a summary of
    /// the fit (every diagnostic with `--verbose`) and the stored inference.
    fn report_single(&self, args: &FitArgs, out: &Path, seconds: f64, bytes: usize) {
        let ((gold, pref), file) = (&self.tables[0], &self.routers[0]);
        eprintln!(
            "fitted {} on {} GS and {} PB rows, {} features, in {seconds:.2} s; wrote {} ({})",
            self.config.method.name(),
            gold.rows(),
            pref.rows(),
            gold.feature_names.len(),
            out.display(),
            render_bytes(bytes)
        );
        for note in &file.notes {
            eprintln!("warning: {note}");
        }
        print_summary(file, "", args.verbose);
        if let Some(inference) = &file.inference {
            print_inference(inference, "");
        }
    }

    /// Many models: the same per model, each named.
    fn report_models(&self, args: &FitArgs, seconds: f64, bytes: usize) {
        eprintln!(
            "fitted {} for {} models against the reference `{}`, {} features, in {seconds:.2} s; \
             wrote {} ({})",
            self.config.method.name(),
            self.labels.len(),
            args.reference,
            self.routers.first().map_or(0, |f| f.features.len()),
            args.out.display(),
            render_bytes(bytes)
        );
        for ((model, (gold, pref)), file) in self.labels.iter().zip(self.tables).zip(self.routers) {
            eprintln!(
                "  model `{model}`: {} GS and {} PB rows with labels",
                gold.rows(),
                pref.rows()
            );
            for note in &file.notes {
                eprintln!("warning: model `{model}`: {note}");
            }
        }
        for (model, file) in self.labels.iter().zip(self.routers) {
            print_summary(file, &format!(", model `{model}`"), args.verbose);
        }
        for (model, file) in self.labels.iter().zip(self.routers) {
            if let Some(inference) = &file.inference {
                print_inference(inference, &format!(", model `{model}`"));
            }
        }
    }
}

/// A size in bytes as a person reads it (`15.2 kB`, `3.4 MB`).
fn render_bytes(bytes: usize) -> String {
    let b = bytes as f64;
    if b < 1e3 {
        format!("{bytes} bytes")
    } else if b < 1e6 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{:.1} MB", b / 1e6)
    }
}

/// The fit in a few named quantities (4 significant digits): the
/// cross-fitting, the estimated propensity and its clipping and trimming,
/// the bias stage's weights and scale; every diagnostic with `verbose`
/// (`which` names the model when there are several).
fn print_summary(file: &RouterFile, which: &str, verbose: bool) {
    let value = |key: &str| match file.diagnostics.get(key) {
        Some(Diagnostic::Number(v)) => Some(*v),
        _ => None,
    };
    let show = |x: f64| report::format_significant(x, 4);
    println!("fit{which}:");
    if let (Some(folds), Some(kappa)) = (value("folds"), value("kappa")) {
        println!(
            "  cross-fitting           {folds} folds; GS share κ = {}",
            show(kappa)
        );
    }
    if let (Some(lo), Some(hi)) = (value("propensity_min"), value("propensity_max")) {
        let clipped = value("clipped").unwrap_or(0.0);
        let trimmed = value("trimmed").unwrap_or(0.0);
        println!(
            "  propensity p̂            {} to {}; {clipped} rows clipped, {trimmed} trimmed",
            show(lo),
            show(hi)
        );
    }
    if let (Some(rows), Some(weight)) = (
        value("bias_stage.effective_rows"),
        value("bias_stage.max_weight"),
    ) {
        println!(
            "  bias stage              effective rows {}; largest residual weight {}",
            show(rows),
            show(weight)
        );
    }
    if let Some(scale) = value("scale").filter(|_| file.config.method.is_meta()) {
        println!("  bias scale c            {}", show(scale));
    }
    if let Some(fallbacks) = value("out_of_bag_fallback").filter(|&n| n > 0.0) {
        println!("  out-of-bag fallbacks    {fallbacks} rows");
    }
    if verbose {
        println!("  diagnostics:");
        for (key, v) in &file.diagnostics {
            let text = match v {
                Diagnostic::Number(x) => report::format_significant(*x, 6),
                Diagnostic::Text(t) => t.clone(),
            };
            println!("    {key:<36} {text}");
        }
    } else {
        println!(
            "  ({} diagnostics in the router file; --verbose prints them)",
            file.diagnostics.len()
        );
    }
}

/// The stored inference: each target's estimate and interval (`which` names
/// the model when there are several).
fn print_inference(inference: &SavedInference, which: &str) {
    println!(
        "inference{which} ({:.0}% intervals):",
        100.0 * inference.level
    );
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
