//! Mini-batch training of cloud classifiers, from labels or distilled ([`CloudObjective`]).
//!
//! Adam with a cosine learning-rate schedule; the training clouds reshuffled, resampled and
//! augmented every epoch by a ChaCha8 generator seeded with the run's seed (which also seeds
//! libtorch), so a seed fixes a CPU run; early stopping on validation accuracy (ties broken by
//! validation loss) with the best weights, batch-norm statistics included, restored.

use std::time::Instant;

use gdistill_models::pointcloud::{CloudArch, CloudModel};
use gdistill_models::ModelError;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};

use super::{cloud_accuracy, predict_clouds, CloudData, CloudObjective};
use crate::training::early_stopping::EarlyStopping;
use crate::{cross_entropy, EpochStats, TrainError};

/// Optimisation settings of one cloud training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// The cosine schedule's final learning rate.
    pub lr_min: f64,
    /// Adam's (coupled) L2 weight decay.
    pub weight_decay: f64,
    /// Stop after this many epochs without a better validation score; `None` runs every epoch.
    pub patience: Option<usize>,
    pub seed: u64,
}

impl Default for CloudTrainConfig {
    fn default() -> Self {
        CloudTrainConfig {
            epochs: 30,
            batch_size: 32,
            lr: 1e-3,
            lr_min: 1e-5,
            weight_decay: 1e-4,
            patience: None,
            seed: 0,
        }
    }
}

/// A trained cloud classifier.
pub type TrainedCloudModel = crate::experiment::TrainedModel<dyn CloudModel>;

/// Trains a fresh `arch` on `data`'s training clouds; `on_epoch` sees every epoch.
pub fn train_cloud_model(
    arch: &CloudArch,
    data: &CloudData,
    objective: &CloudObjective,
    settings: &CloudTrainConfig,
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<TrainedCloudModel, TrainError> {
    objective.validate().map_err(TrainError::Config)?;
    if !data.pseudo.is_empty() && objective.teacher.is_none() {
        return Err(TrainError::Config("pseudo clouds have no labels: training on them needs a teacher".into()));
    }
    let mut order = data.train_ids();
    // batch normalisation needs two clouds per batch
    if settings.batch_size < 2 || order.len() < 2 || settings.epochs == 0 {
        return Err(TrainError::Config(format!(
            "batch size {} on {} training clouds for {} epochs: need at least 2, 2 and 1",
            settings.batch_size,
            order.len(),
            settings.epochs
        )));
    }
    let start = Instant::now();
    tch::manual_seed(settings.seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let vs = nn::VarStore::new(data.device);
    let model = arch.build(&vs.root(), data.shape)?;
    let adam = nn::Adam { wd: settings.weight_decay, ..Default::default() };
    let mut opt = adam.build(&vs, settings.lr).map_err(ModelError::from)?;
    // every variable, the running batch-norm statistics too
    let mut stopping = EarlyStopping::new(&vs, settings.patience);
    let mut epochs_run = 0;
    for epoch in 0..settings.epochs {
        epochs_run = epoch + 1;
        let step_start = Instant::now();
        let progress = epoch as f64 / settings.epochs as f64;
        let lr =
            settings.lr_min + 0.5 * (settings.lr - settings.lr_min) * (1.0 + (std::f64::consts::PI * progress).cos());
        opt.set_lr(lr);
        order.shuffle(&mut rng);
        let mut loss_sum = Tensor::zeros([], (Kind::Float, data.device));
        let mut seen = 0usize;
        // a last batch of one cloud is left for the next epoch's shuffle (batch norm needs two)
        for ids in order.chunks(settings.batch_size).filter(|ids| ids.len() >= 2) {
            let batch = data.train_batch(ids, &mut rng);
            let out = model.forward_t(&batch.points, true);
            let loss = objective.loss(&out, &batch.points, &batch.labels);
            opt.zero_grad();
            loss.backward();
            opt.step();
            loss_sum += loss.detach() * ids.len() as f64;
            seen += ids.len();
        }
        let loss = loss_sum.double_value(&[]) / seen as f64;
        let step_seconds = step_start.elapsed().as_secs_f64();
        if !loss.is_finite() {
            // the mean over the epoch's batches; its terms are not kept per batch
            return Err(TrainError::NonFiniteLoss { epoch: epoch + 1, value: loss, term: "epoch-mean", lr });
        }
        let eval_start = Instant::now();
        let (val_acc, val_loss) = if data.val.is_empty() {
            (0.0, 0.0)
        } else {
            let logits = predict_clouds(model.as_ref(), &data.val, data.shape.classes);
            let val_loss = tch::no_grad(|| cross_entropy(&logits, &data.val.labels)).double_value(&[]);
            (cloud_accuracy(&logits, &data.val.labels), val_loss)
        };
        // without a validation split every epoch "improves": the last weights are kept
        let timing = (step_seconds, eval_start);
        if stopping.end_epoch(epoch, loss, (val_acc, val_loss), data.val.is_empty(), timing, on_epoch) {
            break;
        }
    }
    Ok(TrainedCloudModel::restored(vs, model, stopping, epochs_run, start))
}
