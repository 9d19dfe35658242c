//! Behaviour of the Meta-Router estimators: recovery of a known Δ and ψ,
//! metamorphic relations, and bad input.

mod common;

use common::{learner, linear_ridge, mse, normal_matrix, normal_vector, rng};
use meta_router::data::TrainingData;
use meta_router::meta::{FitSeeds, MetaRouterConfig, Method, Normalize};
use meta_router_core::Error;
use ndarray::{Array1, Array2, Axis};

const SEEDS: FitSeeds = FitSeeds {
    folds: 11,
    learner: 12,
};

fn psi(x: &Array2<f64>) -> Array1<f64> {
    x.column(0).to_owned() + 0.5 * &x.column(1)
}

fn delta(x: &Array2<f64>) -> Array1<f64> {
    0.5 + 0.5 * &x.column(2)
}

/// s ~ N(0, I₅), ψ = s₁ + 0.5 s₂, Δ = 0.5 + 0.5 s₃, GS and PB from one law,
/// label noise sd 0.5.
fn linear_data(n: usize, m: usize, seed: u64) -> TrainingData {
    let mut g = rng(seed);
    let gold_x = normal_matrix(n, 5, &mut g);
    let pref_x = normal_matrix(m, 5, &mut g);
    let gold_y = psi(&gold_x) + 0.5 * normal_vector(n, &mut g);
    let pref_y = psi(&pref_x) - delta(&pref_x) + 0.5 * normal_vector(m, &mut g);
    TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap()
}

#[test]
fn recovery_with_linear_ridge_and_failure_of_naive_learners() {
    let data = linear_data(2000, 20000, 1);
    let test_x = normal_matrix(5000, 5, &mut rng(2));
    let (true_psi, true_delta) = (psi(&test_x), delta(&test_x));
    for method in [Method::RLearner, Method::DrLearner] {
        let router = MetaRouterConfig::new(method)
            .with_learner(linear_ridge())
            .fit(&data, SEEDS)
            .unwrap();
        let mse_delta = mse(&router.predict_delta(test_x.view()).unwrap(), &true_delta);
        let mse_psi = mse(&router.predict_psi(test_x.view()), &true_psi);
        assert!(mse_delta < 0.01, "{method:?}: MSE_Δ = {mse_delta}");
        assert!(mse_psi < 0.01, "{method:?}: MSE_ψ = {mse_psi}");
    }
    for (method, floor) in [(Method::Pooled, 0.2), (Method::PbOnly, 0.3)] {
        let router = MetaRouterConfig::new(method)
            .with_learner(linear_ridge())
            .fit(&data, SEEDS)
            .unwrap();
        assert!(router.predict_delta(test_x.view()).is_none());
        let mse_psi = mse(&router.predict_psi(test_x.view()), &true_psi);
        assert!(mse_psi > floor, "{method:?}: MSE_ψ = {mse_psi}");
    }
}

#[test]
fn recovery_error_shrinks_with_sample_size() {
    let test_x = normal_matrix(2000, 5, &mut rng(3));
    let true_delta = delta(&test_x);
    let error = |n, m| {
        let router = MetaRouterConfig::new(Method::DrLearner)
            .with_learner(linear_ridge())
            .fit(&linear_data(n, m, 4), SEEDS)
            .unwrap();
        mse(&router.predict_delta(test_x.view()).unwrap(), &true_delta)
    };
    let small = error(200, 2000);
    let large = error(3200, 32000);
    // MSE of a parametric fit falls like 1/n: 16× the data, expect ≈ 1/16.
    assert!(large < small / 4.0, "small {small}, large {large}");
}

fn fit_predict(
    data: &TrainingData,
    method: Method,
    test_x: &Array2<f64>,
) -> (Array1<f64>, Array1<f64>) {
    let router = MetaRouterConfig::new(method)
        .with_learner(linear_ridge())
        .fit(data, SEEDS)
        .unwrap();
    (
        router.predict_delta(test_x.view()).unwrap(),
        router.predict_psi(test_x.view()),
    )
}

fn max_abs(a: &Array1<f64>) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn adding_a_constant_to_every_label_leaves_delta_unchanged() {
    let data = linear_data(300, 1500, 5);
    let test_x = normal_matrix(200, 5, &mut rng(6));
    for method in [Method::RLearner, Method::DrLearner] {
        let (d0, p0) = fit_predict(&data, method, &test_x);
        let (d1, p1) = fit_predict(&data.map_labels(|r| r + 3.0, |y| y + 3.0), method, &test_x);
        assert!(max_abs(&(&d1 - &d0)) < 1e-9, "{method:?}");
        assert!(max_abs(&(&p1 - &p0 - 3.0)) < 1e-9, "{method:?}");
    }
}

#[test]
fn adding_a_constant_to_gold_labels_shifts_delta_by_it() {
    let data = linear_data(300, 1500, 7);
    let test_x = normal_matrix(200, 5, &mut rng(8));
    let c = 0.75;
    // DR: μ̂₁ (intercept unpenalized) shifts by exactly c, so does every φ_k.
    let (d0, _) = fit_predict(&data, Method::DrLearner, &test_x);
    let (d1, _) = fit_predict(
        &data.map_labels(|r| r + c, |y| y),
        Method::DrLearner,
        &test_x,
    );
    assert!(max_abs(&(&d1 - &d0 - c)) < 1e-9);
    // R: the residual o − μ̂ shifts by c(t − m̂_t(s)) where m̂_t is the outcome
    // learner's fit of t, ≈ κ = p̂ but not exactly; the shift is c up to that.
    let (d0, _) = fit_predict(&data, Method::RLearner, &test_x);
    let (d1, _) = fit_predict(
        &data.map_labels(|r| r + c, |y| y),
        Method::RLearner,
        &test_x,
    );
    let shift = &d1 - &d0;
    assert!(
        max_abs(&(&shift - c)) < 0.02 * c,
        "R shift {:?}",
        shift.mean()
    );
}

#[test]
fn scaling_every_label_scales_delta_and_psi() {
    let data = linear_data(300, 1500, 9);
    let test_x = normal_matrix(200, 5, &mut rng(10));
    let k = -2.5;
    for method in [Method::RLearner, Method::DrLearner] {
        let (d0, p0) = fit_predict(&data, method, &test_x);
        let (d1, p1) = fit_predict(&data.map_labels(|r| k * r, |y| k * y), method, &test_x);
        assert!(max_abs(&(&d1 - &(k * &d0))) < 1e-9, "{method:?}");
        assert!(max_abs(&(&p1 - &(k * &p0))) < 1e-9, "{method:?}");
    }
}

#[test]
fn permuting_rows_with_their_folds_changes_nothing() {
    let data = linear_data(100, 400, 11);
    let test_x = normal_matrix(50, 5, &mut rng(12));
    let folds: Vec<usize> = (0..100)
        .map(|i| i % 5)
        .chain((0..400).map(|j| (j * 7) % 5))
        .collect();
    let gold_perm: Vec<usize> = (0..100).rev().collect();
    let pref_perm: Vec<usize> = (0..400).map(|j| (j * 37) % 400).collect();
    let permuted = TrainingData::new(
        data.gold_x().select(Axis(0), &gold_perm),
        data.gold_y().select(Axis(0), &gold_perm),
        data.pref_x().select(Axis(0), &pref_perm),
        data.pref_y().select(Axis(0), &pref_perm),
    )
    .unwrap();
    let permuted_folds: Vec<usize> = gold_perm
        .iter()
        .map(|&i| folds[i])
        .chain(pref_perm.iter().map(|&j| folds[100 + j]))
        .collect();
    for method in [Method::RLearner, Method::DrLearner] {
        let config = MetaRouterConfig::new(method).with_learner(linear_ridge());
        let a = config.fit_with_folds(&data, &folds, 3).unwrap();
        let b = config
            .fit_with_folds(&permuted, &permuted_folds, 3)
            .unwrap();
        let dd =
            &a.predict_delta(test_x.view()).unwrap() - &b.predict_delta(test_x.view()).unwrap();
        let dp = &a.predict_psi(test_x.view()) - &b.predict_psi(test_x.view());
        assert!(max_abs(&dd) < 1e-9 && max_abs(&dp) < 1e-9, "{method:?}");
    }
}

#[test]
fn same_seeds_same_router_and_folds_follow_the_seed() {
    let data = linear_data(100, 400, 13);
    let test_x = normal_matrix(20, 5, &mut rng(14));
    let config = MetaRouterConfig::new(Method::RLearner).with_learner(linear_ridge());
    let a = config.fit(&data, SEEDS).unwrap();
    let b = config.fit(&data, SEEDS).unwrap();
    assert_eq!(a.predict_psi(test_x.view()), b.predict_psi(test_x.view()));
    let c = config
        .fit(
            &data,
            FitSeeds {
                folds: 99,
                learner: 12,
            },
        )
        .unwrap();
    assert_ne!(
        a.cross_fitted().unwrap().folds,
        c.cross_fitted().unwrap().folds
    );
}

#[test]
fn normalization_returns_psi_in_gold_units() {
    // PB labels on a 3× scale: ψ̂ must stay in GS units and Δ̂ estimates 3ψ − η.
    let data = linear_data(1000, 5000, 15);
    let scaled = data.map_labels(|r| r, |y| 3.0 * y);
    let test_x = normal_matrix(2000, 5, &mut rng(16));
    let mut config = MetaRouterConfig::new(Method::DrLearner).with_learner(linear_ridge());
    config.normalize = Normalize::Variance;
    let router = config.fit(&scaled, SEEDS).unwrap();
    assert!(router.scale() > 2.0, "scale {}", router.scale());
    let mse_psi = mse(&router.predict_psi(test_x.view()), &psi(&test_x));
    assert!(mse_psi < 0.02, "MSE_ψ = {mse_psi}");
    assert_eq!(router.diagnostics().scale, router.scale());
}

#[test]
fn propensity_model_trimming_and_plugin_run_and_are_counted() {
    let data = linear_data(200, 800, 17);
    let mut config = MetaRouterConfig::new(Method::DrLearner).with_learner(linear_ridge());
    config.propensity = meta_router::meta::PropensityMode::Model;
    config.trim = 0.19;
    config.assemble = meta_router::meta::Assemble::Plugin;
    let router = config.fit(&data, SEEDS).unwrap();
    let diagnostics = router.diagnostics();
    let (lo, hi) = diagnostics.propensity_range;
    assert!(
        lo > 0.0 && hi < 1.0 && lo < 0.2 && hi > 0.2,
        "range {lo} {hi}"
    );
    assert!(
        diagnostics.trimmed > 0,
        "a logistic p̂ around κ = 0.2 must trim some rows at 0.19"
    );
    let kept = router
        .cross_fitted()
        .unwrap()
        .kept
        .iter()
        .filter(|&&k| !k)
        .count();
    assert_eq!(kept, diagnostics.trimmed);
}

#[test]
fn bad_input_gives_specific_errors() {
    let data = linear_data(4, 100, 19);
    let config = MetaRouterConfig::new(Method::RLearner).with_learner(linear_ridge());
    assert!(matches!(
        config.fit(&data, SEEDS),
        Err(Error::TooFewRows {
            rows: 4,
            folds: 5,
            ..
        })
    ));
    let data = linear_data(100, 3, 19);
    assert!(matches!(
        config.fit(&data, SEEDS),
        Err(Error::TooFewRows { rows: 3, .. })
    ));

    let data = linear_data(50, 100, 19);
    for clip in [0.0, 0.5, -0.1, f64::NAN] {
        let mut c = config.clone();
        c.clip = Some(clip);
        assert!(
            matches!(c.fit(&data, SEEDS), Err(Error::InvalidParameter { ref name, .. }) if name == "clip"),
            "clip {clip}"
        );
    }
    let mut c = config.clone();
    c.folds = 1;
    assert!(
        matches!(c.fit(&data, SEEDS), Err(Error::InvalidParameter { ref name, .. }) if name == "folds")
    );
    let mut c = config.clone();
    c.pref_weight = -1.0;
    assert!(
        matches!(c.fit(&data, SEEDS), Err(Error::InvalidParameter { ref name, .. }) if name == "pref_weight")
    );
    let c = MetaRouterConfig::new(Method::RLearner)
        .with_learner(learner("type = \"ridge\"\npenalty = -1.0"));
    assert!(matches!(
        c.fit(&data, SEEDS),
        Err(Error::InvalidParameter { .. })
    ));

    // Non-finite data, mismatched rows and dimensions, empty sources.
    let x = Array2::zeros((3, 2));
    let bad_x =
        Array2::from_shape_vec((3, 2), vec![0.0, 1.0, f64::INFINITY, 0.0, 1.0, 2.0]).unwrap();
    let y = Array1::zeros(3);
    assert!(matches!(
        TrainingData::new(bad_x, y.clone(), x.clone(), y.clone()),
        Err(Error::NonFinite { row: 1, .. })
    ));
    let nan_y = Array1::from(vec![0.0, f64::NAN, 0.0]);
    assert!(matches!(
        TrainingData::new(x.clone(), y.clone(), x.clone(), nan_y),
        Err(Error::NonFinite { row: 1, .. })
    ));
    assert!(matches!(
        TrainingData::new(x.clone(), Array1::zeros(2), x.clone(), y.clone()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        TrainingData::new(x.clone(), y.clone(), Array2::zeros((3, 4)), y.clone()),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        TrainingData::new(
            Array2::zeros((0, 2)),
            Array1::zeros(0),
            x.clone(),
            y.clone()
        ),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        TrainingData::new(x, y, Array2::zeros((0, 2)), Array1::zeros(0)),
        Err(Error::Empty { .. })
    ));

    // Weights: negative and non-finite values are rejected by every learner.
    let lin = linear_ridge();
    let xs = Array2::from_shape_fn((10, 2), |(i, j)| (i * (j + 1)) as f64);
    let ys = Array1::from_shape_fn(10, |i| i as f64);
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let mut w = Array1::ones(10);
        w[4] = bad;
        let result = lin.learner().fit(xs.view(), ys.view(), Some(w.view()), 0);
        assert!(
            matches!(result, Err(Error::InvalidWeight { row: 4, .. })),
            "weight {bad}"
        );
    }
}

/// The paper's all-forest setting runs through both meta-learners: forest
/// nuisances, a weight-aware forest bias stage with out-of-bag corrections,
/// and a forest final learner.
#[test]
fn all_forest_setting_runs_with_out_of_bag_corrections() {
    let data = linear_data(200, 1800, 21);
    let test_x = normal_matrix(500, 5, &mut rng(22));
    let forest = learner("type = \"forest\"\ntrees = 40");
    let bias = learner(
        "type = \"forest\"\npreset = \"paper-bias-stage\"\ntrees = 60\nmin_weight_leaf = 0.01",
    );
    for method in [Method::RLearner, Method::DrLearner] {
        let mut config = MetaRouterConfig::new(method).with_learner(forest.clone());
        config.bias_learner = Some(bias.clone());
        let router = config.fit(&data, SEEDS).unwrap();
        let diagnostics = router.diagnostics();
        assert_eq!(
            diagnostics.correction,
            Some(meta_router::meta::Correction::OutOfBag)
        );
        let mse_psi = mse(&router.predict_psi(test_x.view()), &psi(&test_x));
        let mse_delta = mse(
            &router.predict_delta(test_x.view()).unwrap(),
            &delta(&test_x),
        );
        // Var ψ = 1.25 and Var Δ = 0.25 here; the forests must explain most of both.
        assert!(mse_psi < 0.4, "{method:?}: MSE_ψ = {mse_psi}");
        assert!(mse_delta < 0.15, "{method:?}: MSE_Δ = {mse_delta}");
    }
}

/// The oracle R-learner is unbiased where the clip binds: with a random
/// split at κ = 0.02 every true `p = 0.02` is clipped to ε = 0.05, and the
/// oracle's `μ` must be built from the same clipped `p̂` as the residual
/// `t − p̂` (`E[(o − μ)(t − p̂) | s] = Δ·E[(t − p̂)² | s]`). Built from the
/// true `p`, the stage estimates `Δ·p(1 − p)/(p(1 − p) + (p − p̂)²)`, an
/// attenuation by 0.956 (a slope error of 0.022 here); with label noise
/// sd 0.1 and 4000 GS rows the linear bias stage's SE is about 0.002.
#[test]
fn oracle_r_learner_is_unbiased_when_the_clip_binds() {
    use meta_router::meta::{Nuisances, OracleNuisances};
    let (n, m) = (4000, 196_000);
    let mut g = rng(29);
    let gold_x = normal_matrix(n, 5, &mut g);
    let pref_x = normal_matrix(m, 5, &mut g);
    let gold_y = psi(&gold_x) + 0.1 * normal_vector(n, &mut g);
    let pref_y = psi(&pref_x) - delta(&pref_x) + 0.1 * normal_vector(m, &mut g);
    let data = TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap();
    let x = data.pooled_x();
    let kappa = data.kappa();
    let oracle = OracleNuisances {
        propensity: Array1::from_elem(n + m, kappa),
        psi: psi(&x),
        eta: psi(&x) - delta(&x),
    };
    let config = MetaRouterConfig {
        nuisances: Nuisances::Oracle,
        ..MetaRouterConfig::new(Method::RLearner).with_learner(linear_ridge())
    };
    assert_eq!(config.clip_level(), 0.05);
    let router = config.fit_with_oracle(&data, SEEDS, &oracle).unwrap();
    assert!(
        router.diagnostics().clipped == n + m,
        "the clip binds on every row"
    );
    // Δ̂ at s₃ = ±1 (other features 0): 0.5 ± 0.5 without attenuation.
    let probe = Array2::from_shape_fn((2, 5), |(i, j)| {
        if j == 2 {
            if i == 0 {
                1.0
            } else {
                -1.0
            }
        } else {
            0.0
        }
    });
    let d = router.predict_delta(probe.view()).unwrap();
    let slope = (d[0] - d[1]) / 2.0;
    let intercept = (d[0] + d[1]) / 2.0;
    assert!((slope - 0.5).abs() < 0.008, "slope {slope}");
    assert!((intercept - 0.5).abs() < 0.008, "intercept {intercept}");
}

/// A truncated Meta-Router: the bias stage keeps only the overlap region's
/// rows, the region is stored with the router and answers for new queries,
/// and the setting is refused where it cannot apply.
#[test]
fn truncated_router_learns_on_the_overlap_region_only() {
    use meta_router::meta::overlap::OverlapRule;
    use meta_router::meta::PropensityMode;
    // GS queries shifted by +1.5 in s₁: PB queries at low s₁ have p ≈ 0.
    let mut g = rng(31);
    let mut gold_x = normal_matrix(300, 5, &mut g);
    gold_x.column_mut(0).mapv_inplace(|v| v + 1.5);
    let pref_x = normal_matrix(3000, 5, &mut g);
    let gold_y = psi(&gold_x) + 0.5 * normal_vector(300, &mut g);
    let pref_y = psi(&pref_x) - delta(&pref_x) + 0.5 * normal_vector(3000, &mut g);
    let data = TrainingData::new(gold_x, gold_y, pref_x.clone(), pref_y).unwrap();
    let config = MetaRouterConfig {
        propensity: PropensityMode::Model,
        truncate: OverlapRule::Crump,
        ..MetaRouterConfig::new(Method::DrLearner).with_learner(linear_ridge())
    };
    let router = config.fit(&data, SEEDS).unwrap();
    let region = router
        .overlap()
        .expect("a truncated router keeps its region");
    assert!(
        region.alpha > 0.0 && region.alpha < 0.5,
        "α {}",
        region.alpha
    );
    let cf = router.cross_fitted().unwrap();
    let inside = router.in_overlap(data.pooled_x().view());
    // Exactly the rows inside (and not trimmed otherwise) entered the stage.
    assert_eq!(cf.kept, inside);
    let pref_inside = inside[300..].iter().filter(|&&k| k).count();
    assert!(
        pref_inside > 300 && pref_inside < 3000,
        "PB rows inside: {pref_inside}"
    );
    let map = router.diagnostics().to_map();
    assert_eq!(map["truncate.alpha"], region.alpha);
    assert!((map["truncate.pref_inside"] - pref_inside as f64 / 3000.0).abs() < 1e-15);
    // The saved models predict and place queries as the fitted router does.
    let reloaded =
        meta_router::meta::FittedRouter::from_models(router.models()).expect("valid models");
    assert_eq!(
        reloaded.in_overlap(pref_x.view()),
        router.in_overlap(pref_x.view())
    );
    assert_eq!(
        reloaded.predict_psi(pref_x.view()),
        router.predict_psi(pref_x.view())
    );
    // Refused: a constant propensity, a baseline, a bad threshold.
    for (bad, needle) in [
        (
            MetaRouterConfig {
                truncate: OverlapRule::Crump,
                ..MetaRouterConfig::new(Method::DrLearner)
            },
            "propensity",
        ),
        (
            MetaRouterConfig {
                truncate: OverlapRule::Crump,
                propensity: PropensityMode::Model,
                ..MetaRouterConfig::new(Method::Pooled)
            },
            "R- and DR-learners",
        ),
        (
            MetaRouterConfig {
                truncate: OverlapRule::Threshold(0.7),
                propensity: PropensityMode::Model,
                ..MetaRouterConfig::new(Method::DrLearner)
            },
            "(0, 0.5)",
        ),
    ] {
        let message = bad.fit(&data, SEEDS).unwrap_err().to_string();
        assert!(
            message.contains("truncate") && message.contains(needle),
            "{message}"
        );
    }
}

/// A perturbed oracle (`oracle_error`) shows double robustness exactly: with
/// `p ≡ 1/2`, an outcome error `δ_μ` and a logit error `δ_p` (both constant:
/// rates 0), the DR stage estimates `Δ + δ_μ(p̃ − p)/(p̃(1 − p̃))`, so its bias
/// is the product of the errors and vanishes when either is zero; the
/// R-learner estimates `(Δ·p(1 − p) + δ_μ·e_p)/(p(1 − p) + e_p²)`, `e_p = p̃ − p`,
/// which keeps a slope attenuation `p(1 − p)/(p(1 − p) + e_p²)` even when the
/// outcome is exact. 20 000 rows per arm, label noise sd 0.1: the linear
/// stage's intercept and slope have SEs near 0.002.
#[test]
fn perturbed_oracle_bias_is_the_product_of_the_nuisance_errors() {
    use meta_router::meta::{Nuisances, OracleError, OracleNuisances};
    let n = 20_000;
    let mut g = rng(37);
    let gold_x = normal_matrix(n, 5, &mut g);
    let pref_x = normal_matrix(n, 5, &mut g);
    let gold_y = psi(&gold_x) + 0.1 * normal_vector(n, &mut g);
    let pref_y = psi(&pref_x) - delta(&pref_x) + 0.1 * normal_vector(n, &mut g);
    let data = TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap();
    let x = data.pooled_x();
    let oracle = OracleNuisances {
        propensity: Array1::from_elem(2 * n, 0.5),
        psi: psi(&x),
        eta: psi(&x) - delta(&x),
    };
    // Δ̂ at s₃ = ±1 (other features 0): true intercept 0.5, slope 0.5.
    let probe = Array2::from_shape_fn((2, 5), |(i, j)| match (i, j) {
        (0, 2) => 1.0,
        (1, 2) => -1.0,
        _ => 0.0,
    });
    let fit = |method: Method, delta_mu: f64, delta_p: f64| {
        let config = MetaRouterConfig {
            nuisances: Nuisances::Oracle,
            oracle_error: Some(OracleError {
                outcome: delta_mu,
                outcome_rate: 0.0,
                propensity: delta_p,
                propensity_rate: 0.0,
            }),
            ..MetaRouterConfig::new(method).with_learner(linear_ridge())
        };
        let router = config.fit_with_oracle(&data, SEEDS, &oracle).unwrap();
        let d = router.predict_delta(probe.view()).unwrap();
        ((d[0] + d[1]) / 2.0, (d[0] - d[1]) / 2.0)
    };
    let (dmu, dp): (f64, f64) = (0.3, 0.4);
    let p_tilde: f64 = 1.0 / (1.0 + (-dp).exp());
    let e_p = p_tilde - 0.5;
    let tol = 0.01;
    // DR: bias δ_μ·e_p/(p̃(1 − p̃)) in the intercept only; none with one exact nuisance.
    let product = dmu * e_p / (p_tilde * (1.0 - p_tilde));
    let (intercept, slope) = fit(Method::DrLearner, dmu, dp);
    assert!(
        (intercept - 0.5 - product).abs() < tol,
        "DR {intercept} vs {}",
        0.5 + product
    );
    assert!((slope - 0.5).abs() < tol, "DR slope {slope}");
    for (a, b) in [(dmu, 0.0), (0.0, dp)] {
        let (intercept, slope) = fit(Method::DrLearner, a, b);
        assert!(
            (intercept - 0.5).abs() < tol,
            "DR ({a}, {b}) intercept {intercept}"
        );
        assert!((slope - 0.5).abs() < tol, "DR ({a}, {b}) slope {slope}");
    }
    // R: (Δ·p(1−p) + δ_μ·e_p)/(p(1−p) + e_p²).
    let denominator = 0.25 + e_p * e_p;
    let (intercept, slope) = fit(Method::RLearner, dmu, dp);
    let expected = (
        (0.5 * 0.25 + dmu * e_p) / denominator,
        0.5 * 0.25 / denominator,
    );
    assert!(
        (intercept - expected.0).abs() < tol,
        "R {intercept} vs {}",
        expected.0
    );
    assert!(
        (slope - expected.1).abs() < tol,
        "R slope {slope} vs {}",
        expected.1
    );
    // R with the outcome exact: the attenuation 0.25/(0.25 + e_p²) = 0.963 remains.
    let (intercept, slope) = fit(Method::RLearner, 0.0, dp);
    assert!((slope - expected.1).abs() < tol && (intercept - expected.1).abs() < tol);
    assert!(
        0.5 - slope > 3.0 * 0.002,
        "the attenuation is visible: {slope}"
    );
    // The sizes decay as N^(−rate): N = 40 000 rows, rate 1/2 → scale/200.
    let error = OracleError {
        outcome: 2.0,
        outcome_rate: 0.5,
        propensity: 1.0,
        propensity_rate: 0.0,
    };
    assert_eq!(error.sizes(2 * n), (0.01, 1.0));
    // Refused without oracle nuisances, and for a negative rate.
    let estimated = MetaRouterConfig {
        oracle_error: Some(error),
        ..MetaRouterConfig::new(Method::DrLearner)
    };
    match estimated.validate() {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "oracle_error"),
        other => panic!("{other:?}"),
    }
    let negative = MetaRouterConfig {
        nuisances: Nuisances::Oracle,
        oracle_error: Some(OracleError {
            outcome_rate: -1.0,
            ..error
        }),
        ..MetaRouterConfig::new(Method::DrLearner)
    };
    match negative.validate() {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "oracle_error.outcome_rate"),
        other => panic!("{other:?}"),
    }
}
