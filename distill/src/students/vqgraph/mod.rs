//! VQGraph (Yang et al., ICLR 2024: "VQGraph: Rethinking Graph Representation Space for
//! Bridging GNNs and MLPs"), built from the paper.
//!
//! A graph tokenizer ([`tokenizer`]): a VQ-VAE whose encoder is the teacher GNN, trained with
//! its classification loss, a codebook of `K` codes ([`quantize()`]), and decoders of the
//! features and edges. The MLP student ([`student`]) learns the teacher's soft labels and, for
//! each node, its soft assignment over the codes ([`code_distillation_loss`]). Rows of a
//! comparison (`--vqgraph`, the `[vqgraph]` table): `teacher+vq` (the tokenizer's teacher),
//! `mlp+vqgraph` and the ablation `mlp+vqgraph-code` (soft labels of the same teacher only).
//! docs/vqgraph.md says how this differs from the authors' code.
//!
//! ```
//! use gdistill_distill::students::vqgraph::{nearest_codes, VqgraphConfig};
//! use tch::Tensor;
//! let codebook = Tensor::from_slice(&[0.0f32, 1.0, 5.0]).view([3, 1]);
//! let z = Tensor::from_slice(&[0.4f32, 0.6, 4.0, -3.0]).view([4, 1]);
//! assert_eq!(Vec::<i64>::try_from(&nearest_codes(&z, &codebook)).unwrap(), [0, 1, 2, 0]);
//! // A codebook larger than the graph is refused, by the setting's name.
//! let vq = VqgraphConfig { codebook_size: 4096, ..VqgraphConfig::default() };
//! assert!(vq.check_graph(2485, 5069, "cora").unwrap_err().contains("vqgraph.codebook_size"));
//! ```

mod code_kl;
mod quantize;
pub mod student;
pub mod tokenizer;

pub use code_kl::{code_distillation_loss, code_logits};
pub use quantize::{nearest_codes, quantize, squared_distances, Quantized};
pub use student::train_vqgraph_student;
pub use tokenizer::{batch_adjacency, train_tokenizer, TrainedTokenizer};

use serde::{Deserialize, Serialize};

/// The `vqgraph` table of a comparison's config: present (`--vqgraph`), it adds the rows
/// `teacher+vq`, `mlp+vqgraph` and `mlp+vqgraph-code`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VqgraphConfig {
    /// Also the row `mlp+vqgraph-code` (soft labels only, from the same teacher).
    pub ablations: bool,
    /// `K`, the number of codes; at most the nodes of the training graph.
    pub codebook_size: usize,
    /// Width of the codes; absent: the teacher's last hidden width.
    pub code_dim: Option<i64>,
    /// Weight of the commitment loss (VQ-VAE's 0.25).
    pub beta: f64,
    /// Weights of the feature and edge reconstructions in the tokenizer's loss (0.1 each: at 1
    /// they cost Cora's student 3 points of validation accuracy, docs/vqgraph.md).
    pub feature_weight: f64,
    pub edge_weight: f64,
    /// Nodes whose adjacency the edge decoder reconstructs each epoch.
    pub edge_batch: usize,
    /// Temperature of the soft code assignments (on squared Euclidean distances).
    pub tau: f64,
    /// Weight of the code distillation in the student's loss (0.1, chosen on Cora's validation).
    pub code_weight: f64,
    /// Nodes per student mini-batch.
    pub batch_size: usize,
    /// The tokenizer's (teacher's) epochs at most and patience.
    pub tokenizer_epochs: usize,
    pub tokenizer_patience: usize,
    /// The student's epochs at most and patience.
    pub epochs: usize,
    pub patience: usize,
}

impl Default for VqgraphConfig {
    fn default() -> Self {
        VqgraphConfig {
            ablations: true,
            codebook_size: 1024,
            code_dim: None,
            beta: 0.25,
            feature_weight: 0.1,
            edge_weight: 0.1,
            edge_batch: 512,
            tau: 1.0,
            code_weight: 0.1,
            batch_size: 512,
            tokenizer_epochs: 200,
            tokenizer_patience: 50,
            epochs: 200,
            patience: 50,
        }
    }
}

/// Which VQGraph row a plan trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VqgraphRow {
    /// `teacher+vq`: the tokenizer, scored as its teacher.
    Tokenizer,
    /// A student, with the code distillation (`mlp+vqgraph`) or without (`mlp+vqgraph-code`).
    Student { code: bool },
}

impl VqgraphRow {
    /// The rows `config` adds, in report order.
    pub fn rows(config: &VqgraphConfig) -> Vec<(&'static str, VqgraphRow)> {
        let mut rows = vec![("teacher+vq", VqgraphRow::Tokenizer), ("mlp+vqgraph", VqgraphRow::Student { code: true })];
        if config.ablations {
            rows.push(("mlp+vqgraph-code", VqgraphRow::Student { code: false }));
        }
        rows
    }
}

impl VqgraphConfig {
    /// Checks every setting; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            ("beta", self.beta),
            ("feature_weight", self.feature_weight),
            ("edge_weight", self.edge_weight),
            ("code_weight", self.code_weight),
        ];
        for (name, v) in checks {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("vqgraph.{name} must be non-negative and finite, got {v}"));
            }
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(format!("vqgraph.tau must be positive and finite, got {}", self.tau));
        }
        let counts = [
            ("codebook_size", self.codebook_size),
            ("edge_batch", self.edge_batch),
            ("batch_size", self.batch_size),
            ("tokenizer_epochs", self.tokenizer_epochs),
            ("epochs", self.epochs),
        ];
        for (name, v) in counts {
            if v == 0 {
                return Err(format!("vqgraph.{name} must be at least 1"));
            }
        }
        if let Some(dim) = self.code_dim.filter(|&d| d <= 0) {
            return Err(format!("vqgraph.code_dim must be positive, got {dim}"));
        }
        Ok(())
    }

    /// Refuses a graph the tokenizer cannot train on: one without edges (it reconstructs
    /// them), or fewer nodes than codes (each code starts as one node's output).
    pub fn check_graph(&self, nodes: usize, edges: usize, name: &str) -> Result<(), String> {
        if edges == 0 {
            return Err(format!(
                "vqgraph: {name} has no edges (a graph-less dataset); VQGraph's tokenizer is a GNN that reconstructs the graph"
            ));
        }
        if self.codebook_size > nodes {
            return Err(format!(
                "vqgraph.codebook_size ({}) exceeds the {nodes} nodes {name} trains the tokenizer on; set it to {nodes} or fewer",
                self.codebook_size
            ));
        }
        Ok(())
    }
}
