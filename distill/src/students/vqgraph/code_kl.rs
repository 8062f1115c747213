//! VQGraph's code distillation: the teacher's soft assignment of each node over the codebook,
//! `softmax_k(-||z_i - e_k||^2 / tau)`, taught to the student through a learned projection `W`
//! of its hidden layer, `softmax_k(-||W h_i - e_k||^2 / tau)`, by `KL(teacher || student)`
//! averaged over the nodes (the same nodes, in the same order, on both sides; one distance,
//! squared Euclidean, on both sides).
//!
//! ```
//! use gdistill_distill::students::vqgraph::code_distillation_loss;
//! use tch::Tensor;
//! let codebook = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0]).view([3, 2]);
//! let teacher = Tensor::from_slice(&[0.2f32, 0.1, 0.9, 0.4]).view([2, 2]);
//! // A student whose projection lands where the teacher's outputs are pays nothing ...
//! assert!(code_distillation_loss(&teacher, &teacher, &codebook, 0.5).double_value(&[]).abs() < 1e-6);
//! // ... and one elsewhere pays a positive KL.
//! let other = Tensor::from_slice(&[0.0f32, 1.0, 0.0, 1.0]).view([2, 2]);
//! assert!(code_distillation_loss(&other, &teacher, &codebook, 0.5).double_value(&[]) > 0.1);
//! ```

use tch::Tensor;

use super::quantize::squared_distances;
use crate::losses::soft_target_loss;

/// `[N, K]` logits of the soft code assignment at temperature `tau`: `-||z_i - e_k||^2`
/// (the softmax at `tau` of these is the assignment).
pub fn code_logits(z: &Tensor, codebook: &Tensor) -> Tensor {
    -squared_distances(z, codebook)
}

/// `mean_i KL(p_teacher,i || p_student,i)` with `p_i = softmax(-||z_i - e||^2 / tau)`, where
/// `student` is the student's projected hidden layer and `teacher` the tokenizer's outputs
/// for the same nodes, row for row. It is [`soft_target_loss`] at temperature `tau` on the
/// negated distances, without its `tau^2` factor: a plain KL.
pub fn code_distillation_loss(student: &Tensor, teacher: &Tensor, codebook: &Tensor, tau: f64) -> Tensor {
    let teacher = tch::no_grad(|| code_logits(teacher, codebook));
    soft_target_loss(&code_logits(student, codebook), &teacher, tau) / (tau * tau)
}
