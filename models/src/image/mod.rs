//! Image classifiers: the same interface for an MLP, a small CNN and a GCN on the pixel grid.
//!
//! Every model reads a batch of grayscale images `[batch, height, width]` (pixels in `0..=1`)
//! and returns a [`ModelOutput`]: logits `[batch, classes]` and its hidden features, one
//! `[batch, ...]` tensor per hidden stage. An [`ImageArch`] (serialisable, so experiments can
//! name it in TOML) builds any of them for an [`ImageShape`]:
//!
//! - [`ImageMlp`]: the fully connected nets of Hinton, Vinyals & Dean (2015) on MNIST;
//! - [`SmallCnn`]: 3x3 convolutions and max-pooling, then a fully connected head;
//! - [`GridGcn`]: each image a pixel graph, through the sparse [`crate::GcnConv`] layers,
//!   globally pooled.
//!
//! ```
//! use gdistill_models::{ImageArch, ImageShape};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let shape = ImageShape { height: 8, width: 8, classes: 10 };
//! let arch = ImageArch::Mlp { hidden: vec![30, 30], input_dropout: 0.0, dropout: 0.0 };
//! let model = arch.build(&vs.root(), shape).unwrap();
//! let out = model.forward_t(&Tensor::rand([5, 8, 8], (Kind::Float, Device::Cpu)), false);
//! assert_eq!(out.logits.size(), [5, 10]);
//! assert_eq!(out.hidden.len(), 2);
//! assert_eq!(arch.num_params(shape), 64 * 30 + 30 + 30 * 30 + 30 + 30 * 10 + 10);
//! ```

mod cnn;
mod grid_gcn;
mod mlp;

pub use cnn::SmallCnn;
pub use grid_gcn::{grid_features, GridGcn, GridSettings};
pub use mlp::ImageMlp;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Tensor};

use crate::{ModelError, ModelOutput};

/// The size of the images and the number of classes a model is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageShape {
    pub height: i64,
    pub width: i64,
    pub classes: i64,
}

/// What a model hands each hidden activation that feeds a later layer: `(point, activation)`
/// in, the activation the next layer reads out. Points are numbered from 0 in forward order.
pub type ActivationHook<'a> = dyn Fn(usize, &Tensor) -> Tensor + 'a;

/// An image classifier; it knows nothing of training.
pub trait ImageModel {
    /// `images`: `[batch, height, width]`; `train` switches dropout on.
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput;

    /// [`ImageModel::forward_t`] with `hook` between layers: what int8 activations (and their
    /// calibration) need, kept out of `forward_t` so that pass stays as it was. The `hidden` of
    /// the output are the hooked activations. `None` for a model without hook points (the grid
    /// GCN, whose activations are node-major `[P, B, C]` inside one sparse product per layer).
    fn forward_hooked(&self, images: &Tensor, train: bool, hook: &ActivationHook) -> Option<ModelOutput> {
        let _ = (images, train, hook);
        None
    }
}

/// Which architecture, with its hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ImageArch {
    /// The flattened image through fully connected layers of widths `hidden`, ReLU between
    /// them; dropout on the input (`input_dropout`) and on every hidden layer (`dropout`).
    Mlp { hidden: Vec<i64>, input_dropout: f64, dropout: f64 },
    /// Per entry of `channels`, a 3x3 convolution (same padding), ReLU and 2x2 max-pooling;
    /// then a fully connected layer of `fc` units (ReLU, `dropout`) and the classes.
    Cnn { channels: Vec<i64>, fc: i64, dropout: f64 },
    /// `layers` graph convolutions of width `hidden` on the pixel grid (`neighborhood` 4 or
    /// 8), each pixel's input its intensity (plus its row and column when `coordinates`), then
    /// global mean and max pooling, `dropout`, and a linear layer to the classes. With `pool`
    /// > 1 the image is first averaged over `pool` x `pool` blocks (a coarser pixel grid).
    GridGcn {
        hidden: i64,
        layers: usize,
        neighborhood: u8,
        coordinates: bool,
        dropout: f64,
        #[serde(default = "one")]
        pool: i64,
    },
}

/// serde's default for `pool`: every pixel a node.
fn one() -> i64 {
    1
}

impl ImageArch {
    /// Checks the hyper-parameters against each other and the image size.
    pub fn validate(&self, shape: ImageShape) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        if shape.height <= 0 || shape.width <= 0 || shape.classes <= 0 {
            return bad(format!("images of {}x{} pixels in {} classes", shape.height, shape.width, shape.classes));
        }
        let dropouts = match self {
            ImageArch::Mlp { hidden, input_dropout, dropout } => {
                if hidden.iter().any(|&h| h <= 0) {
                    return bad(format!("MLP hidden widths must be positive, got {hidden:?}"));
                }
                vec![*input_dropout, *dropout]
            }
            ImageArch::Cnn { channels, fc, dropout } => {
                if channels.is_empty() || channels.iter().any(|&c| c <= 0) || *fc <= 0 {
                    return bad(format!("CNN channels {channels:?} and fc {fc} must be positive (at least one conv)"));
                }
                let pooled = shape.height.min(shape.width) >> channels.len();
                if pooled == 0 {
                    return bad(format!(
                        "{} 2x2 poolings shrink {}x{} images to nothing",
                        channels.len(),
                        shape.height,
                        shape.width
                    ));
                }
                vec![*dropout]
            }
            ImageArch::GridGcn { hidden, layers, neighborhood, dropout, pool, .. } => {
                if *hidden <= 0 || *layers == 0 {
                    return bad(format!("grid GCN needs hidden > 0 and layers > 0, got {hidden} and {layers}"));
                }
                if *pool < 1 || shape.height.min(shape.width) < *pool {
                    return bad(format!("grid GCN pool {pool} on {}x{} images", shape.height, shape.width));
                }
                if !matches!(neighborhood, 4 | 8) {
                    return bad(format!("grid neighbourhood must be 4 or 8, got {neighborhood}"));
                }
                vec![*dropout]
            }
        };
        if let Some(p) = dropouts.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return bad(format!("dropout must be in [0, 1), got {p}"));
        }
        Ok(())
    }

    /// Builds the model's variables under `path`, on `path`'s device.
    pub fn build(&self, path: &nn::Path, shape: ImageShape) -> Result<Box<dyn ImageModel>, ModelError> {
        self.validate(shape)?;
        Ok(match self {
            ImageArch::Mlp { hidden, input_dropout, dropout } => {
                Box::new(ImageMlp::new(path, shape, hidden, *input_dropout, *dropout))
            }
            ImageArch::Cnn { channels, fc, dropout } => Box::new(SmallCnn::new(path, shape, channels, *fc, *dropout)),
            ImageArch::GridGcn { hidden, layers, neighborhood, coordinates, dropout, pool } => {
                let grid = GridSettings { neighborhood: *neighborhood, coordinates: *coordinates, pool: *pool };
                Box::new(GridGcn::new(path, shape, *hidden, *layers, grid, *dropout)?)
            }
        })
    }

    /// Trainable parameters (weights and biases) of the model built for `shape`.
    pub fn num_params(&self, shape: ImageShape) -> i64 {
        let vs = nn::VarStore::new(Device::Cpu);
        match self.build(&vs.root(), shape) {
            Ok(_) => vs.trainable_variables().iter().map(|v| v.numel() as i64).sum(),
            Err(_) => 0,
        }
    }

    /// A short description for tables: `mlp 2x800`, `cnn 32-64/256`, `grid-gcn 3x32/8`.
    pub fn describe(&self) -> String {
        match self {
            ImageArch::Mlp { hidden, .. } => match hidden.as_slice() {
                [first, rest @ ..] if rest.iter().all(|h| h == first) => format!("mlp {}x{first}", hidden.len()),
                _ => format!("mlp {hidden:?}"),
            },
            ImageArch::Cnn { channels, fc, .. } => {
                format!("cnn {}/{fc}", channels.iter().map(i64::to_string).collect::<Vec<_>>().join("-"))
            }
            ImageArch::GridGcn { hidden, layers, neighborhood, pool, .. } => {
                let coarse = if *pool > 1 { format!(" pool {pool}") } else { String::new() };
                format!("grid-gcn {layers}x{hidden}/{neighborhood}{coarse}")
            }
        }
    }
}
