//! The shape every experiment shares (graphs in [`crate::compare`], images in
//! [`crate::images`], point clouds in [`crate::pointcloud`]): a list of rows, each trained once
//! per seed; per-seed figures gathered in [`Runs`]; each row reported as a [`Row`] (test
//! accuracy per seed, mean and sample standard deviation, then the domain's own columns); one
//! [`Progress`] stream over all the runs.
//!
//! A domain says which rows it runs ([`plan_rows`]), how one row trains for one seed, and what
//! columns it adds ([`Row::columns`]); a fourth kind of input is one more folder beside the
//! three, filling in the same pieces.

mod row;

pub use row::{Row, Runs};

use std::time::Instant;

use crate::training::early_stopping::EarlyStopping;
use crate::EpochStats;

/// What a comparison (graphs, images or point clouds) is doing now, for progress display.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    RunStarted {
        row: &'a str,
        seed: u64,
        run: usize,
        runs: usize,
    },
    Epoch {
        row: &'a str,
        stats: &'a EpochStats,
    },
    /// Features learnt before training (DeepWalk's `spec`) took `seconds`; inductively once
    /// per seed, as each seed observes another graph.
    FeaturesBuilt {
        spec: &'a str,
        seconds: f64,
    },
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() < 2 { 0.0 } else { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) };
    (mean, var.sqrt())
}

/// The mean alone (NaN for no values): the per-seed timings are reported this way.
pub fn mean(values: &[f64]) -> f64 {
    mean_std(values).0
}

/// The seeds an experiment runs: `first_seed`, `first_seed + 1`, ... (`seeds` of them).
pub fn seeds(first_seed: u64, seeds: usize) -> std::ops::Range<u64> {
    first_seed..first_seed + seeds as u64
}

/// Counts the training runs of an experiment for [`Progress::RunStarted`].
pub struct RunCounter {
    run: usize,
    runs: usize,
}

impl RunCounter {
    /// A counter over `runs` runs in all.
    pub fn new(runs: usize) -> RunCounter {
        RunCounter { run: 0, runs }
    }

    /// Announces that `row` starts training for `seed`, and counts the run.
    pub fn start(&mut self, progress: &mut dyn FnMut(Progress), row: &str, seed: u64) {
        progress(Progress::RunStarted { row, seed, run: self.run, runs: self.runs });
        self.run += 1;
    }

    /// Counts a run that is part of the row just started (an ensemble's further members).
    pub fn count(&mut self) {
        self.run += 1;
    }

    /// Counts `runs` runs that were not trained (replayed from a run journal).
    pub fn skip(&mut self, runs: usize) {
        self.run += runs;
    }

    /// Runs counted so far.
    pub fn run(&self) -> usize {
        self.run
    }

    /// Runs in all.
    pub fn runs(&self) -> usize {
        self.runs
    }
}

/// The rows one seed trains, in `order`: those `wanted` and those `needed` by them (a teacher),
/// each with whether it is reported.
pub fn plan_rows(
    order: &[&'static str],
    wanted: &[String],
    needed: impl Fn(&str) -> bool,
) -> Vec<(&'static str, bool)> {
    let wanted = |row: &str| wanted.iter().any(|r| r == row);
    order.iter().filter(|r| wanted(r) || needed(r)).map(|&r| (r, wanted(r))).collect()
}

/// The items of `rows` whose planned row is reported (the rows trained only as teachers dropped).
pub fn reported<T>(plan: &[(&'static str, bool)], rows: impl IntoIterator<Item = T>) -> Vec<T> {
    plan.iter().zip(rows).filter(|((_, shown), _)| *shown).map(|(_, row)| row).collect()
}

/// A trained model of any domain (`M`: `dyn ImageModel`, `dyn CloudModel`) with its weights and
/// how its training went.
pub struct TrainedModel<M: ?Sized> {
    pub vs: tch::nn::VarStore,
    pub model: Box<M>,
    /// The epoch whose weights were kept (from 0).
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub best_val_acc: f64,
    pub train_seconds: f64,
}

impl<M: ?Sized> TrainedModel<M> {
    /// The model at the end of training, early stopping's best weights restored into `vs`;
    /// its training timed from `start`.
    pub(crate) fn restored(
        vs: tch::nn::VarStore,
        model: Box<M>,
        stopping: EarlyStopping,
        epochs_run: usize,
        start: Instant,
    ) -> TrainedModel<M> {
        let best_epoch = stopping.best_epoch;
        let best_val_acc = stopping.restore();
        TrainedModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: start.elapsed().as_secs_f64() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_is_the_sample_deviation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum to 32, 32 / 7 by hand.
        let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
        assert!(mean(&[]).is_nan());
    }

    #[test]
    fn plans_keep_order_add_needed_teachers_and_report_only_wanted_rows() {
        let wanted = vec!["mlp+kd".to_string(), "mlp".to_string()];
        let plan = plan_rows(&["teacher", "cnn", "mlp", "mlp+kd"], &wanted, |r| r == "teacher");
        assert_eq!(plan, [("teacher", false), ("mlp", true), ("mlp+kd", true)]);
        assert_eq!(reported(&plan, [1, 2, 3]), [2, 3]);
    }

    #[test]
    fn the_counter_numbers_runs_from_zero_and_skips_counted_members() {
        let mut seen = Vec::new();
        let mut progress = |p: Progress| {
            if let Progress::RunStarted { row, seed, run, runs } = p {
                seen.push((row.to_string(), seed, run, runs));
            }
        };
        let mut counter = RunCounter::new(4);
        counter.start(&mut progress, "teacher", 3);
        counter.count();
        counter.start(&mut progress, "mlp", 3);
        assert_eq!(seen, [("teacher".to_string(), 3, 0, 4), ("mlp".to_string(), 3, 2, 4)]);
        assert_eq!(seeds(3, 2).collect::<Vec<_>>(), [3, 4]);
    }
}
