//! Pruning schedules: one-shot (each target straight from the trained model) and iterative
//! (prune a fraction, retrain, recompute saliencies, repeat), for OBD and the two baselines.
//!
//! Every step records, as the OBD paper does, the predicted loss increase (the summed saliency
//! of the deleted weights; OBD only) beside the actual increase, measured before retraining.

use gdistill_models::NodeModel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::mask::{check_target, prune_to_target, Masks, ThresholdScope};
use super::{hessian_diagonal, obd_saliency, HessianEstimator, PruneError, PruneLoss};
use crate::{accuracy, predict, retrain_masked, GraphData, Objective, TrainConfig};

/// What ranks the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PruneMethod {
    /// Optimal Brain Damage: saliency `h_kk w_k^2 / 2` with the diagonal from `estimator`.
    Obd { estimator: HessianEstimator },
    /// `|w_k|`: the baseline OBD must beat.
    Magnitude,
    /// Uniform random ranks: the floor.
    Random,
}

impl PruneMethod {
    /// The short name reports use: `obd`, `magnitude`, `random`.
    pub fn name(&self) -> &'static str {
        match self {
            PruneMethod::Obd { .. } => "obd",
            PruneMethod::Magnitude => "magnitude",
            PruneMethod::Random => "random",
        }
    }
}

/// How to reach the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Each target pruned in one step from the trained model, then retrained.
    OneShot,
    /// Targets visited in increasing order, each reached from the previous one in `steps` equal
    /// steps of pruning and retraining (saliencies recomputed at every step).
    Iterative { steps: usize },
}

#[derive(Clone, Debug)]
pub struct PruneSettings {
    pub method: PruneMethod,
    pub scope: ThresholdScope,
    pub schedule: Schedule,
    /// Retraining after each step (its seed fixes dropout).
    pub retrain: TrainConfig,
    /// Fixes the random ranks and the Fisher and Hutchinson draws.
    pub seed: u64,
}

/// One pruning step: from one sparsity to the next.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PruneStep {
    pub from: f64,
    pub to: f64,
    /// Summed saliency of the deleted weights (OBD only).
    pub predicted_dloss: Option<f64>,
    /// Loss after the deletion minus the loss before it, before retraining.
    pub actual_dloss: f64,
    /// The first-order term OBD assumes away: `-sum g_k w_k` over the deleted weights. Not small
    /// when the model was trained on another objective (weight decay, early stopping).
    pub first_order_dloss: f64,
}

/// The model at one target sparsity, after retraining.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PrunedPoint {
    pub target: f64,
    pub sparsity: f64,
    pub layer_sparsity: Vec<f64>,
    /// Kept weights (biases not counted).
    pub kept_weights: i64,
    /// Summed over the steps that led from the previous target (one-shot: from the trained model).
    pub predicted_dloss: Option<f64>,
    pub actual_dloss: f64,
    pub first_order_dloss: f64,
    pub val_acc: f64,
    pub test_acc: f64,
    pub steps: Vec<PruneStep>,
}

/// Prunes `model` (variables in `vs`) to each of `targets` and retrains it with `objective`.
/// `loss` is what the saliencies and the loss increases are measured on. The model is left at
/// the last target, its masks returned with the points. Weights that are already zero count as
/// pruned, so a pruned checkpoint (whose loader checks that its masks' weights are zero) goes on
/// from its masks.
pub fn prune_and_retrain(
    vs: &nn::VarStore,
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    objective: &Objective,
    targets: &[f64],
    settings: &PruneSettings,
) -> Result<(Vec<PrunedPoint>, Masks), PruneError> {
    let targets = sorted_targets(targets)?;
    if let Schedule::Iterative { steps: 0 } = settings.schedule {
        return Err(PruneError::Config("an iterative schedule needs at least 1 step per target".into()));
    }
    let original: Vec<(String, Tensor)> =
        tch::no_grad(|| vs.variables().into_iter().map(|(name, v)| (name, v.copy())).collect());
    let mut masks = Masks::from_zeros(model);
    let start = masks.sparsity();
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let one_shot_saliency = match settings.schedule {
        Schedule::OneShot => Some(saliency(model, data, loss, settings, &mut rng)?),
        Schedule::Iterative { .. } => None,
    };
    let mut points = Vec::with_capacity(targets.len());
    let mut previous = start;
    for &target in &targets {
        let mut steps = Vec::new();
        match (&one_shot_saliency, settings.schedule) {
            (Some(ranks), _) => {
                restore(vs, &original);
                masks = Masks::from_zeros(model);
                if target > masks.sparsity() {
                    masks = step(model, data, loss, ranks, &masks, target, settings, &mut steps)?;
                }
            }
            (None, Schedule::Iterative { steps: count }) => {
                for j in 1..=count {
                    let to = previous + (target - previous) * j as f64 / count as f64;
                    if to <= masks.sparsity() {
                        continue;
                    }
                    let ranks = saliency(model, data, loss, settings, &mut rng)?;
                    masks = step(model, data, loss, &ranks, &masks, to, settings, &mut steps)?;
                    if j < count {
                        retrain_masked(vs, model, data, objective, &settings.retrain, &masks.0, &mut |_| {})?;
                    }
                }
            }
            (None, Schedule::OneShot) => unreachable!("one-shot saliencies are computed first"),
        }
        if !steps.is_empty() {
            retrain_masked(vs, model, data, objective, &settings.retrain, &masks.0, &mut |_| {})?;
        }
        let logits = predict(model, data);
        points.push(PrunedPoint {
            target,
            sparsity: masks.sparsity(),
            layer_sparsity: masks.layer_sparsity(),
            kept_weights: masks.kept(),
            predicted_dloss: match settings.method {
                // `+ 0.0`: an empty float sum is -0.0
                PruneMethod::Obd { .. } => {
                    steps.iter().map(|s| s.predicted_dloss).sum::<Option<f64>>().map(|v| v + 0.0)
                }
                _ => None,
            },
            actual_dloss: steps.iter().map(|s| s.actual_dloss).sum::<f64>() + 0.0,
            first_order_dloss: steps.iter().map(|s| s.first_order_dloss).sum::<f64>() + 0.0,
            val_acc: accuracy(&logits, &data.labels, &data.val),
            test_acc: accuracy(&logits, &data.labels, &data.test),
            steps,
        });
        previous = target.max(previous);
    }
    Ok((points, masks))
}

/// Deletes weights down to `to`, recording the predicted and actual loss increases.
#[allow(clippy::too_many_arguments)]
fn step(
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    ranks: &Ranks,
    from: &Masks,
    to: f64,
    settings: &PruneSettings,
    steps: &mut Vec<PruneStep>,
) -> Result<Masks, PruneError> {
    let before = loss_value(model, data, loss);
    let (masks, removed) = prune_to_target(&ranks.values, from, to, settings.scope)?;
    let first_order = first_order_term(model, data, loss, from, &masks)?;
    masks.apply(model);
    let after = loss_value(model, data, loss);
    steps.push(PruneStep {
        from: from.sparsity(),
        to: masks.sparsity(),
        predicted_dloss: ranks.is_loss.then_some(removed),
        actual_dloss: after - before,
        first_order_dloss: first_order,
    });
    Ok(masks)
}

/// Ranks of the weights; for OBD they are predicted loss increases.
struct Ranks {
    values: Vec<Tensor>,
    is_loss: bool,
}

fn saliency(
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    settings: &PruneSettings,
    rng: &mut ChaCha8Rng,
) -> Result<Ranks, PruneError> {
    let weights = model.weights();
    let values = match settings.method {
        PruneMethod::Obd { estimator } => {
            let h = hessian_diagonal(model, data, loss, estimator, rng.random())?;
            obd_saliency(&h, &weights)
        }
        PruneMethod::Magnitude => tch::no_grad(|| weights.iter().map(|w| w.abs()).collect()),
        PruneMethod::Random => weights
            .iter()
            .map(|w| {
                let u: Vec<f32> = (0..w.numel()).map(|_| rng.random()).collect();
                Tensor::from_slice(&u).view(w.size().as_slice()).to_device(w.device())
            })
            .collect(),
    };
    Ok(Ranks { values, is_loss: matches!(settings.method, PruneMethod::Obd { .. }) })
}

/// `-sum g_k w_k` over the weights `from` keeps and `to` deletes (`g`: the loss's gradient).
fn first_order_term(
    model: &dyn NodeModel,
    data: &GraphData,
    loss: &PruneLoss,
    from: &Masks,
    to: &Masks,
) -> Result<f64, PruneError> {
    let weights = model.weights();
    let value = loss.value(&model.forward_t(&data.features, &data.a_hat, false).logits, data);
    let grads = Tensor::f_run_backward(&[value], &weights, false, false)?;
    Ok(tch::no_grad(|| {
        let mut total = 0.0;
        for ((g, w), (a, b)) in grads.iter().zip(&weights).zip(from.0.iter().zip(&to.0)) {
            if g.defined() {
                total -= (g * *w * (a - b)).sum(tch::Kind::Double).double_value(&[]);
            }
        }
        total
    }))
}

fn loss_value(model: &dyn NodeModel, data: &GraphData, loss: &PruneLoss) -> f64 {
    tch::no_grad(|| loss.value(&model.forward_t(&data.features, &data.a_hat, false).logits, data).double_value(&[]))
}

/// Copies saved values back into the variables of the same names.
fn restore(vs: &nn::VarStore, values: &[(String, Tensor)]) {
    let variables = vs.variables();
    tch::no_grad(|| {
        for (name, value) in values {
            if let Some(var) = variables.get(name) {
                var.shallow_clone().copy_(value);
            }
        }
    });
}

/// Targets checked, sorted and without repeats.
fn sorted_targets(targets: &[f64]) -> Result<Vec<f64>, PruneError> {
    if targets.is_empty() {
        return Err(PruneError::Config("no sparsity targets given".into()));
    }
    for &t in targets {
        check_target(t)?;
    }
    let mut sorted = targets.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    Ok(sorted)
}
