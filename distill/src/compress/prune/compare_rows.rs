//! "Distil or prune?": the pruned rows of `gdistill compare`.
//!
//! `teacher-obd` prunes the seed's trained teacher with OBD down to as many non-zero weights as
//! the small GCN student has, retraining it on the labels; `gcn-small+kd+obd` prunes the seed's
//! distilled small GCN to `student_sparsity`, with saliencies and retraining on its distillation
//! loss (at a converged student that loss has zero gradient, as OBD assumes).

use gdistill_models::{ModelConfig, NodeModel};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::{prune_and_retrain, HessianEstimator, PruneError, PruneLoss, PruneMethod, PruneSettings, Schedule};
use super::{PrunedPoint, ThresholdScope};
use crate::compare::{CompareConfig, KdLoss};
use crate::{GraphData, Objective, TrainError, Trained};

/// The pruned rows' settings in a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneRowsConfig {
    /// Add the rows `teacher-obd` and `gcn-small+kd+obd`.
    pub rows: bool,
    pub estimator: HessianEstimator,
    /// Pruning-and-retraining steps to reach each row's sparsity.
    pub steps: usize,
    /// Sparsity of `gcn-small+kd+obd`.
    pub student_sparsity: f64,
}

impl Default for PruneRowsConfig {
    fn default() -> Self {
        PruneRowsConfig { rows: true, estimator: HessianEstimator::GaussNewton, steps: 2, student_sparsity: 0.5 }
    }
}

impl PruneRowsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.steps == 0 {
            return Err("prune.steps must be at least 1".into());
        }
        super::check_target(self.student_sparsity).map_err(|e| format!("prune.student_sparsity: {e}"))
    }
}

/// A pruned copy of a trained model, and what it took.
pub(crate) struct PrunedModel {
    _vs: nn::VarStore,
    pub model: Box<dyn NodeModel>,
    pub point: PrunedPoint,
    pub seconds: f64,
    /// Non-zero weights plus biases.
    pub params: i64,
}

/// Entries of the weight matrices pruning acts on (every family lays them out differently:
/// counting a built model's matrices is the one way that cannot drift from the models).
fn weight_entries(config: &ModelConfig) -> i64 {
    let vs = nn::VarStore::new(tch::Device::Cpu);
    config.build(&vs.root()).map_or(0, |m| m.weights().iter().map(|w| w.numel() as i64).sum())
}

/// The sparsity that leaves `teacher` with as many weight entries as `student` has.
pub(crate) fn matching_sparsity(teacher: &ModelConfig, student: &ModelConfig) -> f64 {
    (1.0 - weight_entries(student) as f64 / weight_entries(teacher) as f64).clamp(0.0, 0.999)
}

/// `teacher-obd`: the teacher pruned to `sparsity` and retrained on its labels.
pub(crate) fn prune_teacher(
    teacher: &Trained,
    data: &GraphData,
    config: &CompareConfig,
    sparsity: f64,
    seed: u64,
) -> Result<PrunedModel, TrainError> {
    let retrain = crate::TrainConfig { seed, ..config.teacher_training.clone() };
    prune_copy(teacher, data, &PruneLoss::Labels, &Objective::labels(), sparsity, &config.prune, retrain, seed)
}

/// `gcn-small+kd+obd`: the distilled student pruned on its distillation loss and retrained on it.
pub(crate) fn prune_distilled(
    student: &Trained,
    teacher_logits: &Tensor,
    data: &GraphData,
    config: &CompareConfig,
    seed: u64,
) -> Result<PrunedModel, TrainError> {
    let logits = teacher_logits.shallow_clone();
    let (loss, objective) = match config.kd_loss {
        KdLoss::SoftTargets => (
            PruneLoss::SoftTargets { teacher_logits: logits.shallow_clone(), temperature: config.temperature },
            Objective::soft_targets(logits, config.temperature, config.alpha),
        ),
        KdLoss::Logits => (
            PruneLoss::LogitMatching { teacher_logits: logits.shallow_clone() },
            Objective::logit_matching(logits, config.alpha),
        ),
    };
    let retrain = crate::TrainConfig { seed, ..config.student_training_for(true, true) };
    let sparsity = config.prune.student_sparsity;
    prune_copy(student, data, &loss, &objective, sparsity, &config.prune, retrain, seed)
}

#[allow(clippy::too_many_arguments)]
fn prune_copy(
    trained: &Trained,
    data: &GraphData,
    loss: &PruneLoss,
    objective: &Objective,
    sparsity: f64,
    rows: &PruneRowsConfig,
    retrain: crate::TrainConfig,
    seed: u64,
) -> Result<PrunedModel, TrainError> {
    let start = std::time::Instant::now();
    let mut vs = nn::VarStore::new(trained.vs.device());
    let model = trained.model.config().build(&vs.root())?;
    vs.copy(&trained.vs).map_err(gdistill_models::ModelError::from)?;
    let settings = PruneSettings {
        method: PruneMethod::Obd { estimator: rows.estimator },
        scope: ThresholdScope::Global,
        schedule: Schedule::Iterative { steps: rows.steps },
        retrain,
        seed,
    };
    let (mut points, masks) = prune_and_retrain(&vs, model.as_ref(), data, loss, objective, &[sparsity], &settings)
        .map_err(|e| match e {
            PruneError::Train(e) => e,
            other => TrainError::Config(format!("pruning: {other}")),
        })?;
    let biases: i64 = model.config().layer_dims().iter().map(|(_, o)| o).sum();
    let point = points.pop().expect("one target, one point");
    Ok(PrunedModel { params: masks.kept() + biases, _vs: vs, model, point, seconds: start.elapsed().as_secs_f64() })
}
