//! Full-batch training of a node classifier, from labels or from a teacher.
//!
//! Adam; L2 weight decay on the layers a recipe names; early stopping on validation accuracy
//! (ties broken by validation loss) with patience, and the best-validation weights restored at
//! the end. The loop touches the host once per epoch, to read three scalars.

use std::time::Instant;

use gdistill_models::{record_sparse_products, ModelConfig, ModelError, ModelOutput, NodeModel};
use serde::{Deserialize, Serialize};
use tch::{nn, nn::OptimizerConfig, Device, Tensor};

use crate::losses::lsp::{lsp_loss_to, EdgeList, KlDirection, LspKernel, TeacherStructure};
use crate::losses::{cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss_from_log_probs};
use crate::students::gcrd::{GcrdHeads, GcrdTerm};
use crate::training::early_stopping::{EarlyStopping, Selection};
use crate::training::resumable::ResumableRun;
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
    /// Rescale the gradients so that their global L2 norm is at most this, before each step.
    #[serde(default)]
    pub clip_grad_norm: Option<f64>,
    /// Which validation figure picks the kept epoch (and resets patience).
    #[serde(default, skip_serializing_if = "Selection::is_val_acc")]
    pub select: Selection,
}

impl TrainConfig {
    /// Checks that the settings can train at all; the message names the bad setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!("lr must be positive and finite, got {}", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(format!("weight_decay must be non-negative and finite, got {}", self.weight_decay));
        }
        if let Some(max) = self.clip_grad_norm.filter(|m| !(m.is_finite() && *m > 0.0)) {
            return Err(format!("clip_grad_norm must be positive and finite, got {max}"));
        }
        Ok(())
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 200,
            lr: 0.01,
            weight_decay: 5e-4,
            decay_all_layers: false,
            patience: Some(100),
            seed: 0,
            clip_grad_norm: None,
            select: Selection::ValAcc,
        }
    }
}

/// What the model is trained to fit:
/// `alpha * CE(train labels) + (1 - alpha) * teacher term + lsp.weight * LSP + gcrd.weight * G-CRD`.
/// Without a teacher term the label loss has weight 1.
#[derive(Debug)]
pub struct Objective {
    pub alpha: f64,
    pub teacher: Option<TeacherTarget>,
    pub lsp: Option<LspTerm>,
    /// Contrastive representation distillation ([`crate::students::gcrd`]).
    pub gcrd: Option<GcrdTerm>,
}

/// How a student is matched to its teacher's logits, on every node (the transfer set).
#[derive(Debug)]
pub enum TeacherTarget {
    /// `T^2 * KL(q_T(teacher) || q_T(student))`.
    SoftTargets { teacher_logits: Tensor, temperature: f64 },
    /// `MSE(student logits, teacher logits)`.
    LogitMatching { teacher_logits: Tensor },
}

impl TeacherTarget {
    fn logits(&self) -> &Tensor {
        match self {
            TeacherTarget::SoftTargets { teacher_logits, .. } | TeacherTarget::LogitMatching { teacher_logits } => {
                teacher_logits
            }
        }
    }
}

/// Local structure preservation against the teacher's hidden features (see [`crate::losses::lsp`]).
#[derive(Debug)]
pub struct LspTerm {
    /// The teacher's hidden features at the matched layer, one row per node.
    pub teacher_hidden: Tensor,
    /// Which of the student's hidden layers is matched; negative counts from the last.
    pub student_layer: i64,
    pub edges: EdgeList,
    pub kernel: LspKernel,
    pub direction: KlDirection,
    pub weight: f64,
    /// The term is dropped from this epoch on (the authors' code stops it after 30 epochs).
    pub until_epoch: Option<usize>,
}

impl Objective {
    /// Cross-entropy on the training nodes' labels.
    pub fn labels() -> Objective {
        Objective { alpha: 1.0, teacher: None, lsp: None, gcrd: None }
    }

    /// `alpha * CE + (1 - alpha) * T^2 * KL(q_T(teacher) || q_T(student))` (Hinton et al. 2015).
    pub fn soft_targets(teacher_logits: Tensor, temperature: f64, alpha: f64) -> Objective {
        Objective {
            alpha,
            teacher: Some(TeacherTarget::SoftTargets { teacher_logits, temperature }),
            lsp: None,
            gcrd: None,
        }
    }

    /// `alpha * CE + (1 - alpha) * MSE(logits)` (Bucilua et al. 2006).
    pub fn logit_matching(teacher_logits: Tensor, alpha: f64) -> Objective {
        Objective { alpha, teacher: Some(TeacherTarget::LogitMatching { teacher_logits }), lsp: None, gcrd: None }
    }

    /// Checks the weights and the temperature; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(format!("alpha must be in [0, 1], got {}", self.alpha));
        }
        if let Some(TeacherTarget::SoftTargets { temperature, .. }) = &self.teacher {
            if !(temperature.is_finite() && *temperature > 0.0) {
                return Err(format!("the temperature must be positive and finite, got {temperature}"));
            }
        }
        if let Some(lsp) = &self.lsp {
            if !(lsp.weight.is_finite() && lsp.weight >= 0.0) {
                return Err(format!("the LSP weight must be non-negative and finite, got {}", lsp.weight));
            }
        }
        if let Some(gcrd) = &self.gcrd {
            gcrd.config.validate_for(gcrd.teacher_hidden.size().first().copied().unwrap_or(0))?;
        }
        Ok(())
    }

    /// Adds local structure preservation.
    pub fn with_lsp(self, lsp: LspTerm) -> Objective {
        Objective { lsp: Some(lsp), ..self }
    }

    /// Adds graph contrastive representation distillation.
    pub fn with_gcrd(self, gcrd: GcrdTerm) -> Objective {
        Objective { gcrd: Some(gcrd), ..self }
    }

    /// The weighted terms of the loss at `epoch` given the student's output, named (the loss is
    /// their sum; a diverging run is reported by the term that went non-finite first).
    fn loss_terms(
        &self,
        out: &ModelOutput,
        data: &GraphData,
        train_labels: &Tensor,
        teacher: &TeacherConstants,
        heads: Option<&GcrdHeads>,
        epoch: usize,
    ) -> Vec<(&'static str, Tensor)> {
        let (teacher_log_probs, teacher_structure) = (teacher.log_probs.as_ref(), teacher.structure.as_ref());
        let hard = cross_entropy(&out.logits.index_select(0, &data.train), train_labels);
        let mut terms = match &self.teacher {
            None => vec![("labels", hard)],
            Some(TeacherTarget::SoftTargets { temperature, .. }) => {
                let q = teacher_log_probs.expect("computed for soft targets");
                let soft = soft_target_loss_from_log_probs(&out.logits, q, *temperature);
                vec![("labels", hard * self.alpha), ("soft targets", soft * (1.0 - self.alpha))]
            }
            Some(TeacherTarget::LogitMatching { teacher_logits }) => {
                let matching = logit_matching_loss(&out.logits, teacher_logits);
                vec![("labels", hard * self.alpha), ("logit matching", matching * (1.0 - self.alpha))]
            }
        };
        if let Some(lsp) = self.lsp.as_ref().filter(|l| l.until_epoch.is_none_or(|e| epoch < e)) {
            let student = &out.hidden[hidden_index(lsp.student_layer, out.hidden.len())];
            let teacher = teacher_structure.expect("computed when there is an LSP term");
            terms.push(("LSP", lsp_loss_to(student, teacher, &lsp.edges, lsp.kernel, lsp.direction) * lsp.weight));
        }
        if let (Some(gcrd), Some(heads)) = (&self.gcrd, heads) {
            terms.push(("G-CRD", heads.loss(out.hidden.last().expect("checked before training"), gcrd)));
        }
        terms
    }
}

/// What the teacher contributes to the loss that does not change during training.
struct TeacherConstants {
    /// `log softmax(teacher logits / T)`.
    log_probs: Option<Tensor>,
    /// The teacher's local structure on the LSP edges.
    structure: Option<TeacherStructure>,
}

impl TeacherConstants {
    fn new(objective: &Objective) -> TeacherConstants {
        tch::no_grad(|| TeacherConstants {
            log_probs: match &objective.teacher {
                Some(TeacherTarget::SoftTargets { teacher_logits, temperature }) => {
                    Some((teacher_logits / *temperature).log_softmax(-1, teacher_logits.kind()))
                }
                _ => None,
            },
            structure: objective.lsp.as_ref().map(|l| TeacherStructure::new(&l.teacher_hidden, &l.edges, l.kernel)),
        })
    }
}

/// `layer` as an index into `len` hidden layers (negative counts from the end), if it is one.
pub fn checked_hidden_index(layer: i64, len: usize) -> Option<usize> {
    let index = if layer < 0 { len as i64 + layer } else { layer };
    (0..len as i64).contains(&index).then_some(index as usize)
}

fn hidden_index(layer: i64, len: usize) -> usize {
    checked_hidden_index(layer, len).expect("checked before training")
}

/// Why training stopped without a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] ModelError),
    /// `epoch` counts from 1, as the progress bar does.
    #[error(
        "the loss became {value} at epoch {epoch} (term: {term}): training diverged (learning \
         rate {lr} too high, or non-finite features or teacher logits; --clip-grad-norm may help)"
    )]
    NonFiniteLoss { epoch: usize, value: f64, term: &'static str, lr: f64 },
    #[error("{0}")]
    Mismatch(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    TooLarge(String),
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
    let mut run = ResumableRun::start(config, data, objective, settings)?;
    run.advance(data, objective, settings.epochs, on_epoch)?;
    Ok(run.finish())
}

/// How a retraining run went (the weights themselves are updated in place).
#[derive(Clone, Copy, Debug)]
pub struct Fitted {
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub best_val_acc: f64,
}

/// Continues training `model` (whose variables live in `vs`) from its current weights, holding
/// each weight matrix's pruned entries at zero: `masks[k]` (0 = pruned, 1 = kept, the shape of
/// `model.weights()[k]`) multiplies the gradient before every step and the weight after it.
/// The best-validation weights are restored at the end, as in [`train`].
pub fn retrain_masked(
    vs: &nn::VarStore,
    model: &dyn NodeModel,
    data: &GraphData,
    objective: &Objective,
    settings: &TrainConfig,
    masks: &[Tensor],
    on_epoch: &mut dyn FnMut(&EpochStats),
) -> Result<Fitted, TrainError> {
    check_inputs(model.config(), data, objective, settings)?;
    let weights = model.weights();
    if masks.len() != weights.len() || masks.iter().zip(&weights).any(|(m, w)| m.size() != w.size()) {
        return Err(TrainError::Mismatch(format!(
            "{} masks do not match the model's {} weight matrices",
            masks.len(),
            weights.len()
        )));
    }
    tch::manual_seed(settings.seed as i64);
    let mut state = LoopState::new(vs, model, data, objective, settings, Some(masks))?;
    state.run_until(model, data, objective, settings, Some(masks), settings.epochs, on_epoch)?;
    Ok(state.finish())
}

/// What the full-batch loop carries from one epoch to the next (Adam's moments, the
/// early-stopping record, the G-CRD heads), so that a run can stop at an epoch budget and go
/// on later as if it had not stopped.
pub(crate) struct LoopState {
    opt: nn::Optimizer,
    train_labels: Tensor,
    teacher: TeacherConstants,
    heads: Option<GcrdHeads>,
    stopping: EarlyStopping,
    pub epochs_run: usize,
    /// Early stopping ended the run.
    pub stopped: bool,
}

impl LoopState {
    pub(crate) fn new(
        vs: &nn::VarStore,
        model: &dyn NodeModel,
        data: &GraphData,
        objective: &Objective,
        settings: &TrainConfig,
        masks: Option<&[Tensor]>,
    ) -> Result<LoopState, TrainError> {
        let opt = nn::Adam::default().build(vs, settings.lr).map_err(ModelError::from)?;
        apply_masks(model, masks, false);
        let student_width = model.config().hidden.last().copied().unwrap_or(0);
        let heads = objective
            .gcrd
            .as_ref()
            .map(|g| GcrdHeads::for_term(g, student_width, settings.lr))
            .transpose()
            .map_err(ModelError::from)?;
        Ok(LoopState {
            opt,
            train_labels: data.labels.index_select(0, &data.train),
            teacher: TeacherConstants::new(objective),
            heads,
            stopping: EarlyStopping::selecting(vs, settings.patience, settings.select),
            epochs_run: 0,
            stopped: false,
        })
    }

    /// The best validation accuracy so far (0 before the first epoch).
    pub(crate) fn best_val_acc(&self) -> f64 {
        self.stopping.best_acc.max(0.0)
    }

    /// Trains until `until` epochs in all (at most `settings.epochs`) or until early stopping
    /// ends the run; a stopped run trains no more.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_until(
        &mut self,
        model: &dyn NodeModel,
        data: &GraphData,
        objective: &Objective,
        settings: &TrainConfig,
        masks: Option<&[Tensor]>,
        until: usize,
        on_epoch: &mut dyn FnMut(&EpochStats),
    ) -> Result<(), TrainError> {
        let weights = model.weights();
        let decayed = if settings.decay_all_layers { &weights[..] } else { &weights[..1] };
        while !self.stopped && self.epochs_run < until.min(settings.epochs) {
            let epoch = self.epochs_run;
            self.epochs_run = epoch + 1;
            let step_start = Instant::now();
            let (out, tape) = record_sparse_products(|| model.forward_t(&data.features, &data.a_hat, true));
            let mut terms =
                objective.loss_terms(&out, data, &self.train_labels, &self.teacher, self.heads.as_ref(), epoch);
            if let Some(penalty) = l2_penalty(decayed, settings.weight_decay) {
                terms.push(("weight decay", penalty));
            }
            let loss =
                terms.iter().map(|(_, t)| t.shallow_clone()).reduce(|a, b| a + b).expect("at least the label term");
            self.opt.zero_grad();
            if let Some(heads) = self.heads.as_mut() {
                heads.zero_grad();
            }
            tape.backward(&loss).map_err(ModelError::from)?;
            // A pruned weight gets no gradient (so Adam's moments stay zero for it) and is reset
            // to zero after the step (so nothing, not even rounding, revives it).
            apply_masks(model, masks, true);
            if let Some(max) = settings.clip_grad_norm {
                self.opt.clip_grad_norm(max);
            }
            self.opt.step();
            if let Some(heads) = self.heads.as_mut() {
                heads.step();
            }
            apply_masks(model, masks, false);
            if let Device::Cuda(index) = data.device {
                tch::Cuda::synchronize(index as i64); // so that step_seconds is the step, not its launch
            }
            let step_seconds = step_start.elapsed().as_secs_f64();

            let eval_start = Instant::now();
            let eval_logits = predict(model, data);
            let val_loss = tch::no_grad(|| {
                cross_entropy(&eval_logits.index_select(0, &data.val), &data.labels.index_select(0, &data.val))
            });
            let figures =
                Tensor::stack(&[loss.detach(), accuracy_tensor(&eval_logits, &data.labels, &data.val), val_loss], 0)
                    .to_device(Device::Cpu);
            let figures: Vec<f64> =
                Vec::<f32>::try_from(figures).map_err(ModelError::from)?.into_iter().map(f64::from).collect();
            let (loss_value, val_acc, val_loss) = (figures[0], figures[1], figures[2]);
            let eval_seconds = eval_start.elapsed().as_secs_f64();
            if !loss_value.is_finite() {
                let term =
                    terms.iter().find(|(_, t)| !t.double_value(&[]).is_finite()).map_or("the sum", |(name, _)| *name);
                return Err(TrainError::NonFiniteLoss { epoch: epoch + 1, value: loss_value, term, lr: settings.lr });
            }
            self.stopped = self.stopping.record(epoch, val_acc, val_loss, false);
            let best_val_acc = self.stopping.best_acc;
            on_epoch(&EpochStats { epoch, loss: loss_value, val_acc, best_val_acc, step_seconds, eval_seconds });
        }
        Ok(())
    }

    /// Ends the run: the best-validation weights go back into the model.
    pub(crate) fn finish(self) -> Fitted {
        let (best_epoch, epochs_run) = (self.stopping.best_epoch, self.epochs_run);
        Fitted { best_epoch, epochs_run, best_val_acc: self.stopping.restore() }
    }
}

/// Multiplies each weight matrix (or its gradient) by its mask, where there are masks.
fn apply_masks(model: &dyn NodeModel, masks: Option<&[Tensor]>, gradients: bool) {
    for (w, m) in model.weights().iter().zip(masks.unwrap_or_default()) {
        let target = if gradients { w.grad() } else { w.shallow_clone() };
        if target.defined() {
            let _ = tch::no_grad(|| target.shallow_clone().g_mul_(m));
        }
    }
}

/// What every full-batch run checks before it trains: the shapes, the settings, the objective.
pub(crate) fn check_inputs(
    config: &ModelConfig,
    data: &GraphData,
    objective: &Objective,
    settings: &TrainConfig,
) -> Result<(), TrainError> {
    check_shapes(config, data, objective)?;
    settings.validate().map_err(TrainError::Config)?;
    objective.validate().map_err(TrainError::Config)
}

pub(crate) fn check_shapes(config: &ModelConfig, data: &GraphData, objective: &Objective) -> Result<(), TrainError> {
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
    if let Some(t) = objective.teacher.as_ref().map(TeacherTarget::logits) {
        let expected = [data.num_nodes(), data.num_classes];
        if t.size() != expected {
            return Err(TrainError::Mismatch(format!(
                "teacher logits have shape {:?}, expected {:?} (one row per node, one column per class)",
                t.size(),
                expected
            )));
        }
    }
    if let Some(lsp) = &objective.lsp {
        let hidden_layers = config.hidden.len();
        if checked_hidden_index(lsp.student_layer, hidden_layers).is_none() {
            return Err(TrainError::Mismatch(format!(
                "LSP layer {} does not exist: the student has {hidden_layers} hidden layer(s)",
                lsp.student_layer
            )));
        }
        if lsp.teacher_hidden.size().first() != Some(&data.num_nodes()) || lsp.edges.num_nodes != data.num_nodes() {
            return Err(TrainError::Mismatch("LSP teacher features or edges do not cover the graph's nodes".into()));
        }
    }
    if let Some(gcrd) = &objective.gcrd {
        if config.hidden.is_empty() {
            return Err(TrainError::Mismatch("G-CRD matches the student's last hidden layer: it has none".into()));
        }
        let t = &gcrd.teacher_hidden;
        if t.dim() != 2 || t.size()[0] != data.num_nodes() {
            return Err(TrainError::Mismatch(format!(
                "G-CRD teacher features have shape {:?}, expected one row per node ({})",
                t.size(),
                data.num_nodes()
            )));
        }
    }
    Ok(())
}
