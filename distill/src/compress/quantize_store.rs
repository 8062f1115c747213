//! int8 post-training quantization of any model held in a variable store (the image and
//! point-cloud classifiers), with [`crate::compress::quantize`]'s per-output-channel weight quantizer and
//! its activation calibration.
//!
//! Every variable of two or more dimensions is a weight (tch's linear `[out, in]`, convolution
//! `[out, in, k...]`): it is rounded to int8 per output channel (dimension 0) and written back
//! dequantized. Biases, batch-norm scales and running statistics stay f32. Activations are the
//! caller's: the image rows round the input and, through `ImageModel::forward_hooked`, the
//! hidden activations of the MLP and the CNN to uint8 grids ([`crate::images::Int8Activations`]);
//! the point-cloud rows round the input coordinates and, through
//! `CloudModel::forward_hooked`, every hidden activation of the DGCNN and the PointNet
//! ([`crate::pointcloud::Int8CloudActivations`], its grids read by [`HiddenRanges`]).
//! Inference is simulated in f32, as for graphs ([`crate::compress::quantize`]).

use std::cell::RefCell;

use gdistill_models::ActivationHook;
use tch::{nn, Tensor};

pub use crate::compress::quantize::ActivationQuant;
use crate::compress::quantize::QuantizedWeight;

/// Whether a variable is a weight matrix or kernel (quantized) rather than a bias, a
/// batch-norm scale or a running statistic (kept f32).
fn is_weight(t: &Tensor) -> bool {
    t.dim() >= 2
}

/// Rounds every weight of `vs` to int8 per output channel in place; returns the bytes the
/// int8 model stores: one per weight, four per channel scale, four per other value.
pub fn quantize_store_weights(vs: &mut nn::VarStore) -> i64 {
    tch::no_grad(|| {
        let mut bytes = 0;
        for (_, mut var) in vs.variables() {
            if !is_weight(&var) {
                bytes += 4 * var.numel() as i64;
                continue;
            }
            let shape = var.size();
            // Channels as columns, the layout the per-channel quantizer reads.
            let q = QuantizedWeight::per_output_channel(&var.reshape([shape[0], -1]).tr());
            bytes += q.bytes();
            var.copy_(&q.dequantize().tr().reshape(&shape));
        }
        bytes
    })
}

/// One grid per hook point of a model, calibrated on its float pass over `inputs` (read in
/// batches of `batch` along the first dimension). `pass` runs the model on one batch with the
/// given hook and says whether the model has hook points; without them there are no grids.
pub fn calibrate_hidden(
    inputs: &Tensor,
    batch: i64,
    pass: impl Fn(&Tensor, &ActivationHook) -> bool,
) -> Vec<ActivationQuant> {
    let ranges = HiddenRanges::default();
    let record = |point: usize, h: &Tensor| ranges.record(point, h);
    tch::no_grad(|| {
        let n = inputs.size()[0];
        for start in (0..n).step_by(batch as usize) {
            if !pass(&inputs.narrow(0, start, batch.min(n - start)), &record) {
                break;
            }
        }
    });
    ranges.grids()
}

/// Bytes of `vs`'s variables stored as f32 (what an f32 row of an int8 table weighs).
pub fn f32_store_bytes(vs: &nn::VarStore) -> i64 {
    4 * vs.variables().values().map(|t| t.numel() as i64).sum::<i64>()
}

/// A copy of `from` in a fresh store built by `build`, with its weights quantized:
/// the store, the model and the int8 bytes.
pub fn int8_copy<M>(
    from: &nn::VarStore,
    build: impl FnOnce(&nn::Path) -> Result<M, gdistill_models::ModelError>,
) -> Result<(nn::VarStore, M, i64), crate::TrainError> {
    let mut vs = nn::VarStore::new(from.device());
    let model = build(&vs.root())?;
    vs.copy(from).map_err(gdistill_models::ModelError::from)?;
    let bytes = quantize_store_weights(&mut vs);
    Ok((vs, model, bytes))
}

/// The range each hook point's activation takes over calibration passes: a hook that records
/// and changes nothing ([`HiddenRanges::record`]), then one grid per point
/// ([`HiddenRanges::grids`]). Interior mutability because a hook is a `Fn`.
#[derive(Debug, Default)]
pub struct HiddenRanges {
    ranges: RefCell<Vec<(f64, f64)>>,
}

impl HiddenRanges {
    /// Widens `point`'s range to hold every value of `x`; hands `x` on unchanged.
    pub fn record(&self, point: usize, x: &Tensor) -> Tensor {
        let mut ranges = self.ranges.borrow_mut();
        if ranges.len() <= point {
            ranges.resize(point + 1, (f64::INFINITY, f64::NEG_INFINITY));
        }
        // An empty batch has no minimum (libtorch refuses the reduction): nothing to widen.
        if x.numel() > 0 {
            let (lo, hi) = tch::no_grad(|| (x.min().double_value(&[]), x.max().double_value(&[])));
            ranges[point] = (ranges[point].0.min(lo), ranges[point].1.max(hi));
        }
        x.shallow_clone()
    }

    /// One grid per point seen (point `k` at index `k`), each covering its range widened to
    /// hold zero; a point never recorded gets the unit grid of an empty range.
    pub fn grids(self) -> Vec<ActivationQuant> {
        let grid = |(lo, hi): (f64, f64)| {
            if lo <= hi {
                ActivationQuant::calibrate(lo, hi)
            } else {
                ActivationQuant::calibrate(0.0, 0.0)
            }
        };
        self.ranges.into_inner().into_iter().map(grid).collect()
    }
}
