//! Saving and loading router files of the paper's all-forest pipeline:
//! healthbench-like data with n_gold = 500 (N = 4500 training rows, d = 50),
//! R- and DR-learners with the `paper` forests for the outcome nuisances and
//! the `paper-bias-stage` forest for Δ̂ (what `meta-router fit --config` with
//! those presets fits). Each fit runs once, outside the timings; then
//!
//! - `save_checked`: [`RouterFile::to_json_checked`] on the GS and PB rows,
//!   as `meta-router fit` calls it (encoding plus the reload check);
//! - `load`: [`router_file::parse`] of that text (what `route` and
//!   `evaluate` do before predicting).
//!
//! The file size of each router is printed once. `cargo bench --bench
//! router_file`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use meta_router::config_file::parse_router_config;
use meta_router::dgp::{HealthbenchParams, ScenarioConfig};
use meta_router::meta::FitSeeds;
use meta_router::rng::{stream, Purpose};
use meta_router::router_file::{self, RouterFile, TrainingSummary};

fn bench(c: &mut Criterion) {
    let scenario = ScenarioConfig::HealthbenchLike(HealthbenchParams {
        n_gold: 500,
        ..HealthbenchParams::default()
    })
    .build()
    .expect("scenario");
    let data = scenario
        .draw(&mut stream(1, 0, 0, Purpose::Data))
        .expect("draw")
        .train;
    assert_eq!((data.n_total(), data.dim()), (4500, 50));
    let features: Vec<String> = (1..=data.dim()).map(|j| format!("x{j}")).collect();
    let mut group = c.benchmark_group("router_file_forest_n4500_d50");
    group.sample_size(10);
    for method in ["r-learner", "dr-learner"] {
        let text = format!(
            "method = \"{method}\"\nlearner = {{ type = \"forest\", preset = \"paper\" }}\n\
             bias_learner = {{ type = \"forest\", preset = \"paper-bias-stage\" }}\n"
        );
        let config = parse_router_config(&text, "router.toml").expect("config");
        let router = config.fit(&data, FitSeeds::from_seed(1)).expect("fit");
        let training = TrainingSummary::of(&data, "gold.csv", "pref.csv");
        let file = RouterFile::new(features.clone(), config, 1, training, &router);
        let rows = [data.gold_x(), data.pref_x()];
        let json = file.to_json_checked(&router, &rows).expect("save");
        eprintln!("{method}: router file of {} bytes", json.len());
        group.bench_function(BenchmarkId::new("save_checked", method), |b| {
            b.iter(|| file.to_json_checked(&router, &rows).expect("save"))
        });
        group.bench_function(BenchmarkId::new("load", method), |b| {
            b.iter(|| router_file::parse(&json, "router.json").expect("load"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: the crate's plotters build has no system font for criterion's charts.
    // The allocator settings of the `meta-router` binary.
    config = {
        meta_router::alloc::tune_malloc();
        Criterion::default().without_plots()
    };
    targets = bench
}
criterion_main!(benches);
