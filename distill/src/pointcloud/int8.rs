//! The point-cloud comparison's int8 rows (`--int8`): `teacher-int8` and `student+kd-int8`,
//! the trained models with every weight rounded to int8 per output channel
//! ([`crate::compress::quantize_store`]), their input coordinates and every hidden activation that feeds
//! a later layer (each EdgeConv or shared layer, the DGCNN's embedding, the pooled descriptor,
//! the head's hidden layers; [`CloudModel::forward_hooked`]) rounded to uint8 grids calibrated
//! on training clouds ([`ActivationQuant`]). Simulated in f32 (quantize-dequantize), as for
//! graphs: libtorch has no int8 kNN, gather or max over neighbours.

use std::rc::Rc;

use gdistill_models::pointcloud::{CloudArch, CloudModel, CloudOutput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use super::{CloudData, CloudEnsemble, TrainedCloudModel, EVAL_BATCH};
use crate::compress::quantize_store::{calibrate_hidden, int8_copy, ActivationQuant};
use crate::transfer::ensemble::EnsembleCombine;
use crate::TrainError;

/// The rows `--int8` adds after the others, each with the row it quantizes.
pub const INT8_ROWS: [(&str, &str); 2] = [("teacher-int8", "teacher"), ("student+kd-int8", "student+kd")];

/// Training clouds the hidden grids are calibrated on, at most: four evaluation batches bound
/// the cost (one float pass each) on ModelNet's 9 840 clouds; a range over a thousand clouds
/// is close to the whole set's, and a value outside it is clamped to the grid's end.
pub const CALIBRATION_CLOUDS: i64 = 4 * EVAL_BATCH;

/// What the int8 rows calibrate on, computed once per comparison.
pub struct CloudCalibration {
    /// The input grid, over every training cloud.
    pub input: ActivationQuant,
    /// At most [`CALIBRATION_CLOUDS`] training clouds, evenly spaced through the training set
    /// (so a class-sorted file is sampled across its classes), for the hidden grids.
    pub clouds: Tensor,
}

/// The training clouds as the models see them (sampled and normalised; not augmented), no label
/// read: the input grid over all of them, and the subset the hidden grids are calibrated on.
pub fn calibration(data: &CloudData) -> CloudCalibration {
    let set = data.cloud_set(&data.dataset.train, None, &mut ChaCha8Rng::seed_from_u64(0));
    let input = ActivationQuant::calibrate_on(&set.points);
    let n = set.points.size()[0];
    let m = n.min(CALIBRATION_CLOUDS);
    let spaced: Vec<i64> = (0..m).map(|i| i * n / m.max(1)).collect();
    let clouds = set.points.index_select(0, &Tensor::from_slice(&spaced).to(set.points.device()));
    CloudCalibration { input, clouds }
}

/// A cloud classifier whose hidden activations are rounded to uint8 grids (quantize-dequantize)
/// on their way through; its input is its caller's ([`int8_model`] rounds it once for all
/// members of an ensemble).
pub struct Int8CloudActivations {
    model: Box<dyn CloudModel>,
    /// One grid per hook point of the model; empty for a model without hook points.
    pub hidden: Vec<ActivationQuant>,
}

impl Int8CloudActivations {
    /// `model` with its hidden activations calibrated on its float pass over `clouds`
    /// (`[N, points, dim]`, read in batches of [`EVAL_BATCH`]): each grid covers the range there.
    pub fn calibrate(model: Box<dyn CloudModel>, clouds: &Tensor) -> Int8CloudActivations {
        let hidden =
            calibrate_hidden(clouds, EVAL_BATCH, |batch, hook| model.forward_hooked(batch, false, hook).is_some());
        Int8CloudActivations { model, hidden }
    }

    /// Bytes of the grids: a scale and a zero point (4 bytes each) per grid.
    pub fn grid_bytes(&self) -> i64 {
        8 * self.hidden.len() as i64
    }
}

impl CloudModel for Int8CloudActivations {
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput {
        if self.hidden.is_empty() {
            return self.model.forward_t(points, train);
        }
        let quantize = |point: usize, h: &Tensor| match self.hidden.get(point) {
            Some(grid) => grid.fake_quant(h),
            // A point the calibration never reached (another architecture's): left as it is.
            None => h.shallow_clone(),
        };
        self.model.forward_hooked(points, train, &quantize).unwrap_or_else(|| self.model.forward_t(points, train))
    }
}

/// A cloud classifier whose input coordinates are rounded to a uint8 grid first.
struct QuantizedInput {
    model: CloudEnsemble,
    input: ActivationQuant,
}

impl CloudModel for QuantizedInput {
    fn forward_t(&self, points: &Tensor, train: bool) -> CloudOutput {
        self.model.forward_t(&self.input.fake_quant(points), train)
    }
}

/// `members` (one model, or an ensemble's members, combined as `combine` says) with int8
/// weights, input and hidden activations (each member calibrated on its own activations), and
/// the bytes they store (each member's int8 weights, channel scales, f32 rest and hidden grids,
/// and the input grid's scale and zero point).
pub fn int8_model(
    arch: &CloudArch,
    members: &[TrainedCloudModel],
    combine: EnsembleCombine,
    data: &CloudData,
    calibration: &CloudCalibration,
) -> Result<(Box<dyn CloudModel>, i64), TrainError> {
    let mut copies = Vec::with_capacity(members.len());
    let mut bytes = 8;
    for m in members {
        let (vs, model, b) = int8_copy(&m.vs, |path| arch.build(path, data.shape))?;
        // Calibrated on the rounded coordinates, which is what this member will be given.
        let model = Int8CloudActivations::calibrate(model, &calibration.input.fake_quant(&calibration.clouds));
        bytes += b + model.grid_bytes();
        let model = Box::new(model);
        let (best_epoch, epochs_run, best_val_acc) = (m.best_epoch, m.epochs_run, m.best_val_acc);
        copies.push(TrainedCloudModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: 0.0 });
    }
    let model = CloudEnsemble { members: Rc::new(copies), combine, temperature: 1.0 };
    Ok((Box::new(QuantizedInput { model, input: calibration.input }), bytes))
}
