//! The point-cloud comparison's int8 rows (`--int8`): `teacher-int8` and `student+kd-int8`,
//! the trained DGCNNs with every weight rounded to int8 per output channel and their input
//! coordinates to a uint8 grid calibrated on the training clouds ([`crate::quantize_store`]).

use std::rc::Rc;

use gdistill_models::pointcloud::{CloudArch, CloudModel, CloudOutput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::Tensor;

use super::{CloudData, CloudEnsemble, TrainedCloudModel};
use crate::ensemble::EnsembleCombine;
use crate::quantize_store::{int8_copy, ActivationQuant};
use crate::TrainError;

/// The rows `--int8` adds after the others, each with the row it quantizes.
pub const INT8_ROWS: [(&str, &str); 2] = [("teacher-int8", "teacher"), ("student+kd-int8", "student+kd")];

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

/// The input grid: the coordinates of the training clouds as the models see them (sampled and
/// normalised; not augmented), no label read.
pub fn calibrate_input(data: &CloudData) -> ActivationQuant {
    let set = data.cloud_set(&data.dataset.train, None, &mut ChaCha8Rng::seed_from_u64(0));
    ActivationQuant::calibrate_on(&set.points)
}

/// `members` (one model, or an ensemble's members, combined as `combine` says) with int8
/// weights and input, and the bytes they store (each member's int8 weights, channel scales
/// and f32 rest, and the input grid's scale and zero point).
pub fn int8_model(
    arch: &CloudArch,
    members: &[TrainedCloudModel],
    combine: EnsembleCombine,
    data: &CloudData,
    input: ActivationQuant,
) -> Result<(Box<dyn CloudModel>, i64), TrainError> {
    let mut copies = Vec::with_capacity(members.len());
    let mut bytes = 8;
    for m in members {
        let (vs, model, b) = int8_copy(&m.vs, |path| arch.build(path, data.shape))?;
        bytes += b;
        let (best_epoch, epochs_run, best_val_acc) = (m.best_epoch, m.epochs_run, m.best_val_acc);
        copies.push(TrainedCloudModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: 0.0 });
    }
    let model = CloudEnsemble { members: Rc::new(copies), combine, temperature: 1.0 };
    Ok((Box::new(QuantizedInput { model, input }), bytes))
}
