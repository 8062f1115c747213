//! A PointNet-style classifier without any graph: a shared per-point MLP (linear, BN,
//! LeakyReLU), max pooling over the points, an MLP head (Qi et al. 2017, without the input and
//! feature transforms). The lightest student: no neighbour search at all.
//!
//! Per-point hidden features: the output of each shared layer. Graphs: none.

use tch::{nn, Tensor};

use super::edgeconv::{leaky_relu, point_norm};
use super::{CloudModel, CloudOutput, CloudShape, Head};

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

impl CloudModel for PointNet {
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput {
        let mut h = points.shallow_clone();
        let mut features = Vec::with_capacity(self.layers.len());
        for (linear, norm) in &self.layers {
            h = leaky_relu(&point_norm(norm, &h.apply(linear), train));
            features.push(h.shallow_clone());
        }
        let logits = self.head.forward_t(&h.amax(1, false), train);
        CloudOutput { logits, point_features: features, graphs: Vec::new() }
    }
}
