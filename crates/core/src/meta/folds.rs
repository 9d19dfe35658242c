//! Stratified K-fold assignment for cross-fitting (`docs/method.md` §2.1).
//!
//! # Algorithm
//! GS rows and PB rows are each permuted with the `folds` stream and dealt
//! round-robin to folds `0..K`, so every fold holds `⌊n/K⌋` or `⌈n/K⌉` GS rows and
//! likewise for PB rows. The GS permutation is drawn before the PB permutation.

use rand::seq::SliceRandom;

use crate::error::{Error, Result};
use crate::rng::rng_from_seed;

/// Uniform random permutations of the GS rows and of the PB rows, drawn in
/// that order from the stream of `seed`: the stratification shared by
/// cross-fitting folds and by the sample halves of inference.
pub(crate) fn stratified_permutations(n_gold: usize, n_pref: usize, seed: u64) -> [Vec<usize>; 2] {
    let mut rng = rng_from_seed(seed);
    [n_gold, n_pref].map(|len| {
        let mut order: Vec<usize> = (0..len).collect();
        order.shuffle(&mut rng);
        order
    })
}

/// Fold index of every pooled row (GS rows first, then PB rows).
pub fn stratified_folds(
    n_gold: usize,
    n_pref: usize,
    folds: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    check_fold_count(n_gold, n_pref, folds)?;
    let mut assignment = vec![0usize; n_gold + n_pref];
    let [gold, pref] = stratified_permutations(n_gold, n_pref, seed);
    for (offset, order) in [(0, gold), (n_gold, pref)] {
        for (position, &row) in order.iter().enumerate() {
            assignment[offset + row] = position % folds;
        }
    }
    Ok(assignment)
}

/// Checks that `K ≥ 2` and both sources have at least `K` rows.
pub(crate) fn check_fold_count(n_gold: usize, n_pref: usize, folds: usize) -> Result<()> {
    if folds < 2 {
        return Err(Error::param(
            "folds",
            folds,
            "cross-fitting needs at least 2 folds",
        ));
    }
    for (what, rows) in [("gold-standard data", n_gold), ("preference data", n_pref)] {
        if rows < folds {
            return Err(Error::TooFewRows {
                what: what.into(),
                rows,
                folds,
            });
        }
    }
    Ok(())
}

/// Checks a user-supplied fold assignment: right length, values in `0..K`, and
/// every fold holding both GS and PB rows outside it (so every out-of-fold fit
/// has both sources).
pub(crate) fn check_assignment(
    assignment: &[usize],
    n_gold: usize,
    n_pref: usize,
) -> Result<usize> {
    if assignment.len() != n_gold + n_pref {
        return Err(Error::ShapeMismatch {
            what: "fold assignment vs pooled rows".into(),
            expected: n_gold + n_pref,
            found: assignment.len(),
        });
    }
    let folds = assignment.iter().copied().max().unwrap_or(0) + 1;
    check_fold_count(n_gold, n_pref, folds)?;
    for fold in 0..folds {
        let gold_out = assignment[..n_gold].iter().filter(|&&f| f != fold).count();
        let pref_out = assignment[n_gold..].iter().filter(|&&f| f != fold).count();
        let gold_in = n_gold - gold_out;
        let pref_in = n_pref - pref_out;
        if gold_out == 0 || pref_out == 0 || gold_in + pref_in == 0 {
            return Err(Error::param(
                "folds",
                fold,
                "every fold must be non-empty and leave GS and PB rows outside it",
            ));
        }
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_within_each_source() {
        let a = stratified_folds(12, 23, 5, 9).unwrap();
        for fold in 0..5 {
            let g = a[..12].iter().filter(|&&f| f == fold).count();
            let p = a[12..].iter().filter(|&&f| f == fold).count();
            assert!((2..=3).contains(&g), "gold count {g}");
            assert!((4..=5).contains(&p), "pref count {p}");
        }
        assert_eq!(a, stratified_folds(12, 23, 5, 9).unwrap());
        assert_ne!(a, stratified_folds(12, 23, 5, 10).unwrap());
        assert_eq!(check_assignment(&a, 12, 23).unwrap(), 5);
    }

    #[test]
    fn too_few_rows_is_an_error() {
        assert!(matches!(
            stratified_folds(3, 100, 5, 1),
            Err(Error::TooFewRows {
                rows: 3,
                folds: 5,
                ..
            })
        ));
        assert!(matches!(
            stratified_folds(100, 4, 5, 1),
            Err(Error::TooFewRows { rows: 4, .. })
        ));
        assert!(matches!(
            stratified_folds(10, 10, 1, 1),
            Err(Error::InvalidParameter { .. })
        ));
    }
}
