//! Checkpoints as safetensors files, with the model's configuration inside.
//!
//! Tensors are float32, named as in the model's `VarStore` (`0.weight`, `0.bias`, ...). The
//! header's `__metadata__` holds one key, `gdistill`, whose value is the JSON of
//! [`CheckpointMeta`]: enough for `gdistill eval` to rebuild the model and to refuse a dataset
//! it was not trained on. Python reads the same file with `safetensors.torch.load_file`.
//! Files are written to a temporary name and renamed, so a crash never leaves half a checkpoint.
//! A pruned model's masks travel as `mask.K` tensors (0/1, shaped like the K-th weight matrix).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gdistill_datasets::input::{read_input_bytes, InputKind};
use gdistill_models::{ModelConfig, NodeModel};
use safetensors::tensor::{Dtype, View};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use crate::compress::prune::Masks;

const META_KEY: &str = "gdistill";
/// The metadata key of image-model checkpoints ([`crate::images::save_image_checkpoint`]).
pub(crate) const IMAGE_META_KEY: &str = "gdistill-image";
/// Prefix of the tensors holding pruning masks: `mask.0` belongs to the first weight matrix.
const MASK_PREFIX: &str = "mask.";

/// The dataset a checkpoint was trained on, as far as a model's shapes depend on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetFingerprint {
    pub name: String,
    pub nodes: usize,
    pub features: usize,
    pub classes: usize,
    /// Whether feature rows were scaled to sum to one before training.
    pub row_normalized: bool,
}

/// What a checkpoint records beside the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format_version: u32,
    pub model: ModelConfig,
    pub dataset: DatasetFingerprint,
    /// Free-form record of how the model was trained (objective, settings, scores).
    #[serde(default)]
    pub training: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The file could not be read as an input: missing, a directory or device, a silent pipe,
    /// larger than memory ([`gdistill_datasets::input`]). The message names the path.
    #[error(transparent)]
    Input(#[from] gdistill_datasets::DatasetError),
    /// The file could not be written; the message says why
    /// ([`gdistill_datasets::atomic::describe_write_error`]).
    #[error("{}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// What a checkpoint is, for the input checks and their messages.
const CHECKPOINT_INPUT: InputKind<'static> = InputKind::data("a gdistill checkpoint (safetensors)");

pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> CheckpointError {
    CheckpointError::Invalid { path: path.to_path_buf(), message: message.into() }
}

struct F32Tensor {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &F32Tensor {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes every variable of `vs` and `meta` to `path` atomically.
pub fn save_checkpoint(path: &Path, vs: &nn::VarStore, meta: &CheckpointMeta) -> Result<(), CheckpointError> {
    save_checkpoint_with_masks(path, vs, meta, None)
}

/// As [`save_checkpoint`], with the pruning masks of the model's weight matrices.
pub fn save_checkpoint_with_masks(
    path: &Path,
    vs: &nn::VarStore,
    meta: &CheckpointMeta,
    masks: Option<&Masks>,
) -> Result<(), CheckpointError> {
    let mask_vars = masks.iter().flat_map(|m| m.0.iter().enumerate()).map(|(k, m)| (format!("{MASK_PREFIX}{k}"), m));
    let named = vs.variables().into_iter().chain(mask_vars.map(|(n, m)| (n, m.shallow_clone())));
    let meta_json = serde_json::to_string(meta).map_err(|e| invalid(path, e.to_string()))?;
    save_tensors(path, named, META_KEY, meta_json)
}

/// Writes `tensors` as float32 safetensors with `meta_json` under the metadata key `key`,
/// atomically: the writer shared by every kind of gdistill checkpoint.
pub(crate) fn save_tensors(
    path: &Path,
    named: impl Iterator<Item = (String, Tensor)>,
    key: &str,
    meta_json: String,
) -> Result<(), CheckpointError> {
    let mut tensors = Vec::new();
    for (name, var) in named {
        let flat = var.detach().to_device(Device::Cpu).to_kind(Kind::Float).contiguous().view([-1]);
        let values = Vec::<f32>::try_from(&flat).map_err(|e| invalid(path, e.to_string()))?;
        let shape = var.size().iter().map(|&d| d as usize).collect();
        tensors.push((name, F32Tensor { shape, bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() }));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let metadata = Some(HashMap::from([(key.to_string(), meta_json)]));
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), &metadata)
        .map_err(|e| invalid(path, format!("cannot serialise: {e}")))?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` over `path` atomically ([`gdistill_datasets::atomic`]: temporary file beside
/// it, flushed to disk, renamed; a process killed at any moment leaves the previous file or the
/// new one, and the next write removes the temporary files of killed processes), creating the
/// directory if needed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    use gdistill_datasets::atomic::AtomicWriteError;
    let io = |error: std::io::Error| CheckpointError::Write {
        path: path.to_path_buf(),
        message: gdistill_datasets::atomic::describe_write_error(path, &error),
    };
    if path.file_name().is_none() {
        return Err(invalid(path, "not a file path"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    gdistill_datasets::atomic::write_atomically(path, |tmp| std::fs::write(tmp, bytes)).map_err(|e| match e {
        AtomicWriteError::Write(e) | AtomicWriteError::Io(e) => io(e),
    })
}

/// The parameter count of `config` as its family lays it out (`None` when it overflows:
/// `num_params` saturates, so a count that reaches `i64::MAX` is taken as an overflow).
fn declared_params(config: &ModelConfig) -> Option<u128> {
    let n = config.num_params();
    (0..i64::MAX).contains(&n).then_some(n as u128)
}

/// Reads a checkpoint, rebuilds its model on `device` and loads the weights, checking that every
/// tensor the model needs is there with the right shape and nothing else is. A pruned model's
/// pruned weights are zero in the file, so it needs nothing more to predict; retraining it needs
/// its masks ([`load_checkpoint_with_masks`]).
pub fn load_checkpoint(
    path: &Path,
    device: Device,
) -> Result<(nn::VarStore, Box<dyn NodeModel>, CheckpointMeta), CheckpointError> {
    let (vs, model, meta, _) = load_checkpoint_with_masks(path, device)?;
    Ok((vs, model, meta))
}

/// The checkpoint's model type and variables, plus its pruning masks when it has them.
pub type LoadedCheckpoint = (nn::VarStore, Box<dyn NodeModel>, CheckpointMeta, Option<Masks>);

/// As [`load_checkpoint`], also returning the pruning masks (checked: one per weight matrix, of
/// its shape, 0 or 1, and the weights they prune are zero).
pub fn load_checkpoint_with_masks(path: &Path, device: Device) -> Result<LoadedCheckpoint, CheckpointError> {
    let (bytes, meta): (_, CheckpointMeta) = read_meta(path, META_KEY)?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| invalid(path, format!("corrupt tensors ({e:?})")))?;
    // The metadata decides what gets allocated: check it against what the file holds before
    // building anything, so a header claiming a 10^12-parameter model is refused, not allocated.
    meta.model.validate().map_err(|e| invalid(path, format!("bad gdistill metadata: {e}")))?;
    let declared = declared_params(&meta.model)
        .ok_or_else(|| invalid(path, "bad gdistill metadata: the model's parameter count overflows"))?;
    let mut tensors = file.tensors();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some((name, view)) = tensors.iter().find(|(_, view)| view.dtype() != Dtype::F32) {
        return Err(invalid(
            path,
            format!("tensor {name} is {:?}; gdistill checkpoints hold F32 tensors", view.dtype()),
        ));
    }
    let (mask_tensors, tensors): (Vec<_>, Vec<_>) =
        tensors.into_iter().partition(|(name, _)| name.starts_with(MASK_PREFIX));
    let stored: u128 = tensors.iter().map(|(_, view)| view.shape().iter().map(|&d| d as u128).product::<u128>()).sum();
    if declared != stored {
        return Err(invalid(
            path,
            format!("holds {stored} parameter values, but the model needs {declared} (as its gdistill metadata describes it)"),
        ));
    }
    let vs = nn::VarStore::new(device);
    let model = meta.model.build(&vs.root()).map_err(|e| invalid(path, e.to_string()))?;
    copy_variables(path, &file, &vs, device)?;
    let masks = read_masks(path, &mask_tensors, model.as_ref(), device)?;
    Ok((vs, model, meta, masks))
}

fn read_file(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    Ok(read_input_bytes(path, &CHECKPOINT_INPUT)?)
}

/// The value of the metadata entry `key` of the safetensors file in `bytes`, if it has one.
fn metadata_value(path: &Path, bytes: &[u8], key: &str) -> Result<Option<String>, CheckpointError> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| invalid(path, format!("not a safetensors checkpoint ({e:?})")))?;
    Ok(header.metadata().as_ref().and_then(|m| m.get(key)).cloned())
}

/// Why a checkpoint of one kind was not found: the file holds the other kind, or none.
fn no_metadata_message(path: &Path, bytes: &[u8]) -> String {
    match checkpoint_kind_of(path, bytes) {
        Ok(CheckpointKind::Image) => "an image model's checkpoint, not a node classifier's".into(),
        Ok(CheckpointKind::Node) => "a node classifier's checkpoint, not an image model's".into(),
        Err(_) => "no gdistill metadata: not a checkpoint written by gdistill".into(),
    }
}

/// What a gdistill checkpoint holds, told apart by its metadata key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointKind {
    /// A node classifier ([`load_checkpoint`]).
    Node,
    /// An image classifier ([`crate::images::load_image_checkpoint`]).
    Image,
}

/// Reads which kind of model the checkpoint at `path` holds, without building it.
pub fn checkpoint_kind(path: &Path) -> Result<CheckpointKind, CheckpointError> {
    checkpoint_kind_of(path, &read_file(path)?)
}

fn checkpoint_kind_of(path: &Path, bytes: &[u8]) -> Result<CheckpointKind, CheckpointError> {
    if metadata_value(path, bytes, META_KEY)?.is_some() {
        Ok(CheckpointKind::Node)
    } else if metadata_value(path, bytes, IMAGE_META_KEY)?.is_some() {
        Ok(CheckpointKind::Image)
    } else {
        Err(invalid(path, "no gdistill metadata: not a checkpoint written by gdistill"))
    }
}

/// Reads the file's metadata entry `key` as the JSON of `T`: what a checkpoint kind records.
pub(crate) fn read_meta<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: &str,
) -> Result<(Vec<u8>, T), CheckpointError> {
    let bytes = read_file(path)?;
    let json = metadata_value(path, &bytes, key)?.ok_or_else(|| invalid(path, no_metadata_message(path, &bytes)))?;
    let meta = serde_json::from_str(&json).map_err(|e| invalid(path, format!("bad gdistill metadata: {e}")))?;
    Ok((bytes, meta))
}

/// Loads the stored tensors into `vs`'s variables, checking that the file holds exactly those
/// (masks aside), each F32, of the variable's shape and finite.
pub(crate) fn copy_variables(
    path: &Path,
    file: &SafeTensors<'_>,
    vs: &nn::VarStore,
    device: Device,
) -> Result<(), CheckpointError> {
    let variables = vs.variables();
    let mut stored: Vec<String> = file.names().into_iter().filter(|n| !n.starts_with(MASK_PREFIX)).cloned().collect();
    stored.sort();
    let mut expected: Vec<String> = variables.keys().cloned().collect();
    expected.sort();
    if stored != expected {
        return Err(invalid(path, format!("holds tensors {stored:?}, but the model needs {expected:?}")));
    }
    for (name, var) in &variables {
        let view = file.tensor(name).map_err(|e| invalid(path, format!("tensor {name}: {e:?}")))?;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if view.dtype() != Dtype::F32 || shape != var.size() {
            return Err(invalid(
                path,
                format!("tensor {name} is {:?} {:?}, the model needs F32 {:?}", view.dtype(), shape, var.size()),
            ));
        }
        let loaded = finite_tensor(path, name, view.data(), &shape, device)?;
        tch::no_grad(|| var.shallow_clone().copy_(&loaded));
    }
    Ok(())
}

/// A stored F32 tensor's values, refused when one is NaN or infinite.
fn finite_tensor(
    path: &Path,
    name: &str,
    bytes: &[u8],
    shape: &[i64],
    device: Device,
) -> Result<Tensor, CheckpointError> {
    let values: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(invalid(path, format!("tensor {name} holds NaN or infinite values")));
    }
    Ok(Tensor::from_slice(&values).view(shape).to_device(device))
}

/// The `mask.K` tensors as masks of `model`'s weight matrices, or `None` when there are none.
fn read_masks(
    path: &Path,
    stored: &[(String, safetensors::tensor::TensorView<'_>)],
    model: &dyn NodeModel,
    device: Device,
) -> Result<Option<Masks>, CheckpointError> {
    if stored.is_empty() {
        return Ok(None);
    }
    let weights = model.weights();
    let expected: Vec<String> = (0..weights.len()).map(|k| format!("{MASK_PREFIX}{k}")).collect();
    let mut names: Vec<&String> = stored.iter().map(|(n, _)| n).collect();
    names.sort();
    let mut wanted: Vec<&String> = expected.iter().collect();
    wanted.sort();
    if names != wanted {
        return Err(invalid(path, format!("holds masks {names:?}, but the model's weight matrices need {expected:?}")));
    }
    let mut masks = Vec::with_capacity(weights.len());
    for (name, weight) in expected.iter().zip(&weights) {
        let view = &stored.iter().find(|(n, _)| n == name).expect("names checked above").1;
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if shape != weight.size() {
            return Err(invalid(path, format!("mask {name} is {shape:?}, its weight matrix {:?}", weight.size())));
        }
        let mask = finite_tensor(path, name, view.data(), &shape, device)?;
        let binary = mask.eq(0.0).logical_or(&mask.eq(1.0)).all().int64_value(&[]) != 0;
        if !binary {
            return Err(invalid(path, format!("mask {name} holds values other than 0 and 1")));
        }
        if (weight.abs() * mask.eq(0.0).to_kind(Kind::Float)).sum(Kind::Float).double_value(&[]) != 0.0 {
            return Err(invalid(path, format!("weights pruned by mask {name} are not zero")));
        }
        masks.push(mask);
    }
    Ok(Some(Masks(masks)))
}
