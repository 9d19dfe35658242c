//! Can every method run on every grid point? Checked before anything runs.
//!
//! # Algorithm
//! For every grid point the scenario reports its sizes
//! ([`ScenarioSizes`](crate::dgp::ScenarioSizes)): dimension `d`, GS rows `n`,
//! PB rows `m`, test rows. For random splits (`t ~ Bernoulli(e(X))`) the row
//! counts are taken four binomial standard deviations below their
//! expectation. Then, for every method:
//! - cross-fitting needs `K ≤ n` and `K ≤ m` (every fold holds rows of both
//!   kinds), and the DR-learner's GS outcome model `μ̂₁` needs at least two GS
//!   rows outside each fold: `n (K − 1)/K ≥ 2`;
//! - every learner a stage uses must fit the stage's data: ridge `columns ≤ d`,
//!   forest `max_features ≤ d`, kernel ridge at most `max_rows` rows;
//! - the projection of an inference study needs `projection_columns ≤ d`.
//!
//! **Memory.** The peak memory of one unit is estimated from the sizes and the
//! learners (data and its fold copies, the truth sample, and the largest
//! single fit: design and Gram matrices for ridge, the `n × n` kernel for
//! kernel ridge, binned data and nodes for trees), each a few times its
//! matrix size. A spec whose unit exceeds the machine's memory
//! ([`memory_limit`]: `MemTotal` of `/proc/meminfo`, else 8 GiB) is refused
//! with the estimate, the limit and the dominant term; a run checks the
//! estimate times its thread count again. Caps that no real study reaches
//! ([`MAX_UNITS`], [`MAX_THREADS`], `MAX_GRID_POINTS`, `MAX_METHODS`) stop absurd values
//! before any allocation.

use crate::dgp::ScenarioSizes;
use crate::error::Result;
use crate::learners::LearnerConfig;
use crate::meta::{size, MetaRouterConfig, Method};
use meta_router_core::Error as CoreError;

use super::locate::Source;
use super::{InferenceTarget, MethodKind, StudySpec};

/// Most (grid point × replicate) units a study may have.
pub const MAX_UNITS: usize = 10_000_000;
/// Most worker threads a run may ask for.
pub const MAX_THREADS: usize = 1024;
/// Most grid points a study may have.
pub(crate) const MAX_GRID_POINTS: usize = 100_000;
/// Most methods a study may have once its sweeps are expanded.
pub(crate) const MAX_METHODS: usize = 1_000;

/// Estimated peak memory of one unit of a study.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Bytes.
    pub bytes: f64,
    /// The dominant term, e.g. `a kernel-ridge fit on 40000 rows`.
    pub dominant: String,
    /// Its key path in the spec.
    pub key: String,
}

pub use crate::limits::memory_limit;
use crate::limits::render_bytes;

/// Refuses a spec that cannot run (see the module docs).
pub(crate) fn check_feasible(spec: &StudySpec, source: &Source) -> Result<()> {
    let units = spec.points.len() as f64 * spec.replicates as f64;
    if units > MAX_UNITS as f64 {
        return Err(source.error(
            "replicates",
            format!(
                "{} grid point(s) × {} replicates = {units:e} units; at most {MAX_UNITS} are supported",
                spec.points.len(),
                spec.replicates
            ),
        ).into());
    }
    for point in &spec.points {
        let sizes = point.scenario.build()?.sizes();
        let at = super::describe_point(&point.values);
        let inference = &spec.evaluation.inference;
        if inference.contains(&InferenceTarget::Projection)
            && spec.evaluation.projection_columns > sizes.dim
        {
            return Err(source
                .error(
                    "evaluation.projection_columns",
                    format!(
                        "projection_columns = {} exceeds the scenario's d = {}{at}",
                        spec.evaluation.projection_columns, sizes.dim
                    ),
                )
                .into());
        }
        for method in &spec.methods {
            let prefix = format!("methods[{}]", method.entry);
            match &method.kind {
                MethodKind::Estimator(config) => {
                    check_estimator(config, &sizes, &prefix, &at, source)?
                }
                MethodKind::AllGold(learner) => check_learner(
                    learner,
                    &sizes,
                    sizes.n_total(),
                    &format!("{prefix}.learner"),
                    &at,
                    source,
                )?,
                MethodKind::Oracle | MethodKind::Random => {}
            }
        }
    }
    check_records_memory(spec, source)?;
    let estimate = estimate_peak_memory(spec);
    let limit = memory_limit();
    if crate::limits::exceeds(estimate.bytes, limit) {
        return Err(source
            .error(
                &estimate.key,
                format!(
                "one replicate needs an estimated {} of memory, more than the limit of {} (the \
                 memory available to this process, or --max-memory); the largest part: {}",
                render_bytes(estimate.bytes),
                render_bytes(limit),
                estimate.dominant
            ),
            )
            .into());
    }
    for point in &spec.points {
        let sizes = point.scenario.build()?.sizes();
        let at = super::describe_point(&point.values);
        for method in &spec.methods {
            check_work(
                &method.kind,
                &sizes,
                &format!("methods[{}]", method.entry),
                &at,
                source,
            )?;
        }
    }
    Ok(())
}

/// Estimated bytes of a study's records while they are summarized (every
/// record is held in memory, with its line of `replicates.jsonl`): per
/// record its curves over the ρ and w grids and its diagnostics.
pub(crate) fn records_bytes(spec: &StudySpec) -> f64 {
    let units = spec.points.len() as f64 * spec.replicates as f64;
    let per_record = 2.0
        * (48.0 * spec.evaluation.rho.len() as f64
            + 16.0 * spec.evaluation.w.len() as f64
            + 2048.0);
    units * spec.methods.len() as f64 * per_record
}

/// Refuses a study whose records would not fit in memory when summarized.
pub(crate) fn check_records_memory(spec: &StudySpec, source: &Source) -> Result<()> {
    let bytes = records_bytes(spec);
    let limit = memory_limit();
    if crate::limits::exceeds(bytes, limit) {
        return Err(source
            .error(
                "replicates",
                format!(
                    "{} grid point(s) × {} replicates × {} methods give records that need an \
                 estimated {} of memory when summarized, more than the limit of {} (the memory \
                 available to this process, or --max-memory)",
                    spec.points.len(),
                    spec.replicates,
                    spec.methods.len(),
                    render_bytes(bytes),
                    render_bytes(limit)
                ),
            )
            .into());
    }
    Ok(())
}

/// Refuses a method whose single fit at a grid point would exceed the work
/// limit ([`crate::limits::work_limit`]).
fn check_work(
    method: &MethodKind,
    sizes: &ScenarioSizes,
    prefix: &str,
    at: &str,
    source: &Source,
) -> Result<()> {
    let d = sizes.dim as f64;
    let (operations, key, what) = match method {
        MethodKind::Estimator(config) => {
            let key_of = |k: &str| format!("{prefix}.{k}");
            let estimate = size::estimate_fit(config, sizes.n_gold, sizes.n_pref, d, &key_of);
            (estimate.operations, estimate.key, estimate.what)
        }
        MethodKind::AllGold(learner) => (
            size::fit_operations(learner, sizes.n_total(), d),
            format!("{prefix}.learner"),
            format!("a {} fit", learner.learner().name()),
        ),
        MethodKind::Oracle | MethodKind::Random => return Ok(()),
    };
    let limit = crate::limits::work_limit();
    if crate::limits::exceeds(operations, limit) {
        let key = key
            .rsplit_once('.')
            .map_or(key.as_str(), |(stage, _)| stage);
        return Err(source
            .error(
                key,
                format!(
                    "one fit needs an estimated {} floating-point operations, more than the limit \
                 of {} (--max-work){at}: {what}",
                    crate::limits::render_count(operations),
                    crate::limits::render_count(limit)
                ),
            )
            .into());
    }
    Ok(())
}

/// The stages an estimator fits, with the learner, its key and the most rows
/// it is fitted on (`meta::size::stages` at a grid point's sizes).
fn stages<'a>(
    config: &'a MetaRouterConfig,
    sizes: &ScenarioSizes,
) -> Vec<(&'a LearnerConfig, String, f64)> {
    size::stages(config, sizes.n_gold, sizes.n_pref)
        .into_iter()
        .map(|stage| (stage.learner, stage.key, stage.rows))
        .collect()
}

fn check_estimator(
    config: &MetaRouterConfig,
    sizes: &ScenarioSizes,
    prefix: &str,
    at: &str,
    source: &Source,
) -> Result<()> {
    if config.method.is_meta() {
        let k = config.folds as f64;
        for (gold, kind) in [(true, "GS"), (false, "PB")] {
            let rows = sizes.low_count(gold);
            if rows < k {
                return Err(source.error(
                    &format!("{prefix}.folds"),
                    format!(
                        "{} cross-fitting folds need at least {} {kind} rows, but a replicate has {}{}{at}",
                        config.folds,
                        config.folds,
                        if sizes.random_counts { "as few as " } else { "" },
                        rows.floor()
                    ),
                ).into());
            }
        }
        if config.method == Method::DrLearner && sizes.low_count(true) * (k - 1.0) / k < 2.0 {
            return Err(source
                .error(
                    &format!("{prefix}.folds"),
                    format!(
                    "the DR-learner's GS outcome model needs at least 2 GS rows outside each of \
                     the {} folds{at}",
                    config.folds
                ),
                )
                .into());
        }
    }
    for (learner, key, rows) in stages(config, sizes) {
        check_learner(learner, sizes, rows, &format!("{prefix}.{key}"), at, source)?;
    }
    Ok(())
}

fn check_learner(
    learner: &LearnerConfig,
    sizes: &ScenarioSizes,
    rows: f64,
    key: &str,
    at: &str,
    source: &Source,
) -> Result<()> {
    let d = sizes.dim;
    match learner {
        LearnerConfig::Ridge(p) => {
            if let Some(columns) = p.columns {
                if columns > d {
                    return Err(source
                        .error(
                            &format!("{key}.columns"),
                            format!("columns = {columns} exceeds the scenario's d = {d}{at}"),
                        )
                        .into());
                }
            }
        }
        LearnerConfig::Forest(p) => {
            p.max_features
                .resolve(d)
                .map_err(|e| source.error(&format!("{key}.max_features"), format!("{e}{at}")))?;
        }
        LearnerConfig::KernelRidge(p) => {
            if rows > p.max_rows as f64 {
                return Err(source.error(
                    &format!("{key}.max_rows"),
                    format!(
                        "kernel ridge would be fitted on up to {rows} rows, more than max_rows = {} \
                         (an exact O(n³) solve){at}",
                        p.max_rows
                    ),
                ).into());
            }
        }
        LearnerConfig::Logistic(_) | LearnerConfig::Boosting(_) => {}
    }
    Ok(())
}

/// Estimates the peak memory of one unit of `spec` (the largest over grid
/// points): the replicate's data and its copies, the truth sample of
/// inference studies, and the largest single fit.
pub(crate) fn estimate_peak_memory(spec: &StudySpec) -> MemoryEstimate {
    let mut worst = MemoryEstimate {
        bytes: 0.0,
        dominant: "nothing".into(),
        key: "scenario".into(),
    };
    for point in &spec.points {
        let Ok(scenario) = point.scenario.build() else {
            continue;
        };
        let sizes = scenario.sizes();
        let d = sizes.dim as f64;
        let rows = sizes.n_total() + sizes.n_test as f64;
        let data = sizes.replicate_bytes();
        let truth = if spec.evaluation.inference.is_empty() {
            0.0
        } else {
            3.0 * spec.evaluation.truth_rows as f64 * (d + 4.0) * 8.0
        };
        let mut fit = (0.0, String::from("nothing"), String::from("scenario"));
        for method in &spec.methods {
            let index = method.entry;
            let candidates: Vec<(&LearnerConfig, String, f64)> = match &method.kind {
                MethodKind::Estimator(config) => stages(config, &sizes),
                MethodKind::AllGold(learner) => {
                    vec![(learner, "learner".to_string(), sizes.n_total())]
                }
                MethodKind::Oracle | MethodKind::Random => vec![],
            };
            for (learner, key, rows) in candidates {
                let bytes = size::fit_bytes(learner, rows, d);
                if bytes > fit.0 {
                    fit = (
                        bytes,
                        format!(
                            "a {} fit on {rows} rows × {d} features ({})",
                            learner.learner().name(),
                            render_bytes(bytes)
                        ),
                        format!("methods[{index}].{key}"),
                    );
                }
            }
        }
        let total = data + truth + fit.0;
        if total > worst.bytes {
            let parts = [
                (
                    data,
                    format!(
                        "the replicate's data, {rows} rows × {d} features ({})",
                        render_bytes(data)
                    ),
                    "scenario".to_string(),
                ),
                (
                    truth,
                    format!(
                        "the truth sample, {} rows ({})",
                        spec.evaluation.truth_rows,
                        render_bytes(truth)
                    ),
                    "evaluation.truth_rows".to_string(),
                ),
                fit,
            ];
            let (_, dominant, key) = parts
                .into_iter()
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .expect("three parts");
            worst = MemoryEstimate {
                bytes: total,
                dominant,
                key,
            };
        }
    }
    worst
}

/// Refuses a run whose estimated memory (one unit per thread) exceeds the limit.
pub(crate) fn check_run_memory(spec: &StudySpec, threads: usize) -> Result<()> {
    let estimate = estimate_peak_memory(spec);
    let limit = memory_limit();
    let total = estimate.bytes * threads as f64;
    if crate::limits::exceeds(total, limit) {
        return Err(CoreError::TooLarge {
            what: format!(
                "study `{}` on {threads} thread(s) ({} per replicate)",
                spec.name,
                render_bytes(estimate.bytes)
            ),
            estimate: format!("peak memory {}", render_bytes(total)),
            limit: render_bytes(limit),
            advice: format!(
                "use fewer --threads, or shrink the largest part: {}",
                estimate.dominant
            ),
        }
        .into());
    }
    Ok(())
}
