//! The image experiment: teachers against students trained from labels and distilled.
//!
//! Rows, in table order: `teacher` (MLP 2x1200, dropout, jitter), `cnn` (a small CNN, also a
//! possible teacher), `mlp-800`, `mlp-800+kd`, `mlp-30`, `mlp-30+kd`, `grid-gcn`, `grid-gcn+kd`.
//! For each seed the teachers the chosen rows need are trained first; each `+kd` row then
//! trains its student on its teacher's soft targets over the training images. Every row
//! reports test accuracy and test errors per seed, parameters, training seconds and the time
//! to classify the whole test set. The settings are in [`ImageCompareConfig`] (defaults in
//! `config.rs`). Derived rows come last: with `--int8` the int8 copies ([`super::int8`]), with
//! `prune.rows` the teacher pruned by OBD to `mlp-800`'s count of weights ([`super::obd`]).

use std::rc::Rc;

use gdistill_datasets::{ImageDataset, ImageSummary};
use gdistill_models::ImageArch;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::{
    image_f32_bytes, int8_image_model, predict_images, prune_image_model, pseudo_images, score_images,
    timed_score_images, train_image_model, weight_entries, with_pseudo_images, ImageCompareConfig, ImageData,
    ImageEnsemble, ImageObjective, ImageTrainConfig, SharedEnsemble, TrainedImageModel, IMAGE_INT8_ROWS, ROWS,
};
use crate::experiment::{mean, plan_rows, reported, seeds, Progress, Row, RunCounter, Runs};
use crate::TrainError;

/// One row of the image comparison ([`ImageColumns`] after the shared columns).
pub type ImageCompareRow = Row<ImageColumns>;

/// An image row's own columns, after name, architecture, parameters and test accuracy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageColumns {
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
    /// An ensemble teacher row: its members' accuracies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::transfer::ensemble::EnsembleScores>,
    /// With `--int8`: bytes of the stored variables (f32 rows: 4 per value; int8 rows:
    /// [`super::int8_image_model`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_bytes: Option<i64>,
}

/// The whole comparison, as `gdistill compare --json` writes it for image datasets.
#[derive(Clone, Debug, Serialize)]
pub struct ImageCompareReport {
    pub dataset: ImageSummary,
    pub device: String,
    pub rows: Vec<ImageCompareRow>,
    pub config: ImageCompareConfig,
    /// What the `+kd` rows were trained on, when it was more than the training images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_set: Option<TransferSetInfo>,
}

/// The `+kd` rows' transfer set: its kind (`munge:50000,0.5`, ...), the pseudo images and the
/// total (training images plus pseudo images).
#[derive(Clone, Debug, Serialize)]
pub struct TransferSetInfo {
    pub kind: String,
    pub pseudo: usize,
    pub size: usize,
}

struct RowRuns {
    name: &'static str,
    arch: ImageArch,
    runs: Runs,
    errors: Vec<i64>,
    weight_bytes: Option<i64>,
    /// Models in the row: an int8 ensemble's members (a float ensemble counts `member_acc`).
    members: i64,
    /// A pruned row's parameters: non-zero weights plus biases.
    nonzero_params: Option<i64>,
}

/// The training runs one seed needs, in order: (row, whether it is reported).
fn planned_runs(config: &ImageCompareConfig) -> Vec<(&'static str, bool)> {
    let wanted = |row: &str| config.rows.iter().any(|r| r == row);
    let teacher_needed = |name: &str| {
        ROWS.iter().filter(|r| r.ends_with("+kd") && wanted(r)).any(|r| config.kd_teacher(r) == Some(name))
            || (name == "teacher" && config.prune.rows)
    };
    plan_rows(&ROWS, &config.rows, teacher_needed)
}

/// Runs the comparison on `dataset`.
pub fn compare_images(
    dataset: &ImageDataset,
    config: &ImageCompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImageCompareReport, TrainError> {
    compare_images_keeping(dataset, config, device, progress, &mut |_, _, _| {})
}

/// [`compare_images`], handing every trained model to `keep` (row, seed, model) before it is
/// dropped: how `gdistill compare --save-models` saves them.
pub fn compare_images_keeping(
    dataset: &ImageDataset,
    config: &ImageCompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
    keep: &mut dyn FnMut(&str, u64, &TrainedImageModel),
) -> Result<ImageCompareReport, TrainError> {
    config.validate().map_err(TrainError::Mismatch)?;
    let data = ImageData::new(dataset, device);
    let plan = planned_runs(config);
    let mut rows: Vec<RowRuns> = plan.iter().map(|&(name, _)| RowRuns::new(name, config.arch(name))).collect();
    // The int8 rows, after the others: (rows, index of the row each quantizes).
    let (mut int8_rows, int8_of): (Vec<RowRuns>, Vec<usize>) = IMAGE_INT8_ROWS
        .iter()
        .filter(|_| config.int8_rows)
        .filter_map(|&(row, of)| {
            plan.iter().position(|p| p == &(of, true)).map(|k| (RowRuns::new(row, config.arch(of)), k))
        })
        .unzip();
    // The pruned row, after the int8 rows, and the count of weights it prunes to.
    let mut obd_row = match config.prune.rows {
        true => Some((RowRuns::new("teacher-obd", config.arch("teacher")), obd_target(config, data.shape)?)),
        false => None,
    };
    let members = config.teacher_ensemble.as_ref().map_or(1, |e| e.members);
    let runs = plan.len() + members - 1 + usize::from(obd_row.is_some());
    let mut counter = RunCounter::new(runs * config.seeds);
    for seed in seeds(config.first_seed, config.seeds) {
        let mut teachers: Vec<(&str, TrainedImageModel)> = Vec::new();
        let mut ensembles: Vec<(&str, Rc<ImageEnsemble>)> = Vec::new();
        let mut pseudo: Option<Tensor> = None;
        for (k, &(name, _)) in plan.iter().enumerate() {
            counter.start(progress, name, seed);
            let mut row_data = None;
            let objective = match config.kd_settings(name) {
                None => ImageObjective::Labels,
                Some(kd) => {
                    let teacher = teachers.iter().find(|(t, _)| *t == kd.teacher).map(|(_, m)| m).ok_or_else(|| {
                        TrainError::Mismatch(format!("{name}: teacher '{}' was not trained", kd.teacher))
                    })?;
                    let ensemble = ensembles.iter().find(|(t, _)| *t == kd.teacher).map(|(_, e)| e.clone());
                    let logits_of = |d: &ImageData, index: &Tensor| match &ensemble {
                        Some(e) => e.logits_at(d, index, kd.temperature),
                        None => predict_images(teacher.model.as_ref(), d, index),
                    };
                    if !config.transfer_set.is_train() {
                        if pseudo.is_none() {
                            pseudo = pseudo_images(&data, config.transfer_set, seed);
                        }
                        row_data = pseudo.as_ref().map(|p| with_pseudo_images(&data, p, &logits_of));
                    }
                    let d = row_data.as_ref().unwrap_or(&data);
                    let teacher_logits = logits_of(d, &d.train);
                    ImageObjective::SoftTargets { teacher_logits, temperature: kd.temperature, alpha: kd.alpha }
                }
            };
            let settings = ImageTrainConfig { seed, ..config.training(name).clone() };
            let train_data = row_data.as_ref().unwrap_or(&data);
            let trained = train_image_model(&rows[k].arch, train_data, &objective, &settings, &mut |stats| {
                progress(Progress::Epoch { row: name, stats })
            })?;
            let trained = if name == "teacher" && members > 1 {
                let mut all = vec![trained];
                for m in 1..members {
                    counter.count();
                    let settings =
                        ImageTrainConfig { seed: crate::transfer::ensemble::member_seed(seed, m), ..settings.clone() };
                    all.push(train_image_model(&rows[k].arch, &data, &objective, &settings, &mut |stats| {
                        progress(Progress::Epoch { row: name, stats })
                    })?);
                }
                rows[k]
                    .runs
                    .member_acc
                    .push(all.iter().map(|m| score_images(m.model.as_ref(), &data, &data.test).accuracy).collect());
                let (best_epoch, epochs_run, best_val_acc) =
                    (all[0].best_epoch, all[0].epochs_run, all[0].best_val_acc);
                let train_seconds = all.iter().map(|m| m.train_seconds).sum();
                let combine = config.teacher_ensemble.as_ref().map(|e| e.combine).unwrap_or_default();
                let ensemble = Rc::new(ImageEnsemble { members: all, combine });
                ensembles.push((name, ensemble.clone()));
                // The variable store stays empty: `--save-models` is refused for an ensemble.
                let vs = tch::nn::VarStore::new(device);
                let model = Box::new(SharedEnsemble(ensemble));
                TrainedImageModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds }
            } else {
                trained
            };
            rows[k].record(&trained, &data);
            let ensemble = ensembles.iter().find(|(t, _)| *t == name).map(|(_, e)| e.as_ref());
            if config.weight_bytes_column() {
                rows[k].weight_bytes = Some(image_f32_bytes(&trained, ensemble));
            }
            // (`int8_of` is empty without `--int8`)
            if let Some(j) = int8_of.iter().position(|&of| of == k) {
                let (quantized, bytes) = int8_image_model(&rows[k].arch, &trained, ensemble, &data)?;
                int8_rows[j].record(&quantized, &data);
                int8_rows[j].weight_bytes = Some(bytes);
                int8_rows[j].members = ensemble.map_or(1, |e| e.members.len() as i64);
            }
            keep(name, seed, &trained);
            if matches!(name, "teacher" | "cnn") {
                teachers.push((name, trained));
            }
        }
        // Not handed to `keep`: `--save-models` saves the rows trained from scratch or distilled.
        if let Some((row, target)) = &mut obd_row {
            counter.start(progress, row.name, seed);
            let teacher = teachers.iter().find(|(t, _)| *t == "teacher").map(|(_, m)| m);
            let teacher =
                teacher.ok_or_else(|| TrainError::Mismatch("teacher-obd: the teacher was not trained".into()))?;
            let retrain = ImageTrainConfig { seed, ..config.prune_retraining() };
            let pruned = prune_image_model(teacher, &row.arch, &data, *target, config.prune.steps, &retrain)?;
            row.record(&pruned.trained, &data);
            row.weight_bytes = Some(pruned.weight_bytes);
            row.nonzero_params = Some(pruned.params);
        }
    }
    let mut reported = reported(&plan, rows.into_iter().map(|row| row.finish(&data, &data.shape)));
    reported.extend(int8_rows.into_iter().map(|row| row.finish(&data, &data.shape)));
    reported.extend(obd_row.map(|(row, _)| row.finish(&data, &data.shape)));
    Ok(ImageCompareReport {
        dataset: dataset.summary(),
        device: format!("{device:?}"),
        rows: reported,
        config: config.clone(),
        transfer_set: (!config.transfer_set.is_train()).then(|| TransferSetInfo {
            kind: config.transfer_set.to_string(),
            pseudo: config.transfer_set.size(),
            size: config.transfer_set.size() + dataset.train.len(),
        }),
    })
}

/// The weights `teacher-obd` keeps: as many as the `mlp-800` student has, which must be at
/// most the teacher's (and at least one).
fn obd_target(config: &ImageCompareConfig, shape: gdistill_models::ImageShape) -> Result<i64, TrainError> {
    let teacher = weight_entries(config.arch("teacher"), shape)?;
    let keep = weight_entries(config.arch("mlp-800"), shape)?;
    if keep < 1 || keep > teacher {
        return Err(TrainError::Config(format!(
            "teacher-obd prunes the teacher's {teacher} weights to mlp-800's {keep}, which must be between 1 \
             and {teacher}: make mlp_800.model smaller than teacher.model"
        )));
    }
    Ok(keep)
}

impl RowRuns {
    fn new(name: &'static str, arch: &ImageArch) -> RowRuns {
        let (runs, errors) = (Runs::default(), vec![]);
        RowRuns { name, arch: arch.clone(), runs, errors, weight_bytes: None, members: 1, nonzero_params: None }
    }

    fn record(&mut self, trained: &TrainedImageModel, data: &ImageData) {
        let (score, infer_ms) = timed_score_images(trained.model.as_ref(), data, &data.test);
        self.runs.test_acc.push(score.accuracy);
        self.errors.push(score.errors);
        self.runs.infer_ms.push(infer_ms);
        self.runs.best_epochs.push(trained.best_epoch + 1);
        self.runs.train_s.push(trained.train_seconds);
    }

    fn finish(self, data: &ImageData, shape: &gdistill_models::ImageShape) -> ImageCompareRow {
        let errors: Vec<f64> = self.errors.iter().map(|&e| e as f64).collect();
        let columns = ImageColumns {
            errors_mean: mean(&errors),
            test_images: data.test.size()[0],
            best_epochs: self.runs.best_epochs.clone(),
            train_s: self.runs.train_s(),
            infer_ms: self.runs.infer_ms(),
            errors: self.errors,
            ensemble: self.runs.ensemble(),
            weight_bytes: self.weight_bytes,
        };
        // An ensemble teacher's parameters are its members' together (an int8 copy's too).
        let members = if self.runs.member_acc.is_empty() { self.members } else { self.runs.members() };
        let params = self.nonzero_params.unwrap_or_else(|| self.arch.num_params(*shape) * members);
        self.runs.row(self.name, Some(self.arch.describe()), params, columns)
    }
}
