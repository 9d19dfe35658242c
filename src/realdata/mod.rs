//! Real data in and out: fit a router from GS and PB CSV files, save it,
//! route new queries, and evaluate it on held-out GS-labelled queries.
//!
//! This is the library side of `meta-router fit`, `route` and `evaluate`
//! (the commands are written out in `docs/real-data.md`):
//! - [`table`]: CSV tables with strict validation (errors name file, line, column);
//! - [`model_file`]: the versioned router file;
//! - [`evaluate`]: routing metrics on a test table with bootstrap intervals;
//! - [`fit_tables`] and [`route_table`] tie them to [`crate::meta`] and
//!   [`crate::routing`];
//! - [`multi`]: the same for `K ≥ 2` models (one label column per model, a
//!   multi-model router file, routing with per-model or per-query costs).
//!
//! Seeds: a fit with seed `s` draws its folds from the `Folds` stream and its
//! learners from the `Learner` stream of master seed `s` (grid point 0,
//! replicate 0; [`crate::rng`]), so a fit is reproducible from the file and
//! the seed, and equals an in-memory [`MetaRouterConfig::fit`] with
//! [`fit_seeds`]`(s)` on the same data.

pub mod evaluate;
pub mod evaluate_models;
pub mod model_file;
pub mod multi;
pub mod table;

use std::path::Path;

use ndarray::Array1;

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::meta::overlap::OverlapRule;
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig};
use crate::routing;
use meta_router_core::router_file::describe::describe_fit;

pub use model_file::{RouterFile, TrainingSummary, FORMAT, FORMAT_VERSION};
pub use table::{read_table, ColumnRoles, FeatureSelection, LabelColumn, LabelKind, Table};

/// The fold and learner seeds of a fit with master seed `seed`
/// ([`FitSeeds::from_seed`]).
pub fn fit_seeds(seed: u64) -> FitSeeds {
    FitSeeds::from_seed(seed)
}

/// The file name of a path without its folders (what router files record).
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

/// Training data from a GS and a PB table. Errors name the files when the
/// feature columns differ (names or order), when a table has no labels, or
/// when the GS or PB rows are fewer than `folds`.
pub fn training_data(gold: &Table, pref: &Table, folds: usize) -> Result<TrainingData> {
    if gold.feature_names != pref.feature_names {
        let position = gold
            .feature_names
            .iter()
            .zip(&pref.feature_names)
            .position(|(a, b)| a != b)
            .unwrap_or(gold.feature_names.len().min(pref.feature_names.len()));
        let name = |names: &[String]| {
            names.get(position).map_or("(none)".to_string(), |n| {
                format!("`{}`", crate::error::excerpt(n))
            })
        };
        return Err(Error::input(
            pref.file.clone(),
            Some(1),
            None,
            format!(
                "the feature columns differ from those of {}: {} features here, {} there; \
                 feature {} is {} here and {} there",
                gold.file,
                pref.feature_names.len(),
                gold.feature_names.len(),
                position + 1,
                name(&pref.feature_names),
                name(&gold.feature_names)
            ),
        ));
    }
    for table in [gold, pref] {
        if table.rows() < folds.max(2) {
            return Err(Error::input(
                table.file.clone(),
                None,
                None,
                format!(
                    "{} data rows, fewer than the {} needed for {folds} cross-fitting folds",
                    table.rows(),
                    folds.max(2)
                ),
            ));
        }
    }
    let data = TrainingData::new(
        gold.x.clone(),
        gold.labels()?.clone(),
        pref.x.clone(),
        pref.labels()?.clone(),
    )?;
    match (&gold.weights, &pref.weights) {
        (None, None) => Ok(data),
        (g, p) => Ok(data.with_weights(
            g.clone().unwrap_or_else(|| Array1::ones(gold.rows())),
            p.clone().unwrap_or_else(|| Array1::ones(pref.rows())),
        )?),
    }
}

/// Refuses a fit of `config` on the two tables whose size estimate
/// ([`crate::meta::size::estimate_fit`]) exceeds the memory or work limit;
/// `key_of` names a configuration key as the caller's input does.
pub fn check_fit_size(
    config: &MetaRouterConfig,
    gold: &Table,
    pref: &Table,
    key_of: &dyn Fn(&str) -> String,
) -> Result<()> {
    crate::meta::size::estimate_fit(
        config,
        gold.rows() as f64,
        pref.rows() as f64,
        gold.feature_names.len() as f64,
        key_of,
    )
    .check()?;
    Ok(())
}

/// Fits `config` on the two tables with master seed `seed` and describes
/// the result as a router file (diagnostics; inference for DR-learner
/// routers with `normalize = "none"`).
pub fn fit_tables(
    config: &MetaRouterConfig,
    gold: &Table,
    pref: &Table,
    seed: u64,
) -> Result<(RouterFile, FittedRouter)> {
    fit_tables_with_overlap(config, gold, pref, seed, OverlapRule::Crump)
}

/// [`fit_tables`] with the target population of the inference intervals
/// chosen by `overlap` (`crump`, the default of [`fit_tables`]: the
/// Crump–Hotz–Imbens–Mitnik overlap region; `none`: every query; or a
/// threshold α).
pub fn fit_tables_with_overlap(
    config: &MetaRouterConfig,
    gold: &Table,
    pref: &Table,
    seed: u64,
    overlap: OverlapRule,
) -> Result<(RouterFile, FittedRouter)> {
    fit_tables_seeded(config, gold, pref, seed, fit_seeds(seed), overlap)
}

/// [`fit_tables`] with the fit's seeds given (many models: model `k`'s
/// seeds derived from `fit_seeds(seed)`); `seed` is what the file records.
pub(crate) fn fit_tables_seeded(
    config: &MetaRouterConfig,
    gold: &Table,
    pref: &Table,
    seed: u64,
    seeds: FitSeeds,
    overlap: OverlapRule,
) -> Result<(RouterFile, FittedRouter)> {
    check_fit_size(config, gold, pref, &|key| {
        format!("`{key}` of the router configuration")
    })?;
    let data = training_data(
        gold,
        pref,
        if config.method.is_meta() {
            config.folds
        } else {
            1
        },
    )?;
    let router = config.fit(&data, seeds).map_err(|e| {
        Error::input(
            format!("{} and {}", gold.file, pref.file),
            None,
            None,
            format!("the router could not be fitted on these tables: {e}"),
        )
    })?;
    let file = describe_fit(
        config,
        &router,
        &data,
        gold.feature_names.clone(),
        (seed, seeds),
        overlap,
        TrainingSummary::of(&data, &file_name(&gold.file), &file_name(&pref.file)),
    )?;
    Ok((file, router))
}

/// The size estimate of routing `rows` queries with a router file of
/// `router_bytes` bytes among `models` models (scores, decisions and the
/// output text; each query visits at most every number of the file).
pub fn estimate_route(rows: usize, models: usize, router_bytes: u64) -> crate::limits::Estimate {
    let rows = rows as f64;
    crate::limits::Estimate::new(
        rows * (models as f64 + 2.0) * 8.0 * 3.0 + rows * 40.0 * (models as f64 + 2.0),
        rows * (router_bytes as f64 / 16.0 + 16.0),
        format!("routing {rows} queries"),
        "the number of queries",
    )
}

/// Checks a router's scores on a query table: a non-finite ψ̂ (a damaged
/// router file, or features far outside the training data) is an error
/// naming the router file and the query's line.
pub fn check_scores(psi_hat: &Array1<f64>, router_file: &str, queries: &Table) -> Result<()> {
    match psi_hat.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(row) => Err(Error::input(
            router_file.to_string(),
            None,
            None,
            format!(
                "the router gives a non-finite ψ̂ ({}) for the query on line {} of {}: the \
                 router file is damaged (e.g. its `scale`) or the query's features lie far \
                 outside the training data",
                psi_hat[row],
                queries.lines.get(row).copied().unwrap_or(row as u64 + 2),
                queries.file
            ),
        )),
    }
}

pub use meta_router_core::routing::router::{OutsideRoute, Routed};

/// Routes the rows of `queries` (whose features must be the router's, by
/// name) at cost weight `w` and costs `(C_p, C_a)` ([`routing::route`]).
pub fn route_table(
    router: &FittedRouter,
    queries: &Table,
    w: f64,
    costs: (f64, f64),
) -> Result<Routed> {
    route_table_outside(router, queries, w, costs, OutsideRoute::Router)
}

/// [`route_table`] with the decision for queries outside a truncated
/// router's overlap region set by `outside` (other routers ignore it;
/// [`meta_router_core::routing::router::route_rows`]).
pub fn route_table_outside(
    router: &FittedRouter,
    queries: &Table,
    w: f64,
    costs: (f64, f64),
    outside: OutsideRoute,
) -> Result<Routed> {
    let rows = queries.rows();
    let differences = routing::cost_differences(
        Array1::from_elem(rows, costs.0).view(),
        Array1::from_elem(rows, costs.1).view(),
    )?;
    Ok(routing::router::route_rows(
        router,
        queries.x.view(),
        differences.view(),
        w,
        outside,
    )?)
}

/// The roles that read a query or test table for a router with feature
/// columns `features`: those columns by name, the label when given, the
/// `extra` numeric columns, the id column when given.
pub fn roles_for_router(
    features: &[String],
    label: Option<LabelColumn>,
    extra: Vec<String>,
    id: Option<String>,
) -> ColumnRoles {
    ColumnRoles {
        features: FeatureSelection::Names(features.to_vec()),
        label,
        extra,
        optional: Vec::new(),
        id,
        weight: None,
        ignore: Vec::new(),
    }
}
