//! Checkpoints of image classifiers: the node checkpoints' safetensors layout, with the image
//! architecture and size in place of the node model's configuration.
//!
//! The metadata key is `gdistill-image` (node checkpoints use `gdistill`), so each loader
//! refuses the other kind by name and [`crate::checkpoint_kind`] tells them apart without
//! building anything. `gdistill compare --save-models DIR` writes them for image datasets;
//! `gdistill export` turns them into TorchScript.

use std::path::Path;

use gdistill_models::{ImageArch, ImageModel, ImageShape};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use tch::{nn, Device};

use crate::checkpoint::{copy_variables, invalid, read_meta, save_tensors, IMAGE_META_KEY};
use crate::CheckpointError;

/// What an image checkpoint records beside the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageCheckpointMeta {
    pub format_version: u32,
    pub model: ImageArch,
    /// The image size and classes the model was built for.
    pub shape: ImageShape,
    /// The dataset's name (`mnist`, `digits`, ...).
    pub dataset: String,
    /// Free-form record of how the model was trained (row, seed, settings, scores).
    #[serde(default)]
    pub training: serde_json::Value,
}

/// Writes every variable of `vs` and `meta` to `path` atomically.
pub fn save_image_checkpoint(
    path: &Path,
    vs: &nn::VarStore,
    meta: &ImageCheckpointMeta,
) -> Result<(), CheckpointError> {
    let meta_json = serde_json::to_string(meta).map_err(|e| invalid(path, e.to_string()))?;
    save_tensors(path, vs.variables().into_iter(), IMAGE_META_KEY, meta_json)
}

/// Reads an image checkpoint, rebuilds its model on `device` and loads the weights, checking
/// that the file holds exactly the tensors the model needs, of the right shapes, finite.
pub fn load_image_checkpoint(
    path: &Path,
    device: Device,
) -> Result<(nn::VarStore, Box<dyn ImageModel>, ImageCheckpointMeta), CheckpointError> {
    let (bytes, meta): (_, ImageCheckpointMeta) = read_meta(path, IMAGE_META_KEY)?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| invalid(path, format!("corrupt tensors ({e:?})")))?;
    meta.model.validate(meta.shape).map_err(|e| invalid(path, format!("bad gdistill metadata: {e}")))?;
    // Counting the declared parameters builds the model on the CPU, so a header that claims a
    // huge model allocates it before it is refused (node checkpoints count without building).
    let stored: usize = file.tensors().iter().map(|(_, v)| v.shape().iter().product::<usize>()).sum();
    let declared = meta.model.num_params(meta.shape);
    if declared as usize != stored {
        return Err(invalid(
            path,
            format!("holds {stored} parameter values, but the model needs {declared} (as its gdistill metadata describes it)"),
        ));
    }
    let vs = nn::VarStore::new(device);
    let model = meta.model.build(&vs.root(), meta.shape).map_err(|e| invalid(path, e.to_string()))?;
    copy_variables(path, &file, &vs, device)?;
    Ok((vs, model, meta))
}
