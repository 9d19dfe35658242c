//! The pure-Rust backend: faer kernels on zero-copy views of ndarray arrays.
//!
//! Every routine runs with `Par::Seq`: replicates already run in parallel under
//! rayon, and nesting a second level of threads only oversubscribes the cores.
//! This module is always compiled, so that with the `openblas` feature on the
//! two backends can be compared (see the crate's `linalg` tests).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::{factor as llt_factor, solve as llt_solve};
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::matmul::matmul as faer_matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::svd::{self, ComputeSvdVectors};
use faer::{Accum, Par};
use faer_ext::IntoFaer;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ShapeBuilder};

use super::{scale_rows, solve_with_jitter, SolveInfo, SymmetricEigen, ThinSvd};
use crate::error::{Error, Result};

/// `a · b` (panics on mismatched inner dimensions).
#[track_caller]
pub fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(a.ncols(), b.nrows(), "matmul: inner dimensions differ");
    // Standard (row-major) output, like every array this module returns.
    let mut out = Array2::<f64>::zeros((a.nrows(), b.ncols()));
    faer_matmul(
        out.view_mut().into_faer(),
        Accum::Replace,
        a.into_faer(),
        b.into_faer(),
        1.0,
        Par::Seq,
    );
    out
}

/// `aᵀ · b` (panics on mismatched row counts).
#[track_caller]
pub(crate) fn matmul_tn(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(a.nrows(), b.nrows(), "matmul_tn: row counts differ");
    matmul(a.t(), b)
}

/// `Xᵀ diag(w) X`; `None` means unit weights.
#[track_caller]
pub fn weighted_gram(x: ArrayView2<f64>, weights: Option<ArrayView1<f64>>) -> Array2<f64> {
    match weights {
        None => symmetric_product(x, x),
        Some(w) => symmetric_product(x, scale_rows(x, w).view()),
    }
}

/// `aᵀ b` for a product known to be symmetric: only the lower triangle is
/// computed (half the flops), then mirrored.
fn symmetric_product(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(a.nrows(), b.nrows(), "weighted_gram: row counts differ");
    let p = a.ncols();
    let mut out = Array2::<f64>::zeros((p, p).f());
    triangular::matmul(
        out.view_mut().into_faer(),
        BlockStructure::TriangularLower,
        Accum::Replace,
        a.t().into_faer(),
        BlockStructure::Rectangular,
        b.into_faer(),
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
    for j in 0..p {
        for i in 0..j {
            out[[i, j]] = out[[j, i]];
        }
    }
    // Symmetric, so the transposed (row-major) view holds the same matrix.
    out.reversed_axes()
}

/// `Xᵀ diag(w) y`; `None` means unit weights.
#[track_caller]
pub fn weighted_cross(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    weights: Option<ArrayView1<f64>>,
) -> Array1<f64> {
    super::cross_with(matmul_tn, x, y, weights)
}

/// The reference backend needs no check.
#[cfg_attr(feature = "openblas", allow(dead_code))]
pub(crate) fn verified() -> Result<()> {
    Ok(())
}

/// Cholesky factor-and-solve of `a · x = b` for one attempt (no jitter);
/// `None` when `a` is not numerically positive definite.
pub(crate) fn try_cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut factor = Array2::<f64>::zeros((n, n).f());
    factor.assign(&a);
    let mut buffer = MemBuffer::new(llt_factor::cholesky_in_place_scratch::<f64>(
        n,
        Par::Seq,
        Default::default(),
    ));
    let result = llt_factor::cholesky_in_place(
        factor.view_mut().into_faer(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    );
    if result.is_err() || factor.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut solution = Array2::<f64>::zeros((n, b.ncols()).f());
    solution.assign(&b);
    let mut buffer = MemBuffer::new(llt_solve::solve_in_place_scratch::<f64>(
        n,
        b.ncols(),
        Par::Seq,
    ));
    llt_solve::solve_in_place(
        factor.view().into_faer(),
        solution.view_mut().into_faer(),
        Par::Seq,
        MemStack::new(&mut buffer),
    );
    if solution.iter().all(|v| v.is_finite()) {
        Some(solution.as_standard_layout().into_owned())
    } else {
        None
    }
}

/// Solves the symmetric positive definite system `a · x = b` by Cholesky, with
/// the jitter fallback described in [`crate::linalg::cholesky_solve`].
pub fn cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<(Array2<f64>, SolveInfo)> {
    solve_with_jitter(a, b, try_cholesky_solve)
}

/// Symmetric eigendecomposition (reads the lower triangle), eigenvalues ascending.
pub fn symmetric_eigen(a: ArrayView2<f64>) -> Result<SymmetricEigen> {
    let n = a.nrows();
    if a.ncols() != n {
        return Err(Error::Linalg {
            operation: "symmetric eigendecomposition".into(),
            detail: format!("matrix is {}x{}, not square", n, a.ncols()),
        });
    }
    let mut values = faer::diag::Diag::<f64>::zeros(n);
    let mut vectors = Array2::<f64>::zeros((n, n).f());
    let mut buffer = MemBuffer::new(evd::self_adjoint_evd_scratch::<f64>(
        n,
        ComputeEigenvectors::Yes,
        Par::Seq,
        Default::default(),
    ));
    evd::self_adjoint_evd(
        a.into_faer(),
        values.as_mut(),
        Some(vectors.view_mut().into_faer()),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    )
    .map_err(|e| Error::Linalg {
        operation: "symmetric eigendecomposition".into(),
        detail: format!("{e:?}"),
    })?;
    let values = Array1::from_iter((0..n).map(|i| values.column_vector()[i]));
    SymmetricEigen::sorted(values, vectors.as_standard_layout().into_owned())
}

/// Thin singular value decomposition (`min(m, n) ≥ 1`), values non-increasing.
pub fn thin_svd(a: ArrayView2<f64>) -> Result<ThinSvd> {
    let (m, n) = a.dim();
    let r = m.min(n);
    let mut values = faer::diag::Diag::<f64>::zeros(r);
    let mut u = Array2::<f64>::zeros((m, r).f());
    let mut v = Array2::<f64>::zeros((n, r).f());
    let mut buffer = MemBuffer::new(svd::svd_scratch::<f64>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        Par::Seq,
        Default::default(),
    ));
    svd::svd(
        a.into_faer(),
        values.as_mut(),
        Some(u.view_mut().into_faer()),
        Some(v.view_mut().into_faer()),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    )
    .map_err(|e| Error::Linalg {
        operation: "singular value decomposition".into(),
        detail: format!("{e:?}"),
    })?;
    let values = Array1::from_iter((0..r).map(|i| values.column_vector()[i]));
    ThinSvd::sorted(
        values,
        u.as_standard_layout().into_owned(),
        v.as_standard_layout().into_owned(),
    )
}
