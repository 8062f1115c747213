//! The loss whose curvature ranks the weights, and its second-order structure in logit space.
//!
//! Every loss here is a sum over nodes of a convex function of that node's logits `z_i`, so its
//! Hessian with respect to the logits is block-diagonal, one `C x C` block `M_i` per node:
//!
//! - labels: `(diag p_i - p_i p_i^T) / N` on the `N` training nodes, zero elsewhere (`p = softmax z`);
//! - soft targets: `(diag p_i - p_i p_i^T) / n` on all `n` nodes with `p = softmax(z / T)` (the
//!   `T^2` in front of the KL cancels the `1 / T^2` of the tempered softmax);
//! - logit matching (MSE, mean over `n * C` entries): `2 / (n C) I`.
//!
//! The Gauss-Newton matrix is `J^T M J` (`J`: Jacobian of the logits in the weights). OBD's
//! estimator reads the diagonal of `M`; the Fisher estimator draws vectors `v_i` with
//! `E[v_i v_i^T] = M_i`, zero mean and independent across nodes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tch::{Device, Kind, Tensor};

use crate::losses::{cross_entropy, logit_matching_loss, soft_target_loss_from_log_probs};
use crate::GraphData;

/// Which loss the saliencies are second derivatives of.
#[derive(Debug)]
pub enum PruneLoss {
    /// Mean cross-entropy on the training nodes' labels (what a teacher was trained on).
    Labels,
    /// `T^2 * KL(q_T(teacher) || q_T(model))` averaged over every node: the distillation loss.
    /// At a student that matches its teacher it has zero gradient, OBD's extremal assumption.
    SoftTargets { teacher_logits: Tensor, temperature: f64 },
    /// Mean squared error between the model's and the teacher's logits on every node.
    LogitMatching { teacher_logits: Tensor },
}

impl PruneLoss {
    /// The loss of `logits` (`[nodes, classes]`), differentiable.
    pub fn value(&self, logits: &Tensor, data: &GraphData) -> Tensor {
        match self {
            PruneLoss::Labels => {
                cross_entropy(&logits.index_select(0, &data.train), &data.labels.index_select(0, &data.train))
            }
            PruneLoss::SoftTargets { teacher_logits, temperature } => {
                let q = (teacher_logits / *temperature).log_softmax(-1, Kind::Float);
                soft_target_loss_from_log_probs(logits, &q, *temperature)
            }
            PruneLoss::LogitMatching { teacher_logits } => logit_matching_loss(logits, teacher_logits),
        }
    }

    /// The diagonal of every block `M_i`, as a `[nodes, classes]` tensor (no gradient).
    pub fn output_curvature_diagonal(&self, logits: &Tensor, data: &GraphData) -> Tensor {
        tch::no_grad(|| match self {
            PruneLoss::Labels => {
                let p = logits.softmax(-1, Kind::Float);
                let n = data.train.size()[0].max(1) as f64;
                (&p * (1.0 - &p) / n) * train_rows(data, logits)
            }
            PruneLoss::SoftTargets { temperature, .. } => {
                let p = (logits / *temperature).softmax(-1, Kind::Float);
                &p * (1.0 - &p) / logits.size()[0].max(1) as f64
            }
            PruneLoss::LogitMatching { .. } => logits.ones_like() * (2.0 / logits.numel().max(1) as f64),
        })
    }

    /// One draw of `v` (`[nodes, classes]`): independent across nodes, zero mean,
    /// `E[v_i v_i^T] = M_i`. For the softmax losses `v_i = (e_y - p_i) * sqrt(scale)` with the
    /// label `y` sampled from the model's own prediction (the true Fisher, not the empirical one).
    pub fn sample_output_vector(&self, logits: &Tensor, data: &GraphData, rng: &mut ChaCha8Rng) -> Tensor {
        tch::no_grad(|| match self {
            PruneLoss::Labels => {
                let p = logits.softmax(-1, Kind::Float);
                let n = data.train.size()[0].max(1) as f64;
                (sample_one_hot(&p, rng) - &p) * train_rows(data, logits) * (1.0 / n).sqrt()
            }
            PruneLoss::SoftTargets { temperature, .. } => {
                let p = (logits / *temperature).softmax(-1, Kind::Float);
                (sample_one_hot(&p, rng) - &p) * (1.0 / logits.size()[0].max(1) as f64).sqrt()
            }
            PruneLoss::LogitMatching { .. } => {
                let values: Vec<f32> = (0..logits.numel()).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
                Tensor::from_slice(&values).view(logits.size().as_slice()).to_device(logits.device())
                    * (2.0 / logits.numel().max(1) as f64).sqrt()
            }
        })
    }
}

/// A `[nodes, 1]` column: 1 on training nodes, 0 elsewhere.
fn train_rows(data: &GraphData, logits: &Tensor) -> Tensor {
    let rows = Tensor::zeros([logits.size()[0], 1], (Kind::Float, logits.device()));
    rows.index_fill(0, &data.train, 1.0)
}

/// One-hot rows `e_y` with `y ~ Categorical(p_i)` for every row `i`, drawn on the host from `rng`
/// (so that a seed fixes the draw whatever else uses libtorch's global generator).
fn sample_one_hot(p: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
    let (rows, classes) = (p.size()[0] as usize, p.size()[1] as usize);
    let probs = Vec::<f32>::try_from(p.to_device(Device::Cpu).contiguous().view([-1])).unwrap_or_default();
    let mut one_hot = vec![0f32; rows * classes];
    for (i, row) in probs.chunks_exact(classes).enumerate() {
        let u: f32 = rng.random();
        let mut cumulative = 0.0;
        let mut chosen = classes - 1; // rounding can leave the cumulative sum just under 1
        for (c, &pc) in row.iter().enumerate() {
            cumulative += pc;
            if u < cumulative {
                chosen = c;
                break;
            }
        }
        one_hot[i * classes + chosen] = 1.0;
    }
    Tensor::from_slice(&one_hot).view([rows as i64, classes as i64]).to_device(p.device())
}
