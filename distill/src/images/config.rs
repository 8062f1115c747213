//! Settings of the image comparison, and their defaults.
//!
//! The architectures are Hinton, Vinyals & Dean's (2015): an MLP 2x1200 teacher with dropout
//! (20% input, 50% hidden) and jitter, students 2x800 and 2x30 without regularisation; plus a
//! small CNN and a grid-graph GCN. Temperatures default as the paper found best: high (T = 20)
//! for the wide student, T = 3 for the 2x30 one ("temperatures in the range 2.5 to 4 worked
//! significantly better than higher or lower temperatures"). The other settings were chosen on
//! the validation split of MNIST's 5 000 training images (and checked on the digits); epoch
//! budgets keep the whole 3-seed MNIST comparison to minutes on two CPU cores (docs/images.md).

use gdistill_models::{ImageArch, ImageShape};
use serde::{Deserialize, Serialize};

use super::{ImagePruneConfig, ImageTrainConfig};

/// Every row the comparison knows, in table order.
pub const ROWS: [&str; 8] =
    ["teacher", "cnn", "mlp-800", "mlp-800+kd", "mlp-30", "mlp-30+kd", "grid-gcn", "grid-gcn+kd"];

/// A teacher row: its model and how it is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSpec {
    pub model: ImageArch,
    pub training: ImageTrainConfig,
}

/// How a `+kd` row learns from its teacher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdSettings {
    /// `teacher` (the MLP 2x1200) or `cnn`.
    pub teacher: String,
    pub temperature: f64,
    /// Weight of the hard-label term; `1 - alpha` goes to the soft targets.
    pub alpha: f64,
}

/// A student: its model, its training from labels (`training`) and distilled (`distill`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentSpec {
    pub model: ImageArch,
    pub training: ImageTrainConfig,
    pub distill: ImageTrainConfig,
    pub kd: KdSettings,
}

/// Every setting of an image comparison; reports record it, TOML files override it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCompareConfig {
    pub seeds: usize,
    pub first_seed: u64,
    /// The rows to report, from [`ROWS`] (a teacher a `+kd` row needs is trained regardless).
    pub rows: Vec<String>,
    pub teacher: TeacherSpec,
    pub cnn: TeacherSpec,
    pub mlp_800: StudentSpec,
    pub mlp_30: StudentSpec,
    pub grid_gcn: StudentSpec,
    /// The `teacher` row as an ensemble of this many nets ([`crate::transfer::ensemble`]); the `+kd` rows
    /// that learn from `teacher` read the ensemble. Absent: one teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_ensemble: Option<crate::transfer::ensemble::EnsembleConfig>,
    /// What the `+kd` rows are trained on: the training images, or those and pseudo images
    /// labelled by the teacher ([`crate::transfer::transfer_set`]).
    #[serde(default, skip_serializing_if = "crate::transfer::transfer_set::TransferSet::is_train")]
    pub transfer_set: crate::transfer::transfer_set::TransferSet,
    /// Add the int8 rows `teacher-int8` and `mlp-800+kd-int8` ([`super::IMAGE_INT8_ROWS`]) and
    /// every row's `weight_bytes`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub int8_rows: bool,
    /// The pruned row `teacher-obd` (`images::obd`), when `prune.rows`.
    #[serde(default, skip_serializing_if = "ImagePruneConfig::is_off")]
    pub prune: ImagePruneConfig,
}

fn mlp(hidden: i64, input_dropout: f64, dropout: f64) -> ImageArch {
    ImageArch::Mlp { hidden: vec![hidden; 2], input_dropout, dropout }
}

impl ImageCompareConfig {
    /// Defaults for images of `shape` (MNIST's 28x28 or the digits' 8x8). Jitter is 2 pixels
    /// on 28x28 images, as in the paper, and off on small ones: on the 8x8 digits even 1 pixel
    /// is an eighth of the image, and it doubled the teacher's test errors (18 against 9).
    pub fn for_shape(shape: ImageShape) -> ImageCompareConfig {
        let jitter = if shape.height.min(shape.width) >= 20 { 2 } else { 0 };
        let base = ImageTrainConfig::default();
        // Dropout and jitter keep the teacher from overfitting, so it trains longer, with a
        // decaying step; so do the distilled students, which soft targets keep from overfitting.
        let teacher_training =
            ImageTrainConfig { epochs: 80, lr_decay: 0.96, jitter, patience: Some(30), ..base.clone() };
        let distill = ImageTrainConfig { epochs: 60, lr_decay: 0.96, patience: Some(20), ..base.clone() };
        let student = |model: ImageArch, training: &ImageTrainConfig, distill: &ImageTrainConfig, kd: KdSettings| {
            StudentSpec { model, training: training.clone(), distill: distill.clone(), kd }
        };
        let kd =
            |teacher: &str, temperature: f64, alpha: f64| KdSettings { teacher: teacher.into(), temperature, alpha };
        // The 2x30 net underfits at 1e-3 within these budgets (each step is cheap, so it gets
        // more of them); the grid GCN, slow per step, learns at 1e-2 in 20 epochs.
        let tiny = ImageTrainConfig { lr: 0.01, epochs: 100, lr_decay: 0.98, patience: Some(30), ..base.clone() };
        // MNIST's 28x28 grid averaged to 14x14 for the GCN: a quarter of the nodes, so a quarter
        // of the cost per width. Width 64 on 14x14 came within a point of width 32 on 28x28
        // (0.858 against 0.863 from labels, 3 seeds) in half the time.
        let pool = if shape.height.min(shape.width) >= 20 { 2 } else { 1 };
        let gcn = ImageTrainConfig { lr: 0.01, epochs: 20, lr_decay: 0.9, ..base.clone() };
        ImageCompareConfig {
            seeds: 3,
            first_seed: 0,
            rows: ROWS.iter().map(|r| r.to_string()).collect(),
            teacher: TeacherSpec { model: mlp(1200, 0.2, 0.5), training: teacher_training.clone() },
            cnn: TeacherSpec {
                model: ImageArch::Cnn { channels: vec![16, 32], fc: 128, dropout: 0.5 },
                training: ImageTrainConfig { epochs: 30, patience: Some(20), ..teacher_training },
            },
            // alpha 0: the labels reach the wide student only through the teacher, the
            // regularisation Hinton et al. found sufficient (146 -> 74 errors).
            mlp_800: student(mlp(800, 0.0, 0.0), &base, &distill, kd("teacher", 20.0, 0.0)),
            mlp_30: student(mlp(30, 0.0, 0.0), &tiny, &tiny, kd("teacher", 3.0, 0.1)),
            // A 3-layer GCN cannot follow a teacher's full tempered distribution: a low T and
            // half the weight on the labels.
            grid_gcn: student(
                ImageArch::GridGcn { hidden: 64, layers: 3, neighborhood: 8, coordinates: true, dropout: 0.0, pool },
                &gcn,
                &gcn,
                kd("cnn", 2.0, 0.5),
            ),
            teacher_ensemble: None,
            transfer_set: crate::transfer::transfer_set::TransferSet::Train,
            int8_rows: false,
            prune: ImagePruneConfig::default(),
        }
    }

    /// Checks row names, teachers and numeric ranges; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.seeds == 0 {
            return Err("seeds must be at least 1".into());
        }
        crate::transfer::ensemble::validate_teacher_options(
            self.teacher_ensemble.as_ref(),
            self.transfer_set,
            self.int8_rows.then_some(&super::IMAGE_INT8_ROWS[..]),
            &self.rows,
            "images",
        )?;
        self.prune.validate()?;
        if self.prune.rows && self.teacher_ensemble.as_ref().is_some_and(|e| e.members > 1) {
            return Err("teacher-obd prunes one teacher; it cannot be combined with an ensemble teacher".into());
        }
        if let Some(bad) = self.rows.iter().find(|r| !ROWS.contains(&r.as_str())) {
            return Err(format!("unknown row '{bad}'; rows are {}", ROWS.join(", ")));
        }
        for (name, s) in [("mlp_800", &self.mlp_800), ("mlp_30", &self.mlp_30), ("grid_gcn", &self.grid_gcn)] {
            let kd = &s.kd;
            if !matches!(kd.teacher.as_str(), "teacher" | "cnn") {
                return Err(format!("{name}.kd.teacher must be 'teacher' or 'cnn', got '{}'", kd.teacher));
            }
            if kd.temperature.is_nan() || kd.temperature <= 0.0 || !(0.0..=1.0).contains(&kd.alpha) {
                return Err(format!(
                    "{name}.kd: temperature must be positive and alpha in [0, 1], got {} and {}",
                    kd.temperature, kd.alpha
                ));
            }
        }
        Ok(())
    }

    fn student(&self, row: &str) -> Option<&StudentSpec> {
        match row.trim_end_matches("+kd") {
            "mlp-800" => Some(&self.mlp_800),
            "mlp-30" => Some(&self.mlp_30),
            "grid-gcn" => Some(&self.grid_gcn),
            _ => None,
        }
    }

    fn teacher_spec(&self, row: &str) -> Option<&TeacherSpec> {
        match row {
            "teacher" => Some(&self.teacher),
            "cnn" => Some(&self.cnn),
            _ => None,
        }
    }

    /// The architecture of `row` (one of [`ROWS`]).
    pub fn arch(&self, row: &str) -> &ImageArch {
        match (self.teacher_spec(row), self.student(row)) {
            (Some(t), _) => &t.model,
            (_, Some(s)) => &s.model,
            _ => panic!("unknown row {row}"),
        }
    }

    /// The training settings of `row`.
    pub fn training(&self, row: &str) -> &ImageTrainConfig {
        match (self.teacher_spec(row), self.student(row)) {
            (Some(t), _) => &t.training,
            (_, Some(s)) if row.ends_with("+kd") => &s.distill,
            (_, Some(s)) => &s.training,
            _ => panic!("unknown row {row}"),
        }
    }

    /// How `teacher-obd` retrains after each pruning step: the teacher's recipe at the pruned
    /// row's epochs and learning rate.
    pub fn prune_retraining(&self) -> ImageTrainConfig {
        let p = &self.prune;
        ImageTrainConfig { epochs: p.retrain_epochs, lr: p.retrain_lr, ..self.teacher.training.clone() }
    }

    /// Whether every row reports `weight_bytes`: with the int8 rows or the pruned row.
    pub fn weight_bytes_column(&self) -> bool {
        self.int8_rows || self.prune.rows
    }

    /// The distillation settings of a `+kd` row; `None` for rows trained from labels.
    pub fn kd_settings(&self, row: &str) -> Option<&KdSettings> {
        row.ends_with("+kd").then(|| self.student(row).map(|s| &s.kd)).flatten()
    }

    /// The teacher row a `+kd` row learns from.
    pub fn kd_teacher(&self, row: &str) -> Option<&str> {
        self.kd_settings(row).map(|kd| kd.teacher.as_str())
    }

    /// Every training configuration, for flags that apply to all (`--epochs`).
    pub fn trainings_mut(&mut self) -> Vec<&mut ImageTrainConfig> {
        let mut all = vec![&mut self.teacher.training, &mut self.cnn.training];
        for s in [&mut self.mlp_800, &mut self.mlp_30, &mut self.grid_gcn] {
            all.push(&mut s.training);
            all.push(&mut s.distill);
        }
        all
    }

    /// Every student's distillation settings, for `--temperature` and `--alpha`.
    pub fn kd_mut(&mut self) -> [&mut KdSettings; 3] {
        [&mut self.mlp_800.kd, &mut self.mlp_30.kd, &mut self.grid_gcn.kd]
    }
}
