//! One row of any experiment: its figures per seed while the seeds run ([`Runs`]), and the
//! reported [`Row`]: the columns every experiment has, then the domain's own.

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Serialize};

use super::{mean, mean_std};
use crate::transfer::ensemble::EnsembleScores;

/// A reported row: name, architecture (images and point clouds; a graph row's name says it),
/// parameters, test accuracy per seed with its mean and sample standard deviation, then the
/// domain's columns `X`, flattened into the same JSON object in their declared order. The
/// domain's columns read as the row's own fields (`row.val_mean`) through `Deref`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row<X> {
    pub name: String,
    /// The architecture in a few words (`mlp 2x800`, `dgcnn 64-64-128 k10 dyn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub params: i64,
    /// Test accuracy per seed, fractions in `0..=1`.
    pub test_acc: Vec<f64>,
    pub mean: f64,
    pub std: f64,
    #[serde(flatten)]
    pub columns: X,
}

impl<X> Deref for Row<X> {
    type Target = X;
    fn deref(&self) -> &X {
        &self.columns
    }
}

impl<X> DerefMut for Row<X> {
    fn deref_mut(&mut self) -> &mut X {
        &mut self.columns
    }
}

/// A row's figures, one entry per seed, gathered while the seeds run.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    pub test_acc: Vec<f64>,
    pub val_acc: Vec<f64>,
    /// Epochs whose weights were kept (counted from 1).
    pub best_epochs: Vec<usize>,
    pub train_s: Vec<f64>,
    pub infer_ms: Vec<f64>,
    /// Ensemble teacher: each member's test accuracy, one vector per seed.
    pub member_acc: Vec<Vec<f64>>,
}

impl Runs {
    /// The reported row: its test accuracies summarised, then `columns`.
    pub fn row<X>(&self, name: impl Into<String>, model: Option<String>, params: i64, columns: X) -> Row<X> {
        let (mean, std) = mean_std(&self.test_acc);
        Row { name: name.into(), model, params, test_acc: self.test_acc.clone(), mean, std, columns }
    }

    pub fn val_mean(&self) -> f64 {
        mean(&self.val_acc)
    }

    /// Mean training seconds per seed.
    pub fn train_s(&self) -> f64 {
        mean(&self.train_s)
    }

    /// Mean inference milliseconds per seed.
    pub fn infer_ms(&self) -> f64 {
        mean(&self.infer_ms)
    }

    /// An ensemble teacher's members' scores (none for one model).
    pub fn ensemble(&self) -> Option<EnsembleScores> {
        EnsembleScores::from_runs(&self.member_acc)
    }

    /// Members per model of the row: 1, or the ensemble's size.
    pub fn members(&self) -> i64 {
        self.member_acc.first().map_or(1, |m| m.len() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
    struct Extra {
        val_mean: f64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        note: Option<String>,
    }

    #[test]
    fn a_row_serialises_its_columns_in_place_and_in_order() {
        let runs = Runs { test_acc: vec![0.5, 0.7], ..Runs::default() };
        let row = runs.row("mlp", None, 12, Extra { val_mean: 0.25, note: None });
        // 0.5 and 0.7: mean 0.6, sample std sqrt(0.02) by hand.
        assert!((row.mean - 0.6).abs() < 1e-12 && (row.std - 0.02f64.sqrt()).abs() < 1e-12);
        let json = serde_json::to_string(&row).unwrap();
        let keys: Vec<&str> = json.split('"').skip(1).step_by(2).filter(|k| !k.is_empty()).collect();
        assert_eq!(keys, ["name", "mlp", "params", "test_acc", "mean", "std", "val_mean"]);
        assert_eq!(row.val_mean, 0.25, "the domain's columns read as the row's own");
        let back: Row<Extra> = serde_json::from_str(&json).unwrap();
        assert_eq!((back.model, back.columns), (None, row.columns.clone()));
        let with_model = runs.row("cnn", Some("cnn 8".into()), 1, Extra { val_mean: 0.0, note: Some("x".into()) });
        let json = serde_json::to_string(&with_model).unwrap();
        assert!(json.starts_with(r#"{"name":"cnn","model":"cnn 8","params":1,"#) && json.ends_with(r#""note":"x"}"#));
    }

    #[test]
    fn timings_are_means_and_members_count_the_ensemble() {
        let runs = Runs {
            train_s: vec![1.0, 3.0],
            infer_ms: vec![2.0],
            member_acc: vec![vec![0.1, 0.2, 0.3]],
            ..Runs::default()
        };
        assert_eq!((runs.train_s(), runs.infer_ms(), runs.members()), (2.0, 2.0, 3));
        assert!(runs.val_mean().is_nan());
        assert_eq!(Runs::default().members(), 1);
        assert!(Runs::default().ensemble().is_none());
    }
}
