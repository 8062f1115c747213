//! `gdistill prune`: accuracy against sparsity for OBD, magnitude and random pruning.
//!
//! For each seed: a trained model (the default GCN teacher trained with that seed, or a
//! checkpoint), then each method prunes a copy of it to every target sparsity, retraining after
//! each step with the deleted weights held at zero.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use gdistill_distill::compare::CompareConfig;
use gdistill_distill::journal::{self, dataset_identity, seed_key, NoLog, RunLog};
use gdistill_distill::prune::{
    check_target, prune_and_retrain, summarize, HessianEstimator, PruneLoss, PruneMethod, PruneRow, PruneSettings,
    PrunedPoint, Schedule, ThresholdScope,
};
use gdistill_distill::{
    load_checkpoint, load_checkpoint_with_masks, predict, save_checkpoint_with_masks, train, CheckpointMeta, Objective,
    TrainConfig,
};
use gdistill_models::{Arch, NodeModel};
use tch::nn;

use super::eval::check_fingerprint;
use super::resume::{self, ResumeArgs};
use super::train::{prepare, Prepared};
use super::{write_json, DatasetArgs, DeviceArgs};
use crate::output::run_bar;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Obd,
    Magnitude,
    Random,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LossArg {
    Labels,
    SoftTargets,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HessianArg {
    Exact,
    GaussNewton,
    Fisher,
    Hutchinson,
}

#[derive(Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// `teacher` trains the default GCN teacher (as `gdistill compare` does) for each seed;
    /// otherwise the path of a checkpoint to prune.
    #[arg(long, default_value = "teacher")]
    pub model: String,
    /// Pruning methods (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "obd,magnitude,random")]
    pub method: Vec<MethodArg>,
    /// Target sparsities: fractions of the weight-matrix entries set to zero, each in [0, 1).
    #[arg(long, value_delimiter = ',', default_value = "0,0.5,0.7,0.9", allow_negative_numbers = true)]
    pub sparsity: Vec<f64>,
    /// OBD's Hessian-diagonal estimator.
    #[arg(long, value_enum, default_value = "gauss-newton")]
    pub hessian: HessianArg,
    /// Samples of the Fisher estimator, probes of Hutchinson's.
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Prune each target in one step from the trained model (default: iteratively).
    #[arg(long)]
    pub one_shot: bool,
    /// Iterative schedule: pruning-and-retraining steps from one target to the next.
    #[arg(long, default_value_t = 2)]
    pub steps: usize,
    /// One threshold per weight matrix instead of one over all of them.
    #[arg(long)]
    pub per_layer: bool,
    /// Maximum epochs of each retraining (early stopping on validation accuracy as in training).
    #[arg(long, default_value_t = 200)]
    pub retrain_epochs: usize,
    #[arg(long, default_value_t = 5)]
    pub seeds: usize,
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Write the rows as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the accuracy-versus-sparsity curve as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Loss whose curvature ranks the weights and on which the model is retrained: the training
    /// nodes' labels, or the soft targets of `--teacher` on every node (for a distilled student).
    #[arg(long, value_enum, default_value = "labels")]
    pub loss: LossArg,
    /// Teacher checkpoint whose soft targets `--loss soft-targets` matches.
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Softmax temperature of `--loss soft-targets`.
    #[arg(long, default_value_t = 2.0)]
    pub temperature: f64,
    /// Save the first method's model of the first seed at the highest sparsity, with its masks.
    #[arg(long)]
    pub save: Option<PathBuf>,
    #[command(flatten)]
    pub resume: ResumeArgs,
}

impl PruneArgs {
    fn estimator(&self) -> HessianEstimator {
        match self.hessian {
            HessianArg::Exact => HessianEstimator::Exact,
            HessianArg::GaussNewton => HessianEstimator::GaussNewton,
            HessianArg::Fisher => HessianEstimator::Fisher { samples: self.samples },
            HessianArg::Hutchinson => HessianEstimator::Hutchinson { probes: self.samples },
        }
    }

    fn check(&self) -> Result<()> {
        for &s in &self.sparsity {
            check_target(s).map_err(|e| anyhow::anyhow!("--sparsity: {e}"))?;
        }
        if self.method.is_empty() {
            bail!("--method: give at least one of obd, magnitude, random");
        }
        if self.seeds == 0 || self.steps == 0 || self.samples == 0 || self.retrain_epochs == 0 {
            bail!("--seeds, --steps, --samples and --retrain-epochs must be at least 1");
        }
        if let Some(path) = &self.plot {
            crate::plot::check_png_path(path)?;
        }
        match (self.loss, &self.teacher) {
            (LossArg::SoftTargets, None) => bail!("--loss soft-targets needs --teacher CHECKPOINT"),
            (LossArg::Labels, Some(_)) => bail!("--teacher is read only with --loss soft-targets"),
            _ => {}
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            bail!("--temperature must be positive and finite, got {}", self.temperature);
        }
        Ok(())
    }
}

/// The report `--json` writes.
#[derive(serde::Serialize)]
struct PruneReport<'a> {
    dataset: &'a str,
    model: &'a str,
    hessian: String,
    loss: String,
    schedule: Schedule,
    scope: ThresholdScope,
    seeds: usize,
    rows: &'a [PruneRow],
}

pub fn run(args: PruneArgs) -> Result<()> {
    args.check()?;
    let checkpoint = (args.model != "teacher").then(|| PathBuf::from(&args.model));
    // A checkpoint fixes the preprocessing; the teacher follows `gdistill compare`'s defaults.
    let (prepared, base) = match &checkpoint {
        Some(path) => {
            let loaded = load_checkpoint_with_masks(path, args.device.device()?)?;
            let p = prepare(&args.dataset, &args.device, Some(loaded.2.dataset.row_normalized))?;
            check_fingerprint(path, &loaded.2.dataset, &p.fingerprint)?;
            (p, Some(loaded))
        }
        None => (prepare(&args.dataset, &args.device, None)?, None),
    };
    let data = &prepared.data;
    let teacher_logits = match &args.teacher {
        Some(path) => {
            let (_vs, teacher, meta) = load_checkpoint(path, data.device)?;
            check_fingerprint(path, &meta.dataset, &prepared.fingerprint)?;
            Some(predict(teacher.as_ref(), data))
        }
        None => None,
    };
    let (loss, objective) = match &teacher_logits {
        Some(logits) => (
            PruneLoss::SoftTargets { teacher_logits: logits.shallow_clone(), temperature: args.temperature },
            Objective::soft_targets(logits.shallow_clone(), args.temperature, 0.0),
        ),
        None => (PruneLoss::Labels, Objective::labels()),
    };
    let dataset = args.dataset.load()?;
    let teacher_defaults = CompareConfig::for_dataset(&dataset);
    let schedule = if args.one_shot { Schedule::OneShot } else { Schedule::Iterative { steps: args.steps } };
    let scope = if args.per_layer { ThresholdScope::PerLayer } else { ThresholdScope::Global };
    let seeds: Vec<u64> = (args.first_seed..args.first_seed + args.seeds as u64).collect();
    let settings = journal_settings(&args);
    let mut journal = resume::open(args.json.as_deref(), &args.resume, "prune", dataset_identity(&dataset), settings)?;
    let mut no_log = NoLog;
    let log: &mut dyn RunLog = match journal.as_mut() {
        Some(journal) => journal,
        None => &mut no_log,
    };
    let bar = run_bar(seeds.len() * args.method.len());
    let mut runs: Vec<Vec<Vec<PrunedPoint>>> = vec![Vec::new(); args.method.len()];
    for &seed in &seeds {
        // A seed the journal holds: each method's points as recorded.
        if let Some(recorded) = log.recorded(&seed_key(seed)) {
            let points: Vec<Vec<PrunedPoint>> = recorded.decode()?;
            if points.len() != runs.len() {
                bail!("{}: {} methods recorded, this run has {}", recorded.at, points.len(), runs.len());
            }
            runs.iter_mut().zip(points).for_each(|(method_runs, p)| method_runs.push(p));
            bar.inc(runs.len() as u64);
            continue;
        }
        // Distilled students retrain as they were distilled (no weight decay), the rest as the teacher.
        let recipe = if teacher_logits.is_some() {
            &teacher_defaults.distill_training
        } else {
            &teacher_defaults.teacher_training
        };
        let retrain = TrainConfig { epochs: args.retrain_epochs, seed, ..recipe.clone() };
        let trained;
        let (vs, model): (&nn::VarStore, &dyn NodeModel) = match &base {
            Some((vs, model, _, _)) => (vs, model.as_ref()),
            None => {
                bar.set_prefix(format!("teacher seed {seed}"));
                let cfg = teacher_defaults.teacher.config(Arch::Gcn, data.num_features(), data.num_classes);
                let settings = TrainConfig { seed, ..teacher_defaults.teacher_training.clone() };
                trained = train(&cfg, data, &Objective::labels(), &settings, &mut |_| {})?;
                (&trained.vs, trained.model.as_ref())
            }
        };
        for (method, method_runs) in args.method.iter().zip(runs.iter_mut()) {
            let method = match method {
                MethodArg::Obd => PruneMethod::Obd { estimator: args.estimator() },
                MethodArg::Magnitude => PruneMethod::Magnitude,
                MethodArg::Random => PruneMethod::Random,
            };
            bar.set_prefix(format!("{} seed {seed}", method.name()));
            let (copy_vs, copy) = copy_model(vs, model)?;
            let settings = PruneSettings { method, scope, schedule, retrain: retrain.clone(), seed };
            let (points, masks) =
                prune_and_retrain(&copy_vs, copy.as_ref(), data, &loss, &objective, &args.sparsity, &settings)?;
            if let Some(path) = args.save.as_ref().filter(|_| seed == args.first_seed && method_runs.is_empty()) {
                let meta = CheckpointMeta {
                    format_version: 1,
                    model: copy.config().clone(),
                    dataset: prepared.fingerprint.clone(),
                    training: serde_json::json!({"pruned": {"from": args.model, "method": method, "schedule": schedule,
                        "seed": seed, "sparsity": masks.sparsity(), "test_acc": points.last().map(|p| p.test_acc)}}),
                };
                save_checkpoint_with_masks(path, &copy_vs, &meta, Some(&masks))?;
            }
            method_runs.push(points);
            bar.inc(1);
        }
        let points: Vec<&Vec<PrunedPoint>> = runs.iter().filter_map(|r| r.last()).collect();
        journal::record(log, &seed_key(seed), &points)?;
    }
    bar.finish_and_clear();
    let rows: Vec<PruneRow> = args
        .method
        .iter()
        .zip(&runs)
        .flat_map(|(m, r)| summarize(m.to_possible_value().unwrap().get_name(), r))
        .collect();
    let hessian = args.estimator().to_string();
    let loss_name = match args.loss {
        LossArg::Labels => "loss: training-node labels".to_string(),
        LossArg::SoftTargets => format!("loss: soft targets at T = {}", args.temperature),
    };
    print_prune_table(&prepared, &args.model, &hessian, schedule, &loss_name, &rows, seeds.len());
    if let Some(path) = &args.json {
        let report = PruneReport {
            dataset: &prepared.fingerprint.name,
            model: &args.model,
            hessian,
            loss: loss_name,
            schedule,
            scope,
            seeds: seeds.len(),
            rows: &rows,
        };
        write_json(path, &report)?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.save {
        println!("saved {}", path.display());
    }
    if let Some(path) = &args.plot {
        let title = format!("{}: test accuracy after pruning and retraining", prepared.fingerprint.name);
        crate::plot::write_prune_plot(path, &title, &rows)?;
        println!("wrote {}", path.display());
    }
    resume::close(journal, true)
}

/// What a prune journal's header records of the command line: every setting that changes the
/// figures, and the checkpoints read (by content).
fn journal_settings(args: &PruneArgs) -> serde_json::Value {
    let model = if args.model == "teacher" { "teacher".into() } else { resume::file_identity(args.model.as_ref()) };
    serde_json::json!({
        "model": model,
        "method": format!("{:?}", args.method),
        "sparsity": args.sparsity,
        "hessian": format!("{:?}", args.hessian),
        "samples": args.samples,
        "one_shot": args.one_shot,
        "steps": args.steps,
        "per_layer": args.per_layer,
        "retrain_epochs": args.retrain_epochs,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "loss": format!("{:?}", args.loss),
        "teacher": args.teacher.as_deref().map(resume::file_identity),
        "temperature": args.temperature,
        "save": args.save,
        "device": args.device.device,
        "threads": args.device.threads,
    })
}

/// A copy of `model` in its own variable store, so every method starts from the same weights.
fn copy_model(vs: &nn::VarStore, model: &dyn NodeModel) -> Result<(nn::VarStore, Box<dyn NodeModel>)> {
    let mut copy_vs = nn::VarStore::new(vs.device());
    let copy = model.config().build(&copy_vs.root())?;
    copy_vs.copy(vs)?;
    Ok((copy_vs, copy))
}

fn print_prune_table(
    p: &Prepared,
    model: &str,
    hessian: &str,
    schedule: Schedule,
    loss: &str,
    rows: &[PruneRow],
    seeds: usize,
) {
    let schedule = match schedule {
        Schedule::OneShot => "one-shot".to_string(),
        Schedule::Iterative { steps } => format!("iterative, {steps} steps per target"),
    };
    println!("{}: pruning {model}; OBD Hessian {hessian}; {schedule}; {loss}; {seeds} seeds", p.fingerprint.name);
    println!(
        "{:<10} {:>8} {:>18} {:>8} {:>12} {:>12} {:>11} {:>9}",
        "method", "sparsity", "test acc", "val acc", "predicted dL", "1st-order dL", "actual dL", "kept"
    );
    for r in rows {
        let predicted = r.predicted_dloss.map_or_else(|| "-".to_string(), |v| format!("{v:.2e}"));
        println!(
            "{:<10} {:>8.2} {:>9.4} +- {:.4} {:>8.4} {:>12} {:>12.2e} {:>11.2e} {:>9.0}",
            r.method,
            r.sparsity,
            r.mean,
            r.std,
            r.val_mean,
            predicted,
            r.first_order_dloss,
            r.actual_dloss,
            r.kept_weights
        );
    }
}
