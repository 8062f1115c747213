//! Graph models as functions of `(x, edge_index)` built only from dense tensor operations, so
//! that TorchScript tracing records every step and the module works on any graph.
//!
//! gdistill's own layers read a prebuilt CSR `A_hat` through sparse products, which the tracer
//! does not see. Here the graph is rebuilt from the edge list inside the module, exactly as
//! gdistill builds it from a dataset (`Graph::from_edges` with `EdgeOptions::undirected`, then
//! `gcn_normalized_adjacency`): every edge counts in both directions, duplicates count once,
//! self-loops in the input are dropped, and GCN, APPNP and GAT add one self-loop of weight 1 per
//! node. So an edge list with one direction per citation gives the same logits as the symmetric
//! list PyTorch Geometric's `to_undirected` makes, and on a symmetric, duplicate-free list the
//! module computes PyG's `GCNConv`/`SAGEConv`/`GATConv`/`APPNP` normalisation.
//!
//! Nothing here may read a size on the Rust side (`Tensor::size`, a `Tensor::arange(n)`): the
//! tracer would store it as a constant and the module would only work for the traced graph.
//! Node counts come from `x` through `zeros_like`/`ones_like`, edge counts from `edge_index`.
//! The weights are read from the checkpoint's variables by name; the export compares the result
//! with gdistill's own forward pass, so a layout that drifts from `gdistill_models` is caught.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use gdistill_models::{Arch, ModelConfig, SageAggregator};
use tch::{Kind, Tensor};

/// PyG's (and gdistill's) negative slope for GAT's attention scores.
const GAT_NEGATIVE_SLOPE: f64 = 0.2;

/// The graph as gdistill reads it: one entry per stored entry of `A (+ I)`, sorted by target
/// then source (the order of gdistill's CSR rows, so sums run in the same order).
struct Edges {
    target: Tensor,
    source: Tensor,
}

impl Edges {
    /// From PyG's `edge_index` (`[2, E]`, row 0 source, row 1 target), for the nodes of `x`.
    fn undirected(x: &Tensor, edge_index: &Tensor, self_loops: bool) -> Edges {
        // Tracing records no assertions, but it records `unbind` followed by unpacking exactly two
        // rows, which raises at run time on any other row count: an `[E, 2]` list (E != 2) or a
        // `[1, E]` one is an error instead of silently wrong edges (`expand` let `[1, E]` through
        // as E self-loops, i.e. no edges at all).
        let rows = edge_index.unbind(0);
        let (source, target) = (rows[0].shallow_clone(), rows[1].shallow_clone());
        let both_target = Tensor::cat(&[&target, &source], 0);
        let both_source = Tensor::cat(&[&source, &target], 0);
        let off_diagonal = both_target.ne_tensor(&both_source);
        let mut targets = vec![both_target.masked_select(&off_diagonal)];
        let mut sources = vec![both_source.masked_select(&off_diagonal)];
        if self_loops {
            let nodes = x.select(1, 0).ones_like().to_dtype(Kind::Int64, false, false).cumsum(0, Kind::Int64) - 1;
            targets.push(nodes.shallow_clone());
            sources.push(nodes);
        }
        let pairs = Tensor::stack(&[Tensor::cat(&targets, 0), Tensor::cat(&sources, 0)], 0);
        let (unique, _, _) = pairs.unique_dim(1, true, false, false);
        Edges { target: unique.select(0, 0), source: unique.select(0, 1) }
    }

    /// How many entries each node's row holds, as float64, one per row of `x`.
    fn in_degree(&self, x: &Tensor) -> Tensor {
        let ones = self.target.ones_like().to_dtype(Kind::Double, false, false);
        x.select(1, 0).zeros_like().to_dtype(Kind::Double, false, false).index_add(0, &self.target, &ones)
    }

    /// `D^-1/2 (A + I) D^-1/2`'s entries, scaled in float64 and rounded once as gdistill does.
    fn gcn_weights(&self, x: &Tensor) -> Tensor {
        let scale = self.in_degree(x).rsqrt();
        (scale.index_select(0, &self.target) * scale.index_select(0, &self.source)).to_dtype(Kind::Float, false, false)
    }

    /// GraphSAGE's mean: `1 / count` per entry; a node without neighbours aggregates zero.
    fn mean_weights(&self, x: &Tensor) -> Tensor {
        let count = self.in_degree(x).to_dtype(Kind::Float, false, false).clamp_min(1.0).reciprocal();
        count.index_select(0, &self.target)
    }

    /// `M @ h` for the matrix with these entries and `weights`: one message per edge, summed
    /// at its target.
    fn propagate(&self, h: &Tensor, weights: &Tensor) -> Tensor {
        let messages = h.index_select(0, &self.source) * weights.unsqueeze(-1);
        h.zeros_like().index_add(0, &self.target, &messages)
    }
}

/// A checkpoint's variables, by the names `gdistill_models` gives them (`"{layer}.{name}"`).
pub struct Weights(pub HashMap<String, Tensor>);

impl Weights {
    fn get(&self, layer: usize, name: &str) -> Result<&Tensor> {
        let key = format!("{layer}.{name}");
        self.0.get(&key).ok_or_else(|| anyhow!("the checkpoint has no variable {key}"))
    }
}

/// The model's logits from `(x, edge_index)` in evaluation mode (no dropout), for tracing.
pub struct EdgeListModel {
    config: ModelConfig,
    weights: Weights,
}

impl EdgeListModel {
    /// Refuses an architecture it does not rebuild, and a checkpoint missing a variable.
    pub fn new(config: &ModelConfig, weights: Weights) -> Result<EdgeListModel> {
        let names: &[&str] = match config.arch {
            Arch::Gcn | Arch::Appnp => &["weight", "bias"],
            Arch::Sage if config.options.aggregator == SageAggregator::Gcn => &["weight_neigh", "bias"],
            Arch::Sage => &["weight_root", "weight_neigh", "bias"],
            Arch::Gat => &["weight", "att_src", "att_dst", "bias"],
            Arch::Mlp => bail!("an MLP reads no graph: it exports with features as its only input"),
        };
        for layer in 0..=config.hidden.len() {
            for name in names {
                weights.get(layer, name)?;
            }
        }
        Ok(EdgeListModel { config: config.clone(), weights })
    }

    fn layers(&self) -> usize {
        self.config.hidden.len() + 1
    }

    fn w(&self, layer: usize, name: &str) -> &Tensor {
        self.weights.get(layer, name).expect("checked in EdgeListModel::new")
    }

    /// Logits `[N, C]` from features `x: [N, F]` and `edge_index: [2, E]`.
    pub fn forward(&self, x: &Tensor, edge_index: &Tensor) -> Tensor {
        match self.config.arch {
            Arch::Gcn => self.gcn(x, edge_index),
            Arch::Sage => self.sage(x, edge_index),
            Arch::Appnp => self.appnp(x, edge_index),
            Arch::Gat => self.gat(x, edge_index),
            Arch::Mlp => unreachable!("refused in EdgeListModel::new"),
        }
    }

    /// `A_hat @ (H W) + b` per layer, ReLU between (gdistill's `Gcn`).
    fn gcn(&self, x: &Tensor, edge_index: &Tensor) -> Tensor {
        let edges = Edges::undirected(x, edge_index, true);
        let a_hat = edges.gcn_weights(x);
        self.stack(x, Tensor::relu, |k, h| edges.propagate(&h.matmul(self.w(k, "weight")), &a_hat) + self.w(k, "bias"))
    }

    /// `H W_root + mean_N(H) W_neigh + b` per layer, or `mean({h_i} U N(i)) W_neigh + b` with the
    /// GCN aggregator; ReLU between (gdistill's `Sage`).
    fn sage(&self, x: &Tensor, edge_index: &Tensor) -> Tensor {
        let gcn_aggregator = self.config.options.aggregator == SageAggregator::Gcn;
        let edges = Edges::undirected(x, edge_index, gcn_aggregator);
        let mean = edges.mean_weights(x);
        self.stack(x, Tensor::relu, |k, h| {
            let z = if gcn_aggregator {
                edges.propagate(&h.matmul(self.w(k, "weight_neigh")), &mean) + self.w(k, "bias")
            } else {
                let out = self.w(k, "bias").size()[0];
                // One product with both weights, as `SageConv` computes it.
                let both = h.matmul(&Tensor::cat(&[self.w(k, "weight_neigh"), self.w(k, "weight_root")], 1));
                edges.propagate(&both.narrow(1, 0, out), &mean) + both.narrow(1, out, out) + self.w(k, "bias")
            };
            if self.config.options.normalize {
                let norm = z.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
                z / norm
            } else {
                z
            }
        })
    }

    /// An MLP, then `K` steps of `Z <- (1 - alpha) A_hat Z + alpha H` (gdistill's `Appnp`).
    fn appnp(&self, x: &Tensor, edge_index: &Tensor) -> Tensor {
        let edges = Edges::undirected(x, edge_index, true);
        let a_hat = edges.gcn_weights(x);
        let h = self.stack(x, Tensor::relu, |k, h| h.matmul(self.w(k, "weight")) + self.w(k, "bias"));
        let (steps, teleport) = (self.config.options.steps, self.config.options.teleport);
        let mut z = h.shallow_clone();
        for _ in 0..steps {
            z = edges.propagate(&z, &a_hat) * (1.0 - teleport) + &h * teleport;
        }
        z
    }

    /// Multi-head attention over `A + I`, ELU between layers; hidden layers concatenate their
    /// heads, the output layer averages them (gdistill's `Gat`).
    fn gat(&self, x: &Tensor, edge_index: &Tensor) -> Tensor {
        let edges = Edges::undirected(x, edge_index, true);
        let last = self.layers() - 1;
        self.stack(x, Tensor::elu, |k, h| {
            let att_src = self.w(k, "att_src");
            let (heads, out) = (att_src.size()[0], att_src.size()[1]);
            let projected = h.matmul(self.w(k, "weight")).view([-1, heads, out]);
            let score_src = (&projected * att_src).sum_dim_intlist(-1, false, Kind::Float);
            let score_dst = (&projected * self.w(k, "att_dst")).sum_dim_intlist(-1, false, Kind::Float);
            let e = score_src.index_select(0, &edges.source) + score_dst.index_select(0, &edges.target);
            let e = e.maximum(&(&e * GAT_NEGATIVE_SLOPE));
            // Softmax per target, shifted by its maximum (`segment_log_softmax`).
            let max = score_dst.full_like(f64::NEG_INFINITY).index_reduce(0, &edges.target, &e, "amax", true);
            let shifted = e - max.index_select(0, &edges.target);
            let sums = score_dst.zeros_like().index_add(0, &edges.target, &shifted.exp());
            let alpha = (shifted - sums.index_select(0, &edges.target).log()).exp();
            let messages = projected.index_select(0, &edges.source) * alpha.unsqueeze(-1);
            let aggregated = projected.zeros_like().index_add(0, &edges.target, &messages);
            let combined = if k < last {
                aggregated.reshape([-1, heads * out])
            } else {
                aggregated.mean_dim(1, false, Kind::Float)
            };
            combined + self.w(k, "bias")
        })
    }

    /// Layer 0 on `x`, then `activation` and the next layer, as `forward_stack` runs them.
    fn stack(&self, x: &Tensor, activation: fn(&Tensor) -> Tensor, layer: impl Fn(usize, &Tensor) -> Tensor) -> Tensor {
        let mut h = layer(0, x);
        for k in 1..self.layers() {
            h = layer(k, &activation(&h));
        }
        h
    }
}
