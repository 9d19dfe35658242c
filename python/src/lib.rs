//! `meta_router._core`: the Python bindings of meta-router's estimator core.
//!
//! This is the thin layer under the Python package `meta_router` (its
//! scikit-learn-style `MetaRouter` is written in Python over this module):
//! `router` (one model), `multi` (many models), `suite` (evaluation,
//! simulation, scenarios); this file holds what they share (settings,
//! value checks, the error type) and the module's table of contents.
//! Every number comes from `meta-router-core` through the same functions the
//! command line uses:
//! - settings: [`parse_router_table`] (the parser of router configuration
//!   files and of study files' method entries), so `MetaRouter(...)` takes
//!   the same keys, defaults and validation as `meta-router fit --config`;
//! - fitting: [`MetaRouterConfig::fit`] with [`FitSeeds::from_seed`](meta_router_core::FitSeeds::from_seed), then
//!   [`describe_fit`](meta_router_core::router_file::describe::describe_fit) (inference, notes) and the checked router file, as
//!   `meta-router fit` does: the same data, settings and seed give the same
//!   router file up to the training files' names, and bit-identical ψ̂;
//! - routing: [`route_rows`](meta_router_core::routing::router::route_rows), the decision of `meta-router route`;
//! - many models: per model the fit above, with [`model_seeds`](meta_router_core::meta::model_seeds), the file by
//!   [`write_models`](meta_router_core::router_file::multi::write_models), routing by `routing::multi::assign`;
//! - from the suite's library (`meta-router`): the evaluation of
//!   `meta-router evaluate` (its `evaluation.csv`), simulation studies
//!   (`study::run` and the reports of `meta-router simulate`) and the
//!   scenarios' draws (`dgp::export`, as `meta-router scenarios export`).
//!
//! Arrays: queries in row-major (C) order are read in place, without a
//! copy; another layout is copied to row-major first, because the core's
//! sums run in memory order and the command line's rows are row-major
//! (ψ̂ is then bit-identical to the command line's). Training arrays are
//! copied once, row-major, into the core's [`TrainingData`](meta_router_core::data::TrainingData), which owns them. Fitting, predicting and routing release
//! the GIL. Errors of the core become `MetaRouterError` (a `ValueError`)
//! carrying the core's message, which names the setting, array and row.

use meta_router_core::checks::MAX_MAGNITUDE;
use meta_router_core::config_file::{locate::Source, parse_router_table};
use meta_router_core::meta::overlap::OverlapRule;
use meta_router_core::meta::MetaRouterConfig;
use ndarray::{ArrayView1, ArrayView2};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    _core,
    MetaRouterError,
    PyValueError,
    "Invalid settings, data or router file (the message names which)."
);

/// The Python exception of a core error, its message unchanged.
pub(crate) fn py_error(error: impl std::fmt::Display) -> PyErr {
    MetaRouterError::new_err(error.to_string())
}

/// How errors name the settings of `MetaRouter(...)`.
pub(crate) const SETTINGS: &str = "MetaRouter settings";

/// The estimator configuration of `settings` (a JSON object of the keys of
/// a router configuration file), validated by the core's parser.
pub(crate) fn parse_settings(settings: &str) -> PyResult<MetaRouterConfig> {
    let mut json: serde_json::Value = serde_json::from_str(settings)
        .map_err(|e| py_error(format!("{SETTINGS}: not a JSON object: {e}")))?;
    drop_nulls(&mut json);
    let table = match toml::Value::try_from(json) {
        Ok(toml::Value::Table(table)) => table,
        Ok(_) => return Err(py_error(format!("{SETTINGS}: expected keyword settings"))),
        Err(e) => return Err(py_error(format!("{SETTINGS}: {e}"))),
    };
    parse_router_table(table, &Source::new(SETTINGS, "")).map_err(py_error)
}

/// Removes every `null` (Python's `None`) member of the objects in `value`:
/// a setting given as `None` takes its default, as a key absent from a
/// configuration file does (TOML has no null).
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(members) => {
            members.retain(|_, v| !v.is_null());
            members.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The folds a fit of `config` splits each source into (1 for a baseline,
/// which does not cross-fit).
pub(crate) fn fit_folds(config: &MetaRouterConfig) -> usize {
    if config.method.is_meta() {
        config.folds
    } else {
        1
    }
}

/// The warnings `meta-router fit` prints for these settings (e.g. a
/// boosting bias stage with a large learning rate).
#[pyfunction]
fn config_warnings(settings: &str) -> PyResult<Vec<String>> {
    Ok(parse_settings(settings)?.warnings())
}

/// The full configuration of `settings` (every key, defaults filled in) as
/// JSON: what a router fit with these settings records in its file.
#[pyfunction]
fn config_json(settings: &str) -> PyResult<String> {
    let config = parse_settings(settings)?;
    serde_json::to_string(&config).map_err(py_error)
}

/// The inference population rule `text` (`crump`, `none` or a threshold
/// α in (0, 0.5)) as the router file names it.
#[pyfunction]
fn overlap_rule(text: &str) -> PyResult<String> {
    parse_overlap(text).map(|rule| rule.label())
}

/// [`OverlapRule::parse`], its error naming the setting.
pub(crate) fn parse_overlap(text: &str) -> PyResult<OverlapRule> {
    OverlapRule::parse(text).map_err(|e| py_error(format!("{SETTINGS}, key `overlap`: {e}")))
}

/// Errors on the first entry of `x` that is not finite or exceeds
/// [`MAX_MAGNITUDE`] (the limit of the command line's tables), naming the
/// array, the row and the column.
pub(crate) fn check_values(what: &str, x: ArrayView2<f64>) -> std::result::Result<(), String> {
    for ((row, column), &v) in x.indexed_iter() {
        if !v.is_finite() || v.abs() > MAX_MAGNITUDE {
            return Err(format!(
                "{what}: the value {v} at row {row}, column {column} is {} (numbers must be \
                 finite and within ±{MAX_MAGNITUDE:e})",
                if v.is_finite() {
                    "too large in magnitude"
                } else {
                    "not finite"
                }
            ));
        }
    }
    Ok(())
}

/// [`check_values`] for a vector.
pub(crate) fn check_vector(what: &str, v: ArrayView1<f64>) -> std::result::Result<(), String> {
    check_values(what, v.insert_axis(ndarray::Axis(1)))
}

mod multi;
mod router;
mod suite;

/// The module `meta_router._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MetaRouterError", m.py().get_type::<MetaRouterError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(config_json, m)?)?;
    m.add_function(wrap_pyfunction!(config_warnings, m)?)?;
    m.add_function(wrap_pyfunction!(overlap_rule, m)?)?;
    m.add_function(wrap_pyfunction!(suite::evaluate_scores, m)?)?;
    m.add_function(wrap_pyfunction!(suite::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(suite::export_scenario, m)?)?;
    m.add_class::<router::Router>()?;
    m.add_class::<multi::MultiRouter>()?;
    Ok(())
}
