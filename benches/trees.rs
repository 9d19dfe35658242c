//! Fit times of the tree ensembles at d = 50 over N ∈ {1000, 4500, 50000}.
//!
//! ```text
//! cargo bench --bench trees                 # everything
//! cargo bench --bench trees -- forest/4500  # one case
//! ```
//!
//! Forest: `ForestParams::paper()` (100 trees, depth 20, √d features, bootstrap,
//! one thread). Boosting: `BoostingParams::default()` (100 rounds, depth 6,
//! η = 0.3). Data: `y = sin(3x₀) + x₁² + 0.5 x₂x₃ + N(0, 0.3²)`,
//! `x ~ U(−1, 1)^50`, unit weights, drawn from a fixed seed.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use meta_router::learners::{BoostingParams, ForestParams};
use meta_router::rng::rng_from_seed;
use ndarray::{Array1, Array2};
use rand::RngExt;
use rand_distr::{Distribution, Normal};

const SIZES: [usize; 3] = [1000, 4500, 50_000];
const FEATURES: usize = 50;

fn data(n: usize) -> (Array2<f64>, Array1<f64>) {
    let mut rng = rng_from_seed(2025 + n as u64);
    let x: Array2<f64> = Array2::from_shape_fn((n, FEATURES), |_| rng.random_range(-1.0..1.0));
    let noise = Normal::new(0.0, 0.3).unwrap();
    let y = x
        .rows()
        .into_iter()
        .map(|r| (3.0 * r[0]).sin() + r[1] * r[1] + 0.5 * r[2] * r[3] + noise.sample(&mut rng))
        .collect();
    (x, y)
}

fn forest(c: &mut Criterion) {
    let mut group = c.benchmark_group("forest");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let params = ForestParams::paper();
    for n in SIZES {
        let (x, y) = data(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| params.fit_forest(x.view(), y.view(), None, 1).unwrap())
        });
    }
    group.finish();
}

fn boosting(c: &mut Criterion) {
    let mut group = c.benchmark_group("boosting");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let params = BoostingParams::default();
    for n in SIZES {
        let (x, y) = data(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| params.fit_boosting(x.view(), y.view(), None, 1).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: the plotters backend needs system fonts that CI machines lack.
    // The allocator settings of the `meta-router` binary.
    config = {
        meta_router::alloc::tune_malloc();
        Criterion::default().without_plots()
    };
    targets = forest, boosting
}
criterion_main!(benches);
