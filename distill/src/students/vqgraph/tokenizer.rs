//! VQGraph's graph tokenizer: a VQ-VAE whose encoder is the teacher GNN, trained with it.
//!
//! The teacher (the comparison's family and recipe) reads the graph as usual; its last hidden
//! layer, through a linear encoder head, gives each node's output `z_i` (`code_dim` wide),
//! quantised to its nearest code ([`super::quantize()`]). Two linear decoders read the
//! quantised outputs: one reconstructs the node's features (mean squared error over the
//! entries), one the edges, as `sigmoid(d_i . d_j)` against the adjacency among a random batch
//! of `edge_batch` nodes each epoch (mean squared error over the batch's pairs). The loss is
//! the teacher's cross-entropy on the training labels plus both reconstructions (weighted),
//! the codebook loss and the commitment loss. The teacher's classifier reads its own
//! (unquantised) path, so the trained teacher is a plain model of its family.
//!
//! Full-batch on the training graph (inductively the observed graph: no held-out node or edge
//! is read, the codebook's initial codes included, which are the outputs of `K` distinct
//! random training-graph nodes). The epoch kept is the one of best validation accuracy, with
//! its codebook.

use std::time::Instant;

use gdistill_graph::Graph;
use gdistill_models::{Dense, ModelConfig, ModelError};
use tch::{nn, nn::OptimizerConfig, Kind, Reduction, Tensor};

use super::quantize::{nearest_codes, quantize};
use super::VqgraphConfig;
use crate::losses::lsp::EdgeList;
use crate::losses::{cross_entropy, l2_penalty};
use crate::students::batch_student::dense_features;
use crate::training::early_stopping::EarlyStopping;
use crate::training::epoch_terms::EpochTerms;
use crate::{EpochStats, GraphData, TrainConfig, TrainError, Trained};

/// The tokenizer's own layers beside the teacher: encoder head, codebook, decoders.
struct Heads {
    encoder: Dense,
    codebook: Tensor,
    features: Dense,
    edges: Dense,
}

impl Heads {
    fn new(path: &nn::Path, hidden: i64, code_dim: i64, codes: i64, features: i64) -> Heads {
        Heads {
            encoder: Dense::new(&(path / "encoder"), hidden, code_dim),
            codebook: path.var("codebook", &[codes, code_dim], nn::Init::Randn { mean: 0.0, stdev: 1.0 }),
            features: Dense::new(&(path / "feature_decoder"), code_dim, features),
            edges: Dense::new(&(path / "edge_decoder"), code_dim, code_dim),
        }
    }

    fn encode(&self, hidden: &Tensor) -> Tensor {
        linear(&self.encoder, hidden)
    }
}

fn linear(layer: &Dense, x: &Tensor) -> Tensor {
    x.matmul(&layer.weight) + &layer.bias
}

/// A trained tokenizer: its teacher, and what the students distil from it.
pub struct TrainedTokenizer {
    /// The teacher GNN (its store also holds the tokenizer's heads).
    pub teacher: Trained,
    /// The teacher's logits on every node of the training graph (no dropout).
    pub logits: Tensor,
    /// Every node's encoder output `z_i` (`[N, code_dim]`).
    pub outputs: Tensor,
    /// The codebook (`[K, code_dim]`), detached.
    pub codebook: Tensor,
    /// Each node's nearest code (`[N]`).
    pub codes: Tensor,
}

/// `[B, B]` adjacency among the nodes `batch` (0/1, no self-loops unless `edges` has them).
pub fn batch_adjacency(edges: &EdgeList, batch: &Tensor) -> Tensor {
    let device = batch.device();
    let b = batch.size()[0];
    let position = Tensor::full([edges.num_nodes], -1i64, (Kind::Int64, device)).index_copy(
        0,
        batch,
        &Tensor::arange(b, (Kind::Int64, device)),
    );
    let (c, n) = (position.index_select(0, &edges.centre), position.index_select(0, &edges.neighbour));
    let inside = c.ge(0).logical_and(&n.ge(0)).nonzero().squeeze_dim(1);
    let (c, n) = (c.index_select(0, &inside), n.index_select(0, &inside));
    let ones = Tensor::ones([c.size()[0]], (Kind::Float, device));
    Tensor::zeros([b, b], (Kind::Float, device)).index_put(&[Some(c), Some(n)], &ones, false)
}

/// Trains the teacher `teacher` with the tokenizer of `vq` on `data` (whose graph is `graph`),
/// in the teacher's `settings` but for `vq`'s epochs and patience.
pub fn train_tokenizer(
    teacher: &ModelConfig,
    data: &GraphData,
    graph: &Graph,
    vq: &VqgraphConfig,
    settings: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainedTokenizer, TrainError> {
    vq.check_graph(graph.num_nodes(), graph.num_undirected_edges(), "the training graph")
        .map_err(TrainError::Config)?;
    let Some(&hidden) = teacher.hidden.last() else {
        return Err(TrainError::Config("vqgraph: the tokenizer encodes the teacher's last hidden layer, and this teacher has none (layers 2 or more)".into()));
    };
    let settings =
        TrainConfig { epochs: vq.tokenizer_epochs, patience: Some(vq.tokenizer_patience), ..settings.clone() };
    settings.validate().map_err(TrainError::Config)?;
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let device = data.device;
    let vs = nn::VarStore::new(device);
    let model = teacher.build(&vs.root())?;
    let x = dense_features(data, "VQGraph's tokenizer")?;
    let nodes = data.num_nodes();
    let code_dim = vq.code_dim.unwrap_or(hidden);
    let heads = Heads::new(&(vs.root() / "vqgraph"), hidden, code_dim, vq.codebook_size as i64, x.size()[1]);
    let encode = |train: bool| {
        let out = model.forward_t(&data.features, &data.a_hat, train);
        let z = heads.encode(out.hidden.last().expect("checked: a hidden layer"));
        (out, z)
    };
    // The first codes: the outputs of K distinct random nodes of the training graph.
    tch::no_grad(|| {
        let chosen = Tensor::randperm(nodes, (Kind::Int64, device)).narrow(0, 0, vq.codebook_size as i64);
        heads.codebook.shallow_clone().copy_(&encode(false).1.index_select(0, &chosen));
    });
    let edges = EdgeList::from_graph(graph, false, device);
    let mut opt = nn::Adam::default().build(&vs, settings.lr).map_err(ModelError::from)?;
    let weights = model.weights();
    let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
    let mut stopping = EarlyStopping::selecting(&vs, settings.patience, settings.select);
    let train_labels = data.labels.index_select(0, &data.train);
    let edge_batch = (vq.edge_batch as i64).min(nodes);
    let mut epochs_run = 0;
    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let (out, z) = encode(true);
        let q = quantize(&z, &heads.codebook, vq.beta);
        let x_hat = linear(&heads.features, &q.quantized);
        let batch = Tensor::randperm(nodes, (Kind::Int64, device)).narrow(0, 0, edge_batch);
        let d = linear(&heads.edges, &q.quantized.index_select(0, &batch));
        let a_hat = d.matmul(&d.tr()).sigmoid();
        let mut terms = vec![
            ("labels", cross_entropy(&out.logits.index_select(0, &data.train), &train_labels)),
            ("feature reconstruction", x_hat.mse_loss(&x, Reduction::Mean) * vq.feature_weight),
            ("edge reconstruction", a_hat.mse_loss(&batch_adjacency(&edges, &batch), Reduction::Mean) * vq.edge_weight),
            ("codebook", q.codebook_loss),
            ("commitment", q.commitment_loss),
        ];
        if let Some(penalty) = l2_penalty(decayed, settings.weight_decay) {
            terms.push(("weight decay", penalty));
        }
        let loss = terms.iter().map(|(_, t)| t.shallow_clone()).reduce(|a, b| a + b).expect("terms");
        opt.zero_grad();
        loss.backward();
        if let Some(max) = settings.clip_grad_norm {
            opt.clip_grad_norm(max);
        }
        opt.step();
        let mut sums = EpochTerms::default();
        sums.add(terms, 1.0);
        let step_seconds = step_start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let val = crate::training::sampled::validation(model.as_ref(), data)?;
        let loss = sums.loss_per_node(1, epoch, settings.lr)?;
        if stopping.end_epoch(epoch, loss, val, false, (step_seconds, eval_start), on_epoch) {
            break;
        }
    }
    let best_epoch = stopping.best_epoch;
    let best_val_acc = stopping.restore();
    let (logits, outputs) = tch::no_grad(|| {
        let (out, z) = encode(false);
        (out.logits, z)
    });
    let codebook = heads.codebook.detach().copy();
    let codes = nearest_codes(&outputs, &codebook);
    let train_seconds = start.elapsed().as_secs_f64();
    let teacher = Trained { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds };
    Ok(TrainedTokenizer { teacher, logits, outputs, codebook, codes })
}
