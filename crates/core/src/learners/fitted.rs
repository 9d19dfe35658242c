//! Every fitted model as one serializable enum, [`FittedModel`].
//!
//! [`Learner::fit`](super::Learner::fit) returns a `FittedModel` rather than a
//! trait object so that a fitted router can be written to a file and read
//! back without a registry of types: each variant holds the concrete fitted
//! model with its `serde` form. Predictions of a model read back equal the
//! original's to the last bit (JSON numbers are written in shortest
//! round-trip form; `serde_json`'s `float_roundtrip` reads them back exactly).
//!
//! What is *not* stored: a forest's out-of-bag predictions for its training
//! rows (they serve the fit, not prediction, and would make the file scale
//! with the training set). A model read back reports no out-of-bag
//! predictions.
//!
//! A model read from a file is checked by [`FittedModel::validate`] (shapes
//! agree, tree links point forward, values finite), so a damaged file is an
//! error, not a panic at prediction time.

use ndarray::{Array1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{
    Boosting, FittedKernelRidge, FittedLogistic, FittedRidge, Forest, LearnerDiagnostics, Predict,
};
use crate::checks::{all_finite, same_len};
use crate::error::{Error, Result};

/// A fitted model of any learner, or one clamped to an interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum FittedModel {
    /// Ridge regression on a basis expansion.
    Ridge(FittedRidge),
    /// RBF kernel ridge regression.
    KernelRidge(FittedKernelRidge),
    /// L2-penalized logistic regression (probabilities).
    Logistic(FittedLogistic),
    /// Random forest.
    Forest(Forest),
    /// Gradient boosting.
    Boosting(Boosting),
    /// Another model's predictions clamped to `[lower, upper]` (a regression
    /// used as a probability model; a bias model with a bound).
    Clamped(Clamped),
}

/// A model whose predictions are clamped to `[lower, upper]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clamped {
    /// Lower end.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// The model clamped.
    pub inner: Box<FittedModel>,
}

impl FittedModel {
    /// This model with predictions clamped to `[lower, upper]`
    /// (non-finite out-of-bag entries stay as they are).
    pub fn clamped(self, lower: f64, upper: f64) -> Self {
        FittedModel::Clamped(Clamped {
            lower,
            upper,
            inner: Box::new(self),
        })
    }

    /// Predictions for the rows of `x` ([`Predict::predict`]; callable
    /// without importing the trait).
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.as_predict().predict(x)
    }

    /// Non-fatal facts about the fit ([`Predict::diagnostics`]).
    pub fn diagnostics(&self) -> LearnerDiagnostics {
        self.as_predict().diagnostics()
    }

    /// The model behind the [`Predict`] trait.
    pub fn as_predict(&self) -> &dyn Predict {
        match self {
            FittedModel::Ridge(m) => m,
            FittedModel::KernelRidge(m) => m,
            FittedModel::Logistic(m) => m,
            FittedModel::Forest(m) => m,
            FittedModel::Boosting(m) => m,
            FittedModel::Clamped(m) => m,
        }
    }

    /// Short name of the model kind (`ridge`, `forest`, …; `clamped(…)`).
    pub fn kind(&self) -> String {
        match self {
            FittedModel::Ridge(_) => "ridge".into(),
            FittedModel::KernelRidge(_) => "kernel-ridge".into(),
            FittedModel::Logistic(_) => "logistic".into(),
            FittedModel::Forest(_) => "forest".into(),
            FittedModel::Boosting(_) => "boosting".into(),
            FittedModel::Clamped(c) => format!("clamped({})", c.inner.kind()),
        }
    }

    /// Number of feature columns the model predicts from.
    pub fn input_dim(&self) -> usize {
        match self {
            FittedModel::Ridge(m) => m.input_dim(),
            FittedModel::KernelRidge(m) => m.input_dim(),
            FittedModel::Logistic(m) => m.expansion().input_dim(),
            FittedModel::Forest(m) => m.n_features(),
            FittedModel::Boosting(m) => m.n_features(),
            FittedModel::Clamped(c) => c.inner.input_dim(),
        }
    }

    /// Checks the internal consistency of a model read from a file: array
    /// shapes agree, parameters are finite, tree links are valid. Errors name
    /// the model kind and what is wrong.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Error::InvalidParameter {
            name: "model".into(),
            value: self.kind(),
            reason: what,
        };
        match self {
            FittedModel::Ridge(m) => m.check_consistent().map_err(bad),
            FittedModel::KernelRidge(m) => m.check_consistent().map_err(bad),
            FittedModel::Logistic(m) => m.check_consistent().map_err(bad),
            FittedModel::Forest(m) => m.check_consistent().map_err(bad),
            FittedModel::Boosting(m) => m.check_consistent().map_err(bad),
            FittedModel::Clamped(c) => {
                if !(c.lower.is_finite() && c.upper.is_finite() && c.lower <= c.upper) {
                    return Err(bad(format!(
                        "clamp interval [{}, {}] must be finite and ordered",
                        c.lower, c.upper
                    )));
                }
                c.inner.validate()
            }
        }
    }
}

impl Predict for FittedModel {
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.as_predict().predict(x)
    }
    fn diagnostics(&self) -> LearnerDiagnostics {
        self.as_predict().diagnostics()
    }
    fn out_of_bag(&self) -> Option<Array1<f64>> {
        self.as_predict().out_of_bag()
    }
}

impl Predict for Clamped {
    fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        self.inner
            .predict(x)
            .mapv(|v| v.clamp(self.lower, self.upper))
    }
    fn diagnostics(&self) -> LearnerDiagnostics {
        self.inner.diagnostics()
    }
    fn out_of_bag(&self) -> Option<Array1<f64>> {
        self.inner.out_of_bag().map(|v| {
            v.mapv(|p| {
                if p.is_finite() {
                    p.clamp(self.lower, self.upper)
                } else {
                    p
                }
            })
        })
    }
}

/// Consistency of a linear model on a basis expansion read from a file
/// (ridge, logistic): the expansion, one coefficient per output feature,
/// finite coefficients and intercept.
pub(crate) fn check_linear(
    expansion: &super::basis::BasisExpansion,
    coefficients: &ndarray::Array1<f64>,
    intercept: f64,
) -> std::result::Result<(), String> {
    expansion.check_consistent()?;
    same_len("coefficients", expansion.output_dim(), coefficients.len())?;
    all_finite("coefficients", coefficients)?;
    all_finite("intercept", [&intercept])
}

/// `serde` for `Option<f64>` diagnostics that may be non-finite (a condition
/// number of ∞, say): JSON has no ∞ or NaN, so those are written as the
/// strings `"inf"`, `"-inf"`, `"nan"` and read back exactly.
pub(crate) mod optional_float {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            None => s.serialize_none(),
            Some(v) if v.is_finite() => s.serialize_some(v),
            Some(v) if v.is_nan() => s.serialize_some("nan"),
            Some(v) if *v > 0.0 => s.serialize_some("inf"),
            Some(_) => s.serialize_some("-inf"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(None),
            Some(Repr::Number(v)) => Ok(Some(v)),
            Some(Repr::Text(t)) => match t.as_str() {
                "nan" => Ok(Some(f64::NAN)),
                "inf" => Ok(Some(f64::INFINITY)),
                "-inf" => Ok(Some(f64::NEG_INFINITY)),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"inf\", \"-inf\" or \"nan\", found \"{other}\""
                ))),
            },
        }
    }
}
