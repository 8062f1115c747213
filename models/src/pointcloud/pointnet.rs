//! A PointNet-style classifier without any graph: a shared per-point MLP (linear, BN,
//! LeakyReLU), max pooling over the points, an MLP head (Qi et al. 2017, without the input and
//! feature transforms). The lightest student: no neighbour search at all.
//!
//! Per-point hidden features: the output of each shared layer. Graphs: none.
//!
//! Hook points ([`CloudModel::forward_hooked`]), for `L` shared layers and `H` head layers:
//! `0..L` each shared layer's output `[B, N, widths[l]]`, `L` the pooled descriptor
//! `[B, widths[L - 1]]`, `L + 1..L + 1 + H` each head layer's output `[B, head[h]]`. The
//! pooled descriptor is a maximum of the last layer's (hooked) values, so an int8 inference
//! would keep that layer's grid; it is a hook point all the same, as in the DGCNN, and its own
//! grid (calibrated on the maxima, a sub-range of the layer's, so never coarser) moves it
//! by at most half a step.

use tch::{nn, Tensor};

use super::edgeconv::{leaky_relu, point_norm};
use super::{hooked, CloudModel, CloudOutput, CloudShape, Head};
use crate::ActivationHook;

/// The PointNet-style classifier (see the module documentation).
#[derive(Debug)]
pub struct PointNet {
    layers: Vec<(nn::Linear, nn::BatchNorm)>,
    head: Head,
}

impl PointNet {
    /// Shared layers of widths `widths`, head widths `head`.
    pub fn new(path: &nn::Path, shape: CloudShape, widths: &[i64], head: &[i64], dropout: f64) -> PointNet {
        let mut input = shape.dim;
        let layers = widths
            .iter()
            .enumerate()
            .map(|(l, &w)| {
                let p = path / format!("point{l}");
                let layer = (
                    nn::linear(&p / "linear", input, w, Default::default()),
                    nn::batch_norm1d(&p / "norm", w, Default::default()),
                );
                input = w;
                layer
            })
            .collect();
        PointNet { layers, head: Head::new(&(path / "head"), input, head, shape.classes, dropout) }
    }
}

impl PointNet {
    /// The pass, with `hook` at the points the module documentation lists.
    fn forward_with(&self, points: &Tensor, train: bool, hook: Option<&ActivationHook>) -> CloudOutput {
        let mut h = points.shallow_clone();
        let mut features = Vec::with_capacity(self.layers.len());
        for (l, (linear, norm)) in self.layers.iter().enumerate() {
            h = hooked(hook, l, leaky_relu(&point_norm(norm, &h.apply(linear), train)));
            features.push(h.shallow_clone());
        }
        let layers = self.layers.len();
        let pooled = hooked(hook, layers, h.amax(1, false));
        let logits = self.head.forward_with(&pooled, train, hook, layers + 1);
        CloudOutput { logits, point_features: features, graphs: Vec::new() }
    }
}

impl CloudModel for PointNet {
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput {
        self.forward_with(points, train, None)
    }

    fn forward_hooked(&self, points: &Tensor, train: bool, hook: &ActivationHook) -> Option<CloudOutput> {
        Some(self.forward_with(points, train, Some(hook)))
    }
}
