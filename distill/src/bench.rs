//! Speed and memory of training and inference, for `gdistill bench`.
//!
//! Each model is trained for a fixed number of epochs (no early stopping); the report gives the
//! median optimisation step and the median evaluation per epoch after a warm-up, the median warm
//! full-graph inference, and the process's peak resident memory.
//!
//! The teacher is of any family, with its published recipe
//! ([`family_recipe`]); with a [`SamplerConfig`] it trains on neighbour-sampled
//! mini-batches ([`crate::training::sampled`]), and its "step" is then a whole epoch of batches, sampling
//! included (what PyTorch Geometric's `NeighborLoader` loop times).

use gdistill_datasets::NodeDataset;
use gdistill_models::{Arch, ModelConfig};
use serde::Serialize;
use tch::Device;

use crate::compare::family_recipe;
use crate::losses::lsp::{EdgeList, KlDirection, LspKernel};
use crate::online::{online_latency_ms, OnlineGraph};
use crate::training::sampled::{train_sampled_or_full, SamplerConfig};
use crate::{
    accuracy, inference_ms, predict, train, EpochStats, FeatureLayout, GraphData, LspTerm, Objective, TrainConfig,
    TrainError, Trained,
};

#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    pub name: String,
    pub params: i64,
    pub epochs: usize,
    /// Median forward + backward + optimiser step, milliseconds (sampled: a whole epoch).
    pub step_ms: f64,
    /// Median evaluation after each step (full-graph forward, validation accuracy and loss), ms.
    pub eval_ms: f64,
    /// Median warm full-graph inference, milliseconds.
    pub infer_ms: f64,
    /// Wall time of the whole run, seconds.
    pub train_s: f64,
    /// Test accuracy of the best-validation epoch's weights.
    pub test_acc: f64,
    /// Median milliseconds to classify 1 and 1 000 random nodes given the graph, gathering their
    /// receptive field included ([`crate::online`]); for the teacher and the MLP when asked.
    pub online_1_ms: Option<f64>,
    pub online_1000_ms: Option<f64>,
}

/// What to time.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Timed epochs per model, after `warmup` untimed ones.
    pub epochs: usize,
    pub warmup: usize,
    /// Models to time, among [`BENCH_MODELS`] (the distilled ones also train the teacher).
    pub models: Vec<String>,
    /// Also time online classification of unseen nodes.
    pub online: bool,
    /// The teacher's family.
    pub family: Arch,
    /// Train the teacher on neighbour-sampled mini-batches (it is then the only model timed).
    pub sampler: Option<SamplerConfig>,
    /// How the features are held: [`FeatureLayout::Auto`] as training holds them, or forced
    /// dense or CSR to time one against the other.
    pub feature_layout: FeatureLayout,
}

/// Every model `bench` can time.
pub const BENCH_MODELS: [&str; 5] = ["teacher", "gcn-small", "mlp", "gcn-small+kd", "gcn-small+kd+lsp"];

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            epochs: 200,
            warmup: 10,
            models: BENCH_MODELS.map(String::from).to_vec(),
            online: false,
            family: Arch::Gcn,
            sampler: None,
            feature_layout: FeatureLayout::Auto,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub dataset: String,
    pub nodes: usize,
    pub edges: usize,
    pub device: String,
    /// The teacher's family, and its sampler when it trained on mini-batches.
    pub family: Arch,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampler: Option<SamplerConfig>,
    /// How the features were held: "sparse" (CSR) or "dense".
    pub feature_layout: String,
    pub cpu_cores: usize,
    pub torch_threads: i32,
    pub rows: Vec<BenchRow>,
    /// Peak resident set size of the process (Linux `VmHWM`), MiB.
    pub peak_rss_mib: Option<f64>,
    /// On CUDA, the most device memory in use after any epoch or inference of any model, MiB
    /// ([`gdistill_models::cuda_memory_in_use_mib`]: the CUDA context and libtorch's cached
    /// blocks included).
    pub cuda_memory_mib: Option<f64>,
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

/// Times the teacher (GCN, 64 hidden, or the family's recipe), the small GCN (6 hidden) and the
/// MLP (64 hidden) from labels, then the small GCN distilled with soft targets and with soft
/// targets plus LSP (linear kernel), so that the cost of the LSP term shows as a ratio of step
/// times.
pub fn bench(dataset: &NodeDataset, device: Device, options: &BenchOptions) -> Result<BenchReport, TrainError> {
    if let Some(bad) = options.models.iter().find(|m| !BENCH_MODELS.contains(&m.as_str())) {
        return Err(TrainError::Config(format!("unknown bench model '{bad}'; models are {}", BENCH_MODELS.join(", "))));
    }
    let only_teacher = options.models.iter().all(|m| m == "teacher");
    if options.sampler.is_some() && !only_teacher {
        return Err(TrainError::Config("a sampled bench times the teacher only: pass --models teacher".into()));
    }
    if options.family != Arch::Gcn && options.models.iter().any(|m| m.starts_with("gcn-small")) {
        return Err(TrainError::Config(format!(
            "the gcn-small rows distil a GCN teacher; with a {} teacher time teacher and mlp",
            options.family
        )));
    }
    let (epochs, warmup) = (options.epochs, options.warmup);
    let wanted = |name: &str| options.models.iter().any(|m| m == name);
    // A copy only when the features change: at millions of nodes the dataset is gigabytes.
    let dataset = if dataset.has_nonnegative_features() {
        let mut normalized = dataset.clone();
        normalized.row_normalize_features();
        std::borrow::Cow::Owned(normalized)
    } else {
        std::borrow::Cow::Borrowed(dataset)
    };
    let dataset = dataset.as_ref();
    let online = options.online.then(|| OnlineGraph::new(dataset, device)).transpose()?;
    let data = GraphData::new(dataset, device, options.feature_layout)?;
    let (f, c) = (data.num_features(), data.num_classes);
    let (teacher_spec, teacher_training, _) = family_recipe(options.family, c);
    let teacher = teacher_spec.config(options.family, f, c);
    let small = ModelConfig::new(Arch::Gcn, f, 6, 2, c, 0.5);
    let mlp = ModelConfig::new(Arch::Mlp, f, 64, 2, c, 0.5);
    let settings = TrainConfig { epochs: epochs + warmup, patience: None, ..TrainConfig::default() };
    let teacher_settings = TrainConfig { epochs: epochs + warmup, patience: None, ..teacher_training };
    let mut rows = Vec::new();
    let mut cuda_memory_mib: Option<f64> = None;
    let mut sample_cuda_memory = || {
        if let Device::Cuda(index) = device {
            if let Some(now) = gdistill_models::cuda_memory_in_use_mib(index) {
                cuda_memory_mib = Some(cuda_memory_mib.map_or(now, |most| most.max(now)));
            }
        }
    };
    let mut run = |name: &str, config: &ModelConfig, objective: &Objective| -> Result<Trained, TrainError> {
        let (mut steps, mut evals) = (Vec::new(), Vec::new());
        let mut on_epoch = |s: &EpochStats| {
            if s.epoch >= warmup {
                steps.push(s.step_seconds * 1e3);
                evals.push(s.eval_seconds * 1e3);
            }
            sample_cuda_memory();
        };
        let trained = if name == "teacher" {
            let sampler = options.sampler.as_ref();
            train_sampled_or_full(config, dataset, &data, objective, &teacher_settings, sampler, &mut on_epoch)?
        } else {
            train(config, &data, objective, &settings, &mut on_epoch)?
        };
        rows.push(BenchRow {
            name: name.to_string(),
            params: config.num_params(),
            epochs,
            step_ms: median(steps),
            eval_ms: median(evals),
            infer_ms: inference_ms(trained.model.as_ref(), &data, 3, 21),
            train_s: trained.train_seconds,
            test_acc: accuracy(&predict(trained.model.as_ref(), &data), &data.labels, &data.test),
            online_1_ms: None,
            online_1000_ms: None,
        });
        sample_cuda_memory();
        if let Some(online) = online.as_ref().filter(|_| matches!(name, "teacher" | "mlp")) {
            let row = rows.last_mut().expect("just pushed");
            row.online_1_ms = Some(online_latency_ms(online, trained.model.as_ref(), 1, 1001, 7)?);
            row.online_1000_ms = Some(online_latency_ms(online, trained.model.as_ref(), 1000, 11, 7)?);
        }
        Ok(trained)
    };
    let needs_teacher = ["teacher", "gcn-small+kd", "gcn-small+kd+lsp"].iter().any(|m| wanted(m));
    let trained_teacher = if needs_teacher { Some(run("teacher", &teacher, &Objective::labels())?) } else { None };
    if wanted("gcn-small") {
        run("gcn-small", &small, &Objective::labels())?;
    }
    if wanted("mlp") {
        run("mlp", &mlp, &Objective::labels())?;
    }
    let Some(trained_teacher) = trained_teacher.filter(|_| wanted("gcn-small+kd") || wanted("gcn-small+kd+lsp")) else {
        return Ok(report(dataset, device, options, rows, cuda_memory_mib));
    };
    let out = tch::no_grad(|| trained_teacher.model.forward_t(&data.features, &data.a_hat, false));
    let kd = || Objective::soft_targets(out.logits.shallow_clone(), 2.0, 0.0);
    if wanted("gcn-small+kd") {
        run("gcn-small+kd", &small, &kd())?;
    }
    let lsp = LspTerm {
        teacher_hidden: out.hidden[0].shallow_clone(),
        student_layer: -1,
        edges: EdgeList::from_graph(&dataset.graph, false, device),
        kernel: LspKernel::Linear,
        direction: KlDirection::TeacherToStudent,
        weight: 1.0,
        until_epoch: None,
    };
    if wanted("gcn-small+kd+lsp") {
        run("gcn-small+kd+lsp", &small, &kd().with_lsp(lsp))?;
    }
    Ok(report(dataset, device, options, rows, cuda_memory_mib))
}

fn report(
    dataset: &NodeDataset,
    device: Device,
    options: &BenchOptions,
    rows: Vec<BenchRow>,
    cuda_memory_mib: Option<f64>,
) -> BenchReport {
    BenchReport {
        dataset: dataset.name.clone(),
        nodes: dataset.num_nodes(),
        edges: dataset.graph.num_undirected_edges(),
        device: format!("{device:?}"),
        family: options.family,
        sampler: options.sampler.clone(),
        feature_layout: if options.feature_layout.is_sparse_for(dataset) { "sparse" } else { "dense" }.into(),
        cpu_cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        torch_threads: tch::get_num_threads(),
        rows,
        peak_rss_mib: peak_rss_mib(),
        cuda_memory_mib,
    }
}
