//! `gdistill soft-targets`: a teacher's logits on every node, computed layer by layer in chunks
//! of nodes and stored in HDF5, for training graph-less students without the graph
//! (`gdistill distill --soft-targets`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::{write_soft_targets, SoftTargets};
use gdistill_distill::chunked::chunked_logits;
use gdistill_distill::load_checkpoint;

use super::eval::check_fingerprint;
use super::train::fingerprint;
use super::{DatasetArgs, DeviceArgs};

#[derive(Args)]
pub struct SoftTargetsArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The teacher's checkpoint (from `gdistill train`).
    #[arg(long)]
    pub teacher: PathBuf,
    /// Nodes per chunk: bounds the device memory of the inference.
    #[arg(long, default_value_t = 65536)]
    pub chunk_nodes: usize,
    /// HDF5 file to write (`logits` [nodes, classes]).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

pub fn run(args: SoftTargetsArgs) -> Result<()> {
    anyhow::ensure!(args.chunk_nodes > 0, "--chunk-nodes must be at least 1");
    if super::mpi::ranks().is_some() {
        return super::mpi::soft_targets::run(args);
    }
    let device = args.device.device()?;
    let (_vs, teacher, meta) = load_checkpoint(&args.teacher, device)?;
    let mut dataset = args.dataset.load()?;
    if meta.dataset.row_normalized {
        dataset.row_normalize_features();
    }
    check_fingerprint(&args.teacher, &meta.dataset, &fingerprint(&dataset, meta.dataset.row_normalized))?;
    let start = std::time::Instant::now();
    let logits = chunked_logits(teacher.as_ref(), &dataset, device, args.chunk_nodes)?;
    let seconds = start.elapsed().as_secs_f64();
    let values: Vec<f32> = Vec::try_from(logits.view([-1])).context("reading the logits back")?;
    let targets = SoftTargets {
        logits: values,
        nodes: dataset.num_nodes(),
        classes: dataset.num_classes,
        dataset: dataset.name.clone(),
    };
    write_soft_targets(&args.out, &targets)?;
    println!(
        "{}: logits of {} nodes x {} classes in {seconds:.2} s (chunks of {} nodes); wrote {}",
        args.teacher.display(),
        targets.nodes,
        targets.classes,
        args.chunk_nodes,
        args.out.display()
    );
    Ok(())
}
