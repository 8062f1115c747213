//! The main experiment: a teacher against students trained from scratch and distilled.
//!
//! For each seed: train the teacher from labels; take its logits on every node; train each
//! student from labels alone and from the teacher's soft targets. Every row reports test
//! accuracy per seed (mean and sample standard deviation), parameters, training seconds and
//! warm full-graph inference milliseconds.

use gdistill_datasets::{apply_features, apply_split, FeatureSpec, NodeDataset, SplitSpec};
use gdistill_models::{Arch, ArchOptions, ModelConfig, ModelOutput, NodeModel};
use serde::{Deserialize, Serialize};
use tch::Device;

pub use crate::experiment::{mean_std, Progress};
use crate::experiment::{seeds, Row, RunCounter, Runs};
use crate::lsp::{EdgeList, KlDirection, LspKernel};
pub use crate::prune::compare_rows::PruneRowsConfig;
use crate::prune::compare_rows::{matching_sparsity, prune_distilled, prune_teacher, PrunedModel};
use crate::prune::HessianEstimator;
use crate::sampled::train_sampled_or_full;
use crate::setting::{Scores, SeedGraphs, Setting};
use crate::{
    checked_hidden_index, inference_ms, EpochStats, LspTerm, Objective, Selection, TrainConfig, TrainError, Trained,
};

/// Architecture of one model in the comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Width of each hidden layer (per head for GAT).
    pub hidden: i64,
    pub layers: usize,
    pub dropout: f64,
    /// Family settings (GAT heads, APPNP steps, ...); the family is the comparison's.
    #[serde(default)]
    pub options: ArchOptions,
}

/// Which soft-target loss the `+kd` rows use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KdLoss {
    /// Tempered softmax KL, `T^2`-scaled (Hinton et al. 2015).
    SoftTargets,
    /// MSE between logits (Bucilua et al. 2006).
    Logits,
}

/// Every setting of a comparison; `gdistill compare` records it in its report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    pub seeds: usize,
    pub first_seed: u64,
    /// Family of the teacher and of the small graph student (row `<family>-small`).
    #[serde(default)]
    pub family: Arch,
    /// `public` (the dataset's own split), `per-class:T,V` or `random:T,V`, drawn anew for
    /// each seed (GLNN's and CPF's protocol) unless public.
    #[serde(default = "public_split")]
    pub split: SplitSpec,
    /// `given`, or structural features for graphs without them (`identity`, `degree`,
    /// `positional:K`), or `given+positional:K`.
    #[serde(default = "given_features")]
    pub features: FeatureSpec,
    /// `transductive`, or `inductive[:F]`: a fraction F (0.2) of the test nodes held out of
    /// the graph until test time ([`crate::setting`]).
    #[serde(default)]
    pub setting: Setting,
    /// Scale feature rows to sum to one (the GCN recipe).
    pub normalize_features: bool,
    pub teacher: ModelSpec,
    pub teacher_training: TrainConfig,
    /// The small student of the teacher's family (the key keeps its first name: GCN was the
    /// only family then).
    pub gcn_small: ModelSpec,
    pub mlp: ModelSpec,
    /// Training of the students from labels alone.
    pub student_training: TrainConfig,
    /// Training of the distilled students. No weight decay by default: the teacher's targets on
    /// every node regularise, and decay on row-normalised inputs kept small students from
    /// fitting them (validation accuracy dropped by up to 0.1 on Cora). Matching a teacher on
    /// every node converges more slowly than fitting 140 labels, hence more epochs.
    pub distill_training: TrainConfig,
    pub kd_loss: KdLoss,
    pub temperature: f64,
    /// Weight of the hard-label term; `1 - alpha` goes to the teacher's targets.
    pub alpha: f64,
    pub lsp: LspConfig,
    /// The pruned rows `teacher-obd` and `gcn-small+kd+obd` ("distil or prune?").
    #[serde(default)]
    pub prune: PruneRowsConfig,
    /// Train the graph models on neighbour-sampled mini-batches ([`crate::sampled`]); absent:
    /// full-batch. Evaluation and soft targets stay full-graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler: Option<crate::sampled::SamplerConfig>,
    /// Search the recipe on validation accuracy first ([`crate::tune`]); absent: use it as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<crate::tune::TuneConfig>,
    /// An ensemble teacher ([`crate::ensemble`]): the `teacher` row is the ensemble and every
    /// `+kd` row distils from it; absent: one teacher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<crate::ensemble::EnsembleConfig>,
    /// The int8 rows `teacher-int8` and `mlp+kd-int8` ([`crate::quantize`]), and every row's
    /// `weight_bytes` ("distil, prune, or quantize?").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub int8_rows: bool,
}

/// Local structure preservation in the comparison (Yang et al. 2020).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LspConfig {
    /// Add the rows `mlp+kd+lsp`, `gcn-small+lsp` and `gcn-small+kd+lsp`.
    pub rows: bool,
    pub kernel: LspKernel,
    /// `beta`, the weight of the LSP term.
    pub weight: f64,
    pub direction: KlDirection,
    /// Whether a node counts as its own neighbour.
    pub self_loops: bool,
    /// Which hidden layer of the teacher and of the student (negative: from the last).
    pub teacher_layer: i64,
    pub student_layer: i64,
    /// Drop the LSP term from this epoch on (the authors' code: 30); absent: never.
    pub until_epoch: Option<usize>,
    /// Extra rows `gcn-small+lsp[K]` and `gcn-small+kd+lsp[K]` for each kernel K (an ablation).
    pub ablation_kernels: Vec<LspKernel>,
}

/// The teacher, its training and the small student of `family`'s published recipe, for
/// `classes` classes, before [`CompareConfig::for_family`] fits the learning rate to the features
/// (`bench` times this recipe as it is, as its PyTorch Geometric peer runs it).
pub fn family_recipe(family: Arch, classes: i64) -> (ModelSpec, TrainConfig, ModelSpec) {
    let spec = |hidden, dropout| ModelSpec { hidden, layers: 2, dropout, options: ArchOptions::default() };
    match family {
        Arch::Gat => (
            spec(8, 0.6),
            // Kept at its lowest validation loss: at its best validation accuracy (epoch 8 of 200
            // on Cora) its logits are still near-flat, and students distilled from them failed.
            TrainConfig { lr: 0.005, decay_all_layers: true, select: Selection::ValLoss, ..TrainConfig::default() },
            // One head: heads multiply the first layer, the one the features make large.
            ModelSpec { options: ArchOptions { heads: 1, ..ArchOptions::default() }, ..spec(6.max(classes), 0.6) },
        ),
        Arch::Gcn => (spec(64, 0.5), TrainConfig::default(), spec(6.max(classes), 0.5)),
        _ => {
            (spec(64, 0.5), TrainConfig { decay_all_layers: true, ..TrainConfig::default() }, spec(6.max(classes), 0.5))
        }
    }
}

/// Learning rate of every run on dense non-negative features kept raw ([`CompareConfig::for_family`]).
pub const RAW_FEATURES_LR: f64 = 0.001;

fn public_split() -> SplitSpec {
    SplitSpec::Public
}

fn given_features() -> FeatureSpec {
    FeatureSpec::Given
}

impl CompareConfig {
    /// Defaults for a GCN teacher, chosen on the validation split of Cora and Citeseer. Row
    /// normalisation (the GCN recipe for sparse bag-of-words counts) is on only when every
    /// feature is non-negative, since scaling signed features (e.g. the Gaussian ones of a CSBM)
    /// by their row sums makes no sense, and when under a tenth of the entries are non-zero: on
    /// Amazon's 35%-dense binary features it shrinks every value to about 0.004 and a GCN
    /// underfits (PyG, same recipe, Computers: 0.639 normalised, 0.829 raw).
    pub fn for_dataset(dataset: &NodeDataset) -> CompareConfig {
        CompareConfig::for_family(dataset, Arch::Gcn)
    }

    /// Defaults for a teacher of `family`: its published recipe (GAT: PyTorch Geometric's
    /// `examples/gat.py`, 8 heads of 8, dropout 0.6, lr 0.005; SAGE and APPNP: the GCN recipe
    /// with decay on every layer, APPNP with K = 10, alpha = 0.1). The small student is never
    /// narrower than the class count: a layer of fewer units than classes must squeeze the
    /// classes through a bottleneck, and on Amazon Photo (8 classes) a width-6 GCN collapsed on
    /// some seeds (0.545 +- 0.190).
    ///
    /// Dense non-negative features kept raw (Amazon's: binary, about 270 non-zeros per node) make
    /// every first-layer pre-activation a sum of hundreds of terms, and at the recipes' learning
    /// rates the first Adam steps killed every ReLU of SAGE and of 8-unit GCN students on some
    /// seeds (Amazon Photo `gcn-small`: 0.36 and 0.26 on two of five seeds, ln 10 loss from
    /// epoch 3). There every run trains at lr 0.001: five seeds of an 8-unit GCN on Photo went
    /// from 0.650 +- 0.29 to 0.864 +- 0.02, the 64-unit teacher from 0.890 to 0.901 (Photo) and
    /// 0.815 to 0.811 (Computers) (docs/teacher-families.md).
    pub fn for_family(dataset: &NodeDataset, family: Arch) -> CompareConfig {
        let spec = |hidden, dropout| ModelSpec { hidden, layers: 2, dropout, options: ArchOptions::default() };
        let classes = dataset.num_classes as i64;
        let nonnegative = dataset.has_nonnegative_features();
        let normalize_features = nonnegative && dataset.feature_density() < 0.1;
        let raw_counts = nonnegative && !normalize_features;
        let lr_cap = |t: TrainConfig| if raw_counts { TrainConfig { lr: t.lr.min(RAW_FEATURES_LR), ..t } } else { t };
        let (teacher, teacher_training, small) = family_recipe(family, classes);
        CompareConfig {
            seeds: 10,
            first_seed: 0,
            family,
            split: SplitSpec::Public,
            features: FeatureSpec::Given,
            setting: Setting::Transductive,
            normalize_features,
            teacher,
            teacher_training: lr_cap(teacher_training),
            gcn_small: small,
            mlp: spec(64, 0.5),
            student_training: lr_cap(TrainConfig { decay_all_layers: true, ..TrainConfig::default() }),
            distill_training: lr_cap(TrainConfig { weight_decay: 0.0, epochs: 400, ..TrainConfig::default() }),
            kd_loss: KdLoss::SoftTargets,
            // A GAT teacher's probabilities at T = 2 were too flat for its 1-head small student:
            // on Cora (5 seeds, validation) gat-small+kd 0.786 at T = 2 against 0.822 at T = 1,
            // mlp+kd 0.817 against 0.823 (docs/teacher-families.md).
            temperature: if family == Arch::Gat { 1.0 } else { 2.0 },
            alpha: 0.0,
            lsp: LspConfig {
                rows: true,
                // The best mean validation accuracy over 10 seeds on both Cora and Citeseer among
                // the four kernels at weight 1 (docs/lsp.md).
                kernel: LspKernel::L1 { b: 1.0 },
                weight: 1.0,
                direction: KlDirection::TeacherToStudent,
                self_loops: false,
                teacher_layer: -1,
                student_layer: -1,
                until_epoch: None,
                ablation_kernels: Vec::new(),
            },
            tune: None,
            sampler: None,
            ensemble: None,
            int8_rows: false,
            prune: match family {
                Arch::Gcn => PruneRowsConfig::default(),
                // Gauss-Newton is written for GCN layers; Fisher needs only first derivatives.
                _ => {
                    PruneRowsConfig { estimator: HessianEstimator::Fisher { samples: 8 }, ..PruneRowsConfig::default() }
                }
            },
        }
    }
}

impl ModelSpec {
    /// The model this spec describes for `in_features` inputs and `classes` outputs.
    pub fn config(&self, arch: Arch, in_features: i64, classes: i64) -> ModelConfig {
        ModelConfig::new(arch, in_features, self.hidden, self.layers, classes, self.dropout)
            .with_options(self.options.clone())
    }

    fn validate(&self, name: &str) -> Result<(), String> {
        if self.hidden <= 0 || self.layers == 0 {
            return Err(format!("{name}: hidden and layers must be positive, got {} and {}", self.hidden, self.layers));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("{name}: dropout must be in [0, 1), got {}", self.dropout));
        }
        Ok(())
    }
}

impl CompareConfig {
    /// Checks every setting before anything trains; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.seeds == 0 {
            return Err("seeds must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(format!("alpha must be in [0, 1], got {}", self.alpha));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(format!("temperature must be positive and finite, got {}", self.temperature));
        }
        if !(self.lsp.weight.is_finite() && self.lsp.weight >= 0.0) {
            return Err(format!("lsp.weight must be non-negative and finite, got {}", self.lsp.weight));
        }
        for (name, spec) in [("teacher", &self.teacher), ("gcn_small", &self.gcn_small), ("mlp", &self.mlp)] {
            spec.validate(name)?;
        }
        if self.family == Arch::Mlp {
            return Err("the teacher family must read the graph: gcn, sage, gat or appnp, not mlp".into());
        }
        for (name, spec) in [("teacher", &self.teacher), ("gcn_small", &self.gcn_small)] {
            // A config built only to check the family settings (heads, steps, ...).
            spec.config(self.family, 1, 1).validate().map_err(|e| format!("{name}: {e}"))?;
        }
        self.prune.validate()?;
        if let Some(ensemble) = &self.ensemble {
            ensemble.validate()?;
        }
        if self.int8_rows && !crate::quantize::supports(self.family) {
            return Err(format!("int8 rows quantize GCN teachers (and MLP students), not a {} teacher", self.family));
        }
        if let Some(tune) = &self.tune {
            tune.validate()?;
        }
        let trainings = [
            ("teacher_training", &self.teacher_training),
            ("student_training", &self.student_training),
            ("distill_training", &self.distill_training),
        ];
        for (name, training) in trainings {
            training.validate().map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    /// Refuses models whose training state (weights, gradients, Adam's moments) would not fit
    /// in memory for `dataset`, before the first one is built.
    pub fn check_memory(&self, dataset: &NodeDataset) -> Result<(), String> {
        let models = [
            ("teacher", &self.teacher, self.family),
            ("gcn_small", &self.gcn_small, self.family),
            ("mlp", &self.mlp, Arch::Mlp),
        ];
        for (name, spec, arch) in models {
            let model = spec.config(arch, dataset.num_features() as i64, dataset.num_classes as i64);
            let params = model.num_params();
            let what = format!("{name} (hidden {}, {params} parameters)", spec.hidden);
            gdistill_datasets::limits::check_memory(&what, 16 * params.max(0) as u128)?;
        }
        Ok(())
    }
}

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
    pub ensemble: Option<crate::ensemble::EnsembleScores>,
    /// With `int8_rows`: bytes of the stored weights and biases (f32 rows: 4 per parameter;
    /// pruned rows: 4 per kept parameter, no sparse index counted; int8 rows: see
    /// [`crate::quantize::Int8Model::weight_bytes`]).
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

struct RowRuns {
    name: String,
    params: i64,
    runs: Runs,
    /// Inductive setting: (`tran`, `ind`) per seed.
    inductive: Vec<(f64, f64)>,
    weight_bytes: Option<i64>,
}

/// Runs the comparison on `dataset` (row-normalised here when the config says so).
pub fn compare(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<CompareReport, TrainError> {
    config.validate().map_err(TrainError::Config)?;
    let (tuned, tuning) = if config.tune.is_some() {
        let (tuned, report) = crate::tune::tune(dataset, config, device, progress)?;
        (tuned, Some(report))
    } else {
        (config.clone(), None)
    };
    let config = &tuned;
    let dataset = prepare_dataset(dataset, config)?;
    let seed_split = |seed| apply_split(&dataset, &config.split, seed).map_err(|e| TrainError::Config(e.to_string()));
    // The first seed's split fixes what the report's dataset line shows.
    let first_split = seed_split(config.first_seed)?;
    let mut graphs = SeedGraphs::new(&first_split, config.setting, config.first_seed, device)?;
    let held_out = (config.setting != Setting::Transductive).then(|| graphs.held_out());
    let (num_features, num_classes) = (graphs.data.num_features(), graphs.data.num_classes);
    let model = |arch, spec: &ModelSpec| spec.config(arch, num_features, num_classes);
    let teacher_cfg = model(config.family, &config.teacher);
    let student_cfg = |s: Student| match s {
        Student::Mlp => model(Arch::Mlp, &config.mlp),
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
    let members = config.ensemble.as_ref().map_or(1, |e| e.members);
    if members > 1 {
        rows[0].params *= members as i64;
    }
    if config.int8_rows {
        rows.push(RowRuns { params: rows[0].params, ..RowRuns::new("teacher-int8".into(), &teacher_cfg) });
        rows.push(RowRuns::new("mlp+kd-int8".into(), &student_cfg(Student::Mlp)));
    }
    let mut counter = RunCounter::new(rows.len() * config.seeds + (members - 1) * config.seeds);
    for seed in seeds(config.first_seed, config.seeds) {
        if seed != config.first_seed {
            let split_changes = config.split != SplitSpec::Public;
            graphs.next_seed(&seed_split(seed)?, config.setting, split_changes, seed)?;
            if config.setting != Setting::Transductive {
                edges = lsp_edges(&graphs);
            }
        }
        let (data, observed) = (&graphs.data, &graphs.dataset);
        let mut teacher_out = None;
        let (mut teacher, mut distilled_small, mut distilled_mlp, mut ensemble) = (None, None, None, None);
        for (row, plan) in rows.iter_mut().zip(&plans) {
            counter.start(progress, &plan.name, seed);
            let (cfg, objective, settings) = match (plan.student, &teacher_out) {
                (None, _) => (teacher_cfg.clone(), Objective::labels(), &config.teacher_training),
                (Some(student), Some(teacher)) => {
                    let (objective, settings) = plan.objective(teacher, config, &edges)?;
                    (student_cfg(student), objective, settings)
                }
                (Some(_), None) => unreachable!("the teacher row comes first"),
            };
            let settings = TrainConfig { seed, ..settings.clone() };
            let mut on_epoch = |stats: &EpochStats| progress(Progress::Epoch { row: &plan.name, stats });
            let sampler = config.sampler.as_ref();
            let mut trained =
                train_sampled_or_full(&cfg, observed, data, &objective, &settings, sampler, &mut on_epoch)?;
            if plan.student.is_none() && members > 1 {
                let combine = config.ensemble.as_ref().map(|e| e.combine).unwrap_or_default();
                let mut all = vec![trained];
                for k in 1..members {
                    counter.count();
                    let settings = TrainConfig { seed: crate::ensemble::member_seed(seed, k), ..settings.clone() };
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
                let built = crate::ensemble::Ensemble::from_trained(&all.iter().collect::<Vec<_>>(), combine)?;
                row.record_ensemble(&built, &all, &graphs);
                let mean_logits = config.kd_loss == KdLoss::Logits;
                teacher_out = Some(built.targets(&data.features, &data.a_hat, config.temperature, mean_logits));
                ensemble = Some(built);
                // Member 0 (the single teacher of this seed) is the one the pruned row prunes.
                trained = all.swap_remove(0);
            } else {
                row.record(&trained, &graphs);
                if plan.student.is_none() {
                    // Soft targets only for the nodes training sees (inductively, not the held-out ones).
                    teacher_out = Some(tch::no_grad(|| trained.model.forward_t(&data.features, &data.a_hat, false)));
                }
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
            // The int8 rows, when there are any, come after the pruned ones.
            let offset = rows.len() - pruned_rows - if config.int8_rows { 2 } else { 0 };
            counter.start(progress, &pruned_names[0], seed);
            let pruned = prune_teacher(teacher, data, config, sparsity, seed)?;
            rows[offset].record_pruned(&pruned, &graphs);
            counter.start(progress, &pruned_names[1], seed);
            let pruned = prune_distilled(small, &out.logits, data, config, seed)?;
            rows[offset + 1].record_pruned(&pruned, &graphs);
        }
        if let (Some(teacher), Some(mlp)) = (&teacher, &distilled_mlp) {
            let offset = rows.len() - 2;
            counter.start(progress, "teacher-int8", seed);
            let quantized = crate::quantize::quantize_row(teacher, ensemble.as_ref(), data)?;
            rows[offset].record_int8(&quantized, &graphs);
            counter.start(progress, "mlp+kd-int8", seed);
            let quantized = crate::quantize::quantize_row(mlp, None, data)?;
            rows[offset + 1].record_int8(&quantized, &graphs);
        }
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
            features: dataset.num_features(),
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

/// The dataset as every row of `config` reads it: features row-normalised when the config
/// says so, then structural features applied (after: positional columns are not counts to be
/// scaled with the others); memory checked for the models.
pub fn prepare_dataset(dataset: &NodeDataset, config: &CompareConfig) -> Result<NodeDataset, TrainError> {
    let mut dataset = dataset.clone();
    if config.normalize_features {
        dataset.row_normalize_features();
    }
    let dataset = apply_features(&dataset, &config.features).map_err(|e| TrainError::Config(e.to_string()))?;
    config.check_memory(&dataset).map_err(TrainError::TooLarge)?;
    Ok(dataset)
}

impl CompareConfig {
    /// The model and training settings of a label-trained or distilled row: `teacher`, `mlp`,
    /// `mlp+kd`, `<family>-small`, `<family>-small+kd`.
    pub fn row_model(&self, row: &str, features: i64, classes: i64) -> (ModelConfig, TrainConfig) {
        let small = small_row_name(self.family);
        let kd = row.ends_with("+kd");
        let (spec, arch) = match row.trim_end_matches("+kd") {
            "teacher" => return (self.teacher.config(self.family, features, classes), self.teacher_training.clone()),
            "mlp" => (&self.mlp, Arch::Mlp),
            name if name == small => (&self.gcn_small, self.family),
            other => unreachable!("no row {other}"),
        };
        let settings = if kd { &self.distill_training } else { &self.student_training };
        (spec.config(arch, features, classes), settings.clone())
    }

    /// The `+kd` rows' objective against `teacher_logits`.
    pub fn kd_objective(&self, teacher_logits: tch::Tensor) -> Objective {
        match self.kd_loss {
            KdLoss::SoftTargets => Objective::soft_targets(teacher_logits, self.temperature, self.alpha),
            KdLoss::Logits => Objective::logit_matching(teacher_logits, self.alpha),
        }
    }
}

/// The name of the family's small student row: `gcn-small`, `sage-small`, ...
pub fn small_row_name(family: Arch) -> String {
    format!("{family}-small")
}

/// The rows `config.prune.rows` adds, after all the others.
fn pruned_row_names(family: Arch) -> [String; 2] {
    ["teacher-obd".to_string(), format!("{}+kd+obd", small_row_name(family))]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Student {
    Mlp,
    GcnSmall,
}

/// One row: which model (`None`: the teacher), distilled or not, with LSP or not.
struct RowPlan {
    name: String,
    student: Option<Student>,
    kd: bool,
    lsp: Option<LspKernel>,
}

/// The rows in report order; LSP rows when `config.lsp.rows`, plus one pair per ablation kernel.
fn row_plans(config: &CompareConfig) -> Vec<RowPlan> {
    let plan = |name: &str, student, kd, lsp| RowPlan { name: name.to_string(), student, kd, lsp };
    let (mlp, small, lsp) = (Some(Student::Mlp), Some(Student::GcnSmall), Some(config.lsp.kernel));
    let s = small_row_name(config.family);
    let mut plans =
        vec![plan("teacher", None, false, None), plan("mlp", mlp, false, None), plan("mlp+kd", mlp, true, None)];
    if config.lsp.rows {
        plans.push(plan("mlp+kd+lsp", mlp, true, lsp));
    }
    plans.push(plan(&s, small, false, None));
    plans.push(plan(&format!("{s}+kd"), small, true, None));
    if config.lsp.rows {
        plans.push(plan(&format!("{s}+lsp"), small, false, lsp));
        plans.push(plan(&format!("{s}+kd+lsp"), small, true, lsp));
    }
    for &kernel in &config.lsp.ablation_kernels {
        plans.push(plan(&format!("{s}+lsp[{kernel}]"), small, false, Some(kernel)));
        plans.push(plan(&format!("{s}+kd+lsp[{kernel}]"), small, true, Some(kernel)));
    }
    plans
}

impl RowPlan {
    /// The student's objective and training settings, given the teacher's outputs.
    fn objective<'c>(
        &self,
        teacher: &ModelOutput,
        config: &'c CompareConfig,
        edges: &EdgeList,
    ) -> Result<(Objective, &'c TrainConfig), TrainError> {
        let (objective, settings) = if self.kd {
            (config.kd_objective(teacher.logits.shallow_clone()), &config.distill_training)
        } else {
            (Objective::labels(), &config.student_training)
        };
        let Some(kernel) = self.lsp else { return Ok((objective, settings)) };
        let l = &config.lsp;
        let layer = checked_hidden_index(l.teacher_layer, teacher.hidden.len()).ok_or_else(|| {
            TrainError::Mismatch(format!(
                "LSP teacher layer {} does not exist ({} hidden)",
                l.teacher_layer,
                teacher.hidden.len()
            ))
        })?;
        let term = LspTerm {
            teacher_hidden: teacher.hidden[layer].shallow_clone(),
            student_layer: l.student_layer,
            edges: edges.shallow_clone(),
            kernel,
            direction: l.direction,
            weight: l.weight,
            until_epoch: l.until_epoch,
        };
        Ok((objective.with_lsp(term), settings))
    }
}

impl RowRuns {
    fn new(name: String, cfg: &ModelConfig) -> RowRuns {
        RowRuns { name, params: cfg.num_params(), runs: Runs::default(), inductive: vec![], weight_bytes: None }
    }

    /// An ensemble teacher's figures: its own accuracy, each member's, the members' summed
    /// training seconds, and the inference of all members together.
    fn record_ensemble(&mut self, ensemble: &crate::ensemble::Ensemble, members: &[Trained], graphs: &SeedGraphs) {
        self.runs.member_acc.push(members.iter().map(|m| graphs.score(m.model.as_ref()).test).collect());
        let train_s = members.iter().map(|m| m.train_seconds).sum();
        self.push(graphs.score(ensemble), train_s, ensemble, graphs);
    }

    /// An int8 model's figures (its quantization seconds as training seconds).
    fn record_int8(&mut self, quantized: &crate::quantize::Quantized, graphs: &SeedGraphs) {
        self.weight_bytes = Some(quantized.weight_bytes);
        let model = quantized.model.as_ref();
        self.push(graphs.score(model), quantized.seconds, model, graphs);
    }

    fn record(&mut self, trained: &Trained, graphs: &SeedGraphs) {
        let model = trained.model.as_ref();
        self.push(graphs.score(model), trained.train_seconds, model, graphs);
    }

    /// A pruned model's figures; its parameters are the non-zero ones.
    fn record_pruned(&mut self, pruned: &PrunedModel, graphs: &SeedGraphs) {
        self.params = pruned.params;
        let model = pruned.model.as_ref();
        let scores = if graphs.held_out() == 0 {
            // Pruning already scored its retrained model on this graph.
            Scores { test: pruned.point.test_acc, val: pruned.point.val_acc, inductive: None }
        } else {
            graphs.score(model)
        };
        self.push(scores, pruned.seconds, model, graphs);
    }

    /// One seed's figures of `model`: its scores, training seconds and warm inference time.
    fn push(&mut self, scores: Scores, train_s: f64, model: &dyn NodeModel, graphs: &SeedGraphs) {
        self.runs.test_acc.push(scores.test);
        self.runs.val_acc.push(scores.val);
        self.inductive.extend(scores.inductive);
        self.runs.train_s.push(train_s);
        self.runs.infer_ms.push(inference_ms(model, &graphs.data, 2, 7));
    }

    fn finish(self) -> CompareRow {
        let (mean, std) = mean_std(&self.runs.test_acc);
        let inductive = (!self.inductive.is_empty()).then(|| {
            let (tran_acc, ind_acc): (Vec<f64>, Vec<f64>) = self.inductive.iter().copied().unzip();
            let ((tran_mean, tran_std), (ind_mean, ind_std)) = (mean_std(&tran_acc), mean_std(&ind_acc));
            InductiveScores {
                tran_acc,
                tran_mean,
                tran_std,
                ind_acc,
                ind_mean,
                ind_std,
                prod_mean: mean,
                prod_std: std,
            }
        });
        let columns = GraphColumns {
            val_acc: self.runs.val_acc.clone(),
            val_mean: self.runs.val_mean(),
            train_s: self.runs.train_s(),
            infer_ms: self.runs.infer_ms(),
            inductive,
            ensemble: self.runs.ensemble(),
            weight_bytes: self.weight_bytes,
        };
        self.runs.row(self.name, None, self.params, columns)
    }
}
