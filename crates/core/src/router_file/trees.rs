//! The trees of one ensemble (a forest, a boosted model) in router-file
//! format 2: a [`TreeBlock`] of seven [`Column`]s over all its trees.
//!
//! Nodes are numbered per tree as in memory (the root 0; a split's children
//! come after it, the right child directly after the left, as meta-router
//! grows them), and the trees' nodes follow each other in one sequence:
//!
//! | column | entries | content |
//! |---|---|---|
//! | `node_counts` | one per tree | its number of nodes (`u32`) |
//! | `children` | one per node | 0 for a leaf; for a split, its left child's index minus its own (the right child is the next node) |
//! | `features` | one per split | the split's feature column |
//! | `bins` | one per split | the split's bin `b` (`u8`) |
//! | `cut_counts` | one per feature | `k_f`: the bins of feature `f` that have a threshold (`u16`, at most 256) |
//! | `cuts` | `Σ k_f` | the thresholds, feature by feature: a split on feature `f` at bin `b` has threshold `cuts[k_0 + … + k_(f−1) + b]` |
//! | `leaf_values` | one per leaf | the leaf's prediction (`f64`) |
//!
//! The thresholds are stored once per (feature, bin): an ensemble bins its
//! features once, and every split at bin `b` of feature `f` has that bin's
//! upper edge as threshold; the writer checks this (a fitted ensemble that
//! broke it could not be written) and unused bins below a used one hold 0.
//! Split nodes hold no value; leaves hold no feature, bin or threshold.
//! `children` and `features` take the narrowest unsigned type holding their
//! largest entry.

use serde::{Deserialize, Serialize};

use super::columns::{Column, Element, ANY_UNSIGNED};
use crate::learners::tree::{Tree, TreeNode};

/// The trees of one ensemble (module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TreeBlock {
    node_counts: Column,
    children: Column,
    features: Column,
    bins: Column,
    cut_counts: Column,
    cuts: Column,
    leaf_values: Column,
}

/// Most bins a feature can have (bins are `u8`).
const MAX_CUTS: u32 = 256;

impl TreeBlock {
    /// The block of `trees`, fitted on `n_features` columns. Fails (with the
    /// tree and node) for a tree the format cannot hold: a split feature at
    /// or above `n_features`, a right child that does not follow the left,
    /// or two thresholds for one (feature, bin).
    pub(crate) fn encode(trees: &[Tree], n_features: usize) -> std::result::Result<Self, String> {
        let mut node_counts = Vec::with_capacity(trees.len());
        let total: usize = trees.iter().map(Tree::n_nodes).sum();
        let mut children = Vec::with_capacity(total);
        let mut features = Vec::with_capacity(total / 2);
        let mut bins = Vec::with_capacity(total / 2);
        let mut leaf_values = Vec::with_capacity(total / 2 + 1);
        // Per feature, the threshold of each bin (None: no split there).
        let mut table: Vec<Vec<Option<f64>>> = vec![Vec::new(); n_features];
        for (t, tree) in trees.iter().enumerate() {
            node_counts.push(tree.n_nodes() as u32);
            for (i, node) in tree.nodes().enumerate() {
                let at = || format!("tree {t}, node {i}");
                match node {
                    TreeNode::Leaf { value } => {
                        children.push(0);
                        leaf_values.push(value);
                    }
                    TreeNode::Split {
                        feature,
                        bin,
                        threshold,
                        left,
                        right,
                    } => {
                        if (left as usize) <= i || right != left.wrapping_add(1) {
                            return Err(format!(
                                "{}: children {left} and {right} are not two consecutive \
                                 nodes after it",
                                at()
                            ));
                        }
                        let bins_of = table.get_mut(feature as usize).ok_or_else(|| {
                            format!("{}: a split on feature {feature} of {n_features}", at())
                        })?;
                        let b = bin as usize;
                        if bins_of.len() <= b {
                            bins_of.resize(b + 1, None);
                        }
                        match bins_of[b] {
                            Some(known) if known.to_bits() != threshold.to_bits() => {
                                return Err(format!(
                                    "{}: feature {feature}, bin {bin} has thresholds {known} \
                                     and {threshold}",
                                    at()
                                ))
                            }
                            _ => bins_of[b] = Some(threshold),
                        }
                        children.push(left - i as u32);
                        features.push(feature);
                        bins.push(bin as u32);
                    }
                }
            }
        }
        let cut_counts: Vec<u32> = table.iter().map(|b| b.len() as u32).collect();
        let cuts: Vec<f64> = table.iter().flatten().map(|c| c.unwrap_or(0.0)).collect();
        Ok(TreeBlock {
            node_counts: Column::unsigned_as(&node_counts, Element::U32),
            children: Column::unsigned(&children),
            features: Column::unsigned(&features),
            bins: Column::unsigned_as(&bins, Element::U8),
            cut_counts: Column::unsigned_as(&cut_counts, Element::U16),
            cuts: Column::floats(&cuts),
            leaf_values: Column::floats(&leaf_values),
        })
    }

    /// Checks every column's declared length against its text
    /// ([`Column::check_declared`]), naming the column.
    pub(crate) fn check_declared(&self) -> std::result::Result<(), String> {
        for (name, column) in self.named() {
            column
                .check_declared()
                .map_err(|e| format!("`{name}` {e}"))?;
        }
        Ok(())
    }

    fn named(&self) -> [(&'static str, &Column); 7] {
        [
            ("node_counts", &self.node_counts),
            ("children", &self.children),
            ("features", &self.features),
            ("bins", &self.bins),
            ("cut_counts", &self.cut_counts),
            ("cuts", &self.cuts),
            ("leaf_values", &self.leaf_values),
        ]
    }

    /// Memory the decoded block takes, bytes (its arrays and the trees
    /// built from them), from the declared lengths alone.
    pub(crate) fn decoded_bytes(&self) -> f64 {
        // Each column's bytes and its values (at most 8 bytes each), then
        // the nodes twice (the file's models and the router's copy).
        self.named()
            .iter()
            .map(|(_, c)| c.decoded_bytes() as f64 + 8.0 * c.len() as f64)
            .sum::<f64>()
            + self.children.len() as f64 * 2.0 * Tree::NODE_BYTES as f64
    }

    /// The trees, checked: every column decodes ([`Column`]), the columns'
    /// lengths agree with the node counts, links stay inside their tree,
    /// features are below `n_features`, bins have a threshold, thresholds
    /// and leaf values are finite. The message names the column or the tree
    /// and node.
    pub(crate) fn decode(&self, n_features: usize) -> std::result::Result<Vec<Tree>, String> {
        let column = |name: &str, c: &Column, allowed: &[Element]| {
            c.decode_unsigned(allowed)
                .map_err(|e| format!("`{name}` {e}"))
        };
        let floats =
            |name: &str, c: &Column| c.decode_finite().map_err(|e| format!("`{name}` {e}"));
        let node_counts = column("node_counts", &self.node_counts, &[Element::U32])?;
        let children = column("children", &self.children, ANY_UNSIGNED)?;
        let features = column("features", &self.features, ANY_UNSIGNED)?;
        let bins = column("bins", &self.bins, &[Element::U8])?;
        let cut_counts = column("cut_counts", &self.cut_counts, &[Element::U16])?;
        let cuts = floats("cuts", &self.cuts)?;
        let leaf_values = floats("leaf_values", &self.leaf_values)?;
        let starts = cut_starts(&cut_counts, n_features, cuts.len())?;
        check_lengths(
            &node_counts,
            &children,
            (features.len(), bins.len(), leaf_values.len()),
        )?;
        let (mut node, mut split, mut leaf) = (0usize, 0usize, 0usize);
        let mut trees = Vec::with_capacity(node_counts.len());
        for (t, &count) in node_counts.iter().enumerate() {
            let count = count as usize;
            let mut error = None;
            let nodes = (0..count).map(|i| {
                let offset = children[node + i] as usize;
                if offset == 0 {
                    leaf += 1;
                    return TreeNode::Leaf {
                        value: leaf_values[leaf - 1],
                    };
                }
                let (feature, bin) = (features[split], bins[split]);
                split += 1;
                let left = i + offset;
                let threshold = match starts.get(feature as usize) {
                    Some(&(start, k)) if bin < k => cuts[start + bin as usize],
                    Some(_) => {
                        error.get_or_insert_with(|| {
                            format!(
                                "tree {t}, node {i}: a split at bin {bin} of feature \
                                 {feature}, which has no threshold there"
                            )
                        });
                        0.0
                    }
                    None => {
                        error.get_or_insert_with(|| {
                            format!(
                                "tree {t}, node {i}: a split on feature {feature} of a \
                                 model with {n_features} features"
                            )
                        });
                        0.0
                    }
                };
                // Links outside the tree are refused by `Tree::from_nodes`.
                let link = |k: usize| k.min(u32::MAX as usize) as u32;
                TreeNode::Split {
                    feature,
                    bin: bin as u8,
                    threshold,
                    left: link(left),
                    right: link(left + 1),
                }
            });
            let tree = Tree::from_nodes(nodes).map_err(|e| format!("tree {t}: {e}"));
            if let Some(e) = error {
                return Err(e);
            }
            trees.push(tree?);
            node += count;
        }
        Ok(trees)
    }
}

/// The columns' lengths against the trees' nodes: one `children` entry per
/// node, one `features` and one `bins` entry per split node, one leaf value
/// per leaf (`lengths`: those of `features`, `bins` and `leaf_values`).
fn check_lengths(
    node_counts: &[u32],
    children: &[u32],
    (features, bins, leaf_values): (usize, usize, usize),
) -> std::result::Result<(), String> {
    let total: u64 = node_counts.iter().map(|&n| n as u64).sum();
    if total != children.len() as u64 {
        return Err(format!(
            "`children` has {} entries, the trees' {total} nodes need one each",
            children.len()
        ));
    }
    let splits = children.iter().filter(|&&c| c != 0).count();
    for (name, len, need, what) in [
        ("features", features, splits, "split"),
        ("bins", bins, splits, "split"),
        ("leaf_values", leaf_values, children.len() - splits, "leaf"),
    ] {
        if len != need {
            return Err(format!(
                "`{name}` has {len} entries, the trees' {need} {what} nodes need one each"
            ));
        }
    }
    Ok(())
}

/// Where each feature's thresholds start in `cuts` and how many it has,
/// after checking the counts: one per feature, at most [`MAX_CUTS`] each,
/// summing to the length of `cuts`.
fn cut_starts(
    cut_counts: &[u32],
    n_features: usize,
    n_cuts: usize,
) -> std::result::Result<Vec<(usize, u32)>, String> {
    if cut_counts.len() != n_features {
        return Err(format!(
            "`cut_counts` has {} entries, the model's {n_features} features need one each",
            cut_counts.len()
        ));
    }
    let mut starts = Vec::with_capacity(n_features);
    let mut start = 0usize;
    for (f, &k) in cut_counts.iter().enumerate() {
        if k > MAX_CUTS {
            return Err(format!(
                "`cut_counts` gives feature {f} {k} thresholds, more than {MAX_CUTS} bins"
            ));
        }
        starts.push((start, k));
        start += k as usize;
    }
    if start != n_cuts {
        return Err(format!(
            "`cuts` has {n_cuts} entries, `cut_counts` adds up to {start}"
        ));
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learners::{BoostingParams, FittedModel, ForestParams, Learner};
    use ndarray::{Array1, Array2};

    /// Trees of a small forest (3 features) and of a boosted model.
    fn fitted_trees() -> (Vec<Tree>, Vec<Tree>) {
        let n = 120;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| ((i * (j + 3)) as f64 * 0.41).sin());
        let y = Array1::from_shape_fn(n, |i| x[[i, 0]] + x[[i, 1]] * x[[i, 2]]);
        let forest = ForestParams {
            trees: 12,
            ..ForestParams::default()
        };
        let FittedModel::Forest(forest) = forest.fit(x.view(), y.view(), None, 3).unwrap() else {
            unreachable!("a forest")
        };
        let boosting = BoostingParams {
            rounds: 8,
            ..BoostingParams::default()
        };
        let FittedModel::Boosting(boosted) = boosting.fit(x.view(), y.view(), None, 3).unwrap()
        else {
            unreachable!("a boosted model")
        };
        (forest.trees().to_vec(), boosted.parts().1.to_vec())
    }

    fn round_trip(block: &TreeBlock) -> TreeBlock {
        serde_json::from_str(&serde_json::to_string(block).unwrap()).unwrap()
    }

    fn same(a: &[Tree], b: &[Tree]) {
        assert_eq!(a.len(), b.len());
        for (u, v) in a.iter().zip(b) {
            u.same_bits(v).unwrap();
        }
    }

    #[test]
    fn fitted_ensembles_read_back_bit_for_bit() {
        let (forest, boosted) = fitted_trees();
        assert!(forest.iter().any(|t| t.n_nodes() > 20));
        for trees in [&forest, &boosted] {
            let block = round_trip(&TreeBlock::encode(trees, 3).unwrap());
            same(&block.decode(3).unwrap(), trees);
        }
        // A single-leaf tree and an empty ensemble.
        let stump = vec![Tree::from_nodes([TreeNode::Leaf { value: -0.0 }].into_iter()).unwrap()];
        same(
            &TreeBlock::encode(&stump, 2).unwrap().decode(2).unwrap(),
            &stump,
        );
        assert!(TreeBlock::encode(&[], 2)
            .unwrap()
            .decode(2)
            .unwrap()
            .is_empty());
    }

    fn split(feature: u32, bin: u8, threshold: f64, left: u32, right: u32) -> TreeNode {
        TreeNode::Split {
            feature,
            bin,
            threshold,
            left,
            right,
        }
    }

    fn tree(nodes: &[TreeNode]) -> Tree {
        Tree::from_nodes(nodes.iter().copied()).unwrap()
    }

    #[test]
    fn trees_the_format_cannot_hold_are_refused_when_written() {
        let leaf = TreeNode::Leaf { value: 1.0 };
        // Children not adjacent (a valid tree, not one meta-router grows).
        let gap = tree(&[split(0, 0, 0.5, 1, 3), leaf, leaf, leaf]);
        let e = TreeBlock::encode(&[gap], 1).unwrap_err();
        assert!(
            e.contains("tree 0, node 0") && e.contains("consecutive"),
            "{e}"
        );
        // A split feature beyond the model's.
        let wide = tree(&[split(4, 0, 0.5, 1, 2), leaf, leaf]);
        let e = TreeBlock::encode(&[wide], 2).unwrap_err();
        assert!(e.contains("a split on feature 4 of 2"), "{e}");
        // Two thresholds for one (feature, bin).
        let a = tree(&[split(0, 1, 0.5, 1, 2), leaf, leaf]);
        let b = tree(&[split(0, 1, 0.25, 1, 2), leaf, leaf]);
        let e = TreeBlock::encode(&[a, b], 1).unwrap_err();
        assert!(
            e.contains("tree 1, node 0") && e.contains("thresholds 0.5 and 0.25"),
            "{e}"
        );
    }

    /// `block` with the unsigned column `name` decoded, changed and written
    /// back as `element`.
    fn edit_as(
        block: &TreeBlock,
        name: &str,
        element: Element,
        edit: impl Fn(&mut Vec<u32>),
    ) -> TreeBlock {
        let mut block = block.clone();
        let column = match name {
            "node_counts" => &mut block.node_counts,
            "children" => &mut block.children,
            "features" => &mut block.features,
            "bins" => &mut block.bins,
            "cut_counts" => &mut block.cut_counts,
            _ => unreachable!("an unsigned column"),
        };
        let mut values = column.decode_unsigned(ANY_UNSIGNED).unwrap();
        edit(&mut values);
        *column = Column::unsigned_as(&values, element);
        block
    }

    /// [`edit_as`] in the column's own type (u32 for node counts, u16 for
    /// cut counts, u8 for bins, the narrowest holding the values for the
    /// others).
    fn edit_unsigned(block: &TreeBlock, name: &str, edit: impl Fn(&mut Vec<u32>)) -> TreeBlock {
        let element = match name {
            "node_counts" => Element::U32,
            "cut_counts" => Element::U16,
            "bins" => Element::U8,
            _ => Element::U32,
        };
        edit_as(block, name, element, edit)
    }

    fn edit_floats(block: &TreeBlock, leaves: bool, edit: impl Fn(&mut Vec<f64>)) -> TreeBlock {
        let mut block = block.clone();
        let column = if leaves {
            &mut block.leaf_values
        } else {
            &mut block.cuts
        };
        let mut values = column.decode_finite().unwrap();
        edit(&mut values);
        *column = Column::floats(&values);
        block
    }

    #[test]
    fn damaged_blocks_are_refused_naming_the_column_or_node() {
        let (forest, _) = fitted_trees();
        let good = TreeBlock::encode(&forest, 3).unwrap();
        let refused = |block: TreeBlock, needles: &[&str]| {
            // Written as JSON and read back: what a file holds.
            let e = round_trip(&block).decode(3).unwrap_err();
            for needle in needles {
                assert!(e.contains(needle), "`{needle}` not in: {e}");
            }
        };
        // Wrong types for their columns (re-encoded as u32).
        refused(
            edit_as(&good, "bins", Element::U32, |_| {}),
            &["`bins` has type u32, expected u8"],
        );
        refused(
            edit_as(&good, "cut_counts", Element::U8, |_| {}),
            &["`cut_counts` has type u8, expected u16"],
        );
        // A child index outside its tree: the root's left child.
        refused(
            edit_unsigned(&good, "children", |c| c[0] = 1_000_000),
            &["tree 0: tree node 0 links to node 1000000"],
        );
        // A leaf turned into a split: the per-split columns are too short.
        refused(
            edit_unsigned(&good, "children", |c| {
                let last = c.len() - 1;
                c[last] = 1
            }),
            &["`features` has", "split nodes need one each"],
        );
        refused(
            edit_unsigned(&good, "node_counts", |n| n[0] += 1),
            &["`children` has", "nodes need one each"],
        );
        refused(
            edit_unsigned(&good, "node_counts", |n| {
                n[1] += n[0];
                n[0] = 0
            }),
            &["tree 0: a tree needs at least one node"],
        );
        refused(
            edit_unsigned(&good, "features", |f| f[2] = 3),
            &["a split on feature 3 of a model with 3 features"],
        );
        refused(
            edit_unsigned(&good, "features", |f| {
                f.pop();
            }),
            &["`features` has", "split nodes need one each"],
        );
        refused(
            edit_unsigned(&good, "bins", |b| b[0] = 255),
            &["tree 0, node 0: a split at bin 255", "no threshold there"],
        );
        refused(
            edit_unsigned(&good, "cut_counts", |k| {
                k.pop();
            }),
            &["`cut_counts` has 2 entries, the model's 3 features"],
        );
        refused(
            edit_unsigned(&good, "cut_counts", |k| k[0] = 300),
            &["feature 0 300 thresholds"],
        );
        refused(
            edit_unsigned(&good, "cut_counts", |k| k[0] += 1),
            &["`cuts` has", "adds up to"],
        );
        refused(
            edit_floats(&good, true, |v| v[5] = f64::INFINITY),
            &["`leaf_values` entry 5 is inf"],
        );
        refused(
            edit_floats(&good, false, |v| v[0] = f64::NAN),
            &["`cuts` entry 0 is NaN"],
        );
        refused(
            edit_floats(&good, true, |v| {
                v.pop();
            }),
            &["`leaf_values` has", "leaf nodes need one each"],
        );
        // The model has other features than the block was written for.
        let e = good.decode(4).unwrap_err();
        assert!(e.contains("`cut_counts` has 3 entries"), "{e}");
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_column_never_reads_back_silently() {
        // Every bit of the compressed leaf values flipped in turn: the file
        // is refused (zlib checksum, stream or length) or, where deflate
        // ignores the bit, reads back the same trees.
        let (forest, _) = fitted_trees();
        let trees = &forest[..2];
        let good = TreeBlock::encode(trees, 3).unwrap();
        let engine = base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        let bytes = engine.decode(good.leaf_values.zlib_text()).unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let mut block = good.clone();
            block.leaf_values = good.leaf_values.with_zlib_text(engine.encode(&damaged));
            if let Ok(back) = block.decode(3) {
                same(&back, trees);
            }
        }
    }
}
