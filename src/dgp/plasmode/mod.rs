//! `plasmode`: a scenario calibrated from pilot data (real feature rows, a
//! fitted truth, redrawn noise).
//!
//! # Model
//! A plasmode simulation keeps what is real about a data set and plants a
//! known truth in it (Franklin et al. 2014). `meta-router scenarios
//! calibrate` ([`calibrate`]) fits a meta-learner router on
//! a pilot's GS and PB tables and writes a *plasmode file*
//! ([`PlasmodeFile`]); this scenario reads it:
//!
//! - **queries** are the pilot's feature rows (GS and PB rows pooled), so
//!   the feature law is the pilot's empirical law: each replicate splits the
//!   rows at random, the first `n_test` test queries; the training rows are
//!   the next `n_gold + n_pref` rows when there are that many (a random split
//!   of the pilot, no row twice), else drawn with replacement from the
//!   non-test rows (a training row then may repeat, a test query never
//!   appears among the training rows);
//! - **truth**: the fitted router's `ψ̂` and its PB-label mean
//!   `η̂ = c·ψ̂ − Δ̂`, each passed through an affine recalibration
//!   ([`Recalibration`]): `ψ(s) = a_ψ(ψ̂(s))`, `η(s) = a_η(η̂(s))`,
//!   `Δ = ψ − η`. `calibrate` estimates each map from out-of-fold fits of
//!   the whole router: its slope is the calibration slope of the labels on
//!   the out-of-fold predictions (GS labels on ψ̂, PB labels on η̂), its
//!   centre the labels' mean, so the planted heterogeneity is what the
//!   pilot shows out of fold (an overfit ψ̂ is shrunk, an over-smoothed one
//!   stretched); the identity plants the fit as it is;
//! - **GS labels** `r = ψ(s) + ε`, **PB labels** `y = η(s) + ε'`, the noises
//!   drawn from the pilot's out-of-fold residuals (the labels minus the
//!   recalibrated out-of-fold predictions, each set centred):
//!   `noise = "gaussian"` draws `N(0, σ²)` with σ their standard deviation,
//!   `noise = "empirical"` resamples them. When every pilot PB label is a
//!   vote in `{+1, 0, −1}`, PB labels are votes as in `binary-preference`:
//!   `P(0) = π_tie` (the pilot's tie share), `P(±1) = (1 − π_tie ± η)/2`,
//!   with η clamped to `±(1 − π_tie)` (the truth is the clamped η, so
//!   `E[y | s] = η(s)`);
//! - **split**: each replicate draws `n_test` test queries, `n_gold` GS rows
//!   and `n_pref` PB rows independently from the same law, so the
//!   propensity is the constant `κ = n_gold / (n_gold + n_pref)`: the plan
//!   "collect GS labels for a random sample of queries". Defaults: the
//!   pilot's GS count and its PB count less `n_test` (a replicate is then a
//!   random split of the pilot); `pool` instead of `n_pref` fixes the queries
//!   per replicate as `healthbench-like` does (`n_pref = pool − n_test − n_gold`).
//!   A relative `file` is read from the working folder.
//!
//! **Population constants (exact).** The population is the pilot's rows with
//! equal weight and `t` is independent of `s`, so `E ψ = E[ψ | t = 0]` is the
//! mean of `ψ` over the pilot rows, and likewise for Δ; `accuracy = 0`.
//!
//! What the truth is and is not: `ψ` and `Δ` are one fit's estimates,
//! recalibrated, so the scenario answers "how would the methods do if the
//! truth looked like what the pilot shows" — not the pilot's own truth. A
//! truth fitted with the same learner family as the methods a plan compares
//! lies in their model class, which flatters them at large budgets; the
//! out-of-fold residuals include the router's estimation error, so the
//! noise is if anything too large. The `docs/planning.md` page lists the
//! assumptions and a validation against a known truth.
//!
//! # Algorithm
//! [`Scenario::draw`] uses its stream in this order: a Fisher–Yates
//! permutation of the pilot rows (its first `n_test` entries are the test
//! queries, the next `n_gold + n_pref` the training rows, GS first, when
//! there are that many), else `n_gold + n_pref` uniform draws among the
//! permutation's non-test entries; then for every test, GS and PB row in
//! that order a GS noise (a standard normal or a uniform residual index),
//! then for every such row a PB noise (likewise, or a uniform `u` for a
//! vote: `+1` if `u < P(+1)`, else `0` if `u < P(+1) + π_tie`, else `−1`).
//! Truths are looked up per pilot row (computed once when the file is read).
//!
//! The file is read once per process and path (a cache keyed by the path
//! and the file's SHA-256); the spec names the file's SHA-256 (`sha256`),
//! which must match, so a study's spec hash pins the scenario's contents.
//!
//! # References
//! Franklin, Schneeweiss, Polinski, Rassen (2014), *Plasmode simulation for
//! the evaluation of pharmacoepidemiologic methods in complex healthcare
//! databases*, Computational Statistics & Data Analysis 72, 219–226.

pub mod calibrate;
pub mod pilot_check;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::{PopulationConstants, Scenario, ScenarioSizes, SimulatedData};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::meta::FittedRouter;
use meta_router_core::router_file;

pub(crate) const DESCRIPTION: &str =
    "calibrated from pilot data (`scenarios calibrate`): the pilot's feature rows, its fitted ψ̂ and Δ̂ as the truth, its residuals as noise";

/// Key and meaning of every parameter.
pub(crate) const PARAMETER_DOCS: &[(&str, &str)] = &[
    (
        "file",
        "the plasmode file written by `meta-router scenarios calibrate` (path from the working folder)",
    ),
    ("sha256", "the file's SHA-256 (printed by calibrate); must match"),
    ("n_gold", "GS rows per replicate (>= 2; default: the pilot's)"),
    (
        "n_pref",
        "PB rows per replicate (>= 2; default: the pilot's less n_test, so a replicate is a split of the pilot; excludes `pool`)",
    ),
    (
        "pool",
        "queries per replicate split into test / GS / PB: n_pref = pool − n_test − n_gold (excludes `n_pref`)",
    ),
    (
        "n_test",
        "test queries per replicate (>= 1; default: 500 or a fifth of the pilot rows, the smaller)",
    ),
    (
        "noise",
        "`gaussian` (N(0, σ²) with the residuals' sd) or `empirical` (resampled residuals)",
    ),
];

/// The format tag of a plasmode file.
pub const PLASMODE_FORMAT: &str = "meta-router/plasmode";
/// The version of the plasmode format this build writes and reads.
pub const PLASMODE_FORMAT_VERSION: u32 = 1;
/// Memory per byte of a plasmode file while it is read (its text, the JSON
/// values, the router's models and the feature matrix).
pub const PLASMODE_PARSE_FACTOR: f64 = 8.0;

/// How noise is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    /// `N(0, σ²)` with σ the residuals' standard deviation.
    #[default]
    Gaussian,
    /// Resampled (centred) residuals.
    Empirical,
}

/// Parameters of the `plasmode` scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlasmodeParams {
    /// The plasmode file.
    pub file: String,
    /// Its SHA-256 (lower-case hex).
    pub sha256: String,
    /// GS rows per replicate (`None`: the pilot's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_gold: Option<usize>,
    /// PB rows per replicate (`None`: the pilot's less `n_test`, or from `pool`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_pref: Option<usize>,
    /// Queries per replicate (test, GS and PB together), as in
    /// `healthbench-like`: `n_pref = pool − n_test − n_gold`. Excludes `n_pref`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<usize>,
    /// Test queries per replicate (`None`: 500 or a fifth of the pilot's
    /// rows, whichever is smaller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_test: Option<usize>,
    /// How noise is drawn.
    pub noise: NoiseKind,
}

impl Default for PlasmodeParams {
    fn default() -> Self {
        Self {
            file: String::new(),
            sha256: String::new(),
            n_gold: None,
            n_pref: None,
            pool: None,
            n_test: None,
            noise: NoiseKind::Gaussian,
        }
    }
}

/// What the pilot was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilotSummary {
    /// GS file name.
    pub gold_file: String,
    /// PB file name.
    pub pref_file: String,
    /// GS rows.
    pub n_gold: usize,
    /// PB rows.
    pub n_pref: usize,
    /// The fit's master seed.
    pub seed: u64,
}

/// The noise of the two label kinds, from the pilot's out-of-fold residuals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseModel {
    /// Centred out-of-fold GS residuals `r − μ̂₁(s)` (GS units).
    pub gold_residuals: Vec<f64>,
    /// Centred out-of-fold PB residuals `y − μ̂₀(s)`.
    pub pref_residuals: Vec<f64>,
    /// Their standard deviations (divisor `n − 1`).
    pub gold_sd: f64,
    /// See `gold_sd`.
    pub pref_sd: f64,
    /// `Some(π_tie)` when every pilot PB label is a vote in `{+1, 0, −1}`:
    /// PB labels are drawn as votes with this tie share.
    pub pref_tie_share: Option<f64>,
}

/// An affine map `x ↦ to + slope·(x − from)`: the calibration of a fitted
/// function against labels (its slope on out-of-fold predictions, its
/// centre at the labels' mean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Affine {
    /// The fitted function's mean over the pilot rows it is calibrated on.
    pub from: f64,
    /// The labels' mean there.
    pub to: f64,
    /// The map's scale (0 … its cap; 1 and `from = to` for none): the
    /// calibration slope under [`RecalibrationRule::Slope`].
    pub slope: f64,
    /// The calibration slope's standard error before any cap (0 when not
    /// estimated).
    pub slope_se: f64,
    /// The least-squares calibration slope of the labels on the
    /// out-of-fold predictions, when the map's `slope` is another
    /// ([`RecalibrationRule::Variance`]); absent: it is `slope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration_slope: Option<f64>,
}

impl Affine {
    /// The identity (no recalibration).
    pub const IDENTITY: Affine = Affine {
        from: 0.0,
        to: 0.0,
        slope: 1.0,
        slope_se: 0.0,
        calibration_slope: None,
    };

    /// `to + slope·(x − from)`.
    pub fn apply(&self, x: f64) -> f64 {
        self.to + self.slope * (x - self.from)
    }

    /// The least-squares calibration slope (a diagnostic of the fit).
    pub fn calibration_slope(&self) -> f64 {
        self.calibration_slope.unwrap_or(self.slope)
    }
}

/// How the recalibration scales a fitted function about its mean.
///
/// In files and on the command line: `"slope"` or `"variance"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecalibrationRule {
    /// The least-squares slope `b = Cov(r, f̂)/Var(f̂)` of the labels `r` on
    /// the out-of-fold predictions `f̂` (the classic calibration slope): the
    /// best predictor of the labels from `f̂`, so its spread is shrunk by the
    /// out-of-fold fits' estimation noise. The rule of a file without a
    /// `rule` field (files written before the rules existed); the command
    /// line's default is [`RecalibrationRule::Variance`].
    #[default]
    Slope,
    /// The scale `√(Cov(r, f̂)/Var(f))` (`f` the full fit) that gives the
    /// planted function the variance `Cov(r, f̂)` over the rows it is
    /// calibrated on. If `g` is the projection of the truth on what the
    /// learner can represent (so the rest is uncorrelated with `g`) and
    /// `f̂ = g + e` with the estimation error `e` uncorrelated with the truth
    /// and the held-out noise, then `Cov(r, f̂) = Var(g)`: the planted truth
    /// has the learnable heterogeneity the pilot shows rather than a shrunk
    /// one. A shrinking learner (`f̂ ≈ λg + e`, `λ < 1`) makes it `λ·Var(g)`,
    /// an underestimate. Only the variance is matched: the planted shape is
    /// still the full fit's, with its own estimation noise.
    Variance,
}

fn is_slope(rule: &RecalibrationRule) -> bool {
    *rule == RecalibrationRule::Slope
}

/// How the fitted router's ψ̂ and η̂ become the planted truth: each
/// recalibrated against the pilot's labels on out-of-fold predictions
/// (`calibrate`'s default), or taken as fitted ([`Affine::IDENTITY`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recalibration {
    /// ψ̂ against the GS labels.
    pub psi: Affine,
    /// η̂ against the PB labels.
    pub eta: Affine,
    /// Folds of the out-of-fold fits (0: not recalibrated).
    pub folds: usize,
    /// How the maps' slopes were chosen (`slope` when absent).
    #[serde(default, skip_serializing_if = "is_slope")]
    pub rule: RecalibrationRule,
}

/// Summary numbers of the planted truth over the pilot rows (for people
/// reading the file; the scenario recomputes the truth from the router).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSummary {
    /// Mean of ψ.
    pub mean_psi: f64,
    /// Standard deviation of ψ.
    pub sd_psi: f64,
    /// Mean of Δ.
    pub mean_delta: f64,
    /// Standard deviation of Δ.
    pub sd_delta: f64,
    /// Share of pilot rows with ψ > 0.
    pub share_psi_positive: f64,
}

/// A plasmode file: the pilot's feature rows, the fitted router whose ψ̂ and
/// Δ̂ are the planted truth, and the noise model (JSON; `format =
/// "meta-router/plasmode"`, `format_version = 1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlasmodeFile {
    /// [`PLASMODE_FORMAT`].
    pub format: String,
    /// [`PLASMODE_FORMAT_VERSION`].
    pub format_version: u32,
    /// The meta-router version that wrote it.
    pub crate_version: String,
    /// The pilot.
    pub pilot: PilotSummary,
    /// Feature column names.
    pub features: Vec<String>,
    /// The pilot's feature rows, GS rows first.
    pub rows: Vec<Vec<f64>>,
    /// Noise.
    pub noise: NoiseModel,
    /// How the router's ψ̂ and η̂ become the truth.
    pub recalibration: Recalibration,
    /// The truth over the pilot rows.
    pub truth: TruthSummary,
    /// The fitted router (a router file, `meta-router/router`).
    pub router: serde_json::Value,
}

impl PlasmodeFile {
    /// The file as JSON text (numbers in shortest round-trip form).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::param("plasmode", "file", e.to_string()))
    }
}

/// The planted truth at every pilot row.
#[derive(Debug, Clone)]
pub(crate) struct Truth {
    /// ψ at every row.
    pub psi: Array1<f64>,
    /// Δ at every row.
    pub delta: Array1<f64>,
}

impl Truth {
    /// `ψ = a_ψ(ψ̂)`, `η = a_η(c·ψ̂ − Δ̂)` (each recalibrated by its affine map;
    /// η clamped to the vote range when PB labels are votes) and `Δ = ψ − η`.
    pub(crate) fn of(
        router: &FittedRouter,
        x: ArrayView2<f64>,
        recalibration: &Recalibration,
        tie_share: Option<f64>,
    ) -> Self {
        let psi_hat = router.predict_psi(x);
        let delta_hat = router
            .predict_delta(x)
            .unwrap_or_else(|| Array1::zeros(x.nrows()));
        let c = router.scale();
        let psi = psi_hat.mapv(|p| recalibration.psi.apply(p));
        let eta = ndarray::Zip::from(&psi_hat)
            .and(&delta_hat)
            .map_collect(|&p, &d| clamp_eta(recalibration.eta.apply(c * p - d), tie_share));
        let delta = &psi - &eta;
        Self { psi, delta }
    }

    /// Means, standard deviations and the share of rows with ψ > 0.
    pub(crate) fn summary(&self) -> TruthSummary {
        let n = self.psi.len() as f64;
        let mean = |v: &Array1<f64>| v.sum() / n;
        let sd = |v: &Array1<f64>| sample_sd(&v.to_vec());
        TruthSummary {
            mean_psi: mean(&self.psi),
            sd_psi: sd(&self.psi),
            mean_delta: mean(&self.delta),
            sd_delta: sd(&self.delta),
            share_psi_positive: self.psi.iter().filter(|&&p| p > 0.0).count() as f64 / n,
        }
    }
}

/// The standard deviation of `values` (divisor `n − 1`, or 1 for a single value).
pub fn sample_sd(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (ss / (n - 1.0).max(1.0)).sqrt()
}

/// η clamped to `±(1 − π_tie)` for votes (so that vote probabilities exist).
fn clamp_eta(eta: f64, tie_share: Option<f64>) -> f64 {
    match tie_share {
        Some(tie) => eta.clamp(-(1.0 - tie), 1.0 - tie),
        None => eta,
    }
}

/// A plasmode file read and checked, with its truth at every row.
#[derive(Debug)]
pub struct LoadedPlasmode {
    /// The file.
    pub file: PlasmodeFile,
    router: FittedRouter,
    x: Array2<f64>,
    truth: Truth,
}

impl LoadedPlasmode {
    /// Parses and checks a plasmode file's text (`name` names it in errors).
    pub fn parse(text: &str, name: &str) -> Result<Self> {
        let bad = |message: String| Error::input(name.to_string(), None, None, message);
        let file: PlasmodeFile = serde_json::from_str(text).map_err(|e| {
            Error::input(
                name.to_string(),
                (e.line() > 0).then_some(e.line() as u64),
                None,
                format!("not a valid plasmode file: {e}"),
            )
        })?;
        if file.format != PLASMODE_FORMAT {
            return Err(bad(format!(
                "format `{}` is not `{PLASMODE_FORMAT}` (write one with `meta-router scenarios calibrate`)",
                crate::error::excerpt(&file.format)
            )));
        }
        if file.format_version != PLASMODE_FORMAT_VERSION {
            return Err(bad(format!(
                "format_version {} is not supported (this build reads {PLASMODE_FORMAT_VERSION})",
                file.format_version
            )));
        }
        let d = file.features.len();
        if file.pilot.n_gold.checked_add(file.pilot.n_pref) != Some(file.rows.len())
            || file.pilot.n_gold < 2
            || file.pilot.n_pref < 2
        {
            return Err(bad(format!(
                "`pilot.n_gold` = {} and `pilot.n_pref` = {} must be at least 2 each and add up \
                 to the {} rows of `rows`",
                file.pilot.n_gold,
                file.pilot.n_pref,
                file.rows.len()
            )));
        }
        if d == 0 {
            return Err(bad("`features` is empty".into()));
        }
        if file.rows.len() < 2 {
            return Err(bad(format!(
                "`rows` holds {} feature rows; at least 2 are needed",
                file.rows.len()
            )));
        }
        for (i, row) in file.rows.iter().enumerate() {
            if row.len() != d {
                return Err(bad(format!(
                    "`rows[{i}]` has {} values for {d} features",
                    row.len()
                )));
            }
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(bad(format!("`rows[{i}][{j}]` is not a finite number")));
            }
        }
        let noise = &file.noise;
        for (key, residuals, sd) in [
            ("gold", &noise.gold_residuals, noise.gold_sd),
            ("pref", &noise.pref_residuals, noise.pref_sd),
        ] {
            if residuals.len() < 2 || residuals.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "`noise.{key}_residuals` must hold at least 2 finite numbers"
                )));
            }
            if !(sd.is_finite() && sd >= 0.0) {
                return Err(bad(format!("`noise.{key}_sd` must be finite and >= 0")));
            }
        }
        if let Some(tie) = noise.pref_tie_share {
            if !(0.0..1.0).contains(&tie) {
                return Err(bad(format!(
                    "`noise.pref_tie_share` {tie} must lie in [0, 1)"
                )));
            }
        }
        let router_text = file.router.to_string();
        let (router_file, router) = router_file::parse(&router_text, &format!("{name}: router"))?;
        if router_file.features != file.features {
            return Err(bad(
                "the router's feature columns differ from the file's `features`".into(),
            ));
        }
        let x = Array2::from_shape_fn((file.rows.len(), d), |(i, j)| file.rows[i][j]);
        for (key, affine) in [
            ("psi", &file.recalibration.psi),
            ("eta", &file.recalibration.eta),
        ] {
            let values = [affine.from, affine.to, affine.slope, affine.slope_se];
            if values.iter().any(|v| !v.is_finite()) || affine.slope < 0.0 {
                return Err(bad(format!(
                    "`recalibration.{key}` must hold finite numbers and a slope >= 0"
                )));
            }
        }
        let truth = Truth::of(&router, x.view(), &file.recalibration, noise.pref_tie_share);
        if let Some(k) =
            (0..x.nrows()).find(|&k| !(truth.psi[k].is_finite() && truth.delta[k].is_finite()))
        {
            return Err(bad(format!(
                "the router's ψ̂ or Δ̂ is not finite at `rows[{k}]`"
            )));
        }
        Ok(Self {
            file,
            router,
            x,
            truth,
        })
    }

    /// Reads and checks a plasmode file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = crate::files::read_text(path, PLASMODE_PARSE_FACTOR)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Pilot rows.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    /// The planted truth at the rows of `x`.
    pub(crate) fn truth_at(&self, x: ArrayView2<f64>) -> Truth {
        let file = &self.file;
        Truth::of(
            &self.router,
            x,
            &file.recalibration,
            file.noise.pref_tie_share,
        )
    }
}

/// Loaded files by path and SHA-256.
type Cache = Mutex<HashMap<(PathBuf, String), Arc<LoadedPlasmode>>>;

/// The loaded files of this process.
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Reads `path` (or takes it from the cache) and checks its SHA-256 against
/// `sha256`; errors name the key `file` or `sha256`.
pub fn load_checked(path: &str, sha256: &str) -> Result<Arc<LoadedPlasmode>> {
    if path.is_empty() {
        return Err(Error::param(
            "file",
            "\"\"",
            "name a plasmode file (write one with `meta-router scenarios calibrate`)",
        ));
    }
    let key = (PathBuf::from(path), sha256.to_ascii_lowercase());
    if let Some(found) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(found));
    }
    let bytes = crate::files::read_bounded(Path::new(path), PLASMODE_PARSE_FACTOR)
        .map_err(|e| Error::param("file", path, e.to_string()))?;
    let actual = crate::files::sha256_hex(&bytes);
    if actual != key.1 {
        return Err(Error::param(
            "sha256",
            if sha256.is_empty() { "\"\"" } else { sha256 },
            format!("the file {path} has SHA-256 {actual}; set `sha256 = \"{actual}\"` if this is the intended file"),
        ));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| Error::param("file", path, "not UTF-8 text"))?;
    let loaded = Arc::new(LoadedPlasmode::parse(&text, path)?);
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, Arc::clone(&loaded));
    Ok(loaded)
}

/// The default number of test queries for a pilot of `rows` feature rows:
/// 500, or a fifth of the rows when that is smaller (at least 1).
pub fn default_test_queries(rows: usize) -> usize {
    (rows / 5).clamp(1, 500)
}

/// The default number of PB rows per replicate: the pilot's PB rows less the
/// test queries (so that a replicate is one random split of the pilot), or
/// all of them when fewer than 2 would be left.
pub fn default_pref_rows(pilot_pref: usize, n_test: usize) -> usize {
    match pilot_pref.checked_sub(n_test) {
        Some(rest) if rest >= 2 => rest,
        _ => pilot_pref,
    }
}

/// The `plasmode` scenario.
#[derive(Debug, Clone)]
pub struct Plasmode {
    params: PlasmodeParams,
    data: Arc<LoadedPlasmode>,
    n_gold: usize,
    n_pref: usize,
    n_test: usize,
}

impl Plasmode {
    /// Reads the file and checks the parameters.
    pub fn new(params: PlasmodeParams) -> Result<Self> {
        let data = load_checked(&params.file, &params.sha256)?;
        Self::with_data(params, data)
    }

    /// The scenario on an already loaded file.
    pub fn with_data(params: PlasmodeParams, data: Arc<LoadedPlasmode>) -> Result<Self> {
        let n_test = params
            .n_test
            .unwrap_or_else(|| default_test_queries(data.rows()));
        let n_gold = params.n_gold.unwrap_or(data.file.pilot.n_gold);
        let n_pref = match (params.n_pref, params.pool) {
            (Some(_), Some(pool)) => {
                return Err(Error::param(
                    "pool",
                    pool,
                    "set `n_pref` or `pool`, not both",
                ))
            }
            (Some(n_pref), None) => n_pref,
            (None, Some(pool)) => {
                super::check_pool_sizes(n_gold, pool, n_test)?;
                pool - n_test - n_gold
            }
            (None, None) => default_pref_rows(data.file.pilot.n_pref, n_test),
        };
        super::check_count("n_gold", n_gold, 2, "cross-fitting needs two GS rows")?;
        super::check_count("n_pref", n_pref, 2, "cross-fitting needs two PB rows")?;
        super::check_count("n_test", n_test, 1, "routing is evaluated on test queries")?;
        let rows = data.rows();
        if n_test + 2 > rows {
            return Err(Error::param(
                "n_test",
                n_test,
                format!("the pilot has {rows} feature rows; test queries are drawn without replacement and must leave at least 2 for training"),
            ));
        }
        const MOST_ROWS: usize = 100_000_000;
        let total = n_gold.saturating_add(n_pref).saturating_add(n_test);
        if total > MOST_ROWS {
            return Err(Error::param(
                "n_pref",
                n_pref,
                format!(
                    "n_gold + n_pref + n_test = {total} exceeds {MOST_ROWS} rows per replicate"
                ),
            ));
        }
        Ok(Self {
            params,
            data,
            n_gold,
            n_pref,
            n_test,
        })
    }

    /// `κ = n_gold / (n_gold + n_pref)`.
    pub fn kappa(&self) -> f64 {
        self.n_gold as f64 / (self.n_gold + self.n_pref) as f64
    }

    /// The loaded file.
    pub fn data(&self) -> &LoadedPlasmode {
        &self.data
    }

    /// One noise draw from `residuals` (empirical) or `N(0, sd²)`.
    fn noise(&self, rng: &mut ChaCha8Rng, residuals: &[f64], sd: f64) -> f64 {
        match self.params.noise {
            NoiseKind::Gaussian => {
                sd * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng)
            }
            NoiseKind::Empirical => residuals[rng.random_range(0..residuals.len())],
        }
    }
}

impl Scenario for Plasmode {
    fn name(&self) -> &'static str {
        "plasmode"
    }

    fn dim(&self) -> usize {
        self.data.x.ncols()
    }

    fn psi(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.data.truth_at(x).psi
    }

    fn delta(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.data.truth_at(x).delta
    }

    fn propensity(&self, x: ArrayView2<f64>) -> Array1<f64> {
        Array1::from_elem(x.nrows(), self.kappa())
    }

    fn sizes(&self) -> ScenarioSizes {
        ScenarioSizes {
            dim: self.dim(),
            n_gold: self.n_gold as f64,
            n_pref: self.n_pref as f64,
            n_test: self.n_test,
            random_counts: false,
        }
    }

    fn draw(&self, rng: &mut ChaCha8Rng) -> Result<SimulatedData> {
        let data = &self.data;
        let pool = data.rows();
        let (t, n) = (self.n_test, self.n_gold);
        let total = t + n + self.n_pref;
        let order = super::permutation(rng, pool);
        let index: Vec<usize> = if total <= pool {
            order[..total].to_vec()
        } else {
            let rest = &order[t..];
            order[..t]
                .iter()
                .copied()
                .chain((t..total).map(|_| rest[rng.random_range(0..rest.len())]))
                .collect()
        };
        let noise = &data.file.noise;
        let gold_noise: Vec<f64> = (0..total)
            .map(|_| self.noise(rng, &noise.gold_residuals, noise.gold_sd))
            .collect();
        let pref_label: Vec<f64> = match noise.pref_tie_share {
            None => (0..total)
                .map(|k| {
                    let row = index[k];
                    let eta = data.truth.psi[row] - data.truth.delta[row];
                    eta + self.noise(rng, &noise.pref_residuals, noise.pref_sd)
                })
                .collect(),
            Some(tie) => (0..total)
                .map(|k| {
                    let row = index[k];
                    let eta = data.truth.psi[row] - data.truth.delta[row];
                    let u: f64 = rng.random();
                    let win = (1.0 - tie + eta) / 2.0;
                    if u < win {
                        1.0
                    } else if u < win + tie {
                        0.0
                    } else {
                        -1.0
                    }
                })
                .collect(),
        };
        let gold_label: Vec<f64> = (0..total)
            .map(|k| data.truth.psi[index[k]] + gold_noise[k])
            .collect();
        let rows = |range: std::ops::Range<usize>| data.x.select(Axis(0), &index[range]);
        let pick = |v: &[f64], range: std::ops::Range<usize>| -> Array1<f64> {
            v[range].iter().copied().collect()
        };
        let truth = |v: &Array1<f64>, range: std::ops::Range<usize>| -> Array1<f64> {
            index[range].iter().map(|&row| v[row]).collect()
        };
        let (test, gold, pref) = (0..t, t..t + n, t + n..total);
        let train = TrainingData::new(
            rows(gold.clone()),
            pick(&gold_label, gold.clone()),
            rows(pref.clone()),
            pick(&pref_label, pref.clone()),
        )?;
        Ok(SimulatedData {
            all_gold_y: pick(&gold_label, t..total),
            train_propensity: Array1::from_elem(n + self.n_pref, self.kappa()),
            train_psi: truth(&data.truth.psi, t..total),
            train_delta: truth(&data.truth.delta, t..total),
            test_x: rows(test.clone()),
            test_psi: truth(&data.truth.psi, test.clone()),
            test_delta: truth(&data.truth.delta, test.clone()),
            test_gold_y: pick(&gold_label, test),
            train,
        })
    }

    fn constants(&self) -> PopulationConstants {
        let n = self.data.rows() as f64;
        let mean_psi = self.data.truth.psi.sum() / n;
        let mean_delta = self.data.truth.delta.sum() / n;
        PopulationConstants {
            mean_psi,
            mean_delta_pref: mean_delta,
            mean_psi_pref: mean_psi,
            mean_delta,
            accuracy: 0.0,
        }
    }
}
