//! Fully connected image classifiers, as in Hinton, Vinyals & Dean (2015) on MNIST.
//!
//! The teacher there is 784-1200-1200-10 with dropout (20% on the input, 50% on the hidden
//! units); the students are 784-800-800-10 and 784-30-30-10 without regularisation. The image
//! is flattened row-major; the layers are the node MLP's [`Dense`] layers.

use tch::{nn, Tensor};

use super::{ActivationHook, ImageModel, ImageShape};
use crate::{dropout, Dense, ModelOutput};

/// Dense layers with ReLU between them, dropout on the input and on the hidden layers.
#[derive(Debug)]
pub struct ImageMlp {
    layers: Vec<Dense>,
    input_dropout: f64,
    dropout: f64,
}

impl ImageMlp {
    /// Layer `k` under `path / k`; `hidden` lists the hidden widths.
    pub fn new(path: &nn::Path, shape: ImageShape, hidden: &[i64], input_dropout: f64, dropout: f64) -> ImageMlp {
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        let mut input = shape.height * shape.width;
        for (k, &width) in hidden.iter().chain(std::iter::once(&shape.classes)).enumerate() {
            layers.push(Dense::new(&(path / k), input, width));
            input = width;
        }
        ImageMlp { layers, input_dropout, dropout }
    }
}

impl ImageMlp {
    /// The pass, with `hook` on each hidden layer's ReLU output (point `k`: hidden layer `k`).
    fn forward_with(&self, images: &Tensor, train: bool, hook: Option<&ActivationHook>) -> ModelOutput {
        let (last, hidden_layers) = self.layers.split_last().expect("an MLP has an output layer");
        // flatten, not reshape to the batch size read here: a traced export then takes any batch.
        let mut h = dropout(&images.flatten(1, -1), self.input_dropout, train);
        let mut hidden = Vec::with_capacity(hidden_layers.len());
        for (k, layer) in hidden_layers.iter().enumerate() {
            let z = layer.forward(&h).relu();
            let z = match hook {
                Some(hook) => hook(k, &z),
                None => z,
            };
            h = dropout(&z, self.dropout, train);
            hidden.push(z);
        }
        ModelOutput { logits: last.forward(&h), hidden }
    }
}

impl ImageModel for ImageMlp {
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput {
        self.forward_with(images, train, None)
    }

    fn forward_hooked(&self, images: &Tensor, train: bool, hook: &ActivationHook) -> Option<ModelOutput> {
        Some(self.forward_with(images, train, Some(hook)))
    }
}
