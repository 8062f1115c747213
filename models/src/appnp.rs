//! APPNP (Klicpera, Bojchevski & Günnemann 2019): predict, then propagate. An MLP maps each
//! node's features to logits `H`; `K` steps of personalised PageRank then smooth them over the
//! graph, `Z <- (1 - alpha) A_hat Z + alpha H`, starting from `Z = H`, with PyTorch Geometric's
//! `APPNP` normalisation (`A_hat = D^-1/2 (A + I) D^-1/2`). The hidden features are the MLP's.
//!
//! ```
//! use gdistill_models::{Arch, ModelConfig, NodeFeatures, SparseMatrix};
//! use tch::{nn, Device, Kind, Tensor};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let appnp = ModelConfig::new(Arch::Appnp, 4, 8, 2, 3, 0.5).build(&vs.root()).unwrap();
//! let a_hat = SparseMatrix::from_csr(&[0, 1, 2], &[0, 1], &[1.0, 1.0], (2, 2), Device::Cpu).unwrap();
//! let x = NodeFeatures::Dense(Tensor::randn([2, 4], (Kind::Float, Device::Cpu)));
//! assert_eq!(appnp.forward_t(&x, &a_hat, false).logits.size(), [2, 3]);
//! ```

use tch::{nn, Tensor};

use crate::model::forward_stack;
use crate::{Dense, ModelConfig, ModelOutput, NodeFeatures, NodeModel, SparseMatrix};

/// An MLP followed by `K` personalised-PageRank propagation steps.
#[derive(Debug)]
pub struct Appnp {
    layers: Vec<Dense>,
    config: ModelConfig,
}

impl Appnp {
    pub fn new(path: &nn::Path, config: ModelConfig) -> Appnp {
        let layers = config.layer_dims().iter().enumerate().map(|(k, &(i, o))| Dense::new(&(path / k), i, o)).collect();
        Appnp { layers, config }
    }
}

/// `K` steps of `Z <- (1 - alpha) A_hat Z + alpha H` from `Z = H`.
pub fn personalized_pagerank(h: &Tensor, a_hat: &SparseMatrix, steps: usize, teleport: f64) -> Tensor {
    let mut z = h.shallow_clone();
    for _ in 0..steps {
        z = a_hat.matmul(&z) * (1.0 - teleport) + h * teleport;
    }
    z
}

impl NodeModel for Appnp {
    fn forward_t(&self, x: &NodeFeatures, a_hat: &SparseMatrix, train: bool) -> ModelOutput {
        let out = forward_stack(&self.layers, x, a_hat, self.config.dropouts(), train);
        let o = &self.config.options;
        ModelOutput { logits: personalized_pagerank(&out.logits, a_hat, o.steps, o.teleport), hidden: out.hidden }
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
