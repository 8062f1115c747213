//! A teacher's logits on every node, stored for training graph-less students without the graph.
//!
//! | object | kind | type, shape | meaning |
//! | --- | --- | --- | --- |
//! | `/` attr `format` | attribute | variable-length string | always `"gdistill-soft-targets"` |
//! | `/` attr `version` | attribute | integer scalar | `1` |
//! | `/` attr `dataset` | attribute | variable-length string | name of the dataset the logits belong to |
//! | `logits` | dataset | float32 `[N, C]` | the teacher's logits (temperature not applied) |
//! | `/` attr `ensemble_members` | attribute, optional | integer scalar | K, when the logits combine K teachers |
//! | `/` attr `ensemble_combine` | attribute, optional | variable-length string | `"soft-targets"` or `"logits"` |
//! | `/` attr `temperature` | attribute, optional | float64 scalar | T, when the logits are `T log q` of a mixture `q` |
//! | `nodes` | dataset, optional | int64 `[N]` | a shard of a partitioned run: the global node of each row |
//!
//! Logits rather than probabilities: the student's temperature is chosen when it trains. The one
//! exception is an ensemble whose tempered softmaxes were averaged (a mixture `q`, Hinton et al.
//! 2015): `T log q` reproduces `q` only at the `T` it was made with, so the file records that `T`
//! and students must distil at it. Averaged logits hold at every temperature and record none.
//! Written atomically (temporary file, then rename); every value must be finite.

use std::path::Path;

use hdf5::types::VarLenUnicode;

use super::{isolate, Reader};
use crate::atomic::{commit_dataset_file, stage_dataset_file, Staged};
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
    /// Set when the logits combine several teachers.
    pub ensemble: Option<EnsembleOrigin>,
}

/// How stored logits were combined from an ensemble of teachers.
#[derive(Clone, Debug, PartialEq)]
pub struct EnsembleOrigin {
    /// How many teachers.
    pub members: usize,
    /// `"soft-targets"` (the mixture of tempered softmaxes) or `"logits"` (their mean).
    pub combine: String,
    /// The temperature a mixture was made at (`None` for averaged logits).
    pub temperature: Option<f64>,
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
    commit_dataset_file(stage_rows(path, targets, None)?)
}

/// [`write_soft_targets`] for the rows of some nodes only (a shard of a partitioned run): row `k`
/// of `logits` belongs to global node `nodes[k]`, stored as the int64 dataset `nodes`.
pub fn write_soft_target_rows(path: &Path, targets: &SoftTargets, nodes: &[usize]) -> Result<(), DatasetError> {
    commit_dataset_file(stage_soft_target_rows(path, targets, nodes)?)
}

/// [`write_soft_target_rows`] up to the rename ([`crate::atomic::stage_atomically`]): the file
/// is written whole and flushed under a temporary name, and appears at `path` only when the
/// [`Staged`] returned is committed; dropped, it is removed. The shards of a job across MPI ranks
/// are staged by every rank before any is committed.
pub fn stage_soft_target_rows(path: &Path, targets: &SoftTargets, nodes: &[usize]) -> Result<Staged, DatasetError> {
    if nodes.len() != targets.nodes {
        return Err(DatasetError::format(path, format!("{} node ids for {} rows", nodes.len(), targets.nodes)));
    }
    stage_rows(path, targets, Some(nodes))
}

/// [`write_soft_targets`] up to the rename, as [`stage_soft_target_rows`].
pub fn stage_soft_targets(path: &Path, targets: &SoftTargets) -> Result<Staged, DatasetError> {
    stage_rows(path, targets, None)
}

/// The node ids a shard written by [`write_soft_target_rows`] stores (`None` for a whole file),
/// with its soft targets.
pub fn read_soft_target_rows(path: &Path) -> Result<(SoftTargets, Option<Vec<usize>>), DatasetError> {
    let targets = read_soft_targets(path)?; // the guarded read: the file is safe to open here after it
    let r = Reader { path, file: crate::h5file::open_input(path)? };
    if !r.file.link_exists("nodes") {
        return Ok((targets, None));
    }
    let nodes = r.indices("nodes", usize::MAX)?;
    if nodes.len() != targets.nodes {
        return Err(r.bad(format!("{} node ids for {} rows of logits", nodes.len(), targets.nodes)));
    }
    Ok((targets, Some(nodes)))
}

fn stage_rows(path: &Path, targets: &SoftTargets, nodes: Option<&[usize]>) -> Result<Staged, DatasetError> {
    targets.check(path)?;
    stage_dataset_file(path, "writing HDF5", |tmp| -> hdf5::Result<()> {
        let file = crate::h5file::create(tmp)?;
        let text = |s: &str| s.parse::<VarLenUnicode>().map_err(|e| hdf5::Error::from(format!("{e}")));
        file.new_attr::<VarLenUnicode>().create("format")?.write_scalar(&text(SOFT_TARGETS_FORMAT)?)?;
        file.new_attr::<i64>().create("version")?.write_scalar(&1i64)?;
        file.new_attr::<VarLenUnicode>().create("dataset")?.write_scalar(&text(&targets.dataset)?)?;
        file.new_dataset::<f32>()
            .shape([targets.nodes, targets.classes])
            .create("logits")?
            .write_raw(&targets.logits)?;
        if let Some(nodes) = nodes {
            let ids: Vec<i64> = nodes.iter().map(|&i| i as i64).collect();
            file.new_dataset::<i64>().shape([ids.len()]).create("nodes")?.write_raw(&ids)?;
        }
        if let Some(origin) = &targets.ensemble {
            file.new_attr::<i64>().create("ensemble_members")?.write_scalar(&(origin.members as i64))?;
            file.new_attr::<VarLenUnicode>().create("ensemble_combine")?.write_scalar(&text(&origin.combine)?)?;
            if let Some(t) = origin.temperature {
                file.new_attr::<f64>().create("temperature")?.write_scalar(&t)?;
            }
        }
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
    let ensemble = match r.int_attr("ensemble_members")? {
        None => None,
        Some(members) if members >= 1 => Some(EnsembleOrigin {
            members: members as usize,
            combine: r.string_attr("ensemble_combine")?.unwrap_or_default(),
            temperature: r.float_attr("temperature")?,
        }),
        Some(members) => return Err(r.bad(format!("root attribute ensemble_members is {members}, expected >= 1"))),
    };
    if let Some(t) = ensemble.as_ref().and_then(|e| e.temperature).filter(|t| !(t.is_finite() && *t > 0.0)) {
        return Err(r.bad(format!("root attribute temperature is {t}, expected a positive number")));
    }
    let targets = SoftTargets { logits, nodes, classes, dataset, ensemble };
    targets.check(path)?;
    Ok(targets)
}
