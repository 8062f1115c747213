//! A full-batch training run that stops at an epoch budget and goes on later, as successive
//! halving ([`crate::tune`]) trains the trials it keeps: weights, Adam's moments and the
//! early-stopping record stay in memory between budgets, so a kept trial trains only the epochs
//! it has not trained yet.
//!
//! ```no_run
//! # use gdistill_distill::training::resumable::ResumableRun;
//! # fn demo(config: &gdistill_models::ModelConfig, data: &gdistill_distill::GraphData,
//! #         settings: &gdistill_distill::TrainConfig) -> Result<(), gdistill_distill::TrainError> {
//! let objective = gdistill_distill::Objective::labels();
//! let mut run = ResumableRun::start(config, data, &objective, settings)?;
//! run.advance(data, &objective, 20, &mut |_| {})?; // a first look at 20 epochs
//! if run.best_val_acc() > 0.5 {
//!     run.advance(data, &objective, 60, &mut |_| {})?; // 40 more, not 60 again
//! }
//! let trained = run.finish(); // the best-validation weights, as `train` returns them
//! # Ok(()) }
//! ```

use std::time::Instant;

use gdistill_models::{ModelConfig, NodeModel};
use tch::nn;

use crate::training::train::{check_inputs, LoopState};
use crate::{EpochStats, GraphData, Objective, TrainConfig, TrainError, Trained};

/// A run of [`crate::train`] that can stop between epochs and go on.
///
/// Each [`ResumableRun::advance`] after the first reseeds libtorch's generator from the run's
/// seed and the epochs already trained. Other runs train between two budgets (the trials of a
/// rung) and move the global generator; the reseed makes what follows (dropout masks) depend on
/// this run alone, so a run rebuilt from scratch through the same budgets (a `--resume`d
/// search) ends bit for bit where the one kept in memory did. The first budget trains exactly
/// what [`crate::train`] with that many epochs trains.
pub struct ResumableRun {
    vs: nn::VarStore,
    model: Box<dyn NodeModel>,
    state: LoopState,
    settings: TrainConfig,
    seconds: f64,
}

impl ResumableRun {
    /// Builds a fresh model of `config` (seeded with `settings.seed`, as [`crate::train`]
    /// does), ready to train `settings.epochs` epochs at most.
    pub fn start(
        config: &ModelConfig,
        data: &GraphData,
        objective: &Objective,
        settings: &TrainConfig,
    ) -> Result<ResumableRun, TrainError> {
        check_inputs(config, data, objective, settings)?;
        let params = config.num_params();
        let what = format!("training a {} with hidden widths {:?} ({params} parameters)", config.arch, config.hidden);
        gdistill_datasets::limits::check_memory(&what, 16 * params.max(0) as u128).map_err(TrainError::TooLarge)?;
        let started = Instant::now();
        tch::manual_seed(settings.seed as i64);
        let vs = nn::VarStore::new(data.device);
        let model = config.build(&vs.root())?;
        let state = LoopState::new(&vs, model.as_ref(), data, objective, settings, None)?;
        let seconds = started.elapsed().as_secs_f64();
        Ok(ResumableRun { vs, model, state, settings: settings.clone(), seconds })
    }

    /// Trains on until `until` epochs in all (at most the run's length), unless early stopping
    /// ends it first. `objective` must be the one the run started with.
    pub fn advance(
        &mut self,
        data: &GraphData,
        objective: &Objective,
        until: usize,
        on_epoch: &mut dyn FnMut(&EpochStats),
    ) -> Result<(), TrainError> {
        if self.ended() || self.state.epochs_run >= until {
            return Ok(());
        }
        let started = Instant::now();
        if self.state.epochs_run > 0 {
            tch::manual_seed(continuation_seed(self.settings.seed, self.state.epochs_run));
        }
        let model = self.model.as_ref();
        self.state.run_until(model, data, objective, &self.settings, None, until, on_epoch)?;
        self.seconds += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Epochs trained so far.
    pub fn epochs_run(&self) -> usize {
        self.state.epochs_run
    }

    /// The best validation accuracy so far.
    pub fn best_val_acc(&self) -> f64 {
        self.state.best_val_acc()
    }

    /// Whether the run is over: early stopping ended it, or it trained its whole length.
    pub fn ended(&self) -> bool {
        self.state.stopped || self.state.epochs_run >= self.settings.epochs
    }

    /// Ends the run with its best-validation weights in the model, as [`crate::train`] does.
    pub fn finish(self) -> Trained {
        let ResumableRun { vs, model, state, seconds, .. } = self;
        let fitted = state.finish();
        Trained {
            vs,
            model,
            best_epoch: fitted.best_epoch,
            epochs_run: fitted.epochs_run,
            best_val_acc: fitted.best_val_acc,
            train_seconds: seconds,
        }
    }
}

/// The generator's seed when a run of seed `seed` goes on after `epochs` epochs: a SplitMix64
/// step of both, so that neighbouring seeds and epochs give unrelated streams.
fn continuation_seed(seed: u64, epochs: usize) -> i64 {
    let mut z = seed ^ (epochs as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}
