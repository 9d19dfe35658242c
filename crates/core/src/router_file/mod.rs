//! The router file: a fitted router with its configuration, seed, training
//! summary, diagnostics and inference as versioned, self-describing JSON (what
//! `meta-router fit` writes and `route` and `evaluate` read; many models:
//! [`multi`]).
//!
//! # Format (`format = "meta-router/router"`, `format_version = 1`)
//! | key | content |
//! |---|---|
//! | `format`, `format_version` | the tag; another version is refused with a clear error |
//! | `crate_version` | the meta-router version that wrote the file |
//! | `features` | feature column names, in the order the models read them |
//! | `config` | the estimator configuration (every option, defaults filled in) |
//! | `seed` | the seed the fit's folds and learners were drawn from |
//! | `training` | file names and row counts of the GS and PB data, label ranges |
//! | `diagnostics` | the fit's diagnostics (name → number; ∞/NaN written as strings) |
//! | `inference` | DR-learner routers: AIPW estimates of the average PB bias and mean GS gain, and the best linear projection of Δ, with intervals; else `null` |
//! | `router` | every fitted model: ψ̂ (one model, or `η̂` for the plug-in), `Δ̂`, the scale `c` |
//!
//! Numbers are written in shortest round-trip form and read back exactly, so
//! a loaded router predicts bit-identically to the fitted one; [`RouterFile::to_json_checked`]
//! checks that on the training rows before writing.

use std::collections::BTreeMap;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

pub mod multi;

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::meta::{FittedRouter, MetaRouterConfig, RouterModels};

pub use multi::{LoadedModels, ModelEntry, MultiRouterFile, MULTI_FORMAT, MULTI_FORMAT_VERSION};

/// The format tag of a router file.
pub const FORMAT: &str = "meta-router/router";
/// The version of the router-file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A diagnostic value: a number, or `"inf"`, `"-inf"`, `"nan"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Diagnostic {
    /// A finite number.
    Number(f64),
    /// A non-finite value, spelled out.
    Text(String),
}

impl From<f64> for Diagnostic {
    fn from(v: f64) -> Self {
        if v.is_finite() {
            Diagnostic::Number(v)
        } else if v.is_nan() {
            Diagnostic::Text("nan".into())
        } else if v > 0.0 {
            Diagnostic::Text("inf".into())
        } else {
            Diagnostic::Text("-inf".into())
        }
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Diagnostic::Number(v) => write!(f, "{v}"),
            Diagnostic::Text(t) => f.write_str(t),
        }
    }
}

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSummary {
    /// The GS file's name (no folders).
    pub gold_file: String,
    /// GS rows `n`.
    pub gold_rows: usize,
    /// The PB file's name (no folders).
    pub pref_file: String,
    /// PB rows `m`.
    pub pref_rows: usize,
    /// Smallest and largest GS label.
    pub gold_label_range: (f64, f64),
    /// Smallest and largest PB label.
    pub pref_label_range: (f64, f64),
    /// Whether the fit used sample weights.
    #[serde(default)]
    pub weighted: bool,
}

/// One inference target with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedEstimate {
    /// What is estimated.
    pub target: String,
    /// Point estimate.
    pub estimate: f64,
    /// Standard error.
    pub se: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
}

/// Inference of a DR-learner router, computed at fit time from its
/// cross-fitted nuisances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedInference {
    /// Confidence level of the intervals.
    pub level: f64,
    /// `θ_Δ`, `θ_ψ` (PB query law) and the pooled means.
    pub means: Vec<SavedEstimate>,
    /// Best linear projection of Δ on an intercept and the listed features
    /// (HC1 sandwich intervals).
    pub projection: Vec<SavedEstimate>,
    /// Jitter the projection's solver added (a near-singular design), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection_jitter: Option<f64>,
    /// The target population of every interval: the overlap region
    /// (absent in files written before it was recorded: every query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<SavedOverlap>,
}

/// The overlap region the inference targets average over
/// (`meta::overlap`): queries with `p̂ ∈ [alpha, 1 − alpha]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedOverlap {
    /// The rule that chose `alpha` (`crump`, `none` or the threshold).
    pub rule: String,
    /// The threshold `α` (0: every query).
    pub alpha: f64,
    /// Share of the GS training rows inside.
    pub gold_inside: f64,
    /// Share of the PB training rows inside.
    pub pref_inside: f64,
}

/// The contents of a router file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterFile {
    /// [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Version of meta-router that wrote the file.
    pub crate_version: String,
    /// Feature column names.
    pub features: Vec<String>,
    /// The estimator configuration.
    pub config: MetaRouterConfig,
    /// The fit's seed.
    pub seed: u64,
    /// The training data.
    pub training: TrainingSummary,
    /// Fit diagnostics.
    pub diagnostics: BTreeMap<String, Diagnostic>,
    /// DR-learner inference, when available.
    pub inference: Option<SavedInference>,
    /// Warnings of the fit (e.g. why no inference is stored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The fitted models.
    pub router: RouterModels,
}

/// How errors name a router file that is being written.
pub(crate) const SAVING: &str = "(router being saved)";

/// Just the tag, read before the rest so an old or foreign file gets a clear
/// message rather than a missing-field error.
#[derive(Deserialize)]
struct Tag {
    format: Option<String>,
    format_version: Option<u32>,
}

impl TrainingSummary {
    /// The summary of `data`, read from the files named `gold_file` and
    /// `pref_file` (names without folders, or any description).
    pub fn of(data: &TrainingData, gold_file: &str, pref_file: &str) -> Self {
        let range = |v: ndarray::ArrayView1<f64>| {
            v.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                })
        };
        Self {
            gold_file: gold_file.to_string(),
            gold_rows: data.n_gold(),
            pref_file: pref_file.to_string(),
            pref_rows: data.n_pref(),
            gold_label_range: range(data.gold_y()),
            pref_label_range: range(data.pref_y()),
            weighted: data.is_weighted(),
        }
    }
}

impl RouterFile {
    /// The file of a router fitted in memory: `router`, fit with `config` and
    /// the seeds of [`crate::FitSeeds::from_seed`]`(seed)` on data with
    /// feature names `features`, summarized by `training`; its diagnostics,
    /// no inference and no notes (set [`RouterFile::inference`] and
    /// [`RouterFile::notes`] to add them).
    pub fn new(
        features: Vec<String>,
        config: MetaRouterConfig,
        seed: u64,
        training: TrainingSummary,
        router: &FittedRouter,
    ) -> Self {
        Self {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            features,
            config,
            seed,
            training,
            diagnostics: router
                .diagnostics()
                .to_map()
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
            inference: None,
            notes: Vec::new(),
            router: router.models(),
        }
    }

    /// Serializes the file; the JSON is checked to read back into a router
    /// whose ψ̂ and Δ̂ on every row set of `check_rows` equal `router`'s bit
    /// for bit.
    pub fn to_json_checked(
        &self,
        router: &FittedRouter,
        check_rows: &[ArrayView2<f64>],
    ) -> Result<String> {
        let text = serde_json::to_string(self).map_err(|e| {
            Error::input(
                SAVING,
                None,
                None,
                format!("cannot be written as JSON: {e}"),
            )
        })?;
        let (_, loaded) = parse(&text, SAVING)?;
        if !check_rows
            .iter()
            .all(|rows| same_predictions(router, &loaded, *rows))
        {
            return Err(Error::input(
                SAVING,
                None,
                None,
                "the saved router does not reproduce the fitted one's predictions \
                 (please report this)",
            ));
        }
        Ok(text)
    }
}

/// Whether two routers give bit-identical ψ̂ and Δ̂ on `rows` (the reload
/// check of saved routers).
pub fn same_predictions(a: &FittedRouter, b: &FittedRouter, rows: ArrayView2<f64>) -> bool {
    let same = |x: &ndarray::Array1<f64>, y: &ndarray::Array1<f64>| {
        x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
    };
    same(&a.predict_psi(rows), &b.predict_psi(rows))
        && match (a.predict_delta(rows), b.predict_delta(rows)) {
            (Some(x), Some(y)) => same(&x, &y),
            (None, None) => true,
            _ => false,
        }
}

/// Reads a router file from text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<(RouterFile, FittedRouter)> {
    let error = |line: Option<u64>, message: String| Error::Input {
        file: file.to_string(),
        line,
        column: None,
        message,
    };
    let json_error = |e: serde_json::Error| {
        error(
            (e.line() > 0).then_some(e.line() as u64),
            format!("not a valid router file: {e}"),
        )
    };
    let tag: Tag = serde_json::from_str(text).map_err(json_error)?;
    match (tag.format.as_deref(), tag.format_version) {
        (Some(FORMAT), Some(FORMAT_VERSION)) => {}
        (Some(FORMAT), Some(v)) => {
            return Err(error(
                None,
                format!(
                    "router file format version {v}, but this meta-router ({}) reads version \
                     {FORMAT_VERSION}; refit the router with this version (`meta-router fit`)",
                    env!("CARGO_PKG_VERSION")
                ),
            ))
        }
        (found, _) => {
            return Err(error(
                None,
                format!(
                    "not a meta-router router file (format tag {}, expected `{FORMAT}` version \
                     {FORMAT_VERSION})",
                    found.map_or("missing".to_string(), |f| format!("`{f}`"))
                ),
            ))
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let contents: RouterFile =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            error(
                (inner.line() > 0).then_some(inner.line() as u64),
                format!("not a valid router file at `{path}`: {inner}"),
            )
        })?;
    check_feature_names(&contents.features).map_err(|m| error(None, m))?;
    if contents.features.len() != contents.router.dim {
        return Err(error(
            None,
            format!(
                "lists {} feature names for a router of {} features",
                contents.features.len(),
                contents.router.dim
            ),
        ));
    }
    contents
        .config
        .validate()
        .map_err(|e| error(None, format!("invalid `config`: {e}")))?;
    if contents.config.method != contents.router.method {
        return Err(error(
            None,
            "`config.method` and `router.method` differ".into(),
        ));
    }
    let router = FittedRouter::from_models(contents.router.clone())
        .map_err(|e| error(None, format!("invalid `router`: {e}")))?;
    Ok((contents, router))
}

/// Checks a router file's feature names: non-empty and distinct (the
/// columns a query table must have); the message names the first offender.
pub fn check_feature_names(names: &[String]) -> std::result::Result<(), String> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(format!(
                "`features[{i}]` is empty; every feature needs a column name"
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(format!(
                "`features[{i}]` repeats the feature name `{}`; each feature is one column",
                crate::error::excerpt(name)
            ));
        }
    }
    Ok(())
}
