//! Node features as a model input: dense, or sparse (bag-of-words features are ~99% zeros).

use tch::Tensor;

use crate::{dropout, SparseMatrix};

/// Node features, `num_nodes x num_features`, on one device.
#[derive(Debug)]
pub enum NodeFeatures {
    Dense(Tensor),
    Sparse(SparseMatrix),
}

/// Right-multiplication by a weight matrix: the one place where sparse and dense inputs differ.
pub trait Project {
    /// `self @ weight`.
    fn project(&self, weight: &Tensor) -> Tensor;
}

impl Project for Tensor {
    fn project(&self, weight: &Tensor) -> Tensor {
        self.matmul(weight)
    }
}

impl Project for NodeFeatures {
    fn project(&self, weight: &Tensor) -> Tensor {
        match self {
            NodeFeatures::Dense(x) => x.matmul(weight),
            NodeFeatures::Sparse(x) => x.matmul(weight),
        }
    }
}

impl NodeFeatures {
    pub fn num_nodes(&self) -> i64 {
        match self {
            NodeFeatures::Dense(x) => x.size()[0],
            NodeFeatures::Sparse(x) => x.rows(),
        }
    }

    pub fn num_features(&self) -> i64 {
        match self {
            NodeFeatures::Dense(x) => x.size()[1],
            NodeFeatures::Sparse(x) => x.cols(),
        }
    }

    /// Dropout on the feature entries; for sparse input only the stored entries are dropped
    /// (as in Kipf & Welling's sparse dropout), so the input stays sparse.
    pub fn dropout(&self, p: f64, train: bool) -> NodeFeatures {
        match self {
            NodeFeatures::Dense(x) => NodeFeatures::Dense(dropout(x, p, train)),
            NodeFeatures::Sparse(x) if train && p > 0.0 => {
                NodeFeatures::Sparse(x.with_values(dropout(x.values(), p, true)))
            }
            NodeFeatures::Sparse(x) => NodeFeatures::Sparse(x.with_values(x.values().shallow_clone())),
        }
    }
}
