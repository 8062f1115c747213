//! A seeded random search of training recipes for a comparison, chosen on validation accuracy
//! only: a graph the defaults were not chosen on (Amazon, a user's own) gets settings that fit it.
//!
//! Four stages, each `trials` settings (the first is always the current one, so tuning never
//! ends below it on validation): the teacher (learning rate, weight decay, dropout, width,
//! feature normalisation, epochs and patience), the MLP student from labels (the same knobs),
//! then distillation (temperature, alpha, learning rate, weight decay and length of the `+kd`
//! rows, and the MLP's width) against the best teacher, then the small student's own training
//! (learning rate at most the recipe's, weight decay) and dropout on its row from labels (its
//! width stays the recipe's). Every trial trains at the comparison's first seed on its first
//! split; the test split is emptied first, so no trial can read a test label.

use gdistill_datasets::NodeDataset;
use gdistill_models::Arch;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use crate::compare::{CompareConfig, Progress};
use crate::journal::{self, NoLog, RunLog, TrialFigures};
use crate::{train, GraphData, Objective, TrainConfig, TrainError};

/// How much to search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// Settings tried per stage (teacher, student, distillation, small student).
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
    tune_resumable(dataset, config, device, progress, &mut NoLog)
}

/// [`tune`], replaying the trials `log` recorded and recording each one it finishes. The draws
/// are made again (they come from the search's own generator, in order), so only the training
/// is skipped; a trial trains at the first seed, reseeded, so its score does not depend on the
/// trials before it.
pub fn tune_resumable(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
    log: &mut dyn RunLog,
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

    let pick = |rng: &mut ChaCha8Rng, values: &[f64]| *values.choose(rng).expect("non-empty");

    // Stage 1: the teacher, and with it feature normalisation.
    let draw_teacher = |c: &mut CompareConfig, rng: &mut ChaCha8Rng| {
        let widths: &[i64] = if config.family == Arch::Gat { &[8, 16] } else { &[64, 128, 256] };
        let base = config.teacher_training.epochs;
        let epochs = (base as f64 * pick(rng, &LENGTH)).round() as usize;
        // Patience half the recipe's length, as 100 of 200 epochs; a fifth for the longest runs.
        let patience = (base / 2).max(epochs / 5).max(1);
        let t = &mut c.teacher_training;
        t.lr = pick(rng, &LR);
        t.weight_decay = pick(rng, &DECAY);
        (t.epochs, t.patience) = (epochs, Some(patience));
        c.teacher.dropout = pick(rng, &DROPOUT);
        c.teacher.hidden = *widths.choose(rng).expect("non-empty");
        if normalizable {
            c.normalize_features = rand::Rng::random::<bool>(rng);
        }
        vec![
            ("teacher_training.lr", t.lr.to_string()),
            ("teacher_training.weight_decay", t.weight_decay.to_string()),
            ("teacher_training.epochs", epochs.to_string()),
            ("teacher_training.patience", patience.to_string()),
            ("teacher.dropout", c.teacher.dropout.to_string()),
            ("teacher.hidden", c.teacher.hidden.to_string()),
            ("normalize_features", c.normalize_features.to_string()),
        ]
    };
    let score_teacher = |c: &CompareConfig| {
        let k = ensure(&mut prepared, c.normalize_features)?;
        step("tune teacher", "teacher", c, &Objective::labels(), prepared[k].as_ref().expect("ensured"), progress)
    };
    let mut score_teacher = score_teacher;
    let stage = Stage { name: "teacher", trials: tune.trials };
    let (best, teacher_logits) = stage.search(&best, &mut report, &mut rng, draw_teacher, &mut score_teacher, log)?;
    // The chosen teacher's logits, which distillation trials read: trained again when its trial
    // was replayed and a distillation trial is still to run.
    let distilled = (0..tune.trials).all(|k| log.recorded(&trial_key("distillation", k)).is_some());
    let teacher_logits = match teacher_logits.flatten() {
        Some(logits) => logits,
        None if distilled => Tensor::zeros([0], (tch::Kind::Float, device)),
        None => score_teacher(&best)?.1.expect("a teacher trial returns its logits"),
    };
    let k = ensure(&mut prepared, best.normalize_features)?;
    let data = prepared[k].as_ref().expect("ensured");

    // Stage 2: the students' training from labels, on the MLP row.
    let draw_student = |c: &mut CompareConfig, rng: &mut ChaCha8Rng| {
        let s = &mut c.student_training;
        s.lr = pick(rng, &LR);
        s.weight_decay = pick(rng, &DECAY);
        c.mlp.dropout = pick(rng, &DROPOUT);
        c.mlp.hidden = *[64, 128, 256].choose(rng).expect("non-empty");
        vec![
            ("student_training.lr", s.lr.to_string()),
            ("student_training.weight_decay", s.weight_decay.to_string()),
            ("mlp.dropout", c.mlp.dropout.to_string()),
            ("mlp.hidden", c.mlp.hidden.to_string()),
        ]
    };
    let score_student = |c: &CompareConfig| step("tune student", "mlp", c, &Objective::labels(), data, progress);
    let stage = Stage { name: "student", trials: tune.trials };
    let (best, _) = stage.search(&best, &mut report, &mut rng, draw_student, score_student, log)?;

    // Stage 3: distillation, on the mlp+kd row, against the chosen teacher.
    // Also its length and the MLP's width: a student fitting soft targets on every node has more
    // to learn than one fitting 20 labels per class, and on Amazon Computers the best
    // distillation trial ran at the lowest learning rate for the recipe's whole length. The
    // width is the MLP's for both rows, so `mlp` and `mlp+kd` still differ only by the teacher.
    let draw_distillation = |c: &mut CompareConfig, rng: &mut ChaCha8Rng| {
        c.temperature = pick(rng, &TEMPERATURE);
        c.alpha = pick(rng, &ALPHA);
        let base = config.distill_training.epochs;
        let epochs = (base as f64 * pick(rng, &LENGTH)).round() as usize;
        let patience = config.distill_training.patience.unwrap_or(base / 4).max(epochs / 5).max(1);
        let d = &mut c.distill_training;
        d.lr = pick(rng, &LR);
        d.weight_decay = pick(rng, &DECAY);
        (d.epochs, d.patience) = (epochs, Some(patience));
        c.mlp.hidden = *[128, 256, 512].choose(rng).expect("non-empty");
        vec![
            ("temperature", c.temperature.to_string()),
            ("alpha", c.alpha.to_string()),
            ("distill_training.lr", d.lr.to_string()),
            ("distill_training.weight_decay", d.weight_decay.to_string()),
            ("distill_training.epochs", epochs.to_string()),
            ("distill_training.patience", patience.to_string()),
            ("mlp.hidden", c.mlp.hidden.to_string()),
        ]
    };
    let score_distillation = |c: &CompareConfig| {
        let objective = c.kd_objective(teacher_logits.shallow_clone());
        step("tune distillation", "mlp+kd", c, &objective, data, progress)
    };
    let stage = Stage { name: "distillation", trials: tune.trials };
    let (best, _) = stage.search(&best, &mut report, &mut rng, draw_distillation, score_distillation, log)?;

    // Stage 4: the small student's own training and dropout, on its row from labels, starting
    // from the recipe's student training (stage 2 tuned that on the MLP row only). Its width
    // stays the recipe's (what makes it small), and its learning rate never exceeds the
    // recipe's: above it, class-wide students on dense raw features lose every ReLU on some
    // seeds (Amazon Photo at 0.005: 3 of 10), which a search on one seed cannot see. Last, so
    // that the earlier stages draw what they drew before it existed.
    let small = crate::compare::small_row_name(config.family);
    let small_lrs: Vec<f64> = LR.into_iter().filter(|&lr| lr <= config.student_training.lr).collect();
    let small_lrs = if small_lrs.is_empty() { vec![config.student_training.lr] } else { small_lrs };
    let draw_small = |c: &mut CompareConfig, rng: &mut ChaCha8Rng| {
        let t = c.small_training.as_mut().expect("set from the recipe below");
        t.lr = pick(rng, &small_lrs);
        t.weight_decay = pick(rng, &DECAY);
        c.gcn_small.dropout = pick(rng, &DROPOUT);
        vec![
            ("small_training.lr", t.lr.to_string()),
            ("small_training.weight_decay", t.weight_decay.to_string()),
            ("gcn_small.dropout", c.gcn_small.dropout.to_string()),
        ]
    };
    let score_small = |c: &CompareConfig| step("tune small student", &small, c, &Objective::labels(), data, progress);
    let stage = Stage { name: "small student", trials: tune.trials };
    let base = CompareConfig { small_training: Some(config.small_training().clone()), ..best };
    let (best, _) = stage.search(&base, &mut report, &mut rng, draw_small, score_small, log)?;
    Ok((best, report))
}

/// One stage of the search: `trials` settings, the first the current one.
struct Stage {
    name: &'static str,
    trials: usize,
}

impl Stage {
    /// Scores `base`, then `trials - 1` candidates that `draw` makes from it (returning what it
    /// changed, for the report); returns the best on validation (ties keep the earlier) and what
    /// its score carried (`None` when its trial was replayed from `log`).
    fn search<T>(
        &self,
        base: &CompareConfig,
        report: &mut TuneReport,
        rng: &mut ChaCha8Rng,
        mut draw: impl FnMut(&mut CompareConfig, &mut ChaCha8Rng) -> Vec<(&'static str, String)>,
        mut score: impl FnMut(&CompareConfig) -> Result<(f64, T), TrainError>,
        log: &mut dyn RunLog,
    ) -> Result<(CompareConfig, Option<T>), TrainError> {
        let mut best: Option<(CompareConfig, Option<T>)> = None;
        let mut best_acc = f64::NEG_INFINITY;
        for trial in 0..self.trials {
            let mut candidate = base.clone();
            let changed = if trial > 0 { draw(&mut candidate, rng) } else { Vec::new() };
            let settings: Vec<(String, String)> = changed.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let key = trial_key(self.name, trial);
            let (acc, carried) = match log.recorded(&key) {
                Some(recorded) => {
                    let figures: TrialFigures = recorded.decode()?;
                    if figures.settings != settings {
                        return Err(TrainError::Config(format!(
                            "{}: {key} tried {:?}, but this run draws {settings:?}: the journal is of another search",
                            recorded.at, figures.settings
                        )));
                    }
                    (figures.val_acc, None)
                }
                None => {
                    let (acc, carried) = score(&candidate)?;
                    journal::record(log, &key, &TrialFigures { settings: settings.clone(), val_acc: acc })?;
                    (acc, Some(carried))
                }
            };
            if record(report, self.name, settings, acc, &mut best_acc) || best.is_none() {
                best = Some((candidate, carried));
            }
        }
        Ok(best.expect("a stage runs at least one trial"))
    }
}

/// Logs a trial; true when it beats the stage's best so far (ties keep the earlier trial).
fn record(report: &mut TuneReport, stage: &str, settings: Vec<(String, String)>, val_acc: f64, best: &mut f64) -> bool {
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

/// The journal key of a stage's `trial`th trial (from 0).
fn trial_key(stage: &str, trial: usize) -> String {
    format!("trial {stage} {trial}")
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
    let deepwalk = crate::compare::inductive_deepwalk(config);
    let mut split = config.setting.observed_with(&split, config.first_seed, deepwalk.as_ref())?;
    split.test.clear();
    Ok(GraphData::new(&split, device, crate::FeatureLayout::Auto)?)
}
