//! DeepWalk position features (Perozzi et al., KDD 2014), NOSMOG's first component: uniform
//! random walks from every node ([`gdistill_graph::RandomWalks`]), then a skip-gram with
//! negative sampling on libtorch ([`skipgram`]); the input vectors are the features.
//!
//! An MLP reads one node's features and nothing of its neighbourhood, so on a graph whose
//! classes follow its communities it cannot tell the communities apart from features alone.
//! A DeepWalk embedding places nodes that co-occur on short walks near each other, which is
//! where a community sits: appended to the input, it gives the MLP the position a GNN would
//! have read from the graph, at no cost at inference beyond a lookup.
//!
//! Inductively ([`inductive_features`]) the walks run on the observed graph only, so held-out
//! nodes and their edges are never in the corpus; a held-out node then takes its observed
//! neighbours' mean ([`gdistill_datasets::deepwalk::extend_to_held_out`]).
//!
//! ```no_run
//! use gdistill_datasets::{load, FeatureSpec};
//! use gdistill_distill::students::deepwalk::apply_features;
//! let cora = load("cora", std::path::Path::new("data")).unwrap();
//! let with_position = apply_features(&cora, &"given+deepwalk:64".parse::<FeatureSpec>().unwrap(), 0).unwrap();
//! assert_eq!(with_position.num_features(), cora.num_features() + 64);
//! ```

pub mod skipgram;

use gdistill_datasets::deepwalk::{extend_to_held_out, scale_columns, DeepWalkSpec};
use gdistill_datasets::inductive::InductiveDataset;
use gdistill_datasets::structural_features::append_dense_columns;
use gdistill_datasets::{apply_features_with, DatasetError, FeatureSpec, NodeDataset};
use gdistill_graph::{Graph, RandomWalks};

use self::skipgram::{train_skipgram, SkipGramConfig};
use crate::TrainError;

/// The DeepWalk embedding of `graph`: row-major `N x spec.dim`, the same for the same seed and
/// thread count. Fails for a setting of zero, a corpus or tables that would not fit in memory,
/// or a diverging skip-gram.
pub fn deepwalk_embedding(graph: &Graph, spec: &DeepWalkSpec, seed: u64) -> Result<Vec<f32>, TrainError> {
    spec.validate().map_err(|e| TrainError::Config(format!("deepwalk:{spec}: {e}")))?;
    let n = graph.num_nodes();
    if n == 0 {
        return Ok(Vec::new());
    }
    // The corpus (u32 ids), and the two tables with Adam's two moments and a gradient each.
    let corpus = n as u128 * spec.walks_per_node as u128 * spec.walk_length as u128 * 4;
    let tables = n as u128 * spec.dim as u128 * 4 * 2 * 4;
    gdistill_datasets::limits::check_memory(&format!("DeepWalk on {n} nodes ({spec})"), corpus + tables)
        .map_err(TrainError::TooLarge)?;
    let walks = RandomWalks::uniform(graph, spec.walk_length, spec.walks_per_node, seed)
        .map_err(|e| TrainError::Config(format!("deepwalk:{spec}: {e}")))?;
    let mut embedding = train_skipgram(&walks, n, &SkipGramConfig::new(spec.dim, spec.window, spec.epochs), seed)?;
    if let Some(scale) = spec.scale {
        scale_columns(&mut embedding, spec.dim, scale.get());
    }
    Ok(embedding)
}

/// `dataset` with the features `spec` describes, DeepWalk's computed on its whole graph with
/// `seed` (every other spec as [`gdistill_datasets::apply_features`] gives it).
pub fn apply_features(dataset: &NodeDataset, spec: &FeatureSpec, seed: u64) -> Result<NodeDataset, DatasetError> {
    apply_features_with(dataset, spec, &|graph, walks| {
        deepwalk_embedding(graph, walks, seed).map_err(|e| e.to_string())
    })
}

/// The inductive setting's two datasets with `spec`'s DeepWalk columns appended: `split.dataset`
/// (the observed graph) with its embedding, learnt on that graph alone; and `full` (the same
/// seed's split on the whole graph), where an observed node has the same row and a held-out node
/// its observed neighbours' mean. Both must hold the features the spec starts from (the given
/// ones, or none).
pub fn inductive_features(
    split: &InductiveDataset,
    full: &NodeDataset,
    spec: &DeepWalkSpec,
    seed: u64,
) -> Result<(NodeDataset, NodeDataset), TrainError> {
    let embedding = deepwalk_embedding(&split.dataset.graph, spec, seed)?;
    let mut observed = split.dataset.clone();
    observed.features = append_dense_columns(&observed.features, &embedding, spec.dim);
    let mut everyone = full.clone();
    let extended = extend_to_held_out(&full.graph, &split.local_of, &embedding, spec.dim);
    everyone.features = append_dense_columns(&everyone.features, &extended, spec.dim);
    Ok((observed, everyone))
}
