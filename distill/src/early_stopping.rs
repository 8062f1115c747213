//! Early stopping on validation accuracy, shared by every training loop: the best epoch so far
//! (ties broken by validation loss), its weights kept aside, patience, and the restore at the end.

use tch::{nn, Tensor};

/// The best validation score seen and the weights that scored it.
pub(crate) struct EarlyStopping {
    variables: Vec<Tensor>,
    best_weights: Vec<Tensor>,
    pub best_epoch: usize,
    pub best_acc: f64,
    best_loss: f64,
    patience: Option<usize>,
}

impl EarlyStopping {
    /// Watches every variable of `vs`; the initial weights count as the best so far.
    pub fn new(vs: &nn::VarStore, patience: Option<usize>) -> EarlyStopping {
        let variables: Vec<Tensor> = vs.variables().into_values().collect();
        let best_weights = snapshot(&variables);
        EarlyStopping {
            variables,
            best_weights,
            best_epoch: 0,
            best_acc: f64::NEG_INFINITY,
            best_loss: f64::INFINITY,
            patience,
        }
    }

    /// Records `epoch`'s validation figures, keeping its weights if they are the best (or if
    /// `always`, e.g. without a validation split); returns whether training should stop.
    pub fn record(&mut self, epoch: usize, val_acc: f64, val_loss: f64, always: bool) -> bool {
        if always || val_acc > self.best_acc || (val_acc == self.best_acc && val_loss < self.best_loss) {
            (self.best_epoch, self.best_acc, self.best_loss) = (epoch, val_acc, val_loss);
            self.best_weights = snapshot(&self.variables);
        }
        self.patience.is_some_and(|p| epoch - self.best_epoch >= p)
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
