//! `gdistill eval`: a checkpoint's accuracy on each split, and its inference time.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;
use gdistill_distill::{accuracy, inference_ms, load_checkpoint, predict, DatasetFingerprint};

use super::train::prepare;
use super::{write_json, DatasetArgs, DeviceArgs};

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Checkpoint written by `gdistill train` or `gdistill distill`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Also write the figures as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Refuses a checkpoint trained on another dataset (or with other preprocessing).
pub fn check_fingerprint(path: &Path, trained_on: &DatasetFingerprint, here: &DatasetFingerprint) -> Result<()> {
    let same_shape = trained_on.features == here.features && trained_on.classes == here.classes;
    if !same_shape || trained_on.name != here.name || trained_on.nodes != here.nodes {
        bail!(
            "{}: trained on dataset '{}' ({} nodes, {} features, {} classes), not on '{}' ({} nodes, {} features, {} classes)",
            path.display(),
            trained_on.name,
            trained_on.nodes,
            trained_on.features,
            trained_on.classes,
            here.name,
            here.nodes,
            here.features,
            here.classes
        );
    }
    Ok(())
}

pub fn run(args: EvalArgs) -> Result<()> {
    let device = args.device.device()?;
    let (_vs, model, meta) = load_checkpoint(&args.checkpoint, device)?;
    let p = prepare(&args.dataset, &args.device, Some(meta.dataset.row_normalized))?;
    check_fingerprint(&args.checkpoint, &meta.dataset, &p.fingerprint)?;
    let logits = predict(model.as_ref(), &p.data);
    let d = &p.data;
    let (train, val, test) = (
        accuracy(&logits, &d.labels, &d.train),
        accuracy(&logits, &d.labels, &d.val),
        accuracy(&logits, &d.labels, &d.test),
    );
    let infer = inference_ms(model.as_ref(), d, 2, 11);
    println!("{}: {} {} parameters", args.checkpoint.display(), meta.model.arch, meta.model.num_params());
    println!("accuracy  train {train:.4}  val {val:.4}  test {test:.4}");
    println!("inference {infer:.3} ms (full graph, median of 11)");
    if let Some(path) = args.json {
        let report = serde_json::json!({
            "checkpoint": args.checkpoint, "model": meta.model, "params": meta.model.num_params(),
            "train_acc": train, "val_acc": val, "test_acc": test, "infer_ms": infer,
        });
        write_json(&path, &report)?;
    }
    Ok(())
}
