//! A DGCNN-style classifier: EdgeConv layers on kNN graphs, global max and mean pooling, an MLP
//! head (Wang et al. 2019, scaled down to what a CPU trains in minutes).
//!
//! The first layer's graph is the kNN graph of the coordinates. With `dynamic`, every later
//! layer rebuilds it in the feature space of the layer before (the "dynamic graph"); without,
//! every layer reuses the coordinate graph (a static-graph student). The outputs of all EdgeConv
//! layers are concatenated per point and embedded by a shared linear layer (BN, LeakyReLU); the
//! cloud's descriptor is the max and the mean of that embedding over its points; the head is
//! linear layers with BN, LeakyReLU and dropout, then the classes.
//!
//! Per-point hidden features: the output of each EdgeConv layer, then the embedding. Graphs:
//! the neighbour indices each EdgeConv layer used.
//!
//! Hook points ([`CloudModel::forward_hooked`]), for `L` EdgeConv layers and `H` head layers:
//! `0..L` each EdgeConv layer's output `[B, N, widths[l]]`, `L` the embedding `[B, N, embed]`,
//! `L + 1` the pooled descriptor `[B, 2 * embed]` (max, then mean), `L + 2..L + 2 + H` each
//! head layer's output `[B, head[h]]`.
//!
//! With a hook, a dynamic layer's kNN graph is computed on the *hooked* features of the layer
//! before (for the int8 rows: the rounded ones), not on the float ones: an int8 inference
//! only ever holds the rounded tensor, so its neighbour search sees ties and reorderings the
//! rounding makes, and the simulation should too. The first layer's graph is that of the
//! coordinates the model is given (the int8 rows round them before the model).

use tch::{nn, Tensor};

use super::edgeconv::{leaky_relu, point_norm};
use super::{hooked, knn, CloudModel, CloudOutput, CloudShape, Head};
use crate::pointcloud::EdgeConv;
use crate::ActivationHook;

/// The DGCNN-style classifier (see the module documentation).
#[derive(Debug)]
pub struct Dgcnn {
    convs: Vec<EdgeConv>,
    k: i64,
    dynamic: bool,
    embed: nn::Linear,
    embed_norm: nn::BatchNorm,
    head: Head,
}

impl Dgcnn {
    #[allow(clippy::too_many_arguments)] // the hyper-parameters of CloudArch::Dgcnn, one by one
    /// EdgeConv widths `widths`, `k` neighbours, an embedding of `embed` units, head widths `head`.
    pub fn new(
        path: &nn::Path,
        shape: CloudShape,
        k: i64,
        widths: &[i64],
        dynamic: bool,
        embed: i64,
        head: &[i64],
        dropout: f64,
    ) -> Dgcnn {
        let mut input = shape.dim;
        let convs = widths
            .iter()
            .enumerate()
            .map(|(l, &w)| {
                let conv = EdgeConv::new(&(path / format!("conv{l}")), input, w, true);
                input = w;
                conv
            })
            .collect();
        let concat: i64 = widths.iter().sum();
        Dgcnn {
            convs,
            k,
            dynamic,
            embed: nn::linear(path / "embed", concat, embed, Default::default()),
            embed_norm: nn::batch_norm1d(path / "embed_norm", embed, Default::default()),
            head: Head::new(&(path / "head"), 2 * embed, head, shape.classes, dropout),
        }
    }
}

impl Dgcnn {
    /// The pass, with `hook` at the points the module documentation lists.
    fn forward_with(&self, points: &Tensor, train: bool, hook: Option<&ActivationHook>) -> CloudOutput {
        let coordinate_graph = knn(points, self.k, true);
        let mut h = points.shallow_clone();
        let (mut features, mut graphs) = (Vec::new(), Vec::new());
        for (l, conv) in self.convs.iter().enumerate() {
            let graph = if l == 0 || !self.dynamic { coordinate_graph.shallow_clone() } else { knn(&h, self.k, true) };
            h = hooked(hook, l, conv.forward_t(&h, &graph, train));
            features.push(h.shallow_clone());
            graphs.push(graph);
        }
        let layers = self.convs.len();
        let embedded = leaky_relu(&point_norm(&self.embed_norm, &Tensor::cat(&features, -1).apply(&self.embed), train));
        let embedded = hooked(hook, layers, embedded);
        let pooled = Tensor::cat(&[embedded.amax(1, false), embedded.mean_dim(1, false, embedded.kind())], -1);
        let pooled = hooked(hook, layers + 1, pooled);
        features.push(embedded);
        let logits = self.head.forward_with(&pooled, train, hook, layers + 2);
        CloudOutput { logits, point_features: features, graphs }
    }
}

impl CloudModel for Dgcnn {
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput {
        self.forward_with(points, train, None)
    }

    fn forward_hooked(&self, points: &Tensor, train: bool, hook: &ActivationHook) -> Option<CloudOutput> {
        Some(self.forward_with(points, train, Some(hook)))
    }
}
