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
pub mod model_file;
pub mod multi;
pub mod table;

use std::path::Path;

use ndarray::Array1;

use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::inference::{
    intercept_and_columns, mean_target, projection_within, Nuisances, Population, Quantity,
    Sandwich,
};
use crate::meta::overlap::{FittedRegion, OverlapRegion, OverlapRule};
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig, PropensityMode};
use crate::routing;

pub use model_file::{RouterFile, TrainingSummary, FORMAT, FORMAT_VERSION};
pub use table::{read_table, ColumnRoles, FeatureSelection, LabelColumn, LabelKind, Table};

/// Confidence level of the intervals stored in a router file.
pub(crate) const INFERENCE_LEVEL: f64 = 0.95;

/// Largest number of leading features the stored best linear projection of
/// Δ uses (with an intercept).
pub(crate) const PROJECTION_COLUMNS: usize = 3;

/// Tag of the inference overlap region's propensity seed (derived from the
/// fit's learner seed, apart from every stream of the fit itself).
const INFERENCE_REGION_SEED: u64 = 0x006f_7665_726c_6170;

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
    let mut notes = Vec::new();
    let inference = match inference_of(
        config,
        &router,
        &data,
        &gold.feature_names,
        (overlap, seeds.learner),
        &mut notes,
    ) {
        Ok(inference) => inference,
        Err(e) => {
            notes.push(format!("no inference stored: {e}"));
            None
        }
    };
    notes.extend(fit_warnings(config, &router, &data, &gold.feature_names)?);
    if let Some(jitter) = inference.as_ref().and_then(|i| i.projection_jitter) {
        notes.push(format!(
            "the projection's design was near-singular (jitter {jitter:e}): a constant or \
             collinear leading feature; its coefficients are not meaningful"
        ));
    }
    let mut file = RouterFile::new(
        gold.feature_names.clone(),
        config.clone(),
        seed,
        TrainingSummary::of(&data, &file_name(&gold.file), &file_name(&pref.file)),
        &router,
    );
    file.inference = inference;
    file.notes = notes;
    Ok((file, router))
}

/// Warnings about a fit: a bias stage dominated by clipped or extreme
/// propensity weights; a constant propensity although the GS and PB
/// features differ beyond chance ([`imbalanced_features`]).
fn fit_warnings(
    config: &MetaRouterConfig,
    router: &FittedRouter,
    data: &TrainingData,
    names: &[String],
) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    if let Some(stage) = router.diagnostics().bias_stage.as_ref() {
        if stage.dominated && !stage.constant_propensity {
            notes.push(format!(
                "the bias stage is dominated by extreme or clipped propensity weights ({:.0}% of \
                 rows clipped, carrying {:.0}% of the weight; effective size {:.0} of {} rows): \
                 Δ̂ rests on few rows; consider a smoother propensity model, `trim`, or a larger \
                 `clip`",
                100.0 * stage.clipped_fraction,
                100.0 * stage.clipped_weight_share,
                stage.effective_rows,
                stage.rows
            ));
        }
    }
    if config.method.is_meta() && config.propensity == PropensityMode::Constant {
        let differences = standardized_differences(data);
        let flagged = imbalanced_features(&differences, data.n_gold(), data.n_pref())?;
        if !flagged.is_empty() {
            let shown: Vec<String> = flagged
                .iter()
                .take(5)
                .map(|&j| format!("{} ({:+.2})", names[j], differences[j]))
                .collect();
            notes.push(format!(
                "propensity = \"constant\" assumes the GS and PB queries are one pool split at \
                 random, but {} of {} features differ between them by more than \
                 {BALANCE_WARNING} standardized units and more than sampling noise explains: \
                 {}{}; set propensity = \"model\" in the config",
                flagged.len(),
                differences.len(),
                shown.join(", "),
                if flagged.len() > 5 { ", …" } else { "" }
            ));
        }
    }
    Ok(notes)
}

/// AIPW means and the best linear projection of Δ for a DR-learner router
/// fit without scale normalization; `None` for other routers.
///
/// The targets are averaged over the overlap region of `overlap.0` (fit with
/// the learner seed `overlap.1`); with a logistic propensity the standard
/// errors include the estimation of the propensity.
fn inference_of(
    config: &MetaRouterConfig,
    router: &FittedRouter,
    data: &TrainingData,
    names: &[String],
    (rule, learner_seed): (OverlapRule, u64),
    notes: &mut Vec<String>,
) -> Result<Option<model_file::SavedInference>> {
    if crate::inference::unsupported(router).is_some() {
        return Ok(None);
    }
    let mut nuisances = Nuisances::from_router(router)?;
    let region = OverlapRegion::fit(
        config,
        data,
        rule,
        crate::rng::derive_seed(learner_seed, &[INFERENCE_REGION_SEED]),
    )?;
    if !region.is_everything() {
        nuisances = nuisances.within(&region.inside)?;
    }
    nuisances = nuisances.bounded_inside(region.region.alpha);
    if rule == OverlapRule::None {
        notes.extend(weak_overlap_note(&region, data));
    }
    if let Some(design) = region.region.logistic_design(data.pooled_x().view()) {
        nuisances = nuisances.with_propensity_design(design)?;
    }
    let trimmed = !region.is_everything();
    let population = if trimmed {
        " in the overlap region"
    } else {
        ""
    };
    let means = saved_means(&nuisances, population)?;
    let columns = PROJECTION_COLUMNS.min(data.dim());
    let x = intercept_and_columns(data.pooled_x().view(), columns)?;
    let projection = projection_within(&nuisances, x.view())?;
    let jitter = projection.jitter;
    let estimates = projection.estimates(Sandwich::Hc1, INFERENCE_LEVEL)?;
    let projection = estimates
        .into_iter()
        .enumerate()
        .map(|(j, e)| {
            let target = if j == 0 {
                "Δ projection: intercept".to_string()
            } else {
                format!("Δ projection: {}", names[j - 1])
            };
            saved(target, e)
        })
        .collect();
    let all_finite = means
        .iter()
        .chain(&projection)
        .all(|e: &model_file::SavedEstimate| e.estimate.is_finite() && e.se.is_finite());
    if !all_finite {
        return Err(Error::param(
            "inference",
            "non-finite",
            "an estimate or standard error is not finite",
        ));
    }
    let facts = region.facts();
    Ok(Some(model_file::SavedInference {
        level: INFERENCE_LEVEL,
        means,
        projection,
        projection_jitter: (jitter > 0.0).then_some(jitter),
        overlap: Some(model_file::SavedOverlap {
            rule: rule.label(),
            alpha: region.region.alpha,
            gold_inside: facts[1].1,
            pref_inside: facts[2].1,
        }),
    }))
}

/// The note of an inference over every query (`--overlap none`) at weak
/// overlap: where the Crump rule would cut and how large the propensity
/// weights get; `None` when the Crump rule would keep every query.
fn weak_overlap_note(region: &FittedRegion, data: &TrainingData) -> Option<String> {
    let p = region.region.propensity(data.pooled_x().view());
    let alpha = crate::meta::overlap::crump_threshold(p.view(), None);
    if alpha > 0.0 {
        let outside = p.iter().filter(|&&v| v < alpha || v > 1.0 - alpha).count();
        return Some(format!(
            "inference over every query (--overlap none) at weak overlap: the Crump rule \
             would keep only p̂ ∈ [{alpha:.4}, {:.4}] ({outside} of {} rows outside), and \
             the untrimmed intervals rest on propensity weights up to {:.0}; they may \
             under-cover (the default, --overlap crump, reports the supported population)",
            1.0 - alpha,
            p.len(),
            p.iter()
                .map(|&v| 1.0 / (v * (1.0 - v)).max(1e-300))
                .fold(0.0, f64::max)
                .min(
                    1.0 / (crate::inference::INFERENCE_CLIP
                        * (1.0 - crate::inference::INFERENCE_CLIP))
                )
        ));
    }
    None
}

/// A stored estimate of `target`.
fn saved(target: String, e: crate::inference::Estimate) -> model_file::SavedEstimate {
    model_file::SavedEstimate {
        target,
        estimate: e.estimate,
        se: e.se,
        lower: e.lower,
        upper: e.upper,
    }
}

/// The AIPW means: the average PB bias and mean GS gain over the PB queries
/// and over the pooled queries (`population` names the overlap region when
/// the targets are trimmed to it).
fn saved_means(
    nuisances: &crate::inference::Nuisances,
    population: &str,
) -> Result<Vec<model_file::SavedEstimate>> {
    let mut means = Vec::new();
    for (name, quantity, target) in [
        (
            format!("average PB bias E[Δ | PB query{population}]"),
            Quantity::Bias,
            Population::Pref,
        ),
        (
            format!("mean GS gain E[ψ | PB query{population}]"),
            Quantity::Gain,
            Population::Pref,
        ),
        (
            format!("average bias E[Δ], pooled queries{population}"),
            Quantity::Bias,
            Population::Pooled,
        ),
        (
            format!("mean GS gain E[ψ], pooled queries{population}"),
            Quantity::Gain,
            Population::Pooled,
        ),
    ] {
        let e = mean_target(nuisances, quantity, target, None, INFERENCE_LEVEL)?;
        means.push(saved(name, e));
    }
    Ok(means)
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

/// Per-query output of `route`.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// `ψ̂(q)` in GS units.
    pub psi_hat: Array1<f64>,
    /// `Δ̂(q)` for meta-learner routers.
    pub delta_hat: Option<Array1<f64>>,
    /// `true`: send to the primary model (`ψ̂ > w·(C_p − C_a)`, or the
    /// fallback of [`OutsideRoute`] outside a truncated router's region).
    pub primary: Vec<bool>,
    /// For a truncated router: whether each query lies in its overlap region.
    pub in_overlap: Option<Vec<bool>>,
}

/// How a truncated router (`truncate`) routes queries outside its overlap
/// region, where `Δ̂` is extrapolated from the region and GS queries were
/// too rare to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutsideRoute {
    /// By `ψ̂` like every other query (the refit saw those queries' PB
    /// labels corrected by the extrapolated `Δ̂`).
    #[default]
    Router,
    /// Always to the primary model (the cautious choice when a wrong
    /// `alternative` costs more than the primary's price).
    Primary,
    /// Always to the alternative model.
    Alternative,
}

impl OutsideRoute {
    /// Parses `router`, `primary` or `alternative`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "router" => Ok(Self::Router),
            "primary" => Ok(Self::Primary),
            "alternative" => Ok(Self::Alternative),
            other => Err(format!(
                "`{}`: expected router, primary or alternative",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

impl Routed {
    /// Share of queries sent to the primary model.
    pub fn usage_ratio(&self) -> f64 {
        self.primary.iter().filter(|&&p| p).count() as f64 / self.primary.len().max(1) as f64
    }
}

/// Routes the rows of `queries` (whose features must be the router's, by
/// name) at cost weight `w` and costs `(C_p, C_a)` ([`routing::route`]).
pub fn route_table(
    router: &FittedRouter,
    queries: &Table,
    w: f64,
    costs: (f64, f64),
) -> Result<Routed> {
    let psi_hat = router.predict_psi(queries.x.view());
    let delta_hat = router.predict_delta(queries.x.view());
    let differences = routing::cost_differences(
        Array1::from_elem(queries.rows(), costs.0).view(),
        Array1::from_elem(queries.rows(), costs.1).view(),
    )?;
    let primary = routing::route(psi_hat.view(), differences.view(), w)?;
    Ok(Routed {
        psi_hat,
        delta_hat,
        primary,
        in_overlap: router
            .overlap()
            .map(|_| router.in_overlap(queries.x.view())),
    })
}

/// [`route_table`] with the decision for queries outside a truncated
/// router's overlap region set by `outside` (other routers ignore it).
pub fn route_table_outside(
    router: &FittedRouter,
    queries: &Table,
    w: f64,
    costs: (f64, f64),
    outside: OutsideRoute,
) -> Result<Routed> {
    let mut routed = route_table(router, queries, w, costs)?;
    if let Some(inside) = &routed.in_overlap {
        for (primary, &inside) in routed.primary.iter_mut().zip(inside) {
            if !inside {
                match outside {
                    OutsideRoute::Router => {}
                    OutsideRoute::Primary => *primary = true,
                    OutsideRoute::Alternative => *primary = false,
                }
            }
        }
    }
    Ok(routed)
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

/// Standardized mean difference of every feature between the GS and the PB
/// rows, `(x̄_GS − x̄_PB) / √((s²_GS + s²_PB)/2)` (0 for a constant
/// feature), in feature order. A constant propensity (`propensity =
/// "constant"`) assumes both come from one pool split at random; absolute
/// differences above [`BALANCE_WARNING`] say they do not.
pub(crate) fn standardized_differences(data: &TrainingData) -> Vec<f64> {
    let moments = |x: ndarray::ArrayView2<f64>| {
        let mean = x.mean_axis(ndarray::Axis(0)).expect("rows checked");
        // Both sources hold at least 2 rows (`training_data`).
        let var = x.var_axis(ndarray::Axis(0), 1.0);
        (mean, var)
    };
    let (mg, vg) = moments(data.gold_x());
    let (mp, vp) = moments(data.pref_x());
    (0..data.dim())
        .map(|j| {
            let pooled = ((vg[j] + vp[j]) / 2.0).sqrt();
            if pooled > 0.0 {
                (mg[j] - mp[j]) / pooled
            } else {
                0.0
            }
        })
        .collect()
}

/// Smallest |standardized difference| [`imbalanced_features`] flags (the
/// usual rule of thumb of the matching literature).
pub(crate) const BALANCE_WARNING: f64 = 0.1;

/// Family-wise error rate of the balance screen of [`imbalanced_features`].
pub(crate) const BALANCE_ALPHA: f64 = 0.01;

/// Features whose GS and PB queries differ beyond chance and beyond
/// [`BALANCE_WARNING`]: `|SMD_j| > 0.1` and `|SMD_j| / SE > z`, where
/// `SE = √(1/n + 1/m)` is the standardized difference's standard error
/// under a random split and `z = Φ⁻¹(1 − α/(2d))` (Bonferroni over the `d`
/// features, `α` = [`BALANCE_ALPHA`]). Under a random split the screen flags
/// any feature with probability at most about `α`; by `|SMD| > 0.1` alone,
/// 50 features and 100 GS rows would flag some feature most of the time.
pub(crate) fn imbalanced_features(
    differences: &[f64],
    n_gold: usize,
    n_pref: usize,
) -> Result<Vec<usize>> {
    let d = differences.len().max(1) as f64;
    let z = crate::inference::normal_quantile(1.0 - BALANCE_ALPHA / d)?;
    let se = (1.0 / n_gold as f64 + 1.0 / n_pref as f64).sqrt();
    Ok(differences
        .iter()
        .enumerate()
        .filter(|(_, s)| s.abs() > BALANCE_WARNING && s.abs() > z * se)
        .map(|(j, _)| j)
        .collect())
}
