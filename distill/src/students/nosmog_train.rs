//! NOSMOG's training of an MLP student: mini-batches of the nodes training sees, each batch's
//! loss the soft-target term of the `+kd` rows, plus RSD and the adversarial term where the
//! parts ask for them; early stopping and restore on full-graph validation, as every row.
//!
//! Batches are drawn from every node of the training graph: inductively, the observed graph,
//! so the held-out test nodes never enter a batch, a Gram matrix or an attack.

use std::time::Instant;

use gdistill_models::{ModelConfig, ModelError, NodeFeatures};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::adversarial::Pgd;
use super::nosmog::{NosmogConfig, NosmogParts};
use super::rsd::{rsd_loss, Projection};
use crate::early_stopping::EarlyStopping;
use crate::epoch_terms::EpochTerms;
use crate::losses::{cross_entropy, l2_penalty};
use crate::train::check_shapes;
use crate::{EpochStats, GraphData, Objective, TrainConfig, TrainError, Trained};

/// Trains a fresh MLP of `config` against `objective`'s teacher term, with NOSMOG's `parts`.
/// `teacher_hidden` is the teacher's last hidden layer, one row per node (RSD needs it).
#[allow(clippy::too_many_arguments)]
pub fn train_nosmog(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    teacher_hidden: Option<&Tensor>,
    nosmog: &NosmogConfig,
    parts: NosmogParts,
    settings: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    check_inputs(config, data, objective, teacher_hidden, nosmog, parts)?;
    settings.validate().map_err(TrainError::Config)?;
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let device = data.device;
    let vs = nn::VarStore::new(device);
    let model = config.build(&vs.root())?;
    // The projection trains with the student and is dropped with its own store afterwards, so
    // the student's variables, parameter count and checkpoints are those of a plain MLP.
    let projection_vs = nn::VarStore::new(device);
    let student_width = *config.hidden.last().expect("checked: the student has a hidden layer");
    let width = nosmog.projection_width.unwrap_or(student_width);
    let projection = parts.rsd.then(|| Projection::new(&projection_vs.root(), student_width, width));
    let mut opt = nn::Adam::default().build(&vs, settings.lr).map_err(ModelError::from)?;
    let mut projection_opt = nn::Adam::default().build(&projection_vs, settings.lr).map_err(ModelError::from)?;
    let weights = model.weights();
    let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
    let features = dense_features(data)?;
    let pgd = Pgd::new(nosmog.adv_eps * feature_scale(&features), nosmog.adv_steps).map_err(TrainError::Config)?;
    let teacher = BatchTeacher::new(objective, data);
    let mut stopping = EarlyStopping::selecting(&vs, settings.patience, settings.select);
    let (nodes, batch) = (data.num_nodes(), nosmog.batch_size as i64);
    let mut epochs_run = 0;

    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let order = Tensor::randperm(nodes, (Kind::Int64, device));
        let mut sums = EpochTerms::default();
        for first in (0..nodes).step_by(batch as usize) {
            let idx = order.narrow(0, first, batch.min(nodes - first));
            let x = features.index_select(0, &idx);
            let forward =
                |x: &Tensor, train: bool| model.forward_t(&NodeFeatures::Dense(x.shallow_clone()), &data.a_hat, train);
            let out = forward(&x, true);
            let mut terms = vec![("distillation", teacher.loss(&out.logits, &idx))];
            if let (Some(projection), Some(hidden)) = (&projection, teacher_hidden) {
                let student = projection.forward(out.hidden.last().expect("checked"));
                terms.push(("RSD", rsd_loss(&hidden.index_select(0, &idx), &student) * nosmog.rsd_weight));
            }
            if parts.adversarial {
                // The attack reads the student without dropout: the worst case for the model
                // itself, not for one random sub-network per step.
                let delta = pgd.perturb(&x, &mut |p| teacher.loss(&forward(p, false).logits, &idx), &mut |_, _| {});
                let adversarial = teacher.loss(&forward(&(&x + delta), true).logits, &idx);
                terms.push(("adversarial", adversarial * nosmog.adv_weight));
            }
            if let Some(penalty) = l2_penalty(decayed, settings.weight_decay) {
                terms.push(("weight decay", penalty));
            }
            let loss = terms.iter().map(|(_, t)| t.shallow_clone()).reduce(|a, b| a + b).expect("one term at least");
            opt.zero_grad();
            projection_opt.zero_grad();
            loss.backward();
            if let Some(max) = settings.clip_grad_norm {
                opt.clip_grad_norm(max);
            }
            opt.step();
            projection_opt.step();
            sums.add(terms, idx.size()[0] as f64);
        }
        if let Device::Cuda(index) = device {
            tch::Cuda::synchronize(index as i64);
        }
        let step_seconds = step_start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let val = crate::sampled::validation(model.as_ref(), data)?;
        let loss = sums.loss_per_node(nodes as usize, epoch, settings.lr)?;
        if stopping.end_epoch(epoch, loss, val, false, (step_seconds, eval_start), on_epoch) {
            break;
        }
    }
    let best_epoch = stopping.best_epoch;
    let best_val_acc = stopping.restore();
    Ok(Trained { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: start.elapsed().as_secs_f64() })
}

/// Refuses, by name, what NOSMOG cannot train: a student that is not an MLP or has no hidden
/// layer, an objective without a teacher, RSD without the teacher's hidden layer.
fn check_inputs(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    teacher_hidden: Option<&Tensor>,
    nosmog: &NosmogConfig,
    parts: NosmogParts,
) -> Result<(), TrainError> {
    check_shapes(config, data, objective)?;
    objective.validate().map_err(TrainError::Config)?;
    nosmog.validate().map_err(TrainError::Config)?;
    let refuse = |why: String| Err(TrainError::Config(format!("NOSMOG: {why}")));
    if config.arch != gdistill_models::Arch::Mlp {
        return refuse(format!("its student is an MLP, not a {}", config.arch));
    }
    if config.hidden.is_empty() {
        return refuse("the MLP student needs a hidden layer (its representation is distilled)".into());
    }
    if objective.teacher.is_none() {
        return refuse("it distils a teacher; the objective has none".into());
    }
    if objective.lsp.is_some() {
        return refuse("LSP does not combine with NOSMOG's mini-batches".into());
    }
    if objective.gcrd.is_some() {
        return refuse("G-CRD does not combine with NOSMOG's mini-batches".into());
    }
    if parts.rsd {
        match teacher_hidden {
            None => return refuse("RSD needs the teacher's last hidden layer, and this teacher exposes none".into()),
            Some(h) if h.dim() != 2 || h.size()[0] != data.num_nodes() => {
                return refuse(format!(
                    "the teacher's hidden features have shape {:?}, expected one row per node ({})",
                    h.size(),
                    data.num_nodes()
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The features as one dense matrix: the attack perturbs every entry, zeros included.
fn dense_features(data: &GraphData) -> Result<Tensor, TrainError> {
    match &data.features {
        NodeFeatures::Dense(x) => Ok(x.shallow_clone()),
        NodeFeatures::Sparse(x) => {
            let bytes = 4 * (x.rows().max(0) as u128) * (x.cols().max(0) as u128);
            let what = format!("NOSMOG's dense copy of the {} x {} features", x.rows(), x.cols());
            gdistill_datasets::limits::check_memory(&what, bytes).map_err(TrainError::TooLarge)?;
            Ok(x.to_dense())
        }
    }
}

/// The mean magnitude of the non-zero features (1 where none is), the unit of `adv_eps`.
/// NOSMOG's radii were chosen on raw binary bags of words, where this is 1; on Cora's
/// row-normalised rows (about 1/18 each) the same absolute radius, added to all 1 433 entries,
/// drowned the signal: one seed, validation 0.51 with the attack against 0.81 without.
pub fn feature_scale(features: &Tensor) -> f64 {
    let non_zero = features.ne(0.0).sum(Kind::Int64).int64_value(&[]);
    if non_zero == 0 {
        return 1.0;
    }
    features.abs().sum(Kind::Double).double_value(&[]) / non_zero as f64
}

/// The `+kd` rows' loss on a batch: `alpha * CE` on the batch's training nodes (none: omitted)
/// plus `(1 - alpha) *` the teacher term on every node of the batch, as neighbour-sampled
/// training computes it ([`crate::sampled::BatchTeacher`]), summed into one term.
struct BatchTeacher<'a> {
    objective: &'a Objective,
    terms: crate::sampled::BatchTeacher,
    is_train: Tensor,
    labels: &'a Tensor,
}

impl<'a> BatchTeacher<'a> {
    fn new(objective: &'a Objective, data: &'a GraphData) -> BatchTeacher<'a> {
        let terms = crate::sampled::BatchTeacher::new(objective);
        let is_train = Tensor::zeros([data.num_nodes()], (Kind::Bool, data.device)).index_fill(0, &data.train, 1);
        BatchTeacher { objective, terms, is_train, labels: &data.labels }
    }

    fn loss(&self, logits: &Tensor, idx: &Tensor) -> Tensor {
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
