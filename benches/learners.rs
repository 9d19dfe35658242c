//! Criterion benchmarks of the base learners' fits (the linear-algebra hot path).
//!
//! Run with `cargo bench --bench learners` (faer backend) or
//! `cargo bench --bench learners --features openblas`. Inputs are seeded
//! standard-normal features with a noisy partly nonlinear target; nothing is
//! written outside criterion's own `target/criterion` folder.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meta_router::learners::kernel_ridge::Bandwidth;
use meta_router::learners::ridge::Solver;
use meta_router::learners::{KernelRidgeParams, Learner, LogisticParams, RidgeParams};
use meta_router::rng::rng_from_seed;
use ndarray::{Array1, Array2};
use rand_distr::{Distribution, StandardNormal};

fn data(rows: usize, cols: usize, seed: u64) -> (Array2<f64>, Array1<f64>) {
    let mut rng = rng_from_seed(seed);
    let x: Array2<f64> =
        Array2::from_shape_simple_fn((rows, cols), || StandardNormal.sample(&mut rng));
    let y: Array1<f64> = x
        .rows()
        .into_iter()
        .map(|r| -> f64 {
            let noise: f64 = StandardNormal.sample(&mut rng);
            r[0] - 0.5 * r[1] + (2.0 * r[cols - 1]).sin() + 0.5 * noise
        })
        .collect();
    (x, y)
}

fn ridge(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("ridge_linear_loo/{}", meta_router::linalg::BACKEND));
    group.sample_size(10);
    for &cols in &[50usize, 256] {
        for &rows in &[1_000usize, 10_000, 100_000] {
            let (x, y) = data(rows, cols, 1);
            let params = RidgeParams::default();
            group.throughput(Throughput::Elements(rows as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(format!("n{rows}_d{cols}")),
                &(x, y),
                |b, (x, y)| b.iter(|| black_box(params.fit(x.view(), y.view(), None, 0).unwrap())),
            );
        }
    }
    group.finish();
}

fn kernel_ridge(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("kernel_ridge/{}", meta_router::linalg::BACKEND));
    group.sample_size(10);
    for &rows in &[500usize, 2_000] {
        let (x, y) = data(rows, 10, 2);
        // The default (LOO penalty, bandwidth chosen from 5 multiples of the
        // median heuristic) against one bandwidth (the median heuristic).
        let median = KernelRidgeParams {
            bandwidth: Bandwidth::Median,
            ..KernelRidgeParams::default()
        };
        for (name, params) in [("select", KernelRidgeParams::default()), ("median", median)] {
            group.bench_with_input(
                BenchmarkId::new(name, format!("n{rows}_d10")),
                &(x.clone(), y.clone()),
                |b, (x, y)| b.iter(|| black_box(params.fit(x.view(), y.view(), None, 0).unwrap())),
            );
        }
    }
    group.finish();
}

/// The ridge solver paths on the same problem: Gram (eigendecomposition of
/// XᵀWX) against the thin SVD of the weighted design.
fn ridge_solvers(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("ridge_solver_loo/{}", meta_router::linalg::BACKEND));
    group.sample_size(10);
    for &(rows, cols) in &[(10_000usize, 50usize), (10_000, 256)] {
        let (x, y) = data(rows, cols, 4);
        for solver in [Solver::Gram, Solver::Svd] {
            let params = RidgeParams {
                solver,
                ..RidgeParams::default()
            };
            group.bench_with_input(
                BenchmarkId::new(
                    format!("{solver:?}").to_lowercase(),
                    format!("n{rows}_d{cols}"),
                ),
                &(x.clone(), y.clone()),
                |b, (x, y)| b.iter(|| black_box(params.fit(x.view(), y.view(), None, 0).unwrap())),
            );
        }
    }
    group.finish();
}

/// The kernels of one ridge fit at the paper's size (N = 4500, d = 50, a
/// 41-point penalty grid), with throughput in floating-point operations per
/// second (criterion's "elements" are flops here), next to a large square
/// matrix product: the backend's practical peak on one core.
///
/// Flop counts: `2mnk` for a product of `m × k` by `k × n`; `N d (d + 1)`
/// for the Gram matrix (its lower triangle); `9 d³` for the symmetric
/// eigendecomposition with vectors (the usual nominal count: tridiagonal
/// reduction `4d³/3`, back-transformation and QR iterations about `8d³`).
/// The leave-one-out scan over the grid is the products `M = A V`
/// (`N × d × d`) and `[M diag(c) | M ∘ M] · D` (`2 × N × d × G`).
fn linalg_kernels(c: &mut Criterion) {
    use meta_router::linalg;
    let mut group = c.benchmark_group(format!("linalg/{}", linalg::BACKEND));
    group.sample_size(20);
    let (n, d, g) = (4500usize, 50usize, 41usize);
    let (x, _) = data(n, d, 5);
    let (square, _) = data(1024, 1024, 6);
    let (basis, _) = data(d, d, 7);
    let (grid, _) = data(d, g, 8);
    let gram = linalg::weighted_gram(x.view(), None);
    let flops = |v: usize| Throughput::Elements(v as u64);
    group.throughput(flops(2 * 1024 * 1024 * 1024));
    group.bench_function("matmul_1024x1024x1024 (peak)", |b| {
        b.iter(|| black_box(linalg::matmul(square.view(), square.view())))
    });
    group.throughput(flops(n * d * (d + 1)));
    group.bench_function("gram_n4500_d50", |b| {
        b.iter(|| black_box(linalg::weighted_gram(x.view(), None)))
    });
    group.throughput(flops(9 * d * d * d));
    group.bench_function("symmetric_eigen_d50", |b| {
        b.iter(|| black_box(linalg::symmetric_eigen(gram.view()).unwrap()))
    });
    group.throughput(flops(2 * n * d * d));
    group.bench_function("rotate_n4500_d50 (M = A V)", |b| {
        b.iter(|| black_box(linalg::matmul(x.view(), basis.view())))
    });
    group.throughput(flops(2 * n * d * g));
    group.bench_function("grid_n4500_d50_g41 (one of two)", |b| {
        b.iter(|| black_box(linalg::matmul(x.view(), grid.view())))
    });
    // The whole fit: standardization, Gram, eigendecomposition, the LOO scan
    // and the solution (2 N d² + N d(d + 1) + 4 N d G + 9 d³ flops, rounded).
    let (xf, yf) = data(n, d, 9);
    let params = RidgeParams::default();
    group.throughput(flops(
        2 * n * d * d + n * d * (d + 1) + 4 * n * d * g + 9 * d * d * d,
    ));
    group.bench_function("ridge_loo_fit_n4500_d50", |b| {
        b.iter(|| black_box(params.fit(xf.view(), yf.view(), None, 0).unwrap()))
    });
    group.finish();
}

fn logistic(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("logistic/{}", meta_router::linalg::BACKEND));
    group.sample_size(10);
    let (x, y) = data(10_000, 50, 3);
    let t = y.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let params = LogisticParams::default();
    group.bench_with_input(
        BenchmarkId::from_parameter("n10000_d50"),
        &(x, t),
        |b, (x, t)| {
            b.iter(|| black_box(params.fit_probability(x.view(), t.view(), None, 0).unwrap()))
        },
    );
    group.finish();
}

fn config() -> Criterion {
    // The allocator settings of the `meta-router` binary.
    meta_router::alloc::tune_malloc();
    // No plots: the crate builds plotters with ab_glyph and no registered font,
    // which criterion's plot backend cannot draw text with.
    Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = linalg_kernels, ridge, ridge_solvers, kernel_ridge, logistic
}
criterion_main!(benches);
