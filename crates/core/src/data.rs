//! Training data for a Meta-Router: gold-standard and preference-based rows.
//!
//! # Model
//! GS rows `(q_i, r_i)`, `i = 1..n`, with `r_i = ψ(q_i) + ε_i`; PB rows
//! `(q'_j, y_j)`, `j = 1..m`, with `y_j = η(q'_j) + ε'_j`. Pooled, GS rows come
//! first (`t = 1`) and PB rows after (`t = 0`); pooled row `k < n` is GS row `k`
//! and pooled row `n + j` is PB row `j`. Every estimator in [`crate::meta`] uses
//! this ordering.
//!
//! Optional sample weights ([`TrainingData::with_weights`], e.g. inverse
//! sampling probabilities of the evaluated queries) enter every learner fit
//! of the estimators as precision weights; the GS share becomes the weighted
//! `κ = Σ_GS w / Σ w`.

use ndarray::{concatenate, s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::checks::{check_finite_matrix, check_finite_vector};
use crate::error::{Error, Result};

/// Validated GS and PB training rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingData {
    gold_x: Array2<f64>,
    gold_y: Array1<f64>,
    pref_x: Array2<f64>,
    pref_y: Array1<f64>,
    /// Sample weights of the GS and PB rows (`None`: all 1).
    weights: Option<(Array1<f64>, Array1<f64>)>,
}

impl TrainingData {
    /// Checks and stores the data: both sources non-empty, features and labels
    /// finite, row counts matching, one feature dimension.
    pub fn new(
        gold_x: Array2<f64>,
        gold_y: Array1<f64>,
        pref_x: Array2<f64>,
        pref_y: Array1<f64>,
    ) -> Result<Self> {
        for (what, x, y) in [
            ("gold-standard", &gold_x, &gold_y),
            ("preference", &pref_x, &pref_y),
        ] {
            if x.nrows() == 0 {
                return Err(Error::Empty {
                    what: format!("{what} data"),
                });
            }
            if y.len() != x.nrows() {
                return Err(Error::ShapeMismatch {
                    what: format!("{what} labels vs {what} feature rows"),
                    expected: x.nrows(),
                    found: y.len(),
                });
            }
            check_finite_matrix(&format!("{what} features"), x.view())?;
            check_finite_vector(&format!("{what} labels"), y.view())?;
        }
        if gold_x.ncols() != pref_x.ncols() {
            return Err(Error::ShapeMismatch {
                what: "feature dimension of preference vs gold-standard data".into(),
                expected: gold_x.ncols(),
                found: pref_x.ncols(),
            });
        }
        if gold_x.ncols() == 0 {
            return Err(Error::Empty {
                what: "feature columns".into(),
            });
        }
        Ok(Self {
            gold_x,
            gold_y,
            pref_x,
            pref_y,
            weights: None,
        })
    }

    /// The same data with sample weights for the GS and the PB rows: finite,
    /// `≥ 0`, a positive sum in each source. Weights that are all 1 are
    /// dropped, so such a fit equals the unweighted one bit for bit.
    pub fn with_weights(mut self, gold: Array1<f64>, pref: Array1<f64>) -> Result<Self> {
        for (what, w, n) in [
            ("gold-standard", &gold, self.n_gold()),
            ("preference", &pref, self.n_pref()),
        ] {
            crate::checks::check_weights(w.view(), n).map_err(|e| match e {
                Error::InvalidWeight { row, value } => Error::param(
                    format!("{what} weights"),
                    value,
                    format!("row {row}: weights must be finite and >= 0, not all zero"),
                ),
                other => other,
            })?;
        }
        self.weights = if gold.iter().chain(&pref).all(|&w| w == 1.0) {
            None
        } else {
            Some((gold, pref))
        };
        Ok(self)
    }

    /// Pooled sample weights (GS rows first), `None` when unweighted.
    pub fn pooled_weights(&self) -> Option<Array1<f64>> {
        self.weights
            .as_ref()
            .map(|(g, p)| concatenate(Axis(0), &[g.view(), p.view()]).expect("lengths checked"))
    }

    /// GS sample weights, `None` when unweighted.
    pub fn gold_weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.weights.as_ref().map(|(g, _)| g.view())
    }

    /// PB sample weights, `None` when unweighted.
    pub fn pref_weights(&self) -> Option<ArrayView1<'_, f64>> {
        self.weights.as_ref().map(|(_, p)| p.view())
    }

    /// Whether the data carry sample weights.
    pub fn is_weighted(&self) -> bool {
        self.weights.is_some()
    }

    /// Number of GS rows `n`.
    pub fn n_gold(&self) -> usize {
        self.gold_y.len()
    }
    /// Number of PB rows `m`.
    pub fn n_pref(&self) -> usize {
        self.pref_y.len()
    }
    /// Pooled size `N = n + m`.
    pub fn n_total(&self) -> usize {
        self.n_gold() + self.n_pref()
    }
    /// Feature dimension `d`.
    pub fn dim(&self) -> usize {
        self.gold_x.ncols()
    }
    /// `κ = n / N`, or the weighted GS share `Σ_GS w / Σ w` with weights.
    pub fn kappa(&self) -> f64 {
        match &self.weights {
            None => self.n_gold() as f64 / self.n_total() as f64,
            Some((g, p)) => g.sum() / (g.sum() + p.sum()),
        }
    }
    /// GS features.
    pub fn gold_x(&self) -> ArrayView2<'_, f64> {
        self.gold_x.view()
    }
    /// GS labels `r`.
    pub fn gold_y(&self) -> ArrayView1<'_, f64> {
        self.gold_y.view()
    }
    /// PB features.
    pub fn pref_x(&self) -> ArrayView2<'_, f64> {
        self.pref_x.view()
    }
    /// PB labels `y`.
    pub fn pref_y(&self) -> ArrayView1<'_, f64> {
        self.pref_y.view()
    }

    /// Pooled features `s_k` (GS rows first).
    pub fn pooled_x(&self) -> Array2<f64> {
        crate::linalg::stack_rows(&[self.gold_x.view(), self.pref_x.view()])
    }
    /// Pooled labels `o_k` (GS rows first).
    pub fn pooled_y(&self) -> Array1<f64> {
        concatenate(Axis(0), &[self.gold_y.view(), self.pref_y.view()])
            .expect("lengths checked in new")
    }
    /// Pooled treatment `t_k`: 1 for GS rows, 0 for PB rows.
    pub fn pooled_t(&self) -> Array1<f64> {
        let mut t = Array1::zeros(self.n_total());
        t.slice_mut(s![..self.n_gold()]).fill(1.0);
        t
    }

    /// The same data with labels transformed: GS labels by `gold`, PB by `pref`.
    pub fn map_labels(&self, gold: impl Fn(f64) -> f64, pref: impl Fn(f64) -> f64) -> Self {
        Self {
            gold_x: self.gold_x.clone(),
            gold_y: self.gold_y.mapv(gold),
            pref_x: self.pref_x.clone(),
            pref_y: self.pref_y.mapv(pref),
            weights: self.weights.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn rejects_bad_inputs_with_specific_errors() {
        let gx = array![[1.0], [2.0]];
        let gy = array![1.0, 2.0];
        let px = array![[1.0], [2.0], [3.0]];
        let py = array![0.0, 1.0, 2.0];
        assert!(TrainingData::new(gx.clone(), gy.clone(), px.clone(), py.clone()).is_ok());
        let e = TrainingData::new(
            Array2::zeros((0, 1)),
            Array1::zeros(0),
            px.clone(),
            py.clone(),
        );
        assert!(matches!(e, Err(Error::Empty { .. })));
        let e = TrainingData::new(
            gx.clone(),
            gy.clone(),
            Array2::zeros((0, 1)),
            Array1::zeros(0),
        );
        assert!(matches!(e, Err(Error::Empty { .. })));
        let e = TrainingData::new(gx.clone(), array![1.0], px.clone(), py.clone());
        assert!(matches!(e, Err(Error::ShapeMismatch { .. })));
        let e = TrainingData::new(gx.clone(), gy.clone(), array![[1.0, 0.0]], array![0.0]);
        assert!(matches!(e, Err(Error::ShapeMismatch { .. })));
        let e = TrainingData::new(
            array![[1.0], [f64::NAN]],
            gy.clone(),
            px.clone(),
            py.clone(),
        );
        assert!(matches!(e, Err(Error::NonFinite { row: 1, .. })));
        let e = TrainingData::new(gx, gy, px, array![0.0, f64::INFINITY, 1.0]);
        match e {
            Err(Error::NonFinite { what, row }) => {
                assert_eq!(row, 1);
                assert!(what.contains("preference labels"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn pooled_layout_puts_gold_first() {
        let d = TrainingData::new(
            array![[1.0]],
            array![5.0],
            array![[2.0], [3.0]],
            array![6.0, 7.0],
        )
        .unwrap();
        assert_eq!(d.pooled_t(), array![1.0, 0.0, 0.0]);
        assert_eq!(d.pooled_y(), array![5.0, 6.0, 7.0]);
        assert_eq!(d.pooled_x(), array![[1.0], [2.0], [3.0]]);
        assert!((d.kappa() - 1.0 / 3.0).abs() < 1e-15);
    }
}
