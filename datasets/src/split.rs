//! Seeded per-class train/val/test splits, for sources without a standard split (LINQS, npz, CSBM).
//!
//! Within each class the nodes are shuffled with a ChaCha8 generator seeded by `seed` (classes
//! are visited in order, so the split depends only on the labels and the seed). A class with at
//! least `train + val + 1` nodes gives `train` nodes to the training split, `val` to validation
//! and the rest to test. A smaller class gives `min(train, max(1, n / 2))` nodes to training,
//! then half of what is left (rounded down) to validation and the rest to test; so a class of one
//! node is only in training, and a class of three nodes gives one node to each split.
//!
//! ```
//! use gdistill_datasets::split::{per_class_split, SplitOptions};
//! let labels = vec![0, 1, 0, 1, 0, 1, 0, 1];
//! let s = per_class_split(&labels, 2, &SplitOptions { train_per_class: 1, val_per_class: 1, seed: 7 });
//! assert_eq!((s.train.len(), s.val.len(), s.test.len()), (2, 2, 4));
//! ```

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// How many nodes per class go to training and validation, and the shuffle seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitOptions {
    /// Training nodes per class.
    pub train_per_class: usize,
    /// Validation nodes per class.
    pub val_per_class: usize,
    /// Shuffle seed.
    pub seed: u64,
}

impl Default for SplitOptions {
    /// 20 training and 30 validation nodes per class, seed 0.
    fn default() -> Self {
        SplitOptions { train_per_class: 20, val_per_class: 30, seed: 0 }
    }
}

/// Node indices of the three splits, each sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSplit {
    /// Training nodes.
    pub train: Vec<usize>,
    /// Validation nodes.
    pub val: Vec<usize>,
    /// Test nodes.
    pub test: Vec<usize>,
}

/// Splits nodes per class as described in the module documentation. Labels `>= num_classes`
/// are ignored (they belong to no split).
pub fn per_class_split(labels: &[usize], num_classes: usize, opts: &SplitOptions) -> NodeSplit {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &y) in labels.iter().enumerate() {
        if y < num_classes {
            by_class[y].push(i);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut split = NodeSplit::default();
    for mut nodes in by_class {
        nodes.shuffle(&mut rng);
        let n = nodes.len();
        let (n_train, n_val) = if n > opts.train_per_class + opts.val_per_class {
            (opts.train_per_class, opts.val_per_class)
        } else {
            let n_train = opts.train_per_class.min((n / 2).max(1)).min(n);
            (n_train, opts.val_per_class.min((n - n_train) / 2))
        };
        split.train.extend_from_slice(&nodes[..n_train]);
        split.val.extend_from_slice(&nodes[n_train..n_train + n_val]);
        split.test.extend_from_slice(&nodes[n_train + n_val..]);
    }
    split.train.sort_unstable();
    split.val.sort_unstable();
    split.test.sort_unstable();
    split
}

/// Items per class, for labels in `0..classes` (others are not counted).
pub(crate) fn class_counts(labels: &[usize], classes: usize) -> Vec<usize> {
    let mut counts = vec![0usize; classes];
    for &y in labels {
        if y < classes {
            counts[y] += 1;
        }
    }
    counts
}

/// Checks that the named splits index `0..n`, share no item and leave training non-empty;
/// `item` names what is split ("node", "image", "cloud") in the message.
pub(crate) fn check_splits(n: usize, item: &str, splits: [(&str, &[usize]); 3]) -> Result<(), String> {
    let mut seen = vec![None::<&str>; n];
    for (name, split) in splits {
        for &i in split {
            if i >= n {
                return Err(format!("{name} index {i} is outside 0..{n}"));
            }
            if let Some(other) = seen[i] {
                return Err(format!("{item} {i} is in both the {other} and the {name} split"));
            }
            seen[i] = Some(name);
        }
    }
    if splits[0].1.is_empty() {
        return Err("the training split is empty".into());
    }
    Ok(())
}
