//! The CSR graph type every other part of gdistill builds on.
//!
//! A [`Graph`] is a square adjacency matrix in compressed sparse row form (`sprs::CsMat<f32>`):
//! row `i` lists the out-neighbours of node `i`, sorted, without duplicates. Undirected graphs are
//! stored symmetrically (both `(i, j)` and `(j, i)`).
//!
//! ```
//! use gdistill_graph::{EdgeOptions, Graph};
//! // a path 0 - 1 - 2 plus a self-loop on 2 (dropped by default) and a duplicate edge
//! let g = Graph::from_edges(3, &[(0, 1), (1, 2), (2, 2), (1, 0)], EdgeOptions::undirected()).unwrap();
//! assert_eq!(g.num_undirected_edges(), 2);
//! assert_eq!(g.neighbors(1), &[0, 2]);
//! assert_eq!(g.num_self_loops(), 0);
//! ```

use rayon::slice::ParallelSliceMut;
use sprs::CsMat;

use crate::GraphError;

/// What to do with an edge `(i, i)` while building a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelfLoops {
    Keep,
    Drop,
}

/// How an edge list is turned into a [`Graph`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeOptions {
    /// `false`: every `(i, j)` also inserts `(j, i)`.
    pub directed: bool,
    pub self_loops: SelfLoops,
}

impl EdgeOptions {
    /// Undirected, self-loops dropped: what citation graphs and the GCN recipe expect.
    pub fn undirected() -> Self {
        EdgeOptions { directed: false, self_loops: SelfLoops::Drop }
    }

    pub fn directed() -> Self {
        EdgeOptions { directed: true, self_loops: SelfLoops::Keep }
    }

    pub fn keep_self_loops(mut self) -> Self {
        self.self_loops = SelfLoops::Keep;
        self
    }
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self::undirected()
    }
}

/// A graph as a CSR adjacency matrix with unit (or given) edge weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    adj: CsMat<f32>,
}

impl Graph {
    /// Builds a graph from an edge list; duplicate edges are merged (weight 1).
    ///
    /// Fails with [`GraphError::NodeOutOfRange`] when an edge names a node `>= num_nodes`.
    pub fn from_edges(num_nodes: usize, edges: &[(usize, usize)], opts: EdgeOptions) -> Result<Graph, GraphError> {
        let mut pairs: Vec<(usize, usize)> =
            Vec::with_capacity(if opts.directed { edges.len() } else { 2 * edges.len() });
        for &(i, j) in edges {
            if i >= num_nodes || j >= num_nodes {
                return Err(GraphError::NodeOutOfRange { edge: (i, j), num_nodes });
            }
            if i == j && opts.self_loops == SelfLoops::Drop {
                continue;
            }
            pairs.push((i, j));
            if !opts.directed && i != j {
                pairs.push((j, i));
            }
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut indptr = vec![0usize; num_nodes + 1];
        for &(i, _) in &pairs {
            indptr[i + 1] += 1;
        }
        for k in 0..num_nodes {
            indptr[k + 1] += indptr[k];
        }
        let indices: Vec<usize> = pairs.iter().map(|&(_, j)| j).collect();
        let data = vec![1.0f32; indices.len()];
        Ok(Graph { adj: CsMat::new((num_nodes, num_nodes), indptr, indices, data) })
    }

    /// Wraps a square CSR matrix (sorted indices, as `sprs` guarantees) as a graph.
    pub fn from_csr(adj: CsMat<f32>) -> Result<Graph, GraphError> {
        if adj.rows() != adj.cols() {
            return Err(GraphError::NotSquare { rows: adj.rows(), cols: adj.cols() });
        }
        let adj = if adj.is_csr() { adj } else { adj.to_csr() };
        Ok(Graph { adj })
    }

    /// Wraps CSR arrays this crate has just built. Panics if they break the CSR invariants (sorted,
    /// unique, in-range column indices): that would be a bug here, not bad input.
    pub(crate) fn from_parts(num_nodes: usize, indptr: Vec<usize>, indices: Vec<usize>, data: Vec<f32>) -> Graph {
        Graph { adj: CsMat::new((num_nodes, num_nodes), indptr, indices, data) }
    }

    /// The adjacency matrix.
    pub fn csr(&self) -> &CsMat<f32> {
        &self.adj
    }

    pub fn num_nodes(&self) -> usize {
        self.adj.rows()
    }

    /// Stored (directed) entries, self-loops included.
    pub fn num_entries(&self) -> usize {
        self.adj.nnz()
    }

    /// Row pointer of the CSR form (`num_nodes + 1` entries).
    pub fn indptr(&self) -> Vec<usize> {
        self.adj.indptr().to_proper().to_vec()
    }

    /// Column indices of the CSR form, row by row.
    pub fn indices(&self) -> &[usize] {
        self.adj.indices()
    }

    /// Out-neighbours of `node`, sorted (a self-loop, when kept, appears as `node` itself).
    pub fn neighbors(&self, node: usize) -> &[usize] {
        let range = self.adj.indptr().outer_inds_sz(node);
        &self.adj.indices()[range]
    }

    /// Weights of the entries of row `node`, aligned with [`Graph::neighbors`] (1.0 for graphs built
    /// from edge lists).
    ///
    /// ```
    /// use gdistill_graph::{EdgeOptions, Graph};
    /// let g = Graph::from_edges(2, &[(0, 1)], EdgeOptions::undirected()).unwrap();
    /// assert_eq!(g.neighbor_weights(0), &[1.0]);
    /// ```
    pub fn neighbor_weights(&self, node: usize) -> &[f32] {
        let range = self.adj.indptr().outer_inds_sz(node);
        &self.adj.data()[range]
    }

    /// Out-degree of `node`, a self-loop counted once.
    pub fn degree(&self, node: usize) -> usize {
        self.neighbors(node).len()
    }

    pub fn num_self_loops(&self) -> usize {
        (0..self.num_nodes()).filter(|&i| self.neighbors(i).binary_search(&i).is_ok()).count()
    }

    /// Nodes with no neighbour other than themselves.
    pub fn isolated_nodes(&self) -> Vec<usize> {
        (0..self.num_nodes()).filter(|&i| self.neighbors(i).iter().all(|&j| j == i)).collect()
    }

    /// Whether every entry `(i, j)` has its twin `(j, i)`.
    pub fn is_symmetric(&self) -> bool {
        self.edges().all(|(i, j)| self.neighbors(j).binary_search(&i).is_ok())
    }

    /// Unordered pairs `{i, j}`, `i != j`, with an entry in either direction: the edge count papers report.
    pub fn num_undirected_edges(&self) -> usize {
        self.undirected_edges().len()
    }

    /// Every stored entry `(row, column)`, row-major.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.num_nodes()).flat_map(move |i| self.neighbors(i).iter().map(move |&j| (i, j)))
    }

    /// Each unordered pair `{i, j}` (no self-loops) once, as `(min, max)`, sorted.
    pub fn undirected_edges(&self) -> Vec<(usize, usize)> {
        let mut pairs: Vec<(usize, usize)> =
            self.edges().filter(|&(i, j)| i != j).map(|(i, j)| (i.min(j), i.max(j))).collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }
}
