//! The image experiment: teachers against students trained from labels and distilled.
//!
//! Rows, in table order: `teacher` (MLP 2x1200, dropout, jitter), `cnn` (a small CNN, also a
//! possible teacher), `mlp-800`, `mlp-800+kd`, `mlp-30`, `mlp-30+kd`, `grid-gcn`, `grid-gcn+kd`.
//! For each seed the teachers the chosen rows need are trained first; each `+kd` row then
//! trains its student on its teacher's soft targets over the training images. Every row
//! reports test accuracy and test errors per seed, parameters, training seconds and the time
//! to classify the whole test set. The settings are in [`ImageCompareConfig`] (defaults in
//! `config.rs`).

use gdistill_datasets::{ImageDataset, ImageSummary};
use gdistill_models::ImageArch;
use serde::Serialize;
use tch::Device;

use super::{
    predict_images, timed_score_images, train_image_model, ImageCompareConfig, ImageData,
    ImageObjective, ImageTrainConfig, TrainedImageModel, ROWS,
};
use crate::compare::{mean_std, Progress};
use crate::TrainError;

/// One row of the image comparison.
#[derive(Clone, Debug, Serialize)]
pub struct ImageCompareRow {
    pub name: String,
    /// The architecture in a few words (`mlp 2x800`, `cnn 32-64/128`, ...).
    pub model: String,
    pub params: i64,
    /// Test accuracy per seed, fractions in `0..=1`.
    pub test_acc: Vec<f64>,
    pub mean: f64,
    pub std: f64,
    /// Misclassified test images per seed.
    pub errors: Vec<i64>,
    /// Mean of `errors` over the seeds.
    pub errors_mean: f64,
    /// Size of the test set the errors are counted in.
    pub test_images: i64,
    /// Epochs whose weights were kept (early stopping), per seed.
    pub best_epochs: Vec<usize>,
    /// Mean training seconds per seed.
    pub train_s: f64,
    /// Milliseconds to classify the whole test set (the scoring pass; mean over seeds).
    pub infer_ms: f64,
}

/// The whole comparison, as `gdistill compare --json` writes it for image datasets.
#[derive(Clone, Debug, Serialize)]
pub struct ImageCompareReport {
    pub dataset: ImageSummary,
    pub device: String,
    pub rows: Vec<ImageCompareRow>,
    pub config: ImageCompareConfig,
}

struct RowRuns {
    name: &'static str,
    arch: ImageArch,
    acc: Vec<f64>,
    errors: Vec<i64>,
    best_epochs: Vec<usize>,
    train_s: Vec<f64>,
    infer_ms: Vec<f64>,
}

/// The training runs one seed needs, in order: (row, whether it is reported).
fn planned_runs(config: &ImageCompareConfig) -> Vec<(&'static str, bool)> {
    let wanted = |row: &str| config.rows.iter().any(|r| r == row);
    let teacher_needed = |name: &str| {
        ROWS.iter().filter(|r| r.ends_with("+kd") && wanted(r)).any(|r| config.kd_teacher(r) == Some(name))
    };
    ROWS.iter().filter(|r| wanted(r) || teacher_needed(r)).map(|&r| (r, wanted(r))).collect()
}

/// Runs the comparison on `dataset`.
pub fn compare_images(
    dataset: &ImageDataset,
    config: &ImageCompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImageCompareReport, TrainError> {
    config.validate().map_err(TrainError::Mismatch)?;
    let data = ImageData::new(dataset, device);
    let plan = planned_runs(config);
    let mut rows: Vec<RowRuns> = plan
        .iter()
        .map(|&(name, _)| {
            let arch = config.arch(name).clone();
            RowRuns { name, arch, acc: vec![], errors: vec![], best_epochs: vec![], train_s: vec![], infer_ms: vec![] }
        })
        .collect();
    let runs = plan.len() * config.seeds;
    let mut run = 0;
    for seed in config.first_seed..config.first_seed + config.seeds as u64 {
        let mut teachers: Vec<(&str, TrainedImageModel)> = Vec::new();
        for (k, &(name, _)) in plan.iter().enumerate() {
            progress(Progress::RunStarted { row: name, seed, run, runs });
            run += 1;
            let objective = match config.kd_settings(name) {
                None => ImageObjective::Labels,
                Some(kd) => {
                    let teacher = teachers.iter().find(|(t, _)| *t == kd.teacher).map(|(_, m)| m).ok_or_else(|| {
                        TrainError::Mismatch(format!("{name}: teacher '{}' was not trained", kd.teacher))
                    })?;
                    let teacher_logits = predict_images(teacher.model.as_ref(), &data, &data.train);
                    ImageObjective::SoftTargets { teacher_logits, temperature: kd.temperature, alpha: kd.alpha }
                }
            };
            let settings = ImageTrainConfig { seed, ..config.training(name).clone() };
            let trained = train_image_model(&rows[k].arch, &data, &objective, &settings, &mut |stats| {
                progress(Progress::Epoch { row: name, stats })
            })?;
            rows[k].record(&trained, &data);
            if matches!(name, "teacher" | "cnn") {
                teachers.push((name, trained));
            }
        }
    }
    let reported =
        plan.iter().zip(rows).filter(|((_, shown), _)| *shown).map(|(_, row)| row.finish(&data, &data.shape));
    Ok(ImageCompareReport {
        dataset: dataset.summary(),
        device: format!("{device:?}"),
        rows: reported.collect(),
        config: config.clone(),
    })
}

impl RowRuns {
    fn record(&mut self, trained: &TrainedImageModel, data: &ImageData) {
        let (score, infer_ms) = timed_score_images(trained.model.as_ref(), data, &data.test);
        self.acc.push(score.accuracy);
        self.errors.push(score.errors);
        self.infer_ms.push(infer_ms);
        self.best_epochs.push(trained.best_epoch + 1);
        self.train_s.push(trained.train_seconds);
    }

    fn finish(self, data: &ImageData, shape: &gdistill_models::ImageShape) -> ImageCompareRow {
        let (mean, std) = mean_std(&self.acc);
        let errors: Vec<f64> = self.errors.iter().map(|&e| e as f64).collect();
        ImageCompareRow {
            name: self.name.to_string(),
            model: self.arch.describe(),
            params: self.arch.num_params(*shape),
            mean,
            std,
            errors_mean: mean_std(&errors).0,
            test_images: data.test.size()[0],
            best_epochs: self.best_epochs,
            train_s: mean_std(&self.train_s).0,
            infer_ms: mean_std(&self.infer_ms).0,
            test_acc: self.acc,
            errors: self.errors,
        }
    }
}
