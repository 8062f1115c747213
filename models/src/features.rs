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

    /// `self` as a dense tensor when nothing flows back into it (input features, or any
    /// activation under `no_grad`): then `agg @ self` may be taken before the projection
    /// ([`aggregate_then_project`]). `None` for sparse input and for activations in training.
    fn constant_dense(&self) -> Option<&Tensor> {
        None
    }
}

impl Project for Tensor {
    fn project(&self, weight: &Tensor) -> Tensor {
        self.matmul(weight)
    }

    fn constant_dense(&self) -> Option<&Tensor> {
        (!self.requires_grad()).then_some(self)
    }
}

impl Project for NodeFeatures {
    fn project(&self, weight: &Tensor) -> Tensor {
        match self {
            NodeFeatures::Dense(x) => x.matmul(weight),
            NodeFeatures::Sparse(x) => x.matmul(weight),
        }
    }

    fn constant_dense(&self) -> Option<&Tensor> {
        match self {
            NodeFeatures::Dense(x) => x.constant_dense(),
            NodeFeatures::Sparse(_) => None,
        }
    }
}

/// `agg @ (x @ weight)`, in whichever order costs fewer multiply-adds over the forward and the
/// weight's gradient. A layer usually projects first, which keeps the sparse product narrow.
/// But on a sampled block the sources outnumber the destinations (a first block of Amazon
/// Computers, batches of 200 at fan-out 5,5: about 3 800 sources for 1 000 destinations), and
/// projecting every source row, forward and again for the weight's gradient, is most of a
/// step. When `x` is constant ([`Project::constant_dense`]), `(agg @ x) @ weight` projects the
/// destination rows alone and needs no gradient through the sparse product. The two orders are
/// the same product up to rounding.
///
/// Multiply-adds with `F` input and `H` output columns, `nnz` stored entries:
/// projecting first `2 src F H + 2 nnz H` (forward, weight gradient, product's backward),
/// aggregating first `nnz F + 2 dst F H`.
pub fn aggregate_then_project(agg: &SparseMatrix, x: &impl Project, weight: &Tensor) -> Tensor {
    match aggregating_first(agg, x, weight.size()[1]) {
        Some(x) => agg.matmul(x).matmul(weight),
        None => agg.matmul(&x.project(weight)),
    }
}

/// `x` as a dense tensor when `agg @ x` should come first for weights of `width` columns in
/// all: `x` is constant and that order costs fewer multiply-adds ([`aggregate_then_project`]);
/// `None` when the layer should project first.
pub(crate) fn aggregating_first<'a>(agg: &SparseMatrix, x: &'a impl Project, width: i64) -> Option<&'a Tensor> {
    x.constant_dense().filter(|x| aggregating_first_is_cheaper(agg, x.size()[1], width))
}

/// Whether `(agg @ x) @ W` costs fewer multiply-adds than `agg @ (x @ W)` for `x` of `features`
/// columns and `W` of `width`.
fn aggregating_first_is_cheaper(agg: &SparseMatrix, features: i64, width: i64) -> bool {
    let (nnz, dst, src) = (agg.nnz() as i128, agg.rows() as i128, agg.cols() as i128);
    let (f, h) = (features as i128, width as i128);
    nnz * f + 2 * dst * f * h < 2 * src * f * h + 2 * nnz * h
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
