//! A user's own graph as plain files: `csv:edges=FILE,features=FILE,labels=FILE[,split=FILE]`.
//!
//! | file | holds |
//! | --- | --- |
//! | `edges` | one edge per line: two node ids, comma or whitespace separated |
//! | `features` | one row of floats per node (CSV or whitespace), or a `.npy` float32/float64 `[N, F]` |
//! | `labels` | one class per line, or two columns `node,label` (each node once) |
//! | `split` | optional: one of `train`, `val` (or `valid`), `test` per node, or `-` for none |
//!
//! Nodes are `0..N-1`, `N` being the number of labels: edge, feature and split rows are checked
//! against it, and an id outside it is an error naming the file and line (gdistill does not
//! renumber ids, so that the ids in a report are the user's). Any text file may be gzip
//! compressed, may start with a header line of words and may hold `#` comments
//! ([`crate::table`]). Edges are read as undirected, duplicates merged and self-loops dropped,
//! as for every other graph. The dataset is named after the folder holding the edge list. Without a split file the split is the loaders' seeded per-class
//! split (20 train / 30 validation per class, the rest test); `--split` draws another.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use gdistill_graph::{EdgeOptions, Graph};
use sprs::CsMat;

use crate::npz::default_class_names;
use crate::sparse::csr_from_dense;
use crate::split::{per_class_split, SplitOptions};
use crate::table::Table;
use crate::{DatasetError, NodeDataset};

/// The files of a `csv:` spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvSpec {
    /// The edge list.
    pub edges: PathBuf,
    /// The feature table (text or `.npy`).
    pub features: PathBuf,
    /// The labels.
    pub labels: PathBuf,
    /// The split file, if any.
    pub split: Option<PathBuf>,
}

impl CsvSpec {
    /// The same spec with every path passed through `resolve` (relative paths under the data
    /// directory).
    pub fn map_paths(&self, resolve: impl Fn(&Path) -> PathBuf) -> CsvSpec {
        CsvSpec {
            edges: resolve(&self.edges),
            features: resolve(&self.features),
            labels: resolve(&self.labels),
            split: self.split.as_deref().map(&resolve),
        }
    }
}

impl FromStr for CsvSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (mut edges, mut features, mut labels, mut split) = (None, None, None, None);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| format!("'{part}' is not key=FILE"))?;
            let slot = match key.trim() {
                "edges" => &mut edges,
                "features" => &mut features,
                "labels" => &mut labels,
                "split" => &mut split,
                other => return Err(format!("unknown key '{other}' (keys: edges, features, labels, split)")),
            };
            if slot.replace(PathBuf::from(value.trim())).is_some() {
                return Err(format!("'{}' given twice", key.trim()));
            }
        }
        let need = |v: Option<PathBuf>, key: &str| {
            v.ok_or_else(|| format!("no {key}=FILE: csv: needs edges=FILE,features=FILE,labels=FILE[,split=FILE]"))
        };
        Ok(CsvSpec {
            edges: need(edges, "edges")?,
            features: need(features, "features")?,
            labels: need(labels, "labels")?,
            split,
        })
    }
}

/// Labels, one per line or `node,label` pairs; their count is the number of nodes.
fn read_labels(path: &Path) -> Result<Vec<usize>, DatasetError> {
    let table = Table::read(path, "node labels, one class per line")?;
    let mut rows = table.rows().peekable();
    let pairs = rows.peek().is_some_and(|r| r.tokens.len() == 2);
    if !pairs {
        return rows.map(|row| table.index(table.check_columns(&row, 1, "one class per line")?, 0, "class")).collect();
    }
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for row in rows {
        table.check_columns(&row, 2, "node,label")?;
        found.push((table.index(&row, 0, "node id")?, table.index(&row, 1, "class")?, row.line));
    }
    let n = found.len();
    let mut labels = vec![None; n];
    for &(node, class, line) in &found {
        let slot = labels.get_mut(node).ok_or_else(|| {
            table.error_at(line, format!("node id {node} is outside 0..{n} (one line per node, ids 0..N-1)"))
        })?;
        if slot.replace(class).is_some() {
            return Err(table.error_at(line, format!("node {node} is labelled twice")));
        }
    }
    // n lines, ids in 0..n, none twice: every node has its label.
    Ok(labels.into_iter().map(|l| l.unwrap_or(0)).collect())
}

/// Features for the `n` nodes of the labels file `nodes`: a `.npy` float array or a text table.
fn read_features(path: &Path, n: usize, nodes: &Path) -> Result<CsMat<f32>, DatasetError> {
    let npy = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let (rows, cols, values) = if npy {
        let bytes = crate::error::read_file(path, "node features as a .npy [N, F] float array")?;
        let bad = |m: String| DatasetError::format(path, m);
        let array = crate::npz::npy::read_npy(&bytes).map_err(bad)?;
        let &[rows, cols] = array.shape.as_slice() else {
            return Err(bad(format!("features have shape {:?}, expected [nodes, features]", array.shape)));
        };
        if !matches!(array.data, crate::array::ArrayData::F32(_) | crate::array::ArrayData::F64(_)) {
            return Err(bad(format!("features are {}, expected float32 or float64", array.kind_name())));
        }
        let values = array.to_f32().map_err(bad)?;
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "feature ({}, {}) is {} as a float32: features must be finite",
                k / cols.max(1),
                k % cols.max(1),
                values[k]
            )));
        }
        (rows, cols, values)
    } else {
        Table::read(path, "node features, one row of numbers per node")?.matrix()?
    };
    if rows != n {
        return Err(DatasetError::format(
            path,
            format!("{rows} feature rows for {n} nodes (the labels in {})", nodes.display()),
        ));
    }
    csr_from_dense(rows, cols, &values).map_err(|m| DatasetError::format(path, m))
}

/// Edges among the `n` nodes of the labels file `nodes`.
fn read_edges(path: &Path, n: usize, nodes: &Path) -> Result<Vec<(usize, usize)>, DatasetError> {
    let table = Table::read(path, "an edge list, two node ids per line")?;
    let mut edges = Vec::new();
    for row in table.rows() {
        table.check_columns(&row, 2, "two node ids")?;
        let (a, b) = (table.index(&row, 0, "node id")?, table.index(&row, 1, "node id")?);
        if let Some(bad) = [a, b].into_iter().find(|&v| v >= n) {
            return Err(table.error_at(
                row.line,
                format!("node id {bad} is outside 0..{n} (the nodes labelled in {})", nodes.display()),
            ));
        }
        edges.push((a, b));
    }
    Ok(edges)
}

/// The split file: one word per node of the labels file `nodes`.
fn read_split(path: &Path, n: usize, nodes: &Path) -> Result<[Vec<usize>; 3], DatasetError> {
    let table = Table::read(path, "a split file, one of train/val/test per node")?;
    let mut parts: [Vec<usize>; 3] = Default::default();
    let mut count = 0;
    // No header detection: every line is a word here.
    for (k, line) in table.text().lines().enumerate() {
        let word = line.trim();
        if word.is_empty() || word.starts_with('#') {
            continue;
        }
        let part = match word.to_ascii_lowercase().as_str() {
            "train" => Some(0),
            "val" | "valid" | "validation" => Some(1),
            "test" => Some(2),
            "-" | "none" => None,
            _ => return Err(table.error_at(k + 1, format!("'{word}' is not train, val, test or -"))),
        };
        if let Some(p) = part {
            parts[p].push(count);
        }
        count += 1;
    }
    if count != n {
        return Err(table.error(format!("{count} lines for {n} nodes (the labels in {})", nodes.display())));
    }
    Ok(parts)
}

/// Loads the graph a `csv:` spec names (paths already resolved).
pub fn load_csv(spec: &CsvSpec) -> Result<NodeDataset, DatasetError> {
    let labels = read_labels(&spec.labels)?;
    let n = labels.len();
    if n == 0 {
        return Err(DatasetError::format(&spec.labels, "no labels: the file holds no data line"));
    }
    let class_names = default_class_names(&labels).map_err(|m| DatasetError::format(&spec.labels, m))?;
    let features = read_features(&spec.features, n, &spec.labels)?;
    let edges = read_edges(&spec.edges, n, &spec.labels)?;
    let graph = Graph::from_edges(n, &edges, EdgeOptions::undirected())
        .map_err(|m| DatasetError::format(&spec.edges, m.to_string()))?;
    let [train, val, test] = match &spec.split {
        Some(path) => read_split(path, n, &spec.labels)?,
        None => {
            let s = per_class_split(&labels, class_names.len(), &SplitOptions::default());
            [s.train, s.val, s.test]
        }
    };
    // Named after the folder holding the edges (one graph per folder), else the file's stem.
    let folder = spec.edges.parent().and_then(Path::file_name).filter(|f| !f.is_empty());
    let name =
        folder.or_else(|| spec.edges.file_stem()).map_or_else(|| "csv".into(), |s| s.to_string_lossy().into_owned());
    let dataset = NodeDataset::labelled(name, graph, features, labels, class_names, [train, val, test]);
    // Overlapping splits and the like: named with the file they come from.
    dataset.validate().map_err(|e| DatasetError::format(spec.split.as_ref().unwrap_or(&spec.labels), e.to_string()))?;
    Ok(dataset)
}
