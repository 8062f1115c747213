//! Mini-batch training of a graph-less MLP student from stored soft targets.
//!
//! Once a teacher's logits on every node are stored ([`crate::training::chunked`], `gdistill
//! soft-targets`), an MLP student needs neither the graph nor the teacher: each step reads a batch
//! of node feature rows and the same rows of the teacher's tempered distribution. Memory on the
//! device is one batch, whatever the size of the graph (GLNN, Zhang et al. ICLR 2022, trains its
//! students this way). The objective is [`crate::Objective::soft_targets`]'s on the batch:
//! `alpha * CE(labels of the batch's training nodes) + (1 - alpha) * T^2 KL`; validation
//! accuracy picks the epoch whose weights are kept, as in full-batch training.

use std::time::Instant;

use gdistill_datasets::NodeDataset;
use gdistill_models::{Arch, ModelConfig, ModelError, NodeFeatures, SparseMatrix};
use sprs::CsMat;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use crate::losses::{blend, cross_entropy, soft_target_loss_from_log_probs};
use crate::training::early_stopping::EarlyStopping;
use crate::{EpochStats, TrainConfig, TrainError, Trained};

/// The distillation settings of a mini-batch run.
#[derive(Clone, Copy, Debug)]
pub struct SoftTargetBatches {
    pub batch_size: usize,
    pub temperature: f64,
    /// Weight of the hard-label term, on the batch's training nodes.
    pub alpha: f64,
    /// How an epoch walks the nodes.
    pub epoch: EpochShape,
}

/// How an epoch of the mini-batch student walks the nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpochShape {
    /// One shuffled pass over every node; each batch's loss is `alpha * CE` on its training
    /// nodes plus `(1 - alpha) * KD` on all of them; the last batch may be short.
    #[default]
    Mixed,
    /// GLNN's code (`distill_run_transductive`, `train_mini_batch`): first a pass over the
    /// training nodes with `alpha * CE`, then a pass over every node with `(1 - alpha) * KD`,
    /// each in `max(1, n / batch)` full batches of a fresh permutation (the rest of the nodes
    /// sit the epoch out). With `alpha = 0` the first pass still takes its optimiser steps on a
    /// zero loss, so weight decay (coupled into Adam's gradient) and Adam's moments move the
    /// weights once per labelled batch. Not in GLNN's paper; here to measure what its published
    /// figures owe to it.
    Glnn,
}

impl EpochShape {
    /// Whether this is the default (a config leaves it out).
    pub fn is_mixed(&self) -> bool {
        *self == EpochShape::Mixed
    }
}

impl std::str::FromStr for EpochShape {
    type Err = String;
    fn from_str(s: &str) -> Result<EpochShape, String> {
        match s {
            "mixed" => Ok(EpochShape::Mixed),
            "glnn" => Ok(EpochShape::Glnn),
            _ => Err(format!("unknown epoch shape {s:?}: mixed or glnn")),
        }
    }
}

/// What a step's loss is made of.
#[derive(Clone, Copy)]
enum Term {
    /// `alpha * CE` on the batch's training nodes plus `(1 - alpha) * KD` on all.
    Mixed,
    /// `alpha * CE` on the batch (all training nodes).
    Labels,
    /// `(1 - alpha) * KD` on the batch.
    Soft,
}

/// GLNN's batches of one pass: `max(1, len / size)` batches of `size` from `order`, or one of
/// all of `order` when it is shorter than a batch; the remainder is left out.
pub fn glnn_batches(order: &[i64], size: usize) -> std::slice::Chunks<'_, i64> {
    let count = (order.len() / size).max(1);
    order[..order.len().min(count * size)].chunks(size)
}

/// Trains an MLP of `config` on `dataset`'s features against `teacher_logits` (`[N, C]`, any
/// device) in shuffled mini-batches over all nodes. Only `weight_decay` on every layer, no
/// early-stopping patience differences: `settings` means what it means for [`crate::train`].
pub fn train_mlp_on_soft_targets(
    config: &ModelConfig,
    dataset: &NodeDataset,
    teacher_logits: &Tensor,
    device: Device,
    settings: &TrainConfig,
    batches: SoftTargetBatches,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    let n = dataset.num_nodes();
    if config.arch != Arch::Mlp {
        return Err(TrainError::Config("mini-batch training from soft targets needs a graph-less model (mlp)".into()));
    }
    if teacher_logits.size() != [n as i64, dataset.num_classes as i64]
        || config.in_features != dataset.num_features() as i64
    {
        return Err(TrainError::Mismatch(format!(
            "soft targets {:?} and a model of {} inputs do not fit a dataset of {n} nodes, {} features, {} classes",
            teacher_logits.size(),
            config.in_features,
            dataset.num_features(),
            dataset.num_classes
        )));
    }
    if batches.batch_size == 0 || !(0.0..=1.0).contains(&batches.alpha) {
        return Err(TrainError::Config(format!(
            "batch size must be at least 1 and alpha in [0, 1], got {} and {}",
            batches.batch_size, batches.alpha
        )));
    }
    if !(batches.temperature.is_finite() && batches.temperature > 0.0) {
        return Err(TrainError::Config(format!(
            "the temperature must be positive and finite, got {}",
            batches.temperature
        )));
    }
    settings.validate().map_err(TrainError::Config)?;
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(device);
    let model = config.build(&vs.root())?;
    let mut opt = nn::Adam::default().build(&vs, settings.lr).map_err(ModelError::from)?;
    opt.set_weight_decay(settings.weight_decay);
    let features = dataset.features.to_csr();
    let q = tch::no_grad(|| (teacher_logits / batches.temperature).log_softmax(-1, Kind::Float).to(Device::Cpu));
    let labels = Tensor::from_slice(&dataset.labels.iter().map(|&y| y as i64).collect::<Vec<_>>());
    let mut is_train = vec![false; n];
    for &i in &dataset.train {
        is_train[i] = true;
    }
    let is_train = Tensor::from_slice(&is_train);
    let val: Vec<usize> = dataset.val.clone();
    let val_labels = labels.index_select(0, &index(&val)).to(device);
    // the MLP never reads a graph: one empty one serves every batch
    let no_graph = SparseMatrix::empty(0, device)?;
    let mut stopping = EarlyStopping::selecting(&vs, settings.patience, settings.select);
    let mut epochs_run = 0;

    let train_ids: Vec<i64> = dataset.train.iter().map(|&i| i as i64).collect();
    let permutation = |len: usize| -> Result<Vec<i64>, TrainError> {
        let order = Tensor::randperm(len as i64, (Kind::Int64, Device::Cpu));
        Ok(Vec::try_from(&order).map_err(ModelError::from)?)
    };
    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        // (batch of node ids, what its loss is)
        let mut steps: Vec<(Vec<i64>, Term)> = Vec::new();
        match batches.epoch {
            EpochShape::Mixed => {
                let order = permutation(n)?;
                steps.extend(order.chunks(batches.batch_size).map(|b| (b.to_vec(), Term::Mixed)));
            }
            EpochShape::Glnn => {
                if !train_ids.is_empty() {
                    let order: Vec<i64> =
                        permutation(train_ids.len())?.iter().map(|&k| train_ids[k as usize]).collect();
                    steps.extend(glnn_batches(&order, batches.batch_size).map(|b| (b.to_vec(), Term::Labels)));
                }
                let order = permutation(n)?;
                steps.extend(glnn_batches(&order, batches.batch_size).map(|b| (b.to_vec(), Term::Soft)));
            }
        }
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for (batch, term) in &steps {
            let nodes: Vec<usize> = batch.iter().map(|&i| i as usize).collect();
            let rows = index(&nodes);
            let x = dense_rows(&features, &nodes, device);
            let logits = model.forward_t(&x, &no_graph, true).logits;
            let soft =
                || soft_target_loss_from_log_probs(&logits, &q.index_select(0, &rows).to(device), batches.temperature);
            let hard_on = |t: &Tensor| {
                let t = t.to(device);
                cross_entropy(
                    &logits.index_select(0, &t),
                    &labels.index_select(0, &rows).to(device).index_select(0, &t),
                )
            };
            let loss = match term {
                Term::Mixed => {
                    let train_rows = is_train.index_select(0, &rows).nonzero().view([-1]);
                    if batches.alpha > 0.0 && train_rows.size()[0] > 0 {
                        blend(batches.alpha, hard_on(&train_rows), soft())
                    } else {
                        soft() * (1.0 - batches.alpha)
                    }
                }
                // Multiplied, not skipped, when alpha is 0: GLNN's step then still happens.
                Term::Labels => {
                    hard_on(&Tensor::arange(nodes.len() as i64, (Kind::Int64, Device::Cpu))) * batches.alpha
                }
                Term::Soft => soft() * (1.0 - batches.alpha),
            };
            opt.zero_grad();
            loss.backward();
            if let Some(max) = settings.clip_grad_norm {
                opt.clip_grad_norm(max);
            }
            opt.step();
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return Err(TrainError::NonFiniteLoss {
                    epoch: epoch + 1,
                    value,
                    term: "soft targets",
                    lr: settings.lr,
                });
            }
            loss_sum += value * nodes.len() as f64;
            seen += nodes.len();
        }
        let step_seconds = step_start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let (val_acc, val_loss) = if val.is_empty() {
            (0.0, 0.0)
        } else {
            let x = dense_rows(&features, &val, device);
            let logits = tch::no_grad(|| model.forward_t(&x, &no_graph, false).logits);
            let acc = logits.argmax(-1, false).eq_tensor(&val_labels).to_kind(Kind::Double).mean(Kind::Double);
            (acc.double_value(&[]), tch::no_grad(|| cross_entropy(&logits, &val_labels)).double_value(&[]))
        };
        let eval_seconds = eval_start.elapsed().as_secs_f64();
        let stop = stopping.record(epoch, val_acc, val_loss, false);
        let loss = loss_sum / seen.max(1) as f64;
        on_epoch(&EpochStats { epoch, loss, val_acc, best_val_acc: stopping.best_acc, step_seconds, eval_seconds });
        if stop {
            break;
        }
    }
    let best_epoch = stopping.best_epoch;
    let best_val_acc = stopping.restore();
    Ok(Trained { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: start.elapsed().as_secs_f64() })
}

fn index(nodes: &[usize]) -> Tensor {
    Tensor::from_slice(&nodes.iter().map(|&i| i as i64).collect::<Vec<_>>())
}

/// Feature rows `nodes` of a CSR feature matrix as a dense `[len, F]` tensor on `device`: a
/// mini-batch's inputs (also the data-parallel student's, src/cmd/mpi/student.rs).
pub fn dense_rows(features: &CsMat<f32>, nodes: &[usize], device: Device) -> NodeFeatures {
    let cols = features.cols();
    let mut dense = vec![0f32; nodes.len() * cols];
    for (r, &node) in nodes.iter().enumerate() {
        if let Some(row) = features.outer_view(node) {
            for (j, &v) in row.iter() {
                dense[r * cols + j] = v;
            }
        }
    }
    NodeFeatures::Dense(Tensor::from_slice(&dense).view([nodes.len() as i64, cols as i64]).to(device))
}
