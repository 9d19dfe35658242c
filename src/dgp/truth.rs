//! Large fixed-seed truth samples for inference studies: the true best linear
//! projection of Δ and the true value of a learned routing policy.
//!
//! # Model
//! Rows of the pooled training law with their treatment `t` (1 = GS query,
//! 0 = PB query) and true `ψ`, `Δ`, gathered from repeated
//! [`Scenario::draw`]s (test rows are not used).
//!
//! # Algorithm
//! - Projection truth: `β = argmin_b Σ_k (Δ(s_k) − x_kᵀb)²` over the sample,
//!   `x_k = [1, s_k1, …, s_kq]`; the approximation error
//!   `mean_k (Δ(s_k) − x_kᵀβ)²` is reported apart (0 when Δ is linear in the
//!   chosen features, up to rounding). The sampling error of `β` is of order
//!   `√(approximation error / rows)`.
//! - Policy-value truth: `mean_{k: t_k = 0} (ψ(s_k) − w) π(s_k)` with its
//!   Monte Carlo SE `sd/√m`.
//!
//! # Example
//! ```
//! use meta_router::dgp::{ScenarioConfig, TruthSample};
//! use meta_router::rng::{stream, Purpose};
//!
//! let config: ScenarioConfig = toml::from_str("name = \"healthbench-like\"").unwrap();
//! let scenario = config.build().unwrap();
//! let truth = TruthSample::draw(scenario.as_ref(), 5000, &mut stream(1, 0, 0, Purpose::Truth)).unwrap();
//! let blp = truth.projection(1).unwrap();
//! // Δ = 0.10 + 0.358 s₁ exactly.
//! assert!((blp.coefficients[1] - 0.358).abs() < 1e-8);
//! assert!(blp.approximation_mse < 1e-12);
//! ```

use ndarray::{concatenate, Array1, Array2, ArrayView2, Axis};
use rand_chacha::ChaCha8Rng;

use super::Scenario;
use crate::error::Result;
use crate::inference::{best_linear_projection, intercept_and_columns};
use meta_router_core::Error as CoreError;

/// Rows of the pooled training law with their treatment and true ψ, Δ.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthSample {
    /// Features.
    pub x: Array2<f64>,
    /// `t` (1 = GS query, 0 = PB query).
    pub treatment: Array1<f64>,
    /// True `ψ`.
    pub psi: Array1<f64>,
    /// True `Δ`.
    pub delta: Array1<f64>,
}

/// The true projection of Δ on `[1, s₁..s_q]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionTruth {
    /// `β`.
    pub coefficients: Array1<f64>,
    /// `mean (Δ − xᵀβ)²` over the truth sample.
    pub approximation_mse: f64,
}

impl TruthSample {
    /// Draws replicates of `scenario` from `rng` until at least `rows` pooled
    /// training rows are gathered.
    pub fn draw(scenario: &dyn Scenario, rows: usize, rng: &mut ChaCha8Rng) -> Result<Self> {
        let (mut xs, mut ts, mut psis, mut deltas) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut gathered = 0;
        while gathered < rows {
            let data = scenario.draw(rng)?;
            let x = data.train.pooled_x();
            gathered += x.nrows();
            xs.push(x);
            ts.push(data.train.pooled_t());
            psis.push(data.train_psi);
            deltas.push(data.train_delta);
        }
        let cat2 = |parts: &[Array2<f64>]| {
            concatenate(Axis(0), &parts.iter().map(|a| a.view()).collect::<Vec<_>>())
                .expect("same width")
        };
        let cat1 = |parts: &[Array1<f64>]| {
            concatenate(Axis(0), &parts.iter().map(|a| a.view()).collect::<Vec<_>>())
                .expect("vectors")
        };
        Ok(Self {
            x: cat2(&xs),
            treatment: cat1(&ts),
            psi: cat1(&psis),
            delta: cat1(&deltas),
        })
    }

    /// The projection of Δ on an intercept and the first `columns` features.
    pub fn projection(&self, columns: usize) -> Result<ProjectionTruth> {
        let features = intercept_and_columns(self.x.view(), columns)?;
        let fit = best_linear_projection(features.view(), self.delta.view())?;
        let fitted = features.dot(&fit.coefficients);
        let approximation_mse = (&self.delta - &fitted)
            .mapv(|e| e * e)
            .mean()
            .unwrap_or(0.0);
        Ok(ProjectionTruth {
            coefficients: fit.coefficients,
            approximation_mse,
        })
    }

    /// The projection of Δ on an intercept and the first `columns` features
    /// over the rows where `inside` holds (an overlap region), or every row.
    pub fn projection_within(
        &self,
        columns: usize,
        inside: Option<&[bool]>,
    ) -> Result<ProjectionTruth> {
        let Some(mask) = inside else {
            return self.projection(columns);
        };
        let rows = self.rows_where(mask, false)?;
        Self {
            x: self.x.select(Axis(0), &rows),
            treatment: self.treatment.select(Axis(0), &rows),
            psi: self.psi.select(Axis(0), &rows),
            delta: self.delta.select(Axis(0), &rows),
        }
        .projection(columns)
    }

    /// Mean of `values` (the sample's `psi` or `delta`) over the rows where
    /// `inside` holds, only PB rows (`t = 0`) when `pref_only`: the truth of
    /// a mean target restricted to an overlap region.
    pub fn mean_within(
        &self,
        values: &Array1<f64>,
        inside: &[bool],
        pref_only: bool,
    ) -> Result<f64> {
        let rows = self.rows_where(inside, pref_only)?;
        Ok(rows.iter().map(|&k| values[k]).sum::<f64>() / rows.len() as f64)
    }

    /// Rows where `inside` holds (and `t = 0` when `pref_only`); at least two.
    fn rows_where(&self, inside: &[bool], pref_only: bool) -> Result<Vec<usize>> {
        if inside.len() != self.treatment.len() {
            return Err(CoreError::ShapeMismatch {
                what: "overlap region vs truth sample".into(),
                expected: self.treatment.len(),
                found: inside.len(),
            }
            .into());
        }
        let rows: Vec<usize> = (0..inside.len())
            .filter(|&k| inside[k] && (!pref_only || self.treatment[k] == 0.0))
            .collect();
        if rows.len() < 2 {
            return Err(CoreError::Empty {
                what: "rows of the truth sample inside the overlap region".into(),
            }
            .into());
        }
        Ok(rows)
    }

    /// `(mean, MC SE)` of `(ψ − w)π` over the PB rows (those inside an
    /// overlap region when `inside` is given), where `policy` maps features
    /// to `π ∈ {0, 1}`.
    pub fn policy_value(
        &self,
        policy: impl Fn(ArrayView2<f64>) -> Result<Array1<f64>>,
        cost_weight: f64,
        inside: Option<&[bool]>,
    ) -> Result<(f64, f64)> {
        let all = vec![true; self.treatment.len()];
        let rows = self.rows_where(inside.unwrap_or(&all), true)?;
        let x = self.x.select(Axis(0), &rows);
        let pi = policy(x.view())?;
        let values: Vec<f64> = rows
            .iter()
            .zip(pi.iter())
            .map(|(&k, &p)| (self.psi[k] - cost_weight) * p)
            .collect();
        let (mean, se) = crate::stats::mean_and_se(&values);
        Ok((
            mean.expect("at least two rows"),
            se.expect("at least two rows"),
        ))
    }
}
