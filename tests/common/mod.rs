//! Helpers shared by the integration tests.
#![allow(dead_code)]

use meta_router::learners::LearnerConfig;
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A learner configuration from a TOML inline table body.
pub fn learner(toml_body: &str) -> LearnerConfig {
    toml::from_str(toml_body).expect("valid learner config")
}

/// Linear ridge with GCV.
pub fn linear_ridge() -> LearnerConfig {
    learner("type = \"ridge\"\nbasis = \"linear\"")
}

/// Standard normal matrix from a seed.
pub fn normal_matrix(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || StandardNormal.sample(rng))
}

/// Standard normal vector.
pub fn normal_vector(len: usize, rng: &mut ChaCha8Rng) -> Array1<f64> {
    Array1::from_shape_simple_fn(len, || StandardNormal.sample(rng))
}

/// A seeded ChaCha8 generator.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Max relative difference `|a − b| / max(1, |b|)`.
pub fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f64::max)
}

/// Mean squared difference.
pub fn mse(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a - b).mapv(|v| v * v).mean().unwrap()
}
