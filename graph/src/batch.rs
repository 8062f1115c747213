//! Batching graphs: many small graphs as one block-diagonal graph.
//!
//! Graph `b`'s node `v` becomes node `offsets[b] + v`; entries (with their weights) are shifted the
//! same way, so no entry joins two graphs. This is how a mini-batch of graphs goes through one
//! sparse product.
//!
//! ```
//! use gdistill_graph::{block_diagonal, EdgeOptions, Graph};
//! let a = Graph::from_edges(2, &[(0, 1)], EdgeOptions::undirected()).unwrap();
//! let b = Graph::from_edges(3, &[(0, 2)], EdgeOptions::directed()).unwrap();
//! let (g, batch, offsets) = block_diagonal(&[a, b]);
//! assert_eq!(g.num_nodes(), 5);
//! assert_eq!(batch, vec![0, 0, 1, 1, 1]);
//! assert_eq!(offsets, vec![0, 2, 5]);
//! assert_eq!(g.neighbors(2), &[4]);
//! ```

use crate::Graph;

/// The block-diagonal union of `graphs`, the graph index of every node, and the node offsets
/// (`graphs.len() + 1` entries: graph `b` owns nodes `offsets[b]..offsets[b + 1]`).
///
/// No graphs give an empty graph, an empty batch vector and `offsets == [0]`.
pub fn block_diagonal(graphs: &[Graph]) -> (Graph, Vec<usize>, Vec<usize>) {
    let mut offsets = Vec::with_capacity(graphs.len() + 1);
    offsets.push(0);
    for g in graphs {
        offsets.push(offsets.last().copied().unwrap_or(0) + g.num_nodes());
    }
    let n = offsets[graphs.len()];
    let nnz: usize = graphs.iter().map(Graph::num_entries).sum();
    let mut batch = Vec::with_capacity(n);
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(nnz);
    let mut data = Vec::with_capacity(nnz);
    indptr.push(0);
    for (b, g) in graphs.iter().enumerate() {
        let shift = offsets[b];
        for v in 0..g.num_nodes() {
            indices.extend(g.neighbors(v).iter().map(|&j| j + shift));
            data.extend_from_slice(g.neighbor_weights(v));
            indptr.push(indices.len());
            batch.push(b);
        }
    }
    (Graph::from_parts(n, indptr, indices, data), batch, offsets)
}
