//! Many models on real data: one label column per non-reference model, a
//! multi-model router file, and routing with per-model or per-query costs.
//!
//! # Model
//! `K` models, model 0 the reference (named, but with no label column: its
//! gain is 0 by definition). The GS file holds, per query, the GS gain of
//! each other model `k` over the reference in a column named after `k`; the
//! PB file its PB gain (a number, or win / tie / loss) in the same column.
//! An empty cell means the query has no label for that model. Model `k`'s
//! router is fit on the rows that carry its label, under the assumptions of
//! `docs/method.md` §9 (labels missing at random given the query and the
//! row's kind; overlap on the labelled rows).
//!
//! # Algorithm
//! [`fit_model_tables`]: for each model, the tables restricted to its
//! labelled rows are fit by [`super::fit_tables`]'s pipeline with seeds
//! [`model_seeds`]`(fit_seeds(seed), k)` (model 1 uses `fit_seeds(seed)`
//! itself, so one model is the two-model fit); the whole
//! [`MultiRouterFile`] is serialized and read back, and every model's ψ̂
//! and Δ̂ on its training rows must be bit-identical before it is returned.
//! [`route_models`] scores every model and sends each query to
//! `argmax_k [ψ̂_k − w C_k]` ([`routing::multi::assign`]).
//!
//! The file is the core's [`meta_router_core::router_file::multi`]
//! (`docs/real-data.md`).

use ndarray::{Array2, ArrayView2};

use std::path::Path;

use super::{fit_seeds, fit_tables_seeded, model_file, Table};
use crate::error::{Error, Result};
use crate::meta::overlap::OverlapRule;
use crate::meta::{model_seeds, FittedMultiRouter, MetaRouterConfig};
use crate::routing;
pub use meta_router_core::router_file::multi::{
    check_names, is_multi, parse_models, write_models, LoadedModels, ModelEntry, MultiRouterFile,
    MULTI_FORMAT, MULTI_FORMAT_VERSION,
};
use meta_router_core::Error as CoreError;

/// Fits one router per model: `tables[i] = (GS, PB)` of model `i + 1`,
/// restricted to its labelled rows (same feature columns throughout), with
/// the inference intervals over the population `overlap` chooses. Returns
/// the file's JSON text (checked to reload bit for bit: ψ̂ and Δ̂
/// on each model's training rows, [`write_models`]) and the loaded routers.
pub fn fit_model_tables(
    config: &MetaRouterConfig,
    reference: &str,
    names: &[String],
    tables: &[(Table, Table)],
    seed: u64,
    overlap: OverlapRule,
) -> Result<(String, LoadedModels)> {
    check_names(reference, names)?;
    let mut fits = Vec::with_capacity(names.len());
    for (i, (name, (gold, pref))) in names.iter().zip(tables).enumerate() {
        let k = i + 1;
        let seeds = model_seeds(fit_seeds(seed), k);
        let (file, router) = fit_tables_seeded(config, gold, pref, seed, seeds, overlap)
            .map_err(|e| prefix(e, &format!("model `{name}`")))?;
        fits.push((name.clone(), file, router));
    }
    let models: Vec<_> = fits
        .iter()
        .zip(tables)
        .map(|((name, file, router), (gold, pref))| {
            (
                name.clone(),
                file.clone(),
                router,
                vec![gold.x.view(), pref.x.view()],
            )
        })
        .collect();
    Ok(write_models(reference, &models)?)
}

/// An error with `context` in front of its message (file errors keep their
/// file, line and column).
fn prefix(error: Error, context: &str) -> Error {
    match error {
        Error::Core(CoreError::Input {
            file,
            line,
            column,
            message,
        }) => Error::input(file, line, column, format!("{context}: {message}")),
        other => Error::param("models", context, other.to_string()),
    }
}

/// Reads and checks a multi-model router file.
pub fn load_models(path: &Path) -> Result<LoadedModels> {
    let text = model_file::read_text(path)?;
    Ok(parse_models(&text, &path.display().to_string())?)
}

/// Per-query output of routing among several models.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedModels {
    /// `ψ̂_k(q)`, one column per model (column 0, the reference, is 0).
    pub psi_hat: Array2<f64>,
    /// The chosen model's index per query.
    pub chosen: Vec<usize>,
}

impl RoutedModels {
    /// Share of queries sent to each model (sums to 1).
    pub fn shares(&self) -> Vec<f64> {
        let mut counts = vec![0usize; self.psi_hat.ncols()];
        for &k in &self.chosen {
            counts[k] += 1;
        }
        let n = self.chosen.len().max(1) as f64;
        counts.into_iter().map(|c| c as f64 / n).collect()
    }
}

/// Routes the rows `x` (the router's features in order) at cost weight `w`
/// with costs `costs` (rows × models, reference first).
pub fn route_models(
    router: &FittedMultiRouter,
    x: ArrayView2<f64>,
    costs: ArrayView2<f64>,
    w: f64,
) -> Result<RoutedModels> {
    let psi_hat = router.predict_psi(x)?;
    let chosen = routing::multi::assign(psi_hat.view(), costs, w)?;
    Ok(RoutedModels { psi_hat, chosen })
}
