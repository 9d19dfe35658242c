//! Forest comparison: this crate's forest against smartcore 0.7 (and, through
//! `benches/compare/sklearn_forest.py`, scikit-learn) on the same data.
//!
//! ```text
//! /tmp/skl/bin/python benches/compare/sklearn_forest.py --out /tmp/trees_compare
//! TREES_COMPARE_DIR=/tmp/trees_compare cargo bench --bench trees_compare
//! ```
//!
//! Without `TREES_COMPARE_DIR` the same formula is drawn here (different draws
//! from scikit-learn's, so R² is comparable only up to sampling noise).
//! Settings: 100 trees, depth 20, √d features, bootstrap, one thread.
//! `TREES_COMPARE_REPEATS` (default 5) sets the number of timed fits.

use std::time::Instant;

use meta_router::learners::{ForestParams, Predict};
use meta_router::rng::rng_from_seed;
use ndarray::{Array1, Array2};
use rand::RngExt;
use rand_distr::{Distribution, Normal};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

fn read_csv(path: &std::path::Path) -> (Array2<f64>, Array1<f64>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        rows.push(line.split(',').map(|v| v.trim().parse().unwrap()).collect());
    }
    let d = rows[0].len() - 1;
    let x = Array2::from_shape_fn((rows.len(), d), |(i, j)| rows[i][j]);
    let y = rows.iter().map(|r| r[d]).collect();
    (x, y)
}

fn draw(n: usize, d: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = rng_from_seed(seed);
    let x: Array2<f64> = Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0));
    let noise = Normal::new(0.0, 0.3).unwrap();
    let y = (0..n)
        .map(|i| {
            (3.0 * x[[i, 0]]).sin()
                + x[[i, 1]].powi(2)
                + 0.5 * x[[i, 2]] * x[[i, 3]]
                + noise.sample(&mut rng)
        })
        .collect();
    (x, y)
}

/// CPU time of the calling thread in seconds (Linux `schedstat`), so timings
/// on a loaded machine are not inflated by waiting for a core; `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

fn r2(y: &Array1<f64>, pred: &Array1<f64>) -> f64 {
    let mean = y.mean().unwrap();
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len();
    if k % 2 == 1 {
        v[k / 2]
    } else {
        0.5 * (v[k / 2 - 1] + v[k / 2])
    }
}

fn show(label: &str, times: &[f64], cpu: &[f64], scores: &[f64]) {
    let list = |v: &[f64], p: usize| {
        v.iter()
            .map(|t| format!("{t:.p$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Thread CPU time means nothing for a multi-threaded fit: not printed then.
    let cpu_text = if cpu.is_empty() {
        "thread CPU not measured (several threads)".to_string()
    } else {
        format!(
            "thread CPU median {:.3} s (all: {})",
            median(cpu.to_vec()),
            list(cpu, 3)
        )
    };
    println!(
        "{label}: fit wall median {:.3} s (all: {}); {cpu_text}; test R2 median {:.4} (all: {})",
        median(times.to_vec()),
        list(times, 3),
        median(scores.to_vec()),
        list(scores, 4)
    );
}

fn main() {
    meta_router::alloc::tune_malloc();
    let repeats: usize = std::env::var("TREES_COMPARE_REPEATS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let ((x, y), (x_test, y_test)) = match std::env::var_os("TREES_COMPARE_DIR") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            println!("data: {}", dir.display());
            (
                read_csv(&dir.join("train.csv")),
                read_csv(&dir.join("test.csv")),
            )
        }
        None => {
            println!("data: drawn in Rust (set TREES_COMPARE_DIR for scikit-learn's CSVs)");
            (draw(4500, 50, 1), draw(2000, 50, 2))
        }
    };
    let (n, d) = x.dim();
    println!("n = {n}, d = {d}, test rows = {}", x_test.nrows());

    for threads in [1usize, 2] {
        let params = ForestParams {
            threads,
            ..ForestParams::paper()
        };
        let (mut times, mut cpu, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..repeats {
            let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
            let forest = params
                .fit_forest(x.view(), y.view(), None, rep as u64)
                .unwrap();
            times.push(start.elapsed().as_secs_f64());
            // With threads > 1 the work runs on pool threads, not this one.
            if let (Some(a), Some(b), 1) = (cpu_start, thread_cpu_seconds(), threads) {
                cpu.push(b - a);
            }
            scores.push(r2(&y_test, &forest.predict(x_test.view())));
        }
        show(
            &format!("meta-router forest, threads = {threads}"),
            &times,
            &cpu,
            &scores,
        );
    }

    if std::env::var_os("TREES_COMPARE_SKIP_SMARTCORE").is_some() {
        return;
    }
    let to_dense = |x: &Array2<f64>| {
        let rows: Vec<Vec<f64>> = x.rows().into_iter().map(|r| r.to_vec()).collect();
        DenseMatrix::from_2d_vec(&rows).unwrap()
    };
    let (xs, xs_test) = (to_dense(&x), to_dense(&x_test));
    let ys: Vec<f64> = y.to_vec();
    let (mut times, mut cpu, mut scores) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..repeats.min(3) {
        let params = RandomForestRegressorParameters::default()
            .with_n_trees(100)
            .with_max_depth(20)
            .with_m((d as f64).sqrt().floor() as usize)
            .with_seed(rep as u64);
        let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
        let model = RandomForestRegressor::fit(&xs, &ys, params).unwrap();
        times.push(start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_seconds()) {
            cpu.push(b - a);
        }
        let pred: Vec<f64> = model.predict(&xs_test).unwrap();
        scores.push(r2(&y_test, &Array1::from(pred)));
    }
    show("smartcore 0.7 RandomForestRegressor", &times, &cpu, &scores);
}
