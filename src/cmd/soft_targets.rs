//! `gdistill soft-targets`: a teacher's logits on every node, computed layer by layer in chunks
//! of nodes (GCN and MLP teachers; SAGE, GAT and APPNP teachers on the whole graph at once) and
//! stored in HDF5, for training graph-less students without the graph
//! (`gdistill distill --soft-targets`). Several `--teacher`s are stored as one ensemble
//! (docs/ensembles-and-quantization.md): their mixture of tempered softmaxes at `--temperature`
//! (recorded in the file, which students must then distil at) or their mean logits.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use gdistill_datasets::{write_soft_targets, EnsembleOrigin, SoftTargets};
use gdistill_distill::chunked::chunked_logits;
use gdistill_distill::ensemble::{combine_logits, EnsembleCombine};
use gdistill_distill::{load_checkpoint, predict, FeatureLayout, GraphData};
use gdistill_models::Arch;

use super::eval::check_fingerprint;
use super::train::fingerprint;
use super::{DatasetArgs, DeviceArgs};

#[derive(Args)]
pub struct SoftTargetsArgs {
    /// The dataset (required unless --partitions gives it).
    #[command(flatten)]
    pub dataset: Option<DatasetArgs>,
    /// Under `mpirun -np P`: a folder written by `gdistill partition --parts P`; rank r reads
    /// only its part (instead of --dataset) and fetches its halo's rows from their owners.
    #[arg(long, value_name = "DIR")]
    pub partitions: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The teacher's checkpoint (from `gdistill train`); repeat it to store an ensemble of
    /// teachers trained on the same dataset.
    #[arg(long, required = true)]
    pub teacher: Vec<PathBuf>,
    /// With several teachers: soft-targets (the mixture of their tempered softmaxes, the
    /// default) or logits (their mean logits).
    #[arg(long, value_name = "HOW", default_value_t = EnsembleCombine::SoftTargets)]
    pub ensemble_combine: EnsembleCombine,
    /// With several teachers combined as soft-targets: the temperature T of the mixture; the
    /// file records it and `distill --soft-targets` must use the same T.
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Nodes per chunk: bounds the device memory of the inference (GCN and MLP teachers; the
    /// other families read the whole graph).
    #[arg(long, default_value_t = 65536)]
    pub chunk_nodes: usize,
    /// HDF5 file to write (`logits` [nodes, classes]).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

impl SoftTargetsArgs {
    /// Where the dataset comes from, when no `--partitions` does.
    pub fn dataset(&self) -> Result<&DatasetArgs> {
        match (&self.dataset, &self.partitions) {
            (Some(_), Some(_)) => bail!("give --dataset or --partitions, not both (the partition names its dataset)"),
            (Some(dataset), None) => Ok(dataset),
            (None, _) => bail!("--dataset is required (or, under mpirun, --partitions DIR)"),
        }
    }

    /// The one teacher of a run that cannot combine several (MPI).
    pub fn single_teacher(&self) -> Result<&PathBuf> {
        match self.teacher.as_slice() {
            [one] => Ok(one),
            _ => bail!(
                "soft-targets under MPI takes one --teacher, got {}; store an ensemble's soft targets in one process",
                self.teacher.len()
            ),
        }
    }

    /// How the teachers combine, or `None` for one teacher; refuses settings that do not apply.
    fn ensemble(&self) -> Result<Option<EnsembleOrigin>> {
        let temperature = match (self.teacher.len(), self.ensemble_combine, self.temperature) {
            (1, _, Some(_)) => bail!("--temperature applies to several --teacher checkpoints combined as soft-targets"),
            (1, _, None) => return Ok(None),
            (_, EnsembleCombine::SoftTargets, None) => bail!(
                "{} teachers combined as soft-targets need --temperature T: their mixture of tempered softmaxes \
                 depends on T (or pass --ensemble-combine logits)",
                self.teacher.len()
            ),
            (_, EnsembleCombine::SoftTargets, Some(t)) if !(t.is_finite() && t > 0.0) => {
                bail!("--temperature must be positive and finite, got {t}")
            }
            (_, EnsembleCombine::SoftTargets, t) => t,
            (_, EnsembleCombine::Logits, Some(_)) => {
                bail!("--temperature applies to --ensemble-combine soft-targets; averaged logits hold at every T")
            }
            (_, EnsembleCombine::Logits, None) => None,
        };
        Ok(Some(EnsembleOrigin {
            members: self.teacher.len(),
            combine: self.ensemble_combine.to_string(),
            temperature,
        }))
    }
}

pub fn run(args: SoftTargetsArgs) -> Result<()> {
    anyhow::ensure!(args.chunk_nodes > 0, "--chunk-nodes must be at least 1");
    if super::mpi::ranks().is_some() {
        return super::mpi::soft_targets::run(args);
    }
    if let Some(dir) = &args.partitions {
        bail!(
            "--partitions {} gives each MPI rank one part: run it under `mpirun -np P` with P the part count \
             (or give --dataset to run in one process)",
            dir.display()
        );
    }
    let ensemble = args.ensemble()?;
    let device = args.device.device()?;
    let mut teachers = Vec::with_capacity(args.teacher.len());
    for path in &args.teacher {
        teachers.push((path, load_checkpoint(path, device)?));
    }
    let normalized = teachers[0].1 .2.dataset.row_normalized;
    // Every teacher must read the same features, or their targets describe different inputs.
    if let Some((path, _)) = teachers.iter().find(|(_, (_, _, meta))| meta.dataset.row_normalized != normalized) {
        bail!(
            "{}: trained on {} features, unlike {}; an ensemble's teachers must read the same features",
            path.display(),
            if normalized { "raw" } else { "row-normalized" },
            args.teacher[0].display()
        );
    }
    let mut dataset = args.dataset()?.load()?;
    if normalized {
        dataset.row_normalize_features();
    }
    let start = std::time::Instant::now();
    let mut members = Vec::with_capacity(teachers.len());
    let mut whole_graph = Vec::new();
    for (path, (_vs, teacher, meta)) in &teachers {
        check_fingerprint(path, &meta.dataset, &fingerprint(&dataset, normalized))?;
        let arch = teacher.config().arch;
        if matches!(arch, Arch::Gcn | Arch::Mlp) {
            members.push(chunked_logits(teacher.as_ref(), &dataset, device, args.chunk_nodes)?);
        } else {
            // Chunked inference rebuilds GCN and MLP layers from their weights; SAGE, GAT and
            // APPNP aggregate otherwise, so they read the whole graph at once.
            let data = GraphData::new(&dataset, device, FeatureLayout::Auto)?;
            members.push(predict(teacher.as_ref(), &data).to(tch::Device::Cpu));
            whole_graph.push(arch.to_string());
        }
    }
    let logits = match &ensemble {
        None => members.pop().expect("one teacher"),
        Some(origin) => combine_logits(&members, args.ensemble_combine, origin.temperature.unwrap_or(1.0)),
    };
    let seconds = start.elapsed().as_secs_f64();
    let values: Vec<f32> = Vec::try_from(logits.view([-1])).context("reading the logits back")?;
    let targets = SoftTargets {
        logits: values,
        nodes: dataset.num_nodes(),
        classes: dataset.num_classes,
        dataset: dataset.name.clone(),
        ensemble,
    };
    write_soft_targets(&args.out, &targets)?;
    let source = match &targets.ensemble {
        None => args.teacher[0].display().to_string(),
        Some(e) => match e.temperature {
            Some(t) => format!("an ensemble of {} teachers (mixture of soft targets at T = {t})", e.members),
            None => format!("an ensemble of {} teachers (mean logits)", e.members),
        },
    };
    let chunks = if whole_graph.is_empty() {
        format!("chunks of {} nodes", args.chunk_nodes)
    } else {
        format!("{} on the whole graph", whole_graph.join(", "))
    };
    println!(
        "{}: logits of {} nodes x {} classes in {seconds:.2} s ({chunks}); wrote {}",
        source,
        targets.nodes,
        targets.classes,
        args.out.display()
    );
    Ok(())
}
