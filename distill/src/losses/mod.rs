//! Losses for training and distilling node classifiers, as plain functions on logits.
//!
//! Soft targets follow Hinton, Vinyals & Dean (2015): teacher and student softmaxes at the same
//! temperature `T`, the KL term scaled by `T^2` so its gradients keep their size as `T` grows.
//! KL is averaged per example ("batchmean"), not per entry.
//!
//! ```
//! use gdistill_distill::soft_target_loss;
//! use tch::{Device, Kind, Tensor};
//! let teacher = Tensor::from_slice(&[2.0f32, 0.0, -1.0]).view([1, 3]);
//! // a student equal to its teacher pays nothing
//! let loss = soft_target_loss(&teacher, &teacher, 4.0);
//! assert!(loss.double_value(&[]).abs() < 1e-6);
//! ```

pub mod lsp;

use tch::{Reduction, Tensor};

/// Mean cross-entropy of `logits` (`[n, classes]`) against integer `labels` (`[n]`).
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Tensor {
    logits.log_softmax(-1, logits.kind()).nll_loss(labels)
}

/// `T^2 * KL(softmax(teacher/T) || softmax(student/T))`, averaged over the rows.
pub fn soft_target_loss(student_logits: &Tensor, teacher_logits: &Tensor, temperature: f64) -> Tensor {
    let teacher_log_probs = (teacher_logits / temperature).log_softmax(-1, teacher_logits.kind());
    soft_target_loss_from_log_probs(student_logits, &teacher_log_probs, temperature)
}

/// As [`soft_target_loss`], with the teacher's tempered log-probabilities computed once beforehand
/// (they are constant during distillation).
pub fn soft_target_loss_from_log_probs(
    student_logits: &Tensor,
    teacher_log_probs: &Tensor,
    temperature: f64,
) -> Tensor {
    let student_log_probs = (student_logits / temperature).log_softmax(-1, student_logits.kind());
    // tch's kl_div has no batchmean: sum, then divide by the number of rows.
    let rows = student_logits.size()[0].max(1) as f64;
    let kl = student_log_probs.kl_div(teacher_log_probs, Reduction::Sum, true) / rows;
    kl * (temperature * temperature)
}

/// Logit matching (Bucilua et al. 2006; the high-temperature limit of soft targets):
/// mean squared error between student and teacher logits.
pub fn logit_matching_loss(student_logits: &Tensor, teacher_logits: &Tensor) -> Tensor {
    student_logits.mse_loss(teacher_logits, Reduction::Mean)
}

/// `alpha * hard + (1 - alpha) * soft`, the usual blend of label and teacher terms.
pub fn blend(alpha: f64, hard: Tensor, soft: Tensor) -> Tensor {
    hard * alpha + soft * (1.0 - alpha)
}

/// `sum ||W||^2 / 2` over `weights`, times `weight_decay`: L2 regularisation written into the
/// loss, so that it can cover just the layers a recipe names (the GCN recipe: the first only).
/// Its gradient, `weight_decay * W`, is what Adam's coupled weight decay adds.
pub fn l2_penalty(weights: &[&Tensor], weight_decay: f64) -> Option<Tensor> {
    if weight_decay == 0.0 || weights.is_empty() {
        return None;
    }
    let sum = weights.iter().map(|w| w.square().sum(w.kind())).reduce(|a, b| a + b)?;
    Some(sum * (weight_decay / 2.0))
}
