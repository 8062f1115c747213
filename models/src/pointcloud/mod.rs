//! Point-cloud classifiers: a DGCNN-style teacher and student on kNN graphs, and a graph-less
//! PointNet-style student.
//!
//! Every model reads a batch of clouds `[batch, points, dim]` (dim 3, or 2 for planar clouds)
//! and returns a [`CloudOutput`]: logits `[batch, classes]`, per-point hidden features (one
//! `[batch, points, C]` tensor per hidden stage) and the neighbour indices `[batch, points, k]`
//! each graph layer used (what LSP on dynamic graphs needs). A [`CloudArch`] (serialisable, so
//! experiments can name it in TOML) builds any of them for a [`CloudShape`].
//!
//! - [`knn`]: batched kNN on the device (pairwise distances + top-k);
//! - [`EdgeConv`]: `h(x_i, x_j - x_i)`, max over the `k` neighbours;
//! - [`Dgcnn`]: EdgeConv layers, the graph rebuilt in feature space per layer when dynamic;
//! - [`PointNet`]: a shared per-point MLP and max pooling.
//!
//! ```
//! use gdistill_models::pointcloud::{CloudArch, CloudShape};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let shape = CloudShape { dim: 3, classes: 4 };
//! let arch = CloudArch::Dgcnn { k: 5, widths: vec![16, 16], dynamic: true, embed: 32, head: vec![16], dropout: 0.5 };
//! let model = arch.build(&vs.root(), shape).unwrap();
//! let out = model.forward_t(&Tensor::randn([2, 20, 3], (Kind::Float, Device::Cpu)), false);
//! assert_eq!(out.logits.size(), [2, 4]);
//! assert_eq!(out.point_features[1].size(), [2, 20, 16]);
//! assert_eq!(out.graphs[1].size(), [2, 20, 5]);
//! ```

mod dgcnn;
mod edgeconv;
mod knn;
mod pointnet;

pub use dgcnn::Dgcnn;
pub use edgeconv::{leaky_relu, EdgeConv, LEAKY_SLOPE};
pub use knn::{flat_neighbours, knn};
pub use pointnet::PointNet;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

use crate::{dropout, ActivationHook, ModelError};

/// Coordinates per point and number of classes a model is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudShape {
    pub dim: i64,
    pub classes: i64,
}

/// A forward pass of a cloud classifier.
#[derive(Debug)]
pub struct CloudOutput {
    /// `[batch, classes]`.
    pub logits: Tensor,
    /// Per-point hidden features, `[batch, points, C]` per hidden stage, post-activation.
    pub point_features: Vec<Tensor>,
    /// Neighbour indices `[batch, points, k]` of each graph layer (empty without a graph).
    pub graphs: Vec<Tensor>,
}

/// A point-cloud classifier; it knows nothing of training.
pub trait CloudModel {
    /// `points`: `[batch, points, dim]`; `train` switches dropout and batch statistics on.
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput;

    /// [`CloudModel::forward_t`] with `hook` on every hidden activation that feeds a later
    /// layer, in forward order: what int8 activations (and their calibration) need, kept out of
    /// `forward_t` so that pass stays as it was. The `point_features` of the output are the
    /// hooked activations. `None` for a model without hook points (an ensemble: its members
    /// each have their own activations and grids).
    fn forward_hooked(&self, points: &Tensor, train: bool, hook: &ActivationHook) -> Option<CloudOutput> {
        let _ = (points, train, hook);
        None
    }
}

/// `x` through `hook` at `point`, or `x` itself without a hook (the plain pass, op for op).
pub(crate) fn hooked(hook: Option<&ActivationHook>, point: usize, x: Tensor) -> Tensor {
    match hook {
        Some(hook) => hook(point, &x),
        None => x,
    }
}

/// The classification head: per width a linear layer, BN, LeakyReLU and dropout; then the classes.
#[derive(Debug)]
pub(crate) struct Head {
    hidden: Vec<(nn::Linear, nn::BatchNorm)>,
    out: nn::Linear,
    dropout: f64,
}

impl Head {
    pub(crate) fn new(path: &nn::Path, input: i64, widths: &[i64], classes: i64, dropout: f64) -> Head {
        let mut from = input;
        let hidden = widths
            .iter()
            .enumerate()
            .map(|(l, &w)| {
                let p = path / format!("fc{l}");
                let layer = (
                    nn::linear(&p / "linear", from, w, Default::default()),
                    nn::batch_norm1d(&p / "norm", w, Default::default()),
                );
                from = w;
                layer
            })
            .collect();
        Head { hidden, out: nn::linear(path / "out", from, classes, Default::default()), dropout }
    }

    /// The logits of the pooled descriptor `x`, with `hook` on each hidden layer's output
    /// (before dropout) at points `first_point`, `first_point + 1`, ...
    pub(crate) fn forward_with(
        &self,
        x: &Tensor,
        train: bool,
        hook: Option<&ActivationHook>,
        first_point: usize,
    ) -> Tensor {
        let mut h = x.shallow_clone();
        for (l, (linear, norm)) in self.hidden.iter().enumerate() {
            let z = hooked(hook, first_point + l, leaky_relu(&h.apply(linear).apply_t(norm, train)));
            h = dropout(&z, self.dropout, train);
        }
        h.apply(&self.out)
    }
}

/// Which architecture, with its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CloudArch {
    /// EdgeConv layers of widths `widths` on `k`-NN graphs (rebuilt in feature space per layer
    /// when `dynamic`), an `embed`-wide point embedding, max+mean pooling, a head of widths `head`.
    Dgcnn { k: i64, widths: Vec<i64>, dynamic: bool, embed: i64, head: Vec<i64>, dropout: f64 },
    /// Shared per-point layers of widths `widths`, max pooling, a head of widths `head`.
    #[serde(rename = "pointnet")]
    PointNet { widths: Vec<i64>, head: Vec<i64>, dropout: f64 },
}

impl CloudArch {
    /// Checks the hyper-parameters.
    pub fn validate(&self, shape: CloudShape) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        if !matches!(shape.dim, 2 | 3) || shape.classes <= 0 {
            return bad(format!("clouds of dimension {} in {} classes", shape.dim, shape.classes));
        }
        let (widths, head, dropout) = match self {
            CloudArch::Dgcnn { k, widths, embed, head, dropout, .. } => {
                if *k < 1 || *embed < 1 {
                    return bad(format!("DGCNN needs k >= 1 and embed >= 1, got {k} and {embed}"));
                }
                (widths, head, dropout)
            }
            CloudArch::PointNet { widths, head, dropout } => (widths, head, dropout),
        };
        if widths.is_empty() || widths.iter().chain(head).any(|&w| w < 1) {
            return bad(format!("widths {widths:?} and head {head:?} must be positive (at least one layer)"));
        }
        if !(0.0..1.0).contains(dropout) {
            return bad(format!("dropout must be in [0, 1), got {dropout}"));
        }
        Ok(())
    }

    /// Builds the model's variables under `path`, on `path`'s device.
    pub fn build(&self, path: &nn::Path, shape: CloudShape) -> Result<Box<dyn CloudModel>, ModelError> {
        self.validate(shape)?;
        Ok(match self {
            CloudArch::Dgcnn { k, widths, dynamic, embed, head, dropout } => {
                Box::new(Dgcnn::new(path, shape, *k, widths, *dynamic, *embed, head, *dropout))
            }
            CloudArch::PointNet { widths, head, dropout } => {
                Box::new(PointNet::new(path, shape, widths, head, *dropout))
            }
        })
    }

    /// Trainable parameters of the model built for `shape`.
    pub fn num_params(&self, shape: CloudShape) -> i64 {
        let vs = nn::VarStore::new(Device::Cpu);
        match self.build(&vs.root(), shape) {
            Ok(_) => vs.trainable_variables().iter().map(|v| v.numel() as i64).sum(),
            Err(_) => 0,
        }
    }

    /// The neighbour count of a graph model (`None` for PointNet).
    pub fn k(&self) -> Option<i64> {
        match self {
            CloudArch::Dgcnn { k, .. } => Some(*k),
            CloudArch::PointNet { .. } => None,
        }
    }

    /// A short description for tables: `dgcnn 64-64-128 k10 dyn`, `pointnet 32-64-128`.
    pub fn describe(&self) -> String {
        let join = |w: &[i64]| w.iter().map(i64::to_string).collect::<Vec<_>>().join("-");
        match self {
            CloudArch::Dgcnn { k, widths, dynamic, .. } => {
                format!("dgcnn {} k{k}{}", join(widths), if *dynamic { " dyn" } else { " static" })
            }
            CloudArch::PointNet { widths, .. } => format!("pointnet {}", join(widths)),
        }
    }
}
