//! The graph experiment: a teacher against students trained from scratch and distilled.
//!
//! For each seed: train the teacher from labels; take its logits on every node; train each
//! student from labels alone and from the teacher's soft targets. Every row reports test
//! accuracy per seed (mean and sample standard deviation), parameters, training seconds and
//! warm full-graph inference milliseconds.

use gdistill_datasets::{apply_split, DeepWalkSpec, FeatureSpec, NodeDataset, SplitSpec};
use gdistill_models::{Arch, NodeFeatures, SparseMatrix};
use serde::{Deserialize, Serialize};
use tch::Device;

use super::replay::{record_seed, replay_seed};
use super::rows::{pruned_row_names, row_plans, RowRuns, Student};
use super::{small_row_name, CompareConfig, KdLoss, ModelSpec};
use crate::compress::prune::compare_rows::{matching_sparsity, prune_distilled, prune_teacher};
use crate::experiment::{seeds, Progress, Row, RunCounter};
use crate::graphs::setting::{SeedGraphs, Setting};
use crate::journal::{seed_key, NoLog, RunLog};
use crate::losses::lsp::EdgeList;
use crate::students::deepwalk::apply_features;
use crate::training::minibatch::{train_mlp_on_soft_targets, SoftTargetBatches};
use crate::training::sampled::train_sampled_or_full;
use crate::transfer::node_munge;
use crate::transfer::transfer_set::TransferSet;
use crate::{EpochStats, Objective, TrainConfig, TrainError};

/// The dataset as the report shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub name: String,
    pub nodes: usize,
    pub edges: usize,
    pub features: usize,
    pub classes: usize,
    pub train: usize,
    pub val: usize,
    pub test: usize,
    /// Inductive setting: how many of the `test` nodes were held out of the graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out: Option<usize>,
}

/// One row of the comparison table ([`GraphColumns`] after the shared columns).
pub type CompareRow = Row<GraphColumns>;

/// A graph row's own columns, after name, parameters and test accuracy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GraphColumns {
    /// Validation accuracy per seed (model selection should read these, not the test figures).
    pub val_acc: Vec<f64>,
    pub val_mean: f64,
    /// Mean training seconds per seed.
    pub train_s: f64,
    /// Median warm full-graph inference, milliseconds (mean over seeds).
    pub infer_ms: f64,
    /// Inductive setting only: `test_acc`, `mean` and `std` are then `prod` (every test node).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub inductive: Option<InductiveScores>,
    /// The `teacher` row of an ensemble: its members' accuracies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::transfer::ensemble::EnsembleScores>,
    /// The `teacher` row with Correct and Smooth: the corrected and smoothed predictions'
    /// accuracies, what the students learnt from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct_and_smooth: Option<crate::transfer::correct_and_smooth::SmoothedScores>,
    /// With `int8_rows`: bytes of the stored weights and biases (f32 rows: 4 per parameter;
    /// pruned rows: 4 per kept parameter, no sparse index counted; int8 rows: see
    /// [`crate::compress::quantize::Int8Model::weight_bytes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_bytes: Option<i64>,
}

/// A row's accuracies in the inductive setting (GLNN's Table 3), per seed and as mean and std.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InductiveScores {
    /// On the test nodes that stayed in the graph, read on the graph training saw.
    pub tran_acc: Vec<f64>,
    pub tran_mean: f64,
    pub tran_std: f64,
    /// On the held-out test nodes, read on the full graph (an MLP reads only their features).
    pub ind_acc: Vec<f64>,
    pub ind_mean: f64,
    pub ind_std: f64,
    /// On every test node: the row's `mean` and `std`, repeated under GLNN's name.
    pub prod_mean: f64,
    pub prod_std: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompareReport {
    pub dataset: DatasetInfo,
    pub device: String,
    pub rows: Vec<CompareRow>,
    /// The settings every row ran with (after tuning, when `--tune` searched them).
    pub config: CompareConfig,
    /// The search behind `config`, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<crate::tune::TuneReport>,
}

/// Why `lcc` cannot keep the dataset's own split: the component holds none of one part of it.
pub fn public_split_lost(name: &str) -> String {
    format!(
        "{name}: the largest connected component holds none of the dataset's own training, validation or test nodes, so the public split cannot be kept; draw one on it (--split per-class:20,30)"
    )
}

/// Runs the comparison on `dataset` (row-normalised here when the config says so).
pub fn compare(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<CompareReport, TrainError> {
    compare_resumable(dataset, config, device, progress, &mut NoLog)
}

/// The dataset a comparison under `config` trains on, when it is not `dataset` as given: its
/// largest connected component under `lcc`. Checks the config and the protocol's class sizes.
fn compared_dataset(dataset: &NodeDataset, config: &CompareConfig) -> Result<Option<NodeDataset>, TrainError> {
    config.validate().map_err(TrainError::Config)?;
    let component = if config.lcc {
        let component = dataset.largest_component().map_err(|e| TrainError::Config(e.to_string()))?;
        if component.split_redrawn && config.split == SplitSpec::Public {
            return Err(TrainError::Config(public_split_lost(&dataset.name)));
        }
        Some(component.dataset)
    } else {
        None
    };
    super::check_protocol_classes(component.as_ref().unwrap_or(dataset), config).map_err(TrainError::Config)?;
    Ok(component)
}

/// The part of `config`'s tuning search that `part` names, on the dataset the comparison
/// trains on, its trials recorded in `log` (`compare --jobs` runs the search's stages side by
/// side: [`crate::tune::SearchPart`]). Returns the config as far as the part tuned it (the
/// stages it left out keep the recipe's settings). `config` itself without a search.
pub fn search_part(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
    log: &mut dyn RunLog,
    part: crate::tune::SearchPart,
) -> Result<CompareConfig, TrainError> {
    let component = compared_dataset(dataset, config)?;
    let dataset = component.as_ref().unwrap_or(dataset);
    Ok(crate::tune::tune_part(dataset, config, device, progress, log, part)?.0)
}

/// [`compare`], replaying the seeds and tuning trials `log` recorded before and recording each
/// one it finishes: the report is the same as an uninterrupted run's, timings included (a
/// replayed seed reports the timings it was measured with).
pub fn compare_resumable(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
    log: &mut dyn RunLog,
) -> Result<CompareReport, TrainError> {
    let component = compared_dataset(dataset, config)?;
    let dataset = component.as_ref().unwrap_or(dataset);
    let dataset_as_given = dataset;
    let (mut tuned, tuning) = if config.tune.is_some() {
        let (tuned, report) = crate::tune::tune_resumable(dataset, config, device, progress, log)?;
        (tuned, Some(report))
    } else {
        (config.clone(), None)
    };
    // A file may list the families alone; the report states the count as well.
    if let Some(ensemble) = tuned.ensemble.as_mut() {
        ensemble.members = ensemble.size();
    }
    let config = &tuned;
    let started = std::time::Instant::now();
    let given = dataset;
    let dataset = prepare_dataset(given, config)?;
    // With `mlp_features`, the MLP rows read a dataset of their own: same nodes, labels and
    // graph, so the same seed draws the same split and the same held-out nodes.
    let mlp_dataset = config.mlp_features.map(|spec| prepare_dataset_with(given, config, spec)).transpose()?;
    let deepwalk = inductive_deepwalk(config);
    let mlp_deepwalk = config.mlp_features.and_then(|spec| inductive_deepwalk_of(spec, config.setting));
    // The progress line names the spec whose DeepWalk columns are being learnt.
    let walked = config.mlp_features.filter(|spec| spec.deepwalk().is_some()).unwrap_or(config.features);
    let features_spec = walked.to_string();
    let report_features = |started: std::time::Instant, progress: &mut dyn FnMut(Progress)| {
        let seconds = started.elapsed().as_secs_f64();
        progress(Progress::FeaturesBuilt { spec: &features_spec, seconds });
    };
    if walked.deepwalk().is_some() && deepwalk.is_none() && mlp_deepwalk.is_none() {
        report_features(started, progress);
    }
    let split_of = |dataset: &NodeDataset, seed| {
        apply_split(dataset, &config.split, seed).map_err(|e| TrainError::Config(e.to_string()))
    };
    // The first seed's split fixes what the report's dataset line shows.
    let first_split = split_of(&dataset, config.first_seed)?;
    let started = std::time::Instant::now();
    let mut graphs = SeedGraphs::with_deepwalk(&first_split, config.setting, config.first_seed, device, deepwalk)?;
    let mut mlp_graphs = match &mlp_dataset {
        Some(mlp_dataset) => {
            let split = split_of(mlp_dataset, config.first_seed)?;
            Some(SeedGraphs::with_deepwalk(&split, config.setting, config.first_seed, device, mlp_deepwalk)?)
        }
        None => None,
    };
    if deepwalk.is_some() || mlp_deepwalk.is_some() {
        report_features(started, progress);
    }
    let held_out = (config.setting != Setting::Transductive).then(|| graphs.held_out());
    if let Some(vqgraph) = &config.vqgraph {
        // Before anything trains: the tokenizer's graph is the observed one.
        let graph = &graphs.dataset.graph;
        vqgraph
            .check_graph(graph.num_nodes(), graph.num_undirected_edges(), &dataset.name)
            .map_err(TrainError::Config)?;
    }
    let (num_features, num_classes) = (graphs.data.num_features(), graphs.data.num_classes);
    let mlp_num_features = mlp_graphs.as_ref().map_or(num_features, |g| g.data.num_features());
    let model = |arch, spec: &ModelSpec| spec.config(arch, num_features, num_classes);
    let teacher_cfg = model(config.family, &config.teacher);
    let student_cfg = |s: Student| match s {
        Student::Mlp => config.mlp.config(Arch::Mlp, mlp_num_features, num_classes),
        Student::GcnSmall => model(config.family, &config.gcn_small),
    };
    let plans = row_plans(config);
    let mut rows: Vec<RowRuns> = plans
        .iter()
        .map(|p| RowRuns::new(p.name.clone(), &p.student.map_or_else(|| teacher_cfg.clone(), student_cfg)))
        .collect();
    let lsp_edges = |graphs: &SeedGraphs| EdgeList::from_graph(&graphs.dataset.graph, config.lsp.self_loops, device);
    let mut edges = lsp_edges(&graphs);
    let pruned_rows = if config.prune.rows { 2 } else { 0 };
    let pruned_names = pruned_row_names(config.family);
    let small_kd = format!("{}+kd", small_row_name(config.family));
    for name in pruned_names.iter().take(pruned_rows) {
        let cfg = if name == "teacher-obd" { teacher_cfg.clone() } else { student_cfg(Student::GcnSmall) };
        rows.push(RowRuns::new(name.clone(), &cfg));
    }
    // Read from the dataset as given: each family's recipe is the one `for_family` gives it.
    let recipes = config.member_recipes(dataset_as_given);
    let members = recipes.len();
    if members > 1 {
        rows[0].params = recipes.iter().map(|r| r.config(num_features, num_classes).num_params()).sum();
        rows[0].families = config.lists_families().then(|| recipes.iter().map(|r| r.family).collect());
    }
    if config.int8_rows {
        rows.push(RowRuns { params: rows[0].params, ..RowRuns::new("teacher-int8".into(), &teacher_cfg) });
        rows.push(RowRuns::new("mlp+kd-int8".into(), &student_cfg(Student::Mlp)));
    }
    let mut counter = RunCounter::new(rows.len() * config.seeds + (members - 1) * config.seeds);
    for seed in seeds(config.first_seed, config.seeds) {
        // A recorded seed is replayed and another process's seed skipped before their graphs are
        // built: inductively that is a DeepWalk embedding per seed. Building a seed's graphs
        // depends on nothing but the seed, so the next seed that runs builds its own.
        let key = seed_key(seed);
        let recorded = log.recorded(&key);
        if let Some(recorded) = &recorded {
            replay_seed(&mut rows, recorded)?;
        }
        if recorded.is_some() || !log.runs(&key) {
            counter.skip(rows.len() + members - 1);
            continue;
        }
        if seed != config.first_seed {
            let split_changes = config.split != SplitSpec::Public;
            let started = std::time::Instant::now();
            graphs.next_seed(&split_of(&dataset, seed)?, config.setting, split_changes, seed)?;
            if let (Some(mlp_graphs), Some(mlp_dataset)) = (mlp_graphs.as_mut(), &mlp_dataset) {
                mlp_graphs.next_seed(&split_of(mlp_dataset, seed)?, config.setting, split_changes, seed)?;
            }
            if deepwalk.is_some() || mlp_deepwalk.is_some() {
                report_features(started, progress);
            }
            if config.setting != Setting::Transductive {
                edges = lsp_edges(&graphs);
            }
        }
        let (data, observed) = (&graphs.data, &graphs.dataset);
        let mlp_view = match &mlp_graphs {
            Some(mlp_graphs) if !mlp_graphs.same_nodes_as(&graphs) => {
                return Err(TrainError::Config(format!(
                    "seed {seed}: the MLP's features drew another split or held out other nodes than the teacher's"
                )))
            }
            Some(mlp_graphs) => mlp_graphs,
            None => &graphs,
        };
        let mut teacher_out = None;
        let mut pseudo: Option<(crate::GraphData, tch::Tensor)> = None;
        let (mut teacher, mut distilled_small, mut distilled_mlp, mut ensemble) = (None, None, None, None);
        let mut tokenizer = None;
        for (row, plan) in rows.iter_mut().zip(&plans) {
            counter.start(progress, &plan.name, seed);
            if plan.vqgraph.is_some() {
                let mut on_epoch = |stats: &EpochStats| progress(Progress::Epoch { row: &plan.name, stats });
                let cfgs = (&teacher_cfg, &student_cfg(Student::Mlp));
                match plan.train_vqgraph(cfgs, &graphs, (config, seed), &mut tokenizer, &mut on_epoch)? {
                    Some(student) => row.record(&student, &graphs),
                    None => row.record(&tokenizer.as_ref().expect("just trained").teacher, &graphs),
                }
                continue;
            }
            let (cfg, objective, settings) = match (plan.student, &teacher_out) {
                (None, _) => (teacher_cfg.clone(), Objective::labels(), config.teacher_training.clone()),
                (Some(student), Some(teacher)) => {
                    let (objective, settings) = plan.objective(teacher, config, &edges)?;
                    (student_cfg(student), objective, settings)
                }
                (Some(_), None) => unreachable!("the teacher row comes first"),
            };
            let settings = TrainConfig { seed, ..settings };
            // What this row reads: the MLP rows their own features, every other row the teacher's.
            let reads = if plan.student == Some(Student::Mlp) { mlp_view } else { &graphs };
            let mut on_epoch = |stats: &EpochStats| progress(Progress::Epoch { row: &plan.name, stats });
            let sampler = config.sampler.as_ref();
            let mut trained = match (&pseudo, plan.name.as_str()) {
                (Some((augmented, targets)), "mlp+kd") => crate::train(
                    &cfg,
                    augmented,
                    &config.kd_objective(targets.shallow_clone()),
                    &settings,
                    &mut on_epoch,
                )?,
                _ if plan.nosmog.is_some() => {
                    let teacher = teacher_out.as_ref().expect("the teacher row comes first");
                    plan.train_nosmog(&cfg, &reads.data, (&objective, &settings), teacher, config, &mut on_epoch)?
                }
                (_, "mlp+kd") if config.distill_batch_size.is_some() => {
                    let teacher = teacher_out.as_ref().expect("the teacher row comes first");
                    let batches = SoftTargetBatches {
                        batch_size: config.distill_batch_size.unwrap_or(1),
                        temperature: config.temperature,
                        alpha: config.alpha,
                        epoch: config.distill_epoch,
                    };
                    train_mlp_on_soft_targets(
                        &cfg,
                        &reads.dataset,
                        &teacher.logits,
                        device,
                        &settings,
                        batches,
                        &mut on_epoch,
                    )?
                }
                _ => train_sampled_or_full(
                    &cfg,
                    &reads.dataset,
                    &reads.data,
                    &objective,
                    &settings,
                    sampler,
                    &mut on_epoch,
                )?,
            };
            if plan.student.is_none() && members > 1 {
                let combine = config.ensemble.as_ref().map(|e| e.combine).unwrap_or_default();
                let mut all = vec![trained];
                // Member 0 is the run above (the teacher's family and settings, the row's seed).
                for (k, member) in recipes.iter().enumerate().skip(1) {
                    counter.count();
                    let cfg = member.config(num_features, num_classes);
                    let seed = crate::transfer::ensemble::member_seed(seed, k);
                    let settings = TrainConfig { seed, ..member.training.clone() };
                    all.push(train_sampled_or_full(
                        &cfg,
                        observed,
                        data,
                        &objective,
                        &settings,
                        sampler,
                        &mut on_epoch,
                    )?);
                }
                let built =
                    crate::transfer::ensemble::Ensemble::from_trained(&all.iter().collect::<Vec<_>>(), combine)?;
                row.record_ensemble(&built, &all, &graphs);
                ensemble = Some(built);
                // Member 0 (the single teacher of this seed) is the one the pruned row prunes.
                trained = all.swap_remove(0);
            } else {
                row.record(&trained, reads);
            }
            if plan.student.is_none() {
                // What the teacher (the ensemble, when there is one) says of a graph's nodes.
                let mean_logits = config.kd_loss == KdLoss::Logits;
                let teach = |x: &NodeFeatures, a: &SparseMatrix| match &ensemble {
                    Some(e) => e.targets(x, a, config.temperature, mean_logits),
                    None => tch::no_grad(|| trained.model.forward_t(x, a, false)),
                };
                // Soft targets only for the nodes training sees (inductively, not the held-out ones).
                let mut out = teach(&data.features, &data.a_hat);
                if let Some(cs) = &config.correct_and_smooth {
                    let adjacency = graphs.propagation_matrix()?;
                    let smoothed =
                        cs.apply(&out.logits, &adjacency, &data.labels, (&data.train, &data.val, &data.test));
                    out.logits = smoothed.log_probs;
                    row.smoothed.push(smoothed.figures);
                }
                if let TransferSet::Munge { size, p } = config.transfer_set {
                    let label = |x: &NodeFeatures, a: &SparseMatrix| teach(x, a).logits;
                    pseudo = Some(node_munge::transfer_set(observed, data, &out.logits, size, p, seed, label)?);
                }
                teacher_out = Some(out);
            }
            match plan.name.as_str() {
                "teacher" if pruned_rows > 0 || config.int8_rows => teacher = Some(trained),
                name if pruned_rows > 0 && name == small_kd => distilled_small = Some(trained),
                "mlp+kd" if config.int8_rows => distilled_mlp = Some(trained),
                _ => {}
            }
        }
        if let (Some(teacher), Some(small), Some(out)) = (&teacher, &distilled_small, &teacher_out) {
            let sparsity = matching_sparsity(&teacher_cfg, &student_cfg(Student::GcnSmall));
            let offset = row_index(&rows, &pruned_names[0]);
            counter.start(progress, &pruned_names[0], seed);
            let pruned = prune_teacher(teacher, data, config, sparsity, seed)?;
            rows[offset].record_pruned(&pruned, &graphs);
            counter.start(progress, &pruned_names[1], seed);
            let pruned = prune_distilled(small, &out.logits, data, config, seed)?;
            rows[offset + 1].record_pruned(&pruned, &graphs);
        }
        if let (Some(teacher), Some(mlp)) = (&teacher, &distilled_mlp) {
            let offset = row_index(&rows, "teacher-int8");
            counter.start(progress, "teacher-int8", seed);
            let quantized = crate::compress::quantize::quantize_row(teacher, ensemble.as_ref(), data)?;
            rows[offset].record_int8(&quantized, &graphs);
            counter.start(progress, "mlp+kd-int8", seed);
            let quantized = crate::compress::quantize::quantize_row(mlp, None, &mlp_view.data)?;
            rows[offset + 1].record_int8(&quantized, mlp_view);
        }
        record_seed(log, &key, &rows)?;
    }
    if config.int8_rows {
        for row in rows.iter_mut().filter(|r| r.weight_bytes.is_none()) {
            row.weight_bytes = Some(4 * row.params);
        }
    }
    Ok(CompareReport {
        dataset: DatasetInfo {
            name: dataset.name.clone(),
            nodes: dataset.num_nodes(),
            edges: dataset.graph.num_undirected_edges(),
            // What the models read: inductively the DeepWalk columns are added per seed.
            features: num_features as usize,
            classes: dataset.num_classes,
            train: first_split.train.len(),
            val: first_split.val.len(),
            test: first_split.test.len(),
            held_out,
        },
        device: format!("{device:?}"),
        rows: rows.into_iter().map(RowRuns::finish).collect(),
        config: config.clone(),
        tune: tuning,
    })
}

/// Where the row `name` sits; the pruned and int8 rows are each pushed as a pair, so the pair's
/// second row follows it.
fn row_index(rows: &[RowRuns], name: &str) -> usize {
    rows.iter().position(|r| r.name == name).expect("the row was pushed with its pair")
}

/// The dataset as every row of `config` reads it: features row-normalised when the config
/// says so, then structural features applied (after: positional columns are not counts to be
/// scaled with the others); memory checked for the models. DeepWalk columns are learnt here
/// with the first seed, once for every seed as NOSMOG does, except in the inductive setting,
/// where each seed learns them on its own observed graph ([`inductive_deepwalk`]).
pub fn prepare_dataset(dataset: &NodeDataset, config: &CompareConfig) -> Result<NodeDataset, TrainError> {
    prepare_dataset_with(dataset, config, config.features)
}

/// [`prepare_dataset`] with `spec` in place of the config's features (the MLP rows' own,
/// `mlp_features`).
pub fn prepare_dataset_with(
    dataset: &NodeDataset,
    config: &CompareConfig,
    spec: FeatureSpec,
) -> Result<NodeDataset, TrainError> {
    let mut dataset = dataset.clone();
    if config.normalize_features {
        dataset.row_normalize_features();
    }
    let config_error = |e: gdistill_datasets::DatasetError| TrainError::Config(e.to_string());
    let dataset = match (inductive_deepwalk_of(spec, config.setting), spec) {
        (Some(_), FeatureSpec::GivenPlusDeepWalk(_)) => apply_features(&dataset, &FeatureSpec::Given, 0),
        (Some(_), _) => Ok(NodeDataset { features: sprs::CsMat::zero((dataset.num_nodes(), 0)), ..dataset }),
        (None, spec) => apply_features(&dataset, &spec, config.first_seed),
    }
    .map_err(config_error)?;
    config.check_memory(&dataset).map_err(TrainError::TooLarge)?;
    Ok(dataset)
}

/// The DeepWalk columns left for each seed to learn on its observed graph: the spec's, in the
/// inductive setting (transductively [`prepare_dataset`] has learnt them).
pub fn inductive_deepwalk(config: &CompareConfig) -> Option<DeepWalkSpec> {
    inductive_deepwalk_of(config.features, config.setting)
}

/// The DeepWalk columns of `spec` left for each seed to learn in `setting`.
pub fn inductive_deepwalk_of(spec: FeatureSpec, setting: Setting) -> Option<DeepWalkSpec> {
    spec.deepwalk().filter(|_| setting != Setting::Transductive)
}
