//! The study's grid: the scenario at every combination of grid values
//! (cartesian product, last key varying fastest), validated point by point,
//! and the checks that depend on the grid (many-model scenarios, the rate
//! key).

use std::collections::BTreeMap;

use super::evaluation::EvaluationSpec;
use super::locate::{deserialize_located, render, Segment, Source};
use super::{check, toml_to_json, GridPoint, MethodKind, MethodSpec};
use crate::dgp::ScenarioConfig;
use crate::error::{Error, Result};
use meta_router_core::Error as CoreError;

/// Whether the grid points' scenario has several candidate models.
pub(super) fn points_are_multi(points: &[GridPoint]) -> bool {
    points
        .iter()
        .any(|p| matches!(p.scenario, ScenarioConfig::MultiModel(_)))
}

/// What a study of a scenario with several candidate models cannot do.
pub(super) fn check_multi_model(
    methods: &[MethodSpec],
    evaluation: &EvaluationSpec,
    source: &Source,
) -> Result<()> {
    if let Some(i) = methods.iter().position(|m| m.kind == MethodKind::Random) {
        return Err(source.error(
            &format!("methods[{i}].method"),
            "the `random` reference is defined for two models only; many-model studies compare \
             with `oracle` and with always-one-model (recorded for every method)",
        ).into());
    }
    if !evaluation.inference.is_empty() {
        return Err(source
            .error(
                "evaluation.inference",
                "inference targets are defined for two models only; remove `inference` from a \
             many-model study",
            )
            .into());
    }
    if evaluation.propensity_error {
        return Err(source
            .error(
                "evaluation.propensity_error",
                "the propensity error is recorded for two-model studies only",
            )
            .into());
    }
    if evaluation.w.is_empty() {
        return Err(source
            .error(
                "evaluation.w",
                "a many-model study needs a cost-weight grid `w` (its routing metrics run over w)",
            )
            .into());
    }
    if evaluation.cutoff != crate::routing::Cutoff::None {
        return Err(source
            .error(
                "evaluation.cutoff",
                "the cutoff applies to two-model usage-ratio curves; many-model studies have none",
            )
            .into());
    }
    Ok(())
}

/// `[evaluation] rate` must name a grid parameter with at least
/// [`crate::study::rates::MIN_RATE_POINTS`] distinct positive numbers.
pub(super) fn check_rate_key(
    evaluation: &EvaluationSpec,
    grid: &BTreeMap<String, Vec<toml::Value>>,
    source: &Source,
) -> Result<()> {
    let Some(key) = &evaluation.rate else {
        return Ok(());
    };
    let Some(values) = grid.get(key) else {
        let names: Vec<&str> = grid.keys().map(String::as_str).collect();
        return Err(source
            .error(
                "evaluation.rate",
                format!(
                    "`{key}` is not a grid parameter (grid parameters: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            )
            .into());
    };
    let numbers: Vec<f64> = values
        .iter()
        .filter_map(|v| match v {
            toml::Value::Integer(i) => Some(*i as f64),
            toml::Value::Float(f) => Some(*f),
            _ => None,
        })
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    let mut distinct = numbers.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let least = crate::study::rates::MIN_RATE_POINTS;
    if numbers.len() != values.len() || distinct.len() < least {
        return Err(source
            .error(
                "evaluation.rate",
                format!(
                    "a convergence rate is fitted on log `{key}`: the grid needs at least {least} \
                 distinct positive numbers for it"
                ),
            )
            .into());
    }
    Ok(())
}

/// Builds the scenario at every grid point. An error in a key the grid sets
/// is reported at `grid.<key>`, any other at `scenario.<key>`.
pub(super) fn expand_grid(
    scenario: &toml::Table,
    grid: &BTreeMap<String, Vec<toml::Value>>,
    source: &Source,
) -> Result<Vec<GridPoint>> {
    check_scenario_name(scenario, source)?;
    for (key, values) in grid {
        if values.is_empty() {
            return Err(source
                .error(
                    &format!("grid.{key}"),
                    "a grid parameter needs at least one value",
                )
                .into());
        }
        if key == "name" {
            return Err(source
                .error("grid.name", "the scenario name cannot be a grid parameter")
                .into());
        }
    }
    let combinations = cartesian(grid);
    if combinations.len() > check::MAX_GRID_POINTS {
        return Err(source
            .error(
                "grid",
                format!(
                    "the grid has {} points; at most {} are supported",
                    combinations.len(),
                    check::MAX_GRID_POINTS
                ),
            )
            .into());
    }
    let mut points = Vec::with_capacity(combinations.len());
    for combination in combinations {
        points.push(grid_point(scenario, grid, &combination, source)?);
    }
    Ok(points)
}

/// The scenario table must name a known scenario.
fn check_scenario_name(scenario: &toml::Table, source: &Source) -> Result<()> {
    let names = ScenarioConfig::names();
    match scenario.get("name") {
        Some(toml::Value::String(name)) if names.contains(&name.as_str()) => Ok(()),
        Some(toml::Value::String(name)) => Err(source
            .error(
                "scenario.name",
                format!("unknown scenario `{name}` (known: {})", names.join(", ")),
            )
            .into()),
        Some(_) => Err(source
            .error("scenario.name", "`name` must be a string")
            .into()),
        None => Err(source
            .error(
                "scenario.name",
                format!("missing `name` (one of: {})", names.join(", ")),
            )
            .into()),
    }
}

/// The grid point of one combination of grid values: the scenario table
/// with those values set, read and built (so its parameters are checked),
/// errors naming the key and the point.
fn grid_point(
    scenario: &toml::Table,
    grid: &BTreeMap<String, Vec<toml::Value>>,
    combination: &[(String, toml::Value)],
    source: &Source,
) -> Result<GridPoint> {
    let key_of = |name: &str| {
        if grid.contains_key(name) {
            format!("grid.{name}")
        } else {
            format!("scenario.{name}")
        }
    };
    let mut table = scenario.clone();
    let mut values = BTreeMap::new();
    for (key, value) in combination {
        table.insert(key.clone(), value.clone());
        values.insert(key.clone(), toml_to_json(value));
    }
    let config: ScenarioConfig =
        deserialize_located(&toml::Value::Table(table)).map_err(|(path, message)| {
            let key = match path.first() {
                Some(Segment::Key(first)) => {
                    let mut key = key_of(first);
                    let rest = render(&path[1..]);
                    if !rest.is_empty() {
                        key = format!("{key}.{rest}");
                    }
                    key
                }
                _ => "scenario".to_string(),
            };
            source.error(&key, format!("{message}{}", describe_point(&values)))
        })?;
    config.build().map_err(|e| match e {
        Error::Core(CoreError::InvalidParameter {
            name,
            value,
            reason,
        }) => source.error(
            &key_of(&name),
            format!("invalid value {value}: {reason}{}", describe_point(&values)),
        ),
        other => source.error("scenario", other.to_string()),
    })?;
    Ok(GridPoint {
        values,
        scenario: config,
        truth: Default::default(),
    })
}

/// ` (at grid point k = v, …)` for error messages; empty without a grid.
pub(super) fn describe_point(values: &BTreeMap<String, serde_json::Value>) -> String {
    if values.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!(" (at grid point {})", parts.join(", "))
}

/// Cartesian product of the grid, last key varying fastest; one empty
/// combination when the grid is empty.
pub(super) fn cartesian(
    grid: &BTreeMap<String, Vec<toml::Value>>,
) -> Vec<Vec<(String, toml::Value)>> {
    let mut combos: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in grid {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push((key.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    combos
}
