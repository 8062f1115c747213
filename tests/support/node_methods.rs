//! Node-classification fixtures shared by the method tests of `distill/tests` (NOSMOG,
//! VQGraph): deterministic matrices, and a dataset whose held-out nodes hold other features.

#![allow(dead_code)]

use gdistill_datasets::inductive::inductive_split;
use gdistill_datasets::NodeDataset;
use gdistill_distill::compare::CompareRow;
use tch::Tensor;

/// A deterministic `[rows, cols]` f64 matrix and its values, without libtorch's generator.
pub fn matrix(rows: usize, cols: usize, salt: f64) -> (Tensor, Vec<Vec<f64>>) {
    let values: Vec<Vec<f64>> =
        (0..rows).map(|i| (0..cols).map(|j| ((i * 7 + j * 3) as f64 + salt).sin() * 1.5).collect()).collect();
    let flat: Vec<f64> = values.iter().flatten().copied().collect();
    (Tensor::from_slice(&flat).view([rows as i64, cols as i64]), values)
}

/// `dataset` with the seed-0 held-out nodes' features (inductive setting, 20%) replaced by
/// large values: a row that never reads them trains the same weights on both.
pub fn with_held_out_features_rewritten(dataset: &NodeDataset) -> NodeDataset {
    let held = inductive_split(dataset, 0.2, 0).unwrap().held_out;
    let (n, f) = (dataset.num_nodes(), dataset.num_features());
    let mut dense = dataset.dense_features();
    for &v in &held {
        for j in 0..f {
            dense[v * f + j] = 40.0 * ((v * 31 + j * 7) as f32).sin();
        }
    }
    let mut features = sprs::TriMat::new((n, f));
    for (k, &x) in dense.iter().enumerate().filter(|(_, x)| **x != 0.0) {
        features.add_triplet(k / f, k % f, x);
    }
    NodeDataset { features: features.to_csr(), ..dataset.clone() }
}

/// Checks the rows `clean` and `dirty` (the same rows, trained on `dataset` and on
/// [`with_held_out_features_rewritten`]) never read the held-out nodes: validation and `tran`
/// accuracies bit-equal, and the rewrite visible at test time (`ind`), or the check proves
/// nothing.
pub fn assert_blind_to_held_out(clean: &[CompareRow], dirty: &[CompareRow]) {
    let mut ind_changed = false;
    for (clean, dirty) in clean.iter().zip(dirty) {
        let (a, b) = (clean.inductive.as_ref().unwrap(), dirty.inductive.as_ref().unwrap());
        // Bit-equal: every weight is the same whatever the held-out nodes hold.
        assert_eq!(clean.val_acc, dirty.val_acc, "{}: validation read the held-out nodes", clean.name);
        assert_eq!(a.tran_acc, b.tran_acc, "{}: training read the held-out nodes", clean.name);
        ind_changed |= a.ind_acc != b.ind_acc;
    }
    assert!(ind_changed, "the rewrite must matter at test time, or this test proves nothing");
}
