//! GLNN's inductive ("production") setting for a [`NodeDataset`].
//!
//! Zhang et al. (ICLR 2022) hold out a seeded fraction (20% in the paper) of the test nodes: they
//! and all their edges are unseen in every training step and when soft targets are computed, so
//! training sees the dataset induced by the other nodes. At test time a GNN sees the full graph and
//! an MLP only node features; accuracy is reported on the held-out nodes (`held_out`, GLNN's
//! `idx_test_ind`) and on the test nodes that stayed (`test_tran`, `idx_test_tran`).
//!
//! ```
//! use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
//! use gdistill_datasets::inductive::inductive_split;
//! let full = generate_csbm(&"nodes=300,classes=3,degree=4,features=4".parse::<CsbmParams>().unwrap()).unwrap();
//! let split = inductive_split(&full, 0.2, 0).unwrap();
//! assert_eq!(split.held_out.len(), (0.2 * full.test.len() as f64).round() as usize);
//! assert_eq!(split.dataset.num_nodes(), full.num_nodes() - split.held_out.len());
//! // local node k of the observed dataset is global node observed[k]
//! for (&local, &global) in split.dataset.test.iter().zip(&split.test_tran) {
//!     assert_eq!(split.observed[local], global);
//! }
//! assert!(inductive_split(&full, 0.0, 0).is_err());
//! ```

use gdistill_graph::inductive_partition;
use sprs::CsMat;

use crate::{DatasetError, NodeDataset};

/// A dataset split for the inductive setting.
#[derive(Clone, Debug)]
pub struct InductiveDataset {
    /// What training sees: the dataset induced by the observed nodes, renumbered (local ids).
    /// Its train and val nodes are the full dataset's; its test nodes are `test_tran`, in the
    /// same order (`observed[dataset.test[i]] == test_tran[i]`).
    pub dataset: NodeDataset,
    /// Held-out test nodes, global ids, ascending: unseen in training.
    pub held_out: Vec<usize>,
    /// Local → global ids: local node `k` of `dataset` is node `observed[k]` of the full dataset
    /// (ascending).
    pub observed: Vec<usize>,
    /// Global → local ids (`None` for held-out nodes), one entry per node of the full dataset.
    pub local_of: Vec<Option<usize>>,
    /// Test nodes that stay observed (global ids, in the full dataset's test order).
    pub test_tran: Vec<usize>,
}

/// Holds out `round(fraction * test.len())` of `dataset`'s test nodes, chosen by `seed`
/// ([`gdistill_graph::inductive_partition`]), and renumbers the rest.
///
/// Fails (naming the dataset) on an invalid dataset, a `fraction` outside `(0, 1)`, or too few test
/// nodes for both the held-out and the observed test nodes to be non-empty.
pub fn inductive_split(dataset: &NodeDataset, fraction: f64, seed: u64) -> Result<InductiveDataset, DatasetError> {
    dataset.validate()?;
    let invalid = |message: String| DatasetError::invalid(&dataset.name, format!("inductive split: {message}"));
    let partition =
        inductive_partition(&dataset.graph, &dataset.test, fraction, seed).map_err(|e| invalid(e.to_string()))?;
    let local_of = partition.local_of;
    // Train and val nodes are never held out (the split is disjoint, checked above), so every
    // lookup succeeds; an error here would be a bug, reported rather than panicked on.
    let to_local = |nodes: &[usize]| -> Result<Vec<usize>, DatasetError> {
        nodes
            .iter()
            .map(|&v| local_of[v].ok_or_else(|| invalid(format!("node {v} was held out but is not a test node"))))
            .collect()
    };
    let test_tran: Vec<usize> = dataset.test.iter().copied().filter(|&v| local_of[v].is_some()).collect();
    let observed_dataset = NodeDataset {
        name: dataset.name.clone(),
        graph: partition.observed_graph,
        features: select_rows(&dataset.features, &partition.observed).map_err(invalid)?,
        labels: partition.observed.iter().map(|&v| dataset.labels[v]).collect(),
        num_classes: dataset.num_classes,
        class_names: dataset.class_names.clone(),
        train: to_local(&dataset.train)?,
        val: to_local(&dataset.val)?,
        test: to_local(&test_tran)?,
        // Only test nodes are held out, and those are labelled.
        unlabelled: to_local(&dataset.unlabelled)?,
    };
    Ok(InductiveDataset {
        dataset: observed_dataset,
        held_out: partition.held_out,
        observed: partition.observed,
        local_of,
        test_tran,
    })
}

/// The rows `rows` of `m`, in that order, as CSR.
pub(crate) fn select_rows(m: &CsMat<f32>, rows: &[usize]) -> Result<CsMat<f32>, String> {
    let converted;
    let m = if m.is_csr() {
        m
    } else {
        converted = m.to_csr();
        &converted
    };
    let mut indptr = Vec::with_capacity(rows.len() + 1);
    indptr.push(0);
    let mut indices = Vec::new();
    let mut data = Vec::new();
    for &r in rows {
        let row = m.outer_view(r).ok_or_else(|| format!("feature row {r} is outside 0..{}", m.rows()))?;
        indices.extend_from_slice(row.indices());
        data.extend_from_slice(row.data());
        indptr.push(indices.len());
    }
    CsMat::try_new((rows.len(), m.cols()), indptr, indices, data)
        .map_err(|e| format!("the selected nodes' features are not a valid CSR matrix: {}", e.3))
}
