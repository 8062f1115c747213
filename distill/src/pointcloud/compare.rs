//! The point-cloud experiment: a DGCNN teacher against a small DGCNN and a PointNet-style
//! student, from scratch and distilled (KD on the cloud logits, LSP on per-point features, both).
//!
//! For each seed the teacher is trained first (when a row needs it); each distilled row then
//! trains its student against that teacher ([`CloudObjective`]). Every row reports parameters,
//! test accuracy per seed (mean ± std), validation accuracy, training seconds, the time per cloud
//! of the batched scoring pass (throughput) and the latency of classifying one cloud alone. Distilled rows also report the share of the accuracy gap
//! between their student from scratch and the teacher that distillation closed.

use gdistill_datasets::{PointCloudDataset, PointCloudSummary};
use serde::{Deserialize, Serialize};
use tch::Device;

use super::{
    single_cloud_latency_ms, timed_accuracy, train_cloud_model, CloudCompareConfig, CloudData, CloudObjective,
    TrainedCloudModel, CLOUD_ROWS,
};
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

/// The training runs one seed needs, in order: (row, whether it is reported).
fn planned_runs(config: &CloudCompareConfig) -> Vec<(&'static str, bool)> {
    let teacher_needed = config.rows.iter().any(|r| r.contains('+'));
    plan_rows(&CLOUD_ROWS, &config.rows, |r| r == "teacher" && teacher_needed)
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
    // Per row: its runs, with the per-cloud milliseconds as `infer_ms`, and its latencies.
    let mut results: Vec<(Runs, Vec<f64>)> = vec![Default::default(); plan.len()];
    let mut counter = RunCounter::new(plan.len() * config.seeds);
    for seed in seeds(config.first_seed, config.seeds) {
        let mut teacher: Option<TrainedCloudModel> = None;
        for (k, &(name, _)) in plan.iter().enumerate() {
            counter.start(progress, name, seed);
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
            let (runs, latencies) = &mut results[k];
            runs.test_acc.push(acc);
            runs.val_acc.push(trained.best_val_acc);
            runs.best_epochs.push(trained.best_epoch + 1);
            runs.train_s.push(trained.train_seconds);
            runs.infer_ms.push(ms);
            latencies.push(latency);
            if name == "teacher" {
                teacher = Some(trained);
            }
        }
    }
    let mut rows: Vec<CloudCompareRow> = plan
        .iter()
        .zip(&results)
        .map(|(&(name, _), (runs, latencies))| {
            let arch = config.arch(name);
            let columns = CloudColumns {
                val_acc: runs.val_acc.clone(),
                val_mean: runs.val_mean(),
                best_epochs: runs.best_epochs.clone(),
                train_s: runs.train_s(),
                infer_ms_per_cloud: runs.infer_ms(),
                latency_ms: mean(latencies),
                gap_closed: None,
            };
            runs.row(name, Some(arch.describe()), arch.num_params(data.shape), columns)
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
    Ok(CloudCompareReport { dataset: dataset.summary(), device: format!("{device:?}"), rows, config: config.clone() })
}
