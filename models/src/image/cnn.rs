//! A small convolutional teacher for grid inputs.
//!
//! Per stage: a 3x3 convolution with same padding, ReLU, 2x2 max-pooling (28x28 -> 14x14 ->
//! 7x7 for MNIST with two stages; 8x8 -> 4x4 -> 2x2 for the digits). Then the flattened maps
//! through a fully connected layer with ReLU and dropout, and a linear layer to the classes.
//! 3x3 kernels with padding (rather than LeNet's unpadded 5x5) keep one recipe for both image
//! sizes. Hidden features: the flattened maps, then the fully connected layer's units.

use tch::{nn, Tensor};

use super::{ActivationHook, ImageModel, ImageShape};
use crate::{dropout, ModelOutput};

/// Convolution stages and a two-layer head.
#[derive(Debug)]
pub struct SmallCnn {
    convs: Vec<nn::Conv2D>,
    fc: nn::Linear,
    out: nn::Linear,
    dropout: f64,
}

impl SmallCnn {
    /// Stage `k` under `path / "conv{k}"`, the head under `path / "fc"` and `path / "out"`.
    pub fn new(path: &nn::Path, shape: ImageShape, channels: &[i64], fc: i64, dropout: f64) -> SmallCnn {
        let config = nn::ConvConfig { padding: 1, ..Default::default() };
        let mut input = 1;
        let mut convs = Vec::with_capacity(channels.len());
        for (k, &c) in channels.iter().enumerate() {
            convs.push(nn::conv2d(path / format!("conv{k}"), input, c, 3, config));
            input = c;
        }
        let stages = channels.len();
        let flat = input * (shape.height >> stages) * (shape.width >> stages);
        SmallCnn {
            convs,
            fc: nn::linear(path / "fc", flat, fc, Default::default()),
            out: nn::linear(path / "out", fc, shape.classes, Default::default()),
            dropout,
        }
    }
}

impl SmallCnn {
    /// The pass, with `hook` on each stage's pooled maps (point `k`: stage `k`) and on the
    /// fully connected layer's units (the last point).
    fn forward_with(&self, images: &Tensor, train: bool, hook: Option<&ActivationHook>) -> ModelOutput {
        let hooked = |k: usize, x: Tensor| match hook {
            Some(hook) => hook(k, &x),
            None => x,
        };
        let mut h = images.unsqueeze(1);
        for (k, conv) in self.convs.iter().enumerate() {
            h = hooked(k, h.apply(conv).relu().max_pool2d_default(2));
        }
        // flatten, not reshape to the batch size read here: a traced export then takes any batch.
        let flat = h.flatten(1, -1);
        let z = hooked(self.convs.len(), flat.apply(&self.fc).relu());
        let logits = dropout(&z, self.dropout, train).apply(&self.out);
        ModelOutput { logits, hidden: vec![flat, z] }
    }
}

impl ImageModel for SmallCnn {
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput {
        self.forward_with(images, train, None)
    }

    fn forward_hooked(&self, images: &Tensor, train: bool, hook: &ActivationHook) -> Option<ModelOutput> {
        Some(self.forward_with(images, train, Some(hook)))
    }
}
