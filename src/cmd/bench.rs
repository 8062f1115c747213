//! `gdistill bench`: per-epoch training time, inference time and peak memory.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::{resplit, SplitSpec};
use gdistill_distill::bench::{bench, BenchOptions, BENCH_MODELS};
use gdistill_models::Arch;

use super::sampler_args::SamplerArgs;
use super::{write_json, DatasetArgs, DeviceArgs};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Timed epochs per model (after the warm-up).
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Untimed warm-up epochs.
    #[arg(long, default_value_t = 10)]
    pub warmup: usize,
    /// Models to time (comma-separated): teacher, gcn-small, mlp, gcn-small+kd, gcn-small+kd+lsp.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Also time classifying 1 and 1 000 random nodes given the graph (teacher and MLP).
    #[arg(long)]
    pub online: bool,
    /// Teacher family: gcn, sage, gat or appnp, with compare's recipe for it.
    #[arg(long, default_value = "gcn")]
    pub teacher: Arch,
    /// Split, drawn with seed 0: public, per-class:TRAIN,VAL, random:TRAIN,VAL (the sampled
    /// teacher's seed nodes are the training nodes).
    #[arg(long)]
    pub split: Option<SplitSpec>,
    #[command(flatten)]
    pub sampling: SamplerArgs,
    /// How the node features are held: auto (CSR at or below 15% non-zero, as training holds
    /// them), dense or sparse, to time one layout against the other.
    #[arg(long, default_value = "auto")]
    pub feature_layout: gdistill_datasets::FeatureLayout,
    /// A peer's figures for the same teacher recipe (the JSON line bench/pyg_gcn.py prints):
    /// the teacher's figures are then also given as ratios to the peer's.
    #[arg(long)]
    pub peer: Option<PathBuf>,
    /// Write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let device = args.device.device()?;
    let mut dataset = args.dataset.load()?;
    if let Some(split) = &args.split {
        resplit(&mut dataset, split, 0)?;
    }
    anyhow::ensure!(args.epochs > 0, "--epochs must be at least 1");
    let models = if args.models.is_empty() { BENCH_MODELS.map(String::from).to_vec() } else { args.models.clone() };
    let sampler = args.sampling.resolve(None, dataset.train.len())?;
    let options = BenchOptions {
        epochs: args.epochs,
        warmup: args.warmup,
        models,
        online: args.online,
        family: args.teacher,
        sampler,
        feature_layout: args.feature_layout,
    };
    // read before the benchmark, so that a bad file is refused before minutes of work
    let peer = args.peer.as_deref().map(read_peer).transpose()?;
    if let (Some(path), Some(peer)) = (&args.peer, &peer) {
        if let Some(model) = peer["model"].as_str() {
            let ours = options.family.to_string();
            anyhow::ensure!(
                model == ours,
                "{}: the peer timed a {model} teacher, this bench a {ours} one",
                path.display()
            );
        }
        anyhow::ensure!(
            peer["sampler"].is_null() == options.sampler.is_none(),
            "{}: one side trained on sampled batches and the other full-batch; pass the same --sampler to both",
            path.display()
        );
    }
    let report = bench(&dataset, device, &options)?;
    let sampled = report.sampler.as_ref().map_or_else(String::new, |s| {
        format!("; teacher {} on sampled batches of {} seeds, fan-out {:?}", report.family, s.batch_size, s.fanouts)
    });
    println!(
        "{}: {} nodes, {} edges; {:?} with {} torch threads on {} cores; medians over {} epochs{sampled}",
        report.dataset, report.nodes, report.edges, device, report.torch_threads, report.cpu_cores, args.epochs
    );
    println!(
        "{:<18} {:>9} {:>10} {:>10} {:>11} {:>9} {:>9}",
        "model", "params", "step ms", "eval ms", "infer ms", "total s", "test acc"
    );
    for r in &report.rows {
        println!(
            "{:<18} {:>9} {:>10.3} {:>10.3} {:>11.3} {:>9.2} {:>9.4}",
            r.name, r.params, r.step_ms, r.eval_ms, r.infer_ms, r.train_s, r.test_acc
        );
    }
    for r in report.rows.iter().filter(|r| r.online_1_ms.is_some()) {
        println!(
            "{:<18} online: 1 node {:.4} ms, 1000 nodes {:.3} ms (receptive field gathered on the host)",
            r.name,
            r.online_1_ms.unwrap_or(f64::NAN),
            r.online_1000_ms.unwrap_or(f64::NAN)
        );
    }
    let step = |name: &str| report.rows.iter().find(|r| r.name == name).map(|r| r.step_ms);
    if let (Some(kd), Some(lsp)) = (step("gcn-small+kd"), step("gcn-small+kd+lsp")) {
        println!("an LSP step costs {:.2}x a KD-only step", lsp / kd);
    }
    if let Some(rss) = report.peak_rss_mib {
        println!("peak resident memory {rss:.0} MiB");
    }
    if let Some(mib) = report.cuda_memory_mib {
        println!("GPU memory in use, most after any epoch: {mib:.0} MiB (CUDA context and libtorch's cache included)");
    }
    let mut json = serde_json::to_value(&report)?;
    if let (Some(path), Some(peer)) = (&args.peer, peer) {
        let teacher = report
            .rows
            .iter()
            .find(|r| r.name == "teacher")
            .context("--peer compares the teacher: include it in --models")?;
        let name = peer["peer"].as_str().unwrap_or("peer");
        println!("teacher against {name} (same recipe, same machine; ratio = peer / gdistill, higher is faster here):");
        let mut ratios = serde_json::Map::new();
        // A sampled peer times whole epochs (`epoch_ms`), as the sampled teacher's step does.
        let step_key = if report.sampler.is_some() { "epoch_ms" } else { "step_ms" };
        for (key, ours) in [
            (step_key, teacher.step_ms),
            ("eval_ms", teacher.eval_ms),
            ("infer_ms", teacher.infer_ms),
            ("train_s", teacher.train_s),
        ] {
            let Some(theirs) = peer[key].as_f64() else {
                anyhow::ensure!(key != step_key, "{}: no '{key}'", path.display());
                continue;
            };
            println!("  {key:<9} gdistill {ours:>9.3}  {name} {theirs:>9.3}  x{:.1}", theirs / ours);
            ratios.insert(key.to_string(), serde_json::json!(theirs / ours));
        }
        if let (Some(theirs), Some(ours)) = (peer["peak_rss_mib"].as_f64(), report.peak_rss_mib) {
            // with --models teacher both processes trained the same one model
            let models = report.rows.len();
            println!(
                "  peak RSS  gdistill {ours:>9.0}  {name} {theirs:>9.0}  MiB (gdistill trained {models} model(s))"
            );
            ratios.insert("peak_rss_mib".to_string(), serde_json::json!(theirs / ours));
        }
        if let Some(acc) = peer["test_acc_at_best_val"].as_f64() {
            println!("  test acc  gdistill {:>9.4}  {name} {acc:>9.4}", teacher.test_acc);
        }
        json["peer"] = peer;
        json["peer_over_gdistill"] = serde_json::Value::Object(ratios);
    }
    if let Some(path) = &args.json {
        write_json(path, &json)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The peer's figures: the last line of `path`, a JSON object (bench/pyg_gcn.py prints one).
fn read_peer(path: &std::path::Path) -> Result<serde_json::Value> {
    let kind = gdistill_datasets::input::InputKind::small("a peer's benchmark figures (a JSON line)");
    let text = gdistill_datasets::input::read_input_string(path, &kind)?;
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .with_context(|| format!("{}: not a JSON line", path.display()))
}
