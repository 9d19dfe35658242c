//! Split finding for the histogram trees: per-node histograms of `(Σa, Σb,
//! rows)` over bins (with the sibling-subtraction buffers), and the scans that
//! pick the best cut of a node.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::binning::{BinnedMatrix, MAX_BINS};
use super::{GrowRules, Pending};

/// Histograms of every feature for one node, with masks of non-empty bins.
/// Buffers are recycled through a pool and are all-zero when in the pool.
pub(super) struct NodeHistograms {
    pub(super) bins: Vec<Bin>,
    pub(super) occupied: Vec<[u64; MAX_BINS / 64]>,
}

impl NodeHistograms {
    pub(super) fn new(n_features: usize) -> Self {
        NodeHistograms {
            bins: vec![Bin::default(); n_features * MAX_BINS],
            occupied: vec![[0; MAX_BINS / 64]; n_features],
        }
    }

    /// Adds the rows to every feature's histogram.
    pub(super) fn fill(&mut self, binned: &BinnedMatrix, node_rows: &[u32], node_ab: &[[f64; 2]]) {
        for (feature, occupied) in self.occupied.iter_mut().enumerate() {
            let column = binned.column(feature);
            let hist = &mut self.bins[feature * MAX_BINS..(feature + 1) * MAX_BINS];
            for (&r, v) in node_rows.iter().zip(node_ab) {
                let k = column[r as usize] as usize;
                let bin = &mut hist[k];
                bin.a += v[0];
                bin.b += v[1];
                bin.n += 1;
                occupied[k >> 6] |= 1u64 << (k & 63);
            }
        }
    }

    /// `self ← self − other` for a child `other` of the node `self` holds,
    /// leaving the other child's histograms; bins left without rows are zeroed.
    pub(super) fn subtract(&mut self, other: &NodeHistograms) {
        for (feature, words) in other.occupied.iter().enumerate() {
            for (word, &mask) in words.iter().enumerate() {
                let mut bits = mask;
                while bits != 0 {
                    let k = word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let index = feature * MAX_BINS + k;
                    let (mine, theirs) = (&mut self.bins[index], other.bins[index]);
                    mine.n -= theirs.n;
                    if mine.n == 0 {
                        *mine = Bin::default();
                        self.occupied[feature][word] &= !(1u64 << (k & 63));
                    } else {
                        mine.a -= theirs.a;
                        mine.b -= theirs.b;
                    }
                }
            }
        }
    }

    /// Zeroes the non-empty bins, ready for reuse.
    pub(super) fn clear(&mut self) {
        for (feature, words) in self.occupied.iter_mut().enumerate() {
            for (word, mask) in words.iter_mut().enumerate() {
                let mut bits = std::mem::take(mask);
                while bits != 0 {
                    let k = word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    self.bins[feature * MAX_BINS + k] = Bin::default();
                }
            }
        }
    }
}

/// Recycled [`NodeHistograms`] buffers.
pub(super) struct HistogramPool {
    pub(super) n_features: usize,
    pub(super) free: Vec<NodeHistograms>,
}

impl HistogramPool {
    pub(super) fn take(&mut self) -> NodeHistograms {
        self.free
            .pop()
            .unwrap_or_else(|| NodeHistograms::new(self.n_features))
    }

    pub(super) fn give(&mut self, mut hist: NodeHistograms) {
        hist.clear();
        self.free.push(hist);
    }
}

#[derive(Clone, Copy)]
pub(super) struct Split {
    pub(super) feature: usize,
    pub(super) bin: u8,
    pub(super) gain: f64,
    pub(super) left_a: f64,
    pub(super) left_b: f64,
}

/// One histogram bin: `Σa`, `Σb` and the row count.
#[derive(Clone, Copy, Default)]
pub(super) struct Bin {
    pub(super) a: f64,
    pub(super) b: f64,
    pub(super) n: u32,
}

/// Scratch buffers reused across nodes.
pub(super) struct Scratch {
    pub(super) hist: Vec<Bin>,
    /// Bit `k` is set when bin `k` is non-empty, so a scan visits only
    /// non-empty bins, in order, at a cost independent of the bin count.
    pub(super) occupied: [u64; MAX_BINS / 64],
    pub(super) features: Vec<usize>,
}

/// The best split of a node over a random subset of features (sklearn's rule:
/// draw features without replacement until `max_features` non-constant ones
/// have been examined).
#[allow(clippy::too_many_arguments)]
pub(super) fn best_split(
    binned: &BinnedMatrix,
    node_rows: &[u32],
    node_ab: &[[f64; 2]],
    p: &Pending,
    parent_score: f64,
    min_gain: f64,
    rules: &GrowRules,
    rng: &mut ChaCha8Rng,
    scratch: &mut Scratch,
) -> Option<Split> {
    let n_features = binned.n_features();
    let sample = rules.max_features < n_features;
    if sample {
        // Each node starts from the identity order so the draw depends only on rng.
        for (k, f) in scratch.features.iter_mut().enumerate() {
            *f = k;
        }
    }
    let mut best: Option<Split> = None;
    let mut examined = 0;
    for position in 0..n_features {
        if sample {
            let pick = rng.random_range(position..n_features);
            scratch.features.swap(position, pick);
        }
        let feature = scratch.features[position];
        if binned.n_bins(feature) < 2 {
            continue;
        }
        let (candidate, varied) = split_feature(
            binned,
            node_rows,
            node_ab,
            feature,
            p,
            parent_score,
            rules,
            scratch,
        );
        if varied {
            examined += 1;
        }
        if let Some(c) = candidate {
            if c.gain > min_gain && best.is_none_or(|b| c.gain > b.gain) {
                best = Some(c);
            }
        }
        if examined >= rules.max_features {
            break;
        }
    }
    best
}

/// The best split of one feature: fills the scratch histogram over bins, then
/// scans (and clears) the non-empty bins in order. Also reports whether the
/// feature varies within the node.
#[allow(clippy::too_many_arguments)]
pub(super) fn split_feature(
    binned: &BinnedMatrix,
    node_rows: &[u32],
    node_ab: &[[f64; 2]],
    feature: usize,
    p: &Pending,
    parent_score: f64,
    rules: &GrowRules,
    scratch: &mut Scratch,
) -> (Option<Split>, bool) {
    let column = binned.column(feature);
    // A fixed-size view: bin indices are u8, so no bounds checks.
    let hist: &mut [Bin; MAX_BINS] = scratch
        .hist
        .as_mut_slice()
        .try_into()
        .expect("the scratch histogram has MAX_BINS bins");
    let occupied = &mut scratch.occupied;
    for (&r, v) in node_rows.iter().zip(node_ab) {
        let k = column[r as usize];
        let bin = &mut hist[k as usize];
        bin.a += v[0];
        bin.b += v[1];
        bin.n += 1;
        occupied[(k >> 6) as usize] |= 1u64 << (k & 63);
    }
    // The scan takes the bins out as it visits them: the scratch histogram is
    // all-zero again afterwards.
    scan_bins(
        |k| std::mem::take(&mut hist[k]),
        std::mem::take(occupied),
        feature,
        p,
        parent_score,
        rules,
    )
}

/// The best split over every feature from a node's full histograms (ties go to
/// the lower feature index, as in the sampled path).
pub(super) fn best_split_all(
    hist: &mut NodeHistograms,
    p: &Pending,
    parent_score: f64,
    min_gain: f64,
    rules: &GrowRules,
) -> Option<Split> {
    let mut best: Option<Split> = None;
    for (feature, occupied) in hist.occupied.iter().enumerate() {
        let bins = &hist.bins[feature * MAX_BINS..(feature + 1) * MAX_BINS];
        if let (Some(c), _) = scan_feature(bins, occupied, feature, p, parent_score, rules) {
            if c.gain > min_gain && best.is_none_or(|b| c.gain > b.gain) {
                best = Some(c);
            }
        }
    }
    best
}

/// Scans one feature's non-empty bins in order for the best cut; also reports
/// whether the feature varies within the node (≥ 2 non-empty bins).
pub(super) fn scan_feature(
    hist: &[Bin],
    occupied: &[u64; MAX_BINS / 64],
    feature: usize,
    p: &Pending,
    parent_score: f64,
    rules: &GrowRules,
) -> (Option<Split>, bool) {
    let hist: &[Bin; MAX_BINS] = hist.try_into().expect("one feature's MAX_BINS bins");
    scan_bins(|k| hist[k], *occupied, feature, p, parent_score, rules)
}

/// [`scan_feature`] over bins read through `bin` (which may clear them).
#[inline(always)]
fn scan_bins(
    mut bin_at: impl FnMut(usize) -> Bin,
    occupied: [u64; MAX_BINS / 64],
    feature: usize,
    p: &Pending,
    parent_score: f64,
    rules: &GrowRules,
) -> (Option<Split>, bool) {
    let total = p.end - p.start;
    let (mut left_a, mut left_b, mut left_n) = (0.0, 0.0, 0usize);
    let mut best: Option<Split> = None;
    // The best `a_L²/d_L + a_R²/d_R` so far (−∞: none yet).
    let mut best_total = f64::NEG_INFINITY;
    let mut non_empty = 0;
    for (word, &mask) in occupied.iter().enumerate() {
        let mut bits = mask;
        while bits != 0 {
            let k = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let bin = bin_at(k);
            non_empty += 1;
            left_a += bin.a;
            left_b += bin.b;
            left_n += bin.n as usize;
            let right_n = total - left_n;
            if right_n == 0 || left_n < rules.min_samples_leaf || right_n < rules.min_samples_leaf {
                continue;
            }
            let right_b = p.sum_b - left_b;
            if left_b < rules.min_child_b || right_b < rules.min_child_b {
                continue;
            }
            let right_a = p.sum_a - left_a;
            // gain = a_L²/d_L + a_R²/d_R − parent = num/(d_L d_R) − parent; compare
            // without dividing and divide only for a new best.
            let (d_left, d_right) = (left_b + rules.lambda, right_b + rules.lambda);
            if d_left <= 0.0 || d_right <= 0.0 {
                continue;
            }
            let num = left_a * left_a * d_right + right_a * right_a * d_left;
            let den = d_left * d_right;
            if num > best_total * den {
                best_total = num / den;
                let gain = best_total - parent_score;
                best = Some(Split {
                    feature,
                    bin: k as u8,
                    gain,
                    left_a,
                    left_b,
                });
            }
        }
    }
    (best, non_empty >= 2)
}
