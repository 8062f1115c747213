//! The heterophilous-graph `.npz` layout (Platonov et al., "A critical look at the evaluation of
//! GNNs under heterophily", ICLR 2023: roman-empire, amazon-ratings, minesweeper, tolokers,
//! questions), read by the same `npz:PATH` spec as gnn-benchmark files and told apart by its keys.
//!
//! | key | shape | holds |
//! | --- | --- | --- |
//! | `node_features` | `[N, F]` float | dense features |
//! | `node_labels` | `[N]` integer | classes `0..C` |
//! | `edges` | `[E, 2]` integer | edges (read as undirected, duplicates merged, self-loops dropped) |
//! | `train_masks`, `val_masks`, `test_masks` | `[S, N]` boolean (or 0/1) | `S` splits, one per row |
//!
//! The files carry ten fixed splits (50/25/25) rather than a rule to draw them, and papers
//! report the mean over those ten: split `K` is row `K` of the masks (`npz:PATH:K`, or
//! `--split-index K`; 0 by default), and `--split public` keeps it. A mask of another shape, a
//! split index past `S`, or masks that overlap are errors naming the file.

use std::collections::HashMap;
use std::path::Path;

use gdistill_graph::{EdgeOptions, Graph};

use super::default_class_names;
use crate::array::{ArrayData, NdArray};
use crate::sparse::csr_from_dense;
use crate::{DatasetError, NodeDataset};

/// The keys that mark the layout.
pub(crate) fn is_heterophilous(arrays: &HashMap<String, NdArray>) -> bool {
    ["node_features", "node_labels", "edges"].iter().any(|k| arrays.contains_key(*k))
}

/// Row `index` of the `[S, n]` mask array `key`, as the node ids it marks.
fn mask_row(
    path: &Path,
    arrays: &HashMap<String, NdArray>,
    key: &str,
    n: usize,
    index: usize,
) -> Result<Vec<usize>, DatasetError> {
    let bad = |m: String| DatasetError::format(path, format!("{key}: {m}"));
    let array = arrays.get(key).ok_or_else(|| DatasetError::format(path, format!("no '{key}' array")))?;
    let (splits, width) = match array.shape.as_slice() {
        &[s, w] => (s, w),
        &[w] => (1, w),
        shape => return Err(bad(format!("shape {shape:?}, expected [splits, {n}]"))),
    };
    if width != n {
        return Err(bad(format!("shape {:?}, expected [splits, {n}] (one column per node)", array.shape)));
    }
    if index >= splits {
        return Err(bad(format!(
            "split index {index} is out of range: the file holds {splits} split{} (0..{splits})",
            if splits == 1 { "" } else { "s" }
        )));
    }
    let row = index * n..(index + 1) * n;
    let marked: Vec<bool> = match &array.data {
        ArrayData::Bool(v) => v[row].to_vec(),
        ArrayData::Int(v) => v[row]
            .iter()
            .enumerate()
            .map(|(i, &x)| match x {
                0 | 1 => Ok(x == 1),
                _ => Err(bad(format!("node {i} of split {index} holds {x}: a mask holds 0/1 or booleans"))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad(format!("{} values, expected booleans", array.kind_name()))),
    };
    Ok(marked.iter().enumerate().filter(|(_, &m)| m).map(|(i, _)| i).collect())
}

/// Loads a heterophilous-layout file with split `index` (row of the masks).
pub(crate) fn load_heterophilous(
    path: &Path,
    arrays: &HashMap<String, NdArray>,
    index: usize,
) -> Result<NodeDataset, DatasetError> {
    let bad = |m: String| DatasetError::format(path, m);
    let get = |key: &str| arrays.get(key).ok_or_else(|| bad(format!("no '{key}' array (heterophilous-graph layout)")));

    let labels_array = get("node_labels")?;
    if labels_array.shape.len() != 1 {
        return Err(bad(format!("node_labels have shape {:?}, expected [nodes]", labels_array.shape)));
    }
    let labels = labels_array.to_indices().map_err(|e| bad(format!("node_labels: {e}")))?;
    let n = labels.len();

    let x = get("node_features")?;
    let &[rows, cols] = x.shape.as_slice() else {
        return Err(bad(format!("node_features have shape {:?}, expected [nodes, features]", x.shape)));
    };
    if rows != n {
        return Err(bad(format!("node_features have {rows} rows, but node_labels has {n} labels")));
    }
    let values = x.to_f32().map_err(|e| bad(format!("node_features: {e}")))?;
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "node_features ({}, {}) is {}: features must be finite",
            k / cols.max(1),
            k % cols.max(1),
            values[k]
        )));
    }
    let features = csr_from_dense(rows, cols, &values).map_err(|e| bad(format!("node_features: {e}")))?;

    let e = get("edges")?;
    let &[count, 2] = e.shape.as_slice() else {
        return Err(bad(format!("edges have shape {:?}, expected [edges, 2]", e.shape)));
    };
    let ids = e.to_indices().map_err(|m| bad(format!("edges: {m}")))?;
    let mut edges = Vec::with_capacity(count);
    for (k, pair) in ids.chunks_exact(2).enumerate() {
        if let Some(&v) = pair.iter().find(|&&v| v >= n) {
            return Err(bad(format!("edges: row {k} ({}, {}) names node {v}, outside 0..{n}", pair[0], pair[1])));
        }
        edges.push((pair[0], pair[1]));
    }
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected()).map_err(|m| bad(m.to_string()))?;

    let class_names = default_class_names(&labels).map_err(bad)?;
    let train = mask_row(path, arrays, "train_masks", n, index)?;
    let val = mask_row(path, arrays, "val_masks", n, index)?;
    let test = mask_row(path, arrays, "test_masks", n, index)?;
    let name = path.file_stem().map_or_else(|| "npz".into(), |s| s.to_string_lossy().into_owned());
    let dataset = NodeDataset::labelled(name, graph, features, labels, class_names, [train, val, test]);
    // Overlapping masks and the like: named with the file, which a library caller may not know.
    dataset.validate().map_err(|e| bad(e.to_string()))?;
    Ok(dataset)
}
