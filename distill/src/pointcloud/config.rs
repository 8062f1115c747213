//! Settings of the point-cloud comparison, with defaults sized for a CPU.
//!
//! Every field can be overridden by a TOML experiment file with the same keys (`gdistill compare
//! --config`), e.g. `points = 512` or `[teacher_training] epochs = 60`.

use gdistill_datasets::pointcloud::Augmentation;
use gdistill_datasets::PointCloudDataset;
use gdistill_models::pointcloud::{CloudArch, CloudShape};
use serde::{Deserialize, Serialize};

use super::{CloudKd, CloudLsp, CloudTrainConfig};
use crate::losses::lsp::LspKernel;

/// The rows of the comparison, in table order.
pub const CLOUD_ROWS: [&str; 7] =
    ["teacher", "student", "student+kd", "student+lsp", "student+kd+lsp", "pointnet", "pointnet+kd"];

/// Everything the point-cloud comparison needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudCompareConfig {
    pub seeds: usize,
    pub first_seed: u64,
    /// Points per cloud fed to every model (sampled from the file's points).
    pub points: usize,
    /// Training augmentation.
    pub augmentation: Augmentation,
    pub teacher: CloudArch,
    /// The small DGCNN of the `student*` rows.
    pub student: CloudArch,
    /// The graph-less model of the `pointnet*` rows.
    pub pointnet: CloudArch,
    pub teacher_training: CloudTrainConfig,
    pub student_training: CloudTrainConfig,
    pub kd: CloudKd,
    pub lsp: CloudLsp,
    /// Which of [`CLOUD_ROWS`] to run.
    pub rows: Vec<String>,
    /// The `teacher` row as an ensemble of this many DGCNNs ([`crate::transfer::ensemble`]); every
    /// distilled row learns from the ensemble. Absent: one teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_ensemble: Option<crate::transfer::ensemble::EnsembleConfig>,
    /// What the `+kd` rows train on: the training clouds, or those and pseudo clouds labelled by
    /// the teacher ([`crate::transfer::transfer_set`]).
    #[serde(default, skip_serializing_if = "crate::transfer::transfer_set::TransferSet::is_train")]
    pub transfer_set: crate::transfer::transfer_set::TransferSet,
    /// Add the int8 rows `teacher-int8` and `student+kd-int8` ([`super::INT8_ROWS`]) and every
    /// row's `weight_bytes`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub int8_rows: bool,
}

impl CloudCompareConfig {
    /// Defaults for `dataset`: 3-D shapes get DGCNN's augmentation (scaling, translation,
    /// jitter); planar clouds (digits) milder scaling and shifts.
    pub fn for_dataset(dataset: &PointCloudDataset) -> CloudCompareConfig {
        let augmentation = if dataset.dim == 3 {
            Augmentation::dgcnn()
        } else {
            Augmentation { scale_low: 0.85, scale_high: 1.15, translate: 0.1, ..Augmentation::dgcnn() }
        };
        CloudCompareConfig {
            seeds: 3,
            first_seed: 0,
            points: 256,
            augmentation,
            teacher: CloudArch::Dgcnn {
                k: 10,
                widths: vec![64, 64, 128],
                dynamic: true,
                embed: 256,
                head: vec![128],
                dropout: 0.5,
            },
            student: CloudArch::Dgcnn {
                k: 5,
                widths: vec![16, 32],
                dynamic: true,
                embed: 64,
                head: vec![32],
                dropout: 0.3,
            },
            pointnet: CloudArch::PointNet { widths: vec![32, 64, 128], head: vec![64], dropout: 0.3 },
            teacher_training: CloudTrainConfig { epochs: 30, ..CloudTrainConfig::default() },
            student_training: CloudTrainConfig { epochs: 30, ..CloudTrainConfig::default() },
            kd: CloudKd { temperature: 4.0, alpha: 0.5 },
            lsp: CloudLsp { weight: 1.0, kernel: LspKernel::Rbf { sigma: 1.0 }, k: 8 },
            rows: CLOUD_ROWS.iter().map(|r| r.to_string()).collect(),
            teacher_ensemble: None,
            transfer_set: crate::transfer::transfer_set::TransferSet::Train,
            int8_rows: false,
        }
    }

    /// The architecture of `row`.
    pub fn arch(&self, row: &str) -> &CloudArch {
        match row.trim_end_matches("-int8").split('+').next() {
            Some("teacher") => &self.teacher,
            Some("pointnet") => &self.pointnet,
            _ => &self.student,
        }
    }

    /// Teachers in the `teacher` row (1 without an ensemble).
    pub fn ensemble_members(&self) -> usize {
        self.teacher_ensemble.as_ref().map_or(1, |e| e.members)
    }

    /// The training settings of `row`.
    pub fn training(&self, row: &str) -> &CloudTrainConfig {
        if row == "teacher" {
            &self.teacher_training
        } else {
            &self.student_training
        }
    }

    /// Checks the settings against each other and `shape`.
    pub fn validate(&self, shape: CloudShape) -> Result<(), String> {
        if self.seeds == 0 || self.points < 2 {
            return Err(format!(
                "need at least one seed and two points per cloud, got {} and {}",
                self.seeds, self.points
            ));
        }
        if let Some(row) = self.rows.iter().find(|r| !CLOUD_ROWS.contains(&r.as_str())) {
            return Err(format!("unknown row '{row}'; rows are {}", CLOUD_ROWS.join(", ")));
        }
        for arch in [&self.teacher, &self.student, &self.pointnet] {
            arch.validate(shape).map_err(|e| e.to_string())?;
            if arch.k().is_some_and(|k| k as usize >= self.points) {
                return Err(format!("{}: k must be below the {} points per cloud", arch.describe(), self.points));
            }
        }
        self.augmentation.validate()?;
        crate::transfer::ensemble::validate_teacher_options(
            self.teacher_ensemble.as_ref(),
            self.transfer_set,
            self.int8_rows.then_some(&super::INT8_ROWS[..]),
            &self.rows,
            "clouds",
        )?;
        if self.kd.temperature <= 0.0 || !(0.0..=1.0).contains(&self.kd.alpha) {
            return Err(format!("kd: temperature must be positive and alpha in [0, 1], got {:?}", self.kd));
        }
        if self.lsp.weight < 0.0 || self.lsp.k < 1 || self.lsp.k as usize >= self.points {
            return Err(format!("lsp: weight must be >= 0 and k in 1..points, got {:?}", self.lsp));
        }
        for training in [&self.teacher_training, &self.student_training] {
            if training.epochs == 0 || training.batch_size < 2 || !(training.lr > 0.0) {
                return Err(format!("training needs epochs >= 1, batch_size >= 2 and lr > 0, got {training:?}"));
            }
        }
        Ok(())
    }
}
