//! What every node classifier exposes: logits, hidden features, and its configuration.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::{dropout, Gcn, Mlp, ModelError, NodeFeatures, Project, SparseMatrix};

/// A forward pass: the logits and the hidden representation after each hidden layer
/// (post-activation, before dropout). Structure-preserving losses and pruning read `hidden`.
#[derive(Debug)]
pub struct ModelOutput {
    pub logits: Tensor,
    pub hidden: Vec<Tensor>,
}

/// A node classifier over `(features, graph)`; it knows nothing of training.
pub trait NodeModel {
    /// `train` switches dropout on.
    fn forward_t(&self, x: &NodeFeatures, adj: &SparseMatrix, train: bool) -> ModelOutput;
    fn config(&self) -> &ModelConfig;
    /// The weight matrices, in layer order (what pruning acts on).
    fn weights(&self) -> Vec<&Tensor>;
    /// The bias vectors, in layer order (layer-wise inference rebuilds each layer from these).
    fn biases(&self) -> Vec<&Tensor>;
}

/// One layer of a stack: how it reads its input (the graph may be ignored).
pub(crate) trait StackLayer {
    fn apply(&self, x: &impl Project, a_hat: &SparseMatrix) -> Tensor;
}

/// The forward pass GCN and MLP share: dropout on the input, the first layer, then for each
/// further layer ReLU, dropout and the layer; the ReLU outputs are the hidden features.
pub(crate) fn forward_stack<L: StackLayer>(
    layers: &[L],
    x: &NodeFeatures,
    a_hat: &SparseMatrix,
    p: f64,
    train: bool,
) -> ModelOutput {
    let (first, rest) = layers.split_first().expect("a model has at least one layer");
    let mut h = first.apply(&x.dropout(p, train), a_hat);
    let mut hidden = Vec::with_capacity(rest.len());
    for layer in rest {
        let z = h.relu();
        h = layer.apply(&dropout(&z, p, train), a_hat);
        hidden.push(z);
    }
    ModelOutput { logits: h, hidden }
}

/// Which architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Sparse-matrix GCN (Kipf & Welling 2017).
    Gcn,
    /// Graph-less MLP: reads node features only.
    Mlp,
}

impl std::str::FromStr for Arch {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Arch, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "gcn" => Ok(Arch::Gcn),
            "mlp" => Ok(Arch::Mlp),
            other => Err(ModelError::Config(format!("unknown model '{other}': use gcn or mlp"))),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Gcn => "gcn",
            Arch::Mlp => "mlp",
        })
    }
}

/// Everything needed to rebuild a model; stored in checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub arch: Arch,
    pub in_features: i64,
    /// Widths of the hidden layers; empty gives a single (linear or one-hop) layer.
    pub hidden: Vec<i64>,
    pub num_classes: i64,
    pub dropout: f64,
}

impl ModelConfig {
    /// `layers` counts weight layers, so `layers = 2, hidden = 16` is Kipf & Welling's GCN.
    pub fn new(
        arch: Arch,
        in_features: i64,
        hidden: i64,
        layers: usize,
        num_classes: i64,
        dropout: f64,
    ) -> ModelConfig {
        ModelConfig { arch, in_features, hidden: vec![hidden; layers.saturating_sub(1)], num_classes, dropout }
    }

    /// `(in, out)` of each weight layer.
    pub fn layer_dims(&self) -> Vec<(i64, i64)> {
        let mut dims = Vec::with_capacity(self.hidden.len() + 1);
        let mut input = self.in_features;
        for &width in self.hidden.iter().chain(std::iter::once(&self.num_classes)) {
            dims.push((input, width));
            input = width;
        }
        dims
    }

    /// Trainable parameters: weights and biases.
    pub fn num_params(&self) -> i64 {
        // Saturating: an absurd width must reach the memory check, not overflow.
        self.layer_dims().iter().fold(0i64, |n, (i, o)| n.saturating_add(i.saturating_mul(*o)).saturating_add(*o))
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::Config(m));
        if self.in_features <= 0 || self.num_classes <= 0 {
            return bad(format!(
                "in_features {} and num_classes {} must be positive",
                self.in_features, self.num_classes
            ));
        }
        if self.hidden.iter().any(|&h| h <= 0) {
            return bad(format!("hidden widths must be positive, got {:?}", self.hidden));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }

    /// Builds the model's variables under `path` (layer `k` under `path / k`).
    pub fn build(&self, path: &nn::Path) -> Result<Box<dyn NodeModel>, ModelError> {
        self.validate()?;
        Ok(match self.arch {
            Arch::Gcn => Box::new(Gcn::new(path, self.clone())),
            Arch::Mlp => Box::new(Mlp::new(path, self.clone())),
        })
    }
}
