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

use serde::{Deserialize, Serialize};
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

/// How RSD measures the similarity of two nodes' representations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsdSimilarity {
    /// Inner products, as the paper and its code: the loss scales with the square of the
    /// teacher's hidden magnitudes, so its weight must be found per teacher and dataset (0.1
    /// collapsed a Cora student here, docs/nosmog.md).
    #[default]
    Inner,
    /// Cosines (rows scaled to unit length first): every entry lies in [-1, 1] whatever the
    /// teacher's scale, so one weight means the same on every dataset. Not the paper's.
    Cosine,
}

impl RsdSimilarity {
    /// Whether this is the paper's (a config leaves it out).
    pub fn is_inner(&self) -> bool {
        *self == RsdSimilarity::Inner
    }
}

/// [`rsd_loss`] with the similarity `similarity`.
pub fn rsd_loss_with(teacher: &Tensor, student: &Tensor, similarity: RsdSimilarity) -> Tensor {
    match similarity {
        RsdSimilarity::Inner => rsd_loss(teacher, student),
        RsdSimilarity::Cosine => rsd_loss(&unit_rows(teacher), &unit_rows(student)),
    }
}

/// Rows scaled to unit L2 length; a zero row stays zero (an all-zero ReLU output has no
/// direction). The floor sits under the square root, whose slope at 0 is infinite, so that a
/// zero row's gradient stays finite.
fn unit_rows(h: &Tensor) -> Tensor {
    h / h.square().sum_dim_intlist(1, true, h.kind()).clamp_min(1e-24).sqrt()
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
