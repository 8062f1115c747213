//! `gdistill train`: one model from labels, saved as a checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use gdistill_distill::sampled::{train_sampled, SamplerConfig};
use gdistill_distill::{
    accuracy, predict, save_checkpoint, train, CheckpointMeta, DatasetFingerprint, EpochStats, FeatureLayout,
    GraphData, Objective, Selection, TrainConfig, Trained,
};
use gdistill_models::{Arch, ArchOptions, ModelConfig};

use super::sampler_args::SamplerArgs;
use super::{DatasetArgs, DeviceArgs};
use crate::output::epoch_bar;

/// The model to build.
#[derive(Args, Clone, Debug)]
pub struct ModelArgs {
    /// Architecture: gcn (sparse graph convolutions) or mlp (graph-less).
    #[arg(long, default_value = "gcn")]
    pub model: Arch,
    /// Width of each hidden layer.
    #[arg(long, default_value_t = 64)]
    pub hidden: i64,
    /// Number of weight layers (2 = one hidden layer).
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Dropout probability before every layer.
    #[arg(long, default_value_t = 0.5)]
    pub dropout: f64,
    /// Dropout on the input features instead of --dropout, which then falls on the hidden
    /// layers alone (GLNN's MLP and SAGE: 0). GCN, SAGE, MLP and APPNP.
    #[arg(long, value_name = "P")]
    pub input_dropout: Option<f64>,
}

impl ModelArgs {
    /// The model these flags describe, for `features` inputs and `classes` outputs.
    pub fn config(&self, features: i64, classes: i64) -> ModelConfig {
        let options = ArchOptions { input_dropout: self.input_dropout, ..ArchOptions::default() };
        ModelConfig::new(self.model, features, self.hidden, self.layers, classes, self.dropout).with_options(options)
    }
}

/// How to optimise.
#[derive(Args, Clone, Debug)]
pub struct OptimArgs {
    #[arg(long, default_value_t = 200)]
    pub epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// L2 weight decay (on the first layer only unless --decay-all-layers).
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    #[arg(long)]
    pub decay_all_layers: bool,
    /// Stop after this many epochs without better validation accuracy (0: never stop early).
    #[arg(long, default_value_t = 100)]
    pub patience: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Rescale gradients to at most this global L2 norm before each step.
    #[arg(long)]
    pub clip_grad_norm: Option<f64>,
    /// Which validation figure picks the kept epoch: val-acc (ties broken by loss) or val-loss
    /// (a teacher kept for its probabilities; the GAT recipe's choice).
    #[arg(long, default_value = "val-acc")]
    pub select: Selection,
    /// Keep raw features. By default, non-negative features (bag-of-words counts) are scaled to
    /// sum to one per row, as in the GCN recipe; signed features are always kept raw.
    #[arg(long)]
    pub no_normalize_features: bool,
}

impl OptimArgs {
    /// `Some(false)` when asked to keep raw features, else `None` (decide by their signs).
    pub fn normalize(&self) -> Option<bool> {
        if self.no_normalize_features {
            Some(false)
        } else {
            None
        }
    }

    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            lr: self.lr,
            weight_decay: self.weight_decay,
            decay_all_layers: self.decay_all_layers,
            patience: (self.patience > 0).then_some(self.patience),
            seed: self.seed,
            clip_grad_norm: self.clip_grad_norm,
            select: self.select,
        }
    }
}

#[derive(Args)]
pub struct TrainArgs {
    /// The dataset (required unless --partitions gives it).
    #[command(flatten)]
    pub dataset: Option<DatasetArgs>,
    /// Under `mpirun -np P`, with --sampler neighbor: a folder written by `gdistill partition
    /// --parts P`; rank r reads only its part and fetches remote nodes' samples and features from
    /// their owners (see src/cmd/mpi/train.rs).
    #[arg(long, value_name = "DIR")]
    pub partitions: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Checkpoint to write (safetensors, the model's configuration inside).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Draw the training curve (loss, validation accuracy, the epoch kept) as a PNG.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    #[command(flatten)]
    pub sampling: SamplerArgs,
}

/// A dataset loaded, optionally row-normalised, and moved onto the device.
pub struct Prepared {
    pub data: GraphData,
    /// The dataset's graph (LSP compares local structures over its edges).
    pub graph: gdistill_graph::Graph,
    pub fingerprint: DatasetFingerprint,
    /// The whole dataset as `data` holds it, kept only for sampled training (which draws from its
    /// graph and gathers its feature rows); otherwise dropped, freeing the host copy of the
    /// features.
    pub sampled: Option<gdistill_datasets::NodeDataset>,
}

/// `normalize: None` decides by the features' signs (see `OptimArgs::no_normalize_features`).
pub fn prepare(dataset: &DatasetArgs, device: &DeviceArgs, normalize: Option<bool>) -> Result<Prepared> {
    prepare_keeping(dataset, device, normalize, false)
}

/// [`prepare`], keeping the whole dataset when `for_sampler`.
pub fn prepare_keeping(
    dataset: &DatasetArgs,
    device: &DeviceArgs,
    normalize: Option<bool>,
    for_sampler: bool,
) -> Result<Prepared> {
    let device = device.device()?;
    let mut dataset = dataset.load()?;
    let normalize = normalize.unwrap_or_else(|| dataset.has_nonnegative_features());
    if normalize {
        dataset.row_normalize_features();
    }
    let data = GraphData::new(&dataset, device, FeatureLayout::Auto)?;
    let fingerprint = fingerprint(&dataset, normalize);
    let (graph, sampled) = if for_sampler { (dataset.graph.clone(), Some(dataset)) } else { (dataset.graph, None) };
    Ok(Prepared { data, graph, fingerprint, sampled })
}

/// What a checkpoint records of the dataset it was trained on.
pub fn fingerprint(dataset: &gdistill_datasets::NodeDataset, row_normalized: bool) -> DatasetFingerprint {
    DatasetFingerprint {
        name: dataset.name.clone(),
        nodes: dataset.num_nodes(),
        features: dataset.num_features(),
        classes: dataset.num_classes,
        row_normalized,
    }
}

/// Trains with a progress bar, prints validation and test accuracy; with `plot`, draws the
/// training curve there.
pub fn fit(
    label: &str,
    config: &ModelConfig,
    p: &Prepared,
    objective: &Objective,
    settings: &TrainConfig,
    sampler: Option<&SamplerConfig>,
    plot: Option<&Path>,
) -> Result<Trained> {
    let bar = epoch_bar(label, settings.epochs);
    let mut history = Vec::new();
    let mut on_epoch = |s: &EpochStats| {
        bar.set_position(s.epoch as u64 + 1);
        bar.set_message(format!("loss {:.4} val {:.3}", s.loss, s.val_acc));
        history.push(*s);
    };
    let trained = match sampler {
        Some(sampler) => {
            let dataset = p.sampled.as_ref().context("sampled training needs the dataset kept (prepare_keeping)")?;
            train_sampled(config, dataset, &p.data, objective, settings, sampler, &mut on_epoch)?
        }
        None => train(config, &p.data, objective, settings, &mut on_epoch)?,
    };
    bar.finish_and_clear();
    let test = accuracy(&predict(trained.model.as_ref(), &p.data), &p.data.labels, &p.data.test);
    println!(
        "{label}: {} parameters, best epoch {} of {}, val {:.4}, test {:.4}, {:.2} s",
        config.num_params(),
        trained.best_epoch + 1,
        trained.epochs_run,
        trained.best_val_acc,
        test,
        trained.train_seconds
    );
    if let Some(path) = plot {
        crate::plot_training::write_training_plot(path, label, &history, trained.best_epoch)?;
        println!("wrote {}", path.display());
    }
    Ok(trained)
}

pub fn model_config(args: &ModelArgs, p: &Prepared) -> ModelConfig {
    args.config(p.data.num_features(), p.data.num_classes)
}

pub fn run(args: TrainArgs) -> Result<()> {
    if super::mpi::ranks().is_some() {
        return super::mpi::train::run(args);
    }
    anyhow::ensure!(
        args.partitions.is_none(),
        "--partitions trains across MPI ranks: start it with `mpirun -np P` (P the number of parts)"
    );
    let dataset = args.dataset.as_ref().context("--dataset is required (or, under mpirun, --partitions DIR)")?;
    args.optim.config().validate().map_err(anyhow::Error::msg)?;
    if let Some(path) = &args.plot {
        crate::plot::check_png_path(path)?;
    }
    let wants_sampler = args.sampling.given().iter().any(|&(_, given)| given);
    let p = prepare_keeping(dataset, &args.device, args.optim.normalize(), wants_sampler)?;
    let config = model_config(&args.model, &p);
    let settings = args.optim.config();
    let sampler = args.sampling.resolve(None, p.sampled.as_ref().map_or(0, |d| d.train.len()))?;
    let trained = fit(
        &config.arch.to_string(),
        &config,
        &p,
        &Objective::labels(),
        &settings,
        sampler.as_ref(),
        args.plot.as_deref(),
    )?;
    if let Some(out) = args.out {
        let meta = CheckpointMeta {
            format_version: 1,
            model: config,
            dataset: p.fingerprint,
            training: serde_json::json!({
                "objective": "labels", "settings": settings, "sampler": sampler, "best_val_acc": trained.best_val_acc
            }),
        };
        save_checkpoint(&out, &trained.vs, &meta).context("saving the checkpoint")?;
        println!("saved {}", out.display());
    }
    Ok(())
}
