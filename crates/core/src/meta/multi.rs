//! Many models: one fitted Meta-Router (or baseline) per non-reference model.
//!
//! # Model
//! `K` candidate models, model 0 the reference. For model `k ≥ 1`,
//! `ψ_k(q)` is its expected GS gain over the reference on query `q`, `η_k(q)`
//! its PB gain and `Δ_k = ψ_k − η_k`. Each `ψ_k` is the two-model problem of
//! `docs/method.md` §1 (§9 for many models) on the rows that carry model `k`'s labels, so it is
//! estimated by [`MetaRouterConfig::fit`] exactly as with two models; the
//! router then scores `ψ̂_0 ≡ 0` and `ψ̂_k` for `k ≥ 1` (the decision rule and
//! metrics are `routing::multi`'s).
//!
//! **Missing labels.** A query may carry GS or PB labels for only some
//! models. Model `k`'s fit uses the rows that carry its labels. It estimates
//! `ψ_k` consistently when (i) whether a row carries model `k`'s label does
//! not depend on that label given the query and the row's kind (GS or PB):
//! missing at random given `(s, t)`; (ii) the PB bias `Δ_k(s)` is the same
//! on labelled and unlabelled rows (it is a function of `s`); and (iii)
//! overlap holds on the labelled rows, `0 < p_k(s) < 1` with
//! `p_k(s) = P(t = 1 | s, labelled for k)`. When missingness depends on `s`,
//! `p_k` is no longer the constant share of GS rows: use
//! `propensity = "model"`. [`fit_multi`] refuses a model with fewer than two
//! GS or PB rows, or with fewer rows of a kind than cross-fitting folds.
//!
//! # Algorithm
//! Model `k`'s seeds ([`model_seeds`]): the first non-reference model uses
//! the caller's [`FitSeeds`] unchanged, so `K = 2` is the two-model fit bit
//! for bit; model `k ≥ 2` derives both seeds from the caller's with the tags
//! `[MODEL_SEED_TAG, k]`. Fits of different models share nothing else.
//!
//! # Example
//! ```
//! use ndarray::{Array2, Axis};
//! use meta_router_core::data::TrainingData;
//! use meta_router_core::meta::{fit_multi, FitSeeds, Method, MetaRouterConfig};
//!
//! // Two non-reference models with gains s and 2s, PB labels biased by +0.5 and −0.3.
//! let data = |slope: f64, bias: f64| {
//!     let gold_x = Array2::from_shape_fn((40, 1), |(i, _)| i as f64 / 40.0);
//!     let gold_y = gold_x.column(0).mapv(|s| slope * s);
//!     let pref_x = Array2::from_shape_fn((200, 1), |(i, _)| i as f64 / 200.0);
//!     let pref_y = pref_x.column(0).mapv(|s| slope * s - bias);
//!     TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap()
//! };
//! let models = vec![data(1.0, 0.5), data(2.0, -0.3)];
//! let config = MetaRouterConfig::new(Method::RLearner);
//! let router = fit_multi(&config, &models, FitSeeds { folds: 1, learner: 2 }).unwrap();
//! let psi = router.predict_psi(Array2::from_elem((1, 1), 0.5).view()).unwrap();
//! assert_eq!(psi.shape(), &[1, 3]);
//! assert_eq!(psi[[0, 0]], 0.0);
//! assert!((psi[[0, 2]] - 1.0).abs() < 0.05);
//! ```

use ndarray::{Array2, ArrayView2};

use super::{FitSeeds, FittedRouter, MetaRouterConfig};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::rng::derive_seed;

/// Tag mixed into the seeds of models `k ≥ 2` ([`model_seeds`]).
pub(crate) const MODEL_SEED_TAG: u64 = 0x4d4f_4445_4c53; // "MODELS"

/// The seeds of model `k ≥ 1`'s fit: `seeds` itself for `k = 1`, else both
/// seeds derived with the tags `[MODEL_SEED_TAG, k]`.
pub fn model_seeds(seeds: FitSeeds, k: usize) -> FitSeeds {
    if k <= 1 {
        return seeds;
    }
    FitSeeds {
        folds: derive_seed(seeds.folds, &[MODEL_SEED_TAG, k as u64]),
        learner: derive_seed(seeds.learner, &[MODEL_SEED_TAG, k as u64]),
    }
}

/// Checks that model `k`'s data can be fit with `config`: at least two GS and
/// two PB rows, and (for cross-fitted meta-learners) at least one row of each
/// kind per fold. `k` counts from 1 (model 0 is the reference).
pub fn check_model_data(config: &MetaRouterConfig, k: usize, data: &TrainingData) -> Result<()> {
    let need = if config.method.is_meta() {
        config.folds.max(2)
    } else {
        2
    };
    for (kind, rows) in [("GS", data.n_gold()), ("PB", data.n_pref())] {
        if rows < need {
            return Err(Error::param(
                format!("models[{k}]"),
                format!("{rows} {kind} rows"),
                format!(
                    "model {k} has {rows} {kind} rows with labels; its fit needs at least {need} \
                     (two, and one per cross-fitting fold)"
                ),
            ));
        }
    }
    Ok(())
}

/// One fitted router per non-reference model.
#[derive(Debug)]
pub struct FittedMultiRouter {
    routers: Vec<FittedRouter>,
}

impl FittedMultiRouter {
    /// Wraps fitted routers of models `1..K` (all on the same features).
    ///
    /// # Errors
    /// No router, or routers of different feature dimensions.
    pub fn new(routers: Vec<FittedRouter>) -> Result<Self> {
        let Some(first) = routers.first() else {
            return Err(Error::param(
                "models",
                0,
                "a multi-model router needs at least one non-reference model",
            ));
        };
        let dim = first.dim();
        if let Some((k, r)) = routers.iter().enumerate().find(|(_, r)| r.dim() != dim) {
            return Err(Error::param(
                format!("models[{}]", k + 1),
                r.dim(),
                format!("every model's router must use the same {dim} features"),
            ));
        }
        Ok(Self { routers })
    }

    /// `K`, the number of models including the reference.
    pub fn models(&self) -> usize {
        self.routers.len() + 1
    }

    /// The fitted router of model `k ≥ 1`.
    pub fn router(&self, k: usize) -> Option<&FittedRouter> {
        k.checked_sub(1).and_then(|i| self.routers.get(i))
    }

    /// The routers of models `1..K`.
    pub fn routers(&self) -> &[FittedRouter] {
        &self.routers
    }

    /// Number of feature columns.
    pub fn dim(&self) -> usize {
        self.routers[0].dim()
    }

    /// `ψ̂` on the rows of `x`: column 0 is the reference (0), column `k` is
    /// model `k`'s router's `ψ̂_k`.
    ///
    /// # Errors
    /// `x` with the wrong number of columns.
    pub fn predict_psi(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.dim() {
            return Err(Error::ShapeMismatch {
                what: "feature columns".into(),
                expected: self.dim(),
                found: x.ncols(),
            });
        }
        let mut psi = Array2::zeros((x.nrows(), self.models()));
        for (k, router) in self.routers.iter().enumerate() {
            psi.column_mut(k + 1).assign(&router.predict_psi(x));
        }
        Ok(psi)
    }
}

/// Fits `config` once per non-reference model: `data[k − 1]` holds model
/// `k`'s rows, fit with [`model_seeds`]`(seeds, k)`. With one model this is
/// `config.fit(&data[0], seeds)`.
///
/// # Errors
/// No model, a model whose data fail [`check_model_data`] (named
/// `models[k]`), or any fit's error, prefixed with the model.
pub fn fit_multi(
    config: &MetaRouterConfig,
    data: &[TrainingData],
    seeds: FitSeeds,
) -> Result<FittedMultiRouter> {
    let mut routers = Vec::with_capacity(data.len());
    for (i, model_data) in data.iter().enumerate() {
        let k = i + 1;
        check_model_data(config, k, model_data)?;
        let router = config
            .fit(model_data, model_seeds(seeds, k))
            .map_err(|e| Error::param(format!("models[{k}]"), "fit", e.to_string()))?;
        routers.push(router);
    }
    FittedMultiRouter::new(routers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Method;
    use crate::rng::rng_from_seed;
    use ndarray::Array1;
    use rand::RngExt;

    fn noisy(seed: u64, slope: f64, bias: f64) -> TrainingData {
        let mut rng = rng_from_seed(seed);
        let mut noise = |n: usize| Array1::from_shape_fn(n, |_| rng.random::<f64>() - 0.5);
        let gold_x = Array2::from_shape_fn((60, 2), |(i, j)| ((i * 7 + j * 3) % 60) as f64 / 60.0);
        let gold_y = gold_x.column(0).mapv(|s| slope * s) + noise(60);
        let pref_x =
            Array2::from_shape_fn((300, 2), |(i, j)| ((i * 11 + j * 5) % 300) as f64 / 300.0);
        let pref_y = pref_x.column(0).mapv(|s| slope * s - bias) + noise(300);
        TrainingData::new(gold_x, gold_y, pref_x, pref_y).unwrap()
    }

    /// K = 2 through the multi-model path is the two-model fit bit for bit.
    #[test]
    fn one_model_is_the_two_model_fit() {
        let data = noisy(1, 1.0, 0.4);
        let seeds = FitSeeds {
            folds: 11,
            learner: 12,
        };
        let x = Array2::from_shape_fn((25, 2), |(i, j)| (i + j) as f64 / 25.0);
        for method in [
            Method::RLearner,
            Method::DrLearner,
            Method::Pooled,
            Method::GsOnly,
        ] {
            let config = MetaRouterConfig::new(method);
            let two = config.fit(&data, seeds).unwrap();
            let multi = fit_multi(&config, std::slice::from_ref(&data), seeds).unwrap();
            let psi = multi.predict_psi(x.view()).unwrap();
            assert_eq!(psi.column(1), two.predict_psi(x.view()), "{method:?}");
            assert!(psi.column(0).iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn later_models_use_their_own_seeds() {
        let seeds = FitSeeds {
            folds: 1,
            learner: 2,
        };
        assert_eq!(model_seeds(seeds, 1), seeds);
        let (a, b) = (model_seeds(seeds, 2), model_seeds(seeds, 3));
        assert_ne!(a, seeds);
        assert_ne!(a, b);
        assert_ne!(a.folds, a.learner);
    }

    #[test]
    fn thin_models_are_refused_by_name() {
        let good = noisy(2, 1.0, 0.0);
        let thin = TrainingData::new(
            Array2::zeros((3, 2)),
            Array1::zeros(3),
            Array2::zeros((50, 2)),
            Array1::zeros(50),
        )
        .unwrap();
        let config = MetaRouterConfig::new(Method::RLearner);
        let err = fit_multi(
            &config,
            &[good, thin],
            FitSeeds {
                folds: 1,
                learner: 1,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("models[2]"), "{err}");
        assert!(err.to_string().contains("3 GS rows"), "{err}");
    }
}
