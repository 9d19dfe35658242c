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
//! ([`MAX_UNITS`], [`MAX_THREADS`], `MAX_GRID_POINTS`) stop absurd values
//! before any allocation.

use crate::dgp::ScenarioSizes;
use crate::error::{Error, Result};
use crate::learners::{Basis, LearnerConfig};
use crate::meta::{MetaRouterConfig, Method, PropensityMode};

use super::locate::Source;
use super::{InferenceTarget, MethodKind, StudySpec};

/// Most (grid point × replicate) units a study may have.
pub const MAX_UNITS: usize = 10_000_000;
/// Most worker threads a run may ask for.
pub const MAX_THREADS: usize = 1024;
/// Most grid points a study may have.
pub(crate) const MAX_GRID_POINTS: usize = 100_000;

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

/// Memory available to a run: `MemTotal` from `/proc/meminfo`, else 8 GiB.
pub fn memory_limit() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(8.0 * GIB, |kb| kb * 1024.0)
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Renders a byte count (`12.3 GiB`).
pub(crate) fn render_bytes(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit + 1 == units.len() && value >= 1024.0 {
        return format!("{bytes:.3e} B");
    }
    format!("{value:.1} {}", units[unit])
}

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
        ));
    }
    for point in &spec.points {
        let sizes = point.scenario.build()?.sizes();
        let at = super::describe_point(&point.values);
        let inference = &spec.evaluation.inference;
        if inference.contains(&InferenceTarget::Projection)
            && spec.evaluation.projection_columns > sizes.dim
        {
            return Err(source.error(
                "evaluation.projection_columns",
                format!(
                    "projection_columns = {} exceeds the scenario's d = {}{at}",
                    spec.evaluation.projection_columns, sizes.dim
                ),
            ));
        }
        for (index, method) in spec.methods.iter().enumerate() {
            let prefix = format!("methods[{index}]");
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
    let estimate = estimate_peak_memory(spec);
    let limit = memory_limit();
    if estimate.bytes > limit {
        return Err(source.error(
            &estimate.key,
            format!(
                "one replicate needs an estimated {} of memory, more than this machine's {}; \
                 the largest part: {}",
                render_bytes(estimate.bytes),
                render_bytes(limit),
                estimate.dominant
            ),
        ));
    }
    Ok(())
}

/// The key under which a stage's learner is written.
fn stage_key(config: &MetaRouterConfig, stage: &str) -> String {
    let own = match stage {
        "outcome_learner" => config.outcome_learner.is_some(),
        "bias_learner" => config.bias_learner.is_some(),
        "final_learner" => config.final_learner.is_some(),
        _ => true,
    };
    if own {
        stage.to_string()
    } else {
        "learner".to_string()
    }
}

/// The stages an estimator fits, with the learner, its key and the most rows
/// it is fitted on.
fn stages<'a>(
    config: &'a MetaRouterConfig,
    sizes: &ScenarioSizes,
) -> Vec<(&'a LearnerConfig, String, f64)> {
    let (n, m) = (sizes.n_gold, sizes.n_pref);
    let total = n + m;
    let k = config.folds as f64;
    let out_of_fold = |rows: f64| (rows * (k - 1.0) / k).ceil();
    let mut out = vec![];
    let final_rows = match config.method {
        Method::GsOnly => n,
        Method::PbOnly => m,
        _ => total,
    };
    out.push((
        config.final_stage(),
        stage_key(config, "final_learner"),
        final_rows,
    ));
    if config.method.is_meta() {
        let outcome_rows = match config.method {
            Method::DrLearner => out_of_fold(n.max(m)),
            _ => out_of_fold(total),
        };
        out.push((
            config.outcome(),
            stage_key(config, "outcome_learner"),
            outcome_rows,
        ));
        out.push((config.bias(), stage_key(config, "bias_learner"), total));
        if config.propensity == PropensityMode::Model {
            out.push((
                &config.propensity_learner,
                "propensity_learner".to_string(),
                out_of_fold(total),
            ));
        }
    }
    out
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
                ));
            }
        }
        if config.method == Method::DrLearner && sizes.low_count(true) * (k - 1.0) / k < 2.0 {
            return Err(source.error(
                &format!("{prefix}.folds"),
                format!(
                    "the DR-learner's GS outcome model needs at least 2 GS rows outside each of \
                     the {} folds{at}",
                    config.folds
                ),
            ));
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
                    return Err(source.error(
                        &format!("{key}.columns"),
                        format!("columns = {columns} exceeds the scenario's d = {d}{at}"),
                    ));
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
                ));
            }
        }
        LearnerConfig::Logistic(_) | LearnerConfig::Boosting(_) => {}
    }
    Ok(())
}

/// Columns of a basis expansion of `d` inputs.
fn basis_columns(basis: Basis, d: f64, features: f64) -> f64 {
    match basis {
        Basis::Linear => d,
        Basis::Poly2 => d + d * (d + 1.0) / 2.0,
        Basis::Rff => features,
    }
}

/// Bytes of one fit of `learner` on `rows × d` data.
fn fit_bytes(learner: &LearnerConfig, rows: f64, d: f64) -> f64 {
    const F: f64 = 8.0;
    match learner {
        LearnerConfig::Ridge(p) => {
            let inputs = p.columns.map_or(d, |c| c as f64);
            let cols = basis_columns(p.basis, inputs, p.features as f64);
            if cols > rows {
                4.0 * rows * rows * F + 2.0 * rows * cols * F
            } else {
                3.0 * rows * cols * F + 4.0 * cols * cols * F
            }
        }
        LearnerConfig::KernelRidge(_) => 5.0 * rows * rows * F + 2.0 * rows * d * F,
        LearnerConfig::Logistic(p) => {
            let cols = basis_columns(p.basis, d, p.features as f64);
            3.0 * rows * cols * F + 2.0 * cols * cols * F
        }
        LearnerConfig::Forest(p) => {
            // Binned features (u8), row indices, and ≤ 2·rows nodes per tree.
            rows * d + 8.0 * rows * F + p.trees as f64 * 2.0 * rows * 48.0
        }
        LearnerConfig::Boosting(p) => {
            let nodes = 2f64.powi(p.max_depth.min(60) as i32 + 1);
            rows * d + 8.0 * rows * F + p.rounds as f64 * nodes.min(2.0 * rows) * 48.0
        }
    }
}

/// Estimates the peak memory of one unit of `spec` (the largest over grid
/// points): the replicate's data and its copies, the truth sample of
/// inference studies, and the largest single fit.
pub fn estimate_peak_memory(spec: &StudySpec) -> MemoryEstimate {
    const F: f64 = 8.0;
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
        let data = 6.0 * rows * d * F + 16.0 * rows * F;
        let truth = if spec.evaluation.inference.is_empty() {
            0.0
        } else {
            3.0 * spec.evaluation.truth_rows as f64 * (d + 4.0) * F
        };
        let mut fit = (0.0, String::from("nothing"), String::from("scenario"));
        for (index, method) in spec.methods.iter().enumerate() {
            let candidates: Vec<(&LearnerConfig, String, f64)> = match &method.kind {
                MethodKind::Estimator(config) => stages(config, &sizes),
                MethodKind::AllGold(learner) => {
                    vec![(learner, "learner".to_string(), sizes.n_total())]
                }
                MethodKind::Oracle | MethodKind::Random => vec![],
            };
            for (learner, key, rows) in candidates {
                let bytes = fit_bytes(learner, rows, d);
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
    if total > limit {
        return Err(Error::TooLarge {
            what: format!(
                "study `{}` on {threads} thread(s) ({} per replicate)",
                spec.name,
                render_bytes(estimate.bytes)
            ),
            estimate: render_bytes(total),
            limit: render_bytes(limit),
            advice: format!(
                "use fewer --threads, or shrink the largest part: {}",
                estimate.dominant
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_render_readably() {
        assert_eq!(render_bytes(512.0), "512.0 B");
        assert_eq!(render_bytes(3.0 * GIB), "3.0 GiB");
        assert!(render_bytes(1e30).ends_with(" B"));
    }

    #[test]
    fn kernel_ridge_memory_grows_with_the_square_of_the_rows() {
        let kernel = LearnerConfig::KernelRidge(Default::default());
        let small = fit_bytes(&kernel, 1000.0, 5.0);
        let large = fit_bytes(&kernel, 2000.0, 5.0);
        assert!((large / small - 4.0).abs() < 0.05);
    }
}
