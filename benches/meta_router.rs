//! Meta-Router fits at the paper's HealthBench size: N = 4500 training rows
//! (n_gold = 100 GS + 4400 PB), d = 50, ridge learners (leave-one-out
//! penalty, the default), 5 folds.
//!
//! `cargo bench --bench meta_router` (add `--features openblas` for the
//! OpenBLAS backend).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use meta_router::dgp::{HealthbenchParams, ScenarioConfig};
use meta_router::learners::LearnerConfig;
use meta_router::meta::{FitSeeds, MetaRouterConfig, Method};
use meta_router::rng::{stream, Purpose};

fn bench(c: &mut Criterion) {
    let scenario = ScenarioConfig::HealthbenchLike(HealthbenchParams::default())
        .build()
        .expect("default scenario");
    let data = scenario
        .draw(&mut stream(1, 0, 0, Purpose::Data))
        .expect("draw")
        .train;
    assert_eq!(data.n_total(), 4500);
    let learners: [(&str, LearnerConfig); 2] = [
        (
            "ridge-linear",
            toml::from_str("type = \"ridge\"\nbasis = \"linear\"").unwrap(),
        ),
        (
            "ridge-poly2-5",
            toml::from_str("type = \"ridge\"\nbasis = \"poly2\"\ncolumns = 5").unwrap(),
        ),
    ];
    let mut group = c.benchmark_group("meta_router_n4500_d50");
    group.sample_size(10);
    for (name, learner) in learners {
        for method in [Method::RLearner, Method::DrLearner] {
            let config = MetaRouterConfig::new(method).with_learner(learner.clone());
            group.bench_function(BenchmarkId::new(format!("{method:?}"), name), |b| {
                b.iter(|| {
                    config
                        .fit(
                            &data,
                            FitSeeds {
                                folds: 3,
                                learner: 4,
                            },
                        )
                        .expect("fit")
                })
            });
        }
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
