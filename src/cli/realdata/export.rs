//! `meta-router scenarios export`: a scenario's draw as GS, PB and test
//! tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::config_file::locate::{deserialize_located, Segment};
use meta_router::dgp::{Scenario, ScenarioConfig};
use meta_router::error::{excerpt, excerpt_to};
use meta_router::files::{self, Existing};
use meta_router::realdata::table::table_text;
use meta_router::rng::{stream, Purpose};

use super::refuse_existing;

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
    let (config, scenario, origin) = scenario_of(&args)?;
    check_export_size(&*scenario, &origin)?;
    if matches!(config, ScenarioConfig::MultiModel(_)) {
        return export_models(&args, config.name(), &*scenario);
    }
    export_two(&args, config.name(), &*scenario)
}

/// Which flag set each scenario key (key → flag), for messages.
type Origin = BTreeMap<String, String>;

/// The scenario `args` name with their `--set` and `--n-gold` settings, and
/// which flag set each key (for messages).
fn scenario_of(args: &ExportArgs) -> Result<(ScenarioConfig, Box<dyn Scenario>, Origin)> {
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
    let mut origin: BTreeMap<String, String> = Default::default();
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
    let config: ScenarioConfig =
        deserialize_located(&toml::Value::Table(table)).map_err(|(path, message)| {
            let key = match path.first() {
                Some(Segment::Key(k)) => k.clone(),
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
    Ok((config, scenario, origin))
}

/// `scenarios export` of a two-model scenario: feature columns and `label`;
/// the test file adds the true gain and bias.
fn export_two(args: &ExportArgs, name: &str, scenario: &dyn Scenario) -> Result<()> {
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
        name,
        train.n_gold(),
        train.n_pref(),
        data.test_x.nrows(),
        args.out.display()
    );
    Ok(())
}

/// Refuses an export whose draw and CSV text would exceed the memory or
/// work limit, naming the `--set` keys that size it.
fn check_export_size(scenario: &dyn Scenario, origin: &BTreeMap<String, String>) -> Result<()> {
    let sizes = scenario.sizes();
    let models = (scenario.model_names().len().max(2) - 1) as f64;
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
fn export_models(args: &ExportArgs, name: &str, scenario: &dyn Scenario) -> Result<()> {
    let d = scenario.dim();
    let data = scenario.draw_models(&mut stream(args.seed, 0, 0, Purpose::Data))?;
    let Some(tables) = &data.tables else {
        bail!("scenario `{name}` draws no label tables of several models");
    };
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
    let gold = columns(tables.gold_x.view(), tables.gold_labels.view());
    let pref = columns(tables.pref_x.view(), tables.pref_labels.view());
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
        tables.gold_x.nrows(),
        tables.pref_x.nrows(),
        test_x.nrows(),
        args.out.display(),
        models[0],
        models[1..].join(", ")
    );
    Ok(())
}

fn slices(columns: &[Vec<f64>]) -> Vec<&[f64]> {
    columns.iter().map(Vec::as_slice).collect()
}
