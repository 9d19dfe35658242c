//! The router file: a fitted router with its configuration, seed, training
//! summary, diagnostics and inference as one versioned, self-describing JSON
//! file (what `meta-router fit` writes and `route` and `evaluate` read; many
//! models: [`multi`]).
//!
//! # Format (`format = "meta-router/router"`, `format_version = 2`)
//! | key | content |
//! |---|---|
//! | `format`, `format_version` | the tag; versions 1 and 2 are read, another is refused with a clear error |
//! | `crate_version` | the meta-router version that wrote the file |
//! | `features` | feature column names, in the order the models read them |
//! | `config` | the estimator configuration (every option, defaults filled in) |
//! | `seed` | the seed the fit's folds and learners were drawn from |
//! | `training` | file names and row counts of the GS and PB data, label ranges |
//! | `diagnostics` | the fit's diagnostics (name → number; ∞/NaN written as strings) |
//! | `inference` | DR-learner routers: AIPW estimates of the average PB bias and mean GS gain, and the best linear projection of Δ, with intervals; else `null` |
//! | `router` | every fitted model: ψ̂ (one model, or `η̂` for the plug-in), `Δ̂`, the scale `c` |
//!
//! Everything but the trees is plain JSON, numbers in shortest round-trip
//! form (read back exactly): the header, configuration, summary,
//! diagnostics and inference stay readable, and so do the small models
//! (ridge, kernel ridge and logistic coefficients, clamps, the overlap
//! region). The trees of a forest or a boosted model are stored as
//! struct-of-arrays columns over all its trees: node links, split features
//! and bins, one threshold per (feature, bin), leaf values (`trees`), each
//! column little-endian, deflated in a checksummed zlib stream and
//! base64-encoded (`columns`; the layout is in `trees`). A
//! tree node then takes about 7 bytes of the file instead of about 44 of
//! JSON numbers (the paper's all-forest R-learner router at N = 4500,
//! d = 50: 3.9 MB instead of 23 MB), and the file is read without parsing
//! millions of numbers.
//!
//! Why this design: one file that any JSON reader opens (and `jq`, a text
//! editor or a diff shows what was fitted), with the bulk in a compact form
//! that Python's standard library decodes in one line (`base64`, `zlib`,
//! `numpy.frombuffer`). A binary container would need its own reader; JSON
//! numbers for every node made forest routers of 20–35 MB. The crates are
//! `base64` (RFC 4648) and `flate2` (zlib through the pure-Rust
//! `miniz_oxide`), both already built for the suite's PNG figures; deflate
//! level 1, because higher levels cost several times the time for a few
//! per cent on arrays of floats.
//!
//! Format 1 (meta-router 0.1 before format 2) stored every tree as JSON
//! arrays of numbers (`feature`, `bin`, `threshold`, `left`, `right`,
//! `value`); such files are still read, and predict as they did.
//!
//! # Reading
//! [`parse`] checks the tag, every key (unknown keys are errors), the
//! declared sizes of the tree columns against the memory limit, then
//! decodes and checks every column (base64, zlib stream and checksum,
//! lengths, links inside their tree, features below the model's, finite
//! thresholds and leaf values) and every model; a damaged file is an
//! [`Error::Input`] naming the file and the key path, never a panic.
//!
//! # Writing
//! [`RouterFile::to_json_checked`] writes format 2 and reads the text back:
//! the models read back must equal the fitted ones bit for bit, node for
//! node (a structural comparison, exhaustive and cheap), and predict ψ̂ and
//! Δ̂ bit-identically on a spread of up to 16 rows of each given row set
//! (a check of the whole router). Either failing is an error, so an encoding
//! bug cannot produce a file that predicts differently.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

mod columns;
pub mod describe;
pub mod multi;
mod saved;
mod trees;

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::meta::{FittedRouter, MetaRouterConfig, RouterModels};
use saved::{same_models, SavedRouter};

pub use multi::{LoadedModels, ModelEntry, MultiRouterFile, MULTI_FORMAT, MULTI_FORMAT_VERSION};

/// The format tag of a router file.
pub const FORMAT: &str = "meta-router/router";
/// The version of the router-file format this build writes.
pub const FORMAT_VERSION: u32 = 2;
/// The versions of the router-file format this build reads.
pub(crate) const READ_VERSIONS: &[u32] = &[1, 2];

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
#[derive(Debug, Clone)]
pub struct RouterFile {
    /// [`FORMAT`].
    pub format: String,
    /// The format version of the file it was read from ([`FORMAT_VERSION`]
    /// for a new one; files are always written in [`FORMAT_VERSION`]).
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
    pub notes: Vec<String>,
    /// The fitted models.
    pub router: RouterModels,
}

/// A router file as JSON: the keys of [`RouterFile`], the models in the form
/// `R` of one format version ([`RouterModels`]' own for version 1,
/// [`SavedRouter`] for version 2).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRepr<R> {
    format: String,
    format_version: u32,
    crate_version: String,
    features: Vec<String>,
    config: MetaRouterConfig,
    seed: u64,
    training: TrainingSummary,
    diagnostics: BTreeMap<String, Diagnostic>,
    inference: Option<SavedInference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
    router: R,
}

impl<R> FileRepr<R> {
    /// The file, its models decoded from their JSON form by `decode`.
    fn into_file<E>(
        self,
        decode: impl FnOnce(R) -> std::result::Result<RouterModels, E>,
    ) -> std::result::Result<RouterFile, E> {
        let FileRepr {
            format,
            format_version,
            crate_version,
            features,
            config,
            seed,
            training,
            diagnostics,
            inference,
            notes,
            router,
        } = self;
        Ok(RouterFile {
            format,
            format_version,
            crate_version,
            features,
            config,
            seed,
            training,
            diagnostics,
            inference,
            notes,
            router: decode(router)?,
        })
    }
}

/// Rows of each row set that the reload check predicts (evenly spread): a
/// check of the router as a whole (scale, ψ̂ and Δ̂ assembled as fitted);
/// the models themselves are compared in full, node for node.
const CHECK_ROWS: usize = 16;

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

    /// The file in the current format, as JSON: [`FORMAT`],
    /// [`FORMAT_VERSION`], this file's other keys, and the models with
    /// their trees encoded. Fails only for a tree the format cannot hold.
    fn repr(&self) -> Result<FileRepr<SavedRouter<'_>>> {
        let router = SavedRouter::encode(&self.router)
            .map_err(|e| Error::input(SAVING, None, None, format!("{e} (please report this)")))?;
        Ok(FileRepr {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            crate_version: self.crate_version.clone(),
            features: self.features.clone(),
            config: self.config.clone(),
            seed: self.seed,
            training: self.training.clone(),
            diagnostics: self.diagnostics.clone(),
            inference: self.inference.clone(),
            notes: self.notes.clone(),
            router,
        })
    }

    /// The file as a JSON value (for the multi-model file), unchecked.
    pub(crate) fn to_value(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self.repr()?).map_err(cannot_write)
    }

    /// Serializes the file (format [`FORMAT_VERSION`]); the JSON is checked
    /// to read back into the same models bit for bit and into a router whose
    /// ψ̂ and Δ̂ equal `router`'s on a spread of rows of every row set of
    /// `check_rows` (module docs, *Writing*).
    pub fn to_json_checked(
        &self,
        router: &FittedRouter,
        check_rows: &[ArrayView2<f64>],
    ) -> Result<String> {
        self.write_checked(router, check_rows, |file| {
            serde_json::to_string(&file.repr()?).map_err(cannot_write)
        })
    }

    /// [`RouterFile::to_json_checked`] with the text written by `write`.
    fn write_checked(
        &self,
        router: &FittedRouter,
        check_rows: &[ArrayView2<f64>],
        write: impl Fn(&RouterFile) -> Result<String>,
    ) -> Result<String> {
        let text = write(self)?;
        let (file, loaded) = parse(&text, SAVING)?;
        check_reload(&self.router, &file.router, router, &loaded, check_rows)?;
        Ok(text)
    }
}

fn cannot_write(e: serde_json::Error) -> Error {
    Error::input(
        SAVING,
        None,
        None,
        format!("cannot be written as JSON: {e}"),
    )
}

/// The reload check of a saved router: the `saved` models read back from
/// the text equal the `fitted` models bit for bit ([`same_models`]), and the
/// router read back (`reloaded`) predicts like `original` on a spread of
/// rows of each of `check_rows`.
pub(crate) fn check_reload(
    fitted: &RouterModels,
    saved: &RouterModels,
    original: &FittedRouter,
    reloaded: &FittedRouter,
    check_rows: &[ArrayView2<f64>],
) -> Result<()> {
    same_models(fitted, saved).map_err(|e| {
        Error::input(
            SAVING,
            None,
            None,
            format!(
                "the saved router does not read back as the fitted one: {e} (please report \
                 this)"
            ),
        )
    })?;
    let same = check_rows
        .iter()
        .all(|rows| same_predictions(original, reloaded, spread_rows(*rows).view()));
    if !same {
        return Err(Error::input(
            SAVING,
            None,
            None,
            "the saved router does not reproduce the fitted one's predictions \
             (please report this)",
        ));
    }
    Ok(())
}

/// Up to [`CHECK_ROWS`] rows of `rows`, evenly spread, the first and the
/// last included.
fn spread_rows(rows: ArrayView2<f64>) -> Array2<f64> {
    let n = rows.nrows();
    if n <= CHECK_ROWS {
        return rows.to_owned();
    }
    let picked: Vec<usize> = (0..CHECK_ROWS)
        .map(|i| i * (n - 1) / (CHECK_ROWS - 1))
        .collect();
    rows.select(Axis(0), &picked)
}

/// Whether two routers give bit-identical ψ̂ and Δ̂ on `rows` (the reload
/// check of saved routers).
pub(crate) fn same_predictions(a: &FittedRouter, b: &FittedRouter, rows: ArrayView2<f64>) -> bool {
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

/// Reads a router file (format 1 or 2) from text and checks it (module
/// docs, *Reading*); `file` names it in errors.
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
    let version = match (tag.format.as_deref(), tag.format_version) {
        (Some(FORMAT), Some(v)) if READ_VERSIONS.contains(&v) => v,
        (Some(FORMAT), Some(v)) => {
            return Err(error(
                None,
                format!(
                    "router file format version {v}, but this meta-router ({}) reads versions \
                     {} and writes {FORMAT_VERSION}; refit the router with this version \
                     (`meta-router fit`)",
                    env!("CARGO_PKG_VERSION"),
                    versions(READ_VERSIONS)
                ),
            ))
        }
        (found, _) => {
            return Err(error(
                None,
                format!(
                    "not a meta-router router file (format tag {}, expected `{FORMAT}` version \
                     {})",
                    found.map_or("missing".to_string(), |f| format!("`{f}`")),
                    versions(READ_VERSIONS)
                ),
            ))
        }
    };
    let contents = if version == 1 {
        let repr: FileRepr<RouterModels> = deserialize(text, file)?;
        repr.into_file(Ok::<_, Error>)?
    } else {
        let repr: FileRepr<SavedRouter<'static>> = deserialize(text, file)?;
        repr.router.check_declared().map_err(|m| error(None, m))?;
        crate::limits::Estimate::new(
            repr.router.decoded_bytes(),
            0.0,
            format!("decoding the trees of the router file {file}"),
            format!("the size of {file}"),
        )
        .check()?;
        repr.into_file(|saved| saved.decode().map_err(|m| error(None, m)))?
    };
    check_contents(&contents).map_err(|m| error(None, m))?;
    let router = FittedRouter::from_models(contents.router.clone())
        .map_err(|e| error(None, format!("invalid `router`: {e}")))?;
    Ok((contents, router))
}

/// Format versions as text (`1 and 2`).
pub(crate) fn versions(list: &[u32]) -> String {
    let names: Vec<String> = list.iter().map(u32::to_string).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Deserializes a whole file; errors name the key path and line.
fn deserialize<T: DeserializeOwned>(text: &str, file: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        Error::input(
            file,
            (inner.line() > 0).then_some(inner.line() as u64),
            None,
            format!("not a valid router file at `{path}`: {inner}"),
        )
    })
}

/// The checks of a read file beyond its models: feature names, their
/// count, the configuration, the method.
fn check_contents(contents: &RouterFile) -> std::result::Result<(), String> {
    check_feature_names(&contents.features)?;
    if contents.features.len() != contents.router.dim {
        return Err(format!(
            "lists {} feature names for a router of {} features",
            contents.features.len(),
            contents.router.dim
        ));
    }
    contents
        .config
        .validate()
        .map_err(|e| format!("invalid `config`: {e}"))?;
    if contents.config.method != contents.router.method {
        return Err("`config.method` and `router.method` differ".into());
    }
    Ok(())
}

/// Checks a router file's feature names: non-empty and distinct (the
/// columns a query table must have); the message names the first offender.
pub(crate) fn check_feature_names(names: &[String]) -> std::result::Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::columns::Column;
    use super::*;
    use crate::learners::{ForestParams, LearnerConfig};
    use crate::meta::{FitSeeds, Method};
    use ndarray::{Array1, Array2};

    /// An R-learner router with forests, its file and its training rows.
    fn forest_router(seed: u64) -> (RouterFile, FittedRouter, Array2<f64>) {
        let draw = |rows: usize, shift: f64| {
            let x = Array2::from_shape_fn((rows, 3), |(i, j)| {
                ((i * (j + 2)) as f64 * 0.37 + shift).sin()
            });
            let y = Array1::from_shape_fn(rows, |i| x[[i, 0]] - shift * x[[i, 1]]);
            (x, y)
        };
        let ((gx, gy), (px, py)) = (draw(60, 0.0), draw(150, 0.3));
        let data = TrainingData::new(gx.clone(), gy, px, py).unwrap();
        let config = MetaRouterConfig::new(Method::RLearner).with_learner(LearnerConfig::Forest(
            ForestParams {
                trees: 6,
                ..ForestParams::default()
            },
        ));
        let router = config.fit(&data, FitSeeds::from_seed(seed)).unwrap();
        let training = TrainingSummary::of(&data, "gold.csv", "pref.csv");
        let names = vec!["a".into(), "b".into(), "c".into()];
        let file = RouterFile::new(names, config, seed, training, &router);
        (file, router, gx)
    }

    /// The text of `file` with one leaf value of the bias forest moved by
    /// one unit in the last place: an encoder bug that keeps the file valid.
    fn off_by_one_ulp(file: &RouterFile) -> Result<String> {
        let mut value = serde_json::to_value(file.repr()?).unwrap();
        let slot = value
            .pointer_mut("/router/delta/forest/trees/leaf_values")
            .expect("a bias forest");
        let column: Column = serde_json::from_value(slot.clone()).unwrap();
        let mut leaves = column.decode_finite().unwrap();
        leaves[3] = f64::from_bits(leaves[3].to_bits() + 1);
        *slot = serde_json::to_value(Column::floats(&leaves)).unwrap();
        Ok(value.to_string())
    }

    #[test]
    fn the_reload_check_catches_a_broken_encoder() {
        let (file, router, rows) = forest_router(3);
        let text = file.to_json_checked(&router, &[rows.view()]).unwrap();
        assert!(text.contains("\"format_version\":2"));
        // The damaged text is a valid router file: only the check sees it.
        let damaged = off_by_one_ulp(&file).unwrap();
        parse(&damaged, "damaged.json").unwrap();
        let e = file
            .write_checked(&router, &[rows.view()], off_by_one_ulp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not read back as the fitted one"), "{e}");
        assert!(e.contains("`router.delta.forest`, tree 0: node"), "{e}");
    }

    #[test]
    fn the_reload_check_compares_predictions_with_the_fitted_router() {
        // A file that reads back as its own models, checked against a router
        // fitted with another seed: the predictions differ.
        let (file, _, rows) = forest_router(3);
        let (_, other, _) = forest_router(4);
        let e = file
            .to_json_checked(&other, &[rows.view()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not reproduce the fitted one's predictions"),
            "{e}"
        );
    }

    #[test]
    fn spread_rows_keeps_the_first_and_last_row() {
        let rows = Array2::from_shape_fn((1000, 1), |(i, _)| i as f64);
        let picked = spread_rows(rows.view());
        assert_eq!(picked.nrows(), CHECK_ROWS);
        assert_eq!((picked[[0, 0]], picked[[CHECK_ROWS - 1, 0]]), (0.0, 999.0));
        assert_eq!(spread_rows(rows.slice(ndarray::s![..5, ..])).nrows(), 5);
    }
}
