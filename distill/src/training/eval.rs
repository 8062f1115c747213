//! Evaluation: accuracy on a split, and warm full-graph inference latency.

use std::time::Instant;

use gdistill_models::NodeModel;
use tch::{Kind, Tensor};

use crate::GraphData;

/// Fraction of `index` whose argmax logit equals the label, as a 0-dim tensor (no host sync).
pub fn accuracy_tensor(logits: &Tensor, labels: &Tensor, index: &Tensor) -> Tensor {
    if index.numel() == 0 {
        return Tensor::zeros([], (Kind::Float, logits.device()));
    }
    let predicted = logits.index_select(0, index).argmax(-1, false);
    predicted.eq_tensor(&labels.index_select(0, index)).to_kind(Kind::Float).mean(Kind::Float)
}

/// Accuracy as a number in [0, 1].
pub fn accuracy(logits: &Tensor, labels: &Tensor, index: &Tensor) -> f64 {
    accuracy_tensor(logits, labels, index).double_value(&[])
}

/// Logits of every node in evaluation mode (no dropout, no autograd).
pub fn predict(model: &dyn NodeModel, data: &GraphData) -> Tensor {
    tch::no_grad(|| model.forward_t(&data.features, &data.a_hat, false).logits)
}

/// Median wall time of a full-graph forward pass in milliseconds, after `warmup` untimed passes.
pub fn inference_ms(model: &dyn NodeModel, data: &GraphData, warmup: usize, runs: usize) -> f64 {
    let sync = |t: &Tensor| {
        if let tch::Device::Cuda(i) = t.device() {
            tch::Cuda::synchronize(i as i64);
        }
    };
    for _ in 0..warmup {
        sync(&predict(model, data));
    }
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            sync(&predict(model, data));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}
