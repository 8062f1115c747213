//! The image comparison's int8 rows (`--int8`): `teacher-int8` and `mlp-800+kd-int8`, the
//! trained MLPs with every weight rounded to int8 per output channel and their input pixels to
//! a uint8 grid calibrated on the training images ([`crate::quantize_store`]; hidden
//! activations stay f32, as there).

use std::rc::Rc;

use gdistill_models::{ImageArch, ImageModel, ModelOutput};
use tch::Tensor;

use super::{ImageData, ImageEnsemble, SharedEnsemble, TrainedImageModel};
use crate::quantize_store::{f32_store_bytes, int8_copy, ActivationQuant};
use crate::TrainError;

/// The rows `--int8` adds after the others, each with the row it quantizes.
pub const IMAGE_INT8_ROWS: [(&str, &str); 2] = [("teacher-int8", "teacher"), ("mlp-800+kd-int8", "mlp-800+kd")];

/// An image classifier whose input pixels are rounded to a uint8 grid first.
struct QuantizedInput {
    model: Box<dyn ImageModel>,
    input: ActivationQuant,
}

impl ImageModel for QuantizedInput {
    fn forward_t(&self, images: &Tensor, train: bool) -> ModelOutput {
        self.model.forward_t(&self.input.fake_quant(images), train)
    }
}

/// The stored bytes of a trained row as f32: its variables, or an ensemble's members'.
pub fn image_f32_bytes(trained: &TrainedImageModel, ensemble: Option<&ImageEnsemble>) -> i64 {
    match ensemble {
        Some(e) => e.members.iter().map(|m| f32_store_bytes(&m.vs)).sum(),
        None => f32_store_bytes(&trained.vs),
    }
}

/// `trained` (or each member of `ensemble`, combined as it combines them) with int8 weights
/// and input, as a row's model, and the bytes it stores (plus 8 for the input grid).
pub fn int8_image_model(
    arch: &ImageArch,
    trained: &TrainedImageModel,
    ensemble: Option<&ImageEnsemble>,
    data: &ImageData,
) -> Result<(TrainedImageModel, i64), TrainError> {
    let start = std::time::Instant::now();
    let shape = data.shape;
    let copy = |m: &TrainedImageModel| -> Result<(TrainedImageModel, i64), TrainError> {
        let (vs, model, bytes) = int8_copy(&m.vs, |path| arch.build(path, shape))?;
        let (best_epoch, epochs_run, best_val_acc) = (m.best_epoch, m.epochs_run, m.best_val_acc);
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
    let input = ActivationQuant::calibrate_on(&data.images.index_select(0, &data.train));
    let model = Box::new(QuantizedInput { model, input });
    let (best_epoch, epochs_run, best_val_acc) = (trained.best_epoch, trained.epochs_run, trained.best_val_acc);
    let train_seconds = start.elapsed().as_secs_f64();
    Ok((TrainedImageModel { vs, model, best_epoch, epochs_run, best_val_acc, train_seconds }, bytes + 8))
}
