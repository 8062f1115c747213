//! A node-classification dataset moved onto a device once, ready for training.

use gdistill_datasets::{FeatureLayout, NodeDataset};
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_models::{ModelError, NodeFeatures, SparseMatrix};
use tch::{Device, Tensor};

/// Everything a training loop reads, on one device: features, `A_hat`, labels and split indices.
/// Built once; nothing is copied between host and device afterwards.
#[derive(Debug)]
pub struct GraphData {
    pub features: NodeFeatures,
    /// `D^-1/2 (A + I) D^-1/2`.
    pub a_hat: SparseMatrix,
    pub labels: Tensor,
    pub train: Tensor,
    pub val: Tensor,
    pub test: Tensor,
    pub all: Tensor,
    pub num_classes: i64,
    pub device: Device,
}

impl GraphData {
    pub fn new(dataset: &NodeDataset, device: Device, layout: FeatureLayout) -> Result<GraphData, ModelError> {
        let features = if layout.is_sparse_for(dataset) {
            NodeFeatures::Sparse(SparseMatrix::from_sprs(&dataset.features, device)?)
        } else {
            let dense = Tensor::from_slice(&dataset.dense_features())
                .view([dataset.num_nodes() as i64, dataset.num_features() as i64])
                .to(device);
            NodeFeatures::Dense(dense)
        };
        let a_hat = SparseMatrix::from_sprs(&gcn_normalized_adjacency(&dataset.graph), device)?;
        let index = |v: &[usize]| Tensor::from_slice(&v.iter().map(|&i| i as i64).collect::<Vec<_>>()).to(device);
        let all: Vec<usize> = (0..dataset.num_nodes()).collect();
        Ok(GraphData {
            features,
            a_hat,
            labels: index(&dataset.labels),
            train: index(&dataset.train),
            val: index(&dataset.val),
            test: index(&dataset.test),
            all: index(&all),
            num_classes: dataset.num_classes as i64,
            device,
        })
    }

    /// Takes `dataset`'s train, validation and test nodes (a split drawn for another seed of the
    /// same graph); features, graph and labels stay as they are.
    pub fn set_split(&mut self, dataset: &NodeDataset) {
        let index = |v: &[usize]| Tensor::from_slice(&v.iter().map(|&i| i as i64).collect::<Vec<_>>()).to(self.device);
        self.train = index(&dataset.train);
        self.val = index(&dataset.val);
        self.test = index(&dataset.test);
    }

    pub fn num_nodes(&self) -> i64 {
        self.features.num_nodes()
    }

    pub fn num_features(&self) -> i64 {
        self.features.num_features()
    }
}
