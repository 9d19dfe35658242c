//! Input checks shared by every layer of the core: finite features, labels
//! and weights, matching lengths, 0/1 targets. Each returns the core's
//! [`Error`] naming the input and the first offending row, or (the
//! `String`-valued checks of stored models) a message naming the field.

use ndarray::{ArrayView1, ArrayView2};

use crate::error::{Error, Result};

/// Largest magnitude of a number a user gives (features, labels, weights,
/// in a table or an array): `1e100`, so squares and sums of squares of any
/// input stay finite.
pub const MAX_MAGNITUDE: f64 = 1e100;

/// Checks that weights have length `n`, are finite, non-negative and not all zero.
pub(crate) fn check_weights(w: ArrayView1<f64>, n: usize) -> Result<()> {
    if w.len() != n {
        return Err(Error::ShapeMismatch {
            what: "weights vs rows".into(),
            expected: n,
            found: w.len(),
        });
    }
    for (row, &value) in w.iter().enumerate() {
        if !value.is_finite() || value < 0.0 {
            return Err(Error::InvalidWeight { row, value });
        }
    }
    if w.iter().all(|&v| v == 0.0) {
        return Err(Error::InvalidWeight { row: 0, value: 0.0 });
    }
    Ok(())
}

/// Errors with the first row holding a non-finite entry.
pub(crate) fn check_finite_matrix(what: &str, x: ArrayView2<f64>) -> Result<()> {
    // Fast path for contiguous data: a branch-free test per block (it
    // vectorizes), and the row search only when a block fails.
    if let Some(all) = x.as_slice() {
        if all
            .chunks(1024)
            .all(|block| block.iter().fold(true, |finite, v| finite & v.is_finite()))
        {
            return Ok(());
        }
    }
    for (row, values) in x.rows().into_iter().enumerate() {
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: what.into(),
                row,
            });
        }
    }
    Ok(())
}

/// Errors with the first non-finite entry.
pub(crate) fn check_finite_vector(what: &str, y: ArrayView1<f64>) -> Result<()> {
    match y.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(Error::NonFinite {
            what: what.into(),
            row,
        }),
        None => Ok(()),
    }
}

/// Checks that a target is 0/1.
pub(crate) fn check_binary(t: ArrayView1<f64>) -> Result<()> {
    match t.iter().position(|&v| v != 0.0 && v != 1.0) {
        Some(row) => Err(Error::param(
            "target",
            t[row],
            format!("probability models need a 0/1 target (row {row})"),
        )),
        None => Ok(()),
    }
}

/// Checks that every value is finite; `Err` names `what`.
pub(crate) fn all_finite<'a>(
    what: &str,
    values: impl IntoIterator<Item = &'a f64>,
) -> std::result::Result<(), String> {
    if values.into_iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(format!("{what} holds a non-finite value"))
    }
}

/// Checks that a length equals the expected one; `Err` names `what`.
pub(crate) fn same_len(
    what: &str,
    expected: usize,
    found: usize,
) -> std::result::Result<(), String> {
    if expected == found {
        Ok(())
    } else {
        Err(format!("{what} has length {found}, expected {expected}"))
    }
}
