//! Pruning masks and the choice of which weights to delete.
//!
//! A mask is a 0/1 float tensor shaped like its weight matrix (0: pruned). Pruning never revives
//! a weight: a later, higher target deletes more among the weights still kept.

use gdistill_models::NodeModel;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::PruneError;

/// One mask per weight matrix of a model, in `model.weights()` order.
#[derive(Debug)]
pub struct Masks(pub Vec<Tensor>);

/// Where the pruning threshold is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdScope {
    /// One threshold over all weight matrices: the target is the fraction of all weights.
    Global,
    /// Each weight matrix loses the target fraction of its own weights.
    PerLayer,
}

impl Masks {
    /// Everything kept.
    pub fn keep_all(model: &dyn NodeModel) -> Masks {
        Masks::keep_all_of(&model.weights())
    }

    /// The masks of the zero entries of `model`'s weights (a pruned checkpoint, read back).
    pub fn from_zeros(model: &dyn NodeModel) -> Masks {
        Masks::from_zeros_of(&model.weights())
    }

    /// Sets the pruned weights of `model` to zero, in place.
    pub fn apply(&self, model: &dyn NodeModel) {
        self.apply_to(&model.weights());
    }

    /// [`Masks::keep_all`] for any list of weight tensors (a variable store's, [`super::store_weights`]).
    pub fn keep_all_of(weights: &[&Tensor]) -> Masks {
        Masks(weights.iter().map(|w| w.ones_like().detach()).collect())
    }

    /// [`Masks::from_zeros`] for any list of weight tensors.
    pub fn from_zeros_of(weights: &[&Tensor]) -> Masks {
        Masks(weights.iter().map(|w| w.not_equal(0.0).to_kind(Kind::Float).detach()).collect())
    }

    /// [`Masks::apply`] to any list of weight tensors, in the masks' order.
    pub fn apply_to(&self, weights: &[&Tensor]) {
        tch::no_grad(|| {
            for (w, m) in weights.iter().zip(&self.0) {
                let _ = w.shallow_clone().g_mul_(m);
            }
        });
    }

    pub fn shallow_clone(&self) -> Masks {
        Masks(self.0.iter().map(Tensor::shallow_clone).collect())
    }

    /// Number of weights in all matrices.
    pub fn total(&self) -> i64 {
        self.0.iter().map(|m| m.numel() as i64).sum()
    }

    /// Number of weights kept.
    pub fn kept(&self) -> i64 {
        self.0.iter().map(|m| m.sum(Kind::Float).double_value(&[]).round() as i64).sum()
    }

    /// Fraction of all weights pruned.
    pub fn sparsity(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        1.0 - self.kept() as f64 / total as f64
    }

    /// Fraction pruned in each weight matrix.
    pub fn layer_sparsity(&self) -> Vec<f64> {
        self.0.iter().map(|m| 1.0 - m.mean(Kind::Float).double_value(&[])).collect()
    }
}

/// The masks after deleting the least salient kept weights until `target` of them (globally,
/// or in each matrix) are pruned, and the summed saliency of the weights deleted now.
/// Ties in saliency go to the lower index, so the choice is deterministic.
pub fn prune_to_target(
    saliency: &[Tensor],
    masks: &Masks,
    target: f64,
    scope: ThresholdScope,
) -> Result<(Masks, f64), PruneError> {
    check_target(target)?;
    check_saliency(saliency, masks)?;
    let deleted = |n: i64| (target * n as f64).round() as i64;
    tch::no_grad(|| match scope {
        ThresholdScope::Global => Ok(prune_global(saliency, masks, deleted(masks.total()))),
        ThresholdScope::PerLayer => {
            let mut removed = 0.0;
            let mut out = Vec::with_capacity(masks.0.len());
            for (s, m) in saliency.iter().zip(&masks.0) {
                let (kept, r) = prune_flat(&s.reshape([-1]), &m.reshape([-1]), deleted(m.numel() as i64));
                removed += r;
                out.push(kept.view(m.size().as_slice()));
            }
            Ok((Masks(out), removed))
        }
    })
}

/// [`prune_to_target`] with one global threshold, to exactly `keep` weights over all matrices
/// rather than a fraction (a fraction's rounding cannot promise a count). `keep` must be at
/// most the weights `masks` keeps now and at least 1.
pub fn prune_to_count(saliency: &[Tensor], masks: &Masks, keep: i64) -> Result<(Masks, f64), PruneError> {
    check_saliency(saliency, masks)?;
    let kept = masks.kept();
    if keep < 1 || keep > kept {
        return Err(PruneError::Config(format!(
            "cannot prune to {keep} weights: {kept} of {} are kept, and pruning keeps at least 1 and revives none",
            masks.total()
        )));
    }
    Ok(tch::no_grad(|| prune_global(saliency, masks, masks.total() - keep)))
}

fn check_saliency(saliency: &[Tensor], masks: &Masks) -> Result<(), PruneError> {
    if saliency.len() != masks.0.len() || saliency.iter().zip(&masks.0).any(|(s, m)| s.size() != m.size()) {
        return Err(PruneError::Config("saliencies and masks differ in shape".into()));
    }
    if saliency.iter().any(|s| s.isfinite().logical_not().any().int64_value(&[]) != 0) {
        return Err(PruneError::NonFinite("a saliency is NaN or infinite".into()));
    }
    Ok(())
}

/// One threshold over every matrix: `count` weights pruned in all (those already pruned included).
fn prune_global(saliency: &[Tensor], masks: &Masks, count: i64) -> (Masks, f64) {
    let flat_s = Tensor::cat(&saliency.iter().map(|s| s.reshape([-1])).collect::<Vec<_>>(), 0);
    let flat_m = Tensor::cat(&masks.0.iter().map(|m| m.reshape([-1])).collect::<Vec<_>>(), 0);
    let (kept, removed) = prune_flat(&flat_s, &flat_m, count);
    let mut offset = 0;
    let mut out = Vec::with_capacity(masks.0.len());
    for m in &masks.0 {
        let n = m.numel() as i64;
        out.push(kept.narrow(0, offset, n).view(m.size().as_slice()));
        offset += n;
    }
    (Masks(out), removed)
}

/// A pruning target must leave something to prune and something to keep.
pub fn check_target(target: f64) -> Result<(), PruneError> {
    if !(0.0..1.0).contains(&target) {
        return Err(PruneError::Config(format!("a sparsity must be in [0, 1), got {target}")));
    }
    Ok(())
}

/// Over one flat vector: prunes the `count` lowest-saliency entries, counting those already
/// pruned (their saliency is taken as minus infinity so they sort first).
fn prune_flat(saliency: &Tensor, mask: &Tensor, count: i64) -> (Tensor, f64) {
    let n = mask.numel() as i64;
    let already = n - mask.sum(Kind::Float).double_value(&[]).round() as i64;
    let count = count.clamp(already, n);
    let ranked = saliency.to_kind(Kind::Double).where_self(&mask.gt(0.0), &Tensor::from(f64::NEG_INFINITY));
    let order = ranked.argsort_stable(true, 0, false);
    let deleted = order.narrow(0, 0, count);
    let kept = mask.index_fill(0, &deleted, 0.0);
    let removed_now = (mask - &kept).to_kind(Kind::Double);
    let removed = (saliency.to_kind(Kind::Double) * removed_now).sum(Kind::Double).double_value(&[]);
    (kept, removed)
}
