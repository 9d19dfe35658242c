//! Feature binning for the histogram trees: at most [`MAX_BINS`] bins per
//! feature, cut at midpoints between distinct training values.

use ndarray::ArrayView2;

/// Most bins per feature (bin ids fit in a `u8`).
pub(crate) const MAX_BINS: usize = 256;
/// Features pre-binned to at most [`MAX_BINS`] bins, stored column-major.
#[derive(Debug, Clone)]
pub(crate) struct BinnedMatrix {
    pub(super) n_rows: usize,
    pub(super) bins: Vec<u8>,
    /// Per feature, the upper edges: a value `v` falls in the first bin `k` with
    /// `v <= edges[k]`, or in bin `edges.len()` when it exceeds every edge.
    pub(super) edges: Vec<Vec<f64>>,
}

impl BinnedMatrix {
    /// Bins every column of `x` (which must be finite).
    pub(crate) fn new(x: ArrayView2<f64>) -> Self {
        let (n_rows, n_features) = x.dim();
        let mut bins = vec![0u8; n_rows * n_features];
        let mut edges = Vec::with_capacity(n_features);
        let mut sorted = Vec::with_capacity(n_rows);
        for (f, column) in x.columns().into_iter().enumerate() {
            sorted.clear();
            sorted.extend(column.iter().copied());
            sorted.sort_unstable_by(f64::total_cmp);
            let feature_edges = cut_points(&sorted);
            let out = &mut bins[f * n_rows..(f + 1) * n_rows];
            for (slot, &v) in out.iter_mut().zip(column.iter()) {
                *slot = feature_edges.partition_point(|&e| e < v) as u8;
            }
            edges.push(feature_edges);
        }
        BinnedMatrix {
            n_rows,
            bins,
            edges,
        }
    }

    pub(crate) fn n_features(&self) -> usize {
        self.edges.len()
    }

    pub(super) fn column(&self, feature: usize) -> &[u8] {
        &self.bins[feature * self.n_rows..(feature + 1) * self.n_rows]
    }

    pub(super) fn n_bins(&self, feature: usize) -> usize {
        self.edges[feature].len() + 1
    }

    pub(crate) fn bin(&self, row: usize, feature: usize) -> u8 {
        self.bins[feature * self.n_rows + row]
    }
}

/// Upper bin edges for one sorted feature column.
pub(super) fn cut_points(sorted: &[f64]) -> Vec<f64> {
    let n = sorted.len();
    let mut distinct: Vec<f64> = Vec::new();
    for &v in sorted {
        if distinct.last() != Some(&v) {
            distinct.push(v);
        }
    }
    let midpoint = |lo: f64, hi: f64| {
        let m = lo + (hi - lo) / 2.0;
        if m >= hi {
            lo
        } else {
            m
        }
    };
    if distinct.len() <= MAX_BINS {
        return distinct.windows(2).map(|p| midpoint(p[0], p[1])).collect();
    }
    // Quantile cut points: after rank k·n/MAX_BINS, cut between that value and the
    // next larger distinct value.
    let mut edges: Vec<f64> = Vec::with_capacity(MAX_BINS - 1);
    for k in 1..MAX_BINS {
        let rank = (k * n / MAX_BINS).min(n - 1);
        let lo = sorted[rank];
        let next = distinct.partition_point(|&d| d <= lo);
        if next >= distinct.len() {
            break;
        }
        let edge = midpoint(lo, distinct[next]);
        if edges.last().is_none_or(|&last| edge > last) {
            edges.push(edge);
        }
    }
    edges
}
