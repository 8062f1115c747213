//! Early stopping, shared by every training loop: the best epoch so far on validation accuracy
//! (ties broken by validation loss) or on validation loss, its weights kept aside, patience, and
//! the restore at the end.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::EpochStats;

/// Which validation figure picks the epoch whose weights are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// The highest validation accuracy, ties broken by the lower validation loss.
    #[default]
    ValAcc,
    /// The lowest validation cross-entropy. A teacher is kept for its probabilities, not only
    /// its argmax: a GAT on Cora reaches its best validation accuracy at epoch 8 with near-flat
    /// logits (training loss 1.92 of ln 7 = 1.95), and every student distilled from those soft
    /// targets failed (docs/teacher-families.md).
    ValLoss,
    /// The highest validation accuracy, ties going to the later epoch, which also restarts
    /// patience: GLNN's rule (`score_val >= best_score_val` in its `train_and_eval.py`), which
    /// NOSMOG and VQGraph inherit. On 210 validation nodes ties are common, so this trains
    /// longer than [`Selection::ValAcc`] and keeps a later epoch.
    ValAccLatest,
}

impl Selection {
    /// For `skip_serializing_if`: reports of the default keep their keys.
    pub fn is_val_acc(&self) -> bool {
        *self == Selection::ValAcc
    }

    /// Whether (`acc`, `loss`) beats the best so far (`best_acc`, `best_loss`).
    pub fn improves(self, acc: f64, loss: f64, best_acc: f64, best_loss: f64) -> bool {
        match self {
            Selection::ValAcc => acc > best_acc || (acc == best_acc && loss < best_loss),
            Selection::ValLoss => loss < best_loss,
            Selection::ValAccLatest => acc >= best_acc,
        }
    }
}

impl std::str::FromStr for Selection {
    type Err = String;

    fn from_str(s: &str) -> Result<Selection, String> {
        match s {
            "val-acc" => Ok(Selection::ValAcc),
            "val-loss" => Ok(Selection::ValLoss),
            "val-acc-latest" => Ok(Selection::ValAccLatest),
            _ => Err(format!("unknown selection {s:?}: val-acc, val-loss or val-acc-latest")),
        }
    }
}

/// The best validation score seen and the weights that scored it.
pub(crate) struct EarlyStopping {
    variables: Vec<Tensor>,
    best_weights: Vec<Tensor>,
    pub best_epoch: usize,
    pub best_acc: f64,
    best_loss: f64,
    patience: Option<usize>,
    selection: Selection,
}

impl EarlyStopping {
    /// Watches every variable of `vs`; the initial weights count as the best so far.
    pub fn new(vs: &nn::VarStore, patience: Option<usize>) -> EarlyStopping {
        EarlyStopping::selecting(vs, patience, Selection::ValAcc)
    }

    /// As [`EarlyStopping::new`], keeping the best epoch by `selection`.
    pub fn selecting(vs: &nn::VarStore, patience: Option<usize>, selection: Selection) -> EarlyStopping {
        let variables: Vec<Tensor> = vs.variables().into_values().collect();
        let best_weights = snapshot(&variables);
        EarlyStopping {
            variables,
            best_weights,
            best_epoch: 0,
            best_acc: f64::NEG_INFINITY,
            best_loss: f64::INFINITY,
            patience,
            selection,
        }
    }

    /// Records `epoch`'s validation figures, keeping its weights if they are the best (or if
    /// `always`, e.g. without a validation split); returns whether training should stop.
    pub fn record(&mut self, epoch: usize, val_acc: f64, val_loss: f64, always: bool) -> bool {
        if always || self.selection.improves(val_acc, val_loss, self.best_acc, self.best_loss) {
            (self.best_epoch, self.best_acc, self.best_loss) = (epoch, val_acc, val_loss);
            self.best_weights = snapshot(&self.variables);
        }
        self.patience.is_some_and(|p| epoch - self.best_epoch >= p)
    }

    /// The end of a mini-batch epoch: records its validation figures `val` (accuracy, loss;
    /// every epoch kept when `no_val`), hands its figures to `on_epoch`, its evaluation timed
    /// from `eval_start`; returns whether training should stop.
    pub fn end_epoch(
        &mut self,
        epoch: usize,
        loss: f64,
        (val_acc, val_loss): (f64, f64),
        no_val: bool,
        (step_seconds, eval_start): (f64, Instant),
        on_epoch: &mut dyn FnMut(&EpochStats),
    ) -> bool {
        let stop = self.record(epoch, val_acc, val_loss, no_val);
        let eval_seconds = eval_start.elapsed().as_secs_f64();
        on_epoch(&EpochStats { epoch, loss, val_acc, best_val_acc: self.best_acc, step_seconds, eval_seconds });
        stop
    }

    /// Puts the best weights back into the variables; returns the best validation accuracy.
    pub fn restore(self) -> f64 {
        tch::no_grad(|| {
            for (var, best) in self.variables.iter().zip(&self.best_weights) {
                var.shallow_clone().copy_(best);
            }
        });
        self.best_acc.max(0.0)
    }
}

fn snapshot(variables: &[Tensor]) -> Vec<Tensor> {
    tch::no_grad(|| variables.iter().map(|v| v.copy()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three epochs: the best accuracy comes first with a high loss (a near-flat model), the
    /// lowest loss last. Each criterion must keep, and restore, its own epoch's weights.
    fn kept_weight(selection: Selection) -> (usize, f64) {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let w = vs.root().zeros("w", &[1]);
        let mut stopping = EarlyStopping::selecting(&vs, Some(10), selection);
        for (epoch, (acc, loss)) in [(0.83, 1.92), (0.75, 1.40), (0.81, 0.85)].into_iter().enumerate() {
            let _ = tch::no_grad(|| w.shallow_clone().fill_(epoch as f64 + 1.0));
            assert!(!stopping.record(epoch, acc, loss, false));
        }
        let epoch = stopping.best_epoch;
        stopping.restore();
        (epoch, w.double_value(&[0]))
    }

    #[test]
    fn each_criterion_restores_the_weights_of_its_own_best_epoch() {
        assert_eq!(kept_weight(Selection::ValAcc), (0, 1.0));
        assert_eq!(kept_weight(Selection::ValLoss), (2, 3.0));
    }

    #[test]
    fn patience_counts_from_the_epoch_the_criterion_kept() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let _w = vs.root().zeros("w", &[1]);
        // Accuracy never improves after epoch 0 but the loss keeps falling: selecting on loss
        // must not stop at epoch 2 with patience 2, selecting on accuracy must.
        let figures = [(0.9, 2.0), (0.8, 1.5), (0.8, 1.0)];
        let mut by_loss = EarlyStopping::selecting(&vs, Some(2), Selection::ValLoss);
        let mut by_acc = EarlyStopping::selecting(&vs, Some(2), Selection::ValAcc);
        let stops: Vec<(bool, bool)> = figures
            .iter()
            .enumerate()
            .map(|(e, &(acc, loss))| (by_loss.record(e, acc, loss, false), by_acc.record(e, acc, loss, false)))
            .collect();
        assert_eq!(stops, vec![(false, false), (false, false), (false, true)]);
    }

    #[test]
    fn selection_reads_the_cli_and_toml_spellings() {
        assert_eq!("val-loss".parse::<Selection>().unwrap(), Selection::ValLoss);
        assert_eq!("val-acc".parse::<Selection>().unwrap(), Selection::ValAcc);
        assert_eq!("val-acc-latest".parse::<Selection>().unwrap(), Selection::ValAccLatest);
        assert!("loss".parse::<Selection>().unwrap_err().contains("val-acc, val-loss or val-acc-latest"));
    }

    #[test]
    fn glnn_rule_keeps_the_later_of_tied_epochs_and_restarts_patience_on_a_tie() {
        // Accuracy ties at 0.80 in epochs 1, 3 and 4, the loss higher each time.
        let figures = [(0.70, 1.0), (0.80, 0.9), (0.75, 0.8), (0.80, 1.1), (0.80, 1.2), (0.78, 0.7)];
        let run = |selection| {
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let w = vs.root().zeros("w", &[1]);
            let mut stopping = EarlyStopping::selecting(&vs, Some(2), selection);
            let mut stopped = None;
            for (epoch, &(acc, loss)) in figures.iter().enumerate() {
                let _ = tch::no_grad(|| w.shallow_clone().fill_(epoch as f64));
                if stopping.record(epoch, acc, loss, false) {
                    stopped = Some(epoch);
                    break;
                }
            }
            let best = stopping.best_epoch;
            stopping.restore();
            (best, w.double_value(&[0]), stopped)
        };
        // GLNN's: epoch 4 kept, and the ties keep training alive to the end.
        assert_eq!(run(Selection::ValAccLatest), (4, 4.0, None));
        // gdistill's default: epoch 1 (lower loss), and patience 2 runs out at epoch 3.
        assert_eq!(run(Selection::ValAcc), (1, 1.0, Some(3)));
    }
}
