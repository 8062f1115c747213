//! Diagonal second-order estimators of a loss with respect to a model's weight matrices.
//!
//! All four evaluate the model without dropout and hold the sparse adjacency (and the features)
//! constant; biases are not pruned and not differentiated. Each returns one tensor per weight
//! matrix, in `model.weights()` order.
//!
//! - [`HessianEstimator::Exact`]: `d2L/dw_k^2` by double backward, one Hessian-vector product per
//!   weight: the oracle, for small layers only.
//! - [`HessianEstimator::GaussNewton`]: OBD's second-order backprop with the Levenberg-Marquardt
//!   approximation (LeCun, Denker & Solla 1989), generalised to `a = A_hat (H W)`. Starting from
//!   the diagonal of the loss's Hessian in the logits (`D`), each layer's weights get
//!   `h(W) = (A_hat H)^2^T D` (the squared aggregated input; weight sharing across nodes sums the
//!   per-node terms), and `D` moves to the layer's input as `(A_hat^2)^T (D (W^2)^T)` times the
//!   squared activation slope (squares are element-wise). Deterministic, one backward's cost.
//!   Using the exact aggregated input `A_hat H` (instead of also squaring `A_hat` there) makes it
//!   exact for any single-layer model, which is linear in its weights.
//! - [`HessianEstimator::Fisher`]: the true Fisher (labels drawn from the model) for the same
//!   loss, `E[(J^T v)^2]` with `E[v v^T] = M` (see [`super::loss`]): an unbiased estimate of the
//!   Gauss-Newton diagonal `diag(J^T M J)`, one backward per sample.
//! - [`HessianEstimator::Hutchinson`]: `E[z * (H z)]` over Rademacher probes `z`: an unbiased
//!   estimate of the exact diagonal, one Hessian-vector product per probe.

use gdistill_models::{Arch, NodeFeatures, NodeModel};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::loss::PruneLoss;
use super::PruneError;
use crate::GraphData;

/// How the diagonal of the Hessian is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum HessianEstimator {
    Exact,
    GaussNewton,
    Fisher { samples: usize },
    Hutchinson { probes: usize },
}

/// The exact estimator's limit: one double backward per weight.
pub const MAX_EXACT_WEIGHTS: i64 = 20_000;

impl std::fmt::Display for HessianEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HessianEstimator::Exact => f.write_str("exact"),
            HessianEstimator::GaussNewton => f.write_str("gauss-newton"),
            HessianEstimator::Fisher { samples } => write!(f, "fisher({samples} samples)"),
            HessianEstimator::Hutchinson { probes } => write!(f, "hutchinson({probes} probes)"),
        }
    }
}

/// The diagonal of the Hessian of `loss` in `model`'s weight matrices at their current values.
/// `seed` fixes the draws of the Fisher and Hutchinson estimators.
pub fn hessian_diagonal(
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    estimator: HessianEstimator,
    seed: u64,
) -> Result<Vec<Tensor>, PruneError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    match estimator {
        HessianEstimator::GaussNewton => match model.config().arch {
            Arch::Gcn | Arch::Mlp => Ok(gauss_newton(model, data, loss)),
            // Its backward pass is written out for one linear map per layer, then A_hat.
            other => Err(PruneError::Config(format!(
                "the gauss-newton estimator is written for GCN and MLP layers, not {other}: \
                 use fisher, hutchinson, exact or magnitude"
            ))),
        },
        HessianEstimator::Exact => exact(model, data, loss),
        HessianEstimator::Fisher { samples } => {
            fisher(model, data, loss, positive(samples, "Fisher samples")?, &mut rng)
        }
        HessianEstimator::Hutchinson { probes } => {
            hutchinson(model, data, loss, positive(probes, "Hutchinson probes")?, &mut rng)
        }
    }
}

fn positive(count: usize, what: &str) -> Result<usize, PruneError> {
    if count == 0 {
        return Err(PruneError::Config(format!("{what} must be at least 1")));
    }
    Ok(count)
}

/// `d/dw` of `outputs` for each weight, keeping the graph; a weight the outputs do not depend on
/// gets zeros.
fn gradients(outputs: &Tensor, weights: &[&Tensor], create_graph: bool) -> Result<Vec<Tensor>, PruneError> {
    if !outputs.requires_grad() {
        return Ok(weights.iter().map(|w| w.zeros_like()).collect());
    }
    let grads = Tensor::f_run_backward(&[outputs], weights, true, create_graph)?;
    Ok(grads.into_iter().zip(weights).map(|(g, w)| if g.defined() { g } else { w.zeros_like() }).collect())
}

fn exact(model: &dyn NodeModel, data: &GraphData, loss: &PruneLoss) -> Result<Vec<Tensor>, PruneError> {
    let weights = model.weights();
    let total: i64 = weights.iter().map(|w| w.numel() as i64).sum();
    if total > MAX_EXACT_WEIGHTS {
        return Err(PruneError::Config(format!(
            "the exact Hessian diagonal takes one double backward per weight; this model has {total} weights \
             (limit {MAX_EXACT_WEIGHTS}): use gauss-newton, fisher or hutchinson"
        )));
    }
    let logits = model.forward_t(&data.features, &data.a_hat, false).logits;
    let value = loss.value(&logits, data);
    let grads = gradients(&value, &weights, true)?;
    let mut diagonal = Vec::with_capacity(weights.len());
    for (layer, (grad, weight)) in grads.iter().zip(&weights).enumerate() {
        let flat = grad.view([-1]);
        let mut entries = Vec::with_capacity(weight.numel());
        for k in 0..weight.numel() as i64 {
            let second = gradients(&flat.get(k), &weights[layer..=layer], false)?;
            entries.push(second[0].view([-1]).double_value(&[k]) as f32);
        }
        diagonal.push(Tensor::from_slice(&entries).view(weight.size().as_slice()).to_device(weight.device()));
    }
    Ok(diagonal)
}

fn gauss_newton(model: &dyn NodeModel, data: &GraphData, loss: &PruneLoss) -> Vec<Tensor> {
    tch::no_grad(|| {
        let out = model.forward_t(&data.features, &data.a_hat, false);
        let weights = model.weights();
        let graph = model.config().arch == Arch::Gcn;
        let a_squared = data.a_hat.with_values(data.a_hat.values().square());
        let mut curvature = loss.output_curvature_diagonal(&out.logits, data);
        let mut diagonal: Vec<Tensor> = Vec::with_capacity(weights.len());
        for layer in (0..weights.len()).rev() {
            let aggregated = match (layer, &data.features) {
                (0, NodeFeatures::Sparse(x)) if graph => data.a_hat.matmul(&x.to_dense()),
                (0, NodeFeatures::Sparse(x)) => x.to_dense(),
                (0, NodeFeatures::Dense(x)) if graph => data.a_hat.matmul(x),
                (0, NodeFeatures::Dense(x)) => x.shallow_clone(),
                (_, _) if graph => data.a_hat.matmul(&out.hidden[layer - 1]),
                (_, _) => out.hidden[layer - 1].shallow_clone(),
            };
            diagonal.push(aggregated.square().tr().matmul(&curvature));
            if layer > 0 {
                let back = curvature.matmul(&weights[layer].square().tr());
                let back = if graph { a_squared.matmul_transposed(&back) } else { back };
                // ReLU: slope 1 where the unit was on, 0 where off (its squared slope alike).
                curvature = back * out.hidden[layer - 1].gt(0.0).to_kind(Kind::Float);
            }
        }
        diagonal.reverse();
        diagonal
    })
}

fn fisher(
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    samples: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Tensor>, PruneError> {
    let weights = model.weights();
    let logits = model.forward_t(&data.features, &data.a_hat, false).logits;
    let mut sum: Vec<Tensor> = weights.iter().map(|w| w.zeros_like()).collect();
    for _ in 0..samples {
        let v = loss.sample_output_vector(&logits, data, rng);
        let grads = gradients(&(&logits * v).sum(Kind::Float), &weights, false)?;
        tch::no_grad(|| sum.iter_mut().zip(&grads).for_each(|(s, g)| *s += g.square()));
    }
    Ok(sum.into_iter().map(|s| s / samples as f64).collect())
}

fn hutchinson(
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    probes: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Tensor>, PruneError> {
    let weights = model.weights();
    let logits = model.forward_t(&data.features, &data.a_hat, false).logits;
    let grads = gradients(&loss.value(&logits, data), &weights, true)?;
    let mut sum: Vec<Tensor> = weights.iter().map(|w| w.zeros_like()).collect();
    for _ in 0..probes {
        let z: Vec<Tensor> = weights.iter().map(|w| rademacher(w, rng)).collect();
        let gz = grads.iter().zip(&z).map(|(g, z)| (g * z).sum(Kind::Float)).reduce(|a, b| a + b);
        let Some(gz) = gz else { break };
        let hz = gradients(&gz, &weights, false)?;
        tch::no_grad(|| sum.iter_mut().zip(z.iter().zip(&hz)).for_each(|(s, (z, hz))| *s += z * hz));
    }
    Ok(sum.into_iter().map(|s| s / probes as f64).collect())
}

/// Independent +-1 entries shaped like `like`, drawn on the host from `rng`.
fn rademacher(like: &Tensor, rng: &mut ChaCha8Rng) -> Tensor {
    let signs: Vec<f32> = (0..like.numel()).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
    Tensor::from_slice(&signs).view(like.size().as_slice()).to_device(like.device())
}

/// The empirical Fisher diagonal from mini-batch gradients, for a model of any shape:
/// `h_k = mean_b B_b (dL_b / dw_k)^2`, where `L_b` is the mean loss over mini-batch `b` of `B_b`
/// examples (`batch_losses` yields `(L_b, B_b)`, computed lazily so one batch's graph is alive
/// at a time). At a minimum of the mean loss a mini-batch gradient has zero mean and a variance
/// of the per-example Fisher over `B_b`, so `B_b g_b^2` estimates the per-example empirical
/// Fisher (the outer-product approximation of the mean loss's Hessian) at the cost of one
/// backward per batch rather than per example; away from a minimum it adds `(B_b - 1)` times
/// the squared mean gradient.
pub fn empirical_fisher(
    weights: &[&Tensor],
    batch_losses: impl IntoIterator<Item = (Tensor, i64)>,
) -> Result<Vec<Tensor>, PruneError> {
    let mut sum: Vec<Tensor> = weights.iter().map(|w| w.zeros_like().detach()).collect();
    let mut batches = 0usize;
    for (loss, size) in batch_losses {
        let grads = gradients(&loss, weights, false)?;
        tch::no_grad(|| sum.iter_mut().zip(&grads).for_each(|(s, g)| *s += g.square() * size as f64));
        batches += 1;
    }
    if batches == 0 {
        return Err(PruneError::Config("the Fisher estimate needs at least one batch".into()));
    }
    Ok(sum.into_iter().map(|s| s / batches as f64).collect())
}

/// OBD's saliencies `s_k = h_kk w_k^2 / 2` from a Hessian diagonal, matrix by matrix.
pub fn obd_saliency(hessian_diagonal: &[Tensor], weights: &[&Tensor]) -> Vec<Tensor> {
    tch::no_grad(|| hessian_diagonal.iter().zip(weights).map(|(h, w)| h * w.square() / 2.0).collect())
}
