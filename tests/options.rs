//! Every estimator option, end to end, checked against a reconstruction from
//! the router's own cross-fitted quantities or against a metamorphic relation:
//! `pref_weight`, each `correction` rule, `assemble = "plugin"` and every
//! `normalize` rule.

mod common;

use common::{learner, normal_matrix, normal_vector, rng};
use meta_router::data::TrainingData;
use meta_router::learners::LearnerConfig;
use meta_router::meta::{Assemble, Correction, FitSeeds, MetaRouterConfig, Method, Normalize};
use ndarray::{concatenate, Array1, Array2, Axis};

const SEEDS: FitSeeds = FitSeeds {
    folds: 5,
    learner: 6,
};

/// ψ = s₁ + 0.5 s₂² (so a degree-2 final learner fits it), Δ = 0.3 + 0.4 s₃.
fn data(n: usize, m: usize, seed: u64) -> TrainingData {
    let mut g = rng(seed);
    let gold_x = normal_matrix(n, 3, &mut g);
    let pref_x = normal_matrix(m, 3, &mut g);
    let psi = |x: &Array2<f64>| x.column(0).to_owned() + 0.5 * x.column(1).mapv(|v| v * v);
    let delta = |x: &Array2<f64>| 0.3 + 0.4 * &x.column(2);
    let gold_y = psi(&gold_x) + 0.3 * normal_vector(n, &mut g);
    let pref_y = psi(&pref_x) - delta(&pref_x) + 0.3 * normal_vector(m, &mut g);
    TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap()
}

/// A fixed-penalty ridge: its fit depends on the data alone (no penalty
/// search that duplicated rows could change).
fn fixed_ridge(basis: &str) -> LearnerConfig {
    learner(&format!(
        "type = \"ridge\"\nbasis = \"{basis}\"\npenalty = 0.01"
    ))
}

fn config(method: Method) -> MetaRouterConfig {
    let mut config = MetaRouterConfig::new(method);
    config.learner = fixed_ridge("poly2");
    config.bias_learner = Some(fixed_ridge("linear"));
    config
}

fn max_abs_diff(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

fn test_x() -> Array2<f64> {
    normal_matrix(300, 3, &mut rng(99))
}

/// `pref_weight = 2` with in-sample corrections equals refitting the final
/// learner on the GS rows plus every corrected PB row twice.
#[test]
fn integer_pref_weight_equals_duplicated_pb_rows() {
    let data = data(80, 400, 1);
    for method in [Method::RLearner, Method::DrLearner] {
        let mut weighted = config(method);
        weighted.pref_weight = 2.0;
        weighted.correction = Correction::InSample;
        let router = weighted.fit(&data, SEEDS).unwrap();
        assert_eq!(router.diagnostics().correction, Some(Correction::InSample));
        let corrected = data.pref_y().to_owned() + router.predict_delta(data.pref_x()).unwrap();
        let x = concatenate(Axis(0), &[data.gold_x(), data.pref_x(), data.pref_x()]).unwrap();
        let y = concatenate(
            Axis(0),
            &[data.gold_y(), corrected.view(), corrected.view()],
        )
        .unwrap();
        let duplicated = fixed_ridge("poly2")
            .learner()
            .fit(x.view(), y.view(), None, 0)
            .unwrap();
        let diff = max_abs_diff(
            &router.predict_psi(test_x().view()),
            &duplicated.predict(test_x().view()),
        );
        assert!(diff < 1e-9, "{method:?}: {diff}");
    }
}

/// `correction = "out-of-fold"` equals refitting the bias stage without each
/// fold (on the router's own pseudo-outcomes, weights and folds) and
/// correcting that fold's PB rows with it.
#[test]
fn out_of_fold_corrections_match_a_manual_reconstruction() {
    let data = data(80, 400, 2);
    let n_gold = data.n_gold();
    for method in [Method::RLearner, Method::DrLearner] {
        let mut oof = config(method);
        oof.correction = Correction::OutOfFold;
        let router = oof.fit(&data, SEEDS).unwrap();
        assert_eq!(router.diagnostics().correction, Some(Correction::OutOfFold));
        let cf = router.cross_fitted().unwrap();
        let pooled_x = data.pooled_x();
        let mut correction = Array1::zeros(data.n_pref());
        for fold in 0..5 {
            let rows: Vec<usize> = (0..data.n_total())
                .filter(|&k| cf.folds[k] != fold)
                .collect();
            let model = fixed_ridge("linear")
                .learner()
                .fit(
                    pooled_x.select(Axis(0), &rows).view(),
                    cf.pseudo_outcome.select(Axis(0), &rows).view(),
                    Some(cf.weights.select(Axis(0), &rows).view()),
                    0,
                )
                .unwrap();
            let targets: Vec<usize> = (0..data.n_pref())
                .filter(|&j| cf.folds[n_gold + j] == fold)
                .collect();
            let predicted = model.predict(data.pref_x().select(Axis(0), &targets).view());
            for (&j, value) in targets.iter().zip(predicted) {
                correction[j] = value;
            }
        }
        let y = concatenate(
            Axis(0),
            &[
                data.gold_y(),
                (data.pref_y().to_owned() + &correction).view(),
            ],
        )
        .unwrap();
        let manual = fixed_ridge("poly2")
            .learner()
            .fit(pooled_x.view(), y.view(), None, 0)
            .unwrap();
        let diff = max_abs_diff(
            &router.predict_psi(test_x().view()),
            &manual.predict(test_x().view()),
        );
        assert!(diff < 1e-9, "{method:?}: {diff}");
        // In-sample corrections differ (the premise of the leave-own-row-out rule).
        let mut in_sample = oof.clone();
        in_sample.correction = Correction::InSample;
        let other = in_sample.fit(&data, SEEDS).unwrap();
        assert!(
            max_abs_diff(
                &other.predict_psi(test_x().view()),
                &manual.predict(test_x().view())
            ) > 1e-6
        );
    }
}

/// With a forest in the bias stage, an explicit `out-of-fold` rule is used
/// (not the out-of-bag default), reported, and reproducible.
#[test]
fn explicit_out_of_fold_with_a_forest() {
    let data = data(120, 600, 3);
    let mut forest = config(Method::RLearner);
    forest.bias_learner = Some(learner(
        "type = \"forest\"\ntrees = 20\nmin_weight_leaf = 0.01",
    ));
    let auto = forest.fit(&data, SEEDS).unwrap();
    assert_eq!(auto.diagnostics().correction, Some(Correction::OutOfBag));
    forest.correction = Correction::OutOfFold;
    let a = forest.fit(&data, SEEDS).unwrap();
    let b = forest.fit(&data, SEEDS).unwrap();
    assert_eq!(a.diagnostics().correction, Some(Correction::OutOfFold));
    assert!(a
        .diagnostics()
        .learners
        .keys()
        .any(|k| k.starts_with("bias_fold.")));
    assert_eq!(
        a.predict_psi(test_x().view()),
        b.predict_psi(test_x().view())
    );
    assert!(
        max_abs_diff(
            &a.predict_psi(test_x().view()),
            &auto.predict_psi(test_x().view())
        ) > 1e-9
    );
}

/// `assemble = "plugin"`: ψ̂ = η̂ + Δ̂ with η̂ the final learner on the PB rows.
#[test]
fn plugin_is_eta_plus_delta() {
    let data = data(80, 400, 4);
    for method in [Method::RLearner, Method::DrLearner] {
        let mut plugin = config(method);
        plugin.assemble = Assemble::Plugin;
        let router = plugin.fit(&data, SEEDS).unwrap();
        let eta = fixed_ridge("poly2")
            .learner()
            .fit(data.pref_x(), data.pref_y(), None, 0)
            .unwrap();
        let x = test_x();
        let expected = eta.predict(x.view()) + router.predict_delta(x.view()).unwrap();
        let diff = max_abs_diff(&router.predict_psi(x.view()), &expected);
        assert!(diff < 1e-12, "{method:?}: {diff}");
        assert_eq!(router.diagnostics().correction, None);
    }
}

/// Every normalization rule returns ψ̂ in GS units: multiplying the GS labels
/// by `a` multiplies `c` by `1/a`, leaves `c·r` — hence every fit and Δ̂ —
/// unchanged, and multiplies ψ̂ by `a`.
#[test]
fn every_normalization_is_equivariant_in_the_gold_scale() {
    let base = data(100, 500, 5);
    let scaled = base.map_labels(|r| 3.0 * r, |y| y);
    let x = test_x();
    for normalize in [
        Normalize::Variance,
        Normalize::Magnitude,
        Normalize::Wasserstein,
    ] {
        for method in [Method::RLearner, Method::DrLearner] {
            let mut c = config(method);
            c.normalize = normalize;
            let one = c.fit(&base, SEEDS).unwrap();
            let three = c.fit(&scaled, SEEDS).unwrap();
            assert!(
                (three.scale() * 3.0 / one.scale() - 1.0).abs() < 1e-12,
                "{normalize:?}: c = {} vs {}",
                one.scale(),
                three.scale()
            );
            let delta_one = one.predict_delta(x.view()).unwrap();
            let delta_three = three.predict_delta(x.view()).unwrap();
            assert!(
                max_abs_diff(&delta_one, &delta_three) < 1e-9,
                "{normalize:?}"
            );
            let psi = 3.0 * one.predict_psi(x.view());
            assert!(
                max_abs_diff(&three.predict_psi(x.view()), &psi) < 1e-8,
                "{normalize:?} {method:?}"
            );
        }
    }
}

/// Nuisances in sample (`cross_fit = false`, the authors' script): `μ̂` is one
/// model fit on every row predicting every row.
#[test]
fn in_sample_nuisances_are_one_fit_on_all_rows() {
    let data = data(80, 400, 6);
    let mut config = config(Method::RLearner);
    config.cross_fit = false;
    let router = config.fit(&data, SEEDS).unwrap();
    let mu = router.cross_fitted().unwrap().mean_outcome.clone().unwrap();
    let pooled_x = data.pooled_x();
    let all = fixed_ridge("poly2")
        .learner()
        .fit(pooled_x.view(), data.pooled_y().view(), None, 0)
        .unwrap();
    assert!(max_abs_diff(&mu, &all.predict(pooled_x.view())) < 1e-10);
}

/// `dr_outcome = "joint"`: μ̂₁ and μ̂₀ are one model on `[s, t]` evaluated at
/// `t = 1` and `t = 0` (checked in sample, so the model is the full fit).
#[test]
fn joint_dr_outcome_model_evaluates_one_fit_at_both_arms() {
    use meta_router::meta::DrOutcome;
    let data = data(80, 400, 7);
    let mut config = config(Method::DrLearner);
    config.cross_fit = false;
    config.dr_outcome = DrOutcome::Joint;
    let router = config.fit(&data, SEEDS).unwrap();
    let cf = router.cross_fitted().unwrap();
    let x = data.pooled_x();
    let t = data.pooled_t();
    let with = |v: f64| {
        concatenate(
            Axis(1),
            &[x.view(), Array2::from_elem((x.nrows(), 1), v).view()],
        )
        .unwrap()
    };
    let joint = fixed_ridge("poly2")
        .learner()
        .fit(
            concatenate(Axis(1), &[x.view(), t.view().insert_axis(Axis(1))])
                .unwrap()
                .view(),
            data.pooled_y().view(),
            None,
            0,
        )
        .unwrap();
    assert!(
        max_abs_diff(
            cf.mean_gold.as_ref().unwrap(),
            &joint.predict(with(1.0).view())
        ) < 1e-10
    );
    assert!(
        max_abs_diff(
            cf.mean_pref.as_ref().unwrap(),
            &joint.predict(with(0.0).view())
        ) < 1e-10
    );
}

/// `delta_clip` bounds every Δ̂.
#[test]
fn delta_clip_bounds_the_bias() {
    let data = data(80, 400, 8);
    let mut config = config(Method::DrLearner);
    config.delta_clip = Some(0.35);
    let router = config.fit(&data, SEEDS).unwrap();
    let delta = router.predict_delta(test_x().view()).unwrap();
    assert!(delta.iter().all(|d| d.abs() <= 0.35));
    assert!(
        delta.iter().any(|d| (d.abs() - 0.35).abs() < 1e-15),
        "the clip binds somewhere"
    );
}

/// `bias_leaf = "normalized"` and `"r-split"` (DR-learner, forest bias
/// learner): reproducible fits that differ from the default leaves and from
/// each other, the leaf rule reported, and refused (naming `bias_leaf`) for
/// the R-learner or a non-forest bias learner.
#[test]
fn dr_normalized_and_r_split_leaves() {
    use meta_router::meta::BiasLeaf;
    let data = data(100, 900, 11);
    let mut dr = config(Method::DrLearner);
    dr.bias_learner = Some(learner("type = \"forest\"\ntrees = 20"));
    let default = dr.fit(&data, SEEDS).unwrap().predict_psi(test_x().view());
    let mut fits = Vec::new();
    for rule in [BiasLeaf::Normalized, BiasLeaf::RSplit] {
        let mut variant = dr.clone();
        variant.bias_leaf = rule;
        let a = variant.fit(&data, SEEDS).unwrap();
        let b = variant.fit(&data, SEEDS).unwrap();
        let psi = a.predict_psi(test_x().view());
        assert_eq!(psi, b.predict_psi(test_x().view()));
        assert!(psi.iter().all(|v| v.is_finite()));
        assert!(max_abs_diff(&psi, &default) > 1e-6, "{rule:?}");
        let rule_value = a.diagnostics().learners["bias.min_weight_leaf"];
        assert!(rule_value > 0.0 && rule_value <= 0.5);
        fits.push(psi);
    }
    assert!(max_abs_diff(&fits[0], &fits[1]) > 1e-6);
    for (method, bias, rule) in [
        (
            Method::RLearner,
            "type = \"forest\"\ntrees = 20",
            BiasLeaf::RSplit,
        ),
        (
            Method::RLearner,
            "type = \"forest\"\ntrees = 20",
            BiasLeaf::Normalized,
        ),
        (Method::DrLearner, "type = \"ridge\"", BiasLeaf::RSplit),
        (Method::DrLearner, "type = \"ridge\"", BiasLeaf::Normalized),
    ] {
        let mut refused = config(method);
        refused.bias_learner = Some(learner(bias));
        refused.bias_leaf = rule;
        let error = refused.fit(&data, SEEDS).unwrap_err().to_string();
        assert!(error.contains("bias_leaf"), "{error}");
    }
}
