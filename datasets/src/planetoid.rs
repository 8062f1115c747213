//! Planetoid split files (`ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}`), read exactly as
//! PyTorch Geometric's `read_planetoid_data` reads them.
//!
//! - `x` (the training nodes' features, a copy of the first `allx` rows) is parsed and its
//!   shape checked against `y` and `allx`, but not otherwise used;
//! - features: `allx` rows for nodes `0..len(allx)`, then row `i` of `tx` for node
//!   `test.index[i]` (the test rows are stored unsorted);
//! - the node count is `max(len(allx) + len(tx), max(test.index) + 1)`: Citeseer's test index
//!   range has 15 gaps, which become nodes with zero features and an all-zero label row (class 0)
//!   that belong to no split (3327 nodes); this is what PyG's Citeseer special case produces;
//!   more such gaps than `tx` rows is refused as a corrupt index (an index of 10^12 would
//!   otherwise create that many nodes);
//! - labels: argmax of the one-hot rows of `ally` / `ty` (non-finite entries are refused);
//! - split: train `0..len(y)`, val `len(y)..len(y)+500`, test `test.index` (sorted);
//! - edges: the `graph` dict of adjacency lists, self-loops removed, duplicates merged, undirected.
//!
//! Class names: Cora's and Citeseer's LINQS class names in Planetoid's label order (established by
//! matching the nodes of the two encodings, see `tests/linqs_vs_planetoid.rs`); `class_k` for
//! other datasets.

use std::collections::HashMap;
use std::path::Path;

use gdistill_graph::{EdgeOptions, Graph};
use sprs::CsMat;

use crate::error::read_file;
use crate::pickle::decode::{decode_adjacency_dict, decode_ndarray, decode_sparse_matrix};
use crate::pickle::Pickle;
use crate::sparse::vstack;
use crate::{DatasetError, NodeDataset};

/// Cora's LINQS class names in the order of the Planetoid one-hot label columns.
pub const CORA_CLASS_NAMES: [&str; 7] = [
    "Theory",
    "Reinforcement_Learning",
    "Genetic_Algorithms",
    "Neural_Networks",
    "Probabilistic_Methods",
    "Case_Based",
    "Rule_Learning",
];

/// Citeseer's LINQS class names in the order of the Planetoid one-hot label columns.
pub const CITESEER_CLASS_NAMES: [&str; 6] = ["AI", "ML", "IR", "DB", "Agents", "HCI"];

/// Size of the Planetoid validation split.
const NUM_VAL: usize = 500;

/// What the Planetoid loader noticed beyond the dataset itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanetoidReport {
    /// Nodes inside the test-index range that have no row in `tx`/`ty` (zero features, class 0,
    /// in no split): Citeseer's 15 isolated test ids.
    pub nodes_without_data: Vec<usize>,
}

fn hint_for(ext: &str) -> &'static str {
    match ext {
        "allx" => {
            "Planetoid keeps the features of all non-test nodes in ind.<name>.allx; without it the \
             features of most nodes are absent and the dataset cannot be built"
        }
        _ => "one of the eight Planetoid ind.<name>.* split files",
    }
}

fn read_pickle(path: &Path, ext: &str) -> Result<Pickle, DatasetError> {
    let bytes = read_file(path, hint_for(ext))?;
    Pickle::parse(&bytes).map_err(|e| DatasetError::format(path, e.to_string()))
}

fn read_matrix(path: &Path, ext: &str) -> Result<CsMat<f32>, DatasetError> {
    let p = read_pickle(path, ext)?;
    decode_sparse_matrix(&p, p.root()).map_err(|e| DatasetError::format(path, e))
}

/// Reads a one-hot label matrix: returns (rows, classes, argmax per row, all-zero flag per row).
fn read_labels(path: &Path, ext: &str) -> Result<(usize, Vec<(usize, bool)>), DatasetError> {
    let p = read_pickle(path, ext)?;
    let array = decode_ndarray(&p, p.root()).map_err(|e| DatasetError::format(path, e))?;
    let &[rows, classes] = array.shape.as_slice() else {
        return Err(DatasetError::format(path, format!("labels have shape {:?}, expected 2-D one-hot", array.shape)));
    };
    if classes == 0 {
        return Err(DatasetError::format(path, format!("labels have shape {:?}: no class columns", array.shape)));
    }
    let values = array.to_f32().map_err(|e| DatasetError::format(path, e))?;
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let (r, c) = (k / classes, k % classes);
        return Err(DatasetError::format(
            path,
            format!("label row {r}, column {c} is {}: labels must be finite", values[k]),
        ));
    }
    let mut labels = Vec::with_capacity(rows);
    for r in 0..rows {
        let row = &values[r * classes..(r + 1) * classes];
        let (mut best, mut best_value) = (0, f32::NEG_INFINITY);
        for (c, &v) in row.iter().enumerate() {
            if v > best_value {
                (best, best_value) = (c, v);
            }
        }
        labels.push((best, row.iter().all(|&v| v == 0.0)));
    }
    Ok((classes, labels))
}

fn read_test_index(path: &Path) -> Result<Vec<usize>, DatasetError> {
    let bytes = read_file(path, hint_for("test.index"))?;
    let text = String::from_utf8(bytes).map_err(|_| DatasetError::format(path, "not UTF-8 text"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(k, l)| {
            l.trim()
                .parse::<usize>()
                .map_err(|_| DatasetError::format(path, format!("line {}: '{l}' is not a node index", k + 1)))
        })
        .collect()
}

/// Loads `dir/ind.<name>.*`; see the module documentation for the exact rules.
pub fn load_planetoid(dir: &Path, name: &str) -> Result<NodeDataset, DatasetError> {
    load_planetoid_with_report(dir, name).map(|(dataset, _)| dataset)
}

/// [`load_planetoid`], also returning what was noticed on the way.
pub fn load_planetoid_with_report(dir: &Path, name: &str) -> Result<(NodeDataset, PlanetoidReport), DatasetError> {
    let file = |ext: &str| dir.join(format!("ind.{name}.{ext}"));
    // Name the first missing file before parsing anything (pubmed lacks allx).
    for ext in ["x", "y", "tx", "ty", "allx", "ally", "graph", "test.index"] {
        if !file(ext).exists() {
            return Err(DatasetError::missing(file(ext), Some(hint_for(ext).into())));
        }
    }
    let (y_path, allx_path, ally_path, tx_path, ty_path) =
        (file("y"), file("allx"), file("ally"), file("tx"), file("ty"));
    let (classes, y) = read_labels(&y_path, "y")?;
    let allx = read_matrix(&allx_path, "allx")?;
    // `x` repeats the first rows of `allx` (the labelled nodes); it is not needed, but a file
    // that is there must be sound and agree, so a damaged copy is reported, not ignored.
    let x_path = file("x");
    let x = read_matrix(&x_path, "x")?;
    if x.rows() != y.len() || x.cols() != allx.cols() {
        return Err(DatasetError::format(
            &x_path,
            format!(
                "{} x {} features, but y has {} rows and allx {} columns",
                x.rows(),
                x.cols(),
                y.len(),
                allx.cols()
            ),
        ));
    }
    let (ally_classes, ally) = read_labels(&ally_path, "ally")?;
    let tx = read_matrix(&tx_path, "tx")?;
    let (ty_classes, ty) = read_labels(&ty_path, "ty")?;
    let test_path = file("test.index");
    let test_index = read_test_index(&test_path)?;

    let (n_allx, n_tx) = (allx.rows(), tx.rows());
    if ally.len() != n_allx {
        return Err(DatasetError::format(&ally_path, format!("{} label rows but allx has {n_allx} rows", ally.len())));
    }
    if ty.len() != n_tx || test_index.len() != n_tx {
        return Err(DatasetError::format(
            &test_path,
            format!("{} test indices, {} rows in tx, {} rows in ty: they must agree", test_index.len(), n_tx, ty.len()),
        ));
    }
    if ally_classes != classes || ty_classes != classes {
        return Err(DatasetError::format(
            &ty_path,
            format!("y, ally, ty have {classes}, {ally_classes}, {ty_classes} classes"),
        ));
    }
    if tx.cols() != allx.cols() {
        return Err(DatasetError::format(
            &tx_path,
            format!("{} feature columns but allx has {}", tx.cols(), allx.cols()),
        ));
    }
    if y.len() + NUM_VAL > n_allx {
        return Err(DatasetError::format(
            &y_path,
            format!("{} training rows + {NUM_VAL} validation rows exceed the {n_allx} rows of allx", y.len()),
        ));
    }
    let n = test_index.iter().map(|&i| i.saturating_add(1)).max().unwrap_or(0).max(n_allx + n_tx);
    // Gaps in the test-index range become nodes without data (Citeseer has 15 among 1000 test
    // rows); more gaps than test rows means a corrupt index, not a sparse range, and an index
    // like 10^12 would otherwise make that many nodes.
    let gaps = n - (n_allx + n_tx);
    if gaps > n_tx.max(1) {
        let max = test_index.iter().max().copied().unwrap_or(0);
        return Err(DatasetError::format(
            &test_path,
            format!(
                "test index {max} implies {n} nodes, {gaps} of them without features or labels (more than the {n_tx} test rows): a corrupt index"
            ),
        ));
    }
    let mut row_of_node: HashMap<usize, usize> = HashMap::with_capacity(n_tx);
    for (row, &node) in test_index.iter().enumerate() {
        if node < n_allx {
            return Err(DatasetError::format(&test_path, format!("test node {node} collides with allx row {node}")));
        }
        if row_of_node.insert(node, row).is_some() {
            return Err(DatasetError::format(&test_path, format!("test node {node} is listed twice")));
        }
    }

    // Features and labels in node order.
    let empty = CsMat::zero((1, allx.cols()));
    let mut features_rows: Vec<CsMat<f32>> = Vec::with_capacity(n - n_allx);
    let mut labels: Vec<usize> = ally.iter().map(|&(c, _)| c).collect();
    let mut unlabelled: Vec<usize> = ally.iter().enumerate().filter(|(_, &(_, z))| z).map(|(i, _)| i).collect();
    let mut report = PlanetoidReport::default();
    for node in n_allx..n {
        match row_of_node.get(&node) {
            Some(&row) => {
                features_rows.push(tx.slice_outer(row..row + 1).to_owned());
                labels.push(ty[row].0);
                if ty[row].1 {
                    unlabelled.push(node);
                }
            }
            None => {
                features_rows.push(empty.clone());
                labels.push(0);
                unlabelled.push(node);
                report.nodes_without_data.push(node);
            }
        }
    }
    let mut parts: Vec<&CsMat<f32>> = vec![&allx];
    parts.extend(features_rows.iter());
    let features = vstack(&parts).map_err(|e| DatasetError::format(&tx_path, e))?;

    let train: Vec<usize> = (0..y.len()).collect();
    let val: Vec<usize> = (y.len()..y.len() + NUM_VAL).collect();
    let mut test = test_index.clone();
    test.sort_unstable();
    for (split, ids) in [("train", &train), ("val", &val), ("test", &test)] {
        if let Some(node) = ids.iter().find(|i| unlabelled.binary_search(i).is_ok()) {
            return Err(DatasetError::format(
                &ally_path,
                format!("node {node} is in the {split} split but its label row is all zeros"),
            ));
        }
    }
    if let Some((i, _)) = y.iter().zip(&labels).enumerate().find(|(_, (a, b))| a.0 != **b) {
        return Err(DatasetError::format(&y_path, format!("label of training node {i} differs from its row in ally")));
    }

    let graph_path = file("graph");
    let p = read_pickle(&graph_path, "graph")?;
    let adjacency = decode_adjacency_dict(&p, p.root()).map_err(|e| DatasetError::format(&graph_path, e))?;
    let edges: Vec<(usize, usize)> = adjacency.iter().flat_map(|(i, ns)| ns.iter().map(move |&j| (*i, j))).collect();
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected())
        .map_err(|e| DatasetError::format(&graph_path, e.to_string()))?;

    let class_names: Vec<String> = match (name, classes) {
        ("cora", 7) => CORA_CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        ("citeseer", 6) => CITESEER_CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        _ => (0..classes).map(|c| format!("class_{c}")).collect(),
    };
    let dataset = NodeDataset {
        name: name.to_string(),
        graph,
        features,
        labels,
        num_classes: classes,
        class_names,
        train,
        val,
        test,
        unlabelled,
    };
    dataset.validate()?;
    Ok((dataset, report))
}
