//! Full-batch training of a node classifier, from labels or from a teacher.
//!
//! Adam; L2 weight decay on the layers a recipe names; early stopping on validation accuracy
//! (ties broken by validation loss) with patience, and the best-validation weights restored at
//! the end. The loop touches the host once per epoch, to read three scalars.

use std::time::Instant;

use gdistill_models::{record_sparse_products, ModelConfig, ModelError, NodeModel};
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Device, Tensor};

use crate::losses::{blend, cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss_from_log_probs};
use crate::{accuracy_tensor, predict, GraphData};

/// Optimisation settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// `false`: weight decay on the first layer only (Kipf & Welling's recipe).
    pub decay_all_layers: bool,
    /// Stop after this many epochs without a better validation score; `None` runs every epoch.
    pub patience: Option<usize>,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { epochs: 200, lr: 0.01, weight_decay: 5e-4, decay_all_layers: false, patience: Some(100), seed: 0 }
    }
}

/// What the model is trained to fit.
#[derive(Debug)]
pub enum Objective {
    /// Cross-entropy on the training nodes' labels.
    Labels,
    /// `alpha * CE(train labels) + (1 - alpha) * T^2 * KL(q_T(teacher) || q_T(student))`, the KL
    /// over every node (the transfer set).
    SoftTargets { teacher_logits: Tensor, temperature: f64, alpha: f64 },
    /// `alpha * CE(train labels) + (1 - alpha) * MSE(student logits, teacher logits)` over every node.
    LogitMatching { teacher_logits: Tensor, alpha: f64 },
}

/// Why training stopped without a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(
        "the loss became {value} at epoch {epoch}: training diverged (learning rate {lr} too high, \
         or non-finite features or teacher logits)"
    )]
    NonFiniteLoss { epoch: usize, value: f64, lr: f64 },
    #[error("{0}")]
    Mismatch(String),
}

/// One epoch's figures, passed to the progress callback.
#[derive(Clone, Copy, Debug)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f64,
    pub val_acc: f64,
    pub best_val_acc: f64,
    /// Wall time of the optimisation step (forward, backward, update).
    pub step_seconds: f64,
    /// Wall time of the evaluation that followed it (full-graph forward, validation figures).
    pub eval_seconds: f64,
}

/// A trained model and how it got there.
pub struct Trained {
    pub vs: nn::VarStore,
    pub model: Box<dyn NodeModel>,
    /// Epoch (0-based) whose weights were kept.
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub best_val_acc: f64,
    pub train_seconds: f64,
}

/// Trains a fresh model of `config` on `data`. `on_epoch` sees every epoch (progress bars).
pub fn train(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    settings: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Trained, TrainError> {
    check_shapes(config, data, objective)?;
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(data.device);
    let model = config.build(&vs.root())?;
    let mut opt = nn::Adam::default().build(&vs, settings.lr).map_err(ModelError::from)?;
    let weights = model.weights();
    let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
    let train_labels = data.labels.index_select(0, &data.train);
    let teacher_log_probs = match objective {
        Objective::SoftTargets { teacher_logits, temperature, .. } => {
            Some((teacher_logits / *temperature).log_softmax(-1, teacher_logits.kind()))
        }
        _ => None,
    };
    let variables: Vec<Tensor> = vs.variables().into_values().collect();
    let snapshot = |vars: &[Tensor]| tch::no_grad(|| vars.iter().map(|v| v.copy()).collect::<Vec<_>>());
    let mut best_weights = snapshot(&variables);
    let (mut best_epoch, mut best_acc, mut best_loss) = (0usize, f64::NEG_INFINITY, f64::INFINITY);
    let mut epochs_run = 0;

    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let (logits, tape) = record_sparse_products(|| model.forward_t(&data.features, &data.a_hat, true).logits);
        let hard = cross_entropy(&logits.index_select(0, &data.train), &train_labels);
        let mut loss = match objective {
            Objective::Labels => hard,
            Objective::SoftTargets { temperature, alpha, .. } => {
                let q = teacher_log_probs.as_ref().expect("computed above for soft targets");
                blend(*alpha, hard, soft_target_loss_from_log_probs(&logits, q, *temperature))
            }
            Objective::LogitMatching { teacher_logits, alpha } => {
                blend(*alpha, hard, logit_matching_loss(&logits, teacher_logits))
            }
        };
        if let Some(penalty) = l2_penalty(decayed, settings.weight_decay) {
            loss = loss + penalty;
        }
        opt.zero_grad();
        loss.backward();
        tape.backward();
        opt.step();
        if let Device::Cuda(index) = data.device {
            tch::Cuda::synchronize(index as i64); // so that step_seconds is the step, not its launch
        }
        let step_seconds = step_start.elapsed().as_secs_f64();

        let eval_start = Instant::now();
        let eval_logits = predict(model.as_ref(), data);
        let val_loss = tch::no_grad(|| cross_entropy(&eval_logits.index_select(0, &data.val), &data.labels.index_select(0, &data.val)));
        let figures = Tensor::stack(&[loss.detach(), accuracy_tensor(&eval_logits, &data.labels, &data.val), val_loss], 0)
            .to_device(Device::Cpu);
        let figures: Vec<f64> = Vec::<f32>::try_from(figures).map_err(ModelError::from)?.into_iter().map(f64::from).collect();
        let (loss_value, val_acc, val_loss) = (figures[0], figures[1], figures[2]);
        let eval_seconds = eval_start.elapsed().as_secs_f64();
        if !loss_value.is_finite() {
            return Err(TrainError::NonFiniteLoss { epoch, value: loss_value, lr: settings.lr });
        }
        if val_acc > best_acc || (val_acc == best_acc && val_loss < best_loss) {
            (best_epoch, best_acc, best_loss) = (epoch, val_acc, val_loss);
            best_weights = snapshot(&variables);
        }
        on_epoch(&EpochStats { epoch, loss: loss_value, val_acc, best_val_acc: best_acc, step_seconds, eval_seconds });
        if settings.patience.is_some_and(|p| epoch - best_epoch >= p) {
            break;
        }
    }
    tch::no_grad(|| {
        for (var, best) in variables.iter().zip(&best_weights) {
            var.shallow_clone().copy_(best);
        }
    });
    Ok(Trained {
        vs,
        model,
        best_epoch,
        epochs_run,
        best_val_acc: best_acc.max(0.0),
        train_seconds: start.elapsed().as_secs_f64(),
    })
}

fn check_shapes(config: &ModelConfig, data: &GraphData, objective: &Objective) -> Result<(), TrainError> {
    if config.in_features != data.num_features() {
        return Err(TrainError::Mismatch(format!(
            "the model reads {} features but the dataset has {}",
            config.in_features,
            data.num_features()
        )));
    }
    if config.num_classes != data.num_classes {
        return Err(TrainError::Mismatch(format!(
            "the model predicts {} classes but the dataset has {}",
            config.num_classes, data.num_classes
        )));
    }
    let teacher = match objective {
        Objective::Labels => None,
        Objective::SoftTargets { teacher_logits, .. } | Objective::LogitMatching { teacher_logits, .. } => {
            Some(teacher_logits)
        }
    };
    if let Some(t) = teacher {
        let expected = [data.num_nodes(), data.num_classes];
        if t.size() != expected {
            return Err(TrainError::Mismatch(format!(
                "teacher logits have shape {:?}, expected {:?} (one row per node, one column per class)",
                t.size(),
                expected
            )));
        }
    }
    Ok(())
}
