//! gdistill-distill: losses, training loops, evaluation and checkpoints.
//!
//! The flow of a distillation: move a dataset onto a device ([`GraphData`]), [`train`] a teacher
//! from labels, take its logits on every node ([`predict`]), then [`train`] a student with
//! [`Objective::soft_targets`]. [`compare`] ([`graphs`]) runs the whole teacher-versus-students
//! experiment; [`images`] and [`pointcloud`] run it on grids and clouds, all three in the shape
//! of [`experiment`].
//! [`prune`] deletes weights by Optimal Brain Damage (or by magnitude, or at random) and retrains.
//!
//! Folders: [`training`] (the loops), [`losses`], [`students`] (NOSMOG, VQGraph, G-CRD),
//! [`transfer`] (ensembles, pseudo data), [`compress`] (pruning, int8); the experiments
//! ([`graphs`], [`images`], [`pointcloud`]); and [`journal`], [`tune`], [`online`], [`bench`](mod@bench).
//!
//! ```
//! use gdistill_distill::soft_target_loss;
//! use tch::Tensor;
//!
//! // Hinton et al.'s soft-target loss: T^2 * KL(teacher || student) at temperature T,
//! // averaged over nodes. A student that already matches its teacher pays nothing.
//! let teacher = Tensor::from_slice(&[2.0f32, 0.5, -1.0]).view([1, 3]);
//! let same = soft_target_loss(&teacher, &teacher, 4.0);
//! assert!(same.double_value(&[]).abs() < 1e-6);
//! let other = Tensor::from_slice(&[-1.0f32, 0.5, 2.0]).view([1, 3]);
//! assert!(soft_target_loss(&other, &teacher, 4.0).double_value(&[]) > 0.0);
//! ```

pub mod bench;
mod checkpoint;
pub mod compress;
pub mod experiment;
pub mod graphs;
pub mod images;
pub mod journal;
pub mod losses;
pub mod online;
pub mod pointcloud;
pub mod students;
pub mod training;
pub mod transfer;
pub mod tune;

// The modules' paths from before they were grouped into folders; callers (the binary, the
// tests, users' code) keep them.
pub use compress::{prune, quantize, quantize_store};
pub use graphs::setting;
pub use losses::lsp;
pub use training::{chunked, minibatch, sampled};
pub use transfer::{ensemble, node_munge, transfer_set};

/// The graph experiment under its first name: [`graphs`].
pub use graphs as compare;

pub use checkpoint::{
    checkpoint_kind, load_checkpoint, load_checkpoint_with_masks, save_checkpoint, save_checkpoint_with_masks,
    write_atomically, CheckpointError, CheckpointKind, CheckpointMeta, DatasetFingerprint, LoadedCheckpoint,
};
pub use gdistill_datasets::FeatureLayout;
pub use losses::{
    blend, cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss, soft_target_loss_from_log_probs,
};
pub use training::early_stopping::Selection;
pub use training::eval::{accuracy, accuracy_tensor, inference_ms, predict};
pub use training::train::{
    checked_hidden_index, retrain_masked, train, EpochStats, Fitted, LspTerm, Objective, TeacherTarget, TrainConfig,
    TrainError, Trained,
};
pub use training::GraphData;
