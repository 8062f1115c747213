//! What every node classifier exposes: logits, hidden features, and its configuration.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::{dropout, Appnp, Gat, Gcn, Mlp, ModelError, NodeFeatures, Project, Sage, SparseMatrix};

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

    /// The forward pass on a neighbour-sampled batch: layer `l` reads `blocks[l]` (a
    /// [`crate::block_adjacency`] matrix, destinations a prefix of sources) in place of the graph,
    /// `x` holds one row per source of `blocks[0]`, and the logits are the last block's
    /// destinations (the seeds). `hidden[l]` holds block `l`'s destination rows. With every
    /// neighbour sampled this equals `forward_t`'s rows for those nodes.
    ///
    /// Families that cannot sample (APPNP's K-hop propagation) refuse, as does a stack of blocks
    /// that does not fit the model or the input.
    fn forward_blocks_t(
        &self,
        x: &NodeFeatures,
        blocks: &[SparseMatrix],
        train: bool,
    ) -> Result<ModelOutput, ModelError> {
        let _ = (x, blocks, train);
        let arch = self.config().arch;
        let why = match arch {
            Arch::Appnp => {
                ": its K propagation steps read every node within K hops, which neighbour sampling does not \
                 give (train it full-batch)"
            }
            _ => "",
        };
        Err(ModelError::Config(format!("{arch} does not train on sampled blocks{why}")))
    }
}

/// One layer of a stack: how it reads its input (the graph may be ignored).
pub(crate) trait StackLayer {
    fn apply(&self, x: &impl Project, a_hat: &SparseMatrix) -> Tensor;
}

/// The forward pass GCN and MLP share: dropout on the input (`p.input`), the first layer,
/// then for each further layer ReLU, dropout (`p.hidden`) and the layer; the ReLU outputs are
/// the hidden features.
pub(crate) fn forward_stack<L: StackLayer>(
    layers: &[L],
    x: &NodeFeatures,
    a_hat: &SparseMatrix,
    p: Dropouts,
    train: bool,
) -> ModelOutput {
    let (first, rest) = layers.split_first().expect("a model has at least one layer");
    let mut h = first.apply(&x.dropout(p.input, train), a_hat);
    let mut hidden = Vec::with_capacity(rest.len());
    for layer in rest {
        let z = h.relu();
        h = layer.apply(&dropout(&z, p.hidden, train), a_hat);
        hidden.push(z);
    }
    ModelOutput { logits: h, hidden }
}

/// [`forward_stack`] on sampled blocks: layer `l` reads `blocks[l]`, and its output keeps
/// only that block's destination rows (a layer that ignores the graph computes every row it is
/// given; destinations are a prefix, so the first rows are the ones wanted).
pub(crate) fn forward_stack_blocks<L: StackLayer>(
    layers: &[L],
    x: &NodeFeatures,
    blocks: &[SparseMatrix],
    p: Dropouts,
    train: bool,
) -> Result<ModelOutput, ModelError> {
    crate::block::check_blocks(x, blocks, layers.len())?;
    let destinations = |h: Tensor, block: &SparseMatrix| {
        if h.size()[0] > block.rows() {
            h.narrow(0, 0, block.rows())
        } else {
            h
        }
    };
    let mut h = destinations(layers[0].apply(&x.dropout(p.input, train), &blocks[0]), &blocks[0]);
    let mut hidden = Vec::with_capacity(layers.len() - 1);
    for (layer, block) in layers[1..].iter().zip(&blocks[1..]) {
        let z = h.relu();
        h = destinations(layer.apply(&dropout(&z, p.hidden, train), block), block);
        hidden.push(z);
    }
    Ok(ModelOutput { logits: h, hidden })
}

/// The dropout rates of a layer stack: on its input features and on its hidden layers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dropouts {
    pub input: f64,
    pub hidden: f64,
}

impl ModelConfig {
    /// Where this model drops: the options' `input_dropout` on the input (else `dropout`),
    /// `dropout` on the hidden layers.
    pub(crate) fn dropouts(&self) -> Dropouts {
        Dropouts { input: self.options.input_dropout.unwrap_or(self.dropout), hidden: self.dropout }
    }
}

/// Which architecture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Sparse-matrix GCN (Kipf & Welling 2017).
    #[default]
    Gcn,
    /// Graph-less MLP: reads node features only.
    Mlp,
    /// GraphSAGE with the mean aggregator (Hamilton et al. 2017).
    Sage,
    /// Graph attention network (Velickovic et al. 2018).
    Gat,
    /// Predict then propagate: an MLP and personalised PageRank (Klicpera et al. 2019).
    Appnp,
}

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::Gcn, Arch::Mlp, Arch::Sage, Arch::Gat, Arch::Appnp];

    /// Whether the model reads the graph.
    pub fn uses_graph(self) -> bool {
        self != Arch::Mlp
    }
}

impl std::str::FromStr for Arch {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Arch, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "gcn" => Ok(Arch::Gcn),
            "mlp" => Ok(Arch::Mlp),
            "sage" | "graphsage" => Ok(Arch::Sage),
            "gat" => Ok(Arch::Gat),
            "appnp" => Ok(Arch::Appnp),
            other => Err(ModelError::Config(format!("unknown model '{other}': use gcn, mlp, sage, gat or appnp"))),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Gcn => "gcn",
            Arch::Mlp => "mlp",
            Arch::Sage => "sage",
            Arch::Gat => "gat",
            Arch::Appnp => "appnp",
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
    /// Settings only some families read (heads, propagation steps, ...); absent in checkpoints
    /// written before those families existed.
    #[serde(default)]
    pub options: ArchOptions,
}

/// Family-specific settings, each read only by the family it names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchOptions {
    /// GAT: attention heads of each hidden layer (concatenated).
    pub heads: i64,
    /// GAT: heads of the output layer (averaged).
    pub output_heads: i64,
    /// GAT: dropout on the attention coefficients.
    pub attention_dropout: f64,
    /// APPNP: propagation steps `K`.
    pub steps: usize,
    /// APPNP: teleport probability `alpha`.
    pub teleport: f64,
    /// SAGE: L2-normalise each layer's output rows.
    pub normalize: bool,
    /// SAGE: how a layer combines a node with its neighbours.
    pub aggregator: SageAggregator,
    /// GCN, SAGE, MLP, APPNP: dropout on the input features, where it differs from the
    /// model's `dropout` (which then falls on the hidden layers alone). Kipf and Welling's GCN
    /// and PyTorch Geometric's examples drop inputs at the model's rate (absent: that); GLNN's
    /// SAGE and MLP, the models of its protocol, drop none (0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_dropout: Option<f64>,
}

/// GraphSAGE's aggregators (Hamilton, Ying & Leskovec 2017, section 3.3) that gdistill builds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SageAggregator {
    /// `W_root x_i + W_neigh mean_{j in N(i)} x_j + b`: PyTorch Geometric's `SAGEConv`, whose
    /// separate root weight plays the paper's concatenation.
    #[default]
    Mean,
    /// `W mean({x_i} U {x_j : j in N(i)}) + b`: the paper's GCN aggregator, one weight (DGL's
    /// `SAGEConv(..., "gcn")`, the teacher of GLNN, NOSMOG and VQGraph).
    Gcn,
}

impl std::fmt::Display for SageAggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SageAggregator::Mean => "mean",
            SageAggregator::Gcn => "gcn",
        })
    }
}

impl std::str::FromStr for SageAggregator {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mean" => Ok(SageAggregator::Mean),
            "gcn" => Ok(SageAggregator::Gcn),
            _ => Err(format!("SAGE aggregator '{text}': expected mean or gcn")),
        }
    }
}

impl Default for ArchOptions {
    /// The published recipes: GAT 8 hidden heads, 1 output head, attention dropout 0.6
    /// (Velickovic et al. on Cora); APPNP K = 10, alpha = 0.1 (Klicpera et al.).
    fn default() -> Self {
        ArchOptions {
            heads: 8,
            output_heads: 1,
            attention_dropout: 0.6,
            steps: 10,
            teleport: 0.1,
            normalize: false,
            aggregator: SageAggregator::Mean,
            input_dropout: None,
        }
    }
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
        ModelConfig {
            arch,
            in_features,
            hidden: vec![hidden; layers.saturating_sub(1)],
            num_classes,
            dropout,
            options: ArchOptions::default(),
        }
    }

    /// The same model with other family settings.
    pub fn with_options(mut self, options: ArchOptions) -> ModelConfig {
        self.options = options;
        self
    }

    /// `(in, out)` of each layer as GCN, MLP, SAGE and APPNP build it (GAT's widths are these
    /// times the heads: see [`ModelConfig::num_params`]).
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
        let add = |n: i64, m: i64| n.saturating_add(m);
        let mul = |a: i64, b: i64| a.saturating_mul(b);
        match self.arch {
            Arch::Gcn | Arch::Mlp | Arch::Appnp => {
                self.layer_dims().iter().fold(0, |n, &(i, o)| add(add(n, mul(i, o)), o))
            }
            // Root and neighbour weights (one weight with the GCN aggregator), one bias.
            Arch::Sage => {
                let weights = if self.options.aggregator == SageAggregator::Gcn { 1 } else { 2 };
                self.layer_dims().iter().fold(0, |n, &(i, o)| add(add(n, mul(weights, mul(i, o))), o))
            }
            Arch::Gat => {
                let (mut n, mut input) = (0i64, self.in_features);
                let last = self.hidden.len();
                for (k, &width) in self.hidden.iter().chain(std::iter::once(&self.num_classes)).enumerate() {
                    let heads = if k == last { self.options.output_heads } else { self.options.heads };
                    let projected = mul(heads, width);
                    let bias = if k == last { width } else { projected };
                    // W, a_src and a_dst, the bias.
                    n = add(add(add(n, mul(input, projected)), mul(2, projected)), bias);
                    input = projected;
                }
                n
            }
        }
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
        let o = &self.options;
        if let Some(p) = o.input_dropout {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("input dropout must be in [0, 1), got {p}"));
            }
            if self.arch == Arch::Gat {
                // Its layers drop their own inputs, at `dropout`.
                return bad("input_dropout applies to GCN, SAGE, MLP and APPNP, not to GAT".into());
            }
        }
        match self.arch {
            Arch::Gat if o.heads <= 0 || o.output_heads <= 0 => {
                bad(format!("GAT heads must be positive, got {} hidden and {} output heads", o.heads, o.output_heads))
            }
            Arch::Gat if !(0.0..1.0).contains(&o.attention_dropout) => {
                bad(format!("attention dropout must be in [0, 1), got {}", o.attention_dropout))
            }
            Arch::Appnp if o.steps == 0 => bad("APPNP needs at least one propagation step".into()),
            Arch::Appnp if !(o.teleport > 0.0 && o.teleport <= 1.0) => {
                bad(format!("APPNP's teleport probability must be in (0, 1], got {}", o.teleport))
            }
            _ => Ok(()),
        }
    }

    /// Builds the model's variables under `path` (layer `k` under `path / k`).
    pub fn build(&self, path: &nn::Path) -> Result<Box<dyn NodeModel>, ModelError> {
        self.validate()?;
        Ok(match self.arch {
            Arch::Gcn => Box::new(Gcn::new(path, self.clone())),
            Arch::Mlp => Box::new(Mlp::new(path, self.clone())),
            Arch::Sage => Box::new(Sage::new(path, self.clone())),
            Arch::Gat => Box::new(Gat::new(path, self.clone())),
            Arch::Appnp => Box::new(Appnp::new(path, self.clone())),
        })
    }
}
