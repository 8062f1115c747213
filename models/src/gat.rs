//! Graph attention (Velickovic et al. 2018) with PyTorch Geometric's `GATConv` semantics.
//!
//! For each head `h`: `x'_j = W_h x_j`, `e_ij = LeakyReLU_0.2(a_dst . x'_i + a_src . x'_j)`,
//! `alpha_ij = softmax_{j in N(i) + i} e_ij` (attention dropout applied to `alpha`), and
//! `out_i = sum_j alpha_ij x'_j`. Heads are concatenated (hidden layers) or averaged (the output
//! layer), then a bias is added. Neighbourhoods are the pattern of the graph's `A_hat`, which
//! holds `A + I`: the self-loop PyG adds. Scores and their softmax live on the edge list (a
//! softmax per destination); each head aggregates by a sparse product on `A_hat`'s pattern with
//! its coefficients as values: memory O(edges x heads), never a dense `N x N`.
//!
//! ```
//! use gdistill_models::{GatConv, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let conv = GatConv::new(&vs.root(), 4, 3, 2, true); // 2 heads of width 3, concatenated
//! let a = SparseMatrix::from_csr(&[0, 2, 5, 7], &[0, 1, 0, 1, 2, 1, 2], &[1.0; 7], (3, 3), Device::Cpu).unwrap();
//! let x = Tensor::randn([3, 4], (Kind::Float, Device::Cpu));
//! assert_eq!(conv.forward(&x, &a, 0.0, false).size(), [3, 6]);
//! ```

use tch::{nn, Tensor};

use crate::gcn::glorot;
use crate::{
    dropout, segment_softmax, ModelConfig, ModelError, ModelOutput, NodeFeatures, NodeModel, Project, SparseMatrix,
};

/// One multi-head attention layer: `W: [in, heads * out]`, `a_src, a_dst: [heads, out]`.
#[derive(Debug)]
pub struct GatConv {
    pub weight: Tensor,
    pub att_src: Tensor,
    pub att_dst: Tensor,
    pub bias: Tensor,
    heads: i64,
    out: i64,
    concat: bool,
}

/// PyG's negative slope for the attention scores.
const NEGATIVE_SLOPE: f64 = 0.2;

impl GatConv {
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64, heads: i64, concat: bool) -> GatConv {
        let width = heads * out_dim;
        GatConv {
            weight: path.var("weight", &[in_dim, width], glorot(in_dim, width)),
            att_src: path.var("att_src", &[heads, out_dim], glorot(heads, out_dim)),
            att_dst: path.var("att_dst", &[heads, out_dim], glorot(heads, out_dim)),
            bias: path.var("bias", &[if concat { width } else { out_dim }], nn::Init::Const(0.0)),
            heads,
            out: out_dim,
            concat,
        }
    }

    /// Output width: `heads * out` when concatenated, `out` when averaged.
    pub fn output_width(&self) -> i64 {
        if self.concat {
            self.heads * self.out
        } else {
            self.out
        }
    }

    /// The attention coefficients `alpha_ij`, one row per stored entry of `graph` (CSR order),
    /// one column per head, and the projected features `[sources, heads, out]`.
    pub fn attention(&self, x: &impl Project, graph: &SparseMatrix) -> (Tensor, Tensor) {
        let projected = x.project(&self.weight).view([-1, self.heads, self.out]);
        let kind = projected.kind();
        let score_src = (&projected * &self.att_src).sum_dim_intlist(-1, false, kind);
        let score_dst = (projected.narrow(0, 0, graph.rows()) * &self.att_dst).sum_dim_intlist(-1, false, kind);
        let (dst, src) = (graph.row_index(), graph.col_indices());
        let e = score_src.index_select(0, src) + score_dst.index_select(0, dst);
        let e = e.maximum(&(&e * NEGATIVE_SLOPE));
        (segment_softmax(&e, dst, graph.rows()), projected)
    }

    /// The layer on a graph or block with `graph.rows()` destinations; `attention_dropout` is
    /// applied to the coefficients when `train`.
    pub fn forward(&self, x: &impl Project, graph: &SparseMatrix, attention_dropout: f64, train: bool) -> Tensor {
        let (alpha, projected) = self.attention(x, graph);
        let alpha = dropout(&alpha, attention_dropout, train);
        let aggregated = if self.heads == 1 {
            graph.matmul_with_values(&alpha.view([-1]), &projected.view([-1, self.out])).unsqueeze(1)
        } else {
            // All heads in one product on the block-diagonal pattern (head-major): one CSR
            // kernel and one tape record per layer instead of one per head.
            let values = alpha.transpose(0, 1).contiguous().view([-1]);
            let sources = projected.transpose(0, 1).contiguous().view([-1, self.out]);
            graph
                .block_diagonal(self.heads)
                .matmul_with_values(&values, &sources)
                .view([self.heads, graph.rows(), self.out])
                .transpose(0, 1)
        };
        let combined = if self.concat {
            aggregated.reshape([graph.rows(), self.heads * self.out])
        } else {
            aggregated.mean_dim(1, false, aggregated.kind())
        };
        combined + &self.bias
    }
}

/// GAT layers: dropout on each layer's input, ELU between layers; hidden layers concatenate
/// `heads` heads, the output layer averages `output_heads` (PyG's `examples/gat.py`).
#[derive(Debug)]
pub struct Gat {
    layers: Vec<GatConv>,
    config: ModelConfig,
}

impl Gat {
    pub fn new(path: &nn::Path, config: ModelConfig) -> Gat {
        let o = &config.options;
        let mut layers = Vec::with_capacity(config.hidden.len() + 1);
        let mut input = config.in_features;
        for (k, &width) in config.hidden.iter().enumerate() {
            let layer = GatConv::new(&(path / k), input, width, o.heads, true);
            input = layer.output_width();
            layers.push(layer);
        }
        layers.push(GatConv::new(&(path / config.hidden.len()), input, config.num_classes, o.output_heads, false));
        Gat { layers, config }
    }
}

impl NodeModel for Gat {
    fn forward_t(&self, x: &NodeFeatures, graph: &SparseMatrix, train: bool) -> ModelOutput {
        let (p, attention) = (self.config.dropout, self.config.options.attention_dropout);
        let (first, rest) = self.layers.split_first().expect("a model has at least one layer");
        let mut h = first.forward(&x.dropout(p, train), graph, attention, train);
        let mut hidden = Vec::with_capacity(rest.len());
        for layer in rest {
            let z = h.elu();
            h = layer.forward(&dropout(&z, p, train), graph, attention, train);
            hidden.push(z);
        }
        ModelOutput { logits: h, hidden }
    }

    fn forward_blocks_t(
        &self,
        x: &NodeFeatures,
        blocks: &[SparseMatrix],
        train: bool,
    ) -> Result<ModelOutput, ModelError> {
        crate::block::check_blocks(x, blocks, self.layers.len())?;
        let (p, attention) = (self.config.dropout, self.config.options.attention_dropout);
        let mut h = self.layers[0].forward(&x.dropout(p, train), &blocks[0], attention, train);
        let mut hidden = Vec::with_capacity(self.layers.len() - 1);
        for (layer, block) in self.layers[1..].iter().zip(&blocks[1..]) {
            let z = h.elu();
            h = layer.forward(&dropout(&z, p, train), block, attention, train);
            hidden.push(z);
        }
        Ok(ModelOutput { logits: h, hidden })
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
