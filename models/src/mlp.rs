//! A graph-less multilayer perceptron with the same interface as the GCN.
//!
//! It reads only node features; the adjacency passed to `forward_t` is ignored. Distilled from a
//! GCN on all nodes, such a student approaches the teacher at a fraction of the inference cost
//! (GLNN, Zhang et al. ICLR 2022).
//!
//! ```
//! use gdistill_models::{Arch, ModelConfig, NodeFeatures, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let mlp = ModelConfig::new(Arch::Mlp, 4, 8, 2, 3, 0.5).build(&vs.root()).unwrap();
//! let x = NodeFeatures::Dense(Tensor::randn([5, 4], (Kind::Float, Device::Cpu)));
//! let no_graph = SparseMatrix::from_csr(&[0; 6], &[], &[], (5, 5), Device::Cpu).unwrap();
//! let out = mlp.forward_t(&x, &no_graph, false);
//! assert_eq!(out.logits.size(), [5, 3]);
//! assert_eq!(out.hidden[0].size(), [5, 8]);
//! ```

use tch::{nn, Tensor};

use crate::gcn::glorot;
use crate::model::{forward_stack, forward_stack_blocks, StackLayer};
use crate::{ModelConfig, ModelError, ModelOutput, NodeFeatures, NodeModel, Project, SparseMatrix};

/// A fully connected layer `X @ W + b` over sparse or dense input.
#[derive(Debug)]
pub struct Dense {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Dense {
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64) -> Dense {
        Dense {
            weight: path.var("weight", &[in_dim, out_dim], glorot(in_dim, out_dim)),
            bias: path.var("bias", &[out_dim], nn::Init::Const(0.0)),
        }
    }

    pub fn forward(&self, x: &impl Project) -> Tensor {
        x.project(&self.weight) + &self.bias
    }
}

impl StackLayer for Dense {
    /// The graph is not read: this is what makes the MLP graph-less.
    fn apply(&self, x: &impl Project, _graph: &SparseMatrix) -> Tensor {
        self.forward(x)
    }
}

/// Dense layers with ReLU and dropout between them.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
    config: ModelConfig,
}

impl Mlp {
    pub fn new(path: &nn::Path, config: ModelConfig) -> Mlp {
        let layers = config.layer_dims().iter().enumerate().map(|(k, &(i, o))| Dense::new(&(path / k), i, o)).collect();
        Mlp { layers, config }
    }
}

impl NodeModel for Mlp {
    fn forward_t(&self, x: &NodeFeatures, graph: &SparseMatrix, train: bool) -> ModelOutput {
        forward_stack(&self.layers, x, graph, self.config.dropouts(), train)
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
