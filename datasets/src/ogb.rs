//! OGB's node-property layout (`ogbn-arxiv` and kin, as `ogb` downloads and unpacks them).
//!
//! `DIR` is the dataset folder (`ogbn_arxiv/`):
//!
//! | file | holds |
//! | --- | --- |
//! | `raw/num-node-list.csv.gz` | one line: the number of nodes `N` |
//! | `raw/num-edge-list.csv.gz` | one line: the number of edges `E` as stored |
//! | `raw/edge.csv.gz` | `E` lines `src,dst` (node ids `0..N`, no header) |
//! | `raw/node-feat.csv.gz` | `N` lines of comma-separated floats |
//! | `raw/node-label.csv.gz` | `N` lines of one class each; an empty or `nan` line is a node without a label |
//! | `split/<name>/{train,valid,test}.csv.gz` | one node id per line |
//!
//! Every file may also be uncompressed (`.csv`). The split folder is the only one under `split/`,
//! or the one `ogb:DIR:NAME` names.
//!
//! OGB stores edges as the source has them: arxiv's citations are directed, one line per
//! citation. gdistill's graphs are undirected, so every edge is read in both directions,
//! duplicates merged and self-loops dropped: PyTorch Geometric's `ToUndirected` (which keeps
//! self-loops; GCN adds its own). `data info` therefore counts arxiv's 1 166 243 stored edges as
//! the undirected edges they make.
//!
//! Nodes without a label (OGB writes NaN for them in some sets) cannot be trained or tested on:
//! they are the dataset's `unlabelled` nodes (class 0 in `labels`, meaning nothing), in no split,
//! given or drawn, and the loader says how many there are; a split file
//! naming one is an error. The counts in `num-node-list` and `num-edge-list` are checked against
//! the other files, so a file cut short is never read as a smaller graph.

use std::path::{Path, PathBuf};

use gdistill_graph::{EdgeOptions, Graph};

use crate::npz::default_class_names;
use crate::sparse::csr_from_dense;
use crate::table::Table;
use crate::{DatasetError, NodeDataset};

/// The most entries reserved up front from a count a file declares.
const PREALLOCATE: usize = 1 << 24;

/// `dir/stem.csv.gz`, or `dir/stem.csv` when only that exists.
fn table_path(dir: &Path, stem: &str) -> PathBuf {
    let gz = dir.join(format!("{stem}.csv.gz"));
    let plain = dir.join(format!("{stem}.csv"));
    if !gz.exists() && plain.exists() {
        plain
    } else {
        gz
    }
}

/// The single count a `num-*-list` file holds (OGB's node-property sets hold one graph).
fn read_count(path: &Path, what: &str) -> Result<usize, DatasetError> {
    let table = Table::read(path, what)?;
    let rows: Vec<_> = table.rows().collect();
    let [row] = rows.as_slice() else {
        return Err(table.error(format!(
            "{} lines, expected one: gdistill reads OGB node-property datasets of one graph",
            rows.len()
        )));
    };
    table.index(table.check_columns(row, 1, what)?, 0, what)
}

/// The split folder: the one named, else the only one under `split/`.
fn split_dir(dir: &Path, name: Option<&str>) -> Result<PathBuf, DatasetError> {
    let root = dir.join("split");
    if let Some(name) = name {
        let chosen = root.join(name);
        crate::input::check_input_dir(&chosen, "an OGB split folder with train, valid and test files")?;
        return Ok(chosen);
    }
    crate::input::check_input_dir(&root, "OGB's split/ folder, holding one folder per split")?;
    let entries = std::fs::read_dir(&root).map_err(|e| DatasetError::io(&root, e))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    match names.as_slice() {
        [only] => Ok(root.join(only)),
        [] => Err(DatasetError::format(&root, "no split folder: expected split/<name>/{train,valid,test}.csv.gz")),
        many => Err(DatasetError::format(
            &root,
            format!("{} split folders ({}): name one, as ogb:DIR:{}", many.len(), many.join(", "), many[0]),
        )),
    }
}

/// Node ids, one per line, each in `0..n` and labelled.
fn read_ids(path: &Path, n: usize, labelled: &[bool]) -> Result<Vec<usize>, DatasetError> {
    let table = Table::read(path, "OGB split node ids, one per line")?;
    let mut ids = Vec::new();
    for row in table.rows() {
        let id = table.index(table.check_columns(&row, 1, "one node id")?, 0, "node id")?;
        if id >= n {
            return Err(
                table.error_at(row.line, format!("node id {id} is outside 0..{n} (the nodes of num-node-list)"))
            );
        }
        if !labelled[id] {
            return Err(table.error_at(row.line, format!("node {id} has no label (NaN in node-label)")));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// Loads `dir` in OGB's node-property layout with the split `split` (or the only one). Returns
/// the dataset and what the caller should tell the user (nodes without labels).
pub fn load_ogb(dir: &Path, split: Option<&str>) -> Result<(NodeDataset, Vec<String>), DatasetError> {
    crate::input::check_input_dir(dir, "an OGB node-property dataset folder (raw/ and split/)")?;
    let raw = dir.join("raw");
    let n = read_count(&table_path(&raw, "num-node-list"), "OGB's node count")?;
    let e = read_count(&table_path(&raw, "num-edge-list"), "OGB's edge count")?;

    let labels_path = table_path(&raw, "node-label");
    let table = Table::read(&labels_path, "OGB node labels, one per line")?;
    // The declared counts are not trusted for allocation: a corrupt `10^12` must end in a count
    // mismatch, not an allocation failure.
    let mut labels = Vec::with_capacity(n.min(PREALLOCATE));
    let mut labelled = Vec::with_capacity(n.min(PREALLOCATE));
    // Lines are counted by hand: an empty line is an unlabelled node here, not a blank to skip.
    for (k, line) in table.text().lines().enumerate() {
        let token = line.trim();
        if token.is_empty() || token.eq_ignore_ascii_case("nan") {
            labels.push(0);
            labelled.push(false);
            continue;
        }
        let row = crate::table::Row { line: k + 1, tokens: token.split(',').map(str::trim).collect() };
        table.check_columns(&row, 1, "one class per node; multi-label sets are not read")?;
        labels.push(table.index(&row, 0, "class")?);
        labelled.push(true);
    }
    if labels.len() != n {
        return Err(table.error(format!("{} labels for {n} nodes (num-node-list)", labels.len())));
    }

    let feat_path = table_path(&raw, "node-feat");
    let table = Table::read(&feat_path, "OGB node features, one row of floats per node")?;
    let (rows, cols, values) = table.matrix()?;
    if rows != n {
        return Err(table.error(format!("{rows} feature rows for {n} nodes (num-node-list)")));
    }
    let features = csr_from_dense(rows, cols, &values).map_err(|m| table.error(m))?;
    drop(values);

    let edge_path = table_path(&raw, "edge");
    let table = Table::read(&edge_path, "OGB edges, one 'src,dst' per line")?;
    let mut edges = Vec::with_capacity(e.min(PREALLOCATE));
    for row in table.rows() {
        table.check_columns(&row, 2, "src,dst")?;
        let (a, b) = (table.index(&row, 0, "node id")?, table.index(&row, 1, "node id")?);
        if let Some(bad) = [a, b].into_iter().find(|&v| v >= n) {
            return Err(
                table.error_at(row.line, format!("node id {bad} is outside 0..{n} (the nodes of num-node-list)"))
            );
        }
        edges.push((a, b));
    }
    if edges.len() != e {
        return Err(table.error(format!("{} edges, but num-edge-list says {e}", edges.len())));
    }
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected()).map_err(|m| table.error(m.to_string()))?;
    drop(edges);

    // Unlabelled nodes hold 0, which leaves max(label) as the labelled nodes have it.
    let class_names = default_class_names(&labels).map_err(|m| DatasetError::format(&labels_path, m))?;
    let split = split_dir(dir, split)?;
    let train = read_ids(&table_path(&split, "train"), n, &labelled)?;
    let val = read_ids(&table_path(&split, "valid"), n, &labelled)?;
    let test = read_ids(&table_path(&split, "test"), n, &labelled)?;
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "ogb".into());
    let dataset = NodeDataset {
        unlabelled: labelled.iter().enumerate().filter(|(_, &l)| !l).map(|(v, _)| v).collect(),
        ..NodeDataset::labelled(name, graph, features, labels, class_names, [train, val, test])
    };
    // Overlapping split files and the like: named with the split folder they come from.
    dataset.validate().map_err(|e| DatasetError::format(&split, e.to_string()))?;
    let unlabelled = dataset.unlabelled.len();
    let mut notes = Vec::new();
    if unlabelled > 0 {
        notes.push(format!(
            "{}: {unlabelled} of {n} nodes have no label (NaN): in no split, drawn or given, and not in the class counts",
            labels_path.display()
        ));
    }
    Ok((dataset, notes))
}
