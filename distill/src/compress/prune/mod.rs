//! Optimal Brain Damage (LeCun, Denker & Solla 1989) for the weight matrices of node classifiers
//! (the message-passing weights of a GCN, the layers of an MLP) and, through the pieces that
//! need no graph ([`store_weights`], [`empirical_fisher`], [`obd_saliency`], [`prune_to_count`],
//! [`Masks::apply_to`]), of any model held in a variable store (the image teachers).
//!
//! Train; estimate the diagonal of the loss's Hessian `h_kk` ([`hessian_diagonal`]); compute
//! each weight's saliency `s_k = h_kk w_k^2 / 2`, the loss increase a second-order expansion
//! predicts for deleting it at a minimum; delete the least salient ([`prune_to_target`]); retrain
//! with the deleted weights held at zero ([`crate::retrain_masked`]); repeat
//! ([`prune_and_retrain`]). Magnitude and random pruning run through the same code.
//!
//! ```
//! use gdistill_distill::prune::{prune_to_target, Masks, ThresholdScope};
//! use tch::Tensor;
//! let saliency = [Tensor::from_slice(&[0.3f32, 0.1, 0.2, 0.4])];
//! let masks = Masks(vec![Tensor::ones([4], (tch::Kind::Float, tch::Device::Cpu))]);
//! let (pruned, removed) = prune_to_target(&saliency, &masks, 0.5, ThresholdScope::Global).unwrap();
//! assert_eq!(Vec::<f32>::try_from(&pruned.0[0]).unwrap(), vec![1.0, 0.0, 0.0, 1.0]);
//! assert!((removed - 0.3).abs() < 1e-6); // 0.1 + 0.2
//! ```

pub mod compare_rows;
mod hessian;
mod loss;
mod mask;
mod report;
mod schedule;
mod store;

pub use hessian::{empirical_fisher, hessian_diagonal, obd_saliency, HessianEstimator, MAX_EXACT_WEIGHTS};
pub use loss::PruneLoss;
pub use mask::{check_target, prune_to_count, prune_to_target, Masks, ThresholdScope};
pub use report::{summarize, PruneRow};
pub use schedule::{prune_and_retrain, PruneMethod, PruneSettings, PruneStep, PrunedPoint, Schedule};
pub use store::{csr_store_bytes, keep_schedule, store_weights};

use crate::TrainError;

/// Why pruning could not run.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    NonFinite(String),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Train(#[from] TrainError),
}
