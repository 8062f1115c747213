//! One seed of the graph experiment as a run journal keeps it ([`crate::journal`]): every row's
//! figures of that seed, enough to rebuild the row's report without training it again.

use serde::{Deserialize, Deserializer, Serialize};

use super::rows::RowRuns;
use crate::journal::{record, Recorded, RunLog};
use crate::transfer::correct_and_smooth::SmoothedSeed;
use crate::TrainError;

/// One row's figures at one seed: what [`RowRuns`] gathers per seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowSeed {
    name: String,
    /// A pruned row's count is its seed's non-zero weights.
    params: i64,
    #[serde(deserialize_with = "figure")]
    test: f64,
    #[serde(deserialize_with = "figure")]
    val: f64,
    /// Inductive setting: `tran`, `ind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inductive: Option<(f64, f64)>,
    #[serde(deserialize_with = "figure")]
    train_s: f64,
    #[serde(deserialize_with = "figure")]
    infer_ms: f64,
    /// An ensemble teacher: each member's test accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    members: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight_bytes: Option<i64>,
    /// The teacher row with Correct and Smooth: its figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    smoothed: Option<SmoothedSeed>,
}

/// JSON has no NaN (serde_json writes it as `null`): a figure that was NaN reads back as NaN.
fn figure<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl RowRuns {
    /// The figures the seed just finished added.
    fn last_seed(&self) -> RowSeed {
        let r = &self.runs;
        let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        let seeds = r.test_acc.len();
        // A figure only some rows keep (one entry per seed when kept): this seed's, if any.
        fn this_seeds<T: Clone>(per_seed: &[T], seeds: usize) -> Option<T> {
            per_seed.last().filter(|_| per_seed.len() == seeds).cloned()
        }
        RowSeed {
            name: self.name.clone(),
            params: self.params,
            test: last(&r.test_acc),
            val: last(&r.val_acc),
            inductive: this_seeds(&self.inductive, seeds),
            train_s: last(&r.train_s),
            infer_ms: last(&r.infer_ms),
            members: this_seeds(&r.member_acc, seeds),
            weight_bytes: self.weight_bytes,
            smoothed: this_seeds(&self.smoothed, seeds),
        }
    }

    /// Adds a recorded seed's figures as if the seed had just run.
    fn replay(&mut self, seed: RowSeed) {
        self.params = seed.params;
        self.runs.test_acc.push(seed.test);
        self.runs.val_acc.push(seed.val);
        self.inductive.extend(seed.inductive);
        self.runs.train_s.push(seed.train_s);
        self.runs.infer_ms.push(seed.infer_ms);
        self.runs.member_acc.extend(seed.members);
        self.weight_bytes = seed.weight_bytes.or(self.weight_bytes);
        self.smoothed.extend(seed.smoothed);
    }
}

/// Records the seed `key` just finished: every row's figures of it.
pub(super) fn record_seed(log: &mut dyn RunLog, key: &str, rows: &[RowRuns]) -> Result<(), TrainError> {
    record(log, key, &rows.iter().map(RowRuns::last_seed).collect::<Vec<_>>())
}

/// Adds the seed `recorded` holds to `rows`, which must be the rows it was recorded for.
pub(super) fn replay_seed(rows: &mut [RowRuns], recorded: &Recorded) -> Result<(), TrainError> {
    let seed: Vec<RowSeed> = recorded.decode()?;
    let names = |rows: Vec<&str>| rows.join(", ");
    if seed.len() != rows.len() || seed.iter().zip(rows.iter()).any(|(s, r)| s.name != r.name) {
        return Err(TrainError::Config(format!(
            "{}: the journal's rows ({}) are not this run's ({})",
            recorded.at,
            names(seed.iter().map(|s| s.name.as_str()).collect()),
            names(rows.iter().map(|r| r.name.as_str()).collect()),
        )));
    }
    for (row, figures) in rows.iter_mut().zip(seed) {
        row.replay(figures);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_reads_back_as_it_was_recorded_nan_included() {
        let seed = RowSeed {
            name: "teacher".into(),
            params: 92231,
            test: 0.8130000000000001,
            val: f64::NAN,
            inductive: Some((0.1 + 0.2, 1.0 / 3.0)),
            train_s: 1.25,
            infer_ms: 0.3,
            members: Some(vec![0.5, 0.7]),
            weight_bytes: None,
            smoothed: Some(SmoothedSeed {
                alphas: crate::transfer::correct_and_smooth::Alphas { correct: 0.8, smooth: 0.5 },
                val_acc: 0.7,
                test_acc: 0.1 + 0.7,
                seconds: 0.25,
            }),
        };
        let text = serde_json::to_string(&seed).unwrap();
        let back: RowSeed = serde_json::from_str(&text).unwrap();
        assert!(back.val.is_nan());
        assert_eq!(RowSeed { val: 0.0, ..back }, RowSeed { val: 0.0, ..seed });
    }
}
