//! The multi-model router file: one router per non-reference model.
//!
//! # Format (`format = "meta-router/multi-router"`, `format_version = 2`)
//! The crate version, the reference's name (model 0, gain 0 by definition),
//! the feature names and one entry per non-reference model: its name and its
//! complete single-model router file ([`super::RouterFile`], of the same
//! format version: 2, with compact trees). With one non-reference model the
//! file describes the two-model router. Files of version 1 (whose models
//! are single-model files of version 1) are still read.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{check_reload, parse, versions, RouterFile, SAVING};
use crate::error::{Error, Result};
use crate::meta::{FittedMultiRouter, FittedRouter};

/// Format tag of a multi-model router file.
pub const MULTI_FORMAT: &str = "meta-router/multi-router";
/// Version of the multi-model router file format this build writes.
pub const MULTI_FORMAT_VERSION: u32 = 2;
/// Versions of the multi-model router file format this build reads.
pub(crate) const MULTI_READ_VERSIONS: &[u32] = &[1, 2];

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

/// Serializes the routers of models `1..K` as a multi-model router file:
/// `reference` names model 0 and `models[i] = (name, file, router, rows)`
/// model `i + 1` (its router file, the fitted router and the row sets its
/// reload is checked on). Returns the JSON text, checked to read back into
/// the same models bit for bit and into routers whose ψ̂ and Δ̂ equal the
/// fitted ones on a spread of every model's rows (as
/// [`RouterFile::to_json_checked`]), and the loaded routers.
///
/// # Errors
/// Invalid names ([`check_names`]), routers on other features than the
/// first, a file that cannot be written, or a reload that differs.
pub fn write_models(
    reference: &str,
    models: &[(String, RouterFile, &FittedRouter, Vec<ArrayView2<f64>>)],
) -> Result<(String, LoadedModels)> {
    let names: Vec<String> = models.iter().map(|m| m.0.clone()).collect();
    check_names(reference, &names)?;
    let mut entries = Vec::with_capacity(models.len());
    for (name, file, _, _) in models {
        let router = file.to_value().map_err(|e| of_model(e, name))?;
        entries.push(ModelEntry {
            name: name.clone(),
            router,
        });
    }
    let file = MultiRouterFile {
        format: MULTI_FORMAT.into(),
        format_version: MULTI_FORMAT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").into(),
        reference: reference.to_string(),
        features: models
            .first()
            .map(|m| m.1.features.clone())
            .unwrap_or_default(),
        models: entries,
    };
    let text = serde_json::to_string(&file).map_err(|e| {
        Error::input(
            SAVING,
            None,
            None,
            format!("cannot be written as JSON: {e}"),
        )
    })?;
    let loaded = parse_models(&text, SAVING)?;
    for (((name, file, original, rows), saved), reloaded) in models
        .iter()
        .zip(&loaded.routers)
        .zip(loaded.fitted.routers())
    {
        check_reload(&file.router, &saved.router, original, reloaded, rows)
            .map_err(|e| of_model(e, name))?;
    }
    Ok((text, loaded))
}

/// An error of saving model `name`'s router, with the model named.
fn of_model(error: Error, name: &str) -> Error {
    let message = match error {
        Error::Input { message, .. } => message,
        other => other.to_string(),
    };
    Error::input(SAVING, None, None, format!("model `{name}`: {message}"))
}

/// Reads a multi-model router file from text; `file` names it in errors.
pub fn parse_models(text: &str, file: &str) -> Result<LoadedModels> {
    let error = |message: String| Error::input(file, None, None, message);
    let contents: MultiRouterFile = serde_json::from_str(text)
        .map_err(|e| error(format!("not a valid multi-model router file: {e}")))?;
    if contents.format != MULTI_FORMAT || !MULTI_READ_VERSIONS.contains(&contents.format_version) {
        return Err(error(format!(
            "format `{}` version {}, but this meta-router reads `{MULTI_FORMAT}` versions {}",
            contents.format,
            contents.format_version,
            versions(MULTI_READ_VERSIONS)
        )));
    }
    let names: Vec<String> = contents.models.iter().map(|m| m.name.clone()).collect();
    check_names(&contents.reference, &names).map_err(|e| error(e.to_string()))?;
    super::check_feature_names(&contents.features).map_err(error)?;
    let mut routers = Vec::with_capacity(names.len());
    let mut fitted = Vec::with_capacity(names.len());
    for entry in &contents.models {
        let (router_file, router) = parse(&entry.router.to_string(), file)
            .map_err(|e| error(format!("model `{}`: {e}", entry.name)))?;
        if router_file.format_version != contents.format_version {
            return Err(error(format!(
                "model `{}` is a router file of format version {} inside a multi-model file \
                 of version {}",
                entry.name, router_file.format_version, contents.format_version
            )));
        }
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
