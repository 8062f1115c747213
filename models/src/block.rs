//! Sampled blocks as the matrix every model takes, and the checks a forward over blocks needs.
//!
//! A neighbour sampler ([`gdistill_graph::NeighborSampler`]) cuts a batch's computation graph
//! into bipartite blocks in local ids, destinations a prefix of sources. [`block_adjacency`]
//! turns one block into the `num_dst x num_src` matrix a layer reads in place of the graph's
//! `A_hat = D^-1/2 (A + I) D^-1/2`: the self entry `(k, k)` of every destination and its sampled
//! neighbours, with GCN's normalisation rescaled so that the sampled row is an unbiased estimate
//! of the full-graph row. With `d` the full-graph degrees (self-loops not counted) and `s_i` the
//! number of neighbours sampled for `i`:
//!
//! - self: `1 / (d_i + 1)`;
//! - sampled neighbour `j` of `i`: `(d_i / s_i) / sqrt((d_i + 1)(d_j + 1))`.
//!
//! Each neighbour is sampled with probability `s_i / d_i` (uniform, without replacement), so the
//! expectation of `(M H)_i` is `(A_hat H)_i`; with every neighbour sampled the row IS `A_hat`'s
//! row. SAGE reads only the pattern (the mean over the sampled neighbours, GraphSAGE's estimator)
//! and GAT attends over it, so a block works for every family that trains on blocks
//! ([`crate::NodeModel::forward_blocks_t`]). The degrees count edges: the graph is taken to be
//! unweighted, as graphs built from edge lists are.
//!
//! [`BlockNorm::Block`] instead recomputes GCN's normalisation on the block itself, as PyTorch
//! Geometric's `GCNConv` does on the subgraph a `NeighborLoader` hands it: with `s_j` the
//! neighbours sampled for `j` in this block (0 for a source that is not one of its destinations),
//!
//! - self: `1 / (s_i + 1)`;
//! - sampled neighbour `j` of `i`: `1 / sqrt((s_i + 1)(s_j + 1))`.
//!
//! It is biased (a row no longer estimates `A_hat`'s), but its rows keep the scale of a
//! full-graph row on any fan-out.
//!
//! ```
//! use gdistill_graph::{EdgeOptions, Graph, NeighborSampler};
//! use gdistill_models::{block_adjacency, full_degrees};
//! use tch::Device;
//! // a star: 0 joined to 1, 2, 3
//! let g = Graph::from_edges(4, &[(0, 1), (0, 2), (0, 3)], EdgeOptions::undirected()).unwrap();
//! let batch = NeighborSampler::new(vec![NeighborSampler::ALL]).unwrap().sample(&g, &[0], 0).unwrap();
//! let block = &batch.blocks[0];
//! let degree: Vec<usize> = batch.n_id.iter().map(|&v| full_degrees(&g)[v]).collect();
//! let m = block_adjacency(&block.indptr, &block.indices, block.num_dst, block.num_src, &degree, Device::Cpu)
//!     .unwrap();
//! // row 0 of A_hat: 1/4 for itself, 1 / sqrt(4 * 2) for each leaf
//! let row: Vec<f32> = Vec::try_from(m.to_dense().view([-1])).unwrap();
//! assert!((row[0] - 0.25).abs() < 1e-6 && (row[1] - 1.0 / 8f32.sqrt()).abs() < 1e-6);
//! ```

use gdistill_graph::{Graph, SampledBatch};
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::{ModelError, NodeFeatures, SparseMatrix};

/// How a sampled block weighs a destination's sampled neighbours. GCN and APPNP read the values;
/// SAGE and GAT read only the pattern, so for them the two are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockNorm {
    /// Full-graph GCN values rescaled by `d_i / s_i`: an unbiased estimate of `A_hat`'s row.
    #[default]
    Unbiased,
    /// GCN's normalisation recomputed on the block (PyTorch Geometric's on a sampled subgraph).
    Block,
}

impl BlockNorm {
    /// For `skip_serializing_if`: configs of the default keep their keys.
    pub fn is_unbiased(&self) -> bool {
        *self == BlockNorm::Unbiased
    }
}

impl std::str::FromStr for BlockNorm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "unbiased" => Ok(BlockNorm::Unbiased),
            "block" => Ok(BlockNorm::Block),
            _ => Err(format!("block normalisation '{text}': expected unbiased or block")),
        }
    }
}

/// The block `(indptr, indices)` with `num_dst` destinations over `num_src` sources (local ids,
/// destination `k` = source `k`) as a `num_dst x num_src` matrix on `device`, with the self entry
/// of every destination and the rescaled GCN values of the module documentation.
/// `full_degree[k]` is source `k`'s degree in the full graph, self-loops not counted.
///
/// Fails, naming the problem, when the arrays do not describe such a block: a row pointer of the
/// wrong length or decreasing, an index outside `0..num_src`, more destinations than sources, a
/// degree list not of `num_src` entries, a destination listing itself or a neighbour twice, or
/// more neighbours sampled than its degree.
pub fn block_adjacency(
    block_indptr: &[usize],
    block_indices: &[usize],
    num_dst: usize,
    num_src: usize,
    full_degree: &[usize],
    device: Device,
) -> Result<SparseMatrix, ModelError> {
    block_adjacency_with(block_indptr, block_indices, num_dst, num_src, full_degree, BlockNorm::Unbiased, device)
}

/// [`block_adjacency`] with the values of `norm` (the checks are the same).
pub fn block_adjacency_with(
    block_indptr: &[usize],
    block_indices: &[usize],
    num_dst: usize,
    num_src: usize,
    full_degree: &[usize],
    norm: BlockNorm,
    device: Device,
) -> Result<SparseMatrix, ModelError> {
    let bad = |m: String| Err(ModelError::Shape(format!("sampled block: {m}")));
    if num_dst > num_src {
        return bad(format!(
            "{num_dst} destinations but only {num_src} sources (destinations are a prefix of sources)"
        ));
    }
    if block_indptr.len() != num_dst + 1 || block_indptr.first() != Some(&0) {
        return bad(format!(
            "the row pointer has {} entries starting at {:?}, expected {} starting at 0",
            block_indptr.len(),
            block_indptr.first(),
            num_dst + 1
        ));
    }
    if block_indptr.windows(2).any(|w| w[0] > w[1]) || block_indptr[num_dst] != block_indices.len() {
        return bad(format!(
            "the row pointer is not non-decreasing up to the {} neighbour indices",
            block_indices.len()
        ));
    }
    if full_degree.len() != num_src {
        return bad(format!("{} degrees given for {num_src} source nodes", full_degree.len()));
    }
    // Rows with their self entry, sorted by column (libtorch's CSR kernels expect it).
    let nnz = block_indices.len() + num_dst;
    let (mut indptr, mut indices, mut values) =
        (Vec::with_capacity(num_dst + 1), Vec::with_capacity(nnz), Vec::with_capacity(nnz));
    indptr.push(0);
    // `seen[j] == i + 1` when row `i` already holds column `j`: duplicates found in O(nnz).
    let mut seen = vec![0usize; num_src];
    let mut row: Vec<(usize, f32)> = Vec::new();
    for i in 0..num_dst {
        let sampled = &block_indices[block_indptr[i]..block_indptr[i + 1]];
        let (d_i, s_i) = (full_degree[i], sampled.len());
        if s_i > d_i {
            return bad(format!("destination {i} has {s_i} sampled neighbours but degree {d_i} in the full graph"));
        }
        row.clear();
        let self_value = match norm {
            BlockNorm::Unbiased => 1.0 / (d_i as f64 + 1.0),
            BlockNorm::Block => 1.0 / (s_i as f64 + 1.0),
        };
        row.push((i, self_value as f32));
        seen[i] = i + 1;
        for &j in sampled {
            if j >= num_src {
                return bad(format!("neighbour index {j} of destination {i} is outside 0..{num_src}"));
            }
            if seen[j] == i + 1 {
                let what = if j == i { "itself" } else { "a neighbour twice" };
                return bad(format!("destination {i} lists {what} (local id {j})"));
            }
            seen[j] = i + 1;
            let value = match norm {
                BlockNorm::Unbiased => {
                    let scale = d_i as f64 / s_i as f64;
                    scale / ((d_i as f64 + 1.0) * (full_degree[j] as f64 + 1.0)).sqrt()
                }
                BlockNorm::Block => {
                    let s_j = if j < num_dst { block_indptr[j + 1] - block_indptr[j] } else { 0 };
                    1.0 / ((s_i as f64 + 1.0) * (s_j as f64 + 1.0)).sqrt()
                }
            };
            row.push((j, value as f32));
        }
        row.sort_unstable_by_key(|&(j, _)| j);
        indices.extend(row.iter().map(|&(j, _)| j));
        values.extend(row.iter().map(|&(_, v)| v));
        indptr.push(indices.len());
    }
    SparseMatrix::from_csr(&indptr, &indices, &values, (num_dst, num_src), device)
}

/// Every node's degree in `graph`, its self-loop (if any) not counted: the `d` of
/// [`block_adjacency`], by global id.
pub fn full_degrees(graph: &Graph) -> Vec<usize> {
    (0..graph.num_nodes())
        .map(|v| graph.degree(v) - usize::from(graph.neighbors(v).binary_search(&v).is_ok()))
        .collect()
}

/// The blocks of a sampled batch, input layer first, as [`block_adjacency`] matrices on
/// `device`; `full_degree` by global id ([`full_degrees`]).
pub fn sampled_block_matrices(
    batch: &SampledBatch,
    full_degree: &[usize],
    device: Device,
) -> Result<Vec<SparseMatrix>, ModelError> {
    sampled_block_matrices_with(batch, full_degree, BlockNorm::Unbiased, device)
}

/// [`sampled_block_matrices`] with the values of `norm`.
pub fn sampled_block_matrices_with(
    batch: &SampledBatch,
    full_degree: &[usize],
    norm: BlockNorm,
    device: Device,
) -> Result<Vec<SparseMatrix>, ModelError> {
    if let Some(&v) = batch.n_id.iter().find(|&&v| v >= full_degree.len()) {
        return Err(ModelError::Shape(format!("sampled node {v} has no degree: {} degrees given", full_degree.len())));
    }
    batch
        .blocks
        .iter()
        .map(|b| {
            let degree: Vec<usize> = batch.n_id[..b.num_src].iter().map(|&v| full_degree[v]).collect();
            block_adjacency_with(&b.indptr, &b.indices, b.num_dst, b.num_src, &degree, norm, device)
        })
        .collect()
}

/// Checks a stack of blocks against a model of `layers` layers and its input: one block per
/// layer, each block's sources the previous block's destinations, the input one row per source
/// of the first block.
pub(crate) fn check_blocks(x: &NodeFeatures, blocks: &[SparseMatrix], layers: usize) -> Result<(), ModelError> {
    let bad = |m: String| Err(ModelError::Shape(m));
    if blocks.len() != layers {
        return bad(format!("{} sampled blocks for a model of {layers} layers: one block per layer", blocks.len()));
    }
    if x.num_nodes() != blocks[0].cols() {
        return bad(format!("{} input rows for a first block over {} source nodes", x.num_nodes(), blocks[0].cols()));
    }
    for (l, pair) in blocks.windows(2).enumerate() {
        if pair[0].rows() != pair[1].cols() {
            return bad(format!(
                "block {l} has {} destinations but block {} reads {} sources",
                pair[0].rows(),
                l + 1,
                pair[1].cols()
            ));
        }
    }
    if let Some((l, b)) = blocks.iter().enumerate().find(|(_, b)| b.rows() > b.cols()) {
        return bad(format!("block {l} has more destinations ({}) than sources ({})", b.rows(), b.cols()));
    }
    Ok(())
}
