//! A teacher's logits on every node, stored for training graph-less students without the graph.
//!
//! | object | kind | type, shape | meaning |
//! | --- | --- | --- | --- |
//! | `/` attr `format` | attribute | variable-length string | always `"gdistill-soft-targets"` |
//! | `/` attr `version` | attribute | integer scalar | `1` |
//! | `/` attr `dataset` | attribute | variable-length string | name of the dataset the logits belong to |
//! | `logits` | dataset | float32 `[N, C]` | the teacher's logits (temperature not applied) |
//!
//! Logits rather than probabilities: the student's temperature is chosen when it trains.
//! Written atomically (temporary file, then rename); every value must be finite.

use std::path::Path;

use hdf5::types::VarLenUnicode;

use super::{isolate, Reader};
use crate::atomic::write_dataset_file;
use crate::DatasetError;

/// The value of the root `format` attribute.
pub const SOFT_TARGETS_FORMAT: &str = "gdistill-soft-targets";

/// A teacher's logits, row-major `[nodes, classes]`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftTargets {
    /// `nodes * classes` values, node by node.
    pub logits: Vec<f32>,
    /// Rows: one per node of the dataset.
    pub nodes: usize,
    /// Columns: one per class.
    pub classes: usize,
    /// Name of the dataset they were computed on.
    pub dataset: String,
}

impl SoftTargets {
    fn check(&self, path: &Path) -> Result<(), DatasetError> {
        if self.nodes == 0 || self.classes == 0 || self.logits.len() != self.nodes * self.classes {
            return Err(DatasetError::format(
                path,
                format!("'logits' holds {} values for [{}, {}]", self.logits.len(), self.nodes, self.classes),
            ));
        }
        if let Some(k) = self.logits.iter().position(|v| !v.is_finite()) {
            let (row, col) = (k / self.classes, k % self.classes);
            return Err(DatasetError::format(
                path,
                format!("'logits' at node {row}, class {col} is {}", self.logits[k]),
            ));
        }
        Ok(())
    }
}

/// Writes `targets` to `path`; the file appears only once complete.
pub fn write_soft_targets(path: &Path, targets: &SoftTargets) -> Result<(), DatasetError> {
    targets.check(path)?;
    write_dataset_file(path, "writing HDF5", |tmp| -> hdf5::Result<()> {
        let file = crate::h5file::create(tmp)?;
        let text = |s: &str| s.parse::<VarLenUnicode>().map_err(|e| hdf5::Error::from(format!("{e}")));
        file.new_attr::<VarLenUnicode>().create("format")?.write_scalar(&text(SOFT_TARGETS_FORMAT)?)?;
        file.new_attr::<i64>().create("version")?.write_scalar(&1i64)?;
        file.new_attr::<VarLenUnicode>().create("dataset")?.write_scalar(&text(&targets.dataset)?)?;
        file.new_dataset::<f32>()
            .shape([targets.nodes, targets.classes])
            .create("logits")?
            .write_raw(&targets.logits)?;
        file.close()
    })
}

/// Reads soft targets written by [`write_soft_targets`] (or by h5py in the same layout).
pub fn read_soft_targets(path: &Path) -> Result<SoftTargets, DatasetError> {
    isolate::read_guarded(path, isolate::ProbeKind::SoftTargets, read_unguarded)
}

pub(crate) fn read_unguarded(path: &Path) -> Result<SoftTargets, DatasetError> {
    let file = crate::h5file::open_input(path)?;
    let r = Reader { path, file };
    match r.string_attr("format")? {
        Some(f) if f == SOFT_TARGETS_FORMAT => {}
        other => {
            let found = other.map_or("none".to_string(), |f| format!("'{f}'"));
            return Err(r.bad(format!("root attribute format is {found}, expected '{SOFT_TARGETS_FORMAT}'")));
        }
    }
    let dataset = r.string_attr("dataset")?.unwrap_or_default();
    let (shape, logits) = r.floats("logits")?;
    let &[nodes, classes] = shape.as_slice() else {
        return Err(r.bad(format!("'logits' has shape {shape:?}, expected [nodes, classes]")));
    };
    let targets = SoftTargets { logits, nodes, classes, dataset };
    targets.check(path)?;
    Ok(targets)
}
