//! Histogram-binned regression trees shared by [`super::forest`] and [`super::boosting`].
//!
//! Both ensembles grow the same kind of tree. Every training row `i` carries a
//! first-order statistic `a_i` and a positive second-order statistic `b_i`; a node
//! holding rows `R` predicts `Σ_R a / (Σ_R b + λ)` and a split of `R` into `L ∪ Rt`
//! gains
//!
//! ```text
//! gain = (Σ_L a)² / (Σ_L b + λ) + (Σ_Rt a)² / (Σ_Rt b + λ) − (Σ_R a)² / (Σ_R b + λ).
//! ```
//!
//! A forest uses `a_i = w_i (y_i − ȳ)`, `b_i = w_i`, `λ = 0`: the gain is then the
//! weighted variance reduction and the leaf value the weighted mean. Boosting uses
//! `a_i = −w_i g_i`, `b_i = w_i h_i` (gradient and hessian of the loss), which is
//! XGBoost's second-order gain without the `½` and without `γ`.
//!
//! Features are binned once per fit ([`BinnedMatrix`]): each feature gets at most
//! [`MAX_BINS`] bins cut at midpoints between distinct training values (every
//! distinct value is its own bin when there are few; otherwise cut points sit at
//! unweighted quantiles). Split candidates are the bin boundaries, so a threshold
//! is always a midpoint between two training values, as in exact CART when a
//! feature has at most `MAX_BINS` distinct values. A node's best split is found
//! from a per-feature histogram of `(Σa, Σb, rows)` over bins; a 256-bit mask of
//! non-empty bins lets the scan (and the reset) visit only occupied bins, so a
//! node with `m` rows costs `O(m)` per feature however many bins there are.
//! When every feature is examined (boosting, bagged trees) a node keeps the
//! histograms of all features and a child's are its parent's minus its
//! sibling's, so only the smaller child is filled from rows (the subtraction
//! trick of LightGBM). Candidate gains are compared without dividing; only a new
//! best is divided out.

use ndarray::ArrayView2;
use rand_chacha::ChaCha8Rng;

mod binning;
mod nodes;
mod split;

pub(crate) use binning::BinnedMatrix;
use binning::MAX_BINS;
pub(crate) use nodes::TreeNode;
use split::{best_split, best_split_all, Bin, HistogramPool, NodeHistograms, Scratch};

/// Relative tolerance below which a node counts as pure and a gain as zero.
const GAIN_TOLERANCE: f64 = 1e-12;

/// One node of a fitted tree (a leaf when `left == LEAF`).
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    bin: u8,
    threshold: f64,
    left: u32,
    right: u32,
    value: f64,
}

const LEAF: u32 = u32::MAX;

/// A fitted regression tree: rows with `x[feature] <= threshold` go left.
/// A leaf has feature 0, bin 0, threshold NaN and both links [`LEAF`]; a
/// split node has value NaN (only leaves predict). Serialized column-wise
/// ([`nodes`]: the format-1 form; the router file's format 2 stores trees
/// through [`TreeNode`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "nodes::TreeColumns", try_from = "nodes::TreeColumns")]
pub(crate) struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Prediction for one row of raw features.
    pub(crate) fn predict_row(&self, row: &[f64]) -> f64 {
        let mut node = &self.nodes[0];
        while node.left != LEAF {
            let next = if row[node.feature as usize] <= node.threshold {
                node.left
            } else {
                node.right
            };
            node = &self.nodes[next as usize];
        }
        node.value
    }

    /// Prediction for training row `row` of the matrix the tree was grown on.
    pub(crate) fn predict_binned(&self, binned: &BinnedMatrix, row: usize) -> f64 {
        let mut node = &self.nodes[0];
        while node.left != LEAF {
            let next = if binned.bin(row, node.feature as usize) <= node.bin {
                node.left
            } else {
                node.right
            };
            node = &self.nodes[next as usize];
        }
        node.value
    }

    /// The node index of the leaf that training row `row` of the matrix the
    /// tree was grown on falls into.
    pub(crate) fn leaf_of_binned(&self, binned: &BinnedMatrix, row: usize) -> usize {
        let mut index = 0usize;
        loop {
            let node = &self.nodes[index];
            if node.left == LEAF {
                return index;
            }
            index = if binned.bin(row, node.feature as usize) <= node.bin {
                node.left as usize
            } else {
                node.right as usize
            };
        }
    }

    /// Replaces the value of every leaf for which `value(node index)` gives
    /// one.
    pub(crate) fn set_leaf_values(&mut self, value: impl Fn(usize) -> Option<f64>) {
        for (index, node) in self.nodes.iter_mut().enumerate() {
            if node.left == LEAF {
                if let Some(v) = value(index) {
                    node.value = v;
                }
            }
        }
    }

    /// Adds `offset` to, then multiplies by `scale`, every leaf value.
    pub(crate) fn shift_scale_leaves(&mut self, offset: f64, scale: f64) {
        for node in self.nodes.iter_mut().filter(|n| n.left == LEAF) {
            node.value = (node.value + offset) * scale;
        }
    }

    /// Every split feature is below `n_features` (links were checked on load).
    pub(crate) fn check_consistent(&self, n_features: usize) -> std::result::Result<(), String> {
        match self
            .nodes
            .iter()
            .find(|n| n.left != LEAF && n.feature as usize >= n_features)
        {
            Some(node) => Err(format!(
                "a split on feature {} of a model with {n_features} features",
                node.feature
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn n_leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.left == LEAF).count()
    }

    /// Depth of the deepest leaf (a single leaf has depth 0).
    pub(crate) fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((index, depth)) = stack.pop() {
            let node = &self.nodes[index];
            if node.left == LEAF {
                deepest = deepest.max(depth);
            } else {
                stack.push((node.left as usize, depth + 1));
                stack.push((node.right as usize, depth + 1));
            }
        }
        deepest
    }
}

/// `Σ_trees T(x_i)` for every row of `x`, summed in tree order. The loop runs
/// tree by tree over all rows so that one tree's nodes stay in cache.
pub(crate) fn sum_over_trees(trees: &[Tree], x: ArrayView2<f64>) -> Vec<f64> {
    let x = x.as_standard_layout();
    let d = x.ncols();
    let mut sum = vec![0.0; x.nrows()];
    let Some(flat) = x.as_slice() else {
        unreachable!("standard layout is contiguous")
    };
    if d == 0 {
        return sum;
    }
    for tree in trees {
        for (total, row) in sum.iter_mut().zip(flat.chunks_exact(d)) {
            *total += tree.predict_row(row);
        }
    }
    sum
}

/// Stopping rules and regularisation for growing one tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GrowRules {
    /// Nodes at this depth become leaves (the root has depth 0).
    pub max_depth: usize,
    /// A node needs at least this many rows to be split.
    pub min_samples_split: usize,
    /// Each child needs at least this many rows.
    pub min_samples_leaf: usize,
    /// Each child needs `Σ b` at least this large.
    pub min_child_b: f64,
    /// The `λ` of the gain and leaf value.
    pub lambda: f64,
    /// Features examined per node (`== n_features` examines all, without RNG).
    pub max_features: usize,
}

/// Per-row statistics for one tree: rows with `b > 0` take part.
pub(crate) struct RowStats<'a> {
    pub a: &'a [f64],
    pub b: &'a [f64],
}

struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
    sum_a: f64,
    sum_b: f64,
    /// The node's histograms of every feature, when already known (built from
    /// the parent's by subtraction); only when every feature is examined.
    hist: Option<NodeHistograms>,
}

/// Features above which a node's histograms of all features are not kept (they
/// take `features × 256 × 24` bytes per pending node).
const REUSE_MAX_FEATURES: usize = 256;
/// Buffers reused from one tree to the next (histograms of all features).
pub(crate) struct Workspace {
    pool: HistogramPool,
}

impl Workspace {
    pub(crate) fn new(n_features: usize) -> Self {
        Workspace {
            pool: HistogramPool {
                n_features,
                free: Vec::new(),
            },
        }
    }
}

/// Grows one tree on `rows` (indices into `binned`, each with `b > 0`).
pub(crate) fn grow(
    binned: &BinnedMatrix,
    stats: &RowStats<'_>,
    rows: Vec<u32>,
    rules: &GrowRules,
    rng: &mut ChaCha8Rng,
) -> Tree {
    let mut workspace = Workspace::new(binned.n_features());
    grow_with(binned, stats, rows, rules, rng, true, &mut workspace)
}

/// [`grow`] with buffers kept in `workspace` across calls.
pub(crate) fn grow_in(
    binned: &BinnedMatrix,
    stats: &RowStats<'_>,
    rows: Vec<u32>,
    rules: &GrowRules,
    rng: &mut ChaCha8Rng,
    workspace: &mut Workspace,
) -> Tree {
    grow_with(binned, stats, rows, rules, rng, true, workspace)
}

/// [`grow`], optionally without the sibling-subtraction path (for tests).
fn grow_with(
    binned: &BinnedMatrix,
    stats: &RowStats<'_>,
    mut rows: Vec<u32>,
    rules: &GrowRules,
    rng: &mut ChaCha8Rng,
    allow_reuse: bool,
    workspace: &mut Workspace,
) -> Tree {
    let n_features = binned.n_features();
    let mut scratch = Scratch {
        hist: vec![Bin::default(); MAX_BINS],
        occupied: [0; MAX_BINS / 64],
        features: (0..n_features).collect(),
    };
    let (mut ab, root, root_leaf) = root(stats, &rows, rules.lambda);
    let mut nodes = vec![root_leaf];
    let mut stack = vec![root];
    // With every feature examined at every node, a child's histograms are the
    // parent's minus its sibling's: only the smaller child is filled from rows.
    let reuse = allow_reuse && rules.max_features == n_features && n_features <= REUSE_MAX_FEATURES;
    let pool = &mut workspace.pool;
    let splittable = |count: usize, depth: usize, sum_b: f64| {
        depth < rules.max_depth
            && count >= rules.min_samples_split
            && count >= 2 * rules.min_samples_leaf
            && sum_b >= 2.0 * rules.min_child_b
    };
    let search = SplitSearch {
        binned,
        rules,
        reuse,
    };
    while let Some(mut p) = stack.pop() {
        let count = p.end - p.start;
        let own_hist = p.hist.take();
        if !splittable(count, p.depth, p.sum_b) {
            if let Some(h) = own_hist {
                pool.give(h);
            }
            continue;
        }
        let node_rows = &rows[p.start..p.end];
        let node_ab = &ab[p.start..p.end];
        let (best, hist) =
            search.node_split(node_rows, node_ab, &p, own_hist, rng, &mut scratch, pool);
        let Some(best) = best else {
            if let Some(h) = hist {
                pool.give(h);
            }
            continue;
        };
        // Partition rows[start..end] so that the left child comes first.
        let column = binned.column(best.feature);
        let mid = p.start
            + partition(
                column,
                best.bin,
                &mut rows[p.start..p.end],
                &mut ab[p.start..p.end],
            );
        let threshold = binned.edges[best.feature][best.bin as usize];
        let [mut right, mut left] = split_node(&mut nodes, &p, &best, threshold, mid, rules.lambda);
        if let Some(parent_hist) = hist {
            let needed = (
                splittable(mid - p.start, left.depth, left.sum_b),
                splittable(p.end - mid, right.depth, right.sum_b),
            );
            let ranges = (p.start, mid, p.end);
            (left.hist, right.hist) =
                child_histograms(parent_hist, binned, (&rows, &ab), ranges, needed, pool);
        }
        stack.push(right);
        stack.push(left);
    }
    Tree { nodes }
}

/// The row statistics `(a, b)` in the order of `rows` (partitioned
/// alongside them, so histogram filling reads them sequentially), the
/// root's pending entry and its leaf (sums `Σa`, `Σb` over every row).
fn root(stats: &RowStats<'_>, rows: &[u32], lambda: f64) -> (Vec<[f64; 2]>, Pending, Node) {
    let ab: Vec<[f64; 2]> = rows
        .iter()
        .map(|&r| [stats.a[r as usize], stats.b[r as usize]])
        .collect();
    let (sum_a, sum_b) = ab
        .iter()
        .fold((0.0, 0.0), |(sa, sb), v| (sa + v[0], sb + v[1]));
    let pending = Pending {
        node: 0,
        start: 0,
        end: rows.len(),
        depth: 0,
        sum_a,
        sum_b,
        hist: None,
    };
    (ab, pending, leaf_node(sum_a, sum_b, lambda))
}

/// Turns node `p` into a split at `best` (rows `p.start..mid` go left):
/// appends both children as leaves and returns their pending entries
/// (right, left), the right sums being the parent's minus the left's; the
/// children's histograms are set by the caller.
fn split_node(
    nodes: &mut Vec<Node>,
    p: &Pending,
    best: &split::Split,
    threshold: f64,
    mid: usize,
    lambda: f64,
) -> [Pending; 2] {
    let (left_a, left_b) = (best.left_a, best.left_b);
    let (right_a, right_b) = (p.sum_a - left_a, p.sum_b - left_b);
    let left = nodes.len();
    nodes.push(leaf_node(left_a, left_b, lambda));
    nodes.push(leaf_node(right_a, right_b, lambda));
    let node = &mut nodes[p.node];
    // Only leaves predict: a split node holds no value.
    node.value = f64::NAN;
    node.feature = best.feature as u32;
    node.bin = best.bin;
    node.threshold = threshold;
    node.left = left as u32;
    node.right = left as u32 + 1;
    [
        Pending {
            node: left + 1,
            start: mid,
            end: p.end,
            depth: p.depth + 1,
            sum_a: right_a,
            sum_b: right_b,
            hist: None,
        },
        Pending {
            node: left,
            start: p.start,
            end: mid,
            depth: p.depth + 1,
            sum_a: left_a,
            sum_b: left_b,
            hist: None,
        },
    ]
}

/// What the split search of every node of one tree reads: the binned
/// features, the growth rules and whether node histograms are reused
/// (every feature examined at every node).
struct SplitSearch<'a> {
    binned: &'a BinnedMatrix,
    rules: &'a GrowRules,
    reuse: bool,
}

impl SplitSearch<'_> {
    /// The best split of node `p` (rows `node_rows`, statistics `node_ab`),
    /// `None` for a pure node (spread `Σa²/b − (Σa)²/Σb` at most the gain
    /// tolerance) or when no split gains; with reuse, also the node's
    /// histograms (its own `own_hist` or filled from its rows).
    #[allow(clippy::too_many_arguments)]
    fn node_split(
        &self,
        node_rows: &[u32],
        node_ab: &[[f64; 2]],
        p: &Pending,
        own_hist: Option<NodeHistograms>,
        rng: &mut ChaCha8Rng,
        scratch: &mut Scratch,
        pool: &mut HistogramPool,
    ) -> (Option<split::Split>, Option<NodeHistograms>) {
        let rules = self.rules;
        // Purity: Σ a²/b − (Σa)²/Σb is the weighted sum of squares about the mean.
        let sum_sq: f64 = node_ab.iter().map(|v| v[0] * v[0] / v[1]).sum();
        let parent_score = p.sum_a * p.sum_a / (p.sum_b + rules.lambda);
        let spread = sum_sq - p.sum_a * p.sum_a / p.sum_b;
        let min_gain = GAIN_TOLERANCE * sum_sq;
        let mut hist = None;
        let best = if spread <= min_gain {
            None
        } else if self.reuse {
            let mut h = own_hist.unwrap_or_else(|| {
                let mut h = pool.take();
                h.fill(self.binned, node_rows, node_ab);
                h
            });
            let best = best_split_all(&mut h, p, parent_score, min_gain, rules);
            hist = Some(h);
            best
        } else {
            best_split(
                self.binned,
                node_rows,
                node_ab,
                p,
                parent_score,
                min_gain,
                rules,
                rng,
                scratch,
            )
        };
        (best, hist)
    }
}

/// Partitions a node's rows (and their statistics alongside) so that rows
/// with `column[row] <= bin` come first; returns how many do.
fn partition(column: &[u8], bin: u8, slice: &mut [u32], slice_ab: &mut [[f64; 2]]) -> usize {
    let mut i = 0;
    let mut j = slice.len();
    while i < j {
        if column[slice[i] as usize] <= bin {
            i += 1;
        } else {
            j -= 1;
            slice.swap(i, j);
            slice_ab.swap(i, j);
        }
    }
    i
}

/// The children's histograms after a split of rows `start..end` at `mid`
/// (left, right): the smaller child's filled from its rows, the larger's as
/// the parent's minus it; only for children `needed` (to be split), the
/// rest returned to the pool.
fn child_histograms(
    mut parent_hist: NodeHistograms,
    binned: &BinnedMatrix,
    (rows, ab): (&[u32], &[[f64; 2]]),
    (start, mid, end): (usize, usize, usize),
    (need_left, need_right): (bool, bool),
    pool: &mut HistogramPool,
) -> (Option<NodeHistograms>, Option<NodeHistograms>) {
    let left_smaller = mid - start <= end - mid;
    let (small, small_needed, large_needed) = if left_smaller {
        (start..mid, need_left, need_right)
    } else {
        (mid..end, need_right, need_left)
    };
    let (small_hist, large_hist) = if large_needed {
        let mut small_hist = pool.take();
        small_hist.fill(binned, &rows[small.clone()], &ab[small]);
        parent_hist.subtract(&small_hist);
        (Some(small_hist), Some(parent_hist))
    } else if small_needed {
        pool.give(parent_hist);
        let mut small_hist = pool.take();
        small_hist.fill(binned, &rows[small.clone()], &ab[small]);
        (Some(small_hist), None)
    } else {
        pool.give(parent_hist);
        (None, None)
    };
    // Children that will not be split do not keep histograms.
    let keep = |h: Option<NodeHistograms>, needed: bool, pool: &mut HistogramPool| match h {
        Some(h) if !needed => {
            pool.give(h);
            None
        }
        other => other,
    };
    if left_smaller {
        let left_hist = keep(small_hist, need_left, pool);
        let right_hist = keep(large_hist, need_right, pool);
        (left_hist, right_hist)
    } else {
        let right_hist = keep(small_hist, need_right, pool);
        let left_hist = keep(large_hist, need_left, pool);
        (left_hist, right_hist)
    }
}

fn leaf_node(sum_a: f64, sum_b: f64, lambda: f64) -> Node {
    let denominator = sum_b + lambda;
    Node {
        feature: 0,
        bin: 0,
        threshold: f64::NAN,
        left: LEAF,
        right: LEAF,
        value: if denominator > 0.0 {
            sum_a / denominator
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn few_distinct_values_get_one_bin_each_with_midpoint_edges() {
        let x = Array2::from_shape_vec((5, 1), vec![3.0, 1.0, 2.0, 1.0, 3.0]).unwrap();
        let binned = BinnedMatrix::new(x.view());
        assert_eq!(binned.edges[0], vec![1.5, 2.5]);
        let bins: Vec<u8> = (0..5).map(|r| binned.bin(r, 0)).collect();
        assert_eq!(bins, vec![2, 0, 1, 0, 2]);
    }

    #[test]
    fn many_distinct_values_get_at_most_max_bins_in_order() {
        let values: Vec<f64> = (0..10_000).map(|i| ((i * 7919) % 10_000) as f64).collect();
        let x = Array2::from_shape_vec((10_000, 1), values.clone()).unwrap();
        let binned = BinnedMatrix::new(x.view());
        assert!(binned.n_bins(0) <= MAX_BINS);
        assert!(binned.n_bins(0) > MAX_BINS - 5);
        // Binning is monotone in the value and consistent with the edges.
        for (r, &value) in values.iter().enumerate() {
            let b = binned.bin(r, 0) as usize;
            let edges = &binned.edges[0];
            if b < edges.len() {
                assert!(value <= edges[b]);
            }
            if b > 0 {
                assert!(value > edges[b - 1]);
            }
        }
    }

    #[test]
    fn stump_finds_the_step_and_weighted_means() {
        // y = 0 for x < 5, 10 for x ≥ 5; weights make the left mean 1/3·0 ... exact.
        let x = Array2::from_shape_vec((10, 1), (0..10).map(f64::from).collect()).unwrap();
        let y: Vec<f64> = (0..10).map(|i| if i < 5 { 0.0 } else { 10.0 }).collect();
        let w = vec![1.0; 10];
        let binned = BinnedMatrix::new(x.view());
        let rules = GrowRules {
            max_depth: 1,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_child_b: 0.0,
            lambda: 0.0,
            max_features: 1,
        };
        let stats = RowStats { a: &y, b: &w };
        let mut rng = crate::rng::rng_from_seed(0);
        let tree = grow(&binned, &stats, (0..10).collect(), &rules, &mut rng);
        assert_eq!(tree.n_leaves(), 2);
        assert_eq!(tree.predict_row(&[4.4]), 0.0);
        assert_eq!(tree.predict_row(&[4.6]), 10.0);
        assert_eq!(tree.nodes[0].threshold, 4.5);
    }

    #[test]
    fn min_child_b_blocks_light_children() {
        // The only pure split isolates row 0, whose b is 1% of the total.
        let x = Array2::from_shape_vec((4, 1), vec![0.0, 1.0, 2.0, 3.0]).unwrap();
        let a = vec![0.01 * 5.0, 1.0, 1.0, 1.0];
        let b = vec![0.01, 1.0, 1.0, 1.0];
        let binned = BinnedMatrix::new(x.view());
        let mut rules = GrowRules {
            max_depth: 5,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_child_b: 0.0,
            lambda: 0.0,
            max_features: 1,
        };
        let stats = RowStats { a: &a, b: &b };
        let mut rng = crate::rng::rng_from_seed(0);
        let free = grow(&binned, &stats, (0..4).collect(), &rules, &mut rng);
        assert_eq!(free.predict_row(&[0.0]), 5.0);
        rules.min_child_b = 1.5; // no split leaves 1.5 on both sides
        let held = grow(&binned, &stats, (0..4).collect(), &rules, &mut rng);
        assert_eq!(held.n_leaves(), 1);
        assert!((held.predict_row(&[0.0]) - 3.05 / 3.01).abs() < 1e-12);
    }

    #[test]
    fn sibling_subtraction_gives_the_same_tree_as_direct_histograms() {
        let n = 600;
        // Features from unrelated sequences, so a child's bins overlap its sibling's.
        let x = Array2::from_shape_fn((n, 4), |(i, j)| (i as f64 * (1.1 + j as f64)).sin());
        let a: Vec<f64> = (0..n)
            .map(|i| ((i as f64) * 0.37).sin() + 2.0 * x[[i, 0]])
            .collect();
        let b: Vec<f64> = (0..n).map(|i| 0.5 + (i % 4) as f64 * 0.25).collect();
        let binned = BinnedMatrix::new(x.view());
        let stats = RowStats { a: &a, b: &b };
        let rules = GrowRules {
            max_depth: 7,
            min_samples_split: 2,
            min_samples_leaf: 3,
            min_child_b: 1.0,
            lambda: 1.0,
            max_features: 4,
        };
        let mut rng = crate::rng::rng_from_seed(0);
        let reused = grow_with(
            &binned,
            &stats,
            (0..n as u32).collect(),
            &rules,
            &mut rng,
            true,
            &mut Workspace::new(4),
        );
        let direct = grow_with(
            &binned,
            &stats,
            (0..n as u32).collect(),
            &rules,
            &mut rng,
            false,
            &mut Workspace::new(4),
        );
        assert_eq!(reused.n_leaves(), direct.n_leaves());
        assert!(reused.n_leaves() > 10); // 18 here: several levels of subtraction
        for i in 0..n {
            let (u, v) = (
                reused.predict_binned(&binned, i),
                direct.predict_binned(&binned, i),
            );
            assert!((u - v).abs() < 1e-12, "row {i}: {u} vs {v}");
        }
    }
}
