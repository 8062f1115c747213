//! The image comparison's pruned row (`teacher-obd`): the seed's trained teacher pruned by
//! Optimal Brain Damage to as many non-zero weights as the `mlp-800` student has, retrained on
//! the labels between steps, the graphs' `teacher-obd` ([`crate::compress::prune::compare_rows`]) for images.
//!
//! Every variable of two or more dimensions is a weight ([`store_weights`]); biases stay. Each
//! step estimates the diagonal of the Hessian of the training cross-entropy by the empirical
//! Fisher over mini-batches ([`empirical_fisher`]), ranks the weights by OBD's saliency
//! `h_kk w_k^2 / 2` with one threshold over all matrices, deletes down to the step's count
//! ([`prune_to_count`]) and retrains with the deleted weights held at zero
//! ([`retrain_image_masked`]). The empirical Fisher because it needs nothing of the model but
//! its loss and one backward per mini-batch: the graphs' Gauss-Newton pass is written out
//! for GCN and MLP layers on a `GraphData`, and the exact and Hutchinson diagonals need double
//! backward, a Hessian-vector product per weight or per probe, on a 2.4-million-weight teacher.

use gdistill_models::{ImageArch, ImageModel, ImageShape};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::{retrain_image_masked, ImageData, ImageObjective, ImageTrainConfig, TrainedImageModel};
use crate::compress::prune::{
    csr_store_bytes, empirical_fisher, keep_schedule, obd_saliency, prune_to_count, store_weights, Masks, PruneError,
};
use crate::{cross_entropy, TrainError};

/// The pruned row's settings (`[prune]` in an image experiment file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImagePruneConfig {
    /// Add the row `teacher-obd` (off by default: the image table keeps its rows).
    pub rows: bool,
    /// Pruning-and-retraining steps to reach the student's count of weights.
    pub steps: usize,
    /// Retraining epochs after each step (the teacher's recipe otherwise: dropout, jitter).
    pub retrain_epochs: usize,
    /// Retraining learning rate: below the teacher's initial 1e-3, as it starts from trained
    /// weights and a fresh Adam.
    pub retrain_lr: f64,
}

impl Default for ImagePruneConfig {
    fn default() -> Self {
        ImagePruneConfig { rows: false, steps: 2, retrain_epochs: 15, retrain_lr: 3e-4 }
    }
}

impl ImagePruneConfig {
    /// For `skip_serializing_if`: reports without the pruned row keep their keys.
    pub fn is_off(&self) -> bool {
        !self.rows
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.steps == 0 {
            return Err("prune.steps must be at least 1".into());
        }
        if !(self.retrain_lr.is_finite() && self.retrain_lr > 0.0) {
            return Err(format!("prune.retrain_lr must be positive, got {}", self.retrain_lr));
        }
        Ok(())
    }
}

/// A pruned and retrained copy of a trained image model.
pub struct PrunedImageModel {
    pub trained: TrainedImageModel,
    /// In [`store_weights`] order; 0 where pruned.
    pub masks: Masks,
    /// Non-zero weights plus every other variable (biases).
    pub params: i64,
    /// Stored as compressed sparse rows ([`csr_store_bytes`]).
    pub weight_bytes: i64,
}

/// Entries of the weight tensors of `arch` built for `shape` (what pruning counts).
pub fn weight_entries(arch: &ImageArch, shape: ImageShape) -> Result<i64, TrainError> {
    let vs = nn::VarStore::new(tch::Device::Cpu);
    arch.build(&vs.root(), shape)?;
    Ok(store_weights(&vs).iter().map(|w| w.numel() as i64).sum())
}

/// A copy of `trained` (an `arch`) pruned by OBD to `keep` weights in `steps` steps, retrained
/// on the labels with `retrain` after each (its seed plus the step's number).
pub fn prune_image_model(
    trained: &TrainedImageModel,
    arch: &ImageArch,
    data: &ImageData,
    keep: i64,
    steps: usize,
    retrain: &ImageTrainConfig,
) -> Result<PrunedImageModel, TrainError> {
    let pruning = |e: PruneError| TrainError::Config(format!("teacher-obd: {e}"));
    let vs = nn::VarStore::new(trained.vs.device());
    let model = arch.build(&vs.root(), data.shape)?;
    let (best_epoch, epochs_run, best_val_acc) = (trained.best_epoch, trained.epochs_run, trained.best_val_acc);
    let mut copy = TrainedImageModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: 0.0 };
    copy.vs.copy(&trained.vs).map_err(gdistill_models::ModelError::from)?;
    let weights = store_weights(&copy.vs);
    let refs: Vec<&Tensor> = weights.iter().collect();
    // Weights already zero count as pruned, as in the graphs' schedule.
    let mut masks = Masks::from_zeros_of(&refs);
    let schedule = keep_schedule(masks.kept(), keep, steps).map_err(pruning)?;
    let start = std::time::Instant::now();
    for (step, &count) in schedule.iter().enumerate() {
        let fisher = image_fisher_diagonal(copy.model.as_ref(), data, &refs, retrain.batch_size).map_err(pruning)?;
        masks = prune_to_count(&obd_saliency(&fisher, &refs), &masks, count).map_err(pruning)?.0;
        masks.apply_to(&refs);
        let settings = ImageTrainConfig { seed: retrain.seed.wrapping_add(step as u64), ..retrain.clone() };
        copy = retrain_image_masked(copy, data, &ImageObjective::Labels, &settings, &masks, &mut |_| {})?;
    }
    copy.train_seconds = start.elapsed().as_secs_f64();
    let others: i64 = copy.vs.variables().values().filter(|v| v.dim() < 2).map(|v| v.numel() as i64).sum();
    let weight_bytes = csr_store_bytes(&copy.vs);
    Ok(PrunedImageModel { params: masks.kept() + others, weight_bytes, trained: copy, masks })
}

/// The empirical Fisher diagonal of the training cross-entropy in `weights`, over the
/// training images in order, `batch_size` at a time, without dropout or jitter.
pub fn image_fisher_diagonal(
    model: &dyn ImageModel,
    data: &ImageData,
    weights: &[&Tensor],
    batch_size: usize,
) -> Result<Vec<Tensor>, PruneError> {
    let n = data.train.size()[0];
    if batch_size == 0 {
        return Err(PruneError::Config("the Fisher estimate needs a batch size of at least 1".into()));
    }
    let batch = batch_size as i64;
    let losses = (0..n).step_by(batch_size).map(|first| {
        let ids = data.train.narrow(0, first, batch.min(n - first));
        let (images, labels) = data.batch(&ids);
        (cross_entropy(&model.forward_t(&images, false).logits, &labels), ids.size()[0])
    });
    empirical_fisher(weights, losses)
}
