//! GraphSAGE convolution (Hamilton, Ying & Leskovec 2017) with either of two aggregators
//! ([`SageAggregator`]):
//!
//! - mean, PyTorch Geometric's `SAGEConv`: `out_i = W_root x_i + W_neigh mean_{j in N(i)} x_j + b`;
//! - gcn, the paper's GCN aggregator and DGL's `SAGEConv(..., "gcn")`, which GLNN, NOSMOG and
//!   VQGraph train as their teacher: `out_i = W_neigh mean({x_i} U N(i)) + b`, one weight.
//!
//! Either output is optionally L2-normalised per row. The graph comes as the model's usual
//! adjacency (`A_hat`, pattern `A + I`); the aggregation matrix is derived from its pattern once
//! ([`SparseMatrix::neighbour_mean`], [`SparseMatrix::self_and_neighbour_mean`]). On a sampled
//! block the destinations are the first rows of the sources, so the root term reads those rows.
//!
//! ```
//! use gdistill_models::{SageAggregator, SageConv, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let conv = SageConv::new(&vs.root(), 4, 2, false, SageAggregator::Mean);
//! // a path 0 - 1 - 2, with the self-loops of A + I
//! let a = SparseMatrix::from_csr(&[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2], &[1.0; 7], (3, 3), Device::Cpu).unwrap();
//! let x = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
//! assert_eq!(conv.forward(&x, &a).size(), [3, 2]);
//! // The GCN aggregator: node 1 averages itself and both ends of the path.
//! let gcn = SageConv::new(&(vs.root() / "gcn"), 4, 2, false, SageAggregator::Gcn);
//! let mean = a.self_and_neighbour_mean().to_dense();
//! assert_eq!(Vec::<f32>::try_from(mean.get(1)).unwrap(), [1.0 / 3.0; 3]);
//! assert_eq!(gcn.forward(&x, &a).size(), [3, 2]);
//! ```

use tch::{nn, Tensor};

use crate::features::aggregating_first;
use crate::gcn::glorot;
use crate::model::{forward_stack, forward_stack_blocks, StackLayer};
use crate::{
    aggregate_then_project, ModelConfig, ModelError, ModelOutput, NodeFeatures, NodeModel, Project, SageAggregator,
    SparseMatrix,
};

/// One SAGE layer: `W_root, W_neigh: [in, out]`; no root weight with the GCN aggregator.
#[derive(Debug)]
pub struct SageConv {
    pub weight_root: Option<Tensor>,
    pub weight_neigh: Tensor,
    pub bias: Tensor,
    /// L2-normalise each output row (PyG's `normalize=True`).
    pub normalize: bool,
}

impl SageConv {
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64, normalize: bool, aggregator: SageAggregator) -> SageConv {
        let weight_root = (aggregator == SageAggregator::Mean)
            .then(|| path.var("weight_root", &[in_dim, out_dim], glorot(in_dim, out_dim)));
        SageConv {
            weight_root,
            weight_neigh: path.var("weight_neigh", &[in_dim, out_dim], glorot(in_dim, out_dim)),
            bias: path.var("bias", &[out_dim], nn::Init::Const(0.0)),
            normalize,
        }
    }

    /// The layer's output on a graph or block with `graph.rows()` destinations. The mean is
    /// linear, so the products run in the cheaper order ([`aggregate_then_project`]).
    pub fn forward(&self, x: &impl Project, graph: &SparseMatrix) -> Tensor {
        let z = match &self.weight_root {
            Some(weight_root) => {
                let out = self.bias.size()[0];
                let mean = graph.neighbour_mean();
                match aggregating_first(mean, x, 2 * out) {
                    Some(x) => {
                        mean.matmul(x).matmul(&self.weight_neigh) + x.narrow(0, 0, graph.rows()).matmul(weight_root)
                    }
                    None => {
                        // One product with both weights: for sparse input the features are read once.
                        let both = x.project(&Tensor::cat(&[&self.weight_neigh, weight_root], 1));
                        mean.matmul(&both.narrow(1, 0, out)) + both.narrow(1, out, out).narrow(0, 0, graph.rows())
                    }
                }
            }
            None => aggregate_then_project(graph.self_and_neighbour_mean(), x, &self.weight_neigh),
        } + &self.bias;
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
        let (normalize, aggregator) = (config.options.normalize, config.options.aggregator);
        let layers = config
            .layer_dims()
            .iter()
            .enumerate()
            .map(|(k, &(i, o))| SageConv::new(&(path / k), i, o, normalize, aggregator))
            .collect();
        Sage { layers, config }
    }
}

impl NodeModel for Sage {
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

    /// Root (if any) then neighbour weight of each layer.
    fn weights(&self) -> Vec<&Tensor> {
        self.layers.iter().flat_map(|l| l.weight_root.iter().chain([&l.weight_neigh])).collect()
    }

    fn biases(&self) -> Vec<&Tensor> {
        self.layers.iter().map(|l| &l.bias).collect()
    }
}
