//! A node-classification dataset moved onto a device once, ready for training.

use gdistill_datasets::NodeDataset;
use gdistill_graph::gcn_normalized_adjacency;
use gdistill_models::{ModelError, NodeFeatures, SparseMatrix};
use tch::{Device, Tensor};

/// How features are held on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureLayout {
    /// Sparse when at most a quarter of the entries are non-zero, else dense.
    Auto,
    Sparse,
    Dense,
}

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
        let sparse = match layout {
            FeatureLayout::Sparse => true,
            FeatureLayout::Dense => false,
            FeatureLayout::Auto => dataset.feature_density() <= 0.25,
        };
        let features = if sparse {
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

    pub fn num_nodes(&self) -> i64 {
        self.features.num_nodes()
    }

    pub fn num_features(&self) -> i64 {
        self.features.num_features()
    }
}
