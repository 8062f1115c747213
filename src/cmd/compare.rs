//! `gdistill compare`: the main job. Teacher versus students, from scratch and distilled.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gdistill_datasets::{FeatureSpec, NodeDataset, SplitSpec};
use gdistill_distill::compare::{compare_resumable, search_part, CompareConfig, KdLoss, Protocol};
use gdistill_distill::ensemble::{EnsembleCombine, EnsembleMembers};
use gdistill_distill::journal::{dataset_identity, seed_key, Journal, NoLog, ReplayOnly, RunLog, Share};
use gdistill_distill::lsp::LspKernel;
use gdistill_distill::minibatch::EpochShape;
use gdistill_distill::setting::Setting;
use gdistill_distill::transfer_set::TransferSet;
use gdistill_distill::tune::{self, SearchPart};
use gdistill_models::{Arch, SageAggregator};

use super::distill::KdLossArg;
use super::experiment::{run_and_report, ExperimentArgs, TeacherOptions};
use super::resume::{self, ResumeArgs};
use super::sampler_args::SamplerArgs;
use super::seed_jobs::{self, SearchRole};
use super::{apply_experiment_table, read_experiment_file, DatasetArgs, DeviceArgs};
use crate::output::print_compare_table;
use crate::plot_compare::size_points;

#[derive(Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Seeds to run (each trains the teacher and every student); reports give mean +- std.
    #[arg(long)]
    pub seeds: Option<usize>,
    /// First seed; seeds run first_seed, first_seed + 1, ...
    #[arg(long)]
    pub first_seed: Option<u64>,
    /// TOML experiment file overriding the defaults (same keys as the report's "config").
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Follow a published protocol: glnn (GLNN, NOSMOG, VQGraph: the largest component,
    /// per-class:20,30 redrawn per seed, 10 seeds, GLNN's SAGE teacher and MLP student recipes,
    /// soft labels only; docs/gnn-to-mlp.md). Other flags and config keys override its settings.
    #[arg(long, value_name = "NAME")]
    pub protocol: Option<Protocol>,
    /// Keep only the largest connected component (edges read both ways) before features and
    /// splits are made; the report's dataset line counts it.
    #[arg(long)]
    pub lcc: bool,
    /// Teacher family: gcn, sage, gat or appnp (the small student is of the same family).
    #[arg(long)]
    pub teacher: Option<Arch>,
    /// Split: public (the dataset's own; --split-index K picks among the splits a file stores),
    /// per-class:TRAIN,VAL (drawn per seed), random:TRAIN,VAL.
    #[arg(long)]
    pub split: Option<SplitSpec>,
    /// Node features: given, identity, degree, positional:K (graphs without features), given+positional:K,
    /// deepwalk:K[:walk=L,walks=W,window=C,epochs=E] and given+deepwalk:K[:...] (NOSMOG's DeepWalk
    /// position features; defaults walk=50,walks=3,window=5,epochs=1).
    #[arg(long)]
    pub features: Option<FeatureSpec>,
    /// Features of the MLP rows alone (same forms as --features); the teacher and the graph
    /// students keep --features. NOSMOG's recipe: --mlp-features given+deepwalk:64.
    #[arg(long, value_name = "SPEC")]
    pub mlp_features: Option<FeatureSpec>,
    /// transductive, or inductive[:F]: a fraction F (default 0.2) of the test nodes and their
    /// edges held out of all training; rows then report tran, ind and prod accuracy (GLNN).
    #[arg(long, value_name = "SETTING")]
    pub setting: Option<Setting>,
    #[command(flatten)]
    pub sampling: SamplerArgs,
    /// Search N settings per stage (teacher, MLP student, distillation, small student) on
    /// validation accuracy before the comparison; the report records the trials, the rungs and
    /// the chosen config.
    #[arg(long, value_name = "N")]
    pub tune: Option<usize>,
    /// How --tune spends its epochs: halving (successive halving: every trial trains a short
    /// run, each rung keeps the best 1/eta on validation for a run eta times longer) or full
    /// (every trial its whole length).
    #[arg(long, value_name = "SCHEDULE", requires = "tune")]
    pub tune_schedule: Option<gdistill_distill::tune::TuneSchedule>,
    /// Halving's rate (default 3): each rung keeps 1/ETA of its trials.
    #[arg(long, value_name = "ETA", requires = "tune")]
    pub tune_eta: Option<usize>,
    /// Write the config every row ran with (tuned or not) as TOML, for `--config`.
    #[arg(long, value_name = "FILE")]
    pub save_config: Option<PathBuf>,
    /// Softmax temperature of the soft targets.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Weight of the hard-label loss in the +kd rows.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Teacher-matching loss of the +kd rows.
    #[arg(long, value_enum)]
    pub kd_loss: Option<KdLossArg>,
    /// Hidden width of the teacher (per head for GAT).
    #[arg(long)]
    pub teacher_hidden: Option<i64>,
    /// Hidden width of the small student of the teacher's family.
    #[arg(long)]
    pub gcn_small_hidden: Option<i64>,
    /// Aggregator of SAGE teachers and small students: mean (PyG's SAGEConv, a root weight
    /// beside the neighbour mean) or gcn (one weight on the mean of the node and its neighbours;
    /// GLNN's teacher, and --protocol glnn's).
    #[arg(long, value_name = "mean|gcn")]
    pub sage_aggregator: Option<SageAggregator>,
    /// How mlp+kd's mini-batch epochs (under --protocol glnn, or with distill_batch_size in a
    /// config) walk the nodes: mixed (one shuffled pass, hard and soft terms in every batch) or
    /// glnn (GLNN's code: a pass over the labelled nodes, then one over all, full batches only,
    /// steps taken even on a zero loss).
    #[arg(long, value_name = "mixed|glnn")]
    pub distill_epoch: Option<EpochShape>,
    /// Hidden width of the MLP student.
    #[arg(long)]
    pub mlp_hidden: Option<i64>,
    /// LSP kernel of the +lsp rows: linear, poly[:c:d], rbf[:sigma], l1[:b].
    #[arg(long)]
    pub lsp_kernel: Option<LspKernel>,
    /// Weight (beta) of the LSP term.
    #[arg(long)]
    pub lsp_weight: Option<f64>,
    /// Also run gcn-small+lsp[K] and gcn-small+kd+lsp[K] for each of these kernels (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub lsp_ablation: Vec<LspKernel>,
    /// Leave out the +lsp rows.
    #[arg(long)]
    pub no_lsp: bool,
    /// Leave out the pruned rows teacher-obd and gcn-small+kd+obd.
    #[arg(long)]
    pub no_prune: bool,
    /// Add NOSMOG's MLP rows (docs/nosmog.md): mlp+nosmog (soft targets + representation
    /// similarity distillation + adversarial feature augmentation) and its ablations
    /// mlp+nosmog-rsd and mlp+nosmog-adv; settings in the config's [nosmog] table. Pass
    /// --features given+deepwalk:64 for the full method (its position features).
    #[arg(long)]
    pub nosmog: bool,
    /// Teach the students the teacher's predictions after Correct and Smooth (Huang et al.
    /// 2021, docs/gnn-to-mlp.md): its errors on the training nodes spread over the graph, then
    /// the scores smoothed with the training labels; its two weights chosen per seed on
    /// validation. The students read no more graph than before. Grid and steps in the config's
    /// [correct_and_smooth] table.
    #[arg(long)]
    pub correct_and_smooth: bool,
    /// Add G-CRD's row <family>-small+crd (docs/gcrd.md): the small GNN student on soft targets
    /// plus graph contrastive representation distillation; settings (tau, negatives, weight,
    /// projection_width) in the config's [gcrd] table.
    #[arg(long)]
    pub gcrd: bool,
    /// Add VQGraph's rows (docs/vqgraph.md): teacher+vq (the teacher trained as a graph
    /// tokenizer), mlp+vqgraph (its soft labels + soft code assignments) and the ablation
    /// mlp+vqgraph-code; settings in the config's [vqgraph] table.
    #[arg(long)]
    pub vqgraph: bool,
    /// Leave out the small student's rows (<family>-small, +kd, +lsp); needs --no-prune.
    #[arg(long)]
    pub no_small: bool,
    /// Add the pruned rows (graphs have them unless --no-prune; images add teacher-obd, the
    /// teacher pruned by OBD to mlp-800's count of weights).
    #[arg(long, conflicts_with = "no_prune")]
    pub prune: bool,
    /// Train K teachers (member k with seed + 1 000 000 k) and read them as one: the teacher row
    /// is the ensemble and every +kd row distils from it (docs/ensembles-and-quantization.md).
    /// Graphs also take a list of families, one member each, the --teacher family first:
    /// gcn,sage,gat (each member trains with its family's recipe).
    #[arg(long, value_name = "K|FAMILIES")]
    pub teacher_ensemble: Option<EnsembleMembers>,
    /// How ensemble members combine: soft-targets (mean of the tempered softmaxes, the default)
    /// or logits (mean of the logits).
    #[arg(long, value_name = "HOW")]
    pub ensemble_combine: Option<EnsembleCombine>,
    /// Image and point-cloud datasets: what the +kd rows are trained on: train (the training
    /// inputs), augmented:N, munge:N,P or mixup:N (N pseudo inputs added, labelled by the teacher).
    /// Graphs: munge:N,P adds N pseudo nodes (MUNGE on node features) to mlp+kd's transfer set.
    #[arg(long, value_name = "SET")]
    pub transfer_set: Option<TransferSet>,
    /// Add the int8 rows teacher-int8 and mlp+kd-int8 (images: mlp-800+kd-int8, point clouds:
    /// student+kd-int8; simulated post-training quantization)
    /// and a weight-bytes column.
    #[arg(long)]
    pub int8: bool,
    /// Maximum epochs of every training run.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Write the report (dataset, rows, config) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw test accuracy (mean +- std over seeds) against parameters, one labelled point per
    /// row, as a PNG.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// Image datasets: save each row's model of the first seed as DIR/ROW.safetensors (for
    /// `gdistill export`).
    #[arg(long, value_name = "DIR")]
    pub save_models: Option<PathBuf>,
    #[command(flatten)]
    pub resume: ResumeArgs,
    /// Graphs: train the seeds in N processes side by side, each on --threads threads (default:
    /// the cores shared out); the tuning search, if any, runs first (its small-student stage in a
    /// second process beside the MLP's stages). The report is the one a run without --jobs and
    /// with the same --threads writes, timings aside.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// A --jobs worker's seeds (set by the parent process).
    #[arg(long, hide = true, value_delimiter = ',', requires = "worker_report")]
    pub worker_seeds: Vec<u64>,
    /// A --jobs worker that runs the tuning search's small-student stage (set by the parent).
    #[arg(long, hide = true, value_enum, requires = "worker_report", conflicts_with = "worker_seeds")]
    pub worker_search: Option<SearchRole>,
    /// Where a --jobs worker keeps its journal (set by the parent process).
    #[arg(long, hide = true)]
    pub worker_report: Option<PathBuf>,
}

/// Defaults for the dataset and the teacher family, then the TOML file, then flags. The
/// family comes from `--teacher`, else from the file, so that the file overlays that family's
/// recipe.
fn resolve_config(args: &CompareArgs, dataset: &NodeDataset, file: Option<ExperimentFile>) -> Result<CompareConfig> {
    let protocol = protocol_of(args, &file)?;
    let family = match (args.teacher, &file) {
        (Some(family), _) => family,
        (None, Some((path, table))) => {
            family_in_file(path, table)?.or(protocol.map(Protocol::family)).unwrap_or_default()
        }
        (None, None) => protocol.map_or(Arch::Gcn, Protocol::family),
    };
    let mut config = CompareConfig::for_family(dataset, family);
    if let Some(protocol) = protocol {
        if let Some(note) = protocol.apply(&mut config, dataset) {
            eprintln!("note: {note}");
        }
    }
    if let Some((path, table)) = file {
        config = apply_experiment_table(config, &path, table, |c| c.validate().and_then(|_| c.check_memory(dataset)))?;
    }
    config.family = family;
    if args.lcc {
        config.lcc = true;
    }
    set(&mut config.split, args.split);
    set(&mut config.features, args.features);
    if let Some(spec) = args.mlp_features {
        config.mlp_features = Some(spec);
    }
    set(&mut config.setting, args.setting);
    config.sampler = args.sampling.resolve(config.sampler.take(), dataset.train.len())?;
    if let Some(trials) = args.tune {
        // A file's schedule, rate and seed stay unless a flag sets them.
        let mut tune = match config.tune.take() {
            Some(file) => gdistill_distill::tune::TuneConfig { trials, ..file },
            None => gdistill_distill::tune::TuneConfig::new(trials),
        };
        set(&mut tune.schedule, args.tune_schedule);
        set(&mut tune.eta, args.tune_eta);
        config.tune = Some(tune);
    }
    set(&mut config.seeds, args.seeds);
    set(&mut config.first_seed, args.first_seed);
    set(&mut config.temperature, args.temperature);
    set(&mut config.alpha, args.alpha);
    set(&mut config.teacher.hidden, args.teacher_hidden);
    set(&mut config.gcn_small.hidden, args.gcn_small_hidden);
    set(&mut config.teacher.options.aggregator, args.sage_aggregator);
    set(&mut config.gcn_small.options.aggregator, args.sage_aggregator);
    set(&mut config.mlp.hidden, args.mlp_hidden);
    set(&mut config.distill_epoch, args.distill_epoch);
    set(&mut config.lsp.kernel, args.lsp_kernel);
    set(&mut config.lsp.weight, args.lsp_weight);
    if !args.lsp_ablation.is_empty() {
        config.lsp.ablation_kernels = args.lsp_ablation.clone();
    }
    if args.no_lsp {
        config.lsp.rows = false;
    }
    if args.no_prune {
        config.prune.rows = false;
    }
    if args.nosmog && config.nosmog.is_none() {
        config.nosmog = Some(Default::default());
    }
    if args.correct_and_smooth && config.correct_and_smooth.is_none() {
        config.correct_and_smooth = Some(Default::default());
    }
    if args.gcrd && config.gcrd.is_none() {
        config.gcrd = Some(Default::default());
    }
    if args.vqgraph && config.vqgraph.is_none() {
        config.vqgraph = Some(Default::default());
    }
    if args.no_small {
        config.small_rows = false;
    }
    if args.prune {
        config.prune.rows = true;
    }
    args.teacher_options().apply(&mut config.ensemble, &mut config.transfer_set, &mut config.int8_rows);
    if let Some(loss) = args.kd_loss {
        config.kd_loss = match loss {
            KdLossArg::SoftTargets => KdLoss::SoftTargets,
            KdLossArg::Logits => KdLoss::Logits,
        };
    }
    if let Some(epochs) = args.epochs {
        config.teacher_training.epochs = epochs;
        config.student_training.epochs = epochs;
        config.distill_training.epochs = epochs;
        if let Some(small) = config.small_training.as_mut() {
            small.epochs = epochs;
        }
        if let Some(nosmog) = config.nosmog.as_mut() {
            nosmog.epochs = epochs;
        }
        if let Some(vqgraph) = config.vqgraph.as_mut() {
            (vqgraph.epochs, vqgraph.tokenizer_epochs) = (epochs, epochs);
        }
    }
    config.validate().and_then(|_| config.check_memory(dataset)).map_err(anyhow::Error::msg)?;
    if let Some(gcrd) = &config.gcrd {
        gcrd.validate_for(dataset.num_nodes() as i64).map_err(anyhow::Error::msg)?;
    }
    Ok(config)
}

/// A TOML experiment file and its table, read once: the file may be a pipe (`--config <(...)`).
type ExperimentFile = (PathBuf, toml::Table);

/// The protocol of `--protocol`, else of the file's `protocol` key.
fn protocol_of(args: &CompareArgs, file: &Option<ExperimentFile>) -> Result<Option<Protocol>> {
    if args.protocol.is_some() {
        return Ok(args.protocol);
    }
    let Some((path, table)) = file else { return Ok(None) };
    match table.get("protocol") {
        None => Ok(None),
        Some(toml::Value::String(name)) => {
            Ok(Some(name.parse().map_err(|e| anyhow::anyhow!("{}: protocol: {e}", path.display()))?))
        }
        Some(other) => anyhow::bail!("{}: protocol must be a string such as \"glnn\", got {other}", path.display()),
    }
}

/// Whether the comparison keeps only the largest component: `--lcc`, else the file's `lcc` key,
/// else whether a protocol asks for it.
fn wants_lcc(args: &CompareArgs, file: &Option<ExperimentFile>) -> Result<bool> {
    if args.lcc {
        return Ok(true);
    }
    let from_file = match file {
        Some((path, table)) => match table.get("lcc") {
            None => None,
            Some(toml::Value::Boolean(b)) => Some(*b),
            Some(other) => anyhow::bail!("{}: lcc must be true or false, got {other}", path.display()),
        },
        None => None,
    };
    Ok(from_file.unwrap_or(protocol_of(args, file)?.is_some()))
}

/// The `family` key of the experiment file at `path` (read as `table`), if it has one.
fn family_in_file(path: &std::path::Path, table: &toml::Table) -> Result<Option<Arch>> {
    match table.get("family") {
        None => Ok(None),
        Some(toml::Value::String(name)) => {
            Ok(Some(name.parse().map_err(|e| anyhow::anyhow!("{}: family: {e}", path.display()))?))
        }
        Some(other) => anyhow::bail!("{}: family must be a string such as \"gat\", got {other}", path.display()),
    }
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *target = v;
    }
}

pub fn run(args: CompareArgs) -> Result<()> {
    let (images, clouds) = (
        super::images::is_image_spec(&args.dataset.dataset),
        super::pointcloud::is_pointcloud_spec(&args.dataset.dataset),
    );
    if args.resume.resume && (images || clouds) {
        anyhow::bail!("--resume applies to graph datasets: image and point-cloud comparisons keep no run journal yet");
    }
    if args.save_models.is_some() && !super::images::is_image_spec(&args.dataset.dataset) {
        anyhow::bail!(
            "--save-models applies to image datasets (mnist:DIR, digits:FILE); save a graph model with gdistill train -o or distill -o"
        );
    }
    if super::pointcloud::is_pointcloud_spec(&args.dataset.dataset) {
        refuse_graph_flags(
            &args,
            "point-cloud dataset",
            "point-cloud models",
            &[
                "--lsp-kernel",
                "--lsp-weight",
                "--no-prune",
                "--prune",
                "--teacher-ensemble",
                "--ensemble-combine",
                "--transfer-set",
                "--int8",
            ],
        )?;
        return super::pointcloud::run_compare(super::pointcloud::CloudCompareArgs {
            common: args.experiment_args()?,
            lsp_kernel: args.lsp_kernel,
            lsp_weight: args.lsp_weight,
            teacher: args.teacher_options(),
        });
    }
    if super::images::is_image_spec(&args.dataset.dataset) {
        let read = ["--teacher-ensemble", "--ensemble-combine", "--transfer-set", "--int8", "--prune", "--no-prune"];
        refuse_graph_flags(&args, "image dataset", "image rows", &read)?;
        return super::images::run_compare(super::images::ImageCompareArgs {
            common: args.experiment_args()?,
            teacher: args.teacher_options(),
            prune: (args.prune || args.no_prune).then_some(args.prune),
            save_models: args.save_models,
        });
    }
    if let Some(path) = &args.plot {
        crate::plot::check_png_path(path)?;
    }
    let device = args.device.device()?;
    let file = match &args.config {
        Some(path) => Some((path.clone(), read_experiment_file(path)?)),
        None => None,
    };
    let mut dataset = args.dataset.load()?;
    // Restricted before the defaults are fitted to the data (feature density, class count), so
    // they see what trains; `compare` restricts again, a no-op on a connected graph.
    let mut split_redrawn = false;
    if wants_lcc(&args, &file)? {
        let component = dataset.largest_component()?;
        split_redrawn = component.split_redrawn;
        dataset = component.dataset;
    }
    let config = resolve_config(&args, &dataset, file)?;
    if split_redrawn {
        anyhow::ensure!(
            config.split != SplitSpec::Public,
            "{}",
            gdistill_distill::compare::public_split_lost(&dataset.name)
        );
        eprintln!("note: {}", super::data_info::redrawn_note(&dataset.name));
    }
    gdistill_distill::compare::check_protocol_classes(&dataset, &config).map_err(anyhow::Error::msg)?;
    let jobs = args.jobs.unwrap_or(1);
    let threads = seed_jobs::seed_threads(jobs, args.device.threads)?;
    if let (true, Some(path)) = (jobs > 1, &args.config) {
        // Each worker reads the command line again; a pipe (`--config <(...)`) is read once.
        anyhow::ensure!(
            path.is_file(),
            "{}: --jobs starts workers that read --config again, so it must be a regular file, not a pipe",
            path.display()
        );
    }
    if let (Some(t), None) = (threads, args.device.threads) {
        tch::set_num_threads(t);
    }
    // The settings as resolved, and what else changes the figures: the device and thread count.
    let settings = serde_json::json!({"config": config, "device": format!("{device:?}"), "threads": threads});
    let identity = dataset_identity(&dataset);
    if let (Some(report), Some(role)) = (&args.worker_report, args.worker_search) {
        return seed_jobs::work(report, Vec::new(), (identity, settings), |log| {
            search_part(&dataset, &config, device, &mut |_| {}, log, role.part())?;
            Ok(())
        });
    }
    if let Some(report) = &args.worker_report {
        let seeds = args.worker_seeds.clone();
        return seed_jobs::work(report, seeds, (identity, settings), |log| {
            compare_resumable(&dataset, &config, device, &mut |_| {}, log)?;
            Ok(())
        });
    }
    // Workers read the tuning trials from a journal: without --json it lives in a scratch
    // folder and goes with it.
    let scratch = if jobs > 1 { Some(tempfile::tempdir().context("a scratch folder for --jobs")?) } else { None };
    let report = match (&args.json, &scratch) {
        (None, Some(scratch)) if !args.resume.resume => Some(scratch.path().join("report.json")),
        (json, _) => json.clone(),
    };
    let mut journal = resume::open(report.as_deref(), &args.resume, "compare", identity, settings)?;
    let outcome = match (&scratch, journal.as_mut()) {
        (Some(scratch), Some(journal)) => {
            train_in_workers(&dataset, &config, device, journal, (jobs, threads, args.device.threads), scratch)
        }
        _ => Ok(()),
    }
    .and_then(|()| run_graphs(&args, &dataset, &config, device, journal.as_mut()));
    // A scratch journal of a failed run goes with its folder: there is no report to resume.
    let journal = journal.filter(|_| args.json.is_some() || outcome.is_ok());
    resume::close(journal, outcome.is_ok())?;
    outcome
}

/// `--jobs`: the tuning search here (its trials recorded in `journal`), then the seeds not yet
/// recorded in worker processes, recorded in `journal` for [`run_graphs`] to replay.
fn train_in_workers(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: tch::Device,
    journal: &mut Journal,
    (jobs, threads, given_threads): (usize, Option<i32>, Option<i32>),
    scratch: &tempfile::TempDir,
) -> Result<()> {
    // Workers get --threads when the command line has none, so that they train as this process counted.
    let pass = if given_threads.is_none() { threads } else { None };
    if config.tune.is_some() {
        let in_parts = search_side_by_side(dataset, config, device, journal, pass, scratch)?;
        // The whole search, here or replayed from its parts: the tuned config, as the workers
        // will resolve it.
        let mut replay_only;
        let log: &mut dyn RunLog = if in_parts {
            replay_only = ReplayOnly(journal);
            &mut replay_only
        } else {
            journal
        };
        let mut tuning_only = Share { log, seeds: Vec::new() };
        crate::output::with_run_bar(|progress| compare_resumable(dataset, config, device, progress, &mut tuning_only))?;
    }
    let pending: Vec<u64> = gdistill_distill::experiment::seeds(config.first_seed, config.seeds)
        .filter(|&seed| journal.recorded(&seed_key(seed)).is_none())
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    seed_jobs::train_seeds_in_workers(journal, &pending, jobs, pass, scratch.path())
}

/// The tuning search with its small-student stage in a worker process beside the teacher's and
/// the MLP's stages, each recording its trials in `journal`. The small student's stage reads
/// only the teacher stage's choice of feature normalisation: the worker starts at once on the
/// recipe's, and starts again after the teacher's stage if that chose the other. Without
/// small-student rows, or with the search already recorded (`--resume`), nothing: the whole
/// search runs or replays in this process. Whether it ran.
fn search_side_by_side(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: tch::Device,
    journal: &mut Journal,
    threads: Option<i32>,
    scratch: &tempfile::TempDir,
) -> Result<bool> {
    if !config.small_rows || tune::search_recorded(journal)? {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    let part = |journal: &mut Journal, part| {
        crate::output::with_run_bar(|progress| search_part(dataset, config, device, progress, journal, part))
    };
    let mut small_stage = seed_jobs::start_search_worker(journal, SearchRole::SmallAhead, threads, scratch.path())?;
    let chosen = part(journal, SearchPart::TEACHER)?;
    if chosen.normalize_features != config.normalize_features {
        small_stage.abandon();
        small_stage = seed_jobs::start_search_worker(journal, SearchRole::Small, threads, scratch.path())?;
    }
    part(journal, SearchPart::MLP)?;
    seed_jobs::finish_search_worker(small_stage, journal)?;
    tune::record_search_seconds(journal, started.elapsed().as_secs_f64())?;
    Ok(true)
}

/// The graph comparison, its table, report, plot and saved config; seeds and trials replayed
/// from `journal` and recorded in it.
fn run_graphs(
    args: &CompareArgs,
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: tch::Device,
    journal: Option<&mut Journal>,
) -> Result<()> {
    let mut no_log = NoLog;
    let log: &mut dyn RunLog = match journal {
        Some(journal) => journal,
        None => &mut no_log,
    };
    let report = run_and_report(
        args.json.as_deref(),
        args.plot.as_deref(),
        |progress| compare_resumable(dataset, config, device, progress, log),
        |report| {
            print_compare_table(report);
            if let TransferSet::Munge { size, p } = config.transfer_set {
                println!(
                    "mlp+kd distilled on every node and {size} MUNGE pseudo nodes (p = {p}) labelled by the teacher"
                );
            }
            Ok(())
        },
        // `teacher` and the teacher-derived rows (`teacher-obd`, `teacher-int8`) are teachers.
        |report| size_points(&report.dataset.name, config.seeds, &report.rows, |name| name.starts_with("teacher")),
    )?;
    if let Some(path) = &args.save_config {
        let text = toml::to_string(&report.config).context("the config as TOML")?;
        gdistill_distill::write_atomically(path, text.as_bytes())
            .with_context(|| format!("{}: cannot write the config", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Refuses the flags only graphs read, but those in `read`, for a `kind` of dataset whose
/// `settings` are set in a `--config` file instead.
fn refuse_graph_flags(args: &CompareArgs, kind: &str, settings: &str, read: &[&str]) -> Result<()> {
    let graph_only = [
        ("--kd-loss", args.kd_loss.is_some()),
        ("--teacher", args.teacher.is_some()),
        ("--protocol", args.protocol.is_some()),
        ("--lcc", args.lcc),
        ("--tune", args.tune.is_some()),
        ("--tune-schedule", args.tune_schedule.is_some()),
        ("--tune-eta", args.tune_eta.is_some()),
        ("--save-config", args.save_config.is_some()),
        ("--split", args.split.is_some()),
        ("--features", args.features.is_some()),
        ("--mlp-features", args.mlp_features.is_some()),
        ("--setting", args.setting.is_some()),
        ("--teacher-hidden", args.teacher_hidden.is_some()),
        ("--gcn-small-hidden", args.gcn_small_hidden.is_some()),
        ("--sage-aggregator", args.sage_aggregator.is_some()),
        ("--mlp-hidden", args.mlp_hidden.is_some()),
        ("--distill-epoch", args.distill_epoch.is_some()),
        ("--lsp-kernel", args.lsp_kernel.is_some()),
        ("--lsp-weight", args.lsp_weight.is_some()),
        ("--lsp-ablation", !args.lsp_ablation.is_empty()),
        ("--no-lsp", args.no_lsp),
        ("--no-prune", args.no_prune),
        ("--no-small", args.no_small),
        ("--prune", args.prune),
        ("--nosmog", args.nosmog),
        ("--gcrd", args.gcrd),
        ("--correct-and-smooth", args.correct_and_smooth),
        ("--vqgraph", args.vqgraph),
        ("--teacher-ensemble", args.teacher_ensemble.is_some()),
        ("--ensemble-combine", args.ensemble_combine.is_some()),
        ("--int8", args.int8),
        ("--transfer-set", args.transfer_set.is_some()),
        ("--jobs", args.jobs.is_some()),
    ];
    let refused = graph_only.iter().filter(|(flag, _)| !read.contains(flag));
    if let Some((flag, _)) = refused.chain(&args.sampling.given()).find(|(_, given)| *given) {
        anyhow::bail!(
            "{flag} applies to graph datasets, not to the {kind} {}; {settings} are set in a --config file",
            args.dataset.dataset
        );
    }
    Ok(())
}

impl CompareArgs {
    /// The teacher and transfer-set flags the image and point-cloud experiments read.
    fn teacher_options(&self) -> TeacherOptions {
        TeacherOptions {
            teacher_ensemble: self.teacher_ensemble.clone(),
            ensemble_combine: self.ensemble_combine,
            transfer_set: self.transfer_set,
            int8: self.int8,
        }
    }

    /// The values every kind of input reads, for the image and point-cloud experiments.
    fn experiment_args(&self) -> Result<ExperimentArgs> {
        Ok(ExperimentArgs {
            dataset: self.dataset.dataset.clone(),
            data_dir: self.dataset.data_dir(),
            device: self.device.device()?,
            seeds: self.seeds,
            first_seed: self.first_seed,
            config: self.config.clone(),
            temperature: self.temperature,
            alpha: self.alpha,
            epochs: self.epochs,
            json: self.json.clone(),
            plot: self.plot.clone(),
        })
    }
}
