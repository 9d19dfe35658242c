//! `meta-router scenarios export`: a scenario's draw as GS, PB and test
//! tables ([`meta_router::dgp::export`]) written as CSV files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::dgp::export::{check_size, configure, draw_tables, Columns, Tables};
use meta_router::dgp::{Scenario, ScenarioConfig};
use meta_router::error::excerpt;
use meta_router::files::{self, Existing};
use meta_router::realdata::table::table_text;

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

/// Writes the tables as `gold.csv`, `pref.csv` and `test.csv` into `out`
/// (created if missing; NaN, a query without a model's label, as an empty
/// cell).
fn write_export(out: &Path, existing: Existing, tables: &Tables) -> Result<()> {
    let text = |columns: &Columns| {
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let values: Vec<&[f64]> = columns.iter().map(|(_, c)| c.as_slice()).collect();
        table_text(&names, &values)
    };
    let outputs = [
        (out.join("gold.csv"), text(&tables.gold)),
        (out.join("pref.csv"), text(&tables.pref)),
        (out.join("test.csv"), text(&tables.test)),
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
    check_size(&*scenario, &origin)?;
    let tables = draw_tables(&config, &*scenario, args.seed)?;
    write_export(&args.out, Existing::from_force(args.force), &tables)?;
    let rows = |c: &Columns| c.first().map_or(0, |(_, v)| v.len());
    let d = tables.dim;
    if matches!(config, ScenarioConfig::MultiModel(_)) {
        eprintln!(
            "{}: wrote gold.csv ({} rows), pref.csv ({} rows), test.csv ({} rows, with \
             cost_<model> and true_psi_<model>) into {}; features x1..x{d}; reference `{}`, \
             label columns {}",
            config.name(),
            rows(&tables.gold),
            rows(&tables.pref),
            rows(&tables.test),
            args.out.display(),
            tables.models[0],
            tables.models[1..].join(", ")
        );
    } else {
        eprintln!(
            "{}: wrote gold.csv ({} rows), pref.csv ({} rows), test.csv ({} rows, with true_psi \
             and true_delta) into {}; features x1..x{d}, labels in `label`",
            config.name(),
            rows(&tables.gold),
            rows(&tables.pref),
            rows(&tables.test),
            args.out.display()
        );
    }
    Ok(())
}

/// Which flag set each scenario key (key → flag), for messages.
type Origin = BTreeMap<String, String>;

/// The scenario `args` name with their `--set` and `--n-gold` settings, and
/// which flag set each key (for messages).
fn scenario_of(args: &ExportArgs) -> Result<(ScenarioConfig, Box<dyn Scenario>, Origin)> {
    let mut table = toml::Table::new();
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
    let (config, scenario) = configure(&args.scenario, table).map_err(|refused| {
        let at = origin
            .get(&refused.key)
            .cloned()
            .unwrap_or_else(|| format!("scenario `{}`", excerpt(&args.scenario)));
        anyhow::anyhow!("{at}: {}", refused.message)
    })?;
    Ok((config, scenario, origin))
}
