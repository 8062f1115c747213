//! Neighbour-sampled mini-batch training of graph models, as GraphSAGE and PyTorch Geometric's
//! `NeighborLoader` do it.
//!
//! Each epoch walks the seed nodes in shuffled batches ([`NeighborLoader`], sampling one batch
//! ahead on a thread). For a batch, the sampler draws up to `fanouts[h]` neighbours per node and
//! hop; only the feature rows of the nodes it reached are gathered, the blocks become the matrices
//! every model reads ([`block_adjacency`](gdistill_models::block_adjacency): GCN's normalisation
//! rescaled to an unbiased estimate of the full `A_hat` row), and the model runs layer by layer on
//! them ([`NodeModel::forward_blocks_t`]), giving
//! logits for the seeds alone. One Adam step per batch. After each epoch the whole graph is
//! evaluated ([`predict`]) for validation accuracy, with the early stopping and best-weights
//! restore of full-batch [`train`](crate::training::train).
//!
//! The [`Objective`] is [`train`](crate::training::train)'s, on the batch:
//!
//! - labels: cross-entropy on the batch's seeds, which are training nodes;
//! - a teacher term (soft targets or logit matching): the seeds are ALL nodes (the transfer set)
//!   and the term is taken on the teacher logits' rows of the batch; the label term, weighted by
//!   `alpha`, on the batch's training nodes (omitted in a batch without any);
//! - LSP: on the last block's sampled edges (each seed's local structure over its sampled
//!   neighbours, plus itself when the objective's edge list holds self-loops), the teacher's
//!   hidden rows gathered for the block's nodes.
//!
//! Runs are seeded: the weights and dropout follow `settings.seed` (as in full-batch training),
//! the shuffle and the samples of epoch `e` follow `settings.seed + e`; on the CPU the same seed
//! gives the same weights.
//!
//! Features are gathered from where they already are: a dense feature matrix on the device (the
//! one [`GraphData`] holds for evaluation) by an index on the device, sparse features from the
//! dataset's host CSR rows.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use gdistill_datasets::NodeDataset;
use gdistill_graph::{NeighborLoader, NeighborSampler, SampledBatch};
use gdistill_models::{
    full_degrees, record_sparse_products, sampled_block_matrices_with, BlockNorm, ModelConfig, ModelError, ModelOutput,
    NodeFeatures, NodeModel, SparseMatrix,
};
use serde::{Deserialize, Serialize};
use sprs::CsMat;
use tch::{nn, nn::OptimizerConfig, Device, Tensor};

use crate::losses::lsp::{lsp_loss_to, EdgeList, TeacherStructure};
use crate::losses::{cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss_from_log_probs};
use crate::training::early_stopping::EarlyStopping;
use crate::training::epoch_terms::EpochTerms;
use crate::{
    accuracy_tensor, checked_hidden_index, predict, EpochStats, GraphData, Objective, TeacherTarget, TrainConfig,
    TrainError, Trained,
};

/// How batches are sampled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerConfig {
    /// Neighbours drawn per node at each hop, the hop nearest the seeds first (PyG's
    /// `num_neighbors`): one per model layer. [`NeighborSampler::ALL`] takes every neighbour.
    pub fanouts: Vec<usize>,
    /// Seed nodes per batch (the last batch of an epoch may hold fewer).
    pub batch_size: usize,
    /// The values of a GCN block: `unbiased` (rescaled full-graph values) or `block` (GCN's
    /// normalisation recomputed on the block, PyTorch Geometric's); see [`BlockNorm`].
    #[serde(default, skip_serializing_if = "BlockNorm::is_unbiased")]
    pub norm: BlockNorm,
}

impl SamplerConfig {
    /// Parses a fan-out list such as `15,10`; `all` (or `-1`) takes every neighbour of a hop.
    ///
    /// ```
    /// use gdistill_distill::sampled::SamplerConfig;
    /// use gdistill_graph::NeighborSampler;
    /// assert_eq!(SamplerConfig::parse_fanouts("15, 10").unwrap(), vec![15, 10]);
    /// assert_eq!(SamplerConfig::parse_fanouts("all,5").unwrap(), vec![NeighborSampler::ALL, 5]);
    /// assert!(SamplerConfig::parse_fanouts("15,0").is_err());
    /// assert!(SamplerConfig::parse_fanouts("").is_err());
    /// ```
    pub fn parse_fanouts(text: &str) -> Result<Vec<usize>, String> {
        let fanouts = text
            .split(',')
            .map(str::trim)
            .map(|part| match part.to_ascii_lowercase().as_str() {
                "all" | "-1" => Ok(NeighborSampler::ALL),
                _ => part.parse::<usize>().map_err(|_| {
                    format!("fan-out '{part}' in '{text}' is not a whole number of neighbours (or 'all')")
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_fanouts(&fanouts)?;
        Ok(fanouts)
    }

    /// Checks the settings against a model of `layers` layers and an epoch over `seeds` seed
    /// nodes (`what` names them in the message: "training", "transfer-set").
    pub fn validate(&self, layers: usize, seeds: usize, what: &str) -> Result<(), String> {
        check_fanouts(&self.fanouts)?;
        if self.fanouts.len() != layers {
            return Err(format!(
                "{} fan-out(s) {} for a model of {layers} layer(s): give one fan-out per layer",
                self.fanouts.len(),
                show_fanouts(&self.fanouts)
            ));
        }
        if self.batch_size == 0 {
            return Err("the batch size must be at least 1 seed node".into());
        }
        if self.batch_size > seeds {
            return Err(format!(
                "batch size {} is larger than the {seeds} {what} nodes an epoch iterates over: use at most {seeds}",
                self.batch_size
            ));
        }
        Ok(())
    }
}

fn check_fanouts(fanouts: &[usize]) -> Result<(), String> {
    if fanouts.is_empty() {
        return Err("the sampler needs one fan-out per model layer, got none".into());
    }
    if let Some(hop) = fanouts.iter().position(|&f| f == 0) {
        return Err(format!(
            "fan-out must be at least 1, got 0 for hop {hop} of {} ('all' takes every neighbour)",
            show_fanouts(fanouts)
        ));
    }
    Ok(())
}

fn show_fanouts(fanouts: &[usize]) -> String {
    let parts: Vec<String> =
        fanouts.iter().map(|&f| if f == NeighborSampler::ALL { "all".into() } else { f.to_string() }).collect();
    parts.join(",")
}

/// Trains a fresh model of `config` on sampled blocks when there is a `sampler` and the model
/// reads the graph ([`train_sampled`]; a graph-less model needs no sampler: its full batch is
/// already small), else full-batch on `data` ([`crate::train`]).
pub fn train_sampled_or_full(
    config: &ModelConfig,
    dataset: &NodeDataset,
    data: &GraphData,
    objective: &Objective,
    settings: &TrainConfig,
    sampler: Option<&SamplerConfig>,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    match sampler {
        Some(sampler) if config.arch.uses_graph() => {
            train_sampled(config, dataset, data, objective, settings, sampler, on_epoch)
        }
        _ => crate::train(config, data, objective, settings, on_epoch),
    }
}

/// Trains a fresh model of `config` on neighbour-sampled batches of `dataset`'s graph (see the
/// module documentation). `dataset` holds the graph and the features as the model reads them
/// (preprocessed like `data`'s); `data` is the same dataset on the device, for labels, the split
/// and evaluation. `on_epoch` sees every epoch.
pub fn train_sampled(
    config: &ModelConfig,
    dataset: &NodeDataset,
    data: &GraphData,
    objective: &Objective,
    settings: &TrainConfig,
    sampler: &SamplerConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    check_inputs(config, dataset, data, objective)?;
    settings.validate().map_err(TrainError::Config)?;
    objective.validate().map_err(TrainError::Config)?;
    if objective.gcrd.is_some() {
        return Err(TrainError::Config("G-CRD trains full-batch; it does not combine with a sampler".into()));
    }
    let params = config.num_params();
    let what = format!("training a {} with hidden widths {:?} ({params} parameters)", config.arch, config.hidden);
    gdistill_datasets::limits::check_memory(&what, 16 * params.max(0) as u128).map_err(TrainError::TooLarge)?;

    let n = dataset.num_nodes();
    let train_nodes = host_indices(&data.train)?;
    let (seeds, seed_kind) = match objective.teacher {
        Some(_) => ((0..n).collect::<Vec<_>>(), "transfer-set (all)"),
        None => (train_nodes.clone(), "training"),
    };
    sampler.validate(config.hidden.len() + 1, seeds.len(), seed_kind).map_err(TrainError::Config)?;
    let node_sampler = NeighborSampler::new(sampler.fanouts.clone()).map_err(|e| TrainError::Config(e.to_string()))?;
    if dataset.graph.csr().data().iter().any(|&w| w != 1.0) {
        return Err(TrainError::Config(
            "neighbour sampling rescales GCN's normalisation by edge counts: the graph must be unweighted".into(),
        ));
    }

    let start = Instant::now();
    let device = data.device;
    let graph = Arc::new(dataset.graph.clone());
    let degree = full_degrees(&graph);
    let rows = FeatureRows::new(dataset, data);
    let mut is_train = vec![false; n];
    for &v in &train_nodes {
        is_train[v] = true;
    }
    let teacher = BatchTeacher::new(objective);

    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(device);
    let model = config.build(&vs.root())?;
    let mut opt = nn::Adam::default().build(&vs, settings.lr).map_err(ModelError::from)?;
    let weights = model.weights();
    let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
    let mut stopping = EarlyStopping::selecting(&vs, settings.patience, settings.select);
    let mut epochs_run = 0;

    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let loader = NeighborLoader::new(
            Arc::clone(&graph),
            node_sampler.clone(),
            seeds.clone(),
            sampler.batch_size,
            true,
            settings.seed.wrapping_add(epoch as u64),
        )
        .map_err(|e| TrainError::Config(e.to_string()))?;
        // Each term's sum over the epoch's seeds, on the device: read once, after the epoch.
        let mut sums = EpochTerms::default();
        for batch in loader {
            let x = rows.gather(&batch.n_id)?;
            let blocks = sampled_block_matrices_with(&batch, &degree, sampler.norm, device)?;
            let (out, tape) = record_sparse_products(|| model.forward_blocks_t(&x, &blocks, true));
            let out = out?;
            let mut terms = teacher.loss_terms(objective, &out, &batch, &is_train, data, epoch)?;
            if let Some(penalty) = l2_penalty(decayed, settings.weight_decay) {
                terms.push(("weight decay", penalty));
            }
            let loss = terms.iter().map(|(_, t)| t.shallow_clone()).reduce(|a, b| a + b).expect("at least one term");
            opt.zero_grad();
            tape.backward(&loss).map_err(ModelError::from)?;
            if let Some(max) = settings.clip_grad_norm {
                opt.clip_grad_norm(max);
            }
            opt.step();
            sums.add(terms, batch.seeds.len() as f64);
        }
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        let step_seconds = step_start.elapsed().as_secs_f64();

        let eval_start = Instant::now();
        let (val_acc, val_loss) = validation(model.as_ref(), data)?;
        let loss = sums.loss_per_node(seeds.len(), epoch, settings.lr)?;
        let eval_seconds = eval_start.elapsed().as_secs_f64();
        let stop = stopping.record(epoch, val_acc, val_loss, false);
        let best_val_acc = stopping.best_acc;
        on_epoch(&EpochStats { epoch, loss, val_acc, best_val_acc, step_seconds, eval_seconds });
        if stop {
            break;
        }
    }
    let best_epoch = stopping.best_epoch;
    let best_val_acc = stopping.restore();
    Ok(Trained { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: start.elapsed().as_secs_f64() })
}

/// Validation accuracy and loss of a full-graph forward, as full-batch training computes them.
pub(crate) fn validation(model: &dyn NodeModel, data: &GraphData) -> Result<(f64, f64), TrainError> {
    let logits = predict(model, data);
    let val_loss =
        tch::no_grad(|| cross_entropy(&logits.index_select(0, &data.val), &data.labels.index_select(0, &data.val)));
    let figures = Tensor::stack(&[accuracy_tensor(&logits, &data.labels, &data.val), val_loss], 0);
    let figures = Vec::<f32>::try_from(figures.to_device(Device::Cpu)).map_err(ModelError::from)?;
    Ok((f64::from(figures[0]), f64::from(figures[1])))
}

/// The teacher's contribution to a batch's loss: its constants computed once.
pub(crate) struct BatchTeacher {
    /// `log softmax(teacher logits / T)`, every node.
    log_probs: Option<Tensor>,
    /// Whether the LSP edge list holds self-loops (then each seed's structure includes itself).
    lsp_self_loops: bool,
}

impl BatchTeacher {
    pub(crate) fn new(objective: &Objective) -> BatchTeacher {
        tch::no_grad(|| BatchTeacher {
            log_probs: match &objective.teacher {
                Some(TeacherTarget::SoftTargets { teacher_logits, temperature }) => {
                    Some((teacher_logits / *temperature).log_softmax(-1, teacher_logits.kind()))
                }
                _ => None,
            },
            lsp_self_loops: objective.lsp.as_ref().is_some_and(|l| {
                !l.edges.is_empty() && l.edges.centre.eq_tensor(&l.edges.neighbour).any().int64_value(&[]) != 0
            }),
        })
    }

    /// The objective's label and teacher terms on the batch of nodes `seeds` (`logits` one row
    /// each, in that order); `hard` is the cross-entropy on the batch's training nodes, `None`
    /// when it holds none. Shared by neighbour-sampled training and NOSMOG's mini-batches.
    pub(crate) fn label_and_teacher_terms(
        &self,
        objective: &Objective,
        logits: &Tensor,
        seeds: &Tensor,
        hard: Option<Tensor>,
    ) -> Vec<(&'static str, Tensor)> {
        let alpha = objective.alpha;
        let mut terms = Vec::with_capacity(3);
        match &objective.teacher {
            None => terms.push(("labels", hard.expect("an epoch over training nodes has training seeds"))),
            Some(target) => {
                if let Some(hard) = hard.filter(|_| alpha > 0.0) {
                    terms.push(("labels", hard * alpha));
                }
                match target {
                    TeacherTarget::SoftTargets { temperature, .. } => {
                        let q = self.log_probs.as_ref().expect("computed for soft targets").index_select(0, seeds);
                        let soft = soft_target_loss_from_log_probs(logits, &q, *temperature);
                        terms.push(("soft targets", soft * (1.0 - alpha)));
                    }
                    TeacherTarget::LogitMatching { teacher_logits } => {
                        let matching = logit_matching_loss(logits, &teacher_logits.index_select(0, seeds));
                        terms.push(("logit matching", matching * (1.0 - alpha)));
                    }
                }
            }
        }
        terms
    }

    /// The weighted terms of the objective on one batch, named as full-batch training names them.
    fn loss_terms(
        &self,
        objective: &Objective,
        out: &ModelOutput,
        batch: &SampledBatch,
        is_train: &[bool],
        data: &GraphData,
        epoch: usize,
    ) -> Result<Vec<(&'static str, Tensor)>, TrainError> {
        let device = data.device;
        let seeds = index_tensor(&batch.seeds, device);
        // Local positions (and global ids) of the batch's training nodes.
        let (positions, train_ids): (Vec<usize>, Vec<usize>) =
            batch.seeds.iter().enumerate().filter(|(_, &v)| is_train[v]).map(|(k, &v)| (k, v)).unzip();
        let hard = (!positions.is_empty()).then(|| {
            let labels = data.labels.index_select(0, &index_tensor(&train_ids, device));
            cross_entropy(&out.logits.index_select(0, &index_tensor(&positions, device)), &labels)
        });
        let mut terms = self.label_and_teacher_terms(objective, &out.logits, &seeds, hard);
        if let Some(lsp) = objective.lsp.as_ref().filter(|l| l.until_epoch.is_none_or(|e| epoch < e)) {
            let last = batch.blocks.last().expect("a batch has at least one block");
            let mut pairs: Vec<(usize, usize)> = last.edges().map(|(src, dst)| (dst, src)).collect();
            if self.lsp_self_loops {
                pairs.extend((0..last.num_dst).map(|k| (k, k)));
            }
            let edges = EdgeList::new(&pairs, last.num_src, device).map_err(TrainError::Mismatch)?;
            let nodes = index_tensor(&batch.n_id[..last.num_src], device);
            let structure = TeacherStructure::new(&lsp.teacher_hidden.index_select(0, &nodes), &edges, lsp.kernel);
            let layer = checked_hidden_index(lsp.student_layer, out.hidden.len()).expect("checked before training");
            let student = out.hidden[layer].narrow(0, 0, last.num_src as i64);
            terms.push(("LSP", lsp_loss_to(&student, &structure, &edges, lsp.kernel, lsp.direction) * lsp.weight));
        }
        Ok(terms)
    }
}

/// Where a batch's feature rows come from.
enum FeatureRows<'a> {
    /// Dense features already on the device: rows gathered there.
    Device(&'a Tensor),
    /// Sparse features: the dataset's host CSR rows, copied to the device per batch.
    Host { features: Cow<'a, CsMat<f32>>, device: Device },
}

impl<'a> FeatureRows<'a> {
    fn new(dataset: &'a NodeDataset, data: &'a GraphData) -> FeatureRows<'a> {
        match &data.features {
            NodeFeatures::Dense(x) => FeatureRows::Device(x),
            NodeFeatures::Sparse(_) => {
                let features = if dataset.features.is_csr() {
                    Cow::Borrowed(&dataset.features)
                } else {
                    Cow::Owned(dataset.features.to_csr())
                };
                FeatureRows::Host { features, device: data.device }
            }
        }
    }

    /// The rows `nodes`, in order, as the model's input.
    fn gather(&self, nodes: &[usize]) -> Result<NodeFeatures, ModelError> {
        match self {
            FeatureRows::Device(x) => Ok(NodeFeatures::Dense(x.index_select(0, &index_tensor(nodes, x.device())))),
            FeatureRows::Host { features, device } => {
                let (mut indptr, mut indices, mut values) =
                    (Vec::with_capacity(nodes.len() + 1), Vec::new(), Vec::new());
                indptr.push(0);
                for &v in nodes {
                    if let Some(row) = features.outer_view(v) {
                        indices.extend_from_slice(row.indices());
                        values.extend_from_slice(row.data());
                    }
                    indptr.push(indices.len());
                }
                let shape = (nodes.len(), features.cols());
                Ok(NodeFeatures::Sparse(SparseMatrix::from_csr(&indptr, &indices, &values, shape, *device)?))
            }
        }
    }
}

fn index_tensor(nodes: &[usize], device: Device) -> Tensor {
    Tensor::from_slice(&nodes.iter().map(|&v| v as i64).collect::<Vec<_>>()).to(device)
}

fn host_indices(t: &Tensor) -> Result<Vec<usize>, TrainError> {
    let v: Vec<i64> = Vec::try_from(t.to_device(Device::Cpu)).map_err(ModelError::from)?;
    Ok(v.into_iter().map(|i| i as usize).collect())
}

/// The shapes full-batch training checks, and that `dataset` and `data` are the same graph.
fn check_inputs(
    config: &ModelConfig,
    dataset: &NodeDataset,
    data: &GraphData,
    objective: &Objective,
) -> Result<(), TrainError> {
    let mismatch = |m: String| Err(TrainError::Mismatch(m));
    let n = dataset.num_nodes() as i64;
    if data.num_nodes() != n || data.num_features() != dataset.num_features() as i64 {
        return mismatch(format!(
            "the dataset ({n} nodes, {} features) and the device data ({} nodes, {} features) differ",
            dataset.num_features(),
            data.num_nodes(),
            data.num_features()
        ));
    }
    // The checks full-batch training makes: feature and class counts, teacher logits, LSP.
    crate::training::train::check_shapes(config, data, objective)?;
    if data.train.numel() == 0 && objective.teacher.is_none() {
        return Err(TrainError::Config("training from labels needs training nodes, and the split has none".into()));
    }
    Ok(())
}
