//! Full-batch versus neighbour-sampled training of GCN and GraphSAGE on Amazon Computers
//! (13 752 nodes, 245 861 edges, 767 features, 10 classes): time per epoch and test accuracy,
//! on GLNN's per-class 20/30 split and on a random 60/20/20 split.
//!
//! ```text
//! cargo run --release --example sampled_amazon -- \
//!     [NPZ] [--device cpu|cuda] [--seeds N] [--fanout 15,10] [--batch-size 512] [--epochs 200] \
//!     [--sampled-epochs 30] [--normalize] [--split SPEC] [--model gcn|sage] [--block-norm unbiased|block]
//! ```
//!
//! NPZ defaults to `../shared/data/amazon/amazon_electronics_computers.npz`. Recipes: 2 layers of
//! 64, dropout 0.5, Adam lr 0.01, weight decay 5e-4 (GCN: first layer only; SAGE: every layer),
//! features as given (`--normalize` row-normalises them), the weights of the best validation epoch
//! kept (patience 50 epochs).
//! Per-class 20/30 has only 200 training nodes: the batch is capped there, so a sampled epoch is
//! one step and runs as many epochs as full-batch training. On the random split a sampled epoch
//! takes one Adam step per batch (512: 17 steps) and runs `--sampled-epochs` epochs.

use std::path::Path;

use anyhow::Context;
use gdistill_datasets::{apply_split, NodeDataset, SplitSpec};
use gdistill_distill::sampled::{train_sampled, SamplerConfig};
use gdistill_distill::{accuracy, predict, train, EpochStats, FeatureLayout, GraphData, Objective, TrainConfig};
use gdistill_graph::{NeighborLoader, NeighborSampler};
use gdistill_models::{parse_device, Arch, ModelConfig};

struct Args {
    npz: String,
    device: String,
    seeds: u64,
    fanouts: Vec<usize>,
    norm: gdistill_models::BlockNorm,
    batch_size: usize,
    epochs: usize,
    sampled_epochs: usize,
    normalize: bool,
    splits: Vec<SplitSpec>,
    models: Vec<Arch>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        npz: "../shared/data/amazon/amazon_electronics_computers.npz".into(),
        device: "cpu".into(),
        seeds: 1,
        fanouts: vec![15, 10],
        norm: Default::default(),
        batch_size: 512,
        epochs: 200,
        sampled_epochs: 30,
        normalize: false,
        splits: vec![SplitSpec::PerClass { train: 20, val: 30 }, SplitSpec::Random { train: 0.6, val: 0.2 }],
        models: vec![Arch::Gcn, Arch::Sage],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--device" => args.device = value()?,
            "--seeds" => args.seeds = value()?.parse()?,
            "--fanout" => args.fanouts = SamplerConfig::parse_fanouts(&value()?).map_err(anyhow::Error::msg)?,
            "--batch-size" => args.batch_size = value()?.parse()?,
            "--epochs" => args.epochs = value()?.parse()?,
            "--sampled-epochs" => args.sampled_epochs = value()?.parse()?,
            "--normalize" => args.normalize = true,
            "--block-norm" => args.norm = value()?.parse().map_err(anyhow::Error::msg)?,
            "--split" => args.splits = vec![value()?.parse()?],
            "--model" => args.models = vec![value()?.parse()?],
            other if !other.starts_with("--") => args.npz = other.to_string(),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(args)
}

/// Mean step and evaluation milliseconds per epoch.
fn per_epoch_ms(stats: &[EpochStats]) -> (f64, f64) {
    let n = stats.len().max(1) as f64;
    (
        stats.iter().map(|s| s.step_seconds).sum::<f64>() * 1e3 / n,
        stats.iter().map(|s| s.eval_seconds).sum::<f64>() * 1e3 / n,
    )
}

/// Mean nodes (`n_id`) a batch reaches, over one epoch.
fn mean_frontier(d: &NodeDataset, fanouts: &[usize], batch: usize) -> anyhow::Result<f64> {
    let sampler = NeighborSampler::new(fanouts.to_vec())?;
    let loader = NeighborLoader::new(std::sync::Arc::new(d.graph.clone()), sampler, d.train.clone(), batch, true, 0)?;
    let sizes: Vec<usize> = loader.map(|b| b.n_id.len()).collect();
    Ok(sizes.iter().sum::<usize>() as f64 / sizes.len() as f64)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let device = parse_device(&args.device)?;
    let mut base = gdistill_datasets::load(&format!("npz:{}", args.npz), Path::new("."))?;
    // the CLI's default: row-normalise sparse count features only (Amazon's binary features are
    // 35% non-zero, and row-normalised they leave a GCN underfitting); --normalize forces it
    let normalized = args.normalize || (base.has_nonnegative_features() && base.feature_density() < 0.1);
    if normalized {
        base.row_normalize_features();
    }
    println!(
        "{}: {} nodes, {} edges, {} features ({:.1}% non-zero{}), {} classes; device {device:?}, {} torch threads",
        base.name,
        base.num_nodes(),
        base.graph.num_undirected_edges(),
        base.num_features(),
        100.0 * base.feature_density(),
        if normalized { ", row-normalised" } else { "" },
        base.num_classes,
        tch::get_num_threads()
    );
    println!(
        "{:<18} {:<5} {:<26} {:>4} {:>7} {:>9} {:>9} {:>8} {:>7}",
        "split", "model", "training", "seed", "epochs", "step ms", "eval ms", "total s", "test"
    );
    for &split in &args.splits {
        for seed in 0..args.seeds {
            let d = apply_split(&base, &split, seed)?;
            let data = GraphData::new(&d, device, FeatureLayout::Auto)?;
            let batch = args.batch_size.min(d.train.len());
            let frontier = mean_frontier(&d, &args.fanouts, batch)?;
            for &arch in &args.models {
                let config = ModelConfig::new(arch, d.num_features() as i64, 64, 2, d.num_classes as i64, 0.5);
                let decay_all_layers = arch == Arch::Sage;
                let full_settings = TrainConfig {
                    epochs: args.epochs,
                    patience: Some(50),
                    seed,
                    decay_all_layers,
                    ..TrainConfig::default()
                };
                // one batch per epoch: as many steps as full-batch training
                let sampled_epochs = if batch == d.train.len() { args.epochs } else { args.sampled_epochs };
                let sampled_settings = TrainConfig { epochs: sampled_epochs, ..full_settings.clone() };
                let sampler = SamplerConfig { fanouts: args.fanouts.clone(), batch_size: batch, norm: args.norm };

                let mut stats = Vec::new();
                let full = train(&config, &data, &Objective::labels(), &full_settings, &mut |s| stats.push(*s))?;
                let (step, eval) = per_epoch_ms(&stats);
                let test = accuracy(&predict(full.model.as_ref(), &data), &data.labels, &data.test);
                let (name, model) = (split.to_string(), arch.to_string());
                println!(
                    "{name:<18} {model:<5} {:<26} {seed:>4} {:>7} {step:>9.1} {eval:>9.1} {:>8.1} {test:>7.4}",
                    "full-batch",
                    stats.len(),
                    full.train_seconds
                );

                let mut stats = Vec::new();
                let sampled =
                    train_sampled(&config, &d, &data, &Objective::labels(), &sampled_settings, &sampler, &mut |s| {
                        stats.push(*s)
                    })?;
                let (step, eval) = per_epoch_ms(&stats);
                let test = accuracy(&predict(sampled.model.as_ref(), &data), &data.labels, &data.test);
                let how = format!(
                    "sampled {} b{batch} ~{frontier:.0}n",
                    args.fanouts.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(",")
                );
                println!(
                    "{name:<18} {model:<5} {how:<26} {seed:>4} {:>7} {step:>9.1} {eval:>9.1} {:>8.1} {test:>7.4}",
                    stats.len(),
                    sampled.train_seconds
                );
            }
        }
    }
    Ok(())
}
