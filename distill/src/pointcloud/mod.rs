//! Distillation of point-cloud classifiers: a DGCNN teacher into a small DGCNN or a PointNet-style
//! student, with soft targets on the cloud logits and LSP on per-point features over dynamic
//! kNN graphs.
//!
//! The flow mirrors the image one ([`crate::images`]): prepare a
//! [`PointCloudDataset`](gdistill_datasets::PointCloudDataset) on a device ([`CloudData`]: fixed
//! evaluation clouds, training batches resampled and augmented per batch), [`train_cloud_model`]
//! a teacher from labels, then students with a [`CloudObjective`] naming the teacher and the
//! terms (the crate's [`crate::soft_target_loss`] and [`crate::losses::lsp`] kernels). [`compare_clouds`]
//! runs the experiment `gdistill compare --dataset modelnet:DIR` prints.

mod compare;
mod config;
mod data;
mod eval;
mod int8;
mod objective;
mod teachers;
mod train;

pub use compare::{compare_clouds, CloudColumns, CloudCompareReport, CloudCompareRow};
pub use config::{CloudCompareConfig, CLOUD_ROWS};
pub use data::{CloudData, CloudSet};
pub use eval::{cloud_accuracy, predict_clouds, single_cloud_latency_ms, timed_accuracy, EVAL_BATCH};
pub use int8::{calibration, int8_model, CloudCalibration, Int8CloudActivations, CALIBRATION_CLOUDS, INT8_ROWS};
pub use objective::{lsp_stage, point_lsp_loss, CloudKd, CloudLsp, CloudObjective};
pub use teachers::{label_pseudo_clouds, pseudo_clouds, transfer_set_info, CloudEnsemble};
pub use train::{train_cloud_model, CloudTrainConfig, TrainedCloudModel};
