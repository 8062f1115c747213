//! A node dataset restricted to its largest connected component: the loader of CPF, which GLNN,
//! NOSMOG and VQGraph use, keeps only that component, so their published figures are on it
//! (Cora 2 485 of 2 708 nodes, Citeseer 2 110, Amazon Photo 7 487, Computers 13 381).
//!
//! Edges count in both directions ([`gdistill_graph::Graph::largest_component`]); ties go to the
//! component holding the smallest node id, so the result does not depend on hashing or threads.
//!
//! ```
//! use gdistill_datasets::csbm::{generate_csbm, CsbmParams};
//! let full = generate_csbm(&"nodes=200,classes=2,degree=1".parse::<CsbmParams>().unwrap()).unwrap();
//! let component = full.largest_component().unwrap();
//! let (lcc, kept) = (&component.dataset, &component.kept);
//! assert_eq!(lcc.num_nodes(), kept.len());
//! assert_eq!(lcc.graph.connected_components().0, 1);
//! // node k of the component is node kept[k] of the full dataset
//! assert!(kept.iter().enumerate().all(|(k, &v)| lcc.labels[k] == full.labels[v]));
//! ```

use crate::inductive::select_rows;
use crate::split::SplitOptions;
use crate::{DatasetError, NodeDataset};

/// A dataset's largest connected component ([`NodeDataset::largest_component`]).
#[derive(Clone, Debug)]
pub struct LargestComponent {
    /// The dataset it induces, nodes renumbered in ascending order of their original ids.
    pub dataset: NodeDataset,
    /// Original ids: node `k` of `dataset` is node `kept[k]` of the full one.
    pub kept: Vec<usize>,
    /// Whether the component held none of the dataset's training, validation or test nodes, so
    /// that its split had to be drawn anew (the loaders' rule: 20 + 30 per class, seed 0).
    /// A comparison on the dataset's own (`public`) split must then refuse it.
    pub split_redrawn: bool,
}

impl NodeDataset {
    /// The dataset induced by the largest connected component.
    ///
    /// The split is kept where its nodes survive (a public split loses the nodes outside the
    /// component); where it would lose every node of one part, it is drawn anew as the loaders
    /// draw one for sources without a split, and [`LargestComponent::split_redrawn`] says so.
    /// Classes keep their numbering even where the component has none of a class, so labels
    /// still mean what the source file says. Fails only on an invalid dataset.
    pub fn largest_component(&self) -> Result<LargestComponent, DatasetError> {
        self.validate()?;
        let (graph, kept) = self.graph.largest_component();
        let mut new_id = vec![None; self.num_nodes()];
        for (k, &v) in kept.iter().enumerate() {
            new_id[v] = Some(k);
        }
        let keep = |nodes: &[usize]| nodes.iter().filter_map(|&v| new_id[v]).collect::<Vec<_>>();
        let invalid = |message: String| DatasetError::invalid(&self.name, format!("largest component: {message}"));
        let mut lcc = NodeDataset {
            name: self.name.clone(),
            graph,
            features: select_rows(&self.features, &kept).map_err(invalid)?,
            labels: kept.iter().map(|&v| self.labels[v]).collect(),
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
            train: keep(&self.train),
            val: keep(&self.val),
            test: keep(&self.test),
            unlabelled: keep(&self.unlabelled),
        };
        let split_redrawn = lcc.train.is_empty() || lcc.val.is_empty() || lcc.test.is_empty();
        if split_redrawn {
            let split = lcc.per_class_split(&SplitOptions::default());
            (lcc.train, lcc.val, lcc.test) = (split.train, split.val, split.test);
        }
        lcc.validate()?;
        Ok(LargestComponent { dataset: lcc, kept, split_redrawn })
    }
}
