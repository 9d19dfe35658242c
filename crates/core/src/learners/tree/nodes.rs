//! A tree's nodes as data: [`TreeNode`] (what a router file stores of a
//! node), building a checked [`Tree`] from them, comparing two trees bit for
//! bit, and the column form of router-file format 1 ([`TreeColumns`]).

use super::{Node, Tree, LEAF};

/// One node of a tree as a router file stores it: what prediction reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TreeNode {
    /// A leaf and its prediction.
    Leaf {
        /// The leaf's prediction.
        value: f64,
    },
    /// A split: rows with `x[feature] <= threshold` go to node `left`,
    /// others to node `right`.
    Split {
        /// Feature column.
        feature: u32,
        /// The threshold's bin in the training binning (used while the
        /// ensemble is grown; kept so a tree reads back whole).
        bin: u8,
        /// Threshold.
        threshold: f64,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
    },
}

impl Tree {
    /// The nodes, the root first.
    pub(crate) fn nodes(&self) -> impl ExactSizeIterator<Item = TreeNode> + '_ {
        self.nodes.iter().map(|n| {
            if n.left == LEAF {
                TreeNode::Leaf { value: n.value }
            } else {
                TreeNode::Split {
                    feature: n.feature,
                    bin: n.bin,
                    threshold: n.threshold,
                    left: n.left,
                    right: n.right,
                }
            }
        })
    }

    /// Number of nodes.
    pub(crate) fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes one node takes in memory (for size estimates of trees read
    /// from a file).
    pub(crate) const NODE_BYTES: usize = std::mem::size_of::<Node>();

    /// A tree from its nodes (the root first), after checking them: at
    /// least one node, fewer than `u32::MAX`, a split's children after it
    /// and inside the tree, finite thresholds and leaf values. Split
    /// features are checked against the model's feature count by
    /// [`Tree::check_consistent`].
    pub(crate) fn from_nodes(
        nodes: impl ExactSizeIterator<Item = TreeNode>,
    ) -> std::result::Result<Tree, String> {
        let n = nodes.len();
        if n == 0 {
            return Err("a tree needs at least one node".into());
        }
        if n >= LEAF as usize {
            return Err(format!("a tree of {n} nodes is too large"));
        }
        let mut built = Vec::with_capacity(n);
        for (i, node) in nodes.enumerate() {
            built.push(match node {
                TreeNode::Leaf { value } => {
                    if !value.is_finite() {
                        return Err(format!("tree node {i} holds a non-finite value"));
                    }
                    Node {
                        feature: 0,
                        bin: 0,
                        threshold: f64::NAN,
                        left: LEAF,
                        right: LEAF,
                        value,
                    }
                }
                TreeNode::Split {
                    feature,
                    bin,
                    threshold,
                    left,
                    right,
                } => {
                    if !threshold.is_finite() {
                        return Err(format!("tree node {i} holds a non-finite threshold"));
                    }
                    for child in [left, right] {
                        if (child as usize) <= i || (child as usize) >= n {
                            return Err(format!(
                                "tree node {i} links to node {child}, outside {}..{n}",
                                i + 1
                            ));
                        }
                    }
                    Node {
                        feature,
                        bin,
                        threshold,
                        left,
                        right,
                        value: f64::NAN,
                    }
                }
            });
        }
        Ok(Tree { nodes: built })
    }

    /// Whether two trees are the same bit for bit: the same nodes in the
    /// same order, every field equal (floats compared by their bits). The
    /// message names the first difference.
    pub(crate) fn same_bits(&self, other: &Tree) -> std::result::Result<(), String> {
        if self.nodes.len() != other.nodes.len() {
            return Err(format!(
                "{} nodes vs {}",
                self.nodes.len(),
                other.nodes.len()
            ));
        }
        let key = |n: &Node| {
            (
                n.feature,
                n.bin,
                n.threshold.to_bits(),
                n.left,
                n.right,
                n.value.to_bits(),
            )
        };
        match self
            .nodes
            .iter()
            .zip(&other.nodes)
            .position(|(a, b)| key(a) != key(b))
        {
            Some(i) => Err(format!(
                "node {i} differs ({:?} vs {:?})",
                self.nodes[i], other.nodes[i]
            )),
            None => Ok(()),
        }
    }
}

/// The form of a [`Tree`] in router-file format 1 (and in the `serde` form
/// of a fitted model): one array per node field, node `i` at index `i`, the
/// root first. A leaf has `left = right = 0` (the root is never a child)
/// and threshold 0 (unused); an internal node's children come after it.
/// A split node's value is written as its leaf value before it was split
/// (format 1) or 0, and ignored when read.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TreeColumns {
    feature: Vec<u32>,
    bin: Vec<u8>,
    threshold: Vec<f64>,
    left: Vec<u32>,
    right: Vec<u32>,
    value: Vec<f64>,
}

impl From<Tree> for TreeColumns {
    fn from(tree: Tree) -> Self {
        let nodes: Vec<TreeNode> = tree.nodes().collect();
        let split = |n: &TreeNode| match *n {
            TreeNode::Leaf { .. } => None,
            TreeNode::Split {
                feature,
                bin,
                threshold,
                left,
                right,
            } => Some((feature, bin, threshold, left, right)),
        };
        TreeColumns {
            feature: nodes.iter().map(|n| split(n).map_or(0, |s| s.0)).collect(),
            bin: nodes.iter().map(|n| split(n).map_or(0, |s| s.1)).collect(),
            threshold: nodes
                .iter()
                .map(|n| split(n).map_or(0.0, |s| s.2))
                .collect(),
            left: nodes.iter().map(|n| split(n).map_or(0, |s| s.3)).collect(),
            right: nodes.iter().map(|n| split(n).map_or(0, |s| s.4)).collect(),
            value: nodes
                .iter()
                .map(|n| match n {
                    TreeNode::Leaf { value } => *value,
                    TreeNode::Split { .. } => 0.0,
                })
                .collect(),
        }
    }
}

impl TryFrom<TreeColumns> for Tree {
    type Error = String;

    /// Checks the links: equal column lengths, at least one node, leaves
    /// with both links 0, children after their parent and inside the tree,
    /// finite thresholds and values ([`Tree::from_nodes`]).
    fn try_from(c: TreeColumns) -> std::result::Result<Self, String> {
        let n = c.value.len();
        for (name, len) in [
            ("feature", c.feature.len()),
            ("bin", c.bin.len()),
            ("threshold", c.threshold.len()),
            ("left", c.left.len()),
            ("right", c.right.len()),
        ] {
            if len != n {
                return Err(format!(
                    "tree column `{name}` has {len} entries, `value` has {n}"
                ));
            }
        }
        for i in 0..n {
            // Format 1 checked every value, also those of split nodes.
            if !(c.value[i].is_finite() && c.threshold[i].is_finite()) {
                return Err(format!(
                    "tree node {i} holds a non-finite threshold or value"
                ));
            }
        }
        Tree::from_nodes((0..n).map(|i| {
            if c.left[i] == 0 && c.right[i] == 0 {
                TreeNode::Leaf { value: c.value[i] }
            } else {
                TreeNode::Split {
                    feature: c.feature[i],
                    bin: c.bin[i],
                    threshold: c.threshold[i],
                    left: c.left[i],
                    right: c.right[i],
                }
            }
        }))
    }
}
