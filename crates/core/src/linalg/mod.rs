//! Dense linear-algebra kernels behind one interface, with two interchangeable backends.
//!
//! # Model
//! The learners need a handful of dense operations on `f64` matrices: weighted
//! Gram matrices `Xᵀ diag(w) X` and cross-products `Xᵀ diag(w) y`, matrix
//! products, solves of symmetric positive definite (SPD) systems, and the
//! symmetric eigendecomposition `A = V diag(λ) Vᵀ` (λ ascending, orthonormal
//! columns of `V`), and the thin singular value decomposition
//! `A = U diag(σ) Vᵀ` of a rectangular matrix (σ non-increasing; least squares
//! through it loses accuracy like `κ(A)`, not like `κ(AᵀA) = κ(A)²`). Inputs are ndarray views of any layout; outputs are owned
//! arrays in standard (row-major) layout.
//!
//! # Algorithm
//! The public functions dispatch to the active backend:
//! - default: [`faer_backend`], pure Rust (faer through zero-copy `faer-ext`
//!   views), always single-threaded (`Par::Seq`);
//! - feature `openblas`: `openblas_backend`, `cblas_dgemm` plus LAPACK through
//!   ndarray-linalg with the system OpenBLAS, forced to one thread at first use.
//!   The faer backend stays available as [`faer_backend`] so the two can be
//!   compared.
//!
//! [`cholesky_solve`] factors `A`; when the factorization fails (or yields
//! non-finite values) it retries with `A + δ_k I`, where
//! `δ_k = s · ε · 100^k`, `k = 1, …, 7`, `s` the mean absolute diagonal of `A`
//! (1 if that is zero) and `ε` the machine epsilon; so the jitter grows from about
//! `2e-14 · s` to `2e-2 · s`. The jitter used is reported in [`SolveInfo`]; if
//! every attempt fails the result is [`Error::Linalg`].
//!
//! # References
//! - Golub & Van Loan, *Matrix Computations*, 4th ed., §4.2 (Cholesky), §8.3
//!   (symmetric QR / tridiagonal eigensolvers).
//! - faer: <https://faer.veganb.tw>; OpenBLAS and LAPACK `dpotrf`, `dsyevd`,
//!   `dgesdd`.
//!
//! # Example
//! ```
//! use meta_router_core::linalg;
//! use ndarray::{array, Array1};
//!
//! let x = array![[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]];
//! let w = array![1.0, 2.0, 0.5];
//! let gram = linalg::weighted_gram(x.view(), Some(w.view()));
//! let rhs = linalg::weighted_cross(x.view(), Array1::ones(3).view(), Some(w.view()));
//! let (beta, info) = linalg::cholesky_solve_vec(gram.view(), rhs.view()).unwrap();
//! assert_eq!(info.jitter, 0.0);
//! let back = gram.dot(&beta);
//! assert!((back[0] - rhs[0]).abs() < 1e-10 && (back[1] - rhs[1]).abs() < 1e-10);
//!
//! let eigen = linalg::symmetric_eigen(gram.view()).unwrap();
//! assert!(eigen.values[0] <= eigen.values[1]);
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::error::{Error, Result};

pub mod faer_backend;
#[cfg(feature = "openblas")]
pub mod openblas_backend;
#[cfg_attr(not(feature = "openblas"), allow(dead_code))]
mod verify;

#[cfg(not(feature = "openblas"))]
use faer_backend as active;
#[cfg(feature = "openblas")]
use openblas_backend as active;

/// Name of the backend the public functions dispatch to (`"faer"` or `"openblas"`).
pub const BACKEND: &str = if cfg!(feature = "openblas") {
    "openblas"
} else {
    "faer"
};

/// How an SPD solve went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolveInfo {
    /// Multiple of the identity added to the matrix before the successful
    /// factorization (0 when the matrix factored as given).
    pub jitter: f64,
    /// Factorization attempts made (1 when no jitter was needed).
    pub attempts: usize,
}

/// A symmetric eigendecomposition `A = V diag(values) Vᵀ`.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// Eigenvalues in ascending order.
    pub values: Array1<f64>,
    /// Orthonormal eigenvectors, one per column, in the order of `values`.
    pub vectors: Array2<f64>,
}

impl SymmetricEigen {
    /// Orders eigenpairs by ascending eigenvalue (backends usually already do).
    fn sorted(values: Array1<f64>, vectors: Array2<f64>) -> Result<Self> {
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Linalg {
                operation: "symmetric eigendecomposition".into(),
                detail: "non-finite eigenvalue (is the input finite?)".into(),
            });
        }
        if values.windows(2).into_iter().all(|p| p[0] <= p[1]) {
            return Ok(Self { values, vectors });
        }
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
        Ok(Self {
            values: order.iter().map(|&i| values[i]).collect(),
            vectors: vectors.select(Axis(1), &order),
        })
    }
}

/// A thin singular value decomposition `A = U diag(values) Vᵀ` of an `m × n`
/// matrix, with `r = min(m, n)` singular triplets.
#[derive(Debug, Clone, PartialEq)]
pub struct ThinSvd {
    /// Singular values, non-increasing, all ≥ 0 (length `r`).
    pub values: Array1<f64>,
    /// Left singular vectors, orthonormal columns (`m × r`).
    pub u: Array2<f64>,
    /// Right singular vectors, orthonormal columns (`n × r`).
    pub v: Array2<f64>,
}

impl ThinSvd {
    /// Checks the values and orders the triplets by non-increasing value.
    fn sorted(values: Array1<f64>, u: Array2<f64>, v: Array2<f64>) -> Result<Self> {
        if values.iter().any(|s| !s.is_finite()) {
            return Err(Error::Linalg {
                operation: "singular value decomposition".into(),
                detail: "non-finite singular value (is the input finite?)".into(),
            });
        }
        if values.windows(2).into_iter().all(|p| p[0] >= p[1]) {
            return Ok(Self { values, u, v });
        }
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
        Ok(Self {
            values: order.iter().map(|&i| values[i]).collect(),
            u: u.select(Axis(1), &order),
            v: v.select(Axis(1), &order),
        })
    }

    /// The empty decomposition of an `m × n` matrix with `min(m, n) = 0`.
    fn empty(m: usize, n: usize) -> Self {
        Self {
            values: Array1::zeros(0),
            u: Array2::zeros((m, 0)),
            v: Array2::zeros((n, 0)),
        }
    }
}

/// Largest power `k` in the jitter schedule `s · ε · 100^k`.
const MAX_JITTER_STEPS: i32 = 7;

/// Shared jitter fallback around one backend's single-attempt Cholesky solve.
fn solve_with_jitter(
    a: ArrayView2<f64>,
    b: ArrayView2<f64>,
    try_solve: impl Fn(ArrayView2<f64>, ArrayView2<f64>) -> Option<Array2<f64>>,
) -> Result<(Array2<f64>, SolveInfo)> {
    let n = a.nrows();
    if a.ncols() != n || b.nrows() != n {
        return Err(Error::Linalg {
            operation: "Cholesky solve".into(),
            detail: format!(
                "matrix is {}x{} and right-hand side has {} rows",
                n,
                a.ncols(),
                b.nrows()
            ),
        });
    }
    if n == 0 {
        return Ok((
            Array2::zeros((0, b.ncols())),
            SolveInfo {
                jitter: 0.0,
                attempts: 0,
            },
        ));
    }
    if let Some(x) = try_solve(a, b) {
        return Ok((
            x,
            SolveInfo {
                jitter: 0.0,
                attempts: 1,
            },
        ));
    }
    let mean_diagonal = a.diag().iter().map(|v| v.abs()).sum::<f64>() / n as f64;
    let scale = if mean_diagonal > 0.0 && mean_diagonal.is_finite() {
        mean_diagonal
    } else {
        1.0
    };
    let mut shifted = a.to_owned();
    let mut previous = 0.0;
    for step in 1..=MAX_JITTER_STEPS {
        let jitter = scale * f64::EPSILON * 100f64.powi(step);
        shifted.diag_mut().mapv_inplace(|v| v + (jitter - previous));
        previous = jitter;
        if let Some(x) = try_solve(shifted.view(), b) {
            return Ok((
                x,
                SolveInfo {
                    jitter,
                    attempts: step as usize + 1,
                },
            ));
        }
    }
    Err(Error::Linalg {
        operation: "Cholesky solve".into(),
        detail: format!(
            "matrix ({n}x{n}) is not positive definite even with jitter {previous:.3e} on the diagonal"
        ),
    })
}

/// Checks, once per process, that the active backend computes what the
/// reference backend (faer) computes on small known problems of every
/// operation it provides (products of several shapes and transposes, `syrk`
/// Gram matrices, Cholesky solves, symmetric eigendecompositions). A BLAS or
/// LAPACK build that returns wrong results on this CPU is refused with
/// [`Error::Linalg`] naming the operation, the size, the error found and the
/// remedies. The faer backend is the reference and always passes. The
/// command line and the study engine call this before any work; the OpenBLAS
/// functions call it on first use and panic with the same message if it
/// failed (they return plain arrays).
pub fn verify_backend() -> Result<()> {
    active::verified()
}

/// `Xᵀ diag(w) y` from a backend's `aᵀ·b` (the one definition both backends use).
#[track_caller]
fn cross_with(
    matmul_tn: fn(ArrayView2<f64>, ArrayView2<f64>) -> Array2<f64>,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    weights: Option<ArrayView1<f64>>,
) -> Array1<f64> {
    assert_eq!(x.nrows(), y.len(), "weighted_cross: rows differ");
    let wy: Array1<f64> = match weights {
        None => y.to_owned(),
        Some(w) => &y * &w,
    };
    let column = wy.insert_axis(Axis(1));
    matmul_tn(x, column.view()).column(0).to_owned()
}

/// Rows of `x` scaled by `w` (`diag(w) X`), as a new array.
fn scale_rows(x: ArrayView2<f64>, w: ArrayView1<f64>) -> Array2<f64> {
    assert_eq!(x.nrows(), w.len(), "weights must have one entry per row");
    let mut out = x.to_owned();
    for (mut row, &weight) in out.rows_mut().into_iter().zip(w.iter()) {
        row *= weight;
    }
    out
}

/// The rows `rows` of `x` (in that order, repeats allowed) as a new
/// row-major matrix: `x.select(Axis(0), rows)`, copied slice by slice when
/// the rows of `x` are contiguous (ndarray's `select` copies element by
/// element). Panics if an index is out of range.
pub fn select_rows(x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
    let cols = x.ncols();
    let mut data = Vec::with_capacity(rows.len() * cols);
    for &i in rows {
        let row = x.row(i);
        match row.as_slice() {
            Some(slice) => data.extend_from_slice(slice),
            None => data.extend(row.iter().copied()),
        }
    }
    Array2::from_shape_vec((rows.len(), cols), data).expect("shape matches the data")
}

/// The rows of `blocks`, one block after the other, as a new row-major
/// matrix (`ndarray::concatenate` along axis 0, with slice copies). Panics if
/// the column counts differ.
pub(crate) fn stack_rows(blocks: &[ArrayView2<f64>]) -> Array2<f64> {
    let cols = blocks.first().map_or(0, |b| b.ncols());
    let total: usize = blocks.iter().map(|b| b.nrows()).sum();
    let mut data = Vec::with_capacity(total * cols);
    for block in blocks {
        assert_eq!(block.ncols(), cols, "stack_rows: column counts differ");
        match block.as_slice() {
            Some(slice) => data.extend_from_slice(slice),
            None => {
                for row in block.rows() {
                    data.extend(row.iter().copied());
                }
            }
        }
    }
    Array2::from_shape_vec((total, cols), data).expect("shape matches the data")
}

/// `a · b`. Panics if the inner dimensions differ.
#[track_caller]
pub fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    active::matmul(a, b)
}

/// `aᵀ · b`. Panics if the row counts differ.
#[track_caller]
pub(crate) fn matmul_tn(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    active::matmul_tn(a, b)
}

/// `a · v` for a vector `v`. Panics if `a.ncols() != v.len()`.
#[track_caller]
pub(crate) fn matvec(a: ArrayView2<f64>, v: ArrayView1<f64>) -> Array1<f64> {
    let column = v.insert_axis(Axis(1));
    active::matmul(a, column).column(0).to_owned()
}

/// Weighted Gram matrix `Xᵀ diag(w) X` (`None`: unit weights). Panics if `w`
/// does not have one entry per row.
#[track_caller]
pub fn weighted_gram(x: ArrayView2<f64>, weights: Option<ArrayView1<f64>>) -> Array2<f64> {
    active::weighted_gram(x, weights)
}

/// Weighted cross-product `Xᵀ diag(w) y` (`None`: unit weights). Panics on
/// mismatched lengths.
#[track_caller]
pub fn weighted_cross(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    weights: Option<ArrayView1<f64>>,
) -> Array1<f64> {
    active::weighted_cross(x, y, weights)
}

/// Solves the SPD system `a · x = b` (several right-hand sides) by Cholesky,
/// reading the lower triangle of `a`, with the jitter fallback described in the
/// module docs. Errors with [`Error::Linalg`] on mismatched shapes or when the
/// matrix cannot be factored even with the largest jitter.
pub fn cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<(Array2<f64>, SolveInfo)> {
    active::cholesky_solve(a, b)
}

/// [`cholesky_solve`] for one right-hand side.
pub fn cholesky_solve_vec(
    a: ArrayView2<f64>,
    b: ArrayView1<f64>,
) -> Result<(Array1<f64>, SolveInfo)> {
    let (x, info) = active::cholesky_solve(a, b.insert_axis(Axis(1)))?;
    Ok((x.column(0).to_owned(), info))
}

/// Symmetric eigendecomposition of `a` (lower triangle read), eigenvalues
/// ascending. Errors with [`Error::Linalg`] if `a` is not square or the solver
/// fails.
pub fn symmetric_eigen(a: ArrayView2<f64>) -> Result<SymmetricEigen> {
    active::symmetric_eigen(a)
}

/// Thin singular value decomposition of `a` (any shape, any layout), values
/// non-increasing. Errors with [`Error::Linalg`] if the solver fails.
pub fn thin_svd(a: ArrayView2<f64>) -> Result<ThinSvd> {
    if a.nrows().min(a.ncols()) == 0 {
        return Ok(ThinSvd::empty(a.nrows(), a.ncols()));
    }
    active::thin_svd(a)
}

/// Test helpers shared by the crate's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use ndarray::{ArrayBase, Data, Dimension};

    /// Asserts equal shapes and `|a − b| ≤ eps · max(1, |b|)` elementwise.
    #[track_caller]
    pub(crate) fn all_close<S1, S2, D>(a: &ArrayBase<S1, D>, b: &ArrayBase<S2, D>, eps: f64)
    where
        S1: Data<Elem = f64>,
        S2: Data<Elem = f64>,
        D: Dimension,
    {
        assert_eq!(a.shape(), b.shape(), "shapes differ");
        for (index, (x, y)) in a.iter().zip(b.iter()).enumerate() {
            assert!(
                (x - y).abs() <= eps * y.abs().max(1.0),
                "entry {index}: {x} vs {y} (tolerance {eps})"
            );
        }
    }
}

/// `assert_close!(a, b, epsilon = e)` for arrays (unit tests only).
#[cfg(test)]
macro_rules! assert_close {
    ($a:expr, $b:expr, epsilon = $e:expr) => {
        $crate::linalg::test_support::all_close(&$a, &$b, $e)
    };
}
#[cfg(test)]
pub(crate) use assert_close;

#[cfg(test)]
mod tests {
    /// The active backend passes its self-check on this machine (the OpenBLAS
    /// build is compared with faer; see `verify`).
    #[test]
    fn the_active_backend_verifies() {
        super::verify_backend().unwrap();
    }

    use super::*;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn gram_and_cross_match_naive_sums() {
        let x = array![
            [1.0, -2.0, 0.5],
            [0.0, 3.0, 1.0],
            [2.0, 1.0, -1.0],
            [1.5, 0.0, 2.0]
        ];
        let y = array![1.0, -1.0, 2.0, 0.5];
        let w = array![0.5, 2.0, 1.0, 0.0];
        let gram = weighted_gram(x.view(), Some(w.view()));
        let cross = weighted_cross(x.view(), y.view(), Some(w.view()));
        for j in 0..3 {
            let mut c = 0.0;
            for i in 0..4 {
                c += w[i] * x[[i, j]] * y[i];
            }
            assert_relative_eq!(cross[j], c, epsilon = 1e-12);
            for k in 0..3 {
                let mut g = 0.0;
                for i in 0..4 {
                    g += w[i] * x[[i, j]] * x[[i, k]];
                }
                assert_relative_eq!(gram[[j, k]], g, epsilon = 1e-12);
            }
        }
        // Signed weights are allowed too (a general X' diag(w) X).
        let signed = array![1.0, -2.0, 0.5, 3.0];
        let gram_signed = weighted_gram(x.view(), Some(signed.view()));
        for j in 0..3 {
            for k in 0..3 {
                let g: f64 = (0..4).map(|i| signed[i] * x[[i, j]] * x[[i, k]]).sum();
                assert_relative_eq!(gram_signed[[j, k]], g, epsilon = 1e-12);
            }
        }
        let unweighted = weighted_gram(x.view(), None);
        assert_close!(unweighted, x.t().dot(&x), epsilon = 1e-12);
    }

    #[test]
    fn matmul_handles_transposed_views() {
        let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = array![[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]];
        assert_close!(matmul(a.view(), b.view()), a.dot(&b), epsilon = 1e-12);
        assert_close!(matmul(b.t(), a.t()), b.t().dot(&a.t()), epsilon = 1e-12);
        assert_close!(
            matmul_tn(b.view(), b.view()),
            b.t().dot(&b),
            epsilon = 1e-12
        );
        assert_close!(
            matvec(a.view(), array![1.0, -1.0, 2.0].view()),
            a.dot(&array![1.0, -1.0, 2.0]),
            epsilon = 1e-12
        );
    }

    #[test]
    fn cholesky_solves_spd_without_jitter() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let b = array![[1.0, 0.0], [2.0, 1.0], [3.0, -1.0]];
        let (x, info) = cholesky_solve(a.view(), b.view()).unwrap();
        assert_eq!(info.jitter, 0.0);
        assert_eq!(info.attempts, 1);
        assert_close!(a.dot(&x), b, epsilon = 1e-12);
    }

    #[test]
    fn singular_matrix_gets_jitter_and_indefinite_fails() {
        // Rank one: needs jitter, and the jittered solution still nearly solves
        // the consistent system.
        let v = array![1.0, 2.0, -1.0];
        let a = Array2::from_shape_fn((3, 3), |(i, j)| v[i] * v[j]);
        let (x, info) = cholesky_solve_vec(a.view(), v.view()).unwrap();
        assert!(info.jitter > 0.0 && info.attempts > 1);
        assert_close!(a.dot(&x), v, epsilon = 1e-6);

        let indefinite = array![[1.0, 0.0], [0.0, -5.0]];
        let err = cholesky_solve_vec(indefinite.view(), array![1.0, 1.0].view()).unwrap_err();
        assert!(matches!(err, Error::Linalg { .. }), "{err}");

        let wrong = cholesky_solve_vec(indefinite.view(), array![1.0].view()).unwrap_err();
        assert!(matches!(wrong, Error::Linalg { .. }));
    }

    #[test]
    fn eigen_is_ascending_and_reconstructs() {
        let a = array![[2.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 2.0]];
        let eigen = symmetric_eigen(a.view()).unwrap();
        let expected = [
            2.0 - std::f64::consts::SQRT_2,
            2.0,
            2.0 + std::f64::consts::SQRT_2,
        ];
        for (value, truth) in eigen.values.iter().zip(expected) {
            assert_relative_eq!(*value, truth, epsilon = 1e-12);
        }
        let v = &eigen.vectors;
        let rebuilt = v.dot(&Array2::from_diag(&eigen.values)).dot(&v.t());
        assert_close!(rebuilt, a, epsilon = 1e-12);
        assert_close!(v.t().dot(v), Array2::eye(3), epsilon = 1e-12);
        assert!(symmetric_eigen(array![[1.0, 2.0]].view()).is_err());
    }

    #[test]
    fn outputs_are_in_standard_layout() {
        let x = array![
            [1.0, 2.0, 0.0],
            [3.0, 4.0, 1.0],
            [5.0, 7.0, -2.0],
            [0.5, 0.0, 1.0]
        ];
        assert!(matmul(x.t(), x.view()).is_standard_layout());
        assert!(matmul_tn(x.view(), x.view()).is_standard_layout());
        let gram = weighted_gram(x.view(), None);
        assert!(gram.is_standard_layout());
        assert!(
            weighted_gram(x.view(), Some(array![1.0, 2.0, 0.5, 1.0].view())).is_standard_layout()
        );
        assert!(symmetric_eigen(gram.view())
            .unwrap()
            .vectors
            .is_standard_layout());
        let (solution, _) = cholesky_solve(gram.view(), x.t()).unwrap();
        assert!(solution.is_standard_layout());
    }

    #[test]
    fn thin_svd_reconstructs_with_orthonormal_factors() {
        let tall = array![
            [1.0, 2.0, 0.5],
            [0.0, 3.0, 1.0],
            [2.0, 1.0, -1.0],
            [1.5, 0.0, 2.0],
            [-1.0, 0.5, 0.0]
        ];
        for a in [tall.clone(), tall.t().to_owned()] {
            let svd = thin_svd(a.view()).unwrap();
            let r = a.nrows().min(a.ncols());
            assert_eq!(svd.values.len(), r);
            assert_eq!(svd.u.dim(), (a.nrows(), r));
            assert_eq!(svd.v.dim(), (a.ncols(), r));
            assert!(svd.values.windows(2).into_iter().all(|p| p[0] >= p[1]));
            let rebuilt = (&svd.u * &svd.values).dot(&svd.v.t());
            assert_close!(rebuilt, a, epsilon = 1e-12);
            assert_close!(svd.u.t().dot(&svd.u), Array2::eye(r), epsilon = 1e-12);
            assert_close!(svd.v.t().dot(&svd.v), Array2::eye(r), epsilon = 1e-12);
            assert!(svd.u.is_standard_layout() && svd.v.is_standard_layout());
        }
        // Singular values of a diagonal matrix, and the empty case.
        let d = array![[0.5, 0.0], [0.0, -3.0], [0.0, 0.0]];
        assert_close!(
            thin_svd(d.view()).unwrap().values,
            array![3.0, 0.5],
            epsilon = 1e-14
        );
        let empty = thin_svd(Array2::<f64>::zeros((4, 0)).view()).unwrap();
        assert_eq!((empty.values.len(), empty.u.dim()), (0, (4, 0)));
    }

    #[test]
    fn sorting_reorders_pairs() {
        let values = array![3.0, 1.0, 2.0];
        let vectors = Array2::from_diag(&array![1.0, 2.0, 3.0]);
        let sorted = SymmetricEigen::sorted(values, vectors).unwrap();
        assert_eq!(sorted.values, array![1.0, 2.0, 3.0]);
        assert_eq!(sorted.vectors.column(0), array![0.0, 2.0, 0.0]);
    }
}
