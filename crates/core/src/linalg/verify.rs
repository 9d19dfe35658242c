//! Self-check of a linear-algebra backend against the reference (faer).
//!
//! # Algorithm
//! Each operation a backend provides is run on small deterministic problems
//! whose shapes exercise the code paths BLAS libraries specialise (1×1, odd
//! sizes below a register block, sizes spanning several cache blocks, both
//! transposes) and compared with the faer backend:
//! products and Gram matrices elementwise, Cholesky solves through their
//! residual and the reference solution, eigendecompositions through the
//! eigenvalues, the reconstruction `V diag(λ) Vᵀ` and `VᵀV = I`, SVDs through
//! the singular values and the reconstruction `U diag(σ) Vᵀ`. The tolerance
//! of a comparison is `64 · k · ε · scale`, with `k` the inner dimension (or
//! `n`) and `scale` the magnitude of the data, so rounding differences between
//! correct libraries pass with a wide margin while a wrong kernel (an error
//! of order 1e-3 or more relative) fails by orders of magnitude.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::faer_backend as reference;
use super::{SolveInfo, SymmetricEigen, ThinSvd};
use crate::error::Result;

/// A backend's SPD solve.
type SolveFn = fn(ArrayView2<f64>, ArrayView2<f64>) -> Result<(Array2<f64>, SolveInfo)>;

/// The operations of a backend under test.
pub(crate) struct BackendOps {
    pub matmul: fn(ArrayView2<f64>, ArrayView2<f64>) -> Array2<f64>,
    pub matmul_tn: fn(ArrayView2<f64>, ArrayView2<f64>) -> Array2<f64>,
    pub weighted_gram: fn(ArrayView2<f64>, Option<ArrayView1<f64>>) -> Array2<f64>,
    pub cholesky_solve: SolveFn,
    pub symmetric_eigen: fn(ArrayView2<f64>) -> Result<SymmetricEigen>,
    pub thin_svd: fn(ArrayView2<f64>) -> Result<ThinSvd>,
}

/// A deterministic matrix with entries in (−1, 1) (a Weyl sequence; no RNG needed).
fn filled(rows: usize, cols: usize, salt: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let t = (i * cols + j) as f64 * 0.618_033_988_749_894_9 + salt * 0.414_213_562_373_095;
        2.0 * (t - t.floor()) - 1.0
    })
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    if a.dim() != b.dim() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(
            0.0,
            |m, v| if v.is_nan() { f64::INFINITY } else { m.max(v) },
        )
}

fn tolerance(k: usize, scale: f64) -> f64 {
    64.0 * (k.max(1) as f64) * f64::EPSILON * scale.max(1.0)
}

fn compare(what: String, found: f64, tol: f64) -> std::result::Result<(), String> {
    if found <= tol {
        Ok(())
    } else {
        Err(format!(
            "{what} differs from the reference by {found:.3e} (tolerance {tol:.1e})"
        ))
    }
}

/// Runs every check; the first failure is described in the error.
pub(crate) fn check(ops: &BackendOps) -> std::result::Result<(), String> {
    check_products(ops)?;
    check_grams(ops)?;
    check_symmetric(ops)?;
    check_svd(ops)
}

/// Matrix products `A·B` and `AᵀB` (dgemm) against the reference, shapes
/// from 1×1 to a few hundred, tolerance scaled by the inner dimension.
fn check_products(ops: &BackendOps) -> std::result::Result<(), String> {
    for &(m, k, n) in &[
        (1, 1, 1),
        (3, 2, 5),
        (7, 9, 4),
        (17, 13, 11),
        (33, 64, 40),
        (130, 70, 96),
        (257, 31, 129),
    ] {
        let a = filled(m, k, 1.0);
        let b = filled(k, n, 2.0);
        let at = filled(k, m, 3.0);
        let tol = tolerance(k, 1.0);
        compare(
            format!("matrix product (dgemm, {m}×{k} · {k}×{n})"),
            max_abs_diff(
                &(ops.matmul)(a.view(), b.view()),
                &reference::matmul(a.view(), b.view()),
            ),
            tol,
        )?;
        compare(
            format!("transposed product (dgemm TN, {k}×{m}ᵀ · {k}×{n})"),
            max_abs_diff(
                &(ops.matmul_tn)(at.view(), b.view()),
                &reference::matmul_tn(at.view(), b.view()),
            ),
            tol,
        )?;
    }
    Ok(())
}

/// Gram matrices `XᵀX` and `XᵀWX` (dsyrk) against the reference.
fn check_grams(ops: &BackendOps) -> std::result::Result<(), String> {
    for &(rows, cols) in &[(1, 1), (5, 3), (40, 20), (300, 64), (64, 129)] {
        let x = filled(rows, cols, 4.0);
        let w = Array1::from_shape_fn(rows, |i| 0.5 + (i % 7) as f64 / 4.0);
        let tol = tolerance(rows, 2.0);
        compare(
            format!("Gram matrix (dsyrk, {rows}×{cols})"),
            max_abs_diff(
                &(ops.weighted_gram)(x.view(), None),
                &reference::weighted_gram(x.view(), None),
            ),
            tol,
        )?;
        compare(
            format!("weighted Gram matrix (dsyrk, {rows}×{cols})"),
            max_abs_diff(
                &(ops.weighted_gram)(x.view(), Some(w.view())),
                &reference::weighted_gram(x.view(), Some(w.view())),
            ),
            tol,
        )?;
    }
    Ok(())
}

/// On well-conditioned SPD matrices `BᵀB/n + I`: the Cholesky solve
/// (dpotrf/dpotrs) and the symmetric eigendecomposition (dsyevd) — its
/// eigenvalues, the reconstruction `V·diag(λ)·Vᵀ` and `VᵀV = I`.
fn check_symmetric(ops: &BackendOps) -> std::result::Result<(), String> {
    for &n in &[1usize, 3, 20, 100] {
        // A well-conditioned SPD matrix: BᵀB/n + I.
        let b = filled(n + 3, n, 5.0);
        let mut spd = reference::matmul_tn(b.view(), b.view()) / (n + 3) as f64;
        spd.diag_mut().mapv_inplace(|v| v + 1.0);
        let rhs = filled(n, 2, 6.0);
        let expected = reference::cholesky_solve(spd.view(), rhs.view())
            .map_err(|e| format!("reference Cholesky failed: {e}"))?
            .0;
        let found = (ops.cholesky_solve)(spd.view(), rhs.view())
            .map_err(|e| format!("Cholesky solve (dpotrf/dpotrs, n = {n}) failed: {e}"))?
            .0;
        compare(
            format!("Cholesky solve (dpotrf/dpotrs, n = {n})"),
            max_abs_diff(&found, &expected),
            tolerance(n, 4.0),
        )?;
        // Symmetric eigendecomposition of the same matrix.
        let eigen = (ops.symmetric_eigen)(spd.view())
            .map_err(|e| format!("eigendecomposition (dsyevd, n = {n}) failed: {e}"))?;
        let reference_eigen = reference::symmetric_eigen(spd.view())
            .map_err(|e| format!("reference eigendecomposition failed: {e}"))?;
        let scale = reference_eigen
            .values
            .iter()
            .fold(1.0f64, |m, v| m.max(v.abs()));
        let tol = tolerance(n, scale);
        let values_found = eigen.values.clone().insert_axis(ndarray::Axis(0));
        let values_expected = reference_eigen.values.insert_axis(ndarray::Axis(0));
        compare(
            format!("eigenvalues (dsyevd, n = {n})"),
            max_abs_diff(&values_found.to_owned(), &values_expected.to_owned()),
            tol,
        )?;
        let mut scaled = eigen.vectors.clone();
        for (mut column, &value) in scaled.columns_mut().into_iter().zip(&eigen.values) {
            column *= value;
        }
        let rebuilt = reference::matmul(scaled.view(), eigen.vectors.t());
        compare(
            format!("eigen reconstruction V·diag(λ)·Vᵀ (dsyevd, n = {n})"),
            max_abs_diff(&rebuilt, &spd),
            tol,
        )?;
        let gram = reference::matmul_tn(eigen.vectors.view(), eigen.vectors.view());
        compare(
            format!("eigenvector orthogonality VᵀV = I (dsyevd, n = {n})"),
            max_abs_diff(&gram, &Array2::eye(n)),
            tolerance(n, 1.0),
        )?;
    }
    Ok(())
}

/// The thin SVD (dgesdd) of tall and wide matrices: singular values and the
/// reconstruction `U·diag(σ)·Vᵀ`.
fn check_svd(ops: &BackendOps) -> std::result::Result<(), String> {
    for &(m, n) in &[(1, 1), (7, 3), (3, 7), (40, 12), (120, 90)] {
        let a = filled(m, n, 7.0);
        let svd = (ops.thin_svd)(a.view())
            .map_err(|e| format!("singular value decomposition (dgesdd, {m}×{n}) failed: {e}"))?;
        let expected =
            reference::thin_svd(a.view()).map_err(|e| format!("reference SVD failed: {e}"))?;
        let scale = expected.values.iter().fold(1.0f64, |acc, v| acc.max(*v));
        let tol = tolerance(m.max(n), scale);
        compare(
            format!("singular values (dgesdd, {m}×{n})"),
            max_abs_diff(
                &svd.values.clone().insert_axis(ndarray::Axis(0)).to_owned(),
                &expected.values.insert_axis(ndarray::Axis(0)).to_owned(),
            ),
            tol,
        )?;
        let mut scaled = svd.u.clone();
        for (mut column, &value) in scaled.columns_mut().into_iter().zip(&svd.values) {
            column *= value;
        }
        compare(
            format!("SVD reconstruction U·diag(σ)·Vᵀ (dgesdd, {m}×{n})"),
            max_abs_diff(&reference::matmul(scaled.view(), svd.v.t()), &a),
            tol,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faer_ops() -> BackendOps {
        BackendOps {
            matmul: reference::matmul,
            matmul_tn: reference::matmul_tn,
            weighted_gram: reference::weighted_gram,
            cholesky_solve: reference::cholesky_solve,
            symmetric_eigen: reference::symmetric_eigen,
            thin_svd: reference::thin_svd,
        }
    }

    #[test]
    fn the_reference_passes_its_own_check() {
        check(&faer_ops()).unwrap();
    }

    fn off_by_a_little(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
        let mut out = reference::matmul_tn(a, b);
        if out.nrows() > 16 && out.ncols() > 10 {
            // A wrong kernel in one block: one entry off by 1e-6.
            out[[16, 10]] += 1e-6;
        }
        out
    }

    fn bad_eigen(a: ArrayView2<f64>) -> Result<SymmetricEigen> {
        let mut eigen = reference::symmetric_eigen(a)?;
        if let Some(last) = eigen.values.last_mut() {
            *last *= 1.0 + 1e-9;
        }
        Ok(eigen)
    }

    #[test]
    fn a_wrong_kernel_is_caught_and_named() {
        let ops = BackendOps {
            matmul_tn: off_by_a_little,
            ..faer_ops()
        };
        let message = check(&ops).unwrap_err();
        assert!(message.contains("dgemm TN, 13×17ᵀ · 13×11"), "{message}");
        let ops = BackendOps {
            symmetric_eigen: bad_eigen,
            ..faer_ops()
        };
        let message = check(&ops).unwrap_err();
        assert!(message.contains("eigenvalues (dsyevd, n = 1)"), "{message}");
    }
}
