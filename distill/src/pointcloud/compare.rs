//! The point-cloud experiment: a DGCNN teacher against a small DGCNN and a PointNet-style
//! student, from scratch and distilled (KD on the cloud logits, LSP on per-point features, both).
//!
//! For each seed the teacher is trained first (when a row needs it); each distilled row then
//! trains its student against that teacher ([`CloudObjective`]). Every row reports parameters,
//! test accuracy per seed (mean ± std), validation accuracy, training seconds, the time per cloud
//! of the batched scoring pass (throughput) and the latency of classifying one cloud alone. Distilled rows also report the share of the accuracy gap
//! between their student from scratch and the teacher that distillation closed. The options of
//! [`super::teachers`] (an ensemble teacher, pseudo clouds) and [`super::int8_model`] (the int8
//! rows, after the others) hook in here.

use std::rc::Rc;

use gdistill_datasets::{PointCloudDataset, PointCloudSummary};
use gdistill_models::pointcloud::CloudModel;
use serde::Serialize;
use tch::Device;

use super::teachers::teacher_ensemble;
use super::{
    calibrate_input, cloud_accuracy, int8_model, predict_clouds, pseudo_clouds, single_cloud_latency_ms,
    timed_accuracy, train_cloud_model, transfer_set_info, CloudCompareConfig, CloudData, CloudEnsemble, CloudObjective,
    CLOUD_ROWS, INT8_ROWS,
};
use crate::compare::{mean_std, Progress};
use crate::ensemble::EnsembleScores;
use crate::quantize_store::f32_store_bytes;
use crate::TrainError;

/// One row of the point-cloud comparison.
#[derive(Clone, Debug, Serialize)]
pub struct CloudCompareRow {
    pub name: String,
    /// The architecture in a few words (`dgcnn 64-64-128 k10 dyn`).
    pub model: String,
    pub params: i64,
    /// Test accuracy per seed, fractions in `0..=1`.
    pub test_acc: Vec<f64>,
    pub mean: f64,
    pub std: f64,
    /// Validation accuracy per seed (what settings are chosen on).
    pub val_acc: Vec<f64>,
    pub val_mean: f64,
    /// Epochs whose weights were kept, per seed.
    pub best_epochs: Vec<usize>,
    /// Mean training seconds per seed.
    pub train_s: f64,
    /// Milliseconds per test cloud of the batched scoring pass (mean over seeds): throughput.
    pub infer_ms_per_cloud: f64,
    /// Milliseconds to classify one cloud alone (median of 50, mean over seeds): latency.
    pub latency_ms: f64,
    /// For a distilled row: `(mean - scratch) / (teacher - scratch)`, the share of the gap
    /// between its student trained from labels and the teacher that distillation closed.
    pub gap_closed: Option<f64>,
    /// An ensemble teacher row: its members' accuracies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::ensemble::EnsembleScores>,
    /// With `--int8`: bytes of the stored variables (f32 rows: 4 per value, batch-norm
    /// statistics included; int8 rows: [`super::int8_model`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_bytes: Option<i64>,
}

/// The whole comparison, as `gdistill compare --json` writes it for point clouds.
#[derive(Clone, Debug, Serialize)]
pub struct CloudCompareReport {
    pub dataset: PointCloudSummary,
    pub device: String,
    pub rows: Vec<CloudCompareRow>,
    pub config: CloudCompareConfig,
    /// What the `+kd` rows were trained on, when it was more than the training clouds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_set: Option<crate::images::TransferSetInfo>,
}

/// Single-cloud forward passes timed per run for the latency column.
const LATENCY_CLOUDS: i64 = 50;

/// What one training run of a row gave.
#[derive(Clone, Debug)]
struct RunResult {
    test_acc: f64,
    val_acc: f64,
    best_epoch: usize,
    train_s: f64,
    ms_per_cloud: f64,
    latency_ms: f64,
    /// An ensemble teacher's members' test accuracies.
    member_acc: Vec<f64>,
    weight_bytes: i64,
}

/// The training runs one seed needs, in order: (row, whether it is reported).
fn planned_runs(config: &CloudCompareConfig) -> Vec<(&'static str, bool)> {
    let wanted = |row: &str| config.rows.iter().any(|r| r == row);
    let teacher_needed = CLOUD_ROWS.iter().any(|r| r.contains('+') && wanted(r));
    CLOUD_ROWS.iter().filter(|r| wanted(r) || (**r == "teacher" && teacher_needed)).map(|&r| (r, wanted(r))).collect()
}

/// The objective of `row` against `teacher`.
fn objective<'a>(row: &str, config: &CloudCompareConfig, teacher: Option<&'a CloudEnsemble>) -> CloudObjective<'a> {
    let (kd, lsp) = (row.contains("+kd"), row.contains("+lsp"));
    CloudObjective {
        teacher: if kd || lsp { teacher.map(|t| t as &dyn CloudModel) } else { None },
        kd: kd.then_some(config.kd),
        lsp: lsp.then_some(config.lsp),
    }
}

/// Runs the comparison on `dataset`.
pub fn compare_clouds(
    dataset: &PointCloudDataset,
    config: &CloudCompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<CloudCompareReport, TrainError> {
    let data = CloudData::new(dataset, config.points, config.augmentation.clone(), device);
    config.validate(data.shape).map_err(TrainError::Config)?;
    let mut plan = planned_runs(config);
    // The int8 rows, after the others: (row, index of the row it quantizes).
    let int8: Vec<(&str, usize)> = INT8_ROWS
        .iter()
        .filter_map(|&(row, of)| plan.iter().position(|p| p == &(of, true)).map(|k| (row, k)))
        .filter(|_| config.int8_rows)
        .collect();
    let input_grid = config.int8_rows.then(|| calibrate_input(&data));
    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); plan.len() + int8.len()];
    let extra_members = if plan.first().is_some_and(|p| p.0 == "teacher") { config.ensemble_members() - 1 } else { 0 };
    let runs = (plan.len() + extra_members) * config.seeds;
    let mut run = 0;
    for seed in config.first_seed..config.first_seed + config.seeds as u64 {
        // The teacher at temperature 1 (its row), and at the KD temperature (the students' target).
        let (mut teacher, mut kd_teacher): (Option<CloudEnsemble>, Option<CloudEnsemble>) = (None, None);
        let mut kd_data: Option<CloudData> = None;
        for (k, &(name, _)) in plan.iter().enumerate() {
            progress(Progress::RunStarted { row: name, seed, run, runs });
            run += 1;
            let objective = objective(name, config, kd_teacher.as_ref());
            if objective.teacher.is_none() && (objective.kd.is_some() || objective.lsp.is_some()) {
                return Err(TrainError::Mismatch(format!("{name}: the teacher was not trained")));
            }
            let settings = super::CloudTrainConfig { seed, ..config.training(name).clone() };
            if name.contains("+kd") && !config.transfer_set.is_train() && kd_data.is_none() {
                kd_data = pseudo_clouds(&data, config.transfer_set, seed).map(|p| data.with_pseudo(p));
            }
            let row_data = kd_data.as_ref().filter(|_| name.contains("+kd")).unwrap_or(&data);
            let mut on_epoch = |stats: &crate::EpochStats| progress(Progress::Epoch { row: name, stats });
            let trained = train_cloud_model(config.arch(name), row_data, &objective, &settings, &mut on_epoch)?;
            let (best_epoch, mut train_s, val_acc) =
                (trained.best_epoch + 1, trained.train_seconds, trained.best_val_acc);
            let mut member_acc = Vec::new();
            let members;
            let model: &dyn CloudModel = if name == "teacher" {
                let mut next = || run += 1;
                let (ensemble, accs) = teacher_ensemble(trained, config, &data, &settings, &mut next, &mut on_epoch)?;
                train_s = ensemble.members.iter().map(|m| m.train_seconds).sum();
                member_acc = accs;
                kd_teacher = Some(ensemble.at(config.kd.temperature));
                members = ensemble.members.clone();
                teacher.insert(ensemble)
            } else {
                members = Rc::new(vec![trained]);
                members[0].model.as_ref()
            };
            let measure = |model: &dyn CloudModel| {
                let (acc, ms) = timed_accuracy(model, &data.test, data.shape.classes);
                (acc, ms, single_cloud_latency_ms(model, &data.test, LATENCY_CLOUDS))
            };
            let (acc, ms, latency) = measure(model);
            let weight_bytes = members.iter().map(|m| f32_store_bytes(&m.vs)).sum();
            if let (Some(&(row, _)), Some(grid)) = (int8.iter().find(|(_, of)| *of == k), input_grid) {
                progress(Progress::RunStarted { row, seed, run, runs });
                let start = std::time::Instant::now();
                let combine = config.teacher_ensemble.as_ref().map(|e| e.combine).unwrap_or_default();
                let (quantized, bytes) = int8_model(config.arch(name), &members, combine, &data, grid)?;
                let (acc, ms, latency) = measure(quantized.as_ref());
                let j = plan.len() + int8.iter().position(|(r, _)| *r == row).unwrap();
                results[j].push(RunResult {
                    test_acc: acc,
                    val_acc: cloud_accuracy(
                        &predict_clouds(quantized.as_ref(), &data.val, data.shape.classes),
                        &data.val.labels,
                    ),
                    best_epoch,
                    train_s: start.elapsed().as_secs_f64(),
                    ms_per_cloud: ms,
                    latency_ms: latency,
                    member_acc: Vec::new(),
                    weight_bytes: bytes,
                });
            }
            results[k].push(RunResult {
                test_acc: acc,
                val_acc,
                best_epoch,
                train_s,
                ms_per_cloud: ms,
                latency_ms: latency,
                member_acc,
                weight_bytes,
            });
        }
    }
    plan.extend(int8.iter().map(|&(row, _)| (row, true)));
    let mut rows: Vec<CloudCompareRow> = plan
        .iter()
        .zip(&results)
        .map(|(&(name, _), runs)| {
            let arch = config.arch(name);
            let column = |f: fn(&RunResult) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
            let (test_acc, val_acc) = (column(|r| r.test_acc), column(|r| r.val_acc));
            let (mean, std) = mean_std(&test_acc);
            CloudCompareRow {
                name: name.to_string(),
                model: arch.describe(),
                // An ensemble teacher's parameters are its members' together.
                params: arch.num_params(data.shape)
                    * if name.starts_with("teacher") { config.ensemble_members() as i64 } else { 1 },
                mean,
                std,
                val_mean: mean_std(&val_acc).0,
                best_epochs: runs.iter().map(|r| r.best_epoch).collect(),
                train_s: mean_std(&column(|r| r.train_s)).0,
                infer_ms_per_cloud: mean_std(&column(|r| r.ms_per_cloud)).0,
                latency_ms: mean_std(&column(|r| r.latency_ms)).0,
                test_acc,
                val_acc,
                gap_closed: None,
                weight_bytes: config.int8_rows.then(|| runs[0].weight_bytes),
                ensemble: EnsembleScores::from_runs(
                    &runs.iter().map(|r| r.member_acc.clone()).filter(|a| !a.is_empty()).collect::<Vec<_>>(),
                ),
            }
        })
        .collect();
    let mean_of = |rows: &[CloudCompareRow], name: &str| rows.iter().find(|r| r.name == name).map(|r| r.mean);
    if let Some(teacher) = mean_of(&rows, "teacher") {
        for i in 0..rows.len() {
            let scratch = rows[i].name.split('+').next().and_then(|base| mean_of(&rows, base));
            if let (true, Some(scratch)) = (rows[i].name.contains('+'), scratch) {
                rows[i].gap_closed = (teacher != scratch).then(|| (rows[i].mean - scratch) / (teacher - scratch));
            }
        }
    }
    let shown: Vec<bool> = plan.iter().map(|&(_, shown)| shown).collect();
    let rows = rows.into_iter().zip(shown).filter(|(_, shown)| *shown).map(|(row, _)| row).collect();
    Ok(CloudCompareReport {
        dataset: dataset.summary(),
        device: format!("{device:?}"),
        rows,
        config: config.clone(),
        transfer_set: transfer_set_info(config.transfer_set, dataset.train.len()),
    })
}
