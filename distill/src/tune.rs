//! A seeded random search of training recipes for a comparison, chosen on validation accuracy
//! only: a graph the defaults were not chosen on (Amazon, a user's own) gets settings that fit it.
//!
//! Four stages, each `trials` settings (the first is always the current one, so tuning never
//! ends below it on validation): the teacher (learning rate, weight decay, dropout, width,
//! feature normalisation, epochs and patience), the MLP student from labels (the same knobs, its
//! training shared with the small student's), then distillation (temperature, alpha, learning
//! rate, weight decay of the `+kd` rows) against the best teacher, then the small student's
//! dropout on its row from labels (its width stays the recipe's). Every trial trains at the
//! comparison's first seed on its first split; the test split is emptied first, so no trial can
//! read a test label.

use gdistill_datasets::NodeDataset;
use gdistill_models::Arch;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::compare::{CompareConfig, Progress};
use crate::{train, GraphData, Objective, TrainConfig, TrainError};

/// How much to search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// Settings tried per stage (teacher, student, distillation).
    pub trials: usize,
    /// Seed of the search's draws (training itself uses the comparison's first seed).
    pub seed: u64,
}

impl TuneConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.trials == 0 {
            return Err("the tuning budget must be at least 1 trial per stage".into());
        }
        Ok(())
    }
}

/// One setting tried.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuneTrial {
    pub stage: String,
    /// The settings this trial changed, as `key = value` pairs of the config.
    pub settings: Vec<(String, String)>,
    pub val_acc: f64,
}

/// Every trial, in order, and the settings chosen per stage.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TuneReport {
    pub trials: Vec<TuneTrial>,
    pub chosen: Vec<TuneTrial>,
}

const LR: [f64; 4] = [0.001, 0.005, 0.01, 0.02];
const DECAY: [f64; 4] = [0.0, 5e-5, 5e-4, 5e-3];
const DROPOUT: [f64; 4] = [0.2, 0.4, 0.5, 0.6];
/// Training length as multiples of the recipe's epochs: 200 gives 200, 500 or 1000 epochs.
const LENGTH: [f64; 3] = [1.0, 2.5, 5.0];
const TEMPERATURE: [f64; 4] = [1.0, 2.0, 4.0, 8.0];
const ALPHA: [f64; 3] = [0.0, 0.1, 0.5];

/// Tunes `config` on `dataset` (as handed to [`crate::compare::compare`]) and returns the chosen
/// config (its `tune` cleared, so that saving and reusing it reruns nothing) and the trials.
pub fn tune(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
) -> Result<(CompareConfig, TuneReport), TrainError> {
    let Some(tune) = &config.tune else { return Ok((config.clone(), TuneReport::default())) };
    tune.validate().map_err(TrainError::Config)?;
    let mut rng = ChaCha8Rng::seed_from_u64(tune.seed);
    let mut best = config.clone();
    best.tune = None;
    let mut report = TuneReport::default();
    let normalizable = dataset.has_nonnegative_features();
    // The data with and without row normalisation, each built when first needed.
    let mut prepared: [Option<GraphData>; 2] = [None, None];
    let ensure = |prepared: &mut [Option<GraphData>; 2], normalize: bool| -> Result<usize, TrainError> {
        let k = normalize as usize;
        if prepared[k].is_none() {
            prepared[k] = Some(validation_only_data(dataset, config, normalize, device)?);
        }
        Ok(k)
    };
    let runs = 4 * tune.trials;
    let mut run = 0;
    let mut step = |stage: &str,
                    row: &str,
                    candidate: &CompareConfig,
                    objective: &Objective,
                    data: &GraphData,
                    progress: &mut dyn FnMut(Progress)|
     -> Result<(f64, Option<Tensor>), TrainError> {
        progress(Progress::RunStarted { row: stage, seed: candidate.first_seed, run, runs });
        run += 1;
        let (cfg, settings) = candidate.row_model(row, data.num_features(), data.num_classes);
        let settings = TrainConfig { seed: candidate.first_seed, ..settings };
        let trained =
            train(&cfg, data, objective, &settings, &mut |stats| progress(Progress::Epoch { row: stage, stats }))?;
        let logits = (row == "teacher").then(|| crate::predict(trained.model.as_ref(), data));
        Ok((trained.best_val_acc, logits))
    };

    // Stage 1: the teacher, and with it feature normalisation.
    let mut teacher_logits = None;
    let mut best_acc = f64::NEG_INFINITY;
    for trial in 0..tune.trials {
        let mut candidate = best.clone();
        let mut changed = Vec::new();
        if trial > 0 {
            let widths: &[i64] = if config.family == Arch::Gat { &[8, 16] } else { &[64, 128, 256] };
            let base = config.teacher_training.epochs;
            let epochs = (base as f64 * LENGTH.choose(&mut rng).expect("non-empty")).round() as usize;
            // Patience half the recipe's length, as 100 of 200 epochs; a fifth for the longest runs.
            let patience = (base / 2).max(epochs / 5).max(1);
            let t = &mut candidate.teacher_training;
            t.lr = *LR.choose(&mut rng).expect("non-empty");
            t.weight_decay = *DECAY.choose(&mut rng).expect("non-empty");
            (t.epochs, t.patience) = (epochs, Some(patience));
            candidate.teacher.dropout = *DROPOUT.choose(&mut rng).expect("non-empty");
            candidate.teacher.hidden = *widths.choose(&mut rng).expect("non-empty");
            if normalizable {
                candidate.normalize_features = rand::Rng::random::<bool>(&mut rng);
            }
            changed = vec![
                ("teacher_training.lr", t.lr.to_string()),
                ("teacher_training.weight_decay", t.weight_decay.to_string()),
                ("teacher_training.epochs", epochs.to_string()),
                ("teacher_training.patience", patience.to_string()),
                ("teacher.dropout", candidate.teacher.dropout.to_string()),
                ("teacher.hidden", candidate.teacher.hidden.to_string()),
                ("normalize_features", candidate.normalize_features.to_string()),
            ];
        }
        let k = ensure(&mut prepared, candidate.normalize_features)?;
        let data = prepared[k].as_ref().expect("ensured");
        let (acc, logits) = step("tune teacher", "teacher", &candidate, &Objective::labels(), data, progress)?;
        if record(&mut report, "teacher", changed, acc, &mut best_acc) {
            best = candidate;
            teacher_logits = logits;
        }
    }
    let k = ensure(&mut prepared, best.normalize_features)?;
    let data = prepared[k].as_ref().expect("ensured");

    // Stage 2: the students' training from labels, on the MLP row.
    let mut best_acc = f64::NEG_INFINITY;
    let base = best.clone();
    for trial in 0..tune.trials {
        let mut candidate = base.clone();
        let mut changed = Vec::new();
        if trial > 0 {
            let s = &mut candidate.student_training;
            s.lr = *LR.choose(&mut rng).expect("non-empty");
            s.weight_decay = *DECAY.choose(&mut rng).expect("non-empty");
            candidate.mlp.dropout = *DROPOUT.choose(&mut rng).expect("non-empty");
            candidate.mlp.hidden = *[64, 128, 256].choose(&mut rng).expect("non-empty");
            changed = vec![
                ("student_training.lr", s.lr.to_string()),
                ("student_training.weight_decay", s.weight_decay.to_string()),
                ("mlp.dropout", candidate.mlp.dropout.to_string()),
                ("mlp.hidden", candidate.mlp.hidden.to_string()),
            ];
        }
        let (acc, _) = step("tune student", "mlp", &candidate, &Objective::labels(), data, progress)?;
        if record(&mut report, "student", changed, acc, &mut best_acc) {
            best = candidate;
        }
    }

    // Stage 3: distillation, on the mlp+kd row, against the chosen teacher.
    let teacher_logits = teacher_logits.expect("the first teacher trial is always kept or beaten");
    let mut best_acc = f64::NEG_INFINITY;
    let base = best.clone();
    for trial in 0..tune.trials {
        let mut candidate = base.clone();
        let mut changed = Vec::new();
        if trial > 0 {
            candidate.temperature = *TEMPERATURE.choose(&mut rng).expect("non-empty");
            candidate.alpha = *ALPHA.choose(&mut rng).expect("non-empty");
            let d = &mut candidate.distill_training;
            d.lr = *LR.choose(&mut rng).expect("non-empty");
            d.weight_decay = *DECAY.choose(&mut rng).expect("non-empty");
            changed = vec![
                ("temperature", candidate.temperature.to_string()),
                ("alpha", candidate.alpha.to_string()),
                ("distill_training.lr", d.lr.to_string()),
                ("distill_training.weight_decay", d.weight_decay.to_string()),
            ];
        }
        let objective = candidate.kd_objective(teacher_logits.shallow_clone());
        let (acc, _) = step("tune distillation", "mlp+kd", &candidate, &objective, data, progress)?;
        if record(&mut report, "distillation", changed, acc, &mut best_acc) {
            best = candidate;
        }
    }

    // Stage 4: the small student's dropout, on its row from labels. Its width stays the
    // recipe's (what makes it small); dropout is what decides whether a class-count-wide layer
    // trains at all (a width-10 GCN on Amazon Computers: 0.59 at 0.5, 0.78 at 0.2 on one seed).
    // Last, so that the earlier stages draw what they drew before it existed.
    let small = crate::compare::small_row_name(config.family);
    let mut best_acc = f64::NEG_INFINITY;
    let base = best.clone();
    for trial in 0..tune.trials {
        let mut candidate = base.clone();
        let mut changed = Vec::new();
        if trial > 0 {
            candidate.gcn_small.dropout = *DROPOUT.choose(&mut rng).expect("non-empty");
            changed = vec![("gcn_small.dropout", candidate.gcn_small.dropout.to_string())];
        }
        let (acc, _) = step("tune small student", &small, &candidate, &Objective::labels(), data, progress)?;
        if record(&mut report, "small student", changed, acc, &mut best_acc) {
            best = candidate;
        }
    }
    Ok((best, report))
}

/// Logs a trial; true when it beats the stage's best so far (ties keep the earlier trial).
fn record(report: &mut TuneReport, stage: &str, changed: Vec<(&str, String)>, val_acc: f64, best: &mut f64) -> bool {
    let settings = changed.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let trial = TuneTrial { stage: stage.to_string(), settings, val_acc };
    report.trials.push(trial.clone());
    if val_acc > *best {
        *best = val_acc;
        report.chosen.retain(|t| t.stage != stage);
        report.chosen.push(trial);
        true
    } else {
        false
    }
}

/// The comparison's data at its first seed's split with the test nodes removed: what a trial
/// sees holds no test label.
fn validation_only_data(
    dataset: &NodeDataset,
    config: &CompareConfig,
    normalize: bool,
    device: Device,
) -> Result<GraphData, TrainError> {
    let prepared =
        crate::compare::prepare_dataset(dataset, &CompareConfig { normalize_features: normalize, ..config.clone() })?;
    let split = gdistill_datasets::apply_split(&prepared, &config.split, config.first_seed)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    // Inductively, the held-out nodes and their edges stay unseen by the search too.
    let mut split = config.setting.observed(&split, config.first_seed)?;
    split.test.clear();
    Ok(GraphData::new(&split, device, crate::FeatureLayout::Auto)?)
}
