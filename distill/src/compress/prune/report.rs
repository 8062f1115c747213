//! Pruning results over seeds: one row per method and target sparsity, mean +- std.

use serde::{Deserialize, Serialize};

use super::PrunedPoint;
use crate::compare::mean_std;

/// One method at one target sparsity, over every seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PruneRow {
    pub method: String,
    pub sparsity: f64,
    /// Test accuracy after retraining, per seed.
    pub test_acc: Vec<f64>,
    pub mean: f64,
    pub std: f64,
    /// Validation accuracy per seed (settings are chosen on these, not on the test figures).
    pub val_acc: Vec<f64>,
    pub val_mean: f64,
    /// Mean over seeds of the summed saliency of the deleted weights (OBD only).
    pub predicted_dloss: Option<f64>,
    /// Mean over seeds of the loss increase the deletions caused, before retraining.
    pub actual_dloss: f64,
    /// Mean over seeds of the first-order term `-sum g_k w_k` of the deletions (OBD assumes 0).
    pub first_order_dloss: f64,
    /// Mean over seeds of each weight matrix's pruned fraction.
    pub layer_sparsity: Vec<f64>,
    /// Mean kept weights (biases not counted).
    pub kept_weights: f64,
}

/// Rows for one method from the points of each seed's run (all runs share their targets).
pub fn summarize(method: &str, runs: &[Vec<PrunedPoint>]) -> Vec<PruneRow> {
    let Some(first) = runs.first() else { return Vec::new() };
    let mean = |values: Vec<f64>| mean_std(&values).0;
    (0..first.len())
        .map(|k| {
            let points: Vec<&PrunedPoint> = runs.iter().map(|run| &run[k]).collect();
            let test_acc: Vec<f64> = points.iter().map(|p| p.test_acc).collect();
            let val_acc: Vec<f64> = points.iter().map(|p| p.val_acc).collect();
            let (acc_mean, acc_std) = mean_std(&test_acc);
            let predicted: Option<Vec<f64>> = points.iter().map(|p| p.predicted_dloss).collect();
            let layers = first[k].layer_sparsity.len();
            PruneRow {
                method: method.to_string(),
                sparsity: first[k].target,
                mean: acc_mean,
                std: acc_std,
                val_mean: mean_std(&val_acc).0,
                test_acc,
                val_acc,
                predicted_dloss: predicted.map(mean),
                actual_dloss: mean(points.iter().map(|p| p.actual_dloss).collect()),
                first_order_dloss: mean(points.iter().map(|p| p.first_order_dloss).collect()),
                layer_sparsity: (0..layers)
                    .map(|l| mean(points.iter().map(|p| p.layer_sparsity[l]).collect()))
                    .collect(),
                kept_weights: mean(points.iter().map(|p| p.kept_weights as f64).collect()),
            }
        })
        .collect()
}
