//! Parity of the R-/DR-learners with an independent numpy implementation
//! (tests/data/parity_fixture.py → tests/data/parity_linear.json) on fixed
//! folds with linear ridge at a fixed penalty: nuisances, pseudo-outcomes,
//! Δ̂ and ψ̂ agree to 1e-9 relative.

mod common;

use common::{learner, max_rel_diff};
use meta_router::data::TrainingData;
use meta_router::meta::{MetaRouterConfig, Method};
use ndarray::{Array1, Array2};
use serde_json::Value;

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let cols = rows[0].len();
    Array2::from_shape_vec((rows.len(), cols), rows.into_iter().flatten().collect()).unwrap()
}

fn vector(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/parity_linear.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check(method: Method, key: &str) {
    let f = fixture();
    let data = TrainingData::new(
        matrix(&f["gold_x"]),
        Array1::from(vector(&f["gold_y"])),
        matrix(&f["pref_x"]),
        Array1::from(vector(&f["pref_y"])),
    )
    .unwrap();
    let folds: Vec<usize> = serde_json::from_value(f["folds"].clone()).unwrap();
    let penalty = f["penalty"].as_f64().unwrap();
    let config = MetaRouterConfig::new(method).with_learner(learner(&format!(
        "type = \"ridge\"\nbasis = \"linear\"\npenalty = {penalty}"
    )));
    let router = config.fit_with_folds(&data, &folds, 7).unwrap();
    let cf = router.cross_fitted().unwrap();
    let expected = &f[key];
    let test_x = matrix(&f["test_x"]);
    let tol = 1e-9;
    let pseudo = max_rel_diff(
        cf.pseudo_outcome.as_slice().unwrap(),
        &vector(&expected["pseudo_outcome"]),
    );
    assert!(pseudo < tol, "{key}: pseudo-outcomes differ by {pseudo:e}");
    match method {
        Method::RLearner => {
            let mu = cf.mean_outcome.as_ref().unwrap();
            assert!(max_rel_diff(mu.as_slice().unwrap(), &vector(&expected["mean_outcome"])) < tol);
            assert!(
                max_rel_diff(
                    cf.weights.as_slice().unwrap(),
                    &vector(&expected["weights"])
                ) < tol
            );
        }
        _ => {
            let mu1 = cf.mean_gold.as_ref().unwrap();
            let mu0 = cf.mean_pref.as_ref().unwrap();
            assert!(max_rel_diff(mu1.as_slice().unwrap(), &vector(&expected["mean_gold"])) < tol);
            assert!(max_rel_diff(mu0.as_slice().unwrap(), &vector(&expected["mean_pref"])) < tol);
        }
    }
    let delta = router.predict_delta(test_x.view()).unwrap();
    let d = max_rel_diff(delta.as_slice().unwrap(), &vector(&expected["delta_test"]));
    assert!(d < tol, "{key}: Δ̂ differs by {d:e}");
    let psi = router.predict_psi(test_x.view());
    let p = max_rel_diff(psi.as_slice().unwrap(), &vector(&expected["psi_test"]));
    assert!(p < tol, "{key}: ψ̂ differs by {p:e}");
}

#[test]
fn r_learner_matches_numpy_reference() {
    check(Method::RLearner, "r_learner");
}

#[test]
fn dr_learner_matches_numpy_reference() {
    check(Method::DrLearner, "dr_learner");
}
