//! Reading one ModelNet-layout `.h5` file, validating every dataset before trusting it.
//!
//! The file's bytes go through the same pre-check as gdistill's HDF5 graphs (corrupt global
//! heaps that libhdf5 1.10 hangs or crashes on), and every declared shape is checked against
//! memory ([`crate::limits`]) before anything is read.

use std::path::Path;

use hdf5::types::TypeDescriptor;

use crate::limits::{array_bytes, check_memory};
use crate::DatasetError;

/// The contents of one `.h5` file: clouds, labels and optional normals.
#[derive(Clone, Debug, PartialEq)]
pub struct CloudFile {
    /// `[clouds, points_per_cloud, dim]`, row-major.
    pub points: Vec<f32>,
    /// `normal`, same shape, when the file has it.
    pub normals: Option<Vec<f32>>,
    /// Class of each cloud.
    pub labels: Vec<usize>,
    /// `P`.
    pub points_per_cloud: usize,
    /// `D`: 3, or 2 for planar clouds.
    pub dim: usize,
}

struct Reader<'a> {
    path: &'a Path,
    file: hdf5::File,
}

impl Reader<'_> {
    fn bad(&self, message: impl Into<String>) -> DatasetError {
        DatasetError::format(self.path, message)
    }

    fn dataset(&self, name: &str) -> Result<(hdf5::Dataset, TypeDescriptor, Vec<usize>), DatasetError> {
        if !self.file.link_exists(name) {
            return Err(self.bad(format!("missing dataset '{name}'")));
        }
        let ds = self.file.dataset(name).map_err(|e| self.bad(format!("'{name}' is not a readable dataset: {e}")))?;
        let ty = ds
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(|e| self.bad(format!("'{name}': unreadable type: {e}")))?;
        let shape = ds.shape();
        Ok((ds, ty, shape))
    }

    /// A float `[N, P, D]` dataset (`D` 2 or 3), read as f32; `expect` is the shape it must have.
    fn clouds(&self, name: &str, expect: Option<&[usize]>) -> Result<(Vec<usize>, Vec<f32>), DatasetError> {
        let (ds, ty, shape) = self.dataset(name)?;
        if !matches!(ty, TypeDescriptor::Float(_)) {
            return Err(self.bad(format!("'{name}' has type {ty}, expected float32")));
        }
        match expect {
            Some(expected) if shape != expected => {
                return Err(self.bad(format!("'{name}' has shape {shape:?}, expected {expected:?} (as 'data')")));
            }
            None if shape.len() != 3 || !matches!(shape[2], 2 | 3) || shape[1] == 0 => {
                return Err(self.bad(format!(
                    "'{name}' has shape {shape:?}, expected [clouds, points, 3] (or [clouds, points, 2])"
                )));
            }
            _ => {}
        }
        check_memory(&format!("'{name}' of shape {shape:?}"), array_bytes(&shape, 4)).map_err(|e| self.bad(e))?;
        let values = ds.read_raw::<f32>().map_err(|e| self.bad(format!("'{name}': {e}")))?;
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            let per = shape[1] * shape[2];
            return Err(self.bad(format!("'{name}': cloud {} holds a non-finite value ({})", k / per, values[k])));
        }
        Ok((shape, values))
    }

    /// An integer `[N]` or `[N, 1]` label dataset.
    fn labels(&self, clouds: usize) -> Result<Vec<usize>, DatasetError> {
        let (ds, ty, shape) = self.dataset("label")?;
        if !matches!(ty, TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)) {
            return Err(self.bad(format!("'label' has type {ty}, expected an integer type (uint8 or int64)")));
        }
        if !(shape == [clouds] || shape == [clouds, 1]) {
            return Err(self.bad(format!("'label' has shape {shape:?}, expected [{clouds}, 1] or [{clouds}]")));
        }
        let values = ds.read_raw::<i64>().map_err(|e| self.bad(format!("'label': {e}")))?;
        values
            .iter()
            .enumerate()
            .map(|(i, &y)| usize::try_from(y).map_err(|_| self.bad(format!("'label' of cloud {i} is {y}, negative"))))
            .collect()
    }
}

/// Reads and validates one file (layout in the module documentation of [`super`]).
pub fn read_cloud_file(path: &Path) -> Result<CloudFile, DatasetError> {
    // libhdf5 hangs and crashes on some corrupt files, and opens the path itself: the path checked
    // (a regular file, within memory), its bytes checked, then a trial read by a separate probe
    // process (h5graph/isolate.rs)
    crate::h5graph::isolate::read_guarded(path, crate::h5graph::isolate::ProbeKind::Clouds, read_unguarded)
}

pub(crate) fn read_unguarded(path: &Path) -> Result<CloudFile, DatasetError> {
    let file = crate::h5file::open_input(path)?;
    let r = Reader { path, file };
    let (shape, points) = r.clouds("data", None)?;
    let labels = r.labels(shape[0])?;
    let normals = if r.file.link_exists("normal") { Some(r.clouds("normal", Some(&shape))?.1) } else { None };
    Ok(CloudFile { points, normals, labels, points_per_cloud: shape[1], dim: shape[2] })
}
