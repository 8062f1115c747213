//! Representation similarity distillation (RSD; NOSMOG, Tian et al. ICLR 2023).
//!
//! Soft targets tell the student what the teacher concludes about each node on its own; RSD
//! tells it how the teacher relates nodes to one another. Over a mini-batch of `B` nodes, the
//! teacher's similarities are the Gram matrix `S_T = H_T H_T^T` of its last hidden layer, the
//! student's `S_M = P P^T` with `P = ReLU(H_M W + b)`, a learned projection of the student's
//! hidden layer (trained with the student, dropped after training). The loss is the mean of
//! `(S_T - S_M)^2` over the `B x B` entries.
//!
//! Rows are not normalised before the product, in the paper and in its code alike: the
//! teacher's similarities keep their scale, and the projection learns to match it. The paper
//! writes the loss as the squared Frobenius norm (a sum over the entries); its code, whose
//! weights (0.1 on Cora and Citeseer) we take, averages them. The mean keeps the weight
//! independent of the batch size (an epoch's last batch is smaller).
//!
//! ```
//! use gdistill_distill::students::rsd::rsd_loss;
//! use tch::Tensor;
//! let teacher = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 2.0]).view([2, 2]);
//! // A rotation of the teacher's features (here: swapping the axes) has its similarities.
//! let student = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 0.0]).view([2, 2]);
//! assert!(rsd_loss(&teacher, &student).double_value(&[]).abs() < 1e-6);
//! ```

use tch::{nn, Tensor};

/// `h h^T`: the inner products of every pair of rows of `h` (`[B, d]` -> `[B, B]`).
pub fn gram(h: &Tensor) -> Tensor {
    h.matmul(&h.tr())
}

/// Mean over the `B x B` entries of `(gram(teacher) - gram(student))^2`. The two may have
/// different widths; only their rows (the batch's nodes, in the same order) must match.
pub fn rsd_loss(teacher: &Tensor, student: &Tensor) -> Tensor {
    (gram(teacher) - gram(student)).square().mean(student.kind())
}

/// The student's learned projection into the space whose similarities are matched: one
/// linear layer and a ReLU, as in the paper. The code's projection ends in dropout as well;
/// ours does not, so that the similarities matched are those of the whole network.
#[derive(Debug)]
pub struct Projection {
    pub weight: Tensor,
    pub bias: Tensor,
}

impl Projection {
    /// A `[in_dim] -> [out_dim]` projection under `path`, initialised as the models' layers are.
    pub fn new(path: &nn::Path, in_dim: i64, out_dim: i64) -> Projection {
        let layer = gdistill_models::Dense::new(path, in_dim, out_dim);
        Projection { weight: layer.weight, bias: layer.bias }
    }

    /// `ReLU(h W + b)`.
    pub fn forward(&self, h: &Tensor) -> Tensor {
        (h.matmul(&self.weight) + &self.bias).relu()
    }
}
