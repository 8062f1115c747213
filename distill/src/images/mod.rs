//! Distillation on grid inputs: images through the same losses as graphs.
//!
//! The flow mirrors the node-classification one: move an [`ImageDataset`](gdistill_datasets::ImageDataset)
//! onto a device ([`ImageData`]), [`train_image_model`] a teacher from labels (mini-batches,
//! input jitter), take its logits on the training images ([`predict_images`]), then train a
//! student with [`ImageObjective::SoftTargets`] (the crate's `T^2`-scaled [`crate::soft_target_loss`]
//! blended with cross-entropy). [`compare_images`] runs the whole teacher-versus-students
//! experiment that `gdistill compare --dataset mnist:DIR` prints.

mod checkpoint;
mod compare;
mod config;
mod data;
mod eval;
mod int8;
mod jitter;
mod obd;
mod teachers;
mod train;

pub use checkpoint::{load_image_checkpoint, save_image_checkpoint, ImageCheckpointMeta};
pub use compare::{
    compare_images, compare_images_keeping, ImageColumns, ImageCompareReport, ImageCompareRow, TransferSetInfo,
};
pub use config::{ImageCompareConfig, KdSettings, StudentSpec, TeacherSpec, ROWS};
pub use data::ImageData;
pub use eval::{error_count, predict_images, score_images, score_logits, timed_score_images, ImageScore, EVAL_BATCH};
pub use int8::{image_f32_bytes, int8_image_model, Int8Activations, IMAGE_INT8_ROWS};
pub use jitter::random_shifts;
pub use obd::{image_fisher_diagonal, prune_image_model, weight_entries, ImagePruneConfig, PrunedImageModel};
pub use teachers::{nearest_neighbours_tensor, pseudo_images, with_pseudo_images, ImageEnsemble, SharedEnsemble};
pub use train::{retrain_image_masked, train_image_model, ImageObjective, ImageTrainConfig, TrainedImageModel};
