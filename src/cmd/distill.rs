//! `gdistill distill`: a student trained on a saved teacher's soft targets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gdistill_distill::lsp::{EdgeList, KlDirection, LspKernel};
use gdistill_distill::{
    checked_hidden_index, load_checkpoint, save_checkpoint, CheckpointMeta, DatasetFingerprint, LspTerm, Objective,
    TrainConfig,
};

use gdistill_datasets::{NodeDataset, SoftTargets};
use gdistill_distill::accuracy;
use gdistill_distill::chunked::chunked_logits;
use gdistill_distill::minibatch::{train_mlp_on_soft_targets, EpochShape, SoftTargetBatches};
use gdistill_models::{Arch, ModelConfig};
use tch::Tensor;

use super::train::{fingerprint, fit, model_config, prepare, ModelArgs, OptimArgs};
use super::{DatasetArgs, DeviceArgs};
use crate::cmd::eval::check_fingerprint;
use crate::output::epoch_bar;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KdLossArg {
    /// Tempered softmax KL, T^2-scaled (Hinton et al. 2015).
    SoftTargets,
    /// MSE between logits (Bucilua et al. 2006).
    Logits,
}

#[derive(Args)]
pub struct DistillArgs {
    /// The dataset (required unless --partitions gives it).
    #[command(flatten)]
    pub dataset: Option<DatasetArgs>,
    /// Under `mpirun -np P`, with --soft-targets: a folder written by `gdistill partition --parts
    /// P`; rank r reads only its part and its own soft-target shard (instead of --dataset).
    #[arg(long, value_name = "DIR", requires = "soft_targets")]
    pub partitions: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The teacher's checkpoint (from `gdistill train`).
    #[arg(long, required_unless_present = "soft_targets", conflicts_with = "soft_targets")]
    pub teacher: Option<PathBuf>,
    /// Stored teacher logits (from `gdistill soft-targets`) instead of a teacher: an MLP student
    /// then trains in mini-batches of nodes without ever reading the graph.
    #[arg(long)]
    pub soft_targets: Option<PathBuf>,
    /// Nodes per mini-batch with --soft-targets.
    #[arg(long, default_value_t = 4096)]
    pub batch_size: usize,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Which teacher-matching loss.
    #[arg(long, value_enum, default_value = "soft-targets")]
    pub loss: KdLossArg,
    /// Softmax temperature T of the soft targets.
    #[arg(long, default_value_t = 2.0)]
    pub temperature: f64,
    /// Weight of the hard-label loss; 1 - alpha goes to the teacher's targets.
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Weight (beta) of local structure preservation against the teacher; 0 leaves it out.
    #[arg(long, default_value_t = 0.0)]
    pub lsp_weight: f64,
    /// LSP similarity kernel: linear, poly[:c:d], rbf[:sigma], l1[:b].
    #[arg(long, default_value = "linear")]
    pub lsp_kernel: LspKernel,
    /// Student hidden layer whose local structure is matched (negative: from the last).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub lsp_layer: i64,
    /// Teacher hidden layer it is matched to (negative: from the last).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub lsp_teacher_layer: i64,
    /// Count each node as its own neighbour in the local structures.
    #[arg(long)]
    pub lsp_self_loops: bool,
    /// KL(student || teacher) instead of KL(teacher || student).
    #[arg(long)]
    pub lsp_reverse_kl: bool,
    /// Drop the LSP term from this epoch on (the LSP authors' code: 30).
    #[arg(long)]
    pub lsp_until_epoch: Option<usize>,
    /// Checkpoint to write.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Draw the training curve (loss, validation accuracy, the epoch kept) as a PNG.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
}

impl DistillArgs {
    /// Where the dataset comes from, when no `--partitions` does.
    pub fn dataset(&self) -> Result<&DatasetArgs> {
        match (&self.dataset, &self.partitions) {
            (Some(_), Some(_)) => {
                anyhow::bail!("give --dataset or --partitions, not both (the partition names its dataset)")
            }
            (Some(dataset), None) => Ok(dataset),
            (None, _) => anyhow::bail!("--dataset is required (or, under mpirun, --partitions DIR)"),
        }
    }
}

pub fn run(args: DistillArgs) -> Result<()> {
    anyhow::ensure!((0.0..=1.0).contains(&args.alpha), "--alpha must be in [0, 1], got {}", args.alpha);
    anyhow::ensure!(
        args.temperature.is_finite() && args.temperature > 0.0,
        "--temperature must be positive and finite, got {}",
        args.temperature
    );
    anyhow::ensure!(
        args.lsp_weight.is_finite() && args.lsp_weight >= 0.0,
        "--lsp-weight must be non-negative and finite, got {}",
        args.lsp_weight
    );
    args.optim.config().validate().map_err(anyhow::Error::msg)?;
    if let Some(path) = &args.plot {
        crate::plot::check_png_path(path)?;
    }
    if let Some(path) = &args.soft_targets {
        check_soft_target_student(&args)?;
        if let Some(dir) = &args.partitions {
            anyhow::ensure!(
                super::mpi::ranks().is_some(),
                "--partitions {} gives each MPI rank one part: run it under `mpirun -np P` with P the part count \
                 (or give --dataset to run in one process)",
                dir.display()
            );
            anyhow::ensure!(
                args.dataset.is_none(),
                "give --dataset or --partitions, not both (the partition names its dataset)"
            );
            return super::mpi::student::run_partitioned(&args, dir, path);
        }
        if super::mpi::ranks().is_some() {
            return super::mpi::student::run(&args, path);
        }
        return from_soft_targets(&args, path);
    }
    anyhow::ensure!(super::mpi::ranks().is_none(), "across MPI ranks, distill trains from --soft-targets only");
    let teacher_path = args.teacher.clone().context("--teacher or --soft-targets is required")?;
    let p = prepare(args.dataset()?, &args.device, args.optim.normalize())?;
    let (_vs, teacher, teacher_meta) = load_checkpoint(&teacher_path, p.data.device)?;
    check_fingerprint(&teacher_path, &teacher_meta.dataset, &p.fingerprint)?;
    let teacher_out = tch::no_grad(|| teacher.forward_t(&p.data.features, &p.data.a_hat, false));
    let teacher_logits = teacher_out.logits.shallow_clone();
    let mut objective = match args.loss {
        KdLossArg::SoftTargets => Objective::soft_targets(teacher_logits, args.temperature, args.alpha),
        KdLossArg::Logits => Objective::logit_matching(teacher_logits, args.alpha),
    };
    if args.lsp_weight > 0.0 {
        let hidden = &teacher_out.hidden;
        let layer = checked_hidden_index(args.lsp_teacher_layer, hidden.len()).ok_or_else(|| {
            anyhow::anyhow!(
                "--lsp-teacher-layer {}: the teacher has {} hidden layer(s)",
                args.lsp_teacher_layer,
                hidden.len()
            )
        })?;
        objective = objective.with_lsp(LspTerm {
            teacher_hidden: hidden[layer].shallow_clone(),
            student_layer: args.lsp_layer,
            edges: EdgeList::from_graph(&p.graph, args.lsp_self_loops, p.data.device),
            kernel: args.lsp_kernel,
            direction: if args.lsp_reverse_kl { KlDirection::StudentToTeacher } else { KlDirection::TeacherToStudent },
            weight: args.lsp_weight,
            until_epoch: args.lsp_until_epoch,
        });
    }
    let config = model_config(&args.model, &p);
    let settings = args.optim.config();
    let label = format!("{}+kd", config.arch);
    let trained = fit(&label, &config, &p, &objective, &settings, None, args.plot.as_deref())?;
    if let Some(out) = args.out {
        let meta = CheckpointMeta {
            format_version: 1,
            model: config,
            dataset: p.fingerprint,
            training: serde_json::json!({
                "objective": format!("{:?}", args.loss), "temperature": args.temperature, "alpha": args.alpha,
                "lsp_weight": args.lsp_weight, "lsp_kernel": args.lsp_kernel.to_string(),
                "teacher": teacher_path, "settings": settings, "best_val_acc": trained.best_val_acc,
            }),
        };
        save_checkpoint(&out, &trained.vs, &meta).context("saving the checkpoint")?;
        println!("saved {}", out.display());
    }
    Ok(())
}

/// `--soft-targets`: mini-batches of feature rows against stored teacher logits; no graph.
/// The graph-less student `--soft-targets` trains (in one process or on MPI ranks).
pub fn mlp_student_config(args: &DistillArgs, features: usize, classes: usize) -> ModelConfig {
    ModelArgs { model: Arch::Mlp, ..args.model.clone() }.config(features as i64, classes as i64)
}

/// What a `--soft-targets` student cannot be, refused before anything loads (in one process and
/// across MPI ranks alike).
fn check_soft_target_student(args: &DistillArgs) -> Result<()> {
    anyhow::ensure!(
        args.lsp_weight == 0.0,
        "--lsp-weight needs the teacher's hidden features and the graph: use --teacher instead of --soft-targets"
    );
    anyhow::ensure!(
        args.model.model == Arch::Mlp,
        "--soft-targets trains graph-less students: use --model mlp (a GCN student needs the graph; use --teacher)"
    );
    anyhow::ensure!(
        matches!(args.loss, KdLossArg::SoftTargets),
        "--soft-targets trains on tempered soft targets; --loss logits needs --teacher"
    );
    Ok(())
}

/// The dataset a `--soft-targets` student reads, its features row-normalised unless
/// `--no-normalize-features` (or signed features) say otherwise; and whether they were.
pub fn soft_target_student_dataset(args: &DistillArgs) -> Result<(NodeDataset, bool)> {
    let mut dataset = args.dataset()?.load()?;
    let normalize = args.optim.normalize().unwrap_or_else(|| dataset.has_nonnegative_features());
    if normalize {
        dataset.row_normalize_features();
    }
    Ok((dataset, normalize))
}

/// Refuses soft targets (read from `path`) that do not cover `dataset`'s nodes and classes, or an
/// ensemble's mixture made at another temperature than the student's `temperature`.
pub fn check_soft_targets_fit(
    path: &Path,
    targets: &SoftTargets,
    dataset: &NodeDataset,
    temperature: f64,
) -> Result<()> {
    if let Some(made_at) = targets.ensemble.as_ref().and_then(|e| e.temperature) {
        // `T log q` gives back the mixture `q` only at its own T; at another it is a different
        // distribution that no teacher or ensemble produced.
        anyhow::ensure!(
            (made_at - temperature).abs() <= 1e-9 * made_at.max(1.0),
            "{}: holds the mixture of an ensemble's soft targets at T = {made_at}; distil with --temperature {made_at} \
             (got {temperature}), or store the ensemble with --ensemble-combine logits",
            path.display()
        );
    }
    anyhow::ensure!(
        targets.nodes == dataset.num_nodes() && targets.classes == dataset.num_classes,
        "{}: soft targets for {} nodes x {} classes (dataset '{}'), but {} has {} nodes x {} classes",
        path.display(),
        targets.nodes,
        targets.classes,
        targets.dataset,
        dataset.name,
        dataset.num_nodes(),
        dataset.num_classes
    );
    Ok(())
}

/// The checkpoint record of a `--soft-targets` student (the data-parallel one adds its ranks).
pub fn soft_target_student_meta(
    args: &DistillArgs,
    config: ModelConfig,
    dataset: DatasetFingerprint,
    path: &Path,
    settings: &TrainConfig,
    best_val_acc: f64,
) -> CheckpointMeta {
    CheckpointMeta {
        format_version: 1,
        model: config,
        dataset,
        training: serde_json::json!({
            "objective": "SoftTargets", "soft_targets": path, "temperature": args.temperature,
            "alpha": args.alpha, "batch_size": args.batch_size, "settings": settings,
            "best_val_acc": best_val_acc,
        }),
    }
}

fn from_soft_targets(args: &DistillArgs, path: &Path) -> Result<()> {
    let device = args.device.device()?;
    let (dataset, normalize) = soft_target_student_dataset(args)?;
    let targets = super::mpi::shards::read_soft_targets_any(path)?;
    check_soft_targets_fit(path, &targets, &dataset, args.temperature)?;
    let logits = Tensor::from_slice(&targets.logits).view([targets.nodes as i64, targets.classes as i64]);
    let config = mlp_student_config(args, dataset.num_features(), dataset.num_classes);
    let settings = args.optim.config();
    let batches = SoftTargetBatches {
        batch_size: args.batch_size,
        temperature: args.temperature,
        alpha: args.alpha,
        epoch: EpochShape::Mixed,
    };
    let bar = epoch_bar("mlp+kd", settings.epochs);
    let mut history = Vec::new();
    let trained = train_mlp_on_soft_targets(&config, &dataset, &logits, device, &settings, batches, &mut |s| {
        bar.set_position(s.epoch as u64 + 1);
        bar.set_message(format!("loss {:.4} val {:.3}", s.loss, s.val_acc));
        history.push(*s);
    })?;
    bar.finish_and_clear();
    let all = chunked_logits(trained.model.as_ref(), &dataset, device, 65536)?;
    let labels = Tensor::from_slice(&dataset.labels.iter().map(|&y| y as i64).collect::<Vec<_>>());
    let test = Tensor::from_slice(&dataset.test.iter().map(|&i| i as i64).collect::<Vec<_>>());
    let test_acc = accuracy(&all, &labels, &test);
    println!(
        "mlp+kd from {}: {} parameters, best epoch {} of {}, val {:.4}, test {test_acc:.4}, {:.2} s",
        path.display(),
        config.num_params(),
        trained.best_epoch + 1,
        trained.epochs_run,
        trained.best_val_acc,
        trained.train_seconds
    );
    if let Some(plot) = &args.plot {
        crate::plot_training::write_training_plot(plot, "mlp+kd", &history, trained.best_epoch)?;
        println!("wrote {}", plot.display());
    }
    if let Some(out) = &args.out {
        let fingerprint = fingerprint(&dataset, normalize);
        let meta = soft_target_student_meta(args, config, fingerprint, path, &settings, trained.best_val_acc);
        save_checkpoint(out, &trained.vs, &meta).context("saving the checkpoint")?;
        println!("saved {}", out.display());
    }
    Ok(())
}
