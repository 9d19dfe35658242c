//! The OpenBLAS backend (feature `openblas`): `cblas_dgemm` for products and
//! ndarray-linalg (LAPACK `potrf`/`potrs`, `syevd`, `gesdd`) for factorizations.
//!
//! On first use ([`verified`]) OpenBLAS is forced to one thread (replicates
//! run in parallel under rayon, and nested BLAS threads measured 2–7× slower
//! on this project's machines) and checked against the faer backend on small
//! known problems of every operation used here (see `linalg::verify_backend`).
//! A library that computes wrong results on this CPU is refused with the
//! kernel OpenBLAS chose (`openblas_get_corename`) and the remedies: select
//! another kernel with `OPENBLAS_CORETYPE` (e.g. `Haswell`), use another
//! OpenBLAS build, or build without the `openblas` feature.

use std::os::raw::{c_char, c_int};
use std::sync::{Once, OnceLock};

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use ndarray_linalg::{Eigh, FactorizeC, JobSvd, SolveC, SVDDC, UPLO};

use super::{scale_rows, solve_with_jitter, SolveInfo, SymmetricEigen, ThinSvd};
use crate::error::{Error, Result};

const CBLAS_ROW_MAJOR: c_int = 101;
const CBLAS_NO_TRANS: c_int = 111;
const CBLAS_TRANS: c_int = 112;
const CBLAS_LOWER: c_int = 122;

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_corename() -> *const c_char;
    #[allow(clippy::too_many_arguments)]
    fn cblas_dsyrk(
        layout: c_int,
        uplo: c_int,
        trans: c_int,
        n: c_int,
        k: c_int,
        alpha: f64,
        a: *const f64,
        lda: c_int,
        beta: f64,
        c: *mut f64,
        ldc: c_int,
    );
    #[allow(clippy::too_many_arguments)]
    fn cblas_dgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f64,
        a: *const f64,
        lda: c_int,
        b: *const f64,
        ldb: c_int,
        beta: f64,
        c: *mut f64,
        ldc: c_int,
    );
}

static SINGLE_THREAD: Once = Once::new();
static VERIFIED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Sets OpenBLAS to one thread, once per process.
pub(crate) fn ensure_single_thread() {
    SINGLE_THREAD.call_once(|| {
        // SAFETY: a plain setter in the linked OpenBLAS library; no pointers.
        unsafe { openblas_set_num_threads(1) }
    });
}

/// The CPU kernel OpenBLAS selected (e.g. `SkylakeX`, `Haswell`).
pub(crate) fn core_name() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    unsafe {
        let name = openblas_get_corename();
        if name.is_null() {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Sets one thread and runs the self-check once; the check's outcome.
pub(crate) fn verified() -> Result<()> {
    ensure_single_thread();
    VERIFIED
        .get_or_init(|| {
            super::verify::check(&super::verify::BackendOps {
                matmul: raw_matmul,
                matmul_tn: raw_matmul_tn,
                weighted_gram: raw_weighted_gram,
                cholesky_solve: raw_cholesky_solve,
                symmetric_eigen: raw_symmetric_eigen,
                thin_svd: raw_thin_svd,
            })
            .map_err(|detail| {
                format!(
                    "{detail}. This OpenBLAS build computes wrong results on this CPU \
                     (kernel `{}`, OPENBLAS_CORETYPE={}). Remedies: select another kernel, e.g. \
                     `OPENBLAS_CORETYPE=Haswell`; install another OpenBLAS version; or build \
                     meta-router without the `openblas` feature (the default faer backend)",
                    core_name(),
                    std::env::var("OPENBLAS_CORETYPE").unwrap_or_else(|_| "unset".into())
                )
            })
        })
        .clone()
        .map_err(|detail| Error::Linalg {
            operation: "OpenBLAS self-check".into(),
            detail,
        })
}

/// [`verified`] for the functions that return plain arrays: panics with the
/// self-check's message (the command line checks first and exits cleanly).
#[track_caller]
fn ready() {
    if let Err(e) = verified() {
        panic!("{e}");
    }
}

fn to_int(value: usize) -> c_int {
    c_int::try_from(value).expect("matrix dimension exceeds the BLAS integer range")
}

/// `op(a) · b` with `op` the identity or the transpose, via `cblas_dgemm` on
/// row-major copies (views already in standard layout are not copied).
fn gemm(a: ArrayView2<f64>, transpose_a: bool, b: ArrayView2<f64>) -> Array2<f64> {
    ensure_single_thread();
    let a = a.as_standard_layout();
    let b = b.as_standard_layout();
    let (m, k) = if transpose_a {
        (a.ncols(), a.nrows())
    } else {
        (a.nrows(), a.ncols())
    };
    assert_eq!(k, b.nrows(), "matmul: inner dimensions differ");
    let n = b.ncols();
    let mut out = Array2::<f64>::zeros((m, n));
    if m == 0 || n == 0 || k == 0 {
        return out;
    }
    // SAFETY: all three arrays are contiguous row-major with the leading
    // dimensions passed; `out` is exclusively borrowed and sized m×n.
    unsafe {
        cblas_dgemm(
            CBLAS_ROW_MAJOR,
            if transpose_a {
                CBLAS_TRANS
            } else {
                CBLAS_NO_TRANS
            },
            CBLAS_NO_TRANS,
            to_int(m),
            to_int(n),
            to_int(k),
            1.0,
            a.as_ptr(),
            to_int(a.ncols().max(1)),
            b.as_ptr(),
            to_int(n.max(1)),
            0.0,
            out.as_mut_ptr(),
            to_int(n.max(1)),
        );
    }
    out
}

/// `a · b` (panics on mismatched inner dimensions).
#[track_caller]
pub fn matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    ready();
    raw_matmul(a, b)
}

fn raw_matmul(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    gemm(a, false, b)
}

/// `aᵀ · b` (panics on mismatched row counts).
#[track_caller]
pub(crate) fn matmul_tn(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    ready();
    raw_matmul_tn(a, b)
}

#[track_caller]
fn raw_matmul_tn(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Array2<f64> {
    assert_eq!(a.nrows(), b.nrows(), "matmul_tn: row counts differ");
    gemm(a, true, b)
}

/// `Xᵀ diag(w) X`; `None` means unit weights.
#[track_caller]
pub fn weighted_gram(x: ArrayView2<f64>, weights: Option<ArrayView1<f64>>) -> Array2<f64> {
    ready();
    raw_weighted_gram(x, weights)
}

fn raw_weighted_gram(x: ArrayView2<f64>, weights: Option<ArrayView1<f64>>) -> Array2<f64> {
    match weights {
        None => syrk(x),
        Some(w) if w.iter().all(|&v| v >= 0.0) => {
            // Non-negative weights: Xᵀ diag(w) X = AᵀA with A = diag(√w) X.
            let scaled = scale_rows(x, w.mapv(f64::sqrt).view());
            syrk(scaled.view())
        }
        Some(w) => raw_matmul_tn(x, scale_rows(x, w).view()),
    }
}

/// `aᵀ a` by `cblas_dsyrk` (lower triangle, then mirrored): half a GEMM.
fn syrk(a: ArrayView2<f64>) -> Array2<f64> {
    ensure_single_thread();
    let a = a.as_standard_layout();
    let (k, n) = a.dim();
    let mut out = Array2::<f64>::zeros((n, n));
    if n == 0 || k == 0 {
        return out;
    }
    // SAFETY: `a` is contiguous row-major k×n (lda = n); `out` is n×n row-major
    // (ldc = n) and exclusively borrowed.
    unsafe {
        cblas_dsyrk(
            CBLAS_ROW_MAJOR,
            CBLAS_LOWER,
            CBLAS_TRANS,
            to_int(n),
            to_int(k),
            1.0,
            a.as_ptr(),
            to_int(n),
            0.0,
            out.as_mut_ptr(),
            to_int(n),
        );
    }
    for i in 0..n {
        for j in 0..i {
            out[[j, i]] = out[[i, j]];
        }
    }
    out
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

fn try_cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Option<Array2<f64>> {
    ensure_single_thread();
    let factor = a.factorizec(UPLO::Lower).ok()?;
    let mut solution = Array2::<f64>::zeros(b.raw_dim());
    for (column, mut out) in b.columns().into_iter().zip(solution.columns_mut()) {
        let solved = factor.solvec(&column.to_owned()).ok()?;
        out.assign(&solved);
    }
    if solution.iter().all(|v| v.is_finite()) {
        Some(solution)
    } else {
        None
    }
}

/// Solves the symmetric positive definite system `a · x = b` by Cholesky, with
/// the jitter fallback described in [`crate::linalg::cholesky_solve`].
pub fn cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<(Array2<f64>, SolveInfo)> {
    verified()?;
    raw_cholesky_solve(a, b)
}

fn raw_cholesky_solve(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<(Array2<f64>, SolveInfo)> {
    solve_with_jitter(a, b, try_cholesky_solve)
}

/// Symmetric eigendecomposition (reads the lower triangle), eigenvalues ascending.
pub fn symmetric_eigen(a: ArrayView2<f64>) -> Result<SymmetricEigen> {
    verified()?;
    raw_symmetric_eigen(a)
}

fn raw_symmetric_eigen(a: ArrayView2<f64>) -> Result<SymmetricEigen> {
    ensure_single_thread();
    if a.ncols() != a.nrows() {
        return Err(Error::Linalg {
            operation: "symmetric eigendecomposition".into(),
            detail: format!("matrix is {}x{}, not square", a.nrows(), a.ncols()),
        });
    }
    if a.nrows() == 0 {
        return Ok(SymmetricEigen {
            values: Array1::zeros(0),
            vectors: Array2::zeros((0, 0)),
        });
    }
    let (values, vectors) = a.eigh(UPLO::Lower).map_err(|e| Error::Linalg {
        operation: "symmetric eigendecomposition".into(),
        detail: e.to_string(),
    })?;
    SymmetricEigen::sorted(values, vectors.as_standard_layout().into_owned())
}

/// Thin singular value decomposition (`min(m, n) ≥ 1`) by LAPACK `gesdd`,
/// values non-increasing.
pub fn thin_svd(a: ArrayView2<f64>) -> Result<ThinSvd> {
    verified()?;
    raw_thin_svd(a)
}

fn raw_thin_svd(a: ArrayView2<f64>) -> Result<ThinSvd> {
    ensure_single_thread();
    let failed = |detail: String| Error::Linalg {
        operation: "singular value decomposition".into(),
        detail,
    };
    let (u, values, vt) = a
        .as_standard_layout()
        .svddc(JobSvd::Some)
        .map_err(|e| failed(e.to_string()))?;
    let (Some(u), Some(vt)) = (u, vt) else {
        return Err(failed("gesdd returned no singular vectors".into()));
    };
    ThinSvd::sorted(
        values,
        u.as_standard_layout().into_owned(),
        vt.t().as_standard_layout().into_owned(),
    )
}
