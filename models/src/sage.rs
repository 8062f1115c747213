//! GraphSAGE convolution with the mean aggregator (Hamilton, Ying & Leskovec 2017), with PyTorch
//! Geometric's `SAGEConv` semantics:
//!
//! `out_i = W_root x_i + W_neigh mean_{j in N(i)} x_j + b`, optionally L2-normalised per row.
//!
//! The graph comes as the model's usual adjacency (`A_hat`, pattern `A + I`); the mean aggregator
//! is derived from its pattern once ([`SparseMatrix::neighbour_mean`]): self excluded, a node
//! without neighbours aggregates zero. On a sampled block the destinations are the first rows of
//! the sources, so the root term reads those rows.
//!
//! ```
//! use gdistill_models::{SageConv, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let conv = SageConv::new(&vs.root(), 4, 2, false);
//! // a path 0 - 1 - 2, with the self-loops of A + I
//! let a = SparseMatrix::from_csr(&[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2], &[1.0; 7], (3, 3), Device::Cpu).unwrap();
//! let x = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
//! assert_eq!(conv.forward(&x, &a).size(), [3, 2]);
//! ```

use tch::{nn, Tensor};

use crate::gcn::glorot;
use crate::model::{forward_stack, forward_stack_blocks, StackLayer};
use crate::{ModelConfig, ModelError, ModelOutput, NodeFeatures, NodeModel, Project, SparseMatrix};

/// One mean-aggregator SAGE layer, `W_root, W_neigh: [in, out]`.
#[derive(Debug)]
pub struct SageConv {
    pub weight_root: Tensor,
    pub weight_neigh: Tensor,
    pub bias: Tensor,
    /// L2-normalise each output row (PyG's `normalize=True`).
    pub normalize: bool,
}

impl SageConv {
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64, normalize: bool) -> SageConv {
        SageConv {
            weight_root: path.var("weight_root", &[in_dim, out_dim], glorot(in_dim, out_dim)),
            weight_neigh: path.var("weight_neigh", &[in_dim, out_dim], glorot(in_dim, out_dim)),
            bias: path.var("bias", &[out_dim], nn::Init::Const(0.0)),
            normalize,
        }
    }

    /// `X[:dst] W_root + mean_N(X) W_neigh + b` on a graph or block with `graph.rows()`
    /// destinations. Projecting first keeps the sparse product narrow (the mean is linear).
    pub fn forward(&self, x: &impl Project, graph: &SparseMatrix) -> Tensor {
        let out = self.bias.size()[0];
        // One product with both weights: for sparse input the feature matrix is read once.
        let both = x.project(&Tensor::cat(&[&self.weight_neigh, &self.weight_root], 1));
        let neighbours = graph.neighbour_mean().matmul(&both.narrow(1, 0, out));
        let root = both.narrow(1, out, out).narrow(0, 0, graph.rows());
        let z = neighbours + root + &self.bias;
        if self.normalize {
            let norm = z.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
            z / norm
        } else {
            z
        }
    }
}

impl StackLayer for SageConv {
    fn apply(&self, x: &impl Project, graph: &SparseMatrix) -> Tensor {
        self.forward(x, graph)
    }
}

/// SAGE layers with ReLU and dropout between them (PyG's `GraphSAGE` model).
#[derive(Debug)]
pub struct Sage {
    layers: Vec<SageConv>,
    config: ModelConfig,
}

impl Sage {
    pub fn new(path: &nn::Path, config: ModelConfig) -> Sage {
        let normalize = config.options.normalize;
        let layers = config
            .layer_dims()
            .iter()
            .enumerate()
            .map(|(k, &(i, o))| SageConv::new(&(path / k), i, o, normalize))
            .collect();
        Sage { layers, config }
    }
}

impl NodeModel for Sage {
    fn forward_t(&self, x: &NodeFeatures, graph: &SparseMatrix, train: bool) -> ModelOutput {
        forward_stack(&self.layers, x, graph, self.config.dropout, train)
    }

    fn forward_blocks_t(
        &self,
        x: &NodeFeatures,
        blocks: &[SparseMatrix],
        train: bool,
    ) -> Result<ModelOutput, ModelError> {
        forward_stack_blocks(&self.layers, x, blocks, self.config.dropout, train)
    }

    fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Root then neighbour weight of each layer.
    fn weights(&self) -> Vec<&Tensor> {
        self.layers.iter().flat_map(|l| [&l.weight_root, &l.weight_neigh]).collect()
    }

    fn biases(&self) -> Vec<&Tensor> {
        self.layers.iter().map(|l| &l.bias).collect()
    }
}
