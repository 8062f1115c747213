//! A seeded random search of training recipes for a comparison, chosen on validation accuracy
//! only: a graph the defaults were not chosen on (Amazon, a user's own) gets settings that fit it.
//!
//! Four stages, each `trials` settings (the first is always the current one, so tuning never
//! ends below it on validation): the teacher (learning rate, weight decay, dropout, width,
//! feature normalisation, epochs and patience), the MLP student from labels (the same knobs),
//! then distillation (temperature, alpha, learning rate, weight decay and length of the `+kd`
//! rows, and the MLP's width) against the best teacher, then the small student's own training
//! (learning rate at most the recipe's, weight decay) and dropout on its row from labels (its
//! width stays the recipe's; without small-student rows this stage is skipped). Every trial
//! trains at the comparison's first seed on its first split; the test split is emptied first, so
//! no trial can read a test label. The MLP's two stages read the MLP's own features where the
//! config gives them (`mlp_features`, NOSMOG's position features), as its rows do.
//!
//! Each stage runs its trials under a [`TuneSchedule`]: `full` trains every trial for its whole
//! length; `halving` (the default) is successive halving (Jamieson & Talwalkar 2016; Li et al.'s
//! Hyperband bracket with the most configurations), the resource being epochs: every trial first
//! trains at most a short budget (a fraction of the stage's longest trial, the same for all, so
//! that trials are compared after as many epochs: a fraction of each trial's own length would
//! cut a 200-epoch recipe at 23 epochs while 500-epoch draws got 56), each rung keeps the best
//! `1/eta` by validation accuracy and the next rung trains them for `eta` times the budget, until
//! one trial runs its full length. A drawn length below the budget caps the run as it always did.
//! A kept trial resumes where its run stopped ([`ResumableRun`]: weights, Adam's moments and the
//! early-stopping record stay in memory), so it trains only the epochs it has not trained yet. A
//! run that ended inside its budget (its own length, or early stopping) is final: a survivor's
//! next rung reuses it. Only the scores go to the journal; a killed search `--resume`d retrains
//! a kept trial's earlier rungs before going on, reseeded at each rung as the uninterrupted run
//! was, and so ends bit for bit where that run did.

use gdistill_datasets::{FeatureSpec, NodeDataset};
use gdistill_models::Arch;
use rand::seq::IndexedRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::compare::{CompareConfig, Progress};
use crate::journal::{self, NoLog, RunLog, TrialFigures};
use crate::training::resumable::ResumableRun;
use crate::{GraphData, Objective, TrainConfig, TrainError};
use std::time::Instant;

/// How much to search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// Settings tried per stage (teacher, student, distillation, small student).
    pub trials: usize,
    /// Seed of the search's draws (training itself uses the comparison's first seed).
    pub seed: u64,
    /// How the trials of a stage share their epochs: successive halving unless set.
    #[serde(default)]
    pub schedule: TuneSchedule,
    /// Halving's rate: each rung keeps the best `1/eta` of its trials (rounded down, at least
    /// one) and trains them for `eta` times the epochs. Ignored by `full`.
    #[serde(default = "default_eta")]
    pub eta: usize,
}

/// The default halving rate. With rungs retrained from scratch, a stage of `N` trials at rate
/// `eta` trains about `N/eta^R + N/eta^(R-1) + ... + 1` full lengths (`R` rungs of halving):
/// 2.6 of 8 at `eta` = 3 against 4 of 8 at 2, while a trial still gets a ninth of its epochs,
/// not an eighth, before the first cut (3 is also Li et al.'s Hyperband default).
pub const DEFAULT_ETA: usize = 3;

fn default_eta() -> usize {
    DEFAULT_ETA
}

/// How a stage spends its epochs on its trials.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TuneSchedule {
    /// Successive halving: short runs for all, the full length for the best.
    #[default]
    Halving,
    /// Every trial trains its full length (the search before halving).
    Full,
}

impl std::str::FromStr for TuneSchedule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "halving" => Ok(TuneSchedule::Halving),
            "full" => Ok(TuneSchedule::Full),
            _ => Err(format!("unknown tuning schedule {s:?}: expected halving or full")),
        }
    }
}

impl TuneConfig {
    /// `trials` per stage under successive halving at the default rate, seed 0.
    pub fn new(trials: usize) -> TuneConfig {
        TuneConfig { trials, seed: 0, schedule: TuneSchedule::Halving, eta: DEFAULT_ETA }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.trials == 0 {
            return Err("the tuning budget must be at least 1 trial per stage".into());
        }
        if self.eta < 2 {
            return Err(format!("tune.eta must be at least 2 (each rung keeps 1/eta of its trials), got {}", self.eta));
        }
        Ok(())
    }

    /// The rungs a stage runs under this config.
    pub fn rungs(&self) -> Vec<RungPlan> {
        match self.schedule {
            TuneSchedule::Full => vec![RungPlan { trials: self.trials, divisor: 1 }],
            TuneSchedule::Halving => halving_rungs(self.trials, self.eta),
        }
    }
}

/// One rung of a stage: how many trials run, each for at most `ceil(longest / divisor)` epochs
/// (`longest`: the stage's longest trial) and at most its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RungPlan {
    pub trials: usize,
    pub divisor: usize,
}

/// Successive halving's rungs for `trials` trials at rate `eta` (>= 2): rung `i + 1` keeps
/// `max(1, floor(n_i / eta))` of rung `i`'s `n_i` trials, the last rung is the first with a single
/// trial and trains it for its full length, and each rung before it trains `eta` times fewer
/// epochs than the next. 8 trials at 3: 8 at a ninth, 2 at a third, 1 at full length.
pub fn halving_rungs(trials: usize, eta: usize) -> Vec<RungPlan> {
    let mut counts = vec![trials.max(1)];
    while *counts.last().expect("non-empty") > 1 {
        let n = *counts.last().expect("non-empty");
        counts.push((n / eta).max(1));
    }
    let last = counts.len() - 1;
    counts.into_iter().enumerate().map(|(i, n)| RungPlan { trials: n, divisor: eta.pow((last - i) as u32) }).collect()
}

/// A rung's epoch budget when the stage's longest trial is `longest` epochs:
/// `ceil(longest / divisor)`, at least 1.
pub fn rung_epochs(longest: usize, divisor: usize) -> usize {
    longest.div_ceil(divisor.max(1)).max(1)
}

/// The `keep` best of a rung's `(trial, val_acc)` scores, best first: validation accuracy only,
/// higher first, ties (and NaN, ranked last) to the lower trial index, so the recipe as given
/// (trial 0) wins a tie as it did before halving.
pub fn survivors(scores: &[(usize, f64)], keep: usize) -> Vec<usize> {
    let mut ranked = scores.to_vec();
    let key = |acc: f64| if acc.is_nan() { f64::NEG_INFINITY } else { acc };
    ranked.sort_by(|(ta, a), (tb, b)| key(*b).total_cmp(&key(*a)).then(ta.cmp(tb)));
    ranked.into_iter().take(keep).map(|(t, _)| t).collect()
}

/// One setting tried.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuneTrial {
    pub stage: String,
    /// The settings this trial changed, as `key = value` pairs of the config.
    pub settings: Vec<(String, String)>,
    /// Its validation accuracy at the last rung it ran (the only one under `full`).
    pub val_acc: f64,
    /// Its index in its stage (0: the recipe as given).
    #[serde(default)]
    pub trial: usize,
    /// The last rung it ran (0 under `full`).
    #[serde(default)]
    pub rung: usize,
}

/// One rung of one stage: each run's score and epochs, and the trials it kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TuneRung {
    pub stage: String,
    pub rung: usize,
    pub divisor: usize,
    /// Its runs' budget, `ceil(longest / divisor)` epochs (a trial's own length caps its run).
    pub epochs: usize,
    pub runs: Vec<RungRun>,
    /// The trials that go on to the next rung, best first; at the last rung, the chosen one.
    pub kept: Vec<usize>,
}

/// One trial's run at a rung.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RungRun {
    pub trial: usize,
    pub val_acc: f64,
    /// Epochs trained at this rung: 0 when its run of an earlier rung was final and reused; a
    /// resumed run counts the epochs it added.
    pub epochs_run: usize,
    /// Epochs its run had trained in all when this rung ended.
    #[serde(default)]
    pub epochs_total: usize,
    /// The run ended inside its budget (its own length or early stopping): a longer budget
    /// would train the same epochs, so later rungs reuse it.
    pub complete: bool,
}

/// Every trial, in order, the settings chosen per stage, and how the schedule spent its epochs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TuneReport {
    pub trials: Vec<TuneTrial>,
    pub chosen: Vec<TuneTrial>,
    #[serde(default)]
    pub schedule: TuneSchedule,
    #[serde(default)]
    pub eta: usize,
    #[serde(default)]
    pub rungs: Vec<TuneRung>,
    /// Epochs trained by every run of every stage (the search's cost in epochs, independent of
    /// the machine's load; replayed runs count the epochs they recorded, and a `--resume`d
    /// search's retraining of a kept run's earlier rungs is not counted).
    #[serde(default)]
    pub trial_epochs: usize,
    /// Wall seconds of the search in the process that finished it (one resumed in its middle
    /// counts only its own part).
    #[serde(default)]
    pub train_s: f64,
}

/// The journal key of the search's wall seconds.
const SEARCH_SECONDS: &str = "search seconds";

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
    tune_part(dataset, config, device, progress, log, SearchPart::WHOLE)
}

/// Which stages a search trains. A stage left out still draws its candidates, so that the
/// stages after it draw what they draw in the whole search, and passes its base on untrained.
/// Every stage after the teacher's reads its choice of feature normalisation: without the
/// teacher's stage, they train on the recipe's.
///
/// The MLP's two stages and the small student's do not read each other: the small student's
/// trials train its own row from labels, on its own recipe, with the teacher stage's data. So
/// `compare --jobs` runs them side by side, in two processes sharing one journal (each records
/// its trials, which the whole search then replays): [`SearchPart::TEACHER`] then
/// [`SearchPart::MLP`] in one, [`SearchPart::SMALL_AHEAD`] in the other from the start (its
/// trials stand if the teacher's stage keeps the recipe's normalisation; if not, they are
/// dropped and [`SearchPart::SMALL`] runs after the teacher's stage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchPart {
    /// The teacher's stage (the MLP's stages need it: distillation reads the chosen teacher).
    pub teacher: bool,
    /// The MLP's stages: from labels, then distillation.
    pub mlp: bool,
    /// The small student's stage.
    pub small: bool,
}

impl SearchPart {
    /// Every stage: the search as [`tune_resumable`] runs it.
    pub const WHOLE: SearchPart = SearchPart { teacher: true, mlp: true, small: true };
    /// The teacher's stage alone.
    pub const TEACHER: SearchPart = SearchPart { teacher: true, mlp: false, small: false };
    /// The teacher's stage (replayed) and the MLP's.
    pub const MLP: SearchPart = SearchPart { teacher: true, mlp: true, small: false };
    /// The teacher's stage (replayed) and the small student's.
    pub const SMALL: SearchPart = SearchPart { teacher: true, mlp: false, small: true };
    /// The small student's stage on the recipe's feature normalisation, before the teacher's
    /// stage has chosen one.
    pub const SMALL_AHEAD: SearchPart = SearchPart { teacher: false, mlp: false, small: true };
}

/// Records the search's wall seconds in `log` when a search run in parts (`compare --jobs`)
/// has ended; the whole search, replayed next, reports them instead of its replay's. A search
/// that recorded its seconds before keeps them.
pub fn record_search_seconds(log: &mut dyn RunLog, seconds: f64) -> Result<(), TrainError> {
    if journal::replay::<f64>(log, SEARCH_SECONDS)?.is_none() {
        journal::record(log, SEARCH_SECONDS, &seconds)?;
    }
    Ok(())
}

/// Whether `log` holds a search that ended (its seconds recorded): replaying it trains nothing.
pub fn search_recorded(log: &dyn RunLog) -> Result<bool, TrainError> {
    Ok(journal::replay::<f64>(log, SEARCH_SECONDS)?.is_some())
}

/// The stages of the search `part` names (see [`SearchPart`]); the whole search, with its
/// report, under [`SearchPart::WHOLE`]. A part records its trials but not the search's seconds.
pub fn tune_part(
    dataset: &NodeDataset,
    config: &CompareConfig,
    device: Device,
    progress: &mut dyn FnMut(Progress),
    log: &mut dyn RunLog,
    part: SearchPart,
) -> Result<(CompareConfig, TuneReport), TrainError> {
    let Some(tune) = &config.tune else { return Ok((config.clone(), TuneReport::default())) };
    tune.validate().map_err(TrainError::Config)?;
    if part.mlp && !part.teacher {
        return Err(TrainError::Config("the MLP's tuning stages need the teacher's stage".into()));
    }
    let (trials, schedule) = (tune.trials, tune.schedule);
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(tune.seed);
    let mut best = config.clone();
    best.tune = None;
    let mut report = TuneReport { schedule: tune.schedule, eta: tune.eta, ..TuneReport::default() };
    let plan = tune.rungs();
    let normalizable = dataset.has_nonnegative_features();
    // The data with and without row normalisation, each built when first needed.
    let mut prepared: [Option<GraphData>; 2] = [None, None];
    let ensure = |prepared: &mut [Option<GraphData>; 2], normalize: bool| -> Result<usize, TrainError> {
        let k = normalize as usize;
        if prepared[k].is_none() {
            prepared[k] = Some(validation_only_data(dataset, config, config.features, normalize, device)?);
        }
        Ok(k)
    };
    let runs = 4 * plan.iter().map(|r| r.trials).sum::<usize>();
    let mut run = 0;
    // Trains `candidate`'s `row` through the rungs' epoch `budgets` (each at most its own
    // length): only the last when `resumed` carries its run so far, all of them from scratch
    // when not (a run replayed from the journal), so that both end alike.
    let mut step = |stage: &str,
                    row: &str,
                    candidate: &CompareConfig,
                    objective: &Objective,
                    data: &GraphData,
                    resumed: Option<ResumableRun>,
                    budgets: &[usize],
                    progress: &mut dyn FnMut(Progress)|
     -> Result<ResumableRun, TrainError> {
        progress(Progress::RunStarted { row: stage, seed: candidate.first_seed, run, runs });
        run += 1;
        let (mut trained, pending) = match resumed {
            Some(trained) => (trained, &budgets[budgets.len() - 1..]),
            None => {
                let (cfg, settings) = candidate.row_model(row, data.num_features(), data.num_classes);
                let settings = TrainConfig { seed: candidate.first_seed, ..settings };
                (ResumableRun::start(&cfg, data, objective, &settings)?, budgets)
            }
        };
        for &until in pending {
            trained.advance(data, objective, until, &mut |stats| progress(Progress::Epoch { row: stage, stats }))?;
        }
        Ok(trained)
    };
    // A finished teacher run's logits, which distillation trials read.
    let logits_of = |trained: ResumableRun, data: &GraphData| {
        let trained = trained.finish();
        crate::predict(trained.model.as_ref(), data)
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
    let score_teacher = |c: &CompareConfig, resumed: Option<ResumableRun>, budgets: &[usize]| {
        let k = ensure(&mut prepared, c.normalize_features)?;
        let data = prepared[k].as_ref().expect("ensured");
        step("tune teacher", "teacher", c, &Objective::labels(), data, resumed, budgets, progress)
    };
    let stage = Stage { name: "teacher", row: "teacher", trials, schedule, plan: &plan, train: part.teacher };
    let (best, teacher_run, teacher_budgets) =
        stage.search(&best, &mut report, &mut rng, draw_teacher, score_teacher, log)?;
    let k = ensure(&mut prepared, best.normalize_features)?;
    let data = prepared[k].as_ref().expect("ensured");
    // With `mlp_features`, the MLP's stages train on the MLP's own features, as its rows do:
    // the same nodes, split and held-out nodes, so the teacher's logits line up with them.
    let mlp_prepared = config
        .mlp_features
        .filter(|_| part.mlp)
        .map(|spec| validation_only_data(dataset, config, spec, best.normalize_features, device))
        .transpose()?;
    let mlp_data = mlp_prepared.as_ref().unwrap_or(data);
    // The chosen teacher's logits, which distillation trials read: when its run was replayed,
    // trained again by the first distillation trial that is not replayed.
    let mut teacher_logits = teacher_run.map(|trained| logits_of(trained, data));
    let chosen_teacher = best.clone();

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
    let score_student = |c: &CompareConfig, resumed: Option<ResumableRun>, budgets: &[usize]| {
        step("tune student", "mlp", c, &Objective::labels(), mlp_data, resumed, budgets, progress)
    };
    let stage = Stage { name: "student", row: "mlp", trials, schedule, plan: &plan, train: part.mlp };
    let (best, _, _) = stage.search(&best, &mut report, &mut rng, draw_student, score_student, log)?;

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
    let score_distillation = |c: &CompareConfig, resumed: Option<ResumableRun>, budgets: &[usize]| {
        if teacher_logits.is_none() {
            let labels = Objective::labels();
            let teacher = &chosen_teacher;
            let retrained = step("tune teacher", "teacher", teacher, &labels, data, None, &teacher_budgets, progress)?;
            teacher_logits = Some(logits_of(retrained, data));
        }
        let logits = teacher_logits.as_ref().expect("set above").shallow_clone();
        let objective = c.kd_objective(logits);
        step("tune distillation", "mlp+kd", c, &objective, mlp_data, resumed, budgets, progress)
    };
    let stage = Stage { name: "distillation", row: "mlp+kd", trials, schedule, plan: &plan, train: part.mlp };
    let (best, _, _) = stage.search(&best, &mut report, &mut rng, draw_distillation, score_distillation, log)?;

    // Stage 4: the small student's own training and dropout, on its row from labels, starting
    // from the recipe's training of it (its own where the recipe has one, as under the protocol,
    // else the students'; stage 2 tuned that on the MLP row only). Its width
    // stays the recipe's (what makes it small), and its learning rate never exceeds the
    // recipe's: above it, class-wide students on dense raw features lose every ReLU on some
    // seeds (Amazon Photo at 0.005: 3 of 10), which a search on one seed cannot see. Last, so
    // that the earlier stages draw what they drew before it existed. Skipped without small-student
    // rows (`--no-small`, GLNN's rows): nothing would read its choice.
    let best = if config.small_rows {
        let small = crate::compare::small_row_name(config.family);
        let recipe_lr = config.small_training().lr;
        let small_lrs: Vec<f64> = LR.into_iter().filter(|&lr| lr <= recipe_lr).collect();
        let small_lrs = if small_lrs.is_empty() { vec![recipe_lr] } else { small_lrs };
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
        let score_small = |c: &CompareConfig, resumed: Option<ResumableRun>, budgets: &[usize]| {
            step("tune small student", &small, c, &Objective::labels(), data, resumed, budgets, progress)
        };
        let stage = Stage { name: "small student", row: &small, trials, schedule, plan: &plan, train: part.small };
        let base = CompareConfig { small_training: Some(config.small_training().clone()), ..best };
        stage.search(&base, &mut report, &mut rng, draw_small, score_small, log)?.0
    } else {
        best
    };
    // Recorded, so that a process replaying the whole search (`--resume`, a `--jobs` parent
    // building its report) reports what the search cost, not the replay. A part leaves it to
    // whoever runs the parts.
    if part == SearchPart::WHOLE {
        let here = started.elapsed().as_secs_f64();
        report.train_s = journal::replay::<f64>(log, SEARCH_SECONDS)?.unwrap_or(here);
        record_search_seconds(log, here)?;
    }
    Ok((best, report))
}

/// One stage of the search: `trials` settings, the first the current one, run by `plan`'s rungs.
struct Stage<'a> {
    name: &'static str,
    /// The comparison row its trials train (whose training gives their length).
    row: &'a str,
    trials: usize,
    schedule: TuneSchedule,
    plan: &'a [RungPlan],
    /// Whether it trains: a stage left out of a [`SearchPart`] only draws its candidates.
    train: bool,
}

impl Stage<'_> {
    /// Draws `trials - 1` candidates from `base` with `draw` (returning what it changed, for
    /// the report; all drawn before any training, which never reads the search's generator, so
    /// the draws are those of a search that trained between them), then runs the rungs: each
    /// trains its trials on to its epoch budget with `score` (given a trial's run so far, if it
    /// is in memory, and the budgets of the rungs up to this one; reusing a run that ended inside
    /// an earlier budget) and keeps the best by validation (ties to the earlier trial). Returns
    /// the last rung's best, its run (`None` when replayed from `log`) and the rungs' budgets.
    fn search(
        &self,
        base: &CompareConfig,
        report: &mut TuneReport,
        rng: &mut ChaCha8Rng,
        mut draw: impl FnMut(&mut CompareConfig, &mut ChaCha8Rng) -> Vec<(&'static str, String)>,
        mut score: impl FnMut(&CompareConfig, Option<ResumableRun>, &[usize]) -> Result<ResumableRun, TrainError>,
        log: &mut dyn RunLog,
    ) -> Result<(CompareConfig, Option<ResumableRun>, Vec<usize>), TrainError> {
        let candidates: Vec<(CompareConfig, Vec<(String, String)>)> = (0..self.trials)
            .map(|trial| {
                let mut candidate = base.clone();
                let changed = if trial > 0 { draw(&mut candidate, rng) } else { Vec::new() };
                (candidate, changed.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            })
            .collect();
        if !self.train {
            return Ok((base.clone(), None, Vec::new()));
        }
        // The budgets follow the stage's longest trial (the row's epochs; the model's sizes do
        // not change them).
        let length = |c: &CompareConfig| c.row_model(self.row, 1, 1).1.epochs;
        let longest = candidates.iter().map(|(c, _)| length(c)).max().unwrap_or(1);
        // Per trial: its score at the last rung it ran, that rung, whether its run was final,
        // and the epochs its run had trained then.
        let mut last: Vec<(f64, usize, bool, usize)> = vec![(f64::NAN, 0, false, 0); self.trials];
        // Per trial: its run, while it is in memory (not when replayed from `log`).
        let mut in_memory: Vec<Option<ResumableRun>> = (0..self.trials).map(|_| None).collect();
        let mut alive: Vec<usize> = (0..self.trials).collect();
        let mut budgets = Vec::with_capacity(self.plan.len());
        for (rung, plan) in self.plan.iter().enumerate() {
            let final_rung = rung + 1 == self.plan.len();
            let budget =
                if self.schedule == TuneSchedule::Full { usize::MAX } else { rung_epochs(longest, plan.divisor) };
            budgets.push(budget);
            let mut runs = Vec::with_capacity(alive.len());
            for &trial in &alive {
                let (candidate, settings) = &candidates[trial];
                let (val_acc, _, complete, epochs_before) = last[trial];
                if rung > 0 && complete {
                    // Its earlier run ended inside its budget: a longer one trains the same epochs.
                    last[trial].1 = rung;
                    runs.push(RungRun { trial, val_acc, epochs_run: 0, epochs_total: epochs_before, complete });
                    continue;
                }
                let key = trial_key(self.name, trial, (self.schedule == TuneSchedule::Halving).then_some(rung));
                let (val_acc, epochs_run, complete) = match log.recorded(&key) {
                    Some(recorded) => {
                        let figures: TrialFigures = recorded.decode()?;
                        if &figures.settings != settings {
                            return Err(TrainError::Config(format!(
                                "{}: {key} tried {:?}, but this run draws {settings:?}: the journal is of another search",
                                recorded.at, figures.settings
                            )));
                        }
                        in_memory[trial] = None;
                        (figures.val_acc, figures.epochs_run, figures.complete)
                    }
                    None => {
                        let trained = score(candidate, in_memory[trial].take(), &budgets)?;
                        let figures = TrialFigures {
                            settings: settings.clone(),
                            val_acc: trained.best_val_acc(),
                            epochs_run: trained.epochs_run() - epochs_before,
                            complete: trained.ended(),
                        };
                        journal::record(log, &key, &figures)?;
                        in_memory[trial] = Some(trained);
                        (figures.val_acc, figures.epochs_run, figures.complete)
                    }
                };
                report.trial_epochs += epochs_run;
                let epochs_total = epochs_before + epochs_run;
                last[trial] = (val_acc, rung, complete, epochs_total);
                runs.push(RungRun { trial, val_acc, epochs_run, epochs_total, complete });
            }
            let keep = if final_rung { 1 } else { self.plan[rung + 1].trials };
            let scores: Vec<(usize, f64)> = runs.iter().map(|r| (r.trial, r.val_acc)).collect();
            let kept = survivors(&scores, keep);
            let epochs = budget.min(longest);
            let (stage, divisor) = (self.name.to_string(), plan.divisor);
            report.rungs.push(TuneRung { stage, rung, divisor, epochs, runs, kept: kept.clone() });
            // The trials left out free their runs now.
            for (trial, run) in in_memory.iter_mut().enumerate() {
                if !kept.contains(&trial) {
                    *run = None;
                }
            }
            alive = kept;
            alive.sort_unstable();
        }
        let chosen = alive[0];
        for (trial, (_, settings)) in candidates.iter().enumerate() {
            let (val_acc, rung, _, _) = last[trial];
            let entry = TuneTrial { stage: self.name.to_string(), settings: settings.clone(), val_acc, trial, rung };
            if trial == chosen {
                report.chosen.retain(|t| t.stage != self.name);
                report.chosen.push(entry.clone());
            }
            report.trials.push(entry);
        }
        let (candidate, _) = candidates.into_iter().nth(chosen).expect("a stage runs at least one trial");
        Ok((candidate, in_memory[chosen].take(), budgets))
    }
}

/// The journal key of a stage's `trial`th trial (from 0), at `rung` under halving (the full
/// schedule keeps the keys it had before halving).
fn trial_key(stage: &str, trial: usize, rung: Option<usize>) -> String {
    match rung {
        Some(rung) => format!("trial {stage} {trial} rung {rung}"),
        None => format!("trial {stage} {trial}"),
    }
}

/// The comparison's data with features `spec` (the config's, or the MLP's own) at its first
/// seed's split with the test nodes removed: what a trial sees holds no test label.
fn validation_only_data(
    dataset: &NodeDataset,
    config: &CompareConfig,
    spec: FeatureSpec,
    normalize: bool,
    device: Device,
) -> Result<GraphData, TrainError> {
    let normalized = CompareConfig { normalize_features: normalize, ..config.clone() };
    let prepared = crate::compare::prepare_dataset_with(dataset, &normalized, spec)?;
    let split = gdistill_datasets::apply_split(&prepared, &config.split, config.first_seed)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    // Inductively, the held-out nodes and their edges stay unseen by the search too.
    let deepwalk = crate::compare::inductive_deepwalk_of(spec, config.setting);
    let mut split = config.setting.observed_with(&split, config.first_seed, deepwalk.as_ref())?;
    split.test.clear();
    Ok(GraphData::new(&split, device, crate::FeatureLayout::Auto)?)
}
