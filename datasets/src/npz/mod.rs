//! gnn-benchmark `.npz` graphs (Shchur et al. 2018): a zip of `.npy` arrays.
//!
//! Arrays read (the `adj_matrix.` / `attr_matrix.` spelling of the same keys is accepted too):
//! - `adj_data`, `adj_indices`, `adj_indptr`, `adj_shape`: the `n x n` adjacency in CSR form;
//!   every stored entry is an edge (weights are ignored), the graph is made undirected and
//!   self-loops are dropped;
//! - `attr_data`, `attr_indices`, `attr_indptr`, `attr_shape` (CSR features) or a dense
//!   `attr_matrix` `[n, f]`; a graph with neither (polblogs) loads with `n x 0` features, for
//!   [`crate::structural_features`] to fill in;
//! - `labels`: `n` integers in `0..classes`;
//! - optional `class_names`: one string per class (`classes` is its length; else `max(label) + 1`,
//!   which must not exceed the number of nodes).
//!
//! The split is a seeded per-class split ([`crate::split`], 20 train / 30 val per class by
//! default). [`write_npz`] writes such files (used by the tests).
//!
//! A file with `node_features` / `node_labels` / `edges` keys is in the heterophilous-graph
//! layout instead, with its splits stored in it ([`hetero`]); [`load_npz_split`] picks one.

pub mod hetero;
pub mod npy;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use gdistill_graph::{EdgeOptions, Graph};
use sprs::CsMat;

use crate::array::NdArray;
use crate::limits::check_memory;
use crate::sparse::{csr_from_dense, csr_from_parts, Compressed};
use crate::split::{per_class_split, SplitOptions};
use crate::{DatasetError, NodeDataset};

/// Reads every `.npy` member of an `.npz` archive, keyed by name without `.npy`.
pub fn read_npz(path: &Path) -> Result<HashMap<String, NdArray>, DatasetError> {
    let input = crate::input::open_input(path, &crate::input::InputKind::data("a gnn-benchmark .npz graph"))?;
    let mut archive = zip::ZipArchive::new(input.source)
        .map_err(|e| DatasetError::format(path, format!("not an npz (zip) archive: {e}")))?;
    let mut arrays = HashMap::new();
    for k in 0..archive.len() {
        let mut member = archive.by_index(k).map_err(|e| DatasetError::format(path, format!("zip member {k}: {e}")))?;
        let name = member.name().to_string();
        let Some(key) = name.strip_suffix(".npy") else { continue };
        // The archive declares each member's size: refuse an absurd one before reading, and
        // never read past it (a deflate stream can expand a thousandfold).
        let declared = member.size();
        check_memory(&format!("member {name} ({declared} bytes declared)"), declared as u128)
            .map_err(|e| DatasetError::format(path, e))?;
        let mut bytes = Vec::with_capacity(usize::try_from(declared.min(1 << 30)).unwrap_or(0));
        (&mut member)
            .take(declared.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| DatasetError::format(path, format!("{name}: {e}")))?;
        if bytes.len() as u64 != declared {
            return Err(DatasetError::format(
                path,
                format!("{name}: {} bytes of data, but the archive declares {declared}", bytes.len()),
            ));
        }
        let array = npy::read_npy(&bytes).map_err(|e| DatasetError::format(path, format!("{name}: {e}")))?;
        arrays.insert(key.to_string(), array);
    }
    Ok(arrays)
}

/// Writes arrays as an `.npz` archive (deflate-compressed members `<name>.npy`).
pub fn write_npz(path: &Path, arrays: &[(&str, &NdArray)]) -> Result<(), DatasetError> {
    let io = |e: std::io::Error| DatasetError::io(path, e);
    let file = File::create(path).map_err(io)?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, array) in arrays {
        zip.start_file(format!("{name}.npy"), options).map_err(|e| DatasetError::format(path, e.to_string()))?;
        zip.write_all(&npy::write_npy(array)).map_err(io)?;
    }
    zip.finish().map_err(|e| DatasetError::format(path, e.to_string()))?;
    Ok(())
}

/// Finds `<base>_<part>` or `<base>_matrix.<part>`.
fn member<'a>(arrays: &'a HashMap<String, NdArray>, base: &str, part: &str) -> Option<&'a NdArray> {
    arrays.get(&format!("{base}_{part}")).or_else(|| arrays.get(&format!("{base}_matrix.{part}")))
}

/// Reads the CSR matrix stored under `base` (`adj` or `attr`), if its four parts are there.
fn sparse_member(
    path: &Path,
    arrays: &HashMap<String, NdArray>,
    base: &str,
) -> Result<Option<CsMat<f32>>, DatasetError> {
    let parts = ["data", "indices", "indptr", "shape"].map(|p| member(arrays, base, p));
    let [Some(data), Some(indices), Some(indptr), Some(shape)] = parts else {
        if parts.iter().any(Option::is_some) {
            return Err(DatasetError::format(
                path,
                format!("{base}: some of {base}_data/indices/indptr/shape are missing"),
            ));
        }
        return Ok(None);
    };
    let bad = |m: String| DatasetError::format(path, format!("{base}: {m}"));
    let shape = shape.to_indices().map_err(|e| bad(format!("shape: {e}")))?;
    let &[rows, cols] = shape.as_slice() else {
        return Err(bad(format!("shape has {} entries, expected 2", shape.len())));
    };
    let indptr = indptr.to_indices().map_err(|e| bad(format!("indptr: {e}")))?;
    let indices = indices.to_indices().map_err(|e| bad(format!("indices: {e}")))?;
    let data = data.to_f32().map_err(|e| bad(format!("data: {e}")))?;
    csr_from_parts((rows, cols), Compressed::Rows, &indptr, &indices, &data).map(Some).map_err(bad)
}

/// `class_0 .. class_{max label}` for files without class names. A label at or above the number
/// of nodes would mean more classes than nodes (and, for a label like 10^12, that many names):
/// it is refused as corrupt.
pub(crate) fn default_class_names(labels: &[usize]) -> Result<Vec<String>, String> {
    let Some((i, &max)) = labels.iter().enumerate().max_by_key(|&(_, &y)| y) else { return Ok(Vec::new()) };
    if max >= labels.len() {
        return Err(format!(
            "label {max} of node {i}: without class names the classes are 0..=max(label), and {} classes for {} nodes means a corrupt label",
            max as u128 + 1,
            labels.len()
        ));
    }
    Ok((0..=max).map(|c| format!("class_{c}")).collect())
}

/// Loads a gnn-benchmark `.npz` graph, or a heterophilous-layout one with its first stored
/// split; the dataset is named after the file stem.
pub fn load_npz(path: &Path, split: &SplitOptions) -> Result<NodeDataset, DatasetError> {
    load_npz_with(path, split, None)
}

/// [`load_npz`] with stored split `index` of a heterophilous-layout file (0 when `None`). A
/// gnn-benchmark file stores no split: an index for one is an error, not silently ignored.
pub fn load_npz_split(path: &Path, index: Option<usize>) -> Result<NodeDataset, DatasetError> {
    load_npz_with(path, &SplitOptions::default(), index)
}

fn load_npz_with(path: &Path, split: &SplitOptions, index: Option<usize>) -> Result<NodeDataset, DatasetError> {
    let arrays = read_npz(path)?;
    if hetero::is_heterophilous(&arrays) {
        return hetero::load_heterophilous(path, &arrays, index.unwrap_or(0));
    }
    if let Some(k) = index {
        return Err(DatasetError::format(
            path,
            format!(
                "split index {k} given, but this gnn-benchmark npz stores no splits (only heterophilous-layout \
                 files, with train_masks/val_masks/test_masks, do); use --split to draw one"
            ),
        ));
    }
    let bad = |m: String| DatasetError::format(path, m);
    let adjacency = sparse_member(path, &arrays, "adj")?
        .ok_or_else(|| bad("no adjacency (adj_data, adj_indices, adj_indptr, adj_shape)".into()))?;
    let n = adjacency.rows();
    if adjacency.cols() != n {
        return Err(bad(format!("adjacency is {} x {}, not square", n, adjacency.cols())));
    }
    let features = match (sparse_member(path, &arrays, "attr")?, arrays.get("attr_matrix")) {
        (Some(f), _) => f,
        // A featureless graph is still a graph: features come later from its structure.
        (None, None) => CsMat::zero((n, 0)),
        (None, Some(dense)) => {
            let &[rows, cols] = dense.shape.as_slice() else {
                return Err(bad(format!("attr_matrix has shape {:?}, expected [nodes, features]", dense.shape)));
            };
            if rows != n {
                return Err(bad(format!("{rows} attribute rows for {n} nodes")));
            }
            let values = dense.to_f32().map_err(|e| bad(format!("attr_matrix: {e}")))?;
            csr_from_dense(rows, cols, &values).map_err(|e| bad(format!("attr_matrix: {e}")))?
        }
    };
    if features.rows() != n {
        return Err(bad(format!("{} attribute rows for {n} nodes", features.rows())));
    }
    let labels_array = arrays.get("labels").ok_or_else(|| bad("no 'labels' array".into()))?;
    if labels_array.shape.len() != 1 {
        return Err(bad(format!("labels have shape {:?}, expected [nodes]", labels_array.shape)));
    }
    let labels = labels_array.to_indices().map_err(|e| bad(format!("labels: {e}")))?;
    if labels.len() != n {
        return Err(bad(format!("{} labels for {n} nodes", labels.len())));
    }
    let class_names = match arrays.get("class_names") {
        Some(names) => names.to_strings().map_err(|e| bad(format!("class_names: {e}")))?,
        None => default_class_names(&labels).map_err(bad)?,
    };
    if let Some((i, &y)) = labels.iter().enumerate().find(|(_, &y)| y >= class_names.len()) {
        return Err(bad(format!("label {y} of node {i} is outside 0..{} (the number of classes)", class_names.len())));
    }
    let edges: Vec<(usize, usize)> = adjacency.iter().map(|(_, (i, j))| (i, j)).collect();
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected()).map_err(|e| bad(e.to_string()))?;
    let num_classes = class_names.len();
    let s = per_class_split(&labels, num_classes, split);
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "npz".into());
    let dataset = NodeDataset {
        name,
        graph,
        features,
        labels,
        num_classes,
        class_names,
        train: s.train,
        val: s.val,
        test: s.test,
        unlabelled: Vec::new(),
    };
    dataset.validate()?;
    Ok(dataset)
}
