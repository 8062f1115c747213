//! Mini-batch training of image classifiers, from labels or from a teacher's soft targets.
//!
//! Adam with an optional per-epoch learning-rate decay; the training images reshuffled every
//! epoch by libtorch's generator (seeded, so a seed fixes a CPU run); optional input jitter
//! ([`random_shifts`]); early stopping on validation accuracy (ties broken by validation loss)
//! with the best weights restored. The host is touched once per epoch.
//!
//! Distillation follows Hinton et al. (2015): `alpha * CE(student, labels) + (1 - alpha) * T^2 *
//! KL(softmax(teacher / T) || softmax(student / T))`, the teacher's logits computed once on the
//! un-jittered training images (the transfer set).

use std::time::Instant;

use gdistill_models::{ImageArch, ImageModel, ModelError};
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

use super::{error_count, predict_images, random_shifts, ImageData};
use crate::compress::prune::{store_weights, Masks};
use crate::training::early_stopping::EarlyStopping;
use crate::{blend, cross_entropy, soft_target_loss_from_log_probs, EpochStats, TrainError};

/// Optimisation settings of one image training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageTrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// The learning rate is multiplied by this after every epoch.
    pub lr_decay: f64,
    /// Adam's (coupled) L2 weight decay on every parameter.
    pub weight_decay: f64,
    /// Random shifts of up to this many pixels on every training batch (0: none).
    pub jitter: i64,
    /// Stop after this many epochs without a better validation score; `None` runs every epoch.
    pub patience: Option<usize>,
    pub seed: u64,
}

impl Default for ImageTrainConfig {
    fn default() -> Self {
        ImageTrainConfig {
            epochs: 30,
            batch_size: 100,
            lr: 1e-3,
            lr_decay: 1.0,
            weight_decay: 0.0,
            jitter: 0,
            patience: Some(10),
            seed: 0,
        }
    }
}

/// What an image classifier is trained to fit.
#[derive(Debug)]
pub enum ImageObjective {
    /// Cross-entropy on the training labels.
    Labels,
    /// Labels blended with the teacher's tempered softmax; `teacher_logits` has one row per
    /// training image, in the order of `ImageData::train`.
    SoftTargets { teacher_logits: Tensor, temperature: f64, alpha: f64 },
}

/// A trained image classifier.
pub type TrainedImageModel = crate::experiment::TrainedModel<dyn ImageModel>;

/// Trains a fresh `arch` on `data`'s training images; `on_epoch` sees every epoch.
pub fn train_image_model(
    arch: &ImageArch,
    data: &ImageData,
    objective: &ImageObjective,
    settings: &ImageTrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainedImageModel, TrainError> {
    let teacher_log_probs = checked_targets(data, objective, settings)?;
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(data.device);
    let model = arch.build(&vs.root(), data.shape)?;
    fit(vs, model, data, objective, teacher_log_probs, settings, None, start, on_epoch)
}

/// `trained` trained on from its current weights with the weights `masks` prunes held at zero
/// (masks in [`store_weights`] order): a pruned weight gets no gradient, so Adam's moments
/// stay zero for it, and is zeroed again after every step, so nothing revives it. Early
/// stopping starts from the weights as given, so a retraining that only loses keeps them.
pub fn retrain_image_masked(
    trained: TrainedImageModel,
    data: &ImageData,
    objective: &ImageObjective,
    settings: &ImageTrainConfig,
    masks: &Masks,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainedImageModel, TrainError> {
    let teacher_log_probs = checked_targets(data, objective, settings)?;
    let weights = store_weights(&trained.vs);
    if masks.0.len() != weights.len() || masks.0.iter().zip(&weights).any(|(m, w)| m.size() != w.size()) {
        return Err(TrainError::Mismatch(format!(
            "{} masks do not match the model's {} weight tensors",
            masks.0.len(),
            weights.len()
        )));
    }
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let pruned = Some((weights, masks));
    let fitted = fit(trained.vs, trained.model, data, objective, teacher_log_probs, settings, pruned, start, on_epoch)?;
    Ok(TrainedImageModel { train_seconds: trained.train_seconds + fitted.train_seconds, ..fitted })
}

/// Checks the batch size and the teacher's logits; the teacher's tempered log-probabilities.
fn checked_targets(
    data: &ImageData,
    objective: &ImageObjective,
    settings: &ImageTrainConfig,
) -> Result<Option<Tensor>, TrainError> {
    let n_train = data.train.size()[0];
    if settings.batch_size == 0 || n_train == 0 {
        return Err(TrainError::Mismatch(format!("batch size {} on {n_train} training images", settings.batch_size)));
    }
    match objective {
        ImageObjective::Labels => Ok(None),
        ImageObjective::SoftTargets { teacher_logits, temperature, .. } => {
            if teacher_logits.size() != [n_train, data.shape.classes] {
                return Err(TrainError::Mismatch(format!(
                    "teacher logits have shape {:?}, expected [{n_train}, {}] (one row per training image)",
                    teacher_logits.size(),
                    data.shape.classes
                )));
            }
            Ok(Some((teacher_logits / *temperature).log_softmax(-1, Kind::Float)))
        }
    }
}

/// The training loop of [`train_image_model`] and [`retrain_image_masked`] (`pruned`: the
/// store's weights and the masks held on them).
#[allow(clippy::too_many_arguments)]
fn fit(
    vs: nn::VarStore,
    model: Box<dyn ImageModel>,
    data: &ImageData,
    objective: &ImageObjective,
    teacher_log_probs: Option<Tensor>,
    settings: &ImageTrainConfig,
    pruned: Option<(Vec<Tensor>, &Masks)>,
    start: Instant,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainedImageModel, TrainError> {
    let n_train = data.train.size()[0];
    let hold_pruned = |gradients: bool| {
        let Some((weights, masks)) = &pruned else { return };
        for (w, m) in weights.iter().zip(&masks.0) {
            let target = if gradients { w.grad() } else { w.shallow_clone() };
            if target.defined() {
                let _ = tch::no_grad(|| target.shallow_clone().g_mul_(m));
            }
        }
    };
    hold_pruned(false);
    let adam = nn::Adam { wd: settings.weight_decay, ..Default::default() };
    let mut opt = adam.build(&vs, settings.lr).map_err(ModelError::from)?;
    let mut stopping = EarlyStopping::new(&vs, settings.patience);
    let (val_labels, n_val) = (data.labels.index_select(0, &data.val), data.val.size()[0]);
    let batch = settings.batch_size as i64;
    let mut epochs_run = 0;
    let mut lr = settings.lr;

    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let order = Tensor::randperm(n_train, (Kind::Int64, data.device));
        let mut loss_sum = Tensor::zeros([], (Kind::Float, data.device));
        for first in (0..n_train).step_by(batch as usize) {
            let positions = order.narrow(0, first, batch.min(n_train - first));
            let (images, labels) = data.batch(&data.train.index_select(0, &positions));
            let images = random_shifts(&images, settings.jitter);
            // No sparse-product tape here: the grid adjacency is small (P x P) and the dense
            // operand wide ([P, batch * channels]), so libtorch's own backward of the product is
            // cheap; measured on one thread, a 3x32 grid GCN step took 86 ms with plain
            // autograd and 110 ms with the tape's extra backward passes.
            let logits = model.forward_t(&images, true).logits;
            let hard = cross_entropy(&logits, &labels);
            let loss = match (objective, &teacher_log_probs) {
                (ImageObjective::SoftTargets { temperature, alpha, .. }, Some(q)) => {
                    let soft = soft_target_loss_from_log_probs(&logits, &q.index_select(0, &positions), *temperature);
                    blend(*alpha, hard, soft)
                }
                _ => hard,
            };
            opt.zero_grad();
            loss.backward();
            hold_pruned(true);
            opt.step();
            hold_pruned(false);
            loss_sum += loss.detach() * positions.size()[0] as f64;
        }
        // the epoch's losses are read back with the validation figures: one host sync per epoch,
        // so on CUDA the step time ends when the work is queued, and the evaluation waits for it
        let step_seconds = step_start.elapsed().as_secs_f64();
        let eval_start = Instant::now();
        let val_logits = predict_images(model.as_ref(), data, &data.val);
        let val_loss = tch::no_grad(|| cross_entropy(&val_logits, &val_labels));
        let figures = Tensor::stack(
            &[loss_sum / n_train as f64, error_count(&val_logits, &val_labels).to_kind(Kind::Float), val_loss],
            0,
        );
        let figures =
            Vec::<f64>::try_from(figures.to_device(Device::Cpu).to_kind(Kind::Double)).map_err(ModelError::from)?;
        let (loss, val_errors, val_loss) = (figures[0], figures[1], figures[2]);
        if !loss.is_finite() {
            // the mean over the epoch's batches; its terms are not kept per batch
            return Err(TrainError::NonFiniteLoss { epoch: epoch + 1, value: loss, term: "epoch-mean", lr });
        }
        let val_acc = if n_val == 0 { 0.0 } else { 1.0 - val_errors / n_val as f64 };
        // without a validation split every epoch "improves": the last weights are kept
        if stopping.end_epoch(epoch, loss, (val_acc, val_loss), n_val == 0, (step_seconds, eval_start), on_epoch) {
            break;
        }
        lr *= settings.lr_decay;
        opt.set_lr(lr);
    }
    Ok(TrainedImageModel::restored(vs, model, stopping, epochs_run, start))
}
