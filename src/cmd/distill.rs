//! `gdistill distill`: a student trained on a saved teacher's soft targets.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gdistill_distill::{load_checkpoint, predict, save_checkpoint, CheckpointMeta, Objective};

use super::train::{fit, model_config, prepare, ModelArgs, OptimArgs};
use super::{DatasetArgs, DeviceArgs};
use crate::cmd::eval::check_fingerprint;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KdLossArg {
    /// Tempered softmax KL, T^2-scaled (Hinton et al. 2015).
    SoftTargets,
    /// MSE between logits (Bucilua et al. 2006).
    Logits,
}

#[derive(Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The teacher's checkpoint (from `gdistill train`).
    #[arg(long)]
    pub teacher: PathBuf,
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
    /// Checkpoint to write.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

pub fn run(args: DistillArgs) -> Result<()> {
    anyhow::ensure!((0.0..=1.0).contains(&args.alpha), "--alpha must be in [0, 1], got {}", args.alpha);
    anyhow::ensure!(args.temperature > 0.0, "--temperature must be positive, got {}", args.temperature);
    let p = prepare(&args.dataset, &args.device, args.optim.normalize())?;
    let (_vs, teacher, teacher_meta) = load_checkpoint(&args.teacher, p.data.device)?;
    check_fingerprint(&args.teacher, &teacher_meta.dataset, &p.fingerprint)?;
    let teacher_logits = predict(teacher.as_ref(), &p.data);
    let objective = match args.loss {
        KdLossArg::SoftTargets => {
            Objective::soft_targets(teacher_logits, args.temperature, args.alpha)
        }
        KdLossArg::Logits => Objective::logit_matching(teacher_logits, args.alpha),
    };
    let config = model_config(&args.model, &p);
    let settings = args.optim.config();
    let trained = fit(&format!("{}+kd", config.arch), &config, &p, &objective, &settings)?;
    if let Some(out) = args.out {
        let meta = CheckpointMeta {
            format_version: 1,
            model: config,
            dataset: p.fingerprint,
            training: serde_json::json!({
                "objective": format!("{:?}", args.loss), "temperature": args.temperature, "alpha": args.alpha,
                "teacher": args.teacher, "settings": settings, "best_val_acc": trained.best_val_acc,
            }),
        };
        save_checkpoint(&out, &trained.vs, &meta).context("saving the checkpoint")?;
        println!("saved {}", out.display());
    }
    Ok(())
}
