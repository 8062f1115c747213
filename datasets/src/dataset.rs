//! The node-classification dataset type.

use gdistill_graph::Graph;
use serde::Serialize;
use sprs::CsMat;

use crate::DatasetError;

/// The numbers that describe a dataset: what `gdistill data info --json` writes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetSummary {
    /// Dataset name.
    pub name: String,
    /// Number of nodes.
    pub nodes: usize,
    /// Undirected edges, self-loops not counted.
    pub edges: usize,
    /// Feature dimension.
    pub features: usize,
    /// Fraction of feature entries that are non-zero.
    pub feature_density: f64,
    /// Number of classes.
    pub classes: usize,
    /// Labelled nodes per class, in class order.
    pub class_counts: Vec<usize>,
    /// Nodes the source gives no label (OGB's NaN, Planetoid's all-zero label rows).
    pub unlabelled: usize,
    /// Training nodes.
    pub train: usize,
    /// Validation nodes.
    pub val: usize,
    /// Test nodes.
    pub test: usize,
    /// Nodes with no neighbour other than themselves.
    pub isolated_nodes: usize,
    /// Nodes with an edge to themselves.
    pub self_loops: usize,
}

/// The feature density at or below which [`FeatureLayout::Auto`] holds features as CSR. Measured
/// by `examples/feature_layout_crossover.rs` through the sparse-product tape, as training runs
/// (docs/performance-and-scale.md, "Feature layout"): since the CPU dropout mask became cheap,
/// the input layer's training step with CSR features costs 0.43 of the dense one at 15%, 0.6 at
/// 20%, 0.9 at 25% and 1.0-1.1 at 30% (Amazon Computers' shape, one thread; 0.59, 0.72, 1.04,
/// 1.26 on two); 15% keeps a margin below that crossover.
pub const SPARSE_FEATURE_DENSITY: f64 = 0.15;

/// How node features are stored: in an HDF5 file, or on a device for training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FeatureLayout {
    /// A dense `[N, F]` array.
    Dense,
    /// Compressed sparse rows.
    Sparse,
    /// Sparse when at most [`SPARSE_FEATURE_DENSITY`] of the entries are non-zero, else dense.
    #[default]
    Auto,
}

impl std::str::FromStr for FeatureLayout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(FeatureLayout::Auto),
            "dense" => Ok(FeatureLayout::Dense),
            "sparse" | "csr" => Ok(FeatureLayout::Sparse),
            other => Err(format!("feature layout '{other}': expected auto, dense or sparse")),
        }
    }
}

impl FeatureLayout {
    /// Whether `dataset`'s features are to be stored sparse under this layout.
    pub fn is_sparse_for(self, dataset: &NodeDataset) -> bool {
        match self {
            FeatureLayout::Dense => false,
            FeatureLayout::Sparse => true,
            FeatureLayout::Auto => dataset.feature_density() <= SPARSE_FEATURE_DENSITY,
        }
    }
}

/// Which part of the node split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Nodes whose labels are used for training.
    Train,
    /// Nodes for model selection / early stopping.
    Val,
    /// Held-out nodes for the reported accuracy.
    Test,
}

/// A graph with node features, labels and a train/val/test split.
///
/// Invariants (checked by [`NodeDataset::validate`], which every loader calls): the graph has
/// `labels.len()` nodes, features have one row per node, every label is `< num_classes`, every
/// feature is finite, split indices are in range and disjoint, and no unlabelled node is in a
/// split.
#[derive(Clone, Debug)]
pub struct NodeDataset {
    /// Short name (`cora`, the file stem, `csbm`).
    pub name: String,
    /// Undirected graph, one node per label.
    pub graph: Graph,
    /// `num_nodes x num_features`, CSR.
    pub features: CsMat<f32>,
    /// Class of each node, `0..num_classes`.
    pub labels: Vec<usize>,
    /// Number of classes (some may have no node).
    pub num_classes: usize,
    /// One name per class; `class_0`, `class_1`, ... when the source has none.
    pub class_names: Vec<String>,
    /// Training node indices.
    pub train: Vec<usize>,
    /// Validation node indices.
    pub val: Vec<usize>,
    /// Test node indices.
    pub test: Vec<usize>,
    /// Nodes whose source gives no label, sorted (usually none). Their `labels` entry is 0 and
    /// means nothing: they are in no split, a drawn split never picks them and they are not
    /// counted in [`NodeDataset::class_counts`]; they stay in the graph, its features and every
    /// transfer set, as any node without a split does.
    pub unlabelled: Vec<usize>,
}

impl NodeDataset {
    /// A dataset whose every node is labelled, with one class per name and `split` as training,
    /// validation and test nodes; not yet validated (a loader calls [`NodeDataset::validate`]
    /// and names its file in the error).
    pub fn labelled(
        name: String,
        graph: Graph,
        features: CsMat<f32>,
        labels: Vec<usize>,
        class_names: Vec<String>,
        split: [Vec<usize>; 3],
    ) -> NodeDataset {
        let [train, val, test] = split;
        NodeDataset {
            name,
            graph,
            features,
            labels,
            num_classes: class_names.len(),
            class_names,
            train,
            val,
            test,
            unlabelled: Vec::new(),
        }
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.labels.len()
    }

    /// Feature dimension.
    pub fn num_features(&self) -> usize {
        self.features.cols()
    }

    /// The node indices of one split.
    pub fn split(&self, split: Split) -> &[usize] {
        match split {
            Split::Train => &self.train,
            Split::Val => &self.val,
            Split::Test => &self.test,
        }
    }

    /// A boolean mask over nodes for one split.
    pub fn mask(&self, split: Split) -> Vec<bool> {
        let mut mask = vec![false; self.num_nodes()];
        for &i in self.split(split) {
            mask[i] = true;
        }
        mask
    }

    /// Features as a dense row-major `num_nodes * num_features` buffer.
    pub fn dense_features(&self) -> Vec<f32> {
        let f = self.num_features();
        let mut dense = vec![0.0f32; self.num_nodes() * f];
        for (row, vec) in self.features.outer_iterator().enumerate() {
            for (col, &v) in vec.iter() {
                dense[row * f + col] = v;
            }
        }
        dense
    }

    /// Fraction of feature entries that are non-zero.
    pub fn feature_density(&self) -> f64 {
        let total = self.num_nodes() as f64 * self.num_features() as f64;
        if total == 0.0 {
            0.0
        } else {
            self.features.nnz() as f64 / total
        }
    }

    /// Labelled nodes per class.
    pub fn class_counts(&self) -> Vec<usize> {
        crate::split::class_counts(&self.split_labels(), self.num_classes)
    }

    /// A per-class split ([`crate::split::per_class_split`]) of the labelled nodes.
    pub fn per_class_split(&self, opts: &crate::split::SplitOptions) -> crate::split::NodeSplit {
        crate::split::per_class_split(&self.split_labels(), self.num_classes, opts)
    }

    /// The labels with every unlabelled node's set to `num_classes`, which the split and count
    /// helpers skip.
    fn split_labels(&self) -> std::borrow::Cow<'_, [usize]> {
        if self.unlabelled.is_empty() {
            return std::borrow::Cow::Borrowed(&self.labels);
        }
        let mut labels = self.labels.clone();
        for &v in &self.unlabelled {
            labels[v] = self.num_classes;
        }
        std::borrow::Cow::Owned(labels)
    }

    /// Whether every feature is non-negative (counts, binary bag-of-words): the features the GCN
    /// recipe's row normalisation is meant for.
    pub fn has_nonnegative_features(&self) -> bool {
        self.features.data().iter().all(|&v| v >= 0.0)
    }

    /// Scales each feature row to sum to one (rows of zeros stay zero): the GCN recipe's
    /// preprocessing. Uses absolute values so signed features cannot divide by ~0.
    pub fn row_normalize_features(&mut self) {
        let mut features = self.features.clone();
        row_normalize(&mut features);
        self.features = features;
    }

    /// The dataset's numbers (sizes, density, class counts, split sizes, isolated nodes).
    pub fn summary(&self) -> DatasetSummary {
        DatasetSummary {
            name: self.name.clone(),
            nodes: self.num_nodes(),
            edges: self.graph.num_undirected_edges(),
            features: self.num_features(),
            feature_density: self.feature_density(),
            classes: self.num_classes,
            class_counts: self.class_counts(),
            unlabelled: self.unlabelled.len(),
            train: self.train.len(),
            val: self.val.len(),
            test: self.test.len(),
            isolated_nodes: self.graph.isolated_nodes().len(),
            self_loops: self.graph.num_self_loops(),
        }
    }

    /// Checks the invariants above; loaders call this before handing a dataset out.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let n = self.num_nodes();
        let bad = |m: String| Err(DatasetError::invalid(&self.name, m));
        if n == 0 {
            return bad("the graph has no nodes".into());
        }
        if self.graph.num_nodes() != n {
            return bad(format!("graph has {} nodes but there are {} labels", self.graph.num_nodes(), n));
        }
        if self.features.rows() != n {
            return bad(format!("features have {} rows but there are {} nodes", self.features.rows(), n));
        }
        if self.num_classes == 0 {
            return bad("no classes".into());
        }
        if self.class_names.len() != self.num_classes {
            return bad(format!("{} class names for {} classes", self.class_names.len(), self.num_classes));
        }
        if let Some((i, &y)) = self.labels.iter().enumerate().find(|(_, &y)| y >= self.num_classes) {
            return bad(format!("node {i} has label {y}, outside 0..{}", self.num_classes));
        }
        for (row, vec) in self.features.outer_iterator().enumerate() {
            if let Some((col, v)) = vec.iter().find(|(_, v)| !v.is_finite()) {
                return bad(format!("feature ({row}, {col}) is {v}: features must be finite"));
            }
        }
        if let Some(w) = self.unlabelled.windows(2).find(|w| w[0] >= w[1]) {
            return bad(format!("unlabelled nodes are not sorted and distinct ({} then {})", w[0], w[1]));
        }
        if let Some(&v) = self.unlabelled.last().filter(|&&v| v >= n) {
            return bad(format!("unlabelled node {v} is outside 0..{n}"));
        }
        crate::split::check_splits(n, "node", [("Train", &self.train), ("Val", &self.val), ("Test", &self.test)])
            .or_else(bad)?;
        for (name, split) in [("training", &self.train), ("validation", &self.val), ("test", &self.test)] {
            if let Some(v) = split.iter().find(|v| self.unlabelled.binary_search(v).is_ok()) {
                return bad(format!("node {v} has no label but is in the {name} split"));
            }
        }
        Ok(())
    }
}

/// Scales each row of `features` to sum to one in absolute value (rows of zeros stay zero).
pub(crate) fn row_normalize(features: &mut CsMat<f32>) {
    for mut row in features.outer_iterator_mut() {
        let sum: f32 = row.iter().map(|(_, v)| v.abs()).sum();
        if sum > 0.0 {
            for (_, v) in row.iter_mut() {
                *v /= sum;
            }
        }
    }
}
