//! Monte Carlo coverage of the inference module on a correctly specified
//! linear scenario (fast, fixed seed) and, `#[ignore]`d, a heavier version.
//!
//! Scenario: `s ~ N(0, I₃)`, `ψ(s) = 0.5 + s₁ − 0.5 s₂`, `Δ(s) = 0.2 + 0.3 s₁`,
//! `η = ψ − Δ`; labels `ψ + N(0, 1)` (GS) and `η + N(0, 1)` (PB); GS rows are a
//! random split of the pool (`p ≡ κ`). Truth: `θ_Δ = E Δ = 0.2`,
//! `θ_ψ = E ψ = 0.5`, projection of Δ on `[1, s₁]` = `(0.2, 0.3)` exactly.
//! The DR-learner uses linear ridge for every nuisance.
//!
//! Tolerance: with R replicates a correct 95% interval has empirical coverage
//! within `3·√(0.95·0.05/R)` of 0.95 except with probability ≈ 0.003 per
//! check; at R = 400 the band is ±0.033, while an SE off by a factor √2
//! (too small) would give coverage ≈ 0.83 and fail every check, and one √2 too
//! large ≈ 0.994 (also outside the band).

use meta_router::data::TrainingData;
use meta_router::inference::{
    best_linear_projection, intercept_and_columns, mean_target, Estimate, Nuisances, Population,
    Quantity, Sandwich,
};
use meta_router::learners::{LearnerConfig, RidgeParams};
use meta_router::meta::{FitSeeds, MetaRouterConfig, Method};
use meta_router::rng::{derive_seed, rng_from_seed};
use ndarray::{Array1, Array2};
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

const LEVEL: f64 = 0.95;

fn draw(n_gold: usize, n_pref: usize, seed: u64) -> TrainingData {
    let mut rng = rng_from_seed(seed);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let mut rows = |n: usize, gold: bool| {
        let x = Array2::from_shape_fn((n, 3), |_| normal());
        let y = Array1::from_shape_fn(n, |i| {
            let psi = 0.5 + x[[i, 0]] - 0.5 * x[[i, 1]];
            let delta = 0.2 + 0.3 * x[[i, 0]];
            let mean = if gold { psi } else { psi - delta };
            mean + normal()
        });
        (x, y)
    };
    let (gx, gy) = rows(n_gold, true);
    let (px, py) = rows(n_pref, false);
    TrainingData::new(gx, gy, px, py).unwrap()
}

/// Per replicate: covered indicators of θ_Δ, θ_ψ, E Δ, E ψ, BLP slope (HC0),
/// BLP slope (HC1), then of the same six intervals with the SE divided by √2
/// (which the test must be able to tell apart from correct ones).
fn replicate(n_gold: usize, n_pref: usize, seed: u64) -> [bool; 12] {
    let data = draw(n_gold, n_pref, derive_seed(seed, &[1]));
    let config = MetaRouterConfig::new(Method::DrLearner)
        .with_learner(LearnerConfig::Ridge(RidgeParams::default()));
    let router = config
        .fit(
            &data,
            FitSeeds {
                folds: derive_seed(seed, &[2]),
                learner: derive_seed(seed, &[3]),
            },
        )
        .unwrap();
    let nuisances = Nuisances::from_router(&router).unwrap();
    let shrunk = |e: Estimate| Estimate::normal(e.estimate, e.se / 2f64.sqrt(), LEVEL).unwrap();
    let target = |q, pop| mean_target(&nuisances, q, pop, None, LEVEL).unwrap();
    let features = intercept_and_columns(data.pooled_x().view(), 1).unwrap();
    let blp =
        best_linear_projection(features.view(), nuisances.dr_pseudo_outcomes().view()).unwrap();
    let estimates = [
        (target(Quantity::Bias, Population::Pref), 0.2),
        (target(Quantity::Gain, Population::Pref), 0.5),
        (target(Quantity::Bias, Population::Pooled), 0.2),
        (target(Quantity::Gain, Population::Pooled), 0.5),
        (blp.estimates(Sandwich::Hc0, LEVEL).unwrap()[1], 0.3),
        (blp.estimates(Sandwich::Hc1, LEVEL).unwrap()[1], 0.3),
    ];
    let mut covered = [false; 12];
    for (j, (e, truth)) in estimates.iter().enumerate() {
        covered[j] = e.covers(*truth);
        covered[6 + j] = shrunk(*e).covers(*truth);
    }
    covered
}

fn check_coverage(replicates: usize, n_gold: usize, n_pref: usize, seed: u64) {
    let covered: Vec<[bool; 12]> = (0..replicates as u64)
        .into_par_iter()
        .map(|r| replicate(n_gold, n_pref, derive_seed(seed, &[r])))
        .collect();
    let band = 3.0 * (LEVEL * (1.0 - LEVEL) / replicates as f64).sqrt();
    let names = [
        "theta_delta",
        "theta_psi",
        "mean_delta",
        "mean_psi",
        "blp_slope_hc0",
        "blp_slope_hc1",
    ];
    let mut report = String::new();
    let mut failed = false;
    let mut detected = true;
    for (j, name) in names.iter().enumerate() {
        let rate = |j: usize| covered.iter().filter(|c| c[j]).count() as f64 / replicates as f64;
        let (c, c_shrunk) = (rate(j), rate(6 + j));
        report.push_str(&format!("{name}: {c:.3} (SE/√2: {c_shrunk:.3}); "));
        failed |= (c - LEVEL).abs() > band;
        detected &= (c_shrunk - LEVEL).abs() > band;
    }
    eprintln!("R = {replicates}, band ±{band:.3}: {report}");
    assert!(
        !failed,
        "coverage outside 0.95 ± {band:.3} (R = {replicates}): {report}"
    );
    assert!(
        detected,
        "the band cannot tell an SE off by √2 from a correct one: {report}"
    );
}

#[test]
fn intervals_cover_at_nominal_rate_on_a_linear_scenario() {
    check_coverage(400, 150, 450, 20261127);
}

/// Heavier check: R = 2000 (band ±0.015) at a smaller GS share.
/// Run with `cargo test --release --test coverage -- --ignored`.
#[test]
#[ignore]
fn intervals_cover_at_nominal_rate_heavy() {
    check_coverage(2000, 100, 900, 7);
}

/// Weak overlap with the defaults: covariate shift γ = 1 (the GS queries
/// sit one SD to the right of the PB queries; about a third of the PB
/// queries have a true `p` below 0.05), n_gold = 200, n_pref = 1800, a
/// DR-learner with a logistic propensity and ridge on a degree-2 basis, no
/// clip or overlap setting written. Every interval must cover its reported
/// target (the Crump–Hotz–Imbens–Mitnik overlap region, whose truth the
/// study computes from the truth sample) within 4 MCSE of 0.95 over
/// R = 500 replicates (±0.039). The previous default (intervals from `p̂`
/// clipped at 0.05, untrimmed target) covered 0.69–0.87 here.
///
/// Tolerance: 4 MCSE, not 3, because the intervals are asymptotic and this
/// is a small design. Measured at R = 1000 with another seed (the study
/// `simulations/coverage_covariate_shift.toml` reports the same cell):
/// 0.949–0.961 for the means, 0.946 and 0.940 ± 0.0075 for the projection,
/// so the slope's true coverage is about 0.94; a 4-MCSE band keeps the
/// chance that a correct implementation fails this check near 0.5%.
///
/// The slope's coverage in its lowest SE third separates the trimmed target
/// from the untrimmed one (`overlap = "none"`), where heavy-tailed weights
/// make the narrow intervals miss: measured 0.919 (R = 1000, trimmed)
/// against 0.774 (R = 400, untrimmed), each with an MCSE of about 0.02 to
/// 0.03 on a third of 500 replicates; the check puts the line at 0.86.
#[test]
fn default_inference_covers_at_weak_overlap() {
    use meta_router::study::{self, spec::StudySpec, RunOptions};
    const R: usize = 500;
    let spec = |overlap: &str| {
        StudySpec::parse(
            &format!(
                r#"
name = "weak-overlap"
seed = 2026120603
replicates = {R}
[scenario]
name = "covariate-shift"
n_gold = 200
n_pref = 1800
n_test = 50
gamma = 1.0
[evaluation]
rho = [0.0, 1.0]
w = [0.0]
inference = ["theta_delta", "theta_psi", "mean_delta", "mean_psi", "projection"]
{overlap}
[[methods]]
label = "DR"
method = "dr-learner"
propensity = "model"
learner = {{ type = "ridge", basis = "poly2", columns = 5 }}
"#
            ),
            "weak-overlap.toml",
        )
        .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = |overlap: &str, dir: &str| {
        study::run(
            &spec(overlap),
            &RunOptions {
                out: tmp.path().join(dir),
                ..RunOptions::default()
            },
        )
        .unwrap()
        .summary
    };
    let value = |summary: &meta_router::study::record::Summary, metric: &str| {
        summary
            .rows
            .iter()
            .find(|r| r.metric == metric && r.versus.is_none())
            .and_then(|r| r.mean)
            .unwrap_or_else(|| panic!("no {metric}"))
    };
    let summary = run("", "default");
    assert!(
        value(&summary, "overlap.pref_inside") < 0.9,
        "the default overlap rule must trim at γ = 1"
    );
    let band = 4.0 * (LEVEL * (1.0 - LEVEL) / R as f64).sqrt();
    for target in [
        "theta_delta",
        "theta_psi",
        "mean_delta",
        "mean_psi",
        "blp_hc1.0",
        "blp_hc1.1",
    ] {
        let coverage = value(&summary, &format!("{target}.coverage"));
        assert!(
            (coverage - LEVEL).abs() <= band,
            "{target}: coverage {coverage}"
        );
    }
    let low = value(&summary, "blp_hc1.1.coverage_low_se");
    assert!(low > 0.86, "slope coverage in the lowest SE third {low}");
    let untrimmed = run("overlap = \"none\"", "none");
    let low = value(&untrimmed, "blp_hc1.1.coverage_low_se");
    assert!(
        low < 0.86,
        "the untrimmed slope should under-cover in its lowest SE third: {low}"
    );
}

/// Per replicate of the policy value on the linear scenario: whether the
/// reported (Student-t) interval, the normal interval on the same SE and
/// the t interval with the SE divided by √2 cover the true value of the
/// learned policy, and the interval's df.
fn policy_replicate(
    n_gold: usize,
    n_pref: usize,
    seed: u64,
    truth_x: &Array2<f64>,
) -> ([bool; 3], f64) {
    use meta_router::inference::{policy_value, PolicySeeds, PolicyTarget};
    let data = draw(n_gold, n_pref, derive_seed(seed, &[1]));
    let config = MetaRouterConfig::new(Method::DrLearner)
        .with_learner(LearnerConfig::Ridge(RidgeParams::default()));
    let seeds = PolicySeeds {
        split: derive_seed(seed, &[2]),
        fit: FitSeeds {
            folds: derive_seed(seed, &[3]),
            learner: derive_seed(seed, &[4]),
        },
    };
    let fit = policy_value(&config, &data, 0.0, seeds, LEVEL, PolicyTarget::default()).unwrap();
    // E[ψ π | t = 0] over the PB law N(0, I₃), π = 1{ψ̂ > 0}.
    let psi_hat = fit.router.predict_psi(truth_x.view());
    let truth = truth_x
        .rows()
        .into_iter()
        .zip(psi_hat.iter())
        .map(|(s, &p)| {
            if p > 0.0 {
                0.5 + s[0] - 0.5 * s[1]
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / truth_x.nrows() as f64;
    let e = fit.estimate;
    let normal = Estimate::normal(e.estimate, e.se, LEVEL).unwrap();
    let shrunk = Estimate::student(e.estimate, e.se / 2f64.sqrt(), fit.df, LEVEL).unwrap();
    (
        [e.covers(truth), normal.covers(truth), shrunk.covers(truth)],
        fit.df,
    )
}

/// The policy value is an AIPW mean over the evaluation half whose GS part
/// lives on the routed GS rows only, each weighted by about `(1 − κ)/κ`, so
/// its SE comes from a small effective sample; `policy_value` reports a
/// Student-t interval on Satterthwaite's df. Here (100 GS rows, κ = 0.1: 50
/// in the evaluation half, about 33 routed) it must cover within 3 MCSE of
/// 0.95 over R = 600 replicates (band ±0.027), and the same interval with
/// the SE divided by √2 must fall outside the band. The truth of each
/// learned policy comes from 20 000 fixed PB-law draws (Monte Carlo SE
/// about 0.008, a tenth of the interval's SE).
///
/// Measured with this seed: t interval 0.952, normal interval 0.937
/// (median df 33); with 60 GS rows 0.965 and 0.957 (df 20), with 40 GS rows
/// 0.973 and 0.960 (df 15): on this linear design the t interval errs on
/// the wide side as the GS rows get fewer. The forest coverage study
/// (`results/coverage/forest`) is where the normal interval fails.
#[test]
fn policy_value_t_interval_covers_with_few_gold_rows() {
    const R: usize = 600;
    let mut rng = rng_from_seed(20261207);
    let truth_x =
        Array2::from_shape_fn((20_000, 3), |_| -> f64 { StandardNormal.sample(&mut rng) });
    let runs: Vec<([bool; 3], f64)> = (0..R as u64)
        .into_par_iter()
        .map(|r| policy_replicate(100, 900, derive_seed(20261207, &[r]), &truth_x))
        .collect();
    let rate = |j: usize| runs.iter().filter(|c| c.0[j]).count() as f64 / R as f64;
    let (t, normal, shrunk) = (rate(0), rate(1), rate(2));
    let mut df: Vec<f64> = runs.iter().map(|c| c.1).collect();
    df.sort_by(f64::total_cmp);
    let band = 3.0 * (LEVEL * (1.0 - LEVEL) / R as f64).sqrt();
    let report = format!(
        "t interval {t:.3}, normal interval {normal:.3}, t with SE/√2 {shrunk:.3}, median df {:.1}",
        df[R / 2]
    );
    eprintln!("{report}");
    assert!((t - LEVEL).abs() <= band, "{report}");
    assert!(
        (shrunk - LEVEL).abs() > band,
        "the band cannot tell an SE off by √2: {report}"
    );
}
