//! A scenario's draw as the tables a user's own data would be: GS rows, PB
//! rows and test rows with the truth. `meta-router scenarios export` writes
//! them as `gold.csv`, `pref.csv` and `test.csv`; the Python package's
//! `scenarios.export` returns them as arrays. Both call [`configure`] and
//! [`draw_tables`], so a draw is the same table of numbers either way.
//!
//! # Layout
//! - Two models: feature columns `x1 … xd` and `label` (the GS gain in the GS
//!   table, the PB gain in the PB table); the test table adds `true_psi` and
//!   `true_delta` after its GS label.
//! - Several models (scenario `multi-model`): one label column per
//!   non-reference model, named after it, NaN where a query has no label for
//!   that model (an empty cell in CSV); the test table holds the features,
//!   `cost_<model>` for every model and `true_psi_<model>` for the others.

use std::collections::BTreeMap;

use ndarray::ArrayView2;
use rand_chacha::ChaCha8Rng;

use super::{Scenario, ScenarioConfig};
use crate::config_file::locate::{deserialize_located, Segment};
use crate::error::{Error, Result};
use crate::rng::{stream, Purpose};

/// A table as named columns.
pub type Columns = Vec<(String, Vec<f64>)>;

/// One draw of a scenario as three tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// The GS rows: features, then the label column(s).
    pub gold: Columns,
    /// The PB rows: the same columns.
    pub pref: Columns,
    /// The test rows: features, then labels or costs, then the truth.
    pub test: Columns,
    /// The models, the reference first (`alternative`, `primary` for a
    /// two-model scenario).
    pub models: Vec<String>,
    /// Feature columns (`x1 … xd`).
    pub dim: usize,
}

/// Why a scenario's settings were refused: the key (empty when the
/// settings as a whole are wrong) and the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The offending setting.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The scenario named `name` with the settings `table` (its keys; `name`
/// itself may not be among them), built and validated.
pub fn configure(
    name: &str,
    mut table: toml::Table,
) -> std::result::Result<(ScenarioConfig, Box<dyn Scenario>), Refused> {
    if table.contains_key("name") {
        return Err(Refused {
            key: "name".into(),
            message: "the scenario is named by its own argument, not by a parameter".into(),
        });
    }
    table.insert("name".into(), toml::Value::String(name.to_string()));
    let config: ScenarioConfig =
        deserialize_located(&toml::Value::Table(table)).map_err(|(path, message)| Refused {
            key: match path.first() {
                Some(Segment::Key(k)) => k.clone(),
                _ => String::new(),
            },
            message: crate::error::excerpt_to(&message, 400),
        })?;
    let scenario = config.build().map_err(|e| Refused {
        key: match &e {
            Error::Core(meta_router_core::Error::InvalidParameter { name, .. }) => name.clone(),
            _ => String::new(),
        },
        message: e.to_string(),
    })?;
    Ok((config, scenario))
}

/// The scenario's settings that size a draw, among those given (`origin`:
/// setting → how the caller names it), for [`check_size`]'s message.
const SIZE_KEYS: &[&str] = &["pool", "n_gold", "n_pref", "n_test", "n", "d"];

/// Refuses a draw (and its text, about 24 bytes a number) that would exceed
/// the memory or work limit; the message names the sizing settings of
/// `origin` that were given.
pub fn check_size(scenario: &dyn Scenario, origin: &BTreeMap<String, String>) -> Result<()> {
    let sizes = scenario.sizes();
    let models = (scenario.model_names().len().max(2) - 1) as f64;
    let rows = sizes.n_total() + sizes.n_test as f64;
    let columns = sizes.dim as f64 + 3.0 * models + 2.0;
    let bytes = models * sizes.replicate_bytes() + 2.0 * rows * columns * 24.0;
    let operations = models * rows * (sizes.dim as f64 + 8.0) * 64.0;
    let set: Vec<&str> = SIZE_KEYS
        .iter()
        .filter_map(|k| origin.get(*k).map(String::as_str))
        .collect();
    let key = if set.is_empty() {
        "the scenario's sizes".to_string()
    } else {
        set.join(", ")
    };
    crate::limits::Estimate::new(
        bytes,
        operations,
        format!("exporting {rows} rows × {} features", sizes.dim),
        key,
    )
    .check()?;
    Ok(())
}

/// The draw of `scenario` (named `name`, configured by `config`) from the
/// data stream of master seed `seed` (grid point 0, replicate 0), as tables
/// (module docs).
pub fn draw_tables(config: &ScenarioConfig, scenario: &dyn Scenario, seed: u64) -> Result<Tables> {
    let mut rng = stream(seed, 0, 0, Purpose::Data);
    if matches!(config, ScenarioConfig::MultiModel(_)) {
        return draw_models(config.name(), scenario, &mut rng);
    }
    let data = scenario.draw(&mut rng)?;
    let d = scenario.dim();
    let features: Vec<String> = (1..=d).map(|j| format!("x{j}")).collect();
    let train = &data.train;
    let gold = named(
        &features,
        train.gold_x(),
        &[("label", train.gold_y().to_vec())],
    );
    let pref = named(
        &features,
        train.pref_x(),
        &[("label", train.pref_y().to_vec())],
    );
    let test = named(
        &features,
        data.test_x.view(),
        &[
            ("label", data.test_gold_y.to_vec()),
            ("true_psi", data.test_psi.to_vec()),
            ("true_delta", data.test_delta.to_vec()),
        ],
    );
    Ok(Tables {
        gold,
        pref,
        test,
        models: super::TWO_MODELS.iter().map(|m| m.to_string()).collect(),
        dim: d,
    })
}

/// [`draw_tables`] of a scenario with several models.
fn draw_models(name: &str, scenario: &dyn Scenario, rng: &mut ChaCha8Rng) -> Result<Tables> {
    let d = scenario.dim();
    let data = scenario.draw_models(rng)?;
    let Some(tables) = &data.tables else {
        return Err(Error::param(
            "scenario",
            name,
            "draws no label tables of several models",
        ));
    };
    let models = data.models.clone();
    let features: Vec<String> = (1..=d).map(|j| format!("x{j}")).collect();
    let labels = |values: ArrayView2<f64>| -> Vec<(String, Vec<f64>)> {
        models[1..]
            .iter()
            .zip(values.columns())
            .map(|(m, c)| (m.clone(), c.to_vec()))
            .collect()
    };
    let with = |x: ArrayView2<f64>, extra: Vec<(String, Vec<f64>)>| -> Columns {
        let extra: Vec<(&str, Vec<f64>)> =
            extra.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
        named(&features, x, &extra)
    };
    let gold = with(tables.gold_x.view(), labels(tables.gold_labels.view()));
    let pref = with(tables.pref_x.view(), labels(tables.pref_labels.view()));
    let mut extra: Vec<(String, Vec<f64>)> = models
        .iter()
        .zip(data.test_costs.columns())
        .map(|(m, c)| (format!("cost_{m}"), c.to_vec()))
        .collect();
    extra.extend(
        models[1..]
            .iter()
            .zip(data.test_gain.columns().into_iter().skip(1))
            .map(|(m, c)| (format!("true_psi_{m}"), c.to_vec())),
    );
    let test = with(data.per_model[0].test_x.view(), extra);
    Ok(Tables {
        gold,
        pref,
        test,
        models,
        dim: d,
    })
}

/// The columns of `x` named `features`, then `extra`.
fn named(features: &[String], x: ArrayView2<f64>, extra: &[(&str, Vec<f64>)]) -> Columns {
    features
        .iter()
        .cloned()
        .zip(x.columns().into_iter().map(|c| c.to_vec()))
        .chain(extra.iter().map(|(n, c)| (n.to_string(), c.clone())))
        .collect()
}
