//! The point-cloud experiment: a DGCNN teacher against a small DGCNN and a PointNet-style
//! student, from scratch and distilled (KD on the cloud logits, LSP on per-point features, both).
//!
//! For each seed the teacher is trained first (when a row needs it); each distilled row then
//! trains its student against that teacher ([`CloudObjective`]). Every row reports parameters,
//! test accuracy per seed (mean ± std), validation accuracy, training seconds, the time per cloud
//! of the batched scoring pass (throughput) and the latency of classifying one cloud alone. Distilled rows also report the share of the accuracy gap
//! between their student from scratch and the teacher that distillation closed.

use gdistill_datasets::{PointCloudDataset, PointCloudSummary};
use serde::Serialize;
use tch::Device;

use super::{
    single_cloud_latency_ms, timed_accuracy, train_cloud_model, CloudCompareConfig, CloudData,
    CloudObjective, TrainedCloudModel, CLOUD_ROWS,
};
use crate::compare::{mean_std, Progress};
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
}

/// The whole comparison, as `gdistill compare --json` writes it for point clouds.
#[derive(Clone, Debug, Serialize)]
pub struct CloudCompareReport {
    pub dataset: PointCloudSummary,
    pub device: String,
    pub rows: Vec<CloudCompareRow>,
    pub config: CloudCompareConfig,
}

/// Single-cloud forward passes timed per run for the latency column.
const LATENCY_CLOUDS: i64 = 50;

/// What one training run of a row gave.
#[derive(Clone, Copy, Debug)]
struct RunResult {
    test_acc: f64,
    val_acc: f64,
    best_epoch: usize,
    train_s: f64,
    ms_per_cloud: f64,
    latency_ms: f64,
}

/// The training runs one seed needs, in order: (row, whether it is reported).
fn planned_runs(config: &CloudCompareConfig) -> Vec<(&'static str, bool)> {
    let wanted = |row: &str| config.rows.iter().any(|r| r == row);
    let teacher_needed = CLOUD_ROWS.iter().any(|r| r.contains('+') && wanted(r));
    CLOUD_ROWS.iter().filter(|r| wanted(r) || (**r == "teacher" && teacher_needed)).map(|&r| (r, wanted(r))).collect()
}

/// The objective of `row` against `teacher`.
fn objective<'a>(row: &str, config: &CloudCompareConfig, teacher: Option<&'a TrainedCloudModel>) -> CloudObjective<'a> {
    let (kd, lsp) = (row.contains("+kd"), row.contains("+lsp"));
    CloudObjective {
        teacher: if kd || lsp { teacher.map(|t| t.model.as_ref()) } else { None },
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
    let plan = planned_runs(config);
    let mut results: Vec<Vec<RunResult>> = vec![Vec::new(); plan.len()];
    let runs = plan.len() * config.seeds;
    let mut run = 0;
    for seed in config.first_seed..config.first_seed + config.seeds as u64 {
        let mut teacher: Option<TrainedCloudModel> = None;
        for (k, &(name, _)) in plan.iter().enumerate() {
            progress(Progress::RunStarted { row: name, seed, run, runs });
            run += 1;
            let objective = objective(name, config, teacher.as_ref());
            if objective.teacher.is_none() && (objective.kd.is_some() || objective.lsp.is_some()) {
                return Err(TrainError::Mismatch(format!("{name}: the teacher was not trained")));
            }
            let settings = super::CloudTrainConfig { seed, ..config.training(name).clone() };
            let trained = train_cloud_model(config.arch(name), &data, &objective, &settings, &mut |stats| {
                progress(Progress::Epoch { row: name, stats })
            })?;
            let (acc, ms) = timed_accuracy(trained.model.as_ref(), &data.test, data.shape.classes);
            let latency = single_cloud_latency_ms(trained.model.as_ref(), &data.test, LATENCY_CLOUDS);
            results[k].push(RunResult {
                test_acc: acc,
                val_acc: trained.best_val_acc,
                best_epoch: trained.best_epoch + 1,
                train_s: trained.train_seconds,
                ms_per_cloud: ms,
                latency_ms: latency,
            });
            if name == "teacher" {
                teacher = Some(trained);
            }
        }
    }
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
                params: arch.num_params(data.shape),
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
    Ok(CloudCompareReport { dataset: dataset.summary(), device: format!("{device:?}"), rows, config: config.clone() })
}
