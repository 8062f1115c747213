//! Evaluating image classifiers: logits in batches, accuracy and error counts, inference time.
//!
//! Errors are counted as Hinton et al. report them ("146 test errors"): misclassified images
//! out of the whole test set.

use std::time::Instant;

use gdistill_models::ImageModel;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::ImageData;

/// Images per forward pass in evaluation: large enough to keep the matrix kernels busy, small
/// enough that a grid GCN's `[P, B, C]` activations stay in the hundreds of megabytes.
pub const EVAL_BATCH: i64 = 1000;

/// Accuracy on a set of images, with the count behind it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    /// Fraction correct, in `0..=1`.
    pub accuracy: f64,
    /// Misclassified images.
    pub errors: i64,
    /// Images evaluated.
    pub total: i64,
}

/// Logits of the images at `index` in evaluation mode (no dropout, no jitter, no autograd).
pub fn predict_images(model: &dyn ImageModel, data: &ImageData, index: &Tensor) -> Tensor {
    tch::no_grad(|| {
        let n = index.size()[0];
        let chunks: Vec<Tensor> = (0..n)
            .step_by(EVAL_BATCH as usize)
            .map(|start| {
                let ids = index.narrow(0, start, EVAL_BATCH.min(n - start));
                model.forward_t(&data.images.index_select(0, &ids), false).logits
            })
            .collect();
        if chunks.is_empty() {
            Tensor::zeros([0, data.shape.classes], (Kind::Float, data.device))
        } else {
            Tensor::cat(&chunks, 0)
        }
    })
}

/// Number of rows of `logits` whose argmax differs from `labels`, as a 0-dim tensor (no sync).
pub fn error_count(logits: &Tensor, labels: &Tensor) -> Tensor {
    logits.argmax(-1, false).ne_tensor(labels).sum(Kind::Int64)
}

/// Accuracy and error count of `logits` against `labels`.
pub fn score_logits(logits: &Tensor, labels: &Tensor) -> ImageScore {
    let total = labels.size()[0];
    let errors = error_count(logits, labels).int64_value(&[]);
    let accuracy = if total == 0 { 0.0 } else { (total - errors) as f64 / total as f64 };
    ImageScore { accuracy, errors, total }
}

/// Accuracy and error count of `model` on the images at `index`.
pub fn score_images(model: &dyn ImageModel, data: &ImageData, index: &Tensor) -> ImageScore {
    score_logits(&predict_images(model, data, index), &data.labels.index_select(0, index))
}

/// [`score_images`], with the wall time of the pass in milliseconds: the time to classify every
/// image at `index` (in batches of [`EVAL_BATCH`]). A 10 000-image pass of a grid GCN takes
/// seconds on a CPU, so the comparison times the scoring pass itself rather than extra ones.
pub fn timed_score_images(model: &dyn ImageModel, data: &ImageData, index: &Tensor) -> (ImageScore, f64) {
    let start = Instant::now();
    let logits = predict_images(model, data, index);
    if let Device::Cuda(i) = logits.device() {
        tch::Cuda::synchronize(i as i64);
    }
    let ms = start.elapsed().as_secs_f64() * 1e3;
    (score_logits(&logits, &data.labels.index_select(0, index)), ms)
}
