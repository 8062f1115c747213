//! Graph convolution (Kipf & Welling 2017) on a sparse normalised adjacency.
//!
//! `GcnConv` computes `A_hat @ (X @ W) + b` with `A_hat = D^-1/2 (A + I) D^-1/2` held once on the
//! device as a [`SparseMatrix`] (see `gdistill_graph::gcn_normalized_adjacency`). `X` may be sparse
//! or dense. Glorot-uniform weights, zero bias.
//!
//! ```
//! use gdistill_models::{GcnConv, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let conv = GcnConv::new(&vs.root(), 4, 2);
//! // A_hat = identity on 3 nodes: the layer reduces to X @ W + b
//! let a_hat = SparseMatrix::from_csr(&[0, 1, 2, 3], &[0, 1, 2], &[1.0; 3], (3, 3), Device::Cpu).unwrap();
//! let x = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
//! let y = conv.forward(&x, &a_hat);
//! assert_eq!(y.size(), [3, 2]);
//! ```

use tch::{nn, Tensor};

use crate::model::{forward_stack, forward_stack_blocks, StackLayer};
use crate::{
    aggregate_then_project, ModelConfig, ModelError, ModelOutput, NodeFeatures, NodeModel, Project, SparseMatrix,
};

/// One graph convolution: `A_hat @ (X @ W) + b`, `W: [in, out]`.
#[derive(Debug)]
pub struct GcnConv {
    pub weight: Tensor,
    pub bias: Tensor,
}

/// Glorot/Xavier uniform: keeps activations' variance across layers (Glorot & Bengio 2010).
pub(crate) fn glorot(in_dim: i64, out_dim: i64) -> nn::Init {
    let bound = (6.0 / (in_dim + out_dim) as f64).sqrt();
    nn::Init::Uniform { lo: -bound, up: bound }
}

impl GcnConv {
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64) -> GcnConv {
        GcnConv {
            weight: path.var("weight", &[in_dim, out_dim], glorot(in_dim, out_dim)),
            bias: path.var("bias", &[out_dim], nn::Init::Const(0.0)),
        }
    }

    /// `A_hat @ (X @ W) + b`, the products in the cheaper order ([`aggregate_then_project`]).
    pub fn forward(&self, x: &impl Project, a_hat: &SparseMatrix) -> Tensor {
        aggregate_then_project(a_hat, x, &self.weight) + &self.bias
    }
}

impl StackLayer for GcnConv {
    fn apply(&self, x: &impl Project, a_hat: &SparseMatrix) -> Tensor {
        self.forward(x, a_hat)
    }
}

/// A stack of graph convolutions with ReLU and dropout between them.
#[derive(Debug)]
pub struct Gcn {
    layers: Vec<GcnConv>,
    config: ModelConfig,
}

impl Gcn {
    pub fn new(path: &nn::Path, config: ModelConfig) -> Gcn {
        let layers =
            config.layer_dims().iter().enumerate().map(|(k, &(i, o))| GcnConv::new(&(path / k), i, o)).collect();
        Gcn { layers, config }
    }
}

impl NodeModel for Gcn {
    fn forward_t(&self, x: &NodeFeatures, a_hat: &SparseMatrix, train: bool) -> ModelOutput {
        forward_stack(&self.layers, x, a_hat, self.config.dropouts(), train)
    }

    fn forward_blocks_t(
        &self,
        x: &NodeFeatures,
        blocks: &[SparseMatrix],
        train: bool,
    ) -> Result<ModelOutput, ModelError> {
        forward_stack_blocks(&self.layers, x, blocks, self.config.dropouts(), train)
    }

    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn weights(&self) -> Vec<&Tensor> {
        self.layers.iter().map(|l| &l.weight).collect()
    }

    fn biases(&self) -> Vec<&Tensor> {
        self.layers.iter().map(|l| &l.bias).collect()
    }
}
