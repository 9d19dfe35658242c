//! Placeholder: filled in by the learner-library work.
use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{Learner, Predict};
use crate::error::{Error, Result};

/// Parameters (to be completed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RidgeParams {}

impl RidgeParams {
    /// Checks parameter ranges.
    pub fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl Learner for RidgeParams {
    fn name(&self) -> &'static str {
        "ridge"
    }
    fn fit(
        &self,
        _x: ArrayView2<f64>,
        _y: ArrayView1<f64>,
        _weights: Option<ArrayView1<f64>>,
        _seed: u64,
    ) -> Result<Box<dyn Predict>> {
        Err(Error::Unsupported { learner: "ridge".into(), what: "fit yet".into() })
    }
}
