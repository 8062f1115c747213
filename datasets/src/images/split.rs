//! Seeded stratified splits by fraction, for image sets without a validation (or test) split.
//!
//! Within each class (visited in order) the images are shuffled with a ChaCha8 generator seeded
//! by `seed`; `round(n * test_fraction)` go to test, `round(n * val_fraction)` to validation and
//! the rest to training. Each class keeps at least one training image when it has any.
//!
//! ```
//! use gdistill_datasets::images::stratified_split;
//! let labels: Vec<usize> = (0..100).map(|i| i % 2).collect();
//! let s = stratified_split(&labels, 2, 0.1, 0.3, 7);
//! assert_eq!((s.train.len(), s.val.len(), s.test.len()), (60, 10, 30));
//! ```

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::NodeSplit;

/// Splits `0..labels.len()` per class (see the module documentation); indices come out sorted.
/// Labels `>= num_classes` belong to no split.
pub fn stratified_split(
    labels: &[usize],
    num_classes: usize,
    val_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> NodeSplit {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &y) in labels.iter().enumerate() {
        if y < num_classes {
            by_class[y].push(i);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut split = NodeSplit::default();
    for mut members in by_class {
        members.shuffle(&mut rng);
        let n = members.len();
        let spare = n.saturating_sub(1); // one training image per class is kept
        let n_test = ((n as f64 * test_fraction).round() as usize).min(spare);
        let n_val = ((n as f64 * val_fraction).round() as usize).min(spare - n_test);
        split.test.extend_from_slice(&members[..n_test]);
        split.val.extend_from_slice(&members[n_test..n_test + n_val]);
        split.train.extend_from_slice(&members[n_test + n_val..]);
    }
    split.train.sort_unstable();
    split.val.sort_unstable();
    split.test.sort_unstable();
    split
}
