//! Resumable runs: what a long run (a comparison with `--tune`, a pruning sweep) has finished,
//! kept so that a run killed at minute 80 of 90 loses one seed or one trial, not everything.
//!
//! A run asks its [`RunLog`] whether a unit of work (a seed, a tuning trial) was already done
//! before doing it, and hands it the unit's figures when it finishes. Replaying recorded figures
//! gives the same report as running again only because each unit is deterministic on its own:
//! every training run reseeds libtorch with its own seed (`crate::training::train`), so a seed's figures
//! do not depend on which seeds ran before it in the process.
//!
//! [`NoLog`] remembers nothing (library callers, runs without `--json`); [`Journal`] is the
//! file the CLI keeps beside the report ([`file`]).

mod file;
mod identity;

pub use file::{finished_records, Journal, Opened};
pub use identity::{bytes_identity, dataset_identity};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// Figures recorded for one unit of work, and where they were read (for error messages).
pub struct Recorded<'a> {
    /// `PATH: line N`.
    pub at: String,
    pub figures: &'a serde_json::Value,
}

impl Recorded<'_> {
    /// The figures as `T`; a record this build cannot read is an error naming its line.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, TrainError> {
        T::deserialize(self.figures)
            .map_err(|e| TrainError::Config(format!("{}: a journal record this run cannot read: {e}", self.at)))
    }
}

/// Where a run keeps the units of work it finished. Keys name a unit within the run
/// (`seed 3`, `trial teacher 2`); the figures are whatever the run needs to rebuild the unit's
/// part of the report.
pub trait RunLog {
    /// The figures recorded for `key`, if it was finished before.
    fn recorded(&self, key: &str) -> Option<Recorded<'_>>;
    /// Records that `key` finished with `figures`; durable when this returns.
    fn record(&mut self, key: &str, figures: serde_json::Value) -> Result<(), TrainError>;
    /// Whether this process runs `key` when it is not recorded; a unit it does not run is left
    /// out of the report (a [`Share`] of a run split over processes).
    fn runs(&self, _key: &str) -> bool {
        true
    }
}

/// One process's share of a run whose seeds are split over processes: every unit recorded in
/// `log` is replayed, the seeds in `seeds` run (and are recorded), other seeds are left out.
/// Units that are not seeds (tuning trials) run as usual: a worker finds them recorded by the
/// process that split the run, and that process runs them itself with an empty share.
pub struct Share<'a> {
    pub log: &'a mut dyn RunLog,
    pub seeds: Vec<u64>,
}

impl RunLog for Share<'_> {
    fn recorded(&self, key: &str) -> Option<Recorded<'_>> {
        self.log.recorded(key)
    }

    fn record(&mut self, key: &str, figures: serde_json::Value) -> Result<(), TrainError> {
        self.log.record(key, figures)
    }

    fn runs(&self, key: &str) -> bool {
        !key.starts_with("seed ") || self.seeds.iter().any(|&s| seed_key(s) == key)
    }
}

/// A log in which every unit is recorded already: recording one is an error. The replay of a
/// search run in parts (`compare --jobs`) reads it, so that a part that did not record its
/// trials is a loud error, not a stage trained again in the replaying process.
pub struct ReplayOnly<'a>(pub &'a mut dyn RunLog);

impl RunLog for ReplayOnly<'_> {
    fn recorded(&self, key: &str) -> Option<Recorded<'_>> {
        self.0.recorded(key)
    }

    fn record(&mut self, key: &str, _figures: serde_json::Value) -> Result<(), TrainError> {
        Err(TrainError::Config(format!(
            "{key} was trained while replaying a run whose parts should have recorded it (a bug in gdistill)"
        )))
    }

    fn runs(&self, key: &str) -> bool {
        self.0.runs(key)
    }
}

/// A log that remembers nothing: every unit runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoLog;

impl RunLog for NoLog {
    fn recorded(&self, _key: &str) -> Option<Recorded<'_>> {
        None
    }

    fn record(&mut self, _key: &str, _figures: serde_json::Value) -> Result<(), TrainError> {
        Ok(())
    }
}

/// The recorded figures of `key` as `T`, if any.
pub fn replay<T: DeserializeOwned>(log: &dyn RunLog, key: &str) -> Result<Option<T>, TrainError> {
    log.recorded(key).map(|r| r.decode()).transpose()
}

/// Records `figures` for `key`.
pub fn record<T: Serialize>(log: &mut dyn RunLog, key: &str, figures: &T) -> Result<(), TrainError> {
    let value = serde_json::to_value(figures)
        .map_err(|e| TrainError::Config(format!("recording {key} in the journal: {e}")))?;
    log.record(key, value)
}

/// The key of one seed's figures.
pub fn seed_key(seed: u64) -> String {
    format!("seed {seed}")
}

/// One tuning run (a trial at one rung) as the journal keeps it: the settings it drew (checked
/// against the draws of the resumed run), its validation accuracy and the epochs it trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialFigures {
    pub settings: Vec<(String, String)>,
    pub val_acc: f64,
    #[serde(default)]
    pub epochs_run: usize,
    /// The run ended inside its budget (its own length or early stopping): final.
    #[serde(default)]
    pub complete: bool,
}

/// The first header (a JSON line) of every journal: which run it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`]: says what the file is.
    pub format: String,
    /// The command (`compare`, `prune`).
    pub command: String,
    /// The binary's version (its package version and, where known, git commit).
    pub version: String,
    /// What the run reads ([`dataset_identity`] for graphs).
    pub dataset: serde_json::Value,
    /// The command line's settings after defaults, file and flags are resolved.
    pub config: serde_json::Value,
}

/// The `format` of a journal header.
pub const FORMAT: &str = "gdistill-journal-1";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_runs_its_seeds_and_every_trial() {
        let mut log = NoLog;
        let share = Share { log: &mut log, seeds: vec![1, 3] };
        assert!(share.runs(&seed_key(1)) && share.runs(&seed_key(3)));
        assert!(!share.runs(&seed_key(0)) && !share.runs(&seed_key(2)) && !share.runs(&seed_key(13)));
        assert!(share.runs("trial teacher 2"));
        let none = Share { log: &mut log, seeds: vec![] };
        assert!(!none.runs(&seed_key(0)) && none.runs("trial teacher 0"));
    }

    #[test]
    fn no_log_runs_everything_and_figures_round_trip_exactly() {
        let mut log = NoLog;
        record(&mut log, "seed 0", &1.0f64).unwrap();
        assert!(replay::<f64>(&log, "seed 0").unwrap().is_none());
        // The shortest decimal that reads back as the same double, for figures a report sums.
        for x in [0.1 + 0.2, 0.8130000000000001, 1.0 / 3.0, 2.0f64.sqrt() * 1e-7] {
            let text = serde_json::to_string(&x).unwrap();
            assert_eq!(serde_json::from_str::<f64>(&text).unwrap().to_bits(), x.to_bits(), "{text}");
        }
    }
}
