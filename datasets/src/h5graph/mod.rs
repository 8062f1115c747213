//! The gdistill HDF5 graph layout: read ([`read_h5graph`]) and write ([`write_h5graph`]).
//!
//! One node-classification dataset per file, readable by h5py:
//!
//! | object | kind | type, shape | meaning |
//! | --- | --- | --- | --- |
//! | `/` attr `format` | attribute | variable-length string | always `"gdistill-graph"` |
//! | `/` attr `version` | attribute | integer scalar | `1` |
//! | `/` attr `name` | attribute | variable-length string | dataset name (optional; default: file stem) |
//! | `edge_index` | dataset | int64 `[2, E]` | column `k` is an edge `edge_index[0,k] - edge_index[1,k]`; read as undirected, self-loops dropped, duplicates merged; the writer stores each undirected edge once, `i < j` |
//! | `features` | dataset | float32 `[N, F]` | dense node features, or instead: |
//! | `features_csr/data` | dataset | float32 `[nnz]` | CSR features: values |
//! | `features_csr/indices` | dataset | int64 `[nnz]` | CSR column indices |
//! | `features_csr/indptr` | dataset | int64 `[N + 1]` | CSR row pointer |
//! | `features_csr/shape` | dataset | int64 `[2]` | `[N, F]` |
//! | `labels` | dataset | int64 `[N]` | class of each node, `0..C` |
//! | `train_idx`, `val_idx`, `test_idx` | dataset | int64 `[k]` | node indices of each split |
//! | `class_names` | dataset | variable-length UTF-8 strings `[C]` | optional; without it `C = max(label) + 1` (at most `N`) |
//!
//! `N` is the length of `labels`. The reader accepts any integer type where int64 is written
//! and float32 or float64 features; anything else (a float `labels`, a rank-1 `edge_index`,
//! features with the wrong number of rows, a missing dataset, a file that is not HDF5, a dataset
//! whose declared shape would not fit in memory ([`crate::limits`]), checked before it is read)
//! is a [`DatasetError::Format`] naming the file and the dataset. Before libhdf5 opens a file, its
//! global heaps (where variable-length strings live) are checked for the corruption libhdf5 1.10
//! loops forever on (`precheck.rs`; found by fuzzing), and the file is read first by a probe
//! process, so that a libhdf5 crash or hang on a corrupt file is reported (`isolate.rs`). The writer writes to a temporary
//! file in the same directory and renames it into place, so a reader never sees half a file.
//!
//! In h5py: `f = h5py.File(p); ei = f["edge_index"][:]; y = f["labels"][:];
//! X = f["features"][:]` (or `scipy.sparse.csr_matrix((d, i, p), shape=s)` from `features_csr`).

pub mod isolate;
mod precheck;
mod soft_targets;
mod write;

pub use soft_targets::{
    read_soft_target_rows, read_soft_targets, stage_soft_target_rows, stage_soft_targets, write_soft_target_rows,
    write_soft_targets, EnsembleOrigin, SoftTargets, SOFT_TARGETS_FORMAT,
};
pub use write::write_h5graph;

/// The HDF5 crate this module reads and writes with (`hdf5-metno`), for callers that build or
/// inspect files by hand with the same library version (the crate's tests build damaged files).
pub use hdf5;

use std::path::Path;

use gdistill_graph::{EdgeOptions, Graph};
use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use sprs::CsMat;

use crate::limits::{array_bytes, check_memory};
use crate::sparse::{csr_from_dense, csr_from_parts, Compressed};
use crate::{DatasetError, NodeDataset};

/// The value of the root `format` attribute.
pub const H5GRAPH_FORMAT: &str = "gdistill-graph";
/// The layout version this crate reads and writes.
pub const H5GRAPH_VERSION: i64 = 1;

struct Reader<'a> {
    path: &'a Path,
    file: hdf5::File,
}

impl Reader<'_> {
    fn bad(&self, message: impl Into<String>) -> DatasetError {
        DatasetError::format(self.path, message)
    }

    fn dataset(&self, name: &str) -> Result<hdf5::Dataset, DatasetError> {
        if !self.file.link_exists(name) {
            return Err(self.bad(format!("missing dataset '{name}'")));
        }
        self.file.dataset(name).map_err(|e| self.bad(format!("'{name}' is not a readable dataset: {e}")))
    }

    /// Refuses a dataset whose declared shape cannot fit in memory, before reading it (HDF5
    /// stores unwritten chunks as fill values, so a tiny file can declare 10^12 elements).
    fn check_size(&self, ds: &hdf5::Dataset, name: &str, item_size: usize) -> Result<(), DatasetError> {
        let shape = ds.shape();
        check_memory(&format!("'{name}' of shape {shape:?}"), array_bytes(&shape, item_size)).map_err(|e| self.bad(e))
    }

    fn descriptor(&self, ds: &hdf5::Dataset, name: &str) -> Result<TypeDescriptor, DatasetError> {
        ds.dtype().and_then(|t| t.to_descriptor()).map_err(|e| self.bad(format!("'{name}': unreadable type: {e}")))
    }

    /// Reads an integer dataset of the given rank; returns (shape, values).
    fn ints(&self, name: &str, rank: usize) -> Result<(Vec<usize>, Vec<i64>), DatasetError> {
        let ds = self.dataset(name)?;
        let ty = self.descriptor(&ds, name)?;
        if !matches!(ty, TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)) {
            return Err(self.bad(format!("'{name}' has type {ty}, expected an integer type (int64)")));
        }
        let shape = ds.shape();
        if shape.len() != rank {
            return Err(self.bad(format!("'{name}' has shape {shape:?}, expected rank {rank}")));
        }
        self.check_size(&ds, name, 8)?;
        let values = ds.read_raw::<i64>().map_err(|e| self.bad(format!("'{name}': {e}")))?;
        Ok((shape, values))
    }

    fn indices(&self, name: &str, bound: usize) -> Result<Vec<usize>, DatasetError> {
        let (_, values) = self.ints(name, 1)?;
        values
            .into_iter()
            .map(|v| {
                usize::try_from(v)
                    .ok()
                    .filter(|&i| i < bound)
                    .ok_or_else(|| self.bad(format!("'{name}' holds {v}, outside 0..{bound}")))
            })
            .collect()
    }

    fn floats(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), DatasetError> {
        let ds = self.dataset(name)?;
        let ty = self.descriptor(&ds, name)?;
        if !matches!(ty, TypeDescriptor::Float(_)) {
            return Err(self.bad(format!("'{name}' has type {ty}, expected float32")));
        }
        self.check_size(&ds, name, 4)?;
        let values = ds.read_raw::<f32>().map_err(|e| self.bad(format!("'{name}': {e}")))?;
        Ok((ds.shape(), values))
    }

    fn strings(&self, name: &str) -> Result<Vec<String>, DatasetError> {
        let ds = self.dataset(name)?;
        self.check_size(&ds, name, 16)?;
        let read = match self.descriptor(&ds, name)? {
            TypeDescriptor::VarLenUnicode => {
                ds.read_raw::<VarLenUnicode>().map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
            }
            TypeDescriptor::VarLenAscii => {
                ds.read_raw::<VarLenAscii>().map(|v| v.iter().map(|s| s.as_str().to_string()).collect())
            }
            ty => return Err(self.bad(format!("'{name}' has type {ty}, expected variable-length strings"))),
        };
        read.map_err(|e| self.bad(format!("'{name}': {e}")))
    }

    fn string_attr(&self, name: &str) -> Result<Option<String>, DatasetError> {
        let Ok(attr) = self.file.attr(name) else { return Ok(None) };
        let ty =
            attr.dtype().and_then(|t| t.to_descriptor()).map_err(|e| self.bad(format!("attribute '{name}': {e}")))?;
        let value = match ty {
            TypeDescriptor::VarLenUnicode => attr.read_scalar::<VarLenUnicode>().map(|s| s.as_str().to_string()),
            TypeDescriptor::VarLenAscii => attr.read_scalar::<VarLenAscii>().map(|s| s.as_str().to_string()),
            ty => return Err(self.bad(format!("attribute '{name}' has type {ty}, expected a string"))),
        };
        value.map(Some).map_err(|e| self.bad(format!("attribute '{name}': {e}")))
    }

    /// An optional integer scalar attribute of the root.
    fn int_attr(&self, name: &str) -> Result<Option<i64>, DatasetError> {
        let Ok(attr) = self.file.attr(name) else { return Ok(None) };
        match attr.dtype().and_then(|t| t.to_descriptor()) {
            Ok(TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)) => {}
            Ok(ty) => return Err(self.bad(format!("attribute '{name}' has type {ty}, expected an integer"))),
            Err(e) => return Err(self.bad(format!("attribute '{name}': {e}"))),
        }
        attr.read_scalar::<i64>().map(Some).map_err(|e| self.bad(format!("attribute '{name}': {e}")))
    }

    /// An optional floating-point scalar attribute of the root.
    fn float_attr(&self, name: &str) -> Result<Option<f64>, DatasetError> {
        let Ok(attr) = self.file.attr(name) else { return Ok(None) };
        match attr.dtype().and_then(|t| t.to_descriptor()) {
            Ok(TypeDescriptor::Float(_)) => {}
            Ok(ty) => return Err(self.bad(format!("attribute '{name}' has type {ty}, expected a float"))),
            Err(e) => return Err(self.bad(format!("attribute '{name}': {e}"))),
        }
        attr.read_scalar::<f64>().map(Some).map_err(|e| self.bad(format!("attribute '{name}': {e}")))
    }

    fn features(&self, n: usize) -> Result<CsMat<f32>, DatasetError> {
        if self.file.link_exists("features") {
            let (shape, values) = self.floats("features")?;
            let &[rows, cols] = shape.as_slice() else {
                return Err(self.bad(format!("'features' has shape {shape:?}, expected [nodes, features]")));
            };
            if rows != n {
                return Err(self.bad(format!("'features' has {rows} rows for {n} nodes")));
            }
            return csr_from_dense(rows, cols, &values).map_err(|e| self.bad(format!("'features': {e}")));
        }
        if !self.file.link_exists("features_csr") {
            return Err(self.bad("missing dataset 'features' (or group 'features_csr')"));
        }
        let (_, shape) = self.ints("features_csr/shape", 1)?;
        let &[rows, cols] = shape.as_slice() else {
            return Err(self.bad(format!("'features_csr/shape' has {} entries, expected 2", shape.len())));
        };
        let to_usize =
            |v: i64, what: &str| usize::try_from(v).map_err(|_| self.bad(format!("'features_csr/{what}' holds {v}")));
        let (rows, cols) = (to_usize(rows, "shape")?, to_usize(cols, "shape")?);
        if rows != n {
            return Err(self.bad(format!("'features_csr' has {rows} rows for {n} nodes")));
        }
        let (_, indptr) = self.ints("features_csr/indptr", 1)?;
        let (_, indices) = self.ints("features_csr/indices", 1)?;
        let (data_shape, data) = self.floats("features_csr/data")?;
        if data_shape.len() != 1 {
            return Err(self.bad(format!("'features_csr/data' has shape {data_shape:?}, expected rank 1")));
        }
        let indptr = indptr.into_iter().map(|v| to_usize(v, "indptr")).collect::<Result<Vec<_>, _>>()?;
        let indices = indices.into_iter().map(|v| to_usize(v, "indices")).collect::<Result<Vec<_>, _>>()?;
        csr_from_parts((rows, cols), Compressed::Rows, &indptr, &indices, &data)
            .map_err(|e| self.bad(format!("'features_csr': {e}")))
    }
}

/// Reads a gdistill HDF5 graph (layout above) and validates it.
pub fn read_h5graph(path: &Path) -> Result<NodeDataset, DatasetError> {
    isolate::read_guarded(path, isolate::ProbeKind::Graph, read_h5graph_unguarded)
}

/// The read itself, once the file has passed the guards of [`isolate::read_guarded`].
fn read_h5graph_unguarded(path: &Path) -> Result<NodeDataset, DatasetError> {
    let file = crate::h5file::open_input(path)?;
    let r = Reader { path, file };
    match r.string_attr("format")? {
        Some(f) if f == H5GRAPH_FORMAT => {}
        Some(f) => return Err(r.bad(format!("root attribute format is '{f}', expected '{H5GRAPH_FORMAT}'"))),
        None => return Err(r.bad(format!("no root attribute format='{H5GRAPH_FORMAT}': not a gdistill graph file"))),
    }
    let version = r
        .file
        .attr("version")
        .and_then(|a| a.read_scalar::<i64>())
        .map_err(|e| r.bad(format!("attribute 'version': {e}")))?;
    if version != H5GRAPH_VERSION {
        return Err(r.bad(format!("layout version {version}; this build reads version {H5GRAPH_VERSION}")));
    }
    let name = match r.string_attr("name")? {
        Some(name) => name,
        None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "h5".into()),
    };
    let (_, labels) = r.ints("labels", 1)?;
    let n = labels.len();
    let labels = labels
        .into_iter()
        .map(|y| usize::try_from(y).map_err(|_| r.bad(format!("'labels' holds {y}, a negative class"))))
        .collect::<Result<Vec<usize>, _>>()?;
    let class_names = if r.file.link_exists("class_names") {
        r.strings("class_names")?
    } else {
        crate::npz::default_class_names(&labels).map_err(|e| r.bad(format!("'labels': {e}")))?
    };
    if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= class_names.len()) {
        return Err(r.bad(format!("'labels': node {i} has label {y}, outside 0..{} (the classes)", class_names.len())));
    }
    let (shape, flat) = r.ints("edge_index", 2)?;
    if shape[0] != 2 {
        return Err(r.bad(format!("'edge_index' has shape {shape:?}, expected [2, edges]")));
    }
    let e = shape[1];
    let mut edges = Vec::with_capacity(e);
    for k in 0..e {
        let (a, b) = (flat[k], flat[e + k]);
        let node = |v: i64| usize::try_from(v).ok().filter(|&v| v < n);
        let (Some(i), Some(j)) = (node(a), node(b)) else {
            return Err(r.bad(format!("'edge_index' column {k} is ({a}, {b}): names a node outside 0..{n}")));
        };
        edges.push((i, j));
    }
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected()).map_err(|e| r.bad(e.to_string()))?;
    let features = r.features(n)?;
    let split = [r.indices("train_idx", n)?, r.indices("val_idx", n)?, r.indices("test_idx", n)?];
    let dataset = NodeDataset::labelled(name, graph, features, labels, class_names, split);
    dataset.validate()?;
    Ok(dataset)
}
