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
//! The file: `format = "meta-router/multi-router"`, `format_version = 1`, the
//! crate version, the reference's name, the feature names and one entry per
//! non-reference model: its name and its complete single-model router file
//! (`docs/real-data.md`).

use std::path::Path;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::model_file::{self, RouterFile};
use super::{fit_seeds, fit_tables_seeded, Table};
use crate::error::{Error, Result};
use crate::meta::overlap::OverlapRule;
use crate::meta::{model_seeds, FittedMultiRouter, FittedRouter, MetaRouterConfig};
use crate::routing;

/// Format tag of a multi-model router file.
pub const MULTI_FORMAT: &str = "meta-router/multi-router";
/// Version of the multi-model router file format.
pub const MULTI_FORMAT_VERSION: u32 = 1;

/// One non-reference model of a multi-model router file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The model's name (its label column).
    pub name: String,
    /// Its router file (the single-model format).
    pub router: serde_json::Value,
}

/// A multi-model router file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiRouterFile {
    /// [`MULTI_FORMAT`].
    pub format: String,
    /// [`MULTI_FORMAT_VERSION`].
    pub format_version: u32,
    /// Version of meta-router that wrote the file.
    pub crate_version: String,
    /// Name of the reference model (gain 0).
    pub reference: String,
    /// Feature column names (the same for every model).
    pub features: Vec<String>,
    /// The non-reference models, in the order given at fit time.
    pub models: Vec<ModelEntry>,
}

/// A loaded multi-model router.
#[derive(Debug)]
pub struct LoadedModels {
    /// The file's contents.
    pub file: MultiRouterFile,
    /// Each model's router file, in model order.
    pub routers: Vec<RouterFile>,
    /// The fitted routers.
    pub fitted: FittedMultiRouter,
}

impl LoadedModels {
    /// Model names, the reference first.
    pub fn names(&self) -> Vec<String> {
        std::iter::once(self.file.reference.clone())
            .chain(self.file.models.iter().map(|m| m.name.clone()))
            .collect()
    }
}

/// Whether `text` is a multi-model router file (by its format tag).
pub fn is_multi(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Tag {
        format: Option<String>,
    }
    serde_json::from_str::<Tag>(text).is_ok_and(|t| t.format.as_deref() == Some(MULTI_FORMAT))
}

/// Checks model names: non-empty, distinct, different from the reference.
pub fn check_names(reference: &str, models: &[String]) -> Result<()> {
    if models.is_empty() {
        return Err(Error::param(
            "models",
            "(none)",
            "name at least one non-reference model (its label column)",
        ));
    }
    for (i, name) in models.iter().enumerate() {
        if name.is_empty() {
            return Err(Error::param("models", i + 1, "a model name is empty"));
        }
        if name == reference {
            return Err(Error::param(
                "models",
                name,
                "a model cannot be the reference too (the reference has no label column)",
            ));
        }
        if models[..i].contains(name) {
            return Err(Error::param("models", name, "the model is named twice"));
        }
    }
    if reference.is_empty() {
        return Err(Error::param("reference", "", "the reference needs a name"));
    }
    Ok(())
}

/// Fits one router per model: `tables[i] = (GS, PB)` of model `i + 1`,
/// restricted to its labelled rows (same feature columns throughout).
/// Returns the file's JSON text (checked to reload bit for bit: ψ̂ and Δ̂
/// on each model's training rows) and the loaded routers.
pub fn fit_model_tables(
    config: &MetaRouterConfig,
    reference: &str,
    names: &[String],
    tables: &[(Table, Table)],
    seed: u64,
) -> Result<(String, LoadedModels)> {
    check_names(reference, names)?;
    let mut entries = Vec::with_capacity(names.len());
    let mut fitted: Vec<FittedRouter> = Vec::with_capacity(names.len());
    let mut features: Option<Vec<String>> = None;
    for (i, (name, (gold, pref))) in names.iter().zip(tables).enumerate() {
        let k = i + 1;
        let seeds = model_seeds(fit_seeds(seed), k);
        let (file, router) = fit_tables_seeded(config, gold, pref, seed, seeds, OverlapRule::Crump)
            .map_err(|e| prefix(e, &format!("model `{name}`")))?;
        features.get_or_insert_with(|| file.features.clone());
        let value = serde_json::to_value(&file).map_err(|e| Error::Input {
            file: "(router being saved)".into(),
            line: None,
            column: None,
            message: format!("model `{name}`: {e}"),
        })?;
        entries.push(ModelEntry {
            name: name.clone(),
            router: value,
        });
        fitted.push(router);
    }
    let file = MultiRouterFile {
        format: MULTI_FORMAT.into(),
        format_version: MULTI_FORMAT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        reference: reference.to_string(),
        features: features.unwrap_or_default(),
        models: entries,
    };
    let text = serde_json::to_string(&file).map_err(|e| Error::Input {
        file: "(router being saved)".into(),
        line: None,
        column: None,
        message: format!("cannot be written as JSON: {e}"),
    })?;
    let loaded = parse_models(&text, "(router being saved)")?;
    for ((gold, pref), (original, reloaded)) in tables
        .iter()
        .zip(fitted.iter().zip(loaded.fitted.routers()))
    {
        for rows in [gold.x.view(), pref.x.view()] {
            if !model_file::same_predictions(original, reloaded, rows) {
                return Err(Error::Input {
                    file: "(router being saved)".into(),
                    line: None,
                    column: None,
                    message: "the saved multi-model router does not reproduce the fitted one's \
                              predictions (please report this)"
                        .into(),
                });
            }
        }
    }
    Ok((text, loaded))
}

/// An error with `context` in front of its message (file errors keep their
/// file, line and column).
fn prefix(error: Error, context: &str) -> Error {
    match error {
        Error::Input {
            file,
            line,
            column,
            message,
        } => Error::Input {
            file,
            line,
            column,
            message: format!("{context}: {message}"),
        },
        other => Error::param("models", context, other.to_string()),
    }
}

/// Reads a multi-model router file from text; `file` names it in errors.
pub fn parse_models(text: &str, file: &str) -> Result<LoadedModels> {
    let error = |message: String| Error::Input {
        file: file.to_string(),
        line: None,
        column: None,
        message,
    };
    let contents: MultiRouterFile = serde_json::from_str(text)
        .map_err(|e| error(format!("not a valid multi-model router file: {e}")))?;
    if contents.format != MULTI_FORMAT || contents.format_version != MULTI_FORMAT_VERSION {
        return Err(error(format!(
            "format `{}` version {}, but this meta-router reads `{MULTI_FORMAT}` version \
             {MULTI_FORMAT_VERSION}",
            contents.format, contents.format_version
        )));
    }
    let names: Vec<String> = contents.models.iter().map(|m| m.name.clone()).collect();
    check_names(&contents.reference, &names).map_err(|e| error(e.to_string()))?;
    model_file::check_feature_names(&contents.features).map_err(error)?;
    let mut routers = Vec::with_capacity(names.len());
    let mut fitted = Vec::with_capacity(names.len());
    for entry in &contents.models {
        let (router_file, router) = model_file::parse(&entry.router.to_string(), file)
            .map_err(|e| error(format!("model `{}`: {e}", entry.name)))?;
        if router_file.features != contents.features {
            return Err(error(format!(
                "model `{}` uses other feature columns than the file lists",
                entry.name
            )));
        }
        routers.push(router_file);
        fitted.push(router);
    }
    let fitted = FittedMultiRouter::new(fitted).map_err(|e| error(e.to_string()))?;
    Ok(LoadedModels {
        file: contents,
        routers,
        fitted,
    })
}

/// Reads and checks a multi-model router file.
pub fn load_models(path: &Path) -> Result<LoadedModels> {
    let text = model_file::read_text(path)?;
    parse_models(&text, &path.display().to_string())
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
