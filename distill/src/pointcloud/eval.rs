//! Evaluating cloud classifiers: logits in batches, accuracy, per-cloud inference time.

use std::time::Instant;

use gdistill_models::pointcloud::CloudModel;
use tch::{Device, Kind, Tensor};

use super::CloudSet;
use crate::images::error_count;

/// Clouds per forward pass in evaluation.
pub const EVAL_BATCH: i64 = 256;

/// Logits of every cloud of `set` in evaluation mode (no dropout, running BN statistics, no autograd).
pub fn predict_clouds(model: &dyn CloudModel, set: &CloudSet, classes: i64) -> Tensor {
    tch::no_grad(|| {
        let n = set.len();
        let chunks: Vec<Tensor> = (0..n)
            .step_by(EVAL_BATCH as usize)
            .map(|start| model.forward_t(&set.points.narrow(0, start, EVAL_BATCH.min(n - start)), false).logits)
            .collect();
        if chunks.is_empty() {
            Tensor::zeros([0, classes], (Kind::Float, set.points.device()))
        } else {
            Tensor::cat(&chunks, 0)
        }
    })
}

/// Accuracy of `logits` against `labels` (0 for an empty set).
pub fn cloud_accuracy(logits: &Tensor, labels: &Tensor) -> f64 {
    let n = labels.size()[0];
    if n == 0 {
        return 0.0;
    }
    1.0 - error_count(logits, labels).int64_value(&[]) as f64 / n as f64
}

/// Accuracy on `set` and the wall time per cloud of the scoring pass, in milliseconds.
pub fn timed_accuracy(model: &dyn CloudModel, set: &CloudSet, classes: i64) -> (f64, f64) {
    let start = Instant::now();
    let logits = predict_clouds(model, set, classes);
    if let Device::Cuda(i) = logits.device() {
        tch::Cuda::synchronize(i as i64);
    }
    let ms = start.elapsed().as_secs_f64() * 1e3 / set.len().max(1) as f64;
    (cloud_accuracy(&logits, &set.labels), ms)
}

/// Latency of classifying one cloud alone (batch of one), in milliseconds: the median over the
/// first `repeats` clouds of `set` (after one warm-up pass), what a caller classifying clouds as
/// they arrive waits.
pub fn single_cloud_latency_ms(model: &dyn CloudModel, set: &CloudSet, repeats: i64) -> f64 {
    let n = set.len().min(repeats);
    if n == 0 {
        return 0.0;
    }
    tch::no_grad(|| {
        let _ = model.forward_t(&set.points.narrow(0, 0, 1), false);
        let mut times: Vec<f64> = (0..n)
            .map(|i| {
                let start = Instant::now();
                let logits = model.forward_t(&set.points.narrow(0, i, 1), false).logits;
                if let Device::Cuda(d) = logits.device() {
                    tch::Cuda::synchronize(d as i64);
                }
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    })
}
