//! gdistill-distill: losses, training loops, evaluation and checkpoints.
//!
//! The flow of a distillation: move a dataset onto a device ([`GraphData`]), [`train`] a teacher
//! from labels, take its logits on every node ([`predict`]), then [`train`] a student with
//! [`Objective::soft_targets`]. [`compare`] ([`graphs`]) runs the whole teacher-versus-students
//! experiment; [`images`] and [`pointcloud`] run it on grids and clouds, all three in the shape
//! of [`experiment`].
//! [`prune`] deletes weights by Optimal Brain Damage (or by magnitude, or at random) and retrains.
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
pub mod chunked;
mod early_stopping;
mod epoch_terms;
pub mod ensemble;
mod eval;
pub mod experiment;
mod graph_data;
pub mod graphs;
pub mod images;
pub mod journal;
mod losses;
pub mod lsp;
pub mod minibatch;
pub mod node_munge;
pub mod online;
pub mod pointcloud;
pub mod prune;
pub mod quantize;
pub mod quantize_store;
pub mod sampled;
pub mod setting;
pub mod students;
mod train;
pub mod transfer_set;
pub mod tune;

/// The graph experiment under its first name: [`graphs`].
pub use graphs as compare;

pub use checkpoint::{
    checkpoint_kind, load_checkpoint, load_checkpoint_with_masks, save_checkpoint, save_checkpoint_with_masks,
    write_atomically, CheckpointError, CheckpointKind, CheckpointMeta, DatasetFingerprint, LoadedCheckpoint,
};
pub use early_stopping::Selection;
pub use eval::{accuracy, accuracy_tensor, inference_ms, predict};
pub use gdistill_datasets::FeatureLayout;
pub use graph_data::GraphData;
pub use losses::{
    blend, cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss, soft_target_loss_from_log_probs,
};
pub use train::{
    checked_hidden_index, retrain_masked, train, EpochStats, Fitted, LspTerm, Objective, TeacherTarget, TrainConfig,
    TrainError, Trained,
};
