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
use serde::{Deserialize, Serialize};
use tch::Device;

use super::teachers::teacher_ensemble;
use super::{
    calibration, cloud_accuracy, int8_model, predict_clouds, pseudo_clouds, single_cloud_latency_ms, timed_accuracy,
    train_cloud_model, transfer_set_info, CloudCompareConfig, CloudData, CloudEnsemble, CloudObjective, CLOUD_ROWS,
    INT8_ROWS,
};
use crate::compress::quantize_store::f32_store_bytes;
use crate::experiment::{mean, plan_rows, reported, seeds, Progress, Row, RunCounter, Runs};
use crate::TrainError;

/// One row of the point-cloud comparison ([`CloudColumns`] after the shared columns).
pub type CloudCompareRow = Row<CloudColumns>;

/// A point-cloud row's own columns, after name, architecture, parameters and test accuracy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CloudColumns {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::transfer::ensemble::EnsembleScores>,
    /// With `--int8`: bytes of the stored variables (f32 rows: 4 per value, batch-norm
    /// statistics included; int8 rows: [`super::int8_model`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// The training runs one seed needs, in order: (row, whether it is reported).
fn planned_runs(config: &CloudCompareConfig) -> Vec<(&'static str, bool)> {
    let teacher_needed = config.rows.iter().any(|r| r.contains('+'));
    plan_rows(&CLOUD_ROWS, &config.rows, |r| r == "teacher" && teacher_needed)
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
    let int8_calibration = config.int8_rows.then(|| calibration(&data));
    // Per row: its runs (per-cloud milliseconds as `infer_ms`), its latencies, its weight bytes.
    let mut results: Vec<(Runs, Vec<f64>, i64)> = vec![Default::default(); plan.len() + int8.len()];
    let extra_members = if plan.first().is_some_and(|p| p.0 == "teacher") { config.ensemble_members() - 1 } else { 0 };
    let mut counter = RunCounter::new((plan.len() + extra_members) * config.seeds);
    for seed in seeds(config.first_seed, config.seeds) {
        // The teacher at temperature 1 (its row), and at the KD temperature (the students' target).
        let (mut teacher, mut kd_teacher): (Option<CloudEnsemble>, Option<CloudEnsemble>) = (None, None);
        let mut kd_data: Option<CloudData> = None;
        for (k, &(name, _)) in plan.iter().enumerate() {
            counter.start(progress, name, seed);
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
                let mut next = || counter.count();
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
            if let (Some(&(row, _)), Some(calibration)) = (int8.iter().find(|(_, of)| *of == k), &int8_calibration) {
                // Not counted: quantizing trains nothing.
                progress(Progress::RunStarted { row, seed, run: counter.run(), runs: counter.runs() });
                let start = std::time::Instant::now();
                let combine = config.teacher_ensemble.as_ref().map(|e| e.combine).unwrap_or_default();
                let (quantized, bytes) = int8_model(config.arch(name), &members, combine, &data, calibration)?;
                let (acc, ms, latency) = measure(quantized.as_ref());
                let val = predict_clouds(quantized.as_ref(), &data.val, data.shape.classes);
                let (runs, latencies, weight_bytes) =
                    &mut results[plan.len() + int8.iter().position(|(r, _)| *r == row).unwrap()];
                runs.test_acc.push(acc);
                runs.val_acc.push(cloud_accuracy(&val, &data.val.labels));
                runs.best_epochs.push(best_epoch);
                runs.train_s.push(start.elapsed().as_secs_f64());
                runs.infer_ms.push(ms);
                latencies.push(latency);
                *weight_bytes = bytes;
            }
            let (runs, latencies, weight_bytes) = &mut results[k];
            runs.test_acc.push(acc);
            runs.val_acc.push(val_acc);
            runs.best_epochs.push(best_epoch);
            runs.train_s.push(train_s);
            runs.infer_ms.push(ms);
            latencies.push(latency);
            if !member_acc.is_empty() {
                runs.member_acc.push(member_acc);
            }
            *weight_bytes = members.iter().map(|m| f32_store_bytes(&m.vs)).sum();
        }
    }
    plan.extend(int8.iter().map(|&(row, _)| (row, true)));
    let mut rows: Vec<CloudCompareRow> = plan
        .iter()
        .zip(&results)
        .map(|(&(name, _), (runs, latencies, weight_bytes))| {
            let arch = config.arch(name);
            let columns = CloudColumns {
                val_acc: runs.val_acc.clone(),
                val_mean: runs.val_mean(),
                best_epochs: runs.best_epochs.clone(),
                train_s: runs.train_s(),
                infer_ms_per_cloud: runs.infer_ms(),
                latency_ms: mean(latencies),
                gap_closed: None,
                ensemble: runs.ensemble(),
                weight_bytes: config.int8_rows.then_some(*weight_bytes),
            };
            // An ensemble teacher's parameters are its members' together (its int8 copy's too).
            let members = if name.starts_with("teacher") { config.ensemble_members() as i64 } else { 1 };
            runs.row(name, Some(arch.describe()), arch.num_params(data.shape) * members, columns)
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
    let rows = reported(&plan, rows);
    Ok(CloudCompareReport {
        dataset: dataset.summary(),
        device: format!("{device:?}"),
        rows,
        config: config.clone(),
        transfer_set: transfer_set_info(config.transfer_set, dataset.train.len()),
    })
}
