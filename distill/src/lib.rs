//! gdistill-distill: losses, training loops, evaluation and checkpoints.
//!
//! The flow of a distillation: move a dataset onto a device ([`GraphData`]), [`train`] a teacher
//! from labels, take its logits on every node ([`predict`]), then [`train`] a student with
//! [`Objective::soft_targets`]. [`compare`] runs the whole teacher-versus-students experiment.
//! [`prune`] deletes weights by Optimal Brain Damage (or by magnitude, or at random) and retrains.

pub mod bench;
mod checkpoint;
pub mod chunked;
pub mod compare;
mod early_stopping;
pub mod ensemble;
mod eval;
mod graph_data;
pub mod images;
mod losses;
pub mod lsp;
pub mod minibatch;
pub mod online;
pub mod pointcloud;
pub mod prune;
pub mod quantize;
pub mod quantize_store;
pub mod sampled;
pub mod setting;
mod train;
pub mod transfer_set;
pub mod tune;

pub use checkpoint::{
    checkpoint_kind, load_checkpoint, load_checkpoint_with_masks, save_checkpoint, save_checkpoint_with_masks,
    write_atomically, CheckpointError, CheckpointKind, CheckpointMeta, DatasetFingerprint, LoadedCheckpoint,
};
pub use eval::{accuracy, accuracy_tensor, inference_ms, predict};
pub use gdistill_datasets::FeatureLayout;
pub use graph_data::GraphData;
pub use losses::{
    blend, cross_entropy, l2_penalty, logit_matching_loss, soft_target_loss, soft_target_loss_from_log_probs,
};
pub use early_stopping::Selection;
pub use train::{
    checked_hidden_index, retrain_masked, train, EpochStats, Fitted, LspTerm, Objective, TeacherTarget, TrainConfig,
    TrainError, Trained,
};
