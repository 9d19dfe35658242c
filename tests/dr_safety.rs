//! The default clip of an estimated propensity keeps the DR-learner's bias
//! stage stable: Nie & Wager setup A (N = 500, d = 6, σ = 1), DR with
//! ridge-poly2 outcome and bias models, `propensity = "model"` with the
//! default (linear logistic) and a degree-2 logistic propensity learner,
//! 50 seeded replicates each. The old default ε = 1e-3 with the degree-2
//! logistic is the measured failure (`docs/method.md` §2.2).
//!
//! Run alone: `cargo test --release --test dr_safety -- --nocapture` (prints
//! the means and Monte Carlo SEs).

mod common;

use common::learner;
use meta_router::dgp::{NieWager, NieWagerParams, NieWagerSetup, Scenario};
use meta_router::meta::{
    Assemble, FitSeeds, MetaRouterConfig, Method, Nuisances, OracleNuisances, PropensityMode,
    DEFAULT_CLIP_MODEL,
};
use meta_router::rng::{stream, Purpose};
use meta_router_core::Error;

const REPLICATES: u64 = 50;
const SEED: u64 = 20261130;

/// DR with ridge-poly2 nuisances and bias stage and an estimated propensity
/// (plug-in assembly: the test only reads Δ̂, which the assembly leaves alone).
fn dr(propensity_learner: Option<&str>, clip: Option<f64>) -> MetaRouterConfig {
    let mut config = MetaRouterConfig::new(Method::DrLearner)
        .with_learner(learner("type = \"ridge\"\nbasis = \"poly2\""));
    config.propensity = PropensityMode::Model;
    if let Some(body) = propensity_learner {
        config.propensity_learner = learner(body);
    }
    config.clip = clip;
    config.assemble = Assemble::Plugin;
    config
}

/// Per-replicate MSE of Δ̂ on the test queries, and the largest residual
/// weight and clipped share seen.
fn replicate_mse(config: &MetaRouterConfig) -> (Vec<f64>, f64, f64) {
    let params = NieWagerParams {
        n_total: 500,
        n_test: 500,
        ..NieWagerParams::default()
    };
    let scenario = NieWager::new(NieWagerSetup::A, params).unwrap();
    let (mut mse, mut max_weight, mut clipped) = (Vec::new(), 0.0f64, 0.0f64);
    for replicate in 0..REPLICATES {
        let data = scenario
            .draw(&mut stream(SEED, 0, replicate, Purpose::Data))
            .unwrap();
        let seeds = FitSeeds {
            folds: SEED + replicate,
            learner: SEED + 1000 + replicate,
        };
        let router = config.fit(&data.train, seeds).unwrap();
        let delta = router.predict_delta(data.test_x.view()).unwrap();
        let error = &delta - &data.test_delta;
        mse.push(error.mapv(|v| v * v).mean().unwrap());
        let stage = router.diagnostics().bias_stage.clone().unwrap();
        max_weight = max_weight.max(stage.max_weight);
        clipped = clipped.max(stage.clipped_fraction);
    }
    (mse, max_weight, clipped)
}

/// Mean and Monte Carlo SE.
fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

const POLY2_LOGISTIC: &str = "type = \"logistic\"\nbasis = \"poly2\"\npenalty = 1e-3";

#[test]
fn estimated_propensity_default_clip_keeps_dr_bounded() {
    let unset = dr(Some(POLY2_LOGISTIC), None);
    assert_eq!(unset.clip_level(), DEFAULT_CLIP_MODEL);

    let mut results = Vec::new();
    for (name, config) in [
        ("default logistic, default clip", dr(None, None)),
        ("poly2 logistic, default clip", unset),
        (
            "poly2 logistic, clip 1e-3 (old)",
            dr(Some(POLY2_LOGISTIC), Some(1e-3)),
        ),
    ] {
        let (mse, max_weight, clipped) = replicate_mse(&config);
        let (mean, se) = mean_se(&mse);
        eprintln!(
            "{name}: MSE(Δ̂) {mean:.4} ± {se:.4}, max replicate {:.4}, max weight {max_weight:.1}, \
             max clipped share {clipped:.3}",
            mse.iter().cloned().fold(0.0, f64::max)
        );
        assert!(mse.iter().all(|v| v.is_finite()), "{name}: non-finite MSE");
        results.push((mean, se, max_weight, mse));
    }
    // With the default clip every weight is at most 1/0.05 = 20, and the MSE
    // stays bounded (measured means below 0.3, see the module docs): 1.0 is
    // far in the tail of its Monte Carlo spread.
    for (mean, se, max_weight, _) in &results[..2] {
        assert!(*max_weight <= 1.0 / DEFAULT_CLIP_MODEL + 1e-9);
        assert!(mean + 4.0 * se < 1.0, "MSE {mean} ± {se}");
    }
    // The old ε = 1e-3 is the failure: weights far beyond 20, and a heavy
    // tail of replicates whose MSE explodes. Its mean is too heavy-tailed for
    // an MCSE bound, so the comparison is a paired sign test (same data, same
    // folds): with no difference the count of replicates where the old clip
    // does worse is Binomial(50, 1/2), and P(count >= 40) < 1e-5.
    let (old_mean, _, old_weight, old) = &results[2];
    let (new_mean, _, _, new) = &results[1];
    assert!(
        *old_weight > 1.0 / DEFAULT_CLIP_MODEL,
        "old weights {old_weight}"
    );
    let worse = old.iter().zip(new).filter(|(a, b)| a > b).count();
    let new_worst = new.iter().cloned().fold(0.0, f64::max);
    let old_worst = old.iter().cloned().fold(0.0, f64::max);
    eprintln!(
        "old clip worse in {worse} of {REPLICATES} replicates; worst {old_worst} vs {new_worst}"
    );
    assert!(
        worse >= 40,
        "old {old_mean} vs new {new_mean}: the old clip is worse in only {worse} replicates"
    );
    assert!(
        old_worst > 10.0 * new_worst,
        "worst {old_worst} vs {new_worst}"
    );
}

#[test]
fn clip_default_depends_on_the_propensity_mode_and_a_written_clip_is_kept() {
    let parse = |body: &str| -> MetaRouterConfig { toml::from_str(body).unwrap() };
    let constant = parse("method = \"dr-learner\"");
    assert_eq!(constant.clip, None);
    assert_eq!(constant.clip_level(), 1e-3);
    let model = parse("method = \"dr-learner\"\npropensity = \"model\"");
    assert_eq!(model.clip_level(), DEFAULT_CLIP_MODEL);
    let written = parse("method = \"dr-learner\"\npropensity = \"model\"\nclip = 0.001");
    assert_eq!(written.clip, Some(0.001));
    assert_eq!(written.clip_level(), 0.001);
    assert!(written.warnings().iter().any(|w| w.contains("ε = 0.001")));
    assert!(model.warnings().is_empty());
    let oracle = parse("method = \"r-learner\"\nnuisances = \"oracle\"");
    assert_eq!(oracle.clip_level(), DEFAULT_CLIP_MODEL);
}

/// Setup A draws for the cheap tests below.
fn setup_a(replicate: u64) -> meta_router::dgp::SimulatedData {
    let params = NieWagerParams {
        n_total: 400,
        n_test: 400,
        ..NieWagerParams::default()
    };
    NieWager::new(NieWagerSetup::A, params)
        .unwrap()
        .draw(&mut stream(SEED, 1, replicate, Purpose::Data))
        .unwrap()
}

#[test]
fn bias_stage_weights_reach_the_records_unless_the_propensity_is_constant() {
    let data = setup_a(0);
    let seeds = FitSeeds {
        folds: 1,
        learner: 2,
    };
    let constant = MetaRouterConfig::new(Method::DrLearner)
        .with_learner(learner("type = \"ridge\"\nbasis = \"poly2\""));
    let router = constant.fit(&data.train, seeds).unwrap();
    let stage = router.diagnostics().bias_stage.clone().unwrap();
    // p̂ ≡ κ: GS rows weigh 1/κ, PB rows 1/(1 − κ).
    let kappa = router.diagnostics().kappa;
    assert!((stage.max_weight - 1.0 / kappa.min(1.0 - kappa)).abs() < 1e-12);
    assert!(stage.constant_propensity && !stage.dominated);
    assert!(!router
        .diagnostics()
        .to_map()
        .keys()
        .any(|k| k.starts_with("bias_stage.")));

    for method in [Method::RLearner, Method::DrLearner] {
        let mut config = constant.clone();
        config.method = method;
        config.propensity = PropensityMode::Model;
        config.propensity_learner = learner(POLY2_LOGISTIC);
        let router = config.fit(&data.train, seeds).unwrap();
        let map = router.diagnostics().to_map();
        for key in [
            "bias_stage.clipped_fraction",
            "bias_stage.max_weight",
            "bias_stage.effective_rows",
            "bias_stage.clipped_weight_share",
            "bias_stage.dominated",
        ] {
            assert!(map[key].is_finite(), "{method:?} {key}");
        }
        let rows = data.train.n_total() as f64;
        assert!(map["bias_stage.effective_rows"] > 0.0 && map["bias_stage.effective_rows"] <= rows);
        assert!(map["bias_stage.max_weight"] <= 1.0 / DEFAULT_CLIP_MODEL + 1e-9);
    }

    // ε = 1e-3 with one extreme p̂: the DR stage is flagged in some replicate.
    let mut old = constant.clone();
    old.propensity = PropensityMode::Model;
    old.propensity_learner = learner(POLY2_LOGISTIC);
    old.clip = Some(1e-3);
    let flagged = (0..10)
        .filter(|&r| {
            let router = old.fit(&setup_a(r).train, seeds).unwrap();
            router.diagnostics().bias_stage.as_ref().unwrap().dominated
        })
        .count();
    eprintln!("old clip: {flagged} of 10 replicates flagged");
    assert!(flagged > 0);
}

#[test]
fn oracle_nuisances_recover_delta_and_need_the_truth() {
    let data = setup_a(3);
    let seeds = FitSeeds {
        folds: 1,
        learner: 2,
    };
    let mut config = MetaRouterConfig::new(Method::RLearner)
        .with_learner(learner("type = \"ridge\"\nbasis = \"poly2\""));
    config.nuisances = Nuisances::Oracle;
    match config.fit(&data.train, seeds) {
        Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "nuisances"),
        other => panic!("{other:?}"),
    }
    let truth = OracleNuisances {
        propensity: data.train_propensity.clone(),
        psi: data.train_psi.clone(),
        eta: &data.train_psi - &data.train_delta,
    };
    let short = OracleNuisances {
        propensity: truth.propensity.slice(ndarray::s![1..]).to_owned(),
        ..truth.clone()
    };
    assert!(matches!(
        config.fit_with_oracle(&data.train, seeds, &short),
        Err(Error::InvalidParameter { ref name, .. }) if name == "nuisances"
    ));
    for method in [Method::RLearner, Method::DrLearner] {
        config.method = method;
        let router = config.fit_with_oracle(&data.train, seeds, &truth).unwrap();
        let cross = router.cross_fitted().unwrap();
        // The true p (within the clip: e ∈ [0.1, 0.9] in setup A) is used as is.
        assert_eq!(cross.propensity, data.train_propensity);
        if method == Method::RLearner {
            let p = &data.train_propensity;
            let expected = p * &data.train_psi + &(1.0 - p) * &truth.eta;
            let got = cross.mean_outcome.as_ref().unwrap();
            assert!(got
                .iter()
                .zip(&expected)
                .all(|(a, b)| (a - b).abs() < 1e-12));
        } else {
            assert_eq!(cross.mean_gold.as_ref().unwrap(), &data.train_psi);
        }
        let delta = router.predict_delta(data.test_x.view()).unwrap();
        let mse = (&delta - &data.test_delta).mapv(|v| v * v).mean().unwrap();
        // Δ = (X₁ + X₂)/2 is in the poly2 basis; σ = 1, N = 400.
        assert!(mse < 0.1, "{method:?}: {mse}");
    }
    // With estimated nuisances the truth is ignored.
    config.nuisances = Nuisances::Estimated;
    let a = config.fit_with_oracle(&data.train, seeds, &truth).unwrap();
    let b = config.fit(&data.train, seeds).unwrap();
    assert_eq!(
        a.predict_delta(data.test_x.view()),
        b.predict_delta(data.test_x.view())
    );
}
