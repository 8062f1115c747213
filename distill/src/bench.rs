//! Speed and memory of training and inference, for `gdistill bench`.
//!
//! Each model is trained for a fixed number of epochs (no early stopping); the report gives the
//! median optimisation step and the median evaluation per epoch after a warm-up, the median warm
//! full-graph inference, and the process's peak resident memory.

use gdistill_datasets::NodeDataset;
use gdistill_models::{Arch, ModelConfig};
use serde::Serialize;
use tch::Device;

use crate::lsp::{EdgeList, KlDirection, LspKernel};
use crate::{inference_ms, train, FeatureLayout, GraphData, LspTerm, Objective, TrainConfig, TrainError, Trained};

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

/// Times the teacher (GCN, 64 hidden), the small GCN (6 hidden) and the MLP (64 hidden) from
/// labels, then the small GCN distilled with soft targets and with soft targets plus LSP (linear
/// kernel), so that the cost of the LSP term shows as a ratio of step times.
pub fn bench(dataset: &NodeDataset, device: Device, epochs: usize, warmup: usize) -> Result<BenchReport, TrainError> {
    let mut dataset = dataset.clone();
    if dataset.has_nonnegative_features() {
        dataset.row_normalize_features();
    }
    let data = GraphData::new(&dataset, device, FeatureLayout::Auto)?;
    let (f, c) = (data.num_features(), data.num_classes);
    let teacher = ModelConfig::new(Arch::Gcn, f, 64, 2, c, 0.5);
    let small = ModelConfig::new(Arch::Gcn, f, 6, 2, c, 0.5);
    let mlp = ModelConfig::new(Arch::Mlp, f, 64, 2, c, 0.5);
    let settings = TrainConfig { epochs: epochs + warmup, patience: None, ..TrainConfig::default() };
    let mut rows = Vec::new();
    let mut run = |name: &str, config: &ModelConfig, objective: &Objective| -> Result<Trained, TrainError> {
        let (mut steps, mut evals) = (Vec::new(), Vec::new());
        let trained = train(config, &data, objective, &settings, &mut |s| {
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
        Ok(trained)
    };
    let trained_teacher = run("teacher", &teacher, &Objective::labels())?;
    run("gcn-small", &small, &Objective::labels())?;
    run("mlp", &mlp, &Objective::labels())?;
    let out = tch::no_grad(|| trained_teacher.model.forward_t(&data.features, &data.a_hat, false));
    let kd = || Objective::soft_targets(out.logits.shallow_clone(), 2.0, 0.0);
    run("gcn-small+kd", &small, &kd())?;
    let lsp = LspTerm {
        teacher_hidden: out.hidden[0].shallow_clone(),
        student_layer: -1,
        edges: EdgeList::from_graph(&dataset.graph, false, device),
        kernel: LspKernel::Linear,
        direction: KlDirection::TeacherToStudent,
        weight: 1.0,
        until_epoch: None,
    };
    run("gcn-small+kd+lsp", &small, &kd().with_lsp(lsp))?;
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
