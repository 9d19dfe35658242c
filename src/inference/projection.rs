//! Best linear projection of the bias Δ on chosen features, from DR
//! pseudo-outcomes, with HC0/HC1 sandwich covariances (formulas in the
//! [module docs](super)).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::Estimate;
use crate::error::{Error, Result};
use crate::linalg;

/// Which heteroskedasticity-consistent covariance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sandwich {
    /// `V₀ = (XᵀX)⁻¹ (Σ e² x xᵀ) (XᵀX)⁻¹`.
    Hc0,
    /// `V₁ = N/(N − q) · V₀`.
    Hc1,
}

/// OLS coefficients with sandwich covariances.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// `β̂`.
    pub coefficients: Array1<f64>,
    /// HC0 covariance of `β̂`.
    pub covariance_hc0: Array2<f64>,
    /// HC1 covariance of `β̂`.
    pub covariance_hc1: Array2<f64>,
    /// Jitter added to `XᵀX` by the Cholesky solver (0 when none was needed).
    pub jitter: f64,
}

impl Projection {
    /// One normal interval per coefficient at `level` from the chosen covariance.
    pub fn estimates(&self, sandwich: Sandwich, level: f64) -> Result<Vec<Estimate>> {
        let cov = match sandwich {
            Sandwich::Hc0 => &self.covariance_hc0,
            Sandwich::Hc1 => &self.covariance_hc1,
        };
        self.coefficients
            .iter()
            .enumerate()
            .map(|(j, &b)| Estimate::normal(b, cov[[j, j]].max(0.0).sqrt(), level))
            .collect()
    }
}

/// `[1, x₁, …, x_k]`: an intercept column and the first `columns` columns of `x`.
pub fn intercept_and_columns(x: ArrayView2<f64>, columns: usize) -> Result<Array2<f64>> {
    if columns > x.ncols() {
        return Err(Error::param(
            "projection_columns",
            columns,
            format!("the features have only {} columns", x.ncols()),
        ));
    }
    let mut out = Array2::ones((x.nrows(), columns + 1));
    out.slice_mut(ndarray::s![.., 1..])
        .assign(&x.slice(ndarray::s![.., ..columns]));
    Ok(out)
}

/// OLS of `pseudo_outcome` on `features` (include an intercept column
/// yourself, e.g. with [`intercept_and_columns`]) with HC0 and HC1 sandwich
/// covariances. Needs more rows than columns.
pub fn best_linear_projection(
    features: ArrayView2<f64>,
    pseudo_outcome: ArrayView1<f64>,
) -> Result<Projection> {
    let (n, q) = features.dim();
    if pseudo_outcome.len() != n {
        return Err(Error::ShapeMismatch {
            what: "pseudo-outcomes vs feature rows".into(),
            expected: n,
            found: pseudo_outcome.len(),
        });
    }
    if q == 0 || n <= q {
        return Err(Error::TooFewRows {
            what: "best linear projection (rows must exceed columns)".into(),
            rows: n,
            folds: q + 1,
        });
    }
    super::check_finite("pseudo-outcomes", pseudo_outcome)?;
    let gram = linalg::weighted_gram(features, None);
    let (inverse, info) = linalg::cholesky_solve(gram.view(), Array2::eye(q).view())?;
    let coefficients = linalg::matvec(
        inverse.view(),
        linalg::weighted_cross(features, pseudo_outcome, None).view(),
    );
    let fitted = linalg::matvec(features, coefficients.view());
    let squared: Array1<f64> = (&pseudo_outcome - &fitted).mapv(|e| e * e);
    let meat = linalg::weighted_gram(features, Some(squared.view()));
    let bread_meat = linalg::matmul(inverse.view(), meat.view());
    let mut covariance_hc0 = linalg::matmul(bread_meat.view(), inverse.view());
    // Symmetrize away rounding.
    let transposed = covariance_hc0.t().to_owned();
    covariance_hc0 = (&covariance_hc0 + &transposed) / 2.0;
    let covariance_hc1 = &covariance_hc0 * (n as f64 / (n - q) as f64);
    Ok(Projection {
        coefficients,
        covariance_hc0,
        covariance_hc1,
        jitter: info.jitter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn ols_and_sandwich_by_hand() {
        // x = [1, s], s = (−1, 0, 1, 2), y = (0, 1, 1, 4).
        // XᵀX = [[4, 2], [2, 6]], det 20, (XᵀX)⁻¹ = [[6, −2], [−2, 4]]/20,
        // Xᵀy = (6, 9) → β̂ = (0.9, 1.2); residuals (0.3, 0.1, −1.1, 0.7),
        // e² = (0.09, 0.01, 1.21, 0.49); meat = [[1.8, 2.1], [2.1, 3.26]];
        // A = [[6, −2], [−2, 4]]: A·meat·A = [[27.44, 11.12], [11.12, 25.76]],
        // V₀ = that / 400; V₁ = V₀ · 4/2.
        let s = array![[-1.0], [0.0], [1.0], [2.0]];
        let x = intercept_and_columns(s.view(), 1).unwrap();
        let y = array![0.0, 1.0, 1.0, 4.0];
        let fit = best_linear_projection(x.view(), y.view()).unwrap();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        close(fit.coefficients[0], 0.9);
        close(fit.coefficients[1], 1.2);
        close(fit.covariance_hc0[[0, 0]], 27.44 / 400.0);
        close(fit.covariance_hc0[[0, 1]], 11.12 / 400.0);
        close(fit.covariance_hc0[[1, 1]], 25.76 / 400.0);
        close(fit.covariance_hc1[[1, 1]], 2.0 * 25.76 / 400.0);
        let hc1 = fit.estimates(Sandwich::Hc1, 0.95).unwrap();
        close(hc1[1].se, (2.0 * 25.76f64 / 400.0).sqrt());
        assert!(
            best_linear_projection(x.slice(ndarray::s![..2, ..]), y.slice(ndarray::s![..2]))
                .is_err()
        );
        assert!(intercept_and_columns(s.view(), 2).is_err());
    }
}
