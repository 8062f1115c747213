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
//! let (lcc, kept) = full.largest_component().unwrap();
//! assert_eq!(lcc.num_nodes(), kept.len());
//! assert_eq!(lcc.graph.connected_components().0, 1);
//! // node k of the component is node kept[k] of the full dataset
//! assert!(kept.iter().enumerate().all(|(k, &v)| lcc.labels[k] == full.labels[v]));
//! ```

use crate::inductive::select_rows;
use crate::{DatasetError, NodeDataset};

impl NodeDataset {
    /// The dataset induced by the largest connected component, renumbered in ascending order of
    /// the original ids, and those ids (`kept[k]` is the original id of node `k`).
    ///
    /// The split is kept where its nodes survive (a public split loses the nodes outside the
    /// component); classes keep their numbering even where the component has none of a class,
    /// so labels still mean what the source file says. Fails on an invalid dataset, and when
    /// the component holds none of the training, validation or test nodes (redraw the split on
    /// the component instead: `per-class:20,30`).
    pub fn largest_component(&self) -> Result<(NodeDataset, Vec<usize>), DatasetError> {
        self.validate()?;
        let (graph, kept) = self.graph.largest_component();
        let mut new_id = vec![None; self.num_nodes()];
        for (k, &v) in kept.iter().enumerate() {
            new_id[v] = Some(k);
        }
        let keep = |nodes: &[usize]| nodes.iter().filter_map(|&v| new_id[v]).collect::<Vec<_>>();
        let invalid = |message: String| DatasetError::invalid(&self.name, format!("largest component: {message}"));
        let lcc = NodeDataset {
            name: self.name.clone(),
            graph,
            features: select_rows(&self.features, &kept).map_err(invalid)?,
            labels: kept.iter().map(|&v| self.labels[v]).collect(),
            num_classes: self.num_classes,
            class_names: self.class_names.clone(),
            train: keep(&self.train),
            val: keep(&self.val),
            test: keep(&self.test),
        };
        for (part, nodes) in [("training", &lcc.train), ("validation", &lcc.val), ("test", &lcc.test)] {
            if nodes.is_empty() {
                return Err(invalid(format!(
                    "its {} nodes hold none of the dataset's {part} nodes; draw a split on it instead (per-class:20,30)",
                    lcc.num_nodes()
                )));
            }
        }
        lcc.validate()?;
        Ok((lcc, kept))
    }
}
