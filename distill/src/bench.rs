//! Speed and memory of training and inference, for `gdistill bench`.
//!
//! Each model is trained for a fixed number of epochs (no early stopping); the report gives the
//! median optimisation step and the median evaluation per epoch after a warm-up, the median warm
//! full-graph inference, and the process's peak resident memory.

use gdistill_datasets::NodeDataset;
use gdistill_models::{Arch, ModelConfig};
use serde::Serialize;
use tch::Device;

use crate::{inference_ms, train, FeatureLayout, GraphData, Objective, TrainConfig, TrainError};

#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    pub name: String,
    pub params: i64,
    pub epochs: usize,
    /// Median forward + backward + optimiser step, milliseconds.
    pub step_ms: f64,
    /// Median evaluation after each step (full-graph forward, validation accuracy and loss), ms.
    pub eval_ms: f64,
    /// Median warm full-graph inference, milliseconds.
    pub infer_ms: f64,
    /// Wall time of the whole run, seconds.
    pub train_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub dataset: String,
    pub nodes: usize,
    pub edges: usize,
    pub device: String,
    pub cpu_cores: usize,
    pub torch_threads: i32,
    pub rows: Vec<BenchRow>,
    /// Peak resident set size of the process (Linux `VmHWM`), MiB.
    pub peak_rss_mib: Option<f64>,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Peak resident memory of this process in MiB, where the OS reports it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Times the teacher (GCN, 64 hidden), the small GCN (6 hidden) and the MLP (64 hidden).
pub fn bench(dataset: &NodeDataset, device: Device, epochs: usize, warmup: usize) -> Result<BenchReport, TrainError> {
    let mut dataset = dataset.clone();
    if dataset.has_nonnegative_features() {
        dataset.row_normalize_features();
    }
    let data = GraphData::new(&dataset, device, FeatureLayout::Auto)?;
    let (f, c) = (data.num_features(), data.num_classes);
    let models = [
        ("teacher", ModelConfig::new(Arch::Gcn, f, 64, 2, c, 0.5)),
        ("gcn-small", ModelConfig::new(Arch::Gcn, f, 6, 2, c, 0.5)),
        ("mlp", ModelConfig::new(Arch::Mlp, f, 64, 2, c, 0.5)),
    ];
    let settings = TrainConfig { epochs: epochs + warmup, patience: None, ..TrainConfig::default() };
    let mut rows = Vec::new();
    for (name, config) in models {
        let (mut steps, mut evals) = (Vec::new(), Vec::new());
        let trained = train(&config, &data, &Objective::Labels, &settings, &mut |s| {
            if s.epoch >= warmup {
                steps.push(s.step_seconds * 1e3);
                evals.push(s.eval_seconds * 1e3);
            }
        })?;
        rows.push(BenchRow {
            name: name.to_string(),
            params: config.num_params(),
            epochs,
            step_ms: median(steps),
            eval_ms: median(evals),
            infer_ms: inference_ms(trained.model.as_ref(), &data, 3, 21),
            train_s: trained.train_seconds,
        });
    }
    Ok(BenchReport {
        dataset: dataset.name.clone(),
        nodes: dataset.num_nodes(),
        edges: dataset.graph.num_undirected_edges(),
        device: format!("{device:?}"),
        cpu_cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        torch_threads: tch::get_num_threads(),
        rows,
        peak_rss_mib: peak_rss_mib(),
    })
}
