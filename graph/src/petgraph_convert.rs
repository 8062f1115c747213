//! Conversions between [`Graph`] and `petgraph` graphs.
//!
//! `petgraph` is where graph algorithms live; [`Graph`] is what the models consume. A directed
//! petgraph graph gives one entry per edge; an undirected one gives both directions. Parallel edges
//! are merged and self-loops are kept; node and edge weights are not carried over (every entry is 1).
//!
//! ```
//! use gdistill_graph::Graph;
//! use petgraph::graph::UnGraph;
//!
//! let pg = UnGraph::<(), ()>::from_edges([(0u32, 1), (1, 2)]);
//! let g = Graph::from_petgraph(&pg);
//! assert_eq!(g.neighbors(1), &[0, 2]);
//!
//! let back = g.to_petgraph_undirected();
//! assert_eq!(back.node_count(), 3);
//! assert_eq!(back.edge_count(), 2);
//! assert_eq!(g.to_petgraph_directed().edge_count(), 4);
//! ```

use petgraph::graph::{DiGraph, IndexType, NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use petgraph::EdgeType;

use crate::{EdgeOptions, Graph, SelfLoops};

impl Graph {
    /// Builds a graph with the nodes and edges of a petgraph graph (node `i` is `NodeIndex::new(i)`).
    ///
    /// Directed petgraph graphs give one entry `(source, target)` per edge, undirected ones both
    /// `(a, b)` and `(b, a)`. Parallel edges merge into one entry of weight 1; self-loops are kept.
    pub fn from_petgraph<N, E, Ty: EdgeType, Ix: IndexType>(pg: &petgraph::Graph<N, E, Ty, Ix>) -> Graph {
        let edges: Vec<(usize, usize)> =
            pg.edge_references().map(|e| (e.source().index(), e.target().index())).collect();
        let opts = EdgeOptions { directed: pg.is_directed(), self_loops: SelfLoops::Keep };
        Graph::from_edges(pg.node_count(), &edges, opts).expect("petgraph edge endpoints are always below node_count")
    }

    /// An undirected petgraph graph with one edge per unordered pair `{i, j}` that has an entry in
    /// either direction, and one edge per self-loop.
    ///
    /// The weight is that of the entry `(min, max)`, or of `(max, min)` when only that one exists.
    /// For a symmetric graph `Graph::from_petgraph(&g.to_petgraph_undirected())` gives `g` back
    /// (weights aside). A directed graph is symmetrised by union.
    pub fn to_petgraph_undirected(&self) -> UnGraph<(), f32> {
        let mut pg = UnGraph::with_capacity(self.num_nodes(), self.num_entries());
        for _ in 0..self.num_nodes() {
            pg.add_node(());
        }
        for i in 0..self.num_nodes() {
            for (&j, &w) in self.neighbors(i).iter().zip(self.neighbor_weights(i)) {
                // keep (i, j) when i <= j; keep (i, j) with i > j only when (j, i) is absent
                if i <= j || self.neighbors(j).binary_search(&i).is_err() {
                    pg.add_edge(NodeIndex::new(i.min(j)), NodeIndex::new(i.max(j)), w);
                }
            }
        }
        pg
    }

    /// A directed petgraph graph with one edge per stored entry, weighted by the entry's value.
    pub fn to_petgraph_directed(&self) -> DiGraph<(), f32> {
        let mut pg = DiGraph::with_capacity(self.num_nodes(), self.num_entries());
        for _ in 0..self.num_nodes() {
            pg.add_node(());
        }
        for i in 0..self.num_nodes() {
            for (&j, &w) in self.neighbors(i).iter().zip(self.neighbor_weights(i)) {
                pg.add_edge(NodeIndex::new(i), NodeIndex::new(j), w);
            }
        }
        pg
    }
}
