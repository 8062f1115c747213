//! The mini-batch loop shared by the MLP students that distil more than soft targets (NOSMOG,
//! VQGraph): shuffled batches of the nodes training sees, each batch's loss the soft-target term
//! of the `+kd` rows, then the method's own terms ([`BatchTerms`]), then weight decay; early
//! stopping and restore on full-graph validation, as every row.
//!
//! Batches are drawn from every node of the training graph: inductively, the observed graph,
//! so the held-out test nodes never enter a batch.

use std::time::Instant;

use gdistill_models::{ModelConfig, ModelError, ModelOutput, NodeFeatures, NodeModel};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use crate::losses::{cross_entropy, l2_penalty};
use crate::training::early_stopping::EarlyStopping;
use crate::training::epoch_terms::EpochTerms;
use crate::{EpochStats, GraphData, Objective, TrainConfig, TrainError, Trained};

/// One mini-batch as a method's terms see it.
pub(crate) struct Batch<'a> {
    /// The batch's nodes (rows of the training graph).
    pub idx: &'a Tensor,
    /// Their features.
    pub x: &'a Tensor,
    /// The student's output on them, in training mode.
    pub out: &'a ModelOutput,
    pub model: &'a dyn NodeModel,
    pub data: &'a GraphData,
    pub teacher: &'a BatchTeacher<'a>,
}

impl Batch<'_> {
    /// The student's output on features `x` of the batch's nodes (`train`: dropout on).
    pub fn forward(&self, x: &Tensor, train: bool) -> ModelOutput {
        self.model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &self.data.a_hat, train)
    }
}

/// A method's terms on a batch, added to the soft-target term, each named for the epoch's log.
pub(crate) trait BatchTerms {
    fn terms(&self, batch: &Batch) -> Vec<(&'static str, Tensor)>;
}

/// Trains a fresh MLP of `config` on batches of `batch_size` nodes of `features` (`data`'s, dense)
/// against `objective`'s teacher term plus the terms `build` makes. `build` runs once, after the
/// student's weights are drawn, with a store of its own for the method's trained helpers
/// (projections): they get their own Adam and are dropped with the store afterwards, so the
/// student's variables, parameter count and checkpoints are those of a plain MLP.
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_in_batches<T: BatchTerms>(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    features: &Tensor,
    batch_size: usize,
    settings: &TrainConfig,
    build: impl FnOnce(&nn::Path) -> T,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let device = data.device;
    let vs = nn::VarStore::new(device);
    let model = config.build(&vs.root())?;
    let helpers_vs = nn::VarStore::new(device);
    let method = build(&helpers_vs.root());
    let mut opt = nn::Adam::default().build(&vs, settings.lr).map_err(ModelError::from)?;
    let mut helpers_opt = nn::Adam::default().build(&helpers_vs, settings.lr).map_err(ModelError::from)?;
    let weights = model.weights();
    let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
    let teacher = BatchTeacher::new(objective, data);
    let mut stopping = EarlyStopping::selecting(&vs, settings.patience, settings.select);
    let (nodes, batch) = (data.num_nodes(), batch_size as i64);
    let mut epochs_run = 0;

    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let order = Tensor::randperm(nodes, (Kind::Int64, device));
        let mut sums = EpochTerms::default();
        for first in (0..nodes).step_by(batch as usize) {
            let idx = order.narrow(0, first, batch.min(nodes - first));
            let x = features.index_select(0, &idx);
            let out = model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &data.a_hat, true);
            let mut terms = vec![("distillation", teacher.loss(&out.logits, &idx))];
            let view = Batch { idx: &idx, x: &x, out: &out, model: model.as_ref(), data, teacher: &teacher };
            terms.extend(method.terms(&view));
            if let Some(penalty) = l2_penalty(decayed, settings.weight_decay) {
                terms.push(("weight decay", penalty));
            }
            let loss = terms.iter().map(|(_, t)| t.shallow_clone()).reduce(|a, b| a + b).expect("one term at least");
            opt.zero_grad();
            helpers_opt.zero_grad();
            loss.backward();
            if let Some(max) = settings.clip_grad_norm {
                opt.clip_grad_norm(max);
            }
            opt.step();
            helpers_opt.step();
            sums.add(terms, idx.size()[0] as f64);
        }
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        let step_seconds = step_start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let val = crate::training::sampled::validation(model.as_ref(), data)?;
        let loss = sums.loss_per_node(nodes as usize, epoch, settings.lr)?;
        if stopping.end_epoch(epoch, loss, val, false, (step_seconds, eval_start), on_epoch) {
            break;
        }
    }
    let best_epoch = stopping.best_epoch;
    let best_val_acc = stopping.restore();
    Ok(Trained { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: start.elapsed().as_secs_f64() })
}

/// The features as one dense matrix (`what` names whose copy it is, should it not fit).
pub(crate) fn dense_features(data: &GraphData, what: &str) -> Result<Tensor, TrainError> {
    match &data.features {
        NodeFeatures::Dense(x) => Ok(x.shallow_clone()),
        NodeFeatures::Sparse(x) => {
            let bytes = 4 * (x.rows().max(0) as u128) * (x.cols().max(0) as u128);
            let what = format!("{what}'s dense copy of the {} x {} features", x.rows(), x.cols());
            gdistill_datasets::limits::check_memory(&what, bytes).map_err(TrainError::TooLarge)?;
            Ok(x.to_dense())
        }
    }
}

/// The `+kd` rows' loss on a batch: `alpha * CE` on the batch's training nodes (none: omitted)
/// plus `(1 - alpha) *` the teacher term on every node of the batch, as neighbour-sampled
/// training computes it ([`crate::training::sampled::BatchTeacher`]), summed into one term.
pub(crate) struct BatchTeacher<'a> {
    objective: &'a Objective,
    terms: crate::training::sampled::BatchTeacher,
    is_train: Tensor,
    labels: &'a Tensor,
}

impl<'a> BatchTeacher<'a> {
    fn new(objective: &'a Objective, data: &'a GraphData) -> BatchTeacher<'a> {
        let terms = crate::training::sampled::BatchTeacher::new(objective);
        let is_train = Tensor::zeros([data.num_nodes()], (Kind::Bool, data.device)).index_fill(0, &data.train, 1);
        BatchTeacher { objective, terms, is_train, labels: &data.labels }
    }

    pub(crate) fn loss(&self, logits: &Tensor, idx: &Tensor) -> Tensor {
        // The labels' cross-entropy only where it counts: alpha > 0 and training nodes in the batch.
        let hard = (self.objective.alpha > 0.0)
            .then(|| self.is_train.index_select(0, idx).nonzero().squeeze_dim(1))
            .filter(|local| local.numel() > 0)
            .map(|local| {
                let labels = self.labels.index_select(0, &idx.index_select(0, &local));
                cross_entropy(&logits.index_select(0, &local), &labels)
            });
        let terms = self.terms.label_and_teacher_terms(self.objective, logits, idx, hard);
        terms.into_iter().map(|(_, t)| t).reduce(|a, b| a + b).expect("a teacher term at least")
    }
}
