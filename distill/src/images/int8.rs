//! The image comparison's int8 rows (`--int8`): `teacher-int8` and `mlp-800+kd-int8`, the
//! trained models with every weight rounded to int8 per output channel
//! ([`crate::compress::quantize_store`]), their input pixels and every hidden activation that feeds a
//! later layer rounded to a uint8 grid calibrated on the training images ([`ActivationQuant`],
//! through [`ImageModel::forward_hooked`]). The grid GCN has no hook points: its activations
//! stay f32 and only its input is rounded. Simulated in f32, as for graphs.

use std::rc::Rc;

use gdistill_models::{ImageArch, ImageModel, ModelOutput};
use tch::Tensor;

use super::{ImageData, ImageEnsemble, SharedEnsemble, TrainedImageModel, EVAL_BATCH};
use crate::compress::quantize_store::{calibrate_hidden, f32_store_bytes, int8_copy, ActivationQuant};
use crate::TrainError;

/// The rows `--int8` adds after the others, each with the row it quantizes.
pub const IMAGE_INT8_ROWS: [(&str, &str); 2] = [("teacher-int8", "teacher"), ("mlp-800+kd-int8", "mlp-800+kd")];

/// An image classifier whose input pixels and hidden activations are rounded to uint8 grids
/// (quantize-dequantize) on their way through.
pub struct Int8Activations {
    model: Box<dyn ImageModel>,
    pub input: ActivationQuant,
    /// One grid per hook point of the model; empty for a model without hook points.
    pub hidden: Vec<ActivationQuant>,
}

impl Int8Activations {
    /// `model` with its input and hidden activations calibrated on `images` (`[N, H, W]`,
    /// read in batches of [`EVAL_BATCH`]): each grid covers the float model's whole range there.
    pub fn calibrate(model: Box<dyn ImageModel>, images: &Tensor) -> Int8Activations {
        let input = ActivationQuant::calibrate_on(images);
        let hidden =
            calibrate_hidden(images, EVAL_BATCH, |batch, hook| model.forward_hooked(batch, false, hook).is_some());
        Int8Activations { model, input, hidden }
    }

    /// Bytes of the grids: a scale and a zero point (4 bytes each) per grid.
    pub fn grid_bytes(&self) -> i64 {
        8 * (1 + self.hidden.len() as i64)
    }
}

impl ImageModel for Int8Activations {
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput {
        let x = self.input.fake_quant(images);
        if self.hidden.is_empty() {
            return self.model.forward_t(&x, train);
        }
        let quantize = |point: usize, h: &Tensor| self.hidden[point].fake_quant(h);
        self.model.forward_hooked(&x, train, &quantize).unwrap_or_else(|| self.model.forward_t(&x, train))
    }
}

/// The stored bytes of a trained row as f32: its variables, or an ensemble's members'.
pub fn image_f32_bytes(trained: &TrainedImageModel, ensemble: Option<&ImageEnsemble>) -> i64 {
    match ensemble {
        Some(e) => e.members.iter().map(|m| f32_store_bytes(&m.vs)).sum(),
        None => f32_store_bytes(&trained.vs),
    }
}

/// `trained` (or each member of `ensemble`, combined as it combines them) with int8 weights,
/// input and hidden activations (each member calibrated on its own activations), as a row's
/// model, and the bytes it stores (weights, scales, biases and the activation grids).
pub fn int8_image_model(
    arch: &ImageArch,
    trained: &TrainedImageModel,
    ensemble: Option<&ImageEnsemble>,
    data: &ImageData,
) -> Result<(TrainedImageModel, i64), TrainError> {
    let start = std::time::Instant::now();
    let shape = data.shape;
    let calibration = data.images.index_select(0, &data.train);
    let copy = |m: &TrainedImageModel| -> Result<(TrainedImageModel, i64), TrainError> {
        let (vs, model, bytes) = int8_copy(&m.vs, |path| arch.build(path, shape))?;
        let model = Int8Activations::calibrate(model, &calibration);
        let bytes = bytes + model.grid_bytes();
        let (best_epoch, epochs_run, best_val_acc) = (m.best_epoch, m.epochs_run, m.best_val_acc);
        let model = Box::new(model);
        Ok((TrainedImageModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds: 0.0 }, bytes))
    };
    // The row's variable store: the copy's, or empty for an ensemble (its members hold theirs).
    let (vs, model, bytes): (_, Box<dyn ImageModel>, i64) = match ensemble {
        Some(e) => {
            let copies = e.members.iter().map(copy).collect::<Result<Vec<_>, _>>()?;
            let bytes = copies.iter().map(|c| c.1).sum();
            let members = copies.into_iter().map(|c| c.0).collect();
            let model = Box::new(SharedEnsemble(Rc::new(ImageEnsemble { members, combine: e.combine })));
            (tch::nn::VarStore::new(data.device), model, bytes)
        }
        None => {
            let (m, bytes) = copy(trained)?;
            (m.vs, m.model, bytes)
        }
    };
    let (best_epoch, epochs_run, best_val_acc) = (trained.best_epoch, trained.epochs_run, trained.best_val_acc);
    let train_seconds = start.elapsed().as_secs_f64();
    Ok((TrainedImageModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds }, bytes))
}
