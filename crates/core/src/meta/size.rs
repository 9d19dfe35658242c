//! Size estimate of a fit: the peak memory and the work of fitting a
//! configuration on `n` GS and `m` PB rows of `d` features, before anything
//! is allocated. One estimate serves every caller: `meta-router fit` (on
//! the rows of its tables), the study engine (on a replicate's sizes) and
//! the Python package; [`crate::limits`] holds the limits and the check.
//!
//! # Algorithm
//! A fit runs stages ([`stages`]): the final learner (ψ̂, η̂ or a baseline's
//! only model), and for the meta-learners the outcome models (fitted once
//! per fold on the out-of-fold rows), the bias stage (fitted once per fold
//! too, for out-of-fold corrections), and the propensity model when it is
//! estimated. The memory of a fit is its data and their fold copies plus
//! the largest single learner fit ([`fit_bytes`]: design and Gram matrices
//! for ridge, the `n × n` kernel for kernel ridge, binned data and nodes for
//! trees, each a few times its matrix size); its work is the sum over the
//! stages of fits × [`fit_operations`] (Gram and solve for ridge, `n³` per
//! bandwidth for kernel ridge, rows × depth × features per tree).
//! Both are upper bounds within a small factor, not predictions.

use crate::learners::{Basis, LearnerConfig};
use crate::limits::{render_bytes, render_count, Estimate};

use super::config::{MetaRouterConfig, Method, PropensityMode};

const F: f64 = 8.0;

/// One stage of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage<'a> {
    /// The learner.
    pub learner: &'a LearnerConfig,
    /// Its key in the configuration (`learner`, `bias_learner`, …).
    pub key: String,
    /// The most rows it is fitted on.
    pub rows: f64,
    /// How many times it is fitted.
    pub fits: f64,
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

/// The stages a fit of `config` runs on `n` GS and `m` PB rows: the learner,
/// its key, the most rows it is fitted on and how often.
pub fn stages(config: &MetaRouterConfig, n: f64, m: f64) -> Vec<Stage<'_>> {
    let total = n + m;
    let k = config.folds as f64;
    let out_of_fold = |rows: f64| (rows * (k - 1.0) / k).ceil();
    let mut out = vec![];
    let final_rows = match config.method {
        Method::GsOnly => n,
        Method::PbOnly => m,
        _ => total,
    };
    out.push(Stage {
        learner: config.final_stage(),
        key: stage_key(config, "final_learner"),
        rows: final_rows,
        fits: if config.method.is_meta() { 2.0 } else { 1.0 },
    });
    if config.method.is_meta() {
        let (outcome_rows, outcome_fits) = match config.method {
            Method::DrLearner => (out_of_fold(n.max(m)), 2.0 * k),
            _ => (out_of_fold(total), k),
        };
        out.push(Stage {
            learner: config.outcome(),
            key: stage_key(config, "outcome_learner"),
            rows: outcome_rows,
            fits: outcome_fits,
        });
        out.push(Stage {
            learner: config.bias(),
            key: stage_key(config, "bias_learner"),
            rows: total,
            fits: k + 1.0,
        });
        if config.propensity == PropensityMode::Model {
            out.push(Stage {
                learner: &config.propensity_learner,
                key: "propensity_learner".to_string(),
                rows: out_of_fold(total),
                fits: k,
            });
        }
    }
    out
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
pub fn fit_bytes(learner: &LearnerConfig, rows: f64, d: f64) -> f64 {
    bytes_parts(learner, rows, d).iter().map(|(b, _)| b).sum()
}

/// [`fit_bytes`] by part, each with the learner parameter that sizes it.
fn bytes_parts(learner: &LearnerConfig, rows: f64, d: f64) -> Vec<(f64, &'static str)> {
    let basis_key = |basis: Basis| match basis {
        Basis::Rff => "features",
        _ => "basis",
    };
    match learner {
        LearnerConfig::Ridge(p) => {
            let inputs = p.columns.map_or(d, |c| c as f64);
            let cols = basis_columns(p.basis, inputs, p.features as f64);
            let design = if cols > rows {
                4.0 * rows * rows * F + 2.0 * rows * cols * F
            } else {
                3.0 * rows * cols * F + 4.0 * cols * cols * F
            };
            vec![
                (design, basis_key(p.basis)),
                (2.0 * p.penalty_grid.points as f64 * F, "penalty_grid"),
            ]
        }
        LearnerConfig::KernelRidge(p) => vec![
            (5.0 * rows * rows * F + 2.0 * rows * d * F, "max_rows"),
            (2.0 * p.penalty_grid.points as f64 * F, "penalty_grid"),
            (2.0 * p.bandwidth_grid.len() as f64 * F, "bandwidth_grid"),
        ],
        LearnerConfig::Logistic(p) => {
            let cols = basis_columns(p.basis, d, p.features as f64);
            vec![(
                3.0 * rows * cols * F + 2.0 * cols * cols * F,
                basis_key(p.basis),
            )]
        }
        // Binned features (u8), row indices, and ≤ 2·rows nodes per tree.
        LearnerConfig::Forest(p) => vec![
            (rows * d + 8.0 * rows * F, "max_features"),
            (p.trees as f64 * 2.0 * rows * 48.0, "trees"),
        ],
        LearnerConfig::Boosting(p) => {
            let nodes = 2f64.powi(p.max_depth.min(60) as i32 + 1);
            vec![
                (rows * d + 8.0 * rows * F, "max_depth"),
                (p.rounds as f64 * nodes.min(2.0 * rows) * 48.0, "rounds"),
            ]
        }
    }
}

/// Floating-point operations of one fit of `learner` on `rows × d` data
/// (an upper bound within a small factor).
pub fn fit_operations(learner: &LearnerConfig, rows: f64, d: f64) -> f64 {
    operations_parts(learner, rows, d)
        .iter()
        .map(|(o, _)| o)
        .sum()
}

/// [`fit_operations`] by part, each with the learner parameter that sizes it.
fn operations_parts(learner: &LearnerConfig, rows: f64, d: f64) -> Vec<(f64, &'static str)> {
    let rows = rows.max(1.0);
    let log_rows = rows.log2().max(1.0);
    match learner {
        LearnerConfig::Ridge(p) => {
            let inputs = p.columns.map_or(d, |c| c as f64);
            let cols = basis_columns(p.basis, inputs, p.features as f64);
            let grid = p.penalty_grid.points as f64;
            let small = cols.min(rows);
            let key = match p.basis {
                Basis::Rff => "features",
                _ => "basis",
            };
            // Expansion, Gram (or kernel) matrix and its decomposition, then
            // one pass per penalty over the rows.
            vec![
                (
                    rows * cols * inputs.max(1.0) + rows * cols * small + small.powi(3),
                    key,
                ),
                (grid * rows * small, "penalty_grid"),
            ]
        }
        LearnerConfig::KernelRidge(p) => {
            let bandwidths = p.bandwidth_grid.len().max(1) as f64;
            let penalties = p.penalty_grid.points as f64;
            vec![
                (
                    bandwidths * (rows.powi(3) + rows * rows * d),
                    "bandwidth_grid",
                ),
                (bandwidths * penalties * rows * rows, "penalty_grid"),
            ]
        }
        LearnerConfig::Logistic(p) => {
            let cols = basis_columns(p.basis, d, p.features as f64);
            vec![(
                p.max_iter.max(1) as f64 * (rows * cols * cols + cols.powi(3)),
                "max_iter",
            )]
        }
        LearnerConfig::Forest(p) => {
            let depth = p.max_depth.map_or(log_rows, |m| (m as f64).min(rows));
            vec![(
                p.trees as f64 * rows * depth.max(1.0) * d.max(1.0) * 4.0,
                "trees",
            )]
        }
        LearnerConfig::Boosting(p) => vec![(
            p.rounds as f64 * rows * (p.max_depth.min(60) as f64 + 1.0) * d.max(1.0) * 4.0,
            "rounds",
        )],
    }
}

/// The parameter of the largest part.
fn dominant(parts: &[(f64, &'static str)]) -> &'static str {
    parts
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or("", |(_, key)| key)
}

/// The size estimate of fitting `config` on `n` GS and `m` PB rows of `d`
/// features (module docs); `key_of` renders a key path of the configuration
/// (`learner.trees`) as the caller's input names it (e.g. with its file, or
/// under `methods[2].`).
pub fn estimate_fit(
    config: &MetaRouterConfig,
    n: f64,
    m: f64,
    d: f64,
    key_of: &dyn Fn(&str) -> String,
) -> Estimate {
    let rows = n + m;
    // The pooled data, its fold copies and the per-row nuisances.
    let data = 6.0 * rows * d * F + 16.0 * rows * F;
    let mut largest = (0.0, String::new(), String::from("learner"));
    let mut operations = 0.0;
    let mut heaviest = (0.0, String::from("learner"));
    for stage in stages(config, n, m) {
        let memory_parts = bytes_parts(stage.learner, stage.rows, d);
        let work_parts = operations_parts(stage.learner, stage.rows, d);
        let bytes: f64 = memory_parts.iter().map(|(b, _)| b).sum();
        let work = stage.fits * work_parts.iter().map(|(o, _)| o).sum::<f64>();
        operations += work;
        let key = format!("{}.{}", stage.key, dominant(&memory_parts));
        if bytes > largest.0 {
            largest = (
                bytes,
                format!(
                    "a {} fit on {} rows × {d} features",
                    stage.learner.learner().name(),
                    stage.rows
                ),
                key.clone(),
            );
        }
        if work > heaviest.0 {
            heaviest = (work, format!("{}.{}", stage.key, dominant(&work_parts)));
        }
    }
    let bytes = data + largest.0;
    let over_memory = bytes > crate::limits::memory_limit();
    let (what, key) = if over_memory || operations <= crate::limits::work_limit() {
        if largest.0 >= data {
            (
                format!(
                    "fitting the router: {} needs {}",
                    largest.1,
                    render_bytes(largest.0)
                ),
                largest.2,
            )
        } else {
            (
                format!(
                    "fitting the router: the data, {rows} rows × {d} features, need {}",
                    render_bytes(data)
                ),
                "the number of rows and features".to_string(),
            )
        }
    } else {
        (
            format!(
                "fitting the router: {} operations, most in `{}`",
                render_count(operations),
                heaviest.1
            ),
            heaviest.1,
        )
    };
    let key = if key.contains(' ') { key } else { key_of(&key) };
    Estimate::new(bytes, operations, what, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learners::ForestParams;

    #[test]
    fn kernel_ridge_memory_grows_with_the_square_of_the_rows() {
        let kernel = LearnerConfig::KernelRidge(Default::default());
        let small = fit_bytes(&kernel, 1000.0, 5.0);
        let large = fit_bytes(&kernel, 2000.0, 5.0);
        assert!((large / small - 4.0).abs() < 0.05);
    }

    #[test]
    fn a_huge_forest_is_refused_with_its_key() {
        let mut config = MetaRouterConfig::new(Method::DrLearner);
        config.learner = LearnerConfig::Forest(ForestParams {
            trees: 1_000_000_000_000,
            ..ForestParams::default()
        });
        let key = |k: &str| format!("`{k}` in router.toml");
        let estimate = estimate_fit(&config, 100.0, 400.0, 5.0, &key);
        let message = estimate.check_against(8e9, 1e14).unwrap_err().to_string();
        assert!(
            message.contains("`learner.trees` in router.toml"),
            "{message}"
        );
        // The default configuration on a modest table fits easily.
        let config = MetaRouterConfig::new(Method::DrLearner);
        let estimate = estimate_fit(&config, 1000.0, 50_000.0, 50.0, &|k| k.to_string());
        assert!(estimate.check_against(8e9, 1e14).is_ok(), "{estimate:?}");
    }
}
